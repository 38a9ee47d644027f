//! Using keys: Encrypt, Decrypt, ReEncrypt, data keys, random bytes, signatures, public keys and
//! MACs. Material is unsealed for the one operation and zeroized when dropped.

use rampart_core::{Ctx, ServiceError, records};
use rampart_shapes::Blob;
use rampart_shapes::generated::kms as shapes;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::crypto::{self, Spec};
use super::usage::used;
use super::{KeyRecord, crypto_error, find, usable, validation};

/// A key for a cryptographic operation: any account's by ARN (its key policy decided), enabled,
/// of the usage the operation needs.
fn key_for(ctx: &Ctx<'_>, key_id: &str, usage: &str) -> Result<Arc<KeyRecord>, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, key_id, true, ctx.now)?;
    usable(&key, usage)?;
    Ok(key)
}

/// A request with `DryRun` stops here, once it has been authorized and its key checked.
pub(crate) fn dry_run(asked: Option<bool>) -> Result<(), ServiceError> {
    if asked == Some(true) {
        return Err(ServiceError::new(
            "DryRunOperationException",
            412,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn pairs(context: Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    context.unwrap_or_default().into_iter().collect()
}

fn invalid_ciphertext() -> ServiceError {
    ServiceError::new("InvalidCiphertextException", 400, "")
}

/// The current material of a key, unsealed, with its id.
fn current(ctx: &Ctx<'_>, key: &KeyRecord) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), ServiceError> {
    let m = key.current()?;
    let id = data_encoding::HEXLOWER.decode(m.id.as_bytes()).map_err(|_| ServiceError::internal())?;
    Ok((id, key.unseal(ctx.sealer, m)?))
}

/// Encrypts under a symmetric key's current material.
fn seal_with(
    ctx: &Ctx<'_>,
    key: &KeyRecord,
    context: &[(String, String)],
    plaintext: &[u8],
) -> Result<(Vec<u8>, String), ServiceError> {
    let (id, material) = current(ctx, key)?;
    let blob = crypto::seal(&key.arn(), &id, &material, context, plaintext).map_err(crypto_error)?;
    Ok((blob, data_encoding::HEXLOWER.encode(&id)))
}

/// The algorithm a request names for a key, checked against the key's.
fn encryption_algorithm(key: &KeyRecord, asked: Option<String>) -> Result<String, ServiceError> {
    let spec = key.spec()?;
    let algorithm = match asked {
        Some(a) => a,
        None if spec == Spec::Symmetric => "SYMMETRIC_DEFAULT".to_owned(),
        None => return Err(validation("EncryptionAlgorithm is required for an asymmetric key.")),
    };
    if !spec.encryption_algorithms().contains(&algorithm.as_str()) {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{algorithm} is not a valid encryption algorithm for {}.", key.arn()),
        ));
    }
    Ok(algorithm)
}

/// Encrypts with a key: AES-256-GCM bound to the encryption context for a symmetric key, RSA-OAEP
/// for an RSA key (which takes no context).
fn encrypt_with(
    ctx: &Ctx<'_>,
    key: &KeyRecord,
    algorithm: &str,
    context: &[(String, String)],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Option<String>), ServiceError> {
    if algorithm == "SYMMETRIC_DEFAULT" {
        let (blob, material) = seal_with(ctx, key, context, plaintext)?;
        return Ok((blob, Some(material)));
    }
    if !context.is_empty() {
        return Err(validation("EncryptionContext is not supported with asymmetric keys."));
    }
    let material = key.unseal(ctx.sealer, key.current()?)?;
    Ok((crypto::rsa_encrypt(&material, algorithm, plaintext).map_err(crypto_error)?, None))
}

pub fn encrypt(ctx: &Ctx<'_>, input: shapes::EncryptRequest) -> Result<shapes::EncryptResponse, ServiceError> {
    let key = key_for(ctx, &input.key_id, "ENCRYPT_DECRYPT")?;
    let algorithm = encryption_algorithm(&key, input.encryption_algorithm)?;
    dry_run(input.dry_run)?;
    let (blob, _) = encrypt_with(ctx, &key, &algorithm, &pairs(input.encryption_context), &input.plaintext.0)?;
    used(ctx, &key, "Encrypt");
    Ok(shapes::EncryptResponse {
        ciphertext_blob: Some(Blob(blob)),
        key_id: Some(key.arn()),
        encryption_algorithm: Some(algorithm),
    })
}

/// What a decryption found: the key, the plaintext, the algorithm and (symmetric) the material.
struct Opened {
    key: Arc<KeyRecord>,
    plaintext: Zeroizing<Vec<u8>>,
    algorithm: String,
    material: Option<String>,
}

/// Decrypts a ciphertext. A symmetric blob names its key: a `KeyId` that names another is
/// IncorrectKeyException. An asymmetric ciphertext needs its key and algorithm named.
fn open(
    ctx: &Ctx<'_>,
    blob: &[u8],
    key_id: Option<&str>,
    algorithm: Option<String>,
    context: &[(String, String)],
) -> Result<Opened, ServiceError> {
    let header = crypto::blob_header(blob).map(|(h, _)| (h.key_arn.to_owned(), h.material.to_vec()));
    let asymmetric = algorithm.as_deref().is_some_and(|a| a != "SYMMETRIC_DEFAULT");
    let Some((arn, material_id)) = header.filter(|_| !asymmetric) else {
        let Some(key_id) = key_id else { return Err(invalid_ciphertext()) };
        let key = key_for(ctx, key_id, "ENCRYPT_DECRYPT")?;
        let algorithm = encryption_algorithm(&key, algorithm)?;
        if algorithm == "SYMMETRIC_DEFAULT" {
            return Err(invalid_ciphertext());
        }
        let material = key.unseal(ctx.sealer, key.current()?)?;
        let plaintext = crypto::rsa_decrypt(&material, &algorithm, blob).map_err(crypto_error)?;
        return Ok(Opened { key, plaintext, algorithm, material: None });
    };
    let key = key_for(ctx, &super::key_here(&arn, ctx.region), "ENCRYPT_DECRYPT")?;
    if let Some(named) = key_id {
        let named = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, named, true, ctx.now)?;
        if named.arn() != key.arn() {
            return Err(ServiceError::new(
                "IncorrectKeyException",
                400,
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
    }
    let id = data_encoding::HEXLOWER.encode(&material_id);
    let m = key.materials.iter().find(|m| m.id == id).ok_or_else(invalid_ciphertext)?;
    let material = key.unseal(ctx.sealer, m)?;
    let plaintext = crypto::open(blob, &material, context).map_err(crypto_error)?;
    Ok(Opened { key, plaintext, algorithm: "SYMMETRIC_DEFAULT".to_owned(), material: Some(id) })
}

pub fn decrypt(ctx: &Ctx<'_>, input: shapes::DecryptRequest) -> Result<shapes::DecryptResponse, ServiceError> {
    if input.recipient.is_some() {
        return Err(no_enclave());
    }
    let blob = input.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    if input.dry_run == Some(true) {
        let key_id = input
            .key_id
            .clone()
            .or_else(|| crypto::blob_header(&blob).map(|(h, _)| super::key_here(h.key_arn, ctx.region)));
        key_for(ctx, &key_id.ok_or_else(invalid_ciphertext)?, "ENCRYPT_DECRYPT")?;
        dry_run(Some(true))?;
    }
    let opened =
        open(ctx, &blob, input.key_id.as_deref(), input.encryption_algorithm, &pairs(input.encryption_context))?;
    used(ctx, &opened.key, "Decrypt");
    Ok(shapes::DecryptResponse {
        key_id: Some(opened.key.arn()),
        plaintext: Some(Blob(opened.plaintext.to_vec())),
        encryption_algorithm: Some(opened.algorithm),
        ciphertext_for_recipient: None,
        key_material_id: opened.material,
    })
}

/// Decrypts under one key and encrypts under another, the plaintext never leaving Rampart.
pub fn re_encrypt(ctx: &Ctx<'_>, input: shapes::ReEncryptRequest) -> Result<shapes::ReEncryptResponse, ServiceError> {
    let blob = input.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let destination = key_for(ctx, &input.destination_key_id, "ENCRYPT_DECRYPT")?;
    let to_algorithm = encryption_algorithm(&destination, input.destination_encryption_algorithm)?;
    let opened = open(
        ctx,
        &blob,
        input.source_key_id.as_deref(),
        input.source_encryption_algorithm,
        &pairs(input.source_encryption_context),
    )?;
    dry_run(input.dry_run)?;
    let (sealed, material) = encrypt_with(
        ctx,
        &destination,
        &to_algorithm,
        &pairs(input.destination_encryption_context),
        &opened.plaintext,
    )?;
    used(ctx, &opened.key, "ReEncrypt");
    used(ctx, &destination, "ReEncrypt");
    Ok(shapes::ReEncryptResponse {
        ciphertext_blob: Some(Blob(sealed)),
        source_key_id: Some(opened.key.arn()),
        key_id: Some(destination.arn()),
        source_encryption_algorithm: Some(opened.algorithm),
        destination_encryption_algorithm: Some(to_algorithm),
        source_key_material_id: opened.material,
        destination_key_material_id: material,
    })
}

/// The length of a data key: `KeySpec` (AES_256, AES_128) or `NumberOfBytes` (1–1024), one of
/// them.
fn data_key_len(spec: Option<&str>, bytes: Option<i32>) -> Result<usize, ServiceError> {
    match (spec, bytes) {
        (Some(_), Some(_)) => Err(validation("Please specify either number of bytes or key spec.")),
        (None, None) => Err(validation("Please specify either number of bytes or key spec.")),
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (Some(other), None) => Err(validation(format!("KeySpec {other} is not valid: use AES_256 or AES_128."))),
        (None, Some(n)) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| validation("NumberOfBytes must be between 1 and 1024.")),
    }
}

fn no_enclave() -> ServiceError {
    ServiceError::new(
        "ValidationException",
        400,
        "The Recipient attestation document could not be verified: Rampart runs no Nitro enclave.",
    )
}

/// A data key: the key it is under, its plaintext (for the caller to use and forget), its copy
/// encrypted under the key, and the material that encrypted it.
type DataKey = (Arc<KeyRecord>, Zeroizing<Vec<u8>>, Vec<u8>, String);

/// Makes a data key of the asked length under a symmetric key.
fn data_key(
    ctx: &Ctx<'_>,
    key_id: &str,
    spec: Option<&str>,
    bytes: Option<i32>,
    context: &[(String, String)],
    dry: Option<bool>,
) -> Result<DataKey, ServiceError> {
    let key = key_for(ctx, key_id, "ENCRYPT_DECRYPT")?;
    if key.spec != "SYMMETRIC_DEFAULT" {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{} is not a symmetric key: data keys come from symmetric keys.", key.arn()),
        ));
    }
    let len = data_key_len(spec, bytes)?;
    dry_run(dry)?;
    let plaintext = crypto::random_bytes(len).map_err(crypto_error)?;
    let (blob, material) = seal_with(ctx, &key, context, &plaintext)?;
    Ok((key, plaintext, blob, material))
}

pub fn generate_data_key(
    ctx: &Ctx<'_>,
    input: shapes::GenerateDataKeyRequest,
) -> Result<shapes::GenerateDataKeyResponse, ServiceError> {
    if input.recipient.is_some() {
        return Err(no_enclave());
    }
    let context = pairs(input.encryption_context);
    let (key, plaintext, blob, material) =
        data_key(ctx, &input.key_id, input.key_spec.as_deref(), input.number_of_bytes, &context, input.dry_run)?;
    used(ctx, &key, "GenerateDataKey");
    Ok(shapes::GenerateDataKeyResponse {
        ciphertext_blob: Some(Blob(blob)),
        plaintext: Some(Blob(plaintext.to_vec())),
        key_id: Some(key.arn()),
        ciphertext_for_recipient: None,
        key_material_id: Some(material),
    })
}

pub fn generate_data_key_without_plaintext(
    ctx: &Ctx<'_>,
    input: shapes::GenerateDataKeyWithoutPlaintextRequest,
) -> Result<shapes::GenerateDataKeyWithoutPlaintextResponse, ServiceError> {
    let context = pairs(input.encryption_context);
    let (key, _, blob, material) =
        data_key(ctx, &input.key_id, input.key_spec.as_deref(), input.number_of_bytes, &context, input.dry_run)?;
    used(ctx, &key, "GenerateDataKeyWithoutPlaintext");
    Ok(shapes::GenerateDataKeyWithoutPlaintextResponse {
        ciphertext_blob: Some(Blob(blob)),
        key_id: Some(key.arn()),
        key_material_id: Some(material),
    })
}

pub fn generate_random(
    _ctx: &Ctx<'_>,
    input: shapes::GenerateRandomRequest,
) -> Result<shapes::GenerateRandomResponse, ServiceError> {
    if input.custom_key_store_id.is_some() {
        return Err(ServiceError::new(
            "CustomKeyStoreNotFoundException",
            400,
            "The specified custom key store does not exist.",
        ));
    }
    if input.recipient.is_some() {
        return Err(no_enclave());
    }
    let n = input.number_of_bytes.ok_or_else(|| validation("NumberOfBytes is required."))?;
    let n = usize::try_from(n).ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must \
             have value between 1 and 1024"
        ))
    })?;
    let bytes = crypto::random_bytes(n).map_err(crypto_error)?;
    Ok(shapes::GenerateRandomResponse { plaintext: Some(Blob(bytes.to_vec())), ciphertext_for_recipient: None })
}

fn is_digest(message_type: Option<&str>) -> Result<bool, ServiceError> {
    match message_type {
        None | Some("RAW") => Ok(false),
        Some("DIGEST") => Ok(true),
        Some(other) => Err(validation(format!("MessageType {other} is not supported."))),
    }
}

/// A signing key, the message type and the key's spec, checked for the algorithm; stops a dry run.
fn signing_key(
    ctx: &Ctx<'_>,
    key_id: &str,
    algorithm: &str,
    message_type: Option<&str>,
    dry: Option<bool>,
) -> Result<(Arc<KeyRecord>, bool, Spec), ServiceError> {
    let key = key_for(ctx, key_id, "SIGN_VERIFY")?;
    let digest = is_digest(message_type)?;
    let spec = key.spec()?;
    if digest && matches!(spec, Spec::MlDsa(_) | Spec::Ed25519) {
        return Err(validation(format!(
            "MessageType DIGEST is not valid with {algorithm}: it signs the message itself; use RAW."
        )));
    }
    if !spec.signing_algorithms().contains(&algorithm) {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{algorithm} is not a valid signing algorithm for {}.", key.arn()),
        ));
    }
    dry_run(dry)?;
    Ok((key, digest, spec))
}

pub fn sign(ctx: &Ctx<'_>, input: shapes::SignRequest) -> Result<shapes::SignResponse, ServiceError> {
    let (key, digest, spec) =
        signing_key(ctx, &input.key_id, &input.signing_algorithm, input.message_type.as_deref(), input.dry_run)?;
    let material = key.unseal(ctx.sealer, key.current()?)?;
    let signature =
        crypto::sign(spec, &material, &input.signing_algorithm, &input.message.0, digest).map_err(crypto_error)?;
    used(ctx, &key, "Sign");
    Ok(shapes::SignResponse {
        key_id: Some(key.arn()),
        signature: Some(Blob(signature)),
        signing_algorithm: Some(input.signing_algorithm),
    })
}

/// Verifies a signature; one that does not verify is KMSInvalidSignatureException, as in AWS.
pub fn verify(ctx: &Ctx<'_>, input: shapes::VerifyRequest) -> Result<shapes::VerifyResponse, ServiceError> {
    let (key, digest, spec) =
        signing_key(ctx, &input.key_id, &input.signing_algorithm, input.message_type.as_deref(), input.dry_run)?;
    let material = key.unseal(ctx.sealer, key.current()?)?;
    let valid = crypto::verify(spec, &material, &input.signing_algorithm, &input.message.0, digest, &input.signature.0)
        .map_err(crypto_error)?;
    if !valid {
        return Err(ServiceError::new("KMSInvalidSignatureException", 400, ""));
    }
    used(ctx, &key, "Verify");
    Ok(shapes::VerifyResponse {
        key_id: Some(key.arn()),
        signature_valid: Some(true),
        signing_algorithm: Some(input.signing_algorithm),
    })
}

pub fn get_public_key(
    ctx: &Ctx<'_>,
    input: shapes::GetPublicKeyRequest,
) -> Result<shapes::GetPublicKeyResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, true, ctx.now)?;
    let spec = key.spec()?;
    if matches!(spec, Spec::Symmetric | Spec::Hmac(_)) {
        return Err(ServiceError::new(
            "UnsupportedOperationException",
            400,
            format!("{} is not an asymmetric key: it has no public key.", key.arn()),
        ));
    }
    match key.state.as_str() {
        "Disabled" => return Err(ServiceError::new("DisabledException", 400, format!("{} is disabled.", key.arn()))),
        "PendingDeletion" => return Err(super::invalid_state(format!("{} is pending deletion.", key.arn()))),
        "PendingImport" => return Err(super::invalid_state(format!("{} is pending import.", key.arn()))),
        _ => {}
    }
    let material = key.unseal(ctx.sealer, key.current()?)?;
    let der = crypto::public_key(spec, &material).map_err(crypto_error)?;
    let algorithms = super::Algorithms::of(&key);
    Ok(shapes::GetPublicKeyResponse {
        key_id: Some(key.arn()),
        public_key: Some(Blob(der)),
        customer_master_key_spec: Some(key.spec.clone()),
        key_spec: Some(key.spec.clone()),
        key_usage: Some(key.usage.clone()),
        encryption_algorithms: algorithms.encryption,
        signing_algorithms: algorithms.signing,
        key_agreement_algorithms: algorithms.agreement,
    })
}

/// ECDH between a key agreement key's private key and a peer's public key: the raw shared secret,
/// for the caller to derive keys from with a KDF of their choice.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_DeriveSharedSecret.html>.
pub fn derive_shared_secret(
    ctx: &Ctx<'_>,
    input: shapes::DeriveSharedSecretRequest,
) -> Result<shapes::DeriveSharedSecretResponse, ServiceError> {
    let key = key_for(ctx, &input.key_id, "KEY_AGREEMENT")?;
    let spec = key.spec()?;
    if !spec.key_agreement_algorithms().contains(&input.key_agreement_algorithm.as_str()) {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{} is not a valid key agreement algorithm for {}.", input.key_agreement_algorithm, key.arn()),
        ));
    }
    if input.recipient.is_some() {
        return Err(no_enclave());
    }
    dry_run(input.dry_run)?;
    let material = key.unseal(ctx.sealer, key.current()?)?;
    let secret = crypto::derive_shared_secret(spec, &material, &input.public_key.0).map_err(crypto_error)?;
    used(ctx, &key, "DeriveSharedSecret");
    Ok(shapes::DeriveSharedSecretResponse {
        key_id: Some(key.arn()),
        shared_secret: Some(Blob(secret.to_vec())),
        ciphertext_for_recipient: None,
        key_agreement_algorithm: Some(input.key_agreement_algorithm),
        key_origin: Some(key.origin.clone()),
    })
}

fn mac_key(ctx: &Ctx<'_>, key_id: &str, algorithm: &str) -> Result<(Arc<KeyRecord>, Spec), ServiceError> {
    let key = key_for(ctx, key_id, "GENERATE_VERIFY_MAC")?;
    let spec = key.spec()?;
    if !spec.mac_algorithms().contains(&algorithm) {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{algorithm} is not a valid MAC algorithm for {}.", key.arn()),
        ));
    }
    Ok((key, spec))
}

pub fn generate_mac(
    ctx: &Ctx<'_>,
    input: shapes::GenerateMacRequest,
) -> Result<shapes::GenerateMacResponse, ServiceError> {
    let (key, spec) = mac_key(ctx, &input.key_id, &input.mac_algorithm)?;
    dry_run(input.dry_run)?;
    let material = key.unseal(ctx.sealer, key.current()?)?;
    let mac = crypto::mac(spec, &material, &input.mac_algorithm, &input.message.0).map_err(crypto_error)?;
    used(ctx, &key, "GenerateMac");
    Ok(shapes::GenerateMacResponse {
        mac: Some(Blob(mac)),
        mac_algorithm: Some(input.mac_algorithm),
        key_id: Some(key.arn()),
    })
}

/// Verifies a MAC in constant time; one that does not match is KMSInvalidMacException.
pub fn verify_mac(ctx: &Ctx<'_>, input: shapes::VerifyMacRequest) -> Result<shapes::VerifyMacResponse, ServiceError> {
    let (key, spec) = mac_key(ctx, &input.key_id, &input.mac_algorithm)?;
    dry_run(input.dry_run)?;
    let material = key.unseal(ctx.sealer, key.current()?)?;
    if !crypto::verify_mac(spec, &material, &input.mac_algorithm, &input.message.0, &input.mac.0)
        .map_err(crypto_error)?
    {
        return Err(ServiceError::new("KMSInvalidMacException", 400, ""));
    }
    used(ctx, &key, "VerifyMac");
    Ok(shapes::VerifyMacResponse {
        key_id: Some(key.arn()),
        mac_valid: Some(true),
        mac_algorithm: Some(input.mac_algorithm),
    })
}

/// A data key pair: the key the private half is encrypted under, the PKCS#8 private key, its
/// encrypted copy, the DER public key, and the material that encrypted it.
type DataKeyPair = (Arc<KeyRecord>, Zeroizing<Vec<u8>>, Vec<u8>, Vec<u8>, String);

/// Makes a key pair of `spec` whose private half is encrypted under a symmetric key, for the
/// caller to use outside KMS.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyPair.html>.
fn data_key_pair(
    ctx: &Ctx<'_>,
    key_id: &str,
    spec: &str,
    context: &[(String, String)],
    dry: Option<bool>,
) -> Result<DataKeyPair, ServiceError> {
    let key = key_for(ctx, key_id, "ENCRYPT_DECRYPT")?;
    if key.spec != "SYMMETRIC_DEFAULT" {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{} is not a symmetric key: data key pairs are encrypted under symmetric keys.", key.arn()),
        ));
    }
    let pair =
        Spec::parse(spec).filter(|s| matches!(s, Spec::Rsa(_) | Spec::Ecc(_) | Spec::Ed25519)).ok_or_else(|| {
            ServiceError::new("UnsupportedOperationException", 400, format!("KeyPairSpec {spec} is not supported."))
        })?;
    dry_run(dry)?;
    let private = crypto::new_material(pair).map_err(crypto_error)?;
    let public = crypto::public_key(pair, &private).map_err(crypto_error)?;
    let (blob, material) = seal_with(ctx, &key, context, &private)?;
    Ok((key, private, blob, public, material))
}

pub fn generate_data_key_pair(
    ctx: &Ctx<'_>,
    input: shapes::GenerateDataKeyPairRequest,
) -> Result<shapes::GenerateDataKeyPairResponse, ServiceError> {
    if input.recipient.is_some() {
        return Err(no_enclave());
    }
    let context = pairs(input.encryption_context);
    let (key, private, blob, public, material) =
        data_key_pair(ctx, &input.key_id, &input.key_pair_spec, &context, input.dry_run)?;
    used(ctx, &key, "GenerateDataKeyPair");
    Ok(shapes::GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: Some(Blob(blob)),
        private_key_plaintext: Some(Blob(private.to_vec())),
        public_key: Some(Blob(public)),
        key_id: Some(key.arn()),
        key_pair_spec: Some(input.key_pair_spec),
        ciphertext_for_recipient: None,
        key_material_id: Some(material),
    })
}

pub fn generate_data_key_pair_without_plaintext(
    ctx: &Ctx<'_>,
    input: shapes::GenerateDataKeyPairWithoutPlaintextRequest,
) -> Result<shapes::GenerateDataKeyPairWithoutPlaintextResponse, ServiceError> {
    let context = pairs(input.encryption_context);
    let (key, _, blob, public, material) =
        data_key_pair(ctx, &input.key_id, &input.key_pair_spec, &context, input.dry_run)?;
    used(ctx, &key, "GenerateDataKeyPairWithoutPlaintext");
    Ok(shapes::GenerateDataKeyPairWithoutPlaintextResponse {
        private_key_ciphertext_blob: Some(Blob(blob)),
        public_key: Some(Blob(public)),
        key_id: Some(key.arn()),
        key_pair_spec: Some(input.key_pair_spec),
        key_material_id: Some(material),
    })
}
