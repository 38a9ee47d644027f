//! Fuzzes the TLS ClientHello reader the proxies' HTTPS listeners peek with: any bytes must read
//! as a hello, as too short, or as none, never panic; a hello read gives a JA3 of 32 hex digits
//! and a JA4 of 36 characters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_waf::engine::hello::{Read, read};

fuzz_target!(|data: &[u8]| {
    if let Read::Hello(h) = read(data) {
        let ja3 = h.ja3();
        assert_eq!(ja3.len(), 32);
        assert!(ja3.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h.ja4().len(), 36, "{}", h.ja4());
    }
});
