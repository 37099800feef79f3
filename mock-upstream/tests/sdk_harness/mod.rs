//! Runs one check script of an official SDK (OpenAI's or, in Python, Anthropic's; `tests/sdk/`) against the real
//! `mock-upstream` binary, started on 127.0.0.1 at a free port with a fault file made for the
//! check.
//!
//! Without the SDK installed (no `node` or `tests/sdk/node/node_modules`, or no Python venv with
//! `openai`, `pydantic` and `anthropic`) a check prints why and passes, so `cargo test` passes on a fresh machine;
//! `GAUNTLET_REQUIRE_SDK=1` (set by `.ci/run`, which installs both) makes that a failure.
#![allow(dead_code)] // each test file uses one SDK's half

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mock-upstream");

/// A check script that has not finished by then has hung: it is killed and the test fails.
/// A watchdog, not a timed assertion: the checks take a few seconds at most.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// The venv `.ci/run` makes, unless `GAUNTLET_SDK_PYTHON` names another interpreter.
const DEFAULT_VENV_PYTHON: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/sdk-venv/bin/python");

/// A well-behaved server: no latency, no limits, no failures.
pub const CLEAN: &str = "seed = 1\n";

/// Streams paced fast, so that a stream has many events and the test stays short.
pub const STREAMING: &str = "[stream]\ntime_to_first_token = \"5ms\"\nper_token = \"1ms\"\n";

/// `tool_choice: "auto"` never calls a tool (the default is half the time), so the answer to the
/// tool's result is text, as a real model's usually is; `required` still calls one.
pub const TOOLS: &str = "[tools]\nauto_call_share = 0.0\n";

/// An embedding model listed beside a chat model.
pub const EMBEDDINGS: &str = "models = [\"gpt-4o-mini\", \"text-embedding-3-small\"]\n";

/// Two models, for `models.list` and `models.retrieve`.
pub const MODELS: &str = "models = [\"gpt-4o-mini\", \"o3-mini\"]\n";

/// One model listed, so any other is unknown.
pub const ONE_MODEL: &str = "models = [\"gpt-4o-mini\"]\n";

/// Every streamed answer is 40 tokens long and meets a server error after its 5th token.
pub const STREAM_ERROR: &str = "[reply]\ntokens = { distribution = \"fixed\", value = 40 }\n\n\
[stream]\ntime_to_first_token = \"5ms\"\nper_token = \"1ms\"\n\n\
[[failures]]\nkind = \"stream_error\"\nprobability = 1.0\nafter = 5\nstatus = 503\n";

/// Two requests a minute for the key, so the third is refused with 429 (the bucket refills one
/// request every 30 s, far longer than a check runs).
pub const TWO_RPM: &str = "[limits]\nrequests_per_minute = 2\n";

/// An outage for the whole check: every request is refused with 503 (Anthropic's 529).
pub const OUTAGE: &str =
    "[[timeline]]\nat = \"0s\"\nfor = \"1h\"\nkind = \"outage\"\nstatus = 503\n";

/// Environment variables by which an SDK could be pointed elsewhere or given a key, a profile or
/// a credentials file: every one with these prefixes is cleared for a check script.
const SDK_ENV_PREFIXES: [&str; 2] = ["OPENAI_", "ANTHROPIC_"];

/// The SDK a check drives.
#[derive(Debug, Clone, Copy)]
pub enum Sdk {
    /// `openai` from npm, run by `node`.
    Node,
    /// `openai` from PyPI, run by the venv's `python`.
    Python,
}

impl Sdk {
    fn dir(self) -> PathBuf {
        let name = match self {
            Sdk::Node => "node",
            Sdk::Python => "python",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/sdk")
            .join(name)
    }

    /// The interpreter, or why this SDK cannot be run here.
    fn interpreter(self) -> Result<PathBuf, String> {
        match self {
            Sdk::Node => {
                runs("node", &["--version"]).map_err(|e| format!("node cannot be run ({e})"))?;
                let sdk = self.dir().join("node_modules/openai/package.json");
                if !sdk.is_file() {
                    return Err(format!(
                        "{} is missing (run `npm ci` in tests/sdk/node)",
                        sdk.display()
                    ));
                }
                Ok(PathBuf::from("node"))
            }
            Sdk::Python => {
                let python = std::env::var_os("GAUNTLET_SDK_PYTHON")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV_PYTHON));
                let exe = python.to_string_lossy().into_owned();
                runs(&exe, &["-c", "import openai, pydantic, anthropic"]).map_err(|e| {
                    format!("{exe} cannot import openai, pydantic and anthropic ({e}); set GAUNTLET_SDK_PYTHON or make the venv as .ci/run does")
                })?;
                Ok(python)
            }
        }
    }
}

/// Whether `program args` runs and exits 0, or what went wrong.
fn runs(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The interpreter for `sdk`, or `None` after saying why the check is skipped; a panic instead
/// when `GAUNTLET_REQUIRE_SDK=1`.
fn interpreter_or_skip(sdk: Sdk, check: &str) -> Option<PathBuf> {
    match sdk.interpreter() {
        Ok(p) => Some(p),
        Err(why) => {
            let msg = format!("{check}: skipped, {why}");
            if std::env::var("GAUNTLET_REQUIRE_SDK").is_ok_and(|v| v == "1") {
                panic!("{msg} and GAUNTLET_REQUIRE_SDK=1");
            }
            eprintln!("{msg}");
            None
        }
    }
}

/// The mock binary serving one check; killed on drop.
struct Mock {
    child: Child,
    url: String,
    stderr: PathBuf,
    /// Kept open so that the binary's later stdout writes never meet a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Mock {
    /// Starts the binary with `faults` written to a file of its own in `dir`.
    fn start(dir: &Path, faults: &str) -> Self {
        let file = dir.join("faults.toml");
        std::fs::write(&file, faults).unwrap();
        let stderr = dir.join("mock.stderr");
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--seed", "11", "--faults"])
            .arg(&file)
            .env_remove("MOCK_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut mock = Self {
            child,
            url,
            stderr,
            _stdout: stdout,
        };
        if !mock.url.starts_with("http://127.0.0.1:") {
            let _ = mock.child.kill();
            panic!(
                "the mock did not start: {line:?}\n{}",
                std::fs::read_to_string(&mock.stderr).unwrap_or_default()
            );
        }
        mock
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for one check's files.
fn scratch(sdk: Sdk, check: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gauntlet-sdk-{sdk:?}-{check}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `script` (a file in `tests/sdk/<sdk>/`) against a mock serving `faults`, and asserts
/// it exits 0; on failure the message has the script's output and the mock's stderr.
pub fn run_check(sdk: Sdk, script: &str, faults: &str) {
    let Some(interpreter) = interpreter_or_skip(sdk, script) else {
        return;
    };
    let dir = scratch(sdk, script);
    let mock = Mock::start(&dir, faults);
    let out_file = dir.join("script.out");
    let out = std::fs::File::create(&out_file).unwrap();
    let mut command = Command::new(&interpreter);
    // Nothing the SDKs do may leave the machine: no key, base URL or proxy from outside.
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if SDK_ENV_PREFIXES.iter().any(|p| text.starts_with(p)) {
            command.env_remove(&name);
        }
    }
    let mut child = command
        .arg(sdk.dir().join(script))
        .current_dir(sdk.dir())
        .env("MOCK_URL", &mock.url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("{script}: cannot run {}: {e}", interpreter.display()));
    let status = wait_bounded(&mut child, script);
    let mut output = String::new();
    std::fs::File::open(&out_file)
        .and_then(|mut f| f.read_to_string(&mut output))
        .unwrap();
    drop(mock);
    let mock_stderr = std::fs::read_to_string(dir.join("mock.stderr")).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "{script} ({sdk:?} SDK) failed: {status:?}\n--- output ---\n{output}\n--- mock stderr ---\n{mock_stderr}"
    );
    println!("{output}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The script's exit status, or `None` when it ran past [`SCRIPT_DEADLINE`] (it is killed).
fn wait_bounded(child: &mut Child, script: &str) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > SCRIPT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("{script}: killed after {SCRIPT_DEADLINE:?}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
