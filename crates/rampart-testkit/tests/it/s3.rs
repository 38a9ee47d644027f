//! The S3 subset through the official SDK: buckets and objects, listings with prefixes,
//! delimiters and continuation tokens, S3's errors, integrity checks, and IAM policies on bucket
//! and object ARNs decided on every request.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use crate::iam::root;
use rampart_testkit::TestServer;

pub(crate) fn s3(server: &TestServer, id: &str, secret: &str) -> aws_sdk_s3::Client {
    s3_with(server, id, secret, None)
}

/// An S3 client for `server` (path-style), with a session token for temporary credentials.
pub(crate) fn s3_with(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Runs a Python `script` with boto3 (given the server's port, then the root key and secret, as
/// arguments) and reads what it prints as JSON; no profile or endpoint of the environment applies.
pub(crate) async fn boto3(server: &TestServer, script: &str) -> serde_json::Value {
    boto3_as(server, script, &server.access_key_id, &server.secret_access_key).await
}

/// [`boto3`], signing with another access key.
pub(crate) async fn boto3_as(server: &TestServer, script: &str, id: &str, secret: &str) -> serde_json::Value {
    let port = server.running.as_ref().expect("a running server").addr.port().to_string();
    let out = tokio::process::Command::new("python3")
        .args(["-c", script, &port, id, secret])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .await
        .expect("python3 with boto3 (.ci/run installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

pub(crate) fn code<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => match e.as_service_error() {
            Some(se) => se.code().unwrap_or("NoCode").to_owned(),
            None => format!("NotAServiceError: {e:?}"),
        },
    }
}

#[tokio::test]
async fn buckets_and_objects_round_trip_with_s3s_errors() {
    let mut server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("receipts").send().await.unwrap();
    // Creating a bucket you own again succeeds in us-east-1 (legacy compatibility), and is
    // BucketAlreadyOwnedByYou in every other region.
    assert_eq!(code(c.create_bucket().bucket("receipts").send().await), "OK");
    let in_ireland = || {
        let config = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
            .build();
        c.create_bucket().bucket("receipts-eu").create_bucket_configuration(config).send()
    };
    assert_eq!(code(in_ireland().await), "OK");
    assert_eq!(code(in_ireland().await), "BucketAlreadyOwnedByYou");
    assert_eq!(code(c.create_bucket().bucket("Bad_Name").send().await), "InvalidBucketName");
    let names: Vec<String> =
        c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    assert_eq!(names, ["receipts", "receipts-eu"]);
    // A page at a time, and only those under a prefix or in a region when asked.
    let first = c.list_buckets().max_buckets(1).send().await.unwrap();
    assert_eq!(first.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["receipts"]);
    let token = first.continuation_token().expect("more to list").to_owned();
    let second = c.list_buckets().max_buckets(1).continuation_token(token).send().await.unwrap();
    assert_eq!(second.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["receipts-eu"]);
    assert_eq!(second.continuation_token(), None);
    let irish = c.list_buckets().bucket_region("eu-west-1").send().await.unwrap();
    assert_eq!(irish.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["receipts-eu"]);
    let under = c.list_buckets().prefix("receipts-").send().await.unwrap();
    assert_eq!((under.buckets().len(), under.prefix()), (1, Some("receipts-")));
    assert_eq!(code(c.list_buckets().continuation_token("%%%").send().await), "InvalidArgument");
    c.delete_bucket().bucket("receipts-eu").send().await.unwrap();

    let body = b"latte 4.50\nscone 3.00\n".to_vec();
    let put = c
        .put_object()
        .bucket("receipts")
        .key("2026/11/23/order 1.txt")
        .content_type("text/plain")
        .metadata("till", "3")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    // The ETag of a single-part upload is the quoted hex MD5 of the bytes.
    let etag = put.e_tag().unwrap();
    let hex = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap();
    assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{etag}");
    let got = c.get_object().bucket("receipts").key("2026/11/23/order 1.txt").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.e_tag(), put.e_tag());
    assert_eq!(got.metadata().and_then(|m| m.get("till")).map(String::as_str), Some("3"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());
    let head = c.head_object().bucket("receipts").key("2026/11/23/order 1.txt").send().await.unwrap();
    assert_eq!(head.content_length(), Some(i64::try_from(body.len()).unwrap()));

    assert_eq!(code(c.get_object().bucket("receipts").key("nope").send().await), "NoSuchKey");
    assert_eq!(code(c.get_object().bucket("no-such-bucket").key("k").send().await), "NoSuchBucket");
    assert_eq!(code(c.head_object().bucket("receipts").key("nope").send().await), "NotFound");
    // A body that does not match its Content-MD5 is refused, and nothing is stored.
    let bad = c
        .put_object()
        .bucket("receipts")
        .key("tampered")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from(b"not empty".to_vec()))
        .send()
        .await;
    assert_eq!(code(bad), "BadDigest");
    assert_eq!(code(c.head_object().bucket("receipts").key("tampered").send().await), "NotFound");

    assert_eq!(code(c.delete_bucket().bucket("receipts").send().await), "BucketNotEmpty");
    c.delete_object().bucket("receipts").key("2026/11/23/order 1.txt").send().await.unwrap();
    c.delete_object().bucket("receipts").key("already-gone").send().await.unwrap();
    c.delete_bucket().bucket("receipts").send().await.unwrap();
    assert_eq!(code(c.head_bucket().bucket("receipts").send().await), "NotFound");

    // The trail has the call and its parameters, never the object's bytes.
    let events = server.audit_events(1).await.unwrap();
    let put_ev = events
        .iter()
        .find(|e| e["eventName"] == "PutObject" && e["errorCode"].is_null())
        .expect("PutObject is audited");
    assert_eq!(put_ev["eventSource"], "s3.amazonaws.com");
    assert_eq!(put_ev["requestParameters"]["bucketName"], "receipts", "CloudTrail's name for it");
    assert!(put_ev["requestParameters"]["bucket"].is_null());
    assert_eq!(put_ev["requestParameters"]["Host"], server.endpoint.trim_start_matches("http://"));
    assert_eq!(put_ev["requestParameters"]["key"], "2026/11/23/order 1.txt");
    assert!(!serde_json::to_string(&events).unwrap().contains("latte"), "object bytes reached the trail");
    server.stop().await;
}

#[tokio::test]
async fn listings_roll_up_prefixes_and_page_with_continuation_tokens() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("menu").send().await.unwrap();
    for k in ["drinks/latte", "drinks/mocha", "food/scone", "food/bagel", "specials", "zz-top"] {
        c.put_object().bucket("menu").key(k).body(ByteStream::from(k.as_bytes().to_vec())).send().await.unwrap();
    }
    let top = c.list_objects_v2().bucket("menu").delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = top.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = top.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!((keys, prefixes), (vec!["specials", "zz-top"], vec!["drinks/", "food/"]));
    assert_eq!(top.key_count(), Some(4));

    let food = c.list_objects_v2().bucket("menu").prefix("food/").send().await.unwrap();
    let keys: Vec<&str> = food.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["food/bagel", "food/scone"], "UTF-8 binary order");
    assert_eq!(food.contents()[0].size(), Some(10));

    // Pages of two, each token leading on, every key once.
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page =
            c.list_objects_v2().bucket("menu").max_keys(2).set_continuation_token(token.clone()).send().await.unwrap();
        pages += 1;
        all.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(all, ["drinks/latte", "drinks/mocha", "food/bagel", "food/scone", "specials", "zz-top"]);
    let after = c.list_objects_v2().bucket("menu").start_after("food/scone").send().await.unwrap();
    assert_eq!(after.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["specials", "zz-top"]);
    let bad = c.list_objects_v2().bucket("menu").continuation_token("!!not-a-token!!").send().await;
    assert_eq!(code(bad), "InvalidArgument");

    // Version 1 pages by marker; NextMarker comes with a delimiter, else the last key leads on.
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c.list_objects().bucket("menu").max_keys(4).set_marker(marker.clone()).send().await.unwrap();
        assert_eq!(page.next_marker(), None);
        all.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        marker = all.last().cloned();
    }
    assert_eq!(all, ["drinks/latte", "drinks/mocha", "food/bagel", "food/scone", "specials", "zz-top"]);
    let first = c.list_objects().bucket("menu").delimiter("/").max_keys(1).send().await.unwrap();
    assert_eq!(first.common_prefixes()[0].prefix(), Some("drinks/"));
    assert_eq!(first.next_marker(), Some("drinks/"));
    let rest = c.list_objects().bucket("menu").delimiter("/").marker("drinks/").send().await.unwrap();
    let prefixes: Vec<&str> = rest.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["food/"], "past everything under the marker's prefix");
    // GetBucketLocation: us-east-1 buckets have an empty location constraint element, which the
    // SDK reads as "" (as it does from S3).
    let loc = c.get_bucket_location().bucket("menu").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()), Some(""));
    assert_eq!(code(c.get_bucket_location().bucket("no-such-menu").send().await), "NoSuchBucket");

    // AWS's managed AmazonS3ReadOnlyAccess    assert_eq!(code(bad), "InvalidArgument");

    // AWS's managed AmazonS3ReadOnlyAccess reads and lists, and writes nothing.
    let iam = root(&server);
    iam.create_user().user_name("reader").send().await.unwrap();
    let ro = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    iam.attach_user_policy().user_name("reader").policy_arn(ro).send().await.unwrap();
    let k = iam.create_access_key().user_name("reader").send().await.unwrap();
    let k = k.access_key().unwrap();
    let reader = s3(&server, k.access_key_id(), k.secret_access_key());
    assert_eq!(code(reader.get_object().bucket("menu").key("specials").send().await), "OK");
    assert_eq!(code(reader.list_buckets().send().await), "OK");
    let put = reader.put_object().bucket("menu").key("x").body(ByteStream::from(b"x".to_vec())).send().await;
    assert_eq!(code(put), "AccessDenied");
}

const CASHIERS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::coffee-receipts/*"},
  {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::coffee-receipts"}]}"#;
const INVENTORY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::coffee-inventory/*"},
  {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::coffee-inventory","Condition":{"StringLike":{"s3:prefix":"stock/*"}}}]}"#;

/// The seeds' coffee shop, as the README walks through it: a group policy scoped to one bucket ARN
/// decides what each cashier's own key can do, and moving a user between groups changes that on
/// the next request.
#[tokio::test]
async fn coffee_shop_walkthrough_scopes_cashiers_to_one_bucket() {
    let server = TestServer::start().await.unwrap();
    let iam = root(&server);
    let owner = s3(&server, &server.access_key_id, &server.secret_access_key);
    for b in ["coffee-receipts", "coffee-inventory"] {
        owner.create_bucket().bucket(b).send().await.unwrap();
    }
    for (group, doc) in [("Cashiers", CASHIERS), ("InventorySpecialists", INVENTORY)] {
        iam.create_group().group_name(group).send().await.unwrap();
        let p = iam.create_policy().policy_name(format!("{group}Access")).policy_document(doc).send().await.unwrap();
        iam.attach_group_policy()
            .group_name(group)
            .policy_arn(p.policy().unwrap().arn().unwrap())
            .send()
            .await
            .unwrap();
    }
    iam.create_user().user_name("ana").send().await.unwrap();
    iam.add_user_to_group().group_name("Cashiers").user_name("ana").send().await.unwrap();
    let k = iam.create_access_key().user_name("ana").send().await.unwrap();
    let k = k.access_key().unwrap();
    let ana = s3(&server, k.access_key_id(), k.secret_access_key());

    // Exactly the Cashiers policy: the receipts bucket, nothing else.
    let put = |bucket: &str, key: &str| {
        ana.put_object().bucket(bucket).key(key).body(ByteStream::from(b"1 latte".to_vec())).send()
    };
    assert_eq!(code(put("coffee-receipts", "r1").await), "OK");
    assert_eq!(code(ana.get_object().bucket("coffee-receipts").key("r1").send().await), "OK");
    assert_eq!(code(ana.list_objects_v2().bucket("coffee-receipts").send().await), "OK");
    let denied = put("coffee-inventory", "stock/beans").await.unwrap_err();
    let se = denied.as_service_error().unwrap();
    assert_eq!(se.code(), Some("AccessDenied"));
    assert_eq!(
        se.message(),
        Some(
            "User: arn:aws:iam::123456789012:user/ana is not authorized to perform: s3:PutObject on resource: \
             arn:aws:s3:::coffee-inventory/stock/beans because no identity-based policy allows the s3:PutObject action"
        )
    );
    assert_eq!(code(ana.delete_object().bucket("coffee-receipts").key("r1").send().await), "AccessDenied");
    assert_eq!(code(ana.list_buckets().send().await), "AccessDenied");

    // Moved to InventorySpecialists: the very next request is decided by the new group's policy.
    iam.remove_user_from_group().group_name("Cashiers").user_name("ana").send().await.unwrap();
    iam.add_user_to_group().group_name("InventorySpecialists").user_name("ana").send().await.unwrap();
    assert_eq!(code(put("coffee-receipts", "r2").await), "AccessDenied");
    assert_eq!(code(put("coffee-inventory", "stock/beans").await), "OK");
    // s3:prefix is a condition key of ListBucket.
    assert_eq!(code(ana.list_objects_v2().bucket("coffee-inventory").prefix("stock/").send().await), "OK");
    assert_eq!(code(ana.list_objects_v2().bucket("coffee-inventory").send().await), "AccessDenied");
}
