//! Trails: which events an account keeps beyond event history, and where they are delivered —
//! gzipped JSON log files in CloudTrail's layout, written into one of Rampart's own S3 buckets.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-create-and-update-a-trail.html>.

use std::collections::BTreeMap;

use rampart_shapes::generated::cloudtrail as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Event;
use super::insights::{InsightSelector, InsightsConfig, InsightsState};
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx};

fn key(account: &str, name: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/trail/{name}").into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("cloudtrail/{account}/trail/").into_bytes()
}

/// Every account's trails, for the deliverer.
const ALL_TRAILS: &[u8] = b"cloudtrail/";

/// One basic event selector, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Selector {
    /// `ReadOnly`, `WriteOnly` or `All`.
    pub read_write: String,
    pub management: bool,
    /// Data resources: (type, values), e.g. ("AWS::S3::Object", ["arn:aws:s3:::bucket/"]).
    pub data: Vec<(String, Vec<String>)>,
    pub exclude_sources: Vec<String>,
}

/// One advanced event selector's field condition, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advanced {
    pub name: Option<String>,
    pub fields: Vec<Field>,
}

/// A trail, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrailRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub region: String,
    pub bucket: String,
    pub key_prefix: Option<String>,
    pub multi_region: bool,
    pub global_events: bool,
    pub validation: bool,
    pub logging: bool,
    pub selectors: Vec<Selector>,
    pub advanced: Vec<Advanced>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub stopped: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub delivered: Option<OffsetDateTime>,
    /// The log position of the last event considered for delivery (see `cursor_position`).
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Log file validation's chain: key, last digest, files since.
    #[serde(default)]
    pub digest: Option<super::digest::DigestState>,
    /// Insights: the selectors, and what the detector keeps between runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insights: Option<super::insights::InsightsState>,
    /// An organization trail: the organization whose member accounts' events it also records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The KMS key (ARN) its log files are encrypted under (SSE-KMS), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Why its last delivery could not be made (its bucket gone, its key disabled or no longer
    /// letting CloudTrail use it), until one succeeds: GetTrailStatus's `LatestDeliveryError`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_error: Option<String>,
    /// When a delivery was last attempted.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub attempted: Option<OffsetDateTime>,
    /// The templates its data events are aggregated on (PutEventConfiguration), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregation: Vec<String>,
}

impl TrailRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:cloudtrail:{}:{}:trail/{}", self.region, self.account_id, self.name)
    }

    fn shape(&self) -> shapes::Trail {
        shapes::Trail {
            name: Some(self.name.clone()),
            s3_bucket_name: Some(self.bucket.clone()),
            s3_key_prefix: self.key_prefix.clone(),
            include_global_service_events: Some(self.global_events),
            is_multi_region_trail: Some(self.multi_region),
            home_region: Some(self.region.clone()),
            trail_arn: Some(self.arn()),
            log_file_validation_enabled: Some(self.validation),
            has_custom_event_selectors: Some(self.selectors != default_selectors() || !self.advanced.is_empty()),
            has_insight_selectors: Some(self.insights.is_some()),
            is_organization_trail: Some(self.organization.is_some()),
            kms_key_id: self.kms_key.clone(),
            ..shapes::Trail::default()
        }
    }
}

/// CreateTrail's and UpdateTrail's answers: the same fields of the trail, in two shapes.
macro_rules! trail_response {
    ($ty:path, $t:expr) => {{
        let s = $t.shape();
        $ty {
            name: s.name,
            s3_bucket_name: s.s3_bucket_name,
            s3_key_prefix: s.s3_key_prefix,
            include_global_service_events: s.include_global_service_events,
            is_multi_region_trail: s.is_multi_region_trail,
            trail_arn: s.trail_arn,
            log_file_validation_enabled: s.log_file_validation_enabled,
            is_organization_trail: s.is_organization_trail,
            kms_key_id: s.kms_key_id,
            ..Default::default()
        }
    }};
}

/// A new trail logs every management event, read and write, and no data events.
fn default_selectors() -> Vec<Selector> {
    vec![Selector { read_write: "All".into(), management: true, ..Selector::default() }]
}

fn not_found(name: &str, account: &str) -> ServiceError {
    ServiceError::new("TrailNotFoundException", 400, format!("Unknown trail: {name} for the user: {account}"))
}

/// A trail that does not exist, named as CloudTrail names it: by the ARN it would have in the
/// request's region (GetTrail alone names it as asked).
fn unknown_trail(region: &str, account: &str, name_or_arn: &str) -> ServiceError {
    if name_or_arn.starts_with("arn:") {
        not_found(name_or_arn, account)
    } else {
        not_found(&format!("arn:aws:cloudtrail:{region}:{account}:trail/{name_or_arn}"), account)
    }
}

/// Trail name rules: 3–128 characters of letters, digits, `.`, `_` and `-`, starting and ending
/// with a letter or digit, no two separators together, not an IP address.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html>.
pub fn valid_trail_name(name: &str) -> bool {
    trail_name_problem(name).is_none()
}

/// The first rule a trail name breaks, in CloudTrail's words and order of checks: its length,
/// its first and last characters, the characters allowed. The wording of the adjacent-separator
/// and IP-address messages could not be established from AWS's answers; they say the rule.
fn trail_name_problem(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let sep = |c: u8| matches!(c, b'.' | b'_' | b'-');
    let len = name.chars().count();
    if len == 0 {
        return Some("Trail name cannot be blank!".to_owned());
    }
    if len < 3 {
        return Some(format!(
            "Trail name too short. Minimum allowed length: 3 characters. Specified name length: {len} characters."
        ));
    }
    if len > 128 {
        return Some(format!(
            "Trail name too long. Maximum allowed length: 128 characters. Specified name length: {len} characters."
        ));
    }
    if !b.first().is_some_and(u8::is_ascii_alphanumeric) {
        return Some("Trail name must starts with a letter or number.".to_owned());
    }
    if !b.last().is_some_and(u8::is_ascii_alphanumeric) {
        return Some("Trail name must ends with a letter or number.".to_owned());
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || sep(*c)) {
        return Some(
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens \
             (-), and underscores (_)."
                .to_owned(),
        );
    }
    if b.windows(2).any(|w| matches!(w, [x, y] if sep(*x) && sep(*y))) {
        return Some("Trail name cannot have adjacent periods (.), hyphens (-), or underscores (_).".to_owned());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("Trail names must not be formatted as an IP address.".to_owned());
    }
    None
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    match trail_name_problem(name) {
        Some(message) => Err(ServiceError::new("InvalidTrailNameException", 400, message)),
        None => Ok(()),
    }
}

/// The name a request names a trail by: its name, or its ARN.
fn name_of(region: &str, account: &str, name_or_arn: &str) -> Result<String, ServiceError> {
    if let Some(rest) = name_or_arn.strip_prefix("arn:aws:cloudtrail:") {
        let mut parts = rest.splitn(3, ':');
        let (_region, acct, resource) = (parts.next(), parts.next(), parts.next());
        return match (acct, resource.and_then(|r| r.strip_prefix("trail/"))) {
            (Some(a), Some(n)) if a == account => Ok(n.to_owned()),
            _ => Err(unknown_trail(region, account, name_or_arn)),
        };
    }
    check_name(name_or_arn)?;
    Ok(name_or_arn.to_owned())
}

fn read_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, name_or_arn: &str) -> Result<TrailRecord, ServiceError> {
    let account = &ctx.principal.account_id;
    let name = name_of(ctx.region, account, name_or_arn)?;
    records::read_tx(tx, &key(account, &name))?.ok_or_else(|| unknown_trail(ctx.region, account, name_or_arn))
}

fn read(ctx: &Ctx<'_>, name_or_arn: &str) -> Result<TrailRecord, ServiceError> {
    let account = &ctx.principal.account_id;
    let name = name_of(ctx.region, account, name_or_arn)?;
    read_cached(ctx.db, &key(account, &name))?.ok_or_else(|| unknown_trail(ctx.region, account, name_or_arn))
}

fn write(tx: &mut Tx<'_>, t: &TrailRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(&t.account_id, &t.name), t)
}

/// The trail's bucket must exist, and its policy must let CloudTrail deliver there: read the
/// bucket's ACL and put log files under the trail's prefix (and, for an organization trail, the
/// organization's), asked as CloudTrail asks, with the trail as `aws:SourceArn`, its account as
/// `aws:SourceAccount` and `bucket-owner-full-control` as `s3:x-amz-acl`. The bucket may be
/// another account's, as in AWS, when its policy says so.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html>.
fn check_bucket(tx: &Tx<'_>, t: &TrailRecord, now: OffsetDateTime) -> Result<(), ServiceError> {
    let bucket = &t.bucket;
    let object = |key: String| format!("arn:aws:s3:::{bucket}/{key}");
    let mut requests = vec![
        ("s3:GetBucketAcl", format!("arn:aws:s3:::{bucket}")),
        ("s3:PutObject", object(log_file_key(t, &t.region, now)?)),
    ];
    if let Some(org) = &t.organization {
        requests.push(("s3:PutObject", object(org_log_file_key(t, org, &t.account_id, &t.region, now)?)));
    }
    let arn = t.arn();
    let context = [
        ("aws:SourceArn", arn.as_str()),
        ("aws:SourceAccount", t.account_id.as_str()),
        ("s3:x-amz-acl", "bucket-owner-full-control"),
    ];
    match rampart_s3::service_may(tx, bucket, "cloudtrail.amazonaws.com", &requests, &context)? {
        Some(true) => Ok(()),
        Some(false) => Err(ServiceError::new(
            "InsufficientS3BucketPolicyException",
            403,
            format!("Incorrect S3 bucket policy is detected for bucket: {bucket}"),
        )),
        None => {
            Err(ServiceError::new("S3BucketDoesNotExistException", 400, format!("S3 bucket does not exist: {bucket}")))
        }
    }
}

/// Whether CloudTrail may encrypt the trail's log files under `key_id` (its policy asked as
/// CloudTrail asks: the trail as `aws:SourceArn`, its account as `aws:SourceAccount`, and
/// `aws:cloudtrail:arn` as encryption context): the key's ARN, or why not.
fn trail_key(
    tx: &Tx<'_>,
    t: &TrailRecord,
    key_id: &str,
    now: OffsetDateTime,
) -> Result<Result<String, rampart_s3::DeliveryKeyProblem>, ServiceError> {
    let arn = t.arn();
    let request = [("aws:SourceArn", arn.as_str()), ("aws:SourceAccount", t.account_id.as_str())];
    let account_region = (t.account_id.as_str(), t.region.as_str());
    rampart_s3::delivery_key(tx, account_region, key_id, "cloudtrail.amazonaws.com", &request, &kms_context(t), now)
}

/// Why a trail cannot deliver now, in the words CloudTrail's `LatestDeliveryError` uses: its
/// bucket no longer exists, or its KMS key is gone, unusable, or no longer lets CloudTrail use
/// it for the trail. (Checked before each run's delivery of the trail, so one trail's problem
/// never holds up the others'.)
fn delivery_problem(tx: &Tx<'_>, t: &TrailRecord, now: OffsetDateTime) -> Result<Option<String>, ServiceError> {
    if rampart_s3::bucket_owner_tx(tx, &t.bucket)?.is_none() {
        return Ok(Some("NoSuchBucket".to_owned()));
    }
    let Some(key) = &t.kms_key else { return Ok(None) };
    Ok(trail_key(tx, t, key, now)?.err().map(|problem| {
        match problem {
            rampart_s3::DeliveryKeyProblem::NotFound => "KMS.NotFoundException",
            rampart_s3::DeliveryKeyProblem::Unusable => "KMS.DisabledException",
            rampart_s3::DeliveryKeyProblem::PolicyRefuses => "InsufficientEncryptionPolicyException",
        }
        .to_owned()
    }))
}

/// How a trail's log files are encrypted: under its KMS key with its context, else SSE-S3. (Its
/// digest files are SSE-S3 either way, as CloudTrail's are.)
fn delivery_kms<'a>(t: &'a TrailRecord, context: &'a [(String, String)]) -> Option<rampart_s3::ServiceKms<'a>> {
    t.kms_key.as_deref().map(|key_arn| rampart_s3::ServiceKms {
        key_arn,
        account: &t.account_id,
        region: &t.region,
        context,
    })
}

/// The encryption context CloudTrail binds a log file's data key to, beside its `aws:s3:arn`.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html>.
fn kms_context(t: &TrailRecord) -> Vec<(String, String)> {
    vec![("aws:cloudtrail:arn".to_owned(), t.arn())]
}

/// The KMS key a trail's log files are to be encrypted under: a usable symmetric key of the
/// trail's account and Region (by id, ARN or alias) whose policy lets CloudTrail make data keys
/// for this trail. Returns its ARN.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html>.
fn check_kms_key(tx: &Tx<'_>, t: &TrailRecord, key_id: &str, now: OffsetDateTime) -> Result<String, ServiceError> {
    trail_key(tx, t, key_id, now)?.map_err(|problem| match problem {
        rampart_s3::DeliveryKeyProblem::NotFound => {
            ServiceError::new("KmsKeyNotFoundException", 400, format!("KMS key {key_id} not found."))
        }
        rampart_s3::DeliveryKeyProblem::Unusable => ServiceError::new(
            "InvalidKmsKeyIdException",
            400,
            format!("KMS key {key_id} is not an enabled symmetric encryption key."),
        ),
        rampart_s3::DeliveryKeyProblem::PolicyRefuses => ServiceError::new(
            "InsufficientEncryptionPolicyException",
            400,
            format!("Insufficient permissions to access KMS key {key_id}: its key policy must let cloudtrail.amazonaws.com use it for this trail."),
        ),
    })
}

/// A multi-Region trail records global services' events too; CloudTrail checks this before the
/// bucket. See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html>.
fn check_multi_region(multi_region: bool, global_events: bool) -> Result<(), ServiceError> {
    if multi_region && !global_events {
        return Err(ServiceError::new(
            "InvalidParameterCombinationException",
            400,
            "Multi-Region trail must include global service events.",
        ));
    }
    Ok(())
}

/// The organization an organization trail of `account` records: the account must be the
/// management account of an organization with all features and trusted access for CloudTrail.
/// The organization's records belong to `rampart-organizations`; only their fields are read here.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html>.
fn trail_organization(tx: &Tx<'_>, account: &str) -> Result<String, ServiceError> {
    let get = |key: &[u8]| records::read_tx::<serde_json::Value>(tx, key);
    let org = rampart_core::orgs::facts(account, &get)?.ok_or_else(|| {
        ServiceError::new(
            "OrganizationsNotInUseException",
            400,
            "This account is not part of an organization; an organization trail needs AWS Organizations.",
        )
    })?;
    if org.management_account != account {
        return Err(ServiceError::new(
            "NotOrganizationMasterAccountException",
            400,
            "This operation can be performed only by the management account of an organization.",
        ));
    }
    if !org.all_features {
        return Err(ServiceError::new(
            "OrganizationNotInAllFeaturesModeException",
            400,
            "The organization must have all features enabled for an organization trail.",
        ));
    }
    if !org.trusts("cloudtrail.amazonaws.com") {
        return Err(ServiceError::new(
            "CloudTrailAccessNotEnabledException",
            400,
            "Trusted access between CloudTrail and Organizations is not enabled (EnableAWSServiceAccess of \
             cloudtrail.amazonaws.com).",
        ));
    }
    Ok(org.id)
}

/// Features a trail may ask for that Rampart does not provide yet are refused, not ignored.
fn refuse_unsupported(sns: Option<&String>, logs: Option<&String>) -> Result<(), ServiceError> {
    if sns.is_some() {
        return Err(ServiceError::new("InsufficientSnsTopicPolicyException", 403, "Rampart has no SNS topics yet."));
    }
    if logs.is_some() {
        return Err(ServiceError::new(
            "InvalidCloudWatchLogsLogGroupArnException",
            400,
            "Rampart has no CloudWatch Logs log groups yet.",
        ));
    }
    Ok(())
}

fn tags_of(list: Option<Vec<shapes::Tag>>) -> Vec<(String, String)> {
    list.unwrap_or_default().into_iter().map(|t| (t.key, t.value.unwrap_or_default())).collect()
}

pub fn create_trail(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateTrailRequest,
) -> Result<shapes::CreateTrailResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    check_name(&input.name)?;
    check_multi_region(
        input.is_multi_region_trail.unwrap_or(false),
        input.include_global_service_events.unwrap_or(true),
    )?;
    refuse_unsupported(input.sns_topic_name.as_ref(), input.cloud_watch_logs_log_group_arn.as_ref())?;
    let organization =
        if input.is_organization_trail == Some(true) { Some(trail_organization(tx, account)?) } else { None };
    if tx.get(&key(account, &input.name))?.is_some() {
        return Err(ServiceError::new(
            "TrailAlreadyExistsException",
            400,
            format!("Trail {} already exists for customer: {account}", input.name),
        ));
    }
    let mut t = TrailRecord {
        v: 1,
        account_id: account.clone(),
        name: input.name,
        region: ctx.region.to_owned(),
        bucket: input.s3_bucket_name,
        key_prefix: input.s3_key_prefix,
        multi_region: input.is_multi_region_trail.unwrap_or(false),
        global_events: input.include_global_service_events.unwrap_or(true),
        validation: input.enable_log_file_validation.unwrap_or(false),
        logging: false,
        selectors: default_selectors(),
        advanced: Vec::new(),
        created: ctx.now,
        started: None,
        stopped: None,
        delivered: None,
        cursor: None,
        tags: tags_of(input.tags_list),
        digest: None,
        insights: None,
        organization,
        kms_key: None,
        delivery_error: None,
        attempted: None,
        aggregation: Vec::new(),
    };
    t.kms_key = input.kms_key_id.as_deref().map(|k| check_kms_key(tx, &t, k, ctx.now)).transpose()?;
    check_bucket(tx, &t, ctx.now)?;
    write(tx, &t)?;
    Ok(trail_response!(shapes::CreateTrailResponse, t))
}

pub fn update_trail(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateTrailRequest,
) -> Result<shapes::UpdateTrailResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut t = read_tx(tx, ctx, &input.name)?;
    check_multi_region(
        input.is_multi_region_trail.unwrap_or(t.multi_region),
        input.include_global_service_events.unwrap_or(t.global_events),
    )?;
    refuse_unsupported(input.sns_topic_name.as_ref(), input.cloud_watch_logs_log_group_arn.as_ref())?;
    let delivery = (t.bucket.clone(), t.key_prefix.clone(), t.organization.clone());
    match input.is_organization_trail {
        Some(true) if t.organization.is_none() => t.organization = Some(trail_organization(tx, account)?),
        Some(false) => t.organization = None,
        _ => {}
    }
    if let Some(b) = input.s3_bucket_name {
        t.bucket = b;
    }
    if let Some(p) = input.s3_key_prefix {
        t.key_prefix = (!p.is_empty()).then_some(p);
    }
    // An empty KmsKeyId turns encryption off, as UpdateTrail documents.
    if let Some(k) = input.kms_key_id.as_deref() {
        t.kms_key = (!k.is_empty()).then(|| check_kms_key(tx, &t, k, ctx.now)).transpose()?;
    }
    // Delivering somewhere new needs the bucket's consent again.
    if (&t.bucket, &t.key_prefix, &t.organization) != (&delivery.0, &delivery.1, &delivery.2) {
        check_bucket(tx, &t, ctx.now)?;
    }
    if let Some(v) = input.is_multi_region_trail {
        t.multi_region = v;
    }
    if let Some(v) = input.include_global_service_events {
        t.global_events = v;
    }
    if let Some(v) = input.enable_log_file_validation {
        // Turned (back) on: the next digest covers from now, not the time validation was off.
        if v && !t.validation
            && let Some(d) = t.digest.as_mut()
        {
            d.restart(ctx.now);
        }
        t.validation = v;
    }
    write(tx, &t)?;
    Ok(trail_response!(shapes::UpdateTrailResponse, t))
}

pub fn get_trail(ctx: &Ctx<'_>, input: shapes::GetTrailRequest) -> Result<shapes::GetTrailResponse, ServiceError> {
    // GetTrail names a trail it cannot find as it was asked for, not by ARN.
    let account = &ctx.principal.account_id;
    let name = name_of(ctx.region, account, &input.name)?;
    let t: TrailRecord = read_cached(ctx.db, &key(account, &name))?.ok_or_else(|| not_found(&input.name, account))?;
    Ok(shapes::GetTrailResponse { trail: Some(t.shape()) })
}

/// The trails an account sees: its own, and in a member account its organization's trails,
/// which it may read but not change (they are the management account's).
fn all(ctx: &Ctx<'_>) -> Result<Vec<TrailRecord>, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut trails: Vec<TrailRecord> = records::scan_records(ctx.db, &prefix(account))?;
    let get = |key: &[u8]| records::read_cached::<serde_json::Value>(ctx.db, key);
    if let Some(org) = rampart_core::orgs::facts(account, &get)?.filter(|o| o.management_account != *account) {
        let theirs: Vec<TrailRecord> = records::scan_records(ctx.db, &prefix(&org.management_account))?;
        trails.extend(theirs.into_iter().filter(|t| t.organization.as_deref() == Some(org.id.as_str())));
    }
    Ok(trails)
}

pub fn describe_trails(
    ctx: &Ctx<'_>,
    input: shapes::DescribeTrailsRequest,
) -> Result<shapes::DescribeTrailsResponse, ServiceError> {
    let trails = all(ctx)?;
    let wanted = input.trail_name_list.unwrap_or_default();
    let account = &ctx.principal.account_id;
    let list = if wanted.is_empty() {
        trails.iter().map(TrailRecord::shape).collect()
    } else {
        let names: Vec<String> = wanted.iter().filter_map(|w| name_of(ctx.region, account, w).ok()).collect();
        trails
            .iter()
            .filter(|t| (t.account_id == *account && names.contains(&t.name)) || wanted.contains(&t.arn()))
            .map(TrailRecord::shape)
            .collect()
    };
    Ok(shapes::DescribeTrailsResponse { trail_list: Some(list) })
}

pub fn list_trails(
    ctx: &Ctx<'_>,
    _input: shapes::ListTrailsRequest,
) -> Result<shapes::ListTrailsResponse, ServiceError> {
    let trails = all(ctx)?
        .iter()
        .map(|t| shapes::TrailInfo {
            trail_arn: Some(t.arn()),
            name: Some(t.name.clone()),
            home_region: Some(t.region.clone()),
        })
        .collect();
    Ok(shapes::ListTrailsResponse { trails: Some(trails), next_token: None })
}

pub fn delete_trail(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteTrailRequest,
) -> Result<shapes::DeleteTrailResponse, ServiceError> {
    let t = read_tx(tx, ctx, &input.name)?;
    tx.delete(&key(&t.account_id, &t.name))?;
    super::insights::forget(tx, &t.account_id, &t.name)?;
    super::aggregation::forget(tx, &t.account_id, &t.name)?;
    Ok(shapes::DeleteTrailResponse {})
}

/// Logging starts from the moment StartLogging commits: earlier events are not delivered.
pub fn start_logging(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::StartLoggingRequest,
) -> Result<shapes::StartLoggingResponse, ServiceError> {
    let mut t = read_tx(tx, ctx, &input.name)?;
    if !t.logging {
        t.logging = true;
        t.started = Some(ctx.now);
        // Every event from this call's own on.
        t.cursor = Some(super::position(ctx.now).saturating_sub(1).to_string());
    }
    write(tx, &t)?;
    Ok(shapes::StartLoggingResponse {})
}

pub fn stop_logging(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::StopLoggingRequest,
) -> Result<shapes::StopLoggingResponse, ServiceError> {
    let mut t = read_tx(tx, ctx, &input.name)?;
    if t.logging {
        t.logging = false;
        t.stopped = Some(ctx.now);
    }
    write(tx, &t)?;
    Ok(shapes::StopLoggingResponse {})
}

fn rfc(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
}

pub fn get_trail_status(
    ctx: &Ctx<'_>,
    input: shapes::GetTrailStatusRequest,
) -> Result<shapes::GetTrailStatusResponse, ServiceError> {
    let t = read(ctx, &input.name)?;
    let digest = t.digest.as_ref().and_then(super::digest::DigestState::latest);
    Ok(shapes::GetTrailStatusResponse {
        is_logging: Some(t.logging),
        latest_digest_delivery_time: digest,
        latest_delivery_time: t.delivered,
        start_logging_time: t.started,
        stop_logging_time: t.stopped,
        // CloudTrail's string-typed status fields are always there, empty until they have a
        // value (a trail never started answers "" for each; Rampart sends no notifications).
        latest_delivery_attempt_time: Some(rfc(t.attempted.or(t.delivered)).unwrap_or_default()),
        latest_delivery_attempt_succeeded: Some(rfc(t.delivered).unwrap_or_default()),
        latest_delivery_error: t.delivery_error.clone(),
        latest_notification_attempt_time: Some(String::new()),
        latest_notification_attempt_succeeded: Some(String::new()),
        time_logging_started: Some(rfc(t.started).unwrap_or_default()),
        time_logging_stopped: Some(rfc(t.stopped).unwrap_or_default()),
        ..shapes::GetTrailStatusResponse::default()
    })
}

fn selectors_shape(
    t: &TrailRecord,
) -> (Option<Vec<shapes::EventSelector>>, Option<Vec<shapes::AdvancedEventSelector>>) {
    if !t.advanced.is_empty() {
        let adv = t
            .advanced
            .iter()
            .map(|a| shapes::AdvancedEventSelector {
                name: a.name.clone(),
                field_selectors: a
                    .fields
                    .iter()
                    .map(|f| {
                        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
                        shapes::AdvancedFieldSelector {
                            field: f.field.clone(),
                            equals: some(&f.equals),
                            starts_with: some(&f.starts_with),
                            ends_with: some(&f.ends_with),
                            not_equals: some(&f.not_equals),
                            not_starts_with: some(&f.not_starts_with),
                            not_ends_with: some(&f.not_ends_with),
                        }
                    })
                    .collect(),
            })
            .collect();
        return (None, Some(adv));
    }
    let basic = t
        .selectors
        .iter()
        .map(|s| shapes::EventSelector {
            read_write_type: Some(s.read_write.clone()),
            include_management_events: Some(s.management),
            data_resources: Some(
                s.data
                    .iter()
                    .map(|(ty, vals)| shapes::DataResource { r#type: Some(ty.clone()), values: Some(vals.clone()) })
                    .collect(),
            ),
            exclude_management_event_sources: Some(s.exclude_sources.clone()),
        })
        .collect();
    (Some(basic), None)
}

pub fn get_event_selectors(
    ctx: &Ctx<'_>,
    input: shapes::GetEventSelectorsRequest,
) -> Result<shapes::GetEventSelectorsResponse, ServiceError> {
    let t = read(ctx, &input.trail_name)?;
    let (event_selectors, advanced_event_selectors) = selectors_shape(&t);
    Ok(shapes::GetEventSelectorsResponse { trail_arn: Some(t.arn()), event_selectors, advanced_event_selectors })
}

fn invalid_selectors(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidEventSelectorsException", 400, message)
}

const ADVANCED_FIELDS: &[&str] =
    &["eventCategory", "readOnly", "eventSource", "eventName", "resources.type", "resources.ARN"];

pub fn put_event_selectors(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutEventSelectorsRequest,
) -> Result<shapes::PutEventSelectorsResponse, ServiceError> {
    let mut t = read_tx(tx, ctx, &input.trail_name)?;
    match (input.event_selectors, input.advanced_event_selectors) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ServiceError::new(
                "InvalidParameterCombinationException",
                400,
                "Specify either EventSelectors or AdvancedEventSelectors, not both.",
            ));
        }
        (Some(basic), None) => {
            if basic.len() > 5 {
                return Err(invalid_selectors("A trail can have at most 5 event selectors."));
            }
            let mut stored = Vec::new();
            for s in basic {
                let rw = s.read_write_type.unwrap_or_else(|| "All".to_owned());
                let mut data = Vec::new();
                for d in s.data_resources.unwrap_or_default() {
                    let ty = d.r#type.unwrap_or_default();
                    if ty != "AWS::S3::Object" {
                        return Err(invalid_selectors(format!(
                            "Rampart records data events of AWS::S3::Object, not {ty}."
                        )));
                    }
                    let values = d.values.unwrap_or_default();
                    if values.iter().any(|v| !v.starts_with("arn:aws:s3")) {
                        return Err(invalid_selectors(
                            "Data resource values must be S3 ARNs (arn:aws:s3:::bucket/prefix).",
                        ));
                    }
                    data.push((ty, values));
                }
                stored.push(Selector {
                    read_write: rw,
                    management: s.include_management_events.unwrap_or(true),
                    data,
                    exclude_sources: s.exclude_management_event_sources.unwrap_or_default(),
                });
            }
            t.selectors = stored;
            t.advanced.clear();
        }
        (None, Some(adv)) => {
            let mut stored = Vec::new();
            for a in adv {
                let mut fields = Vec::new();
                for f in a.field_selectors {
                    if !ADVANCED_FIELDS.contains(&f.field.as_str()) {
                        return Err(invalid_selectors(format!("Unsupported advanced selector field: {}", f.field)));
                    }
                    fields.push(Field {
                        field: f.field,
                        equals: f.equals.unwrap_or_default(),
                        starts_with: f.starts_with.unwrap_or_default(),
                        ends_with: f.ends_with.unwrap_or_default(),
                        not_equals: f.not_equals.unwrap_or_default(),
                        not_starts_with: f.not_starts_with.unwrap_or_default(),
                        not_ends_with: f.not_ends_with.unwrap_or_default(),
                    });
                }
                if !fields.iter().any(|f| f.field == "eventCategory") {
                    return Err(invalid_selectors("Each advanced event selector needs an eventCategory field."));
                }
                stored.push(Advanced { name: a.name, fields });
            }
            t.advanced = stored;
            t.selectors.clear();
        }
    }
    write(tx, &t)?;
    let (event_selectors, advanced_event_selectors) = selectors_shape(&t);
    Ok(shapes::PutEventSelectorsResponse { trail_arn: Some(t.arn()), event_selectors, advanced_event_selectors })
}

fn invalid_insights(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInsightSelectorsException", 400, message)
}

/// CloudTrail Lake's event data stores are a later part of Rampart.
fn no_event_data_stores() -> ServiceError {
    ServiceError::new(
        "UnsupportedOperationException",
        400,
        "Event data stores (CloudTrail Lake) are not served by Rampart.",
    )
}

/// Whether the trail logs management events that are writes (`write`) or reads or writes.
fn logs_management(t: &TrailRecord, write: bool) -> bool {
    let wanted = |rw: &str| rw == "All" || (write && rw == "WriteOnly") || (!write && !rw.is_empty());
    if !t.advanced.is_empty() {
        return t.advanced.iter().any(|a| {
            let management =
                a.fields.iter().any(|f| f.field == "eventCategory" && f.equals.iter().any(|e| e == "Management"));
            let reads_only = a.fields.iter().any(|f| f.field == "readOnly" && f.equals.iter().all(|e| e == "true"));
            management && !(write && reads_only)
        });
    }
    t.selectors.iter().any(|s| s.management && wanted(&s.read_write))
}

fn logs_data(t: &TrailRecord) -> bool {
    if !t.advanced.is_empty() {
        return t
            .advanced
            .iter()
            .any(|a| a.fields.iter().any(|f| f.field == "eventCategory" && f.equals.iter().any(|e| e == "Data")));
    }
    t.selectors.iter().any(|s| !s.data.is_empty())
}

fn insight_selectors_shape(state: &InsightsState) -> Vec<shapes::InsightSelector> {
    state
        .selectors
        .iter()
        .map(|s| shapes::InsightSelector {
            insight_type: Some(s.insight_type.clone()),
            event_categories: Some(s.categories.clone()),
        })
        .collect()
}

/// Turns Insights on (or, with an empty list, off) for a trail. The trail must log what each
/// type looks at: write management events for the call rate, management events for the error
/// rate, data events for either on `Data`.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutInsightSelectors.html>.
/// A trail's event configuration: the templates its data events are aggregated on. Maximum
/// event sizes and context key selectors belong to event data stores (CloudTrail Lake), which
/// Rampart does not serve.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventConfiguration.html>.
pub fn put_event_configuration(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutEventConfigurationRequest,
) -> Result<shapes::PutEventConfigurationResponse, ServiceError> {
    let name = event_configuration_trail(input.trail_name, input.event_data_store.as_deref())?;
    if input.max_event_size.is_some() || input.context_key_selectors.is_some() {
        return Err(ServiceError::new(
            "InvalidParameterCombinationException",
            400,
            "MaxEventSize and ContextKeySelectors apply to event data stores, not to trails.",
        ));
    }
    let mut t = read_tx(tx, ctx, &name)?;
    let mut templates: Vec<String> = Vec::new();
    for c in input.aggregation_configurations.unwrap_or_default() {
        for template in c.templates {
            if !super::aggregation::TEMPLATES.contains(&template.as_str()) {
                return Err(ServiceError::new(
                    "InvalidParameterException",
                    400,
                    format!(
                        "Template {template} is not valid. Valid values are API_ACTIVITY, RESOURCE_ACCESS and USER_ACTIONS."
                    ),
                ));
            }
            if !templates.contains(&template) {
                templates.push(template);
            }
        }
    }
    // "Before you enable event aggregation, you must create a trail and configure data events in
    // it" (aggregating-data-events.html).
    if !templates.is_empty() && !logs_data(&t) {
        return Err(ServiceError::new(
            "InvalidParameterCombinationException",
            400,
            format!("Trail {} logs no data events to aggregate: add data event selectors first.", t.name),
        ));
    }
    if templates.is_empty() {
        super::aggregation::forget(tx, &t.account_id, &t.name)?;
    }
    t.aggregation = templates;
    write(tx, &t)?;
    Ok(shapes::PutEventConfigurationResponse {
        trail_arn: Some(t.arn()),
        event_data_store_arn: None,
        max_event_size: None,
        context_key_selectors: None,
        aggregation_configurations: Some(aggregation_shape(&t)),
    })
}

pub fn get_event_configuration(
    ctx: &Ctx<'_>,
    input: shapes::GetEventConfigurationRequest,
) -> Result<shapes::GetEventConfigurationResponse, ServiceError> {
    let name = event_configuration_trail(input.trail_name, input.event_data_store.as_deref())?;
    let t = read(ctx, &name)?;
    Ok(shapes::GetEventConfigurationResponse {
        trail_arn: Some(t.arn()),
        event_data_store_arn: None,
        max_event_size: None,
        context_key_selectors: None,
        aggregation_configurations: Some(aggregation_shape(&t)),
    })
}

/// The trail an event configuration request names: exactly one of a trail and an event data
/// store, and the latter is not served.
fn event_configuration_trail(trail: Option<String>, store: Option<&str>) -> Result<String, ServiceError> {
    match (trail, store) {
        (Some(_), Some(_)) | (None, None) => Err(ServiceError::new(
            "InvalidParameterCombinationException",
            400,
            "Specify either a TrailName or an EventDataStore, not both.",
        )),
        (None, Some(_)) => Err(no_event_data_stores()),
        (Some(name), None) => Ok(name),
    }
}

fn aggregation_shape(t: &TrailRecord) -> Vec<shapes::AggregationConfiguration> {
    if t.aggregation.is_empty() {
        return Vec::new();
    }
    vec![shapes::AggregationConfiguration { templates: t.aggregation.clone(), event_category: "Data".to_owned() }]
}

pub fn put_insight_selectors(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutInsightSelectorsRequest,
) -> Result<shapes::PutInsightSelectorsResponse, ServiceError> {
    if input.event_data_store.is_some() || input.insights_destination.is_some() {
        return Err(no_event_data_stores());
    }
    let name = input
        .trail_name
        .ok_or_else(|| ServiceError::new("InvalidParameterCombinationException", 400, "Specify a TrailName."))?;
    let mut t = read_tx(tx, ctx, &name)?;
    let mut selectors: Vec<InsightSelector> = Vec::new();
    for s in input.insight_selectors {
        let insight_type = s.insight_type.unwrap_or_default();
        if !super::insights::TYPES.contains(&insight_type.as_str()) {
            return Err(invalid_insights(format!(
                "Insight type {insight_type} is not valid. Valid values are ApiCallRateInsight and ApiErrorRateInsight."
            )));
        }
        if selectors.iter().any(|x| x.insight_type == insight_type) {
            return Err(invalid_insights(format!("Insight type {insight_type} is given more than once.")));
        }
        let mut categories = s.event_categories.unwrap_or_else(|| vec!["Management".to_owned()]);
        categories.sort();
        categories.dedup();
        for c in &categories {
            let logged = match c.as_str() {
                "Management" => logs_management(&t, insight_type == "ApiCallRateInsight"),
                "Data" => logs_data(&t),
                other => return Err(invalid_insights(format!("Event category {other} is not valid."))),
            };
            if !logged {
                let what = match (c.as_str(), insight_type.as_str()) {
                    ("Data", _) => "data events",
                    (_, "ApiCallRateInsight") => "write management events",
                    _ => "management events",
                };
                return Err(invalid_insights(format!(
                    "To log {insight_type} on {c} events, the trail must log {what}."
                )));
            }
        }
        selectors.push(InsightSelector { insight_type, categories });
    }
    if selectors.is_empty() {
        t.insights = None;
        super::insights::forget(tx, &t.account_id, &t.name)?;
    } else {
        let mut state = t
            .insights
            .take()
            .unwrap_or_else(|| InsightsState { since: super::position(ctx.now), ..InsightsState::default() });
        // Insights under way of a type no longer selected end without an end event.
        state.open.retain(|api, _| selectors.iter().any(|s| api.starts_with(&format!("{}\t", s.insight_type))));
        state.selectors = selectors;
        t.insights = Some(state);
    }
    write(tx, &t)?;
    Ok(shapes::PutInsightSelectorsResponse {
        trail_arn: Some(t.arn()),
        insight_selectors: Some(t.insights.as_ref().map(insight_selectors_shape).unwrap_or_default()),
        ..Default::default()
    })
}

pub fn get_insight_selectors(
    ctx: &Ctx<'_>,
    input: shapes::GetInsightSelectorsRequest,
) -> Result<shapes::GetInsightSelectorsResponse, ServiceError> {
    if input.event_data_store.is_some() {
        return Err(no_event_data_stores());
    }
    let name = input
        .trail_name
        .ok_or_else(|| ServiceError::new("InvalidParameterCombinationException", 400, "Specify a TrailName."))?;
    let t = read(ctx, &name)?;
    let state = t.insights.as_ref().ok_or_else(|| {
        ServiceError::new(
            "InsightNotEnabledException",
            400,
            format!("Trail {} does not have Insights enabled. Enable Insights on the trail, and try again.", t.arn()),
        )
    })?;
    Ok(shapes::GetInsightSelectorsResponse {
        trail_arn: Some(t.arn()),
        insight_selectors: Some(insight_selectors_shape(state)),
        ..Default::default()
    })
}

/// The answer to a resource-policy call on `arn`. Resource policies attach to event data stores,
/// dashboards and channels (CloudTrail Lake), which Rampart does not have yet, so no such
/// resource exists: its ARN is not valid, as CloudTrail says of one that does not exist; a trail's
/// ARN names a type that takes no resource policy.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutResourcePolicy.html>.
fn no_policy_resource(arn: &str) -> ServiceError {
    let kind = arn
        .strip_prefix("arn:aws:cloudtrail:")
        .and_then(|rest| rest.splitn(3, ':').nth(2))
        .and_then(|resource| resource.split_once('/'))
        .map(|(kind, _)| kind);
    match kind {
        Some("trail") => ServiceError::new(
            "ResourceTypeNotSupportedException",
            400,
            "Resource-based policies attach to event data stores, dashboards and channels, not to trails.",
        ),
        _ => ServiceError::new(
            "ResourceARNNotValidException",
            400,
            format!(
                "Resource ARN {arn} does not name an existing event data store, dashboard or channel, or is not a \
                 valid ARN."
            ),
        ),
    }
}

pub fn put_resource_policy(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutResourcePolicyRequest,
) -> Result<shapes::PutResourcePolicyResponse, ServiceError> {
    Err(no_policy_resource(&input.resource_arn))
}

pub fn get_resource_policy(
    _ctx: &Ctx<'_>,
    input: shapes::GetResourcePolicyRequest,
) -> Result<shapes::GetResourcePolicyResponse, ServiceError> {
    Err(no_policy_resource(&input.resource_arn))
}

pub fn delete_resource_policy(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::DeleteResourcePolicyRequest,
) -> Result<shapes::DeleteResourcePolicyResponse, ServiceError> {
    Err(no_policy_resource(&input.resource_arn))
}

pub fn add_tags(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddTagsRequest,
) -> Result<shapes::AddTagsResponse, ServiceError> {
    let mut t = read_tx(tx, ctx, &input.resource_id)?;
    for (k, v) in tags_of(Some(input.tags_list)) {
        t.tags.retain(|(x, _)| *x != k);
        t.tags.push((k, v));
    }
    if t.tags.len() > 50 {
        return Err(ServiceError::new("TagsLimitExceededException", 400, "A trail can have at most 50 tags."));
    }
    write(tx, &t)?;
    Ok(shapes::AddTagsResponse {})
}

pub fn remove_tags(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveTagsRequest,
) -> Result<shapes::RemoveTagsResponse, ServiceError> {
    let mut t = read_tx(tx, ctx, &input.resource_id)?;
    let gone: Vec<String> = input.tags_list.into_iter().map(|t| t.key).collect();
    t.tags.retain(|(k, _)| !gone.contains(k));
    write(tx, &t)?;
    Ok(shapes::RemoveTagsResponse {})
}

pub fn list_tags(ctx: &Ctx<'_>, input: shapes::ListTagsRequest) -> Result<shapes::ListTagsResponse, ServiceError> {
    let mut out = Vec::new();
    for id in &input.resource_id_list {
        let t = read(ctx, id)?;
        out.push(shapes::ResourceTag {
            resource_id: Some(t.arn()),
            tags_list: Some(
                t.tags.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: Some(v.clone()) }).collect(),
            ),
        });
    }
    Ok(shapes::ListTagsResponse { resource_tag_list: Some(out), next_token: None })
}

/// Whether a trail's selectors keep an event.
/// Services whose events CloudTrail records as global (in us-east-1), which a trail takes only
/// with IncludeGlobalServiceEvents.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events>.
fn is_global_service(event_source: &str) -> bool {
    matches!(
        event_source,
        "iam.amazonaws.com" | "signin.amazonaws.com" | "cloudfront.amazonaws.com" | "organizations.amazonaws.com"
    )
}

/// Whether the event is in the trail's regions (of its partition): every region for a multi-region trail, its home
/// region otherwise; global services' events only when the trail includes them.
pub fn in_scope(t: &TrailRecord, ev: &Event) -> bool {
    // A trail, multi-Region or not, sees only its own partition's Regions.
    let partition = rampart_core::partition::of_region;
    if partition(&ev.aws_region) != partition(&t.region) {
        return false;
    }
    if is_global_service(&ev.event_source) {
        return t.global_events;
    }
    t.multi_region || ev.aws_region == t.region
}

pub fn selects(t: &TrailRecord, ev: &Event) -> bool {
    if !t.advanced.is_empty() {
        return t.advanced.iter().any(|a| a.fields.iter().all(|f| field_matches(f, ev)));
    }
    t.selectors.iter().any(|s| {
        let rw = match s.read_write.as_str() {
            "ReadOnly" => ev.read_only,
            "WriteOnly" => !ev.read_only,
            _ => true,
        };
        if !rw {
            return false;
        }
        if ev.management_event {
            s.management && !s.exclude_sources.contains(&ev.event_source)
        } else {
            let arns: Vec<&str> = ev.resources.iter().flatten().map(|r| r.arn.as_str()).collect();
            s.data.iter().any(|(ty, values)| {
                ty == "AWS::S3::Object"
                    && values.iter().any(|v| {
                        let v = v.as_str();
                        v == "arn:aws:s3" || v == "arn:aws:s3:::" || arns.iter().any(|a| a.starts_with(v))
                    })
            })
        }
    })
}

fn field_matches(f: &Field, ev: &Event) -> bool {
    let values: Vec<String> = match f.field.as_str() {
        "eventCategory" => vec![ev.event_category.clone()],
        "readOnly" => vec![ev.read_only.to_string()],
        "eventSource" => vec![ev.event_source.clone()],
        "eventName" => vec![ev.event_name.clone()],
        "resources.type" => ev.resources.iter().flatten().map(|r| r.kind.clone()).collect(),
        "resources.ARN" => ev.resources.iter().flatten().map(|r| r.arn.clone()).collect(),
        _ => Vec::new(),
    };
    let any = |pred: &dyn Fn(&str) -> bool| values.iter().any(|v| pred(v));
    (f.equals.is_empty() || any(&|v| f.equals.iter().any(|e| e == v)))
        && (f.starts_with.is_empty() || any(&|v| f.starts_with.iter().any(|e| v.starts_with(e.as_str()))))
        && (f.ends_with.is_empty() || any(&|v| f.ends_with.iter().any(|e| v.ends_with(e.as_str()))))
        && !any(&|v| f.not_equals.iter().any(|e| e == v))
        && !any(&|v| f.not_starts_with.iter().any(|e| v.starts_with(e.as_str())))
        && !any(&|v| f.not_ends_with.iter().any(|e| v.ends_with(e.as_str())))
}

/// Events younger than this are left for the next run: events of reads commit in groups a
/// moment after their time, and a file must not be written before all of its events are in.
pub const DELIVERY_LAG: time::Duration = time::Duration::seconds(2);
/// Most events one run considers per trail.
const EVENTS_PER_RUN: usize = 10_000;

/// Every account's trails (for `rampart trail validate`, which has no caller's account).
pub fn all_trails(db: &rampart_store::Db) -> Result<Vec<TrailRecord>, ServiceError> {
    Ok(trails_in(db.scan_prefix(ALL_TRAILS, None, usize::MAX >> 1, false)?))
}

/// The trail records among the rows under [`ALL_TRAILS`] (which also holds public keys).
fn trails_in(rows: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<TrailRecord> {
    rows.into_iter()
        .filter(|(k, _)| k.windows(7).any(|w| w == b"/trail/"))
        .filter_map(|(_, v)| serde_json::from_slice::<TrailRecord>(&v).ok())
        .collect()
}

/// One delivery run, in one transaction: for every logging trail, the events since its cursor
/// (older than [`DELIVERY_LAG`]) that its selectors keep, written as one gzipped log file into
/// its bucket, and the cursor moved on — so a crash leaves either the files and the cursor or
/// neither. A stopped trail still delivers what it recorded up to its StopLogging (that call's
/// own event included), and closes its last digest period. A trail with log file validation
/// also gets its digest when `digest_every` has run since the last. With `export`, every file
/// written is also queued, in the same transaction, for copying to the export directory
/// ([`pending_exports`]). Returns the keys of the files written, and the KMS key uses of those
/// under a trail's key, to note once the run has committed.
pub fn deliver(
    tx: &mut Tx<'_>,
    sealer: &rampart_store::Sealer,
    now: OffsetDateTime,
    digest_every: time::Duration,
    export: bool,
    insights: &InsightsConfig,
) -> Result<Delivered, ServiceError> {
    // Whole seconds: digest periods end on a second, and a file is in the period it was written in.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    // Horizons are exclusive log positions.
    let lag_horizon = super::position(now - DELIVERY_LAG);
    let mut written = Vec::new();
    let mut kms_uses = Vec::new();
    for mut t in trails_in(tx.scan_prefix(ALL_TRAILS, None, usize::MAX >> 1, false)?) {
        let cursor = t.position();
        let horizon = match (t.logging, t.stopped) {
            (true, _) => lag_horizon,
            // Everything up to the stop, once it is older than the lag.
            (false, Some(stopped)) => {
                let stop = super::position(stopped).saturating_add(1);
                let undigested = t.digest.as_ref().is_some_and(|d| d.chains.values().any(|c| !c.pending.is_empty()));
                if cursor.saturating_add(1) >= stop && !undigested {
                    continue;
                }
                stop.min(lag_horizon)
            }
            (false, None) => continue,
        };
        let before = t.clone_state();
        let written_before = written.len();
        // A trail that cannot deliver now (its bucket gone, its key unusable) waits, its events
        // kept, and says why; the others deliver as ever. Nothing of it is written before this.
        if let Some(error) = delivery_problem(tx, &t, now)? {
            if t.delivery_error.as_deref() != Some(error.as_str()) {
                t.delivery_error = Some(error);
                t.attempted = Some(now);
                write(tx, &t)?;
            }
            continue;
        }
        let rows = tx.log_range(cursor.saturating_add(1), horizon.saturating_sub(1), EVENTS_PER_RUN, false)?;
        // Whether this run reaches the horizon (and so, for a stopped trail, everything it owes).
        let complete = rows.len() < EVENTS_PER_RUN;
        // Each region's file: the records' JSON as stored (unpacked), comma-separated, and
        // the oldest and newest event times in it.
        // Keyed by the events' account (an organization trail's members' own) and region.
        let mut files: BTreeMap<(String, String), (Vec<u8>, String, String)> = BTreeMap::new();
        let mut tallies = BTreeMap::new();
        let mut aggregates = super::aggregation::Pending::new();
        let mut members: BTreeMap<String, bool> = BTreeMap::new();
        let mut last = None;
        for (k, v) in rows {
            last = Some(k);
            let Some(v) = super::stored::unpack(&v) else { continue };
            let Ok(ev) = serde_json::from_slice::<Event>(&v) else { continue };
            let ours = ev.recipient_account_id == t.account_id
                || org_member(tx, t.organization.as_deref(), &ev.recipient_account_id, &mut members)?;
            if !ours || !in_scope(&t, &ev) || !selects(&t, &ev) {
                continue;
            }
            if let Some(state) = &t.insights {
                super::insights::count(state, insights, &mut tallies, k, &ev);
            }
            if !t.aggregation.is_empty() {
                super::aggregation::count(&mut aggregates, k, &ev);
            }
            let (records, oldest, newest) = files
                .entry((ev.recipient_account_id.clone(), ev.aws_region.clone()))
                .or_insert_with(|| (Vec::new(), ev.event_time.clone(), ev.event_time.clone()));
            if !records.is_empty() {
                records.push(b',');
            }
            // An event is delivered in its Region's partition (see `rampart_core::partition`).
            let region_partition = rampart_core::partition::of_region(&ev.aws_region);
            match std::str::from_utf8(&v).ok().and_then(|text| rampart_core::partition::outward(text, region_partition))
            {
                Some(text) => records.extend_from_slice(text.as_bytes()),
                None => records.extend_from_slice(&v),
            }
            if ev.event_time < *oldest {
                oldest.clone_from(&ev.event_time);
            }
            if ev.event_time > *newest {
                newest.clone_from(&ev.event_time);
            }
        }
        let context = kms_context(&t);
        for ((owner, region), (records, oldest, newest)) in files {
            let key = match &t.organization {
                Some(org) => org_log_file_key(&t, org, &owner, &region, now)?,
                None => log_file_key(&t, &region, now)?,
            };
            let mut doc = Vec::with_capacity(records.len() + 14);
            doc.extend_from_slice(b"{\"Records\":[");
            doc.extend_from_slice(&records);
            doc.extend_from_slice(b"]}");
            let body = gzip(&doc)?;
            let kms = delivery_kms(&t, &context);
            let used = rampart_s3::deliver_object(
                tx,
                sealer,
                (&t.bucket, &key),
                (&body, "application/x-gzip", BTreeMap::new()),
                kms.as_ref(),
                now,
            )?;
            kms_uses.extend(record_kms_use(tx, &t, used, now)?);
            if t.validation {
                super::digest::note_log_file(tx, sealer, &mut t, (&owner, &region), &key, &doc, (oldest, newest), now)?;
            }
            written.push(key);
            t.delivered = Some(now);
        }
        // Periods and windows are complete up to where this run read.
        let reached = if complete { horizon } else { last.map_or(horizon, |k| k.saturating_add(1)) };
        if !t.aggregation.is_empty() {
            super::aggregation::store(tx, &t.account_id, &t.name, aggregates)?;
            // A stopped trail that has read all it owes closes its last windows too.
            let until = if !t.logging && complete { i64::MAX } else { reached };
            let closed = super::aggregation::close(tx, &t.account_id, &t.name, &t.aggregation, until)?;
            let records = closed.iter().map(|e| (e.region.as_str(), &e.json));
            written.extend(deliver_records(tx, sealer, &t, ("CloudTrail-Aggregated", records), now, &mut kms_uses)?);
        }
        if let Some(mut state) = t.insights.take() {
            super::insights::store_tallies(tx, &t.account_id, &t.name, tallies)?;
            let found = super::insights::weigh(tx, &mut state, insights, &t.account_id, &t.name, reached)?;
            super::insights::record(tx, &t.account_id, &found)?;
            let records = found.iter().map(|e| (e.region.as_str(), &e.json));
            written.extend(deliver_records(tx, sealer, &t, ("CloudTrail-Insight", records), now, &mut kms_uses)?);
            t.insights = Some(state);
        }
        if t.validation {
            written.extend(super::digest::write_due(tx, sealer, &mut t, digest_every, now)?);
        }
        if let Some(k) = last {
            t.cursor = Some(k.to_string());
        }
        // A stopped trail that has delivered up to its stop is done: its cursor moves to the stop,
        // so later runs pass it by.
        if !t.logging && complete && horizon < lag_horizon {
            t.cursor = Some(horizon.saturating_sub(1).to_string());
        }
        if t.clone_state() != before || t.delivery_error.is_some() {
            t.delivery_error = None;
            t.attempted = t.delivered;
            write(tx, &t)?;
        }
        if export {
            for key in written.get(written_before..).unwrap_or_default() {
                tx.put(&rampart_core::keys::trail_export(&t.bucket, key), b"")?;
            }
        }
    }
    Ok(Delivered { files: written, kms_uses })
}

/// Delivered files still to be copied to the export directory: (bucket, key), at most `limit`.
pub fn pending_exports(db: &rampart_store::Db, limit: usize) -> Result<Vec<(String, String)>, ServiceError> {
    let rows = db.scan_prefix(rampart_core::keys::TRAIL_EXPORT_PREFIX, None, limit, false)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, _)| {
            let rest = String::from_utf8(k.get(rampart_core::keys::TRAIL_EXPORT_PREFIX.len()..)?.to_vec()).ok()?;
            let (bucket, key) = rest.split_once('/')?;
            Some((bucket.to_owned(), key.to_owned()))
        })
        .collect())
}

/// Marks files as copied to the export directory.
pub fn exported(tx: &mut Tx<'_>, files: &[(String, String)]) -> Result<(), ServiceError> {
    for (bucket, key) in files {
        tx.delete(&rampart_core::keys::trail_export(bucket, key))?;
    }
    Ok(())
}

impl TrailRecord {
    /// Where the validator finds this trail's files for `region` (default: its home region), of
    /// its own account's events.
    pub fn files(&self, region: Option<&str>) -> super::validate::TrailRef {
        super::validate::TrailRef {
            organization: self.organization.clone(),
            account: self.account_id.clone(),
            region: region.unwrap_or(&self.region).to_owned(),
            home_region: self.region.clone(),
            name: self.name.clone(),
            bucket: self.bucket.clone(),
            key_prefix: key_prefix(self),
        }
    }

    /// The log position of the last event considered for delivery (`i64::MIN`: none yet).
    pub fn position(&self) -> i64 {
        self.cursor.as_deref().and_then(|c| super::cursor_position(c.as_bytes())).unwrap_or(i64::MIN)
    }

    /// What a delivery run may change, to write the record only when it did.
    #[allow(clippy::type_complexity, reason = "a tuple of the fields, compared whole")]
    fn clone_state(
        &self,
    ) -> (Option<String>, Option<OffsetDateTime>, Option<super::digest::DigestState>, Option<InsightsState>) {
        (self.cursor.clone(), self.delivered, self.digest.clone(), self.insights.clone())
    }
}

/// The trail's key prefix as it starts a key: empty, or the prefix and one `/`.
pub fn key_prefix(t: &TrailRecord) -> String {
    t.key_prefix.as_deref().map(|p| format!("{}/", p.trim_end_matches('/'))).unwrap_or_default()
}

/// `[prefix/]AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz`,
/// REGION being its events', dated by its delivery, as CloudTrail names them.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html>.
fn log_file_key(t: &TrailRecord, region: &str, now: OffsetDateTime) -> Result<String, ServiceError> {
    file_key(t, "CloudTrail", region, now)
}

/// An organization trail's log file of `account`'s events:
/// `[prefix/]AWSLogs/o-…/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_…json.gz`.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html>.
fn org_log_file_key(
    t: &TrailRecord,
    org: &str,
    account: &str,
    region: &str,
    now: OffsetDateTime,
) -> Result<String, ServiceError> {
    let unique = account::new_unique_id("")?;
    let (folders, stamp) = super::digest::key_date(now, false);
    Ok(format!(
        "{}AWSLogs/{org}/{account}/CloudTrail/{region}/{folders}/{account}_CloudTrail_{region}_{stamp}_{unique}.json.gz",
        key_prefix(t)
    ))
}

/// Whether `account` is a member of `organization` (none: never), remembered for the run.
fn org_member(
    tx: &Tx<'_>,
    organization: Option<&str>,
    account: &str,
    known: &mut BTreeMap<String, bool>,
) -> Result<bool, ServiceError> {
    let Some(org) = organization else { return Ok(false) };
    if let Some(&member) = known.get(account) {
        return Ok(member);
    }
    let record: Option<serde_json::Value> = records::read_tx(tx, &rampart_core::keys::org_member(account))?;
    let member = record.as_ref().and_then(|m| m.get("org")).and_then(|o| o.as_str()) == Some(org);
    known.insert(account.to_owned(), member);
    Ok(member)
}

/// A log file's key for `kind`: `CloudTrail`, or `CloudTrail-Insight` for Insights events.
fn file_key(t: &TrailRecord, kind: &str, region: &str, now: OffsetDateTime) -> Result<String, ServiceError> {
    let unique = account::new_unique_id("")?;
    let (folders, stamp) = super::digest::key_date(now, false);
    let account = &t.account_id;
    Ok(format!(
        "{}AWSLogs/{account}/{kind}/{region}/{folders}/{account}_{kind}_{region}_{stamp}_{unique}.json.gz",
        key_prefix(t)
    ))
}

/// Delivers records that are not log files' (Insights, aggregated events) as one `kind` file per
/// Region, each in its Region's partition and, with the trail's KMS key, SSE-KMS; their keys.
fn deliver_records<'a>(
    tx: &mut Tx<'_>,
    sealer: &rampart_store::Sealer,
    t: &TrailRecord,
    (kind, records): (&str, impl Iterator<Item = (&'a str, &'a serde_json::Value)>),
    now: OffsetDateTime,
    kms_uses: &mut Vec<KmsUseNote>,
) -> Result<Vec<String>, ServiceError> {
    let mut by_region: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for (region, json) in records {
        by_region.entry(region).or_default().push(json);
    }
    let context = kms_context(t);
    let mut written = Vec::new();
    for (region, records) in by_region {
        let key = file_key(t, kind, region, now)?;
        let doc = partitioned(region, serde_json::json!({ "Records": records }))?;
        let kms = delivery_kms(t, &context);
        let used = rampart_s3::deliver_object(
            tx,
            sealer,
            (&t.bucket, &key),
            (&gzip(&doc)?, "application/x-gzip", BTreeMap::new()),
            kms.as_ref(),
            now,
        )?;
        kms_uses.extend(record_kms_use(tx, t, used, now)?);
        written.push(key);
    }
    Ok(written)
}

/// What a delivery run did: the files it wrote, and the KMS key uses to note once it commits.
#[derive(Debug, Default)]
pub struct Delivered {
    pub files: Vec<String>,
    pub kms_uses: Vec<KmsUseNote>,
}

/// CloudTrail's use of a trail's KMS key (GenerateDataKey for a file), with its event's request
/// and event ids: the key's last use, to note once the run commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsUseNote {
    pub key_arn: String,
    pub at: OffsetDateTime,
    pub request_id: String,
    pub event_id: String,
}

/// Records CloudTrail's GenerateDataKey for a file it delivered under the trail's KMS key, as
/// AWS records a service's calls: an event of the key's account, by the service
/// (`AWSService`, invoked by `cloudtrail.amazonaws.com`); returns the use, the key's last, to
/// note after the commit. The event is itself delivered by a later run, as CloudTrail's own calls
/// are.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-kms-works-with-cloudtrail.html>.
fn record_kms_use(
    tx: &mut Tx<'_>,
    t: &TrailRecord,
    used: Option<rampart_s3::DeliveryKmsUse>,
    now: OffsetDateTime,
) -> Result<Option<KmsUseNote>, ServiceError> {
    record_service_kms_use(tx, "cloudtrail.amazonaws.com", (&t.account_id, &t.region), used, now)
}

/// Records a service's GenerateDataKey for an object it delivered under a KMS key (CloudTrail's
/// log files, GuardDuty's exported findings), as AWS records a service's calls: an event of the
/// key's account (else `account`), by the service (`AWSService`, invoked by `service`), in
/// `region`; returns the use, the key's last, to note after the commit.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-kms-works-with-cloudtrail.html>.
pub fn record_service_kms_use(
    tx: &mut Tx<'_>,
    service: &str,
    (account, region): (&str, &str),
    used: Option<rampart_s3::DeliveryKmsUse>,
    now: OffsetDateTime,
) -> Result<Option<KmsUseNote>, ServiceError> {
    let Some(used) = used else { return Ok(None) };
    let request_id = uuid::Uuid::new_v4().to_string();
    let event_id = super::event_id_at(now);
    let account = used.key_arn.split(':').nth(4).unwrap_or(account).to_owned();
    let context: serde_json::Map<String, serde_json::Value> =
        used.context.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let ev = super::Event {
        event_version: super::EVENT_VERSION.to_owned(),
        user_identity: super::UserIdentity {
            kind: "AWSService".to_owned(),
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: None,
            user_name: None,
            identity_provider: None,
            session_context: None,
            invoked_by: Some(service.to_owned()),
        },
        event_time: super::rfc3339(now),
        event_source: "kms.amazonaws.com".to_owned(),
        event_name: "GenerateDataKey".to_owned(),
        aws_region: region.to_owned(),
        source_ip_address: service.to_owned(),
        user_agent: service.to_owned(),
        error_code: None,
        error_message: None,
        request_parameters: Some(serde_json::json!({
            "keyId": used.key_arn,
            "keySpec": "AES_256",
            "encryptionContext": context,
        })),
        response_elements: None,
        resources: super::EventResource::from_arn(&used.key_arn).map(|r| vec![r]),
        additional_event_data: None,
        request_id: request_id.clone(),
        event_id: event_id.clone(),
        read_only: true,
        event_type: "AwsApiCall".to_owned(),
        management_event: true,
        recipient_account_id: account,
        event_category: "Management".to_owned(),
        tls_details: None,
        session_credential_from_console: None,
    };
    let packed = super::pack_event(&ev).ok_or_else(ServiceError::internal)?;
    tx.log_append(super::position(now), &packed)?;
    Ok(Some(KmsUseNote { key_arn: used.key_arn, at: now, request_id, event_id }))
}

/// A document of one Region's events, as JSON in that Region's partition.
fn partitioned(region: &str, doc: serde_json::Value) -> Result<Vec<u8>, ServiceError> {
    let text = serde_json::to_string(&doc).map_err(|_| ServiceError::internal())?;
    let partition = rampart_core::partition::of_region(region);
    Ok(rampart_core::partition::outward(&text, partition).unwrap_or(text).into_bytes())
}

pub(crate) fn gzip(bytes: &[u8]) -> Result<Vec<u8>, ServiceError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).map_err(|_| ServiceError::internal())?;
    enc.finish().map_err(|_| ServiceError::internal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_names_follow_cloudtrail_rules() {
        for ok in ["abc", "my-trail", "Trail.2026_x", "a1b"] {
            assert!(valid_trail_name(ok), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "a--b", "a._b", "has space", "192.168.1.1", &"a".repeat(129)] {
            assert!(!valid_trail_name(bad), "{bad}");
        }
    }
}
