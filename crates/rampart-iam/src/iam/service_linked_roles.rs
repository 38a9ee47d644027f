//! Service-linked roles: roles a service defines and owns. Created with the service's name
//! (`AWSServiceRoleFor…`, plus `_SUFFIX`) at path `/aws-service-role/SERVICE/`, trusted by the
//! service's principal alone, and changed by no one else: their trust, policies and boundary are
//! protected, and they are deleted only through DeleteServiceLinkedRole, whose deletion task
//! GetServiceLinkedRoleDeletionStatus reports.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html>.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use rampart_core::{Ctx, ServiceError, TxCtx, account, keys, records};
use rampart_shapes::generated::iam as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};

use super::roles::{RoleRecord, read_role_tx, write_role};

/// Services whose role names no AWS managed policy spells out, from each service's own guide.
const DOCUMENTED: &[(&str, &str)] = &[
    // https://docs.aws.amazon.com/guardduty/latest/ug/slr-permissions.html
    ("guardduty.amazonaws.com", "AWSServiceRoleForAmazonGuardDuty"),
    // https://docs.aws.amazon.com/inspector/latest/user/using-service-linked-roles.html
    ("inspector2.amazonaws.com", "AWSServiceRoleForAmazonInspector2"),
    // https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services.html
    ("organizations.amazonaws.com", "AWSServiceRoleForOrganizations"),
];

/// The role name of each service that has a service-linked role, read from AWS's own managed
/// policies (which grant `iam:CreateServiceLinkedRole` on
/// `arn:aws:iam::*:role/aws-service-role/SERVICE/AWSServiceRoleForNAME`), plus [`DOCUMENTED`].
pub(super) fn role_names(policies: &'static str) -> BTreeMap<&'static str, &'static str> {
    const MARK: &str = ":role/aws-service-role/";
    let mut names: BTreeMap<&str, &str> = DOCUMENTED.iter().copied().collect();
    let mut rest = policies;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let Some((service, tail)) = rest.split_once('/') else { break };
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))).unwrap_or(tail.len());
        // A wildcard (`AWSServiceRoleForX*`, `…_*`) names custom suffixes, not the role.
        let name = tail[..end].trim_end_matches('_');
        let wildcard = tail[end..].starts_with('*');
        let valid_service = service.ends_with(".amazonaws.com")
            && service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if valid_service && name.starts_with("AWSServiceRoleFor") && name.len() > "AWSServiceRoleFor".len() {
            // The shortest name wins over suffixed ones (`X` over `X_Suffix`).
            let entry = names.entry(service).or_insert(name);
            if !wildcard && name.len() < entry.len() {
                *entry = name;
            }
        }
    }
    names
}

static ROLE_NAMES: LazyLock<BTreeMap<&'static str, &'static str>> = LazyLock::new(|| role_names(super::managed::DATA));

/// The name CreateServiceLinkedRole gives a service's role (with a custom suffix), if the
/// service has one.
pub fn service_linked_role_name(service: &str, suffix: Option<&str>) -> Option<String> {
    let base = ROLE_NAMES.get(service)?;
    Some(match suffix {
        Some(suffix) => format!("{base}_{suffix}"),
        None => (*base).to_owned(),
    })
}

/// A deletion task, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeletionTask {
    role: String,
    service: String,
    /// `SUCCEEDED`, `IN_PROGRESS`, `FAILED` or `NOT_STARTED`.
    status: String,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

pub fn create_service_linked_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateServiceLinkedRoleRequest,
) -> Result<shapes::CreateServiceLinkedRoleResponse, ServiceError> {
    let service = input.aws_service_name;
    // A service Rampart knows no role name of is refused rather than given a made-up name.
    let name = service_linked_role_name(&service, input.custom_suffix.as_deref()).ok_or_else(|| {
        invalid(format!("{service} is not a service principal Rampart knows a service-linked role for."))
    })?;
    if name.len() > 64 {
        return Err(invalid(format!("The role name {name} is longer than 64 characters.")));
    }
    let account = &ctx.principal.account_id;
    if tx.get(&keys::role(account, &name))?.is_some() {
        // The message AWS gives, word for word (as seen in public reports of it).
        return Err(invalid(format!(
            "Service role name {name} has been taken in this account, please try a different suffix."
        )));
    }
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": [service] }, "Action": "sts:AssumeRole" }],
    });
    let role = RoleRecord {
        v: 1,
        account_id: account.clone(),
        name,
        path: format!("/aws-service-role/{service}/"),
        id: account::new_unique_id("AROA")?,
        created: ctx.now,
        trust_policy: trust.to_string(),
        description: input.description,
        max_session_duration: 3600,
        boundary: None,
        tags: Vec::new(),
        inline_policies: BTreeMap::new(),
        attached: BTreeSet::new(),
        trust_bindings: BTreeMap::new(),
        service_linked: Some(service),
    };
    write_role(tx, &role)?;
    Ok(shapes::CreateServiceLinkedRoleResponse { role: Some(role.to_shape()) })
}

/// Deletes a service-linked role. In AWS the service first checks that no resource of its still
/// uses the role; no Rampart service holds one, so the task succeeds at once, and the role is
/// gone when this answers.
pub fn delete_service_linked_role(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteServiceLinkedRoleRequest,
) -> Result<shapes::DeleteServiceLinkedRoleResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let role = read_role_tx(tx, account, &input.role_name)?;
    let Some(service) = role.service_linked.clone() else {
        return Err(invalid(format!(
            "The role {} is not a service-linked role; delete it with DeleteRole.",
            role.name
        )));
    };
    if super::instance_profiles::holds_role_tx(tx, account, &role.name)? {
        return Err(ServiceError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must remove roles from instance profile first.",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    tx.delete(&keys::role(account, &role.name))?;
    let task = DeletionTask { role: role.name.clone(), service: service.clone(), status: "SUCCEEDED".to_owned() };
    records::write_tx(tx, &keys::role_deletion_task(account, &id), &task)?;
    Ok(shapes::DeleteServiceLinkedRoleResponse {
        deletion_task_id: format!("task/aws-service-role/{service}/{}/{id}", role.name),
    })
}

pub fn get_service_linked_role_deletion_status(
    ctx: &Ctx<'_>,
    input: shapes::GetServiceLinkedRoleDeletionStatusRequest,
) -> Result<shapes::GetServiceLinkedRoleDeletionStatusResponse, ServiceError> {
    let task_id = &input.deletion_task_id;
    // task/aws-service-role/SERVICE/ROLE/UUID
    let parts: Vec<&str> = task_id.split('/').collect();
    let [task, "aws-service-role", service, role, id] = parts.as_slice() else {
        return Err(invalid(format!("{task_id} is not a deletion task id.")));
    };
    if *task != "task" || uuid::Uuid::parse_str(id).is_err() {
        return Err(invalid(format!("{task_id} is not a deletion task id.")));
    }
    let found: Option<DeletionTask> = records::read(ctx.db, &keys::role_deletion_task(&ctx.principal.account_id, id))?;
    let found = found
        .filter(|t| t.service == *service && t.role == *role)
        .ok_or_else(|| ServiceError::new("NoSuchEntity", 404, format!("Deletion task {task_id} cannot be found.")))?;
    Ok(shapes::GetServiceLinkedRoleDeletionStatusResponse { status: found.status, reason: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_come_from_the_managed_policies_that_grant_creating_them() {
        let names = role_names(super::super::managed::DATA);
        assert!(names.len() > 100, "{}", names.len());
        assert_eq!(names.get("autoscaling.amazonaws.com"), Some(&"AWSServiceRoleForAutoScaling"));
        assert_eq!(names.get("spot.amazonaws.com"), Some(&"AWSServiceRoleForEC2Spot"));
        assert_eq!(names.get("guardduty.amazonaws.com"), Some(&"AWSServiceRoleForAmazonGuardDuty"));
        let text = r#""arn:aws:iam::*:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX_*","arn:aws:iam::*:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX","arn:aws:iam::*:role/aws-service-role/*/AWSServiceRoleForY""#;
        let names = role_names(Box::leak(text.to_owned().into_boxed_str()));
        assert_eq!(names.get("x.amazonaws.com"), Some(&"AWSServiceRoleForX"));
        assert!(!names.contains_key("*"));
        assert!(role_names("…:role/aws-service-role/").len() == DOCUMENTED.len(), "a truncated mark is no entry");
    }

    #[test]
    fn no_name_without_its_service() {
        assert_eq!(role_names("").len(), DOCUMENTED.len());
        let text = ":role/aws-service-role/Bad_Service/AWSServiceRoleForZ";
        assert_eq!(role_names(text).len(), DOCUMENTED.len());
    }
}
