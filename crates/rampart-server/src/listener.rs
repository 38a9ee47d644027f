//! The accept loop: HTTP/1.1 and HTTP/2 on hyper, connection limits, a first-byte deadline, header
//! and body read timeouts, TLS, body limits, and a graceful drain on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rampart_cloudtrail::TlsDetails;
use rampart_shapes::Protocol;
use rampart_wire::WireError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::app::{App, Response};
use crate::audit::Origin;
use crate::conn_limits::{Admitted, FirstByte, Limits};

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` flips, then drains in-flight requests and closes the store.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let limits = Limits::new(app.config.max_connections, app.config.max_connections_per_source);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over the limits, the connection is closed at once, as a front end sheds load.
                let Some(admitted) = limits.admit(peer.ip()) else {
                    tracing::debug!(source = %peer.ip(), "connection refused: too many open connections");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, peer, tls.clone(), app.clone(), graceful.watcher(), admitted));
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace period ended with requests still in flight");
    }
    let db = app.db.clone();
    let _ = tokio::task::spawn_blocking(move || db.close()).await;
    tracing::info!("stopped");
}

fn builder(app: &App) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(app.config.header_read_timeout_secs))
        .keep_alive(true);
    b.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    b
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    watcher: Watcher,
    _admitted: Admitted,
) {
    let builder = builder(&app);
    // A connection must start its request within the header-read timeout.
    let first_byte = Duration::from_secs(app.config.header_read_timeout_secs);
    let origin = |tls: Option<TlsDetails>| Origin { source_ip: peer.ip().to_string(), user_agent: String::new(), tls };
    match tls {
        None => {
            let svc = service(app.clone(), origin(None));
            let conn = builder.serve_connection(TokioIo::new(FirstByte::new(stream, first_byte)), svc).into_owned();
            let _ = watcher.watch(conn).await;
        }
        Some(acceptor) => {
            let Ok(Ok(stream)) = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                return;
            };
            let (_, session) = stream.get_ref();
            let details = TlsDetails {
                tls_version: session
                    .protocol_version()
                    .map(|v| format!("{v:?}").replace("TLSv1_", "TLSv1."))
                    .unwrap_or_default(),
                cipher_suite: session.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())).unwrap_or_default(),
                client_provided_host_header: session.server_name().unwrap_or_default().to_owned(),
            };
            let svc = service(app.clone(), origin(Some(details)));
            let conn = builder.serve_connection(TokioIo::new(FirstByte::new(stream, first_byte)), svc).into_owned();
            let _ = watcher.watch(conn).await;
        }
    }
}

fn service(
    app: Arc<App>,
    origin: Origin,
) -> impl hyper::service::Service<http::Request<Incoming>, Response = Response, Error = Infallible, Future: Send> + Clone
{
    service_fn(move |req: http::Request<Incoming>| {
        let app = app.clone();
        let origin = origin.clone();
        async move {
            let mut response = request(&app, req, origin).await;
            response
                .headers_mut()
                .insert("x-rampart-version", http::HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
            Ok::<_, Infallible>(response)
        }
    })
}

async fn request(app: &App, req: http::Request<Incoming>, mut origin: Origin) -> Response {
    let request_id = crate::ids::uuid();
    let (parts, body) = req.into_parts();
    origin.user_agent =
        parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signin = parts.method == http::Method::POST && parts.uri.path() == "/_rampart/signin";
    if parts.uri.path().starts_with("/_rampart/") && !signin {
        return crate::admin::handle(app, &parts.method, parts.uri.path(), &request_id).await;
    }
    let protocol = if parts.headers.contains_key("x-amz-target") { Protocol::Json } else { Protocol::Query };
    // An S3 upload (a PUT: PutObject, UploadPart) may carry an object's bytes.
    let upload = parts.method == http::Method::PUT && !parts.headers.contains_key("x-amz-target");
    let max = if upload {
        app.config.max_body_bytes.max(app.config.max_object_body_bytes)
    } else {
        app.config.max_body_bytes
    };
    let too_large = || {
        WireError::new("RequestEntityTooLargeException", 413, format!("The request body is larger than {max} bytes"))
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return app.reject(&origin, &request_id, too_large(), protocol);
    }
    let timeout = Duration::from_secs(app.config.body_read_timeout_secs);
    let body = match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Err(_) => {
            let e = WireError::new("RequestTimeoutException", 408, "Timed out reading the request body");
            let mut r = app.reject(&origin, &request_id, e, protocol);
            r.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            return r;
        }
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return app.reject(&origin, &request_id, too_large(), protocol);
        }
        Ok(Err(_)) => {
            return app.reject(
                &origin,
                &request_id,
                WireError::new("MalformedHttpRequestException", 400, "The request body could not be read"),
                protocol,
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if signin {
        return crate::signin::handle(app, &body, &origin, &request_id).await;
    }
    app.handle_api(&parts, body, &origin, &request_id).await
}
