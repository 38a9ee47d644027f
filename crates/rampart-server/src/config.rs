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
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The directory holding the database, the master key and the root credentials.
    pub data_dir: PathBuf,
    /// The management account's id on first start (12 digits); random when absent (in dev mode,
    /// `dev_account_id`).
    pub account_id: Option<String>,
    /// The root user's email on first start.
    pub root_email: String,
    /// Development mode: the first start bootstraps `dev_account_id`, unknown access keys act as
    /// its root user (or, a 12-digit key id, as the root of that account), and
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
    /// Seconds a client has to send its request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send its request body.
    pub body_read_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Seconds between CloudTrail trail deliveries (log files written to trails' buckets).
    pub trail_delivery_secs: u64,
    /// Seconds each CloudTrail digest file covers, for trails with log file validation
    /// (CloudTrail: an hour).
    pub trail_digest_secs: u64,
    /// A directory every trail's delivered files (log and digest files) are also copied to, as
    /// `DIR/BUCKET/KEY` (a digest's signature beside it in `KEY.metadata.json`).
    pub trail_export_dir: Option<PathBuf>,
    /// Days CloudTrail event history keeps events (LookupEvents); older ones are deleted.
    pub event_history_days: u32,
    /// Let OIDC issuers resolve to loopback or private addresses (a local identity provider).
    /// Off: registering a provider must not let anyone make Rampart reach into its own network.
    pub oidc_allow_private_addresses: bool,
    /// More base domains under which S3 requests name their bucket in the Host header
    /// (`BUCKET.s3.DOMAIN`, `BUCKET.DOMAIN`), besides the built-in `localhost`,
    /// `localhost.localstack.cloud` and `amazonaws.com`. A Host under none of them that is not an
    /// IP address or a single label is a bucket name, as S3 reads a CNAME.
    pub s3_base_domains: Vec<String>,
    /// A file holding the master key (base64 of 32 bytes); default `<data-dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
    #[serde(skip)]
    pub master_key: MasterKeySource,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 4566)),
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
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            shutdown_grace_secs: 30,
            trail_delivery_secs: 60,
            trail_digest_secs: 3600,
            trail_export_dir: None,
            event_history_days: 90,
            oidc_allow_private_addresses: false,
            s3_base_domains: Vec::new(),
            master_key_file: None,
            master_key: MasterKeySource::DataDir,
        }
    }
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

    /// Checks values that the types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.version != 1 {
            return invalid(format!("config version {} is not supported (expected 1)", self.version));
        }
        if self.event_history_days == 0 {
            return invalid("event_history_days must be at least 1".to_owned());
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
        if let Some(d) = self.s3_base_domains.iter().find(|d| !is_domain(d)) {
            return invalid(format!("S3 base domain `{d}` is not a DNS name"));
        }
        if self.max_body_bytes == 0 || self.header_read_timeout_secs == 0 || self.body_read_timeout_secs == 0 {
            return invalid("limits and timeouts must be greater than zero".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
