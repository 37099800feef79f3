//! The proxy's config file: the `[client.*]` tables a scenario has (parsed by the same types and
//! checked by the same function as a scenario's, so a validated scenario is the production
//! config byte for byte) and a `[proxy]` table. A scenario file is accepted as it is: its other
//! tables are ignored, with one note on stderr. Unknown keys are errors with `path:line:col`.

use std::net::SocketAddr;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use mock_upstream::faults::load::toml_error;
use serde::Deserialize;

use crate::client::adapter::ApiVersion;
use crate::client::transport::ExtraRoots;
use crate::client::ClientConfig;
use crate::scenario::{invalid, invalid_key, validate_client, ConfigError};

/// A scenario's tables other than `[client]`, which the proxy reads past (and says so).
pub const SCENARIO_ONLY: [&str; 8] = [
    "name",
    "description",
    "seed",
    "duration",
    "upstream",
    "workload",
    "thresholds",
    "report",
];

/// The whole file. Scenario-only tables are read as opaque values so that a scenario parses
/// while any other unknown key is still an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyFile {
    #[serde(default)]
    client: ClientConfig,
    proxy: Option<ProxySpec>,
    name: Option<toml::Value>,
    description: Option<toml::Value>,
    seed: Option<toml::Value>,
    duration: Option<toml::Value>,
    upstream: Option<toml::Value>,
    workload: Option<toml::Value>,
    thresholds: Option<toml::Value>,
    report: Option<toml::Value>,
}

/// Who the caller is, for the limiter's fair share, the context layer's sessions and per-user
/// limits: the body's `user` field (OpenAI's own), or a header an API gateway in front sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerSource {
    /// The request body's `user` field.
    UserField,
    /// This request header (lower-cased).
    Header(http::HeaderName),
}

/// `[proxy]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxySpec {
    listen: Option<String>,
    upstream: Option<String>,
    upstream_key_env: Option<String>,
    caller: Option<String>,
    priority_header: Option<String>,
    max_body_bytes: Option<usize>,
    upstream_timeout: Option<HumanDuration>,
    upstream_ca: Option<String>,
    drain_timeout: Option<HumanDuration>,
}

/// The proxy's settings, validated.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The stack's tables, `adapter.base_url` set to `upstream`.
    pub client: ClientConfig,
    /// Where to listen (`127.0.0.1:8088` by default).
    pub listen: SocketAddr,
    /// The upstream's base URL.
    pub upstream: String,
    /// The environment variable holding the upstream key; `None` passes the caller's key on.
    pub upstream_key_env: Option<String>,
    /// Who the caller is.
    pub caller: CallerSource,
    /// The request header a caller marks its class with (`interactive`, the default, or
    /// `batch`), for the limiter's `priorities` and `deferral`: a nightly job sends `batch` and
    /// yields the quota to the people waiting.
    pub priority_header: http::HeaderName,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Bound on one proxied request's whole time in the stack (504 beyond); `None`: the stack's
    /// own timeouts only.
    pub upstream_timeout: Option<Duration>,
    /// How long in-flight requests get to finish after SIGTERM or Ctrl-C.
    pub drain_timeout: Duration,
    /// Roots trusted on top of the webpki roots for an `https://` upstream, read and checked when
    /// the file was parsed: `[proxy] upstream_ca` (or a scenario's `[client.transport] ca_file`).
    pub upstream_roots: ExtraRoots,
    /// Tables of a scenario that were read past.
    pub ignored: Vec<&'static str>,
}

/// Default `[proxy] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8088";
/// Default `[proxy] priority_header`.
pub const DEFAULT_PRIORITY_HEADER: &str = "x-gauntlet-priority";
/// Default `[proxy] max_body_bytes`: 4 MiB, room for long histories and a few images.
pub const DEFAULT_MAX_BODY: usize = 4 << 20;
/// The largest `max_body_bytes` accepted (a body is held whole while parsed).
pub const MAX_MAX_BODY: usize = 64 << 20;
/// Default `[proxy] drain_timeout`.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

impl ProxyConfig {
    /// Parses and checks config text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let file: ProxyFile = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
        let at = |key: &str, m: String| invalid_key(path, text, "proxy", key, m);
        validate_client(&file.client).map_err(|(table, m)| invalid(path, text, &table, m))?;
        check_proxy_mode(&file.client).map_err(|(table, m)| invalid(path, text, table, m))?;
        let spec = file.proxy.clone().ok_or_else(|| {
            invalid(
                path,
                text,
                "",
                "a [proxy] table with `upstream` is required".into(),
            )
        })?;
        let listen = spec.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen.parse().map_err(|e| {
            at(
                "listen",
                format!("proxy.listen {listen:?}: {e} (write IP:PORT)"),
            )
        })?;
        let upstream = spec.upstream.ok_or_else(|| {
            invalid(
                path,
                text,
                "proxy",
                "proxy.upstream: required (the API's base URL, like \"https://api.openai.com\")"
                    .into(),
            )
        })?;
        check_upstream(&upstream).map_err(|m| at("upstream", m))?;
        let upstream_roots = upstream_roots(spec.upstream_ca.as_deref(), &file.client).map_err(
            |(key, m)| match key {
                Some(key) => at(key, m),
                None => invalid(path, text, "client.transport", m),
            },
        )?;
        let caller = match spec.caller.as_deref() {
            None | Some("user") => CallerSource::UserField,
            Some(h) => CallerSource::Header(http::HeaderName::try_from(h).map_err(|_| {
                at(
                    "caller",
                    format!("proxy.caller {h:?}: `user` or a header name"),
                )
            })?),
        };
        let priority_header = spec
            .priority_header
            .as_deref()
            .unwrap_or(DEFAULT_PRIORITY_HEADER);
        let priority_header = http::HeaderName::try_from(priority_header).map_err(|_| {
            at(
                "priority_header",
                format!("proxy.priority_header {priority_header:?}: a header name"),
            )
        })?;
        let max_body_bytes = spec.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY);
        if max_body_bytes == 0 || max_body_bytes > MAX_MAX_BODY {
            return Err(at(
                "max_body_bytes",
                format!("proxy.max_body_bytes: 1 to {MAX_MAX_BODY}"),
            ));
        }
        let upstream_timeout = spec.upstream_timeout.map(|d| d.0);
        if upstream_timeout.is_some_and(|d| d.is_zero()) {
            return Err(at(
                "upstream_timeout",
                "proxy.upstream_timeout: must be more than 0".into(),
            ));
        }
        let mut client = file.client.clone();
        client.adapter.base_url = upstream.clone();
        Ok(Self {
            client,
            listen,
            upstream,
            upstream_key_env: spec.upstream_key_env,
            caller,
            priority_header,
            max_body_bytes,
            upstream_timeout,
            drain_timeout: spec.drain_timeout.map_or(DEFAULT_DRAIN, |d| d.0),
            upstream_roots,
            ignored: file.ignored(),
        })
    }

    /// Reads and checks a config file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }
}

impl ProxyFile {
    fn ignored(&self) -> Vec<&'static str> {
        let present = [
            self.name.is_some(),
            self.description.is_some(),
            self.seed.is_some(),
            self.duration.is_some(),
            self.upstream.is_some(),
            self.workload.is_some(),
            self.thresholds.is_some(),
            self.report.is_some(),
        ];
        SCENARIO_ONLY
            .iter()
            .zip(present)
            .filter_map(|(name, on)| on.then_some(*name))
            .collect()
    }
}

/// What a scenario may say but a proxy cannot do: the caller already holds a broken stream's
/// first chunks, so it cannot be restarted invisibly; the key comes from the environment, never
/// the file; and callers speak `/v1/chat/completions`, so the upstream must too.
fn check_proxy_mode(c: &ClientConfig) -> Result<(), (&'static str, String)> {
    if c.retry
        .as_ref()
        .is_some_and(|r| r.enabled && r.restart_broken_streams)
    {
        return Err((
            "client.retry",
            "client.retry.restart_broken_streams: not in a proxy (the caller already has the broken stream's first chunks); remove it".into(),
        ));
    }
    if c.adapter.api_key.is_some() {
        return Err((
            "client.adapter",
            "client.adapter.api_key: a proxy takes the upstream key from the environment only; name the variable with [proxy] upstream_key_env".into(),
        ));
    }
    if c.adapter.api != ApiVersion::OpenAiChat {
        return Err((
            "client.adapter",
            "client.adapter.api: a proxy forwards /v1/chat/completions as it is; only \"openai-chat\"".into(),
        ));
    }
    Ok(())
}

/// An upstream must be an `http://` or `https://` base URL.
fn check_upstream(upstream: &str) -> Result<(), String> {
    let uri: http::Uri = upstream
        .parse()
        .map_err(|e| format!("proxy.upstream {upstream:?}: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(format!(
            "proxy.upstream {upstream:?}: an http:// or https:// base URL"
        )),
    }
}

/// The extra roots: `upstream_ca` (relative to the working directory, like `ca_file`), or a
/// scenario's `[client.transport] ca_file`, read now so a bad file fails the start with a config
/// error naming it. Both at once are refused: one file says what the proxy trusts. The error's
/// key is `Some("upstream_ca")`, or `None` for `[client.transport]`.
fn upstream_roots(
    upstream_ca: Option<&str>,
    client: &ClientConfig,
) -> Result<ExtraRoots, (Option<&'static str>, String)> {
    let ca_file = client.transport.as_ref().and_then(|t| t.ca_file.as_ref());
    match (upstream_ca, ca_file) {
        (Some(_), Some(other)) => Err((
            Some("upstream_ca"),
            format!(
                "proxy.upstream_ca: [client.transport] ca_file ({}) names a CA file too; give it once, as upstream_ca",
                other.display()
            ),
        )),
        (Some(ca), None) => ExtraRoots::from_file(std::path::Path::new(ca))
            .map_err(|e| (Some("upstream_ca"), format!("proxy.upstream_ca: {e}"))),
        (None, _) => client
            .extra_roots()
            .map_err(|e| (None, format!("client.transport.ca_file: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "[proxy]\nupstream = \"http://127.0.0.1:9\"\n";

    #[test]
    fn defaults_and_a_scenario_file_are_accepted() {
        let c = ProxyConfig::parse(OK, "p.toml").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.client.adapter.base_url, "http://127.0.0.1:9");
        assert_eq!(c.caller, CallerSource::UserField);
        assert_eq!(c.priority_header.as_str(), DEFAULT_PRIORITY_HEADER);
        assert!(c.ignored.is_empty());
        let scenario = format!("name = \"x\"\nduration = \"2s\"\n[workload]\nstages = []\n{OK}");
        let c = ProxyConfig::parse(&scenario, "p.toml").unwrap();
        assert_eq!(c.ignored, ["name", "duration", "workload"]);
    }

    #[test]
    fn the_example_config_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/proxy.toml");
        let c = ProxyConfig::load(std::path::Path::new(path)).unwrap();
        assert_eq!(c.upstream_timeout, Some(Duration::from_secs(60)));
        assert!(c.client.cache.is_some());
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let e = ProxyConfig::parse(&format!("{OK}colour = 1\n"), "p.toml").unwrap_err();
        assert!(e.to_string().starts_with("p.toml:3:1"), "{e}");
        let e = ProxyConfig::parse(&format!("{OK}listen = \"nowhere\"\n"), "p.toml").unwrap_err();
        assert!(e.to_string().starts_with("p.toml:3:1: proxy.listen"), "{e}");
        let e =
            ProxyConfig::parse(&format!("{OK}priority_header = \"a b\"\n"), "p.toml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.toml:3:1: proxy.priority_header"),
            "{e}"
        );
        let e = ProxyConfig::parse("[client.retry]\nrestart_broken_streams = true\n", "p.toml")
            .unwrap_err();
        assert!(e.to_string().starts_with("p.toml:1:1"), "{e}");
        let e = ProxyConfig::parse(
            &format!("{OK}upstream_ca = \"/nonexistent/ca.pem\"\n"),
            "p.toml",
        )
        .unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("p.toml:3:1: proxy.upstream_ca: /nonexistent/ca.pem: cannot read"),
            "{e}"
        );
        let both =
            format!("[client.transport]\nca_file = \"a.pem\"\n{OK}upstream_ca = \"b.pem\"\n");
        let e = ProxyConfig::parse(&both, "p.toml").unwrap_err().to_string();
        assert!(e.contains("names a CA file too; give it once"), "{e}");
        let e = ProxyConfig::parse(
            &format!("[client.transport]\nca_file = \"/nonexistent/c.pem\"\n{OK}"),
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("p.toml:1:1: client.transport.ca_file: /nonexistent/c.pem"),
            "{e}"
        );
    }
}
