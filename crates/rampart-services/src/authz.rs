//! The authorization hook every operation passes before its handler.
//!
//! Today the root user is allowed and every other principal is denied (fail closed); the IAM
//! issue replaces the deny with the policy engine's decision.

use crate::{Principal, PrincipalKind, ServiceError};

/// Facts about the request that conditions can test (`aws:SourceIp`, `aws:CurrentTime`,
/// `aws:SecureTransport`, `aws:UserAgent`, `aws:RequestedRegion`).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source_ip: &'a str,
    pub time: time::OffsetDateTime,
    pub secure_transport: bool,
    pub user_agent: &'a str,
    pub region: &'a str,
}

/// What is being asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// The IAM action, e.g. `iam:CreateUser`.
    pub action: &'a str,
    /// The resource ARN, or `*`.
    pub resource: &'a str,
    pub context: Context<'a>,
}

/// Actions that need no permission. `sts:GetCallerIdentity` works even under an explicit deny:
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>.
const ALWAYS_ALLOWED: &[&str] = &["sts:GetCallerIdentity"];

/// Decides a request; a deny is an `AccessDenied` worded as AWS words it.
pub fn authorize(req: &Request<'_>) -> Result<(), ServiceError> {
    if ALWAYS_ALLOWED.iter().any(|a| a.eq_ignore_ascii_case(req.action)) {
        return Ok(());
    }
    match req.principal.kind {
        PrincipalKind::Root => Ok(()),
        PrincipalKind::IAMUser | PrincipalKind::AssumedRole => Err(ServiceError::access_denied(format!(
            "{} is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
            req.principal.described(),
            req.action,
            req.resource,
            req.action
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Principal {
        Principal {
            kind: PrincipalKind::IAMUser,
            account_id: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            user_id: "AIDAEXAMPLE".into(),
            user_name: Some("alice".into()),
            access_key_id: None,
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            source_ip: "127.0.0.1",
            time: time::OffsetDateTime::UNIX_EPOCH,
            secure_transport: false,
            user_agent: "test",
            region: "us-east-1",
        }
    }

    #[test]
    fn root_is_allowed_and_others_fail_closed() {
        let root = Principal::root("111122223333", None);
        let req = |principal, action, resource| Request { principal, action, resource, context: ctx() };
        assert!(authorize(&req(&root, "iam:CreateUser", "*")).is_ok());
        let u = user();
        let e = authorize(&req(&u, "iam:CreateUser", "arn:aws:iam::111122223333:user/bob")).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert_eq!(
            e.message,
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser on resource: \
             arn:aws:iam::111122223333:user/bob because no identity-based policy allows the iam:CreateUser action"
        );
        assert!(authorize(&req(&u, "sts:GetCallerIdentity", "*")).is_ok());
    }
}
