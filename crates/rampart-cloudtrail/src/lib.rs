//! CloudTrail's event record format.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>.

use serde::{Deserialize, Serialize};

pub mod aggregation;
pub mod digest;
pub mod history;
pub mod insights;
pub mod stored;
pub mod trails;
pub mod validate;
pub use digest::list_public_keys;
pub use history::*;
pub use trails::*;

use rampart_core::{Principal, PrincipalKind};

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
    /// The service that made the request on the caller's behalf (`s3.amazonaws.com` for S3's use
    /// of a KMS key under SSE-KMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
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
            // CloudTrail records an unsigned S3 request as from the anonymous "account".
            // See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html>.
            PrincipalKind::Anonymous => {
                return Self {
                    kind: "AWSAccount".to_owned(),
                    principal_id: Some(String::new()),
                    arn: None,
                    account_id: Some("ANONYMOUS_PRINCIPAL".to_owned()),
                    access_key_id: None,
                    user_name: None,
                    identity_provider: None,
                    session_context: None,
                    invoked_by: None,
                };
            }
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
            invoked_by: None,
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
            invoked_by: None,
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
            ("kms", "key") => "AWS::KMS::Key",
            ("kms", "alias") => "AWS::KMS::Alias",
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
        resource_name(&self.kind, &self.arn)
    }
}

/// [`EventResource::name`] from a resource's type and ARN.
pub(crate) fn resource_name<'a>(kind: &str, arn: &'a str) -> &'a str {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    match kind {
        "AWS::S3::Bucket" => resource,
        "AWS::S3::Object" => resource.split_once('/').map_or(resource, |(_, k)| k),
        _ => resource.rsplit('/').next().unwrap_or(resource),
    }
}

/// The region CloudTrail records a call in: global services' (IAM, Organizations, and STS at
/// its global endpoint `sts.amazonaws.com`) in their partition's global Region (us-east-1,
/// cn-north-1, us-gov-west-1…), whatever region of it the request was signed for; every other
/// call in the region it was signed for.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-global-service-events>.
pub fn recorded_region<'a>(endpoint_prefix: &str, host: Option<&str>, signed_for: &'a str) -> &'a str {
    let host = host.map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name));
    match endpoint_prefix {
        "iam" | "organizations" => {
            rampart_core::partition::global_region(rampart_core::partition::of_region(signed_for))
        }
        "sts" if host.is_some_and(|h| h.eq_ignore_ascii_case("sts.amazonaws.com")) => "us-east-1",
        _ => signed_for,
    }
}

/// Whether a call is a data event, which event history does not show: S3's object-level calls
/// (an object's bytes, parts, tags, ACL, retention and legal hold) and the listings of a bucket's
/// contents.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html>.
pub fn is_data_event(event_source: &str, event_name: &str) -> bool {
    event_source == "s3.amazonaws.com"
        && matches!(
            event_name,
            "AbortMultipartUpload"
                | "CompleteMultipartUpload"
                | "CopyObject"
                | "CreateMultipartUpload"
                | "DeleteObject"
                | "DeleteObjectTagging"
                | "DeleteObjects"
                | "GetObject"
                | "GetObjectAcl"
                | "GetObjectAttributes"
                | "GetObjectLegalHold"
                | "GetObjectRetention"
                | "GetObjectTagging"
                | "HeadBucket"
                | "HeadObject"
                | "ListMultipartUploads"
                | "ListObjectVersions"
                | "ListObjects"
                | "ListObjectsV2"
                | "ListParts"
                | "PutObject"
                | "PutObjectAcl"
                | "PutObjectLegalHold"
                | "PutObjectRetention"
                | "PutObjectTagging"
                | "UploadPart"
                | "UploadPartCopy"
        )
}

/// The name event history shows for who made a call.
pub fn username(id: &UserIdentity) -> Option<String> {
    username_of(&id.kind, id.arn.as_deref(), id.user_name.as_deref()).map(str::to_owned)
}

/// [`username`] from an identity's type, ARN and user name.
pub(crate) fn username_of<'a>(kind: &str, arn: Option<&'a str>, user_name: Option<&'a str>) -> Option<&'a str> {
    match kind {
        "Root" => Some("root"),
        "AssumedRole" | "FederatedUser" => arn.and_then(|a| a.rsplit('/').next()),
        _ => user_name.filter(|n| *n != REDACTED),
    }
}

/// How an event is stored: its record packed (see [`stored`]), to be appended to the store's log
/// at its [`position`]. Its event-history index entries are written after it by
/// [`index_pending`].
pub fn pack_event(ev: &Event) -> Option<Vec<u8>> {
    Some(stored::pack(&record_json(ev)?))
}

/// An event's record as JSON, written into a buffer sized for a typical record (growing a `Vec`
/// from empty reallocates it many times over for a 1 KB record).
pub fn record_json(ev: &Event) -> Option<Vec<u8>> {
    let mut json = Vec::with_capacity(1536);
    serde_json::to_writer(&mut json, ev).ok()?;
    Some(json)
}

/// An id for an event Rampart makes itself (a service's own): time-ordered as every event id is
/// (UUIDv7-shaped, its first 48 bits the time in milliseconds), so that event history finds it
/// by id.
pub fn event_id_at(at: time::OffsetDateTime) -> String {
    let random = uuid::Uuid::new_v4();
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut bytes = [0u8; 10];
    if let Some(head) = random.as_bytes().get(..10) {
        bytes.copy_from_slice(head);
    }
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid().to_string()
}

/// Where an event of `time` goes in the store's log: its Unix time in nanoseconds (the log moves
/// it to the next free nanosecond if another event has it).
pub fn position(time: time::OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// The log position a stored cursor names: the last position it has passed. Cursors are decimal
/// positions; a cursor written before events moved to the log is an `audit/NANOS/ID` key (that
/// event passed) or an `audit/NANOS/` bound (nothing at NANOS passed yet).
pub fn cursor_position(cursor: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(cursor).ok()?;
    match text.strip_prefix("audit/") {
        Some(key) => {
            let (nanos, id) = key.split_once('/').unwrap_or((key, ""));
            let nanos: i64 = nanos.parse().ok()?;
            Some(if id.is_empty() { nanos.saturating_sub(1) } else { nanos })
        }
        None => text.parse().ok(),
    }
}

/// CloudTrail's own error for an input the model's constraints refuse, by the members that
/// failed, where it has one.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html#API_LookupEvents_Errors>.
pub fn validation_code(failed_members: &[String]) -> Option<&'static str> {
    if failed_members.iter().any(|m| m == "maxResults") {
        return Some("InvalidMaxResultsException");
    }
    // An insight type or event category outside the model's: CloudTrail's error for selectors.
    // See <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutInsightSelectors.html#API_PutInsightSelectors_Errors>.
    failed_members.iter().any(|m| m.starts_with("insightSelectors")).then_some("InvalidInsightSelectorsException")
}

use Target::{All, Arn, Trail};
use rampart_core::actions::{Action, Target, passing, row};

/// CloudTrail's operations.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html>.
pub static ACTIONS: &[Action] = &[
    row("AddTags", &[Arn("ResourceId")], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    passing(
        "CreateTrail",
        &[Trail("Name")],
        &["aws:RequestTag/${TagKey}", "aws:TagKeys"],
        "CloudWatchLogsRoleArn",
        "cloudtrail.amazonaws.com",
    ),
    row("DeleteResourcePolicy", &[Arn("ResourceArn")], &[]),
    row("DeleteTrail", &[Trail("Name")], &[]),
    row("DescribeTrails", &[All], &[]),
    row("GetEventConfiguration", &[Trail("TrailName")], &[]),
    row("GetEventSelectors", &[Trail("TrailName")], &[]),
    row("GetInsightSelectors", &[Trail("TrailName")], &[]),
    row("GetResourcePolicy", &[Arn("ResourceArn")], &[]),
    row("GetTrail", &[Trail("Name")], &[]),
    row("GetTrailStatus", &[Trail("Name")], &[]),
    row("ListPublicKeys", &[All], &[]),
    row("ListTags", &[All], &[]),
    row("ListTrails", &[All], &[]),
    row("LookupEvents", &[All], &[]),
    row("PutEventConfiguration", &[Trail("TrailName")], &[]),
    row("PutEventSelectors", &[Trail("TrailName")], &[]),
    row("PutInsightSelectors", &[Trail("TrailName")], &[]),
    row("PutResourcePolicy", &[Arn("ResourceArn")], &[]),
    row("RemoveTags", &[Arn("ResourceId")], &["aws:TagKeys"]),
    row("StartLogging", &[Trail("Name")], &[]),
    row("StopLogging", &[Trail("Name")], &[]),
    passing("UpdateTrail", &[Trail("Name")], &[], "CloudWatchLogsRoleArn", "cloudtrail.amazonaws.com"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A management event of the root user creating `ana`.
    pub(super) fn sample(id: &str) -> Event {
        let p = rampart_core::Principal::root("123456789012", Some("AKIAEXAMPLE".into()));
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
}
