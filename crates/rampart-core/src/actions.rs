//! What each operation asks of the authorizer: the types of the tables, one per service, that
//! give each operation's IAM action, the resources it acts on and the condition keys its request
//! supplies, taken from AWS's Service Authorization Reference. Each service crate holds its own
//! table; `rampart-iam` resolves a row against a request.
//!
//! See <https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html>.

/// The kinds of IAM resource an operation can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    Group,
    Role,
    Policy,
    InstanceProfile,
    Mfa,
    SamlProvider,
    ServerCertificate,
}

impl Entity {
    /// The resource type's segment in an ARN.
    pub fn segment(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Group => "group",
            Entity::Role => "role",
            Entity::Policy => "policy",
            Entity::InstanceProfile => "instance-profile",
            Entity::Mfa => "mfa",
            Entity::SamlProvider => "saml-provider",
            Entity::ServerCertificate => "server-certificate",
        }
    }
}

/// How an operation names a resource it acts on.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The action has no resource-level permissions: the resource is `*`.
    All,
    /// A listing of one kind of entity. AWS names the collection `arn:aws:iam::ACCOUNT:user/`.
    Listing(Entity),
    /// An existing entity named by an input member. A user-scoped operation whose member is absent
    /// acts on the calling user, as AWS does.
    Named(Entity, &'static str),
    /// An entity being created, named by an input member and placed at the `Path` member.
    New(Entity, &'static str),
    /// A rename: the new name member and the new path member (else the entity keeps its path).
    /// AWS requires permission on both the old and the new name.
    Renamed(Entity, &'static str, &'static str),
    /// A whole ARN in an input member.
    Arn(&'static str),
    /// The user owning the access key an input member names.
    KeyOwner(&'static str),
    /// The calling IAM user itself (ChangePassword has no member naming it).
    Caller,
    /// A federated user named by an input member: `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser(&'static str),
    /// A service-linked role being created, from its service and custom suffix members:
    /// `arn:aws:iam::ACCOUNT:role/aws-service-role/SERVICE/NAME`.
    ServiceLinkedRole(&'static str, &'static str),
    /// An account's root user, by the account id in an input member: `arn:aws:iam::ID:root`.
    AccountRoot(&'static str),
    /// STS's resource for what a caller asks about itself: `arn:aws:sts::ACCOUNT:self`
    /// (GetWebIdentityToken).
    StsSelf,
    /// An OIDC provider being created, from its URL member: `arn:aws:iam::ACCOUNT:oidc-provider/HOST`.
    OidcUrl(&'static str),
    /// An Organizations access report, from its entity path member:
    /// `arn:aws:iam::ACCOUNT:access-report/ENTITY-PATH`.
    AccessReport(&'static str),
    /// An IAM delegation request, by the id in an input member, as the caller's account sees it:
    /// `arn:aws:iam::ACCOUNT:delegation-request/ID`.
    DelegationRequest(&'static str),
    /// A CloudTrail trail named (by name or ARN) by an input member.
    Trail(&'static str),
    /// An S3 bucket named by an input member: `arn:aws:s3:::BUCKET`.
    Bucket(&'static str),
    /// An S3 object named by bucket and key members: `arn:aws:s3:::BUCKET/KEY`.
    Object(&'static str, &'static str),
    /// An ARN formed from a template: `{region}` and `{account}` are the request's, `{Member}`
    /// an input member's value (`*` when absent), as in
    /// `arn:aws:guardduty:{region}:{account}:detector/{DetectorId}`.
    Formed(&'static str),
}

/// An ARN from a [`Target::Formed`] template.
pub fn form_arn(template: &str, region: &str, account: &str, member: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let Some((name, tail)) = after.split_once('}') else {
            out.push('{');
            rest = after;
            continue;
        };
        match name {
            "region" => out.push_str(region),
            "account" => out.push_str(account),
            m => out.push_str(member(m).as_deref().unwrap_or("*")),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// One row of a service's table.
#[derive(Debug)]
pub struct Action {
    /// The API operation, as the service model names it.
    pub operation: &'static str,
    /// The IAM action without its service prefix, when it differs from the operation's name.
    pub action: Option<&'static str>,
    /// The resources the caller must be allowed on, first the primary one.
    pub resources: &'static [Target],
    /// The service-specific and request condition keys the action supports, as the reference
    /// spells them. Each has a source in [`key_values`].
    pub keys: &'static [&'static str],
    /// A role the operation passes to a service, which the caller must also be allowed to pass
    /// (`iam:PassRole`, the reference's dependent action).
    pub passes_role: Option<PassedRole>,
    /// The action a request passing tags (a non-empty `Tags`) also needs, without its prefix
    /// (`TagGetWebIdentityToken`, the reference's dependent action), with the tags' keys.
    pub tagging: Option<&'static str>,
    /// Other actions (with their prefix) the caller must also be allowed, on `*`: the
    /// reference's dependent actions a service checks itself (GuardDuty's `CreateIPSet` needs
    /// `iam:PutRolePolicy` for its service-linked role's policy).
    pub also: &'static [&'static str],
}

impl Action {
    /// This row, needing the dependent actions `also` too.
    pub const fn also(self, also: &'static [&'static str]) -> Action {
        Action { also, ..self }
    }

    /// This row, for an IAM action named other than its operation.
    pub const fn named(self, action: &'static str) -> Action {
        Action { action: Some(action), ..self }
    }

    /// This row, needing `action` too when the request passes tags.
    pub const fn tagging(self, action: &'static str) -> Action {
        Action { tagging: Some(action), ..self }
    }
}

/// How an operation names the role it passes, and to whom.
#[derive(Debug, Clone, Copy)]
pub struct PassedRole {
    /// The input member holding the role: its name (`RoleName`) or its ARN (`…RoleArn`).
    pub member: &'static str,
    /// The service the role is passed to: `iam:PassedToService`.
    pub to_service: &'static str,
}

/// A row: the operation, the resources it acts on (first the primary one) and its keys.
pub const fn row(operation: &'static str, resources: &'static [Target], keys: &'static [&'static str]) -> Action {
    Action { operation, action: None, resources, keys, passes_role: None, tagging: None, also: &[] }
}

/// A row whose operation passes a role to `to_service`: iam:PassRole on the role is required too,
/// with iam:PassedToService and iam:AssociatedResourceArn (the operation's primary resource).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html>.
pub const fn passing(
    operation: &'static str,
    resources: &'static [Target],
    keys: &'static [&'static str],
    member: &'static str,
    to_service: &'static str,
) -> Action {
    Action {
        operation,
        action: None,
        resources,
        keys,
        passes_role: Some(PassedRole { member, to_service }),
        tagging: None,
        also: &[],
    }
}

/// Every key a table may name; `key_values` gives each a value.
pub const KNOWN_KEYS: &[&str] = &[
    "aws:RequestTag/${TagKey}",
    "aws:TagKeys",
    "iam:AWSServiceName",
    "iam:OrganizationsPolicyId",
    "iam:PolicyARN",
    "iam:PermissionsBoundary",
    "sts:DurationSeconds",
    "sts:ExternalId",
    "sts:IdentityTokenAudience",
    "sts:SigningAlgorithm",
    "sts:RoleSessionName",
    "sts:SourceIdentity",
    "sts:TransitiveTagKeys",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
];
