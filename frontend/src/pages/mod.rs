//! The console's pages, one per route (`components::shell` has the routes).

mod client_sessions;
mod clients;
mod realm_settings;
mod sessions;
mod user_sessions;
mod users;

pub use client_sessions::ClientSessionsPage;
pub use clients::ClientsPage;
pub use realm_settings::RealmSettingsPage;
pub use sessions::SessionsPage;
pub use user_sessions::UserSessionsPage;
pub use users::UsersPage;
