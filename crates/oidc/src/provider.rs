//! The provider's shared state and the per-request context every endpoint starts from.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use actix_web::{http::header, web, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use latchkey_domain::{Client, ClientKind, PasswordHash, Realm, Secret};
use latchkey_store::{clients, realms, Store};
use uuid::Uuid;

use crate::error::OAuthError;
use crate::keys::{KeyCache, RealmKeys};

/// Settings of the provider, from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    /// The URL clients reach the server at, without a trailing slash. Without it, the issuer
    /// is built from the `Host` of each request (so it matches the URL the client used).
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// The server's own URL, for the issuer of messages sent outside any request (logout
    /// tokens) when no public URL is configured.
    pub bound_url: String,
}

impl ProviderConfig {
    /// The base of the issuer of notifications: the public URL, else the bound address.
    pub fn base_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or(&self.bound_url)
    }
}

/// The provider, shared by every worker.
pub struct Provider {
    pub store: Store,
    pub keys: KeyCache,
    pub config: ProviderConfig,
    /// Verified against for unknown usernames, so they take as long as wrong passwords.
    pub(crate) dummy_hash: PasswordHash,
    secrets: SecretCache,
    /// This node's name in outbox claims.
    pub(crate) node: String,
    pub(crate) wake_notifier: tokio::sync::Notify,
    pub(crate) wake_reaper: tokio::sync::Notify,
}

/// How long an authorization code lives, seconds.
pub const CODE_LIFETIME_SECS: i64 = 60;
/// `last_access` is written at most once per this many milliseconds per session.
pub const TOUCH_GRANULARITY_MS: i64 = 60_000;

impl Provider {
    pub fn new(store: Store, config: ProviderConfig) -> Self {
        let dummy_hash = Secret::new(format!("dummy-{}", Uuid::new_v4())).hash().expect("hashing a dummy password");
        Provider {
            store,
            keys: KeyCache::default(),
            config,
            dummy_hash,
            secrets: SecretCache::default(),
            node: format!("node-{}", Uuid::new_v4().simple()),
            wake_notifier: tokio::sync::Notify::new(),
            wake_reaper: tokio::sync::Notify::new(),
        }
    }

    /// The address the request came from: the peer, or — when the peer is a trusted proxy —
    /// the right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, req: &HttpRequest) -> String {
        let peer = req.peer_addr().map(|a| a.ip());
        let Some(peer) = peer else { return "unknown".into() };
        if !self.config.trusted_proxies.contains(&peer) {
            return peer.to_string();
        }
        let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
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

    /// `{base}/realms/{realm}`: the issuer, from the configured public URL or the request's Host.
    pub fn issuer(&self, req: &HttpRequest, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base_url(req))
    }

    /// The server's URL as this request reached it: the configured public URL, or the Host.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        match &self.config.public_url {
            Some(url) => url.clone(),
            None => {
                let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
                let scheme = if req.app_config().secure() { "https" } else { "http" };
                format!("{scheme}://{host}")
            }
        }
    }

    /// Checks a confidential client's secret. argon2id is deliberately slow, so a secret
    /// verified once is remembered (as its SHA-256, beside the hash it matched) and later
    /// checks cost a digest; changing the stored hash invalidates the entry.
    pub async fn verify_client_secret(&self, client: &Client, candidate: &str) -> bool {
        let ClientKind::Confidential { secret } = &client.kind else { return false };
        let digest = sha256(candidate.as_bytes());
        if self.secrets.matches(client.id, secret.as_phc(), &digest) {
            return true;
        }
        let (hash, given) = (secret.clone(), Secret::new(candidate));
        let ok = web::block(move || hash.verify(&given)).await.unwrap_or(false);
        if ok {
            self.secrets.remember(client.id, secret.as_phc(), digest);
        }
        ok
    }
}

#[derive(Default)]
struct SecretCache(RwLock<HashMap<Uuid, (String, [u8; 32])>>);

impl SecretCache {
    fn matches(&self, client: Uuid, phc: &str, digest: &[u8; 32]) -> bool {
        let entries = self.0.read().expect("secret cache lock");
        entries.get(&client).is_some_and(|(known_phc, known)| known_phc == phc && constant_time_eq(known, digest))
    }

    fn remember(&self, client: Uuid, phc: &str, digest: [u8; 32]) {
        self.0.write().expect("secret cache lock").insert(client, (phc.to_owned(), digest));
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

impl Provider {
    /// Loads the realm named in the path; an unknown or disabled realm is a 404.
    pub async fn realm_ctx(&self, req: &HttpRequest, name: &str) -> Result<RealmCtx, OAuthError> {
        let realm = realms::find_by_name(self.store.conn(), name).await?;
        let realm = realm.filter(|r| r.enabled).ok_or_else(OAuthError::realm_not_found)?;
        let keys = self.keys.get(&self.store, &realm).await?;
        Ok(RealmCtx { issuer: self.issuer(req, &realm.name), realm, keys })
    }

    /// The enabled client `client_id` of the realm.
    pub async fn find_client(&self, ctx: &RealmCtx, client_id: &str) -> Result<Option<Client>, OAuthError> {
        if client_id.is_empty() || client_id.len() > 255 {
            return Ok(None);
        }
        let client = clients::find_by_client_id(self.store.conn(), ctx.realm.id, client_id).await?;
        Ok(client.filter(|c| c.enabled))
    }
}
