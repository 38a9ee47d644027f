//! Instance profiles: containers that pass one role to compute instances.

use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::roles::{no_such_role, read_role};
use super::{merge_tags, tag_shapes};
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx};

/// Roles one instance profile may hold.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const ROLES_PER_INSTANCE_PROFILE: usize = 1;

fn key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/instance-profile/{}", name.to_ascii_lowercase()).into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/instance-profile/").into_bytes()
}

/// Where the account's records of this kind live (for counting them).
pub(super) fn profile_prefix(account: &str) -> Vec<u8> {
    prefix(account)
}

/// An instance profile, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceProfileRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Role names.
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

super::listed!(InstanceProfileRecord);

impl InstanceProfileRecord {
    fn to_shape(&self, ctx: &Ctx<'_>) -> Result<shapes::InstanceProfile, ServiceError> {
        let mut roles = Vec::new();
        for r in &self.roles {
            if let Some(role) = read_role(ctx.db, &self.account_id, r)? {
                roles.push(role.to_shape());
            }
        }
        Ok(shapes::InstanceProfile {
            path: self.path.clone(),
            instance_profile_name: self.name.clone(),
            instance_profile_id: self.id.clone(),
            arn: format!("arn:aws:iam::{}:instance-profile{}{}", self.account_id, self.path, self.name),
            create_date: self.created,
            roles,
            tags: (!self.tags.is_empty()).then(|| tag_shapes(&self.tags)),
        })
    }
}

fn no_such_profile(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("Instance Profile {name} cannot be found."))
}

pub fn read_instance_profile(
    db: &rampart_store::Db,
    account: &str,
    name: &str,
) -> Result<Option<InstanceProfileRecord>, ServiceError> {
    read_cached(db, &key(account, name))
}

fn read_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<InstanceProfileRecord, ServiceError> {
    records::read_tx(tx, &key(account, name))?.ok_or_else(|| no_such_profile(name))
}

fn write(tx: &mut Tx<'_>, p: &InstanceProfileRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(&p.account_id, &p.name), p)
}

pub fn create_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateInstanceProfileRequest,
) -> Result<shapes::CreateInstanceProfileResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    if tx.get(&key(account, &input.instance_profile_name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("Instance Profile {} already exists.", input.instance_profile_name),
        ));
    }
    let mut p = InstanceProfileRecord {
        v: 1,
        account_id: account.clone(),
        name: input.instance_profile_name,
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id: account::new_unique_id("AIPA")?,
        created: ctx.now,
        roles: Vec::new(),
        tags: Vec::new(),
    };
    merge_tags(&mut p.tags, input.tags.unwrap_or_default())?;
    write(tx, &p)?;
    Ok(shapes::CreateInstanceProfileResponse {
        instance_profile: shapes::InstanceProfile {
            path: p.path.clone(),
            instance_profile_name: p.name.clone(),
            instance_profile_id: p.id.clone(),
            arn: format!("arn:aws:iam::{account}:instance-profile{}{}", p.path, p.name),
            create_date: p.created,
            roles: Vec::new(),
            tags: (!p.tags.is_empty()).then(|| tag_shapes(&p.tags)),
        },
    })
}

pub fn get_instance_profile(
    ctx: &Ctx<'_>,
    input: shapes::GetInstanceProfileRequest,
) -> Result<shapes::GetInstanceProfileResponse, ServiceError> {
    let p: InstanceProfileRecord = read_cached(ctx.db, &key(&ctx.principal.account_id, &input.instance_profile_name))?
        .ok_or_else(|| no_such_profile(&input.instance_profile_name))?;
    Ok(shapes::GetInstanceProfileResponse { instance_profile: p.to_shape(ctx)? })
}

pub fn tag_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagInstanceProfileRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, &ctx.principal.account_id, &input.instance_profile_name)?;
    merge_tags(&mut p.tags, input.tags)?;
    write(tx, &p)
}

pub fn untag_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagInstanceProfileRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, &ctx.principal.account_id, &input.instance_profile_name)?;
    super::remove_tags(&mut p.tags, &input.tag_keys);
    write(tx, &p)
}

pub fn list_instance_profile_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListInstanceProfileTagsRequest,
) -> Result<shapes::ListInstanceProfileTagsResponse, ServiceError> {
    let p = read_instance_profile(ctx.db, &ctx.principal.account_id, &input.instance_profile_name)?
        .ok_or_else(|| no_such_profile(&input.instance_profile_name))?;
    let (tags, truncated, marker) = super::page_items(tag_shapes(&p.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListInstanceProfileTagsResponse { tags, is_truncated: Some(truncated), marker })
}

fn all(ctx: &Ctx<'_>) -> Result<Vec<InstanceProfileRecord>, ServiceError> {
    records::scan_records(ctx.db, &prefix(&ctx.principal.account_id))
}

pub fn list_instance_profiles(
    ctx: &Ctx<'_>,
    input: shapes::ListInstanceProfilesRequest,
) -> Result<shapes::ListInstanceProfilesResponse, ServiceError> {
    let (profiles, truncated, marker) =
        super::page_records(all(ctx)?, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items);
    let instance_profiles = profiles.iter().map(|p| p.to_shape(ctx)).collect::<Result<_, _>>()?;
    Ok(shapes::ListInstanceProfilesResponse { instance_profiles, is_truncated: Some(truncated), marker })
}

/// Whether any of the account's instance profiles holds the role.
pub(super) fn holds_role_tx(tx: &Tx<'_>, account: &str, role: &str) -> Result<bool, ServiceError> {
    for (k, v) in tx.scan_prefix(&prefix(account), None, usize::MAX >> 1, false)? {
        let p: InstanceProfileRecord = records::decode(&k, &v)?;
        if p.roles.iter().any(|r| r.eq_ignore_ascii_case(role)) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn list_instance_profiles_for_role(
    ctx: &Ctx<'_>,
    input: shapes::ListInstanceProfilesForRoleRequest,
) -> Result<shapes::ListInstanceProfilesForRoleResponse, ServiceError> {
    read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?.ok_or_else(|| no_such_role(&input.role_name))?;
    let instance_profiles: Vec<shapes::InstanceProfile> = all(ctx)?
        .iter()
        .filter(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(&input.role_name)))
        .map(|p| p.to_shape(ctx))
        .collect::<Result<_, _>>()?;
    let (instance_profiles, truncated, marker) =
        super::page_items(instance_profiles, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListInstanceProfilesForRoleResponse { instance_profiles, is_truncated: Some(truncated), marker })
}

pub fn add_role_to_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddRoleToInstanceProfileRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut p = read_tx(tx, account, &input.instance_profile_name)?;
    if tx.get(&rampart_core::keys::role(account, &input.role_name))?.is_none() {
        return Err(no_such_role(&input.role_name));
    }
    if p.roles.len() >= ROLES_PER_INSTANCE_PROFILE {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_INSTANCE_PROFILE}"),
        ));
    }
    p.roles.push(input.role_name);
    write(tx, &p)
}

pub fn remove_role_from_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveRoleFromInstanceProfileRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, &ctx.principal.account_id, &input.instance_profile_name)?;
    let before = p.roles.len();
    p.roles.retain(|r| !r.eq_ignore_ascii_case(&input.role_name));
    if p.roles.len() == before {
        return Err(no_such_role(&input.role_name));
    }
    write(tx, &p)
}

pub fn delete_instance_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteInstanceProfileRequest,
) -> Result<(), ServiceError> {
    let p = read_tx(tx, &ctx.principal.account_id, &input.instance_profile_name)?;
    if !p.roles.is_empty() {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must remove roles from instance profile first.",
        ));
    }
    tx.delete(&key(&p.account_id, &p.name))?;
    Ok(())
}
