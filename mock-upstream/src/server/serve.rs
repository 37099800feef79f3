//! Serving the router over TCP, with the one thing axum's `serve` cannot do: close a connection
//! without answering, which is how [`super::ResetConnection`] faults reach a real client.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::head_limits::HYPER_MAX_BUF_SIZE;
use super::watch::{ConnWatch, Guarded, Watched};
use super::ResetConnection;

/// How connections are bounded, so that a mock left running cannot be held by slow or idle
/// clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection must send a complete request head within this, counted from its accept or
    /// from the first byte after its last response (slow-loris clients are closed).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; beyond it, new ones are not accepted until one closes (they
    /// wait in the kernel's accept queue).
    pub max_connections: usize,
}

/// Default header-read timeout: generous for any real client, short for a slow-loris.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle timeout: longer than common client pools keep idle connections (reqwest: 90 s),
/// so the client, not the mock, usually closes first.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default connection cap: room for a load generator's hundreds of connections at once, while
/// the idle timeout keeps abandoned ones from piling up to it (raise `ulimit -n` to match).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Accepting connections failed for good.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] std::io::Error),
}

/// The error hyper gets for a reset fault: it then drops the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by mock-upstream (injected fault)")]
struct InjectedReset;

/// Connections the kernel may hold for `accept`. A load generator that starts at a high rate
/// opens hundreds of connections at once; with tokio's default (1024) the queue overflowed
/// here, the kernel dropped the handshakes, and the clients' SYN retransmission timer (1 s,
/// then 3 s) turned into seconds of latency that were the mock's, not the fault config's.
/// The kernel caps it at `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 65_535;

/// A listener on `addr` with a deep accept queue (65 535, capped by `net.core.somaxconn`), so a
/// load generator's opening burst of connections is not dropped and retried by SYN timers.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's `TcpListener::bind` does: a restarted mock may take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// How long in-flight requests get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` with [`ServeOptions::default`] until `shutdown` completes, then
/// lets open requests finish for a few seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with(listener, app, ServeOptions::default(), shutdown).await
}

/// [`serve`] with the connection bounds given.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let graceful = GracefulShutdown::new();
    let builder = builder();
    let slots = Arc::new(Semaphore::new(
        options.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    tokio::pin!(shutdown);
    loop {
        // A slot first: beyond the cap, connections wait in the kernel's queue, not here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => return Err(ServeError::Accept(e)),
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let watch = ConnWatch::new(options.header_read_timeout, options.idle_timeout);
        let service = connection_service(app.clone(), watch.clone());
        let io = TokioIo::new(Watched::new(stream, watch.clone()));
        let conn = builder.serve_connection_with_upgrades(io, service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            // Dropping the connection closes it: on a timeout nothing is in flight to lose.
            tokio::select! {
                _ = conn => {}
                () = watch.expired() => {}
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {}
    }
    Ok(())
}

/// hyper's connection builder, with a read buffer large enough that heads over the mock's own
/// limits reach [`super::head_limits`] and get a JSON answer instead of hyper's bare 431.
fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().max_buf_size(HYPER_MAX_BUF_SIZE);
    builder
}

/// The service of one connection: each request holds the connection's in-flight mark until its
/// response body ends, and a reset fault becomes an error, on which hyper drops the connection.
fn connection_service(
    app: Router,
    watch: ConnWatch,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = InjectedReset,
    Future = impl Future<Output = Result<axum::response::Response, InjectedReset>> + Send,
> + Clone {
    hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        let in_flight = watch.begin();
        async move {
            let resp = match app.oneshot(req.map(Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.extensions().get::<ResetConnection>().is_some() {
                Err(InjectedReset)
            } else {
                Ok(resp.map(|body| Guarded::wrap(body, in_flight)))
            }
        }
    })
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e
        .raw_os_error()
        .is_some_and(|code| code == 24 || code == 23)
}
