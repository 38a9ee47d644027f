//! Load balancers of the ELBv2 API, driven by the AWS SDK for Rust: served listeners that balance
//! over registered targets by their health, answer fixed responses and redirects, and are
//! protected by a web ACL associated with the load balancer.

use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ListenerAttribute, LoadBalancerAttribute, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, TargetDescription, TargetHealthStateEnum, TargetTypeEnum,
};
use aws_sdk_wafv2::types::{AllowAction, BlockAction, DefaultAction, RuleAction, Scope};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::waf::{code, rule, send, visibility, waf, web_acl_blocking_admin};

pub(crate) fn elb(server: &TestServer) -> aws_sdk_elasticloadbalancingv2::Client {
    let conf = aws_sdk_elasticloadbalancingv2::Config::builder()
        .behavior_version(aws_sdk_elasticloadbalancingv2::config::BehaviorVersion::latest())
        .region(aws_sdk_elasticloadbalancingv2::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            &server.access_key_id,
            &server.secret_access_key,
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_elasticloadbalancingv2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_elasticloadbalancingv2::Client::from_conf(conf)
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `check` holds, for at most `within`.
async fn eventually<F: std::future::Future<Output = bool>>(within: Duration, what: &str, mut check: impl FnMut() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn forward(group: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(group).build()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_of_the_api_balances_over_healthy_targets_behind_its_web_acl() {
    let (a, _) = rampart_testkit::upstream::start_switchable().await.unwrap();
    let (b, b_switch) = rampart_testkit::upstream::start_switchable().await.unwrap();
    let server = TestServer::start().await.unwrap();
    let c = elb(&server);

    // The load balancer, active at once, with a DNS name under elb.localhost.
    let lb = c.create_load_balancer().name("shop").send().await.unwrap();
    let lb = lb.load_balancers()[0].clone();
    let lb_arn = lb.load_balancer_arn().unwrap().to_owned();
    assert!(lb_arn.starts_with(&format!("arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:loadbalancer/app/shop/")));
    assert_eq!(lb.state().unwrap().code().unwrap().as_str(), "active");
    assert!(lb.dns_name().unwrap().ends_with(".us-east-1.elb.localhost"));
    let again = c.create_load_balancer().name("shop").send().await.unwrap();
    assert_eq!(again.load_balancers()[0].load_balancer_arn(), Some(lb_arn.as_str()), "the same settings: idempotent");
    let other = c
        .create_load_balancer()
        .name("shop")
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .send()
        .await;
    assert_eq!(code(other), "DuplicateLoadBalancerName");
    assert_eq!(code(c.create_load_balancer().name("-shop").send().await), "ValidationError");
    let by_name = c.describe_load_balancers().names("shop").send().await.unwrap();
    assert_eq!(by_name.load_balancers().len(), 1);
    assert_eq!(code(c.describe_load_balancers().names("nowhere").send().await), "LoadBalancerNotFound");

    // A target group of two IP targets, checked every 5 s.
    let tg = c
        .create_target_group()
        .name("web")
        .protocol(ProtocolEnum::Http)
        .port(i32::from(a.port()))
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/health")
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(2)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_owned();
    let bad_timeout = c
        .create_target_group()
        .name("slow")
        .protocol(ProtocolEnum::Http)
        .port(80)
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(6)
        .send()
        .await;
    assert_eq!(code(bad_timeout), "ValidationError", "a timeout must be shorter than the interval");
    let targets = [(a, "127.0.0.1"), (b, "127.0.0.1")];
    let mut register = c.register_targets().target_group_arn(&tg_arn);
    for (addr, ip) in targets {
        register = register.targets(TargetDescription::builder().id(ip).port(i32::from(addr.port())).build());
    }
    register.send().await.unwrap();
    let not_ip = c
        .register_targets()
        .target_group_arn(&tg_arn)
        .targets(TargetDescription::builder().id("i-0123456789abcdef0").build())
        .send()
        .await;
    assert_eq!(code(not_ip), "InvalidTarget");
    let health = c.describe_target_health().target_group_arn(&tg_arn).send().await.unwrap();
    let states: Vec<_> = health
        .target_health_descriptions()
        .iter()
        .map(|d| d.target_health().unwrap().state().unwrap().clone())
        .collect();
    assert_eq!(states, [TargetHealthStateEnum::Unused, TargetHealthStateEnum::Unused], "no listener forwards yet");

    // A listener on a port of its own, served at once, round robin over both targets.
    let port = free_port();
    let listener = c
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .default_actions(forward(&tg_arn))
        .send()
        .await
        .unwrap();
    let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_owned();
    let duplicate = c
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(FixedResponseActionConfig::builder().status_code("200").build())
                .build(),
        )
        .send()
        .await;
    assert_eq!(code(duplicate), "DuplicateListener");
    assert_eq!(code(c.delete_target_group().target_group_arn(&tg_arn).send().await), "ResourceInUse");
    let described = c.describe_target_groups().load_balancer_arn(&lb_arn).send().await.unwrap();
    assert_eq!(described.target_groups()[0].load_balancer_arns(), std::slice::from_ref(&lb_arn));

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let reachable = || async {
        let probe = http::Request::get(url("/")).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
        client.request(probe).await.is_ok()
    };
    eventually(Duration::from_secs(10), "the listener is served", reachable).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        let got = send(&client, "GET", &url("/cart?id=7"), &[("x-forwarded-for", "198.51.100.4")], "").await;
        assert_eq!(got.status, 200, "{}", got.body);
        let echo: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(echo["path"], "/cart?id=7");
        assert_eq!(echo["forwardedFor"], "198.51.100.4, 127.0.0.1");
        assert_eq!(echo["forwardedPort"], port.to_string());
        seen.insert(echo["server"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, [a.to_string(), b.to_string()].into_iter().collect(), "both targets take requests");

    // Health checks find both targets healthy; a failing one goes unhealthy and gets no more.
    let state_of = |addr: std::net::SocketAddr| {
        let (c, tg_arn) = (c.clone(), tg_arn.clone());
        async move {
            let h = c.describe_target_health().target_group_arn(&tg_arn).send().await.unwrap();
            h.target_health_descriptions()
                .iter()
                .find(|d| d.target().unwrap().port() == Some(i32::from(addr.port())))
                .map(|d| d.target_health().unwrap().clone())
                .unwrap()
        }
    };
    eventually(Duration::from_secs(20), "both targets healthy", || async {
        state_of(a).await.state() == Some(&TargetHealthStateEnum::Healthy)
            && state_of(b).await.state() == Some(&TargetHealthStateEnum::Healthy)
    })
    .await;
    b_switch.store(false, std::sync::atomic::Ordering::Relaxed);
    eventually(Duration::from_secs(20), "the failing target unhealthy", || async {
        state_of(b).await.state() == Some(&TargetHealthStateEnum::Unhealthy)
    })
    .await;
    let failing = state_of(b).await;
    assert_eq!(failing.reason().map(|r| r.as_str()), Some("Target.ResponseCodeMismatch"));
    assert_eq!(failing.description(), Some("Health checks failed with these codes: [500]"));
    for _ in 0..4 {
        let got = send(&client, "GET", &url("/cart"), &[], "").await;
        let echo: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(
            (got.status, echo["server"].as_str()),
            (200, Some(a.to_string().as_str())),
            "only the healthy target"
        );
    }

    // A web ACL associated with the load balancer decides its listener's requests.
    let w = waf(&server);
    let acl = web_acl_blocking_admin(&server, "shop-acl").await;
    let acl_arn = acl.arn().unwrap().to_owned();
    w.associate_web_acl().web_acl_arn(&acl_arn).resource_arn(&lb_arn).send().await.unwrap();
    assert_eq!(send(&client, "GET", &url("/admin"), &[], "").await.status, 403);
    assert_eq!(send(&client, "GET", &url("/cart"), &[], "").await.status, 200);

    // The load balancer's and listener's attributes shape what the proxy forwards and answers.
    c.modify_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .attributes(
            LoadBalancerAttribute::builder().key("routing.http.xff_header_processing.mode").value("remove").build(),
        )
        .send()
        .await
        .unwrap();
    c.modify_listener_attributes()
        .listener_arn(&listener_arn)
        .attributes(
            ListenerAttribute::builder()
                .key("routing.http.response.x_frame_options.header_value")
                .value("DENY")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = send(&client, "GET", &url("/cart"), &[("x-forwarded-for", "198.51.100.4")], "").await;
    let echo: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(echo["forwardedFor"], "", "X-Forwarded-For removed");
    assert_eq!(got.headers.get("x-frame-options").unwrap(), "DENY");
    let unknown = c
        .modify_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .attributes(LoadBalancerAttribute::builder().key("idle_timeout.timeout_seconds").value("0").build())
        .send()
        .await;
    assert_eq!(code(unknown), "ValidationError");

    // A fixed response, then a redirect, replace forwarding on the next request.
    let fixed = FixedResponseActionConfig::builder()
        .status_code("503")
        .content_type("text/plain")
        .message_body("maintenance")
        .build();
    c.modify_listener()
        .listener_arn(&listener_arn)
        .default_actions(Action::builder().r#type(ActionTypeEnum::FixedResponse).fixed_response_config(fixed).build())
        .send()
        .await
        .unwrap();
    let got = send(&client, "GET", &url("/cart"), &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (503, "maintenance"));
    let redirect = RedirectActionConfig::builder()
        .protocol("HTTPS")
        .port("443")
        .status_code(RedirectActionStatusCodeEnum::Http301)
        .build();
    c.modify_listener()
        .listener_arn(&listener_arn)
        .default_actions(Action::builder().r#type(ActionTypeEnum::Redirect).redirect_config(redirect).build())
        .send()
        .await
        .unwrap();
    let got = send(&client, "GET", &url("/cart?id=7"), &[("host", "shop.example")], "").await;
    assert_eq!(got.status, 301);
    assert_eq!(got.headers.get("location").unwrap(), "https://shop.example/cart?id=7");
    assert_eq!(send(&client, "GET", &url("/admin"), &[], "").await.status, 403, "the web ACL decides first");

    // Deleting the listener stops it; deleting the load balancer ends its association.
    c.delete_listener().listener_arn(&listener_arn).send().await.unwrap();
    eventually(Duration::from_secs(10), "the listener stops", || async { !reachable().await }).await;
    c.delete_load_balancer().load_balancer_arn(&lb_arn).send().await.unwrap();
    assert_eq!(code(w.get_web_acl_for_resource().resource_arn(&lb_arn).send().await), "WAFNonexistentItemException");
    c.delete_target_group().target_group_arn(&tg_arn).send().await.unwrap();
    assert!(c.describe_target_groups().send().await.unwrap().target_groups().is_empty());
    c.delete_load_balancer().load_balancer_arn(&lb_arn).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_whose_port_is_taken_impairs_its_load_balancer_until_the_port_is_free() {
    let server = TestServer::start().await.unwrap();
    let c = elb(&server);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let lb = c.create_load_balancer().name("blocked").send().await.unwrap();
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let fixed = FixedResponseActionConfig::builder().status_code("200").message_body("ok").build();
    let listener = c
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .default_actions(Action::builder().r#type(ActionTypeEnum::FixedResponse).fixed_response_config(fixed).build())
        .send()
        .await
        .unwrap();
    let state = || {
        let (c, lb_arn) = (c.clone(), lb_arn.clone());
        async move {
            let got = c.describe_load_balancers().load_balancer_arns(lb_arn).send().await.unwrap();
            got.load_balancers()[0].state().unwrap().clone()
        }
    };
    eventually(Duration::from_secs(10), "impaired while its port is taken", || async {
        state().await.code().map(|c| c.as_str()) == Some("active_impaired")
    })
    .await;
    let reason = state().await.reason().unwrap().to_owned();
    assert!(reason.contains(&format!("port {port}")), "{reason}");
    drop(taken);
    eventually(Duration::from_secs(15), "active once the port is free", || async {
        state().await.code().map(|c| c.as_str()) == Some("active")
    })
    .await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let got = send(&client, "GET", &format!("http://127.0.0.1:{port}/"), &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (200, "ok"));
    c.delete_listener().listener_arn(listener.listeners()[0].listener_arn().unwrap()).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn listener_rules_route_by_host_path_method_header_query_and_source_in_priority_order() {
    use aws_sdk_elasticloadbalancingv2::types::{
        HttpHeaderConditionConfig, PathPatternConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
        RuleCondition, RulePriorityPair, SourceIpConditionConfig, Tag,
    };
    let (a, _) = rampart_testkit::upstream::start_switchable().await.unwrap();
    let (b, _) = rampart_testkit::upstream::start_switchable().await.unwrap();
    let server = TestServer::start().await.unwrap();
    let c = elb(&server);
    let lb = c.create_load_balancer().name("rules").send().await.unwrap();
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let group = |name: &'static str, target: std::net::SocketAddr| {
        let c = c.clone();
        async move {
            let tg = c
                .create_target_group()
                .name(name)
                .protocol(ProtocolEnum::Http)
                .port(80)
                .target_type(TargetTypeEnum::Ip);
            let tg = tg.send().await.unwrap();
            let arn = tg.target_groups()[0].target_group_arn().unwrap().to_owned();
            let t = TargetDescription::builder().id("127.0.0.1").port(i32::from(target.port())).build();
            c.register_targets().target_group_arn(&arn).targets(t).send().await.unwrap();
            arn
        }
    };
    let (web, api) = (group("web", a).await, group("api", b).await);
    let port = free_port();
    let listener = c
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .default_actions(forward(&web))
        .send()
        .await
        .unwrap();
    let listener_arn = listener.listeners()[0].listener_arn().unwrap().to_owned();
    let fixed = |status: &str, body: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(status)
                    .content_type("text/plain")
                    .message_body(body)
                    .build(),
            )
            .build()
    };
    let cond = |field: &str| RuleCondition::builder().field(field);
    let path = |p: &str| {
        cond("path-pattern").path_pattern_config(PathPatternConditionConfig::builder().values(p).build()).build()
    };
    let rule = |priority: i32, conditions: Vec<RuleCondition>, action: Action| {
        c.create_rule().listener_arn(&listener_arn).priority(priority).set_conditions(Some(conditions)).actions(action)
    };
    let api_rule = rule(10, vec![path("/api/*")], forward(&api))
        .tags(Tag::builder().key("team").value("backend").build())
        .send()
        .await
        .unwrap();
    let api_rule = api_rule.rules()[0].clone();
    let api_rule_arn = api_rule.rule_arn().unwrap().to_owned();
    assert!(api_rule_arn.contains(":listener-rule/app/rules/"), "{api_rule_arn}");
    assert_eq!(api_rule.priority(), Some("10"));
    let admin = cond("host-header").values("admin.*").build();
    rule(5, vec![admin], fixed("403", "admins elsewhere")).send().await.unwrap();
    let canary = cond("http-header")
        .http_header_config(HttpHeaderConditionConfig::builder().http_header_name("X-Canary").values("y*").build())
        .build();
    rule(20, vec![canary], forward(&api)).send().await.unwrap();
    let v2 = cond("query-string")
        .query_string_config(
            QueryStringConditionConfig::builder()
                .values(QueryStringKeyValuePair::builder().key("ver").value("2").build())
                .build(),
        )
        .build();
    rule(30, vec![v2], fixed("200", "version two")).send().await.unwrap();
    let far =
        cond("source-ip").source_ip_config(SourceIpConditionConfig::builder().values("10.0.0.0/8").build()).build();
    rule(1, vec![far], fixed("418", "not from here")).send().await.unwrap();
    let posts = vec![cond("http-request-method").values("POST").build(), path("/submit")];
    let moved = Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .path("/v2/#{path}")
                .status_code(RedirectActionStatusCodeEnum::Http302)
                .build(),
        )
        .build();
    rule(40, posts, moved).send().await.unwrap();

    // Bad input.
    assert_eq!(code(rule(10, vec![path("/dup")], forward(&web)).send().await), "PriorityInUse");
    assert_eq!(code(rule(11, vec![], forward(&web)).send().await), "ValidationError");
    assert_eq!(code(rule(12, vec![cond("cookie").values("x").build()], forward(&web)).send().await), "ValidationError");
    let six = vec![
        cond("path-pattern").values("/a").values("/b").values("/c").values("/d").values("/e").values("/f").build(),
    ];
    assert_eq!(code(rule(13, six, forward(&web)).send().await), "TooManyConditionValues");
    let bad_cidr =
        cond("source-ip").source_ip_config(SourceIpConditionConfig::builder().values("10.0.0.0/99").build()).build();
    assert_eq!(code(rule(14, vec![bad_cidr], forward(&web)).send().await), "ValidationError");

    // Described by priority, the default rule last.
    let listed = c.describe_rules().listener_arn(&listener_arn).send().await.unwrap();
    let priorities: Vec<_> = listed.rules().iter().filter_map(|r| r.priority()).collect();
    assert_eq!(priorities, ["1", "5", "10", "20", "30", "40", "default"]);
    let default_rule = listed.rules().last().unwrap().clone();
    assert_eq!(default_rule.is_default(), Some(true));
    let one = c.describe_rules().rule_arns(&api_rule_arn).send().await.unwrap();
    assert_eq!(one.rules()[0].conditions()[0].values(), ["/api/*"]);
    let tags = c.describe_tags().resource_arns(&api_rule_arn).send().await.unwrap();
    assert_eq!(tags.tag_descriptions()[0].tags()[0].key(), Some("team"));
    // A rule's target group is in use.
    assert_eq!(code(c.delete_target_group().target_group_arn(&api).send().await), "ResourceInUse");

    // The proxy follows them.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    eventually(Duration::from_secs(10), "the listener is served", || async {
        let probe = http::Request::get(url("/")).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
        client.request(probe).await.is_ok()
    })
    .await;
    let server_of =
        |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["server"].as_str().unwrap().to_owned();
    let got = send(&client, "GET", &url("/home"), &[], "").await;
    assert_eq!(server_of(&got.body), a.to_string(), "no rule: the default action");
    let got = send(&client, "GET", &url("/api/orders"), &[], "").await;
    assert_eq!(server_of(&got.body), b.to_string(), "path /api/*");
    let got = send(&client, "GET", &url("/API/orders"), &[], "").await;
    assert_eq!(server_of(&got.body), a.to_string(), "paths match case-sensitively");
    let got = send(&client, "GET", &url("/api/orders"), &[("host", "ADMIN.example.com")], "").await;
    assert_eq!(
        (got.status, got.body.as_str()),
        (403, "admins elsewhere"),
        "host (any case) at priority 5 beats path at 10"
    );
    let got = send(&client, "GET", &url("/"), &[("x-canary", "YES")], "").await;
    assert_eq!(server_of(&got.body), b.to_string(), "header");
    let got = send(&client, "GET", &url("/?a=1&ver=2"), &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (200, "version two"), "query string");
    let got = send(&client, "POST", &url("/submit?x=1"), &[], "").await;
    assert_eq!(got.status, 302);
    assert_eq!(
        got.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("http://127.0.0.1:{port}/v2/submit?x=1").as_str())
    );
    let got = send(&client, "GET", &url("/submit"), &[], "").await;
    assert_eq!(server_of(&got.body), a.to_string(), "GET is not POST");

    // Priorities change at once; a modified rule and a deleted one take effect on the next request.
    let swap =
        [(api_rule_arn.as_str(), 3)].map(|(arn, p)| RulePriorityPair::builder().rule_arn(arn).priority(p).build());
    c.set_rule_priorities().set_rule_priorities(Some(swap.to_vec())).send().await.unwrap();
    let got = send(&client, "GET", &url("/api/orders"), &[("host", "admin.example.com")], "").await;
    assert_eq!(server_of(&got.body), b.to_string(), "the path rule now comes first");
    let clash = [RulePriorityPair::builder().rule_arn(&api_rule_arn).priority(5).build()];
    assert_eq!(code(c.set_rule_priorities().set_rule_priorities(Some(clash.to_vec())).send().await), "PriorityInUse");
    c.modify_rule().rule_arn(&api_rule_arn).conditions(path("/v1/*")).send().await.unwrap();
    let got = send(&client, "GET", &url("/api/orders"), &[], "").await;
    assert_eq!(server_of(&got.body), a.to_string(), "the modified rule no longer matches");
    c.delete_rule().rule_arn(&api_rule_arn).send().await.unwrap();
    assert_eq!(code(c.describe_rules().rule_arns(&api_rule_arn).send().await), "RuleNotFound");
    let default_arn = default_rule.rule_arn().unwrap();
    assert_eq!(code(c.delete_rule().rule_arn(default_arn).send().await), "OperationNotPermitted");
    // The default rule's actions are the listener's.
    c.modify_rule().rule_arn(default_arn).actions(fixed("404", "nothing here")).send().await.unwrap();
    let got = send(&client, "GET", &url("/home"), &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (404, "nothing here"));
    let l = c.describe_listeners().listener_arns(&listener_arn).send().await.unwrap();
    assert_eq!(l.listeners()[0].default_actions()[0].r#type(), Some(&ActionTypeEnum::FixedResponse));
    let still = c.delete_target_group().target_group_arn(&api).send().await;
    assert_eq!(code(still), "ResourceInUse", "the header rule still forwards to it");
}

/// A GET over TLS to a listener on `port`, asking for the certificate of `name` (SNI), trusting
/// `roots`, speaking only `versions`; the status and body, or why the handshake or request failed.
pub(crate) async fn https_get(
    (port, name): (u16, &str),
    roots: &rustls::RootCertStore,
    versions: &[&'static rustls::SupportedProtocolVersion],
    path: &str,
) -> Result<(u16, String), String> {
    use http_body_util::BodyExt;
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_protocol_versions(versions)
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
    // The address as Host: AWS's known-bad-inputs rules turn away `Host: localhost`.
    let host = format!("127.0.0.1:{port}");
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", host)
        .header("user-agent", "Mozilla/5.0 (rampart test)")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_listener_terminates_tls_with_an_iam_server_certificate_under_its_security_policy() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start().await.unwrap();
    let c = elb(&server);
    // The site's certificate, uploaded to IAM as ALB users without ACM do.
    let site = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let uploaded = crate::iam::root(&server)
        .upload_server_certificate()
        .server_certificate_name("shop-tls")
        .certificate_body(site.cert.pem())
        .private_key(site.signing_key.serialize_pem())
        .send()
        .await
        .unwrap();
    let cert_arn = uploaded.server_certificate_metadata().unwrap().arn().to_owned();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(site.cert.der().clone()).unwrap();

    let lb = c.create_load_balancer().name("secure").send().await.unwrap();
    let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    let tg = c
        .create_target_group()
        .name("app")
        .protocol(ProtocolEnum::Http)
        .port(i32::from(upstream.port()))
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_owned();
    c.register_targets()
        .target_group_arn(&tg_arn)
        .targets(TargetDescription::builder().id("127.0.0.1").port(i32::from(upstream.port())).build())
        .send()
        .await
        .unwrap();
    let port = free_port();
    let https = || {
        c.create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Https)
            .port(i32::from(port))
            .default_actions(forward(&tg_arn))
    };
    let certificate =
        |arn: &str| aws_sdk_elasticloadbalancingv2::types::Certificate::builder().certificate_arn(arn).build();

    // Refused: no certificate, one IAM does not hold, a policy that is none of AWS's.
    assert_eq!(code(https().send().await), "ValidationError");
    let missing = format!("arn:aws:iam::{ACCOUNT_ID}:server-certificate/nothing");
    assert_eq!(code(https().certificates(certificate(&missing)).send().await), "CertificateNotFound");
    let acm = format!("arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/12345678-1234-1234-1234-123456789012");
    assert_eq!(code(https().certificates(certificate(&acm)).send().await), "CertificateNotFound");
    let bad_policy = https().certificates(certificate(&cert_arn)).ssl_policy("ELBSecurityPolicy-Mine").send().await;
    assert_eq!(code(bad_policy), "SSLPolicyNotFound");

    // Created with the API's default policy, and served over TLS to the target.
    let created = https().certificates(certificate(&cert_arn)).send().await.unwrap();
    let listener = created.listeners()[0].clone();
    let listener_arn = listener.listener_arn().unwrap().to_owned();
    assert_eq!(listener.ssl_policy(), Some("ELBSecurityPolicy-2016-08"));
    assert_eq!(listener.certificates()[0].certificate_arn(), Some(cert_arn.as_str()));
    let described = c.describe_listeners().listener_arns(&listener_arn).send().await.unwrap();
    assert_eq!(described.listeners()[0].protocol().map(|p| p.as_str()), Some("HTTPS"));
    let both = [&rustls::version::TLS13, &rustls::version::TLS12];
    eventually(Duration::from_secs(10), "the HTTPS listener answers", || {
        let roots = roots.clone();
        async move { https_get((port, "localhost"), &roots, &both, "/").await.is_ok() }
    })
    .await;
    let answer = https_get((port, "localhost"), &roots, &both, "/orders?id=7").await;
    let (status, body) = answer.unwrap();
    assert_eq!(status, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["path"], "/orders?id=7");
    assert_eq!(seen["forwardedProto"], "https");
    assert_eq!(seen["forwardedPort"], port.to_string());
    // TLS 1.2 is admitted by the default policy; a client that trusts another certificate is not.
    assert!(https_get((port, "localhost"), &roots, &[&rustls::version::TLS12], "/").await.is_ok());
    let mut strangers = rustls::RootCertStore::empty();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    strangers.add(other.cert.der().clone()).unwrap();
    assert!(https_get((port, "localhost"), &strangers, &both, "/").await.is_err());

    // The web ACL sees the connection's TLS fingerprints: a rule on JA4 blocks TLS 1.2 clients
    // (`t12…`) while TLS 1.3 ones (`t13…`) pass, and a JA3 rule matches its 32 hex digits.
    {
        use aws_sdk_wafv2::primitives::Blob;
        use aws_sdk_wafv2::types::{
            ByteMatchStatement, FallbackBehavior, FieldToMatch, Ja3Fingerprint, Ja4Fingerprint, PositionalConstraint,
            RegexMatchStatement, Statement, TextTransformation, TextTransformationType,
        };
        let none = TextTransformation::builder().priority(0).r#type(TextTransformationType::None).build().unwrap();
        let ja4 = FieldToMatch::builder()
            .ja4_fingerprint(Ja4Fingerprint::builder().fallback_behavior(FallbackBehavior::NoMatch).build().unwrap())
            .build();
        let tls12 = ByteMatchStatement::builder()
            .search_string(Blob::new("t12d"))
            .field_to_match(ja4)
            .text_transformations(none.clone())
            .positional_constraint(PositionalConstraint::StartsWith)
            .build()
            .unwrap();
        let ja3 = FieldToMatch::builder()
            .ja3_fingerprint(Ja3Fingerprint::builder().fallback_behavior(FallbackBehavior::NoMatch).build().unwrap())
            .build();
        let odd_ja3 = RegexMatchStatement::builder()
            .regex_string("^[0-9a-f]{32}$")
            .field_to_match(ja3)
            .text_transformations(none)
            .build()
            .unwrap();
        let block = RuleAction::builder().block(BlockAction::builder().build()).build();
        let ja3_on_path = Statement::builder()
            .and_statement(
                aws_sdk_wafv2::types::AndStatement::builder()
                    .statements(Statement::builder().regex_match_statement(odd_ja3).build())
                    .statements(crate::waf::uri_contains("ja3-check"))
                    .build()
                    .unwrap(),
            )
            .build();
        let w = waf(&server);
        let acl = w
            .create_web_acl()
            .name("tls-acl")
            .scope(Scope::Regional)
            .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
            .rules(rule("old-tls", 0, Statement::builder().byte_match_statement(tls12).build(), block.clone()))
            .rules(rule("has-ja3", 1, ja3_on_path, block.clone()))
            .visibility_config(visibility("tls-acl"))
            .send()
            .await
            .unwrap();
        let acl_arn = acl.summary().unwrap().arn().unwrap().to_owned();
        w.associate_web_acl().web_acl_arn(&acl_arn).resource_arn(&lb_arn).send().await.unwrap();
        eventually(Duration::from_secs(10), "TLS 1.2 clients blocked by their JA4", || {
            let roots = roots.clone();
            async move {
                https_get((port, "localhost"), &roots, &[&rustls::version::TLS12], "/")
                    .await
                    .is_ok_and(|(s, _)| s == 403)
            }
        })
        .await;
        // Under ELBSecurityPolicy-2016-08 the listener speaks TLS 1.2 only; the JA4 says what the
        // client offered, so a client offering 1.3 passes.
        let (status, _) = https_get((port, "localhost"), &roots, &both, "/").await.unwrap();
        assert_eq!(status, 200);
        // Every TLS request has a JA3 of 32 hex digits: the rule on it blocks its path.
        let (status, _) = https_get((port, "localhost"), &roots, &both, "/ja3-check").await.unwrap();
        assert_eq!(status, 403);
        w.disassociate_web_acl().resource_arn(&lb_arn).send().await.unwrap();
    }

    // A TLS 1.3-only policy: served again under it, so a TLS 1.2 client is refused.
    c.modify_listener()
        .listener_arn(&listener_arn)
        .ssl_policy("ELBSecurityPolicy-TLS13-1-3-2021-06")
        .send()
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "TLS 1.2 refused under a TLS 1.3 policy", || {
        let roots = roots.clone();
        async move { https_get((port, "localhost"), &roots, &[&rustls::version::TLS12], "/").await.is_err() }
    })
    .await;
    eventually(Duration::from_secs(10), "TLS 1.3 served", || {
        let roots = roots.clone();
        async move { https_get((port, "localhost"), &roots, &[&rustls::version::TLS13], "/").await.is_ok() }
    })
    .await;
    // A second certificate, for the clients that ask for its name (SNI); the default one stays.
    let shop = rcgen::generate_simple_self_signed(vec!["www.shop.test".to_owned()]).unwrap();
    let shop_arn = crate::iam::root(&server)
        .upload_server_certificate()
        .server_certificate_name("shop-www")
        .certificate_body(shop.cert.pem())
        .private_key(shop.signing_key.serialize_pem())
        .send()
        .await
        .unwrap()
        .server_certificate_metadata()
        .unwrap()
        .arn()
        .to_owned();
    let mut shop_roots = rustls::RootCertStore::empty();
    shop_roots.add(shop.cert.der().clone()).unwrap();
    let add = |arn: &str| c.add_listener_certificates().listener_arn(&listener_arn).certificates(certificate(arn));
    assert_eq!(code(add(&missing).send().await), "CertificateNotFound");
    add(&shop_arn).send().await.unwrap();
    let tls13 = [&rustls::version::TLS13];
    eventually(Duration::from_secs(10), "the added certificate served by SNI", || {
        let roots = shop_roots.clone();
        async move { https_get((port, "www.shop.test"), &roots, &tls13, "/").await.is_ok() }
    })
    .await;
    assert!(https_get((port, "localhost"), &roots, &tls13, "/").await.is_ok(), "other names get the default");
    let listed = c.describe_listener_certificates().listener_arn(&listener_arn).send().await.unwrap();
    let listed: Vec<(&str, Option<bool>)> =
        listed.certificates().iter().map(|c| (c.certificate_arn().unwrap(), c.is_default())).collect();
    assert_eq!(listed, [(cert_arn.as_str(), Some(true)), (shop_arn.as_str(), Some(false))]);
    let remove_default =
        c.remove_listener_certificates().listener_arn(&listener_arn).certificates(certificate(&cert_arn));
    assert_eq!(code(remove_default.send().await), "OperationNotPermitted");
    c.remove_listener_certificates()
        .listener_arn(&listener_arn)
        .certificates(certificate(&shop_arn))
        .send()
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the removed certificate no longer served", || {
        let roots = shop_roots.clone();
        async move { https_get((port, "www.shop.test"), &roots, &tls13, "/").await.is_err() }
    })
    .await;

    // The policies: each with its TLS versions and the ciphers served under it.
    let policies = c.describe_ssl_policies().names("ELBSecurityPolicy-TLS13-1-3-2021-06").send().await.unwrap();
    let policy = &policies.ssl_policies()[0];
    assert_eq!(policy.ssl_protocols(), ["TLSv1.3"]);
    assert!(policy.ciphers().iter().all(|c| c.name().unwrap().starts_with("TLS_")), "{:?}", policy.ciphers());
    let all = c.describe_ssl_policies().send().await.unwrap();
    assert!(all.ssl_policies().iter().any(|p| p.name() == Some("ELBSecurityPolicy-2016-08")));
    assert_eq!(code(c.describe_ssl_policies().names("ELBSecurityPolicy-Mine").send().await), "SSLPolicyNotFound");

    let after = c.describe_listeners().listener_arns(&listener_arn).send().await.unwrap();
    assert_eq!(after.listeners()[0].ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-3-2021-06"));
    assert_eq!(after.listeners()[0].certificates()[0].certificate_arn(), Some(cert_arn.as_str()), "kept");

    // IAM keeps a certificate a load balancer serves.
    let iam = crate::iam::root(&server);
    let in_use = iam.delete_server_certificate().server_certificate_name("shop-tls").send().await.unwrap_err();
    assert_eq!(in_use.code(), Some("DeleteConflict"));
    assert!(in_use.message().unwrap().contains(&format!("currently in use by {lb_arn}")), "{in_use:?}");

    // Made plain HTTP, it has neither certificate nor policy, and the certificate may go.
    let plain = c.modify_listener().listener_arn(&listener_arn).protocol(ProtocolEnum::Http).send().await.unwrap();
    assert!(plain.listeners()[0].certificates().is_empty());
    assert_eq!(plain.listeners()[0].ssl_policy(), None);
    iam.delete_server_certificate().server_certificate_name("shop-tls").send().await.unwrap();
}
