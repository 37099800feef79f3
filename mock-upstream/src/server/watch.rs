//! Per-connection timeouts, so a client cannot hold a connection (and its descriptor) forever:
//! a request head must arrive within the header-read timeout, and a connection with no request
//! in flight and no bytes moving is closed after the idle timeout.
//!
//! hyper has a header-read timeout of its own, but it does not tell a kept-alive connection
//! waiting for its next request from one trickling a head in, so it cannot also be the idle
//! timeout. Here the connection's socket is wrapped ([`Watched`]) to see bytes move, each
//! request holds an [`InFlight`] until its response body ends, and [`ConnWatch::expired`]
//! resolves when either timeout has run out; serve then drops the connection.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, sleep_until, Instant};

/// What one connection has done, as its timeouts see it.
#[derive(Debug)]
struct WatchState {
    /// Requests whose response has not ended yet.
    in_flight: usize,
    /// The last byte read or written, or the last response's end.
    last_activity: Instant,
    /// When the head of the next request began (the connection's accept, or its first byte
    /// after the last response); `None` once the head is complete or while nothing has come.
    head_since: Option<Instant>,
}

/// The timeouts of one connection, shared by its socket, its requests and its watchdog.
#[derive(Debug, Clone)]
pub(crate) struct ConnWatch {
    state: Arc<Mutex<WatchState>>,
    header_read: Duration,
    idle: Duration,
}

impl ConnWatch {
    /// A connection accepted now: its first head is due within `header_read`.
    pub(crate) fn new(header_read: Duration, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            state: Arc::new(Mutex::new(WatchState {
                in_flight: 0,
                last_activity: now,
                head_since: Some(now),
            })),
            header_read,
            idle,
        }
    }

    fn lock(&self) -> MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_read(&self) {
        let now = Instant::now();
        let mut s = self.lock();
        s.last_activity = now;
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(now);
        }
    }

    fn on_write(&self) {
        self.lock().last_activity = Instant::now();
    }

    /// A request's head is complete and its handler starts; the returned guard ends it.
    pub(crate) fn begin(&self) -> InFlight {
        let mut s = self.lock();
        s.in_flight += 1;
        s.head_since = None;
        InFlight(self.clone())
    }

    /// When the connection must be closed if nothing happens before: `None` while a request
    /// is in flight (the mock's own delays are not the client's idleness).
    fn deadline(&self) -> Option<Instant> {
        let s = self.lock();
        if s.in_flight > 0 {
            return None;
        }
        let idle = s.last_activity + self.idle;
        Some(match s.head_since {
            Some(since) => idle.min(since + self.header_read),
            None => idle,
        })
    }

    /// Resolves once a timeout has run out. Activity only moves the deadline later, so
    /// sleeping until it and checking again is enough.
    pub(crate) async fn expired(&self) {
        loop {
            match self.deadline() {
                Some(d) if d <= Instant::now() => return,
                Some(d) => sleep_until(d).await,
                None => sleep(self.idle).await,
            }
        }
    }
}

/// A request in flight on a watched connection; dropping it (when the response body ends, or
/// the request is abandoned) makes the connection idle again.
#[derive(Debug)]
pub(crate) struct InFlight(ConnWatch);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_activity = Instant::now();
    }
}

/// A response body that holds its request's [`InFlight`] until it ends.
pub(crate) struct Guarded {
    inner: Body,
    _in_flight: InFlight,
}

impl Guarded {
    pub(crate) fn wrap(inner: Body, in_flight: InFlight) -> Body {
        Body::new(Self {
            inner,
            _in_flight: in_flight,
        })
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket whose reads and writes count as activity.
pub(crate) struct Watched<T> {
    io: T,
    watch: ConnWatch,
}

impl<T> Watched<T> {
    pub(crate) fn new(io: T, watch: ConnWatch) -> Self {
        Self { io, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.on_read();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.on_write();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_and_header_deadlines_and_in_flight_requests() {
        let w = ConnWatch::new(Duration::from_secs(10), Duration::from_secs(60));
        let t0 = Instant::now();
        // A new connection owes its head within the header-read timeout.
        assert_eq!(w.deadline(), Some(t0 + Duration::from_secs(10)));
        let req = w.begin();
        assert_eq!(w.deadline(), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(req);
        // Answered and quiet: only the idle timeout runs.
        let t1 = Instant::now();
        assert_eq!(w.deadline(), Some(t1 + Duration::from_secs(60)));
        // A byte of the next head starts the header-read timeout again.
        w.on_read();
        assert_eq!(w.deadline(), Some(t1 + Duration::from_secs(10)));
    }
}
