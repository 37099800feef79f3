//! A throwaway `redis-server` on a free loopback port for one test, stopped on drop.
//!
//! When `redis-server` is not on PATH the test is skipped with a message, so the README's test
//! command passes on a fresh machine; `GAUNTLET_REQUIRE_REDIS=1` (set by `.ci/run`, which
//! installs Redis) turns the skip into a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// `None` (after saying why) when Redis is not installed and not required.
    pub async fn start(test: &str) -> Option<Self> {
        let port = free_port();
        match Self::start_on(port).await {
            Some(s) => Some(s),
            None => {
                let msg = format!("{test}: skipped, redis-server is not on PATH");
                if std::env::var("GAUNTLET_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
                    panic!("{msg} and GAUNTLET_REQUIRE_REDIS=1");
                }
                eprintln!("{msg}");
                None
            }
        }
    }

    /// A server on `port` (which must be free); `None` when redis-server cannot be run.
    pub async fn start_on(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self {
            child: Some(child),
            port,
        };
        // Bounded: 100 tries, 50 ms apart.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {port} did not start within 5 s");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server now (to test what clients do while it is down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
