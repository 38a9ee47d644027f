//! IAM, STS and console sign-in: the identities, their policies and credentials, and the
//! authorizer that decides every request by them.
//!
//! `actions` holds IAM's and STS's action tables and resolves any service's row against a
//! request; `authz` decides it. Other service crates never depend on this one: the server wires
//! them together.

pub mod actions;
pub mod authz;
pub mod iam;
pub mod jwt;
pub mod signin;
pub mod sts;
pub mod xmldsig;
