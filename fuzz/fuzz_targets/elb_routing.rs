//! ELB's text inputs: an ARN taken apart, a health check's matcher codes, and a redirect's
//! location made from a template and a request. None may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_elb::routing::{Incoming, Redirect, location, matcher};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = rampart_elb::locate(&text);
    let _ = matcher(&text);
    let mut parts = text.split('\u{1}');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let redirect = Redirect { protocol: next(), host: next(), port: next(), path: next(), query: next() };
    let (host, path, query) = (next(), next(), next());
    let incoming = Incoming { protocol: "HTTP", host: &host, port: 8080, path: &path, query: &query };
    let _ = location(&redirect, &incoming);
});
