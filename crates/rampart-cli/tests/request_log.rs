//! The request log: one line per request, from the real binary into a file, as JSON — who, what,
//! the decision and the outcome, authentication failures included, and never a secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::Path;
use std::time::SystemTime;

use aws_sigv4::http_request::SignatureLocation;
use rampart_testkit::{ServerProcess, send, sign_request};

async fn query(addr: &str, form: &str, id: &str, secret: &str) -> rampart_testkit::Raw {
    let req = http::Request::post(format!("http://{addr}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(form.as_bytes().to_vec())
        .unwrap();
    let service = if form.contains("GetCallerIdentity") { "sts" } else { "iam" };
    send(sign_request(req, id, secret, service, SystemTime::now(), SignatureLocation::Headers).unwrap()).await.unwrap()
}

#[tokio::test]
async fn every_request_is_one_log_line_with_its_decision_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rampart.log");
    let server = ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_rampart")),
        dir.path(),
        &["--log-format", "json", "--log-file", log.to_str().unwrap()],
        &[],
    )
    .unwrap();
    let creds = std::fs::read_to_string(dir.path().join("rampart-data/root-credentials")).unwrap();
    let field = |name: &str| {
        creds.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start_matches([' ', '=']).trim()).unwrap()
    };
    let (id, secret) = (field("aws_access_key_id").to_owned(), field("aws_secret_access_key").to_owned());
    let addr = &server.addr;

    assert_eq!(query(addr, "Action=GetCallerIdentity&Version=2011-06-15", &id, &secret).await.status, 200);
    assert_eq!(query(addr, "Action=CreateUser&UserName=ana&Version=2010-05-08", &id, &secret).await.status, 200);
    let key = query(addr, "Action=CreateAccessKey&UserName=ana&Version=2010-05-08", &id, &secret).await;
    let tag = |t: &str| key.body.split(&format!("<{t}>")).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let (ana_id, ana_secret) = (tag("AccessKeyId"), tag("SecretAccessKey"));
    // Ana has no policy: denied. A wrong secret: refused before any decision.
    assert_eq!(query(addr, "Action=ListUsers&Version=2010-05-08", &ana_id, &ana_secret).await.status, 403);
    assert_eq!(query(addr, "Action=ListUsers&Version=2010-05-08", &id, "wrong-secret").await.status, 403);

    let mut lines = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        lines = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "rampart::request")
            .collect();
        if lines.len() >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&secret) && !text.contains(&ana_secret), "a secret is in the log");
    assert!(!text.contains('\u{1b}'), "colours in a file");
    let f = |i: usize| &lines[i]["fields"];
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(f(0)["operation"], "sts:GetCallerIdentity");
    assert_eq!(f(0)["decision"], "allowed");
    assert_eq!(f(0)["status"], 200);
    assert_eq!(f(0)["source"], "127.0.0.1");
    assert!(f(0)["principal"].as_str().unwrap().ends_with(":root"), "{}", f(0));
    assert!(f(0)["latency_us"].as_u64().is_some() && f(0)["request_id"].as_str().unwrap().len() == 36);
    assert_eq!(f(1)["operation"], "iam:CreateUser");
    assert_eq!(f(3)["operation"], "iam:ListUsers");
    assert_eq!(f(3)["principal"].as_str().unwrap().rsplit('/').next(), Some("ana"));
    assert_eq!(f(3)["decision"], "no identity-based policy allows the iam:ListUsers action");
    assert_eq!(f(3)["status"], 403);
    assert_eq!(f(4)["decision"], "SignatureDoesNotMatch");
    assert_eq!(f(4)["principal"], id.as_str());
}
