//! A session's life, in one place: the application state every face of the server shares
//! (store, signing keys, settings, hashing slots), signing in and the liveness of a session,
//! judging a presented token against live state, and every way a session ends — one ending
//! step, logout-all, revocation push — with the notifier that tells applications and the
//! reaper that clears what has ended.
//!
//! The OpenID Connect endpoints (`latchkey-oidc`) and the admin API (`latchkey-admin`) both
//! stand on this crate and not on each other.

pub mod audit;
pub mod catalog;
pub mod ending;
pub mod error;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod notifier;
pub mod reaper;
pub mod signin;
pub mod state;
pub mod tokens;

pub use error::LifecycleError;
pub use state::{constant_time_eq, random_token, sha256, Lifecycle, RealmCtx, Settings};
