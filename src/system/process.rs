//! The system's processes: started in a process group of their own, with stdout and stderr
//! going straight to `system.log` (no pipe that a quiet Gauntlet could let fill up and block
//! the system), and stopped as a group, so nothing it started is left behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::{sleep, Instant};

use super::SystemError;
use crate::scenario::system::CommandSpec;

/// How often a stopping group is looked at.
const POLL: Duration = Duration::from_millis(20);

/// After SIGKILL, how long the group gets to disappear (the kernel's part).
const AFTER_KILL: Duration = Duration::from_secs(5);

/// Lines of the log an error shows.
pub(super) const TAIL_LINES: usize = 20;

/// A started command: its leader and the group it leads.
#[derive(Debug)]
pub(super) struct Group {
    pub child: Child,
    pub pgid: i32,
    /// Set once the group is known to be gone, so dropping it sends nothing.
    pub gone: bool,
}

/// What stopping a group took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stopped {
    /// How the leader ended, when it could be read.
    pub status: Option<ExitStatus>,
    /// Whether SIGTERM was not enough and SIGKILL ended it.
    pub killed: bool,
}

/// Starts `command` with `env` added, in `cwd`, its output appended to `log`.
pub(super) fn spawn(
    command: &CommandSpec,
    env: &[(String, String)],
    cwd: Option<&Path>,
    log: &Path,
) -> Result<Group, SystemError> {
    let (program, args): (&str, Vec<&str>) = match command {
        CommandSpec::Shell(s) => ("sh", vec!["-c", s.as_str()]),
        CommandSpec::Argv(v) => (v[0].as_str(), v[1..].iter().map(String::as_str).collect()),
    };
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| SystemError::Log {
                path: log.to_path_buf(),
                source,
            })
    };
    let (out, err) = (open()?, open()?);
    let mut cmd = Command::new(program);
    cmd.args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().map_err(|source| SystemError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| SystemError::Spawn {
            program: program.to_string(),
            source: std::io::Error::other("no process id"),
        })?;
    Ok(Group {
        child,
        pgid,
        gone: false,
    })
}

impl Group {
    fn signal(&self, signal: Signal) {
        // ESRCH: the group is already gone, which is what was wanted.
        let _ = killpg(Pid::from_raw(self.pgid), signal);
    }

    /// The leader's status if it has exited (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the group, then SIGKILL if the leader or any process of the group is still
    /// there after `grace`.
    pub async fn stop(&mut self, grace: Duration) -> Stopped {
        self.signal(Signal::SIGTERM);
        if let Some(status) = self.wait_gone(Instant::now() + grace).await {
            self.gone = true;
            return Stopped {
                status,
                killed: false,
            };
        }
        self.signal(Signal::SIGKILL);
        let status = self.wait_gone(Instant::now() + AFTER_KILL).await.flatten();
        self.gone = true;
        Stopped {
            status,
            killed: true,
        }
    }

    /// Waits until the leader has exited and no process of the group is alive; `None` when
    /// `deadline` came first, else the leader's status.
    async fn wait_gone(&mut self, deadline: Instant) -> Option<Option<ExitStatus>> {
        let mut status = None;
        loop {
            if status.is_none() {
                status = self.exited();
            }
            let leader_gone = status.is_some() || self.child.id().is_none();
            if leader_gone && !group_alive(self.pgid) {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(POLL).await;
        }
    }
}

impl Drop for Group {
    /// A system dropped without being stopped (a panic, an error on the way) is killed at
    /// once: a run must never leave a process behind.
    fn drop(&mut self) {
        if !self.gone {
            self.signal(Signal::SIGKILL);
        }
    }
}

/// Whether any process of group `pgid` is still alive. On Linux, `/proc` is read so that a
/// zombie (an orphan whose new parent has not reaped it yet) does not count: it runs nothing.
fn group_alive(pgid: i32) -> bool {
    match std::fs::read_dir("/proc") {
        Ok(entries) => entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                && std::fs::read_to_string(e.path().join("stat"))
                    .is_ok_and(|stat| live_member(&stat, pgid))
        }),
        Err(_) => killpg(Pid::from_raw(pgid), None).is_ok(),
    }
}

/// Whether a `/proc/PID/stat` line is of a live (not zombie, not dead) process of `pgid`.
/// The name field may hold spaces and parentheses, so the fields are read after the last ')'.
fn live_member(stat: &str, pgid: i32) -> bool {
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
    group == Some(pgid) && !matches!(state, Some("Z" | "X" | "x"))
}

/// The last [`TAIL_LINES`] lines of `log` (its last 16 KiB at most), for an error message.
pub(super) fn tail(log: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = File::open(log)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let text = read().unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    if lines.is_empty() {
        "  (no output)".into()
    } else {
        lines[from..]
            .iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether `log`'s bytes from `from` on hold `needle` on a line; returns the new offset to
/// read from (the start of the last, unfinished line, so a line written in two pieces is
/// still found).
pub(super) fn scan_for_line(log: &Path, from: u64, needle: &str) -> (bool, u64) {
    let Ok(mut f) = File::open(log) else {
        return (false, from);
    };
    if f.seek(SeekFrom::Start(from)).is_err() {
        return (false, from);
    }
    let mut bytes = Vec::new();
    // At most 1 MiB a look: a chatty system cannot make this read without bound.
    if f.take(1 << 20).read_to_end(&mut bytes).is_err() {
        return (false, from);
    }
    let text = String::from_utf8_lossy(&bytes);
    if text.contains(needle) {
        return (true, from + bytes.len() as u64);
    }
    let unfinished = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // A line longer than the needle's search window is not kept for ever.
    let keep = (bytes.len() - unfinished).min(needle.len().max(1) * 4 + 4096);
    (false, from + (bytes.len() - keep) as u64)
}

/// The log's path in `run_dir`.
pub(super) fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("system.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_after_the_name() {
        assert!(live_member("12 (sleep) S 1 77 77 0 -1", 77));
        assert!(!live_member("12 (sleep) Z 1 77 77 0 -1", 77));
        assert!(!live_member("12 (sleep) S 1 78 78 0 -1", 77));
        assert!(live_member("12 (a) b (c)) R 1 77 77 0", 77));
        assert!(!live_member("garbage", 77));
    }

    #[test]
    fn a_line_is_found_across_writes() {
        let dir = std::env::temp_dir().join(format!("gauntlet-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("system.log");
        std::fs::write(&log, "starting\nlisten").unwrap();
        let (found, at) = scan_for_line(&log, 0, "listening on");
        assert!(!found);
        assert_eq!(at, "starting\n".len() as u64);
        std::fs::write(&log, "starting\nlistening on 80\n").unwrap();
        assert!(scan_for_line(&log, at, "listening on").0);
        assert!(tail(&log).contains("  | listening on 80"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
