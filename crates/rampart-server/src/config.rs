//! The server's configuration: one TOML file (optional) → one [`Config`], overridden by flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the master key comes from.
#[derive(Clone, Default)]
pub enum MasterKeySource {
    /// `<data-dir>/master.key`, generated on first start.
    #[default]
    DataDir,
    /// A file the operator manages (mode 0600 or stricter).
    File(PathBuf),
    /// The key itself (32 bytes), e.g. from the `RAMPART_MASTER_KEY` environment variable.
    Inline(zeroize::Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DataDir => f.write_str("DataDir"),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

/// Every setting of `rampart serve`. In a TOML file, keys are the field names; unknown keys are
/// rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The file format version; must be 1.
    pub version: u32,
    /// The address to listen on: `HOST:PORT`, `localhost:PORT`, or `:PORT` for every interface.
    #[serde(deserialize_with = "deserialize_listen")]
    pub listen: SocketAddr,
    /// The port to listen on, replacing `listen`'s.
    pub port: Option<u16>,
    /// The directory holding the database, the master key and the root credentials.
    pub data_dir: PathBuf,
    /// The management account's id on first start (12 digits); random when absent (in dev mode,
    /// `dev_account_id`).
    pub account_id: Option<String>,
    /// The root user's email on first start.
    pub root_email: String,
    /// Development mode: the first start bootstraps `dev_account_id`, unknown access keys act as
    /// its administrator IAM user `rampart-dev` (or, a 12-digit key id, as that account's), and
    /// `POST /_rampart/reset` wipes state. Never for production.
    pub dev: bool,
    /// The account unknown keys act in, in development mode.
    pub dev_account_id: String,
    /// The region recorded for requests whose signature names none.
    pub region: String,
    /// A PEM certificate chain to serve TLS with.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate generated into `<data-dir>/tls/`.
    pub tls_self_signed: bool,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The largest body of an S3 upload (PutObject, UploadPart: a PUT), in bytes; larger objects
    /// go up in parts, as `aws s3 cp` sends them.
    pub max_object_body_bytes: usize,
    /// Most memory S3 upload bodies hold at once, in bytes: each upload counts twice its length
    /// (its bytes as received, then sealed) and waits for room before its body is read, so a
    /// burst of large uploads is slowed rather than allowed to grow the server without bound.
    pub upload_memory_bytes: usize,
    /// Most memory ranged S3 downloads (GETs of `bytes=FIRST-LAST`, as transfer managers fetch a
    /// large object) hold at once, in bytes: each takes room for its range before the object is
    /// read and keeps it until its body is sent.
    pub download_memory_bytes: usize,
    /// Seconds a client has to send its request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send its request body.
    pub body_read_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Most connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Most connections open at once from one source address.
    pub max_connections_per_source: usize,
    /// Seconds between CloudTrail trail deliveries (log files written to trails' buckets).
    pub trail_delivery_secs: u64,
    /// Seconds each CloudTrail digest file covers, for trails with log file validation
    /// (CloudTrail: an hour).
    pub trail_digest_secs: u64,
    /// Seconds in a CloudTrail Insights period, the unit rates are counted in (CloudTrail: 60).
    pub insights_period_secs: u64,
    /// Periods in an Insights baseline (CloudTrail: a week of minutes, 10080). Insights detect
    /// once 3/14 of it (36 hours by default) has passed since they were enabled.
    pub insights_baseline_periods: u64,
    /// A directory every trail's delivered files (log and digest files) are also copied to, as
    /// `DIR/BUCKET/KEY` (a digest's signature beside it in `KEY.metadata.json`).
    pub trail_export_dir: Option<PathBuf>,
    /// Days CloudTrail event history keeps events (LookupEvents); older ones are deleted.
    pub event_history_days: u32,
    /// Let OIDC issuers resolve to loopback or private addresses (a local identity provider).
    /// Off: registering a provider must not let anyone make Rampart reach into its own network.
    pub oidc_allow_private_addresses: bool,
    /// The URL clients and outside services reach this server at (`https://rampart.example.org`),
    /// for the URLs Rampart hands out, such as an account's outbound web identity federation
    /// issuer. Default: the scheme and Host of the request that needs one.
    pub public_url: Option<String>,
    /// More base domains under which S3 requests name their bucket in the Host header
    /// (`BUCKET.s3.DOMAIN`, `BUCKET.DOMAIN`), besides the built-in `localhost`,
    /// `localhost.localstack.cloud` and `amazonaws.com`. A Host under none of them that is not an
    /// IP address or a single label is a bucket name, as S3 reads a CNAME.
    pub s3_base_domains: Vec<String>,
    /// A file holding the master key (base64 of 32 bytes); default `<data-dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// The store: absent, the embedded one in `data_dir`; a `postgres://` URL (or libpq
    /// key=value string), a PostgreSQL database any number of nodes share.
    pub store: Option<StoreUrl>,
    /// A file holding the store's database password (instead of the URL or the
    /// `RAMPART_STORE_PASSWORD` environment variable).
    pub store_password_file: Option<PathBuf>,
    /// How log lines are written: `text` (no colours unless to a terminal) or `json`.
    pub log_format: LogFormat,
    /// A file log lines are appended to instead of standard error.
    pub log_file: Option<PathBuf>,
    /// Reverse proxies to applications, each a load balancer whose requests a WAF web ACL decides.
    pub proxy: Vec<ProxyConfig>,
    /// The address the listeners of load balancers created through the ELBv2 API listen on
    /// (each on its listener's port).
    pub balancer_address: std::net::IpAddr,
    /// Seconds between deliveries of WAF log files to web ACLs' logging buckets (AWS WAF: 300).
    pub waf_log_delivery_secs: u64,
    /// A directory WAF log records are also appended to, as `DIR/WEB-ACL-NAME.log` (JSON lines).
    pub waf_log_dir: Option<PathBuf>,
    /// A file holding the bearer token (16 characters or more) that a scraper presents to read
    /// `/_rampart/metrics` (`Authorization: Bearer TOKEN`). Without it the metrics are not
    /// served: they name web ACLs and rules, which are the accounts' own.
    pub metrics_token_file: Option<PathBuf>,
    /// Requests a load balancer's rate-based rules turn away in a minute that make an attack
    /// (Shield's attack records, and automatic application layer mitigation).
    pub shield_attack_threshold: u64,
    /// Seconds without such requests that end an attack.
    pub shield_attack_quiet_secs: u64,
    /// A load balancer's request rate (per second, over ten seconds) is a surge, and an attack,
    /// at this rate or more…
    pub shield_surge_min_rps: u64,
    /// …and this many times its learnt baseline.
    pub shield_surge_factor: f64,
    /// How often GuardDuty exports findings to publishing destinations: new findings are in the
    /// bucket within this, as GuardDuty's are within about five minutes.
    pub guardduty_export_secs: u64,
    /// The Tor exit nodes GuardDuty's TorIPCaller findings name: a file as the Tor Project
    /// publishes them (the bulk exit list, or exit-addresses), read again when it changes.
    pub guardduty_tor_exit_list: Option<PathBuf>,
    /// Malware Protection for S3's own list of malicious files: SHA-256 hashes in hex, one per
    /// line (`#` starts a comment line), read again when the file changes. The EICAR test file is
    /// found without it.
    pub guardduty_malware_hashes_file: Option<PathBuf>,
    /// A geolocation database in MaxMind's format (GeoLite2 or GeoIP2 Country or City, or
    /// another provider's in the same format) for web ACLs' geo matches and AWS WAF's logs.
    pub geoip_country_db: Option<PathBuf>,
    /// An autonomous-system database in MaxMind's format (GeoLite2 ASN) for web ACLs' ASN matches.
    pub geoip_asn_db: Option<PathBuf>,
    /// A directory of IP lists for the IP reputation managed rule groups, one file per rule
    /// (`AWSManagedIPReputationList.txt`, `AWSManagedReconnaissanceList.txt`,
    /// `AWSManagedIPDDoSList.txt`, `AnonymousIPList.txt`, `HostingProviderIPList.txt`), and the
    /// bots Bot Control verifies (`VerifiedBot_googlebot.txt`, …), an address or CIDR block per
    /// line; read again when a file changes. Without one those rules match nothing.
    pub waf_ip_lists: Option<PathBuf>,
    /// The thresholds and windows of GuardDuty's detections, each defaulting to the README's
    /// value: a table of any of `brute_force_failures`, `sign_in_window_secs`, `learn_events`,
    /// `discovery_new_apis`, `discovery_window_secs`, `error_burst`, `error_window_secs`,
    /// `error_baseline`, `sequence_kinds`, `sequence_window_secs`, `probe_paths`,
    /// `blocked_attacks`, `web_window_secs`.
    pub guardduty_thresholds: rampart_guardduty::detect::Tuning,
    /// The most bytes of request line and headers a proxied request may have (an ALB's: 64 KiB),
    /// and the most headers; larger requests get 431 and never reach the upstream.
    pub proxy_max_header_bytes: usize,
    pub proxy_max_headers: usize,
    #[serde(skip)]
    pub master_key: MasterKeySource,
    /// The store's database password, e.g. from the `RAMPART_STORE_PASSWORD` environment variable.
    #[serde(skip)]
    pub store_password: Option<zeroize::Zeroizing<String>>,
}

/// A proxy listener: a load balancer of Rampart's own, named as an application load balancer is,
/// serving `listen` by forwarding to `upstream`, decided by the web ACL associated with it
/// (AssociateWebACL) or, without one, the regional web ACL named `web_acl`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub name: String,
    #[serde(deserialize_with = "deserialize_listen")]
    pub listen: SocketAddr,
    /// `http://HOST:PORT`.
    pub upstream: String,
    #[serde(default)]
    pub web_acl: Option<String>,
}

impl ProxyConfig {
    /// The upstream's `HOST:PORT`, when `upstream` is an `http://` URL with nothing after it but
    /// a `/`.
    pub fn upstream_authority(&self) -> Option<http::uri::Authority> {
        let rest = self.upstream.strip_prefix("http://")?;
        let authority: http::uri::Authority = rest.strip_suffix('/').unwrap_or(rest).parse().ok()?;
        authority.port_u16()?;
        Some(authority)
    }

    /// Reads the `--proxy` flag's form: `name=shop,listen=127.0.0.1:8081,upstream=http://127.0.0.1:8080,web-acl=front`.
    pub fn parse(text: &str) -> Result<ProxyConfig, String> {
        let (mut name, mut listen, mut upstream, mut web_acl) = (None, None, None, None);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                part.split_once('=').ok_or_else(|| format!("proxy setting `{part}` is not KEY=VALUE"))?;
            match key {
                "name" => name = Some(value.to_owned()),
                "listen" => listen = Some(parse_listen(value)?),
                "upstream" => upstream = Some(value.to_owned()),
                "web-acl" | "web_acl" => web_acl = Some(value.to_owned()),
                other => return Err(format!("proxy setting `{other}` is none of name, listen, upstream, web-acl")),
            }
        }
        Ok(ProxyConfig {
            name: name.ok_or("a proxy needs name=")?,
            listen: listen.ok_or("a proxy needs listen=")?,
            upstream: upstream.ok_or("a proxy needs upstream=")?,
            web_acl,
        })
    }

    /// Checks the name (an application load balancer's: 1–32 letters, digits and hyphens, not at
    /// either end) and the upstream.
    fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let good = (1..=32).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-');
        if !good {
            return Err(format!(
                "proxy name `{n}` must be 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen"
            ));
        }
        if self.upstream_authority().is_none() {
            return Err(format!("proxy upstream `{}` is not an http://HOST:PORT URL", self.upstream));
        }
        Ok(())
    }
}

/// A store URL; its password never shows in logs or errors (see [`StoreUrl::redacted`]).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct StoreUrl(pub String);

impl StoreUrl {
    /// The URL with any password replaced by `***`: `postgres://user:***@host/db`, or
    /// `password=***` in a key=value string.
    pub fn redacted(&self) -> String {
        rampart_store::redact_url(&self.0)
    }

    /// Whether this names a PostgreSQL database (the only engine besides the embedded one).
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://") || self.0.contains('=')
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("log format `{other}` is neither `text` nor `json`")),
        }
    }
}

/// Reads a listen address as operators write it: `127.0.0.1:4566`, `[::1]:4566`,
/// `localhost:4566` (loopback), `:4566` (every interface, as Go and LocalStack read it), or a host
/// name with a port (its first address).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("listen address `{text}` has no `:PORT`"))?;
    let port: u16 = port.parse().map_err(|_| format!("listen address `{text}`: `{port}` is not a port"))?;
    match host {
        "" | "*" => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        h if h.eq_ignore_ascii_case("localhost") => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        h => std::net::ToSocketAddrs::to_socket_addrs(&(h, port))
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("listen address `{text}`: cannot resolve `{h}`")),
    }
}

fn deserialize_listen<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_listen(&text).map_err(serde::de::Error::custom)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 4566)),
            port: None,
            data_dir: PathBuf::from("rampart-data"),
            account_id: None,
            root_email: "root@rampart.local".to_owned(),
            dev: false,
            dev_account_id: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            max_body_bytes: 8 * 1024 * 1024,
            max_object_body_bytes: 64 * 1024 * 1024,
            upload_memory_bytes: 32 * 1024 * 1024,
            download_memory_bytes: 16 * 1024 * 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            shutdown_grace_secs: 30,
            max_connections: 4096,
            max_connections_per_source: 512,
            trail_delivery_secs: 60,
            trail_digest_secs: 3600,
            insights_period_secs: 60,
            insights_baseline_periods: 10_080,
            trail_export_dir: None,
            proxy: Vec::new(),
            balancer_address: std::net::IpAddr::from([127, 0, 0, 1]),
            waf_log_delivery_secs: 300,
            waf_log_dir: None,
            metrics_token_file: None,
            shield_attack_threshold: 1000,
            shield_attack_quiet_secs: 60,
            shield_surge_min_rps: 500,
            shield_surge_factor: 10.0,
            guardduty_export_secs: 300,
            guardduty_tor_exit_list: None,
            guardduty_malware_hashes_file: None,
            geoip_country_db: None,
            geoip_asn_db: None,
            waf_ip_lists: None,
            guardduty_thresholds: rampart_guardduty::detect::Tuning::default(),
            proxy_max_header_bytes: 64 * 1024,
            proxy_max_headers: 100,
            event_history_days: 90,
            oidc_allow_private_addresses: false,
            public_url: None,
            s3_base_domains: Vec::new(),
            master_key_file: None,
            store: None,
            store_password_file: None,
            log_format: LogFormat::Text,
            log_file: None,
            master_key: MasterKeySource::DataDir,
            store_password: None,
        }
    }
}

/// A commented sample configuration file: every key, its default, and what it does
/// (`rampart config example`). A test checks that it names every key and parses.
pub const EXAMPLE_TOML: &str = r#"# Rampart's configuration (`rampart serve --config rampart.toml`). Every key is also a flag
# (`--data-dir`) and an environment variable (`RAMPART_DATA_DIR`); a flag wins over the variable,
# which wins over this file. Uncomment what you change. Unknown keys are refused.

# The file format version.
version = 1

# Where to listen: HOST:PORT, localhost:PORT, or :PORT for every interface.
# listen = "127.0.0.1:4566"
# A port replacing listen's (flag --port).
# port = 4566

# The database, the master key and the root credentials. Back up master.key apart from the data.
# data_dir = "rampart-data"
# A file holding the master key (base64 of 32 bytes, mode 0600) instead of <data_dir>/master.key.
# The key itself may instead be given in the RAMPART_MASTER_KEY environment variable.
# master_key_file = "/etc/rampart/master.key"

# The store: absent, the embedded one in data_dir. A PostgreSQL URL makes this node one of any
# number sharing that database (each with the same master key); TLS as libpq's sslmode says
# (verify-full with sslrootcert= checks the server). The password may instead be in a file, or in
# the RAMPART_STORE_PASSWORD environment variable; it is never printed.
# store = "postgres://rampart@db.example.org/rampart?sslmode=verify-full"
# store_password_file = "/etc/rampart/db-password"

# The management account and its root user's email, used on the first start only.
# account_id = "123456789012"          # random when absent
# root_email = "root@rampart.local"

# Development mode: one account (dev_account_id) for the bootstrap and for any unknown access
# key, which acts as the administrator IAM user rampart-dev; POST /_rampart/reset wipes state.
# Never in production.
# dev = false
# dev_account_id = "000000000000"

# The region recorded for requests whose signature names none.
# region = "us-east-1"

# TLS: a PEM certificate chain and its key, or a self-signed certificate in <data_dir>/tls/.
# tls_cert = "/etc/rampart/cert.pem"
# tls_key = "/etc/rampart/key.pem"
# tls_self_signed = false

# Limits: the largest request body (bytes), and seconds to send headers, to send a body, and for
# in-flight requests to finish on shutdown.
# max_body_bytes = 8388608
# The largest S3 upload body (PutObject, UploadPart); larger objects go up in parts.
# max_object_body_bytes = 67108864
# Most memory upload bodies hold at once (each counts twice its length; a larger one runs alone);
# an upload waits for room, up to body_read_timeout_secs, then is answered 503 SlowDown.
# upload_memory_bytes = 33554432
# Most memory ranged downloads (GET with bytes=FIRST-LAST) hold at once; one waits for room as an
# upload does.
# download_memory_bytes = 16777216
# header_read_timeout_secs = 10
# body_read_timeout_secs = 30
# shutdown_grace_secs = 30
# Most connections open at once, in total and from one source address; more are closed on arrival.
# A connection that sends nothing within header_read_timeout_secs is closed.
# max_connections = 4096
# max_connections_per_source = 512

# The URL clients and outside services reach this server at, for the URLs Rampart hands out (an
# account's outbound web identity federation issuer); default: the scheme and Host of the request.
# public_url = "https://rampart.example.org"

# More DNS names S3 requests may name their bucket under (BUCKET.s3.DOMAIN, BUCKET.DOMAIN), besides
# localhost, localhost.localstack.cloud and amazonaws.com.
# s3_base_domains = ["rampart.example.org"]

# CloudTrail: seconds between trail deliveries, seconds each digest file covers, a directory every
# delivered file is also copied to, and the days event history keeps events.
# trail_delivery_secs = 60
# trail_digest_secs = 3600
# CloudTrail Insights: seconds in a period, and periods in a baseline (a week of minutes).
# insights_period_secs = 60
# insights_baseline_periods = 10080
# trail_export_dir = "/var/lib/rampart/trails"
# event_history_days = 90

# Let OIDC issuers resolve to loopback or private addresses (a local identity provider).
# oidc_allow_private_addresses = false

# Log lines: text or json, to standard error or appended to a file. RAMPART_LOG sets the levels
# (e.g. RAMPART_LOG=debug, or RAMPART_LOG=info,rampart::request=off without the request log).
# log_format = "text"
# log_file = "/var/log/rampart.log"

# Reverse proxies (WAF): each a load balancer, named as an application load balancer is, forwarding
# what it accepts on listen to upstream (http://HOST:PORT), decided by the web ACL associated with
# it (wafv2 associate-web-acl) or else the regional web ACL named web_acl; 503 while that web ACL
# cannot be enforced.
# proxy = [{ name = "shop", listen = "127.0.0.1:8081", upstream = "http://127.0.0.1:8080", web_acl = "front" }]

# Load balancers created through the ELBv2 API (aws elbv2 create-load-balancer): their listeners
# listen on this address, each on its own port.
# balancer_address = "127.0.0.1"

# WAF logs: seconds between deliveries of log files to web ACLs' logging buckets (PutLoggingConfiguration
# with an arn:aws:s3:::aws-waf-logs-* destination), and a directory the records are also appended to.
# waf_log_delivery_secs = 300
# waf_log_dir = "/var/log/rampart/waf"
# The bearer token (a file, 16 characters or more) that reads /_rampart/metrics; unset, they are not served.
# metrics_token_file = "/etc/rampart/metrics-token"

# Shield: requests a load balancer's rate-based rules turn away in a minute that make an attack
# (shield list-attacks; automatic application layer mitigation where a protection enables it).
# shield_attack_threshold = 1000
# shield_attack_quiet_secs = 60
# Shield: a request rate this high (per second) and this many times the baseline is a surge.
# shield_surge_min_rps = 500
# shield_surge_factor = 10.0
# GuardDuty: how often findings are exported to publishing destinations (new ones within this).
# guardduty_export_secs = 300
# GuardDuty: the Tor exit nodes (https://check.torproject.org/torbulkexitlist, saved to a file).
# guardduty_tor_exit_list = "/var/lib/rampart/tor-exit-nodes.txt"
# GuardDuty: SHA-256 hashes of malicious files for Malware Protection for S3 (one per line).
# guardduty_malware_hashes_file = "/var/lib/rampart/malware-sha256.txt"
# WAF: geolocation and autonomous-system databases in MaxMind's format, for geo and ASN matches.
# geoip_country_db = "/var/lib/GeoIP/GeoLite2-Country.mmdb"
# geoip_asn_db = "/var/lib/GeoIP/GeoLite2-ASN.mmdb"
# WAF: IP lists for the IP reputation managed rule groups (AWSManagedIPReputationList.txt, …).
# waf_ip_lists = "/var/lib/rampart/waf-ip-lists"
# GuardDuty: the detections' thresholds and windows (any of them; the others keep these defaults).
# guardduty_thresholds = { brute_force_failures = 5, sign_in_window_secs = 900, learn_events = 100, discovery_new_apis = 10, discovery_window_secs = 300, error_burst = 10, error_window_secs = 300, error_baseline = 20, sequence_kinds = 3, sequence_window_secs = 86400, probe_paths = 50, blocked_attacks = 20, web_window_secs = 300 }
# Proxies: the most bytes of request line and headers, and the most headers, a request may have.
# proxy_max_header_bytes = 65536
# proxy_max_headers = 100
"#;

/// The keys `Config` reads (its TOML keys), as serde sees them; the flags and environment
/// variables are named after them.
pub fn config_keys() -> Vec<&'static str> {
    struct Fields(Vec<&'static str>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.extend_from_slice(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut f = Fields(Vec::new());
    let _ = Config::deserialize(&mut f);
    f.0
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file `{0}`: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The base domains S3 requests may name a bucket under, besides the configured ones.
pub const S3_BUILTIN_BASE_DOMAINS: [&str; 3] = ["localhost", "localhost.localstack.cloud", "amazonaws.com"];

impl Config {
    /// Every base domain S3 requests may name a bucket under: the built-in ones, then the
    /// configured ones, lower-cased.
    pub fn s3_domains(&self) -> Vec<String> {
        S3_BUILTIN_BASE_DOMAINS
            .iter()
            .map(|d| (*d).to_owned())
            .chain(self.s3_base_domains.iter().map(|d| d.to_ascii_lowercase()))
            .collect()
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e))
    }

    /// The address to bind: `listen`, with `port` in place of its port when given.
    pub fn bind_addr(&self) -> SocketAddr {
        let mut a = self.listen;
        if let Some(p) = self.port {
            a.set_port(p);
        }
        a
    }

    /// Checks values that the types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.version != 1 {
            return invalid(format!("config version {} is not supported (expected 1)", self.version));
        }
        if self.event_history_days == 0 {
            return invalid("event_history_days must be at least 1".to_owned());
        }
        if let Err(why) = self.guardduty_thresholds.check() {
            return invalid(why);
        }
        if !(self.shield_surge_factor.is_finite() && self.shield_surge_factor >= 1.0) {
            return invalid(format!("shield_surge_factor {} must be a number of at least 1", self.shield_surge_factor));
        }
        if let Some(a) = &self.account_id
            && !is_account_id(a)
        {
            return invalid(format!("account id `{a}` must be 12 digits"));
        }
        if !is_account_id(&self.dev_account_id) {
            return invalid(format!("dev account id `{}` must be 12 digits", self.dev_account_id));
        }
        // Dev mode has one account: the bootstrap's root and unknown keys act in it.
        if let Some(a) = &self.account_id
            && self.dev
            && *a != self.dev_account_id
        {
            return invalid(format!(
                "in dev mode the management account is the dev account ({}); give --dev-account-id {a} instead of \
                 --account-id",
                self.dev_account_id
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("--tls-cert and --tls-key go together".to_owned());
        }
        if self.tls_self_signed && self.tls_cert.is_some() {
            return invalid("--tls-self-signed and --tls-cert exclude each other".to_owned());
        }
        if let Some(url) = &self.public_url {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.contains(['?', '#', ' '])) {
                return invalid(format!("public URL `{url}` is not an http:// or https:// URL"));
            }
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.proxy {
            p.validate().map_err(ConfigError::Invalid)?;
            if !names.insert(&p.name) {
                return invalid(format!("two proxies are named `{}`", p.name));
            }
        }
        if let Some(url) = &self.store {
            if !url.is_postgres() {
                return invalid(format!(
                    "store `{}` is not a postgres:// URL (leave it out for the embedded store in the data directory)",
                    url.redacted()
                ));
            }
            if let Err(e) = rampart_store::check_postgres_url(&url.0) {
                return invalid(format!("store `{}`: {e}", url.redacted()));
            }
        }
        if let Some(d) = self.s3_base_domains.iter().find(|d| !is_domain(d)) {
            return invalid(format!("S3 base domain `{d}` is not a DNS name"));
        }
        if self.max_body_bytes == 0
            || self.max_object_body_bytes == 0
            || self.upload_memory_bytes < 1024
            || self.download_memory_bytes < 1024
            || self.header_read_timeout_secs == 0
            || self.body_read_timeout_secs == 0
            || self.max_connections == 0
            || self.max_connections_per_source == 0
        {
            return invalid("limits and timeouts must be greater than zero".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod store_url_tests {
    use super::{Config, StoreUrl};

    #[test]
    fn a_bad_store_is_refused_with_the_configuration_without_its_password() {
        for (url, says) in [
            ("mysql://root:hunter22@db/r", "is not a postgres:// URL"),
            ("postgres://rampart:hunter22@db/r?sslmode=sometimes", "sslmode=sometimes"),
            ("postgres://rampart:hunter22@db:notaport/r", "not valid"),
        ] {
            let c = Config { store: Some(StoreUrl(url.to_owned())), ..Config::default() };
            let e = c.validate().expect_err(url).to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("hunter22"), "the password is in the error: {e}");
        }
        let ok =
            Config { store: Some(StoreUrl("postgres://rampart@db/r?sslmode=verify-full".into())), ..Config::default() };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn store_passwords_are_redacted() {
        let u = |s: &str| StoreUrl(s.to_owned()).redacted();
        assert_eq!(
            u("postgres://rampart:s3cret@db:5432/r?sslmode=require"),
            "postgres://rampart:***@db:5432/r?sslmode=require"
        );
        assert_eq!(u("postgresql://rampart@db/r"), "postgresql://rampart@db/r");
        assert_eq!(u("host=db password=s3cret user=r"), "host=db password=*** user=r");
        assert_eq!(u("host=db password=s3cret options=a://b"), "host=db password=*** options=a://b");
        assert_eq!(u("host=db password = 'it\\'s a secret' user=r"), "host=db password=*** user=r");
        assert_eq!(u("passwordless=1 password=x"), "passwordless=1 password=***");
        assert!(!format!("{:?}", StoreUrl("postgres://a:pw@h/d".into())).contains("pw"));
        assert_eq!(
            u("postgres://h/d?user=a&password=s3cret&sslmode=require"),
            "postgres://h/d?user=a&password=***&sslmode=require"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_names_every_key_and_parses() {
        let keys = config_keys();
        assert!(keys.len() > 20, "{keys:?}");
        for k in &keys {
            let set = format!("{k} = ");
            assert!(
                EXAMPLE_TOML.lines().any(|l| l.trim_start_matches("# ").starts_with(&set)),
                "the example lacks `{k}`"
            );
        }
        // Every commented key uncommented: still a valid file, with every value the example gives.
        let uncommented: String = EXAMPLE_TOML
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.split(' ').nth(1) == Some("=") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c: Config = toml::from_str(&uncommented).unwrap();
        assert_eq!(c.port, Some(4566));
        assert_eq!(c.s3_base_domains, ["rampart.example.org"]);
        assert_eq!(c.log_format, LogFormat::Text);
        let defaults: Config = toml::from_str(EXAMPLE_TOML).unwrap();
        assert_eq!(defaults.listen, Config::default().listen);
    }

    #[test]
    fn listen_addresses_are_read_as_operators_write_them() {
        assert_eq!(parse_listen("127.0.0.1:4566").unwrap(), SocketAddr::from(([127, 0, 0, 1], 4566)));
        assert_eq!(parse_listen("localhost:4566").unwrap(), SocketAddr::from(([127, 0, 0, 1], 4566)));
        assert_eq!(parse_listen(":4566").unwrap(), SocketAddr::from(([0, 0, 0, 0], 4566)));
        assert_eq!(parse_listen("[::1]:9000").unwrap().port(), 9000);
        assert!(parse_listen("4566").unwrap_err().contains("no `:PORT`"));
        assert!(parse_listen("localhost:http").unwrap_err().contains("is not a port"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \":9000\"\nport = 9100\n").unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.bind_addr(), SocketAddr::from(([0, 0, 0, 0], 9100)));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "version = 1\nlisten = \"127.0.0.1:9000\"\ndev = true\n").unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert!(c.dev);
        assert_eq!(c.data_dir, PathBuf::from("rampart-data"));
        std::fs::write(&p, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        assert!(Config::from_file(&p).unwrap_err().to_string().contains("unknown field `lisen`"));
        let c = Config { account_id: Some("12345".into()), ..Config::default() };
        assert!(c.validate().is_err());
        assert!(Config::default().validate().is_ok());
        for factor in [0.5, f64::NAN, f64::INFINITY] {
            let c = Config { shield_surge_factor: factor, ..Config::default() };
            assert!(c.validate().unwrap_err().to_string().contains("shield_surge_factor"), "{factor}");
        }
    }
}
