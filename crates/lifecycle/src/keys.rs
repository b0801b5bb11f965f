//! Realm signing keys: generated on first use, kept in the store, parsed once per node.
//!
//! Every realm has an active RS256 key (the default for ID and access tokens), an HS256 secret
//! for refresh tokens and SSO cookies, and an ES256 key when the realm signs with ES256.
//! Inactive keys stay published in `certs` and keep verifying until they are removed, so a
//! rotation never breaks a token in flight.
//!
//! The cache holds parsed keys only: key material is immutable per `kid`, so a stale entry can
//! at worst sign with a key that was just replaced (still valid) or miss a brand-new `kid`,
//! which forces a reload. It never decides whether a session is alive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use latchkey_domain::{Realm, RealmId, SigningAlgorithm, Timestamp};
use latchkey_store::keys::{self, StoredKey};
use latchkey_store::{Store, StoreError};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::jose::JoseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Es256,
    Hs256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::Hs256 => "HS256",
        }
    }

    fn parse(s: &str) -> Option<Alg> {
        [Alg::Rs256, Alg::Es256, Alg::Hs256].into_iter().find(|a| a.as_str() == s)
    }
}

impl From<SigningAlgorithm> for Alg {
    fn from(a: SigningAlgorithm) -> Self {
        match a {
            SigningAlgorithm::Rs256 => Alg::Rs256,
            SigningAlgorithm::Es256 => Alg::Es256,
        }
    }
}

pub(crate) enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Hmac(Box<hmac::Key>),
}

/// A private key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    material: KeyMaterial,
}

impl SigningKey {
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match &self.material {
            KeyMaterial::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| JoseError::Signing)?;
                Ok(signature)
            }
            KeyMaterial::Ec(pair) => Ok(pair.sign(&rng, message).map_err(|_| JoseError::Signing)?.as_ref().to_vec()),
            KeyMaterial::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }
}

enum Verifier {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Hmac(Box<hmac::Key>),
}

/// A key that checks signatures.
pub struct VerifyingKey {
    pub kid: String,
    pub alg: Alg,
    verifier: Verifier,
}

impl VerifyingKey {
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let ok = match &self.verifier {
            Verifier::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            Verifier::Ec(point) => signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok(),
            Verifier::Hmac(key) => hmac::verify(key, message, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(JoseError::BadSignature)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("stored key {kid} cannot be used: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("key generation failed: {0}")]
    Generation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn corrupt(kid: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Corrupt { kid: kid.to_owned(), reason: reason.into() }
}

/// Generates a new active key of `alg` for a realm, in the form the store keeps.
pub fn generate(alg: Alg, realm_id: RealmId, now: Timestamp) -> Result<StoredKey, KeyError> {
    let kid = B64.encode(&Uuid::new_v4().as_bytes()[..12]);
    let (private_key, public_key) = match alg {
        Alg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                .map_err(|e| KeyError::Generation(e.to_string()))?;
            let der = key.to_pkcs8_der().map_err(|e| KeyError::Generation(e.to_string()))?;
            let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": B64.encode(key.n().to_bytes_be()), "e": B64.encode(key.e().to_bytes_be())});
            (STANDARD.encode(der.as_bytes()), jwk.to_string())
        }
        Alg::Es256 => {
            let rng = SystemRandom::new();
            let der = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| KeyError::Generation(e.to_string()))?;
            let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref())
                .map_err(|e| KeyError::Generation(e.to_string()))?;
            let point = pair.public_key().as_ref();
            let jwk = json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
            (STANDARD.encode(der.as_ref()), jwk.to_string())
        }
        Alg::Hs256 => {
            let secret: [u8; 32] = rand::random();
            (STANDARD.encode(secret), String::new())
        }
    };
    Ok(StoredKey {
        kid,
        realm_id,
        algorithm: alg.as_str().to_owned(),
        private_key,
        public_key,
        active: true,
        created_at: now,
    })
}

/// Parses one stored key into a signing key (for tools and benchmarks; the provider goes
/// through [`KeyCache`]).
pub fn parse_signing_key(stored: &StoredKey) -> Result<SigningKey, KeyError> {
    let mut parsed = RealmKeys::parse(std::slice::from_ref(stored))?;
    let alg = Alg::parse(&stored.algorithm).ok_or_else(|| corrupt(&stored.kid, "unknown algorithm"))?;
    let key = parsed.signing.remove(&alg).ok_or_else(|| corrupt(&stored.kid, "not an active key"))?;
    Arc::try_unwrap(key).map_err(|_| corrupt(&stored.kid, "key is shared"))
}

/// One realm's keys, parsed.
pub struct RealmKeys {
    signing: HashMap<Alg, Arc<SigningKey>>,
    verifying: HashMap<String, VerifyingKey>,
    jwks: Value,
}

impl RealmKeys {
    fn parse(stored: &[StoredKey]) -> Result<Self, KeyError> {
        let mut signing = HashMap::new();
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for key in stored {
            let alg = Alg::parse(&key.algorithm).ok_or_else(|| corrupt(&key.kid, "unknown algorithm"))?;
            let der = STANDARD.decode(&key.private_key).map_err(|_| corrupt(&key.kid, "private key is not base64"))?;
            let (material, verifier) = match alg {
                Alg::Rs256 => {
                    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| corrupt(&key.kid, e.to_string()))?;
                    let jwk: Value =
                        serde_json::from_str(&key.public_key).map_err(|e| corrupt(&key.kid, e.to_string()))?;
                    let part = |name: &str| {
                        jwk[name].as_str().and_then(|v| B64.decode(v).ok()).ok_or_else(|| corrupt(&key.kid, "bad JWK"))
                    };
                    let verifier = Verifier::Rsa { n: part("n")?, e: part("e")? };
                    published.push(jwk);
                    (KeyMaterial::Rsa(pair), verifier)
                }
                Alg::Es256 => {
                    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                        .map_err(|e| corrupt(&key.kid, e.to_string()))?;
                    let verifier = Verifier::Ec(pair.public_key().as_ref().to_vec());
                    published
                        .push(serde_json::from_str(&key.public_key).map_err(|e| corrupt(&key.kid, e.to_string()))?);
                    (KeyMaterial::Ec(pair), verifier)
                }
                Alg::Hs256 => {
                    let key_bytes = hmac::Key::new(hmac::HMAC_SHA256, &der);
                    (KeyMaterial::Hmac(Box::new(key_bytes.clone())), Verifier::Hmac(Box::new(key_bytes)))
                }
            };
            verifying.insert(key.kid.clone(), VerifyingKey { kid: key.kid.clone(), alg, verifier });
            // Newest first: the first active key of an algorithm signs.
            if key.active && !signing.contains_key(&alg) {
                signing.insert(alg, Arc::new(SigningKey { kid: key.kid.clone(), alg, material }));
            }
        }
        Ok(RealmKeys { signing, verifying, jwks: json!({ "keys": published }) })
    }

    /// The active key of `alg`.
    pub fn signer(&self, alg: Alg) -> Option<&SigningKey> {
        self.signing.get(&alg).map(Arc::as_ref)
    }

    pub fn verifier(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }

    /// The JSON Web Key Set of the realm's public keys, active and retired.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// Parsed realm keys, per node.
pub struct KeyCache {
    entries: RwLock<HashMap<RealmId, (Arc<RealmKeys>, Instant)>>,
    ttl: Duration,
    /// Key ids a reload did not find, per realm, and when: a token naming one is refused
    /// without reading the store again (anyone can send a token with a made-up `kid`).
    unknown: Mutex<HashMap<(RealmId, String), Instant>>,
    /// When each realm was last reloaded for an unknown `kid`: at most once per
    /// [`UNKNOWN_KID_RELOAD_EVERY`], however many such tokens arrive.
    forced: Mutex<HashMap<RealmId, Instant>>,
    /// Reloads from the store, since start.
    reloads: AtomicU64,
    /// Held while this node creates keys a realm lacks.
    generating: tokio::sync::Mutex<()>,
}

/// How long a `kid` a reload did not find stays known as unknown.
const UNKNOWN_KID_TTL: Duration = Duration::from_secs(60);
/// At most this many unknown `kid`s are remembered; past it the memory starts over.
const UNKNOWN_KID_MAX: usize = 10_000;
/// The shortest interval between two reloads of one realm's keys for unknown `kid`s.
pub const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(1);

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache {
            entries: RwLock::default(),
            ttl: Duration::from_secs(60),
            unknown: Mutex::default(),
            forced: Mutex::default(),
            reloads: AtomicU64::new(0),
            generating: tokio::sync::Mutex::new(()),
        }
    }
}

impl KeyCache {
    /// The realm's keys, generating any it lacks (first use of a realm, or a realm that just
    /// switched to ES256).
    pub async fn get(&self, store: &Store, realm: &Realm) -> Result<Arc<RealmKeys>, KeyError> {
        if let Some((keys, at)) = self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&realm.id)
        {
            if at.elapsed() < self.ttl && keys.signer(realm.signature_algorithm.into()).is_some() {
                return Ok(keys.clone());
            }
        }
        self.reload(store, realm).await
    }

    /// The keys of a realm that should hold `kid`, which this node's copy lacks (a key added
    /// by another node): reloads them unless `kid` is known not to exist or the realm was
    /// reloaded for an unknown `kid` less than [`UNKNOWN_KID_RELOAD_EVERY`] ago. `None` means
    /// the token cannot be verified.
    pub async fn with_unknown_kid(&self, store: &Store, realm: &Realm, kid: &str) -> Option<Arc<RealmKeys>> {
        let key = (realm.id, kid.to_owned());
        if self
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .is_some_and(|at| at.elapsed() < UNKNOWN_KID_TTL)
        {
            return None;
        }
        {
            let mut forced = self.forced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if forced.get(&realm.id).is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD_EVERY) {
                return None;
            }
            forced.insert(realm.id, Instant::now());
        }
        let keys = self.reload(store, realm).await.ok()?;
        if keys.verifier(kid).is_none() {
            let mut unknown = self.unknown.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if unknown.len() >= UNKNOWN_KID_MAX {
                unknown.clear();
            }
            unknown.insert(key, Instant::now());
        }
        Some(keys)
    }

    /// How many times keys were read from the store since start.
    pub fn reload_count(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Reads the realm's keys from the store again.
    pub async fn reload(&self, store: &Store, realm: &Realm) -> Result<Arc<RealmKeys>, KeyError> {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let mut needed = vec![Alg::Rs256, Alg::Hs256];
        if !needed.contains(&realm.signature_algorithm.into()) {
            needed.push(realm.signature_algorithm.into());
        }
        let missing = |stored: &[StoredKey]| -> Vec<Alg> {
            needed
                .iter()
                .copied()
                .filter(|alg| !stored.iter().any(|k| k.active && k.algorithm == alg.as_str()))
                .collect()
        };
        let mut stored = keys::list(store.conn(), realm.id).await?;
        if !missing(&stored).is_empty() {
            // Many first requests to a new realm arrive at once: one makes the keys, on this
            // node (the mutex) and across nodes (the realm's row locked), the others read them.
            let _turn = self.generating.lock().await;
            let txn = store.begin().await?;
            keys::lock_realm(&txn, realm.id).await?;
            stored = keys::list(&txn, realm.id).await?;
            for alg in missing(&stored) {
                let key = generate(alg, realm.id, Timestamp::now())?;
                keys::insert(&txn, &key).await?;
                tracing::info!(realm = %realm.name, kid = %key.kid, alg = alg.as_str(), "generated a signing key");
            }
            txn.commit().await.map_err(StoreError::from)?;
            stored = keys::list(store.conn(), realm.id).await?;
        }
        let parsed = Arc::new(RealmKeys::parse(&stored)?);
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(realm.id, (parsed.clone(), Instant::now()));
        Ok(parsed)
    }

    /// Forgets a realm's keys (after a rotation on this node).
    /// Forgets every realm's keys (see [`crate::catalog`]).
    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// Adds a new active key of the realm's algorithm (and a new HMAC secret); the old ones stay
/// published and keep verifying until removed. Returns the new signing key's `kid`.
pub async fn rotate(store: &Store, realm: &Realm) -> Result<String, KeyError> {
    let txn = store.begin().await?;
    let key = generate(realm.signature_algorithm.into(), realm.id, Timestamp::now())?;
    keys::insert(&txn, &key).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(key.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose;

    fn realm_keys(algs: &[Alg]) -> RealmKeys {
        let stored: Vec<StoredKey> =
            algs.iter().map(|a| generate(*a, RealmId::new(), Timestamp::from_secs(1)).unwrap()).collect();
        RealmKeys::parse(&stored).unwrap()
    }

    #[test]
    fn every_algorithm_signs_and_verifies_and_rejects_tampering() {
        let keys = realm_keys(&[Alg::Rs256, Alg::Es256, Alg::Hs256]);
        for alg in [Alg::Rs256, Alg::Es256, Alg::Hs256] {
            let signer = keys.signer(alg).unwrap();
            let token = jose::sign(signer, "JWT", &json!({"sub": "alice"})).unwrap();
            let (header, claims): (_, Value) = jose::verify_with(&token, |kid| keys.verifier(kid)).unwrap();
            assert_eq!(header.alg, alg.as_str());
            assert_eq!(claims["sub"], "alice");

            let mut tampered = token.clone();
            tampered.replace_range(token.find('.').unwrap() + 2..token.find('.').unwrap() + 3, "A");
            let result: Result<(_, Value), _> = jose::verify_with(&tampered, |kid| keys.verifier(kid));
            assert!(result.is_err(), "{alg:?} accepted a tampered token");
        }
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2, "HMAC secrets are never published");
    }

    #[test]
    fn a_token_names_its_key_and_other_keys_do_not_verify_it() {
        let a = realm_keys(&[Alg::Rs256]);
        let b = realm_keys(&[Alg::Rs256]);
        let token = jose::sign(a.signer(Alg::Rs256).unwrap(), "JWT", &json!({})).unwrap();
        let foreign: Result<(_, Value), _> = jose::verify_with(&token, |kid| b.verifier(kid));
        assert_eq!(foreign.unwrap_err(), JoseError::UnknownKey);
        let b_key = b.verifier(&b.signer(Alg::Rs256).unwrap().kid).unwrap();
        assert_eq!(jose::parse(&token).unwrap().verify::<Value>(b_key).unwrap_err(), JoseError::BadSignature);
    }

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OIDC Core A.3: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" → at_hash "77QmUPtjPfzWtF2AnpK9RQ"
        assert_eq!(jose::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
