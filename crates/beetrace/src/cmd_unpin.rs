//! `beetrace unpin DIR`: removes what `--pin DIR` (and `--pin-progs`) pinned, which detaches
//! programs left running and frees maps nothing else holds.

use std::path::PathBuf;

use clap::Parser;

/// Remove pins: a pinned object, or a directory of them (as made by `beetrace --pin DIR`).
#[derive(Parser, Debug)]
#[command(name = "beetrace unpin", bin_name = "beetrace unpin")]
struct Cli {
    /// A pin or a directory of pins on a bpffs.
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

/// Entry point of `beetrace unpin PATH`.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    crate::admin_main(admin::Format::default(), || {
        let n = bpfsys::pin::remove_all(&cli.path)?;
        eprintln!(
            "beetrace: removed {n} pin{} under {}",
            if n == 1 { "" } else { "s" },
            cli.path.display()
        );
        Ok(String::new())
    })
}
