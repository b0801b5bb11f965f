//! What a fresh database gets on first start (realm `master`, its administrator and the
//! clients administrators sign in with), and the optional demo realm.
//!
//! Each runs in one transaction: the database holds all of it or none of it. Two nodes
//! starting together on one empty database race harmlessly: the loser's insert meets the
//! unique realm name and it finds the winner's work done.

use latchkey_domain::realm::MASTER_REALM;
use latchkey_domain::{AdminRole, Client, ClientKind, DomainError, Protocol, Realm, Secret, Timestamp, User};
use latchkey_store::{clients, realms, users, Store, StoreError};

use crate::config::AdminCredentials;

pub use latchkey_domain::client::{ADMIN_CLI, ADMIN_CONSOLE};
pub const DEMO_REALM: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "the database is empty and no administrator was given: set LATCHKEY_ADMIN_USER and \
         LATCHKEY_ADMIN_PASSWORD (or --admin-user and --admin-password) to create the first \
         administrator of realm '{MASTER_REALM}'"
    )]
    NoAdministrator,
    #[error("invalid administrator: {0}")]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What bootstrap found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrapped {
    /// Realm `master` and administrator `username` were created just now.
    Created { username: String },
    /// Realm `master` was already there; nothing was changed.
    Existing,
}

/// Creates realm `master`, its first administrator and the clients `admin-cli` and
/// `security-admin-console`, unless realm `master` exists. Refuses an empty database without
/// administrator credentials.
pub async fn ensure_master(
    store: &Store,
    admin: Option<&AdminCredentials>,
    now: Timestamp,
) -> Result<Bootstrapped, BootstrapError> {
    if realms::find_by_name(store.conn(), MASTER_REALM).await?.is_some() {
        return Ok(Bootstrapped::Existing);
    }
    let admin = admin.ok_or(BootstrapError::NoAdministrator)?;
    let realm = Realm::new(MASTER_REALM, now)?;
    let mut user = User::new(realm.id, &admin.username, now)?;
    user.password = Some(admin.password.hash()?);

    let txn = store.begin().await?;
    match realms::insert(&txn, &realm).await {
        Err(StoreError::Conflict(_)) => return Ok(Bootstrapped::Existing),
        other => other?,
    }
    users::insert(&txn, &user).await?;
    users::grant_role(&txn, user.id, AdminRole::Admin, now).await?;
    for client in Client::realm_defaults(realm.id, now)? {
        clients::insert(&txn, &client).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(realm = MASTER_REALM, username = %user.username, "created realm and its first administrator");
    Ok(Bootstrapped::Created { username: user.username })
}

/// One demo user: username, password, first and last name, the admin roles it holds in `demo`.
const DEMO_USERS: &[(&str, &str, &str, &str, &[AdminRole])] = &[
    ("alice", "alice-password", "Alice", "Archer", &[]),
    ("bob", "bob-password", "Bob", "Baker", &[]),
    ("carol", "carol-password", "Carol", "Cooper", &[]),
    ("auditor", "auditor-password", "Ada", "Auditor", &[AdminRole::ViewUsers]),
    ("realm-manager", "manager-password", "Mel", "Manager", &[AdminRole::RealmAdmin]),
];

pub const DEMO_WEB_SECRET: &str = "demo-web-secret";

/// Creates realm `demo` with users and clients to look at, unless it exists. Returns whether
/// it was created.
pub async fn ensure_demo(store: &Store, now: Timestamp) -> Result<bool, BootstrapError> {
    if realms::find_by_name(store.conn(), DEMO_REALM).await?.is_some() {
        return Ok(false);
    }
    let mut realm = Realm::new(DEMO_REALM, now)?;
    realm.display_name = Some("Latchkey demo".into());
    realm.remember_me = true;

    let txn = store.begin().await?;
    match realms::insert(&txn, &realm).await {
        Err(StoreError::Conflict(_)) => return Ok(false),
        other => other?,
    }
    for &(username, password, first, last, roles) in DEMO_USERS {
        let mut user = User::new(realm.id, username, now)?.with_email(&format!("{username}@demo.latchkey.test"))?;
        user.first_name = Some(first.into());
        user.last_name = Some(last.into());
        user.email_verified = true;
        user.password = Some(Secret::new(password).hash()?);
        users::insert(&txn, &user).await?;
        for role in roles {
            users::grant_role(&txn, user.id, *role, now).await?;
        }
    }
    for client in Client::realm_defaults(realm.id, now)?.into_iter().chain(demo_clients(&realm, now)?) {
        clients::insert(&txn, &client).await?;
    }
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(realm = DEMO_REALM, "created the demo realm");
    Ok(true)
}

fn demo_clients(realm: &Realm, now: Timestamp) -> Result<[Client; 3], DomainError> {
    let mut web = Client::new(realm.id, "demo-web", Protocol::OpenIdConnect, now)?;
    web.name = Some("Demo web application (confidential)".into());
    web.kind = ClientKind::Confidential { secret: Secret::new(DEMO_WEB_SECRET).hash()? };
    web.root_url = Some("http://localhost:3000".into());
    web.redirect_uris = vec!["http://localhost:3000/callback".into()];
    web.web_origins = vec!["http://localhost:3000".into()];
    web.backchannel_logout_url = Some("http://localhost:3000/backchannel-logout".into());
    web.direct_access_grants = true;
    web.service_accounts = true;

    let mut spa = Client::new(realm.id, "demo-spa", Protocol::OpenIdConnect, now)?;
    spa.name = Some("Demo single-page app (public, PKCE)".into());
    spa.pkce_required = true;
    spa.root_url = Some("http://localhost:5173".into());
    spa.redirect_uris = vec!["http://localhost:5173/*".into()];
    spa.web_origins = vec!["http://localhost:5173".into()];

    let mut saml = Client::new(realm.id, "demo-saml", Protocol::Saml, now)?;
    saml.name = Some("Demo SAML service provider".into());
    saml.root_url = Some("http://localhost:8000".into());
    saml.redirect_uris = vec!["http://localhost:8000/saml/acs".into()];

    for client in [&web, &spa, &saml] {
        client.validate()?;
    }
    Ok([web, spa, saml])
}
