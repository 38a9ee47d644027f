//! The store handle services use: reads, scans and transactions.

use std::path::Path;
use std::sync::Arc;

use crate::cache::ReadCache;
use crate::group::Job;
use crate::pg::{PgEngine, PgOptions};
use crate::sqlite::SqliteEngine;
use crate::{KeyValue, LogEntry, StoreError};

/// A transaction's failure: the closure's own error, or the store's.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    #[error(transparent)]
    Aborted(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a transaction does, engine by engine. `begin`, `commit` and `rollback` bracket one
/// transaction inside its group's (a savepoint, or a layer of buffered writes).
pub(crate) trait Backend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn insert_new(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StoreError>;
    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError>;
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError>;
    fn log_append(&mut self, at: i64, value: &[u8]) -> Result<i64, StoreError>;
    fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError>;
    fn log_delete_through(&mut self, to: i64) -> Result<usize, StoreError>;
    fn delete_all(&mut self) -> Result<(), StoreError>;
    fn begin(&mut self) -> Result<(), StoreError>;
    fn commit(&mut self) -> Result<(), StoreError>;
    fn rollback(&mut self) -> Result<(), StoreError>;
}

/// Reads and writes inside one transaction. Reads see the transaction's own writes.
pub struct Tx<'a> {
    pub(crate) backend: &'a mut dyn Backend,
    /// Keys this transaction wrote, for the read caches (this node's and, through the store, the
    /// other nodes').
    pub(crate) written: Vec<Vec<u8>>,
    pub(crate) wiped: bool,
}

impl Tx<'_> {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.get(key)
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.backend.put(key, value)?;
        self.written.push(key.to_vec());
        Ok(())
    }

    /// Writes derived data that is never read through the read cache (CloudTrail's event-history
    /// index), without the cache bookkeeping a `put` does.
    // INVARIANT: keys written here are never read with `get_cached`.
    pub fn put_uncached(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.backend.put(key, value)
    }

    /// Inserts a key that must not exist yet; returns `false` and writes nothing when it does.
    pub fn insert_new(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let inserted = self.backend.insert_new(key, value)?;
        if inserted {
            self.written.push(key.to_vec());
        }
        Ok(inserted)
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        self.written.push(key.to_vec());
        self.backend.delete(key)
    }

    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.backend.scan_prefix(prefix, after, limit, reverse)
    }

    /// Appends `value` to the log at position `at` (a time), or at the first free position after
    /// it; returns the position it took.
    pub fn log_append(&mut self, at: i64, value: &[u8]) -> Result<i64, StoreError> {
        self.backend.log_append(at, value)
    }

    /// Up to `limit` log entries with positions in `from..=to`, in position order (descending
    /// when `reverse`).
    pub fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        self.backend.log_range(from, to, limit, reverse)
    }

    /// Deletes the log entries at positions up to `to`; returns how many.
    pub fn log_delete_through(&mut self, to: i64) -> Result<usize, StoreError> {
        self.backend.log_delete_through(to)
    }

    /// Deletes every key and log entry (dev-mode reset).
    pub fn delete_all(&mut self) -> Result<(), StoreError> {
        self.backend.delete_all()?;
        self.wiped = true;
        Ok(())
    }
}

/// The engine behind a [`Db`].
enum Engine {
    Sqlite(SqliteEngine),
    Postgres(PgEngine),
}

/// A handle on the store; clone it freely.
#[derive(Clone)]
pub struct Db {
    engine: Arc<Engine>,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("engine", &self.engine_name()).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the embedded SQLite store at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::default());
        Ok(Self { engine: Arc::new(Engine::Sqlite(SqliteEngine::open(path, cache.clone())?)), cache })
    }

    /// Opens an existing SQLite store for reading only (see `SqliteEngine::open_read_only`).
    pub fn open_sqlite_read_only(path: &Path) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::default());
        Ok(Self { engine: Arc::new(Engine::Sqlite(SqliteEngine::open_read_only(path)?)), cache })
    }

    /// Connects to the PostgreSQL database at `url` (a `postgres://` URL or libpq key=value
    /// string), creating or migrating Rampart's tables. Any number of nodes may open the same
    /// database: their transactions are serialized, each node's read cache forgets what the
    /// others write, and [`Db::lease`] runs background work on one node at a time.
    pub fn open_postgres(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::default());
        Ok(Self { engine: Arc::new(Engine::Postgres(PgEngine::open(url, options, cache.clone())?)), cache })
    }

    /// The engine's name, for health reports and logs: `sqlite` or `postgres`.
    pub fn engine_name(&self) -> &'static str {
        match &*self.engine {
            Engine::Sqlite(_) => "sqlite",
            Engine::Postgres(_) => "postgres",
        }
    }

    /// Whether this node holds the lease `name`, asking for it if not: background work guarded
    /// by a lease runs on one node of a cluster at a time, and moves to another when its holder
    /// dies. The embedded engine has one node, which holds every lease.
    pub fn lease(&self, name: &'static str) -> bool {
        match &*self.engine {
            Engine::Sqlite(_) => true,
            Engine::Postgres(p) => p.lease(name),
        }
    }

    /// The leases this node holds, sorted; `None` for the embedded engine (one node, every lease).
    pub fn held_leases(&self) -> Option<Vec<&'static str>> {
        match &*self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(p) => Some(p.held_leases()),
        }
    }

    /// Reads a committed value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match &*self.engine {
            Engine::Sqlite(s) => s.read(|c| crate::sqlite::get(c, key)),
            Engine::Postgres(p) => p.get(key),
        }
    }

    /// Reads a committed value through an in-memory cache. Every transaction's writes are
    /// removed from the cache before the transaction is acknowledged, so a read that starts after
    /// a write is acknowledged never sees the old value; another node's writes are removed when
    /// its change notice arrives (within a second). For hot records (access keys, policies);
    /// never for keys written with [`Db::put_later`].
    pub fn get_cached(&self, key: &[u8]) -> Result<Option<Arc<[u8]>>, StoreError> {
        if let Some(hit) = self.cache.get(key) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let value: Option<Arc<[u8]>> = self.get(key)?.map(Arc::from);
        self.cache.fill(key, value.clone(), generation);
        Ok(value)
    }

    /// A number that stays the same while no commit changes what [`Db::get_cached`] reads, for a
    /// reader that checks records it derived something from only when it may have changed;
    /// `None` while the cache cannot tell (another node's writes may go unnoticed).
    pub fn cache_generation(&self) -> Option<u64> {
        self.cache.current()
    }

    /// Reads up to `limit` committed pairs whose keys start with `prefix`, after the key `after`
    /// (before it when `reverse`), in key order (descending when `reverse`).
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        match &*self.engine {
            Engine::Sqlite(s) => s.read(|c| crate::sqlite::scan_prefix(c, prefix, after, limit, reverse)),
            Engine::Postgres(p) => p.scan_prefix(prefix, after, limit, reverse),
        }
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        match &*self.engine {
            Engine::Sqlite(s) => s.submit(job),
            Engine::Postgres(p) => p.submit(job),
        }
    }

    /// Runs `f` atomically; its writes are durable when this returns `Ok`. When `f` fails, none of
    /// its writes are kept. Transactions run one at a time, in the order they are queued (across
    /// every node of a cluster).
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, TxError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::new(f, tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues writes without waiting for them to be durable; they commit with the next group
    /// (queued writes alone gather up to 20 ms first, so many share one commit).
    /// For records whose loss on a crash is acceptable by design (an access key's last use;
    /// read-only calls' audit events go to the log with [`Db::log_append_later`]).
    // INVARIANT: keys written here are never read with `get_cached`; these writes do not
    // invalidate the read cache.
    pub fn put_later(&self, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        self.submit(Job::fire_and_forget(pairs))
    }

    /// Reads up to `limit` committed log entries with positions in `from..=to`, in position order
    /// (descending when `reverse`).
    pub fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        match &*self.engine {
            Engine::Sqlite(s) => s.read(|c| crate::sqlite::log_range(c, from, to, limit, reverse)),
            Engine::Postgres(p) => p.log_range(from, to, limit, reverse),
        }
    }

    /// Reads the committed log entry at position `at`.
    pub fn log_get(&self, at: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log_get_many(&[at])?.pop().flatten())
    }

    /// Reads the committed log entries at `positions`, in their order, in one read: positions
    /// near each other in a pack share its decompression.
    pub fn log_get_many(&self, positions: &[i64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        match &*self.engine {
            Engine::Sqlite(s) => s.read(|c| crate::sqlite::log_get_many(c, positions)),
            Engine::Postgres(p) => p.log_get_many(positions),
        }
    }

    /// Queues a log append without waiting for it to be durable (see [`Db::put_later`]). The
    /// writer stores each group's queued appends together (the embedded engine compresses them,
    /// see [`crate::logpack`]); they read back as any entry does.
    pub fn log_append_later(&self, at: i64, value: Vec<u8>) -> Result<(), StoreError> {
        self.submit(Job::LogLater { at, value })
    }

    /// Waits for every queued write to be durable, then stops the writer.
    pub fn close(&self) {
        match &*self.engine {
            Engine::Sqlite(s) => s.close(),
            Engine::Postgres(p) => p.close(),
        }
    }
}
