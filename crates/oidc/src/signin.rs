//! Signing people in: credentials with throttling, starting and joining sessions, and the
//! liveness checks every token and cookie goes through.

use actix_web::web;
use latchkey_domain::{
    Client, ClientSession, Cutoffs, Liveness, Realm, Secret, SessionType, Timestamp, User, UserSession,
};
use latchkey_store::{login_failures, sessions, users, StoreError};
use uuid::Uuid;

use crate::error::OAuthError;
use crate::provider::Provider;

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// Unknown user or wrong password: the two look and take the same.
    Invalid,
    Disabled,
    /// Too many recent failures for this user or address; try again after this many seconds.
    Throttled {
        retry_after: i64,
    },
}

impl LoginFailure {
    pub fn message(&self) -> String {
        match self {
            LoginFailure::Invalid => "Invalid username or password.".into(),
            LoginFailure::Disabled => "Account is disabled, contact your administrator.".into(),
            LoginFailure::Throttled { retry_after } => {
                format!("Too many failed sign-in attempts. Try again in {retry_after} seconds.")
            }
        }
    }
}

/// Failures allowed before waiting starts, per user and per address.
const FREE_FAILURES_USER: u32 = 5;
const FREE_FAILURES_ADDRESS: u32 = 20;
/// The longest wait, seconds: a user is slowed down, never locked out for good.
const MAX_WAIT_SECS: i64 = 15 * 60;

/// Seconds to wait after `failures` failures, of which `free` cost nothing: 1, 2, 4, … 900.
fn wait_after(failures: u32, free: u32) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20);
    (1i64 << doublings).min(MAX_WAIT_SECS)
}

async fn throttled(
    provider: &Provider,
    realm: &Realm,
    subjects: &[(String, u32)],
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let mut longest = 0;
    for (subject, free) in subjects {
        if let Some((failures, last)) = login_failures::get(provider.store.conn(), realm.id, subject).await? {
            let until = last.plus_secs(wait_after(failures, *free));
            if until > now {
                longest = longest.max((until.as_millis() - now.as_millis() + 999) / 1000);
            }
        }
    }
    Ok((longest > 0).then_some(longest))
}

/// Checks a username (or email) and password. Unknown users are checked against a dummy hash
/// so that they take as long as a wrong password; failures are counted per user and address.
pub async fn check_credentials(
    provider: &Provider,
    realm: &Realm,
    username: &str,
    password: &str,
    ip: &str,
    now: Timestamp,
) -> Result<Result<User, LoginFailure>, OAuthError> {
    let lower = username.trim().to_lowercase();
    let subjects = [(format!("user:{lower}"), FREE_FAILURES_USER), (format!("ip:{ip}"), FREE_FAILURES_ADDRESS)];
    if let Some(retry_after) = throttled(provider, realm, &subjects, now).await? {
        return Ok(Err(LoginFailure::Throttled { retry_after }));
    }
    let user = if username.len() > 320 || password.len() > 1024 {
        None
    } else {
        match users::find_by_username(provider.store.conn(), realm.id, &lower).await? {
            Some(user) => Some(user),
            None if lower.contains('@') => users::find_by_email(provider.store.conn(), realm.id, &lower).await?,
            None => None,
        }
    };
    let hash = user.as_ref().and_then(|u| u.password.clone()).unwrap_or_else(|| provider.dummy_hash.clone());
    let candidate = Secret::new(password);
    let matches = web::block(move || hash.verify(&candidate)).await.unwrap_or(false);
    match user {
        Some(user) if matches && user.password.is_some() => {
            login_failures::clear(provider.store.conn(), realm.id, &subjects[0].0).await?;
            if user.enabled {
                Ok(Ok(user))
            } else {
                Ok(Err(LoginFailure::Disabled))
            }
        }
        _ => {
            for (subject, _) in &subjects {
                login_failures::record(provider.store.conn(), realm.id, subject, now).await?;
            }
            tracing::info!(realm = %realm.name, %ip, "failed sign-in");
            Ok(Err(LoginFailure::Invalid))
        }
    }
}

/// Facts about the request that starts a session.
pub struct Origin<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Starts a session of `user` with one client in it, in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn start_session(
    provider: &Provider,
    realm: &Realm,
    user: &User,
    client: &Client,
    session_type: SessionType,
    origin: &Origin<'_>,
    remember_me: bool,
    scopes: &[String],
    redirect_uri: Option<&str>,
    now: Timestamp,
) -> Result<UserSession, OAuthError> {
    let mut session = UserSession::start(realm.id, user.id, session_type, origin.ip, remember_me, now);
    session.user_agent = origin.user_agent.map(|ua| ua.chars().take(512).collect());
    let client_session = new_client_session(&session, client, scopes, redirect_uri, now);
    let txn = provider.store.begin().await?;
    sessions::insert_user_session(&txn, &session).await?;
    sessions::insert_client_session(&txn, &client_session).await?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(realm = %realm.name, session = %session.id, kind = %session_type, client = %client.client_id, "session started");
    Ok(session)
}

pub fn new_client_session(
    session: &UserSession,
    client: &Client,
    scopes: &[String],
    redirect_uri: Option<&str>,
    now: Timestamp,
) -> ClientSession {
    ClientSession {
        user_session_id: session.id,
        client_id: client.id,
        realm_id: session.realm_id,
        session_type: session.session_type,
        started_at: now,
        last_refresh: now,
        scopes: scopes.to_vec(),
        redirect_uri: redirect_uri.map(str::to_owned),
        refresh_token_id: None,
    }
}

/// A live session of the realm and its enabled user, or `None` when the session is unknown,
/// ended, expired, cut off, or its user is gone or disabled.
pub async fn live_session(
    provider: &Provider,
    realm: &Realm,
    session_id: Uuid,
    now: Timestamp,
) -> Result<Option<(UserSession, User, Timestamp)>, OAuthError> {
    let Some(session) = sessions::find_user_session(provider.store.conn(), session_id).await? else { return Ok(None) };
    if session.realm_id != realm.id {
        return Ok(None);
    }
    let Some(user) = users::find_by_id(provider.store.conn(), session.user_id).await? else { return Ok(None) };
    if !user.enabled {
        return Ok(None);
    }
    let cutoffs = Cutoffs {
        realm_not_before: realm.not_before,
        realm_session_cutoff: realm.session_cutoff,
        user_not_before: user.not_before,
    };
    match session.liveness(&realm.limits, &cutoffs, now) {
        Liveness::Alive { expires_at } => Ok(Some((session, user, expires_at))),
        Liveness::Dead(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::wait_after;

    #[test]
    fn waiting_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(wait_after(4, 5), 0);
        assert_eq!(wait_after(5, 5), 1);
        assert_eq!(wait_after(6, 5), 2);
        assert_eq!(wait_after(9, 5), 16);
        assert_eq!(wait_after(40, 5), 900);
    }
}
