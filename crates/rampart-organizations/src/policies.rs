//! Organization policies: service control policies and resource control policies, the management
//! policy types (tag, backup, …; their grammar and inheritance are in [`crate::management`]),
//! their attachments to the root, OUs and accounts, and the policy types enabled on the root.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::tree::{FULL_AWS_ACCESS, read_node, read_node_tx, root_shape};
use super::{
    Membership, OrgRecord, constraint, invalid, managed_tx, membership, membership_tx, page, random_id, touch,
};

/// The policy types this module governs.
pub const SCP: &str = "SERVICE_CONTROL_POLICY";
pub const RCP: &str = "RESOURCE_CONTROL_POLICY";

/// The AWS managed SCP that allows everything, attached to every new root, OU and account.
pub const FULL_AWS_ACCESS_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// The AWS managed RCP that allows everything, attached everywhere while RCPs are enabled.
pub const RCP_FULL_AWS_ACCESS: &str = "p-RCPFullAWSAccess";
pub const RCP_FULL_AWS_ACCESS_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// The most characters of an SCP's content (white space not counted, as AWS counts it).
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>.
pub const MAX_SCP_CHARACTERS: usize = 5120;

/// The most SCPs (or RCPs) attached to one root, OU or account.
pub const MAX_ATTACHED: usize = 5;

/// The most policies of one management type attached to one root, OU or account.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>.
pub const MAX_ATTACHED_MANAGEMENT: usize = 10;

/// Whether a policy type is an authorization policy (SCP, RCP) rather than a management policy.
fn authorizes(kind: &str) -> bool {
    kind == SCP || kind == RCP
}

/// A policy of an organization, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgPolicy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub r#type: String,
    pub content: String,
    /// When its content last changed (absent from records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub updated: Option<time::OffsetDateTime>,
}

fn policy_not_found() -> ServiceError {
    ServiceError::new("PolicyNotFoundException", 400, "We can't find a policy with the PolicyId that you specified.")
}

fn target_not_found() -> ServiceError {
    ServiceError::new(
        "TargetNotFoundException",
        400,
        "We can't find a root, OU, account, or policy with the TargetId that you specified.",
    )
}

fn type_not_enabled() -> ServiceError {
    ServiceError::new(
        "PolicyTypeNotEnabledException",
        400,
        "This operation can be performed only for enabled policy types.",
    )
}

/// The policies AWS manages, the same in every organization: `FullAWSAccess` (an SCP) and
/// `RCPFullAWSAccess` (an RCP).
fn aws_managed(id: &str) -> Option<OrgPolicy> {
    let (name, kind, content) = match id {
        FULL_AWS_ACCESS => ("FullAWSAccess", SCP, FULL_AWS_ACCESS_DOCUMENT),
        RCP_FULL_AWS_ACCESS => ("RCPFullAWSAccess", RCP, RCP_FULL_AWS_ACCESS_DOCUMENT),
        _ => return None,
    };
    Some(OrgPolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        description: "Allows access to every operation".to_owned(),
        r#type: kind.to_owned(),
        content: content.to_owned(),
        updated: None,
    })
}

/// The AWS managed policy of a type that allows everything.
fn full_access_of(kind: &str) -> Option<&'static str> {
    match kind {
        SCP => Some(FULL_AWS_ACCESS),
        RCP => Some(RCP_FULL_AWS_ACCESS),
        _ => None,
    }
}

/// Attaches to a new OU or account the full-access policy of every enabled type, as AWS does.
pub(crate) fn attach_defaults(tx: &mut Tx<'_>, org: &OrgRecord, target: &str) -> Result<(), ServiceError> {
    for kind in &org.enabled_types {
        if let Some(full) = full_access_of(kind) {
            attach_tx(tx, org, full, target)?;
        }
    }
    Ok(())
}

pub(crate) fn policy_arn(org: &OrgRecord, p: &OrgPolicy) -> String {
    let kind = p.r#type.to_ascii_lowercase();
    if aws_managed(&p.id).is_some() {
        format!("arn:aws:organizations::aws:policy/{kind}/{}", p.id)
    } else {
        format!("arn:aws:organizations::{}:policy/{}/{kind}/{}", org.management_account, org.id, p.id)
    }
}

fn summary(org: &OrgRecord, p: &OrgPolicy) -> shapes::PolicySummary {
    shapes::PolicySummary {
        id: Some(p.id.clone()),
        arn: Some(policy_arn(org, p)),
        name: Some(p.name.clone()),
        description: Some(p.description.clone()),
        r#type: Some(p.r#type.clone()),
        aws_managed: Some(aws_managed(&p.id).is_some()),
    }
}

pub(crate) fn read_policy(db: &Db, org: &str, id: &str) -> Result<Option<OrgPolicy>, ServiceError> {
    if let Some(p) = aws_managed(id) {
        return Ok(Some(p));
    }
    records::read_cached(db, &keys::org_policy(org, id))
}

pub(crate) fn read_policy_tx(tx: &Tx<'_>, org: &str, id: &str) -> Result<Option<OrgPolicy>, ServiceError> {
    if let Some(p) = aws_managed(id) {
        return Ok(Some(p));
    }
    records::read_tx(tx, &keys::org_policy(org, id))
}

/// A policy's content, checked as Organizations checks it: the size limit of its type, and the
/// IAM policy grammar of an SCP or RCP, or the inheritance-operator grammar of a management policy.
fn check_content(kind: &str, content: &str) -> Result<(), ServiceError> {
    let limit = if authorizes(kind) { MAX_SCP_CHARACTERS } else { super::management::max_characters(kind) };
    let characters = content.chars().filter(|c| !c.is_whitespace()).count();
    if characters > limit {
        return Err(constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            "The provided policy document exceeds the maximum size.",
        ));
    }
    let malformed = |message: String| ServiceError::new("MalformedPolicyDocumentException", 400, message);
    match kind {
        SCP => Policy::parse(content, PolicyKind::Scp).map(|_| ()).map_err(|e| malformed(e.message)),
        RCP => Policy::parse(content, PolicyKind::Rcp).map(|_| ()).map_err(|e| malformed(e.message)),
        _ => super::management::check(kind, content).map(|_| ()).map_err(|e| malformed(e.0)),
    }
}

pub fn create_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreatePolicyRequest,
) -> Result<shapes::CreatePolicyResponse, ServiceError> {
    let org = super::access::writer(tx, ctx, "CreatePolicy")?;
    check_content(&input.r#type, &input.content)?;
    let existing = tx.scan_prefix(&keys::org_policies(&org.id), None, usize::MAX >> 1, false)?;
    if existing.iter().filter_map(|(k, v)| records::decode::<OrgPolicy>(k, v).ok()).any(|p| p.name == input.name) {
        return Err(ServiceError::new("DuplicatePolicyException", 400, "A policy with the same name already exists."));
    }
    let p = OrgPolicy {
        id: format!("p-{}", random_id(8)?),
        name: input.name,
        description: input.description,
        r#type: input.r#type,
        content: input.content,
        updated: Some(ctx.now),
    };
    records::write_tx(tx, &keys::org_policy(&org.id, &p.id), &p)?;
    super::extras::put_tags(tx, &org, &p.id, input.tags.unwrap_or_default())?;
    Ok(shapes::CreatePolicyResponse {
        policy: Some(shapes::Policy { policy_summary: Some(summary(&org, &p)), content: Some(p.content.clone()) }),
    })
}

pub fn describe_policy(
    ctx: &Ctx<'_>,
    input: shapes::DescribePolicyRequest,
) -> Result<shapes::DescribePolicyResponse, ServiceError> {
    let org = super::access::reader(ctx, "DescribePolicy")?;
    let p = read_policy(ctx.db, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    Ok(shapes::DescribePolicyResponse {
        policy: Some(shapes::Policy { policy_summary: Some(summary(&org, &p)), content: Some(p.content.clone()) }),
    })
}

pub fn update_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdatePolicyRequest,
) -> Result<shapes::UpdatePolicyResponse, ServiceError> {
    let org = super::access::writer(tx, ctx, "UpdatePolicy")?;
    if aws_managed(&input.policy_id).is_some() {
        return Err(ServiceError::new(
            "PolicyChangesInProgressException",
            400,
            "You can't change an AWS managed policy.",
        ));
    }
    let mut p = read_policy_tx(tx, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    if let Some(content) = input.content {
        check_content(&p.r#type, &content)?;
        p.content = content;
        p.updated = Some(ctx.now);
    }
    if let Some(name) = input.name {
        p.name = name;
    }
    if let Some(description) = input.description {
        p.description = description;
    }
    records::write_tx(tx, &keys::org_policy(&org.id, &p.id), &p)?;
    touch(tx, &org.id)?;
    Ok(shapes::UpdatePolicyResponse {
        policy: Some(shapes::Policy { policy_summary: Some(summary(&org, &p)), content: Some(p.content.clone()) }),
    })
}

/// Deletes a policy attached to nothing.
pub fn delete_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeletePolicyRequest) -> Result<(), ServiceError> {
    let org = super::access::writer(tx, ctx, "DeletePolicy")?;
    if aws_managed(&input.policy_id).is_some() {
        return Err(invalid("You can't delete an AWS managed policy. (Reason: INVALID_INPUT)"));
    }
    read_policy_tx(tx, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    if !tx.scan_prefix(&keys::org_policy_targets(&org.id, &input.policy_id), None, 1, false)?.is_empty() {
        return Err(ServiceError::new(
            "PolicyInUseException",
            400,
            "The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts \
             before performing this operation.",
        ));
    }
    tx.delete(&keys::org_policy(&org.id, &input.policy_id))?;
    Ok(())
}

pub fn list_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListPoliciesRequest,
) -> Result<shapes::ListPoliciesResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListPolicies")?;
    let mut all: Vec<OrgPolicy> = full_access_of(&input.filter).and_then(aws_managed).into_iter().collect();
    all.extend(
        records::scan_records::<OrgPolicy>(ctx.db, &keys::org_policies(&org.id))?
            .into_iter()
            .filter(|p| p.r#type == input.filter),
    );
    let summaries = all.iter().map(|p| summary(&org, p)).collect();
    let (policies, next_token) = page(summaries, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListPoliciesResponse { policies: Some(policies), next_token })
}

/// What a target id names, if it is in this organization: its display name and type.
fn target(db: &Db, org: &OrgRecord, id: &str) -> Result<Option<(String, &'static str)>, ServiceError> {
    if id.starts_with("r-") || id.starts_with("ou-") {
        return Ok(read_node(db, &org.id, id)?.map(|n| {
            let kind = if n.is_root() { "ROOT" } else { "ORGANIZATIONAL_UNIT" };
            (n.name, kind)
        }));
    }
    Ok(membership(db, id)?.filter(|(o, _)| o.id == org.id).map(|(_, m)| (m.name, "ACCOUNT")))
}

fn target_exists_tx(tx: &Tx<'_>, org: &OrgRecord, id: &str) -> Result<bool, ServiceError> {
    if id.starts_with("r-") || id.starts_with("ou-") {
        return Ok(read_node_tx(tx, &org.id, id)?.is_some());
    }
    Ok(membership_tx(tx, id)?.is_some_and(|(o, _)| o.id == org.id))
}

/// Attaches without the checks (a new root, OU or account gets `FullAWSAccess`).
pub(crate) fn attach_tx(tx: &mut Tx<'_>, org: &OrgRecord, policy: &str, target: &str) -> Result<(), ServiceError> {
    tx.put(&keys::org_attachment(&org.id, target, policy), b"")?;
    tx.put(&keys::org_policy_target(&org.id, policy, target), b"")?;
    Ok(())
}

/// The policies attached to a target, by id.
pub(crate) fn attached(db: &Db, org: &str, target: &str) -> Result<Vec<String>, ServiceError> {
    let prefix = keys::org_attachments(org, target);
    Ok(db
        .scan_prefix(&prefix, None, usize::MAX >> 1, false)?
        .into_iter()
        .filter_map(|(k, _)| Some(String::from_utf8_lossy(k.get(prefix.len()..)?).into_owned()))
        .collect())
}

pub(crate) fn attached_tx(tx: &Tx<'_>, org: &str, target: &str) -> Result<Vec<String>, ServiceError> {
    let prefix = keys::org_attachments(org, target);
    Ok(tx
        .scan_prefix(&prefix, None, usize::MAX >> 1, false)?
        .into_iter()
        .filter_map(|(k, _)| Some(String::from_utf8_lossy(k.get(prefix.len()..)?).into_owned()))
        .collect())
}

pub fn attach_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::AttachPolicyRequest) -> Result<(), ServiceError> {
    let org = super::access::writer(tx, ctx, "AttachPolicy")?;
    let p = read_policy_tx(tx, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    if !org.enabled_types.contains(&p.r#type) {
        return Err(type_not_enabled());
    }
    if !target_exists_tx(tx, &org, &input.target_id)? {
        return Err(target_not_found());
    }
    let current = attached_tx(tx, &org.id, &input.target_id)?;
    if current.contains(&p.id) {
        return Err(ServiceError::new(
            "DuplicatePolicyAttachmentException",
            400,
            "The selected policy is already attached to the specified target.",
        ));
    }
    let mut same_type = 0;
    for id in &current {
        if read_policy_tx(tx, &org.id, id)?.is_some_and(|q| q.r#type == p.r#type) {
            same_type += 1;
        }
    }
    if same_type >= if authorizes(&p.r#type) { MAX_ATTACHED } else { MAX_ATTACHED_MANAGEMENT } {
        return Err(constraint(
            "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            "You attempted to exceed the number of policies of a certain type that can be attached to an entity.",
        ));
    }
    attach_tx(tx, &org, &p.id, &input.target_id)?;
    touch(tx, &org.id)
}

/// Detaches a policy. A target keeps at least one SCP while SCPs are enabled, as in AWS: detaching
/// the last would leave everything below it denied with no policy to say so.
pub fn detach_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DetachPolicyRequest) -> Result<(), ServiceError> {
    let org = super::access::writer(tx, ctx, "DetachPolicy")?;
    let p = read_policy_tx(tx, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    if !target_exists_tx(tx, &org, &input.target_id)? {
        return Err(target_not_found());
    }
    let current = attached_tx(tx, &org.id, &input.target_id)?;
    if !current.contains(&p.id) {
        return Err(ServiceError::new(
            "PolicyNotAttachedException",
            400,
            "The policy isn't attached to the specified target in the specified root.",
        ));
    }
    if p.r#type == SCP || p.r#type == RCP {
        let mut same_type = 0;
        for id in &current {
            if read_policy_tx(tx, &org.id, id)?.is_some_and(|q| q.r#type == p.r#type) {
                same_type += 1;
            }
        }
        if same_type <= 1 {
            return Err(constraint(
                "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                "You attempted to detach a policy from an entity that would cause the entity to have fewer than the \
                 minimum number of policies of a certain type required.",
            ));
        }
    }
    tx.delete(&keys::org_attachment(&org.id, &input.target_id, &p.id))?;
    tx.delete(&keys::org_policy_target(&org.id, &p.id, &input.target_id))?;
    touch(tx, &org.id)
}

pub fn list_policies_for_target(
    ctx: &Ctx<'_>,
    input: shapes::ListPoliciesForTargetRequest,
) -> Result<shapes::ListPoliciesForTargetResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListPoliciesForTarget")?;
    target(ctx.db, &org, &input.target_id)?.ok_or_else(target_not_found)?;
    let mut out = Vec::new();
    for id in attached(ctx.db, &org.id, &input.target_id)? {
        if let Some(p) = read_policy(ctx.db, &org.id, &id)?.filter(|p| p.r#type == input.filter) {
            out.push(summary(&org, &p));
        }
    }
    let (policies, next_token) = page(out, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListPoliciesForTargetResponse { policies: Some(policies), next_token })
}

pub fn list_targets_for_policy(
    ctx: &Ctx<'_>,
    input: shapes::ListTargetsForPolicyRequest,
) -> Result<shapes::ListTargetsForPolicyResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListTargetsForPolicy")?;
    read_policy(ctx.db, &org.id, &input.policy_id)?.ok_or_else(policy_not_found)?;
    let prefix = keys::org_policy_targets(&org.id, &input.policy_id);
    let mut out = Vec::new();
    for (k, _) in ctx.db.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        let id = String::from_utf8_lossy(k.get(prefix.len()..).unwrap_or_default()).into_owned();
        if let Some((name, kind)) = target(ctx.db, &org, &id)? {
            let arn = match kind {
                "ROOT" => root_shape(&org).arn.unwrap_or_default(),
                "ORGANIZATIONAL_UNIT" => super::tree::ou_arn(&org, &id),
                _ => super::accounts::account_arn(&org, &id),
            };
            out.push(shapes::PolicyTargetSummary {
                target_id: Some(id),
                arn: Some(arn),
                name: Some(name),
                r#type: Some(kind.to_owned()),
            });
        }
    }
    let (targets, next_token) = page(out, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListTargetsForPolicyResponse { targets: Some(targets), next_token })
}

fn root_of(org: &OrgRecord, root_id: &str) -> Result<(), ServiceError> {
    if root_id != org.root_id {
        return Err(ServiceError::new(
            "RootNotFoundException",
            400,
            "We can't find a root with the RootId that you specified.",
        ));
    }
    Ok(())
}

/// Enables a policy type on the root. Enabling SCPs (RCPs) attaches `FullAWSAccess`
/// (`RCPFullAWSAccess`) everywhere, as AWS does, so nothing changes until a narrower policy is
/// attached.
pub fn enable_policy_type(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnablePolicyTypeRequest,
) -> Result<shapes::EnablePolicyTypeResponse, ServiceError> {
    let mut org = managed_tx(tx, &ctx.principal.account_id)?;
    root_of(&org, &input.root_id)?;
    if org.feature_set != "ALL" {
        return Err(constraint(
            "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE",
            "You attempted to perform an operation that requires the organization to be configured to support all \
             features.",
        ));
    }
    if org.enabled_types.contains(&input.policy_type) {
        return Err(ServiceError::new(
            "PolicyTypeAlreadyEnabledException",
            400,
            "The specified policy type is already enabled.",
        ));
    }
    org.enabled_types.push(input.policy_type.clone());
    records::write_tx(tx, &keys::organization(&org.id), &org)?;
    if let Some(full) = full_access_of(&input.policy_type) {
        let mut targets = vec![org.root_id.clone()];
        for (k, v) in tx.scan_prefix(&keys::org_nodes(&org.id), None, usize::MAX >> 1, false)? {
            if let Ok(n) = records::decode::<super::Node>(&k, &v)
                && !n.is_root()
            {
                targets.push(n.id);
            }
        }
        for (k, v) in tx.scan_prefix(b"orgmember/", None, usize::MAX >> 1, false)? {
            if let Ok(m) = records::decode::<super::Membership>(&k, &v)
                && m.org == org.id
            {
                targets.push(m.account);
            }
        }
        for t in targets {
            attach_tx(tx, &org, full, &t)?;
        }
    }
    touch(tx, &org.id)?;
    Ok(shapes::EnablePolicyTypeResponse { root: Some(root_shape(&org)) })
}

/// Disables a policy type: its policies stop applying and are detached everywhere.
pub fn disable_policy_type(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisablePolicyTypeRequest,
) -> Result<shapes::DisablePolicyTypeResponse, ServiceError> {
    let mut org = managed_tx(tx, &ctx.principal.account_id)?;
    root_of(&org, &input.root_id)?;
    if !org.enabled_types.contains(&input.policy_type) {
        return Err(type_not_enabled());
    }
    org.enabled_types.retain(|t| *t != input.policy_type);
    records::write_tx(tx, &keys::organization(&org.id), &org)?;
    let attachments = tx.scan_prefix(format!("orgattach/{}/", org.id).as_bytes(), None, usize::MAX >> 1, false)?;
    for (k, _) in attachments {
        let text = String::from_utf8_lossy(&k).into_owned();
        let mut parts = text.rsplitn(3, '/');
        let (Some(policy), Some(target)) = (parts.next(), parts.next()) else { continue };
        if read_policy_tx(tx, &org.id, policy)?.is_some_and(|p| p.r#type == input.policy_type) {
            tx.delete(&k)?;
            tx.delete(&keys::org_policy_target(&org.id, policy, target))?;
        }
    }
    touch(tx, &org.id)?;
    Ok(shapes::DisablePolicyTypeResponse { root: Some(root_shape(&org)) })
}

/// The effective management policy of an account: every policy of the type from the root down to
/// the account, merged with the inheritance operators. A member account may ask for its own; the
/// management account (or a delegated reader) for any account.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeEffectivePolicy.html>.
pub fn describe_effective_policy(
    ctx: &Ctx<'_>,
    input: shapes::DescribeEffectivePolicyRequest,
) -> Result<shapes::DescribeEffectivePolicyResponse, ServiceError> {
    let caller = &ctx.principal.account_id;
    let (org, _) = membership(ctx.db, caller)?.ok_or_else(super::not_in_use)?;
    let account = input.target_id.clone().unwrap_or_else(|| caller.clone());
    if account != *caller {
        super::access::reader(ctx, "DescribeEffectivePolicy")?;
    }
    effective_type(&input.policy_type)?;
    if account.starts_with("r-") || account.starts_with("ou-") {
        return Err(invalid(
            "An organization root or OU is not a target of an effective policy: specify an account. (Reason: \
             TARGET_NOT_SUPPORTED)",
        ));
    }
    let (_, m) = membership(ctx.db, &account)?.filter(|(o, _)| o.id == org.id).ok_or_else(target_not_found)?;
    let not_found = effective_not_found;
    if !org.enabled_types.contains(&input.policy_type) {
        return Err(not_found());
    }
    let (levels, updated) = account_levels(ctx.db, &org, &m, &input.policy_type)?;
    let levels = documents(&levels);
    let merged = super::management::effective(&levels).ok_or_else(not_found)?;
    Ok(shapes::DescribeEffectivePolicyResponse {
        effective_policy: Some(shapes::EffectivePolicy {
            policy_content: Some(merged.to_string()),
            last_updated_timestamp: updated,
            target_id: Some(account),
            policy_type: Some(input.policy_type),
        }),
    })
}

/// The policies of one management type that bear on an account, level by level from the root
/// down to the account itself, each with its id; and when the latest of them changed.
type Levels = Vec<Vec<(String, serde_json::Value)>>;

/// The documents of each level, without their policies' ids.
fn documents(levels: &Levels) -> Vec<Vec<serde_json::Value>> {
    levels.iter().map(|level| level.iter().map(|(_, doc)| doc.clone()).collect()).collect()
}

fn account_levels(
    db: &Db,
    org: &OrgRecord,
    m: &Membership,
    kind: &str,
) -> Result<(Levels, Option<OffsetDateTime>), ServiceError> {
    let mut levels = Vec::new();
    let mut updated = None;
    for target in super::tree::lineage(db, &org.id, &m.parent)?.iter().chain([&m.account]) {
        let mut level = Vec::new();
        for id in attached(db, &org.id, target)? {
            if let Some(p) = read_policy(db, &org.id, &id)?.filter(|p| p.r#type == kind)
                && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&p.content)
            {
                level.push((id, doc));
                updated = updated.max(p.updated);
            }
        }
        levels.push(level);
    }
    Ok((levels, updated))
}

/// An effective policy's validation errors, and when the latest policy behind it changed.
type Checked = (Vec<shapes::EffectivePolicyValidationError>, Option<OffsetDateTime>);

/// An account's effective policy of a management type checked against that type's rules
/// (`management::problems`), each problem with the policies that contributed to it: those that
/// set anything at the element's path, or at the nearest enclosing element some policy sets.
/// `None` when the account has no effective policy of the type.
fn account_problems(db: &Db, org: &OrgRecord, m: &Membership, kind: &str) -> Result<Option<Checked>, ServiceError> {
    let (levels, updated) = account_levels(db, org, m, kind)?;
    let docs = documents(&levels);
    let Some(merged) = super::management::effective(&docs) else { return Ok(None) };
    let errors = super::management::problems(kind, &merged)
        .into_iter()
        .map(|p| {
            let mut at = p.path.as_str();
            let contributing = loop {
                let ids: Vec<String> = levels
                    .iter()
                    .flatten()
                    .filter(|(_, doc)| super::management::touches(doc, at))
                    .map(|(id, _)| id.clone())
                    .collect();
                match at.rsplit_once('.') {
                    Some((parent, _)) if ids.is_empty() => at = parent,
                    _ => break ids,
                }
            };
            shapes::EffectivePolicyValidationError {
                error_code: Some(p.code.to_string()),
                error_message: Some(p.message),
                path_to_error: Some(p.path),
                contributing_policies: Some(contributing),
            }
        })
        .collect();
    Ok(Some((errors, updated)))
}

fn effective_not_found() -> ServiceError {
    ServiceError::new(
        "EffectivePolicyNotFoundException",
        400,
        "We can't find an effective policy of that type for the specified account.",
    )
}

/// A management policy type whose effective policies can be listed: not an authorization type.
fn effective_type(kind: &str) -> Result<(), ServiceError> {
    if authorizes(kind) {
        return Err(invalid(format!(
            "You specified an invalid value for policyType: {kind}. Effective policies are computed for management \
             policies only. (Reason: INVALID_ENUM_POLICY_TYPE)"
        )));
    }
    Ok(())
}

/// The accounts of the organization whose effective policy of a type fails validation.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccountsWithInvalidEffectivePolicy.html>.
pub fn list_accounts_with_invalid_effective_policy(
    ctx: &Ctx<'_>,
    input: shapes::ListAccountsWithInvalidEffectivePolicyRequest,
) -> Result<shapes::ListAccountsWithInvalidEffectivePolicyResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListAccountsWithInvalidEffectivePolicy")?;
    effective_type(&input.policy_type)?;
    let mut invalid_accounts = Vec::new();
    if org.enabled_types.contains(&input.policy_type) {
        for m in super::accounts_of(ctx.db, &org.id)? {
            if account_problems(ctx.db, &org, &m, &input.policy_type)?.is_some_and(|(errors, _)| !errors.is_empty()) {
                invalid_accounts.push(super::accounts::account_shape(ctx.db, &org, &m)?);
            }
        }
    }
    let (accounts, next_token) = page(invalid_accounts, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListAccountsWithInvalidEffectivePolicyResponse {
        accounts: Some(accounts),
        policy_type: Some(input.policy_type),
        next_token,
    })
}

/// Why one account's effective policy of a type fails validation.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListEffectivePolicyValidationErrors.html>.
pub fn list_effective_policy_validation_errors(
    ctx: &Ctx<'_>,
    input: shapes::ListEffectivePolicyValidationErrorsRequest,
) -> Result<shapes::ListEffectivePolicyValidationErrorsResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListEffectivePolicyValidationErrors")?;
    effective_type(&input.policy_type)?;
    let (_, m) = membership(ctx.db, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(|| {
        ServiceError::new("AccountNotFoundException", 400, "You specified an account that doesn't exist.")
    })?;
    if !org.enabled_types.contains(&input.policy_type) {
        return Err(effective_not_found());
    }
    let (errors, updated) = account_problems(ctx.db, &org, &m, &input.policy_type)?.ok_or_else(effective_not_found)?;
    let lineage = super::tree::lineage(ctx.db, &org.id, &m.parent)?;
    let path = rampart_core::orgs::path(&org.id, lineage.iter().map(String::as_str).chain([m.account.as_str()]));
    let (errors, next_token) = page(errors, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListEffectivePolicyValidationErrorsResponse {
        account_id: Some(m.account),
        policy_type: Some(input.policy_type),
        path: Some(path),
        evaluation_timestamp: updated,
        next_token,
        effective_policy_validation_errors: Some(errors),
    })
}
