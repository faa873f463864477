//! Thin wrappers over the perf_event_open(), signal and clock system calls; the bpf() ones
//! live in the `bpfsys` crate and are re-exported here. Every kernel object is returned as an
//! [`OwnedFd`], so dropping it releases the object.

pub(crate) use bpfsys::{
    attach_raw_tracepoint, btf_load, map_delete, map_keys, map_lookup, map_update, online_cpus,
    possible_cpus, prog_load, prog_load_tp_btf, test_run, LoadError, ProgBtf,
};

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

pub(crate) const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// `struct perf_event_attr`, the fields we use (the kernel accepts a zero-padded prefix).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    _reserved: u16,
}

fn perf_event_open(attr: &PerfEventAttr, cpu: i32) -> io::Result<OwnedFd> {
    perf_event_open_for(attr, -1, cpu)
}

/// perf_event_open() for process `pid` (-1: every process) on `cpu` (-1: any).
fn perf_event_open_for(attr: &PerfEventAttr, pid: libc::pid_t, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: attr is a valid perf_event_attr of the size recorded in it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            pid,
            cpu,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd))
}

/// Runs `prog` on every hit of the perf event; the attachment lives as long as the returned
/// fd: the event itself, or with `as_link` a BPF link holding it, which can be pinned.
fn attach_to_perf_event(event: OwnedFd, prog: &OwnedFd, as_link: bool) -> io::Result<OwnedFd> {
    let link = if as_link {
        Some(bpfsys::obj::link_perf_event(prog, &event)?)
    } else {
        // SAFETY: an ioctl on a perf event fd we own, with an int argument.
        if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        None
    };
    // SAFETY: an ioctl on a perf event fd we own, without argument.
    if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(link.unwrap_or(event))
}

/// Attaches a tracepoint program by the tracepoint's tracefs id. One event on CPU 0 is
/// enough: the program runs for hits on every CPU.
pub(crate) fn attach_tracepoint(id: u32, prog: &OwnedFd, as_link: bool) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id as u64,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    attach_to_perf_event(perf_event_open(&attr, 0)?, prog, as_link)
}

/// Attaches a uprobe program to the instruction at file `offset` of `path`, through the
/// uprobe PMU (`pmu_type`, with `config` carrying the return-probe bit and the semaphore
/// offset). With `pid`, only that process's hits run the program; without, one event on
/// CPU 0 serves every process, as for tracepoints.
pub(crate) fn attach_uprobe(
    pmu_type: u32,
    config: u64,
    path: &std::ffi::CStr,
    offset: u64,
    pid: Option<u32>,
    prog: &OwnedFd,
    as_link: bool,
) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: pmu_type,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        sample_period: 1,
        wakeup_events: 1,
        config1: path.as_ptr() as u64,
        config2: offset,
        ..Default::default()
    };
    let event = match pid {
        Some(pid) => perf_event_open_for(&attr, pid as libc::pid_t, -1)?,
        None => perf_event_open(&attr, 0)?,
    };
    attach_to_perf_event(event, prog, as_link)
}

/// A CPU-clock timer on `cpu` firing every `period_ns`, running `prog`.
pub(crate) fn attach_timer(
    period_ns: u64,
    cpu: i32,
    prog: &OwnedFd,
    as_link: bool,
) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_CPU_CLOCK,
        sample_period: period_ns,
        ..Default::default()
    };
    attach_to_perf_event(perf_event_open(&attr, cpu)?, prog, as_link)
}

/// Bit of `perf_event_attr.flags`: `sample_period` holds a frequency.
const PERF_ATTR_FLAG_FREQ: u64 = 1 << 10;

/// A software or hardware perf event on `cpu` running `prog` at the given sampling.
pub(crate) fn attach_perf_event(
    perf_type: u32,
    config: u64,
    sample: sema::hir::Sample,
    cpu: i32,
    prog: &OwnedFd,
    as_link: bool,
) -> io::Result<OwnedFd> {
    let (period, flags) = match sample {
        sema::hir::Sample::Period(n) => (n, 0),
        sema::hir::Sample::Frequency(n) => (n, PERF_ATTR_FLAG_FREQ),
    };
    let attr = PerfEventAttr {
        kind: perf_type,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        sample_period: period,
        flags,
        ..Default::default()
    };
    attach_to_perf_event(perf_event_open(&attr, cpu)?, prog, as_link)
}

/// `PERF_COUNT_SW_DUMMY`: a software event that never counts, for side-band records.
const PERF_COUNT_SW_DUMMY: u64 = 9;
/// `perf_event_attr` flag bits: `mmap`, `comm`, `task`, `sample_id_all`, `mmap2`,
/// `comm_exec`.
const PERF_ATTR_FLAGS_MMAP_TRACKING: u64 = 1 << 8 | 1 << 9 | 1 << 13 | 1 << 18 | 1 << 23 | 1 << 24;
/// `PERF_SAMPLE_TIME`: with `sample_id_all`, every record ends with its time.
const PERF_SAMPLE_TIME: u64 = 1 << 2;

/// A dummy event on `cpu` for every process (pid -1) that only reports side-band records:
/// executable mappings (`PERF_RECORD_MMAP2`), exec (`PERF_RECORD_COMM` with the exec bit)
/// and fork/exit, each ending with its time stamp (records of different CPUs must be put
/// back in order). perf itself learns process layouts this way, as they happen.
pub(crate) fn open_mmap_tracking(cpu: i32) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_DUMMY,
        sample_type: PERF_SAMPLE_TIME,
        flags: PERF_ATTR_FLAGS_MMAP_TRACKING,
        ..Default::default()
    };
    perf_event_open(&attr, cpu)
}

/// The last termination signal received (0 = none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// A SIGHUP arrived and nobody has taken it yet (`beetrace serve` reloads on it).
static HANGUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        HANGUP.store(true, Ordering::SeqCst);
    } else {
        SIGNAL.store(sig, Ordering::SeqCst);
    }
}

/// Installs handlers for `signals` that only record them. No `SA_RESTART`, so a blocking
/// `poll` returns `EINTR` and the event loop notices at once.
fn catch(signals: &[libc::c_int]) {
    for &sig in signals {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// SIGINT and SIGTERM end the run.
pub(crate) fn catch_termination() {
    catch(&[libc::SIGINT, libc::SIGTERM]);
}

/// SIGHUP is recorded instead of ending the process.
pub(crate) fn catch_hangup() {
    catch(&[libc::SIGHUP]);
}

/// Whether a SIGHUP arrived since the last call.
pub(crate) fn take_hangup() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}

/// The termination signal received so far, if any.
pub(crate) fn termination_signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Waits until `fd` is readable or `timeout_ms` passes or a signal arrives.
pub(crate) fn wait_readable(fd: RawFd, timeout_ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe {
        libc::poll(&mut pfd, 1, timeout_ms);
    }
}

/// Whether process `pid` still runs: it exists and is not a zombie waiting to be reaped.
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may contain any
        // character, so look after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns` reads.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec pointer.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
