//! AssumeRoleWithSAML: a role session for the subject of a SAML 2.0 response that an IdP
//! registered in the account signed.
//!
//! The response's signature (on the assertion, the response or both) is checked against the
//! provider's metadata certificates only (`xmldsig`), and everything used afterwards is read from
//! the signed element. Then the issuer, the time window, the audience, the Role attribute's
//! (role, provider) pair and the session name, and finally the role's trust policy with the
//! provider as `Federated` principal and the `saml:*` condition keys.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html> and
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html>.

use rampart_policy::{Context, Policy, PolicyKind};
use rampart_shapes::generated::sts::{AssumeRoleWithSAMLRequest, AssumeRoleWithSAMLResponse, AssumedRoleUser};
use rampart_store::{Db, Sealer};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{check_session_request, credentials, packed_size, parse_role_arn, role_claims, trust_allows};
use crate::iam;
use crate::xmldsig::{self, DSIG, Element};
use rampart_core::ServiceError;

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ROLE_ATTR: &str = "https://aws.amazon.com/SAML/Attributes/Role";
const SESSION_NAME_ATTR: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
/// How far in the future a `NotBefore` may be (the IdP's clock may run ahead).
const SKEW: Duration = Duration::minutes(5);

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidIdentityToken", 400, message)
}

fn time_attr(el: &Element, name: &str) -> Result<Option<OffsetDateTime>, ServiceError> {
    el.attr(name)
        .map(|v| OffsetDateTime::parse(v, &Rfc3339).map_err(|_| invalid(format!("{name} is not a date"))))
        .transpose()
}

/// The values of an assertion attribute.
fn attribute_values(assertion: &Element, name: &str) -> Vec<String> {
    assertion
        .all(SAML, "AttributeStatement")
        .flat_map(|s| s.all(SAML, "Attribute"))
        .filter(|a| a.attr("Name") == Some(name))
        .flat_map(|a| a.all(SAML, "AttributeValue"))
        .map(|v| v.text().trim().to_owned())
        .collect()
}

/// Whether an audience is AWS's sign-in endpoint (global or regional) or its URN.
fn aws_audience(a: &str) -> bool {
    a == "urn:amazon:webservices"
        || a == "https://signin.aws.amazon.com/saml"
        || a.strip_prefix("https://").and_then(|r| r.strip_suffix(".signin.aws.amazon.com/saml")).is_some()
}

pub fn assume_role_with_saml(
    db: &Db,
    sealer: &Sealer,
    now: OffsetDateTime,
    input: AssumeRoleWithSAMLRequest,
) -> Result<AssumeRoleWithSAMLResponse, ServiceError> {
    let (role_account, role_name) = parse_role_arn(&input.role_arn)?;
    let provider = iam::read_saml_provider(db, &input.principal_arn)?
        .filter(|p| p.account_id == role_account)
        .ok_or_else(|| invalid("Specified provider doesn't exist"))?;
    let clean: String = input.saml_assertion.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = data_encoding::BASE64
        .decode(clean.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid("Invalid base64 SAMLResponse"))?;
    let doc = xmldsig::parse(&xml).map_err(|_| invalid("Invalid SAML response: the XML is malformed"))?;
    if !doc.is(SAMLP, "Response") {
        return Err(invalid("Invalid SAML response: the root is not a samlp:Response"));
    }
    let status = doc.one(SAMLP, "Status").and_then(|s| s.one(SAMLP, "StatusCode")).and_then(|c| c.attr("Value"));
    if status != Some(SUCCESS) {
        return Err(invalid("The SAML response's status is not Success"));
    }
    if doc.elements().any(|e| e.is(SAML, "EncryptedAssertion")) {
        return Err(invalid("Encrypted SAML assertions are not supported"));
    }
    let assertion =
        doc.one(SAML, "Assertion").ok_or_else(|| invalid("The SAML response must carry exactly one assertion"))?;

    // The signature: on the assertion, or on the response that contains it (or both).
    let signed_assertion = assertion.one(DSIG, "Signature").is_some();
    let signed_response = doc.one(DSIG, "Signature").is_some();
    if !signed_assertion && !signed_response {
        return Err(invalid("Response signature invalid"));
    }
    let bad_sig = |e: xmldsig::XmlError| {
        tracing::debug!(error = ?e, "a SAML signature does not verify");
        invalid("Response signature invalid")
    };
    if signed_response {
        xmldsig::verify_enveloped(&doc, &doc, &provider.certs).map_err(bad_sig)?;
    }
    if signed_assertion {
        xmldsig::verify_enveloped(&doc, assertion, &provider.certs).map_err(bad_sig)?;
    }

    // Everything below is read from the signed assertion.
    let issuer = assertion.one(SAML, "Issuer").map(|i| i.text().trim().to_owned()).unwrap_or_default();
    if issuer != provider.entity_id {
        return Err(invalid("Issuer of the SAML assertion does not match the provider's metadata"));
    }
    let conditions = assertion.one(SAML, "Conditions");
    let subject = assertion.one(SAML, "Subject").ok_or_else(|| invalid("The SAML assertion has no Subject"))?;
    let confirmation = subject
        .all(SAML, "SubjectConfirmation")
        .find(|c| c.attr("Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
        .and_then(|c| c.one(SAML, "SubjectConfirmationData"));
    let mut not_after: Vec<OffsetDateTime> = Vec::new();
    if let Some(c) = conditions {
        if time_attr(c, "NotBefore")?.is_some_and(|nb| now + SKEW < nb) {
            return Err(invalid("The SAML assertion is not yet valid"));
        }
        not_after.extend(time_attr(c, "NotOnOrAfter")?);
    }
    if let Some(d) = confirmation {
        not_after.extend(time_attr(d, "NotOnOrAfter")?);
    }
    if not_after.is_empty() {
        return Err(invalid("The SAML assertion has no NotOnOrAfter"));
    }
    if not_after.iter().any(|t| now >= *t) {
        return Err(ServiceError::new("ExpiredTokenException", 400, "Token is expired"));
    }
    let audiences: Vec<String> = conditions
        .into_iter()
        .flat_map(|c| c.all(SAML, "AudienceRestriction"))
        .flat_map(|r| r.all(SAML, "Audience"))
        .map(|a| a.text().trim().to_owned())
        .collect();
    if !audiences.iter().any(|a| aws_audience(a)) {
        return Err(invalid("The SAML assertion's audience is not AWS"));
    }
    let recipient = confirmation.and_then(|d| d.attr("Recipient")).unwrap_or("https://signin.aws.amazon.com/saml");

    // The Role attribute pairs a role with this provider (in either order).
    let pair_ok = attribute_values(assertion, ROLE_ATTR).iter().any(|v| {
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        matches!(parts.as_slice(), [a, b] if (*a == input.role_arn && *b == input.principal_arn)
            || (*b == input.role_arn && *a == input.principal_arn))
    });
    if !pair_ok {
        return Err(invalid("Supplied RoleArn and PrincipalArn are not a pair in the SAML assertion's Role attribute"));
    }
    let session_name = attribute_values(assertion, SESSION_NAME_ATTR)
        .into_iter()
        .next()
        .filter(|n| {
            (2..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        })
        .ok_or_else(|| invalid("The SAML assertion has no valid RoleSessionName attribute"))?;
    let name_id = subject.one(SAML, "NameID");
    let sub = name_id.map(|n| n.text().trim().to_owned()).unwrap_or_default();
    let sub_type = match name_id.and_then(|n| n.attr("Format")) {
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent") => "persistent".to_owned(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient") => "transient".to_owned(),
        Some(other) => other.to_owned(),
        None => "unspecified".to_owned(),
    };
    // NameQualifier: base64(SHA-1(issuer + account id + "/" + provider name)), as AWS computes it.
    let qualifier_input = format!("{}{}/{}", issuer, provider.account_id, provider.name);
    let name_qualifier = data_encoding::BASE64.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, qualifier_input.as_bytes()).as_ref(),
    );

    let denied = || {
        ServiceError::access_denied(format!(
            "Not authorized to perform sts:AssumeRoleWithSAML on resource: {}",
            input.role_arn
        ))
    };
    let role = iam::read_role(db, role_account, role_name)?.filter(|r| r.arn() == input.role_arn).ok_or_else(denied)?;
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied())?;
    let provider_arn = provider.arn();
    let mut context = Context::new();
    context
        .set("saml:aud", recipient.to_owned())
        .set("saml:iss", issuer.clone())
        .set("saml:sub", sub.clone())
        .set("saml:sub_type", sub_type.clone())
        .set("saml:namequalifier", name_qualifier.clone())
        .set("saml:doc", provider_arn.clone())
        .set("aws:FederatedProvider", provider_arn.clone())
        .set("sts:RoleSessionName", session_name.clone());
    let principal = rampart_policy::Principal::web_identity(&provider_arn);
    if !trust_allows(&trust, "sts:AssumeRoleWithSAML", &principal, &input.role_arn, role_account, &context) {
        return Err(denied());
    }

    let duration = input.duration_seconds.unwrap_or(3600);
    check_session_request(&role, duration, input.policy.as_ref())?;
    // The session ends with the IdP's SessionNotOnOrAfter when that comes first.
    let mut expires = now + Duration::seconds(i64::from(duration));
    for s in assertion.all(SAML, "AuthnStatement") {
        if let Some(limit) = time_attr(s, "SessionNotOnOrAfter")? {
            expires = expires.min(limit);
        }
    }
    let mut claims = role_claims(&role, session_name, input.policy.clone(), input.policy_arns.as_ref(), now, expires)?;
    claims.federated_provider = Some(provider_arn.clone());
    let principal = claims.principal();
    Ok(AssumeRoleWithSAMLResponse {
        credentials: Some(credentials(sealer, &claims)?),
        assumed_role_user: Some(AssumedRoleUser { assumed_role_id: principal.user_id, arn: principal.arn }),
        packed_policy_size: packed_size(input.policy.as_ref()),
        subject: Some(sub),
        subject_type: Some(sub_type),
        issuer: Some(issuer),
        audience: Some(recipient.to_owned()),
        name_qualifier: Some(name_qualifier),
        source_identity: None,
    })
}
