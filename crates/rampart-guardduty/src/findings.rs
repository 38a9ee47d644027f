//! Findings: kept in rest-json's naming (as criteria name their fields), made or updated from
//! detections (a repeat adds to `service.count` and moves `service.eventLastSeen`, as GuardDuty
//! aggregates), listed, counted, archived and given feedback; and sample findings.
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-summary.html>.

use std::collections::BTreeMap;

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::Tx;
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

use crate::detect::{Detection, FindingType, TYPES, finding_type};
use crate::{Detector, bad_request, criteria, filters, own_detector, prefix, stamp};

/// Most findings a listing reads (GuardDuty keeps findings 90 days).
const MAX_FINDINGS: usize = 50_000;
/// Most finding ids one GetFindings, ArchiveFindings or feedback call takes (the model's limit).
const MAX_IDS: usize = 50;

pub(crate) fn key(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("{}finding/{id}", prefix(account, region)).into_bytes()
}

/// A finding's id: the same for every repeat of one detection (type, detector and key), so
/// repeats update one finding. 32 hex digits, as GuardDuty's.
pub fn finding_id(detector: &str, kind: &str, key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{detector}|{kind}|{key}").as_bytes());
    data_encoding::HEXLOWER.encode(digest.as_ref().get(..16).unwrap_or_default())
}

fn read_tx(tx: &mut Tx<'_>, account: &str, region: &str, id: &str) -> Result<Option<Json>, ServiceError> {
    Ok(tx.get(&key(account, region, id))?.and_then(|v| serde_json::from_slice(&v).ok()))
}

fn write_tx(tx: &mut Tx<'_>, account: &str, region: &str, f: &Json) -> Result<(), ServiceError> {
    let id = crate::at(f, &["id"]).as_str().unwrap_or_default().to_owned();
    tx.put(&key(account, region, &id), f.to_string().as_bytes())?;
    Ok(())
}

/// Changes a recorded finding's `service` member (a detection made outside the event log adds
/// what its own feature shows there).
pub(crate) fn patch_service(
    tx: &mut Tx<'_>,
    (account, region, id): (&str, &str, &str),
    f: impl FnOnce(&mut Json),
) -> Result<(), ServiceError> {
    let Some(mut finding) = read_tx(tx, account, region, id)? else { return Ok(()) };
    if let Some(service) = finding.get_mut("service") {
        f(service);
    }
    write_tx(tx, account, region, &finding)
}

/// Every finding an account sees in a Region: its own and its associated members'.
fn all(db: &rampart_store::Db, account: &str, region: &str) -> Result<Vec<Json>, ServiceError> {
    let mut out = Vec::new();
    for a in crate::members::visible(db, account, region)? {
        let p = format!("{}finding/", prefix(&a, region));
        let rows = db.scan_prefix(p.as_bytes(), None, MAX_FINDINGS.saturating_sub(out.len()), false)?;
        out.extend(rows.iter().filter_map(|(_, v)| serde_json::from_slice::<Json>(v).ok()));
    }
    Ok(out)
}

/// Whether the detector's suppression rules (its `ARCHIVE` filters) archive a finding.
fn suppressed(f: &Json, rules: &[filters::Filter]) -> bool {
    rules.iter().filter(|r| r.action == "ARCHIVE").any(|r| r.criteria().is_some_and(|c| criteria::matches(f, Some(&c))))
}

/// A new finding of `kind` with its id, words (title and description) and first event time.
fn new_finding(
    (account, region): (&str, &str),
    d: &Detector,
    kind: &FindingType,
    id: &str,
    (title, description): (String, String),
    at: &str,
    now: OffsetDateTime,
) -> Json {
    json!({
        "accountId": account,
        "arn": format!("arn:aws:guardduty:{region}:{account}:detector/{}/finding/{id}", d.id),
        "createdAt": stamp(now),
        "description": description,
        "id": id,
        "partition": "aws",
        "region": region,
        "resource": {"resourceType": kind.resource_type},
        "schemaVersion": "2.0",
        "service": {
            "archived": false,
            "count": 1,
            "detectorId": d.id,
            "eventFirstSeen": at,
            "eventLastSeen": at,
            "resourceRole": "TARGET",
            "serviceName": "guardduty",
            "featureName": "CloudTrail",
            "additionalInfo": {"value": "{}", "type": "default"},
        },
        "severity": kind.severity,
        "title": title,
        "type": kind.name,
        "updatedAt": stamp(now),
    })
}

/// What [`record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new finding, with its id and whether a suppression rule archived it.
    New { id: String, archived: bool },
    /// A repeat of an existing finding, now counted.
    Repeat { id: String },
}

/// Makes a detection a finding of the detector, or counts it on the finding it repeats. In a
/// replay, a repeat no later than the finding's last event was counted already: `None`.
#[allow(clippy::too_many_arguments, reason = "the finding's place, detector, rules, time and mode")]
pub fn record(
    tx: &mut Tx<'_>,
    account: &str,
    region: &str,
    d: &Detector,
    det: &Detection,
    rules: &[filters::Filter],
    now: OffsetDateTime,
    replay: bool,
) -> Result<Option<Recorded>, ServiceError> {
    let id = finding_id(&d.id, det.kind.name, &det.key);
    if let Some(mut f) = read_tx(tx, account, region, &id)? {
        if replay && crate::at(&f, &["service", "eventLastSeen"]).as_str().is_some_and(|last| det.at.as_str() <= last) {
            return Ok(None);
        }
        let count = crate::at(&f, &["service", "count"]).as_i64().unwrap_or(1).saturating_add(i64::from(det.count));
        crate::set(&mut f, &["service", "count"], json!(count));
        // Events can arrive a little out of order: the last seen is the latest.
        if crate::at(&f, &["service", "eventLastSeen"]).as_str().is_none_or(|last| det.last.as_str() > last) {
            crate::set(&mut f, &["service", "eventLastSeen"], json!(det.last));
            crate::set(&mut f, &["service", "action"], det.action.clone());
        }
        crate::set(&mut f, &["updatedAt"], json!(stamp(now)));
        if let Some(a) = &det.additional {
            crate::set(&mut f, &["service", "additionalInfo"], json!({"value": a.to_string(), "type": "default"}));
        }
        if !det.signals.is_empty() {
            crate::set(&mut f, &["service", "detection"], sequence(account, region, d, det, &id));
        }
        write_tx(tx, account, region, &f)?;
        crate::export::mark(tx, account, region, &id, false)?;
        return Ok(Some(Recorded::Repeat { id }));
    }
    let mut f =
        new_finding((account, region), d, det.kind, &id, (det.title.clone(), det.description.clone()), &det.at, now);
    crate::set(&mut f, &["resource"], det.resource.clone());
    crate::set(&mut f, &["service", "count"], json!(det.count));
    crate::set(&mut f, &["service", "eventLastSeen"], json!(det.last));
    crate::set(&mut f, &["service", "action"], det.action.clone());
    if let Some(e) = &det.evidence {
        crate::set(&mut f, &["service", "evidence"], e.clone());
    }
    if let Some(d) = &det.detection {
        crate::set(&mut f, &["service", "detection"], d.clone());
    }
    if let Some(a) = &det.additional {
        crate::set(&mut f, &["service", "additionalInfo"], json!({"value": a.to_string(), "type": "default"}));
    }
    if !det.signals.is_empty() {
        crate::set(&mut f, &["service", "detection"], sequence(account, region, d, det, &id));
    }
    let archived = suppressed(&f, rules);
    crate::set(&mut f, &["service", "archived"], json!(archived));
    write_tx(tx, account, region, &f)?;
    crate::export::mark(tx, account, region, &id, true)?;
    Ok(Some(Recorded::New { id, archived }))
}

/// An attack sequence's `service.detection.sequence`: the principal, and each finding it ties
/// together as a signal (named by its finding's ARN).
fn sequence(account: &str, region: &str, d: &Detector, det: &Detection, id: &str) -> Json {
    let who = crate::at(&det.resource, &["accessKeyDetails", "userName"]).as_str().unwrap_or_default().to_owned();
    let principal = det.key.clone();
    let signals: Vec<Json> = det
        .signals
        .iter()
        .map(|s| {
            let signal_id = finding_id(&d.id, &s.kind, &s.key);
            json!({
                "uid": format!("arn:aws:guardduty:{region}:{account}:detector/{}/finding/{signal_id}", d.id),
                "type": "FINDING",
                "name": s.kind,
                "createdAt": s.first,
                "updatedAt": s.last,
                "firstSeenAt": s.first,
                "lastSeenAt": s.last,
                "severity": s.severity,
                "count": s.count,
                "actorIds": [principal],
            })
        })
        .collect();
    let tactics: Vec<String> = det
        .signals
        .iter()
        .filter_map(|s| s.kind.split(':').next().map(str::to_owned))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    json!({
        "sequence": {
            "uid": id,
            "description": det.description,
            "actors": [{"id": principal, "user": {"name": who, "uid": principal, "type": crate::at(&det.resource, &["accessKeyDetails", "userType"])}}],
            "signals": signals,
            "sequenceIndicators": [{"key": "ATTACK_TACTIC", "values": tactics, "title": "Attack tactics"}],
        }
    })
}

/// A sample of a finding type: fictitious details, `[SAMPLE]` in the title and
/// `{"sample":true}` in `service.additionalInfo`, as GuardDuty's samples.
/// A sample finding's bucket.
fn sample_bucket() -> Json {
    json!({
        "name": "generatedfindingbucketname",
        "arn": "arn:aws:s3:::generatedfindingbucketname",
        "type": "Destination",
    })
}

/// Marks a finding a sample: `{"sample":true}` in its `service.additionalInfo`.
fn mark_sample(f: &mut Json) {
    crate::set(f, &["service", "additionalInfo"], json!({"value": "{\"sample\":true}", "type": "default"}));
}

fn sample(account: &str, region: &str, d: &Detector, kind: &FindingType, now: OffsetDateTime) -> Json {
    let id = crate::new_id();
    let fill = |t: &str| {
        t.replace("{api}", "GeneratedFindingAPIName")
            .replace("{ip}", "198.51.100.0")
            .replace("{principal}", "GeneratedFindingUserName")
            .replace("{target}", "GeneratedFindingResourceName")
    };
    let mut f = new_finding(
        (account, region),
        d,
        kind,
        &id,
        (format!("[SAMPLE] {}", fill(kind.title)), fill(kind.description)),
        &stamp(now),
        now,
    );
    let key = json!({
        "accessKeyId": "GeneratedFindingAccessKeyId",
        "principalId": "GeneratedFindingPrincipalId",
        "userName": "GeneratedFindingUserName",
        "userType": "IAMUser",
    });
    if kind.resource_type == "LoadBalancer" {
        crate::set(
            &mut f,
            &["service", "action"],
            json!({
                "actionType": "NETWORK_CONNECTION",
                "networkConnectionAction": {
                    "connectionDirection": "INBOUND",
                    "blocked": true,
                    "protocol": "TCP",
                    "remoteIpDetails": {"ipAddressV4": "198.51.100.0"},
                },
            }),
        );
        mark_sample(&mut f);
        return f;
    }
    if kind.resource_type == "S3Object" {
        let mut bucket = sample_bucket();
        crate::set(
            &mut bucket,
            &["s3ObjectDetails"],
            json!([{
                "objectArn": "arn:aws:s3:::generatedfindingbucketname/generatedfindingobjectkey",
                "key": "generatedfindingobjectkey",
                "eTag": "generatedfindingetag",
                "hash": "generatedfindinghash",
            }]),
        );
        crate::set(&mut f, &["resource", "s3BucketDetails"], json!([bucket]));
        crate::set(
            &mut f,
            &["service", "malwareScanDetails"],
            json!({"threats": [{"name": "EICAR-Test-File (not a virus)", "hash": "generatedfindinghash"}]}),
        );
        crate::set(&mut f, &["service", "featureName"], json!("S3MalwareProtection"));
        mark_sample(&mut f);
        return f;
    }
    crate::set(&mut f, &["resource", "accessKeyDetails"], key);
    if kind.resource_type == "S3Bucket" {
        crate::set(&mut f, &["resource", "s3BucketDetails"], json!([sample_bucket()]));
    }
    crate::set(
        &mut f,
        &["service", "action"],
        json!({
            "actionType": "AWS_API_CALL",
            "awsApiCallAction": {
                "api": "GeneratedFindingAPIName",
                "serviceName": "GeneratedFindingAPIServiceName",
                "callerType": "Remote IP",
                "remoteIpDetails": {"ipAddressV4": "198.51.100.0"},
            },
        }),
    );
    mark_sample(&mut f);
    f
}

pub fn create_sample_findings(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateSampleFindingsRequest,
) -> Result<shapes::CreateSampleFindingsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let d = own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    let kinds: Vec<&FindingType> = match input.finding_types.filter(|t| !t.is_empty()) {
        Some(names) => names
            .iter()
            .map(|n| {
                finding_type(n).ok_or_else(|| {
                    bad_request(format!("The request is rejected because the finding type {n} is not valid."))
                })
            })
            .collect::<Result<_, _>>()?,
        None => TYPES.to_vec(),
    };
    let rules = filters::ranked(tx, account, region)?;
    for kind in kinds {
        let mut f = sample(account, region, &d, kind, ctx.now);
        let archived = suppressed(&f, &rules);
        crate::set(&mut f, &["service", "archived"], json!(archived));
        write_tx(tx, account, region, &f)?;
    }
    Ok(shapes::CreateSampleFindingsResponse {})
}

fn sorted(mut found: Vec<Json>, sort: Option<&shapes::SortCriteria>) -> Vec<Json> {
    if let Some(field) = sort.and_then(|s| s.attribute_name.as_deref()) {
        let desc = sort.and_then(|s| s.order_by.as_deref()) == Some("DESC");
        found.sort_by(|a, b| {
            let o = criteria::compare(a, b, field);
            if desc { o.reverse() } else { o }
        });
    }
    found
}

pub fn list_findings(
    ctx: &Ctx<'_>,
    input: shapes::ListFindingsRequest,
) -> Result<shapes::ListFindingsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, &input.detector_id)?;
    let found: Vec<Json> = all(ctx.db, account, region)?
        .into_iter()
        .filter(|f| criteria::matches(f, input.finding_criteria.as_ref()))
        .collect();
    let ids = sorted(found, input.sort_criteria.as_ref())
        .into_iter()
        .filter_map(|f| crate::at(&f, &["id"]).as_str().map(str::to_owned))
        .collect();
    let (finding_ids, next_token) = crate::page(ids, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListFindingsResponse { finding_ids, next_token })
}

fn check_ids(ids: &[String]) -> Result<(), ServiceError> {
    if ids.len() > MAX_IDS {
        return Err(bad_request(format!("The request is rejected because it names more than {MAX_IDS} findings.")));
    }
    Ok(())
}

pub fn get_findings(
    ctx: &Ctx<'_>,
    input: shapes::GetFindingsRequest,
) -> Result<shapes::GetFindingsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, &input.detector_id)?;
    check_ids(&input.finding_ids)?;
    let accounts = crate::members::visible(ctx.db, account, region)?;
    let mut found = Vec::new();
    for id in &input.finding_ids {
        for a in &accounts {
            if let Some(v) = ctx.db.get(&key(a, region, id))?
                && let Ok(f) = serde_json::from_slice::<Json>(&v)
            {
                found.push(f);
                break;
            }
        }
    }
    let findings = sorted(found, input.sort_criteria.as_ref())
        .iter()
        .map(|f| rampart_wire::json::from_json_names::<shapes::Finding>(f).ok_or_else(crate::internal))
        .collect::<Result<_, _>>()?;
    Ok(shapes::GetFindingsResponse { findings })
}

/// Changes the named findings the caller sees (its own and its members') with `f`; `manage`
/// (archiving) is the administrator's alone while the caller is a member. Returns the account
/// of each finding changed.
fn change(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    (detector_id, manage): (&str, bool),
    ids: &[String],
    f: impl Fn(&mut Json),
) -> Result<Vec<String>, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    if manage {
        crate::own_config(&records::tx_reader(tx), account, region, detector_id)?;
    } else {
        own_detector(&records::tx_reader(tx), account, region, detector_id)?;
    }
    check_ids(ids)?;
    let accounts = crate::members::visible_tx(tx, account, region)?;
    let mut owners = Vec::with_capacity(ids.len());
    for id in ids {
        let mut found = None;
        for a in &accounts {
            if let Some(finding) = read_tx(tx, a, region, id)? {
                found = Some((a, finding));
                break;
            }
        }
        let Some((owner, mut finding)) = found else {
            return Err(bad_request(format!("The request is rejected because the finding {id} does not exist.")));
        };
        f(&mut finding);
        write_tx(tx, owner, region, &finding)?;
        owners.push(owner.clone());
    }
    Ok(owners)
}

pub fn archive_findings(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ArchiveFindingsRequest,
) -> Result<shapes::ArchiveFindingsResponse, ServiceError> {
    change(tx, ctx, (&input.detector_id, true), &input.finding_ids, |f| {
        crate::set(f, &["service", "archived"], json!(true));
    })?;
    Ok(shapes::ArchiveFindingsResponse {})
}

pub fn unarchive_findings(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UnarchiveFindingsRequest,
) -> Result<shapes::UnarchiveFindingsResponse, ServiceError> {
    let owners = change(tx, ctx, (&input.detector_id, true), &input.finding_ids, |f| {
        crate::set(f, &["service", "archived"], json!(false));
    })?;
    // An unarchived finding is active again, and exported.
    for (id, owner) in input.finding_ids.iter().zip(&owners) {
        crate::export::mark(tx, owner, ctx.region, id, false)?;
    }
    Ok(shapes::UnarchiveFindingsResponse {})
}

pub fn update_findings_feedback(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateFindingsFeedbackRequest,
) -> Result<shapes::UpdateFindingsFeedbackResponse, ServiceError> {
    let feedback = input.feedback.clone();
    change(tx, ctx, (&input.detector_id, false), &input.finding_ids, |f| {
        crate::set(f, &["service", "userFeedback"], json!(feedback));
    })?;
    Ok(shapes::UpdateFindingsFeedbackResponse {})
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// One group's count and newest update.
#[derive(Default)]
struct Tally {
    total: i32,
    last: Option<OffsetDateTime>,
    severity: f64,
    resource_type: Option<String>,
}

impl Tally {
    fn add(&mut self, f: &Json) {
        self.total = self.total.saturating_add(1);
        let t = crate::at(f, &["updatedAt"]).as_str().and_then(parse_time);
        if t > self.last {
            self.last = t;
        }
        self.severity = self.severity.max(crate::at(f, &["severity"]).as_f64().unwrap_or_default());
        self.resource_type = self
            .resource_type
            .take()
            .or_else(|| crate::at(f, &["resource", "resourceType"]).as_str().map(str::to_owned));
    }
}

/// The resource a finding is about, as GroupedByResource names it.
fn resource_id(f: &Json) -> String {
    let r = crate::at(f, &["resource"]);
    crate::at(r, &["s3BucketDetails"])
        .get(0)
        .and_then(|b| b.get("name"))
        .and_then(Json::as_str)
        .or_else(|| crate::at(r, &["accessKeyDetails", "accessKeyId"]).as_str())
        .unwrap_or_default()
        .to_owned()
}

pub fn get_findings_statistics(
    ctx: &Ctx<'_>,
    input: shapes::GetFindingsStatisticsRequest,
) -> Result<shapes::GetFindingsStatisticsResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, &input.detector_id)?;
    let types = input.finding_statistic_types.clone().unwrap_or_default();
    if types.is_empty() && input.group_by.is_none() {
        return Err(bad_request(
            "The request is rejected because either findingStatisticTypes or groupBy is required.",
        ));
    }
    let found: Vec<Json> = all(ctx.db, account, region)?
        .into_iter()
        .filter(|f| criteria::matches(f, input.finding_criteria.as_ref()))
        .collect();
    let mut stats = shapes::FindingStatistics {
        count_by_severity: None,
        grouped_by_account: None,
        grouped_by_date: None,
        grouped_by_finding_type: None,
        grouped_by_resource: None,
        grouped_by_severity: None,
    };
    if types.iter().any(|t| t == "COUNT_BY_SEVERITY") {
        let mut counts: BTreeMap<String, i32> = BTreeMap::new();
        for f in &found {
            let sev = crate::at(f, &["severity"]).as_f64().unwrap_or_default();
            *counts.entry(format!("{sev:.1}")).or_default() += 1;
        }
        stats.count_by_severity = Some(counts);
    }
    let Some(group) = input.group_by.as_deref() else {
        return Ok(shapes::GetFindingsStatisticsResponse { finding_statistics: stats, next_token: None });
    };
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for f in &found {
        let k = match group {
            "ACCOUNT" => crate::at(f, &["accountId"]).as_str().unwrap_or_default().to_owned(),
            "DATE" => crate::at(f, &["updatedAt"]).as_str().and_then(|t| t.get(..10)).unwrap_or_default().to_owned(),
            "FINDING_TYPE" => crate::at(f, &["type"]).as_str().unwrap_or_default().to_owned(),
            "RESOURCE" => resource_id(f),
            _ => format!("{:.1}", crate::at(f, &["severity"]).as_f64().unwrap_or_default()),
        };
        groups.entry(k).or_default().add(f);
    }
    let mut rows: Vec<(String, Tally)> = groups.into_iter().collect();
    // Most findings first unless ASC, as GuardDuty orders groups.
    rows.sort_by_key(|(_, t)| t.total);
    if input.order_by.as_deref() != Some("ASC") {
        rows.reverse();
    }
    let max = usize::try_from(input.max_results.unwrap_or(25)).unwrap_or(25).max(1);
    rows.truncate(max);
    match group {
        "ACCOUNT" => {
            stats.grouped_by_account = Some(
                rows.into_iter()
                    .map(|(k, t)| shapes::AccountStatistics {
                        account_id: Some(k),
                        last_generated_at: t.last,
                        total_findings: Some(t.total),
                    })
                    .collect(),
            );
        }
        "DATE" => {
            stats.grouped_by_date = Some(
                rows.into_iter()
                    .map(|(k, t)| shapes::DateStatistics {
                        date: parse_time(&format!("{k}T00:00:00Z")),
                        last_generated_at: t.last,
                        severity: Some(t.severity),
                        total_findings: Some(t.total),
                    })
                    .collect(),
            );
        }
        "FINDING_TYPE" => {
            stats.grouped_by_finding_type = Some(
                rows.into_iter()
                    .map(|(k, t)| shapes::FindingTypeStatistics {
                        finding_type: Some(k),
                        last_generated_at: t.last,
                        total_findings: Some(t.total),
                    })
                    .collect(),
            );
        }
        "RESOURCE" => {
            stats.grouped_by_resource = Some(
                rows.into_iter()
                    .map(|(k, t)| shapes::ResourceStatistics {
                        account_id: Some(account.clone()),
                        last_generated_at: t.last,
                        resource_id: Some(k),
                        resource_type: t.resource_type,
                        total_findings: Some(t.total),
                    })
                    .collect(),
            );
        }
        _ => {
            stats.grouped_by_severity = Some(
                rows.into_iter()
                    .map(|(_, t)| shapes::SeverityStatistics {
                        last_generated_at: t.last,
                        severity: Some(t.severity),
                        total_findings: Some(t.total),
                    })
                    .collect(),
            );
        }
    }
    Ok(shapes::GetFindingsStatisticsResponse { finding_statistics: stats, next_token: None })
}
