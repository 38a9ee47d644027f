//! AWS service operations: each is a function from a typed input shape to a typed output shape.
//!
//! One module per AWS service. Handlers see a [`Ctx`] with the authenticated principal and the store;
//! they never see HTTP or a wire encoding. Records in the store are this crate's own versioned JSON.

pub mod account;
pub mod actions;
pub mod authz;
pub mod cloudtrail;
mod error;
pub mod iam;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod s3;
pub mod signin;
pub mod sts;
pub mod xmldsig;

pub use error::ServiceError;

/// A service's own error for an input its model's constraints refuse, by the members that
/// failed, where it has one (the pipeline answers `ValidationException` otherwise).
pub fn validation_code(endpoint_prefix: &str, failed_members: &[String]) -> Option<&'static str> {
    match endpoint_prefix {
        "cloudtrail" => cloudtrail::validation_code(failed_members),
        _ => None,
    }
}

/// A request's parameters as the service's CloudTrail records name them (`host`: the request's
/// Host header); most services record them as the model names them.
pub fn audit_parameters(signing_name: &str, params: serde_json::Value, host: Option<&str>) -> serde_json::Value {
    match signing_name {
        "s3" => s3::audit_parameters(params, host),
        _ => params,
    }
}
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
}

/// What a handler knows about the request it serves.
pub struct Ctx<'a> {
    pub principal: &'a Principal,
    pub db: &'a Db,
    pub sealer: &'a Sealer,
    pub now: OffsetDateTime,
    pub request_id: &'a str,
    pub region: &'a str,
}
