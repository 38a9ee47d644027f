//! Keys themselves: creation with fresh material, description and listing, enabling, scheduled
//! deletion, key policies (with the policy lockout safety check), tags and rotation.

use rampart_core::{Ctx, Principal, ServiceError, TxCtx, keys, records};
use rampart_policy::{Input, Named, Policy, PolicyKind, decide};
use rampart_shapes::generated::kms as shapes;
use rampart_shapes::{FromValue, IntoValue, ShapeError, Value};
use rampart_store::{Sealer, Tx};
use time::{Duration, OffsetDateTime};

use super::crypto::{self, Spec};
use super::{KeyRecord, crypto_error, find, invalid_state, validation};

/// The name of a key's only policy.
const POLICY_NAME: &str = "default";

/// The most tags one key may have.
const MAX_TAGS: usize = 50;

/// The default key policy: it lets the account's IAM policies govern the key.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html>.
pub fn default_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \
         \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \
         \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

pub(crate) fn write_key(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::kms_key(&key.account, &key.region, &key.id), key)
}

/// A key's metadata, as DescribeKey and CreateKey answer it.
pub fn metadata(key: &KeyRecord) -> shapes::KeyMetadata {
    let algorithms = super::Algorithms::of(key);
    // Imported material's expiry is the current material's.
    let current = key.current().ok().filter(|m| m.present());
    let expiration_model = (key.origin == "EXTERNAL" && current.is_some()).then(|| {
        if current.is_some_and(|m| m.valid_to.is_some()) {
            "KEY_MATERIAL_EXPIRES"
        } else {
            "KEY_MATERIAL_DOES_NOT_EXPIRE"
        }
        .to_owned()
    });
    shapes::KeyMetadata {
        aws_account_id: Some(key.account.clone()),
        key_id: key.id.clone(),
        arn: Some(key.arn()),
        creation_date: Some(key.created),
        enabled: Some(key.state == "Enabled"),
        description: Some(key.description.clone()),
        key_usage: Some(key.usage.clone()),
        key_state: Some(key.state.clone()),
        deletion_date: key.deletion,
        valid_to: current.and_then(|m| m.valid_to),
        origin: Some(key.origin.clone()),
        custom_key_store_id: None,
        cloud_hsm_cluster_id: None,
        expiration_model,
        key_manager: Some(if key.aws_managed { "AWS" } else { "CUSTOMER" }.to_owned()),
        customer_master_key_spec: Some(key.spec.clone()),
        key_spec: Some(key.spec.clone()),
        encryption_algorithms: algorithms.encryption,
        signing_algorithms: algorithms.signing,
        key_agreement_algorithms: algorithms.agreement,
        multi_region: Some(key.multi_region),
        multi_region_configuration: super::multi_region::configuration(key),
        pending_deletion_window_in_days: key.pending_days,
        mac_algorithms: algorithms.mac,
        xks_key_configuration: None,
        current_key_material_id: (key.spec == "SYMMETRIC_DEFAULT")
            .then(|| key.current().ok().map(|m| m.id.clone()))
            .flatten(),
    }
}

fn malformed_policy(message: impl Into<String>) -> ServiceError {
    ServiceError::new("MalformedPolicyDocumentException", 400, message)
}

/// The engine's view of the caller, for the lockout check.
fn policy_principal(p: &Principal) -> rampart_policy::Principal {
    let path_of = |arn: &str| {
        let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
        let inner = resource.split_once('/').map(|(_, r)| r).unwrap_or_default();
        inner.rfind('/').map_or("/".to_owned(), |i| format!("/{}/", &inner[..i]).replace("//", "/"))
    };
    match (&p.session, &p.user_name) {
        (Some(s), _) => {
            rampart_policy::Principal::role_session(&p.account_id, &s.role_path, &s.role_name, &s.session_name)
        }
        (None, Some(name)) => rampart_policy::Principal::user(&p.account_id, &path_of(&p.arn), name),
        _ => rampart_policy::Principal::root(&p.account_id),
    }
}

/// Checks a key policy: the grammar of a resource-based policy, and, unless bypassed, that it still
/// lets the caller change the policy later (AWS's policy lockout safety check).
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-bypass-policy-lockout-safety-check>.
pub(crate) fn check_policy(
    text: &str,
    caller: &Principal,
    key_arn: &str,
    account: &str,
    bypass: bool,
) -> Result<(), ServiceError> {
    let policy = Policy::parse(text, PolicyKind::Resource).map_err(|e| malformed_policy(e.message))?;
    if bypass {
        return Ok(());
    }
    let allow_all = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .map_err(|_| ServiceError::internal())?;
    let identity = [Named { name: "caller", policy: &allow_all }];
    let mut context = rampart_policy::Context::new();
    context.set("aws:PrincipalArn", caller.arn.clone()).set("aws:PrincipalAccount", caller.account_id.clone());
    let principal = policy_principal(caller);
    let d = decide(&Input {
        action: "kms:PutKeyPolicy",
        resource: key_arn,
        principal: &principal,
        context: &context,
        identity: &identity,
        boundary: None,
        session: None,
        scps: &[],
        rcps: &[],
        resource_policy: Some(Named { name: "KeyPolicy", policy: &policy }),
        resource_account: Some(account),
        resource_policy_required: true,
    });
    if !d.is_allowed() {
        return Err(malformed_policy("The new key policy will not allow you to update the key policy in the future."));
    }
    Ok(())
}

fn check_tags(tags: &[shapes::Tag]) -> Result<(), ServiceError> {
    for t in tags {
        if t.tag_key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ServiceError::new("TagException", 400, "Tags beginning with aws: are reserved."));
        }
    }
    Ok(())
}

pub(crate) fn put_tags(key: &mut KeyRecord, tags: Vec<shapes::Tag>) -> Result<(), ServiceError> {
    check_tags(&tags)?;
    for t in tags {
        key.tags.retain(|(k, _)| *k != t.tag_key);
        key.tags.push((t.tag_key, t.tag_value));
    }
    if key.tags.len() > MAX_TAGS {
        return Err(ServiceError::new("TagException", 400, "Too many tags: a key has at most 50."));
    }
    Ok(())
}

/// A key made ready before its transaction: its id and its first material, sealed. Generating an
/// RSA-4096 pair takes about a second, which must not hold the store's writer (and every other
/// write) up.
pub struct PreparedKey {
    request: shapes::CreateKeyRequest,
    id: String,
    /// The first material, sealed; none for a key of origin EXTERNAL.
    material: Option<super::Material>,
}

impl IntoValue for PreparedKey {
    fn into_value(self) -> Value {
        let material = self.material.and_then(|m| serde_json::to_string(&m).ok()).map(Value::String);
        Value::Struct(vec![Some(self.request.into_value()), Some(Value::String(self.id)), material])
    }
}

impl FromValue for PreparedKey {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        let mut f = v.into_struct(3)?.into_iter();
        let request = rampart_shapes::required(f.next())?;
        let id = rampart_shapes::required(f.next())?;
        let material: Option<String> = rampart_shapes::optional(f.next())?;
        let material = material
            .map(|m| serde_json::from_str(&m).map_err(|_| ShapeError { expected: "sealed key material" }))
            .transpose()?;
        Ok(Self { request, id, material })
    }
}

/// Checks a CreateKey request, then makes the key's id and first material outside the store's
/// transaction.
pub fn prepare_create_key(ctx: &Ctx<'_>, input: shapes::CreateKeyRequest) -> Result<PreparedKey, ServiceError> {
    let id =
        if input.multi_region == Some(true) { super::multi_region::new_id() } else { uuid::Uuid::new_v4().to_string() };
    let key = new_key(ctx.principal, ctx.region, ctx.now, input.clone(), &id)?;
    let material = if key.origin == "AWS_KMS" {
        let fresh = crypto::new_material(key.spec()?).map_err(crypto_error)?;
        Some(key.seal(ctx.sealer, &fresh, ctx.now, None)?)
    } else {
        None
    };
    Ok(PreparedKey { request: input, id, material })
}

/// Creates a key with fresh material from the CSPRNG (or a new key pair), made by
/// [`prepare_create_key`] and sealed under the master key. Keys of origin EXTERNAL wait for
/// imported material; custom key stores are not served.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html>.
pub fn create_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    prepared: PreparedKey,
) -> Result<shapes::CreateKeyResponse, ServiceError> {
    let mut key = new_key(ctx.principal, ctx.region, ctx.now, prepared.request, &prepared.id)?;
    key.materials.extend(prepared.material);
    write_key(tx, &key)?;
    Ok(shapes::CreateKeyResponse { key_metadata: Some(metadata(&key)) })
}

/// The key a CreateKey request describes, checked, without material.
pub(crate) fn new_key(
    principal: &Principal,
    region: &str,
    now: OffsetDateTime,
    input: shapes::CreateKeyRequest,
    id: &str,
) -> Result<KeyRecord, ServiceError> {
    let account = &principal.account_id;
    let spec_name = input.key_spec.or(input.customer_master_key_spec).unwrap_or_else(|| "SYMMETRIC_DEFAULT".to_owned());
    let spec = Spec::parse(&spec_name).ok_or_else(|| {
        ServiceError::new(
            "UnsupportedOperationException",
            400,
            format!("KeySpec {spec_name} is not supported in this Region."),
        )
    })?;
    let usage = match input.key_usage {
        Some(u) if spec.usages().contains(&u.as_str()) => u,
        Some(u) => {
            return Err(validation(format!("KeyUsage {u} is not compatible with KeySpec {spec_name}.")));
        }
        None => spec.usages().first().map(|u| (*u).to_owned()).unwrap_or_default(),
    };
    let origin = input.origin.unwrap_or_else(|| "AWS_KMS".to_owned());
    if input.custom_key_store_id.is_some() || matches!(origin.as_str(), "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") {
        return Err(ServiceError::new(
            "CustomKeyStoreNotFoundException",
            400,
            "The specified custom key store does not exist.",
        ));
    }
    let multi_region = input.multi_region.unwrap_or(false);
    let mut key = KeyRecord {
        v: 1,
        id: id.to_owned(),
        account: account.clone(),
        region: region.to_owned(),
        spec: spec_name,
        usage,
        origin: origin.clone(),
        description: input.description.unwrap_or_default(),
        created: now,
        state: if origin == "EXTERNAL" { "PendingImport" } else { "Enabled" }.to_owned(),
        deletion: None,
        pending_days: None,
        materials: Vec::new(),
        policy: String::new(),
        tags: Vec::new(),
        rotation_days: None,
        next_rotation: None,
        multi_region,
        primary_region: multi_region.then(|| region.to_owned()),
        replica_regions: Vec::new(),
        grants: Vec::new(),
        aws_managed: false,
        creating: None,
        effective: String::new(),
    };
    key.policy = match input.policy {
        Some(p) => {
            check_policy(&p, principal, &key.arn(), account, input.bypass_policy_lockout_safety_check == Some(true))?;
            p
        }
        None => default_policy(account),
    };
    put_tags(&mut key, input.tags.unwrap_or_default())?;
    Ok(key)
}

pub fn describe_key(
    ctx: &Ctx<'_>,
    input: shapes::DescribeKeyRequest,
) -> Result<shapes::DescribeKeyResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, true, ctx.now)?;
    Ok(shapes::DescribeKeyResponse { key_metadata: Some(metadata(&key)) })
}

/// A page of items from a `Marker` (an offset) and `Limit` (1–1000, default 100): the items, the
/// next marker and whether the list is truncated.
pub(crate) fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    limit: Option<i32>,
) -> Result<(Vec<T>, Option<String>, bool), ServiceError> {
    let start: usize = match marker {
        Some(m) => m.parse().map_err(|_| ServiceError::new("InvalidMarkerException", 400, "Invalid marker"))?,
        None => 0,
    };
    let limit = usize::try_from(limit.unwrap_or(100)).unwrap_or(100).clamp(1, 1000);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let end = start + page.len();
    let more = end < total;
    Ok((page, more.then(|| end.to_string()), more))
}

pub fn list_keys(ctx: &Ctx<'_>, input: shapes::ListKeysRequest) -> Result<shapes::ListKeysResponse, ServiceError> {
    let all: Vec<KeyRecord> = records::scan_records(ctx.db, &keys::kms_keys(&ctx.principal.account_id, ctx.region))?;
    let entries = all
        .into_iter()
        .filter(|k| k.deletion.is_none_or(|d| d > ctx.now))
        .map(|k| shapes::KeyListEntry { key_arn: Some(k.arn()), key_id: Some(k.id) })
        .collect();
    let (keys, next_marker, truncated) = page(entries, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListKeysResponse { keys: Some(keys), next_marker, truncated: Some(truncated) })
}

/// A key of the caller's account, read inside the transaction for a change.
/// A replica still being created takes no change until it is ready.
pub(crate) fn own_key(tx: &Tx<'_>, ctx: &TxCtx<'_>, key_id: &str) -> Result<KeyRecord, ServiceError> {
    let key = find(&records::tx_reader(tx), ctx.principal, ctx.region, key_id, false, ctx.now)
        .map(std::sync::Arc::unwrap_or_clone)?;
    if key.state == "Creating" {
        return Err(invalid_state(format!("{} is being created.", key.arn())));
    }
    Ok(key)
}

fn not_pending(key: &KeyRecord) -> Result<(), ServiceError> {
    if matches!(key.state.as_str(), "PendingDeletion" | "PendingReplicaDeletion") {
        return Err(invalid_state(format!("{} is pending deletion.", key.arn())));
    }
    Ok(())
}

pub fn update_key_description(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateKeyDescriptionRequest,
) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    key.description = input.description;
    write_key(tx, &key)
}

pub fn enable_key(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::EnableKeyRequest) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    key.state = "Enabled".to_owned();
    write_key(tx, &key)
}

pub fn disable_key(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DisableKeyRequest) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    key.state = "Disabled".to_owned();
    write_key(tx, &key)
}

/// Schedules a key's deletion after a waiting period of 7 to 30 days (30 unless asked), during
/// which it is unusable and the deletion can be cancelled; then the sweeper destroys it.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html>.
pub fn schedule_key_deletion(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ScheduleKeyDeletionRequest,
) -> Result<shapes::ScheduleKeyDeletionResponse, ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    let days = input.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: \
             Member must have value between 7 and 30"
        )));
    }
    // A primary key with replicas waits for them to be deleted before its own waiting period starts.
    if key.replica_regions.is_empty() || super::multi_region::is_replica(&key) {
        key.state = "PendingDeletion".to_owned();
        key.deletion = Some(ctx.now + Duration::days(i64::from(days)));
    } else {
        key.state = "PendingReplicaDeletion".to_owned();
    }
    key.pending_days = Some(days);
    write_key(tx, &key)?;
    Ok(shapes::ScheduleKeyDeletionResponse {
        key_id: Some(key.arn()),
        deletion_date: key.deletion,
        key_state: Some(key.state.clone()),
        pending_window_in_days: Some(days),
    })
}

/// Cancels a scheduled deletion: the key comes back Disabled, as in AWS.
pub fn cancel_key_deletion(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CancelKeyDeletionRequest,
) -> Result<shapes::CancelKeyDeletionResponse, ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    if !matches!(key.state.as_str(), "PendingDeletion" | "PendingReplicaDeletion") {
        return Err(invalid_state(format!("{} is not pending deletion.", key.arn())));
    }
    key.state = "Disabled".to_owned();
    key.deletion = None;
    key.pending_days = None;
    write_key(tx, &key)?;
    Ok(shapes::CancelKeyDeletionResponse { key_id: Some(key.arn()) })
}

fn policy_name(name: Option<&str>) -> Result<(), ServiceError> {
    match name {
        None | Some(POLICY_NAME) => Ok(()),
        Some(other) => Err(ServiceError::new("NotFoundException", 400, format!("Policy {other} does not exist"))),
    }
}

pub fn get_key_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetKeyPolicyRequest,
) -> Result<shapes::GetKeyPolicyResponse, ServiceError> {
    policy_name(input.policy_name.as_deref())?;
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    Ok(shapes::GetKeyPolicyResponse { policy: Some(key.policy.clone()), policy_name: Some(POLICY_NAME.to_owned()) })
}

pub fn put_key_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutKeyPolicyRequest,
) -> Result<(), ServiceError> {
    policy_name(input.policy_name.as_deref())?;
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    check_policy(
        &input.policy,
        ctx.principal,
        &key.arn(),
        &key.account,
        input.bypass_policy_lockout_safety_check == Some(true),
    )?;
    key.policy = input.policy;
    write_key(tx, &key)
}

pub fn list_key_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListKeyPoliciesRequest,
) -> Result<shapes::ListKeyPoliciesResponse, ServiceError> {
    find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    Ok(shapes::ListKeyPoliciesResponse {
        policy_names: Some(vec![POLICY_NAME.to_owned()]),
        next_marker: None,
        truncated: Some(false),
    })
}

pub fn tag_resource(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::TagResourceRequest) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    put_tags(&mut key, input.tags)?;
    write_key(tx, &key)
}

pub fn untag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagResourceRequest,
) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    not_pending(&key)?;
    key.tags.retain(|(k, _)| !input.tag_keys.contains(k));
    write_key(tx, &key)
}

pub fn list_resource_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListResourceTagsRequest,
) -> Result<shapes::ListResourceTagsResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    let tags = key.tags.iter().map(|(k, v)| shapes::Tag { tag_key: k.clone(), tag_value: v.clone() }).collect();
    let (tags, next_marker, truncated) = page(tags, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListResourceTagsResponse { tags: Some(tags), next_marker, truncated: Some(truncated) })
}

/// Only symmetric keys rotate: automatically when KMS made their material, on demand also when
/// their material is imported.
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html>.
fn rotatable(key: &KeyRecord, on_demand: bool) -> Result<(), ServiceError> {
    not_pending(key)?;
    if key.state == "Disabled" {
        return Err(ServiceError::new("DisabledException", 400, format!("{} is disabled.", key.arn())));
    }
    if key.state == "PendingImport" {
        return Err(invalid_state(format!("{} is pending import.", key.arn())));
    }
    if super::multi_region::is_replica(key) {
        return Err(ServiceError::new(
            "UnsupportedOperationException",
            400,
            format!("{} is a replica key: its rotation is managed by its primary key.", key.arn()),
        ));
    }
    let origin_rotates = key.origin == "AWS_KMS" || (on_demand && key.origin == "EXTERNAL");
    if key.spec != "SYMMETRIC_DEFAULT" || !origin_rotates {
        return Err(ServiceError::new(
            "UnsupportedOperationException",
            400,
            format!(
                "{} does not support {}key rotation: only symmetric keys with KMS key material rotate automatically, \
                 and symmetric keys with imported key material on demand.",
                key.arn(),
                if on_demand { "on-demand " } else { "automatic " }
            ),
        ));
    }
    Ok(())
}

/// Adds a new version of a key's material; the old ones stay, so old ciphertexts still decrypt.
pub(crate) fn rotate(
    key: &mut KeyRecord,
    sealer: &Sealer,
    now: OffsetDateTime,
    kind: &str,
) -> Result<(), ServiceError> {
    let material = crypto::new_material(key.spec()?).map_err(crypto_error)?;
    let version = key.seal(sealer, &material, now, Some(kind))?;
    key.materials.push(version);
    if kind == "AUTOMATIC"
        && let Some(days) = key.rotation_days
    {
        key.next_rotation = Some(now + Duration::days(i64::from(days)));
    }
    Ok(())
}

pub fn enable_key_rotation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnableKeyRotationRequest,
) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    rotatable(&key, false)?;
    let days = input.rotation_period_in_days.unwrap_or(365);
    if !(90..=2560).contains(&days) {
        return Err(validation(format!(
            "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: \
             Member must have value between 90 and 2560"
        )));
    }
    key.rotation_days = Some(days);
    key.next_rotation = Some(ctx.now + Duration::days(i64::from(days)));
    write_key(tx, &key)?;
    super::multi_region::sync_related(tx, ctx.sealer, &key)
}

pub fn disable_key_rotation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisableKeyRotationRequest,
) -> Result<(), ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    rotatable(&key, false)?;
    key.rotation_days = None;
    key.next_rotation = None;
    write_key(tx, &key)?;
    super::multi_region::sync_related(tx, ctx.sealer, &key)
}

pub fn get_key_rotation_status(
    ctx: &Ctx<'_>,
    input: shapes::GetKeyRotationStatusRequest,
) -> Result<shapes::GetKeyRotationStatusResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, true, ctx.now)?;
    not_pending(&key)?;
    Ok(shapes::GetKeyRotationStatusResponse {
        key_rotation_enabled: Some(key.rotation_days.is_some()),
        key_id: Some(key.arn()),
        rotation_period_in_days: key.rotation_days,
        next_rotation_date: key.next_rotation,
        on_demand_rotation_start_date: None,
    })
}

/// The most on-demand rotations of one key.
const MAX_ON_DEMAND: usize = 25;

pub fn rotate_key_on_demand(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RotateKeyOnDemandRequest,
) -> Result<shapes::RotateKeyOnDemandResponse, ServiceError> {
    let mut key = own_key(tx, ctx, &input.key_id)?;
    rotatable(&key, true)?;
    if key.materials.iter().filter(|m| m.rotation.as_deref() == Some("ON_DEMAND")).count() >= MAX_ON_DEMAND {
        return Err(ServiceError::new(
            "LimitExceededException",
            400,
            "The key has been rotated on demand the most times it may be.",
        ));
    }
    if key.origin == "EXTERNAL" {
        // A multi-Region key rotates to new imported material once every replica holds it.
        if let Some(pending) = key.materials.iter().find(|m| m.pending_rotation) {
            let lacking = super::multi_region::lacking(&records::tx_reader(tx), &key, &pending.id)?;
            if !lacking.is_empty() {
                return Err(invalid_state(format!(
                    "{} cannot rotate yet: key material {} is not imported into its replica keys in {}.",
                    key.arn(),
                    pending.id,
                    lacking.join(", ")
                )));
            }
        }
        super::import::rotate_imported(&mut key, ctx.now)?;
    } else {
        rotate(&mut key, ctx.sealer, ctx.now, "ON_DEMAND")?;
    }
    write_key(tx, &key)?;
    super::multi_region::sync_related(tx, ctx.sealer, &key)?;
    Ok(shapes::RotateKeyOnDemandResponse { key_id: Some(key.id) })
}

pub fn list_key_rotations(
    ctx: &Ctx<'_>,
    input: shapes::ListKeyRotationsRequest,
) -> Result<shapes::ListKeyRotationsResponse, ServiceError> {
    let key = find(&records::cached_reader(ctx.db), ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    // A replica lists the material versions it shares with its primary (and imports on its own).
    let replica = super::multi_region::is_replica(&key) && key.spec == "SYMMETRIC_DEFAULT";
    rotatable(&key, true).or_else(|e| {
        let listable = matches!(&*e.code, "DisabledException" | "KMSInvalidStateException")
            || (replica && e.code == "UnsupportedOperationException");
        if listable && key.state != "PendingDeletion" { Ok(()) } else { Err(e) }
    })?;
    let all = match input.include_key_material.as_deref() {
        None | Some("ROTATIONS_ONLY") => false,
        Some("ALL_KEY_MATERIAL") => true,
        Some(other) => return Err(validation(format!("IncludeKeyMaterial {other} is not valid."))),
    };
    let arn = key.arn();
    let current = key.current().ok().map(|m| m.id.clone());
    let imported = key.origin == "EXTERNAL";
    // New imported material of a multi-Region key waits for every key of the set to hold it.
    let get = records::cached_reader(ctx.db);
    let mut set_lacks = Vec::new();
    for m in key.materials.iter().filter(|m| m.pending_rotation && key.multi_region) {
        if !m.present() || !super::multi_region::lacking(&get, &key, &m.id)?.is_empty() {
            set_lacks.push(m.id.clone());
        }
    }
    let rotations = key
        .materials
        .iter()
        .filter(|m| all || m.rotation.is_some())
        .map(|m| shapes::RotationsListEntry {
            key_id: Some(arn.clone()),
            key_material_id: Some(m.id.clone()),
            key_material_description: m.description.clone().filter(|_| imported),
            import_state: imported.then(|| if m.present() { "IMPORTED" } else { "PENDING_IMPORT" }.to_owned()),
            key_material_state: Some(
                if set_lacks.contains(&m.id) {
                    "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
                } else if m.pending_rotation {
                    "PENDING_ROTATION"
                } else if current.as_deref() == Some(m.id.as_str()) {
                    "CURRENT"
                } else {
                    "NON_CURRENT"
                }
                .to_owned(),
            ),
            expiration_model: (imported && m.present()).then(|| {
                if m.valid_to.is_some() { "KEY_MATERIAL_EXPIRES" } else { "KEY_MATERIAL_DOES_NOT_EXPIRE" }.to_owned()
            }),
            valid_to: m.valid_to,
            rotation_date: m.rotation.is_some().then_some(m.created),
            rotation_type: m.rotation.clone(),
        })
        .collect();
    let (rotations, next_marker, truncated) = page(rotations, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListKeyRotationsResponse { rotations: Some(rotations), next_marker, truncated: Some(truncated) })
}
