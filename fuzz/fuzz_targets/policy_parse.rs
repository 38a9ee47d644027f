//! Fuzzes the policy parser and a decision over whatever it accepts: any text, as every policy
//! kind, must give a policy or a MalformedPolicyDocument message, never a panic; whether one is
//! public is always decidable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, decide};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let kinds = [
        PolicyKind::Identity,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::Trust,
        PolicyKind::Resource,
        PolicyKind::Scp,
        PolicyKind::Rcp,
    ];
    let mut ctx = Context::new();
    ctx.set("aws:username", "alice").set("aws:SourceIp", "10.0.0.1").set("aws:CurrentTime", "2026-01-01T00:00:00Z");
    let principal = Principal::user("111122223333", "/", "alice");
    for kind in kinds {
        if let Ok(p) = Policy::parse(text, kind) {
            // Block Public Access's judgment of any policy that parses.
            let _ = p.is_public();
            let named = [Named { name: "p", policy: &p }];
            let resource_policy = matches!(kind, PolicyKind::Resource | PolicyKind::Trust).then_some(named[0]);
            let _ = decide(&Input {
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                principal: &principal,
                context: &ctx,
                identity: &named,
                boundary: None,
                session: None,
                scps: &[],
                rcps: &[],
                resource_policy,
                resource_account: None,
                resource_policy_required: false,
            });
            // An anonymous caller across accounts, as an unsigned S3 request is decided.
            let _ = decide(&Input {
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k",
                principal: &Principal::anonymous(),
                context: &ctx,
                identity: &[],
                boundary: None,
                session: None,
                scps: &[],
                rcps: &[],
                resource_policy,
                resource_account: Some("111122223333"),
                resource_policy_required: false,
            });
        }
    }
});
