//! Laws of evaluation, as property tests over random policies and requests: an explicit deny
//! always wins; adding an Allow never turns an allow into a deny; a boundary never widens; the
//! order of statements and policies never matters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use proptest::prelude::*;
use rampart_policy::{Context, DecisionKind, Input, Named, Policy, PolicyKind, Principal, decide};

const ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:*", "s3:Get*", "iam:CreateUser", "iam:*", "ec2:*", "*"];
const RESOURCES: &[&str] = &["*", "arn:aws:s3:::b/*", "arn:aws:s3:::c/k", "arn:aws:iam::111122223333:user/*"];
const CONDITIONS: &[&str] = &[
    "",
    r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#","Condition":{"StringEquals":{"aws:username":"alice"}}"#,
    r#","Condition":{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}"#,
    r#","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
];

#[derive(Debug, Clone)]
struct St {
    allow: bool,
    action: usize,
    resource: usize,
    condition: usize,
}

fn st() -> impl Strategy<Value = St> {
    (any::<bool>(), 0..ACTIONS.len(), 0..RESOURCES.len(), 0..CONDITIONS.len())
        .prop_map(|(allow, action, resource, condition)| St { allow, action, resource, condition })
}

fn doc(sts: &[St]) -> String {
    let body: Vec<String> = sts
        .iter()
        .map(|s| {
            format!(
                r#"{{"Effect":"{}","Action":"{}","Resource":"{}"{}}}"#,
                if s.allow { "Allow" } else { "Deny" },
                ACTIONS[s.action],
                RESOURCES[s.resource],
                CONDITIONS[s.condition]
            )
        })
        .collect();
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, body.join(","))
}

fn parse(sts: &[St], kind: PolicyKind) -> Policy {
    Policy::parse(&doc(sts), kind).unwrap()
}

#[derive(Debug, Clone)]
struct Req {
    action: &'static str,
    resource: &'static str,
    ip: &'static str,
    user: &'static str,
}

fn req() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec!["s3:GetObject", "s3:PutObject", "iam:CreateUser", "ec2:RunInstances", "kms:Decrypt"]),
        prop::sample::select(vec!["arn:aws:s3:::b/k", "arn:aws:s3:::c/k", "arn:aws:iam::111122223333:user/bob", "*"]),
        prop::sample::select(vec!["10.1.2.3", "192.0.2.1"]),
        prop::sample::select(vec!["alice", "bob"]),
    )
        .prop_map(|(action, resource, ip, user)| Req { action, resource, ip, user })
}

fn decide_with(policies: &[Policy], boundary: Option<&Policy>, r: &Req) -> DecisionKind {
    let mut ctx = Context::new();
    ctx.set("aws:SourceIp", r.ip).set("aws:username", r.user).set("aws:RequestedRegion", "us-east-1");
    let p = Principal::user("111122223333", "/", r.user);
    let named: Vec<Named<'_>> = policies.iter().map(|p| Named { name: "p", policy: p }).collect();
    decide(&Input {
        action: r.action,
        resource: r.resource,
        principal: &p,
        context: &ctx,
        identity: &named,
        boundary: boundary.map(|b| Named { name: "b", policy: b }),
        session: None,
        scps: &[],
        rcps: &[],
        resource_policy: None,
        resource_account: None,
        resource_policy_required: false,
    })
    .kind
}

fn policies() -> impl Strategy<Value = Vec<Vec<St>>> {
    prop::collection::vec(prop::collection::vec(st(), 1..6), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_explicit_deny_always_wins(ps in policies(), r in req()) {
        let mut parsed: Vec<Policy> = ps.iter().map(|p| parse(p, PolicyKind::Identity)).collect();
        parsed.push(Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#, PolicyKind::Identity).unwrap());
        prop_assert_eq!(decide_with(&parsed, None, &r), DecisionKind::ExplicitDeny);
    }

    #[test]
    fn adding_an_allow_never_turns_an_allow_into_a_deny(ps in policies(), extra in st(), r in req()) {
        let parsed: Vec<Policy> = ps.iter().map(|p| parse(p, PolicyKind::Identity)).collect();
        let before = decide_with(&parsed, None, &r);
        let mut more = parsed.clone();
        more.push(parse(&[St { allow: true, ..extra }], PolicyKind::Identity));
        let after = decide_with(&more, None, &r);
        if before == DecisionKind::Allowed {
            prop_assert_eq!(after, DecisionKind::Allowed);
        }
        // And an Allow never removes an explicit deny.
        if before == DecisionKind::ExplicitDeny {
            prop_assert_eq!(after, DecisionKind::ExplicitDeny);
        }
    }

    #[test]
    fn a_boundary_never_widens(ps in policies(), b in prop::collection::vec(st(), 1..6), r in req()) {
        let parsed: Vec<Policy> = ps.iter().map(|p| parse(p, PolicyKind::Identity)).collect();
        let boundary = parse(&b, PolicyKind::Boundary);
        let with = decide_with(&parsed, Some(&boundary), &r);
        let without = decide_with(&parsed, None, &r);
        if with == DecisionKind::Allowed {
            prop_assert_eq!(without, DecisionKind::Allowed);
        }
    }

    #[test]
    fn order_never_matters(ps in policies(), r in req(), seed in any::<u64>()) {
        let parsed: Vec<Policy> = ps.iter().map(|p| parse(p, PolicyKind::Identity)).collect();
        let before = decide_with(&parsed, None, &r);
        // Reverse the policies and rotate each policy's statements.
        let reordered: Vec<Policy> = ps
            .iter()
            .rev()
            .map(|p| {
                let mut p = p.clone();
                let n = p.len();
                p.rotate_left(usize::try_from(seed).unwrap_or(0) % n);
                parse(&p, PolicyKind::Identity)
            })
            .collect();
        prop_assert_eq!(decide_with(&reordered, None, &r), before);
    }
}
