//! The whole stack over HTTPS on 127.0.0.1 against the real mock behind TLS, with a CA and
//! server certificates the test makes: the CA given as an extra root is trusted, an unknown
//! issuer, a certificate for another host and an expired one are refused with rustls' reason in
//! the error, and a CA file that is not PEM is a config error. Nothing reaches the internet.

use std::path::PathBuf;
use std::sync::Arc;

use gauntlet_client::transport::{http_transport, ExtraRoots, HttpTransportConfig, RootsError};
use gauntlet_client::{ChatRequest, ClientConfig, ClientError, ClientStack, StackError};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A test CA: its certificate (PEM) and what signs server certificates.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (a name that parses as an IP is an IP SAN), valid now
    /// unless `expired`, with its key.
    fn server_cert(
        &self,
        names: &[&str],
        expired: bool,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }
}

/// The real mock router served over TLS with `cert` on 127.0.0.1 (a free port); its port.
async fn tls_mock(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let config = mock_upstream::faults::parse_toml("", "test.toml").unwrap();
    let state = mock_upstream::server::MockState::new(config, Default::default());
    let app = mock_upstream::server::router(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A refused handshake is the client's doing: the test reads its error there.
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// A stack to `base_url`, one attempt, no retries: the first error is the answer.
fn stack(base_url: &str, roots: ExtraRoots) -> ClientStack {
    let config: ClientConfig = toml::from_str(&format!(
        "[adapter]\nbase_url = \"{base_url}\"\napi_key = \"sk-test\"\n"
    ))
    .unwrap();
    let transport = http_transport(&HttpTransportConfig {
        extra_roots: roots,
        ..HttpTransportConfig::default()
    })
    .unwrap();
    ClientStack::builder(&config)
        .transport(transport)
        .build()
        .unwrap()
}

async fn ask(stack: &ClientStack) -> Result<String, ClientError> {
    let resp = stack
        .send(ChatRequest::user_text("gpt-4o-mini", "hello over TLS"))
        .await?;
    Ok(resp.text)
}

fn roots(ca: &TestCa) -> ExtraRoots {
    ExtraRoots::from_pem(ca.pem().as_bytes(), "test-ca.pem").unwrap()
}

/// A TLS error (its own kind: a configuration fault, never retried) whose message says TLS first
/// and names `cause`.
fn assert_tls_error(err: &ClientError, cause: &str) {
    let ClientError::Tls(message) = err else {
        panic!("not a TLS error: {err:?}");
    };
    assert!(message.starts_with("TLS: "), "{message}");
    assert!(message.contains(cause), "{message}");
}

#[tokio::test]
async fn a_chat_request_succeeds_with_the_ca_as_an_extra_root() {
    let ca = TestCa::new("Gauntlet test CA");
    let (cert, key) = ca.server_cert(&["localhost", "127.0.0.1"], false);
    let port = tls_mock(cert, key).await;
    for host in ["localhost", "127.0.0.1"] {
        let stack = stack(&format!("https://{host}:{port}"), roots(&ca));
        let text = ask(&stack).await.unwrap();
        assert!(!text.is_empty(), "the mock's answer came back over TLS");
    }
}

#[tokio::test]
async fn without_the_ca_the_issuer_is_unknown() {
    let ca = TestCa::new("Gauntlet test CA");
    let (cert, key) = ca.server_cert(&["localhost"], false);
    let port = tls_mock(cert, key).await;
    let err = ask(&stack(
        &format!("https://localhost:{port}"),
        ExtraRoots::default(),
    ))
    .await
    .unwrap_err();
    assert_tls_error(&err, "invalid peer certificate: UnknownIssuer");
    assert!(
        err.to_string().contains(&format!("(localhost:{port})")),
        "{err}"
    );
    // Another CA as the extra root does not help.
    let other = TestCa::new("Some other CA");
    let err = ask(&stack(&format!("https://localhost:{port}"), roots(&other)))
        .await
        .unwrap_err();
    assert_tls_error(&err, "UnknownIssuer");
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_naming_the_host() {
    let ca = TestCa::new("Gauntlet test CA");
    let (cert, key) = ca.server_cert(&["api.example.test"], false);
    let port = tls_mock(cert, key).await;
    let err = ask(&stack(&format!("https://localhost:{port}"), roots(&ca)))
        .await
        .unwrap_err();
    assert_tls_error(&err, "certificate not valid for name \"localhost\"");
    assert_tls_error(&err, "api.example.test");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    let ca = TestCa::new("Gauntlet test CA");
    let (cert, key) = ca.server_cert(&["localhost"], true);
    let port = tls_mock(cert, key).await;
    let err = ask(&stack(&format!("https://localhost:{port}"), roots(&ca)))
        .await
        .unwrap_err();
    assert_tls_error(&err, "certificate expired");
}

/// A file of the test's own, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("gauntlet-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_garbage_ca_file_is_a_config_error_naming_the_file() {
    let garbage = TempFile::new("garbage.pem", b"this is not a certificate\n\x00\xff");
    let err = ExtraRoots::from_file(&garbage.0).unwrap_err();
    assert!(matches!(err, RootsError::NoCertificate { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&garbage.0.display().to_string()),
        "{err}"
    );
    let missing = garbage.0.with_extension("missing");
    let err = ExtraRoots::from_file(&missing).unwrap_err();
    assert!(matches!(err, RootsError::Unreadable { .. }), "{err:?}");
    // A real CA file reads.
    let ca = TestCa::new("Gauntlet test CA");
    let good = TempFile::new("ca.pem", ca.pem().as_bytes());
    assert_eq!(ExtraRoots::from_file(&good.0).unwrap().len(), 1);
}

/// A stack built by `ClientStack::from_config` itself, trusting `[client.transport] ca_file`.
fn stack_from_toml(base_url: &str, ca_file: &std::path::Path) -> Result<ClientStack, StackError> {
    let config: ClientConfig = toml::from_str(&format!(
        "[adapter]\nbase_url = \"{base_url}\"\napi_key = \"sk-test\"\n\
         [transport]\nca_file = \"{}\"\n",
        ca_file.display()
    ))
    .unwrap();
    ClientStack::from_config(&config)
}

#[tokio::test]
async fn the_client_transport_ca_file_key_is_trusted_by_a_stack_from_config() {
    let ca = TestCa::new("Gauntlet test CA");
    let (cert, key) = ca.server_cert(&["localhost"], false);
    let port = tls_mock(cert, key).await;
    let url = format!("https://localhost:{port}");
    let ca_file = TempFile::new("stack-ca.pem", ca.pem().as_bytes());
    let text = ask(&stack_from_toml(&url, &ca_file.0).unwrap())
        .await
        .unwrap();
    assert!(!text.is_empty());
    // Another CA's file builds a stack whose requests fail on the issuer.
    let other = TempFile::new("stack-other.pem", TestCa::new("Other CA").pem().as_bytes());
    let err = ask(&stack_from_toml(&url, &other.0).unwrap())
        .await
        .unwrap_err();
    assert_tls_error(&err, "UnknownIssuer");
    // A garbage file is an error when the stack is built, naming the file.
    let garbage = TempFile::new("stack-garbage.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n");
    let err = stack_from_toml(&url, &garbage.0).unwrap_err();
    assert!(
        matches!(err, StackError::Roots(RootsError::BadPem { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&garbage.0.display().to_string()),
        "{err}"
    );
}
