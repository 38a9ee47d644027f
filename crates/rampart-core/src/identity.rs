//! Who is calling: the principal an access key or session resolves to.

/// The kind of principal, as CloudTrail's `userIdentity.type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PrincipalKind {
    Root,
    IAMUser,
    AssumedRole,
    /// A GetFederationToken session: the issuing user's permissions, narrowed by its session
    /// policies.
    FederatedUser,
    /// An unsigned request (S3 only): it belongs to no account, has no policies, and is served
    /// only where a resource policy allows everyone.
    Anonymous,
}

/// Who is calling: an authenticated caller, or the anonymous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account_id: String,
    pub arn: String,
    /// `aws:userid`: the account id for root, the unique id for users.
    pub user_id: String,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// For role sessions: the role and the session's limits.
    pub session: Option<RoleSession>,
    /// For federated users: who issued the session and what it may do.
    pub federation: Option<Federation>,
    /// Signed with temporary (`ASIA…`) credentials (a role, GetSessionToken or federated
    /// session): when they were issued (CloudTrail's `sessionContext.attributes.creationDate`).
    pub temporary: Option<time::OffsetDateTime>,
    /// When those temporary credentials expire.
    pub expires: Option<time::OffsetDateTime>,
    /// When an MFA code was checked for these credentials (`aws:MultiFactorAuthPresent`,
    /// `aws:MultiFactorAuthAge`); long-term keys never carry it.
    pub mfa_at: Option<time::OffsetDateTime>,
    /// Signed with a console session's credentials (sign-in).
    pub console: bool,
    /// For credentials a partner got through temporary delegation (STS GetDelegatedAccessToken):
    /// the policy the approver accepted. The caller may do only what both its own identity and
    /// this policy allow.
    pub delegation: Option<String>,
}

/// What a GetFederationToken session carries: the issuing user (none when root issued it) and
/// the session policies, inline and managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    pub issuer: Option<(String, String)>,
    pub session_policy: Option<String>,
    pub session_policy_arns: Vec<String>,
}

/// What a role session carries (from its sealed session token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    pub role_name: String,
    /// The role's path (`/` or `/division/`), for matching role ARNs.
    pub role_path: String,
    pub role_id: String,
    pub session_name: String,
    /// The inline session policy passed to AssumeRole, if any.
    pub session_policy: Option<String>,
    /// Managed policies passed to AssumeRole as session policies (`PolicyArns`).
    pub session_policy_arns: Vec<String>,
    /// Session tags, and which of them pass on to chained sessions.
    pub tags: Vec<(String, String)>,
    pub transitive: Vec<String>,
    pub issued: time::OffsetDateTime,
    pub source_identity: Option<String>,
    /// For sessions from AssumeRoleWithWebIdentity or AssumeRoleWithSAML: the provider's ARN.
    pub federated_provider: Option<String>,
}

impl Principal {
    /// The root user of an account.
    pub fn root(account_id: &str, access_key_id: Option<String>) -> Self {
        Self {
            kind: PrincipalKind::Root,
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.to_owned(),
            user_name: None,
            access_key_id,
            session: None,
            federation: None,
            temporary: None,
            expires: None,
            mfa_at: None,
            console: false,
            delegation: None,
        }
    }

    /// The caller of an unsigned request. Its account id is empty: it matches no account's
    /// principal, and owns nothing.
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            account_id: String::new(),
            arn: String::new(),
            user_id: String::new(),
            user_name: None,
            access_key_id: None,
            session: None,
            federation: None,
            temporary: None,
            expires: None,
            mfa_at: None,
            console: false,
            delegation: None,
        }
    }

    /// How AccessDenied messages name the caller ("User: arn:…").
    pub fn described(&self) -> String {
        format!("User: {}", self.arn)
    }
}
