//! What every service crate shares: the handler's context ([`Ctx`], [`TxCtx`]), the principal,
//! the service error, the store's key layout, accounts and access keys, and the types of the
//! action tables.
//!
//! A service operation is a function from a typed input shape to a typed output shape. Handlers
//! see a [`Ctx`] with the authenticated principal and the store; they never see HTTP or a wire
//! encoding. Records in the store are each service's own versioned JSON.

pub mod account;
pub mod actions;
mod error;
pub mod identity;
pub mod keys;
pub mod orgs;
pub mod partition;
pub mod records;

pub use error::ServiceError;

pub use identity::{Principal, PrincipalKind, RoleSession};

use rampart_store::{Db, Sealer};
use time::OffsetDateTime;

/// What a state-changing handler knows; it runs inside the store transaction.
pub struct TxCtx<'a> {
    pub principal: &'a Principal,
    pub sealer: &'a Sealer,
    pub now: OffsetDateTime,
    /// The region the request was signed for.
    pub region: &'a str,
    /// Items of a batch request the caller was refused (DeleteObjects' objects, by index): the
    /// handler answers each as refused beside the others' results.
    pub refused: &'a [usize],
    /// What the request was authorized on (see [`Asked`]).
    pub asked: Asked<'a>,
    /// Work done for the request before its transaction, off the store's one writer (S3: the
    /// MD5 of an upload's body), which the handler may take instead of doing it again.
    pub prepared: Option<&'a (dyn std::any::Any + Send + Sync)>,
}

/// What the authorizer weighed a request on: the resources it acts on and the condition keys
/// it supplies. A handler that grants access of its own (the organization's resource policy)
/// weighs it on the same.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    pub resources: &'a [String],
    pub keys: &'a [(String, Vec<String>)],
}

/// What a handler knows about the request it serves.
pub struct Ctx<'a> {
    pub principal: &'a Principal,
    pub db: &'a Db,
    pub sealer: &'a Sealer,
    pub now: OffsetDateTime,
    pub request_id: &'a str,
    /// The id of the request's CloudTrail event (KMS names it as a key's last use); empty where
    /// the caller makes none.
    pub event_id: &'a str,
    pub region: &'a str,
    /// Where clients reach Rampart, for URLs it hands out (an outbound federation issuer).
    pub endpoint: Endpoint<'a>,
    /// The organization policies over accounts, where Organizations is served.
    pub orgs: Option<&'a dyn orgs::OrgPolicies>,
    /// What the request was authorized on.
    pub asked: Asked<'a>,
    /// A record the service's access check read for this request and lends its handler (S3: the
    /// object version a read was weighed on), so that a request reads it once.
    pub prefetched: Option<&'a (dyn std::any::Any + Send + Sync)>,
    /// Where a read too large to answer from memory leaves the reader of its body, which the
    /// server then runs piece by piece as the client takes the bytes (S3: an object's download).
    /// `None` where the caller sends nothing after its answer: the handler answers whole.
    pub later: Option<&'a Later>,
}

/// The slot a handler leaves a [`BodyReader`] in (see [`Ctx::later`]).
pub type Later = std::sync::Mutex<Option<Box<dyn BodyReader>>>;

/// The body of an answer, read a piece at a time after its headers are sent. Each piece is read
/// on its own (no transaction spans them): the reader checks that what it reads is still what the
/// answer's headers describe, and fails otherwise, which cuts the download short of its length.
pub trait BodyReader: Send + 'static {
    /// The number of bytes left to read.
    fn remaining(&self) -> u64;
    /// The next piece (never empty), or `None` when all is read.
    fn next_piece(&mut self, db: &Db, sealer: &Sealer) -> Option<Result<Vec<u8>, ServiceError>>;
}

/// Where clients reach Rampart: `public_url` when configured, else the scheme and Host of the
/// request. Kept as parts, so that the URL is only built by the few handlers that hand one out.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub configured: Option<&'a str>,
    pub host: &'a str,
    pub tls: bool,
}

impl<'a> Ctx<'a> {
    /// A context no request carries (a background task's, a test's, a benchmark's): `principal`
    /// acting on `db` in `region`, with no request id or event, no organization policies, and
    /// nothing sent after its answer. Set a field over it where one is needed.
    pub fn internal(
        principal: &'a Principal,
        (db, sealer): (&'a Db, &'a Sealer),
        now: OffsetDateTime,
        region: &'a str,
    ) -> Self {
        Ctx {
            principal,
            db,
            sealer,
            now,
            request_id: "",
            event_id: "",
            region,
            endpoint: Endpoint::LOCAL,
            orgs: None,
            asked: Asked::default(),
            prefetched: None,
            later: None,
        }
    }
}

impl Endpoint<'_> {
    /// `http://localhost`, for tests and benchmarks.
    pub const LOCAL: Endpoint<'static> = Endpoint { configured: None, host: "localhost", tls: false };

    /// The URL, without a trailing `/`.
    pub fn url(&self) -> String {
        match self.configured {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("{}://{}", if self.tls { "https" } else { "http" }, self.host),
        }
    }
}
