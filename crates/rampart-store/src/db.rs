//! The store handle services use: reads, scans and transactions.

use std::path::Path;
use std::sync::Arc;

use crate::cache::ReadCache;
use crate::sqlite::{Job, SqliteEngine};
use crate::{KeyValue, LogEntry, StoreError};

/// A transaction's failure: the closure's own error, or the store's.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    #[error(transparent)]
    Aborted(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads and writes inside one transaction. Reads see the transaction's own writes.
pub struct Tx<'a> {
    pub(crate) conn: &'a rusqlite::Connection,
    /// Where the log's packs end when the transaction started (its group's are stored after it).
    pub(crate) packed_through: i64,
    /// Keys this transaction wrote, for the read cache.
    pub(crate) written: Vec<Vec<u8>>,
    pub(crate) wiped: bool,
}

impl Tx<'_> {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        crate::sqlite::get(self.conn, key)
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v")?;
        st.execute((key, value))?;
        self.written.push(key.to_vec());
        Ok(())
    }

    /// Writes derived data that is never read through the read cache (CloudTrail's event-history
    /// index), without the cache bookkeeping a `put` does.
    // INVARIANT: keys written here are never read with `get_cached`.
    pub fn put_uncached(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v")?;
        st.execute((key, value))?;
        Ok(())
    }

    /// Inserts a key that must not exist yet; returns `false` and writes nothing when it does.
    pub fn insert_new(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO NOTHING")?;
        let inserted = st.execute((key, value))? == 1;
        if inserted {
            self.written.push(key.to_vec());
        }
        Ok(inserted)
    }

    pub fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
        self.written.push(key.to_vec());
        Ok(st.execute([key])? == 1)
    }

    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        crate::sqlite::scan_prefix(self.conn, prefix, after, limit, reverse)
    }

    /// Appends `value` to the log at position `at` (a time), or at the first free position after
    /// it; returns the position it took.
    pub fn log_append(&mut self, at: i64, value: &[u8]) -> Result<i64, StoreError> {
        crate::sqlite::log_append(self.conn, at, value, self.packed_through)
    }

    /// Up to `limit` log entries with positions in `from..=to`, in position order (descending
    /// when `reverse`).
    pub fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        crate::sqlite::log_range(self.conn, from, to, limit, reverse)
    }

    /// Deletes the log entries at positions up to `to`; returns how many.
    pub fn log_delete_through(&mut self, to: i64) -> Result<usize, StoreError> {
        crate::sqlite::log_delete_through(self.conn, to)
    }

    /// Deletes every key and log entry (dev-mode reset).
    pub fn delete_all(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM log", [])?;
        self.conn.execute("DELETE FROM logpack", [])?;
        self.conn.execute("DELETE FROM kv", [])?;
        self.wiped = true;
        Ok(())
    }
}

/// A handle on the store; clone it freely.
#[derive(Clone)]
pub struct Db {
    engine: Arc<SqliteEngine>,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("engine", &"sqlite").finish()
    }
}

impl Db {
    /// Opens (creating if needed) the embedded SQLite store at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::default());
        Ok(Self { engine: Arc::new(SqliteEngine::open(path, cache.clone())?), cache })
    }

    /// Opens an existing SQLite store for reading only (see `SqliteEngine::open_read_only`).
    pub fn open_sqlite_read_only(path: &Path) -> Result<Self, StoreError> {
        let cache = Arc::new(ReadCache::default());
        Ok(Self { engine: Arc::new(SqliteEngine::open_read_only(path)?), cache })
    }

    /// Reads a committed value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.engine.read(|c| crate::sqlite::get(c, key))
    }

    /// Reads a committed value through an in-memory cache. Every transaction's writes are
    /// removed from the cache before the transaction is acknowledged, so a read that starts after
    /// a write is acknowledged never sees the old value. For hot records (access keys, policies);
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

    /// Reads up to `limit` committed pairs whose keys start with `prefix`, after the key `after`
    /// (before it when `reverse`), in key order (descending when `reverse`).
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.engine.read(|c| crate::sqlite::scan_prefix(c, prefix, after, limit, reverse))
    }

    /// Runs `f` atomically; its writes are durable when this returns `Ok`. When `f` fails, none of
    /// its writes are kept. Transactions run one at a time, in the order they are queued.
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, TxError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.engine.submit(Job::new(f, tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues writes without waiting for them to be durable; they commit with the next group
    /// (queued writes alone gather up to 20 ms first, so many share one commit).
    /// For records whose loss on a crash is acceptable by design (an access key's last use;
    /// read-only calls' audit events go to the log with [`Db::log_append_later`]).
    // INVARIANT: keys written here are never read with `get_cached`; these writes do not
    // invalidate the read cache.
    pub fn put_later(&self, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        self.engine.submit(Job::fire_and_forget(pairs))
    }

    /// Reads up to `limit` committed log entries with positions in `from..=to`, in position order
    /// (descending when `reverse`).
    pub fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        self.engine.read(|c| crate::sqlite::log_range(c, from, to, limit, reverse))
    }

    /// Reads the committed log entry at position `at`.
    pub fn log_get(&self, at: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.log_get_many(&[at])?.pop().flatten())
    }

    /// Reads the committed log entries at `positions`, in their order, in one read: positions
    /// near each other in a pack share its decompression.
    pub fn log_get_many(&self, positions: &[i64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.engine.read(|c| crate::sqlite::log_get_many(c, positions))
    }

    /// Queues a log append without waiting for it to be durable (see [`Db::put_later`]). The
    /// writer stores each group's queued appends compressed together (see [`crate::logpack`]); they
    /// read back as any entry does.
    pub fn log_append_later(&self, at: i64, value: Vec<u8>) -> Result<(), StoreError> {
        self.engine.submit(Job::LogLater { at, value })
    }

    /// Waits for every queued write to be durable, then stops the writer.
    pub fn close(&self) {
        self.engine.close();
    }
}
