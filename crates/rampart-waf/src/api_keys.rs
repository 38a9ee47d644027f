//! API keys for the CAPTCHA JavaScript API: the domains a key is good for, kept per account,
//! region and scope (Create, List, GetDecrypted, Delete).
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-js-captcha-api-key.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Place, nonexistent, page};

/// A key, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct ApiKey {
    key: String,
    token_domains: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
}

/// `wafapikey/<account>/<region>/<scope>/<key>`.
fn prefix(place: &Place) -> Vec<u8> {
    format!("wafapikey/{}/{}/{}/", place.account, place.region, place.scope).into_bytes()
}

fn key(place: &Place, api_key: &str) -> Vec<u8> {
    [prefix(place), api_key.as_bytes().to_vec()].concat()
}

pub fn create_api_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateAPIKeyRequest,
) -> Result<shapes::CreateAPIKeyResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let mut secret = [0u8; 48];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| ServiceError::internal())?;
    let api_key = data_encoding::BASE64URL_NOPAD.encode(&secret);
    let record = ApiKey { key: api_key.clone(), token_domains: input.token_domains, created: ctx.now };
    records::write_tx(tx, &key(&place, &api_key), &record)?;
    Ok(shapes::CreateAPIKeyResponse { api_key: Some(api_key) })
}

pub fn list_api_keys(
    ctx: &Ctx<'_>,
    input: shapes::ListAPIKeysRequest,
) -> Result<shapes::ListAPIKeysResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let mut keys: Vec<ApiKey> = records::scan_records(ctx.db, &prefix(&place))?;
    keys.sort_by_key(|k| k.created);
    let summaries = keys
        .into_iter()
        .map(|k| shapes::APIKeySummary {
            token_domains: Some(k.token_domains),
            api_key: Some(k.key),
            creation_timestamp: Some(k.created),
            version: Some(1),
        })
        .collect();
    let (summaries, next_marker) = page(summaries, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListAPIKeysResponse {
        next_marker,
        api_key_summaries: Some(summaries),
        application_integration_url: None,
    })
}

pub fn get_decrypted_api_key(
    ctx: &Ctx<'_>,
    input: shapes::GetDecryptedAPIKeyRequest,
) -> Result<shapes::GetDecryptedAPIKeyResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let found: ApiKey = records::read(ctx.db, &key(&place, &input.api_key))?.ok_or_else(nonexistent)?;
    Ok(shapes::GetDecryptedAPIKeyResponse {
        token_domains: Some(found.token_domains),
        creation_timestamp: Some(found.created),
    })
}

pub fn delete_api_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteAPIKeyRequest,
) -> Result<shapes::DeleteAPIKeyResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    if !tx.delete(&key(&place, &input.api_key))? {
        return Err(nonexistent());
    }
    Ok(shapes::DeleteAPIKeyResponse {})
}
