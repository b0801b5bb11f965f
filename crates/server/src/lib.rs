//! The Latchkey server: configuration, wiring, bootstrap and the HTTP application.
//! `main.rs` is a thin shim over [`run`].

pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod config;
mod console;
pub mod error;
mod fallback;
pub mod headers;
pub mod health;
mod metrics;
pub mod openapi;
pub mod telemetry;

pub use app::{Application, StartError};
pub use config::Config;

use std::process::ExitCode;

use cli::{Cli, Command};
use latchkey_domain::Timestamp;

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
            if std::env::args().any(|a| a == "--admin-password" || a.starts_with("--admin-password=")) {
                tracing::warn!(
                    "--admin-password shows in the process list; use LATCHKEY_ADMIN_PASSWORD or --admin-password-file"
                );
            }
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
        Command::Keys(args) => keys_command(args).await?,
        Command::Seed(args) => seed_command(args).await?,
        Command::RecountSessions(args) => {
            let config = config::DatabaseConfig::resolve(&args)?;
            let store = latchkey_store::Store::connect(&config.database_url).await?;
            store.migrate().await?;
            for realm in latchkey_store::realms::list(store.conn()).await? {
                let txn = store.begin().await?;
                latchkey_store::counts::recount(&txn, realm.id).await?;
                txn.commit().await?;
                println!("recounted realm {}", realm.name);
            }
        }
    }
    Ok(())
}

async fn seed_command(args: cli::SeedArgs) -> anyhow::Result<()> {
    use std::io::Write;

    use latchkey_store::{clients, counts, realms, seed};
    let config = config::DatabaseConfig::resolve(&args.common)?;
    let store = latchkey_store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let realm = realms::find_by_name(store.conn(), &args.realm)
        .await?
        .ok_or_else(|| anyhow::anyhow!("realm '{}' does not exist", args.realm))?;
    let all = clients::list(store.conn(), realm.id).await?;
    let chosen: Vec<latchkey_domain::Client> = if args.clients.is_empty() {
        let oidc = all.iter().filter(|c| c.protocol == latchkey_domain::Protocol::OpenIdConnect);
        oidc.filter(|c| c.client_id != "admin-cli").take(2).cloned().collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.clients {
            let client = all.iter().find(|c| &c.client_id == name);
            chosen
                .push(client.cloned().ok_or_else(|| anyhow::anyhow!("realm '{}' has no client '{name}'", realm.name))?);
        }
        chosen
    };
    anyhow::ensure!(!chosen.is_empty(), "realm '{}' has no client to hold the sessions", realm.name);
    let plan = seed::Seed {
        realm: realm.id,
        users: args.users,
        sessions: args.sessions,
        offline_percent: args.offline_percent,
        clients: chosen.iter().map(|c| c.id).collect(),
        activity_spread_ms: i64::from(args.spread_minutes) * 60_000,
        shape: args.shape,
        order: args.order,
    };
    let names: Vec<&str> = chosen.iter().map(|c| c.client_id.as_str()).collect();
    eprintln!(
        "seeding realm '{}' on {}: {} users, {} sessions over {names:?}, shape {:?}, written in {:?} order",
        realm.name, config.database_url, args.users, args.sessions, args.shape, args.order
    );
    let started = std::time::Instant::now();
    let now = Timestamp::now();
    let users = seed::users(&store, &plan, now).await?;
    eprintln!("{} users ready in {:.1} s", users.len(), started.elapsed().as_secs_f64());
    let step = (seed::BATCH * 5) as u64;
    let mut done = 0;
    let mut err = std::io::stderr();
    while done < plan.sessions {
        let to = (done + step).min(plan.sessions);
        seed::sessions(&store, &plan, &users, done, to, now).await?;
        done = to;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
        let filled = (done * 30 / plan.sessions) as usize;
        let _ = write!(
            err,
            "\r[{}{}] {done}/{} sessions, {rate:.0}/s ",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            plan.sessions
        );
        let _ = err.flush();
    }
    eprintln!();
    let txn = store.begin().await?;
    counts::recount(&txn, realm.id).await?;
    txn.commit().await?;
    store.analyze().await?;
    // Closed, the write-ahead log is copied into the file: a server started next does not
    // begin on a long log.
    store.close().await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {} sessions of {} users in realm '{}' in {secs:.1} s ({:.0} sessions/s), counted",
        plan.sessions,
        users.len(),
        realm.name,
        plan.sessions as f64 / secs
    );
    Ok(())
}

async fn keys_command(args: cli::KeysArgs) -> anyhow::Result<()> {
    use latchkey_store::{keys, realms};
    let config = config::DatabaseConfig::resolve(&args.common)?;
    let store = latchkey_store::Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let realm_name = match &args.action {
        cli::KeysAction::List { realm } | cli::KeysAction::Rotate { realm } | cli::KeysAction::Remove { realm, .. } => {
            realm.clone()
        }
    };
    let realm = realms::find_by_name(store.conn(), &realm_name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("realm '{realm_name}' does not exist"))?;
    match args.action {
        cli::KeysAction::List { .. } => {
            for key in keys::list(store.conn(), realm.id).await? {
                let state = if key.active { "active" } else { "retired" };
                println!("{}\t{}\t{}\t{}", key.kid, key.algorithm, state, key.created_at.as_secs());
            }
        }
        cli::KeysAction::Rotate { .. } => {
            let kid = latchkey_lifecycle::keys::rotate(&store, &realm).await?;
            let hmac =
                latchkey_lifecycle::keys::generate(latchkey_lifecycle::keys::Alg::Hs256, realm.id, Timestamp::now())?;
            keys::insert(store.conn(), &hmac).await?;
            println!("{kid}");
        }
        cli::KeysAction::Remove { kid, .. } => {
            if !keys::delete(store.conn(), realm.id, &kid).await? {
                anyhow::bail!("realm '{realm_name}' has no key '{kid}'");
            }
            println!("removed {kid}");
        }
    }
    Ok(())
}
