//! Grants: delegated permissions on one key, for a grantee principal, limited to some operations
//! and optionally to encryption contexts. A key's grants are weighed with its key policy, as
//! statements of their own (see [`effective_policy`]).
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/grants.html>.

use std::collections::BTreeMap;

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::kms as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys_api::{page, write_key};
use super::{KeyRecord, find, invalid_state, validation};

/// A grant, as stored in its key's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub grantee: String,
    #[serde(default)]
    pub retiring: Option<String>,
    pub operations: Vec<String>,
    #[serde(default)]
    pub subset: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub equals: Option<BTreeMap<String, String>>,
    pub issuing_account: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// The operations a grant may allow on a key of each usage (and spec).
/// See <https://docs.aws.amazon.com/kms/latest/developerguide/grants.html#terms-grant-operations>.
fn operations_for(key: &KeyRecord) -> &'static [&'static str] {
    match (key.usage.as_str(), key.spec.as_str()) {
        ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT") => &[
            "CreateGrant",
            "Decrypt",
            "DescribeKey",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "RetireGrant",
        ],
        ("ENCRYPT_DECRYPT", _) => &[
            "CreateGrant",
            "Decrypt",
            "DescribeKey",
            "Encrypt",
            "GetPublicKey",
            "ReEncryptFrom",
            "ReEncryptTo",
            "RetireGrant",
        ],
        ("SIGN_VERIFY", _) => &["CreateGrant", "DescribeKey", "GetPublicKey", "RetireGrant", "Sign", "Verify"],
        ("GENERATE_VERIFY_MAC", _) => &["CreateGrant", "DescribeKey", "GenerateMac", "RetireGrant", "VerifyMac"],
        ("KEY_AGREEMENT", _) => &["CreateGrant", "DeriveSharedSecret", "DescribeKey", "GetPublicKey", "RetireGrant"],
        _ => &["CreateGrant", "DescribeKey", "RetireGrant"],
    }
}

/// The operations that take an encryption context, the only ones a constrained grant may allow.
const WITH_CONTEXT: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "RetireGrant",
];

/// A policy `Principal` for a grantee: a service by its name, an IAM principal by its ARN, an
/// account by its id.
fn principal_json(who: &str) -> serde_json::Value {
    if who.ends_with(".amazonaws.com") {
        serde_json::json!({ "Service": who })
    } else {
        serde_json::json!({ "AWS": who })
    }
}

fn valid_principal(who: &str) -> bool {
    let service = who.ends_with(".amazonaws.com") && !who.contains(':');
    let account = who.len() == 12 && who.bytes().all(|b| b.is_ascii_digit());
    let arn = who.starts_with("arn:aws:iam::") || who.starts_with("arn:aws:sts::");
    service || account || arn
}

/// The statement a grant adds to its key's policy: the grantee may do its operations, within its
/// constraints.
fn statement(g: &Grant) -> serde_json::Value {
    let mut condition = serde_json::Map::new();
    let mut equals = serde_json::Map::new();
    for (k, v) in g.subset.iter().chain(g.equals.iter()).flatten() {
        equals.insert(format!("kms:EncryptionContext:{k}"), serde_json::Value::String(v.clone()));
    }
    if !equals.is_empty() {
        condition.insert("StringEquals".into(), serde_json::Value::Object(equals));
    }
    if let Some(exact) = &g.equals {
        condition.insert(
            "ForAllValues:StringEquals".into(),
            serde_json::json!({ "kms:EncryptionContextKeys": exact.keys().collect::<Vec<_>>() }),
        );
    }
    let mut s = serde_json::json!({
        "Sid": format!("Grant{}", g.id),
        "Effect": "Allow",
        "Principal": principal_json(&g.grantee),
        "Action": g.operations.iter().map(|o| format!("kms:{o}")).collect::<Vec<_>>(),
        "Resource": "*",
    });
    if !condition.is_empty()
        && let Some(obj) = s.as_object_mut()
    {
        obj.insert("Condition".into(), serde_json::Value::Object(condition));
    }
    s
}

/// The statements letting a grant's retiring principal (and its grantee, when the grant allows
/// RetireGrant) retire it.
pub(crate) fn retire_statements(g: &Grant) -> Vec<serde_json::Value> {
    let mut who: Vec<&str> = g.retiring.iter().map(String::as_str).collect();
    if g.operations.iter().any(|o| o == "RetireGrant") {
        who.push(&g.grantee);
    }
    who.into_iter()
        .map(|p| serde_json::json!({"Effect": "Allow", "Principal": principal_json(p), "Action": "kms:RetireGrant", "Resource": "*"}))
        .collect()
}

/// A key policy with more statements appended; the policy as it is when it does not parse (it
/// was checked when written, so it does).
pub(crate) fn with_statements(policy: &str, more: Vec<serde_json::Value>) -> String {
    if more.is_empty() {
        return policy.to_owned();
    }
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(policy) else { return policy.to_owned() };
    let Some(obj) = doc.as_object_mut() else { return policy.to_owned() };
    let mut statements = match obj.remove("Statement") {
        Some(serde_json::Value::Array(a)) => a,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements.extend(more);
    obj.insert("Statement".into(), serde_json::Value::Array(statements));
    doc.to_string()
}

/// The key policy with the key's grants as statements: what requests on the key are decided by.
pub(crate) fn effective_policy(key: &KeyRecord) -> String {
    with_statements(&key.policy, key.grants.iter().map(statement).collect())
}

/// An opaque grant token: the key's ARN and the grant's id.
fn token(key: &KeyRecord, g: &Grant) -> String {
    format!("rkms1{}", data_encoding::BASE64URL_NOPAD.encode(format!("{}\n{}", key.arn(), g.id).as_bytes()))
}

/// The key ARN and grant id a token names.
pub(crate) fn parse_token(token: &str) -> Result<(String, String), ServiceError> {
    let bad = || ServiceError::new("InvalidGrantTokenException", 400, "The provided grant token is not valid.");
    let body = token.strip_prefix("rkms1").ok_or_else(bad)?;
    let raw = data_encoding::BASE64URL_NOPAD.decode(body.as_bytes()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (arn, id) = text.split_once('\n').ok_or_else(bad)?;
    Ok((arn.to_owned(), id.to_owned()))
}

fn grant_not_found() -> ServiceError {
    ServiceError::new("NotFoundException", 400, "Grant ID not found")
}

fn check_grant_id(id: &str) -> Result<(), ServiceError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServiceError::new("InvalidGrantIdException", 400, format!("Invalid grant ID {id}")));
    }
    Ok(())
}

/// Creates a grant on a key (any account's, by ARN, as its key policy allows). A grant with the
/// same name and the same terms is the same grant, as in AWS.
/// See <https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html>.
pub fn create_grant(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateGrantRequest,
) -> Result<shapes::CreateGrantResponse, ServiceError> {
    let mut key = find(&records::tx_reader(tx), ctx.principal, ctx.region, &input.key_id, true, ctx.now)
        .map(std::sync::Arc::unwrap_or_clone)?;
    match key.state.as_str() {
        "Disabled" => return Err(ServiceError::new("DisabledException", 400, format!("{} is disabled.", key.arn()))),
        "PendingDeletion" => return Err(invalid_state(format!("{} is pending deletion.", key.arn()))),
        _ => {}
    }
    for who in std::iter::once(&input.grantee_principal).chain(input.retiring_principal.iter()) {
        if !valid_principal(who) {
            return Err(validation(format!("{who} is not a valid principal: give an ARN or a service principal.")));
        }
    }
    let allowed = operations_for(&key);
    if input.operations.is_empty() {
        return Err(validation("A grant must allow at least one operation."));
    }
    if let Some(op) = input.operations.iter().find(|o| !allowed.contains(&o.as_str())) {
        return Err(validation(format!("Grant operation {op} is not valid for {}.", key.arn())));
    }
    let (subset, equals) = match &input.constraints {
        Some(c) => (c.encryption_context_subset.clone(), c.encryption_context_equals.clone()),
        None => (None, None),
    };
    if (subset.is_some() || equals.is_some()) && input.operations.iter().any(|o| !WITH_CONTEXT.contains(&o.as_str())) {
        return Err(validation("Grant constraints apply only to operations that take an encryption context."));
    }
    let mut grant = Grant {
        id: String::new(),
        name: input.name.clone(),
        grantee: input.grantee_principal,
        retiring: input.retiring_principal,
        operations: input.operations,
        subset,
        equals,
        issuing_account: format!("arn:aws:iam::{}:root", ctx.principal.account_id),
        created: ctx.now,
    };
    super::use_api::dry_run(input.dry_run)?;
    let same = |g: &Grant| {
        g.name.is_some()
            && g.name == grant.name
            && g.grantee == grant.grantee
            && g.retiring == grant.retiring
            && g.operations == grant.operations
            && g.subset == grant.subset
            && g.equals == grant.equals
    };
    if let Some(existing) = key.grants.iter().find(|g| same(g)) {
        return Ok(shapes::CreateGrantResponse {
            grant_token: Some(token(&key, existing)),
            grant_id: Some(existing.id.clone()),
        });
    }
    grant.id = data_encoding::HEXLOWER.encode(&super::crypto::random_bytes(32).map_err(super::crypto_error)?);
    let answer =
        shapes::CreateGrantResponse { grant_token: Some(token(&key, &grant)), grant_id: Some(grant.id.clone()) };
    key.grants.push(grant);
    write_key(tx, &key)?;
    Ok(answer)
}

fn entry(key: &KeyRecord, g: &Grant) -> shapes::GrantListEntry {
    shapes::GrantListEntry {
        key_id: Some(key.arn()),
        grant_id: Some(g.id.clone()),
        name: g.name.clone(),
        creation_date: Some(g.created),
        grantee_principal: Some(g.grantee.clone()),
        retiring_principal: g.retiring.clone(),
        issuing_account: Some(g.issuing_account.clone()),
        operations: Some(g.operations.clone()),
        constraints: (g.subset.is_some() || g.equals.is_some()).then(|| shapes::GrantConstraints {
            encryption_context_subset: g.subset.clone(),
            encryption_context_equals: g.equals.clone(),
        }),
    }
}

pub fn list_grants(
    ctx: &Ctx<'_>,
    input: shapes::ListGrantsRequest,
) -> Result<shapes::ListGrantsResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let key = find(&get, ctx.principal, ctx.region, &input.key_id, true, ctx.now)?;
    if let Some(id) = &input.grant_id {
        check_grant_id(id)?;
    }
    let grants = key
        .grants
        .iter()
        .filter(|g| input.grant_id.as_ref().is_none_or(|id| *id == g.id))
        .filter(|g| input.grantee_principal.as_ref().is_none_or(|p| *p == g.grantee))
        .map(|g| entry(&key, g))
        .collect();
    let (grants, next_marker, truncated) = page(grants, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListGrantsResponse { grants: Some(grants), next_marker, truncated: Some(truncated) })
}

/// The grants of the caller's account (in the region) that a principal may retire.
pub fn list_retirable_grants(
    ctx: &Ctx<'_>,
    input: shapes::ListRetirableGrantsRequest,
) -> Result<shapes::ListGrantsResponse, ServiceError> {
    let all: Vec<KeyRecord> = records::scan_records(ctx.db, &keys::kms_keys(&ctx.principal.account_id, ctx.region))?;
    let grants = all
        .iter()
        .flat_map(|k| {
            k.grants
                .iter()
                .filter(|g| g.retiring.as_deref() == Some(input.retiring_principal.as_str()))
                .map(move |g| entry(k, g))
        })
        .collect();
    let (grants, next_marker, truncated) = page(grants, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListGrantsResponse { grants: Some(grants), next_marker, truncated: Some(truncated) })
}

/// The key and grant id a RetireGrant names: by its token, or by key and grant id.
pub(crate) fn retiring(
    token_in: Option<&str>,
    key_id: Option<&str>,
    grant_id: Option<&str>,
) -> Result<(String, String), ServiceError> {
    match (token_in, key_id, grant_id) {
        (Some(t), _, _) => parse_token(t),
        (None, Some(k), Some(g)) => Ok((k.to_owned(), g.to_owned())),
        _ => Err(validation("Specify either a grant token, or a key ID and a grant ID.")),
    }
}

fn remove(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, key_id: &str, grant_id: &str, across: bool) -> Result<(), ServiceError> {
    check_grant_id(grant_id)?;
    let mut key = find(&records::tx_reader(tx), ctx.principal, ctx.region, key_id, across, ctx.now)
        .map(std::sync::Arc::unwrap_or_clone)?;
    let before = key.grants.len();
    key.grants.retain(|g| g.id != grant_id);
    if key.grants.len() == before {
        return Err(grant_not_found());
    }
    write_key(tx, &key)
}

/// Retires a grant: by its retiring principal, its grantee (when it allows RetireGrant), or
/// whoever the key policy lets (decided before this runs).
pub fn retire_grant(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::RetireGrantRequest) -> Result<(), ServiceError> {
    let (key, grant) = retiring(input.grant_token.as_deref(), input.key_id.as_deref(), input.grant_id.as_deref())?;
    super::use_api::dry_run(input.dry_run)?;
    remove(tx, ctx, &key, &grant, true)
}

/// Revokes a grant (a key administrator's act, as the key policy allows).
pub fn revoke_grant(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::RevokeGrantRequest) -> Result<(), ServiceError> {
    super::use_api::dry_run(input.dry_run)?;
    remove(tx, ctx, &input.key_id, &input.grant_id, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_grants_become_statements() {
        let g = Grant {
            id: "a".repeat(64),
            name: None,
            grantee: "arn:aws:iam::111122223333:role/app".into(),
            retiring: Some("arn:aws:iam::111122223333:role/ops".into()),
            operations: vec!["Decrypt".into()],
            subset: Some(BTreeMap::from([("team".to_owned(), "blue".to_owned())])),
            equals: None,
            issuing_account: "arn:aws:iam::111122223333:root".into(),
            created: OffsetDateTime::UNIX_EPOCH,
        };
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#;
        let merged = with_statements(policy, vec![statement(&g)]);
        let doc: serde_json::Value = serde_json::from_str(&merged).unwrap_or_default();
        assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["Statement"][1]["Condition"]["StringEquals"]["kms:EncryptionContext:team"], "blue");
        assert!(rampart_policy::Policy::parse(&merged, rampart_policy::PolicyKind::Resource).is_ok());
        assert_eq!(retire_statements(&g).len(), 1);
        assert_eq!(parse_token("rkms1@@").map_err(|e| e.code), Err("InvalidGrantTokenException".into()));
        assert!(valid_principal("dynamodb.amazonaws.com") && valid_principal("111122223333"));
        assert!(!valid_principal("bob") && !valid_principal("arn:aws:s3:::bucket"));
    }
}
