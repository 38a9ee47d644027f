//! The cryptography of KMS keys, all of it from aws-lc-rs: key material for every key spec,
//! symmetric ciphertexts bound to their key, material and encryption context, RSA-OAEP, signatures
//! (RSASSA-PSS, RSASSA-PKCS1-v1_5, ECDSA) over messages or digests, and HMAC. Pure: no store.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html>.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, ParsedPublicKey};
use aws_lc_rs::{hmac, signature::VerificationAlgorithm};
use zeroize::Zeroizing;

/// What went wrong, for the operation to word as KMS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The ciphertext is not one of ours, or was changed, or the context differs.
    InvalidCiphertext,
    /// The algorithm does not fit the key.
    UnsupportedAlgorithm,
    /// A digest of the wrong length for the algorithm.
    BadDigest,
    /// The plaintext is too long for the key (RSA-OAEP).
    TooLong,
    /// Key material that does not fit the key: wrong length, type or curve.
    IncorrectMaterial,
    /// A peer's public key that is not an X.509 public key on the key's curve.
    BadPublicKey,
    /// A failure of the library itself.
    Internal,
}

/// The key specs Rampart makes material for, with their usages and algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Symmetric,
    Rsa(u32),
    Ecc(Curve),
    Hmac(u32),
    /// ML-DSA (FIPS 204) of parameter set 44, 65 or 87.
    MlDsa(u32),
    /// Ed25519 (ECC_NIST_EDWARDS25519).
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Spec {
    /// The spec a `KeySpec` names; `None` for those Rampart cannot make (SM2, China Regions only).
    pub fn parse(name: &str) -> Option<Spec> {
        Some(match name {
            "SYMMETRIC_DEFAULT" => Spec::Symmetric,
            "RSA_2048" => Spec::Rsa(2048),
            "RSA_3072" => Spec::Rsa(3072),
            "RSA_4096" => Spec::Rsa(4096),
            "ECC_NIST_P256" => Spec::Ecc(Curve::P256),
            "ECC_NIST_P384" => Spec::Ecc(Curve::P384),
            "ECC_NIST_P521" => Spec::Ecc(Curve::P521),
            "ECC_SECG_P256K1" => Spec::Ecc(Curve::Secp256k1),
            "HMAC_224" => Spec::Hmac(224),
            "HMAC_256" => Spec::Hmac(256),
            "HMAC_384" => Spec::Hmac(384),
            "HMAC_512" => Spec::Hmac(512),
            "ML_DSA_44" => Spec::MlDsa(44),
            "ML_DSA_65" => Spec::MlDsa(65),
            "ML_DSA_87" => Spec::MlDsa(87),
            "ECC_NIST_EDWARDS25519" => Spec::Ed25519,
            _ => return None,
        })
    }

    /// The key usages a spec allows, the default first.
    /// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html#KMS-CreateKey-request-KeyUsage>.
    pub fn usages(self) -> &'static [&'static str] {
        match self {
            Spec::Symmetric => &["ENCRYPT_DECRYPT"],
            Spec::Rsa(_) => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
            Spec::Ecc(Curve::Secp256k1) => &["SIGN_VERIFY"],
            Spec::Ecc(_) => &["SIGN_VERIFY", "KEY_AGREEMENT"],
            Spec::Hmac(_) => &["GENERATE_VERIFY_MAC"],
            Spec::MlDsa(_) | Spec::Ed25519 => &["SIGN_VERIFY"],
        }
    }

    /// The key agreement algorithms of a key of this spec used for key agreement.
    pub fn key_agreement_algorithms(self) -> &'static [&'static str] {
        match self {
            Spec::Ecc(Curve::P256 | Curve::P384 | Curve::P521) => &["ECDH"],
            _ => &[],
        }
    }

    /// The encryption algorithms of a key of this spec used to encrypt.
    pub fn encryption_algorithms(self) -> &'static [&'static str] {
        match self {
            Spec::Symmetric => &["SYMMETRIC_DEFAULT"],
            Spec::Rsa(_) => &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
            _ => &[],
        }
    }

    /// The signing algorithms of a key of this spec used to sign.
    pub fn signing_algorithms(self) -> &'static [&'static str] {
        match self {
            Spec::Rsa(_) => &[
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ],
            Spec::Ecc(Curve::P256 | Curve::Secp256k1) => &["ECDSA_SHA_256"],
            Spec::Ecc(Curve::P384) => &["ECDSA_SHA_384"],
            Spec::Ecc(Curve::P521) => &["ECDSA_SHA_512"],
            Spec::MlDsa(_) => &["ML_DSA_SHAKE_256"],
            // ED25519_PH_SHA_512 (Ed25519ph) is not offered: aws-lc-rs has pure Ed25519 only.
            Spec::Ed25519 => &["ED25519_SHA_512"],
            _ => &[],
        }
    }

    /// The MAC algorithm of an HMAC key.
    pub fn mac_algorithms(self) -> &'static [&'static str] {
        match self {
            Spec::Hmac(224) => &["HMAC_SHA_224"],
            Spec::Hmac(256) => &["HMAC_SHA_256"],
            Spec::Hmac(384) => &["HMAC_SHA_384"],
            Spec::Hmac(_) => &["HMAC_SHA_512"],
            _ => &[],
        }
    }
}

fn random(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

/// `n` random bytes from the CSPRNG (GenerateRandom, data keys).
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random(n)
}

fn ecdsa_signing(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        Curve::P384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        Curve::P521 => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        Curve::Secp256k1 => &sig::ECDSA_P256K1_SHA256_ASN1_SIGNING,
    }
}

/// New key material: 32 random bytes for a symmetric key, the HMAC key's length for an HMAC key,
/// a PKCS#8 private key for an asymmetric one.
pub fn new_material(spec: Spec) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    match spec {
        Spec::Symmetric => random(32),
        Spec::Hmac(bits) => random(usize::try_from(bits / 8).map_err(|_| CryptoError::Internal)?),
        Spec::Rsa(bits) => {
            let size = match bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let pair = RsaKeyPair::generate(size).map_err(|_| CryptoError::Internal)?;
            let der: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| CryptoError::Internal)?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        Spec::Ecc(curve) => {
            let pair = EcdsaKeyPair::generate(ecdsa_signing(curve)).map_err(|_| CryptoError::Internal)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Internal)?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        Spec::MlDsa(level) => {
            let pair = sig::PqdsaKeyPair::generate(ml_dsa(level)?.0).map_err(|_| CryptoError::Internal)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Internal)?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        Spec::Ed25519 => {
            let pair = sig::Ed25519KeyPair::generate().map_err(|_| CryptoError::Internal)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Internal)?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
    }
}

/// ML-DSA's signing and verification algorithms for a parameter set.
fn ml_dsa(
    level: u32,
) -> Result<(&'static sig::PqdsaSigningAlgorithm, &'static sig::PqdsaVerificationAlgorithm), CryptoError> {
    Ok(match level {
        44 => (&sig::ML_DSA_44_SIGNING, &sig::ML_DSA_44),
        65 => (&sig::ML_DSA_65_SIGNING, &sig::ML_DSA_65),
        87 => (&sig::ML_DSA_87_SIGNING, &sig::ML_DSA_87),
        _ => return Err(CryptoError::UnsupportedAlgorithm),
    })
}

/// The DER SubjectPublicKeyInfo of an asymmetric key, as GetPublicKey returns it.
pub fn public_key(spec: Spec, material: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match spec {
        Spec::Rsa(_) => {
            let pair = RsaKeyPair::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
            let der: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| CryptoError::Internal)?;
            Ok(der.as_ref().to_vec())
        }
        Spec::Ecc(curve) => {
            let pair = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), material).map_err(|_| CryptoError::Internal)?;
            let der: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| CryptoError::Internal)?;
            Ok(der.as_ref().to_vec())
        }
        Spec::MlDsa(level) => {
            let pair = sig::PqdsaKeyPair::from_pkcs8(ml_dsa(level)?.0, material).map_err(|_| CryptoError::Internal)?;
            let der: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| CryptoError::Internal)?;
            Ok(der.as_ref().to_vec())
        }
        Spec::Ed25519 => {
            let pair = sig::Ed25519KeyPair::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
            let der: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| CryptoError::Internal)?;
            Ok(der.as_ref().to_vec())
        }
        _ => Err(CryptoError::UnsupportedAlgorithm),
    }
}

/// The version byte of Rampart's symmetric ciphertext blobs.
const BLOB_VERSION: u8 = 1;
/// Bytes of a key material id in a blob.
pub const MATERIAL_ID_LEN: usize = 32;

/// What a symmetric ciphertext blob names: the key (by ARN) and the material that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader<'a> {
    pub key_arn: &'a str,
    pub material: &'a [u8],
}

/// Reads a blob's header: version, the key's ARN (length-prefixed), the material id. `None` for
/// anything that is not a blob of ours.
pub fn blob_header(blob: &[u8]) -> Option<(BlobHeader<'_>, &[u8])> {
    let (&version, rest) = blob.split_first()?;
    if version != BLOB_VERSION {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (arn, rest) = rest.split_at_checked(usize::from(len))?;
    let key_arn = std::str::from_utf8(arn).ok()?;
    let (material, rest) = rest.split_at_checked(MATERIAL_ID_LEN)?;
    // A nonce and a tag at least.
    if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return None;
    }
    Some((BlobHeader { key_arn, material }, rest))
}

/// The additional authenticated data of a ciphertext: its header and the encryption context,
/// sorted by key, each key and value length-prefixed, so that no two contexts encode alike.
fn aad(header: &[u8], context: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = context.iter().collect();
    sorted.sort();
    let mut out = Vec::with_capacity(header.len() + 64);
    out.extend_from_slice(b"rampart-kms-v1");
    out.extend_from_slice(header);
    for (k, v) in sorted {
        for part in [k, v] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

fn header_bytes(key_arn: &str, material_id: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let len = u8::try_from(key_arn.len()).map_err(|_| CryptoError::Internal)?;
    if material_id.len() != MATERIAL_ID_LEN {
        return Err(CryptoError::Internal);
    }
    let mut out = Vec::with_capacity(2 + key_arn.len() + MATERIAL_ID_LEN);
    out.push(BLOB_VERSION);
    out.push(len);
    out.extend_from_slice(key_arn.as_bytes());
    out.extend_from_slice(material_id);
    Ok(out)
}

/// Encrypts under a symmetric key's material with AES-256-GCM; the blob names the key and its
/// material, and both they and the encryption context are authenticated.
pub fn seal(
    key_arn: &str,
    material_id: &[u8],
    material: &[u8],
    context: &[(String, String)],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let header = header_bytes(key_arn, material_id)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material).map_err(|_| CryptoError::Internal)?);
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| CryptoError::Internal)?;
    // One buffer: header, nonce, then the plaintext sealed in place and its tag.
    let aad = aad(&header, context);
    let mut out = header;
    out.reserve(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let body = out.get_mut(start..).ok_or(CryptoError::Internal)?;
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
        .map_err(|_| CryptoError::Internal)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Decrypts a blob with the material its header names (found by the caller): any changed byte,
/// another context or another key fails.
pub fn open(blob: &[u8], material: &[u8], context: &[(String, String)]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (header, rest) = blob_header(blob).ok_or(CryptoError::InvalidCiphertext)?;
    let header = header_bytes(header.key_arn, header.material).map_err(|_| CryptoError::InvalidCiphertext)?;
    let (nonce, body) = rest.split_at_checked(NONCE_LEN).ok_or(CryptoError::InvalidCiphertext)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::InvalidCiphertext)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material).map_err(|_| CryptoError::Internal)?);
    let mut buf = Zeroizing::new(body.to_vec());
    let plain = key
        .open_in_place(nonce, Aad::from(aad(&header, context)), &mut buf)
        .map_err(|_| CryptoError::InvalidCiphertext)?
        .len();
    buf.truncate(plain);
    Ok(buf)
}

fn oaep(algorithm: &str) -> Result<&'static aws_lc_rs::rsa::OaepAlgorithm, CryptoError> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Ok(&OAEP_SHA1_MGF1SHA1),
        "RSAES_OAEP_SHA_256" => Ok(&OAEP_SHA256_MGF1SHA256),
        _ => Err(CryptoError::UnsupportedAlgorithm),
    }
}

/// RSA-OAEP encryption with an RSA key's public half.
pub fn rsa_encrypt(material: &[u8], algorithm: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let alg = oaep(algorithm)?;
    let private = PrivateDecryptingKey::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
    let public = private.public_key();
    let der: PublicKeyX509Der<'_> = public.as_der().map_err(|_| CryptoError::Internal)?;
    let key =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(der.as_ref()).map_err(|_| CryptoError::Internal)?)
            .map_err(|_| CryptoError::Internal)?;
    if plaintext.len() > key.max_plaintext_size(alg) {
        return Err(CryptoError::TooLong);
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key.encrypt(alg, plaintext, &mut out, None).map_err(|_| CryptoError::Internal)?.len();
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP decryption with an RSA key's private half.
pub fn rsa_decrypt(material: &[u8], algorithm: &str, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let alg = oaep(algorithm)?;
    let key =
        OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(material).map_err(|_| CryptoError::Internal)?)
            .map_err(|_| CryptoError::Internal)?;
    let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
    let n = key.decrypt(alg, ciphertext, &mut out, None).map_err(|_| CryptoError::InvalidCiphertext)?.len();
    out.truncate(n);
    Ok(out)
}

/// The digest algorithm of a signing algorithm.
fn hash_of(algorithm: &str) -> Option<&'static digest::Algorithm> {
    match algorithm.rsplit('_').next()? {
        "256" => Some(&digest::SHA256),
        "384" => Some(&digest::SHA384),
        "512" => Some(&digest::SHA512),
        _ => None,
    }
}

fn rsa_encoding(algorithm: &str) -> Option<&'static dyn sig::RsaEncoding> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" => &sig::RSA_PSS_SHA256,
        "RSASSA_PSS_SHA_384" => &sig::RSA_PSS_SHA384,
        "RSASSA_PSS_SHA_512" => &sig::RSA_PSS_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &sig::RSA_PKCS1_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &sig::RSA_PKCS1_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &sig::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_verification(algorithm: &str) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" => &sig::RSA_PSS_2048_8192_SHA256,
        "RSASSA_PSS_SHA_384" => &sig::RSA_PSS_2048_8192_SHA384,
        "RSASSA_PSS_SHA_512" => &sig::RSA_PSS_2048_8192_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &sig::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &sig::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecdsa_verification(curve: Curve) -> &'static dyn VerificationAlgorithm {
    match curve {
        Curve::P256 => &sig::ECDSA_P256_SHA256_ASN1,
        Curve::P384 => &sig::ECDSA_P384_SHA384_ASN1,
        Curve::P521 => &sig::ECDSA_P521_SHA512_ASN1,
        Curve::Secp256k1 => &sig::ECDSA_P256K1_SHA256_ASN1,
    }
}

/// The message as the signer sees it: a RAW message is hashed; a DIGEST must already be one of
/// the algorithm's length.
fn digest_of(algorithm: &str, message: &[u8], is_digest: bool) -> Result<digest::Digest, CryptoError> {
    let hash = hash_of(algorithm).ok_or(CryptoError::UnsupportedAlgorithm)?;
    if is_digest {
        digest::Digest::import_less_safe(message, hash).map_err(|_| CryptoError::BadDigest)
    } else {
        Ok(digest::digest(hash, message))
    }
}

/// Signs a message (or its digest) with an asymmetric key's private half.
pub fn sign(
    spec: Spec,
    material: &[u8],
    algorithm: &str,
    message: &[u8],
    is_digest: bool,
) -> Result<Vec<u8>, CryptoError> {
    if !spec.signing_algorithms().contains(&algorithm) {
        return Err(CryptoError::UnsupportedAlgorithm);
    }
    // ML-DSA and Ed25519 sign the message itself (they hash inside the algorithm).
    match (spec, is_digest) {
        (Spec::MlDsa(_) | Spec::Ed25519, true) => return Err(CryptoError::BadDigest),
        (Spec::MlDsa(level), false) => {
            let pair = sig::PqdsaKeyPair::from_pkcs8(ml_dsa(level)?.0, material).map_err(|_| CryptoError::Internal)?;
            let mut out = vec![0u8; pair.algorithm().signature_len()];
            let n = pair.sign(message, &mut out).map_err(|_| CryptoError::Internal)?;
            out.truncate(n);
            return Ok(out);
        }
        (Spec::Ed25519, false) => {
            let pair = sig::Ed25519KeyPair::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
            return Ok(pair.try_sign(message).map_err(|_| CryptoError::Internal)?.as_ref().to_vec());
        }
        _ => {}
    }
    let digest = digest_of(algorithm, message, is_digest)?;
    match spec {
        Spec::Rsa(_) => {
            let pair = RsaKeyPair::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
            let encoding = rsa_encoding(algorithm).ok_or(CryptoError::UnsupportedAlgorithm)?;
            let mut out = vec![0u8; pair.public_modulus_len()];
            pair.sign_digest(encoding, &digest, &mut out).map_err(|_| CryptoError::Internal)?;
            Ok(out)
        }
        Spec::Ecc(curve) => {
            let pair = EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), material).map_err(|_| CryptoError::Internal)?;
            Ok(pair.sign_digest(&digest).map_err(|_| CryptoError::Internal)?.as_ref().to_vec())
        }
        _ => Err(CryptoError::UnsupportedAlgorithm),
    }
}

/// Verifies a signature with an asymmetric key's public half; `Ok(false)` for a signature that
/// does not verify.
pub fn verify(
    spec: Spec,
    material: &[u8],
    algorithm: &str,
    message: &[u8],
    is_digest: bool,
    signature: &[u8],
) -> Result<bool, CryptoError> {
    if !spec.signing_algorithms().contains(&algorithm) {
        return Err(CryptoError::UnsupportedAlgorithm);
    }
    match (spec, is_digest) {
        (Spec::MlDsa(_) | Spec::Ed25519, true) => return Err(CryptoError::BadDigest),
        (Spec::MlDsa(level), false) => {
            let (signing, verification) = ml_dsa(level)?;
            let pair = sig::PqdsaKeyPair::from_pkcs8(signing, material).map_err(|_| CryptoError::Internal)?;
            let public = sig::UnparsedPublicKey::new(verification, pair.public_key().as_ref());
            return Ok(public.verify(message, signature).is_ok());
        }
        (Spec::Ed25519, false) => {
            let pair = sig::Ed25519KeyPair::from_pkcs8(material).map_err(|_| CryptoError::Internal)?;
            let public = sig::UnparsedPublicKey::new(&sig::ED25519, pair.public_key().as_ref());
            return Ok(public.verify(message, signature).is_ok());
        }
        _ => {}
    }
    let digest = digest_of(algorithm, message, is_digest)?;
    let spki = public_key(spec, material)?;
    let alg = match spec {
        Spec::Rsa(_) => rsa_verification(algorithm).ok_or(CryptoError::UnsupportedAlgorithm)?,
        Spec::Ecc(curve) => ecdsa_verification(curve),
        _ => return Err(CryptoError::UnsupportedAlgorithm),
    };
    let key = ParsedPublicKey::new(alg, &spki).map_err(|_| CryptoError::Internal)?;
    Ok(key.verify_digest_sig(&digest, signature).is_ok())
}

fn hmac_algorithm(spec: Spec, algorithm: &str) -> Result<hmac::Algorithm, CryptoError> {
    if !spec.mac_algorithms().contains(&algorithm) {
        return Err(CryptoError::UnsupportedAlgorithm);
    }
    Ok(match algorithm {
        "HMAC_SHA_224" => hmac::HMAC_SHA224,
        "HMAC_SHA_256" => hmac::HMAC_SHA256,
        "HMAC_SHA_384" => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    })
}

/// The HMAC of a message with an HMAC key.
pub fn mac(spec: Spec, material: &[u8], algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = hmac::Key::new(hmac_algorithm(spec, algorithm)?, material);
    Ok(hmac::sign(&key, message).as_ref().to_vec())
}

/// Whether a MAC is the message's, compared in constant time.
pub fn verify_mac(
    spec: Spec,
    material: &[u8],
    algorithm: &str,
    message: &[u8],
    tag: &[u8],
) -> Result<bool, CryptoError> {
    let key = hmac::Key::new(hmac_algorithm(spec, algorithm)?, material);
    Ok(hmac::verify(&key, message, tag).is_ok())
}

/// How key material is wrapped for import under a KMS wrapping key: RSA-OAEP directly, or an
/// AES-256 key wrapped with RSA-OAEP followed by the material wrapped with that key (AES Key Wrap
/// with Padding, RFC 5649), which carries RSA private keys too long for RSA-OAEP.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html#select-wrapping-algorithm>.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    OaepSha1,
    OaepSha256,
    AesKwpSha1,
    AesKwpSha256,
}

impl Wrapping {
    pub const ALL: [Wrapping; 4] =
        [Wrapping::OaepSha1, Wrapping::OaepSha256, Wrapping::AesKwpSha1, Wrapping::AesKwpSha256];

    pub fn name(self) -> &'static str {
        match self {
            Wrapping::OaepSha1 => "RSAES_OAEP_SHA_1",
            Wrapping::OaepSha256 => "RSAES_OAEP_SHA_256",
            Wrapping::AesKwpSha1 => "RSA_AES_KEY_WRAP_SHA_1",
            Wrapping::AesKwpSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    pub fn parse(name: &str) -> Option<Wrapping> {
        Wrapping::ALL.into_iter().find(|w| w.name() == name)
    }

    fn oaep(self) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
        match self {
            Wrapping::OaepSha1 | Wrapping::AesKwpSha1 => &OAEP_SHA1_MGF1SHA1,
            Wrapping::OaepSha256 | Wrapping::AesKwpSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }

    /// Whether material of `spec` may be wrapped this way: an RSA private key needs AES key wrap.
    pub fn carries(self, spec: Spec) -> bool {
        !matches!(spec, Spec::Rsa(_)) || matches!(self, Wrapping::AesKwpSha1 | Wrapping::AesKwpSha256)
    }
}

/// Unwraps imported key material with the private half of a wrapping key pair.
pub fn unwrap_material(
    wrapping_key: &[u8],
    wrapping: Wrapping,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
    let key = OaepPrivateDecryptingKey::new(
        PrivateDecryptingKey::from_pkcs8(wrapping_key).map_err(|_| CryptoError::Internal)?,
    )
    .map_err(|_| CryptoError::Internal)?;
    let rsa_open = |c: &[u8]| -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        let n = key.decrypt(wrapping.oaep(), c, &mut out, None).map_err(|_| CryptoError::InvalidCiphertext)?.len();
        out.truncate(n);
        Ok(out)
    };
    match wrapping {
        Wrapping::OaepSha1 | Wrapping::OaepSha256 => rsa_open(ciphertext),
        Wrapping::AesKwpSha1 | Wrapping::AesKwpSha256 => {
            let (wrapped_key, wrapped) =
                ciphertext.split_at_checked(key.key_size_bytes()).ok_or(CryptoError::InvalidCiphertext)?;
            let aes = rsa_open(wrapped_key)?;
            let kek = AesKek::new(&AES_256, &aes).map_err(|_| CryptoError::InvalidCiphertext)?;
            let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
            let n = kek.unwrap_with_padding(wrapped, &mut out).map_err(|_| CryptoError::InvalidCiphertext)?.len();
            out.truncate(n);
            Ok(out)
        }
    }
}

/// Checks imported material against a key's spec and returns it as Rampart keeps it: the raw
/// bytes of a symmetric or HMAC key, an asymmetric private key re-encoded as PKCS#8.
/// Symmetric material is 256 bits; HMAC material is at least the hash's length and at most its
/// block size.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html>.
pub fn check_material(spec: Spec, material: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let fits = match spec {
        Spec::Symmetric => material.len() == 32,
        Spec::Hmac(bits) => {
            let min = usize::try_from(bits / 8).map_err(|_| CryptoError::Internal)?;
            let max = if bits <= 256 { 64 } else { 128 };
            (min..=max).contains(&material.len())
        }
        Spec::Rsa(bits) => {
            let pair = RsaKeyPair::from_pkcs8(material).map_err(|_| CryptoError::IncorrectMaterial)?;
            if u32::try_from(pair.public_modulus_len() * 8).ok() != Some(bits) {
                return Err(CryptoError::IncorrectMaterial);
            }
            let der: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| CryptoError::Internal)?;
            return Ok(Zeroizing::new(der.as_ref().to_vec()));
        }
        Spec::Ecc(curve) => {
            let pair =
                EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), material).map_err(|_| CryptoError::IncorrectMaterial)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Internal)?;
            return Ok(Zeroizing::new(der.as_ref().to_vec()));
        }
        Spec::MlDsa(level) => {
            let pair = sig::PqdsaKeyPair::from_pkcs8(ml_dsa(level)?.0, material)
                .map_err(|_| CryptoError::IncorrectMaterial)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::IncorrectMaterial)?;
            return Ok(Zeroizing::new(der.as_ref().to_vec()));
        }
        Spec::Ed25519 => {
            let pair = sig::Ed25519KeyPair::from_pkcs8(material).map_err(|_| CryptoError::IncorrectMaterial)?;
            let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Internal)?;
            return Ok(Zeroizing::new(der.as_ref().to_vec()));
        }
    };
    if !fits {
        return Err(CryptoError::IncorrectMaterial);
    }
    Ok(Zeroizing::new(material.to_vec()))
}

/// The id of imported material: a digest of the key's id and the material, so that the same
/// material imported again into the same key has the same id, and other material another.
pub fn imported_material_id(key_id: &str, material: &[u8]) -> [u8; MATERIAL_ID_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"rampart-kms-imported-material-v1\0");
    ctx.update(key_id.as_bytes());
    ctx.update(b"\0");
    ctx.update(material);
    let mut out = [0u8; MATERIAL_ID_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// ECDH between a key agreement key's private key and a peer's X.509 (SubjectPublicKeyInfo)
/// public key on the same curve: the raw shared secret, as DeriveSharedSecret returns it.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_DeriveSharedSecret.html>.
pub fn derive_shared_secret(spec: Spec, material: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    use aws_lc_rs::agreement::{self, ParsedPublicKey as PeerKey, ParsedPublicKeyFormat, UnparsedPublicKey};
    let alg = match spec {
        Spec::Ecc(Curve::P256) => &agreement::ECDH_P256,
        Spec::Ecc(Curve::P384) => &agreement::ECDH_P384,
        Spec::Ecc(Curve::P521) => &agreement::ECDH_P521,
        _ => return Err(CryptoError::UnsupportedAlgorithm),
    };
    let private = agreement::PrivateKey::from_private_key_der(alg, material).map_err(|_| CryptoError::Internal)?;
    let peer = PeerKey::try_from(&UnparsedPublicKey::new(alg, peer)).map_err(|_| CryptoError::BadPublicKey)?;
    if peer.format() != ParsedPublicKeyFormat::X509 {
        return Err(CryptoError::BadPublicKey);
    }
    agreement::agree(&private, peer, CryptoError::BadPublicKey, |secret| Ok(Zeroizing::new(secret.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_ciphertext_opens_only_with_its_material_and_context() {
        let material = new_material(Spec::Symmetric).unwrap_or_default();
        let id = [7u8; MATERIAL_ID_LEN];
        let context = ctx(&[("purpose", "test"), ("a", "b")]);
        let blob = seal(ARN, &id, &material, &context, b"secret").unwrap_or_default();
        let (header, _) = blob_header(&blob).unwrap_or((BlobHeader { key_arn: "", material: &[] }, &[]));
        assert_eq!((header.key_arn, header.material), (ARN, &id[..]));
        // The context's order does not matter; its content does.
        let reordered = ctx(&[("a", "b"), ("purpose", "test")]);
        assert_eq!(open(&blob, &material, &reordered).map(|p| p.to_vec()), Ok(b"secret".to_vec()));
        assert_eq!(
            open(&blob, &material, &ctx(&[("purpose", "prod"), ("a", "b")])),
            Err(CryptoError::InvalidCiphertext)
        );
        assert_eq!(open(&blob, &material, &[]), Err(CryptoError::InvalidCiphertext));
        // No two contexts encode alike: ("ab","c") is not ("a","bc").
        let split = seal(ARN, &id, &material, &ctx(&[("ab", "c")]), b"x").unwrap_or_default();
        assert_eq!(open(&split, &material, &ctx(&[("a", "bc")])), Err(CryptoError::InvalidCiphertext));
        let other = new_material(Spec::Symmetric).unwrap_or_default();
        assert_eq!(open(&blob, &other, &context), Err(CryptoError::InvalidCiphertext));
        for i in 0..blob.len() {
            let mut changed = blob.clone();
            if let Some(b) = changed.get_mut(i) {
                *b ^= 1;
            }
            assert!(open(&changed, &material, &context).is_err(), "byte {i}");
        }
        assert!(blob_header(b"").is_none() && blob_header(&blob[..10]).is_none());
    }

    #[test]
    fn signatures_verify_for_every_asymmetric_spec() {
        for name in ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"] {
            let spec = Spec::parse(name).unwrap_or(Spec::Symmetric);
            let material = new_material(spec).unwrap_or_default();
            assert!(!public_key(spec, &material).unwrap_or_default().is_empty(), "{name}");
            for alg in spec.signing_algorithms() {
                let s = sign(spec, &material, alg, b"message", false).unwrap_or_default();
                assert_eq!(verify(spec, &material, alg, b"message", false, &s), Ok(true), "{name} {alg}");
                assert_eq!(verify(spec, &material, alg, b"messagE", false, &s), Ok(false), "{name} {alg}");
                let d = digest::digest(hash_of(alg).unwrap_or(&digest::SHA256), b"message");
                assert_eq!(verify(spec, &material, alg, d.as_ref(), true, &s), Ok(true), "{name} {alg} digest");
                assert_eq!(sign(spec, &material, alg, b"short", true), Err(CryptoError::BadDigest));
            }
            assert_eq!(sign(spec, &material, "HMAC_SHA_256", b"m", false), Err(CryptoError::UnsupportedAlgorithm));
        }
    }

    #[test]
    fn rsa_oaep_and_hmac_round_trip() {
        let material = new_material(Spec::Rsa(2048)).unwrap_or_default();
        for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
            let c = rsa_encrypt(&material, alg, b"hello").unwrap_or_default();
            assert_eq!(rsa_decrypt(&material, alg, &c).map(|p| p.to_vec()), Ok(b"hello".to_vec()));
        }
        assert_eq!(rsa_encrypt(&material, "RSAES_OAEP_SHA_256", &[0u8; 300]), Err(CryptoError::TooLong));
        let key = new_material(Spec::Hmac(256)).unwrap_or_default();
        let tag = mac(Spec::Hmac(256), &key, "HMAC_SHA_256", b"m").unwrap_or_default();
        assert_eq!(verify_mac(Spec::Hmac(256), &key, "HMAC_SHA_256", b"m", &tag), Ok(true));
        assert_eq!(verify_mac(Spec::Hmac(256), &key, "HMAC_SHA_256", b"n", &tag), Ok(false));
        assert_eq!(mac(Spec::Hmac(256), &key, "HMAC_SHA_512", b"m"), Err(CryptoError::UnsupportedAlgorithm));
    }
}
