/// Why a domain value was refused. Every message names the field and says what was wrong, so
/// the HTTP layer can pass it on as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid { field, reason: reason.into() }
    }
}

/// Checks a required name: not blank, no surrounding whitespace, no control characters,
/// at most `max` characters.
pub(crate) fn check_name(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(DomainError::invalid(field, "must not start or end with whitespace"));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(())
}
