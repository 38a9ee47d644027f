//! Fuzzes SigV4 parsing and verification: an Authorization header, a query string and a body from
//! arbitrary bytes must never panic, whatever they claim.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_sigv4::{Request, Verifier, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let auth = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or("/");
    let body = parts.next().unwrap_or_default();
    let headers: [(&str, &[u8]); 4] = [
        ("host", b"127.0.0.1:4566"),
        ("x-amz-date", b"20250101T000000Z"),
        ("x-amz-content-sha256", body.as_bytes()),
        ("authorization", auth.as_bytes()),
    ];
    for hs in [&headers[..], &headers[..2]] {
        let req = Request { method: "POST", path, query, headers: hs, body: body.as_bytes() };
        if let Ok(a) = parse(&req) {
            let now = time::OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let _ = Verifier::new().verify(&req, &a, b"secret", now, a.scope.service == "s3");
        }
    }
});
