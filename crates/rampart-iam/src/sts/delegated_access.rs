//! STS GetDelegatedAccessToken: a partner trades the token an approver sent it (IAM
//! SendDelegationToken) for credentials that act as that approver, bounded by the accepted policy,
//! until the delegation period ends.
//! See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetDelegatedAccessToken.html>.

use rampart_core::{Ctx, ServiceError};
use rampart_shapes::generated::sts::{GetDelegatedAccessTokenRequest, GetDelegatedAccessTokenResponse};
use time::Duration;

use super::{delegated_credentials, packed_size};
use crate::iam;

pub fn get_delegated_access_token(
    ctx: &Ctx<'_>,
    input: GetDelegatedAccessTokenRequest,
) -> Result<GetDelegatedAccessTokenResponse, ServiceError> {
    // Only the partner the token was sent to may trade it; to anyone else it is no token.
    let request = iam::traded(ctx.db, &input.trade_in_token)?
        .filter(|r| r.requestor_account == ctx.principal.account_id)
        .ok_or_else(|| ServiceError::new("InvalidParameterValue", 400, "The trade-in token is not valid."))?;
    let (Some(approver), Some(finalized)) = (&request.approver, request.finalized) else {
        return Err(ServiceError::new("InvalidParameterValue", 400, "The trade-in token is not valid."));
    };
    // The delegation period starts when the token is sent and lasts the requested duration;
    // credentials traded later end with it.
    let ends = finalized + Duration::seconds(i64::from(request.session_duration));
    if ctx.now >= ends {
        return Err(ServiceError::new(
            "ExpiredTradeInTokenException",
            400,
            "The trade-in token has expired: its delegation period is over.",
        ));
    }
    let (credentials, arn) = delegated_credentials(ctx.sealer, approver, &request.policy, ctx.now, ends)?;
    Ok(GetDelegatedAccessTokenResponse {
        credentials: Some(credentials),
        packed_policy_size: packed_size(Some(&request.policy)),
        assumed_principal: Some(arn),
    })
}
