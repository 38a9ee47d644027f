//! Fuzzes IAM temporary delegation's policy templates: any template with any parameters (the
//! partner's input) must render to a valid policy or be refused, never panic. The first line of
//! the input is the template; each further line is a parameter `NAME=TYPE=V1,V2…`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_iam::iam::{Parameter, render};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.split('\n');
    let template = lines.next().unwrap_or_default();
    let parameters: Vec<Parameter> = lines
        .filter_map(|l| {
            let mut parts = l.splitn(3, '=');
            Some(Parameter {
                name: parts.next()?.to_owned(),
                kind: parts.next()?.to_owned(),
                values: parts.next()?.split(',').map(str::to_owned).collect(),
            })
        })
        .collect();
    if let Ok(policy) = render(template, &parameters) {
        // What renders is a policy IAM accepts, within the size limit.
        assert!(policy.len() <= 2048);
        assert!(rampart_policy::Policy::parse(&policy, rampart_policy::PolicyKind::Identity).is_ok());
    }
});
