//! Realms: the unit of administration, with the session limits every session in it obeys.

use crate::{DomainError, RealmId, Timestamp};

/// The master realm's name; its administrators manage every realm.
pub const MASTER_REALM: &str = "master";

/// How long sessions of a realm may live, in seconds (Keycloak's realm settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// `ssoSessionIdleTimeout`: a regular session dies this long after its last access.
    pub sso_idle: i64,
    /// `ssoSessionMaxLifespan`: a regular session dies this long after it started.
    pub sso_max: i64,
    /// `ssoSessionIdleTimeoutRememberMe`: replaces `sso_idle` for remember-me sessions when > 0.
    pub sso_idle_remember_me: i64,
    /// `ssoSessionMaxLifespanRememberMe`: replaces `sso_max` for remember-me sessions when > 0.
    pub sso_max_remember_me: i64,
    /// `offlineSessionIdleTimeout`: an offline session dies this long after its last use.
    pub offline_idle: i64,
    /// `offlineSessionMaxLifespanEnabled`: whether `offline_max` applies at all.
    pub offline_max_enabled: bool,
    /// `offlineSessionMaxLifespan`.
    pub offline_max: i64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            sso_idle: 30 * 60,
            sso_max: 10 * 60 * 60,
            sso_idle_remember_me: 0,
            sso_max_remember_me: 0,
            offline_idle: 30 * 24 * 60 * 60,
            offline_max_enabled: false,
            offline_max: 60 * 24 * 60 * 60,
        }
    }
}

/// The longest any session timeout or lifespan may be: ten years. Bounded so that no
/// `start + lifespan` can overflow, and no typo makes a session immortal.
pub const MAX_SESSION_SECS: i64 = 10 * 365 * 24 * 60 * 60;
/// The longest an access token may live: one day (access tokens cannot be refreshed away).
pub const MAX_ACCESS_TOKEN_SECS: i64 = 24 * 60 * 60;

/// Checks `accessTokenLifespan`.
pub fn validate_access_token_lifespan(secs: i64) -> Result<(), DomainError> {
    if !(1..=MAX_ACCESS_TOKEN_SECS).contains(&secs) {
        return Err(DomainError::invalid(
            "accessTokenLifespan",
            format!("must be between 1 and {MAX_ACCESS_TOKEN_SECS} seconds"),
        ));
    }
    Ok(())
}

impl SessionLimits {
    pub fn validate(&self) -> Result<(), DomainError> {
        let positive = [
            ("ssoSessionIdleTimeout", self.sso_idle),
            ("ssoSessionMaxLifespan", self.sso_max),
            ("offlineSessionIdleTimeout", self.offline_idle),
            ("offlineSessionMaxLifespan", self.offline_max),
        ];
        for (field, value) in positive {
            if !(1..=MAX_SESSION_SECS).contains(&value) {
                return Err(DomainError::invalid(field, format!("must be between 1 and {MAX_SESSION_SECS} seconds")));
            }
        }
        for (field, value) in [
            ("ssoSessionIdleTimeoutRememberMe", self.sso_idle_remember_me),
            ("ssoSessionMaxLifespanRememberMe", self.sso_max_remember_me),
        ] {
            if !(0..=MAX_SESSION_SECS).contains(&value) {
                return Err(DomainError::invalid(
                    field,
                    format!("must be zero (unset) or a number of seconds up to {MAX_SESSION_SECS}"),
                ));
            }
        }
        Ok(())
    }
}

/// How a realm signs its tokens. RS256 is the default, as every client understands it;
/// ES256 signs an order of magnitude faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    Rs256,
    Es256,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
        }
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(SigningAlgorithm::Rs256),
            "ES256" => Ok(SigningAlgorithm::Es256),
            other => {
                Err(DomainError::invalid("defaultSignatureAlgorithm", format!("'{other}' is not one of RS256, ES256")))
            }
        }
    }
}

/// A realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    pub id: RealmId,
    pub name: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    /// The editable revocation policy (`notBefore`), epoch seconds; 0 means none.
    pub not_before: i64,
    /// Sessions that started at or before this instant are dead (set by logout-all). Unlike
    /// `not_before` it is never cleared by an administrator, so no ended session comes back.
    pub session_cutoff: Timestamp,
    pub limits: SessionLimits,
    /// `accessTokenLifespan`, seconds.
    pub access_token_lifespan: i64,
    /// `defaultSignatureAlgorithm` of access and ID tokens.
    pub signature_algorithm: SigningAlgorithm,
    /// `rememberMe`: whether the sign-in page offers "Remember me" (a persistent SSO cookie and
    /// the remember-me limits). Off for a new realm, as in Keycloak.
    pub remember_me: bool,
    pub created_at: Timestamp,
}

impl Realm {
    pub const DEFAULT_ACCESS_TOKEN_LIFESPAN: i64 = 5 * 60;

    /// A new enabled realm with Keycloak's default limits.
    pub fn new(name: &str, now: Timestamp) -> Result<Self, DomainError> {
        validate_realm_name(name)?;
        Ok(Realm {
            id: RealmId::new(),
            name: name.to_owned(),
            display_name: None,
            enabled: true,
            not_before: 0,
            session_cutoff: Timestamp::EPOCH,
            limits: SessionLimits::default(),
            access_token_lifespan: Self::DEFAULT_ACCESS_TOKEN_LIFESPAN,
            signature_algorithm: SigningAlgorithm::Rs256,
            remember_me: false,
            created_at: now,
        })
    }

    pub fn is_master(&self) -> bool {
        self.name == MASTER_REALM
    }
}

/// Realm names appear in every URL, so they are limited to letters, digits, `-`, `_` and `.`.
pub fn validate_realm_name(name: &str) -> Result<(), DomainError> {
    crate::error::check_name("realm", name, 255)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(DomainError::invalid("realm", "may contain only letters, digits, '-', '_' and '.'"));
    }
    if name == "." || name == ".." {
        return Err(DomainError::invalid("realm", "must not be '.' or '..'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_keycloaks() {
        let realm = Realm::new("demo", Timestamp::from_secs(1)).unwrap();
        assert_eq!(realm.limits.sso_idle, 1800);
        assert_eq!(realm.limits.sso_max, 36000);
        assert_eq!(realm.limits.offline_idle, 2_592_000);
        assert_eq!(realm.access_token_lifespan, 300);
        assert_eq!(realm.not_before, 0);
        assert!(realm.enabled && !realm.is_master());
    }

    #[test]
    fn realm_names_are_url_safe() {
        for good in ["master", "acme-prod", "a.b_c", "R2"] {
            assert!(validate_realm_name(good).is_ok(), "{good}");
        }
        for bad in ["", " x", "a/b", "a b", "..", "ä", &"x".repeat(256)] {
            assert!(validate_realm_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_must_be_positive() {
        let mut limits = SessionLimits::default();
        assert!(limits.validate().is_ok());
        limits.sso_idle = 0;
        let err = limits.validate().unwrap_err().to_string();
        assert!(err.contains("ssoSessionIdleTimeout"), "{err}");
        limits = SessionLimits { sso_max_remember_me: -1, ..SessionLimits::default() };
        assert!(limits.validate().is_err());
        limits = SessionLimits { offline_max: i64::MAX, ..SessionLimits::default() };
        assert!(limits.validate().is_err(), "bounded above: no overflow from start + lifespan");
        assert!(validate_access_token_lifespan(i64::MAX).is_err());
        assert!(validate_access_token_lifespan(0).is_err());
        assert!(validate_access_token_lifespan(300).is_ok());
    }
}
