//! Fuzzes the rest-xml decoder: any body (with its attributes: S3's `xsi:type`), query and header
//! text (a list header's items too), decoded against every S3 input shape, must give a value or an
//! AWS error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_shapes::generated::s3;
use rampart_wire::restxml::{HttpRequest, decode_input};

fuzz_target!(|data: &[u8]| {
    // The first line is the query string, the second a header value; the rest is the body.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let query = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = [
        ("content-md5", header),
        ("x-amz-meta-a", header),
        ("if-modified-since", header),
        ("x-amz-object-attributes", header),
        ("x-amz-object-attributes", body),
    ];
    let labels = [("Bucket", query), ("Key", query)];
    for op in s3::SERVICE.operations {
        if let Some(shape) = op.input {
            let _ = decode_input(shape, &HttpRequest { labels: &labels, query, headers: &headers, body });
        }
    }
});
