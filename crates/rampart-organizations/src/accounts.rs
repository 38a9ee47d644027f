//! Member accounts: created by the organization (real accounts, with a root user and an
//! administrator role the management account can assume), listed, described and moved.

use rampart_core::{Ctx, Principal, ServiceError, TxCtx, account, keys, records};
use rampart_shapes::generated::iam as iam_shapes;
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::tree::{add_member, children, lineage, read_node_tx};
use super::{Membership, OrgRecord, constraint, managed_tx, membership, membership_tx, page, random_id, touch};

/// The role a new account gets unless CreateAccount names another.
pub const DEFAULT_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

/// A CreateAccount request's status, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAccountStatus {
    pub id: String,
    pub account_name: String,
    /// `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed: Option<OffsetDateTime>,
    pub account_id: Option<String>,
    pub failure_reason: Option<String>,
}

impl CreateAccountStatus {
    fn shape(&self) -> shapes::CreateAccountStatus {
        shapes::CreateAccountStatus {
            id: Some(self.id.clone()),
            account_name: Some(self.account_name.clone()),
            state: Some(self.state.clone()),
            requested_timestamp: Some(self.requested),
            completed_timestamp: self.completed,
            account_id: self.account_id.clone(),
            gov_cloud_account_id: None,
            failure_reason: self.failure_reason.clone(),
        }
    }
}

pub(crate) fn account_arn(org: &OrgRecord, account: &str) -> String {
    format!("arn:aws:organizations::{}:account/{}/{account}", org.management_account, org.id)
}

pub(crate) fn account_shape(db: &Db, org: &OrgRecord, m: &Membership) -> Result<shapes::Account, ServiceError> {
    let parents = lineage(db, &org.id, &m.parent)?;
    let mut path = rampart_core::orgs::path(&org.id, parents.iter().map(String::as_str));
    path.push_str(&m.account);
    path.push('/');
    Ok(shapes::Account {
        id: Some(m.account.clone()),
        arn: Some(account_arn(org, &m.account)),
        email: Some(m.email.clone()),
        name: Some(m.name.clone()),
        status: Some(if m.closed.is_some() { "SUSPENDED" } else { "ACTIVE" }.to_owned()),
        state: Some(state(m, OffsetDateTime::now_utc()).to_owned()),
        paths: Some(vec![path]),
        joined_method: Some(m.joined_method.clone()),
        joined_timestamp: Some(m.joined),
    })
}

/// Days a closed account stays SUSPENDED (and can be reopened through AWS Support) before it is
/// CLOSED for good.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CloseAccount.html>.
pub const POST_CLOSURE_DAYS: i64 = 90;

/// An account's `State`: ACTIVE, SUSPENDED for 90 days after CloseAccount, then CLOSED.
fn state(m: &Membership, now: OffsetDateTime) -> &'static str {
    match m.closed {
        None => "ACTIVE",
        Some(at) if now - at < time::Duration::days(POST_CLOSURE_DAYS) => "SUSPENDED",
        Some(_) => "CLOSED",
    }
}

/// Closes a member account: it stays in the organization, SUSPENDED, and none of its principals
/// may do anything any more (the authorizer refuses them). The management account cannot be
/// closed this way.
pub fn close_account(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::CloseAccountRequest) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let (_, mut m) =
        membership_tx(tx, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    if m.account == org.management_account {
        return Err(super::constraint(
            "CANNOT_CLOSE_MANAGEMENT_ACCOUNT",
            "You attempted to close the management account. To close the management account, remove all member \
             accounts and delete the organization first.",
        ));
    }
    if m.closed.is_some() {
        return Err(ServiceError::new(
            "AccountAlreadyClosedException",
            400,
            "You attempted to close an account that is already closed.",
        ));
    }
    // A rolling 30 days may see the higher of 250 and 20% of the member accounts closed, at most
    // 1,000.
    // See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CloseAccount.html>.
    let members: Vec<Membership> = tx
        .scan_prefix(b"orgmember/", None, usize::MAX >> 1, false)?
        .iter()
        .filter_map(|(k, v)| records::decode::<Membership>(k, v).ok())
        .filter(|o| o.org == org.id)
        .collect();
    let recently =
        members.iter().filter(|o| o.closed.is_some_and(|at| ctx.now - at < time::Duration::days(30))).count();
    if recently >= close_quota(members.len()) {
        return Err(super::constraint(
            "CLOSE_ACCOUNT_QUOTA_EXCEEDED",
            "You have exceeded close account quota for the past 30 days.",
        ));
    }
    m.closed = Some(ctx.now);
    records::write_tx(tx, &keys::org_member(&m.account), &m)?;
    touch(tx, &org.id)
}

/// How many member accounts may be closed in a rolling 30 days: the higher of 250 and 20% of
/// them, at most 1,000.
fn close_quota(members: usize) -> usize {
    (members / 5).clamp(250, 1000)
}

fn account_not_found() -> ServiceError {
    ServiceError::new("AccountNotFoundException", 400, "You specified an account that doesn't exist.")
}

/// Creates a member account in the root: an account of its own (its root user has an email and no
/// password until one is set, and no access key), and a role named `RoleName`
/// (`OrganizationAccountAccessRole`) with AdministratorAccess that the management account's
/// principals may assume. AWS creates accounts asynchronously and answers `IN_PROGRESS`; Rampart
/// creates it in this request, so DescribeCreateAccountStatus already says `SUCCEEDED`.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html>.
pub fn create_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateAccountRequest,
) -> Result<shapes::CreateAccountResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let mut status = CreateAccountStatus {
        id: format!("car-{}", random_id(32)?),
        account_name: input.account_name.clone(),
        state: "IN_PROGRESS".to_owned(),
        requested: ctx.now,
        completed: Some(ctx.now),
        account_id: None,
        failure_reason: None,
    };
    let email_taken = tx
        .scan_prefix(b"orgmember/", None, usize::MAX >> 1, false)?
        .iter()
        .filter_map(|(k, v)| records::decode::<Membership>(k, v).ok())
        .any(|m| m.email.eq_ignore_ascii_case(&input.email));
    if email_taken {
        status.state = "FAILED".to_owned();
        status.failure_reason = Some("EMAIL_ALREADY_EXISTS".to_owned());
    } else {
        let id = loop {
            let id = account::new_account_id()?;
            if tx.get(&keys::account(&id))?.is_none() {
                break id;
            }
        };
        let record = account::AccountRecord {
            v: 1,
            id: id.clone(),
            root_email: input.email.clone(),
            // No password: the root user cannot sign in until an operator sets one.
            root_password_hash: String::new(),
            created: ctx.now,
        };
        records::write_tx(tx, &keys::account(&id), &record)?;
        add_member(tx, &org, &id, &org.root_id, &input.account_name, &input.email, "CREATED", ctx.now)?;
        super::policies::attach_defaults(tx, &org, &id)?;
        access_role(tx, ctx, &org, &id, input.role_name.as_deref().unwrap_or(DEFAULT_ACCESS_ROLE))?;
        super::extras::put_tags(tx, &org, &id, input.tags.clone().unwrap_or_default())?;
        status.state = "SUCCEEDED".to_owned();
        status.account_id = Some(id);
        touch(tx, &org.id)?;
    }
    records::write_tx(tx, &keys::org_create_account_status(&org.id, &status.id), &status)?;
    let answer = CreateAccountStatus { state: "IN_PROGRESS".to_owned(), completed: None, account_id: None, ..status };
    Ok(shapes::CreateAccountResponse { create_account_status: Some(answer.shape()) })
}

/// CreateGovCloudAccount makes an account in AWS GovCloud (US) paired with a new commercial
/// account. AWS allows it only when the management account is itself paired with a GovCloud
/// account, which is an arrangement made with AWS, not through this API; Rampart serves one
/// partition per server, so no management account here is paired, and the request is refused as
/// AWS refuses an organization that is not enabled for GovCloud.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateGovCloudAccount.html>
/// and the `MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED` reason of ConstraintViolationException.
pub fn create_gov_cloud_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::CreateGovCloudAccountRequest,
) -> Result<shapes::CreateGovCloudAccountResponse, ServiceError> {
    managed_tx(tx, &ctx.principal.account_id)?;
    Err(constraint(
        "MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED",
        "To complete this operation, the management account must have an associated account in the AWS GovCloud \
         (US-West) Region.",
    ))
}

/// The new account's administrator role, trusting the management account.
fn access_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    org: &OrgRecord,
    account: &str,
    role: &str,
) -> Result<(), ServiceError> {
    let root = Principal::root(account, None);
    let in_account = TxCtx {
        principal: &root,
        sealer: ctx.sealer,
        now: ctx.now,
        region: ctx.region,
        refused: &[],
        asked: Default::default(),
        prepared: None,
    };
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{}:root", org.management_account) },
            "Action": "sts:AssumeRole",
        }],
    });
    rampart_iam::iam::create_role(
        tx,
        &in_account,
        iam_shapes::CreateRoleRequest {
            path: None,
            role_name: role.to_owned(),
            assume_role_policy_document: trust.to_string(),
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: None,
        },
    )?;
    rampart_iam::iam::attach_role_policy(
        tx,
        &in_account,
        iam_shapes::AttachRolePolicyRequest {
            role_name: role.to_owned(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
        },
    )
}

pub fn describe_create_account_status(
    ctx: &Ctx<'_>,
    input: shapes::DescribeCreateAccountStatusRequest,
) -> Result<shapes::DescribeCreateAccountStatusResponse, ServiceError> {
    let org = super::access::reader(ctx, "DescribeCreateAccountStatus")?;
    let status: CreateAccountStatus =
        records::read(ctx.db, &keys::org_create_account_status(&org.id, &input.create_account_request_id))?
            .ok_or_else(|| {
                ServiceError::new(
                    "CreateAccountStatusNotFoundException",
                    400,
                    "We can't find an create account request with the CreateAccountRequestId that you specified.",
                )
            })?;
    Ok(shapes::DescribeCreateAccountStatusResponse { create_account_status: Some(status.shape()) })
}

/// The organization's CreateAccount requests, newest first, in the states asked for.
pub fn list_create_account_status(
    ctx: &Ctx<'_>,
    input: shapes::ListCreateAccountStatusRequest,
) -> Result<shapes::ListCreateAccountStatusResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListCreateAccountStatus")?;
    let mut all: Vec<CreateAccountStatus> = records::scan_records(ctx.db, &keys::org_create_account_statuses(&org.id))?;
    all.retain(|s| input.states.as_ref().is_none_or(|states| states.is_empty() || states.contains(&s.state)));
    all.sort_by(|a, b| b.requested.cmp(&a.requested).then(a.id.cmp(&b.id)));
    let shaped = all.iter().map(CreateAccountStatus::shape).collect();
    let (statuses, next_token) = page(shaped, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListCreateAccountStatusResponse { create_account_statuses: Some(statuses), next_token })
}

fn members(db: &Db, org: &OrgRecord) -> Result<Vec<Membership>, ServiceError> {
    accounts_of(db, &org.id)
}

/// The accounts of an organization, earliest joined first.
pub fn accounts_of(db: &Db, org: &str) -> Result<Vec<Membership>, ServiceError> {
    let mut all: Vec<Membership> =
        records::scan_records::<Membership>(db, b"orgmember/")?.into_iter().filter(|m| m.org == org).collect();
    all.sort_by(|a, b| a.joined.cmp(&b.joined).then(a.account.cmp(&b.account)));
    Ok(all)
}

pub fn list_accounts(
    ctx: &Ctx<'_>,
    input: shapes::ListAccountsRequest,
) -> Result<shapes::ListAccountsResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListAccounts")?;
    let shaped = members(ctx.db, &org)?.iter().map(|m| account_shape(ctx.db, &org, m)).collect::<Result<_, _>>()?;
    let (accounts, next_token) = page(shaped, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListAccountsResponse { accounts: Some(accounts), next_token })
}

pub fn list_accounts_for_parent(
    ctx: &Ctx<'_>,
    input: shapes::ListAccountsForParentRequest,
) -> Result<shapes::ListAccountsForParentResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListAccountsForParent")?;
    super::tree::read_node(ctx.db, &org.id, &input.parent_id)?.ok_or_else(|| {
        ServiceError::new(
            "ParentNotFoundException",
            400,
            "We can't find a root or OU with the ParentId that you specified.",
        )
    })?;
    let mut shaped = Vec::new();
    for id in children(ctx.db, &org.id, &input.parent_id, "ACCOUNT")? {
        if let Some((_, m)) = membership(ctx.db, &id)? {
            shaped.push(account_shape(ctx.db, &org, &m)?);
        }
    }
    let (accounts, next_token) = page(shaped, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListAccountsForParentResponse { accounts: Some(accounts), next_token })
}

pub fn describe_account(
    ctx: &Ctx<'_>,
    input: shapes::DescribeAccountRequest,
) -> Result<shapes::DescribeAccountResponse, ServiceError> {
    let org = super::access::reader(ctx, "DescribeAccount")?;
    let (_, m) =
        membership(ctx.db, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    Ok(shapes::DescribeAccountResponse { account: Some(account_shape(ctx.db, &org, &m)?) })
}

/// Moves an account to another root or OU: the SCPs over it change on its next request.
pub fn move_account(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::MoveAccountRequest) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let (_, mut m) =
        membership_tx(tx, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    if read_node_tx(tx, &org.id, &input.source_parent_id)?.is_none() {
        return Err(ServiceError::new(
            "SourceParentNotFoundException",
            400,
            "We can't find a source root or OU with the ParentId that you specified.",
        ));
    }
    if read_node_tx(tx, &org.id, &input.destination_parent_id)?.is_none() {
        return Err(ServiceError::new(
            "DestinationParentNotFoundException",
            400,
            "We can't find a destination root or OU with the ParentId that you specified.",
        ));
    }
    if m.parent != input.source_parent_id {
        return Err(account_not_found());
    }
    if m.parent == input.destination_parent_id {
        return Err(ServiceError::new(
            "DuplicateAccountException",
            400,
            "That account is already present in the specified destination.",
        ));
    }
    tx.delete(&keys::org_child(&org.id, &m.parent, &m.account))?;
    tx.put(&keys::org_child(&org.id, &input.destination_parent_id, &m.account), b"ACCOUNT")?;
    m.parent = input.destination_parent_id;
    records::write_tx(tx, &keys::org_member(&m.account), &m)?;
    touch(tx, &org.id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fifth_of_the_accounts_may_close_in_thirty_days_within_bounds() {
        assert_eq!(super::close_quota(3), 250);
        assert_eq!(super::close_quota(2_000), 400);
        assert_eq!(super::close_quota(50_000), 1000);
    }
}
