//! Starts a mock-upstream on 127.0.0.1 at a free port for one test.
#![allow(dead_code)]

use mock_upstream::faults::parse_toml;
use mock_upstream::server::{router, serve, MockOptions, MockState};

/// A running mock; stops when dropped.
pub struct Mock {
    pub url: String,
    pub state: MockState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn mock(toml: &str) -> Mock {
    let config = parse_toml(toml, "test.toml").expect("valid fault config");
    let state = MockState::new(config, MockOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let app = router(state.clone());
    tokio::spawn(async move {
        let _ = serve(listener, app, async {
            let _ = rx.await;
        })
        .await;
    });
    Mock {
        url,
        state,
        stop: Some(tx),
    }
}

/// Count of answers with `status` the mock gave.
pub fn status_count(m: &Mock, status: &str) -> u64 {
    m.state.stats().by_status.get(status).copied().unwrap_or(0)
}
