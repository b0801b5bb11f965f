//! The command line: `latchkey serve`, `latchkey migrate`, `latchkey export-openapi`.
//! Every flag has a `LATCHKEY_…` environment variable; flags win over the environment, which
//! wins over the TOML file given by `--config`, which wins over the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Latchkey: an OpenID Connect identity server whose session administration is first class.
///
/// People sign in to applications through it; administrators see every session and end them,
/// with every application told. Settings come from flags, then `LATCHKEY_*` environment
/// variables, then the TOML file named by --config, then defaults. The embedded SQLite
/// database is the default; point --database-url at PostgreSQL to run several nodes.
///
/// First start on an empty database needs LATCHKEY_ADMIN_USER and LATCHKEY_ADMIN_PASSWORD:
///
///   LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin latchkey serve --demo
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, propagate_version = true, verbatim_doc_comment)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: apply pending migrations, create the master realm and its administrator
    /// on first start, then answer HTTP until SIGTERM or SIGINT.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(CommonArgs),
    /// Print the OpenAPI document of the HTTP API to standard output.
    ExportOpenapi,
    /// List, rotate or remove a realm's signing keys. A rotated-out key stays published and
    /// keeps verifying the tokens it signed until it is removed.
    Keys(KeysArgs),
    /// Count every realm's sessions again into the maintained counts (after sessions were
    /// written to the database by other means than Latchkey, as a bulk import or a restore).
    RecountSessions(CommonArgs),
    /// Fill a realm with users and live sessions (some offline, spread over its clients and the
    /// last minutes), then count them: Latchkey at a million sessions in a minute.
    ///
    ///   latchkey seed --realm demo --users 10000 --sessions 1000000
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The realm to fill (it must exist; `serve --demo` makes `demo`).
    #[arg(long, default_value = "demo")]
    pub realm: String,
    /// Users `user1` … `userN` to spread the sessions over (existing ones are kept).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub users: u64,
    /// Sessions to add.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub sessions: u64,
    /// Of every hundred sessions, how many are offline.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub offline_percent: u8,
    /// Clients whose sessions they hold, by clientId: every session the first, every third
    /// also the second. [default: the realm's first two OpenID Connect clients other than
    /// `admin-cli`]
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<String>,
    /// Last activity spread over this many minutes before now (under the realm's idle timeout
    /// keeps every session alive).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub spread_minutes: u32,
    /// When the sessions started and were last used: `spread` (over the activity spread and the
    /// hour before), `recent-minute`, `last-hour`, `30-days`, or `expired` (last used 40 to 55
    /// minutes ago: past the default 30-minute idle, dead but not yet ended).
    #[arg(long, default_value = "spread")]
    pub shape: latchkey_store::seed::Shape,
    /// The order rows are written in: `start` (as a server writes them) or `random`.
    #[arg(long, default_value = "start")]
    pub order: latchkey_store::seed::Order,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Show the realm's keys, newest first.
    List {
        #[arg(long)]
        realm: String,
    },
    /// Add a new active signing key (and a new HMAC secret); the old ones keep verifying.
    Rotate {
        #[arg(long)]
        realm: String,
    },
    /// Remove a key: tokens it signed stop verifying at once.
    Remove {
        #[arg(long)]
        realm: String,
        /// The key id, as `keys list` shows it (it may begin with `-`).
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
    },
}

/// Settings every command that opens the database shares.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// A TOML file of settings (keys as the long flags, with `_` for `-`).
    #[arg(long, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database URL: `sqlite://<file>` or `postgres://<user>:<password>@<host>/<db>`.
    /// [default: sqlite://<data-dir>/latchkey.db]
    #[arg(long, env = "LATCHKEY_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the embedded database, created on first start. [default: data]
    #[arg(long, env = "LATCHKEY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log format: `text` for people, `json` for log collectors. [default: text]
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Log filter, as `info` or `info,latchkey_server=debug`. [default: info]
    #[arg(long, env = "LATCHKEY_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Address to listen on; port 0 picks a free port. [default: 127.0.0.1:8080]
    #[arg(long, env = "LATCHKEY_LISTEN", value_name = "HOST:PORT")]
    pub listen: Option<String>,

    /// Address to serve Prometheus metrics on (GET /metrics), apart from the public one; port 0
    /// picks a free port. [default: none, metrics are not served]
    #[arg(long, env = "LATCHKEY_METRICS_LISTEN", value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,

    /// The URL clients reach this server at, as `https://id.example.com`: the base of every
    /// issuer, token, logout token and discovery document. Required when listening on an
    /// address other than loopback. [default: http://<listen>]
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed, comma-separated.
    /// From anyone else the header is ignored and the peer address is the client's.
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", value_name = "IP,IP")]
    pub trusted_proxies: Option<String>,

    /// HTTP worker threads. [default: the number of CPUs]
    #[arg(long, env = "LATCHKEY_WORKERS", value_name = "N")]
    pub workers: Option<String>,

    /// Username of the first administrator, created in realm `master` when the database is
    /// empty. Required on first start; ignored afterwards.
    #[arg(long, env = "LATCHKEY_ADMIN_USER", value_name = "NAME")]
    pub admin_user: Option<String>,

    /// Password of the first administrator (see --admin-user). Prefer the environment
    /// variable or --admin-password-file: a flag shows in the process list.
    #[arg(long, env = "LATCHKEY_ADMIN_PASSWORD", value_name = "PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// A file holding the first administrator's password (its first line).
    #[arg(long, env = "LATCHKEY_ADMIN_PASSWORD_FILE", value_name = "FILE", conflicts_with = "admin_password")]
    pub admin_password_file: Option<PathBuf>,

    /// Let administrators point notification URLs (back-channel logout, admin URL) at
    /// loopback and private networks. Link-local addresses (cloud metadata) are refused even
    /// then. `--demo` turns this on, for its receiver on localhost. [default: off]
    #[arg(long, env = "LATCHKEY_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,

    /// Send notifications (back-channel logout, adapter calls) through this HTTP proxy, as
    /// `http://proxy.internal:3128`. The target rules still apply to each notification's URL.
    /// Proxies named in the environment (HTTP_PROXY, ALL_PROXY …) are never used for them.
    /// [default: none]
    #[arg(long, env = "LATCHKEY_NOTIFICATION_PROXY", value_name = "URL")]
    pub notification_proxy: Option<String>,

    /// Accept an `http://` public URL whose host is not loopback: cookies without `Secure`,
    /// tokens and passwords in clear on the network. Only behind a proxy that terminates TLS
    /// on the same host, or on a trusted network. [default: off]
    #[arg(long, env = "LATCHKEY_ALLOW_HTTP")]
    pub allow_http: bool,

    /// Password and client-secret hashes checked at once, at most; a credential check beyond
    /// it is answered 503 at once rather than queued. [default: twice the number of CPUs]
    #[arg(long, env = "LATCHKEY_MAX_CONCURRENT_HASHES", value_name = "N")]
    pub max_concurrent_hashes: Option<String>,

    /// Minutes a failed sign-in or client authentication counts towards throttling; counters
    /// idle for longer start again and are purged. [default: 15]
    #[arg(long, env = "LATCHKEY_FAILURE_WINDOW_MINUTES", value_name = "MINUTES")]
    pub failure_window_minutes: Option<String>,

    /// Seconds of the first wait once a lane's free failures are spent; each further failure
    /// doubles it, up to the lane's cap (15 minutes; 60 s for a user from anywhere). [default: 1]
    #[arg(long, env = "LATCHKEY_FAILURE_WAIT_SECONDS", value_name = "SECONDS")]
    pub failure_wait_seconds: Option<String>,

    /// Days admin events are kept before they are purged. [default: 90]
    #[arg(long, env = "LATCHKEY_EVENT_RETENTION_DAYS", value_name = "DAYS")]
    pub event_retention_days: Option<String>,

    /// Also create realm `demo` with users and clients to look at (once; kept afterwards).
    #[arg(long, env = "LATCHKEY_DEMO")]
    pub demo: bool,

    /// The built admin console to serve at /console/ (scripts/console builds it into
    /// frontend/dist). [default: frontend/dist when it holds a build, else none]
    #[arg(long, env = "LATCHKEY_CONSOLE_DIR", value_name = "DIR")]
    pub console_dir: Option<PathBuf>,

    /// Origins allowed to call the admin API and token endpoints from a browser (a console
    /// deployed on an origin of its own), comma-separated, as `https://console.example.com`.
    #[arg(long, env = "LATCHKEY_CORS_ORIGINS", value_name = "ORIGIN,ORIGIN")]
    pub cors_origins: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, KeysAction};

    #[test]
    fn a_key_id_may_begin_with_a_hyphen() {
        // Key ids are URL-safe base64: one in 64 begins with `-`.
        let cli =
            Cli::try_parse_from(["latchkey", "keys", "remove", "--realm", "master", "--kid", "-x2Yc9Qv"]).unwrap();
        let Command::Keys(args) = cli.command else { panic!("not a keys command") };
        assert!(matches!(args.action, KeysAction::Remove { kid, .. } if kid == "-x2Yc9Qv"));
    }
}
