//! Encoded authorization messages: the details of a denied request (who, what, on which
//! resource, explicit deny or missing allow, the request's condition keys), sealed with the
//! master key so the caller who was denied cannot read them, and decoded by DecodeAuthorizationMessage
//! for callers allowed `sts:DecodeAuthorizationMessage`.
//!
//! AWS attaches such messages only to some operations' AccessDenied answers (EC2's
//! `UnauthorizedOperation` and its kind); none of the services Rampart serves today does, so
//! [`encode`] is there for the services that will. The decoded JSON has AWS's shape.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html>.

use rampart_shapes::generated::sts::{DecodeAuthorizationMessageRequest, DecodeAuthorizationMessageResponse};
use rampart_store::Sealer;
use serde_json::json;

use crate::authz::Request;
use rampart_core::{Ctx, ServiceError};

/// What the sealing binds a message to.
const MESSAGE_CONTEXT: &[u8] = b"rampart/sts/authorization-message/v1";

/// The sealed, base64 message of a denied request.
pub fn encode(sealer: &Sealer, req: &Request<'_>, explicit_deny: bool) -> Result<String, ServiceError> {
    let conditions: Vec<_> = req
        .keys
        .iter()
        .map(|(k, vs)| json!({"key": k, "values": {"items": vs.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()}}))
        .collect();
    let message = json!({
        "allowed": false,
        "explicitDeny": explicit_deny,
        "matchedStatements": {"items": []},
        "failures": {"items": []},
        "context": {
            "principal": {
                "id": req.principal.user_id,
                "name": req.principal.user_name,
                "arn": req.principal.arn,
            },
            "action": req.action,
            "resource": req.resource,
            "conditions": {"items": conditions},
        },
    });
    let bytes = serde_json::to_vec(&message).map_err(|_| ServiceError::internal())?;
    let sealed = sealer.seal(&bytes, MESSAGE_CONTEXT).map_err(|_| ServiceError::internal())?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&sealed))
}

fn invalid() -> ServiceError {
    ServiceError::new(
        "InvalidAuthorizationMessageException",
        400,
        "The encoded message is not an authorization message Rampart issued, or it was altered.",
    )
}

/// Decodes a message Rampart sealed; anything else (altered, truncated, another server's) is
/// InvalidAuthorizationMessageException.
pub fn decode_authorization_message(
    ctx: &Ctx<'_>,
    input: DecodeAuthorizationMessageRequest,
) -> Result<DecodeAuthorizationMessageResponse, ServiceError> {
    let sealed =
        data_encoding::BASE64URL_NOPAD.decode(input.encoded_message.trim().as_bytes()).map_err(|_| invalid())?;
    let bytes = ctx.sealer.open(&sealed, MESSAGE_CONTEXT).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| invalid())?;
    Ok(DecodeAuthorizationMessageResponse { decoded_message: Some(text) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::Principal;

    #[test]
    fn messages_round_trip_sealed_and_refuse_tampering() {
        let sealer = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        let p = Principal::root("123456789012", None);
        let keys = vec![("ec2:InstanceType".to_owned(), vec!["t2.micro".to_owned()])];
        let req = Request {
            principal: &p,
            action: "ec2:RunInstances",
            resource: "*",
            resource_policy: None,
            resource_owner: None,
            context: crate::authz::Context {
                source_ip: "127.0.0.1",
                time: time::OffsetDateTime::now_utc(),
                secure_transport: false,
                user_agent: "",
                region: "us-east-1",
                referer: None,
                tls_version: None,
            },
            keys: &keys,
        };
        let encoded = encode(&sealer, &req, true).unwrap();
        assert!(!encoded.contains("RunInstances"), "the message is sealed");
        let ctx = Ctx::internal(&p, (&db, &sealer), time::OffsetDateTime::now_utc(), "us-east-1");
        let out =
            decode_authorization_message(&ctx, DecodeAuthorizationMessageRequest { encoded_message: encoded.clone() })
                .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.decoded_message.as_deref().unwrap()).unwrap();
        assert_eq!(v["explicitDeny"], true);
        assert_eq!(v["context"]["action"], "ec2:RunInstances");
        assert_eq!(v["context"]["conditions"]["items"][0]["values"]["items"][0]["value"], "t2.micro");
        let mut altered = encoded.into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        let e = decode_authorization_message(&ctx, DecodeAuthorizationMessageRequest { encoded_message: altered })
            .unwrap_err();
        assert_eq!(e.code, "InvalidAuthorizationMessageException");
    }
}
