//! Latchkey's OpenID Connect provider.

pub mod jose;
pub mod keys;
