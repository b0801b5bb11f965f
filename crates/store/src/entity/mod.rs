//! sea-orm entities, one per table. Conversions to and from domain types live in
//! `crate::convert`, so the rest of the server never sees these.

pub mod admin_event;
pub mod auth_code;
pub mod client;
pub mod client_session;
pub mod login_failure;
pub mod outbox;
pub mod realm;
pub mod role_grant;
pub mod session_job;
pub mod signing_key;
pub mod user;
pub mod user_session;
