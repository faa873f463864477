//! `beetrace symbolize BINARY... [< output]`: names the frames of `ustack(build_id)` stacks
//! after the fact, from binaries with the same build id.
//!
//! A build-id frame is a line `<build id in hex> 0x<file offset>` (bpftrace's layout). The
//! process, and even the binary it ran, may be long gone; any copy of the binary with the
//! same build id (a build artefact, a debug package) names the frame. Each such line
//! becomes `        symbol+offset` (bpftrace's stack layout); other lines pass through, so
//! the whole output of a run can be piped in.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use runtime::symbolize::ElfSymbols;

/// Name the frames of build-id stacks (`ustack(build_id)`) from binaries with those build ids.
#[derive(Parser, Debug)]
#[command(name = "beetrace symbolize", bin_name = "beetrace symbolize")]
struct Cli {
    /// ELF files, or directories searched (recursively) for them.
    #[arg(value_name = "BINARY", required = true)]
    binaries: Vec<PathBuf>,
    /// Read the stacks from this file instead of standard input.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("beetrace symbolize: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let mut index: HashMap<Vec<u8>, (PathBuf, ElfSymbols)> = HashMap::new();
    for path in &cli.binaries {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()));
        }
        add_binaries(path, &mut index);
    }
    if index.is_empty() {
        return Err("none of the given files is an ELF file with a build id".into());
    }
    let input: Box<dyn BufRead> = match &cli.input {
        Some(p) => Box::new(io::BufReader::new(
            fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(io::stdin().lock()),
    };
    let mut out = io::stdout().lock();
    let mut unknown: Vec<String> = Vec::new();
    for line in input.lines() {
        let line = line.map_err(|e| format!("cannot read the input: {e}"))?;
        let text = match build_id_frame(&line) {
            Some((id, offset)) => match index.get(&id) {
                Some((_, elf)) => match elf.symbol_at_file_offset(offset) {
                    Some((f, off)) => format!("        {}+{off}", f.display_name()),
                    None => line,
                },
                None => {
                    let hex = hex(&id);
                    if !unknown.contains(&hex) {
                        unknown.push(hex);
                    }
                    line
                }
            },
            None => line,
        };
        if writeln!(out, "{text}").is_err() {
            return Ok(()); // A closed pipe ends the output, as with other filters.
        }
    }
    for id in unknown {
        eprintln!("beetrace symbolize: no binary given has build id {id}; its frames are left as they were");
    }
    Ok(())
}

/// Every ELF file with a build id at `path` (a file, or a directory walked recursively;
/// symbolic links to directories inside it are not followed, so a link cycle ends).
fn add_binaries(path: &Path, index: &mut HashMap<Vec<u8>, (PathBuf, ElfSymbols)>) {
    if path.is_dir() {
        if let Ok(entries) = fs::read_dir(path) {
            for entry in entries.flatten() {
                let linked_dir =
                    entry.file_type().is_ok_and(|t| t.is_symlink()) && entry.path().is_dir();
                if !linked_dir {
                    add_binaries(&entry.path(), index);
                }
            }
        }
        return;
    }
    if let Ok(elf) = ElfSymbols::read(path) {
        if let Some(id) = elf.build_id().map(<[u8]>::to_vec) {
            index.entry(id).or_insert((path.to_path_buf(), elf));
        }
    }
}

/// `<hex build id> 0x<hex offset>`, leading and trailing blanks allowed.
fn build_id_frame(line: &str) -> Option<(Vec<u8>, u64)> {
    let (id, offset) = line.trim().split_once(' ')?;
    let offset = u64::from_str_radix(offset.strip_prefix("0x")?, 16).ok()?;
    if id.len() < 2 || id.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(id.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some((bytes, offset))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::build_id_frame;

    #[test]
    fn recognises_build_id_frames_only() {
        assert_eq!(
            build_id_frame("49eaa1e6 0x115e"),
            Some((vec![0x49, 0xea, 0xa1, 0xe6], 0x115e))
        );
        assert_eq!(
            build_id_frame("  abcd 0x10  "),
            Some((vec![0xab, 0xcd], 0x10))
        );
        assert_eq!(build_id_frame("7fb4c82124f7"), None);
        assert_eq!(build_id_frame("@[ 0x10"), None);
        assert_eq!(build_id_frame("abc 0x10"), None);
        assert_eq!(build_id_frame("]: 3"), None);
    }
}
