//! AWS Security Token Service: the caller's identity, and role sessions.
//!
//! Session credentials are stateless: the session token is the session's claims (including the
//! temporary secret) sealed with the master key, so it cannot be forged or read, and issuing one
//! writes nothing. It expires exactly at its `Expiration`.

use rampart_core::records;
use rampart_policy::{Context, Input, Named, Policy, PolicyKind, decide};
use rampart_shapes::generated::sts::{
    AssumeRoleRequest, AssumeRoleResponse, AssumedRoleUser, Credentials, FederatedUser, GetAccessKeyInfoRequest,
    GetAccessKeyInfoResponse, GetCallerIdentityRequest, GetCallerIdentityResponse, GetFederationTokenRequest,
    GetFederationTokenResponse, GetSessionTokenRequest, GetSessionTokenResponse,
};
use rampart_store::{Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::iam;
use rampart_core::{Ctx, Principal, PrincipalKind, RoleSession, ServiceError, TxCtx, account};

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

mod assume_root;
pub mod authorization_message;
mod delegated_access;
mod saml;
mod web_identity;
mod web_identity_token;
pub use assume_root::assume_root;
pub use authorization_message::decode_authorization_message;
pub use delegated_access::get_delegated_access_token;
pub use saml::*;
pub use web_identity::*;
pub use web_identity_token::get_web_identity_token;

/// The account an access key belongs to. The account is read from the key id itself, as AWS
/// does, so it answers for any well-formed key — active, inactive, deleted, temporary or another
/// account's — and says nothing about the key's state.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html>.
pub fn get_access_key_info(
    ctx: &Ctx<'_>,
    input: GetAccessKeyInfoRequest,
) -> Result<GetAccessKeyInfoResponse, ServiceError> {
    let id = input.access_key_id;
    // A stored key answers from its record (keys issued before ids carried their account).
    let stored: Option<account::AccessKeyRecord> = records::read(ctx.db, &rampart_core::keys::access_key(&id))?;
    let known = id.starts_with("AKIA") || id.starts_with("ASIA");
    let decoded = account::key_account(&id).filter(|_| known);
    match stored.map(|k| k.owner.account_id().to_owned()).or(decoded) {
        Some(account) => Ok(GetAccessKeyInfoResponse { account: Some(account) }),
        None => Err(ServiceError::new(
            "InvalidParameterValue",
            400,
            format!("The access key ID {id} is not a valid AWS access key ID."),
        )),
    }
}

/// The sealed contents of a session token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    pub v: u32,
    pub access_key_id: String,
    pub secret: String,
    pub account_id: String,
    pub role_name: String,
    #[serde(default = "root_path")]
    pub role_path: String,
    pub role_id: String,
    pub session_name: String,
    pub session_policy: Option<String>,
    /// Managed policies given as session policies (`PolicyArns`).
    #[serde(default)]
    pub session_policy_arns: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*` for the session, over the role's own).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The keys of the session tags that pass on to a chained session.
    #[serde(default)]
    pub transitive: Vec<String>,
    pub source_identity: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    /// For a GetSessionToken session of an IAM user: that user (the role fields are then empty).
    #[serde(default)]
    pub user: Option<SessionUser>,
    /// For a GetSessionToken session of the root user.
    #[serde(default)]
    pub root: bool,
    /// A console session (made by sign-in): its calls' events say `sessionCredentialFromConsole`.
    #[serde(default)]
    pub console: bool,
    /// For a GetFederationToken session: the federated user's name (the issuing user is `user`).
    #[serde(default)]
    pub federated: Option<String>,
    /// When an MFA code was checked for this session, if one was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub mfa_at: Option<OffsetDateTime>,
    /// For AssumeRoleWithWebIdentity and AssumeRoleWithSAML sessions: the provider's ARN.
    #[serde(default)]
    pub federated_provider: Option<String>,
    /// For a session a partner got by temporary delegation (GetDelegatedAccessToken): the policy
    /// the approver accepted, which bounds the approver's own permissions.
    #[serde(default)]
    pub delegation: Option<String>,
}

/// The IAM user a GetSessionToken session acts as.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub name: String,
    pub id: String,
    pub path: String,
}

fn root_path() -> String {
    "/".to_owned()
}

/// What the sealing binds a token to, so no other sealed value can pass for one.
const TOKEN_CONTEXT: &[u8] = b"rampart/sts/session-token/v1";

impl SessionClaims {
    /// The principal the session acts as.
    pub fn principal(&self) -> Principal {
        let key = Some(self.access_key_id.clone());
        if let Some(name) = &self.federated {
            return Principal {
                kind: PrincipalKind::FederatedUser,
                account_id: self.account_id.clone(),
                arn: format!("arn:aws:sts::{}:federated-user/{name}", self.account_id),
                user_id: format!("{}:{name}", self.account_id),
                user_name: None,
                access_key_id: key,
                session: None,
                federation: Some(rampart_core::identity::Federation {
                    issuer: self.user.as_ref().map(|u| (u.name.clone(), u.id.clone())),
                    session_policy: self.session_policy.clone(),
                    session_policy_arns: self.session_policy_arns.clone(),
                }),
                temporary: Some(self.issued),
                expires: Some(self.expires),
                mfa_at: self.mfa_at,
                console: false,
                delegation: None,
            };
        }
        if self.root {
            // A root session from AssumeRoot is bounded by its task policy, as a session policy.
            let federation = (!self.session_policy_arns.is_empty()).then(|| rampart_core::identity::Federation {
                issuer: None,
                session_policy: None,
                session_policy_arns: self.session_policy_arns.clone(),
            });
            return Principal {
                federation,
                temporary: Some(self.issued),
                expires: Some(self.expires),
                mfa_at: self.mfa_at,
                console: self.console,
                delegation: self.delegation.clone(),
                ..Principal::root(&self.account_id, key)
            };
        }
        if let Some(u) = &self.user {
            return Principal {
                kind: PrincipalKind::IAMUser,
                account_id: self.account_id.clone(),
                arn: format!("arn:aws:iam::{}:user{}{}", self.account_id, u.path, u.name),
                user_id: u.id.clone(),
                user_name: Some(u.name.clone()),
                access_key_id: key,
                session: None,
                federation: None,
                temporary: Some(self.issued),
                expires: Some(self.expires),
                mfa_at: self.mfa_at,
                console: self.console,
                delegation: self.delegation.clone(),
            };
        }
        Principal {
            kind: PrincipalKind::AssumedRole,
            account_id: self.account_id.clone(),
            arn: format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account_id, self.role_name, self.session_name),
            user_id: format!("{}:{}", self.role_id, self.session_name),
            user_name: None,
            access_key_id: key,
            session: Some(RoleSession {
                role_name: self.role_name.clone(),
                role_path: self.role_path.clone(),
                role_id: self.role_id.clone(),
                session_name: self.session_name.clone(),
                session_policy: self.session_policy.clone(),
                session_policy_arns: self.session_policy_arns.clone(),
                tags: self.tags.clone(),
                transitive: self.transitive.clone(),
                issued: self.issued,
                source_identity: self.source_identity.clone(),
                federated_provider: self.federated_provider.clone(),
            }),
            federation: None,
            temporary: Some(self.issued),
            expires: Some(self.expires),
            mfa_at: self.mfa_at,
            console: false,
            delegation: self.delegation.clone(),
        }
    }
}

/// Seals a session's claims into its token.
pub(crate) fn seal_token(sealer: &Sealer, claims: &SessionClaims) -> Result<String, ServiceError> {
    let json = serde_json::to_vec(claims).map_err(|_| ServiceError::internal())?;
    let sealed = sealer.seal(&json, TOKEN_CONTEXT).map_err(|_| ServiceError::internal())?;
    Ok(data_encoding::BASE64.encode(&sealed))
}

/// Opens a session token; `None` for anything Rampart did not seal.
pub fn open_token(sealer: &Sealer, token: &str) -> Option<SessionClaims> {
    let sealed = data_encoding::BASE64.decode(token.as_bytes()).ok()?;
    let json = sealer.open(&sealed, TOKEN_CONTEXT).ok()?;
    serde_json::from_slice(&json).ok()
}

fn denied(caller: &Principal, role_arn: &str) -> ServiceError {
    ServiceError::access_denied(format!(
        "{} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        caller.described()
    ))
}

/// A policy that allows everything, to ask whether a trust policy admits a principal's account.
/// A constant, compiled once rather than on every AssumeRole.
static ALLOW_ALL: std::sync::LazyLock<Option<Policy>> = std::sync::LazyLock::new(|| {
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .ok()
});

/// Whether a resource's policy (a role's trust policy, an organization's resource policy) grants
/// the caller `action`. The caller's own identity policies were already checked by the
/// authorizer; here the resource's policy must grant too: directly (naming the principal) or by
/// naming its account.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#term_trust-policy>.
pub fn resource_policy_grants(
    trust: &Policy,
    action: &str,
    caller: &Principal,
    role_arn: &str,
    role_account: &str,
    context: &Context,
) -> bool {
    let principal = match (&caller.kind, &caller.session, &caller.user_name) {
        (PrincipalKind::AssumedRole, Some(s), _) => {
            rampart_policy::Principal::role_session(&caller.account_id, &s.role_path, &s.role_name, &s.session_name)
        }
        (_, _, Some(name)) => rampart_policy::Principal::user(&caller.account_id, &iam_path(&caller.arn), name),
        _ => rampart_policy::Principal::root(&caller.account_id),
    };
    trust_allows(trust, action, &principal, role_arn, role_account, context)
}

/// Whether a trust policy alone grants `action` on the role to `principal`.
fn trust_allows(
    trust: &Policy,
    action: &str,
    principal: &rampart_policy::Principal,
    role_arn: &str,
    role_account: &str,
    context: &Context,
) -> bool {
    let Some(allow_all) = ALLOW_ALL.as_ref() else { return false };
    let identity = [Named { name: "caller", policy: allow_all }];
    let d = decide(&Input {
        action,
        resource: role_arn,
        principal,
        context,
        identity: &identity,
        boundary: None,
        session: None,
        scps: &[],
        rcps: &[],
        resource_policy: Some(Named { name: "trust", policy: trust }),
        resource_account: Some(role_account),
        resource_policy_required: false,
    });
    // With an allow-all identity, the outcome is decided by the trust policy alone; in the same
    // account a trust policy that names nobody must not pass for one that names the account.
    d.is_allowed() && d.matched.iter().any(|m| m.kind == PolicyKind::Trust || m.kind == PolicyKind::Resource)
}

/// Merges inherited transitive tags with the request's: keys are case-insensitive, a request may
/// not repeat a key nor override an inherited one.
fn session_tags(
    inherited: Vec<(String, String)>,
    new: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, ServiceError> {
    let mut tags = inherited;
    let inherited_len = tags.len();
    for (k, v) in new {
        if let Some(i) = tags.iter().position(|(t, _)| t.eq_ignore_ascii_case(&k)) {
            let message = if i < inherited_len {
                format!("The transitive session tag {k} cannot be overridden.")
            } else {
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".to_owned()
            };
            return Err(ServiceError::new("InvalidParameterValue", 400, message));
        }
        tags.push((k, v));
    }
    Ok(tags)
}

/// The path of a user ARN (`arn:aws:iam::1:user/a/b/name` → `/a/b/`).
fn iam_path(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let after = resource.strip_prefix("user").unwrap_or("/");
    match after.rfind('/') {
        Some(i) => after.get(..=i).unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}

/// Grants temporary credentials for a role to a principal its trust policy admits.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>.
pub fn assume_role(ctx: &Ctx<'_>, input: AssumeRoleRequest) -> Result<AssumeRoleResponse, ServiceError> {
    // An MFA code is spent in a transaction (`assume_role_with_mfa`); the dispatcher sends such
    // requests there, so one here is a wiring bug, refused rather than accepted unchecked.
    match (&input.serial_number, &input.token_code) {
        (None, None) => {}
        (Some(_), Some(_)) => return Err(ServiceError::internal()),
        _ => {
            return Err(half_mfa());
        }
    }
    // The trust policy as it stands: a principal named in it is the one it named when saved.
    let role = |account: &str, name: &str| {
        iam::read_role(ctx.db, account, name)?.map(|r| iam::with_effective_trust(ctx.db, r)).transpose()
    };
    let get = |key: &[u8]| records::read_cached::<serde_json::Value>(ctx.db, key);
    let org = rampart_core::orgs::org_path(&ctx.principal.account_id, &get)?;
    issue_role_session(ctx.principal, ctx.now, ctx.sealer, input, ctx.principal.mfa_at, org, role)
}

/// AssumeRole with `SerialNumber` and `TokenCode`: the code is checked against the caller's own
/// device and its step spent in the same transaction that issues the session; the trust policy
/// sees `aws:MultiFactorAuthPresent`. A refused request spends nothing.
pub fn assume_role_with_mfa(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: AssumeRoleRequest,
) -> Result<AssumeRoleResponse, ServiceError> {
    let (Some(serial), Some(code)) = (input.serial_number.clone(), input.token_code.clone()) else {
        return Err(half_mfa());
    };
    iam::accept_mfa_code(tx, ctx, &serial, &code)?;
    let tx = &*tx;
    let role = |account: &str, name: &str| -> Result<Option<iam::RoleRecord>, ServiceError> {
        let read_role = |a: &str, n: &str| records::read_tx::<iam::RoleRecord>(tx, &rampart_core::keys::role(a, n));
        let read_user = |a: &str, n: &str| iam::read_user_tx(tx, a, n);
        let Some(mut r) = read_role(account, name)? else { return Ok(None) };
        r.trust_policy = iam::effective_trust(&r, &|arn| iam::current_principal_id(arn, &read_user, &read_role))?;
        Ok(Some(r))
    };
    let org = {
        let get = |key: &[u8]| records::read_tx::<serde_json::Value>(tx, key);
        rampart_core::orgs::org_path(&ctx.principal.account_id, &get)?
    };
    issue_role_session(ctx.principal, ctx.now, ctx.sealer, input, Some(ctx.now), org, role)
}

/// The account and name a role ARN names.
fn parse_role_arn(arn: &str) -> Result<(&str, &str), ServiceError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", "aws", "iam", "", acct, res] if res.starts_with("role/") => {
            Ok((*acct, res.rsplit('/').next().unwrap_or_default()))
        }
        _ => Err(ServiceError::new("ValidationError", 400, format!("{arn} is invalid"))),
    }
}

/// Checks the role, its trust policy and the requested duration, and seals the session.
fn issue_role_session(
    caller: &Principal,
    now: OffsetDateTime,
    sealer: &Sealer,
    input: AssumeRoleRequest,
    mfa_at: Option<OffsetDateTime>,
    caller_org: Option<(String, String)>,
    read_role: impl FnOnce(&str, &str) -> Result<Option<iam::RoleRecord>, ServiceError>,
) -> Result<AssumeRoleResponse, ServiceError> {
    if caller.kind == PrincipalKind::Root {
        return Err(ServiceError::access_denied("Roles may not be assumed by root accounts."));
    }
    let (role_account, role_name) = parse_role_arn(&input.role_arn)?;
    let role = read_role(role_account, role_name)?
        .filter(|r| r.arn() == input.role_arn)
        .ok_or_else(|| denied(caller, &input.role_arn))?;
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied(caller, &input.role_arn))?;
    let mut context = Context::new();
    if let Some(e) = &input.external_id {
        context.set("sts:ExternalId", e.clone());
    }
    if let Some(s) = &input.source_identity {
        context.set("sts:SourceIdentity", s.clone());
    }
    context.set("sts:RoleSessionName", input.role_session_name.clone());
    context.set("aws:PrincipalArn", caller.arn.clone()).set("aws:PrincipalAccount", caller.account_id.clone());
    iam::set_org_keys(caller_org.as_ref(), &mut context);
    let checked = Principal { mfa_at, ..caller.clone() };
    crate::authz::mfa_keys(&checked, now, &mut context);
    // Session tags: the caller's transitive tags carry over and cannot be overridden; new ones
    // need the trust policy to allow sts:TagSession too.
    // See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html>.
    let (inherited, inherited_transitive) = match &caller.session {
        Some(s) => (
            s.tags.iter().filter(|(k, _)| s.transitive.iter().any(|t| t.eq_ignore_ascii_case(k))).cloned().collect(),
            s.transitive.clone(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let new_tags: Vec<(String, String)> =
        input.tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())).collect();
    let tags = session_tags(inherited, new_tags.clone())?;
    let mut transitive = inherited_transitive;
    for k in input.transitive_tag_keys.iter().flatten() {
        if !new_tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(ServiceError::new(
                "InvalidParameterValue",
                400,
                format!("The transitive tag key {k} is not among the session tags."),
            ));
        }
        transitive.push(k.clone());
    }
    for (k, v) in &new_tags {
        context.set(&format!("aws:RequestTag/{k}"), v.clone());
    }
    if !new_tags.is_empty() {
        context.set_many("aws:TagKeys", new_tags.iter().map(|(k, _)| k.clone()).collect());
    }
    if let Some(t) = &input.transitive_tag_keys {
        context.set_many("sts:TransitiveTagKeys", t.clone());
    }
    if !resource_policy_grants(&trust, "sts:AssumeRole", caller, &input.role_arn, role_account, &context) {
        return Err(denied(caller, &input.role_arn));
    }
    if !new_tags.is_empty()
        && !resource_policy_grants(&trust, "sts:TagSession", caller, &input.role_arn, role_account, &context)
    {
        return Err(ServiceError::access_denied(format!(
            "{} is not authorized to perform: sts:TagSession on resource: {}",
            caller.described(),
            input.role_arn
        )));
    }
    // Role chaining limits the session to one hour.
    let chained = caller.kind == PrincipalKind::AssumedRole;
    let max = if chained { 3600 } else { role.max_session_duration };
    let duration = input.duration_seconds.unwrap_or(3600);
    if duration > max {
        let message = if chained {
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                .to_owned()
        } else {
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".to_owned()
        };
        return Err(ServiceError::new("ValidationError", 400, message));
    }
    if let Some(p) = &input.policy {
        Policy::parse(p, PolicyKind::Session)
            .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.message))?;
    }
    let expires = now + Duration::seconds(i64::from(duration));
    let mut claims = role_claims(
        &role,
        input.role_session_name.clone(),
        input.policy.clone(),
        input.policy_arns.as_ref(),
        now,
        expires,
    )?;
    claims.tags = tags;
    claims.transitive = transitive;
    claims.source_identity.clone_from(&input.source_identity);
    // A session keeps the MFA of the credentials that asked for it, or of the code just given.
    claims.mfa_at = mfa_at;
    let principal = claims.principal();
    Ok(AssumeRoleResponse {
        credentials: Some(credentials(sealer, &claims)?),
        assumed_role_user: Some(AssumedRoleUser { assumed_role_id: principal.user_id, arn: principal.arn }),
        packed_policy_size: packed_size(input.policy.as_ref()),
        source_identity: input.source_identity,
    })
}

/// A session of `role` named `session_name`, narrowed by the given session policies, until
/// `expires`; no tags, no source identity, no MFA (callers add what their request carries).
fn role_claims(
    role: &iam::RoleRecord,
    session_name: String,
    policy: Option<String>,
    policy_arns: Option<&Vec<rampart_shapes::generated::sts::PolicyDescriptorType>>,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<SessionClaims, ServiceError> {
    Ok(SessionClaims {
        v: 1,
        access_key_id: account::new_key_id("ASIA", &role.account_id)?,
        secret: account::new_secret()?.as_str().to_owned(),
        account_id: role.account_id.clone(),
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.id.clone(),
        session_name,
        session_policy: policy,
        session_policy_arns: policy_arns.into_iter().flatten().filter_map(|p| p.arn.clone()).collect(),
        tags: Vec::new(),
        transitive: Vec::new(),
        source_identity: None,
        issued: now,
        expires,
        user: None,
        root: false,
        console: false,
        federated: None,
        mfa_at: None,
        federated_provider: None,
        delegation: None,
    })
}

/// What every federated role session checks of its request: the duration within the role's
/// maximum, and an inline session policy that parses.
fn check_session_request(role: &iam::RoleRecord, duration: i32, policy: Option<&String>) -> Result<(), ServiceError> {
    if duration > role.max_session_duration {
        return Err(ServiceError::new(
            "ValidationError",
            400,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if let Some(p) = policy {
        Policy::parse(p, PolicyKind::Session)
            .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.message))?;
    }
    Ok(())
}

/// `PackedPolicySize`: the inline session policy's share of the space STS allows for it.
fn packed_size(policy: Option<&String>) -> Option<i32> {
    policy.map(|p| i32::try_from(p.len() * 100 / 2048).unwrap_or(100))
}

/// `SerialNumber` without `TokenCode`, or the other way round.
fn half_mfa() -> ServiceError {
    ServiceError::new("ValidationError", 400, "SerialNumber and TokenCode must be given together.")
}

/// The claims of a session a caller issues for itself or a federated user (GetSessionToken,
/// GetFederationToken): a fresh key and secret, no role. Sessions last 12 hours unless asked
/// otherwise; the root user's at most an hour, whatever is asked.
pub(crate) fn own_session(
    caller: &Principal,
    now: OffsetDateTime,
    asked: Option<i32>,
) -> Result<SessionClaims, ServiceError> {
    let root = caller.kind == PrincipalKind::Root;
    let seconds = if root { asked.unwrap_or(3600).min(3600) } else { asked.unwrap_or(43_200) };
    let user = match (&caller.kind, &caller.user_name) {
        (PrincipalKind::IAMUser, Some(name)) => {
            Some(SessionUser { name: name.clone(), id: caller.user_id.clone(), path: iam_path(&caller.arn) })
        }
        _ => None,
    };
    Ok(SessionClaims {
        v: 1,
        access_key_id: account::new_key_id("ASIA", &caller.account_id)?,
        secret: account::new_secret()?.as_str().to_owned(),
        account_id: caller.account_id.clone(),
        role_name: String::new(),
        role_path: root_path(),
        role_id: String::new(),
        session_name: String::new(),
        session_policy: None,
        session_policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive: Vec::new(),
        source_identity: None,
        issued: now,
        expires: now + Duration::seconds(i64::from(seconds)),
        user,
        root,
        console: false,
        federated: None,
        mfa_at: None,
        federated_provider: None,
        delegation: None,
    })
}

/// The identity a delegation request's approver acts as, kept when it accepts (the session the
/// partner later receives is this identity, bounded by the accepted policy): an IAM user, the
/// root user, or a role session with its own session policies and tags. Key, secret and times
/// are filled when the partner trades its token.
pub(crate) fn approver_claims(p: &Principal) -> Result<SessionClaims, ServiceError> {
    let mut claims = own_session(p, OffsetDateTime::UNIX_EPOCH, None)?;
    claims.access_key_id.clear();
    claims.secret.clear();
    if let (PrincipalKind::AssumedRole, Some(s)) = (p.kind, &p.session) {
        claims.role_name.clone_from(&s.role_name);
        claims.role_path.clone_from(&s.role_path);
        claims.role_id.clone_from(&s.role_id);
        claims.session_name.clone_from(&s.session_name);
        claims.session_policy.clone_from(&s.session_policy);
        claims.session_policy_arns.clone_from(&s.session_policy_arns);
        claims.tags.clone_from(&s.tags);
        claims.source_identity.clone_from(&s.source_identity);
    }
    Ok(claims)
}

/// Credentials for a partner acting as an approver (`approver_claims`), bounded by the accepted
/// `policy`, from `now` until `expires`; and the ARN they act as.
pub(crate) fn delegated_credentials(
    sealer: &Sealer,
    approver: &SessionClaims,
    policy: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<(Credentials, String), ServiceError> {
    let mut claims = approver.clone();
    claims.access_key_id = account::new_key_id("ASIA", &approver.account_id)?;
    claims.secret = account::new_secret()?.as_str().to_owned();
    claims.issued = now;
    claims.expires = expires;
    claims.delegation = Some(policy.to_owned());
    let arn = claims.principal().arn;
    Ok((credentials(sealer, &claims)?, arn))
}

/// The credentials a client receives for a session: its key, secret and sealed token.
fn credentials(sealer: &Sealer, claims: &SessionClaims) -> Result<Credentials, ServiceError> {
    Ok(Credentials {
        access_key_id: claims.access_key_id.clone(),
        secret_access_key: claims.secret.clone(),
        session_token: seal_token(sealer, claims)?,
        expiration: claims.expires,
    })
}

/// Temporary credentials for the caller itself, optionally proven with an MFA code; they carry the
/// caller's permissions and, with a code, `aws:MultiFactorAuthPresent`. Needs no permission.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html> and
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html>.
pub fn get_session_token(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: GetSessionTokenRequest,
) -> Result<GetSessionTokenResponse, ServiceError> {
    if ctx.principal.temporary.is_some() {
        return Err(ServiceError::access_denied("Cannot call GetSessionToken with session credentials"));
    }
    let mut claims = own_session(ctx.principal, ctx.now, input.duration_seconds)?;
    match (&input.serial_number, &input.token_code) {
        (Some(serial), Some(code)) => {
            iam::accept_mfa_code(tx, ctx, serial, code)?;
            claims.mfa_at = Some(ctx.now);
        }
        (None, None) => {}
        _ => {
            return Err(half_mfa());
        }
    }
    Ok(GetSessionTokenResponse { credentials: Some(credentials(ctx.sealer, &claims)?) })
}

/// Temporary credentials for a federated user named by the caller (an IAM user, or root): the
/// session may do what both the caller's policies and the session policies passed here allow, and
/// with no session policy it may do nothing. Such sessions cannot call IAM, nor STS beyond
/// GetCallerIdentity.
/// See <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html>.
pub fn get_federation_token(
    ctx: &Ctx<'_>,
    input: GetFederationTokenRequest,
) -> Result<GetFederationTokenResponse, ServiceError> {
    let caller = ctx.principal;
    if caller.temporary.is_some() || !matches!(caller.kind, PrincipalKind::Root | PrincipalKind::IAMUser) {
        return Err(ServiceError::access_denied("Cannot call GetFederationToken with session credentials"));
    }
    if let Some(p) = &input.policy {
        Policy::parse(p, PolicyKind::Session)
            .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.message))?;
    }
    let mut claims = own_session(caller, ctx.now, input.duration_seconds)?;
    // The session is the federated user's, bounded by its issuer: never root's own.
    claims.root = false;
    claims.federated = Some(input.name.clone());
    claims.session_policy.clone_from(&input.policy);
    claims.session_policy_arns = input.policy_arns.iter().flatten().filter_map(|p| p.arn.clone()).collect();
    let principal = claims.principal();
    Ok(GetFederationTokenResponse {
        credentials: Some(credentials(ctx.sealer, &claims)?),
        federated_user: Some(FederatedUser { federated_user_id: principal.user_id, arn: principal.arn }),
        packed_policy_size: packed_size(input.policy.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_sealed_and_bound() {
        let sealer = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
        let now = OffsetDateTime::now_utc();
        let claims = SessionClaims {
            v: 1,
            access_key_id: "ASIAEXAMPLE".into(),
            secret: "s3cr3t-value".into(),
            account_id: "111122223333".into(),
            role_name: "R".into(),
            role_path: "/".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
            session_policy: None,
            session_policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive: Vec::new(),
            source_identity: None,
            issued: now,
            expires: now,
            user: None,
            root: false,
            console: false,
            federated: None,
            mfa_at: None,
            federated_provider: None,
            delegation: None,
        };
        let token = seal_token(&sealer, &claims).unwrap();
        assert!(!String::from_utf8_lossy(&data_encoding::BASE64.decode(token.as_bytes()).unwrap()).contains("s3cr3t"));
        assert_eq!(open_token(&sealer, &token).unwrap().role_name, "R");
        let other = Sealer::new(Sealer::generate_key().unwrap().as_ref()).unwrap();
        assert!(open_token(&other, &token).is_none());
        assert!(open_token(&sealer, "not-a-token").is_none());
        // A session's MFA and holder travel sealed in the token.
        let user_claims = SessionClaims {
            user: Some(SessionUser { name: "mo".into(), id: "AIDAEXAMPLE".into(), path: "/ops/".into() }),
            mfa_at: Some(now),
            ..claims.clone()
        };
        let p = open_token(&sealer, &seal_token(&sealer, &user_claims).unwrap()).unwrap().principal();
        assert_eq!((p.kind, p.arn.as_str()), (PrincipalKind::IAMUser, "arn:aws:iam::111122223333:user/ops/mo"));
        assert!(p.temporary.is_some() && p.mfa_at.is_some() && p.session.is_none());
        assert_eq!(claims.principal().arn, "arn:aws:sts::111122223333:assumed-role/R/s");
        assert_eq!(iam_path("arn:aws:iam::1:user/a/b/name"), "/a/b/");
        assert_eq!(iam_path("arn:aws:iam::1:user/name"), "/");
    }
}
