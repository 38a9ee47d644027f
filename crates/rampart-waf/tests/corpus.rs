//! The labelled corpus (`corpus/`, sources and licences in its README) against the issue's
//! target web ACL (AWS's CommonRuleSet, SQLiRuleSet and KnownBadInputsRuleSet), and against it
//! with the Linux, POSIX and PHP groups, which command injection is the remit of. Each attack is
//! sent where attackers put it (a query argument, a form body, the path, a header), each benign
//! request as recorded; the rates per class are printed (`cargo test -p rampart-waf --test corpus
//! -- --nocapture`) and held above floors, so that a change that loses detection, or blocks more
//! benign traffic, fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "a test")]

use std::net::IpAddr;
use std::path::Path;

use rampart_shapes::generated::wafv2 as shapes;
use rampart_shapes::{FromValue, HasShape};
use rampart_waf::engine::fields::Request;
use rampart_waf::engine::{Decision, References, WebAcl};

const ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";

/// A web ACL of AWS's managed groups, in this order.
fn acl_of(groups: &[&str]) -> WebAcl {
    let group = |name: &str, priority: u32| {
        format!(
            r#"{{"Name":"{name}","Priority":{priority},"OverrideAction":{{"None":{{}}}},"Statement":{{"ManagedRuleGroupStatement":{{"VendorName":"AWS","Name":"{name}"}}}},"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#
        )
    };
    let rules: Vec<String> = groups.iter().zip(1..).map(|(g, p)| group(g, p)).collect();
    let json = format!(
        r#"{{"Name":"target","Id":"{ID}","ARN":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/target/{ID}","DefaultAction":{{"Allow":{{}}}},"Rules":[{}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"target"}},"LabelNamespace":"awswaf:111122223333:webacl:target:"}}"#,
        rules.join(",")
    );
    let value = rampart_wire::json::decode_input(json.as_bytes(), shapes::WebACL::SHAPE).unwrap();
    WebAcl::compile(&shapes::WebACL::from_value(value).unwrap(), &References::default()).unwrap()
}

/// Percent-encodes a value as a form or query encodes it (space as `+`).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

struct Case {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    fn get(target: &str) -> Case {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Case {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("host".into(), "shop.example.com".into()),
                ("user-agent".into(), BROWSER.into()),
                ("accept".into(), "text/html,application/json".into()),
            ],
            body: Vec::new(),
        }
    }

    fn post(target: &str, content_type: &str, body: &[u8]) -> Case {
        let mut c = Case::get(target);
        c.method = "POST".into();
        c.headers.push(("content-type".into(), content_type.into()));
        c.body = body.to_vec();
        c
    }

    fn blocked(&self, acl: &WebAcl) -> bool {
        !matches!(self.verdict(acl).decision, Decision::Allow { .. })
    }

    fn verdict(&self, acl: &WebAcl) -> rampart_waf::engine::Verdict {
        let headers: Vec<(&[u8], &[u8])> = self.headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        let request = Request {
            client_ip: IpAddr::from([203, 0, 113, 9]),
            method: self.method.as_bytes(),
            path: self.path.as_bytes(),
            query: self.query.as_bytes(),
            headers: &headers,
            body: &self.body,
            body_length: self.body.len(),
            now: 1_700_000_000,
            tls: None,
            locate: None,
            token: Default::default(),
            ip_lists: None,
        };
        acl.evaluate(&request)
    }
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn payloads(class: &str) -> Vec<String> {
    let text = std::fs::read_to_string(corpus().join("attacks").join(format!("{class}.txt"))).unwrap();
    text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// `\n`, `\t` and `\\` in a corpus field.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The share of `cases` the web ACL blocks.
fn rate(acl: &WebAcl, cases: &[Case]) -> f64 {
    let blocked = cases.iter().filter(|c| c.blocked(acl)).count();
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let share = blocked as f64 / cases.len().max(1) as f64;
    share
}

#[test]
fn the_target_web_acl_blocks_the_attack_corpus_and_passes_the_benign_one() {
    // Command injection is the POSIX group's remit, not the target configuration's: measured,
    // not held.
    measure(&acl_of(TARGET), 0.0);
}

/// The issue's target configuration: AWS's common, SQL database and known bad inputs groups.
const TARGET: &[&str] =
    &["AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"];

#[test]
fn with_the_operating_system_and_php_groups_command_injection_is_blocked_too() {
    let mut groups = TARGET.to_vec();
    groups.extend(["AWSManagedRulesLinuxRuleSet", "AWSManagedRulesUnixRuleSet", "AWSManagedRulesPHPRuleSet"]);
    measure(&acl_of(&groups), 0.88);
}

/// Sends the corpus through `acl`, prints the rates, and holds them above the floors (command
/// injection's given).
fn measure(acl: &WebAcl, command_floor: f64) {
    // Where each class is sent, and the least share of it that must be blocked there.
    let placements: &[(&str, &str, f64)] = &[
        ("sqli", "query", 0.98),
        ("sqli", "form body", 0.98),
        ("xss", "query", 0.94),
        ("xss", "form body", 0.94),
        ("traversal", "query", 0.89),
        ("traversal", "path", 0.89),
        ("log4shell", "query", 1.0),
        ("log4shell", "header", 1.0),
        ("ssrf", "query", 1.0),
        ("ssrf", "form body", 1.0),
        ("command", "query", command_floor),
    ];
    let mut report = String::from("\nclass       where       requests  blocked\n");
    let mut failures = Vec::new();
    let (mut all_attacks, mut all_blocked) = (0usize, 0usize);
    for &(class, place, floor) in placements {
        let cases: Vec<Case> = payloads(class)
            .iter()
            .map(|p| match place {
                "query" => Case::get(&format!("/search?q={}", encode(p))),
                "form body" => Case::post(
                    "/comment",
                    "application/x-www-form-urlencoded",
                    format!("comment={}", encode(p)).as_bytes(),
                ),
                // The path as an attacker sends it: raw, its own encodings kept.
                "path" => Case::get(&format!("/static/{}", p.trim_start_matches('/'))),
                _ => {
                    let mut c = Case::get("/");
                    c.headers.push(("x-api-version".into(), p.clone()));
                    c
                }
            })
            .collect();
        let share = rate(acl, &cases);
        if let Ok(dir) = std::env::var("RAMPART_CORPUS_MISSES") {
            let missed: Vec<String> =
                payloads(class).into_iter().zip(&cases).filter(|(_, c)| !c.blocked(acl)).map(|(p, _)| p).collect();
            std::fs::write(Path::new(&dir).join(format!("{class}-{place}.txt")), missed.join("\n")).unwrap();
        }
        all_attacks += cases.len();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a count"
        )]
        let blocked = (share * cases.len() as f64).round() as usize;
        all_blocked += blocked;
        report.push_str(&format!("{class:<11} {place:<11} {:>8}  {:>6.1} %\n", cases.len(), share * 100.0));
        if share < floor {
            failures.push(format!(
                "{class} in the {place}: {:.1} % blocked, below {:.0} %",
                share * 100.0,
                floor * 100.0
            ));
        }
    }
    let text = std::fs::read_to_string(corpus().join("benign").join("requests.tsv")).unwrap();
    let mut benign: Vec<(String, Case)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (class, method, target, content_type, body) = (f[0], f[1], f[2], f[3], unescape(f[4]));
        let mut case =
            if content_type == "-" { Case::get(target) } else { Case::post(target, content_type, body.as_bytes()) };
        case.method = method.to_owned();
        benign.push((class.to_owned(), case));
    }
    report.push_str("\nbenign class          requests  blocked\n");
    // Each class once, in the order the file first names it.
    let mut classes: Vec<&str> = Vec::new();
    for (c, _) in &benign {
        if !classes.contains(&c.as_str()) {
            classes.push(c);
        }
    }
    let mut false_positives = Vec::new();
    for class in classes {
        let cases: Vec<&Case> = benign.iter().filter(|(c, _)| c == class).map(|(_, r)| r).collect();
        let blocked: Vec<&&Case> = cases.iter().filter(|c| c.blocked(acl)).collect();
        report.push_str(&format!("{class:<21} {:>8}  {:>6}\n", cases.len(), blocked.len()));
        false_positives.extend(blocked.iter().map(|c| {
            let rule = c.verdict(acl).terminating_rule;
            format!("{class}: {} {}?{} (by {rule})", c.method, c.path, c.query)
        }));
    }
    #[expect(clippy::cast_precision_loss, reason = "counts")]
    let overall = all_blocked as f64 / all_attacks as f64;
    report.push_str(&format!(
        "\nattacks blocked: {all_blocked} of {all_attacks} ({:.1} %); benign blocked: {} of {}\n",
        overall * 100.0,
        false_positives.len(),
        benign.len()
    ));
    println!("{report}");
    if let Ok(dir) = std::env::var("RAMPART_CORPUS_MISSES") {
        std::fs::write(Path::new(&dir).join("benign-blocked.txt"), false_positives.join("\n")).unwrap();
    }
    assert!(failures.is_empty(), "{report}\n{failures:#?}");
    // The issue's bound: at most 1 % of benign requests blocked. Two are today, both known: a
    // file PUT to `…/settings.ini` (CommonRuleSet's RestrictedExtensions_URIPATH blocks `.ini`
    // paths, as AWS documents it), and a search for the word 'or' in quotes (libinjection's).
    assert!(false_positives.len() * 100 <= benign.len(), "benign requests blocked:\n{false_positives:#?}");
    assert!(false_positives.len() <= 2, "benign requests blocked:\n{false_positives:#?}");
}
