//! What the event benchmarks share: a typical management event.

use rampart_cloudtrail::{Event, EventResource, UserIdentity};

/// Event `i` of a history: `name` called by one of 200 IAM users on itself, from an SDK, with a
/// UUID-shaped request id and event id (the caller may set an event id of its own).
pub fn event(i: usize, name: &str) -> Event {
    let user = format!("user{}", i % 200);
    Event {
        event_version: "1.11".into(),
        user_identity: UserIdentity {
            kind: "IAMUser".into(),
            principal_id: Some(format!("AIDA{:017}", i % 200)),
            arn: Some(format!("arn:aws:iam::123456789012:user/{user}")),
            account_id: Some("123456789012".into()),
            access_key_id: Some(format!("AKIA{:016}", i % 200)),
            user_name: Some(user.clone()),
            identity_provider: None,
            session_context: None,
            invoked_by: None,
        },
        event_time: "2026-11-23T10:00:00Z".into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: name.into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "aws-sdk-rust/1.3.9 ua/2.1 api/iam/1.90.0 os/linux lang/rust/1.91.0 m/E".into(),
        error_code: None,
        error_message: None,
        request_parameters: Some(serde_json::json!({ "userName": user })),
        response_elements: None,
        resources: EventResource::from_arn(&format!("arn:aws:iam::123456789012:user/{user}")).map(|r| vec![r]),
        additional_event_data: None,
        request_id: format!("0f8a3c52-{:04x}-4a51-9d0e-{i:012x}", i % 0x1_0000),
        event_id: format!("019ab1c2-3d4e-7f60-8a1b-{i:012x}"),
        read_only: name.starts_with("Get") || name.starts_with("List"),
        event_type: "AwsApiCall".into(),
        management_event: true,
        recipient_account_id: "123456789012".into(),
        event_category: "Management".into(),
        tls_details: None,
        session_credential_from_console: None,
    }
}
