//! bpffs paths: the rules a pin path must follow, pinning and opening with errors that say
//! what to do, and the check that a pinned map is the one a caller is about to create.
//!
//! Kernel facts behind the rules: only a bpf filesystem holds pins; bpffs refuses any name
//! containing a `.` (those are reserved); any other UTF-8 (emoji included) is fine.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::obj::{map_info, obj_get, obj_pin, MapInfo};

/// `BPF_FS_MAGIC` from statfs(2).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{}: pin paths must be UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "{path}: bpffs does not allow '.' in a name ('{component}'); choose a name without one"
    )]
    Dot { path: PathBuf, component: String },
    #[error("{path}: not on a bpf filesystem; pin under /sys/fs/bpf (or another bpffs mount)")]
    NotBpffs { path: PathBuf },
    #[error("{path}: nothing is pinned there (see `beetrace map list` for what exists)")]
    NotFound { path: PathBuf },
    #[error("{path}: something is already pinned there; remove it first (rm {path}) or choose another path")]
    Exists { path: PathBuf },
    #[error("{path}: a directory, not a pinned object; name a file in it (ls {path})")]
    IsDirectory { path: PathBuf },
    #[error("{dir}: no such directory; create it first (mkdir -p {dir})")]
    NoDirectory { dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: the pinned map does not match this one ({differences}); remove it (rm {path}) or pin elsewhere")]
    Mismatch { path: PathBuf, differences: String },
}

impl PinError {
    fn io(path: &Path, source: io::Error) -> PinError {
        match source.raw_os_error() {
            Some(libc::ENOENT) => PinError::NotFound { path: path.into() },
            Some(libc::EEXIST) => PinError::Exists { path: path.into() },
            _ => PinError::Io {
                path: path.into(),
                source,
            },
        }
    }
}

/// Whether `path` is on a bpf filesystem.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
    else {
        return false;
    };
    // SAFETY: a valid C string and a zeroed statfs the kernel fills.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// Checks that `path` can be a pin: UTF-8, its nearest existing ancestor on a bpffs, and no
/// name from there down (the names bpffs will be asked to create or look up) containing a
/// `.`.
pub fn check_path(path: &Path) -> Result<(), PinError> {
    if path.to_str().is_none() {
        return Err(PinError::NotUtf8 { path: path.into() });
    }
    let absolute = std::path::absolute(path).map_err(|e| PinError::io(path, e))?;
    let existing = absolute
        .ancestors()
        .skip(1)
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    if !is_bpffs(existing) {
        return Err(PinError::NotBpffs { path: path.into() });
    }
    let below = absolute.strip_prefix(existing).unwrap_or(&absolute);
    if let Some(dotted) = below
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .find(|name| name.contains('.'))
    {
        return Err(PinError::Dot {
            path: path.into(),
            component: dotted.into_owned(),
        });
    }
    Ok(())
}

/// Creates directory `dir` and its missing parents on a bpffs.
pub fn create_dir(dir: &Path) -> Result<(), PinError> {
    check_path(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| PinError::io(dir, e))
}

/// Pins `fd` at `path` (a checked path; its directory must exist).
pub fn pin(fd: &OwnedFd, path: &Path) -> Result<(), PinError> {
    check_path(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        return Err(PinError::NoDirectory { dir: dir.into() });
    }
    obj_pin(fd, path).map_err(|e| PinError::io(path, e))
}

/// Opens what is pinned at `path`.
pub fn open(path: &Path) -> Result<OwnedFd, PinError> {
    if !path.exists() {
        return Err(PinError::NotFound { path: path.into() });
    }
    check_path(path)?;
    if path.is_dir() {
        return Err(PinError::IsDirectory { path: path.into() });
    }
    obj_get(path).map_err(|e| PinError::io(path, e))
}

/// What a caller is about to create, to compare with a map pinned earlier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapShape {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

/// Opens the map pinned at `path` if it has `shape`; a [`PinError::Mismatch`] naming every
/// difference otherwise, so an incompatible map is never reused silently.
pub fn open_compatible_map(path: &Path, shape: &MapShape) -> Result<(OwnedFd, MapInfo), PinError> {
    let fd = open(path)?;
    let info = map_info(&fd).map_err(|e| PinError::io(path, e))?;
    let mut differences = Vec::new();
    let mut differ = |what: &str, pinned: u32, wanted: u32| {
        if pinned != wanted {
            differences.push(format!("{what} {pinned} pinned, {wanted} wanted"));
        }
    };
    differ("type", info.map_type, shape.map_type);
    differ("key size", info.key_size, shape.key_size);
    differ("value size", info.value_size, shape.value_size);
    differ("max entries", info.max_entries, shape.max_entries);
    differ("flags", info.flags, shape.flags);
    if !differences.is_empty() {
        return Err(PinError::Mismatch {
            path: path.into(),
            differences: differences.join(", "),
        });
    }
    Ok((fd, info))
}

/// Removes `path` — a pin, or a directory of pins and directories on a bpffs — releasing
/// every object nothing else holds (attached programs detach when their link goes).
/// Returns how many pins were removed.
pub fn remove_all(path: &Path) -> Result<usize, PinError> {
    if !path.exists() {
        return Err(PinError::NotFound { path: path.into() });
    }
    if !is_bpffs(path) {
        return Err(PinError::NotBpffs { path: path.into() });
    }
    if !path.is_dir() {
        std::fs::remove_file(path).map_err(|e| PinError::io(path, e))?;
        return Ok(1);
    }
    let mut removed = 0;
    let entries = std::fs::read_dir(path).map_err(|e| PinError::io(path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PinError::io(path, e))?;
        removed += remove_all(&entry.path())?;
    }
    std::fs::remove_dir(path).map_err(|e| PinError::io(path, e))?;
    Ok(removed)
}
