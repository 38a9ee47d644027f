//! IAM roles: trust policies, session duration, and the role's own policies. Assuming a role is
//! STS's part.

use std::collections::{BTreeMap, BTreeSet};

use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::policies::read_policy_by_arn_tx;
use super::url_encode;
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx, keys};

/// A role, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub trust_policy: String,
    pub description: Option<String>,
    /// Seconds, 3600 to 43200.
    pub max_session_duration: i32,
    pub boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: BTreeSet<String>,
    /// The user and role ARNs the trust policy names, each with the unique id of the principal it
    /// named when the policy was saved: as in IAM, the policy means that principal, not a later
    /// one given the same name. See [`effective_trust`].
    #[serde(default)]
    pub trust_bindings: BTreeMap<String, String>,
    /// For a service-linked role: the service principal it is linked to. Only that service may
    /// change the role (see [`modifiable_role_tx`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_linked: Option<String>,
}

super::listed!(RoleRecord);

/// Applies `f` to every string of the AWS principals of a policy document's statements
/// (`Principal` and `NotPrincipal`), replacing it when `f` gives a new one.
fn map_aws_principals(doc: &mut serde_json::Value, f: &mut dyn FnMut(&str) -> Option<String>) {
    let statements: Vec<&mut serde_json::Value> = match doc.get_mut("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter_mut().collect(),
        Some(one @ serde_json::Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    for st in statements {
        for element in ["Principal", "NotPrincipal"] {
            let Some(aws) = st.get_mut(element).and_then(|p| p.get_mut("AWS")) else { continue };
            let values: Vec<&mut serde_json::Value> = match aws {
                serde_json::Value::Array(items) => items.iter_mut().collect(),
                one => vec![one],
            };
            for v in values {
                if let Some(new) = v.as_str().and_then(&mut *f) {
                    *v = serde_json::Value::String(new);
                }
            }
        }
    }
}

/// The account, kind (`user` or `role`) and name an IAM user or role ARN names.
fn principal_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (kind, path_and_name) = resource.split_once('/')?;
    matches!(kind, "user" | "role").then_some((account, kind, path_and_name.rsplit('/').next()?))
}

/// Reads a record by account and name (from the store or inside a transaction).
pub(crate) type ReadBy<'a, T> = &'a dyn Fn(&str, &str) -> Result<Option<T>, ServiceError>;

/// The unique id of the user or role an ARN names now (`None`: there is none at that ARN).
pub(crate) fn current_principal_id(
    arn: &str,
    read_user: ReadBy<'_, super::UserRecord>,
    read_role: ReadBy<'_, RoleRecord>,
) -> Result<Option<String>, ServiceError> {
    let Some((account, kind, name)) = principal_parts(arn) else { return Ok(None) };
    Ok(match kind {
        "user" => read_user(account, name)?.filter(|u| u.arn() == arn).map(|u| u.id),
        _ => read_role(account, name)?.filter(|r| r.arn() == arn).map(|r| r.id),
    })
}

/// Binds each user and role ARN a trust policy names to its principal's unique id, at save time.
fn bind_principals(tx: &Tx<'_>, doc: &str) -> Result<BTreeMap<String, String>, ServiceError> {
    let Ok(mut parsed) = serde_json::from_str::<serde_json::Value>(doc) else { return Ok(BTreeMap::new()) };
    let mut arns = Vec::new();
    map_aws_principals(&mut parsed, &mut |p| {
        if principal_parts(p).is_some() {
            arns.push(p.to_owned());
        }
        None
    });
    let user = |a: &str, n: &str| super::read_user_tx(tx, a, n);
    let role = |a: &str, n: &str| records::read_tx::<RoleRecord>(tx, &keys::role(a, n));
    let mut out = BTreeMap::new();
    for arn in arns {
        if let Some(id) = current_principal_id(&arn, &user, &role)? {
            out.insert(arn, id);
        }
    }
    Ok(out)
}

/// The trust policy as it stands: an ARN whose bound principal is gone — deleted, or replaced by
/// a new principal of the same name — shows the unique id it was bound to, as IAM shows it, and
/// so admits no one. `current` gives the unique id at an ARN now.
pub fn effective_trust(
    r: &RoleRecord,
    current: &dyn Fn(&str) -> Result<Option<String>, ServiceError>,
) -> Result<String, ServiceError> {
    let mut stale = BTreeMap::new();
    for (arn, id) in &r.trust_bindings {
        if current(arn)?.as_deref() != Some(id.as_str()) {
            stale.insert(arn.as_str(), id.as_str());
        }
    }
    if stale.is_empty() {
        return Ok(r.trust_policy.clone());
    }
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&r.trust_policy) else {
        return Ok(r.trust_policy.clone());
    };
    map_aws_principals(&mut doc, &mut |p| stale.get(p).map(|id| (*id).to_owned()));
    Ok(doc.to_string())
}

/// The role with its trust policy as it stands now (see [`effective_trust`]), read through `db`.
pub fn with_effective_trust(db: &rampart_store::Db, mut r: RoleRecord) -> Result<RoleRecord, ServiceError> {
    if r.trust_bindings.is_empty() {
        return Ok(r);
    }
    let user = |a: &str, n: &str| super::read_user(db, a, n).map(|u| u.map(std::sync::Arc::unwrap_or_clone));
    let role = |a: &str, n: &str| read_role(db, a, n);
    r.trust_policy = effective_trust(&r, &|arn| current_principal_id(arn, &user, &role))?;
    Ok(r)
}

impl RoleRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account_id, self.path, self.name)
    }

    /// The role as GetRole, CreateRole and the other single-role answers show it (`last_used`:
    /// when its sessions last made a request; AWS always includes `RoleLastUsed` there).
    pub(crate) fn to_shape_used(&self, last_used: Option<RoleLastUsed>) -> shapes::Role {
        let used = last_used.unwrap_or_default();
        shapes::Role {
            role_last_used: Some(shapes::RoleLastUsed { last_used_date: used.date, region: used.region }),
            ..self.to_shape()
        }
    }

    /// The role as ListRoles shows it: without its permissions boundary, tags or last use, which
    /// AWS's listings leave out.
    /// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html>.
    pub(crate) fn to_listed_shape(&self) -> shapes::Role {
        shapes::Role { permissions_boundary: None, tags: None, role_last_used: None, ..self.to_shape() }
    }

    pub(crate) fn to_shape(&self) -> shapes::Role {
        shapes::Role {
            path: self.path.clone(),
            role_name: self.name.clone(),
            role_id: self.id.clone(),
            arn: self.arn(),
            create_date: self.created,
            assume_role_policy_document: Some(url_encode(&self.trust_policy)),
            description: self.description.clone(),
            max_session_duration: Some(self.max_session_duration),
            permissions_boundary: self.boundary.as_ref().map(|b| shapes::AttachedPermissionsBoundary {
                permissions_boundary_type: Some("Policy".to_owned()),
                permissions_boundary_arn: Some(b.clone()),
            }),
            tags: (!self.tags.is_empty())
                .then(|| self.tags.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: v.clone() }).collect()),
            role_last_used: None,
        }
    }
}

pub fn tag_role(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::TagRoleRequest) -> Result<(), ServiceError> {
    let mut r = read_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    super::merge_tags(&mut r.tags, input.tags)?;
    write_role(tx, &r)
}

pub fn untag_role(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UntagRoleRequest) -> Result<(), ServiceError> {
    let mut r = read_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    super::remove_tags(&mut r.tags, &input.tag_keys);
    write_role(tx, &r)
}

pub fn list_role_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListRoleTagsRequest,
) -> Result<shapes::ListRoleTagsResponse, ServiceError> {
    let r = read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?
        .ok_or_else(|| no_such_role(&input.role_name))?;
    let (tags, truncated, marker) =
        super::page_items(super::tag_shapes(&r.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListRoleTagsResponse { tags, is_truncated: Some(truncated), marker })
}

pub fn put_role_permissions_boundary(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutRolePermissionsBoundaryRequest,
) -> Result<(), ServiceError> {
    read_policy_by_arn_tx(tx, &input.permissions_boundary, &ctx.principal.account_id)?;
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    r.boundary = Some(input.permissions_boundary);
    write_role(tx, &r)
}

pub fn delete_role_permissions_boundary(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRolePermissionsBoundaryRequest,
) -> Result<(), ServiceError> {
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    r.boundary = None;
    write_role(tx, &r)
}

/// When and where a role's sessions last made a request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleLastUsed {
    #[serde(with = "time::serde::rfc3339::option")]
    pub date: Option<OffsetDateTime>,
    pub region: Option<String>,
}

/// The role's last use, if its sessions have made a request.
pub fn role_last_used(db: &rampart_store::Db, role_id: &str) -> Result<Option<RoleLastUsed>, ServiceError> {
    records::read(db, &keys::role_last_used(role_id))
}

pub(crate) fn no_such_role(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The role with name {name} cannot be found."))
}

pub fn read_role(db: &rampart_store::Db, account: &str, name: &str) -> Result<Option<RoleRecord>, ServiceError> {
    read_cached(db, &keys::role(account, name))
}

pub(super) fn read_role_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<RoleRecord, ServiceError> {
    records::read_tx(tx, &keys::role(account, name))?.ok_or_else(|| no_such_role(name))
}

/// The refusal of a change to a role only its service may change.
pub(super) fn protected_role(name: &str) -> ServiceError {
    ServiceError::new(
        "UnmodifiableEntity",
        400,
        format!("Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"),
    )
}

/// A role the caller may change: not a service-linked role, whose trust, policies, boundary and
/// existence belong to its service (its description and tags stay the account's).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html>.
fn modifiable_role_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<RoleRecord, ServiceError> {
    let r = read_role_tx(tx, account, name)?;
    if r.service_linked.is_some() {
        return Err(protected_role(&r.name));
    }
    Ok(r)
}

pub(super) fn write_role(tx: &mut Tx<'_>, r: &RoleRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::role(&r.account_id, &r.name), r)
}

/// The actions a trust policy may name: assuming the role, and what may come with it.
const TRUST_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

/// A role's trust policy: the policy language's checks, then IAM's own for trust policies — no
/// `NotPrincipal`, and no actions but STS's assume-role family.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>.
fn validate_trust(doc: &str) -> Result<(), ServiceError> {
    let malformed = |m: &str| ServiceError::new("MalformedPolicyDocument", 400, m);
    Policy::parse(doc, PolicyKind::Trust).map_err(|e| malformed(&e.message))?;
    let json: serde_json::Value = serde_json::from_str(doc).map_err(|_| malformed("Syntax errors in policy."))?;
    let statements = match json.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for st in statements {
        if st.get("NotPrincipal").is_some() {
            return Err(malformed("AssumeRole policy must not contain NotPrincipal field."));
        }
        let actions = match st.get("Action") {
            Some(serde_json::Value::String(a)) => vec![a.as_str()],
            Some(serde_json::Value::Array(list)) => list.iter().filter_map(serde_json::Value::as_str).collect(),
            _ => Vec::new(),
        };
        if actions.iter().any(|a| !TRUST_ACTIONS.iter().any(|t| t.eq_ignore_ascii_case(a))) {
            return Err(malformed("AssumeRole policy may only specify STS AssumeRole actions."));
        }
    }
    Ok(())
}

/// Session duration bounds for a role, per CreateRole's documentation.
fn check_duration(d: i32) -> Result<i32, ServiceError> {
    if (3600..=43200).contains(&d) {
        Ok(d)
    } else {
        Err(ServiceError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{d}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
            ),
        ))
    }
}

pub fn create_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateRoleRequest,
) -> Result<shapes::CreateRoleResponse, ServiceError> {
    validate_trust(&input.assume_role_policy_document)?;
    let account = &ctx.principal.account_id;
    if tx.get(&keys::role(account, &input.role_name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("Role with name {} already exists.", input.role_name),
        ));
    }
    if let Some(b) = &input.permissions_boundary {
        read_policy_by_arn_tx(tx, b, &ctx.principal.account_id)?;
    }
    let mut r = RoleRecord {
        v: 1,
        account_id: account.clone(),
        name: input.role_name,
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id: account::new_unique_id("AROA")?,
        created: ctx.now,
        trust_policy: input.assume_role_policy_document,
        description: input.description,
        max_session_duration: check_duration(input.max_session_duration.unwrap_or(3600))?,
        boundary: input.permissions_boundary,
        tags: Vec::new(),
        inline_policies: BTreeMap::new(),
        attached: BTreeSet::new(),
        trust_bindings: BTreeMap::new(),
        service_linked: None,
    };
    r.trust_bindings = bind_principals(tx, &r.trust_policy)?;
    super::merge_tags(&mut r.tags, input.tags.unwrap_or_default())?;
    write_role(tx, &r)?;
    Ok(shapes::CreateRoleResponse { role: r.to_shape() })
}

pub fn get_role(ctx: &Ctx<'_>, input: shapes::GetRoleRequest) -> Result<shapes::GetRoleResponse, ServiceError> {
    let r = read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?
        .ok_or_else(|| no_such_role(&input.role_name))?;
    let used = role_last_used(ctx.db, &r.id)?;
    Ok(shapes::GetRoleResponse { role: with_effective_trust(ctx.db, r)?.to_shape_used(used) })
}

pub fn list_roles(ctx: &Ctx<'_>, input: shapes::ListRolesRequest) -> Result<shapes::ListRolesResponse, ServiceError> {
    let all: Vec<RoleRecord> = records::scan_records(ctx.db, &keys::roles(&ctx.principal.account_id))?;
    let (roles, truncated, marker) =
        super::page_records(all, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items);
    let roles: Vec<RoleRecord> =
        roles.into_iter().map(|r| with_effective_trust(ctx.db, r)).collect::<Result<_, _>>()?;
    Ok(shapes::ListRolesResponse {
        roles: roles.iter().map(RoleRecord::to_listed_shape).collect(),
        is_truncated: Some(truncated),
        marker,
    })
}

pub fn update_role(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UpdateRoleRequest) -> Result<(), ServiceError> {
    let mut r = read_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    if let Some(d) = input.description {
        r.description = Some(d);
    }
    if let Some(d) = input.max_session_duration {
        if r.service_linked.is_some() {
            return Err(protected_role(&r.name));
        }
        r.max_session_duration = check_duration(d)?;
    }
    write_role(tx, &r)
}

pub fn update_role_description(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateRoleDescriptionRequest,
) -> Result<shapes::UpdateRoleDescriptionResponse, ServiceError> {
    let mut r = read_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    r.description = Some(input.description);
    write_role(tx, &r)?;
    Ok(shapes::UpdateRoleDescriptionResponse { role: Some(r.to_shape()) })
}

pub fn update_assume_role_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateAssumeRolePolicyRequest,
) -> Result<(), ServiceError> {
    validate_trust(&input.policy_document)?;
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    r.trust_bindings = bind_principals(tx, &input.policy_document)?;
    r.trust_policy = input.policy_document;
    write_role(tx, &r)
}

pub fn delete_role(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeleteRoleRequest) -> Result<(), ServiceError> {
    let r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    if !r.inline_policies.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete policies first."));
    }
    if !r.attached.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."));
    }
    // A role still in an instance profile would leave the profile naming a role that is gone.
    // See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html>.
    if super::instance_profiles::holds_role_tx(tx, &r.account_id, &r.name)? {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must remove roles from instance profile first.",
        ));
    }
    tx.delete(&keys::role(&r.account_id, &r.name))?;
    Ok(())
}

pub fn put_role_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutRolePolicyRequest,
) -> Result<(), ServiceError> {
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    let owner = format!("role {}", r.name);
    super::put_inline(&mut r.inline_policies, input.policy_name, input.policy_document, 10_240, &owner)?;
    write_role(tx, &r)
}

fn no_such_role_policy(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The role policy with name {name} cannot be found."))
}

pub fn get_role_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetRolePolicyRequest,
) -> Result<shapes::GetRolePolicyResponse, ServiceError> {
    let r = read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?
        .ok_or_else(|| no_such_role(&input.role_name))?;
    let doc = r.inline_policies.get(&input.policy_name).ok_or_else(|| no_such_role_policy(&input.policy_name))?;
    Ok(shapes::GetRolePolicyResponse {
        role_name: r.name.clone(),
        policy_name: input.policy_name,
        policy_document: url_encode(doc),
    })
}

pub fn list_role_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListRolePoliciesRequest,
) -> Result<shapes::ListRolePoliciesResponse, ServiceError> {
    let r = read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?
        .ok_or_else(|| no_such_role(&input.role_name))?;
    let (policy_names, truncated, marker) =
        super::page_names(r.inline_policies.keys(), input.marker.as_deref(), input.max_items);
    Ok(shapes::ListRolePoliciesResponse { policy_names, is_truncated: Some(truncated), marker })
}

pub fn delete_role_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRolePolicyRequest,
) -> Result<(), ServiceError> {
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    if r.inline_policies.remove(&input.policy_name).is_none() {
        return Err(no_such_role_policy(&input.policy_name));
    }
    write_role(tx, &r)
}

pub fn attach_role_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AttachRolePolicyRequest,
) -> Result<(), ServiceError> {
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    super::policies::attach(tx, &mut r.attached, (input.policy_arn, "Role"), &ctx.principal.account_id)?;
    write_role(tx, &r)
}

pub fn detach_role_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DetachRolePolicyRequest,
) -> Result<(), ServiceError> {
    let mut r = modifiable_role_tx(tx, &ctx.principal.account_id, &input.role_name)?;
    super::policies::detach(tx, &mut r.attached, &input.policy_arn, &ctx.principal.account_id)?;
    write_role(tx, &r)
}

pub fn list_attached_role_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListAttachedRolePoliciesRequest,
) -> Result<shapes::ListAttachedRolePoliciesResponse, ServiceError> {
    let r = read_role(ctx.db, &ctx.principal.account_id, &input.role_name)?
        .ok_or_else(|| no_such_role(&input.role_name))?;
    let (attached, truncated, marker) = super::policies::attached_list(
        ctx.db,
        &r.attached,
        input.path_prefix.as_deref(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(shapes::ListAttachedRolePoliciesResponse {
        attached_policies: Some(attached),
        is_truncated: Some(truncated),
        marker,
    })
}
