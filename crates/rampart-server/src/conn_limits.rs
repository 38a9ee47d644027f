//! Connection-level defences: a connection must send its first byte within the header-read
//! timeout (one that never does is closed: HTTP/1's header timeout only starts once hyper reads a
//! request, and the protocol detection before it waits forever), and connections are capped in
//! total and per source address, so that idle sockets cannot exhaust the server's descriptors.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Open connections, in total and per source address.
#[derive(Debug)]
pub struct Limits {
    total: usize,
    per_source: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    limits: Arc<Limits>,
    source: IpAddr,
}

impl Limits {
    pub fn new(total: usize, per_source: usize) -> Arc<Self> {
        Arc::new(Self { total, per_source, open: Mutex::new((0, HashMap::new())) })
    }

    /// Admits a connection from `source`, or refuses it (`None`) when the server or that source
    /// is at its limit.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_source = open.1.get(&source).copied().unwrap_or(0);
        if open.0 >= self.total || from_source >= self.per_source {
            return None;
        }
        open.0 += 1;
        open.1.insert(source, from_source + 1);
        Some(Admitted { limits: self.clone(), source })
    }
}

/// The next connection the limits admit, with `TCP_NODELAY` set. A failed accept (out of
/// descriptors and the like) backs off instead of spinning; a connection over the limits is
/// closed at once, as a front end sheds load. Cancel-safe: a `select!` may drop it.
pub async fn accept(
    listener: &TcpListener,
    limits: &Arc<Limits>,
    refused: &(dyn Fn(IpAddr) + Sync),
) -> (TcpStream, SocketAddr, Admitted) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Some(admitted) = limits.admit(peer.ip()) else {
                    tracing::debug!(source = %peer.ip(), "connection refused: too many open connections");
                    refused(peer.ip());
                    continue;
                };
                let _ = stream.set_nodelay(true);
                return (stream, peer, admitted);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.1.remove(&self.source);
            }
        }
    }
}

/// A stream whose first byte must arrive before a deadline; a read still waiting for it then
/// fails with `TimedOut`, which closes the connection. Later reads are not limited here.
pub struct FirstByte<S> {
    inner: S,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> FirstByte<S> {
    pub fn new(inner: S, within: Duration) -> Self {
        Self { inner, deadline: Some(Box::pin(tokio::time::sleep(within))) }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstByte<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.deadline.is_none() {
            return polled;
        }
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.deadline = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request arrived within the header-read timeout",
                ))),
                _ => Poll::Pending,
            },
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstByte<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_source_and_in_total_and_free_on_drop() {
        let l = Limits::new(3, 2);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let a1 = l.admit(a);
        let a2 = l.admit(a);
        assert!(a1.is_some() && a2.is_some());
        assert!(l.admit(a).is_none(), "a third from one source");
        let b1 = l.admit(b);
        assert!(b1.is_some());
        assert!(l.admit(b).is_none(), "a fourth in total");
        drop(a1);
        assert!(l.admit(b).is_some(), "a freed place is reused");
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(64);
        let mut silent = FirstByte::new(server, Duration::from_millis(50));
        let mut buf = [0u8; 8];
        let e = silent.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        let mut talking = FirstByte::new(server, Duration::from_millis(50));
        client.write_all(b"GET").await.unwrap();
        assert_eq!(talking.read(&mut buf).await.unwrap(), 3);
        // Once it has spoken, a pause is not this wrapper's to cut.
        tokio::time::sleep(Duration::from_millis(80)).await;
        client.write_all(b" /").await.unwrap();
        assert_eq!(talking.read(&mut buf).await.unwrap(), 2);
    }
}
