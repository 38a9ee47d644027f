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

/// Asserts that `terraform plan -detailed-exitcode` found nothing to change: what was applied
/// reads back as it was written.
fn plan_is_clean(plan: &std::process::Output) {
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan shows changes:\n{}\n{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "terraform {what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory holding `config` as `main.tf` and a CLI configuration that installs providers from
/// the machine's mirror only.
fn workspace(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), config).unwrap();
    let mirror = provider_mirror();
    std::fs::write(
        dir.path().join("terraformrc"),
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{ exclude = [\"registry.terraform.io/*/*\"] }}\n}}\n",
            mirror.display().to_string()
        ),
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_bucket_applies_plans_clean_and_force_destroys() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let dir = workspace(CONFIG);
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
    plan_is_clean(&run(&["plan", "-detailed-exitcode", "-input=false"]));

    // A second version, so that force_destroy has history to delete.
    c.put_object().bucket("tf-protected").key("hello.txt").body(b"again".to_vec().into()).send().await.unwrap();
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    let left = c.list_buckets().send().await.unwrap();
    assert!(left.buckets().iter().all(|b| b.name() != Some("tf-protected")), "the bucket is gone");
    // With the account's settings destroyed, the open bucket takes a public policy.
    c.put_bucket_policy().bucket("tf-open").policy(public).send().await.unwrap();
}

const WAF_CONFIG: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts   = var.endpoint
    wafv2 = var.endpoint
  }
}
locals {
  seen = { cloudwatch_metrics_enabled = true, sampled_requests_enabled = true }
}
resource "aws_wafv2_ip_set" "blocked" {
  name               = "blocked"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = ["192.0.2.0/24", "198.51.100.7/32"]
  tags               = { team = "edge" }
}
resource "aws_wafv2_regex_pattern_set" "scanners" {
  name  = "scanners"
  scope = "REGIONAL"
  regular_expression { regex_string = "(?i)(sqlmap|nikto)" }
}
resource "aws_wafv2_rule_group" "bots" {
  name     = "bots"
  scope    = "REGIONAL"
  capacity = 50
  rule {
    name     = "scanner"
    priority = 0
    action {
      count {}
    }
    rule_label { name = "scanner:seen" }
    statement {
      regex_pattern_set_reference_statement {
        arn = aws_wafv2_regex_pattern_set.scanners.arn
        field_to_match {
          single_header { name = "user-agent" }
        }
        text_transformation {
          priority = 0
          type     = "NONE"
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "scanner"
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    sampled_requests_enabled   = true
    metric_name                = "bots"
  }
}
resource "aws_wafv2_web_acl" "front" {
  name  = "front"
  scope = "REGIONAL"
  default_action {
    allow {}
  }
  custom_response_body {
    key          = "denied"
    content      = "no"
    content_type = "TEXT_PLAIN"
  }
  rule {
    name     = "ips"
    priority = 1
    action {
      block {}
    }
    statement {
      ip_set_reference_statement { arn = aws_wafv2_ip_set.blocked.arn }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "ips"
    }
  }
  rule {
    name     = "sqli"
    priority = 2
    action {
      block {
        custom_response {
          response_code            = 403
          custom_response_body_key = "denied"
        }
      }
    }
    statement {
      sqli_match_statement {
        field_to_match {
          all_query_arguments {}
        }
        text_transformation {
          priority = 0
          type     = "URL_DECODE"
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "sqli"
    }
  }
  rule {
    name     = "common"
    priority = 4
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "common"
    }
  }
  rule {
    name     = "bots"
    priority = 3
    override_action {
      none {}
    }
    statement {
      rule_group_reference_statement { arn = aws_wafv2_rule_group.bots.arn }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "bots"
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    sampled_requests_enabled   = true
    metric_name                = "front"
  }
  tags = { team = "edge" }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn waf_sets_groups_and_web_acls_apply_plan_clean_and_destroy() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let dir = workspace(WAF_CONFIG);
    let path = dir.path().to_owned();
    let run = |args: &'static [&'static str]| {
        let (path, server) = (path.clone(), &server);
        tokio::task::block_in_place(move || terraform(&path, server, args))
    };
    ok(&run(&["init", "-input=false"]), "init");
    ok(&run(&["apply", "-auto-approve", "-input=false"]), "apply");
    let c = crate::waf::waf(&server);
    let acls = c.list_web_acls().scope(aws_sdk_wafv2::types::Scope::Regional).send().await.unwrap();
    let front = &acls.web_acls()[0];
    let got = c
        .get_web_acl()
        .name("front")
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .id(front.id().unwrap())
        .send()
        .await
        .unwrap();
    // 1 (IP set) + 20 + 10 + 10 (SQLi over all query arguments, one transformation) + 50 (the
    // group) + 700 (AWS's core rule set).
    assert_eq!(got.web_acl().unwrap().capacity(), 791);
    plan_is_clean(&run(&["plan", "-detailed-exitcode", "-input=false"]));
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    let scope = aws_sdk_wafv2::types::Scope::Regional;
    assert!(c.list_web_acls().scope(scope.clone()).send().await.unwrap().web_acls().is_empty());
    assert!(c.list_rule_groups().scope(scope.clone()).send().await.unwrap().rule_groups().is_empty());
    assert!(c.list_ip_sets().scope(scope).send().await.unwrap().ip_sets().is_empty());
}

const ELB_CONFIG: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
variable "port" { type = number }
variable "target_port" { type = number }
variable "tls_port" { type = number }
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts   = var.endpoint
    elbv2 = var.endpoint
    wafv2 = var.endpoint
    iam   = var.endpoint
  }
}
locals {
  seen = { cloudwatch_metrics_enabled = true, sampled_requests_enabled = true }
}
resource "aws_lb" "shop" {
  name               = "shop"
  load_balancer_type = "application"
  internal           = true
  subnets            = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  idle_timeout       = 120
  tags               = { team = "edge" }
}
resource "aws_lb_target_group" "web" {
  name        = "web"
  port        = var.target_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = "vpc-0123456789abcdef0"
  health_check {
    path                = "/health"
    interval            = 5
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200-299"
  }
}
resource "aws_lb_target_group_attachment" "app" {
  target_group_arn = aws_lb_target_group.web.arn
  target_id        = "127.0.0.1"
  port             = var.target_port
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.shop.arn
  port              = var.port
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}
resource "aws_iam_server_certificate" "site" {
  name             = "shop-site"
  certificate_body = file("${path.module}/site-cert.pem")
  private_key      = file("${path.module}/site-key.pem")
}
resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.shop.arn
  port              = var.tls_port
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_iam_server_certificate.site.arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}
resource "aws_lb_listener_rule" "maintenance" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 10
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "down for maintenance"
      status_code  = "503"
    }
  }
  condition {
    path_pattern {
      values = ["/admin/*"]
    }
  }
  condition {
    http_request_method {
      values = ["GET", "HEAD"]
    }
  }
  tags = { purpose = "maintenance" }
}
resource "aws_wafv2_web_acl" "front" {
  name  = "front"
  scope = "REGIONAL"
  default_action {
    allow {}
  }
  dynamic "rule" {
    for_each = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]
    content {
      name     = rule.value
      priority = rule.key
      override_action {
        none {}
      }
      statement {
        managed_rule_group_statement {
          name        = rule.value
          vendor_name = "AWS"
        }
      }
      visibility_config {
        cloudwatch_metrics_enabled = true
        sampled_requests_enabled   = true
        metric_name                = rule.value
      }
    }
  }
  rule {
    name     = "flood"
    priority = 3
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = 1000
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      sampled_requests_enabled   = true
      metric_name                = "flood"
    }
  }
  visibility_config {
    cloudwatch_metrics_enabled = true
    sampled_requests_enabled   = true
    metric_name                = "front"
  }
}
resource "aws_wafv2_web_acl_association" "shop" {
  resource_arn = aws_lb.shop.arn
  web_acl_arn  = aws_wafv2_web_acl.front.arn
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_load_balancer_with_its_web_acl_applies_serves_plans_clean_and_destroys() {
    let _heavy = crate::LOAD.write().await;
    let upstream = rampart_testkit::upstream::start().await.unwrap();
    let server = TestServer::start().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = workspace(ELB_CONFIG);
    let vars = format!("port = {port}\ntarget_port = {}\ntls_port = {tls_port}\n", upstream.port());
    std::fs::write(dir.path().join("terraform.tfvars"), vars).unwrap();
    // The HTTPS listener's certificate, which Terraform uploads to IAM.
    let site = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("site-cert.pem"), site.cert.pem()).unwrap();
    std::fs::write(dir.path().join("site-key.pem"), site.signing_key.serialize_pem()).unwrap();
    let path = dir.path().to_owned();
    let run = |args: &'static [&'static str]| {
        let (path, server) = (path.clone(), &server);
        tokio::task::block_in_place(move || terraform(&path, server, args))
    };
    ok(&run(&["init", "-input=false"]), "init");
    ok(&run(&["apply", "-auto-approve", "-input=false"]), "apply");

    // The listener Terraform made serves the application, behind AWS's managed rule groups.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let get = |path: &str| {
        // AWS's common rule set blocks a request without a User-Agent (NoUserAgent_HEADER).
        let request = http::Request::get(format!("http://127.0.0.1:{port}{path}"))
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let client = client.clone();
        async move { client.request(request).await.map(|r| r.status().as_u16()) }
    };
    let start = std::time::Instant::now();
    let status = loop {
        match get("/products?id=42").await {
            Ok(status) => break status,
            Err(_) if start.elapsed() < std::time::Duration::from_secs(10) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the listener is not served: {e}"),
        }
    };
    assert_eq!(status, 200);
    assert_eq!(get("/products?id=1%27%20OR%20%271%27%3D%271").await.unwrap(), 403);
    // The listener rule Terraform made answers for its paths.
    assert_eq!(get("/admin/settings").await.unwrap(), 503);
    // The HTTPS listener serves with the certificate Terraform uploaded.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(site.cert.der().clone()).unwrap();
    let tls = [&rustls::version::TLS13, &rustls::version::TLS12];
    let start = std::time::Instant::now();
    let served = loop {
        match crate::elb::https_get((tls_port, "localhost"), &roots, &tls, "/products?id=42").await {
            Ok(answer) => break answer,
            Err(_) if start.elapsed() < std::time::Duration::from_secs(10) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the HTTPS listener is not served: {e}"),
        }
    };
    assert_eq!(served.0, 200, "{}", served.1);

    plan_is_clean(&run(&["plan", "-detailed-exitcode", "-input=false"]));
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    let elb = crate::elb::elb(&server);
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
    assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
}

const GUARDDUTY_CONFIG: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts       = var.endpoint
    guardduty = var.endpoint
    s3        = var.endpoint
  }
  s3_use_path_style = true
}
resource "aws_guardduty_detector" "main" {
  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
  tags                         = { team = "secops" }
}
resource "aws_guardduty_filter" "quiet" {
  detector_id = aws_guardduty_detector.main.id
  name        = "quiet-root"
  action      = "ARCHIVE"
  rank        = 1
  finding_criteria {
    criterion {
      field  = "type"
      equals = ["Policy:IAMUser/RootCredentialUsage"]
    }
    criterion {
      field                 = "severity"
      greater_than_or_equal = "2"
    }
  }
}
resource "aws_s3_bucket" "lists" {
  bucket        = "tf-gd-lists"
  force_destroy = true
}
resource "aws_s3_object" "bad" {
  bucket  = aws_s3_bucket.lists.id
  key     = "bad.txt"
  content = "198.51.100.7\n"
}
resource "aws_guardduty_threatintelset" "bad" {
  detector_id = aws_guardduty_detector.main.id
  name        = "bad-hosts"
  format      = "TXT"
  location    = "https://s3.amazonaws.com/${aws_s3_object.bad.bucket}/${aws_s3_object.bad.key}"
  activate    = true
}
resource "aws_guardduty_ipset" "office" {
  detector_id = aws_guardduty_detector.main.id
  name        = "office"
  format      = "TXT"
  location    = "https://s3.amazonaws.com/${aws_s3_object.bad.bucket}/${aws_s3_object.bad.key}"
  activate    = true
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_guardduty_detector_with_its_filter_and_lists_applies_plans_clean_and_destroys() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let dir = workspace(GUARDDUTY_CONFIG);
    let path = dir.path().to_owned();
    let run = |args: &'static [&'static str]| {
        let (path, server) = (path.clone(), &server);
        tokio::task::block_in_place(move || terraform(&path, server, args))
    };
    ok(&run(&["init", "-input=false"]), "init");
    // The lists are read from the object before Terraform's wait for ACTIVE ends.
    ok(&run(&["apply", "-auto-approve", "-input=false"]), "apply");
    let gd = crate::guardduty::client(&server);
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let got = gd.get_detector().detector_id(&detector).send().await.unwrap();
    assert_eq!(got.finding_publishing_frequency().map(|f| f.as_str()), Some("FIFTEEN_MINUTES"));
    assert_eq!(got.tags().and_then(|t| t.get("team")).map(String::as_str), Some("secops"));
    let filter = gd.get_filter().detector_id(&detector).filter_name("quiet-root").send().await.unwrap();
    assert_eq!(filter.action().map(|a| a.as_str()), Some("ARCHIVE"));

    plan_is_clean(&run(&["plan", "-detailed-exitcode", "-input=false"]));
    // Terraform waits for deleted lists to read DELETED.
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    assert!(gd.list_detectors().send().await.unwrap().detector_ids().is_empty());
}

const GUARDDUTY_ORG_CONFIG: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
variable "endpoint" { type = string }
variable "security" { type = string }
variable "app" { type = string }
variable "key_id" { type = string }
variable "secret" { type = string }
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts       = var.endpoint
    guardduty = var.endpoint
  }
}
provider "aws" {
  alias                       = "security"
  region                      = "us-east-1"
  access_key                  = var.key_id
  secret_key                  = var.secret
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  assume_role {
    role_arn = "arn:aws:iam::${var.security}:role/OrganizationAccountAccessRole"
  }
  endpoints {
    sts       = var.endpoint
    guardduty = var.endpoint
  }
}
resource "aws_guardduty_organization_admin_account" "security" {
  admin_account_id = var.security
}
resource "aws_guardduty_detector" "security" {
  provider = aws.security
  enable   = true
}
resource "aws_guardduty_organization_configuration" "org" {
  provider                         = aws.security
  detector_id                      = aws_guardduty_detector.security.id
  auto_enable_organization_members = "NEW"
  depends_on                       = [aws_guardduty_organization_admin_account.security]
}
resource "aws_guardduty_organization_configuration_feature" "s3" {
  provider    = aws.security
  detector_id = aws_guardduty_detector.security.id
  name        = "S3_DATA_EVENTS"
  auto_enable = "NEW"
  depends_on  = [aws_guardduty_organization_configuration.org]
}
resource "aws_guardduty_member" "app" {
  provider    = aws.security
  detector_id = aws_guardduty_detector.security.id
  account_id  = var.app
  email       = "app@example.com"
  # An associated member reads as invited, through the organization too (as in AWS).
  invite                     = true
  disable_email_notification = true
  depends_on                 = [aws_guardduty_organization_configuration.org]
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_guardduty_organization_with_its_delegated_administrator_applies_plans_clean_and_destroys() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let org = crate::organizations::orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let key = crate::organizations::admin_key(&crate::iam::root(&server), "terraform").await;
    let security = crate::organizations::member_account(&org, "security@example.com", "security").await;
    let app = crate::organizations::member_account(&org, "app@example.com", "app").await;
    let dir = workspace(GUARDDUTY_ORG_CONFIG);
    let vars = dir.path().join("terraform.tfvars");
    std::fs::write(
        &vars,
        format!("security = \"{security}\"\napp = \"{app}\"\nkey_id = \"{}\"\nsecret = \"{}\"\n", key.0, key.1),
    )
    .unwrap();
    let path = dir.path().to_owned();
    let run = |args: &'static [&'static str]| {
        let (path, server) = (path.clone(), &server);
        tokio::task::block_in_place(move || terraform(&path, server, args))
    };
    ok(&run(&["init", "-input=false"]), "init");
    ok(&run(&["apply", "-auto-approve", "-input=false"]), "apply");
    let management = crate::guardduty::client(&server);
    let admins = management.list_organization_admin_accounts().send().await.unwrap();
    assert_eq!(admins.admin_accounts()[0].admin_account_id(), Some(security.as_str()));
    // The member is associated through the organization, GuardDuty on in it.
    let (id, secret, token) = crate::organizations::member_session(&server, &key, &security).await;
    let sec = crate::guardduty::guardduty_with(&server, &id, &secret, Some(&token));
    let detector = sec.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let members = sec.list_members().detector_id(&detector).send().await.unwrap();
    assert_eq!(members.members()[0].account_id(), Some(app.as_str()));
    assert_eq!(members.members()[0].relationship_status(), Some("Enabled"));

    plan_is_clean(&run(&["plan", "-detailed-exitcode", "-input=false"]));
    ok(&run(&["destroy", "-auto-approve", "-input=false"]), "destroy");
    assert!(management.list_organization_admin_accounts().send().await.unwrap().admin_accounts().is_empty());
}
