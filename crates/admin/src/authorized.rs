//! What every admin handler starts from, as an extractor argument: the administrator calling,
//! allowed the role its type names in the realm the path names — `at: InRealm<ManageUsers>` —
//! with the target of the path (`{id}`) found on request. A handler then parses its input,
//! makes one call and shapes the answer; the opening checks are written once, here.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use latchkey_domain::{AdminRole, Client, Realm, Timestamp, User};
use latchkey_lifecycle::audit::{AdminAction, Operation, Resource};
use latchkey_lifecycle::Lifecycle;
use latchkey_store::{users, ConnectionTrait, DatabaseTransaction, StoreError};

use crate::auth::{authenticate, Admin};
use crate::error::ApiError;

/// A realm-management role, as a type an extractor can require.
pub trait Role {
    const ROLE: AdminRole;
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub enum $name {}
        impl Role for $name {
            const ROLE: AdminRole = AdminRole::$name;
        }
    )*};
}

roles! {
    /// `view-realm`: the realm's settings, sessions and events.
    ViewRealm,
    /// `manage-realm`: the realm's settings, revocation.
    ManageRealm,
    /// `view-users`: users and their sessions.
    ViewUsers,
    /// `manage-users`: users and ending sessions.
    ManageUsers,
    /// `view-clients`: clients and their sessions.
    ViewClients,
    /// `manage-clients`: clients.
    ManageClients,
    /// `realm-admin`: everything in the realm, granting roles.
    RealmAdmin,
}

type Pending<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// The administrator calling (found once per request, see [`authenticate`]).
async fn caller(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let life = req
        .app_data::<web::Data<Lifecycle>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no lifecycle state".into()))?;
    let admin = authenticate(&life, req).await?;
    Ok(Authenticated { admin, life })
}

/// Any authenticated administrator, for calls not aimed at one realm.
pub struct Authenticated {
    pub admin: Admin,
    pub life: web::Data<Lifecycle>,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pending<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller(&req).await })
    }
}

/// An administrator allowed `R` in the realm named `{realm}` in the path (403 otherwise; 404
/// for a realm the master `admin` names that does not exist).
pub struct InRealm<R: Role> {
    pub admin: Admin,
    pub realm: Realm,
    pub life: web::Data<Lifecycle>,
    /// The request, for the rest of its path.
    req: HttpRequest,
    role: PhantomData<R>,
}

impl<R: Role + 'static> FromRequest for InRealm<R> {
    type Error = ApiError;
    type Future = Pending<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Authenticated { admin, life } = caller(&req).await?;
            let name = req.match_info().get("realm").ok_or_else(|| ApiError::Internal("no {realm} in path".into()))?;
            let realm = admin.realm(&life, name, R::ROLE).await?;
            Ok(InRealm { admin, realm, life, req: req.clone(), role: PhantomData })
        })
    }
}

impl<R: Role> InRealm<R> {
    pub fn conn(&self) -> &impl ConnectionTrait {
        self.life.store.conn()
    }

    /// A parameter of the path (`"id"`, `"clientUuid"`); empty when it has none of that name.
    pub fn path(&self, name: &str) -> &str {
        self.req.match_info().get(name).unwrap_or_default()
    }

    fn id(&self) -> &str {
        self.path("id")
    }

    /// The path's client (`{id}`) of this realm; 404 otherwise.
    pub async fn client(&self) -> Result<Client, ApiError> {
        self.client_by(self.id()).await
    }

    /// The client of this realm with the UUID `id`; 404 otherwise.
    pub async fn client_by(&self, id: &str) -> Result<Client, ApiError> {
        let not_found = || ApiError::NotFound("Could not find client".into());
        let id = crate::input::id(id).ok_or_else(not_found)?;
        self.life
            .catalog
            .client_by_id(self.conn(), id)
            .await?
            .filter(|c| c.realm_id == self.realm.id)
            .ok_or_else(not_found)
    }

    /// The path's user (`{id}`) of this realm (service accounts are not users here); 404
    /// otherwise.
    pub async fn user(&self) -> Result<User, ApiError> {
        let not_found = || ApiError::NotFound("User not found".into());
        let id = crate::input::id(self.id()).ok_or_else(not_found)?;
        users::find_by_id(self.conn(), id)
            .await?
            .filter(|u| u.realm_id == self.realm.id && u.service_account_of.is_none())
            .ok_or_else(not_found)
    }

    /// Refuses (409) to leave the master realm without an enabled user holding `admin`: `user`
    /// is about to be disabled, deleted or lose `admin`. Without one, no administrator could
    /// sign in again and only an edit of the database would recover.
    pub async fn keeps_a_master_admin(&self, user: &User, what: &str) -> Result<(), ApiError> {
        if !self.realm.is_master() || !users::roles_of(self.conn(), user.id).await?.contains(&AdminRole::Admin) {
            return Ok(());
        }
        if users::others_holding(self.conn(), self.realm.id, AdminRole::Admin, user.id).await? == 0 {
            return Err(ApiError::Conflict(format!(
                "{} is the last enabled user holding 'admin' in the master realm and cannot {what}",
                user.username
            )));
        }
        Ok(())
    }

    /// The path's user, if the administrator may change it: it holds no admin role the
    /// administrator lacks (see [`Admin::require_at_least`]).
    pub async fn user_to_change(&self) -> Result<User, ApiError> {
        let user = self.user().await?;
        self.admin.require_at_least(&self.life.catalog.roles(self.conn(), user.id).await?)?;
        Ok(user)
    }

    /// This administrator's change to record: `path` is below the realm (`users/{id}`).
    pub fn action(&self, operation: Operation, resource: Resource, path: String) -> AdminAction {
        AdminAction { actor: self.admin.actor(), operation, resource, path, representation: None }
    }

    /// Records `action` in `txn` and commits both.
    pub async fn commit(&self, txn: DatabaseTransaction, action: &AdminAction) -> Result<(), ApiError> {
        action.record_in(&txn, self.realm.id, Timestamp::now()).await?;
        txn.commit().await.map_err(StoreError::from)?;
        if action.resource != Resource::UserSession {
            // A realm, client or role grant may have changed: no cached copy outlives this answer.
            self.life.catalog_changed().await;
        }
        Ok(())
    }

    /// The public URL of `tail` under this realm in the admin API (for `Location`).
    pub fn location(&self, tail: &str) -> String {
        let base = format!("{}/admin/realms/{}", self.life.base_url(), self.realm.name);
        if tail.is_empty() {
            base
        } else {
            format!("{base}/{tail}")
        }
    }
}
