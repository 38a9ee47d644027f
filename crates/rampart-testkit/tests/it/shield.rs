//! Shield through aws-sdk-shield: the Advanced subscription, a protection of a proxy's load
//! balancer, and a flood that a rate-based rule turns away recorded as an attack, with Shield's
//! automatic mitigation put in the web ACL for the attack's length and taken out after.

use std::time::{Duration, Instant};

use aws_sdk_shield::error::ProvideErrorMetadata;
use aws_sdk_shield::types::{
    BlockAction, EmergencyContact, ProtectedResourceType, ProtectionGroupAggregation, ProtectionGroupPattern,
    ResponseAction, Tag,
};
use aws_sdk_wafv2::types::{AllowAction, DefaultAction, RuleAction, Scope};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::waf::{rule, send, visibility, waf};

fn shield(server: &TestServer) -> aws_sdk_shield::Client {
    let conf = aws_sdk_shield::Config::builder()
        .behavior_version(aws_sdk_shield::config::BehaviorVersion::latest())
        .region(aws_sdk_shield::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_shield::config::Credentials::new(
            &server.access_key_id,
            &server.secret_access_key,
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_shield::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_shield::Client::from_conf(conf)
}

fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_shield::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_turned_away_by_a_rate_rule_is_an_attack_mitigated_while_it_lasts() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
        c.shield_attack_threshold = 5;
        c.shield_attack_quiet_secs = 2;
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    let lb = shop.load_balancer_arn.clone();
    let s = shield(&server);

    // The subscription: needed for protections, once, and a year's commitment.
    let state = s.get_subscription_state().send().await.unwrap();
    assert_eq!(state.subscription_state().as_str(), "INACTIVE");
    assert_eq!(code(s.create_protection().name("shop").resource_arn(&lb).send().await), "ResourceNotFoundException");
    s.create_subscription().send().await.unwrap();
    assert_eq!(code(s.create_subscription().send().await), "ResourceAlreadyExistsException");
    let sub = s.describe_subscription().send().await.unwrap();
    let sub = sub.subscription().unwrap();
    assert_eq!(sub.time_commitment_in_seconds(), 31_536_000);
    assert!(sub.subscription_arn().unwrap().starts_with(&format!("arn:aws:shield::{ACCOUNT_ID}:subscription/")));
    assert_eq!(s.get_subscription_state().send().await.unwrap().subscription_state().as_str(), "ACTIVE");
    // DeleteSubscription is deprecated in the model, and still answered as AWS answers it.
    #[expect(deprecated, reason = "the operation is deprecated, not gone")]
    let early_end = s.delete_subscription().send().await;
    assert_eq!(code(early_end), "LockedSubscriptionException");

    // A protection of the proxy's load balancer; nothing else can be protected here.
    let id = s
        .create_protection()
        .name("shop")
        .resource_arn(&lb)
        .tags(Tag::builder().key("team").value("edge").build())
        .send()
        .await
        .unwrap()
        .protection_id()
        .unwrap()
        .to_owned();
    assert_eq!(
        code(s.create_protection().name("again").resource_arn(&lb).send().await),
        "ResourceAlreadyExistsException"
    );
    let elsewhere = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/nowhere/0123456789abcdef";
    assert_eq!(code(s.create_protection().name("x").resource_arn(elsewhere).send().await), "InvalidResourceException");
    let described = s.describe_protection().resource_arn(&lb).send().await.unwrap();
    assert_eq!(described.protection().unwrap().id(), Some(id.as_str()));
    let protection_arn = described.protection().unwrap().protection_arn().unwrap().to_owned();
    let tags = s.list_tags_for_resource().resource_arn(&protection_arn).send().await.unwrap();
    assert_eq!(tags.tags()[0].value(), Some("edge"));
    s.associate_health_check()
        .protection_id(&id)
        .health_check_arn("arn:aws:route53:::healthcheck/abcd1234-ef56-7890-abcd-ef1234567890")
        .send()
        .await
        .unwrap();

    // Automatic response needs a web ACL on the resource.
    let block = ResponseAction::builder().block(BlockAction::builder().build()).build();
    let early = s.enable_application_layer_automatic_response().resource_arn(&lb).action(block.clone()).send().await;
    assert_eq!(code(early), "InvalidOperationException");
    let w = waf(&server);
    let flood = crate::waf::per_ip_limit(10, None);
    let acl = w
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(rule(
            "flood",
            0,
            flood,
            RuleAction::builder().block(aws_sdk_wafv2::types::BlockAction::builder().build()).build(),
        ))
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();
    let acl = acl.summary().unwrap().clone();
    w.associate_web_acl().web_acl_arn(acl.arn().unwrap()).resource_arn(&lb).send().await.unwrap();
    s.enable_application_layer_automatic_response().resource_arn(&lb).action(block).send().await.unwrap();
    let rules = || {
        let (w, id) = (w.clone(), acl.id().unwrap().to_owned());
        async move {
            let got = w.get_web_acl().name("front").scope(Scope::Regional).id(id).send().await.unwrap();
            got.web_acl().unwrap().rules().iter().map(|r| r.name().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(rules().await, ["flood"]);

    // A flood: the rate rule turns most of it away, at attack scale.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let mut refused = 0;
    for i in 0..40 {
        let got = send(&client, "GET", &format!("http://{}/checkout?item={}", shop.addr, i % 3), &[], "").await;
        refused += usize::from(got.status == 403);
    }
    assert_eq!(refused, 30);
    let start = Instant::now();
    let attack = loop {
        let listed = s.list_attacks().send().await.unwrap();
        if let Some(a) = listed.attack_summaries().first() {
            break a.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no attack recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(attack.resource_arn(), Some(lb.as_str()));
    assert_eq!(attack.attack_vectors()[0].vector_type(), "REQUEST_FLOOD");
    assert!(attack.end_time().is_none(), "under way");
    let mitigation = rules().await;
    assert_eq!(mitigation.len(), 2, "Shield's mitigation rule is in the web ACL: {mitigation:?}");
    assert!(mitigation[1].starts_with("ShieldMitigationRule-"));

    // It ends once quiet, and the mitigation rule goes.
    let start = Instant::now();
    let ended = loop {
        let listed = s.list_attacks().send().await.unwrap();
        let a = listed.attack_summaries()[0].clone();
        if a.end_time().is_some() {
            break a;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the attack does not end");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(rules().await, ["flood"]);
    let detail = s.describe_attack().attack_id(ended.attack_id().unwrap()).send().await.unwrap();
    let detail = detail.attack().unwrap();
    assert_eq!(detail.attack_counters()[0].sum(), 30.0);
    let unknown = s.describe_attack().attack_id("no-such-attack").send().await.unwrap_err();
    assert!(unknown.as_service_error().unwrap().is_access_denied_exception(), "{unknown:?}");
    let sources = &detail.attack_properties()[0];
    assert_eq!(sources.attack_property_identifier().unwrap().as_str(), "SOURCE_IP_ADDRESS");
    assert_eq!(sources.top_contributors()[0].name(), Some("127.0.0.1"));
    let urls = &detail.attack_properties()[1];
    assert_eq!(urls.top_contributors()[0].name(), Some("/checkout"));
    let names: Vec<&str> = detail.mitigations().iter().filter_map(|m| m.mitigation_name()).collect();
    assert!(names.iter().any(|n| n.contains("automatic application layer mitigation")), "{names:?}");
    let stats = s.describe_attack_statistics().send().await.unwrap();
    assert_eq!(stats.data_items()[0].attack_count(), 1);

    // Protection groups: all protected resources, or a list, or a type.
    s.create_protection_group()
        .protection_group_id("everything")
        .aggregation(ProtectionGroupAggregation::Sum)
        .pattern(ProtectionGroupPattern::All)
        .send()
        .await
        .unwrap();
    let members = s.list_resources_in_protection_group().protection_group_id("everything").send().await.unwrap();
    assert_eq!(members.resource_arns(), std::slice::from_ref(&lb));
    let wrong = s
        .create_protection_group()
        .protection_group_id("wrong")
        .aggregation(ProtectionGroupAggregation::Max)
        .pattern(ProtectionGroupPattern::Arbitrary)
        .resource_type(ProtectedResourceType::ApplicationLoadBalancer)
        .send()
        .await;
    assert_eq!(code(wrong), "InvalidParameterException");

    // The Shield Response Team's access, and emergency contacts.
    assert_eq!(code(s.associate_drt_log_bucket().log_bucket("flow-logs").send().await), "NoAssociatedRoleException");
    s.associate_drt_role().role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/drt")).send().await.unwrap();
    s.associate_drt_log_bucket().log_bucket("flow-logs").send().await.unwrap();
    let access = s.describe_drt_access().send().await.unwrap();
    assert_eq!(access.log_bucket_list(), ["flow-logs"]);
    let contact =
        EmergencyContact::builder().email_address("soc@example.com").phone_number("+15555550100").build().unwrap();
    s.associate_proactive_engagement_details().emergency_contact_list(contact).send().await.unwrap();
    s.disable_proactive_engagement().send().await.unwrap();
    let sub = s.describe_subscription().send().await.unwrap();
    assert_eq!(sub.subscription().unwrap().proactive_engagement_status().map(|s| s.as_str()), Some("DISABLED"));
    let contacts = s.describe_emergency_contact_settings().send().await.unwrap();
    assert_eq!(contacts.emergency_contact_list()[0].email_address(), "soc@example.com");

    s.delete_protection().protection_id(&id).send().await.unwrap();
    assert_eq!(code(s.describe_protection().protection_id(&id).send().await), "ResourceNotFoundException");
}

/// The first attack Shield lists, waited for up to 10 s.
async fn first_attack(s: &aws_sdk_shield::Client) -> aws_sdk_shield::types::AttackSummary {
    let start = Instant::now();
    loop {
        if let Some(a) = s.list_attacks().send().await.unwrap().attack_summaries().first() {
            return a.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no attack recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_refused_over_the_caps_at_attack_scale_are_an_attack_too() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
        c.max_connections_per_source = 10;
        c.shield_attack_threshold = 5;
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    // Thirty connections from one source, held open: the cap admits ten.
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(tokio::net::TcpStream::connect(shop.addr).await.unwrap());
    }
    let s = shield(&server);
    let attack = first_attack(&s).await;
    assert_eq!(attack.resource_arn(), Some(shop.load_balancer_arn.as_str()));
    let detail = s.describe_attack().attack_id(attack.attack_id().unwrap()).send().await.unwrap();
    let detail = detail.attack().unwrap();
    let refused = detail.attack_counters().iter().find(|c| c.name() == Some("ConnectionsRefused")).unwrap();
    assert_eq!(refused.sum(), 20.0);
    let names: Vec<&str> = detail.mitigations().iter().filter_map(|m| m.mitigation_name()).collect();
    assert_eq!(names, ["Shield Standard connection limits"]);
    assert_eq!(detail.attack_properties()[0].top_contributors()[0].name(), Some("127.0.0.1"));
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn slowloris_cut_off_at_attack_scale_is_an_attack_and_idle_keep_alive_is_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
        c.header_read_timeout_secs = 1;
        c.shield_attack_threshold = 5;
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    // A client served once, then idle on its keep-alive connection past the header timeout.
    let mut idle = tokio::net::TcpStream::connect(shop.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nUser-Agent: Mozilla/5.0\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // Ten slowloris connections: a request's head begun, never finished.
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut s = tokio::net::TcpStream::connect(shop.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    let s = shield(&server);
    let attack = first_attack(&s).await;
    assert_eq!(attack.resource_arn(), Some(shop.load_balancer_arn.as_str()));
    // Past the idle client's timeout too, the attack counts the ten cut off, and only them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let detail = s.describe_attack().attack_id(attack.attack_id().unwrap()).send().await.unwrap();
    let detail = detail.attack().unwrap();
    let cut = detail.attack_counters().iter().find(|c| c.name() == Some("SlowRequestsCut")).unwrap();
    assert_eq!(cut.sum(), 10.0);
    let names: Vec<&str> = detail.mitigations().iter().filter_map(|m| m.mitigation_name()).collect();
    assert_eq!(names, ["Shield Standard request read timeouts"]);
    drop((idle, slow));
}

/// A surge of requests far over a load balancer's baseline is an attack even when nothing turns
/// them away: Shield detects it from the request rate alone. Steady traffic under the floor is
/// none.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_rate_surging_over_the_baseline_is_an_attack() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
        c.shield_surge_min_rps = 30;
        c.shield_surge_factor = 5.0;
        c.shield_attack_quiet_secs = 2;
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    let s = shield(&server);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    // A trickle while the baseline is learnt (its first ten seconds): no attack.
    for _ in 0..12 {
        assert_eq!(send(&client, "GET", &format!("http://{}/", shop.addr), &[], "").await.status, 200);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    assert!(s.list_attacks().send().await.unwrap().attack_summaries().is_empty());
    // 600 requests in about a second: 60/s over ten seconds, twice the floor and far over the
    // baseline of about one a second.
    let sends = (0..600).map(|_| {
        let client = client.clone();
        let url = format!("http://{}/", shop.addr);
        tokio::spawn(async move { send(&client, "GET", &url, &[], "").await.status })
    });
    for sent in sends {
        assert_eq!(sent.await.unwrap(), 200, "a surge is detected, not turned away");
    }
    let attack = first_attack(&s).await;
    assert_eq!(attack.resource_arn(), Some(shop.load_balancer_arn.as_str()));
    let detail = s.describe_attack().attack_id(attack.attack_id().unwrap()).send().await.unwrap();
    let counters = detail.attack().unwrap().attack_counters();
    let requests = counters.iter().find(|c| c.name() == Some("Requests")).expect("a Requests counter");
    assert!(requests.sum() >= 300.0, "{requests:?}");
    assert!(requests.max() >= 30.0, "the surge's rate: {requests:?}");
    assert!(counters.iter().all(|c| c.name() != Some("RequestsBlocked")), "nothing was blocked: {counters:?}");
}
