//! AWS Security Token Service.

use rampart_shapes::generated::sts::{GetCallerIdentityRequest, GetCallerIdentityResponse};

use crate::{Ctx, ServiceError};

/// Returns the caller's account, ARN and user id, exactly as AWS does for each principal kind.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>.
pub fn get_caller_identity(
    ctx: &Ctx<'_>,
    _input: GetCallerIdentityRequest,
) -> Result<GetCallerIdentityResponse, ServiceError> {
    Ok(GetCallerIdentityResponse {
        user_id: Some(ctx.principal.user_id.clone()),
        account: Some(ctx.principal.account_id.clone()),
        arn: Some(ctx.principal.arn.clone()),
    })
}
