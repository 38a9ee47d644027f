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
mod db;
pub mod logpack;
mod seal;
mod sqlite;

pub use db::{Db, Tx, TxError};
pub use seal::{MASTER_KEY_LEN, SealError, Sealer};

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
