//! `rampart serve`: start the server and run until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::builder::BoolishValueParser;
use rampart_server::{Config, LogFormat, MasterKeySource};

/// Every setting is a flag, an environment variable (`RAMPART_` and the key in capitals) and a
/// key of the `--config` file; a flag wins over the variable, which wins over the file.
/// Switches take `true/false`, `yes/no`, `on/off` or `1/0` (`--dev` alone is `--dev true`).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  rampart serve                                  # 127.0.0.1:4566, state in ./rampart-data
  rampart serve --dev --listen :4566             # every interface, any credentials accepted
  rampart serve --config rampart.toml --port 8443 --tls-self-signed
  rampart config example > rampart.toml          # every setting, commented")]
pub struct Args {
    /// A TOML file with any of the settings below (`rampart config example` prints one).
    #[arg(long, env = "RAMPART_CONFIG")]
    config: Option<PathBuf>,
    /// Where to listen: HOST:PORT, localhost:PORT, or :PORT for every interface [default: 127.0.0.1:4566].
    #[arg(long, env = "RAMPART_LISTEN", value_parser = rampart_server::parse_listen)]
    listen: Option<SocketAddr>,
    /// The port to listen on, replacing --listen's.
    #[arg(long, env = "RAMPART_PORT")]
    port: Option<u16>,
    /// The data directory [default: ./rampart-data].
    #[arg(long, env = "RAMPART_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The management account id on first start (12 digits) [default: random].
    #[arg(long, env = "RAMPART_ACCOUNT_ID")]
    account_id: Option<String>,
    /// The root user's email on first start [default: root@rampart.local].
    #[arg(long, env = "RAMPART_ROOT_EMAIL")]
    root_email: Option<String>,
    /// Development mode: one account (--dev-account-id) for the bootstrap and every unknown
    /// access key, and POST /_rampart/reset wipes state. Not for production.
    #[arg(long, env = "RAMPART_DEV", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    dev: Option<bool>,
    /// The dev mode account [default: 000000000000].
    #[arg(long, env = "RAMPART_DEV_ACCOUNT_ID")]
    dev_account_id: Option<String>,
    /// The region recorded for requests whose signature names none [default: us-east-1].
    #[arg(long, env = "RAMPART_REGION")]
    region: Option<String>,
    /// A PEM certificate chain to serve TLS with (needs --tls-key).
    #[arg(long, env = "RAMPART_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert (mode 0600).
    #[arg(long, env = "RAMPART_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate generated into <data-dir>/tls/.
    #[arg(long, env = "RAMPART_TLS_SELF_SIGNED", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    tls_self_signed: Option<bool>,
    /// The largest request body accepted, in bytes [default: 8388608].
    #[arg(long, env = "RAMPART_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// The largest S3 upload body (PutObject, UploadPart), in bytes [default: 67108864]; larger
    /// objects go up in parts.
    #[arg(long, env = "RAMPART_MAX_OBJECT_BODY_BYTES")]
    max_object_body_bytes: Option<usize>,
    /// Most memory S3 upload bodies hold at once, in bytes [default: 33554432]; each upload counts
    /// twice its length and waits for room (503 SlowDown after --body-read-timeout-secs).
    #[arg(long, env = "RAMPART_UPLOAD_MEMORY_BYTES")]
    upload_memory_bytes: Option<usize>,
    /// Most memory ranged S3 downloads (GET with bytes=FIRST-LAST) hold at once, in bytes
    /// [default: 16777216]; each waits for room for its range as an upload does.
    #[arg(long, env = "RAMPART_DOWNLOAD_MEMORY_BYTES")]
    download_memory_bytes: Option<usize>,
    /// Seconds a client has to send its request headers [default: 10].
    #[arg(long, env = "RAMPART_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Seconds a client has to send its request body [default: 30].
    #[arg(long, env = "RAMPART_BODY_READ_TIMEOUT_SECS")]
    body_read_timeout_secs: Option<u64>,
    /// Seconds in-flight requests get to finish on shutdown [default: 30].
    #[arg(long, env = "RAMPART_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: Option<u64>,
    /// Most connections open at once; more are closed on arrival [default: 4096].
    #[arg(long, env = "RAMPART_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections open at once from one source address [default: 512].
    #[arg(long, env = "RAMPART_MAX_CONNECTIONS_PER_SOURCE")]
    max_connections_per_source: Option<usize>,
    /// A file holding the master key (base64 of 32 bytes, mode 0600) [default: <data-dir>/master.key].
    /// The key itself may instead be given in RAMPART_MASTER_KEY.
    #[arg(long, env = "RAMPART_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// The store: a postgres:// URL (a database any number of nodes share) [default: the
    /// embedded store in the data directory]. The password may instead be in
    /// --store-password-file or RAMPART_STORE_PASSWORD; it is never printed.
    #[arg(long, env = "RAMPART_STORE")]
    store: Option<String>,
    /// A file holding the store database's password.
    #[arg(long, env = "RAMPART_STORE_PASSWORD_FILE")]
    store_password_file: Option<PathBuf>,
    /// Seconds between CloudTrail trail deliveries into their buckets [default: 60].
    #[arg(long, env = "RAMPART_TRAIL_DELIVERY_SECS")]
    trail_delivery_secs: Option<u64>,
    /// Seconds each CloudTrail digest file covers (log file validation) [default: 3600].
    #[arg(long, env = "RAMPART_TRAIL_DIGEST_SECS")]
    trail_digest_secs: Option<u64>,
    /// Seconds in a CloudTrail Insights period [default: 60].
    #[arg(long, env = "RAMPART_INSIGHTS_PERIOD_SECS")]
    insights_period_secs: Option<u64>,
    /// Periods in a CloudTrail Insights baseline [default: 10080, a week of minutes].
    #[arg(long, env = "RAMPART_INSIGHTS_BASELINE_PERIODS")]
    insights_baseline_periods: Option<u64>,
    /// Also copy every trail's delivered files into this directory, as DIR/BUCKET/KEY.
    #[arg(long, env = "RAMPART_TRAIL_EXPORT_DIR")]
    trail_export_dir: Option<PathBuf>,
    /// Days CloudTrail event history (LookupEvents) keeps events [default: 90].
    #[arg(long, env = "RAMPART_EVENT_HISTORY_DAYS")]
    event_history_days: Option<u32>,
    /// Let OIDC issuers resolve to loopback or private addresses (a local identity provider).
    #[arg(long, env = "RAMPART_OIDC_ALLOW_PRIVATE_ADDRESSES", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    oidc_allow_private_addresses: Option<bool>,
    /// The URL clients and outside services reach this server at, for URLs Rampart hands out
    /// (an outbound web identity federation issuer) [default: the request's scheme and Host].
    #[arg(long, env = "RAMPART_PUBLIC_URL")]
    public_url: Option<String>,
    /// A DNS name Rampart answers on, under which S3 requests name their bucket in the Host
    /// header (BUCKET.DOMAIN, BUCKET.s3.DOMAIN); repeatable, or comma-separated in the variable.
    /// localhost, localhost.localstack.cloud and amazonaws.com always are.
    #[arg(long, alias = "s3-base-domain", env = "RAMPART_S3_BASE_DOMAINS", value_delimiter = ',')]
    s3_base_domains: Vec<String>,
    /// Log lines as `text` (no colours unless to a terminal) or `json` [default: text].
    /// RAMPART_LOG sets the levels (e.g. `debug`, or `info,rampart::request=off`).
    #[arg(long, env = "RAMPART_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Append log lines to this file instead of standard error.
    #[arg(long, env = "RAMPART_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// A reverse proxy whose requests a WAF web ACL decides (repeatable; `;` between them in the
    /// variable): name=NAME,listen=HOST:PORT,upstream=http://HOST:PORT[,web-acl=WEB-ACL-NAME].
    #[arg(long, env = "RAMPART_PROXY", value_delimiter = ';', value_parser = rampart_server::ProxyConfig::parse)]
    proxy: Vec<rampart_server::ProxyConfig>,
    /// The address the listeners of load balancers created through the ELBv2 API listen on,
    /// each on its listener's port [default: 127.0.0.1].
    #[arg(long, env = "RAMPART_BALANCER_ADDRESS")]
    balancer_address: Option<std::net::IpAddr>,
    /// Seconds between deliveries of WAF log files to web ACLs' logging buckets [default: 300].
    #[arg(long, env = "RAMPART_WAF_LOG_DELIVERY_SECS")]
    waf_log_delivery_secs: Option<u64>,
    /// Also append WAF log records to this directory, as DIR/WEB-ACL-NAME.log (JSON lines).
    #[arg(long, env = "RAMPART_WAF_LOG_DIR")]
    waf_log_dir: Option<PathBuf>,
    /// A file holding the bearer token (16+ characters) that reads /_rampart/metrics; without
    /// it the metrics are not served.
    #[arg(long, env = "RAMPART_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Requests a load balancer's rate-based rules turn away in a minute that make a Shield
    /// attack record [default: 1000].
    #[arg(long, env = "RAMPART_SHIELD_ATTACK_THRESHOLD")]
    shield_attack_threshold: Option<u64>,
    /// Seconds without such requests that end a Shield attack [default: 60].
    #[arg(long, env = "RAMPART_SHIELD_ATTACK_QUIET_SECS")]
    shield_attack_quiet_secs: Option<u64>,
    /// A load balancer's request rate (per second, over ten seconds) that is a surge, and a
    /// Shield attack, when it is also --shield-surge-factor times its baseline [default: 500].
    #[arg(long, env = "RAMPART_SHIELD_SURGE_MIN_RPS")]
    shield_surge_min_rps: Option<u64>,
    /// How many times its learnt baseline a load balancer's request rate must be to surge
    /// [default: 10].
    #[arg(long, env = "RAMPART_SHIELD_SURGE_FACTOR")]
    shield_surge_factor: Option<f64>,
    /// How often GuardDuty exports findings to publishing destinations, in seconds [default: 300].
    #[arg(long, env = "RAMPART_GUARDDUTY_EXPORT_SECS")]
    guardduty_export_secs: Option<u64>,
    /// A file of Tor exit nodes (the Tor Project's bulk exit list) for GuardDuty's TorIPCaller
    /// findings; read again when it changes.
    #[arg(long, env = "RAMPART_GUARDDUTY_TOR_EXIT_LIST")]
    guardduty_tor_exit_list: Option<PathBuf>,
    /// A file of SHA-256 hashes of malicious files (one per line) for Malware Protection for S3;
    /// read again when it changes. The EICAR test file is found without it.
    #[arg(long, env = "RAMPART_GUARDDUTY_MALWARE_HASHES_FILE")]
    guardduty_malware_hashes_file: Option<PathBuf>,
    /// A geolocation database in MaxMind's format (GeoLite2-Country.mmdb, or a City one) for web
    /// ACLs' geo matches and AWS WAF's logs; without it geo matches match nothing.
    #[arg(long, env = "RAMPART_GEOIP_COUNTRY_DB")]
    geoip_country_db: Option<PathBuf>,
    /// An autonomous-system database in MaxMind's format (GeoLite2-ASN.mmdb) for ASN matches.
    #[arg(long, env = "RAMPART_GEOIP_ASN_DB")]
    geoip_asn_db: Option<PathBuf>,
    /// A directory of IP lists for the IP reputation managed rule groups, a file per rule
    /// (AWSManagedIPReputationList.txt, AnonymousIPList.txt, …), an address or CIDR block per
    /// line; read again when a file changes.
    #[arg(long, env = "RAMPART_WAF_IP_LISTS")]
    waf_ip_lists: Option<PathBuf>,
    /// GuardDuty's thresholds and windows, NAME=VALUE separated by commas (the others keep
    /// their defaults), e.g. brute_force_failures=10,learn_events=500.
    #[arg(long, env = "RAMPART_GUARDDUTY_THRESHOLDS", value_parser = rampart_server::GuarddutyTuning::parse)]
    guardduty_thresholds: Option<rampart_server::GuarddutyTuning>,
    /// The most bytes of request line and headers a proxied request may have [default: 65536].
    #[arg(long, env = "RAMPART_PROXY_MAX_HEADER_BYTES")]
    proxy_max_header_bytes: Option<usize>,
    /// The most headers a proxied request may have [default: 100].
    #[arg(long, env = "RAMPART_PROXY_MAX_HEADERS")]
    proxy_max_headers: Option<usize>,
}

/// Sets `$field` of `$c` from the flag of the same name when it was given.
macro_rules! overlay {
    ($c:ident, $a:ident: $($field:ident),* ; some: $($opt:ident),*) => {
        $(if let Some(v) = $a.$field { $c.$field = v; })*
        $(if $a.$opt.is_some() { $c.$opt = $a.$opt; })*
    };
}

impl Args {
    /// The configuration: the file (or the defaults), then the flags and variables over it.
    fn config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        let a = self;
        overlay!(c, a: listen, data_dir, root_email, dev, dev_account_id, region, tls_self_signed, max_body_bytes, max_object_body_bytes,
            upload_memory_bytes, download_memory_bytes, header_read_timeout_secs, body_read_timeout_secs, shutdown_grace_secs, max_connections,
            max_connections_per_source, trail_delivery_secs,
            trail_digest_secs, insights_period_secs, insights_baseline_periods, event_history_days, oidc_allow_private_addresses, log_format, balancer_address, waf_log_delivery_secs, shield_attack_threshold, shield_attack_quiet_secs, shield_surge_min_rps, shield_surge_factor, guardduty_export_secs, proxy_max_header_bytes, proxy_max_headers, guardduty_thresholds;
            some: port, account_id, tls_cert, tls_key, master_key_file, trail_export_dir, log_file, public_url, waf_log_dir, guardduty_tor_exit_list, guardduty_malware_hashes_file, geoip_country_db, geoip_asn_db, waf_ip_lists, metrics_token_file);
        if let Some(url) = a.store {
            c.store = Some(rampart_server::config::StoreUrl(url));
        }
        if a.store_password_file.is_some() {
            c.store_password_file = a.store_password_file;
        }
        if let Ok(pw) = std::env::var("RAMPART_STORE_PASSWORD") {
            c.store_password = Some(zeroize::Zeroizing::new(pw));
        }
        if !a.s3_base_domains.is_empty() {
            c.s3_base_domains = a.s3_base_domains;
        }
        if !a.proxy.is_empty() {
            c.proxy = a.proxy;
        }
        if let Some(k) = std::env::var_os("RAMPART_MASTER_KEY") {
            c.master_key = MasterKeySource::Inline(zeroize::Zeroizing::new(k.into_encoded_bytes()));
        }
        c.validate()?;
        Ok(c)
    }
}

/// Sets up logging as the configuration says: text or JSON, to standard error or a file, with
/// colours only on a terminal. Lines are written by a background thread (tracing-appender's
/// non-blocking writer, which never drops a line here), so a request never waits on a `write`;
/// the returned guard flushes what is queued when the server stops.
fn init_logging(config: &Config) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG").unwrap_or_else(|_| "info".into());
    let sink: Box<dyn std::io::Write + Send> = match &config.log_file {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(sink);
    let ansi = config.log_file.is_none() && std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(ansi).init(),
    }
    Ok(guard)
}

/// The configuration `rampart proxy` starts with: the variables and the file as `serve` reads
/// them, with its own few flags over them.
pub fn config_for_proxy(
    file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    dev: Option<bool>,
    api_listen: Option<SocketAddr>,
) -> anyhow::Result<Config> {
    #[derive(clap::Parser)]
    struct FromEnvironment {
        #[command(flatten)]
        args: Args,
    }
    let mut args = <FromEnvironment as clap::Parser>::try_parse_from(["rampart"])?.args;
    args.config = file.or(args.config);
    args.data_dir = data_dir.or(args.data_dir);
    args.dev = dev.or(args.dev);
    args.listen = api_listen.or(args.listen);
    args.config()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    run_config(args.config()?)
}

pub fn run_config(config: Config) -> anyhow::Result<()> {
    let _log_writer = init_logging(&config)?;
    let dev = config.dev;
    let dev_account = config.dev_account_id.clone();
    let data_dir = config.data_dir.clone();
    let tls_self_signed = config.tls_self_signed;
    let store = config.store.as_ref().map(rampart_server::config::StoreUrl::redacted);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut running = rampart_server::start(config).await?;
        let endpoint = running.endpoint();
        if dev {
            eprintln!("\n  !!! DEV MODE: any unknown access key is accepted as the administrator user rampart-dev of account {dev_account}.");
            eprintln!("  !!! POST /_rampart/reset wipes state. Never run dev mode in production.\n");
        }
        if let Some(first) = &running.first_start {
            println!("Rampart created the management account {} on first start.", first.account_id);
            println!("  root user:      {} (password, shown once: {})", first.root_email, first.root_password.as_str());
            println!("  root access key: {} (secret in {})", first.access_key_id, first.credentials_file.display());
            println!();
        }
        println!("Rampart is listening on {endpoint} (management account {}).", running.management_account_id);
        for p in &running.proxies {
            println!("Proxy {} listens on http://{} (load balancer {}).", p.name, p.addr, p.load_balancer_arn);
        }
        if let Some(store) = &store {
            println!("Its store is {store}, shared with every node that names it.");
        }
        let credentials = data_dir.join("root-credentials");
        if !credentials.exists() {
            // A node that joined a store: the root key is where the store was first started.
            println!("The root key is in root-credentials in the data directory of the node that first started this store.");
        }
        // A self-signed certificate is trusted by pointing the AWS tools at it.
        let ca = if tls_self_signed {
            format!("AWS_CA_BUNDLE={} ", data_dir.join("tls").join("cert.pem").display())
        } else {
            String::new()
        };
        if credentials.exists() {
            println!(
                "Try: {ca}AWS_SHARED_CREDENTIALS_FILE={} AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION=us-east-1 aws sts get-caller-identity",
                credentials.display()
            );
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn every_setting_is_a_flag_and_a_variable() {
        let cmd = Cli::command();
        for key in rampart_server::config_keys().into_iter().filter(|k| *k != "version") {
            let long = key.replace('_', "-");
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(long.as_str()))
                .unwrap_or_else(|| panic!("setting `{key}` has no flag --{long}"));
            let env = format!("RAMPART_{}", key.to_ascii_uppercase());
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env.as_str()), "--{long}");
        }
    }

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied())).unwrap();
        cli.args.config().unwrap()
    }

    #[test]
    fn switches_take_words_and_listen_takes_what_operators_write() {
        assert!(config(&["--dev"]).dev);
        for (word, on) in [("yes", true), ("1", true), ("true", true), ("no", false), ("0", false), ("off", false)] {
            assert_eq!(config(&["--tls-self-signed", word]).tls_self_signed, on, "{word}");
        }
        assert_eq!(config(&["--listen", "localhost:4000"]).bind_addr().to_string(), "127.0.0.1:4000");
        assert_eq!(config(&["--listen", ":4566", "--port", "4600"]).bind_addr().to_string(), "0.0.0.0:4600");
        assert_eq!(config(&["--log-format", "json"]).log_format, LogFormat::Json);
        let tuned = config(&["--guardduty-thresholds", "brute_force_failures=2,learn_events=500"]).guardduty_thresholds;
        assert_eq!((tuned.brute_force_failures, tuned.learn_events), (2, 500));
        let unknown = Cli::try_parse_from(["serve", "--guardduty-thresholds", "learn=5"]);
        assert!(unknown.is_err(), "an unknown threshold is refused");
        assert_eq!(
            config(&["--s3-base-domain", "a.example", "--s3-base-domain", "b.example"]).s3_base_domains.len(),
            2
        );
        assert!(Cli::try_parse_from(["serve", "--dev", "maybe"]).is_err());
    }
}
