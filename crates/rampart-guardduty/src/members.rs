//! Many accounts in one GuardDuty: an administrator account and its members, associated through
//! the organization (the delegated administrator the management account designates adds the
//! organization's accounts, or has them added as they join: auto-enable) or by invitation (the
//! administrator invites, the member accepts).
//!
//! The administrator sees and manages its members' findings with its own; its suppression rules,
//! trusted IP sets and threat intel sets apply to its members' activity, and a member, while
//! associated, can manage none of these itself ("Member accounts lose access to these features in a
//! multiple-account environment").
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/administrator_member_relationships.html>
//! and <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_organizations.html>.
//!
//! Records: the organization's administrator and auto-enable settings per Region at
//! `gdorg/ORG/REGION`; the administrator's members at `guardduty/ADMIN/REGION/member/ACCOUNT`;
//! a member's association at `gdlink/ACCOUNT/REGION` (what the engine, the findings and the
//! exports ask); invitations waiting at `gdinvite/ACCOUNT/REGION/ADMIN`.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_organizations::{Membership, OrgRecord};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Detector, bad_request, detector, new_id, own_detector, page, prefix, stamp, write_detector};

const SERVICE: &str = "guardduty.amazonaws.com";
const ORG: &str = "gdorg/";

/// The organization's GuardDuty administrator in a Region and its auto-enable settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgAdmin {
    pub admin: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// `NEW`, `ALL` or `NONE`: which of the organization's accounts become members by themselves.
    pub auto_enable: String,
    /// When `auto_enable` was last set: `NEW` takes the accounts that join after it.
    #[serde(with = "time::serde::rfc3339")]
    pub auto_since: OffsetDateTime,
    /// Each feature's auto-enable setting (`S3_DATA_EVENTS` → `NEW`, …).
    #[serde(default)]
    pub features: BTreeMap<String, String>,
    /// The accounts auto-enable has already made members (or passed over): an account the
    /// administrator disassociates is not taken again.
    #[serde(default)]
    pub enrolled: BTreeSet<String>,
}

/// A member of an administrator, as the administrator keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub account: String,
    pub email: String,
    /// `Created`, `Invited`, `Enabled` (associated), `Removed` (disassociated by the
    /// administrator) or `Resigned` (the member declined or left).
    pub status: String,
    /// Associated through the organization rather than by invitation.
    pub by_org: bool,
    #[serde(default)]
    pub invitation: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub invited: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

/// A member's association with its administrator, as the member's side keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub admin: String,
    pub by_org: bool,
    #[serde(default)]
    pub invitation: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub invited: Option<OffsetDateTime>,
}

/// An invitation waiting for the member's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Invite {
    admin: String,
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    invited: OffsetDateTime,
}

fn org_key(org: &str, region: &str) -> Vec<u8> {
    format!("{ORG}{org}/{region}").into_bytes()
}

fn member_key(admin: &str, region: &str, account: &str) -> Vec<u8> {
    format!("{}member/{account}", prefix(admin, region)).into_bytes()
}

fn link_key(account: &str, region: &str) -> Vec<u8> {
    format!("gdlink/{account}/{region}").into_bytes()
}

fn invite_key(account: &str, region: &str, admin: &str) -> Vec<u8> {
    format!("gdinvite/{account}/{region}/{admin}").into_bytes()
}

/// The administrator an account is associated with in a Region, if any.
pub fn administrator(get: &records::Reader<'_>, account: &str, region: &str) -> Result<Option<Link>, ServiceError> {
    records::read_with(get, &link_key(account, region))
}

/// The account whose suppression rules and lists apply to an account's findings: its
/// administrator's, or its own.
pub fn governing(get: &records::Reader<'_>, account: &str, region: &str) -> Result<String, ServiceError> {
    Ok(administrator(get, account, region)?.map_or_else(|| account.to_owned(), |l| l.admin))
}

/// Refuses a member's change to what its administrator manages for it.
pub(crate) fn not_a_member(get: &records::Reader<'_>, account: &str, region: &str) -> Result<(), ServiceError> {
    if administrator(get, account, region)?.is_some() {
        return Err(bad_request(
            "The request is rejected because the current account is a member account; only its administrator \
             account can make this change.",
        ));
    }
    Ok(())
}

fn members_key(admin: &str, region: &str) -> Vec<u8> {
    format!("{}member/", prefix(admin, region)).into_bytes()
}

fn members_of(db: &Db, admin: &str, region: &str) -> Result<Vec<Member>, ServiceError> {
    records::scan_records(db, &members_key(admin, region))
}

fn members_of_tx(tx: &Tx<'_>, admin: &str, region: &str) -> Result<Vec<Member>, ServiceError> {
    records::scan_records_tx(tx, &members_key(admin, region))
}

/// An account and its associated members, in that order.
fn with_associated(account: &str, members: Vec<Member>) -> Vec<String> {
    std::iter::once(account.to_owned())
        .chain(members.into_iter().filter(|m| m.status == "Enabled").map(|m| m.account))
        .collect()
}

/// The accounts whose findings an account sees: its own, then its associated members'.
pub fn visible(db: &Db, account: &str, region: &str) -> Result<Vec<String>, ServiceError> {
    Ok(with_associated(account, members_of(db, account, region)?))
}

/// [`visible`], inside a transaction.
pub(crate) fn visible_tx(tx: &Tx<'_>, account: &str, region: &str) -> Result<Vec<String>, ServiceError> {
    Ok(with_associated(account, members_of_tx(tx, account, region)?))
}

/// The caller's organization, which it must manage.
fn managed(tx: &Tx<'_>, account: &str) -> Result<OrgRecord, ServiceError> {
    match rampart_organizations::membership_tx(tx, account)? {
        Some((org, _)) if org.management_account == account => Ok(org),
        _ => Err(bad_request(
            "The request is rejected because the current account is not the management account of an organization.",
        )),
    }
}

/// The organization's GuardDuty administrator in the Region, if the caller is it.
fn org_admin_of(
    get: &records::Reader<'_>,
    org: Option<&OrgRecord>,
    account: &str,
    region: &str,
) -> Result<Option<OrgAdmin>, ServiceError> {
    let Some(org) = org else { return Ok(None) };
    Ok(records::read_with::<OrgAdmin>(get, &org_key(&org.id, region))?.filter(|a| a.admin == account))
}

fn not_org_admin() -> ServiceError {
    bad_request(
        "The request is rejected because the current account is not the delegated GuardDuty administrator of its \
         organization.",
    )
}

/// Makes a member account of the organization the delegated GuardDuty administrator in the Region
/// (the organization's management account only). Organizations then lists it as GuardDuty's
/// delegated administrator, and GuardDuty has trusted access.
/// See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_EnableOrganizationAdminAccount.html>.
pub fn enable_organization_admin_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnableOrganizationAdminAccountRequest,
) -> Result<shapes::EnableOrganizationAdminAccountResponse, ServiceError> {
    let org = managed(tx, &ctx.principal.account_id)?;
    let target = input.admin_account_id;
    let (_, m) = rampart_organizations::membership_tx(tx, &target)?
        .filter(|(o, m)| o.id == org.id && m.closed.is_none())
        .ok_or_else(|| {
            bad_request("The request is rejected because the account is not an active member of the organization.")
        })?;
    let key = org_key(&org.id, ctx.region);
    match records::read_tx::<OrgAdmin>(tx, &key)? {
        Some(a) if a.admin == m.account => return Ok(shapes::EnableOrganizationAdminAccountResponse {}),
        Some(a) => {
            return Err(bad_request(format!(
                "The request is rejected because account {} is already the delegated GuardDuty administrator of the \
                 organization; disable it first.",
                a.admin
            )));
        }
        None => {}
    }
    if administrator(&records::tx_reader(tx), &m.account, ctx.region)?.is_some() {
        return Err(bad_request(
            "The request is rejected because the account is a member of another GuardDuty administrator account.",
        ));
    }
    let admin = OrgAdmin {
        admin: m.account.clone(),
        since: ctx.now,
        auto_enable: "NONE".to_owned(),
        auto_since: ctx.now,
        features: BTreeMap::new(),
        enrolled: BTreeSet::new(),
    };
    records::write_tx(tx, &key, &admin)?;
    rampart_organizations::delegate_service(tx, &org, &m.account, SERVICE, ctx.now)?;
    Ok(shapes::EnableOrganizationAdminAccountResponse {})
}

/// Takes the delegated administrator away: the members it has through the organization are
/// disassociated (their detectors and findings stay, as in AWS).
pub fn disable_organization_admin_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisableOrganizationAdminAccountRequest,
) -> Result<shapes::DisableOrganizationAdminAccountResponse, ServiceError> {
    let org = managed(tx, &ctx.principal.account_id)?;
    let key = org_key(&org.id, ctx.region);
    let admin = records::read_tx::<OrgAdmin>(tx, &key)?
        .filter(|a| a.admin == input.admin_account_id)
        .ok_or_else(|| bad_request("The request is rejected because the account is not the delegated GuardDuty administrator of the organization."))?;
    for m in members_of_tx(tx, &admin.admin, ctx.region)?.into_iter().filter(|m| m.by_org) {
        disassociate(tx, &admin.admin, ctx.region, m, "Removed", ctx.now)?;
    }
    tx.delete(&key)?;
    // Organizations keeps the registration while the account administers another Region.
    let p = format!("{ORG}{}/", org.id);
    let elsewhere = tx
        .scan_prefix(p.as_bytes(), None, 100, false)?
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice::<OrgAdmin>(v).ok())
        .any(|a| a.admin == admin.admin);
    if !elsewhere {
        rampart_organizations::undelegate_service(tx, &org, &admin.admin, SERVICE)?;
    }
    Ok(shapes::DisableOrganizationAdminAccountResponse {})
}

pub fn list_organization_admin_accounts(
    ctx: &Ctx<'_>,
    input: shapes::ListOrganizationAdminAccountsRequest,
) -> Result<shapes::ListOrganizationAdminAccountsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let org = rampart_organizations::membership(ctx.db, account)?
        .map(|(o, _)| o)
        .filter(|o| o.management_account == *account)
        .ok_or_else(|| {
            bad_request(
                "The request is rejected because the current account is not the management account of an organization.",
            )
        })?;
    let admins: Vec<shapes::AdminAccount> =
        records::read_with::<OrgAdmin>(&records::cached_reader(ctx.db), &org_key(&org.id, ctx.region))?
            .into_iter()
            .map(|a| shapes::AdminAccount { admin_account_id: Some(a.admin), admin_status: Some("ENABLED".to_owned()) })
            .collect();
    let (admin_accounts, next_token) = page(admins, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListOrganizationAdminAccountsResponse { admin_accounts: Some(admin_accounts), next_token })
}

/// The organization features whose auto-enable GuardDuty reports (the model's `OrgFeature`).
pub(crate) const ORG_FEATURES: &[&str] = &[
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "EKS_RUNTIME_MONITORING",
    "RUNTIME_MONITORING",
];

fn feature_auto(a: &OrgAdmin, name: &str) -> String {
    a.features
        .get(name)
        .cloned()
        .unwrap_or_else(|| if name == "S3_DATA_EVENTS" { a.auto_enable.clone() } else { "NONE".to_owned() })
}

fn admin_config(
    get: &records::Reader<'_>,
    org: Option<&OrgRecord>,
    account: &str,
    region: &str,
    detector_id: &str,
) -> Result<OrgAdmin, ServiceError> {
    own_detector(get, account, region, detector_id)?;
    org_admin_of(get, org, account, region)?.ok_or_else(not_org_admin)
}

pub fn describe_organization_configuration(
    ctx: &Ctx<'_>,
    input: shapes::DescribeOrganizationConfigurationRequest,
) -> Result<shapes::DescribeOrganizationConfigurationResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let org = rampart_organizations::membership(ctx.db, account)?.map(|(o, _)| o);
    let a = admin_config(&records::cached_reader(ctx.db), org.as_ref(), account, ctx.region, &input.detector_id)?;
    let features = ORG_FEATURES
        .iter()
        .map(|name| shapes::OrganizationFeatureConfigurationResult {
            name: Some((*name).to_owned()),
            auto_enable: Some(feature_auto(&a, name)),
            additional_configuration: None,
        })
        .collect();
    Ok(shapes::DescribeOrganizationConfigurationResponse {
        auto_enable: Some(a.auto_enable != "NONE"),
        member_account_limit_reached: false,
        data_sources: Some(shapes::OrganizationDataSourceConfigurationsResult {
            s3_logs: shapes::OrganizationS3LogsConfigurationResult {
                auto_enable: feature_auto(&a, "S3_DATA_EVENTS") != "NONE",
            },
            kubernetes: None,
            malware_protection: None,
        }),
        features: Some(features),
        next_token: None,
        auto_enable_organization_members: Some(a.auto_enable.clone()),
    })
}

/// Sets which of the organization's accounts become members by themselves: `ALL` makes every
/// account a member now, `NEW` each account that joins from now on (the server's GuardDuty task
/// adds it within seconds: [`reconcile`]), `NONE` none. The legacy `AutoEnable` is `NEW` or
/// `NONE`.
pub fn update_organization_configuration(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateOrganizationConfigurationRequest,
) -> Result<shapes::UpdateOrganizationConfigurationResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let org = rampart_organizations::membership_tx(tx, account)?.map(|(o, _)| o);
    let mut a = admin_config(&records::tx_reader(tx), org.as_ref(), account, region, &input.detector_id)?;
    let auto = input
        .auto_enable_organization_members
        .clone()
        .or_else(|| input.auto_enable.map(|on| if on { "NEW" } else { "NONE" }.to_owned()));
    if let Some(auto) = auto
        && auto != a.auto_enable
    {
        a.auto_enable = auto;
        a.auto_since = ctx.now;
    }
    if let Some(s3) = input.data_sources.as_ref().and_then(|d| d.s3_logs.as_ref()) {
        a.features.insert("S3_DATA_EVENTS".to_owned(), if s3.auto_enable { "NEW" } else { "NONE" }.to_owned());
    }
    for f in input.features.unwrap_or_default() {
        let (Some(name), Some(value)) = (f.name, f.auto_enable) else { continue };
        a.features.insert(name, value);
    }
    let Some(org) = org else { return Err(not_org_admin()) };
    records::write_tx(tx, &org_key(&org.id, region), &a)?;
    if a.auto_enable == "ALL" {
        enroll_all(tx, &org.id, region, ctx.now)?;
    }
    Ok(shapes::UpdateOrganizationConfigurationResponse {})
}

/// Whether a feature's auto-enable setting turns it on for an account auto-enable takes.
fn s3_for_new(a: &OrgAdmin) -> bool {
    feature_auto(a, "S3_DATA_EVENTS") != "NONE"
}

/// Makes an account of the organization a member of its delegated administrator, GuardDuty
/// enabled in it (a detector made, or an existing one turned on). `Err` carries why not, as an
/// unprocessed account's result.
fn enroll(
    tx: &mut Tx<'_>,
    a: &OrgAdmin,
    region: &str,
    m: &Membership,
    now: OffsetDateTime,
) -> Result<Result<(), String>, ServiceError> {
    if m.account == a.admin {
        return Ok(Err(
            "The request is rejected because the administrator account cannot be its own member.".to_owned()
        ));
    }
    if m.closed.is_some() {
        return Ok(Err("The request is rejected because the account is suspended.".to_owned()));
    }
    if let Some(l) = records::read_tx::<Link>(tx, &link_key(&m.account, region))? {
        if l.admin == a.admin {
            return Ok(Ok(()));
        }
        return Ok(Err(
            "The request is rejected because the account is already a member of another administrator account."
                .to_owned(),
        ));
    }
    let member = Member {
        account: m.account.clone(),
        email: m.email.clone(),
        status: "Enabled".to_owned(),
        by_org: true,
        invitation: None,
        invited: None,
        updated: now,
    };
    records::write_tx(tx, &member_key(&a.admin, region, &m.account), &member)?;
    records::write_tx(
        tx,
        &link_key(&m.account, region),
        &Link { admin: a.admin.clone(), by_org: true, invitation: None, invited: None },
    )?;
    let admin_frequency = detector(&records::tx_reader(tx), &a.admin, region)?.map(|d| d.frequency);
    let d = match detector(&records::tx_reader(tx), &m.account, region)? {
        Some(mut d) => {
            d.enabled = true;
            d.updated = now;
            d
        }
        None => Detector {
            id: new_id(),
            enabled: true,
            frequency: admin_frequency.unwrap_or_else(|| "SIX_HOURS".to_owned()),
            created: now,
            updated: now,
            s3_data_events: s3_for_new(a),
            tags: BTreeMap::new(),
        },
    };
    write_detector(tx, &m.account, region, &d)?;
    Ok(Ok(()))
}

fn org_accounts_tx(tx: &Tx<'_>, org: &str) -> Result<Vec<Membership>, ServiceError> {
    let p = rampart_core::keys::org_member("");
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = tx.scan_prefix(&p, after.as_deref(), 1000, false)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        let full = rows.len() == 1000;
        out.extend(
            rows.iter().filter_map(|(_, v)| serde_json::from_slice::<Membership>(v).ok()).filter(|m| m.org == org),
        );
        if !full {
            break;
        }
    }
    Ok(out)
}

fn enroll_all(tx: &mut Tx<'_>, org: &str, region: &str, now: OffsetDateTime) -> Result<usize, ServiceError> {
    let key = org_key(org, region);
    let Some(mut a) = records::read_tx::<OrgAdmin>(tx, &key)? else { return Ok(0) };
    let (mut added, mut looked_at) = (0, 0);
    for m in org_accounts_tx(tx, org)? {
        let due = a.auto_enable == "ALL" || (a.auto_enable == "NEW" && m.joined >= a.auto_since);
        if !due || a.enrolled.contains(&m.account) {
            continue;
        }
        if enroll(tx, &a, region, &m, now)?.is_ok() && m.account != a.admin {
            added += 1;
        }
        a.enrolled.insert(m.account);
        looked_at += 1;
    }
    // The task calls this every two seconds: nothing new, nothing written.
    if looked_at > 0 {
        records::write_tx(tx, &key, &a)?;
    }
    Ok(added)
}

/// Whether any organization has a GuardDuty administrator: the server's task then keeps the
/// memberships in step with the organizations ([`reconcile`]).
pub fn organized(db: &Db) -> Result<bool, ServiceError> {
    Ok(!db.scan_prefix(ORG.as_bytes(), None, 1, false)?.is_empty())
}

/// What [`reconcile`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Accounts auto-enable made members.
    pub added: usize,
    /// Members disassociated because they left the organization, or because their
    /// administrator is no longer the organization's (the organization deleted, or GuardDuty's
    /// delegated administrator deregistered in Organizations).
    pub removed: usize,
}

/// Keeps each organization's GuardDuty in step with the organization, as AWS does on its side:
/// an administrator whose designation Organizations no longer holds stops being one, an account
/// that left the organization stops being its member, and auto-enable (`ALL`, or `NEW` for the
/// accounts that joined since it was set) makes the others members, GuardDuty enabled in them.
pub fn reconcile(tx: &mut Tx<'_>, now: OffsetDateTime) -> Result<Reconciled, ServiceError> {
    let configs: Vec<(String, String, OrgAdmin)> = tx
        .scan_prefix(ORG.as_bytes(), None, 1000, false)?
        .iter()
        .filter_map(|(k, v)| {
            let rest = std::str::from_utf8(k).ok()?.strip_prefix(ORG)?;
            let (org, region) = rest.split_once('/')?;
            Some((org.to_owned(), region.to_owned(), serde_json::from_slice::<OrgAdmin>(v).ok()?))
        })
        .collect();
    let mut done = Reconciled::default();
    for (org, region, a) in configs {
        let record = records::read_tx::<OrgRecord>(tx, &rampart_core::keys::organization(&org))?;
        let designated = match &record {
            Some(o) if o.management_account == a.admin => true,
            Some(_) => rampart_organizations::delegations_tx(tx, &org)?
                .iter()
                .any(|d| d.account == a.admin && d.service == SERVICE),
            None => false,
        };
        let by_org: Vec<Member> =
            members_of_tx(tx, &a.admin, &region)?.into_iter().filter(|m| m.by_org && m.status == "Enabled").collect();
        if !designated {
            for m in by_org {
                disassociate(tx, &a.admin, &region, m, "Removed", now)?;
                done.removed += 1;
            }
            tx.delete(&org_key(&org, &region))?;
            continue;
        }
        for m in by_org {
            let still = rampart_organizations::membership_tx(tx, &m.account)?.is_some_and(|(o, _)| o.id == org);
            if !still {
                disassociate(tx, &a.admin, &region, m, "Removed", now)?;
                done.removed += 1;
            }
        }
        if a.auto_enable != "NONE" {
            done.added += enroll_all(tx, &org, &region, now)?;
        }
    }
    Ok(done)
}

fn unprocessed(account: &str, result: impl Into<String>) -> shapes::UnprocessedAccount {
    shapes::UnprocessedAccount { account_id: account.to_owned(), result: result.into() }
}

/// The caller as an administrator: its detector by id, and no administrator of its own ("An AWS
/// account can't be a GuardDuty administrator account and member account at the same time").
fn as_admin(tx: &Tx<'_>, ctx: &TxCtx<'_>, detector_id: &str) -> Result<(), ServiceError> {
    let get = records::tx_reader(tx);
    own_detector(&get, &ctx.principal.account_id, ctx.region, detector_id)?;
    if administrator(&get, &ctx.principal.account_id, ctx.region)?.is_some() {
        return Err(bad_request(
            "The request is rejected because the current account is a member account and cannot have members.",
        ));
    }
    Ok(())
}

fn valid_account(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Adds members: an account of the caller's organization when the caller is its delegated
/// administrator is associated at once, GuardDuty enabled in it with the organization's
/// auto-enable settings; any other account is recorded, to be invited (InviteMembers).
/// See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateMembers.html>.
pub fn create_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateMembersRequest,
) -> Result<shapes::CreateMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, &input.detector_id)?;
    let org = rampart_organizations::membership_tx(tx, account)?.map(|(o, _)| o);
    let org_admin = org_admin_of(&records::tx_reader(tx), org.as_ref(), account, region)?;
    let mut unprocessed_accounts = Vec::new();
    for detail in input.account_details {
        let id = detail.account_id;
        if !valid_account(&id) {
            unprocessed_accounts.push(unprocessed(&id, "The request is rejected because the account ID is not valid."));
            continue;
        }
        if id == *account {
            unprocessed_accounts
                .push(unprocessed(&id, "The request is rejected because an account cannot be its own member."));
            continue;
        }
        let in_org = rampart_organizations::membership_tx(tx, &id)?
            .filter(|(o, _)| org.as_ref().is_some_and(|mine| mine.id == o.id))
            .map(|(_, m)| m);
        if let (Some(a), Some(m)) = (&org_admin, in_org) {
            match enroll(tx, a, region, &m, ctx.now)? {
                // The member's email is the one the administrator gives.
                Ok(()) => {
                    let key = member_key(account, region, &id);
                    if let Some(mut m) = records::read_tx::<Member>(tx, &key)? {
                        m.email = detail.email;
                        records::write_tx(tx, &key, &m)?;
                    }
                }
                Err(why) => unprocessed_accounts.push(unprocessed(&id, why)),
            }
            continue;
        }
        let key = member_key(account, region, &id);
        match records::read_tx::<Member>(tx, &key)? {
            Some(mut m) => {
                m.email = detail.email;
                m.updated = ctx.now;
                records::write_tx(tx, &key, &m)?;
            }
            None => {
                let m = Member {
                    account: id,
                    email: detail.email,
                    status: "Created".to_owned(),
                    by_org: false,
                    invitation: None,
                    invited: None,
                    updated: ctx.now,
                };
                records::write_tx(tx, &key, &m)?;
            }
        }
    }
    Ok(shapes::CreateMembersResponse { unprocessed_accounts })
}

/// Sends invitations to members added by CreateMembers; each waits in the member's
/// ListInvitations until accepted or declined.
pub fn invite_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::InviteMembersRequest,
) -> Result<shapes::InviteMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, &input.detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    for id in input.account_ids {
        let key = member_key(account, region, &id);
        let Some(mut m) = records::read_tx::<Member>(tx, &key)? else {
            unprocessed_accounts.push(unprocessed(
                &id,
                "The request is rejected because the account is not a member; add it with CreateMembers first.",
            ));
            continue;
        };
        // An associated member (through the organization too) has nothing left to accept.
        if m.status == "Enabled" {
            continue;
        }
        if m.by_org {
            unprocessed_accounts.push(unprocessed(
                &id,
                "The request is rejected because the account was associated through the organization; add it again with CreateMembers.",
            ));
            continue;
        }
        let invite = Invite { admin: account.clone(), id: new_id(), invited: ctx.now };
        records::write_tx(tx, &invite_key(&id, region, account), &invite)?;
        m.status = "Invited".to_owned();
        m.invitation = Some(invite.id);
        m.invited = Some(ctx.now);
        m.updated = ctx.now;
        records::write_tx(tx, &key, &m)?;
    }
    Ok(shapes::InviteMembersResponse { unprocessed_accounts })
}

fn member_shape(
    admin: &str,
    region: &str,
    m: Member,
    get: &records::Reader<'_>,
) -> Result<shapes::Member, ServiceError> {
    let detector_id = detector(get, &m.account, region)?.map(|d| d.id);
    Ok(shapes::Member {
        account_id: m.account,
        detector_id,
        master_id: admin.to_owned(),
        email: m.email,
        relationship_status: m.status,
        invited_at: m.invited.map(stamp),
        updated_at: stamp(m.updated),
        administrator_id: Some(admin.to_owned()),
    })
}

pub fn get_members(
    ctx: &Ctx<'_>,
    input: shapes::GetMembersRequest,
) -> Result<shapes::GetMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::cached_reader(ctx.db);
    own_detector(&get, account, region, &input.detector_id)?;
    let (mut members, mut unprocessed_accounts) = (Vec::new(), Vec::new());
    for id in input.account_ids {
        match records::read_with::<Member>(&get, &member_key(account, region, &id))? {
            Some(m) => members.push(member_shape(account, region, m, &get)?),
            None => unprocessed_accounts
                .push(unprocessed(&id, "The request is rejected because the account is not a member.")),
        }
    }
    Ok(shapes::GetMembersResponse { members, unprocessed_accounts })
}

/// The administrator's members: only the associated ones unless `OnlyAssociated` is `false`.
pub fn list_members(
    ctx: &Ctx<'_>,
    input: shapes::ListMembersRequest,
) -> Result<shapes::ListMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::cached_reader(ctx.db);
    own_detector(&get, account, region, &input.detector_id)?;
    let all = input.only_associated.as_deref().is_some_and(|o| !o.eq_ignore_ascii_case("true"));
    let members = members_of(ctx.db, account, region)?
        .into_iter()
        .filter(|m| all || m.status == "Enabled")
        .map(|m| member_shape(account, region, m, &get))
        .collect::<Result<Vec<_>, _>>()?;
    let (members, next_token) = page(members, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListMembersResponse { members: Some(members), next_token })
}

/// Ends an association from the administrator's side (`Removed`) or the member's (`Resigned`).
fn disassociate(
    tx: &mut Tx<'_>,
    admin: &str,
    region: &str,
    mut m: Member,
    status: &str,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    if records::read_tx::<Link>(tx, &link_key(&m.account, region))?.is_some_and(|l| l.admin == admin) {
        tx.delete(&link_key(&m.account, region))?;
    }
    tx.delete(&invite_key(&m.account, region, admin))?;
    m.status = status.to_owned();
    m.updated = now;
    records::write_tx(tx, &member_key(admin, region, &m.account), &m)
}

/// The members an administrator names, each with whether auto-enable `ALL` holds it (then it
/// cannot be disassociated: "With autoEnableOrganizationMembers configuration for your
/// organization set to ALL, you'll receive an error if you attempt to disable GuardDuty in a
/// member account").
fn named_members(
    tx: &Tx<'_>,
    account: &str,
    region: &str,
    ids: Vec<String>,
    unprocessed_accounts: &mut Vec<shapes::UnprocessedAccount>,
) -> Result<Vec<Member>, ServiceError> {
    let org = rampart_organizations::membership_tx(tx, account)?.map(|(o, _)| o);
    let all =
        org_admin_of(&records::tx_reader(tx), org.as_ref(), account, region)?.is_some_and(|a| a.auto_enable == "ALL");
    let mut out = Vec::new();
    for id in ids {
        match records::read_tx::<Member>(tx, &member_key(account, region, &id))? {
            None => unprocessed_accounts
                .push(unprocessed(&id, "The request is rejected because the account is not a member.")),
            Some(m) if all && m.by_org && m.status == "Enabled" => unprocessed_accounts.push(unprocessed(
                &id,
                "The request is rejected because the organization's autoEnableOrganizationMembers is ALL.",
            )),
            Some(m) => out.push(m),
        }
    }
    Ok(out)
}

pub fn disassociate_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateMembersRequest,
) -> Result<shapes::DisassociateMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, &input.detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    for m in named_members(tx, account, region, input.account_ids, &mut unprocessed_accounts)? {
        disassociate(tx, account, region, m, "Removed", ctx.now)?;
    }
    Ok(shapes::DisassociateMembersResponse { unprocessed_accounts })
}

pub fn delete_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteMembersRequest,
) -> Result<shapes::DeleteMembersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, &input.detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    for m in named_members(tx, account, region, input.account_ids, &mut unprocessed_accounts)? {
        let id = m.account.clone();
        disassociate(tx, account, region, m, "Removed", ctx.now)?;
        tx.delete(&member_key(account, region, &id))?;
    }
    Ok(shapes::DeleteMembersResponse { unprocessed_accounts })
}

/// Turns GuardDuty on or off in associated members (StartMonitoringMembers,
/// StopMonitoringMembers): a stopped member's detector is disabled and makes no findings.
fn monitor(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    detector_id: &str,
    ids: Vec<String>,
    on: bool,
) -> Result<Vec<shapes::UnprocessedAccount>, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    for id in ids {
        let associated =
            records::read_tx::<Member>(tx, &member_key(account, region, &id))?.is_some_and(|m| m.status == "Enabled");
        let d = detector(&records::tx_reader(tx), &id, region)?;
        match (associated, d) {
            (true, Some(mut d)) => {
                d.enabled = on;
                d.updated = ctx.now;
                write_detector(tx, &id, region, &d)?;
            }
            _ => unprocessed_accounts
                .push(unprocessed(&id, "The request is rejected because the account is not an associated member.")),
        }
    }
    Ok(unprocessed_accounts)
}

pub fn start_monitoring_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::StartMonitoringMembersRequest,
) -> Result<shapes::StartMonitoringMembersResponse, ServiceError> {
    let unprocessed_accounts = monitor(tx, ctx, &input.detector_id, input.account_ids, true)?;
    Ok(shapes::StartMonitoringMembersResponse { unprocessed_accounts })
}

pub fn stop_monitoring_members(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::StopMonitoringMembersRequest,
) -> Result<shapes::StopMonitoringMembersResponse, ServiceError> {
    let unprocessed_accounts = monitor(tx, ctx, &input.detector_id, input.account_ids, false)?;
    Ok(shapes::StopMonitoringMembersResponse { unprocessed_accounts })
}

/// The associated members' detectors an administrator names, by account.
fn member_detectors(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    ids: Vec<String>,
    unprocessed_accounts: &mut Vec<shapes::UnprocessedAccount>,
) -> Result<Vec<(String, Detector)>, ServiceError> {
    let mut out = Vec::new();
    for id in ids {
        let associated = records::read_with::<Member>(get, &member_key(account, region, &id))?
            .is_some_and(|m| m.status == "Enabled");
        match detector(get, &id, region)?.filter(|_| associated) {
            Some(d) => out.push((id, d)),
            None => unprocessed_accounts
                .push(unprocessed(&id, "The request is rejected because the account is not an associated member.")),
        }
    }
    Ok(out)
}

pub fn get_member_detectors(
    ctx: &Ctx<'_>,
    input: shapes::GetMemberDetectorsRequest,
) -> Result<shapes::GetMemberDetectorsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::cached_reader(ctx.db);
    own_detector(&get, account, region, &input.detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    let member_data_source_configurations =
        member_detectors(&get, account, region, input.account_ids, &mut unprocessed_accounts)?
            .into_iter()
            .map(|(id, d)| shapes::MemberDataSourceConfiguration {
                account_id: id,
                data_sources: crate::data_sources(&d),
                features: Some(
                    ORG_FEATURES
                        .iter()
                        .map(|name| shapes::MemberFeaturesConfigurationResult {
                            name: Some((*name).to_owned()),
                            status: Some(crate::feature_status(&d, name).to_owned()),
                            updated_at: Some(d.updated),
                            additional_configuration: None,
                        })
                        .collect(),
                ),
            })
            .collect();
    Ok(shapes::GetMemberDetectorsResponse { member_data_source_configurations, unprocessed_accounts })
}

pub fn update_member_detectors(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateMemberDetectorsRequest,
) -> Result<shapes::UpdateMemberDetectorsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    as_admin(tx, ctx, &input.detector_id)?;
    let mut unprocessed_accounts = Vec::new();
    let found =
        member_detectors(&records::tx_reader(tx), account, region, input.account_ids, &mut unprocessed_accounts)?;
    let features: Vec<(String, Option<String>)> =
        input.features.unwrap_or_default().into_iter().map(|f| (f.name.unwrap_or_default(), f.status)).collect();
    for (id, mut d) in found {
        crate::apply_settings(&mut d, input.data_sources.as_ref(), &features)?;
        d.updated = ctx.now;
        write_detector(tx, &id, region, &d)?;
    }
    Ok(shapes::UpdateMemberDetectorsResponse { unprocessed_accounts })
}

fn invites(db: &Db, account: &str, region: &str) -> Result<Vec<Invite>, ServiceError> {
    records::scan_records(db, format!("gdinvite/{account}/{region}/").as_bytes())
}

/// The invitations waiting for the caller in the Region.
pub fn list_invitations(
    ctx: &Ctx<'_>,
    input: shapes::ListInvitationsRequest,
) -> Result<shapes::ListInvitationsResponse, ServiceError> {
    let shaped = invites(ctx.db, &ctx.principal.account_id, ctx.region)?
        .into_iter()
        .map(|i| shapes::Invitation {
            account_id: Some(i.admin),
            invitation_id: Some(i.id),
            relationship_status: Some("Invited".to_owned()),
            invited_at: Some(stamp(i.invited)),
        })
        .collect();
    let (invitations, next_token) = page(shaped, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListInvitationsResponse { invitations: Some(invitations), next_token })
}

pub fn get_invitations_count(
    ctx: &Ctx<'_>,
    _input: shapes::GetInvitationsCountRequest,
) -> Result<shapes::GetInvitationsCountResponse, ServiceError> {
    let n = invites(ctx.db, &ctx.principal.account_id, ctx.region)?.len();
    Ok(shapes::GetInvitationsCountResponse { invitations_count: Some(i32::try_from(n).unwrap_or(i32::MAX)) })
}

fn accept(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    detector_id: &str,
    admin: &str,
    invitation: &str,
) -> Result<(), ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::tx_reader(tx);
    own_detector(&get, account, region, detector_id)?;
    if administrator(&get, account, region)?.is_some() {
        return Err(bad_request(
            "The request is rejected because the current account is already associated with an administrator account.",
        ));
    }
    let bad_invitation = || bad_request("The request is rejected because the invitation is not valid.");
    let invite = records::read_with::<Invite>(&get, &invite_key(account, region, admin))?
        .filter(|i| i.id == invitation)
        .ok_or_else(bad_invitation)?;
    let key = member_key(admin, region, account);
    let mut m =
        records::read_with::<Member>(&get, &key)?.filter(|m| m.status == "Invited").ok_or_else(bad_invitation)?;
    drop(get);
    m.status = "Enabled".to_owned();
    m.updated = ctx.now;
    records::write_tx(tx, &key, &m)?;
    let link =
        Link { admin: admin.to_owned(), by_org: false, invitation: Some(invite.id), invited: Some(invite.invited) };
    records::write_tx(tx, &link_key(account, region), &link)?;
    tx.delete(&invite_key(account, region, admin))?;
    Ok(())
}

pub fn accept_administrator_invitation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AcceptAdministratorInvitationRequest,
) -> Result<shapes::AcceptAdministratorInvitationResponse, ServiceError> {
    accept(tx, ctx, &input.detector_id, &input.administrator_id, &input.invitation_id)?;
    Ok(shapes::AcceptAdministratorInvitationResponse {})
}

pub fn accept_invitation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AcceptInvitationRequest,
) -> Result<shapes::AcceptInvitationResponse, ServiceError> {
    accept(tx, ctx, &input.detector_id, &input.master_id, &input.invitation_id)?;
    Ok(shapes::AcceptInvitationResponse {})
}

/// Declines (or deletes) the invitations of the named administrators: each sees its member
/// `Resigned`.
fn refuse(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    admins: Vec<String>,
) -> Result<Vec<shapes::UnprocessedAccount>, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let mut unprocessed_accounts = Vec::new();
    for admin in admins {
        let key = invite_key(account, region, &admin);
        if tx.get(&key)?.is_none() {
            unprocessed_accounts
                .push(unprocessed(&admin, "The request is rejected because there is no invitation from this account."));
            continue;
        }
        tx.delete(&key)?;
        let mkey = member_key(&admin, region, account);
        if let Some(mut m) = records::read_tx::<Member>(tx, &mkey)?.filter(|m| m.status == "Invited") {
            m.status = "Resigned".to_owned();
            m.updated = ctx.now;
            records::write_tx(tx, &mkey, &m)?;
        }
    }
    Ok(unprocessed_accounts)
}

pub fn decline_invitations(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeclineInvitationsRequest,
) -> Result<shapes::DeclineInvitationsResponse, ServiceError> {
    Ok(shapes::DeclineInvitationsResponse { unprocessed_accounts: refuse(tx, ctx, input.account_ids)? })
}

pub fn delete_invitations(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteInvitationsRequest,
) -> Result<shapes::DeleteInvitationsResponse, ServiceError> {
    Ok(shapes::DeleteInvitationsResponse { unprocessed_accounts: refuse(tx, ctx, input.account_ids)? })
}

/// The caller's administrator; nothing for an account that has none, as AWS answers.
fn administrator_shape(ctx: &Ctx<'_>, detector_id: &str) -> Result<Option<Link>, ServiceError> {
    let get = records::cached_reader(ctx.db);
    own_detector(&get, &ctx.principal.account_id, ctx.region, detector_id)?;
    administrator(&get, &ctx.principal.account_id, ctx.region)
}

pub fn get_administrator_account(
    ctx: &Ctx<'_>,
    input: shapes::GetAdministratorAccountRequest,
) -> Result<shapes::GetAdministratorAccountResponse, ServiceError> {
    let l = administrator_shape(ctx, &input.detector_id)?;
    Ok(shapes::GetAdministratorAccountResponse {
        administrator: shapes::Administrator {
            relationship_status: l.as_ref().map(|_| "Enabled".to_owned()),
            invitation_id: l.as_ref().and_then(|l| l.invitation.clone()),
            invited_at: l.as_ref().and_then(|l| l.invited).map(stamp),
            account_id: l.map(|l| l.admin),
        },
    })
}

pub fn get_master_account(
    ctx: &Ctx<'_>,
    input: shapes::GetMasterAccountRequest,
) -> Result<shapes::GetMasterAccountResponse, ServiceError> {
    let l = administrator_shape(ctx, &input.detector_id)?;
    Ok(shapes::GetMasterAccountResponse {
        master: shapes::Master {
            relationship_status: l.as_ref().map(|_| "Enabled".to_owned()),
            invitation_id: l.as_ref().and_then(|l| l.invitation.clone()),
            invited_at: l.as_ref().and_then(|l| l.invited).map(stamp),
            account_id: l.map(|l| l.admin),
        },
    })
}

/// A member leaves its administrator. A member through the organization cannot: only its
/// delegated administrator can disassociate it.
fn leave(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, detector_id: &str) -> Result<(), ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::tx_reader(tx);
    own_detector(&get, account, region, detector_id)?;
    let l = administrator(&get, account, region)?.ok_or_else(|| {
        bad_request(
            "The request is rejected because the current account is not associated with an administrator account.",
        )
    })?;
    if l.by_org {
        return Err(bad_request(
            "The request is rejected because the account is a member through its organization; only the delegated \
             administrator can disassociate it.",
        ));
    }
    let m = records::read_with::<Member>(&get, &member_key(&l.admin, region, account))?;
    drop(get);
    match m {
        Some(m) => disassociate(tx, &l.admin, region, m, "Resigned", ctx.now),
        None => {
            tx.delete(&link_key(account, region))?;
            Ok(())
        }
    }
}

pub fn disassociate_from_administrator_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateFromAdministratorAccountRequest,
) -> Result<shapes::DisassociateFromAdministratorAccountResponse, ServiceError> {
    leave(tx, ctx, &input.detector_id)?;
    Ok(shapes::DisassociateFromAdministratorAccountResponse {})
}

pub fn disassociate_from_master_account(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateFromMasterAccountRequest,
) -> Result<shapes::DisassociateFromMasterAccountResponse, ServiceError> {
    leave(tx, ctx, &input.detector_id)?;
    Ok(shapes::DisassociateFromMasterAccountResponse {})
}

/// The organization's accounts as the delegated administrator sees them: how many there are,
/// how many are its members, how many are active (not suspended) and how many have GuardDuty
/// enabled (the administrator and its members), and each feature's enabled count.
/// See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetOrganizationStatistics.html>.
pub fn get_organization_statistics(
    ctx: &Ctx<'_>,
    _input: (),
) -> Result<shapes::GetOrganizationStatisticsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::cached_reader(ctx.db);
    let org = rampart_organizations::membership(ctx.db, account)?.map(|(o, _)| o);
    let a = org_admin_of(&get, org.as_ref(), account, region)?.ok_or_else(not_org_admin)?;
    let Some(org) = org else { return Err(not_org_admin()) };
    let accounts = rampart_organizations::accounts_of(ctx.db, &org.id)?;
    let members = members_of(ctx.db, &a.admin, region)?.into_iter().filter(|m| m.status == "Enabled").count();
    let mut enabled = Vec::new();
    for acct in std::iter::once(a.admin.clone()).chain(visible(ctx.db, account, region)?.into_iter().skip(1)) {
        if let Some(d) = detector(&get, &acct, region)?.filter(|d| d.enabled) {
            enabled.push(d);
        }
    }
    let count = |n: usize| Some(i32::try_from(n).unwrap_or(i32::MAX));
    let by_feature = ORG_FEATURES
        .iter()
        .map(|name| shapes::OrganizationFeatureStatistics {
            name: Some((*name).to_owned()),
            enabled_accounts_count: count(
                enabled.iter().filter(|d| crate::feature_status(d, name) == "ENABLED").count(),
            ),
            additional_configuration: None,
        })
        .collect();
    Ok(shapes::GetOrganizationStatisticsResponse {
        organization_details: Some(shapes::OrganizationDetails {
            updated_at: Some(ctx.now),
            organization_statistics: Some(shapes::OrganizationStatistics {
                total_accounts_count: count(accounts.len()),
                member_accounts_count: count(members),
                active_accounts_count: count(accounts.iter().filter(|m| m.closed.is_none()).count()),
                enabled_accounts_count: count(enabled.len()),
                count_by_feature: Some(by_feature),
            }),
        }),
    })
}
