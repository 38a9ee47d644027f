//! OpenID Connect identity providers: the issuers whose tokens AssumeRoleWithWebIdentity accepts,
//! the audiences (client ids) they may be issued for, and the certificate thumbprints that pin
//! the provider's TLS endpoint when no trusted CA vouches for it.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html>.

use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{merge_tags, tag_shapes};
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx};

/// Most client ids and thumbprints one provider may have.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const CLIENT_IDS_PER_PROVIDER: usize = 100;
pub const THUMBPRINTS_PER_PROVIDER: usize = 5;

/// An OIDC provider, as stored. `url` is the issuer without its `https://` scheme, as IAM
/// returns it and as it appears in the provider's ARN and condition keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProviderRecord {
    pub v: u32,
    pub account_id: String,
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl OidcProviderRecord {
    pub fn arn(&self) -> String {
        provider_arn(&self.account_id, &self.url)
    }

    /// The issuer URL (`iss`) its tokens carry.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.url)
    }
}

pub fn provider_arn(account: &str, url: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{url}")
}

fn key(account: &str, url: &str) -> Vec<u8> {
    format!("iam/{account}/oidc-provider/{url}").into_bytes()
}

fn prefix(account: &str) -> Vec<u8> {
    format!("iam/{account}/oidc-provider/").into_bytes()
}

/// Where the account's records of this kind live (for counting them).
pub(super) fn oidc_prefix(account: &str) -> Vec<u8> {
    prefix(account)
}

/// The account and URL an OIDC provider ARN names.
fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, url) = rest.split_once(":oidc-provider/")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !url.is_empty()).then_some((account, url))
}

fn no_such_provider(arn: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("OpenIDConnect Provider not found for arn {arn}"))
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

/// Reads a provider by ARN (any account: STS reads the role's account's provider).
pub fn read_oidc_provider(db: &Db, arn: &str) -> Result<Option<OidcProviderRecord>, ServiceError> {
    let Some((account, url)) = parse_arn(arn) else { return Ok(None) };
    read_cached(db, &key(account, url))
}

/// Reads a provider of the caller's account named by an input ARN.
fn read_tx(tx: &Tx<'_>, ctx: &TxCtx<'_>, arn: &str) -> Result<OidcProviderRecord, ServiceError> {
    let (account, url) = parse_arn(arn).ok_or_else(|| invalid(format!("ARN {arn} is not valid.")))?;
    if account != ctx.principal.account_id {
        return Err(no_such_provider(arn));
    }
    records::read_tx(tx, &key(account, url))?.ok_or_else(|| no_such_provider(arn))
}

fn write(tx: &mut Tx<'_>, p: &OidcProviderRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(&p.account_id, &p.url), p)
}

/// The provider URL without its scheme, checked as IAM checks it: `https://`, a host, an
/// optional path, no query or fragment. A port is accepted (loopback test issuers need one).
pub fn provider_url(url: &str) -> Result<String, ServiceError> {
    let bad = || invalid(format!("Invalid OpenID Connect Provider URL: {url}"));
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let host = rest.split('/').next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        && !host.starts_with(['.', '-', ':']);
    if !host_ok || rest.contains(['?', '#', ' ']) || rest.contains("//") {
        return Err(bad());
    }
    Ok(rest.to_owned())
}

fn check_thumbprints(list: &[String]) -> Result<Vec<String>, ServiceError> {
    if list.len() > THUMBPRINTS_PER_PROVIDER {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Thumbprint list must contain at most {THUMBPRINTS_PER_PROVIDER} thumbprints."),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in list {
        if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!("Thumbprint {t} is not a 40-character hex SHA-1 fingerprint.")));
        }
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn add_client_id(ids: &mut Vec<String>, id: String) -> Result<(), ServiceError> {
    if ids.contains(&id) {
        return Ok(());
    }
    if ids.len() >= CLIENT_IDS_PER_PROVIDER {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"),
        ));
    }
    ids.push(id);
    Ok(())
}

/// Registers an issuer. Without thumbprints, the provider's endpoint must present a certificate
/// a trusted CA issued; with them, a chain whose top certificate has one of these SHA-1
/// fingerprints is trusted too.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html>.
pub fn create_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateOpenIDConnectProviderRequest,
) -> Result<shapes::CreateOpenIDConnectProviderResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let url = provider_url(&input.url)?;
    if tx.get(&key(account, &url))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("Provider with url https://{url} already exists."),
        ));
    }
    let mut client_ids = Vec::new();
    for id in input.client_id_list.unwrap_or_default() {
        add_client_id(&mut client_ids, id)?;
    }
    let mut p = OidcProviderRecord {
        v: 1,
        account_id: account.clone(),
        url,
        client_ids,
        thumbprints: check_thumbprints(&input.thumbprint_list.unwrap_or_default())?,
        created: ctx.now,
        tags: Vec::new(),
    };
    merge_tags(&mut p.tags, input.tags.unwrap_or_default())?;
    write(tx, &p)?;
    Ok(shapes::CreateOpenIDConnectProviderResponse {
        open_id_connect_provider_arn: Some(p.arn()),
        tags: (!p.tags.is_empty()).then(|| tag_shapes(&p.tags)),
    })
}

pub fn get_open_id_connect_provider(
    ctx: &Ctx<'_>,
    input: shapes::GetOpenIDConnectProviderRequest,
) -> Result<shapes::GetOpenIDConnectProviderResponse, ServiceError> {
    let arn = &input.open_id_connect_provider_arn;
    let p = read_oidc_provider(ctx.db, arn)?
        .filter(|p| p.account_id == ctx.principal.account_id)
        .ok_or_else(|| no_such_provider(arn))?;
    Ok(shapes::GetOpenIDConnectProviderResponse {
        url: Some(p.url.clone()),
        client_id_list: Some(p.client_ids.clone()),
        thumbprint_list: Some(p.thumbprints.clone()),
        create_date: Some(p.created),
        tags: Some(tag_shapes(&p.tags)),
    })
}

pub fn list_open_id_connect_providers(
    ctx: &Ctx<'_>,
    _input: shapes::ListOpenIDConnectProvidersRequest,
) -> Result<shapes::ListOpenIDConnectProvidersResponse, ServiceError> {
    let all: Vec<OidcProviderRecord> = records::scan_records(ctx.db, &prefix(&ctx.principal.account_id))?;
    Ok(shapes::ListOpenIDConnectProvidersResponse {
        open_id_connect_provider_list: Some(
            all.iter().map(|p| shapes::OpenIDConnectProviderListEntry { arn: Some(p.arn()) }).collect(),
        ),
    })
}

/// Deleting a provider that does not exist succeeds, as IAM documents.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteOpenIDConnectProvider.html>.
pub fn delete_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteOpenIDConnectProviderRequest,
) -> Result<(), ServiceError> {
    let arn = &input.open_id_connect_provider_arn;
    let (account, url) = parse_arn(arn).ok_or_else(|| invalid(format!("ARN {arn} is not valid.")))?;
    if account == ctx.principal.account_id {
        tx.delete(&key(account, url))?;
    }
    Ok(())
}

pub fn add_client_id_to_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddClientIDToOpenIDConnectProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.open_id_connect_provider_arn)?;
    add_client_id(&mut p.client_ids, input.client_id)?;
    write(tx, &p)
}

/// Removing a client id the provider does not have succeeds, as IAM documents.
pub fn remove_client_id_from_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveClientIDFromOpenIDConnectProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.open_id_connect_provider_arn)?;
    p.client_ids.retain(|c| *c != input.client_id);
    write(tx, &p)
}

pub fn update_open_id_connect_provider_thumbprint(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateOpenIDConnectProviderThumbprintRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.open_id_connect_provider_arn)?;
    p.thumbprints = check_thumbprints(&input.thumbprint_list)?;
    write(tx, &p)
}

pub fn tag_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagOpenIDConnectProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.open_id_connect_provider_arn)?;
    merge_tags(&mut p.tags, input.tags)?;
    write(tx, &p)
}

pub fn untag_open_id_connect_provider(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagOpenIDConnectProviderRequest,
) -> Result<(), ServiceError> {
    let mut p = read_tx(tx, ctx, &input.open_id_connect_provider_arn)?;
    super::remove_tags(&mut p.tags, &input.tag_keys);
    write(tx, &p)
}

pub fn list_open_id_connect_provider_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListOpenIDConnectProviderTagsRequest,
) -> Result<shapes::ListOpenIDConnectProviderTagsResponse, ServiceError> {
    let arn = &input.open_id_connect_provider_arn;
    let p = read_oidc_provider(ctx.db, arn)?
        .filter(|p| p.account_id == ctx.principal.account_id)
        .ok_or_else(|| no_such_provider(arn))?;
    let (tags, truncated, marker) = super::page_items(tag_shapes(&p.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListOpenIDConnectProviderTagsResponse { tags, is_truncated: Some(truncated), marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_are_checked_and_stored_without_scheme() {
        assert_eq!(provider_url("https://token.example.com").unwrap(), "token.example.com");
        assert_eq!(provider_url("https://example.com/tenant/v2/").unwrap(), "example.com/tenant/v2");
        assert_eq!(provider_url("https://127.0.0.1:8443").unwrap(), "127.0.0.1:8443");
        for bad in
            ["http://example.com", "https://", "https://a.com?x=1", "https://a.com#f", "example.com", "https://-a"]
        {
            assert_eq!(provider_url(bad).unwrap_err().code, "InvalidInput", "{bad}");
        }
        assert_eq!(parse_arn("arn:aws:iam::123456789012:oidc-provider/a.com/x"), Some(("123456789012", "a.com/x")));
        assert_eq!(parse_arn("arn:aws:iam::1234:oidc-provider/a.com"), None);
        assert_eq!(check_thumbprints(&["A".repeat(40), "a".repeat(40)]).unwrap(), vec!["a".repeat(40)]);
        assert!(check_thumbprints(&["g".repeat(40)]).is_err());
    }
}
