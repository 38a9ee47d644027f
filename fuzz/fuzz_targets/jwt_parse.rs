//! Fuzzes the JWT parser and verifier: any token text, checked against any key set text, must
//! parse or fail with a `TokenError`, verify or not — never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_iam::jwt::{JwkSet, Token};

fuzz_target!(|data: &[u8]| {
    // The first line is the token; the rest, a key set.
    let mut parts = data.splitn(2, |b| *b == b'\n');
    let token = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let keys: JwkSet = serde_json::from_slice(parts.next().unwrap_or_default()).unwrap_or_default();
    if let Ok(t) = Token::parse(token) {
        let _ = t.verify(&keys);
        let _ = (t.time_claim("exp"), t.list_claim("aud"), t.str_claim("iss"));
    }
});
