//! Moving a store to another engine (the embedded one to PostgreSQL, or back): every key and log
//! entry, copied in batches through the ordinary interface, then verified by a digest of both.
//!
//! The source should not change while it is copied (stop its servers): the copy reads it batch by
//! batch, not in one snapshot, and the verification would then fail rather than pass a copy of a
//! moving store.

use aws_lc_rs::digest::{Context, SHA256};

use crate::{Db, KeyValue, LogEntry, StoreError, TxError};

/// Keys or log entries per batch (one transaction on the target each).
const BATCH: usize = 2_000;

/// How far a copy is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub keys: u64,
    pub log_entries: u64,
}

/// What a store holds, summed up: its counts and a SHA-256 over every key, value and log entry in
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub keys: u64,
    pub log_entries: u64,
    pub digest: [u8; 32],
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target store already holds data; copy into an empty one")]
    TargetNotEmpty,
    #[error(
        "the copy does not match its source ({source_keys} keys and {source_log} log entries, against \
         {target_keys} and {target_log}, or different bytes): was the source changed while it was copied?"
    )]
    Mismatch { source_keys: u64, source_log: u64, target_keys: u64, target_log: u64 },
}

/// Whether a store holds nothing at all.
pub fn is_empty(db: &Db) -> Result<bool, StoreError> {
    Ok(db.scan_prefix(b"", None, 1, false)?.is_empty() && db.log_range(i64::MIN, i64::MAX, 1, false)?.is_empty())
}

/// Copies every key and log entry of `from` into `to`, which must be empty, reporting progress
/// after each batch; then checks that both sum up the same.
pub async fn copy(from: &Db, to: &Db, mut progress: impl FnMut(Progress)) -> Result<Summary, CopyError> {
    if !is_empty(to)? {
        return Err(CopyError::TargetNotEmpty);
    }
    let mut done = Progress::default();
    for batch in key_batches(from) {
        let batch = batch?;
        let n = batch.len() as u64;
        to.transact(move |tx| -> Result<(), StoreError> {
            for (k, v) in &batch {
                tx.put(k, v)?;
            }
            Ok(())
        })
        .await
        .map_err(store)?;
        done.keys += n;
        progress(done);
    }
    for batch in log_batches(from) {
        let batch = batch?;
        let n = batch.len() as u64;
        // Queued appends are stored together (packed, on the embedded engine); on an empty
        // target each keeps its position. The empty transaction after them waits for their commit.
        for (t, v) in batch {
            to.log_append_later(t, v)?;
        }
        to.transact(|_| Ok::<(), StoreError>(())).await.map_err(store)?;
        done.log_entries += n;
        progress(done);
    }
    let (source, target) = (summarize(from)?, summarize(to)?);
    if source != target {
        return Err(CopyError::Mismatch {
            source_keys: source.keys,
            source_log: source.log_entries,
            target_keys: target.keys,
            target_log: target.log_entries,
        });
    }
    Ok(target)
}

fn store(e: TxError<StoreError>) -> StoreError {
    match e {
        TxError::Aborted(e) | TxError::Store(e) => e,
    }
}

/// Sums up a store: counts, and a digest of every key and value in key order, then every log
/// entry in position order (each length-prefixed, so no two stores share a digest by framing).
pub fn summarize(db: &Db) -> Result<Summary, StoreError> {
    let mut ctx = Context::new(&SHA256);
    let mut framed = |tag: u8, parts: &[&[u8]]| {
        ctx.update(&[tag]);
        for p in parts {
            ctx.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
            ctx.update(p);
        }
    };
    let (mut keys, mut log_entries) = (0u64, 0u64);
    for batch in key_batches(db) {
        let batch = batch?;
        for (k, v) in &batch {
            framed(b'k', &[k, v]);
        }
        keys += batch.len() as u64;
    }
    for batch in log_batches(db) {
        let batch = batch?;
        for (t, v) in &batch {
            framed(b'l', &[&t.to_be_bytes(), v]);
        }
        log_entries += batch.len() as u64;
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(ctx.finish().as_ref());
    Ok(Summary { keys, log_entries, digest })
}

/// Every key and value of a store in key order, a batch at a time.
fn key_batches(db: &Db) -> impl Iterator<Item = Result<Vec<KeyValue>, StoreError>> + '_ {
    let mut after: Option<Vec<u8>> = None;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match db.scan_prefix(b"", after.as_deref(), BATCH, false) {
            Ok(batch) => {
                after = Some(batch.last()?.0.clone());
                Some(Ok(batch))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// Every log entry of a store in position order, a batch at a time.
fn log_batches(db: &Db) -> impl Iterator<Item = Result<Vec<LogEntry>, StoreError>> + '_ {
    let mut next = Some(i64::MIN);
    std::iter::from_fn(move || {
        let from = next?;
        match db.log_range(from, i64::MAX, BATCH, false) {
            Ok(batch) => {
                next = batch.last()?.0.checked_add(1);
                Some(Ok(batch))
            }
            Err(e) => {
                next = None;
                Some(Err(e))
            }
        }
    })
}
