//! `mock-upstream`: serve the mock, or check a fault file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mock_upstream::faults::{load_file, FaultConfig};
use mock_upstream::server::{router, serve, MockOptions, MockState};

/// An OpenAI-compatible chat-completions server that injects rate limits, latency, outages and
/// faults on a scripted, seeded timeline.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on; port 0 picks a free one. Loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Fault file (TOML, or JSON when it ends in .json); without one the mock is well-behaved.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Seed for every random decision; overrides the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Require `Authorization: Bearer TOKEN` on the /_mock/* control routes.
    #[arg(long)]
    admin_token: Option<String>,
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
        admin_token: cli.admin_token,
        epoch_secs,
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
        serve(listener, router(state), async {
            let _ = tokio::signal::ctrl_c().await;
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
