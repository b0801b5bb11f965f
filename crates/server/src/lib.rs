//! The Latchkey server: configuration, wiring, bootstrap and the HTTP application.
//! `main.rs` is a thin shim over [`run`].

pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod error;
pub mod health;
pub mod openapi;
pub mod telemetry;

pub use app::{Application, StartError};
pub use config::Config;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs one command line; the exit code says whether it worked.
pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latchkey: error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::resolve(&args)?;
            telemetry::init(config.log_format, &config.log_filter);
            let app = Application::build(config).await?;
            app.run_until_signalled().await?;
        }
        Command::Migrate(args) => {
            let config = config::DatabaseConfig::resolve(&args)?;
            telemetry::init(config.log_format, &config.log_filter);
            let store = latchkey_store::Store::connect(&config.database_url).await?;
            let pending = store.pending_migrations().await?;
            store.migrate().await?;
            for name in &pending {
                tracing::info!(migration = %name, "applied");
            }
            println!("{} migration(s) applied to {}", pending.len(), config.database_url);
        }
        Command::ExportOpenapi => print!("{}", openapi::document_json()),
    }
    Ok(())
}
