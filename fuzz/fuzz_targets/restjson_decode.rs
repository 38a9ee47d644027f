//! Fuzzes the rest-json decoder: any labels, query, header and body, decoded against every
//! GuardDuty input shape, must give a value or an AWS error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_shapes::generated::guardduty;
use rampart_wire::restxml::HttpRequest;
use rampart_wire::restjson::decode_input;

fuzz_target!(|data: &[u8]| {
    // The first line is a label and the query string, the second a header value; the rest is
    // the body.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let query = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = [("x-amz-expected-bucket-owner", header)];
    let labels = [("DetectorId", query), ("FilterName", query), ("ResourceArn", query), ("IpSetId", query)];
    for op in guardduty::SERVICE.operations {
        if let Some(shape) = op.input {
            let _ = decode_input(shape, &HttpRequest { labels: &labels, query, headers: &headers, body });
        }
    }
});
