//! The reaper: behind every ending that was left to it, one bounded batch per transaction (on
//! the store's background connections: see [`latchkey_store::Store::background`]) —
//! logout-all's cut-off sessions, a disabled client's sessions and a realm's sessions moved to
//! its new limits (pending jobs), sessions past their idle timeout or max lifespan, ended rows,
//! expired codes, admin events past their retention and stale sign-in failure counters. Every ending here goes through the one ending
//! step ([`crate::ending`]), so applications are told as for any other ending. On PostgreSQL it
//! has the session tables vacuumed behind what it changed (see [`Store::vacuum_sessions`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::{Liveness, Realm, SessionEnd, SessionId, Timestamp, UserSession};
use latchkey_store::jobs::{self, Job, JobKind};
use latchkey_store::{clients, codes, counts, events, login_failures, realms, sessions, Store, StoreError};
use tokio::sync::watch;

use crate::ending::{end_in, end_loaded, notify_client_sessions, How, BATCH, KEEP_ENDED_MS};
use crate::state::Lifecycle;

/// Ended session rows removed per pass at most (a pass runs every reaper interval, 10 s by
/// default, or sooner when woken): 2,500 rows a second at the default interval.
const REMOVE_PER_PASS: u64 = 50 * BATCH;

/// Sessions moved to their realm's new limits per transaction: a move writes no notification,
/// only the row and its counts' buckets.
const LIMITS_BATCH: u64 = 4 * BATCH;

/// Rows the reaper ends, removes or moves before it has the session tables vacuumed (on
/// PostgreSQL, at the end of a pass; see [`Store::vacuum_sessions`]): a mass expiry's removals
/// once it is caught up, a trickle every ten thousand.
const VACUUM_AFTER: u64 = 10_000;

/// After a vacuum the next waits this many times as long as it took: the tables are vacuumed a
/// fifth of the time at most (at ten million sessions a vacuum takes tens of seconds).
const VACUUM_REST: u32 = 4;

/// The session tables' vacuums the reaper asks for: what it changed since the last, whether one
/// is running, and until when the next waits.
#[derive(Debug, Default)]
pub(crate) struct Vacuums {
    changed: std::sync::atomic::AtomicU64,
    running: std::sync::atomic::AtomicBool,
    rest_until: std::sync::Mutex<Option<std::time::Instant>>,
}

/// What one pass of the reaper did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaped {
    pub cut_off: usize,
    pub expired: usize,
    pub client_sessions: usize,
    /// Sessions whose expiry moved to their realm's new limits.
    pub reexpired: u64,
    pub removed: u64,
    /// Admin events past their retention, and sign-in failure counters past their window.
    pub events_purged: u64,
    pub login_failures_purged: u64,
    /// Rows of the maintained counts forgotten: buckets gone by that sum to zero.
    pub counts_settled: u64,
}

impl Lifecycle {
    /// Wakes the reaper for work just committed (a job queued by a change of a realm's limits).
    pub fn reap_soon(&self) {
        self.wake_reaper.notify_one();
    }

    /// One pass of the reaper: finishes pending jobs (logout-all, disabled clients), ends
    /// expired sessions (telling their clients), removes ended rows, expired codes, admin events
    /// past their retention and stale sign-in failure counters. Every
    /// transaction handles at most one batch.
    pub async fn reap(&self, now: Timestamp) -> Result<Reaped, StoreError> {
        self.reap_with(&|| now).await
    }

    /// [`Lifecycle::reap`] with the time read from `clock` at the pass's start and again for each
    /// batch of timed-out sessions (see [`Lifecycle::expire`]): the server's reaper passes the
    /// wall clock.
    pub async fn reap_with(&self, clock: &(dyn Fn() -> Timestamp + Sync)) -> Result<Reaped, StoreError> {
        // One pass at a time on this node: the server's own and one asked for elsewhere never
        // work the same job at once.
        let _one_pass = self.reaping.lock().await;
        let now = clock();
        self.metrics.reaper_pass();
        let store = &self.store.background();
        let mut done = Reaped::default();
        for job in jobs::pending(store.conn()).await? {
            self.run_job(&job, clock, &mut done).await?;
        }
        let keep_events = Timestamp::from_millis(now.as_millis() - self.config.event_retention.as_millis() as i64);
        // The counts' buckets of minutes and hours gone by whose sessions have all ended sum to
        // zero: forgotten once a minute, so the counts hold what is to come, not the history.
        let settle = now.as_millis() - self.counts_settled_at.load(std::sync::atomic::Ordering::Relaxed) >= 60_000;
        for realm in realms::list(store.conn()).await? {
            done.expired += self.expire(&realm, clock).await?;
            done.events_purged += events::purge_before(store.conn(), realm.id, keep_events).await?;
            if settle {
                let txn = store.begin().await?;
                done.counts_settled += counts::forget_settled(&txn, realm.id, now).await?;
                txn.commit().await?;
            }
        }
        if settle {
            self.counts_settled_at.store(now.as_millis(), std::sync::atomic::Ordering::Relaxed);
        }
        done.login_failures_purged +=
            login_failures::purge_before(store.conn(), now.plus_secs(-self.failure_window_secs())).await?;
        let total = self.unrecorded_refusals.load(std::sync::atomic::Ordering::Relaxed);
        let refused = total - self.refusals_reported.swap(total, std::sync::atomic::Ordering::Relaxed);
        if refused > 0 {
            tracing::warn!(refused, "admin writes refused to callers who are no administrators of the realm since the last pass (not stored)");
        }
        // Ended rows cost no reads (every list skips them), so removing them can wait: a pass
        // removes at most REMOVE_PER_PASS, and a million ended by a logout-all leave over a few
        // minutes instead of holding SQLite's one writer while their notifications go out.
        for _ in 0..REMOVE_PER_PASS / BATCH {
            let removed =
                sessions::delete_ended(store.conn(), Timestamp::from_millis(now.as_millis() - KEEP_ENDED_MS), BATCH)
                    .await?;
            done.removed += removed;
            self.changed_rows(removed);
            if removed < BATCH {
                break;
            }
        }
        codes::purge_expired(store.conn(), now).await?;
        self.vacuum_if_due();
        if done.cut_off + done.expired + done.client_sessions > 0 {
            self.wake_notifier.notify_one();
        }
        Ok(done)
    }

    /// Counts `rows` the reaper changed in the session tables (see [`Lifecycle::vacuum_if_due`]).
    fn changed_rows(&self, rows: u64) {
        self.vacuums.changed.fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
    }

    /// At the end of a pass, on PostgreSQL: past [`VACUUM_AFTER`] rows changed since the last
    /// vacuum, and its rest over, has the session tables vacuumed beside the reaper (which does
    /// not wait). Not during a pass: beside a mass expiry a vacuum takes the core the reads
    /// need (on two cores, a client's page at 10,000 p90 48 → 50–70 ms) and the removals clear
    /// the marks again as it sets them; behind it, the same page 31 → 16 ms.
    fn vacuum_if_due(&self) {
        use std::sync::atomic::Ordering;
        let vacuums = &self.vacuums;
        if self.store.backend() != latchkey_store::Backend::Postgres
            || vacuums.changed.load(Ordering::Relaxed) < VACUUM_AFTER
            || vacuums.rest_until.lock().expect("vacuum rest").is_some_and(|until| std::time::Instant::now() < until)
            || vacuums.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        vacuums.changed.store(0, Ordering::Relaxed);
        let (store, vacuums) = (self.store.background(), self.vacuums.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            if let Err(error) = store.vacuum_sessions().await {
                tracing::warn!(%error, "vacuuming the session tables failed");
            }
            let took = started.elapsed();
            tracing::debug!(ms = took.as_secs_f64() * 1e3, "session tables vacuumed");
            *vacuums.rest_until.lock().expect("vacuum rest") = Some(std::time::Instant::now() + took * VACUUM_REST);
            vacuums.running.store(false, Ordering::Release);
        });
    }

    /// Runs a job to its end, one batch per transaction, each at the time `clock` gives then.
    /// Between batches, once a second by `clock`, what timed out in the current minute is ended
    /// in every realm: a job takes up to minutes (a million sessions moved to new limits, a
    /// third of them held by a disabled client), and meanwhile what times out and is not ended
    /// is what every count's correction reads and every list walks past — left to after the
    /// job, reads slowed with it (on SQLite at a million sessions, `last-hour`, a client's count
    /// from 2 to 20 ms within 20 s of new limits).
    async fn run_job(
        &self,
        job: &Job,
        clock: &(dyn Fn() -> Timestamp + Sync),
        done: &mut Reaped,
    ) -> Result<(), StoreError> {
        let store = &self.store.background();
        let mut looked_at = clock().as_millis();
        // Where the last batch stopped (see `sessions::active_started_up_to`).
        let mut from = Timestamp::from_millis(i64::MIN);
        // Where the last batch of a client's sessions stopped (`sessions::with_client`).
        let mut after_client = None;
        loop {
            let started = std::time::Instant::now();
            // Each batch at its own time: its endings and notifications are stamped with it.
            let now = clock();
            let mut cut_off = 0;
            // Rows ended, removed or moved by this batch.
            let mut changed = 0;
            let txn = store.begin().await?;
            let finished = match job.kind {
                JobKind::RealmLogout => {
                    let batch = sessions::active_started_up_to(&txn, job.realm_id, from, job.cutoff, BATCH).await?;
                    from = batch.last().map_or(from, |(_, at)| *at);
                    let ids: Vec<SessionId> = batch.into_iter().map(|(id, _)| id).collect();
                    let how = How {
                        group: job.request_group,
                        batch_event: Some("logout-all"),
                        ..How::because(SessionEnd::RealmLogout)
                    };
                    let ended = end_in(&txn, job.realm_id, &ids, &how, now).await?;
                    done.cut_off += ended.len();
                    cut_off = ended.len();
                    changed = cut_off as u64;
                    ids.is_empty()
                }
                JobKind::ClientSessions => {
                    let client = match job.client_id {
                        Some(id) => clients::find_by_id(&txn, id).await?,
                        None => None,
                    };
                    let holders = match &client {
                        // Only what the client held when it was disabled: enabled again while
                        // the job runs, its new sign-ins are not its to end.
                        Some(c) => {
                            let (holders, next) =
                                sessions::with_client(&txn, c.id, job.cutoff, after_client.as_ref(), BATCH).await?;
                            after_client = next;
                            holders
                        }
                        None => Vec::new(),
                    };
                    if let Some(client) = &client {
                        notify_client_sessions(&txn, job.realm_id, client, &holders, job.request_group, now).await?;
                    }
                    done.client_sessions += holders.len();
                    changed = holders.len() as u64;
                    holders.is_empty()
                }
                JobKind::RealmLimits => {
                    match sessions::reexpire(&txn, job.realm_id, from, job.cutoff, LIMITS_BATCH).await? {
                        Some((to, moved)) => {
                            from = to;
                            done.reexpired += moved;
                            changed = moved;
                            self.metrics.reexpired(moved);
                            false
                        }
                        None => true,
                    }
                }
            };
            if finished {
                jobs::finish(&txn, job.id, now).await?;
            }
            txn.commit().await?;
            self.metrics.reaper_batch();
            self.metrics.ended(SessionEnd::RealmLogout, cut_off);
            self.changed_rows(changed);
            tracing::debug!(job = %job.id, ms = started.elapsed().as_secs_f64() * 1e3, finished, "reaper job batch");
            self.wake_notifier.notify_one();
            if finished {
                return Ok(());
            }
            let at = clock().as_millis();
            if at.saturating_sub(looked_at) >= 1_000 {
                looked_at = at;
                done.expired += self.end_this_minute(clock).await?;
            }
        }
    }

    /// Ends, in every realm, the sessions that timed out in the current minute by `clock`:
    /// ranges of `ix_user_sessions_expiry` no longer than a minute, on the server's own
    /// connections (the readers' priority on SQLite, as in [`Lifecycle::expire`]).
    async fn end_this_minute(&self, clock: &(dyn Fn() -> Timestamp + Sync)) -> Result<usize, StoreError> {
        let mut ended = 0;
        for realm in realms::list(self.store.conn()).await? {
            let mut upto = i64::MAX;
            loop {
                let now = clock();
                let batch = self.expire_batch(&self.store, &realm, (counts::corrected_from(now), upto), now).await?;
                ended += batch.ended;
                // A session the realm's limits keep alive (not yet moved to new ones) is passed
                // over: the next batch goes on below the last one read.
                if batch.found < BATCH || (batch.next == upto && batch.ended == 0) {
                    break;
                }
                upto = batch.next;
            }
        }
        Ok(ended)
    }

    /// Ends the realm's sessions past their idle timeout or max lifespan, in batches, latest
    /// expiry first: ranges of `ix_user_sessions_expiry` (`expires_at` at or before now), which
    /// read only what timed out, whatever else the realm holds. What timed out this minute is what
    /// every count's correction reads until it is ended (`counts::alive`), so it goes first: it is
    /// looked at, at the time `clock` gives then, before the batches of any backlog of earlier
    /// minutes (which the counts' buckets already leave out) — on SQLite before each, on the
    /// server's own connections (the backlog's are at a lower CPU priority), elsewhere once a
    /// second at most.
    async fn expire(&self, realm: &Realm, clock: &(dyn Fn() -> Timestamp + Sync)) -> Result<usize, StoreError> {
        let background = &self.store.background();
        // On SQLite an ended row leaves `ix_user_sessions_expiry` (partial: active rows) as it
        // ends, so each batch starts again from the latest and reads only what is still to end:
        // what timed out this minute, then the backlog. While the minute alone fills whole
        // batches they run on the server's own connections (the readers' priority: it is what
        // every count's correction reads), past it on the background pool.
        // PostgreSQL keeps a removed row's index entries until it is vacuumed: there a batch
        // goes on from where the last stopped, or it would read every entry ended so far again,
        // and the current minute is looked at once a second on its own.
        let from_latest = self.store.backend() == latchkey_store::Backend::Sqlite;
        let mut ended = 0;
        // Where the backlog's next batch starts: the latest, unless a session the rule of
        // `domain::session` does not find dead (it never should) was passed over — then each
        // batch starts where the last stopped, so that it is not read again and again.
        let mut from = i64::MAX;
        let mut passed_over = false;
        let mut looked_at = i64::MIN;
        let mut in_minute = true;
        loop {
            let now = clock();
            if !from_latest && !passed_over && now.as_millis().saturating_sub(looked_at) >= 1_000 {
                looked_at = now.as_millis();
                let current = (counts::corrected_from(now), i64::MAX);
                let batch = self.expire_batch(&self.store, realm, current, now).await?;
                ended += batch.ended;
                passed_over = (batch.ended as u64) < batch.found;
                if batch.found == BATCH && !passed_over {
                    continue;
                }
            }
            let on = if from_latest && in_minute && from == i64::MAX { &self.store } else { background };
            let batch = self.expire_batch(on, realm, (i64::MIN, from), now).await?;
            ended += batch.ended;
            if batch.found < BATCH || (batch.next == from && batch.ended == 0) {
                break;
            }
            in_minute = batch.next >= counts::corrected_from(now);
            passed_over |= (batch.ended as u64) < batch.found;
            from = if passed_over || !from_latest { batch.next } else { i64::MAX };
        }
        Ok(ended)
    }

    /// One batch of [`Lifecycle::expire`]: up to [`BATCH`] of the realm's active sessions timed
    /// out by `now` with `expires_at` in `range`, latest first, read locked and ended in one
    /// transaction of `store`.
    async fn expire_batch(
        &self,
        store: &Store,
        realm: &Realm,
        range: (i64, i64),
        now: Timestamp,
    ) -> Result<ExpiryBatch, StoreError> {
        let started = std::time::Instant::now();
        let txn = store.begin().await?;
        let candidates = sessions::active_expired(&txn, realm.id, range, now, BATCH).await?;
        let read = started.elapsed();
        let next = candidates.last().map_or(range.1, |(_, at)| *at);
        let found = candidates.len() as u64;
        let mut by_reason: BTreeMap<&'static str, (SessionEnd, Vec<UserSession>)> = BTreeMap::new();
        for (session, _) in candidates {
            let reason = match session.liveness(&realm.limits, &Default::default(), now) {
                Liveness::Dead(latchkey_domain::Death::IdleTimeout) => SessionEnd::IdleTimeout,
                Liveness::Dead(latchkey_domain::Death::MaxLifespan) => SessionEnd::MaxLifespan,
                _ => continue,
            };
            by_reason.entry(reason.as_str()).or_insert((reason, Vec::new())).1.push(session);
        }
        // On PostgreSQL a timed-out session's row is removed as it ends: marking it ended wrote
        // a new version of the row and an entry in each of its indexes, for a removal to undo a
        // minute later. On SQLite the mark is the cheaper write (the row changes in place, two
        // indexes change); the removal, of rows in the order they ended, waits for a later pass.
        let remove_at_once = store.backend() == latchkey_store::Backend::Postgres;
        let mut counted = Vec::new();
        for (reason, dead) in by_reason.into_values() {
            let loaded = sessions::with_clients(&txn, dead).await?;
            // One admin event per batch (as a logout-all's), not one per session: a mass
            // expiry would otherwise write as many audit rows as it ends sessions.
            let how = How { batch_event: Some("expiry"), remove: remove_at_once, ..How::because(reason) };
            let n = end_loaded(&txn, realm.id, loaded, &how, now).await?.len();
            counted.push((reason, n));
        }
        let ending = started.elapsed();
        txn.commit().await?;
        tracing::debug!(
            realm = %realm.name,
            found,
            read_ms = read.as_secs_f64() * 1e3,
            end_ms = (ending - read).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - ending).as_secs_f64() * 1e3,
            "reaper expiry batch"
        );
        let mut ended = 0;
        for (reason, n) in counted {
            self.metrics.ended(reason, n);
            ended += n;
        }
        self.changed_rows(ended as u64);
        Ok(ExpiryBatch { found, ended, next })
    }
}

/// What one batch of timed-out sessions found and ended, and the latest `expires_at` it did not
/// reach (the earliest it read).
struct ExpiryBatch {
    found: u64,
    ended: usize,
    next: i64,
}

/// The reaper: one pass every `every`, or sooner when woken, until `stop` turns true.
/// While sessions keep timing out the next pass comes within [`BUSY_PACE`]: what timed out and
/// is not ended yet is what the counts' correction for the current minute reads, so the
/// reaper's lag is what every count costs.
pub async fn run_reaper(life: Arc<Lifecycle>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let pace = match life.reap_with(&Timestamp::now).await {
            Ok(done) if done.expired > 0 => every.min(BUSY_PACE),
            Ok(_) => every,
            Err(error) => {
                tracing::error!(%error, "the reaper failed a pass");
                every
            }
        };
        tokio::select! {
            _ = life.wake_reaper.notified() => {}
            _ = tokio::time::sleep(pace) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The reaper's interval while its last pass ended timed-out sessions.
const BUSY_PACE: Duration = Duration::from_secs(1);
