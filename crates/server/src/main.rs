use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the C library's allocator: a request allocates and frees many small
/// objects, which glibc's malloc spent ~15 % of an introspection's CPU on (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    latchkey_server::run(latchkey_server::cli::Cli::parse()).await
}
