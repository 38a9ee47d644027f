//! `POST /_rampart/signin`: console sign-in (the logic is `rampart_iam::signin`), throttled
//! per claimed identity and per source address, every attempt a CloudTrail `ConsoleLogin` event.
//!
//! Request (JSON): `{"email","password"[,"mfaCode"]}` for root, or
//! `{"account","userName","password"[,"mfaCode"][,"newPassword"]}` for an IAM user (account id or
//! alias). Success: `200 {"accessKeyId","secretAccessKey","sessionToken","expiration","arn",
//! "accountId","mfaAuthenticated"}`; failure: `{"error","message"}` with 400, 401, 403 or 429.

use std::time::Duration;

use rampart_cloudtrail::{Event, UserIdentity};
use rampart_core::{Principal, account, keys};
use rampart_iam::signin::{self, Checked, DECOY_HASH, SignInError, SignInRequest, Target};
use rampart_store::TxError;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::{App, Response, respond};
use crate::audit::{self, Draft, Origin};

/// Failed attempts within this window count toward the limits.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts one identity may have in a window before further attempts are refused.
pub const PER_IDENTITY: u32 = 5;
/// Failed attempts one source address may have in a window (across identities).
pub const PER_ADDRESS: u32 = 20;

/// Recent failed sign-ins, by claimed identity and by source address, kept in the store so that
/// every node of a cluster counts the same attempts (a record per key; expired ones are swept by
/// [`sweep_throttle`]). A failure to read it refuses the attempt: throttling fails closed.
mod throttle {
    use super::*;

    /// A key's failures in the current window.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Failures {
        n: u32,
        /// When the window began (Unix seconds).
        since: i64,
    }

    fn throttle_key(key: &str) -> Vec<u8> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let mut k = keys::SIGNIN_THROTTLE.to_vec();
        k.extend_from_slice(data_encoding::HEXLOWER.encode(digest.as_ref()).as_bytes());
        k
    }

    fn window_secs() -> i64 {
        i64::try_from(WINDOW.as_secs()).unwrap_or(i64::MAX)
    }

    fn current(bytes: Option<&[u8]>, now: OffsetDateTime) -> Option<Failures> {
        let f: Failures = serde_json::from_slice(bytes?).ok()?;
        (now.unix_timestamp().saturating_sub(f.since) < window_secs()).then_some(f)
    }

    pub(super) fn blocked(db: &rampart_store::Db, key: &str, limit: u32, now: OffsetDateTime) -> bool {
        match db.get_cached(&throttle_key(key)) {
            Ok(v) => current(v.as_deref(), now).is_some_and(|f| f.n >= limit),
            Err(e) => {
                tracing::error!(error = %e, "reading the sign-in throttle failed; the attempt is refused");
                true
            }
        }
    }

    /// Counts a failure against each key.
    pub(super) async fn fail(db: &rampart_store::Db, keys: [&str; 2], now: OffsetDateTime) {
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| throttle_key(k)).collect();
        let counted = db
            .transact(move |tx| -> Result<(), rampart_store::StoreError> {
                for k in &keys {
                    let mut f =
                        current(tx.get(k)?.as_deref(), now).unwrap_or(Failures { n: 0, since: now.unix_timestamp() });
                    f.n = f.n.saturating_add(1);
                    tx.put(k, &serde_json::to_vec(&f).unwrap_or_default())?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = counted {
            tracing::error!(error = %e, "counting a failed sign-in failed");
        }
    }

    pub(super) async fn clear(db: &rampart_store::Db, key: &str) {
        let k = throttle_key(key);
        if db.get_cached(&k).is_ok_and(|v| v.is_none()) {
            return;
        }
        if let Err(e) = db.transact(move |tx| tx.delete(&k)).await {
            tracing::error!(error = %e, "clearing the sign-in throttle failed");
        }
    }

    /// Deletes throttle records whose window has passed; run in the background.
    pub fn sweep_throttle(
        tx: &mut rampart_store::Tx<'_>,
        now: OffsetDateTime,
    ) -> Result<usize, rampart_store::StoreError> {
        let expired: Vec<Vec<u8>> = tx
            .scan_prefix(keys::SIGNIN_THROTTLE, None, usize::MAX >> 1, false)?
            .into_iter()
            .filter(|(_, v)| current(Some(v), now).is_none())
            .map(|(k, _)| k)
            .collect();
        for k in &expired {
            tx.delete(k)?;
        }
        Ok(expired.len())
    }
}

pub use throttle::sweep_throttle;

fn address_key(origin: &Origin) -> String {
    format!("ip:{}", origin.source_ip)
}

/// The `ConsoleLogin` event of an attempt.
fn event(
    app: &App,
    origin: &Origin,
    request_id: &str,
    now: OffsetDateTime,
    identity: UserIdentity,
    mfa_used: bool,
    error: Option<&SignInError>,
) -> Event {
    let draft = Draft {
        event_source: Some("signin.amazonaws.com".to_owned()),
        event_name: Some("ConsoleLogin".to_owned()),
        identity: Some(identity),
        response_elements: Some(json!({ "ConsoleLogin": if error.is_some() { "Failure" } else { "Success" } })),
        ..Draft::default()
    };
    let message = error.map(|e| match e {
        SignInError::Failed => "Failed authentication".to_owned(),
        other => other.message(),
    });
    let mut ev = audit::event(
        draft,
        origin,
        request_id,
        now,
        &app.config.region,
        error.zip(message.as_deref()).map(|(e, m)| (e.code(), m)),
    );
    ev.event_type = "AwsConsoleSignIn".to_owned();
    ev.additional_event_data = Some(json!({
        "LoginTo": format!("{}/console", origin.endpoint(app)),
        "MobileVersion": "No",
        "MFAUsed": if mfa_used { "Yes" } else { "No" },
    }));
    ev
}

/// Who a failed attempt was, as CloudTrail shows it: a known identity by name, an unknown one
/// hidden (the trail must not collect mistyped passwords entered as user names).
fn attempted(target: Option<&Target>, req: &SignInRequest, account: Option<&str>) -> UserIdentity {
    match target {
        Some(t) => identity(&t.principal),
        None => UserIdentity {
            kind: if req.email.is_some() { "Root" } else { "IAMUser" }.to_owned(),
            principal_id: None,
            arn: None,
            // The account, however it was named (an alias, an id with dashes), so that the
            // attempt is in that account's trail.
            account_id: account.map(str::to_owned),
            user_name: Some(rampart_cloudtrail::REDACTED.to_owned()),
            ..UserIdentity::unknown(None)
        },
    }
}

fn identity(p: &Principal) -> UserIdentity {
    UserIdentity { access_key_id: None, ..UserIdentity::of(p) }
}

fn refuse(e: &SignInError, request_id: &str) -> Response {
    let body = json!({ "error": e.code(), "message": e.message() }).to_string();
    respond(e.status(), "application/json", body, request_id)
}

/// Serves one sign-in attempt.
pub async fn handle(app: &App, body: &[u8], origin: &Origin, request_id: &str) -> Response {
    let now = OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    // The request log names who an attempt was as its event does (a mistyped name hidden).
    let log = |identity: &UserIdentity, status: u16, error: Option<(&str, &str)>| {
        let draft = Draft {
            event_source: Some("signin.amazonaws.com".to_owned()),
            event_name: Some("ConsoleLogin".to_owned()),
            identity: Some(identity.clone()),
            ..Draft::default()
        };
        crate::app::request_log(&draft, origin, request_id, status, error, started);
    };
    let record = |identity: UserIdentity, mfa: bool, error: Option<&SignInError>| {
        let (code, message) = error.map(|e| (e.code().to_owned(), e.message())).unzip();
        let status = error.map_or(200, SignInError::status);
        log(&identity, status, code.as_deref().zip(message.as_deref()));
        let ev = event(app, origin, request_id, now, identity, mfa, error);
        audit::queue(&app.db, &ev, now);
    };
    let req: SignInRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => {
            let body = json!({
                "error": "InvalidRequest",
                "message": "The body must be JSON: {\"email\",\"password\"} or {\"account\",\"userName\",\"password\"}, with \"mfaCode\" and \"newPassword\" when asked."
            });
            return respond(400, "application/json", body.to_string(), request_id);
        }
    };
    let named_account = match req.account.as_deref().map(|a| signin::resolve_account(&app.db, a)).transpose() {
        Ok(a) => a.flatten(),
        Err(e) => {
            tracing::error!(request_id, code = %e.code, "sign-in lookup failed");
            return refuse(&SignInError::Internal, request_id);
        }
    };
    let (who, address) = (req.claimed(named_account.as_deref()), address_key(origin));
    if throttle::blocked(&app.db, &who, PER_IDENTITY, now) || throttle::blocked(&app.db, &address, PER_ADDRESS, now) {
        let e = SignInError::Failed;
        record(attempted(None, &req, named_account.as_deref()), false, Some(&e));
        let body = json!({ "error": "Throttling", "message": "Too many failed sign-in attempts. Try again later." });
        let mut r = respond(429, "application/json", body.to_string(), request_id);
        r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(WINDOW.as_secs()));
        return r;
    }
    let target = match signin::find_target(&app.db, &req) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(request_id, code = %e.code, "sign-in lookup failed");
            return refuse(&SignInError::Internal, request_id);
        }
    };
    // argon2 (and the new password's hash) run off the async workers. An unknown identity is
    // checked against a decoy hash, so it takes as long as a known one.
    let failed_identity = attempted(target.as_ref(), &req, named_account.as_deref());
    let password = zeroize::Zeroizing::new(req.password.clone());
    let req_for_check = req.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<Checked, SignInError> {
        let hash = target.as_ref().map_or(DECOY_HASH.as_str(), |t| t.hash.as_str());
        let ok = account::verify_password(&password, hash);
        match target {
            Some(t) if ok => signin::after_password(t, &req_for_check, now),
            _ => Err(SignInError::Failed),
        }
    })
    .await
    .unwrap_or(Err(SignInError::Internal));
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            if e.counts() {
                throttle::fail(&app.db, [&who, &address], now).await;
            }
            record(failed_identity, false, Some(&e));
            return refuse(&e, request_id);
        }
    };
    // The MFA step is spent, any new password stored and the success recorded in one transaction.
    let mfa_used = checked.target.mfa_serial.is_some();
    let principal_identity = identity(&checked.target.principal);
    let principal_identity_logged = principal_identity.clone();
    let sealer = app.sealer.clone();
    let code = req.mfa_code.clone();
    let (origin_c, rid) = (origin.clone(), request_id.to_owned());
    let success = event(app, &origin_c, &rid, now, principal_identity.clone(), mfa_used, None);
    // Root assigning an MFA device at sign-in: its own IAM event, committed with the change.
    let enable = req.enable_mfa.clone();
    let enabled_event = enable.as_ref().map(|e| {
        let draft = Draft {
            event_source: Some("iam.amazonaws.com".to_owned()),
            event_name: Some("EnableMFADevice".to_owned()),
            identity: Some(principal_identity.clone()),
            request_parameters: Some(json!({ "serialNumber": e.serial_number })),
            ..Draft::default()
        };
        audit::event(draft, &origin_c, &rid, now, &app.config.region, None)
    });
    let result = app
        .db
        .transact(move |tx| -> Result<_, SignInError> {
            let out = signin::complete(tx, &sealer, now, &checked, code.as_deref(), enable.as_ref())?;
            for ev in std::iter::once(&success).chain(enabled_event.as_ref()) {
                let bytes = rampart_cloudtrail::pack_event(ev).ok_or(SignInError::Internal)?;
                let at = rampart_cloudtrail::position(now);
                tx.log_append(at, &bytes).map_err(|_| SignInError::Internal)?;
            }
            Ok(out)
        })
        .await;
    match result {
        Ok((claims, token)) => {
            throttle::clear(&app.db, &who).await;
            log(&principal_identity_logged, 200, None);
            let body = json!({
                "accessKeyId": claims.access_key_id,
                "secretAccessKey": claims.secret,
                "sessionToken": token,
                "expiration": claims.expires.format(&Rfc3339).unwrap_or_default(),
                "arn": claims.principal().arn,
                "accountId": claims.account_id,
                "mfaAuthenticated": claims.mfa_at.is_some(),
            });
            respond(200, "application/json", body.to_string(), request_id)
        }
        Err(e) => {
            let e = match e {
                TxError::Aborted(e) => e,
                TxError::Store(err) => {
                    tracing::error!(request_id, error = %err, "sign-in transaction failed");
                    SignInError::Internal
                }
            };
            if e.counts() {
                throttle::fail(&app.db, [&who, &address], now).await;
            }
            record(principal_identity, mfa_used, Some(&e));
            refuse(&e, request_id)
        }
    }
}
