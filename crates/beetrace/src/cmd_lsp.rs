//! `beetrace lsp`: the language server on standard input and output (`crates/lsp`).

use std::process::ExitCode;

use clap::Parser;

/// Language server for bpftrace scripts, speaking LSP on stdin/stdout.
#[derive(Parser, Debug)]
#[command(name = "beetrace lsp", bin_name = "beetrace lsp")]
struct Cli {}

/// Entry point of `beetrace lsp`. Exit status 0 after `shutdown` then `exit`, 1 otherwise
/// (as the protocol asks).
pub fn main() -> ExitCode {
    let _cli = Cli::parse_from(crate::subcommand_args());
    match lsp::run_stdio() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("beetrace lsp: {message}");
            ExitCode::from(1)
        }
    }
}
