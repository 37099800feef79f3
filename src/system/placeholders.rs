//! `{mock_url}`, `{mock_port}` and `{port}`: what the system is told about where it runs.

use std::net::{Ipv4Addr, TcpListener};

use super::SystemError;
use crate::scenario::system::{fill, PLACEHOLDERS};

/// The values of [`PLACEHOLDERS`] for one start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    /// The upstream's base URL, without a trailing slash (`http://127.0.0.1:40123`).
    pub mock_url: String,
    /// Its port.
    pub mock_port: u16,
    /// A loopback port that was free when it was picked, for the system to listen on.
    pub port: u16,
}

impl Placeholders {
    /// The values for an upstream at `mock_url`, with a freshly picked `{port}`.
    pub fn pick(mock_url: &str) -> Result<Self, SystemError> {
        let mock_url = mock_url.trim_end_matches('/').to_string();
        let mock_port = mock_url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| {
                u.port_u16().or(match u.scheme_str() {
                    Some("https") => Some(443),
                    Some("http") => Some(80),
                    _ => None,
                })
            })
            .ok_or_else(|| SystemError::MockUrl(mock_url.clone()))?;
        Ok(Self {
            mock_url,
            mock_port,
            port: free_port().map_err(SystemError::Port)?,
        })
    }

    /// `text` with every placeholder filled.
    pub fn fill(&self, text: &str) -> String {
        fill(text, &PLACEHOLDERS, |name| match name {
            "{mock_url}" => self.mock_url.clone(),
            "{mock_port}" => self.mock_port.to_string(),
            _ => self.port.to_string(),
        })
    }
}

/// A port the OS says is free on loopback. It is released before the system binds it, so
/// another process could take it in between; the system then fails to start, which is
/// reported like any other failed start.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        let p = Placeholders::pick("http://127.0.0.1:4000/").unwrap();
        assert_eq!(p.mock_port, 4000);
        assert_ne!(p.port, 0);
        assert_eq!(
            p.fill("{mock_url}/v1 {mock_port} {port}"),
            format!("http://127.0.0.1:4000/v1 4000 {}", p.port)
        );
        assert!(Placeholders::pick("not a url").is_err());
    }
}
