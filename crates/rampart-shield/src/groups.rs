//! Protection groups: protected resources treated as one for detection and mitigation, by an
//! explicit list, by resource type, or all of them.
//! See <https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/API_CreateProtectionGroup.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::shield as shapes;
use rampart_store::Tx;

use super::protections::Stored;
use super::{already_exists, invalid_parameter, not_found, subscribed, unwire, wire};

pub(crate) fn group_key(account: &str, id: &str) -> Vec<u8> {
    format!("shield/{account}/group/{id}").into_bytes()
}

fn groups_prefix(account: &str) -> Vec<u8> {
    format!("shield/{account}/group/").into_bytes()
}

/// A group's body, checked: ARBITRARY names members, BY_RESOURCE_TYPE a resource type, ALL
/// neither.
fn body(
    account: &str,
    (id, aggregation, pattern): (String, String, String),
    resource_type: Option<String>,
    members: Option<Vec<String>>,
) -> Result<shapes::ProtectionGroup, ServiceError> {
    let members = members.unwrap_or_default();
    match pattern.as_str() {
        "ARBITRARY" if resource_type.is_some() => {
            return Err(invalid_parameter("An ARBITRARY protection group takes Members, not a ResourceType."));
        }
        "BY_RESOURCE_TYPE" if resource_type.is_none() || !members.is_empty() => {
            return Err(invalid_parameter("A BY_RESOURCE_TYPE protection group takes a ResourceType and no Members."));
        }
        "ALL" if resource_type.is_some() || !members.is_empty() => {
            return Err(invalid_parameter("An ALL protection group takes neither Members nor a ResourceType."));
        }
        _ => {}
    }
    if members.len() > 10_000 {
        return Err(ServiceError::new(
            "LimitsExceededException",
            400,
            "A protection group can have at most 10000 members.",
        ));
    }
    Ok(shapes::ProtectionGroup {
        protection_group_arn: Some(format!("arn:aws:shield::{account}:protection-group/{id}")),
        protection_group_id: id,
        aggregation,
        pattern,
        resource_type,
        members,
    })
}

fn read(get: &records::Reader<'_>, account: &str, id: &str) -> Result<(shapes::ProtectionGroup, Stored), ServiceError> {
    let stored: Stored =
        records::read_with(get, &group_key(account, id))?.ok_or_else(|| not_found("protection group"))?;
    Ok((unwire(&stored.body)?, stored))
}

pub fn create_protection_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateProtectionGroupRequest,
) -> Result<shapes::CreateProtectionGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    subscribed(&records::tx_reader(tx), account)?;
    if tx.get(&group_key(account, &input.protection_group_id))?.is_some() {
        return Err(already_exists("protection group"));
    }
    if tx.scan_prefix(&groups_prefix(account), None, usize::MAX >> 1, false)?.len() >= 100 {
        return Err(ServiceError::new(
            "LimitsExceededException",
            400,
            "An account can have at most 100 protection groups.",
        ));
    }
    let group = body(
        account,
        (input.protection_group_id.clone(), input.aggregation, input.pattern),
        input.resource_type,
        input.members,
    )?;
    let tags = input
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    records::write_tx(tx, &group_key(account, &input.protection_group_id), &Stored { body: wire(group), tags })?;
    Ok(shapes::CreateProtectionGroupResponse {})
}

pub fn update_protection_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateProtectionGroupRequest,
) -> Result<shapes::UpdateProtectionGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (_, stored) = read(&records::tx_reader(tx), account, &input.protection_group_id)?;
    let group = body(
        account,
        (input.protection_group_id.clone(), input.aggregation, input.pattern),
        input.resource_type,
        input.members,
    )?;
    records::write_tx(
        tx,
        &group_key(account, &input.protection_group_id),
        &Stored { body: wire(group), tags: stored.tags },
    )?;
    Ok(shapes::UpdateProtectionGroupResponse {})
}

pub fn delete_protection_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteProtectionGroupRequest,
) -> Result<shapes::DeleteProtectionGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    read(&records::tx_reader(tx), account, &input.protection_group_id)?;
    tx.delete(&group_key(account, &input.protection_group_id))?;
    Ok(shapes::DeleteProtectionGroupResponse {})
}

pub fn describe_protection_group(
    ctx: &Ctx<'_>,
    input: shapes::DescribeProtectionGroupRequest,
) -> Result<shapes::DescribeProtectionGroupResponse, ServiceError> {
    let (group, _) = read(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.protection_group_id)?;
    Ok(shapes::DescribeProtectionGroupResponse { protection_group: group })
}

pub fn list_protection_groups(
    ctx: &Ctx<'_>,
    input: shapes::ListProtectionGroupsRequest,
) -> Result<shapes::ListProtectionGroupsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut groups = Vec::new();
    for (k, v) in ctx.db.scan_prefix(&groups_prefix(account), None, usize::MAX >> 1, false)? {
        let stored: Stored = records::decode(&k, &v)?;
        groups.push(unwire::<shapes::ProtectionGroup>(&stored.body)?);
    }
    if let Some(f) = input.inclusion_filters {
        groups.retain(|g| {
            f.protection_group_ids.as_ref().is_none_or(|ids| ids.contains(&g.protection_group_id))
                && f.patterns.as_ref().is_none_or(|p| p.contains(&g.pattern))
                && f.aggregations.as_ref().is_none_or(|a| a.contains(&g.aggregation))
                && f.resource_types.as_ref().is_none_or(|t| g.resource_type.as_ref().is_some_and(|r| t.contains(r)))
        });
    }
    let (page, next_token) = super::page(groups, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListProtectionGroupsResponse { protection_groups: page, next_token })
}

/// A group's resources: its members, or the protected resources of its type, or all of them.
pub fn list_resources_in_protection_group(
    ctx: &Ctx<'_>,
    input: shapes::ListResourcesInProtectionGroupRequest,
) -> Result<shapes::ListResourcesInProtectionGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (group, _) = read(&records::cached_reader(ctx.db), account, &input.protection_group_id)?;
    let resources: Vec<String> = if group.pattern == "ARBITRARY" {
        group.members
    } else {
        let rows =
            ctx.db.scan_prefix(&super::protections::protections_prefix(account), None, usize::MAX >> 1, false)?;
        let protected = super::protections::all(rows)?.into_iter().filter_map(|(p, _)| p.resource_arn);
        // Rampart's protected resources are application load balancers.
        let of_type = group.resource_type.as_deref().is_none_or(|t| t == "APPLICATION_LOAD_BALANCER");
        if of_type { protected.collect() } else { Vec::new() }
    };
    let (page, next_token) = super::page(resources, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListResourcesInProtectionGroupResponse { resource_arns: page, next_token })
}
