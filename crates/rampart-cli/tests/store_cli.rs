//! Moving and keeping data with the `rampart` binary: `rampart store copy` from a data directory
//! into PostgreSQL and back, each copy then served by a real server; `rampart backup` beside a
//! running server, restored as the README says.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::Path;
use std::process::Command;

use rampart_testkit::TestServer;

fn rampart(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn iam(server: &TestServer) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&server.endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                &server.access_key_id,
                &server.secret_access_key,
                None,
                None,
                "test",
            ))
            .build(),
    )
}

async fn users(server: &TestServer) -> Vec<String> {
    let listed = iam(server).list_users().send().await.unwrap();
    listed.users().iter().map(|u| u.user_name().to_owned()).collect()
}

/// A server on `store` (a data directory's or a database's), with the source's root key.
async fn serve(like: &TestServer, data_dir: &Path, store: Option<String>, master_key: &Path) -> TestServer {
    let mut config = like.config.clone();
    config.data_dir = data_dir.to_path_buf();
    config.store = store.map(rampart_server::config::StoreUrl);
    config.master_key_file = Some(master_key.to_path_buf());
    let running = rampart_server::start(config.clone()).await.unwrap();
    assert!(running.first_start.is_none(), "a copied store must not bootstrap again");
    TestServer {
        endpoint: running.endpoint(),
        running: Some(running),
        dir: tempfile::tempdir().unwrap(),
        config,
        access_key_id: like.access_key_id.clone(),
        secret_access_key: like.secret_access_key.clone(),
        root_email: like.root_email.clone(),
        root_password: like.root_password.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_moves_to_postgres_and_back() {
    let mut server = TestServer::start().await.unwrap();
    for name in ["ana", "bob"] {
        iam(&server).create_user().user_name(name).send().await.unwrap();
    }
    server.stop().await;
    let data = server.data_dir();
    let key = data.join("master.key");
    let url = rampart_testkit::new_database().unwrap();

    let (ok, out, err) = rampart(&["store", "copy", "--from", data.to_str().unwrap(), "--to", &url]);
    assert!(ok, "{err}");
    assert!(out.contains("verified (SHA-256 ") && out.contains("--master-key-file"), "{out}");
    // Copying again into the database, which now holds the store, is refused.
    let (ok, _, err) = rampart(&["store", "copy", "--from", data.to_str().unwrap(), "--to", &url]);
    assert!(!ok && err.contains("already holds data"), "{err}");

    let node_dir = tempfile::tempdir().unwrap();
    let mut on_pg = serve(&server, &node_dir.path().join("data"), Some(url.clone()), &key).await;
    assert_eq!(users(&on_pg).await, ["ana", "bob"]);
    iam(&on_pg).create_user().user_name("cy").send().await.unwrap();
    on_pg.stop().await;

    let back = tempfile::tempdir().unwrap();
    let back_dir = back.path().join("data");
    let (ok, out, err) = rampart(&["store", "copy", "--from", &url, "--to", back_dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("Put the cluster's master key at"), "{out}");
    let on_disk = serve(&server, &back_dir, None, &key).await;
    assert_eq!(users(&on_disk).await, ["ana", "bob", "cy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_beside_a_running_server_restores() {
    let server = TestServer::start().await.unwrap();
    iam(&server).create_user().user_name("kept").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let (ok, out, err) =
        rampart(&["backup", "--data-dir", server.data_dir().to_str().unwrap(), "--to", backup.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("integrity checked"), "{out}");
    iam(&server).create_user().user_name("later").send().await.unwrap();

    // Restored as the README says: a new data directory, the backup as rampart.db, the key beside.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::set_permissions(&restored, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::copy(&backup, restored.join("rampart.db")).unwrap();
    let key = restored.join("master.key");
    std::fs::copy(server.data_dir().join("master.key"), &key).unwrap();
    let again = serve(&server, &restored, None, &key).await;
    assert_eq!(users(&again).await, ["kept"], "the backup holds what was there when it was taken");
}
