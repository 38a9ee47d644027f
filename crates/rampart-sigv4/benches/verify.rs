//! SigV4 verification cost: parse + canonical request + HMAC compare for a typical awsQuery POST,
//! with the signing key cached (the steady state) and derived afresh.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use criterion::{Criterion, criterion_group, criterion_main};
use rampart_sigv4::{Request, Verifier, parse};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const WHEN: u64 = 1_760_000_000;

fn signed() -> http::Request<Vec<u8>> {
    let identity = aws_credential_types::Credentials::new("AKIAIOSFODNN7EXAMPLE", SECRET, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(WHEN))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let headers = [
        ("host", "127.0.0.1:4566"),
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("user-agent", "aws-sdk-rust/1.3 os/linux lang/rust/1.95.0"),
    ];
    let signable =
        SignableRequest::new("POST", "http://127.0.0.1:4566/", headers.iter().copied(), SignableBody::Bytes(&body))
            .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::post("http://127.0.0.1:4566/").body(body.clone()).unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(k, v.parse().unwrap());
    }
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn bench(c: &mut Criterion) {
    let req = signed();
    let headers: Vec<(&str, &[u8])> = req.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
    let r = Request { method: "POST", path: "/", query: "", headers: &headers, body: req.body() };
    let now = time::OffsetDateTime::from_unix_timestamp(i64::try_from(WHEN).unwrap()).unwrap();
    let warm = Verifier::new();
    c.bench_function("sigv4 parse+verify (cached signing key)", |b| {
        b.iter(|| {
            let auth = parse(&r).unwrap();
            warm.verify(&r, &auth, SECRET.as_bytes(), now, false).unwrap();
        });
    });
    c.bench_function("sigv4 parse+verify (key derived)", |b| {
        b.iter(|| {
            let auth = parse(&r).unwrap();
            Verifier::new().verify(&r, &auth, SECRET.as_bytes(), now, false).unwrap();
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
