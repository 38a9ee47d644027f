//! A service's error, in AWS's terms.

use std::borrow::Cow;

/// An operation's failure as AWS reports it: code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    pub code: Cow<'static, str>,
    pub status: u16,
    pub message: String,
    /// More members of the error, beside the message: Organizations' `Reason`.
    pub details: Vec<(&'static str, String)>,
    /// Response headers the error carries beside its body (S3's `x-amz-delete-marker` on a 404).
    pub headers: Vec<(&'static str, String)>,
}

impl ServiceError {
    pub fn new(code: impl Into<Cow<'static, str>>, status: u16, message: impl Into<String>) -> Self {
        Self { code: code.into(), status, message: message.into(), details: Vec::new(), headers: Vec::new() }
    }

    /// The error with one more response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The error with one more member (`("Reason", "OU_DEPTH_LIMIT_EXCEEDED")`).
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", 403, message)
    }

    /// A failure inside Rampart. The cause is logged by the caller, never sent.
    pub fn internal() -> Self {
        Self::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }
}

impl From<rampart_store::StoreError> for ServiceError {
    fn from(e: rampart_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        if e.is_unavailable() {
            // The database is out of reach for now: the client may retry (the SDKs do, on 503).
            // See <https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>.
            return Self::new(
                "ServiceUnavailable",
                503,
                "The request has failed due to a temporary failure of the server.",
            );
        }
        Self::internal()
    }
}
