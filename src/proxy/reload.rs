//! SIGHUP reloads the proxy's config: the file is read and checked again, a new stack is built
//! from it and swapped in for the requests that arrive from then on. A request holds the stack it
//! started on (an `Arc`), so in-flight requests finish on the old one, which is dropped when the
//! last of them ends. A file that does not load or a stack that does not build is refused with a
//! logged error naming the file (line and column for a config error), and the running one is kept.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::Request;
use axum::Router;
use tower::ServiceExt;

use super::config::ProxyConfig;
use super::metrics::ProxyMetrics;
use super::server::{router, App, StartError};
use crate::scenario::ConfigError;

/// What the server reads its stack (and whatever else a reload replaces) from, once per request.
///
/// Why not a plain `Arc<T>`: a reload must replace it for new requests while old ones keep theirs;
/// a read lock held only for the clone of an `Arc` is uncontended in practice (a writer comes once
/// per SIGHUP), which keeps the request path free of a new dependency.
#[derive(Debug)]
pub struct Live<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Live<T> {
    /// Starts with `first`.
    pub fn new(first: T) -> Self {
        Self {
            current: RwLock::new(Arc::new(first)),
        }
    }

    /// The current value, for one request: keep the `Arc` for the request's whole life.
    pub fn get(&self) -> Arc<T> {
        // A panic while the write lock was held cannot leave a half-written Arc: take it as is.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in `next` for requests from now on; returns the old one (dropped when its last
    /// in-flight request ends).
    pub fn replace(&self, next: T) -> Arc<T> {
        let next = Arc::new(next);
        let mut slot = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, next)
    }
}

/// What one reload did, for the log line and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The new config is serving.
    Applied,
    /// The new config was refused; the message says why, the old one still serves.
    Refused(String),
}

/// Loads a new value with `load` and, when it succeeds, swaps it in. Logs the result on stderr
/// (one line) and returns it.
pub fn reload_once<T, E: Display>(live: &Live<T>, load: impl FnOnce() -> Result<T, E>) -> Reloaded {
    match load() {
        Ok(next) => {
            live.replace(next);
            eprintln!("gauntlet proxy: SIGHUP: config reloaded; new requests use the new stack");
            Reloaded::Applied
        }
        Err(e) => {
            let msg = e.to_string();
            eprintln!("gauntlet proxy: SIGHUP: reload refused, the running config is kept: {msg}");
            Reloaded::Refused(msg)
        }
    }
}

/// Why the SIGHUP handler could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("gauntlet proxy: cannot listen for SIGHUP: {0}")]
pub struct SignalError(#[from] std::io::Error);

/// Spawns the task that reloads on every SIGHUP until the runtime ends. `load` reads the file
/// and builds everything a reload replaces; it runs on a blocking thread (it reads a file and may
/// open Redis connections), one reload at a time, so two quick SIGHUPs apply in order.
#[cfg(unix)]
pub fn spawn_on_sighup<T, E, F>(live: Arc<Live<T>>, load: F) -> Result<(), SignalError>
where
    T: Send + Sync + 'static,
    E: Display + 'static,
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
{
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    let load = Arc::new(load);
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let (live, load) = (live.clone(), load.clone());
            let joined = tokio::task::spawn_blocking(move || {
                reload_once(&live, || load());
            })
            .await;
            if joined.is_err() {
                eprintln!(
                    "gauntlet proxy: SIGHUP: the reload panicked; the running config is kept"
                );
            }
        }
    });
    Ok(())
}

/// Off Unix there is no SIGHUP: the proxy serves the config it started with until it is
/// restarted, so there is nothing to install.
#[cfg(not(unix))]
pub fn spawn_on_sighup<T, E, F>(_live: Arc<Live<T>>, _load: F) -> Result<(), SignalError>
where
    T: Send + Sync + 'static,
    E: Display + 'static,
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
{
    Ok(())
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file did not read or check: the message names it, with line and column.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The stack did not build from it (a Redis URL that does not parse, an unset key variable).
    #[error("{0}")]
    Start(#[from] StartError),
}

/// What the command line sets over the file: it wins at start and at every reload alike, so a
/// proxy started with `--upstream MOCK` never turns to the file's upstream on a SIGHUP.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--upstream`.
    pub upstream: Option<String>,
}

impl CommandLine {
    /// Sets what was given over `config`'s values.
    pub fn apply(&self, config: &mut ProxyConfig) {
        if let Some(l) = self.listen {
            config.listen = l;
        }
        if let Some(upstream) = &self.upstream {
            config.client.adapter.base_url = upstream.clone();
            config.upstream = upstream.clone();
        }
    }
}

/// Reads `path` again and builds the router a reload swaps in, with the command line's values
/// over the file's, as at start. The listening socket is not moved: a new `[proxy] listen` is
/// noted and takes effect at the next start. The new stack counts into the running `metrics`,
/// so `/metrics` counters go on rising across a reload instead of falling back to zero.
pub fn loader(
    path: PathBuf,
    command_line: CommandLine,
    serving_on: SocketAddr,
    metrics: Arc<ProxyMetrics>,
) -> impl Fn() -> Result<Router, ReloadError> + Send + Sync + 'static {
    move || {
        let mut config = ProxyConfig::load(&path)?;
        command_line.apply(&mut config);
        if config.listen != serving_on && config.listen.port() != 0 {
            eprintln!(
                "gauntlet proxy: SIGHUP: [proxy] listen {} takes effect at the next start; still serving {serving_on}",
                config.listen
            );
        }
        Ok(router(Arc::new(App::with_metrics(
            config,
            metrics.clone(),
        )?)))
    }
}

/// A router that sends each request to the current one of `live`: the request keeps that
/// router (and so its stack) until its answer is done, whatever reloads meanwhile.
pub fn live_router(live: Arc<Live<Router>>) -> Router {
    Router::new().fallback_service(tower::service_fn(move |req: Request| {
        let current = live.get();
        async move { (*current).clone().oneshot(req).await }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_keeps_the_value_it_started_on() {
        let live = Live::new("old");
        let in_flight = live.get();
        let old = live.replace("new");
        assert_eq!(*in_flight, "old");
        assert_eq!(*old, "old");
        assert_eq!(*live.get(), "new");
        // The old value lives exactly as long as the requests that hold it.
        drop(old);
        assert_eq!(Arc::strong_count(&in_flight), 1);
    }

    #[test]
    fn a_failed_load_keeps_the_running_value() {
        let live = Live::new(1);
        let r = reload_once(&live, || Err::<i32, _>("scenario.toml:3:7: bad rate"));
        assert_eq!(r, Reloaded::Refused("scenario.toml:3:7: bad rate".into()));
        assert_eq!(*live.get(), 1);
        assert_eq!(reload_once(&live, || Ok::<_, String>(2)), Reloaded::Applied);
        assert_eq!(*live.get(), 2);
    }

    #[tokio::test]
    async fn a_sighup_reloads() {
        let live = Arc::new(Live::new(0u32));
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = calls.clone();
        spawn_on_sighup(live.clone(), move || {
            Ok::<_, String>(seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1)
        })
        .unwrap();
        // The handler is installed above, so the signal cannot end this test process.
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        // Bounded: 200 polls, 10 ms apart.
        for _ in 0..200 {
            if *live.get() == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the SIGHUP was not applied");
    }
}
