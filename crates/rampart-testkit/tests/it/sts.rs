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
async fn decode_authorization_message_refuses_what_rampart_did_not_seal_and_needs_permission() {
    let server = TestServer::start().await.unwrap();
    let c = root_sts(&server);
    let r = c.decode_authorization_message().encoded_message("abc").send().await;
    assert_eq!(code(r), "InvalidAuthorizationMessageException");
    let admin = crate::iam::root(&server);
    admin.create_user().user_name("dee").send().await.unwrap();
    let k = admin.create_access_key().user_name("dee").send().await.unwrap();
    let k = k.access_key().unwrap();
    let dee = sts_client(&server, k.access_key_id(), k.secret_access_key());
    let r = dee.decode_authorization_message().encoded_message("abc").send().await;
    assert_eq!(code(r), "AccessDenied", "decoding needs sts:DecodeAuthorizationMessage");
}

#[tokio::test]
async fn a_federation_token_does_what_both_the_user_and_the_session_policy_allow() {
    let server = TestServer::start().await.unwrap();
    let admin = crate::iam::root(&server);
    let owner = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    owner.create_bucket().bucket("shared").send().await.unwrap();
    let body = aws_sdk_s3::primitives::ByteStream::from(b"menu".to_vec());
    owner.put_object().bucket("shared").key("menu.txt").body(body).send().await.unwrap();
    admin.create_user().user_name("broker").send().await.unwrap();
    let broker_policy = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]},
      {"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"arn:aws:sts::123456789012:federated-user/*"}]}"#;
    admin.put_user_policy().user_name("broker").policy_name("p").policy_document(broker_policy).send().await.unwrap();
    let k = admin.create_access_key().user_name("broker").send().await.unwrap();
    let k = k.access_key().unwrap();
    let broker = crate::sts_client(&server, k.access_key_id(), k.secret_access_key());

    let read_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
    let out = broker.get_federation_token().name("visitor").policy(read_only).send().await.unwrap();
    let fu = out.federated_user().unwrap();
    assert_eq!(fu.arn(), "arn:aws:sts::123456789012:federated-user/visitor");
    assert_eq!(fu.federated_user_id(), "123456789012:visitor");
    let c = out.credentials().unwrap();
    let visitor_s3 = crate::s3::s3_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let got = visitor_s3.get_object().bucket("shared").key("menu.txt").send().await;
    assert!(got.is_ok(), "the user and the session policy both allow GetObject");
    let put = visitor_s3
        .put_object()
        .bucket("shared")
        .key("x")
        .body(aws_sdk_s3::primitives::ByteStream::from(b"x".to_vec()))
        .send()
        .await;
    let e = put.unwrap_err();
    let se = aws_sdk_s3::error::ProvideErrorMetadata::code(e.as_service_error().unwrap());
    assert_eq!(se, Some("AccessDenied"), "the session policy does not allow PutObject");
    let visitor_sts =
        crate::roles::sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let me = visitor_sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:federated-user/visitor"));
    assert_eq!(crate::code(visitor_sts.get_federation_token().name("again").send().await), "AccessDenied");
    let visitor_iam = crate::iam::iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let (c_, m) = crate::iam::err(visitor_iam.list_users().send().await);
    assert_eq!(c_, "AccessDenied", "federated users cannot call IAM");
    assert!(m.contains("federated-user/visitor"), "{m}");

    // No session policy: no permissions at all.
    let bare = broker.get_federation_token().name("bare").send().await.unwrap();
    let c = bare.credentials().unwrap();
    let bare_s3 = crate::s3::s3_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert!(bare_s3.get_object().bucket("shared").key("menu.txt").send().await.is_err());
}
