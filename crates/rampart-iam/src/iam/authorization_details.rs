//! GetAccountAuthorizationDetails: every user, group, role and managed policy of the account with
//! their policies, in one answer, for auditors.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html>.

use std::collections::{BTreeMap, BTreeSet};

use rampart_shapes::generated::iam as shapes;

use super::groups::GroupRecord;
use super::policies::ManagedPolicyRecord;
use super::roles::RoleRecord;
use super::{UserRecord, read_policy_by_arn, url_encode};
use rampart_core::{Ctx, ServiceError, keys};

fn inline(policies: &BTreeMap<String, String>) -> Option<Vec<shapes::PolicyDetail>> {
    Some(
        policies
            .iter()
            .map(|(n, d)| shapes::PolicyDetail { policy_name: Some(n.clone()), policy_document: Some(url_encode(d)) })
            .collect(),
    )
}

fn attached(ctx: &Ctx<'_>, arns: &BTreeSet<String>) -> Result<Option<Vec<shapes::AttachedPolicy>>, ServiceError> {
    let mut out = Vec::new();
    for arn in arns {
        let name = read_policy_by_arn(ctx.db, arn)?.map(|p| p.name);
        out.push(shapes::AttachedPolicy { policy_name: name, policy_arn: Some(arn.clone()) });
    }
    Ok(Some(out))
}

fn boundary(b: Option<&String>) -> Option<shapes::AttachedPermissionsBoundary> {
    b.map(|b| shapes::AttachedPermissionsBoundary {
        permissions_boundary_type: Some("Policy".to_owned()),
        permissions_boundary_arn: Some(b.clone()),
    })
}

fn tags(t: &[(String, String)]) -> Option<Vec<shapes::Tag>> {
    (!t.is_empty()).then(|| t.iter().map(|(k, v)| shapes::Tag { key: k.clone(), value: v.clone() }).collect())
}

fn scan<T: for<'de> serde::Deserialize<'de>>(ctx: &Ctx<'_>, prefix: &[u8]) -> Result<Vec<T>, ServiceError> {
    rampart_core::records::scan_records(ctx.db, prefix)
}

fn policy_detail(p: &ManagedPolicyRecord) -> shapes::ManagedPolicyDetail {
    shapes::ManagedPolicyDetail {
        policy_name: Some(p.name.clone()),
        policy_id: Some(p.id.clone()),
        arn: Some(p.arn()),
        path: Some(p.path.clone()),
        default_version_id: Some(p.default_version.clone()),
        attachment_count: Some(i32::try_from(p.attachments).unwrap_or(i32::MAX)),
        permissions_boundary_usage_count: Some(0),
        is_attachable: Some(true),
        description: p.description.clone(),
        create_date: Some(p.created),
        update_date: Some(p.updated),
        policy_version_list: Some(
            p.versions
                .iter()
                .map(|(id, v)| shapes::PolicyVersion {
                    document: Some(url_encode(&v.document)),
                    version_id: Some(id.clone()),
                    is_default_version: Some(*id == p.default_version),
                    create_date: Some(v.created),
                })
                .collect(),
        ),
    }
}

pub fn get_account_authorization_details(
    ctx: &Ctx<'_>,
    input: shapes::GetAccountAuthorizationDetailsRequest,
) -> Result<shapes::GetAccountAuthorizationDetailsResponse, ServiceError> {
    let a = &ctx.principal.account_id;
    let filter = input.filter.unwrap_or_default();
    let wants = |k: &str| filter.is_empty() || filter.iter().any(|f| f == k);
    let users: Vec<UserRecord> = if wants("User") { scan(ctx, &keys::users(a))? } else { Vec::new() };
    let groups: Vec<GroupRecord> = if wants("Group") { scan(ctx, &keys::groups(a))? } else { Vec::new() };
    let roles: Vec<RoleRecord> = if wants("Role") { scan(ctx, &keys::roles(a))? } else { Vec::new() };
    let mut policies: Vec<ManagedPolicyRecord> =
        if wants("LocalManagedPolicy") { scan(ctx, &keys::policies(a))? } else { Vec::new() };
    if wants("AWSManagedPolicy") {
        // AWS managed policies in use by this account's identities.
        let all_users: Vec<UserRecord> = scan(ctx, &keys::users(a))?;
        let all_groups: Vec<GroupRecord> = scan(ctx, &keys::groups(a))?;
        let all_roles: Vec<RoleRecord> = scan(ctx, &keys::roles(a))?;
        let used: BTreeSet<&String> = all_users
            .iter()
            .flat_map(|u| &u.attached)
            .chain(all_groups.iter().flat_map(|g| &g.attached))
            .chain(all_roles.iter().flat_map(|r| &r.attached))
            .collect();
        policies.extend(used.into_iter().filter_map(|arn| super::aws_managed(arn)));
    }
    let mut user_details = Vec::new();
    for u in &users {
        user_details.push(shapes::UserDetail {
            path: Some(u.path.clone()),
            user_name: Some(u.name.clone()),
            user_id: Some(u.id.clone()),
            arn: Some(u.arn()),
            create_date: Some(u.created),
            user_policy_list: inline(&u.inline_policies),
            group_list: Some(u.groups.iter().cloned().collect()),
            attached_managed_policies: attached(ctx, &u.attached)?,
            permissions_boundary: boundary(u.boundary.as_ref()),
            tags: tags(&u.tags),
        });
    }
    let mut group_details = Vec::new();
    for g in &groups {
        group_details.push(shapes::GroupDetail {
            path: Some(g.path.clone()),
            group_name: Some(g.name.clone()),
            group_id: Some(g.id.clone()),
            arn: Some(g.arn()),
            create_date: Some(g.created),
            group_policy_list: inline(&g.inline_policies),
            attached_managed_policies: attached(ctx, &g.attached)?,
        });
    }
    let mut role_details = Vec::new();
    for r in &roles {
        role_details.push(shapes::RoleDetail {
            path: Some(r.path.clone()),
            role_name: Some(r.name.clone()),
            role_id: Some(r.id.clone()),
            arn: Some(r.arn()),
            create_date: Some(r.created),
            assume_role_policy_document: Some(url_encode(
                &super::roles::with_effective_trust(ctx.db, r.clone())?.trust_policy,
            )),
            instance_profile_list: Some(Vec::new()),
            role_policy_list: inline(&r.inline_policies),
            attached_managed_policies: attached(ctx, &r.attached)?,
            permissions_boundary: boundary(r.boundary.as_ref()),
            tags: tags(&r.tags),
            role_last_used: Some({
                let used = super::role_last_used(ctx.db, &r.id)?.unwrap_or_default();
                shapes::RoleLastUsed { last_used_date: used.date, region: used.region }
            }),
        });
    }
    Ok(shapes::GetAccountAuthorizationDetailsResponse {
        user_detail_list: Some(user_details),
        group_detail_list: Some(group_details),
        role_detail_list: Some(role_details),
        policies: Some(policies.iter().map(policy_detail).collect()),
        is_truncated: Some(false),
        marker: None,
    })
}
