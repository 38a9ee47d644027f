//! Fuzzes S3's addressing from the Host header: any host, against any base domains, is path
//! style, a valid bucket, or a 4xx — never a panic, and a bucket it names is always valid.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_wire::s3host::{Addressing, addressing, is_dns_bucket_name, path_style_path};

fuzz_target!(|data: &[u8]| {
    // The first line is the host; the others, base domains.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let host = lines.next();
    let domains: Vec<String> = lines.map(str::to_owned).collect();
    match addressing(host, &domains) {
        Ok(Addressing::VirtualHosted { bucket }) => {
            assert!(is_dns_bucket_name(&bucket));
            assert!(path_style_path(&bucket, "/k").starts_with('/'));
        }
        Ok(Addressing::Path) => {}
        Err(e) => assert!((400..500).contains(&e.status)),
    }
});
