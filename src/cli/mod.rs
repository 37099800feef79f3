//! The `gauntlet` command line. Parsing lives here, in the library, so tests call it directly;
//! `main.rs` only maps the result to an exit code.

use clap::Parser;

/// Exit code: everything passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: a threshold failed.
pub const EXIT_THRESHOLDS: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;

/// Gauntlet: validate an LLM client stack against a free API's rate limits, latency and outages.
#[derive(Debug, Parser)]
#[command(name = "gauntlet", version, about)]
pub struct Opts {}

/// Parses `args` and runs; returns the process exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Opts::try_parse_from(args) {
        Ok(_) => {
            println!(
                "gauntlet {}: see `gauntlet --help`",
                env!("CARGO_PKG_VERSION")
            );
            EXIT_OK
        }
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_help_exit_zero_and_bad_flags_two() {
        assert_eq!(run(["gauntlet", "--version"]), EXIT_OK);
        assert_eq!(run(["gauntlet", "--help"]), EXIT_OK);
        assert_eq!(run(["gauntlet", "--bogus"]), EXIT_USAGE);
    }
}
