//! Tags on WAF entities, by ARN.
//! See <https://docs.aws.amazon.com/waf/latest/APIReference/API_TagResource.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{Stored, invalid_parameter, page, save};

/// The most tags an entity can have.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/limits.html>.
const MAX_TAGS: usize = 50;

/// The caller's entity an ARN names, with where it is.
fn tagged(
    get: &records::Reader<'_>,
    account: &str,
    arn: &str,
) -> Result<(super::Place, super::Kind, Stored), ServiceError> {
    if super::parse_arn(arn).is_none() {
        return Err(invalid_parameter("RESOURCE_ARN", arn, "The ARN isn't valid."));
    }
    super::owned(get, account, arn)
}

pub fn tag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TagResourceRequest,
) -> Result<shapes::TagResourceResponse, ServiceError> {
    let (place, kind, mut stored) = tagged(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    for tag in input.tags {
        match stored.tags.iter_mut().find(|(k, _)| *k == tag.key) {
            Some(existing) => existing.1 = tag.value,
            None => stored.tags.push((tag.key, tag.value)),
        }
    }
    if stored.tags.len() > MAX_TAGS {
        return Err(super::limits_exceeded());
    }
    save(tx, &place, kind, &stored)?;
    Ok(shapes::TagResourceResponse {})
}

pub fn untag_resource(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UntagResourceRequest,
) -> Result<shapes::UntagResourceResponse, ServiceError> {
    let (place, kind, mut stored) = tagged(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    stored.tags.retain(|(k, _)| !input.tag_keys.contains(k));
    save(tx, &place, kind, &stored)?;
    Ok(shapes::UntagResourceResponse {})
}

pub fn list_tags_for_resource(
    ctx: &Ctx<'_>,
    input: shapes::ListTagsForResourceRequest,
) -> Result<shapes::ListTagsForResourceResponse, ServiceError> {
    let (_, _, stored) = tagged(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.resource_arn)?;
    let all: Vec<shapes::Tag> = stored.tags.into_iter().map(|(key, value)| shapes::Tag { key, value }).collect();
    let (tag_list, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListTagsForResourceResponse {
        next_marker,
        tag_info_for_resource: Some(shapes::TagInfoForResource {
            resource_arn: Some(input.resource_arn),
            tag_list: Some(tag_list),
        }),
    })
}
