//! The work auditing adds to every request, per event: serializing and packing a record on the
//! request path, and the indexer's planning over a batch of stored records. A typical event: a
//! GetUser by an IAM user with an SDK's user agent.
//!
//! `cargo bench -p rampart-services --bench audit_event`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_services::cloudtrail::{self, Event, EventResource, UserIdentity, history, stored};
use std::hint::black_box;

fn event(i: usize) -> Event {
    let user = format!("user{}", i % 200);
    Event {
        event_version: "1.11".into(),
        user_identity: UserIdentity {
            kind: "IAMUser".into(),
            principal_id: Some(format!("AIDA{:017}", i % 200)),
            arn: Some(format!("arn:aws:iam::123456789012:user/{user}")),
            account_id: Some("123456789012".into()),
            access_key_id: Some(format!("AKIA{:016}", i % 200)),
            user_name: Some(user.clone()),
            identity_provider: None,
            session_context: None,
        },
        event_time: "2026-11-23T10:00:00Z".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: "GetUser".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "aws-sdk-rust/1.3.9 ua/2.1 api/iam/1.90.0 os/linux lang/rust/1.91.0 m/E".into(),
        error_code: None,
        error_message: None,
        request_parameters: Some(serde_json::json!({ "userName": user })),
        response_elements: None,
        resources: EventResource::from_arn(&format!("arn:aws:iam::123456789012:user/{user}")).map(|r| vec![r]),
        additional_event_data: None,
        request_id: format!("0f8a3c52-{i:04x}-4a51-9d0e-6b1f2a7c9e31"),
        event_id: format!("019ab1c2-3d4e-7f60-8a1b-{i:012x}"),
        read_only: true,
        event_type: "AwsApiCall".into(),
        management_event: true,
        recipient_account_id: "123456789012".into(),
        event_category: "Management".into(),
        tls_details: None,
        session_credential_from_console: None,
    }
}

fn bench(c: &mut Criterion) {
    let ev = event(7);
    let json = serde_json::to_vec(&ev).unwrap();
    let packed = cloudtrail::pack_event(&ev).unwrap();
    eprintln!("a record: {} bytes of JSON, {} stored", json.len(), packed.len());
    let mut g = c.benchmark_group("audit_event");
    g.bench_function("serialize", |b| b.iter(|| serde_json::to_vec(black_box(&ev)).unwrap()));
    g.bench_function("record_json", |b| b.iter(|| cloudtrail::record_json(black_box(&ev)).unwrap()));
    g.bench_function("pack_event", |b| b.iter(|| cloudtrail::pack_event(black_box(&ev)).unwrap()));
    g.bench_function("unpack", |b| b.iter(|| stored::unpack(black_box(&packed)).unwrap().len()));
    let rows: Vec<(i64, Vec<u8>)> =
        (0..500).map(|i| (1_000_000 + i as i64, cloudtrail::pack_event(&event(i)).unwrap())).collect();
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("plan_index_500", |b| b.iter(|| history::plan_index(0, black_box(&rows))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
