//! AWS Signature Version 4 verification, pure: no I/O, no clock of its own.
//!
//! The flow is [`parse`] (find the access key, scope, signed headers and signature in the
//! `Authorization` header or a presigned query), a look-up of the secret by the caller, then
//! [`Verifier::verify`], which rebuilds the canonical request from exactly the headers the client
//! signed and compares signatures in constant time.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>.

mod canonical;
pub mod chunked;
mod error;
mod parse;
mod verify;

pub use canonical::{canonical_request, string_to_sign};
pub use error::SigV4Error;
pub use parse::{Auth, Scope, parse, parse_post};
pub use verify::{Verifier, signing_key};

/// The request parts that SigV4 covers. Header names are lower case, as `http` gives them.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as it came on the wire, still percent-encoded.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Every value of a header, in order.
    pub fn header_values(&self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The first value of a header, as text.
    pub fn header(&self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next().and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// How far a request's time may be from the server's, per AWS (15 minutes).
pub const MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// The longest lifetime of a presigned URL, per AWS (7 days).
pub const MAX_PRESIGNED_EXPIRY_SECS: i64 = 604_800;

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
