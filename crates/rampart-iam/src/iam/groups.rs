//! IAM groups: membership and the group's own policies.

use std::collections::{BTreeMap, BTreeSet};

use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{no_such_user, read_user_tx, url_encode, write_user};
use rampart_core::account;
use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, ServiceError, TxCtx, keys};

/// Most managed policies attached to one user, group or role.
pub const MANAGED_POLICIES_PER_IDENTITY: usize = 10;

/// An IAM group, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    pub v: u32,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: BTreeSet<String>,
    /// Member user names.
    #[serde(default)]
    pub members: BTreeSet<String>,
}

super::listed!(GroupRecord);

impl GroupRecord {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.account_id, self.path, self.name)
    }

    fn to_shape(&self) -> shapes::Group {
        shapes::Group {
            path: self.path.clone(),
            group_name: self.name.clone(),
            group_id: self.id.clone(),
            arn: self.arn(),
            create_date: self.created,
        }
    }
}

pub(crate) fn no_such_group(name: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The group with name {name} cannot be found."))
}

pub fn read_group(db: &rampart_store::Db, account: &str, name: &str) -> Result<Option<GroupRecord>, ServiceError> {
    read_cached(db, &keys::group(account, name))
}

pub(crate) fn read_group_tx(tx: &Tx<'_>, account: &str, name: &str) -> Result<Option<GroupRecord>, ServiceError> {
    records::read_tx(tx, &keys::group(account, name))
}

pub(crate) fn write_group(tx: &mut Tx<'_>, g: &GroupRecord) -> Result<(), ServiceError> {
    records::write_tx(tx, &keys::group(&g.account_id, &g.name), g)
}

pub fn create_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateGroupRequest,
) -> Result<shapes::CreateGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    if read_group_tx(tx, account, &input.group_name)?.is_some() {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("Group with name {} already exists.", input.group_name),
        ));
    }
    let g = GroupRecord {
        v: 1,
        account_id: account.clone(),
        name: input.group_name,
        path: input.path.unwrap_or_else(|| "/".to_owned()),
        id: account::new_unique_id("AGPA")?,
        created: ctx.now,
        inline_policies: BTreeMap::new(),
        attached: BTreeSet::new(),
        members: BTreeSet::new(),
    };
    write_group(tx, &g)?;
    Ok(shapes::CreateGroupResponse { group: g.to_shape() })
}

pub fn get_group(ctx: &Ctx<'_>, input: shapes::GetGroupRequest) -> Result<shapes::GetGroupResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let g = read_group(ctx.db, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    let mut users = Vec::new();
    for m in &g.members {
        if let Some(u) = super::read_user(ctx.db, account, m)? {
            users.push(u.to_shape_pub());
        }
    }
    let (users, truncated, marker) = super::page_items(users, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::GetGroupResponse { group: g.to_shape(), users, is_truncated: Some(truncated), marker })
}

pub fn list_groups(
    ctx: &Ctx<'_>,
    input: shapes::ListGroupsRequest,
) -> Result<shapes::ListGroupsResponse, ServiceError> {
    let all: Vec<GroupRecord> = records::scan_records(ctx.db, &keys::groups(&ctx.principal.account_id))?;
    let (groups, truncated, marker) =
        super::page_records(all, input.path_prefix.as_deref(), input.marker.as_deref(), input.max_items);
    Ok(shapes::ListGroupsResponse {
        groups: groups.iter().map(GroupRecord::to_shape).collect(),
        is_truncated: Some(truncated),
        marker,
    })
}

/// Renames a group and/or moves it to a new path; its members follow it.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateGroup.html>.
pub fn update_group(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UpdateGroupRequest) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    if let Some(path) = input.new_path {
        g.path = path;
    }
    let Some(new_name) = input.new_group_name.filter(|n| *n != g.name) else {
        return write_group(tx, &g);
    };
    let old_name = std::mem::replace(&mut g.name, new_name.clone());
    if !old_name.eq_ignore_ascii_case(&new_name) {
        if read_group_tx(tx, account, &new_name)?.is_some() {
            return Err(ServiceError::new(
                "EntityAlreadyExists",
                409,
                format!("Group with name {new_name} already exists."),
            ));
        }
        tx.delete(&keys::group(account, &old_name))?;
    }
    for member in &g.members {
        let mut u = read_user_tx(tx, account, member)?.ok_or_else(ServiceError::internal)?;
        u.groups.remove(&old_name);
        u.groups.insert(new_name.clone());
        write_user(tx, &u)?;
    }
    write_group(tx, &g)
}

pub fn delete_group(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeleteGroupRequest) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    if !g.members.is_empty() {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must remove users from group first.",
        ));
    }
    if !g.inline_policies.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must delete policies first."));
    }
    if !g.attached.is_empty() {
        return Err(ServiceError::new("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."));
    }
    tx.delete(&keys::group(account, &g.name))?;
    Ok(())
}

pub fn add_user_to_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddUserToGroupRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    let mut u = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    g.members.insert(u.name.clone());
    u.groups.insert(g.name.clone());
    write_group(tx, &g)?;
    write_user(tx, &u)
}

pub fn remove_user_from_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveUserFromGroupRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    let mut u = read_user_tx(tx, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    if !g.members.remove(&u.name) {
        return Err(no_such_user(&input.user_name));
    }
    u.groups.remove(&g.name);
    write_group(tx, &g)?;
    write_user(tx, &u)
}

pub fn list_groups_for_user(
    ctx: &Ctx<'_>,
    input: shapes::ListGroupsForUserRequest,
) -> Result<shapes::ListGroupsForUserResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let u = super::read_user(ctx.db, account, &input.user_name)?.ok_or_else(|| no_such_user(&input.user_name))?;
    let mut groups = Vec::new();
    for name in &u.groups {
        if let Some(g) = read_group(ctx.db, account, name)? {
            groups.push(g.to_shape());
        }
    }
    let (groups, truncated, marker) = super::page_items(groups, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListGroupsForUserResponse { groups, is_truncated: Some(truncated), marker })
}

pub fn put_group_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutGroupPolicyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    let owner = format!("group {}", g.name);
    super::put_inline(&mut g.inline_policies, input.policy_name, input.policy_document, 5120, &owner)?;
    write_group(tx, &g)
}

pub fn list_group_policies(
    ctx: &Ctx<'_>,
    input: shapes::ListGroupPoliciesRequest,
) -> Result<shapes::ListGroupPoliciesResponse, ServiceError> {
    let g = read_group(ctx.db, &ctx.principal.account_id, &input.group_name)?
        .ok_or_else(|| no_such_group(&input.group_name))?;
    let (policy_names, truncated, marker) =
        super::page_names(g.inline_policies.keys(), input.marker.as_deref(), input.max_items);
    Ok(shapes::ListGroupPoliciesResponse { policy_names, is_truncated: Some(truncated), marker })
}

pub fn get_group_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetGroupPolicyRequest,
) -> Result<shapes::GetGroupPolicyResponse, ServiceError> {
    let g = read_group(ctx.db, &ctx.principal.account_id, &input.group_name)?
        .ok_or_else(|| no_such_group(&input.group_name))?;
    let doc = g.inline_policies.get(&input.policy_name).ok_or_else(|| {
        ServiceError::new(
            "NoSuchEntity",
            404,
            format!("The group policy with name {} cannot be found.", input.policy_name),
        )
    })?;
    Ok(shapes::GetGroupPolicyResponse {
        group_name: g.name.clone(),
        policy_name: input.policy_name,
        policy_document: url_encode(doc),
    })
}

pub fn delete_group_policy(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteGroupPolicyRequest,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let mut g = read_group_tx(tx, account, &input.group_name)?.ok_or_else(|| no_such_group(&input.group_name))?;
    if g.inline_policies.remove(&input.policy_name).is_none() {
        return Err(ServiceError::new(
            "NoSuchEntity",
            404,
            format!("The group policy with name {} cannot be found.", input.policy_name),
        ));
    }
    write_group(tx, &g)
}
