//! What the signed-in administrator may see and do in a realm, from the roles it holds there.
//! The server decides; the console only leaves out what would be refused.

use crate::api::WhoAmI;

/// The roles the administrator holds in `realm`.
pub fn roles_in(me: &WhoAmI, realm: &str) -> Vec<String> {
    me.realm_access.get(realm).cloned().unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Can {
    pub view_realm: bool,
    pub view_users: bool,
    pub view_clients: bool,
    pub manage_users: bool,
    pub manage_realm: bool,
}

impl Can {
    pub fn of(me: &WhoAmI, realm: &str) -> Self {
        let roles = roles_in(me, realm);
        let has = |r: &str| roles.iter().any(|held| held == r);
        Can {
            view_realm: has("view-realm"),
            view_users: has("view-users"),
            view_clients: has("view-clients"),
            manage_users: has("manage-users"),
            manage_realm: has("manage-realm"),
        }
    }
}
