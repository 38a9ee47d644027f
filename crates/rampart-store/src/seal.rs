//! Sealing secrets at rest with the master key: AES-256-GCM, a random 96-bit nonce per value, and
//! associated data that binds each sealed value to the record it belongs to.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The master key's length in bytes.
pub const MASTER_KEY_LEN: usize = 32;
/// The format byte that starts every sealed value.
const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the master key must be {MASTER_KEY_LEN} bytes")]
    KeyLength,
    #[error("a sealed value is malformed or was sealed with another key or for another record")]
    Open,
    #[error("the system random source failed")]
    Random,
}

/// Seals and opens secrets with the master key.
pub struct Sealer {
    key: LessSafeKey,
    /// The master key as an HMAC key, to derive keys for other purposes from.
    derive: aws_lc_rs::hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(master_key: &[u8]) -> Result<Self, SealError> {
        if master_key.len() != MASTER_KEY_LEN {
            return Err(SealError::KeyLength);
        }
        let key = UnboundKey::new(&AES_256_GCM, master_key).map_err(|_| SealError::KeyLength)?;
        let derive = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, master_key);
        Ok(Self { key: LessSafeKey::new(key), derive, rng: SystemRandom::new() })
    }

    /// A 32-byte key for another purpose, named by `label`, derived from the master key
    /// (HMAC-SHA256 of the label: a pseudo-random function, as HKDF's expand step uses it), so
    /// every node holding the master key derives the same one and no other key is stored.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; MASTER_KEY_LEN]> {
        let tag = aws_lc_rs::hmac::sign(&self.derive, format!("rampart derived key\0{label}").as_bytes());
        let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        // HMAC-SHA256's tag is exactly MASTER_KEY_LEN bytes.
        for (k, t) in key.iter_mut().zip(tag.as_ref()) {
            *k = *t;
        }
        key
    }

    /// Generates a new random master key.
    pub fn generate_key() -> Result<Zeroizing<[u8; MASTER_KEY_LEN]>, SealError> {
        let mut k = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        SystemRandom::new().fill(k.as_mut()).map_err(|_| SealError::Random)?;
        Ok(k)
    }

    /// Seals `plaintext`; `context` (e.g. the record's key) must be given again to open it.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body)
            .map_err(|_| SealError::Open)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same key and context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Open)?;
        if version != VERSION || rest.len() < NONCE_LEN + 16 {
            return Err(SealError::Open);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len =
            self.key.open_in_place(nonce, Aad::from(context), buf.as_mut_slice()).map_err(|_| SealError::Open)?.len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_the_master_keys_and_the_labels_own() {
        let k = Sealer::generate_key().unwrap();
        let (a, b) = (Sealer::new(k.as_ref()).unwrap(), Sealer::new(k.as_ref()).unwrap());
        assert_eq!(*a.derive("waf-token"), *b.derive("waf-token"), "every node derives the same key");
        assert_ne!(*a.derive("waf-token"), *a.derive("other"));
        assert_ne!(a.derive("waf-token").as_slice(), k.as_slice());
        let other = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
        assert_ne!(*a.derive("waf-token"), *other.derive("waf-token"));
    }

    #[test]
    fn seals_and_opens_and_binds_context_and_key() {
        let k = Sealer::generate_key().unwrap();
        let s = Sealer::new(k.as_ref()).unwrap();
        let sealed = s.seal(b"secret", b"akey/AKIA1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(s.open(&sealed, b"akey/AKIA1").unwrap().as_slice(), b"secret");
        assert_eq!(s.open(&sealed, b"akey/AKIA2").unwrap_err(), SealError::Open);
        let other = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
        assert_eq!(other.open(&sealed, b"akey/AKIA1").unwrap_err(), SealError::Open);
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(s.open(&tampered, b"akey/AKIA1").unwrap_err(), SealError::Open);
        assert_eq!(s.open(&[], b"").unwrap_err(), SealError::Open);
        assert_eq!(Sealer::new(&[0; 16]).unwrap_err(), SealError::KeyLength);
    }
}
