//! AWS Shield: the Shield Advanced subscription, protections of Rampart's load balancers,
//! protection groups, the Shield Response Team's access and emergency contacts, and the attack
//! records the proxies' defences write ([`attacks`]), with application layer automatic
//! mitigation in the protected resource's web ACL.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/shield-chapter.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::shield as shapes;
use rampart_shapes::{FromValue, HasShape};
use rampart_store::Tx;
use rampart_wire::json::to_wire as wire;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub mod attacks;
mod groups;
mod protections;
pub mod surge;

pub use attacks::{describe_attack, describe_attack_statistics, list_attacks};
pub use groups::*;
pub use protections::*;

/// A year: Shield Advanced's commitment.
const COMMITMENT_SECS: i64 = 365 * 24 * 3600;

/// The account's Shield Advanced settings, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    #[serde(default)]
    subscription: Option<Subscribed>,
    #[serde(default)]
    drt_role: Option<String>,
    #[serde(default)]
    drt_buckets: Vec<String>,
    /// Each an `EmergencyContact` in AWS's wire JSON.
    #[serde(default)]
    contacts: Vec<String>,
    #[serde(default)]
    proactive: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Subscribed {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    start: OffsetDateTime,
    auto_renew: String,
}

fn account_key(account: &str) -> Vec<u8> {
    format!("shield/{account}/account").into_bytes()
}

fn read_account(get: &records::Reader<'_>, account: &str) -> Result<Account, ServiceError> {
    Ok(records::read_with(get, &account_key(account))?.unwrap_or_default())
}

fn write_account(tx: &mut Tx<'_>, account: &str, a: &Account) -> Result<(), ServiceError> {
    records::write_tx(tx, &account_key(account), a)
}

pub(crate) fn unwire<T: FromValue + HasShape>(body: &str) -> Result<T, ServiceError> {
    rampart_wire::json::from_wire(body.as_bytes()).ok_or_else(internal)
}

fn internal() -> ServiceError {
    ServiceError::new(
        "InternalErrorException",
        500,
        "Exception that indicates that a problem occurred with the service infrastructure.",
    )
}

pub(crate) fn not_found(what: &str) -> ServiceError {
    ServiceError::new("ResourceNotFoundException", 400, format!("The referenced {what} does not exist."))
}

pub(crate) fn invalid_parameter(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidParameterException", 400, message)
}

pub(crate) fn invalid_operation(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidOperationException", 400, message)
}

pub(crate) fn already_exists(what: &str) -> ServiceError {
    ServiceError::new("ResourceAlreadyExistsException", 400, format!("The referenced {what} already exists."))
}

/// Refuses a call that needs Shield Advanced when the account has no subscription.
pub(crate) fn subscribed(get: &records::Reader<'_>, account: &str) -> Result<(), ServiceError> {
    if read_account(get, account)?.subscription.is_none() {
        return Err(not_found("subscription"));
    }
    Ok(())
}

/// What a subscription allows, as AWS reports it.
fn limits() -> shapes::SubscriptionLimits {
    shapes::SubscriptionLimits {
        protection_limits: shapes::ProtectionLimits {
            protected_resource_type_limits: vec![shapes::Limit {
                r#type: Some("APPLICATION_LOAD_BALANCER".to_owned()),
                max: Some(1000),
            }],
        },
        protection_group_limits: shapes::ProtectionGroupLimits {
            max_protection_groups: 100,
            pattern_type_limits: shapes::ProtectionGroupPatternTypeLimits {
                arbitrary_pattern_limits: shapes::ProtectionGroupArbitraryPatternLimits { max_members: 10_000 },
            },
        },
    }
}

pub fn create_subscription(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::CreateSubscriptionRequest,
) -> Result<shapes::CreateSubscriptionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    if a.subscription.is_some() {
        return Err(already_exists("subscription"));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    a.subscription = Some(Subscribed { id, start: ctx.now, auto_renew: "ENABLED".to_owned() });
    write_account(tx, account, &a)?;
    Ok(shapes::CreateSubscriptionResponse {})
}

pub fn describe_subscription(
    ctx: &Ctx<'_>,
    _input: shapes::DescribeSubscriptionRequest,
) -> Result<shapes::DescribeSubscriptionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let a = read_account(&records::cached_reader(ctx.db), account)?;
    let s = a.subscription.ok_or_else(|| not_found("subscription"))?;
    Ok(shapes::DescribeSubscriptionResponse {
        subscription: Some(shapes::Subscription {
            start_time: Some(s.start),
            end_time: Some(s.start + time::Duration::seconds(COMMITMENT_SECS)),
            time_commitment_in_seconds: Some(COMMITMENT_SECS),
            auto_renew: Some(s.auto_renew),
            limits: limits().protection_limits.protected_resource_type_limits.into(),
            proactive_engagement_status: a.proactive,
            subscription_limits: limits(),
            subscription_arn: Some(format!("arn:aws:shield::{account}:subscription/{}", s.id)),
        }),
    })
}

pub fn get_subscription_state(
    ctx: &Ctx<'_>,
    _input: shapes::GetSubscriptionStateRequest,
) -> Result<shapes::GetSubscriptionStateResponse, ServiceError> {
    let a = read_account(&records::cached_reader(ctx.db), &ctx.principal.account_id)?;
    let state = if a.subscription.is_some() { "ACTIVE" } else { "INACTIVE" };
    Ok(shapes::GetSubscriptionStateResponse { subscription_state: state.to_owned() })
}

pub fn update_subscription(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateSubscriptionRequest,
) -> Result<shapes::UpdateSubscriptionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    let s = a.subscription.as_mut().ok_or_else(|| not_found("subscription"))?;
    if let Some(renew) = input.auto_renew {
        s.auto_renew = renew;
    }
    write_account(tx, account, &a)?;
    Ok(shapes::UpdateSubscriptionResponse {})
}

/// Ends a subscription: not while its year's commitment runs, as AWS refuses.
/// See <https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/API_DeleteSubscription.html>.
pub fn delete_subscription(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::DeleteSubscriptionRequest,
) -> Result<shapes::DeleteSubscriptionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    let s = a.subscription.as_ref().ok_or_else(|| not_found("subscription"))?;
    if ctx.now < s.start + time::Duration::seconds(COMMITMENT_SECS) {
        return Err(ServiceError::new(
            "LockedSubscriptionException",
            400,
            "You are trying to update a subscription that has not yet completed the 1-year commitment.",
        ));
    }
    a.subscription = None;
    write_account(tx, account, &a)?;
    Ok(shapes::DeleteSubscriptionResponse {})
}

pub fn associate_drt_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateDRTRoleRequest,
) -> Result<shapes::AssociateDRTRoleResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    subscribed(&records::tx_reader(tx), account)?;
    if !input.role_arn.starts_with("arn:aws:iam::") || !input.role_arn.contains(":role/") {
        return Err(invalid_parameter(format!("'{}' is not a role ARN", input.role_arn)));
    }
    let mut a = read_account(&records::tx_reader(tx), account)?;
    a.drt_role = Some(input.role_arn);
    write_account(tx, account, &a)?;
    Ok(shapes::AssociateDRTRoleResponse {})
}

pub fn disassociate_drt_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::DisassociateDRTRoleRequest,
) -> Result<shapes::DisassociateDRTRoleResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    a.drt_role = None;
    write_account(tx, account, &a)?;
    Ok(shapes::DisassociateDRTRoleResponse {})
}

/// The Shield Response Team's access to up to 10 log buckets, once it has a role.
pub fn associate_drt_log_bucket(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateDRTLogBucketRequest,
) -> Result<shapes::AssociateDRTLogBucketResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    if a.drt_role.is_none() {
        return Err(ServiceError::new(
            "NoAssociatedRoleException",
            400,
            "The ARN of the role that you specified does not exist.",
        ));
    }
    if !a.drt_buckets.contains(&input.log_bucket) {
        if a.drt_buckets.len() >= 10 {
            return Err(ServiceError::new("LimitsExceededException", 400, "You can associate up to 10 log buckets."));
        }
        a.drt_buckets.push(input.log_bucket);
    }
    write_account(tx, account, &a)?;
    Ok(shapes::AssociateDRTLogBucketResponse {})
}

pub fn disassociate_drt_log_bucket(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateDRTLogBucketRequest,
) -> Result<shapes::DisassociateDRTLogBucketResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    a.drt_buckets.retain(|b| *b != input.log_bucket);
    write_account(tx, account, &a)?;
    Ok(shapes::DisassociateDRTLogBucketResponse {})
}

pub fn describe_drt_access(
    ctx: &Ctx<'_>,
    _input: shapes::DescribeDRTAccessRequest,
) -> Result<shapes::DescribeDRTAccessResponse, ServiceError> {
    let a = read_account(&records::cached_reader(ctx.db), &ctx.principal.account_id)?;
    Ok(shapes::DescribeDRTAccessResponse { role_arn: a.drt_role, log_bucket_list: Some(a.drt_buckets) })
}

fn contacts(a: &Account) -> Result<Vec<shapes::EmergencyContact>, ServiceError> {
    a.contacts.iter().map(|c| unwire(c)).collect()
}

pub fn describe_emergency_contact_settings(
    ctx: &Ctx<'_>,
    _input: shapes::DescribeEmergencyContactSettingsRequest,
) -> Result<shapes::DescribeEmergencyContactSettingsResponse, ServiceError> {
    let a = read_account(&records::cached_reader(ctx.db), &ctx.principal.account_id)?;
    Ok(shapes::DescribeEmergencyContactSettingsResponse { emergency_contact_list: Some(contacts(&a)?) })
}

pub fn update_emergency_contact_settings(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateEmergencyContactSettingsRequest,
) -> Result<shapes::UpdateEmergencyContactSettingsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    subscribed(&records::tx_reader(tx), account)?;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    a.contacts = input.emergency_contact_list.unwrap_or_default().into_iter().map(wire).collect();
    write_account(tx, account, &a)?;
    Ok(shapes::UpdateEmergencyContactSettingsResponse {})
}

/// The contacts for proactive engagement, given once (later changes go through
/// UpdateEmergencyContactSettings); engagement starts as enabled.
/// See <https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/API_AssociateProactiveEngagementDetails.html>.
pub fn associate_proactive_engagement_details(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateProactiveEngagementDetailsRequest,
) -> Result<shapes::AssociateProactiveEngagementDetailsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    subscribed(&records::tx_reader(tx), account)?;
    let mut a = read_account(&records::tx_reader(tx), account)?;
    if a.proactive.is_some() {
        return Err(invalid_operation(
            "Proactive engagement details are already associated; update them with UpdateEmergencyContactSettings.",
        ));
    }
    if input.emergency_contact_list.iter().all(|c| c.phone_number.is_none()) {
        return Err(invalid_parameter("Proactive engagement needs at least one contact with a phone number."));
    }
    a.contacts = input.emergency_contact_list.into_iter().map(wire).collect();
    a.proactive = Some("ENABLED".to_owned());
    write_account(tx, account, &a)?;
    Ok(shapes::AssociateProactiveEngagementDetailsResponse {})
}

fn set_proactive(tx: &mut Tx<'_>, account: &str, status: &str) -> Result<(), ServiceError> {
    let mut a = read_account(&records::tx_reader(tx), account)?;
    if a.proactive.is_none() {
        return Err(invalid_operation("Proactive engagement has no contacts: associate them first."));
    }
    a.proactive = Some(status.to_owned());
    write_account(tx, account, &a)
}

pub fn enable_proactive_engagement(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::EnableProactiveEngagementRequest,
) -> Result<shapes::EnableProactiveEngagementResponse, ServiceError> {
    set_proactive(tx, &ctx.principal.account_id, "ENABLED")?;
    Ok(shapes::EnableProactiveEngagementResponse {})
}

pub fn disable_proactive_engagement(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::DisableProactiveEngagementRequest,
) -> Result<shapes::DisableProactiveEngagementResponse, ServiceError> {
    set_proactive(tx, &ctx.principal.account_id, "DISABLED")?;
    Ok(shapes::DisableProactiveEngagementResponse {})
}

/// What each operation asks of the authorizer.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsshield.html>.
pub static ACTIONS: &[rampart_core::actions::Action] = {
    use rampart_core::actions::{Target, row};
    const TAGS: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys"];
    &[
        row("AssociateDRTLogBucket", &[Target::All], &[]),
        row("AssociateDRTRole", &[Target::All], &[]),
        row("AssociateHealthCheck", &[Target::All], &[]),
        row("AssociateProactiveEngagementDetails", &[Target::All], &[]),
        row("CreateProtection", &[Target::All], TAGS),
        row("CreateProtectionGroup", &[Target::All], TAGS),
        row("CreateSubscription", &[Target::All], &[]),
        row("DeleteProtection", &[Target::All], &[]),
        row("DeleteProtectionGroup", &[Target::All], &[]),
        row("DeleteSubscription", &[Target::All], &[]),
        row("DescribeAttack", &[Target::All], &[]),
        row("DescribeAttackStatistics", &[Target::All], &[]),
        row("DescribeDRTAccess", &[Target::All], &[]),
        row("DescribeEmergencyContactSettings", &[Target::All], &[]),
        row("DescribeProtection", &[Target::All], &[]),
        row("DescribeProtectionGroup", &[Target::All], &[]),
        row("DescribeSubscription", &[Target::All], &[]),
        row("DisableApplicationLayerAutomaticResponse", &[Target::All], &[]),
        row("DisableProactiveEngagement", &[Target::All], &[]),
        row("DisassociateDRTLogBucket", &[Target::All], &[]),
        row("DisassociateDRTRole", &[Target::All], &[]),
        row("DisassociateHealthCheck", &[Target::All], &[]),
        row("EnableApplicationLayerAutomaticResponse", &[Target::All], &[]),
        row("EnableProactiveEngagement", &[Target::All], &[]),
        row("GetSubscriptionState", &[Target::All], &[]),
        row("ListAttacks", &[Target::All], &[]),
        row("ListProtectionGroups", &[Target::All], &[]),
        row("ListProtections", &[Target::All], &[]),
        row("ListResourcesInProtectionGroup", &[Target::All], &[]),
        row("ListTagsForResource", &[Target::All], &[]),
        row("TagResource", &[Target::All], TAGS),
        row("UntagResource", &[Target::All], &["aws:TagKeys"]),
        row("UpdateApplicationLayerAutomaticResponse", &[Target::All], &[]),
        row("UpdateEmergencyContactSettings", &[Target::All], &[]),
        row("UpdateProtectionGroup", &[Target::All], &[]),
        row("UpdateSubscription", &[Target::All], &[]),
    ]
};

/// A page of a listing by `NextToken` (an index) and `MaxResults` (up to 10,000).
pub(crate) fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match token {
        Some(t) => t.parse::<usize>().map_err(|_| {
            ServiceError::new(
                "InvalidPaginationTokenException",
                400,
                "Exception that indicates that the NextToken specified in the request is invalid.",
            )
        })?,
        None => 0,
    };
    let size = usize::try_from(max.unwrap_or(20)).unwrap_or(20).clamp(1, 10_000);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    Ok((page, (start + size < total).then(|| (start + size).to_string())))
}
