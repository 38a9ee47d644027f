//! The store's key layout. Every key a service writes is built here.

/// `trailexport/<bucket>/<key>`: a delivered trail file still to be copied to the export
/// directory (empty value; the file is the S3 object).
pub fn trail_export(bucket: &str, key: &str) -> Vec<u8> {
    format!("trailexport/{bucket}/{key}").into_bytes()
}

/// The prefix of the export queue.
pub const TRAIL_EXPORT_PREFIX: &[u8] = b"trailexport/";

/// `meta/bootstrap`: which account is the management account.
pub const BOOTSTRAP: &[u8] = b"meta/bootstrap";

/// Failed console sign-ins of one claimed identity or source address, by the SHA-256 (hex) of
/// the throttle's key: shared by every node, never naming what was typed.
pub const SIGNIN_THROTTLE: &[u8] = b"signin/throttle/";

/// `meta/master-key-check`: a constant sealed with the master key, so that a start with another
/// key is refused before it serves anything.
pub const MASTER_KEY_CHECK: &[u8] = b"meta/master-key-check";

/// `acct/<id>`: an account and its root user.
pub fn account(id: &str) -> Vec<u8> {
    format!("acct/{id}").into_bytes()
}

/// `akey/<AKID>`: an access key.
pub fn access_key(id: &str) -> Vec<u8> {
    format!("akey/{id}").into_bytes()
}

/// `iam/<account>/user/<lower-case name>`: an IAM user (names are unique case-insensitively).
pub fn user(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/user/{}", name.to_ascii_lowercase()).into_bytes()
}

/// The prefix of an account's users.
pub fn users(account: &str) -> Vec<u8> {
    format!("iam/{account}/user/").into_bytes()
}

/// `iam/<account>/userkey/<lower-case name>/<AKID>`: an index of a user's access keys.
pub fn user_key(account: &str, name: &str, key_id: &str) -> Vec<u8> {
    format!("iam/{account}/userkey/{}/{key_id}", name.to_ascii_lowercase()).into_bytes()
}

/// The prefix of a user's access-key index.
pub fn user_keys(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/userkey/{}/", name.to_ascii_lowercase()).into_bytes()
}

/// `iam/<account>/group/<lower-case name>`: an IAM group.
pub fn group(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/group/{}", name.to_ascii_lowercase()).into_bytes()
}

/// The prefix of an account's groups.
pub fn groups(account: &str) -> Vec<u8> {
    format!("iam/{account}/group/").into_bytes()
}

/// `iam/<account>/policy/<lower-case name>`: a customer managed policy.
pub fn policy(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/policy/{}", name.to_ascii_lowercase()).into_bytes()
}

/// The prefix of an account's managed policies.
pub fn policies(account: &str) -> Vec<u8> {
    format!("iam/{account}/policy/").into_bytes()
}

/// `iam/<account>/role/<lower-case name>`: an IAM role.
pub fn role(account: &str, name: &str) -> Vec<u8> {
    format!("iam/{account}/role/{}", name.to_ascii_lowercase()).into_bytes()
}

/// The prefix of an account's roles.
pub fn roles(account: &str) -> Vec<u8> {
    format!("iam/{account}/role/").into_bytes()
}

/// `iam/<account>/rootkey/<AKID>`: an index of the root user's access keys.
pub fn root_key(account: &str, key_id: &str) -> Vec<u8> {
    format!("iam/{account}/rootkey/{key_id}").into_bytes()
}

/// The prefix of the root user's access-key index.
pub fn root_keys(account: &str) -> Vec<u8> {
    format!("iam/{account}/rootkey/").into_bytes()
}

/// `akey-used/<AKID>`: when and where an access key was last used (written off the durable path,
/// never read through the cache).
pub fn key_last_used(key_id: &str) -> Vec<u8> {
    format!("akey-used/{key_id}").into_bytes()
}

/// `role-used/<role id>`: when and in which region a role's sessions last made a request (written
/// like `key_last_used`; by id, so a new role with an old one's name starts unused).
pub fn role_last_used(role_id: &str) -> Vec<u8> {
    format!("role-used/{role_id}").into_bytes()
}

/// `iam/<account>/sts-preferences`: the account's STS preferences
/// (SetSecurityTokenServicePreferences).
pub fn sts_preferences(account: &str) -> Vec<u8> {
    format!("iam/{account}/sts-preferences").into_bytes()
}

/// `iam/<account>/password-used/<id>`: when a person last signed in with their password (`id`: the
/// user's unique id, or the account id for root).
pub fn password_last_used(account: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/password-used/{id}").into_bytes()
}

/// `access/<account>/<entity id>/<service:action>`: when and where a user or role last attempted an
/// action (IAM's last accessed information; written off the durable path, once a minute at most).
pub fn access_use(account: &str, entity_id: &str, action: &str) -> Vec<u8> {
    format!("access/{account}/{entity_id}/{action}").into_bytes()
}

/// The prefix of an entity's `access_use` records.
pub fn access_uses(account: &str, entity_id: &str) -> Vec<u8> {
    format!("access/{account}/{entity_id}/").into_bytes()
}

/// The prefix of every entity's noted attempts in an account.
pub fn account_access_uses(account: &str) -> Vec<u8> {
    format!("access/{account}/").into_bytes()
}

/// `iam/<account>/access-job/<id>`: a generated last-accessed report.
pub fn access_job(account: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/access-job/{id}").into_bytes()
}

/// `iam/<account>/alias`: the account's alias.
pub fn account_alias(account: &str) -> Vec<u8> {
    format!("iam/{account}/alias").into_bytes()
}

/// `iamalias/<alias>`: which account holds an alias (aliases are unique across accounts).
pub fn alias_owner(alias: &str) -> Vec<u8> {
    format!("iamalias/{alias}").into_bytes()
}

/// `iam/<account>/credential-report`: the last generated credential report.
pub fn credential_report(account: &str) -> Vec<u8> {
    format!("iam/{account}/credential-report").into_bytes()
}

/// The prefix under which events were stored before they moved to the store's log
/// (`audit/NANOS/ID`); read only to move them (`cloudtrail::move_events_to_log`).
pub const AUDIT_PREFIX: &[u8] = b"audit/";

/// The prefix of one account's event-history index for one lookup attribute and value (`*` and
/// an empty value for all of the account's events). Values are escaped so that no value's prefix
/// is another's: `/` and `%` are percent-encoded.
pub fn audit_index_prefix(account: &str, attribute: &str, value: &str) -> Vec<u8> {
    let escaped = value.replace('%', "%25").replace('/', "%2F");
    format!("audix/{account}/{attribute}/{escaped}/").into_bytes()
}

/// `iam/<account>/outbound-federation`: the account's outbound web identity federation (its
/// issuer and signing keys).
pub fn outbound_federation(account: &str) -> Vec<u8> {
    format!("iam/{account}/outbound-federation").into_bytes()
}

/// `oidc-issuer/<id>`: which account an outbound federation issuer id belongs to (its OIDC
/// discovery documents are served unauthenticated, by id).
pub fn outbound_issuer(id: &str) -> Vec<u8> {
    format!("oidc-issuer/{id}").into_bytes()
}

/// `iam/<account>/role-deletion/<uuid>`: a service-linked role's deletion task.
pub fn role_deletion_task(account: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/role-deletion/{id}").into_bytes()
}

/// `org/<o-id>`: an organization.
pub fn organization(id: &str) -> Vec<u8> {
    format!("org/{id}").into_bytes()
}

/// `orgmember/<account>`: which organization an account belongs to, and where in its tree.
pub fn org_member(account: &str) -> Vec<u8> {
    format!("orgmember/{account}").into_bytes()
}

/// `orgnode/<o-id>/<id>`: a root or an organizational unit of an organization.
pub fn org_node(org: &str, id: &str) -> Vec<u8> {
    format!("orgnode/{org}/{id}").into_bytes()
}

/// The prefix of an organization's roots and OUs.
pub fn org_nodes(org: &str) -> Vec<u8> {
    format!("orgnode/{org}/").into_bytes()
}

/// `orgchild/<o-id>/<parent>/<child>`: a child (account or OU) of a root or OU; the value is the
/// child's type.
pub fn org_child(org: &str, parent: &str, child: &str) -> Vec<u8> {
    format!("orgchild/{org}/{parent}/{child}").into_bytes()
}

/// The prefix of a parent's children.
pub fn org_children(org: &str, parent: &str) -> Vec<u8> {
    format!("orgchild/{org}/{parent}/").into_bytes()
}

/// `orgpolicy/<o-id>/<p-id>`: a policy of an organization.
pub fn org_policy(org: &str, id: &str) -> Vec<u8> {
    format!("orgpolicy/{org}/{id}").into_bytes()
}

/// The prefix of an organization's policies.
pub fn org_policies(org: &str) -> Vec<u8> {
    format!("orgpolicy/{org}/").into_bytes()
}

/// `orgattach/<o-id>/<target>/<p-id>`: a policy attached to a root, OU or account.
pub fn org_attachment(org: &str, target: &str, policy: &str) -> Vec<u8> {
    format!("orgattach/{org}/{target}/{policy}").into_bytes()
}

/// The prefix of a target's attached policies.
pub fn org_attachments(org: &str, target: &str) -> Vec<u8> {
    format!("orgattach/{org}/{target}/").into_bytes()
}

/// `orgtarget/<o-id>/<p-id>/<target>`: the reverse of [`org_attachment`].
pub fn org_policy_target(org: &str, policy: &str, target: &str) -> Vec<u8> {
    format!("orgtarget/{org}/{policy}/{target}").into_bytes()
}

/// The prefix of a policy's targets.
pub fn org_policy_targets(org: &str, policy: &str) -> Vec<u8> {
    format!("orgtarget/{org}/{policy}/").into_bytes()
}

/// `orgcas/<o-id>/<car-id>`: a CreateAccount request's status.
pub fn org_create_account_status(org: &str, id: &str) -> Vec<u8> {
    format!("orgcas/{org}/{id}").into_bytes()
}

/// The prefix of an organization's CreateAccount statuses.
pub fn org_create_account_statuses(org: &str) -> Vec<u8> {
    format!("orgcas/{org}/").into_bytes()
}

/// `orggen/<o-id>`: a counter every change to the organization's tree, policies or attachments
/// moves on, so that what authorization derived from them is known to be current.
pub fn org_generation(org: &str) -> Vec<u8> {
    format!("orggen/{org}").into_bytes()
}

/// `orgtags/<o-id>/<id>`: the tags of a root, OU, account or policy of an organization.
pub fn org_tags(org: &str, id: &str) -> Vec<u8> {
    format!("orgtags/{org}/{id}").into_bytes()
}

/// `orgservices/<o-id>`: the services with trusted access to the organization.
pub fn org_services(org: &str) -> Vec<u8> {
    format!("orgservices/{org}").into_bytes()
}

/// `orghandshake/<h-id>`: a handshake (an invitation to join an organization). Both parties read
/// it, so it is kept by its own id, not under the organization.
pub fn org_handshake(id: &str) -> Vec<u8> {
    format!("orghandshake/{id}").into_bytes()
}

/// The prefix of every handshake.
pub const ORG_HANDSHAKES: &[u8] = b"orghandshake/";

/// `orgtransfer/<rt-id>`: a responsibility transfer between two organizations, read by both.
pub fn org_transfer(id: &str) -> Vec<u8> {
    format!("orgtransfer/{id}").into_bytes()
}

/// The prefix of every responsibility transfer.
pub const ORG_TRANSFERS: &[u8] = b"orgtransfer/";

/// `orgdelegated/<o-id>`: the organization's delegated administrators, by service.
pub fn org_delegated_administrators(org: &str) -> Vec<u8> {
    format!("orgdelegated/{org}").into_bytes()
}

/// `orgresourcepolicy/<o-id>`: the organization's resource policy.
pub fn org_resource_policy(org: &str) -> Vec<u8> {
    format!("orgresourcepolicy/{org}").into_bytes()
}

/// `iam/<account>/org-access-job/<id>`: an Organizations access report (IAM's service last
/// accessed data for an organization entity).
pub fn org_access_job(account: &str, id: &str) -> Vec<u8> {
    format!("iam/{account}/org-access-job/{id}").into_bytes()
}

/// `kms/<account>/<region>/key/<id>`: a KMS key (keys are regional).
pub fn kms_key(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/key/{id}").into_bytes()
}

/// The prefix of an account's keys in a region.
pub fn kms_keys(account: &str, region: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/key/").into_bytes()
}

/// `kms/<account>/<region>/keyaliases/<id>`: the names of the aliases that point to a KMS key.
pub fn kms_key_aliases(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/keyaliases/{id}").into_bytes()
}

/// `waf/<account>/<region>/<scope>/<kind>/<id>`: a WAFv2 entity (an IP set, regex pattern set,
/// rule group or web ACL) of a scope (`regional`, `global`).
pub fn waf_entity(account: &str, region: &str, scope: &str, kind: &str, id: &str) -> Vec<u8> {
    format!("waf/{account}/{region}/{scope}/{kind}/{id}").into_bytes()
}

/// The prefix of an account's WAFv2 entities of one kind in a region and scope.
pub fn waf_entities(account: &str, region: &str, scope: &str, kind: &str) -> Vec<u8> {
    format!("waf/{account}/{region}/{scope}/{kind}/").into_bytes()
}

/// `wafassoc/<resource-arn>`: the web ACL (by ARN) associated with a protected resource.
pub fn waf_association(resource_arn: &str) -> Vec<u8> {
    format!("wafassoc/{resource_arn}").into_bytes()
}

/// The prefix of every web ACL association.
pub const WAF_ASSOCIATIONS: &[u8] = b"wafassoc/";

/// `elb/<account>/<region>/loadbalancer/<name>`: a load balancer whose listeners Rampart serves as
/// reverse proxies.
pub fn load_balancer(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("elb/{account}/{region}/loadbalancer/{name}").into_bytes()
}

/// `kms/index/aliases-v1`: present once every key's alias list has been built.
pub const KMS_ALIAS_INDEX_BUILT: &[u8] = b"kms/index/aliases-v1";

/// `kms/<account>/<region>/usage/<id>`: when a KMS key was last used, and for what.
pub fn kms_key_usage(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/usage/{id}").into_bytes()
}

/// The prefix of every KMS record (keys, aliases and key usage).
pub const KMS_RECORDS: &[u8] = b"kms/";

/// `kms/<account>/<region>/alias/<name>`: an alias (`name` includes its `alias/`).
pub fn kms_alias(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/{name}").into_bytes()
}

/// The prefix of an account's aliases in a region.
pub fn kms_aliases(account: &str, region: &str) -> Vec<u8> {
    format!("kms/{account}/{region}/alias/").into_bytes()
}

/// `iamorgfeatures/<o-id>`: IAM's centralized root access features enabled for an organization.
pub fn iam_org_features(org: &str) -> Vec<u8> {
    format!("iamorgfeatures/{org}").into_bytes()
}
