//! Object bytes in the store: a run of sealed chunks of at most [`CHUNK`] bytes each, under a
//! prefix (`PREFIX 0x00 INDEX`). A version's bytes are one run (a single PUT) or several (one
//! per part of a multipart upload, kept where the parts were written), so no object passes
//! through one store value, and a range reads only the chunks it covers.

use rampart_core::ServiceError;
use rampart_core::records::Reader;
use rampart_store::Tx;

use crate::encryption::Sealing;

/// The plaintext bytes per chunk.
pub(crate) const CHUNK: usize = 1 << 20;

/// The store key of a run's `index`th chunk.
fn chunk_key(prefix: &[u8], index: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(0);
    k.extend_from_slice(format!("{index:08x}").as_bytes());
    k
}

/// Writes `body` as the run at `prefix`, each chunk sealed.
pub(crate) fn write(tx: &mut Tx<'_>, sealing: &Sealing<'_>, prefix: &[u8], body: &[u8]) -> Result<(), ServiceError> {
    put_sealed(tx, prefix, seal(sealing, prefix, body)?)
}

/// Seals `body` as the run at `prefix` will hold it (each chunk bound to its store key), without
/// the store: work done before a transaction.
pub(crate) fn seal(sealing: &Sealing<'_>, prefix: &[u8], body: &[u8]) -> Result<Vec<Vec<u8>>, ServiceError> {
    body.chunks(CHUNK).enumerate().map(|(i, chunk)| sealing.seal(&chunk_key(prefix, i as u64), chunk)).collect()
}

/// Writes chunks [`seal`] made as the run at `prefix`.
pub(crate) fn put_sealed(tx: &mut Tx<'_>, prefix: &[u8], chunks: Vec<Vec<u8>>) -> Result<(), ServiceError> {
    for (i, sealed) in chunks.into_iter().enumerate() {
        tx.put(&chunk_key(prefix, i as u64), &sealed)?;
    }
    Ok(())
}

/// Deletes the chunks of the run at `prefix` from the one holding byte `from` to the end of a run
/// of `len` bytes (all of them from 0), by their keys.
pub(crate) fn delete_past(tx: &mut Tx<'_>, prefix: &[u8], from: u64, len: u64) -> Result<(), ServiceError> {
    let chunk = CHUNK as u64;
    for i in from.div_ceil(chunk)..len.div_ceil(chunk) {
        tx.delete(&chunk_key(prefix, i))?;
    }
    Ok(())
}

/// Deletes the run at `prefix`.
pub(crate) fn delete(tx: &mut Tx<'_>, prefix: &[u8]) -> Result<(), ServiceError> {
    let mut scan = prefix.to_vec();
    scan.push(0);
    loop {
        let batch = tx.scan_prefix(&scan, None, 256, false)?;
        if batch.is_empty() {
            return Ok(());
        }
        for (k, _) in batch {
            tx.delete(&k)?;
        }
    }
}

/// A read that met a run deleted under it (its version deleted or replaced since the read found
/// it): S3's error to retry on. See `objects::read_segments`, which tells this from a chunk lost.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html> (InternalError).
pub(crate) fn gone() -> ServiceError {
    ServiceError::new("InternalError", 500, GONE)
}

const GONE: &str = "We encountered an internal error. Please try again.";

/// Whether `e` is [`gone`].
pub(crate) fn is_gone(e: &ServiceError) -> bool {
    e.code == "InternalError" && e.message == GONE
}

/// Reads bytes `from..to` of the run at `prefix`, appending them to `out`; [`gone`] when a chunk
/// of it is not there.
pub(crate) fn read(
    get: &Reader<'_>,
    sealing: &Sealing<'_>,
    prefix: &[u8],
    (from, to): (u64, u64),
    out: &mut Vec<u8>,
) -> Result<(), ServiceError> {
    let chunk = CHUNK as u64;
    let mut i = from / chunk;
    while i * chunk < to {
        let at = chunk_key(prefix, i);
        let stored = get(&at)?.ok_or_else(gone)?;
        let plain = sealing.open(&at, &stored)?;
        let start = usize::try_from(from.saturating_sub(i * chunk)).unwrap_or(0);
        let end = usize::try_from((to - i * chunk).min(chunk)).unwrap_or(0).min(plain.len());
        out.extend_from_slice(plain.get(start..end).ok_or_else(ServiceError::internal)?);
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_sort_by_index_under_their_prefix() {
        let (a, b) = (chunk_key(b"p", 9), chunk_key(b"p", 10));
        assert!(a < b);
        assert!(a.starts_with(b"p\0"));
    }
}
