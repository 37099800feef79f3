//! A real `gauntlet proxy CONFIG` process on a port of its choosing, for one test: its address
//! is read from the line it prints when it listens, its stderr kept for the test to read, and
//! the process killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

pub struct ProxyProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every line it has written to stdout or stderr so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl ProxyProcess {
    /// Starts the binary on `config` and waits (at most 30 s) for its listening line.
    pub fn start(config: &Path) -> Self {
        Self::start_with(config, &[])
    }

    /// As [`ProxyProcess::start`], with `args` after the config (`--upstream URL`).
    pub fn start_with(config: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("proxy")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gauntlet proxy starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        collect(child.stdout.take().unwrap(), log.clone(), tx.clone());
        collect(child.stderr.take().unwrap(), log.clone(), tx);
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gauntlet proxy did not say where it listens: {:?}",
                    log.lock().unwrap()
                );
            }
        };
        Self { child, url, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the process a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// The lines it has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most 10 s, polling) for a logged line containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        for _ in 0..200 {
            if let Some(l) = self.log().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no line with {needle:?} in {:?}", self.log());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (at most `limit`, polling) for the process to exit; its exit code, `None` when it
    /// is still running then (or died of a signal).
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let polls = (limit.as_millis() / 20).max(1);
        for _ in 0..polls {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keeps every line of `from`; the first that names a loopback URL is sent on `listening`.
fn collect(
    from: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    listening: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if let Some(url) = loopback_url(&line) {
                let _ = listening.send(url);
            }
            log.lock().unwrap().push(line);
        }
    });
}

fn loopback_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest[17..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest.len(), |i| i + 17);
    Some(rest[..end].to_string())
}

/// One chat completion through `url`; returns the status and the body as JSON.
pub async fn chat(client: &reqwest::Client, url: &str, prompt: &str) -> (u16, serde_json::Value) {
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-test")
        .json(&serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": prompt}],
        }))
        .send()
        .await
        .expect("the proxy answers");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}
