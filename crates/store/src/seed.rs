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
    pub activity_spread_ms: i64,
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
/// even and the same on every run. Sessions start in the order of `i`, evenly over the hour
/// before the activity window and the window itself, so rows are written in the order a server
/// writes them (a session's row is created when it starts); last activity is within the window
/// and after the start, scattered.
fn session(seed: &Seed, users: &[UserId], i: u64, now: Timestamp) -> (UserSession, Vec<ClientSession>) {
    let kind = if i % 100 < u64::from(seed.offline_percent) { SessionType::Offline } else { SessionType::Regular };
    let spread = seed.activity_spread_ms.max(1);
    let window = spread + 3_600_000;
    let step = window as f64 / seed.sessions.max(1) as f64;
    let started_at = Timestamp::from_millis(now.as_millis() - window + (i as f64 * step) as i64);
    let active_from = started_at.as_millis().max(now.as_millis() - spread);
    let last_access = Timestamp::from_millis(
        active_from + (i.wrapping_mul(7_919) % (now.as_millis() - active_from + 1) as u64) as i64,
    );
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
