//! Dev mode's identity: the administrator IAM user an access key Rampart never issued acts as, so
//! that test suites written for AWS (assume a role with the default credentials, Terraform's
//! `assume_role`) meet trust policies, sessions and permissions as in AWS. It is an ordinary user,
//! visible and editable; root stays reachable through the root credentials file.

use std::sync::Arc;

use rampart_core::{Principal, ServiceError, TxCtx, account};
use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, Sealer, TxError};
use time::OffsetDateTime;

use super::{attach_user_policy, create_user, read_user, read_user_tx};

/// The user's name.
pub const DEV_USER: &str = "rampart-dev";

/// The policy it holds: every permission, as an administrator's.
pub const DEV_USER_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// Makes sure the account exists and holds the dev user, creating what is missing (at start-up
/// for the dev account; on first use for an account a 12-digit key id names, or after a reset or
/// a deletion of the user).
pub async fn ensure_dev_user(db: &Db, sealer: Arc<Sealer>, account_id: &str) -> Result<(), ServiceError> {
    account::ensure_dev_account(db, account_id).await?;
    if read_user(db, account_id, DEV_USER)?.is_some() {
        return Ok(());
    }
    let root = Principal::root(account_id, None);
    let result = db
        .transact(move |tx| {
            // Another request may have created it since the read above.
            if read_user_tx(tx, &root.account_id, DEV_USER)?.is_some() {
                return Ok(());
            }
            let ctx = TxCtx {
                principal: &root,
                sealer: &sealer,
                now: OffsetDateTime::now_utc(),
                region: "us-east-1",
                refused: &[],
                asked: Default::default(),
                prepared: None,
            };
            let tags = vec![shapes::Tag { key: "rampart:purpose".into(), value: "dev-mode".into() }];
            let user = shapes::CreateUserRequest {
                path: None,
                user_name: DEV_USER.into(),
                permissions_boundary: None,
                tags: Some(tags),
            };
            create_user(tx, &ctx, user)?;
            let attach =
                shapes::AttachUserPolicyRequest { user_name: DEV_USER.into(), policy_arn: DEV_USER_POLICY.into() };
            attach_user_policy(tx, &ctx, attach)
        })
        .await;
    result.map_err(|e| match e {
        TxError::Aborted(e) => e,
        TxError::Store(e) => ServiceError::from(e),
    })
}
