//! Packs: runs of queued log entries stored as one row, compressed together (pure, no I/O).
//!
//! Read-only calls' audit events are most of what the log holds. They arrive hundreds at a time,
//! nobody waits for them, and they need no atomicity with anything, so the writer stores each run
//! of them as one row: one B-tree insert instead of one per entry, and one LZ4 block in which
//! each record compresses against the ones before it — about 70 bytes a typical event instead of
//! about 250 for a record compressed alone (`cargo bench -p rampart-cloudtrail --bench
//! audit_event`). Fewer bytes is fewer pages written to the WAL and again by the checkpoint.
//!
//! A pack is two blobs:
//! - its *keys*: the LEB128 member count, then per member the LEB128 distance of its position
//!   from the one before (the first member's from the row's position, so 0; then at least 1:
//!   positions strictly increase) and the LEB128 length of its value;
//! - its *block*: one LZ4 block of the members' values end to end.
//!
//! The keys come first and uncompressed, so a reader learns which positions a pack holds without
//! decompressing it.

use crate::LogEntry;

/// Most members in a pack: a read of one member decompresses its whole pack (about 8 µs for 64
/// typical events), and larger packs compress little better.
pub const MAX_MEMBERS: usize = 64;
/// Most bytes of values a pack holds, beyond its first member: bounds a pack's decompression.
pub const MAX_RAW: usize = 256 << 10;
/// The most a pack may claim to hold when read back: a guard against corrupt lengths.
const MAX_CLAIMED: usize = 64 << 20;

/// A pack's stored form: `(keys, block)`. `members` are in strictly increasing position order
/// (the caller's invariant; checked in debug builds).
pub fn encode(members: &[LogEntry]) -> (Vec<u8>, Vec<u8>) {
    debug_assert!(members.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
    let mut keys = Vec::with_capacity(1 + members.len() * 4);
    put_uint(&mut keys, members.len() as u64);
    let mut prev = members.first().map_or(0, |m| m.0);
    let mut raw = Vec::with_capacity(members.iter().map(|m| m.1.len()).sum());
    for (at, value) in members {
        put_uint(&mut keys, at.abs_diff(prev));
        put_uint(&mut keys, value.len() as u64);
        prev = *at;
        raw.extend_from_slice(value);
    }
    (keys, lz4_flex::block::compress(&raw))
}

/// Why a pack could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a log pack is corrupt: {0}")]
pub struct Corrupt(&'static str);

/// A pack's keys, read: which positions it holds and how long each value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `(position, length)` of each member, in position order.
    pub members: Vec<(i64, usize)>,
}

impl Keys {
    /// Reads the keys of the pack whose row is at position `first`.
    pub fn parse(first: i64, mut keys: &[u8]) -> Result<Self, Corrupt> {
        let n = take_uint(&mut keys).ok_or(Corrupt("member count"))?;
        // Every member takes at least two bytes of keys: a larger count is corrupt, not allocated.
        let n = usize::try_from(n).ok().filter(|n| *n <= keys.len() / 2).ok_or(Corrupt("member count"))?;
        let mut members = Vec::with_capacity(n);
        let mut at = first;
        let mut total = 0usize;
        for i in 0..n {
            let step = take_uint(&mut keys).ok_or(Corrupt("position"))?;
            if (i == 0) != (step == 0) {
                return Err(Corrupt("positions out of order"));
            }
            at = i64::try_from(step).ok().and_then(|s| at.checked_add(s)).ok_or(Corrupt("position"))?;
            let len = take_uint(&mut keys).and_then(|l| usize::try_from(l).ok()).ok_or(Corrupt("length"))?;
            total = total.checked_add(len).filter(|t| *t <= MAX_CLAIMED).ok_or(Corrupt("length"))?;
            members.push((at, len));
        }
        if !keys.is_empty() {
            return Err(Corrupt("trailing bytes"));
        }
        Ok(Self { members })
    }

    /// The last member's position.
    pub fn last(&self) -> Option<i64> {
        self.members.last().map(|m| m.0)
    }

    /// Whether a member is at `at`.
    pub fn holds(&self, at: i64) -> bool {
        self.members.binary_search_by_key(&at, |m| m.0).is_ok()
    }

    /// The members whose positions are in `from..=to`, with their values, in position order.
    /// Decompresses `block` only when there is one.
    pub fn expand(&self, block: &[u8], from: i64, to: i64) -> Result<Vec<LogEntry>, Corrupt> {
        if !self.members.iter().any(|m| (from..=to).contains(&m.0)) {
            return Ok(Vec::new());
        }
        let raw = self.decompress(block)?;
        let mut out = Vec::new();
        let mut start = 0;
        for (at, len) in &self.members {
            if (from..=to).contains(at) {
                out.push((*at, raw.get(start..start + len).unwrap_or_default().to_vec()));
            }
            start += len;
        }
        Ok(out)
    }

    /// The values of all members end to end, as [`Keys::value`] reads them.
    pub fn decompress(&self, block: &[u8]) -> Result<Vec<u8>, Corrupt> {
        let total: usize = self.members.iter().map(|m| m.1).sum();
        // LZ4 expands a byte into at most 255: a longer claim is corrupt, and not allocated.
        if total / 255 > block.len() {
            return Err(Corrupt("block too short"));
        }
        let raw = lz4_flex::block::decompress(block, total).map_err(|_| Corrupt("block"))?;
        if raw.len() != total {
            return Err(Corrupt("block too short"));
        }
        Ok(raw)
    }

    /// The value of the member at `at` in `raw`, the pack's values as [`Keys::decompress`] gave them.
    pub fn value<'r>(&self, raw: &'r [u8], at: i64) -> Option<&'r [u8]> {
        let i = self.members.binary_search_by_key(&at, |m| m.0).ok()?;
        let start: usize = self.members.get(..i)?.iter().map(|m| m.1).sum();
        raw.get(start..start + self.members.get(i)?.1)
    }
}

fn put_uint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_uint(input: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        n |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    fn members() -> Vec<LogEntry> {
        vec![(-5, b"first".to_vec()), (1_000, Vec::new()), (1_001, b"third, a little longer".repeat(9))]
    }

    #[test]
    fn a_pack_reads_back_its_members_and_any_range_of_them() {
        let m = members();
        let (keys, block) = encode(&m);
        let parsed = Keys::parse(-5, &keys).unwrap();
        assert_eq!(parsed.members, m.iter().map(|(t, v)| (*t, v.len())).collect::<Vec<_>>());
        assert_eq!(parsed.last(), Some(1_001));
        assert!(parsed.holds(1_000) && !parsed.holds(999));
        assert_eq!(parsed.expand(&block, i64::MIN, i64::MAX).unwrap(), m);
        assert_eq!(parsed.expand(&block, 0, 1_000).unwrap(), m[1..2].to_vec());
        assert!(parsed.expand(&[], 2_000, 3_000).unwrap().is_empty(), "no member in range: no decompression");
        let raw = parsed.decompress(&block).unwrap();
        for (at, value) in &m {
            assert_eq!(parsed.value(&raw, *at), Some(value.as_slice()));
        }
        assert_eq!(parsed.value(&raw, 999), None);
    }

    #[test]
    fn corrupt_packs_are_refused() {
        let (keys, block) = encode(&members());
        let parsed = Keys::parse(-5, &keys).unwrap();
        assert!(parsed.expand(&block[..block.len() - 1], 0, 2_000).is_err(), "a block cut short");
        assert!(Keys::parse(-5, &keys[..keys.len() - 1]).is_err(), "keys cut short");
        assert!(Keys::parse(-5, &[keys.as_slice(), &[0]].concat()).is_err(), "trailing bytes");
        assert_eq!(Keys::parse(0, &[2, 0, 1, 0, 1]), Err(Corrupt("positions out of order")), "a repeated position");
        assert_eq!(Keys::parse(0, &[1, 3, 1]), Err(Corrupt("positions out of order")), "a first step");
        assert!(Keys::parse(i64::MAX, &[2, 0, 0, 1, 0]).is_err(), "a position past the end of time");
        assert!(Keys::parse(0, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]).is_err(), "a count larger than the keys");
        let huge = Keys { members: vec![(0, MAX_CLAIMED)] };
        assert!(huge.expand(&block, 0, 0).is_err(), "a length the block cannot hold");
    }
}
