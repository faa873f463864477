//! What the runtime and differential harnesses share: finding case files, checking for root,
//! and waiting for or killing the processes a case starts.

#![allow(dead_code)] // each harness uses its own subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Reads and parses every `*.<ext>` file of `dir`, sorted by name. Each entry is
/// `(suite name, cases or an error message)`; `parse` returns `(line, message)` on error.
pub fn load_suites<C>(
    dir: &Path,
    ext: &str,
    parse: impl Fn(&str) -> Result<Vec<C>, (usize, String)>,
) -> Vec<(String, Result<Vec<C>, String>)> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect(),
        Err(e) => {
            return vec![(
                "harness".to_string(),
                Err(format!("cannot read {}: {e}", dir.display())),
            )]
        }
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let suite = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parsed = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|text| {
                    parse(&text)
                        .map_err(|(line, message)| format!("{}:{line}: {message}", path.display()))
                });
            (suite, parsed)
        })
        .collect()
}

/// True if the effective user id is 0, read from `/proc/self/status`.
pub fn is_root() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// Polls `child` until it exits, or returns `None` once `deadline` passes.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
}

/// Sends SIGKILL to the process group that `child` leads.
pub fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
