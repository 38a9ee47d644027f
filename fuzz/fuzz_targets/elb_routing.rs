//! ELB's text inputs: an ARN taken apart, a health check's matcher codes, a redirect's location
//! made from a template and a request, and listener rule conditions tested on a request. None may
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_elb::routing::{Asked, Condition, Incoming, Redirect, location, matcher};

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
    let (pattern, value, method) = (next(), next(), next());
    let headers = |_: &str| vec![value.clone()];
    let asked =
        Asked { host: &host, path: &path, method: &method, query: &query, headers: &headers, source: [192, 0, 2, 1].into() };
    for c in [
        Condition::Host(vec![pattern.clone()]),
        Condition::Path(vec![pattern.clone()]),
        Condition::Method(vec![pattern.clone()]),
        Condition::Header(value.clone(), vec![pattern.clone()]),
        Condition::Query(vec![(Some(pattern.clone()), value.clone()), (None, pattern.clone())]),
    ] {
        let _ = c.matches(&asked);
    }
});
