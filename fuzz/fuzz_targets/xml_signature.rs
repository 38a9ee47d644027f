//! Fuzzes the XML parser, exclusive canonicalization and the signature check that SAML
//! federation runs on untrusted input: any document must parse or fail, canonicalize, and verify
//! or not — never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_iam::xmldsig::{exc_c14n, parse, verify_enveloped};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(root) = parse(text) else { return };
    let _ = exc_c14n(&root, &["#default".to_owned(), "saml".to_owned()], None);
    let _ = verify_enveloped(&root, &root, &[]);
    for child in root.elements() {
        let _ = verify_enveloped(&root, child, &[]);
    }
});
