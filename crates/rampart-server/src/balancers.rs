//! The listeners of load balancers created through the ELBv2 API, served: each recorded
//! listener gets a proxy on the server's balancer address at its port, started when it appears
//! and stopped when it goes; each target group a listener forwards to has its targets' health
//! checked as its settings say, and requests go round robin to its healthy targets (to all of
//! them when none is healthy, as an ALB fails open).
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html>.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_elb::health::{Checked, TargetState};
use rampart_elb::routing::{Condition, HealthCheck, Route};
use rampart_elb::{Record, Registered};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Db;
use tokio::sync::{mpsc, watch};

use crate::proxy::{self, Proxy, ProxyLimits, Upstream};

/// Which targets of each target group are healthy, by the last health checks.
#[derive(Default)]
pub(crate) struct Board(RwLock<HashMap<String, HashSet<SocketAddr>>>);

impl Board {
    fn healthy(&self, group: &str, target: &SocketAddr) -> bool {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(group).is_some_and(|h| h.contains(target))
    }

    fn set(&self, group: &str, target: SocketAddr, healthy: bool) {
        let mut board = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let set = board.entry(group.to_owned()).or_default();
        if healthy {
            set.insert(target);
        } else {
            set.remove(&target);
        }
    }
}

/// How a listener's load balancer treats `X-Forwarded-For`.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html#x-forwarded-for>.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Xff {
    Append,
    Preserve,
    Remove,
}

/// What the load balancer's and listener's attributes ask of the proxy.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `waf.fail_open.enabled`: forward when the web ACL cannot be enforced.
    pub fail_open: bool,
    pub xff: Xff,
    /// `routing.http.xff_client_port.enabled`.
    pub xff_port: bool,
    /// Response headers the listener adds.
    pub headers: Vec<(&'static str, String)>,
    /// `routing.http.response.server.enabled`: keep the upstream's `Server` header.
    pub server: bool,
}

/// A configured proxy's settings: an ALB's defaults.
pub(crate) static PLAIN: Settings =
    Settings { fail_open: false, xff: Xff::Append, xff_port: false, headers: Vec::new(), server: true };

/// A listener as last loaded: its route, the registered targets of the groups it forwards to,
/// its settings, and the records it came from, as they were.
pub(crate) struct Current {
    route: Option<Route>,
    /// The listener's rules by priority: conditions and route, tried before `route`.
    rules: Vec<(Vec<Condition>, Route)>,
    groups: HashMap<String, Vec<SocketAddr>>,
    pub settings: Settings,
    seen: rampart_store::ReadSet,
}

impl Current {
    fn fresh(&self, db: &Db) -> bool {
        self.seen.unchanged(db)
    }

    fn load(db: &Db, arn: &str) -> Current {
        let mut seen = rampart_store::ReadSet::default();
        let mut read = |arn: &str| -> Option<Record> {
            let key = rampart_elb::locate(arn)?.key;
            let bytes = seen.read(db, key).ok().flatten();
            serde_json::from_slice::<Record>(&bytes?).ok()
        };
        let listener = read(arn);
        let body = listener.as_ref().and_then(|l| l.body::<shapes::Listener>().ok());
        let balancer = body.as_ref().and_then(|b| read(b.load_balancer_arn.as_deref()?));
        let route = body.as_ref().and_then(rampart_elb::routing::route);
        let rules = listener.as_ref().map(rampart_elb::rules_of).unwrap_or_default();
        let mut groups = HashMap::new();
        let forwards = rules.iter().map(|(_, r)| r).chain(route.as_ref()).filter_map(|r| match r {
            Route::Forward(weighted) => Some(weighted),
            _ => None,
        });
        for weighted in forwards {
            for (arn, _) in weighted {
                if groups.contains_key(arn) {
                    continue;
                }
                let targets = read(arn)
                    .map(|g| {
                        g.targets
                            .iter()
                            .filter_map(|t| Some(SocketAddr::new(t.id.parse().ok()?, u16::try_from(t.port).ok()?)))
                            .collect()
                    })
                    .unwrap_or_default();
                groups.insert(arn.clone(), targets);
            }
        }
        let attribute = |r: &Option<Record>, key: &str| r.as_ref().and_then(|r| r.attributes.get(key).cloned());
        let (headers, server) = listener.as_ref().map(rampart_elb::response_headers).unwrap_or_default();
        let settings = Settings {
            fail_open: attribute(&balancer, "waf.fail_open.enabled").as_deref() == Some("true"),
            xff: match attribute(&balancer, "routing.http.xff_header_processing.mode").as_deref() {
                Some("preserve") => Xff::Preserve,
                Some("remove") => Xff::Remove,
                _ => Xff::Append,
            },
            xff_port: attribute(&balancer, "routing.http.xff_client_port.enabled").as_deref() == Some("true"),
            headers,
            server: server || listener.is_none(),
        };
        Current { route, rules, groups, settings, seen }
    }
}

/// Where a listener's requests go.
pub(crate) struct ListenerRoute {
    arn: String,
    board: Arc<Board>,
    current: Mutex<Option<Arc<Current>>>,
    turn: AtomicUsize,
    /// An HTTPS listener: a redirect's `#{protocol}` is `HTTPS`.
    https: bool,
}

/// What a listener does with one request.
pub(crate) enum Step {
    Forward(http::uri::Authority),
    Respond(proxy::ProxyResponse),
}

impl ListenerRoute {
    /// The listener as its records say now.
    pub(crate) fn current(&self, db: &Db) -> Arc<Current> {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = current.as_ref()
            && c.fresh(db)
        {
            return c.clone();
        }
        let loaded = Arc::new(Current::load(db, &self.arn));
        *current = Some(loaded.clone());
        loaded
    }

    /// Where a request goes: a target of a group chosen by weight (round robin over its healthy
    /// targets, over all when none is), or the listener's own response.
    pub(crate) fn step(&self, current: &Current, parts: &http::request::Parts, port: u16, client: IpAddr) -> Step {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(h, |(h, _)| h))
            .unwrap_or("localhost");
        // The first rule, by priority, whose conditions all hold; else the default actions.
        let route = if current.rules.is_empty() {
            current.route.as_ref()
        } else {
            let headers = |name: &str| -> Vec<String> {
                parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
            };
            let asked = rampart_elb::routing::Asked {
                host,
                path: parts.uri.path(),
                method: parts.method.as_str(),
                query: parts.uri.query().unwrap_or_default(),
                headers: &headers,
                source: client,
            };
            current
                .rules
                .iter()
                .find(|(conditions, _)| conditions.iter().all(|c| c.matches(&asked)))
                .map(|(_, r)| r)
                .or(current.route.as_ref())
        };
        match route {
            Some(Route::Forward(weighted)) => {
                let total: usize = weighted.iter().map(|(_, w)| *w as usize).sum();
                let mut at = if total == 0 { 0 } else { turn % total };
                let group = weighted.iter().find(|(_, w)| {
                    let w = *w as usize;
                    if at < w {
                        return true;
                    }
                    at -= w;
                    false
                });
                let Some((arn, _)) = group else { return Step::Respond(proxy::respond(503, "Service Unavailable")) };
                let registered = current.groups.get(arn).map(Vec::as_slice).unwrap_or_default();
                let healthy: Vec<&SocketAddr> = registered.iter().filter(|t| self.board.healthy(arn, t)).collect();
                let pool: Vec<&SocketAddr> = if healthy.is_empty() { registered.iter().collect() } else { healthy };
                match pool.get(turn / total.max(1) % pool.len().max(1)) {
                    Some(target) => match http::uri::Authority::try_from(target.to_string()) {
                        Ok(a) => Step::Forward(a),
                        Err(_) => Step::Respond(proxy::respond(503, "Service Unavailable")),
                    },
                    // No target is registered: 503, as an ALB answers.
                    None => Step::Respond(proxy::respond(503, "Service Unavailable")),
                }
            }
            Some(Route::Fixed { status, content_type, body }) => {
                let mut r = proxy::respond_owned(*status, body.clone());
                if let Some(v) = content_type.as_deref().and_then(|t| http::HeaderValue::from_str(t).ok()) {
                    r.headers_mut().insert(http::header::CONTENT_TYPE, v);
                }
                Step::Respond(r)
            }
            Some(Route::Redirect { status, config }) => {
                let incoming = rampart_elb::routing::Incoming {
                    protocol: if self.https { "HTTPS" } else { "HTTP" },
                    host,
                    port,
                    path: parts.uri.path(),
                    query: parts.uri.query().unwrap_or_default(),
                };
                let location = rampart_elb::routing::location(config, &incoming);
                let mut r = proxy::respond_owned(*status, String::new());
                if let Ok(v) = http::HeaderValue::from_str(&location) {
                    r.headers_mut().insert(http::header::LOCATION, v);
                }
                Step::Respond(r)
            }
            None => Step::Respond(proxy::respond(503, "Service Unavailable")),
        }
    }
}

/// A listener being served.
struct Served {
    port: u16,
    /// An HTTPS listener's certificates and policy as served: a change serves it again.
    tls: Option<Tls>,
    stop: watch::Sender<bool>,
}

/// What an HTTPS listener serves: its default certificate and those added to it (IAM server
/// certificates' ARNs), and its security policy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tls {
    default: String,
    more: Vec<String>,
    policy: String,
}

/// Chooses a connection's certificate by the name the client asks for (SNI), as an ALB does: a
/// certificate for exactly that name, else one whose wildcard covers it, else the default one
/// (also when the client names none). The default certificate is tried first at each step.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html>.
#[derive(Debug)]
struct BySni {
    /// Each certificate with its DNS names, the default one first.
    certificates: Vec<(Vec<String>, Arc<rustls::sign::CertifiedKey>)>,
}

impl BySni {
    fn choose(&self, name: Option<&str>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let default = self.certificates.first().map(|(_, k)| k.clone());
        let Some(name) = name.map(str::to_ascii_lowercase) else { return default };
        let exact = self.certificates.iter().find(|(names, _)| names.contains(&name));
        let parent = name.split_once('.').filter(|(label, _)| !label.is_empty()).map(|(_, rest)| rest);
        let wildcard = || {
            self.certificates
                .iter()
                .find(|(names, _)| names.iter().any(|n| n.strip_prefix("*.").is_some_and(|rest| Some(rest) == parent)))
        };
        exact.or_else(wildcard).map(|(_, k)| k.clone()).or(default)
    }
}

impl rustls::server::ResolvesServerCert for BySni {
    fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.choose(hello.server_name())
    }
}

/// AWS's name of a cipher suite rustls offers (`""` for one no policy lists).
fn aws_cipher_name(suite: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match suite {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        _ => "",
    }
}

/// One IAM server certificate of `account`, ready to serve, with its names.
fn certified(
    db: &Db,
    sealer: &rampart_store::Sealer,
    account: &str,
    arn: &str,
) -> Result<(Vec<String>, Arc<rustls::sign::CertifiedKey>), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let id = rampart_iam::iam::server_certificate_for_tls(db, sealer, account, arn)
        .map_err(|e| format!("the certificate {arn} cannot be read: {}", e.message))?
        .ok_or_else(|| format!("the certificate {arn} no longer exists"))?;
    let certs = CertificateDer::pem_slice_iter(id.chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate {arn} cannot be parsed: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&id.key)
        .map_err(|e| format!("the private key of {arn} cannot be parsed: {e}"))?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| format!("the private key of {arn} cannot sign: {e}"))?;
    Ok((id.names, Arc::new(rustls::sign::CertifiedKey::new(certs, signing))))
}

/// A TLS acceptor for an HTTPS listener of `account`: its certificates and keys from IAM, chosen
/// by SNI; of its security policy, the TLS versions (1.2, 1.3) and ciphers rustls speaks, in the
/// policy's order of preference, the server's order deciding as an ALB's does; HTTP/2 and
/// HTTP/1.1 by ALPN.
fn tls_acceptor(
    db: &Db,
    sealer: &rampart_store::Sealer,
    account: &str,
    tls: &Tls,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    let mut certificates = Vec::new();
    for arn in std::iter::once(&tls.default).chain(&tls.more) {
        certificates.push(certified(db, sealer, account, arn)?);
    }
    let admitted = rampart_elb::ssl_policy_protocols(&tls.policy).unwrap_or_default();
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [("TLSv1.3", &rustls::version::TLS13), ("TLSv1.2", &rustls::version::TLS12)]
            .into_iter()
            .filter(|(name, _)| admitted.contains(name))
            .map(|(_, v)| v)
            .collect();
    let ciphers = rampart_elb::ssl_policy_ciphers(&tls.policy);
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites.retain(|s| ciphers.contains(&aws_cipher_name(s.suite())));
    provider.cipher_suites.sort_by_key(|s| ciphers.iter().position(|c| *c == aws_cipher_name(s.suite())));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("the security policy {} cannot be served: {e}", tls.policy))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { certificates }));
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A target's health check state.
struct TargetCheck {
    due: Instant,
    in_flight: bool,
    successes: u32,
    failures: u32,
    state: TargetState,
}

/// One health check's result.
struct Probe {
    group: String,
    target: SocketAddr,
    outcome: Result<(), (&'static str, String)>,
}

/// Runs every recorded listener and checks the health of the targets they forward to, until
/// `shutdown` flips.
pub(crate) async fn supervise(
    db: Db,
    (sealer, geo, ip_lists): (
        Arc<rampart_store::Sealer>,
        Option<Arc<crate::geo::GeoDbs>>,
        Arc<crate::ip_lists::IpLists>,
    ),
    shared: crate::proxy::Shared,
    address: IpAddr,
    limits: ProxyLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let board = Arc::new(Board::default());
    let mut served: HashMap<String, Served> = HashMap::new();
    let mut unbindable: HashMap<String, Instant> = HashMap::new();
    let mut checks: HashMap<(String, SocketAddr), TargetCheck> = HashMap::new();
    let (probes_tx, mut probes) = mpsc::unbounded_channel::<Probe>();
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(p) = probes.recv() => {
                settle(&db, &board, &mut checks, p).await;
                continue;
            }
            _ = shutdown.changed() => break,
        }
        let listeners = match recorded_listeners(&db) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the load balancers' listeners");
                continue;
            }
        };
        unbindable.retain(|arn, _| listeners.iter().any(|(a, _, _, _)| a == arn));
        served.retain(|arn, s| {
            let keep = listeners.iter().any(|(a, port, _, tls)| a == arn && *port == s.port && *tls == s.tls);
            if !keep {
                let _ = s.stop.send(true);
            }
            keep
        });
        for (arn, port, _, tls) in &listeners {
            if served.contains_key(arn) || unbindable.get(arn).is_some_and(|at| at.elapsed() < Duration::from_secs(5)) {
                continue;
            }
            let at = SocketAddr::new(address, *port);
            let (account, region) = rampart_elb::locate(arn).map(|l| (l.account, l.region)).unwrap_or_default();
            let acceptor = match tls.as_ref().map(|t| tls_acceptor(&db, &sealer, &account, t)).transpose() {
                Ok(a) => a,
                Err(reason) => {
                    tracing::warn!(listener = %arn, reason = %reason, "cannot serve an HTTPS listener");
                    if unbindable.insert(arn.clone(), Instant::now()).is_none() {
                        status(&db, arn, Some(format!("The listener on port {port} cannot be served: {reason}"))).await;
                    }
                    continue;
                }
            };
            match tokio::net::TcpListener::bind(at).await {
                Ok(listener) => {
                    if unbindable.remove(arn).is_some() {
                        status(&db, arn, None).await;
                    }
                    let (stop, stopped) = watch::channel(false);
                    let route = ListenerRoute {
                        arn: arn.clone(),
                        board: board.clone(),
                        current: Mutex::default(),
                        turn: AtomicUsize::new(0),
                        https: acceptor.is_some(),
                    };
                    let balancer_arn = arn_of_balancer(arn);
                    let binding = rampart_waf::Binding {
                        balancer_arn,
                        place: rampart_waf::Place { account, region, scope: "regional" },
                        name: None,
                    };
                    let mut proxy = Proxy::new(
                        arn.clone(),
                        at,
                        Upstream::Listener(Box::new(route)),
                        binding,
                        (db.clone(), shared.clone()),
                        limits,
                    );
                    proxy.https = acceptor.is_some();
                    proxy.geo = geo.clone();
                    proxy.ip_lists = Some(ip_lists.clone());
                    tokio::spawn(proxy::serve(listener, Arc::new(proxy), acceptor, stopped));
                    tracing::info!(listener = %arn, address = %at, https = tls.is_some(), "serving a load balancer's listener");
                    served.insert(arn.clone(), Served { port: *port, tls: tls.clone(), stop });
                }
                Err(e) => {
                    tracing::warn!(listener = %arn, address = %at, error = %e, "cannot listen for a load balancer's listener");
                    if unbindable.insert(arn.clone(), Instant::now()).is_none() {
                        status(&db, arn, Some(format!("The listener on port {port} cannot be served at {at}: {e}")))
                            .await;
                    }
                }
            }
        }
        // Health checks: every target of every group a served listener forwards to.
        let mut wanted: HashSet<(String, SocketAddr)> = HashSet::new();
        let groups: HashSet<&String> =
            listeners.iter().filter(|(arn, _, _, _)| served.contains_key(arn)).flat_map(|(_, _, g, _)| g).collect();
        for group in groups {
            let Some((record, hc)) = target_group(&db, group) else { continue };
            if !hc.enabled {
                continue;
            }
            for t in &record.targets {
                let Some(target) = address_of(t) else { continue };
                wanted.insert((group.clone(), target));
                let check = checks.entry((group.clone(), target)).or_insert_with(|| TargetCheck {
                    due: Instant::now(),
                    in_flight: false,
                    successes: 0,
                    failures: 0,
                    state: TargetState {
                        id: t.id.clone(),
                        port: t.port,
                        state: "initial".into(),
                        reason: Some("Elb.RegistrationInProgress".into()),
                        description: Some("Target registration is in progress".into()),
                    },
                });
                if check.in_flight || check.due > Instant::now() {
                    continue;
                }
                check.in_flight = true;
                check.due = Instant::now() + hc.interval;
                let (client, tx, group, hc) = (client.clone(), probes_tx.clone(), group.clone(), hc.clone());
                tokio::spawn(async move {
                    let outcome = probe(&client, target, &hc).await;
                    let _ = tx.send(Probe { group, target, outcome });
                });
            }
        }
        checks.retain(|k, _| wanted.contains(k));
    }
    for s in served.values() {
        let _ = s.stop.send(true);
    }
}

/// Records whether a listener can be served, for DescribeLoadBalancers' state.
async fn status(db: &Db, listener_arn: &str, reason: Option<String>) {
    let (balancer, listener) = (arn_of_balancer(listener_arn), listener_arn.to_owned());
    let written =
        db.transact(move |tx| rampart_elb::health::set_listener_status(tx, (&balancer, &listener), reason)).await;
    if let Err(e) = written {
        tracing::warn!(listener = %listener_arn, error = %e, "cannot record the listener's state");
    }
}

/// A target group's record and health check, as stored now.
fn target_group(db: &Db, arn: &str) -> Option<(Record, HealthCheck)> {
    let bytes = db.get_cached(&rampart_elb::locate(arn)?.key).ok().flatten()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    let hc = HealthCheck::of(&record.body::<shapes::TargetGroup>().ok()?);
    Some((record, hc))
}

fn address_of(t: &Registered) -> Option<SocketAddr> {
    Some(SocketAddr::new(t.id.parse().ok()?, u16::try_from(t.port).ok()?))
}

/// The load balancer ARN of a listener ARN.
fn arn_of_balancer(listener: &str) -> String {
    let without_id = listener.rsplit_once('/').map_or(listener, |(head, _)| head);
    without_id.replacen(":listener/app/", ":loadbalancer/app/", 1)
}

/// Every recorded listener: its ARN, port, the target groups it forwards to and, for HTTPS, its
/// certificate and policy.
type Recorded = (String, u16, Vec<String>, Option<Tls>);

fn recorded_listeners(db: &Db) -> Result<Vec<Recorded>, rampart_store::StoreError> {
    let mut out = Vec::new();
    for (key, value) in db.scan_prefix(b"elb/", None, usize::MAX >> 1, false)? {
        if !String::from_utf8_lossy(&key).contains("/listener/") {
            continue;
        }
        let Ok(record) = serde_json::from_slice::<Record>(&value) else { continue };
        let Ok(body) = record.body::<shapes::Listener>() else { continue };
        let Some(port) = body.port.and_then(|p| u16::try_from(p).ok()) else { continue };
        let tls = match body.protocol.as_deref() {
            Some("HTTPS") => {
                let certificate = rampart_elb::default_certificate(&body).map(str::to_owned);
                let policy = body.ssl_policy.clone().unwrap_or_else(|| rampart_elb::DEFAULT_SSL_POLICY.to_owned());
                // An HTTPS listener without its certificate is not served in the clear.
                let Some(default) = certificate else { continue };
                Some(Tls { default, more: record.certificates.clone(), policy })
            }
            _ => None,
        };
        out.push((record.arn.clone(), port, rampart_elb::forwarded_groups(&record).unwrap_or_default(), tls));
    }
    Ok(out)
}

/// One HTTP health check of a target.
async fn probe(
    client: &Client<HttpConnector, Full<Bytes>>,
    target: SocketAddr,
    hc: &HealthCheck,
) -> Result<(), (&'static str, String)> {
    let at = SocketAddr::new(target.ip(), hc.port.unwrap_or(target.port()));
    let request = http::Request::get(format!("http://{at}{}", hc.path))
        .header(http::header::USER_AGENT, "ELB-HealthChecker/2.0")
        .body(Full::new(Bytes::new()))
        .map_err(|_| ("Target.FailedHealthChecks", "Health checks failed".to_owned()))?;
    match tokio::time::timeout(hc.timeout, client.request(request)).await {
        Err(_) => Err(("Target.Timeout", "Request timed out".to_owned())),
        Ok(Err(_)) => Err(("Target.FailedHealthChecks", "Health checks failed".to_owned())),
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            if hc.passes(status) {
                Ok(())
            } else {
                Err(("Target.ResponseCodeMismatch", format!("Health checks failed with these codes: [{status}]")))
            }
        }
    }
}

/// Counts a health check's result; a target that passes (fails) as many checks in a row as the
/// group's healthy (unhealthy) threshold becomes healthy (unhealthy), on the board and in the
/// record DescribeTargetHealth reads.
async fn settle(db: &Db, board: &Board, checks: &mut HashMap<(String, SocketAddr), TargetCheck>, p: Probe) {
    let Some((_, hc)) = target_group(db, &p.group) else { return };
    let Some(check) = checks.get_mut(&(p.group.clone(), p.target)) else { return };
    check.in_flight = false;
    let before = check.state.clone();
    match p.outcome {
        Ok(()) => {
            check.successes += 1;
            check.failures = 0;
            if check.successes >= hc.healthy {
                check.state.state = "healthy".into();
                check.state.reason = None;
                check.state.description = None;
            }
        }
        Err((reason, description)) => {
            check.failures += 1;
            check.successes = 0;
            if check.failures >= hc.unhealthy {
                check.state.state = "unhealthy".into();
                check.state.reason = Some(reason.into());
                check.state.description = Some(description);
            }
        }
    }
    if check.state == before {
        return;
    }
    board.set(&p.group, p.target, check.state.state == "healthy");
    let targets: Vec<TargetState> =
        checks.iter().filter(|((g, _), _)| *g == p.group).map(|(_, c)| c.state.clone()).collect();
    let (db, group) = (db.clone(), p.group.clone());
    let checked = Checked { targets };
    if let Err(e) = db.transact(move |tx| rampart_elb::health::write(tx, &group, &checked)).await {
        tracing::warn!(error = %e, "cannot record targets' health");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(names: &[&str]) -> (Vec<String>, Arc<rustls::sign::CertifiedKey>) {
        let generated = rcgen::generate_simple_self_signed(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("a certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).expect("a signing key");
        let certified = rustls::sign::CertifiedKey::new(vec![generated.cert.der().clone()], signing);
        (names.iter().map(|n| n.to_ascii_lowercase()).collect(), Arc::new(certified))
    }

    /// An exact name first, then a wildcard of one label, else the default certificate.
    #[test]
    fn sni_picks_the_certificate_for_the_name_asked() {
        let (default, shop_wild, api_exact) =
            (key_for(&["localhost"]), key_for(&["*.shop.example"]), key_for(&["api.shop.example"]));
        let sni = BySni { certificates: vec![default.clone(), shop_wild.clone(), api_exact.clone()] };
        let chosen = |name: Option<&str>| sni.choose(name).expect("a certificate");
        assert!(Arc::ptr_eq(&chosen(None), &default.1), "no name: the default");
        assert!(Arc::ptr_eq(&chosen(Some("www.shop.example")), &shop_wild.1));
        assert!(Arc::ptr_eq(&chosen(Some("WWW.Shop.Example")), &shop_wild.1), "names are case-blind");
        assert!(Arc::ptr_eq(&chosen(Some("api.shop.example")), &api_exact.1), "exact before wildcard");
        assert!(Arc::ptr_eq(&chosen(Some("a.b.shop.example")), &default.1), "a wildcard covers one label");
        assert!(Arc::ptr_eq(&chosen(Some("shop.example")), &default.1));
        assert!(Arc::ptr_eq(&chosen(Some("elsewhere.test")), &default.1));
    }
}
