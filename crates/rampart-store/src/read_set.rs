//! The records something was made from, as read through the read cache, to tell when it must be
//! made again: a proxy's compiled web ACL, a listener's routes.
//!
//! Checking them costs a read-cache lookup per record, a lock every core shares; so a set found
//! unchanged at one cache generation ([`Db::cache_generation`]) is unchanged while the generation
//! lasts, and is looked at again only after a commit. The generation is read before the records:
//! a commit while they are read makes the next check read them again. A record that could not be
//! read makes the set changed, so what was made from the failure is made again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Db, StoreError};

/// A record's key and its bytes as read (`None`: absent).
pub type Seen = (Vec<u8>, Option<Arc<[u8]>>);

/// Never checked.
const UNCHECKED: u64 = u64::MAX;

#[derive(Debug)]
pub struct ReadSet {
    seen: Vec<Seen>,
    /// A read failed: the set is never unchanged.
    failed: bool,
    /// The cache generation the set was last found unchanged at.
    checked: AtomicU64,
}

impl Default for ReadSet {
    fn default() -> Self {
        Self { seen: Vec::new(), failed: false, checked: AtomicU64::new(UNCHECKED) }
    }
}

impl ReadSet {
    /// Reads `key` through the read cache, and keeps what was read.
    pub fn read(&mut self, db: &Db, key: Vec<u8>) -> Result<Option<Arc<[u8]>>, StoreError> {
        match db.get_cached(&key) {
            Ok(bytes) => {
                self.seen.push((key, bytes.clone()));
                Ok(bytes)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// The records read, in the order they were.
    pub fn records(&self) -> &[Seen] {
        &self.seen
    }

    /// Whether every record is as it was read.
    pub fn unchanged(&self, db: &Db) -> bool {
        if self.failed {
            return false;
        }
        let generation = db.cache_generation();
        if generation.is_some_and(|g| g == self.checked.load(Ordering::Acquire)) {
            return true;
        }
        let unchanged = self.seen.iter().all(|(key, was)| match (db.get_cached(key), was) {
            (Ok(Some(now)), Some(was)) => Arc::ptr_eq(&now, was) || now == *was,
            (Ok(None), None) => true,
            _ => false,
        });
        if let (true, Some(g)) = (unchanged, generation) {
            self.checked.store(g, Ordering::Release);
        }
        unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(db: &Db, key: &'static [u8], value: &'static [u8]) {
        db.transact(move |tx| -> Result<(), crate::TxError<()>> { Ok(tx.put(key, value)?) }).await.unwrap();
    }

    #[tokio::test]
    async fn a_set_is_unchanged_until_a_commit_writes_one_of_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("s.db")).unwrap();
        put(&db, b"a", b"1").await;
        let mut set = ReadSet::default();
        assert_eq!(set.read(&db, b"a".to_vec()).unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(set.read(&db, b"b".to_vec()).unwrap(), None);
        assert!(set.unchanged(&db));
        assert!(set.unchanged(&db), "again, at the same generation");
        // A commit of another record: a new generation, the records looked at, still the same.
        put(&db, b"c", b"x").await;
        assert!(set.unchanged(&db));
        put(&db, b"b", b"2").await;
        assert!(!set.unchanged(&db), "a record that was absent is there");
        let mut set = ReadSet::default();
        set.read(&db, b"a".to_vec()).unwrap();
        put(&db, b"a", b"3").await;
        assert!(!set.unchanged(&db), "a record read has new bytes");
        assert_eq!(set.records().len(), 1);
    }
}
