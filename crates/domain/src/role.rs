//! The administrative roles, as Keycloak names them.

use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// A role that lets a user administer a realm. A grant to a user of realm R applies to R;
/// [`AdminRole::Admin`] is granted in the master realm only and applies to every realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminRole {
    Admin,
    RealmAdmin,
    ViewUsers,
    ManageUsers,
    ViewClients,
    ManageClients,
    ViewRealm,
    ManageRealm,
}

impl AdminRole {
    pub const ALL: [AdminRole; 8] = [
        AdminRole::Admin,
        AdminRole::RealmAdmin,
        AdminRole::ViewUsers,
        AdminRole::ManageUsers,
        AdminRole::ViewClients,
        AdminRole::ManageClients,
        AdminRole::ViewRealm,
        AdminRole::ManageRealm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::RealmAdmin => "realm-admin",
            AdminRole::ViewUsers => "view-users",
            AdminRole::ManageUsers => "manage-users",
            AdminRole::ViewClients => "view-clients",
            AdminRole::ManageClients => "manage-clients",
            AdminRole::ViewRealm => "view-realm",
            AdminRole::ManageRealm => "manage-realm",
        }
    }

    /// True when holding `self` is enough for an operation that needs `needed`:
    /// `admin` and `realm-admin` include every role, a `manage-x` role includes `view-x`.
    pub fn satisfies(self, needed: AdminRole) -> bool {
        use AdminRole::*;
        match self {
            Admin => true,
            RealmAdmin => needed != Admin,
            ManageUsers => matches!(needed, ManageUsers | ViewUsers),
            ManageClients => matches!(needed, ManageClients | ViewClients),
            ManageRealm => matches!(needed, ManageRealm | ViewRealm),
            view => view == needed,
        }
    }
}

impl fmt::Display for AdminRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdminRole {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", format!("unknown role '{s}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::AdminRole::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in AdminRole::ALL {
            assert_eq!(role.as_str().parse::<AdminRole>().unwrap(), role);
        }
        assert!("superuser".parse::<AdminRole>().is_err());
    }

    #[test]
    fn manage_includes_view_but_not_the_reverse() {
        assert!(ManageUsers.satisfies(ViewUsers));
        assert!(!ViewUsers.satisfies(ManageUsers));
        assert!(!ManageUsers.satisfies(ViewClients));
        assert!(RealmAdmin.satisfies(ManageRealm));
        assert!(!RealmAdmin.satisfies(Admin));
        assert!(Admin.satisfies(Admin));
    }
}
