//! The authorization hook every operation passes before its handler.
//!
//! The root user is allowed, but for the service control policies over its account; IAM users, role
//! sessions and federated users are decided by `rampart-policy` over their policies and those SCPs;
//! anyone else is denied (fail closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_policy::{Input, Named, Policy, PolicyKind, decide};
use rampart_store::Db;

use crate::iam;
use rampart_core::{Principal, PrincipalKind, ServiceError};

/// Facts about the request that conditions can test (`aws:SourceIp`, `aws:CurrentTime`,
/// `aws:SecureTransport`, `aws:UserAgent`, `aws:RequestedRegion`, `aws:Referer`, and for S3's
/// actions `s3:TlsVersion`).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source_ip: &'a str,
    pub time: time::OffsetDateTime,
    pub secure_transport: bool,
    pub user_agent: &'a str,
    pub region: &'a str,
    /// The `Referer` header, if sent.
    pub referer: Option<&'a str>,
    /// The TLS version as a number (`1.2`, `1.3`), over TLS.
    pub tls_version: Option<&'a str>,
}

/// What is being asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// The IAM action, e.g. `iam:CreateUser`.
    pub action: &'a str,
    /// The resource ARN, or `*`.
    pub resource: &'a str,
    pub context: Context<'a>,
    /// Condition keys from the request's members and the resource (see [`crate::actions`]).
    pub keys: &'a [(String, Vec<String>)],
    /// The resource's own policy, when its service keeps one (a KMS key policy, a bucket policy).
    pub resource_policy: Option<&'a ResourcePolicy>,
    /// The account that owns the resource when its ARN names none (an S3 bucket's
    /// `arn:aws:s3:::NAME`); `None` reads the owner from the ARN.
    pub resource_owner: Option<&'a str>,
}

/// A resource's policy as its service hands it to the authorizer.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    /// The name decisions report it by (`KeyPolicy`).
    pub name: String,
    pub text: String,
    /// Whether it is the root of access (a KMS key policy), not an addition to IAM's.
    pub required: bool,
}

/// Actions that need no permission. `sts:GetCallerIdentity` works even under an explicit deny:
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>.
/// `sts:GetSessionToken` cannot be controlled by policies:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html>.
const ALWAYS_ALLOWED: &[&str] = &["sts:GetCallerIdentity", "sts:GetSessionToken"];

/// Compiled policies with the names decisions report them by.
type NamedPolicies = Vec<(String, Arc<Policy>)>;

/// Most compiled policies kept; the cache empties itself when full.
const CACHE_LIMIT: usize = 10_000;

/// The service control policies over an account, compiled: a level per node of its path, from
/// the organization's root down to the account itself, each with the names decisions report.
pub type ScpLevels = Vec<NamedPolicies>;

/// Where an account stands in its organization, for every decision about its principals.
#[derive(Debug, Default)]
pub struct OrgView {
    /// `aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` (`o-…/r-…/ou-…/`).
    pub org: (String, String),
    /// The SCPs restricting every principal of the account, its root user included; `None` for
    /// the management account and for an organization without the SCP policy type enabled.
    pub scps: Option<ScpLevels>,
    /// The RCPs restricting access to the account's resources, whoever asks; `None` likewise.
    pub rcps: Option<ScpLevels>,
    /// The account was closed (CloseAccount): none of its principals may do anything.
    pub closed: bool,
}

/// What Organizations adds to every decision (implemented by `rampart-organizations`, which
/// builds on this crate).
pub trait Organizations: Send + Sync {
    /// The account's organization and the SCPs over it; `None` outside an organization.
    fn view(&self, db: &Db, account: &str) -> Result<Option<Arc<OrgView>>, ServiceError>;
}

/// Decides requests with the policy engine. Compiled policies are cached by their document text,
/// so the cache can never serve a stale policy: a changed policy is a different key.
#[derive(Default)]
pub struct Authorizer {
    organizations: Option<Arc<dyn Organizations>>,
    compiled: Mutex<HashMap<String, Arc<Policy>>>,
    /// AWS managed policies' documents, which never change, by where their text lies: no
    /// request hashes a large document.
    catalogued: Mutex<HashMap<(usize, usize, u8), Arc<Policy>>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").finish_non_exhaustive()
    }
}

impl Authorizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// An authorizer that also weighs organizations' service control policies.
    pub fn with_organizations(organizations: Arc<dyn Organizations>) -> Self {
        Self { organizations: Some(organizations), ..Self::default() }
    }

    /// Compiles a document, from a cache: a borrowed (catalogue) document by its address, another
    /// by its text.
    fn compile_doc(&self, doc: &iam::Document, kind: PolicyKind) -> Option<Arc<Policy>> {
        let text: &'static str = match doc {
            iam::Document::Owned(text) => return self.compile(text, kind),
            iam::Document::Borrowed(text) => text,
        };
        let key = (text.as_ptr() as usize, text.len(), kind as u8);
        if let Ok(cache) = self.catalogued.lock()
            && let Some(p) = cache.get(&key)
        {
            return Some(p.clone());
        }
        let p = Arc::new(Policy::parse(text, kind).ok()?);
        if let Ok(mut cache) = self.catalogued.lock() {
            cache.insert(key, p.clone());
        }
        Some(p)
    }

    fn compile(&self, doc: &str, kind: PolicyKind) -> Option<Arc<Policy>> {
        if let Ok(cache) = self.compiled.lock()
            && let Some(p) = cache.get(doc)
        {
            return Some(p.clone());
        }
        // Stored documents were validated when written; one that no longer parses grants nothing.
        let p = Arc::new(Policy::parse(doc, kind).ok()?);
        if let Ok(mut cache) = self.compiled.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(doc.to_owned(), p.clone());
        }
        Some(p)
    }

    /// Decides a request; a deny is an `AccessDenied` worded as AWS words it. Fails closed.
    pub fn authorize(&self, db: &Db, req: &Request<'_>) -> Result<(), ServiceError> {
        if ALWAYS_ALLOWED.iter().any(|a| a.eq_ignore_ascii_case(req.action)) {
            return Ok(());
        }
        let p = req.principal;
        let denied = |reason: String| access_denied(req, &reason);
        let no_identity_policy = || format!("because no identity-based policy allows the {} action", req.action);
        // GetSessionToken credentials call IAM only with MFA, and STS only to assume a role.
        // See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#stsapi_comparison>.
        // A console session is a sign-in, not GetSessionToken: it calls IAM and STS as its person may.
        if p.temporary.is_some()
            && p.session.is_none()
            && !p.console
            && p.federation.is_none()
            && p.delegation.is_none()
        {
            let action = req.action.to_ascii_lowercase();
            if action.starts_with("iam:") && p.mfa_at.is_none() {
                return Err(denied("because credentials from GetSessionToken need MFA to call IAM".to_owned()));
            }
            if action.starts_with("sts:") && action != "sts:assumerole" {
                return Err(denied("because credentials from GetSessionToken cannot call STS".to_owned()));
            }
        }
        // Federated users call no IAM and no STS beyond GetCallerIdentity (allowed above).
        if p.kind == PrincipalKind::FederatedUser {
            let action = req.action.to_ascii_lowercase();
            if action.starts_with("iam:") || action.starts_with("sts:") {
                return Err(denied("because federated users cannot call IAM or STS".to_owned()));
            }
        }
        // Service control policies bind every principal of a member account, its root user too.
        let view = match &self.organizations {
            Some(o) => o.view(db, &p.account_id)?,
            None => None,
        };
        if view.as_ref().is_some_and(|v| v.closed) {
            return Err(denied("because the account is closed".to_owned()));
        }
        let scps = view.as_ref().and_then(|v| v.scps.as_ref());
        // Resource control policies of the account that owns the resource (by its ARN), whoever
        // the caller is.
        let owner = req.resource_owner.or_else(|| resource_account(req.resource));
        let owner_view = match (&self.organizations, owner) {
            (Some(o), Some(owner)) if owner != p.account_id => o.view(db, owner)?,
            (_, Some(_)) => view.clone(),
            _ => None,
        };
        let rcps = owner_view.as_ref().and_then(|v| v.rcps.as_ref());
        let org =
            &OrgKeys { principal: view.as_ref().map(|v| &v.org), owner, resource: owner_view.as_ref().map(|v| &v.org) };
        // Delegated credentials do only what the accepted delegation policy allows, on top of all
        // the approver's own policies allow (checked next).
        if let Some(doc) = &p.delegation {
            self.delegation_allows(req, org, doc)?;
        }
        match p.kind {
            PrincipalKind::Root => {
                // A root session from AssumeRoot carries its task policy as a session policy.
                let no_session_policy =
                    || access_denied(req, &format!("because no session policy allows the {} action", req.action));
                let session = match &p.federation {
                    Some(f) => Some(
                        self.session_policies(db, f.session_policy.as_ref(), &f.session_policy_arns)?
                            .ok_or_else(no_session_policy)?,
                    ),
                    None => None,
                };
                // Root's own account's resources are its own; another account's need that
                // account's resource policy (decided below).
                let own = owner.is_none_or(|o| o == p.account_id);
                if scps.is_none() && rcps.is_none() && session.is_none() && req.resource_policy.is_none() && own {
                    return Ok(());
                }
                let principal = rampart_policy::Principal::root(&p.account_id);
                let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
                ctx.set("aws:userid", p.account_id.clone())
                    .set("aws:PrincipalArn", p.arn.clone())
                    .set("aws:PrincipalAccount", p.account_id.clone())
                    .set("aws:PrincipalType", "Account");
                request_keys(req, org, &mut ctx);
                let docs = Documents { identity: &[], boundary: None, session: session.as_ref(), scps, rcps };
                self.decide_documents(req, &principal, &ctx, docs, &no_session_policy)
            }
            PrincipalKind::FederatedUser => self.authorize_federated(db, req, (scps, rcps), org),
            // An unsigned request: only a resource policy that allows everyone admits it. S3
            // answers it "Access Denied", naming no one.
            PrincipalKind::Anonymous => {
                let refuse = || ServiceError::access_denied("Access Denied");
                if req.resource_policy.is_none() {
                    return Err(refuse());
                }
                let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
                request_keys(req, org, &mut ctx);
                let docs = Documents { identity: &[], boundary: None, session: None, scps: None, rcps };
                self.decide_documents(req, &rampart_policy::Principal::anonymous(), &ctx, docs, &refuse)
                    .map_err(|_| refuse())
            }
            PrincipalKind::IAMUser => {
                let Some(name) = &p.user_name else { return Err(denied(no_identity_policy())) };
                // The user must still be the one the credentials were issued to, not a new one with
                // its name.
                let Some(user) = iam::read_user(db, &p.account_id, name)?.filter(|u| u.id == p.user_id) else {
                    return Err(denied(no_identity_policy()));
                };
                let mut docs = iam::identity_documents(db, &user)?;
                // The account-level grant of AllowUsersToChangePassword, decided like any policy
                // (an explicit deny still wins).
                if matches!(req.action, "iam:ChangePassword" | "iam:GetAccountPasswordPolicy")
                    && iam::users_may_change_passwords(db, &p.account_id)?
                {
                    docs.push((
                        "AccountPasswordPolicy".to_owned(),
                        iam::Document::Borrowed(iam::IAM_USER_CHANGE_PASSWORD),
                    ));
                }
                let boundary = iam::boundary_document(db, &user)?;
                let principal = rampart_policy::Principal::user(&p.account_id, &user.path, &user.name);
                let docs = Documents { identity: &docs, boundary: boundary.as_ref(), session: None, scps, rcps };
                self.decide_documents(
                    req,
                    &principal,
                    &context(req, org, &user),
                    docs,
                    &|| denied(no_identity_policy()),
                )
            }
            PrincipalKind::AssumedRole => {
                let Some(session) = &p.session else { return Err(denied(no_identity_policy())) };
                let Some(role) = iam::read_role(db, &p.account_id, &session.role_name)? else {
                    return Err(denied(no_identity_policy()));
                };
                // A session of a deleted and re-created role is not a session of the new role.
                if role.id != session.role_id {
                    return Err(denied(no_identity_policy()));
                }
                let docs = iam::role_documents(db, &role)?;
                let boundary = match &role.boundary {
                    Some(arn) => Some((arn.clone(), iam::managed_document(db, arn)?)),
                    None => None,
                };
                let session_policies = self
                    .session_policies(db, session.session_policy.as_ref(), &session.session_policy_arns)?
                    .ok_or_else(|| denied(no_identity_policy()))?;
                let principal = rampart_policy::Principal::role_session(
                    &p.account_id,
                    &role.path,
                    &role.name,
                    &session.session_name,
                );
                let mut ctx = role_context(&role, &session.session_name);
                // Session tags win over the role's tags of the same key.
                for (k, v) in &session.tags {
                    ctx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
                }
                ctx.set(
                    "aws:TokenIssueTime",
                    session.issued.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                );
                if let Some(s) = &session.source_identity {
                    ctx.set("aws:SourceIdentity", s.clone());
                }
                request_keys(req, org, &mut ctx);
                let docs = Documents {
                    identity: &docs,
                    boundary: boundary.as_ref(),
                    session: (!session_policies.is_empty()).then_some(&session_policies),
                    scps,
                    rcps,
                };
                self.decide_documents(req, &principal, &ctx, docs, &|| denied(no_identity_policy()))
            }
        }
    }
}

impl Authorizer {
    /// Whether the policy a delegation request's approver accepted allows the request, weighed
    /// alone as a session policy is: an explicit deny or no allow refuses.
    fn delegation_allows(&self, req: &Request<'_>, org: &OrgKeys<'_>, doc: &str) -> Result<(), ServiceError> {
        let p = req.principal;
        let refuse = || access_denied(req, &format!("because no session policy allows the {} action", req.action));
        let policy = self.compile(doc, PolicyKind::Session).ok_or_else(refuse)?;
        let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
        ctx.set("aws:userid", p.user_id.clone())
            .set("aws:PrincipalArn", p.arn.clone())
            .set("aws:PrincipalAccount", p.account_id.clone());
        request_keys(req, org, &mut ctx);
        let named = [Named { name: "DelegationPolicy", policy: &policy }];
        // Matched only by a resource policy's Principal, and none is weighed here; not root, whose
        // own account's resources are its own whatever its policies say.
        let principal = rampart_policy::Principal::user(&p.account_id, "/", "delegated");
        let decision = decide(&Input {
            action: req.action,
            resource: req.resource,
            principal: &principal,
            context: &ctx,
            identity: &named,
            boundary: None,
            session: None,
            scps: &[],
            rcps: &[],
            resource_policy: None,
            resource_account: None,
            resource_policy_required: false,
        });
        if decision.is_allowed() { Ok(()) } else { Err(refuse()) }
    }

    /// A session's policies, compiled: the inline one and any managed ones (`PolicyArns`), named
    /// as the simulator reports them. A managed policy that is gone allows nothing, so the session
    /// fails closed; `None` when a document does not compile.
    fn session_policies(
        &self,
        db: &Db,
        inline: Option<&String>,
        arns: &[String],
    ) -> Result<Option<NamedPolicies>, ServiceError> {
        let mut docs: Vec<(String, iam::Document)> =
            inline.map(|d| ("session".to_owned(), iam::Document::Owned(d.clone()))).into_iter().collect();
        for arn in arns {
            docs.push((arn.clone(), iam::managed_document(db, arn)?));
        }
        Ok(docs.into_iter().map(|(n, d)| self.compile_doc(&d, PolicyKind::Session).map(|p| (n, p))).collect())
    }

    /// A GetFederationToken session: allowed only where a session policy allows and the issuing
    /// user's own policies (with its boundary) allow too; root's sessions are bounded by the
    /// session policies alone. No session policy means no permission.
    fn authorize_federated(
        &self,
        db: &Db,
        req: &Request<'_>,
        (scps, rcps): (Option<&ScpLevels>, Option<&ScpLevels>),
        org: &OrgKeys<'_>,
    ) -> Result<(), ServiceError> {
        let p = req.principal;
        let no_session_policy =
            || access_denied(req, &format!("because no session policy allows the {} action", req.action));
        let Some(f) = &p.federation else { return Err(no_session_policy()) };
        let session_compiled = self
            .session_policies(db, f.session_policy.as_ref(), &f.session_policy_arns)?
            .ok_or_else(no_session_policy)?;
        if session_compiled.is_empty() {
            return Err(no_session_policy());
        }
        let name = p.arn.rsplit('/').next().unwrap_or_default();
        let principal = rampart_policy::Principal::federated_user(&p.account_id, name);
        let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
        ctx.set("aws:userid", p.user_id.clone())
            .set("aws:PrincipalArn", p.arn.clone())
            .set("aws:PrincipalAccount", p.account_id.clone())
            .set("aws:PrincipalType", "FederatedUser");
        request_keys(req, org, &mut ctx);
        let (docs, boundary) = match &f.issuer {
            Some((user_name, user_id)) => {
                let Some(user) = iam::read_user(db, &p.account_id, user_name)?.filter(|u| &u.id == user_id) else {
                    return Err(no_session_policy());
                };
                (iam::identity_documents(db, &user)?, iam::boundary_document(db, &user)?)
            }
            None => (vec![("root".to_owned(), iam::Document::Borrowed(ALLOW_ALL))], None),
        };
        let docs =
            Documents { identity: &docs, boundary: boundary.as_ref(), session: Some(&session_compiled), scps, rcps };
        self.decide_documents(req, &principal, &ctx, docs, &no_session_policy)
    }

    /// Compiles a principal's documents (cached by text) and decides the request with them. An
    /// identity policy that does not compile grants nothing; a boundary that does not compile
    /// fails the request (`fail`), as a session policy does in [`Self::session_policies`].
    fn decide_documents(
        &self,
        req: &Request<'_>,
        principal: &rampart_policy::Principal,
        ctx: &rampart_policy::Context,
        docs: Documents<'_>,
        fail: &dyn Fn() -> ServiceError,
    ) -> Result<(), ServiceError> {
        let compiled: Vec<(&str, Arc<Policy>)> = docs
            .identity
            .iter()
            .filter_map(|(n, d)| Some((n.as_str(), self.compile_doc(d, PolicyKind::Identity)?)))
            .collect();
        let identity: Vec<Named<'_>> = compiled.iter().map(|(name, policy)| Named { name, policy }).collect();
        let boundary = match docs.boundary {
            Some((name, doc)) => Some((name.as_str(), self.compile_doc(doc, PolicyKind::Boundary).ok_or_else(fail)?)),
            None => None,
        };
        let session: Option<Vec<Named<'_>>> =
            docs.session.map(|s| s.iter().map(|(name, policy)| Named { name: name.as_str(), policy }).collect());
        let (scp_levels, rcp_levels) = (named_levels(docs.scps), named_levels(docs.rcps));
        // A resource policy that does not compile grants nothing (its service checked it when it
        // was written); one that is required then refuses everything, failing closed.
        let resource = req.resource_policy.and_then(|r| Some((r, self.compile(&r.text, PolicyKind::Resource)?)));
        let scps: Vec<&[Named<'_>]> = scp_levels.iter().map(Vec::as_slice).collect();
        let rcps: Vec<&[Named<'_>]> = rcp_levels.iter().map(Vec::as_slice).collect();
        let decision = decide(&Input {
            action: req.action,
            resource: req.resource,
            principal,
            context: ctx,
            identity: &identity,
            boundary: boundary.as_ref().map(|(name, policy)| Named { name, policy }),
            session: session.as_deref(),
            scps: &scps,
            rcps: &rcps,
            resource_policy: resource.as_ref().map(|(r, p)| Named { name: r.name.as_str(), policy: p }),
            // Whose resource matters only where its policy is weighed: elsewhere the other side
            // (a role's trust policy) is its handler's to check.
            resource_account: req.resource_owner.or(req.resource_policy.and(resource_account(req.resource))),
            resource_policy_required: req.resource_policy.is_some_and(|r| r.required),
        });
        if decision.is_allowed() { Ok(()) } else { Err(access_denied(req, &decision.reason(req.action))) }
    }
}

/// AccessDenied worded as AWS words it: who, what, on which resource, and why.
fn access_denied(req: &Request<'_>, reason: &str) -> ServiceError {
    ServiceError::access_denied(format!(
        "{} is not authorized to perform: {} on resource: {} {reason}",
        req.principal.described(),
        req.action,
        req.resource
    ))
}

/// The documents a decision weighs: identity policies and an optional boundary, as `(name, text)`,
/// and the session's compiled policies when it has any.
struct Documents<'a> {
    identity: &'a [(String, iam::Document)],
    boundary: Option<&'a (String, iam::Document)>,
    session: Option<&'a NamedPolicies>,
    /// The SCPs over the principal's account, by level.
    scps: Option<&'a ScpLevels>,
    /// The RCPs over the resource's account, by level.
    rcps: Option<&'a ScpLevels>,
}

/// Organization policies by level, as the policy engine names them (none: no level).
fn named_levels(levels: Option<&ScpLevels>) -> Vec<Vec<Named<'_>>> {
    levels
        .into_iter()
        .flatten()
        .map(|level| level.iter().map(|(name, policy)| Named { name: name.as_str(), policy }).collect())
        .collect()
}

/// The account in a resource ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`), if it names one.
fn resource_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// What a root-issued federated session's own permissions are before its session policies.
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

/// The global condition keys of a request.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>.
fn context(req: &Request<'_>, org: &OrgKeys<'_>, user: &iam::UserRecord) -> rampart_policy::Context {
    let mut ctx = principal_context(user);
    request_keys(req, org, &mut ctx);
    ctx
}

/// `aws:MultiFactorAuthPresent` and `aws:MultiFactorAuthAge`: present with MFA; temporary
/// credentials without it say `false`; long-term keys carry neither, so `BoolIfExists` treats them
/// as AWS does.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent>.
pub fn mfa_keys(p: &Principal, now: time::OffsetDateTime, ctx: &mut rampart_policy::Context) {
    match p.mfa_at {
        Some(at) => {
            ctx.set("aws:MultiFactorAuthPresent", "true")
                .set("aws:MultiFactorAuthAge", (now - at).whole_seconds().max(0).to_string());
        }
        None if p.temporary.is_some() => {
            ctx.set("aws:MultiFactorAuthPresent", "false");
        }
        None => {}
    }
}

/// Where the principal's account and the resource's owner stand in organizations.
struct OrgKeys<'a> {
    /// The principal's organization and path.
    principal: Option<&'a (String, String)>,
    /// The account in the resource's ARN.
    owner: Option<&'a str>,
    /// The resource owner's organization and path.
    resource: Option<&'a (String, String)>,
}

/// The keys that describe the request itself rather than the principal, with the organization
/// keys of both sides: `aws:ResourceAccount`, `aws:ResourceOrgID` and `aws:ResourceOrgPaths` are
/// known where the resource's ARN names its account.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount>.
fn request_keys(req: &Request<'_>, org: &OrgKeys<'_>, ctx: &mut rampart_policy::Context) {
    iam::set_org_keys(org.principal, ctx);
    if let Some(owner) = org.owner {
        ctx.set("aws:ResourceAccount", owner);
    }
    if let Some((id, path)) = org.resource {
        ctx.set("aws:ResourceOrgID", id.clone()).set("aws:ResourceOrgPaths", path.clone());
    }
    mfa_keys(req.principal, req.context.time, ctx);
    let c = &req.context;
    ctx.set("aws:SourceIp", c.source_ip)
        .set("aws:SecureTransport", if c.secure_transport { "true" } else { "false" })
        .set("aws:UserAgent", c.user_agent)
        .set("aws:RequestedRegion", c.region)
        .set("aws:EpochTime", c.time.unix_timestamp().to_string())
        .set("aws:CurrentTime", c.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default());
    // Present only when the request carries them, as AWS has it: a policy testing `aws:Referer`
    // sees no value from a request without the header.
    // See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-referer>
    // and <https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html>.
    if let Some(referer) = c.referer {
        ctx.set("aws:Referer", referer);
    }
    if let Some(v) = c.tls_version.filter(|_| req.action.starts_with("s3:")) {
        ctx.set("s3:TlsVersion", v);
    }
    for (k, v) in req.keys {
        ctx.set_many(k, v.clone());
    }
}

/// Room for a request's condition keys: the principal's, the request's and a service's own.
const CONTEXT_KEYS: usize = 48;

/// The condition keys that describe a user, shared by enforcement and the policy simulator.
pub fn principal_context(user: &iam::UserRecord) -> rampart_policy::Context {
    let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
    ctx.set("aws:username", user.name.clone())
        .set("aws:userid", user.id.clone())
        .set("aws:PrincipalArn", user.arn())
        .set("aws:PrincipalAccount", user.account_id.clone())
        .set("aws:PrincipalType", "User");
    for (k, v) in &user.tags {
        ctx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
    }
    ctx
}

/// The condition keys that describe a session of a role, shared by enforcement and the simulator.
/// `aws:userid` is `ROLEID:SESSION`; `aws:PrincipalArn` is the role's ARN, not the session's.
pub fn role_context(role: &iam::RoleRecord, session_name: &str) -> rampart_policy::Context {
    let mut ctx = rampart_policy::Context::with_capacity(CONTEXT_KEYS);
    ctx.set("aws:userid", format!("{}:{session_name}", role.id))
        .set("aws:PrincipalArn", role.arn())
        .set("aws:PrincipalAccount", role.account_id.clone())
        .set("aws:PrincipalType", "AssumedRole");
    for (k, v) in &role.tags {
        ctx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `aws:Referer` is there only when the request sent one; `s3:TlsVersion` only over TLS, and
    /// only for S3's actions.
    #[test]
    fn referer_and_tls_version_are_keys_only_when_the_request_has_them() {
        let p = Principal::root("111122223333", None);
        let keys_of = |action: &str, referer: Option<&str>, tls: Option<&str>| {
            let context = Context {
                source_ip: "127.0.0.1",
                time: time::OffsetDateTime::UNIX_EPOCH,
                secure_transport: tls.is_some(),
                user_agent: "",
                region: "us-east-1",
                referer,
                tls_version: tls,
            };
            let req = Request {
                principal: &p,
                action,
                resource: "*",
                context,
                keys: &[],
                resource_policy: None,
                resource_owner: None,
            };
            let mut ctx = rampart_policy::Context::default();
            request_keys(&req, &OrgKeys { principal: None, owner: None, resource: None }, &mut ctx);
            let get = |k: &str| ctx.get(k).map(<[String]>::to_vec);
            (get("aws:Referer"), get("s3:TlsVersion"))
        };
        let shop = "https://shop.example.com/";
        assert_eq!(
            keys_of("s3:GetObject", Some(shop), Some("1.3")),
            (Some(vec![shop.to_owned()]), Some(vec!["1.3".to_owned()]))
        );
        assert_eq!(keys_of("s3:GetObject", None, None), (None, None));
        assert_eq!(keys_of("iam:GetUser", None, Some("1.2")), (None, None));
    }

    #[test]
    fn the_caller_identity_needs_no_permission_and_unknown_principals_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        let ctx = Context {
            source_ip: "127.0.0.1",
            time: time::OffsetDateTime::UNIX_EPOCH,
            secure_transport: false,
            user_agent: "test",
            region: "us-east-1",
            referer: None,
            tls_version: None,
        };
        let a = Authorizer::new();
        let root = Principal::root("111122223333", None);
        let ghost = Principal {
            kind: PrincipalKind::IAMUser,
            account_id: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/ghost".into(),
            user_id: "AIDAEXAMPLE".into(),
            user_name: Some("ghost".into()),
            access_key_id: None,
            session: None,
            federation: None,
            temporary: None,
            expires: None,
            mfa_at: None,
            console: false,
            delegation: None,
        };
        let req = |principal, action| Request {
            principal,
            action,
            resource: "*",
            context: ctx,
            keys: &[],
            resource_policy: None,
            resource_owner: None,
        };
        assert!(a.authorize(&db, &req(&root, "iam:CreateUser")).is_ok());
        // Root's delegated credentials do only what the accepted policy allows.
        let delegated = Principal {
            delegation: Some(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#
                    .into(),
            ),
            ..root.clone()
        };
        assert!(a.authorize(&db, &req(&delegated, "iam:GetUser")).is_ok());
        let e = a.authorize(&db, &req(&delegated, "iam:CreateUser")).unwrap_err();
        assert!(e.message.ends_with("because no session policy allows the iam:CreateUser action"), "{}", e.message);
        assert!(a.authorize(&db, &req(&ghost, "sts:GetCallerIdentity")).is_ok());
        let e = a.authorize(&db, &req(&ghost, "iam:CreateUser")).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert_eq!(
            e.message,
            "User: arn:aws:iam::111122223333:user/ghost is not authorized to perform: iam:CreateUser on resource: * \
             because no identity-based policy allows the iam:CreateUser action"
        );
        db.close();
    }
}
