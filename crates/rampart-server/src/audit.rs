//! Audit capture: every request becomes a CloudTrail event in the store.

use rampart_cloudtrail::{self, EVENT_VERSION, Event, EventResource, TlsDetails, UserIdentity};
use rampart_store::Db;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the pipeline learns about a request as it goes, for its event.
#[derive(Debug, Default, Clone)]
pub struct Draft {
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub region: Option<String>,
    pub identity: Option<UserIdentity>,
    pub access_key_id: Option<String>,
    pub recipient_account_id: Option<String>,
    pub request_parameters: Option<serde_json::Value>,
    pub response_elements: Option<serde_json::Value>,
    pub read_only: bool,
    /// The ARNs the call acted on (as authorized).
    pub resources: Vec<String>,
    /// Signed with a console session's credentials.
    pub from_console: bool,
    /// KMS operations a service made for the request (S3 under SSE-KMS), each KMS's own event.
    pub kms_uses: Vec<KmsUse>,
    /// The event's id, made when the request began so that a handler can name its own event (a
    /// KMS key's last use); made with the event otherwise.
    pub event_id: Option<String>,
}

/// A KMS operation a service made with a key on the caller's behalf.
#[derive(Debug, Clone)]
pub struct KmsUse {
    /// `GenerateDataKey` or `Decrypt`.
    pub operation: String,
    pub key_arn: String,
    pub context: Vec<(String, String)>,
    /// The service that made it (`s3.amazonaws.com`).
    pub by: &'static str,
}

/// The event of a KMS operation a service made for a request: in the caller's name, invoked by
/// the service (which is also its source and user agent), read-only, on the key.
/// See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>
/// and <https://docs.aws.amazon.com/kms/latest/developerguide/ct-generatedatakey.html>.
pub fn kms_use_event(
    draft: &Draft,
    used: &KmsUse,
    (request_id, event_id): (&str, &str),
    time: OffsetDateTime,
    region: &str,
) -> Event {
    let context: serde_json::Map<String, serde_json::Value> =
        used.context.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let parameters = match used.operation.as_str() {
        "GenerateDataKey" => {
            serde_json::json!({"keyId": used.key_arn, "keySpec": "AES_256", "encryptionContext": context})
        }
        _ => {
            serde_json::json!({"keyId": used.key_arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context})
        }
    };
    let identity = draft.identity.clone().map(|i| UserIdentity { invoked_by: Some(used.by.to_owned()), ..i });
    let d = Draft {
        event_source: Some("kms.amazonaws.com".to_owned()),
        event_name: Some(used.operation.clone()),
        region: draft.region.clone(),
        identity,
        access_key_id: draft.access_key_id.clone(),
        recipient_account_id: used.key_arn.split(':').nth(4).map(str::to_owned),
        request_parameters: Some(parameters),
        response_elements: None,
        read_only: true,
        resources: vec![used.key_arn.clone()],
        from_console: false,
        kms_uses: Vec::new(),
        event_id: Some(event_id.to_owned()),
    };
    let origin = Origin { source_ip: used.by.to_owned(), user_agent: used.by.to_owned(), tls: None };
    event(d, &origin, request_id, time, region, None)
}

/// The connection facts of a request.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source_ip: String,
    pub user_agent: String,
    pub tls: Option<TlsDetails>,
}

impl Origin {
    /// The endpoint the request reached, as a URL (for `ConsoleLogin`'s `LoginTo`).
    pub fn endpoint(&self, app: &crate::app::App) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", app.config.bind_addr())
    }
}

/// Builds the event for a finished request.
pub fn event(
    draft: Draft,
    origin: &Origin,
    request_id: &str,
    time: OffsetDateTime,
    default_region: &str,
    error: Option<(&str, &str)>,
) -> Event {
    let identity = draft.identity.unwrap_or_else(|| UserIdentity::unknown(draft.access_key_id.clone()));
    let recipient = draft.recipient_account_id.or_else(|| identity.account_id.clone()).unwrap_or_default();
    let event_source = draft.event_source.unwrap_or_else(|| "unknown".to_owned());
    let event_name = draft.event_name.unwrap_or_else(|| "Unknown".to_owned());
    let data = rampart_cloudtrail::is_data_event(&event_source, &event_name);
    let resources: Vec<EventResource> = draft.resources.iter().filter_map(|a| EventResource::from_arn(a)).collect();
    Event {
        event_version: EVENT_VERSION.to_owned(),
        user_identity: identity,
        event_time: time.replace_nanosecond(0).unwrap_or(time).format(&Rfc3339).unwrap_or_default(),
        event_source,
        event_name,
        aws_region: draft.region.unwrap_or_else(|| default_region.to_owned()),
        source_ip_address: origin.source_ip.clone(),
        user_agent: origin.user_agent.clone(),
        error_code: error.map(|(c, _)| c.to_owned()),
        error_message: error.map(|(_, m)| m.to_owned()),
        request_parameters: draft.request_parameters,
        response_elements: draft.response_elements,
        resources: (!resources.is_empty()).then_some(resources),
        additional_event_data: None,
        request_id: request_id.to_owned(),
        event_id: draft.event_id.unwrap_or_else(|| crate::ids::event_id(time)),
        read_only: draft.read_only,
        event_type: "AwsApiCall".to_owned(),
        management_event: !data,
        recipient_account_id: recipient,
        event_category: if data { "Data" } else { "Management" }.to_owned(),
        tls_details: origin.tls.clone(),
        session_credential_from_console: draft.from_console.then(|| "true".to_owned()),
    }
}

/// Queues an event of a call that changed nothing; it commits with the next group. Its record
/// goes as plain JSON: the store compresses the group's queued records together (one LZ4 block a
/// pack), which packs them smaller, and off the request, than each compressed alone.
pub fn queue(db: &Db, ev: &Event, time: OffsetDateTime) {
    match rampart_cloudtrail::record_json(ev) {
        Some(bytes) => {
            if let Err(e) = db.log_append_later(rampart_cloudtrail::position(time), bytes) {
                tracing::error!(request_id = %ev.request_id, error = %e, "cannot queue an audit event");
            }
        }
        None => tracing::error!(request_id = %ev.request_id, "cannot encode an audit event"),
    }
}
