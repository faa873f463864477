//! `beetrace run` against the real kernel, with objects built from the C sources in
//! `tests/run/` by clang at test time (`clang -O2 -g -target bpf`, libbpf's headers from
//! libbpf-dev; `.ci/run` installs both).
//!
//! Each test starts `beetrace run`, waits for its `Attached` line, makes the system calls that
//! trigger the programs from the test itself, stops beetrace with a signal (or lets
//! `--duration` end it) and checks the output. Every run that attached something is also
//! checked for leaks: the program, map and link ids beetrace held (from its fdinfo) must be
//! gone after it exits, unless pinned on purpose. Without root, clang or libbpf's headers the
//! tests are reported as ignored with the reason.
//!
//! Run with `cargo test -p beetrace --test run`.

mod support;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use crate::support::{leaked, BpfIds};

type Outcome = Result<(), Failed>;
type Test = fn() -> Outcome;

const TESTS: &[(&str, Test)] = &[
    (
        "seed_fchmodat_reports_path_and_mode",
        seed_fchmodat_reports_path_and_mode,
    ),
    (
        "seed_tail_calls_dispatch_by_syscall_number",
        seed_tail_calls_dispatch_by_syscall_number,
    ),
    (
        "command_runs_once_attached_and_ends_the_run",
        command_runs_once_attached_and_ends_the_run,
    ),
    (
        "declared_program_array_needs_no_tail_flags",
        declared_program_array_needs_no_tail_flags,
    ),
    ("tail_errors_name_the_problem", tail_errors_name_the_problem),
    (
        "tail_type_mismatch_and_loops_are_reported",
        tail_type_mismatch_and_loops_are_reported,
    ),
    (
        "globals_core_maps_ring_and_perf_buffers",
        globals_core_maps_ring_and_perf_buffers,
    ),
    ("json_output_shapes", json_output_shapes),
    ("set_errors_name_the_variable", set_errors_name_the_variable),
    (
        "attach_kinds_and_missing_kernel_features",
        attach_kinds_and_missing_kernel_features,
    ),
    (
        "strict_stops_when_a_program_cannot_attach",
        strict_stops_when_a_program_cannot_attach,
    ),
    (
        "only_and_no_attach_choose_programs",
        only_and_no_attach_choose_programs,
    ),
    ("pin_keeps_programs_and_maps", pin_keeps_programs_and_maps),
    ("pin_by_name_map_is_reused", pin_by_name_map_is_reused),
    (
        "bad_objects_give_clear_errors",
        bad_objects_give_clear_errors,
    ),
    (
        "core_relocation_failure_is_explained",
        core_relocation_failure_is_explained,
    ),
    (
        "verifier_rejection_shows_the_failing_instruction",
        verifier_rejection_shows_the_failing_instruction,
    ),
    (
        "kconfig_and_ksym_externs_resolve_like_libbpf",
        kconfig_and_ksym_externs_resolve_like_libbpf,
    ),
    (
        "ksym_externs_read_per_cpu_and_plain_kernel_globals",
        ksym_externs_read_per_cpu_and_plain_kernel_globals,
    ),
    (
        "ksym_extern_kallsyms_lacks_is_named",
        ksym_extern_kallsyms_lacks_is_named,
    ),
    (
        "cgroup_programs_set_socket_options_in_their_cgroup",
        cgroup_programs_set_socket_options_in_their_cgroup,
    ),
];

/// Why a test cannot run on this kernel, if it cannot.
type WhyNot = fn() -> Option<String>;

/// Tests that need something of this particular kernel, with the check that says why not.
const REQUIREMENTS: &[(&str, WhyNot)] = &[
    ("ksym_externs_read_per_cpu_and_plain_kernel_globals", || {
        (!kallsyms_lists_variables()).then(|| {
            "needs a kernel whose /proc/kallsyms lists variables (CONFIG_KALLSYMS_ALL): \
                 the verifier resolves __ksym variables through it"
                .to_string()
        })
    }),
    ("cgroup_programs_set_socket_options_in_their_cgroup", || {
        cgroup2_root()
            .is_none()
            .then(|| "needs a cgroup v2 file system (none in /proc/mounts)".into())
    }),
    ("ksym_extern_kallsyms_lacks_is_named", || {
        kallsyms_lists_variables()
            .then(|| "this kernel's /proc/kallsyms lists variables: nothing is missing".into())
    }),
];

fn main() {
    // The cgroup test runs this binary again as its client (see `connect_client`).
    if let Ok(addr) = std::env::var(CLIENT_ADDR_VAR) {
        connect_client(&addr);
        return;
    }
    support::run_listed(TESTS, REQUIREMENTS, skip_reason());
}

/// Why the tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if !support::is_root() {
        return Some("needs root".into());
    }
    let clang = Command::new("clang")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !clang.is_ok_and(|s| s.success()) {
        return Some("needs clang to build the test objects (.ci/run installs it)".into());
    }
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        return Some("needs libbpf's headers (package libbpf-dev; .ci/run installs it)".into());
    }
    if !support::have_bpftool() {
        return Some("needs bpftool to check that nothing leaks".into());
    }
    None
}

// ---------------------------------------------------------------------------------------
// Building objects and running beetrace

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_beetrace"))
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("run-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Builds `tests/run/NAME.bpf.c` into the scratch directory.
fn build(scratch: &Scratch, name: &str) -> Result<PathBuf, Failed> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run")
        .join(format!("{name}.bpf.c"));
    let out = scratch.path(&format!("{name}.bpf.o"));
    let arch_include = format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let output = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-Wall", &arch_include])
        .arg(format!("-DLIBC=\"{}\"", libc_path()))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run clang: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "clang failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(out)
}

/// The C library this process runs with (for the uprobe sections).
fn libc_path() -> String {
    fs::read_to_string("/proc/self/maps")
        .ok()
        .and_then(|maps| {
            maps.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "/lib/x86_64-linux-gnu/libc.so.6".into())
}

/// What a finished run printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn context(&self) -> String {
        format!(
            "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn expect_stderr(&self, text: &str) -> Outcome {
        if self.stderr.contains(text) {
            Ok(())
        } else {
            Err(format!("stderr lacks {text:?}\n{}", self.context()).into())
        }
    }

    fn expect_failure(&self) -> Outcome {
        if self.status.code() == Some(1) {
            Ok(())
        } else {
            Err(format!("expected exit status 1\n{}", self.context()).into())
        }
    }
}

/// A running `beetrace run`.
struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
    ids: BpfIds,
}

fn reader(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            into.lock().expect("reader lock").push_str(&text);
        }
    })
}

impl Running {
    /// Starts `beetrace run ARGS` and waits for its `Attached` line.
    fn start(args: &[&str]) -> Result<Running, Failed> {
        let mut child = Command::new(binary())
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start beetrace: {e}"))?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            reader(child.stdout.take().expect("piped"), stdout.clone()),
            reader(child.stderr.take().expect("piped"), stderr.clone()),
        ];
        let mut running = Running {
            child,
            stdout,
            stderr,
            readers,
            ids: BpfIds::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if running.stderr().lines().any(|l| l.starts_with("Attached")) {
                break;
            }
            if let Ok(Some(_)) = running.child.try_wait() {
                let f = running.finish();
                return Err(format!("beetrace exited before attaching\n{}", f.context()).into());
            }
            if Instant::now() > deadline {
                let _ = running.child.kill();
                let f = running.finish();
                return Err(format!("no `Attached` line within 30 s\n{}", f.context()).into());
            }
            thread::sleep(Duration::from_millis(20));
        }
        running.ids = BpfIds::of_process(running.child.id());
        Ok(running)
    }

    fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits until stdout satisfies `done` (at most 10 s); true if it did.
    fn wait_for(&self, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if done(&self.stdout()) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        done(&self.stdout())
    }

    fn finish(mut self) -> Finished {
        let status = self.child.wait().expect("wait for beetrace");
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// Stops beetrace with `signal` (or waits for it to stop itself when `None`), checks it
    /// exited 0 within 10 s and that every BPF object it held is gone except `kept`
    /// (`("prog" | "map" | "link", id)`: what was pinned on purpose).
    fn stop(self, signal: Option<&str>, kept: &[(&str, u32)]) -> Result<Finished, Failed> {
        if let Some(signal) = signal {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &self.child.id().to_string()])
                .status();
        }
        let mut this = self;
        if support::wait_until(&mut this.child, Instant::now() + Duration::from_secs(10)).is_none()
        {
            let _ = this.child.kill();
            let f = this.finish();
            return Err(format!("beetrace did not stop within 10 s\n{}", f.context()).into());
        }
        let ids = std::mem::take(&mut this.ids);
        let instance = format!("/sys/kernel/tracing/instances/beetrace-{}", this.child.id());
        let f = this.finish();
        if Path::new(&instance).exists() {
            return Err(format!(
                "the tracefs instance {instance} outlived the run\n{}",
                f.context()
            )
            .into());
        }
        if !f.status.success() {
            return Err(format!("beetrace failed\n{}", f.context()).into());
        }
        if ids.progs.is_empty() {
            return Err(
                format!("no BPF program found in beetrace's fdinfo\n{}", f.context()).into(),
            );
        }
        let leaks: Vec<_> = leaked(&ids, Duration::from_secs(3))
            .into_iter()
            .filter(|obj| !kept.contains(obj))
            .collect();
        if !leaks.is_empty() {
            return Err(format!(
                "BPF objects still exist after exit: {leaks:?} (all: {ids:?})\n{}",
                f.context()
            )
            .into());
        }
        Ok(f)
    }
}

/// Runs `beetrace run ARGS` to completion (for runs expected to fail before attaching).
fn run_to_end(args: &[&str]) -> Result<Finished, Failed> {
    let out = Command::new(binary())
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start beetrace: {e}"))?;
    Ok(Finished {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The kernel's id for the calling thread: the pid in `bpf_trace_printk` lines.
fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// A system call by number, for the ones std does not wrap.
fn syscall(nr: libc::c_long, a: libc::c_long, b: libc::c_long, c: libc::c_long) -> libc::c_long {
    // SAFETY: the callers pass numbers and pointers valid for the syscall they name.
    unsafe { libc::syscall(nr, a, b, c) }
}

fn getppid() {
    syscall(libc::SYS_getppid, 0, 0, 0);
}

/// Messages of the printk lines printed by thread `tid` (text format `comm-TID [CPU] TIME: MSG`).
fn messages_of(stdout: &str, tid: u32) -> Vec<String> {
    let marker = format!("-{tid} [");
    stdout
        .lines()
        .filter(|l| l.contains(&marker))
        .filter_map(|l| l.split_once("]").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": ").map(|(_, msg)| msg.to_string()))
        .collect()
}

fn check(cond: bool, what: &str, f: &Finished) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(format!("{what}\n{}", f.context()).into())
    }
}

// ---------------------------------------------------------------------------------------
// The tests

/// Seed 002: a `chmod` of a temporary file is reported with its path and mode.
fn seed_fchmodat_reports_path_and_mode() -> Outcome {
    let scratch = Scratch::new("fchmodat");
    let obj = build(&scratch, "fchmodat")?;
    let file = scratch.path("victim");
    fs::write(&file, "x").map_err(|e| e.to_string())?;
    let run = Running::start(&[obj.to_str().expect("utf-8 path")])?;
    let chmod = Command::new("chmod")
        .arg("640")
        .arg(&file)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = chmod.id();
    let _ = chmod.wait_with_output();
    let expected = format!("fchmodat {} 416", file.display());
    let seen = run.wait_for(|out| messages_of(out, pid).contains(&expected));
    let f = run.stop(Some("INT"), &[])?;
    check(
        seen,
        &format!("no line `{expected}` from chmod (pid {pid})"),
        &f,
    )
}

/// `-c CMD` runs the command once the programs are attached and stops when it exits.
fn command_runs_once_attached_and_ends_the_run() -> Outcome {
    let scratch = Scratch::new("command");
    let obj = build(&scratch, "fchmodat")?;
    let file = scratch.path("victim");
    fs::write(&file, "x").map_err(|e| e.to_string())?;
    let command = format!("chmod 600 {}", file.display());
    let f = run_to_end(&[obj.to_str().expect("utf-8 path"), "-c", &command])?;
    check(f.status.success(), "beetrace run -c should exit 0", &f)?;
    // The path is this test's own, so the line is chmod's whatever comm it shows: the
    // kernel names the task of a trace line from a small cache of pid -> comm, which may
    // still hold a name from before the exec (`sh`, beetrace's, the test's) or none
    // (`<...>`).
    let expected = format!(": fchmodat {} 384", file.display());
    check(
        f.stdout.lines().any(|l| l.ends_with(&expected)),
        &format!("no line from chmod ending `{expected}`"),
        &f,
    )
}

/// Seed 001: execve and the timer syscalls reach their handlers through the program array;
/// an unlisted syscall (getppid) prints nothing.
fn seed_tail_calls_dispatch_by_syscall_number() -> Outcome {
    let scratch = Scratch::new("tail_hello");
    let obj = build(&scratch, "tail_hello")?;
    let run = Running::start(&[
        obj.to_str().expect("utf-8 path"),
        "--tail",
        "syscall:59=hello_exec",
        "--tail",
        "syscall:222-226=hello_timer",
    ])?;
    let stderr = run.stderr();
    let me = tid();
    getppid();
    let mut timer: libc::timer_t = std::ptr::null_mut();
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    syscall(
        libc::SYS_timer_create,
        libc::CLOCK_MONOTONIC as libc::c_long,
        0,
        &mut timer as *mut libc::timer_t as libc::c_long,
    );
    syscall(
        libc::SYS_timer_gettime,
        timer as libc::c_long,
        &mut spec as *mut _ as libc::c_long,
        0,
    );
    syscall(libc::SYS_timer_delete, timer as libc::c_long, 0, 0);
    getppid();
    let child = Command::new("/bin/true")
        .spawn()
        .map_err(|e| e.to_string())?;
    let child_pid = child.id();
    let _ = child.wait_with_output();

    let expected = [
        "Creating a timer",
        "Some other timer operation",
        "Deleting a timer",
    ];
    let seen = run.wait_for(|out| {
        messages_of(out, me).len() >= 3
            && messages_of(out, child_pid).contains(&"Executing a program".to_string())
    });
    let f = run.stop(Some("INT"), &[])?;
    check(seen, "the handlers did not all print", &f)?;
    // Other tests' objects may print for this thread too (the kernel does not say which
    // program printed); keep this object's messages.
    let vocabulary = [
        "Executing a program",
        "Creating a timer",
        "Deleting a timer",
        "Some other timer operation",
    ];
    let mine: Vec<String> = messages_of(&f.stdout, me)
        .into_iter()
        .filter(|m| vocabulary.contains(&m.as_str()))
        .collect();
    check(
        mine == expected,
        &format!(
            "this thread's lines should be exactly {expected:?} (getppid is unlisted), got {mine:?}"
        ),
        &f,
    )?;
    check(
        stderr.contains("hello_timer: tail-call target in syscall[222], syscall[223]")
            && stderr.contains("hello: attached to raw tracepoint sys_enter"),
        "stderr should say which program is attached and which are tail-call targets",
        &f,
    )
}

/// The object fills its program array itself (`.values = { [59] = &on_exec, ... }`).
fn declared_program_array_needs_no_tail_flags() -> Outcome {
    let scratch = Scratch::new("tail_declared");
    let obj = build(&scratch, "tail_declared")?;
    let run = Running::start(&[obj.to_str().expect("utf-8 path")])?;
    let me = tid();
    let mut timer: libc::timer_t = std::ptr::null_mut();
    syscall(
        libc::SYS_timer_create,
        libc::CLOCK_MONOTONIC as libc::c_long,
        0,
        &mut timer as *mut libc::timer_t as libc::c_long,
    );
    syscall(libc::SYS_timer_delete, timer as libc::c_long, 0, 0);
    let expected = ["declared: timer syscall 222", "declared: timer syscall 226"];
    // Other tests' objects may print for this thread too; keep this object's messages.
    let declared = |out: &str| -> Vec<String> {
        messages_of(out, me)
            .into_iter()
            .filter(|m| m.starts_with("declared:"))
            .collect()
    };
    let seen = run.wait_for(|out| declared(out).len() >= 2);
    let f = run.stop(Some("TERM"), &[])?;
    check(seen, "the declared handlers did not print", &f)?;
    check(
        declared(&f.stdout) == expected,
        &format!("expected {expected:?}, got {:?}", declared(&f.stdout)),
        &f,
    )?;
    f.expect_stderr("on_timer: tail-call target in handlers[222], handlers[226]")
}

fn tail_errors_name_the_problem() -> Outcome {
    let scratch = Scratch::new("tail_errors");
    let obj = build(&scratch, "tail_hello")?;
    let obj = obj.to_str().expect("utf-8 path");
    for (tail, message) in [
        (
            "syscall:300=hello_exec",
            "--tail: key 300 is outside syscall, which has max_entries 300 (keys 0-299)",
        ),
        (
            "calls:1=hello_exec",
            "--tail: map 'calls' does not exist; the object has program arrays: syscall",
        ),
        (
            "59=hello_nothing",
            "--tail: no program named 'hello_nothing' (the object has: hello, hello_exec, hello_timer)",
        ),
        ("59", "expected [MAP:]KEY[-KEY]=PROGRAM"),
    ] {
        let f = run_to_end(&[obj, "--tail", tail])?;
        check(
            matches!(f.status.code(), Some(1 | 2)),
            &format!("--tail {tail} should fail (1, or 2 for a usage error)"),
            &f,
        )?;
        f.expect_stderr(message)?;
    }
    Ok(())
}

/// A tracepoint program cannot sit in an array a raw tracepoint program calls through; a
/// program that tail-calls through the array it sits in is a loop the kernel cuts at 33.
fn tail_type_mismatch_and_loops_are_reported() -> Outcome {
    let scratch = Scratch::new("tail_rules");
    let obj = build(&scratch, "tail_rules")?;
    let obj = obj.to_str().expect("utf-8 path");
    let f = run_to_end(&[obj, "--tail", "jmp:1=on_getppid"])?;
    f.expect_failure()?;
    f.expect_stderr(
        "--tail: program on_getppid (TracePoint) is in a slot of jmp, but start (RawTracePoint) \
         calls through it: a tail call keeps the caller's program type",
    )?;

    let target = format!("target_tgid={}", std::process::id());
    let run = Running::start(&[obj, "--tail", "jmp:0=again", "--set", &target])?;
    let me = tid();
    getppid();
    let again = |out: &str| {
        messages_of(out, me)
            .iter()
            .filter(|m| *m == "rules: again")
            .count()
    };
    let seen = run.wait_for(|out| again(out) >= 33);
    thread::sleep(Duration::from_millis(200));
    let f = run.stop(Some("INT"), &[])?;
    f.expect_stderr(
        "WARNING: tail calls can loop (again -> again): the kernel stops a chain after 33 tail calls",
    )?;
    // One getppid: `start` tail-calls `again`, which calls itself until the kernel stops it.
    let n = again(&f.stdout);
    check(
        seen && n == 33,
        &format!("expected 33 `rules: again` lines (the chain limit), got {n}"),
        &f,
    )
}

/// `--set` values reach the program; a CO-RE read of the task matches the helper; the hash
/// map, ring buffer and .data/.bss globals print typed.
fn globals_core_maps_ring_and_perf_buffers() -> Outcome {
    let scratch = Scratch::new("globals");
    let obj = build(&scratch, "globals")?;
    let target = format!("target_tgid={}", std::process::id());
    let run = Running::start(&[
        obj.to_str().expect("utf-8 path"),
        "--set",
        "nr=110",
        "--set",
        &target,
        "--set",
        "tag=hello",
        "--set",
        "magic=-5",
        "--set",
        "small=255",
        "--record",
        "events=struct event",
        "--record",
        "samples=event",
    ])?;
    let me = tid();
    let pid = std::process::id();
    getppid();
    let expected = format!("hello magic=-5 twice=-10 small=255 core={pid}/{me} helper={pid}/{me}");
    let record = format!("events: {{ .tgid = {pid}, .tid = {me}, .tag = hello }}");
    let sample = format!("samples: {{ .tgid = {pid}, .tid = {me}, .tag = hello }}");
    let seen = run.wait_for(|out| {
        messages_of(out, me).contains(&expected)
            && out.lines().any(|l| l == record)
            && out.lines().any(|l| l == sample)
    });
    let f = run.stop(Some("INT"), &[])?;
    check(
        seen,
        &format!("expected the printk line `{expected}` and the records `{record}`, `{sample}`"),
        &f,
    )?;
    let count_line = format!("@counts[{{ .tgid = {pid}, .nr = 110 }}]: {{ .calls = ");
    check(
        f.stdout.lines().any(|l| l.starts_with(&count_line)),
        &format!("no map line starting `{count_line}`"),
        &f,
    )?;
    check(
        f.stdout.lines().any(|l| l == "seen = 7")
            && f.stdout.lines().any(|l| {
                l.strip_prefix("hits = ")
                    .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n >= 1))
            }),
        "expected the globals `seen = 7` and `hits = N` (N >= 1) at exit",
        &f,
    )
}

fn json_output_shapes() -> Outcome {
    let scratch = Scratch::new("json");
    let obj = build(&scratch, "globals")?;
    let target = format!("target_tgid={}", std::process::id());
    let run = Running::start(&[
        obj.to_str().expect("utf-8 path"),
        "-f",
        "json",
        "--set",
        "nr=110",
        "--set",
        &target,
        "--set",
        "tag=json\"q",
    ])?;
    let me = tid();
    let pid = std::process::id();
    getppid();
    let printk = format!(r#""pid": {me}, "#);
    let ours = |l: &str| l.contains(&printk) && l.contains(r#"json\"q"#);
    let seen = run.wait_for(|out| out.lines().any(ours));
    let f = run.stop(Some("INT"), &[])?;
    check(seen, "no printk record from this thread", &f)?;
    let line = f.stdout.lines().find(|l| ours(l)).unwrap_or_default();
    check(
        line.starts_with(r#"{"type": "printk", "data": {"time": "#)
            && line.ends_with(&format!(
                r#""message": "json\"q magic=0 twice=0 small=1 core={pid}/{me} helper={pid}/{me}"}}}}"#
            )),
        &format!("unexpected printk record: {line}"),
        &f,
    )?;
    check(
        f.stdout
            .lines()
            .any(|l| l.starts_with(r#"{"type": "record", "data": {"map": "events", "value": ""#)),
        "ring-buffer records without --record should be hex strings",
        &f,
    )?;
    check(
        f.stdout.lines().any(|l| {
            l.starts_with(r#"{"type": "map", "data": {"name": "counts", "kind": "hash", "entries": [{"key": {"tgid": "#)
        }),
        "no typed map record for counts",
        &f,
    )?;
    check(
        f.stdout.lines().any(|l| {
            l == r#"{"type": "global", "data": {"name": "seen", "section": ".data", "value": 7}}"#
        }),
        "no global record for seen",
        &f,
    )
}

fn set_errors_name_the_variable() -> Outcome {
    let scratch = Scratch::new("set_errors");
    let obj = build(&scratch, "globals")?;
    let obj = obj.to_str().expect("utf-8 path");
    for (set, message) in [
        (
            "nope=1",
            "--set nope: no such global variable (the object has: ",
        ),
        ("nr=abc", "--set nr: 'abc' is not an integer"),
        (
            "small=256",
            "--set small: 256 does not fit a unsigned 8-bit integer (0..=255)",
        ),
        (
            "magic=-2147483649",
            "--set magic: -2147483649 does not fit a signed 32-bit integer",
        ),
        (
            "tag=this-is-far-too-long",
            "--set tag: the string is 20 bytes; tag (char[16]) holds at most 15 plus the NUL",
        ),
        ("nr", "expected NAME=VALUE"),
    ] {
        let f = run_to_end(&[obj, "--set", set])?;
        check(
            f.status.code() == Some(1) || f.status.code() == Some(2),
            &format!("--set {set} should fail"),
            &f,
        )?;
        f.expect_stderr(message)?;
    }
    Ok(())
}

/// The `features:` lines printed for thread `tid`.
fn features_of(stdout: &str, tid: u32) -> Vec<String> {
    messages_of(stdout, tid)
        .into_iter()
        .filter(|m| m.starts_with("features: "))
        .collect()
}

/// Kernel feature detection for the negative cases, never assumed.
fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || Path::new("/sys/kernel/tracing/kprobe_events").exists()
}

/// Every attach kind of the features object: those this kernel supports print, kprobe and
/// fentry fail with the reason while the others keep running.
fn attach_kinds_and_missing_kernel_features() -> Outcome {
    let scratch = Scratch::new("features");
    let obj = build(&scratch, "features")?;
    let target = format!("target_tid={}", tid());
    let run = Running::start(&[
        obj.to_str().expect("utf-8 path"),
        "--set",
        &target,
        "--perf-event",
        "software:cpu-clock:freq=199",
    ])?;
    let me = tid();
    getppid();
    // SAFETY: getpid through libc, which the uprobes watch.
    unsafe { libc::getpid() };
    let kinds = [
        "features: raw_tp",
        "features: tp",
        "features: tp_btf",
        "features: uprobe",
        "features: uretprobe",
    ];
    let seen = run.wait_for(|out| {
        let got = messages_of(out, me);
        kinds.iter().all(|k| got.iter().any(|m| m == k))
    });
    thread::sleep(Duration::from_millis(300));
    let f = run.stop(Some("INT"), &[])?;
    check(
        seen,
        &format!("expected one line of each of {kinds:?} from this thread"),
        &f,
    )?;
    check(
        f.stdout
            .lines()
            .any(|l| l.strip_prefix("ticks = ").is_some_and(|n| n != "0")),
        "the perf_event program should have counted ticks",
        &f,
    )?;
    if kprobes_available() {
        f.expect_stderr("on_kprobe: attached to kprobe do_sys_openat2")?;
    } else {
        f.expect_stderr(
            "ERROR: program on_kprobe (kprobe/do_sys_openat2) not attached: this kernel has no kprobes",
        )?;
    }
    if !f
        .stderr
        .contains("on_fentry: attached to fentry do_sys_openat2")
    {
        f.expect_stderr(
            "ERROR: program on_fentry (fentry/do_sys_openat2) not attached: fentry attach failed:",
        )?;
    }
    f.expect_stderr("Attached ")
}

fn strict_stops_when_a_program_cannot_attach() -> Outcome {
    if kprobes_available() {
        return Ok(()); // nothing fails to attach on a kernel with kprobes
    }
    let scratch = Scratch::new("strict");
    let obj = build(&scratch, "features")?;
    let f = run_to_end(&[obj.to_str().expect("utf-8 path"), "--strict"])?;
    f.expect_failure()?;
    f.expect_stderr("ERROR: --strict: stopping because a program could not be attached")
}

fn only_and_no_attach_choose_programs() -> Outcome {
    let scratch = Scratch::new("only");
    let obj = build(&scratch, "features")?;
    let obj = obj.to_str().expect("utf-8 path");
    let target = format!("target_tid={}", tid());
    let run = Running::start(&[
        obj,
        "--set",
        &target,
        "--only",
        "on_raw_tp",
        "--only",
        "on_tp",
    ])?;
    let me = tid();
    getppid();
    let seen = run.wait_for(|out| features_of(out, me).len() >= 2);
    thread::sleep(Duration::from_millis(200));
    let f = run.stop(Some("INT"), &[])?;
    let mut got = features_of(&f.stdout, me);
    got.sort();
    check(
        seen && got == ["features: raw_tp", "features: tp"],
        &format!("--only on_raw_tp --only on_tp: expected their two lines, got {got:?}"),
        &f,
    )?;
    f.expect_stderr("beetrace: on_tp_btf: not attached (not named by --only)")?;

    let run = Running::start(&[
        obj,
        "--set",
        &target,
        "--no-attach",
        "on_tp",
        "--no-attach",
        "on_kprobe",
        "--no-attach",
        "on_fentry",
    ])?;
    getppid();
    let seen = run.wait_for(|out| features_of(out, me).len() >= 2);
    thread::sleep(Duration::from_millis(200));
    let f = run.stop(Some("INT"), &[])?;
    let mut got = features_of(&f.stdout, me);
    got.sort();
    check(
        seen && got == ["features: raw_tp", "features: tp_btf"],
        &format!("--no-attach on_tp: expected the raw_tp and tp_btf lines only, got {got:?}"),
        &f,
    )?;
    f.expect_stderr("beetrace: on_tp: not attached (--no-attach)")?;
    check(
        !f.stderr.contains("ERROR"),
        "no program should have failed",
        &f,
    )?;

    let f = run_to_end(&[obj, "--only", "nothing_here"])?;
    f.expect_failure()?;
    f.expect_stderr("ERROR: no program named 'nothing_here' (the object has: ")
}

/// `--pin DIR` leaves programs and maps in bpffs after the run (links are not pinned, so
/// nothing stays attached); removing the pins frees them.
fn pin_keeps_programs_and_maps() -> Outcome {
    let scratch = Scratch::new("pin");
    let obj = build(&scratch, "tail_declared")?;
    let dir = PathBuf::from(format!(
        "/sys/fs/bpf/beetrace-run-test-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    let run = Running::start(&[
        obj.to_str().expect("utf-8 path"),
        "--pin",
        dir.to_str().expect("utf-8 path"),
        "--duration",
        "1s",
    ])?;
    let mut kept: Vec<(&str, u32)> = run.ids.progs.iter().map(|&id| ("prog", id)).collect();
    kept.extend(run.ids.maps.iter().map(|&id| ("map", id)));
    let pinned = BpfIds {
        progs: run.ids.progs.clone(),
        maps: run.ids.maps.clone(),
        links: Vec::new(),
    };
    let result = (|| {
        let f = run.stop(None, &kept)?;
        f.expect_stderr(&format!(
            "beetrace: pinned 5 objects under {}",
            dir.display()
        ))?;
        for path in [
            "progs/dispatch",
            "progs/on_exec",
            "progs/on_timer",
            "maps/handlers",
            "maps/rodata",
        ] {
            let kind = if path.starts_with("progs") {
                "prog"
            } else {
                "map"
            };
            let show = Command::new("bpftool")
                .args([kind, "show", "pinned"])
                .arg(dir.join(path))
                .output()
                .map_err(|e| e.to_string())?;
            check(
                show.status.success(),
                &format!("bpftool {kind} show pinned {path} failed"),
                &f,
            )?;
        }
        fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        let left = leaked(&pinned, Duration::from_secs(3));
        check(
            left.is_empty(),
            &format!("still there after unpinning: {left:?}"),
            &f,
        )
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

/// A LIBBPF_PIN_BY_NAME map is pinned in --pin-maps-dir and reused by the next run.
fn pin_by_name_map_is_reused() -> Outcome {
    let scratch = Scratch::new("pin_by_name");
    let obj = build(&scratch, "pin_by_name")?;
    let dir = PathBuf::from(format!(
        "/sys/fs/bpf/beetrace-run-byname-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let target = format!("target_tid={}", tid());
    let args = [
        obj.to_str().expect("utf-8 path"),
        "--pin-maps-dir",
        dir.to_str().expect("utf-8 path"),
        "--set",
        &target,
    ];
    let result = (|| {
        let mut last = None;
        for expected in ["@getppid_calls[0]: 1", "@getppid_calls[0]: 2"] {
            let run = Running::start(&args)?;
            let kept: Vec<(&str, u32)> = run.ids.maps.iter().map(|&id| ("map", id)).collect();
            getppid();
            thread::sleep(Duration::from_millis(200));
            let f = run.stop(Some("INT"), &kept)?;
            check(
                f.stdout.lines().any(|l| l == expected),
                &format!("expected `{expected}` at exit"),
                &f,
            )?;
            last = Some(f);
        }
        let pinned = dir.join("getppid_calls");
        match last {
            Some(f) => check(
                pinned.exists(),
                &format!("{} should exist", pinned.display()),
                &f,
            ),
            None => Ok(()),
        }
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

fn bad_objects_give_clear_errors() -> Outcome {
    let scratch = Scratch::new("bad_objects");
    let text = scratch.path("notes.txt");
    fs::write(&text, "not an object\n").map_err(|e| e.to_string())?;
    let good = build(&scratch, "tail_hello")?;
    let truncated = scratch.path("truncated.bpf.o");
    let bytes = fs::read(&good).map_err(|e| e.to_string())?;
    fs::write(&truncated, &bytes[..bytes.len() / 3]).map_err(|e| e.to_string())?;
    // Invalid UTF-8 in the names (BTF and symbol table): aya would panic on the verifier
    // log quoting them.
    let bad_names = scratch.path("bad_names.bpf.o");
    let mut named = bytes.clone();
    for i in 0..named.len().saturating_sub(11) {
        if &named[i..i + 11] == b"hello_timer" {
            named[i] = 0xff;
        }
    }
    fs::write(&bad_names, &named).map_err(|e| e.to_string())?;
    let unknown = build(&scratch, "bad_section")?;
    let host_elf = binary();
    for (path, message) in [
        (text.clone(), "ERROR: not an ELF file".to_string()),
        (
            host_elf,
            "ERROR: not a BPF object: ELF machine 62, expected 247 (EM_BPF)".to_string(),
        ),
        (truncated, "ERROR: malformed BPF object: ".to_string()),
        (
            bad_names,
            "ERROR: malformed BPF object: .BTF: the string table is not UTF-8".to_string(),
        ),
        (
            unknown,
            "ERROR: program lost_program: unknown section 'nonsense/whatever'".to_string(),
        ),
        (
            scratch.path("missing.bpf.o"),
            format!(
                "ERROR: cannot read {}",
                scratch.path("missing.bpf.o").display()
            ),
        ),
    ] {
        let f = run_to_end(&[path.to_str().expect("utf-8 path")])?;
        f.expect_failure()?;
        f.expect_stderr(&message)?;
        check(!f.stderr.contains("panicked"), "beetrace panicked", &f)?;
    }
    Ok(())
}

/// The verifier's complaint names the program and shows the instruction it rejected; the maps
/// created before the rejection are gone.
fn verifier_rejection_shows_the_failing_instruction() -> Outcome {
    let scratch = Scratch::new("verifier");
    let obj = build(&scratch, "bad_verifier")?;
    let f = run_to_end(&[obj.to_str().expect("utf-8 path")])?;
    f.expect_failure()?;
    f.expect_stderr(
        "ERROR: the kernel's BPF verifier rejected program verifier_victim (section raw_tp/sys_enter)",
    )?;
    f.expect_stderr("*(u64 *)(r0 +0)")?;
    f.expect_stderr("R0 invalid mem access 'map_value_or_null'")?;
    let left = Command::new("bpftool")
        .args(["map", "show", "name", "rejected_values"])
        .output()
        .map_err(|e| e.to_string())?;
    check(
        !String::from_utf8_lossy(&left.stdout).contains("rejected_values"),
        "map rejected_values outlived the failed run",
        &f,
    )
}

/// A CO-RE relocation against a field the kernel lacks: the loader's poisoned call is
/// explained.
fn core_relocation_failure_is_explained() -> Outcome {
    let scratch = Scratch::new("core_missing");
    let obj = build(&scratch, "core_missing_field")?;
    let f = run_to_end(&[obj.to_str().expect("utf-8 path")])?;
    f.expect_failure()?;
    f.expect_stderr("ERROR: the kernel's BPF verifier rejected program core_miss")?;
    f.expect_stderr(
        "hint: the call to helper 195896080 (0xbad2310) is a CO-RE relocation that failed",
    )
}

// ---------------------------------------------------------------------------------------
// Externs: __kconfig and __ksym

/// Whether kallsyms lists variables as well as functions (`jiffies` is one every kernel has).
fn kallsyms_lists_variables() -> bool {
    kallsyms_address("jiffies").is_some()
}

/// The address of `name` in /proc/kallsyms.
fn kallsyms_address(name: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (addr, _, sym) = (f.next()?, f.next()?, f.next()?);
        (sym == name).then(|| u64::from_str_radix(addr, 16).ok())?
    })
}

/// The running kernel's config, from where libbpf reads it.
fn kernel_config() -> Result<String, Failed> {
    let out = Command::new("sh")
        .args([
            "-c",
            "cat /boot/config-$(uname -r) 2>/dev/null || zcat /proc/config.gz",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.contains("CONFIG_HZ=") {
        Ok(text)
    } else {
        Err("cannot read the kernel's config".into())
    }
}

fn config_value<'a>(config: &'a str, name: &str) -> Result<&'a str, Failed> {
    let prefix = format!("{name}=");
    config
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .ok_or_else(|| format!("{name} is not in the kernel's config").into())
}

/// `KERNEL_VERSION(a, b, c)` of `uname -r`, the sublevel capped at 255.
fn kernel_version_code() -> Result<u32, Failed> {
    let out = Command::new("uname")
        .arg("-r")
        .output()
        .map_err(|e| e.to_string())?;
    let release = String::from_utf8_lossy(&out.stdout).into_owned();
    let numbers: Vec<u32> = release
        .trim()
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    match numbers[..] {
        [a, b, c] => Ok((a << 16) | (b << 8) | c.min(255)),
        _ => Err(format!("cannot read a version from {release}").into()),
    }
}

/// `__kconfig` values of every C shape (integers, bool, tristate, char array), the kernel
/// version, a typeless `__ksym` of a function, kfunc calls, and `__weak` externs that do not
/// exist (0): the values the programs print are those of the kernel's config and kallsyms.
fn kconfig_and_ksym_externs_resolve_like_libbpf() -> Outcome {
    let scratch = Scratch::new("kconfig");
    let obj = build(&scratch, "kconfig")?;
    let config = kernel_config()?;
    let tristate = match config_value(&config, "CONFIG_BPF_EVENTS")? {
        "y" => 1,
        "m" => 2,
        _ => 0,
    };
    let expected = [
        format!(
            "version {} hz {} cpus {}",
            kernel_version_code()?,
            config_value(&config, "CONFIG_HZ")?,
            config_value(&config, "CONFIG_NR_CPUS")?
        ),
        format!(
            "bpf 1 events {tristate} hostname {}",
            config_value(&config, "CONFIG_DEFAULT_HOSTNAME")?.trim_matches('"')
        ),
        format!(
            "text {:x} missing 0 0 0",
            kallsyms_address("_text").ok_or("no _text in /proc/kallsyms")?
        ),
        format!("kfunc pid {} missing 0", tid()),
    ];
    let run = Running::start(&[obj.to_str().expect("utf-8 path")])?;
    getppid();
    let me = tid();
    run.wait_for(|out| messages_of(out, me).len() >= expected.len());
    // The values live in a frozen array map the programs may only read, as with libbpf.
    let shown = Command::new("bpftool")
        .args(["map", "show", "name", ".kconfig"])
        .output()
        .map_err(|e| e.to_string())?;
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    let kconfig_maps: Vec<u32> = shown
        .lines()
        .filter_map(|l| l.split_once(": array").and_then(|(id, _)| id.parse().ok()))
        .collect();
    let f = run.stop(Some("INT"), &[])?;
    check(
        !kconfig_maps.is_empty() && shown.contains("flags 0x80") && shown.contains("frozen"),
        &format!("no frozen read-only .kconfig map while running:\n{shown}"),
        &f,
    )?;
    let ids = support::BpfIds {
        maps: kconfig_maps,
        ..Default::default()
    };
    let left = leaked(&ids, Duration::from_secs(3));
    check(
        left.is_empty(),
        &format!("the .kconfig map outlived the run: {left:?}"),
        &f,
    )?;
    // The two programs print in either order.
    let mut seen = messages_of(&f.stdout, me);
    seen.sort();
    let mut want = expected.to_vec();
    want.sort();
    check(
        seen == want,
        &format!("expected the lines {want:?}, got {seen:?}"),
        &f,
    )
}

/// The issue's object on a kernel that lists variables in kallsyms: CPU 0's `nr_running`
/// (typed `__ksym`, per-CPU) is a small number, and `jiffies` (typeless) read 100 ms apart
/// advances by about HZ/10.
fn ksym_externs_read_per_cpu_and_plain_kernel_globals() -> Outcome {
    let scratch = Scratch::new("ksym");
    let obj = build(&scratch, "ksym")?;
    let hz: f64 = config_value(&kernel_config()?, "CONFIG_HZ")?
        .parse()
        .map_err(|_| "CONFIG_HZ is not a number")?;
    let run = Running::start(&[obj.to_str().expect("utf-8 path")])?;
    let start = Instant::now();
    getppid();
    thread::sleep(Duration::from_millis(100));
    getppid();
    let elapsed = start.elapsed().as_secs_f64();
    let me = tid();
    run.wait_for(|out| messages_of(out, me).len() >= 2);
    let f = run.stop(Some("INT"), &[])?;
    let values: Vec<(u64, u64)> = messages_of(&f.stdout, me)
        .iter()
        .filter_map(|m| {
            let mut w = m.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("nr_running"), Some(n), Some("jiffies"), Some(j)) => {
                    Some((n.parse().ok()?, j.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect();
    let [(nr, j0), (_, j1)] = values[..] else {
        return Err(format!("expected two lines, got {values:?}\n{}", f.context()).into());
    };
    check(
        nr < 10_000,
        &format!("nr_running {nr} is not plausible"),
        &f,
    )?;
    let ticks = j1.saturating_sub(j0) as f64;
    let expected = hz * elapsed;
    check(
        (ticks - expected).abs() <= expected * 0.3 + 2.0,
        &format!("jiffies advanced {ticks} in {elapsed:.3} s, expected about {expected:.1}"),
        &f,
    )
}

/// Where kallsyms lists no variables, the verifier cannot resolve `__ksym` variables: the
/// run stops before loading anything and names the extern and the reason.
fn ksym_extern_kallsyms_lacks_is_named() -> Outcome {
    let scratch = Scratch::new("ksym_missing");
    let obj = build(&scratch, "ksym")?;
    let f = run_to_end(&[obj.to_str().expect("utf-8 path")])?;
    f.expect_failure()?;
    f.expect_stderr("ERROR: extern jiffies: /proc/kallsyms has no symbol 'jiffies'")?;
    f.expect_stderr("built without CONFIG_KALLSYMS_ALL")?;
    check(!f.stderr.contains("panicked"), "beetrace panicked", &f)
}

// ---------------------------------------------------------------------------------------
// Cgroup programs

/// Set (to `127.0.0.1:PORT`) when this binary runs as the cgroup test's client.
const CLIENT_ADDR_VAR: &str = "BEETRACE_RUN_TEST_CONNECT";
/// The cgroup the client moves itself into before connecting.
const CLIENT_CGROUP_VAR: &str = "BEETRACE_RUN_TEST_CGROUP";
/// What mark.bpf.c sets.
const MARK: i32 = 0xbee;
const PRIORITY: i32 = 6;

/// Where the cgroup v2 file system is mounted.
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, kind) = (f.next()?, f.next()?, f.next()?);
        (kind == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// A cgroup made for one test, removed when dropped (its processes have exited by then).
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn create(name: &str) -> Result<TestCgroup, Failed> {
        let root = cgroup2_root().ok_or("no cgroup v2 file system")?;
        let path = root.join(format!("beetrace-test-{name}-{}", std::process::id()));
        fs::create_dir(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TestCgroup(path))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// SO_MARK and SO_PRIORITY of a connected socket.
fn socket_mark_and_priority(fd: std::os::fd::RawFd) -> (i32, i32) {
    let get = |opt| {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are valid for the duration of the call.
        unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        value
    };
    (get(libc::SO_MARK), get(libc::SO_PRIORITY))
}

/// The client: joins the cgroup, connects, prints `mark M priority P` as it sees them.
fn connect_client(addr: &str) {
    use std::os::fd::AsRawFd;
    if let Ok(cgroup) = std::env::var(CLIENT_CGROUP_VAR) {
        if let Err(e) = fs::write(Path::new(&cgroup).join("cgroup.procs"), "0") {
            eprintln!("cannot join {cgroup}: {e}");
            std::process::exit(2);
        }
    }
    match std::net::TcpStream::connect(addr) {
        Ok(s) => {
            let (mark, priority) = socket_mark_and_priority(s.as_raw_fd());
            println!("mark {mark} priority {priority}");
        }
        Err(e) => {
            eprintln!("cannot connect to {addr}: {e}");
            std::process::exit(3);
        }
    }
}

/// `bpftool cgroup show DIR`.
fn cgroup_programs(cgroup: &Path) -> Result<String, Failed> {
    let out = Command::new("bpftool")
        .arg("cgroup")
        .arg("show")
        .arg(cgroup)
        .output()
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `cgroup/connect4` program sets SO_MARK and SO_PRIORITY with bpf_setsockopt: a client in
/// the cgroup sees them on its socket, this process (outside) does not; `cgroup/sock_create`
/// counts the client's one socket. With a BPF link (no flags), `--cgroup-flags multi` and
/// `override`, bpftool shows the programs with those flags while the run lasts and none after.
/// Without `--cgroup` the run is refused, naming the option.
fn cgroup_programs_set_socket_options_in_their_cgroup() -> Outcome {
    use std::os::fd::AsRawFd;
    let scratch = Scratch::new("cgroup");
    let obj = build(&scratch, "mark")?;
    let obj = obj.to_str().expect("utf-8 path");

    let f = run_to_end(&[obj])?;
    f.expect_failure()?;
    f.expect_stderr("attaches to a cgroup: name one with --cgroup PATH")?;

    let cgroup = TestCgroup::create("mark")?;
    let cgroup_path = cgroup.0.to_str().expect("utf-8 path");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    for (flags, shown) in [
        (None, "multi"),
        (Some("multi"), "multi"),
        (Some("override"), "override"),
    ] {
        let mut args = vec![obj, "--cgroup", cgroup_path];
        args.extend(flags.iter().flat_map(|f| ["--cgroup-flags", *f]));
        let run = Running::start(&args)?;
        let attached = cgroup_programs(&cgroup.0)?;
        let client = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .env(CLIENT_ADDR_VAR, &addr)
            .env(CLIENT_CGROUP_VAR, &cgroup.0)
            .output()
            .map_err(|e| format!("cannot start the client: {e}"))?;
        let outside = std::net::TcpStream::connect(&addr).map_err(|e| e.to_string())?;
        let outside = socket_mark_and_priority(outside.as_raw_fd());
        run.wait_for(|out| out.contains("connect4 mark bee"));
        let f = run.stop(Some("INT"), &[])?;
        let what = format!("with --cgroup-flags {flags:?}");
        let inside = String::from_utf8_lossy(&client.stdout).into_owned();
        check(
            inside.trim() == format!("mark {MARK} priority {PRIORITY}"),
            &format!(
                "{what}: the client in the cgroup saw `{}` (stderr: {})",
                inside.trim(),
                String::from_utf8_lossy(&client.stderr).trim()
            ),
            &f,
        )?;
        check(
            outside == (0, 0),
            &format!("{what}: a socket outside the cgroup got mark and priority {outside:?}"),
            &f,
        )?;
        check(
            f.stdout.contains(": connect4 mark bee"),
            &format!("{what}: no printk line with the mark read back"),
            &f,
        )?;
        check(
            f.stdout.lines().any(|l| l == "sockets_created = 1"),
            &format!("{what}: the client's one socket was not counted"),
            &f,
        )?;
        for name in ["mark_connect", "count_sockets"] {
            let line = attached.lines().find(|l| l.contains(name));
            check(
                line.is_some_and(|l| l.split_whitespace().any(|w| w == shown)),
                &format!(
                    "{what}: bpftool cgroup show lacks {name} with flags {shown}:\n{attached}"
                ),
                &f,
            )?;
        }
        let after = cgroup_programs(&cgroup.0)?;
        check(
            !after.contains("mark_connect") && !after.contains("count_sockets"),
            &format!("{what}: programs still attached after exit:\n{after}"),
            &f,
        )?;
    }
    Ok(())
}
