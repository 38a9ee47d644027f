//! LookupEvents over a large event history: `RAMPART_BENCH_EVENTS` management events (default
//! 1,000,000) by 200 users and 20 event names, half of them read-only, are stored as the server
//! stores them and indexed by the server's indexer, then one page is looked up by attribute
//! (ResourceName's lists are hashed; a read-only event name's events are all in packs), by event
//! id and without an attribute.
//!
//! `cargo bench -p rampart-cloudtrail --bench lookup_events` (the set-up takes minutes at 1M).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark set-up")]

use criterion::{Criterion, criterion_group, criterion_main};
#[path = "common/events.rs"]
mod common;

use rampart_cloudtrail::{self, Event, lookup_events};
use rampart_core::{Ctx, Principal};
use rampart_shapes::generated::cloudtrail::{LookupAttribute, LookupEventsRequest};
use rampart_store::{Db, Sealer};
use time::OffsetDateTime;

const NAMES: &[&str] = &[
    "GetUser",
    "ListUsers",
    "CreateUser",
    "DeleteUser",
    "PutUserPolicy",
    "GetRole",
    "ListRoles",
    "CreateRole",
    "AttachRolePolicy",
    "AssumeRole",
    "GetPolicy",
    "ListPolicies",
    "CreateBucket",
    "ListBuckets",
    "GetCallerIdentity",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateUser",
    "TagUser",
    "GetAccountSummary",
];

/// A UUIDv7-shaped id carrying the event's millisecond, as Rampart's event ids do.
fn id_at(ms: i128, i: usize) -> String {
    format!("{:08x}-{:04x}-7000-8000-{i:012x}", (ms >> 16) & 0xffff_ffff, ms & 0xffff)
}

/// Event `i`, with an event id of its millisecond `ms`.
fn event(i: usize, ms: i128) -> Event {
    let mut ev = common::event(i, NAMES[i % NAMES.len()]);
    ev.event_id = id_at(ms, i);
    ev
}

/// Stores events as the server does: a read-only call's record queued as JSON (the store packs
/// each group's together), a change's packed alone and appended in a transaction.
fn populate(db: &Db, n: usize, start: OffsetDateTime, index_at: OffsetDateTime) {
    let t0 = std::time::Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let mut changes = Vec::new();
        for &i in chunk {
            let when = start + time::Duration::milliseconds(i as i64);
            let ev = event(i, when.unix_timestamp_nanos() / 1_000_000);
            if ev.read_only {
                db.log_append_later(rampart_cloudtrail::position(when), rampart_cloudtrail::record_json(&ev).unwrap())
                    .unwrap();
            } else {
                changes.push((rampart_cloudtrail::position(when), rampart_cloudtrail::pack_event(&ev).unwrap()));
            }
        }
        // Commits after the queued appends before it.
        rt.block_on(db.transact(move |tx| -> Result<(), rampart_store::StoreError> {
            for (at, packed) in changes {
                tx.log_append(at, &packed)?;
            }
            Ok(())
        }))
        .unwrap();
    }
    // The server's indexer, run to the end.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    while rt.block_on(db.transact(move |tx| rampart_cloudtrail::index_pending(tx, index_at))).unwrap() > 0 {}
    eprintln!("stored {n} events with their index in {:.1} s", t0.elapsed().as_secs_f64());
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("RAMPART_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("rampart-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::open_sqlite(&dir.join("events.db")).unwrap();
    let now = OffsetDateTime::now_utc();
    let start = now - time::Duration::milliseconds(n as i64 + 1000);
    populate(&db, n, start, now);
    let sealer = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
    let p = Principal::root("123456789012", None);
    let ctx = Ctx::internal(&p, (&db, &sealer), now, "us-east-1");
    let by = |key: &str, value: &str| LookupEventsRequest {
        lookup_attributes: Some(vec![LookupAttribute { attribute_key: key.into(), attribute_value: value.into() }]),
        ..LookupEventsRequest::default()
    };
    let mut g = c.benchmark_group(format!("lookup_events_{n}"));
    g.bench_function("username_page_of_50", |b| {
        b.iter(|| assert_eq!(lookup_events(&ctx, by("Username", "user7")).unwrap().events.unwrap().len(), 50))
    });
    g.bench_function("event_name_page_of_50", |b| {
        b.iter(|| assert_eq!(lookup_events(&ctx, by("EventName", "CreateRole")).unwrap().events.unwrap().len(), 50))
    });
    g.bench_function("event_name_read_only_page_of_50", |b| {
        b.iter(|| assert_eq!(lookup_events(&ctx, by("EventName", "ListRoles")).unwrap().events.unwrap().len(), 50))
    });
    g.bench_function("resource_name_page_of_50", |b| {
        b.iter(|| assert_eq!(lookup_events(&ctx, by("ResourceName", "user7")).unwrap().events.unwrap().len(), 50))
    });
    let mid = start + time::Duration::milliseconds((n / 2) as i64);
    let id = id_at(mid.unix_timestamp_nanos() / 1_000_000, n / 2);
    g.bench_function("event_id", |b| {
        b.iter(|| assert_eq!(lookup_events(&ctx, by("EventId", &id)).unwrap().events.unwrap().len(), 1))
    });
    g.bench_function("no_attribute_page_of_50", |b| {
        b.iter(|| {
            assert_eq!(lookup_events(&ctx, LookupEventsRequest::default()).unwrap().events.unwrap().len(), 50);
        })
    });
    g.finish();
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
