//! Outbound web identity federation: an account's own OIDC issuer. Once enabled, its principals
//! get JWTs from STS `GetWebIdentityToken`, signed with the account's keys (RS256 and ES384),
//! which any outside service verifies through the issuer's discovery document and JWKS, served
//! unauthenticated at `ISSUER/.well-known/openid-configuration` and `ISSUER/.well-known/jwks.json`.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound.html>.
//!
//! The issuer is `ENDPOINT/_rampart/oidc/ID`: AWS's issuers are host names of its own
//! (`https://ID.tokens.sts.global.api.aws`); Rampart's must be a URL it answers, so the id is a
//! path under the URL it is reached at (`public_url`). The private keys are sealed with the
//! master key and never leave the store unsealed.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use data_encoding::BASE64URL_NOPAD;
use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, Sealer, Tx};
use serde::{Deserialize, Serialize};

/// An account's outbound federation, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboundFederation {
    pub enabled: bool,
    /// The issuer's id, the last segment of its URL; kept when the feature is disabled and
    /// enabled again, so verifiers that trust the issuer keep trusting it.
    pub id: String,
    pub issuer: String,
    pub keys: Vec<SigningKey>,
}

/// One signing key: its public half as a JWK, its private half sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKey {
    /// `RS256` or `ES384`.
    pub alg: String,
    /// The RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub jwk: serde_json::Value,
    /// Base64 of the PKCS#8 private key, sealed to the account and `kid`.
    pub sealed: String,
}

/// The algorithms GetWebIdentityToken signs with.
pub const ALGORITHMS: [&str; 2] = ["RS256", "ES384"];

fn seal_context(account: &str, kid: &str) -> Vec<u8> {
    format!("outbound-federation/{account}/{kid}").into_bytes()
}

fn feature_enabled() -> ServiceError {
    ServiceError::new(
        "FeatureEnabled",
        409,
        "Outbound identity federation is already enabled for this account. Use \
         GetOutboundWebIdentityFederationInfo to get its issuer.",
    )
}

fn feature_disabled() -> ServiceError {
    ServiceError::new("FeatureDisabled", 404, "Outbound identity federation is disabled for this account.")
}

/// Reads an account's outbound federation, enabled or not.
pub fn read_outbound_federation(db: &Db, account: &str) -> Result<Option<OutboundFederation>, ServiceError> {
    records::read(db, &keys::outbound_federation(account))
}

fn thumbprint(canonical: &serde_json::Value) -> String {
    // RFC 7638: the required members in lexicographic order, no white space (serde_json's map
    // keeps its keys sorted).
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
    BASE64URL_NOPAD.encode(digest.as_ref())
}

/// A new key for `alg`, its private half sealed for `account`.
fn generate(sealer: &Sealer, account: &str, alg: &str) -> Result<SigningKey, ServiceError> {
    let fail = |_| ServiceError::internal();
    let (canonical, pkcs8) = match alg {
        "RS256" => {
            let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(fail)?;
            let public = key.public_key();
            let canonical = serde_json::json!({
                "e": BASE64URL_NOPAD.encode(public.exponent().big_endian_without_leading_zero()),
                "kty": "RSA",
                "n": BASE64URL_NOPAD.encode(public.modulus().big_endian_without_leading_zero()),
            });
            (canonical, key.as_der().map_err(fail)?.as_ref().to_vec())
        }
        _ => {
            let alg_id = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg_id, &SystemRandom::new()).map_err(fail)?;
            let key = EcdsaKeyPair::from_pkcs8(alg_id, pkcs8.as_ref()).map_err(|_| ServiceError::internal())?;
            // An uncompressed point: 0x04, then x and y of 48 bytes each.
            let point = key.public_key().as_ref();
            let (x, y) = point.get(1..).filter(|c| c.len() == 96).ok_or_else(ServiceError::internal)?.split_at(48);
            let canonical = serde_json::json!({
                "crv": "P-384",
                "kty": "EC",
                "x": BASE64URL_NOPAD.encode(x),
                "y": BASE64URL_NOPAD.encode(y),
            });
            (canonical, pkcs8.as_ref().to_vec())
        }
    };
    let kid = thumbprint(&canonical);
    let mut jwk = canonical;
    if let Some(m) = jwk.as_object_mut() {
        m.insert("alg".into(), alg.into());
        m.insert("use".into(), "sig".into());
        m.insert("kid".into(), kid.clone().into());
    }
    let pkcs8 = zeroize::Zeroizing::new(pkcs8);
    let sealed = sealer.seal(&pkcs8, &seal_context(account, &kid)).map_err(|_| ServiceError::internal())?;
    Ok(SigningKey { alg: alg.to_owned(), kid, jwk, sealed: data_encoding::BASE64.encode(&sealed) })
}

/// Signs `claims` as a compact JWS with the account's key for `alg`.
pub fn sign_jwt(
    sealer: &Sealer,
    account: &str,
    federation: &OutboundFederation,
    alg: &str,
    claims: &serde_json::Value,
) -> Result<String, ServiceError> {
    let key = federation.keys.iter().find(|k| k.alg == alg).ok_or_else(ServiceError::internal)?;
    let sealed = data_encoding::BASE64.decode(key.sealed.as_bytes()).map_err(|_| ServiceError::internal())?;
    let pkcs8 = sealer.open(&sealed, &seal_context(account, &key.kid)).map_err(|_| ServiceError::internal())?;
    let header = serde_json::json!({ "alg": alg, "kid": key.kid, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(header.to_string().as_bytes()),
        BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let signature = match alg {
        "RS256" => {
            let k = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| ServiceError::internal())?;
            let mut sig = vec![0; k.public_modulus_len()];
            k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                .map_err(|_| ServiceError::internal())?;
            sig
        }
        _ => {
            let k = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &pkcs8)
                .map_err(|_| ServiceError::internal())?;
            k.sign(&rng, input.as_bytes()).map_err(|_| ServiceError::internal())?.as_ref().to_vec()
        }
    };
    Ok(format!("{input}.{}", BASE64URL_NOPAD.encode(&signature)))
}

/// The first, slow half of EnableOutboundWebIdentityFederation, off the store's writer: the
/// record to store, with new keys unless the account had them. Passed on as its JSON.
pub fn prepare_enable_outbound_web_identity_federation(ctx: &Ctx<'_>, _input: ()) -> Result<String, ServiceError> {
    let account = &ctx.principal.account_id;
    let record = match read_outbound_federation(ctx.db, account)? {
        Some(r) if r.enabled => return Err(feature_enabled()),
        Some(r) => r,
        None => {
            let keys = ALGORITHMS.iter().map(|alg| generate(ctx.sealer, account, alg)).collect::<Result<_, _>>()?;
            let id = uuid::Uuid::new_v4().to_string();
            OutboundFederation { enabled: false, issuer: String::new(), id, keys }
        }
    };
    let issuer = format!("{}/_rampart/oidc/{}", ctx.endpoint.url(), record.id);
    let record = OutboundFederation { enabled: true, issuer, ..record };
    serde_json::to_string(&record).map_err(|_| ServiceError::internal())
}

pub fn enable_outbound_web_identity_federation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    prepared: String,
) -> Result<shapes::EnableOutboundWebIdentityFederationResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let record: OutboundFederation = serde_json::from_str(&prepared).map_err(|_| ServiceError::internal())?;
    let key = keys::outbound_federation(account);
    // Another request may have enabled it since the record was prepared.
    match records::read_tx::<OutboundFederation>(tx, &key)? {
        Some(r) if r.enabled => return Err(feature_enabled()),
        Some(r) if r.id != record.id => return Err(ServiceError::internal()),
        _ => {}
    }
    records::write_tx(tx, &key, &record)?;
    tx.put(&keys::outbound_issuer(&record.id), account.as_bytes())?;
    Ok(shapes::EnableOutboundWebIdentityFederationResponse { issuer_identifier: Some(record.issuer) })
}

/// Stops GetWebIdentityToken for the account. The issuer and its keys stay, so tokens already
/// issued can still be verified until they expire, and enabling again keeps the issuer.
pub fn disable_outbound_web_identity_federation(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: (),
) -> Result<(), ServiceError> {
    let key = keys::outbound_federation(&ctx.principal.account_id);
    let mut record =
        records::read_tx::<OutboundFederation>(tx, &key)?.filter(|r| r.enabled).ok_or_else(feature_disabled)?;
    record.enabled = false;
    records::write_tx(tx, &key, &record)
}

pub fn get_outbound_web_identity_federation_info(
    ctx: &Ctx<'_>,
    _input: (),
) -> Result<shapes::GetOutboundWebIdentityFederationInfoResponse, ServiceError> {
    // Observed: a disabled feature answers FeatureDisabled here, as one never enabled does.
    let record = read_outbound_federation(ctx.db, &ctx.principal.account_id)?
        .filter(|r| r.enabled)
        .ok_or_else(feature_disabled)?;
    Ok(shapes::GetOutboundWebIdentityFederationInfoResponse {
        issuer_identifier: Some(record.issuer),
        jwt_vending_enabled: Some(record.enabled),
    })
}

/// An issuer's OIDC discovery documents, by issuer id: the configuration and the key set, as
/// JSON. `None` for an id no account has.
pub fn discovery_documents(db: &Db, id: &str) -> Result<Option<(String, String)>, ServiceError> {
    let Some(account) = db.get(&keys::outbound_issuer(id))? else { return Ok(None) };
    let account = String::from_utf8_lossy(&account);
    let Some(record) = read_outbound_federation(db, &account)?.filter(|r| r.id == id) else { return Ok(None) };
    let configuration = serde_json::json!({
        "issuer": record.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", record.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ALGORITHMS,
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "https://sts.amazonaws.com/"],
    });
    let jwks = serde_json::json!({ "keys": record.keys.iter().map(|k| &k.jwk).collect::<Vec<_>>() });
    Ok(Some((configuration.to_string(), jwks.to_string())))
}
