//! `[system]`: the system under test — a gateway or an app, in any language, that stands
//! between the driver and the embedded mock. Gauntlet can start it (`command`), tell it where
//! the mock is (`{mock_url}`), wait until it is ready and stop it at the end; the driver then
//! sends to `url` and the mock sees what the system did to the upstream.
//!
//! Only the shape and the values are checked here; starting it is `crate::system`'s job.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// The placeholders `url`, `command`, `env` and `cwd` may use: one list, which the docs, the
/// checks and the substitution all read.
pub const PLACEHOLDERS: [&str; 3] = ["{mock_url}", "{mock_port}", "{port}"];

/// The placeholders a request template's body and path may use.
pub const REQUEST_PLACEHOLDERS: [&str; 4] = ["{prompt}", "{session}", "{user}", "{model}"];

/// Longest `ready_timeout` or `stop_timeout` accepted: a typo (`"300m"`) must not hang CI.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// `[system]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    /// Where the system listens: the driver's base URL (`http://127.0.0.1:{port}`).
    pub url: String,
    /// What starts it; absent, it is already running at `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandSpec>,
    /// Environment added to Gauntlet's own for the command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The command's working directory; [`Scenario::load`](super::Scenario::load) makes a relative
    /// one relative to the scenario file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// When the started system counts as ready; absent, when `url`'s port accepts a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadySpec>,
    /// How long it may take to become ready.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: HumanDuration,
    /// How long it has between SIGTERM and SIGKILL.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: HumanDuration,
    /// The bearer key the driver sends the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The environment variable the bearer key is read from, so a secret stays out of files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// `[system.request]`: the app's own HTTP request, instead of the OpenAI API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestTemplate>,
}

fn default_ready_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_stop_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// `command`: one string for `sh -c`, or an argument vector run as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a command: a string (run by `sh -c`) or an array of strings"
)]
pub enum CommandSpec {
    /// Run by `sh -c`, so pipes, `&&` and `$VAR` work.
    Shell(String),
    /// The program and its arguments, no shell.
    Argv(Vec<String>),
}

/// `ready`: a path polled with GET until it answers 2xx, or a line the system prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "ready: a URL path (\"/health\") or { line = \"text\" }"
)]
pub enum ReadySpec {
    /// GET `url` + this path until a 2xx answer.
    Path(String),
    /// Until a line of its stdout or stderr contains this text.
    Line {
        /// The text to look for.
        line: String,
    },
}

/// `[system.request]`: a plain HTTP request for an app with its own route. Placeholders of
/// [`REQUEST_PLACEHOLDERS`] in `path` and `body` are filled per request (JSON-escaped in a JSON
/// body); the client stack's layers cannot wrap it, so it goes to the system as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path (and query) on the system's `url`.
    pub path: String,
    /// The body template; absent, no body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body's `content-type`; a JSON one escapes what is substituted.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Extra headers (after `authorization` from `api_key`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn default_method() -> String {
    "POST".into()
}

fn default_content_type() -> String {
    "application/json".into()
}

impl RequestTemplate {
    /// Whether the body is JSON, so substituted values are escaped as JSON strings.
    pub fn is_json(&self) -> bool {
        self.content_type.to_ascii_lowercase().contains("json")
    }
}

/// A value of `[system]` that cannot work, with the key it is at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{table}.{key}: {message}")]
pub struct SystemSpecError {
    /// `system` or `system.request`.
    pub table: &'static str,
    /// The key.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn err(key: &'static str, message: impl Into<String>) -> SystemSpecError {
    SystemSpecError {
        table: "system",
        key,
        message: message.into(),
    }
}

fn request_err(key: &'static str, message: impl Into<String>) -> SystemSpecError {
    SystemSpecError {
        table: "system.request",
        key,
        message: message.into(),
    }
}

/// `text` with every placeholder of `names` replaced by `value(name)`.
pub fn fill(text: &str, names: &[&str], value: impl Fn(&str) -> String) -> String {
    let mut out = text.to_string();
    for name in names {
        if out.contains(name) {
            out = out.replace(name, &value(name));
        }
    }
    out
}

impl SystemSpec {
    /// Checks what can be checked before anything starts.
    pub fn validate(&self) -> Result<(), SystemSpecError> {
        if self.command.is_none() && self.url.contains("{port}") {
            return Err(err(
                "url",
                "{port} is the free port Gauntlet picks for the `command` it starts; without a command, write the port the system listens on",
            ));
        }
        let sample = fill(&self.url, &PLACEHOLDERS, |_| "1".into());
        let uri: http::Uri = sample
            .parse()
            .map_err(|_| err("url", format!("{:?} is not a URL", self.url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(err(
                "url",
                format!("{:?} is not an http(s) URL with a host", self.url),
            ));
        }
        match &self.command {
            Some(CommandSpec::Shell(s)) if s.trim().is_empty() => {
                return Err(err("command", "must not be empty"))
            }
            Some(CommandSpec::Argv(v)) if v.first().is_none_or(|p| p.is_empty()) => {
                return Err(err(
                    "command",
                    "the array must start with the program to run",
                ))
            }
            _ => {}
        }
        if self.command.is_none() {
            for (key, set) in [
                ("env", !self.env.is_empty()),
                ("cwd", self.cwd.is_some()),
                ("ready", self.ready.is_some()),
            ] {
                if set {
                    return Err(err(
                        key,
                        "applies to the `command` Gauntlet starts; there is no command",
                    ));
                }
            }
        }
        if let Some(name) = self.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return Err(err("env", format!("{name:?} is not a variable name")));
        }
        match &self.ready {
            Some(ReadySpec::Path(p)) if !p.starts_with('/') => {
                return Err(err("ready", format!("{p:?}: a path starts with '/'")))
            }
            Some(ReadySpec::Line { line }) if line.is_empty() => {
                return Err(err("ready", "the line to wait for must not be empty"))
            }
            _ => {}
        }
        for (key, d) in [
            ("ready_timeout", self.ready_timeout.0),
            ("stop_timeout", self.stop_timeout.0),
        ] {
            if d.is_zero() || d > MAX_WAIT {
                return Err(err(key, "must be more than 0 and at most 10m"));
            }
        }
        match (&self.api_key, &self.api_key_env) {
            (Some(_), Some(_)) => {
                return Err(err("api_key_env", "give api_key or api_key_env, not both"))
            }
            (None, Some(v)) if v.is_empty() || v.contains('=') => {
                return Err(err("api_key_env", format!("{v:?} is not a variable name")))
            }
            _ => {}
        }
        if let Some(r) = &self.request {
            r.validate()?;
        }
        Ok(())
    }
}

impl RequestTemplate {
    /// Checks the method, the path, the headers, and that a JSON body stays JSON once filled.
    pub fn validate(&self) -> Result<(), SystemSpecError> {
        if http::Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(request_err(
                "method",
                format!("{:?} is not an HTTP method", self.method),
            ));
        }
        if !self.path.starts_with('/') {
            return Err(request_err(
                "path",
                format!("{:?}: a path starts with '/'", self.path),
            ));
        }
        let path = fill(&self.path, &REQUEST_PLACEHOLDERS, |_| "x".into());
        if path.parse::<http::uri::PathAndQuery>().is_err() {
            return Err(request_err(
                "path",
                format!("{:?} is not a URL path", self.path),
            ));
        }
        if http::HeaderValue::from_str(&self.content_type).is_err() {
            return Err(request_err("content_type", "not a header value"));
        }
        for (name, value) in &self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                return Err(request_err(
                    "headers",
                    format!("{name:?} is not a valid header"),
                ));
            }
        }
        if let (Some(body), true) = (&self.body, self.is_json()) {
            let sample = fill(body, &REQUEST_PLACEHOLDERS, |_| "x".into());
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&sample) {
                return Err(request_err(
                    "body",
                    format!(
                        "not JSON once its placeholders are filled ({e}); write a placeholder inside a string: \"{{prompt}}\", or set content_type"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<SystemSpec, String> {
        let s: SystemSpec = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn a_full_table_reads() {
        let s = spec(
            "url = \"http://127.0.0.1:{port}\"\ncommand = [\"app\", \"--port\", \"{port}\"]\nenv = { OPENAI_BASE_URL = \"{mock_url}/v1\" }\nready = { line = \"listening\" }\nready_timeout = \"3s\"\napi_key_env = \"KEY\"\n[request]\npath = \"/ask\"\nbody = '{\"q\": \"{prompt}\"}'\n",
        )
        .unwrap();
        assert_eq!(
            s.command,
            Some(CommandSpec::Argv(vec![
                "app".into(),
                "--port".into(),
                "{port}".into()
            ]))
        );
        assert_eq!(s.ready_timeout.0, Duration::from_secs(3));
        assert_eq!(s.stop_timeout.0, Duration::from_secs(5));
        let r = s.request.unwrap();
        assert_eq!((r.method.as_str(), r.is_json()), ("POST", true));
        assert!(matches!(
            spec("url = \"http://h:1\"\ncommand = \"x\"\nready = \"/health\"\n")
                .unwrap()
                .ready,
            Some(ReadySpec::Path(_))
        ));
    }

    #[test]
    fn bad_values_say_which_key() {
        for (text, needle) in [
            (
                "url = \"http://127.0.0.1:{port}\"",
                "{port} is the free port",
            ),
            ("url = \"ftp://x\"", "system.url"),
            ("url = \"http://h:1\"\ncommand = \" \"", "system.command"),
            ("url = \"http://h:1\"\ncommand = []", "system.command"),
            ("url = \"http://h:1\"\nready = \"/x\"", "no command"),
            (
                "url = \"http://h:1\"\ncommand = \"x\"\nready = \"health\"",
                "starts with '/'",
            ),
            (
                "url = \"http://h:1\"\ncommand = \"x\"\nstop_timeout = \"1h\"",
                "stop_timeout",
            ),
            (
                "url = \"http://h:1\"\napi_key = \"a\"\napi_key_env = \"B\"",
                "not both",
            ),
            (
                "url = \"http://h:1\"\n[request]\npath = \"/a\"\nbody = '{\"q\": {prompt}}'",
                "write a placeholder inside a string",
            ),
            (
                "url = \"http://h:1\"\n[request]\nmethod = \"G ET\"\npath = \"/a\"",
                "HTTP method",
            ),
            ("url = \"http://h:1\"\ncommand = 3", "a command: a string"),
            ("url = \"http://h:1\"\ncolour = 3", "colour"),
        ] {
            let e = spec(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn fill_replaces_only_the_names_given() {
        let s = fill("{mock_url}/v1 ${HOME} {port}", &PLACEHOLDERS, |n| {
            if n == "{port}" {
                "9".into()
            } else {
                "http://m".into()
            }
        });
        assert_eq!(s, "http://m/v1 ${HOME} 9");
    }
}
