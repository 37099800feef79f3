//! The HTTP transport: plain HTTP/1.1 over connection pools of its own (`http1_pool`), HTTPS
//! and HTTP/2 over hyper-util's pooled client (rustls with the `ring` provider and webpki
//! roots, so no system certificate store or C toolchain is needed; extra roots, a company or test
//! CA, come from [`HttpTransportConfig::extra_roots`]).
//!
//! A transport may hold several connection pools, one per driver thread: a connection's task
//! runs on the runtime that opened it, so a request from another thread's runtime would cross
//! threads twice (there and back) for every exchange. Each thread says which pool is its own
//! with [`use_pool`]; threads that never say use the first.

use std::cell::Cell;
use std::time::Duration;

use futures_util::future::Either;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::http1_pool::Http1Pool;
use super::roots::ExtraRoots;
use super::{Transport, TransportError};

/// Connection-pool settings.
#[derive(Debug, Clone)]
pub struct HttpTransportConfig {
    /// Idle HTTPS and HTTP/2 connections kept per host. Unbounded by default: a connection
    /// closed only because more than N were idle after a burst must be opened again at the next
    /// one, and under a high open-model rate that churn (a `connect` and a socket in TIME_WAIT
    /// each) fed on itself until the kernel's search for a free local port took most of the
    /// CPU. Plain HTTP/1.1 connections (`http1_pool`) are never capped: they are as many as
    /// the most requests ever in flight at once.
    pub max_idle_per_host: usize,
    /// How long an idle HTTPS or HTTP/2 connection is kept. A plain HTTP/1.1 connection is kept
    /// until the server closes it or the transport is dropped.
    pub idle_timeout: Duration,
    /// Speak HTTP/2 only (with prior knowledge for `http://`, ALPN for `https://`).
    pub http2_only: bool,
    /// Longest wait for a TCP connection; a slower one fails as a connect error, which is retried.
    pub connect_timeout: Duration,
    /// Connection pools: one per thread that runs its own runtime (the driver's threads).
    pub pools: usize,
    /// Root certificates trusted on top of the webpki roots for `https://` upstreams (the
    /// proxy's `upstream_ca`, `[client.transport] ca_file`); none by default.
    pub extra_roots: ExtraRoots,
}

thread_local! {
    static POOL: Cell<usize> = const { Cell::new(0) };
}

/// Makes HTTP calls made on this thread use connection pool `index` of every transport (modulo
/// its number of pools). A thread that runs a current-thread runtime of its own calls this
/// once, so its requests go over connections whose tasks run on that same runtime.
pub fn use_pool(index: usize) {
    POOL.with(|p| p.set(index));
}

impl Default for HttpTransportConfig {
    fn default() -> Self {
        Self {
            max_idle_per_host: usize::MAX,
            idle_timeout: Duration::from_secs(90),
            http2_only: false,
            connect_timeout: Duration::from_secs(10),
            pools: 1,
            extra_roots: ExtraRoots::default(),
        }
    }
}

/// A pooled HTTP/1.1 keep-alive (or HTTP/2) client for any base URL, `https` included.
pub fn http_transport(config: &HttpTransportConfig) -> Result<Transport, TransportError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(config.connect_timeout));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(&config.extra_roots)?)
        .https_or_http();
    let https = if config.http2_only {
        builder.enable_http2().wrap_connector(http.clone())
    } else {
        builder.enable_all_versions().wrap_connector(http.clone())
    };
    // Plain `http://` (the mock, a local proxy) skips the TLS wrapper: its connector and futures
    // are several times smaller, which is most of the client's own cost per request.
    // Plain HTTP/1.1 takes the transport's own pool (see `http1_pool`).
    let http2_only = config.http2_only;
    let pools: Box<[_]> = (0..config.pools.max(1))
        .map(|_| {
            let tls: Client<_, Full<Bytes>> = pooled(config).build(https.clone());
            let h2c: Client<_, Full<Bytes>> = pooled(config).build(http.clone());
            (tls, h2c, Http1Pool::new(config.connect_timeout))
        })
        .collect();
    Ok(Transport::new(move |req: http::Request<Bytes>| {
        let (tls, h2c, http1) = &pools[POOL.with(Cell::get) % pools.len()];
        // The response future owns what it needs: no per-request clone of the client.
        let req = req.map(Full::new);
        // A TLS failure's message names the origin; only `https://` can have one.
        let mut origin = None;
        let pending = if req.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            origin = req.uri().authority().cloned();
            Either::Left(tls.request(req))
        } else if http2_only {
            Either::Left(h2c.request(req))
        } else {
            Either::Right(http1.clone().send(req))
        };
        async move {
            match pending {
                Either::Left(pending) => {
                    let resp = pending.await.map_err(|e| classify(&e, origin.as_ref()))?;
                    Ok(resp.map(|b| b.map_err(|e| Box::new(e) as super::BoxError).boxed_unsync()))
                }
                Either::Right(sent) => sent.await,
            }
        }
    }))
}

fn pooled(config: &HttpTransportConfig) -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_max_idle_per_host(config.max_idle_per_host)
        .pool_idle_timeout(config.idle_timeout)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .http2_only(config.http2_only);
    builder
}

/// The rustls client config: TLS 1.2 and 1.3 with the `ring` provider, verifying servers
/// against the webpki roots and `extra`.
fn tls_config(extra: &ExtraRoots) -> Result<rustls::ClientConfig, TransportError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Other(format!("TLS setup: {e}")))?
        .with_root_certificates(extra.root_store())
        .with_no_client_auth();
    Ok(config)
}

/// A failed exchange as the adapter reads it. A TLS failure is [`TransportError::Tls`], its
/// message with rustls' own words and the origin: `TLS: invalid peer certificate:
/// UnknownIssuer (localhost:8443)`, where hyper's chain alone reads "client error (Connect)".
fn classify(
    e: &hyper_util::client::legacy::Error,
    origin: Option<&http::uri::Authority>,
) -> TransportError {
    if let Some(tls) = tls_cause(e) {
        let at = origin.map(|o| format!(" ({o})")).unwrap_or_default();
        return TransportError::Tls(format!("TLS: {tls}{at}"));
    }
    let text = super::error_chain(e);
    let parse = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(|h| h.is_parse() || h.is_parse_status());
    if e.is_connect() {
        TransportError::Connect(text)
    } else if parse {
        TransportError::Malformed(text)
    } else {
        TransportError::Reset(text)
    }
}

/// The rustls error somewhere under `e`. hyper-rustls hands it up inside an `io::Error` inside
/// another, and an `io::Error`'s `source()` skips the error it wraps, so the walk looks into
/// each `io::Error` as well as following `source()`.
fn tls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    // A chain is a handful of errors; the bound only keeps a pathological one finite.
    for _ in 0..16 {
        let err = next?;
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}
