//! How an event is kept in the store: its CloudTrail record (JSON) compressed against a built-in
//! dictionary of what records share — field names, identity types, ARN and user-agent fragments,
//! a typical record's skeleton — which makes a 1 KB record about a third of that. Records are
//! most of the bytes auditing writes.
//!
//! Layouts, by their first byte:
//! - [`PACKED_V1`]: the LEB128 length of the JSON, then an LZ4 block compressed with
//!   `event_dictionary.txt` as its dictionary.
//! - [`SPLIT_V1`]: a record whose `responseElements` were only known inside the transaction that
//!   stores it. The rest was packed before, off the store's single writer thread: the LEB128
//!   offset of the `null` standing for the response in the rest's JSON, the LEB128 length of the
//!   packed rest, the packed rest (as [`PACKED_V1`] without its first byte), then the response's
//!   JSON, spliced in on reading. See [`Skeleton`].
//! - `{`: a record kept as plain JSON (Rampart's first layout), read as it is.
//!
//! `lz4_flex` (pure Rust, no dependencies, checked decoding of corrupt input) is the codec: with
//! a dictionary it packs a record in about 2 µs, against about 10 µs for DEFLATE at its fastest
//! (which packs 20% smaller) — and packing sits on every state-changing request. A read-only
//! call's record is queued as plain JSON instead: the store compresses a group's queued records
//! together (`rampart_store::logpack`), smaller than each against the dictionary, and reads them
//! back as the `{` layout.

use std::borrow::Cow;

// INVARIANT: the dictionary never changes — every record stored with it needs it to be read. A
// different dictionary takes new format bytes.
const DICTIONARY: &[u8] = include_bytes!("event_dictionary.txt");
/// The format byte of a record packed against [`DICTIONARY`].
const PACKED_V1: u8 = 1;
/// The format byte of a record packed but for its response (see [`Skeleton`]).
const SPLIT_V1: u8 = 2;
/// Where a record's response goes, as its JSON serialization writes it when there is none.
const NO_RESPONSE: &[u8] = b"\"responseElements\":null";
/// The longest record read back: a guard against corrupt lengths, far above any real record.
const MAX_RECORD: usize = 64 << 20;

/// The stored form of a record's JSON.
pub fn pack(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() / 2);
    out.push(PACKED_V1);
    compress(json, &mut out);
    out
}

/// Appends `json`'s length and its LZ4 block against the dictionary to `out`.
fn compress(json: &[u8], out: &mut Vec<u8>) {
    put_len(out, json.len());
    // Straight into `out`, sized for the block's worst case, then cut to what was written.
    let start = out.len();
    out.resize(start + lz4_flex::block::get_maximum_output_size(json.len()), 0);
    let written = out.get_mut(start..).map(|room| lz4_flex::block::compress_into_with_dict(json, room, DICTIONARY));
    match written {
        Some(Ok(n)) => out.truncate(start + n),
        // Not reached (the room is the codec's own bound), but never a corrupt record.
        _ => {
            out.truncate(start);
            out.extend_from_slice(&lz4_flex::block::compress_with_dict(json, DICTIONARY));
        }
    }
}

/// The JSON of a length and LZ4 block; `None` when corrupt.
fn decompress(mut packed: &[u8]) -> Option<Vec<u8>> {
    // LZ4 expands a byte into at most 255: a longer length is corrupt, and not allocated.
    let len = take_len(&mut packed).filter(|n| *n <= MAX_RECORD && *n / 255 <= packed.len())?;
    // A block cut short decodes to less than its length says: refused too.
    lz4_flex::block::decompress_with_dict(packed, len, DICTIONARY).ok().filter(|json| json.len() == len)
}

/// A record packed but for its response, which is spliced in when it is stored
/// ([`Skeleton::with_response`]): so the packing happens before a state-changing call's
/// transaction, not on the store's writer thread inside it.
pub struct Skeleton {
    /// The packed record (length and block), with `null` for its response.
    packed: Vec<u8>,
    /// Where that `null` is in the record's JSON.
    at: usize,
}

impl Skeleton {
    /// The skeleton of a record serialized without response elements (`json` has
    /// `"responseElements":null`). The response's place is the last such field: nothing after
    /// it in a record is free-form JSON (`additionalEventData` must be absent). `None` if it is
    /// not there.
    pub fn new(json: &[u8]) -> Option<Self> {
        let field = json.windows(NO_RESPONSE.len()).rposition(|w| w == NO_RESPONSE)?;
        let at = field + NO_RESPONSE.len() - b"null".len();
        let mut packed = Vec::new();
        compress(json, &mut packed);
        Some(Self { packed, at })
    }

    /// The stored form of the record with `response` (JSON) as its response elements.
    pub fn with_response(&self, response: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.packed.len() + response.len() + 12);
        out.push(SPLIT_V1);
        put_len(&mut out, self.at);
        put_len(&mut out, self.packed.len());
        out.extend_from_slice(&self.packed);
        out.extend_from_slice(response);
        out
    }
}

/// A stored record's JSON; `None` when the bytes are no layout or are corrupt.
pub fn unpack(stored: &[u8]) -> Option<Cow<'_, [u8]>> {
    match stored.split_first()? {
        (b'{', _) => Some(Cow::Borrowed(stored)),
        (&PACKED_V1, packed) => decompress(packed).map(Cow::Owned),
        (&SPLIT_V1, mut rest) => {
            let at = take_len(&mut rest)?;
            let len = take_len(&mut rest)?;
            let (packed, response) = rest.split_at_checked(len)?;
            let skeleton = decompress(packed)?;
            let (before, after) = skeleton.split_at_checked(at)?;
            let after = after.strip_prefix(b"null")?;
            let mut json = Vec::with_capacity(skeleton.len() + response.len());
            json.extend_from_slice(before);
            json.extend_from_slice(response);
            json.extend_from_slice(after);
            Some(Cow::Owned(json))
        }
        _ => None,
    }
}

/// Appends `n` in LEB128 (the event store's and its index's one number format; seven lines,
/// not worth a dependency).
pub(super) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let low = u8::try_from(n & 0x7f).unwrap_or_default();
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Takes one LEB128 number off the front of `bytes`; `None` when it is cut short or longer than
/// a `u64` takes.
pub(super) fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// [`take_varint`] as a length or offset.
fn take_len(bytes: &mut &[u8]) -> Option<usize> {
    take_varint(bytes).and_then(|n| usize::try_from(n).ok())
}

/// [`put_varint`] of a length or offset.
fn put_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, u64::try_from(n).unwrap_or(u64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_smaller_and_plain_json_still_reads() {
        let ev = crate::tests::sample("01a208da-41c7-7c0c-b7dc-67c6b79fc050");
        let json = serde_json::to_vec(&ev).unwrap();
        let packed = pack(&json);
        assert_eq!(packed[0], PACKED_V1);
        assert!(packed.len() * 2 < json.len(), "{} bytes of {}", packed.len(), json.len());
        assert_eq!(unpack(&packed).unwrap().as_ref(), json.as_slice());
        assert!(matches!(unpack(&json), Some(Cow::Borrowed(_))), "the first layout reads as is");
        // Long and incompressible records.
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes()).collect();
        let big = serde_json::to_vec(&serde_json::json!({ "x": data_encoding::BASE64.encode(&big) })).unwrap();
        assert_eq!(unpack(&pack(&big)).unwrap().as_ref(), big.as_slice());
    }

    #[test]
    fn a_skeleton_takes_its_response_when_stored() {
        let mut ev = crate::tests::sample("e");
        // A request parameter that looks like the response field does not confuse it.
        ev.request_parameters = Some(serde_json::json!({ "responseElements": null }));
        ev.response_elements = None;
        let skeleton = Skeleton::new(&serde_json::to_vec(&ev).unwrap()).unwrap();
        let response = serde_json::json!({ "user": { "userName": "ana", "path": "/" } });
        let stored = skeleton.with_response(&serde_json::to_vec(&response).unwrap());
        assert_eq!(stored[0], SPLIT_V1);
        ev.response_elements = Some(response);
        assert_eq!(unpack(&stored).unwrap().as_ref(), serde_json::to_vec(&ev).unwrap().as_slice());
        assert!(Skeleton::new(b"{\"responseElements\":{}}").is_none(), "no place for a response");
        let mut bad = stored.clone();
        bad[1] = 0x7f;
        assert!(unpack(&bad).is_none(), "an offset that is not the response's place");
    }

    #[test]
    fn corrupt_records_are_refused() {
        let packed = pack(&serde_json::to_vec(&crate::tests::sample("e")).unwrap());
        assert!(unpack(&packed[..packed.len() / 2]).is_none(), "cut short");
        assert!(unpack(&[PACKED_V1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]).is_none(), "a length beyond any record");
        assert!(unpack(&[PACKED_V1, 10, 0xff, 0xff]).is_none());
        assert!(unpack(&[7, 1, 2]).is_none(), "unknown format");
        assert!(unpack(&[]).is_none());
    }
}
