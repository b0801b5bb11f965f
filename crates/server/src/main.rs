use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    latchkey_server::run(latchkey_server::cli::Cli::parse()).await
}
