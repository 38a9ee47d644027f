//! `rampart serve`: start the server and run until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use rampart_server::{Config, MasterKeySource};

/// Settings come from the flags, then the environment, then `--config`, then the defaults.
#[derive(clap::Args)]
pub struct Args {
    /// A TOML file with any of the settings below (keys are the flag names with `_`).
    #[arg(long, env = "RAMPART_CONFIG")]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:4566].
    #[arg(long, env = "RAMPART_LISTEN")]
    listen: Option<SocketAddr>,
    /// The data directory [default: ./rampart-data].
    #[arg(long, env = "RAMPART_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The management account id on first start (12 digits) [default: random].
    #[arg(long, env = "RAMPART_ACCOUNT_ID")]
    account_id: Option<String>,
    /// The root user's email on first start [default: root@rampart.local].
    #[arg(long, env = "RAMPART_ROOT_EMAIL")]
    root_email: Option<String>,
    /// Development mode: unknown access keys act as the root of --dev-account-id, and
    /// POST /_rampart/reset wipes state. Not for production.
    #[arg(long, env = "RAMPART_DEV")]
    dev: bool,
    /// The account that unknown keys act in, in dev mode [default: 000000000000].
    #[arg(long, env = "RAMPART_DEV_ACCOUNT_ID")]
    dev_account_id: Option<String>,
    /// A PEM certificate chain to serve TLS with (needs --tls-key).
    #[arg(long, env = "RAMPART_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert (mode 0600).
    #[arg(long, env = "RAMPART_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate generated into <data-dir>/tls/.
    #[arg(long, env = "RAMPART_TLS_SELF_SIGNED")]
    tls_self_signed: bool,
    /// The largest request body accepted, in bytes [default: 8388608].
    #[arg(long, env = "RAMPART_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// A file holding the master key (base64 of 32 bytes, mode 0600) [default: <data-dir>/master.key].
    /// The key itself may instead be given in RAMPART_MASTER_KEY.
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Seconds between CloudTrail trail deliveries into their buckets [default: 60].
    #[arg(long, env = "RAMPART_TRAIL_DELIVERY_SECS")]
    trail_delivery_secs: Option<u64>,
    /// Seconds each CloudTrail digest file covers (log file validation) [default: 3600].
    #[arg(long, env = "RAMPART_TRAIL_DIGEST_SECS")]
    trail_digest_secs: Option<u64>,
    /// Also copy every trail's delivered files into this directory, as DIR/BUCKET/KEY.
    #[arg(long, env = "RAMPART_TRAIL_EXPORT_DIR")]
    trail_export_dir: Option<PathBuf>,
    /// Days CloudTrail event history (LookupEvents) keeps events [default: 90].
    #[arg(long, env = "RAMPART_EVENT_HISTORY_DAYS")]
    event_history_days: Option<u32>,
    /// A DNS name Rampart answers on, under which S3 requests name their bucket in the Host
    /// header (BUCKET.DOMAIN, BUCKET.s3.DOMAIN); repeatable. localhost, localhost.localstack.cloud
    /// and amazonaws.com always are.
    #[arg(long = "s3-base-domain", env = "RAMPART_S3_BASE_DOMAINS", value_delimiter = ',')]
    s3_base_domains: Vec<String>,
    /// Log lines as JSON.
    #[arg(long, env = "RAMPART_LOG_JSON")]
    log_json: bool,
}

impl Args {
    fn config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = self.data_dir {
            c.data_dir = v;
        }
        if self.account_id.is_some() {
            c.account_id = self.account_id;
        }
        if let Some(v) = self.root_email {
            c.root_email = v;
        }
        c.dev |= self.dev;
        if let Some(v) = self.dev_account_id {
            c.dev_account_id = v;
        }
        if self.tls_cert.is_some() {
            c.tls_cert = self.tls_cert;
        }
        if self.tls_key.is_some() {
            c.tls_key = self.tls_key;
        }
        c.tls_self_signed |= self.tls_self_signed;
        if let Some(v) = self.max_body_bytes {
            c.max_body_bytes = v;
        }
        if self.master_key_file.is_some() {
            c.master_key_file = self.master_key_file;
        }
        if let Some(v) = self.trail_delivery_secs {
            c.trail_delivery_secs = v;
        }
        if let Some(v) = self.trail_digest_secs {
            c.trail_digest_secs = v;
        }
        if self.trail_export_dir.is_some() {
            c.trail_export_dir = self.trail_export_dir;
        }
        if !self.s3_base_domains.is_empty() {
            c.s3_base_domains = self.s3_base_domains;
        }
        if let Some(v) = self.event_history_days {
            c.event_history_days = v;
        }
        if let Some(k) = std::env::var_os("RAMPART_MASTER_KEY") {
            c.master_key = MasterKeySource::Inline(zeroize::Zeroizing::new(k.into_encoded_bytes()));
        }
        c.validate()?;
        Ok(c)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG").unwrap_or_else(|_| "info".into());
    if args.log_json {
        tracing_subscriber::fmt().with_env_filter(filter).json().with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let config = args.config()?;
    let dev = config.dev;
    let dev_account = config.dev_account_id.clone();
    let data_dir = config.data_dir.clone();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut running = rampart_server::start(config).await?;
        let endpoint = running.endpoint();
        if dev {
            eprintln!("\n  !!! DEV MODE: any unknown access key is accepted as the root user of account {dev_account}.");
            eprintln!("  !!! POST /_rampart/reset wipes state. Never run dev mode in production.\n");
        }
        if let Some(first) = &running.first_start {
            println!("Rampart created the management account {} on first start.", first.account_id);
            println!("  root user:      {} (password, shown once: {})", first.root_email, first.root_password.as_str());
            println!("  root access key: {} (secret in {})", first.access_key_id, first.credentials_file.display());
            println!();
        }
        println!("Rampart is listening on {endpoint} (management account {}).", running.management_account_id);
        println!(
            "Try: AWS_SHARED_CREDENTIALS_FILE={} AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION=us-east-1 aws sts get-caller-identity",
            data_dir.join("root-credentials").display()
        );
        tokio::select! {
            () = shutdown_signal() => {
                tracing::info!("shutting down: draining requests and closing the store");
                running.shutdown().await;
            }
            () = running.wait() => anyhow::bail!("the server stopped unexpectedly"),
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
