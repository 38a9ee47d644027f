//! A Rampart server in its own process, for the crash test: `crash_server DATA_DIR` starts on
//! 127.0.0.1 (an ephemeral port) with the test account, prints one line —
//! `ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY` (the keys only on the data directory's first start) —
//! and serves until it is killed.

use rampart_server::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: crash_server DATA_DIR"))?;
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.into(),
        account_id: Some(rampart_testkit::ACCOUNT_ID.to_owned()),
        ..Config::default()
    };
    let running = rampart_server::start(config).await?;
    match &running.first_start {
        Some(f) => println!("{} {} {}", running.endpoint(), f.access_key_id, f.secret_access_key.as_str()),
        None => println!("{}", running.endpoint()),
    }
    std::future::pending::<()>().await;
    Ok(())
}
