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
            (stream, peer, admitted) = crate::conn_limits::accept(&listener, &limits, &|_| {}) => {
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
            let cors = crate::cors::Asked::of(&app, &req);
            let mut response = request(&app, req, origin).await;
            if let Some(cors) = cors {
                cors.decorate(&app, &mut response);
            }
            response
                .headers_mut()
                .insert("x-rampart-version", http::HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
            Ok::<_, Infallible>(response)
        }
    })
}

/// Reads a body into one buffer of the size it declared (at most the limit), each frame copied in
/// and freed as it arrives: an upload's bytes are held once, not once as frames and again joined.
/// The buffer's pages are the kernel's to give as they are written, so a length declared and not
/// sent costs address space, not memory.
async fn read_body<B>(mut body: B, capacity: usize) -> Result<bytes::Bytes, B::Error>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
{
    let mut out = bytes::BytesMut::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

async fn request(app: &App, req: http::Request<Incoming>, mut origin: Origin) -> Response {
    let request_id = crate::ids::uuid();
    let (parts, body) = req.into_parts();
    origin.user_agent =
        parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signin = parts.method == http::Method::POST && parts.uri.path() == "/_rampart/signin";
    if parts.uri.path().starts_with("/_rampart/") && !signin {
        return crate::admin::handle(app, (&parts.method, parts.uri.path(), &parts.headers), &request_id).await;
    }
    if crate::cors::is_preflight(&parts) {
        return crate::cors::preflight(app, &parts, &origin, &request_id);
    }
    let protocol = if parts.headers.contains_key("x-amz-target") { Protocol::Json } else { Protocol::Query };
    // An S3 upload (a PUT: PutObject, UploadPart; a browser's POST of a form) may carry an
    // object's bytes.
    let form_post = crate::post_upload::is_form_post(&parts);
    let upload = form_post || (parts.method == http::Method::PUT && !parts.headers.contains_key("x-amz-target"));
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
    // A client that waits for `100 Continue` before an upload's body is told at once when its
    // head is refused (a signature that fails; an unsigned upload no policy lets in), and sends
    // no body (hyper sends the 100 only when the body is read); the connection then closes, its
    // unread body with it.
    if upload
        && !form_post
        && parts.headers.get(http::header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        && let Some(mut r) = app.refused_before_body(&parts, &origin, &request_id)
    {
        r.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        return r;
    }
    let timeout = Duration::from_secs(app.config.body_read_timeout_secs);
    // An upload's body takes room in the upload memory before it is read: twice its length (as
    // received, then sealed), or all the room for one larger than it. Any caller takes free room;
    // only one whose signature holds on its headers waits its turn for it (an unknown caller
    // trickling bodies cannot keep the known ones waiting). An upload that cannot get room is told
    // to slow down, as S3 tells it.
    // See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html> (SlowDown).
    let _room = if upload {
        let wanted = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(max).saturating_mul(2);
        match take_room(app, &parts, (&app.upload_memory, app.config.upload_memory_bytes), wanted, timeout).await {
            Some(room) => Some(room),
            None => return app.reject(&origin, &request_id, slow_down(), Protocol::RestXml),
        }
    } else {
        None
    };
    let capacity = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0).min(max);
    let body = match tokio::time::timeout(timeout, read_body(Limited::new(body, max), capacity)).await {
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
        Ok(Ok(bytes)) => bytes,
    };
    if signin {
        return crate::signin::handle(app, &body, &origin, &request_id).await;
    }
    if form_post {
        return crate::post_upload::handle(app, &parts, body, &origin, &request_id).await;
    }
    // A ranged download (how `aws s3 cp` and the SDKs' transfer managers fetch a large object)
    // takes room for its range before the object is read, and keeps it until its body is sent:
    // concurrent downloads wait rather than grow the server by their ranges' sum. A longer range
    // is sent as it is read (see `body`), and takes room for as much as a read whole.
    let room = match download_range(&parts) {
        Some(len) => {
            let wanted = usize::try_from(len.min(rampart_s3::STREAM_ABOVE)).unwrap_or(usize::MAX);
            match take_room(app, &parts, (&app.download_memory, app.config.download_memory_bytes), wanted, timeout)
                .await
            {
                Some(room) => Some(room),
                None => return app.reject(&origin, &request_id, slow_down(), Protocol::RestXml),
            }
        }
        None => None,
    };
    let response = app.handle_api(&parts, body, &origin, &request_id).await;
    match room {
        // Released when the body is dropped: once sent, or the connection gone.
        Some(room) => response.map(|body| body.holding(room)),
        None => response,
    }
}

/// S3's answer to a request that cannot get room in memory.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html> (SlowDown).
fn slow_down() -> WireError {
    WireError::new("SlowDown", 503, "Please reduce your request rate.")
}

/// Takes `wanted` bytes of room (in KiB, at least one, at most all of `total`) in `room`. Free
/// room is taken at once (the semaphore gives released room to those waiting first, so no one
/// passes them); only a caller whose signature holds on its headers waits its turn, up to
/// `timeout`: an unknown caller holding requests open cannot keep the known ones waiting.
async fn take_room(
    app: &App,
    parts: &http::request::Parts,
    (room, total): (&Arc<tokio::sync::Semaphore>, usize),
    wanted: usize,
    timeout: Duration,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let permits = u32::try_from(wanted.div_ceil(1024).clamp(1, (total / 1024).max(1))).unwrap_or(u32::MAX);
    match room.clone().try_acquire_many_owned(permits) {
        Ok(room) => Some(room),
        Err(_) if app.authenticated_before_body(parts) => {
            tokio::time::timeout(timeout, room.clone().acquire_many_owned(permits)).await.ok().and_then(Result::ok)
        }
        Err(_) => None,
    }
}

/// The length of the range an S3 GET with one closed byte range (`bytes=FIRST-LAST`) asks for.
fn download_range(parts: &http::request::Parts) -> Option<u64> {
    if parts.method != http::Method::GET || parts.headers.contains_key("x-amz-target") {
        return None;
    }
    let range = parts.headers.get(http::header::RANGE)?.to_str().ok()?.strip_prefix("bytes=")?;
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.trim().parse::<u64>().ok()?, last.trim().parse::<u64>().ok()?);
    last.checked_sub(first)?.checked_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, range: Option<&str>, target: bool) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri("/b/k");
        if let Some(r) = range {
            b = b.header(http::header::RANGE, r);
        }
        if target {
            b = b.header("x-amz-target", "X.Y");
        }
        b.body(()).expect("a request").into_parts().0
    }

    /// Only a GET with one closed byte range takes download room, for exactly its length; open,
    /// suffix, multiple, reversed and overflowing ranges take none (the handler answers them).
    #[test]
    fn download_room_is_taken_for_one_closed_byte_range_only() {
        assert_eq!(download_range(&parts("GET", Some("bytes=0-8388607"), false)), Some(8 << 20));
        assert_eq!(download_range(&parts("GET", Some("bytes=5-5"), false)), Some(1));
        for range in
            ["bytes=5-", "bytes=-500", "bytes=0-1,4-9", "bytes=9-5", "items=0-9", "bytes=0-18446744073709551615", ""]
        {
            assert_eq!(download_range(&parts("GET", Some(range), false)), None, "{range}");
        }
        assert_eq!(download_range(&parts("GET", None, false)), None);
        assert_eq!(download_range(&parts("PUT", Some("bytes=0-9"), false)), None);
        assert_eq!(download_range(&parts("GET", Some("bytes=0-9"), true)), None);
    }
}
