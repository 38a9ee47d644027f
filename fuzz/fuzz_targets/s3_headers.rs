//! Fuzzes the request headers S3 parses itself: a `Range` against an object's size, `x-amz-tagging`,
//! `x-amz-copy-source`, `x-amz-server-side-encryption-context`, an `x-amz-grant-*` list, SSE-C's
//! customer key headers and a CORS origin against a rule's pattern
//! (the input split at its first two newlines). Each gives a value or a 4xx,
//! never a panic, and a range it serves lies inside the object.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_s3::headers::{byte_range, copy_source, cors_admits, customer_key, encryption_context, grantees, tagging};

fuzz_target!(|data: &[u8]| {
    let Some((&size_byte, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let size = u64::from(size_byte) * 997;
    match byte_range(&text, size) {
        Ok(Some((from, to))) => assert!(from < to && to <= size, "{from}..{to} of {size}"),
        Ok(None) => {}
        Err(e) => assert_eq!(e.status, 416),
    }
    for result in [
        tagging(&text).map(drop),
        copy_source(&text).map(drop),
        encryption_context(&text).map(drop),
        grantees(&text).map(drop),
    ] {
        if let Err(e) = result {
            assert!((400..500).contains(&e.status), "{} {}", e.status, e.code);
        }
    }
    let mut sse_c = text.splitn(3, '\n');
    let (alg, key, md5) = (sse_c.next().unwrap_or(""), sse_c.next().unwrap_or(""), sse_c.next().unwrap_or(""));
    if let Err(e) = customer_key(alg, key, md5) {
        assert_eq!((e.status, e.code.as_ref()), (400, "InvalidArgument"));
    }
    if let Ok((bucket, key, _)) = copy_source(&text) {
        assert!(!bucket.is_empty() && !key.is_empty());
    }
    // A CORS pattern and an origin: a pattern without `*` admits only itself; `*` admits anything.
    let (pattern, origin) = text.split_once('\n').unwrap_or((&text, ""));
    let admits = cors_admits(pattern, origin, size_byte % 2 == 0);
    if !pattern.contains('*') && size_byte % 2 == 1 {
        assert_eq!(admits, pattern == origin);
    }
    assert!(cors_admits("*", origin, false));
    assert!(cors_admits(pattern, pattern, false) || pattern.matches('*').count() > 1);
});
