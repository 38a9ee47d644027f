//! The upstream connections a proxy's client connection forwards on.
//!
//! Each client connection keeps its own: opened as its requests need them, kept while it lasts
//! (closed with it), and driven by the client connection's own task. An HTTP/1.1 client's
//! request and the upstream's answer so cross no other task, thread or shared pool, which is
//! what a pool shared by every connection costs on each request (its lock, a hand-off to the
//! connection's task and back). An HTTP/2 client's concurrent streams each take an idle
//! connection or open another; a load balancer's targets each have theirs. A WebSocket upgrade's
//! connection is its own task's: it outlives the exchange as a tunnel.
//!
//! A kept connection the upstream closes while idle is dropped when the close arrives; one it
//! closes as a request goes out, before the request was written, gets the request again on a new
//! connection, once (a request the upstream may have begun is never sent twice).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use futures_util::task::AtomicWaker;
use http::uri::Authority;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// The most idle connections a client connection keeps (its HTTP/2 streams' at their busiest).
const MAX_IDLE: usize = 8;
/// How long opening an upstream connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Error = Box<dyn std::error::Error + Send + Sync>;
type Driven = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One client connection's upstream connections (cheap to clone: its requests share them).
#[derive(Default, Clone)]
pub(crate) struct Upstreams(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// Connections waiting for a request, by the upstream they reach.
    idle: Mutex<Vec<(Authority, SendRequest<Full<Bytes>>)>>,
    /// Connections just opened, for [`Upstreams::alongside`] to take up.
    opened: Mutex<Vec<Driven>>,
    /// Wakes the client connection's task when one was opened.
    waker: AtomicWaker,
}

impl Upstreams {
    /// The upstream's answer to `request`: on an idle connection to it, or a new one.
    pub(crate) async fn send(
        &self,
        to: &Authority,
        mut request: http::Request<Full<Bytes>>,
        upgrade: bool,
    ) -> Result<http::Response<Incoming>, Error> {
        if !upgrade && let Some(mut sender) = self.take(to) {
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.keep(to, sender);
                    return Ok(response);
                }
                // Closed before the request went out: it goes on a new connection.
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(e.into_error().into()),
                },
            }
        }
        let mut sender = self.open(to, upgrade).await?;
        let response = sender.send_request(request).await?;
        if !upgrade {
            self.keep(to, sender);
        }
        Ok(response)
    }

    fn take(&self, to: &Authority) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|(_, s)| !s.is_closed());
        let at = idle.iter().position(|(a, s)| a == to && s.is_ready())?;
        Some(idle.swap_remove(at).1)
    }

    fn keep(&self, to: &Authority, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push((to.clone(), sender));
        }
    }

    /// A new connection to `to` (port 80 where it names none); an upgrade's runs as its own task.
    async fn open(&self, to: &Authority, upgrade: bool) -> Result<SendRequest<Full<Bytes>>, Error> {
        // `[::1]` names an IPv6 address in a URI, `::1` to a socket.
        let host = to.host().trim_start_matches('[').trim_end_matches(']');
        let address = (host, to.port_u16().unwrap_or(80));
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await??;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)).await?;
        let driven = async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "an upstream connection ended");
            }
        };
        if upgrade {
            tokio::spawn(driven);
        } else {
            self.0.opened.lock().unwrap_or_else(PoisonError::into_inner).push(Box::pin(driven));
            self.0.waker.wake();
        }
        Ok(sender)
    }

    /// Runs `served` (the client connection) and, alongside it in the same task, every upstream
    /// connection it opens; they end with it.
    pub(crate) async fn alongside<F: Future>(&self, served: F) -> F::Output {
        let mut running = FuturesUnordered::new();
        let drive = std::future::poll_fn(|cx| -> Poll<Infallible> {
            self.0.waker.register(cx.waker());
            running.extend(self.0.opened.lock().unwrap_or_else(PoisonError::into_inner).drain(..));
            // Ended connections leave the set; the rest wait on their sockets.
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            Poll::Pending
        });
        tokio::select! {
            biased;
            out = served => out,
            never = drive => match never {},
        }
    }
}
