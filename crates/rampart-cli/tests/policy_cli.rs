//! `rampart policy` end to end: the real binary, real files, no server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::process::Command;

fn rampart(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn validate_reports_errors_and_warnings_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        &dir,
        "good.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let admin = write(
        &dir,
        "admin.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let bad = write(
        &dir,
        "bad.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#,
    );
    assert_eq!(rampart(&["policy", "validate", &good]).0, 0);
    let (code, out) = rampart(&["policy", "validate", &admin]);
    assert_eq!(code, 0);
    assert!(out.contains("full administrator access"), "{out}");
    let (code, out) = rampart(&["policy", "validate", "--json", &good, &bad]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[1]["error"]["code"], "MalformedPolicyDocument");
    assert_eq!(v[1]["error"]["message"], "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    let trust = write(
        &dir,
        "trust.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
    );
    assert_eq!(rampart(&["policy", "validate", "--kind", "trust", &trust]).0, 0);
    assert_eq!(rampart(&["policy", "validate", &trust]).0, 1, "a principal is refused in an identity policy");
}

#[test]
fn simulate_decides_with_boundaries_scps_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "p.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let boundary = write(
        &dir,
        "b.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
    );
    let scp = write(
        &dir,
        "scp.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoTrailStop","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*"}]}"#,
    );
    let base = ["policy", "simulate", "--policy", &policy, "--boundary", &boundary, "--scp", &scp];
    let run = |extra: &[&str]| rampart(&[&base[..], extra].concat());
    let (code, out) =
        run(&["--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--context", "aws:SourceIp=ip:10.9.9.9"]);
    assert_eq!((code, out.lines().next()), (0, Some("allowed")), "{out}");
    let (code, out) =
        run(&["--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k", "--context", "aws:SourceIp=ip:192.0.2.1"]);
    assert_eq!(code, 1);
    assert!(out.contains("because no permissions boundary allows the s3:GetObject action"), "{out}");
    let (code, out) = run(&["--action", "cloudtrail:StopLogging", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "explicitDeny");
    assert_eq!(v["matchedStatements"][0]["sid"], "NoTrailStop");
    assert_eq!(v["reason"], "with an explicit deny in a service control policy");
    let (code, _) = run(&["--action", "s3:GetObject", "--context", "aws:SourceIp=banana:1"]);
    assert_eq!(code, 2, "a bad context type is a usage error, not a denial");
}

#[test]
fn show_prints_any_aws_managed_policy() {
    let (code, out) = rampart(&["policy", "show", "ReadOnlyAccess"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("arn:aws:iam::aws:policy/ReadOnlyAccess\n"), "{out}");
    assert!(out.contains("Provides read-only access") && out.contains("\"s3:Get*\""), "{out}");
    let arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let (code, out) = rampart(&["policy", "show", "--document-only", arn]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    // What it shows is a valid identity policy, as validate reads it.
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "lambda.json", &out);
    assert_eq!(rampart(&["policy", "validate", &file]).0, 0);
    assert_eq!(rampart(&["policy", "show", "NoSuchPolicy"]).0, 1);
    assert_eq!(rampart(&["policy", "show", "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole"]).0, 1);
}

#[test]
fn validate_locates_each_problem_and_names_what_was_meant() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        &dir,
        "typo.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Efect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}\n  ]\n}\n",
    );
    let (code, out) = rampart(&["policy", "validate", &typo]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!("{typo}:4:6: error: statement 1: `Efect` is not a policy element; did you mean `Effect`?\n")
    );
    let unknown = write(
        &dir,
        "unknown.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObjects","kms:Decrypt"],"Resource":"*"}]}"#,
    );
    let (code, out) = rampart(&["policy", "validate", "--json", &unknown]);
    assert_eq!(code, 0, "an unknown action is a warning, as IAM accepts it");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = &v[0]["diagnostics"][0];
    assert_eq!(
        (d["severity"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("warning"), Some(1), Some(66))
    );
    assert_eq!(d["statement"], 1);
    assert_eq!(d["message"], "`s3:GetObjects` is not an AWS action; did you mean `s3:GetObject`?");
}
