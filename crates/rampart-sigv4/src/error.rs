//! SigV4 failures, each with AWS's code, HTTP status and message.
//! Codes follow <https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html>.

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no presigned query.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The signature parts are malformed or incomplete.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key is not known (decided by the caller after the look-up).
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The signature or its scope does not match.
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    /// The request time is too far from the server's, or a presigned URL has expired.
    #[error("{0}")]
    RequestExpired(String),
    /// The session token has expired (decided by the caller).
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A presigned URL used after its `X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedUrlExpired,
    /// A presigned URL's `X-Amz-Expires` is not a number of seconds from 1 to a week.
    #[error("{0}")]
    ExpiresOutOfRange(String),
    /// `x-amz-content-sha256` is not the hash of the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// An `aws-chunked` body that does not parse, or lacks what its mode requires.
    #[error("{0}")]
    IncompleteBody(String),
    /// A chunk other than the last smaller than 8 KiB: `chunk` is its 1-based number.
    #[error("Only the last chunk is allowed to have a size less than 8192 bytes")]
    InvalidChunkSize { chunk: usize, size: usize },
}

/// The message AWS sends for a signature mismatch.
pub(crate) const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl SigV4Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            Self::RequestExpired(_) | Self::PresignedUrlExpired => "RequestExpired",
            Self::ExpiredToken => "ExpiredToken",
            Self::ExpiresOutOfRange(_) => "IncompleteSignature",
            Self::ContentSha256Mismatch => "SignatureDoesNotMatch",
            Self::IncompleteBody(_) => "IncompleteBody",
            Self::InvalidChunkSize { .. } => "InvalidChunkSizeError",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::IncompleteSignature(_)
            | Self::RequestExpired(_)
            | Self::PresignedUrlExpired
            | Self::ExpiresOutOfRange(_)
            | Self::IncompleteBody(_) => 400,
            _ => 403,
        }
    }

    pub(crate) fn mismatch() -> Self {
        Self::SignatureDoesNotMatch(MISMATCH.to_owned())
    }
}
