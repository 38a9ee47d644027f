//! GuardDuty's engine over a stored event history: `RAMPART_BENCH_EVENTS` events (default
//! 100,000) by 8 principals of an account with an enabled detector (20 APIs, reads and changes,
//! a few sign-ins, a tenth of the events another account's, which has none), stored as the
//! server stores them. Measured: planning one batch (reading, parsing and running the detections
//! on the events of one engine run) and a whole replay (every batch, findings recorded).
//!
//! `cargo bench -p rampart-guardduty --bench detect`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_core::{Principal, TxCtx};
use rampart_guardduty::engine;
use rampart_shapes::generated::guardduty::CreateDetectorRequest;
use rampart_store::{Db, Sealer};
use serde_json::json;
use time::OffsetDateTime;

const ACCOUNT: &str = "123456789012";
const APIS: &[(&str, &str)] = &[
    ("iam", "GetUser"),
    ("iam", "ListUsers"),
    ("iam", "CreateUser"),
    ("iam", "GetRole"),
    ("iam", "ListRoles"),
    ("iam", "ListPolicies"),
    ("iam", "GetPolicy"),
    ("iam", "TagUser"),
    ("s3", "ListBuckets"),
    ("s3", "GetObject"),
    ("s3", "PutObject"),
    ("s3", "CreateBucket"),
    ("s3", "PutBucketTagging"),
    ("kms", "Encrypt"),
    ("kms", "Decrypt"),
    ("kms", "DescribeKey"),
    ("cloudtrail", "LookupEvents"),
    ("cloudtrail", "DescribeTrails"),
    ("sts", "GetCallerIdentity"),
    ("sts", "AssumeRole"),
];

fn event(i: usize, at: OffsetDateTime) -> serde_json::Value {
    let account = if i % 10 == 9 { "210987654321" } else { ACCOUNT };
    let user = format!("user{}", i % 8);
    let (service, name) = APIS[(i / 8) % APIS.len()];
    let time = at.format(&time::format_description::well_known::Rfc3339).unwrap();
    if i.is_multiple_of(97) {
        return json!({
            "eventVersion": "1.08", "eventTime": time, "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
            "eventType": "AwsConsoleSignIn", "recipientAccountId": account,
            "responseElements": {"ConsoleLogin": if i.is_multiple_of(2) { "Success" } else { "Failure" }},
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/{user}"), "userName": user},
        });
    }
    json!({
        "eventVersion": "1.08", "eventTime": time, "eventSource": format!("{service}.amazonaws.com"),
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": format!("203.0.113.{}", i % 8),
        "userAgent": "aws-cli/2.15.0 Python/3.11", "requestParameters": {"userName": user, "maxItems": 100},
        "responseElements": null, "requestID": format!("req-{i}"), "eventID": format!("ev-{i}"),
        "readOnly": name.starts_with("Get") || name.starts_with("List") || name.starts_with("Describe"),
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account,
        "eventCategory": "Management",
        "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{i:08}"),
            "arn": format!("arn:aws:iam::{account}:user/{user}"), "accountId": account,
            "accessKeyId": format!("AKIA{:012}", i % 8), "userName": user},
    })
}

fn populate(db: &Db, n: usize, start: OffsetDateTime) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let rows: Vec<(i64, Vec<u8>)> = chunk
            .iter()
            .map(|&i| {
                let at = start + time::Duration::milliseconds(i as i64);
                let json = serde_json::to_vec(&event(i, at)).unwrap();
                (rampart_cloudtrail::position(at), rampart_cloudtrail::stored::pack(&json))
            })
            .collect();
        rt.block_on(db.transact(move |tx| -> Result<(), rampart_store::StoreError> {
            for (at, packed) in rows {
                tx.log_append(at, &packed)?;
            }
            Ok(())
        }))
        .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("RAMPART_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("rampart-gd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::open_sqlite(&dir.join("events.db")).unwrap();
    let sealer = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
    let now = OffsetDateTime::now_utc();
    let start = now - time::Duration::milliseconds(n as i64 + 1000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The detector, made before the events.
    let principal = Principal::root(ACCOUNT, None);
    rt.block_on(db.transact(move |tx| {
        let ctx = TxCtx {
            principal: &principal,
            sealer: &sealer,
            now: start - time::Duration::seconds(1),
            region: "us-east-1",
            refused: &[],
            asked: Default::default(),
            prepared: None,
        };
        let input = CreateDetectorRequest {
            enable: true,
            client_token: None,
            finding_publishing_frequency: None,
            data_sources: None,
            tags: None,
            features: None,
        };
        rampart_guardduty::create_detector(tx, &ctx, input)
    }))
    .unwrap();
    populate(&db, n, start);
    let rows = db.log_range(i64::MIN, i64::MAX, engine::BATCH, false).unwrap();

    let mut g = c.benchmark_group("guardduty");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("plan_one_batch", |b| {
        b.iter(|| {
            let plan = engine::Run::live().plan(&db, &rows).unwrap();
            assert_eq!(plan.events, rows.len());
        })
    });
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("replay_{n}"), |b| {
        b.iter(|| {
            let (events, _) = rt.block_on(engine::replay(&db, (start, now), now, (None, Default::default()))).unwrap();
            assert_eq!(events, n);
        })
    });
    g.finish();
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
