//! Imported key material: keys of origin EXTERNAL get their material from their owner, wrapped
//! under an RSA wrapping key that GetParametersForImport hands out with an import token, and may
//! lose it again — deleted, or expired — until the same material is imported once more.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::Blob;
use rampart_shapes::generated::kms as shapes;
use rampart_store::Tx;
use time::{Duration, OffsetDateTime};

use super::crypto::{self, Spec, Wrapping};
use super::keys_api::{own_key, write_key};
use super::{KeyRecord, Material, crypto_error, find, invalid_state, unsupported, validation};

/// How long a wrapping key and its import token may be used.
const TOKEN_LIFETIME: Duration = Duration::hours(24);

/// The version byte of an import token's sealed contents.
const TOKEN_VERSION: u8 = 1;

/// The longest imported material may be given before it expires.
const MAX_VALID_FOR: Duration = Duration::days(365);

/// A key of origin EXTERNAL, not pending deletion.
fn external(key: &KeyRecord) -> Result<(), ServiceError> {
    if key.origin != "EXTERNAL" {
        return Err(unsupported(format!("{} origin is {}, not EXTERNAL.", key.arn(), key.origin)));
    }
    if key.state == "PendingDeletion" {
        return Err(invalid_state(format!("{} is pending deletion.", key.arn())));
    }
    Ok(())
}

/// What an import token's contents are sealed under: a token made for one key does not open for
/// another.
fn token_context(key: &KeyRecord) -> Vec<u8> {
    format!("rampart/kms/import-token/{}", key.arn()).into_bytes()
}

/// Returns an RSA wrapping public key and an import token for a key of origin EXTERNAL. The token
/// carries the wrapping private key, sealed under the master key for this key alone, with its
/// algorithm and expiry: nothing is stored, and a token cannot be used for another key.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html>.
pub fn get_parameters_for_import(
    ctx: &Ctx<'_>,
    input: shapes::GetParametersForImportRequest,
) -> Result<shapes::GetParametersForImportResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    external(&key)?;
    let wrapping = match input.wrapping_algorithm.as_str() {
        "RSAES_PKCS1_V1_5" => {
            return Err(validation("The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported."));
        }
        "SM2PKE" => return Err(unsupported("The SM2PKE wrapping algorithm is supported only in China Regions.")),
        other => Wrapping::parse(other)
            .ok_or_else(|| validation(format!("WrappingAlgorithm {other} is not a valid wrapping algorithm.")))?,
    };
    let bits = match input.wrapping_key_spec.as_str() {
        "RSA_2048" => 2048,
        "RSA_3072" => 3072,
        "RSA_4096" => 4096,
        "SM2" => return Err(unsupported("The SM2 wrapping key spec is supported only in China Regions.")),
        other => return Err(validation(format!("WrappingKeySpec {other} is not a valid wrapping key spec."))),
    };
    let spec = key.spec()?;
    if !wrapping.carries(spec) {
        return Err(validation(format!(
            "The {} wrapping algorithm cannot wrap {} key material; use an RSA_AES_KEY_WRAP algorithm.",
            wrapping.name(),
            key.spec
        )));
    }
    if bits == 2048
        && spec == Spec::Ecc(crypto::Curve::P521)
        && !matches!(wrapping, Wrapping::AesKwpSha1 | Wrapping::AesKwpSha256)
    {
        return Err(validation(format!(
            "The {} wrapping algorithm with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material.",
            wrapping.name()
        )));
    }
    let private = crypto::new_material(Spec::Rsa(bits)).map_err(crypto_error)?;
    let public = crypto::public_key(Spec::Rsa(bits), &private).map_err(crypto_error)?;
    let valid_to = ctx.now + TOKEN_LIFETIME;
    let mut contents = zeroize::Zeroizing::new(Vec::with_capacity(10 + private.len()));
    contents.push(TOKEN_VERSION);
    contents.push(Wrapping::ALL.iter().position(|w| *w == wrapping).and_then(|i| u8::try_from(i).ok()).unwrap_or(0));
    contents.extend_from_slice(&valid_to.unix_timestamp().to_be_bytes());
    contents.extend_from_slice(&private);
    let token = ctx.sealer.seal(&contents, &token_context(&key)).map_err(|_| ServiceError::internal())?;
    Ok(shapes::GetParametersForImportResponse {
        key_id: Some(key.arn()),
        import_token: Some(Blob(token)),
        public_key: Some(Blob(public)),
        parameters_valid_to: Some(valid_to),
    })
}

/// An import token opened for `key`: the wrapping algorithm and private key, if it is this key's
/// and has not expired.
fn open_token(
    ctx: &TxCtx<'_>,
    key: &KeyRecord,
    token: &[u8],
) -> Result<(Wrapping, zeroize::Zeroizing<Vec<u8>>), ServiceError> {
    let invalid =
        || ServiceError::new("InvalidImportTokenException", 400, "The import token is not valid for this KMS key.");
    let contents = ctx.sealer.open(token, &token_context(key)).map_err(|_| invalid())?;
    let [version, wrapping, rest @ ..] = contents.as_slice() else { return Err(invalid()) };
    let (expiry, private) = rest.split_at_checked(8).ok_or_else(invalid)?;
    let wrapping = Wrapping::ALL.get(usize::from(*wrapping)).copied().filter(|_| *version == TOKEN_VERSION);
    let (Some(wrapping), Ok(expiry)) = (wrapping, <[u8; 8]>::try_from(expiry)) else { return Err(invalid()) };
    if ctx.now.unix_timestamp() >= i64::from_be_bytes(expiry) {
        return Err(ServiceError::new(
            "ExpiredImportTokenException",
            400,
            "The import token has expired. Call GetParametersForImport for a new one.",
        ));
    }
    Ok((wrapping, zeroize::Zeroizing::new(private.to_vec())))
}

/// When imported material expires: `ValidTo` with KEY_MATERIAL_EXPIRES (the default), which must be
/// in the next 365 days; nothing with KEY_MATERIAL_DOES_NOT_EXPIRE.
fn expiry(
    input: &shapes::ImportKeyMaterialRequest,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ServiceError> {
    match (input.expiration_model.as_deref().unwrap_or("KEY_MATERIAL_EXPIRES"), input.valid_to) {
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => Ok(None),
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
            Err(validation("ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."))
        }
        (_, None) => Err(validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.")),
        (_, Some(t)) if t <= now => Err(validation("ValidTo must be in the future.")),
        (_, Some(t)) if t > now + MAX_VALID_FOR => {
            Err(validation("ValidTo must be no more than 365 days from the time of the request."))
        }
        (_, Some(t)) => Ok(Some(t)),
    }
}

fn incorrect(message: impl Into<String>) -> ServiceError {
    ServiceError::new("IncorrectKeyMaterialException", 400, message)
}

/// Imports material into a key of origin EXTERNAL: its first material, the same material again
/// (after deletion or expiry, or to change its expiry), or — for a symmetric key — new material
/// that waits for RotateKeyOnDemand. A key whose materials are all present becomes Enabled.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html>.
pub fn import_key_material(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ImportKeyMaterialRequest,
) -> Result<shapes::ImportKeyMaterialResponse, ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    external(&key)?;
    let spec = key.spec()?;
    let symmetric_only =
        |member: &str| validation(format!("{member} is only valid for symmetric encryption KMS keys."));
    if spec != Spec::Symmetric {
        if input.import_type.is_some() {
            return Err(symmetric_only("ImportType"));
        }
        if input.key_material_id.is_some() {
            return Err(symmetric_only("KeyMaterialId"));
        }
        if input.key_material_description.is_some() {
            return Err(symmetric_only("KeyMaterialDescription"));
        }
    }
    let valid_to = expiry(&input, ctx.now)?;
    let (wrapping, private) = open_token(ctx, &key, &input.import_token.0)?;
    let unwrapped =
        crypto::unwrap_material(&private, wrapping, &input.encrypted_key_material.0).map_err(crypto_error)?;
    let material = crypto::check_material(spec, &unwrapped).map_err(crypto_error)?;
    let id = data_encoding::HEXLOWER.encode(&crypto::imported_material_id(&key.id, &material));
    let import_type = match input.import_type.as_deref() {
        Some(t) => t,
        None if key.materials.is_empty() => "NEW_KEY_MATERIAL",
        None => "EXISTING_KEY_MATERIAL",
    };
    let sealed = key.seal_as(ctx.sealer, &id, &material)?;
    match import_type {
        "NEW_KEY_MATERIAL" => {
            if input.key_material_id.is_some() {
                return Err(validation("KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL."));
            }
            if key.materials.iter().any(|m| m.id == id) {
                return Err(incorrect(
                    "This key material was already imported into the KMS key; import it with ImportType EXISTING_KEY_MATERIAL.",
                ));
            }
            if !key.materials.is_empty() && spec != Spec::Symmetric {
                return Err(incorrect(format!(
                    "{} already has key material: only symmetric encryption keys take new key material.",
                    key.arn()
                )));
            }
            // New material of a multi-Region key enters through its primary; each replica then
            // imports the same material as EXISTING_KEY_MATERIAL.
            if !key.materials.is_empty() && super::multi_region::is_replica(&key) {
                return Err(unsupported(format!(
                    "{} is a replica key: import new key material into the primary key in {}, then import the same \
                     key material into this key with ImportType EXISTING_KEY_MATERIAL.",
                    key.arn(),
                    key.primary_region.as_deref().unwrap_or_default()
                )));
            }
            if key.materials.iter().any(|m| m.pending_rotation) {
                return Err(invalid_state(format!(
                    "{} already has key material pending rotation. Rotate the key or delete that key material first.",
                    key.arn()
                )));
            }
            let pending_rotation = !key.materials.is_empty();
            key.materials.push(Material {
                id: id.clone(),
                sealed,
                created: ctx.now,
                rotation: None,
                valid_to,
                pending_rotation,
                description: input.key_material_description,
            });
        }
        _ => {
            if input.key_material_id.as_ref().is_some_and(|asked| *asked != id) {
                return Err(incorrect("The key material does not match the KeyMaterialId."));
            }
            let Some(m) = key.materials.iter_mut().find(|m| m.id == id) else {
                return Err(incorrect(
                    "The key material does not match the key material previously imported into this KMS key.",
                ));
            };
            m.sealed = sealed;
            m.valid_to = valid_to;
            if input.key_material_description.is_some() {
                m.description = input.key_material_description;
            }
        }
    }
    if key.state == "PendingImport" && key.materials.iter().all(|m| m.present() || m.pending_rotation) {
        key.state = "Enabled".to_owned();
    }
    write_key(tx, &key)?;
    // The primary's new material reaches its replicas as versions waiting for import.
    if key.multi_region && !super::multi_region::is_replica(&key) {
        super::multi_region::sync_related(tx, ctx.sealer, &key)?;
    }
    Ok(shapes::ImportKeyMaterialResponse { key_id: Some(key.arn()), key_material_id: Some(id) })
}

/// Deletes imported material (the current one unless another is named): the key is unusable
/// (PendingImport) until the same material is imported again. Material waiting for a rotation is
/// dropped altogether.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteImportedKeyMaterial.html>.
pub fn delete_imported_key_material(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteImportedKeyMaterialRequest,
) -> Result<shapes::DeleteImportedKeyMaterialResponse, ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    if key.origin != "EXTERNAL" {
        return Err(unsupported(format!("{} origin is {}, not EXTERNAL.", key.arn(), key.origin)));
    }
    let id = match input.key_material_id {
        Some(id) => id,
        None => match key.current() {
            Ok(m) => m.id.clone(),
            Err(_) => return Err(invalid_state(format!("{} has no key material.", key.arn()))),
        },
    };
    let replica = super::multi_region::is_replica(&key);
    let Some(found) = key.materials.iter_mut().find(|m| m.id == id) else {
        return Err(ServiceError::new("NotFoundException", 400, format!("Key material {id} does not exist")));
    };
    if found.pending_rotation && replica {
        // A replica's copy waits to be imported again; the primary and other replicas keep theirs.
        forget(found);
    } else if found.pending_rotation {
        key.materials.retain(|m| m.id != id);
    } else {
        forget(found);
        wait_for_import(&mut key);
    }
    write_key(tx, &key)?;
    // Material a primary deletes while it waits for a rotation goes from its replicas too.
    if key.multi_region && !replica {
        super::multi_region::sync_related(tx, ctx.sealer, &key)?;
    }
    Ok(shapes::DeleteImportedKeyMaterialResponse { key_id: Some(key.arn()), key_material_id: Some(id) })
}

/// Destroys one version of imported material.
fn forget(m: &mut Material) {
    m.sealed.clear();
    m.valid_to = None;
}

/// A key missing some of its material waits for it to be imported again.
fn wait_for_import(key: &mut KeyRecord) {
    if key.state != "PendingDeletion" {
        key.state = "PendingImport".to_owned();
    }
}

/// Destroys the imported material whose expiry has passed (material waiting for a rotation is
/// dropped); true when any was.
pub(crate) fn expire(key: &mut KeyRecord, now: OffsetDateTime) -> bool {
    let due = |m: &Material| m.present() && m.valid_to.is_some_and(|t| t <= now);
    if !key.materials.iter().any(due) {
        return false;
    }
    key.materials.retain(|m| !(m.pending_rotation && due(m)));
    let mut lost = false;
    for m in key.materials.iter_mut().filter(|m| due(m)) {
        forget(m);
        lost = true;
    }
    if lost {
        wait_for_import(key);
    }
    true
}

/// Whether a key holds imported material with an expiry, for the sweeper.
pub(crate) fn expires(key: &KeyRecord, now: OffsetDateTime) -> bool {
    key.materials.iter().any(|m| m.present() && m.valid_to.is_some_and(|t| t <= now))
}

/// Makes a symmetric key's imported material that waits for a rotation its current material.
pub(crate) fn rotate_imported(key: &mut KeyRecord, now: OffsetDateTime) -> Result<(), ServiceError> {
    let Some(index) = key.materials.iter().position(|m| m.pending_rotation) else {
        return Err(invalid_state(format!(
            "{} has no key material pending rotation: import new key material first.",
            key.arn()
        )));
    };
    let mut m = key.materials.remove(index);
    m.pending_rotation = false;
    m.rotation = Some("ON_DEMAND".to_owned());
    m.created = now;
    key.materials.push(m);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(id: &str, valid_to: Option<OffsetDateTime>, pending_rotation: bool) -> Material {
        Material {
            id: id.into(),
            sealed: "c2VhbGVk".into(),
            created: OffsetDateTime::UNIX_EPOCH,
            rotation: None,
            valid_to,
            pending_rotation,
            description: None,
        }
    }

    fn key(materials: Vec<Material>, state: &str) -> KeyRecord {
        KeyRecord {
            v: 1,
            id: "k".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
            origin: "EXTERNAL".into(),
            description: String::new(),
            created: OffsetDateTime::UNIX_EPOCH,
            state: state.into(),
            deletion: None,
            pending_days: None,
            materials,
            policy: String::new(),
            tags: Vec::new(),
            rotation_days: None,
            next_rotation: None,
            multi_region: false,
            primary_region: None,
            replica_regions: Vec::new(),
            grants: Vec::new(),
            aws_managed: false,
            creating: None,
            effective: String::new(),
        }
    }

    #[test]
    fn expired_material_is_destroyed_and_the_key_waits_for_it() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(10);
        let mut k = key(
            vec![
                material("a", Some(now - Duration::seconds(1)), false),
                material("b", None, false),
                material("c", Some(now), true),
            ],
            "Enabled",
        );
        assert!(expires(&k, now));
        assert!(expire(&mut k, now));
        assert_eq!(k.state, "PendingImport");
        assert!(!k.materials[0].present() && k.materials[0].valid_to.is_none(), "the expired version is emptied");
        assert!(k.materials[1].present());
        assert_eq!(k.materials.len(), 2, "expired material waiting for a rotation is dropped");
        assert!(!expires(&k, now) && !expire(&mut k, now), "nothing more to do");

        // Material with time left, and a key pending deletion, stay as they are.
        let mut later = key(vec![material("a", Some(now + Duration::days(1)), false)], "Enabled");
        assert!(!expire(&mut later, now));
        let mut deleting = key(vec![material("a", Some(now), false)], "PendingDeletion");
        assert!(expire(&mut deleting, now));
        assert_eq!(deleting.state, "PendingDeletion");
    }
}
