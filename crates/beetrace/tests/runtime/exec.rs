//! Running one [`Case`] against the beetrace binary and judging the result.

use crate::support::{kill_group, wait_until};
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::{Completion, Failed};

use crate::case::{Case, Expectation};

/// How long a `REQUIRES`, `SETUP` or `CHECK` command may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared settings for every case.
#[derive(Debug, Clone)]
pub struct Env {
    /// The beetrace executable under test.
    pub binary: PathBuf,
}

/// The captured result of one beetrace run.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `case` and returns `Completed`, `Ignored` (a `REQUIRES` failed), or a failure
/// describing every unmet expectation together with the captured output.
pub fn run_case(case: &Case, env: &Env) -> Result<Completion, Failed> {
    let dir = CaseDir::create(&case.name)?;
    for cmd in &case.requires {
        let result = shell(cmd, env, dir.path(), HELPER_TIMEOUT)?;
        if !result.status.success() {
            return Ok(Completion::ignored_with(format!("REQUIRES `{cmd}` failed")));
        }
    }
    for cmd in &case.setup {
        let result = shell(cmd, env, dir.path(), HELPER_TIMEOUT)?;
        if !result.status.success() {
            return Err(format!(
                "SETUP `{cmd}` failed ({}):\n{}{}",
                result.status, result.stdout, result.stderr
            )
            .into());
        }
    }

    let output = run_beetrace(case, env, dir.path())?;

    let mut problems = Vec::new();
    match output.status.code() {
        Some(code) if code == case.exit_code => {}
        Some(code) => problems.push(format!("exit code {code}, expected {}", case.exit_code)),
        None => problems.push(format!(
            "killed by a signal ({}), expected exit code {}",
            output.status, case.exit_code
        )),
    }
    for expectation in &case.expectations {
        if let Some(problem) = judge(expectation, &output) {
            problems.push(problem);
        }
    }
    if !case.checks.is_empty() {
        // CHECK commands may look at the output through these files.
        for (file, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            let path = dir.path().join(file);
            fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    for cmd in &case.checks {
        let result = shell(cmd, env, dir.path(), HELPER_TIMEOUT)?;
        if !result.status.success() {
            problems.push(format!(
                "CHECK `{cmd}` failed ({}); its output:\n{}{}",
                result.status, result.stdout, result.stderr
            ));
        }
    }

    if problems.is_empty() {
        Ok(Completion::Completed)
    } else {
        Err(report(&problems, &output, dir.keep()).into())
    }
}

/// Checks one expectation; `Some(description)` when it is not met.
fn judge(expectation: &Expectation, output: &Output) -> Option<String> {
    let has_line = |line: &str| output.stdout.lines().any(|l| l == line);
    match expectation {
        Expectation::Line(line) => {
            (!has_line(line)).then(|| format!("EXPECT: no stdout line equals {line:?}"))
        }
        Expectation::NoLine(line) => {
            has_line(line).then(|| format!("EXPECT_NONE: a stdout line equals {line:?}"))
        }
        Expectation::Regex(re) => (!output.stdout.lines().any(|l| re.is_match(l)))
            .then(|| format!("EXPECT_REGEX: no stdout line matches /{}/", re.as_str())),
        Expectation::NoRegex(re) => output.stdout.lines().find(|l| re.is_match(l)).map(|l| {
            format!(
                "EXPECT_REGEX_NONE: stdout line {l:?} matches /{}/",
                re.as_str()
            )
        }),
        Expectation::Exact(text) => (!same_text(&output.stdout, text))
            .then(|| diff("EXPECT_EXACT (stdout)", text, &output.stdout)),
        Expectation::Stderr(text) => (!output.stderr.contains(text.as_str()))
            .then(|| format!("EXPECT_STDERR: stderr does not contain {text:?}")),
        Expectation::NoStderr(text) => output
            .stderr
            .contains(text.as_str())
            .then(|| format!("EXPECT_STDERR_NONE: stderr contains {text:?}")),
        Expectation::StderrExact(text) => (!same_text(&output.stderr, text))
            .then(|| diff("EXPECT_STDERR_EXACT", text, &output.stderr)),
    }
}

/// Compares output with an expected block, ignoring trailing newlines.
fn same_text(actual: &str, expected: &str) -> bool {
    actual.trim_end_matches('\n') == expected.trim_end_matches('\n')
}

/// A line-by-line comparison of expected and actual text.
fn diff(what: &str, expected: &str, actual: &str) -> String {
    let mut out = format!("{what}: output differs (- expected, + actual)\n");
    let exp: Vec<&str> = expected.trim_end_matches('\n').lines().collect();
    let act: Vec<&str> = actual.trim_end_matches('\n').lines().collect();
    for i in 0..exp.len().max(act.len()) {
        match (exp.get(i), act.get(i)) {
            (Some(e), Some(a)) if e == a => {
                let _ = writeln!(out, "   {e}");
            }
            (e, a) => {
                if let Some(e) = e {
                    let _ = writeln!(out, " - {e:?}");
                }
                if let Some(a) = a {
                    let _ = writeln!(out, " + {a:?}");
                }
            }
        }
    }
    out
}

/// The failure message: what went wrong, then the full output.
fn report(problems: &[String], output: &Output, dir: PathBuf) -> String {
    let mut msg = String::new();
    for p in problems {
        let _ = writeln!(msg, "* {p}");
    }
    let _ = writeln!(msg, "beetrace {}", output.status);
    let _ = writeln!(msg, "--- stdout ---\n{}", output.stdout);
    let _ = writeln!(msg, "--- stderr ---\n{}", output.stderr);
    let _ = writeln!(msg, "(case directory kept: {})", dir.display());
    msg
}

/// The shell command line that starts beetrace for `case`.
///
/// The program travels in the `BEETRACE_PROG` environment variable, so it needs
/// no quoting; `ARGS` is pasted in and interpreted by the shell.
fn command_line(case: &Case) -> String {
    if let Some(run) = &case.run {
        return run.clone();
    }
    let mut line = String::from("exec \"$BEETRACE\"");
    if case.prog.is_some() {
        line.push_str(" -e \"$BEETRACE_PROG\"");
    }
    if let Some(args) = &case.args {
        line.push(' ');
        line.push_str(args);
    }
    line
}

/// A `/bin/sh -c` command with the variables every case command may use.
fn sh(cmd: &str, env: &Env, dir: &Path) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .env("BEETRACE", &env.binary)
        .env("CASE_DIR", dir)
        .env(
            "FIXTURES",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/fixtures"),
        )
        .current_dir(dir)
        .stdin(Stdio::null())
        // Its own process group, so a timeout can kill the command's children too.
        .process_group(0);
    c
}

/// Runs beetrace for `case`, starting `AFTER` once it reports `Attached`.
fn run_beetrace(case: &Case, env: &Env, dir: &Path) -> Result<Output, Failed> {
    let mut cmd = sh(&command_line(case), env, dir);
    if let Some(prog) = &case.prog {
        cmd.env("BEETRACE_PROG", prog);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    let (attached_tx, attached_rx) = mpsc::channel();
    let readers = Readers::start(&mut child, Some(attached_tx))?;

    let deadline = Instant::now() + case.timeout;
    let mut after: Option<Child> = None;
    if let Some(after_cmd) = &case.after {
        // Wait for "Attached" (or for beetrace to quit early, which closes stderr).
        let wait = deadline.saturating_duration_since(Instant::now());
        if let Ok(()) = attached_rx.recv_timeout(wait) {
            let started = sh(after_cmd, env, dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start AFTER command: {e}"))?;
            after = Some(started);
        }
    }

    let status = wait_until(&mut child, deadline);
    if let Some(mut a) = after {
        kill_group(&a);
        let _ = a.wait();
    }
    if status.is_none() {
        // Kill before collecting the output: a tracer still writing never closes its pipes.
        kill_group(&child);
        let _ = child.wait();
    }
    let (stdout, stderr) = readers.finish();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => {
            Err(format!(
                "timed out after {:?} and was killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                case.timeout
            )
            .into())
        }
    }
}

/// Runs a helper shell command to completion and captures its output.
pub fn shell(cmd: &str, env: &Env, dir: &Path, timeout: Duration) -> Result<Output, Failed> {
    let mut child = sh(cmd, env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh for `{cmd}`: {e}"))?;
    let readers = Readers::start(&mut child, None)?;
    let status = wait_until(&mut child, Instant::now() + timeout);
    let Some(status) = status else {
        kill_group(&child);
        let _ = child.wait();
        return Err(format!("helper command `{cmd}` timed out after {timeout:?}").into());
    };
    let (stdout, stderr) = readers.finish();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Threads draining a child's stdout and stderr.
pub struct Readers {
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
}

impl Readers {
    /// Starts reading. If `attached` is given, it receives one message when a
    /// stderr line starts with `Attached`.
    pub fn start(child: &mut Child, attached: Option<mpsc::Sender<()>>) -> Result<Readers, Failed> {
        let mut out = child.stdout.take().ok_or("child stdout was not piped")?;
        let err = child.stderr.take().ok_or("child stderr was not piped")?;
        let stdout = thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let stderr = thread::spawn(move || {
            let mut reader = BufReader::new(err);
            let mut all = String::new();
            let mut line = Vec::new();
            let mut attached = attached;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        if text.starts_with("Attached") {
                            if let Some(tx) = attached.take() {
                                let _ = tx.send(());
                            }
                        }
                        all.push_str(&text);
                    }
                }
            }
            all
        });
        Ok(Readers { stdout, stderr })
    }

    /// Waits for both streams to close and returns what they carried.
    pub fn finish(self) -> (String, String) {
        let out = self
            .stdout
            .join()
            .unwrap_or_else(|_| "<stdout reader panicked>".into());
        let err = self
            .stderr
            .join()
            .unwrap_or_else(|_| "<stderr reader panicked>".into());
        (out, err)
    }
}

/// A scratch directory for one case (`$CASE_DIR`), removed on drop unless kept.
pub struct CaseDir {
    path: PathBuf,
    keep: bool,
}

impl CaseDir {
    /// Creates a fresh directory under the system temporary directory.
    pub fn create(name: &str) -> Result<CaseDir, Failed> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let path = std::env::temp_dir().join(format!(
            "beetrace-runtime-{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(CaseDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place for inspection and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
