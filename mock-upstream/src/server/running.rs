//! A mock started in the background of the current runtime, for tests and for tools that embed
//! the mock (the driver runs scenarios against one).

use std::net::SocketAddr;

use tokio::sync::oneshot;

use super::{listen, router, serve, MockOptions, MockState};
use crate::faults::FaultConfig;

/// A mock serving on a socket; it stops when dropped.
#[derive(Debug)]
pub struct RunningMock {
    /// `http://ADDR`.
    pub url: String,
    /// The address it listens on; with port 0 asked for, this is the port that was picked.
    pub addr: SocketAddr,
    /// Its state, for stats and live changes.
    pub state: MockState,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningMock {
    /// Serves `config` on `addr` (`127.0.0.1:0` picks a free port) in a spawned task.
    pub async fn start(
        config: FaultConfig,
        options: MockOptions,
        addr: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = listen(addr)?;
        let addr = listener.local_addr()?;
        let state = MockState::new(config, options);
        let (tx, rx) = oneshot::channel();
        let app = router(state.clone());
        tokio::spawn(async move {
            let _ = serve(listener, app, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            state,
            stop: Some(tx),
        })
    }

    /// On a free loopback port.
    pub async fn start_local(config: FaultConfig, options: MockOptions) -> std::io::Result<Self> {
        Self::start(config, options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
