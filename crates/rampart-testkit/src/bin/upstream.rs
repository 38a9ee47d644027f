//! A trivial HTTP application for the proxy benchmark (`loadbench --op proxy`): it listens on an
//! ephemeral loopback port, prints `listening on ADDR`, and answers every request with 200 and a
//! short JSON account of it until it is killed.

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let addr = rampart_testkit::upstream::start().await?;
    println!("listening on {addr}");
    std::future::pending::<()>().await;
    Ok(())
}
