//! Decision and compile cost for the issue's scenario: a principal with 10 attached policies
//! (about 100 statements, half with conditions), two SCP levels and a resource policy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "benchmark set-up"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, decide};

const SERVICES: &[&str] = &["s3", "ec2", "iam", "kms", "dynamodb", "sqs", "sns", "lambda", "logs", "cloudtrail"];

fn identity_policy(i: usize) -> String {
    let mut sts = Vec::new();
    for j in 0..10 {
        let svc = SERVICES[(i + j) % SERVICES.len()];
        let cond = if j % 2 == 0 {
            r#","Condition":{"StringEquals":{"aws:PrincipalTag/team":["blue","green"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#
        } else {
            ""
        };
        let effect = if j == 9 && i.is_multiple_of(3) { "Deny" } else { "Allow" };
        // IAM's ARNs name no region and a known resource type (IAM refuses a policy otherwise).
        let resource = if svc == "iam" {
            format!("arn:aws:iam::111122223333:user/thing{j}/*")
        } else {
            format!("arn:aws:{svc}:*:111122223333:thing{j}/*")
        };
        sts.push(format!(
            r#"{{"Sid":"S{i}x{j}","Effect":"{effect}","Action":["{svc}:Get*","{svc}:List*","{svc}:Describe*"],"Resource":"{resource}"{cond}}}"#
        ));
    }
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, sts.join(","))
}

fn bench(c: &mut Criterion) {
    let texts: Vec<String> = (0..10).map(identity_policy).collect();
    let identity: Vec<Policy> = texts.iter().map(|t| Policy::parse(t, PolicyKind::Identity).unwrap()).collect();
    let scp_root = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Scp,
    )
    .unwrap();
    let scp_ou = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":["cloudtrail:StopLogging","cloudtrail:DeleteTrail"],"Resource":"*"},{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}"#,
        PolicyKind::Scp,
    )
    .unwrap();
    let resource = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        PolicyKind::Resource,
    )
    .unwrap();
    let named: Vec<Named<'_>> =
        identity.iter().map(|p| Named { name: "arn:aws:iam::111122223333:policy/p", policy: p }).collect();
    let level0 = [Named { name: "root-scp", policy: &scp_root }];
    let level1 = [Named { name: "ou-scp", policy: &scp_ou }];
    let scps: [&[Named<'_>]; 2] = [&level0, &level1];
    let principal = Principal::user("111122223333", "/", "alice");
    let mut ctx = Context::new();
    ctx.set("aws:PrincipalTag/team", "green")
        .set("aws:SourceIp", "10.1.2.3")
        .set("aws:RequestedRegion", "us-east-1")
        .set("aws:SecureTransport", "true")
        .set("aws:username", "alice");
    let input = Input {
        action: "s3:GetObject",
        resource: "arn:aws:s3:::111122223333:thing4/key",
        principal: &principal,
        context: &ctx,
        identity: &named,
        boundary: None,
        session: None,
        scps: &scps,
        rcps: &[],
        resource_policy: Some(Named { name: "bucket", policy: &resource }),
        resource_account: None,
        resource_policy_required: false,
    };
    let statements: usize = identity.iter().map(|p| p.statements.len()).sum();
    assert_eq!(statements, 100);
    let d = decide(&input);
    assert!(d.is_allowed(), "{d:?}");
    c.bench_function("decide: 10 policies/100 statements + 2 SCP levels + resource policy", |b| {
        b.iter(|| decide(std::hint::black_box(&input)))
    });
    let denied = Input { action: "iam:CreateUser", resource: "arn:aws:iam::111122223333:user/bob", ..input };
    assert!(!decide(&denied).is_allowed());
    c.bench_function("decide: implicit deny, same set", |b| b.iter(|| decide(std::hint::black_box(&denied))));
    percentiles(&input);
    kms(c);
    c.bench_function("compile: one 10-statement policy", |b| {
        b.iter(|| Policy::parse(std::hint::black_box(&texts[0]), PolicyKind::Identity).unwrap())
    });
}

/// KMS's decision: what a key policy (the default one, delegating to the account) and ten grants
/// (statements with encryption-context conditions) add over the IAM decision alone.
fn kms(c: &mut Criterion) {
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    let grants: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"Sid":"Grant{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:role/app{i}"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:tenant":"t{i}"}}}}}}"#
            )
        })
        .collect();
    let key_policy = Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}},{}]}}"#,
            grants.join(",")
        ),
        PolicyKind::Resource,
    )
    .unwrap();
    let named = [Named { name: "inline", policy: &identity }];
    let principal = Principal::user("111122223333", "/", "alice");
    let mut ctx = Context::new();
    ctx.set("kms:EncryptionContext:tenant", "t3").set("kms:CallerAccount", "111122223333");
    let iam_only = Input {
        action: "kms:Encrypt",
        resource: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        principal: &principal,
        context: &ctx,
        identity: &named,
        boundary: None,
        session: None,
        scps: &[],
        rcps: &[],
        resource_policy: None,
        resource_account: None,
        resource_policy_required: false,
    };
    let with_key_policy = Input {
        resource_policy: Some(Named { name: "KeyPolicy", policy: &key_policy }),
        resource_account: Some("111122223333"),
        resource_policy_required: true,
        ..iam_only
    };
    assert!(decide(&iam_only).is_allowed() && decide(&with_key_policy).is_allowed());
    c.bench_function("decide kms: IAM alone", |b| b.iter(|| decide(std::hint::black_box(&iam_only))));
    c.bench_function("decide kms: IAM + default key policy + 10 grants", |b| {
        b.iter(|| decide(std::hint::black_box(&with_key_policy)))
    });
}

/// Criterion reports central estimates; the issue also bounds p99. Time 200,000 single decisions
/// (timer overhead of some tens of nanoseconds included) and print the percentiles.
fn percentiles(input: &Input<'_>) {
    let mut samples: Vec<u32> = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let t = std::time::Instant::now();
        std::hint::black_box(decide(std::hint::black_box(input)));
        samples.push(u32::try_from(t.elapsed().as_nanos()).unwrap_or(u32::MAX));
    }
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!("decide percentiles over 200000 calls: p50 {} ns, p99 {} ns, p99.9 {} ns", at(0.50), at(0.99), at(0.999));
}

criterion_group!(benches, bench);
criterion_main!(benches);
