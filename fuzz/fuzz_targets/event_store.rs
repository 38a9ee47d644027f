//! Fuzzes the readers of what auditing stores: any bytes as a stored event record (every
//! layout, and through the indexer's view of it), as an event-history posting list and as an
//! indexer run's record must decode or be refused — never panic or run away.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_cloudtrail::{decode_postings, decode_tagged, plan_index, run_keys, stored};

fuzz_target!(|data: &[u8]| {
    let _ = stored::unpack(data);
    // Behind each format byte.
    for format in [1u8, 2] {
        let mut stored = vec![format];
        stored.extend_from_slice(data);
        let _ = stored::unpack(&stored);
    }
    if let Some(skeleton) = stored::Skeleton::new(data) {
        let _ = stored::unpack(&skeleton.with_response(data));
    }
    // Whatever is packed reads back unchanged.
    let packed = stored::pack(data);
    assert_eq!(stored::unpack(&packed).as_deref(), Some(data));
    // The indexer over the bytes as a record, plain and packed.
    let _ = plan_index(0, &[(1, data.to_vec()), (2, packed)]);
    let oldest = i64::from_le_bytes(data.get(..8).and_then(|b| b.try_into().ok()).unwrap_or_default());
    let times = decode_postings(oldest, data);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "ascending, without repeats");
    let tagged = decode_tagged(oldest, data);
    assert!(tagged.windows(2).all(|w| w[0].0 <= w[1].0), "ascending");
    let _ = run_keys(data);
});
