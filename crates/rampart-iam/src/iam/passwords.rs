//! Console passwords: login profiles (argon2id hashes, never the password) and the account
//! password policy, enforced on every password set or changed. Hashing and the policy checks run
//! in each operation's `prepare` step, on the request's task, so the store's writer never waits
//! on argon2.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html>.

use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{no_such_user, read_user, read_user_tx};
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, PrincipalKind, ServiceError, TxCtx, keys};

/// Characters IAM counts as symbols.
pub const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

fn policy_key(account: &str) -> Vec<u8> {
    format!("iam/{account}/password-policy").into_bytes()
}

fn profile_key(account: &str, user: &str) -> Vec<u8> {
    format!("iam/{account}/login-profile/{}", user.to_ascii_lowercase()).into_bytes()
}

/// The account's password policy, as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PasswordPolicyRecord {
    pub v: u32,
    pub minimum_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    /// Days; 0 is never.
    pub max_age_days: u32,
    /// How many previous passwords may not be reused; 0 is none.
    pub reuse_prevention: u32,
    pub hard_expiry: bool,
}

/// A user's console password, as stored: argon2id PHC strings only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginProfileRecord {
    pub v: u32,
    pub user_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub changed: OffsetDateTime,
    pub reset_required: bool,
    /// The current hash first, then earlier ones kept for reuse prevention (at most 24).
    pub hashes: Vec<String>,
}

fn violation(message: impl Into<String>) -> ServiceError {
    ServiceError::new("PasswordPolicyViolation", 400, message)
}

fn no_such_profile(user: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("Login Profile for User {user} cannot be found."))
}

fn read_policy(ctx: &Ctx<'_>) -> Result<Option<PasswordPolicyRecord>, ServiceError> {
    read_password_policy(ctx.db, &ctx.principal.account_id)
}

/// The account's password policy, if it set one.
pub fn read_password_policy(
    db: &rampart_store::Db,
    account: &str,
) -> Result<Option<PasswordPolicyRecord>, ServiceError> {
    read_cached(db, &policy_key(account))
}

/// A user's login profile, if the user has a console password.
pub fn read_login_profile(
    db: &rampart_store::Db,
    account: &str,
    user: &str,
) -> Result<Option<LoginProfileRecord>, ServiceError> {
    read_cached(db, &profile_key(account, user))
}

/// Checks a password a user chooses at sign-in (an expired or reset one being replaced) against
/// the policy and the user's recent ones, and hashes it.
pub fn prepare_new_password(
    policy: Option<&PasswordPolicyRecord>,
    profile: &LoginProfileRecord,
    password: &str,
) -> Result<String, ServiceError> {
    check_password(policy, &profile.user_name, password)?;
    check_reuse(policy, profile, password)?;
    account::hash_password(password)
}

/// Stores a prepared hash as the user's current password, in a transaction.
pub fn set_password_tx(
    tx: &mut Tx<'_>,
    account: &str,
    user: &str,
    hash: String,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    let key = profile_key(account, user);
    let mut profile: LoginProfileRecord = records::read_tx(tx, &key)?.ok_or_else(|| no_such_profile(user))?;
    push_hash(&mut profile, hash);
    profile.changed = now;
    profile.reset_required = false;
    records::write_tx(tx, &key, &profile)
}

impl LoginProfileRecord {
    /// Whether the password is older than the policy's maximum age.
    pub fn expired(&self, policy: Option<&PasswordPolicyRecord>, now: OffsetDateTime) -> bool {
        policy.is_some_and(|p| {
            p.max_age_days > 0 && now - self.changed >= time::Duration::days(i64::from(p.max_age_days))
        })
    }
}

/// Checks a new password against the account's policy, or AWS's default policy when the account
/// has none (8 characters and three of the four character types).
pub fn check_password(policy: Option<&PasswordPolicyRecord>, user: &str, password: &str) -> Result<(), ServiceError> {
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let number = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| SYMBOLS.contains(c));
    let len = password.chars().count();
    match policy {
        Some(p) => {
            if len < p.minimum_length as usize {
                return Err(violation(format!("Password should have a minimum length of {}", p.minimum_length)));
            }
            for (required, present, what) in [
                (p.require_uppercase, upper, "at least one uppercase letter"),
                (p.require_lowercase, lower, "at least one lowercase letter"),
                (p.require_numbers, number, "at least one number"),
                (p.require_symbols, symbol, "at least one symbol"),
            ] {
                if required && !present {
                    return Err(violation(format!("Password should have {what}")));
                }
            }
        }
        None => {
            if len < 8 {
                return Err(violation("Password should have a minimum length of 8"));
            }
            if [upper, lower, number, symbol].iter().filter(|b| **b).count() < 3 {
                return Err(violation(
                    "Password should have at least three of: uppercase letters, lowercase letters, numbers and symbols",
                ));
            }
            if password.eq_ignore_ascii_case(user) {
                return Err(violation("Password should not be the user name"));
            }
        }
    }
    Ok(())
}

/// Refuses a password among the last `n` the user had.
fn check_reuse(
    policy: Option<&PasswordPolicyRecord>,
    profile: &LoginProfileRecord,
    password: &str,
) -> Result<(), ServiceError> {
    let n = policy.map_or(0, |p| p.reuse_prevention as usize);
    if profile.hashes.iter().take(n).any(|h| account::verify_password(password, h)) {
        return Err(violation(format!("Password should not be one of your last {n} passwords")));
    }
    Ok(())
}

/// Puts a new hash first, keeping as many earlier ones as reuse prevention can ask for.
fn push_hash(profile: &mut LoginProfileRecord, hash: String) {
    profile.hashes.insert(0, hash);
    profile.hashes.truncate(24);
}

/// The hashed form of a password member: prepared requests carry the PHC string in its place.
fn prepared_hash(password: Option<String>) -> Result<String, ServiceError> {
    password.filter(|p| p.starts_with("$argon2id$")).ok_or_else(ServiceError::internal)
}

/// Checks the password against the policy and replaces it with its hash.
pub fn prepare_create_login_profile(
    ctx: &Ctx<'_>,
    mut input: shapes::CreateLoginProfileRequest,
) -> Result<shapes::CreateLoginProfileRequest, ServiceError> {
    let user =
        input.user_name.clone().ok_or_else(|| ServiceError::new("ValidationError", 400, "UserName is required."))?;
    let password =
        input.password.take().ok_or_else(|| ServiceError::new("ValidationError", 400, "Password is required."))?;
    read_user(ctx.db, &ctx.principal.account_id, &user)?.ok_or_else(|| no_such_user(&user))?;
    check_password(read_policy(ctx)?.as_ref(), &user, &password)?;
    input.password = Some(account::hash_password(&password)?);
    Ok(input)
}

pub fn create_login_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateLoginProfileRequest,
) -> Result<shapes::CreateLoginProfileResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let name = input.user_name.clone().unwrap_or_default();
    let user = read_user_tx(tx, account, &name)?.ok_or_else(|| no_such_user(&name))?;
    if tx.get(&profile_key(account, &user.name))?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("Login Profile for user {} already exists.", user.name),
        ));
    }
    let p = LoginProfileRecord {
        v: 1,
        user_name: user.name.clone(),
        created: ctx.now,
        changed: ctx.now,
        reset_required: input.password_reset_required.unwrap_or(false),
        hashes: vec![prepared_hash(input.password)?],
    };
    records::write_tx(tx, &profile_key(account, &user.name), &p)?;
    Ok(shapes::CreateLoginProfileResponse { login_profile: profile_shape(&p) })
}

fn profile_shape(p: &LoginProfileRecord) -> shapes::LoginProfile {
    shapes::LoginProfile {
        user_name: p.user_name.clone(),
        create_date: p.created,
        password_reset_required: Some(p.reset_required),
    }
}

pub fn get_login_profile(
    ctx: &Ctx<'_>,
    input: shapes::GetLoginProfileRequest,
) -> Result<shapes::GetLoginProfileResponse, ServiceError> {
    let name = super::target_user(ctx.principal, input.user_name.as_deref())?;
    // IAM looks for the user before its login profile.
    read_user(ctx.db, &ctx.principal.account_id, &name)?.ok_or_else(|| no_such_user(&name))?;
    let p: LoginProfileRecord =
        read_cached(ctx.db, &profile_key(&ctx.principal.account_id, &name))?.ok_or_else(|| no_such_profile(&name))?;
    Ok(shapes::GetLoginProfileResponse { login_profile: profile_shape(&p) })
}

/// Checks a new password against the policy and the user's earlier ones, and hashes it.
pub fn prepare_update_login_profile(
    ctx: &Ctx<'_>,
    mut input: shapes::UpdateLoginProfileRequest,
) -> Result<shapes::UpdateLoginProfileRequest, ServiceError> {
    read_user(ctx.db, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    if let Some(password) = input.password.take() {
        let profile: LoginProfileRecord =
            read_cached(ctx.db, &profile_key(&ctx.principal.account_id, &input.user_name))?
                .ok_or_else(|| no_such_profile(&input.user_name))?;
        let policy = read_policy(ctx)?;
        check_password(policy.as_ref(), &input.user_name, &password)?;
        check_reuse(policy.as_ref(), &profile, &password)?;
        input.password = Some(account::hash_password(&password)?);
    }
    Ok(input)
}

pub fn update_login_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateLoginProfileRequest,
) -> Result<(), ServiceError> {
    read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let key = profile_key(&ctx.principal.account_id, &input.user_name);
    let mut p: LoginProfileRecord = records::read_tx(tx, &key)?.ok_or_else(|| no_such_profile(&input.user_name))?;
    if input.password.is_some() {
        push_hash(&mut p, prepared_hash(input.password)?);
        p.changed = ctx.now;
    }
    if let Some(r) = input.password_reset_required {
        p.reset_required = r;
    }
    records::write_tx(tx, &key, &p)
}

pub fn delete_login_profile(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteLoginProfileRequest,
) -> Result<(), ServiceError> {
    let name = input.user_name.ok_or_else(|| ServiceError::new("ValidationError", 400, "UserName is required."))?;
    read_user_tx(tx, &ctx.principal.account_id, &name)?.ok_or_else(|| no_such_user(&name))?;
    let key = profile_key(&ctx.principal.account_id, &name);
    if !tx.delete(&key)? {
        return Err(no_such_profile(&name));
    }
    Ok(())
}

/// The caller's own password change: the old password must match; the new one must satisfy the
/// policy and not repeat a recent one. The old one is cleared from the request once checked.
pub fn prepare_change_password(
    ctx: &Ctx<'_>,
    mut input: shapes::ChangePasswordRequest,
) -> Result<shapes::ChangePasswordRequest, ServiceError> {
    let p = ctx.principal;
    let (PrincipalKind::IAMUser, Some(name)) = (p.kind, &p.user_name) else {
        return Err(ServiceError::new("InvalidUserType", 400, "Only IAM users can change their own password."));
    };
    let profile: LoginProfileRecord =
        read_cached(ctx.db, &profile_key(&p.account_id, name))?.ok_or_else(|| no_such_profile(name))?;
    if !profile.hashes.first().is_some_and(|h| account::verify_password(&input.old_password, h)) {
        return Err(ServiceError::access_denied("The old password is incorrect."));
    }
    let policy = read_policy(ctx)?;
    check_password(policy.as_ref(), name, &input.new_password)?;
    check_reuse(policy.as_ref(), &profile, &input.new_password)?;
    input.old_password = String::new();
    input.new_password = account::hash_password(&input.new_password)?;
    Ok(input)
}

pub fn change_password(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ChangePasswordRequest,
) -> Result<(), ServiceError> {
    let p = ctx.principal;
    let name = p.user_name.clone().ok_or_else(ServiceError::internal)?;
    let key = profile_key(&p.account_id, &name);
    let mut profile: LoginProfileRecord = records::read_tx(tx, &key)?.ok_or_else(|| no_such_profile(&name))?;
    push_hash(&mut profile, prepared_hash(Some(input.new_password))?);
    profile.changed = ctx.now;
    profile.reset_required = false;
    records::write_tx(tx, &key, &profile)
}

pub fn update_account_password_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateAccountPasswordPolicyRequest,
) -> Result<(), ServiceError> {
    // Every omitted setting returns to its default, as IAM documents.
    let n = |v: Option<i32>, default: u32| v.map_or(default, |v| u32::try_from(v).unwrap_or(default));
    let p = PasswordPolicyRecord {
        v: 1,
        minimum_length: n(input.minimum_password_length, 6),
        require_symbols: input.require_symbols.unwrap_or(false),
        require_numbers: input.require_numbers.unwrap_or(false),
        require_uppercase: input.require_uppercase_characters.unwrap_or(false),
        require_lowercase: input.require_lowercase_characters.unwrap_or(false),
        allow_users_to_change: input.allow_users_to_change_password.unwrap_or(false),
        max_age_days: n(input.max_password_age, 0),
        reuse_prevention: n(input.password_reuse_prevention, 0),
        hard_expiry: input.hard_expiry.unwrap_or(false),
    };
    records::write_tx(tx, &policy_key(&ctx.principal.account_id), &p)
}

pub fn get_account_password_policy(
    ctx: &Ctx<'_>,
    _input: (),
) -> Result<shapes::GetAccountPasswordPolicyResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let p = read_policy(ctx)?.ok_or_else(|| {
        ServiceError::new(
            "NoSuchEntity",
            404,
            format!("The Password Policy with domain name {account} cannot be found."),
        )
    })?;
    let i = |v: u32| i32::try_from(v).ok();
    Ok(shapes::GetAccountPasswordPolicyResponse {
        password_policy: shapes::PasswordPolicy {
            minimum_password_length: i(p.minimum_length),
            require_symbols: Some(p.require_symbols),
            require_numbers: Some(p.require_numbers),
            require_uppercase_characters: Some(p.require_uppercase),
            require_lowercase_characters: Some(p.require_lowercase),
            allow_users_to_change_password: Some(p.allow_users_to_change),
            expire_passwords: Some(p.max_age_days > 0),
            max_password_age: (p.max_age_days > 0).then(|| i(p.max_age_days)).flatten(),
            password_reuse_prevention: (p.reuse_prevention > 0).then(|| i(p.reuse_prevention)).flatten(),
            hard_expiry: Some(p.hard_expiry),
        },
    })
}

pub fn delete_account_password_policy(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, _input: ()) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    if !tx.delete(&policy_key(account))? {
        return Err(ServiceError::new(
            "NoSuchEntity",
            404,
            format!("The Password Policy with domain name {account} cannot be found."),
        ));
    }
    Ok(())
}

/// Whether the account's password policy lets every user change their own password
/// (`AllowUsersToChangePassword`): the account-level grant of `IAMUserChangePassword`.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_enable-user-change.html>.
pub fn users_may_change_passwords(db: &rampart_store::Db, account: &str) -> Result<bool, ServiceError> {
    let p: Option<PasswordPolicyRecord> = read_cached(db, &policy_key(account))?;
    Ok(p.is_some_and(|p| p.allow_users_to_change))
}

/// Whether the user has a console password (DeleteUser refuses while one exists).
/// When a person last signed in with a password.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PasswordUse {
    v: u32,
    #[serde(with = "time::serde::rfc3339")]
    date: OffsetDateTime,
}

/// Records a sign-in with a password (`id`: the user's unique id, or the account id for root), for
/// GetUser's `PasswordLastUsed` and the credential report.
pub fn note_password_use(tx: &mut Tx<'_>, account: &str, id: &str, now: OffsetDateTime) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::password_last_used(account, id), &PasswordUse { v: 1, date: now })
}

/// When the person last signed in with a password, if ever.
pub fn password_last_used(
    db: &rampart_store::Db,
    account: &str,
    id: &str,
) -> Result<Option<OffsetDateTime>, ServiceError> {
    Ok(read_cached::<PasswordUse>(db, &keys::password_last_used(account, id))?.map(|u| u.date))
}

pub(crate) fn password_last_used_tx(
    tx: &Tx<'_>,
    account: &str,
    id: &str,
) -> Result<Option<OffsetDateTime>, ServiceError> {
    Ok(records::read_tx::<PasswordUse>(tx, &keys::password_last_used(account, id))?.map(|u| u.date))
}

/// A user's login profile, inside a transaction.
pub(crate) fn login_profile_tx(
    tx: &Tx<'_>,
    account: &str,
    user: &str,
) -> Result<Option<LoginProfileRecord>, ServiceError> {
    records::read_tx(tx, &profile_key(account, user))
}

/// The account's password policy, inside a transaction.
pub(crate) fn password_policy_tx(tx: &Tx<'_>, account: &str) -> Result<Option<PasswordPolicyRecord>, ServiceError> {
    records::read_tx(tx, &policy_key(account))
}

pub(crate) fn has_login_profile(tx: &Tx<'_>, account: &str, user: &str) -> Result<bool, ServiceError> {
    Ok(tx.get(&profile_key(account, user))?.is_some())
}

/// Moves a renamed user's login profile to the new name.
pub(crate) fn rename_login_profile(tx: &mut Tx<'_>, account: &str, old: &str, new: &str) -> Result<(), ServiceError> {
    if let Some(mut p) = records::read_tx::<LoginProfileRecord>(tx, &profile_key(account, old))? {
        tx.delete(&profile_key(account, old))?;
        p.user_name = new.to_owned();
        records::write_tx(tx, &profile_key(account, new), &p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_wants_eight_characters_of_three_kinds() {
        assert!(check_password(None, "ana", "Abcdefg1").is_ok());
        assert_eq!(check_password(None, "ana", "Abc1").unwrap_err().code, "PasswordPolicyViolation");
        assert_eq!(check_password(None, "ana", "abcdefgh1").unwrap_err().code, "PasswordPolicyViolation");
        assert!(check_password(None, "ana", "abcdefg1!").is_ok());
    }

    #[test]
    fn a_custom_policy_checks_each_rule_in_turn() {
        let p = PasswordPolicyRecord {
            minimum_length: 10,
            require_symbols: true,
            require_uppercase: true,
            ..Default::default()
        };
        let msg = |pw: &str| check_password(Some(&p), "u", pw).unwrap_err().message;
        assert_eq!(msg("Short1!"), "Password should have a minimum length of 10");
        assert_eq!(msg("longenough!!"), "Password should have at least one uppercase letter");
        assert_eq!(msg("Longenough1"), "Password should have at least one symbol");
        assert!(check_password(Some(&p), "u", "Longenough!").is_ok());
    }
}
