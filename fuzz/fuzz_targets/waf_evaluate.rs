//! Fuzzes the WAF engine: any request (method, path, query, headers, cookies, a JSON or other
//! body) against a web ACL that inspects every field with decoding transformations must be
//! decided, never panic, and a request is decided the same way twice.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_shapes::generated::wafv2 as shapes;
use rampart_shapes::{FromValue, HasShape};
use rampart_waf::engine::fields::Request;
use rampart_waf::engine::{References, WebAcl};

const ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";

fn rule(name: &str, priority: u32, statement: &str, action: &str) -> String {
    format!(
        r#"{{"Name":"{name}","Priority":{priority},"Statement":{statement},"Action":{{"{action}":{{}}}},"RuleLabels":[{{"Name":"seen:{name}"}}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}}}"#
    )
}

static ACL: LazyLock<Option<WebAcl>> = LazyLock::new(|| {
    let t = r#"[{"Priority":0,"Type":"URL_DECODE_UNI"},{"Priority":1,"Type":"HTML_ENTITY_DECODE"},{"Priority":2,"Type":"JS_DECODE"},{"Priority":3,"Type":"CMD_LINE"}]"#;
    let fields = [
        r#"{"UriPath":{}}"#,
        r#"{"QueryString":{}}"#,
        r#"{"AllQueryArguments":{}}"#,
        r#"{"SingleQueryArgument":{"Name":"id"}}"#,
        r#"{"Body":{"OversizeHandling":"CONTINUE"}}"#,
        r#"{"JsonBody":{"MatchPattern":{"All":{}},"MatchScope":"ALL","InvalidFallbackBehavior":"EVALUATE_AS_STRING","OversizeHandling":"CONTINUE"}}"#,
        r#"{"Headers":{"MatchPattern":{"ExcludedHeaders":["host"]},"MatchScope":"ALL","OversizeHandling":"CONTINUE"}}"#,
        r#"{"Cookies":{"MatchPattern":{"All":{}},"MatchScope":"VALUE","OversizeHandling":"MATCH"}}"#,
        r#"{"HeaderOrder":{"OversizeHandling":"NO_MATCH"}}"#,
    ];
    let mut rules = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let i = u32::try_from(i).ok()? * 10;
        rules.push(rule(&format!("sqli{i}"), i, &format!(r#"{{"SqliMatchStatement":{{"FieldToMatch":{f},"TextTransformations":{t},"SensitivityLevel":"HIGH"}}}}"#), "Count"));
        rules.push(rule(&format!("xss{i}"), i + 1, &format!(r#"{{"XssMatchStatement":{{"FieldToMatch":{f},"TextTransformations":{t}}}}}"#), "Count"));
        rules.push(rule(&format!("re{i}"), i + 2, &format!(r#"{{"RegexMatchStatement":{{"RegexString":"(?i)(\\.\\./|etc/passwd|jndi:)","FieldToMatch":{f},"TextTransformations":{t}}}}}"#), "Count"));
        rules.push(rule(&format!("word{i}"), i + 3, &format!(r#"{{"ByteMatchStatement":{{"SearchString":"ZHJvcA==","FieldToMatch":{f},"TextTransformations":{t},"PositionalConstraint":"CONTAINS_WORD"}}}}"#), "Count"));
    }
    rules.push(rule("labelled", 1000, r#"{"LabelMatchStatement":{"Scope":"NAMESPACE","Key":"seen:"}}"#, "Block"));
    let json = format!(
        r#"{{"Name":"front","Id":"{ID}","ARN":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/front/{ID}","DefaultAction":{{"Allow":{{}}}},"Rules":[{}],"VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"front"}},"LabelNamespace":"awswaf:111122223333:webacl:front:"}}"#,
        rules.join(",")
    );
    let value = rampart_wire::json::decode_input(json.as_bytes(), shapes::WebACL::SHAPE).ok()?;
    WebAcl::compile(&shapes::WebACL::from_value(value).ok()?, &References::default()).ok()
});

fuzz_target!(|data: &[u8]| {
    let Some(acl) = ACL.as_ref() else { return };
    // Parts separated by 0xFF: method, path, query, then header lines ("name:value"), then body.
    let mut parts = data.split(|b| *b == 0xFF);
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let header_block = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers: Vec<(&[u8], &[u8])> = header_block
        .split(|b| *b == b'\n')
        .map(|line| match line.iter().position(|b| *b == b':') {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, &b""[..]),
        })
        .collect();
    let request = Request {
        client_ip: "203.0.113.9".parse().expect("an address"),
        method,
        path,
        query,
        headers: &headers,
        body,
        body_length: body.len(),
        now: 1_700_000_000,
        tls: None,
        locate: None,
        token: Default::default(),
        ip_lists: None,
    };
    let first = acl.evaluate(&request);
    assert_eq!(first, acl.evaluate(&request));
});
