//! IAM's and STS's action tables, and the resolution of any service's row against a request:
//! the ARNs it acts on (IAM entities are looked up for their path and tags) and its condition keys.
//!
//! IAM: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_identityandaccessmanagement.html>
//! STS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html>

use rampart_core::actions::{Action, Entity, Target, passing, row as a};
use rampart_core::{Principal, ServiceError};
use rampart_shapes::{Operation, Value};
use rampart_store::Db;

use crate::iam;

use Entity::{Group, InstanceProfile, Mfa, Policy, Role, SamlProvider, ServerCertificate, User};
use Target::{
    AccessReport, AccountRoot, All, Arn, Bucket, Caller, DelegationRequest, FederatedUser, Formed, KeyOwner, Listing,
    Named, New, Object, OidcUrl, Renamed, ServiceLinkedRole, StsSelf, Trail,
};

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
const CERT: &[Target] = &[Named(ServerCertificate, "ServerCertificateName")];
const DELEGATION: &[Target] = &[DelegationRequest("DelegationRequestId")];

/// IAM's operations.
pub static IAM: &[Action] = &[
    a("AcceptDelegationRequest", DELEGATION, &[]),
    a("AddClientIDToOpenIDConnectProvider", OIDC, &[]),
    passing("AddRoleToInstanceProfile", PROFILE, &[], "RoleName", "ec2.amazonaws.com"),
    a("AddUserToGroup", GROUP, &[]),
    a("AssociateDelegationRequest", DELEGATION, &[]),
    a("AttachGroupPolicy", GROUP, &["iam:PolicyARN"]),
    a("AttachRolePolicy", ROLE, ATTACH),
    a("AttachUserPolicy", USER, ATTACH),
    a("ChangePassword", &[Caller], &[]),
    a("CreateAccessKey", USER, &[]),
    a("CreateAccountAlias", &[All], &[]),
    a("CreateDelegationRequest", &[All], &[]),
    a("CreateGroup", &[New(Group, "GroupName")], &[]),
    a("CreateInstanceProfile", &[New(InstanceProfile, "InstanceProfileName")], TAGS),
    a("CreateLoginProfile", USER, &[]),
    a("CreateOpenIDConnectProvider", &[OidcUrl("Url")], TAGS),
    a("CreatePolicy", &[New(Policy, "PolicyName")], TAGS),
    a("CreatePolicyVersion", POLICY, &[]),
    a("CreateRole", &[New(Role, "RoleName")], NEW_ENTITY),
    a("CreateSAMLProvider", &[Named(SamlProvider, "Name")], TAGS),
    a("CreateServiceLinkedRole", &[ServiceLinkedRole("AWSServiceName", "CustomSuffix")], &["iam:AWSServiceName"]),
    a("CreateServiceSpecificCredential", USER, &[]),
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
    a("DeleteSSHPublicKey", USER, &[]),
    a("DeleteServerCertificate", CERT, &[]),
    a("DeleteServiceLinkedRole", ROLE, &[]),
    a("DeleteServiceSpecificCredential", USER, &[]),
    a("DeleteSigningCertificate", USER, &[]),
    a("DeleteUser", USER, &[]),
    a("DeleteUserPermissionsBoundary", USER, BOUNDARY),
    a("DeleteUserPolicy", USER, BOUNDARY),
    a("DeleteVirtualMFADevice", MFA, &[]),
    a("DetachGroupPolicy", GROUP, &["iam:PolicyARN"]),
    a("DetachRolePolicy", ROLE, ATTACH),
    a("DetachUserPolicy", USER, ATTACH),
    a("DisableOrganizationsRootCredentialsManagement", &[All], &[]),
    a("DisableOrganizationsRootSessions", &[All], &[]),
    a("DisableOutboundWebIdentityFederation", &[All], &[]),
    a("EnableMFADevice", USER, &[]),
    a("EnableOrganizationsRootCredentialsManagement", &[All], &[]),
    a("EnableOrganizationsRootSessions", &[All], &[]),
    a("EnableOutboundWebIdentityFederation", &[All], &[]),
    a("GenerateCredentialReport", &[All], &[]),
    a("GenerateOrganizationsAccessReport", &[AccessReport("EntityPath")], &["iam:OrganizationsPolicyId"]),
    a("GenerateServiceLastAccessedDetails", &[Arn("Arn")], &[]),
    a("GetAccessKeyLastUsed", &[KeyOwner("AccessKeyId")], &[]),
    a("GetAccountAuthorizationDetails", &[All], &[]),
    a("GetAccountPasswordPolicy", &[All], &[]),
    a("GetAccountSummary", &[All], &[]),
    a("GetContextKeysForCustomPolicy", &[All], &[]),
    a("GetContextKeysForPrincipalPolicy", &[Arn("PolicySourceArn")], &[]),
    a("GetCredentialReport", &[All], &[]),
    a("GetDelegationRequest", DELEGATION, &[]),
    a("GetGroup", GROUP, &[]),
    a("GetGroupPolicy", GROUP, &[]),
    a("GetHumanReadableSummary", &[All], &[]),
    a("GetInstanceProfile", PROFILE, &[]),
    a("GetLoginProfile", USER, &[]),
    a("GetMFADevice", USER, &[]),
    a("GetOpenIDConnectProvider", OIDC, &[]),
    a("GetOrganizationsAccessReport", &[All], &[]),
    a("GetOutboundWebIdentityFederationInfo", &[All], &[]),
    a("GetPolicy", POLICY, &[]),
    a("GetPolicyVersion", POLICY, &[]),
    a("GetRole", ROLE, &[]),
    a("GetRolePolicy", ROLE, &[]),
    a("GetSAMLProvider", SAML, &[]),
    a("GetSSHPublicKey", USER, &[]),
    a("GetServerCertificate", CERT, &[]),
    a("GetServiceLastAccessedDetails", &[All], &[]),
    a("GetServiceLastAccessedDetailsWithEntities", &[All], &[]),
    a("GetServiceLinkedRoleDeletionStatus", &[All], &[]),
    a("GetUser", USER, &[]),
    a("GetUserPolicy", USER, &[]),
    a("ListAccessKeys", USER, &[]),
    a("ListAccountAliases", &[All], &[]),
    a("ListAttachedGroupPolicies", GROUP, &[]),
    a("ListAttachedRolePolicies", ROLE, &[]),
    a("ListAttachedUserPolicies", USER, &[]),
    a("ListDelegationRequests", &[All], &[]),
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
    a("ListOrganizationsFeatures", &[All], &[]),
    a("ListPolicies", &[Listing(Policy)], &[]),
    a("ListPoliciesGrantingServiceAccess", &[Arn("Arn")], &[]),
    a("ListPolicyTags", POLICY, &[]),
    a("ListPolicyVersions", POLICY, &[]),
    a("ListRolePolicies", ROLE, &[]),
    a("ListRoleTags", ROLE, &[]),
    a("ListRoles", &[Listing(Role)], &[]),
    a("ListSAMLProviderTags", SAML, &[]),
    a("ListSAMLProviders", &[All], &[]),
    a("ListSSHPublicKeys", USER, &[]),
    a("ListServerCertificateTags", CERT, &[]),
    a("ListServerCertificates", &[Listing(ServerCertificate)], &[]),
    a("ListServiceSpecificCredentials", USER, &[]),
    a("ListSigningCertificates", USER, &[]),
    a("ListUserPolicies", USER, &[]),
    a("ListUserTags", USER, &[]),
    a("ListUsers", &[Listing(User)], &[]),
    a("ListVirtualMFADevices", &[All], &[]),
    a("PutGroupPolicy", GROUP, &[]),
    a("PutRolePermissionsBoundary", ROLE, BOUNDARY),
    a("PutRolePolicy", ROLE, BOUNDARY),
    a("PutUserPermissionsBoundary", USER, BOUNDARY),
    a("PutUserPolicy", USER, BOUNDARY),
    a("RejectDelegationRequest", DELEGATION, &[]),
    a("RemoveClientIDFromOpenIDConnectProvider", OIDC, &[]),
    a("RemoveRoleFromInstanceProfile", PROFILE, &[]),
    a("RemoveUserFromGroup", GROUP, &[]),
    a("ResetServiceSpecificCredential", USER, &[]),
    a("ResyncMFADevice", USER, &[]),
    a("SendDelegationToken", DELEGATION, &[]),
    a("SetDefaultPolicyVersion", POLICY, &[]),
    a("SetSecurityTokenServicePreferences", &[All], &[]),
    a("SimulateCustomPolicy", &[All], &[]),
    a("SimulatePrincipalPolicy", &[Arn("PolicySourceArn")], &[]),
    a("TagInstanceProfile", PROFILE, TAGS),
    a("TagMFADevice", MFA, TAGS),
    a("TagOpenIDConnectProvider", OIDC, TAGS),
    a("TagPolicy", POLICY, TAGS),
    a("TagRole", ROLE, TAGS),
    a("TagSAMLProvider", SAML, TAGS),
    a("TagServerCertificate", CERT, TAGS),
    a("TagUser", USER, TAGS),
    a("UntagInstanceProfile", PROFILE, UNTAG),
    a("UntagMFADevice", MFA, UNTAG),
    a("UntagOpenIDConnectProvider", OIDC, UNTAG),
    a("UntagPolicy", POLICY, UNTAG),
    a("UntagRole", ROLE, UNTAG),
    a("UntagSAMLProvider", SAML, UNTAG),
    a("UntagServerCertificate", CERT, UNTAG),
    a("UntagUser", USER, UNTAG),
    a("UpdateAccessKey", USER, &[]),
    a("UpdateAccountPasswordPolicy", &[All], &[]),
    a("UpdateAssumeRolePolicy", ROLE, &[]),
    a("UpdateDelegationRequest", DELEGATION, &[]),
    a("UpdateGroup", &[Named(Group, "GroupName"), Renamed(Group, "NewGroupName", "NewPath")], &[]),
    a("UpdateLoginProfile", USER, &[]),
    a("UpdateOpenIDConnectProviderThumbprint", OIDC, &[]),
    a("UpdateRole", ROLE, &[]),
    a("UpdateRoleDescription", ROLE, &[]),
    a("UpdateSAMLProvider", SAML, &[]),
    a("UpdateSSHPublicKey", USER, &[]),
    a(
        "UpdateServerCertificate",
        &[
            Named(ServerCertificate, "ServerCertificateName"),
            Renamed(ServerCertificate, "NewServerCertificateName", "NewPath"),
        ],
        &[],
    ),
    a("UpdateServiceSpecificCredential", USER, &[]),
    a("UpdateSigningCertificate", USER, &[]),
    a("UpdateUser", &[Named(User, "UserName"), Renamed(User, "NewUserName", "NewPath")], &[]),
    a("UploadSSHPublicKey", USER, &[]),
    a("UploadServerCertificate", &[New(ServerCertificate, "ServerCertificateName")], TAGS),
    a("UploadSigningCertificate", USER, &[]),
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
    a("AssumeRoot", &[AccountRoot("TargetPrincipal")], &[]),
    a("DecodeAuthorizationMessage", &[All], &[]),
    a("GetAccessKeyInfo", &[All], &[]),
    a("GetCallerIdentity", &[All], &[]),
    a("GetDelegatedAccessToken", &[All], &[]),
    a("GetFederationToken", &[FederatedUser("Name")], &["aws:RequestTag/${TagKey}", "aws:TagKeys"]),
    a("GetSessionToken", &[All], &[]),
    // Observed: the resource is `arn:aws:sts::ACCOUNT:self`, and tags need
    // sts:TagGetWebIdentityToken on it too.
    a("GetWebIdentityToken", &[StsSelf], &["sts:DurationSeconds", "sts:IdentityTokenAudience", "sts:SigningAlgorithm"])
        .tagging("TagGetWebIdentityToken"),
];

/// What the authorizer needs of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `service:Action`.
    pub action: String,
    /// The resource ARNs the caller must be allowed on; never empty.
    pub resources: Vec<String>,
    /// Condition keys and their values, from the request and the resource.
    pub keys: Vec<(String, Vec<String>)>,
    /// The dependent actions the request also needs: `iam:PassRole` on a role it passes, a
    /// tagging action for the tags it passes.
    pub also: Vec<Check>,
}

/// One more action a request needs, on one resource, with its own condition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub action: String,
    pub resource: String,
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
        User => iam::read_user(db, account, name)?.map(|u| Found {
            path: Some(u.path.clone()),
            tags: u.tags.clone(),
            boundary: u.boundary.clone(),
        }),
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
        // An MFA device is its path and name: `name` here is its serial number (see `resolve`).
        Mfa => iam::read_mfa_device(db, account, name)?.map(|d| Found {
            path: Some(d.path),
            tags: d.tags,
            ..Found::default()
        }),
        ServerCertificate => iam::read_server_certificate(db, account, name)?.map(|c| Found {
            path: Some(c.path),
            tags: c.tags,
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
    let entity = [User, Group, Role, InstanceProfile, Mfa, SamlProvider, ServerCertificate]
        .into_iter()
        .find(|e| e.segment() == segment)?;
    Some((entity, path_and_name.rsplit('/').next()?))
}

/// Resolves an operation's table row against a request: the ARNs it acts on and its condition
/// keys. An operation without a row acts on `*` with no extra keys.
pub fn resolve(
    db: &Db,
    principal: &Principal,
    service: &str,
    row: Option<&Action>,
    op: &Operation,
    input: &Value,
    region: &str,
) -> Result<Resolved, ServiceError> {
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
                        Some((Mfa, _)) => find(db, account, Mfa, arn)?,
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
                    Some(id) => rampart_core::records::read::<rampart_core::account::AccessKeyRecord>(
                        db,
                        &rampart_core::keys::access_key(id),
                    )?
                    .map(|k| k.owner),
                    None => None,
                };
                match owner {
                    Some(rampart_core::account::KeyOwner::User { account_id, user_name, .. })
                        if account_id == *account =>
                    {
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
            StsSelf => format!("arn:aws:sts::{account}:self"),
            AccessReport(m) => format!("arn:aws:iam::{account}:access-report/{}", member(m).unwrap_or("*")),
            DelegationRequest(m) => format!("arn:aws:iam::{account}:delegation-request/{}", member(m).unwrap_or("*")),
            AccountRoot(m) => format!("arn:aws:iam::{}:root", member(m).unwrap_or("*")),
            ServiceLinkedRole(service, suffix) => {
                let service = member(service).unwrap_or("*");
                let name = iam::service_linked_role_name(service, member(suffix)).unwrap_or_else(|| "*".to_owned());
                format!("arn:aws:iam::{account}:role/aws-service-role/{service}/{name}")
            }
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
            Formed(template) => {
                rampart_core::actions::form_arn(template, region, account, |m| member(m).map(str::to_owned))
            }
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
    let mut also = Vec::new();
    if let Some(p) = row.and_then(|r| r.passes_role)
        && let Some(role) = member(p.member)
    {
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
        also.push(Check { action: "iam:PassRole".to_owned(), resource: role_arn, keys });
    }
    if let Some(tagging) = row.and_then(|r| r.tagging) {
        let mut tag_keys = Vec::new();
        key_values("aws:RequestTag/${TagKey}", op, input, &primary, &mut tag_keys);
        key_values("aws:TagKeys", op, input, &primary, &mut tag_keys);
        if !tag_keys.is_empty() {
            // On the action's own resource (observed: sts:TagGetWebIdentityToken on `…:self`).
            let resource = resources.first().cloned().unwrap_or_else(|| "*".to_owned());
            also.push(Check { action: format!("{service}:{tagging}"), resource, keys: tag_keys });
        }
    }
    for dependent in row.map_or(&[][..], |r| r.also) {
        also.push(Check { action: (*dependent).to_owned(), resource: "*".to_owned(), keys: Vec::new() });
    }
    Ok(Resolved { action, resources, keys, also })
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
        "iam:OrganizationsPolicyId" => {
            out.extend(string("OrganizationsPolicyId").map(|v| (key.to_owned(), vec![v])));
        }
        "iam:AWSServiceName" => out.extend(string("AWSServiceName").map(|v| (key.to_owned(), vec![v]))),
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
        "sts:IdentityTokenAudience" => {
            let v = strings("Audience");
            if !v.is_empty() {
                out.push((key.to_owned(), v));
            }
        }
        "sts:SigningAlgorithm" => out.extend(string("SigningAlgorithm").map(|v| (key.to_owned(), vec![v]))),
        // The token's lifetime, given or the default (GetWebIdentityToken: 300 seconds).
        "sts:DurationSeconds" => {
            let given = match input.field(shape, "DurationSeconds") {
                Some((_, Value::Integer(n))) => Some(*n),
                _ => None,
            };
            let default = (op.name == "GetWebIdentityToken").then_some(300);
            out.extend(given.or(default).map(|n| (key.to_owned(), vec![n.to_string()])));
        }
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
