//! Who besides the management account may read and manage the organization: delegated
//! administrators of integrated services (read-only access to Organizations data) and the
//! organization's resource policy, which grants member accounts chosen Organizations actions.
//! See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html>.

use rampart_core::{Asked, Ctx, Principal, ServiceError, TxCtx, keys, records};
use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    OrgRecord, access_denied, constraint, invalid, managed_tx, membership, membership_tx, not_in_use, page, random_id,
};

/// A member account registered as a delegated administrator of a service, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delegation {
    pub account: String,
    pub service: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

pub(crate) fn delegations(db: &Db, org: &str) -> Result<Vec<Delegation>, ServiceError> {
    Ok(records::read_cached(db, &keys::org_delegated_administrators(org))?.unwrap_or_default())
}

/// The organization's delegated administrators, read inside a transaction.
pub fn delegations_tx(tx: &Tx<'_>, org: &str) -> Result<Vec<Delegation>, ServiceError> {
    Ok(records::read_tx(tx, &keys::org_delegated_administrators(org))?.unwrap_or_default())
}

/// The organization's resource policy, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResourcePolicyRecord {
    id: String,
    content: String,
}

fn policy_shape(org: &OrgRecord, p: ResourcePolicyRecord) -> shapes::ResourcePolicy {
    shapes::ResourcePolicy {
        resource_policy_summary: Some(shapes::ResourcePolicySummary {
            arn: Some(format!("arn:aws:organizations::{}:resourcepolicy/{}/{}", org.management_account, org.id, p.id)),
            id: Some(p.id),
        }),
        content: Some(p.content),
    }
}

fn policy_not_found() -> ServiceError {
    ServiceError::new(
        "ResourcePolicyNotFoundException",
        400,
        "We can't find a resource policy request with the parameter that you specified.",
    )
}

/// The organization whose data the caller may read with `operation` (`DescribeAccount`, …): its
/// management account may; a delegated administrator may read (`Describe*` and `List*`); any
/// other member account only where the organization's resource policy grants it the action on
/// what the request was authorized on (its resources and keys; see [`granted`]). Anyone else is
/// refused as AWS refuses a member account.
pub(crate) fn reader(ctx: &Ctx<'_>, operation: &str) -> Result<OrgRecord, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (org, _) = membership(ctx.db, &ctx.principal.account_id)?.ok_or_else(not_in_use)?;
    let reads = operation.starts_with("Describe") || operation.starts_with("List");
    if reads && delegations(ctx.db, &org.id)?.iter().any(|d| d.account == ctx.principal.account_id) {
        return Ok(org);
    }
    allowed(&get, org, ctx.principal, operation, ctx.asked)
}

/// The organization whose policies (or tags) the caller may change with `operation`: its
/// management account, or a member account the resource policy grants the action.
pub(crate) fn writer(tx: &Tx<'_>, ctx: &TxCtx<'_>, operation: &str) -> Result<OrgRecord, ServiceError> {
    let get = records::tx_reader(tx);
    let (org, _) = membership_tx(tx, &ctx.principal.account_id)?.ok_or_else(not_in_use)?;
    allowed(&get, org, ctx.principal, operation, ctx.asked)
}

fn allowed(
    get: &records::Reader<'_>,
    org: OrgRecord,
    principal: &Principal,
    operation: &str,
    asked: Asked<'_>,
) -> Result<OrgRecord, ServiceError> {
    if org.management_account == principal.account_id
        || granted(get, &org, principal, &format!("organizations:{operation}"), asked)?
    {
        return Ok(org);
    }
    Err(access_denied())
}

/// Whether the organization's resource policy grants `principal` (of a member account) `action`
/// on every resource the request acts on (`*` where it names none), with the keys it supplies
/// (`organizations:PolicyType`, …): a delegation limited to tag policies, or to one OU, grants
/// nothing beyond them.
fn granted(
    get: &records::Reader<'_>,
    org: &OrgRecord,
    principal: &Principal,
    action: &str,
    asked: Asked<'_>,
) -> Result<bool, ServiceError> {
    let Some(p) = records::read_with::<ResourcePolicyRecord>(get, &keys::org_resource_policy(&org.id))? else {
        return Ok(false);
    };
    // Stored policies were checked when written; one that no longer parses grants nothing.
    let Ok(policy) = Policy::parse(&p.content, PolicyKind::Resource) else { return Ok(false) };
    let mut context = rampart_policy::Context::new();
    context.set("aws:PrincipalArn", principal.arn.clone()).set("aws:PrincipalAccount", principal.account_id.clone());
    let json = |key: &[u8]| records::read_with::<serde_json::Value>(get, key);
    rampart_iam::iam::set_org_keys(rampart_core::orgs::org_path(&principal.account_id, &json)?.as_ref(), &mut context);
    for (key, values) in asked.keys {
        context.set_many(key, values.clone());
    }
    let everything = ["*".to_owned()];
    let resources = if asked.resources.is_empty() { &everything[..] } else { asked.resources };
    Ok(resources.iter().all(|resource| {
        rampart_iam::sts::resource_policy_grants(
            &policy,
            action,
            principal,
            resource,
            &org.management_account,
            &context,
        )
    }))
}

/// Whether a resource policy of an organization may grant the Organizations action `name`: the
/// ones AWS lets the management account delegate (reading the organization, and managing its
/// policies).
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html>.
fn delegable(name: &str) -> bool {
    const WRITES: &[&str] = &[
        "AttachPolicy",
        "CreatePolicy",
        "DeletePolicy",
        "DetachPolicy",
        "TagResource",
        "UntagResource",
        "UpdatePolicy",
    ];
    name.starts_with("Describe") || name.starts_with("List") || WRITES.contains(&name)
}

/// Checks a resource policy's text: a resource-based policy whose statements name principals,
/// and whose grants (wildcards and `NotAction` expanded over the catalogue of actions) reach only
/// the Organizations actions that can be delegated.
fn check_resource_policy(content: &str) -> Result<(), ServiceError> {
    let policy = Policy::parse(content, PolicyKind::Resource).map_err(|e| {
        invalid(format!(
            "The provided policy document is not valid: {}. (Reason: INVALID_RESOURCE_POLICY_JSON)",
            e.message
        ))
    })?;
    for (service, actions) in rampart_policy::allowed_actions(&policy) {
        if let Some(action) = actions.iter().find(|a| service != "organizations" || !delegable(a)) {
            return Err(invalid(format!(
                "The resource policy grants an action it can't: {service}:{action}. (Reason: \
                 UNSUPPORTED_ACTION_IN_RESOURCE_POLICY)"
            )));
        }
    }
    Ok(())
}

/// Creates or replaces the organization's resource policy.
pub fn put_resource_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutResourcePolicyRequest,
) -> Result<shapes::PutResourcePolicyResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    check_resource_policy(&input.content)?;
    let key = keys::org_resource_policy(&org.id);
    let id = match records::read_tx::<ResourcePolicyRecord>(tx, &key)? {
        Some(p) => p.id,
        None => format!("rp-{}", random_id(8)?),
    };
    let record = ResourcePolicyRecord { id, content: input.content };
    records::write_tx(tx, &key, &record)?;
    super::extras::put_tags(tx, &org, &record.id, input.tags.unwrap_or_default())?;
    Ok(shapes::PutResourcePolicyResponse { resource_policy: Some(policy_shape(&org, record)) })
}

pub fn describe_resource_policy(
    ctx: &Ctx<'_>,
    _input: (),
) -> Result<shapes::DescribeResourcePolicyResponse, ServiceError> {
    let org = reader(ctx, "DescribeResourcePolicy")?;
    let p: ResourcePolicyRecord =
        records::read(ctx.db, &keys::org_resource_policy(&org.id))?.ok_or_else(policy_not_found)?;
    Ok(shapes::DescribeResourcePolicyResponse { resource_policy: Some(policy_shape(&org, p)) })
}

pub fn delete_resource_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, _input: ()) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let key = keys::org_resource_policy(&org.id);
    let p: ResourcePolicyRecord = records::read_tx(tx, &key)?.ok_or_else(policy_not_found)?;
    tx.delete(&key)?;
    tx.delete(&keys::org_tags(&org.id, &p.id))?;
    Ok(())
}

fn account_not_found() -> ServiceError {
    ServiceError::new("AccountNotFoundException", 400, "You specified an account that doesn't exist.")
}

fn not_registered() -> ServiceError {
    ServiceError::new(
        "AccountNotRegisteredException",
        400,
        "The provided account is not a registered delegated administrator for your organization.",
    )
}

/// Makes a member account a delegated administrator of a service that has trusted access.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_RegisterDelegatedAdministrator.html>.
pub fn register_delegated_administrator(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RegisterDelegatedAdministratorRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    super::extras::check_principal(&input.service_principal)?;
    let (_, m) = membership_tx(tx, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    if m.account == org.management_account {
        return Err(constraint(
            "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
            "You attempted to register the management account of the organization as a delegated administrator. You \
             can designate only a member account as a delegated administrator.",
        ));
    }
    if m.closed.is_some() {
        return Err(constraint(
            "CANNOT_REGISTER_SUSPENDED_ACCOUNT_AS_DELEGATED_ADMINISTRATOR",
            "You cannot register a suspended account as a delegated administrator.",
        ));
    }
    let get = |key: &[u8]| records::read_tx::<serde_json::Value>(tx, key);
    let trusted =
        rampart_core::orgs::facts(&org.management_account, &get)?.is_some_and(|f| f.trusts(&input.service_principal));
    if !trusted {
        return Err(constraint(
            "SERVICE_ACCESS_NOT_ENABLED",
            "You attempted to register a delegated administrator before you enabled service access. Call the \
             EnableAWSServiceAccess API first.",
        ));
    }
    let mut all = delegations_tx(tx, &org.id)?;
    if all.iter().any(|d| d.account == m.account && d.service == input.service_principal) {
        return Err(ServiceError::new(
            "AccountAlreadyRegisteredException",
            400,
            "The provided account is already a delegated administrator for your organization.",
        ));
    }
    let registered = all.iter().filter(|d| d.service == input.service_principal).count();
    match administrators_allowed(&input.service_principal) {
        Some(1) if registered >= 1 => {
            return Err(constraint(
                "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE",
                "You attempted to register an AWS account as a delegated administrator for an AWS service that \
                 already has a delegated administrator. To complete this operation, you must first deregister any \
                 existing delegated administrators for this service.",
            ));
        }
        Some(most) if registered >= most => {
            return Err(constraint(
                "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED",
                "You have exceeded the allowed number of delegated administrators for the delegated service.",
            ));
        }
        _ => {}
    }
    all.push(Delegation { account: m.account, service: input.service_principal, since: ctx.now });
    records::write_tx(tx, &keys::org_delegated_administrators(&org.id), &all)
}

/// How many member accounts a service lets be its delegated administrators at once, where its
/// documentation says; `None` for the others, which Rampart does not limit.
/// - IAM Identity Center "supports registering only one member account as a delegated
///   administrator at a time"
///   (<https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin-how-to-register.html>);
///   GuardDuty, Inspector, Security Hub, Macie and Detective each have one delegated
///   administrator account per organization, as their user guides' Organizations chapters say.
/// - CloudTrail allows three
///   (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-delegated-administrator.html>),
///   and so does AWS Config's multi-account setup ("An organization can have up to 3 delegated
///   administrators", PutOrganizationConformancePack in the Config API reference).
/// - CloudFormation StackSets allow five
///   (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html>).
///
/// Beyond the limit AWS answers ConstraintViolationException, with
/// `DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE` where one is allowed and
/// `MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED` otherwise (the reasons of the
/// Organizations model; the second's wording as AWS's knowledge center quotes it:
/// <https://repost.aws/knowledge-center/config-organizations-admin>).
fn administrators_allowed(service: &str) -> Option<usize> {
    match service {
        "sso.amazonaws.com"
        | "guardduty.amazonaws.com"
        | "inspector2.amazonaws.com"
        | "securityhub.amazonaws.com"
        | "macie.amazonaws.com"
        | "detective.amazonaws.com" => Some(1),
        "cloudtrail.amazonaws.com" | "config-multiaccountsetup.amazonaws.com" => Some(3),
        "member.org.stacksets.cloudformation.amazonaws.com" => Some(5),
        _ => None,
    }
}

pub fn deregister_delegated_administrator(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeregisterDelegatedAdministratorRequest,
) -> Result<(), ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    super::extras::check_principal(&input.service_principal)?;
    membership_tx(tx, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    let mut all = delegations_tx(tx, &org.id)?;
    let before = all.len();
    all.retain(|d| !(d.account == input.account_id && d.service == input.service_principal));
    if all.len() == before {
        return Err(not_registered());
    }
    records::write_tx(tx, &keys::org_delegated_administrators(&org.id), &all)
}

/// The delegated administrators, each once, with the earliest of its registrations; only those of
/// one service when the request names it.
pub fn list_delegated_administrators(
    ctx: &Ctx<'_>,
    input: shapes::ListDelegatedAdministratorsRequest,
) -> Result<shapes::ListDelegatedAdministratorsResponse, ServiceError> {
    let org = reader(ctx, "ListDelegatedAdministrators")?;
    if let Some(p) = &input.service_principal {
        super::extras::check_principal(p)?;
    }
    let mut admins: Vec<shapes::DelegatedAdministrator> = Vec::new();
    for d in delegations(ctx.db, &org.id)? {
        if input.service_principal.as_ref().is_some_and(|p| *p != d.service)
            || admins.iter().any(|a| a.id.as_deref() == Some(&d.account))
        {
            continue;
        }
        let Some((_, m)) = membership(ctx.db, &d.account)? else { continue };
        let account = super::accounts::account_shape(ctx.db, &org, &m)?;
        admins.push(shapes::DelegatedAdministrator {
            id: account.id,
            arn: account.arn,
            email: account.email,
            name: account.name,
            status: account.status,
            state: account.state,
            joined_method: account.joined_method,
            joined_timestamp: account.joined_timestamp,
            delegation_enabled_date: Some(d.since),
        });
    }
    let (admins, next_token) = page(admins, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListDelegatedAdministratorsResponse { delegated_administrators: Some(admins), next_token })
}

pub fn list_delegated_services_for_account(
    ctx: &Ctx<'_>,
    input: shapes::ListDelegatedServicesForAccountRequest,
) -> Result<shapes::ListDelegatedServicesForAccountResponse, ServiceError> {
    let org = reader(ctx, "ListDelegatedServicesForAccount")?;
    membership(ctx.db, &input.account_id)?.filter(|(o, _)| o.id == org.id).ok_or_else(account_not_found)?;
    let services: Vec<shapes::DelegatedService> = delegations(ctx.db, &org.id)?
        .into_iter()
        .filter(|d| d.account == input.account_id)
        .map(|d| shapes::DelegatedService {
            service_principal: Some(d.service),
            delegation_enabled_date: Some(d.since),
        })
        .collect();
    if services.is_empty() {
        return Err(not_registered());
    }
    let (services, next_token) = page(services, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListDelegatedServicesForAccountResponse { delegated_services: Some(services), next_token })
}

/// What a service that designates its administrator through its own API does to the organization
/// (GuardDuty's EnableOrganizationAdminAccount): the service gets trusted access and `account` is
/// registered as its delegated administrator, as in AWS, where ListDelegatedAdministrators then
/// shows it. The management account is not registered (Organizations registers member accounts
/// only), though the service may still make it its administrator.
/// See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_organizations.html>.
pub fn delegate_service(
    tx: &mut Tx<'_>,
    org: &OrgRecord,
    account: &str,
    service: &str,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    super::extras::trust(tx, &org.id, service, now)?;
    if account == org.management_account {
        return Ok(());
    }
    let mut all = delegations_tx(tx, &org.id)?;
    if !all.iter().any(|d| d.account == account && d.service == service) {
        all.retain(|d| d.service != service || administrators_allowed(service) != Some(1));
        all.push(Delegation { account: account.to_owned(), service: service.to_owned(), since: now });
    }
    records::write_tx(tx, &keys::org_delegated_administrators(&org.id), &all)
}

/// Undoes [`delegate_service`]'s registration (trusted access stays, as in AWS).
pub fn undelegate_service(tx: &mut Tx<'_>, org: &OrgRecord, account: &str, service: &str) -> Result<(), ServiceError> {
    let mut all = delegations_tx(tx, &org.id)?;
    all.retain(|d| !(d.account == account && d.service == service));
    records::write_tx(tx, &keys::org_delegated_administrators(&org.id), &all)
}

/// Whether `account` is a delegated administrator of any service: it cannot be removed until it
/// is deregistered.
pub(crate) fn is_delegated_tx(tx: &Tx<'_>, org: &str, account: &str) -> Result<bool, ServiceError> {
    Ok(delegations_tx(tx, org)?.iter().any(|d| d.account == account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_policy_delegates_reads_and_policy_management_only() {
        let grant = |action: &str| {
            check_resource_policy(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"111122223333"}},"Action":"{action}","Resource":"*"}}]}}"#
            ))
        };
        for action in [
            "organizations:DescribeOrganization",
            "organizations:List*",
            "ORGANIZATIONS:createpolicy",
            "organizations:*tachPolicy",
        ] {
            assert!(grant(action).is_ok(), "{action}");
        }
        for action in [
            "organizations:*",
            "organizations:CreateAccount",
            "organizations:Create*",
            "iam:ListUsers",
            "*",
            "organizations:LeaveOrganization",
            // Reaches PutResourcePolicy too.
            "organizations:*Policy",
        ] {
            assert_eq!(grant(action).map_err(|e| e.code), Err("InvalidInputException".into()), "{action}");
        }
    }
}
