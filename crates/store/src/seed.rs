//! Filling a realm with users and live sessions, to try Latchkey at a million sessions and to
//! measure it there (`latchkey seed`). Rows are written in batches of many rows per statement,
//! each batch in its own transaction; the maintained counts are brought up to date at the end
//! (see [`crate::counts::recount`]), as after any bulk import.

use latchkey_domain::{ClientId, ClientSession, RealmId, SessionType, Timestamp, User, UserId, UserSession};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::convert::{client_session_row, user_row, user_session_row};
use crate::entity::{client_session, user, user_session};
use crate::{Store, StoreError};

/// Rows per statement: under SQLite's 32,766 bound variables with every column bound.
pub const BATCH: usize = 2_000;

/// What to write.
#[derive(Debug, Clone)]
pub struct Seed {
    pub realm: RealmId,
    /// Users `user1` … `userN` (those that exist already are kept).
    pub users: u64,
    /// Sessions spread evenly over the users.
    pub sessions: u64,
    /// Of every hundred sessions, how many are offline.
    pub offline_percent: u8,
    /// Every session holds a client session of the first client; every third also of the second.
    pub clients: Vec<ClientId>,
    /// Last activity spread over this many milliseconds before now (keep it under the realm's
    /// idle timeout for the sessions to be alive); starts spread over this and the hour before.
    /// (For [`Shape::Spread`]; the other shapes say their own times.)
    pub activity_spread_ms: i64,
    /// When the sessions started and were last used.
    pub shape: Shape,
    /// The order rows are written in.
    pub order: Order,
}

/// When seeded sessions started and were last used: the shapes of data a realm takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Starts over the activity spread and the hour before it; last use within the spread.
    Spread,
    /// Every session started within the last minute (a burst of sign-ins).
    RecentMinute,
    /// Every session started within the last hour (a busy service with one-hour sessions).
    LastHour,
    /// Starts over the last 30 days, last use within the activity spread where the start
    /// allows: regular sessions past their max lifespan are dead but not yet ended.
    ThirtyDays,
    /// Every session last used 40 to 55 minutes ago: past a 30-minute SSO idle timeout, dead
    /// but not yet ended (a mass expiry: the service was down for longer than the idle time).
    Expired,
}

impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "spread" => Shape::Spread,
            "recent-minute" => Shape::RecentMinute,
            "last-hour" => Shape::LastHour,
            "30-days" => Shape::ThirtyDays,
            "expired" => Shape::Expired,
            other => return Err(format!("'{other}' is not one of spread, recent-minute, last-hour, 30-days, expired")),
        })
    }
}

/// The order seeded rows are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// In the order the sessions started, as a server writes them.
    Start,
    /// Scattered: row order says nothing about start times (an import, a merge of nodes).
    Random,
}

impl std::str::FromStr for Order {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "start" => Ok(Order::Start),
            "random" => Ok(Order::Random),
            other => Err(format!("'{other}' is not one of start, random")),
        }
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

impl Seed {
    /// (started, last used) of the session at start position `at` of `n`, before `now`. Last
    /// use is after the start and scattered (by `scatter`, any number) within what the shape
    /// allows.
    fn times(&self, at: u64, scatter: u64, now: i64) -> (i64, i64) {
        let n = self.sessions.max(1);
        let spread = self.activity_spread_ms.max(1);
        let (from, to, active_from, active_to) = match self.shape {
            Shape::Spread => (now - spread - HOUR, now, now - spread, now),
            Shape::RecentMinute => (now - MINUTE, now, now - MINUTE, now),
            Shape::LastHour => (now - HOUR, now, now - spread.min(HOUR), now),
            Shape::ThirtyDays => (now - 30 * 24 * HOUR, now, now - spread, now),
            Shape::Expired => (now - 55 * MINUTE - HOUR, now - 55 * MINUTE, now - 55 * MINUTE, now - 40 * MINUTE),
        };
        let started = from + ((to - from) as f64 * at as f64 / n as f64) as i64;
        let lo = started.max(active_from);
        let hi = active_to.max(lo);
        let used = lo + (scatter % (hi - lo + 1) as u64) as i64;
        // Over 30 days a regular session is used no longer than its 10 hours of life.
        let used = if self.shape == Shape::ThirtyDays { used.min(started + 10 * HOUR) } else { used };
        (started, used)
    }

    /// The start position of session `i`: `i` itself in start order, else a fixed permutation.
    fn position(&self, i: u64) -> u64 {
        let n = self.sessions.max(1);
        match self.order {
            Order::Start => i,
            // A multiplier coprime to n visits every position once.
            Order::Random => {
                let mut p = 2_654_435_761 % n.max(2);
                while gcd(p, n) != 1 {
                    p += 1;
                }
                ((i as u128 * p as u128) % n as u128) as u64
            }
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Creates the seed users that do not exist yet and answers the ids of all of them, in order.
pub async fn users(store: &Store, seed: &Seed, now: Timestamp) -> Result<Vec<UserId>, StoreError> {
    let names: Vec<String> = (1..=seed.users).map(|n| format!("user{n}")).collect();
    for chunk in names.chunks(BATCH) {
        let mut rows = Vec::with_capacity(chunk.len());
        for name in chunk {
            let mut u = User::new(seed.realm, name, now)?;
            u.email = Some(format!("{name}@example.test"));
            rows.push(user_row(&u));
        }
        let keep = OnConflict::columns([user::Column::RealmId, user::Column::Username]).do_nothing().to_owned();
        let txn = store.begin().await?;
        user::Entity::insert_many(rows).on_conflict(keep).exec_without_returning(&txn).await?;
        txn.commit().await?;
    }
    let mut ids = Vec::with_capacity(names.len());
    for chunk in names.chunks(BATCH) {
        let found: Vec<(uuid::Uuid, String)> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Username)
            .filter(user::Column::RealmId.eq(seed.realm.as_uuid()))
            .filter(user::Column::Username.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(store.conn())
            .await?;
        let by_name: std::collections::HashMap<String, uuid::Uuid> = found.into_iter().map(|(id, n)| (n, id)).collect();
        ids.extend(chunk.iter().filter_map(|n| by_name.get(n)).map(|id| UserId::from_uuid(*id)));
    }
    Ok(ids)
}

/// Writes sessions `from..to` of the seed (numbered so that a run can be resumed or split).
pub async fn sessions(
    store: &Store,
    seed: &Seed,
    users: &[UserId],
    from: u64,
    to: u64,
    now: Timestamp,
) -> Result<(), StoreError> {
    if users.is_empty() || seed.clients.is_empty() {
        return Err(StoreError::Corrupt("a seed needs at least one user and one client".into()));
    }
    let (mut sessions, mut held) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH * 2));
    for i in from..to {
        let (session, clients) = session(seed, users, i, now);
        sessions.push(user_session_row(&session));
        held.extend(clients.iter().map(client_session_row));
    }
    let txn = store.begin().await?;
    for chunk in sessions.chunks(BATCH) {
        user_session::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
    }
    for chunk in held.chunks(BATCH) {
        client_session::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Session number `i`: its user, type, address and times follow from `i`, so the spread is
/// the same on every run; `seed.shape` says when it started and was last used, `seed.order`
/// whether rows are written in start order (as a server writes them) or scattered.
fn session(seed: &Seed, users: &[UserId], i: u64, now: Timestamp) -> (UserSession, Vec<ClientSession>) {
    let kind = if i % 100 < u64::from(seed.offline_percent) { SessionType::Offline } else { SessionType::Regular };
    let (started, used) = seed.times(seed.position(i), i.wrapping_mul(7_919), now.as_millis());
    let (started_at, last_access) = (Timestamp::from_millis(started), Timestamp::from_millis(used));
    let ip = format!("10.{}.{}.{}", i % 250, i / 250 % 250, i % 7);
    let user = users[(i % users.len() as u64) as usize];
    let mut s = UserSession::start(seed.realm, user, kind, &ip, false, started_at);
    if kind == SessionType::Offline {
        // As the server keys them: known by the id of a sign-in long since gone.
        let origin = UserSession::start(seed.realm, user, SessionType::Regular, &ip, false, started_at);
        s = UserSession::start_offline(&origin, started_at);
    }
    s.last_access = last_access;
    let count = if i.is_multiple_of(3) { 2 } else { 1 };
    let clients = seed
        .clients
        .iter()
        .take(count)
        .map(|client| ClientSession {
            user_session_id: s.id,
            client_id: *client,
            realm_id: seed.realm,
            session_type: kind,
            started_at,
            last_refresh: last_access,
            scopes: vec!["openid".into()],
            redirect_uri: None,
            refresh_token_id: None,
        })
        .collect();
    (s, clients)
}
