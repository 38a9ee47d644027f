//! Fuzzes what callers hand KMS as key material and public keys: wrapped material given to
//! ImportKeyMaterial (unwrapped with a fixed wrapping key), material checked against every key
//! spec, and peers' public keys given to DeriveSharedSecret. Each is refused or accepted — never
//! a panic.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_kms::crypto::{Curve, Spec, Wrapping, check_material, derive_shared_secret, new_material, unwrap_material};

/// A wrapping key and a key agreement key, made once.
static KEYS: LazyLock<(Vec<u8>, Vec<u8>)> = LazyLock::new(|| {
    let wrapping = new_material(Spec::Rsa(2048)).expect("an RSA key").to_vec();
    let agreement = new_material(Spec::Ecc(Curve::P256)).expect("a P-256 key").to_vec();
    (wrapping, agreement)
});

fuzz_target!(|data: &[u8]| {
    let (wrapping, agreement) = &*KEYS;
    for w in Wrapping::ALL {
        if let Ok(material) = unwrap_material(wrapping, w, data) {
            assert!(material.len() < data.len());
        }
    }
    for spec in [
        Spec::Symmetric,
        Spec::Hmac(224),
        Spec::Hmac(512),
        Spec::Rsa(2048),
        Spec::Ecc(Curve::P256),
        Spec::Ecc(Curve::Secp256k1),
    ] {
        if let Ok(kept) = check_material(spec, data) {
            assert!(!kept.is_empty());
        }
    }
    if let Ok(secret) = derive_shared_secret(Spec::Ecc(Curve::P256), agreement, data) {
        assert_eq!(secret.len(), 32);
    }
});
