//! A smoke test through the AWS CLI, exactly as the README shows it.

use rampart_testkit::{ACCOUNT_ID, TestServer};

#[tokio::test]
async fn aws_cli_gets_the_caller_identity_with_the_written_credentials_file() {
    let server = TestServer::start().await.unwrap();
    let creds = server.data_dir().join("root-credentials");
    let out = tokio::process::Command::new("aws")
        .args(["sts", "get-caller-identity", "--output", "json"])
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .expect("the AWS CLI must be installed (.ci/run installs it)");
    assert!(out.status.success(), "aws failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Account"], ACCOUNT_ID);
    assert_eq!(v["Arn"], "arn:aws:iam::123456789012:root");
    assert_eq!(v["UserId"], ACCOUNT_ID);
}
