//! IAM's service last accessed report for Organizations: for a root, an OU or an account of the
//! organization, the services its SCPs (or one SCP) allow to the accounts' principals, and when a
//! principal of those accounts — root user, IAM user or role — last attempted each, from the
//! attempts the pipeline notes for IAM's last accessed information.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateOrganizationsAccessReport.html>
//! and <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed-view-data-orgs.html>.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::policies::{SCP, attached_tx, read_policy_tx};
use super::tree::read_node_tx;
use super::{Membership, OrgRecord, membership_tx};

/// A report, kept for GetOrganizationsAccessReport.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    v: u32,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    /// `(code, message)` when the report could not be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<(String, String)>,
    services: Vec<Service>,
}

/// One allowed service, with the latest attempt at it by a principal of a reported account.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Service {
    namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    last: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    /// The path of the account whose principal made the latest attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entity_path: Option<String>,
    /// How many reported accounts had a principal attempt the service.
    accounts: i32,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

/// The services a policy's `Allow` statements grant any action of, by prefix.
fn services_of(doc: &str) -> BTreeSet<String> {
    Policy::parse(doc, PolicyKind::Scp)
        .map(|p| rampart_policy::allowed_actions(&p).into_iter().map(|(s, _)| s.to_owned()).collect())
        .unwrap_or_default()
}

/// The services the SCPs on `targets` (the root down to the entity) allow: each level must
/// allow a service for it to be allowed, as SCPs are evaluated.
fn allowed_by_levels(tx: &Tx<'_>, org: &str, targets: &[String]) -> Result<BTreeSet<String>, ServiceError> {
    let mut allowed: Option<BTreeSet<String>> = None;
    for target in targets {
        let mut level = BTreeSet::new();
        for id in attached_tx(tx, org, target)? {
            if let Some(p) = read_policy_tx(tx, org, &id)?.filter(|p| p.r#type == SCP) {
                level.extend(services_of(&p.content));
            }
        }
        allowed = Some(match allowed {
            Some(a) => a.intersection(&level).cloned().collect(),
            None => level,
        });
    }
    Ok(allowed.unwrap_or_default())
}

/// The accounts under a root or OU, with each one's path.
fn accounts_under(
    tx: &Tx<'_>,
    org: &OrgRecord,
    node: &str,
    path: &str,
    out: &mut Vec<(String, String)>,
    depth: usize,
) -> Result<(), ServiceError> {
    let prefix = keys::org_children(&org.id, node);
    for (k, kind) in tx.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        let Some(child) = k.get(prefix.len()..).map(|c| String::from_utf8_lossy(c).into_owned()) else { continue };
        if kind == b"ACCOUNT" {
            out.push((child.clone(), format!("{path}{child}")));
        } else if depth < 8 {
            accounts_under(tx, org, &child, &format!("{path}{child}/"), out, depth + 1)?;
        }
    }
    Ok(())
}

/// The latest attempt at each service by any principal of `account` (root user, users, roles):
/// `(date, region)` by service prefix.
fn attempts(tx: &Tx<'_>, account: &str) -> Result<BTreeMap<String, (OffsetDateTime, String)>, ServiceError> {
    let mut out: BTreeMap<String, (OffsetDateTime, String)> = BTreeMap::new();
    for (k, v) in tx.scan_prefix(&keys::account_access_uses(account), None, usize::MAX >> 1, false)? {
        let Some(action) = k.rsplit(|b| *b == b'/').next() else { continue };
        let action = String::from_utf8_lossy(action);
        let Some((service, _)) = action.split_once(':') else { continue };
        let used: rampart_iam::iam::AccessUse = records::decode(&k, &v)?;
        if out.get(service).is_none_or(|(d, _)| used.date > *d) {
            out.insert(service.to_owned(), (used.date, used.region));
        }
    }
    Ok(out)
}

/// What a report covers: the accounts (with their paths) and the services allowed them. An error
/// the caller made in the request itself is returned; one about the organization's state fails the
/// job, as IAM reports it.
type Coverage = (Vec<(String, String)>, BTreeSet<String>);

fn coverage(
    tx: &Tx<'_>,
    caller: &str,
    entity_path: &str,
    policy_id: Option<&str>,
) -> Result<Result<Coverage, (String, String)>, ServiceError> {
    let fail = |code: &str, message: &str| Ok(Err((code.to_owned(), message.to_owned())));
    let Some((org, _)) = membership_tx(tx, caller)? else {
        return fail("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.");
    };
    if org.management_account != caller {
        return fail(
            "AccessDenied",
            "Only the organization's management account can generate an Organizations access report.",
        );
    }
    if !org.enabled_types.iter().any(|t| t == SCP) {
        return fail("PolicyTypeNotEnabled", "Service control policies must be enabled for the organization root.");
    }
    // o-…/r-…[/ou-…]*[/account], each part under the one before.
    let parts: Vec<&str> = entity_path.trim_end_matches('/').split('/').collect();
    let not_found = || invalid(format!("The entity path {entity_path} is not in your organization."));
    let [org_id, root, rest @ ..] = parts.as_slice() else { return Err(not_found()) };
    if *org_id != org.id || *root != org.root_id {
        return Err(not_found());
    }
    let (ous, account) = match rest.split_last() {
        Some((last, ous)) if last.len() == 12 && last.bytes().all(|b| b.is_ascii_digit()) => (ous, Some(*last)),
        _ => (rest, None),
    };
    let mut lineage = vec![org.root_id.clone()];
    for ou in ous {
        let node = read_node_tx(tx, &org.id, ou)?.ok_or_else(not_found)?;
        if node.parent.as_deref() != lineage.last().map(String::as_str) {
            return Err(not_found());
        }
        lineage.push((*ou).to_owned());
    }
    let base = rampart_core::orgs::path(&org.id, lineage.iter().map(String::as_str));
    let mut accounts = Vec::new();
    match account {
        Some(a) => {
            let m: Membership = records::read_tx(tx, &keys::org_member(a))?.ok_or_else(not_found)?;
            if m.org != org.id || Some(&m.parent) != lineage.last() {
                return Err(not_found());
            }
            accounts.push((a.to_owned(), format!("{base}{a}")));
        }
        None => accounts_under(tx, &org, lineage.last().map_or("", String::as_str), &base, &mut accounts, 0)?,
    }
    // SCPs do not restrict the management account: it is reported alone, with every service.
    let management_only = account == Some(org.management_account.as_str());
    if !management_only {
        accounts.retain(|(a, _)| *a != org.management_account);
    }
    let services = match policy_id {
        Some(id) => {
            let p = read_policy_tx(tx, &org.id, id)?
                .filter(|p| p.r#type == SCP)
                .ok_or_else(|| invalid(format!("The service control policy {id} does not exist.")))?;
            services_of(&p.content)
        }
        None if management_only => {
            services_of(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
        }
        None => {
            let mut targets = lineage;
            targets.extend(account.map(str::to_owned));
            allowed_by_levels(tx, &org.id, &targets)?
        }
    };
    Ok(Ok((accounts, services)))
}

/// Makes the report at once, in the transaction that keeps it; GetOrganizationsAccessReport reads
/// it. A request IAM refuses outright (an entity or policy not in the organization) is
/// InvalidInput; a report that cannot be made (not the management account, SCPs not enabled) is a
/// job that FAILED, with the reason in its ErrorDetails.
pub fn generate_organizations_access_report(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::GenerateOrganizationsAccessReportRequest,
) -> Result<shapes::GenerateOrganizationsAccessReportResponse, ServiceError> {
    let caller = &ctx.principal.account_id;
    let job = match coverage(tx, caller, &input.entity_path, input.organizations_policy_id.as_deref())? {
        Err(error) => Job { v: 1, created: ctx.now, error: Some(error), services: Vec::new() },
        Ok((accounts, allowed)) => {
            let mut services: BTreeMap<String, Service> = allowed
                .into_iter()
                .map(|s| {
                    (s.clone(), Service { namespace: s, last: None, region: None, entity_path: None, accounts: 0 })
                })
                .collect();
            for (account, path) in &accounts {
                for (service, (date, region)) in attempts(tx, account)? {
                    let Some(s) = services.get_mut(&service) else { continue };
                    s.accounts += 1;
                    if s.last.is_none_or(|l| date > l) {
                        s.last = Some(date);
                        s.region = Some(region);
                        s.entity_path = Some(path.clone());
                    }
                }
            }
            Job { v: 1, created: ctx.now, error: None, services: services.into_values().collect() }
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    records::write_tx(tx, &keys::org_access_job(caller, &id), &job)?;
    Ok(shapes::GenerateOrganizationsAccessReportResponse { job_id: Some(id) })
}

pub fn get_organizations_access_report(
    ctx: &Ctx<'_>,
    input: shapes::GetOrganizationsAccessReportRequest,
) -> Result<shapes::GetOrganizationsAccessReportResponse, ServiceError> {
    let job: Job = records::read_cached(ctx.db, &keys::org_access_job(&ctx.principal.account_id, &input.job_id))?
        .ok_or_else(|| ServiceError::new("NoSuchEntity", 404, format!("No job with JobId {} exists.", input.job_id)))?;
    if let Some((code, message)) = job.error {
        return Ok(shapes::GetOrganizationsAccessReportResponse {
            job_status: "FAILED".to_owned(),
            job_creation_date: job.created,
            job_completion_date: Some(job.created),
            number_of_services_accessible: None,
            number_of_services_not_accessed: None,
            access_details: None,
            is_truncated: None,
            marker: None,
            error_details: Some(shapes::ErrorDetails { message, code }),
        });
    }
    let accessible = i32::try_from(job.services.len()).unwrap_or(i32::MAX);
    let not_accessed = i32::try_from(job.services.iter().filter(|s| s.last.is_none()).count()).unwrap_or(i32::MAX);
    let mut services = job.services;
    match input.sort_key.as_deref() {
        Some("SERVICE_NAMESPACE_DESCENDING") => services.reverse(),
        Some("LAST_AUTHENTICATED_TIME_ASCENDING") => services.sort_by_key(|s| s.last),
        Some("LAST_AUTHENTICATED_TIME_DESCENDING") => services.sort_by_key(|s| std::cmp::Reverse(s.last)),
        _ => {}
    }
    let (page, truncated, marker) = rampart_iam::iam::page_items(services, input.marker.as_deref(), input.max_items)?;
    let details = page
        .into_iter()
        .map(|s| shapes::AccessDetail {
            service_name: rampart_iam::iam::service_name(&s.namespace),
            service_namespace: s.namespace,
            region: s.region,
            entity_path: s.entity_path,
            last_authenticated_time: s.last,
            total_authenticated_entities: Some(s.accounts),
        })
        .collect();
    Ok(shapes::GetOrganizationsAccessReportResponse {
        job_status: "COMPLETED".to_owned(),
        job_creation_date: job.created,
        job_completion_date: Some(job.created),
        number_of_services_accessible: Some(accessible),
        number_of_services_not_accessed: Some(not_accessed),
        access_details: Some(details),
        is_truncated: Some(truncated),
        marker,
        error_details: None,
    })
}
