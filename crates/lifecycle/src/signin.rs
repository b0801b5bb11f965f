//! Signing people in: credentials with throttling, starting and joining sessions, and the
//! liveness checks every token and cookie goes through.

use latchkey_domain::{
    Client, ClientId, ClientSession, Cutoffs, Liveness, Realm, RealmId, Secret, SessionId, SessionType, Timestamp,
    User, UserSession,
};
use latchkey_store::{login_failures, sessions, users, StoreError};

use crate::error::LifecycleError;
use crate::state::Lifecycle;

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
    /// Its name as a metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            LoginFailure::Invalid => "invalid_credentials",
            LoginFailure::Disabled => "user_disabled",
            LoginFailure::Throttled { .. } => "throttled",
        }
    }

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

/// How sign-in failures are limited. Every attempt is counted before its password is checked
/// (so parallel guesses cannot slip past a limit), on three counters at once; a success takes
/// its count back. After `free` failures within the failure window (15 minutes unless
/// configured; [`Lifecycle::failure_window_secs`]), each further attempt
/// waits 1 s (configurable: [`Lifecycle::failure_wait_secs`]), 2 s, 4 s … up to `max_wait` after
/// the last one. A counter with no failure for a
/// whole window starts again from zero, and is purged by the reaper.
///
/// The address is counted first and alone; the user's two lanes are keyed by the user's id
/// (by the name typed, for a name no one has); IPv6 addresses count by their /64.
///
/// - this user from this address: 5 free, then up to 15 minutes — the guesser's own lane;
/// - this user from anywhere: 20 free, then at most 60 s — looser, so an attacker spreading
///   guesses over many addresses cannot lock the real person out for longer than a minute;
/// - this address, whatever the user: 50 free, then up to 15 minutes (credential stuffing).
struct Limit {
    free: u32,
    max_wait: i64,
}

const PER_USER_AND_ADDRESS: Limit = Limit { free: 5, max_wait: 15 * 60 };
const PER_USER: Limit = Limit { free: 20, max_wait: 60 };
const PER_ADDRESS: Limit = Limit { free: 50, max_wait: 15 * 60 };
/// Client authentication, per client and address: 10 free, then up to 15 minutes.
const PER_CLIENT_AND_ADDRESS: Limit = Limit { free: 10, max_wait: 15 * 60 };
/// Failures older than this no longer count, unless configured otherwise.
pub const DEFAULT_FAILURE_WINDOW_SECS: i64 = 15 * 60;

/// Seconds to wait after `failures` failures, of which `free` cost nothing: `first`, twice
/// that, four times, … up to the lane's `max_wait`.
fn wait_after(failures: u32, limit: &Limit, first: i64) -> i64 {
    if failures < limit.free {
        return 0;
    }
    let doublings = (failures - limit.free).min(20);
    (first << doublings).min(limit.max_wait)
}

/// Counts an attempt on every subject, or says how long to wait. A subject refusing stops
/// the count there: the attempt is not checked at all.
async fn count_attempt(
    life: &Lifecycle,
    realm_id: RealmId,
    subjects: &[(String, &Limit)],
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let window_start = now.plus_secs(-life.failure_window_secs());
    let first = life.failure_wait_secs();
    // One write transaction: on SQLite it takes the write lock up front, so concurrent
    // attempts queue for it instead of failing on a stale snapshot.
    let txn = life.store.begin().await?;
    for (subject, limit) in subjects {
        let wait = |failures: u32, last: Timestamp| {
            let wait = wait_after(failures, limit, first);
            let until = last.plus_secs(wait);
            (wait > 0 && until > now).then(|| (until.as_millis() - now.as_millis() + 999) / 1000)
        };
        if let Err(seconds) = login_failures::attempt(&txn, realm_id, subject, now, window_start, wait).await? {
            txn.commit().await?;
            return Ok(Some(seconds));
        }
    }
    txn.commit().await?;
    Ok(None)
}

/// How long a client must wait before its secret is hashed again from this address, if at all.
/// (Client secrets are checked, then a failure counted: a burst of correct first uses after a
/// restart is never refused, and the hashing slots bound what a burst of wrong ones costs.)
pub(crate) async fn client_must_wait(
    life: &Lifecycle,
    realm_id: RealmId,
    subject: &str,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let Some((failures, last)) = login_failures::get(life.store.conn(), realm_id, subject).await? else {
        return Ok(None);
    };
    let failures = if last < now.plus_secs(-life.failure_window_secs()) { 0 } else { failures };
    let until = last.plus_secs(wait_after(failures, &PER_CLIENT_AND_ADDRESS, life.failure_wait_secs()));
    Ok((failures >= PER_CLIENT_AND_ADDRESS.free && until > now)
        .then(|| (until.as_millis() - now.as_millis() + 999) / 1000))
}

/// Counts a failed client authentication.
pub(crate) async fn client_failed(
    life: &Lifecycle,
    realm_id: RealmId,
    subject: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let window_start = now.plus_secs(-life.failure_window_secs());
    let txn = life.store.begin().await?;
    let _ = login_failures::attempt(&txn, realm_id, subject, now, window_start, |_, _| None).await?;
    txn.commit().await?;
    Ok(())
}

/// Checks a username (or email) and password. Unknown users are checked against a dummy hash
/// so that they take as long as a wrong password; attempts are limited as [`Limit`] says.
#[tracing::instrument(skip_all, fields(realm = %realm.name, %ip))]
pub async fn check_credentials(
    life: &Lifecycle,
    realm: &Realm,
    username: &str,
    password: &str,
    ip: &str,
    now: Timestamp,
) -> Result<Result<User, LoginFailure>, LifecycleError> {
    let lower: String = username.trim().to_lowercase().chars().take(320).collect();
    let address = address_lane(ip);
    // The address first, alone: a refused address writes nothing more, so guesses with made-up
    // usernames cannot add rows once it is refused.
    let by_address = [(format!("ip:{address}"), &PER_ADDRESS)];
    if let Some(retry_after) = count_attempt(life, realm.id, &by_address, now).await? {
        tracing::info!(realm = %realm.name, %ip, "sign-in throttled");
        return Ok(Err(LoginFailure::Throttled { retry_after }));
    }
    let user = if username.len() > 320 || password.len() > 1024 {
        None
    } else {
        match users::find_by_username(life.store.conn(), realm.id, &lower).await? {
            Some(user) => Some(user),
            None if lower.contains('@') => users::find_by_email(life.store.conn(), realm.id, &lower).await?,
            None => None,
        }
    };
    // The person's lanes are keyed by their id (their username and email are one person);
    // an unknown name has lanes of its own, so it is throttled as a real one would be.
    let who = user.as_ref().map_or_else(|| format!("name:{lower}"), |u| format!("id:{}", u.id));
    let by_user = [(format!("user+ip:{who}|{address}"), &PER_USER_AND_ADDRESS), (format!("user:{who}"), &PER_USER)];
    if let Some(retry_after) = count_attempt(life, realm.id, &by_user, now).await? {
        tracing::info!(realm = %realm.name, %ip, "sign-in throttled");
        return Ok(Err(LoginFailure::Throttled { retry_after }));
    }
    let hash = user.as_ref().and_then(|u| u.password.clone()).unwrap_or_else(|| life.dummy_hash.clone());
    let candidate = Secret::new(password);
    let matches = life.hash_work(move || hash.verify(&candidate)).await?;
    match user {
        Some(user) if matches && user.password.is_some() => {
            let txn = life.store.begin().await?;
            login_failures::clear(&txn, realm.id, &by_user[0].0).await?;
            login_failures::clear(&txn, realm.id, &by_user[1].0).await?;
            login_failures::uncount(&txn, realm.id, &by_address[0].0).await?;
            txn.commit().await.map_err(StoreError::from)?;
            if user.enabled {
                Ok(Ok(user))
            } else {
                Ok(Err(LoginFailure::Disabled))
            }
        }
        _ => {
            tracing::info!(realm = %realm.name, %ip, "failed sign-in");
            Ok(Err(LoginFailure::Invalid))
        }
    }
}

/// The address as throttling counts it: an IPv6 address by its /64 (what one subscriber is
/// usually given, so stepping through it is one address), an IPv4 one (mapped or not) as is.
fn address_lane(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Facts about the request that starts a session.
pub struct Origin<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Starts a session of `user` with one client in it, in one transaction.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(realm = %realm.name, user = %user.id, client = %client.client_id, kind = %session_type))]
pub async fn start_session(
    life: &Lifecycle,
    realm: &Realm,
    user: &User,
    client: &Client,
    session_type: SessionType,
    origin: &Origin<'_>,
    remember_me: bool,
    scopes: &[String],
    redirect_uri: Option<&str>,
    now: Timestamp,
) -> Result<UserSession, LifecycleError> {
    let mut session = UserSession::start(realm.id, user.id, session_type, origin.ip, remember_me, now);
    session.user_agent = origin.user_agent.map(|ua| ua.chars().take(512).collect());
    let client_session = new_client_session(&session, client, scopes, redirect_uri, now);
    let txn = life.store.begin().await?;
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
    life: &Lifecycle,
    realm: &Realm,
    session_id: SessionId,
    now: Timestamp,
) -> Result<Option<(UserSession, User, Timestamp)>, LifecycleError> {
    let Some(session) = sessions::find_user_session(life.store.conn(), session_id).await? else { return Ok(None) };
    if session.realm_id != realm.id {
        return Ok(None);
    }
    let Some(user) = users::find_by_id(life.store.conn(), session.user_id).await? else { return Ok(None) };
    Ok(expires_at(realm, &session, &user, now).map(|at| (session, user, at)))
}

/// [`live_session`] with `client`'s session in it (if any), read in one round trip: what
/// judging a token needs on every request. The realm's logout-all cut-off and not-before and the
/// client's state come from that same query, not from the cached `realm`: a logout-all, a
/// revocation or a client disabled on another node counts before its notification has arrived.
pub async fn live_session_of_client(
    life: &Lifecycle,
    realm: &Realm,
    session_id: SessionId,
    client: ClientId,
    now: Timestamp,
) -> Result<Option<(UserSession, User, Option<ClientSession>)>, LifecycleError> {
    let Some((session, user, held, current)) =
        sessions::with_user_and_client_session(life.store.conn(), session_id, client).await?
    else {
        return Ok(None);
    };
    let client_ok =
        current.client_enabled && held.as_ref().is_none_or(|c| c.started_at.as_secs() >= current.client_not_before);
    let cut = (current.realm_not_before, current.realm_session_cutoff);
    let alive = session.realm_id == realm.id && client_ok && alive_until(realm, cut, &session, &user, now).is_some();
    Ok(alive.then_some((session, user, held)))
}

/// When a session of `user` in `realm` expires, if it is alive at `now`.
fn expires_at(realm: &Realm, session: &UserSession, user: &User, now: Timestamp) -> Option<Timestamp> {
    alive_until(realm, (realm.not_before, realm.session_cutoff), session, user, now)
}

/// [`expires_at`] with the realm's not-before and logout-all cut-off as given.
fn alive_until(
    realm: &Realm,
    (realm_not_before, realm_session_cutoff): (i64, Timestamp),
    session: &UserSession,
    user: &User,
    now: Timestamp,
) -> Option<Timestamp> {
    if !user.enabled {
        return None;
    }
    let cutoffs = Cutoffs { realm_not_before, realm_session_cutoff, user_not_before: user.not_before };
    match session.liveness(&realm.limits, &cutoffs, now) {
        Liveness::Alive { expires_at } => Some(expires_at),
        Liveness::Dead(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{address_lane, wait_after, PER_USER, PER_USER_AND_ADDRESS};

    #[test]
    fn ipv6_addresses_count_by_their_slash_64() {
        assert_eq!(address_lane("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_lane("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(address_lane("::ffff:10.0.0.7"), "10.0.0.7");
        assert_eq!(address_lane("10.0.0.7"), "10.0.0.7");
        assert_eq!(address_lane("unknown"), "unknown");
    }

    #[test]
    fn waiting_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(wait_after(4, &PER_USER_AND_ADDRESS, 1), 0);
        assert_eq!(wait_after(5, &PER_USER_AND_ADDRESS, 1), 1);
        assert_eq!(wait_after(6, &PER_USER_AND_ADDRESS, 1), 2);
        assert_eq!(wait_after(9, &PER_USER_AND_ADDRESS, 1), 16);
        assert_eq!(wait_after(40, &PER_USER_AND_ADDRESS, 1), 900);
        assert_eq!(wait_after(40, &PER_USER, 1), 60, "the per-user lane never locks anyone out for long");
        assert_eq!(wait_after(6, &PER_USER_AND_ADDRESS, 30), 60, "a configured first wait doubles the same way");
    }
}
