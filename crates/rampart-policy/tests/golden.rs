//! The golden corpus: JSON cases in `tests/golden/`, each naming the AWS documentation page it
//! follows, run through one harness. The same files can be replayed against real AWS with the IAM
//! policy simulator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, decide};
use serde_json::Value;

fn policy(v: &Value, kind: PolicyKind) -> Policy {
    Policy::parse(&v.to_string(), kind).unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn principal(v: Option<&Value>) -> Principal {
    let Some(v) = v else { return Principal::user("111122223333", "/", "alice") };
    let account = v["account"].as_str().unwrap();
    match v["type"].as_str().unwrap() {
        "root" => Principal::root(account),
        "user" => Principal::user(account, "/", v["name"].as_str().unwrap()),
        "role_session" => {
            Principal::role_session(account, "/", v["role"].as_str().unwrap(), v["session"].as_str().unwrap())
        }
        other => panic!("unknown principal type {other}"),
    }
}

fn context(v: Option<&Value>) -> Context {
    let mut c = Context::new();
    for (k, val) in v.and_then(Value::as_object).into_iter().flatten() {
        match val {
            Value::Array(items) => c.set_many(k, items.iter().map(|i| i.as_str().unwrap().to_owned()).collect()),
            other => c.set(k, other.as_str().unwrap()),
        };
    }
    c
}

fn list(v: Option<&Value>, kind: PolicyKind) -> Vec<Policy> {
    v.and_then(Value::as_array).into_iter().flatten().map(|p| policy(p, kind)).collect()
}

fn named(ps: &[Policy]) -> Vec<Named<'_>> {
    ps.iter().enumerate().map(|(i, p)| Named { name: ["p0", "p1", "p2", "p3"][i.min(3)], policy: p }).collect()
}

fn run_case(case: &Value) -> usize {
    let name = case["name"].as_str().unwrap();
    assert!(
        case["doc"].as_str().is_some_and(|d| d.starts_with("https://docs.aws.amazon.com/")),
        "{name}: cite the AWS page"
    );
    let identity = list(case.get("identity"), PolicyKind::Identity);
    let boundary = case.get("boundary").map(|b| policy(b, PolicyKind::Boundary));
    let session = case.get("session").map(|s| list(Some(s), PolicyKind::Session));
    let scps: Vec<Vec<Policy>> = case
        .get("scps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| list(Some(l), PolicyKind::Scp))
        .collect();
    let rcps: Vec<Vec<Policy>> = case
        .get("rcps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| list(Some(l), PolicyKind::Rcp))
        .collect();
    let resource = case.get("resource_policy").map(|r| policy(r, PolicyKind::Resource));
    let p = principal(case.get("principal"));
    let identity_n = named(&identity);
    let session_n = session.as_ref().map(|s| named(s));
    let scp_n: Vec<Vec<Named<'_>>> = scps.iter().map(|l| named(l)).collect();
    let scp_refs: Vec<&[Named<'_>]> = scp_n.iter().map(Vec::as_slice).collect();
    let rcp_n: Vec<Vec<Named<'_>>> = rcps.iter().map(|l| named(l)).collect();
    let rcp_refs: Vec<&[Named<'_>]> = rcp_n.iter().map(Vec::as_slice).collect();
    let requests = case["requests"].as_array().unwrap();
    for (i, r) in requests.iter().enumerate() {
        let ctx = context(r.get("context"));
        let input = Input {
            action: r["action"].as_str().unwrap(),
            resource: r["resource"].as_str().unwrap(),
            principal: &p,
            context: &ctx,
            identity: &identity_n,
            boundary: boundary.as_ref().map(|b| Named { name: "boundary", policy: b }),
            session: session_n.as_deref(),
            scps: &scp_refs,
            rcps: &rcp_refs,
            resource_policy: resource.as_ref().map(|r| Named { name: "resource", policy: r }),
            resource_account: case.get("resource_account").and_then(Value::as_str),
            resource_policy_required: case.get("resource_policy_required").and_then(Value::as_bool).unwrap_or(false),
        };
        let d = decide(&input);
        let at = format!("{name} / request {i} ({} on {})", input.action, input.resource);
        assert_eq!(d.kind.as_str(), r["expect"].as_str().unwrap(), "{at}: {d:#?}");
        if let Some(by) = r.get("denied_by") {
            assert_eq!(format!("{:?}", d.denied_by.unwrap()), by.as_str().unwrap(), "{at}");
        }
        if let Some(sids) = r.get("matched") {
            let got: Vec<&str> = d.matched.iter().filter_map(|m| m.sid).collect();
            let want: Vec<&str> = sids.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            assert_eq!(got, want, "{at}");
        }
        if let Some(missing) = r.get("missing") {
            let want: Vec<&str> = missing.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            assert_eq!(d.missing_context, want, "{at}");
        }
        if let Some(org) = r.get("organizations_allowed") {
            assert_eq!(d.organizations_allowed, org.as_bool(), "{at}");
        }
        if let Some(b) = r.get("boundary_allowed") {
            assert_eq!(d.boundary_allowed, b.as_bool(), "{at}");
        }
    }
    requests.len()
}

#[test]
fn golden_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut requests = 0;
    for f in &files {
        let cases: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for case in cases.as_array().unwrap() {
            requests += run_case(case);
        }
    }
    assert!(requests >= 60, "only {requests} golden requests");
}

/// A service's own request is weighed against the resource policy alone: a statement naming the
/// service (with its conditions) admits it; naming the account, another service or everyone's
/// account does not; a deny refuses it.
#[test]
fn a_service_is_admitted_only_by_a_statement_that_names_it() {
    let policy = |statements: &str| {
        Policy::parse(&format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#), PolicyKind::Resource)
            .unwrap()
    };
    let put = ("s3:PutObject", "arn:aws:s3:::logs/AWSLogs/111122223333/x.json.gz");
    let with_acl = || {
        let mut c = Context::new();
        c.set("s3:x-amz-acl", "bucket-owner-full-control");
        c
    };
    let named = policy(
        r#"{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}"#,
    );
    assert!(rampart_policy::service_allowed(&named, "BucketPolicy", "cloudtrail.amazonaws.com", put, with_acl()));
    assert!(!rampart_policy::service_allowed(&named, "BucketPolicy", "cloudtrail.amazonaws.com", put, Context::new()));
    assert!(!rampart_policy::service_allowed(&named, "BucketPolicy", "config.amazonaws.com", put, with_acl()));
    let account = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}"#,
    );
    assert!(!rampart_policy::service_allowed(&account, "BucketPolicy", "cloudtrail.amazonaws.com", put, with_acl()));
    let denied = policy(
        r#"{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"},
           {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"Bool":{"aws:PrincipalIsAWSService":"true"}}}"#,
    );
    assert!(!rampart_policy::service_allowed(&denied, "BucketPolicy", "cloudtrail.amazonaws.com", put, with_acl()));
}
