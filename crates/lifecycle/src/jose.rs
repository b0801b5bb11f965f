//! Compact JWS: the three-part signed tokens OpenID Connect speaks. Signing and verification go
//! through `aws-lc-rs` (RSA PKCS#1 v1.5 / SHA-256, ECDSA P-256 / SHA-256, HMAC-SHA-256), which signs
//! RS256 in OpenSSL's range — several times faster than RustCrypto's `rsa` crate.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::{SigningKey, VerifyingKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature")]
    BadSignature,
    #[error("signing failed")]
    Signing,
}

/// Signs `claims` with `key`, naming the key's `kid` in the header.
pub fn sign(key: &SigningKey, typ: &str, claims: &impl Serialize) -> Result<String, JoseError> {
    let header = Header { alg: key.alg.as_str().to_owned(), kid: Some(key.kid.clone()), typ: Some(typ.to_owned()) };
    let header = B64.encode(serde_json::to_vec(&header).map_err(|_| JoseError::Signing)?);
    let payload = B64.encode(serde_json::to_vec(claims).map_err(|_| JoseError::Signing)?);
    let signing_input = format!("{header}.{payload}");
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", B64.encode(signature)))
}

/// The three parts of a compact JWS, decoded but not yet trusted.
pub struct Unverified<'a> {
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Unverified<'_>, JoseError> {
    if token.len() > 16 * 1024 {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed);
    };
    let header: Header =
        serde_json::from_slice(&B64.decode(h).map_err(|_| JoseError::Malformed)?).map_err(|_| JoseError::Malformed)?;
    Ok(Unverified {
        header,
        signing_input: &token[..h.len() + 1 + p.len()],
        payload: B64.decode(p).map_err(|_| JoseError::Malformed)?,
        signature: B64.decode(s).map_err(|_| JoseError::Malformed)?,
    })
}

impl Unverified<'_> {
    /// Checks the signature with `key` (whose algorithm must be the header's) and returns the claims.
    pub fn verify<T: DeserializeOwned>(&self, key: &VerifyingKey) -> Result<T, JoseError> {
        if key.alg.as_str() != self.header.alg {
            return Err(JoseError::BadSignature);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)?;
        serde_json::from_slice(&self.payload).map_err(|_| JoseError::Malformed)
    }
}

/// The claims of a token, unverified: only for choosing which realm will verify it.
pub fn peek_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

/// Verifies with whichever of `keys` the header's `kid` names.
pub fn verify_with<'k, T: DeserializeOwned>(
    token: &str,
    find: impl FnOnce(&str) -> Option<&'k VerifyingKey>,
) -> Result<(Header, T), JoseError> {
    let unverified = parse(token)?;
    let kid = unverified.header.kid.as_deref().ok_or(JoseError::UnknownKey)?;
    let key = find(kid).ok_or(JoseError::UnknownKey)?;
    let claims = unverified.verify(key)?;
    Ok((unverified.header, claims))
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url (OIDC Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    B64.encode(&digest.as_ref()[..16])
}
