//! The Organizations resources a request acts on, for resource-level permissions: the ARNs of the
//! accounts, OUs, roots, policies and handshakes its input names (found in the tree, since an ARN
//! carries the management account, the organization and, for a policy or handshake, its type),
//! and the `organizations:PolicyType` and `organizations:ServicePrincipal` keys it supplies. Which
//! operation acts on which resource is the Service Authorization Reference's table.
//! See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html>.
//!
//! An id that names nothing in the caller's organization (or a caller outside any) leaves the
//! resource `*`, as before: the operation then answers that it is not found.

use rampart_core::{Principal, ServiceError, keys, records};
use rampart_shapes::{Operation, Value};
use rampart_store::Db;

use super::{OrgRecord, membership};

/// What a request asks the authorizer about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// The ARNs it acts on; `["*"]` where it names none.
    pub resources: Vec<String>,
    /// `organizations:PolicyType`, `organizations:ServicePrincipal`, where the request has them.
    pub keys: Vec<(String, Vec<String>)>,
}

const POLICY_TYPE: &str = "organizations:PolicyType";
const SERVICE_PRINCIPAL: &str = "organizations:ServicePrincipal";

/// The resources and keys of an Organizations request.
pub fn asked(db: &Db, principal: &Principal, op: &Operation, input: &Value) -> Result<Asked, ServiceError> {
    let member = |name: &str| op.input.and_then(|shape| input.string_field(shape, name));
    let nested = |outer: &str, inner: &str| -> Option<&str> {
        let shape = op.input?;
        let (field_shape, value) = input.field(shape, outer)?;
        value.string_field(field_shape, inner)
    };
    let org = membership(db, &principal.account_id)?.map(|(o, _)| o);
    let mut asked = Asked::default();
    let policy_type = |asked: &mut Asked, t: Option<&str>| {
        if let Some(t) = t {
            asked.keys.push((POLICY_TYPE.to_owned(), vec![t.to_owned()]));
        }
    };
    let target = |asked: &mut Asked, id: Option<&str>| -> Result<(), ServiceError> {
        let arn = match (&org, id) {
            (Some(org), Some(id)) => target_arn(db, org, id)?,
            _ => None,
        };
        asked.resources.push(arn.map_or_else(|| "*".to_owned(), |(arn, _)| arn));
        Ok(())
    };
    match op.name {
        "AcceptHandshake" | "CancelHandshake" | "DeclineHandshake" | "DescribeHandshake" => {
            let arn = match member("HandshakeId") {
                Some(id) => handshake_arn(db, id)?,
                None => None,
            };
            asked.resources.push(arn.unwrap_or_else(|| "*".to_owned()));
        }
        "AttachPolicy" | "DetachPolicy" => {
            let kind = policy(db, org.as_ref(), member("PolicyId"), &mut asked)?;
            policy_type(&mut asked, kind.as_deref());
            target(&mut asked, member("TargetId"))?;
        }
        "DeletePolicy" | "DescribePolicy" | "UpdatePolicy" | "ListTargetsForPolicy" => {
            let kind = policy(db, org.as_ref(), member("PolicyId"), &mut asked)?;
            policy_type(&mut asked, kind.as_deref());
        }
        "CloseAccount" | "DescribeAccount" | "RemoveAccountFromOrganization" | "ListDelegatedServicesForAccount" => {
            target(&mut asked, member("AccountId"))?;
        }
        "RegisterDelegatedAdministrator" | "DeregisterDelegatedAdministrator" => {
            target(&mut asked, member("AccountId"))?;
            asked.keys.extend(member("ServicePrincipal").map(|s| (SERVICE_PRINCIPAL.to_owned(), vec![s.to_owned()])));
        }
        "ListDelegatedAdministrators" | "EnableAWSServiceAccess" | "DisableAWSServiceAccess" => {
            asked.keys.extend(member("ServicePrincipal").map(|s| (SERVICE_PRINCIPAL.to_owned(), vec![s.to_owned()])));
        }
        "CreateOrganizationalUnit" | "ListAccountsForParent" | "ListChildren" | "ListOrganizationalUnitsForParent" => {
            target(&mut asked, member("ParentId"))?;
        }
        "DeleteOrganizationalUnit" | "DescribeOrganizationalUnit" | "UpdateOrganizationalUnit" => {
            target(&mut asked, member("OrganizationalUnitId"))?;
        }
        // Without a target, the caller's own account's effective policy.
        "DescribeEffectivePolicy" => {
            target(&mut asked, Some(member("TargetId").unwrap_or(&principal.account_id)))?;
            policy_type(&mut asked, member("PolicyType"));
        }
        "ListEffectivePolicyValidationErrors" => {
            target(&mut asked, member("AccountId"))?;
            policy_type(&mut asked, member("PolicyType"));
        }
        "ListAccountsWithInvalidEffectivePolicy" => policy_type(&mut asked, member("PolicyType")),
        "EnablePolicyType" | "DisablePolicyType" => {
            target(&mut asked, member("RootId"))?;
            policy_type(&mut asked, member("PolicyType"));
        }
        "ListParents" => target(&mut asked, member("ChildId"))?,
        "ListPoliciesForTarget" => {
            target(&mut asked, member("TargetId"))?;
            policy_type(&mut asked, member("Filter"));
        }
        "ListPolicies" => policy_type(&mut asked, member("Filter")),
        "CreatePolicy" => policy_type(&mut asked, member("Type")),
        "MoveAccount" => {
            target(&mut asked, member("AccountId"))?;
            target(&mut asked, member("SourceParentId"))?;
            target(&mut asked, member("DestinationParentId"))?;
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            let found = match (&org, member("ResourceId")) {
                (Some(org), Some(id)) => target_arn(db, org, id)?,
                _ => None,
            };
            let (arn, kind) = found.map_or_else(|| ("*".to_owned(), None), |(arn, kind)| (arn, kind));
            asked.resources.push(arn);
            policy_type(&mut asked, kind.as_deref());
        }
        // An account invited by its id; an invitation by email names no account yet.
        "InviteAccountToOrganization" if nested("Target", "Type") == Some("ACCOUNT") => {
            target(&mut asked, nested("Target", "Id"))?;
        }
        _ => {}
    }
    if asked.resources.is_empty() {
        asked.resources.push("*".to_owned());
    }
    Ok(asked)
}

/// The ARN of a target, parent, child or taggable resource of `org` by its id, and for a policy
/// its type; `None` for an id that names none of `org`'s.
fn target_arn(db: &Db, org: &OrgRecord, id: &str) -> Result<Option<(String, Option<String>)>, ServiceError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        let belongs = membership(db, id)?.is_some_and(|(o, _)| o.id == org.id);
        return Ok(belongs.then(|| (super::accounts::account_arn(org, id), None)));
    }
    if id == org.root_id {
        let arn = format!("arn:aws:organizations::{}:root/{}/{}", org.management_account, org.id, org.root_id);
        return Ok(Some((arn, None)));
    }
    if id.starts_with("ou-") {
        let exists = super::tree::read_node(db, &org.id, id)?.is_some();
        return Ok(exists.then(|| (super::tree::ou_arn(org, id), None)));
    }
    if id.starts_with("p-") {
        return Ok(super::policies::read_policy(db, &org.id, id)?
            .map(|p| (super::policies::policy_arn(org, &p), Some(p.r#type))));
    }
    Ok(None)
}

/// Pushes a policy's ARN (or `*`) and returns its type.
fn policy(
    db: &Db,
    org: Option<&OrgRecord>,
    id: Option<&str>,
    asked: &mut Asked,
) -> Result<Option<String>, ServiceError> {
    let found = match (org, id) {
        (Some(org), Some(id)) => {
            super::policies::read_policy(db, &org.id, id)?.map(|p| (super::policies::policy_arn(org, &p), p.r#type))
        }
        _ => None,
    };
    let (arn, kind) = found.map_or_else(|| ("*".to_owned(), None), |(arn, kind)| (arn, Some(kind)));
    asked.resources.push(arn);
    Ok(kind)
}

/// A handshake's ARN, from its organization (the invited account need not belong to one).
fn handshake_arn(db: &Db, id: &str) -> Result<Option<String>, ServiceError> {
    let Some(h) = records::read::<super::handshakes::HandshakeRecord>(db, &keys::org_handshake(id))? else {
        return Ok(None);
    };
    let Some(org) = records::read::<OrgRecord>(db, &keys::organization(&h.org))? else { return Ok(None) };
    Ok(Some(super::handshakes::arn(&org, &h)))
}
