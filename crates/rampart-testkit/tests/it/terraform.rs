//! Terraform's hashicorp/aws provider against Rampart: a protected bucket (versioning, default
//! encryption with a KMS key, Block Public Access, Object Ownership, a bucket policy) with an
//! object, and a bucket with Object Lock's default retention, applies,
//! plans with no changes, and destroys with `force_destroy`, which lists and deletes every
//! version. The provider comes from the machine's filesystem mirror (no network).

use std::path::{Path, PathBuf};

use rampart_testkit::TestServer;

/// The directory holding `registry.terraform.io/…`: the provider mirror, found where machines
/// keep it (within three levels of `/`), or named by `RAMPART_TF_PLUGIN_MIRROR`.
fn provider_mirror() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAMPART_TF_PLUGIN_MIRROR") {
        return PathBuf::from(dir);
    }
    let mut level = vec![PathBuf::from("/")];
    for _ in 0..3 {
        let mut next = Vec::new();
        for dir in level {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                if !e.file_type().is_ok_and(|t| t.is_dir()) || path.starts_with("/proc") || path.starts_with("/sys") {
                    continue;
                }
                if e.file_name() == "registry.terraform.io" {
                    return dir;
                }
                next.push(path);
            }
        }
        level = next;
    }
    panic!(
        "no Terraform provider mirror (a registry.terraform.io directory) on this machine; set RAMPART_TF_PLUGIN_MIRROR"
    )
}

const CONFIG: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
provider "aws" {
  region                      = "us-east-1"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    s3        = var.endpoint
    s3control = var.endpoint
    sts       = var.endpoint
    iam       = var.endpoint
    kms       = var.endpoint
  }
}
resource "aws_kms_key" "k" {
  description             = "tf-protected objects"
  deletion_window_in_days = 7
}
data "aws_caller_identity" "me" {}
resource "aws_s3_bucket" "b" {
  bucket        = "tf-protected"
  force_destroy = true
}
resource "aws_s3_bucket_versioning" "v" {
  bucket = aws_s3_bucket.b.id
  versioning_configuration { status = "Enabled" }
}
resource "aws_s3_bucket_server_side_encryption_configuration" "e" {
  bucket = aws_s3_bucket.b.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.k.arn
    }
    bucket_key_enabled = true
  }
}
resource "aws_s3_bucket_public_access_block" "p" {
  bucket                  = aws_s3_bucket.b.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
resource "aws_s3_account_public_access_block" "account" {
  account_id              = data.aws_caller_identity.me.account_id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = false
}
resource "aws_s3_bucket_ownership_controls" "o" {
  bucket = aws_s3_bucket.b.id
  rule { object_ownership = "BucketOwnerEnforced" }
}
resource "aws_s3_bucket_policy" "pol" {
  bucket = aws_s3_bucket.b.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OwnAccountOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.b.arn, "${aws_s3_bucket.b.arn}/*"]
      Condition = { StringNotEquals = { "aws:PrincipalAccount" = data.aws_caller_identity.me.account_id } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.p]
}
resource "aws_s3_bucket" "locked" {
  bucket              = "tf-locked"
  object_lock_enabled = true
  force_destroy       = true
}
resource "aws_s3_bucket_object_lock_configuration" "l" {
  bucket = aws_s3_bucket.locked.id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = 1
    }
  }
}
resource "aws_s3_object" "o" {
  bucket     = aws_s3_bucket.b.id
  key        = "hello.txt"
  content    = "hello"
  depends_on = [aws_s3_bucket_versioning.v, aws_s3_bucket_server_side_encryption_configuration.e]
}
"#;

fn terraform(dir: &Path, server: &TestServer, args: &[&str]) -> std::process::Output {
    std::process::Command::new("terraform")
        .args(args)
        .arg("-no-color")
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("terraformrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_VAR_endpoint", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", &server.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret_access_key)
        // S3 Control puts the account in front of the endpoint's host (`ACCOUNT.127.0.0.1`),
        // which no DNS resolves: such a request reaches the server as its proxy (Go's client
        // sends requests for a loopback address straight, proxy or not).
        .env("HTTP_PROXY", &server.endpoint)
        .env("NO_PROXY", "")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .output()
        .expect("terraform runs (it is part of this machine's image; .ci/run checks for it)")
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "terraform {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_bucket_applies_plans_clean_and_force_destroys() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), CONFIG).unwrap();
    let mirror = provider_mirror();
    std::fs::write(
        dir.path().join("terraformrc"),
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{ exclude = [\"registry.terraform.io/*/*\"] }}\n}}\n",
            mirror.display().to_string()
        ),
    )
    .unwrap();
    let path = dir.path().to_owned();
    let run = |args: &'static [&'static str]| {
        let (path, server) = (path.clone(), &server);
        tokio::task::block_in_place(move || terraform(&path, server, args))
    };
    ok(&run(&["init", "-input=false"]), "init");
    ok(&run(&["apply", "-auto-approve", "-input=false"]), "apply");

    let c = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    let v = c.get_bucket_versioning().bucket("tf-protected").send().await.unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    let lock = c.get_object_lock_configuration().bucket("tf-locked").send().await.unwrap();
    let rule = lock.object_lock_configuration().and_then(|c| c.rule()).and_then(|r| r.default_retention());
    assert_eq!(rule.and_then(|d| d.days()), Some(1));
    let policy = c.get_bucket_policy().bucket("tf-protected").send().await.unwrap();
    assert!(policy.policy().unwrap().contains("OwnAccountOnly"));
    let got = c.get_object().bucket("tf-protected").key("hello.txt").send().await.unwrap();
    assert_eq!(got.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert_eq!(got.bucket_key_enabled(), Some(true));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    // The account's Block Public Access binds a bucket whose own settings are off.
    c.create_bucket().bucket("tf-open").send().await.unwrap();
    c.delete_public_access_block().bucket("tf-open").send().await.unwrap();
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::tf-open/*"}]}"#;
    let refused = c.put_bucket_policy().bucket("tf-open").policy(public).send().await;
    assert_eq!(crate::s3::code(refused), "AccessDenied");

    // Nothing drifts: every sub-resource the provider reads answers as it was written.
    let plan = run(&["plan", "-detailed-exitcode", "-input=false"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan shows changes:\n{}\n{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );

    // A second version, so that force_destroy has history to delete.
    c.put_object().bucket("tf-protected").key("hello.txt").body(b"again".to_vec().into()).send().await.unwrap();
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    let left = c.list_buckets().send().await.unwrap();
    assert!(left.buckets().iter().all(|b| b.name() != Some("tf-protected")), "the bucket is gone");
    // With the account's settings destroyed, the open bucket takes a public policy.
    c.put_bucket_policy().bucket("tf-open").policy(public).send().await.unwrap();
}
