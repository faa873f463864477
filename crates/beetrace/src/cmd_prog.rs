//! `beetrace prog ...`: bpftool's program commands. Flags are parsed here; the words after
//! the subcommand follow bpftool's grammar, handled by `admin`.

use clap::{Parser, Subcommand};

use crate::admin_main;

/// Inspect BPF programs, with bpftool's arguments and output.
#[derive(Parser, Debug)]
#[command(
    name = "beetrace prog",
    bin_name = "beetrace prog",
    after_help = "PROG is `id N`, `pinned PATH` or `name NAME`.\n\nEXAMPLES:\n    beetrace prog \
                  list\n    beetrace prog dump xlated id 42\n    beetrace prog pin id 42 \
                  /sys/fs/bpf/myprog"
)]
struct Cli {
    #[command(flatten)]
    output: crate::OutputFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show every program.
    List,
    /// Show one program (every program without PROG).
    Show { words: Vec<String> },
    /// Disassemble the instructions the kernel runs: xlated PROG.
    Dump { words: Vec<String> },
    /// Pin a program: PROG PATH.
    Pin { words: Vec<String> },
}

/// Entry point of `beetrace prog ...`.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    let fmt = cli.output.format();
    admin_main(fmt, || match &cli.command {
        Command::List => admin::commands::prog_show(&[], fmt),
        Command::Show { words } => admin::commands::prog_show(words, fmt),
        Command::Dump { words } => admin::commands::prog_dump(words, fmt),
        Command::Pin { words } => admin::commands::prog_pin(words),
    })
}
