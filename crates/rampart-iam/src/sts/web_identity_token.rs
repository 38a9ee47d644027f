//! STS GetWebIdentityToken: a JWT that says who the caller is, signed with the account's
//! outbound federation keys, for outside services that trust the account's issuer.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html> and
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_token_claims.html>.

use rampart_core::{Ctx, PrincipalKind, ServiceError};
use rampart_shapes::generated::sts::{GetWebIdentityTokenRequest, GetWebIdentityTokenResponse};
use time::Duration;

use crate::iam;

/// The lifetime of a token when the request gives none.
const DEFAULT_DURATION: i32 = 300;

/// The namespace AWS nests its own claims under.
const NAMESPACE: &str = "https://sts.amazonaws.com/";

pub fn get_web_identity_token(
    ctx: &Ctx<'_>,
    input: GetWebIdentityTokenRequest,
) -> Result<GetWebIdentityTokenResponse, ServiceError> {
    let p = ctx.principal;
    let account = &p.account_id;
    if !iam::ALGORITHMS.contains(&input.signing_algorithm.as_str()) {
        return Err(ServiceError::new(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{}' at 'signingAlgorithm' failed to satisfy constraint: Member \
                 must satisfy enum value set: [RS256, ES384]",
                input.signing_algorithm
            ),
        ));
    }
    let federation = iam::read_outbound_federation(ctx.db, account)?.filter(|f| f.enabled).ok_or_else(|| {
        ServiceError::new(
            "OutboundWebIdentityFederationDisabledException",
            403,
            "Outbound web identity federation is disabled for this account. Enable it with \
             EnableOutboundWebIdentityFederation.",
        )
    })?;
    let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION);
    let expires = ctx.now + Duration::seconds(i64::from(duration));
    // A token never outlives the credentials that asked for it.
    if p.expires.is_some_and(|session_end| expires > session_end) {
        return Err(ServiceError::new(
            "SessionDurationEscalationException",
            403,
            "The requested token duration would extend the session beyond its original expiration time.",
        ));
    }

    // The subject is the identity, not the session: a role's sessions all have the role's ARN.
    let (subject, mut principal_tags) = match (&p.kind, &p.session, &p.user_name) {
        (PrincipalKind::AssumedRole, Some(s), _) => {
            let tags = iam::read_role(ctx.db, account, &s.role_name)?.map(|r| r.tags).unwrap_or_default();
            (format!("arn:aws:iam::{account}:role{}{}", s.role_path, s.role_name), tags)
        }
        (PrincipalKind::IAMUser, _, Some(name)) => {
            (p.arn.clone(), iam::read_user(ctx.db, account, name)?.map(|u| u.tags.clone()).unwrap_or_default())
        }
        _ => (p.arn.clone(), Vec::new()),
    };
    // Session tags win over the role's own of the same key.
    if let Some(s) = &p.session {
        for (k, v) in &s.tags {
            principal_tags.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
            principal_tags.push((k.clone(), v.clone()));
        }
    }

    let mut aws = serde_json::Map::new();
    aws.insert("aws_account".into(), account.clone().into());
    aws.insert("source_region".into(), ctx.region.into());
    let object = |tags: &[(String, String)]| {
        serde_json::Value::Object(tags.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect())
    };
    if !principal_tags.is_empty() {
        aws.insert("principal_tags".into(), object(&principal_tags));
    }
    let request_tags: Vec<(String, String)> =
        input.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect();
    if !request_tags.is_empty() {
        aws.insert("request_tags".into(), object(&request_tags));
    }
    // One audience is a string, several an array (RFC 7519 section 4.1.3).
    let audience = match input.audience.as_slice() {
        [one] => serde_json::Value::from(one.clone()),
        many => serde_json::Value::from(many.to_vec()),
    };
    let claims = serde_json::json!({
        "iss": federation.issuer,
        "aud": audience,
        "sub": subject,
        "iat": ctx.now.unix_timestamp(),
        "exp": expires.unix_timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
        NAMESPACE: aws,
    });
    let token = iam::sign_jwt(ctx.sealer, account, &federation, &input.signing_algorithm, &claims)?;
    Ok(GetWebIdentityTokenResponse { web_identity_token: Some(token), expiration: Some(expires) })
}
