//! `gauntlet` binary: parse, run, exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(gauntlet::cli::run(std::env::args_os()))
}
