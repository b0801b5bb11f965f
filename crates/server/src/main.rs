use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the C library's allocator: a request allocates and frees many small
/// objects, which glibc's malloc spent ~15 % of an introspection's CPU on (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    limit_c_allocator_arenas();
    latchkey_server::run(latchkey_server::cli::Cli::parse()).await
}

/// SQLite allocates through the C library from each of its connections' worker threads, and
/// glibc gives every thread an arena of its own that it seldom returns: two arenas are plenty
/// for SQLite's share of the work and cut the peak RSS of 100,000 sessions ended and announced
/// from 139 to 115 MB (`docs/benchmarks.md`). `MALLOC_ARENA_MAX`, when set, still decides.
fn limit_c_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tuning parameter of the C allocator, which it guards
        // with its own lock; called before the database pool starts its worker threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
