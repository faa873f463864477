//! Attaching uprobe, uretprobe and USDT programs: a perf event of the kernel's `uprobe`
//! PMU per attach point (file + offset), which the kernel describes in sysfs — its type
//! number, and which `config` bits mean "return probe" and "semaphore offset".

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use sema::hir::{UserProbe, UserProbeKind};

use crate::sys;

const PMU_DIR: &str = "/sys/bus/event_source/devices/uprobe";

/// The uprobe PMU as this kernel describes it.
pub(crate) struct UprobePmu {
    kind: u32,
    /// Bit of `config` that makes a return probe.
    retprobe_bit: u32,
    /// First bit of the `ref_ctr_offset` field in `config`, if the kernel has one.
    ref_ctr_shift: Option<u32>,
}

impl UprobePmu {
    pub(crate) fn open() -> io::Result<Self> {
        let read = |name: &str| std::fs::read_to_string(Path::new(PMU_DIR).join(name));
        let kind = read("type")?
            .trim()
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "malformed uprobe PMU type"))?;
        let retprobe_bit = read("format/retprobe")
            .ok()
            .and_then(|f| first_config_bit(&f))
            .unwrap_or(0);
        let ref_ctr_shift = read("format/ref_ctr_offset")
            .ok()
            .and_then(|f| first_config_bit(&f));
        Ok(UprobePmu {
            kind,
            retprobe_bit,
            ref_ctr_shift,
        })
    }

    /// Attaches `prog` at `probe`; `pid` limits it to one process.
    pub(crate) fn attach(
        &self,
        probe: &UserProbe,
        pid: Option<u32>,
        prog: &OwnedFd,
        as_link: bool,
    ) -> Result<OwnedFd, String> {
        let mut config = 0u64;
        if probe.kind == UserProbeKind::Return {
            config |= 1 << self.retprobe_bit;
        }
        if probe.semaphore_offset != 0 {
            let Some(shift) = self.ref_ctr_shift else {
                return Err(
                    "the probe has a semaphore, and this kernel's uprobes cannot \
                            increment one (no ref_ctr_offset)"
                        .into(),
                );
            };
            config |= probe.semaphore_offset << shift;
        }
        let path = CString::new(probe.path.as_str())
            .map_err(|_| format!("the path {:?} contains a NUL byte", probe.path))?;
        sys::attach_uprobe(self.kind, config, &path, probe.offset, pid, prog, as_link).map_err(
            |e| match e.raw_os_error() {
                Some(libc::ESRCH) => format!("{e}: no process {}", pid.unwrap_or(0)),
                Some(libc::EINVAL) if probe.semaphore_offset != 0 => format!(
                    "{e} (the kernel refused the semaphore at file offset {:#x})",
                    probe.semaphore_offset
                ),
                _ => e.to_string(),
            },
        )
    }
}

/// The first bit of a sysfs PMU format line such as `config:32-63` or `config:0`.
fn first_config_bit(format: &str) -> Option<u32> {
    let bits = format.trim().strip_prefix("config:")?;
    bits.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_lines_give_their_first_bit() {
        assert_eq!(first_config_bit("config:0\n"), Some(0));
        assert_eq!(first_config_bit("config:32-63\n"), Some(32));
        assert_eq!(first_config_bit("config1:0-63"), None);
    }
}
