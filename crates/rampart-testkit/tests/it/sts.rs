//! STS through the official SDK: the root identity, and each way a signature can be wrong.

use std::time::{Duration, SystemTime};

use aws_smithy_async::time::StaticTimeSource;
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::{code, root_sts, sts_builder, sts_client};

#[tokio::test]
async fn root_credentials_get_the_root_identity_exactly_as_aws_returns_it() {
    let server = TestServer::start().await.unwrap();
    let out = root_sts(&server).get_caller_identity().send().await.unwrap();
    assert_eq!(out.account(), Some(ACCOUNT_ID));
    assert_eq!(out.user_id(), Some(ACCOUNT_ID));
    assert_eq!(out.arn(), Some("arn:aws:iam::123456789012:root"));
    assert!(server.access_key_id.starts_with("AKIA") && server.access_key_id.len() == 20);
    assert_eq!(server.secret_access_key.len(), 40);
}

#[tokio::test]
async fn a_wrong_secret_is_signature_does_not_match() {
    let server = TestServer::start().await.unwrap();
    let mut wrong = server.secret_access_key.clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    let c = sts_client(&server, &server.access_key_id, &wrong);
    assert_eq!(code(c.get_caller_identity().send().await), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn an_unknown_key_is_invalid_client_token_id() {
    let server = TestServer::start().await.unwrap();
    let c = sts_client(&server, "AKIAUNKNOWNKEY000000", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    assert_eq!(code(c.get_caller_identity().send().await), "InvalidClientTokenId");
}

#[tokio::test]
async fn a_skewed_clock_is_request_expired() {
    let server = TestServer::start().await.unwrap();
    for skew in [-20i64, 20] {
        let when = if skew < 0 {
            SystemTime::now() - Duration::from_secs(20 * 60)
        } else {
            SystemTime::now() + Duration::from_secs(20 * 60)
        };
        let conf = sts_builder(&server, &server.access_key_id, &server.secret_access_key)
            .time_source(StaticTimeSource::new(when))
            .build();
        let c = aws_sdk_sts::Client::from_conf(conf);
        assert_eq!(code(c.get_caller_identity().send().await), "RequestExpired", "skew {skew} min");
    }
    // Within the 15 minutes, the same request works.
    let when = SystemTime::now() - Duration::from_secs(10 * 60);
    let conf = sts_builder(&server, &server.access_key_id, &server.secret_access_key)
        .time_source(StaticTimeSource::new(when))
        .build();
    assert_eq!(code(aws_sdk_sts::Client::from_conf(conf).get_caller_identity().send().await), "OK");
}

#[tokio::test]
async fn many_concurrent_clients_all_succeed() {
    let server = TestServer::start().await.unwrap();
    let client = root_sts(&server);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let out = c.get_caller_identity().send().await.unwrap();
                assert_eq!(out.account(), Some(ACCOUNT_ID));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = server.audit_events(320).await.unwrap();
    assert!(events.iter().filter(|e| e["eventName"] == "GetCallerIdentity").count() >= 320);
}

#[tokio::test]
async fn unimplemented_operations_say_so_after_validating_input() {
    let server = TestServer::start().await.unwrap();
    let c = root_sts(&server);
    // A valid GetFederationToken reaches the operation table, which does not serve it yet.
    let r = c.get_federation_token().name("fed-user").send().await;
    assert_eq!(code(r), "NotImplemented");
}
