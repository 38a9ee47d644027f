//! A trivial upstream application for proxy tests and benchmarks: it answers every request with
//! 200 (404 under `/no-such/`, a path it does not have) and what it received (method, path and query, the forwarded-for chain, and any header the
//! WAF inserted), so a test sees what the proxy let through and how; an upgraded connection
//! echoes its bytes in upper case.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// Starts the upstream on an ephemeral loopback port; it serves until the runtime stops.
pub async fn start() -> anyhow::Result<SocketAddr> {
    Ok(start_switchable().await?.0)
}

/// Starts an upstream that answers every request with 500 while its switch is off (a target
/// failing its health checks), and names itself in its answers (`server`).
pub async fn start_switchable() -> anyhow::Result<(SocketAddr, Arc<AtomicBool>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let healthy = Arc::new(AtomicBool::new(true));
    let switch = healthy.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let healthy = healthy.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |mut req: http::Request<Incoming>| {
                    let up = healthy.load(Ordering::Relaxed);
                    async move {
                        // An upgrade (a WebSocket's) is accepted, and the connection then echoes
                        // what it is sent in upper case.
                        if let Some(protocol) = req.headers().get(http::header::UPGRADE).cloned() {
                            let upgraded = hyper::upgrade::on(&mut req);
                            tokio::spawn(async move {
                                if let Ok(io) = upgraded.await {
                                    let mut io = TokioIo::new(io);
                                    let mut buf = [0u8; 1024];
                                    while let Ok(n) = tokio::io::AsyncReadExt::read(&mut io, &mut buf).await {
                                        let Some(read) = buf.get(..n).filter(|r| !r.is_empty()) else { break };
                                        let upper = read.to_ascii_uppercase();
                                        if tokio::io::AsyncWriteExt::write_all(&mut io, &upper).await.is_err() {
                                            break;
                                        }
                                    }
                                }
                            });
                            let mut switching = http::Response::new(Full::new(Bytes::new()));
                            *switching.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
                            switching.headers_mut().insert(http::header::UPGRADE, protocol);
                            switching
                                .headers_mut()
                                .insert(http::header::CONNECTION, http::HeaderValue::from_static("upgrade"));
                            return Ok::<_, Infallible>(switching);
                        }
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let header = |name: &str| {
                            parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                        };
                        let seen = serde_json::json!({
                            "method": parts.method.as_str(),
                            "path": parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
                            "forwardedFor": header("x-forwarded-for"),
                            "forwardedPort": header("x-forwarded-port"),
                            "forwardedProto": header("x-forwarded-proto"),
                            "inserted": header("x-amzn-waf-seen"),
                            "bodyLength": body.len(),
                            "server": addr.to_string(),
                            "userAgent": header("user-agent"),
                            "host": header("host"),
                        });
                        let mut response = http::Response::new(Full::new(Bytes::from(seen.to_string())));
                        if !up {
                            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                        } else if parts.uri.path().starts_with("/no-such/") {
                            *response.status_mut() = http::StatusCode::NOT_FOUND;
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((addr, switch))
}
