//! AWS Identity and Access Management: users, their access keys and inline policies.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/>.

mod account_info;
mod authorization_details;
mod delegation;
mod dev;
mod groups;
mod instance_profiles;
mod last_accessed;
mod managed;
mod mfa;
mod oidc_providers;
mod organizations;
mod outbound_federation;
mod passwords;
mod policies;
mod roles;
mod saml_providers;
mod server_certificates;
mod service_credentials;
mod service_linked_roles;
mod signing_certificates;
mod simulate;
mod ssh_keys;

pub use account_info::*;
pub use authorization_details::*;
pub use delegation::*;
pub use dev::*;
pub use groups::*;
pub use instance_profiles::*;
pub use last_accessed::*;
pub use managed::*;
pub use mfa::*;
pub use oidc_providers::*;
pub use organizations::*;
pub use outbound_federation::*;
pub use passwords::*;
pub use policies::*;
pub use roles::*;
pub use saml_providers::*;
pub use server_certificates::*;
pub use service_credentials::*;
pub use service_linked_roles::*;
pub use signing_certificates::*;
pub use simulate::*;
pub use ssh_keys::*;

use std::collections::{BTreeMap, BTreeSet};

use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use rampart_core::account::{self, KeyOwner, KeyStatus};
use rampart_core::records;
use rampart_core::{Ctx, Principal, PrincipalKind, ServiceError, TxCtx, keys};

/// Most access keys a user may have.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub const ACCESS_KEYS_PER_USER: usize = 2;
/// Most characters of a user's inline policies, together (whitespace excluded).
pub const USER_POLICY_SIZE: usize = 2048;

/// An IAM user, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Inline policies by name, as the documents were given.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policies, by ARN.
    #[serde(default)]
    pub attached: BTreeSet<String>,
    /// The groups the user belongs to, by name.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// The managed policy that bounds the user's permissions.
    #[serde(default)]
    pub boundary: Option<String>,
}

impl UserRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account_id, self.path, self.name)
    }

    /// The principal this user signs as.
    pub fn principal(&self, access_key_id: Option<String>) -> Principal {
        Principal {
            kind: PrincipalKind::IAMUser,
            account_id: self.account_id.clone(),
            arn: self.arn(),
            user_id: self.id.clone(),
            user_name: Some(self.name.clone()),
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

    pub(crate) fn to_shape_pub(&self) -> shapes::User {
        self.to_shape()
    }

    fn to_shape(&self) -> shapes::User {
        shapes::User {
            path: self.path.clone(),
            user_name: self.name.clone(),
            user_id: self.id.clone(),
            arn: self.arn(),
            create_date: self.created,
            password_last_used: None,
            permissions_boundary: self.boundary.as_ref().map(|b| shapes::AttachedPermissionsBoundary {
                permissions_boundary_type: Some("Policy".to_owned()),
                permissions_boundary_arn: Some(b.clone()),
            }),
            tags: (!self.tags.is_empty())
                .then(|| self.tags.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: v.clone() }).collect()),
        }
    }
}

pub(crate) fn no_such_user(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The user with name {name} cannot be found."))
}

pub(crate) fn read_user_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<Option<UserRecord>, ServiceError> {
    records::read_tx(tx, &keys::user(account, name))
}

pub(crate) fn write_user(tx: &mut Tx<'_>, u: &UserRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::user(&u.account_id, &u.name), u)
}

/// Users, decoded once per version of their records.
static USERS: std::sync::LazyLock<records::Decoded<UserRecord>> = std::sync::LazyLock::new(Default::default);

/// Reads a user through the store's cache (for authentication and authorization, on every
/// request's path).
pub fn read_user(
    ctx_db: &rampart_store::Db,
    account: &str,
    name: &str,
) -> Result<Option<std::sync::Arc<UserRecord>>, ServiceError> {
    USERS.read(ctx_db, &keys::user(account, name))
}

/// The user an operation names, or the caller when it names none (as AWS does for GetUser,
/// CreateAccessKey, ListAccessKeys…).
pub(crate) fn target_user(principal: &Principal, named: Option<&str>) -> Result<String, ServiceError> {
    match (named, principal.kind, &principal.user_name) {
        (Some(n), _, _) => Ok(n.to_owned()),
        (None, PrincipalKind::IAMUser, Some(me)) => Ok(me.clone()),
        (None, PrincipalKind::Root, _) => Err(ServiceError::new(
            "ValidationError",
            400,
            "Must specify userName when calling with non-User credentials",
        )),
        _ => Err(ServiceError::new(
            "ValidationError",
            400,
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// Whose credentials an operation is about: the named user, else the calling user, else root
/// itself (`None`) when root names no one, as IAM reads MFA-device and signing-certificate calls.
pub(crate) fn target_holder(principal: &Principal, named: Option<&str>) -> Result<Option<String>, ServiceError> {
    match (named, principal.kind, &principal.user_name) {
        (Some(n), _, _) => Ok(Some(n.to_owned())),
        (None, PrincipalKind::Root, _) => Ok(None),
        (None, _, Some(me)) => Ok(Some(me.clone())),
        (None, _, None) => Err(ServiceError::new("ValidationError", 400, "Must specify userName.")),
    }
}

/// Every identity-based policy document that applies to a user: its inline and attached policies,
/// and those of its groups, each with the name reports give it.
pub fn identity_documents(db: &rampart_store::Db, user: &UserRecord) -> Result<Vec<(String, Document)>, ServiceError> {
    let mut docs: Vec<(String, Document)> =
        user.inline_policies.iter().map(|(n, d)| (n.clone(), Document::Owned(d.clone()))).collect();
    let mut attached: BTreeSet<String> = user.attached.clone();
    for g in &user.groups {
        if let Some(group) = read_group(db, &user.account_id, g)? {
            docs.extend(
                group.inline_policies.iter().map(|(n, d)| (format!("{}/{n}", group.name), Document::Owned(d.clone()))),
            );
            attached.extend(group.attached.iter().cloned());
        }
    }
    for arn in attached {
        if let Some(doc) = attached_document(db, &arn)? {
            docs.push((arn, doc));
        }
    }
    Ok(docs)
}

/// A policy document: an AWS managed policy's is borrowed from the catalogue (some are large, and
/// are read on every request), the others are the stored text.
pub type Document = std::borrow::Cow<'static, str>;

/// The default version's document of an attached managed policy, if it still exists.
fn attached_document(db: &rampart_store::Db, arn: &str) -> Result<Option<Document>, ServiceError> {
    if let Some(doc) = aws_managed_document(arn) {
        return Ok(Some(Document::Borrowed(doc)));
    }
    Ok(read_policy_by_arn(db, arn)?
        .and_then(|p| p.versions.get(&p.default_version).map(|v| Document::Owned(v.document.clone()))))
}

/// Every identity-based policy document of a role: its inline and attached policies.
pub fn role_documents(db: &rampart_store::Db, role: &RoleRecord) -> Result<Vec<(String, Document)>, ServiceError> {
    let mut docs: Vec<(String, Document)> =
        role.inline_policies.iter().map(|(n, d)| (n.clone(), Document::Owned(d.clone()))).collect();
    for arn in &role.attached {
        if let Some(doc) = attached_document(db, arn)? {
            docs.push((arn.clone(), doc));
        }
    }
    Ok(docs)
}

/// What a managed policy that is gone allows: nothing.
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#;

/// The default version's document of a managed policy; one that is gone allows nothing.
pub fn managed_document(db: &rampart_store::Db, arn: &str) -> Result<Document, ServiceError> {
    Ok(attached_document(db, arn)?.unwrap_or(Document::Borrowed(DENY_ALL)))
}

/// The document of a user's permissions boundary, if it has one.
pub fn boundary_document(
    db: &rampart_store::Db,
    user: &UserRecord,
) -> Result<Option<(String, Document)>, ServiceError> {
    let Some(arn) = &user.boundary else { return Ok(None) };
    // A boundary whose policy is gone allows nothing: fail closed with an empty document.
    Ok(Some((arn.clone(), managed_document(db, arn)?)))
}

/// Most tags on one IAM resource.
pub const TAGS_PER_RESOURCE: usize = 50;

pub fn put_user_permissions_boundary(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutUserPermissionsBoundaryRequest,
) -> Result<(), ServiceError> {
    read_policy_by_arn_tx(tx, &input.permissions_boundary, &ctx.principal.account_id)?;
    let mut user =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    user.boundary = Some(input.permissions_boundary);
    write_user(tx, &user)
}

pub fn delete_user_permissions_boundary(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteUserPermissionsBoundaryRequest,
) -> Result<(), ServiceError> {
    let mut user =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    user.boundary = None;
    write_user(tx, &user)
}

/// Adds tags: keys are case-insensitive and a new value replaces the old one; at most 50.
/// Two tags of one request may not share a key, ignoring case (IAM's check on every tagging call).
pub(crate) fn merge_tags(tags: &mut Vec<(String, String)>, new: Vec<shapes::Tag>) -> Result<(), ServiceError> {
    let mut seen = std::collections::HashSet::new();
    if !new.iter().all(|t| seen.insert(t.key.to_lowercase())) {
        return Err(ServiceError::new(
            "InvalidInput",
            400,
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    for t in new {
        tags.retain(|(k, _)| !k.eq_ignore_ascii_case(&t.key));
        tags.push((t.key, t.value));
    }
    if tags.len() > TAGS_PER_RESOURCE {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("The number of tags has reached the maximum limit of {TAGS_PER_RESOURCE}."),
        ));
    }
    Ok(())
}

/// Removes tags by key, case-insensitively.
pub(crate) fn remove_tags(tags: &mut Vec<(String, String)>, keys: &[String]) {
    tags.retain(|(k, _)| !keys.iter().any(|r| r.eq_ignore_ascii_case(k)));
}

pub(crate) fn tag_shapes(tags: &[(String, String)]) -> Vec<shapes::Tag> {
    tags.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: v.clone() }).collect()
}

pub fn tag_user(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::TagUserRequest) -> Result<(), ServiceError> {
    let mut user =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    merge_tags(&mut user.tags, input.tags)?;
    write_user(tx, &user)
}

pub fn untag_user(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UntagUserRequest) -> Result<(), ServiceError> {
    let mut user =
        read_user_tx(tx, &ctx.principal.account_id, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    remove_tags(&mut user.tags, &input.tag_keys);
    write_user(tx, &user)
}

pub fn list_user_tags(
    ctx: &Ctx<'_>,
    input: shapes::ListUserTagsRequest,
) -> Result<shapes::ListUserTagsResponse, ServiceError> {
    let user = read_user(ctx.db, &ctx.principal.account_id, &input.user_name)?
        .ok_or_else(|| no_such_user(&input.user_name))?;
    let (tags, truncated, marker) = page_items(tag_shapes(&user.tags), input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListUserTagsResponse { tags, is_truncated: Some(truncated), marker })
}

pub fn create_user(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateUserRequest,
) -> Result<shapes::CreateUserResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    if read_user_tx(tx, account, &input.user_name)?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("User with name {} already exists.", input.user_name),
        ));
    }
    let mut user = UserRecord {
        v: 1,
        account_id: account.clone(),
        name: input.user_name,
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id: account::new_unique_id("AIDA")?,
        created: ctx.now,
        tags: Vec::new(),
        inline_policies: BTreeMap::new(),
        attached: BTreeSet::new(),
        groups: BTreeSet::new(),
        boundary: None,
    };
    merge_tags(&mut user.tags, input.tags.unwrap_or_default())?;
    if let Some(b) = input.permissions_boundary {
        read_policy_by_arn_tx(tx, &b, &ctx.principal.account_id)?;
        user.boundary = Some(b);
    }
    write_user(tx, &user)?;
    Ok(shapes::CreateUserResponse { user: Some(user.to_shape()) })
}

pub fn get_user(ctx: &Ctx<'_>, input: shapes::GetUserRequest) -> Result<shapes::GetUserResponse, ServiceError> {
    if input.user_name.is_none() && ctx.principal.kind == PrincipalKind::Root {
        // The root user asking about itself.
        let p = ctx.principal;
        let acct: Option<account::AccountRecord> = records::read(ctx.db, &keys::account(&p.account_id))?;
        return Ok(shapes::GetUserResponse {
            user: shapes::User {
                path: "/".into(),
                user_name: String::new(),
                user_id: p.account_id.clone(),
                arn: p.arn.clone(),
                create_date: acct.map_or(ctx.now, |a| a.created),
                password_last_used: password_last_used(ctx.db, &p.account_id, &p.account_id)?,
                permissions_boundary: None,
                tags: None,
            },
        });
    }
    let name = target_user(ctx.principal, input.user_name.as_deref())?;
    let user = read_user(ctx.db, &ctx.principal.account_id, &name)?.ok_or_else(|| no_such_user(&name))?;
    let used = password_last_used(ctx.db, &user.account_id, &user.id)?;
    Ok(shapes::GetUserResponse { user: shapes::User { password_last_used: used, ..user.to_shape() } })
}

/// `Marker`/`MaxItems` pagination: default and maximum page sizes as IAM documents them.
pub(crate) fn page_size(max_items: Option<i32>) -> usize {
    usize::try_from(max_items.unwrap_or(100)).unwrap_or(100).clamp(1, 1000)
}

pub fn list_users(ctx: &Ctx<'_>, input: shapes::ListUsersRequest) -> Result<shapes::ListUsersResponse, ServiceError> {
    let prefix = keys::users(&ctx.principal.account_id);
    let limit = page_size(input.max_items);
    let after = match &input.marker {
        Some(m) => Some(
            data_encoding::BASE64URL_NOPAD
                .decode(m.as_bytes())
                .map_err(|_| ServiceError::new("ValidationError", 400, "Invalid Marker."))?,
        ),
        None => None,
    };
    let path_prefix = input.path_prefix.unwrap_or_else(|| "/".to_owned());
    let mut users = Vec::new();
    let mut cursor = after;
    let mut truncated = false;
    // Filter by path while paging: scan in chunks until a page is full.
    'scan: loop {
        let rows = ctx.db.scan_prefix(&prefix, cursor.as_deref(), 256, false)?;
        if rows.is_empty() {
            break;
        }
        for (k, v) in &rows {
            cursor = Some(k.clone());
            let u: UserRecord = serde_json::from_slice(v).map_err(|_| ServiceError::internal())?;
            if !u.path.starts_with(&path_prefix) {
                continue;
            }
            if users.len() == limit {
                truncated = true;
                break 'scan;
            }
            users.push(u);
        }
    }
    let marker = if truncated {
        users.last().map(|u| data_encoding::BASE64URL_NOPAD.encode(&keys::user(&u.account_id, &u.name)))
    } else {
        None
    };
    Ok(shapes::ListUsersResponse {
        // AWS's listing leaves out each user's permissions boundary and tags.
        // See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListUsers.html>.
        users: users
            .iter()
            .map(|u| {
                let used = password_last_used(ctx.db, &u.account_id, &u.id)?;
                Ok(shapes::User { permissions_boundary: None, tags: None, password_last_used: used, ..u.to_shape() })
            })
            .collect::<Result<_, ServiceError>>()?,
        is_truncated: Some(truncated),
        marker,
    })
}

/// Renames a user and/or moves it to a new path; its keys and group memberships follow it.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html>.
pub fn update_user(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UpdateUserRequest) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    if let Some(path) = input.new_path {
        user.path = path;
    }
    let Some(new_name) = input.new_user_name.filter(|n| *n != user.name) else {
        return write_user(tx, &user);
    };
    let old_name = std::mem::replace(&mut user.name, new_name.clone());
    if !old_name.eq_ignore_ascii_case(&new_name) {
        if read_user_tx(tx, account, &new_name)?.is_some() {
            return Err(ServiceError::new(
                "EntityAlreadyExists",
                409,
                format!("User with name {new_name} already exists."),
            ));
        }
        tx.delete(&keys::user(account, &old_name))?;
    }
    for id in user_key_ids(tx.scan_prefix(&keys::user_keys(account, &old_name), None, usize::MAX >> 1, false)?) {
        tx.delete(&keys::user_key(account, &old_name, &id))?;
        tx.put(&keys::user_key(account, &new_name, &id), b"")?;
        let mut key: account::AccessKeyRecord =
            records::read_tx(tx, &keys::access_key(&id))?.ok_or_else(ServiceError::internal)?;
        if let KeyOwner::User { user_name, .. } = &mut key.owner {
            user_name.clone_from(&new_name);
        }
        records::write_tx(tx, &keys::access_key(&id), &key)?;
    }
    for group in &user.groups {
        let mut g = read_group_tx(tx, account, group)?.ok_or_else(ServiceError::internal)?;
        g.members.remove(&old_name);
        g.members.insert(new_name.clone());
        write_group(tx, &g)?;
    }
    mfa::rename_holder(tx, account, &old_name, &new_name)?;
    passwords::rename_login_profile(tx, account, &old_name, &new_name)?;
    write_user(tx, &user)
}

pub fn delete_user(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeleteUserRequest) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    if !tx.scan_prefix(&keys::user_keys(account, &user.name), None, 1, false)?.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete access keys first."));
    }
    if !user.inline_policies.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete policies first."));
    }
    if !user.attached.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."));
    }
    if !user.groups.is_empty() {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must remove user from all groups first.",
        ));
    }
    if passwords::has_login_profile(tx, account, &user.name)? {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete login profile first."));
    }
    if !mfa::user_devices_tx(tx, account, &user.name)?.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete MFA device first."));
    }
    if !signing_certificates::certificates_tx(tx, account, &user.id)?.is_empty() {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete signing certificates first.",
        ));
    }
    if ssh_keys::has_ssh_keys(tx, account, &user.id)? {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete SSH public keys first.",
        ));
    }
    if service_credentials::has_service_credentials(tx, account, &user.id)? {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete service specific credentials first.",
        ));
    }
    tx.delete(&keys::password_last_used(account, &user.id))?;
    tx.delete(&keys::user(account, &user.name))?;
    Ok(())
}

/// Whose access keys an operation is about: a named user, the calling user, or (for the root user
/// calling without `UserName`) the root user itself, as IAM does.
enum KeyHolder {
    Root,
    User(Box<UserRecord>),
}

impl KeyHolder {
    fn of(
        tx_or_db: Result<Option<UserRecord>, ServiceError>,
        principal: &Principal,
        named: Option<&str>,
    ) -> Result<Self, ServiceError> {
        if named.is_none() && principal.kind == PrincipalKind::Root {
            return Ok(Self::Root);
        }
        let name = target_user(principal, named)?;
        tx_or_db?.map(|u| Self::User(Box::new(u))).ok_or_else(|| no_such_user(&name))
    }

    fn index_prefix(&self, account: &str) -> Vec<u8> {
        match self {
            Self::Root => keys::root_keys(account),
            Self::User(u) => keys::user_keys(account, &u.name),
        }
    }

    fn index_key(&self, account: &str, id: &str) -> Vec<u8> {
        match self {
            Self::Root => keys::root_key(account, id),
            Self::User(u) => keys::user_key(account, &u.name, id),
        }
    }

    fn user_name(&self) -> Option<String> {
        match self {
            Self::Root => None,
            Self::User(u) => Some(u.name.clone()),
        }
    }
}

fn holder_tx(tx: &Tx<'_>, principal: &Principal, named: Option<&str>) -> Result<KeyHolder, ServiceError> {
    let lookup = match (named, principal.kind, principal.user_name.as_deref()) {
        (None, PrincipalKind::Root, _) => Ok(None),
        (Some(n), _, _) | (None, _, Some(n)) => read_user_tx(tx, &principal.account_id, n),
        _ => Ok(None),
    };
    KeyHolder::of(lookup, principal, named)
}

pub fn create_access_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateAccessKeyRequest,
) -> Result<shapes::CreateAccessKeyResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let holder = holder_tx(tx, ctx.principal, input.user_name.as_deref())?;
    if tx.scan_prefix(&holder.index_prefix(account), None, ACCESS_KEYS_PER_USER + 1, false)?.len()
        >= ACCESS_KEYS_PER_USER
    {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"),
        ));
    }
    let owner = match &holder {
        KeyHolder::Root => KeyOwner::Root { account_id: account.clone() },
        KeyHolder::User(u) => {
            KeyOwner::User { account_id: account.clone(), user_name: u.name.clone(), user_id: u.id.clone() }
        }
    };
    let (id, secret) = account::create_access_key(tx, ctx.sealer, owner, ctx.now)?;
    tx.put(&holder.index_key(account, &id), b"")?;
    Ok(shapes::CreateAccessKeyResponse {
        access_key: shapes::AccessKey {
            user_name: holder.user_name().unwrap_or_default(),
            access_key_id: id,
            status: "Active".to_owned(),
            secret_access_key: secret.as_str().to_owned(),
            create_date: Some(ctx.now),
        },
    })
}

fn user_key_ids(rows: Vec<rampart_store::KeyValue>) -> Vec<String> {
    rows.into_iter().filter_map(|(k, _)| String::from_utf8(k).ok()?.rsplit('/').next().map(str::to_owned)).collect()
}

pub fn list_access_keys(
    ctx: &Ctx<'_>,
    input: shapes::ListAccessKeysRequest,
) -> Result<shapes::ListAccessKeysResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let named = input.user_name.as_deref();
    let lookup = match (named, ctx.principal.user_name.as_deref()) {
        (None, _) if ctx.principal.kind == PrincipalKind::Root => Ok(None),
        (Some(n), _) | (None, Some(n)) => read_user(ctx.db, account, n).map(|u| u.map(std::sync::Arc::unwrap_or_clone)),
        _ => Ok(None),
    };
    let holder = KeyHolder::of(lookup, ctx.principal, named)?;
    let ids = user_key_ids(ctx.db.scan_prefix(&holder.index_prefix(account), None, 100, false)?);
    let mut metadata = Vec::with_capacity(ids.len());
    for id in ids {
        let rec: Option<account::AccessKeyRecord> = records::read(ctx.db, &keys::access_key(&id))?;
        if let Some(rec) = rec {
            metadata.push(shapes::AccessKeyMetadata {
                user_name: holder.user_name(),
                access_key_id: Some(rec.id),
                status: Some(if rec.status == KeyStatus::Active { "Active" } else { "Inactive" }.to_owned()),
                create_date: Some(rec.created),
            });
        }
    }
    let (access_key_metadata, truncated, marker) = page_items(metadata, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListAccessKeysResponse { access_key_metadata, is_truncated: Some(truncated), marker })
}

fn no_such_key(id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The Access Key with id {id} cannot be found."))
}

pub fn delete_access_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteAccessKeyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let holder = holder_tx(tx, ctx.principal, input.user_name.as_deref())?;
    if !tx.delete(&holder.index_key(account, &input.access_key_id))? {
        return Err(no_such_key(&input.access_key_id));
    }
    tx.delete(&keys::access_key(&input.access_key_id))?;
    Ok(())
}

pub fn update_access_key(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateAccessKeyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let holder = holder_tx(tx, ctx.principal, input.user_name.as_deref())?;
    if tx.get(&holder.index_key(account, &input.access_key_id))?.is_none() {
        return Err(no_such_key(&input.access_key_id));
    }
    let key = keys::access_key(&input.access_key_id);
    let mut rec: account::AccessKeyRecord =
        records::read_tx(tx, &key)?.ok_or_else(|| no_such_key(&input.access_key_id))?;
    rec.status = if input.status == "Active" { KeyStatus::Active } else { KeyStatus::Inactive };
    records::write_tx(tx, &key, &rec)?;
    Ok(())
}

/// When and where an access key was last used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyLastUsed {
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
    pub service: String,
    pub region: String,
}

pub fn get_access_key_last_used(
    ctx: &Ctx<'_>,
    input: shapes::GetAccessKeyLastUsedRequest,
) -> Result<shapes::GetAccessKeyLastUsedResponse, ServiceError> {
    let rec: account::AccessKeyRecord = records::read(ctx.db, &keys::access_key(&input.access_key_id))?
        .ok_or_else(|| no_such_key(&input.access_key_id))?;
    let (owner_account, user_name) = match &rec.owner {
        KeyOwner::Root { account_id } => (account_id, None),
        KeyOwner::User { account_id, user_name, .. } => (account_id, Some(user_name.clone())),
    };
    // A key of another account is as unknown as a missing one.
    if *owner_account != ctx.principal.account_id {
        return Err(no_such_key(&input.access_key_id));
    }
    let used: Option<KeyLastUsed> = records::read(ctx.db, &keys::key_last_used(&rec.id))?;
    // Never used: AWS answers N/A for the service and region.
    let last = match used {
        Some(u) => {
            shapes::AccessKeyLastUsed { last_used_date: Some(u.date), service_name: u.service, region: u.region }
        }
        None => {
            shapes::AccessKeyLastUsed { last_used_date: None, service_name: "N/A".to_owned(), region: "N/A".to_owned() }
        }
    };
    Ok(shapes::GetAccessKeyLastUsedResponse { user_name, access_key_last_used: Some(last) })
}

pub(crate) fn validate_document(doc: &str) -> Result<(), ServiceError> {
    Policy::parse(doc, PolicyKind::Identity)
        .map(|_| ())
        .map_err(|e| ServiceError::new("MalformedPolicyDocument", 400, e.message))
}

pub fn put_user_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutUserPolicyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let owner = format!("user {}", user.name);
    put_inline(&mut user.inline_policies, input.policy_name, input.policy_document, USER_POLICY_SIZE, &owner)?;
    write_user(tx, &user)
}

fn no_such_policy(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The user policy with name {name} cannot be found."))
}

/// Adds or replaces an inline policy of `owner` (e.g. `user alice`), enforcing the total size
/// quota of its kind (whitespace excluded).
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
pub(crate) fn put_inline(
    policies: &mut BTreeMap<String, String>,
    name: String,
    document: String,
    quota: usize,
    owner: &str,
) -> Result<(), ServiceError> {
    validate_document(&document)?;
    policies.insert(name, document);
    let size: usize = policies.values().map(|d| d.chars().filter(|c| !c.is_whitespace()).count()).sum();
    if size > quota {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!("Maximum policy size of {quota} bytes exceeded for {owner}"),
        ));
    }
    Ok(())
}

/// Records listed by path prefix, a page at a time.
pub(crate) trait Listed {
    fn name(&self) -> &str;
    fn path(&self) -> &str;
}

/// Implements [`Listed`] for a record with `name` and `path` fields.
macro_rules! listed {
    ($t:ty) => {
        impl super::Listed for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn path(&self) -> &str {
                &self.path
            }
        }
    };
}
pub(crate) use listed;

/// One `Marker`/`MaxItems` page of records whose path starts with `path_prefix` (default `/`), in
/// name order after `marker` (a lower-case name); returns the page, whether more follow, and the
/// next marker.
pub(crate) fn page_records<T: Listed>(
    records: Vec<T>,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> (Vec<T>, bool, Option<String>) {
    let path_prefix = path_prefix.unwrap_or("/");
    // The marker is a lower-case name: pages follow that order, whatever order the records came in
    // (AWS managed policies and an account's own are listed together).
    let mut records = records;
    records.sort_by_cached_key(|r| r.name().to_ascii_lowercase());
    let mut page: Vec<T> = records
        .into_iter()
        .filter(|r| {
            r.path().starts_with(path_prefix) && marker.is_none_or(|m| r.name().to_ascii_lowercase().as_str() > m)
        })
        .collect();
    let limit = page_size(max_items);
    let truncated = page.len() > limit;
    page.truncate(limit);
    let next = if truncated { page.last().map(|r| r.name().to_ascii_lowercase()) } else { None };
    (page, truncated, next)
}

/// One `Marker`/`MaxItems` page of an already ordered list whose items have no unique name to
/// resume after (tags, keys, versions, members): the marker is the position of the next item.
pub fn page_items<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<(Vec<T>, bool, Option<String>), ServiceError> {
    let total = items.len();
    let start = match marker {
        None => 0,
        Some(m) => m.parse::<usize>().ok().filter(|n| *n < total).ok_or_else(invalid_marker)?,
    };
    let page: Vec<T> = items.into_iter().skip(start).take(page_size(max_items)).collect();
    let end = start + page.len();
    let next = (end < total).then(|| end.to_string());
    Ok((page, next.is_some(), next))
}

pub(crate) fn invalid_marker() -> ServiceError {
    ServiceError::new("ValidationError", 400, "Invalid Marker.")
}

/// One `Marker`/`MaxItems` page of inline policy names: the names, whether more follow, the marker.
pub(crate) fn page_names<'a>(
    names: impl Iterator<Item = &'a String>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> (Vec<String>, bool, Option<String>) {
    let limit = page_size(max_items);
    let after: Vec<&String> = names.filter(|n| marker.is_none_or(|m| n.as_str() > m)).collect();
    let truncated = after.len() > limit;
    let page: Vec<String> = after.into_iter().take(limit).cloned().collect();
    let next = if truncated { page.last().cloned() } else { None };
    (page, truncated, next)
}

/// Policy documents come back URL-encoded, as IAM returns them.
pub(crate) fn url_encode(doc: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'*');
    percent_encoding::utf8_percent_encode(doc, SET).to_string()
}

pub fn get_user_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetUserPolicyRequest,
) -> Result<shapes::GetUserPolicyResponse, ServiceError> {
    let user = read_user(ctx.db, &ctx.principal.account_id, &input.user_name)?
        .ok_or_else(|| no_such_user(&input.user_name))?;
    let doc = user.inline_policies.get(&input.policy_name).ok_or_else(|| no_such_policy(&input.policy_name))?;
    Ok(shapes::GetUserPolicyResponse {
        user_name: user.name.clone(),
        policy_name: input.policy_name,
        policy_document: url_encode(doc),
    })
}

pub fn list_user_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListUserPoliciesRequest,
) -> Result<shapes::ListUserPoliciesResponse, ServiceError> {
    let user = read_user(ctx.db, &ctx.principal.account_id, &input.user_name)?
        .ok_or_else(|| no_such_user(&input.user_name))?;
    let (policy_names, truncated, marker) =
        page_names(user.inline_policies.keys(), input.marker.as_deref(), input.max_items);
    Ok(shapes::ListUserPoliciesResponse { policy_names, is_truncated: Some(truncated), marker })
}

pub fn delete_user_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteUserPolicyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut user = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    if user.inline_policies.remove(&input.policy_name).is_none() {
        return Err(no_such_policy(&input.policy_name));
    }
    write_user(tx, &user)
}
