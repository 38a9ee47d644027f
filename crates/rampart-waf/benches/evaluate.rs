//! The engine evaluating requests against a web ACL of the shape the issue's target configuration
//! has (SQLi and XSS on the query and body, path and header byte matches with transformations,
//! an IP set of 1,000 blocks, size limits): a small benign GET, a benign JSON POST, and an
//! attack that the SQLi rule ends; and the same GET against the issue's managed groups (AWS's
//! CommonRuleSet, SQLiRuleSet and KnownBadInputsRuleSet), as `loadbench --op proxy` sends it.
//! `cargo bench -p rampart-waf --bench evaluate`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_shapes::{FromValue, HasShape};
use rampart_waf::engine::fields::Request;
use rampart_waf::engine::{References, WebAcl};

fn shape<T: FromValue + HasShape>(json: &str) -> T {
    T::from_value(rampart_wire::json::decode_input(json.as_bytes(), T::SHAPE).unwrap()).unwrap()
}

const ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const SET: &str = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/a1b2c3d4-0000-4000-8000-000000000002";

fn rule(name: &str, priority: u32, statement: &str) -> String {
    format!(
        r#"{{"Name":"{name}","Priority":{priority},"Statement":{statement},"Action":{{"Block":{{}}}},"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#
    )
}

fn byte(field: &str, needle: &str, constraint: &str, transforms: &str) -> String {
    let needle = data_encoding::BASE64.encode(needle.as_bytes());
    format!(
        r#"{{"ByteMatchStatement":{{"SearchString":"{needle}","FieldToMatch":{field},"TextTransformations":{transforms},"PositionalConstraint":"{constraint}"}}}}"#
    )
}

fn acl() -> WebAcl {
    let decode = r#"[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"}]"#;
    let lower = r#"[{"Priority":0,"Type":"URL_DECODE"},{"Priority":1,"Type":"LOWERCASE"}]"#;
    let rules = [
        rule("ips", 0, &format!(r#"{{"IPSetReferenceStatement":{{"ARN":"{SET}"}}}}"#)),
        rule(
            "no-ua",
            1,
            r#"{"NotStatement":{"Statement":{"SizeConstraintStatement":{"FieldToMatch":{"SingleHeader":{"Name":"user-agent"}},"ComparisonOperator":"GT","Size":0,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}}}"#,
        ),
        rule(
            "query-size",
            2,
            r#"{"SizeConstraintStatement":{"FieldToMatch":{"QueryString":{}},"ComparisonOperator":"GT","Size":2048,"TextTransformations":[{"Priority":0,"Type":"NONE"}]}}"#,
        ),
        rule("traversal", 3, &byte(r#"{"UriPath":{}}"#, "../", "CONTAINS", lower)),
        rule(
            "log4j",
            4,
            &byte(
                r#"{"Headers":{"MatchPattern":{"All":{}},"MatchScope":"ALL","OversizeHandling":"CONTINUE"}}"#,
                "${jndi:",
                "CONTAINS",
                lower,
            ),
        ),
        rule(
            "sqli-query",
            5,
            &format!(
                r#"{{"SqliMatchStatement":{{"FieldToMatch":{{"AllQueryArguments":{{}}}},"TextTransformations":{decode}}}}}"#
            ),
        ),
        rule(
            "sqli-body",
            6,
            &format!(
                r#"{{"SqliMatchStatement":{{"FieldToMatch":{{"Body":{{"OversizeHandling":"CONTINUE"}}}},"TextTransformations":{decode}}}}}"#
            ),
        ),
        rule(
            "xss-query",
            7,
            &format!(
                r#"{{"XssMatchStatement":{{"FieldToMatch":{{"AllQueryArguments":{{}}}},"TextTransformations":{decode}}}}}"#
            ),
        ),
        rule(
            "xss-body",
            8,
            &format!(
                r#"{{"XssMatchStatement":{{"FieldToMatch":{{"Body":{{"OversizeHandling":"CONTINUE"}}}},"TextTransformations":{decode}}}}}"#
            ),
        ),
    ];
    let web_acl: shapes::WebACL = shape(&format!(
        r#"{{"Name":"front","Id":"{ID}","ARN":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/front/{ID}","DefaultAction":{{"Allow":{{}}}},"Rules":[{}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"front"}},"LabelNamespace":"awswaf:111122223333:webacl:front:"}}"#,
        rules.join(",")
    ));
    let addresses: Vec<String> = (0..1000).map(|i| format!("\"10.{}.{}.0/24\"", i / 256, i % 256)).collect();
    let mut refs = References::default();
    refs.ip_sets.insert(
        SET.to_owned(),
        shape(&format!(
            r#"{{"Name":"s","Id":"{ID}","ARN":"{SET}","IPAddressVersion":"IPV4","Addresses":[{}]}}"#,
            addresses.join(",")
        )),
    );
    WebAcl::compile(&web_acl, &refs).unwrap()
}

/// The issue's target web ACL: AWS's three managed groups, in order.
fn managed_acl() -> WebAcl {
    let group = |name: &str, priority: u32| {
        format!(
            r#"{{"Name":"{name}","Priority":{priority},"OverrideAction":{{"None":{{}}}},"Statement":{{"ManagedRuleGroupStatement":{{"VendorName":"AWS","Name":"{name}"}}}},"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#
        )
    };
    let rules = [
        group("AWSManagedRulesCommonRuleSet", 1),
        group("AWSManagedRulesSQLiRuleSet", 2),
        group("AWSManagedRulesKnownBadInputsRuleSet", 3),
    ];
    let web_acl: shapes::WebACL = shape(&format!(
        r#"{{"Name":"target","Id":"{ID}","ARN":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/target/{ID}","DefaultAction":{{"Allow":{{}}}},"Rules":[{}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"target"}},"LabelNamespace":"awswaf:111122223333:webacl:target:"}}"#,
        rules.join(",")
    ));
    WebAcl::compile(&web_acl, &References::default()).unwrap()
}

fn evaluate(c: &mut Criterion) {
    let acl = acl();
    let managed = managed_acl();
    let ip: IpAddr = "203.0.113.9".parse().unwrap();
    let headers: Vec<(&[u8], &[u8])> = vec![
        (b"host", b"shop.example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml"),
        (b"cookie", b"session=8f14e45fceea167a5a36dedd4bea2543; theme=dark"),
    ];
    let get = Request {
        client_ip: ip,
        method: b"GET",
        path: b"/products/42",
        query: b"color=blue&size=m&page=2",
        headers: &headers,
        body: b"",
        body_length: 0,
        now: 1_700_000_000,
        tls: None,
        locate: None,
        token: Default::default(),
        ip_lists: None,
    };
    let json =
        br#"{"order":{"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"Leave it at the door, please."}}"#;
    let post = Request {
        method: b"POST",
        path: b"/api/orders",
        query: b"",
        body: json,
        body_length: json.len(),
        ..get.clone()
    };
    let attack = Request { query: b"id=1%27%20OR%20%271%27%3D%271", ..get.clone() };
    assert_eq!(acl.evaluate(&get).terminating_rule, "Default_Action");
    assert_eq!(acl.evaluate(&post).terminating_rule, "Default_Action");
    assert_eq!(acl.evaluate(&attack).terminating_rule, "sqli-query");
    c.bench_function("benign GET", |b| b.iter(|| acl.evaluate(black_box(&get))));
    c.bench_function("benign JSON POST", |b| b.iter(|| acl.evaluate(black_box(&post))));
    c.bench_function("SQLi GET", |b| b.iter(|| acl.evaluate(black_box(&attack))));
    assert_eq!(managed.evaluate(&get).terminating_rule, "Default_Action");
    assert_eq!(managed.evaluate(&attack).terminating_rule, "SQLi_QUERYARGUMENTS");
    c.bench_function("managed groups: benign GET", |b| b.iter(|| managed.evaluate(black_box(&get))));
    c.bench_function("managed groups: benign JSON POST", |b| b.iter(|| managed.evaluate(black_box(&post))));
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
