//! S3's routing, which runs on every S3 request: a GetObject and a PutObject by path, and a
//! sub-resource GET (`?acl`), each over every operation of S3's model.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let s3 = rampart_shapes::services().iter().find(|s| s.endpoint_prefix == "s3").expect("S3's model");
    let ops = s3.operations;
    let headers = ["host", "x-amz-date", "x-amz-content-sha256", "content-length"];
    let has = |h: &str| headers.iter().any(|x| x.eq_ignore_ascii_case(h));
    c.bench_function("route GetObject", |b| {
        b.iter(|| rampart_wire::rest::route(ops, "GET", "/bucket/reports/2026/day.csv", "", has).unwrap());
    });
    c.bench_function("route PutObject", |b| {
        b.iter(|| rampart_wire::rest::route(ops, "PUT", "/bucket/reports/2026/day.csv", "", has).unwrap());
    });
    c.bench_function("route GetObjectAcl", |b| {
        b.iter(|| rampart_wire::rest::route(ops, "GET", "/bucket/reports/2026/day.csv", "acl", has).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
