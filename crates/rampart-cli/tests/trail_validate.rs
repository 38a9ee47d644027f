//! Log file integrity validation end to end: a real server delivers signed digests, then the
//! `rampart trail validate` binary and the AWS CLI's `aws cloudtrail validate-logs` check them —
//! untouched, then with a log file modified, one deleted, a digest deleted and a file inserted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use rampart_testkit::TestServer;

const DIGESTS: &str = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/";
const LOGS: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/";

fn clients(server: &TestServer) -> (aws_sdk_cloudtrail::Client, aws_sdk_s3::Client, aws_sdk_iam::Client) {
    clients_in(server, "us-east-1")
}

fn clients_in(
    server: &TestServer,
    region: &str,
) -> (aws_sdk_cloudtrail::Client, aws_sdk_s3::Client, aws_sdk_iam::Client) {
    let creds =
        aws_sdk_s3::config::Credentials::new(&server.access_key_id, &server.secret_access_key, None, None, "test");
    let region = aws_sdk_s3::config::Region::new(region.to_owned());
    let ct = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
        .region(region.clone())
        .endpoint_url(&server.endpoint)
        .credentials_provider(creds.clone())
        .build();
    let s3 = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(region.clone())
        .endpoint_url(&server.endpoint)
        .force_path_style(true)
        .credentials_provider(creds.clone())
        .build();
    let iam = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(region)
        .endpoint_url(&server.endpoint)
        .credentials_provider(creds)
        .build();
    (aws_sdk_cloudtrail::Client::from_conf(ct), aws_sdk_s3::Client::from_conf(s3), aws_sdk_iam::Client::from_conf(iam))
}

async fn keys(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    keys_in(s3, "audit-logs", prefix).await
}

async fn keys_in(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut keys: Vec<String> = out.contents().iter().map(|o| o.key().unwrap().to_owned()).collect();
    keys.sort();
    keys
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket("audit-logs").key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn inflate(gz: &[u8]) -> serde_json::Value {
    serde_json::from_reader(flate2::read::GzDecoder::new(gz)).unwrap()
}

/// Waits until `n` digests have been written after `since` (so files delivered before it are named).
async fn digests_after(s3: &aws_sdk_s3::Client, since: time::OffsetDateTime, n: usize) -> Vec<String> {
    let stamp = |t: time::OffsetDateTime| {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    let since = stamp(since);
    for _ in 0..200 {
        let all = keys(s3, DIGESTS).await;
        let after = all.iter().filter(|k| k[k.len() - 24..k.len() - 8] > *since).count();
        if after >= n {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} digests after {since}");
}

fn rampart_validate(server: &TestServer, start: &str) -> (i32, String) {
    rampart_validate_in(server, "main", "us-east-1", start)
}

fn rampart_validate_in(server: &TestServer, trail: &str, region: &str, start: &str) -> (i32, String) {
    run_validate(server, &["--trail", trail, "--region", region, "--start-time", start])
}

/// `rampart trail validate --verbose ARGS` on the server's data directory: exit code and output.
fn run_validate(server: &TestServer, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["trail", "validate", "--verbose"])
        .args(args)
        .arg("--data-dir")
        .arg(server.data_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The line `rampart trail validate` printed for `key`.
fn line_of<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find(|l| l.contains(&format!("/{key}\t"))).unwrap_or_else(|| panic!("no line for {key} in:\n{out}"))
}

/// A server that delivers trails every second and closes digest periods every two.
async fn fast_trails() -> TestServer {
    TestServer::start_with(|c| {
        c.trail_delivery_secs = 1;
        c.trail_digest_secs = 2;
    })
    .await
    .unwrap()
}

/// Makes `bucket` with the policy CloudTrail needs to deliver a trail's files into it.
async fn trail_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let policy = rampart_testkit::cloudtrail_bucket_policy(bucket);
    s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_chain_every_log_file_and_the_validators_flag_each_kind_of_tampering() {
    let server = fast_trails().await;
    let (ct, s3, iam) = clients(&server);
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let start_arg = start.format(&time::format_description::well_known::Rfc3339).unwrap();
    trail_bucket(&s3, "audit-logs").await;
    let trail = ct
        .create_trail()
        .name("main")
        .s3_bucket_name("audit-logs")
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    ct.start_logging().name("main").send().await.unwrap();
    for i in 0..6 {
        iam.create_user().user_name(format!("u{i}")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let last_call = time::OffsetDateTime::now_utc();
    // Delivery waits 2 s for stragglers; two digests later every file is named.
    let digests = digests_after(&s3, last_call + time::Duration::seconds(3), 2).await;
    assert!(digests.len() >= 4, "{digests:?}");

    // The public key: one per trail, PKCS#1 DER, fingerprinted by MD5.
    let listed = ct.list_public_keys().send().await.unwrap();
    let pk = &listed.public_key_list()[0];
    let fingerprint = pk.fingerprint().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 32);
    let der = pk.value().unwrap().as_ref();
    assert_eq!(der[0], 0x30, "a DER SEQUENCE");
    let md5 = std::process::Command::new("python3")
        .args(["-c", "import hashlib,sys;print(hashlib.md5(sys.stdin.buffer.read()).hexdigest())"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut md5.stdin.as_ref().unwrap(), der).unwrap();
    let out = md5.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), fingerprint);
    let status = ct.get_trail_status().name("main").send().await.unwrap();
    assert!(status.latest_digest_delivery_time().is_some());

    // The chain: each digest names the one before it, the first names none.
    let mut docs = Vec::new();
    for key in &digests {
        let head = s3.head_object().bucket("audit-logs").key(key).send().await.unwrap();
        let meta = head.metadata().unwrap();
        assert_eq!(meta["signature-algorithm"], "SHA256withRSA");
        assert_eq!(meta["signature"].len(), 512, "hex of a 2048-bit signature");
        let doc = inflate(&get(&s3, key).await);
        assert_eq!(doc["digestS3Object"], *key);
        assert_eq!(doc["digestPublicKeyFingerprint"], fingerprint);
        docs.push(doc);
    }
    assert!(docs[0]["previousDigestS3Object"].is_null() && docs[0]["previousDigestSignature"].is_null());
    for pair in docs.windows(2) {
        assert_eq!(pair[1]["previousDigestS3Object"], pair[0]["digestS3Object"]);
        assert_eq!(pair[1]["digestStartTime"], pair[0]["digestEndTime"]);
    }
    let named: Vec<String> = docs
        .iter()
        .flat_map(|d| d["logFiles"].as_array().unwrap().iter().map(|l| l["s3Object"].as_str().unwrap().to_owned()))
        .collect();
    let logs = keys(&s3, LOGS).await;
    assert!(logs.len() >= 3, "{logs:?}");
    for log in &logs {
        assert!(named.contains(log), "{log} is in no digest");
    }

    // Untouched, both validators pass.
    let (code, out) = rampart_validate(&server, &start_arg);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{n}/{n} log files valid", n = logs.len())), "{out}");
    assert!(!out.contains("INVALID"), "{out}");
    let (ok, aws_out) = aws_validate(&server, &trail.trail_arn.clone().unwrap(), &start_arg).await;
    assert!(ok, "{aws_out}");
    assert!(aws_out.contains("log files valid") && !aws_out.contains("INVALID"), "{aws_out}");

    // Tamper: rewrite one log file, delete another, delete a digest in the middle (not the one
    // naming those two), and slip in a file with a delivered file's name pattern.
    let digest_of =
        |log: &str| docs.iter().position(|d| d["logFiles"].as_array().unwrap().iter().any(|l| l["s3Object"] == log));
    let modified = logs[0].clone();
    let deleted = logs.iter().find(|l| digest_of(l) != digest_of(&modified)).unwrap().clone();
    let spared = [digest_of(&modified).unwrap(), digest_of(&deleted).unwrap()];
    let missing_at = (1..docs.len() - 1).find(|i| !spared.contains(i)).unwrap();
    let missing = digests[missing_at].clone();
    // A copy of a genuine file, to plant under a new name (read before anything is deleted).
    let planted = get(&s3, &logs[1]).await;
    let mut forged = inflate(&get(&s3, &modified).await);
    forged["Records"][0]["sourceIPAddress"] = "203.0.113.9".into();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, forged.to_string().as_bytes()).unwrap();
    s3.put_object()
        .bucket("audit-logs")
        .key(&modified)
        .body(ByteStream::from(gz.finish().unwrap()))
        .send()
        .await
        .unwrap();
    s3.delete_object().bucket("audit-logs").key(&deleted).send().await.unwrap();
    s3.delete_object().bucket("audit-logs").key(&missing).send().await.unwrap();
    let inserted = format!("{}_XXXXXXXXXXXXXXXX.json.gz", &modified[..modified.rfind('_').unwrap()]);
    s3.put_object().bucket("audit-logs").key(&inserted).body(ByteStream::from(planted)).send().await.unwrap();
    // The planted file is judged once a digest period after it closes.
    digests_after(&s3, time::OffsetDateTime::now_utc() + time::Duration::seconds(1), 1).await;

    let (code, out) = rampart_validate(&server, &start_arg);
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, &modified).ends_with("INVALID: modified (hash value doesn't match)"), "{out}");
    assert!(line_of(&out, &deleted).ends_with("INVALID: deleted (not found)"), "{out}");
    assert!(line_of(&out, &missing).contains("INVALID: missing"), "{out}");
    assert!(line_of(&out, &inserted).contains("INVALID: inserted"), "{out}");
    for log in logs.iter().filter(|l| ![&modified, &deleted].contains(l) && digest_of(l) != Some(missing_at)) {
        assert!(line_of(&out, log).ends_with("\tvalid"), "{out}");
    }
    let (ok, aws_out) = aws_validate(&server, &trail.trail_arn.unwrap(), &start_arg).await;
    assert!(!ok, "the AWS CLI must fail too:\n{aws_out}");
    assert!(aws_out.contains(&format!("{modified}\tINVALID: hash value doesn't match")), "{aws_out}");
    assert!(aws_out.contains(&format!("{deleted}\tINVALID: not found")), "{aws_out}");
}

/// `aws cloudtrail validate-logs` against the server: success and everything it printed.
async fn aws_validate(server: &TestServer, arn: &str, start: &str) -> (bool, String) {
    aws_validate_with(server, &["--trail-arn", arn, "--start-time", start]).await
}

async fn aws_validate_with(server: &TestServer, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new("aws")
        .args(["cloudtrail", "validate-logs", "--verbose"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &server.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret_access_key)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .expect("the AWS CLI must be installed (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The region names of every event in the log files under `prefix`, and their event sources.
async fn delivered_regions(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for key in keys_in(s3, "regions", prefix).await.iter().filter(|k| k.contains("/CloudTrail/")) {
        let body = s3.get_object().bucket("regions").key(key).send().await.unwrap().body.collect().await.unwrap();
        for r in inflate(&body.into_bytes())["Records"].as_array().unwrap() {
            let file_region = key.split("/CloudTrail/").nth(1).unwrap().split('/').next().unwrap().to_owned();
            out.push((
                file_region,
                r["awsRegion"].as_str().unwrap().to_owned(),
                r["eventSource"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_region_trail_keeps_a_chain_per_region_and_a_single_region_trail_only_its_own() {
    let server = fast_trails().await;
    let (ct, s3, iam) = clients(&server);
    let (ct_eu, _, _) = clients_in(&server, "eu-west-1");
    let start = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    trail_bucket(&s3, "regions").await;
    for (name, multi, global) in [("everywhere", true, true), ("home", false, false)] {
        ct.create_trail()
            .name(name)
            .s3_bucket_name("regions")
            .s3_key_prefix(name)
            .is_multi_region_trail(multi)
            .include_global_service_events(global)
            .enable_log_file_validation(true)
            .send()
            .await
            .unwrap();
        ct.start_logging().name(name).send().await.unwrap();
    }
    iam.create_user().user_name("global-event").send().await.unwrap();
    ct_eu.list_trails().send().await.unwrap();
    ct.list_trails().send().await.unwrap();

    // Wait for both regions' files of the multi-region trail, then two digests past them.
    let mut everywhere = Vec::new();
    for _ in 0..100 {
        everywhere = delivered_regions(&s3, "everywhere/").await;
        let has = |region: &str, source: &str| everywhere.iter().any(|(_, r, s)| r == region && s == source);
        if has("eu-west-1", "cloudtrail.amazonaws.com") && has("us-east-1", "iam.amazonaws.com") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(everywhere.iter().any(|(_, r, _)| r == "eu-west-1"), "{everywhere:?}");
    assert!(everywhere.iter().all(|(file, event, _)| file == event), "each region's events in its own files");
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The single-region trail without global events has neither eu-west-1's nor IAM's events.
    let home = delivered_regions(&s3, "home/").await;
    assert!(home.iter().any(|(_, _, s)| s == "cloudtrail.amazonaws.com"), "{home:?}");
    assert!(home.iter().all(|(_, r, s)| r == "us-east-1" && s != "iam.amazonaws.com"), "{home:?}");

    // Digests per region, named with the home region, each region's chain valid on its own.
    let eu_digests = keys_in(&s3, "regions", "everywhere/AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/").await;
    assert!(!eu_digests.is_empty());
    assert!(
        eu_digests.iter().all(|k| k.contains("_CloudTrail-Digest_eu-west-1_everywhere_us-east-1_")),
        "{eu_digests:?}"
    );
    for (trail, region) in [("everywhere", "eu-west-1"), ("everywhere", "us-east-1"), ("home", "us-east-1")] {
        let (code, out) = rampart_validate_in(&server, trail, region, &start);
        assert_eq!(code, 0, "{trail} {region}: {out}");
        assert!(!out.contains("0/0 log files"), "{trail} {region}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_directory_holds_the_same_files_and_validates_on_its_own() {
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_owned();
    let server = TestServer::start_with(|c| {
        c.trail_delivery_secs = 1;
        c.trail_digest_secs = 2;
        c.trail_export_dir = Some(dir.clone());
    })
    .await
    .unwrap();
    let (ct, s3, iam) = clients(&server);
    let start = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    trail_bucket(&s3, "audit-logs").await;
    ct.create_trail().name("main").s3_bucket_name("audit-logs").enable_log_file_validation(true).send().await.unwrap();
    ct.start_logging().name("main").send().await.unwrap();
    for i in 0..3 {
        iam.create_user().user_name(format!("e{i}")).send().await.unwrap();
    }
    digests_after(&s3, time::OffsetDateTime::now_utc() + time::Duration::seconds(3), 2).await;
    // The copy runs right after each delivery; give it that run.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Every delivered object is on disk, byte for byte; digests carry their signature beside them.
    let objects = keys(&s3, "AWSLogs/").await;
    assert!(objects.iter().any(|k| k.contains("/CloudTrail/")) && objects.iter().any(|k| k.contains("-Digest/")));
    for key in &objects {
        let path = dir.join("audit-logs").join(key);
        assert_eq!(std::fs::read(&path).unwrap(), get(&s3, key).await, "{key}");
        let side = std::fs::read(format!("{}.metadata.json", path.display()));
        assert_eq!(side.is_ok(), key.contains("-Digest/"), "{key}");
    }

    let from_dir = dir.display().to_string();
    let validate_dir = || run_validate(&server, &["--trail", "main", "--start-time", &start, "--from-dir", &from_dir]);
    let (code, out) = validate_dir();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("0/0 log files"), "{out}");
    // With no store at hand, the export directory's own description and keys serve, and the
    // fingerprints to check are named.
    let alone = |range: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["trail", "validate", "--trail", "main", "--from-dir", &from_dir])
            .args(range)
            .arg("--data-dir")
            .arg(dir.join("no-store-here"))
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = alone(&["--start-time", &start]);
    assert_eq!(code, 0, "{out}");
    let listed = ct.list_public_keys().send().await.unwrap();
    let print = listed.public_key_list()[0].fingerprint().unwrap();
    assert!(out.contains("Public keys read from") && out.contains(print), "{out}");
    assert!(out.contains("digest files valid") && !out.contains("0/0 log files"), "{out}");
    // A range no digest covers says when the next digest is due.
    let (code, out) = alone(&["--start-time", "2020-01-01", "--end-time", "2020-01-02"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("No digest file was found") && out.contains("--trail-digest-secs"), "{out}");

    // Tampering with the copy is caught, while the bucket's files stay valid.
    let log = objects.iter().find(|k| k.contains("/CloudTrail/")).unwrap();
    let path = dir.join("audit-logs").join(log);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 9;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let (code, out) = validate_dir();
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, log).contains("INVALID: modified"), "{out}");
    let (code, out) = rampart_validate(&server, &start);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organization_trail_signs_each_accounts_files_in_a_chain_of_its_own() {
    let server = fast_trails().await;
    let (ct, s3, _) = clients(&server);
    let conf = |c: aws_sdk_s3::config::Credentials| {
        (
            aws_sdk_organizations::Config::builder()
                .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
                .region(aws_sdk_organizations::config::Region::new("us-east-1"))
                .endpoint_url(&server.endpoint)
                .credentials_provider(c.clone())
                .build(),
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("us-east-1"))
                .endpoint_url(&server.endpoint)
                .credentials_provider(c)
                .build(),
        )
    };
    let creds =
        aws_sdk_s3::config::Credentials::new(&server.access_key_id, &server.secret_access_key, None, None, "test");
    let org = aws_sdk_organizations::Client::from_conf(conf(creds).0);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    org.enable_aws_service_access().service_principal("cloudtrail.amazonaws.com").send().await.unwrap();
    let made = org.create_account().email("m@example.com").account_name("m").send().await.unwrap();
    let request = made.create_account_status().unwrap().id().unwrap().to_owned();
    let status = org.describe_create_account_status().create_account_request_id(&request).send().await.unwrap();
    let member = status.create_account_status().unwrap().account_id().unwrap().to_owned();

    trail_bucket(&s3, "audit-logs").await;
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let start_arg = start.format(&time::format_description::well_known::Rfc3339).unwrap();
    let trail = ct
        .create_trail()
        .name("org")
        .s3_bucket_name("audit-logs")
        .is_organization_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    let arn = trail.trail_arn().unwrap().to_owned();
    ct.start_logging().name("org").send().await.unwrap();

    // The member's administrator (through OrganizationAccountAccessRole) makes some calls.
    let (_, _, iam) = clients(&server);
    iam.create_user().user_name("ops").send().await.unwrap();
    let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("ops").policy_name("admin").policy_document(admin).send().await.unwrap();
    let key = iam.create_access_key().user_name("ops").send().await.unwrap();
    let key = key.access_key().unwrap();
    let ops = aws_sdk_s3::config::Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "test");
    let session = aws_sdk_sts::Client::from_conf(conf(ops).1)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
        .role_session_name("ops")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap().clone();
    let in_member = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&server.endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "test",
            ))
            .build(),
    );
    for i in 0..4 {
        in_member.create_user().user_name(format!("m{i}")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }

    // The member's digests: under the organization, of the member's own files, in their own chain.
    let digests_prefix = format!("AWSLogs/{org_id}/{member}/CloudTrail-Digest/us-east-1/");
    let logs_prefix = format!("AWSLogs/{org_id}/{member}/CloudTrail/us-east-1/");
    let mut named = Vec::new();
    let mut docs = Vec::new();
    for _ in 0..200 {
        docs.clear();
        for key in keys(&s3, &digests_prefix).await {
            docs.push(inflate(&get(&s3, &key).await));
        }
        named = docs
            .iter()
            .flat_map(|d| d["logFiles"].as_array().unwrap().iter().map(|l| l["s3Object"].as_str().unwrap().to_owned()))
            .collect();
        let logs = keys(&s3, &logs_prefix).await;
        if docs.len() >= 2 && !logs.is_empty() && logs.iter().all(|l| named.contains(l)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(docs.len() >= 2, "{docs:?}");
    assert!(!named.is_empty() && named.iter().all(|k| k.starts_with(&logs_prefix)), "{named:?}");
    for d in &docs {
        assert_eq!(d["awsAccountId"], member.as_str());
    }
    for pair in docs.windows(2) {
        assert_eq!(pair[1]["previousDigestS3Object"], pair[0]["digestS3Object"]);
    }
    // The management account's own files have their chain too.
    assert!(!keys(&s3, &format!("AWSLogs/{org_id}/123456789012/CloudTrail-Digest/us-east-1/")).await.is_empty());

    let (code, out) = run_validate(&server, &["--trail", "org", "--account-id", &member, "--start-time", &start_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("log files valid") && !out.contains("INVALID"), "{out}");
    let (ok, aws_out) =
        aws_validate_with(&server, &["--trail-arn", &arn, "--account-id", &member, "--start-time", &start_arg]).await;
    assert!(ok, "{aws_out}");
    assert!(aws_out.contains("log files valid") && !aws_out.contains("INVALID"), "{aws_out}");
    // A member's log file rewritten: both validators see it.
    let victim = named[0].clone();
    s3.put_object()
        .bucket("audit-logs")
        .key(&victim)
        .body(ByteStream::from(get(&s3, &named[named.len() - 1]).await))
        .send()
        .await
        .unwrap();
    let (code, out) = run_validate(&server, &["--trail", "org", "--account-id", &member, "--start-time", &start_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(line_of(&out, &victim).contains("INVALID: modified"), "{out}");
    let (ok, aws_out) =
        aws_validate_with(&server, &["--trail-arn", &arn, "--account-id", &member, "--start-time", &start_arg]).await;
    assert!(!ok, "{aws_out}");
}
