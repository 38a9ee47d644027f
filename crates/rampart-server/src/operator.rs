//! Operator commands run on the machine beside the data directory, without the API: what a
//! person needs when the API cannot help (the root password shown once was lost).

use rampart_core::records;
use std::path::Path;

use rampart_cloudtrail::{self, UserIdentity};
use rampart_core::account::{self, AccountRecord, Bootstrap};
use rampart_core::{Principal, ServiceError, keys};
use rampart_store::{Db, TxError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{self, Draft, Origin};
use crate::{Config, StartError};

/// The master key of a store, for an operator command that reads sealed data (object bytes): the
/// `RAMPART_MASTER_KEY` variable, else `master_key_file`, else the data directory's `master.key`.
/// Never creates one.
pub fn open_sealer(data_dir: &Path, master_key_file: Option<&Path>) -> Result<rampart_store::Sealer, StartError> {
    let source = match (std::env::var_os("RAMPART_MASTER_KEY"), master_key_file) {
        (Some(k), _) => crate::MasterKeySource::Inline(Zeroizing::new(k.to_string_lossy().as_bytes().to_vec())),
        (None, Some(f)) => crate::MasterKeySource::File(f.to_owned()),
        (None, None) => crate::MasterKeySource::DataDir,
    };
    Ok(crate::data_dir::master_key(data_dir, &source, true)?)
}

/// The root user's new password, to show once.
pub struct PasswordReset {
    pub account_id: String,
    pub root_email: String,
    pub password: Zeroizing<String>,
}

/// Gives the root user of `account_id` (default: the management account) a new generated
/// password, and records it as CloudTrail's `PasswordRecoveryCompleted` sign-in event in the same
/// transaction. Safe beside a running server: sign-in reads the root's record from the store.
/// The store is `config`'s: its data directory's, or its PostgreSQL database.
pub async fn reset_root_password(config: &Config, account_id: Option<String>) -> Result<PasswordReset, StartError> {
    let (db, db_path) = crate::open_store(config, false)?;
    let result = reset(&db, &db_path, account_id).await;
    db.close();
    result
}

async fn reset(db: &Db, db_path: &Path, account_id: Option<String>) -> Result<PasswordReset, StartError> {
    let marker: Bootstrap =
        records::read(db, keys::BOOTSTRAP)?.ok_or_else(|| StartError::NoStore(db_path.to_owned()))?;
    let account_id = account_id.unwrap_or(marker.management_account_id);
    let password = account::new_password()?;
    let hash = account::hash_password(&password)?;
    let now = OffsetDateTime::now_utc();
    let acct = account_id.clone();
    let email = db
        .transact(move |tx| -> Result<String, ServiceError> {
            let key = keys::account(&acct);
            let bytes = tx
                .get(&key)?
                .ok_or_else(|| ServiceError::new("NoSuchEntity", 404, format!("this store has no account {acct}")))?;
            let mut record: AccountRecord = serde_json::from_slice(&bytes).map_err(|_| ServiceError::internal())?;
            record.root_password_hash = hash;
            tx.put(&key, &serde_json::to_vec(&record).map_err(|_| ServiceError::internal())?)?;
            let draft = Draft {
                event_source: Some("signin.amazonaws.com".to_owned()),
                event_name: Some("PasswordRecoveryCompleted".to_owned()),
                identity: Some(UserIdentity { access_key_id: None, ..UserIdentity::of(&Principal::root(&acct, None)) }),
                response_elements: Some(serde_json::json!({ "PasswordRecoveryCompleted": "Success" })),
                ..Draft::default()
            };
            let origin = Origin {
                source_ip: "127.0.0.1".to_owned(),
                user_agent: "rampart root reset-password".to_owned(),
                tls: None,
            };
            let request_id = uuid::Uuid::new_v4().to_string();
            let mut ev = audit::event(draft, &origin, &request_id, now, "us-east-1", None);
            ev.event_type = "AwsConsoleSignIn".to_owned();
            let json = rampart_cloudtrail::record_json(&ev).ok_or_else(ServiceError::internal)?;
            tx.log_append(rampart_cloudtrail::position(now), &rampart_cloudtrail::stored::pack(&json))?;
            Ok(record.root_email)
        })
        .await
        .map_err(|e| match e {
            TxError::Aborted(e) => StartError::Bootstrap(e),
            TxError::Store(e) => StartError::Store(e),
        })?;
    Ok(PasswordReset { account_id, root_email: email, password })
}
