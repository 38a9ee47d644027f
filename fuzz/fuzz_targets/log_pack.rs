//! Fuzzes the store's log pack codec: any bytes as a pack's keys and block must read back or be
//! refused as corrupt — never panic, never allocate what the input cannot hold — and any members
//! encoded must read back as they were.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_store::logpack::{Keys, encode};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<9>() else { return };
    let first = i64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let split = usize::from(head[8]).min(rest.len());
    let (keys, block) = rest.split_at(split);
    if let Ok(parsed) = Keys::parse(first, keys) {
        let _ = parsed.expand(block, i64::MIN, i64::MAX);
        let _ = parsed.expand(block, first, first);
    }
    // The same bytes as members: a value of up to 255 bytes each, positions climbing from `first`.
    let mut members = Vec::new();
    let mut at = first;
    let mut input = rest;
    while let Some((&len, tail)) = input.split_first() {
        let (value, tail) = tail.split_at(usize::from(len).min(tail.len()));
        members.push((at, value.to_vec()));
        input = tail;
        let Some(next) = at.checked_add(1 + i64::from(len)) else { break };
        at = next;
    }
    if !members.is_empty() {
        let (keys, block) = encode(&members);
        let parsed = Keys::parse(first, &keys).expect("an encoded pack parses");
        assert_eq!(parsed.expand(&block, i64::MIN, i64::MAX).expect("and expands"), members);
    }
});
