//! Delivering the outbox: OIDC back-channel logout tokens and Keycloak adapter actions.
//!
//! Workers claim due messages under a lease (see `latchkey_store::outbox`), deliver up to
//! [`CONCURRENCY`] at once with a per-request timeout, so one slow or dead application cannot
//! hold up the others, and record every outcome: delivered, retried later with exponential
//! backoff (1 s, 2 s, 4 s … 5 min), or given up at the message's deadline. Tokens are signed at
//! delivery time (a retry a day later still carries a fresh `exp`) and keep the message id as
//! their `jti`, so a receiver can recognise a repeat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::ending::NotificationKind;
use latchkey_domain::uri::TargetPolicy;
use latchkey_domain::{Realm, RealmId, Timestamp};
use latchkey_store::outbox::{self, Message};
use latchkey_store::{realms, StoreError};
use serde_json::{json, Value};
use tokio::sync::watch;
use uuid::Uuid;

use crate::jose;
use crate::keys::Alg;
use crate::state::Lifecycle;

/// Deliveries in flight at once, per node.
pub const CONCURRENCY: usize = 32;
/// Deliveries in flight at once to one receiver (scheme, host and port): a receiver that hangs
/// holds at most these of the [`CONCURRENCY`] slots, and the rest go on telling the others; a
/// receiver alone (one application told of a logout-all of its million sessions) still has
/// most of them.
const PER_RECEIVER: usize = 24;
/// After a delivery to a receiver timed out, its other messages of the moment are not tried for
/// this long (each is retried later with its backoff), so they do not each wait out a timeout
/// in turn.
const RECEIVER_PAUSE: Duration = Duration::from_secs(30);
/// Messages claimed at once.
const CLAIM: u64 = 128;
/// Outcomes recorded at once (one statement for the delivered).
const RECORD_EVERY: usize = 64;
/// How long a claim lasts. A node holds at most two claims' worth of messages, delivered
/// [`CONCURRENCY`] at a time, each in at most [`TIMEOUT`]: 40 s at worst, with every receiver
/// hanging, so a live node never loses a claim to another.
const LEASE: Duration = Duration::from_secs(60);
/// Per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Without a wake-up, how often the outbox is looked at (other nodes' messages, retries).
const POLL: Duration = Duration::from_millis(500);

/// The notifier's HTTP client: no redirects (a receiver cannot bounce a request elsewhere),
/// never a proxy from the environment (`HTTP_PROXY`, `ALL_PROXY` …: behind one, the checks at
/// connect time would see only the proxy), and a resolver that drops every address `targets`
/// refuses, so a name cannot lead where an address could not. With a proxy the operator
/// configured, requests go through it and each target's name is resolved and checked before
/// it is sent ([`Lifecycle::deliver`]).
pub fn http_client(targets: TargetPolicy, proxy: Option<&url::Url>) -> reqwest::Client {
    let builder = reqwest::Client::builder().no_proxy();
    let builder = match proxy {
        Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.as_str()).expect("a proxy URL checked at start")),
        None => builder.dns_resolver(Arc::new(CheckedResolver(targets))),
    };
    builder
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// Resolves a target's host and refuses it unless every address it has is one `policy` allows
/// (for deliveries through a proxy, which resolves the name itself).
async fn check_resolved(policy: TargetPolicy, url: &url::Url) -> Result<(), String> {
    let host = url.host_str().ok_or("no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(0);
    let found: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| format!("{host}: {e}"))?.collect();
    if found.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    for address in found {
        policy.check_ip(address.ip()).map_err(|reason| format!("{host} resolves to {}: {reason}", address.ip()))?;
    }
    Ok(())
}

/// Resolves names with the system resolver, keeping only the addresses the policy allows.
struct CheckedResolver(TargetPolicy);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<std::net::SocketAddr> =
                found.iter().copied().filter(|a| policy.check_ip(a.ip()).is_ok()).collect();
            if allowed.is_empty() {
                let reason = found
                    .first()
                    .map_or_else(|| "no address".to_owned(), |a| policy.check_ip(a.ip()).err().unwrap_or_default());
                return Err(format!("{host} resolves to no allowed address: {reason}").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The receiver of a URL: its scheme, host and port (the URL itself if it cannot be read).
fn receiver_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or_default(), u.port_or_known_default().unwrap_or(0))
        }
        Err(_) => url.to_owned(),
    }
}

/// Per receiver: the slots of its deliveries, and until when it is paused.
#[derive(Default)]
pub(crate) struct Receivers {
    slots: HashMap<String, Arc<tokio::sync::Semaphore>>,
    paused_until: HashMap<String, std::time::Instant>,
}

type SharedReceivers = Arc<std::sync::Mutex<Receivers>>;

impl Receivers {
    fn slots(shared: &SharedReceivers, receiver: &str) -> Arc<tokio::sync::Semaphore> {
        let mut me = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if me.slots.len() > 10_000 {
            // Only idle entries go (an entry in use is held by its deliveries too).
            me.slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        me.slots
            .entry(receiver.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_RECEIVER)))
            .clone()
    }

    fn paused(shared: &SharedReceivers, receiver: &str) -> bool {
        let me = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        me.paused_until.get(receiver).is_some_and(|until| *until > std::time::Instant::now())
    }

    fn pause(shared: &SharedReceivers, receiver: &str) {
        let mut me = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        me.paused_until.retain(|_, until| *until > now);
        me.paused_until.insert(receiver.to_owned(), now + RECEIVER_PAUSE);
    }
}

/// An error and every cause under it, as one line (reqwest's own message hides the cause).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn backoff(attempts: i32) -> i64 {
    1i64 << attempts.clamp(1, 9).saturating_sub(1).min(8)
}

/// The logout token of a back-channel message (OIDC Back-Channel Logout 1.0, section 2.4).
fn logout_token_claims(issuer: &str, message: &Message, now: Timestamp) -> Value {
    let payload: Value = serde_json::from_str(&message.payload).unwrap_or_default();
    let mut claims = json!({
        "iss": issuer,
        "aud": payload["aud"],
        "iat": now.as_secs(),
        "exp": now.as_secs() + 120,
        "jti": message.id.to_string(),
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    if let Some(sub) = payload["sub"].as_str() {
        claims["sub"] = json!(sub);
    }
    if let Some(sid) = payload["sid"].as_str() {
        claims["sid"] = json!(sid);
    }
    claims
}

/// A Keycloak adapter action (`LogoutAction` / `PushNotBeforeAction`).
fn adapter_action(kind: NotificationKind, message: &Message, now: Timestamp) -> Value {
    let payload: Value = serde_json::from_str(&message.payload).unwrap_or_default();
    let action = if kind == NotificationKind::PushNotBefore { "PUSH_NOT_BEFORE" } else { "LOGOUT" };
    json!({
        "id": message.id.to_string(),
        "expiration": now.as_secs() + 30,
        "resource": payload["resource"],
        "action": action,
        "notBefore": payload["notBefore"],
        "adapterSessionIds": null,
        "keycloakSessionIds": null,
    })
}

impl Lifecycle {
    /// Delivers one message; `Err` says why it failed. `realms` holds the realms of the round's
    /// messages, read once per round rather than once per message.
    async fn deliver(
        &self,
        http: &reqwest::Client,
        realms: &HashMap<RealmId, Realm>,
        message: &Message,
        now: Timestamp,
    ) -> Result<(), String> {
        let kind = NotificationKind::parse(&message.kind).ok_or_else(|| format!("unknown kind {}", message.kind))?;
        let realm = realms.get(&message.realm_id.into()).ok_or("the realm no longer exists")?;
        let keys = self.keys.get(&self.store, realm).await.map_err(|e| e.to_string())?;
        let issuer = self.issuer(&realm.name);
        let url = url::Url::parse(&message.url).map_err(|e| format!("{}: {e}", message.url))?;
        self.config.targets.check_url(&url).map_err(|e| format!("{}: refused: {e}", message.url))?;
        if self.config.notification_proxy.is_some() {
            check_resolved(self.config.targets, &url).await.map_err(|e| format!("{}: refused: {e}", message.url))?;
        }
        let request = match kind {
            NotificationKind::BackchannelLogout => {
                let signer = keys.signer(realm.signature_algorithm.into()).ok_or("no signing key")?;
                let token = jose::sign(signer, "logout+jwt", &logout_token_claims(&issuer, message, now))
                    .map_err(|e| e.to_string())?;
                http.post(&message.url).form(&[("logout_token", token)])
            }
            NotificationKind::AdapterLogout | NotificationKind::PushNotBefore => {
                let signer = keys.signer(Alg::Rs256).ok_or("no RS256 key")?;
                let token =
                    jose::sign(signer, "JWT", &adapter_action(kind, message, now)).map_err(|e| e.to_string())?;
                http.post(&message.url).header("content-type", "text/plain").body(token)
            }
        };
        let response = request.send().await.map_err(|e| {
            // A receiver that refuses fails fast by itself; one that hangs costs a timeout each.
            (format!("{}: {}", message.url, with_causes(&e)), e.is_timeout())
        });
        let response = match response {
            Ok(response) => response,
            Err((error, timed_out)) => {
                if timed_out {
                    Receivers::pause(&self.receivers, &receiver_of(&message.url));
                }
                return Err(error);
            }
        };
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", message.url))
        }
    }

    /// Claims up to [`CLAIM`] due messages, with the realms they belong to (read once per claim
    /// rather than once per message).
    async fn claim_due(&self) -> Result<(Vec<Message>, Arc<HashMap<RealmId, Realm>>), StoreError> {
        let now = Timestamp::now();
        let lease_until = Timestamp::from_millis(now.as_millis() + LEASE.as_millis() as i64);
        let claimed = outbox::claim(self.store.conn(), &self.node, CLAIM, lease_until, now).await?;
        let mut realms = HashMap::new();
        for id in claimed.iter().map(|m| RealmId::from_uuid(m.realm_id)) {
            if let std::collections::hash_map::Entry::Vacant(entry) = realms.entry(id) {
                if let Some(realm) = realms::find_by_id(self.store.conn(), id).await? {
                    entry.insert(realm);
                }
            }
        }
        Ok((claimed, Arc::new(realms)))
    }

    /// Records the outcomes of finished deliveries: the delivered in one statement, each failure
    /// with its next try (or none, past its deadline).
    async fn record(&self, delivered: &mut Vec<Uuid>, failed: &mut Vec<(Message, String)>) -> Result<(), StoreError> {
        for (message, error) in failed.drain(..) {
            let retry_at = Timestamp::now().plus_secs(backoff(message.attempts));
            let retry = (retry_at.as_millis() < message.deadline_at).then_some(retry_at);
            outbox::attempt_failed(self.store.conn(), message.id, &self.node, &error, retry).await?;
            self.metrics.delivered(if retry.is_some() { "retried" } else { "given_up" }, 1);
            tracing::warn!(url = %message.url, id = %message.id, attempts = message.attempts, %error,
                gave_up = retry.is_none(), "notification not delivered");
        }
        outbox::delivered_many(self.store.conn(), delivered, &self.node, Timestamp::now()).await?;
        self.metrics.delivered("delivered", delivered.len());
        delivered.clear();
        Ok(())
    }
}

/// The notifier: delivers until `stop` turns true, then finishes what it holds.
///
/// A pipeline rather than rounds: it claims [`CLAIM`] messages while fewer than that are still
/// under way (so the next claim is ready before the last delivery of the previous one ends),
/// runs each delivery as a task of its own ([`CONCURRENCY`] at once, so signing spreads over
/// every core) and records outcomes every [`RECORD_EVERY`] of them, or as soon as nothing is
/// under way.
pub async fn run_notifier(life: Arc<Lifecycle>, mut stop: watch::Receiver<bool>) {
    let http = http_client(life.config.targets, life.config.notification_proxy.as_ref());
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let receivers = life.receivers.clone();
    let mut running = tokio::task::JoinSet::new();
    let (mut delivered, mut failed) = (Vec::new(), Vec::new());
    // Whether the outbox may hold more due messages than the last claim took.
    let mut more = true;
    loop {
        let stopping = *stop.borrow();
        if !stopping && (running.is_empty() || (more && running.len() <= CLAIM as usize)) {
            match life.claim_due().await {
                Ok((claimed, realms)) => {
                    more = claimed.len() as u64 == CLAIM;
                    for message in claimed {
                        let (life, http, realms, permits) =
                            (life.clone(), http.clone(), realms.clone(), permits.clone());
                        let receiver = receiver_of(&message.url);
                        let slots = Receivers::slots(&receivers, &receiver);
                        let receivers = receivers.clone();
                        running.spawn(async move {
                            // A receiver's own slot first: waiting for it holds none of the
                            // node's, which stay free for other receivers.
                            let slot = slots.acquire_owned().await;
                            if Receivers::paused(&receivers, &receiver) {
                                let error = format!("{receiver} timed out lately; not tried, retried later");
                                return (message, Err(error));
                            }
                            let permit = permits.acquire_owned().await;
                            let outcome = life.deliver(&http, &realms, &message, Timestamp::now()).await;
                            drop((permit, slot));
                            (message, outcome)
                        });
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "the notifier could not read the outbox");
                    more = false;
                }
            }
        }
        if running.is_empty() {
            if let Err(error) = life.record(&mut delivered, &mut failed).await {
                tracing::error!(%error, "the notifier could not record its deliveries");
            }
            if stopping {
                return;
            }
            if !more {
                tokio::select! {
                    _ = life.wake_notifier.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => return,
                }
                more = true;
            }
            continue;
        }
        // At least one delivery finished: take it and every other one already done.
        let mut finished = running.join_next().await.into_iter().collect::<Vec<_>>();
        while let Some(done) = running.try_join_next() {
            finished.push(done);
        }
        // A delivery task panics only on a bug; its message is retried once its lease runs out.
        for (message, outcome) in finished.into_iter().flatten() {
            match outcome {
                Ok(()) => {
                    tracing::debug!(url = %message.url, kind = %message.kind, id = %message.id, "notification delivered");
                    delivered.push(message.id);
                }
                Err(error) => failed.push((message, error)),
            }
        }
        if delivered.len() + failed.len() >= RECORD_EVERY {
            if let Err(error) = life.record(&mut delivered, &mut failed).await {
                tracing::error!(%error, "the notifier could not record its deliveries");
            }
        }
    }
}
