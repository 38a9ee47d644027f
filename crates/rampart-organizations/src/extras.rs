//! Tags on an organization's roots, OUs, accounts and policies; trusted access of AWS services;
//! and accounts removed from the organization.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::tree::read_node_tx;
use super::{Membership, OrgRecord, constraint, invalid, managed_tx, membership_tx, page, touch};

/// The most tags one resource may have.
const MAX_TAGS: usize = 50;

/// Whether `id` names a root, OU, account or policy of the organization.
fn taggable(tx: &Tx<'_>, org: &OrgRecord, id: &str) -> Result<bool, ServiceError> {
    if id.starts_with("r-") || id.starts_with("ou-") {
        return Ok(read_node_tx(tx, &org.id, id)?.is_some());
    }
    if id.starts_with("p-") {
        return Ok(tx.get(&keys::org_policy(&org.id, id))?.is_some());
    }
    if id.starts_with("rt-") {
        return super::transfers::involves(&records::tx_reader(tx), &org.id, id);
    }
    Ok(membership_tx(tx, id)?.is_some_and(|(o, _)| o.id == org.id))
}

fn target_not_found() -> ServiceError {
    ServiceError::new(
        "TargetNotFoundException",
        400,
        "We can't find a root, OU, account, or policy with the TargetId that you specified.",
    )
}

/// Adds or replaces tags of a resource (keys compared as given, as Organizations does).
pub(crate) fn put_tags(tx: &mut Tx<'_>, org: &OrgRecord, id: &str, tags: Vec<shapes::Tag>) -> Result<(), ServiceError> {
    if tags.is_empty() {
        return Ok(());
    }
    let key = keys::org_tags(&org.id, id);
    let mut current: Vec<(String, String)> = records::read_tx(tx, &key)?.unwrap_or_default();
    for t in tags {
        current.retain(|(k, _)| *k != t.key);
        current.push((t.key, t.value));
    }
    if current.len() > MAX_TAGS {
        return Err(constraint(
            "MAX_TAG_LIMIT_EXCEEDED",
            "You have exceeded the number of tags allowed on this resource.",
        ));
    }
    records::write_tx(tx, &key, &current)
}

pub fn tag_resource(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::TagResourceRequest) -> Result<(), ServiceError> {
    let org = super::access::writer(tx, ctx, "TagResource")?;
    if !taggable(tx, &org, &input.resource_id)? {
        return Err(target_not_found());
    }
    put_tags(tx, &org, &input.resource_id, input.tags)
}

pub fn untag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagResourceRequest,
) -> Result<(), ServiceError> {
    let org = super::access::writer(tx, ctx, "UntagResource")?;
    if !taggable(tx, &org, &input.resource_id)? {
        return Err(target_not_found());
    }
    let key = keys::org_tags(&org.id, &input.resource_id);
    let mut current: Vec<(String, String)> = records::read_tx(tx, &key)?.unwrap_or_default();
    current.retain(|(k, _)| !input.tag_keys.contains(k));
    records::write_tx(tx, &key, &current)
}

pub fn list_tags_for_resource(
    ctx: &Ctx<'_>,
    input: shapes::ListTagsForResourceRequest,
) -> Result<shapes::ListTagsForResourceResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListTagsForResource")?;
    let id = &input.resource_id;
    let exists = if id.starts_with("r-") || id.starts_with("ou-") {
        super::tree::read_node(ctx.db, &org.id, id)?.is_some()
    } else if id.starts_with("p-") {
        ctx.db.get_cached(&keys::org_policy(&org.id, id))?.is_some()
    } else if id.starts_with("rt-") {
        super::transfers::involves(&records::cached_reader(ctx.db), &org.id, id)?
    } else {
        super::membership(ctx.db, id)?.is_some_and(|(o, _)| o.id == org.id)
    };
    if !exists {
        return Err(target_not_found());
    }
    let current: Vec<(String, String)> =
        records::read(ctx.db, &keys::org_tags(&org.id, &input.resource_id))?.unwrap_or_default();
    let tags = current.into_iter().map(|(key, value)| shapes::Tag { key, value }).collect();
    let (tags, next_token) = page(tags, input.next_token.as_deref(), Some(20))?;
    Ok(shapes::ListTagsForResourceResponse { tags: Some(tags), next_token })
}

/// A service with trusted access to the organization, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ServiceAccess {
    principal: String,
    #[serde(with = "time::serde::rfc3339")]
    enabled: OffsetDateTime,
}

pub(crate) fn check_principal(principal: &str) -> Result<(), ServiceError> {
    let valid = principal.ends_with(".amazonaws.com")
        && principal.len() <= 128
        && principal.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(invalid(format!(
            "You specified an invalid value for servicePrincipal: {principal}. (Reason: INVALID_SERVICE_PRINCIPAL)"
        )));
    }
    Ok(())
}

/// Lets a service act in the organization's accounts (trusted access). In Rampart this is a
/// record the integrated services consult; enabling one twice is no error, as in AWS.
pub fn enable_aws_service_access(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnableAWSServiceAccessRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    check_principal(&input.service_principal)?;
    trust(tx, &org.id, &input.service_principal, ctx.now)
}

/// Gives a service trusted access to an organization (once).
pub(crate) fn trust(tx: &mut Tx<'_>, org: &str, principal: &str, now: OffsetDateTime) -> Result<(), ServiceError> {
    let key = keys::org_services(org);
    let mut services: Vec<ServiceAccess> = records::read_tx(tx, &key)?.unwrap_or_default();
    if !services.iter().any(|s| s.principal == principal) {
        services.push(ServiceAccess { principal: principal.to_owned(), enabled: now });
    }
    records::write_tx(tx, &key, &services)?;
    touch(tx, org)
}

pub fn disable_aws_service_access(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisableAWSServiceAccessRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    check_principal(&input.service_principal)?;
    let key = keys::org_services(&org.id);
    let mut services: Vec<ServiceAccess> = records::read_tx(tx, &key)?.unwrap_or_default();
    services.retain(|s| s.principal != input.service_principal);
    records::write_tx(tx, &key, &services)?;
    touch(tx, &org.id)
}

pub fn list_aws_service_access_for_organization(
    ctx: &Ctx<'_>,
    input: shapes::ListAWSServiceAccessForOrganizationRequest,
) -> Result<shapes::ListAWSServiceAccessForOrganizationResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListAWSServiceAccessForOrganization")?;
    let services: Vec<ServiceAccess> = records::read(ctx.db, &keys::org_services(&org.id))?.unwrap_or_default();
    let shaped = services
        .into_iter()
        .map(|s| shapes::EnabledServicePrincipal {
            service_principal: Some(s.principal),
            date_enabled: Some(s.enabled),
        })
        .collect();
    let (enabled, next_token) = page(shaped, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListAWSServiceAccessForOrganizationResponse { enabled_service_principals: Some(enabled), next_token })
}

/// Removes a member account from the organization: it stands alone again, with its principals
/// and resources, and no SCP binds it any more. The management account cannot be removed.
pub fn remove_account_from_organization(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveAccountFromOrganizationRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let (_, m): (OrgRecord, Membership) =
        membership_tx(tx, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(|| {
            ServiceError::new("AccountNotFoundException", 400, "You specified an account that doesn't exist.")
        })?;
    if m.account == org.management_account {
        return Err(constraint(
            "ACCOUNT_CANNOT_LEAVE_ORGANIZATION",
            "You attempted to remove the management account from the organization. You can't remove the management \
             account. Instead, after you remove all member accounts, delete the organization itself.",
        ));
    }
    // A closed account stays, SUSPENDED, until it is closed for good; leaving would reopen it.
    if m.closed.is_some() {
        return Err(constraint(
            "ACCOUNT_CANNOT_LEAVE_ORGANIZATION",
            "You attempted to remove a closed account from the organization. It stays in the organization until it \
             is closed for good.",
        ));
    }
    part(tx, &org, &m)
}

/// Takes a member account out of its organization (it leaves, or is removed): it stands alone
/// again with its principals and resources, and no SCP binds it any more. A delegated
/// administrator must be deregistered first.
pub(crate) fn part(tx: &mut Tx<'_>, org: &OrgRecord, m: &Membership) -> Result<(), ServiceError> {
    if super::access::is_delegated_tx(tx, &org.id, &m.account)? {
        return Err(constraint(
            "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
            "You attempted to remove an account that is registered as a delegated administrator for a service \
             integrated with your organization. To complete this operation, you must first deregister this account \
             as a delegated administrator.",
        ));
    }
    tx.delete(&keys::org_child(&org.id, &m.parent, &m.account))?;
    for (k, _) in tx.scan_prefix(&keys::org_attachments(&org.id, &m.account), None, usize::MAX >> 1, false)? {
        let policy = String::from_utf8_lossy(k.rsplit(|b| *b == b'/').next().unwrap_or_default()).into_owned();
        tx.delete(&k)?;
        tx.delete(&keys::org_policy_target(&org.id, &policy, &m.account))?;
    }
    tx.delete(&keys::org_tags(&org.id, &m.account))?;
    tx.delete(&keys::org_member(&m.account))?;
    touch(tx, &org.id)
}
