//! How an event is kept in the store: its CloudTrail record (JSON) deflated against a built-in
//! dictionary of what records share — field names, identity types, ARN and user-agent fragments,
//! a typical record's skeleton — which makes a 1 KB record about a quarter of that. Records are
//! most of the bytes auditing writes, and bytes written are most of what auditing costs.
//!
//! Layout: a format byte, [`DEFLATED_V1`], then a raw DEFLATE stream (RFC 1951) with
//! `event_dictionary.txt` preset. A stored value starting with `{` is a record kept as plain JSON
//! (Rampart's first layout, and the fallback should deflating ever fail), read as it is.
//! `flate2` with its `zlib-rs` backend (pure Rust) is the codec: it is already the workspace's
//! gzip, and of its backends only the zlib ones take a preset dictionary.

use std::borrow::Cow;
use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

// INVARIANT: the dictionary never changes — every record stored with it needs it to be read. A
// different dictionary takes a new format byte.
const DICTIONARY: &[u8] = include_bytes!("event_dictionary.txt");
/// The format byte of a record deflated against [`DICTIONARY`].
const DEFLATED_V1: u8 = 1;
/// The longest record read back: a guard against corrupt streams, far above any real record.
const MAX_RECORD: usize = 64 << 20;

thread_local! {
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// The stored form of a record's JSON.
pub fn pack(json: &[u8]) -> Vec<u8> {
    let deflated = DEFLATE.with(|cell| {
        let mut d = cell.try_borrow_mut().ok()?;
        d.reset();
        d.set_dictionary(DICTIONARY).ok()?;
        let mut out = Vec::with_capacity(json.len() / 2 + 64);
        out.push(DEFLATED_V1);
        loop {
            let rest = json.get(usize::try_from(d.total_in()).ok()?..)?;
            match d.compress_vec(rest, &mut out, FlushCompress::Finish).ok()? {
                Status::StreamEnd => return Some(out),
                // Out of room: more, and go on.
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
    });
    deflated.unwrap_or_else(|| json.to_vec())
}

/// A stored record's JSON; `None` when the bytes are neither layout or the stream is corrupt.
pub fn unpack(stored: &[u8]) -> Option<Cow<'_, [u8]>> {
    match stored.split_first()? {
        (b'{', _) => Some(Cow::Borrowed(stored)),
        (&DEFLATED_V1, stream) => INFLATE.with(|cell| {
            let mut d = cell.try_borrow_mut().ok()?;
            d.reset(false);
            d.set_dictionary(DICTIONARY).ok()?;
            let mut out = Vec::with_capacity(stream.len().saturating_mul(4).min(MAX_RECORD) + 64);
            loop {
                let (read, written) = (d.total_in(), d.total_out());
                let rest = stream.get(usize::try_from(read).ok()?..)?;
                let status = d.decompress_vec(rest, &mut out, FlushDecompress::Finish).ok()?;
                if status == Status::StreamEnd {
                    return Some(Cow::Owned(out));
                }
                if out.len() >= MAX_RECORD || (d.total_in(), d.total_out()) == (read, written) {
                    // Too long, or cut short: no progress is possible.
                    return None;
                }
                if out.len() == out.capacity() {
                    out.reserve(out.capacity().max(64));
                }
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_smaller_and_plain_json_still_reads() {
        let ev = crate::cloudtrail::tests::sample("01a208da-41c7-7c0c-b7dc-67c6b79fc050");
        let json = serde_json::to_vec(&ev).unwrap();
        let packed = pack(&json);
        assert_eq!(packed[0], DEFLATED_V1);
        assert!(packed.len() * 3 < json.len(), "{} bytes of {}", packed.len(), json.len());
        assert_eq!(unpack(&packed).unwrap().as_ref(), json.as_slice());
        assert!(matches!(unpack(&json), Some(Cow::Borrowed(_))), "the first layout reads as is");
        // Long and incompressible records, and one after another on the same thread.
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes()).collect();
        let big = serde_json::to_vec(&serde_json::json!({ "x": data_encoding::BASE64.encode(&big) })).unwrap();
        assert_eq!(unpack(&pack(&big)).unwrap().as_ref(), big.as_slice());
        assert_eq!(unpack(&pack(&json)).unwrap().as_ref(), json.as_slice());
    }

    #[test]
    fn corrupt_records_are_refused() {
        let packed = pack(&serde_json::to_vec(&crate::cloudtrail::tests::sample("e")).unwrap());
        assert!(unpack(&packed[..packed.len() / 2]).is_none(), "cut short");
        assert!(unpack(&[DEFLATED_V1, 0xff, 0xff, 0xff]).is_none());
        assert!(unpack(&[7, 1, 2]).is_none(), "unknown format");
        assert!(unpack(&[]).is_none());
    }
}
