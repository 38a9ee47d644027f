//! Console sign-in for people: the root user by email address, IAM users by account (id or alias)
//! and user name. The password is checked, then the MFA code when the identity has an enabled
//! device; a password past the policy's maximum age (or marked for reset) must be replaced in the
//! same request, or blocks sign-in under hard expiry. The result is a console session: temporary
//! credentials of the person, carrying MFA when a code was checked.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/console.html> and
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html>.
//!
//! Not an AWS API (AWS's sign-in pages are not public APIs): the HTTP face is Rampart's own
//! (`POST /_rampart/signin`), and its trail record is CloudTrail's `ConsoleLogin` event.

use rampart_core::records;
use rampart_store::{Db, Sealer, Tx};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::iam::{self, LoginProfileRecord, PasswordPolicyRecord};
use crate::sts::SessionClaims;
use rampart_core::account::AccountRecord;
use rampart_core::{Principal, PrincipalKind, ServiceError, TxCtx, account, keys};

/// A sign-in attempt, as the console posts it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInRequest {
    /// The root user's email address (root sign-in).
    #[serde(default)]
    pub email: Option<String>,
    /// The account id or alias (IAM user sign-in).
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    pub password: String,
    #[serde(default)]
    pub mfa_code: Option<String>,
    /// A replacement for an expired password or one marked for reset.
    #[serde(default)]
    pub new_password: Option<String>,
    /// Root only: assign this virtual MFA device (made with CreateVirtualMFADevice) to the root
    /// user, as the AWS console lets the signed-in root user do.
    #[serde(default)]
    pub enable_mfa: Option<EnableMfa>,
}

/// A virtual MFA device to enable for root, with two consecutive codes from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnableMfa {
    pub serial_number: String,
    pub authentication_code1: String,
    pub authentication_code2: String,
}

impl SignInRequest {
    /// Who the attempt claims to be, for throttling: the same string for every spelling of the
    /// same person — the email in any case, the account by id (with or without spaces and
    /// dashes) or by alias (`account`: what [`resolve_account`] found), the user name in any case.
    pub fn claimed(&self, account: Option<&str>) -> String {
        match (&self.email, &self.account, &self.user_name) {
            (Some(e), _, _) => format!("root:{}", e.trim().to_ascii_lowercase()),
            (None, Some(a), Some(u)) => {
                let a = account.map_or_else(|| a.trim().to_ascii_lowercase(), str::to_owned);
                format!("user:{a}:{}", u.trim().to_ascii_lowercase())
            }
            _ => "invalid".to_owned(),
        }
    }
}

/// The account a sign-in names: a 12-digit id, written with or without spaces and dashes
/// (`1234-5678-9012`), or an alias; `None` when there is no such alias.
pub fn resolve_account(db: &Db, given: &str) -> Result<Option<String>, ServiceError> {
    let digits: String = given.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(digits));
    }
    match db.get(&keys::alias_owner(&given.trim().to_ascii_lowercase()))? {
        Some(owner) => Ok(Some(String::from_utf8(owner).map_err(|_| ServiceError::internal())?)),
        None => Ok(None),
    }
}

/// The identity an attempt names, found before its password is checked.
#[derive(Debug, Clone)]
pub struct Target {
    pub principal: Principal,
    /// The argon2id hash to check the password against.
    pub hash: String,
    /// For an IAM user: the login profile and the account's password policy.
    pub profile: Option<(LoginProfileRecord, Option<PasswordPolicyRecord>)>,
    /// The enabled MFA device's serial, when the identity has one.
    pub mfa_serial: Option<String>,
}

/// Why an attempt failed. Every failure but `MfaRequired` and `PasswordChangeRequired` counts
/// toward throttling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// Unknown identity, no console password, wrong password or wrong MFA code: one answer for
    /// all, so an attempt learns nothing about which.
    Failed,
    /// The password was right; the identity has an MFA device and no code was given.
    MfaRequired,
    /// The password was right but must be replaced (`newPassword`).
    PasswordChangeRequired,
    /// The password expired and the policy's hard expiry lets only an administrator reset it.
    PasswordExpired,
    /// The replacement password breaks the policy.
    PolicyViolation(String),
    /// The authenticated request asked for something IAM refuses (enabling an MFA device).
    Rejected(ServiceError),
    Internal,
}

impl SignInError {
    pub fn code(&self) -> &str {
        if let SignInError::Rejected(e) = self {
            return &e.code;
        }
        self.base_code()
    }

    fn base_code(&self) -> &'static str {
        match self {
            SignInError::Failed => "AuthenticationFailed",
            SignInError::MfaRequired => "MfaRequired",
            SignInError::PasswordChangeRequired => "PasswordChangeRequired",
            SignInError::PasswordExpired => "PasswordExpired",
            SignInError::PolicyViolation(_) => "PasswordPolicyViolation",
            SignInError::Rejected(_) => "Rejected",
            SignInError::Internal => "InternalFailure",
        }
    }

    pub fn message(&self) -> String {
        match self {
            SignInError::Failed => "Your authentication information is incorrect. Please try again.".to_owned(),
            SignInError::MfaRequired => "Enter the code from your MFA device.".to_owned(),
            SignInError::PasswordChangeRequired => {
                "Your password has expired or must be reset; choose a new one (newPassword).".to_owned()
            }
            SignInError::PasswordExpired => {
                "Your password has expired. Contact your administrator to reset it.".to_owned()
            }
            SignInError::PolicyViolation(m) => m.clone(),
            SignInError::Rejected(e) => e.message.clone(),
            SignInError::Internal => "We encountered an internal error. Please try again.".to_owned(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            SignInError::Failed | SignInError::MfaRequired | SignInError::PasswordExpired => 401,
            SignInError::PasswordChangeRequired => 403,
            SignInError::PolicyViolation(_) => 400,
            SignInError::Rejected(e) => e.status,
            SignInError::Internal => 500,
        }
    }

    /// Whether the attempt counts as a failed sign-in for throttling.
    pub fn counts(&self) -> bool {
        matches!(self, SignInError::Failed)
    }
}

impl From<ServiceError> for SignInError {
    fn from(e: ServiceError) -> Self {
        if e.status >= 500 { SignInError::Internal } else { SignInError::Failed }
    }
}

/// A hash no password matches, verified for unknown identities so that they take as long as
/// known ones (the attempt learns nothing from timing either).
pub static DECOY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| account::hash_password("rampart decoy password").unwrap_or_default());

/// Finds the identity an attempt names; `None` when there is none (or it has no password).
pub fn find_target(db: &Db, req: &SignInRequest) -> Result<Option<Target>, ServiceError> {
    match (&req.email, &req.account, &req.user_name) {
        (Some(email), None, None) => {
            let email = email.trim();
            let accounts: Vec<AccountRecord> = records::scan_records(db, b"acct/")?;
            let Some(a) = accounts.into_iter().find(|a| a.root_email.eq_ignore_ascii_case(email)) else {
                return Ok(None);
            };
            let mfa_serial = iam::enabled_device(db, &a.id, None)?.map(|d| d.serial());
            Ok(Some(Target {
                principal: Principal::root(&a.id, None),
                hash: a.root_password_hash,
                profile: None,
                mfa_serial,
            }))
        }
        (None, Some(acct), Some(name)) => {
            let Some(account_id) = resolve_account(db, acct)? else { return Ok(None) };
            let Some(user) = iam::read_user(db, &account_id, name)? else { return Ok(None) };
            let Some(profile) = iam::read_login_profile(db, &account_id, &user.name)? else { return Ok(None) };
            let Some(hash) = profile.hashes.first().cloned() else { return Ok(None) };
            let policy = iam::read_password_policy(db, &account_id)?;
            let mfa_serial = iam::enabled_device(db, &account_id, Some(&user.name))?.map(|d| d.serial());
            Ok(Some(Target { principal: user.principal(None), hash, profile: Some((profile, policy)), mfa_serial }))
        }
        _ => Ok(None),
    }
}

/// What is left to do once the password matched: the MFA check and any password replacement,
/// done by [`complete`] in one transaction with the session's audit record.
#[derive(Debug)]
pub struct Checked {
    pub target: Target,
    /// The new password's hash, when one replaces an expired or reset password.
    pub new_hash: Option<String>,
}

/// After the password matched: decides whether MFA or a new password is needed, and prepares the
/// new password (policy, reuse, hash) outside the transaction.
pub fn after_password(target: Target, req: &SignInRequest, now: OffsetDateTime) -> Result<Checked, SignInError> {
    if target.mfa_serial.is_some() && req.mfa_code.as_deref().is_none_or(str::is_empty) {
        return Err(SignInError::MfaRequired);
    }
    if req.enable_mfa.is_some() && target.principal.kind != PrincipalKind::Root {
        return Err(SignInError::Rejected(ServiceError::new(
            "InvalidInput",
            400,
            "Only the root user enables its MFA device at sign-in; IAM users' devices are enabled with EnableMFADevice.",
        )));
    }
    let mut new_hash = None;
    if let Some((profile, policy)) = &target.profile {
        let expired = profile.expired(policy.as_ref(), now);
        if expired && policy.as_ref().is_some_and(|p| p.hard_expiry) {
            return Err(SignInError::PasswordExpired);
        }
        if expired || profile.reset_required {
            let Some(new) = req.new_password.as_deref() else { return Err(SignInError::PasswordChangeRequired) };
            new_hash = Some(
                iam::prepare_new_password(policy.as_ref(), profile, new)
                    .map_err(|e| SignInError::PolicyViolation(e.message))?,
            );
        }
    }
    Ok(Checked { target, new_hash })
}

/// How long a console session lasts: 12 hours for IAM users, one hour for root.
pub const USER_SESSION_SECONDS: i32 = 43_200;
pub const ROOT_SESSION_SECONDS: i32 = 3_600;

/// Inside the transaction: spends the MFA code's step, stores a new password, and seals the
/// console session. A wrong code fails the whole attempt and changes nothing.
pub fn complete(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    now: OffsetDateTime,
    checked: &Checked,
    mfa_code: Option<&str>,
    enable_mfa: Option<&EnableMfa>,
) -> Result<(SessionClaims, String), SignInError> {
    let p = &checked.target.principal;
    let mut mfa_at = None;
    if let (Some(serial), Some(code)) = (&checked.target.mfa_serial, mfa_code) {
        let ctx =
            TxCtx { principal: p, sealer, now, region: "", refused: &[], asked: Default::default(), prepared: None };
        iam::accept_mfa_code(tx, &ctx, serial, code)
            .map_err(|e| if e.status >= 500 { SignInError::Internal } else { SignInError::Failed })?;
        mfa_at = Some(now);
    }
    iam::note_password_use(tx, &p.account_id, &p.user_id, now)?;
    if let (Some(hash), Some(name)) = (&checked.new_hash, &p.user_name) {
        iam::set_password_tx(tx, &p.account_id, name, hash.clone(), now)?;
    }
    if let Some(e) = enable_mfa.filter(|_| p.kind == PrincipalKind::Root) {
        let codes = (e.authentication_code1.as_str(), e.authentication_code2.as_str());
        iam::enable_root_mfa_device(tx, sealer, now, &p.account_id, &e.serial_number, codes)
            .map_err(|e| if e.status >= 500 { SignInError::Internal } else { SignInError::Rejected(e) })?;
    }
    let seconds = if p.kind == PrincipalKind::Root { ROOT_SESSION_SECONDS } else { USER_SESSION_SECONDS };
    let mut claims = crate::sts::own_session(p, now, Some(seconds))?;
    claims.mfa_at = mfa_at;
    claims.console = true;
    let token = crate::sts::seal_token(sealer, &claims)?;
    Ok((claims, token))
}
