//! Starts a mock-upstream on 127.0.0.1 at a free port for one test.
#![allow(dead_code)]

pub mod capture_upstream;
pub mod held_upstream;
pub mod proxy_process;
pub mod redis_server;
pub mod scrape;

use mock_upstream::faults::parse_toml;
use mock_upstream::server::{MockOptions, RunningMock};

pub async fn mock(toml: &str) -> RunningMock {
    let config = parse_toml(toml, "test.toml").expect("valid fault config");
    RunningMock::start_local(config, MockOptions::default())
        .await
        .unwrap()
}

/// Count of answers with `status` the mock gave.
pub fn status_count(m: &RunningMock, status: &str) -> u64 {
    m.state.stats().by_status.get(status).copied().unwrap_or(0)
}
