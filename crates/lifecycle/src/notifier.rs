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

use crate::jose;
use crate::keys::Alg;
use crate::state::Lifecycle;

/// Deliveries in flight at once, per node.
pub const CONCURRENCY: usize = 16;
/// Messages claimed per round.
const CLAIM: u64 = 32;
/// How long a claim lasts; a delivery takes at most [`TIMEOUT`], so a live node never loses one.
const LEASE: Duration = Duration::from_secs(30);
/// Per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Without a wake-up, how often the outbox is looked at (other nodes' messages, retries).
const POLL: Duration = Duration::from_millis(500);

/// The notifier's HTTP client: no redirects (a receiver cannot bounce a request elsewhere) and
/// a resolver that drops every address `targets` refuses, so a name cannot lead where an
/// address could not.
pub fn http_client(targets: TargetPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver(targets)))
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
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
        let response = request.send().await.map_err(|e| format!("{}: {}", message.url, with_causes(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", message.url))
        }
    }

    /// Claims and delivers one round of due messages; returns how many it handled.
    pub async fn deliver_due(&self, http: &reqwest::Client) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let lease_until = Timestamp::from_millis(now.as_millis() + LEASE.as_millis() as i64);
        let claimed = outbox::claim(self.store.conn(), &self.node, CLAIM, lease_until, now).await?;
        let count = claimed.len();
        let mut realms = HashMap::new();
        for id in claimed.iter().map(|m| RealmId::from_uuid(m.realm_id)) {
            if let std::collections::hash_map::Entry::Vacant(entry) = realms.entry(id) {
                if let Some(realm) = realms::find_by_id(self.store.conn(), id).await? {
                    entry.insert(realm);
                }
            }
        }
        let realms = &realms;
        let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut running = Vec::with_capacity(count);
        for message in claimed {
            // The permit is taken inside the future: taken here, the 17th message would wait for
            // a permit held by a future nobody polls yet, and the notifier would stop for good.
            let semaphore = semaphore.clone();
            running.push(async move {
                let permit = semaphore.acquire_owned().await;
                let outcome = self.deliver(http, realms, &message, Timestamp::now()).await;
                drop(permit);
                (message, outcome)
            });
        }
        let mut delivered = Vec::with_capacity(count);
        for (message, outcome) in futures_join(running).await {
            let now = Timestamp::now();
            match outcome {
                Ok(()) => {
                    tracing::info!(url = %message.url, kind = %message.kind, id = %message.id, "notification delivered");
                    delivered.push(message.id);
                }
                Err(error) => {
                    let retry_at = now.plus_secs(backoff(message.attempts));
                    let retry = (retry_at.as_millis() < message.deadline_at).then_some(retry_at);
                    outbox::attempt_failed(self.store.conn(), message.id, &self.node, &error, retry).await?;
                    tracing::warn!(url = %message.url, id = %message.id, attempts = message.attempts, %error,
                        gave_up = retry.is_none(), "notification not delivered");
                }
            }
        }
        outbox::delivered_many(self.store.conn(), &delivered, &self.node, Timestamp::now()).await?;
        Ok(count)
    }
}

/// Runs every future to completion concurrently (their concurrency is bounded by the
/// semaphore they hold) and returns their outputs.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// The notifier: delivers until `stop` turns true.
pub async fn run_notifier(life: Arc<Lifecycle>, mut stop: watch::Receiver<bool>) {
    let http = http_client(life.config.targets);
    loop {
        let handled = match life.deliver_due(&http).await {
            Ok(n) => n,
            Err(error) => {
                tracing::error!(%error, "the notifier could not read the outbox");
                0
            }
        };
        if *stop.borrow() {
            return;
        }
        if handled == 0 {
            tokio::select! {
                _ = life.wake_notifier.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
