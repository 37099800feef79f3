//! `gauntlet` binary: parse, run, exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(gauntlet::cli::run(std::env::args_os()))
}

/// The driver allocates a few small buffers per request (the prompt, JSON in and out, headers);
/// mimalloc keeps that cheap and the peak RSS steady, so the driver's own cost stays out of the
/// figures it measures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
