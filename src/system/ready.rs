//! Waiting for a started system to be ready: a 2xx from a path, a line of its output, or
//! (by default) its port taking a connection — while watching that it has not exited.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

use super::process::{scan_for_line, tail, Group};
use super::SystemError;
use crate::client::transport::{http_transport, HttpTransportConfig, Transport};
use crate::scenario::system::ReadySpec;

/// How often readiness is tried.
const POLL: Duration = Duration::from_millis(50);

/// How long one try may take.
const TRY: Duration = Duration::from_secs(1);

/// What readiness is, resolved for one start.
#[derive(Debug)]
pub(super) enum Ready {
    /// A 2xx answer to GET of this URL.
    Get(String, Transport),
    /// This text in a line of the log.
    Line(String),
    /// A TCP connection to this `host:port`.
    Connect(String),
}

impl Ready {
    /// The check `spec` asks for, against the system at `url`.
    pub fn new(spec: Option<&ReadySpec>, url: &str) -> Result<Self, SystemError> {
        let uri: http::Uri = url.parse().map_err(|_| SystemError::Url(url.into()))?;
        Ok(match spec {
            Some(ReadySpec::Path(path)) => {
                let transport = http_transport(&HttpTransportConfig::default())
                    .map_err(|e| SystemError::Probe(e.to_string()))?;
                let base = url.trim_end_matches('/');
                Ready::Get(format!("{base}{path}"), transport)
            }
            Some(ReadySpec::Line { line }) => Ready::Line(line.clone()),
            None => {
                let host = uri.host().ok_or_else(|| SystemError::Url(url.into()))?;
                let port = uri
                    .port_u16()
                    .unwrap_or(if uri.scheme_str() == Some("https") {
                        443
                    } else {
                        80
                    });
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Ready::Connect(if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                })
            }
        })
    }

    /// What is waited for, for an error message.
    fn describe(&self) -> String {
        match self {
            Ready::Get(url, _) => format!("GET {url} never answered 2xx"),
            Ready::Line(line) => format!("no line of its output contained {line:?}"),
            Ready::Connect(addr) => format!("{addr} never accepted a connection"),
        }
    }

    /// One try; `offset` is where the log scan goes on from.
    async fn once(&self, log: &Path, offset: &mut u64) -> bool {
        match self {
            Ready::Get(url, transport) => {
                let Ok(req) = http::Request::get(url.as_str()).body(Bytes::new()) else {
                    return false;
                };
                let call = tower::ServiceExt::oneshot(transport.clone(), req);
                matches!(timeout(TRY, call).await, Ok(Ok(resp)) if resp.status().is_success())
            }
            Ready::Line(line) => {
                let (found, next) = scan_for_line(log, *offset, line);
                *offset = next;
                found
            }
            Ready::Connect(addr) => {
                matches!(
                    timeout(TRY, TcpStream::connect(addr.as_str())).await,
                    Ok(Ok(_))
                )
            }
        }
    }

    /// Tries until ready, the leader exits, or `limit` passes.
    pub async fn wait(
        &self,
        group: &mut Group,
        log: &Path,
        limit: Duration,
    ) -> Result<(), SystemError> {
        let deadline = Instant::now() + limit;
        let mut offset = 0;
        loop {
            if let Some(status) = group.exited() {
                return Err(SystemError::ExitedBeforeReady {
                    status: status.to_string(),
                    log: log.to_path_buf(),
                    tail: tail(log),
                });
            }
            if self.once(log, &mut offset).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SystemError::NotReady {
                    timeout: gauntlet_wire::duration::format_human(limit),
                    what: self.describe(),
                    log: log.to_path_buf(),
                    tail: tail(log),
                });
            }
            sleep(POLL).await;
        }
    }
}
