//! When each key was last used for cryptography, for GetKeyLastUsage. A use is noted in memory
//! on the request (a store write per Encrypt would halve its throughput) and written to the store
//! by the background sweep; GetKeyLastUsage reads both, so a use shows at once on the node that
//! served it.
//! See <https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyLastUsage.html>.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use rampart_core::{Ctx, ServiceError, keys, records};
use rampart_shapes::generated::kms as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{KeyRecord, find};

/// One key's last successful cryptographic operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub operation: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub request_id: String,
    /// The CloudTrail event of the use (absent from records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// Uses not yet written to the store, by the store key of their usage record.
static PENDING: LazyLock<Mutex<HashMap<Vec<u8>, Usage>>> = LazyLock::new(Default::default);

/// Most uses held before the oldest are dropped for want of a sweep (a bound, not a budget).
const PENDING_LIMIT: usize = 100_000;

fn usage_key(key: &KeyRecord) -> Vec<u8> {
    keys::kms_key_usage(&key.account, &key.region, &key.id)
}

/// Notes a successful cryptographic operation with `key`.
pub(crate) fn used(ctx: &Ctx<'_>, key: &KeyRecord, operation: &str) {
    let usage = Usage {
        operation: operation.to_owned(),
        at: ctx.now,
        request_id: ctx.request_id.to_owned(),
        event_id: (!ctx.event_id.is_empty()).then(|| ctx.event_id.to_owned()),
    };
    note(usage_key(key), usage);
}

/// Notes an operation another service made with the key `arn` for a request (S3's
/// GenerateDataKey and Decrypt under SSE-KMS), with the request and event ids of KMS's own event:
/// a use of the key as much as a direct call.
pub fn used_via_service(arn: &str, operation: &str, at: OffsetDateTime, (request_id, event_id): (&str, &str)) {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("kms"), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Some(id) = resource.strip_prefix("key/") else { return };
    let usage = Usage {
        operation: operation.to_owned(),
        at,
        request_id: request_id.to_owned(),
        event_id: Some(event_id.to_owned()),
    };
    note(keys::kms_key_usage(account, region, id), usage);
}

fn note(at: Vec<u8>, usage: Usage) {
    if let Ok(mut pending) = PENDING.lock() {
        if pending.len() >= PENDING_LIMIT
            && let Some(oldest) = pending.iter().min_by_key(|(_, u)| u.at).map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(at, usage);
    }
}

/// The uses noted since the last sweep, for it to write.
pub fn pending_usage() -> Vec<(Vec<u8>, Usage)> {
    PENDING.lock().map(|p| p.iter().map(|(k, u)| (k.clone(), u.clone())).collect()).unwrap_or_default()
}

/// Forgets the uses a committed sweep wrote (unless the key was used again since).
pub fn usage_written(written: &[(Vec<u8>, Usage)]) {
    if let Ok(mut pending) = PENDING.lock() {
        for (k, u) in written {
            if pending.get(k) == Some(u) {
                pending.remove(k);
            }
        }
    }
}

/// Writes noted uses of keys that still exist; a use older than the one stored is skipped.
pub(crate) fn write(tx: &mut Tx<'_>, uses: &[(Vec<u8>, Usage)]) -> Result<(), ServiceError> {
    for (k, u) in uses {
        let stored = records::read_tx::<Usage>(tx, k)?;
        if stored.is_none_or(|s| s.at <= u.at) {
            records::write_tx(tx, k, u)?;
        }
    }
    Ok(())
}

/// Forgets a destroyed key's usage.
pub(crate) fn forget(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<(), ServiceError> {
    tx.delete(&usage_key(key))?;
    Ok(())
}

pub fn get_key_last_usage(
    ctx: &Ctx<'_>,
    input: shapes::GetKeyLastUsageRequest,
) -> Result<shapes::GetKeyLastUsageResponse, ServiceError> {
    if input.key_id.starts_with("alias/") || input.key_id.contains(":alias/") {
        return Err(ServiceError::new(
            "NotFoundException",
            400,
            "Alias names are not supported; use a key ID or key ARN.",
        ));
    }
    let get = records::cached_reader(ctx.db);
    let key = find(&get, ctx.principal, ctx.region, &input.key_id, false, ctx.now)?;
    let k = usage_key(&key);
    let stored = records::read_with::<Usage>(&get, &k)?;
    let noted = PENDING.lock().ok().and_then(|p| p.get(&k).cloned());
    let last = match (stored, noted) {
        (Some(s), Some(n)) => Some(if n.at >= s.at { n } else { s }),
        (s, n) => n.or(s),
    };
    Ok(shapes::GetKeyLastUsageResponse {
        key_id: Some(key.id.clone()),
        key_last_usage: last.map(|u| shapes::KeyLastUsageData {
            operation: Some(u.operation),
            timestamp: Some(u.at),
            cloud_trail_event_id: u.event_id,
            kms_request_id: Some(u.request_id),
        }),
        tracking_start_date: Some(key.created),
        key_creation_date: Some(key.created),
    })
}
