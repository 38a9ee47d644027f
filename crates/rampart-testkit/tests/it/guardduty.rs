//! GuardDuty through aws-sdk-guardduty: a detector, then scripted attacks through the real APIs
//! (root credentials used, a trail stopped, the password policy weakened, a bucket opened to
//! the world, calls from an address on an uploaded threat list) each found with GuardDuty's type,
//! severity and resource, while an ordinary workload finds nothing; repeats counted on one
//! finding; suppression rules, archiving, feedback, statistics and samples.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_guardduty::error::ProvideErrorMetadata;
use aws_sdk_guardduty::types::{
    Condition, Feedback, FilterAction, FindingCriteria, GroupByType, IpSetFormat, ThreatIntelSetFormat,
};
use aws_sdk_s3::primitives::ByteStream;
use rampart_testkit::TestServer;

fn guardduty(server: &TestServer, id: &str, secret: &str) -> aws_sdk_guardduty::Client {
    guardduty_with(server, id, secret, None)
}

/// A GuardDuty client with a session's credentials.
pub(crate) fn guardduty_with(
    server: &TestServer,
    id: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_sdk_guardduty::Client {
    let conf = aws_sdk_guardduty::Config::builder()
        .behavior_version(aws_sdk_guardduty::config::BehaviorVersion::latest())
        .region(aws_sdk_guardduty::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_guardduty::config::Credentials::new(
            id,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .retry_config(aws_sdk_guardduty::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_guardduty::Client::from_conf(conf)
}

/// Root's GuardDuty client.
pub(crate) fn client(server: &TestServer) -> aws_sdk_guardduty::Client {
    guardduty(server, &server.access_key_id, &server.secret_access_key)
}

pub(crate) fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_guardduty::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

/// Every finding of the detector, by type.
pub(crate) async fn findings(gd: &aws_sdk_guardduty::Client, detector: &str) -> Vec<aws_sdk_guardduty::types::Finding> {
    let ids = gd.list_findings().detector_id(detector).max_results(50).send().await.unwrap().finding_ids().to_vec();
    if ids.is_empty() {
        return Vec::new();
    }
    gd.get_findings().detector_id(detector).set_finding_ids(Some(ids)).send().await.unwrap().findings().to_vec()
}

/// Waits until the findings meet `done` (the engine runs every quarter second and reads events a
/// second old).
pub(crate) async fn wait_until(
    gd: &aws_sdk_guardduty::Client,
    detector: &str,
    done: impl Fn(&[aws_sdk_guardduty::types::Finding]) -> bool,
) -> Vec<aws_sdk_guardduty::types::Finding> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = findings(gd, detector).await;
        if done(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "the findings never got there: {found:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes a threat intel set of a TXT object and waits for it to be read (`ACTIVE`); returns its
/// id.
pub(crate) async fn threat_list(gd: &aws_sdk_guardduty::Client, detector: &str, name: &str, location: &str) -> String {
    let set = gd
        .create_threat_intel_set()
        .detector_id(detector)
        .name(name)
        .format(ThreatIntelSetFormat::Txt)
        .location(location)
        .activate(true)
        .send()
        .await
        .unwrap()
        .threat_intel_set_id
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = gd.get_threat_intel_set().detector_id(detector).threat_intel_set_id(&set).send().await.unwrap();
        if got.status().map(|s| s.as_str()) == Some("ACTIVE") {
            return set;
        }
        assert!(Instant::now() < deadline, "the list {name} stayed {:?}", got.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn types(found: &[aws_sdk_guardduty::types::Finding]) -> BTreeSet<&str> {
    found.iter().map(|f| f.r#type().unwrap_or_default()).collect()
}

/// Waits for the findings to be exactly of `types`.
async fn wait_for(
    gd: &aws_sdk_guardduty::Client,
    detector: &str,
    want: &[&str],
) -> Vec<aws_sdk_guardduty::types::Finding> {
    let want: BTreeSet<&str> = want.iter().copied().collect();
    wait_until(gd, detector, |found| types(found) == want).await
}

/// Whether a root finding for `api` is among the findings: the engine reads events in order, so
/// once a call's finding is there every earlier call has been looked at.
fn root_call(found: &[aws_sdk_guardduty::types::Finding], api: &str) -> bool {
    found.iter().any(|f| {
        f.r#type() == Some("Policy:IAMUser/RootCredentialUsage")
            && f.service().and_then(|s| s.action()).and_then(|a| a.aws_api_call_action()).and_then(|c| c.api())
                == Some(api)
    })
}

fn of<'a>(found: &'a [aws_sdk_guardduty::types::Finding], t: &str) -> &'a aws_sdk_guardduty::types::Finding {
    found.iter().find(|f| f.r#type() == Some(t)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_through_the_apis_are_found_and_an_ordinary_workload_is_not() {
    let server = TestServer::start().await.unwrap();
    // An administrator, made by root before GuardDuty watches: the rest is done as alice.
    let root = crate::iam::root(&server);
    root.create_user().user_name("alice").send().await.unwrap();
    root.attach_user_policy()
        .user_name("alice")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let key = root.create_access_key().user_name("alice").send().await.unwrap().access_key.unwrap();
    let (id, secret) = (key.access_key_id, key.secret_access_key);
    let gd = guardduty(&server, &id, &secret);
    let iam = crate::iam::iam(&server, &id, &secret);
    let s3 = crate::s3::s3(&server, &id, &secret);

    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    assert_eq!(detector.len(), 32);
    assert_eq!(code(gd.create_detector().enable(true).send().await), "BadRequestException");
    assert_eq!(gd.list_detectors().send().await.unwrap().detector_ids(), std::slice::from_ref(&detector));
    let got = gd.get_detector().detector_id(&detector).send().await.unwrap();
    assert_eq!(got.status().unwrap().as_str(), "ENABLED");
    let feature = |name: &str| {
        got.features()
            .iter()
            .find(|f| f.name().map(|n| n.as_str()) == Some(name))
            .and_then(|f| f.status())
            .unwrap()
            .as_str()
            .to_owned()
    };
    assert_eq!(feature("CLOUD_TRAIL"), "ENABLED");
    assert_eq!(feature("S3_DATA_EVENTS"), "ENABLED");
    assert_eq!(feature("DNS_LOGS"), "DISABLED", "Rampart has no DNS data");
    assert_eq!(
        code(gd.get_detector().detector_id("0123456789abcdef0123456789abcdef").send().await),
        "BadRequestException"
    );

    // An ordinary workload: users, reads, a private bucket with Block Public Access on.
    for i in 0..20 {
        iam.create_user().user_name(format!("worker-{i}")).send().await.unwrap();
        iam.get_user().user_name(format!("worker-{i}")).send().await.unwrap();
        iam.list_users().send().await.unwrap();
    }
    s3.create_bucket().bucket("data").send().await.unwrap();
    s3.put_object()
        .bucket("data")
        .key("threats.txt")
        .body(ByteStream::from_static(b"# bad\n127.0.0.1\n"))
        .send()
        .await
        .unwrap();
    let on = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block().bucket("data").public_access_block_configuration(on).send().await.unwrap();
    iam.update_account_password_policy().minimum_password_length(14).require_symbols(true).send().await.unwrap();
    // The first attack, root's credentials used, is the only finding: the ordinary workload
    // before it (read first, as the log is) found nothing.
    root.list_users().send().await.unwrap();
    wait_for(&gd, &detector, &["Policy:IAMUser/RootCredentialUsage"]).await;

    // The other attacks.
    let ct = crate::cloudtrail::trail(&server, &id, &secret, None);
    s3.create_bucket().bucket("trail-logs").send().await.unwrap();
    s3.put_bucket_policy()
        .bucket("trail-logs")
        .policy(rampart_testkit::cloudtrail_bucket_policy("trail-logs"))
        .send()
        .await
        .unwrap();
    ct.create_trail().name("main").s3_bucket_name("trail-logs").send().await.unwrap();
    ct.start_logging().name("main").send().await.unwrap();
    ct.stop_logging().name("main").send().await.unwrap();
    iam.update_account_password_policy().minimum_password_length(8).require_symbols(true).send().await.unwrap();
    s3.delete_public_access_block().bucket("data").send().await.unwrap();
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}"#;
    s3.put_bucket_policy().bucket("data").policy(public).send().await.unwrap();

    let found = wait_for(
        &gd,
        &detector,
        &[
            "Policy:IAMUser/RootCredentialUsage",
            "Stealth:IAMUser/CloudTrailLoggingDisabled",
            "Stealth:IAMUser/PasswordPolicyChange",
            "Policy:S3/BucketBlockPublicAccessDisabled",
            "Policy:S3/BucketAnonymousAccessGranted",
            "AttackSequence:IAM/CompromisedCredentials",
        ],
    )
    .await;
    // Alice's findings of four kinds tell one story: an attack sequence, its signals the findings.
    let story = of(&found, "AttackSequence:IAM/CompromisedCredentials");
    assert_eq!(story.severity(), Some(9.0));
    let sequence = story.service().unwrap().detection().unwrap().sequence().unwrap();
    let names: BTreeSet<&str> = sequence.signals().iter().filter_map(|s| s.name()).collect();
    assert!(names.contains("Stealth:IAMUser/CloudTrailLoggingDisabled") && names.len() >= 3, "{names:?}");
    let signal_ids: BTreeSet<&str> = sequence.signals().iter().filter_map(|s| s.uid()).collect();
    let stopped_arn = of(&found, "Stealth:IAMUser/CloudTrailLoggingDisabled").arn().unwrap();
    assert!(signal_ids.contains(stopped_arn), "a signal names its finding: {signal_ids:?}");
    assert_eq!(sequence.actors()[0].id(), Some("arn:aws:iam::123456789012:user/alice"));
    // High-severity findings are GuardDuty's service events in the account's event history.
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let attr = aws_sdk_cloudtrail::types::LookupAttribute::builder()
            .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
            .attribute_value("GuardDutyFinding")
            .build()
            .unwrap();
        let got = ct.lookup_events().lookup_attributes(attr).send().await.unwrap();
        if got.events().len() >= 2 {
            break got.events().to_vec();
        }
        assert!(Instant::now() < deadline, "no GuardDutyFinding events: {:?}", got.events());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let details: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e.cloud_trail_event().unwrap()).unwrap())
        .collect();
    let kinds: BTreeSet<&str> =
        details.iter().filter_map(|d| d["serviceEventDetails"]["findingType"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["Policy:S3/BucketAnonymousAccessGranted", "AttackSequence:IAM/CompromisedCredentials"])
    );
    assert!(
        details.iter().all(|d| d["eventType"] == "AwsServiceEvent" && d["eventSource"] == "guardduty.amazonaws.com")
    );
    assert!(details.iter().any(|d| d["serviceEventDetails"]["findingArn"] == story.arn().unwrap()));
    let rootuse = of(&found, "Policy:IAMUser/RootCredentialUsage");
    assert_eq!(rootuse.severity(), Some(2.0));
    let key = rootuse.resource().unwrap().access_key_details().unwrap();
    assert_eq!(key.user_type(), Some("Root"));
    assert_eq!(key.access_key_id(), Some(server.access_key_id.as_str()));
    let call = rootuse.service().unwrap().action().unwrap().aws_api_call_action().unwrap();
    assert_eq!(call.api(), Some("ListUsers"));
    assert_eq!(call.remote_ip_details().unwrap().ip_address_v4(), Some("127.0.0.1"));
    assert_eq!(rootuse.service().unwrap().count(), Some(1));
    let stopped = of(&found, "Stealth:IAMUser/CloudTrailLoggingDisabled");
    assert_eq!(stopped.resource().unwrap().access_key_details().unwrap().user_name(), Some("alice"));
    assert!(stopped.title().unwrap().contains("main"), "{:?}", stopped.title());
    let open = of(&found, "Policy:S3/BucketAnonymousAccessGranted");
    assert_eq!(open.severity(), Some(8.0));
    assert_eq!(open.resource().unwrap().s3_bucket_details()[0].name(), Some("data"));
    assert_eq!(open.resource().unwrap().resource_type(), Some("S3Bucket"));
    assert!(
        open.arn()
            .unwrap()
            .starts_with(&format!("arn:aws:guardduty:us-east-1:123456789012:detector/{detector}/finding/"))
    );

    // Repeats are counted on the same finding (several within one engine run, one write), with
    // its last time moved.
    for _ in 0..5 {
        root.list_users().send().await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let again = findings(&gd, &detector).await;
        assert_eq!(again.len(), found.len(), "a repeat makes no new finding");
        let count = of(&again, "Policy:IAMUser/RootCredentialUsage").service().unwrap().count().unwrap();
        assert!(count <= 6, "counted {count} times");
        if count == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "the repeat was not counted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Criteria and statistics.
    let high =
        FindingCriteria::builder().criterion("severity", Condition::builder().greater_than_or_equal(7).build()).build();
    let ids: BTreeSet<String> = gd
        .list_findings()
        .detector_id(&detector)
        .finding_criteria(high)
        .send()
        .await
        .unwrap()
        .finding_ids()
        .iter()
        .cloned()
        .collect();
    assert_eq!(ids, BTreeSet::from([open.id().unwrap().to_owned(), story.id().unwrap().to_owned()]));
    let sorted = gd
        .list_findings()
        .detector_id(&detector)
        .sort_criteria(
            aws_sdk_guardduty::types::SortCriteria::builder()
                .attribute_name("severity")
                .order_by(aws_sdk_guardduty::types::OrderBy::Desc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sorted.finding_ids()[0], story.id().unwrap(), "the most severe first");
    let stats =
        gd.get_findings_statistics().detector_id(&detector).group_by(GroupByType::FindingType).send().await.unwrap();
    assert_eq!(stats.finding_statistics().unwrap().grouped_by_finding_type().len(), 6);

    // Archive, unarchive, feedback.
    gd.archive_findings().detector_id(&detector).finding_ids(open.id().unwrap()).send().await.unwrap();
    let archived =
        FindingCriteria::builder().criterion("service.archived", Condition::builder().equals("true").build()).build();
    let ids = gd
        .list_findings()
        .detector_id(&detector)
        .finding_criteria(archived.clone())
        .send()
        .await
        .unwrap()
        .finding_ids()
        .to_vec();
    assert_eq!(ids, [open.id().unwrap().to_owned()]);
    gd.unarchive_findings().detector_id(&detector).finding_ids(open.id().unwrap()).send().await.unwrap();
    let ids = gd
        .list_findings()
        .detector_id(&detector)
        .finding_criteria(archived)
        .send()
        .await
        .unwrap()
        .finding_ids()
        .to_vec();
    assert!(ids.is_empty());
    gd.update_findings_feedback()
        .detector_id(&detector)
        .finding_ids(open.id().unwrap())
        .feedback(Feedback::Useful)
        .send()
        .await
        .unwrap();
    let one = gd
        .get_findings()
        .detector_id(&detector)
        .finding_ids(open.id().unwrap())
        .send()
        .await
        .unwrap()
        .findings()
        .to_vec();
    assert_eq!(one[0].service().unwrap().user_feedback(), Some("USEFUL"));
    assert_eq!(
        code(gd.archive_findings().detector_id(&detector).finding_ids("00000000000000000000000000000000").send().await),
        "BadRequestException"
    );

    // A suppression rule archives new findings that meet it as they are made.
    let rule = FindingCriteria::builder()
        .criterion("type", Condition::builder().equals("Policy:IAMUser/RootCredentialUsage").build())
        .build();
    gd.create_filter()
        .detector_id(&detector)
        .name("quiet-root")
        .action(FilterAction::Archive)
        .finding_criteria(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(gd.list_filters().detector_id(&detector).send().await.unwrap().filter_names(), ["quiet-root"]);
    let f = gd.get_filter().detector_id(&detector).filter_name("quiet-root").send().await.unwrap();
    assert_eq!(f.action().map(|a| a.as_str()), Some("ARCHIVE"));
    root.get_user().send().await.unwrap();

    // A threat list in the bucket: calls from its address are found, a read as reconnaissance.
    threat_list(&gd, &detector, "bad-hosts", "https://s3.amazonaws.com/data/threats.txt").await;
    iam.get_user().user_name("worker-1").send().await.unwrap();
    root.list_policies().send().await.unwrap();
    let found = wait_until(&gd, &detector, |f| root_call(f, "ListPolicies")).await;
    assert_eq!(
        types(&found),
        BTreeSet::from([
            "Policy:IAMUser/RootCredentialUsage",
            "Stealth:IAMUser/CloudTrailLoggingDisabled",
            "Stealth:IAMUser/PasswordPolicyChange",
            "Policy:S3/BucketBlockPublicAccessDisabled",
            "Policy:S3/BucketAnonymousAccessGranted",
            "AttackSequence:IAM/CompromisedCredentials",
            "Recon:IAMUser/MaliciousIPCaller.Custom",
        ])
    );
    let recon = of(&found, "Recon:IAMUser/MaliciousIPCaller.Custom");
    let intel = recon.service().unwrap().evidence().unwrap().threat_intelligence_details();
    assert_eq!(intel[0].threat_list_name(), Some("bad-hosts"));
    // The root GetUser made a root finding of its own, archived by the rule as it was made.
    let roots: Vec<_> = found.iter().filter(|f| f.r#type() == Some("Policy:IAMUser/RootCredentialUsage")).collect();
    assert_eq!(roots.len(), 3, "ListUsers, GetUser, ListPolicies");
    let get_user = roots
        .iter()
        .find(|f| f.service().unwrap().action().unwrap().aws_api_call_action().unwrap().api() == Some("GetUser"))
        .unwrap();
    assert_eq!(get_user.service().unwrap().archived(), Some(true));

    // A trusted IP set with the same address: no more threat-list findings from it.
    gd.create_ip_set()
        .detector_id(&detector)
        .name("office")
        .format(IpSetFormat::Txt)
        .location("s3://data/threats.txt")
        .activate(true)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ids = gd.list_ip_sets().detector_id(&detector).send().await.unwrap().ip_set_ids().to_vec();
        let got = gd.get_ip_set().detector_id(&detector).ip_set_id(&ids[0]).send().await.unwrap();
        if got.status().map(|s| s.as_str()) == Some("ACTIVE") {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // (CreateIPSet itself came from the listed address before the set was read: a finding.)
    let writes = |found: &[aws_sdk_guardduty::types::Finding]| {
        found
            .iter()
            .filter(|f| f.r#type() == Some("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"))
            .map(|f| f.service().unwrap().count().unwrap())
            .sum::<i32>()
    };
    root.list_groups().send().await.unwrap();
    let before = writes(&wait_until(&gd, &detector, |f| root_call(f, "ListGroups")).await);
    assert!(before >= 1, "CreateIPSet from a listed address");
    iam.create_user().user_name("after-trust").send().await.unwrap();
    root.list_account_aliases().send().await.unwrap();
    let after = wait_until(&gd, &detector, |f| root_call(f, "ListAccountAliases")).await;
    assert_eq!(writes(&after), before, "a trusted address makes no threat-list finding");

    // Samples, marked as such; an unknown type is refused.
    gd.create_sample_findings()
        .detector_id(&detector)
        .finding_types("Stealth:IAMUser/CloudTrailLoggingDisabled")
        .send()
        .await
        .unwrap();
    let all = findings(&gd, &detector).await;
    assert!(all.iter().any(|f| f.title().is_some_and(|t| t.starts_with("[SAMPLE]"))));
    assert_eq!(
        code(gd.create_sample_findings().detector_id(&detector).finding_types("Made:Up/Type").send().await),
        "BadRequestException"
    );

    // A disabled detector finds nothing more; deleting it removes its findings.
    gd.update_detector().detector_id(&detector).enable(false).send().await.unwrap();
    let before = findings(&gd, &detector).await.len();
    root.list_roles().send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(findings(&gd, &detector).await.len(), before);
    gd.delete_detector().detector_id(&detector).send().await.unwrap();
    assert!(gd.list_detectors().send().await.unwrap().detector_ids().is_empty());
    assert_eq!(code(gd.list_findings().detector_id(&detector).send().await), "BadRequestException");
}

/// An administrator (alice, made by root) with her GuardDuty client and an enabled detector:
/// what root did before is not looked at.
async fn watch(server: &TestServer) -> (aws_sdk_guardduty::Client, String) {
    let root = crate::iam::root(server);
    root.create_user().user_name("alice").send().await.unwrap();
    root.attach_user_policy()
        .user_name("alice")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let key = root.create_access_key().user_name("alice").send().await.unwrap().access_key.unwrap();
    let gd = guardduty(server, &key.access_key_id, &key.secret_access_key);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    (gd, detector)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_enumerates_the_account_and_makes_itself_admin_is_anomalous() {
    let server = TestServer::start().await.unwrap();
    let root = crate::iam::root(&server);
    root.create_user().user_name("mallory").send().await.unwrap();
    root.attach_user_policy()
        .user_name("mallory")
        .policy_arn("arn:aws:iam::aws:policy/IAMFullAccess")
        .send()
        .await
        .unwrap();
    let key = root.create_access_key().user_name("mallory").send().await.unwrap().access_key.unwrap();
    let mallory = crate::iam::iam(&server, &key.access_key_id, &key.secret_access_key);
    let (gd, detector) = watch(&server).await;
    // Her routine: the same few calls, a baseline.
    for _ in 0..60 {
        mallory.get_user().send().await.unwrap();
        mallory.list_access_keys().send().await.unwrap();
    }
    // Then she lists everything she never looked at, and attaches AdministratorAccess to herself.
    mallory.list_roles().send().await.unwrap();
    mallory.list_groups().send().await.unwrap();
    mallory.list_policies().send().await.unwrap();
    mallory.list_users().send().await.unwrap();
    mallory.get_account_summary().send().await.unwrap();
    mallory.list_instance_profiles().send().await.unwrap();
    mallory.list_server_certificates().send().await.unwrap();
    mallory.list_mfa_devices().send().await.unwrap();
    mallory.list_open_id_connect_providers().send().await.unwrap();
    mallory.list_saml_providers().send().await.unwrap();
    mallory.list_account_aliases().send().await.unwrap();
    mallory
        .attach_user_policy()
        .user_name("mallory")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    // And makes herself a key for another user, to come back by.
    root.create_user().user_name("service-account").send().await.unwrap();
    mallory.create_access_key().user_name("service-account").send().await.unwrap();
    let found = wait_until(&gd, &detector, |f| {
        types(f).is_superset(&BTreeSet::from([
            "Discovery:IAMUser/AnomalousBehavior",
            "PrivilegeEscalation:IAMUser/AnomalousBehavior",
            "Persistence:IAMUser/AnomalousBehavior",
            "AttackSequence:IAM/CompromisedCredentials",
        ]))
    })
    .await;
    // Root's CreateUser (after the detector) is the only other finding.
    assert_eq!(types(&found).len(), 5, "{:?}", types(&found));
    let discovery = of(&found, "Discovery:IAMUser/AnomalousBehavior");
    let arn = "arn:aws:iam::123456789012:user/mallory";
    let anomaly = discovery.service().unwrap().detection().unwrap().anomaly().unwrap();
    let unusual = &anomaly.unusual().unwrap().behavior().unwrap()[arn]["api"];
    assert_eq!(unusual.profile_subtype().unwrap().as_str(), "UNSEEN");
    let seen = unusual.observations().unwrap().text();
    assert!(seen.contains(&"ListRoles".to_owned()) && seen.len() == 10, "{seen:?}");
    let usual = &anomaly.profiles().unwrap()[arn]["api"][0];
    assert!(usual.observations().unwrap().text().contains(&"GetUser".to_owned()));
    let agents = anomaly.profiles().unwrap()[arn]["userAgent"][0].observations().unwrap().text();
    assert!(agents[0].contains("aws-sdk-rust"), "{agents:?}");
    let networks = anomaly.profiles().unwrap()[arn]["network"][0].observations().unwrap().text();
    assert_eq!(networks, ["127.0.0.0/24"]);
    assert_eq!(discovery.resource().unwrap().access_key_details().unwrap().user_name(), Some("mallory"));
    let escalation = of(&found, "PrivilegeEscalation:IAMUser/AnomalousBehavior");
    assert_eq!(escalation.severity(), Some(5.0));
    assert!(
        escalation.description().unwrap().contains("AdministratorAccess to itself"),
        "{:?}",
        escalation.description()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_sign_in_after_a_burst_of_failed_passwords_is_found() {
    let server = TestServer::start().await.unwrap();
    crate::signin::user_with_password(&crate::iam::root(&server), "bob", false).await;
    let (gd, detector) = watch(&server).await;
    let attempt = |user: &str, password: &str| serde_json::json!({"account": rampart_testkit::ACCOUNT_ID, "userName": user, "password": password});
    // Bob signs in as usual: no finding.
    assert_eq!(server.sign_in(&attempt("bob", crate::signin::ANA_PASSWORD)).await.unwrap().0, 200);
    // Guesses from one address, across names (each name's own limit is five), then bob's
    // password is found.
    for user in ["bob", "bob", "bob", "bob", "carol", "carol"] {
        assert_ne!(server.sign_in(&attempt(user, "Guess-1234!")).await.unwrap().0, 200);
    }
    assert_eq!(server.sign_in(&attempt("bob", crate::signin::ANA_PASSWORD)).await.unwrap().0, 200);
    let found = wait_for(&gd, &detector, &["CredentialAccess:IAMUser/AnomalousBehavior"]).await;
    let f = &found[0];
    assert_eq!(found.len(), 1);
    assert_eq!(f.resource().unwrap().access_key_details().unwrap().user_name(), Some("bob"));
    assert!(f.description().unwrap().contains("after 6 failed sign-ins"), "{:?}", f.description());
    let call = f.service().unwrap().action().unwrap().aws_api_call_action().unwrap();
    assert_eq!(call.api(), Some("ConsoleLogin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_finds_past_calls_on_a_new_threat_list_and_counts_nothing_twice() {
    let server = TestServer::start().await.unwrap();
    let started = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let (gd, detector) = watch(&server).await;
    // Root's calls before the detector were not looked at.
    let before: BTreeSet<_> = findings(&gd, &detector).await.iter().map(|f| f.id().unwrap().to_owned()).collect();
    assert!(before.is_empty());
    let root = crate::iam::root(&server);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    s3.create_bucket().bucket("lists").send().await.unwrap();
    s3.put_object().bucket("lists").key("bad.txt").body(ByteStream::from_static(b"127.0.0.1\n")).send().await.unwrap();
    threat_list(&gd, &detector, "bad", "s3://lists/bad.txt").await;
    root.list_users().send().await.unwrap();
    let live = wait_until(&gd, &detector, |f| root_call(f, "ListUsers")).await;
    let live_root: Vec<_> = live.iter().filter(|f| f.r#type() == Some("Policy:IAMUser/RootCredentialUsage")).collect();
    // Live: root's S3 calls after the detector, and ListUsers; no threat-list finding for the
    // calls before the list was read.
    assert!(!live_root.is_empty());
    // Root's findings (root makes no more calls; alice's polls from the listed address go on
    // being counted live).
    let counts = |found: &[aws_sdk_guardduty::types::Finding]| -> std::collections::BTreeMap<String, i32> {
        found
            .iter()
            .filter(|f| f.r#type() == Some("Policy:IAMUser/RootCredentialUsage"))
            .map(|f| (f.id().unwrap().to_owned(), f.service().unwrap().count().unwrap()))
            .collect()
    };
    let live_counts = counts(&live);

    // The replay looks at everything since the server started, with the list as it is now.
    let to = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = rampart_server::guardduty_replay(&server.config, started, to).await.unwrap();
    assert!(done.events > 10, "{} events", done.events);
    let replayed = findings(&gd, &detector).await;
    let kinds = types(&replayed);
    assert!(kinds.contains("Recon:IAMUser/MaliciousIPCaller.Custom"), "{kinds:?}");
    assert!(
        replayed.iter().any(|f| root_call(std::slice::from_ref(f), "CreateUser")),
        "root's CreateUser before the detector, looked at by the replay"
    );
    // What the live engine counted is not counted again.
    let after = counts(&replayed);
    for (id, n) in &live_counts {
        assert_eq!(after.get(id), Some(n), "finding {id} counted twice");
    }
    // A second replay of the same events counts nothing.
    let again = rampart_server::guardduty_replay(&server.config, started, to).await.unwrap();
    assert_eq!(again.findings, 0);
    assert_eq!(again.events, done.events);
    assert_eq!(counts(&findings(&gd, &detector).await), after);
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_are_exported_to_a_bucket_under_a_kms_key_once_both_let_guardduty() {
    let server = TestServer::start_with(|c| c.guardduty_export_secs = 1).await.unwrap();
    let (gd, detector) = watch(&server).await;
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    let kms = crate::kms::kms(&server, &server.access_key_id, &server.secret_access_key, None);
    s3.create_bucket().bucket("gd-findings").send().await.unwrap();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let dest = gd
        .create_publishing_destination()
        .detector_id(&detector)
        .destination_type(aws_sdk_guardduty::types::DestinationType::S3)
        .destination_properties(
            aws_sdk_guardduty::types::DestinationProperties::builder()
                .destination_arn("arn:aws:s3:::gd-findings/exports")
                .kms_key_arn(&key)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .destination_id
        .unwrap();
    assert_eq!(
        code(
            gd.create_publishing_destination()
                .detector_id(&detector)
                .destination_type(aws_sdk_guardduty::types::DestinationType::S3)
                .destination_properties(
                    aws_sdk_guardduty::types::DestinationProperties::builder()
                        .destination_arn("arn:aws:s3:::gd-findings")
                        .kms_key_arn(&key)
                        .build()
                )
                .send()
                .await
        ),
        "BadRequestException",
        "one destination per detector"
    );
    let status = || async {
        gd.describe_publishing_destination()
            .detector_id(&detector)
            .destination_id(&dest)
            .send()
            .await
            .unwrap()
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default()
    };
    // A finding (root's call), and neither the bucket nor the key lets GuardDuty yet.
    crate::iam::root(&server).list_users().send().await.unwrap();
    wait_until(&gd, &detector, |f| root_call(f, "ListUsers")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while status().await != "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The policies GuardDuty's guide gives, and the waiting findings go out.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"guardduty.amazonaws.com"},"Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::gd-findings"},
        {"Effect":"Allow","Principal":{"Service":"guardduty.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::gd-findings/exports/*"}]}"#;
    s3.put_bucket_policy().bucket("gd-findings").policy(policy).send().await.unwrap();
    let key_policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Principal":{"Service":"guardduty.amazonaws.com"},"Action":"kms:GenerateDataKey","Resource":"*"}]}"#;
    kms.put_key_policy().key_id(&key).policy(key_policy).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let objects = loop {
        let listed = s3
            .list_objects_v2()
            .bucket("gd-findings")
            .prefix("exports/AWSLogs/123456789012/GuardDuty/us-east-1/")
            .send()
            .await
            .unwrap();
        if !listed.contents().is_empty() {
            break listed.contents().to_vec();
        }
        assert!(Instant::now() < deadline, "nothing exported; destination {}", status().await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status().await, "PUBLISHING");
    let name = objects[0].key().unwrap();
    assert!(name.ends_with(".jsonl.gz"), "{name}");
    let got = s3.get_object().bucket("gd-findings").key(name).send().await.unwrap();
    assert_eq!(got.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert_eq!(got.ssekms_key_id(), Some(key.as_str()));
    let gz = got.body.collect().await.unwrap().into_bytes();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.iter().any(|f| f["type"] == "Policy:IAMUser/RootCredentialUsage"
            && f["service"]["action"]["awsApiCallAction"]["api"] == "ListUsers"),
        "{text}"
    );
    assert!(lines.iter().all(|f| f["accountId"] == "123456789012" && f["schemaVersion"] == "2.0"));
    // GuardDuty's data key for the file is its own KMS call in the account's event history.
    let ct = crate::cloudtrail::trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attr = aws_sdk_cloudtrail::types::LookupAttribute::builder()
            .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
            .attribute_value("GenerateDataKey")
            .build()
            .unwrap();
        let got = ct.lookup_events().lookup_attributes(attr).send().await.unwrap();
        let by_guardduty = got.events().iter().any(|e| {
            let ev: serde_json::Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
            ev["userIdentity"]["invokedBy"] == "guardduty.amazonaws.com" && ev["requestParameters"]["keyId"] == key
        });
        if by_guardduty {
            break;
        }
        assert!(Instant::now() < deadline, "no GenerateDataKey by GuardDuty: {:?}", got.events());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = gd.list_publishing_destinations().detector_id(&detector).send().await.unwrap();
    assert_eq!(listed.destinations().len(), 1);
    gd.delete_publishing_destination().detector_id(&detector).destination_id(&dest).send().await.unwrap();
    assert!(gd.list_publishing_destinations().detector_id(&detector).send().await.unwrap().destinations().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_from_a_tor_exit_node_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("tor-exit-nodes.txt");
    std::fs::write(
        &list,
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nExitAddress 127.0.0.1 2026-12-04 10:05:00\n",
    )
    .unwrap();
    let server = TestServer::start_with(|c| c.guardduty_tor_exit_list = Some(list.clone())).await.unwrap();
    let (gd, detector) = watch(&server).await;
    let found = wait_until(&gd, &detector, |f| types(f).contains("Recon:IAMUser/TorIPCaller")).await;
    let tor = of(&found, "Recon:IAMUser/TorIPCaller");
    assert_eq!(tor.severity(), Some(5.0));
    let intel = tor.service().unwrap().evidence().unwrap().threat_intelligence_details();
    assert_eq!(intel[0].threat_list_name(), Some("tor-exit-nodes.txt"));
    // Alice's own GuardDuty calls came from the exit node: she is the one named.
    assert_eq!(tor.resource().unwrap().access_key_details().unwrap().user_name(), Some("alice"));
    // A change from the exit node is unauthorized access, not reconnaissance.
    crate::iam::root(&server).create_group().group_name("tor-writes").send().await.unwrap();
    let api = |f: &aws_sdk_guardduty::types::Finding| {
        f.service()
            .and_then(|s| s.action())
            .and_then(|a| a.aws_api_call_action())
            .and_then(|c| c.api())
            .map(str::to_owned)
    };
    let root_write = |f: &aws_sdk_guardduty::types::Finding| {
        f.r#type() == Some("UnauthorizedAccess:IAMUser/TorIPCaller") && api(f).as_deref() == Some("CreateGroup")
    };
    let found = wait_until(&gd, &detector, |f| f.iter().any(root_write)).await;
    // Alice's own changes (her CreateDetector) were one already: a finding per principal.
    assert!(found.iter().any(|f| f.r#type() == Some("UnauthorizedAccess:IAMUser/TorIPCaller") && !root_write(f)));
    // Usage costs nothing here: every sum asked for is 0 USD.
    let usage = gd
        .get_usage_statistics()
        .detector_id(&detector)
        .usage_statistic_type(aws_sdk_guardduty::types::UsageStatisticType::SumByFeatures)
        .usage_criteria(
            aws_sdk_guardduty::types::UsageCriteria::builder()
                .features(aws_sdk_guardduty::types::UsageFeature::CloudTrail)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let by_feature = usage.usage_statistics().unwrap().sum_by_feature();
    assert_eq!(by_feature.len(), 1);
    assert_eq!(by_feature[0].total().unwrap().amount(), Some("0"));
    assert_eq!(by_feature[0].total().unwrap().unit(), Some("USD"));
    // The free trial is counted as AWS counts it (30 days from the detector), for the features
    // it analyses; an account that is neither the caller nor its member is unprocessed.
    let account = crate::iam::root(&server).get_user().send().await.unwrap();
    let account = account.user().unwrap().arn().split(':').nth(4).unwrap().to_owned();
    let trial = gd
        .get_remaining_free_trial_days()
        .detector_id(&detector)
        .account_ids(&account)
        .account_ids("111122223333")
        .send()
        .await
        .unwrap();
    let mine = &trial.accounts()[0];
    assert_eq!(mine.account_id(), Some(account.as_str()));
    let features: Vec<(&str, Option<i32>)> =
        mine.features().iter().filter_map(|f| Some((f.name()?.as_str(), f.free_trial_days_remaining()))).collect();
    assert_eq!(features, [("CLOUD_TRAIL", Some(30)), ("S3_DATA_EVENTS", Some(30))]);
    assert_eq!(trial.unprocessed_accounts()[0].account_id(), Some("111122223333"));
    // Runtime Monitoring's coverage: Rampart runs no clusters or instances, so nothing is covered.
    let coverage = gd.list_coverage().detector_id(&detector).send().await.unwrap();
    assert!(coverage.resources().is_empty());
    let stats = gd
        .get_coverage_statistics()
        .detector_id(&detector)
        .statistics_type(aws_sdk_guardduty::types::CoverageStatisticsType::CountByResourceType)
        .send()
        .await
        .unwrap();
    let stats = stats.coverage_statistics().unwrap();
    assert_eq!(stats.count_by_resource_type().map(|m| m.len()), Some(0));
    assert!(stats.count_by_coverage_status().is_none(), "only the counts asked for");
}

/// A day's ordinary work of one person: their bucket's objects, their team's users, a KMS key,
/// the trail history; the same calls over and over, well past a baseline of 100. Returns how
/// many calls were made.
async fn workday(server: &TestServer, name: &str, id: &str, secret: &str) -> usize {
    let (iam, s3) = (crate::iam::iam(server, id, secret), crate::s3::s3(server, id, secret));
    let kms = crate::kms::kms(server, id, secret, None);
    let ct = crate::cloudtrail::trail(server, id, secret, None);
    let bucket = format!("{name}-data");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let mut calls = 2;
    for i in 0..40 {
        let user = format!("{name}-temp-{i}");
        iam.create_user().user_name(&user).send().await.unwrap();
        iam.get_user().user_name(&user).send().await.unwrap();
        iam.list_users().send().await.unwrap();
        iam.delete_user().user_name(&user).send().await.unwrap();
        let object = format!("reports/{i}.csv");
        s3.put_object().bucket(&bucket).key(&object).body(ByteStream::from_static(b"a,b\n1,2\n")).send().await.unwrap();
        s3.get_object().bucket(&bucket).key(&object).send().await.unwrap();
        s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        let sealed = kms
            .encrypt()
            .key_id(&key)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"secret".to_vec()))
            .send()
            .await
            .unwrap();
        kms.decrypt().ciphertext_blob(sealed.ciphertext_blob.unwrap()).send().await.unwrap();
        ct.lookup_events().max_results(5).send().await.unwrap();
        calls += 10;
    }
    calls
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_ordinary_calls_by_several_principals_find_nothing() {
    let server = TestServer::start().await.unwrap();
    let root = crate::iam::root(&server);
    let mut people = Vec::new();
    for name in ["ana", "ben", "cho"] {
        root.create_user().user_name(name).send().await.unwrap();
        root.attach_user_policy()
            .user_name(name)
            .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
            .send()
            .await
            .unwrap();
        let key = root.create_access_key().user_name(name).send().await.unwrap().access_key.unwrap();
        people.push((name, key.access_key_id, key.secret_access_key));
    }
    let (gd, detector) = watch(&server).await;
    let [a, b, c] = &people[..] else { panic!() };
    let (x, y, z) = tokio::join!(
        workday(&server, a.0, &a.1, &a.2),
        workday(&server, b.0, &b.1, &b.2),
        workday(&server, c.0, &c.1, &c.2)
    );
    assert!(x + y + z >= 1200, "{} calls", x + y + z);
    // Root's call comes last: once its finding is there, every earlier call has been looked at.
    root.list_roles().send().await.unwrap();
    let found = wait_until(&gd, &detector, |f| root_call(f, "ListRoles")).await;
    assert_eq!(types(&found), BTreeSet::from(["Policy:IAMUser/RootCredentialUsage"]), "{found:#?}");
    assert_eq!(found.len(), 1);
}

/// The findings of the WAF proxies' traffic (`…:ELB/…`).
pub(crate) fn web_findings(found: &[aws_sdk_guardduty::types::Finding]) -> Vec<&aws_sdk_guardduty::types::Finding> {
    found.iter().filter(|f| f.r#type().is_some_and(|t| t.contains(":ELB/"))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_probing_attacking_or_flooding_a_protected_load_balancer_is_found() {
    use aws_sdk_wafv2::types::{
        AllQueryArguments, AllowAction, BlockAction, DefaultAction, FieldToMatch, RuleAction, Scope,
        SqliMatchStatement, Statement, TextTransformation, TextTransformationType,
    };
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start_with(|c| {
        c.proxy = vec![crate::waf::proxy_to(upstream, "shop", None)];
        c.shield_attack_threshold = 5;
    })
    .await
    .unwrap();
    let shop = server.running.as_ref().unwrap().proxies[0].clone();
    let lb = shop.load_balancer_arn.clone();
    let gd = client(&server);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    // A web ACL that blocks SQL injection in the query and floods of /flood.
    let w = crate::waf::waf(&server);
    let block = || RuleAction::builder().block(BlockAction::builder().build()).build();
    let sqli = Statement::builder()
        .sqli_match_statement(
            SqliMatchStatement::builder()
                .field_to_match(
                    FieldToMatch::builder().all_query_arguments(AllQueryArguments::builder().build()).build(),
                )
                .text_transformations(
                    TextTransformation::builder()
                        .priority(0)
                        .r#type(TextTransformationType::UrlDecode)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build();
    let flood = crate::waf::per_ip_limit(10, Some(crate::waf::uri_contains("/flood")));
    let acl = w
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .rules(crate::waf::rule("sqli", 0, sqli, block()))
        .rules(crate::waf::rule("flood", 1, flood, block()))
        .visibility_config(crate::waf::visibility("front"))
        .send()
        .await
        .unwrap();
    w.associate_web_acl().web_acl_arn(acl.summary().unwrap().arn().unwrap()).resource_arn(&lb).send().await.unwrap();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let get = |path: String| {
        let http = http.clone();
        let url = format!("http://{}{path}", shop.addr);
        async move { crate::waf::send(&http, "GET", &url, &[], "").await.status }
    };

    // Ordinary browsing, a few missing pages and one odd query find nothing.
    for i in 0..40 {
        assert_eq!(get(format!("/products/{i}?page={}", i % 4)).await, 200);
    }
    for i in 0..5 {
        assert_eq!(get(format!("/no-such/page-{i}")).await, 404);
    }
    assert_eq!(get("/search?q=1%27%20OR%20%271%27%3D%271".to_owned()).await, 403);
    // Root's calls are findings of their own; the proxies' are looked at within a second or two.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(web_findings(&findings(&gd, &detector).await).is_empty());

    // Probing: fifty paths the application does not have.
    for i in 0..50 {
        assert_eq!(get(format!("/no-such/admin-{i}.php")).await, 404);
    }
    let found = wait_until(&gd, &detector, |f| !web_findings(f).is_empty()).await;
    let probe = web_findings(&found)[0].clone();
    assert_eq!(probe.r#type(), Some("Recon:ELB/WebPathEnumeration"));
    assert_eq!(probe.severity(), Some(5.0));
    assert_eq!(probe.resource().unwrap().resource_type(), Some("LoadBalancer"));
    let action = probe.service().unwrap().action().unwrap();
    assert_eq!(action.action_type(), Some("NETWORK_CONNECTION"));
    let connection = action.network_connection_action().unwrap();
    assert_eq!(connection.connection_direction(), Some("INBOUND"));
    assert_eq!(connection.remote_ip_details().unwrap().ip_address_v4(), Some("127.0.0.1"));
    let info = probe.service().unwrap().additional_info().unwrap().value().unwrap();
    assert!(info.contains(lb.as_str()) && info.contains("/no-such/"), "{info}");

    // Attacks the web ACL keeps blocking.
    for i in 0..20 {
        assert_eq!(get(format!("/search?q={i}%27%20OR%20%271%27%3D%271")).await, 403);
    }
    let found = wait_until(&gd, &detector, |f| web_findings(f).len() == 2).await;
    let blocked = web_findings(&found).into_iter().find(|f| f.r#type() == Some("InitialAccess:ELB/BlockedWebAttacks"));
    let blocked = blocked.unwrap();
    assert_eq!(blocked.service().unwrap().count(), Some(21), "the first block counts too");
    assert!(blocked.service().unwrap().additional_info().unwrap().value().unwrap().contains("sqli"));

    // A flood the rate rule turns away is Shield's attack, and GuardDuty's high-severity finding.
    for i in 0..40 {
        get(format!("/flood?i={i}")).await;
    }
    let found = wait_until(&gd, &detector, |f| web_findings(f).len() == 3).await;
    let dos = web_findings(&found).into_iter().find(|f| f.r#type() == Some("Impact:ELB/DenialOfService")).unwrap();
    assert_eq!(dos.severity(), Some(8.0));
    assert!(dos.title().unwrap().contains("shop"), "{:?}", dos.title());
}

/// Waits for an entity set to leave `ACTIVATING`; returns its status.
async fn entity_set_status(
    gd: &aws_sdk_guardduty::Client,
    detector: &str,
    threat: Option<&str>,
    trusted: Option<&str>,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = match (threat, trusted) {
            (Some(id), _) => {
                let got = gd.get_threat_entity_set().detector_id(detector).threat_entity_set_id(id).send().await;
                got.unwrap().status().map(|s| s.as_str().to_owned()).unwrap_or_default()
            }
            (_, Some(id)) => {
                let got = gd.get_trusted_entity_set().detector_id(detector).trusted_entity_set_id(id).send().await;
                got.unwrap().status().map(|s| s.as_str().to_owned()).unwrap_or_default()
            }
            _ => unreachable!(),
        };
        if status != "ACTIVATING" {
            return status;
        }
        assert!(Instant::now() < deadline, "the set stayed ACTIVATING");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn threat_and_trusted_entity_sets_weigh_calls_by_their_addresses() {
    use aws_sdk_guardduty::types::{ThreatEntitySetFormat, TrustedEntitySetFormat};
    let server = TestServer::start().await.unwrap();
    let gd = client(&server);
    let root = crate::iam::root(&server);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    s3.create_bucket().bucket("entities").send().await.unwrap();
    // An entity list holds domains and addresses; Rampart, without DNS data, weighs the addresses.
    s3.put_object()
        .bucket("entities")
        .key("bad.txt")
        .body(ByteStream::from_static(b"# known bad\nevil.example.com\n127.0.0.1\n"))
        .send()
        .await
        .unwrap();
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let threat = gd
        .create_threat_entity_set()
        .detector_id(&detector)
        .name("bad-entities")
        .format(ThreatEntitySetFormat::Txt)
        .location("s3://entities/bad.txt")
        .activate(true)
        .send()
        .await
        .unwrap()
        .threat_entity_set_id
        .unwrap();
    assert_eq!(entity_set_status(&gd, &detector, Some(&threat), None).await, "ACTIVE");
    let got = gd.get_threat_entity_set().detector_id(&detector).threat_entity_set_id(&threat).send().await.unwrap();
    assert_eq!(got.name(), Some("bad-entities"));
    assert!(got.created_at().is_some() && got.updated_at().is_some());
    assert_eq!(
        gd.list_threat_entity_sets().detector_id(&detector).send().await.unwrap().threat_entity_set_ids(),
        std::slice::from_ref(&threat)
    );
    root.list_users().send().await.unwrap();
    let found = wait_until(&gd, &detector, |f| root_call(f, "ListUsers")).await;
    let recon = of(&found, "Recon:IAMUser/MaliciousIPCaller.Custom");
    let intel = recon.service().unwrap().evidence().unwrap().threat_intelligence_details();
    assert_eq!(intel[0].threat_list_name(), Some("bad-entities"));

    // One trusted entity set at a time; an object that is not there is an error, with details.
    let trusted = gd
        .create_trusted_entity_set()
        .detector_id(&detector)
        .name("office")
        .format(TrustedEntitySetFormat::Txt)
        .location("s3://entities/missing.txt")
        .activate(true)
        .send()
        .await
        .unwrap()
        .trusted_entity_set_id
        .unwrap();
    assert_eq!(entity_set_status(&gd, &detector, None, Some(&trusted)).await, "ERROR");
    let got = gd.get_trusted_entity_set().detector_id(&detector).trusted_entity_set_id(&trusted).send().await;
    assert!(got.unwrap().error_details().unwrap().contains("missing.txt"));
    let second = gd
        .create_trusted_entity_set()
        .detector_id(&detector)
        .name("second")
        .format(TrustedEntitySetFormat::Txt)
        .location("s3://entities/bad.txt")
        .activate(true)
        .send()
        .await;
    assert_eq!(code(second), "BadRequestException");
    // Pointed at the list, the trusted set stops the threat findings from its addresses.
    gd.update_trusted_entity_set()
        .detector_id(&detector)
        .trusted_entity_set_id(&trusted)
        .location("s3://entities/bad.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(entity_set_status(&gd, &detector, None, Some(&trusted)).await, "ACTIVE");
    let threats = |found: &[aws_sdk_guardduty::types::Finding]| {
        found
            .iter()
            .filter(|f| f.r#type().is_some_and(|t| t.contains("MaliciousIPCaller")))
            .map(|f| f.service().unwrap().count().unwrap())
            .sum::<i32>()
    };
    root.list_groups().send().await.unwrap();
    let before = threats(&wait_until(&gd, &detector, |f| root_call(f, "ListGroups")).await);
    root.list_roles().send().await.unwrap();
    root.list_account_aliases().send().await.unwrap();
    let after = wait_until(&gd, &detector, |f| root_call(f, "ListAccountAliases")).await;
    assert_eq!(threats(&after), before, "a trusted address makes no threat-list finding");

    gd.delete_threat_entity_set().detector_id(&detector).threat_entity_set_id(&threat).send().await.unwrap();
    assert!(
        gd.list_threat_entity_sets().detector_id(&detector).send().await.unwrap().threat_entity_set_ids().is_empty()
    );
    assert_eq!(entity_set_status(&gd, &detector, Some(&threat), None).await, "DELETED");
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_off_a_buckets_server_access_logging_is_found() {
    use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};
    let server = TestServer::start().await.unwrap();
    let gd = client(&server);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    for b in ["site", "site-logs"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let on = BucketLoggingStatus::builder()
        .logging_enabled(LoggingEnabled::builder().target_bucket("site-logs").target_prefix("site/").build().unwrap())
        .build();
    s3.put_bucket_logging().bucket("site").bucket_logging_status(on).send().await.unwrap();
    s3.put_bucket_logging()
        .bucket("site")
        .bucket_logging_status(BucketLoggingStatus::builder().build())
        .send()
        .await
        .unwrap();
    let found = wait_until(&gd, &detector, |f| types(f).contains("Stealth:S3/ServerAccessLoggingDisabled")).await;
    // Turning it on was no finding; turning it off is one, about the bucket.
    let off: Vec<_> = found.iter().filter(|f| f.r#type() == Some("Stealth:S3/ServerAccessLoggingDisabled")).collect();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0].service().unwrap().count(), Some(1));
    assert_eq!(off[0].severity(), Some(2.0));
    let bucket = &off[0].resource().unwrap().s3_bucket_details()[0];
    assert_eq!(bucket.name(), Some("site"));
}

/// Another loopback network than the SDK clients' 127.0.0.1: a caller somewhere else.
const ELSEWHERE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, 5));

#[tokio::test(flavor = "multi_thread")]
async fn account_block_public_access_acls_rare_apis_and_moved_credentials_are_each_found() {
    let server = TestServer::start().await.unwrap();
    let root = crate::iam::root(&server);
    crate::signin::user_with_password(&root, "bob", false).await;
    // Erin, an administrator with a routine.
    root.create_user().user_name("erin").send().await.unwrap();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    root.attach_user_policy().user_name("erin").policy_arn(admin).send().await.unwrap();
    let key = root.create_access_key().user_name("erin").send().await.unwrap().access_key.unwrap();
    let (erin_id, erin_secret) = (key.access_key_id, key.secret_access_key);
    let erin = crate::iam::iam(&server, &erin_id, &erin_secret);
    // A role anyone in the account may assume, and a trail for Erin to change later.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        rampart_testkit::ACCOUNT_ID
    );
    root.create_role().role_name("ops").assume_role_policy_document(trust).send().await.unwrap();
    root.attach_role_policy().role_name("ops").policy_arn(admin).send().await.unwrap();
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    s3.create_bucket().bucket("trail-logs").send().await.unwrap();
    let policy = rampart_testkit::cloudtrail_bucket_policy("trail-logs");
    s3.put_bucket_policy().bucket("trail-logs").policy(policy).send().await.unwrap();
    let root_ct = crate::cloudtrail::trail(&server, &server.access_key_id, &server.secret_access_key, None);
    root_ct.create_trail().name("main").s3_bucket_name("trail-logs").send().await.unwrap();
    let (gd, detector) = watch(&server).await;
    for _ in 0..110 {
        erin.get_user().send().await.unwrap();
    }
    let attempt = serde_json::json!({"account": rampart_testkit::ACCOUNT_ID, "userName": "bob", "password": crate::signin::ANA_PASSWORD});
    assert_eq!(server.sign_in(&attempt).await.unwrap().0, 200, "bob's usual place");

    // The account's Block Public Access turned off (S3 Control, through boto3).
    let script = format!(
        "{}
c.put_public_access_block(AccountId='{}', PublicAccessBlockConfiguration={{'BlockPublicAcls': False, 'IgnorePublicAcls': False, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}})
print(json.dumps({{'ok': True}}))",
        crate::s3_protection::S3CONTROL,
        rampart_testkit::ACCOUNT_ID
    );
    assert_eq!(crate::s3::boto3(&server, &script).await["ok"], true);
    // A bucket readable by any AWS account (the canned ACL that grants AuthenticatedUsers).
    s3.create_bucket().bucket("shared").send().await.unwrap();
    s3.put_bucket_ownership_controls()
        .bucket("shared")
        .ownership_controls(
            aws_sdk_s3::types::OwnershipControls::builder()
                .rules(
                    aws_sdk_s3::types::OwnershipControlsRule::builder()
                        .object_ownership(aws_sdk_s3::types::ObjectOwnership::ObjectWriter)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.delete_public_access_block().bucket("shared").send().await.unwrap();
    s3.put_bucket_acl()
        .bucket("shared")
        .acl(aws_sdk_s3::types::BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap();
    // Erin, past her baseline, changes what the trail records and disables a key: first calls of
    // APIs that evade defences and destroy.
    let ct = crate::cloudtrail::trail(&server, &erin_id, &erin_secret, None);
    ct.put_event_selectors()
        .trail_name("main")
        .event_selectors(aws_sdk_cloudtrail::types::EventSelector::builder().include_management_events(false).build())
        .send()
        .await
        .unwrap();
    let kms = crate::kms::kms(&server, &erin_id, &erin_secret, None);
    let key_id = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    // Bob signs in from a network he never signed in from.
    assert_eq!(server.sign_in_from(Some(ELSEWHERE), &attempt).await.unwrap().0, 200);
    // A role session's credentials, issued here, used from elsewhere.
    let session = crate::sts_client(&server, &erin_id, &erin_secret)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{}:role/ops", rampart_testkit::ACCOUNT_ID))
        .role_session_name("deploy")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let req = http::Request::post(&server.endpoint)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(b"Action=ListUsers&Version=2010-05-08".to_vec())
        .unwrap();
    let signed = rampart_testkit::sign_request_as(
        req,
        (c.access_key_id(), c.secret_access_key(), Some(c.session_token())),
        "iam",
        std::time::SystemTime::now(),
        aws_sigv4::http_request::SignatureLocation::Headers,
    )
    .unwrap();
    let used = rampart_testkit::send_from(Some(ELSEWHERE), signed).await.unwrap();
    assert_eq!(used.status, 200, "{}", used.body);

    let want = [
        "Policy:S3/AccountBlockPublicAccessDisabled",
        "Policy:S3/BucketPublicAccessGranted",
        "DefenseEvasion:IAMUser/AnomalousBehavior",
        "Impact:IAMUser/AnomalousBehavior",
        "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    ];
    let found = wait_until(&gd, &detector, |f| want.iter().all(|t| types(f).contains(t))).await;
    let bucket = of(&found, "Policy:S3/BucketPublicAccessGranted");
    assert_eq!(bucket.severity(), Some(8.0));
    assert_eq!(bucket.resource().unwrap().s3_bucket_details()[0].name(), Some("shared"));
    let evasion = of(&found, "DefenseEvasion:IAMUser/AnomalousBehavior");
    assert_eq!(evasion.resource().unwrap().access_key_details().unwrap().user_name(), Some("erin"));
    let impact = of(&found, "Impact:IAMUser/AnomalousBehavior");
    assert_eq!(impact.severity(), Some(8.0));
    let call = impact.service().unwrap().action().unwrap().aws_api_call_action().unwrap();
    assert_eq!(call.api(), Some("DisableKey"));
    let place = of(&found, "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B");
    assert_eq!(place.resource().unwrap().access_key_details().unwrap().user_name(), Some("bob"));
    let moved = of(&found, "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS");
    assert_eq!(moved.severity(), Some(8.0));
    let call = moved.service().unwrap().action().unwrap().aws_api_call_action().unwrap();
    assert_eq!(call.remote_ip_details().unwrap().ip_address_v4(), Some("127.0.1.5"));
    // Erin's routine and bob's usual sign-in made nothing of those kinds.
    let console: Vec<_> =
        found.iter().filter(|f| f.r#type() == Some("UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B")).collect();
    assert_eq!(console.len(), 1);
    assert_eq!(console[0].service().unwrap().count(), Some(1));
    // The AssumeRole event names the key it issued, and hides the secret and the token.
    let attr = aws_sdk_cloudtrail::types::LookupAttribute::builder()
        .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
        .attribute_value("AssumeRole")
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = loop {
        let got = root_ct.lookup_events().lookup_attributes(attr.clone()).send().await.unwrap();
        if !got.events().is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "no AssumeRole event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let event: serde_json::Value = serde_json::from_str(events.events()[0].cloud_trail_event().unwrap()).unwrap();
    let issued = &event["responseElements"]["credentials"];
    assert_eq!(issued["accessKeyId"], c.access_key_id());
    assert_eq!(issued["sessionToken"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert_eq!(issued["secretAccessKey"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert!(!event.to_string().contains(c.session_token()) && !event.to_string().contains(c.secret_access_key()));
}

/// The EICAR anti-malware test file.
const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

#[tokio::test(flavor = "multi_thread")]
async fn a_malware_protection_plan_scans_and_tags_uploads_and_a_threat_is_a_finding() {
    use aws_sdk_guardduty::types::{
        CreateProtectedResource, CreateS3BucketResource, MalwareProtectionPlanActions,
        MalwareProtectionPlanTaggingAction, MalwareProtectionPlanTaggingActionStatus, S3ObjectForSendObjectMalwareScan,
        UpdateProtectedResource, UpdateS3BucketResource,
    };
    // A file the operator lists as malicious, by its SHA-256.
    let hashes = tempfile::NamedTempFile::new().unwrap();
    let listed_body = "a file the operator counts as malware";
    let listed_hash = {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, listed_body.as_bytes());
        d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    std::fs::write(hashes.path(), format!("# operator's list\n{listed_hash}  listed.bin\n")).unwrap();
    let path = hashes.path().to_owned();
    let server = TestServer::start_with(move |c| c.guardduty_malware_hashes_file = Some(path.clone())).await.unwrap();
    let gd = client(&server);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    for b in ["uploads", "other"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let tagging = |status: MalwareProtectionPlanTaggingActionStatus| {
        MalwareProtectionPlanActions::builder()
            .tagging(MalwareProtectionPlanTaggingAction::builder().status(status).build())
            .build()
    };
    // The plan's role, as GuardDuty's guide has it: it trusts Malware Protection for S3 and may
    // list the bucket (GuardDuty's check of the bucket's ownership) and read and tag its objects.
    let root = crate::iam::root(&server);
    let trust = |service: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    };
    let plan_service = "malware-protection-plan.guardduty.amazonaws.com";
    let permissions = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::uploads","arn:aws:s3:::other"]},
        {"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion","s3:PutObjectTagging"],"Resource":"arn:aws:s3:::uploads/*"}]}"#;
    for (name, trusted) in
        [("GuardDutyMalwareProtection", plan_service), ("ForEc2", "ec2.amazonaws.com"), ("NoList", plan_service)]
    {
        root.create_role().role_name(name).assume_role_policy_document(trust(trusted)).send().await.unwrap();
        if name != "NoList" {
            root.put_role_policy()
                .role_name(name)
                .policy_name("scan")
                .policy_document(permissions)
                .send()
                .await
                .unwrap();
        }
    }
    let role_arn = |name: &str| format!("arn:aws:iam::{}:role/{name}", rampart_testkit::ACCOUNT_ID);
    let role = role_arn("GuardDutyMalwareProtection");
    let plan_with = |role: &str, bucket: &str| {
        gd.create_malware_protection_plan().role(role).protected_resource(
            CreateProtectedResource::builder()
                .s3_bucket(CreateS3BucketResource::builder().bucket_name(bucket).build())
                .build(),
        )
    };
    // A role that does not trust GuardDuty, cannot list the bucket, or does not exist is refused
    // with GuardDuty's words.
    for name in ["ForEc2", "NoList", "Missing"] {
        let refused = plan_with(&role_arn(name), "other").send().await.unwrap_err();
        assert_eq!(refused.code(), Some("BadRequestException"), "{name}");
        assert_eq!(
            refused.message(),
            Some(
                "The request was rejected because provided IAM role does not have the required permissions to validate S3 bucket ownership."
            ),
            "{name}"
        );
    }
    let protect = |bucket: &str, prefixes: &[&str]| {
        gd.create_malware_protection_plan()
            .role(&role)
            .protected_resource(
                CreateProtectedResource::builder()
                    .s3_bucket(
                        CreateS3BucketResource::builder()
                            .bucket_name(bucket)
                            .set_object_prefixes(Some(prefixes.iter().map(|p| (*p).to_owned()).collect()))
                            .build(),
                    )
                    .build(),
            )
            .actions(tagging(MalwareProtectionPlanTaggingActionStatus::Enabled))
            .tags("team", "security")
    };
    let plan = protect("uploads", &["incoming/"]).send().await.unwrap().malware_protection_plan_id.unwrap();
    assert_eq!(code(protect("uploads", &[]).send().await), "ConflictException", "one plan per bucket");
    assert_eq!(code(protect("nowhere", &[]).send().await), "BadRequestException");
    assert_eq!(code(protect("other", &["a", "b", "c", "d", "e", "f"]).send().await), "BadRequestException");
    assert_eq!(code(plan_with("arn:aws:iam::999999999999:role/x", "other").send().await), "BadRequestException");
    // A new role is checked as well; one that cannot list the bucket leaves the plan as it was.
    let swap = |role: String| gd.update_malware_protection_plan().malware_protection_plan_id(&plan).role(role);
    assert_eq!(code(swap(role_arn("NoList")).send().await), "BadRequestException");
    swap(role.clone()).send().await.unwrap();
    let got = gd.get_malware_protection_plan().malware_protection_plan_id(&plan).send().await.unwrap();
    assert_eq!(got.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(got.role(), Some(role.as_str()));
    let arn = got.arn().unwrap().to_owned();
    assert!(arn.ends_with(&format!(":malware-protection-plan/{plan}")), "{arn}");
    assert_eq!(got.protected_resource().unwrap().s3_bucket().unwrap().object_prefixes(), ["incoming/"]);
    let listed = gd.list_malware_protection_plans().send().await.unwrap();
    assert_eq!(listed.malware_protection_plans().len(), 1);
    assert_eq!(got.tags().unwrap().get("team").map(String::as_str), Some("security"));

    // Uploads under the prefix are scanned and tagged; others are not.
    let put = |bucket: &'static str, key: &'static str, body: String| {
        let s3 = s3.clone();
        async move {
            s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.into_bytes())).send().await.unwrap()
        }
    };
    put("uploads", "incoming/report.txt", "quarterly numbers".to_owned()).await;
    put("uploads", "incoming/eicar.com", format!("{EICAR}\r\n")).await;
    put("uploads", "incoming/listed.bin", listed_body.to_owned()).await;
    put("uploads", "archive/eicar.com", EICAR.to_owned()).await;
    let tag = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let t = s3.get_object_tagging().bucket("uploads").key(key).send().await.unwrap();
            t.tag_set().iter().find(|t| t.key() == "GuardDutyMalwareScanStatus").map(|t| t.value().to_owned())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tag("incoming/listed.bin").await.is_none() {
        assert!(Instant::now() < deadline, "the uploads were never scanned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(tag("incoming/report.txt").await.as_deref(), Some("NO_THREATS_FOUND"));
    assert_eq!(tag("incoming/eicar.com").await.as_deref(), Some("THREATS_FOUND"));
    assert_eq!(tag("incoming/listed.bin").await.as_deref(), Some("THREATS_FOUND"));
    assert_eq!(tag("archive/eicar.com").await, None, "outside the plan's prefixes");

    // Each threat is a finding about its object.
    let found =
        wait_until(&gd, &detector, |f| f.iter().filter(|f| f.r#type() == Some("Object:S3/MaliciousFile")).count() == 2)
            .await;
    let eicar = found
        .iter()
        .filter(|f| f.r#type() == Some("Object:S3/MaliciousFile"))
        .find(|f| f.description().is_some_and(|d| d.contains("EICAR")))
        .expect("the EICAR finding");
    assert_eq!(eicar.severity(), Some(8.0));
    let resource = eicar.resource().unwrap();
    assert_eq!(resource.resource_type(), Some("S3Object"));
    let object = &resource.s3_bucket_details()[0].s3_object_details()[0];
    assert_eq!(object.key(), Some("incoming/eicar.com"));
    assert_eq!(object.object_arn(), Some("arn:aws:s3:::uploads/incoming/eicar.com"));
    let threats = eicar.service().unwrap().malware_scan_details().unwrap().threats();
    assert_eq!(threats[0].name(), Some("EICAR-Test-File (not a virus)"));

    // An object outside the prefixes is scanned on demand; a bucket without a plan is refused.
    let object = |bucket: &str, key: &str| S3ObjectForSendObjectMalwareScan::builder().bucket(bucket).key(key).build();
    gd.send_object_malware_scan().s3_object(object("uploads", "archive/eicar.com")).send().await.unwrap();
    assert_eq!(tag("archive/eicar.com").await.as_deref(), Some("THREATS_FOUND"));
    let unprotected = gd.send_object_malware_scan().s3_object(object("other", "x")).send().await;
    assert_eq!(code(unprotected), "BadRequestException");
    let missing = gd.send_object_malware_scan().s3_object(object("uploads", "incoming/nothing")).send().await;
    assert_eq!(code(missing), "BadRequestException");

    // With tagging off, uploads are still scanned for findings but not tagged.
    gd.update_malware_protection_plan()
        .malware_protection_plan_id(&plan)
        .actions(tagging(MalwareProtectionPlanTaggingActionStatus::Disabled))
        .protected_resource(
            UpdateProtectedResource::builder()
                .s3_bucket(
                    UpdateS3BucketResource::builder().object_prefixes("incoming/").object_prefixes("new/").build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    put("uploads", "new/eicar.com", EICAR.to_owned()).await;
    wait_until(&gd, &detector, |f| f.iter().filter(|f| f.r#type() == Some("Object:S3/MaliciousFile")).count() == 4)
        .await;
    let t = s3.get_object_tagging().bucket("uploads").key("new/eicar.com").send().await.unwrap();
    assert!(t.tag_set().is_empty(), "tagging is off");

    // GuardDuty reads and tags as the plan's role: a role that may tag but not read an object
    // gets the scan result ACCESS_DENIED and no finding; once it may read, the threat is found.
    root.create_role().role_name("TagOnly").assume_role_policy_document(trust(plan_service)).send().await.unwrap();
    let tag_only = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::other"},
        {"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::other/*"}]}"#;
    root.put_role_policy().role_name("TagOnly").policy_name("tag").policy_document(tag_only).send().await.unwrap();
    let other_plan = plan_with(&role_arn("TagOnly"), "other")
        .actions(tagging(MalwareProtectionPlanTaggingActionStatus::Enabled))
        .send()
        .await
        .unwrap()
        .malware_protection_plan_id
        .unwrap();
    let other_tag = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let t = s3.get_object_tagging().bucket("other").key(key).send().await.unwrap();
                if let Some(t) = t.tag_set().iter().find(|t| t.key() == "GuardDutyMalwareScanStatus") {
                    return t.value().to_owned();
                }
                assert!(Instant::now() < deadline, "{key} was never scanned");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    put("other", "unread.com", EICAR.to_owned()).await;
    assert_eq!(other_tag("unread.com").await, "ACCESS_DENIED");
    let read_too = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}}"#;
    root.put_role_policy().role_name("TagOnly").policy_name("read").policy_document(read_too).send().await.unwrap();
    put("other", "read.com", EICAR.to_owned()).await;
    assert_eq!(other_tag("read.com").await, "THREATS_FOUND");
    let found =
        wait_until(&gd, &detector, |f| f.iter().filter(|f| f.r#type() == Some("Object:S3/MaliciousFile")).count() == 5)
            .await;
    let keys: Vec<&str> = found
        .iter()
        .filter_map(|f| f.resource()?.s3_bucket_details().first()?.s3_object_details().first()?.key())
        .collect();
    assert!(keys.contains(&"read.com") && !keys.contains(&"unread.com"), "{keys:?}");
    // The bucket's policy weighs in as for any request: its deny of the role refuses the read.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}}}}"#,
        role_arn("TagOnly")
    );
    s3.put_bucket_policy().bucket("other").policy(deny).send().await.unwrap();
    put("other", "denied.com", EICAR.to_owned()).await;
    assert_eq!(other_tag("denied.com").await, "ACCESS_DENIED");
    s3.delete_bucket_policy().bucket("other").send().await.unwrap();
    gd.delete_malware_protection_plan().malware_protection_plan_id(&other_plan).send().await.unwrap();

    // EC2 and EBS scans have nothing to scan here; the detector's scan settings are kept.
    let start = gd
        .start_malware_scan()
        .resource_arn("arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0")
        .send()
        .await;
    assert_eq!(code(start), "BadRequestException");
    assert!(gd.list_malware_scans().send().await.unwrap().scans().is_empty());
    assert!(gd.describe_malware_scans().detector_id(&detector).send().await.unwrap().scans().is_empty());
    gd.update_malware_scan_settings()
        .detector_id(&detector)
        .ebs_snapshot_preservation(aws_sdk_guardduty::types::EbsSnapshotPreservation::RetentionWithFinding)
        .send()
        .await
        .unwrap();
    let settings = gd.get_malware_scan_settings().detector_id(&detector).send().await.unwrap();
    assert_eq!(settings.ebs_snapshot_preservation().map(|p| p.as_str()), Some("RETENTION_WITH_FINDING"));

    gd.delete_malware_protection_plan().malware_protection_plan_id(&plan).send().await.unwrap();
    let gone = gd.get_malware_protection_plan().malware_protection_plan_id(&plan).send().await;
    assert_eq!(code(gone), "ResourceNotFoundException");
    assert!(gd.list_malware_protection_plans().send().await.unwrap().malware_protection_plans().is_empty());
}

#[tokio::test]
async fn an_ip_list_needs_the_role_policy_permissions_the_reference_names_as_dependent() {
    let server = TestServer::start().await.unwrap();
    let gd = client(&server);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let admin = crate::iam::root(&server);
    let only_gd = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"guardduty:*","Resource":"*"}]}"#;
    let with_iam = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["guardduty:*","iam:PutRolePolicy","iam:DeleteRolePolicy"],"Resource":"*"}]}"#;
    let (id, secret) = crate::iam::user_with_key(&admin, "analyst", only_gd).await;
    let (id2, secret2) = crate::iam::user_with_key(&admin, "operator", with_iam).await;
    let create = |c: &aws_sdk_guardduty::Client, name: &str| {
        c.create_ip_set()
            .detector_id(&detector)
            .name(name)
            .format(IpSetFormat::Txt)
            .location("https://s3.amazonaws.com/lists/trusted.txt")
            .activate(false)
            .send()
    };
    let refused = create(&guardduty(&server, &id, &secret), "trusted").await;
    let message =
        refused.as_ref().err().and_then(|e| e.as_service_error().and_then(|s| s.message().map(str::to_owned)));
    assert!(message.as_deref().is_some_and(|m| m.contains("iam:")), "{message:?}");
    assert_eq!(code(refused), "AccessDeniedException");
    create(&guardduty(&server, &id2, &secret2), "trusted").await.unwrap();
}
