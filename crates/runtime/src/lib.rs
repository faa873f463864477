//! The last stage: load the compiled object into the kernel, attach its programs, fire
//! `begin`, stream events until `exit()`, a signal or the traced command ends, then detach,
//! fire `end` and print.
//!
//! Invariant: only this crate makes bpf() calls. Every kernel object it creates is owned by
//! a file descriptor held in [`aya::Ebpf`], so returning (normally, by error, or on a
//! signal) releases them all; nothing is pinned unless asked for.

mod events;
mod sys;

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::Child;
use std::time::{Duration, Instant};

use aya::maps::{Array, RingBuf};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{Program, ProgramError};
use aya::{Ebpf, EbpfLoader};
use codegen::{Compiled, CompiledProgram};
use sema::hir::Attach;
use sema::PrintfFormat;
use syntax::Span;

use events::Event;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A probe called `exit()`.
    Exit,
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// The `-c` command or the `-p` process ended.
    TargetEnded,
    /// `--dry-run`: everything loaded and attached, nothing run.
    DryRun,
    /// `--duration` ran out.
    Timeout,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot load the compiled object: {0}")]
    Object(#[from] aya::EbpfError),
    #[error("the kernel's verifier rejected the program for {probe}")]
    Verifier {
        probe: String,
        /// The script text of the instruction the verifier stopped at, when known.
        span: Option<Span>,
        /// The last lines of the verifier log.
        log_tail: Vec<String>,
    },
    #[error("cannot attach {probe}: {message}")]
    Attach { probe: String, message: String },
    #[error("{0}")]
    Map(String),
    #[error("cannot run {probe}: {source}")]
    TestRun {
        probe: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the command: {0}")]
    Command(io::Error),
    #[error("cannot write output: {0}")]
    Output(io::Error),
    #[error("malformed event from the kernel: {0}")]
    Event(String),
}

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// `-q`: no "Attached N probes" line.
    pub quiet: bool,
    /// `-c CMD`: started after probes are attached; the run ends when it exits.
    pub command: Option<std::process::Command>,
    /// `-p PID`: the run ends when this process exits.
    pub pid: Option<u32>,
    /// Stop after this long (as if Ctrl-C).
    pub duration: Option<Duration>,
}

/// Runs a compiled script. `out` receives the script's output, `err` status lines.
pub fn run(
    compiled: &Compiled,
    elf: &[u8],
    printfs: &[PrintfFormat],
    out: &mut dyn Write,
    err: &mut dyn Write,
    mut options: RunOptions,
) -> Result<Outcome, RuntimeError> {
    sys::catch_termination();
    let mut ebpf = EbpfLoader::new().load(elf)?;
    set_start_time(&mut ebpf)?;
    for program in &compiled.programs {
        load(&mut ebpf, program)?;
    }
    let mut attached = 0;
    for program in &compiled.programs {
        if attach(&mut ebpf, program)? {
            attached += 1;
        }
    }
    let begin_end = compiled
        .programs
        .iter()
        .filter(|p| matches!(p.attach, Attach::Begin | Attach::End))
        .count();
    if !options.quiet {
        let n = attached + begin_end;
        writeln!(err, "Attached {n} probe{}", if n == 1 { "" } else { "s" })
            .map_err(RuntimeError::Output)?;
    }
    if options.dry_run {
        return Ok(Outcome::DryRun);
    }

    let events_map = ebpf
        .take_map("events")
        .ok_or_else(|| RuntimeError::Map("the object has no events ring buffer".into()))?;
    let mut ring = RingBuf::try_from(events_map).map_err(|e| RuntimeError::Map(e.to_string()))?;
    let mut output = Output {
        out,
        printfs,
        exited: false,
    };

    fire(&mut ebpf, compiled, &Attach::Begin)?;
    output.drain(&mut ring)?;

    let mut child: Option<Child> = None;
    let outcome = if output.exited {
        Outcome::Exit
    } else {
        if let Some(cmd) = options.command.as_mut() {
            child = Some(cmd.spawn().map_err(RuntimeError::Command)?);
        }
        let deadline = options.duration.map(|d| Instant::now() + d);
        loop {
            output.drain(&mut ring)?;
            if output.exited {
                break Outcome::Exit;
            }
            if let Some(sig) = sys::termination_signal() {
                break Outcome::Signal(sig);
            }
            if let Some(c) = child.as_mut() {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    output.drain(&mut ring)?;
                    break Outcome::TargetEnded;
                }
            }
            if let Some(pid) = options.pid {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    break Outcome::TargetEnded;
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break Outcome::Timeout;
            }
            sys::wait_readable(ring.as_fd().as_raw_fd(), 100);
        }
    };

    // Detach every probe before `end` fires, so `end` sees the final state.
    for program in &compiled.programs {
        if !matches!(program.attach, Attach::Begin | Attach::End) {
            if let Some(p) = ebpf.program_mut(&program.name) {
                unload(p);
            }
        }
    }
    output.exited = false;
    output.drain(&mut ring)?;
    output.exited = false;
    fire(&mut ebpf, compiled, &Attach::End)?;
    output.drain(&mut ring)?;
    if let Some(mut c) = child {
        if outcome != Outcome::TargetEnded {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
    Ok(outcome)
}

struct Output<'a> {
    out: &'a mut dyn Write,
    printfs: &'a [PrintfFormat],
    /// An exit record was seen; later records of this batch are dropped, as in bpftrace.
    exited: bool,
}

impl Output<'_> {
    fn drain(&mut self, ring: &mut RingBuf<aya::maps::MapData>) -> Result<(), RuntimeError> {
        while let Some(item) = ring.next() {
            if self.exited {
                continue;
            }
            match events::decode(&item, self.printfs).map_err(RuntimeError::Event)? {
                Event::Text(text) => self.out.write_all(&text).map_err(RuntimeError::Output)?,
                Event::Exit => self.exited = true,
            }
        }
        self.out.flush().map_err(RuntimeError::Output)
    }
}

fn set_start_time(ebpf: &mut Ebpf) -> Result<(), RuntimeError> {
    let map = ebpf
        .map_mut("globals")
        .ok_or_else(|| RuntimeError::Map("the object has no globals map".into()))?;
    let mut globals: Array<_, u64> =
        Array::try_from(map).map_err(|e| RuntimeError::Map(e.to_string()))?;
    globals
        .set(0, sys::monotonic_ns(), 0)
        .map_err(|e| RuntimeError::Map(format!("cannot set the start time: {e}")))
}

fn program<'a>(ebpf: &'a mut Ebpf, p: &CompiledProgram) -> Result<&'a mut Program, RuntimeError> {
    ebpf.program_mut(&p.name)
        .ok_or_else(|| RuntimeError::Map(format!("program {} missing from the object", p.name)))
}

fn load(ebpf: &mut Ebpf, p: &CompiledProgram) -> Result<(), RuntimeError> {
    let prog = program(ebpf, p)?;
    let result = match prog {
        Program::RawTracePoint(rt) => rt.load(),
        Program::TracePoint(tp) => tp.load(),
        Program::PerfEvent(pe) => pe.load(),
        _ => {
            return Err(RuntimeError::Map(format!(
                "program {} has an unexpected type",
                p.name
            )))
        }
    };
    result.map_err(|e| load_error(p, e))
}

/// Turns a load failure into the script location the verifier stopped at.
fn load_error(p: &CompiledProgram, e: ProgramError) -> RuntimeError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| !l.trim().is_empty() && !is_verifier_statistics(l))
                .collect();
            let slot = verifier_error_slot(&lines);
            let mut log_tail: Vec<String> = lines
                .iter()
                .rev()
                .take(6)
                .rev()
                .map(|s| s.to_string())
                .collect();
            log_tail.push(format!("(the kernel returned: {io_error})"));
            RuntimeError::Verifier {
                probe: p.attach.probe_name(),
                span: slot.and_then(|s| p.slot_spans.get(s).copied()),
                log_tail,
            }
        }
        other => RuntimeError::Attach {
            probe: p.attach.probe_name(),
            message: other.to_string(),
        },
    }
}

/// Lines the verifier appends to every log, which say nothing about the failure.
fn is_verifier_statistics(line: &str) -> bool {
    [
        "verification time",
        "stack depth",
        "processed ",
        "mark_read",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// The instruction the verifier stopped at: named in messages such as "infinite loop
/// detected at insn 5", else the last instruction of the rejected path ("12: (85) call …").
fn verifier_error_slot(lines: &[&str]) -> Option<usize> {
    let named = lines.iter().rev().find_map(|l| {
        let rest = &l[l.find("insn ")? + 5..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    named.or_else(|| {
        lines.iter().rev().find_map(|l| {
            let (num, rest) = l.split_once(": ")?;
            rest.starts_with('(').then(|| num.trim().parse().ok())?
        })
    })
}

/// Attaches one program; `begin`/`end` are not attached but fired. Returns whether it
/// attached something.
fn attach(ebpf: &mut Ebpf, p: &CompiledProgram) -> Result<bool, RuntimeError> {
    let prog = program(ebpf, p)?;
    let err = |e: ProgramError| RuntimeError::Attach {
        probe: p.attach.probe_name(),
        message: error_chain(&e),
    };
    match (&p.attach, prog) {
        (Attach::Begin | Attach::End, _) => return Ok(false),
        (Attach::Tracepoint { category, name }, Program::TracePoint(tp)) => {
            tp.attach(category, name).map_err(err)?;
        }
        (Attach::Interval { period_ns }, Program::PerfEvent(pe)) => {
            pe.attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu: 0 },
                SamplePolicy::Period(*period_ns),
                false,
            )
            .map_err(err)?;
        }
        _ => {
            return Err(RuntimeError::Attach {
                probe: p.attach.probe_name(),
                message: "program type does not match the probe".into(),
            })
        }
    }
    Ok(true)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Runs every `begin` (or `end`) program once, in script order.
fn fire(ebpf: &mut Ebpf, compiled: &Compiled, which: &Attach) -> Result<(), RuntimeError> {
    for p in compiled.programs.iter().filter(|p| &p.attach == which) {
        if let Program::RawTracePoint(rt) = program(ebpf, p)? {
            let fd = rt
                .fd()
                .map_err(|e| RuntimeError::Attach {
                    probe: p.attach.probe_name(),
                    message: e.to_string(),
                })?
                .as_fd()
                .as_raw_fd();
            sys::test_run(fd).map_err(|source| RuntimeError::TestRun {
                probe: p.attach.probe_name(),
                source,
            })?;
        }
    }
    Ok(())
}

fn unload(p: &mut Program) {
    let _ = match p {
        Program::TracePoint(tp) => tp.unload(),
        Program::PerfEvent(pe) => pe.unload(),
        Program::RawTracePoint(rt) => rt.unload(),
        _ => Ok(()),
    };
}
