//! CloudTrail's event record format.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>.

use serde::{Deserialize, Serialize};

pub mod digest;
pub mod trails;
pub mod validate;
pub use digest::list_public_keys;
pub use trails::*;

use crate::{Principal, PrincipalKind};

/// The record format version Rampart writes.
pub const EVENT_VERSION: &str = "1.11";

/// CloudTrail's marker for values it will not record.
pub const REDACTED: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Who made the request.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// WebIdentityUser and SAMLUser: the provider that vouched for the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// Requests made with temporary credentials: how the session was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// The role (AssumedRole) or user (FederatedUser) whose credentials made the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    /// Sessions from AssumeRoleWithWebIdentity or AssumeRoleWithSAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_id_federation_data: Option<serde_json::Value>,
    pub attributes: SessionAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(rename = "type")]
    pub kind: String,
    pub principal_id: String,
    pub arn: String,
    pub account_id: String,
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    pub creation_date: String,
    /// "true" or "false", as CloudTrail writes it.
    pub mfa_authenticated: String,
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl UserIdentity {
    pub fn of(p: &Principal) -> Self {
        let kind = match p.kind {
            PrincipalKind::Root => "Root",
            PrincipalKind::IAMUser => "IAMUser",
            PrincipalKind::AssumedRole => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
        };
        let session_context = p.temporary.map(|issued| {
            let session_issuer = match (&p.session, &p.federation) {
                (Some(s), _) => Some(SessionIssuer {
                    kind: "Role".to_owned(),
                    principal_id: s.role_id.clone(),
                    arn: format!("arn:aws:iam::{}:role{}{}", p.account_id, s.role_path, s.role_name),
                    account_id: p.account_id.clone(),
                    user_name: s.role_name.clone(),
                }),
                (None, Some(f)) => f.issuer.as_ref().map(|(name, id)| SessionIssuer {
                    kind: "IAMUser".to_owned(),
                    principal_id: id.clone(),
                    arn: format!("arn:aws:iam::{}:user/{name}", p.account_id),
                    account_id: p.account_id.clone(),
                    user_name: name.clone(),
                }),
                _ => None,
            };
            let web = p.session.as_ref().and_then(|s| s.federated_provider.clone());
            SessionContext {
                session_issuer,
                web_id_federation_data: web
                    .map(|provider| serde_json::json!({"federatedProvider": provider, "attributes": {}})),
                attributes: SessionAttributes {
                    creation_date: rfc3339(issued),
                    mfa_authenticated: p.mfa_at.is_some().to_string(),
                },
                source_identity: p.session.as_ref().and_then(|s| s.source_identity.clone()),
            }
        });
        Self {
            kind: kind.to_owned(),
            principal_id: Some(p.user_id.clone()),
            arn: Some(p.arn.clone()),
            account_id: Some(p.account_id.clone()),
            access_key_id: p.access_key_id.clone(),
            user_name: if p.kind == PrincipalKind::AssumedRole { None } else { p.user_name.clone() },
            identity_provider: None,
            session_context,
        }
    }

    /// A caller that did not authenticate; the key id it claimed, if any, is kept.
    pub fn unknown(access_key_id: Option<String>) -> Self {
        Self {
            kind: "Unknown".to_owned(),
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id,
            user_name: None,
            identity_provider: None,
            session_context: None,
        }
    }

    /// The holder of a web identity token (AssumeRoleWithWebIdentity's caller).
    pub fn web_identity(provider: &str, audience: &str, subject: &str) -> Self {
        Self {
            kind: "WebIdentityUser".to_owned(),
            principal_id: Some(format!("{provider}:{audience}:{subject}")),
            user_name: Some(subject.to_owned()),
            identity_provider: Some(provider.to_owned()),
            ..Self::unknown(None)
        }
    }

    /// The subject of a SAML assertion (AssumeRoleWithSAML's caller).
    pub fn saml(provider_arn: &str, name_qualifier: Option<&str>, subject: Option<&str>) -> Self {
        Self {
            kind: "SAMLUser".to_owned(),
            principal_id: name_qualifier.zip(subject).map(|(q, s)| format!("{q}:{s}")),
            user_name: subject.map(str::to_owned),
            identity_provider: Some(provider_arn.to_owned()),
            ..Self::unknown(None)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsDetails {
    pub tls_version: String,
    pub cipher_suite: String,
    pub client_provided_host_header: String,
}

/// One event, as CloudTrail records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_version: String,
    pub user_identity: UserIdentity,
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Option<serde_json::Value>,
    pub response_elements: Option<serde_json::Value>,
    /// The resources the call acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<EventResource>>,
    /// Facts beyond the request and response (`ConsoleLogin`: `MFAUsed`, `LoginTo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<serde_json::Value>,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    pub event_type: String,
    pub management_event: bool,
    pub recipient_account_id: String,
    pub event_category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<TlsDetails>,
    /// `"true"` for calls made with a console session's credentials; absent otherwise.
    /// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_credential_from_console: Option<String>,
}

/// A resource an event names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventResource {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "accountId", default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
}

impl EventResource {
    /// The resource an ARN names, typed as CloudTrail types it; `None` for `*` and for the
    /// collection ARNs of list operations.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, account, resource] = parts.as_slice() else { return None };
        if resource.is_empty() || resource.ends_with('/') {
            return None;
        }
        let segment = resource.split('/').next().unwrap_or_default();
        let kind = match (*service, segment) {
            ("iam", "user") => "AWS::IAM::User",
            ("iam", "group") => "AWS::IAM::Group",
            ("iam", "role") => "AWS::IAM::Role",
            ("iam", "policy") => "AWS::IAM::Policy",
            ("iam", "instance-profile") => "AWS::IAM::InstanceProfile",
            ("iam", "mfa") => "AWS::IAM::MFADevice",
            ("iam", "oidc-provider") => "AWS::IAM::OIDCProvider",
            ("iam", "saml-provider") => "AWS::IAM::SAMLProvider",
            ("sts", "federated-user") => "AWS::STS::FederatedUser",
            ("s3", _) if resource.contains('/') => "AWS::S3::Object",
            ("s3", _) => "AWS::S3::Bucket",
            _ => return None,
        };
        Some(Self {
            arn: arn.to_owned(),
            account_id: (!account.is_empty()).then(|| (*account).to_owned()),
            kind: kind.to_owned(),
        })
    }

    /// The short name event history shows (a user's, role's or bucket's name; an object's key).
    pub fn name(&self) -> &str {
        let resource = self.arn.splitn(6, ':').nth(5).unwrap_or_default();
        match self.kind.as_str() {
            "AWS::S3::Bucket" => resource,
            "AWS::S3::Object" => resource.split_once('/').map_or(resource, |(_, k)| k),
            _ => resource.rsplit('/').next().unwrap_or(resource),
        }
    }
}

/// Whether a call is a data event (object-level S3), which event history does not show.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html>.
pub fn is_data_event(event_source: &str, event_name: &str) -> bool {
    event_source == "s3.amazonaws.com"
        && matches!(
            event_name,
            "GetObject" | "PutObject" | "DeleteObject" | "HeadObject" | "ListObjectsV2" | "HeadBucket"
        )
}

/// The name event history shows for who made a call.
pub fn username(id: &UserIdentity) -> Option<String> {
    match id.kind.as_str() {
        "Root" => Some("root".to_owned()),
        "AssumedRole" | "FederatedUser" => id.arn.as_deref().and_then(|a| a.rsplit('/').next()).map(str::to_owned),
        _ => id.user_name.clone().filter(|n| n != REDACTED),
    }
}

/// The parts of a stored event its index needs; the rest of the record is skipped, not parsed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexView {
    #[serde(rename = "eventID")]
    event_id: String,
    event_name: String,
    event_source: String,
    read_only: bool,
    management_event: bool,
    recipient_account_id: String,
    user_identity: UserIdentity,
    #[serde(default)]
    resources: Option<Vec<EventResource>>,
}

/// The indexed lookup attributes of a management event, with their values. EventId needs no
/// index (event ids carry their millisecond), a ResourceName given as an ARN is looked up by
/// the name and checked against the ARN, and a lookup without attribute scans the events.
fn lookup_attributes(ev: &IndexView) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("EventName", ev.event_name.clone()),
        ("ReadOnly", ev.read_only.to_string()),
        ("EventSource", ev.event_source.clone()),
    ];
    if let Some(u) = username(&ev.user_identity) {
        out.push(("Username", u));
    }
    if let Some(k) = &ev.user_identity.access_key_id {
        out.push(("AccessKeyId", k.clone()));
    }
    for r in ev.resources.iter().flatten() {
        out.push(("ResourceType", r.kind.clone()));
        out.push(("ResourceName", r.name().to_owned()));
    }
    out.sort();
    out.dedup();
    out
}

/// The store entry of an event: the event under its time. Its event-history index entries are
/// written after it by [`index_pending`].
pub fn entries(ev: &Event, time: time::OffsetDateTime) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let bytes = serde_json::to_vec(ev).ok()?;
    Some(vec![(crate::keys::audit_event(time.unix_timestamp_nanos(), &ev.event_id), bytes)])
}

/// The event-history index keys of the event stored as `json` under `event_key`, one per indexed
/// lookup attribute value. Each key ends with the event's `NANOS/ID`, so it names the event's own
/// key and needs no value. Only management events of an account are in event history.
pub fn index_entries(event_key: &[u8], json: &[u8]) -> Vec<Vec<u8>> {
    let nanos = event_key.get(crate::keys::AUDIT_PREFIX.len()..).and_then(crate::keys::event_nanos);
    let (Some(nanos), Ok(ev)) = (nanos, serde_json::from_slice::<IndexView>(json)) else { return Vec::new() };
    if !ev.management_event || ev.recipient_account_id.is_empty() {
        return Vec::new();
    }
    let account = &ev.recipient_account_id;
    lookup_attributes(&ev)
        .into_iter()
        .map(|(attribute, value)| crate::keys::audit_index(account, attribute, &value, nanos, &ev.event_id))
        .collect()
}

/// Where the indexer has got to in `audit/`.
const INDEX_CURSOR: &[u8] = b"meta/audit-index-cursor";
/// Events younger than this are left for the next run: events of reads commit in groups a moment
/// after their time, and the cursor must never pass an event that is not in yet.
pub const INDEX_LAG: time::Duration = time::Duration::seconds(1);
/// Most events one run indexes.
pub const INDEX_BATCH: usize = 500;

/// Indexes the events stored since the last run (older than [`INDEX_LAG`]), in one transaction
/// with the cursor, their entries sorted so the inserts go to the B-tree in order. Writing the
/// index here, in batches, rather than with each request keeps the request's own write small;
/// event history trails the requests by about a second (AWS's trails it by minutes). Returns how
/// many events were read.
pub fn index_pending(tx: &mut rampart_store::Tx<'_>, now: time::OffsetDateTime) -> Result<usize, crate::ServiceError> {
    let cursor = tx.get(INDEX_CURSOR)?;
    let horizon = crate::keys::audit_event((now - INDEX_LAG).unix_timestamp_nanos(), "");
    let rows = tx.scan_prefix(crate::keys::AUDIT_PREFIX, cursor.as_deref(), INDEX_BATCH, false)?;
    let mut entries = Vec::new();
    let mut last = None;
    let mut read = 0;
    for (key, value) in &rows {
        if *key >= horizon {
            break;
        }
        read += 1;
        last = Some(key);
        entries.extend(index_entries(key, value));
    }
    entries.sort_unstable();
    for k in entries {
        tx.put_uncached(&k, b"")?;
    }
    if let Some(k) = last {
        tx.put(INDEX_CURSOR, k)?;
    }
    Ok(read)
}

/// How long event history keeps events unless configured otherwise.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html>.
pub const EVENT_HISTORY_DAYS: u32 = 90;

/// Where the server records the configured retention, for LookupEvents to read.
const RETENTION_KEY: &[u8] = b"meta/event-history-days";

/// Records the configured retention (at start-up).
pub fn set_retention(tx: &mut rampart_store::Tx<'_>, days: u32) -> Result<(), crate::ServiceError> {
    tx.put(RETENTION_KEY, days.to_string().as_bytes())?;
    Ok(())
}

/// The retention in force.
pub fn retention(db: &rampart_store::Db) -> Result<u32, crate::ServiceError> {
    let stored = db.get_cached(RETENTION_KEY)?;
    Ok(stored.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()).unwrap_or(EVENT_HISTORY_DAYS))
}

/// Most expired events one sweep deletes.
const SWEEP_BATCH: usize = 2_000;

/// Deletes events older than the retention, with their index entries; how many it deleted.
/// Events a logging trail has not delivered yet are kept until it has.
pub fn sweep_expired(tx: &mut rampart_store::Tx<'_>, now: time::OffsetDateTime) -> Result<usize, crate::ServiceError> {
    let days = tx
        .get(RETENTION_KEY)?
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse::<u32>().ok())
        .unwrap_or(EVENT_HISTORY_DAYS);
    let cutoff = crate::keys::audit_event((now - time::Duration::days(i64::from(days))).unix_timestamp_nanos(), "");
    // Never an event a logging trail has yet to consider (its cursor is the last one it has).
    let mut undelivered: Option<Vec<u8>> = None;
    for (_, v) in tx.scan_prefix(b"cloudtrail/", None, usize::MAX >> 1, false)? {
        if let Ok(t) = serde_json::from_slice::<trails::TrailRecord>(&v)
            && t.logging
        {
            let c = t.cursor.unwrap_or_default().into_bytes();
            undelivered = Some(undelivered.map_or(c.clone(), |u| u.min(c)));
        }
    }
    let rows = tx.scan_prefix(crate::keys::AUDIT_PREFIX, None, SWEEP_BATCH, false)?;
    let mut deleted = 0;
    for (key, value) in rows {
        if key >= cutoff || undelivered.as_ref().is_some_and(|u| key > *u) {
            break;
        }
        for k in index_entries(&key, &value) {
            tx.delete(&k)?;
        }
        tx.delete(&key)?;
        deleted += 1;
    }
    Ok(deleted)
}

/// What an event found by a scan must also satisfy.
type EventFilter = Box<dyn Fn(&Event) -> bool>;

/// What a NextToken carries: the last index key returned, bound to the lookup's parameters.
#[derive(Serialize, Deserialize)]
struct Cursor {
    params: String,
    after: String,
}

const TOKEN_CONTEXT: &[u8] = b"rampart/cloudtrail/lookup-token/v1";

fn lookup_error(code: &'static str, message: impl Into<String>) -> crate::ServiceError {
    crate::ServiceError::new(code, 400, message)
}

/// Event history: the account's management events, newest first, optionally those with one
/// lookup attribute's value, within a time range, a page at a time.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>.
pub fn lookup_events(
    ctx: &crate::Ctx<'_>,
    input: rampart_shapes::generated::cloudtrail::LookupEventsRequest,
) -> Result<rampart_shapes::generated::cloudtrail::LookupEventsResponse, crate::ServiceError> {
    use rampart_shapes::generated::cloudtrail as shapes;
    let attributes = input.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(lookup_error(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let (attribute, value) = match attributes.first() {
        Some(a) if a.attribute_value.is_empty() => {
            return Err(lookup_error(
                "InvalidLookupAttributesException",
                "The lookup attribute value cannot be empty.",
            ));
        }
        Some(a) => (a.attribute_key.clone(), a.attribute_value.clone()),
        None => ("*".to_owned(), String::new()),
    };
    let max = input.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(lookup_error("InvalidMaxResultsException", "MaxResults must be between 1 and 50."));
    }
    let oldest = ctx.now - time::Duration::days(i64::from(retention(ctx.db)?));
    let end = input.end_time.unwrap_or(ctx.now);
    let start = input.start_time.unwrap_or(oldest);
    if start > end {
        return Err(lookup_error("InvalidTimeRangeException", "Start time must be before end time."));
    }
    if input.event_category.is_some() {
        // Insights events: Rampart records none.
        return Ok(shapes::LookupEventsResponse { events: Some(Vec::new()), next_token: None });
    }
    let account = ctx.principal.account_id.clone();
    // Where to scan, and what an event found there must also satisfy.
    let start_nanos = start.max(oldest).unix_timestamp_nanos();
    let mut end_nanos = end.unix_timestamp_nanos();
    let mut floor = start_nanos;
    let (prefix, indexed, wanted): (Vec<u8>, bool, EventFilter) = match attribute.as_str() {
        "*" => (crate::keys::AUDIT_PREFIX.to_vec(), false, Box::new(|_: &Event| true)),
        "EventId" => {
            // The id's first 48 bits are its event's millisecond.
            let ms = value
                .get(..8)
                .zip(value.get(9..13))
                .and_then(|(hi, lo)| i128::from_str_radix(&format!("{hi}{lo}"), 16).ok());
            let Some(ms) = ms else {
                return Ok(shapes::LookupEventsResponse { events: Some(Vec::new()), next_token: None });
            };
            end_nanos = end_nanos.min(ms * 1_000_000 + 999_999);
            floor = floor.max(ms * 1_000_000);
            let id = value.clone();
            (crate::keys::AUDIT_PREFIX.to_vec(), false, Box::new(move |e: &Event| e.event_id == id))
        }
        "ResourceName" if value.starts_with("arn:") => {
            let Some(r) = EventResource::from_arn(&value) else {
                return Ok(shapes::LookupEventsResponse { events: Some(Vec::new()), next_token: None });
            };
            let arn = value.clone();
            (
                crate::keys::audit_index_prefix(&account, "ResourceName", r.name()),
                true,
                Box::new(move |e: &Event| e.resources.iter().flatten().any(|x| x.arn == arn)),
            )
        }
        _ => (crate::keys::audit_index_prefix(&account, &attribute, &value), true, Box::new(|_: &Event| true)),
    };
    let in_history = |e: &Event| e.management_event && e.recipient_account_id == account && wanted(e);
    // What the caller asked for (not the defaults, which move with the clock between pages).
    let asked = |t: Option<time::OffsetDateTime>| t.map(|t| t.unix_timestamp_nanos().to_string()).unwrap_or_default();
    let params = format!("{attribute}\n{value}\n{}\n{}", asked(input.start_time), asked(input.end_time));
    let mut after: Vec<u8> = match &input.next_token {
        Some(token) => {
            let bad = || lookup_error("InvalidNextTokenException", "Invalid NextToken.");
            let sealed = data_encoding::BASE64URL_NOPAD.decode(token.as_bytes()).map_err(|_| bad())?;
            let plain = ctx.sealer.open(&sealed, TOKEN_CONTEXT).map_err(|_| bad())?;
            let cursor: Cursor = serde_json::from_slice(&plain).map_err(|_| bad())?;
            if cursor.params != params || !cursor.after.as_bytes().starts_with(&prefix) {
                return Err(bad());
            }
            cursor.after.into_bytes()
        }
        None => {
            let mut k = prefix.clone();
            k.extend_from_slice(format!("{:020}", end_nanos.saturating_add(1)).as_bytes());
            k
        }
    };
    let limit = usize::try_from(max).unwrap_or(50);
    let batch = 200;
    let mut events = Vec::new();
    let mut last_key: Option<Vec<u8>> = None;
    let mut exhausted = false;
    'scan: while events.len() < limit {
        let rows = ctx.db.scan_prefix(&prefix, Some(&after), batch, true)?;
        let full = rows.len() == batch;
        let count = rows.len();
        let Some((last, _)) = rows.last() else {
            exhausted = true;
            break;
        };
        let next_after = last.clone();
        for (i, (key, stored)) in rows.into_iter().enumerate() {
            let suffix = key.get(prefix.len()..).unwrap_or_default();
            let nanos = crate::keys::event_nanos(suffix).unwrap_or(i128::MIN);
            if nanos < floor {
                exhausted = true;
                break 'scan;
            }
            let bytes = if indexed {
                let mut event_key = crate::keys::AUDIT_PREFIX.to_vec();
                event_key.extend_from_slice(suffix);
                match ctx.db.get(&event_key)? {
                    Some(b) => b,
                    None => continue,
                }
            } else {
                stored
            };
            let Ok(ev) = serde_json::from_slice::<Event>(&bytes) else { continue };
            if !in_history(&ev) {
                continue;
            }
            let event_time = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok();
            events.push(shapes::Event {
                event_id: Some(ev.event_id.clone()),
                event_name: Some(ev.event_name.clone()),
                read_only: Some(ev.read_only.to_string()),
                access_key_id: ev.user_identity.access_key_id.clone(),
                event_time,
                event_source: Some(ev.event_source.clone()),
                username: username(&ev.user_identity),
                resources: ev.resources.as_ref().map(|rs| {
                    rs.iter()
                        .map(|r| shapes::Resource {
                            resource_type: Some(r.kind.clone()),
                            resource_name: Some(r.name().to_owned()),
                        })
                        .collect()
                }),
                cloud_trail_event: Some(String::from_utf8_lossy(&bytes).into_owned()),
            });
            if events.len() == limit {
                // More may follow: rows left in this batch, or a full batch.
                exhausted = i + 1 == count && !full;
                last_key = Some(key);
                break 'scan;
            }
        }
        if !full {
            exhausted = true;
            break;
        }
        after = next_after;
    }
    // A page that filled before the scan ran out may have a next one.
    let next_token = match (exhausted, last_key) {
        (false, Some(after)) => {
            let cursor = Cursor { params, after: String::from_utf8_lossy(&after).into_owned() };
            let plain = serde_json::to_vec(&cursor).map_err(|_| crate::ServiceError::internal())?;
            let sealed = ctx.sealer.seal(&plain, TOKEN_CONTEXT).map_err(|_| crate::ServiceError::internal())?;
            Some(data_encoding::BASE64URL_NOPAD.encode(&sealed))
        }
        _ => None,
    };
    Ok(shapes::LookupEventsResponse { events: Some(events), next_token })
}

/// CloudTrail's own error for an input the model's constraints refuse, by the members that
/// failed, where it has one.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html#API_LookupEvents_Errors>.
pub fn validation_code(failed_members: &[String]) -> Option<&'static str> {
    failed_members.iter().any(|m| m == "maxResults").then_some("InvalidMaxResultsException")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A management event of the root user creating `ana`.
    pub(super) fn sample(id: &str) -> Event {
        let p = crate::Principal::root("123456789012", Some("AKIAEXAMPLE".into()));
        Event {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity::of(&p),
            event_time: "2026-11-23T10:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateUser".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "t".into(),
            error_code: None,
            error_message: None,
            request_parameters: Some(serde_json::json!({"userName": "ana"})),
            response_elements: None,
            resources: EventResource::from_arn("arn:aws:iam::123456789012:user/ana").map(|r| vec![r]),
            additional_event_data: None,
            request_id: "r".into(),
            event_id: id.into(),
            read_only: false,
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "123456789012".into(),
            event_category: "Management".into(),
            tls_details: None,
            session_credential_from_console: None,
        }
    }

    #[test]
    fn a_stored_event_yields_its_index_keys() {
        let json = serde_json::to_vec(&sample("e")).unwrap();
        let keys: Vec<String> = index_entries(&crate::keys::audit_event(7, "e"), &json)
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect();
        let attrs: Vec<&str> = keys.iter().map(|k| k.split('/').nth(2).unwrap()).collect();
        assert_eq!(
            attrs,
            ["AccessKeyId", "EventName", "EventSource", "ReadOnly", "ResourceName", "ResourceType", "Username"],
            "{keys:?}"
        );
        assert!(keys.iter().all(|k| k.ends_with("00000000000000000007/e")));
    }
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[tokio::test]
    async fn events_past_the_retention_go_with_their_index_and_newer_ones_stay() {
        let dir = std::env::temp_dir().join(format!("rampart-sweep-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.join("t.db")).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let old = now - time::Duration::days(100);
        let recent = now - time::Duration::days(10);
        let mut ev = super::tests::sample("old");
        let (o, r) = (serde_json::to_vec(&ev).unwrap(), {
            ev.event_id = "recent".into();
            serde_json::to_vec(&ev).unwrap()
        });
        db.transact(move |tx| -> Result<(), crate::ServiceError> {
            for (when, id, bytes) in [(old, "old", &o), (recent, "recent", &r)] {
                tx.put(&crate::keys::audit_event(when.unix_timestamp_nanos(), id), bytes)?;
            }
            assert_eq!(index_pending(tx, now)?, 2);
            assert_eq!(sweep_expired(tx, now)?, 1, "only the event older than 90 days");
            let left = tx.scan_prefix(crate::keys::AUDIT_PREFIX, None, 10, false)?;
            assert_eq!(left.len(), 1);
            let index = tx.scan_prefix(b"audix/", None, 100, false)?;
            assert!(!index.is_empty() && index.iter().all(|(k, _)| k.ends_with(b"/recent")), "old index entries gone");
            set_retention(tx, 5)?;
            assert_eq!(sweep_expired(tx, now)?, 1, "a shorter retention takes the rest");
            Ok(())
        })
        .await
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
