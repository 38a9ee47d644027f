//! Records in the store: each service's own versioned JSON, read and written through these.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_store::{Db, StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::ServiceError;

/// A record as the store keeps it: JSON.
pub fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Writer(e.to_string()))
}

/// Decodes a stored JSON record; a record that does not decode is logged and fails as internal.
pub fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], bytes: &[u8]) -> Result<T, ServiceError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(key = %String::from_utf8_lossy(key), error = %e, "corrupt record");
        ServiceError::internal()
    })
}

/// Reads a JSON record.
pub fn read<T: for<'de> Deserialize<'de>>(db: &Db, key: &[u8]) -> Result<Option<T>, ServiceError> {
    db.get(key)?.map(|b| decode(key, &b)).transpose()
}

/// Reads a JSON record through the store's read cache (for records on every request's path).
pub fn read_cached<T: for<'de> Deserialize<'de>>(db: &Db, key: &[u8]) -> Result<Option<T>, ServiceError> {
    db.get_cached(key)?.map(|b| decode(key, &b)).transpose()
}

/// Reads a JSON record inside a transaction.
pub fn read_tx<T: for<'de> Deserialize<'de>>(tx: &Tx<'_>, key: &[u8]) -> Result<Option<T>, ServiceError> {
    tx.get(key)?.map(|b| decode(key, &b)).transpose()
}

/// Writes a JSON record inside a transaction.
pub fn write_tx<T: Serialize>(tx: &mut Tx<'_>, key: &[u8], record: &T) -> Result<(), ServiceError> {
    tx.put(key, &to_json(record)?)?;
    Ok(())
}

/// A raw store read, through the read cache or inside a transaction: for code that serves both.
pub type Reader<'a> = dyn Fn(&[u8]) -> Result<Option<Arc<[u8]>>, ServiceError> + 'a;

/// A [`Reader`] through the store's read cache (an unchanged record comes back as the same bytes).
pub fn cached_reader(db: &Db) -> impl Fn(&[u8]) -> Result<Option<Arc<[u8]>>, ServiceError> + '_ {
    move |key| Ok(db.get_cached(key)?)
}

/// A [`Reader`] inside a transaction (its own writes included).
pub fn tx_reader<'a>(tx: &'a Tx<'_>) -> impl Fn(&[u8]) -> Result<Option<Arc<[u8]>>, ServiceError> + 'a {
    move |key| Ok(tx.get(key)?.map(Arc::from))
}

/// Records decoded once per version of their bytes, for those read on every request's path
/// (access keys, users, KMS keys): a record whose stored bytes are unchanged is not parsed again.
/// The store's read cache hands back the same bytes for an unchanged record, so the check is
/// usually a pointer comparison.
pub struct Decoded<T> {
    entries: Mutex<HashMap<Vec<u8>, Entry<T>>>,
}

/// A decoded record with the bytes it was decoded from.
type Entry<T> = (Arc<[u8]>, Arc<T>);

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

/// Most records one [`Decoded`] holds; it empties itself when full.
const DECODED_LIMIT: usize = 10_000;

impl<T: for<'de> Deserialize<'de>> Decoded<T> {
    /// A record through the store's read cache.
    pub fn read(&self, db: &Db, key: &[u8]) -> Result<Option<Arc<T>>, ServiceError> {
        self.read_with(&cached_reader(db), key, |_| {})
    }

    /// A record through `get`, `finish`ed once when decoded (to derive what is kept beside it).
    pub fn read_with(
        &self,
        get: &Reader<'_>,
        key: &[u8],
        finish: impl FnOnce(&mut T),
    ) -> Result<Option<Arc<T>>, ServiceError> {
        let Some(raw) = get(key)? else { return Ok(None) };
        if let Ok(entries) = self.entries.lock()
            && let Some((bytes, record)) = entries.get(key)
            && (Arc::ptr_eq(bytes, &raw) || **bytes == *raw)
        {
            return Ok(Some(record.clone()));
        }
        let mut record = decode::<T>(key, &raw)?;
        finish(&mut record);
        let record = Arc::new(record);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= DECODED_LIMIT {
                entries.clear();
            }
            entries.insert(key.to_vec(), (raw, record.clone()));
        }
        Ok(Some(record))
    }
}

/// Reads a JSON record through a [`Reader`].
pub fn read_with<T: for<'de> Deserialize<'de>>(get: &Reader<'_>, key: &[u8]) -> Result<Option<T>, ServiceError> {
    get(key)?.map(|v| decode(key, &v)).transpose()
}

/// Every committed record under a prefix, in key order.
pub fn scan_records<T: for<'de> Deserialize<'de>>(db: &Db, prefix: &[u8]) -> Result<Vec<T>, ServiceError> {
    db.scan_prefix(prefix, None, usize::MAX >> 1, false)?.iter().map(|(k, v)| decode(k, v)).collect()
}

/// [`scan_records`], inside a transaction (its own writes included).
pub fn scan_records_tx<T: for<'de> Deserialize<'de>>(tx: &Tx<'_>, prefix: &[u8]) -> Result<Vec<T>, ServiceError> {
    tx.scan_prefix(prefix, None, usize::MAX >> 1, false)?.iter().map(|(k, v)| decode(k, v)).collect()
}
