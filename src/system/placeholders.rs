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

/// Below Linux's default ephemeral range (32768–60999), where `bind(0)` never hands a port out:
/// the mocks, proxies and clients of concurrent runs take their ports there, so a port picked here
/// is not taken by one of them between the pick and the system's own bind (seen in CI as
/// "Address already in use" when two grade runs shared the machine).
const PICK_FROM: std::ops::Range<u16> = 20_000..32_000;

/// Picks in turn, from a start that differs per process and per pick, so concurrent runs rarely try
/// the same port.
static NEXT_PICK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A port free on loopback now, outside the ephemeral range when one is (else one the OS picks). It
/// is released before the system binds it; should another process take it in between, the system
/// fails to start, which is reported like any other failed start.
fn free_port() -> std::io::Result<u16> {
    let width = u32::from(PICK_FROM.end - PICK_FROM.start);
    let pick = NEXT_PICK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(pick.wrapping_mul(101));
    for step in 0..256u32 {
        let port = PICK_FROM.start + (start.wrapping_add(step) % width) as u16;
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return Ok(listener.local_addr()?.port());
        }
    }
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
        assert!(
            PICK_FROM.contains(&p.port),
            "{} outside the picking range",
            p.port
        );
        assert_eq!(
            p.fill("{mock_url}/v1 {mock_port} {port}"),
            format!("http://127.0.0.1:4000/v1 4000 {}", p.port)
        );
        assert!(Placeholders::pick("not a url").is_err());
    }
}
