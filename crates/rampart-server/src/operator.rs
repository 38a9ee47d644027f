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

/// A partner's policy template, and optionally the permissions boundary registered with it, as
/// `rampart delegation register-template` gives them.
pub struct TemplateRegistration {
    pub partner_account: String,
    pub partner_name: String,
    pub domain: String,
    pub name: String,
    pub document: String,
    pub boundary: Option<(String, String)>,
}

/// Registers a partner's policy template (the operator's side of temporary-delegation
/// onboarding): from then on the partner's account may create delegation requests with it.
/// Safe beside a running server.
pub async fn register_delegation_template(
    config: &Config,
    registration: TemplateRegistration,
) -> Result<rampart_iam::iam::Registered, StartError> {
    let (db, db_path) = crate::open_store(config, false)?;
    let result = async {
        records::read::<Bootstrap>(&db, keys::BOOTSTRAP)?.ok_or_else(|| StartError::NoStore(db_path.clone()))?;
        let now = OffsetDateTime::now_utc();
        db.transact(move |tx| {
            let r = &registration;
            rampart_iam::iam::register_template(
                tx,
                (&r.partner_account, &r.partner_name, &r.domain),
                (&r.name, &r.document),
                r.boundary.as_ref().map(|(n, d)| (n.as_str(), d.as_str())),
                now,
            )
        })
        .await
        .map_err(tx_error)
    }
    .await;
    db.close();
    result
}

/// Hands out, oldest first, the notifications waiting for an SNS topic (Rampart serves no SNS:
/// delegation requests' notifications wait in the store, sealed). Each is handed out once.
pub async fn take_delegation_messages(
    config: &Config,
    sealer: rampart_store::Sealer,
    topic: String,
) -> Result<Vec<rampart_iam::iam::Notification>, StartError> {
    let (db, db_path) = crate::open_store(config, false)?;
    let result = async {
        records::read::<Bootstrap>(&db, keys::BOOTSTRAP)?.ok_or_else(|| StartError::NoStore(db_path.clone()))?;
        db.transact(move |tx| rampart_iam::iam::take_notifications(tx, &sealer, &topic)).await.map_err(tx_error)
    }
    .await;
    db.close();
    result
}

fn tx_error(e: TxError<ServiceError>) -> StartError {
    match e {
        TxError::Aborted(e) => StartError::Bootstrap(e),
        TxError::Store(e) => StartError::Store(e),
    }
}

/// What `rampart guardduty replay` did: events read, findings made or counted.
pub struct Replayed {
    pub events: usize,
    pub findings: usize,
}

/// Re-runs GuardDuty's detections over the events logged between two times, recording what
/// they find with each account's enabled detectors (`rampart guardduty replay`); safe beside a
/// running server.
pub async fn guardduty_replay(
    config: &Config,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Replayed, StartError> {
    let tor = match &config.guardduty_tor_exit_list {
        Some(file) => {
            let data = std::fs::read(file).map_err(|e| StartError::TorList(file.clone(), e))?;
            Some(std::sync::Arc::new(crate::guardduty::read_tor(file, &data)))
        }
        None => None,
    };
    let (db, _) = crate::open_store(config, false)?;
    let result = rampart_guardduty::engine::replay(
        &db,
        (from, to),
        OffsetDateTime::now_utc(),
        (tor, config.guardduty_thresholds),
    )
    .await;
    db.close();
    let (events, findings) = result?;
    Ok(Replayed { events, findings })
}
