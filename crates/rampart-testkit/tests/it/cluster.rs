//! Several nodes on one PostgreSQL database (started by the tests themselves): every node serves
//! every request, a write on one is in force on the others within a second, background work runs
//! on one node at a time, and a node survives the database's restart.

use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use rampart_testkit::TestServer;

use crate::iam::{err, iam, iam_with, root};

const ALLOW_IAM_READS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#;
const DENY_GET_USER: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"*"}]}"#;

async fn health(server: &TestServer) -> serde_json::Value {
    let body = hyper_get(&format!("{}/_rampart/health", server.endpoint)).await;
    serde_json::from_str(&body).unwrap()
}

async fn hyper_get(url: &str) -> String {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let body = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Polls `check` until it holds, for at most `within`; panics with `what` otherwise.
async fn eventually<F: AsyncFnMut() -> bool>(within: Duration, what: &str, mut check: F) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_serve_each_others_writes() {
    let a = TestServer::start_postgres().await.unwrap();
    let b = a.join().await.unwrap();
    assert_eq!(health(&a).await["store"]["engine"], "postgres");

    // A user and key created through A sign requests to B at once.
    let admin_a = root(&a);
    admin_a.create_user().user_name("carol").send().await.unwrap();
    admin_a
        .put_user_policy()
        .user_name("carol")
        .policy_name("reads")
        .policy_document(ALLOW_IAM_READS)
        .send()
        .await
        .unwrap();
    let key = admin_a.create_access_key().user_name("carol").send().await.unwrap();
    let key = key.access_key().unwrap();
    let carol_b = iam(&b, key.access_key_id(), key.secret_access_key());
    assert_eq!(carol_b.get_user().send().await.unwrap().user().unwrap().user_name(), "carol");

    // A policy change on A applies to B's requests within a second (B had the old policy cached).
    admin_a
        .put_user_policy()
        .user_name("carol")
        .policy_name("deny")
        .policy_document(DENY_GET_USER)
        .send()
        .await
        .unwrap();
    let took = eventually(Duration::from_secs(1), "B enforces A's new deny", async || {
        err(carol_b.get_user().send().await).0 == "AccessDenied"
    })
    .await;
    eprintln!("B enforced A's policy change after {took:?}");
    // And a key deleted on A stops working on B.
    admin_a.delete_access_key().user_name("carol").access_key_id(key.access_key_id()).send().await.unwrap();
    eventually(Duration::from_secs(1), "B refuses a key deleted on A", async || {
        err(carol_b.list_users().send().await).0 == "InvalidClientTokenId"
    })
    .await;

    // A role session from A works on B.
    admin_a
        .create_role()
        .role_name("Reader")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    admin_a
        .put_role_policy()
        .role_name("Reader")
        .policy_name("reads")
        .policy_document(ALLOW_IAM_READS)
        .send()
        .await
        .unwrap();
    let (ops_id, ops_secret) = crate::iam::user_with_key(&admin_a, "ops", crate::iam::ASSUME_ANY_ROLE).await;
    let session = crate::sts_client(&a, &ops_id, &ops_secret)
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Reader")
        .role_session_name("on-a")
        .send()
        .await
        .unwrap();
    let creds = session.credentials().unwrap();
    let reader_b = iam_with(&b, creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token()));
    assert!(reader_b.list_users().send().await.unwrap().users().iter().any(|u| u.user_name() == "carol"));

    // CloudTrail on B finds A's calls.
    let trail_b = crate::cloudtrail::trail(&b, &b.access_key_id, &b.secret_access_key, None);
    eventually(Duration::from_secs(15), "B's event history has A's CreateUser", async || {
        let found = trail_b
            .lookup_events()
            .lookup_attributes(
                LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::EventName)
                    .attribute_value("CreateUser")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        found.events().iter().any(|e| e.resources().iter().any(|r| r.resource_name() == Some("carol")))
    })
    .await;

    // Background work has one node: each lease is held by exactly one of them.
    eventually(Duration::from_secs(5), "each lease has one holder", async || {
        let (ha, hb) = (health(&a).await, health(&b).await);
        let held = |h: &serde_json::Value, lease: &str| {
            h["node"]["leases"].as_array().is_some_and(|l| l.iter().any(|x| x == lease))
        };
        ["trails", "event-index"].iter().all(|l| held(&ha, l) != held(&hb, l))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_a_store_needs_its_master_key() {
    let a = TestServer::start_postgres().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = rampart_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        store: a.config.store.clone(),
        ..rampart_server::Config::default()
    };
    let refused = rampart_server::start(config.clone()).await.err().expect("a node without the key must not start");
    assert!(refused.to_string().contains("master key"), "{refused}");
    assert!(!refused.to_string().contains("postgres@"), "errors name the store without its user: {refused}");
    // A different key is refused as well, rather than sealing with it.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, data_encoding::BASE64.encode(&[7u8; 32])).unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let refused = rampart_server::start(rampart_server::Config { master_key_file: Some(wrong), ..config })
        .await
        .err()
        .expect("a node with another key must not start");
    assert!(refused.to_string().contains("not the key"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answers_503_while_the_database_is_down_and_recovers_by_itself() {
    // A database server of this test's own, to stop and start.
    let pg = rampart_pgtest::start_server(&rampart_pgtest::Options::default()).unwrap();
    pg.create_database("cluster").unwrap();
    let node = TestServer::start_on(Some(pg.url("cluster")), |_| {}).await.unwrap();
    let admin = root(&node);
    admin.create_user().user_name("before").send().await.unwrap();

    pg.kill().unwrap();
    let started = Instant::now();
    let (code, _) = err(admin.create_user().user_name("during").send().await);
    assert_eq!(code, "ServiceUnavailable", "a write without its database");
    assert!(started.elapsed() < Duration::from_secs(12), "the node answered instead of hanging");
    let status = hyper_status(&format!("{}/_rampart/health", node.endpoint)).await;
    assert_eq!(status, 503, "health says the store is unavailable");

    let pg = pg.restart(&rampart_pgtest::Options::default()).unwrap();
    eventually(Duration::from_secs(20), "the node serves again after the database restarts", async || {
        admin.create_user().user_name("after").send().await.is_ok()
    })
    .await;
    let users: Vec<String> =
        admin.list_users().send().await.unwrap().users().iter().map(|u| u.user_name().to_owned()).collect();
    assert_eq!(users, ["after", "before"], "the refused write left nothing behind");
    drop(node);
    pg.kill().unwrap();
}

async fn hyper_status(url: &str) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    client.get(url.parse().unwrap()).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_burst_loses_no_acknowledged_write_and_the_other_keeps_serving() {
    use std::io::{BufRead as _, BufReader};

    let a = TestServer::start_postgres().await.unwrap();
    let store = a.config.store.clone().unwrap().0;
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::process::Command::new(env!("CARGO_BIN_EXE_crash_server"))
        .arg(dir.path().join("data"))
        .arg(&store)
        .arg(a.config.data_dir.join("master.key"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(b.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let b_endpoint = line.trim().to_owned();
    assert!(b_endpoint.starts_with("http://"), "node B printed {line:?}");
    let admin_b = crate::iam_at(&b_endpoint, &a.access_key_id, &a.secret_access_key);

    // Writers create users through B as fast as they can; B is killed mid-burst while A serves.
    let burst = crate::UserBurst::start(&admin_b, 8);
    let admin_a = root(&a);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    b.wait().unwrap();
    let acked = burst.acknowledged().await;
    assert!(acked.len() > 20, "the burst got going before the kill: {}", acked.len());
    // A serves on, and has every user B acknowledged.
    let listed = crate::user_names(&admin_a).await;
    let missing: Vec<&String> = acked.iter().filter(|n| !listed.contains(n)).collect();
    assert!(missing.is_empty(), "acknowledged by B but gone: {missing:?}");
    admin_a.create_user().user_name("after-the-kill").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_of_a_cluster_delivers_each_event_once_from_one_node() {
    let a = TestServer::start_on(Some(rampart_testkit::new_database().unwrap()), |c| c.trail_delivery_secs = 1)
        .await
        .unwrap();
    let b = a.join().await.unwrap();
    let s3 = crate::s3::s3(&a, &a.access_key_id, &a.secret_access_key);
    crate::cloudtrail::trail_bucket(&s3, "cluster-trail").await;
    let ct = crate::cloudtrail::trail(&a, &a.access_key_id, &a.secret_access_key, None);
    ct.create_trail().name("main").s3_bucket_name("cluster-trail").send().await.unwrap();
    ct.start_logging().name("main").send().await.unwrap();
    let (admin_a, admin_b) = (root(&a), root(&b));
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("u{i}");
        let admin = if i % 2 == 0 { &admin_a } else { &admin_b };
        admin.create_user().user_name(&name).send().await.unwrap();
        names.push(name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut records = Vec::new();
    eventually(Duration::from_secs(15), "every CreateUser of both nodes is delivered", async || {
        let files = crate::cloudtrail::log_files(&s3, "cluster-trail", "AWSLogs/").await;
        records = files.into_iter().flat_map(|(_, rs)| rs).filter(|r| r["eventName"] == "CreateUser").collect();
        records.len() >= names.len()
    })
    .await;
    let mut ids: Vec<&str> = records.iter().map(|r| r["eventID"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "an event was delivered twice");
    let mut delivered: Vec<&str> =
        records.iter().map(|r| r["requestParameters"]["userName"].as_str().unwrap()).collect();
    delivered.sort_unstable();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(delivered, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_on_any_node_count_toward_one_throttle() {
    use crate::signin::{ANA_PASSWORD, user_with_password};
    let a = TestServer::start_postgres().await.unwrap();
    let b = a.join().await.unwrap();
    user_with_password(&root(&a), "ana", false).await;
    let attempt = |password: &str| serde_json::json!({"account": rampart_testkit::ACCOUNT_ID, "userName": "ana", "password": password});
    // Five guesses spread over both nodes: a sixth attempt is refused on either, right password
    // or not (each node alone saw fewer than five).
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(node.sign_in(&attempt("guess")).await.unwrap().0, 401);
    }
    for node in [&a, &b] {
        let (status, body) = node.sign_in(&attempt(ANA_PASSWORD)).await.unwrap();
        assert_eq!((status, body["error"].as_str()), (429, Some("Throttling")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_probing_both_nodes_proxies_is_found_from_their_reports_together() {
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let a = TestServer::start_on(Some(rampart_testkit::new_database().unwrap()), |c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
    })
    .await
    .unwrap();
    let b = a.join().await.unwrap();
    let gd = crate::guardduty::client(&a);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    // Fifty paths the application does not have, half through each node's proxy of one load
    // balancer: neither node alone saw enough to call it probing.
    let proxies = [&a, &b].map(|n| n.running.as_ref().unwrap().proxies[0].clone());
    assert_eq!(proxies[0].load_balancer_arn, proxies[1].load_balancer_arn);
    for i in 0..50 {
        let url = format!("http://{}/no-such/admin-{i}.php", proxies[i % 2].addr);
        assert_eq!(crate::waf::send(&http, "GET", &url, &[], "").await.status, 404);
    }
    let found = crate::guardduty::wait_until(&gd, &detector, |f| !crate::guardduty::web_findings(f).is_empty()).await;
    let probe = crate::guardduty::web_findings(&found)[0].clone();
    assert_eq!(probe.r#type(), Some("Recon:ELB/WebPathEnumeration"));
}

/// Two nodes on one PostgreSQL store, each running a proxy to one upstream behind the web ACL
/// `name`, made (on the first node) with `rule`.
struct ProxiedPair {
    /// Kept running while the pair is.
    _nodes: [TestServer; 2],
    proxies: [std::net::SocketAddr; 2],
    http: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl ProxiedPair {
    async fn start(name: &str, rule: aws_sdk_wafv2::types::Rule) -> Self {
        use aws_sdk_wafv2::types::{AllowAction, DefaultAction, Scope};
        let upstream = rampart_testkit::upstream::start().await.unwrap();
        let a = TestServer::start_on(Some(rampart_testkit::new_database().unwrap()), |c| {
            c.proxy = vec![crate::waf::proxy_to(upstream, "shop", Some(name))];
        })
        .await
        .unwrap();
        let b = a.join().await.unwrap();
        crate::waf::waf(&a)
            .create_web_acl()
            .name(name)
            .scope(Scope::Regional)
            .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
            .rules(rule)
            .visibility_config(crate::waf::visibility(name))
            .send()
            .await
            .unwrap();
        let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
        let proxies = [&a, &b].map(|n| n.running.as_ref().unwrap().proxies[0].addr);
        Self { _nodes: [a, b], proxies, http }
    }

    /// A GET of `path` through node `node`'s proxy: its status.
    async fn get(&self, node: usize, path: &str, headers: &[(&str, &str)]) -> u16 {
        let url = format!("http://{}{path}", self.proxies[node]);
        crate::waf::send(&self.http, "GET", &url, headers, "").await.status
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_rule_holds_a_client_over_its_limit_on_the_requests_every_node_saw() {
    use aws_sdk_wafv2::types::{BlockAction, RuleAction};
    let block = RuleAction::builder().block(BlockAction::builder().build()).build();
    let pair =
        ProxiedPair::start("limited", crate::waf::rule("flood", 0, crate::waf::per_ip_limit(10, None), block)).await;
    let get = |node: usize| pair.get(node, "/products", &[]);
    // Five requests through each node: ten, the limit, and no more.
    for i in 0..10 {
        assert_eq!(get(i % 2).await, 200, "request {i}");
    }
    // Once the nodes have shared their counts, the client is over the limit on either node, while
    // the node's own count (six to ten) alone is not.
    let mut refused = None;
    for attempt in 0..5 {
        if get(0).await == 403 {
            refused = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(refused.is_some(), "node A never counted node B's requests");
    assert_eq!(get(1).await, 403, "node B counts node A's too");
}

/// Bot Control's targeted level counts on the requests every node saw: a browser without a token
/// is challenged once the cluster, not one node, has seen five of its requests.
#[tokio::test]
async fn bot_controls_targeted_counts_are_the_clusters() {
    use aws_sdk_wafv2::types::{AwsManagedRulesBotControlRuleSet, InspectionLevel, ManagedRuleGroupConfig};
    let level =
        AwsManagedRulesBotControlRuleSet::builder().inspection_level(InspectionLevel::Targeted).build().unwrap();
    let config = ManagedRuleGroupConfig::builder().aws_managed_rules_bot_control_rule_set(level).build();
    let pair =
        ProxiedPair::start("bots", crate::waf::managed_group_rule("AWSManagedRulesBotControlRuleSet", 0, Some(config)))
            .await;
    let chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
    let agent = [("user-agent", chrome)];
    let get = |node: usize| pair.get(node, "/", &agent);
    // Three token-less requests through each node: each node alone is under the threshold.
    for i in 0..6 {
        assert_eq!(get(i % 2).await, 200, "request {i}");
    }
    // Once the nodes have shared their counts (each second), the next is challenged on either
    // node, while the node's own count (four) alone would not be.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(get(0).await, 202, "node A counts node B's requests");
    assert_eq!(get(1).await, 202, "node B counts node A's");
}
