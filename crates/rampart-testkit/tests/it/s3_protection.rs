//! S3's data protection through the official SDK and raw unsigned requests: bucket policies
//! weighed with the caller's own (same account, another account, anonymous), Block Public Access
//! (a public policy refused, then restricted), versions and delete markers, DeleteObjects with a
//! refused key, objects sealed at rest, and the sub-resources clients read.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CorsConfiguration, CorsRule, Delete, ObjectIdentifier, PublicAccessBlockConfiguration, Tag,
    Tagging, VersioningConfiguration,
};

use crate::iam::{root, user_with_key};
use crate::s3::{code, s3};
use rampart_testkit::TestServer;

/// An unsigned GET, as a browser or `curl` sends it.
async fn anonymous_get(server: &TestServer, path: &str) -> (u16, String) {
    let req = http::Request::get(format!("{}{path}", server.endpoint)).body(Vec::new()).unwrap();
    let r = rampart_testkit::send(req).await.unwrap();
    (r.status, r.body)
}

async fn put(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    c.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await.unwrap()
}

async fn read(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Dev mode reads a 12-digit access key id as that account's administrator, so two accounts are
/// two keys: each account's identity policies allow it everything, and only the bucket policy
/// can let the other in.
#[tokio::test]
async fn bucket_policies_admit_other_accounts_and_everyone_as_block_public_access_permits() {
    let server = TestServer::start_with(|c| c.dev = true).await.unwrap();
    let alice = s3(&server, "111111111111", "secret");
    let bob = s3(&server, "222222222222", "secret");
    alice.create_bucket().bucket("alice-shared").send().await.unwrap();
    put(&alice, "alice-shared", "menu.txt", b"espresso 2.50").await;

    // Another account's bucket: nothing without its policy, whatever the caller's own policies say.
    assert_eq!(code(bob.get_object().bucket("alice-shared").key("menu.txt").send().await), "AccessDenied");
    assert_eq!(code(bob.list_objects_v2().bucket("alice-shared").send().await), "AccessDenied");
    assert_eq!(anonymous_get(&server, "/alice-shared/menu.txt").await.0, 403);

    let for_bob = r#"{"Version":"2012-10-17","Statement":[{"Sid":"BobReads","Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::alice-shared/*"}]}"#;
    alice.put_bucket_policy().bucket("alice-shared").policy(for_bob).send().await.unwrap();
    assert_eq!(read(&bob, "alice-shared", "menu.txt").await, b"espresso 2.50");
    assert_eq!(
        code(bob.put_object().bucket("alice-shared").key("x").body(ByteStream::from_static(b"x")).send().await),
        "AccessDenied"
    );
    // The policy is its owner's: another account reading it is not allowed the method at all.
    assert_eq!(code(bob.get_bucket_policy().bucket("alice-shared").send().await), "AccessDenied");
    let status = alice.get_bucket_policy_status().bucket("alice-shared").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(false));

    // New buckets block public policies: a policy for everyone is refused, and says why.
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-shared/*"}]}"#;
    let refused = alice.put_bucket_policy().bucket("alice-shared").policy(public).send().await.unwrap_err();
    let se = refused.as_service_error().unwrap();
    assert_eq!(se.code(), Some("AccessDenied"));
    assert!(se.message().unwrap().contains("BlockPublicPolicy"), "{:?}", se.message());
    assert_eq!(anonymous_get(&server, "/alice-shared/menu.txt").await.0, 403);

    // With Block Public Access off, the public policy serves unsigned requests.
    let pab = alice.get_public_access_block().bucket("alice-shared").send().await.unwrap();
    assert_eq!(pab.public_access_block_configuration().and_then(|c| c.block_public_policy()), Some(true));
    alice.delete_public_access_block().bucket("alice-shared").send().await.unwrap();
    assert_eq!(
        code(alice.get_public_access_block().bucket("alice-shared").send().await),
        "NoSuchPublicAccessBlockConfiguration"
    );
    alice.put_bucket_policy().bucket("alice-shared").policy(public).send().await.unwrap();
    let status = alice.get_bucket_policy_status().bucket("alice-shared").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));
    assert_eq!(anonymous_get(&server, "/alice-shared/menu.txt").await, (200, "espresso 2.50".to_owned()));
    // Anonymous callers get only what the policy names.
    assert_eq!(anonymous_get(&server, "/alice-shared?list-type=2").await.0, 403);
    assert_eq!(code(bob.get_object().bucket("alice-shared").key("menu.txt").send().await), "OK");

    // RestrictPublicBuckets: a public policy then admits only the owner's account.
    let restrict = PublicAccessBlockConfiguration::builder().restrict_public_buckets(true).build();
    alice
        .put_public_access_block()
        .bucket("alice-shared")
        .public_access_block_configuration(restrict)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&server, "/alice-shared/menu.txt").await.0, 403);
    assert_eq!(code(bob.get_object().bucket("alice-shared").key("menu.txt").send().await), "AccessDenied");
    assert_eq!(read(&alice, "alice-shared", "menu.txt").await, b"espresso 2.50");

    // An explicit deny in the bucket policy binds the owner's own administrators.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
        "Action":"s3:DeleteObject","Resource":"arn:aws:s3:::alice-shared/*"}]}"#;
    alice.put_bucket_policy().bucket("alice-shared").policy(deny).send().await.unwrap();
    assert_eq!(code(alice.delete_object().bucket("alice-shared").key("menu.txt").send().await), "AccessDenied");

    // S3 checks a policy's grammar and that it speaks of this bucket only.
    for bad in [
        "not json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-shared/*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
    ] {
        assert_eq!(
            code(alice.put_bucket_policy().bucket("alice-shared").policy(bad).send().await),
            "MalformedPolicy",
            "{bad}"
        );
    }
    alice.delete_bucket_policy().bucket("alice-shared").send().await.unwrap();
    assert_eq!(code(alice.get_bucket_policy().bucket("alice-shared").send().await), "NoSuchBucketPolicy");
    assert_eq!(code(bob.get_object().bucket("alice-shared").key("menu.txt").send().await), "AccessDenied");

    // The anonymous read is in the trail as AWS records it.
    let events = crate::events_named(&server, "GetObject", 1).await;
    let anonymous: Vec<_> = events.iter().filter(|e| e["userIdentity"]["accountId"] == "ANONYMOUS_PRINCIPAL").collect();
    assert!(!anonymous.is_empty(), "no anonymous GetObject event");
    assert_eq!(anonymous[0]["userIdentity"]["type"], "AWSAccount");
}

#[tokio::test]
async fn versions_and_delete_markers_keep_every_write_until_a_version_is_deleted() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("ledger").send().await.unwrap();
    let status = c.get_bucket_versioning().bucket("ledger").send().await.unwrap();
    assert_eq!(status.status(), None);
    let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("ledger").versioning_configuration(enabled).send().await.unwrap();
    assert_eq!(
        c.get_bucket_versioning().bucket("ledger").send().await.unwrap().status(),
        Some(&BucketVersioningStatus::Enabled)
    );

    let v1 = put(&c, "ledger", "day.txt", b"open 100").await.version_id().unwrap().to_owned();
    let v2 = put(&c, "ledger", "day.txt", b"close 250").await.version_id().unwrap().to_owned();
    assert_ne!(v1, v2);
    assert_eq!(read(&c, "ledger", "day.txt").await, b"close 250");
    let old = c.get_object().bucket("ledger").key("day.txt").version_id(&v1).send().await.unwrap();
    assert_eq!(old.version_id(), Some(v1.as_str()));
    assert_eq!(old.body.collect().await.unwrap().into_bytes().as_ref(), b"open 100");
    assert_eq!(
        code(c.get_object().bucket("ledger").key("day.txt").version_id("not-a-version").send().await),
        "InvalidArgument"
    );

    // A delete without a version hides the object behind a marker; nothing is lost.
    let del = c.delete_object().bucket("ledger").key("day.txt").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().unwrap().to_owned();
    assert_eq!(code(c.get_object().bucket("ledger").key("day.txt").send().await), "NoSuchKey");
    assert_eq!(c.list_objects_v2().bucket("ledger").send().await.unwrap().key_count(), Some(0));
    let versions = c.list_object_versions().bucket("ledger").send().await.unwrap();
    let ids: Vec<(&str, bool)> =
        versions.versions().iter().map(|v| (v.version_id().unwrap(), v.is_latest().unwrap())).collect();
    assert_eq!(ids, [(v2.as_str(), false), (v1.as_str(), false)]);
    let markers = versions.delete_markers();
    assert_eq!(markers.len(), 1);
    assert_eq!((markers[0].version_id(), markers[0].is_latest()), (Some(marker.as_str()), Some(true)));
    // Deleting the marker brings the object back.
    c.delete_object().bucket("ledger").key("day.txt").version_id(&marker).send().await.unwrap();
    assert_eq!(read(&c, "ledger", "day.txt").await, b"close 250");

    // Paging through versions one at a time visits each once.
    let (mut seen, mut key_marker, mut version_marker) = (Vec::new(), None::<String>, None::<String>);
    loop {
        let page = c
            .list_object_versions()
            .bucket("ledger")
            .max_keys(1)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.versions().iter().map(|v| v.version_id().unwrap().to_owned()));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    assert_eq!(seen, [v2.clone(), v1.clone()]);

    // Suspended: new writes are the null version, each replacing the last.
    let suspended = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    c.put_bucket_versioning().bucket("ledger").versioning_configuration(suspended).send().await.unwrap();
    put(&c, "ledger", "day.txt", b"null one").await;
    put(&c, "ledger", "day.txt", b"null two").await;
    let versions = c.list_object_versions().bucket("ledger").send().await.unwrap();
    let ids: Vec<&str> = versions.versions().iter().map(|v| v.version_id().unwrap()).collect();
    assert_eq!(ids, ["null", v2.as_str(), v1.as_str()]);
    assert_eq!(read(&c, "ledger", "day.txt").await, b"null two");

    // A non-empty bucket stays; deleting every version empties it (Terraform's force_destroy).
    assert_eq!(code(c.delete_bucket().bucket("ledger").send().await), "BucketNotEmpty");
    let all: Vec<ObjectIdentifier> = versions
        .versions()
        .iter()
        .map(|v| ObjectIdentifier::builder().key(v.key().unwrap()).version_id(v.version_id().unwrap()).build().unwrap())
        .collect();
    let out = c
        .delete_objects()
        .bucket("ledger")
        .delete(Delete::builder().set_objects(Some(all)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 3);
    assert!(out.errors().is_empty());
    c.delete_bucket().bucket("ledger").send().await.unwrap();
}

#[tokio::test]
async fn delete_objects_reports_each_refused_key_beside_the_deleted_ones() {
    let server = TestServer::start().await.unwrap();
    let owner = s3(&server, &server.access_key_id, &server.secret_access_key);
    owner.create_bucket().bucket("archive").send().await.unwrap();
    for k in ["tmp/a", "tmp/b", "keep/c"] {
        put(&owner, "archive", k, b"x").await;
    }
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:DeleteObject","s3:ListBucket"],"Resource":["arn:aws:s3:::archive","arn:aws:s3:::archive/*"]},
        {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::archive/keep/*"}]}"#;
    let (id, secret) = user_with_key(&root(&server), "cleaner", policy).await;
    let cleaner = s3(&server, &id, &secret);
    let objects: Vec<ObjectIdentifier> =
        ["tmp/a", "keep/c", "tmp/b"].iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
    let out = cleaner
        .delete_objects()
        .bucket("archive")
        .delete(Delete::builder().set_objects(Some(objects)).build().unwrap())
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["tmp/a", "tmp/b"]);
    let errors: Vec<(&str, &str)> = out.errors().iter().map(|e| (e.key().unwrap(), e.code().unwrap())).collect();
    assert_eq!(errors, [("keep/c", "AccessDenied")]);
    let left = owner.list_objects_v2().bucket("archive").send().await.unwrap();
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["keep/c"]);
}

#[tokio::test]
async fn object_bytes_are_sealed_at_rest_and_default_encryption_is_sse_s3() {
    let mut server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("vault").send().await.unwrap();
    let enc = c.get_bucket_encryption().bucket("vault").send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    let pattern = b"RAMPART-PLAINTEXT-CANARY-7f3a9c".repeat(64);
    let out = put(&c, "vault", "canary.bin", &pattern).await;
    assert_eq!(out.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
    let head = c.head_object().bucket("vault").key("canary.bin").send().await.unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
    assert_eq!(read(&c, "vault", "canary.bin").await, pattern);
    server.stop().await;
    let stored = server.stored_bytes().unwrap();
    let needle = b"RAMPART-PLAINTEXT-CANARY";
    assert!(!stored.windows(needle.len()).any(|w| w == needle), "the object's bytes are in the store in clear");
    // Restarted, the bytes still open.
    server.restart().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    assert_eq!(read(&c, "vault", "canary.bin").await, pattern);
}

#[tokio::test]
async fn ownership_acls_tags_and_sub_resources_answer_as_s3_does() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("shop").send().await.unwrap();
    let own = c.get_bucket_ownership_controls().bucket("shop").send().await.unwrap();
    let rule = &own.ownership_controls().unwrap().rules()[0];
    assert_eq!(rule.object_ownership().as_str(), "BucketOwnerEnforced");
    // ACLs are off: a canned ACL granting others is refused, the owner's own accepted.
    let acl = |a: aws_sdk_s3::types::ObjectCannedAcl| {
        c.put_object().bucket("shop").key("a").acl(a).body(ByteStream::from_static(b"x")).send()
    };
    assert_eq!(code(acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead).await), "AccessControlListNotSupported");
    assert_eq!(code(acl(aws_sdk_s3::types::ObjectCannedAcl::BucketOwnerFullControl).await), "OK");
    let grants = c.get_bucket_acl().bucket("shop").send().await.unwrap();
    assert_eq!(grants.grants().len(), 1);
    assert_eq!(grants.grants()[0].permission().map(|p| p.as_str()), Some("FULL_CONTROL"));
    // The grantee's type is its `xsi:type` attribute, as S3 writes it.
    assert_eq!(grants.grants()[0].grantee().map(|g| g.r#type().as_str()), Some("CanonicalUser"));
    assert_eq!(
        code(c.create_bucket().bucket("shop-public").acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead).send().await),
        "InvalidBucketAclWithObjectOwnership"
    );

    // Tags: the bucket's (up to 50), an object's (up to 10).
    assert_eq!(code(c.get_bucket_tagging().bucket("shop").send().await), "NoSuchTagSet");
    let tags = |pairs: &[(&str, &str)]| {
        let set: Vec<Tag> = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
        Tagging::builder().set_tag_set(Some(set)).build().unwrap()
    };
    c.put_bucket_tagging().bucket("shop").tagging(tags(&[("team", "cafe")])).send().await.unwrap();
    let got = c.get_bucket_tagging().bucket("shop").send().await.unwrap();
    assert_eq!(got.tag_set()[0].value(), "cafe");
    c.put_object_tagging().bucket("shop").key("a").tagging(tags(&[("class", "public")])).send().await.unwrap();
    let got = c.get_object_tagging().bucket("shop").key("a").send().await.unwrap();
    assert_eq!(got.tag_set()[0].key(), "class");
    let too_many: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let too_many: Vec<(&str, &str)> = too_many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        code(c.put_object_tagging().bucket("shop").key("a").tagging(tags(&too_many)).send().await),
        "InvalidTag"
    );

    // Sub-resources a bucket lacks answer S3's own errors or defaults; written ones come back.
    assert_eq!(code(c.get_bucket_cors().bucket("shop").send().await), "NoSuchCORSConfiguration");
    assert_eq!(code(c.get_bucket_website().bucket("shop").send().await), "NoSuchWebsiteConfiguration");
    assert_eq!(
        code(c.get_bucket_lifecycle_configuration().bucket("shop").send().await),
        "NoSuchLifecycleConfiguration"
    );
    assert_eq!(code(c.get_bucket_replication().bucket("shop").send().await), "ReplicationConfigurationNotFoundError");
    assert_eq!(
        code(c.get_object_lock_configuration().bucket("shop").send().await),
        "ObjectLockConfigurationNotFoundError"
    );
    let payer = c.get_bucket_request_payment().bucket("shop").send().await.unwrap();
    assert_eq!(payer.payer().map(|p| p.as_str()), Some("BucketOwner"));
    assert!(c.get_bucket_logging().bucket("shop").send().await.unwrap().logging_enabled().is_none());
    assert!(c.get_bucket_accelerate_configuration().bucket("shop").send().await.unwrap().status().is_none());
    let rule = CorsRule::builder()
        .allowed_methods("GET")
        .allowed_origins("https://shop.example")
        .max_age_seconds(600)
        .build()
        .unwrap();
    let cors = CorsConfiguration::builder().cors_rules(rule).build().unwrap();
    c.put_bucket_cors().bucket("shop").cors_configuration(cors).send().await.unwrap();
    let got = c.get_bucket_cors().bucket("shop").send().await.unwrap();
    assert_eq!(got.cors_rules()[0].allowed_origins(), ["https://shop.example"]);
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(600));
    c.delete_bucket_cors().bucket("shop").send().await.unwrap();
    assert_eq!(code(c.get_bucket_cors().bucket("shop").send().await), "NoSuchCORSConfiguration");
}

/// SSE-KMS: the bucket's default key encrypts each object under a data key of its own; writing
/// needs `kms:GenerateDataKey` and reading `kms:Decrypt` on that key, through S3, besides the S3
/// permissions; a disabled key stops reads with KMS's error under S3's name.
#[tokio::test]
async fn sse_kms_needs_the_key_permissions_through_s3_and_a_usable_key() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let mut server = TestServer::start().await.unwrap();
    let owner = s3(&server, &server.access_key_id, &server.secret_access_key);
    let kms = crate::kms::kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn().unwrap().to_owned();
    owner.create_bucket().bucket("payroll").send().await.unwrap();
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key.key_id())
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
    let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
    owner.put_bucket_encryption().bucket("payroll").server_side_encryption_configuration(config).send().await.unwrap();

    let s3_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::payroll/*"}]}"#;
    let with_kms = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::payroll/*"},
        {"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
         "Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}"#;
    let iam = root(&server);
    let (id, secret) = user_with_key(&iam, "clerk", s3_only).await;
    let clerk = s3(&server, &id, &secret);
    let (id, secret) = user_with_key(&iam, "payroll-admin", with_kms).await;
    let admin = s3(&server, &id, &secret);

    let denied = clerk.put_object().bucket("payroll").key("june.csv").body(ByteStream::from_static(b"x")).send().await;
    let denied = denied.unwrap_err();
    let se = denied.as_service_error().unwrap();
    assert_eq!(se.code(), Some("AccessDenied"));
    assert!(se.message().unwrap().contains("kms:GenerateDataKey"), "{:?}", se.message());

    let secret_rows = b"PAYROLL-CANARY alice 5000\nbob 4800\n".repeat(16);
    let out = put(&admin, "payroll", "june.csv", &secret_rows).await;
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(out.ssekms_key_id(), Some(key_arn.as_str()));
    assert_eq!(read(&admin, "payroll", "june.csv").await, secret_rows);
    // Reading needs kms:Decrypt as well; the metadata does not.
    assert_eq!(code(clerk.get_object().bucket("payroll").key("june.csv").send().await), "AccessDenied");
    let head = owner.head_object().bucket("payroll").key("june.csv").send().await.unwrap();
    assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()));
    // The KMS key policy's own grant through IAM: the root user reads it.
    assert_eq!(read(&owner, "payroll", "june.csv").await, secret_rows);
    // S3's use of the key is KMS's own event, in the caller's name, invoked by S3, and the
    // key's last use.
    let made = crate::events_named(&server, "GenerateDataKey", 1).await;
    let made = made.iter().find(|e| e["userIdentity"]["userName"] == "payroll-admin").expect("the admin's write");
    assert_eq!(
        (&made["eventSource"], &made["userIdentity"]["invokedBy"], &made["sourceIPAddress"], &made["readOnly"]),
        (
            &serde_json::json!("kms.amazonaws.com"),
            &serde_json::json!("s3.amazonaws.com"),
            &serde_json::json!("s3.amazonaws.com"),
            &serde_json::json!(true)
        )
    );
    assert_eq!(made["requestParameters"]["encryptionContext"]["aws:s3:arn"], "arn:aws:s3:::payroll/june.csv");
    assert_eq!(made["requestParameters"]["keyId"], key_arn.as_str());
    assert_eq!(made["resources"][0]["ARN"], key_arn.as_str());
    let opened = crate::events_named(&server, "Decrypt", 2).await;
    assert!(opened.iter().any(|e| e["userIdentity"]["type"] == "Root"), "{opened:?}");
    let last = kms.get_key_last_usage().key_id(key.key_id()).send().await.unwrap();
    assert_eq!(last.key_last_usage().and_then(|u| u.operation()).map(|o| o.as_str()), Some("Decrypt"), "{last:?}");
    // S3's use of the key is KMS's own event, which the key's last use names.
    let used = last.key_last_usage().unwrap();
    let mut named = false;
    for _ in 0..50 {
        named = crate::events_named(&server, "Decrypt", 2).await.iter().any(|e| {
            e["eventID"] == used.cloud_trail_event_id().unwrap_or_default()
                && e["requestID"] == used.kms_request_id().unwrap_or_default()
        });
        if named {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(named, "{used:?}");

    // DSSE-KMS and an explicit SSE-S3 write round-trip too; a key that does not exist is KMS's error.
    let dsse = owner
        .put_object()
        .bucket("payroll")
        .key("july.csv")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(&key_arn)
        .body(ByteStream::from_static(b"two layers"))
        .send()
        .await
        .unwrap();
    assert_eq!(dsse.server_side_encryption(), Some(&ServerSideEncryption::AwsKmsDsse));
    assert_eq!(read(&owner, "payroll", "july.csv").await, b"two layers");
    let plain = owner
        .put_object()
        .bucket("payroll")
        .key("public.txt")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"menu"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let missing = owner
        .put_object()
        .bucket("payroll")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code(missing), "KMS.NotFoundException");

    // A disabled key stops reads of what it protects.
    kms.disable_key().key_id(key.key_id()).send().await.unwrap();
    assert_eq!(code(owner.get_object().bucket("payroll").key("june.csv").send().await), "KMS.DisabledException");
    assert_eq!(read(&owner, "payroll", "public.txt").await, b"menu");
    kms.enable_key().key_id(key.key_id()).send().await.unwrap();

    server.stop().await;
    let stored = server.stored_bytes().unwrap();
    assert!(!stored.windows(14).any(|w| w == b"PAYROLL-CANARY"), "SSE-KMS bytes are in the store in clear");
}

/// Object Lock: a COMPLIANCE-locked version survives its owner's root user until its date; a
/// GOVERNANCE-locked one yields only to a caller allowed to bypass who asks to; a legal hold
/// stops even that; delete markers still hide locked versions.
#[tokio::test]
async fn a_compliance_locked_version_survives_root_until_its_date() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
        ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule,
    };
    let server = TestServer::start().await.unwrap();
    let root_s3 = s3(&server, &server.access_key_id, &server.secret_access_key);
    root_s3.create_bucket().bucket("evidence").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let v = root_s3.get_bucket_versioning().bucket("evidence").send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    assert_eq!(
        code(root_s3.put_bucket_versioning().bucket("evidence").versioning_configuration(suspend).send().await),
        "InvalidBucketState"
    );
    let rule = ObjectLockRule::builder()
        .default_retention(DefaultRetention::builder().mode(ObjectLockRetentionMode::Compliance).days(1).build())
        .build();
    let config = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build();
    root_s3.put_object_lock_configuration().bucket("evidence").object_lock_configuration(config).send().await.unwrap();
    let got = root_s3.get_object_lock_configuration().bucket("evidence").send().await.unwrap();
    let got = got.object_lock_configuration().unwrap();
    assert_eq!(got.rule().and_then(|r| r.default_retention()).and_then(|d| d.days()), Some(1));

    // The default retention locks a new version under COMPLIANCE for a day.
    let v1 = put(&root_s3, "evidence", "ledger.csv", b"entries").await.version_id().unwrap().to_owned();
    let head = root_s3.head_object().bucket("evidence").key("ledger.csv").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let until = head.object_lock_retain_until_date().unwrap().secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now + 86_000..now + 86_500).contains(&until), "{until} vs {now}");
    let delete_v1 = || root_s3.delete_object().bucket("evidence").key("ledger.csv").version_id(&v1).send();
    assert_eq!(code(delete_v1().await), "AccessDenied");
    let bypassing = root_s3
        .delete_object()
        .bucket("evidence")
        .key("ledger.csv")
        .version_id(&v1)
        .bypass_governance_retention(true)
        .send()
        .await;
    assert_eq!(code(bypassing), "AccessDenied");
    let batch = root_s3
        .delete_objects()
        .bucket("evidence")
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("ledger.csv").version_id(&v1).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.errors().iter().map(|e| e.code().unwrap()).collect::<Vec<_>>(), ["AccessDenied"]);
    // Retention can be lengthened, never shortened, under COMPLIANCE.
    let shorter = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(now + 3_600))
        .build();
    assert_eq!(
        code(
            root_s3
                .put_object_retention()
                .bucket("evidence")
                .key("ledger.csv")
                .version_id(&v1)
                .retention(shorter)
                .send()
                .await
        ),
        "AccessDenied"
    );
    // A delete marker hides the version; the version stays.
    root_s3.delete_object().bucket("evidence").key("ledger.csv").send().await.unwrap();
    let old = root_s3.get_object().bucket("evidence").key("ledger.csv").version_id(&v1).send().await.unwrap();
    assert_eq!(old.body.collect().await.unwrap().into_bytes().as_ref(), b"entries");

    // GOVERNANCE yields to a bypass by a caller allowed it, not to one without the permission.
    let gov = root_s3
        .put_object()
        .bucket("evidence")
        .key("draft.txt")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(now + 86_400))
        .body(ByteStream::from_static(b"draft"))
        .send()
        .await
        .unwrap();
    let gv = gov.version_id().unwrap().to_owned();
    let editor_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:DeleteObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::evidence/*"}]}"#;
    let (id, secret) = user_with_key(&root(&server), "editor", editor_policy).await;
    let editor = s3(&server, &id, &secret);
    let bypass = |c: &aws_sdk_s3::Client| {
        c.delete_object().bucket("evidence").key("draft.txt").version_id(&gv).bypass_governance_retention(true).send()
    };
    assert_eq!(code(bypass(&editor).await), "AccessDenied");
    assert_eq!(
        code(root_s3.delete_object().bucket("evidence").key("draft.txt").version_id(&gv).send().await),
        "AccessDenied"
    );
    // A legal hold stops even a bypass; lifted, the bypass goes through.
    let hold = |s: ObjectLockLegalHoldStatus| {
        root_s3
            .put_object_legal_hold()
            .bucket("evidence")
            .key("draft.txt")
            .version_id(&gv)
            .legal_hold(ObjectLockLegalHold::builder().status(s).build())
            .send()
    };
    hold(ObjectLockLegalHoldStatus::On).await.unwrap();
    let got = root_s3.get_object_legal_hold().bucket("evidence").key("draft.txt").version_id(&gv).send().await.unwrap();
    assert_eq!(got.legal_hold().and_then(|h| h.status()), Some(&ObjectLockLegalHoldStatus::On));
    assert_eq!(code(bypass(&root_s3).await), "AccessDenied");
    hold(ObjectLockLegalHoldStatus::Off).await.unwrap();
    assert_eq!(code(bypass(&root_s3).await), "OK");
    assert_eq!(code(root_s3.delete_bucket().bucket("evidence").send().await), "BucketNotEmpty");
}

/// A store written before versions existed (one record per key, its bytes in clear beside it) is
/// moved into the versioned layout, sealed, on the next start: the object reads back the same and
/// its bytes are no longer in the store in clear.
#[tokio::test]
async fn objects_stored_before_versions_are_moved_and_sealed_on_start() {
    let mut server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("old-bucket").send().await.unwrap();
    server.stop().await;
    {
        let db = server.open_store().unwrap();
        let record = serde_json::json!({
            "v": 1, "key": "notes/old.txt", "size": 24, "etag": "\"0123456789abcdef0123456789abcdef\"",
            "last_modified": "2026-01-02T03:04:05Z", "content_type": "text/plain", "metadata": {"till": "1"}
        });
        db.transact(move |tx| -> Result<(), rampart_store::StoreError> {
            tx.put(b"s3/object/old-bucket/notes/old.txt", &serde_json::to_vec(&record).unwrap())?;
            tx.put(b"s3/data/old-bucket/notes/old.txt", b"LEGACY-CLEARTEXT-CANARY!")?;
            tx.delete(b"s3/layout").map(drop)
        })
        .await
        .unwrap();
        db.close();
    }
    server.restart().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    let got = c.get_object().bucket("old-bucket").key("notes/old.txt").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.metadata().and_then(|m| m.get("till")).map(String::as_str), Some("1"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"LEGACY-CLEARTEXT-CANARY!");
    let versions = c.list_object_versions().bucket("old-bucket").send().await.unwrap();
    assert_eq!(versions.versions().iter().filter_map(|v| v.version_id()).collect::<Vec<_>>(), ["null"]);
    server.stop().await;
    let stored = server.stored_bytes().unwrap();
    assert!(!stored.windows(16).any(|w| w == b"LEGACY-CLEARTEXT"), "the old bytes are still in clear");
}

/// A policy that lets everyone read only from the shop's pages (`aws:Referer`), as a website's
/// images bucket has it: a request from there is served, one without the header or from elsewhere
/// is refused.
#[tokio::test]
async fn a_referer_condition_serves_only_requests_from_the_named_pages() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("shop-images").send().await.unwrap();
    put(&c, "shop-images", "logo.png", b"png").await;
    c.delete_public_access_block().bucket("shop-images").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::shop-images/*","Condition":{"StringLike":{"aws:Referer":"https://shop.example.com/*"}}}]}"#;
    c.put_bucket_policy().bucket("shop-images").policy(policy).send().await.unwrap();
    let get = |referer: Option<&'static str>| {
        let mut req = http::Request::get(format!("{}/shop-images/logo.png", server.endpoint));
        if let Some(r) = referer {
            req = req.header("referer", r);
        }
        let req = req.body(Vec::new()).unwrap();
        async move { rampart_testkit::send(req).await.unwrap().status }
    };
    assert_eq!(get(Some("https://shop.example.com/products/1")).await, 200);
    assert_eq!(get(None).await, 403);
    assert_eq!(get(Some("https://elsewhere.example.net/")).await, 403);
}

/// A key whose current version is a delete marker reads as deleted, with S3's headers saying so
/// (a client can tell it from a key never written); the marker named by its id is a 405.
#[tokio::test]
async fn a_delete_marker_reads_as_deleted_with_s3s_headers() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("kept").send().await.unwrap();
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket("kept").versioning_configuration(on).send().await.unwrap();
    put(&c, "kept", "note.txt", b"v1").await;
    let marker = c.delete_object().bucket("kept").key("note.txt").send().await.unwrap();
    let marker_id = marker.version_id().unwrap().to_owned();
    let raw = |method: &'static str, path: String| {
        let req =
            http::Request::builder().method(method).uri(format!("{}{path}", server.endpoint)).body(Vec::new()).unwrap();
        server.signed(req, "s3")
    };
    let header =
        |r: &rampart_testkit::Raw, name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    for method in ["GET", "HEAD"] {
        let r = raw(method, "/kept/note.txt".to_owned()).await.unwrap();
        assert_eq!(r.status, 404, "{method}");
        assert_eq!(header(&r, "x-amz-delete-marker").as_deref(), Some("true"), "{method}");
        assert_eq!(header(&r, "x-amz-version-id"), Some(marker_id.clone()), "{method}");
    }
    let r = raw("GET", format!("/kept/note.txt?versionId={marker_id}")).await.unwrap();
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(header(&r, "x-amz-delete-marker").as_deref(), Some("true"));
    assert!(header(&r, "last-modified").is_some());
    // A key never written says nothing of markers.
    let r = raw("GET", "/kept/never.txt".to_owned()).await.unwrap();
    assert_eq!((r.status, header(&r, "x-amz-delete-marker")), (404, None));
}

/// boto3's S3 Control client for the server. S3 Control puts the account in front of the
/// endpoint's host (`ACCOUNT.localhost`), which no DNS here resolves: the client reaches the
/// server as its HTTP proxy, as a user without such a DNS name would, and sends that Host.
pub(crate) const S3CONTROL: &str = r#"
import boto3, json, sys
from botocore.config import Config
from botocore.exceptions import ClientError
port, key, secret = sys.argv[1:4]
c = boto3.client('s3control', endpoint_url=f'http://localhost:{port}', region_name='us-east-1',
    aws_access_key_id=key, aws_secret_access_key=secret,
    config=Config(proxies={'http': f'http://127.0.0.1:{port}'}, retries={'max_attempts': 1}))
def code(f):
    try:
        f()
        return 'OK'
    except ClientError as e:
        return e.response['Error']['Code']
"#;

/// The account's own Block Public Access (S3 Control's PublicAccessBlock) binds every bucket the
/// account owns, those whose own settings are off included, and no other account's; an IAM user
/// needs S3's account-level actions for it; deleting it leaves each bucket to its own settings.
#[tokio::test]
async fn account_level_block_public_access_binds_every_bucket_of_the_account() {
    let server = TestServer::start_with(|c| c.dev = true).await.unwrap();
    let mine = s3(&server, &server.access_key_id, &server.secret_access_key);
    let other = s3(&server, "222222222222", "secret");
    for (c, b) in [(&mine, "mine-open"), (&other, "other-open")] {
        c.create_bucket().bucket(b).send().await.unwrap();
        c.delete_public_access_block().bucket(b).send().await.unwrap();
    }
    let public = |b: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        )
    };
    mine.put_bucket_policy().bucket("mine-open").policy(public("mine-open")).send().await.unwrap();
    put(&mine, "mine-open", "menu.txt", b"espresso").await;
    assert_eq!(anonymous_get(&server, "/mine-open/menu.txt").await.0, 200);

    let account = server.config.dev_account_id.clone();
    let script = format!(
        "{S3CONTROL}
acct = '{account}'
out = {{'before': code(lambda: c.get_public_access_block(AccountId=acct))}}
c.put_public_access_block(AccountId=acct, PublicAccessBlockConfiguration={{'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}})
out['after'] = c.get_public_access_block(AccountId=acct)['PublicAccessBlockConfiguration']
out['another account'] = code(lambda: c.get_public_access_block(AccountId='222222222222'))
print(json.dumps(out))"
    );
    let out = crate::s3::boto3(&server, &script).await;
    assert_eq!(out["before"], "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(
        out["after"],
        serde_json::json!({"BlockPublicAcls": false, "IgnorePublicAcls": false, "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(out["another account"], "AccessDenied");

    // RestrictPublicBuckets: the public policy written before no longer admits everyone.
    assert_eq!(anonymous_get(&server, "/mine-open/menu.txt").await.0, 403);
    // BlockPublicPolicy: a new public policy is refused on any bucket of the account, on none of
    // another account's.
    let refused = mine.put_bucket_policy().bucket("mine-open").policy(public("mine-open")).send().await;
    let e = refused.unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert!(e.message().unwrap_or_default().contains("BlockPublicPolicy"), "{:?}", e.message());
    other.put_bucket_policy().bucket("other-open").policy(public("other-open")).send().await.unwrap();
    let status = mine.get_bucket_policy_status().bucket("mine-open").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));

    // An IAM user of the account needs s3:GetAccountPublicAccessBlock to read the settings and
    // s3:PutAccountPublicAccessBlock to change or delete them.
    let reader = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetAccountPublicAccessBlock","Resource":"*"}]}"#;
    let (id, secret) = user_with_key(&root(&server), "auditor", reader).await;
    let script = format!(
        "{S3CONTROL}
acct = '{account}'
print(json.dumps({{'get': code(lambda: c.get_public_access_block(AccountId=acct)),
    'delete': code(lambda: c.delete_public_access_block(AccountId=acct))}}))"
    );
    let out = crate::s3::boto3_as(&server, &script, &id, &secret).await;
    assert_eq!(out, serde_json::json!({"get": "OK", "delete": "AccessDenied"}));

    // Deleted by the account's root, the account's settings stop binding; the bucket's own
    // (deleted above) leave it open again.
    let script = format!(
        "{S3CONTROL}
acct = '{account}'
c.delete_public_access_block(AccountId=acct)
print(json.dumps({{'after delete': code(lambda: c.get_public_access_block(AccountId=acct))}}))"
    );
    let out = crate::s3::boto3(&server, &script).await;
    assert_eq!(out["after delete"], "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(anonymous_get(&server, "/mine-open/menu.txt").await.0, 200);
    mine.put_bucket_policy().bucket("mine-open").policy(public("mine-open")).send().await.unwrap();
}

/// MFA Delete with boto3 over HTTPS (S3 takes `x-amz-mfa` over nothing else): root assigns its
/// device at sign-in, turns MFA Delete on with a code, and from then on a version is deleted for
/// good, or versioning changed, only by root with a fresh code — never without one, never with a
/// replayed one, never by an administrator holding root's serial; a delete marker needs none.
/// The code never reaches the trail.
const MFA_DELETE: &str = r#"
import base64, hashlib, hmac, json, ssl, struct, sys, time, urllib.request
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
port, key, secret = sys.argv[1:4]
ep = f'https://localhost:{port}'
def clients(key, secret):
    kw = dict(endpoint_url=ep, region_name='us-east-1', aws_access_key_id=key, aws_secret_access_key=secret,
              verify=CERT, config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
    return boto3.client('iam', **kw), boto3.client('s3', **kw)
iam, s3 = clients(key, secret)
def code(seed, step):
    mac = hmac.new(seed, struct.pack('>Q', step), hashlib.sha1).digest()
    o = mac[-1] & 15
    return '%06d' % ((struct.unpack('>I', mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
def now():
    return int(time.time()) // 30
def err(f):
    try:
        f()
        return 'OK'
    except ClientError as e:
        return e.response['Error']['Code'] + ': ' + e.response['Error']['Message']
def plain(r):
    r.pop('ResponseMetadata', None)
    return r

d = iam.create_virtual_mfa_device(VirtualMFADeviceName='root-phone')['VirtualMFADevice']
serial, seed = d['SerialNumber'], base64.b32decode(d['Base32StringSeed'])
c = now()
body = json.dumps({'email': EMAIL, 'password': PASSWORD, 'enableMfa': {'serialNumber': serial,
    'authenticationCode1': code(seed, c - 4), 'authenticationCode2': code(seed, c - 3)}}).encode()
req = urllib.request.Request(ep + '/_rampart/signin', data=body, headers={'content-type': 'application/json'})
urllib.request.urlopen(req, context=ssl.create_default_context(cafile=CERT))
last = c - 3
def mfa():
    global last
    last = max(last + 1, now() - 1)
    return f'{serial} {code(seed, last)}'

out = {}
s3.create_bucket(Bucket='vault')
s3.put_bucket_versioning(Bucket='vault', VersioningConfiguration={'Status': 'Enabled'})
v1 = s3.put_object(Bucket='vault', Key='ledger.txt', Body=b'day 1')['VersionId']
v2 = s3.put_object(Bucket='vault', Key='ledger.txt', Body=b'day 2')['VersionId']
on = {'Status': 'Enabled', 'MFADelete': 'Enabled'}
out['enable without a code'] = err(lambda: s3.put_bucket_versioning(Bucket='vault', VersioningConfiguration=on))
out['enable with a wrong code'] = err(lambda: s3.put_bucket_versioning(Bucket='vault', VersioningConfiguration=on,
    MFA=f'{serial} 000000' if code(seed, now()) != '000000' else f'{serial} 111111'))
m = mfa()
s3.put_bucket_versioning(Bucket='vault', VersioningConfiguration=on, MFA=m)
out['versioning'] = plain(s3.get_bucket_versioning(Bucket='vault'))
out['replayed code'] = err(lambda: s3.put_bucket_versioning(Bucket='vault',
    VersioningConfiguration={'Status': 'Suspended', 'MFADelete': 'Enabled'}, MFA=m))
out['suspend without a code'] = err(lambda: s3.put_bucket_versioning(Bucket='vault',
    VersioningConfiguration={'Status': 'Suspended'}))
out['delete a version without a code'] = err(lambda: s3.delete_object(Bucket='vault', Key='ledger.txt', VersionId=v1))
out['batch without a code'] = s3.delete_objects(Bucket='vault',
    Delete={'Objects': [{'Key': 'ledger.txt', 'VersionId': v1}]}).get('Errors')

iam.create_user(UserName='admin')
iam.put_user_policy(UserName='admin', PolicyName='all', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
k = iam.create_access_key(UserName='admin')['AccessKey']
_, admin_s3 = clients(k['AccessKeyId'], k['SecretAccessKey'])
out['administrator with root serial'] = err(lambda: admin_s3.delete_object(Bucket='vault', Key='ledger.txt',
    VersionId=v1, MFA=f'{serial} {code(seed, now())}'))
out['administrator delete marker'] = admin_s3.delete_object(Bucket='vault', Key='ledger.txt').get('DeleteMarker')

s3.delete_object(Bucket='vault', Key='ledger.txt', VersionId=v1, MFA=mfa())
out['versions left'] = [v['VersionId'] for v in s3.list_object_versions(Bucket='vault').get('Versions', [])]
s3.put_bucket_versioning(Bucket='vault', VersioningConfiguration={'Status': 'Enabled', 'MFADelete': 'Disabled'},
    MFA=mfa())
out['after'] = plain(s3.get_bucket_versioning(Bucket='vault'))
out['delete a version after'] = err(lambda: s3.delete_object(Bucket='vault', Key='ledger.txt', VersionId=v2))
out['v2'] = v2
out['codes'] = [code(seed, s) for s in range(c - 3, last + 1)]
print(json.dumps(out))
"#;

#[tokio::test]
async fn mfa_delete_keeps_versions_from_everyone_but_root_with_a_fresh_code() {
    let server = TestServer::start_with(|c| c.tls_self_signed = true).await.unwrap();
    let cert = server.data_dir().join("tls/cert.pem");
    let script = MFA_DELETE.replacen(
        "import boto3\n",
        &format!(
            "import boto3\nCERT, EMAIL, PASSWORD = {:?}, {:?}, {:?}\n",
            cert.display().to_string(),
            server.root_email,
            server.root_password
        ),
        1,
    );
    let out = crate::s3::boto3(&server, &script).await;
    let must_code = "AccessDenied: Mfa Authentication must be used for this request";
    assert_eq!(out["enable without a code"], must_code);
    assert!(
        out["enable with a wrong code"].as_str().unwrap().starts_with("AccessDenied: MultiFactorAuthentication failed")
    );
    assert_eq!(out["versioning"], serde_json::json!({"Status": "Enabled", "MFADelete": "Enabled"}));
    assert!(out["replayed code"].as_str().unwrap().starts_with("AccessDenied: MultiFactorAuthentication failed"));
    assert_eq!(out["suspend without a code"], must_code);
    assert_eq!(out["delete a version without a code"], must_code);
    assert_eq!(out["batch without a code"][0]["Code"], "AccessDenied");
    assert!(out["administrator with root serial"].as_str().unwrap().starts_with("AccessDenied"));
    assert_eq!(out["administrator delete marker"], true);
    let left: Vec<&str> = out["versions left"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(left, [out["v2"].as_str().unwrap()], "root's coded delete removed the first version for good");
    assert_eq!(out["after"], serde_json::json!({"Status": "Enabled", "MFADelete": "Disabled"}));
    assert_eq!(out["delete a version after"], "OK");
    // Seven calls, the refused ones included; the header is hidden in every record.
    let trail = crate::events_named(&server, "PutBucketVersioning", 7).await;
    assert_eq!(trail.len(), 7, "{trail:?}");
    let text = serde_json::to_string(&trail).unwrap();
    for code in out["codes"].as_array().unwrap() {
        assert!(!text.contains(code.as_str().unwrap()), "an MFA code in the trail: {text}");
    }
    assert_eq!(text.matches("HIDDEN_DUE_TO_SECURITY_REASONS").count(), 4, "the four calls with a code: {text}");

    // Over plain HTTP the header is refused before anything else is looked at.
    let plain = TestServer::start().await.unwrap();
    let c = s3(&plain, &plain.access_key_id, &plain.secret_access_key);
    c.create_bucket().bucket("vault").send().await.unwrap();
    let e = c.delete_object().bucket("vault").key("k").version_id("v").mfa("arn:aws:iam::123456789012:mfa/x 123456");
    let e = e.send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"));
    assert_eq!(e.message(), Some("Requests that include x-amz-mfa must use HTTPS."));
}

/// SSE-C with boto3 over HTTPS: each read must bring the key the object was written with (checked
/// by a salted HMAC, never stored), through copies, multipart uploads and ranged downloads.
const SSE_C: &str = r#"
import base64, hashlib, json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
port, key, secret = sys.argv[1:4]
s3 = boto3.client('s3', endpoint_url=f'https://localhost:{port}', region_name='us-east-1',
    aws_access_key_id=key, aws_secret_access_key=secret, verify=CERT,
    config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
def err(f):
    try:
        f()
        return 'OK'
    except ClientError as e:
        return e.response['Error']['Code']
k1, k2 = bytes.fromhex(KEY1), os.urandom(32)
c1 = {'SSECustomerAlgorithm': 'AES256', 'SSECustomerKey': k1}
c2 = {'SSECustomerAlgorithm': 'AES256', 'SSECustomerKey': k2}
md5 = lambda k: base64.b64encode(hashlib.md5(k).digest()).decode()
out = {}
s3.create_bucket(Bucket='sealed')
canary = b'RAMPART-SSEC-CANARY-41d0' * 100
put = s3.put_object(Bucket='sealed', Key='secret.txt', Body=canary, **c1)
out['put'] = [put.get('ServerSideEncryption'), put.get('SSECustomerAlgorithm'), put.get('SSECustomerKeyMD5') == md5(k1)]
got = s3.get_object(Bucket='sealed', Key='secret.txt', **c1)
out['get'] = [got['Body'].read() == canary, got.get('SSECustomerKeyMD5') == md5(k1), got.get('ServerSideEncryption')]
out['ranged'] = s3.get_object(Bucket='sealed', Key='secret.txt', Range='bytes=0-6', **c1)['Body'].read().decode()
out['get without the key'] = err(lambda: s3.get_object(Bucket='sealed', Key='secret.txt'))
out['get with another key'] = err(lambda: s3.get_object(Bucket='sealed', Key='secret.txt', **c2))
out['head without the key'] = err(lambda: s3.head_object(Bucket='sealed', Key='secret.txt'))
out['head'] = s3.head_object(Bucket='sealed', Key='secret.txt', **c1).get('SSECustomerAlgorithm')
s3.put_object(Bucket='sealed', Key='plain.txt', Body=b'plain')
out['key for a plain object'] = err(lambda: s3.get_object(Bucket='sealed', Key='plain.txt', **c1))
out['with SSE-S3 too'] = err(lambda: s3.put_object(Bucket='sealed', Key='x', Body=b'x', ServerSideEncryption='AES256', **c1))
out['wrong MD5'] = err(lambda: s3.put_object(Bucket='sealed', Key='x', Body=b'x', SSECustomerAlgorithm='AES256',
    SSECustomerKey=base64.b64encode(k1).decode(), SSECustomerKeyMD5=md5(k2)))
out['short key'] = err(lambda: s3.put_object(Bucket='sealed', Key='x', Body=b'x', SSECustomerAlgorithm='AES256',
    SSECustomerKey=os.urandom(16)))

out['copy without the source key'] = err(lambda: s3.copy_object(Bucket='sealed', Key='copy.txt',
    CopySource='sealed/secret.txt', **c2))
s3.copy_object(Bucket='sealed', Key='copy.txt', CopySource='sealed/secret.txt', CopySourceSSECustomerAlgorithm='AES256',
    CopySourceSSECustomerKey=k1, **c2)
out['copy reads with the new key'] = s3.get_object(Bucket='sealed', Key='copy.txt', **c2)['Body'].read() == canary
out['copy refuses the old key'] = err(lambda: s3.get_object(Bucket='sealed', Key='copy.txt', **c1))

big = os.urandom(12 * 1024 * 1024)
with open('big.bin', 'wb') as f:
    f.write(big)
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file('big.bin', 'sealed', 'big.bin', ExtraArgs=c1, Config=cfg)
s3.download_file('sealed', 'big.bin', 'back.bin', ExtraArgs=c1, Config=cfg)
out['multipart round trip'] = open('back.bin', 'rb').read() == big
out['parts'] = s3.head_object(Bucket='sealed', Key='big.bin', PartNumber=1, **c1).get('PartsCount')
u = s3.create_multipart_upload(Bucket='sealed', Key='parts.bin', **c1)['UploadId']
out['part with another key'] = err(lambda: s3.upload_part(Bucket='sealed', Key='parts.bin', UploadId=u,
    PartNumber=1, Body=b'x', **c2))
out['part without a key'] = err(lambda: s3.upload_part(Bucket='sealed', Key='parts.bin', UploadId=u,
    PartNumber=1, Body=b'x'))
# A bucket policy can require SSE-C of every write.
s3.put_bucket_policy(Bucket='sealed', Policy=json.dumps({'Version': '2012-10-17', 'Statement': [{
    'Sid': 'CustomerKeysOnly', 'Effect': 'Deny', 'Principal': '*', 'Action': 's3:PutObject',
    'Resource': 'arn:aws:s3:::sealed/*',
    'Condition': {'Null': {'s3:x-amz-server-side-encryption-customer-algorithm': 'true'}}}]}))
out['policy: plain write'] = err(lambda: s3.put_object(Bucket='sealed', Key='y', Body=b'y'))
out['policy: SSE-C write'] = err(lambda: s3.put_object(Bucket='sealed', Key='y', Body=b'y', **c1))
print(json.dumps(out))
"#;

#[tokio::test]
async fn sse_c_objects_open_only_with_their_customer_key() {
    let mut server = TestServer::start_with(|c| c.tls_self_signed = true).await.unwrap();
    let cert = server.data_dir().join("tls/cert.pem");
    let key1 = "8f6c1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f";
    let work = tempfile::tempdir().unwrap();
    let script = SSE_C.replacen(
        "import boto3\n",
        &format!(
            "import boto3\nCERT, KEY1 = {:?}, {key1:?}\nos.chdir({:?})\n",
            cert.display().to_string(),
            work.path().display().to_string()
        ),
        1,
    );
    let out = crate::s3::boto3(&server, &script).await;
    let expected = serde_json::json!({
        "put": [null, "AES256", true],
        "get": [true, true, null],
        "ranged": "RAMPART",
        "get without the key": "InvalidRequest",
        "get with another key": "AccessDenied",
        "head without the key": "400",
        "head": "AES256",
        "key for a plain object": "InvalidRequest",
        "with SSE-S3 too": "InvalidArgument",
        "wrong MD5": "InvalidArgument",
        "short key": "InvalidArgument",
        "copy without the source key": "InvalidRequest",
        "copy reads with the new key": true,
        "copy refuses the old key": "AccessDenied",
        "multipart round trip": true,
        "parts": 3,
        "part with another key": "AccessDenied",
        "part without a key": "InvalidRequest",
        "policy: plain write": "AccessDenied",
        "policy: SSE-C write": "OK",
    });
    assert_eq!(out, expected);

    // Neither the bytes nor the key are in the store in the clear, nor the key in the trail.
    let events = crate::events_named(&server, "PutObject", 1).await;
    let key_b64 = data_encoding::BASE64.encode(&data_encoding::HEXLOWER.decode(key1.as_bytes()).unwrap());
    assert!(!serde_json::to_string(&events).unwrap().contains(&key_b64), "the customer key is in the trail");
    server.stop().await;
    let stored = server.stored_bytes().unwrap();
    for needle in
        [&b"RAMPART-SSEC-CANARY"[..], key_b64.as_bytes(), &data_encoding::HEXLOWER.decode(key1.as_bytes()).unwrap()]
    {
        assert!(!stored.windows(needle.len()).any(|w| w == needle), "found in the store: {needle:?}");
    }

    // Over plain HTTP a customer key is refused before anything else is looked at.
    let plain = TestServer::start().await.unwrap();
    let c = s3(&plain, &plain.access_key_id, &plain.secret_access_key);
    c.create_bucket().bucket("sealed").send().await.unwrap();
    let e = c
        .put_object()
        .bucket("sealed")
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"));
    assert!(e.message().unwrap_or_default().contains("secure connection"), "{:?}", e.message());
}

/// SSE-KMS without a key names the AWS managed key `aws/s3`: KMS makes it on first use (one per
/// account and Region), every principal of the account may use it through S3 (an IAM user with
/// no KMS permission included), and no one may use it directly or manage it.
#[tokio::test]
async fn sse_kms_without_a_key_uses_the_aws_managed_key_made_on_first_use() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let server = TestServer::start().await.unwrap();
    let owner = s3(&server, &server.access_key_id, &server.secret_access_key);
    let kms = crate::kms::kms(&server, &server.access_key_id, &server.secret_access_key, None);
    owner.create_bucket().bucket("receipts").send().await.unwrap();
    // Before its first use, the alias is predefined: listed, naming no key yet.
    let before = kms.list_aliases().send().await.unwrap();
    let predefined = before.aliases().iter().find(|a| a.alias_name() == Some("alias/aws/s3")).expect("predefined");
    assert_eq!(predefined.target_key_id(), None);
    assert_eq!(predefined.alias_arn(), Some("arn:aws:kms:us-east-1:123456789012:alias/aws/s3"));
    let first = owner
        .put_object()
        .bucket("receipts")
        .key("a.txt")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"flat white"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    let managed = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(first.ssekms_key_id(), managed.arn());
    assert_eq!(managed.key_manager().map(|m| m.as_str()), Some("AWS"));
    assert_eq!(managed.description(), Some("Default key that protects my S3 objects when no other key is defined"));
    assert_eq!(read(&owner, "receipts", "a.txt").await, b"flat white");

    // The bucket's default of aws:kms without a key: the same managed key, not a second one.
    let by_default =
        ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).build().unwrap();
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
    let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
    owner.put_bucket_encryption().bucket("receipts").server_side_encryption_configuration(config).send().await.unwrap();
    let s3_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::receipts/*"}]}"#;
    let (id, secret) = user_with_key(&root(&server), "cashier", s3_only).await;
    let cashier = s3(&server, &id, &secret);
    let second = put(&cashier, "receipts", "b.txt", b"cortado").await;
    assert_eq!(second.ssekms_key_id(), managed.arn(), "the account's one managed key");
    assert_eq!(read(&cashier, "receipts", "b.txt").await, b"cortado");
    let aliases = kms.list_aliases().send().await.unwrap();
    let named: Vec<&str> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert_eq!(named.iter().filter(|n| **n == "alias/aws/s3").count(), 1, "{named:?}");
    let made = aliases.aliases().iter().find(|a| a.alias_name() == Some("alias/aws/s3")).unwrap();
    assert_eq!(made.target_key_id(), Some(managed.key_id()), "now naming the key made");

    // Not directly, and not managed, even by root: the key's policy grants neither.
    let key_id = managed.key_id();
    let direct = kms.encrypt().key_id("alias/aws/s3").plaintext(aws_sdk_kms::primitives::Blob::new(b"x")).send().await;
    assert_eq!(crate::kms::code(direct), "AccessDeniedException");
    assert_eq!(crate::kms::code(kms.disable_key().key_id(key_id).send().await), "AccessDeniedException");
    let deletion = kms.schedule_key_deletion().key_id(key_id).pending_window_in_days(7).send().await;
    assert_eq!(crate::kms::code(deletion), "AccessDeniedException");
    let policy = kms.get_key_policy().key_id(key_id).send().await.unwrap();
    let replaced = kms.put_key_policy().key_id(key_id).policy(policy.policy().unwrap()).send().await;
    assert_eq!(crate::kms::code(replaced), "AccessDeniedException");
}

/// ACLs given as grants, where a bucket's ownership lets ACLs count: an account named by its
/// canonical ID reads an object, writes into a bucket, and lists it once an `AccessControlPolicy`
/// says so; ACL reads answer the grants given; public grants wait on Block Public Access, and a
/// grant that names no one is refused.
#[tokio::test]
async fn grants_let_another_account_in_where_acls_count() {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, ObjectOwnership, Owner, Permission, Type};
    let server = TestServer::start_with(|c| c.dev = true).await.unwrap();
    let alice = s3(&server, "111111111111", "secret");
    let bob = s3(&server, "222222222222", "secret");
    alice.create_bucket().bucket("alice-acl").object_ownership(ObjectOwnership::ObjectWriter).send().await.unwrap();
    bob.create_bucket().bucket("bob-own").send().await.unwrap();
    let owner_id = |acl: &aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput| {
        acl.owner().and_then(|o| o.id()).unwrap().to_owned()
    };
    let alice_id = owner_id(&alice.get_bucket_acl().bucket("alice-acl").send().await.unwrap());
    let bob_id = owner_id(&bob.get_bucket_acl().bucket("bob-own").send().await.unwrap());
    put(&alice, "alice-acl", "menu.txt", b"flat white 3.20").await;
    put(&alice, "alice-acl", "secret.txt", b"recipe").await;
    assert_eq!(code(bob.get_object().bucket("alice-acl").key("menu.txt").send().await), "AccessDenied");

    // An object's READ grant, in a header.
    alice
        .put_object_acl()
        .bucket("alice-acl")
        .key("menu.txt")
        .grant_read(format!("id=\"{bob_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(read(&bob, "alice-acl", "menu.txt").await, b"flat white 3.20");
    assert_eq!(code(bob.get_object().bucket("alice-acl").key("secret.txt").send().await), "AccessDenied");
    let acl = alice.get_object_acl().bucket("alice-acl").key("menu.txt").send().await.unwrap();
    assert_eq!(acl.grants().len(), 1, "{acl:?}");
    assert_eq!(acl.grants()[0].grantee().and_then(|g| g.id()), Some(bob_id.as_str()));
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::Read));

    // The bucket's WRITE grant lets bob put objects; listing needs READ, given in a document.
    let put_by_bob =
        || bob.put_object().bucket("alice-acl").key("drop/bob.txt").body(ByteStream::from_static(b"hi")).send();
    assert_eq!(code(put_by_bob().await), "AccessDenied");
    alice
        .put_bucket_acl()
        .bucket("alice-acl")
        .grant_write(format!("id=\"{bob_id}\""))
        .grant_full_control(format!("id=\"{alice_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(code(put_by_bob().await), "OK");
    assert_eq!(code(bob.list_objects_v2().bucket("alice-acl").send().await), "AccessDenied");
    let grant = |id: &str, p: Permission| {
        Grant::builder()
            .grantee(Grantee::builder().r#type(Type::CanonicalUser).id(id).build().unwrap())
            .permission(p)
            .build()
    };
    let policy = AccessControlPolicy::builder()
        .owner(Owner::builder().id(&alice_id).build())
        .grants(grant(&alice_id, Permission::FullControl))
        .grants(grant(&bob_id, Permission::Read))
        .build();
    alice.put_bucket_acl().bucket("alice-acl").access_control_policy(policy).send().await.unwrap();
    let listed = bob.list_objects_v2().bucket("alice-acl").send().await.unwrap();
    assert_eq!(listed.contents().len(), 3);
    assert_eq!(code(put_by_bob().await), "AccessDenied", "the document replaced the WRITE grant");
    let acl = alice.get_bucket_acl().bucket("alice-acl").send().await.unwrap();
    let perms: Vec<_> = acl.grants().iter().filter_map(|g| g.permission().map(|p| p.as_str().to_owned())).collect();
    assert_eq!(perms, ["FULL_CONTROL", "READ"]);

    // Refused: a public grant while Block Public Access is on, a grantee no one is, both forms
    // at once, and any grant where ACLs are off.
    let all_users = "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"";
    assert_eq!(code(alice.put_bucket_acl().bucket("alice-acl").grant_read(all_users).send().await), "AccessDenied");
    assert_eq!(
        code(alice.put_bucket_acl().bucket("alice-acl").grant_read(format!("id=\"{}\"", "0".repeat(64))).send().await),
        "InvalidArgument"
    );
    assert_eq!(
        code(alice.put_bucket_acl().bucket("alice-acl").grant_read("emailAddress=\"nobody@example.com\"").send().await),
        "UnresolvableGrantByEmailAddress"
    );
    let both = alice
        .put_object_acl()
        .bucket("alice-acl")
        .key("menu.txt")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .grant_read(format!("id=\"{bob_id}\""));
    assert_eq!(code(both.send().await), "InvalidRequest");
    assert_eq!(
        code(bob.put_bucket_acl().bucket("bob-own").grant_read(format!("id=\"{alice_id}\"")).send().await),
        "AccessControlListNotSupported"
    );
    // The owner's own full control is the private ACL, which ACLs being off allows.
    assert_eq!(
        code(bob.put_bucket_acl().bucket("bob-own").grant_full_control(format!("id=\"{bob_id}\"")).send().await),
        "OK"
    );
}

/// A bucket's CORS configuration answers browsers: a preflight `OPTIONS` from an origin, method
/// and headers a rule admits gets that rule's headers, unsigned; others get S3's refusals; and an
/// actual request from an admitted origin gets the headers on its answer, an error's too.
#[tokio::test]
async fn cors_rules_answer_preflights_and_mark_the_answers_they_admit() {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("web-assets").send().await.unwrap();
    c.create_bucket().bucket("no-cors").send().await.unwrap();
    let read_anywhere = CorsRule::builder().allowed_methods("GET").allowed_origins("*").build().unwrap();
    let app_writes = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_origins("https://*.app.example")
        .allowed_headers("content-type")
        .allowed_headers("x-amz-*")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()
        .unwrap();
    let config = CorsConfiguration::builder().cors_rules(read_anywhere).cors_rules(app_writes).build().unwrap();
    c.put_bucket_cors().bucket("web-assets").cors_configuration(config).send().await.unwrap();

    let options = |path: &str, headers: &[(&str, &str)]| {
        let mut req = http::Request::builder().method("OPTIONS").uri(format!("{}{path}", server.endpoint));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        rampart_testkit::send(req.body(Vec::new()).unwrap())
    };
    let header = |r: &rampart_testkit::Raw, name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let app = [
        ("origin", "https://www.app.example"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "content-type, x-amz-date"),
    ];
    let ok = options("/web-assets/photo.jpg", &app).await.unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(header(&ok, "access-control-allow-origin").as_deref(), Some("https://www.app.example"));
    assert_eq!(header(&ok, "access-control-allow-methods").as_deref(), Some("PUT, POST"));
    assert_eq!(header(&ok, "access-control-allow-headers").as_deref(), Some("content-type, x-amz-date"));
    assert_eq!(header(&ok, "access-control-max-age").as_deref(), Some("600"));
    // Another origin, a header no rule allows, no origin at all, a bucket without CORS.
    let other = [("origin", "https://evil.example"), ("access-control-request-method", "PUT")];
    let refused = options("/web-assets/photo.jpg", &other).await.unwrap();
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("<Code>AccessForbidden</Code>"), "{}", refused.body);
    let auth = [
        ("origin", "https://www.app.example"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "authorization"),
    ];
    assert_eq!(options("/web-assets/photo.jpg", &auth).await.unwrap().status, 403);
    let bare = options("/web-assets/photo.jpg", &[("access-control-request-method", "GET")]).await.unwrap();
    assert_eq!(bare.status, 400);
    let off = options("/no-cors/x", &[("origin", "https://a.example"), ("access-control-request-method", "GET")]);
    let off = off.await.unwrap();
    assert_eq!(off.status, 403);
    assert!(off.body.contains("CORS is not enabled for this bucket"), "{}", off.body);

    // Actual requests: the admitting rule's headers on the answer, an error's too; none for an
    // origin no rule admits for the method.
    let put = http::Request::put(format!("{}/web-assets/photo.jpg", server.endpoint))
        .header("origin", "https://www.app.example")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .body(b"jpeg".to_vec())
        .unwrap();
    let put = server.signed(put, "s3").await.unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(header(&put, "access-control-allow-origin").as_deref(), Some("https://www.app.example"));
    assert_eq!(header(&put, "access-control-expose-headers").as_deref(), Some("ETag"));
    let get = |key: &str, origin: &str| {
        let req = http::Request::get(format!("{}/web-assets/{key}", server.endpoint)).header("origin", origin);
        server.signed(req.body(Vec::new()).unwrap(), "s3")
    };
    let read = get("photo.jpg", "https://news.example").await.unwrap();
    assert_eq!((read.status, header(&read, "access-control-allow-origin").as_deref()), (200, Some("*")));
    let missing = get("gone.jpg", "https://news.example").await.unwrap();
    assert_eq!((missing.status, header(&missing, "access-control-allow-origin").as_deref()), (404, Some("*")));
    let delete = http::Request::delete(format!("{}/web-assets/photo.jpg", server.endpoint))
        .header("origin", "https://www.app.example")
        .body(Vec::new())
        .unwrap();
    let delete = server.signed(delete, "s3").await.unwrap();
    assert_eq!(delete.status, 204);
    assert!(header(&delete, "access-control-allow-origin").is_none(), "no rule admits DELETE");
}
