//! The decision: AWS's policy evaluation logic over every policy type.
//!
//! Order, per <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>:
//! an explicit deny in any policy wins; then SCPs (and RCPs) must allow at every level of the
//! organization path; then, in the same account, a resource-based policy that names the principal's
//! own ARN (user or role session) grants by itself, one that names the role grants subject to the
//! boundary and session policies, and one that names the account only delegates to IAM; otherwise
//! identity-based policies must allow, intersected with the permissions boundary and the session
//! policies. Across accounts both sides must allow
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>).
//! The root user is not limited by IAM policies, only by SCPs in a member account.

use crate::context::{Context, Principal, PrincipalType};
use crate::document::{ActionPattern, Effect, Policy, PolicyKind, PrincipalEntry, ResourcePattern, Statement};
use crate::pattern::wildcard_match_masked;

/// A policy and the name reports give it (a policy ARN, or an inline policy's name).
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub name: &'a str,
    pub policy: &'a Policy,
}

/// Everything a decision reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `service:Action`, any case.
    pub action: &'a str,
    /// The resource ARN, or `*`.
    pub resource: &'a str,
    pub principal: &'a Principal,
    pub context: &'a Context,
    /// The principal's identity-based policies (its own, its groups', or its role's).
    pub identity: &'a [Named<'a>],
    pub boundary: Option<Named<'a>>,
    /// Session policies; `None` when the session has none (they then limit nothing).
    pub session: Option<&'a [Named<'a>]>,
    /// SCPs by level, from the organization root to the account. Empty outside an organization
    /// and for the management account.
    pub scps: &'a [&'a [Named<'a>]],
    /// RCPs by level for the resource's account, likewise.
    pub rcps: &'a [&'a [Named<'a>]],
    pub resource_policy: Option<Named<'a>>,
    /// The account that owns the resource; `None` means the principal's own account.
    pub resource_account: Option<&'a str>,
    /// The resource's policy is the root of access, as a KMS key policy is: within the account
    /// too, identity policies count only where it delegates to the account.
    /// See <https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html>.
    pub resource_policy_required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl DecisionKind {
    /// The IAM simulator's `EvalDecision` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

/// A statement that matched the request; it borrows from the policies decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement<'a> {
    pub policy: &'a str,
    pub kind: PolicyKind,
    pub sid: Option<&'a str>,
    /// The statement's position in its policy.
    pub index: usize,
    pub effect: Effect,
}

/// A decision and why. It borrows names from the policies decided on, so deciding allocates only
/// the two vectors, and only when something matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub kind: DecisionKind,
    /// The statements that decided: the denying ones for an explicit deny, the allowing ones for
    /// an allow; empty for an implicit deny.
    pub matched: Vec<MatchedStatement<'a>>,
    /// Condition keys that matching statements read but the context lacked.
    pub missing_context: Vec<&'a str>,
    /// Whether SCPs allowed, when any applied.
    pub organizations_allowed: Option<bool>,
    /// Whether the permissions boundary allowed, when there is one.
    pub boundary_allowed: Option<bool>,
    /// The policy type that denied (explicitly) or failed to allow.
    pub denied_by: Option<PolicyKind>,
}

impl Decision<'_> {
    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allowed
    }

    /// The end of AWS's AccessDenied message, after "… on resource: R ".
    pub fn reason(&self, action: &str) -> String {
        let what = match self.denied_by {
            Some(PolicyKind::Scp) => "service control policy",
            Some(PolicyKind::Rcp) => "resource control policy",
            Some(PolicyKind::Boundary) => "permissions boundary",
            Some(PolicyKind::Session) => "session policy",
            Some(PolicyKind::Resource | PolicyKind::Trust) => "resource-based policy",
            _ => "identity-based policy",
        };
        match self.kind {
            DecisionKind::ExplicitDeny => {
                let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
                format!("with an explicit deny in {article} {what}")
            }
            _ => format!("because no {what} allows the {action} action"),
        }
    }
}

/// What one policy says about a request.
#[derive(Default)]
struct Verdict {
    allow: bool,
    deny: bool,
    /// The strongest grant by a matching Allow's principal (resource policies only).
    grant: Grant,
}

/// How directly a resource-based policy's Allow names the principal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    #[default]
    None,
    /// Names the account: delegates to the account's IAM policies.
    Account,
    /// Names the role: grants, subject to the role session's boundary and session policies.
    Role,
    /// Names the user or role session itself, or everyone.
    Direct,
}

struct Request<'a> {
    action: &'a str,
    service: &'a str,
    name: &'a str,
    resource: &'a str,
    principal: &'a Principal,
    context: &'a Context,
}

fn principal_grant(entry: &PrincipalEntry, p: &Principal) -> Grant {
    match entry {
        PrincipalEntry::Anyone => Grant::Direct,
        PrincipalEntry::Account(a) if *a == p.account && p.kind != PrincipalType::Service => {
            if p.kind == PrincipalType::Account { Grant::Direct } else { Grant::Account }
        }
        PrincipalEntry::Arn(arn) if *arn == p.arn => Grant::Direct,
        PrincipalEntry::Arn(arn) if p.role_arn.as_deref() == Some(arn.as_str()) => Grant::Role,
        PrincipalEntry::Service(s) if p.kind == PrincipalType::Service && (*s == p.arn || s == "*") => Grant::Direct,
        PrincipalEntry::Federated(f) if p.kind == PrincipalType::FederatedUser && *f == p.arn => Grant::Direct,
        _ => Grant::None,
    }
}

fn resource_matches(pattern: &ResourcePattern, resource: &str, ctx: &Context) -> bool {
    match pattern {
        ResourcePattern::Fixed(p) => p.matches(resource, false),
        ResourcePattern::Variable(t) => t
            .render(ctx)
            .is_some_and(|r| wildcard_match_masked(r.text.as_bytes(), &r.literal, resource.as_bytes(), false)),
    }
}

/// Whether a statement applies; the grant is how its principal matched (Direct when it has none).
fn applies<'a>(st: &'a Statement, req: &Request<'_>, missing: &mut Vec<&'a str>) -> Option<Grant> {
    let hit = st.actions.iter().any(|a: &ActionPattern| a.matches(req.service, req.name, req.action));
    if hit == st.not_action {
        return None;
    }
    if let Some(rs) = &st.resources {
        let hit = rs.iter().any(|r| resource_matches(r, req.resource, req.context));
        if hit == st.not_resource {
            return None;
        }
    }
    let grant = match &st.principal {
        None => Grant::Direct,
        Some((negated, entries)) => {
            let best = entries.iter().map(|e| principal_grant(e, req.principal)).max().unwrap_or_default();
            match (negated, best) {
                (false, Grant::None) => return None,
                (false, g) => g,
                (true, Grant::None) => Grant::Direct,
                (true, _) => return None,
            }
        }
    };
    let mut holds = true;
    for c in &st.conditions {
        let (ok, absent) = c.eval(req.context);
        if absent && !missing.iter().any(|m| m.eq_ignore_ascii_case(&c.key)) {
            missing.push(&c.key);
        }
        holds &= ok;
    }
    holds.then_some(grant)
}

fn judge<'a>(named: &Named<'a>, req: &Request<'_>, out: &mut Decision<'a>) -> Verdict {
    let mut v = Verdict::default();
    for (index, st) in named.policy.candidates(req.service) {
        let Some(grant) = applies(st, req, &mut out.missing_context) else { continue };
        let m = MatchedStatement {
            policy: named.name,
            kind: named.policy.kind,
            sid: st.sid.as_deref(),
            index,
            effect: st.effect,
        };
        match st.effect {
            Effect::Deny => {
                v.deny = true;
                out.matched.push(m);
            }
            Effect::Allow => {
                v.allow = true;
                v.grant = v.grant.max(grant);
                out.matched.push(m);
            }
        }
    }
    v
}

/// Decides a request, exactly as AWS would.
/// Whether a resource policy (`name`: `BucketPolicy`, `KeyPolicy`) alone lets an AWS service
/// itself make `action` on `resource` in `context`: a service principal has no identity policies,
/// so only a statement naming it admits it, and any deny refuses it. This is how S3 and KMS weigh
/// a service's own requests (CloudTrail delivering into a bucket, under a key).
pub fn service_allowed(
    policy: &Policy,
    name: &str,
    service: &str,
    (action, resource): (&str, &str),
    mut context: Context,
) -> bool {
    context.set("aws:PrincipalServiceName", service).set("aws:PrincipalIsAWSService", "true");
    let principal = Principal::service(service);
    decide(&Input {
        action,
        resource,
        principal: &principal,
        context: &context,
        identity: &[],
        boundary: None,
        session: None,
        scps: &[],
        rcps: &[],
        resource_policy: Some(Named { name, policy }),
        // The service acts for the resource's account: the policy is the whole answer.
        resource_account: None,
        resource_policy_required: true,
    })
    .is_allowed()
}

pub fn decide<'a>(input: &Input<'a>) -> Decision<'a> {
    let (service, name) = input.action.split_once(':').unwrap_or((input.action, ""));
    let mut buf = [0u8; 64];
    let folded: String;
    let service_lc: &str = if service.bytes().any(|b| b.is_ascii_uppercase()) {
        match buf.get_mut(..service.len()) {
            Some(b) => {
                b.copy_from_slice(service.as_bytes());
                b.make_ascii_lowercase();
                std::str::from_utf8(b).unwrap_or(service)
            }
            None => {
                folded = service.to_ascii_lowercase();
                &folded
            }
        }
    } else {
        service
    };
    let req = Request {
        action: input.action,
        service: service_lc,
        name,
        resource: input.resource,
        principal: input.principal,
        context: input.context,
    };
    let mut d = Decision {
        kind: DecisionKind::ImplicitDeny,
        matched: Vec::new(),
        missing_context: Vec::new(),
        organizations_allowed: None,
        boundary_allowed: None,
        denied_by: None,
    };

    // Judge every policy once; remember which kind denied explicitly.
    let mut explicit: Option<PolicyKind> = None;
    let mut note = |v: &Verdict, kind: PolicyKind| {
        if v.deny && explicit.is_none() {
            explicit = Some(kind);
        }
    };
    let mut identity_allow = false;
    for p in input.identity {
        let v = judge(p, &req, &mut d);
        note(&v, PolicyKind::Identity);
        identity_allow |= v.allow;
    }
    let boundary = input.boundary.map(|b| {
        let v = judge(&b, &req, &mut d);
        note(&v, PolicyKind::Boundary);
        v.allow
    });
    let session = input.session.map(|ps| {
        let mut allow = false;
        for p in ps {
            let v = judge(p, &req, &mut d);
            note(&v, PolicyKind::Session);
            allow |= v.allow;
        }
        allow
    });
    // Whether every level allows and none denies explicitly.
    let mut levels_allow = |levels: &[&[Named<'a>]], kind: PolicyKind, d: &mut Decision<'a>| -> Option<bool> {
        if levels.is_empty() {
            return None;
        }
        let (mut all, mut denied) = (true, false);
        for level in levels {
            let mut allow = false;
            for p in *level {
                let v = judge(p, &req, d);
                note(&v, kind);
                allow |= v.allow;
                denied |= v.deny;
            }
            all &= allow;
        }
        Some(all && !denied)
    };
    let scp = levels_allow(input.scps, PolicyKind::Scp, &mut d);
    let rcp = levels_allow(input.rcps, PolicyKind::Rcp, &mut d);
    let resource = input.resource_policy.map(|r| {
        let v = judge(&r, &req, &mut d);
        note(&v, PolicyKind::Resource);
        v.grant
    });
    d.organizations_allowed = scp;
    d.boundary_allowed = boundary;

    if let Some(kind) = explicit {
        d.kind = DecisionKind::ExplicitDeny;
        d.denied_by = Some(kind);
        d.matched.retain(|m| m.effect == Effect::Deny);
        return d;
    }
    let deny = |kind: PolicyKind, d: &mut Decision<'a>| {
        d.kind = DecisionKind::ImplicitDeny;
        d.denied_by = Some(kind);
        d.matched.clear();
    };
    if scp == Some(false) {
        deny(PolicyKind::Scp, &mut d);
        return d;
    }
    if rcp == Some(false) {
        deny(PolicyKind::Rcp, &mut d);
        return d;
    }

    let p = input.principal;
    let same_account = input.resource_account.is_none_or(|a| a == p.account);
    let is_root = p.kind == PrincipalType::Account;
    // An anonymous caller has no identity policies: only a resource policy that names everyone
    // admits it (an unsigned S3 request under a public bucket policy).
    let is_anonymous = p.kind == PrincipalType::Anonymous;
    let grant = resource.unwrap_or_default();
    // Boundaries and session policies limit IAM principals; the root user has neither, but for
    // the explicit denies of a root session's task policy (STS AssumeRoot), counted above.
    let boundary_ok = is_root || boundary.unwrap_or(true);
    let session_ok = is_root || session.unwrap_or(true);
    let identity_ok = if is_root { same_account } else { identity_allow };
    let allowed = if same_account && input.resource_policy_required {
        grant == Grant::Direct
            || (grant == Grant::Role && boundary_ok && session_ok)
            || (grant == Grant::Account && identity_ok && boundary_ok && session_ok)
    } else if same_account {
        grant == Grant::Direct
            || (grant == Grant::Role && boundary_ok && session_ok)
            || (identity_ok && boundary_ok && session_ok)
    } else {
        // Across accounts the resource's policy must admit the principal (naming the account is
        // enough) and the principal's own account must allow it too.
        grant != Grant::None && (identity_allow || is_root || is_anonymous) && boundary_ok && session_ok
    };
    if allowed {
        d.kind = DecisionKind::Allowed;
        d.matched.retain(|m| m.effect == Effect::Allow);
        return d;
    }
    let blame = if (!same_account || input.resource_policy_required) && grant == Grant::None && identity_ok {
        PolicyKind::Resource
    } else if same_account && grant == Grant::Role {
        // The resource policy granted to the role; its session's limits refused.
        if boundary_ok { PolicyKind::Session } else { PolicyKind::Boundary }
    } else if !identity_ok {
        PolicyKind::Identity
    } else if !boundary_ok {
        PolicyKind::Boundary
    } else {
        PolicyKind::Session
    };
    deny(blame, &mut d);
    d
}
