//! Tags on load balancers, target groups and listeners, by ARN.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddTags.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Record, validation};

/// The caller's resource an ARN names (for a rule, its listener's record); each kind's own error
/// when there is none.
fn tagged(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    let Some(located) = super::locate(arn) else {
        return Err(validation(format!("'{arn}' is not a valid load balancer, target group, listener or rule ARN")));
    };
    let missing = match located.kind {
        Kind::LoadBalancer => super::balancer_not_found,
        Kind::TargetGroup => super::group_not_found,
        Kind::Listener => super::listener_not_found,
        Kind::Rule => {
            return super::rules::rule_record(get, account, arn);
        }
    };
    super::find(get, account, arn, located.kind)?.ok_or_else(missing)
}

/// The tags of the resource an ARN names within its record.
fn tags_of<'r>(record: &'r mut Record, arn: &str) -> Result<&'r mut Vec<(String, String)>, ServiceError> {
    if record.arn == arn {
        return Ok(&mut record.tags);
    }
    record.rules.iter_mut().find(|r| r.arn == arn).map(|r| &mut r.tags).ok_or_else(ServiceError::internal)
}

pub fn add_tags(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddTagsInput,
) -> Result<shapes::AddTagsOutput, ServiceError> {
    for arn in &input.resource_arns {
        let mut record = tagged(&records::tx_reader(tx), &ctx.principal.account_id, arn)?;
        super::merge_tags(tags_of(&mut record, arn)?, input.tags.clone())?;
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
        tags_of(&mut record, arn)?.retain(|(k, _)| !input.tag_keys.contains(k));
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
        let mut record = tagged(&get, &ctx.principal.account_id, &arn)?;
        let tags = std::mem::take(tags_of(&mut record, &arn)?);
        let tags = tags.into_iter().map(|(key, value)| shapes::Tag { key, value: Some(value) }).collect();
        out.push(shapes::TagDescription { resource_arn: Some(arn), tags: Some(tags) });
    }
    Ok(shapes::DescribeTagsOutput { tag_descriptions: Some(out) })
}
