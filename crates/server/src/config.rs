//! The server's settings, resolved once from defaults, a TOML file, the environment and flags
//! into one typed [`Config`] that is passed by value (no global state: a test runs many servers).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use latchkey_domain::Secret;
use latchkey_store::DatabaseUrl;
use serde::Deserialize;
use url::Url;

use crate::cli::{CommonArgs, ServeArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Credentials for the first administrator of realm `master`.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    pub username: String,
    pub password: Secret,
}

/// Everything `latchkey serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where Prometheus scrapes `/metrics`, apart from `listen`; `None`: not served.
    pub metrics_listen: Option<SocketAddr>,
    pub database_url: DatabaseUrl,
    /// Where clients reach this server, without a trailing slash; `None` means
    /// `http://<bound address>`, allowed only when listening on loopback.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    pub workers: usize,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub admin: Option<AdminCredentials>,
    pub demo: bool,
    /// How often the reaper looks for expired sessions and unfinished logout work.
    pub reaper_interval: std::time::Duration,
    /// The built admin console served at `/console/`, if any.
    pub console_dir: Option<PathBuf>,
    /// Browser origins allowed to call the API across origins.
    pub cors_origins: Vec<String>,
    /// Whether notification URLs may point at loopback and private networks.
    pub allow_private_targets: bool,
    /// The HTTP proxy notifications go through, if the operator set one.
    pub notification_proxy: Option<Url>,
    /// How long admin events are kept.
    pub event_retention: std::time::Duration,
    /// Password and client-secret hashes checked at once, at most.
    pub max_concurrent_hashes: usize,
    /// How long a failed sign-in or client authentication counts towards throttling.
    pub failure_window: std::time::Duration,
    /// The first wait once the free failures are spent; each further failure doubles it.
    pub failure_wait: std::time::Duration,
}

/// Settings for commands that only open the database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub database_url: DatabaseUrl,
    pub log_format: LogFormat,
    pub log_filter: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("{setting}: {message}")]
    Invalid { setting: &'static str, message: String },
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { setting, message: message.into() }
}

/// The TOML file's keys. Unknown keys are refused, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    workers: Option<usize>,
    log_format: Option<String>,
    log_level: Option<String>,
    console_dir: Option<PathBuf>,
    cors_origins: Option<Vec<String>>,
    allow_private_targets: Option<bool>,
    notification_proxy: Option<String>,
    allow_http: Option<bool>,
    event_retention_days: Option<u32>,
    max_concurrent_hashes: Option<usize>,
    failure_window_minutes: Option<u32>,
    failure_wait_seconds: Option<u32>,
}

impl FileConfig {
    fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::ParseFile { path: path.to_owned(), message: e.to_string() })
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where `scripts/console` puts the built console.
pub const DEFAULT_CONSOLE_DIR: &str = "frontend/dist";
pub const DEFAULT_DATA_DIR: &str = "data";
pub const DEFAULT_EVENT_RETENTION_DAYS: u32 = 90;
pub const DEFAULT_FAILURE_WINDOW_MINUTES: u32 = 15;
/// The first throttling wait, seconds (as Keycloak's brute-force wait increment).
pub const DEFAULT_FAILURE_WAIT_SECONDS: u32 = 1;

impl DatabaseConfig {
    pub fn resolve(args: &CommonArgs) -> Result<Self, ConfigError> {
        Self::resolve_with(args, &FileConfig::load(args.config.as_deref())?)
    }

    fn resolve_with(args: &CommonArgs, file: &FileConfig) -> Result<Self, ConfigError> {
        let database_url = match args.database_url.as_deref().or(file.database_url.as_deref()) {
            Some(raw) => raw.parse().map_err(|e: latchkey_store::StoreError| invalid("database URL", e.to_string()))?,
            None => {
                let dir = args.data_dir.clone().or_else(|| file.data_dir.clone());
                DatabaseUrl::sqlite_file(dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into()).join("latchkey.db"))
            }
        };
        let log_format = match args.log_format.as_deref().or(file.log_format.as_deref()).unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(invalid("log format", format!("'{other}' is not one of 'text', 'json'"))),
        };
        let log_filter = args.log_level.clone().or_else(|| file.log_level.clone()).unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log_filter)
            .map_err(|e| invalid("log level", format!("'{log_filter}' is not a log filter: {e}")))?;
        Ok(DatabaseConfig { database_url, log_format, log_filter })
    }
}

impl Config {
    pub fn resolve(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = FileConfig::load(args.common.config.as_deref())?;
        let db = DatabaseConfig::resolve_with(&args.common, &file)?;

        let raw_listen = args.listen.as_deref().or(file.listen.as_deref()).unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = raw_listen.parse().map_err(|_| {
            invalid("listen address", format!("'{raw_listen}' is not a host:port such as 127.0.0.1:8080"))
        })?;

        let metrics_listen = args
            .metrics_listen
            .as_deref()
            .or(file.metrics_listen.as_deref())
            .map(|raw| {
                raw.parse::<SocketAddr>().map_err(|_| {
                    invalid("metrics listen address", format!("'{raw}' is not a host:port such as 127.0.0.1:9000"))
                })
            })
            .transpose()?;
        if metrics_listen.is_some_and(|m| m == listen && m.port() != 0) {
            return Err(invalid("metrics listen address", "must differ from the listen address"));
        }

        let public_url = args.public_url.as_deref().or(file.public_url.as_deref()).map(parse_public_url).transpose()?;
        if public_url.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                "public URL",
                format!(
                    "set --public-url (LATCHKEY_PUBLIC_URL, public_url) when listening on {listen}: the issuer of \
                     every token must be the one URL clients use, never whatever Host a caller sends"
                ),
            ));
        }

        // Off loopback, plain HTTP exposes cookies, tokens and passwords: refused unless the
        // operator says it is intended (as Keycloak's `sslRequired=external` refuses it).
        let allow_http = args.allow_http || file.allow_http.unwrap_or(false);
        if let Some(url) = public_url.as_deref().map(Url::parse).transpose().ok().flatten() {
            let loopback = match url.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if url.scheme() == "http" && !loopback && !allow_http {
                return Err(invalid(
                    "public URL",
                    format!(
                        "{url} is plain HTTP off loopback: cookies would not be Secure and passwords and tokens                          would cross the network in clear. Use https:// (terminate TLS at a proxy), or set                          --allow-http (LATCHKEY_ALLOW_HTTP, allow_http) if this is intended"
                    ),
                ));
            }
        }

        let notification_proxy = args
            .notification_proxy
            .as_deref()
            .or(file.notification_proxy.as_deref())
            .map(|raw| {
                Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .filter(reqwest_proxy_ok)
                    .ok_or_else(|| {
                        invalid("notification proxy", format!("'{raw}' is not a proxy URL such as http://proxy:3128"))
                    })
            })
            .transpose()?;

        let trusted_proxies = match (&args.trusted_proxies, &file.trusted_proxies) {
            (Some(list), _) => parse_proxies(list.split(',').map(str::trim).filter(|s| !s.is_empty()))?,
            (None, Some(list)) => parse_proxies(list.iter().map(String::as_str))?,
            (None, None) => Vec::new(),
        };

        let workers = match args.workers.as_deref() {
            Some(raw) => raw.parse::<usize>().ok().filter(|n| *n > 0),
            None => file.workers.filter(|n| *n > 0).or(Some(default_workers())),
        }
        .ok_or_else(|| invalid("workers", "must be a whole number greater than 0"))?;

        let file_password = match &args.admin_password_file {
            Some(path) => Some(read_password_file(path)?),
            None => None,
        };
        let admin = match (&args.admin_user, &args.admin_password.clone().or(file_password)) {
            (Some(user), Some(password)) => {
                if password.is_empty() {
                    return Err(invalid("LATCHKEY_ADMIN_PASSWORD", "must not be empty"));
                }
                latchkey_domain::user::normalize_username(user)
                    .map_err(|e| invalid("LATCHKEY_ADMIN_USER", e.to_string()))?;
                Some(AdminCredentials { username: user.clone(), password: Secret::new(password.clone()) })
            }
            (None, None) => None,
            _ => return Err(invalid(
                "administrator",
                "set both LATCHKEY_ADMIN_USER and LATCHKEY_ADMIN_PASSWORD (or --admin-user and --admin-password-file)",
            )),
        };

        let console_dir = match args.console_dir.clone().or_else(|| file.console_dir.clone()) {
            Some(dir) if dir.join("index.html").is_file() => Some(dir),
            Some(dir) => {
                return Err(invalid(
                    "console directory",
                    format!("{} holds no built console (index.html); build it with scripts/console", dir.display()),
                ))
            }
            None => Some(PathBuf::from(DEFAULT_CONSOLE_DIR)).filter(|d| d.join("index.html").is_file()),
        };
        let cors_origins = match (&args.cors_origins, &file.cors_origins) {
            (Some(list), _) => parse_origins(list.split(',').map(str::trim).filter(|s| !s.is_empty()))?,
            (None, Some(list)) => parse_origins(list.iter().map(String::as_str))?,
            (None, None) => Vec::new(),
        };

        let event_retention_days = match args.event_retention_days.as_deref() {
            Some(raw) => raw.parse::<u32>().ok().filter(|d| (1..=36_500).contains(d)),
            None => Some(file.event_retention_days.unwrap_or(DEFAULT_EVENT_RETENTION_DAYS)).filter(|d| *d >= 1),
        }
        .ok_or_else(|| invalid("event retention days", "must be a whole number of days from 1 to 36500"))?;

        let max_concurrent_hashes = match args.max_concurrent_hashes.as_deref() {
            Some(raw) => raw.parse::<usize>().ok().filter(|n| *n > 0),
            None => file.max_concurrent_hashes.filter(|n| *n > 0).or(Some(2 * default_workers())),
        }
        .ok_or_else(|| invalid("max concurrent hashes", "must be a whole number greater than 0"))?;

        let failure_window_minutes = match args.failure_window_minutes.as_deref() {
            Some(raw) => raw.parse::<u32>().ok(),
            None => Some(file.failure_window_minutes.unwrap_or(DEFAULT_FAILURE_WINDOW_MINUTES)),
        }
        .filter(|m| (1..=1440).contains(m))
        .ok_or_else(|| invalid("failure window minutes", "must be a whole number of minutes from 1 to 1440"))?;

        let failure_wait_seconds = match args.failure_wait_seconds.as_deref() {
            Some(raw) => raw.parse::<u32>().ok(),
            None => Some(file.failure_wait_seconds.unwrap_or(DEFAULT_FAILURE_WAIT_SECONDS)),
        }
        .filter(|s| (1..=900).contains(s))
        .ok_or_else(|| invalid("failure wait seconds", "must be a whole number of seconds from 1 to 900"))?;

        Ok(Config {
            listen,
            metrics_listen,
            database_url: db.database_url,
            public_url,
            trusted_proxies,
            workers,
            log_format: db.log_format,
            log_filter: db.log_filter,
            admin,
            demo: args.demo,
            reaper_interval: std::time::Duration::from_secs(10),
            console_dir,
            cors_origins,
            allow_private_targets: args.allow_private_targets
                || file.allow_private_targets.unwrap_or(false)
                || args.demo,
            notification_proxy,
            event_retention: std::time::Duration::from_secs(u64::from(event_retention_days) * 24 * 60 * 60),
            max_concurrent_hashes,
            failure_window: std::time::Duration::from_secs(u64::from(failure_window_minutes) * 60),
            failure_wait: std::time::Duration::from_secs(u64::from(failure_wait_seconds)),
        })
    }

    /// A configuration for tests and embedding: the given database, port 0 on loopback, one
    /// worker, no administrator.
    pub fn for_database(database_url: DatabaseUrl) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_listen: None,
            database_url,
            public_url: None,
            trusted_proxies: Vec::new(),
            workers: 1,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            admin: None,
            demo: false,
            reaper_interval: std::time::Duration::from_secs(10),
            console_dir: None,
            cors_origins: Vec::new(),
            allow_private_targets: false,
            notification_proxy: None,
            event_retention: std::time::Duration::from_secs(u64::from(DEFAULT_EVENT_RETENTION_DAYS) * 24 * 60 * 60),
            max_concurrent_hashes: 2 * default_workers(),
            failure_window: std::time::Duration::from_secs(u64::from(DEFAULT_FAILURE_WINDOW_MINUTES) * 60),
            failure_wait: std::time::Duration::from_secs(u64::from(DEFAULT_FAILURE_WAIT_SECONDS)),
        }
    }
}

/// Whether the notifier's HTTP client takes `url` as a proxy.
fn reqwest_proxy_ok(url: &Url) -> bool {
    url.path() == "/" && url.query().is_none() && url.fragment().is_none()
}

fn parse_proxies<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<IpAddr>, ConfigError> {
    items.map(|s| s.parse().map_err(|_| invalid("trusted proxies", format!("'{s}' is not an IP address")))).collect()
}

/// Origins as browsers send them: `scheme://host[:port]`, nothing after.
fn parse_origins<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<String>, ConfigError> {
    items
        .map(|raw| {
            let url = Url::parse(raw).map_err(|_| invalid("CORS origins", format!("'{raw}' is not an origin")))?;
            let origin = url.origin().ascii_serialization();
            if !matches!(url.scheme(), "http" | "https") || raw.trim_end_matches('/') != origin {
                return Err(invalid(
                    "CORS origins",
                    format!("'{raw}' is not an origin such as https://console.example.com"),
                ));
            }
            Ok(origin)
        })
        .collect()
}

/// The first line of a password file, which must not be empty.
fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid("admin password file", format!("cannot read {}: {e}", path.display())))?;
    let password = text.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        return Err(invalid("admin password file", format!("{} is empty", path.display())));
    }
    Ok(password)
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// An absolute http(s) URL with no query or fragment; trailing slashes are dropped so that
/// `{public_url}/realms/...` never doubles one.
fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid("public URL", format!("'{raw}' is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("public URL", format!("'{raw}' must use http or https")));
    }
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return Err(invalid(
            "public URL",
            format!("'{raw}' must be scheme://host[:port][/path] without query or fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(f: impl FnOnce(&mut ServeArgs)) -> Result<Config, ConfigError> {
        let mut args = ServeArgs::default();
        f(&mut args);
        Config::resolve(&args)
    }

    #[test]
    fn defaults() {
        let c = serve(|_| {}).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.database_url.sqlite_path(), Some(PathBuf::from("data/latchkey.db")));
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.admin.is_none() && !c.demo && c.workers >= 1);
    }

    #[test]
    fn bad_values_are_named() {
        let err = |f: fn(&mut ServeArgs)| serve(f).unwrap_err().to_string();
        assert!(err(|a| a.listen = Some("localhost".into())).starts_with("listen address:"));
        assert!(err(|a| a.metrics_listen = Some("9000".into())).starts_with("metrics listen address:"));
        let same = |a: &mut ServeArgs| {
            a.listen = Some("127.0.0.1:8080".into());
            a.metrics_listen = Some("127.0.0.1:8080".into());
        };
        assert!(err(same).starts_with("metrics listen address:"));
        assert!(err(|a| a.common.log_format = Some("xml".into())).starts_with("log format:"));
        assert!(err(|a| a.common.database_url = Some("mysql://x/y".into())).starts_with("database URL:"));
        assert!(err(|a| a.public_url = Some("ftp://x".into())).starts_with("public URL:"));
        assert!(err(|a| a.public_url = Some("https://x/?a=b".into())).starts_with("public URL:"));
        assert!(err(|a| a.listen = Some("0.0.0.0:8080".into())).starts_with("public URL:"), "required off loopback");
        assert!(err(|a| a.event_retention_days = Some("0".into())).starts_with("event retention days:"));
        assert!(err(|a| a.failure_window_minutes = Some("0".into())).starts_with("failure window minutes:"));
        assert!(err(|a| a.failure_wait_seconds = Some("901".into())).starts_with("failure wait seconds:"));
        assert!(err(|a| a.admin_password_file = Some("no/such/file".into())).starts_with("admin password file:"));
        assert!(err(|a| a.workers = Some("0".into())).starts_with("workers:"));
        assert!(err(|a| a.trusted_proxies = Some("10.0.0.1,proxy".into())).starts_with("trusted proxies:"));
        assert!(err(|a| a.cors_origins = Some("https://ok.example,https://x.example/path".into()))
            .starts_with("CORS origins:"));
        assert!(err(|a| a.console_dir = Some("no/such/dir".into())).starts_with("console directory:"));
        assert!(err(|a| a.admin_user = Some("admin".into())).starts_with("administrator:"));
        assert!(
            err(|a| a.common.log_level = Some("info,=".into())).starts_with("log level:"),
            "{}",
            err(|a| a.common.log_level = Some("info,=".into()))
        );
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let c = serve(|a| a.public_url = Some("https://id.example.com/auth/".into())).unwrap();
        assert_eq!(c.public_url.unwrap(), "https://id.example.com/auth");
        let c = serve(|a| {
            a.public_url = Some("HTTP://Id.Example.com:80/".into());
            a.allow_http = true;
        })
        .unwrap();
        assert_eq!(c.public_url.unwrap(), "http://id.example.com");
    }

    #[test]
    fn plain_http_off_loopback_is_refused_unless_allowed() {
        let err = serve(|a| a.public_url = Some("http://id.example.com".into())).unwrap_err().to_string();
        assert!(err.contains("--allow-http"), "{err}");
        let err = serve(|a| a.public_url = Some("http://10.1.2.3:8080".into())).unwrap_err().to_string();
        assert!(err.contains("plain HTTP"), "{err}");
        for fine in ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://id.example.com"] {
            assert!(serve(|a| a.public_url = Some(fine.into())).is_ok(), "{fine}");
        }
        assert!(serve(|a| {
            a.public_url = Some("http://id.example.com".into());
            a.allow_http = true;
        })
        .is_ok());
    }

    #[test]
    fn a_notification_proxy_is_a_proxy_url() {
        let c = serve(|a| a.notification_proxy = Some("http://proxy.internal:3128".into())).unwrap();
        assert_eq!(c.notification_proxy.unwrap().as_str(), "http://proxy.internal:3128/");
        for bad in ["proxy:3128", "ftp://proxy", "http://proxy/path", "http://"] {
            let err = serve(|a| a.notification_proxy = Some(bad.into())).unwrap_err().to_string();
            assert!(err.contains("notification proxy"), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = std::env::temp_dir().join(format!("latchkey-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latchkey.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\ndata_dir = \"/srv/lk\"\n").unwrap();
        let c = serve(|a| {
            a.common.config = Some(file.clone());
            a.listen = Some("127.0.0.1:7777".into());
        })
        .unwrap();
        assert_eq!(c.listen.port(), 7777);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url.sqlite_path(), Some(PathBuf::from("/srv/lk/latchkey.db")));

        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\nlisten_port = 3\n").unwrap();
        let err = serve(|a| a.common.config = Some(file.clone())).unwrap_err().to_string();
        assert!(err.contains("listen_port"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
