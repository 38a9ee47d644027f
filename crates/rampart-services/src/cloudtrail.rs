//! CloudTrail's event record format.
//! See <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>.

use serde::{Deserialize, Serialize};

use crate::{Principal, PrincipalKind};

/// The record format version Rampart writes.
pub const EVENT_VERSION: &str = "1.11";

/// CloudTrail's marker for values it will not record.
pub const REDACTED: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

impl UserIdentity {
    pub fn of(p: &Principal) -> Self {
        let kind = match p.kind {
            PrincipalKind::Root => "Root",
            PrincipalKind::IAMUser => "IAMUser",
            PrincipalKind::AssumedRole => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
        };
        Self {
            kind: kind.to_owned(),
            principal_id: Some(p.user_id.clone()),
            arn: Some(p.arn.clone()),
            account_id: Some(p.account_id.clone()),
            access_key_id: p.access_key_id.clone(),
            user_name: p.user_name.clone(),
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
}
