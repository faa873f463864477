//! Watching a loaded object run: `bpf_trace_printk` lines, ring-buffer and perf-buffer
//! records as they come, until Ctrl-C, SIGTERM or the `--duration` deadline. One `poll` over
//! the trace pipe, every ring buffer, every per-CPU perf buffer and a signalfd; nothing is
//! printed here, events go to the caller.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use aya::maps::perf::{PerfEvent, PerfEventArray, PerfEventArrayBuffer};
use aya::maps::{Map, MapData, RingBuf};
use aya::Ebpf;
use kernel::trace_pipe::{PrintkLine, PrintkPipe};
use output::value::Value;

use crate::{LoadError, Loaded};

/// Ring-buffer records read per loop iteration before signals and the deadline are checked.
const MAX_RECORDS_PER_WAKEUP: usize = 4096;

/// Pages of each per-CPU perf buffer (a power of two).
const PERF_PAGES: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub duration: Option<Duration>,
    /// `--record MAP=TYPE`: decode the records of ring buffer or perf buffer MAP as BTF type
    /// TYPE (`struct event` or `event`); other records print as bytes (perf-buffer records
    /// with the kernel's padding to 8 bytes).
    pub record_types: Vec<(String, String)>,
}

/// Something that happened while watching.
#[derive(Debug, Clone)]
pub enum Event {
    Printk(PrintkLine),
    Record {
        map: String,
        value: Value,
    },
    /// The kernel dropped `count` perf-buffer records of `map` (the buffer was full).
    Lost {
        map: String,
        count: u64,
    },
}

/// Why watching stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT or SIGTERM (the number).
    Signal(i32),
    /// `--duration` elapsed.
    Duration,
    /// The command given to watch (`-c`) exited with this status.
    Command(std::process::ExitStatus),
}

/// Watches until a signal, the deadline or the exit of `command` (started by the caller once
/// the programs are attached). SIGINT and SIGTERM are blocked from the call on, so they end
/// the loop instead of the process (and everything is detached by the caller).
pub fn watch(
    loaded: &mut Loaded,
    mut printk: Option<&mut PrintkPipe>,
    opts: &WatchOptions,
    mut command: Option<&mut std::process::Child>,
    on_event: &mut dyn FnMut(Event) -> io::Result<()>,
) -> Result<Stop, LoadError> {
    let signals = SignalFd::new().map_err(|e| LoadError::Option(format!("signalfd: {e}")))?;

    let ring_types = (loaded.streams.rings.iter())
        .map(|(name, _)| record_type(loaded, name, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let perf_types = (loaded.streams.perfs.iter())
        .map(|(name, _)| record_type(loaded, name, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let btf = loaded.scan.btf.as_ref();
    let Streams { rings, perfs } = &mut loaded.streams;

    let deadline = opts.duration.map(|d| Instant::now() + d);
    let emit_io = LoadError::Output;
    loop {
        let mut fds = vec![libc::pollfd {
            fd: signals.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(fd) = printk.as_deref().and_then(PrintkPipe::fd) {
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        for (_, ring) in rings.iter() {
            fds.push(libc::pollfd {
                fd: ring.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        for (_, buffer) in perfs.iter() {
            fds.push(libc::pollfd {
                fd: buffer.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // trace_pipe's poll is not reliable on every kernel; wake up often enough anyway.
        let mut timeout_ms: i32 = 200;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            timeout_ms = timeout_ms.min(left.as_millis() as i32);
        }
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(LoadError::Option(format!("poll: {e}")));
            }
        }
        if let Some(p) = printk.as_deref_mut() {
            for line in p
                .read_lines()
                .map_err(|e| LoadError::Option(format!("trace_pipe: {e}")))?
            {
                on_event(Event::Printk(line)).map_err(emit_io)?;
            }
        }
        for ((name, ring), ty) in rings.iter_mut().zip(&ring_types) {
            // Bounded, so a flood of records cannot keep the loop from seeing a signal.
            for _ in 0..MAX_RECORDS_PER_WAKEUP {
                let Some(item) = ring.next() else { break };
                let value = match (*ty, btf) {
                    (Some(t), Some(b)) => b.decode(t, &item),
                    _ => Value::Bytes(item.to_vec()),
                };
                drop(item);
                on_event(Event::Record {
                    map: name.clone(),
                    value,
                })
                .map_err(emit_io)?;
            }
        }
        for ((name, buffer), ty) in perfs.iter_mut().zip(&perf_types) {
            let mut events = Vec::new();
            buffer.for_each(|e| match e {
                PerfEvent::Sample { head, tail } => {
                    let bytes = [head, tail].concat();
                    let value = match (*ty, btf) {
                        (Some(t), Some(b)) => b.decode(t, &bytes),
                        _ => Value::Bytes(bytes),
                    };
                    events.push(Event::Record {
                        map: name.clone(),
                        value,
                    });
                }
                PerfEvent::Lost { count } => events.push(Event::Lost {
                    map: name.clone(),
                    count,
                }),
            });
            for e in events {
                on_event(e).map_err(emit_io)?;
            }
        }
        let stop = if let Some(sig) = signals.read() {
            Some(Stop::Signal(sig))
        } else if let Some(status) = command
            .as_deref_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            Some(Stop::Command(status))
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Stop::Duration)
        } else {
            None
        };
        if let Some(stop) = stop {
            // A last read: the trace buffer hands lines over with a small delay, and lines
            // printed just before the end belong to the run.
            if let Some(p) = printk.as_deref_mut() {
                std::thread::sleep(Duration::from_millis(50));
                for line in p.read_lines().unwrap_or_default() {
                    on_event(Event::Printk(line)).map_err(emit_io)?;
                }
            }
            return Ok(stop);
        }
    }
}

/// The object's ring buffers and per-CPU perf buffers. Opened before any program is attached:
/// a record sent to a perf-event-array slot nobody has opened yet is dropped.
pub(crate) struct Streams {
    rings: Vec<(String, RingBuf<MapData>)>,
    perfs: Vec<(String, PerfEventArrayBuffer<MapData>)>,
}

impl Streams {
    fn names(&self) -> impl Iterator<Item = &str> {
        (self.rings.iter().map(|(n, _)| n.as_str()))
            .chain(self.perfs.iter().map(|(n, _)| n.as_str()))
    }
}

pub(crate) fn open_streams(ebpf: &mut Ebpf) -> Result<Streams, LoadError> {
    let mut rings = Vec::new();
    for (name, map) in take_maps(ebpf, |m| matches!(m, Map::RingBuf(_))) {
        let ring = RingBuf::try_from(map)
            .map_err(|e| LoadError::Option(format!("ring buffer {name}: {e}")))?;
        rings.push((name, ring));
    }
    let mut perfs = Vec::new();
    for (name, map) in take_maps(ebpf, |m| matches!(m, Map::PerfEventArray(_))) {
        let mut array = PerfEventArray::try_from(map)
            .map_err(|e| LoadError::Option(format!("perf buffer {name}: {e}")))?;
        let cpus = aya::util::online_cpus()
            .map_err(|(path, e)| LoadError::Option(format!("cannot read {path}: {e}")))?;
        for cpu in cpus {
            let buffer = array
                .open(cpu, Some(PERF_PAGES))
                .map_err(|e| LoadError::Option(format!("perf buffer {name}, CPU {cpu}: {e}")))?;
            perfs.push((name.clone(), buffer));
        }
    }
    Ok(Streams { rings, perfs })
}

/// Takes the maps `which` selects out of the object (the stream readers own them from then on;
/// the programs keep their own references).
fn take_maps(ebpf: &mut Ebpf, which: impl Fn(&Map) -> bool) -> Vec<(String, Map)> {
    let names: Vec<String> = ebpf
        .maps()
        .filter(|(_, m)| which(m))
        .map(|(n, _)| n.to_string())
        .collect();
    names
        .into_iter()
        .filter_map(|n| ebpf.take_map(&n).map(|m| (n, m)))
        .collect()
}

/// Checks `--record MAP=TYPE` options before anything runs: every MAP a ring buffer of the
/// object, every TYPE in its BTF.
pub fn check_record_types(loaded: &Loaded, records: &[(String, String)]) -> Result<(), LoadError> {
    let opts = WatchOptions {
        duration: None,
        record_types: records.to_vec(),
    };
    for (map, _) in records {
        if !loaded.streams.names().any(|n| n == map) {
            return Err(LoadError::Option(format!(
                "--record {map}=...: the object has no ring buffer or perf buffer named '{map}'"
            )));
        }
        record_type(loaded, map, &opts)?;
    }
    Ok(())
}

fn record_type(loaded: &Loaded, map: &str, opts: &WatchOptions) -> Result<Option<u32>, LoadError> {
    let Some((_, ty)) = opts.record_types.iter().find(|(m, _)| m == map) else {
        return Ok(None);
    };
    let btf =
        loaded.scan.btf.as_ref().ok_or_else(|| {
            LoadError::Option(format!("--record {map}={ty}: the object has no BTF"))
        })?;
    btf.named_type(ty).map(Some).ok_or_else(|| {
        LoadError::Option(format!(
            "--record {map}={ty}: no type '{ty}' in the object's BTF"
        ))
    })
}

/// SIGINT and SIGTERM as a readable descriptor. The signals stay blocked afterwards, so a
/// second Ctrl-C cannot cut the teardown and the final map dump short.
struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    fn new() -> io::Result<SignalFd> {
        // SAFETY: plain libc calls on local, initialised sigset_t values.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The pending signal, if any.
    fn read(&self) -> Option<i32> {
        let mut info = [0u8; 128]; // sizeof(struct signalfd_siginfo)
                                   // SAFETY: reading into a buffer of the size the kernel writes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
        (n == 128).then(|| i32::from_ne_bytes([info[0], info[1], info[2], info[3]]))
    }
}
