//! `[client.transport]`: how the HTTP transport reaches an `https://` upstream. Only what a
//! scenario or the proxy must be able to say lives here; pool sizes and timeouts stay with the
//! caller of [`http_transport`](super::http_transport).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::roots::{ExtraRoots, RootsError};

/// `[client.transport]` of a scenario or proxy config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportTable {
    /// A PEM file of root certificates trusted on top of the webpki roots (a company CA in
    /// front of the API, a test CA), read when the stack is built; relative to the working
    /// directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl TransportTable {
    /// The roots `ca_file` names, read and checked now; none without one.
    pub fn extra_roots(&self) -> Result<ExtraRoots, RootsError> {
        match &self.ca_file {
            Some(path) => ExtraRoots::from_file(path),
            None => Ok(ExtraRoots::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_is_the_one_key_and_is_read_when_asked() {
        let t: TransportTable = toml::from_str("ca_file = \"/nonexistent/ca.pem\"").unwrap();
        let e = t.extra_roots().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/ca.pem: cannot read"),
            "{e}"
        );
        assert!(TransportTable::default().extra_roots().unwrap().is_empty());
        let e = toml::from_str::<TransportTable>("ca = \"x\"").unwrap_err();
        assert!(e.to_string().contains("ca_file"), "{e}");
    }
}
