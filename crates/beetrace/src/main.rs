//! The `beetrace` command. Only this crate knows clap and exit codes.
//!
//! The first argument selects a subcommand (`map`, `prog`, `run`, ...); anything else is the
//! bpftrace-compatible script runner, so `beetrace -e '...'` and `beetrace script.bt` behave
//! like bpftrace. A script file named like a subcommand can still be run as `./NAME`.

use std::process::ExitCode;

mod script;

fn main() -> ExitCode {
    let first = std::env::args_os().nth(1);
    #[allow(clippy::match_single_binding)] // until the first subcommand lands
    match first.as_ref().and_then(|a| a.to_str()) {
        // Subcommands are added here, one arm each, each in its own module.
        _ => script::main(),
    }
}
