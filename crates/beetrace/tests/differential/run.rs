//! Running one tool on one case: scratch directory, workload script, timeout.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use crate::case::Case;
use crate::support::{kill_group, wait_until};

/// Programs a workload can run under a name no other process on the machine
/// uses, so that `comm == "dtcat"` only sees this case's workload. Each is a
/// symlink `dt<name>` in the scratch directory, which is first on the
/// workload's `PATH`; exec through a symlink makes its name the `comm`.
const ALIASES: &[&str] = &["cat", "true", "sleep", "ls", "echo", "head", "dd", "bash"];

/// What a tool printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A scratch directory holding the workload script and the aliases; removed
/// when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates the directory, its aliases and (if the case has one) the
    /// workload script `workload.sh`.
    pub fn create(case: &Case) -> Result<Scratch, String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "beetrace-differential-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let scratch = Scratch { path };
        let fail = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
        fs::create_dir_all(&scratch.path).map_err(|e| fail("create scratch directory", e))?;
        for name in ALIASES {
            symlink(
                format!("/bin/{name}"),
                scratch.path.join(format!("dt{name}")),
            )
            .map_err(|e| fail("create alias", e))?;
        }
        if let Some(workload) = &case.workload {
            // The workload's own output would mix with the tool's stdout;
            // cargo's LD_LIBRARY_PATH would add its directories to the
            // dynamic loader's (traced) search.
            let script = format!(
                "exec >/dev/null 2>&1\nunset LD_LIBRARY_PATH\ncd '{dir}'\nPATH='{dir}':\"$PATH\"\n{workload}\n",
                dir = scratch.path.display()
            );
            fs::write(scratch.workload(), script).map_err(|e| fail("write workload", e))?;
        }
        for setup in &case.setup {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(setup)
                .env(
                    "FIXTURES",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/fixtures"),
                )
                .current_dir(&scratch.path)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| fail("run SETUP", e))?;
            if !out.status.success() {
                return Err(format!(
                    "SETUP `{setup}` failed ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(scratch)
    }

    fn workload(&self) -> PathBuf {
        self.path.join("workload.sh")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Runs `program` (bpftrace or beetrace) on `prog` with the case's arguments
/// and workload, killing it (and its process group) after the case's timeout.
pub fn run_tool(
    program: &Path,
    prog: &str,
    case: &Case,
    scratch: &Scratch,
) -> Result<Output, String> {
    let mut cmd = Command::new(program);
    cmd.args(&case.args).arg("-e").arg(prog);
    if case.workload.is_some() {
        cmd.arg("-c")
            .arg(format!("/bin/sh {}", scratch.workload().display()));
    }
    let mut child = cmd
        .current_dir(&scratch.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout also kills the workload.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_until(&mut child, Instant::now() + case.timeout);
    if status.is_none() {
        kill_group(&child);
        let _ = child.wait();
    }
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{} timed out after {:?} and was killed\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
            program.display(),
            case.timeout
        )),
    }
}

/// Reads a child's stream to the end on a thread of its own.
fn drain<R: Read + Send + 'static>(stream: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
