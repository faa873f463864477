//! The `beetrace` command. Only this crate knows clap and exit codes.
//!
//! The first argument selects a subcommand (`map`, `prog`, `run`, ...); anything else is the
//! bpftrace-compatible script runner, so `beetrace -e '...'` and `beetrace script.bt` behave
//! like bpftrace. A script file named like a subcommand can still be run as `./NAME`.

use std::io::Write;
use std::process::ExitCode;

mod cmd_fmt;
mod cmd_lsp;
mod cmd_map;
mod cmd_prog;
mod cmd_run;
mod cmd_serve;
mod cmd_symbolize;
mod cmd_unpin;
mod script;

fn main() -> ExitCode {
    let first = subcommand_name();
    match first.as_deref() {
        // Subcommands are added here, one arm each, each in its own module.
        Some("fmt") => cmd_fmt::main(),
        Some("lsp") => cmd_lsp::main(),
        Some("map") => cmd_map::main(),
        Some("prog") => cmd_prog::main(),
        Some("run") => cmd_run::main(),
        Some("serve") => cmd_serve::main(),
        Some("symbolize") => cmd_symbolize::main(),
        Some("unpin") => cmd_unpin::main(),
        _ => script::main(),
    }
}

/// Output flags bpftool takes before the object word (`bpftool -j map show`).
const LEADING_FLAGS: &[&str] = &["-j", "--json", "-p", "--pretty", "-f", "--bpffs"];

/// The subcommand word: the first argument, or the first after bpftool-style leading
/// output flags.
fn subcommand_name() -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).take(5).collect();
    let word = args.iter().find(|a| !LEADING_FLAGS.contains(&a.as_str()))?;
    let leading = args.iter().position(|a| a == word).unwrap_or(0);
    (leading == 0 || matches!(word.as_str(), "map" | "prog")).then(|| word.clone())
}

/// The arguments of a subcommand for its clap parser: its name, then the rest, with leading
/// output flags moved after the name.
pub(crate) fn subcommand_args() -> Vec<std::ffi::OsString> {
    let mut flags = Vec::new();
    let mut rest = std::env::args_os().skip(1).peekable();
    while let Some(a) = rest.next_if(|a| a.to_str().is_some_and(|s| LEADING_FLAGS.contains(&s))) {
        flags.push(a);
    }
    let mut args: Vec<std::ffi::OsString> = rest.next().into_iter().collect();
    args.extend(flags);
    args.extend(rest);
    args
}

/// The output flags of `map` and `prog`, bpftool's.
#[derive(clap::Args, Debug)]
pub(crate) struct OutputFlags {
    /// JSON output, as `bpftool -j`.
    #[arg(short = 'j', long = "json", global = true)]
    json: bool,
    /// Indented JSON, as `bpftool -p`.
    #[arg(short = 'p', long = "pretty", global = true)]
    pretty: bool,
    /// Show where objects are pinned, as `bpftool -f`.
    #[arg(short = 'f', long = "bpffs", global = true)]
    bpffs: bool,
}

impl OutputFlags {
    pub(crate) fn format(&self) -> admin::Format {
        admin::Format {
            json: self.json || self.pretty,
            pretty: self.pretty,
            list: false,
            bpffs: self.bpffs,
        }
    }
}

/// Mounts bpffs at /sys/fs/bpf when no bpffs is mounted, and says so.
pub(crate) fn ensure_bpffs() -> Result<(), String> {
    let (path, mounted) = kernel::ensure_bpffs().map_err(|e| e.to_string())?;
    if mounted {
        eprintln!(
            "beetrace: bpffs was not mounted; mounted it at {}",
            path.display()
        );
    }
    Ok(())
}

/// Runs a `map`/`prog`/`unpin` command: prints its output, or its error as one line (and,
/// with `-j`/`-p`, as bpftool's `{"error": ...}` object on stdout for scripts that parse it).
pub(crate) fn admin_main(
    fmt: admin::Format,
    command: impl FnOnce() -> Result<String, admin::AdminError>,
) -> ExitCode {
    let result = ensure_bpffs()
        .map_err(admin::AdminError::Usage)
        .and_then(|()| command());
    match result {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is a normal way to stop reading.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            if fmt.json {
                let error =
                    admin::json::Json::obj(vec![("error", admin::json::Json::str(e.to_string()))]);
                println!("{}", error.render(fmt.pretty));
            }
            eprintln!("ERROR: {e}");
            ExitCode::FAILURE
        }
    }
}
