//! The IAM policy simulator, answered by the same engine and the same context builder as
//! enforcement, so it can never disagree with what happens.
//! See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>.

use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, decide};
use rampart_shapes::generated::iam as shapes;

use super::roles::RoleRecord;
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
        // The role is simulated as a session of itself, the way enforcement sees its callers.
        return role_subject(ctx, &role, SIMULATED_SESSION);
    }
    Err(invalid(format!("Simulation of {source_arn} is not supported: give a user, group or role ARN")))
}

/// A role as a session of itself named `session`: its policies, its boundary, the session's
/// principal and context.
fn role_subject(ctx: &Ctx<'_>, role: &RoleRecord, session: &str) -> Result<Subject, ServiceError> {
    let docs = super::role_documents(ctx.db, role)?
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
    Ok(Subject {
        docs,
        boundary,
        principal: Principal::role_session(&ctx.principal.account_id, &role.path, &role.name, session),
        context: role_context(role, session),
    })
}

/// What a simulation asks, beyond the subject's own policies: the API's inputs, as it names them.
struct Asked {
    extra: Option<Vec<String>>,
    boundary: Option<Vec<String>>,
    actions: Vec<String>,
    resources: Option<Vec<String>>,
    resource_policy: Option<String>,
    resource_owner: Option<String>,
    caller_arn: Option<String>,
    entries: Option<Vec<shapes::ContextEntry>>,
    resource_handling_option: Option<String>,
}

/// The IAM user a `CallerArn` names: the simulated caller that a resource policy's `Principal`
/// is matched against. AWS takes only users here, not roles, sessions or services.
fn caller(arn: &str) -> Result<Principal, ServiceError> {
    let not_a_user = || invalid(format!("CallerArn {arn} is not the ARN of an IAM user."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(not_a_user)?;
    let (account, resource) = rest.split_once(':').ok_or_else(not_a_user)?;
    let path_and_name = resource.strip_prefix("user").filter(|r| r.starts_with('/')).ok_or_else(not_a_user)?;
    let cut = path_and_name.rfind('/').map_or(0, |i| i + 1);
    let (path, name) = path_and_name.split_at(cut);
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return Err(not_a_user());
    }
    Ok(Principal::user(account, path, name))
}

/// The account `ResourceOwner` names (`arn:aws:iam::ACCOUNT:root`, or any IAM ARN of the account).
/// AWS refuses a bare account id with this very message.
fn owner_account(owner: &str) -> Result<&str, ServiceError> {
    owner
        .strip_prefix("arn:aws:iam::")
        .and_then(|o| o.split(':').next())
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| invalid(format!("'{owner}' is not a valid as a Resource Owner.")))
}

/// The account an ARN names in its fifth field, if it names one (S3's do not).
fn account_in(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The scenarios `ResourceHandlingOption` may name; they choose which EC2 resources RunInstances
/// is simulated with, and Rampart serves no EC2, so any of them simulates alike.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_testing-policies.html>.
const RESOURCE_HANDLING_OPTIONS: &[&str] = &[
    "EC2-VPC-InstanceStore",
    "EC2-VPC-InstanceStore-Subnet",
    "EC2-VPC-EBS",
    "EC2-VPC-EBS-Subnet",
    "EC2-Classic-InstanceStore",
    "EC2-Classic-EBS",
];

/// The SCPs over the simulated principal's account (the caller's), as enforcement weighs them:
/// AWS's simulator reports whether "the Organizations service control policies that impact the
/// simulated user's account" allow each action.
/// See <https://docs.aws.amazon.com/IAM/latest/APIReference/API_OrganizationsDecisionDetail.html>.
fn scps(ctx: &Ctx<'_>) -> Result<Vec<Vec<(String, Policy)>>, ServiceError> {
    let Some(levels) = ctx.orgs.map(|o| o.scps(ctx.db, &ctx.principal.account_id)).transpose()?.flatten() else {
        return Ok(Vec::new());
    };
    // Stored SCPs were checked when written; one that no longer parses allows nothing, as in
    // enforcement.
    let compile = |(name, doc): (String, String)| Some((name, Policy::parse(&doc, PolicyKind::Scp).ok()?));
    Ok(levels.into_iter().map(|level| level.into_iter().filter_map(compile).collect()).collect())
}

fn simulate(
    mut subject: Subject,
    source_is_user: bool,
    asked: Asked,
    scps: &[Vec<(String, Policy)>],
) -> Result<Vec<shapes::EvaluationResult>, ServiceError> {
    for (i, d) in asked.extra.into_iter().flatten().enumerate() {
        subject.docs.push((format!("PolicyInputList.{}", i + 1), "none", d));
    }
    if let Some(option) = &asked.resource_handling_option
        && !RESOURCE_HANDLING_OPTIONS.contains(&option.as_str())
    {
        return Err(invalid(format!("Invalid ResourceHandlingOption: {option}.")));
    }
    // The caller a resource policy sees: CallerArn, else the simulated user itself. Without one
    // a resource policy's Principal has nothing to match, so AWS requires it. (AWS's wording of
    // this refusal could not be established; the rule is its documented one.)
    match (&asked.caller_arn, &asked.resource_policy) {
        (Some(arn), _) => subject.principal = caller(arn)?,
        (None, Some(_)) if !source_is_user => {
            return Err(invalid(
                "CallerArn is required to simulate a ResourcePolicy unless the policy source is an IAM user.",
            ));
        }
        _ => {}
    }
    let compiled: Vec<(String, Policy)> = subject
        .docs
        .iter()
        .map(|(id, _, d)| Policy::parse(d, PolicyKind::Identity).map(|p| (id.clone(), p)).map_err(|e| malformed(&e)))
        .collect::<Result<_, _>>()?;
    let identity: Vec<Named<'_>> = compiled.iter().map(|(n, p)| Named { name: n, policy: p }).collect();
    let scp_levels: Vec<Vec<Named<'_>>> =
        scps.iter().map(|level| level.iter().map(|(n, p)| Named { name: n, policy: p }).collect()).collect();
    let scp_levels: Vec<&[Named<'_>]> = scp_levels.iter().map(Vec::as_slice).collect();
    let boundary = match asked.boundary.as_deref() {
        Some([doc]) => Some(Policy::parse(doc, PolicyKind::Boundary).map_err(|e| malformed(&e))?),
        Some([]) | None => subject
            .boundary
            .as_deref()
            .map(|d| Policy::parse(d, PolicyKind::Boundary).map_err(|e| malformed(&e)))
            .transpose()?,
        Some(_) => return Err(invalid("PermissionsBoundaryPolicyInputList takes one policy.")),
    };
    let resource_policy = asked
        .resource_policy
        .map(|d| Policy::parse(&d, PolicyKind::Resource).map_err(|e| malformed(&e)))
        .transpose()?;
    for e in asked.entries.into_iter().flatten() {
        let (Some(key), Some(values)) = (e.context_key_name, e.context_key_values) else { continue };
        subject.context.set_many(&key, values);
    }
    let resources = asked.resources.filter(|r| !r.is_empty()).unwrap_or_else(|| vec!["*".to_owned()]);
    if let Some(bad) = resources.iter().find(|r| *r != "*" && !r.starts_with("arn:")) {
        return Err(invalid(format!("ResourceNames are not in a valid ARN format: {bad}.")));
    }
    let owner = asked.resource_owner.as_deref().map(owner_account).transpose()?;
    let type_of = |name: &str| subject.docs.iter().find(|(id, _, _)| id == name).map_or("none", |(_, t, _)| *t);
    let mut results = Vec::new();
    for action in &asked.actions {
        for resource in &resources {
            // Whose resource: the account its ARN names, else ResourceOwner, else the caller's.
            let resource_account = account_in(resource).or(owner);
            let d = decide(&Input {
                action,
                resource,
                principal: &subject.principal,
                context: &subject.context,
                identity: &identity,
                boundary: boundary.as_ref().map(|b| Named { name: "PermissionsBoundaryPolicyInputList.1", policy: b }),
                session: None,
                scps: &scp_levels,
                rcps: &[],
                resource_policy: resource_policy.as_ref().map(|p| Named { name: "ResourcePolicy", policy: p }),
                resource_account,
                resource_policy_required: false,
            });
            let matched: Vec<shapes::Statement> = d
                .matched
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
                .collect();
            let missing: Vec<String> = d.missing_context.iter().map(|k| (*k).to_owned()).collect();
            let boundary_detail = d
                .boundary_allowed
                .map(|a| shapes::PermissionsBoundaryDecisionDetail { allowed_by_permissions_boundary: Some(a) });
            // AWS gives a specific resource its own result, and EvalDecisionDetails: present but
            // empty within one account. (Across accounts AWS fills it with each side's decision,
            // under names this implementation could not establish; it stays empty.)
            let specific = *resource != "*";
            results.push(shapes::EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: Some(resource.clone()),
                eval_decision: d.kind.as_str().to_owned(),
                matched_statements: Some(matched.clone()),
                missing_context_values: Some(missing.clone()),
                organizations_decision_detail: d
                    .organizations_allowed
                    .map(|a| shapes::OrganizationsDecisionDetail { allowed_by_organizations: Some(a) }),
                permissions_boundary_decision_detail: boundary_detail.clone(),
                eval_decision_details: specific.then(std::collections::BTreeMap::new),
                resource_specific_results: specific.then(|| {
                    vec![shapes::ResourceSpecificResult {
                        eval_resource_name: resource.clone(),
                        eval_resource_decision: d.kind.as_str().to_owned(),
                        matched_statements: Some(matched),
                        missing_context_values: Some(missing),
                        eval_decision_details: None,
                        permissions_boundary_decision_detail: boundary_detail,
                    }]
                }),
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
    let source_is_user = subject.principal.arn == input.policy_source_arn;
    let asked = Asked {
        extra: input.policy_input_list,
        boundary: input.permissions_boundary_policy_input_list,
        actions: input.action_names,
        resources: input.resource_arns,
        resource_policy: input.resource_policy,
        resource_owner: input.resource_owner,
        caller_arn: input.caller_arn,
        entries: input.context_entries,
        resource_handling_option: input.resource_handling_option,
    };
    let results = simulate(subject, source_is_user, asked, &scps(ctx)?)?;
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
    let asked = Asked {
        extra: Some(input.policy_input_list),
        boundary: input.permissions_boundary_policy_input_list,
        actions: input.action_names,
        resources: input.resource_arns,
        resource_policy: input.resource_policy,
        resource_owner: input.resource_owner,
        caller_arn: input.caller_arn,
        entries: input.context_entries,
        resource_handling_option: input.resource_handling_option,
    };
    let results = simulate(subject, false, asked, &scps(ctx)?)?;
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

/// The session name a service's use of a customer's role is weighed under.
const SERVICE_SESSION: &str = "service-check";

/// Whether `service` (a service principal such as `malware-protection-plan.guardduty.amazonaws.com`)
/// may take `role_arn`, a role of the caller's account, and do each of `checks` (an action and
/// its resource) as a session of it: the role's trust policy must let the service assume it, and
/// its policies, permissions boundary and the SCPs over its account must allow each action, weighed
/// by the engine and context builder enforcement uses. A role that does not exist may do nothing.
/// Services that act with a role the caller hands them check it with this before they take it
/// (GuardDuty's Malware Protection plans).
pub fn service_role_may(
    ctx: &Ctx<'_>,
    role_arn: &str,
    service: &str,
    (checks, resource_policy): (&[(&str, &str)], Option<&str>),
) -> Result<bool, ServiceError> {
    let account = &ctx.principal.account_id;
    let Some(rest) = role_arn.strip_prefix(&format!("arn:aws:iam::{account}:role/")) else { return Ok(false) };
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let Some(role) = super::read_role(ctx.db, account, name)?.filter(|r| r.arn() == role_arn) else {
        return Ok(false);
    };
    // A stored trust policy was checked when written; one that no longer parses trusts no one.
    let Ok(trust) = Policy::parse(&role.trust_policy, PolicyKind::Trust) else { return Ok(false) };
    if !rampart_policy::service_allowed(&trust, "TrustPolicy", service, ("sts:AssumeRole", role_arn), Context::new()) {
        return Ok(false);
    }
    // The service acts as the role's session itself (not through forward access sessions), so
    // its requests carry no aws:CalledVia.
    let subject = role_subject(ctx, &role, SERVICE_SESSION)?;
    // Like SCPs, a stored policy that no longer parses allows nothing.
    let compiled: Vec<(String, Policy)> = subject
        .docs
        .iter()
        .filter_map(|(id, _, d)| Some((id.clone(), Policy::parse(d, PolicyKind::Identity).ok()?)))
        .collect();
    let identity: Vec<Named<'_>> = compiled.iter().map(|(n, p)| Named { name: n, policy: p }).collect();
    let boundary = match (&role.boundary, subject.boundary.as_deref()) {
        (Some(arn), Some(doc)) => match Policy::parse(doc, PolicyKind::Boundary) {
            Ok(p) => Some((arn.clone(), p)),
            Err(_) => return Ok(false),
        },
        _ => None,
    };
    // The resource's own policy (a bucket's) weighs in as it does for a request: its denies
    // refuse. A stored one that no longer parses allows nothing.
    let resource_doc = match resource_policy.map(|p| Policy::parse(p, PolicyKind::Resource)) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return Ok(false),
        None => None,
    };
    let scps = scps(ctx)?;
    let scp_levels: Vec<Vec<Named<'_>>> =
        scps.iter().map(|level| level.iter().map(|(n, p)| Named { name: n, policy: p }).collect()).collect();
    let scp_levels: Vec<&[Named<'_>]> = scp_levels.iter().map(Vec::as_slice).collect();
    let (principal, context) = (subject.principal, subject.context);
    Ok(checks.iter().all(|(action, resource)| {
        decide(&Input {
            action,
            resource,
            principal: &principal,
            context: &context,
            identity: &identity,
            boundary: boundary.as_ref().map(|(n, b)| Named { name: n, policy: b }),
            session: None,
            scps: &scp_levels,
            rcps: &[],
            resource_policy: resource_doc.as_ref().map(|p| Named { name: "ResourcePolicy", policy: p }),
            resource_account: Some(account),
            resource_policy_required: false,
        })
        .is_allowed()
    }))
}
