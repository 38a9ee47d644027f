//! CloudTrail event history through aws-sdk-cloudtrail: calls by root, a user and a role
//! session — allowed, denied and failed — found by each lookup attribute with the identity that
//! made them and nothing secret; paging, time ranges and bad input.

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use rampart_testkit::TestServer;
use serde_json::Value;

use crate::iam::{err, iam_with, root};

pub(crate) fn trail(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_cloudtrail::Client {
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            id,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .retry_config(aws_sdk_cloudtrail::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudtrail::Client::from_conf(conf)
}

fn attr(key: LookupAttributeKey, value: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(key).attribute_value(value).build().unwrap()
}

/// Every event a lookup finds (all pages), as the CloudTrail records they carry.
async fn lookup(ct: &aws_sdk_cloudtrail::Client, a: Option<LookupAttribute>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = ct.lookup_events().max_results(50);
        if let Some(a) = &a {
            req = req.lookup_attributes(a.clone());
        }
        if let Some(t) = &token {
            req = req.next_token(t);
        }
        let page = req.send().await.unwrap();
        for e in page.events() {
            let record: Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
            assert_eq!(Some(record["eventID"].as_str().unwrap()), e.event_id());
            assert_eq!(Some(record["eventName"].as_str().unwrap()), e.event_name());
            out.push(record);
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// Event history trails the calls by about a second (it is indexed in batches): looks up until
/// at least `at_least` events match.
async fn indexed(ct: &aws_sdk_cloudtrail::Client, a: Option<LookupAttribute>, at_least: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = lookup(ct, a.clone()).await;
        if found.len() >= at_least {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("event history never held {at_least} events for {a:?}");
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["eventName"].as_str().unwrap()).collect()
}

fn code<T, E: aws_sdk_cloudtrail::error::ProvideErrorMetadata, R>(
    r: Result<T, aws_sdk_cloudtrail::error::SdkError<E, R>>,
) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

#[tokio::test]
async fn event_history_finds_every_call_by_each_attribute_with_who_made_it() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);

    // Root sets up ana (may read herself and assume Auditor) and the Auditor role.
    admin.create_user().user_name("ana").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/ana"},
      {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/Auditor"}]}"#;
    admin.put_user_policy().user_name("ana").policy_name("p").policy_document(policy).send().await.unwrap();
    let key = admin.create_access_key().user_name("ana").send().await.unwrap();
    let key = key.access_key().unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;
    admin.create_role().role_name("Auditor").assume_role_policy_document(trust).send().await.unwrap();
    admin
        .attach_role_policy()
        .role_name("Auditor")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();

    // ana: an allowed read, a denied call, a failed call, and a role session's read.
    let ana = iam_with(&server, key.access_key_id(), key.secret_access_key(), None);
    ana.get_user().user_name("ana").send().await.unwrap();
    assert_eq!(err(ana.list_users().send().await).0, "AccessDenied");
    let ana_sts = crate::roles::sts_with(&server, key.access_key_id(), key.secret_access_key(), None);
    let session = ana_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("audit-1")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let auditor = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(err(auditor.get_user().user_name("ghost").send().await).0, "NoSuchEntity");
    // An object write is a data event: not in event history.
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    s3.create_bucket().bucket("beans").send().await.unwrap();
    s3.put_object()
        .bucket("beans")
        .key("k")
        .body(aws_sdk_s3::primitives::ByteStream::from(b"x".to_vec()))
        .send()
        .await
        .unwrap();

    // Event history catches up with the last management call, and with it every earlier one.
    indexed(&ct, Some(attr(LookupAttributeKey::EventName, "CreateBucket")), 1).await;
    let all = lookup(&ct, None).await;
    // Newest first; management events only; the account's events only.
    let times: Vec<&str> = all.iter().map(|e| e["eventTime"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(!names(&all).contains(&"PutObject"), "data events are not in event history");
    assert!(names(&all).contains(&"CreateBucket"));
    assert!(all.iter().all(|e| e["recipientAccountId"] == "123456789012"));

    // By event name, with root's identity; the new key's secret is not recorded.
    let created = lookup(&ct, Some(attr(LookupAttributeKey::EventName, "CreateAccessKey"))).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["userIdentity"]["type"], "Root");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(key.secret_access_key()) && !text.contains(c.secret_access_key()));

    // By user name: ana's calls, the denied one with its error.
    let by_ana = lookup(&ct, Some(attr(LookupAttributeKey::Username, "ana"))).await;
    assert_eq!(names(&by_ana), ["AssumeRole", "ListUsers", "GetUser"]);
    let denied = &by_ana[1];
    assert_eq!(denied["errorCode"], "AccessDenied");
    assert_eq!(denied["userIdentity"]["type"], "IAMUser");
    assert_eq!(denied["userIdentity"]["accessKeyId"], key.access_key_id());

    // By access key: the same calls; by the session's key: its call, with its session context.
    let by_key = lookup(&ct, Some(attr(LookupAttributeKey::AccessKeyId, key.access_key_id()))).await;
    assert_eq!(names(&by_key), names(&by_ana));
    let by_session = lookup(&ct, Some(attr(LookupAttributeKey::AccessKeyId, c.access_key_id()))).await;
    assert_eq!(names(&by_session), ["GetUser"]);
    let id = &by_session[0]["userIdentity"];
    assert_eq!(id["type"], "AssumedRole");
    assert_eq!(id["arn"], "arn:aws:sts::123456789012:assumed-role/Auditor/audit-1");
    assert_eq!(id["sessionContext"]["sessionIssuer"]["arn"], "arn:aws:iam::123456789012:role/Auditor");
    assert_eq!(id["sessionContext"]["sessionIssuer"]["type"], "Role");
    assert_eq!(id["sessionContext"]["attributes"]["mfaAuthenticated"], "false");
    assert_eq!(by_session[0]["errorCode"], "NoSuchEntity");
    let by_session_name = lookup(&ct, Some(attr(LookupAttributeKey::Username, "audit-1"))).await;
    assert_eq!(names(&by_session_name), ["GetUser"]);

    // By resource: name, ARN and type.
    let on_ana = lookup(&ct, Some(attr(LookupAttributeKey::ResourceName, "ana"))).await;
    for n in ["CreateUser", "PutUserPolicy", "CreateAccessKey", "GetUser"] {
        assert!(names(&on_ana).contains(&n), "{n} acts on ana: {:?}", names(&on_ana));
    }
    let on_ana_arn =
        lookup(&ct, Some(attr(LookupAttributeKey::ResourceName, "arn:aws:iam::123456789012:user/ana"))).await;
    assert_eq!(names(&on_ana_arn), names(&on_ana));
    let roles = lookup(&ct, Some(attr(LookupAttributeKey::ResourceType, "AWS::IAM::Role"))).await;
    assert_eq!(names(&roles), ["AssumeRole", "AttachRolePolicy", "CreateRole"]);

    // By source, read-only flag and event id.
    let sts = lookup(&ct, Some(attr(LookupAttributeKey::EventSource, "sts.amazonaws.com"))).await;
    assert_eq!(names(&sts), ["AssumeRole"]);
    let writes = lookup(&ct, Some(attr(LookupAttributeKey::ReadOnly, "false"))).await;
    assert!(writes.iter().all(|e| e["readOnly"] == false) && names(&writes).contains(&"CreateRole"));
    let one = lookup(&ct, Some(attr(LookupAttributeKey::EventId, all[3]["eventID"].as_str().unwrap()))).await;
    assert_eq!(one, vec![all[3].clone()]);

    // Paging: two at a time walks the same events in the same order.
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = ct.lookup_events().max_results(2);
        if let Some(t) = &token {
            req = req.next_token(t);
        }
        let page = req.send().await.unwrap();
        assert!(page.events().len() <= 2);
        // Lookups are events too, and more happen while paging: compare the rest.
        let rest = page.events().iter().filter(|e| e.event_name() != Some("LookupEvents"));
        paged.extend(rest.map(|e| e.event_id().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let ids: Vec<String> = all
        .iter()
        .filter(|e| e["eventName"] != "LookupEvents")
        .map(|e| e["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, ids, "two at a time, the same events in the same order");
}

#[tokio::test]
async fn bad_lookups_get_cloudtrails_errors_and_lookup_needs_permission() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    for i in 0..3 {
        admin.create_user().user_name(format!("u{i}")).send().await.unwrap();
    }
    indexed(&ct, Some(attr(LookupAttributeKey::EventName, "CreateUser")), 3).await;
    let page = ct.lookup_events().max_results(1).send().await.unwrap();
    let token = page.next_token().unwrap().to_owned();
    // A token only continues the lookup it came from.
    let other = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateUser"))
        .next_token(&token)
        .send()
        .await;
    assert_eq!(code(other), "InvalidNextTokenException");
    assert_eq!(code(ct.lookup_events().next_token("garbage").send().await), "InvalidNextTokenException");
    let now = aws_sdk_cloudtrail::primitives::DateTime::from(std::time::SystemTime::now());
    let earlier = aws_sdk_cloudtrail::primitives::DateTime::from_secs(now.secs() - 3600);
    assert_eq!(code(ct.lookup_events().start_time(now).end_time(earlier).send().await), "InvalidTimeRangeException");
    let before = ct.lookup_events().end_time(earlier).send().await.unwrap();
    assert!(before.events().is_empty(), "nothing happened an hour ago");
    let two = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateUser"))
        .lookup_attributes(attr(LookupAttributeKey::Username, "root"))
        .send()
        .await;
    assert_eq!(code(two), "InvalidLookupAttributesException");
    assert_eq!(code(ct.lookup_events().max_results(51).send().await), "InvalidMaxResultsException");

    // A user without cloudtrail:LookupEvents is denied (as a JSON service words it); with it,
    // sees the account's history.
    let k = admin.create_access_key().user_name("u0").send().await.unwrap();
    let k = k.access_key().unwrap();
    let u0 = trail(&server, k.access_key_id(), k.secret_access_key(), None);
    assert_eq!(code(u0.lookup_events().send().await), "AccessDeniedException");
    let allow =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}}"#;
    admin.put_user_policy().user_name("u0").policy_name("ct").policy_document(allow).send().await.unwrap();
    let seen = u0.lookup_events().lookup_attributes(attr(LookupAttributeKey::EventName, "CreateUser")).send().await;
    assert_eq!(seen.unwrap().events().len(), 3);
}

/// Makes `bucket` with the policy CloudTrail needs to deliver a trail's files into it.
pub(crate) async fn trail_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let policy = rampart_testkit::cloudtrail_bucket_policy(bucket);
    s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.unwrap();
}

/// The log files a trail has delivered under `prefix`, each as its `Records`.
pub(crate) async fn log_files(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<(String, Vec<Value>)> {
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_owned();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
        let mut json = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body.into_bytes()[..]), &mut json).unwrap();
        let doc: Value = serde_json::from_str(&json).unwrap();
        out.push((key, doc["Records"].as_array().unwrap().clone()));
    }
    out
}

/// Waits until delivered files hold an event named `name`.
async fn delivered(s3: &aws_sdk_s3::Client, bucket: &str, name: &str) -> Vec<(String, Vec<Value>)> {
    delivered_where(s3, bucket, &format!("a {name} event"), |r| r["eventName"] == name).await
}

/// Waits until delivered files hold an event `found` accepts (`what` names it if none comes).
async fn delivered_where(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    what: &str,
    found: impl Fn(&Value) -> bool,
) -> Vec<(String, Vec<Value>)> {
    for _ in 0..100 {
        let files = log_files(s3, bucket, "AWSLogs/").await;
        if files.iter().any(|(_, rs)| rs.iter().any(&found)) {
            return files;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no delivered log file holds {what}");
}

#[tokio::test]
async fn a_trail_delivers_gzipped_log_files_in_cloudtrails_layout_while_logging() {
    let server = TestServer::start_with(|c| c.trail_delivery_secs = 1).await.unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    trail_bucket(&s3, "trail-logs").await;

    // Names, buckets and features are checked as CloudTrail checks them.
    let create = |name: &str, bucket: &str| ct.create_trail().name(name).s3_bucket_name(bucket);
    assert_eq!(code(create("a..b", "trail-logs").send().await), "InvalidTrailNameException");
    assert_eq!(code(create("main", "no-such-bucket").send().await), "S3BucketDoesNotExistException");
    assert_eq!(
        code(create("main", "trail-logs").is_organization_trail(true).send().await),
        "OrganizationsNotInUseException"
    );
    let made = create("main", "trail-logs").send().await.unwrap();
    let arn = made.trail_arn().unwrap().to_owned();
    assert_eq!(arn, "arn:aws:cloudtrail:us-east-1:123456789012:trail/main");
    assert_eq!(code(create("main", "trail-logs").send().await), "TrailAlreadyExistsException");
    assert_eq!(ct.list_trails().send().await.unwrap().trails().len(), 1);
    let got = ct.get_trail().name(&arn).send().await.unwrap();
    assert_eq!(got.trail().unwrap().s3_bucket_name(), Some("trail-logs"));
    assert_eq!(ct.get_trail_status().name("main").send().await.unwrap().is_logging(), Some(false));

    // Nothing is delivered until logging starts; then management events are.
    admin.create_user().user_name("before-start").send().await.unwrap();
    ct.start_logging().name("main").send().await.unwrap();
    assert_eq!(ct.get_trail_status().name("main").send().await.unwrap().is_logging(), Some(true));
    admin.create_user().user_name("zed").send().await.unwrap();
    s3.put_object()
        .bucket("trail-logs")
        .key("note.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from(b"n".to_vec()))
        .send()
        .await
        .unwrap();
    let files = delivered(&s3, "trail-logs", "CreateUser").await;
    let records: Vec<&Value> = files.iter().flat_map(|(_, rs)| rs.iter()).collect();
    let users: Vec<&str> = records
        .iter()
        .filter(|r| r["eventName"] == "CreateUser")
        .map(|r| r["requestParameters"]["userName"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["zed"], "events before StartLogging are not delivered");
    assert!(!records.iter().any(|r| r["eventName"] == "PutObject"), "data events need a data selector");
    for (key, _) in &files {
        let rest = key.strip_prefix("AWSLogs/123456789012/CloudTrail/us-east-1/").unwrap();
        let parts: Vec<&str> = rest.split('/').collect();
        assert_eq!(parts.len(), 4, "{key}");
        assert!(parts[3].starts_with("123456789012_CloudTrail_us-east-1_") && parts[3].ends_with(".json.gz"), "{key}");
    }
    // The delivered record is the one event history shows.
    let zed = records.iter().find(|r| r["eventName"] == "CreateUser").unwrap();
    let history = indexed(&ct, Some(attr(LookupAttributeKey::EventId, zed["eventID"].as_str().unwrap())), 1).await;
    assert_eq!(&history[0], *zed);

    // A data selector on one bucket brings its object events in.
    let selector = aws_sdk_cloudtrail::types::EventSelector::builder()
        .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
        .include_management_events(true)
        .data_resources(
            aws_sdk_cloudtrail::types::DataResource::builder()
                .r#type("AWS::S3::Object")
                .values("arn:aws:s3:::trail-logs/notes/")
                .build(),
        )
        .build();
    ct.put_event_selectors().trail_name("main").event_selectors(selector).send().await.unwrap();
    let got = ct.get_event_selectors().trail_name("main").send().await.unwrap();
    assert_eq!(got.event_selectors()[0].data_resources()[0].values(), ["arn:aws:s3:::trail-logs/notes/"]);
    for key in ["notes/a.txt", "other/b.txt"] {
        let body = aws_sdk_s3::primitives::ByteStream::from(b"x".to_vec());
        s3.put_object().bucket("trail-logs").key(key).body(body).send().await.unwrap();
    }
    let files = delivered(&s3, "trail-logs", "PutObject").await;
    let puts: Vec<&str> = files
        .iter()
        .flat_map(|(_, rs)| rs.iter())
        .filter(|r| r["eventName"] == "PutObject")
        .flat_map(|r| r["resources"].as_array().unwrap().iter())
        .filter(|res| res["type"] == "AWS::S3::Object")
        .map(|res| res["ARN"].as_str().unwrap())
        .collect();
    assert_eq!(puts, ["arn:aws:s3:::trail-logs/notes/a.txt"], "only the selected prefix");

    // Tags; stopping; deleting — each recorded.
    let tag = aws_sdk_cloudtrail::types::Tag::builder().key("team").value("audit").build().unwrap();
    ct.add_tags().resource_id(&arn).tags_list(tag).send().await.unwrap();
    let tags = ct.list_tags().resource_id_list(&arn).send().await.unwrap();
    assert_eq!(tags.resource_tag_list()[0].tags_list().len(), 1);
    admin.create_user().user_name("before-stop").send().await.unwrap();
    ct.stop_logging().name("main").send().await.unwrap();
    assert_eq!(ct.get_trail_status().name("main").send().await.unwrap().is_logging(), Some(false));
    admin.create_user().user_name("after-stop").send().await.unwrap();
    // What was recorded up to the stop, StopLogging itself included, is still delivered; what
    // came after is not.
    delivered(&s3, "trail-logs", "StopLogging").await;
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let users: Vec<String> = log_files(&s3, "trail-logs", "AWSLogs/")
        .await
        .iter()
        .flat_map(|(_, rs)| rs.iter())
        .filter(|r| r["eventName"] == "CreateUser")
        .map(|r| r["requestParameters"]["userName"].as_str().unwrap().to_owned())
        .collect();
    assert!(users.contains(&"before-stop".to_owned()), "{users:?}");
    assert!(!users.contains(&"after-stop".to_owned()), "{users:?}");
    ct.delete_trail().name("main").send().await.unwrap();
    assert_eq!(code(ct.get_trail().name("main").send().await), "TrailNotFoundException");
    for name in ["StopLogging", "DeleteTrail", "PutEventSelectors"] {
        let found = indexed(&ct, Some(attr(LookupAttributeKey::EventName, name)), 1).await;
        assert_eq!(found.len(), 1, "{name} is in event history");
    }
}

#[tokio::test]
async fn global_services_calls_are_recorded_in_us_east_1_whatever_region_signed_them() {
    let server = TestServer::start().await.unwrap();
    let (id, secret) = (server.access_key_id.clone(), server.secret_access_key.clone());
    // Both clients sign for eu-west-1, as an SDK configured for that region does.
    let iam_conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("eu-west-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(&id, &secret, None, None, "t"))
        .build();
    aws_sdk_iam::Client::from_conf(iam_conf).create_user().user_name("global").send().await.unwrap();
    let sts = crate::sts_builder(&server, &id, &secret).region(aws_sdk_sts::config::Region::new("eu-west-1")).build();
    aws_sdk_sts::Client::from_conf(sts).get_caller_identity().send().await.unwrap();
    let create = crate::events_named(&server, "CreateUser", 1).await;
    assert_eq!(create[0]["awsRegion"], "us-east-1", "IAM is global: {}", create[0]);
    let caller = crate::events_named(&server, "GetCallerIdentity", 1).await;
    assert_eq!(caller[0]["awsRegion"], "eu-west-1", "STS at a regional endpoint: {}", caller[0]);
}

/// The error and message for `r`'s failure.
fn failure<T, E: aws_sdk_cloudtrail::error::ProvideErrorMetadata, R>(
    r: Result<T, aws_sdk_cloudtrail::error::SdkError<E, R>>,
) -> (String, String) {
    match r {
        Ok(_) => ("OK".into(), String::new()),
        Err(e) => {
            let s = e.as_service_error();
            (
                s.and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
                s.and_then(|s| s.message()).unwrap_or_default().to_owned(),
            )
        }
    }
}

/// Each broken naming rule is named, in CloudTrail's order of checks; an unknown trail is named
/// by its ARN, except by GetTrail; a multi-Region trail must record global services' events.
#[tokio::test]
async fn trail_names_and_unknown_trails_are_refused_as_cloudtrail_refuses_them() {
    let server = TestServer::start().await.unwrap();
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    trail_bucket(&s3, "trail-logs").await;
    let long = "a".repeat(129);
    let cases: &[(&str, &str)] = &[
        ("aa", "Trail name too short. Minimum allowed length: 3 characters. Specified name length: 2 characters."),
        (&long, "Trail name too long. Maximum allowed length: 128 characters. Specified name length: 129 characters."),
        ("-trail", "Trail name must starts with a letter or number."),
        ("trail!", "Trail name must ends with a letter or number."),
        (
            "my#trail",
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens \
             (-), and underscores (_).",
        ),
        ("a..b", "Trail name cannot have adjacent periods (.), hyphens (-), or underscores (_)."),
        ("10.0.0.1", "Trail names must not be formatted as an IP address."),
    ];
    for (name, message) in cases {
        let got = failure(ct.create_trail().name(*name).s3_bucket_name("trail-logs").send().await);
        assert_eq!(got, ("InvalidTrailNameException".to_owned(), (*message).to_owned()), "name {name:?}");
    }
    let got = failure(ct.get_trail_status().name("?").send().await);
    assert_eq!(
        got.1,
        "Trail name too short. Minimum allowed length: 3 characters. Specified name length: 1 characters."
    );

    let arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/nothing";
    let unknown = |named: &str| {
        ("TrailNotFoundException".to_owned(), format!("Unknown trail: {named} for the user: 123456789012"))
    };
    assert_eq!(failure(ct.get_trail_status().name("nothing").send().await), unknown(arn));
    assert_eq!(failure(ct.get_event_selectors().trail_name("nothing").send().await), unknown(arn));
    assert_eq!(failure(ct.delete_trail().name("nothing").send().await), unknown(arn));
    assert_eq!(failure(ct.get_trail().name("nothing").send().await), unknown("nothing"));

    let multi = ct
        .create_trail()
        .name("everywhere")
        .s3_bucket_name("no-such-bucket")
        .is_multi_region_trail(true)
        .include_global_service_events(false)
        .send()
        .await;
    assert_eq!(
        failure(multi),
        (
            "InvalidParameterCombinationException".to_owned(),
            "Multi-Region trail must include global service events.".to_owned()
        ),
        "checked before the bucket"
    );
    ct.create_trail().name("main").s3_bucket_name("trail-logs").is_multi_region_trail(true).send().await.unwrap();
    // A trail never started: its string-typed status fields are empty, its times absent.
    let status = ct.get_trail_status().name("main").send().await.unwrap();
    assert_eq!(status.is_logging(), Some(false));
    assert_eq!(status.time_logging_started(), Some(""));
    assert_eq!(status.latest_delivery_attempt_time(), Some(""));
    assert_eq!(status.latest_notification_attempt_succeeded(), Some(""));
    assert!(status.start_logging_time().is_none() && status.latest_delivery_time().is_none());
    let off = ct.update_trail().name("main").include_global_service_events(false).send().await;
    assert_eq!(failure(off).0, "InvalidParameterCombinationException");
}

/// Waits until LookupEvents has at least `n` Insights events, and returns them, oldest first.
async fn insight_events(ct: &aws_sdk_cloudtrail::Client, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let found =
            ct.lookup_events().event_category(aws_sdk_cloudtrail::types::EventCategory::Insight).send().await.unwrap();
        if found.events().len() >= n {
            let mut events: Vec<Value> =
                found.events().iter().map(|e| serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap()).collect();
            events.reverse();
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} Insights events");
}

#[tokio::test]
async fn insights_find_a_burst_of_calls_and_of_errors_against_the_baseline() {
    use aws_sdk_cloudtrail::types::{InsightSelector, InsightType};
    let _timing = crate::LOAD.read().await;
    // Periods of a second and a baseline of 14, so detection starts after 3 periods.
    let server = TestServer::start_with(|c| {
        c.trail_delivery_secs = 1;
        c.insights_period_secs = 1;
        c.insights_baseline_periods = 14;
    })
    .await
    .unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    trail_bucket(&s3, "insight-logs").await;
    ct.create_trail().name("watch").s3_bucket_name("insight-logs").send().await.unwrap();
    ct.start_logging().name("watch").send().await.unwrap();
    let selector = |t: InsightType| InsightSelector::builder().insight_type(t).build();

    assert_eq!(code(ct.get_insight_selectors().trail_name("watch").send().await), "InsightNotEnabledException");
    let bad = ct.put_insight_selectors().trail_name("watch").insight_selectors(selector(InsightType::from("Nope")));
    assert_eq!(code(bad.send().await), "InvalidInsightSelectorsException");
    // The call rate is of write management events, which a read-only trail does not log.
    let reads = aws_sdk_cloudtrail::types::EventSelector::builder()
        .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::ReadOnly)
        .build();
    ct.put_event_selectors().trail_name("watch").event_selectors(reads).send().await.unwrap();
    let rate =
        ct.put_insight_selectors().trail_name("watch").insight_selectors(selector(InsightType::ApiCallRateInsight));
    assert_eq!(code(rate.send().await), "InvalidInsightSelectorsException");
    let all = aws_sdk_cloudtrail::types::EventSelector::builder()
        .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
        .build();
    ct.put_event_selectors().trail_name("watch").event_selectors(all).send().await.unwrap();

    let put = ct
        .put_insight_selectors()
        .trail_name("watch")
        .insight_selectors(selector(InsightType::ApiCallRateInsight))
        .insight_selectors(selector(InsightType::ApiErrorRateInsight))
        .send()
        .await
        .unwrap();
    assert_eq!(put.insight_selectors().len(), 2);
    let got = ct.get_insight_selectors().trail_name("watch").send().await.unwrap();
    assert_eq!(got.insight_selectors()[0].event_categories()[0].as_str(), "Management");
    assert_eq!(ct.get_trail().name("watch").send().await.unwrap().trail().unwrap().has_insight_selectors(), Some(true));

    // A quiet baseline, then a burst of user creations and of failed lookups.
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    for i in 0..40 {
        admin.create_user().user_name(format!("burst-{i}")).send().await.unwrap();
    }
    for i in 0..30 {
        assert_eq!(err(admin.get_user().user_name(format!("ghost-{i}")).send().await).0, "NoSuchEntity");
    }
    // Each burst starts an Insights event and ends it when its API is quiet again.
    let events = insight_events(&ct, 4).await;
    let of = |name: &str, state: &str| {
        events
            .iter()
            .find(|e| e["insightDetails"]["eventName"] == name && e["insightDetails"]["state"] == state)
            .unwrap_or_else(|| panic!("no {state} Insights event for {name}: {events:?}"))
    };
    let (start, end) = (of("CreateUser", "Start"), of("CreateUser", "End"));
    assert_eq!(start["eventType"], "AwsCloudTrailInsight");
    assert_eq!(start["eventCategory"], "Insight");
    assert_eq!(start["sharedEventID"], end["sharedEventID"]);
    assert_eq!(start["insightDetails"]["insightType"], "ApiCallRateInsight");
    assert_eq!(start["insightDetails"]["eventSource"], "iam.amazonaws.com");
    let stats = &start["insightDetails"]["insightContext"]["statistics"];
    assert!(stats["insight"]["average"].as_f64().unwrap() >= 10.0, "{stats}");
    assert!(stats["baseline"]["average"].as_f64().unwrap() < 1.0, "{stats}");
    let who = &start["insightDetails"]["insightContext"]["attributions"][0];
    assert_eq!(who["attribute"], "userIdentityArn");
    assert_eq!(who["insight"][0]["value"], "arn:aws:iam::123456789012:root");
    let errors = of("GetUser", "Start");
    assert_eq!(errors["insightDetails"]["insightType"], "ApiErrorRateInsight");
    let codes = &errors["insightDetails"]["insightContext"]["attributions"][2];
    assert_eq!(
        (codes["attribute"].as_str(), codes["insight"][0]["value"].as_str()),
        (Some("errorCode"), Some("NoSuchEntity"))
    );

    // They are delivered too, under CloudTrail-Insight/.
    let mut files = Vec::new();
    for _ in 0..100 {
        files = log_files(&s3, "insight-logs", "AWSLogs/123456789012/CloudTrail-Insight/us-east-1/").await;
        if files.iter().map(|(_, rs)| rs.len()).sum::<usize>() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered: Vec<&Value> = files.iter().flat_map(|(_, rs)| rs.iter()).collect();
    assert!(delivered.iter().any(|r| r["sharedEventID"] == start["sharedEventID"]), "{delivered:?}");
    // Lookups by event name find only that API's; turning Insights off is an empty list.
    let by_name = ct
        .lookup_events()
        .event_category(aws_sdk_cloudtrail::types::EventCategory::Insight)
        .lookup_attributes(attr(LookupAttributeKey::EventName, "GetUser"))
        .send()
        .await
        .unwrap();
    assert!(by_name.events().iter().all(|e| e.event_name() == Some("GetUser")) && !by_name.events().is_empty());
    ct.put_insight_selectors().trail_name("watch").set_insight_selectors(Some(Vec::new())).send().await.unwrap();
    assert_eq!(code(ct.get_insight_selectors().trail_name("watch").send().await), "InsightNotEnabledException");
}

#[tokio::test]
async fn resource_policies_have_no_lake_resource_to_attach_to() {
    let server = TestServer::start().await.unwrap();
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"cloudtrail-data:PutAuditEvents","Resource":"*"}]}"#;
    let trail_arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
    let channel = "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567890";
    let put = |arn: &str| ct.put_resource_policy().resource_arn(arn).resource_policy(policy).send();
    assert_eq!(code(put(trail_arn).await), "ResourceTypeNotSupportedException");
    assert_eq!(code(put(channel).await), "ResourceARNNotValidException");
    assert_eq!(code(put("not-an-arn").await), "ResourceARNNotValidException");
    assert_eq!(code(ct.get_resource_policy().resource_arn(channel).send().await), "ResourceARNNotValidException");
    assert_eq!(
        code(ct.delete_resource_policy().resource_arn(trail_arn).send().await),
        "ResourceTypeNotSupportedException"
    );
}

/// CloudTrail delivers only where the bucket's policy lets it, checked as AWS checks it at
/// CreateTrail and UpdateTrail: a bucket without that policy, or whose policy covers another
/// account's path or another trail, is refused; another account's bucket whose policy admits the
/// trail is used.
#[tokio::test]
async fn a_trail_needs_a_bucket_policy_that_lets_cloudtrail_deliver() {
    let server = TestServer::start_with(|c| c.dev = true).await.unwrap();
    let account = server.config.dev_account_id.clone();
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    let policy = |bucket: &str, path: &str, condition: serde_json::Value| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
             "Resource": format!("arn:aws:s3:::{bucket}")},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": format!("arn:aws:s3:::{bucket}/{path}"), "Condition": condition}]})
        .to_string()
    };
    let acl = serde_json::json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}});
    let source = |trail: &str| {
        serde_json::json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
            "aws:SourceArn": format!("arn:aws:cloudtrail:us-east-1:{account}:trail/{trail}")}})
    };
    for (bucket, text) in [
        ("bare", None),
        ("elsewhere", Some(policy("elsewhere", "AWSLogs/111111111111/*", acl.clone()))),
        ("scoped", Some(policy("scoped", &format!("AWSLogs/{account}/*"), source("audit")))),
    ] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        if let Some(text) = text {
            s3.put_bucket_policy().bucket(bucket).policy(text).send().await.unwrap();
        }
    }
    let refused = "InsufficientS3BucketPolicyException";
    for bucket in ["bare", "elsewhere", "scoped"] {
        assert_eq!(code(ct.create_trail().name("ops").s3_bucket_name(bucket).send().await), refused, "{bucket}");
    }
    // The policy that names this trail admits it, and only it.
    ct.create_trail().name("audit").s3_bucket_name("scoped").send().await.unwrap();
    // Moving a trail to a bucket that does not admit it is refused; the trail stays where it was.
    let moved = ct.update_trail().name("audit").s3_bucket_name("bare").send().await;
    assert_eq!(code(moved), refused);
    let got = ct.get_trail().name("audit").send().await.unwrap();
    assert_eq!(got.trail().and_then(|t| t.s3_bucket_name()), Some("scoped"));

    // Another account's bucket, whose policy admits CloudTrail, takes the trail's files.
    let other = crate::s3::s3(&server, "222222222222", "secret");
    other.create_bucket().bucket("shared-logs").send().await.unwrap();
    let shared = policy("shared-logs", &format!("AWSLogs/{account}/*"), acl);
    other.put_bucket_policy().bucket("shared-logs").policy(shared).send().await.unwrap();
    ct.create_trail().name("ops").s3_bucket_name("shared-logs").send().await.unwrap();
}

/// A trail with a KMS key encrypts its log files under it (SSE-KMS, bound to the trail and the
/// file), once the key's policy lets CloudTrail use it for the trail; readers then need
/// kms:Decrypt. A key that does not exist, is not symmetric, or whose policy leaves CloudTrail out
/// is refused as CloudTrail refuses it, and an empty key id turns encryption off.
#[tokio::test]
async fn a_trail_encrypts_its_log_files_under_the_kms_key_it_names() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let server = TestServer::start_with(|c| c.trail_delivery_secs = 1).await.unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    let kms = crate::kms::kms(&server, &server.access_key_id, &server.secret_access_key, None);
    trail_bucket(&s3, "sealed-logs").await;

    let plain = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id().to_owned();
    let signing = kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send().await;
    let signing = signing.unwrap().key_metadata.unwrap().key_id().to_owned();
    let for_cloudtrail = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Sid":"Allow CloudTrail to encrypt logs","Effect":"Allow","Principal":{{"Service":"cloudtrail.amazonaws.com"}},
          "Action":"kms:GenerateDataKey*","Resource":"*",
          "Condition":{{"StringEquals":{{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/sealed"}},
                       "StringLike":{{"kms:EncryptionContext:aws:cloudtrail:arn":"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}}}}}]}}"#,
        ACCOUNT = rampart_testkit::ACCOUNT_ID
    );
    let key = kms.create_key().policy(for_cloudtrail).send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn().unwrap().to_owned();
    kms.create_alias().alias_name("alias/trail-logs").target_key_id(key.key_id()).send().await.unwrap();

    let create = |name: &str, key: &str| ct.create_trail().name(name).s3_bucket_name("sealed-logs").kms_key_id(key);
    let missing = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(code(create("sealed", missing).send().await), "KmsKeyNotFoundException");
    assert_eq!(code(create("sealed", &signing).send().await), "InvalidKmsKeyIdException");
    assert_eq!(code(create("sealed", &plain).send().await), "InsufficientEncryptionPolicyException");
    // The key's policy names this trail only.
    assert_eq!(code(create("other", "alias/trail-logs").send().await), "InsufficientEncryptionPolicyException");
    let made = create("sealed", "alias/trail-logs").send().await.unwrap();
    assert_eq!(made.kms_key_id(), Some(key_arn.as_str()));
    let got = ct.get_trail().name("sealed").send().await.unwrap();
    assert_eq!(got.trail().and_then(|t| t.kms_key_id()), Some(key_arn.as_str()));

    ct.start_logging().name("sealed").send().await.unwrap();
    admin.create_user().user_name("sealed-event").send().await.unwrap();
    let files = delivered(&s3, "sealed-logs", "CreateUser").await;
    let (first, _) = files.first().unwrap();
    let head = s3.head_object().bucket("sealed-logs").key(first).send().await.unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()));
    // Reading a log file needs kms:Decrypt on the key: a user with S3 rights alone is refused.
    let s3_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let (id, secret) = crate::iam::user_with_key(&admin, "log-reader", s3_only).await;
    let reader = crate::s3::s3(&server, &id, &secret);
    assert_eq!(crate::s3::code(reader.get_object().bucket("sealed-logs").key(first).send().await), "AccessDenied");
    // CloudTrail's own GenerateDataKey for the file is an event of the key's account, by the
    // service, delivered by a later run; and it is the key's last use.
    let generated = delivered_where(&s3, "sealed-logs", "CloudTrail's GenerateDataKey", |r| {
        r["eventName"] == "GenerateDataKey" && r["userIdentity"]["invokedBy"] == "cloudtrail.amazonaws.com"
    })
    .await;
    let event =
        generated.iter().flat_map(|(_, rs)| rs.iter()).find(|r| r["eventName"] == "GenerateDataKey").unwrap().clone();
    assert_eq!(event["userIdentity"]["type"], "AWSService");
    assert_eq!(event["eventSource"], "kms.amazonaws.com");
    assert_eq!(event["requestParameters"]["keyId"], key_arn.as_str());
    assert_eq!(
        event["requestParameters"]["encryptionContext"]["aws:cloudtrail:arn"],
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/sealed"
    );
    assert!(
        event["requestParameters"]["encryptionContext"]["aws:s3:arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:s3:::sealed-logs/AWSLogs/")
    );
    assert_eq!(event["resources"][0]["ARN"], key_arn.as_str());
    // Reading the files decrypts with the key; with no reads, the next delivery's data key is the
    // last use (each delivery logs the one before: a file comes every run, as in CloudTrail).
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let usage = kms.get_key_last_usage().key_id(key.key_id()).send().await.unwrap();
    let last = usage.key_last_usage().unwrap();
    assert_eq!(last.operation().map(|o| o.as_str()), Some("GenerateDataKey"));
    assert!(last.cloud_trail_event_id().is_some(), "{last:?}");

    // A disabled key holds up its own trail, which says why and keeps its events, and no other.
    trail_bucket(&s3, "open-logs").await;
    ct.create_trail().name("open").s3_bucket_name("open-logs").send().await.unwrap();
    ct.start_logging().name("open").send().await.unwrap();
    let count = || async { s3.list_objects_v2().bucket("sealed-logs").send().await.unwrap().key_count() };
    kms.disable_key().key_id(key.key_id()).send().await.unwrap();
    let before = count().await;
    admin.create_user().user_name("while-disabled").send().await.unwrap();
    let while_disabled = |r: &Value| r["requestParameters"]["userName"] == "while-disabled";
    // The other trail delivers.
    delivered_where(&s3, "open-logs", "the event made while the key was disabled", while_disabled).await;
    let status = ct.get_trail_status().name("sealed").send().await.unwrap();
    assert_eq!(status.latest_delivery_error(), Some("KMS.DisabledException"));
    assert_eq!(count().await, before, "nothing is delivered under a disabled key");
    // Enabled again, the key's trail delivers what it kept, and its error clears.
    kms.enable_key().key_id(key.key_id()).send().await.unwrap();
    // The kept events are delivered.
    delivered_where(&s3, "sealed-logs", "the event made while the key was disabled", while_disabled).await;
    let status = ct.get_trail_status().name("sealed").send().await.unwrap();
    assert_eq!(status.latest_delivery_error(), None);

    // An empty key id turns encryption off.
    let updated = ct.update_trail().name("sealed").kms_key_id("").send().await.unwrap();
    assert_eq!(updated.kms_key_id(), None);
}

/// The sum of `value` over the delivered aggregated records of `template`'s primary dimension
/// `dimension` named `name` (windows may split a run of calls), and their merged details.
fn aggregated(records: &[Value], dimension: &str, name: &str) -> (u64, std::collections::BTreeMap<String, u64>) {
    let mut total = 0;
    let mut details = std::collections::BTreeMap::new();
    for r in records {
        let primary = &r["summary"]["primaryDimension"];
        if primary["dimension"] != dimension || primary["statistics"][0]["name"] != name {
            continue;
        }
        total += primary["statistics"][0]["value"].as_u64().unwrap();
        for s in r["summary"]["details"][0]["statistics"].as_array().unwrap() {
            *details.entry(s["name"].as_str().unwrap().to_owned()).or_default() += s["value"].as_u64().unwrap();
        }
    }
    (total, details)
}

#[tokio::test]
async fn a_trail_aggregates_its_data_events_into_five_minute_summaries() {
    let server = TestServer::start_with(|c| c.trail_delivery_secs = 1).await.unwrap();
    let admin = root(&server);
    let ct = trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    trail_bucket(&s3, "agg-logs").await;
    s3.create_bucket().bucket("agg-data").send().await.unwrap();
    ct.create_trail().name("agg").s3_bucket_name("agg-logs").send().await.unwrap();
    let got = ct.get_event_configuration().trail_name("agg").send().await.unwrap();
    assert_eq!(got.trail_arn(), Some("arn:aws:cloudtrail:us-east-1:123456789012:trail/agg"));
    assert!(got.aggregation_configurations().is_empty());

    use aws_sdk_cloudtrail::types::{AggregationConfiguration, EventCategoryAggregation, MaxEventSize, Template};
    let config = |templates: &[Template]| {
        AggregationConfiguration::builder()
            .event_category(EventCategoryAggregation::Data)
            .set_templates(Some(templates.to_vec()))
            .build()
            .unwrap()
    };
    let all = [Template::ApiActivity, Template::ResourceAccess, Template::UserActions];
    let put = || ct.put_event_configuration().trail_name("agg").aggregation_configurations(config(&all));
    // Aggregation needs data events; event sizes and data stores are not a trail's.
    assert_eq!(code(put().send().await), "InvalidParameterCombinationException");
    assert_eq!(code(put().max_event_size(MaxEventSize::Large).send().await), "InvalidParameterCombinationException");
    let store =
        ct.get_event_configuration().event_data_store("arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/x");
    assert_eq!(code(store.send().await), "UnsupportedOperationException");
    assert_eq!(code(ct.get_event_configuration().send().await), "InvalidParameterCombinationException");
    assert_eq!(code(ct.get_event_configuration().trail_name("nope").send().await), "TrailNotFoundException");

    let selector = aws_sdk_cloudtrail::types::EventSelector::builder()
        .include_management_events(true)
        .data_resources(
            aws_sdk_cloudtrail::types::DataResource::builder()
                .r#type("AWS::S3::Object")
                .values("arn:aws:s3:::agg-data/")
                .build(),
        )
        .build();
    ct.put_event_selectors().trail_name("agg").event_selectors(selector).send().await.unwrap();
    let set = put().send().await.unwrap();
    assert_eq!(set.aggregation_configurations()[0].templates(), all);
    let got = ct.get_event_configuration().trail_name("agg").send().await.unwrap();
    assert_eq!(got.aggregation_configurations()[0].templates(), all);
    assert_eq!(got.aggregation_configurations()[0].event_category(), &EventCategoryAggregation::Data);

    // Ana writes three objects and reads one; root writes one.
    ct.start_logging().name("agg").send().await.unwrap();
    let (id, secret) = crate::iam::user_with_key(
        &admin,
        "ana",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )
    .await;
    let ana = crate::s3::s3(&server, &id, &secret);
    for key in ["a", "b", "c"] {
        let body = aws_sdk_s3::primitives::ByteStream::from(b"x".to_vec());
        ana.put_object().bucket("agg-data").key(key).body(body).send().await.unwrap();
    }
    ana.get_object().bucket("agg-data").key("a").send().await.unwrap();
    let body = aws_sdk_s3::primitives::ByteStream::from(b"y".to_vec());
    s3.put_object().bucket("agg-data").key("d").body(body).send().await.unwrap();
    // Stopping closes the last window: its summaries are delivered with what was logged. The
    // calls may span two windows (their clock's five minutes), each delivered in its own file:
    // wait until every call is counted, or the assertions below say what is missing.
    ct.stop_logging().name("agg").send().await.unwrap();
    let mut records = Vec::new();
    for _ in 0..100 {
        records = log_files(&s3, "agg-logs", "AWSLogs/123456789012/CloudTrail-Aggregated/us-east-1/")
            .await
            .into_iter()
            .flat_map(|(_, rs)| rs)
            .collect();
        if aggregated(&records, "eventName", "PutObject").0 >= 4
            && aggregated(&records, "eventName", "GetObject").0 >= 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!records.is_empty(), "no aggregated events were delivered");
    for r in &records {
        assert_eq!(r["eventCategory"], "Aggregated");
        assert_eq!(r["eventType"], "AwsAggregatedEvent");
        assert_eq!(r["eventSource"], "s3.amazonaws.com");
        assert_eq!(r["accountId"], "123456789012");
        assert_eq!(r["timeWindow"]["windowSize"], "PT5M");
    }
    let bucket = "arn:aws:s3:::agg-data";
    let (puts, on) = aggregated(&records, "eventName", "PutObject");
    assert_eq!((puts, on.get(bucket).copied()), (4, Some(4)));
    assert_eq!(aggregated(&records, "eventName", "GetObject").0, 1);
    let (reached, how) = aggregated(&records, "resourceARN", bucket);
    assert_eq!(reached, 5);
    assert_eq!((how.get("PutObject").copied(), how.get("GetObject").copied()), (Some(4), Some(1)));
    let (by_ana, what) = aggregated(&records, "userIdentityArn", "arn:aws:iam::123456789012:user/ana");
    assert_eq!((by_ana, what.get("GetObject").copied()), (4, Some(1)));
    assert_eq!(aggregated(&records, "userIdentityArn", "arn:aws:iam::123456789012:root").0, 1);

    // Turned off, the configuration is empty again.
    ct.put_event_configuration().trail_name("agg").send().await.unwrap();
    let got = ct.get_event_configuration().trail_name("agg").send().await.unwrap();
    assert!(got.aggregation_configurations().is_empty());
}
