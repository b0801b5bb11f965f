//! Latchkey's domain: the things an identity server keeps (realms, clients, users, sessions)
//! and the rules on them, with no web or database types.
//!
//! The rule that matters most lives in [`session`]: whether a session is alive at a given
//! instant, judged from its own timestamps, its realm's limits and the not-before cut-offs of
//! its realm, user and client.

pub mod client;
pub mod ending;
pub mod error;
pub mod id;
pub mod password;
pub mod realm;
pub mod role;
pub mod session;
pub mod time;
pub mod uri;
pub mod user;

pub use client::{Client, ClientKind, Protocol};
pub use error::DomainError;
pub use id::{ClientId, RealmId, SessionId, UserId};
pub use password::{PasswordHash, Secret};
pub use realm::{Realm, SessionLimits, SigningAlgorithm};
pub use role::AdminRole;
pub use session::{ClientSession, Cutoffs, Death, Liveness, SessionEnd, SessionState, SessionType, UserSession, Which};
pub use time::Timestamp;
pub use user::User;
