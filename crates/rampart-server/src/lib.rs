//! The Rampart server: the only crate that wires the layers together.
//!
//! [`start`] prepares the data directory and master key, opens the store, bootstraps the management
//! account on first start, and serves AWS APIs until [`Running::shutdown`].

mod admin;
mod app;
mod audit;
mod authn;
mod balancers;
mod body;
pub mod config;
mod conn_limits;
mod cors;
mod data_dir;
mod dispatch;
mod geo;
mod guardduty;
mod ids;
mod ip_lists;
mod listener;
mod oidc;
mod operator;
mod post_upload;
mod proxy;
mod services;
mod signin;
mod tls;
mod trail_export;
mod upstreams;
mod waf_activity;
mod waf_tokens;

use rampart_core::records;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rampart_core::account::{self, Bootstrap};
use rampart_core::{ServiceError, keys};
use rampart_sigv4::Verifier;
use rampart_store::{Db, Sealer, StoreError};
use tokio::sync::watch;
use zeroize::Zeroizing;

pub use config::{
    Config, ConfigError, EXAMPLE_TOML, LogFormat, MasterKeySource, ProxyConfig, config_keys, parse_listen,
};
pub use data_dir::{DB_FILE, prepare as prepare_data_dir};
pub use operator::{
    PasswordReset, Replayed, TemplateRegistration, guardduty_replay, open_sealer, register_delegation_template,
    reset_root_password, take_delegation_messages,
};
/// GuardDuty's thresholds, as `guardduty_thresholds` sets them.
pub use rampart_guardduty::detect::Tuning as GuarddutyTuning;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the store database {0}: {1}")]
    Database(String, StoreError),
    #[error("cannot read the store's password file {0}: {1}")]
    StorePassword(PathBuf, std::io::Error),
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] ServiceError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {0}: {1}{hint}", hint = bind_hint(.1))]
    Bind(SocketAddr, std::io::Error),
    #[error(
        "the master key ({key}) is not the key the data in {db} was sealed with; start with that store's own \
         key (restore it from your backup), or use another --data-dir"
    )]
    MasterKeyMismatch { key: String, db: PathBuf },
    #[error("there is no Rampart store at {0}: give the server's --data-dir")]
    NoStore(PathBuf),
    #[error("cannot read the Tor exit list {0}: {1}")]
    TorList(PathBuf, std::io::Error),
    #[error("the metrics token file {0}: {1}")]
    MetricsToken(PathBuf, String),
    #[error("the geolocation database {0} cannot be read: {1}")]
    GeoDatabase(PathBuf, String),
    #[error("cannot read the WAF IP lists directory {0}")]
    IpLists(String),
    #[error(
        "{0} exists, but the store beside it is new: move the file away (it belongs to another store) and start again"
    )]
    StaleCredentials(PathBuf),
}

/// The metrics token in its file (surrounding whitespace aside): 16 characters or more.
fn read_metrics_token(file: &std::path::Path) -> Result<Zeroizing<String>, StartError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| StartError::MetricsToken(file.to_owned(), e.to_string()))?,
    );
    let token = Zeroizing::new(text.trim().to_owned());
    if token.chars().count() < 16 || token.chars().any(char::is_whitespace) {
        return Err(StartError::MetricsToken(
            file.to_owned(),
            "the token must be 16 characters or more, without spaces".to_owned(),
        ));
    }
    Ok(token)
}

fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another process uses that port: stop it, or pick another with --listen or --port)"
        }
        std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges: pick a port above 1023)",
        _ => "",
    }
}

/// Where the master key came from, to name it in an error.
fn source_name(config: &Config, source: &MasterKeySource) -> String {
    match source {
        MasterKeySource::DataDir => config.data_dir.join("master.key").display().to_string(),
        MasterKeySource::File(p) => p.display().to_string(),
        MasterKeySource::Inline(_) => "RAMPART_MASTER_KEY".to_owned(),
    }
}

/// What the first start created, to show the operator once.
pub struct FirstStart {
    pub account_id: String,
    pub root_email: String,
    pub root_password: Zeroizing<String>,
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub credentials_file: PathBuf,
}

/// A proxy listener the server runs.
#[derive(Debug, Clone)]
pub struct ProxyListener {
    pub name: String,
    pub addr: SocketAddr,
    /// The load balancer it is, for AssociateWebACL.
    pub load_balancer_arn: String,
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub tls: bool,
    pub management_account_id: String,
    pub first_start: Option<FirstStart>,
    pub proxies: Vec<ProxyListener>,
    db: Db,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The base URL clients use.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Stops accepting, drains in-flight requests, flushes and closes the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// The newest audit events, newest first, as CloudTrail records them. (The CloudTrail API's
    /// LookupEvents will serve these; this is the store's view for tests and tools.)
    pub fn audit_events(&self, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = self.db.log_range(i64::MIN, i64::MAX, limit, true)?;
        Ok(rows
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&rampart_cloudtrail::stored::unpack(&v)?).ok())
            .collect())
    }

    /// Waits until the server stops on its own (it does not, unless it fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Starts a server with `config`.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config.validate()?;
    if !app::AUDIT {
        tracing::warn!("this build (feature bench-no-audit) does not audit successful requests: benchmarking only");
    }
    let source = match (&config.master_key, &config.master_key_file) {
        (MasterKeySource::DataDir, Some(f)) => MasterKeySource::File(f.clone()),
        (s, _) => s.clone(),
    };
    let (db, db_path) = open_store(&config, true)?;
    let has_data = account::store_has_data(&db)?;
    let sealer = Arc::new(data_dir::master_key(&config.data_dir, &source, has_data)?);
    account::check_master_key(&db, sealer.clone()).await.map_err(|e| match e {
        account::MasterKeyCheckError::Mismatch => {
            StartError::MasterKeyMismatch { key: source_name(&config, &source), db: db_path.clone() }
        }
        account::MasterKeyCheckError::Service(e) => StartError::Bootstrap(e),
    })?;
    // Everything that can fail on a first start is checked before the bootstrap, so that its
    // secrets, shown once, are shown: the listener is bound, TLS loaded, the credentials file free.
    let acceptor = tls::acceptor(&config)?;
    let bind = config.bind_addr();
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| StartError::Bind(bind, e))?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind(bind, e))?;
    let mut proxy_listeners = Vec::new();
    for p in &config.proxy {
        let l = tokio::net::TcpListener::bind(p.listen).await.map_err(|e| StartError::Bind(p.listen, e))?;
        let local = l.local_addr().map_err(|e| StartError::Bind(p.listen, e))?;
        proxy_listeners.push((p.clone(), l, local));
    }
    let credentials_path = config.data_dir.join(data_dir::ROOT_CREDENTIALS);
    if !has_data && credentials_path.exists() {
        return Err(StartError::StaleCredentials(credentials_path));
    }
    let bootstrap_account = if config.dev { Some(config.dev_account_id.clone()) } else { config.account_id.clone() };
    let created = account::bootstrap(&db, sealer.clone(), bootstrap_account, config.root_email.clone()).await?;
    let first_start = match created {
        Some(b) => {
            let credentials_file =
                data_dir::write_root_credentials(&config.data_dir, &b.access_key_id, &b.secret_access_key)?;
            Some(FirstStart {
                account_id: b.account_id,
                root_email: b.root_email,
                root_password: b.root_password,
                access_key_id: b.access_key_id,
                secret_access_key: b.secret_access_key,
                credentials_file,
            })
        }
        None => None,
    };
    let marker: Bootstrap = records::read(&db, keys::BOOTSTRAP)?.ok_or_else(ServiceError::internal)?;
    if config.dev {
        rampart_iam::iam::ensure_dev_user(&db, sealer.clone(), &config.dev_account_id).await?;
    }
    let failed = |e: rampart_store::TxError<ServiceError>| match e {
        rampart_store::TxError::Aborted(e) => StartError::from(e),
        rampart_store::TxError::Store(e) => StartError::from(e),
    };
    let days = config.event_history_days;
    db.transact(move |tx| rampart_cloudtrail::set_retention(tx, days)).await.map_err(failed)?;
    // Events of a store from before the log move there, a batch per transaction.
    while db.transact(rampart_cloudtrail::move_events_to_log).await.map_err(failed)? > 0 {}
    // Objects of a store from before versions move into the versioned layout, sealed.
    let moved = rampart_s3::upgrade(&db, sealer.clone()).await?;
    if moved > 0 {
        tracing::info!(objects = moved, "S3 objects moved into the versioned layout and sealed");
    }
    let allow_private_issuers = config.oidc_allow_private_addresses;
    let s3_base_domains = config.s3_domains();
    let upload_memory = Arc::new(tokio::sync::Semaphore::new(config.upload_memory_bytes / 1024));
    let download_memory = Arc::new(tokio::sync::Semaphore::new(config.download_memory_bytes / 1024));
    let metrics_token = match &config.metrics_token_file {
        Some(file) => Some(read_metrics_token(file)?),
        None => None,
    };
    let geo = geo::GeoDbs::open(config.geoip_country_db.as_deref(), config.geoip_asn_db.as_deref())?.map(Arc::new);
    let ip_lists = Arc::new(ip_lists::IpLists::open(config.waf_ip_lists.as_deref())?);
    let scps = Arc::new(rampart_organizations::scp::ScpSource::new());
    let waf_tokens = Arc::new(waf_tokens::TokenDesk::new(&sealer));
    let app = Arc::new(app::App {
        geo,
        ip_lists,
        config,
        db: db.clone(),
        sealer,
        verifier: Verifier::new(),
        authorizer: rampart_iam::authz::Authorizer::with_organizations(scps.clone()),
        org_policies: scps,
        key_use: std::sync::Mutex::default(),
        access_use: std::sync::Mutex::default(),
        dispatch: dispatch::Dispatch::new(),
        oidc: oidc::OidcKeys::new(allow_private_issuers),
        sessions: authn::SessionCache::default(),
        management_account_id: marker.management_account_id.clone(),
        s3_base_domains,
        upload_memory,
        download_memory,
        activity: Arc::default(),
        waf_tokens,
        waf_compiled: Arc::default(),
        metrics_token,
    });
    let (shutdown, rx) = watch::channel(false);
    let digest_every = time::Duration::seconds(i64::try_from(app.config.trail_digest_secs.max(1)).unwrap_or(3600));
    tokio::spawn(deliver_trails(
        db.clone(),
        app.sealer.clone(),
        app.config.trail_delivery_secs.max(1),
        digest_every,
        rampart_cloudtrail::insights::InsightsConfig {
            period_secs: i64::try_from(app.config.insights_period_secs.max(1)).unwrap_or(60),
            baseline_periods: i64::try_from(app.config.insights_baseline_periods.max(1)).unwrap_or(10_080),
        },
        app.config.trail_export_dir.clone(),
        rx.clone(),
    ));
    tokio::spawn(index_events(db.clone(), rx.clone()));
    tokio::spawn(guardduty::detect(
        db.clone(),
        app.sealer.clone(),
        app.org_policies.clone(),
        (
            std::time::Duration::from_secs(app.config.guardduty_export_secs.max(1)),
            app.config.guardduty_tor_exit_list.clone(),
            app.config.guardduty_malware_hashes_file.clone(),
            app.config.guardduty_thresholds,
        ),
        rx.clone(),
    ));
    let proxies = start_proxies(&app, &marker.management_account_id, proxy_listeners, &rx).await.map_err(failed)?;
    tokio::spawn(balancers::supervise(
        db.clone(),
        (app.sealer.clone(), app.geo.clone(), app.ip_lists.clone()),
        app.proxy_shared(),
        app.config.balancer_address,
        proxy_limits(&app.config),
        rx.clone(),
    ));
    tokio::spawn(app.ip_lists.clone().watch(rx.clone()));
    // The nodes of a cluster (a shared PostgreSQL store) count rate-based rules together.
    if db.engine_name() == "postgres" {
        tokio::spawn(waf_activity::share_rates(app.waf_compiled.clone(), db.clone(), rx.clone()));
    }
    tokio::spawn(waf_activity::keep(
        app.activity.clone(),
        db.clone(),
        app.sealer.clone(),
        (std::time::Duration::from_secs(app.config.waf_log_delivery_secs.max(1)), app.config.waf_log_dir.clone()),
        (
            app.config.shield_attack_threshold,
            app.config.shield_attack_quiet_secs,
            rampart_shield::surge::Limits {
                min_per_second: app.config.shield_surge_min_rps,
                factor: app.config.shield_surge_factor,
            },
        ),
        app.config.guardduty_thresholds,
        rx.clone(),
    ));
    let tls = acceptor.is_some();
    let task = tokio::spawn(listener::serve(listener, acceptor, app, rx));
    Ok(Running {
        addr,
        tls,
        management_account_id: marker.management_account_id,
        first_start,
        proxies,
        db,
        shutdown,
        task,
    })
}

/// Records each proxy listener as a load balancer of the management account in the server's
/// region (so that a web ACL can be associated with it) and starts serving it.
async fn start_proxies(
    app: &Arc<app::App>,
    account: &str,
    listeners: Vec<(config::ProxyConfig, tokio::net::TcpListener, SocketAddr)>,
    shutdown: &watch::Receiver<bool>,
) -> Result<Vec<ProxyListener>, rampart_store::TxError<ServiceError>> {
    let mut started = Vec::new();
    for (p, listener, local) in listeners {
        let place =
            rampart_waf::Place { account: account.to_owned(), region: app.config.region.clone(), scope: "regional" };
        let configured = rampart_elb::Configured { listen: local.to_string(), upstream: p.upstream.clone() };
        let (name, at) = (p.name.clone(), place.clone());
        let arn = app
            .db
            .transact(move |tx| {
                let now = time::OffsetDateTime::now_utc();
                rampart_elb::register_configured(tx, (&at.account, &at.region, now), &name, configured)
            })
            .await?;
        let binding = rampart_waf::Binding { balancer_arn: arn.clone(), place, name: p.web_acl.clone() };
        let mut served = proxy::Proxy::configured(
            &p,
            local,
            binding,
            (app.db.clone(), app.proxy_shared()),
            proxy_limits(&app.config),
        );
        served.geo = app.geo.clone();
        served.ip_lists = Some(app.ip_lists.clone());
        let served = Arc::new(served);
        tokio::spawn(proxy::serve(listener, served, None, shutdown.clone()));
        started.push(ProxyListener { name: p.name, addr: local, load_balancer_arn: arn });
    }
    Ok(started)
}

/// The defences of every proxy, from the server's settings.
fn proxy_limits(c: &Config) -> proxy::ProxyLimits {
    proxy::ProxyLimits {
        max_body_bytes: c.max_body_bytes,
        header_read_timeout: std::time::Duration::from_secs(c.header_read_timeout_secs),
        body_read_timeout: std::time::Duration::from_secs(c.body_read_timeout_secs),
        max_connections: c.max_connections,
        max_connections_per_source: c.max_connections_per_source,
        shutdown_grace: std::time::Duration::from_secs(c.shutdown_grace_secs),
        max_header_bytes: c.proxy_max_header_bytes,
        max_headers: c.proxy_max_headers,
    }
}

/// Opens the configured store: the embedded one in the data directory (created when `create`),
/// or a PostgreSQL database; returns it with the name errors give it.
pub(crate) fn open_store(config: &Config, create: bool) -> Result<(Db, PathBuf), StartError> {
    let Some(url) = &config.store else {
        let path =
            if create { data_dir::prepare(&config.data_dir)? } else { data_dir::prepare_existing(&config.data_dir)? };
        return Ok((Db::open_sqlite(&path)?, path));
    };
    data_dir::prepare_dir(&config.data_dir)?;
    let password = match (&config.store_password_file, &config.store_password) {
        (Some(file), _) => {
            let text =
                Zeroizing::new(std::fs::read_to_string(file).map_err(|e| StartError::StorePassword(file.clone(), e))?);
            Some(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned()))
        }
        (None, pw) => pw.clone(),
    };
    let options = rampart_store::PgOptions { password };
    let db = Db::open_postgres(&url.0, &options).map_err(|e| StartError::Database(url.redacted(), e))?;
    tracing::info!(store = %url.redacted(), "store: PostgreSQL");
    Ok((db, PathBuf::from(url.redacted())))
}

/// Delivers trails' log files every `every` seconds until shutdown. Each run is one transaction
/// (`rampart_cloudtrail::deliver`): files, digests and cursors move together or not at all. With an
/// export directory, the files queued for it are then copied there (`trail_export`).
async fn deliver_trails(
    db: Db,
    sealer: Arc<Sealer>,
    every: u64,
    digest_every: time::Duration,
    insights: rampart_cloudtrail::insights::InsightsConfig,
    export_dir: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // One node of a cluster delivers and sweeps (the lease moves when it dies).
        let leader = db.lease("trails");
        let now = time::OffsetDateTime::now_utc();
        let sealer_for_keys = sealer.clone();
        let sealer_for_export = sealer.clone();
        let sealer = sealer.clone();
        let export = export_dir.is_some();
        if leader {
            match db
                .transact(move |tx| rampart_cloudtrail::deliver(tx, &sealer, now, digest_every, export, &insights))
                .await
            {
                Ok(done) => {
                    // CloudTrail's uses of trails' KMS keys, now that they are committed.
                    for u in &done.kms_uses {
                        rampart_s3::note_kms_use(&u.key_arn, "GenerateDataKey", u.at, (&u.request_id, &u.event_id));
                    }
                    if !done.files.is_empty() {
                        tracing::debug!(files = done.files.len(), "trail log files delivered");
                    }
                }
                Err(e) => tracing::warn!(error = ?e, "trail delivery failed; it is retried on the next run"),
            }
        }
        // KMS keys past their deletion date are destroyed, expired imported material too, and due
        // rotations made. Key uses noted in this node's memory are written with it (by every
        // node), and forgotten once that has committed.
        let uses = rampart_kms::pending_usage();
        let written = uses.clone();
        let swept = if leader {
            db.transact(move |tx| rampart_kms::sweep(tx, &sealer_for_keys, now, &uses)).await.map(drop)
        } else {
            db.transact(move |tx| rampart_kms::write_usage(tx, &uses)).await
        };
        match swept {
            Ok(()) => rampart_kms::usage_written(&written),
            Err(e) => tracing::warn!(error = ?e, "the KMS key sweep failed; it is retried on the next run"),
        }
        if leader && let Err(e) = db.transact(move |tx| signin::sweep_throttle(tx, now)).await {
            tracing::warn!(error = %e, "sweeping the sign-in throttle failed; it is retried on the next run");
        }
        if leader
            && let Some(dir) = &export_dir
            && let Err(e) = trail_export::run(&db, &sealer_for_export, dir).await
        {
            tracing::warn!(error = %e, "copying trail files to the export directory failed; it is retried on the next run");
        }
    }
}

/// Keeps CloudTrail's event-history index up with the stored events: a run every quarter second,
/// and at once again while a run finds a full batch.
async fn index_events(db: Db, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut runs: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // One node of a cluster indexes (the lease moves when it dies).
        if !db.lease("event-index") {
            continue;
        }
        runs = runs.wrapping_add(1);
        // About once a minute, events past the retention go (a batch at a time).
        if runs % 240 == 1 {
            let now = time::OffsetDateTime::now_utc();
            if let Err(e) = db.transact(move |tx| rampart_cloudtrail::sweep_expired(tx, now)).await {
                tracing::warn!(error = ?e, "sweeping expired events failed; it is retried later");
            }
        }
        loop {
            // Read and plan on a reader, off the store's writer thread; only the writes are a
            // transaction (which does nothing if the cursor moved meanwhile).
            let now = time::OffsetDateTime::now_utc();
            let reader = db.clone();
            let planned = tokio::task::spawn_blocking(move || rampart_cloudtrail::plan_pending(&reader, now)).await;
            let plan = match planned {
                Ok(Ok(plan)) => plan,
                Ok(Err(e)) => {
                    tracing::warn!(error = ?e, "reading events to index failed; it is retried on the next run");
                    break;
                }
                Err(_) => break,
            };
            match db.transact(move |tx| rampart_cloudtrail::apply_index(tx, &plan)).await {
                Ok(n) if n >= rampart_cloudtrail::INDEX_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = ?e, "indexing events failed; it is retried on the next run");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_token_is_long_enough_and_one_word() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  scrape-0123456789abcdef\n").unwrap();
        assert_eq!(read_metrics_token(&file).unwrap().as_str(), "scrape-0123456789abcdef");
        for bad in ["short", "two words in one token", ""] {
            std::fs::write(&file, bad).unwrap();
            assert!(matches!(read_metrics_token(&file), Err(StartError::MetricsToken(..))), "{bad:?}");
        }
        assert!(matches!(read_metrics_token(&dir.path().join("missing")), Err(StartError::MetricsToken(..))));
    }
}
