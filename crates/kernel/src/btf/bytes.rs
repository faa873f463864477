//! The bytes of a BTF file: mapped when the kernel allows it, read otherwise.
//!
//! Since Linux 6.16 `/sys/kernel/btf/vmlinux` can be mmap'ed read-only. The first lookup
//! walks every record head, so the mapping is populated in one go (`MAP_POPULATE`: 0.5 ms
//! less than a fault per page here). Older kernels serve the file one page per read(2)
//! (~1,300 calls for 5 MiB), which is the fallback.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Owned or mapped file contents, read-only.
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped { ptr: *mut libc::c_void, len: usize },
}

// The mapping is private, read-only and owned by this value alone.
unsafe impl Send for Bytes {}
unsafe impl Sync for Bytes {}

impl Bytes {
    /// Maps `path`, or reads it whole if it cannot be mapped.
    pub fn open(path: &Path) -> io::Result<Bytes> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len() as usize;
        if len > 0 {
            // SAFETY: a fresh private read-only mapping of a file we hold open; the result
            // is checked before use and unmapped exactly once in Drop.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_POPULATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if ptr != libc::MAP_FAILED {
                return Ok(Bytes::Mapped { ptr, len });
            }
        }
        let mut data = Vec::with_capacity(len);
        file.read_to_end(&mut data)?;
        Ok(Bytes::Owned(data))
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            // SAFETY: the mapping is `len` readable bytes for as long as `self` lives.
            Bytes::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(*ptr as *const u8, *len)
            },
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Bytes::Mapped { ptr, len } = *self {
            // SAFETY: mapped in `open` with this length, unmapped only here.
            unsafe { libc::munmap(ptr, len) };
        }
    }
}
