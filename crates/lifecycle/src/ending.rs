//! Every way a session ends goes through here: sign-out, an administrator ending one session or
//! all of a user's, a user disabled or deleted, a client disabled or deleted, revocation of an
//! offline session, expiry, and logout-all of a realm. Each ending, in one transaction, makes
//! the sessions dead (for every node: the state is in the database) and writes the
//! notifications of every client that can be told to the outbox; the notifier delivers them.
//!
//! Logout-all does no per-session work on the request path: it moves the realm's session
//! cut-off (a column every liveness check reads) and the realm's not-before, and leaves a job
//! for the reaper, which ends and notifies the cut-off sessions in bounded batches behind it.

use std::collections::BTreeMap;
use std::time::Duration;

use latchkey_domain::ending::{plan_adapter_action, plan_logout, NotificationKind, Plan};
use latchkey_domain::{
    Client, Protocol, Realm, RealmId, SessionEnd, SessionId, SessionType, Timestamp, User, UserSession,
};
use latchkey_store::events::{self, AdminEvent};
use latchkey_store::jobs::{self, Job, JobKind};
use latchkey_store::outbox::{self, Delivery, NewMessage};
use latchkey_store::{clients, counts, realms, sessions, users, ConnectionTrait, StoreError};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{record_in, unsigned, AdminAction, Operation, Resource};
use crate::state::Lifecycle;

pub use crate::audit::Actor;

/// How long a notification is retried before it is given up.
pub const DELIVERY_DEADLINE_SECS: i64 = 24 * 60 * 60;
/// Sessions ended per transaction by the reaper.
pub(crate) const BATCH: u64 = 500;
/// How long ended session rows are kept before the reaper removes them.
pub(crate) const KEEP_ENDED_MS: i64 = 60_000;

/// Keycloak's `GlobalRequestResult`, with two additions Keycloak lacks: deliveries still under
/// way when the answer was given, and clients that cannot be told at all (SAML).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalRequestResult {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub success_requests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_requests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_requests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_notified_clients: Vec<String>,
}

fn messages(realm_id: RealmId, plan: &Plan, group: Option<Uuid>, not_before: i64, now: Timestamp) -> Vec<NewMessage> {
    let deadline = now.plus_secs(DELIVERY_DEADLINE_SECS);
    let mut out: Vec<NewMessage> = plan
        .notifications
        .iter()
        .map(|n| {
            let payload = match n.kind {
                NotificationKind::BackchannelLogout => json!({"aud": n.client, "sub": n.sub, "sid": n.sid}),
                _ => json!({"resource": n.client, "notBefore": not_before}),
            };
            NewMessage {
                realm_id,
                client_id: n.client_id,
                kind: n.kind.as_str().to_owned(),
                url: n.url.clone(),
                payload: payload.to_string(),
                request_group: group,
                status: Delivery::Pending,
                deadline,
            }
        })
        .collect();
    out.extend(plan.not_notified.iter().map(|(id, client)| NewMessage {
        realm_id,
        client_id: *id,
        kind: NotificationKind::BackchannelLogout.as_str().to_owned(),
        url: String::new(),
        payload: json!({"aud": client, "skipped": "SAML clients get no back-channel logout"}).to_string(),
        request_group: group,
        status: Delivery::Skipped,
        deadline,
    }));
    out
}

/// How sessions end: why, whether all of a user's at once (one logout token per client, no
/// `sid`), the request group of the notifications, and who ended them.
pub(crate) struct How<'a> {
    pub(crate) reason: SessionEnd,
    pub(crate) user_wide: bool,
    pub(crate) group: Option<Uuid>,
    pub(crate) actor: Option<&'a Actor>,
    /// Record one admin event for the whole batch (at `path`) rather than one per session:
    /// a logout-all of a million sessions leaves a few hundred events, not a million.
    pub(crate) batch_event: Option<&'a str>,
    /// Remove the rows at once rather than mark them ended (`sessions::remove_sessions`): the
    /// reaper's timed-out sessions.
    pub(crate) remove: bool,
}

impl How<'_> {
    pub(crate) fn because(reason: SessionEnd) -> Self {
        How { reason, user_wide: false, group: None, actor: None, batch_event: None, remove: false }
    }
}

/// Ends `ids` (those still active) inside the caller's transaction and writes their
/// notifications and their admin events. The single ending step every operation below uses.
pub(crate) async fn end_in(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    ids: &[SessionId],
    how: &How<'_>,
    now: Timestamp,
) -> Result<Vec<SessionId>, StoreError> {
    let loaded = sessions::load_for_ending(db, ids).await?;
    end_loaded(db, realm_id, loaded, how, now).await
}

/// [`end_in`] for sessions the caller already read as active and locked in this transaction,
/// with their clients (`sessions::load_for_ending`, or the reaper's `active_expired` and
/// `sessions::with_clients`): read once per ending, not again.
pub(crate) async fn end_loaded(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    loaded: Vec<(UserSession, Vec<Client>)>,
    how: &How<'_>,
    now: Timestamp,
) -> Result<Vec<SessionId>, StoreError> {
    let (reason, user_wide, group) = (how.reason, how.user_wide, how.group);
    let ended: Vec<SessionId> = loaded.iter().map(|(s, _)| s.id).collect();
    if how.remove {
        sessions::remove_sessions(db, &ended).await?;
    } else {
        sessions::end_sessions(db, &ended, reason, now).await?;
    }
    let plan = plan_logout(loaded.iter().map(|(s, c)| (s, c.as_slice())), user_wide);
    outbox::insert_many(db, &messages(realm_id, &plan, group, 0, now), now).await?;
    if let Some(path) = how.batch_event {
        if !ended.is_empty() {
            let summary = json!({"reason": reason.as_str(), "ended": ended.len()}).to_string();
            let event = unsigned(realm_id, Operation::Action, Resource::Realm, path.into(), Some(summary), now);
            events::insert_many(db, &[event]).await?;
        }
        return Ok(ended);
    }
    let audit: Vec<AdminEvent> = loaded
        .iter()
        .map(|(s, held)| {
            let mut event = ending_event(s, format!("sessions/{}", s.public_id()), reason, held, now);
            if let Some(actor) = how.actor {
                actor.sign(&mut event);
            }
            event
        })
        .collect();
    events::insert_many(db, &audit).await?;
    Ok(ended)
}

/// The admin event recording that a session (or, with its path, one client session) ended.
fn ending_event(
    session: &UserSession,
    path: String,
    reason: SessionEnd,
    clients: &[Client],
    now: Timestamp,
) -> AdminEvent {
    let representation = json!({"reason": reason.as_str(), "type": session.session_type.as_str(),
        "userId": session.user_id, "clients": clients.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>()});
    unsigned(session.realm_id, Operation::Delete, Resource::UserSession, path, Some(representation.to_string()), now)
}

impl Lifecycle {
    /// Ends these sessions (sign-out, an administrator's "Sign out", revocation of an offline
    /// session) and tells their clients. Returns the ids that were still active.
    pub async fn end_sessions(
        &self,
        realm: &Realm,
        ids: &[SessionId],
        reason: SessionEnd,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.end_sessions_by(realm, ids, reason, None).await
    }

    /// [`Lifecycle::end_sessions`], by an administrator: the ending's admin events, written in
    /// the same transaction, name them — the one record of the action.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, sessions = ids.len(), reason = reason.as_str()))]
    pub async fn end_sessions_by(
        &self,
        realm: &Realm,
        ids: &[SessionId],
        reason: SessionEnd,
        actor: Option<&Actor>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        let ended = end_in(&txn, realm.id, ids, &How { actor, ..How::because(reason) }, now).await?;
        txn.commit().await?;
        self.after_ending(&ended, reason);
        Ok(ended)
    }

    /// Ends one client session (a replayed code or refresh token of `client`): its tokens stop
    /// working, the client is told, and the ending is an admin event. An offline session left
    /// with no client ends with it. Returns whether there was a client session to end.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, session = %session_id, client = %client.client_id, reason = reason.as_str()))]
    pub async fn end_client_session(
        &self,
        realm: &Realm,
        session_id: SessionId,
        client: &Client,
        reason: SessionEnd,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        let loaded = sessions::load_for_ending(&txn, &[session_id]).await?;
        let Some((session, held)) = loaded.into_iter().find(|(s, _)| s.realm_id == realm.id) else {
            return Ok(false);
        };
        if !held.iter().any(|c| c.id == client.id) {
            return Ok(false);
        }
        let mut ended = Vec::new();
        if session.session_type == SessionType::Offline && held.len() == 1 {
            ended = end_in(&txn, realm.id, &[session_id], &How::because(reason), now).await?;
        } else {
            notify_client_sessions(&txn, realm.id, client, &[session_id], None, now).await?;
            let path = format!("sessions/{}/clients/{}", session.public_id(), client.id);
            let event = ending_event(&session, path, reason, std::slice::from_ref(client), now);
            events::insert_many(&txn, &[event]).await?;
        }
        txn.commit().await?;
        self.metrics.ended(reason, ended.len());
        tracing::warn!(session = %session_id, client = %client.client_id, reason = reason.as_str(), "client session ended");
        self.wake_notifier.notify_one();
        Ok(true)
    }

    /// Ends every session of a user at once (user logout, disabled, deleted): one logout token
    /// per client, naming the user and no session. With `revoke_tokens` the user's not-before
    /// moves to now, as Keycloak's user logout does.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, user = %user.id, reason = reason.as_str()))]
    pub async fn end_user_sessions(
        &self,
        realm: &Realm,
        user: &User,
        reason: SessionEnd,
        revoke_tokens: bool,
        by: Option<&AdminAction>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        let ended = self.end_user_in(&txn, realm, user, reason, revoke_tokens, now).await?;
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.after_ending(&ended, reason);
        Ok(ended)
    }

    async fn end_user_in(
        &self,
        db: &impl ConnectionTrait,
        realm: &Realm,
        user: &User,
        reason: SessionEnd,
        revoke_tokens: bool,
        now: Timestamp,
    ) -> Result<Vec<SessionId>, StoreError> {
        let ids = sessions::active_ids_of_user(db, user.id).await?;
        let ended = end_in(db, realm.id, &ids, &How { user_wide: true, ..How::because(reason) }, now).await?;
        if revoke_tokens {
            users::raise_not_before(db, user.id, now.as_secs()).await?;
        }
        Ok(ended)
    }

    /// Changes a user as `after` says; disabling it ends its sessions (its clients are told).
    #[tracing::instrument(skip_all, fields(realm = %realm.name, user = %before.id))]
    pub async fn update_user(
        &self,
        realm: &Realm,
        before: &User,
        after: &User,
        by: Option<&AdminAction>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        users::update_changed(&txn, before, after).await?;
        let ended = if before.enabled && !after.enabled {
            self.end_user_in(&txn, realm, after, SessionEnd::UserDisabled, false, now).await?
        } else {
            Vec::new()
        };
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.after_ending(&ended, SessionEnd::UserDisabled);
        Ok(ended)
    }

    /// Deletes a user; its sessions end (its clients are told) before the row goes.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, user = %user.id))]
    pub async fn delete_user(
        &self,
        realm: &Realm,
        user: &User,
        by: Option<&AdminAction>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        let ended = self.end_user_in(&txn, realm, user, SessionEnd::UserDeleted, false, now).await?;
        users::delete(&txn, user.id).await?;
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.catalog_changed().await;
        self.after_ending(&ended, SessionEnd::UserDeleted);
        Ok(ended)
    }

    /// Changes a client as `after` says. Disabling it kills its tokens at once (every check
    /// reads `enabled`); its client sessions are removed and it is told about each, by the
    /// reaper, in batches.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, client = %before.client_id))]
    pub async fn update_client(
        &self,
        realm: &Realm,
        before: &Client,
        after: &Client,
        by: Option<&AdminAction>,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        clients::update_changed(&txn, before, after).await?;
        let disabling = before.enabled && !after.enabled;
        if disabling {
            let job = Job {
                id: Uuid::now_v7(),
                realm_id: realm.id,
                kind: JobKind::ClientSessions,
                client_id: Some(before.id),
                cutoff: now,
                request_group: None,
                done_at: None,
            };
            jobs::insert(&txn, &job, now).await?;
        }
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.catalog_changed().await;
        if disabling {
            self.wake_reaper.notify_one();
        }
        Ok(())
    }

    /// Deletes a client after telling it about every one of its client sessions.
    #[tracing::instrument(skip_all, fields(realm = %realm.name, client = %client.client_id))]
    pub async fn delete_client(
        &self,
        realm: &Realm,
        client: &Client,
        by: Option<&AdminAction>,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let txn = self.store.begin().await?;
        let mut after = None;
        loop {
            let (holders, next) =
                sessions::with_client(&txn, client.id, Timestamp::from_millis(i64::MAX), after.as_ref(), BATCH).await?;
            if holders.is_empty() {
                break;
            }
            notify_client_sessions(&txn, realm.id, client, &holders, None, now).await?;
            after = next;
        }
        clients::delete(&txn, client.id).await?;
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.catalog_changed().await;
        self.wake_notifier.notify_one();
        Ok(())
    }

    /// Signs out every session of the realm: sets its not-before to now and its session
    /// cut-off, so every regular and offline session is dead when this returns; tells adapters
    /// (`k_logout`) and, through the reaper, every back-channel client about every session.
    ///
    /// Answers as soon as the adapters' calls settle (or `wait` passes), whatever the number of
    /// sessions: what is known then — adapters told or not, the back-channel URLs of the clients
    /// holding sessions (pending: the reaper announces each session, in batches, recording one
    /// admin event per batch), and the SAML clients that cannot be told.
    #[tracing::instrument(skip_all, fields(realm = %realm.name))]
    pub async fn logout_all(
        &self,
        realm: &Realm,
        wait: Duration,
        by: Option<&AdminAction>,
    ) -> Result<GlobalRequestResult, StoreError> {
        let now = Timestamp::now();
        let group = Uuid::now_v7();
        let txn = self.store.begin().await?;
        // Which clients hold sessions, from the maintained counts (the cut-off recounts them).
        let holding = counts::by_client(&txn, realm.id, None).await?;
        let (cutoff, not_before) = realms::cut_off_now(&txn, realm.id).await?;
        let all = clients::list(&txn, realm.id).await?;
        let mut plan = plan_adapter_action(&all, NotificationKind::AdapterLogout);
        plan.not_notified.clear(); // only SAML clients holding sessions are reported, below
        outbox::insert_many(&txn, &messages(realm.id, &plan, Some(group), not_before, now), now).await?;
        let job = Job {
            id: Uuid::now_v7(),
            realm_id: realm.id,
            kind: JobKind::RealmLogout,
            client_id: None,
            cutoff,
            request_group: Some(Uuid::now_v7()),
            done_at: None,
        };
        jobs::insert(&txn, &job, now).await?;
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.catalog_changed().await;
        tracing::info!(realm = %realm.name, "signed out every session of the realm");
        self.wake_reaper.notify_one();
        self.wake_notifier.notify_one();
        let mut result = self.settle(group, None, wait).await?;
        for client in all.iter().filter(|c| holding.iter().any(|(id, ..)| *id == c.id)) {
            match (&client.protocol, &client.backchannel_logout_url) {
                (Protocol::Saml, _) => result.not_notified_clients.push(client.client_id.clone()),
                (_, Some(url)) if !result.pending_requests.contains(url) => result.pending_requests.push(url.clone()),
                _ => {}
            }
        }
        result.pending_requests.sort();
        result.not_notified_clients.sort();
        Ok(result)
    }

    /// Pushes the not-before of the realm (or of one client) to every client with an admin URL
    /// (`k_push_not_before`).
    #[tracing::instrument(skip_all, fields(realm = %realm.name, client = only.map(|c| c.client_id.as_str())))]
    pub async fn push_revocation(
        &self,
        realm: &Realm,
        only: Option<&Client>,
        wait: Duration,
        by: Option<&AdminAction>,
    ) -> Result<GlobalRequestResult, StoreError> {
        let now = Timestamp::now();
        let group = Uuid::now_v7();
        let targets = match only {
            Some(client) => vec![client.clone()],
            None => clients::list(self.store.conn(), realm.id).await?,
        };
        let plan = plan_adapter_action(&targets, NotificationKind::PushNotBefore);
        let not_before = only.map_or(realm.not_before, |c| c.not_before.max(realm.not_before));
        let txn = self.store.begin().await?;
        outbox::insert_many(&txn, &messages(realm.id, &plan, Some(group), not_before, now), now).await?;
        record_in(&txn, realm.id, by, now).await?;
        txn.commit().await?;
        self.wake_notifier.notify_one();
        self.settle(group, None, wait).await
    }

    fn after_ending(&self, ended: &[SessionId], reason: SessionEnd) {
        self.metrics.ended(reason, ended.len());
        if !ended.is_empty() {
            tracing::info!(sessions = ended.len(), reason = reason.as_str(), "sessions ended");
            self.wake_notifier.notify_one();
        }
    }

    /// Waits until a request group's job is done and every message in it is settled (delivered,
    /// given up, skipped, or failed at least once), or `wait` passes; then sums it up by URL.
    pub async fn settle(
        &self,
        group: Uuid,
        job: Option<Uuid>,
        wait: Duration,
    ) -> Result<GlobalRequestResult, StoreError> {
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            let job_done = match job {
                Some(id) => jobs::find(self.store.conn(), id).await?.is_none_or(|j| j.done_at.is_some()),
                None => true,
            };
            let messages = outbox::group(self.store.conn(), group).await?;
            let settled = messages.iter().all(|m| m.status != Delivery::Pending || m.last_error.is_some());
            if (job_done && settled) || tokio::time::Instant::now() >= give_up {
                return Ok(summarize(&messages));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn summarize(messages: &[outbox::Message]) -> GlobalRequestResult {
    #[derive(Default)]
    struct PerUrl {
        delivered: bool,
        failed: bool,
        pending: bool,
    }
    let mut by_url: BTreeMap<&str, PerUrl> = BTreeMap::new();
    let mut result = GlobalRequestResult::default();
    for m in messages {
        if m.status == Delivery::Skipped {
            let client = serde_json::from_str::<serde_json::Value>(&m.payload)
                .ok()
                .and_then(|p| p["aud"].as_str().map(str::to_owned));
            if let Some(client) = client {
                if !result.not_notified_clients.contains(&client) {
                    result.not_notified_clients.push(client);
                }
            }
            continue;
        }
        let entry = by_url.entry(m.url.as_str()).or_default();
        match m.status {
            Delivery::Delivered => entry.delivered = true,
            Delivery::Failed => entry.failed = true,
            _ if m.last_error.is_some() => entry.failed = true,
            _ => entry.pending = true,
        }
    }
    for (url, state) in by_url {
        let url = url.to_owned();
        if state.failed {
            result.failed_requests.push(url);
        } else if state.pending {
            result.pending_requests.push(url);
        } else if state.delivered {
            result.success_requests.push(url);
        }
    }
    result
}

/// Removes the client sessions of `client` in these user sessions and tells the client.
pub(crate) async fn notify_client_sessions(
    db: &impl ConnectionTrait,
    realm_id: RealmId,
    client: &Client,
    holders: &[SessionId],
    group: Option<Uuid>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let loaded = sessions::load_for_ending(db, holders).await?;
    let only_this: Vec<(UserSession, Vec<Client>)> =
        loaded.into_iter().map(|(s, held)| (s, held.into_iter().filter(|c| c.id == client.id).collect())).collect();
    let plan = plan_logout(only_this.iter().map(|(s, c)| (s, c.as_slice())), false);
    outbox::insert_many(db, &messages(realm_id, &plan, group, 0, now), now).await?;
    sessions::delete_client_sessions_of(db, client.id, holders).await?;
    Ok(())
}
