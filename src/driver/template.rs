//! `[system.request]`: the app's own HTTP request, filled per turn from the prompt, the
//! session and the end user, and sent to the system as it is. The client stack's layers only
//! wrap OpenAI-API requests, so this request bypasses them; its status and latency are
//! recorded like any other request's (a 2xx an upstream answer, any other status the error
//! kind the OpenAI API would give it), under the route `chat`.

use bytes::Bytes;
use http_body_util::BodyExt;

use crate::client::adapter::classify_status;
use crate::client::transport::{Transport, TransportError};
use crate::client::{ChatResponse, ClientError, Outcome};
use crate::scenario::system::{fill, RequestTemplate, REQUEST_PLACEHOLDERS};

/// Most of an answer's body read (the rest is drained unread by dropping it): an app that
/// answers without end must not grow the driver's memory.
const MAX_BODY: usize = 1 << 20;

/// What one turn fills the template with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fill<'a> {
    /// The prompt.
    pub prompt: &'a str,
    /// The session's id.
    pub session: &'a str,
    /// The end user (empty without `end_users`).
    pub user: &'a str,
    /// `workload.model`.
    pub model: &'a str,
}

/// The template, where it goes and how.
#[derive(Debug, Clone)]
pub(crate) struct TemplateSender {
    template: RequestTemplate,
    base: String,
    api_key: Option<String>,
    transport: Transport,
}

/// A value as it goes into the body: escaped as the inside of a JSON string for a JSON body.
fn escaped(value: &str, json: bool) -> String {
    if !json {
        return value.to_string();
    }
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// A value as it goes into the path: percent-encoded but for unreserved characters.
fn path_escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn value_of<'a>(f: &Fill<'a>, name: &str) -> &'a str {
    match name {
        "{prompt}" => f.prompt,
        "{session}" => f.session,
        "{user}" => f.user,
        _ => f.model,
    }
}

impl TemplateSender {
    /// Sends `template` to the system at `base` with `api_key` as its bearer.
    pub fn new(
        template: RequestTemplate,
        base: &str,
        api_key: Option<String>,
        transport: Transport,
    ) -> Self {
        Self {
            template,
            base: base.trim_end_matches('/').to_string(),
            api_key,
            transport,
        }
    }

    /// The HTTP request for one turn.
    fn request(&self, f: &Fill<'_>) -> Result<http::Request<Bytes>, ClientError> {
        let t = &self.template;
        let path = fill(&t.path, &REQUEST_PLACEHOLDERS, |n| {
            path_escaped(value_of(f, n))
        });
        let mut builder = http::Request::builder()
            .method(t.method.as_str())
            .uri(format!("{}{path}", self.base));
        if let Some(key) = &self.api_key {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let body = match &t.body {
            Some(body) => {
                builder = builder.header(http::header::CONTENT_TYPE, t.content_type.as_str());
                let json = t.is_json();
                Bytes::from(fill(body, &REQUEST_PLACEHOLDERS, |n| {
                    escaped(value_of(f, n), json)
                }))
            }
            None => Bytes::new(),
        };
        for (name, value) in &t.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(body)
            .map_err(|e| ClientError::Malformed(format!("system.request: {e}")))
    }

    /// Sends one turn's request; a 2xx is an answer, anything else the error it reads as.
    pub async fn send(&self, f: Fill<'_>) -> Result<ChatResponse, ClientError> {
        let req = self.request(&f)?;
        let resp = tower::ServiceExt::oneshot(self.transport.clone(), req)
            .await
            .map_err(|e| match e {
                TransportError::Connect(m) | TransportError::Other(m) => ClientError::Connect(m),
                TransportError::Reset(m) => ClientError::Reset(m),
                TransportError::Malformed(m) => ClientError::Malformed(m),
                TransportError::Tls(m) => ClientError::Tls(m),
            })?;
        let (parts, mut body) = resp.into_parts();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Reset(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                let room = MAX_BODY.saturating_sub(bytes.len());
                bytes.extend_from_slice(&data[..data.len().min(room)]);
                if bytes.len() >= MAX_BODY {
                    break;
                }
            }
        }
        if !parts.status.is_success() {
            return Err(classify_status(
                parts.status.as_u16(),
                &parts.headers,
                &bytes,
            ));
        }
        let mut answer = ChatResponse::local(String::from_utf8_lossy(&bytes), Outcome::Upstream);
        answer.attempts = 1;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(body: &str, content_type: &str) -> TemplateSender {
        let template = RequestTemplate {
            method: "POST".into(),
            path: "/ask/{user}?s={session}".into(),
            body: Some(body.into()),
            content_type: content_type.into(),
            headers: [("x-app".to_string(), "1".to_string())].into(),
        };
        let transport = Transport::new(|_| async { Err(TransportError::Other("unused".into())) });
        TemplateSender::new(template, "http://127.0.0.1:9/", Some("k".into()), transport)
    }

    #[test]
    fn a_json_body_gets_escaped_values() {
        let s = sender(r#"{"q": "{prompt}", "m": "{model}"}"#, "application/json");
        let prompt = "say \"hi\"\nand \\ go";
        let f = Fill {
            prompt,
            session: "s-1",
            user: "u 2",
            model: "m",
        };
        let req = s.request(&f).unwrap();
        assert_eq!(req.uri(), "http://127.0.0.1:9/ask/u%202?s=s-1");
        assert_eq!(req.headers()["authorization"], "Bearer k");
        assert_eq!(req.headers()["x-app"], "1");
        let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        assert_eq!(v["q"], prompt);
        let plain = sender("q={prompt}", "text/plain").request(&f).unwrap();
        assert_eq!(plain.body().as_ref(), format!("q={prompt}").as_bytes());
    }
}
