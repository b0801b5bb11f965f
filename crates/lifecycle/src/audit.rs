//! Admin events: who did what to which resource of a realm, and when. Each is written in the
//! transaction of the change it records, so a change is never without its record nor a record
//! without its change; one action, one event (a session ending records itself, see
//! [`crate::ending`]).

use latchkey_domain::{RealmId, Timestamp, UserId};
use latchkey_store::events::{self, AdminEvent};
use latchkey_store::{ConnectionTrait, StoreError};
use serde_json::Value;
use uuid::Uuid;

/// What kind of change, as Keycloak's `OperationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Action,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Action => "ACTION",
        }
    }
}

/// What was changed, as Keycloak's `ResourceType` (those Latchkey has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Realm,
    User,
    Client,
    UserSession,
    AdminRoles,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Realm => "REALM",
            Resource::User => "USER",
            Resource::Client => "CLIENT",
            Resource::UserSession => "USER_SESSION",
            Resource::AdminRoles => "ADMIN_ROLES",
        }
    }
}

/// The administrator acting (none when the person, an application or the server itself acts).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub realm_id: Option<RealmId>,
    pub client_id: Option<String>,
    pub user_id: Option<UserId>,
    pub ip: Option<String>,
}

impl Actor {
    /// Names this actor in an event.
    pub fn sign(&self, event: &mut AdminEvent) {
        event.auth_realm_id = self.realm_id;
        event.auth_client_id = self.client_id.clone();
        event.auth_user_id = self.user_id;
        event.ip_address = self.ip.clone();
    }
}

/// Fields never written to the log.
const SECRET_FIELDS: &[&str] = &["secret", "credentials", "password", "value"];

/// A representation with every secret field removed (at the top level, where requests put them).
pub fn redact(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        for field in SECRET_FIELDS {
            map.remove(*field);
        }
    }
    value
}

/// An administrator's change, to be recorded with it.
#[derive(Debug, Clone)]
pub struct AdminAction {
    pub actor: Actor,
    pub operation: Operation,
    pub resource: Resource,
    /// The path below the realm, as `users/{id}` (empty for the realm itself).
    pub path: String,
    /// What was sent, secrets removed when the event is made.
    pub representation: Option<Value>,
}

/// An event no administrator signed (the server's own doing, until [`Actor::sign`]).
pub(crate) fn unsigned(
    realm_id: RealmId,
    operation: Operation,
    resource: Resource,
    path: String,
    representation: Option<String>,
    now: Timestamp,
) -> AdminEvent {
    AdminEvent {
        id: Uuid::now_v7(),
        time: now,
        realm_id,
        auth_realm_id: None,
        auth_client_id: None,
        auth_user_id: None,
        ip_address: None,
        operation_type: operation.as_str().to_owned(),
        resource_type: resource.as_str().to_owned(),
        resource_path: path,
        representation,
        error: None,
    }
}

impl AdminAction {
    /// This action with what was sent (secrets are removed when it is recorded).
    pub fn sent(self, value: &impl serde::Serialize) -> Self {
        AdminAction { representation: serde_json::to_value(value).ok(), ..self }
    }

    /// The event of this action in `realm_id`.
    pub fn event(&self, realm_id: RealmId, now: Timestamp) -> AdminEvent {
        let representation = self.representation.clone().map(|r| redact(r).to_string());
        let mut event = unsigned(realm_id, self.operation, self.resource, self.path.clone(), representation, now);
        self.actor.sign(&mut event);
        event
    }

    /// Writes this action's event inside the caller's transaction.
    pub async fn record_in(
        &self,
        db: &impl ConnectionTrait,
        realm_id: RealmId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        events::insert_many(db, &[self.event(realm_id, now)]).await
    }
}

/// Writes the event of `action`, when there is one, inside the caller's transaction.
pub async fn record_in(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    action: Option<&AdminAction>,
    now: Timestamp,
) -> Result<(), StoreError> {
    match action {
        Some(action) => action.record_in(db, realm_id, now).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_actor_and_never_hold_secrets() {
        let actor = Actor { client_id: Some("admin-cli".into()), ip: Some("10.0.0.1".into()), ..Default::default() };
        let action = AdminAction {
            actor,
            operation: Operation::Create,
            resource: Resource::User,
            path: "users/1".into(),
            representation: Some(serde_json::json!({"username": "ann", "credentials": [{"value": "pw"}]})),
        };
        let event = action.event(RealmId::new(), Timestamp::from_secs(1));
        assert_eq!((event.operation_type.as_str(), event.resource_type.as_str()), ("CREATE", "USER"));
        assert_eq!(event.auth_client_id.as_deref(), Some("admin-cli"));
        assert_eq!(event.representation.as_deref(), Some(r#"{"username":"ann"}"#));
    }
}
