//! Teardown checks written in Rust rather than as `.test` cases: beetrace must
//! run `END`, exit 0 and leave no BPF program, map or link behind, whichever
//! way it is stopped.
//!
//! While beetrace runs, the harness reads `/proc/<pid>/fdinfo/*` to learn the
//! kernel ids of the programs, maps and links it holds (`prog_id:`, `map_id:`,
//! `link_id:` lines). After it exits, `bpftool {prog,map,link} show id N` must
//! fail for every one of them (polled briefly, as the kernel frees objects
//! asynchronously).

use std::fs;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::{Completion, Failed};

use crate::exec::{Env, Readers};
use crate::support::{have_bpftool, leaked, wait_until, BpfIds};

/// Probes that fire often (a tracepoint recording stacks, which adds stack-trace maps, the
/// map of announced pids and the mapping watch; a raw tracepoint reading kernel memory,
/// loaded as tp_btf where the kernel allows; a uprobe and uretprobe on libc), plus an `END`
/// block whose output proves it ran.
const TRACING_PROG: &str = "tracepoint:syscalls:sys_enter_openat { printf(\"x\\n\"); \
     $k = kstack(3); $u = ustack(3); } \
     rawtracepoint:sched_switch { @s[args.prev->comm] = count(); } \
     uprobe:libc:getenv, uretprobe:libc:getenv { @u = count(); } END { printf(\"bye\\n\"); }";

/// How beetrace is told to stop.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// `kill -INT`, like Ctrl-C.
    Signal(&'static str),
    /// An `interval` probe calls `exit()`.
    ExitBuiltin,
    /// `--duration 1`.
    Duration,
    /// `-c 'sleep 1'` finishes.
    CommandExits,
    /// `kill -INT` of a run with `--pin DIR`: only the pinned map may stay, until `DIR` is
    /// removed.
    PinnedSignal,
}

/// Every teardown scenario, as `(test name, how to stop)`.
pub const SCENARIOS: &[(&str, Stop)] = &[
    ("sigint_runs_end_and_frees_bpf_objects", Stop::Signal("INT")),
    (
        "sigterm_runs_end_and_frees_bpf_objects",
        Stop::Signal("TERM"),
    ),
    ("exit_builtin_frees_bpf_objects", Stop::ExitBuiltin),
    ("duration_frees_bpf_objects", Stop::Duration),
    ("command_exit_frees_bpf_objects", Stop::CommandExits),
    (
        "sigint_with_pin_keeps_only_the_pinned_map",
        Stop::PinnedSignal,
    ),
];

/// Runs one teardown scenario.
pub fn run(stop: Stop, env: &Env) -> Result<Completion, Failed> {
    if !have_bpftool() {
        return Ok(Completion::ignored_with(
            "needs bpftool to look objects up by id",
        ));
    }
    let pin_dir = format!("/sys/fs/bpf/beetrace-cleanup-{}", std::process::id());
    let mut cmd = Command::new(&env.binary);
    cmd.arg("-e");
    match stop {
        Stop::ExitBuiltin => {
            cmd.arg(format!("{TRACING_PROG} interval:ms:1500 {{ exit(); }}"));
        }
        Stop::Duration => {
            cmd.arg(TRACING_PROG).args(["--duration", "1"]);
        }
        Stop::CommandExits => {
            cmd.arg(TRACING_PROG).args(["-c", "sleep 1"]);
        }
        Stop::Signal(_) => {
            cmd.arg(TRACING_PROG);
        }
        Stop::PinnedSignal => {
            cmd.arg(format!(
                "{TRACING_PROG} tracepoint:syscalls:sys_enter_openat {{ @opens = count(); }}"
            ))
            .arg("--pin")
            .arg(&pin_dir);
        }
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", env.binary.display()))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let readers = Readers::start(&mut child, Some(tx))?;

    let attached = rx.recv_timeout(Duration::from_secs(10)).is_ok();
    let ids = if attached {
        BpfIds::of_process(pid)
    } else {
        BpfIds::default()
    };
    let signal = match stop {
        Stop::Signal(signal) => Some(signal),
        Stop::PinnedSignal => Some("INT"),
        _ => None,
    };
    if let Some(signal) = signal {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status();
    }
    let status = wait_until(&mut child, Instant::now() + Duration::from_secs(5));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = readers.finish();
    let context = format!(
        "--- stdout (last lines) ---\n{}\n--- stderr ---\n{stderr}",
        tail(&stdout, 5)
    );

    if !attached {
        return Err(format!("beetrace never printed `Attached`\n{context}").into());
    }
    let Some(status) = status else {
        return Err(format!(
            "beetrace did not exit within 5 s of being stopped ({stop:?})\n{context}"
        )
        .into());
    };
    let mut problems = Vec::new();
    if status.code() != Some(0) {
        problems.push(format!("exit status {status}, expected 0"));
    }
    if !stdout.lines().any(|l| l == "bye") {
        problems.push("END did not run: no `bye` line".to_string());
    }
    if ids.progs.is_empty() || ids.maps.is_empty() {
        problems.push(format!(
            "found no BPF programs or maps in /proc/{pid}/fdinfo while running: {ids:?}"
        ));
    }
    if let Stop::PinnedSignal = stop {
        let pinned = pinned_map_id(&format!("{pin_dir}/opens"));
        let _ = fs::remove_dir_all(&pin_dir);
        match pinned {
            Some(id) if ids.maps.contains(&id) => {
                // Removing the pin frees it; it must then go like everything else.
            }
            other => problems.push(format!(
                "the map pinned at {pin_dir}/opens has id {other:?}, not one of the run's {:?}",
                ids.maps
            )),
        }
    }
    let leaked = leaked(&ids, Duration::from_secs(3));
    if !leaked.is_empty() {
        problems.push(format!(
            "BPF objects still exist after exit: {leaked:?} (all ids: {ids:?})"
        ));
    }
    if problems.is_empty() {
        Ok(Completion::Completed)
    } else {
        Err(format!("* {}\n{context}", problems.join("\n* ")).into())
    }
}

/// The id of the map pinned at `path`, from `bpftool -j map show pinned PATH`.
fn pinned_map_id(path: &str) -> Option<u32> {
    let out = Command::new("bpftool")
        .args(["-j", "map", "show", "pinned", path])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text.strip_prefix("{\"id\":")?;
    rest.split(',').next()?.parse().ok()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
