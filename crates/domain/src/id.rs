//! Ids as types: a realm's id cannot be passed where a session's is meant. Each wraps a UUID,
//! parses from and prints as its text, and is stored as the UUID it wraps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id (UUID v4): it reveals nothing and cannot be guessed.
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                $name(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )*};
}

ids! {
    /// A realm's id (not its name, which is what paths carry).
    RealmId,
    /// A user's id: the `sub` of their tokens.
    UserId,
    /// A client's internal id (not its `clientId`, the name applications use).
    ClientId,
    /// A user session's id (regular or offline): the `sid` and `session_state` of its tokens.
    SessionId,
}

/// The namespace of the row keys of offline sessions (see [`SessionId::offline_of`]).
const OFFLINE_SESSIONS: Uuid = Uuid::from_u128(0x6c61_7463_686b_4f66_8066_6c69_6e65_0001);

impl SessionId {
    /// The row key of the offline session started by the sign-in `origin`. As in Keycloak, an
    /// offline session is known to the world by the id of the session that started it (its
    /// tokens' `sid`, the admin API's `id`, told apart by `isOffline`); both rows live side by
    /// side, so the offline one is stored under a key derived from that id (UUID v5), which
    /// every lookup by `(id, offline)` computes without an index.
    pub fn offline_of(origin: SessionId) -> SessionId {
        SessionId(Uuid::new_v5(&OFFLINE_SESSIONS, origin.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_print_and_serialize_as_their_uuid() {
        let id = SessionId::new();
        assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(id.as_uuid().to_string()));
        assert!("not-a-uuid".parse::<SessionId>().is_err());
        assert_ne!(SessionId::new(), id);
        assert_eq!(SessionId::offline_of(id), SessionId::offline_of(id), "derived, so found again");
        assert_ne!(SessionId::offline_of(id), id);
        assert_ne!(SessionId::offline_of(id), SessionId::offline_of(SessionId::new()));
        // Each kind keeps its own type around the same UUID.
        let realm = RealmId::from_uuid(id.as_uuid());
        assert_eq!(realm.to_string(), id.to_string());
        assert_eq!(Uuid::from(realm), id.as_uuid());
    }
}
