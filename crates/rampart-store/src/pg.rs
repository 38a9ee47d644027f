//! The PostgreSQL engine: any number of Rampart nodes on one database.
//!
//! Each node has one writer thread, like the embedded engine, and its transactions commit in
//! groups. A group is one PostgreSQL transaction that first takes a cluster-wide advisory lock, so
//! transactions run one at a time across every node (the store's guarantee), and each sees every
//! write committed before it. Inside a group a transaction's writes are buffered in memory (a
//! [`Layer`] over its group's), so that only reads go to the database while it runs; the group's
//! writes are sent in a few array statements at its end. Reads outside transactions go to a few
//! reader connections.
//!
//! Every group that wrote keys records them in `rampart_changes` and notifies the other nodes
//! (LISTEN/NOTIFY, with polling behind it), which forget those keys from their read caches. A
//! node whose notification connection is down does not cache at all. Background work takes a
//! named lease, a session advisory lock on that connection: when a node dies its session ends
//! and another node takes the lease.
//!
//! tokio-postgres is the client (see `notes/crates.md`: small, pipelined, binary protocol, speaks
//! to PostgreSQL and its compatible engines); it runs on a runtime of its own, because the
//! store's interface is synchronous and its callers are often the server runtime's own threads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};
use zeroize::Zeroizing;

use crate::cache::ReadCache;
use crate::db::Backend;
use crate::group::{self, Job, Ran, WriterThread};
use crate::{Bounds, KeyValue, LogEntry, StoreError};

/// The schema this build writes; `rampart_schema` records the database's.
pub const SCHEMA_VERSION: i32 = 1;
/// Migrations by the version they lead to (index 0 leads to version 1).
const MIGRATIONS: &[&str] = &["CREATE TABLE rampart_kv (k bytea PRIMARY KEY, v bytea NOT NULL);
     CREATE TABLE rampart_log (t bigint PRIMARY KEY, v bytea NOT NULL);
     CREATE TABLE rampart_changes (seq bigserial PRIMARY KEY, node uuid NOT NULL,
         at timestamptz NOT NULL DEFAULT now(), keys bytea[] NOT NULL, wiped boolean NOT NULL);"];
/// The oldest PostgreSQL this engine supports (the oldest major version its project supports).
const MIN_SERVER_VERSION: i32 = 14_00_00;

/// Advisory lock keys (64-bit, in a namespace of Rampart's own): the writers' lock, held by one
/// group at a time, and the migrations' lock.
const WRITE_LOCK: i64 = 0x5241_4d50_5752_4954; // "RAMPWRIT"
const MIGRATE_LOCK: i64 = 0x5241_4d50_4d49_4752; // "RAMPMIGR"

const READERS: usize = 4;
/// Longest a statement may take before the node gives the database up as unreachable.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a node looks for other nodes' changes when no notification came.
const POLL: Duration = Duration::from_millis(250);
/// Changes older than this are pruned; a node that was away longer forgets its whole cache.
const CHANGES_KEPT_SECS: i64 = 600;
const CHANNEL: &str = "rampart_changes";

/// How a node reaches its database, beside the URL.
#[derive(Default, Clone)]
pub struct PgOptions {
    /// The password, when it is not in the URL (from a file or the environment).
    pub password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions").field("password", &self.password.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// What TLS to the database checks, as libpq's `sslmode` names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TlsMode {
    Disable,
    /// `prefer` and `require`: encrypted, the certificate not checked (libpq's meaning).
    Unverified,
    /// `verify-ca`: the chain is checked, not the host name.
    VerifyCa,
    VerifyFull,
}

/// A parsed connection string.
struct Settings {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

/// Splits libpq's `sslmode` and `sslrootcert`, which tokio-postgres does not take in full, from
/// the rest of a URL's query or a key=value string.
fn split_tls_params(url: &str) -> Result<(String, Option<String>, Option<String>), StoreError> {
    let take = |k: &str, v: &str, mode: &mut Option<String>, root: &mut Option<String>| match k {
        "sslmode" => {
            *mode = Some(v.to_owned());
            true
        }
        "sslrootcert" => {
            *root = Some(v.to_owned());
            true
        }
        _ => false,
    };
    let (mut mode, mut root) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None, None)) };
        let mut kept = Vec::new();
        for part in query.split('&') {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
            if !take(k, &v, &mut mode, &mut root) {
                kept.push(part);
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        Ok((rest, mode, root))
    } else {
        let mut kept = Vec::new();
        for part in url.split_whitespace() {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if !take(k.trim(), v.trim_matches('\''), &mut mode, &mut root) {
                kept.push(part);
            }
        }
        Ok((kept.join(" "), mode, root))
    }
}

/// Checks a PostgreSQL URL (or key=value string) as a node would read it, without connecting:
/// for configuration checks before anything starts.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    parse_url(url).map(drop)
}

/// A URL's settings and TLS mode (and the file of trusted roots, if named): pure.
fn parse_url(url: &str) -> Result<(tokio_postgres::Config, TlsMode, Option<String>), StoreError> {
    let (rest, mode, root) = split_tls_params(url)?;
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|e| StoreError::Config(format!("the store's PostgreSQL URL is not valid: {e}")))?;
    let mode = match mode.as_deref() {
        None | Some("prefer" | "require" | "allow") => {
            if mode.is_none() || mode.as_deref() == Some("allow") {
                config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
            } else {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
            }
            TlsMode::Unverified
        }
        Some("disable") => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            TlsMode::Disable
        }
        Some("verify-ca") => TlsMode::VerifyCa,
        Some("verify-full") => TlsMode::VerifyFull,
        Some(other) => {
            return Err(StoreError::Config(format!(
                "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    Ok((config, mode, root))
}

/// A URL with any password replaced by `***` (`postgres://user:***@host/db`, or `password=***` in
/// a key=value string), for logs and errors; any scheme, so that a mistyped one is redacted too.
pub fn redact_url(url: &str) -> String {
    // Any URL (a mistyped scheme too): its userinfo's password and a password parameter go.
    let url_form = url.split_once("://").filter(|(scheme, _)| {
        !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if let Some((scheme, rest)) = url_form {
        let scheme = format!("{scheme}://");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let mut tail = tail.to_owned();
        // A password may also be a query parameter.
        if let Some((path, query)) = tail.clone().split_once('?') {
            let parts: Vec<String> = query
                .split('&')
                .map(|p| if p.starts_with("password=") { "password=***".to_owned() } else { p.to_owned() })
                .collect();
            tail = format!("{path}?{}", parts.join("&"));
        }
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return format!("{scheme}{user}:***@{host}{tail}");
        }
        return format!("{scheme}{authority}{tail}");
    }
    redact_key_value(url)
}

/// libpq's key=value form with the password's value (quoted with spaces, or not) replaced.
fn redact_key_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("password") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        // Only the key itself: at the start or after white space, then `=` (spaces allowed).
        let at_key = before.is_empty() || before.ends_with(char::is_whitespace);
        let after_key = from.get("password".len()..).unwrap_or_default();
        let value = after_key.trim_start();
        match value.strip_prefix('=') {
            Some(v) if at_key => {
                out.push_str("password=***");
                let v = v.trim_start();
                // A quoted value ends at the next quote not escaped by a backslash.
                let end = if let Some(q) = v.strip_prefix('\'') {
                    let mut escaped = false;
                    q.char_indices()
                        .find(|&(_, c)| {
                            let close = c == '\'' && !escaped;
                            escaped = c == '\\' && !escaped;
                            close
                        })
                        .map_or(v.len(), |(j, _)| j + 2)
                } else {
                    v.find(char::is_whitespace).unwrap_or(v.len())
                };
                rest = v.get(end..).unwrap_or_default();
            }
            _ => {
                out.push_str("password");
                rest = after_key;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Settings {
    fn parse(url: &str, options: &PgOptions) -> Result<Self, StoreError> {
        let (mut config, mode, root) = parse_url(url)?;
        if let Some(pw) = &options.password {
            config.password(pw.as_bytes());
        }
        if config.get_application_name().is_none() {
            config.application_name("rampart");
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let tls = match mode {
            TlsMode::Disable => None,
            _ => {
                Some(tokio_postgres_rustls::MakeRustlsConnect::new(tls::client_config(mode, root.map(PathBuf::from))?))
            }
        };
        Ok(Self { config, tls })
    }

    /// Connects; the connection is driven by a task on the current runtime, which forwards
    /// notifications to `notices` when given.
    async fn connect(&self, notices: Option<tokio::sync::mpsc::UnboundedSender<()>>) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            None => {
                let (client, conn) = timed(self.config.connect(NoTls)).await?;
                tokio::spawn(drive(conn, notices));
                client
            }
            Some(tls) => {
                let (client, conn) = timed(self.config.connect(tls.clone())).await?;
                tokio::spawn(drive(conn, notices));
                client
            }
        };
        Ok(connected)
    }
}

/// Polls a connection until it closes, forwarding notifications.
async fn drive<S, T>(
    mut conn: tokio_postgres::Connection<S, T>,
    notices: Option<tokio::sync::mpsc::UnboundedSender<()>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(_))) => {
                if let Some(n) = &notices {
                    let _ = n.send(());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "store: the database connection failed");
                return;
            }
            None => return,
        }
    }
}

mod tls {
    //! TLS to the database with rustls, checked as libpq's `sslmode` says.

    use std::path::PathBuf;
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

    use super::TlsMode;
    use crate::StoreError;

    fn err(what: impl std::fmt::Display) -> StoreError {
        StoreError::Config(format!("TLS to the database: {what}"))
    }

    pub(super) fn client_config(mode: TlsMode, root: Option<PathBuf>) -> Result<rustls::ClientConfig, StoreError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(err)?;
        let chain = match mode {
            TlsMode::Disable | TlsMode::Unverified => None,
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let mut roots = rustls::RootCertStore::empty();
                match root {
                    Some(path) => {
                        let pem = std::fs::read(&path).map_err(|e| err(format!("reading {}: {e}", path.display())))?;
                        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                            let cert: CertificateDer<'static> = cert.map_err(err)?;
                            roots.add(cert).map_err(err)?;
                        }
                    }
                    None => {
                        for cert in rustls_native_certs::load_native_certs().certs {
                            let _ = roots.add(cert);
                        }
                    }
                }
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(err)?,
                )
            }
        };
        let verifier = Arc::new(Verifier { provider, chain, host_name: mode == TlsMode::VerifyFull });
        Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
    }

    /// The server's certificate, checked as the mode says: not at all for `prefer` and `require`
    /// (libpq's meaning: the channel is encrypted, and the handshake's signatures are still
    /// checked, so the session is with the key the certificate names); the chain against the roots
    /// for `verify-ca`; the host name too for `verify-full`.
    #[derive(Debug)]
    struct Verifier {
        provider: Arc<rustls::crypto::CryptoProvider>,
        chain: Option<Arc<WebPkiServerVerifier>>,
        host_name: bool,
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
            match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
                | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }))
                    if !self.host_name =>
                {
                    Ok(ServerCertVerified::assertion())
                }
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// A database error, told apart: a lost or unreachable database is `Unavailable` (the client
/// gets a 503 and may retry), anything else is the store's failure.
fn db_err(e: tokio_postgres::Error) -> StoreError {
    // SQLSTATE classes 08 (connection exception) and 57 (operator intervention: the server is
    // shutting down, restarting or refusing connections), and too_many_connections.
    let gone = e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("08") || c.starts_with("57") || c == "53300"
    });
    if gone || e.is_closed() || e.as_db_error().is_none() && e.code().is_none() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Postgres(e)
    }
}

async fn timed<T>(f: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, StoreError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(db_err),
        Err(_) => Err(StoreError::Unavailable(format!("no answer from the database in {} s", OP_TIMEOUT.as_secs()))),
    }
}

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    fn new(client: Client) -> Self {
        Self { client, statements: Mutex::default() }
    }

    async fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(st) = self.statements.lock().ok().and_then(|m| m.get(sql).cloned()) {
            return Ok(st);
        }
        let st = timed(self.client.prepare(sql)).await?;
        if let Ok(mut m) = self.statements.lock() {
            m.insert(sql.to_owned(), st.clone());
        }
        Ok(st)
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let st = self.statement(sql).await?;
        timed(self.client.query(&st, params)).await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let st = self.statement(sql).await?;
        timed(self.client.execute(&st, params)).await
    }
}

/// A reconnecting connection slot.
#[derive(Default)]
struct Slot(tokio::sync::Mutex<Option<Arc<Conn>>>);

impl Slot {
    async fn conn(&self, settings: &Settings) -> Result<Arc<Conn>, StoreError> {
        let mut held = self.0.lock().await;
        if let Some(c) = held.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(c.clone());
        }
        let c = Arc::new(Conn::new(settings.connect(None).await?));
        *held = Some(c.clone());
        Ok(c)
    }
}

const GET: &str = "SELECT v FROM rampart_kv WHERE k = $1";

fn scan_sql(bounds: &Bounds, reverse: bool) -> String {
    let lo_op = if bounds.lo_inclusive { ">=" } else { ">" };
    let order = if reverse { "DESC" } else { "ASC" };
    match bounds.hi {
        Some(_) => format!("SELECT k, v FROM rampart_kv WHERE k {lo_op} $1 AND k < $2 ORDER BY k {order} LIMIT $3"),
        None => format!("SELECT k, v FROM rampart_kv WHERE k {lo_op} $1 ORDER BY k {order} LIMIT $2"),
    }
}

async fn scan(conn: &Conn, bounds: &Bounds, limit: usize, reverse: bool) -> Result<Vec<KeyValue>, StoreError> {
    let sql = scan_sql(bounds, reverse);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match &bounds.hi {
        Some(hi) => conn.query(&sql, &[&bounds.lo, hi, &limit]).await?,
        None => conn.query(&sql, &[&bounds.lo, &limit]).await?,
    };
    rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect()
}

async fn log_rows(conn: &Conn, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
    let sql = if reverse {
        "SELECT t, v FROM rampart_log WHERE t >= $1 AND t <= $2 ORDER BY t DESC LIMIT $3"
    } else {
        "SELECT t, v FROM rampart_log WHERE t >= $1 AND t <= $2 ORDER BY t ASC LIMIT $3"
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn.query(sql, &[&from, &to, &limit]).await?;
    rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect()
}

/// Positions taken in the log from `from` to `to`, ascending.
async fn log_taken(conn: &Conn, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
    let rows = conn.query("SELECT t FROM rampart_log WHERE t >= $1 AND t <= $2 ORDER BY t", &[&from, &to]).await?;
    rows.iter().map(|r| r.try_get(0).map_err(db_err)).collect()
}

/// What the engine's threads and tasks share.
struct Shared {
    settings: Settings,
    cache: Arc<ReadCache>,
    node: uuid::Uuid,
    /// Leases asked for, and those this node holds.
    leases: Mutex<(HashSet<&'static str>, HashSet<&'static str>)>,
}

/// The engine's runtime, shut down without waiting wherever it is dropped (a runtime dropped the
/// ordinary way inside another one's task panics).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub(crate) struct PgEngine {
    runtime: Mutex<OwnRuntime>,
    handle: Handle,
    shared: Arc<Shared>,
    readers: Arc<Vec<Slot>>,
    next_reader: AtomicUsize,
    writer: WriterThread,
    stop: tokio::sync::watch::Sender<bool>,
}

impl PgEngine {
    pub(crate) fn open(url: &str, options: &PgOptions, cache: Arc<ReadCache>) -> Result<Self, StoreError> {
        let settings = Settings::parse(url, options)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rampart-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Writer(e.to_string()))?;
        let handle = runtime.handle().clone();
        let runtime = OwnRuntime(Some(runtime));
        // Nothing is cached until this node follows the other nodes' changes.
        cache.set_enabled(false);
        let shared = Arc::new(Shared { settings, cache, node: uuid::Uuid::new_v4(), leases: Mutex::default() });
        // The writer: a thread with a runtime and a connection of its own, so that each of its
        // statements is sent and answered on that one thread. It migrates the schema first.
        let (writer_ready, writer_started) = mpsc::sync_channel::<Result<(), StoreError>>(1);
        let writer_shared = shared.clone();
        let writer = WriterThread::spawn(move |rx| {
            let started = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Writer(e.to_string()))
                .and_then(|rt| {
                    let conn = rt.block_on(async {
                        let client = writer_shared.settings.connect(None).await?;
                        migrate(&client).await?;
                        Ok::<_, StoreError>(Conn::new(client))
                    })?;
                    Ok((rt, conn))
                });
            let (rt, conn) = match started {
                Ok(s) => s,
                Err(e) => {
                    let _ = writer_ready.send(Err(e));
                    return;
                }
            };
            let _ = writer_ready.send(Ok(()));
            let mut w = PgWriter { rt, shared: writer_shared, conn: Some(Arc::new(conn)) };
            while let Some((jobs, closing)) = group::gather(&rx) {
                if !jobs.is_empty() {
                    w.commit_group(jobs);
                }
                if closing {
                    break;
                }
            }
            let rest = group::drain(&rx);
            if !rest.is_empty() {
                w.commit_group(rest);
            }
        })?;
        writer_started.recv().map_err(|_| StoreError::Writer("the store's writer did not start".into()))??;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), StoreError>>(1);
        handle.spawn(follow(shared.clone(), stopped, ready_tx));
        ready_rx
            .recv_timeout(OP_TIMEOUT)
            .map_err(|_| StoreError::Unavailable("the database's notifications did not start".into()))??;
        Ok(Self {
            runtime: Mutex::new(runtime),
            handle,
            shared,
            readers: Arc::new((0..READERS).map(|_| Slot::default()).collect()),
            next_reader: AtomicUsize::new(0),
            writer,
            stop,
        })
    }

    /// Runs a read on a reader connection; the calling thread waits for it (it may be one of the
    /// server runtime's threads, so the read runs on this engine's runtime).
    fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Conn>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let readers = self.readers.clone();
        let shared = self.shared.clone();
        let n = self.next_reader.fetch_add(1, Ordering::Relaxed) % READERS;
        on(&self.handle, async move {
            let slot = readers.get(n).ok_or(StoreError::Closed)?;
            f(slot.conn(&shared.settings).await?).await
        })
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_vec();
        self.read(move |c| async move {
            let rows = c.query(GET, &[&key]).await?;
            rows.first().map(|r| r.try_get(0).map_err(db_err)).transpose()
        })
    }

    pub(crate) fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let bounds = Bounds::of(prefix, after, reverse);
        self.read(move |c| async move { scan(&c, &bounds, limit, reverse).await })
    }

    pub(crate) fn log_range(
        &self,
        from: i64,
        to: i64,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.read(move |c| async move { log_rows(&c, from, to, limit, reverse).await })
    }

    pub(crate) fn log_get_many(&self, positions: &[i64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let wanted = positions.to_vec();
        let found: HashMap<i64, Vec<u8>> = self.read(move |c| async move {
            let rows = c.query("SELECT t, v FROM rampart_log WHERE t = ANY($1)", &[&wanted]).await?;
            rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect()
        })?;
        Ok(positions.iter().map(|t| found.get(t).cloned()).collect())
    }

    pub(crate) fn lease(&self, name: &'static str) -> bool {
        let Ok(mut leases) = self.shared.leases.lock() else { return false };
        leases.0.insert(name);
        leases.1.contains(name)
    }

    pub(crate) fn held_leases(&self) -> Vec<&'static str> {
        let mut held: Vec<&'static str> =
            self.shared.leases.lock().map(|l| l.1.iter().copied().collect()).unwrap_or_default();
        held.sort_unstable();
        held
    }

    pub(crate) fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.writer.submit(job)
    }

    pub(crate) fn close(&self) {
        self.writer.close();
        let _ = self.stop.send(true);
        if let Some(rt) = self.runtime.lock().ok().and_then(|mut r| r.0.take()) {
            rt.shutdown_background();
        }
    }
}

impl Drop for PgEngine {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs `f` on the engine's runtime and waits for it on this thread.
fn on<T: Send + 'static>(
    handle: &Handle,
    f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| StoreError::Closed)?
}

/// Creates or migrates the schema, one node at a time; refuses a database of an unsupported
/// PostgreSQL version or of a newer Rampart schema.
async fn migrate(client: &Client) -> Result<(), StoreError> {
    let version: String = timed(client.query_one("SHOW server_version_num", &[])).await?.try_get(0).map_err(db_err)?;
    let version: i32 = version.parse().unwrap_or(0);
    if version < MIN_SERVER_VERSION {
        return Err(StoreError::Config(format!(
            "the database is PostgreSQL {}.{}; Rampart needs {} or newer",
            version / 10_000,
            version % 10_000,
            MIN_SERVER_VERSION / 10_000
        )));
    }
    timed(client.batch_execute(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({MIGRATE_LOCK});
         CREATE TABLE IF NOT EXISTS rampart_schema (one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL);"
    )))
    .await?;
    let result = async {
        let at: i32 = match timed(client.query_opt("SELECT version FROM rampart_schema", &[])).await? {
            Some(row) => row.try_get(0).map_err(db_err)?,
            None => 0,
        };
        if at > SCHEMA_VERSION {
            return Err(StoreError::Config(format!(
                "the database holds Rampart's schema version {at}, newer than this build's ({SCHEMA_VERSION}): \
                 upgrade this node to the version the other nodes run"
            )));
        }
        let from = usize::try_from(at).unwrap_or(0);
        for (i, step) in MIGRATIONS.iter().enumerate().skip(from) {
            timed(client.batch_execute(step)).await?;
            let to = i32::try_from(i + 1).unwrap_or(i32::MAX);
            timed(client.execute(
                "INSERT INTO rampart_schema (version) VALUES ($1) ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                &[&to],
            ))
            .await?;
            tracing::info!(version = to, "store: database schema migrated");
        }
        Ok(())
    }
    .await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    timed(client.batch_execute(end)).await?;
    result
}

/// Follows the other nodes' changes and holds this node's leases, on a connection of its own,
/// reconnecting until the engine stops. `ready` hears of the first connection.
async fn follow(
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    ready: mpsc::SyncSender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    loop {
        let result = tokio::select! {
            r = follow_once(&shared, &mut ready) => r,
            _ = stop.changed() => return,
        };
        // The connection is gone: so are its leases, and news of changes.
        shared.cache.set_enabled(false);
        if let Ok(mut l) = shared.leases.lock() {
            l.1.clear();
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "store: lost the database's change notifications; reconnecting");
            if let Some(r) = ready.take() {
                let _ = r.send(Err(e));
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn follow_once(
    shared: &Shared,
    ready: &mut Option<mpsc::SyncSender<Result<(), StoreError>>>,
) -> Result<(), StoreError> {
    let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel();
    let conn = Conn::new(shared.settings.connect(Some(ntx)).await?);
    timed(conn.client.batch_execute(&format!("LISTEN {CHANNEL}"))).await?;
    let mut last: i64 = conn
        .query("SELECT coalesce(max(seq), 0) FROM rampart_changes", &[])
        .await?
        .first()
        .map_or(Ok(0), |r| r.try_get(0).map_err(db_err))?;
    // Whatever was cached before may have changed meanwhile.
    shared.cache.invalidate(std::iter::empty(), true);
    shared.cache.set_enabled(true);
    if let Some(r) = ready.take() {
        let _ = r.send(Ok(()));
    }
    let mut prune = tokio::time::Instant::now();
    loop {
        tokio::select! {
            n = nrx.recv() => if n.is_none() { return Err(StoreError::Unavailable("the notification connection closed".into())) },
            () = tokio::time::sleep(POLL) => {}
        }
        while nrx.try_recv().is_ok() {}
        let rows = conn
            .query("SELECT seq, node, keys, wiped FROM rampart_changes WHERE seq > $1 ORDER BY seq", &[&last])
            .await?;
        for row in &rows {
            let seq: i64 = row.try_get(0).map_err(db_err)?;
            let node: uuid::Uuid = row.try_get(1).map_err(db_err)?;
            if node != shared.node {
                let keys: Vec<Vec<u8>> = row.try_get(2).map_err(db_err)?;
                shared.cache.invalidate(keys.iter(), row.try_get(3).map_err(db_err)?);
            }
            last = seq;
        }
        let wanted: Vec<&'static str> = match shared.leases.lock() {
            Ok(l) => l.0.difference(&l.1).copied().collect(),
            Err(_) => Vec::new(),
        };
        for name in wanted {
            let got: bool = conn
                .query("SELECT pg_try_advisory_lock($1)", &[&lease_key(name)])
                .await?
                .first()
                .map_or(Ok(false), |r| r.try_get(0).map_err(db_err))?;
            if got && let Ok(mut l) = shared.leases.lock() {
                l.1.insert(name);
            }
        }
        let holds_prune = shared.leases.lock().is_ok_and(|mut l| {
            l.0.insert("store-changes");
            l.1.contains("store-changes")
        });
        if holds_prune && prune.elapsed() > Duration::from_secs(60) {
            prune = tokio::time::Instant::now();
            timed(conn.client.batch_execute(&format!(
                "DELETE FROM rampart_changes WHERE at < now() - interval '{CHANGES_KEPT_SECS} seconds'"
            )))
            .await?;
        }
    }
}

/// A lease's advisory lock key: FNV-1a of its name, in Rampart's namespace.
fn lease_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"rampart-lease/".iter().chain(name.as_bytes()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Writes buffered over what is below them: a transaction's over its group's, its group's over
/// the database.
#[derive(Default)]
struct Layer {
    /// Everything below is gone (`delete_all`).
    wiped: bool,
    /// Keys written (`None`: deleted).
    kv: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Log entries at or before this position below this layer are deleted.
    log_cut: Option<i64>,
    log: BTreeMap<i64, Vec<u8>>,
}

impl Layer {
    /// Puts `top` (a committed transaction's layer) over this one.
    fn absorb(&mut self, top: Layer) {
        if top.wiped {
            *self = top;
            return;
        }
        if let Some(cut) = top.log_cut {
            self.log.retain(|t, _| *t > cut);
            self.log_cut = Some(self.log_cut.map_or(cut, |c| c.max(cut)));
        }
        self.kv.extend(top.kv);
        self.log.extend(top.log);
    }
}

/// The writer thread's state: its own single-threaded runtime drives its connection and its
/// statements, with no hand-off to another thread per statement.
struct PgWriter {
    rt: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    conn: Option<Arc<Conn>>,
}

impl PgWriter {
    fn block<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.rt.block_on(f)
    }

    fn connection(&mut self) -> Result<Arc<Conn>, StoreError> {
        if let Some(c) = self.conn.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok(c.clone());
        }
        self.conn = None;
        let shared = self.shared.clone();
        let c = Arc::new(Conn::new(self.block(async move { shared.settings.connect(None).await })?));
        self.conn = Some(c.clone());
        Ok(c)
    }

    fn commit_group(&mut self, jobs: Vec<Job>) {
        // One round trip: the transaction, the writers' lock, and where the log ends under it.
        let begun = self.connection().and_then(|c| {
            let sql = format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK}); SELECT max(t) FROM rampart_log");
            let messages = self.block(timed(c.client.simple_query(&sql)))?;
            let log_max = messages
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                    _ => None,
                })
                .last()
                .and_then(|r| r.get(0))
                .map(|v| v.parse::<i64>().map_err(|e| StoreError::Writer(format!("the log's end: {e}"))))
                .transpose()?;
            Ok((c, log_max))
        });
        let (conn, broken, log_max) = match begun {
            Ok((c, max)) => (Some(c), None, Some(max)),
            Err(e) => {
                tracing::error!(error = %e, "store: cannot begin a transaction");
                self.conn = None;
                (None, Some(e.to_string()), None)
            }
        };
        let mut work = PgWork {
            rt: &self.rt,
            conn: conn.as_deref(),
            group: Layer::default(),
            job: Layer::default(),
            broken: std::cell::RefCell::new(broken),
            log_max: std::cell::Cell::new(log_max),
        };
        let mut later = Vec::new();
        let mut ran = Vec::new();
        for job in jobs {
            match job {
                Job::Run { run, .. } => ran.extend(group::run_job(run, &mut work)),
                Job::LogLater { at, value } => later.push((at, value)),
            }
        }
        let written: Vec<&Vec<u8>> = ran.iter().flat_map(|r| r.written.iter()).collect();
        let wiped = ran.iter().any(|r| r.wiped);
        let outcome = match (&conn, work.broken.take()) {
            (Some(c), None) => {
                let node = self.shared.node;
                let group = std::mem::take(&mut work.group);
                let log_max = work.log_max.get();
                self.block(flush(c, group, later, log_max, &written, wiped, node))
            }
            (_, Some(e)) => Err(StoreError::Unavailable(e)),
            (None, None) => Err(StoreError::Closed),
        };
        let outcome = match (outcome, &conn) {
            (Ok(()), _) => Ok(()),
            (Err(e), Some(c)) => {
                let _ = self.block(timed(c.client.batch_execute("ROLLBACK")));
                Err(e)
            }
            (Err(e), None) => Err(e),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "store: a group of transactions failed to commit");
            if matches!(e, StoreError::Unavailable(_)) {
                self.conn = None;
            }
        }
        // INVARIANT: the cache forgets every written key before any writer hears of its commit.
        // Also when the commit failed: a connection lost during COMMIT leaves it unknown whether
        // the database committed, and this node never hears of its own changes again.
        self.shared.cache.invalidate(written.iter().copied(), wiped);
        let message = outcome.as_ref().err().map(ToString::to_string);
        let unavailable = matches!(outcome, Err(StoreError::Unavailable(_)));
        for Ran { done, .. } in ran {
            done(match &message {
                None => Ok(()),
                Some(m) if unavailable => Err(StoreError::Unavailable(m.clone())),
                Some(m) => Err(StoreError::Writer(m.clone())),
            });
        }
    }
}

/// Sends a group's writes and commits them: the log's cuts and the keys' deletions first, then
/// upserts, the log's appends (queued ones placed at the first free positions at or after their
/// own), and the record of written keys that tells the other nodes.
async fn flush(
    conn: &Conn,
    group: Layer,
    mut later: Vec<LogEntry>,
    log_max: Option<Option<i64>>,
    written: &[&Vec<u8>],
    wiped: bool,
    node: uuid::Uuid,
) -> Result<(), StoreError> {
    // Where queued appends may land, before this group's own writes are sent.
    later.sort_by_key(|a| a.0);
    let mut taken: Vec<i64> = Vec::new();
    let (first, horizon) = match (later.first(), later.last()) {
        (Some(f), Some(l)) => (f.0, l.0.saturating_add(i64::try_from(later.len()).unwrap_or(i64::MAX))),
        _ => (0, -1),
    };
    // Known to end before the first of them (read under the lock this group holds): nothing to look at.
    let all_after = log_max.is_some_and(|max| max.is_none_or(|m| m < first));
    if !later.is_empty() && !group.wiped && !all_after {
        taken = log_taken(conn, first, horizon).await?;
        if let Some(cut) = group.log_cut {
            taken.retain(|t| *t > cut);
        }
    }
    if group.wiped {
        timed(conn.client.batch_execute("DELETE FROM rampart_kv; DELETE FROM rampart_log;")).await?;
    } else if let Some(cut) = group.log_cut {
        conn.execute("DELETE FROM rampart_log WHERE t <= $1", &[&cut]).await?;
    }
    let (mut put_k, mut put_v, mut del) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in &group.kv {
        match v {
            Some(v) => {
                put_k.push(k.as_slice());
                put_v.push(v.as_slice());
            }
            None => del.push(k.as_slice()),
        }
    }
    let mut log = group.log;
    let mut prev = i64::MIN;
    for (at, value) in later {
        let mut t = at.max(prev.saturating_add(1));
        loop {
            let in_db = if t <= horizon || all_after {
                taken.binary_search(&t).is_ok()
            } else {
                !group.wiped && group.log_cut.is_none_or(|c| t > c) && !log_taken(conn, t, t).await?.is_empty()
            };
            if !in_db && !log.contains_key(&t) {
                break;
            }
            t = t.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
        }
        log.insert(t, value);
        prev = t;
    }
    let (ts, vs): (Vec<i64>, Vec<&[u8]>) = log.iter().map(|(t, v)| (*t, v.as_slice())).unzip();
    let keys: Vec<&[u8]> = written.iter().map(|k| k.as_slice()).collect();
    // The statements go out together (tokio-postgres pipelines them on the connection), in this
    // order; the commit is sent only once every one has succeeded.
    let deleted = async {
        if !del.is_empty() {
            conn.execute("DELETE FROM rampart_kv WHERE k = ANY($1)", &[&del]).await?;
        }
        Ok::<_, StoreError>(())
    };
    let upserted = async {
        if !put_k.is_empty() {
            conn.execute(
                "INSERT INTO rampart_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[])
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                &[&put_k, &put_v],
            )
            .await?;
        }
        Ok(())
    };
    let appended = async {
        if !ts.is_empty() {
            conn.execute("INSERT INTO rampart_log (t, v) SELECT * FROM unnest($1::int8[], $2::bytea[])", &[&ts, &vs])
                .await?;
        }
        Ok(())
    };
    let noticed = async {
        if !keys.is_empty() || wiped {
            conn.execute(
                "WITH c AS (INSERT INTO rampart_changes (node, keys, wiped) VALUES ($1, $2, $3) RETURNING seq)
                 SELECT pg_notify('rampart_changes', seq::text) FROM c",
                &[&node, &keys, &wiped],
            )
            .await?;
        }
        Ok(())
    };
    tokio::try_join!(deleted, upserted, appended, noticed)?;
    timed(conn.client.batch_execute("COMMIT")).await
}

/// One transaction inside its group: its writes buffered in `job`, over the group's.
struct PgWork<'w> {
    rt: &'w tokio::runtime::Runtime,
    conn: Option<&'w Conn>,
    group: Layer,
    job: Layer,
    /// The group's first failure at the database (which aborts its transaction): every later
    /// statement fails the same way, and the group does not commit.
    broken: std::cell::RefCell<Option<String>>,
    /// The newest position in the database's log, read once a group under the writers' lock (so
    /// it holds for the whole group; `Some(None)`: the log is empty): an append after it needs no
    /// look at the database.
    log_max: std::cell::Cell<Option<Option<i64>>>,
}

impl PgWork<'_> {
    fn db<T>(&self, f: impl AsyncFnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.check()?;
        let conn = self.conn.ok_or(StoreError::Closed)?;
        let r = self.rt.block_on(f(conn));
        if let Err(e) = &r {
            self.broken.replace(Some(e.to_string()));
        }
        r
    }

    fn db_log_max(&self) -> Result<Option<i64>, StoreError> {
        if let Some(m) = self.log_max.get() {
            return Ok(m);
        }
        let m = self.db(async |c| {
            let rows = c.query("SELECT max(t) FROM rampart_log", &[]).await?;
            rows.first().map_or(Ok(None), |r| r.try_get::<_, Option<i64>>(0).map_err(db_err))
        })?;
        self.log_max.set(Some(m));
        Ok(m)
    }

    fn check(&self) -> Result<(), StoreError> {
        match &*self.broken.borrow() {
            Some(e) => Err(StoreError::Unavailable(e.clone())),
            None => Ok(()),
        }
    }

    /// Whether the database's keys and log show through the layers.
    fn db_visible(&self) -> bool {
        !self.job.wiped && !self.group.wiped
    }

    /// Log positions at or before this are deleted below the job's own entries.
    fn cut(&self) -> Option<i64> {
        match (self.job.log_cut, self.group.log_cut) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The group's log entries the job sees.
    fn group_log(&self, from: i64, to: i64) -> impl Iterator<Item = (&i64, &Vec<u8>)> {
        let hidden = self.job.wiped;
        let cut = self.job.log_cut;
        self.group.log.range(from..=to).filter(move |(t, _)| !hidden && cut.is_none_or(|c| **t > c))
    }

    fn buffered(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if let Some(v) = self.job.kv.get(key) {
            return Some(v.clone());
        }
        if self.job.wiped {
            return Some(None);
        }
        if let Some(v) = self.group.kv.get(key) {
            return Some(v.clone());
        }
        self.group.wiped.then_some(None)
    }
}

impl Backend for PgWork<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.buffered(key) {
            return Ok(v);
        }
        self.db(async |c| {
            let rows = c.query(GET, &[&key]).await?;
            rows.first().map(|r| r.try_get(0).map_err(db_err)).transpose()
        })
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.job.kv.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn insert_new(&mut self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        if self.get(key)?.is_some() {
            return Ok(false);
        }
        self.put(key, value)?;
        Ok(true)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        let existed = self.get(key)?.is_some();
        self.job.kv.insert(key.to_vec(), None);
        Ok(existed)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let bounds = Bounds::of(prefix, after, reverse);
        let range = (
            if bounds.lo_inclusive {
                Bound::Included(bounds.lo.as_slice())
            } else {
                Bound::Excluded(bounds.lo.as_slice())
            },
            bounds.hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        );
        let mut over: BTreeMap<&[u8], Option<&Vec<u8>>> = BTreeMap::new();
        if !self.job.wiped {
            over.extend(self.group.kv.range::<[u8], _>(range).map(|(k, v)| (k.as_slice(), v.as_ref())));
        }
        over.extend(self.job.kv.range::<[u8], _>(range).map(|(k, v)| (k.as_slice(), v.as_ref())));
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if self.db_visible() {
            // Deletions may hide rows the database returns: read that many more.
            let hidden = over.values().filter(|v| v.is_none()).count();
            let rows = self.db(async |c| scan(c, &bounds, limit.saturating_add(hidden), reverse).await)?;
            merged.extend(rows);
        }
        for (k, v) in over {
            match v {
                Some(v) => merged.insert(k.to_vec(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(if reverse {
            merged.into_iter().rev().take(limit).collect()
        } else {
            merged.into_iter().take(limit).collect()
        })
    }

    fn log_append(&mut self, at: i64, value: &[u8]) -> Result<i64, StoreError> {
        const WINDOW: i64 = 256;
        let cut = self.cut();
        let mut from = at;
        loop {
            let to = from.saturating_add(WINDOW - 1);
            let taken = if self.db_visible() && self.db_log_max()?.is_some_and(|max| max >= from) {
                self.db(async |c| log_taken(c, from, to).await)?
            } else {
                Vec::new()
            };
            let mut t = from;
            while t <= to {
                let in_db = cut.is_none_or(|c| t > c) && taken.binary_search(&t).is_ok();
                let in_group = self.group_log(t, t).next().is_some();
                if !in_db && !in_group && !self.job.log.contains_key(&t) {
                    self.job.log.insert(t, value.to_vec());
                    return Ok(t);
                }
                t = t.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
            }
            from = to.checked_add(1).ok_or_else(|| StoreError::Writer("the log is full".into()))?;
        }
    }

    fn log_range(&self, from: i64, to: i64, limit: usize, reverse: bool) -> Result<Vec<LogEntry>, StoreError> {
        let mut merged: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        if self.db_visible() {
            let from_db = self.cut().map_or(from, |c| from.max(c.saturating_add(1)));
            if from_db <= to {
                merged.extend(self.db(async |c| log_rows(c, from_db, to, limit, reverse).await)?);
            }
        }
        if from <= to {
            merged.extend(self.group_log(from, to).map(|(t, v)| (*t, v.clone())));
            merged.extend(self.job.log.range(from..=to).map(|(t, v)| (*t, v.clone())));
        }
        Ok(if reverse {
            merged.into_iter().rev().take(limit).collect()
        } else {
            merged.into_iter().take(limit).collect()
        })
    }

    fn log_delete_through(&mut self, to: i64) -> Result<usize, StoreError> {
        let mut n = 0usize;
        if self.db_visible() {
            let above = self.cut().unwrap_or(i64::MIN);
            if above < to {
                let counted = self.db(async |c| {
                    let rows =
                        c.query("SELECT count(*) FROM rampart_log WHERE t > $1 AND t <= $2", &[&above, &to]).await?;
                    rows.first().map_or(Ok(0), |r| r.try_get::<_, i64>(0).map_err(db_err))
                })?;
                n += usize::try_from(counted).unwrap_or(0);
            }
        }
        n += self.group_log(i64::MIN, to).count();
        n += self.job.log.range(..=to).count();
        self.job.log.retain(|t, _| *t > to);
        self.job.log_cut = Some(self.job.log_cut.map_or(to, |c| c.max(to)));
        Ok(n)
    }

    fn delete_all(&mut self) -> Result<(), StoreError> {
        self.job = Layer { wiped: true, ..Layer::default() };
        Ok(())
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        self.check()?;
        self.job = Layer::default();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if let Err(e) = self.check() {
            self.job = Layer::default();
            return Err(e);
        }
        let job = std::mem::take(&mut self.job);
        self.group.absorb(job);
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StoreError> {
        self.job = Layer::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_split_from_urls_and_key_value_strings() {
        let (rest, mode, root) =
            split_tls_params("postgres://u@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let (rest, mode, _) = split_tls_params("host=h sslmode=require dbname=d").unwrap();
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(mode.as_deref(), Some("require"));
        assert!(Settings::parse("postgres://h/db?sslmode=bogus", &PgOptions::default()).is_err());
    }

    #[test]
    fn a_committed_layer_replaces_or_extends_the_one_below() {
        let mut group = Layer::default();
        group.log.insert(5, b"a".to_vec());
        group.log.insert(9, b"b".to_vec());
        let top = Layer { log_cut: Some(6), ..Layer::default() };
        group.absorb(top);
        assert_eq!(group.log.keys().copied().collect::<Vec<_>>(), vec![9]);
        assert_eq!(group.log_cut, Some(6));
        let wiped = Layer { wiped: true, ..Layer::default() };
        group.absorb(wiped);
        assert!(group.wiped && group.log.is_empty() && group.log_cut.is_none());
    }

    #[test]
    fn lease_keys_differ_by_name() {
        assert_ne!(lease_key("trails"), lease_key("index"));
        assert_eq!(lease_key("trails"), lease_key("trails"));
    }
}
