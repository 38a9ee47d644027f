//! Fuzzes KMS's ciphertext blobs, which callers hand back to Decrypt and ReEncrypt: any bytes are
//! read as a header or refused, the key ARN a header names is read as a key of the caller's Region
//! (multi-Region keys), and opening them with a key either fails or gives back exactly what was
//! sealed — never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_kms::crypto::{BlobHeader, blob_header, open};

fuzz_target!(|data: &[u8]| {
    if let Some((BlobHeader { key_arn, material }, _)) = blob_header(data) {
        assert!(!key_arn.is_empty() || data.get(1) == Some(&0));
        assert_eq!(material.len(), rampart_kms::crypto::MATERIAL_ID_LEN);
        let here = rampart_kms::key_here(key_arn, "eu-west-1");
        assert!(here == key_arn || here.contains(":eu-west-1:"), "{here}");
    }
    let material = [7u8; 32];
    assert!(open(data, &material, &[]).is_err() || data.len() > 2 + 32 + 12 + 16);
});
