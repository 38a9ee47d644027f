//! AWS Organizations: accounts in a tree (a root, organizational units, accounts) governed from a
//! management account, and the service control policies that bind every principal of a member
//! account — its root user included — on its very next request.
//!
//! The tree and the policies are records of their own (keys in `rampart_core::keys`); every change
//! to them moves the organization's generation on, so [`scp::ScpSource`], which the authorizer
//! asks on every request, knows when what it compiled is stale.
//! See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_introduction.html>.

use rampart_core::{ServiceError, keys, records};
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

mod access;
mod access_report;
mod accounts;
mod extras;
mod handshakes;
pub mod management;
mod policies;
pub mod resources;
pub mod scp;
mod transfers;
mod tree;

pub use access::*;
pub use access_report::*;
pub use accounts::*;
pub use extras::*;
pub use handshakes::*;
pub use policies::*;
pub use transfers::*;
pub use tree::*;

/// An organization, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    pub id: String,
    /// `ALL` or `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    pub management_account: String,
    pub management_email: String,
    pub root_id: String,
    /// The policy types enabled on the root (`SERVICE_CONTROL_POLICY`, …).
    pub enabled_types: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl OrgRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:organizations::{}:organization/{}", self.management_account, self.id)
    }
}

/// An account's place in an organization, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    pub org: String,
    pub account: String,
    /// The root or OU the account is in.
    pub parent: String,
    pub name: String,
    pub email: String,
    /// `CREATED` or `INVITED`.
    pub joined_method: String,
    #[serde(with = "time::serde::rfc3339")]
    pub joined: OffsetDateTime,
    /// When CloseAccount closed it: suspended for 90 days, then closed for good.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub closed: Option<OffsetDateTime>,
}

/// A root or an organizational unit, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub name: String,
    /// `None` for the root.
    pub parent: Option<String>,
}

impl Node {
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }
}

fn not_in_use() -> ServiceError {
    ServiceError::new("AWSOrganizationsNotInUseException", 400, "Your account is not a member of an organization.")
}

fn access_denied() -> ServiceError {
    ServiceError::new("AccessDeniedException", 400, "You don't have permissions to access this resource.")
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInputException", 400, message)
}

/// A limit of Organizations, with its `Reason` (`OU_DEPTH_LIMIT_EXCEEDED`, …), as the model's
/// ConstraintViolationException carries it.
fn constraint(reason: &'static str, message: &str) -> ServiceError {
    ServiceError::new("ConstraintViolationException", 400, message).with("Reason", reason)
}

/// The organization `account` belongs to, with its membership.
pub fn membership(db: &Db, account: &str) -> Result<Option<(OrgRecord, Membership)>, ServiceError> {
    let Some(m) = records::read_cached::<Membership>(db, &keys::org_member(account))? else { return Ok(None) };
    Ok(records::read_cached::<OrgRecord>(db, &keys::organization(&m.org))?.map(|o| (o, m)))
}

/// [`membership`], read inside a transaction.
pub fn membership_tx(tx: &Tx<'_>, account: &str) -> Result<Option<(OrgRecord, Membership)>, ServiceError> {
    let Some(m) = records::read_tx::<Membership>(tx, &keys::org_member(account))? else { return Ok(None) };
    Ok(records::read_tx::<OrgRecord>(tx, &keys::organization(&m.org))?.map(|o| (o, m)))
}

fn managed_tx(tx: &Tx<'_>, account: &str) -> Result<OrgRecord, ServiceError> {
    let (org, _) = membership_tx(tx, account)?.ok_or_else(not_in_use)?;
    if org.management_account != account {
        return Err(access_denied());
    }
    Ok(org)
}

/// Moves the organization's generation on: what was derived from its tree and policies is stale.
fn touch(tx: &mut Tx<'_>, org: &str) -> Result<(), ServiceError> {
    let key = keys::org_generation(org);
    let n = tx.get(&key)?.and_then(|v| String::from_utf8(v).ok()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    tx.put(&key, (n + 1).to_string().as_bytes())?;
    Ok(())
}

/// The organization's current generation.
pub fn generation(db: &Db, org: &str) -> Result<u64, ServiceError> {
    Ok(db
        .get_cached(&keys::org_generation(org))?
        .and_then(|v| std::str::from_utf8(&v).ok().and_then(|v| v.parse().ok()))
        .unwrap_or(0))
}

/// `n` random characters of `[a-z0-9]`, as Organizations' ids have.
fn random_id(n: usize) -> Result<String, ServiceError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    // 252 is the largest multiple of 36 below 256: no value is likelier than another.
    let mut out = String::with_capacity(n);
    for b in bytes {
        let mut b = b;
        while b >= 252 {
            let mut one = [0u8; 1];
            aws_lc_rs::rand::fill(&mut one).map_err(|_| ServiceError::internal())?;
            b = one[0];
        }
        out.push(char::from(*ALPHABET.get(usize::from(b % 36)).ok_or_else(ServiceError::internal)?));
    }
    Ok(out)
}

/// One page of `items` from a NextToken (an offset) and MaxResults (1–20, default 20).
fn page<T>(
    items: Vec<T>,
    next_token: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start: usize = match next_token {
        Some(t) => {
            t.parse().map_err(|_| invalid("The provided token is invalid. (Reason: INVALID_PAGINATION_TOKEN)"))?
        }
        None => 0,
    };
    let max = usize::try_from(max.unwrap_or(20)).unwrap_or(20).clamp(1, 20);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

use rampart_core::actions::{Action, Target, row};

/// Organizations' operations. The resources each acts on come from the tree
/// (`resources::asked`), not from this table, which names `*` and the request's tag keys.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html>.
pub static ACTIONS: &[Action] = &[
    row("AcceptHandshake", &[Target::All], &[]),
    row("AttachPolicy", &[Target::All], &[]),
    row("CancelHandshake", &[Target::All], &[]),
    row("CloseAccount", &[Target::All], &[]),
    row("CreateAccount", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("CreateGovCloudAccount", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("CreateOrganization", &[Target::All], &[]),
    row("CreateOrganizationalUnit", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("CreatePolicy", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("DeclineHandshake", &[Target::All], &[]),
    row("DeleteOrganization", &[Target::All], &[]),
    row("DeleteOrganizationalUnit", &[Target::All], &[]),
    row("DeletePolicy", &[Target::All], &[]),
    row("DeleteResourcePolicy", &[Target::All], &[]),
    row("DeregisterDelegatedAdministrator", &[Target::All], &[]),
    row("DescribeAccount", &[Target::All], &[]),
    row("DescribeCreateAccountStatus", &[Target::All], &[]),
    row("DescribeEffectivePolicy", &[Target::All], &[]),
    row("DescribeHandshake", &[Target::All], &[]),
    row("DescribeOrganization", &[Target::All], &[]),
    row("DescribeOrganizationalUnit", &[Target::All], &[]),
    row("DescribePolicy", &[Target::All], &[]),
    row("DescribeResourcePolicy", &[Target::All], &[]),
    row("DescribeResponsibilityTransfer", &[Target::All], &[]),
    row("DetachPolicy", &[Target::All], &[]),
    row("DisableAWSServiceAccess", &[Target::All], &[]),
    row("DisablePolicyType", &[Target::All], &[]),
    row("EnableAWSServiceAccess", &[Target::All], &[]),
    row("EnableAllFeatures", &[Target::All], &[]),
    row("EnablePolicyType", &[Target::All], &[]),
    row("InviteAccountToOrganization", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("InviteOrganizationToTransferResponsibility", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("LeaveOrganization", &[Target::All], &[]),
    row("ListAWSServiceAccessForOrganization", &[Target::All], &[]),
    row("ListAccounts", &[Target::All], &[]),
    row("ListAccountsForParent", &[Target::All], &[]),
    row("ListAccountsWithInvalidEffectivePolicy", &[Target::All], &[]),
    row("ListChildren", &[Target::All], &[]),
    row("ListCreateAccountStatus", &[Target::All], &[]),
    row("ListDelegatedAdministrators", &[Target::All], &[]),
    row("ListDelegatedServicesForAccount", &[Target::All], &[]),
    row("ListEffectivePolicyValidationErrors", &[Target::All], &[]),
    row("ListHandshakesForAccount", &[Target::All], &[]),
    row("ListHandshakesForOrganization", &[Target::All], &[]),
    row("ListInboundResponsibilityTransfers", &[Target::All], &[]),
    row("ListOrganizationalUnitsForParent", &[Target::All], &[]),
    row("ListOutboundResponsibilityTransfers", &[Target::All], &[]),
    row("ListParents", &[Target::All], &[]),
    row("ListPolicies", &[Target::All], &[]),
    row("ListPoliciesForTarget", &[Target::All], &[]),
    row("ListRoots", &[Target::All], &[]),
    row("ListTagsForResource", &[Target::All], &[]),
    row("ListTargetsForPolicy", &[Target::All], &[]),
    row("MoveAccount", &[Target::All], &[]),
    row("PutResourcePolicy", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("RegisterDelegatedAdministrator", &[Target::All], &[]),
    row("RemoveAccountFromOrganization", &[Target::All], &[]),
    row("TagResource", &[Target::All], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    row("TerminateResponsibilityTransfer", &[Target::All], &[]),
    row("UntagResource", &[Target::All], &["aws:TagKeys"]),
    row("UpdateOrganizationalUnit", &[Target::All], &[]),
    row("UpdatePolicy", &[Target::All], &[]),
    row("UpdateResponsibilityTransfer", &[Target::All], &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_use_organizations_alphabet() {
        let id = random_id(10).unwrap_or_default();
        assert_eq!(id.len(), 10);
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    }

    #[test]
    fn pages_follow_the_token() {
        let (first, next) = page((0..25).collect(), None, None).unwrap_or_default();
        assert_eq!((first.len(), next.as_deref()), (20, Some("20")));
        let (rest, next) = page((0..25).collect::<Vec<i32>>(), Some("20"), Some(10)).unwrap_or_default();
        assert_eq!((rest, next), (vec![20, 21, 22, 23, 24], None));
        assert!(page(vec![1], Some("x"), None).is_err());
    }
}
