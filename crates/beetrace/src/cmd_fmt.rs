//! `beetrace fmt FILE...`: prints scripts in the canonical layout (`syntax::format`), or with
//! `--check` only says which would change, or with `-w` rewrites them in place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// Format bpftrace scripts in beetrace's one layout (comments are kept).
#[derive(Parser, Debug)]
#[command(name = "beetrace fmt", bin_name = "beetrace fmt")]
struct Cli {
    /// Scripts to format; `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Do not print the scripts: name those not formatted yet (on stderr) and exit 1 if any.
    #[arg(long, conflicts_with = "write")]
    check: bool,
    /// Rewrite the files in place (only those that change).
    #[arg(short = 'w', long = "write")]
    write: bool,
}

/// Entry point of `beetrace fmt`. Exit status: 0 done (or, with `--check`, nothing would
/// change); 1 when a script does not parse or cannot be read or written, or with `--check`
/// when one would change. A script that fails is never written.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    let mut status = ExitCode::SUCCESS;
    for path in &cli.files {
        match format_one(&cli, path) {
            Ok(true) => {}
            Ok(false) => status = ExitCode::from(1),
            Err(message) => {
                eprint!("{message}");
                if !message.ends_with('\n') {
                    eprintln!();
                }
                status = ExitCode::from(1);
            }
        }
    }
    status
}

/// Formats one script; `Ok(false)` when `--check` finds it would change.
fn format_one(cli: &Cli, path: &Path) -> Result<bool, String> {
    let stdin = path == Path::new("-");
    let name = if stdin {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    let source = read(path, stdin).map_err(|e| format!("beetrace fmt: {name}: {e}"))?;
    let formatted = match syntax::format::format(&source) {
        Ok(text) => text,
        Err(syntax::format::FormatError::Syntax(errors)) => {
            return Err(format!(
                "{}beetrace fmt: {name} does not parse; it was not formatted",
                syntax::render_all(&errors, &name, &source)
            ))
        }
        Err(e) => return Err(format!("beetrace fmt: {name}: {e}")),
    };
    if cli.check {
        if formatted != source {
            eprintln!("beetrace fmt: {name} is not formatted");
            return Ok(false);
        }
        return Ok(true);
    }
    if cli.write && !stdin {
        if formatted != source {
            write_in_place(path, &formatted).map_err(|e| format!("beetrace fmt: {name}: {e}"))?;
        }
        return Ok(true);
    }
    std::io::stdout()
        .write_all(formatted.as_bytes())
        .map_err(|e| format!("beetrace fmt: writing the output: {e}"))?;
    Ok(true)
}

fn read(path: &Path, stdin: bool) -> std::io::Result<String> {
    let mut text = String::new();
    if stdin {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path)?;
    }
    Ok(text)
}

/// Writes through a temporary file beside `path` and a rename, so the script is either
/// the old text or the new one, never half written; its permissions are kept.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".beetrace-fmt-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = std::fs::write(&tmp, text)
        .and_then(|()| std::fs::set_permissions(&tmp, permissions))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
