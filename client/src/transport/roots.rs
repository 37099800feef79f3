//! Extra trusted root certificates for HTTPS upstreams: a company CA in front of the real API, or
//! a test's own CA. They are trusted on top of the webpki roots the transport always trusts (the
//! Mozilla set, compiled in: no system store is read), never instead of them.
//!
//! Every certificate is checked when the file is read, so a bad file is a config error at
//! start-up rather than a TLS failure on the first request.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// The most certificates taken from one PEM file: a full CA bundle has under two hundred, and a
/// hostile file cannot make the client hold more.
pub const MAX_EXTRA_ROOTS: usize = 1000;

/// The largest PEM file read, in bytes (a full CA bundle is about 200 KiB).
pub const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

/// Why extra roots could not be used; each names the file (or what the PEM bytes came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootsError {
    /// The file could not be opened or read.
    #[error("{origin}: cannot read the CA file: {reason}")]
    Unreadable {
        /// The file's path.
        origin: String,
        /// What the operating system said.
        reason: String,
    },
    /// The file is larger than [`MAX_PEM_BYTES`].
    #[error("{origin}: CA file larger than {MAX_PEM_BYTES} bytes")]
    TooLarge {
        /// The file's path.
        origin: String,
    },
    /// The PEM holds no `CERTIFICATE` section (a key alone, DER, or not PEM at all).
    #[error("{origin}: no certificate in the CA file (expected PEM `-----BEGIN CERTIFICATE-----` sections)")]
    NoCertificate {
        /// The file's path.
        origin: String,
    },
    /// The PEM is broken: a section without its end line, a bad start line, bad base64.
    #[error("{origin}: not valid PEM after certificate {index}: {reason}")]
    BadPem {
        /// The file's path.
        origin: String,
        /// Certificates read before the broken section.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// More than [`MAX_EXTRA_ROOTS`] certificates.
    #[error("{origin}: more than {MAX_EXTRA_ROOTS} certificates in the CA file")]
    TooMany {
        /// The file's path.
        origin: String,
    },
    /// A well-formed PEM section whose certificate rustls cannot use as a trust anchor (its DER
    /// does not parse as an X.509 certificate).
    #[error("{origin}: certificate {index} refused as a trusted root: {reason}")]
    Refused {
        /// The file's path.
        origin: String,
        /// Its place in the file, from 1.
        index: usize,
        /// What rustls said.
        reason: String,
    },
}

/// Root certificates to trust on top of the webpki roots: cheap to clone (shared), checked when
/// made. The default trusts nothing extra.
#[derive(Clone, Default)]
pub struct ExtraRoots {
    certs: Arc<[CertificateDer<'static>]>,
}

impl std::fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExtraRoots({} certificates)", self.certs.len())
    }
}

impl ExtraRoots {
    /// The certificates of a PEM file (the proxy's `upstream_ca`, `[client.transport] ca_file`),
    /// read whole up to [`MAX_PEM_BYTES`].
    pub fn from_file(path: &Path) -> Result<Self, RootsError> {
        let origin = path.display().to_string();
        let unreadable = |e: std::io::Error| RootsError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut pem = Vec::new();
        file.take(MAX_PEM_BYTES + 1)
            .read_to_end(&mut pem)
            .map_err(unreadable)?;
        if pem.len() as u64 > MAX_PEM_BYTES {
            return Err(RootsError::TooLarge { origin });
        }
        Self::from_pem(&pem, &origin)
    }

    /// The `CERTIFICATE` sections of PEM bytes (other sections, a private key say, are skipped);
    /// `origin` names where they came from in errors.
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<Self, RootsError> {
        let mut certs = Vec::new();
        let mut check = RootCertStore::empty();
        for section in CertificateDer::pem_slice_iter(pem) {
            let cert = section.map_err(|e| RootsError::BadPem {
                origin: origin.to_owned(),
                index: certs.len(),
                reason: pem_reason(&e),
            })?;
            if certs.len() == MAX_EXTRA_ROOTS {
                return Err(RootsError::TooMany {
                    origin: origin.to_owned(),
                });
            }
            check.add(cert.clone()).map_err(|e| RootsError::Refused {
                origin: origin.to_owned(),
                index: certs.len() + 1,
                reason: e.to_string(),
            })?;
            certs.push(cert);
        }
        if certs.is_empty() {
            return Err(RootsError::NoCertificate {
                origin: origin.to_owned(),
            });
        }
        Ok(Self {
            certs: certs.into(),
        })
    }

    /// How many certificates are trusted on top of the webpki roots.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether none are (the default).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The webpki roots and these: what the HTTPS connector verifies servers against.
    pub(super) fn root_store(&self) -> RootCertStore {
        let mut store = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // Each was added to a store when it was read, so none is refused here.
        store.add_parsable_certificates(self.certs.iter().cloned());
        store
    }
}

/// A PEM error in words: the library's own text prints the offending line as a byte array.
fn pem_reason(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a BEGIN line without its END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a malformed BEGIN line".into(),
        pem::Error::Base64Decode(why) => format!("bad base64 ({why})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A syntactically valid PEM section whose DER is not a certificate.
    const NOT_A_CERT: &str =
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";

    #[test]
    fn pem_without_a_certificate_says_so() {
        let key = "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n";
        for text in ["", "hello", key] {
            let e = ExtraRoots::from_pem(text.as_bytes(), "ca.pem").unwrap_err();
            assert!(matches!(e, RootsError::NoCertificate { .. }), "{e:?}");
            assert!(e.to_string().starts_with("ca.pem: no certificate"), "{e}");
        }
    }

    #[test]
    fn a_section_rustls_cannot_parse_is_refused_with_its_place() {
        let e = ExtraRoots::from_pem(NOT_A_CERT.as_bytes(), "ca.pem").unwrap_err();
        assert!(matches!(e, RootsError::Refused { index: 1, .. }), "{e:?}");
        assert!(e.to_string().contains("certificate 1 refused"), "{e}");
    }

    #[test]
    fn broken_pem_is_a_pem_error() {
        let cut = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n";
        let e = ExtraRoots::from_pem(cut.as_bytes(), "ca.pem").unwrap_err();
        assert!(matches!(e, RootsError::BadPem { index: 0, .. }), "{e:?}");
        assert!(e.to_string().contains("without its END line"), "{e}");
        let bad = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let e = ExtraRoots::from_pem(bad.as_bytes(), "ca.pem").unwrap_err();
        assert!(e.to_string().contains("bad base64"), "{e}");
    }

    #[test]
    fn a_missing_or_huge_file_names_it() {
        let e = ExtraRoots::from_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(matches!(e, RootsError::Unreadable { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("/nonexistent/ca.pem: cannot read"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("gauntlet-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'x'; MAX_PEM_BYTES as usize + 1]).unwrap();
        let e = ExtraRoots::from_file(&big).unwrap_err();
        assert!(matches!(e, RootsError::TooLarge { .. }), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_trusts_the_webpki_roots_alone() {
        let none = ExtraRoots::default();
        assert!(none.is_empty());
        assert_eq!(
            none.root_store().len(),
            webpki_roots::TLS_SERVER_ROOTS.len()
        );
    }

    proptest! {
        /// Hostile bytes, PEM-looking or not, are an error or roots, never a panic.
        #[test]
        fn any_bytes_are_an_answer(
            junk in proptest::collection::vec(any::<u8>(), 0..512),
            framed in any::<bool>(),
        ) {
            let mut pem = Vec::new();
            if framed {
                pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            }
            pem.extend_from_slice(&junk);
            if framed {
                pem.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
            }
            let _ = ExtraRoots::from_pem(&pem, "fuzz.pem");
        }
    }
}
