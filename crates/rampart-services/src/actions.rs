//! What each operation asks of the authorizer — its IAM action, the resources it acts on and the
//! service-specific condition keys its request supplies — in one table per service, taken from
//! AWS's Service Authorization Reference, and resolved against a request here and nowhere else.
//!
//! IAM: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_identityandaccessmanagement.html>
//! STS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html>

use std::collections::HashMap;
use std::sync::LazyLock;

use rampart_shapes::{Operation, Value};
use rampart_store::Db;

use crate::{Principal, ServiceError, iam};

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
    /// An OIDC provider being created, from its URL member: `arn:aws:iam::ACCOUNT:oidc-provider/HOST`.
    OidcUrl(&'static str),
    /// A CloudTrail trail named (by name or ARN) by an input member.
    Trail(&'static str),
    /// An S3 bucket named by an input member: `arn:aws:s3:::BUCKET`.
    Bucket(&'static str),
    /// An S3 object named by bucket and key members: `arn:aws:s3:::BUCKET/KEY`.
    Object(&'static str, &'static str),
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
}

/// How an operation names the role it passes, and to whom.
#[derive(Debug, Clone, Copy)]
pub struct PassedRole {
    /// The input member holding the role: its name (`RoleName`) or its ARN (`…RoleArn`).
    pub member: &'static str,
    /// The service the role is passed to: `iam:PassedToService`.
    pub to_service: &'static str,
}

const fn a(operation: &'static str, resources: &'static [Target], keys: &'static [&'static str]) -> Action {
    Action { operation, action: None, resources, keys, passes_role: None }
}

/// A row whose operation passes a role to `to_service`: iam:PassRole on the role is required too,
/// with iam:PassedToService and iam:AssociatedResourceArn (the operation's primary resource).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html>.
const fn passing(
    operation: &'static str,
    resources: &'static [Target],
    keys: &'static [&'static str],
    member: &'static str,
    to_service: &'static str,
) -> Action {
    Action { operation, action: None, resources, keys, passes_role: Some(PassedRole { member, to_service }) }
}

use Entity::{Group, InstanceProfile, Mfa, Policy, Role, SamlProvider, User};
use Target::{All, Arn, Bucket, Caller, FederatedUser, KeyOwner, Listing, Named, New, Object, OidcUrl, Renamed, Trail};

const TAGS: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys"];
const UNTAG: &[&str] = &["aws:TagKeys"];
const BOUNDARY: &[&str] = &["iam:PermissionsBoundary"];
const ATTACH: &[&str] = &["iam:PolicyARN", "iam:PermissionsBoundary"];
const NEW_ENTITY: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys", "iam:PermissionsBoundary"];

const USER: &[Target] = &[Named(User, "UserName")];
const GROUP: &[Target] = &[Named(Group, "GroupName")];
const ROLE: &[Target] = &[Named(Role, "RoleName")];
const POLICY: &[Target] = &[Named(Policy, "PolicyArn")];
const PROFILE: &[Target] = &[Named(InstanceProfile, "InstanceProfileName")];
const MFA: &[Target] = &[Arn("SerialNumber")];
const OIDC: &[Target] = &[Arn("OpenIDConnectProviderArn")];
const SAML: &[Target] = &[Arn("SAMLProviderArn")];

/// IAM's operations.
pub static IAM: &[Action] = &[
    a("AddClientIDToOpenIDConnectProvider", OIDC, &[]),
    passing("AddRoleToInstanceProfile", PROFILE, &[], "RoleName", "ec2.amazonaws.com"),
    a("AddUserToGroup", GROUP, &[]),
    a("AttachGroupPolicy", GROUP, &["iam:PolicyARN"]),
    a("AttachRolePolicy", ROLE, ATTACH),
    a("AttachUserPolicy", USER, ATTACH),
    a("ChangePassword", &[Caller], &[]),
    a("CreateAccessKey", USER, &[]),
    a("CreateAccountAlias", &[All], &[]),
    a("CreateGroup", &[New(Group, "GroupName")], &[]),
    a("CreateInstanceProfile", &[New(InstanceProfile, "InstanceProfileName")], TAGS),
    a("CreateLoginProfile", USER, &[]),
    a("CreateOpenIDConnectProvider", &[OidcUrl("Url")], TAGS),
    a("CreatePolicy", &[New(Policy, "PolicyName")], TAGS),
    a("CreatePolicyVersion", POLICY, &[]),
    a("CreateRole", &[New(Role, "RoleName")], NEW_ENTITY),
    a("CreateSAMLProvider", &[Named(SamlProvider, "Name")], TAGS),
    a("CreateUser", &[New(User, "UserName")], NEW_ENTITY),
    a("CreateVirtualMFADevice", &[New(Mfa, "VirtualMFADeviceName")], TAGS),
    a("DeactivateMFADevice", USER, &[]),
    a("DeleteAccessKey", USER, &[]),
    a("DeleteAccountAlias", &[All], &[]),
    a("DeleteAccountPasswordPolicy", &[All], &[]),
    a("DeleteGroup", GROUP, &[]),
    a("DeleteGroupPolicy", GROUP, &[]),
    a("DeleteInstanceProfile", PROFILE, &[]),
    a("DeleteLoginProfile", USER, &[]),
    a("DeleteOpenIDConnectProvider", OIDC, &[]),
    a("DeletePolicy", POLICY, &[]),
    a("DeletePolicyVersion", POLICY, &[]),
    a("DeleteRole", ROLE, &[]),
    a("DeleteRolePermissionsBoundary", ROLE, BOUNDARY),
    a("DeleteRolePolicy", ROLE, BOUNDARY),
    a("DeleteSAMLProvider", SAML, &[]),
    a("DeleteUser", USER, &[]),
    a("DeleteUserPermissionsBoundary", USER, BOUNDARY),
    a("DeleteUserPolicy", USER, BOUNDARY),
    a("DeleteVirtualMFADevice", MFA, &[]),
    a("DetachGroupPolicy", GROUP, &["iam:PolicyARN"]),
    a("DetachRolePolicy", ROLE, ATTACH),
    a("DetachUserPolicy", USER, ATTACH),
    a("EnableMFADevice", USER, &[]),
    a("GenerateCredentialReport", &[All], &[]),
    a("GetAccessKeyLastUsed", &[KeyOwner("AccessKeyId")], &[]),
    a("GetAccountAuthorizationDetails", &[All], &[]),
    a("GetAccountPasswordPolicy", &[All], &[]),
    a("GetAccountSummary", &[All], &[]),
    a("GetContextKeysForCustomPolicy", &[All], &[]),
    a("GetContextKeysForPrincipalPolicy", &[Arn("PolicySourceArn")], &[]),
    a("GetCredentialReport", &[All], &[]),
    a("GetGroup", GROUP, &[]),
    a("GetGroupPolicy", GROUP, &[]),
    a("GetInstanceProfile", PROFILE, &[]),
    a("GetLoginProfile", USER, &[]),
    a("GetOpenIDConnectProvider", OIDC, &[]),
    a("GetPolicy", POLICY, &[]),
    a("GetPolicyVersion", POLICY, &[]),
    a("GetRole", ROLE, &[]),
    a("GetRolePolicy", ROLE, &[]),
    a("GetSAMLProvider", SAML, &[]),
    a("GetUser", USER, &[]),
    a("GetUserPolicy", USER, &[]),
    a("ListAccessKeys", USER, &[]),
    a("ListAccountAliases", &[All], &[]),
    a("ListAttachedGroupPolicies", GROUP, &[]),
    a("ListAttachedRolePolicies", ROLE, &[]),
    a("ListAttachedUserPolicies", USER, &[]),
    a("ListEntitiesForPolicy", POLICY, &[]),
    a("ListGroupPolicies", GROUP, &[]),
    a("ListGroups", &[Listing(Group)], &[]),
    a("ListGroupsForUser", USER, &[]),
    a("ListInstanceProfileTags", PROFILE, &[]),
    a("ListInstanceProfiles", &[Listing(InstanceProfile)], &[]),
    a("ListInstanceProfilesForRole", ROLE, &[]),
    a("ListMFADeviceTags", MFA, &[]),
    a("ListMFADevices", USER, &[]),
    a("ListOpenIDConnectProviderTags", OIDC, &[]),
    a("ListOpenIDConnectProviders", &[All], &[]),
    a("ListPolicies", &[Listing(Policy)], &[]),
    a("ListPolicyTags", POLICY, &[]),
    a("ListPolicyVersions", POLICY, &[]),
    a("ListRolePolicies", ROLE, &[]),
    a("ListRoleTags", ROLE, &[]),
    a("ListRoles", &[Listing(Role)], &[]),
    a("ListSAMLProviderTags", SAML, &[]),
    a("ListSAMLProviders", &[All], &[]),
    a("ListUserPolicies", USER, &[]),
    a("ListUserTags", USER, &[]),
    a("ListUsers", &[Listing(User)], &[]),
    a("ListVirtualMFADevices", &[All], &[]),
    a("PutGroupPolicy", GROUP, &[]),
    a("PutRolePermissionsBoundary", ROLE, BOUNDARY),
    a("PutRolePolicy", ROLE, BOUNDARY),
    a("PutUserPermissionsBoundary", USER, BOUNDARY),
    a("PutUserPolicy", USER, BOUNDARY),
    a("RemoveClientIDFromOpenIDConnectProvider", OIDC, &[]),
    a("RemoveRoleFromInstanceProfile", PROFILE, &[]),
    a("RemoveUserFromGroup", GROUP, &[]),
    a("ResyncMFADevice", USER, &[]),
    a("SetDefaultPolicyVersion", POLICY, &[]),
    a("SimulateCustomPolicy", &[All], &[]),
    a("SimulatePrincipalPolicy", &[Arn("PolicySourceArn")], &[]),
    a("TagInstanceProfile", PROFILE, TAGS),
    a("TagMFADevice", MFA, TAGS),
    a("TagOpenIDConnectProvider", OIDC, TAGS),
    a("TagPolicy", POLICY, TAGS),
    a("TagRole", ROLE, TAGS),
    a("TagSAMLProvider", SAML, TAGS),
    a("TagUser", USER, TAGS),
    a("UntagInstanceProfile", PROFILE, UNTAG),
    a("UntagMFADevice", MFA, UNTAG),
    a("UntagOpenIDConnectProvider", OIDC, UNTAG),
    a("UntagPolicy", POLICY, UNTAG),
    a("UntagRole", ROLE, UNTAG),
    a("UntagSAMLProvider", SAML, UNTAG),
    a("UntagUser", USER, UNTAG),
    a("UpdateAccessKey", USER, &[]),
    a("UpdateAccountPasswordPolicy", &[All], &[]),
    a("UpdateAssumeRolePolicy", ROLE, &[]),
    a("UpdateGroup", &[Named(Group, "GroupName"), Renamed(Group, "NewGroupName", "NewPath")], &[]),
    a("UpdateLoginProfile", USER, &[]),
    a("UpdateOpenIDConnectProviderThumbprint", OIDC, &[]),
    a("UpdateRole", ROLE, &[]),
    a("UpdateRoleDescription", ROLE, &[]),
    a("UpdateSAMLProvider", SAML, &[]),
    a("UpdateUser", &[Named(User, "UserName"), Renamed(User, "NewUserName", "NewPath")], &[]),
];

const BUCKET: &[Target] = &[Bucket("Bucket")];
const OBJECT: &[Target] = &[Object("Bucket", "Key")];

/// The S3 subset's operations. HeadBucket, ListObjects and ListObjectsV2 are `s3:ListBucket`; GetObject and
/// HeadObject are `s3:GetObject`.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>.
pub static S3: &[Action] = &[
    a("CreateBucket", BUCKET, &[]),
    a("DeleteBucket", BUCKET, &[]),
    a("DeleteObject", OBJECT, &[]),
    a("GetBucketLocation", BUCKET, &[]),
    a("GetObject", OBJECT, &[]),
    Action { operation: "HeadBucket", action: Some("ListBucket"), resources: BUCKET, keys: &[], passes_role: None },
    Action { operation: "HeadObject", action: Some("GetObject"), resources: OBJECT, keys: &[], passes_role: None },
    Action {
        operation: "ListBuckets",
        action: Some("ListAllMyBuckets"),
        resources: &[All],
        keys: &[],
        passes_role: None,
    },
    Action {
        operation: "ListObjects",
        action: Some("ListBucket"),
        resources: BUCKET,
        keys: &["s3:prefix", "s3:delimiter", "s3:max-keys"],
        passes_role: None,
    },
    Action {
        operation: "ListObjectsV2",
        action: Some("ListBucket"),
        resources: BUCKET,
        keys: &["s3:prefix", "s3:delimiter", "s3:max-keys"],
        passes_role: None,
    },
    a("PutObject", OBJECT, &[]),
];

/// STS's operations. `GetCallerIdentity` needs no permission at all (see `authz`).
pub static STS: &[Action] = &[
    a(
        "AssumeRole",
        &[Arn("RoleArn")],
        &[
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "sts:ExternalId",
            "sts:RoleSessionName",
            "sts:SourceIdentity",
            "sts:TransitiveTagKeys",
        ],
    ),
    a("DecodeAuthorizationMessage", &[All], &[]),
    a("GetAccessKeyInfo", &[All], &[]),
    a("GetCallerIdentity", &[All], &[]),
    a("GetFederationToken", &[FederatedUser("Name")], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    a("GetSessionToken", &[All], &[]),
];

/// CloudTrail's operations.
/// See <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudtrail.html>.
pub static CLOUDTRAIL: &[Action] = &[
    a("AddTags", &[Arn("ResourceId")], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    passing(
        "CreateTrail",
        &[Trail("Name")],
        &["aws:RequestTag/${TagKey}", "aws:TagKeys"],
        "CloudWatchLogsRoleArn",
        "cloudtrail.amazonaws.com",
    ),
    a("DeleteTrail", &[Trail("Name")], &[]),
    a("DescribeTrails", &[All], &[]),
    a("GetEventSelectors", &[Trail("TrailName")], &[]),
    a("GetTrail", &[Trail("Name")], &[]),
    a("GetTrailStatus", &[Trail("Name")], &[]),
    a("ListPublicKeys", &[All], &[]),
    a("ListTags", &[All], &[]),
    a("ListTrails", &[All], &[]),
    a("LookupEvents", &[All], &[]),
    a("PutEventSelectors", &[Trail("TrailName")], &[]),
    a("RemoveTags", &[Arn("ResourceId")], &["aws:TagKeys"]),
    a("StartLogging", &[Trail("Name")], &[]),
    a("StopLogging", &[Trail("Name")], &[]),
    passing("UpdateTrail", &[Trail("Name")], &[], "CloudWatchLogsRoleArn", "cloudtrail.amazonaws.com"),
];

/// Every table, by the service's endpoint prefix.
pub static TABLES: &[(&str, &[Action])] = &[("cloudtrail", CLOUDTRAIL), ("iam", IAM), ("s3", S3), ("sts", STS)];

static INDEX: LazyLock<HashMap<(&'static str, &'static str), &'static Action>> = LazyLock::new(|| {
    TABLES.iter().flat_map(|(service, table)| table.iter().map(move |a| ((*service, a.operation), a))).collect()
});

/// The table row of an operation, if it has one.
pub fn lookup(service: &str, operation: &str) -> Option<&'static Action> {
    INDEX.get(&(service, operation)).copied()
}

/// What the authorizer needs of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `service:Action`.
    pub action: String,
    /// The resource ARNs the caller must be allowed on; never empty.
    pub resources: Vec<String>,
    /// Condition keys and their values, from the request and the resource.
    pub keys: Vec<(String, Vec<String>)>,
    /// A role the request passes: the `iam:PassRole` check it needs, on the role's ARN.
    pub passed_role: Option<PassRoleCheck>,
}

/// The `iam:PassRole` check of a request that passes a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRoleCheck {
    pub role_arn: String,
    /// `iam:PassedToService` and `iam:AssociatedResourceArn`.
    pub keys: Vec<(String, Vec<String>)>,
}

/// What the store says about an existing resource.
#[derive(Default)]
struct Found {
    path: Option<String>,
    tags: Vec<(String, String)>,
    boundary: Option<String>,
}

fn find(db: &Db, account: &str, entity: Entity, name: &str) -> Result<Found, ServiceError> {
    Ok(match entity {
        User => {
            iam::read_user(db, account, name)?.map(|u| Found { path: Some(u.path), tags: u.tags, boundary: u.boundary })
        }
        Group => iam::read_group(db, account, name)?.map(|g| Found { path: Some(g.path), ..Found::default() }),
        Role => {
            iam::read_role(db, account, name)?.map(|r| Found { path: Some(r.path), tags: r.tags, boundary: r.boundary })
        }
        InstanceProfile => iam::read_instance_profile(db, account, name)?.map(|p| Found {
            path: Some(p.path),
            tags: p.tags,
            ..Found::default()
        }),
        Policy => {
            iam::read_policy_by_arn(db, name)?.map(|p| Found { path: Some(p.path), tags: p.tags, ..Found::default() })
        }
        Mfa => iam::read_mfa_device_named(db, account, name)?.map(|d| Found {
            path: Some(d.path),
            tags: d.tags,
            ..Found::default()
        }),
        SamlProvider => iam::read_saml_provider(db, &iam::saml_provider_arn(account, name))?.map(|p| Found {
            path: Some("/".to_owned()),
            tags: p.tags,
            ..Found::default()
        }),
    }
    .unwrap_or_default())
}

/// The entity an IAM ARN of this account names, if it names one.
fn parse_arn<'s>(account: &str, arn: &'s str) -> Option<(Entity, &'s str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?.strip_prefix(account)?.strip_prefix(':')?;
    let (segment, path_and_name) = rest.split_once('/')?;
    let entity =
        [User, Group, Role, InstanceProfile, Mfa, SamlProvider].into_iter().find(|e| e.segment() == segment)?;
    Some((entity, path_and_name.rsplit('/').next()?))
}

/// Resolves an operation's table row against a request: the ARNs it acts on and its condition
/// keys. An operation without a row acts on `*` with no extra keys.
pub fn resolve(
    db: &Db,
    principal: &Principal,
    service: &str,
    op: &Operation,
    input: &Value,
    region: &str,
) -> Result<Resolved, ServiceError> {
    let row = lookup(service, op.name);
    let action = format!("{service}:{}", row.and_then(|r| r.action).unwrap_or(op.name));
    let account = &principal.account_id;
    let member = |name: &str| op.input.and_then(|shape| input.string_field(shape, name));
    let mut resources = Vec::new();
    let mut primary: Option<Found> = None;
    for target in row.map_or(&[All][..], |r| r.resources) {
        let arn = match *target {
            All => "*".to_owned(),
            Listing(entity) => format!("arn:aws:iam::{account}:{}/", entity.segment()),
            Named(Policy, m) | Arn(m) => {
                let Some(arn) = member(m) else {
                    resources.push("*".to_owned());
                    continue;
                };
                if primary.is_none() {
                    primary = Some(match parse_arn(account, arn) {
                        Some((entity, name)) => find(db, account, entity, name)?,
                        None if arn.contains(":policy/") => find(db, account, Policy, arn)?,
                        None if arn.contains(":oidc-provider/") => iam::read_oidc_provider(db, arn)?
                            .filter(|p| p.account_id == *account)
                            .map(|p| Found { tags: p.tags, ..Found::default() })
                            .unwrap_or_default(),
                        None => Found::default(),
                    });
                }
                arn.to_owned()
            }
            Named(entity, m) => {
                let name = match (member(m), entity, &principal.user_name) {
                    (Some(n), _, _) => n.to_owned(),
                    (None, User, Some(me)) => me.clone(),
                    _ => {
                        resources.push("*".to_owned());
                        continue;
                    }
                };
                let found = find(db, account, entity, &name)?;
                let path = found.path.clone().unwrap_or_else(|| "/".to_owned());
                if primary.is_none() {
                    primary = Some(found);
                }
                format!("arn:aws:iam::{account}:{}{path}{name}", entity.segment())
            }
            KeyOwner(m) => {
                let owner = match member(m) {
                    Some(id) => {
                        crate::account::read::<crate::account::AccessKeyRecord>(db, &crate::keys::access_key(id))?
                            .map(|k| k.owner)
                    }
                    None => None,
                };
                match owner {
                    Some(crate::account::KeyOwner::User { account_id, user_name, .. }) if account_id == *account => {
                        let found = find(db, account, User, &user_name)?;
                        let path = found.path.clone().unwrap_or_else(|| "/".to_owned());
                        primary.get_or_insert(found);
                        format!("arn:aws:iam::{account}:user{path}{user_name}")
                    }
                    _ => "*".to_owned(),
                }
            }
            New(entity, m) => {
                let path = member("Path").unwrap_or("/");
                format!("arn:aws:iam::{account}:{}{path}{}", entity.segment(), member(m).unwrap_or_default())
            }
            FederatedUser(m) => format!("arn:aws:sts::{account}:federated-user/{}", member(m).unwrap_or("*")),
            Caller => match &principal.user_name {
                Some(me) => {
                    let found = find(db, account, User, me)?;
                    let path = found.path.clone().unwrap_or_else(|| "/".to_owned());
                    primary.get_or_insert(found);
                    format!("arn:aws:iam::{account}:user{path}{me}")
                }
                None => "*".to_owned(),
            },
            OidcUrl(m) => {
                let url = member(m).map(iam::provider_url).transpose()?.unwrap_or_default();
                iam::provider_arn(account, &url)
            }
            Trail(m) => match member(m) {
                Some(arn) if arn.starts_with("arn:") => arn.to_owned(),
                Some(name) => format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}"),
                None => "*".to_owned(),
            },
            Bucket(b) => format!("arn:aws:s3:::{}", member(b).unwrap_or("*")),
            Object(b, k) => format!("arn:aws:s3:::{}/{}", member(b).unwrap_or("*"), member(k).unwrap_or("*")),
            Renamed(entity, name_member, path_member) => {
                let (new_name, new_path) = (member(name_member), member(path_member));
                if new_name.is_none() && new_path.is_none() {
                    continue;
                }
                let old_name = resources.first().and_then(|r: &String| r.rsplit('/').next()).unwrap_or_default();
                let path = new_path
                    .map(str::to_owned)
                    .or_else(|| primary.as_ref().and_then(|p| p.path.clone()))
                    .unwrap_or_else(|| "/".to_owned());
                format!("arn:aws:iam::{account}:{}{path}{}", entity.segment(), new_name.unwrap_or(old_name))
            }
        };
        resources.push(arn);
    }
    if resources.is_empty() {
        resources.push("*".to_owned());
    }
    let primary = primary.unwrap_or_default();
    let mut keys = Vec::new();
    for (k, v) in &primary.tags {
        keys.push((format!("aws:ResourceTag/{k}"), vec![v.clone()]));
        keys.push((format!("iam:ResourceTag/{k}"), vec![v.clone()]));
    }
    for key in row.map_or(&[][..], |r| r.keys) {
        key_values(key, op, input, &primary, &mut keys);
    }
    let passed_role = match row.and_then(|r| r.passes_role) {
        Some(p) => member(p.member).map(|role| {
            let role_arn = if role.starts_with("arn:") {
                role.to_owned()
            } else {
                // A role named by name: its ARN has its path.
                let path = find(db, account, Role, role).ok().and_then(|f| f.path).unwrap_or_else(|| "/".to_owned());
                format!("arn:aws:iam::{account}:role{path}{role}")
            };
            let mut keys = vec![("iam:PassedToService".to_owned(), vec![p.to_service.to_owned()])];
            if let Some(associated) = resources.first().filter(|r| *r != "*") {
                keys.push(("iam:AssociatedResourceArn".to_owned(), vec![associated.clone()]));
            }
            PassRoleCheck { role_arn, keys }
        }),
        None => None,
    };
    Ok(Resolved { action, resources, keys, passed_role })
}

/// Where the value of each key a table names comes from.
fn key_values(key: &str, op: &Operation, input: &Value, primary: &Found, out: &mut Vec<(String, Vec<String>)>) {
    let Some(shape) = op.input else { return };
    let string = |name: &str| input.string_field(shape, name).map(str::to_owned);
    let strings = |name: &str| match input.field(shape, name) {
        Some((_, Value::List(items))) => {
            items.iter().filter_map(|v| if let Value::String(s) = v { Some(s.clone()) } else { None }).collect()
        }
        _ => Vec::new(),
    };
    // `Tags` is a list of `{Key, Value}` structures in every model that has it.
    let tags = || -> Vec<(String, String)> {
        let Some((list_shape, Value::List(items))) = input.field(shape, "Tags") else { return Vec::new() };
        let rampart_shapes::Kind::List(l) = &list_shape.kind else { return Vec::new() };
        items
            .iter()
            .filter_map(|t| {
                Some((t.string_field(l.member, "Key")?.to_owned(), t.string_field(l.member, "Value")?.to_owned()))
            })
            .collect()
    };
    match key {
        "aws:RequestTag/${TagKey}" => {
            out.extend(tags().into_iter().map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v])));
        }
        "aws:TagKeys" => {
            let mut keys: Vec<String> = tags().into_iter().map(|(k, _)| k).collect();
            keys.extend(strings("TagKeys"));
            if !keys.is_empty() {
                out.push((key.to_owned(), keys));
            }
        }
        "iam:PolicyARN" => out.extend(string("PolicyArn").map(|v| (key.to_owned(), vec![v]))),
        // The boundary being set, else the one the entity already has.
        "iam:PermissionsBoundary" => {
            out.extend(
                string("PermissionsBoundary").or_else(|| primary.boundary.clone()).map(|v| (key.to_owned(), vec![v])),
            );
        }
        "sts:ExternalId" => out.extend(string("ExternalId").map(|v| (key.to_owned(), vec![v]))),
        "s3:prefix" => out.extend(string("Prefix").map(|v| (key.to_owned(), vec![v]))),
        "s3:delimiter" => out.extend(string("Delimiter").map(|v| (key.to_owned(), vec![v]))),
        "s3:max-keys" => {
            if let Some((_, Value::Integer(n))) = input.field(shape, "MaxKeys") {
                out.push((key.to_owned(), vec![n.to_string()]));
            }
        }
        "sts:RoleSessionName" => out.extend(string("RoleSessionName").map(|v| (key.to_owned(), vec![v]))),
        "sts:SourceIdentity" => out.extend(string("SourceIdentity").map(|v| (key.to_owned(), vec![v]))),
        "sts:TransitiveTagKeys" => {
            let v = strings("TransitiveTagKeys");
            if !v.is_empty() {
                out.push((key.to_owned(), v));
            }
        }
        _ => {}
    }
}

/// Every key a table may name; `key_values` gives each a value.
pub const KNOWN_KEYS: &[&str] = &[
    "aws:RequestTag/${TagKey}",
    "aws:TagKeys",
    "iam:PolicyARN",
    "iam:PermissionsBoundary",
    "sts:ExternalId",
    "sts:RoleSessionName",
    "sts:SourceIdentity",
    "sts:TransitiveTagKeys",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_model_operation_its_members_and_known_keys() {
        for (service, table) in TABLES {
            let model = rampart_shapes::services()
                .iter()
                .find(|s| s.endpoint_prefix == *service)
                .unwrap_or_else(|| panic!("no model for {service}"));
            let mut previous = "";
            for row in *table {
                assert!(row.operation > previous, "{service} table not sorted at {}", row.operation);
                previous = row.operation;
                let op = model
                    .operation(row.operation)
                    .unwrap_or_else(|| panic!("{service}:{} not in model", row.operation));
                let has = |m: &str| matches!(op.input.map(|s| &s.kind), Some(rampart_shapes::Kind::Structure(st)) if st.member_index(m).is_some());
                for t in row.resources {
                    let members: &[&str] = match t {
                        All | Listing(_) | Caller => &[],
                        Named(_, m) | Arn(m) | KeyOwner(m) => &[m],
                        New(_, m) => &[m, "Path"],
                        Renamed(_, m, p) | Object(m, p) => &[m, p],
                        Bucket(m) | FederatedUser(m) | OidcUrl(m) | Trail(m) => &[m],
                    };
                    for m in members {
                        assert!(has(m), "{service}:{} has no member {m}", row.operation);
                    }
                }
                for k in row.keys {
                    assert!(KNOWN_KEYS.contains(k), "{service}:{} names unknown key {k}", row.operation);
                }
            }
        }
    }
}
