//! Trusted IP sets and threat intel sets: a named list of addresses and networks in an S3
//! object, read by the detector when the set is activated or its location changes (the set is
//! `ACTIVATING` until then, `ACTIVE` after, `ERROR` when the object cannot be read).
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_upload-lists.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{bad_request, new_id, own_detector, page, prefix};

/// How many of each a detector may have (GuardDuty's quotas).
/// See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_limits.html>.
const MAX_IP_SETS: usize = 1;
const MAX_THREAT_SETS: usize = 6;
/// Most entries read from one list (GuardDuty reads lists of up to 35 MB).
pub const MAX_ENTRIES: usize = 250_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A trusted IP set: calls from its addresses make no threat-list finding.
    Trusted,
    /// A threat intel set: calls from its addresses are findings.
    Threat,
    /// A trusted entity set: addresses and domains (entity lists, which GuardDuty recommends
    /// over IP lists); Rampart, having no DNS data, weighs their addresses.
    TrustedEntity,
    /// A threat entity set, likewise.
    ThreatEntity,
}

impl Kind {
    pub(crate) fn of(segment: &str) -> Kind {
        match segment {
            "ipset" => Kind::Trusted,
            "trustedentityset" => Kind::TrustedEntity,
            "threatentityset" => Kind::ThreatEntity,
            _ => Kind::Threat,
        }
    }

    /// The kind's segment in ARNs and keys.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Kind::Trusted => "ipset",
            Kind::Threat => "threatintelset",
            Kind::TrustedEntity => "trustedentityset",
            Kind::ThreatEntity => "threatentityset",
        }
    }

    /// Whether its entries are trusted (rather than threats).
    pub fn trusted(self) -> bool {
        matches!(self, Kind::Trusted | Kind::TrustedEntity)
    }

    /// The name of the id a request gives, for errors.
    fn id_name(self) -> &'static str {
        match self {
            Kind::Trusted => "ipSetId",
            Kind::Threat => "threatIntelSetId",
            Kind::TrustedEntity => "trustedEntitySetId",
            Kind::ThreatEntity => "threatEntitySetId",
        }
    }
}

/// A list, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    pub format: String,
    pub location: String,
    pub activate: bool,
    pub status: String,
    #[serde(default)]
    pub expected_bucket_owner: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The entries read from the object (addresses and CIDR networks, as text).
    #[serde(default)]
    pub entries: Vec<String>,
    /// When the entries were read: they apply to events from then on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<time::OffsetDateTime>,
    /// When the list was made and last changed (entity sets report them).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated: Option<time::OffsetDateTime>,
    /// Why the object could not be read, when the status is `ERROR`.
    #[serde(default)]
    pub error: Option<String>,
}

fn key(account: &str, region: &str, kind: Kind, id: &str) -> Vec<u8> {
    format!("{}{}/{id}", prefix(account, region), kind.segment()).into_bytes()
}

pub(crate) fn read(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    kind: Kind,
    id: &str,
) -> Result<Option<List>, ServiceError> {
    records::read_with(get, &key(account, region, kind, id))
}

/// Writes a list; one `ACTIVATING` is then read by the engine's next run.
pub(crate) fn write(tx: &mut Tx<'_>, account: &str, region: &str, l: &List) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(account, region, l.kind, &l.id), l)?;
    if l.status == "ACTIVATING" {
        crate::engine::mark_pending(tx, account, region, l)?;
    }
    Ok(())
}

/// Every list of a kind in an account and Region.
pub fn all(db: &rampart_store::Db, account: &str, region: &str, kind: Kind) -> Result<Vec<List>, ServiceError> {
    records::scan_records(db, &kind_prefix(account, region, kind))
}

fn all_tx(tx: &mut Tx<'_>, account: &str, region: &str, kind: Kind) -> Result<Vec<List>, ServiceError> {
    records::scan_records_tx(tx, &kind_prefix(account, region, kind))
}

fn kind_prefix(account: &str, region: &str, kind: Kind) -> Vec<u8> {
    format!("{}{}/", prefix(account, region), kind.segment()).into_bytes()
}

/// The bucket and key an S3 location names, in any of the forms GuardDuty takes
/// (`https://s3.amazonaws.com/BUCKET/KEY`, `https://BUCKET.s3.REGION.amazonaws.com/KEY`,
/// `s3://BUCKET/KEY`).
pub fn object_of(location: &str) -> Option<(String, String)> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/')?;
        return (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()));
    }
    let rest = location.strip_prefix("https://").or_else(|| location.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path_style = host.starts_with("s3.") || host.starts_with("s3-");
    let (bucket, key) = if path_style {
        let (bucket, key) = path.split_once('/')?;
        (bucket.to_owned(), key.to_owned())
    } else {
        let (bucket, _) = host.split_once(".s3")?;
        (bucket.to_owned(), path.to_owned())
    };
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// Reads a list's addresses and networks from an object in one of GuardDuty's formats:
/// - `TXT`: one address or CIDR network per line;
/// - `ALIEN_VAULT`: `ADDRESS#…` lines;
/// - `OTX_CSV`, `PROOF_POINT`, `FIRE_EYE`: comma-separated rows, the address in the first field
///   that is one (header rows and other indicators skipped);
/// - `STIX`: the text of each `Address_Value` element (or `value` of an indicator pattern).
///
/// Lines starting with `#` and blank lines are skipped; anything that is not an address or a
/// network is ignored, as GuardDuty ignores entries it cannot read.
pub fn parse(format: &str, data: &[u8]) -> Vec<ipnet::IpNet> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let as_net = |token: &str| -> Option<ipnet::IpNet> {
        let t = token.trim().trim_matches('"');
        t.parse::<ipnet::IpNet>().ok().or_else(|| t.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
    };
    if format == "STIX" {
        for part in text.split("Address_Value").skip(1) {
            if let Some(value) = part.split_once('>').and_then(|(_, v)| v.split('<').next())
                && let Some(net) = as_net(value)
            {
                out.push(net);
            }
        }
        // STIX 2 indicator patterns: `[ipv4-addr:value = '198.51.100.1']`.
        for part in text.split("-addr:value").skip(1) {
            if let Some(value) = part.split('\'').nth(1)
                && let Some(net) = as_net(value)
            {
                out.push(net);
            }
        }
    } else {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let first = match format {
                "ALIEN_VAULT" => line.split('#').next().and_then(as_net),
                "TXT" => as_net(line),
                _ => line.split([',', '\t']).find_map(as_net),
            };
            if let Some(net) = first {
                out.push(net);
            }
        }
    }
    out.truncate(MAX_ENTRIES);
    out
}

/// The Tor exit nodes in a list as the Tor Project publishes them: the bulk exit list (an
/// address a line) or the exit-addresses document (`ExitAddress ADDRESS DATE TIME` lines).
/// See <https://check.torproject.org/torbulkexitlist> and
/// <https://check.torproject.org/exit-addresses>.
pub fn parse_tor(data: &[u8]) -> Vec<ipnet::IpNet> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<ipnet::IpNet> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let addr =
                l.strip_prefix("ExitAddress ").map_or(l, |rest| rest.split_whitespace().next().unwrap_or_default());
            addr.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from)
        })
        .collect();
    out.truncate(MAX_ENTRIES);
    out
}

fn check_location(location: &str) -> Result<(), ServiceError> {
    object_of(location)
        .map(|_| ())
        .ok_or_else(|| bad_request("The request is rejected because the input location is not a valid S3 object URL."))
}

fn create(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    detector_id: &str,
    kind: Kind,
    mut l: List,
) -> Result<String, ServiceError> {
    l.created = Some(ctx.now);
    l.updated = Some(ctx.now);
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    crate::own_config(&records::tx_reader(tx), account, region, detector_id)?;
    check_location(&l.location)?;
    let existing: Vec<List> = all_tx(tx, account, region, kind)?.into_iter().filter(|l| l.status != DELETED).collect();
    // Entity lists have the quotas of the IP lists they stand beside.
    let max = if kind.trusted() { MAX_IP_SETS } else { MAX_THREAT_SETS };
    if existing.len() >= max {
        let what = match kind {
            Kind::Trusted => "IPSets",
            Kind::Threat => "ThreatIntelSets",
            Kind::TrustedEntity => "TrustedEntitySets",
            Kind::ThreatEntity => "ThreatEntitySets",
        };
        return Err(bad_request(format!(
            "The request is rejected because the current account has already created the maximum number of {what}."
        )));
    }
    write(tx, account, region, &l)?;
    Ok(l.id)
}

fn new_list(kind: Kind, name: String, format: String, location: String, activate: bool) -> List {
    List {
        id: new_id(),
        kind,
        name,
        format,
        location,
        activate,
        status: if activate { "ACTIVATING" } else { "INACTIVE" }.to_owned(),
        expected_bucket_owner: None,
        tags: BTreeMap::new(),
        entries: Vec::new(),
        since: None,
        created: None,
        updated: None,
        error: None,
    }
}

/// What an update request changes.
struct Change {
    name: Option<String>,
    location: Option<String>,
    activate: Option<bool>,
    owner: Option<String>,
}

fn update(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    detector_id: &str,
    kind: Kind,
    id: &str,
    c: Change,
) -> Result<(), ServiceError> {
    let Change { name, location, activate, owner } = c;
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    crate::own_config(&records::tx_reader(tx), account, region, detector_id)?;
    let mut l = read(&records::tx_reader(tx), account, region, kind, id)?
        .filter(|l| l.status != DELETED)
        .ok_or_else(|| not_found(kind))?;
    if let Some(n) = name {
        l.name = n;
    }
    let moved = location.as_ref().is_some_and(|loc| *loc != l.location);
    if let Some(loc) = location {
        check_location(&loc)?;
        l.location = loc;
    }
    if owner.is_some() {
        l.expected_bucket_owner = owner;
    }
    if let Some(a) = activate {
        l.activate = a;
    }
    l.updated = Some(ctx.now);
    // An active list is read again when it changes, as GuardDuty refreshes it on update.
    l.status = if !l.activate {
        "INACTIVE".to_owned()
    } else if moved || activate == Some(true) || l.status != "ACTIVE" {
        "ACTIVATING".to_owned()
    } else {
        l.status
    };
    write(tx, account, region, &l)
}

fn not_found(kind: Kind) -> ServiceError {
    bad_request(format!(
        "The request is rejected because the input {} is not owned by the current account.",
        kind.id_name()
    ))
}

/// Deletes a list: it stays readable as `DELETED` (Terraform waits for that status), and is
/// neither listed, counted toward the quota, changed, nor read by the detections again.
fn delete(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, detector_id: &str, kind: Kind, id: &str) -> Result<(), ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    crate::own_config(&records::tx_reader(tx), account, region, detector_id)?;
    let mut l = read(&records::tx_reader(tx), account, region, kind, id)?
        .filter(|l| l.status != DELETED)
        .ok_or_else(|| not_found(kind))?;
    l.status = DELETED.to_owned();
    l.activate = false;
    l.entries.clear();
    write(tx, account, region, &l)
}

const DELETED: &str = "DELETED";

fn get_one(ctx: &Ctx<'_>, detector_id: &str, kind: Kind, id: &str) -> Result<List, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&get, account, region, detector_id)?;
    read(&get, account, region, kind, id)?.ok_or_else(|| not_found(kind))
}

fn list_ids(
    ctx: &Ctx<'_>,
    detector_id: &str,
    kind: Kind,
    token: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<String>, Option<String>), ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, detector_id)?;
    let ids = all(ctx.db, account, region, kind)?.into_iter().filter(|l| l.status != DELETED).map(|l| l.id).collect();
    page(ids, token, max)
}

pub fn create_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateIPSetRequest,
) -> Result<shapes::CreateIPSetResponse, ServiceError> {
    let mut l = new_list(Kind::Trusted, input.name, input.format, input.location, input.activate);
    l.tags = input.tags.unwrap_or_default();
    l.expected_bucket_owner = input.expected_bucket_owner;
    let id = create(tx, ctx, &input.detector_id, Kind::Trusted, l)?;
    Ok(shapes::CreateIPSetResponse { ip_set_id: id })
}

pub fn create_threat_intel_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateThreatIntelSetRequest,
) -> Result<shapes::CreateThreatIntelSetResponse, ServiceError> {
    let mut l = new_list(Kind::Threat, input.name, input.format, input.location, input.activate);
    l.tags = input.tags.unwrap_or_default();
    l.expected_bucket_owner = input.expected_bucket_owner;
    let id = create(tx, ctx, &input.detector_id, Kind::Threat, l)?;
    Ok(shapes::CreateThreatIntelSetResponse { threat_intel_set_id: id })
}

pub fn get_ip_set(ctx: &Ctx<'_>, input: shapes::GetIPSetRequest) -> Result<shapes::GetIPSetResponse, ServiceError> {
    let l = get_one(ctx, &input.detector_id, Kind::Trusted, &input.ip_set_id)?;
    Ok(shapes::GetIPSetResponse {
        name: l.name,
        format: l.format,
        location: l.location,
        status: l.status,
        tags: Some(l.tags),
        expected_bucket_owner: l.expected_bucket_owner,
    })
}

pub fn get_threat_intel_set(
    ctx: &Ctx<'_>,
    input: shapes::GetThreatIntelSetRequest,
) -> Result<shapes::GetThreatIntelSetResponse, ServiceError> {
    let l = get_one(ctx, &input.detector_id, Kind::Threat, &input.threat_intel_set_id)?;
    Ok(shapes::GetThreatIntelSetResponse {
        name: l.name,
        format: l.format,
        location: l.location,
        status: l.status,
        tags: Some(l.tags),
        expected_bucket_owner: l.expected_bucket_owner,
    })
}

pub fn update_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateIPSetRequest,
) -> Result<shapes::UpdateIPSetResponse, ServiceError> {
    update(
        tx,
        ctx,
        &input.detector_id,
        Kind::Trusted,
        &input.ip_set_id,
        Change {
            name: input.name,
            location: input.location,
            activate: input.activate,
            owner: input.expected_bucket_owner,
        },
    )?;
    Ok(shapes::UpdateIPSetResponse {})
}

pub fn update_threat_intel_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateThreatIntelSetRequest,
) -> Result<shapes::UpdateThreatIntelSetResponse, ServiceError> {
    update(
        tx,
        ctx,
        &input.detector_id,
        Kind::Threat,
        &input.threat_intel_set_id,
        Change {
            name: input.name,
            location: input.location,
            activate: input.activate,
            owner: input.expected_bucket_owner,
        },
    )?;
    Ok(shapes::UpdateThreatIntelSetResponse {})
}

pub fn delete_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteIPSetRequest,
) -> Result<shapes::DeleteIPSetResponse, ServiceError> {
    delete(tx, ctx, &input.detector_id, Kind::Trusted, &input.ip_set_id)?;
    Ok(shapes::DeleteIPSetResponse {})
}

pub fn delete_threat_intel_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteThreatIntelSetRequest,
) -> Result<shapes::DeleteThreatIntelSetResponse, ServiceError> {
    delete(tx, ctx, &input.detector_id, Kind::Threat, &input.threat_intel_set_id)?;
    Ok(shapes::DeleteThreatIntelSetResponse {})
}

pub fn list_ip_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListIPSetsRequest,
) -> Result<shapes::ListIPSetsResponse, ServiceError> {
    let (ip_set_ids, next_token) =
        list_ids(ctx, &input.detector_id, Kind::Trusted, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListIPSetsResponse { ip_set_ids, next_token })
}

pub fn list_threat_intel_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListThreatIntelSetsRequest,
) -> Result<shapes::ListThreatIntelSetsResponse, ServiceError> {
    let (threat_intel_set_ids, next_token) =
        list_ids(ctx, &input.detector_id, Kind::Threat, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListThreatIntelSetsResponse { threat_intel_set_ids, next_token })
}

/// A new entity set of `kind` from a create request's members.
#[allow(clippy::too_many_arguments, reason = "the members of CreateThreatEntitySet and CreateTrustedEntitySet")]
fn create_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    kind: Kind,
    detector_id: &str,
    (name, format, location): (String, String, String),
    activate: bool,
    owner: Option<String>,
    tags: Option<BTreeMap<String, String>>,
) -> Result<String, ServiceError> {
    let mut l = new_list(kind, name, format, location, activate);
    l.tags = tags.unwrap_or_default();
    l.expected_bucket_owner = owner;
    create(tx, ctx, detector_id, kind, l)
}

pub fn create_threat_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateThreatEntitySetRequest,
) -> Result<shapes::CreateThreatEntitySetResponse, ServiceError> {
    let id = create_entity_set(
        tx,
        ctx,
        Kind::ThreatEntity,
        &input.detector_id,
        (input.name, input.format, input.location),
        input.activate,
        input.expected_bucket_owner,
        input.tags,
    )?;
    Ok(shapes::CreateThreatEntitySetResponse { threat_entity_set_id: id })
}

pub fn create_trusted_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateTrustedEntitySetRequest,
) -> Result<shapes::CreateTrustedEntitySetResponse, ServiceError> {
    let id = create_entity_set(
        tx,
        ctx,
        Kind::TrustedEntity,
        &input.detector_id,
        (input.name, input.format, input.location),
        input.activate,
        input.expected_bucket_owner,
        input.tags,
    )?;
    Ok(shapes::CreateTrustedEntitySetResponse { trusted_entity_set_id: id })
}

/// A Get*EntitySet response (the two have the same members) of a list.
macro_rules! entity_set_response {
    ($shape:path, $l:expr) => {{
        let l: List = $l;
        $shape {
            name: l.name,
            format: l.format,
            location: l.location,
            expected_bucket_owner: l.expected_bucket_owner,
            status: l.status,
            tags: Some(l.tags),
            created_at: l.created,
            updated_at: l.updated,
            error_details: l.error,
        }
    }};
}

pub fn get_threat_entity_set(
    ctx: &Ctx<'_>,
    input: shapes::GetThreatEntitySetRequest,
) -> Result<shapes::GetThreatEntitySetResponse, ServiceError> {
    let l = get_one(ctx, &input.detector_id, Kind::ThreatEntity, &input.threat_entity_set_id)?;
    Ok(entity_set_response!(shapes::GetThreatEntitySetResponse, l))
}

pub fn get_trusted_entity_set(
    ctx: &Ctx<'_>,
    input: shapes::GetTrustedEntitySetRequest,
) -> Result<shapes::GetTrustedEntitySetResponse, ServiceError> {
    let l = get_one(ctx, &input.detector_id, Kind::TrustedEntity, &input.trusted_entity_set_id)?;
    Ok(entity_set_response!(shapes::GetTrustedEntitySetResponse, l))
}

pub fn update_threat_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateThreatEntitySetRequest,
) -> Result<shapes::UpdateThreatEntitySetResponse, ServiceError> {
    let change = Change {
        name: input.name,
        location: input.location,
        activate: input.activate,
        owner: input.expected_bucket_owner,
    };
    update(tx, ctx, &input.detector_id, Kind::ThreatEntity, &input.threat_entity_set_id, change)?;
    Ok(shapes::UpdateThreatEntitySetResponse {})
}

pub fn update_trusted_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateTrustedEntitySetRequest,
) -> Result<shapes::UpdateTrustedEntitySetResponse, ServiceError> {
    let change = Change {
        name: input.name,
        location: input.location,
        activate: input.activate,
        owner: input.expected_bucket_owner,
    };
    update(tx, ctx, &input.detector_id, Kind::TrustedEntity, &input.trusted_entity_set_id, change)?;
    Ok(shapes::UpdateTrustedEntitySetResponse {})
}

pub fn delete_threat_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteThreatEntitySetRequest,
) -> Result<shapes::DeleteThreatEntitySetResponse, ServiceError> {
    delete(tx, ctx, &input.detector_id, Kind::ThreatEntity, &input.threat_entity_set_id)?;
    Ok(shapes::DeleteThreatEntitySetResponse {})
}

pub fn delete_trusted_entity_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteTrustedEntitySetRequest,
) -> Result<shapes::DeleteTrustedEntitySetResponse, ServiceError> {
    delete(tx, ctx, &input.detector_id, Kind::TrustedEntity, &input.trusted_entity_set_id)?;
    Ok(shapes::DeleteTrustedEntitySetResponse {})
}

pub fn list_threat_entity_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListThreatEntitySetsRequest,
) -> Result<shapes::ListThreatEntitySetsResponse, ServiceError> {
    let (threat_entity_set_ids, next_token) =
        list_ids(ctx, &input.detector_id, Kind::ThreatEntity, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListThreatEntitySetsResponse { threat_entity_set_ids, next_token })
}

pub fn list_trusted_entity_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListTrustedEntitySetsRequest,
) -> Result<shapes::ListTrustedEntitySetsResponse, ServiceError> {
    let (trusted_entity_set_ids, next_token) =
        list_ids(ctx, &input.detector_id, Kind::TrustedEntity, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListTrustedEntitySetsResponse { trusted_entity_set_ids, next_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_a_bucket_and_key() {
        for (loc, bucket, key) in [
            ("https://s3.amazonaws.com/lists/bad.txt", "lists", "bad.txt"),
            ("https://s3.us-east-1.amazonaws.com/lists/a/bad.txt", "lists", "a/bad.txt"),
            ("https://lists.s3.amazonaws.com/bad.txt", "lists", "bad.txt"),
            ("https://lists.s3.eu-west-1.amazonaws.com/bad.txt", "lists", "bad.txt"),
            ("s3://lists/bad.txt", "lists", "bad.txt"),
        ] {
            assert_eq!(object_of(loc), Some((bucket.to_owned(), key.to_owned())), "{loc}");
        }
        for bad in ["ftp://x/y", "https://s3.amazonaws.com/lists", "s3://lists/", "lists/bad.txt"] {
            assert_eq!(object_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_format_gives_its_addresses() {
        let nets = |f: &str, t: &str| parse(f, t.as_bytes()).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            nets("TXT", "# bad hosts\n198.51.100.7\n\n203.0.113.0/24\nnot-an-ip\n"),
            ["198.51.100.7/32", "203.0.113.0/24"]
        );
        assert_eq!(nets("ALIEN_VAULT", "198.51.100.7#4#2#Malicious Host#US##0,0#3\n"), ["198.51.100.7/32"]);
        assert_eq!(
            nets("OTX_CSV", "Indicator type,Indicator,Description\nIPv4,198.51.100.7,c2\nURL,http://x,\n"),
            ["198.51.100.7/32"]
        );
        assert_eq!(nets("PROOF_POINT", "ip,category,score\n198.51.100.7,1,127\n"), ["198.51.100.7/32"]);
        assert_eq!(
            nets(
                "STIX",
                "<cybox:Object><AddressObj:Address_Value condition=\"Equals\">198.51.100.7</AddressObj:Address_Value></cybox:Object>"
            ),
            ["198.51.100.7/32"]
        );
        assert_eq!(nets("STIX", r#"{"pattern": "[ipv4-addr:value = '198.51.100.0/24']"}"#), ["198.51.100.0/24"]);
        assert_eq!(nets("TXT", "2001:db8::1\n"), ["2001:db8::1/128"]);
        let tor = |t: &str| parse_tor(t.as_bytes()).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(tor("198.51.100.7\n203.0.113.9\n"), ["198.51.100.7/32", "203.0.113.9/32"]);
        assert_eq!(
            tor("ExitNode 0011\nPublished 2026-12-01 10:00:00\nExitAddress 198.51.100.7 2026-12-01 10:05:00\n"),
            ["198.51.100.7/32"]
        );
    }
}
