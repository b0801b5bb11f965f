//! Users of a realm.

use crate::{ClientId, DomainError, PasswordHash, RealmId, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub realm_id: RealmId,
    /// Always lower case: usernames are unique per realm regardless of case, as in Keycloak.
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub enabled: bool,
    pub password: Option<PasswordHash>,
    /// Revocation policy for this user's sessions and tokens, epoch seconds; 0 means none.
    pub not_before: i64,
    /// The client whose service account this user is, if any.
    pub service_account_of: Option<ClientId>,
    pub created_at: Timestamp,
}

impl User {
    /// A new enabled user with no password, its username normalized.
    pub fn new(realm_id: RealmId, username: &str, now: Timestamp) -> Result<Self, DomainError> {
        Ok(User {
            id: UserId::new(),
            realm_id,
            username: normalize_username(username)?,
            email: None,
            email_verified: false,
            first_name: None,
            last_name: None,
            enabled: true,
            password: None,
            not_before: 0,
            service_account_of: None,
            created_at: now,
        })
    }

    pub fn with_email(mut self, email: &str) -> Result<Self, DomainError> {
        self.email = Some(normalize_email(email)?);
        Ok(self)
    }
}

/// Lower-cases a username after checking it is a sensible one.
pub fn normalize_username(username: &str) -> Result<String, DomainError> {
    crate::error::check_name("username", username, 255)?;
    Ok(username.to_lowercase())
}

/// Checks the shape of an email address (one `@`, something on each side, no spaces) and
/// lower-cases it.
pub fn normalize_email(email: &str) -> Result<String, DomainError> {
    crate::error::check_name("email", email, 320)?;
    let mut parts = email.split('@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next());
    let ok = !local.is_empty()
        && domain.is_some_and(|d| !d.is_empty() && !d.starts_with('.') && !d.ends_with('.'))
        && parts.next().is_none()
        && !email.contains(char::is_whitespace);
    if !ok {
        return Err(DomainError::invalid("email", format!("'{email}' is not an email address")));
    }
    Ok(email.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_checked() {
        assert_eq!(normalize_username("Alice").unwrap(), "alice");
        assert!(normalize_username("").is_err());
        assert!(normalize_username(" bob").is_err());
        assert!(normalize_username("a\u{7}b").is_err());
        assert!(normalize_username(&"x".repeat(256)).is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(normalize_email("Alice@Example.com").unwrap(), "alice@example.com");
        for bad in ["alice", "@x.org", "a@", "a@b@c", "a b@c.d", "a@.x"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_user_is_enabled_without_password() {
        let user = User::new(RealmId::new(), "Carol", Timestamp::from_secs(5)).unwrap();
        assert_eq!(user.username, "carol");
        assert!(user.enabled && user.password.is_none() && user.not_before == 0);
    }
}
