//! A bare hyper hello-world server: the baseline the mock's HTTP throughput is compared with.
//! With `axum` as second argument, the same answer from an axum `Router` (the framework the mock
//! is built on), to show how much of the gap is the framework's own.
//!
//! `cargo run --release -p mock-upstream --example hello_hyper -- 127.0.0.1:8090 [axum]`

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("hello_hyper listening on http://{}", listener.local_addr()?);
    if std::env::args().nth(2).as_deref() == Some("axum") {
        let app = axum::Router::new().fallback(|| async { "{\"reply\":\"hello\"}" });
        return axum::serve(listener, app).await;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    b"{\"reply\":\"hello\"}",
                ))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
