//! AssumeRoleWithWebIdentity: a role session for the holder of an OIDC provider's ID token.
//!
//! The request is unsigned; the token authenticates it. Two steps, so the server can fetch the
//! provider's keys (network I/O) between them: [`plan_web_identity`] parses the token and finds
//! the provider registered in the role's account; [`assume_role_with_web_identity`] verifies the
//! signature against the fetched keys, checks `iss`, `aud`, `exp` and `nbf`, then asks the role's
//! trust policy with the provider as principal and the token's claims as condition keys.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>.

use rampart_policy::{Context, Policy, PolicyKind};
use rampart_shapes::generated::sts::{
    AssumeRoleWithWebIdentityRequest, AssumeRoleWithWebIdentityResponse, AssumedRoleUser,
};
use rampart_store::{Db, Sealer};
use time::{Duration, OffsetDateTime};

use super::{check_session_request, credentials, packed_size, parse_role_arn, role_claims, trust_allows};
use crate::iam;
use crate::jwt::{JwkSet, Token, TokenError};
use rampart_core::ServiceError;

/// What the second step needs: the registered provider and the parsed, unverified token.
#[derive(Debug, Clone)]
pub struct WebIdentityPlan {
    pub provider: iam::OidcProviderRecord,
    pub token: Token,
}

impl WebIdentityPlan {
    /// The key id the token names, if any: the server refreshes its cached key set when the
    /// cached one lacks it (the provider rotated its keys).
    pub fn kid(&self) -> Option<&str> {
        self.token.kid.as_deref()
    }
}

fn invalid_token(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidIdentityToken", 400, message)
}

/// The error a provider whose keys cannot be fetched gets.
pub fn idp_unreachable() -> ServiceError {
    ServiceError::new(
        "IDPCommunicationError",
        400,
        "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity \
         documentation for requirements",
    )
}

/// Step one: the token parses, names an issuer, and that issuer is a provider registered in the
/// role's account.
pub fn plan_web_identity(db: &Db, input: &AssumeRoleWithWebIdentityRequest) -> Result<WebIdentityPlan, ServiceError> {
    let (role_account, _) = parse_role_arn(&input.role_arn)?;
    let token = Token::parse(&input.web_identity_token).map_err(|e| match e {
        TokenError::Malformed(why) => invalid_token(format!("The web identity token is malformed: {why}.")),
        TokenError::UnknownKey | TokenError::BadSignature => invalid_token("The web identity token is malformed."),
    })?;
    let iss = token.str_claim("iss").ok_or_else(|| invalid_token("The web identity token has no iss claim."))?;
    let url = iss.strip_prefix("https://").unwrap_or(iss);
    let url = url.strip_suffix('/').unwrap_or(url);
    let provider = iam::read_oidc_provider(db, &iam::provider_arn(role_account, url))?
        .ok_or_else(|| invalid_token(format!("No OpenIDConnect provider found in your account for {iss}")))?;
    Ok(WebIdentityPlan { provider, token })
}

/// Step two: verify the token with the provider's keys and issue the role session.
pub fn assume_role_with_web_identity(
    db: &Db,
    sealer: &Sealer,
    now: OffsetDateTime,
    input: AssumeRoleWithWebIdentityRequest,
    plan: &WebIdentityPlan,
    keys: &JwkSet,
) -> Result<AssumeRoleWithWebIdentityResponse, ServiceError> {
    let (token, provider) = (&plan.token, &plan.provider);
    token.verify(keys).map_err(|_| invalid_token("Couldn't verify the signature of the web identity token."))?;
    if token.str_claim("iss").map(|i| i.trim_end_matches('/')) != Some(provider.issuer().as_str()) {
        return Err(invalid_token("The web identity token's issuer does not match the provider."));
    }
    let exp = token.time_claim("exp").ok_or_else(|| invalid_token("The web identity token has no exp claim."))?;
    let at = now.unix_timestamp();
    if at >= exp {
        return Err(ServiceError::new(
            "ExpiredTokenException",
            400,
            format!("Token expired: current date/time {at} must be before the expiration date/time {exp}"),
        ));
    }
    if token.time_claim("nbf").is_some_and(|nbf| at < nbf) {
        return Err(invalid_token("The web identity token is not valid yet (nbf)."));
    }
    let audiences = token.list_claim("aud");
    let audience = audiences
        .iter()
        .find(|a| provider.client_ids.contains(a))
        .cloned()
        .ok_or_else(|| invalid_token("Incorrect token audience"))?;
    let sub = token
        .str_claim("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_token("The web identity token has no sub claim."))?
        .to_owned();

    // The trust policy names the provider as a federated principal; the token's claims are its
    // condition keys, prefixed with the provider's URL.
    // See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>.
    let (role_account, role_name) = parse_role_arn(&input.role_arn)?;
    let provider_arn = provider.arn();
    let denied = || {
        ServiceError::access_denied(format!(
            "Not authorized to perform sts:AssumeRoleWithWebIdentity on resource: {}",
            input.role_arn
        ))
    };
    let role = iam::read_role(db, role_account, role_name)?.filter(|r| r.arn() == input.role_arn).ok_or_else(denied)?;
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied())?;
    let mut context = Context::new();
    let url = &provider.url;
    context.set(&format!("{url}:sub"), sub.clone()).set(&format!("{url}:aud"), audience.clone());
    let amr = token.list_claim("amr");
    if !amr.is_empty() {
        context.set_many(&format!("{url}:amr"), amr);
    }
    if let Some(azp) = token.str_claim("azp") {
        context.set(&format!("{url}:oaud"), azp.to_owned());
    }
    context.set("aws:FederatedProvider", provider_arn.clone());
    context.set("sts:RoleSessionName", input.role_session_name.clone());
    let principal = rampart_policy::Principal::web_identity(&provider_arn);
    if !trust_allows(&trust, "sts:AssumeRoleWithWebIdentity", &principal, &input.role_arn, role_account, &context) {
        return Err(denied());
    }

    let duration = input.duration_seconds.unwrap_or(3600);
    check_session_request(&role, duration, input.policy.as_ref())?;
    let expires = now + Duration::seconds(i64::from(duration));
    let mut claims = role_claims(
        &role,
        input.role_session_name.clone(),
        input.policy.clone(),
        input.policy_arns.as_ref(),
        now,
        expires,
    )?;
    claims.federated_provider = Some(provider_arn.clone());
    let principal = claims.principal();
    Ok(AssumeRoleWithWebIdentityResponse {
        credentials: Some(credentials(sealer, &claims)?),
        subject_from_web_identity_token: Some(sub),
        assumed_role_user: Some(AssumedRoleUser { assumed_role_id: principal.user_id, arn: principal.arn }),
        packed_policy_size: packed_size(input.policy.as_ref()),
        provider: token.str_claim("iss").map(str::to_owned),
        audience: Some(audience),
        source_identity: None,
    })
}
