//! S3 Control's account-level Block Public Access: settings an account sets once over every bucket
//! it owns, now and later. Each of the four binds wherever either the account or the bucket turns
//! it on (see [`crate::protection::effective_pab`]).
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html>
//! and <https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::s3control as shapes;
use rampart_store::Tx;

use crate::{PublicAccessBlock, account_public_access_block_key};

/// S3 Control acts only on the caller's own account: another account's settings are refused as
/// S3 refuses what a policy does not allow.
fn own_account<'a>(caller: &str, asked: &'a str) -> Result<&'a str, ServiceError> {
    if asked == caller { Ok(asked) } else { Err(ServiceError::access_denied("Access Denied")) }
}

fn no_configuration() -> ServiceError {
    ServiceError::new(
        "NoSuchPublicAccessBlockConfiguration",
        404,
        "The public access block configuration was not found",
    )
}

pub fn put_public_access_block(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutPublicAccessBlockRequest,
) -> Result<(), ServiceError> {
    let account = own_account(&ctx.principal.account_id, &input.account_id)?;
    let settings = PublicAccessBlock::from(&input.public_access_block_configuration);
    records::write_tx(tx, &account_public_access_block_key(account), &settings)
}

pub fn get_public_access_block(
    ctx: &Ctx<'_>,
    input: shapes::GetPublicAccessBlockRequest,
) -> Result<shapes::GetPublicAccessBlockOutput, ServiceError> {
    let account = own_account(&ctx.principal.account_id, &input.account_id)?;
    let s: PublicAccessBlock =
        records::read(ctx.db, &account_public_access_block_key(account))?.ok_or_else(no_configuration)?;
    Ok(shapes::GetPublicAccessBlockOutput { public_access_block_configuration: Some(s.into()) })
}

/// Removes the account's settings; each bucket keeps its own. Deleting settings that were never
/// put succeeds, as S3's DELETE does.
pub fn delete_public_access_block(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeletePublicAccessBlockRequest,
) -> Result<(), ServiceError> {
    let account = own_account(&ctx.principal.account_id, &input.account_id)?;
    tx.delete(&account_public_access_block_key(account))?;
    Ok(())
}
