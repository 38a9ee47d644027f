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
