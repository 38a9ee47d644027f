//! A smoke test through the AWS CLI, exactly as the README shows it.

use rampart_testkit::{ACCOUNT_ID, TestServer};

#[tokio::test]
async fn aws_cli_gets_the_caller_identity_with_the_written_credentials_file() {
    let server = TestServer::start().await.unwrap();
    let creds = server.data_dir().join("root-credentials");
    let v = ok(&server, &creds, &["sts", "get-caller-identity"]).await;
    assert_eq!(v["Account"], ACCOUNT_ID);
    assert_eq!(v["Arn"], "arn:aws:iam::123456789012:root");
    assert_eq!(v["UserId"], ACCOUNT_ID);
}

/// Runs the AWS CLI against `server` with the credentials in `creds`; the exit status, stdout and
/// stderr.
pub(crate) async fn aws(server: &TestServer, creds: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new("aws")
        .args(args)
        .args(["--output", "json"])
        .env("AWS_SHARED_CREDENTIALS_FILE", creds)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .expect("the AWS CLI must be installed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a CLI call that must succeed and returns its JSON output (null when it prints nothing).
async fn ok(server: &TestServer, creds: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let (success, stdout, stderr) = aws(server, creds, args).await;
    assert!(success, "aws {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null)
}

/// Creates an access key for `user` and writes it as a shared-credentials file.
async fn key_file(
    server: &TestServer,
    creds: &std::path::Path,
    user: &str,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let k = ok(server, creds, &["iam", "create-access-key", "--user-name", user]).await;
    let path = dir.join(user);
    let text = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        k["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        k["AccessKey"]["SecretAccessKey"].as_str().unwrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The coffee shop with the AWS CLI, checking what the README walkthrough (run by
/// `rampart-cli/tests/readme.rs`) only shows: object contents, and denials after the move.
#[tokio::test]
async fn the_coffee_shop_runs_with_the_aws_cli() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = server.data_dir().join("root-credentials");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        format!("file://{}", p.display())
    };

    // The root user creates an administrator, then stops using root.
    ok(&server, &root, &["iam", "create-user", "--user-name", "admin"]).await;
    let admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess";
    ok(&server, &root, &["iam", "attach-user-policy", "--user-name", "admin", "--policy-arn", admin_policy]).await;
    let admin = key_file(&server, &root, "admin", dir.path()).await;

    // The owner sets up the shop: two buckets, two groups, a policy per group, one cashier.
    for b in ["coffee-receipts", "coffee-inventory"] {
        ok(&server, &admin, &["s3api", "create-bucket", "--bucket", b]).await;
    }
    let cashier = file(
        "cashier.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::coffee-receipts/*"}]}"#,
    );
    let inventory = file(
        "inventory.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::coffee-inventory/*"}]}"#,
    );
    for (group, doc) in [("Cashiers", &cashier), ("InventorySpecialists", &inventory)] {
        ok(&server, &admin, &["iam", "create-group", "--group-name", group]).await;
        let name = format!("{group}Access");
        let p = ok(&server, &admin, &["iam", "create-policy", "--policy-name", &name, "--policy-document", doc]).await;
        let arn = p["Policy"]["Arn"].as_str().unwrap().to_owned();
        ok(&server, &admin, &["iam", "attach-group-policy", "--group-name", group, "--policy-arn", &arn]).await;
    }
    ok(&server, &admin, &["iam", "create-user", "--user-name", "ana"]).await;
    ok(&server, &admin, &["iam", "add-user-to-group", "--group-name", "Cashiers", "--user-name", "ana"]).await;
    let ana = key_file(&server, &admin, "ana", dir.path()).await;

    // Ana's own key does exactly what Cashiers allows.
    let receipt = dir.path().join("receipt.txt");
    std::fs::write(&receipt, "1 latte\n").unwrap();
    let body = receipt.to_str().unwrap();
    ok(&server, &ana, &["s3api", "put-object", "--bucket", "coffee-receipts", "--key", "r1", "--body", body]).await;
    let out = dir.path().join("out.txt");
    let out_s = out.to_str().unwrap();
    ok(&server, &ana, &["s3api", "get-object", "--bucket", "coffee-receipts", "--key", "r1", out_s]).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "1 latte\n");
    let (success, _, stderr) =
        aws(&server, &ana, &["s3api", "put-object", "--bucket", "coffee-inventory", "--key", "beans", "--body", body])
            .await;
    assert!(!success);
    assert!(
        stderr.contains("AccessDenied")
            && stderr.contains("User: arn:aws:iam::123456789012:user/ana is not authorized to perform: s3:PutObject"),
        "{stderr}"
    );
    let (success, _, stderr) = aws(&server, &ana, &["iam", "list-users"]).await;
    assert!(!success && stderr.contains("AccessDenied"), "{stderr}");

    // Moved to InventorySpecialists, her very next request is decided by that group's policy.
    ok(&server, &admin, &["iam", "remove-user-from-group", "--group-name", "Cashiers", "--user-name", "ana"]).await;
    ok(&server, &admin, &["iam", "add-user-to-group", "--group-name", "InventorySpecialists", "--user-name", "ana"])
        .await;
    ok(&server, &ana, &["s3api", "put-object", "--bucket", "coffee-inventory", "--key", "beans", "--body", body]).await;
    let (success, _, stderr) =
        aws(&server, &ana, &["s3api", "get-object", "--bucket", "coffee-receipts", "--key", "r1", out_s]).await;
    assert!(!success && stderr.contains("AccessDenied"), "{stderr}");
}
