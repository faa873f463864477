//! Loading each program into the kernel and attaching it where its section says. Loading
//! failures stop the run (a verifier rejection names the program and shows the log's tail);
//! attach failures do not: the program is reported [`ProgramState::Failed`] with the reason
//! (what this kernel lacks) and the others keep running.

use std::path::Path;

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy};
use aya::programs::uprobe::{UProbeAttachLocation, UProbeScope};
use aya::programs::{Program, ProgramError};
use aya::{Btf, Ebpf};

use crate::cgroup::{self, CgroupTarget, ProgAttachment};
use crate::scan::ProgramSym;
use crate::section::AttachPoint;
use crate::{chain, LoadError, ProgramState};

/// How many verifier log lines an error shows: enough for the failing instruction, the
/// register state before it and the kernel's complaint.
const VERIFIER_TAIL: usize = 12;

/// The helper number a loader puts in place of an unresolvable CO-RE relocation.
const CORE_POISON: u32 = 0xbad2310;

/// `--perf-event TYPE:EVENT[:PERIOD|:freq=HZ]`: the event `perf_event` programs attach to,
/// one per online CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfEventSpec {
    pub perf_type: u32,
    pub config: u64,
    pub sample: Sample,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Period(u64),
    Frequency(u64),
}

impl std::str::FromStr for PerfEventSpec {
    type Err = String;

    /// `software:cpu-clock`, `sw:page-faults:100`, `hardware:cycles:freq=99`: the names of
    /// bpftrace's `software:`/`hardware:` probes.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let kind = parts.next().unwrap_or_default();
        let event = parts.next().ok_or_else(|| {
            format!("--perf-event '{s}': expected TYPE:EVENT[:PERIOD|:freq=HZ], e.g. software:cpu-clock:freq=99")
        })?;
        let (perf_type, table) = match kind {
            "software" | "sw" => (
                kernel::perf_events::PERF_TYPE_SOFTWARE,
                kernel::perf_events::SOFTWARE,
            ),
            "hardware" | "hw" => (
                kernel::perf_events::PERF_TYPE_HARDWARE,
                kernel::perf_events::HARDWARE,
            ),
            _ => {
                return Err(format!(
                    "--perf-event '{s}': type must be software or hardware"
                ))
            }
        };
        let found = kernel::perf_events::find(table, event)
            .ok_or_else(|| format!("--perf-event '{s}': unknown {kind} event '{event}'"))?;
        let sample = match parts.next() {
            None => Sample::Period(found.default_period),
            Some(f) => match f.strip_prefix("freq=") {
                Some(hz) => Sample::Frequency(
                    hz.parse()
                        .map_err(|_| format!("--perf-event '{s}': bad frequency '{hz}'"))?,
                ),
                None => Sample::Period(
                    f.parse()
                        .map_err(|_| format!("--perf-event '{s}': bad period '{f}'"))?,
                ),
            },
        };
        Ok(PerfEventSpec {
            perf_type,
            config: found.config,
            sample,
            text: s.to_string(),
        })
    }
}

/// Loads program `p` into the kernel.
pub(crate) fn load_program(
    ebpf: &mut Ebpf,
    p: &ProgramSym,
    point: &AttachPoint,
    kernel_btf: Option<&Btf>,
) -> Result<(), LoadError> {
    let Some(prog) = ebpf.program_mut(&p.name) else {
        return Ok(());
    };
    let need_btf = |what: &str| {
        kernel_btf.ok_or_else(|| LoadError::Program {
            program: p.name.clone(),
            reason: format!(
                "{what} needs the kernel's BTF (/sys/kernel/btf/vmlinux), which is missing"
            ),
        })
    };
    let result = match (prog, point) {
        (Program::TracePoint(x), _) => x.load(),
        (Program::RawTracePoint(x), _) => x.load(),
        (Program::UProbe(x), _) => x.load(),
        (Program::KProbe(x), _) => x.load(),
        (Program::PerfEvent(x), _) => x.load(),
        (Program::CgroupSockAddr(x), _) => x.load(),
        (Program::CgroupSock(x), _) => x.load(),
        (Program::CgroupSockopt(x), _) => x.load(),
        (Program::CgroupSkb(x), _) => x.load(),
        (Program::SockOps(x), _) => x.load(),
        (Program::BtfTracePoint(x), AttachPoint::BtfTracepoint { name }) => {
            x.load(name, need_btf("tp_btf")?)
        }
        (Program::FEntry(x), AttachPoint::Fentry { func, .. }) => x.load(func, need_btf("fentry")?),
        (Program::FExit(x), AttachPoint::Fentry { func, .. }) => x.load(func, need_btf("fexit")?),
        (Program::BtfTracePoint(_) | Program::FEntry(_) | Program::FExit(_), _) => {
            return Err(LoadError::Program {
                program: p.name.clone(),
                reason: format!(
                    "section '{}' does not name its target, which the kernel needs at load time",
                    p.section
                ),
            })
        }
        (other, _) => {
            return Err(LoadError::Program {
                program: p.name.clone(),
                reason: format!(
                    "programs of type {:?} are not supported by beetrace run",
                    other.prog_type()
                ),
            })
        }
    };
    result.map_err(|e| load_error(p, e))
}

/// Whether a load failure means "this kernel cannot do that kind of program" rather than a
/// broken program: fentry/fexit loads that the kernel refuses without a verifier log (EPERM
/// here), kprobe loads without a log. Returns the reason to report.
pub(crate) fn refusal(point: &AttachPoint, e: &LoadError) -> Option<String> {
    let LoadError::Verifier {
        errno, log_tail, ..
    } = e
    else {
        return None;
    };
    if !log_tail.is_empty() {
        return None;
    }
    match point {
        AttachPoint::Fentry { exit, func } => Some(format!(
            "{} attach failed: the kernel refused to load a program for {func} ({errno}); \
             this kernel does not allow fentry/fexit programs",
            if *exit { "fexit" } else { "fentry" }
        )),
        AttachPoint::Kprobe { .. } if !kprobes_available() => Some(format!(
            "this kernel has no kprobes (built without CONFIG_KPROBES); loading failed: {errno}"
        )),
        _ => None,
    }
}

fn load_error(p: &ProgramSym, e: ProgramError) -> LoadError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let mut lines: Vec<String> = log
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            // The statistics the verifier appends would push the complaint out of the tail.
            while lines.last().is_some_and(|l| {
                ["verification time", "stack depth", "processed "]
                    .iter()
                    .any(|p| l.starts_with(p))
            }) {
                lines.pop();
            }
            let start = lines.len().saturating_sub(VERIFIER_TAIL);
            // aya, like libbpf, turns a CO-RE relocation it cannot resolve into a call to the
            // invalid helper 0xbad2310, which the verifier then rejects.
            let hint = log.contains(&format!("unknown#{CORE_POISON}")).then(|| {
                "hint: the call to helper 195896080 (0xbad2310) is a CO-RE relocation that \
                 failed: a field or type the program reads (near the last source line shown) \
                 does not exist in this kernel's BTF"
                    .to_string()
            });
            LoadError::Verifier {
                program: p.name.clone(),
                section: p.section.clone(),
                errno: io_error.to_string(),
                log_tail: lines[start..].to_vec(),
                hint,
            }
        }
        other => LoadError::Program {
            program: p.name.clone(),
            reason: format!("cannot load: {}", chain(&other)),
        },
    }
}

/// Where programs attach besides their section: `--perf-event` and `--cgroup`.
pub(crate) struct Targets<'a> {
    pub perf_event: Option<&'a PerfEventSpec>,
    pub cgroup: Option<&'a CgroupTarget>,
}

/// Attaches program `p` at `point`; the state says where, or why not. A `BPF_PROG_ATTACH`
/// attachment to a cgroup (`--cgroup-flags`) goes to `kept`, to be detached at exit.
pub(crate) fn attach(
    ebpf: &mut Ebpf,
    p: &ProgramSym,
    point: &AttachPoint,
    targets: &Targets<'_>,
    kept: &mut Vec<ProgAttachment>,
) -> ProgramState {
    let Some(prog) = ebpf.program_mut(&p.name) else {
        return ProgramState::NotAttached("not a loadable program".into());
    };
    let failed = |e: ProgramError| ProgramState::Failed(chain(&e));
    let perf_event = targets.perf_event;
    match (prog, point) {
        (prog, AttachPoint::Cgroup { hook, attach_type }) => {
            let Some(target) = targets.cgroup else {
                // `load` refuses this before loading anything.
                return ProgramState::NotAttached("no --cgroup given".into());
            };
            match cgroup::attach(prog, hook, *attach_type, target) {
                Ok((at, attachment)) => {
                    kept.extend(attachment);
                    ProgramState::Attached(at)
                }
                Err(e) => ProgramState::Failed(e),
            }
        }
        (_, AttachPoint::Manual) => ProgramState::NotAttached(format!(
            "section '{}' names no attach point; loaded only",
            p.section
        )),
        (Program::TracePoint(x), AttachPoint::Tracepoint { category, name }) => {
            match x.attach(category, name) {
                Ok(_) => ProgramState::Attached(format!("tracepoint {category}:{name}")),
                Err(e) if !tracepoint_exists(category, name) => ProgramState::Failed(format!(
                    "no tracepoint {category}:{name} on this kernel ({})",
                    chain(&e)
                )),
                Err(e) => failed(e),
            }
        }
        (Program::RawTracePoint(x), AttachPoint::RawTracepoint { name }) => match x.attach(name) {
            Ok(_) => ProgramState::Attached(format!("raw tracepoint {name}")),
            Err(e) => failed(e),
        },
        (Program::BtfTracePoint(x), AttachPoint::BtfTracepoint { name }) => match x.attach() {
            Ok(_) => ProgramState::Attached(format!("BTF tracepoint {name}")),
            Err(e) => failed(e),
        },
        (
            Program::UProbe(x),
            AttachPoint::Uprobe {
                ret,
                path,
                func,
                offset,
            },
        ) => {
            let location = if func.is_empty() {
                UProbeAttachLocation::AbsoluteOffset(*offset)
            } else {
                UProbeAttachLocation::SymbolOffset(func, *offset)
            };
            match x.attach(location, Path::new(path), UProbeScope::AllProcesses) {
                Ok(_) => ProgramState::Attached(format!(
                    "{} {path}:{func}{}",
                    if *ret { "uretprobe" } else { "uprobe" },
                    if *offset != 0 {
                        format!("+{offset:#x}")
                    } else {
                        String::new()
                    }
                )),
                Err(e) => failed(e),
            }
        }
        (Program::KProbe(x), AttachPoint::Kprobe { ret, func, offset }) => {
            if !kprobes_available() {
                return ProgramState::Failed(
                    "this kernel has no kprobes (built without CONFIG_KPROBES: no kprobe PMU in \
                     /sys/bus/event_source/devices, no kprobe_events in tracefs)"
                        .into(),
                );
            }
            match x.attach(func, *offset) {
                Ok(_) => ProgramState::Attached(format!(
                    "{} {func}",
                    if *ret { "kretprobe" } else { "kprobe" }
                )),
                Err(e) => failed(e),
            }
        }
        (Program::FEntry(x), AttachPoint::Fentry { func, .. }) => match x.attach() {
            Ok(_) => ProgramState::Attached(format!("fentry {func}")),
            Err(e) => ProgramState::Failed(format!("fentry attach failed: {}", chain(&e))),
        },
        (Program::FExit(x), AttachPoint::Fentry { func, .. }) => match x.attach() {
            Ok(_) => ProgramState::Attached(format!("fexit {func}")),
            Err(e) => ProgramState::Failed(format!("fexit attach failed: {}", chain(&e))),
        },
        (Program::PerfEvent(x), AttachPoint::PerfEvent) => {
            let Some(spec) = perf_event else {
                return ProgramState::NotAttached(
                    "perf_event programs attach to the event given with --perf-event".into(),
                );
            };
            let cpus = match aya::util::online_cpus() {
                Ok(c) => c,
                Err((path, e)) => return ProgramState::Failed(format!("cannot read {path}: {e}")),
            };
            for cpu in cpus {
                let sample = match spec.sample {
                    Sample::Period(n) => SamplePolicy::Period(n),
                    Sample::Frequency(n) => SamplePolicy::Frequency(n),
                };
                let config = PerfEventConfig::Pmu {
                    pmu_type: spec.perf_type,
                    config: spec.config,
                };
                if let Err(e) = x.attach(
                    config,
                    PerfEventScope::AllProcessesOneCpu { cpu },
                    sample,
                    false,
                ) {
                    let hint = if spec.perf_type == kernel::perf_events::PERF_TYPE_HARDWARE {
                        " (no hardware counters here? virtual machines often have none)"
                    } else {
                        ""
                    };
                    return ProgramState::Failed(format!(
                        "perf event {} on CPU {cpu}: {}{hint}",
                        spec.text,
                        chain(&e)
                    ));
                }
            }
            ProgramState::Attached(format!("perf event {} on every CPU", spec.text))
        }
        (other, _) => ProgramState::Failed(format!(
            "section '{}' and program type {:?} do not agree",
            p.section,
            other.prog_type()
        )),
    }
}

/// Kprobes exist when the kernel has the kprobe PMU or the tracefs `kprobe_events` file.
fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || kernel::Tracefs::open().is_ok_and(|t| t.root().join("kprobe_events").exists())
}

fn tracepoint_exists(category: &str, name: &str) -> bool {
    kernel::Tracefs::open().is_ok_and(|t| t.format_path(category, name).exists())
}
