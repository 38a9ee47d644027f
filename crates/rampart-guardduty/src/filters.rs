//! Saved filters: finding criteria with an action. `ARCHIVE` makes a suppression rule: new
//! findings that meet it are archived as they are made, and updates to them stay archived.
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/findings_suppression-rule.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{bad_request, own_detector, page, prefix};

/// Most filters a detector may have (GuardDuty's quota).
const MAX_FILTERS: usize = 100;

/// A filter, as stored (its criteria in AWS's wire JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Filter {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub action: String,
    pub rank: i32,
    pub criteria: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Filter {
    pub fn criteria(&self) -> Option<shapes::FindingCriteria> {
        rampart_wire::json::from_wire(self.criteria.as_bytes())
    }
}

fn key(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{}filter/{name}", prefix(account, region)).into_bytes()
}

pub(crate) fn read(
    get: &records::Reader<'_>,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Filter>, ServiceError> {
    records::read_with(get, &key(account, region, name))
}

pub(crate) fn write(tx: &mut Tx<'_>, account: &str, region: &str, f: &Filter) -> Result<(), ServiceError> {
    records::write_tx(tx, &key(account, region, &f.name), f)
}

/// A detector's filters by rank.
pub fn ranked(tx: &mut Tx<'_>, account: &str, region: &str) -> Result<Vec<Filter>, ServiceError> {
    let p = format!("{}filter/", prefix(account, region));
    let rows = tx.scan_prefix(p.as_bytes(), None, MAX_FILTERS + 1, false)?;
    let mut all: Vec<Filter> = rows.iter().filter_map(|(_, v)| serde_json::from_slice(v).ok()).collect();
    all.sort_by_key(|f| f.rank);
    Ok(all)
}

/// Suppression rules are the administrator's in a multi-account GuardDuty: a member keeps its
/// saved (`NOOP`) filters but cannot make, change or remove one that archives.
fn suppression_allowed(tx: &Tx<'_>, account: &str, region: &str) -> Result<(), ServiceError> {
    crate::members::not_a_member(&records::tx_reader(tx), account, region)
}

fn not_found() -> ServiceError {
    bad_request("The request is rejected because the input filterName is not owned by the current account.")
}

pub fn create_filter(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateFilterRequest,
) -> Result<shapes::CreateFilterResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    if read(&records::tx_reader(tx), account, region, &input.name)?.is_some() {
        return Err(bad_request("The request is rejected because a filter with the same name already exists."));
    }
    if input.action.as_deref() == Some("ARCHIVE") {
        suppression_allowed(tx, account, region)?;
    }
    let existing = ranked(tx, account, region)?;
    if existing.len() >= MAX_FILTERS {
        return Err(bad_request(
            "The request is rejected because the current account has already created the maximum number of filters.",
        ));
    }
    let f = Filter {
        name: input.name.clone(),
        description: input.description,
        action: input.action.unwrap_or_else(|| "NOOP".to_owned()),
        rank: input.rank.unwrap_or_else(|| i32::try_from(existing.len() + 1).unwrap_or(i32::MAX)),
        criteria: rampart_wire::json::to_wire(input.finding_criteria),
        tags: input.tags.unwrap_or_default(),
    };
    write(tx, account, region, &f)?;
    Ok(shapes::CreateFilterResponse { name: f.name })
}

pub fn get_filter(ctx: &Ctx<'_>, input: shapes::GetFilterRequest) -> Result<shapes::GetFilterResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&get, account, region, &input.detector_id)?;
    let f = read(&get, account, region, &input.filter_name)?.ok_or_else(not_found)?;
    let criteria = f.criteria().ok_or_else(crate::internal)?;
    Ok(shapes::GetFilterResponse {
        name: f.name,
        description: f.description,
        action: f.action,
        rank: Some(f.rank),
        finding_criteria: criteria,
        tags: Some(f.tags),
    })
}

pub fn update_filter(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateFilterRequest,
) -> Result<shapes::UpdateFilterResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    let mut f = read(&records::tx_reader(tx), account, region, &input.filter_name)?.ok_or_else(not_found)?;
    if let Some(d) = input.description {
        f.description = Some(d);
    }
    if let Some(a) = input.action {
        f.action = a;
    }
    if let Some(r) = input.rank {
        f.rank = r;
    }
    if let Some(c) = input.finding_criteria {
        f.criteria = rampart_wire::json::to_wire(c);
    }
    if f.action == "ARCHIVE" {
        suppression_allowed(tx, account, region)?;
    }
    write(tx, account, region, &f)?;
    Ok(shapes::UpdateFilterResponse { name: f.name })
}

pub fn delete_filter(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteFilterRequest,
) -> Result<shapes::DeleteFilterResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    let f = read(&records::tx_reader(tx), account, region, &input.filter_name)?.ok_or_else(not_found)?;
    if f.action == "ARCHIVE" {
        suppression_allowed(tx, account, region)?;
    }
    tx.delete(&key(account, region, &input.filter_name))?;
    Ok(shapes::DeleteFilterResponse {})
}

pub fn list_filters(
    ctx: &Ctx<'_>,
    input: shapes::ListFiltersRequest,
) -> Result<shapes::ListFiltersResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::cached_reader(ctx.db), account, region, &input.detector_id)?;
    let p = format!("{}filter/", prefix(account, region));
    let rows = ctx.db.scan_prefix(p.as_bytes(), None, MAX_FILTERS + 1, false)?;
    let mut all: Vec<Filter> = rows.iter().filter_map(|(_, v)| serde_json::from_slice(v).ok()).collect();
    all.sort_by_key(|f| f.rank);
    let names = all.into_iter().map(|f| f.name).collect();
    let (filter_names, next_token) = page(names, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListFiltersResponse { filter_names, next_token })
}
