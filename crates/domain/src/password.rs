//! Passwords and client secrets: hashed with argon2id, never printed.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};

use crate::DomainError;

/// A secret in clear (a password or client secret on its way in). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// A fresh random secret of 32 alphanumeric characters, for confidential clients.
    pub fn generate() -> Self {
        Secret(Alphanumeric.sample_string(&mut rand::thread_rng(), 32))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hashes the secret with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane).
    pub fn hash(&self) -> Result<PasswordHash, DomainError> {
        if self.0.is_empty() {
            return Err(DomainError::invalid("password", "must not be empty"));
        }
        if self.0.chars().count() > 1024 {
            return Err(DomainError::invalid("password", "must be at most 1024 characters"));
        }
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map_err(|e| DomainError::Hashing(e.to_string()))?;
        Ok(PasswordHash(hash.to_string()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An argon2id hash in PHC string form, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a stored PHC string.
    pub fn from_phc(phc: impl Into<String>) -> Self {
        PasswordHash(phc.into())
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// True when `candidate` is the secret this hash was made from.
    pub fn verify(&self, candidate: &Secret) -> bool {
        match argon2::PasswordHash::new(&self.0) {
            Ok(parsed) => Argon2::default().verify_password(candidate.expose().as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_and_verifies_only_the_same_secret() {
        let hash = Secret::new("correct horse").hash().unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$"));
        assert!(hash.verify(&Secret::new("correct horse")));
        assert!(!hash.verify(&Secret::new("Correct horse")));
        assert!(!PasswordHash::from_phc("not a hash").verify(&Secret::new("x")));
    }

    #[test]
    fn same_secret_hashes_differently_each_time() {
        let s = Secret::new("pw");
        assert_ne!(s.hash().unwrap().as_phc(), s.hash().unwrap().as_phc());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", s.hash().unwrap()).contains("argon2"));
        assert_eq!(Secret::generate().expose().len(), 32);
        assert!(Secret::new("").hash().is_err());
    }
}
