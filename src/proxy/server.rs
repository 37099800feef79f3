//! The server: the stack built from the config, the router, and serving with a bounded drain.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use gauntlet_client::transport::{http_transport, HttpTransportConfig, Transport};
use gauntlet_client::{ChatRequest, ClientStack, Priority, StackError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::config::{CallerSource, ProxyConfig};
use super::health::Health;
use super::metrics::ProxyMetrics;
use super::routes;
use super::routes_error::ProxyError;

/// "Recently" for `/readyz`.
const READY_WINDOW: Duration = Duration::from_secs(30);

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The stack's tables did not build.
    #[error("client stack: {0}")]
    Stack(#[from] StackError),
    /// `upstream_key_env` names a variable that is not set.
    #[error("[proxy] upstream_key_env: the environment variable {0} is not set (or empty)")]
    NoKey(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A non-loopback address without `--allow-remote`.
    #[error("listen {0} is not a loopback address; add --allow-remote to serve it")]
    Remote(SocketAddr),
}

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// The stack every completion goes through.
    pub stack: ClientStack,
    /// The settings.
    pub config: ProxyConfig,
    /// Counters for `/metrics`.
    pub metrics: Arc<ProxyMetrics>,
    /// For `/readyz`.
    pub health: Health,
    /// For the pass-through GETs (the stack's own, shared: same roots, same connections).
    pub transport: Transport,
    /// `retry-after` of a limiter refusal and of an open breaker.
    pub hints: (Duration, Duration),
    upstream_key: Option<String>,
    next_id: AtomicU64,
    id_base: u64,
}

impl App {
    /// The stack and state of `config`; the upstream key read from the environment now.
    pub fn new(config: ProxyConfig) -> Result<Self, StartError> {
        Self::with_metrics(config, Arc::new(ProxyMetrics::new()))
    }

    /// As [`App::new`], counting into `metrics`: a reload's new app keeps the running counters.
    pub fn with_metrics(
        config: ProxyConfig,
        metrics: Arc<ProxyMetrics>,
    ) -> Result<Self, StartError> {
        let upstream_key = match &config.upstream_key_env {
            Some(var) => Some(
                std::env::var(var)
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| StartError::NoKey(var.clone()))?,
            ),
            None => None,
        };
        // One transport, trusting `upstream_ca`, for the stack and the pass-through GETs alike.
        let transport = http_transport(&HttpTransportConfig {
            http2_only: config.client.adapter.http2,
            extra_roots: config.upstream_roots.clone(),
            ..HttpTransportConfig::default()
        })
        .map_err(StackError::from)?;
        let stack = ClientStack::builder(&config.client)
            .transport(transport.clone())
            .observer(metrics.observer())
            .build()?;
        let limiter_hint = config
            .client
            .limiter
            .as_ref()
            .filter(|l| l.enabled)
            .map(|l| l.rate.per_sec())
            .filter(|r| *r > 0.0)
            .map_or(Duration::from_secs(1), |r| {
                Duration::from_secs_f64((1.0 / r).clamp(0.001, 60.0))
            });
        let breaker_hint = config
            .client
            .breaker
            .as_ref()
            .map_or(Duration::from_secs(1), |b| {
                b.open_for.0.min(Duration::from_secs(3600))
            });
        let id_base = gauntlet_wire::hash::stable_hash(&id_seed());
        // Only now that it built: a refused reload leaves the running stack's figures alone.
        metrics.new_stack();
        Ok(Self {
            stack,
            config,
            metrics,
            health: Health::new(READY_WINDOW),
            transport,
            hints: (limiter_hint, breaker_hint),
            upstream_key,
            next_id: AtomicU64::new(0),
            id_base,
        })
    }

    /// The caller's `x-request-id` when it is a sane one, else a new one.
    pub fn request_id(&self, headers: &HeaderMap) -> String {
        if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
            if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
                return id.to_string();
            }
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        generated_id(self.id_base, n)
    }

    /// The key sent upstream: the environment's, or the caller's bearer passed on.
    pub fn key_for(&self, headers: &HeaderMap) -> Option<String> {
        self.upstream_key.clone().or_else(|| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        })
    }

    /// Sets who the caller is (for fair share, context and per-user limits), its class and the
    /// key; a class header naming no class is refused, so a typo does not pass as interactive.
    pub fn identify(
        &self,
        headers: &HeaderMap,
        req: &mut ChatRequest,
    ) -> Result<(), Box<ProxyError>> {
        if let CallerSource::Header(name) = &self.config.caller {
            req.user = headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect());
        }
        req.session = req.user.clone();
        req.api_key = self.key_for(headers);
        if let Some(value) = headers.get(&self.config.priority_header) {
            req.priority = priority(value).ok_or_else(|| {
                let name = self.config.priority_header.as_str();
                Box::new(ProxyError::bad_request(
                    format!("The {name} header must be `interactive` or `batch`"),
                    Some(name),
                ))
            })?;
        }
        Ok(())
    }
}

/// The class a priority header names, in any case.
fn priority(value: &http::HeaderValue) -> Option<Priority> {
    let text = value.to_str().ok()?.trim();
    Priority::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(text))
}

/// What a stack's request ids start from: the start time to the nanosecond, the pid and how many
/// stacks this process built before, so two replicas started in the same second (in containers
/// both are pid 1), two proxies in one process, or a reload, do not hand out the same ids.
fn id_seed() -> [u8; 24] {
    static BUILT: AtomicU64 = AtomicU64::new(0);
    let mut seed = [0; 24];
    seed[..8].copy_from_slice(&crate::wall_clock::epoch_nanos().to_le_bytes());
    seed[8..16].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    seed[16..].copy_from_slice(&BUILT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    seed
}

/// The proxy's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(routes::chat))
        .route("/v1/responses", post(routes::responses))
        .route("/v1/embeddings", post(routes::embeddings))
        .route("/v1/models", get(routes::models))
        .route("/v1/models/{id}", get(routes::model))
        .route("/metrics", get(routes::metrics))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .with_state(app)
}

/// Serves until `shutdown`, then lets in-flight requests finish for up to `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    drain: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = oneshot::channel();
    // Without TCP_NODELAY a streamed answer's small writes wait on the caller's delayed ACK
    // (about 40 ms on Linux): measured as +42 ms of TTFT by benches/proxy_ttft.sh.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    tokio::select! {
        r = server.into_future() => r,
        () = async {
            if rx.await.is_ok() {
                tokio::time::sleep(drain).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            eprintln!("gauntlet proxy: drain timeout ({drain:?}) reached; in-flight requests cut off");
            Ok(())
        }
    }
}

/// Binds `addr` (loopback only unless `allow_remote`).
pub fn bind(addr: SocketAddr, allow_remote: bool) -> Result<TcpListener, StartError> {
    if !allow_remote && !addr.ip().is_loopback() {
        return Err(StartError::Remote(addr));
    }
    mock_upstream::server::listen(addr).map_err(|source| StartError::Listen { addr, source })
}

/// A proxy serving in the background of the current runtime (tests, embedding); stops when
/// dropped.
#[derive(Debug)]
pub struct RunningProxy {
    /// `http://ADDR`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (its stack, metrics).
    pub app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningProxy {
    /// Builds and serves `config` on its `listen` address.
    pub fn start(config: ProxyConfig, allow_remote: bool) -> Result<Self, StartError> {
        let listener = bind(config.listen, allow_remote)?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let drain = config.drain_timeout;
        let app = Arc::new(App::new(config)?);
        let (tx, rx) = oneshot::channel::<()>();
        let router = router(app.clone());
        tokio::spawn(serve(listener, router, drain, async move {
            let _ = rx.await;
        }));
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            app,
            stop: Some(tx),
        })
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// `req_`, `base` in 16 lower-case hex digits and `n` in at least 8, exactly as
/// `format!("req_{base:016x}{n:08x}")` writes it, by hand: `format!` was more than a tenth of
/// the proxy's own work on a request.
fn generated_id(base: u64, n: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n_digits = (64 - n.leading_zeros()).div_ceil(4).max(8);
    let mut id = String::with_capacity(4 + 16 + n_digits as usize);
    id.push_str("req_");
    let mut push = |v: u64, digits: u32| {
        for shift in (0..digits).rev() {
            id.push(char::from(HEX[((v >> (shift * 4)) & 0xf) as usize]));
        }
    };
    push(base, 16);
    push(n, n_digits);
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generated_id_is_what_format_writes() {
        for (base, n) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (0x0123_4567_89ab_cdef, 0xfff_ffff),
            (1, 0x1_0000_0000),
        ] {
            assert_eq!(
                super::generated_id(base, n),
                format!("req_{base:016x}{n:08x}")
            );
        }
    }

    /// Two stacks built by one process in the same nanosecond, as a test or a reload may, still
    /// start their ids apart.
    #[test]
    fn two_stacks_never_share_an_id_seed() {
        let seeds: Vec<_> = (0..100).map(|_| super::id_seed()).collect();
        let mut bases: Vec<u64> = seeds
            .iter()
            .map(|s| gauntlet_wire::hash::stable_hash(s))
            .collect();
        bases.sort_unstable();
        bases.dedup();
        assert_eq!(bases.len(), 100);
    }
}
