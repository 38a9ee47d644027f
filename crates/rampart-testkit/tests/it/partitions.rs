//! Partitions: a request signed for a Region of `aws-cn` (or `aws-us-gov`, or an isolated
//! partition) reads ARNs of that partition everywhere — identities, resources, policies, errors,
//! the trail — and policies written with that partition's ARNs decide its requests.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::iam::err;

fn iam_in(server: &TestServer, region: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(id, secret, None, None, "test"))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn sts_in(server: &TestServer, region: &str, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(id, secret, token.map(str::to_owned), None, "t"))
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn s3_in(server: &TestServer, region: &str, id: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .endpoint_url(&server.endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(id, secret, None, None, "t"))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test]
async fn a_china_region_request_reads_and_writes_aws_cn_arns() {
    let server = TestServer::start_with(|c| c.trail_delivery_secs = 1).await.unwrap();
    let (key, secret) = (server.access_key_id.clone(), server.secret_access_key.clone());
    let cn = "cn-north-1";
    let admin = iam_in(&server, cn, &key, &secret);
    // A trail of the Region, delivering from the start.
    let ct = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_cloudtrail::config::Region::new(cn))
            .endpoint_url(&server.endpoint)
            .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(&key, &secret, None, None, "t"))
            .build(),
    );
    crate::cloudtrail::trail_bucket(&s3_in(&server, cn, &key, &secret), "cn-trail").await;
    let trail = ct.create_trail().name("cn-audit").s3_bucket_name("cn-trail").send().await.unwrap();
    assert_eq!(
        trail.trail_arn(),
        Some(format!("arn:aws-cn:cloudtrail:cn-north-1:{ACCOUNT_ID}:trail/cn-audit").as_str())
    );
    ct.start_logging().name("cn-audit").send().await.unwrap();
    let me = sts_in(&server, cn, &key, &secret, None).get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(format!("arn:aws-cn:iam::{ACCOUNT_ID}:root").as_str()));

    let user = admin.create_user().user_name("li").send().await.unwrap();
    assert_eq!(user.user().unwrap().arn(), format!("arn:aws-cn:iam::{ACCOUNT_ID}:user/li"));
    // A policy written for the partition, attached by its partition's ARN.
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws-cn:s3:::cn-data/*"}}"#;
    let made = admin.create_policy().policy_name("read-data").policy_document(doc).send().await.unwrap();
    let policy_arn = made.policy().unwrap().arn().unwrap().to_owned();
    assert_eq!(policy_arn, format!("arn:aws-cn:iam::{ACCOUNT_ID}:policy/read-data"));
    admin.attach_user_policy().user_name("li").policy_arn(&policy_arn).send().await.unwrap();
    let version = admin.get_policy_version().policy_arn(&policy_arn).version_id("v1").send().await.unwrap();
    let shown = urlencoding_decode(version.policy_version().unwrap().document().unwrap());
    assert!(shown.contains("arn:aws-cn:s3:::cn-data/*"), "{shown}");
    let managed = admin
        .attach_user_policy()
        .user_name("li")
        .policy_arn("arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await;
    assert!(managed.is_ok(), "AWS managed policies carry the partition too: {managed:?}");
    let attached = admin.list_attached_user_policies().user_name("li").send().await.unwrap();
    let arns: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    assert!(arns.contains(&"arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess"), "{arns:?}");
    admin
        .detach_user_policy()
        .user_name("li")
        .policy_arn("arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();

    // The policy decides the partition's requests.
    let owner = s3_in(&server, cn, &key, &secret);
    for b in ["cn-data", "cn-other"] {
        owner.create_bucket().bucket(b).send().await.unwrap();
        owner.put_object().bucket(b).key("k").body(b"v".to_vec().into()).send().await.unwrap();
    }
    let k = admin.create_access_key().user_name("li").send().await.unwrap();
    let k = k.access_key().unwrap();
    let li = s3_in(&server, cn, k.access_key_id(), k.secret_access_key());
    li.get_object().bucket("cn-data").key("k").send().await.unwrap();
    assert!(li.get_object().bucket("cn-other").key("k").send().await.is_err());
    let li_iam = iam_in(&server, cn, k.access_key_id(), k.secret_access_key());
    let (code, message) = err(li_iam.list_users().send().await);
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        format!(
            "User: arn:aws-cn:iam::{ACCOUNT_ID}:user/li is not authorized to perform: iam:ListUsers on resource: \
             arn:aws-cn:iam::{ACCOUNT_ID}:user/ because no identity-based policy allows the iam:ListUsers action"
        )
    );

    // A trust policy naming the partition's root admits the account; the session is its partition's.
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;
    let role = admin.create_role().role_name("ops").assume_role_policy_document(trust).send().await.unwrap();
    let role_arn = role.role().unwrap().arn().to_owned();
    assert_eq!(role_arn, format!("arn:aws-cn:iam::{ACCOUNT_ID}:role/ops"));
    let assume = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws-cn:iam::123456789012:role/ops"}}"#;
    let (wei_key, wei_secret) = crate::iam::user_with_key(&admin, "wei", assume).await;
    let session = sts_in(&server, cn, &wei_key, &wei_secret, None)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    assert_eq!(session.assumed_role_user().unwrap().arn(), format!("arn:aws-cn:sts::{ACCOUNT_ID}:assumed-role/ops/s1"));

    // GovCloud likewise; and the same account through a Region of `aws` reads the inner form.
    let gov = iam_in(&server, "us-gov-west-1", &key, &secret);
    let got = gov.get_user().user_name("li").send().await.unwrap();
    assert_eq!(got.user().unwrap().arn(), format!("arn:aws-us-gov:iam::{ACCOUNT_ID}:user/li"));
    let commercial = iam_in(&server, "us-east-1", &key, &secret);
    let got = commercial.get_user().user_name("li").send().await.unwrap();
    assert_eq!(got.user().unwrap().arn(), format!("arn:aws:iam::{ACCOUNT_ID}:user/li"));

    // The trail's record of a China request names the partition's ARNs.
    let events = crate::events_named(&server, "CreateUser", 1).await;
    let ev = events.iter().find(|e| e["awsRegion"] == cn).unwrap();
    assert_eq!(ev["awsRegion"], cn);
    let lookup = &ct;
    let attr = aws_sdk_cloudtrail::types::LookupAttribute::builder()
        .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
        .attribute_value("CreateUser")
        .build()
        .unwrap();
    let mut found = None;
    for _ in 0..100 {
        let out = lookup.lookup_events().lookup_attributes(attr.clone()).send().await.unwrap();
        if let Some(e) = out.events().first() {
            found = e.cloud_trail_event().map(str::to_owned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let record: serde_json::Value = serde_json::from_str(&found.expect("CreateUser in event history")).unwrap();
    assert_eq!(record["userIdentity"]["arn"], format!("arn:aws-cn:iam::{ACCOUNT_ID}:root"));
    // And the trail delivers it so.
    let owner = s3_in(&server, cn, &key, &secret);
    for _ in 0..100 {
        let files = crate::cloudtrail::log_files(&owner, "cn-trail", "AWSLogs/").await;
        let records: Vec<&serde_json::Value> = files.iter().flat_map(|(_, rs)| rs.iter()).collect();
        if let Some(r) = records.iter().find(|r| r["eventName"] == "CreateUser") {
            assert_eq!(r["userIdentity"]["arn"], format!("arn:aws-cn:iam::{ACCOUNT_ID}:root"));
            assert_eq!(r["responseElements"]["user"]["arn"], format!("arn:aws-cn:iam::{ACCOUNT_ID}:user/li"));
            assert!(files.iter().all(|(k, _)| k.contains("/CloudTrail/cn-north-1/")), "IAM is recorded in cn-north-1");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the trail delivered no CreateUser");
}

/// IAM's policy documents come back URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned()
}
