//! The session lists and counts administrators read, paged in the database.
//!
//! Every query applies the liveness rule of `latchkey_domain::session` in SQL, so a session
//! that is ended, expired or cut off never appears, whether or not the reaper has removed its
//! row yet. Rows come newest activity first (`last_access`, then `id`, so pages are stable).
//! The realm's list reads the live ranges of `ix_user_sessions_live`, a client's those of
//! `ix_client_sessions_live` (`live_page`), their counts the maintained counts (`crate::counts`); a search or a user's
//! list reads the live sessions it matches (`matched_statement`) — see `docs/schema.md`.
//!
//! `search` matches usernames and clientIds containing the term (case-insensitively) and IP
//! addresses starting with it; the realm's session table is never scanned by `LIKE`.
//! `count_exact` and `client_stats_exact` count the same rule in another form (a join over the
//! realm's sessions): what the maintained counts and the lists are checked against.

use latchkey_domain::{ClientId, Realm, SessionId, SessionType, Timestamp, UserId, UserSession};
use sea_orm::sea_query::{
    Alias, Cond, Expr, Func, Order, PostgresQueryBuilder, Query, SelectStatement, SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult, Statement};
use uuid::Uuid;

use crate::counts::{add_stat, raw, ClientStat};
use crate::entity::{client, client_session, user, user_session};
use crate::StoreError;

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub session_type: Option<SessionType>,
    /// Username or clientId containing it, or IP address starting with it; any case.
    pub search: Option<String>,
    /// Only sessions holding a client session of this client.
    pub client: Option<ClientId>,
    /// Only this user's sessions.
    pub user: Option<UserId>,
}

/// A listed session: the session, its user's name, and the clients in it (id, clientId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    pub session: UserSession,
    pub username: String,
    pub clients: Vec<(ClientId, String)>,
    /// The client session's own last use, when the list is of one client's sessions.
    pub client_last_refresh: Option<Timestamp>,
}

fn s(col: user_session::Column) -> Expr {
    Expr::col((user_session::Entity, col))
}

const KINDS: [(SessionType, bool); 4] = [
    (SessionType::Regular, false),
    (SessionType::Regular, true),
    (SessionType::Offline, false),
    (SessionType::Offline, true),
];

fn ms_before(now: Timestamp, secs: i64) -> i64 {
    now.as_millis() - secs.saturating_mul(1000)
}

/// Within its kind's idle timeout and max lifespan at `now`.
fn in_time(realm: &Realm, now: Timestamp) -> Cond {
    use user_session::Column as C;
    let kind = |(t, rm): (SessionType, bool)| {
        let (idle, max) = latchkey_domain::session::lifetimes(&realm.limits, t, rm);
        let mut c = Cond::all()
            .add(s(C::SessionType).eq(t.as_str()))
            .add(s(C::RememberMe).eq(rm))
            .add(s(C::LastAccess).gt(ms_before(now, idle)));
        if let Some(max) = max {
            c = c.add(s(C::StartedAt).gt(ms_before(now, max)));
        }
        c
    };
    KINDS.into_iter().fold(Cond::any(), |any, k| any.add(kind(k)))
}

/// Active, started after the realm's cut-off and at or after its not-before: the rule of
/// [`crate::counts`], which time alone does not change.
fn counted(realm: &Realm, now: Timestamp) -> Cond {
    use user_session::Column as C;
    Cond::all().add(s(C::RealmId).eq(realm.id.as_uuid())).add(since_cutoff(realm, now))
}

/// Active and started after the realm's cut-off and not-before. When those lie further back
/// than any session can live they exclude nothing, and the `started_at` terms are written
/// `+started_at` so that SQLite's planner (which has no histogram to tell) does not walk the
/// whole realm through `ix_user_sessions_realm_started` instead of the activity index in list
/// order; right after a logout-all they are kept indexable, and the range of sessions started
/// since is what is read — a million dead sessions cost nothing before the reaper ends them.
fn since_cutoff(realm: &Realm, now: Timestamp) -> Cond {
    use user_session::Column as C;
    let floor = realm.session_cutoff.as_millis().max(realm.not_before.saturating_mul(1000));
    let longest = KINDS
        .iter()
        .map(|(t, rm)| latchkey_domain::session::lifetimes(&realm.limits, *t, *rm))
        .map(|(idle, max)| max.unwrap_or(i64::MAX / 2_000).max(idle))
        .max()
        .unwrap_or(0);
    let started = if floor > ms_before(now, longest) {
        s(C::StartedAt)
    } else {
        Expr::expr(Expr::cust_with_expr("+$1", Expr::col((user_session::Entity, C::StartedAt))))
    };
    Cond::all()
        .add(s(C::State).eq("ACTIVE"))
        .add(started.clone().gt(realm.session_cutoff.as_millis()))
        .add(started.gte(realm.not_before.saturating_mul(1000)))
}

/// The liveness rule in SQL: counted, within the user's not-before and enabled, and within its
/// kind's idle timeout and max lifespan.
fn alive(realm: &Realm, now: Timestamp) -> Cond {
    use user_session::Column as C;
    counted(realm, now)
        .add(s(C::StartedAt).gte(Expr::col((user::Entity, user::Column::NotBefore)).mul(1000)))
        .add(Expr::col((user::Entity, user::Column::Enabled)).eq(true))
        .add(in_time(realm, now))
}

/// `%term%` for `LIKE … ESCAPE '\\'`, lower-cased.
fn like_pattern(term: &str) -> String {
    format!("%{}%", term.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// What a search matches, as a condition on the joined rows (the exact counts' form).
fn search_condition(realm: &Realm, term: &str) -> Cond {
    use sea_orm::sea_query::LikeExpr;
    let pattern = like_pattern(term);
    let users_q = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(Expr::col(user::Column::RealmId).eq(realm.id.as_uuid()))
        .and_where(Expr::col(user::Column::Username).like(LikeExpr::new(&pattern).escape('\\')))
        .to_owned();
    let clients_q = Query::select()
        .column(client::Column::Id)
        .from(client::Entity)
        .and_where(Expr::col(client::Column::RealmId).eq(realm.id.as_uuid()))
        .and_where(
            Expr::expr(Func::lower(Expr::col(client::Column::ClientId))).like(LikeExpr::new(&pattern).escape('\\')),
        )
        .to_owned();
    let prefix = term.to_lowercase();
    Cond::any()
        .add(
            Cond::all()
                .add(s(user_session::Column::IpAddress).gte(prefix.clone()))
                .add(s(user_session::Column::IpAddress).lt(format!("{prefix}\u{10FFFF}"))),
        )
        .add(s(user_session::Column::UserId).in_subquery(users_q))
        .add(
            s(user_session::Column::Id).in_subquery(
                Query::select()
                    .column(client_session::Column::UserSessionId)
                    .from(client_session::Entity)
                    .and_where(Expr::col(client_session::Column::ClientId).in_subquery(clients_q))
                    .to_owned(),
            ),
        )
}

fn build(backend: DatabaseBackend, q: &SelectStatement) -> Statement {
    let (sql, values) = match backend {
        DatabaseBackend::Postgres => q.build(PostgresQueryBuilder),
        _ => q.build(SqliteQueryBuilder),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn base(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    now: Timestamp,
) -> Result<SelectStatement, StoreError> {
    // The exact counts' form (what the tests check the API's reads against), not read by the
    // API. On SQLite `CROSS JOIN` fixes the loop order: the sessions (or, for one client, its
    // client sessions) drive, and each row's session and user are looked up.
    let join = match db.get_database_backend() {
        DatabaseBackend::Sqlite => sea_orm::sea_query::JoinType::CrossJoin,
        _ => sea_orm::sea_query::JoinType::InnerJoin,
    };
    let mut q = Query::select();
    match filter.client {
        Some(client_id) => {
            q.from(client_session::Entity)
                .join(
                    join,
                    user_session::Entity,
                    s(user_session::Column::Id).equals((client_session::Entity, client_session::Column::UserSessionId)),
                )
                .and_where(
                    Expr::col((client_session::Entity, client_session::Column::ClientId)).eq(client_id.as_uuid()),
                );
        }
        None => {
            q.from(user_session::Entity);
        }
    }
    q.join(
        join,
        user::Entity,
        Expr::col((user::Entity, user::Column::Id)).equals((user_session::Entity, user_session::Column::UserId)),
    )
    .cond_where(alive(realm, now));
    if let Some(t) = filter.session_type {
        q.and_where(s(user_session::Column::SessionType).eq(t.as_str()));
    }
    if let Some(user_id) = filter.user {
        q.and_where(s(user_session::Column::UserId).eq(user_id.as_uuid()));
    }
    if let Some(term) = search_term(filter) {
        q.cond_where(search_condition(realm, term));
    }
    Ok(q)
}

#[derive(FromQueryResult)]
struct Row {
    id: Uuid,
    realm_id: Uuid,
    user_id: Uuid,
    session_type: String,
    ip_address: String,
    user_agent: Option<String>,
    started_at: i64,
    last_access: i64,
    remember_me: bool,
    state: String,
    ended_at: Option<i64>,
    end_reason: Option<String>,
    origin_id: Option<Uuid>,
    username: String,
    client_last_refresh: Option<i64>,
}

/// One page of the sessions `filter` matches, and how many match in all.
pub async fn page(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    now: Timestamp,
) -> Result<(Vec<ListedSession>, u64), StoreError> {
    if matching(filter) {
        let (ids, total) = matched_page(db, realm, filter, first, max, now).await?;
        return Ok((by_ids(db, &ids, filter.client).await?, total));
    }
    let total = count(db, realm, filter, now).await?;
    let ids = live_page_of(db, realm, filter, first, max, total, now).await?;
    Ok((by_ids(db, &ids, filter.client).await?, total))
}

/// One page of live sessions, newest activity first (for one client: newest use by it first).
pub async fn list(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    now: Timestamp,
) -> Result<Vec<ListedSession>, StoreError> {
    let ids = if matching(filter) {
        matched_page(db, realm, filter, first, max, now).await?.0
    } else {
        live_page(db, realm, filter, first, max, Walk::NewestFirst, now).await?
    };
    by_ids(db, &ids, filter.client).await
}

/// The filter's search text, trimmed; `None` when blank.
fn search_term(filter: &SessionFilter) -> Option<&str> {
    filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Whether the filter names the sessions it wants (a search, a user) rather than a range of
/// the realm's: then the sessions it matches are read, not the realm's live range.
fn matching(filter: &SessionFilter) -> bool {
    search_term(filter).is_some() || filter.user.is_some()
}

/// What [`matched_statement`] reads: a page of ids (each row with the number of all matched,
/// `total`), or only how many there are.
#[derive(Clone, Copy)]
enum Read {
    Page {
        first: u64,
        max: u64,
    },
    Count,
    /// Every matched row as (id, last_access), unordered: for a statement around it.
    Rows,
}

/// Which clients' sessions a search reads, besides the users and addresses it matches.
#[derive(Clone, Copy)]
enum Clients<'a> {
    /// Those whose clientId contains the term, found by the statement itself.
    Named,
    /// These, found beforehand (by [`named_clients`]); with `except`, only sessions that do not
    /// hold that client are counted.
    These { ids: &'a [Uuid], except: Option<Uuid> },
}

/// The sessions a search or a user names, live at `now`: each source reads only what it matches
/// and only live rows of it — a user's sessions through `ix_user_sessions_user_live` (`state =
/// 'ACTIVE' AND expires_at > now`, one range per user), an address prefix through
/// `ix_user_sessions_realm_ip`, a clientId's sessions through its client sessions — so what a
/// search costs grows with what it finds, never with the realm's sessions or with the dead
/// ones of other people. Each source applies the rule (cut-off, not-before, type; the user's
/// enabled and not-before, on the user the users' source has read already and the others look
/// up) to the row it read, and leaves out what a source before it matches (the address source
/// a session of a matched user, the clients' one both), so no session is found twice and the
/// sources are merged as they come (`UNION ALL`: nothing sorted or kept to remove duplicates —
/// at ten thousand matches a third of the statement's time), and the page is sorted newest
/// activity first, with the number of all matched beside each row (`COUNT(*) OVER ()`: the page and its total in one pass). The same plan for
/// every shape of data: the joins are `CROSS JOIN` and the indexes named on SQLite; PostgreSQL
/// finds the same ones.
fn matched_statement(
    backend: DatabaseBackend,
    realm: &Realm,
    filter: &SessionFilter,
    clients: Clients<'_>,
    read: Read,
    now: Timestamp,
) -> Statement {
    let (sql, values) = matched_sql(backend, realm, filter, clients, read, now);
    raw(backend, &sql, values)
}

/// [`matched_statement`] as SQL with `?` placeholders and its values.
fn matched_sql(
    backend: DatabaseBackend,
    realm: &Realm,
    filter: &SessionFilter,
    clients: Clients<'_>,
    read: Read,
    now: Timestamp,
) -> (String, Vec<sea_orm::Value>) {
    let sqlite = backend != DatabaseBackend::Postgres;
    let by_user = if sqlite { " INDEXED BY ix_user_sessions_user_live" } else { "" };
    let by_ip = if sqlite { " INDEXED BY ix_user_sessions_realm_ip" } else { "" };
    let names = if sqlite { " INDEXED BY ux_users_realm_username" } else { "" };
    // The rule's part a session row answers alone, with its values (appended per source).
    let mut rule = String::from(
        "us.state = 'ACTIVE' AND us.expires_at > ? AND us.realm_id = ? AND us.started_at > ? AND us.started_at >= ?",
    );
    let mut rule_values: Vec<sea_orm::Value> = vec![
        now.as_millis().into(),
        realm.id.as_uuid().into(),
        realm.session_cutoff.as_millis().into(),
        realm.not_before.saturating_mul(1000).into(),
    ];
    if let Some(kind) = filter.session_type {
        rule.push_str(" AND us.session_type = ?");
        rule_values.push(kind.as_str().into());
    }
    if let Some(user) = filter.user {
        rule.push_str(" AND us.user_id = ?");
        rule_values.push(user.as_uuid().into());
    }
    if let Some(client) = filter.client {
        rule.push_str(
            " AND EXISTS (SELECT 1 FROM client_sessions hc WHERE hc.user_session_id = us.id AND hc.client_id = ?)",
        );
        rule_values.push(client.as_uuid().into());
    }
    // The user's part of the rule, on the user each source reads or joins (`u`).
    let user_rule = "u.enabled = ? AND us.started_at >= u.not_before * 1000";
    let row = "SELECT us.id AS id, us.last_access AS last_access";
    let mut sources = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    // Each source's rule, its user's part and, past the first, that the sources before it did
    // not match the row (so the sources are disjoint and are merged as they are: `UNION ALL`).
    let mut source = |sql: String, own: Vec<sea_orm::Value>, earlier: &[(&str, Vec<sea_orm::Value>)]| {
        let mut sql = format!("{sql} AND {rule} AND {user_rule}");
        values.extend(own);
        values.extend(rule_values.iter().cloned());
        values.push(true.into());
        for (matched, matched_values) in earlier {
            sql.push_str(&format!(" AND NOT ({matched})"));
            values.extend(matched_values.iter().cloned());
        }
        sources.push(sql);
    };
    match search_term(filter) {
        Some(term) => {
            let pattern = like_pattern(term);
            let prefix = term.to_lowercase();
            let by_name = ("u.username LIKE ? ESCAPE '\\'", vec![pattern.clone().into()]);
            let by_address = (
                "us.ip_address >= ? AND us.ip_address < ?",
                vec![prefix.clone().into(), format!("{prefix}\u{10FFFF}").into()],
            );
            // Each matched user's live sessions, one range of `ix_user_sessions_user_live`:
            // SQLite is told the index and the loop order; PostgreSQL reads them in a subquery of
            // each user (`LATERAL`, kept whole by `OFFSET 0`): joined, its statistics priced ten
            // thousand lookups above one pass over every session of the realm (`user42` among a
            // million one-hour sessions: 140-190 ms, in the subquery 15-19 ms).
            let (sessions, mut own) = if sqlite {
                (format!("user_sessions us{by_user}"), Vec::new())
            } else {
                (
                    "LATERAL (SELECT * FROM user_sessions us WHERE us.user_id = u.id AND us.state = 'ACTIVE' \
                     AND us.expires_at > ? OFFSET 0) us"
                        .to_owned(),
                    vec![now.as_millis().into()],
                )
            };
            own.push(realm.id.as_uuid().into());
            own.extend(by_name.1.iter().cloned());
            source(
                format!(
                    "{row} FROM users u{names} CROSS JOIN {sessions} WHERE u.realm_id = ? AND {} AND us.user_id = u.id",
                    by_name.0
                ),
                own,
                &[],
            );
            source(
                format!(
                    "{row} FROM user_sessions us{by_ip} CROSS JOIN users u WHERE {} AND u.id = us.user_id",
                    by_address.0
                ),
                by_address.1.clone(),
                std::slice::from_ref(&by_name),
            );
            match clients {
                Clients::Named => {
                    // A session holding two of the clients is found twice here: `DISTINCT`.
                    let named = "SELECT DISTINCT us.id AS id, us.last_access AS last_access \
                         FROM clients mc CROSS JOIN client_sessions cs CROSS JOIN user_sessions us CROSS JOIN users u \
                         WHERE mc.realm_id = ? AND lower(mc.client_id) LIKE ? ESCAPE '\\' AND cs.client_id = mc.id \
                           AND us.id = cs.user_session_id AND u.id = us.user_id";
                    source(named.to_string(), vec![realm.id.as_uuid().into(), pattern.into()], &[by_name, by_address]);
                }
                Clients::These { ids, .. } if !ids.is_empty() => {
                    // Their live client sessions only (ranges of `ix_client_sessions_live`, one
                    // row per session), each session then read for the rest of the rule.
                    if let Some((held, held_values)) = live_arms(backend, realm, filter.session_type, ids, None, now) {
                        source(
                            format!(
                                "{row} FROM ({held}) held CROSS JOIN user_sessions us CROSS JOIN users u \
                                 WHERE us.id = held.id AND u.id = us.user_id"
                            ),
                            held_values,
                            &[by_name, by_address],
                        );
                    }
                }
                Clients::These { .. } => {}
            }
        }
        None => {
            // A user's list (`filter.user` is set: `matching` said so).
            source(
                format!("{row} FROM user_sessions us{by_user} CROSS JOIN users u WHERE u.id = us.user_id"),
                vec![],
                &[],
            );
        }
    }
    let mut from = format!("FROM ({}) m", sources.join(" UNION ALL "));
    if let Clients::These { except: Some(held), .. } = clients {
        from.push_str(
            " WHERE NOT EXISTS (SELECT 1 FROM client_sessions xc WHERE xc.user_session_id = m.id AND xc.client_id = ?)",
        );
        values.push(held.into());
    }
    let sql = match read {
        Read::Page { first, max } => format!(
            "SELECT m.id AS id, COUNT(*) OVER () AS total {from} \
             ORDER BY m.last_access DESC, m.id DESC LIMIT {max} OFFSET {first}"
        ),
        Read::Count => format!("SELECT COUNT(*) AS n {from}"),
        Read::Rows => format!("SELECT m.id AS id, m.last_access AS last_access {from}"),
    };
    (sql, values)
}

/// The clients a search's term names, each with how many live sessions hold it (of the
/// filter's type), most first — from the maintained counts, a client without live sessions
/// left out. `None` where a search is read as one statement instead (no term; a user's or a
/// client's list, which bound what is read by themselves).
async fn named_clients(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    now: Timestamp,
) -> Result<Option<Vec<(Uuid, u64)>>, StoreError> {
    let Some(term) = search_term(filter) else { return Ok(None) };
    if filter.user.is_some() || filter.client.is_some() {
        return Ok(None);
    }
    let term = term.to_lowercase();
    let names_term = |name: &str| name.to_lowercase().contains(&term);
    let mut named: Vec<(Uuid, u64)> = crate::counts::by_client_named(db, realm.id, names_term, Some(now))
        .await?
        .into_iter()
        .map(|(id, _, regular, offline)| {
            let n = match filter.session_type {
                Some(SessionType::Regular) => regular,
                Some(SessionType::Offline) => offline,
                None => regular + offline,
            };
            (id.as_uuid(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    named.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Some(named))
}

/// A page of what a search or a user matches, and how many match in all. A search whose term
/// names clients holding many sessions is read as [`searched_page`] says; otherwise what
/// matches is read whole, page and total in one statement ([`matched_statement`]).
async fn matched_page(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    now: Timestamp,
) -> Result<(Vec<Uuid>, u64), StoreError> {
    let named = named_clients(db, realm, filter, now).await?;
    let ids: Vec<Uuid> = named.iter().flatten().map(|(id, _)| *id).collect();
    let clients = match &named {
        None => Clients::Named,
        Some(named) => {
            let held: u64 = named.iter().map(|(_, n)| n).sum();
            // Walking the live range reads about (first + max) × live / held entries, reading the
            // clients' sessions `held`: the walk when it is the shorter (at a million live
            // sessions, for a first page, when the clients hold more than ~3,200 of them). No
            // client named: nothing to weigh, and the realm is not counted for it.
            if held > 0 {
                let live = crate::counts::alive(db, realm.id, None, filter.session_type, now).await?;
                if held.saturating_mul(held) > (first + max).saturating_mul(live) {
                    return searched_page(db, realm, filter, Named { clients: named, live }, first, max, now).await;
                }
            }
            Clients::These { ids: &ids, except: None }
        }
    };
    #[derive(FromQueryResult)]
    struct Listed {
        id: Uuid,
        total: i64,
    }
    let backend = db.get_database_backend();
    let page = matched_statement(backend, realm, filter, clients, Read::Page { first, max }, now);
    let rows = Listed::find_by_statement(page).all(db).await?;
    let total = match rows.first() {
        Some(row) => row.total.max(0) as u64,
        // Past the end (or nothing matched): the total on its own.
        None if first > 0 => count_of(db, matched_statement(backend, realm, filter, clients, Read::Count, now)).await?,
        None => 0,
    };
    Ok((rows.into_iter().map(|r| r.id).collect(), total))
}

/// A page of a search whose term names clients holding many live sessions, and its total,
/// reading neither all of their sessions nor anything dead:
/// - the page: the newest `first + max` of each of the clients' live ranges
///   (`ix_client_sessions_live`, per kind), merged with the live sessions of the users and
///   addresses matched;
/// - the total: the live sessions holding the client with the most, from the maintained counts,
///   plus those the users, addresses and the other clients add — counted from what they match,
///   each probed for holding the first client ([`named_total`]). A term naming one client
///   (`demo-web`) reads nothing in proportion to its sessions; one naming several reads the
///   live ones of all but the largest, unless the largest is held by every live session.
async fn searched_page(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    named: Named<'_>,
    first: u64,
    max: u64,
    now: Timestamp,
) -> Result<(Vec<Uuid>, u64), StoreError> {
    #[derive(FromQueryResult)]
    struct Id {
        id: Uuid,
    }
    let backend = db.get_database_backend();
    let ids: Vec<Uuid> = named.clients.iter().map(|(id, _)| *id).collect();
    let total = named_total(db, realm, filter, named, now).await?;
    let Some(statement) = searched_statement(backend, realm, filter, &ids, first, max, now) else {
        return Ok((Vec::new(), total));
    };
    let rows = Id::find_by_statement(statement).all(db).await?;
    Ok((rows.into_iter().map(|r| r.id).collect(), total))
}

/// The clients a search's term names, with their live sessions, most first ([`named_clients`]),
/// and the realm's live sessions (of the filter's type).
#[derive(Clone, Copy)]
struct Named<'a> {
    clients: &'a [(Uuid, u64)],
    live: u64,
}

/// How many live sessions a search matches whose term names these clients (most sessions
/// first, none empty): the first's maintained count, plus the sessions the users, addresses
/// and other clients matched add to it — counted from what they match (live client sessions
/// only), each probed for holding the first. When the first is held by every live session of
/// the realm nothing can add to it, and nothing is read.
async fn named_total(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    named: Named<'_>,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let Some(((largest, held), rest)) = named.clients.split_first() else { return Ok(0) };
    if *held >= named.live {
        return Ok(*held);
    }
    let others: Vec<Uuid> = rest.iter().map(|(id, _)| *id).collect();
    let added = Clients::These { ids: &others, except: Some(*largest) };
    let backend = db.get_database_backend();
    Ok(held + count_of(db, matched_statement(backend, realm, filter, added, Read::Count, now)).await?)
}

/// The page statement of [`searched_page`]: the users' and addresses' live matches `UNION`
/// the newest of the live ranges of `clients`.
fn searched_statement(
    backend: DatabaseBackend,
    realm: &Realm,
    filter: &SessionFilter,
    clients: &[Uuid],
    first: u64,
    max: u64,
    now: Timestamp,
) -> Option<Statement> {
    let (found, mut values) =
        matched_sql(backend, realm, filter, Clients::These { ids: &[], except: None }, Read::Rows, now);
    let (arms, arm_values) =
        live_arms(backend, realm, filter.session_type, clients, Some((first + max, Walk::NewestFirst)), now)?;
    let sql = format!(
        "SELECT id FROM ({found} UNION SELECT id, last_access FROM ({arms}) held) page \
         ORDER BY last_access DESC, id DESC LIMIT {max} OFFSET {first}"
    );
    values.extend(arm_values);
    Some(raw(backend, &sql, values))
}

/// How many sessions a search or a user matches (as [`matched_page`] counts them).
async fn matched_count(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let backend = db.get_database_backend();
    match named_clients(db, realm, filter, now).await? {
        None => count_of(db, matched_statement(backend, realm, filter, Clients::Named, Read::Count, now)).await,
        Some(named) => match named.split_first() {
            None => {
                let none = Clients::These { ids: &[], except: None };
                count_of(db, matched_statement(backend, realm, filter, none, Read::Count, now)).await
            }
            Some(_) => {
                let live = crate::counts::alive(db, realm.id, None, filter.session_type, now).await?;
                named_total(db, realm, filter, Named { clients: &named, live }, now).await
            }
        },
    }
}

/// The number a `SELECT COUNT(*) AS n …` statement answers.
async fn count_of(db: &impl ConnectionTrait, statement: Statement) -> Result<u64, StoreError> {
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    Ok(Count::find_by_statement(statement).one(db).await?.map_or(0, |r| r.n.max(0) as u64))
}

/// The listed sessions of these rows, with the clients each holds.
async fn listed(db: &impl ConnectionTrait, rows: Vec<Row>) -> Result<Vec<ListedSession>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let clients = clients_of(db, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let session = UserSession {
                id: r.id.into(),
                origin: r.origin_id.map(Into::into),
                realm_id: r.realm_id.into(),
                user_id: r.user_id.into(),
                session_type: r.session_type.parse()?,
                ip_address: r.ip_address,
                user_agent: r.user_agent,
                started_at: Timestamp::from_millis(r.started_at),
                last_access: Timestamp::from_millis(r.last_access),
                remember_me: r.remember_me,
                state: r.state.parse()?,
                ended_at: r.ended_at.map(Timestamp::from_millis),
                end_reason: r.end_reason.as_deref().map(str::parse).transpose()?,
            };
            let held = clients
                .iter()
                .filter(|(sid, _, _)| *sid == session.id)
                .map(|(_, id, name)| (*id, name.clone()))
                .collect();
            Ok(ListedSession {
                session,
                username: r.username,
                clients: held,
                client_last_refresh: r.client_last_refresh.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// The ids of one page of the realm's live sessions (of one client, of one type, if the filter
/// says), newest activity first. One range per kind of session (type and remember-me) of
/// `ix_user_sessions_live`, which holds only active rows (for a client, of
/// `ix_client_sessions_live`, which holds its client sessions, kept only while their sessions
/// are active, with their sessions' kind, last access and start): sessions used within the kind's idle
/// timeout and since the realm's cut-off and not-before (a live session was used after it
/// started, and it started after both). A session that timed out by idle, or was cut off by a
/// logout-all or a not-before, is outside every range read, however many there are; the
/// ranges are merged by last access. Only a session past its max lifespan while still within
/// its idle timeout is read and passed over (the reaper ends those within its interval). The
/// same plan whatever the data's shape: SQLite is told the index (`INDEXED BY`), PostgreSQL
/// reads the same ranges by itself. (A disabled user's sessions, and those before a user's
/// not-before, are ended in the transaction that disables or signs the user out, so no user is
/// read per entry; [`by_ids`] still leaves out a row a race could leave behind.)
async fn live_page(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    walk: Walk,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    #[derive(FromQueryResult)]
    struct Id {
        id: Uuid,
    }
    let Some(statement) = live_page_statement(db.get_database_backend(), realm, filter, first, max, walk, now) else {
        return Ok(Vec::new());
    };
    let ids = Id::find_by_statement(statement).all(db).await?.into_iter().map(|r| r.id);
    Ok(match walk {
        Walk::NewestFirst => ids.collect(),
        Walk::OldestFirst => ids.rev().collect(),
    })
}

/// [`live_page`] knowing how many sessions the list holds, `total` (counted in the same
/// snapshot, by the same rule): a page past the end reads nothing, and a page past the middle
/// is read from the other end, oldest activity first — no page reads more than half the list
/// and a page. Past a mass expiry or during one on PostgreSQL each entry walked past may cost a
/// table row (its page no longer marked all-visible), so what a deep page walks is what it
/// costs: a client's page at 10,000 of its 8,400 live sessions walked all 8,400 for nothing.
async fn live_page_of(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    total: u64,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    // From `first` to the end of the list: what a walk from the other end reads.
    let rest = total.saturating_sub(first);
    if rest == 0 {
        return Ok(Vec::new());
    }
    if rest >= first + max {
        return live_page(db, realm, filter, first, max, Walk::NewestFirst, now).await;
    }
    // Positions `first..first + take` newest first are `rest - take..rest` oldest first.
    let take = rest.min(max);
    live_page(db, realm, filter, rest - take, take, Walk::OldestFirst, now).await
}

/// Which end of the list a page is walked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Newest activity first: the list's own order.
    NewestFirst,
    /// Oldest activity first: the list's order reversed.
    OldestFirst,
}

impl Walk {
    fn order(self) -> &'static str {
        match self {
            Walk::NewestFirst => "DESC",
            Walk::OldestFirst => "ASC",
        }
    }
}

/// The statement of [`live_page`] (walked from `walk`'s end); `None` when no kind of session
/// is asked for.
fn live_page_statement(
    backend: DatabaseBackend,
    realm: &Realm,
    filter: &SessionFilter,
    first: u64,
    max: u64,
    walk: Walk,
    now: Timestamp,
) -> Option<Statement> {
    let holding: Vec<Uuid> = filter.client.iter().map(ClientId::as_uuid).collect();
    let (arms, values) = live_arms(backend, realm, filter.session_type, &holding, Some((first + max, walk)), now)?;
    let order = walk.order();
    let sql =
        format!("SELECT id FROM ({arms}) live ORDER BY last_access {order}, id {order} LIMIT {max} OFFSET {first}");
    Some(raw(backend, &sql, values))
}

/// The live sessions of each kind (of `kind` only, if given) — the realm's, or those holding a
/// client session of one of `holding` — as (id, last_access) rows, the first `limit` of each
/// range from the end the walk says when a limit is given: one range per kind of
/// `ix_user_sessions_live` for the realm, or of `ix_client_sessions_live` per kind and client
/// (migration 14), merged (`UNION` where several clients may name one session twice). Each
/// range starts at the kind's idle floor and the realm's cut-off and not-before, so what timed
/// out or was cut off is never read. `None` when no kind is asked for.
fn live_arms(
    backend: DatabaseBackend,
    realm: &Realm,
    kind: Option<SessionType>,
    holding: &[Uuid],
    limit: Option<(u64, Walk)>,
    now: Timestamp,
) -> Option<(String, Vec<sea_orm::Value>)> {
    let sqlite = backend != DatabaseBackend::Postgres;
    let floor = realm.session_cutoff.as_millis().max(realm.not_before.saturating_mul(1000) - 1);
    // (table and index, the owner's column, id, last access, start) of the rows a range reads.
    let (from, owner, id, used, started) = if holding.is_empty() {
        ("user_sessions us", "us.realm_id", "us.id", "us.last_access", "us.started_at")
    } else {
        ("client_sessions us", "us.client_id", "us.user_session_id", "us.session_last_access", "us.session_started_at")
    };
    let index = match (sqlite, holding.is_empty()) {
        (false, _) => "",
        (true, true) => " INDEXED BY ix_user_sessions_live",
        (true, false) => " INDEXED BY ix_client_sessions_live",
    };
    // The realm's sessions are its active rows; a client session exists only while its session
    // is active (an ending deletes it), so its index holds no condition on the state.
    let active = if holding.is_empty() { " AND us.state = 'ACTIVE'" } else { "" };
    let owners: Vec<sea_orm::Value> = if holding.is_empty() {
        vec![realm.id.as_uuid().into()]
    } else {
        holding.iter().map(|c| sea_orm::Value::from(*c)).collect()
    };
    let bounded = limit.map_or(String::new(), |(n, walk)| {
        let order = walk.order();
        format!(" ORDER BY {used} {order}, {id} {order} LIMIT {n}")
    });
    let mut arms = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    for (each, remember_me) in KINDS {
        if kind.is_some_and(|t| t != each) {
            continue;
        }
        let (idle, lifespan) = latchkey_domain::session::lifetimes(&realm.limits, each, remember_me);
        let used_after = ms_before(now, idle).max(floor);
        let started_after = lifespan.map_or(floor, |max| ms_before(now, max).max(floor));
        for owner_id in &owners {
            arms.push(format!(
                "SELECT * FROM (SELECT {id} AS id, {used} AS last_access FROM {from}{index} \
                 WHERE {owner} = ? AND us.session_type = '{each}' AND us.remember_me = ?{active} \
                   AND {used} > ? AND {started} > ? AND {started} >= ?{bounded}) arm{n}",
                each = each.as_str(),
                n = arms.len(),
            ));
            values.extend([
                owner_id.clone(),
                remember_me.into(),
                used_after.into(),
                started_after.into(),
                realm.not_before.saturating_mul(1000).into(),
            ]);
        }
    }
    let merge = if owners.len() > 1 { " UNION " } else { " UNION ALL " };
    (!arms.is_empty()).then(|| (arms.join(merge), values))
}

/// How the database runs each query of the realm-wide and per-client lists and counts, as it
/// explains them (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL): (what, plan).
/// `docs/schema.md` shows them; a test checks that each reads the index it is written for.
pub async fn explain(
    db: &impl ConnectionTrait,
    realm: &Realm,
    client: ClientId,
    user: UserId,
    now: Timestamp,
) -> Result<Vec<(String, String)>, StoreError> {
    let backend = db.get_database_backend();
    let mut statements = Vec::new();
    let search = SessionFilter { search: Some("user4".into()), ..Default::default() };
    statements.push((
        "search, first page".to_owned(),
        matched_statement(backend, realm, &search, Clients::Named, Read::Page { first: 0, max: 10 }, now),
    ));
    let of_user = SessionFilter { user: Some(user), ..Default::default() };
    statements.push((
        "a user's sessions, count".to_owned(),
        matched_statement(backend, realm, &of_user, Clients::Named, Read::Count, now),
    ));
    let held = [client.as_uuid()];
    if let Some(statement) = searched_statement(backend, realm, &search, &held, 0, 10, now) {
        statements.push(("search naming a client, page: walk of the live range".to_owned(), statement));
    }
    let beyond = Clients::These { ids: &[], except: Some(client.as_uuid()) };
    statements.push((
        "search naming a client, total beside the client's count".to_owned(),
        matched_statement(backend, realm, &search, beyond, Read::Count, now),
    ));
    // (The client counted stands in for the largest one named.)
    let others = Clients::These { ids: &held, except: Some(Uuid::nil()) };
    statements.push((
        "search naming several clients, what the others add to the largest's count".to_owned(),
        matched_statement(backend, realm, &search, others, Read::Count, now),
    ));
    let of_client = SessionFilter { client: Some(client), ..Default::default() };
    for (what, filter, first, walk) in [
        ("realm list, first page", SessionFilter::default(), 0, Walk::NewestFirst),
        (
            "realm list, offline",
            SessionFilter { session_type: Some(SessionType::Offline), ..Default::default() },
            0,
            Walk::NewestFirst,
        ),
        ("client list, page at 10000", of_client.clone(), 10_000, Walk::NewestFirst),
        ("client list, a page past the middle: walked oldest first", of_client, 10_000, Walk::OldestFirst),
    ] {
        if let Some(statement) = live_page_statement(backend, realm, &filter, first, 10, walk, now) {
            statements.push((what.to_owned(), statement));
        }
    }
    statements.extend(crate::counts::statements(backend, realm.id, client, now));
    {
        use sea_orm::{QuerySelect, QueryTrait};
        let expired = crate::sessions::expired(realm.id, (i64::MIN, i64::MAX), now, 500);
        statements.push(("reaper: timed-out sessions, latest first".to_owned(), expired.build(backend)));
        let ended = crate::sessions::ended(now, 500).select_only().column(user_session::Column::Id);
        statements.push(("reaper: ended rows to remove, oldest first".to_owned(), ended.build(backend)));
    }
    let mut plans = Vec::new();
    for (what, statement) in statements {
        let prefix = if backend == DatabaseBackend::Postgres { "EXPLAIN " } else { "EXPLAIN QUERY PLAN " };
        let explained = Statement::from_sql_and_values(
            backend,
            format!("{prefix}{}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = db.query_all(explained).await?;
        let lines: Vec<String> = rows
            .iter()
            .map(|row| {
                row.try_get::<String>("", if backend == DatabaseBackend::Postgres { "QUERY PLAN" } else { "detail" })
                    .unwrap_or_default()
            })
            .collect();
        plans.push((what, lines.join("\n")));
    }
    Ok(plans)
}

/// The rows of these sessions, in this order; with the client's own last use when `client`.
/// (`CROSS JOIN`: SQLite reads the page's sessions by id and then their users, never the other
/// way round.)
async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    client: Option<ClientId>,
) -> Result<Vec<ListedSession>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let marks = vec!["?"; ids.len()].join(", ");
    let (refresh, join) = match client {
        Some(_) => {
            ("cs.last_refresh", " LEFT JOIN client_sessions cs ON cs.user_session_id = us.id AND cs.client_id = ?")
        }
        None => ("NULL", ""),
    };
    let mut values: Vec<sea_orm::Value> = Vec::new();
    if let Some(client) = client {
        values.push(client.as_uuid().into());
    }
    values.extend(ids.iter().map(|id| sea_orm::Value::from(*id)));
    values.push(true.into());
    let sql = format!(
        "SELECT us.id, us.realm_id, us.user_id, us.session_type, us.ip_address, us.user_agent, us.started_at, \
         us.last_access, us.remember_me, us.state, us.ended_at, us.end_reason, us.origin_id, \
         u.username AS username, {refresh} AS client_last_refresh \
         FROM user_sessions us CROSS JOIN users u{join} WHERE us.id IN ({marks}) \
           AND u.id = us.user_id AND u.enabled = ? AND us.started_at >= u.not_before * 1000"
    );
    let mut rows = Row::find_by_statement(raw(backend, &sql, values)).all(db).await?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    listed(db, rows).await
}

/// How many sessions match. Without a search or a user, from the maintained counts as
/// [`crate::counts::alive`] reads them (exact at `now`, whatever the reaper has not ended yet);
/// for a search or a user, counted from the live sessions they match (`matched_statement`).
pub async fn count(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    now: Timestamp,
) -> Result<u64, StoreError> {
    if matching(filter) {
        return matched_count(db, realm, filter, now).await;
    }
    crate::counts::alive(db, realm.id, filter.client, filter.session_type, now).await
}

/// How many live sessions match, counted in another form than the API's (a join over the
/// realm's sessions with the rule as conditions): exact at `now`, as slow as what it reads;
/// what the tests check the maintained counts, the lists and the searches against.
pub async fn count_exact(
    db: &impl ConnectionTrait,
    realm: &Realm,
    filter: &SessionFilter,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let mut q = base(db, realm, filter, now).await?;
    q.expr_as(Expr::col((user_session::Entity, user_session::Column::Id)).count(), Alias::new("n"));
    count_of(db, build(db.get_database_backend(), &q)).await
}

/// (session id, client id, clientId) of the client sessions of these sessions.
async fn clients_of(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<(SessionId, ClientId, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(FromQueryResult)]
    struct Held {
        user_session_id: Uuid,
        client_id: Uuid,
        client_name: String,
    }
    let q = Query::select()
        .column((client_session::Entity, client_session::Column::UserSessionId))
        .column((client_session::Entity, client_session::Column::ClientId))
        .expr_as(Expr::col((client::Entity, client::Column::ClientId)), Alias::new("client_name"))
        .from(client_session::Entity)
        .inner_join(
            client::Entity,
            Expr::col((client::Entity, client::Column::Id))
                .equals((client_session::Entity, client_session::Column::ClientId)),
        )
        .and_where(
            Expr::col((client_session::Entity, client_session::Column::UserSessionId)).is_in(ids.iter().copied()),
        )
        .order_by((client::Entity, client::Column::ClientId), Order::Asc)
        .to_owned();
    let rows = Held::find_by_statement(build(db.get_database_backend(), &q)).all(db).await?;
    Ok(rows.into_iter().map(|h| (h.user_session_id.into(), h.client_id.into(), h.client_name)).collect())
}

/// Per client of the realm with at least one live session: (client id, clientId, regular,
/// offline), from the maintained counts (see [`crate::counts::by_client`]).
pub async fn client_stats(
    db: &impl ConnectionTrait,
    realm: &Realm,
    now: Timestamp,
) -> Result<Vec<ClientStat>, StoreError> {
    crate::counts::by_client(db, realm.id, Some(now)).await
}

/// [`client_stats`] counted exactly from the live sessions at `now`, in one grouped pass over
/// the realm's client sessions (what the maintained counts are checked against).
pub async fn client_stats_exact(
    db: &impl ConnectionTrait,
    realm: &Realm,
    now: Timestamp,
) -> Result<Vec<ClientStat>, StoreError> {
    #[derive(FromQueryResult)]
    struct Group {
        client_id: Uuid,
        client_name: String,
        session_type: String,
        n: i64,
    }
    // One grouped pass over the realm's live client sessions, not two counts per client.
    let mut q = base(db, realm, &SessionFilter::default(), now).await?;
    q.inner_join(
        client_session::Entity,
        Expr::col((client_session::Entity, client_session::Column::UserSessionId))
            .equals((user_session::Entity, user_session::Column::Id)),
    )
    .inner_join(
        client::Entity,
        Expr::col((client::Entity, client::Column::Id))
            .equals((client_session::Entity, client_session::Column::ClientId)),
    )
    .expr_as(Expr::col((client::Entity, client::Column::Id)), Alias::new("client_id"))
    .expr_as(Expr::col((client::Entity, client::Column::ClientId)), Alias::new("client_name"))
    .expr_as(Expr::col((user_session::Entity, user_session::Column::SessionType)), Alias::new("session_type"))
    .expr_as(Expr::col((user_session::Entity, user_session::Column::Id)).count(), Alias::new("n"))
    .group_by_col((client::Entity, client::Column::Id))
    .group_by_col((client::Entity, client::Column::ClientId))
    .group_by_col((user_session::Entity, user_session::Column::SessionType))
    .order_by((client::Entity, client::Column::ClientId), Order::Asc);
    let groups = Group::find_by_statement(build(db.get_database_backend(), &q)).all(db).await?;
    let mut stats: Vec<ClientStat> = Vec::new();
    for g in groups {
        add_stat(&mut stats, g.client_id.into(), g.client_name, &g.session_type, g.n.max(0) as u64);
    }
    Ok(stats)
}
