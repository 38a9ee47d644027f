//! Customer managed policies, their versions, and attaching them to users and groups.

use std::collections::{BTreeMap, BTreeSet};

use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::groups::{MANAGED_POLICIES_PER_IDENTITY, no_such_group, read_group_tx, write_group};
use super::{no_such_user, read_user_tx, url_encode, write_user};
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx, keys};

/// One version of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersionRecord {
    pub document: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// A customer managed policy, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicyRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    pub default_version: String,
    pub versions: BTreeMap<String, PolicyVersionRecord>,
    pub attachments: u32,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

super::listed!(ManagedPolicyRecord);

impl ManagedPolicyRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.account_id, self.path, self.name)
    }

    fn to_shape(&self) -> shapes::Policy {
        shapes::Policy {
            policy_name: Some(self.name.clone()),
            policy_id: Some(self.id.clone()),
            arn: Some(self.arn()),
            path: Some(self.path.clone()),
            default_version_id: Some(self.default_version.clone()),
            attachment_count: Some(i32::try_from(self.attachments).unwrap_or(i32::MAX)),
            permissions_boundary_usage_count: Some(0),
            is_attachable: Some(true),
            description: self.description.clone(),
            create_date: Some(self.created),
            update_date: Some(self.updated),
            tags: (!self.tags.is_empty()).then(|| super::tag_shapes(&self.tags)),
        }
    }
}

fn no_such_policy(arn: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("Policy {arn} does not exist or is not attachable."))
}

/// The account and name of a customer managed policy ARN (`arn:aws:iam::ACCOUNT:policy/path/NAME`).
fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("policy/")?.rsplit('/').next()?;
    (!name.is_empty()).then_some((account, name))
}

/// Reads a managed policy by ARN through the store's cache (AWS managed ones from the catalogue).
pub fn read_policy_by_arn(db: &rampart_store::Db, arn: &str) -> Result<Option<ManagedPolicyRecord>, ServiceError> {
    if let Some(p) = super::aws_managed(arn) {
        return Ok(Some(p));
    }
    let Some((account, name)) = parse_arn(arn) else { return Ok(None) };
    let p: Option<ManagedPolicyRecord> = read_cached(db, &keys::policy(account, name))?;
    Ok(p.filter(|p| p.arn() == arn))
}

/// A managed policy `account` may name (attach, or set as a boundary), inside a transaction:
/// AWS's, the account's own, or a partner's registered boundary. Another account's is not found,
/// as IAM answers it: an account's policies are its own.
pub(crate) fn read_policy_by_arn_tx(
    tx: &Tx<'_>,
    arn: &str,
    account: &str,
) -> Result<ManagedPolicyRecord, ServiceError> {
    read_policy_tx(tx, arn).and_then(|p| if visible_to(&p, account) { Ok(p) } else { Err(no_such_policy(arn)) })
}

/// Whether `account` may see and name a managed policy: AWS's, its own, or a partner's boundary.
pub(crate) fn visible_to(p: &ManagedPolicyRecord, account: &str) -> bool {
    p.account_id == account || p.account_id == "aws" || p.account_id == super::PARTNER_NAMESPACE
}

fn read_policy_tx(tx: &Tx<'_>, arn: &str) -> Result<ManagedPolicyRecord, ServiceError> {
    if let Some(p) = super::aws_managed(arn) {
        return Ok(p);
    }
    let (account, name) = parse_arn(arn).ok_or_else(|| no_such_policy(arn))?;
    records::read_tx::<ManagedPolicyRecord>(tx, &keys::policy(account, name))?
        .filter(|p| p.arn() == arn)
        .ok_or_else(|| no_such_policy(arn))
}

/// A customer managed policy of `account` that it may change; AWS managed ones are read-only, and
/// another account's (a partner's boundary included) is not found.
fn writable_policy_tx(tx: &Tx<'_>, arn: &str, account: &str) -> Result<ManagedPolicyRecord, ServiceError> {
    if super::aws_managed(arn).is_some() {
        return Err(ServiceError::new("InvalidInput", 400, format!("Cannot modify AWS managed policy {arn}.")));
    }
    read_policy_tx(tx, arn).and_then(|p| if p.account_id == account { Ok(p) } else { Err(no_such_policy(arn)) })
}

pub(crate) fn write_policy(tx: &mut Tx<'_>, p: &ManagedPolicyRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::policy(&p.account_id, &p.name), p)
}

/// Most characters of a managed policy document, white space aside.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const MANAGED_POLICY_SIZE: usize = 6144;

/// A managed policy's document (CreatePolicy, CreatePolicyVersion): within the size quota,
/// valid, and in the current language version.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html>.
fn check_managed_document(document: &str) -> Result<(), ServiceError> {
    if document.chars().filter(|c| !c.is_whitespace()).count() > MANAGED_POLICY_SIZE {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}"),
        ));
    }
    let policy = rampart_policy::Policy::parse(document, rampart_policy::PolicyKind::Identity)
        .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.message))?;
    if policy.version != rampart_policy::Version::V2012 {
        return Err(ServiceError::new(
            "MalformedPolicyDocument",
            400,
            "Policy document must be version 2012-10-17 or greater.",
        ));
    }
    Ok(())
}

pub fn create_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreatePolicyRequest,
) -> Result<shapes::CreatePolicyResponse, ServiceError> {
    check_managed_document(&input.policy_document)?;
    let account = &ctx.principal.account_id;
    if tx.get(&keys::policy(account, &input.policy_name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("A policy called {} already exists. Duplicate names are not allowed.", input.policy_name),
        ));
    }
    let mut p = ManagedPolicyRecord {
        v: 1,
        account_id: account.clone(),
        name: input.policy_name,
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id: account::new_unique_id("ANPA")?,
        description: input.description,
        created: ctx.now,
        updated: ctx.now,
        default_version: "v1".to_owned(),
        versions: BTreeMap::from([(
            "v1".to_owned(),
            PolicyVersionRecord { document: input.policy_document, created: ctx.now },
        )]),
        attachments: 0,
        tags: Vec::new(),
    };
    super::merge_tags(&mut p.tags, input.tags.unwrap_or_default())?;
    write_policy(tx, &p)?;
    Ok(shapes::CreatePolicyResponse { policy: Some(p.to_shape()) })
}

pub fn get_policy(ctx: &Ctx<'_>, input: shapes::GetPolicyRequest) -> Result<shapes::GetPolicyResponse, ServiceError> {
    let p = read_policy_by_arn(ctx.db, &input.policy_arn)?
        .filter(|p| visible_to(p, &ctx.principal.account_id))
        .ok_or_else(|| no_such_policy(&input.policy_arn))?;
    Ok(shapes::GetPolicyResponse { policy: Some(p.to_shape()) })
}

pub fn get_policy_version(
    ctx: &Ctx<'_>,
    input: shapes::GetPolicyVersionRequest,
) -> Result<shapes::GetPolicyVersionResponse, ServiceError> {
    let p = read_policy_by_arn(ctx.db, &input.policy_arn)?
        .filter(|p| visible_to(p, &ctx.principal.account_id))
        .ok_or_else(|| no_such_policy(&input.policy_arn))?;
    let v = p.versions.get(&input.version_id).ok_or_else(|| {
        ServiceError::new(
            "NoSuchEntity",
            404,
            format!("Policy {} version {} does not exist or is not attachable.", input.policy_arn, input.version_id),
        )
    })?;
    Ok(shapes::GetPolicyVersionResponse {
        policy_version: Some(shapes::PolicyVersion {
            document: Some(url_encode(&v.document)),
            version_id: Some(input.version_id.clone()),
            is_default_version: Some(input.version_id == p.default_version),
            create_date: Some(v.created),
        }),
    })
}

pub fn list_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListPoliciesRequest,
) -> Result<shapes::ListPoliciesResponse, ServiceError> {
    let scope = input.scope.as_deref().unwrap_or("All");
    let only_attached = input.only_attached.unwrap_or(false);
    let mut candidates: Vec<ManagedPolicyRecord> = Vec::new();
    if scope != "Local" && !only_attached {
        candidates.extend(super::aws_managed_all());
    }
    if scope != "AWS" {
        candidates
            .extend(records::scan_records::<ManagedPolicyRecord>(ctx.db, &keys::policies(&ctx.principal.account_id))?);
    }
    candidates.retain(|p| !only_attached || p.attachments > 0);
    let (page, truncated, marker) =
        super::page_records(candidates, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items);
    Ok(shapes::ListPoliciesResponse {
        // Tags are left out of listings; see the `Tags` member of `ListPolicies`' output in
        // <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html>.
        policies: Some(page.iter().map(|p| shapes::Policy { tags: None, ..p.to_shape() }).collect()),
        is_truncated: Some(truncated),
        marker,
    })
}

pub fn delete_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeletePolicyRequest) -> Result<(), ServiceError> {
    let p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    // AWS's order of these two checks is not documented; both are DeleteConflict.
    // See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html>.
    if p.attachments > 0 {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete a policy attached to entities."));
    }
    if p.versions.len() > 1 {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "This policy has more than one version. Before you delete a policy, you must delete the policy's \
             versions. The default version is deleted with the policy.",
        ));
    }
    tx.delete(&keys::policy(&p.account_id, &p.name))?;
    Ok(())
}

pub fn tag_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::TagPolicyRequest) -> Result<(), ServiceError> {
    let mut p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    super::merge_tags(&mut p.tags, input.tags)?;
    write_policy(tx, &p)
}

pub fn untag_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UntagPolicyRequest) -> Result<(), ServiceError> {
    let mut p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    super::remove_tags(&mut p.tags, &input.tag_keys);
    write_policy(tx, &p)
}

pub fn list_policy_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListPolicyTagsRequest,
) -> Result<shapes::ListPolicyTagsResponse, ServiceError> {
    let p = read_policy_by_arn(ctx.db, &input.policy_arn)?
        .filter(|p| visible_to(p, &ctx.principal.account_id))
        .ok_or_else(|| no_such_policy(&input.policy_arn))?;
    let (tags, truncated, marker) =
        super::page_items(super::tag_shapes(&p.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListPolicyTagsResponse { tags, is_truncated: Some(truncated), marker })
}

/// Counts an attachment (`+1`) or a detachment (`-1`) of a managed policy; the policy must exist to
/// be attached.
fn adjust_attachments(tx: &mut Tx<'_>, arn: &str, delta: i32, account: &str) -> Result<(), ServiceError> {
    // AWS managed policies are shared by every account; their counts are not tracked here.
    if super::aws_managed(arn).is_some() {
        return Ok(());
    }
    match read_policy_by_arn_tx(tx, arn, account) {
        Ok(mut p) => {
            p.attachments = if delta > 0 { p.attachments + 1 } else { p.attachments.saturating_sub(1) };
            write_policy(tx, &p)
        }
        Err(e) if delta > 0 => Err(e),
        Err(_) => Ok(()),
    }
}

/// Most versions a managed policy keeps.
pub const VERSIONS_PER_POLICY: usize = 5;

fn version_shape(
    p: &ManagedPolicyRecord,
    id: &str,
    v: &PolicyVersionRecord,
    with_document: bool,
) -> shapes::PolicyVersion {
    shapes::PolicyVersion {
        document: with_document.then(|| url_encode(&v.document)),
        version_id: Some(id.to_owned()),
        is_default_version: Some(id == p.default_version),
        create_date: Some(v.created),
    }
}

pub fn create_policy_version(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreatePolicyVersionRequest,
) -> Result<shapes::CreatePolicyVersionResponse, ServiceError> {
    check_managed_document(&input.policy_document)?;
    let mut p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    if p.versions.len() >= VERSIONS_PER_POLICY {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
        ));
    }
    // Version ids keep counting up: v1, v2, … even after deletions.
    let next = p.versions.keys().filter_map(|k| k.strip_prefix('v')?.parse::<u32>().ok()).max().unwrap_or(0) + 1;
    let id = format!("v{next}");
    p.versions.insert(id.clone(), PolicyVersionRecord { document: input.policy_document, created: ctx.now });
    if input.set_as_default.unwrap_or(false) {
        p.default_version = id.clone();
    }
    p.updated = ctx.now;
    write_policy(tx, &p)?;
    let v = p.versions.get(&id).ok_or_else(ServiceError::internal)?;
    Ok(shapes::CreatePolicyVersionResponse { policy_version: Some(version_shape(&p, &id, v, false)) })
}

pub fn list_policy_versions(
    ctx: &Ctx<'_>,
    input: shapes::ListPolicyVersionsRequest,
) -> Result<shapes::ListPolicyVersionsResponse, ServiceError> {
    let p = read_policy_by_arn(ctx.db, &input.policy_arn)?
        .filter(|p| visible_to(p, &ctx.principal.account_id))
        .ok_or_else(|| no_such_policy(&input.policy_arn))?;
    let mut versions: Vec<shapes::PolicyVersion> =
        p.versions.iter().map(|(id, v)| version_shape(&p, id, v, false)).collect();
    versions.reverse();
    let (versions, truncated, marker) = super::page_items(versions, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListPolicyVersionsResponse { versions: Some(versions), is_truncated: Some(truncated), marker })
}

fn no_such_version(arn: &str, id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("Policy {arn} version {id} does not exist or is not attachable."))
}

pub fn set_default_policy_version(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::SetDefaultPolicyVersionRequest,
) -> Result<(), ServiceError> {
    let mut p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    if !p.versions.contains_key(&input.version_id) {
        return Err(no_such_version(&input.policy_arn, &input.version_id));
    }
    p.default_version = input.version_id;
    p.updated = ctx.now;
    write_policy(tx, &p)
}

pub fn delete_policy_version(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeletePolicyVersionRequest,
) -> Result<(), ServiceError> {
    let mut p = writable_policy_tx(tx, &input.policy_arn, &ctx.principal.account_id)?;
    if input.version_id == p.default_version {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete the default version of a policy."));
    }
    if p.versions.remove(&input.version_id).is_none() {
        return Err(no_such_version(&input.policy_arn, &input.version_id));
    }
    write_policy(tx, &p)
}

/// Attaches a managed policy to an identity's set (a no-op when attached already), within the
/// quota of managed policies per `kind` (`User`, `Group`, `Role`).
pub(crate) fn attach(
    tx: &mut Tx<'_>,
    attached: &mut BTreeSet<String>,
    (arn, kind): (String, &str),
    account: &str,
) -> Result<(), ServiceError> {
    if attached.contains(&arn) {
        return Ok(());
    }
    if attached.len() >= MANAGED_POLICIES_PER_IDENTITY {
        return Err(limit_error(kind));
    }
    adjust_attachments(tx, &arn, 1, account)?;
    attached.insert(arn);
    Ok(())
}

/// Detaches a managed policy from an identity's set.
pub(crate) fn detach(
    tx: &mut Tx<'_>,
    attached: &mut BTreeSet<String>,
    arn: &str,
    account: &str,
) -> Result<(), ServiceError> {
    if !attached.remove(arn) {
        return Err(ServiceError::new("NoSuchEntity", 404, format!("Policy {arn} was not found.")));
    }
    adjust_attachments(tx, arn, -1, account)
}

fn limit_error(kind: &str) -> ServiceError {
    ServiceError::new(
        "LimitExceeded",
        409,
        format!("Cannot exceed quota for PoliciesPer{kind}: {MANAGED_POLICIES_PER_IDENTITY}"),
    )
}

pub fn attach_user_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AttachUserPolicyRequest,
) -> Result<(), ServiceError> {
    let mut u =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    attach(tx, &mut u.attached, (input.policy_arn, "User"), &ctx.principal.account_id)?;
    write_user(tx, &u)
}

pub fn detach_user_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DetachUserPolicyRequest,
) -> Result<(), ServiceError> {
    let mut u =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    detach(tx, &mut u.attached, &input.policy_arn, &ctx.principal.account_id)?;
    write_user(tx, &u)
}

/// One page of the managed policies attached to an identity whose path starts with `path_prefix`.
pub(crate) fn attached_list(
    db: &rampart_store::Db,
    arns: &BTreeSet<String>,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<(Vec<shapes::AttachedPolicy>, bool, Option<String>), ServiceError> {
    let mut out = Vec::new();
    for arn in arns {
        let Some(p) = read_policy_by_arn(db, arn)? else { continue };
        if p.path.starts_with(path_prefix.unwrap_or("/")) {
            out.push(shapes::AttachedPolicy { policy_name: Some(p.name), policy_arn: Some(arn.clone()) });
        }
    }
    super::page_items(out, marker, max_items)
}

pub fn list_attached_user_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListAttachedUserPoliciesRequest,
) -> Result<shapes::ListAttachedUserPoliciesResponse, ServiceError> {
    let u = super::read_user(ctx.db, &ctx.principal.account_id, &input.user_name)?
        .ok_or_else(|| no_such_user(&input.user_name))?;
    let (attached, truncated, marker) =
        attached_list(ctx.db, &u.attached, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListAttachedUserPoliciesResponse {
        attached_policies: Some(attached),
        is_truncated: Some(truncated),
        marker,
    })
}

pub fn attach_group_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AttachGroupPolicyRequest,
) -> Result<(), ServiceError> {
    let mut g = read_group_tx(tx, &ctx.principal.account_id, &input.group_name)?
        .ok_or_else(|| no_such_group(&input.group_name))?;
    attach(tx, &mut g.attached, (input.policy_arn, "Group"), &ctx.principal.account_id)?;
    write_group(tx, &g)
}

pub fn detach_group_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DetachGroupPolicyRequest,
) -> Result<(), ServiceError> {
    let mut g = read_group_tx(tx, &ctx.principal.account_id, &input.group_name)?
        .ok_or_else(|| no_such_group(&input.group_name))?;
    detach(tx, &mut g.attached, &input.policy_arn, &ctx.principal.account_id)?;
    write_group(tx, &g)
}

pub fn list_attached_group_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListAttachedGroupPoliciesRequest,
) -> Result<shapes::ListAttachedGroupPoliciesResponse, ServiceError> {
    let g = super::read_group(ctx.db, &ctx.principal.account_id, &input.group_name)?.ok_or_else(|| {
        ServiceError::new("NoSuchEntity", 404, format!("The group with name {} cannot be found.", input.group_name))
    })?;
    let (attached, truncated, marker) =
        attached_list(ctx.db, &g.attached, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListAttachedGroupPoliciesResponse {
        attached_policies: Some(attached),
        is_truncated: Some(truncated),
        marker,
    })
}
