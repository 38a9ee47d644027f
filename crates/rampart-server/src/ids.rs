//! Request and event ids: version-4-shaped UUIDs from a random per-process seed and a counter,
//! mixed by a bijection, so they are unique without a system call per request. They identify;
//! they are not secrets.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SEED: OnceLock<(u64, u64)> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// splitmix64's finalizer: a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A new id, unique within this process for 2^64 calls and across processes by the seed.
pub fn uuid() -> String {
    let (a, b) = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = mix(a ^ n);
    let lo = mix(b.wrapping_add(n));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// A CloudTrail event id: UUIDv7-shaped, its first 48 bits the event's Unix time in
/// milliseconds, so LookupEvents finds an event by id with a one-millisecond range scan.
pub fn event_id(at: time::OffsetDateTime) -> String {
    let (a, b) = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&mix(a ^ n).to_be_bytes());
    bytes[8..].copy_from_slice(&mix(b.wrapping_add(n)).to_be_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_uuid_v4_strings() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::uuid()).collect();
        assert_eq!(ids.len(), 10_000);
        let one = ids.iter().next().unwrap();
        let parsed = uuid::Uuid::parse_str(one).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
