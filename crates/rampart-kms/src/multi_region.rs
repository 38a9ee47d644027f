//! Multi-Region keys: a primary key and replicas in other Regions sharing one key id, key
//! material, spec, usage, origin and automatic rotation — so that a ciphertext made in one Region
//! opens in another — while each keeps its own key policy, tags, aliases, grants and state.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html>.

use rampart_core::{ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::kms as shapes;
use rampart_store::{Sealer, Tx};
use time::{Duration, OffsetDateTime};

use super::keys_api::{check_policy, default_policy, metadata, own_key, put_tags, write_key};
use super::{KeyRecord, invalid_state, key_arn, unsupported, validation};

/// How long a new replica stays in the Creating state.
const REPLICA_CREATION: Duration = Duration::seconds(1);

/// A new multi-Region key's id: `mrk-` and 32 hex digits.
pub(crate) fn new_id() -> String {
    format!("mrk-{}", uuid::Uuid::new_v4().simple())
}

/// Whether a key is the replica of a multi-Region key (its primary is elsewhere).
pub(crate) fn is_replica(key: &KeyRecord) -> bool {
    key.primary_region.as_deref().is_some_and(|p| p != key.region)
}

/// The multi-Region configuration DescribeKey shows: the primary and every replica.
pub(crate) fn configuration(key: &KeyRecord) -> Option<shapes::MultiRegionConfiguration> {
    let primary = key.primary_region.as_ref()?;
    let entry = |region: &str| shapes::MultiRegionKey {
        arn: Some(key_arn(region, &key.account, &key.id)),
        region: Some(region.to_owned()),
    };
    Some(shapes::MultiRegionConfiguration {
        multi_region_key_type: Some(if is_replica(key) { "REPLICA" } else { "PRIMARY" }.to_owned()),
        primary_key: Some(entry(primary)),
        replica_keys: Some(key.replica_regions.iter().map(|r| entry(r)).collect()),
    })
}

/// Every related key of a multi-Region key set other than `key` itself, read for a change.
fn related(tx: &Tx<'_>, key: &KeyRecord) -> Result<Vec<KeyRecord>, ServiceError> {
    related_with(&records::tx_reader(tx), key)
}

/// Every related key of a multi-Region key set other than `key` itself.
pub(crate) fn related_with(get: &records::Reader<'_>, key: &KeyRecord) -> Result<Vec<KeyRecord>, ServiceError> {
    let mut regions: Vec<&String> = key.replica_regions.iter().chain(key.primary_region.iter()).collect();
    regions.sort();
    regions.dedup();
    let mut out = Vec::new();
    for region in regions.into_iter().filter(|r| **r != key.region) {
        if let Some(k) = records::read_with::<KeyRecord>(get, &keys::kms_key(&key.account, region, &key.id))? {
            out.push(k);
        }
    }
    Ok(out)
}

/// The Regions of a multi-Region key set whose key does not yet hold material version `id`:
/// imported material waiting there to be imported.
pub(crate) fn lacking(get: &records::Reader<'_>, key: &KeyRecord, id: &str) -> Result<Vec<String>, ServiceError> {
    Ok(related_with(get, key)?
        .into_iter()
        .filter(|k| !k.materials.iter().any(|m| m.id == id && m.present()))
        .map(|k| k.region)
        .collect())
}

/// Copies the shared properties of `source` — the set's Regions, material versions and automatic
/// rotation — to every related key. Material is sealed again for each key (a sealed version opens
/// only for the key it was sealed for); imported material is not copied, since each key of the set
/// has it imported on its own.
pub(crate) fn sync_related(tx: &mut Tx<'_>, sealer: &Sealer, source: &KeyRecord) -> Result<(), ServiceError> {
    for mut other in related(tx, source)? {
        other.primary_region.clone_from(&source.primary_region);
        other.replica_regions.clone_from(&source.replica_regions);
        other.rotation_days = source.rotation_days;
        other.next_rotation = source.next_rotation;
        copy_materials(source, &mut other, sealer)?;
        write_key(tx, &other)?;
    }
    Ok(())
}

/// Gives `to` the material versions of `from`, in `from`'s order and with its rotation state:
/// versions `to` lacks are sealed again for `to` when KMS made them, and added as versions
/// waiting for import when they were imported; versions `to` has keep their own material and
/// expiry. A version waiting for a rotation that `from` no longer has is dropped.
fn copy_materials(from: &KeyRecord, to: &mut KeyRecord, sealer: &Sealer) -> Result<(), ServiceError> {
    let mut theirs = std::mem::take(&mut to.materials);
    let mut rebuilt = Vec::with_capacity(from.materials.len());
    for m in &from.materials {
        let copy = match theirs.iter().position(|t| t.id == m.id) {
            Some(i) => {
                let mut own = theirs.remove(i);
                own.pending_rotation = m.pending_rotation;
                own.rotation.clone_from(&m.rotation);
                own.created = m.created;
                own
            }
            None => {
                let mut copy = m.clone();
                if from.origin == "EXTERNAL" {
                    copy.sealed.clear();
                    copy.valid_to = None;
                } else {
                    let material = from.unseal(sealer, m)?;
                    copy.sealed = to.seal_as(sealer, &m.id, &material)?;
                }
                copy
            }
        };
        rebuilt.push(copy);
    }
    rebuilt.extend(theirs.into_iter().filter(|t| !t.pending_rotation));
    to.materials = rebuilt;
    // Material that is in use but missing leaves the key waiting for it; material waiting for a
    // rotation does not.
    let missing = to.materials.iter().any(|m| !m.present() && !m.pending_rotation);
    if to.origin == "EXTERNAL" && missing && to.state == "Enabled" {
        to.state = "PendingImport".to_owned();
    }
    Ok(())
}

/// The primary key of a multi-Region key set, in the caller's Region and not pending deletion: what
/// ReplicateKey and UpdatePrimaryRegion act on.
fn primary_key(tx: &Tx<'_>, ctx: &TxCtx<'_>, key_id: &str) -> Result<KeyRecord, ServiceError> {
    let key = own_key(tx, ctx, key_id)?;
    if !key.multi_region {
        return Err(unsupported(format!("{} is not a multi-Region key.", key.arn())));
    }
    if is_replica(&key) {
        return Err(unsupported(format!(
            "{} is a replica key: the primary key of its multi-Region key set is in {}.",
            key.arn(),
            key.primary_region.as_deref().unwrap_or_default()
        )));
    }
    if matches!(key.state.as_str(), "PendingDeletion" | "PendingReplicaDeletion") {
        return Err(invalid_state(format!("{} is pending deletion.", key.arn())));
    }
    Ok(key)
}

/// A plausible Region name: `us-east-1`, `eu-central-2`, `us-gov-west-1`.
fn region_name(region: &str) -> bool {
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let parts: Vec<&str> = region.split('-').collect();
    match parts.as_slice() {
        [first, middle @ .., number] => {
            first.len() == 2
                && lower(first)
                && !middle.is_empty()
                && middle.iter().all(lower)
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Makes a replica of a multi-Region primary key in another Region: the same id, material and
/// shared properties, with its own key policy (the default unless given), description and tags.
/// A replica of a key with imported material waits for the same material to be imported.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html>.
pub fn replicate_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ReplicateKeyRequest,
) -> Result<shapes::ReplicateKeyResponse, ServiceError> {
    let mut primary = primary_key(tx, ctx, &input.key_id)?;
    let region = input.replica_region;
    if !region_name(&region) {
        return Err(validation(format!("{region} is not a valid Region.")));
    }
    let here = keys::kms_key(&primary.account, &region, &primary.id);
    if region == primary.region || primary.replica_regions.contains(&region) || tx.get(&here)?.is_some() {
        return Err(ServiceError::new(
            "AlreadyExistsException",
            400,
            format!("{} already has a replica key in {region}.", primary.arn()),
        ));
    }
    let mut replica = KeyRecord {
        region: region.clone(),
        description: input.description.unwrap_or_default(),
        created: ctx.now,
        state: "Creating".to_owned(),
        creating: Some(super::Creating {
            until: ctx.now + REPLICA_CREATION,
            then: if primary.origin == "EXTERNAL" { "PendingImport" } else { "Enabled" }.to_owned(),
        }),
        deletion: None,
        pending_days: None,
        materials: Vec::new(),
        policy: String::new(),
        tags: Vec::new(),
        grants: Vec::new(),
        effective: String::new(),
        ..primary.clone()
    };
    replica.policy = match input.policy {
        Some(p) => {
            check_policy(
                &p,
                ctx.principal,
                &replica.arn(),
                &replica.account,
                input.bypass_policy_lockout_safety_check == Some(true),
            )?;
            p
        }
        None => default_policy(&replica.account),
    };
    put_tags(&mut replica, input.tags.unwrap_or_default())?;
    copy_materials(&primary, &mut replica, ctx.sealer)?;
    primary.replica_regions.push(region);
    primary.replica_regions.sort();
    replica.replica_regions.clone_from(&primary.replica_regions);
    write_key(tx, &replica)?;
    write_key(tx, &primary)?;
    sync_related(tx, ctx.sealer, &primary)?;
    let tags = replica.tags.iter().map(|(k, v)| shapes::Tag { tag_key: k.clone(), tag_value: v.clone() }).collect();
    Ok(shapes::ReplicateKeyResponse {
        replica_key_metadata: Some(metadata(&replica)),
        replica_policy: Some(replica.policy.clone()),
        replica_tags: Some(tags),
    })
}

/// Makes the replica in `PrimaryRegion` the primary key of the set, and the current primary a
/// replica.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdatePrimaryRegion.html>.
pub fn update_primary_region(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdatePrimaryRegionRequest,
) -> Result<(), ServiceError> {
    let mut primary = primary_key(tx, ctx, &input.key_id)?;
    let to = input.primary_region;
    if !primary.replica_regions.contains(&to) {
        return Err(ServiceError::new(
            "NotFoundException",
            400,
            format!("Key '{}' does not exist", key_arn(&to, &primary.account, &primary.id)),
        ));
    }
    let mut replicas: Vec<String> = primary.replica_regions.iter().filter(|r| **r != to).cloned().collect();
    replicas.push(primary.region.clone());
    replicas.sort();
    primary.primary_region = Some(to);
    primary.replica_regions = replicas;
    write_key(tx, &primary)?;
    sync_related(tx, ctx.sealer, &primary)
}

/// What deleting a key of a multi-Region set does to the others: the deleted Region leaves the
/// set, and a primary waiting for its replicas to go (PendingReplicaDeletion) starts its own
/// waiting period once the last has.
pub(crate) fn leave_set(tx: &mut Tx<'_>, gone: &KeyRecord, now: OffsetDateTime) -> Result<(), ServiceError> {
    for mut other in related(tx, gone)? {
        other.replica_regions.retain(|r| *r != gone.region);
        if other.state == "PendingReplicaDeletion" && other.replica_regions.is_empty() {
            other.state = "PendingDeletion".to_owned();
            other.deletion = Some(now + Duration::days(i64::from(other.pending_days.unwrap_or(30))));
        }
        write_key(tx, &other)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_checked() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(region_name(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us--1", "useast1", "us-east-x", "u-east-1"] {
            assert!(!region_name(bad), "{bad}");
        }
    }

    #[test]
    fn multi_region_ids_are_marked() {
        let id = new_id();
        assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
        assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
