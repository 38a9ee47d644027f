//! Fuzzes `aws-chunked` bodies: framing, chunk sizes, trailers and the chained chunk and trailer
//! signatures, in every mode. Any bytes must decode, verify or be refused, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_sigv4::chunked::{Mode, decode, verify};

fuzz_target!(|data: &[u8]| {
    let key = rampart_sigv4::signing_key(b"secret", "20250101", "us-east-1", "s3");
    let prefix = "20250101T000000Z\n20250101/us-east-1/s3/aws4_request\n";
    for mode in [Mode::Unsigned, Mode::Signed, Mode::SignedTrailer] {
        let decoded = decode(data, mode);
        let verified = verify(data, mode, &key, prefix, &[0u8; 32]);
        // What verifies always decodes: both read the body with one reader.
        if mode != Mode::Unsigned && verified.is_ok() {
            assert!(decoded.is_ok());
        }
    }
});
