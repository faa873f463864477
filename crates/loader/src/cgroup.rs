//! Cgroup programs (`cgroup/connect4`, `cgroup_skb/egress`, `sockops`, ...) attached to the
//! cgroup given with `--cgroup`.
//!
//! Without `--cgroup-flags` the attachment is a BPF link (aya's default on kernels ≥ 5.7):
//! several programs may share the hook, as with `BPF_F_ALLOW_MULTI`, and the kernel detaches
//! it when the link's fd closes, however beetrace ends. `--cgroup-flags multi|override` asks
//! for the older `BPF_PROG_ATTACH` with that flag (links take no flags), which lasts until
//! it is detached: [`ProgAttachment`] detaches it when dropped.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use aya::programs::links::CgroupAttachMode;
use aya::programs::{CgroupSkbAttachType, Program, ProgramError};

use crate::chain;

/// `BPF_F_ALLOW_OVERRIDE`, `BPF_F_ALLOW_MULTI` (uapi).
const BPF_F_ALLOW_OVERRIDE: u32 = 1;
const BPF_F_ALLOW_MULTI: u32 = 2;
/// `CGROUP2_SUPER_MAGIC`: BPF programs attach to cgroup v2 directories only.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// `--cgroup-flags`: how a program shares its hook with others in the cgroup tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupFlags {
    /// `BPF_F_ALLOW_MULTI`: every attached program runs, in this cgroup and its ancestors.
    Multi,
    /// `BPF_F_ALLOW_OVERRIDE`: a program attached in a sub-cgroup replaces this one there.
    Override,
}

impl std::str::FromStr for CgroupFlags {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "multi" => Ok(CgroupFlags::Multi),
            "override" => Ok(CgroupFlags::Override),
            _ => Err(format!("--cgroup-flags '{s}': expected multi or override")),
        }
    }
}

/// The cgroup programs attach to, opened once.
#[derive(Debug)]
pub(crate) struct CgroupTarget {
    pub path: PathBuf,
    dir: File,
    flags: Option<CgroupFlags>,
}

impl CgroupTarget {
    /// Opens `path`, which must be a directory of a cgroup v2 file system.
    pub fn open(path: &Path, flags: Option<CgroupFlags>) -> Result<CgroupTarget, String> {
        let dir = File::open(path).map_err(|e| format!("--cgroup {}: {e}", path.display()))?;
        // SAFETY: statfs fills the struct or fails; the fd is open.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatfs(dir.as_raw_fd(), &mut st) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("--cgroup {}: {e}", path.display()));
        }
        if st.f_type as i64 != CGROUP2_SUPER_MAGIC {
            return Err(format!(
                "--cgroup {}: not a cgroup v2 directory (BPF programs attach to cgroup v2; \
                 see the cgroup2 line of /proc/mounts)",
                path.display()
            ));
        }
        Ok(CgroupTarget {
            path: path.to_path_buf(),
            dir,
            flags,
        })
    }
}

/// A `BPF_PROG_ATTACH` attachment, detached when dropped. Holds its own copies of the cgroup
/// and program fds, so it does not depend on what is dropped first.
#[derive(Debug)]
pub(crate) struct ProgAttachment {
    cgroup: OwnedFd,
    prog: OwnedFd,
    attach_type: u32,
}

impl Drop for ProgAttachment {
    fn drop(&mut self) {
        // Nothing to do on failure: the cgroup may be gone, which detached it already.
        let _ = bpfsys::prog_detach(self.cgroup.as_fd(), self.prog.as_fd(), self.attach_type);
    }
}

/// Attaches `prog` (loaded for `attach_type`) to the target cgroup. Returns where it attached
/// and, for `--cgroup-flags`, the attachment to keep until exit.
pub(crate) fn attach(
    prog: &mut Program,
    hook: &str,
    attach_type: u32,
    target: &CgroupTarget,
) -> Result<(String, Option<ProgAttachment>), String> {
    let at = format!("{hook} of cgroup {}", target.path.display());
    let Some(flags) = target.flags else {
        attach_link(prog, hook, &target.dir).map_err(|e| chain(&e))?;
        return Ok((at, None));
    };
    let (bits, word) = match flags {
        CgroupFlags::Multi => (BPF_F_ALLOW_MULTI, "multi"),
        CgroupFlags::Override => (BPF_F_ALLOW_OVERRIDE, "override"),
    };
    let prog_fd = prog
        .fd()
        .map_err(|e| chain(&e))?
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| e.to_string())?;
    let cgroup = target
        .dir
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| e.to_string())?;
    bpfsys::prog_attach(cgroup.as_fd(), prog_fd.as_fd(), attach_type, bits).map_err(|e| {
        format!(
            "cannot attach with --cgroup-flags {word}: {e}{}",
            if e.raw_os_error() == Some(libc::EPERM) {
                " (the hook already holds a program attached with other flags)"
            } else {
                ""
            }
        )
    })?;
    Ok((
        format!("{at} ({word})"),
        Some(ProgAttachment {
            cgroup,
            prog: prog_fd,
            attach_type,
        }),
    ))
}

/// Attaches through a BPF link, owned (and detached when dropped) by aya's program.
fn attach_link(prog: &mut Program, hook: &str, cgroup: &File) -> Result<(), ProgramError> {
    let mode = CgroupAttachMode::Single;
    match prog {
        Program::CgroupSockAddr(p) => p.attach(cgroup, mode).map(|_| ()),
        Program::CgroupSock(p) => p.attach(cgroup, mode).map(|_| ()),
        Program::CgroupSockopt(p) => p.attach(cgroup, mode).map(|_| ()),
        Program::SockOps(p) => p.attach(cgroup, mode).map(|_| ()),
        Program::CgroupSkb(p) => {
            let direction = if hook.ends_with("egress") {
                CgroupSkbAttachType::Egress
            } else {
                CgroupSkbAttachType::Ingress
            };
            p.attach(cgroup, direction, mode).map(|_| ())
        }
        _ => Err(ProgramError::UnexpectedProgramType),
    }
}
