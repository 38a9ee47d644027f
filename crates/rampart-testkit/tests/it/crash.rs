//! Durability: a server killed with SIGKILL in the middle of a burst of writes loses none of the
//! calls it acknowledged — each one's change and its CloudTrail event are there after restart.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rampart_testkit::ACCOUNT_ID;

fn spawn(dir: &std::path::Path) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_server"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.split_whitespace().map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_keeps_every_acknowledged_write_and_its_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, first) = spawn(&data);
    let [endpoint, id, secret] = &first[..] else { panic!("unexpected first line {first:?}") };
    let client = crate::iam_at(endpoint, id, secret);

    // Sixteen writers create users as fast as they can; the server is killed mid-burst.
    let burst = crate::UserBurst::start(&client, 16);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    child.wait().unwrap();
    let acked = burst.acknowledged().await;
    assert!(acked.len() > 50, "the burst got going before the kill: {}", acked.len());

    // Restarted on the same data directory, the server has every acknowledged user and event.
    let (mut child, again) = spawn(&data);
    assert_eq!(again.len(), 1, "a restart does not bootstrap again");
    let client = crate::iam_at(&again[0], id, secret);
    let listed = crate::user_names(&client).await;
    let missing_users: Vec<&String> = acked.iter().filter(|n| !listed.contains(n)).collect();
    assert!(missing_users.is_empty(), "acknowledged but gone: {missing_users:?}");
    child.kill().unwrap();
    child.wait().unwrap();

    // The trail, read from the store itself: a CreateUser event for every acknowledged user.
    let running = rampart_server::start(rampart_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.clone(),
        account_id: Some(ACCOUNT_ID.to_owned()),
        ..rampart_server::Config::default()
    })
    .await
    .unwrap();
    let events = running.audit_events(1_000_000).unwrap();
    let recorded: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["eventName"] == "CreateUser" && e["errorCode"].is_null())
        .filter_map(|e| e["requestParameters"]["userName"].as_str())
        .collect();
    let missing_events: Vec<&String> = acked.iter().filter(|n| !recorded.contains(n.as_str())).collect();
    assert!(missing_events.is_empty(), "acknowledged without an event: {missing_events:?}");
    running.shutdown().await;
}
