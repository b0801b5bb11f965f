//! The application state every face of the server shares, and the realm context every realm
//! endpoint starts from.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use latchkey_domain::uri::TargetPolicy;
use latchkey_domain::{Client, ClientId, ClientKind, PasswordHash, Protocol, Realm, Secret};
use latchkey_store::Store;
use uuid::Uuid;

use crate::error::LifecycleError;
use crate::keys::{KeyCache, RealmKeys};

/// Settings of the session lifecycle, from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The URL clients reach the server at, without a trailing slash: the base of every
    /// issuer. Never taken from a request's `Host`, so a caller cannot choose the issuer, and
    /// logout tokens sent outside any request carry the same issuer as the tokens they follow.
    pub public_url: String,
    /// Peers whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Which addresses notifications (back-channel logout, adapter calls) may be sent to.
    pub targets: TargetPolicy,
    /// The proxy notifications go through, when the operator configured one; the target rules
    /// still apply to each notification's URL. Proxies from the environment are never used.
    pub notification_proxy: Option<url::Url>,
    /// How long admin events are kept.
    pub event_retention: std::time::Duration,
    /// Password and secret hashes checked at once, at most (argon2id costs ~50 ms of a core).
    pub max_concurrent_hashes: usize,
    /// How long a sign-in or client-authentication failure counts; counters idle for longer
    /// start again and are purged. Zero means the default (15 minutes).
    pub failure_window: std::time::Duration,
    /// The first wait once a lane's free failures are spent (doubling after). Zero means the
    /// default (1 s).
    pub failure_wait: std::time::Duration,
}

/// The application state: the store, signing keys, settings and hashing slots, shared by every
/// worker and by both faces of the server (the OpenID Connect endpoints and the admin API).
pub struct Lifecycle {
    pub store: Store,
    pub keys: KeyCache,
    /// Realms, clients and role grants (see [`crate::catalog`]).
    pub catalog: crate::catalog::Catalog,
    pub config: Settings,
    /// Verified against for unknown usernames, so they take as long as wrong passwords.
    pub(crate) dummy_hash: PasswordHash,
    secrets: SecretCache,
    /// This node's name in outbox claims.
    pub(crate) node: String,
    pub(crate) wake_notifier: tokio::sync::Notify,
    pub(crate) wake_reaper: tokio::sync::Notify,
    /// Slots for password hashing, and admission to them (see [`Lifecycle::hash_work`]).
    hashing: tokio::sync::Semaphore,
    hashing_admission: tokio::sync::Semaphore,
    /// The notifier's receivers: their delivery slots and pauses (see [`crate::notifier`]).
    pub(crate) receivers: Arc<std::sync::Mutex<crate::notifier::Receivers>>,
    /// What the server counts and measures (see [`crate::metrics`]).
    pub metrics: crate::metrics::Metrics,
    /// Admin writes refused to callers without a valid token or holding no admin role in the
    /// realm aimed at, since start (counted, not stored: anyone can send them).
    pub unrecorded_refusals: std::sync::atomic::AtomicU64,
    /// How many of those the reaper has reported in the log.
    pub(crate) refusals_reported: std::sync::atomic::AtomicU64,
    /// When this node's reaper last forgot the counts' settled buckets (epoch ms).
    pub(crate) counts_settled_at: std::sync::atomic::AtomicI64,
    /// Held for a pass of the reaper (see [`Lifecycle::reap_with`]).
    pub(crate) reaping: tokio::sync::Mutex<()>,
    /// The session tables' vacuums the reaper asks for (see [`crate::reaper::Vacuums`]).
    pub(crate) vacuums: Arc<crate::reaper::Vacuums>,
}

/// Credential checks that may wait for each hashing slot.
pub const HASH_QUEUE_PER_SLOT: usize = 8;
/// The longest a credential check waits for a hashing slot.
pub const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `last_access` is written at most once per this many milliseconds per session.
pub const TOUCH_GRANULARITY_MS: i64 = 60_000;

impl Lifecycle {
    pub fn new(store: Store, config: Settings) -> Self {
        let dummy_hash = Secret::new(format!("dummy-{}", Uuid::new_v4())).hash().expect("hashing a dummy password");
        let slots = config.max_concurrent_hashes.max(1);
        let hashing = tokio::sync::Semaphore::new(slots);
        let hashing_admission = tokio::sync::Semaphore::new(slots * (1 + HASH_QUEUE_PER_SLOT));
        let one_process = store.backend() == latchkey_store::Backend::Sqlite;
        Lifecycle {
            store,
            keys: KeyCache::default(),
            catalog: crate::catalog::Catalog::new(one_process),
            config,
            dummy_hash,
            secrets: SecretCache::default(),
            node: format!("node-{}", Uuid::new_v4().simple()),
            wake_notifier: tokio::sync::Notify::new(),
            wake_reaper: tokio::sync::Notify::new(),
            hashing,
            hashing_admission,
            receivers: Default::default(),
            metrics: Default::default(),
            unrecorded_refusals: Default::default(),
            refusals_reported: Default::default(),
            counts_settled_at: Default::default(),
            reaping: Default::default(),
            vacuums: Default::default(),
        }
    }

    /// The address a request came from: the peer, or — when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` (all its values, in order) that is not itself a
    /// trusted proxy.
    pub fn client_ip<'a>(&self, peer: Option<IpAddr>, forwarded_for: impl IntoIterator<Item = &'a str>) -> String {
        let Some(peer) = peer else { return "unknown".into() };
        if !self.config.trusted_proxies.contains(&peer) {
            return peer.to_string();
        }
        let forwarded: Vec<&str> = forwarded_for.into_iter().collect();
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .rev()
            .find(|ip| !self.config.trusted_proxies.contains(ip))
            .unwrap_or(peer)
            .to_string()
    }

    /// `{public URL}/realms/{realm}`: the realm's issuer.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.config.public_url)
    }

    /// The server's public URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.config.public_url
    }

    /// Checks a confidential client's secret. argon2id is deliberately slow, so a secret
    /// verified once is remembered (as its SHA-256, beside the hash it matched) and later
    /// checks cost a digest; changing the stored hash invalidates the entry. Anything else is
    /// hashed only when this client has not failed too often from this address lately (see
    /// [`crate::signin`]) and a hashing slot is free.
    pub async fn verify_client_secret(
        &self,
        client: &Client,
        candidate: &str,
        ip: &str,
    ) -> Result<bool, LifecycleError> {
        let ClientKind::Confidential { secret } = &client.kind else { return Ok(false) };
        let digest = sha256(candidate.as_bytes());
        if self.secrets.matches(client.id, secret.as_phc(), &digest) {
            return Ok(true);
        }
        let subject = format!("client:{}|{ip}", client.id);
        let now = latchkey_domain::Timestamp::now();
        if let Some(retry_after) = crate::signin::client_must_wait(self, client.realm_id, &subject, now).await? {
            return Err(LifecycleError::ClientThrottled { retry_after });
        }
        let (hash, given) = (secret.clone(), Secret::new(candidate));
        let ok = self.hash_work(move || hash.verify(&given)).await?;
        if ok {
            self.secrets.remember(client.id, secret.as_phc(), digest);
            let txn = self.store.begin().await?;
            latchkey_store::login_failures::clear(&txn, client.realm_id, &subject).await?;
            txn.commit().await.map_err(latchkey_store::StoreError::from)?;
        } else {
            crate::signin::client_failed(self, client.realm_id, &subject, now).await?;
        }
        Ok(ok)
    }

    /// The first throttling wait in seconds (see [`Settings::failure_wait`]).
    pub fn failure_wait_secs(&self) -> i64 {
        (self.config.failure_wait.as_secs() as i64).max(1)
    }

    /// The failure window in seconds (see [`Settings::failure_window`]).
    pub fn failure_window_secs(&self) -> i64 {
        match self.config.failure_window.as_secs() {
            0 => crate::signin::DEFAULT_FAILURE_WINDOW_SECS,
            secs => secs as i64,
        }
    }

    /// Runs password hashing on the blocking pool in one of the hashing slots. A check may wait
    /// for a slot in a small waiting room ([`HASH_QUEUE_PER_SLOT`] per slot, at most
    /// [`HASH_WAIT`]); past either it is answered "busy" at once: a flood of wrong passwords
    /// cannot build a queue that grows.
    pub async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LifecycleError> {
        let busy = || {
            tracing::warn!("every password-hashing slot and waiting place is taken; a credential check was refused");
            LifecycleError::Busy
        };
        let _admitted = self.hashing_admission.try_acquire().map_err(|_| busy())?;
        let _slot = tokio::time::timeout(HASH_WAIT, self.hashing.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(LifecycleError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(LifecycleError::internal)
    }
}

#[derive(Default)]
struct SecretCache(RwLock<HashMap<ClientId, (String, [u8; 32])>>);

impl SecretCache {
    fn matches(&self, client: ClientId, phc: &str, digest: &[u8; 32]) -> bool {
        let entries = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(&client).is_some_and(|(known_phc, known)| known_phc == phc && constant_time_eq(known, digest))
    }

    fn remember(&self, client: ClientId, phc: &str, digest: [u8; 32]) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(client, (phc.to_owned(), digest));
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random token of 32 bytes, base64url (codes, CSRF tokens).
pub fn random_token() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// What every realm endpoint starts from.
pub struct RealmCtx {
    pub realm: Realm,
    pub issuer: String,
    pub keys: Arc<RealmKeys>,
}

impl Lifecycle {
    /// Loads the realm named in the path; an unknown or disabled realm is a 404.
    pub async fn realm_ctx(&self, name: &str) -> Result<RealmCtx, LifecycleError> {
        let realm = self.catalog.realm(self.store.conn(), name).await?;
        let realm = realm.filter(|r| r.enabled).ok_or(LifecycleError::RealmNotFound)?;
        let keys = self.keys.get(&self.store, &realm).await?;
        Ok(RealmCtx { issuer: self.issuer(&realm.name), realm, keys })
    }

    /// The enabled OpenID Connect client `client_id` of the realm (a SAML client has no part in
    /// these flows, whatever it is sent).
    pub async fn find_client(&self, ctx: &RealmCtx, client_id: &str) -> Result<Option<Client>, LifecycleError> {
        if client_id.is_empty() || client_id.len() > 255 {
            return Ok(None);
        }
        let client = self.catalog.client(self.store.conn(), ctx.realm.id, client_id).await?;
        Ok(client.filter(|c| c.enabled && c.protocol == Protocol::OpenIdConnect))
    }
}
