//! `gauntlet proxy CONFIG`: parse and check the config, bind, print the address, serve until
//! SIGTERM or Ctrl-C, drain; SIGHUP reloads the file (see [`crate::proxy::reload`]).

use std::io::Write;

use super::{ProxyArgs, EXIT_OK, EXIT_USAGE};
use crate::proxy::reload::{self, CommandLine, Live};
use crate::proxy::server::{bind, router, serve, App};
use crate::proxy::ProxyConfig;

/// Runs the proxy; the exit code.
pub(crate) fn run(args: ProxyArgs) -> u8 {
    let mut config = match ProxyConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    let command_line = CommandLine {
        listen: args.listen,
        upstream: args.upstream.clone(),
    };
    command_line.apply(&mut config);
    if !config.ignored.is_empty() {
        eprintln!(
            "gauntlet proxy: {} is a scenario; its [client] is used, {} ignored",
            args.config.display(),
            config.ignored.join(", ")
        );
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gauntlet proxy: runtime: {e}");
            return EXIT_USAGE;
        }
    };
    let interrupt = crate::signals::Interrupt::listen();
    runtime.block_on(async move {
        let drain = config.drain_timeout;
        let listener = match bind(config.listen, args.allow_remote) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("gauntlet proxy: {e}");
                return EXIT_USAGE;
            }
        };
        let app = match App::new(config) {
            Ok(a) => std::sync::Arc::new(a),
            Err(e) => {
                eprintln!("gauntlet proxy: {e}");
                return EXIT_USAGE;
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("gauntlet proxy: {e}");
                return EXIT_USAGE;
            }
        };
        let metrics = app.metrics.clone();
        let live = std::sync::Arc::new(Live::new(router(app)));
        let load = reload::loader(args.config.clone(), command_line, addr, metrics);
        if let Err(e) = reload::spawn_on_sighup(live.clone(), load) {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
        println!("gauntlet proxy listening on http://{addr}");
        let _ = std::io::stdout().flush();
        let shutdown = async move {
            interrupt.wait().await;
            eprintln!("gauntlet proxy: draining in-flight requests");
        };
        match serve(listener, reload::live_router(live), drain, shutdown).await {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("gauntlet proxy: {e}");
                EXIT_USAGE
            }
        }
    })
}
