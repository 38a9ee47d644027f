//! The IAM policy simulator, answered by the same engine and the same context builder as
//! enforcement, so it can never disagree with what happens.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>.

use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, decide};
use rampart_shapes::generated::iam as shapes;

use super::{identity_documents, read_group, read_user};
use crate::authz::{principal_context, role_context};

/// The session name a simulated role acts under.
const SIMULATED_SESSION: &str = "simulated";
use rampart_core::{Ctx, ServiceError};

fn malformed(e: &rampart_policy::PolicyError) -> ServiceError {
    ServiceError::new("MalformedPolicyDocument", 400, e.message.clone())
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

/// The documents, their reported ids and types, the principal and its context.
struct Subject {
    docs: Vec<(String, &'static str, String)>,
    /// The principal's own permissions boundary, used unless the request gives one.
    boundary: Option<String>,
    principal: Principal,
    context: Context,
}

/// The `PolicySourceType` of a managed policy: AWS's own or the account's.
fn managed_type(arn: &str) -> &'static str {
    if arn.starts_with("arn:aws:iam::aws:policy/") { "aws-managed" } else { "user-managed" }
}

fn subject(ctx: &Ctx<'_>, source_arn: &str) -> Result<Subject, ServiceError> {
    let account = &ctx.principal.account_id;
    let no_entity = || ServiceError::new("NoSuchEntity", 404, format!("The entity {source_arn} cannot be found."));
    let resource = source_arn
        .strip_prefix(&format!("arn:aws:iam::{account}:"))
        .ok_or_else(|| invalid(format!("Invalid ARN: {source_arn}")))?;
    if let Some(rest) = resource.strip_prefix("user/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let user = read_user(ctx.db, account, name)?.filter(|u| u.arn() == source_arn).ok_or_else(no_entity)?;
        let docs = identity_documents(ctx.db, &user)?
            .into_iter()
            .map(|(id, doc)| {
                let kind = if id.starts_with("arn:") {
                    managed_type(&id)
                } else if id.contains('/') {
                    "group"
                } else {
                    "user"
                };
                (id, kind, doc.into_owned())
            })
            .collect();
        let boundary = super::boundary_document(ctx.db, &user)?.map(|(_, d)| d.into_owned());
        return Ok(Subject {
            docs,
            boundary,
            principal: Principal::user(account, &user.path, &user.name),
            context: principal_context(&user),
        });
    }
    if let Some(rest) = resource.strip_prefix("group/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let group = read_group(ctx.db, account, name)?.filter(|g| g.arn() == source_arn).ok_or_else(no_entity)?;
        let mut docs: Vec<(String, &'static str, String)> =
            group.inline_policies.iter().map(|(n, d)| (n.clone(), "group", d.clone())).collect();
        for arn in &group.attached {
            if let Some(p) = super::read_policy_by_arn(ctx.db, arn)?
                && let Some(v) = p.versions.get(&p.default_version)
            {
                docs.push((arn.clone(), managed_type(arn), v.document.clone()));
            }
        }
        return Ok(Subject {
            docs,
            boundary: None,
            principal: Principal::user(account, "/", "simulated"),
            context: Context::new(),
        });
    }
    if let Some(rest) = resource.strip_prefix("role/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let role = super::read_role(ctx.db, account, name)?.filter(|r| r.arn() == source_arn).ok_or_else(no_entity)?;
        let docs = super::role_documents(ctx.db, &role)?
            .into_iter()
            .map(|(id, doc)| {
                let kind = if id.starts_with("arn:") { managed_type(&id) } else { "role" };
                (id, kind, doc.into_owned())
            })
            .collect();
        let boundary = match &role.boundary {
            Some(arn) => Some(super::managed_document(ctx.db, arn)?.into_owned()),
            None => None,
        };
        // The role is simulated as a session of itself, the way enforcement sees its callers.
        return Ok(Subject {
            docs,
            boundary,
            principal: Principal::role_session(account, &role.path, &role.name, SIMULATED_SESSION),
            context: role_context(&role, SIMULATED_SESSION),
        });
    }
    Err(invalid(format!("Simulation of {source_arn} is not supported: give a user, group or role ARN")))
}

#[allow(clippy::too_many_arguments, reason = "the simulator's inputs, as the API names them")]
fn simulate(
    mut subject: Subject,
    extra: Option<Vec<String>>,
    boundary: Option<Vec<String>>,
    actions: Vec<String>,
    resources: Option<Vec<String>>,
    resource_policy: Option<String>,
    resource_owner: Option<String>,
    entries: Option<Vec<shapes::ContextEntry>>,
) -> Result<Vec<shapes::EvaluationResult>, ServiceError> {
    for (i, d) in extra.into_iter().flatten().enumerate() {
        subject.docs.push((format!("PolicyInputList.{}", i + 1), "none", d));
    }
    let compiled: Vec<(String, Policy)> = subject
        .docs
        .iter()
        .map(|(id, _, d)| Policy::parse(d, PolicyKind::Identity).map(|p| (id.clone(), p)).map_err(|e| malformed(&e)))
        .collect::<Result<_, _>>()?;
    let identity: Vec<Named<'_>> = compiled.iter().map(|(n, p)| Named { name: n, policy: p }).collect();
    let boundary = match boundary.as_deref() {
        Some([doc]) => Some(Policy::parse(doc, PolicyKind::Boundary).map_err(|e| malformed(&e))?),
        Some([]) | None => subject
            .boundary
            .as_deref()
            .map(|d| Policy::parse(d, PolicyKind::Boundary).map_err(|e| malformed(&e)))
            .transpose()?,
        Some(_) => return Err(invalid("PermissionsBoundaryPolicyInputList takes one policy.")),
    };
    let resource_policy =
        resource_policy.map(|d| Policy::parse(&d, PolicyKind::Resource).map_err(|e| malformed(&e))).transpose()?;
    for e in entries.into_iter().flatten() {
        let (Some(key), Some(values)) = (e.context_key_name, e.context_key_values) else { continue };
        subject.context.set_many(&key, values);
    }
    let resources = resources.filter(|r| !r.is_empty()).unwrap_or_else(|| vec!["*".to_owned()]);
    let type_of = |name: &str| subject.docs.iter().find(|(id, _, _)| id == name).map_or("none", |(_, t, _)| *t);
    let owner =
        resource_owner.as_deref().and_then(|o| o.strip_prefix("arn:aws:iam::")).and_then(|o| o.split(':').next());
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let d = decide(&Input {
                action,
                resource,
                principal: &subject.principal,
                context: &subject.context,
                identity: &identity,
                boundary: boundary.as_ref().map(|b| Named { name: "PermissionsBoundaryPolicyInputList.1", policy: b }),
                session: None,
                scps: &[],
                rcps: &[],
                resource_policy: resource_policy.as_ref().map(|p| Named { name: "ResourcePolicy", policy: p }),
                resource_account: owner,
            });
            results.push(shapes::EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: Some(resource.clone()),
                eval_decision: d.kind.as_str().to_owned(),
                matched_statements: Some(
                    d.matched
                        .iter()
                        .map(|m| shapes::Statement {
                            source_policy_id: Some(m.policy.to_owned()),
                            source_policy_type: Some(match m.kind {
                                PolicyKind::Resource => "resource".to_owned(),
                                PolicyKind::Boundary => "none".to_owned(),
                                _ => type_of(m.policy).to_owned(),
                            }),
                            start_position: None,
                            end_position: None,
                        })
                        .collect(),
                ),
                missing_context_values: Some(d.missing_context.iter().map(|k| (*k).to_owned()).collect()),
                organizations_decision_detail: d
                    .organizations_allowed
                    .map(|a| shapes::OrganizationsDecisionDetail { allowed_by_organizations: Some(a) }),
                permissions_boundary_decision_detail: d
                    .boundary_allowed
                    .map(|a| shapes::PermissionsBoundaryDecisionDetail { allowed_by_permissions_boundary: Some(a) }),
                eval_decision_details: None,
                resource_specific_results: None,
            });
        }
    }
    Ok(results)
}

pub fn simulate_principal_policy(
    ctx: &Ctx<'_>,
    input: shapes::SimulatePrincipalPolicyRequest,
) -> Result<shapes::SimulatePolicyResponse, ServiceError> {
    let subject = subject(ctx, &input.policy_source_arn)?;
    let results = simulate(
        subject,
        input.policy_input_list,
        input.permissions_boundary_policy_input_list,
        input.action_names,
        input.resource_arns,
        input.resource_policy,
        input.resource_owner,
        input.context_entries,
    )?;
    let (results, truncated, marker) = super::page_items(results, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::SimulatePolicyResponse { evaluation_results: Some(results), is_truncated: Some(truncated), marker })
}

pub fn simulate_custom_policy(
    ctx: &Ctx<'_>,
    input: shapes::SimulateCustomPolicyRequest,
) -> Result<shapes::SimulatePolicyResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let subject = Subject {
        docs: Vec::new(),
        boundary: None,
        principal: Principal::user(account, "/", "simulated"),
        context: Context::new(),
    };
    let results = simulate(
        subject,
        Some(input.policy_input_list),
        input.permissions_boundary_policy_input_list,
        input.action_names,
        input.resource_arns,
        input.resource_policy,
        input.resource_owner,
        input.context_entries,
    )?;
    let (results, truncated, marker) = super::page_items(results, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::SimulatePolicyResponse { evaluation_results: Some(results), is_truncated: Some(truncated), marker })
}

fn context_keys(docs: impl Iterator<Item = String>) -> Result<shapes::GetContextKeysForPolicyResponse, ServiceError> {
    let mut keys: Vec<String> = Vec::new();
    for d in docs {
        let p = Policy::parse(&d, PolicyKind::Identity).map_err(|e| malformed(&e))?;
        for k in p.context_keys() {
            if !keys.iter().any(|o| o.eq_ignore_ascii_case(&k)) {
                keys.push(k);
            }
        }
    }
    Ok(shapes::GetContextKeysForPolicyResponse { context_key_names: Some(keys) })
}

pub fn get_context_keys_for_custom_policy(
    _ctx: &Ctx<'_>,
    input: shapes::GetContextKeysForCustomPolicyRequest,
) -> Result<shapes::GetContextKeysForPolicyResponse, ServiceError> {
    context_keys(input.policy_input_list.into_iter())
}

pub fn get_context_keys_for_principal_policy(
    ctx: &Ctx<'_>,
    input: shapes::GetContextKeysForPrincipalPolicyRequest,
) -> Result<shapes::GetContextKeysForPolicyResponse, ServiceError> {
    let subject = subject(ctx, &input.policy_source_arn)?;
    context_keys(subject.docs.into_iter().map(|(_, _, d)| d).chain(input.policy_input_list.into_iter().flatten()))
}
