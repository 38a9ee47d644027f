//! Rampart's storage: a small ordered key-value interface with transactions, and sealing of
//! secrets at rest.
//!
//! Services see [`Db`]: point reads and prefix scans of committed data, and [`Db::transact`], which
//! runs a closure atomically. Beside the keys, the store keeps a *log*: values by a 64-bit
//! position (a time), appended in about position order and read by position range — audit
//! events, which are most of what is written. Its own table (SQLite's rowid B-tree) takes an
//! append as a new cell at the tree's right edge, where the ordered key table would rebalance
//! pages; under load that halves what an event costs in pages written. Queued appends are stored
//! a run at a time as compressed [`logpack`]s. Engines are adapters behind it; the embedded default is SQLite in the
//! data directory (WAL, `synchronous=FULL`), written by one thread that commits every queued
//! transaction with one fsync (group commit). A transaction is acknowledged only once durable.

mod cache;
pub mod copy;
mod db;
mod group;
pub mod logpack;
mod pg;
mod read_set;
mod seal;
mod sqlite;

pub use db::{Db, Tx, TxError};
pub use pg::{PgOptions, SCHEMA_VERSION, check_url as check_postgres_url, redact_url};
pub use read_set::{ReadSet, Seen};
pub use seal::{MASTER_KEY_LEN, SealError, Sealer};
pub use sqlite::backup as backup_embedded;

/// A key and its value, as scans return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A log entry: its position and value.
pub type LogEntry = (i64, Vec<u8>);

/// A storage failure. Details are for the log, never for the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store is closed")]
    Closed,
    #[error("the store's writer failed: {0}")]
    Writer(String),
    #[error(transparent)]
    Corrupt(#[from] logpack::Corrupt),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database cannot be reached now; the node keeps trying.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// The store cannot be opened as configured (a message for the operator).
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// Whether the failure is the database's absence, which a client may retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Closed)
    }
}

/// The key range a prefix scan reads: from `lo` (inclusive or not) to `hi` (exclusive; `None` is
/// unbounded), so that keys start with the prefix and come after `after` in the scan's direction.
pub(crate) struct Bounds {
    pub(crate) lo: Vec<u8>,
    pub(crate) lo_inclusive: bool,
    pub(crate) hi: Option<Vec<u8>>,
}

impl Bounds {
    pub(crate) fn of(prefix: &[u8], after: Option<&[u8]>, reverse: bool) -> Self {
        let end = prefix_end(prefix);
        match (after, reverse) {
            (Some(a), false) => Self { lo: a.to_vec().max(prefix.to_vec()), lo_inclusive: a < prefix, hi: end },
            (Some(a), true) => Self {
                lo: prefix.to_vec(),
                lo_inclusive: true,
                hi: Some(end.map_or(a.to_vec(), |e| e.min(a.to_vec()))),
            },
            (None, _) => Self { lo: prefix.to_vec(), lo_inclusive: true, hi: end },
        }
    }
}

/// The end of the range of keys that start with `prefix` (exclusive), or `None` when unbounded.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte_that_can() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
