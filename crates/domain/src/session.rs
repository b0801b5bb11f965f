//! Sessions and the one rule that decides whether a session is alive.
//!
//! A user session (SSO session) exists because a person signed in; a client session joins it
//! to one application used within it. A session is alive at `now` while all of these hold:
//! - it has not been ended (sign-out, admin action, ...);
//! - `now` is before `last_access + idle` and before `started_at + max` (the realm's limits for
//!   its type; remember-me limits replace the regular ones when set; offline sessions have
//!   their own idle limit and a max lifespan only when enabled);
//! - it started after the realm's session cut-off (logout-all) and not before the not-before
//!   of its realm and user; a client session also not before its client's not-before.
//!
//! Every check of a session (refresh, introspection, listing, cookies) asks [`UserSession::liveness`]
//! so no path can disagree with another about whether a session is alive.

use std::fmt;
use std::str::FromStr;

use crate::{ClientId, DomainError, RealmId, SessionId, SessionLimits, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionType {
    Regular,
    Offline,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Regular => "REGULAR",
            SessionType::Offline => "OFFLINE",
        }
    }
}

impl fmt::Display for SessionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionType {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "REGULAR" => Ok(SessionType::Regular),
            "OFFLINE" => Ok(SessionType::Offline),
            other => Err(DomainError::invalid("type", format!("'{other}' is not one of REGULAR, OFFLINE"))),
        }
    }
}

/// Whether a session row is still in use. Ended rows are kept only until the reaper removes
/// them (after their clients have been told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    Ended,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Active => "ACTIVE",
            SessionState::Ended => "ENDED",
        }
    }
}

impl FromStr for SessionState {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ACTIVE" => Ok(SessionState::Active),
            "ENDED" => Ok(SessionState::Ended),
            other => Err(DomainError::invalid("state", format!("'{other}' is not one of ACTIVE, ENDED"))),
        }
    }
}

/// Every way a session can end. Each is recorded on the session and in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The person signed out (RP-initiated logout).
    SignOut,
    /// An administrator ended this one session.
    AdminSignOut,
    /// An administrator ended all of the user's sessions.
    UserLogout,
    UserDisabled,
    UserDeleted,
    /// An offline session (and its refresh tokens) was revoked.
    Revoked,
    IdleTimeout,
    MaxLifespan,
    /// Logout-all of the realm.
    RealmLogout,
    /// A rotated refresh token or a used authorization code was presented again: a theft
    /// signal (RFC 9700), so what was issued from it stops working.
    TokenReuse,
}

impl SessionEnd {
    pub const ALL: [SessionEnd; 10] = [
        SessionEnd::SignOut,
        SessionEnd::AdminSignOut,
        SessionEnd::UserLogout,
        SessionEnd::UserDisabled,
        SessionEnd::UserDeleted,
        SessionEnd::Revoked,
        SessionEnd::IdleTimeout,
        SessionEnd::MaxLifespan,
        SessionEnd::RealmLogout,
        SessionEnd::TokenReuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::SignOut => "SIGN_OUT",
            SessionEnd::AdminSignOut => "ADMIN_SIGN_OUT",
            SessionEnd::UserLogout => "USER_LOGOUT",
            SessionEnd::UserDisabled => "USER_DISABLED",
            SessionEnd::UserDeleted => "USER_DELETED",
            SessionEnd::Revoked => "REVOKED",
            SessionEnd::IdleTimeout => "IDLE_TIMEOUT",
            SessionEnd::MaxLifespan => "MAX_LIFESPAN",
            SessionEnd::RealmLogout => "REALM_LOGOUT",
            SessionEnd::TokenReuse => "TOKEN_REUSE",
        }
    }
}

impl FromStr for SessionEnd {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionEnd::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| DomainError::invalid("endReason", format!("unknown end reason '{s}'")))
    }
}

/// Which of the (at most two) sessions known by one id is meant: Keycloak's `isOffline`, or a
/// token's type (an offline refresh token means the offline one; an access token either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Regular,
    Offline,
    Either,
}

impl Which {
    /// From Keycloak's `isOffline` query parameter: absent means `false`, the regular one.
    pub fn from_is_offline(is_offline: Option<bool>) -> Self {
        if is_offline == Some(true) {
            Which::Offline
        } else {
            Which::Regular
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The row's key. For a regular session, its id; for an offline session started by a
    /// sign-in, [`SessionId::offline_of`] that sign-in's id (see [`UserSession::public_id`]).
    pub id: SessionId,
    /// For an offline session started by a sign-in: that sign-in's session id, which is the id
    /// the world knows the offline session by, as in Keycloak.
    pub origin: Option<SessionId>,
    pub realm_id: RealmId,
    pub user_id: UserId,
    pub session_type: SessionType,
    pub ip_address: String,
    pub user_agent: Option<String>,
    pub started_at: Timestamp,
    pub last_access: Timestamp,
    pub remember_me: bool,
    pub state: SessionState,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<SessionEnd>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSession {
    pub user_session_id: SessionId,
    pub client_id: ClientId,
    pub realm_id: RealmId,
    pub session_type: SessionType,
    pub started_at: Timestamp,
    /// The last time this client used the session (sign-in, token refresh).
    pub last_refresh: Timestamp,
    pub scopes: Vec<String>,
    pub redirect_uri: Option<String>,
    /// The id of the one refresh token of this client session that may still be used;
    /// refresh tokens rotate, so every earlier one is refused.
    pub refresh_token_id: Option<String>,
}

/// The cut-offs that apply to one session, gathered from its realm, user and client.
/// Not-before values are epoch seconds (0: none); the realm cut-off is an instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cutoffs {
    pub realm_not_before: i64,
    pub realm_session_cutoff: Timestamp,
    pub user_not_before: i64,
}

/// What killed a session, when it is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Ended(Option<SessionEnd>),
    IdleTimeout,
    MaxLifespan,
    RealmCutoff,
    RealmNotBefore,
    UserNotBefore,
    ClientNotBefore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Alive; it dies at `expires_at` unless it is used (idle) or ended first.
    Alive {
        expires_at: Timestamp,
    },
    Dead(Death),
}

impl Liveness {
    pub fn is_alive(self) -> bool {
        matches!(self, Liveness::Alive { .. })
    }
}

/// The idle and max lifespan that apply to one session, in seconds; `None` means unlimited.
pub fn lifetimes(limits: &SessionLimits, session_type: SessionType, remember_me: bool) -> (i64, Option<i64>) {
    match session_type {
        SessionType::Offline => (limits.offline_idle, limits.offline_max_enabled.then_some(limits.offline_max)),
        SessionType::Regular => {
            let pick = |remember: i64, regular: i64| {
                if remember_me && remember > 0 {
                    remember
                } else {
                    regular
                }
            };
            (pick(limits.sso_idle_remember_me, limits.sso_idle), Some(pick(limits.sso_max_remember_me, limits.sso_max)))
        }
    }
}

impl UserSession {
    /// A new active session, started now.
    pub fn start(
        realm_id: RealmId,
        user_id: UserId,
        session_type: SessionType,
        ip_address: &str,
        remember_me: bool,
        now: Timestamp,
    ) -> Self {
        UserSession {
            id: SessionId::new(),
            origin: None,
            realm_id,
            user_id,
            session_type,
            ip_address: ip_address.to_owned(),
            user_agent: None,
            started_at: now,
            last_access: now,
            remember_me,
            state: SessionState::Active,
            ended_at: None,
            end_reason: None,
        }
    }

    /// The offline session started beside the sign-in `online`: the same id to the world
    /// ([`UserSession::public_id`]), its own row.
    pub fn start_offline(online: &UserSession, now: Timestamp) -> Self {
        UserSession {
            id: SessionId::offline_of(online.id),
            origin: Some(online.id),
            user_agent: online.user_agent.clone(),
            ..UserSession::start(online.realm_id, online.user_id, SessionType::Offline, &online.ip_address, false, now)
        }
    }

    /// The id the world knows this session by: its tokens' `sid` and `session_state`, the
    /// admin API's `id`, the `sid` of its logout tokens. An offline session shares it with the
    /// sign-in that started it; `isOffline` (or `type`) tells the two apart.
    pub fn public_id(&self) -> SessionId {
        self.origin.unwrap_or(self.id)
    }

    /// The row keys a session known to the world as `id` may have, most likely first: `which`
    /// says whether the regular session, the offline one, or either is meant. An offline
    /// session stored before offline sessions shared their sign-in's id is keyed by `id`.
    pub fn keys_of(id: SessionId, which: Which) -> Vec<SessionId> {
        match which {
            Which::Regular => vec![id],
            Which::Offline => vec![SessionId::offline_of(id), id],
            Which::Either => vec![id, SessionId::offline_of(id)],
        }
    }

    /// Whether this session is the kind `which` asks for.
    pub fn is(&self, which: Which) -> bool {
        match which {
            Which::Regular => self.session_type == SessionType::Regular,
            Which::Offline => self.session_type == SessionType::Offline,
            Which::Either => true,
        }
    }

    /// Whether this session is alive at `now` under `limits` and `cutoffs`.
    pub fn liveness(&self, limits: &SessionLimits, cutoffs: &Cutoffs, now: Timestamp) -> Liveness {
        if self.state == SessionState::Ended {
            return Liveness::Dead(Death::Ended(self.end_reason));
        }
        if self.started_at <= cutoffs.realm_session_cutoff {
            return Liveness::Dead(Death::RealmCutoff);
        }
        let started_secs = self.started_at.as_secs();
        if started_secs < cutoffs.realm_not_before {
            return Liveness::Dead(Death::RealmNotBefore);
        }
        if started_secs < cutoffs.user_not_before {
            return Liveness::Dead(Death::UserNotBefore);
        }
        let (idle, max) = lifetimes(limits, self.session_type, self.remember_me);
        let idle_end = self.last_access.plus_secs(idle);
        if now >= idle_end {
            return Liveness::Dead(Death::IdleTimeout);
        }
        let max_end = max.map(|m| self.started_at.plus_secs(m));
        if max_end.is_some_and(|end| now >= end) {
            return Liveness::Dead(Death::MaxLifespan);
        }
        Liveness::Alive { expires_at: max_end.map_or(idle_end, |end| end.min(idle_end)) }
    }

    /// Whether this session is alive for one client: the session itself, and the client
    /// session not cut off by the client's not-before (epoch seconds, 0: none).
    pub fn liveness_for_client(
        &self,
        client_session: &ClientSession,
        client_not_before: i64,
        limits: &SessionLimits,
        cutoffs: &Cutoffs,
        now: Timestamp,
    ) -> Liveness {
        match self.liveness(limits, cutoffs, now) {
            Liveness::Alive { .. } if client_session.started_at.as_secs() < client_not_before => {
                Liveness::Dead(Death::ClientNotBefore)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_270_000; // seconds
    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(T0 + secs)
    }

    fn session(kind: SessionType, remember_me: bool) -> UserSession {
        UserSession::start(RealmId::new(), UserId::new(), kind, "10.0.0.1", remember_me, at(0))
    }

    fn alive(s: &UserSession, limits: &SessionLimits, now: Timestamp) -> Liveness {
        s.liveness(limits, &Cutoffs::default(), now)
    }

    #[test]
    fn a_fresh_session_is_alive_until_its_idle_timeout() {
        let limits = SessionLimits::default();
        let s = session(SessionType::Regular, false);
        assert_eq!(alive(&s, &limits, at(0)), Liveness::Alive { expires_at: at(1800) });
        assert!(alive(&s, &limits, at(1799)).is_alive());
        assert_eq!(alive(&s, &limits, at(1800)), Liveness::Dead(Death::IdleTimeout));
    }

    #[test]
    fn use_extends_idle_but_not_max_lifespan() {
        let limits = SessionLimits::default();
        let mut s = session(SessionType::Regular, false);
        s.last_access = at(36_000 - 60);
        assert_eq!(alive(&s, &limits, at(36_000 - 1)), Liveness::Alive { expires_at: at(36_000) });
        assert_eq!(alive(&s, &limits, at(36_000)), Liveness::Dead(Death::MaxLifespan));
    }

    #[test]
    fn an_ended_session_is_dead_whatever_its_times() {
        let mut s = session(SessionType::Regular, false);
        s.state = SessionState::Ended;
        s.end_reason = Some(SessionEnd::AdminSignOut);
        assert_eq!(
            alive(&s, &SessionLimits::default(), at(1)),
            Liveness::Dead(Death::Ended(Some(SessionEnd::AdminSignOut)))
        );
    }

    #[test]
    fn remember_me_limits_replace_the_regular_ones_only_when_set() {
        let mut limits = SessionLimits::default();
        let remembered = session(SessionType::Regular, true);
        assert!(!alive(&remembered, &limits, at(1800)).is_alive(), "unset remember-me limits fall back");

        limits.sso_idle_remember_me = 7 * 24 * 3600;
        limits.sso_max_remember_me = 30 * 24 * 3600;
        assert!(alive(&remembered, &limits, at(1800)).is_alive());
        assert!(alive(&remembered, &limits, at(7 * 24 * 3600 - 1)).is_alive());
        assert!(!alive(&remembered, &limits, at(7 * 24 * 3600)).is_alive());
        let forgotten = session(SessionType::Regular, false);
        assert!(!alive(&forgotten, &limits, at(1800)).is_alive(), "only remember-me sessions are extended");
    }

    #[test]
    fn offline_sessions_live_by_their_own_idle_limit() {
        let mut limits = SessionLimits::default();
        let mut s = session(SessionType::Offline, false);
        assert!(alive(&s, &limits, at(36_000 + 1)).is_alive(), "no SSO max lifespan for offline sessions");
        assert_eq!(alive(&s, &limits, at(30 * 86_400)), Liveness::Dead(Death::IdleTimeout));

        s.last_access = at(59 * 86_400);
        assert!(alive(&s, &limits, at(60 * 86_400)).is_alive(), "offline max lifespan is off by default");
        limits.offline_max_enabled = true;
        assert_eq!(alive(&s, &limits, at(60 * 86_400)), Liveness::Dead(Death::MaxLifespan));
    }

    #[test]
    fn not_before_of_realm_and_user_cut_sessions_started_earlier() {
        let limits = SessionLimits::default();
        let s = session(SessionType::Regular, false);
        let cut = |c: Cutoffs| s.liveness(&limits, &c, at(10));

        assert!(cut(Cutoffs { realm_not_before: T0, ..Cutoffs::default() }).is_alive(), "same second is not before");
        assert_eq!(
            cut(Cutoffs { realm_not_before: T0 + 1, ..Cutoffs::default() }),
            Liveness::Dead(Death::RealmNotBefore)
        );
        assert_eq!(
            cut(Cutoffs { user_not_before: T0 + 5, ..Cutoffs::default() }),
            Liveness::Dead(Death::UserNotBefore)
        );
    }

    #[test]
    fn the_realm_cutoff_kills_what_started_up_to_it_and_no_later() {
        let limits = SessionLimits::default();
        let s = session(SessionType::Offline, false);
        let cutoffs = Cutoffs { realm_session_cutoff: s.started_at, ..Cutoffs::default() };
        assert_eq!(s.liveness(&limits, &cutoffs, at(1)), Liveness::Dead(Death::RealmCutoff));

        let later = UserSession { started_at: at(1), last_access: at(1), ..s.clone() };
        assert!(later.liveness(&limits, &cutoffs, at(2)).is_alive());
    }

    #[test]
    fn clearing_not_before_does_not_revive_a_cut_off_session() {
        let limits = SessionLimits::default();
        let s = session(SessionType::Regular, false);
        let after_logout_all = Cutoffs { realm_not_before: 0, realm_session_cutoff: at(5), user_not_before: 0 };
        assert_eq!(s.liveness(&limits, &after_logout_all, at(6)), Liveness::Dead(Death::RealmCutoff));
    }

    #[test]
    fn client_not_before_cuts_that_client_only() {
        let limits = SessionLimits::default();
        let s = session(SessionType::Regular, false);
        let cs = ClientSession {
            user_session_id: s.id,
            client_id: ClientId::new(),
            realm_id: s.realm_id,
            session_type: SessionType::Regular,
            started_at: at(3),
            last_refresh: at(3),
            scopes: vec!["openid".into()],
            redirect_uri: None,
            refresh_token_id: None,
        };
        let now = at(10);
        let cutoffs = Cutoffs::default();
        assert!(s.liveness_for_client(&cs, T0 + 3, &limits, &cutoffs, now).is_alive());
        assert_eq!(s.liveness_for_client(&cs, T0 + 4, &limits, &cutoffs, now), Liveness::Dead(Death::ClientNotBefore));
        assert!(s.liveness(&limits, &cutoffs, now).is_alive(), "the session itself lives on");
    }

    #[test]
    fn names_round_trip() {
        for end in SessionEnd::ALL {
            assert_eq!(end.as_str().parse::<SessionEnd>().unwrap(), end);
        }
        assert_eq!("OFFLINE".parse::<SessionType>().unwrap(), SessionType::Offline);
        assert!("offline".parse::<SessionType>().is_err());
        assert_eq!("ENDED".parse::<SessionState>().unwrap(), SessionState::Ended);
    }
}
