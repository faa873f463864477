//! `-c CMD`: the command is forked before anything is attached and held just before
//! `exec` until every probe is in place, so its pid (`cpid`) is known to the probes
//! before it runs, and uprobes on its own binary see it from its first instruction
//! (bpftrace does the same).
//!
//! The child blocks reading a pipe; [`PausedChild::release`] writes the go byte. If
//! beetrace fails or exits first, the pipe closes without that byte and the child exits
//! without running the command.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

/// A forked child waiting to `exec` its command.
pub(crate) struct PausedChild {
    pid: libc::pid_t,
    /// The write end of the go pipe; `None` once released.
    go: Option<OwnedFd>,
    reaped: bool,
}

/// Exit status of a child that was never released.
const NOT_RELEASED: i32 = 127;

impl PausedChild {
    /// Forks a child that will run `command` (its program and arguments; environment and
    /// working directory are inherited) once released.
    pub(crate) fn spawn(command: &Command) -> io::Result<Self> {
        let invalid = |_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the command");
        let program = CString::new(command.get_program().as_bytes()).map_err(invalid)?;
        let mut argv = vec![program.clone()];
        for arg in command.get_args() {
            argv.push(CString::new(arg.as_bytes()).map_err(invalid)?);
        }
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());

        let mut fds = [0; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 returned two fresh descriptors we now own.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the child only calls async-signal-safe functions (close, read, execvp,
        // _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: see above; nothing here allocates or takes a lock.
            unsafe {
                libc::close(write_end.as_raw_fd());
                let mut byte = 0u8;
                let n = libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
                if n != 1 {
                    libc::_exit(NOT_RELEASED);
                }
                libc::execvp(program.as_ptr(), argv_ptrs.as_ptr());
                libc::_exit(NOT_RELEASED);
            }
        }
        drop(read_end);
        Ok(PausedChild {
            pid,
            go: Some(write_end),
            reaped: false,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec its command.
    pub(crate) fn release(&mut self) -> io::Result<()> {
        if let Some(fd) = self.go.take() {
            // SAFETY: writing one byte from a valid buffer to a pipe we own.
            if unsafe { libc::write(fd.as_raw_fd(), b"g".as_ptr().cast(), 1) } != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Whether the child has exited (reaping it if so).
    pub(crate) fn exited(&mut self) -> bool {
        if self.reaped {
            return true;
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == self.pid || r < 0 {
            self.reaped = true;
        }
        self.reaped
    }

    /// Stops the child if it still runs and reaps it.
    pub(crate) fn kill_and_wait(&mut self) {
        self.go = None;
        if self.reaped {
            return;
        }
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
        self.reaped = true;
    }

    /// Reaps the child after it exited by itself.
    pub(crate) fn wait(&mut self) {
        self.go = None;
        if !self.reaped {
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(self.pid, &mut status, 0) };
            self.reaped = true;
        }
    }
}

impl Drop for PausedChild {
    /// A child never released exits on its own once the pipe closes; reap it.
    fn drop(&mut self) {
        if self.go.is_some() {
            self.go = None;
            self.wait();
        }
    }
}
