//! What changes rarely, kept in memory: realms, clients and administrators' role grants (the
//! signing keys have their own cache, [`crate::keys::KeyCache`], dropped with this one).
//! Sessions and users are always read from the database.
//!
//! # Exact, on one node and on many
//! Every committed change to those tables moves the *catalog version*, kept by database
//! triggers whoever writes (see `latchkey_store::catalog`). A node drops everything it cached:
//! - at once, after it commits such a change itself ([`Lifecycle::catalog_changed`], called by
//!   every write path of the lifecycle and the admin API);
//! - on PostgreSQL, when the triggers' `NOTIFY` reaches it (another node's write, or a script's),
//!   and while its subscription is down it caches nothing, reading through instead;
//! - whenever a poll of the version every [`POLL`] finds it moved (a command-line tool writing
//!   the SQLite file; a safety net on PostgreSQL).
//!
//! A read racing a change never leaves the old value behind: a load remembers the generation it
//! started in, and its result is kept only if no drop happened meanwhile.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use latchkey_domain::{AdminRole, Client, ClientId, Realm, RealmId, UserId};
use latchkey_store::catalog::Heard;
use latchkey_store::{catalog, clients, realms, users, ConnectionTrait, StoreError};

use crate::state::Lifecycle;

/// How often the catalog version is polled.
pub const POLL: Duration = Duration::from_secs(2);
/// The longest a change waits for its own notification (PostgreSQL).
pub const ECHO_WAIT: Duration = Duration::from_secs(1);
/// Entries a map holds at most; past it the map starts over (role grants of many users).
const MAX_ENTRIES: usize = 100_000;

/// The caches, and how they are kept exact.
pub struct Catalog {
    /// Moved by every drop; a load started in an older generation is not kept.
    generation: AtomicU64,
    /// Whether cached entries may be used (false while a PostgreSQL node hears no changes).
    trusted: AtomicBool,
    /// The catalog version this node last knew, and its watchers.
    seen: AtomicI64,
    seen_tx: tokio::sync::watch::Sender<i64>,
    realms: Map<String, Realm>,
    clients: Map<(RealmId, String), Client>,
    clients_by_id: Map<ClientId, Client>,
    roles: Map<UserId, Vec<AdminRole>>,
    pub stats: CatalogStats,
}

/// Counters, since start.
#[derive(Default)]
pub struct CatalogStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub drops: AtomicU64,
}

struct Map<K, V>(RwLock<HashMap<K, Arc<V>>>);

impl<K: Eq + Hash, V> Default for Map<K, V> {
    fn default() -> Self {
        Map(RwLock::default())
    }
}

impl<K: Eq + Hash, V> Map<K, V> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }

    fn clear(&self) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

impl Catalog {
    /// A catalog whose entries are trusted from the start (one process on SQLite) or only once
    /// the node hears changes (PostgreSQL).
    pub fn new(trusted: bool) -> Self {
        Catalog {
            generation: AtomicU64::new(0),
            trusted: AtomicBool::new(trusted),
            seen: AtomicI64::new(-1),
            seen_tx: tokio::sync::watch::Sender::new(-1),
            realms: Map::default(),
            clients: Map::default(),
            clients_by_id: Map::default(),
            roles: Map::default(),
            stats: CatalogStats::default(),
        }
    }

    /// Whether cached entries are used now (on PostgreSQL: while changes are heard).
    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    /// Drops every cached entry; loads in flight are not kept.
    pub fn drop_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.realms.clear();
        self.clients.clear();
        self.clients_by_id.clear();
        self.roles.clear();
        self.stats.drops.fetch_add(1, Ordering::Relaxed);
    }

    fn cached<K: Eq + Hash, V: Clone>(&self, map: &Map<K, V>, key: &K) -> Option<V> {
        if !self.trusted.load(Ordering::SeqCst) {
            return None;
        }
        let found = map.get(key).map(|v| (*v).clone());
        let counter = if found.is_some() { &self.stats.hits } else { &self.stats.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `value` under `key` if nothing was dropped since `generation` and entries are
    /// trusted. Checked under the map's lock, which a drop takes after moving the generation.
    fn keep<K: Eq + Hash, V>(&self, map: &Map<K, V>, generation: u64, key: K, value: V) {
        let mut entries = map.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) != generation || !self.trusted.load(Ordering::SeqCst) {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Arc::new(value));
    }

    /// The cached value under `key`, or what `load` reads (kept unless a drop raced it).
    async fn through<K: Eq + Hash, V: Clone>(
        &self,
        map: &Map<K, V>,
        key: K,
        load: impl std::future::Future<Output = Result<Option<V>, StoreError>>,
    ) -> Result<Option<V>, StoreError> {
        if let Some(value) = self.cached(map, &key) {
            return Ok(Some(value));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = load.await?;
        if let Some(value) = &found {
            self.keep(map, generation, key, value.clone());
        }
        Ok(found)
    }

    /// The realm called `name`.
    pub async fn realm(&self, db: &impl ConnectionTrait, name: &str) -> Result<Option<Realm>, StoreError> {
        self.through(&self.realms, name.to_owned(), realms::find_by_name(db, name)).await
    }

    /// The client of `realm` whose `clientId` is `client_id`.
    pub async fn client(
        &self,
        db: &impl ConnectionTrait,
        realm: RealmId,
        client_id: &str,
    ) -> Result<Option<Client>, StoreError> {
        let load = clients::find_by_client_id(db, realm, client_id);
        self.through(&self.clients, (realm, client_id.to_owned()), load).await
    }

    /// The client with the internal id `id`, of whatever realm.
    pub async fn client_by_id(&self, db: &impl ConnectionTrait, id: ClientId) -> Result<Option<Client>, StoreError> {
        self.through(&self.clients_by_id, id, clients::find_by_id(db, id)).await
    }

    /// The administrative roles granted to `user` (none for most users).
    pub async fn roles(&self, db: &impl ConnectionTrait, user: UserId) -> Result<Vec<AdminRole>, StoreError> {
        let load = async { users::roles_of(db, user).await.map(Some) };
        Ok(self.through(&self.roles, user, load).await?.unwrap_or_default())
    }

    /// Takes a newly known catalog version; drops everything (and says so) when it moved.
    fn saw(&self, version: i64) -> bool {
        let moved = self.seen.swap(version, Ordering::SeqCst) != version;
        if moved {
            self.drop_all();
        }
        self.seen_tx.send_replace(version);
        moved
    }
}

impl Lifecycle {
    /// Drops every cached realm, client, role grant and signing key of this node. Called after a
    /// commit that changed any of them, before the request that made it is answered; other
    /// nodes learn of it from the database (see the module documentation). On PostgreSQL it
    /// then waits (up to [`ECHO_WAIT`]) for the change's own notification to come back: the
    /// database sends it to every node at once, so by the time the answer leaves, the other
    /// nodes have heard it too.
    pub async fn catalog_changed(&self) {
        self.drop_cached();
        if self.store.backend() != latchkey_store::Backend::Postgres || !self.catalog.trusted.load(Ordering::SeqCst) {
            return;
        }
        let Ok(version) = catalog::version(self.store.conn()).await else { return };
        let mut seen = self.catalog.seen_tx.subscribe();
        let _ = tokio::time::timeout(ECHO_WAIT, seen.wait_for(|v| *v >= version)).await;
    }

    fn drop_cached(&self) {
        self.catalog.drop_all();
        self.keys.clear();
    }

    /// Keeps this node's caches exact until `stop`: listens for changes on PostgreSQL and
    /// polls the catalog version on both backends.
    pub async fn keep_catalog(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let poll = {
            let life = self.clone();
            async move {
                loop {
                    match catalog::version(life.store.conn()).await {
                        Ok(version) => life.saw_version(version),
                        Err(e) => tracing::warn!(error = %e, "cannot read the catalog version"),
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        };
        tokio::select! {
            _ = async { tokio::join!(poll, self.listen_for_changes()) } => {}
            _ = stop.changed() => {}
        }
    }

    fn saw_version(&self, version: i64) {
        if self.catalog.saw(version) {
            self.keys.clear();
        }
    }

    /// PostgreSQL: hears every committed change at once. While not subscribed, entries are not
    /// trusted (every read goes to the database); on (re)subscribing everything is dropped, so
    /// nothing changed while deaf survives.
    async fn listen_for_changes(&self) {
        loop {
            let mut changes = match self.store.catalog_changes().await {
                Ok(Some(changes)) => changes,
                Ok(None) => return, // SQLite: this process makes every change itself
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to catalog changes; caching nothing until it can");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.trust(true);
            loop {
                match changes.next().await {
                    Ok(Heard::Changed(version)) => self.saw_version(version),
                    Ok(Heard::Lost) => {
                        tracing::warn!("lost the catalog subscription and made it again; dropping what was cached");
                        self.drop_cached();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the catalog subscription failed; caching nothing until it is back");
                        self.trust(false);
                        break;
                    }
                }
            }
        }
    }

    /// Starts or stops trusting cached entries; either way everything cached so far is dropped.
    fn trust(&self, trusted: bool) {
        self.catalog.trusted.store(trusted, Ordering::SeqCst);
        self.drop_cached();
    }
}
