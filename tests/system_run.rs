//! A whole run through a system under test: Gauntlet starts the embedded mock, then the
//! system with the mock's URL, drives it, and stops it. The systems are `gauntlet proxy`
//! itself (an OpenAI-compatible gateway) and a small Python app with its own route, driven by
//! a `[system.request]` template; the report must show the requests succeeded through them and
//! the mock must have seen them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-sysrun-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the scenario `text` from `dir` with `extra` arguments; exit code, output, summary.
fn run(
    dir: &Path,
    text: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, Option<Value>) {
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("report");
    let output = Command::new(BIN)
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .args(["--threads", "1"])
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text, summary)
}

fn u(v: &Value, path: &str) -> u64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_u64()
        .unwrap_or_else(|| panic!("{path} in {v}"))
}

/// `[system]` for `gauntlet proxy`: its config written by the command itself, since the
/// mock's URL is known only once the mock listens.
fn proxy_system(dir: &Path) -> String {
    format!(
        "[system]\nurl = \"http://127.0.0.1:{{port}}\"\ncommand = '''printf '[proxy]\\nupstream = \"%s\"\\n' '{{mock_url}}' > {cfg} && exec {BIN} proxy {cfg} --listen 127.0.0.1:{{port}}'''\nready = \"/healthz\"\napi_key = \"sk-through-proxy\"\nstop_timeout = \"10s\"\n",
        cfg = dir.join("proxy.toml").display()
    )
}

const WORKLOAD: &str = "name = \"through\"\nseed = 7\nduration = \"2s\"\n[workload]\ndrain = \"5s\"\nstages = [{ for = \"2s\", rate = \"10/s\" }]\n";

#[test]
fn gauntlet_proxy_as_the_system_under_test() {
    let dir = temp_dir("proxy");
    let text = format!("{WORKLOAD}{}", proxy_system(&dir));
    let (code, out, summary) = run(&dir, &text, &[], &[]);
    assert_eq!(code, 0, "{out}");
    let s = summary.expect("summary.json");
    let total = u(&s, "requests.total");
    assert!(total >= 15, "{s}");
    assert_eq!(u(&s, "requests.ok"), total, "{s}");
    // The mock, behind the proxy, answered every one of them.
    assert_eq!(u(&s, "upstream.status_counts.200"), total, "{s}");
    assert!(
        out.contains("system    the system stopped on SIGTERM"),
        "{out}"
    );
    let log = std::fs::read_to_string(dir.join("report/system.log")).unwrap();
    assert!(
        log.contains("[gauntlet] the system stopped on SIGTERM"),
        "{log}"
    );
    // The key is the driver's bearer, never written to the output.
    assert!(!out.contains("sk-through-proxy"), "{out}");
}

#[test]
fn system_url_overrides_and_starts_nothing() {
    // Nothing listens here: without a command started, every request fails to connect.
    let dir = temp_dir("override");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let text = format!(
        "{WORKLOAD}[system]\nurl = \"http://127.0.0.1:{{port}}\"\ncommand = '''touch {} && sleep 30'''\n",
        dir.join("started").display()
    );
    let (code, out, summary) = run(&dir, &text, &["--system-url", &url], &[]);
    assert_eq!(code, 0, "{out}");
    let s = summary.unwrap();
    assert_eq!(u(&s, "requests.ok"), 0, "{s}");
    assert!(u(&s, "requests.errors") > 0, "{s}");
    assert!(!dir.join("started").exists(), "the command was started");
    assert!(!dir.join("report/system.log").exists());
}

/// Whether python3 runs here; under CI (or `GAUNTLET_REQUIRE_PYTHON=1`) a missing one fails.
fn python_or_skip() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("GAUNTLET_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    if !ok && required {
        panic!("python3 cannot run and CI=true or GAUNTLET_REQUIRE_PYTHON=1");
    }
    if !ok {
        eprintln!("skipped: python3 cannot run");
    }
    ok
}

#[test]
fn an_app_with_its_own_route_driven_by_a_request_template() {
    if !python_or_skip() {
        return;
    }
    let dir = temp_dir("app");
    // Prompts with quotes and backslashes: the template must escape them as JSON.
    let prompts = dir.join("prompts.txt");
    std::fs::write(
        &prompts,
        "say \"hello\" twice\na path C:\\temp\\x\nplain one\n",
    )
    .unwrap();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sut_app.py");
    let text = format!(
        "name = \"app\"\nseed = 3\nduration = \"2s\"\n[workload]\ndrain = \"5s\"\nstages = [{{ for = \"2s\", rate = \"10/s\" }}]\nprompts = {{ file = \"{p}\", distinct = 3 }}\n\
         [system]\nurl = \"http://127.0.0.1:{{port}}\"\ncommand = [\"python3\", \"{app}\", \"--port\", \"{{port}}\"]\n\
         env = {{ OPENAI_BASE_URL = \"{{mock_url}}/v1\", APP_KEY_VAR = \"GAUNTLET_TEST_APP_KEY\" }}\n\
         ready = {{ line = \"app listening on\" }}\napi_key_env = \"GAUNTLET_TEST_APP_KEY\"\n\
         [system.request]\nmethod = \"POST\"\npath = \"/ask\"\nbody = '{{\"question\": \"{{prompt}}\", \"session\": \"{{session}}\", \"user\": \"{{user}}\", \"model\": \"{{model}}\"}}'\n",
        p = prompts.display(),
        app = app.display()
    );
    let (code, out, summary) = run(
        &dir,
        &text,
        &[],
        &[("GAUNTLET_TEST_APP_KEY", "sk-app-secret")],
    );
    assert_eq!(code, 0, "{out}");
    let s = summary.expect("summary.json");
    let total = u(&s, "requests.total");
    assert!(total >= 15, "{s}");
    assert_eq!(u(&s, "requests.ok"), total, "{s}");
    assert_eq!(u(&s, "upstream.status_counts.200"), total, "{s}");
    assert!(!out.contains("sk-app-secret"), "{out}");

    // A wrong key is the app's 401, recorded as a client error: the status reaches the report.
    let (code, out, summary) = run(
        &dir,
        &text.replace(
            "api_key_env = \"GAUNTLET_TEST_APP_KEY\"",
            "api_key = \"wrong\"",
        ),
        &[],
        &[("GAUNTLET_TEST_APP_KEY", "sk-app-secret")],
    );
    assert_eq!(code, 0, "{out}");
    let s = summary.unwrap();
    assert_eq!(u(&s, "requests.ok"), 0, "{s}");
    assert_eq!(
        u(&s, "error_kinds.client_error"),
        u(&s, "requests.total"),
        "{s}"
    );
    assert!(s["upstream"]["status_counts"].get("200").is_none(), "{s}");
}
