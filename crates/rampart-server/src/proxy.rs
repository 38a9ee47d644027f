//! Proxy listeners: reverse proxies to an upstream application, each a load balancer of
//! Rampart's own whose requests the web ACL associated with it (or named for it) decides before
//! they reach the upstream, as AWS WAF decides an application load balancer's.
//!
//! Every request is read whole (its body within the configured limit and read timeout), decided
//! by the engine, then forwarded with `X-Forwarded-For`, `-Proto` and `-Port` added, or answered
//! as the web ACL says. The web ACL is compiled once and kept while the records it was made from
//! are unchanged; a change applies to the next request, on connections already open. A web ACL
//! that cannot be enforced fails closed: 503, never an unprotected forward.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html>.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rampart_store::Db;
use rampart_waf::engine::Decision;
use rampart_waf::{Binding, Protection};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::balancers::Xff;
use crate::config::ProxyConfig;
use crate::conn_limits::{FirstByte, Limits};

type Body = Either<Incoming, Full<Bytes>>;
pub(crate) type ProxyResponse = http::Response<Body>;

/// Where a proxy forwards.
pub(crate) enum Upstream {
    /// A proxy of the configuration: one upstream.
    Fixed(http::uri::Authority),
    /// A listener of a load balancer of the API: what its records say.
    Listener(Box<crate::balancers::ListenerRoute>),
}

/// One proxy listener, ready to serve.
pub struct Proxy {
    pub name: String,
    pub listen: SocketAddr,
    upstream: Upstream,
    binding: Binding,
    db: Db,
    activity: Arc<crate::waf_activity::Activity>,
    /// The web ACLs compiled on this node, shared by every proxy they protect.
    compiled: Arc<rampart_waf::Compiled>,
    /// Every request the load balancer receives, for Shield's surge detection.
    arrivals: Arc<std::sync::atomic::AtomicU64>,
    protection: Mutex<Option<Arc<Protection>>>,
    /// `X-Forwarded-Port`: the port clients reach the proxy on.
    listen_port: http::HeaderValue,
    limits: ProxyLimits,
    /// Clients reach it over TLS (an HTTPS listener): `X-Forwarded-Proto: https`.
    pub(crate) https: bool,
    /// The server's geolocation databases, for web ACLs' geo and ASN matches.
    pub(crate) geo: Option<Arc<crate::geo::GeoDbs>>,
    /// The IP lists the operator imported, for the IP reputation managed rule groups.
    pub(crate) ip_lists: Option<Arc<crate::ip_lists::IpLists>>,
    /// The server's WAF token keys, for CAPTCHA and challenge rules.
    tokens: Arc<crate::waf_tokens::TokenDesk>,
}

/// What every proxy of a server shares: the collector of its decisions, the WAF token keys, and
/// the web ACLs compiled (one rate-based rule count per web ACL, whatever it protects).
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) activity: Arc<crate::waf_activity::Activity>,
    pub(crate) tokens: Arc<crate::waf_tokens::TokenDesk>,
    pub(crate) compiled: Arc<rampart_waf::Compiled>,
}

/// The proxy's defences, from the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct ProxyLimits {
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_source: usize,
    pub shutdown_grace: Duration,
    /// The most bytes of request line and headers, and the most headers, a request may have.
    pub max_header_bytes: usize,
    pub max_headers: usize,
}

pub(crate) fn respond(status: u16, body: &'static str) -> ProxyResponse {
    respond_owned(status, body.to_owned())
}

pub(crate) fn respond_owned(status: u16, body: String) -> ProxyResponse {
    let mut r = http::Response::new(Either::Right(Full::new(Bytes::from(body))));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    r
}

impl Proxy {
    pub(crate) fn configured(
        config: &ProxyConfig,
        listen: SocketAddr,
        binding: Binding,
        state: (Db, Shared),
        limits: ProxyLimits,
    ) -> Proxy {
        let upstream = config.upstream_authority().unwrap_or_else(|| http::uri::Authority::from_static("127.0.0.1:80"));
        Proxy::new(config.name.clone(), listen, Upstream::Fixed(upstream), binding, state, limits)
    }

    pub(crate) fn new(
        name: String,
        listen: SocketAddr,
        upstream: Upstream,
        binding: Binding,
        (db, shared): (Db, Shared),
        limits: ProxyLimits,
    ) -> Proxy {
        let Shared { activity, tokens, compiled } = shared;
        let arrivals = activity.arrivals(&binding.balancer_arn);
        Proxy {
            name,
            listen,
            upstream,
            binding,
            db,
            activity,
            compiled,
            arrivals,
            protection: Mutex::new(None),
            listen_port: http::HeaderValue::from(listen.port()),
            limits,
            https: false,
            geo: None,
            ip_lists: None,
            tokens,
        }
    }

    /// The protection to decide the next request with: the one last loaded while its records
    /// are unchanged, else a fresh one.
    fn protection(&self) -> Arc<Protection> {
        let mut current = self.protection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = current.as_ref()
            && p.fresh(&self.db)
        {
            return p.clone();
        }
        let loaded = Arc::new(Protection::load(&self.db, &self.binding, &self.compiled));
        if let Err(e) = &loaded.outcome {
            tracing::warn!(proxy = %self.name, error = %e, "the proxy's web ACL cannot be enforced: answering 503");
        }
        *current = Some(loaded.clone());
        loaded
    }

    async fn handle(
        &self,
        mut req: http::Request<Incoming>,
        peer: SocketAddr,
        tls: Option<&rampart_waf::engine::hello::Fingerprints>,
        upstreams: &crate::upstreams::Upstreams,
    ) -> ProxyResponse {
        self.arrivals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A WebSocket (or other) upgrade is passed through once the upstream accepts it.
        let upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let declared =
            parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes as u64) {
            return respond(413, "Request Entity Too Large");
        }
        // Most requests have no body: nothing to wait for.
        let read = if hyper::body::Body::is_end_stream(&body) {
            Ok(Ok(http_body_util::Collected::default()))
        } else {
            tokio::time::timeout(
                self.limits.body_read_timeout,
                Limited::new(body, self.limits.max_body_bytes).collect(),
            )
            .await
        };
        let body = match read {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return respond(413, "Request Entity Too Large"),
            // A client that does not finish its body in time (slow POST) is cut off.
            Err(_) => {
                self.activity.defended(&self.binding.balancer_arn, crate::waf_activity::Defence::SlowBody, peer.ip());
                return respond(408, "Request Timeout");
            }
        };
        let current = match &self.upstream {
            Upstream::Fixed(_) => None,
            Upstream::Listener(route) => Some(route.current(&self.db)),
        };
        let settings = current.as_ref().map_or(&crate::balancers::PLAIN, |c| &c.settings);
        let protection = self.protection();
        let mut inserted = Vec::new();
        match &protection.outcome {
            // `waf.fail_open.enabled`: a web ACL that cannot be enforced lets requests through.
            Err(_) if settings.fail_open => {}
            Err(_) => return respond(503, "Service Unavailable"),
            Ok(None) => {}
            Ok(Some((acl_arn, acl))) => {
                let mut headers: Vec<(&[u8], &[u8])> =
                    parts.headers.iter().map(|(k, v)| (k.as_str().as_bytes(), v.as_bytes())).collect();
                // HTTP/2 names the host in the request's authority: the web ACL sees it as `Host`.
                let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
                if let (None, Some(a)) = (parts.headers.get(http::header::HOST), authority) {
                    headers.push((b"host", a));
                }
                // The host, for the few requests that meet a token's problem.
                let host_of = |headers: &[(&[u8], &[u8])]| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
                        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default()
                };
                let opened = self.tokens.open(&headers);
                let token = match &opened {
                    None => rampart_waf::tokens::Presented::Absent,
                    Some(None) => rampart_waf::tokens::Presented::Invalid,
                    Some(Some(t)) => rampart_waf::tokens::Presented::Valid(t),
                };
                // A CAPTCHA's audio is served here, never upstream.
                if crate::waf_tokens::is_audio(&parts) {
                    return self.tokens.audio(parts.uri.query());
                }
                // An answer to a CAPTCHA or challenge earns its token here, never upstream.
                if crate::waf_tokens::is_answer(&parts) {
                    let host = host_of(&headers);
                    let agent = parts.headers.get(http::header::USER_AGENT).map(http::HeaderValue::as_bytes);
                    return self.tokens.verify((&body, agent), (&host, &acl.token_domain(&host)), token, self.https);
                }
                let request = rampart_waf::engine::fields::Request {
                    client_ip: peer.ip(),
                    method: parts.method.as_str().as_bytes(),
                    path: parts.uri.path().as_bytes(),
                    query: parts.uri.query().unwrap_or_default().as_bytes(),
                    headers: &headers,
                    body: &body,
                    body_length: body.len(),
                    now: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                    tls,
                    locate: self.geo.as_deref().map(|g| g as &dyn rampart_waf::engine::fields::Locate),
                    token,
                    ip_lists: self.ip_lists.as_deref().map(|l| l as &dyn rampart_waf::engine::fields::Listed),
                };
                let verdict = acl.evaluate(&request);
                tracing::debug!(proxy = %self.name, rule = %verdict.terminating_rule, labels = ?verdict.labels, "decided");
                let answered = match &verdict.decision {
                    Decision::Block(r) | Decision::Interstitial(_, r) => Some(r.status),
                    Decision::Allow { .. } => None,
                };
                self.activity.observe(&crate::waf_activity::Observed {
                    web_acl_arn: acl_arn,
                    balancer_arn: &self.binding.balancer_arn,
                    logging: protection.logging.as_ref(),
                    request: &request,
                    verdict: &verdict,
                    answered,
                });
                match verdict.decision {
                    Decision::Allow { insert_headers } => inserted = insert_headers,
                    Decision::Block(r) => return answer(r),
                    Decision::Interstitial(kind, mut r) => {
                        let accept = parts.headers.get(http::header::ACCEPT);
                        let domain = acl.token_domain(&host_of(&headers));
                        if let Some(page) = self.tokens.page(kind, &domain, accept) {
                            r.body = page.into_bytes();
                            r.content_type = Some("text/html; charset=utf-8".to_owned());
                        }
                        r.headers.push(("cache-control".to_owned(), "no-store".to_owned()));
                        return answer(r);
                    }
                }
            }
        }
        let upstream = match (&self.upstream, &current) {
            (Upstream::Fixed(authority), _) => authority.clone(),
            (Upstream::Listener(route), Some(current)) => {
                match route.step(current, &parts, self.listen.port(), peer.ip()) {
                    crate::balancers::Step::Forward(authority) => authority,
                    crate::balancers::Step::Respond(r) => return with_listener_headers(r, settings),
                }
            }
            (Upstream::Listener(_), None) => return respond(503, "Service Unavailable"),
        };
        // Forward: the path and query as received, to the upstream, with what an ALB adds.
        let received = std::mem::take(&mut parts.uri);
        // HTTP/2 names the host in the request's authority: the upstream gets it as `Host`.
        if !parts.headers.contains_key(http::header::HOST)
            && let Some(v) = received.authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(http::header::HOST, v);
        }
        parts.uri = origin_form(&received);
        let h = &mut parts.headers;
        let client = || if settings.xff_port { peer.to_string() } else { peer.ip().to_string() };
        let forwarded_for = match (settings.xff, h.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok())) {
            (Xff::Remove, _) | (Xff::Preserve, None) => None,
            (Xff::Preserve, Some(before)) => Some(before.to_owned()),
            (Xff::Append, Some(before)) => Some(format!("{before}, {}", client())),
            (Xff::Append, None) => Some(client()),
        }
        .and_then(|chain| http::HeaderValue::try_from(chain).ok());
        h.remove(X_FORWARDED_FOR);
        if let Some(v) = forwarded_for {
            h.insert(X_FORWARDED_FOR, v);
        }
        let proto = http::HeaderValue::from_static(if self.https { "https" } else { "http" });
        h.insert(X_FORWARDED_PROTO, proto);
        h.insert(X_FORWARDED_PORT, self.listen_port.clone());
        for (name, value) in inserted {
            if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&value))
            {
                h.insert(n, v);
            }
        }
        // Hop-by-hop headers are the proxy's own, not the upstream's (but an upgrade's).
        for hop in [
            &http::header::CONNECTION,
            &KEEP_ALIVE,
            &PROXY_CONNECTION,
            &http::header::TE,
            &http::header::TRAILER,
            &http::header::UPGRADE,
        ] {
            if upgrade.is_none() || !matches!(*hop, http::header::CONNECTION | http::header::UPGRADE) {
                h.remove(hop);
            }
        }
        parts.version = http::Version::HTTP_11;
        let request = http::Request::from_parts(parts, Full::new(body));
        match upstreams.send(&upstream, request, upgrade.is_some()).await {
            Ok(mut response) => {
                let switching = response.status() == http::StatusCode::SWITCHING_PROTOCOLS;
                if let (true, Some(client_side)) = (switching, upgrade) {
                    let upstream_side = hyper::upgrade::on(&mut response);
                    tokio::spawn(tunnel(client_side, upstream_side, self.name.clone()));
                    let (parts, body) = response.into_parts();
                    return with_listener_headers(http::Response::from_parts(parts, Either::Left(body)), settings);
                }
                let (mut parts, body) = response.into_parts();
                // A path the upstream does not have: GuardDuty counts a source's misses.
                if parts.status == http::StatusCode::NOT_FOUND {
                    self.activity.missed(&self.binding.balancer_arn, peer.ip(), received.path().as_bytes());
                }
                for hop in [&http::header::CONNECTION, &KEEP_ALIVE, &http::header::TRANSFER_ENCODING] {
                    parts.headers.remove(hop);
                }
                with_listener_headers(http::Response::from_parts(parts, Either::Left(body)), settings)
            }
            // An upstream that cannot be reached is a bad gateway, as an ALB answers.
            Err(e) => {
                tracing::warn!(proxy = %self.name, error = %e, "the upstream cannot be reached");
                respond(502, "Bad Gateway")
            }
        }
    }
}

const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: http::HeaderName = http::HeaderName::from_static("x-forwarded-port");
const KEEP_ALIVE: http::HeaderName = http::HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: http::HeaderName = http::HeaderName::from_static("proxy-connection");

/// A request's target as an origin server takes it: its path and query alone.
fn origin_form(received: &http::Uri) -> http::Uri {
    let mut parts = http::uri::Parts::default();
    parts.path_and_query =
        Some(received.path_and_query().cloned().unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")));
    http::Uri::from_parts(parts).unwrap_or_default()
}

/// Whether a request asks to switch protocols (`Connection: upgrade` with an `Upgrade`).
fn wants_upgrade(headers: &http::HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && headers.contains_key(http::header::UPGRADE)
}

/// Copies an upgraded connection's bytes both ways until either side closes.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade, proxy: String) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(proxy = %proxy, error = %e, "an upgraded connection ended");
            }
        }
        Err(e) => tracing::debug!(proxy = %proxy, error = %e, "an upgrade did not complete"),
    }
}

/// A response with the headers the listener's attributes add, and without the upstream's
/// `Server` header where they say so.
fn with_listener_headers(mut response: ProxyResponse, settings: &crate::balancers::Settings) -> ProxyResponse {
    let headers = response.headers_mut();
    if !settings.server {
        headers.remove(http::header::SERVER);
    }
    for (name, value) in &settings.headers {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(*name, v);
        }
    }
    response
}

/// A response the web ACL gives in the upstream's place.
fn answer(r: rampart_waf::engine::Response) -> ProxyResponse {
    let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(r.body))));
    *response.status_mut() = http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::FORBIDDEN);
    let headers = response.headers_mut();
    if let Some(v) = r.content_type.as_deref().and_then(|t| http::HeaderValue::from_str(t).ok()) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&value)) {
            headers.insert(n, v);
        }
    }
    response
}

/// Whether a connection ended on hyper's header read timeout: a request's head begun and not
/// finished in time. (A connection that sends nothing ends earlier, on `FirstByte`'s deadline.)
fn head_too_slow(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_timeout) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A connection's ClientHello, read without taking it off the stream (the TLS handshake reads it
/// again), for its JA3 and JA4 fingerprints; `None` if what comes is no ClientHello. A hello that
/// arrives in pieces is read again as more comes, waiting longer each time.
async fn peek_hello(stream: &tokio::net::TcpStream) -> Option<rampart_waf::engine::hello::Fingerprints> {
    use rampart_waf::engine::hello::{self, Read};
    let mut buf = vec![0u8; hello::MAX_HELLO_BYTES];
    let mut wait = Duration::from_millis(1);
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        match hello::read(buf.get(..n)?) {
            Read::Hello(h) => return Some((&h).into()),
            Read::Not => return None,
            Read::More if n == 0 || n == buf.len() => return None,
            Read::More => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// Accepts connections until `shutdown` flips, then drains in-flight requests; with `tls`, each
/// connection's TLS handshake first, which must end within the header read timeout as a request's
/// headers must.
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let limits = Limits::new(proxy.limits.max_connections, proxy.limits.max_connections_per_source);
    // Connections refused over the caps are a defence at work, for Shield's attack records.
    let refused = |source: std::net::IpAddr| {
        proxy.activity.defended(&proxy.binding.balancer_arn, crate::waf_activity::Defence::ConnectionRefused, source);
    };
    loop {
        tokio::select! {
            (stream, peer, admitted) = crate::conn_limits::accept(&listener, &limits, &refused) => {
                let proxy = proxy.clone();
                let mut builder = auto::Builder::new(TokioExecutor::new());
                // Shield Standard's defences at the protocol: headers read in time and within
                // size and count limits (431 beyond them), HTTP/2 streams bounded, and a client
                // resetting streams as fast as it opens them (rapid reset) cut off.
                let l = &proxy.limits;
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(l.header_read_timeout)
                    .keep_alive(true)
                    .max_buf_size(l.max_header_bytes.max(8192));
                // hyper's own limit is 100 headers; asking for it again only costs a heap array
                // per request.
                if l.max_headers != 100 {
                    builder.http1().max_headers(l.max_headers);
                }
                builder
                    .http2()
                    .timer(TokioTimer::new())
                    .max_concurrent_streams(256)
                    .max_header_list_size(u32::try_from(l.max_header_bytes).unwrap_or(u32::MAX))
                    .max_pending_accept_reset_streams(20)
                    .max_local_error_reset_streams(64);
                let first_byte = proxy.limits.header_read_timeout;
                let watcher = graceful.watcher();
                let tls = tls.clone();
                let cut_off = proxy.clone();
                let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let counted = requests.clone();
                tokio::spawn(async move {
                    let _admitted = admitted;
                    let service = |fingerprints: Option<Arc<rampart_waf::engine::hello::Fingerprints>>,
                                   upstreams: &crate::upstreams::Upstreams| {
                        let counted = counted.clone();
                        let upstreams = upstreams.clone();
                        service_fn(move |req: http::Request<Incoming>| {
                            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let (proxy, fingerprints, upstreams) = (proxy.clone(), fingerprints.clone(), upstreams.clone());
                            async move { Ok::<_, Infallible>(proxy.handle(req, peer, fingerprints.as_deref(), &upstreams).await) }
                        })
                    };
                    let upstreams = crate::upstreams::Upstreams::default();
                    let service = |fingerprints| service(fingerprints, &upstreams);
                    let served = match tls {
                        None => {
                            let io = TokioIo::new(FirstByte::new(stream, first_byte));
                            let svc = service(None);
                            upstreams.alongside(watcher.watch(builder.serve_connection_with_upgrades(io, svc).into_owned())).await
                        }
                        Some(acceptor) => {
                            // The ClientHello's fingerprints, then the handshake; together they
                            // end in time as a request's headers must, or the connection is cut.
                            let handshake = async {
                                let fingerprints = peek_hello(&stream).await.map(Arc::new);
                                acceptor.accept(stream).await.ok().map(|s| (s, fingerprints))
                            };
                            let Ok(Some((stream, fingerprints))) = tokio::time::timeout(first_byte, handshake).await else {
                                return;
                            };
                            let io = TokioIo::new(FirstByte::new(stream, first_byte));
                            let svc = service(fingerprints);
                            upstreams.alongside(watcher.watch(builder.serve_connection_with_upgrades(io, svc).into_owned())).await
                        }
                    };
                    // Slowloris: a client that never finished a request's head, cut off by the header
                    // timeout after sending part of it. An idle keep-alive connection (it was
                    // served before) or one that never sent a byte (a browser's preconnect) is not.
                    if requests.load(std::sync::atomic::Ordering::Relaxed) == 0
                        && served.is_err_and(|e| head_too_slow(&*e))
                    {
                        cut_off.activity.defended(
                            &cut_off.binding.balancer_arn,
                            crate::waf_activity::Defence::SlowHeaders,
                            peer.ip(),
                        );
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(proxy.limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(proxy = %proxy.name, "shutdown grace period ended with proxied requests in flight");
    }
}
