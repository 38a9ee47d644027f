//! SAML 2.0 identity providers: the IdP's metadata document (its entity id and signing
//! certificates), whose assertions AssumeRoleWithSAML accepts.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html>.

use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{merge_tags, tag_shapes};
use crate::xmldsig::{self, DSIG, Element};
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// A SAML provider, as stored: the metadata as given, and what was read from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlProviderRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub uuid: String,
    pub metadata: String,
    /// The IdP's `entityID`: assertions must be issued by it.
    pub entity_id: String,
    /// DER X.509 signing certificates.
    pub certs: Vec<Vec<u8>>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl SamlProviderRecord {
    pub fn arn(&self) -> String {
        saml_provider_arn(&self.account_id, &self.name)
    }
}

pub fn saml_provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:saml-provider/{name}")
}

fn key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/saml-provider/{name}").into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/saml-provider/").into_bytes()
}

/// Where the account's records of this kind live (for counting them).
pub(super) fn saml_prefix(account: &str) -> Vec<u8> {
    prefix(account)
}

fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, name) = rest.split_once(":saml-provider/")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() && !name.contains('/'))
        .then_some((account, name))
}

fn no_such_provider(arn: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("Manifest not found for arn {arn}"))
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

/// Reads a provider by ARN (STS reads the provider the request names).
pub fn read_saml_provider(db: &Db, arn: &str) -> Result<Option<SamlProviderRecord>, ServiceError> {
    let Some((account, name)) = parse_arn(arn) else { return Ok(None) };
    read_cached(db, &key(account, name))
}

fn read_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, arn: &str) -> Result<SamlProviderRecord, ServiceError> {
    let (account, name) = parse_arn(arn).ok_or_else(|| invalid(format!("ARN {arn} is not valid.")))?;
    if account != ctx.principal.account_id {
        return Err(no_such_provider(arn));
    }
    records::read_tx(tx, &key(account, name))?.ok_or_else(|| no_such_provider(arn))
}

fn write(tx: &mut Tx<'_>, p: &SamlProviderRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(&p.account_id, &p.name), p)
}

/// What IAM reads from a metadata document.
struct Metadata {
    entity_id: String,
    certs: Vec<Vec<u8>>,
    valid_until: Option<OffsetDateTime>,
}

fn certificates(el: &Element, out: &mut Vec<Vec<u8>>) {
    for c in el.elements() {
        if c.is(DSIG, "X509Certificate") {
            let text: String = c.text().chars().filter(|ch| !ch.is_whitespace()).collect();
            if let Ok(der) = data_encoding::BASE64.decode(text.as_bytes()) {
                out.push(der);
            }
        } else {
            certificates(c, out);
        }
    }
}

/// Reads the entity id, signing certificates and validity of an IdP's metadata.
fn read_metadata(doc: &str) -> Result<Metadata, ServiceError> {
    let bad = |why: &str| invalid(format!("Could not parse metadata: {why}"));
    let root = xmldsig::parse(doc).map_err(|e| bad(&format!("{e:?}")))?;
    if !root.is(MD, "EntityDescriptor") {
        return Err(bad("the document is not an md:EntityDescriptor"));
    }
    let entity_id = root.attr("entityID").filter(|e| !e.is_empty()).ok_or_else(|| bad("no entityID"))?.to_owned();
    let idp = root.one(MD, "IDPSSODescriptor").ok_or_else(|| bad("no single IDPSSODescriptor"))?;
    let mut certs = Vec::new();
    for kd in idp.all(MD, "KeyDescriptor").filter(|k| k.attr("use").is_none_or(|u| u == "signing")) {
        certificates(kd, &mut certs);
    }
    if certs.is_empty() {
        return Err(bad("no signing certificate"));
    }
    let valid_until = match root.attr("validUntil") {
        Some(v) => Some(
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| bad("validUntil is not a date"))?,
        ),
        None => None,
    };
    Ok(Metadata { entity_id, certs, valid_until })
}

/// Encrypted assertions need the provider's private keys; Rampart does not decrypt assertions.
fn refuse_encryption(mode: Option<&str>, key: Option<&str>) -> Result<(), ServiceError> {
    if mode == Some("Required") || key.is_some() {
        return Err(invalid("Rampart does not support encrypted SAML assertions (AssertionEncryptionMode Required)."));
    }
    Ok(())
}

pub fn create_saml_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateSAMLProviderRequest,
) -> Result<shapes::CreateSAMLProviderResponse, ServiceError> {
    refuse_encryption(input.assertion_encryption_mode.as_deref(), input.add_private_key.as_deref())?;
    let account = &ctx.principal.account_id;
    if tx.get(&key(account, &input.name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("SAMLProvider {} already exists.", input.name),
        ));
    }
    let m = read_metadata(&input.saml_metadata_document)?;
    let mut p = SamlProviderRecord {
        v: 1,
        account_id: account.clone(),
        name: input.name,
        uuid: uuid::Uuid::new_v4().to_string(),
        metadata: input.saml_metadata_document,
        entity_id: m.entity_id,
        certs: m.certs,
        valid_until: m.valid_until,
        created: ctx.now,
        tags: Vec::new(),
    };
    merge_tags(&mut p.tags, input.tags.unwrap_or_default())?;
    write(tx, &p)?;
    Ok(shapes::CreateSAMLProviderResponse {
        saml_provider_arn: Some(p.arn()),
        tags: (!p.tags.is_empty()).then(|| tag_shapes(&p.tags)),
    })
}

pub fn get_saml_provider(
    ctx: &Ctx<'_>,
    input: shapes::GetSAMLProviderRequest,
) -> Result<shapes::GetSAMLProviderResponse, ServiceError> {
    let arn = &input.saml_provider_arn;
    let p = read_saml_provider(ctx.db, arn)?
        .filter(|p| p.account_id == ctx.principal.account_id)
        .ok_or_else(|| no_such_provider(arn))?;
    Ok(shapes::GetSAMLProviderResponse {
        saml_provider_uuid: Some(p.uuid.clone()),
        saml_metadata_document: Some(p.metadata.clone()),
        create_date: Some(p.created),
        valid_until: p.valid_until,
        tags: Some(tag_shapes(&p.tags)),
        assertion_encryption_mode: Some("Allowed".to_owned()),
        private_key_list: None,
    })
}

pub fn list_saml_providers(
    ctx: &Ctx<'_>,
    _input: shapes::ListSAMLProvidersRequest,
) -> Result<shapes::ListSAMLProvidersResponse, ServiceError> {
    let all: Vec<SamlProviderRecord> = records::scan_records(ctx.db, &prefix(&ctx.principal.account_id))?;
    Ok(shapes::ListSAMLProvidersResponse {
        saml_provider_list: Some(
            all.iter()
                .map(|p| shapes::SAMLProviderListEntry {
                    arn: Some(p.arn()),
                    valid_until: p.valid_until,
                    create_date: Some(p.created),
                })
                .collect(),
        ),
    })
}

pub fn update_saml_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateSAMLProviderRequest,
) -> Result<shapes::UpdateSAMLProviderResponse, ServiceError> {
    refuse_encryption(input.assertion_encryption_mode.as_deref(), input.add_private_key.as_deref())?;
    let mut p = read_tx(tx, ctx, &input.saml_provider_arn)?;
    if let Some(doc) = input.saml_metadata_document {
        let m = read_metadata(&doc)?;
        p.metadata = doc;
        p.entity_id = m.entity_id;
        p.certs = m.certs;
        p.valid_until = m.valid_until;
    }
    write(tx, &p)?;
    Ok(shapes::UpdateSAMLProviderResponse { saml_provider_arn: Some(p.arn()) })
}

pub fn delete_saml_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteSAMLProviderRequest,
) -> Result<(), ServiceError> {
    let p = read_tx(tx, ctx, &input.saml_provider_arn)?;
    tx.delete(&key(&p.account_id, &p.name))?;
    Ok(())
}

pub fn tag_saml_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagSAMLProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.saml_provider_arn)?;
    merge_tags(&mut p.tags, input.tags)?;
    write(tx, &p)
}

pub fn untag_saml_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagSAMLProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.saml_provider_arn)?;
    super::remove_tags(&mut p.tags, &input.tag_keys);
    write(tx, &p)
}

pub fn list_saml_provider_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListSAMLProviderTagsRequest,
) -> Result<shapes::ListSAMLProviderTagsResponse, ServiceError> {
    let arn = &input.saml_provider_arn;
    let p = read_saml_provider(ctx.db, arn)?
        .filter(|p| p.account_id == ctx.principal.account_id)
        .ok_or_else(|| no_such_provider(arn))?;
    let (tags, truncated, marker) = super::page_items(tag_shapes(&p.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListSAMLProviderTagsResponse { tags, is_truncated: Some(truncated), marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_gives_the_entity_and_its_signing_certificates() {
        let m = read_metadata(include_str!("../../../../testdata/saml/metadata.xml")).unwrap();
        assert_eq!(m.entity_id, "https://idp.coffee.example/saml");
        assert_eq!(m.certs.len(), 1);
        for bad in ["", "<x/>", "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>"] {
            assert_eq!(read_metadata(bad).err().map(|e| e.code), Some("InvalidInput".into()), "{bad}");
        }
        assert_eq!(parse_arn("arn:aws:iam::123456789012:saml-provider/Okta"), Some(("123456789012", "Okta")));
        assert_eq!(parse_arn("arn:aws:iam::123456789012:saml-provider/a/b"), None);
    }
}
