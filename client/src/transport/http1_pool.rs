//! Plain-HTTP/1.1 connections kept by the transport itself: the path every request to the mock
//! (or a local proxy) takes.
//!
//! hyper-util's pooled client hands a connection back through a task it spawns for every
//! request, once the connection's own task has gone idle; until then the next request finds
//! no idle connection and opens one. At 20 000 requests/s a driver thread opened thousands of
//! connections that way, a burst at the start of a run became a connection storm, and the
//! pool's bookkeeping (a map keyed by scheme and authority behind a lock, a checkout future, a
//! waiter list scanned on every drop) was a good part of the client's own cost per request.
//! Here a connection goes back to its pool as soon as its response body has been read, in the
//! reading task, and a pool belongs to one driver thread, so its lock is never contended.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{BoxError, TransportError, TransportResult};

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections by origin (almost always one).
#[derive(Debug)]
pub(super) struct Http1Pool {
    idle: Mutex<Vec<(Authority, Vec<Sender>)>>,
    connect_timeout: Duration,
}

impl Http1Pool {
    /// An empty pool.
    pub fn new(connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(Vec::new()),
            connect_timeout,
        })
    }

    /// Sends `req` (an absolute `http://` URI) on an idle connection to its origin, or on a new
    /// one. A request that a reused connection could not take (the server had closed it) goes
    /// out again on the next; one that was written and then failed is an error, as it may have
    /// been served.
    pub async fn send(self: Arc<Self>, mut req: http::Request<Full<Bytes>>) -> TransportResult {
        let authority = req
            .uri()
            .authority()
            .cloned()
            .ok_or_else(|| TransportError::Other(format!("no host in {}", req.uri())))?;
        to_origin_form(&mut req, &authority);
        while let Some(mut sender) = self.take_idle(&authority) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(self.give_back_after(resp, authority, sender)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(reset(&e.into_error())),
                },
            }
        }
        let mut sender = self.connect(&authority).await?;
        let resp = sender.send_request(req).await.map_err(|e| reset(&e))?;
        Ok(self.give_back_after(resp, authority, sender))
    }

    fn take_idle(&self, authority: &Authority) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let (_, senders) = idle.iter_mut().find(|(a, _)| a == authority)?;
        // The most recently used first: its buffers are the warmest.
        while let Some(s) = senders.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, authority: Authority, sender: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        match idle.iter_mut().find(|(a, _)| *a == authority) {
            Some((_, senders)) => senders.push(sender),
            None => idle.push((authority, vec![sender])),
        }
    }

    async fn connect(&self, authority: &Authority) -> Result<Sender, TransportError> {
        let failed =
            |e: &dyn std::fmt::Display| TransportError::Connect(format!("{authority}: {e}"));
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                failed(&format_args!(
                    "no connection within {:?}",
                    self.connect_timeout
                ))
            })?
            .map_err(|e| failed(&e))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(&e))?;
        // The connection's task runs on this thread's runtime, beside the requests it carries.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// The response, with a body that puts `sender` back in the pool once it has been read
    /// to its end.
    fn give_back_after(
        self: Arc<Self>,
        resp: http::Response<Incoming>,
        authority: Authority,
        sender: Sender,
    ) -> http::Response<super::TransportBody> {
        resp.map(|inner| {
            let mut body = PooledBody {
                inner,
                give_back: Some((self, authority, sender)),
            };
            if body.inner.is_end_stream() {
                body.give_back();
            }
            body.boxed_unsync()
        })
    }
}

/// HTTP/1.1 asks for the path alone on the request line; `Host` carries the origin.
fn to_origin_form(req: &mut http::Request<Full<Bytes>>, authority: &Authority) {
    if !req.headers().contains_key(http::header::HOST) {
        if let Ok(host) = http::HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().insert(http::header::HOST, host);
        }
    }
    if req.uri().scheme().is_some() {
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        *req.uri_mut() = http::Uri::from(path);
    }
}

/// A failed exchange: a response that does not parse is malformed, anything else a reset.
fn reset(e: &hyper::Error) -> TransportError {
    if e.is_parse() || e.is_parse_status() {
        TransportError::Malformed(super::error_chain(e))
    } else {
        TransportError::Reset(super::error_chain(e))
    }
}

/// A response body that returns its connection to the pool at its end. Dropped before its
/// end, it drops the connection instead: what is left of the response would be read as the
/// next one's.
struct PooledBody {
    inner: Incoming,
    give_back: Option<(Arc<Http1Pool>, Authority, Sender)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((pool, authority, sender)) = self.give_back.take() {
            pool.put_idle(authority, sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.give_back = None,
            _ => {}
        }
        polled.map_err(|e| Box::new(e) as BoxError)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A loopback server answering every request with `hello`, closing each connection after
    /// its first response when `keep_alive` is off; counts the connections it accepted.
    async fn server(keep_alive: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"hello"),
                    )))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (url, accepted)
    }

    fn request(url: &str) -> http::Request<Full<Bytes>> {
        let mut req = http::Request::new(Full::new(Bytes::from_static(b"{}")));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = url.parse().unwrap();
        req
    }

    async fn read(resp: http::Response<crate::transport::TransportBody>) -> Bytes {
        resp.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_connection_is_used_again_once_its_response_is_read() {
        let (url, accepted) = server(true).await;
        let pool = Http1Pool::new(Duration::from_secs(5));
        for _ in 0..5 {
            let resp = pool.clone().send(request(&url)).await.unwrap();
            assert_eq!(read(resp).await, "hello");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // Two at once need two connections; both are kept.
        let (a, b) = tokio::join!(
            pool.clone().send(request(&url)),
            pool.clone().send(request(&url))
        );
        assert_eq!(read(a.unwrap()).await, "hello");
        assert_eq!(read(b.unwrap()).await, "hello");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        let resp = pool.clone().send(request(&url)).await.unwrap();
        assert_eq!(read(resp).await, "hello");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn connections_the_server_closed_are_not_used_again() {
        let (url, accepted) = server(false).await;
        let pool = Http1Pool::new(Duration::from_secs(5));
        for i in 1..=3 {
            let resp = pool.clone().send(request(&url)).await.unwrap();
            assert_eq!(read(resp).await, "hello");
            // Let the connection's task see the close.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(accepted.load(Ordering::SeqCst), i);
        }
    }

    #[tokio::test]
    async fn a_body_dropped_unread_takes_its_connection_with_it() {
        let (url, accepted) = server(true).await;
        let pool = Http1Pool::new(Duration::from_secs(5));
        let resp = pool.clone().send(request(&url)).await.unwrap();
        drop(resp);
        let resp = pool.clone().send(request(&url)).await.unwrap();
        assert_eq!(read(resp).await, "hello");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_server_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        drop(listener);
        let pool = Http1Pool::new(Duration::from_secs(5));
        let err = pool.send(request(&url)).await.unwrap_err();
        assert!(matches!(err, TransportError::Connect(_)), "{err:?}");
    }

    #[test]
    fn requests_go_out_in_origin_form_with_their_host() {
        let mut req = http::Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = "http://127.0.0.1:8089/v1/chat/completions?x=1"
            .parse()
            .unwrap();
        let authority = req.uri().authority().cloned().unwrap();
        to_origin_form(&mut req, &authority);
        assert_eq!(req.uri().to_string(), "/v1/chat/completions?x=1");
        assert_eq!(req.headers()[http::header::HOST], "127.0.0.1:8089");
        // A `Host` the adapter set is kept.
        let mut req = http::Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = "http://localhost/v1".parse().unwrap();
        req.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
        to_origin_form(&mut req, &"localhost".parse().unwrap());
        assert_eq!(req.uri().to_string(), "/v1");
        assert_eq!(req.headers()[http::header::HOST], "localhost");
    }
}
