//! A Rampart server in its own process, for the crash tests: `crash_server DATA_DIR [STORE_URL
//! MASTER_KEY_FILE]` starts on 127.0.0.1 (an ephemeral port) with the test account — on the
//! embedded store, or as a node of the PostgreSQL store given — prints one line —
//! `ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY` (the keys only on the store's first start) — and
//! serves until it is killed.

use rampart_server::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || anyhow::anyhow!("usage: crash_server DATA_DIR [STORE_URL MASTER_KEY_FILE]");
    let dir = args.next().ok_or_else(usage)?;
    let store = args.next().map(rampart_server::config::StoreUrl);
    let master_key_file = args.next().map(Into::into);
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.into(),
        account_id: Some(rampart_testkit::ACCOUNT_ID.to_owned()),
        store,
        master_key_file,
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
