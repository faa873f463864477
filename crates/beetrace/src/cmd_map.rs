//! `beetrace map ...`: bpftool's map commands. Flags are parsed here; the words after the
//! subcommand (`id N key 1 0 0 0 ...`) follow bpftool's grammar, handled by `admin`.

use clap::{Parser, Subcommand};

use crate::admin_main;

/// Inspect and manage BPF maps, with bpftool's arguments and output.
#[derive(Parser, Debug)]
#[command(
    name = "beetrace map",
    bin_name = "beetrace map",
    after_help = "MAP is `id N`, `pinned PATH` or `name NAME`; BYTES are decimal, 0xNN, or \
                  bare hex after the word `hex`.\n\nEXAMPLES:\n    beetrace map create \
                  /sys/fs/bpf/honey type array key 4 value 32 entries 8 name honeypot\n    \
                  beetrace map update pinned /sys/fs/bpf/honey key 0 0 0 0 value hex 2a 00 00 00 ...\n    \
                  beetrace map dump pinned /sys/fs/bpf/myrun/calls --format bpftrace"
)]
struct Cli {
    #[command(flatten)]
    output: crate::OutputFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show every map.
    List,
    /// Show one map (every map without MAP).
    Show { words: Vec<String> },
    /// Print every entry: MAP [--format bpftrace].
    Dump {
        words: Vec<String>,
        /// `bpftrace`: print a beetrace run's @map as bpftrace prints maps.
        #[arg(long = "format", value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Print one entry: MAP key BYTES.
    Lookup { words: Vec<String> },
    /// The key after KEY (the first without): MAP [key BYTES].
    Getnext { words: Vec<String> },
    /// Set an entry: MAP key BYTES value BYTES [any|exist|noexist].
    Update { words: Vec<String> },
    /// Remove an entry: MAP key BYTES.
    Delete { words: Vec<String> },
    /// Create a map and pin it: PATH type TYPE key N value N entries N name NAME [flags F].
    Create { words: Vec<String> },
    /// Pin a map: MAP PATH.
    Pin { words: Vec<String> },
}

/// Entry point of `beetrace map ...`.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    let fmt = cli.output.format();
    admin_main(fmt, || match &cli.command {
        Command::List => admin::commands::map_show(&[], fmt),
        Command::Show { words } => admin::commands::map_show(words, fmt),
        Command::Dump { words, format } => {
            let bpftrace = match format.as_deref() {
                None => false,
                Some("bpftrace") => true,
                Some(other) => {
                    return Err(admin::AdminError::Usage(format!(
                        "unknown --format '{other}'; the only one is bpftrace"
                    )))
                }
            };
            admin::commands::map_dump(words, fmt, bpftrace)
        }
        Command::Lookup { words } => admin::commands::map_lookup(words, fmt),
        Command::Getnext { words } => admin::commands::map_getnext(words, fmt),
        Command::Update { words } => admin::commands::map_update(words),
        Command::Delete { words } => admin::commands::map_delete(words),
        Command::Create { words } => admin::commands::map_create(words),
        Command::Pin { words } => admin::commands::map_pin(words),
    })
}
