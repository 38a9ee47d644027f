//! The server's life: restarts, dev mode, health, reset and audit capture.

use rampart_testkit::{ACCOUNT_ID, TestServer, send};

use crate::{code, root_sts, sts_client};

#[tokio::test]
async fn state_survives_a_restart_without_a_second_bootstrap() {
    let mut server = TestServer::start().await.unwrap();
    root_sts(&server).get_caller_identity().send().await.unwrap();
    let before = server.audit_events(1).await.unwrap().len();
    server.restart().await.unwrap();
    let out = root_sts(&server).get_caller_identity().send().await.unwrap();
    assert_eq!(out.account(), Some(ACCOUNT_ID));
    // Events from before the restart are still there, and the new one is added.
    let after = server.audit_events(before + 1).await.unwrap();
    assert!(after.len() > before, "{} events before, {} after", before, after.len());
    let creds = std::fs::read_to_string(server.data_dir().join("root-credentials")).unwrap();
    assert!(creds.contains(&format!("aws_access_key_id = {}", server.access_key_id)));
    use std::os::unix::fs::PermissionsExt;
    // (A node on PostgreSQL has no database file.)
    let files: &[&str] = if server.config.store.is_some() {
        &["root-credentials", "master.key"]
    } else {
        &["root-credentials", "master.key", "rampart.db"]
    };
    for f in files {
        let mode = std::fs::metadata(server.data_dir().join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

#[tokio::test]
async fn a_secret_is_never_stored_in_clear() {
    let mut server = TestServer::start().await.unwrap();
    root_sts(&server).get_caller_identity().send().await.unwrap();
    server.stop().await;
    let db = server.stored_bytes().unwrap();
    let secret = server.secret_access_key.as_bytes();
    assert!(!db.windows(secret.len()).any(|w| w == secret), "the secret access key is in the database file");
    assert!(
        db.windows(server.access_key_id.len()).any(|w| w == server.access_key_id.as_bytes()),
        "the key id should be there"
    );
}

#[tokio::test]
async fn start_refuses_a_master_key_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = TestServer::start().await.unwrap();
    server.stop().await;
    let key = server.data_dir().join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = match rampart_server::start(server.config.clone()).await {
        Ok(_) => panic!("started with a world-readable master key"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("master.key") && err.contains("readable by group or others"), "{err}");
}

#[tokio::test]
async fn dev_mode_accepts_unknown_keys_as_the_dev_administrator_and_still_checks_issued_keys() {
    // Dev mode's defaults: one account, 000000000000, for the bootstrap's root and unknown keys.
    let server = TestServer::start_with(|c| {
        c.dev = true;
        c.account_id = None;
        c.dev_account_id = "000000000000".into();
    })
    .await
    .unwrap();
    assert_eq!(server.running.as_ref().unwrap().management_account_id, "000000000000");
    let root = root_sts(&server).get_caller_identity().send().await.unwrap();
    assert_eq!(root.arn(), Some("arn:aws:iam::000000000000:root"));
    // An unknown key is the built-in administrator user, not root.
    let any = sts_client(&server, "AKIAANYTHINGATALL000", "whatever");
    let out = any.get_caller_identity().send().await.unwrap();
    assert_eq!(out.account(), Some("000000000000"));
    assert_eq!(out.arn(), Some("arn:aws:iam::000000000000:user/rampart-dev"));
    // It is an ordinary user: listed, with AdministratorAccess attached.
    let admin = crate::iam::root(&server);
    let attached = admin.list_attached_user_policies().user_name("rampart-dev").send().await.unwrap();
    assert_eq!(attached.attached_policies()[0].policy_arn(), Some("arn:aws:iam::aws:policy/AdministratorAccess"));
    // The well-known `test` key too, and what it makes is seen by the printed root key.
    let test = crate::iam::iam(&server, "test", "test");
    test.create_user().user_name("from-test-key").send().await.unwrap();
    let users = admin.list_users().send().await.unwrap();
    assert!(users.users().iter().any(|u| u.user_name() == "from-test-key"));
    // The step every emulator suite takes: assume a role with the default credentials. (Root
    // may not assume roles; the user may, as in AWS.)
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
    test.create_role().role_name("deployer").assume_role_policy_document(trust).send().await.unwrap();
    let assumed = sts_client(&server, "test", "test")
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/deployer")
        .role_session_name("ci")
        .send()
        .await
        .unwrap();
    assert_eq!(assumed.assumed_role_user().unwrap().arn(), "arn:aws:sts::000000000000:assumed-role/deployer/ci");
    // Its permissions are the user's: take AdministratorAccess away and it is refused.
    admin
        .detach_user_policy()
        .user_name("rampart-dev")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    assert_eq!(crate::iam::err(test.list_users().send().await).0, "AccessDenied");
    // Deleted, it comes back as it was on the next unknown key.
    admin.delete_user().user_name("rampart-dev").send().await.unwrap();
    assert!(test.list_users().send().await.is_ok());
    // A 12-digit key id selects that account, as LocalStack reads it: its own dev user.
    let other = sts_client(&server, "111122223333", "test");
    let out = other.get_caller_identity().send().await.unwrap();
    assert_eq!(out.arn(), Some("arn:aws:iam::111122223333:user/rampart-dev"));
    let wrong = sts_client(&server, &server.access_key_id, "not-the-secret-not-the-secret-not-the-se");
    assert_eq!(code(wrong.get_caller_identity().send().await), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn dev_mode_refuses_a_second_account_for_the_bootstrap() {
    let err = start_error(rampart_server::Config {
        dev: true,
        account_id: Some("123456789012".into()),
        ..rampart_server::Config::default()
    })
    .await;
    assert!(err.contains("in dev mode the management account is the dev account"), "{err}");
}

async fn post(url: String) -> rampart_testkit::Raw {
    send(http::Request::post(url).body(Vec::new()).unwrap()).await.unwrap()
}

#[tokio::test]
async fn reset_wipes_state_in_dev_mode_only() {
    let prod = TestServer::start().await.unwrap();
    assert_eq!(post(format!("{}/_rampart/reset", prod.endpoint)).await.status, 404);

    let dev = TestServer::start_with(|c| c.dev = true).await.unwrap();
    root_sts(&dev).get_caller_identity().send().await.unwrap();
    assert!(!dev.audit_events(1).await.unwrap().is_empty());
    let r = post(format!("{}/_rampart/reset", dev.endpoint)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(dev.audit_events(0).await.unwrap().is_empty(), "audit events are state too");
    // The printed root credentials still work after a reset, and an unknown key's dev user,
    // wiped with the rest, is there again.
    assert_eq!(root_sts(&dev).get_caller_identity().send().await.unwrap().account(), Some(ACCOUNT_ID));
    let test = sts_client(&dev, "test", "test").get_caller_identity().send().await.unwrap();
    assert_eq!(test.arn(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/rampart-dev").as_str()));
}

#[tokio::test]
async fn health_reports_version_and_store() {
    let server = TestServer::start().await.unwrap();
    let r = send(http::Request::get(format!("{}/_rampart/health", server.endpoint)).body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["store"]["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // The services served, each with its count of operations.
    for service in ["cloudtrail", "iam", "s3", "sts"] {
        assert_eq!(v["services"][service]["status"], "running", "{v}");
        assert!(v["services"][service]["operations"].as_u64().unwrap() > 3, "{v}");
    }
    assert_eq!(r.headers.get("x-rampart-version").unwrap(), env!("CARGO_PKG_VERSION"));
    let head = send(http::Request::head(format!("{}/_rampart/health", server.endpoint)).body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    // API answers carry the version too.
    let api = send(server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap()).await.unwrap();
    assert_eq!(api.headers.get("x-rampart-version").unwrap(), env!("CARGO_PKG_VERSION"));
    let r =
        send(http::Request::get(format!("{}/_rampart/nope", server.endpoint)).body(Vec::new()).unwrap()).await.unwrap();
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn every_request_is_audited_with_who_what_and_outcome() {
    let server = TestServer::start().await.unwrap();
    root_sts(&server).get_caller_identity().send().await.unwrap();
    let bad = sts_client(&server, &server.access_key_id, "wrong-secret-wrong-secret-wrong-secret-w");
    let _ = bad.get_caller_identity().send().await;
    let unsigned = send(server.query_request("Action=GetCallerIdentity&Version=2011-06-15").unwrap()).await.unwrap();
    assert_eq!(unsigned.status, 403);
    let events = server.audit_events(3).await.unwrap();
    assert_eq!(events.len(), 3, "{events:#?}");
    // Newest first.
    let (missing, denied, ok) = (&events[0], &events[1], &events[2]);
    assert_eq!(ok["eventName"], "GetCallerIdentity");
    assert_eq!(ok["eventSource"], "sts.amazonaws.com");
    assert_eq!(ok["userIdentity"]["type"], "Root");
    assert_eq!(ok["userIdentity"]["arn"], "arn:aws:iam::123456789012:root");
    assert_eq!(ok["userIdentity"]["accessKeyId"], server.access_key_id.as_str());
    assert_eq!(ok["recipientAccountId"], ACCOUNT_ID);
    assert_eq!(ok["readOnly"], true);
    assert_eq!(ok["eventType"], "AwsApiCall");
    assert_eq!(ok["sourceIPAddress"], "127.0.0.1");
    assert!(ok["userAgent"].as_str().unwrap().contains("aws-sdk-rust"), "{}", ok["userAgent"]);
    assert!(ok.get("errorCode").is_none());
    assert_eq!(denied["errorCode"], "SignatureDoesNotMatch");
    assert_eq!(denied["userIdentity"]["type"], "Unknown");
    assert_eq!(denied["userIdentity"]["accessKeyId"], server.access_key_id.as_str());
    assert_eq!(missing["errorCode"], "MissingAuthenticationToken");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&server.secret_access_key));
    for e in &events {
        assert!(e["eventID"].as_str().unwrap().len() == 36 && e["requestID"].as_str().is_some());
        assert!(e["eventTime"].as_str().unwrap().ends_with('Z'));
    }
}

/// The start error of `config`, which must not start.
async fn start_error(config: rampart_server::Config) -> String {
    match rampart_server::start(config).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_store_is_never_opened_with_a_missing_or_different_master_key() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = TestServer::start().await.unwrap();
    server.stop().await;
    let key = server.data_dir().join("master.key");
    let original = std::fs::read(&key).unwrap();

    // No key: refused, and no new key is made.
    std::fs::remove_file(&key).unwrap();
    let err = start_error(server.config.clone()).await;
    assert!(err.contains("master.key is missing") && err.contains("restore the key from your backup"), "{err}");
    assert!(!key.exists(), "a new key was made for a store that has data");

    // Another key: refused before serving anything.
    std::fs::write(&key, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = start_error(server.config.clone()).await;
    let store_name = server.config.store.as_ref().map_or("rampart.db".to_owned(), |u| u.redacted());
    assert!(err.contains("is not the key the data in") && err.contains(&store_name), "{err}");
    // The same through RAMPART_MASTER_KEY's route: the error names where the key came from.
    let mut inline = server.config.clone();
    inline.master_key = rampart_server::MasterKeySource::Inline(zeroize::Zeroizing::new(
        b"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=".to_vec(),
    ));
    assert!(start_error(inline).await.contains("RAMPART_MASTER_KEY"));

    // The right key opens it again, with everything in it.
    std::fs::write(&key, &original).unwrap();
    server.restart().await.unwrap();
    assert_eq!(root_sts(&server).get_caller_identity().send().await.unwrap().account(), Some(ACCOUNT_ID));
}

#[tokio::test]
async fn a_store_from_before_the_key_check_gets_one_when_its_key_opens_its_secrets() {
    let mut server = TestServer::start().await.unwrap();
    server.stop().await;
    // Take the check value out, as in a store written by an earlier version.
    let db = rampart_store::Db::open_sqlite(&server.data_dir().join("rampart.db")).unwrap();
    db.transact(|tx| tx.delete(rampart_core::keys::MASTER_KEY_CHECK).map(|_| ())).await.unwrap();
    db.close();
    let key = server.data_dir().join("master.key");
    let original = std::fs::read(&key).unwrap();
    std::fs::write(&key, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n").unwrap();
    let err = start_error(server.config.clone()).await;
    assert!(err.contains("is not the key the data in"), "{err}");
    std::fs::write(&key, &original).unwrap();
    server.restart().await.unwrap();
    assert_eq!(root_sts(&server).get_caller_identity().send().await.unwrap().account(), Some(ACCOUNT_ID));
}

#[tokio::test]
async fn a_first_start_on_a_taken_port_bootstraps_nothing() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = rampart_server::Config {
        listen: taken.local_addr().unwrap(),
        data_dir: dir.path().join("data"),
        ..rampart_server::Config::default()
    };
    let err = start_error(config.clone()).await;
    assert!(err.contains("cannot listen on") && err.contains("another process uses that port"), "{err}");
    assert!(!config.data_dir.join("root-credentials").exists());
    // Once the port is free, the first start happens then, and its secrets are shown.
    drop(taken);
    let running = rampart_server::start(config.clone()).await.unwrap();
    let first = running.first_start.as_ref().expect("the bootstrap happens on the start that serves");
    assert_eq!(first.root_password.len(), 24);
    assert!(config.data_dir.join("root-credentials").exists());
    running.shutdown().await;
}
