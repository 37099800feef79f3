//! `mock-upstream`: serve the mock, or check a fault file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gauntlet_wire::duration::HumanDuration;
use mock_upstream::faults::{load_file, FaultConfig};
use mock_upstream::server::{
    router, serve_with, MockOptions, MockState, ServeOptions, DEFAULT_MAX_CONNECTIONS,
};

/// The environment variable the admin token may come from, so it stays out of `ps` output.
const ADMIN_TOKEN_ENV: &str = "MOCK_ADMIN_TOKEN";

/// An OpenAI-compatible chat-completions server that injects rate limits, latency, outages and
/// faults on a scripted, seeded timeline.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on; port 0 picks a free one. Only loopback, unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address; needs an admin token (--admin-token or
    /// MOCK_ADMIN_TOKEN), since anyone who reaches the port could change the faults.
    #[arg(long)]
    allow_remote: bool,
    /// Fault file (TOML, or JSON when it ends in .json); without one the mock is well-behaved.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Seed for every random decision; overrides the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Require `Authorization: Bearer TOKEN` on the /_mock/* control routes (default: the
    /// MOCK_ADMIN_TOKEN environment variable, if set).
    #[arg(long)]
    admin_token: Option<String>,
    /// Close a connection that has not sent a complete request head this long after its accept
    /// or its last response's first next byte.
    #[arg(long, default_value = "10s")]
    header_read_timeout: HumanDuration,
    /// Close a connection with no request in flight and no bytes moving for this long.
    #[arg(long, default_value = "120s")]
    idle_timeout: HumanDuration,
    /// Connections served at once; more wait in the kernel's accept queue until one closes.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
}

/// Why the binary refuses to start with these arguments.
#[derive(Debug, thiserror::Error)]
enum StartError {
    /// A non-loopback address without --allow-remote.
    #[error("--listen {addr} is not a loopback address; add --allow-remote to serve it (with an admin token)")]
    RemoteNotAllowed {
        /// The address given.
        addr: SocketAddr,
    },
    /// --allow-remote without a token, which would leave the fault controls open.
    #[error("--allow-remote needs an admin token: --admin-token or {ADMIN_TOKEN_ENV}")]
    RemoteWithoutToken,
    /// A cap of 0 connections would serve nothing.
    #[error("--max-connections must be at least 1")]
    NoConnections,
    /// A timeout of 0 would close every connection before its first request.
    #[error("--{0} must be more than 0 (like \"10s\")")]
    ZeroTimeout(&'static str),
}

/// The admin token from the flag, else from the environment; an empty one is no token.
fn admin_token(flag: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
        .filter(|t| !t.is_empty())
}

/// Refuses a configuration that would expose the mock without protection.
fn check_exposure(cli: &Cli, token: Option<&str>) -> Result<(), StartError> {
    if cli.max_connections == 0 {
        return Err(StartError::NoConnections);
    }
    for (flag, timeout) in [
        ("header-read-timeout", cli.header_read_timeout),
        ("idle-timeout", cli.idle_timeout),
    ] {
        if timeout.0.is_zero() {
            return Err(StartError::ZeroTimeout(flag));
        }
    }
    if !cli.allow_remote && !cli.listen.ip().is_loopback() {
        return Err(StartError::RemoteNotAllowed { addr: cli.listen });
    }
    if cli.allow_remote && token.is_none() {
        return Err(StartError::RemoteWithoutToken);
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (what `docker stop` and systemd send), so both drain.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate fault files without serving.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Some(Command::Check { files }) => check(&files),
        None => match run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mock-upstream: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        match load_file(f) {
            Ok(_) => println!("{}: ok", f.display()),
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let token = admin_token(cli.admin_token.clone());
    check_exposure(&cli, token.as_deref())?;
    let config = match &cli.faults {
        Some(path) => load_file(path)?,
        None => FaultConfig::default(),
    };
    let epoch_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let options = MockOptions {
        seed: cli.seed,
        admin_token: token,
        epoch_secs,
        pacing: mock_upstream::server::Pacing::Precise,
    };
    let serve_options = ServeOptions {
        header_read_timeout: cli.header_read_timeout.0,
        idle_timeout: cli.idle_timeout.0,
        max_connections: cli.max_connections,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = mock_upstream::server::listen(cli.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cli.listen))?;
        let addr = listener.local_addr()?;
        let state = MockState::new(config, options);
        println!("mock-upstream listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        serve_with(listener, router(state), serve_options, async {
            shutdown_signal().await;
            eprintln!("mock-upstream: shutting down");
        })
        .await?;
        Ok(())
    })
}

/// The mock allocates a few small buffers per request (JSON in, JSON out, headers); glibc's
/// allocator spends more time on those than the mock's own logic does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
