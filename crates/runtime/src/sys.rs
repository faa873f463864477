//! Thin wrappers over the bpf(), perf_event_open() and signal system calls.
//!
//! beetrace loads its own objects directly instead of through a general-purpose loader: the
//! objects are simple (no CO-RE, no BTF types), and skipping a loader that parses all of
//! vmlinux BTF at start-up keeps `beetrace -e 'BEGIN { exit(); }'` at a fraction of
//! bpftrace's time and memory (see BENCHMARKS.md). Every kernel object is returned as an
//! [`OwnedFd`], so dropping it releases the object.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_BTF_LOAD: libc::c_long = 18;

/// `union bpf_attr` is a union of per-command structs; 128 bytes covers every field we set.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }

    fn u32(&mut self, offset: usize, value: u32) -> &mut Attr {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn u64(&mut self, offset: usize, value: u64) -> &mut Attr {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn bytes(&mut self, offset: usize, value: &[u8]) -> &mut Attr {
        self.0[offset..offset + value.len()].copy_from_slice(value);
        self
    }

    fn read_u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.0[offset..offset + 4].try_into().expect("4 bytes"))
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<libc::c_long> {
    // SAFETY: attr points to 128 initialised bytes, and we pass that size.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), attr.0.len()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// The kernel-visible object name: at most 15 bytes of `[A-Za-z0-9_.]`.
fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (dst, c) in out.iter_mut().zip(
        name.bytes()
            .filter(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
            .take(15),
    ) {
        *dst = c;
    }
    out
}

pub(crate) fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, map_type)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, max_entries)
        .u32(16, flags)
        .bytes(28, &object_name(name));
    bpf(BPF_MAP_CREATE, &mut attr).map(owned)
}

pub(crate) fn map_update(map: &OwnedFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_ptr() as u64)
        .u64(24, 0);
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Reads the value of `key` into `value` (sized for all CPUs of a per-CPU map). `Ok(false)`
/// when the key is absent.
pub(crate) fn map_lookup(map: &OwnedFd, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_mut_ptr() as u64);
    match bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) fn map_delete(map: &OwnedFd, key: &[u8]) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64);
    match bpf(BPF_MAP_DELETE_ELEM, &mut attr) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every key of a hash map, in the kernel's order.
pub(crate) fn map_keys(map: &OwnedFd, key_size: usize) -> io::Result<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut next = vec![0u8; key_size];
        let mut attr = Attr::new();
        attr.u32(0, map.as_raw_fd() as u32)
            .u64(8, keys.last().map_or(0, |k| k.as_ptr() as u64))
            .u64(16, next.as_mut_ptr() as u64);
        match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
            Ok(_) => keys.push(next),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(keys),
            Err(e) => return Err(e),
        }
    }
}

/// The number of possible CPUs: how many values a per-CPU map lookup returns.
pub(crate) fn possible_cpus() -> io::Result<usize> {
    Ok(cpu_list("/sys/devices/system/cpu/possible")?.len())
}

/// The online CPUs, where per-CPU perf events can be opened.
pub(crate) fn online_cpus() -> io::Result<Vec<i32>> {
    cpu_list("/sys/devices/system/cpu/online")
}

/// Parses a kernel CPU list such as `0-3,6`.
fn cpu_list(path: &str) -> io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(path)?;
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad CPU list in {path}: {text:?}"),
        )
    };
    let mut cpus = Vec::new();
    for range in text.trim().split(',').filter(|r| !r.is_empty()) {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let a: i32 = a.trim().parse().map_err(|_| bad())?;
        let b: i32 = b.trim().parse().map_err(|_| bad())?;
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// A failed `BPF_PROG_LOAD`, with the verifier's log.
pub(crate) struct LoadError {
    pub(crate) error: io::Error,
    pub(crate) log: String,
}

/// Loads BTF type information, e.g. the `FUNC` records callbacks need.
pub(crate) fn btf_load(btf: &[u8]) -> Result<OwnedFd, LoadError> {
    let load = |log: &mut [u8], level: u32| {
        let mut attr = Attr::new();
        attr.u64(0, btf.as_ptr() as u64)
            .u64(
                8,
                if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
            )
            .u32(16, btf.len() as u32)
            .u32(20, log.len() as u32)
            .u32(24, level);
        bpf(BPF_BTF_LOAD, &mut attr).map(owned)
    };
    load(&mut [], 0).or_else(|first| {
        let mut log = vec![0u8; 64 * 1024];
        load(&mut log, 1).map_err(|_| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            LoadError {
                error: first,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            }
        })
    })
}

/// The BTF a program is loaded with: the BTF object and one `(instruction, FUNC type)`
/// record per function the program consists of.
pub(crate) struct ProgBtf<'a> {
    pub(crate) btf: &'a OwnedFd,
    pub(crate) func_info: &'a [[u32; 2]],
}

/// Loads a program. The verifier log is only requested when a first attempt fails, so
/// successful loads pay nothing for it.
pub(crate) fn prog_load(
    prog_type: u32,
    insns: &[u8],
    license: &str,
    name: &str,
    btf: Option<&ProgBtf>,
) -> Result<OwnedFd, LoadError> {
    let license = CString::new(license).unwrap_or_else(|_| CString::from(c"GPL"));
    let load = |log: &mut [u8], level: u32| {
        let mut attr = Attr::new();
        attr.u32(0, prog_type)
            .u32(4, (insns.len() / 8) as u32)
            .u64(8, insns.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(24, level)
            .u32(28, log.len() as u32)
            .u64(
                32,
                if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
            )
            .bytes(48, &object_name(name));
        if let Some(b) = btf {
            attr.u32(72, b.btf.as_raw_fd() as u32)
                .u32(76, 8)
                .u64(80, b.func_info.as_ptr() as u64)
                .u32(88, b.func_info.len() as u32);
        }
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    };
    match load(&mut [], 0) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; 1 << 20];
            match load(&mut log, 1) {
                Ok(fd) => Ok(fd),
                Err(error) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let log = String::from_utf8_lossy(&log[..end]).into_owned();
                    let error = if log.is_empty() { first } else { error };
                    Err(LoadError { error, log })
                }
            }
        }
    }
}

/// Runs a raw tracepoint program once, on this CPU, in this process: how `begin` and `end`
/// probes fire (their `pid` and `comm` are beetrace's own, as in bpftrace).
pub(crate) fn test_run(prog: &OwnedFd) -> io::Result<u32> {
    let mut attr = Attr::new();
    attr.u32(0, prog.as_raw_fd() as u32);
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok(attr.read_u32(4))
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
    // SAFETY: attr is a valid perf_event_attr of the size recorded in it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            -1 as libc::pid_t,
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

/// Runs `prog` on every hit of the perf event; the attachment lives as long as the fd.
fn attach_to_perf_event(event: OwnedFd, prog: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: ioctls on a perf event fd we own, with an int argument.
    unsafe {
        if libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()) < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(event)
}

/// Attaches a tracepoint program by the tracepoint's tracefs id. One event on CPU 0 is
/// enough: the program runs for hits on every CPU.
pub(crate) fn attach_tracepoint(id: u32, prog: &OwnedFd) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id as u64,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    attach_to_perf_event(perf_event_open(&attr, 0)?, prog)
}

/// Attaches a raw tracepoint program to tracepoint `name`; detached when the fd closes.
pub(crate) fn attach_raw_tracepoint(name: &str, prog: &OwnedFd) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = Attr::new();
    attr.u64(0, name.as_ptr() as u64)
        .u32(8, prog.as_raw_fd() as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr).map(owned)
}

/// A CPU-clock timer on `cpu` firing every `period_ns`, running `prog`.
pub(crate) fn attach_timer(period_ns: u64, cpu: i32, prog: &OwnedFd) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_CPU_CLOCK,
        sample_period: period_ns,
        ..Default::default()
    };
    attach_to_perf_event(perf_event_open(&attr, cpu)?, prog)
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
    attach_to_perf_event(perf_event_open(&attr, cpu)?, prog)
}

/// The last termination signal received (0 = none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Installs SIGINT/SIGTERM handlers that only record the signal. No `SA_RESTART`, so a
/// blocking `poll` returns `EINTR` and the event loop notices at once.
pub(crate) fn catch_termination() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
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

/// The current local time formatted by strftime(3) with `format`.
pub(crate) fn local_time(format: &[u8]) -> Vec<u8> {
    let Ok(format) = CString::new(format.to_vec()) else {
        return Vec::new();
    };
    // SAFETY: time/localtime_r/strftime with valid pointers and the buffer's real size.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        let mut buf = vec![0u8; 512];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            format.as_ptr(),
            &tm,
        );
        buf.truncate(n);
        buf
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
