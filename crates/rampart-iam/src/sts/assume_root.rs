//! STS AssumeRoot: a short root session in a member account, for one privileged task, from the
//! organization's management account once centralized root access (`RootSessions`) is enabled.
//! The session is the member's root user bounded by the task's AWS managed policy, as a session
//! policy, and by the SCPs over the member.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html>.

use rampart_core::{Ctx, PrincipalKind, ServiceError, account, records};
use rampart_shapes::generated::sts::{AssumeRootRequest, AssumeRootResponse};
use time::Duration;

use super::{SessionClaims, credentials, own_session};
use crate::iam;

/// A root session lasts at most 15 minutes, the default too.
const MAX_SECONDS: i32 = 900;

fn denied(message: impl Into<String>) -> ServiceError {
    ServiceError::access_denied(message)
}

pub fn assume_root(ctx: &Ctx<'_>, input: AssumeRootRequest) -> Result<AssumeRootResponse, ServiceError> {
    let caller = ctx.principal;
    if caller.kind == PrincipalKind::Root {
        return Err(denied("AssumeRoot cannot be called with root user credentials."));
    }
    let get = |key: &[u8]| records::read_cached::<serde_json::Value>(ctx.db, key);
    let org = iam::organization_for_features(&caller.account_id, &get, false)?;
    if !iam::org_features(&get, &org)?.iter().any(|f| f == iam::ROOT_SESSIONS) {
        return Err(denied(
            "Centralized root access is not enabled for root sessions: call EnableOrganizationsRootSessions first.",
        ));
    }
    let target = &input.target_principal;
    let in_org = rampart_core::orgs::facts(target, &get)?.is_some_and(|f| f.id == org);
    if !in_org || *target == caller.account_id {
        return Err(denied(format!("{target} is not a member account of your organization.")));
    }
    let task = input.task_policy_arn.arn.unwrap_or_default();
    // The task policies are AWS managed policies under /root-task/.
    if !task.starts_with("arn:aws:iam::aws:policy/root-task/") || iam::aws_managed_document(&task).is_none() {
        return Err(ServiceError::new(
            "ValidationError",
            400,
            format!("{task} is not a root task policy (arn:aws:iam::aws:policy/root-task/…)."),
        ));
    }
    let seconds = input.duration_seconds.unwrap_or(MAX_SECONDS).min(MAX_SECONDS);
    let root = rampart_core::Principal::root(target, None);
    let mut claims: SessionClaims = own_session(&root, ctx.now, Some(seconds))?;
    claims.access_key_id = account::new_key_id("ASIA", target)?;
    claims.expires = ctx.now + Duration::seconds(i64::from(seconds));
    claims.session_policy_arns = vec![task];
    Ok(AssumeRootResponse { credentials: Some(credentials(ctx.sealer, &claims)?), source_identity: None })
}
