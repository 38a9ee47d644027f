//! The organization itself, its root and its organizational units.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use time::OffsetDateTime;

use super::{
    Membership, Node, OrgRecord, constraint, invalid, managed_tx, membership, membership_tx, page, random_id, touch,
};

/// The deepest an OU may be nested below the root.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>.
pub const MAX_OU_DEPTH: usize = 5;

/// The AWS managed SCP every root, OU and account starts with.
pub const FULL_AWS_ACCESS: &str = "p-FullAWSAccess";

fn organization_shape(org: &OrgRecord) -> shapes::Organization {
    shapes::Organization {
        id: Some(org.id.clone()),
        arn: Some(org.arn()),
        feature_set: Some(org.feature_set.clone()),
        master_account_arn: Some(format!(
            "arn:aws:organizations::{}:account/{}/{}",
            org.management_account, org.id, org.management_account
        )),
        master_account_id: Some(org.management_account.clone()),
        master_account_email: Some(org.management_email.clone()),
        // Deprecated in AWS's answer: always empty, the root lists the types.
        available_policy_types: Some(Vec::new()),
    }
}

pub(crate) fn root_shape(org: &OrgRecord) -> shapes::Root {
    shapes::Root {
        id: Some(org.root_id.clone()),
        arn: Some(format!("arn:aws:organizations::{}:root/{}/{}", org.management_account, org.id, org.root_id)),
        name: Some("Root".to_owned()),
        policy_types: Some(
            org.enabled_types
                .iter()
                .map(|t| shapes::PolicyTypeSummary { r#type: Some(t.clone()), status: Some("ENABLED".to_owned()) })
                .collect(),
        ),
    }
}

pub(crate) fn ou_arn(org: &OrgRecord, id: &str) -> String {
    format!("arn:aws:organizations::{}:ou/{}/{id}", org.management_account, org.id)
}

fn ou_shape(org: &OrgRecord, node: &Node, path: String) -> shapes::OrganizationalUnit {
    shapes::OrganizationalUnit {
        id: Some(node.id.clone()),
        arn: Some(ou_arn(org, &node.id)),
        name: Some(node.name.clone()),
        path: Some(path),
    }
}

/// Creates an organization with the caller's account as its management account. As in AWS's API,
/// no policy type is enabled yet (the console enables SCPs itself): EnablePolicyType turns SCPs
/// on and attaches `FullAWSAccess` everywhere.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateOrganization.html>.
pub fn create_organization(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateOrganizationRequest,
) -> Result<shapes::CreateOrganizationResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    if membership_tx(tx, account)?.is_some() {
        return Err(ServiceError::new(
            "AlreadyInOrganizationException",
            400,
            "The provided account is already a member of an organization.",
        ));
    }
    let feature_set = input.feature_set.unwrap_or_else(|| "ALL".to_owned());
    let email = records::read_tx::<rampart_core::account::AccountRecord>(tx, &keys::account(account))?
        .map(|a| a.root_email)
        .unwrap_or_default();
    let org = OrgRecord {
        id: format!("o-{}", random_id(10)?),
        feature_set: feature_set.clone(),
        management_account: account.clone(),
        management_email: email.clone(),
        root_id: format!("r-{}", random_id(4)?),
        enabled_types: Vec::new(),
        created: ctx.now,
    };
    records::write_tx(tx, &keys::organization(&org.id), &org)?;
    let root = Node { id: org.root_id.clone(), name: "Root".to_owned(), parent: None };
    records::write_tx(tx, &keys::org_node(&org.id, &root.id), &root)?;
    add_member(tx, &org, account, &org.root_id, "Management account", &email, "CREATED", ctx.now)?;
    touch(tx, &org.id)?;
    Ok(shapes::CreateOrganizationResponse { organization: Some(organization_shape(&org)) })
}

/// Makes `account` a member, in `parent`.
#[allow(clippy::too_many_arguments, reason = "the fields of one membership")]
pub(crate) fn add_member(
    tx: &mut Tx<'_>,
    org: &OrgRecord,
    account: &str,
    parent: &str,
    name: &str,
    email: &str,
    joined_method: &str,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    let m = Membership {
        org: org.id.clone(),
        account: account.to_owned(),
        parent: parent.to_owned(),
        name: name.to_owned(),
        email: email.to_owned(),
        joined_method: joined_method.to_owned(),
        joined: now,
        closed: None,
    };
    records::write_tx(tx, &keys::org_member(account), &m)?;
    tx.put(&keys::org_child(&org.id, parent, account), b"ACCOUNT")?;
    Ok(())
}

pub fn describe_organization(ctx: &Ctx<'_>, _input: ()) -> Result<shapes::DescribeOrganizationResponse, ServiceError> {
    let (org, _) = membership(ctx.db, &ctx.principal.account_id)?.ok_or_else(super::not_in_use)?;
    Ok(shapes::DescribeOrganizationResponse { organization: Some(organization_shape(&org)) })
}

/// Deletes an organization that has no member account but its management account left.
pub fn delete_organization(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, _input: ()) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let members = tx.scan_prefix(b"orgmember/", None, usize::MAX >> 1, false)?;
    let others = members
        .iter()
        .filter_map(|(k, v)| records::decode::<Membership>(k, v).ok())
        .any(|m| m.org == org.id && m.account != org.management_account);
    if others {
        return Err(ServiceError::new(
            "OrganizationNotEmptyException",
            400,
            "To delete an organization you must first remove all member accounts (except the management account).",
        ));
    }
    if super::transfers::active_for(tx, &org.id, ctx.now)? {
        return Err(super::constraint(
            "ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS",
            "You cannot delete organization due to an ongoing responsibility transfer process. To delete the \
             organization, you must resolve the current transfer process.",
        ));
    }
    let ou_left = tx
        .scan_prefix(&keys::org_nodes(&org.id), None, 2, false)?
        .iter()
        .filter_map(|(k, v)| records::decode::<Node>(k, v).ok())
        .any(|n| !n.is_root());
    if ou_left {
        return Err(ServiceError::new(
            "OrganizationNotEmptyException",
            400,
            "To delete an organization you must first delete all organizational units.",
        ));
    }
    for prefix in [
        format!("orgnode/{}/", org.id),
        format!("orgchild/{}/", org.id),
        format!("orgpolicy/{}/", org.id),
        format!("orgattach/{}/", org.id),
        format!("orgtarget/{}/", org.id),
        format!("orgcas/{}/", org.id),
    ] {
        for (k, _) in tx.scan_prefix(prefix.as_bytes(), None, usize::MAX >> 1, false)? {
            tx.delete(&k)?;
        }
    }
    // Its delegations, resource policy and invitations go with it.
    tx.delete(&keys::org_delegated_administrators(&org.id))?;
    tx.delete(&keys::org_resource_policy(&org.id))?;
    for (k, v) in tx.scan_prefix(keys::ORG_HANDSHAKES, None, usize::MAX >> 1, false)? {
        if records::decode::<super::HandshakeRecord>(&k, &v).is_ok_and(|h| h.org == org.id) {
            tx.delete(&k)?;
        }
    }
    tx.delete(&keys::org_member(&org.management_account))?;
    tx.delete(&keys::organization(&org.id))?;
    touch(tx, &org.id)?;
    Ok(())
}

pub fn list_roots(ctx: &Ctx<'_>, input: shapes::ListRootsRequest) -> Result<shapes::ListRootsResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListRoots")?;
    let (roots, next_token) = page(vec![root_shape(&org)], input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListRootsResponse { roots: Some(roots), next_token })
}

pub(crate) fn read_node(db: &Db, org: &str, id: &str) -> Result<Option<Node>, ServiceError> {
    records::read_cached(db, &keys::org_node(org, id))
}

pub(crate) fn read_node_tx(tx: &Tx<'_>, org: &str, id: &str) -> Result<Option<Node>, ServiceError> {
    records::read_tx(tx, &keys::org_node(org, id))
}

fn parent_not_found() -> ServiceError {
    ServiceError::new(
        "ParentNotFoundException",
        400,
        "We can't find a root or OU with the ParentId that you specified.",
    )
}

fn ou_not_found() -> ServiceError {
    ServiceError::new(
        "OrganizationalUnitNotFoundException",
        400,
        "We can't find an OU with the OrganizationalUnitId that you specified.",
    )
}

/// The ids from the root down to `id` (a root or OU), both included, reading nodes with `read`.
fn lineage_by(
    id: &str,
    read: &dyn Fn(&str) -> Result<Option<Node>, ServiceError>,
) -> Result<Vec<String>, ServiceError> {
    let mut out = vec![id.to_owned()];
    let mut at = id.to_owned();
    while let Some(parent) = read(&at)?.and_then(|n| n.parent) {
        if out.len() > MAX_OU_DEPTH + 2 {
            break;
        }
        out.push(parent.clone());
        at = parent;
    }
    out.reverse();
    Ok(out)
}

/// [`lineage_by`] inside a transaction.
pub(crate) fn lineage_tx(tx: &Tx<'_>, org: &str, id: &str) -> Result<Vec<String>, ServiceError> {
    lineage_by(id, &|at| read_node_tx(tx, org, at))
}

/// [`lineage_by`] through the store's cache.
pub(crate) fn lineage(db: &Db, org: &str, id: &str) -> Result<Vec<String>, ServiceError> {
    lineage_by(id, &|at| read_node(db, org, at))
}

/// An entity's path as Organizations writes it: `o-…/r-…/ou-…/…/`.
fn path(org: &OrgRecord, lineage: &[String]) -> String {
    rampart_core::orgs::path(&org.id, lineage.iter().map(String::as_str))
}

/// Whether an OU id has the form Organizations gives them, under this organization's root.
fn ou_id_of(org: &OrgRecord, id: &str) -> Result<(), ServiceError> {
    let root_part = org.root_id.trim_start_matches("r-");
    let ok = id
        .strip_prefix("ou-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(r, tail)| r == root_part && tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !ok && !id.starts_with("ou-") {
        return Err(invalid(format!(
            "You specified an invalid value for organizationalUnitId: {id} (Reason: INVALID_ENUM)"
        )));
    }
    Ok(())
}

pub fn create_organizational_unit(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateOrganizationalUnitRequest,
) -> Result<shapes::CreateOrganizationalUnitResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let parent = read_node_tx(tx, &org.id, &input.parent_id)?.ok_or_else(parent_not_found)?;
    let lineage = lineage_tx(tx, &org.id, &parent.id)?;
    // The lineage holds the root: an OU under it at depth `lineage.len()`.
    if lineage.len() > MAX_OU_DEPTH {
        return Err(constraint(
            "OU_DEPTH_LIMIT_EXCEEDED",
            "You attempted to create an OU tree that is too many levels deep.",
        ));
    }
    for (k, kind) in tx.scan_prefix(&keys::org_children(&org.id, &parent.id), None, usize::MAX >> 1, false)? {
        if kind != b"ORGANIZATIONAL_UNIT" {
            continue;
        }
        let id = String::from_utf8_lossy(k.rsplit(|b| *b == b'/').next().unwrap_or_default()).into_owned();
        if read_node_tx(tx, &org.id, &id)?.is_some_and(|n| n.name == input.name) {
            return Err(ServiceError::new(
                "DuplicateOrganizationalUnitException",
                400,
                "An OU with the same name already exists.",
            ));
        }
    }
    let id = format!("ou-{}-{}", org.root_id.trim_start_matches("r-"), random_id(8)?);
    let node = Node { id: id.clone(), name: input.name, parent: Some(parent.id.clone()) };
    records::write_tx(tx, &keys::org_node(&org.id, &id), &node)?;
    tx.put(&keys::org_child(&org.id, &parent.id, &id), b"ORGANIZATIONAL_UNIT")?;
    super::extras::put_tags(tx, &org, &id, input.tags.unwrap_or_default())?;
    super::policies::attach_defaults(tx, &org, &id)?;
    touch(tx, &org.id)?;
    let mut full = lineage;
    full.push(id);
    Ok(shapes::CreateOrganizationalUnitResponse { organizational_unit: Some(ou_shape(&org, &node, path(&org, &full))) })
}

fn read_ou(db: &Db, org: &OrgRecord, id: &str) -> Result<Node, ServiceError> {
    ou_id_of(org, id)?;
    read_node(db, &org.id, id)?.filter(|n| !n.is_root()).ok_or_else(ou_not_found)
}

fn read_ou_tx(tx: &Tx<'_>, org: &OrgRecord, id: &str) -> Result<Node, ServiceError> {
    ou_id_of(org, id)?;
    read_node_tx(tx, &org.id, id)?.filter(|n| !n.is_root()).ok_or_else(ou_not_found)
}

pub fn describe_organizational_unit(
    ctx: &Ctx<'_>,
    input: shapes::DescribeOrganizationalUnitRequest,
) -> Result<shapes::DescribeOrganizationalUnitResponse, ServiceError> {
    let org = super::access::reader(ctx, "DescribeOrganizationalUnit")?;
    let node = read_ou(ctx.db, &org, &input.organizational_unit_id)?;
    let lineage = lineage(ctx.db, &org.id, &node.id)?;
    Ok(shapes::DescribeOrganizationalUnitResponse {
        organizational_unit: Some(ou_shape(&org, &node, path(&org, &lineage))),
    })
}

pub fn update_organizational_unit(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateOrganizationalUnitRequest,
) -> Result<shapes::UpdateOrganizationalUnitResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let mut node = read_ou_tx(tx, &org, &input.organizational_unit_id)?;
    if let Some(name) = input.name {
        node.name = name;
        records::write_tx(tx, &keys::org_node(&org.id, &node.id), &node)?;
    }
    let lineage = lineage_tx(tx, &org.id, &node.id)?;
    Ok(shapes::UpdateOrganizationalUnitResponse {
        organizational_unit: Some(ou_shape(&org, &node, path(&org, &lineage))),
    })
}

/// Deletes an OU that holds no account and no OU.
pub fn delete_organizational_unit(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteOrganizationalUnitRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let node = read_ou_tx(tx, &org, &input.organizational_unit_id)?;
    if !tx.scan_prefix(&keys::org_children(&org.id, &node.id), None, 1, false)?.is_empty() {
        return Err(ServiceError::new(
            "OrganizationalUnitNotEmptyException",
            400,
            "The specified OU is not empty. Move all accounts to another root or to other OUs, remove all child OUs, \
             and try the operation again.",
        ));
    }
    for (k, _) in tx.scan_prefix(&keys::org_attachments(&org.id, &node.id), None, usize::MAX >> 1, false)? {
        let policy = String::from_utf8_lossy(k.rsplit(|b| *b == b'/').next().unwrap_or_default()).into_owned();
        tx.delete(&k)?;
        tx.delete(&keys::org_policy_target(&org.id, &policy, &node.id))?;
    }
    tx.delete(&keys::org_node(&org.id, &node.id))?;
    if let Some(parent) = &node.parent {
        tx.delete(&keys::org_child(&org.id, parent, &node.id))?;
    }
    touch(tx, &org.id)?;
    Ok(())
}

/// A parent's children of one type (`ACCOUNT` or `ORGANIZATIONAL_UNIT`), by id.
pub(crate) fn children(db: &Db, org: &str, parent: &str, kind: &str) -> Result<Vec<String>, ServiceError> {
    let prefix = keys::org_children(org, parent);
    Ok(db
        .scan_prefix(&prefix, None, usize::MAX >> 1, false)?
        .into_iter()
        .filter(|(_, v)| v == kind.as_bytes())
        .filter_map(|(k, _)| Some(String::from_utf8_lossy(k.get(prefix.len()..)?).into_owned()))
        .collect())
}

pub fn list_organizational_units_for_parent(
    ctx: &Ctx<'_>,
    input: shapes::ListOrganizationalUnitsForParentRequest,
) -> Result<shapes::ListOrganizationalUnitsForParentResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListOrganizationalUnitsForParent")?;
    read_node(ctx.db, &org.id, &input.parent_id)?.ok_or_else(parent_not_found)?;
    let mut units = Vec::new();
    for id in children(ctx.db, &org.id, &input.parent_id, "ORGANIZATIONAL_UNIT")? {
        if let Some(node) = read_node(ctx.db, &org.id, &id)? {
            let lineage = lineage(ctx.db, &org.id, &id)?;
            units.push(ou_shape(&org, &node, path(&org, &lineage)));
        }
    }
    let (organizational_units, next_token) = page(units, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListOrganizationalUnitsForParentResponse {
        organizational_units: Some(organizational_units),
        next_token,
    })
}

pub fn list_children(
    ctx: &Ctx<'_>,
    input: shapes::ListChildrenRequest,
) -> Result<shapes::ListChildrenResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListChildren")?;
    read_node(ctx.db, &org.id, &input.parent_id)?.ok_or_else(parent_not_found)?;
    let ids = children(ctx.db, &org.id, &input.parent_id, &input.child_type)?;
    let all: Vec<shapes::Child> =
        ids.into_iter().map(|id| shapes::Child { id: Some(id), r#type: Some(input.child_type.clone()) }).collect();
    let (children, next_token) = page(all, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListChildrenResponse { children: Some(children), next_token })
}

pub fn list_parents(
    ctx: &Ctx<'_>,
    input: shapes::ListParentsRequest,
) -> Result<shapes::ListParentsResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListParents")?;
    let child = &input.child_id;
    let parent = if child.starts_with("ou-") {
        read_node(ctx.db, &org.id, child)?.and_then(|n| n.parent)
    } else {
        membership(ctx.db, child)?.filter(|(o, _)| o.id == org.id).map(|(_, m)| m.parent)
    };
    let parent = parent.ok_or_else(|| {
        ServiceError::new(
            "ChildNotFoundException",
            400,
            "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
        )
    })?;
    let kind = if parent.starts_with("r-") { "ROOT" } else { "ORGANIZATIONAL_UNIT" };
    let (parents, next_token) = page(
        vec![shapes::Parent { id: Some(parent), r#type: Some(kind.to_owned()) }],
        input.next_token.as_deref(),
        input.max_results,
    )?;
    Ok(shapes::ListParentsResponse { parents: Some(parents), next_token })
}
