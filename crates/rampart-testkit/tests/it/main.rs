//! End-to-end tests: the real server, driven by the official AWS SDK for Rust, raw signed requests,
//! the AWS CLI and a TLS client. One binary, as the SDKs are large to link.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

/// Tests that load the machine hard (hundreds of megabytes through S3, Terraform) hold this
/// exclusively; tests whose outcome depends on work done within short periods (CloudTrail
/// Insights' one-second periods) hold it shared. The two never overlap, so a heavy test cannot
/// starve a periodic task another test is waiting on.
pub static LOAD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

mod cli;
mod cloudtrail;
mod cluster;
mod crash;
mod delegation;
mod elb;
mod guardduty;
mod guardduty_members;
mod iam;
mod iam_context;
mod kms;
mod mfa;
mod oidc;
mod organizations;
mod outbound;
mod partitions;
mod passwords;
mod robustness;
mod roles;
mod s3;
mod s3_addressing;
mod s3_protection;
mod s3_transfer;
mod saml;
mod security;
mod server;
mod shield;
mod signin;
mod sts;
mod terraform;
mod tls;
mod waf;
mod waf_tokens;

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use rampart_testkit::TestServer;

/// An STS client for `server` with the given key, retries off so each error is seen as sent.
pub fn sts_client(server: &TestServer, access_key_id: &str, secret: &str) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(sts_builder(server, access_key_id, secret).build())
}

pub fn sts_builder(server: &TestServer, access_key_id: &str, secret: &str) -> aws_sdk_sts::config::Builder {
    aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
}

/// The root client of a test server.
pub fn root_sts(server: &TestServer) -> aws_sdk_sts::Client {
    sts_client(server, &server.access_key_id, &server.secret_access_key)
}

/// The AWS error code of an SDK call's failure.
pub fn code<E, R>(r: Result<impl Sized, aws_sdk_sts::error::SdkError<E, R>>) -> String
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => match e.as_service_error() {
            Some(se) => se.code().unwrap_or("NoCode").to_owned(),
            None => format!("NotAServiceError: {e:?}"),
        },
    }
}

/// An IAM client for a server at `endpoint` (one in its own process), retries off.
pub fn iam_at(endpoint: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(id, secret, None, None, "test"))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// Writers creating users as fast as they can until a call fails (their server is killed).
pub struct UserBurst {
    writers: Vec<tokio::task::JoinHandle<()>>,
    acked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl UserBurst {
    pub fn start(iam: &aws_sdk_iam::Client, writers: usize) -> Self {
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writers = (0..writers)
            .map(|w| {
                let (client, acked) = (iam.clone(), acked.clone());
                tokio::spawn(async move {
                    for i in 0.. {
                        let name = format!("w{w}-u{i}");
                        match client.create_user().user_name(&name).send().await {
                            Ok(_) => acked.lock().unwrap().push(name),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Self { writers, acked }
    }

    /// Waits for the writers to stop; the users whose creation was acknowledged.
    pub async fn acknowledged(self) -> Vec<String> {
        for w in self.writers {
            w.await.unwrap();
        }
        self.acked.lock().unwrap().clone()
    }
}

/// Every user name of the client's account, page by page.
pub async fn user_names(iam: &aws_sdk_iam::Client) -> Vec<String> {
    let mut listed = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = iam.list_users().max_items(1000);
        if let Some(m) = &marker {
            req = req.marker(m);
        }
        let page = req.send().await.unwrap();
        listed.extend(page.users().iter().map(|u| u.user_name().to_owned()));
        marker = page.marker().map(str::to_owned);
        if marker.is_none() {
            return listed;
        }
    }
}

/// The trail's events named `name`, waiting until at least `at_least` of them have committed
/// (events of reads commit with the next group).
pub async fn events_named(server: &TestServer, name: &str, at_least: usize) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    for _ in 0..200 {
        let events = server.audit_events(0).await.unwrap();
        found = events.into_iter().filter(|e| e["eventName"] == name).collect();
        if found.len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    found
}
