//! `bpf_trace_printk` output, read through a tracefs instance of our own.
//!
//! The kernel turns every `bpf_trace_printk` call into a `bpf_trace:bpf_trace_printk` event.
//! Reading the global `trace_pipe` would steal lines from anyone else reading it (another
//! tracer, a parallel test), so we make an instance (`instances/beetrace-<pid>`), enable only
//! that event there and read the instance's own `trace_pipe`. The event does not say which
//! program printed, so lines of other BPF programs printing at the same time show up too.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::Tracefs;

/// The prefix of instances we create; stale ones (their process is gone) are removed.
const PREFIX: &str = "beetrace-";

/// A private tracefs instance with `bpf_trace_printk` enabled; removed on drop.
#[derive(Debug)]
pub struct PrintkPipe {
    dir: PathBuf,
    /// `None` only during drop: the instance cannot be removed while its pipe is open.
    pipe: Option<File>,
    partial: Vec<u8>,
}

/// One `bpf_trace_printk` line.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintkLine {
    pub comm: String,
    pub pid: u32,
    pub cpu: u32,
    /// Seconds since boot (the trace clock).
    pub time: f64,
    pub message: String,
}

impl PrintkPipe {
    /// Creates the instance and opens its `trace_pipe` non-blocking.
    pub fn open(tracefs: &Tracefs) -> io::Result<PrintkPipe> {
        let instances = tracefs.root().join("instances");
        remove_stale(&instances);
        let dir = instances.join(format!("{PREFIX}{}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(with_path(e, &dir)),
        }
        let enable = dir.join("events/bpf_trace/bpf_trace_printk/enable");
        if let Err(e) = fs::write(&enable, "1") {
            let _ = fs::remove_dir(&dir);
            return Err(with_path(e, &enable));
        }
        let pipe_path = dir.join("trace_pipe");
        let pipe = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&pipe_path)
        {
            Ok(p) => p,
            Err(e) => {
                let _ = fs::write(&enable, "0");
                let _ = fs::remove_dir(&dir);
                return Err(with_path(e, &pipe_path));
            }
        };
        Ok(PrintkPipe {
            dir,
            pipe: Some(pipe),
            partial: Vec::new(),
        })
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }

    /// Every complete line available now (never blocks).
    pub fn read_lines(&mut self) -> io::Result<Vec<PrintkLine>> {
        let mut buf = [0u8; 16384];
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(Vec::new());
        };
        // At most this much per call, so a flood of lines cannot keep the caller from its
        // other duties (signals, deadlines).
        for _ in 0..64 {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.partial.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .filter_map(parse_line)
            .collect())
    }
}

impl Drop for PrintkPipe {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let _ = fs::write(
            self.dir.join("events/bpf_trace/bpf_trace_printk/enable"),
            "0",
        );
        let _ = fs::remove_dir(&self.dir);
    }
}

fn with_path(e: io::Error, path: &std::path::Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Removes `beetrace-<pid>` instances whose process no longer exists (left by a SIGKILL).
fn remove_stale(instances: &std::path::Path) {
    let Ok(entries) = fs::read_dir(instances) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !PathBuf::from(format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

/// Parses `  comm-123  [001] d..3.  45.678901: bpf_trace_printk: message`. The comm may
/// contain spaces and dashes; the pid is what follows its last dash before ` [`.
pub fn parse_line(line: &str) -> Option<PrintkLine> {
    let (head, rest) = line.split_once(" [")?;
    let head = head.trim_start();
    let (comm, pid) = head.rsplit_once('-')?;
    let (cpu, rest) = rest.split_once(']')?;
    let (time, message) = rest.split_once(": ")?;
    let time = time.split_whitespace().last()?;
    let message = message
        .strip_prefix("bpf_trace_printk: ")
        .unwrap_or(message);
    Some(PrintkLine {
        comm: comm.to_string(),
        pid: pid.trim().parse().ok()?,
        cpu: cpu.trim().parse().ok()?,
        time: time.parse().ok()?,
        message: message.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_pipe_lines() {
        let l = parse_line(
            "     tmux: server-512     [001] ...21  1234.567890: bpf_trace_printk: fchmodat /tmp/x 420",
        )
        .expect("parses");
        assert_eq!(l.comm, "tmux: server");
        assert_eq!(l.pid, 512);
        assert_eq!(l.cpu, 1);
        assert_eq!(l.time, 1234.56789);
        assert_eq!(l.message, "fchmodat /tmp/x 420");
        assert_eq!(parse_line("garbage"), None);
    }
}
