//! The work auditing adds to every request, per event: serializing and packing a record on the
//! request path, the store's packing of queued records, and the indexer's planning over a batch
//! of stored records. A typical event: a
//! GetUser by an IAM user with an SDK's user agent.
//!
//! `cargo bench -p rampart-cloudtrail --bench audit_event`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
#[path = "common/events.rs"]
mod common;

use rampart_cloudtrail::{self, Event, history, stored};
use rampart_store::logpack;
use std::hint::black_box;

fn event(i: usize) -> Event {
    common::event(i, "GetUser")
}

fn bench(c: &mut Criterion) {
    let ev = event(7);
    let json = serde_json::to_vec(&ev).unwrap();
    let packed = rampart_cloudtrail::pack_event(&ev).unwrap();
    eprintln!("a record: {} bytes of JSON, {} stored", json.len(), packed.len());
    let mut g = c.benchmark_group("audit_event");
    g.bench_function("serialize", |b| b.iter(|| serde_json::to_vec(black_box(&ev)).unwrap()));
    g.bench_function("record_json", |b| b.iter(|| rampart_cloudtrail::record_json(black_box(&ev)).unwrap()));
    g.bench_function("pack_event", |b| b.iter(|| rampart_cloudtrail::pack_event(black_box(&ev)).unwrap()));
    g.bench_function("unpack", |b| b.iter(|| stored::unpack(black_box(&packed)).unwrap().len()));
    let rows: Vec<(i64, Vec<u8>)> =
        (0..500).map(|i| (1_000_000 + i as i64, rampart_cloudtrail::pack_event(&event(i)).unwrap())).collect();
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("plan_index_500", |b| b.iter(|| history::plan_index(0, black_box(&rows))));
    // What the store's writer does with a group's queued records: 64 to a pack.
    let members: Vec<(i64, Vec<u8>)> =
        (0..64).map(|i| (1_000_000 + i as i64, rampart_cloudtrail::record_json(&event(i)).unwrap())).collect();
    let (keys, block) = logpack::encode(&members);
    let raw: usize = members.iter().map(|m| m.1.len()).sum();
    eprintln!("a pack of 64 records: {raw} bytes of JSON, {} stored", keys.len() + block.len());
    g.throughput(Throughput::Elements(64));
    g.bench_function("logpack_encode_64", |b| b.iter(|| logpack::encode(black_box(&members))));
    let parsed = logpack::Keys::parse(1_000_000, &keys).unwrap();
    g.bench_function("logpack_expand_64", |b| b.iter(|| parsed.expand(black_box(&block), i64::MIN, i64::MAX).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
