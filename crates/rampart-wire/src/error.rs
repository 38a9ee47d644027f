//! One wire error: code, message, fault and status, rendered per protocol.

use std::borrow::Cow;

use rampart_shapes::Protocol;

use crate::xml::escape;

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: u16,
    /// `Sender` (the client's fault) or `Receiver` (ours), as query errors say.
    pub sender_fault: bool,
    /// For a failed validation, the paths of the members that failed.
    pub members: Box<[String]>,
    /// More elements of an S3 (rest-xml) error body, after `Message`: `("HeadersNotSigned", …)`,
    /// `("BucketName", …)`.
    pub details: Box<[(&'static str, String)]>,
    /// Response headers beside the body (S3's `x-amz-delete-marker`, `x-amz-version-id`).
    pub headers: Box<[(&'static str, String)]>,
}

/// A rendered error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WireError {
    pub fn new(code: impl Into<Cow<'static, str>>, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
            members: Box::default(),
            details: Box::default(),
            headers: Box::default(),
        }
    }

    /// The model's input constraints failed (`ValidationError` for query services).
    pub fn validation(protocol: Protocol, invalid: rampart_shapes::Invalid) -> Self {
        let code = match protocol {
            Protocol::Query => "ValidationError",
            _ => "ValidationException",
        };
        Self { members: invalid.paths.into_boxed_slice(), ..Self::new(code, 400, invalid.message) }
    }

    /// The body could not be read as the protocol's encoding.
    pub fn malformed(protocol: Protocol, message: impl Into<String>) -> Self {
        match protocol {
            Protocol::Query => Self::new("MalformedInput", 400, message),
            _ => Self::new("SerializationException", 400, message),
        }
    }

    /// An awsJson target that names no operation Rampart serves.
    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", 400, format!("Operation `{target}` is not supported by this server"))
    }

    /// A query `Action` that names no operation of the service.
    pub fn invalid_action(action: &str, version: Option<&str>) -> Self {
        Self::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version {}", version.unwrap_or("NO_VERSION_SPECIFIED")),
        )
    }

    /// Something failed inside Rampart; details go to the log with the request id, not to the client.
    pub fn internal() -> Self {
        Self::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// Renders the error for `protocol`. `namespace` is the service's XML namespace (a query
    /// service's, or a rest-xml service's but S3's).
    pub fn render(&self, protocol: Protocol, namespace: Option<&str>, request_id: &str) -> ErrorBody {
        match protocol {
            Protocol::Query | Protocol::RestXml => {
                let ns = namespace.map(|n| format!(" xmlns=\"{}\"", escape(n))).unwrap_or_default();
                // The rest-xml protocol wraps an error as the query protocol does; S3 (the one
                // rest-xml service without a namespace here) answers a bare `<Error>`.
                let body = if protocol == Protocol::Query || namespace.is_some() {
                    format!(
                        "<ErrorResponse{ns}><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                        if self.sender_fault { "Sender" } else { "Receiver" },
                        escape(&self.code),
                        escape(&self.message),
                        escape(request_id)
                    )
                } else {
                    let details: String = self
                        .details
                        .iter()
                        .map(|(name, value)| format!("<{name}>{}</{name}>", escape(value)))
                        .collect();
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>{details}<RequestId>{}</RequestId></Error>",
                        escape(&self.code),
                        escape(&self.message),
                        escape(request_id)
                    )
                };
                ErrorBody { status: self.status, content_type: "text/xml", body }
            }
            Protocol::Json | Protocol::RestJson => {
                let mut body = serde_json::json!({ "__type": self.code, "message": self.message });
                // Members beside the message, as the model's error shape names them (`Reason`).
                if let Some(fields) = body.as_object_mut() {
                    for (name, value) in &self.details {
                        fields.insert((*name).to_owned(), value.clone().into());
                    }
                }
                let body = body.to_string();
                let content_type =
                    if protocol == Protocol::Json { "application/x-amz-json-1.1" } else { "application/json" };
                ErrorBody { status: self.status, content_type, body }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_are_error_response_xml() {
        let e = WireError::new("InvalidClientTokenId", 403, "The security token included in the request is invalid.");
        let r = e.render(Protocol::Query, Some("https://sts.amazonaws.com/doc/2011-06-15/"), "rid-1");
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
             <Message>The security token included in the request is invalid.</Message></Error><RequestId>rid-1</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn json_errors_carry_type_and_message() {
        let r = WireError::internal().render(Protocol::Json, None, "rid");
        assert_eq!(r.status, 500);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["__type"], "InternalFailure");
        assert!(v["message"].as_str().unwrap().contains("unknown error"));
    }

    #[test]
    fn s3_errors_carry_their_details() {
        let mut e =
            WireError::new("AccessDenied", 403, "There were headers present in the request which were not signed");
        e.details = Box::new([("HeadersNotSigned", "x-amz-meta-a, x-amz-meta-<b>".to_owned())]);
        let r = e.render(Protocol::RestXml, None, "r");
        assert!(
            r.body.contains("which were not signed</Message><HeadersNotSigned>x-amz-meta-a, x-amz-meta-&lt;b&gt;</HeadersNotSigned><RequestId>"),
            "{}",
            r.body
        );
    }

    #[test]
    fn rest_xml_errors_but_s3s_are_wrapped_as_the_protocol_wraps_them() {
        let e = WireError::new("NoSuchPublicAccessBlockConfiguration", 404, "not found");
        let ns = "http://awss3control.amazonaws.com/doc/2018-08-20/";
        let wrapped = e.render(Protocol::RestXml, Some(ns), "r").body;
        assert!(
            wrapped.starts_with(&format!(
                "<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type><Code>NoSuchPublicAccessBlockConfiguration</Code>"
            )),
            "{wrapped}"
        );
        let bare = e.render(Protocol::RestXml, None, "r").body;
        assert!(bare.contains("\n<Error><Code>NoSuchPublicAccessBlockConfiguration</Code>"), "{bare}");
    }

    #[test]
    fn messages_are_escaped() {
        let r = WireError::new("X", 400, "<a & 'b'>").render(Protocol::Query, None, "r");
        assert!(r.body.contains("<Message>&lt;a &amp; &apos;b&apos;&gt;</Message>"), "{}", r.body);
    }
}
