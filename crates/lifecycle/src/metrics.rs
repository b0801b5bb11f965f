//! What the server counts and measures, in the Prometheus text format (OpenMetrics), served on
//! a listen address of its own (`metrics_listen`; not served unless set). Counters and
//! histograms are updated where things happen; the active sessions, the outbox backlog, the
//! database pool and the catalog cache are read when the metrics are scraped (the sessions from
//! the maintained counts: a few rows per realm, whatever the number of sessions).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use latchkey_domain::SessionEnd;
use latchkey_store::{counts, outbox, realms};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::state::Lifecycle;
use crate::LifecycleError;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// The route's pattern (`/realms/{realm}/protocol/openid-connect/token`), never the path
    /// itself: ids and names stay out of the label values.
    route: String,
    /// One of the methods the server answers, else `OTHER`.
    method: &'static str,
    /// The status class: `2xx`, `4xx`, …
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: String,
    /// `success`, or the OAuth error code.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    realm: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    event: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 0.5 ms to ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Every metric family, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Histograms<RouteLabels>,
    token_requests: Family<GrantLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
    sessions_ended: Family<ReasonLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    reaper_passes: Counter,
    reaper_batches: Counter,
    sessions_reexpired: Counter,
    sessions_active: Family<SessionLabels, Gauge>,
    outbox_backlog: Gauge,
    db_connections: Family<StateLabels, Gauge>,
    cache: Family<CacheLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let requests = Histograms::<RouteLabels>::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let token_requests = Family::default();
        registry.register(
            "token_requests",
            "Token endpoint requests by grant type and outcome",
            token_requests.clone(),
        );
        let sign_ins = Family::default();
        registry.register("sign_ins", "Sign-ins at the sign-in page, by outcome", sign_ins.clone());
        let sessions_ended = Family::default();
        registry.register("sessions_ended", "Sessions ended, by reason", sessions_ended.clone());
        let deliveries = Family::default();
        registry.register(
            "notification_deliveries",
            "Back-channel and admin notifications, by outcome (delivered, retried, given_up)",
            deliveries.clone(),
        );
        let reaper_passes = Counter::default();
        registry.register("reaper_passes", "Passes of the reaper", reaper_passes.clone());
        let reaper_batches = Counter::default();
        registry.register(
            "reaper_job_batches",
            "Batches of logout-all, client and realm-limits jobs the reaper ran",
            reaper_batches.clone(),
        );
        let sessions_reexpired = Counter::default();
        registry.register(
            "sessions_reexpired",
            "Sessions whose expiry the reaper moved to their realm's new limits",
            sessions_reexpired.clone(),
        );
        let sessions_active = Family::default();
        registry.register(
            "sessions_active",
            "Active sessions per realm and type, from the maintained counts",
            sessions_active.clone(),
        );
        let outbox_backlog = Gauge::default();
        registry.register("outbox_backlog", "Notifications waiting to be delivered", outbox_backlog.clone());
        let db_connections = Family::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections, by state (idle, in_use)",
            db_connections.clone(),
        );
        let cache = Family::default();
        registry.register(
            "catalog_cache",
            "Catalog cache (realms, clients, role grants) lookups and invalidations, by event",
            cache.clone(),
        );
        Metrics {
            registry,
            requests,
            token_requests,
            sign_ins,
            sessions_ended,
            deliveries,
            reaper_passes,
            reaper_batches,
            sessions_reexpired,
            sessions_active,
            outbox_backlog,
            db_connections,
            cache,
        }
    }
}

fn one(label: &str) -> OutcomeLabels {
    OutcomeLabels { outcome: label.to_owned() }
}

impl Metrics {
    /// One HTTP request answered.
    /// Every label is from a closed set, whatever a client sends: the method is one the
    /// server knows or `OTHER`, the route a pattern of the server's own (or `unmatched`), the
    /// status its class.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
            .into_iter()
            .find(|known| *known == method)
            .unwrap_or("OTHER");
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let labels = RouteLabels { route: route.to_owned(), method, status };
        self.requests.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// One token request: its grant type (as sent, when it is one the server knows) and
    /// `success` or the OAuth error code.
    pub fn token_request(&self, grant_type: &str, outcome: &str) {
        let labels = GrantLabels { grant_type: grant_type.to_owned(), outcome: outcome.to_owned() };
        self.token_requests.get_or_create(&labels).inc();
    }

    pub fn sign_in(&self, outcome: &str) {
        self.sign_ins.get_or_create(&one(outcome)).inc();
    }

    pub(crate) fn ended(&self, reason: SessionEnd, n: usize) {
        if n > 0 {
            self.sessions_ended.get_or_create(&ReasonLabels { reason: reason.as_str().to_owned() }).inc_by(n as u64);
        }
    }

    pub(crate) fn delivered(&self, outcome: &str, n: usize) {
        if n > 0 {
            self.deliveries.get_or_create(&one(outcome)).inc_by(n as u64);
        }
    }

    pub(crate) fn reaper_pass(&self) {
        self.reaper_passes.inc();
    }

    pub(crate) fn reaper_batch(&self) {
        self.reaper_batches.inc();
    }

    pub(crate) fn reexpired(&self, n: u64) {
        self.sessions_reexpired.inc_by(n);
    }
}

/// Raises `counter` to `total` (a count kept elsewhere since start).
fn catch_up(counter: &Counter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}

impl Lifecycle {
    /// The metrics as Prometheus scrapes them, with the values read at scrape time refreshed.
    pub async fn render_metrics(&self) -> Result<String, LifecycleError> {
        let m = &self.metrics;
        let names: HashMap<_, _> = realms::list(self.store.conn()).await?.into_iter().map(|r| (r.id, r.name)).collect();
        let active = counts::by_realm(self.store.conn()).await?;
        m.sessions_active.clear();
        for (realm, kind, n) in active {
            let Some(name) = names.get(&realm) else { continue };
            let labels = SessionLabels { realm: name.clone(), r#type: kind.as_str().to_owned() };
            m.sessions_active.get_or_create(&labels).set(n as i64);
        }
        m.outbox_backlog.set(outbox::backlog(self.store.conn()).await? as i64);
        let (size, idle) = self.store.pool_use();
        m.db_connections.get_or_create(&StateLabels { state: "idle".into() }).set(idle as i64);
        let in_use = (size as i64 - idle as i64).max(0);
        m.db_connections.get_or_create(&StateLabels { state: "in_use".into() }).set(in_use);
        let stats = &self.catalog.stats;
        for (event, total) in [
            ("hit", stats.hits.load(Ordering::Relaxed)),
            ("miss", stats.misses.load(Ordering::Relaxed)),
            ("invalidation", stats.drops.load(Ordering::Relaxed)),
        ] {
            catch_up(&m.cache.get_or_create(&CacheLabels { event: event.into() }), total);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.registry)
            .map_err(|e| LifecycleError::internal(format!("the metrics cannot be written: {e}")))?;
        Ok(text)
    }
}
