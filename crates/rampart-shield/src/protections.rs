//! Protections: Shield Advanced over one of Rampart's load balancers, with its Route 53 health
//! checks and its application layer automatic response; tags on protections and groups.
//! See <https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/API_CreateProtection.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::shield as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

use super::{already_exists, invalid_operation, not_found, subscribed, unwire, wire};

/// A protection or protection group, as stored: its shape in AWS's wire JSON, and its tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub body: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

pub(crate) fn protection_key(account: &str, id: &str) -> Vec<u8> {
    format!("shield/{account}/protection/{id}").into_bytes()
}

pub(crate) fn protections_prefix(account: &str) -> Vec<u8> {
    format!("shield/{account}/protection/").into_bytes()
}

/// A protection and its tags.
pub(crate) type Tagged = (shapes::Protection, Vec<(String, String)>);

/// Every protection of an account.
pub(crate) fn all(get_all: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<Tagged>, ServiceError> {
    get_all
        .iter()
        .map(|(k, v)| {
            let s: Stored = records::decode(k, v)?;
            Ok((unwire(&s.body)?, s.tags))
        })
        .collect()
}

/// The protection of a resource, if any.
pub(crate) fn of_resource(rows: Vec<(Vec<u8>, Vec<u8>)>, resource_arn: &str) -> Result<Option<Tagged>, ServiceError> {
    Ok(all(rows)?.into_iter().find(|(p, _)| p.resource_arn.as_deref() == Some(resource_arn)))
}

fn save(
    tx: &mut Tx<'_>,
    account: &str,
    p: &shapes::Protection,
    tags: Vec<(String, String)>,
) -> Result<(), ServiceError> {
    let id = p.id.clone().unwrap_or_default();
    records::write_tx(tx, &protection_key(account, &id), &Stored { body: wire(p.clone()), tags })
}

/// Checks that a resource is one Shield can protect here: a load balancer of the caller's.
fn protectable(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<(), ServiceError> {
    if rampart_elb::load_balancer(get, account, arn)?.is_none() {
        return Err(ServiceError::new(
            "InvalidResourceException",
            400,
            format!(
                "Resource '{arn}' is not one Shield can protect here: Rampart's protected resources are the account's \
                 application load balancers"
            ),
        ));
    }
    Ok(())
}

pub fn create_protection(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateProtectionRequest,
) -> Result<shapes::CreateProtectionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    subscribed(&records::tx_reader(tx), account)?;
    protectable(&records::tx_reader(tx), account, &input.resource_arn)?;
    let rows = tx.scan_prefix(&protections_prefix(account), None, usize::MAX >> 1, false)?;
    if of_resource(rows, &input.resource_arn)?.is_some() {
        return Err(already_exists("protection"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let p = shapes::Protection {
        id: Some(id.clone()),
        name: Some(input.name),
        resource_arn: Some(input.resource_arn),
        health_check_ids: Some(Vec::new()),
        protection_arn: Some(format!("arn:aws:shield::{account}:protection/{id}")),
        application_layer_automatic_response_configuration: None,
    };
    let tags = input
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    save(tx, account, &p, tags)?;
    Ok(shapes::CreateProtectionResponse { protection_id: Some(id) })
}

fn by_id(
    get: &records::Reader<'_>,
    account: &str,
    id: &str,
) -> Result<(shapes::Protection, Vec<(String, String)>), ServiceError> {
    let s: Stored = records::read_with(get, &protection_key(account, id))?.ok_or_else(|| not_found("protection"))?;
    Ok((unwire(&s.body)?, s.tags))
}

pub fn describe_protection(
    ctx: &Ctx<'_>,
    input: shapes::DescribeProtectionRequest,
) -> Result<shapes::DescribeProtectionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let protection = match (input.protection_id, input.resource_arn) {
        (Some(id), None) => by_id(&records::cached_reader(ctx.db), account, &id)?.0,
        (None, Some(arn)) => {
            let rows = ctx.db.scan_prefix(&protections_prefix(account), None, usize::MAX >> 1, false)?;
            of_resource(rows, &arn)?.ok_or_else(|| not_found("protection"))?.0
        }
        _ => return Err(super::invalid_parameter("Specify either ProtectionId or ResourceArn, not both.")),
    };
    Ok(shapes::DescribeProtectionResponse { protection: Some(protection) })
}

pub fn delete_protection(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteProtectionRequest,
) -> Result<shapes::DeleteProtectionResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    by_id(&records::tx_reader(tx), account, &input.protection_id)?;
    tx.delete(&protection_key(account, &input.protection_id))?;
    Ok(shapes::DeleteProtectionResponse {})
}

pub fn list_protections(
    ctx: &Ctx<'_>,
    input: shapes::ListProtectionsRequest,
) -> Result<shapes::ListProtectionsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let rows = ctx.db.scan_prefix(&protections_prefix(account), None, usize::MAX >> 1, false)?;
    let filters = input.inclusion_filters;
    let keep = |p: &shapes::Protection| {
        let Some(f) = &filters else { return true };
        f.resource_arns.as_ref().is_none_or(|a| a.iter().any(|x| Some(x) == p.resource_arn.as_ref()))
            && f.protection_names.as_ref().is_none_or(|n| n.iter().any(|x| Some(x) == p.name.as_ref()))
            && f.resource_types.as_ref().is_none_or(|t| t.iter().any(|x| x == "APPLICATION_LOAD_BALANCER"))
    };
    let protections: Vec<shapes::Protection> = all(rows)?.into_iter().map(|(p, _)| p).filter(keep).collect();
    let (page, next_token) = super::page(protections, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListProtectionsResponse { protections: Some(page), next_token })
}

/// A Route 53 health check's id from its ARN (`arn:aws:route53:::healthcheck/ID`).
fn health_check_id(arn: &str) -> Result<String, ServiceError> {
    arn.strip_prefix("arn:aws:route53:::healthcheck/")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| super::invalid_parameter(format!("'{arn}' is not a Route 53 health check ARN")))
}

pub fn associate_health_check(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateHealthCheckRequest,
) -> Result<shapes::AssociateHealthCheckResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (mut p, tags) = by_id(&records::tx_reader(tx), account, &input.protection_id)?;
    let id = health_check_id(&input.health_check_arn)?;
    let ids = p.health_check_ids.get_or_insert_with(Vec::new);
    if !ids.contains(&id) {
        ids.push(id);
    }
    save(tx, account, &p, tags)?;
    Ok(shapes::AssociateHealthCheckResponse {})
}

pub fn disassociate_health_check(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateHealthCheckRequest,
) -> Result<shapes::DisassociateHealthCheckResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (mut p, tags) = by_id(&records::tx_reader(tx), account, &input.protection_id)?;
    let id = health_check_id(&input.health_check_arn)?;
    p.health_check_ids.get_or_insert_with(Vec::new).retain(|h| *h != id);
    save(tx, account, &p, tags)?;
    Ok(shapes::DisassociateHealthCheckResponse {})
}

/// The protection of a resource whose automatic response is being set: the resource must be
/// protected and have a web ACL associated.
fn for_response(
    tx: &Tx<'_>,
    account: &str,
    resource_arn: &str,
) -> Result<(shapes::Protection, Vec<(String, String)>), ServiceError> {
    let rows = tx.scan_prefix(&protections_prefix(account), None, usize::MAX >> 1, false)?;
    let found = of_resource(rows, resource_arn)?.ok_or_else(|| not_found("protection"))?;
    if rampart_waf::mitigation::associated_web_acl(&records::tx_reader(tx), resource_arn)?.is_none() {
        return Err(invalid_operation(
            "The protected resource must be associated with a web ACL for Shield Advanced to respond to attacks on it.",
        ));
    }
    Ok(found)
}

fn set_response(
    tx: &mut Tx<'_>,
    account: &str,
    resource_arn: &str,
    (status, action): (&str, Option<shapes::ResponseAction>),
) -> Result<(), ServiceError> {
    let (mut p, tags) = for_response(tx, account, resource_arn)?;
    let action = match action {
        Some(a) => {
            if a.block.is_some() == a.count.is_some() {
                return Err(super::invalid_parameter("The response action must be exactly one of Block and Count."));
            }
            a
        }
        None => p
            .application_layer_automatic_response_configuration
            .as_ref()
            .map(|c| c.action.clone())
            .ok_or_else(|| invalid_operation("Automatic response is not enabled for the resource."))?,
    };
    p.application_layer_automatic_response_configuration =
        Some(shapes::ApplicationLayerAutomaticResponseConfiguration { status: status.to_owned(), action });
    save(tx, account, &p, tags)
}

pub fn enable_application_layer_automatic_response(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::EnableApplicationLayerAutomaticResponseRequest,
) -> Result<shapes::EnableApplicationLayerAutomaticResponseResponse, ServiceError> {
    set_response(tx, &ctx.principal.account_id, &input.resource_arn, ("ENABLED", Some(input.action)))?;
    Ok(shapes::EnableApplicationLayerAutomaticResponseResponse {})
}

pub fn update_application_layer_automatic_response(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateApplicationLayerAutomaticResponseRequest,
) -> Result<shapes::UpdateApplicationLayerAutomaticResponseResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (p, _) = for_response(tx, account, &input.resource_arn)?;
    if p.application_layer_automatic_response_configuration.as_ref().is_none_or(|c| c.status != "ENABLED") {
        return Err(invalid_operation("Automatic response is not enabled for the resource."));
    }
    set_response(tx, account, &input.resource_arn, ("ENABLED", Some(input.action)))?;
    Ok(shapes::UpdateApplicationLayerAutomaticResponseResponse {})
}

pub fn disable_application_layer_automatic_response(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisableApplicationLayerAutomaticResponseRequest,
) -> Result<shapes::DisableApplicationLayerAutomaticResponseResponse, ServiceError> {
    set_response(tx, &ctx.principal.account_id, &input.resource_arn, ("DISABLED", None))?;
    Ok(shapes::DisableApplicationLayerAutomaticResponseResponse {})
}

/// The stored record a protection or protection group ARN names.
fn tagged(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<(Vec<u8>, Stored), ServiceError> {
    let rest = arn.strip_prefix(&format!("arn:aws:shield::{account}:")).ok_or_else(|| not_found("resource"))?;
    let key = match rest.split_once('/') {
        Some(("protection", id)) => protection_key(account, id),
        Some(("protection-group", id)) => super::groups::group_key(account, id),
        _ => return Err(super::invalid_parameter(format!("'{arn}' is not a protection or protection group ARN"))),
    };
    let stored = records::read_with::<Stored>(get, &key)?.ok_or_else(|| not_found("resource"))?;
    Ok((key, stored))
}

pub fn tag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagResourceRequest,
) -> Result<shapes::TagResourceResponse, ServiceError> {
    let (key, mut stored) = tagged(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    for t in input.tags {
        let (k, v) = (t.key.unwrap_or_default(), t.value.unwrap_or_default());
        match stored.tags.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 = v,
            None => stored.tags.push((k, v)),
        }
    }
    if stored.tags.len() > 200 {
        return Err(ServiceError::new("LimitsExceededException", 400, "A resource can have at most 200 tags."));
    }
    records::write_tx(tx, &key, &stored)?;
    Ok(shapes::TagResourceResponse {})
}

pub fn untag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagResourceRequest,
) -> Result<shapes::UntagResourceResponse, ServiceError> {
    let (key, mut stored) = tagged(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    stored.tags.retain(|(k, _)| !input.tag_keys.contains(k));
    records::write_tx(tx, &key, &stored)?;
    Ok(shapes::UntagResourceResponse {})
}

pub fn list_tags_for_resource(
    ctx: &Ctx<'_>,
    input: shapes::ListTagsForResourceRequest,
) -> Result<shapes::ListTagsForResourceResponse, ServiceError> {
    let (_, stored) = tagged(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.resource_arn)?;
    let tags = stored.tags.into_iter().map(|(k, v)| shapes::Tag { key: Some(k), value: Some(v) }).collect();
    Ok(shapes::ListTagsForResourceResponse { tags: Some(tags) })
}
