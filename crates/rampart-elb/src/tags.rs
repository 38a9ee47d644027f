//! Tags on load balancers, target groups and listeners, by ARN.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddTags.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Record, validation};

/// The caller's resource an ARN names; each kind's own error when there is none.
fn tagged(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    let Some(located) = super::locate(arn) else {
        return Err(validation(format!("'{arn}' is not a valid load balancer, target group or listener ARN")));
    };
    let missing = match located.kind {
        Kind::LoadBalancer => super::balancer_not_found,
        Kind::TargetGroup => super::group_not_found,
        Kind::Listener => super::listener_not_found,
    };
    super::find(get, account, arn, located.kind)?.ok_or_else(missing)
}

pub fn add_tags(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddTagsInput,
) -> Result<shapes::AddTagsOutput, ServiceError> {
    for arn in &input.resource_arns {
        let mut record = tagged(&records::tx_reader(tx), &ctx.principal.account_id, arn)?;
        super::merge_tags(&mut record.tags, input.tags.clone())?;
        super::save(tx, &record)?;
    }
    Ok(shapes::AddTagsOutput {})
}

pub fn remove_tags(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveTagsInput,
) -> Result<shapes::RemoveTagsOutput, ServiceError> {
    for arn in &input.resource_arns {
        let mut record = tagged(&records::tx_reader(tx), &ctx.principal.account_id, arn)?;
        record.tags.retain(|(k, _)| !input.tag_keys.contains(k));
        super::save(tx, &record)?;
    }
    Ok(shapes::RemoveTagsOutput {})
}

pub fn describe_tags(
    ctx: &Ctx<'_>,
    input: shapes::DescribeTagsInput,
) -> Result<shapes::DescribeTagsOutput, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let mut out = Vec::new();
    for arn in input.resource_arns {
        let record = tagged(&get, &ctx.principal.account_id, &arn)?;
        let tags = record.tags.into_iter().map(|(key, value)| shapes::Tag { key, value: Some(value) }).collect();
        out.push(shapes::TagDescription { resource_arn: Some(arn), tags: Some(tags) });
    }
    Ok(shapes::DescribeTagsOutput { tag_descriptions: Some(out) })
}
