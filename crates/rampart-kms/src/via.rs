//! KMS used by another service on a caller's behalf (S3's SSE-KMS): what the caller must be
//! allowed on the key (the action with `kms:ViaService` and the encryption context, under the
//! key's policy), and data keys made and opened under it, read through the store or inside the
//! service's transaction.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service>.

use std::sync::Arc;

use rampart_core::ServiceError;
use rampart_core::records::Reader;
use rampart_store::Sealer;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{
    Access, KeyRecord, KeyRef, crypto, crypto_error, key_here, key_keys, lookup, not_found, parse_key_ref, usable,
};

/// The key `key_id` names (id, ARN or alias) for a caller of `account` in `region`; `None` when
/// there is none.
pub fn key_for_service(
    get: &Reader<'_>,
    account: &str,
    region: &str,
    key_id: &str,
    now: OffsetDateTime,
) -> Result<Option<Arc<KeyRecord>>, ServiceError> {
    let r = parse_key_ref(key_id, account, region)?;
    let here = match &r {
        KeyRef::Key { region: r, .. } | KeyRef::Alias { region: r, .. } => r == region,
    };
    if !here {
        return Ok(None);
    }
    lookup(get, &r, now)
}

/// What a caller of `account` must be allowed for `service` (`s3.REGION.amazonaws.com`) to use
/// `key` with `action` (`GenerateDataKey`, `Decrypt`) under `context`.
pub fn access_via(key: &KeyRecord, account: &str, action: &str, service: &str, context: &[(String, String)]) -> Access {
    let mut keys = vec![
        ("kms:CallerAccount".to_owned(), vec![account.to_owned()]),
        ("kms:ViaService".to_owned(), vec![service.to_owned()]),
    ];
    for (k, v) in context {
        keys.push((format!("kms:EncryptionContext:{k}"), vec![v.clone()]));
    }
    if !context.is_empty() {
        keys.push(("kms:EncryptionContextKeys".to_owned(), context.iter().map(|(k, _)| k.clone()).collect()));
    }
    key_keys(key, &mut keys);
    Access { action: format!("kms:{action}"), resource: key.arn(), keys, key_policy: Some(key.effective.clone()) }
}

/// Whether `key`'s policy lets an AWS service itself (`cloudtrail.amazonaws.com`, a service
/// principal with no identity policies) make `action` (`kms:GenerateDataKey`) under the
/// encryption context `context`, with the request's other condition keys in `request`
/// (`aws:SourceArn`, `aws:SourceAccount`): the check a service's own KMS call meets.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-services.html>.
pub fn service_may(
    key: &KeyRecord,
    service: &str,
    action: &str,
    request: &[(&str, &str)],
    context: &[(String, String)],
) -> bool {
    let Ok(policy) = rampart_policy::Policy::parse(&key.effective, rampart_policy::PolicyKind::Resource) else {
        return false;
    };
    let mut keys = Vec::new();
    super::key_keys(key, &mut keys);
    super::context_keys(context, &mut keys);
    let mut ctx = rampart_policy::Context::new();
    for (k, v) in request {
        ctx.set(k, *v);
    }
    for (k, values) in keys {
        ctx.set_many(&k, values);
    }
    rampart_policy::service_allowed(&policy, "KeyPolicy", service, (action, &key.arn()), ctx)
}

/// A 256-bit data key made under a symmetric key on a service's behalf: its plaintext and its
/// ciphertext blob (bound to `context`).
pub fn generate_data_key_via(
    sealer: &Sealer,
    key: &KeyRecord,
    context: &[(String, String)],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), ServiceError> {
    usable(key, "ENCRYPT_DECRYPT")?;
    if key.spec != "SYMMETRIC_DEFAULT" {
        return Err(ServiceError::new(
            "InvalidKeyUsageException",
            400,
            format!("{} is not a symmetric key: data keys come from symmetric keys.", key.arn()),
        ));
    }
    let m = key.current()?;
    let id = data_encoding::HEXLOWER.decode(m.id.as_bytes()).map_err(|_| ServiceError::internal())?;
    let material = key.unseal(sealer, m)?;
    let plaintext = crypto::random_bytes(32).map_err(crypto_error)?;
    let blob = crypto::seal(&key.arn(), &id, &material, context, &plaintext).map_err(crypto_error)?;
    Ok((plaintext, blob))
}

/// Opens a data key blob made by [`generate_data_key_via`] (with any version of its key's
/// material); the key it is under must still be usable.
pub fn decrypt_via(
    get: &Reader<'_>,
    sealer: &Sealer,
    region: &str,
    blob: &[u8],
    context: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
    let invalid = || ServiceError::new("InvalidCiphertextException", 400, "");
    let (header, _) = crypto::blob_header(blob).ok_or_else(invalid)?;
    let arn = key_here(header.key_arn, region);
    let material_id = data_encoding::HEXLOWER.encode(header.material);
    let r = parse_key_ref(&arn, "", region)?;
    let key = lookup(get, &r, now)?.ok_or_else(|| not_found(format!("Key '{arn}' does not exist")))?;
    usable(&key, "ENCRYPT_DECRYPT")?;
    let m = key.materials.iter().find(|m| m.id == material_id).ok_or_else(invalid)?;
    let material = key.unseal(sealer, m)?;
    crypto::open(blob, &material, context).map_err(crypto_error)
}
