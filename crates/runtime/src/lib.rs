//! The last stage: load the compiled object into the kernel, attach its programs, fire
//! `begin`, stream events until `exit()`, a signal or the traced command ends, then detach,
//! fire `end` and print.
//!
//! bpf() calls go through the `bpfsys` crate. Every kernel object it creates (map,
//! program, perf event attachment) is owned by an [`OwnedFd`], so returning (normally, by
//! error, or on a signal) releases them all; nothing is pinned unless asked for.

mod cgroups;
mod child;
mod events;
mod maps;
mod mmap_watch;
pub mod pin;
mod resolve;
mod ringbuf;
mod stacks;
pub mod symbolize;
mod sys;
mod tp_btf;
mod uprobe;
mod wallclock;

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use codegen::{
    Compiled, CompiledProgram, CMPXCHG_ATTEMPTS, GLOBALS_CONTENDED, GLOBALS_CPID,
    GLOBALS_FAILED_READS, GLOBALS_LOST_EVENTS, GLOBALS_LOST_STACKS, GLOBALS_MAP_FULL,
    GLOBALS_START_NS, GLOBALS_TRUNCATED_STRINGS, MAP_EVENTS, MAP_GLOBALS, MAP_USER_BASE,
};
use object::Insn;
use output::PrintOptions;
use sema::hir::{Attach, MapCommand};
use sema::{Analysis, PrintfFormat};
use syntax::Span;

use events::Event;
pub use maps::LiveMap;
use maps::ScriptMap;
use ringbuf::RingBuf;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A probe called `exit(code)` (`exit()` is code 0).
    Exit(i32),
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// The `-c` command or the `-p` process ended.
    TargetEnded,
    /// `--dry-run`: everything loaded and attached, nothing run.
    DryRun,
    /// `--duration` ran out.
    Timeout,
    /// [`RunOptions::stop`] was set.
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create map {map}: {source}")]
    MapCreate {
        map: String,
        #[source]
        source: io::Error,
    },
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
    #[error("{0}")]
    Pin(String),
}

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// `-q`: no "Attached N probes" line.
    pub quiet: bool,
    /// `-c CMD`: forked before probes are attached (its pid is `cpid`), run once they are;
    /// the run ends when it exits. Only its program and arguments are used.
    pub command: Option<std::process::Command>,
    /// `-p PID`: the run ends when this process exits; uprobes fire only in it.
    pub pid: Option<u32>,
    /// Stop after this long (as if Ctrl-C).
    pub duration: Option<Duration>,
    /// `-f json`: bpftrace's NDJSON records instead of text.
    pub json: bool,
    /// `--pin DIR`: pin the script's maps there, reusing compatible ones (see [`pin`]).
    pub pin: Option<std::path::PathBuf>,
    /// `--pin-progs`: also pin programs and their attachments, which then outlive the run.
    pub pin_progs: bool,
    /// `beetrace serve`: once `begin` has fired, the script's `@maps` are sent here (in
    /// `Analysis::maps` order) so another thread can read them while the run goes on.
    pub share_maps: Option<std::sync::mpsc::Sender<Vec<LiveMap>>>,
    /// Ends the run as SIGTERM would, once set (`beetrace serve` stopping or reloading
    /// one script among several).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The SIGINT or SIGTERM a run has seen, if any. [`run`] installs the handlers; a
/// program running several scripts at once (`beetrace serve`) asks here whether the
/// whole process was told to stop.
pub fn termination_signal() -> Option<i32> {
    sys::termination_signal()
}

/// Installs the handlers behind [`termination_signal`] (idempotent; [`run`] does it too).
pub fn catch_termination() {
    sys::catch_termination()
}

/// Makes SIGHUP a request instead of the end of the process; [`take_hangup`] reports it.
/// For `beetrace serve`, which reloads its scripts then.
pub fn catch_hangup() {
    sys::catch_hangup()
}

/// Whether a SIGHUP arrived since the last call (after [`catch_hangup`]).
pub fn take_hangup() -> bool {
    sys::take_hangup()
}

/// A loaded program.
struct Loaded<'a> {
    program: &'a CompiledProgram,
    fd: OwnedFd,
    /// Loaded as `tp_btf` (attached by BTF id) rather than `raw_tp` (attached by name).
    tp_btf: bool,
}

/// The perf events that keep programs attached. Closing one waits for an RCU grace period
/// in the kernel (tens of milliseconds), so they are closed from many threads at once:
/// detaching 360 syscall tracepoints takes a fraction of a second instead of half a minute.
struct Links(Vec<OwnedFd>);

impl Links {
    fn detach_all(&mut self) {
        let links = std::mem::take(&mut self.0);
        if links.len() <= 1 {
            return;
        }
        let per_thread = links.len().div_ceil(128);
        let mut links = links.into_iter();
        std::thread::scope(|scope| loop {
            let chunk: Vec<OwnedFd> = links.by_ref().take(per_thread).collect();
            if chunk.is_empty() {
                break;
            }
            scope.spawn(move || drop(chunk));
        });
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        self.detach_all();
    }
}

/// Runs a compiled script. `out` receives the script's output, `err` status lines.
pub fn run(
    compiled: &Compiled,
    analysis: &Analysis,
    out: &mut dyn Write,
    err: &mut dyn Write,
    options: RunOptions,
) -> Result<Outcome, RuntimeError> {
    sys::catch_termination();
    let mut pins = match &options.pin {
        Some(dir) => Some(pin::Pins::new(dir, options.pin_progs)?),
        None => None,
    };
    let maps = create_maps(compiled, analysis, pins.as_mut(), err)?;
    // Callbacks make the kernel insist on BTF describing every function of a program.
    let needs_btf = compiled
        .object
        .functions
        .iter()
        .flat_map(|f| &f.insns)
        .chain(compiled.object.programs.iter().flat_map(|p| &p.insns))
        .any(|i| matches!(i, Insn::LdFunc { .. }));
    let (btf_blob, prog_types, func_types) = compiled.object.btf();
    let btf = if needs_btf {
        Some(sys::btf_load(&btf_blob).map_err(|e| {
            RuntimeError::Map(format!(
                "the kernel rejected the program's BTF: {} {}",
                e.error,
                e.log.lines().last().unwrap_or("")
            ))
        })?)
    } else {
        None
    };
    let mut loaded = Vec::new();
    for (i, (program, object)) in compiled
        .programs
        .iter()
        .zip(&compiled.object.programs)
        .enumerate()
    {
        let (insns, placed) = compiled.object.linked(object);
        let mut func_info = vec![[0u32, prog_types[i]]];
        func_info.extend(
            placed
                .iter()
                .map(|(slot, f)| [*slot as u32, func_types[f.0 as usize]]),
        );
        let prog_btf = btf.as_ref().map(|btf| sys::ProgBtf {
            btf,
            func_info: &func_info,
        });
        let (fd, tp_btf) = load(
            program,
            &insns,
            &maps,
            &compiled.object.license,
            prog_btf.as_ref(),
        )?;
        loaded.push(Loaded {
            program,
            fd,
            tp_btf,
        });
    }
    fill_syscall_tables(&loaded, &maps)?;
    let as_links = pins.as_ref().is_some_and(|p| p.progs);
    // The command waits before exec: `cpid` is known before anything can fire, and
    // uprobes on its binary see it from its first instruction.
    let mut child = match options.command.as_ref().filter(|_| !options.dry_run) {
        Some(cmd) => Some(child::PausedChild::spawn(cmd).map_err(RuntimeError::Command)?),
        None => None,
    };
    if let Some(c) = &child {
        set_cpid(
            &maps[MAP_GLOBALS as usize],
            compiled.object.maps[MAP_GLOBALS as usize].value_size,
            c.pid(),
        )?;
    }
    let user = UserTargets {
        pmu: open_uprobe_pmu(&loaded)?,
        pid: options.pid,
    };
    let mut links = Links(Vec::new());
    for l in &loaded {
        let fds = attach(l.program, &l.fd, as_links, l.tp_btf, &user)?;
        if let Some(pins) = pins.as_mut().filter(|p| p.progs) {
            pin_program(pins, l, &fds, err)?;
        }
        links.0.extend(fds);
    }
    if let Some(pins) = pins.as_mut().filter(|p| p.progs) {
        pin_internal_maps(pins, compiled, analysis.maps.len(), &maps)?;
    }
    // A dry run leaves nothing behind; a real one keeps what it pinned from here on.
    if let Some(pins) = pins.as_mut().filter(|_| !options.dry_run) {
        pins.keep();
    }
    if !options.quiet {
        // Probes as the script names them: a dispatcher is not one, its syscalls are.
        let n: usize = loaded
            .iter()
            .map(|l| match &l.program.attach {
                Attach::SyscallDispatcher { .. } => 0,
                Attach::SyscallSet { syscalls, .. } => syscalls.len(),
                _ => 1,
            })
            .sum();
        if options.json {
            writeln!(
                out,
                r#"{{"type": "attached_probes", "count": {n}, "data": {{"probes": {n}}}}}"#
            )
        } else {
            writeln!(err, "Attached {n} probe{}", if n == 1 { "" } else { "s" })
        }
        .map_err(RuntimeError::Output)?;
    }
    if options.dry_run {
        return Ok(Outcome::DryRun);
    }

    let events = maps[MAP_EVENTS as usize]
        .try_clone()
        .map_err(|e| RuntimeError::Map(format!("cannot duplicate the events map: {e}")))?;
    let mut ring = RingBuf::new(
        events,
        compiled.object.maps[MAP_EVENTS as usize].max_entries as usize,
    )
    .map_err(|e| RuntimeError::Map(format!("cannot map the events ring buffer: {e}")))?;
    let stack_base = MAP_USER_BASE as usize + analysis.maps.len();
    let resolver = resolve::Resolver {
        cgroups: cgroups::CgroupResolver::new(&analysis.cgroup_filters),
        stacks: stacks::Stacks::new(
            analysis
                .stack_maps
                .iter()
                .enumerate()
                .map(|(i, m)| (*m, &maps[stack_base + i]))
                .collect(),
            analysis.user_addresses,
        ),
    };
    let script_maps: Vec<ScriptMap> = analysis
        .maps
        .iter()
        .enumerate()
        .map(|(i, info)| ScriptMap {
            info,
            fd: &maps[MAP_USER_BASE as usize + i],
            resolver: &resolver,
        })
        .collect();
    let cpus =
        sys::possible_cpus().map_err(|e| RuntimeError::Map(format!("cannot count CPUs: {e}")))?;
    let mut output = Output {
        out,
        printfs: &analysis.printfs,
        maps: &script_maps,
        resolver: &resolver,
        cpus,
        json: options.json,
        exited: None,
    };

    fire(&loaded, &Attach::Begin)?;
    output.drain(&mut ring)?;
    if let Some(share) = &options.share_maps {
        let live = analysis
            .maps
            .iter()
            .enumerate()
            .map(|(i, info)| LiveMap::new(info, &maps[MAP_USER_BASE as usize + i], cpus))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| RuntimeError::Map(format!("cannot duplicate a map: {e}")))?;
        // The receiver may be gone already (the server is shutting down): nothing to do.
        let _ = share.send(live);
    }
    let stop_asked = || {
        options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    };

    let outcome = if let Some(code) = output.exited {
        Outcome::Exit(code)
    } else {
        if let Some(c) = child.as_mut() {
            c.release().map_err(RuntimeError::Command)?;
        }
        let deadline = options.duration.map(|d| Instant::now() + d);
        loop {
            output.drain(&mut ring)?;
            output.resolver.stacks.poll();
            if let Some(code) = output.exited {
                break Outcome::Exit(code);
            }
            if let Some(sig) = sys::termination_signal() {
                break Outcome::Signal(sig);
            }
            if stop_asked() {
                break Outcome::Stopped;
            }
            if let Some(c) = child.as_mut() {
                if c.exited() {
                    output.drain(&mut ring)?;
                    break Outcome::TargetEnded;
                }
            }
            if let Some(pid) = options.pid {
                if !sys::process_alive(pid) {
                    break Outcome::TargetEnded;
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break Outcome::Timeout;
            }
            sys::wait_readable(ring.fd(), 100);
        }
    };

    // Detach every probe before `end` fires, so `end` sees the final state. Pinned
    // attachments keep tracing after we exit, so for them nothing has ended.
    links.detach_all();
    output.exited = None;
    output.drain(&mut ring)?;
    output.exited = None;
    if !as_links {
        fire(&loaded, &Attach::End)?;
    }
    output.drain(&mut ring)?;
    output.finish()?;
    for file in resolver.stacks.stripped_files() {
        writeln!(
            err,
            "WARNING: {file} has no symbols (stripped?): its frames are printed as addresses"
        )
        .map_err(RuntimeError::Output)?;
    }
    let probe_names: Vec<String> = analysis
        .probes
        .iter()
        .map(|p| p.attach.probe_name())
        .collect();
    report_losses(
        &maps[MAP_GLOBALS as usize],
        &probe_names,
        err,
        options.json.then_some(&mut *output.out),
    )?;
    if let Some(mut c) = child {
        if outcome == Outcome::TargetEnded {
            c.wait();
        } else {
            c.kill_and_wait();
        }
    }
    Ok(outcome)
}

struct Output<'a> {
    out: &'a mut dyn Write,
    printfs: &'a [PrintfFormat],
    maps: &'a [ScriptMap<'a>],
    resolver: &'a resolve::Resolver<'a>,
    cpus: usize,
    json: bool,
    /// An exit record was seen (with its code); later records of this batch are dropped,
    /// as in bpftrace.
    exited: Option<i32>,
}

impl Output<'_> {
    fn text(&mut self, text: &[u8]) -> Result<(), RuntimeError> {
        self.emit("printf", text)
    }

    /// Text as is, or in JSON a `{"type": kind, "data": text}` record.
    fn emit(&mut self, kind: &str, text: &[u8]) -> Result<(), RuntimeError> {
        if self.json {
            let line = format!(
                "{{\"type\": \"{kind}\", \"data\": {}}}\n",
                output::json_string(text)
            );
            self.out.write_all(line.as_bytes())
        } else {
            self.out.write_all(text)
        }
        .map_err(RuntimeError::Output)
    }

    fn map_command(&mut self, map: usize, command: MapCommand) -> Result<(), RuntimeError> {
        let m = self
            .maps
            .get(map)
            .ok_or_else(|| RuntimeError::Event(format!("map command for unknown map {map}")))?;
        let failed = |e: io::Error| RuntimeError::Map(format!("{}: {e}", m.info.display_name()));
        match command {
            MapCommand::Print { top, div } => {
                let opts = PrintOptions {
                    top: top as usize,
                    div,
                };
                let text = m
                    .render(self.cpus, &opts, true, self.json)
                    .map_err(failed)?;
                self.out
                    .write_all(text.as_bytes())
                    .map_err(RuntimeError::Output)
            }
            MapCommand::Clear => m.clear().map_err(failed),
            MapCommand::Zero => m.zero(self.cpus).map_err(failed),
        }
    }

    /// What bpftrace prints when a run ends: (in text) two newlines, then every map by name.
    fn finish(&mut self) -> Result<(), RuntimeError> {
        if !self.json {
            self.out.write_all(b"\n\n").map_err(RuntimeError::Output)?;
        }
        let mut order: Vec<&ScriptMap> = self.maps.iter().collect();
        order.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        let opts = PrintOptions { top: 0, div: 1 };
        for m in order {
            let text = m
                .render(self.cpus, &opts, false, self.json)
                .map_err(|e| RuntimeError::Map(format!("{}: {e}", m.info.display_name())))?;
            self.out
                .write_all(text.as_bytes())
                .map_err(RuntimeError::Output)?;
        }
        self.out.flush().map_err(RuntimeError::Output)
    }

    fn drain(&mut self, ring: &mut RingBuf) -> Result<(), RuntimeError> {
        let mut failure = None;
        ring.consume(|record| {
            if self.exited.is_some() {
                return true;
            }
            let result = events::decode(record, self.printfs, self.resolver)
                .map_err(RuntimeError::Event)
                .and_then(|event| match event {
                    Event::Text(text) => self.text(&text),
                    Event::Time(format) => {
                        let now = wallclock::strftime(&format, sys::monotonic_ns());
                        self.emit("time", &now)
                    }
                    Event::Join(mut text) => {
                        if !self.json {
                            text.push(b'\n');
                        }
                        self.emit("join", &text)
                    }
                    Event::System(command) => {
                        let out = run_shell(&command);
                        self.emit("syscall", &out)
                    }
                    Event::Cat(path) => {
                        let path = String::from_utf8_lossy(&path).into_owned();
                        let content = std::fs::read(&path).unwrap_or_else(|e| {
                            format!("cat: cannot read {path}: {e}\n").into_bytes()
                        });
                        self.emit("cat", &content)
                    }
                    Event::Value { ty, bytes } => {
                        let line = if self.json {
                            output::value_json(ty, &bytes)
                        } else {
                            output::value_text(ty, &bytes)
                        };
                        self.out
                            .write_all(line.as_bytes())
                            .map_err(RuntimeError::Output)
                    }
                    Event::Exit(code) => {
                        self.exited = Some(code);
                        Ok(())
                    }
                    Event::Map { map, command } => self.map_command(map, command),
                    Event::NewProcess(pid) => {
                        self.resolver.stacks.note_process(pid);
                        Ok(())
                    }
                });
            match result {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        self.out.flush().map_err(RuntimeError::Output)
    }
}

/// `system()`: runs the command through the shell and returns what it printed.
fn run_shell(command: &[u8]) -> Vec<u8> {
    let command = String::from_utf8_lossy(command).into_owned();
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => out.stdout,
        Err(e) => format!("system: cannot run {command:?}: {e}\n").into_bytes(),
    }
}

/// The kernel-side loss counters: where each sits in a probe's block of `globals`, its
/// name in JSON, and what the warning says (`{n}` is the total).
const LOSSES: [(i16, &str, &str); 6] = [
    (
        GLOBALS_LOST_EVENTS,
        "events",
        "{n} events were lost because the ring buffer was full; print less, or less often",
    ),
    (
        GLOBALS_TRUNCATED_STRINGS,
        "truncated_strings",
        "{n} string(s) filled their buffer and were probably cut short; raise the limit \
         with config = { max_strlen = 1024 } or str(p, 1024)",
    ),
    (
        GLOBALS_FAILED_READS,
        "failed_reads",
        "{n} str() read(s) failed and gave \"\" (typically user memory not paged in yet \
         when the probe fired)",
    ),
    (
        GLOBALS_CONTENDED,
        "contended_updates",
        "{n} compound map update(s) (*= /= %= <<= >>=) were dropped after losing {races} \
         races in a row with other CPUs",
    ),
    (
        GLOBALS_LOST_STACKS,
        "lost_stacks",
        "{n} stack(s) could not be stored in their stack map (another stack held the hash \
         bucket, or no memory) and print as [stack lost]",
    ),
    (
        GLOBALS_MAP_FULL,
        "map_full",
        "{n} map update(s) were dropped because a map was full; declare it larger, e.g. \
         let @m = hash(100000);",
    ),
];

/// Reports what the kernel side had to drop or cut, with the probes it happened in: a
/// warning per kind of loss, and with JSON output bpftrace's `lost_events` record plus a
/// `losses` record per kind.
fn report_losses(
    globals: &OwnedFd,
    probes: &[String],
    err: &mut dyn Write,
    mut json: Option<&mut dyn Write>,
) -> Result<(), RuntimeError> {
    let mut value = vec![0u8; codegen::globals_value_size(probes.len()) as usize];
    if !sys::map_lookup(globals, &0u32.to_ne_bytes(), &mut value).unwrap_or(false) {
        return Ok(());
    }
    let counter = |probe: usize, off: i16| {
        let at = codegen::loss_counter_offset(probe, off);
        u64::from_ne_bytes(value[at..at + 8].try_into().expect("8 bytes"))
    };
    for (off, kind, text) in LOSSES {
        let per_probe: Vec<(&str, u64)> = (probes.iter().enumerate())
            .map(|(i, name)| (name.as_str(), counter(i, off)))
            .filter(|&(_, n)| n > 0)
            .collect();
        let total: u64 = per_probe.iter().map(|&(_, n)| n).sum();
        if total == 0 {
            continue;
        }
        if let Some(out) = json.as_deref_mut() {
            if off == GLOBALS_LOST_EVENTS {
                writeln!(
                    out,
                    r#"{{"type": "lost_events", "count": {total}, "data": {{"events": {total}}}}}"#
                )
                .map_err(RuntimeError::Output)?;
            }
            let probes: Vec<String> = per_probe
                .iter()
                .map(|(name, n)| format!("{}: {n}", output::json_string(name.as_bytes())))
                .collect();
            writeln!(
                out,
                r#"{{"type": "losses", "data": {{"kind": "{kind}", "count": {total}, "probes": {{{}}}}}}}"#,
                probes.join(", ")
            )
            .map_err(RuntimeError::Output)?;
        }
        let text = text
            .replace("{n}", &total.to_string())
            .replace("{races}", &CMPXCHG_ATTEMPTS.to_string());
        let by_probe: Vec<String> = per_probe
            .iter()
            .map(|(name, n)| format!("{n} in {name}"))
            .collect();
        writeln!(err, "WARNING: {text} [{}]", by_probe.join(", ")).map_err(RuntimeError::Output)?;
    }
    Ok(())
}

/// Stores the `-c` command's pid where `cpid` reads it. Nothing is attached yet, so the
/// other values (start time, zero counters) are rewritten as they are.
fn set_cpid(globals: &OwnedFd, value_size: u32, pid: u32) -> Result<(), RuntimeError> {
    let mut value = vec![0u8; value_size as usize];
    let key = 0u32.to_ne_bytes();
    sys::map_lookup(globals, &key, &mut value)
        .map_err(|e| RuntimeError::Map(format!("cannot read the globals: {e}")))?;
    value[GLOBALS_CPID as usize..][..4].copy_from_slice(&pid.to_ne_bytes());
    sys::map_update(globals, &key, &value)
        .map_err(|e| RuntimeError::Map(format!("cannot set cpid: {e}")))
}

/// Creates every map of the object (the `@maps` with BTF describing their layout, pinned or
/// reused with `--pin`), and stores the start time `elapsed` counts from.
fn create_maps(
    compiled: &Compiled,
    analysis: &Analysis,
    mut pins: Option<&mut pin::Pins>,
    err: &mut dyn Write,
) -> Result<Vec<OwnedFd>, RuntimeError> {
    let user = MAP_USER_BASE as usize;
    let script_defs = compiled
        .object
        .maps
        .get(user..user + analysis.maps.len())
        .unwrap_or(&[]);
    let btf = pin::script_maps_btf(&analysis.maps, script_defs);
    let mut fds = Vec::new();
    for (i, def) in compiled.object.maps.iter().enumerate() {
        let script = i
            .checked_sub(user)
            .and_then(|j| analysis.maps.get(j).map(|info| (j, info)));
        let map_btf = script.and_then(|(j, _)| {
            let b = btf.as_ref()?;
            let (key_type_id, value_type_id) = (*b.ids.get(j)?)?;
            Some(bpfsys::MapBtf {
                btf: &b.btf,
                key_type_id,
                value_type_id,
            })
        });
        let create = || {
            bpfsys::map_create_with_btf(
                def.map_type,
                def.key_size,
                def.value_size,
                def.max_entries,
                def.flags,
                &def.name,
                map_btf,
            )
            .map_err(|source| RuntimeError::MapCreate {
                map: def.name.clone(),
                source,
            })
        };
        let fd = match (script, pins.as_deref_mut()) {
            (Some((_, info)), Some(pins)) => pins.script_map(info, def, err, create)?,
            _ => create()?,
        };
        fds.push(fd);
    }
    for (def, fd) in compiled.object.maps.iter().zip(&fds) {
        if def.name == codegen::SYSCALL_NAMES_MAP {
            fill_syscall_names(fd)?;
        }
    }
    let globals = &fds[MAP_GLOBALS as usize];
    // The whole value: the kernel copies the map's value size from it.
    let mut value = vec![0u8; compiled.object.maps[MAP_GLOBALS as usize].value_size as usize];
    value[GLOBALS_START_NS as usize..][..8].copy_from_slice(&sys::monotonic_ns().to_ne_bytes());
    sys::map_update(globals, &0u32.to_ne_bytes(), &value)
        .map_err(|e| RuntimeError::Map(format!("cannot set the start time: {e}")))?;
    Ok(fds)
}

const BPF_PROG_TYPE_KPROBE: u32 = 2;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// Encodes a program with each map load pointing at its map's fd, and loads it; true
/// when a raw tracepoint program was loaded as `tp_btf` (see [`tp_btf`]).
fn load(
    p: &CompiledProgram,
    insns: &[Insn],
    maps: &[OwnedFd],
    license: &str,
    btf: Option<&sys::ProgBtf>,
) -> Result<(OwnedFd, bool), RuntimeError> {
    use std::os::fd::AsRawFd;
    let mut bytes = Vec::with_capacity(insns.len() * 8);
    for insn in insns {
        let at = bytes.len();
        insn.encode(&mut bytes);
        if let Insn::LdMap { map, .. } | Insn::LdMapValue { map, .. } = insn {
            let fd = maps
                .get(map.0 as usize)
                .ok_or_else(|| {
                    RuntimeError::Map(format!("program {} uses an unknown map", p.name))
                })?
                .as_raw_fd();
            bytes[at + 4..at + 8].copy_from_slice(&fd.to_le_bytes());
        }
    }
    let prog_type = match p.attach {
        Attach::Begin
        | Attach::End
        | Attach::Syscall { .. }
        | Attach::SyscallDispatcher { .. }
        | Attach::SyscallSet { .. }
        | Attach::RawTracepoint { .. } => BPF_PROG_TYPE_RAW_TRACEPOINT,
        Attach::Tracepoint { .. } => BPF_PROG_TYPE_TRACEPOINT,
        Attach::Interval { .. } | Attach::PerfEvent { .. } => BPF_PROG_TYPE_PERF_EVENT,
        // uprobe programs are kprobe programs: both run on a `struct pt_regs`.
        Attach::User(_) => BPF_PROG_TYPE_KPROBE,
    };
    if let (Attach::RawTracepoint { .. }, Some(id)) = (&p.attach, p.attach_btf_id) {
        if tp_btf::supported(id) {
            if let Ok(fd) = sys::prog_load_tp_btf(&bytes, license, &p.name, btf, id) {
                return Ok((fd, true));
            }
        }
    }
    sys::prog_load(prog_type, &bytes, license, &p.name, btf)
        .map(|fd| (fd, false))
        .map_err(|e| load_error(p, e))
}

/// Turns a load failure into the script location the verifier stopped at.
fn load_error(p: &CompiledProgram, e: sys::LoadError) -> RuntimeError {
    let lines: Vec<&str> = e
        .log
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
    log_tail.push(format!("(the kernel returned: {})", e.error));
    RuntimeError::Verifier {
        probe: p.attach.probe_name(),
        span: slot.and_then(|s| p.slot_spans.get(s).copied()),
        log_tail,
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

/// Pins a program at `DIR/progs/<name>` and its attachments at `DIR/links/<name>[_<n>]`.
fn pin_program(
    pins: &mut pin::Pins,
    l: &Loaded,
    links: &[OwnedFd],
    err: &mut dyn Write,
) -> Result<(), RuntimeError> {
    let name = &l.program.name;
    pins.pin(&l.fd, pins.dir.join("progs").join(name))?;
    for (i, link) in links.iter().enumerate() {
        let file = if links.len() == 1 {
            name.clone()
        } else {
            format!("{name}_{i}")
        };
        pins.pin(link, pins.dir.join("links").join(file))?;
    }
    if !links.is_empty() {
        let _ = writeln!(
            err,
            "beetrace: {} stays attached after exit (pinned at {}); `beetrace unpin {}` detaches it",
            l.program.attach.probe_name(),
            pins.dir.join("links").join(name).display(),
            pins.dir.display()
        );
    }
    Ok(())
}

/// Pins the maps that are not `@maps` at `DIR/internal/<name>`: attached programs use them
/// after we exit, and a program array is emptied by the kernel once nothing holds it.
fn pin_internal_maps(
    pins: &mut pin::Pins,
    compiled: &Compiled,
    script_maps: usize,
    maps: &[OwnedFd],
) -> Result<(), RuntimeError> {
    let user = MAP_USER_BASE as usize;
    let script = user..user + script_maps;
    for (i, (def, fd)) in compiled.object.maps.iter().zip(maps).enumerate() {
        if !script.contains(&i) {
            pins.pin(fd, pins.dir.join("internal").join(&def.name))?;
        }
    }
    Ok(())
}

/// What attaching user-space probes needs: the uprobe PMU (opened when a program needs
/// it) and the one process they are limited to (`-p`, or the `-c` command).
struct UserTargets {
    pmu: Option<uprobe::UprobePmu>,
    pid: Option<u32>,
}

/// The uprobe PMU, if any program attaches to user space.
fn open_uprobe_pmu(loaded: &[Loaded]) -> Result<Option<uprobe::UprobePmu>, RuntimeError> {
    let Some(first) = loaded
        .iter()
        .find(|l| matches!(l.program.attach, Attach::User(_)))
    else {
        return Ok(None);
    };
    uprobe::UprobePmu::open()
        .map(Some)
        .map_err(|e| RuntimeError::Attach {
            probe: first.program.attach.probe_name(),
            message: format!(
                "this kernel offers no uprobes (cannot read \
                 /sys/bus/event_source/devices/uprobe: {e}; it needs CONFIG_UPROBE_EVENTS)"
            ),
        })
}

/// Attaches one program; `begin`/`end` are not attached but fired. Returns the perf events
/// (or, with `as_links`, the pinnable BPF links) that keep the attachment alive. A `tp_btf`
/// program attaches to the tracepoint it was loaded for.
fn attach(
    p: &CompiledProgram,
    prog: &OwnedFd,
    as_links: bool,
    tp_btf: bool,
    user: &UserTargets,
) -> Result<Vec<OwnedFd>, RuntimeError> {
    let err = |e: io::Error| RuntimeError::Attach {
        probe: p.attach.probe_name(),
        message: e.to_string(),
    };
    match &p.attach {
        // Syscall programs run through their dispatcher's program array (see `run`).
        Attach::Begin | Attach::End | Attach::Syscall { .. } => Ok(Vec::new()),
        Attach::RawTracepoint { name } => {
            sys::attach_raw_tracepoint((!tp_btf).then_some(name.as_str()), prog)
                .map(|fd| vec![fd])
                .map_err(err)
        }
        Attach::SyscallDispatcher { enter } | Attach::SyscallSet { enter, .. } => {
            sys::attach_raw_tracepoint(Some(if *enter { "sys_enter" } else { "sys_exit" }), prog)
                .map(|fd| vec![fd])
                .map_err(err)
        }
        Attach::Tracepoint { .. } => {
            let id = p.tracepoint_id.ok_or_else(|| RuntimeError::Attach {
                probe: p.attach.probe_name(),
                message: "no tracefs id for the tracepoint".into(),
            })?;
            sys::attach_tracepoint(id, prog, as_links)
                .map(|fd| vec![fd])
                .map_err(err)
        }
        Attach::User(probe) => {
            let pmu = user
                .pmu
                .as_ref()
                .expect("opened when a program attaches to user space");
            pmu.attach(probe, user.pid, prog, as_links)
                .map(|fd| vec![fd])
                .map_err(|message| RuntimeError::Attach {
                    probe: p.attach.probe_name(),
                    message,
                })
        }
        Attach::Interval { period_ns } => sys::attach_timer(*period_ns, 0, prog, as_links)
            .map(|fd| vec![fd])
            .map_err(err),
        Attach::PerfEvent {
            perf_type,
            config,
            sample,
            ..
        } => {
            let cpus = sys::online_cpus().map_err(err)?;
            let mut fds = Vec::new();
            for cpu in cpus {
                let fd = sys::attach_perf_event(*perf_type, *config, *sample, cpu, prog, as_links)
                    .map_err(|e| RuntimeError::Attach {
                        probe: p.attach.probe_name(),
                        message: perf_event_hint(*perf_type, e),
                    })?;
                fds.push(fd);
            }
            Ok(fds)
        }
    }
}

/// Hardware counters are often missing (virtual machines): say so instead of a bare errno.
fn perf_event_hint(perf_type: u32, e: io::Error) -> String {
    if perf_type == sys::PERF_TYPE_HARDWARE && e.raw_os_error() == Some(libc::ENOENT) {
        format!("{e}: this machine exposes no such hardware counter (common in virtual machines)")
    } else {
        e.to_string()
    }
}

/// Loads the table `syscall_name()` reads: each known syscall's name at its number.
fn fill_syscall_names(map: &OwnedFd) -> Result<(), RuntimeError> {
    for (nr, name) in kernel::syscalls::all() {
        let mut value = [0u8; sema::SYSCALL_NAME_LEN as usize];
        let n = name.len().min(value.len() - 1);
        value[..n].copy_from_slice(&name.as_bytes()[..n]);
        sys::map_update(map, &nr.to_ne_bytes(), &value)
            .map_err(|e| RuntimeError::Map(format!("cannot fill the syscall name table: {e}")))?;
    }
    Ok(())
}

/// Puts each syscall program into its dispatcher's program array at the syscall's number.
fn fill_syscall_tables(loaded: &[Loaded], maps: &[OwnedFd]) -> Result<(), RuntimeError> {
    use std::os::fd::AsRawFd;
    for l in loaded {
        let Attach::Syscall { enter, nr, .. } = l.program.attach else {
            continue;
        };
        let table = loaded
            .iter()
            .find_map(|d| match d.program.attach {
                Attach::SyscallDispatcher { enter: e } if e == enter => d.program.prog_array,
                _ => None,
            })
            .ok_or_else(|| RuntimeError::Map("a syscall probe has no dispatcher".into()))?;
        let fd = l.fd.as_raw_fd() as u32;
        sys::map_update(&maps[table as usize], &nr.to_ne_bytes(), &fd.to_ne_bytes()).map_err(
            |e| RuntimeError::Attach {
                probe: l.program.attach.probe_name(),
                message: format!("cannot add it to the syscall dispatcher: {e}"),
            },
        )?;
    }
    Ok(())
}

/// Runs every `begin` (or `end`) program once, in script order.
fn fire(loaded: &[Loaded], which: &Attach) -> Result<(), RuntimeError> {
    for l in loaded.iter().filter(|l| &l.program.attach == which) {
        sys::test_run(&l.fd).map_err(|source| RuntimeError::TestRun {
            probe: l.program.attach.probe_name(),
            source,
        })?;
    }
    Ok(())
}
