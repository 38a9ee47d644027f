//! The AWS IAM policy language, exact and fast: parsing and validation of every policy kind,
//! compiled matching, every condition operator, policy variables, and AWS's evaluation logic.
//!
//! Pure: no I/O, no async. The server, the IAM simulator and `rampart policy` all decide with
//! [`decide`], so they can never disagree.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>.

mod actions;
mod condition;
mod context;
mod diagnose;
mod document;
mod eval;
mod fnv;
mod lint;
mod pattern;
mod public;
mod service_prefixes;
mod variables;

pub use actions::{ActionCheck, allowed_actions, check_action, service_prefix};
pub use context::{Context, Principal, PrincipalType};
pub use diagnose::{Diagnostic, Severity, diagnose};
pub use document::{Effect, Policy, PolicyError, PolicyKind, Statement, Version};
pub use eval::{Decision, DecisionKind, Input, MatchedStatement, Named, decide, service_allowed};
pub use lint::{Finding, lint};
pub use pattern::wildcard_match;
