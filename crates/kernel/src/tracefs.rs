//! The real [`KernelInfo`]: tracefs, plus mounting of tracefs and bpffs.
//!
//! A freshly booted minimal system may have neither filesystem mounted, and
//! bpftrace-style tools are expected to just work as root, so we mount what
//! is missing and tell the caller we did.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::btf::{KernelBtf, BTF_DIR};
use crate::{format, KernelError, KernelInfo, TracepointFormat};

/// Where tracefs lives on modern kernels, and where we mount it if needed.
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// The legacy location, inside debugfs (auto-mounted by the kernel on access).
const DEBUGFS_TRACEFS_PATH: &str = "/sys/kernel/debug/tracing";
/// Where the bpf filesystem is conventionally mounted (pinned maps live there).
pub const BPFFS_PATH: &str = "/sys/fs/bpf";

/// `statfs` magic numbers (linux/magic.h).
const TRACEFS_MAGIC: i64 = 0x7472_6163;
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Serializes check-then-mount within the process, so that two threads (say,
/// parallel tests) do not both find nothing and stack two mounts.
static MOUNT_LOCK: Mutex<()> = Mutex::new(());

/// A tracefs mount: the source of tracepoint names and formats.
#[derive(Debug, Clone)]
pub struct Tracefs {
    root: PathBuf,
    mounted_by_us: bool,
    /// Kernel BTF, opened by the first [`KernelInfo::btf`] call (shared by clones).
    btf: Arc<OnceLock<Result<KernelBtf, KernelError>>>,
}

impl Tracefs {
    /// Finds a mounted tracefs (`/sys/kernel/tracing`, then any other tracefs
    /// in `/proc/mounts`, then `/sys/kernel/debug/tracing`) or, failing
    /// that, mounts tracefs at `/sys/kernel/tracing` (needs root).
    pub fn open() -> Result<Tracefs, KernelError> {
        let _guard = MOUNT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mounts = read_mounts();
        let mut candidates: Vec<PathBuf> = vec![PathBuf::from(TRACEFS_PATH)];
        candidates.extend(
            mounts
                .iter()
                .filter(|m| m.fstype == "tracefs")
                .map(|m| m.dir.clone()),
        );
        candidates.extend(
            mounts
                .iter()
                .filter(|m| m.fstype == "debugfs")
                .map(|m| m.dir.join("tracing")),
        );
        candidates.push(PathBuf::from(DEBUGFS_TRACEFS_PATH));
        for c in &candidates {
            if is_fs(c, TRACEFS_MAGIC) && c.join("events").is_dir() {
                return Ok(Tracefs::at(c.clone()));
            }
        }

        let target = PathBuf::from(TRACEFS_PATH);
        mount_fs("tracefs", "nodev", &target).map_err(|source| KernelError::Mount {
            fstype: "tracefs",
            target: target.clone(),
            source,
        })?;
        Ok(Tracefs {
            root: target,
            mounted_by_us: true,
            btf: Arc::default(),
        })
    }

    /// Uses `root` as a tracefs without checking or mounting anything; for
    /// unusual setups and for tests against a directory tree that looks like
    /// tracefs.
    pub fn at(root: impl Into<PathBuf>) -> Tracefs {
        Tracefs {
            root: root.into(),
            mounted_by_us: false,
            btf: Arc::default(),
        }
    }

    /// The tracefs directory in use.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True if [`Tracefs::open`] had to mount tracefs itself, so the CLI can
    /// tell the user (we leave it mounted; it is harmless and others use it).
    pub fn mounted_by_us(&self) -> bool {
        self.mounted_by_us
    }

    /// Path of the format file of `category:name`.
    pub fn format_path(&self, category: &str, name: &str) -> PathBuf {
        self.root
            .join("events")
            .join(category)
            .join(name)
            .join("format")
    }

    /// Fallback when `available_events` is missing: every
    /// `events/<category>/<name>/format`.
    fn scan_events_dir(&self) -> Result<Vec<(String, String)>, KernelError> {
        let events = self.root.join("events");
        let io_err = |path: &Path, source| KernelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = Vec::new();
        for cat in fs::read_dir(&events).map_err(|e| io_err(&events, e))? {
            let Ok(cat) = cat else { continue };
            let Ok(evs) = fs::read_dir(cat.path()) else {
                continue;
            };
            for ev in evs.flatten() {
                if ev.path().join("format").is_file() {
                    out.push((
                        cat.file_name().to_string_lossy().into_owned(),
                        ev.file_name().to_string_lossy().into_owned(),
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl KernelInfo for Tracefs {
    fn btf(&self) -> Result<&KernelBtf, KernelError> {
        match self.btf.get_or_init(|| KernelBtf::open(Path::new(BTF_DIR))) {
            Ok(btf) => Ok(btf),
            // The first error is kept; later callers get its text again.
            Err(KernelError::Btf { path, reason }) => Err(KernelError::Btf {
                path: path.clone(),
                reason: reason.clone(),
            }),
            Err(e) => Err(KernelError::Btf {
                path: PathBuf::from(BTF_DIR).join("vmlinux"),
                reason: e.to_string(),
            }),
        }
    }

    fn tracepoints(&self) -> Result<Vec<(String, String)>, KernelError> {
        let path = self.root.join("available_events");
        let mut out = match fs::read_to_string(&path) {
            Ok(text) => parse_available_events(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.scan_events_dir()?,
            Err(source) => return Err(KernelError::Io { path, source }),
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn tracepoint_format(
        &self,
        category: &str,
        name: &str,
    ) -> Result<TracepointFormat, KernelError> {
        let path = self.format_path(category, name);
        let not_found = || KernelError::TracepointNotFound {
            category: category.to_string(),
            name: name.to_string(),
            path: path.clone(),
        };
        // Refuse names that would escape events/<category>/<name>.
        if !is_plain_component(category) || !is_plain_component(name) {
            return Err(not_found());
        }
        match fs::read_to_string(&path) {
            Ok(text) => format::parse(category, name, &text, &path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found()),
            Err(source) => Err(KernelError::Io { path, source }),
        }
    }
}

fn is_plain_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('\0')
}

/// Lines are `category:name`; anything else is ignored.
fn parse_available_events(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (c, n) = l.trim().split_once(':')?;
            (!c.is_empty() && !n.is_empty()).then(|| (c.to_string(), n.to_string()))
        })
        .collect()
}

/// Ensures a bpf filesystem is available, mounting one at `/sys/fs/bpf` if
/// none is; returns its path and whether we mounted it. Needed for pinning.
pub fn ensure_bpffs() -> Result<(PathBuf, bool), KernelError> {
    let _guard = MOUNT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let default = PathBuf::from(BPFFS_PATH);
    if is_fs(&default, BPF_FS_MAGIC) {
        return Ok((default, false));
    }
    if let Some(m) = read_mounts()
        .into_iter()
        .find(|m| m.fstype == "bpf" && is_fs(&m.dir, BPF_FS_MAGIC))
    {
        return Ok((m.dir, false));
    }
    mount_fs("bpf", "bpf", &default).map_err(|source| KernelError::Mount {
        fstype: "bpf",
        target: default.clone(),
        source,
    })?;
    Ok((default, true))
}

/// One line of `/proc/mounts`.
#[derive(Debug, Clone, PartialEq)]
struct MountEntry {
    dir: PathBuf,
    fstype: String,
}

/// The mount table; empty if `/proc` is unavailable (callers then fall back
/// to well-known paths).
fn read_mounts() -> Vec<MountEntry> {
    fs::read_to_string("/proc/mounts")
        .map(|t| parse_mounts(&t))
        .unwrap_or_default()
}

fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let _source = it.next()?;
            let dir = unescape_mount_field(it.next()?);
            let fstype = it.next()?.to_string();
            Some(MountEntry {
                dir: PathBuf::from(dir),
                fstype,
            })
        })
        .collect()
}

/// `/proc/mounts` writes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_field(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True if `path` is the root of (or inside) a filesystem with `magic`.
fn is_fs(path: &Path, magic: i64) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string and `st` a properly sized,
    // writable statfs buffer that lives across the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == magic
}

fn mount_fs(fstype: &str, source: &str, target: &Path) -> io::Result<()> {
    let src = CString::new(source)?;
    let tgt = CString::new(target.as_os_str().as_encoded_bytes())?;
    let fst = CString::new(fstype)?;
    // SAFETY: all pointers are valid NUL-terminated strings for the duration
    // of the call; no mount data is passed.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fst.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{samples, FieldKind};

    /// A directory tree shaped like tracefs, removed on drop.
    struct FakeTree(PathBuf);

    impl FakeTree {
        fn new(tag: &str) -> FakeTree {
            let dir = std::env::temp_dir()
                .join(format!("beetrace-kernel-test-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("events")).unwrap();
            FakeTree(dir)
        }

        fn add(&self, cat: &str, name: &str, format: &str) {
            let d = self.0.join("events").join(cat).join(name);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("format"), format).unwrap();
        }
    }

    impl Drop for FakeTree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_a_tracefs_shaped_tree() {
        let t = FakeTree::new("tree");
        t.add("syscalls", "sys_enter_openat", samples::SYS_ENTER_OPENAT);
        t.add("sched", "sched_switch", samples::SCHED_SWITCH);
        let tfs = Tracefs::at(&t.0);
        assert!(!tfs.mounted_by_us());

        // Without available_events we scan the directory.
        assert_eq!(
            tfs.tracepoints().unwrap(),
            [
                ("sched".to_string(), "sched_switch".to_string()),
                ("syscalls".to_string(), "sys_enter_openat".to_string())
            ]
        );
        fs::write(
            t.0.join("available_events"),
            "syscalls:sys_enter_openat\nsched:sched_switch\ngarbage\n\nsched:sched_switch\n",
        )
        .unwrap();
        assert_eq!(tfs.tracepoints().unwrap().len(), 2);

        let f = tfs.tracepoint_format("sched", "sched_switch").unwrap();
        assert_eq!(
            (f.category.as_str(), f.name.as_str(), f.id),
            ("sched", "sched_switch", 372)
        );
        assert_eq!(
            f.field("next_comm").unwrap().kind,
            FieldKind::CharArray { len: 16 }
        );

        let e = tfs
            .tracepoint_format("syscalls", "sys_enter_foo")
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, KernelError::TracepointNotFound { .. }));
        assert!(
            msg.contains("tracepoint syscalls:sys_enter_foo not found"),
            "{msg}"
        );
        assert!(
            msg.contains("events/syscalls/sys_enter_foo/format"),
            "{msg}"
        );
        assert!(matches!(
            tfs.tracepoint_format("..", "..").unwrap_err(),
            KernelError::TracepointNotFound { .. }
        ));

        t.add("bad", "noid", "name: noid\nformat:\n");
        let e = tfs.tracepoint_format("bad", "noid").unwrap_err();
        assert!(matches!(e, KernelError::BadFormat { .. }), "{e}");
        assert!(e.to_string().contains("events/bad/noid/format"), "{e}");
    }

    #[test]
    fn missing_tracefs_dir_is_an_io_error() {
        let tfs = Tracefs::at("/nonexistent/beetrace/tracefs");
        let e = tfs.tracepoints().unwrap_err();
        assert!(matches!(e, KernelError::Io { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("/nonexistent/beetrace/tracefs/events"),
            "{e}"
        );
    }

    #[test]
    fn mounts_parsing() {
        let m = parse_mounts(
            "sysfs /sys sysfs rw 0 0\n\
             nodev /sys/kernel/tracing tracefs rw 0 0\n\
             x /mnt/with\\040space bpf rw 0 0\n\
             short\n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].fstype, "tracefs");
        assert_eq!(m[2].dir, PathBuf::from("/mnt/with space"));
        assert_eq!(unescape_mount_field("a\\134b\\"), "a\\b\\");
    }

    #[test]
    fn error_messages_give_hints() {
        let e = KernelError::Mount {
            fstype: "tracefs",
            target: PathBuf::from(TRACEFS_PATH),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("cannot mount tracefs at /sys/kernel/tracing"),
            "{msg}"
        );
        assert!(msg.contains("root"), "{msg}");
        let e = KernelError::Io {
            path: PathBuf::from("/x"),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().contains("run as root"), "{e}");
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// Against the machine's real tracefs; skipped (with a note) when that is
    /// impossible, so the suite stays green on unprivileged builders.
    #[test]
    fn real_tracefs() {
        if !is_root() {
            eprintln!("skipping real_tracefs: not root, cannot mount or read tracefs");
            return;
        }
        let tfs = match Tracefs::open() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("skipping real_tracefs: {e}");
                return;
            }
        };
        eprintln!(
            "real_tracefs: using {} (mounted by us: {})",
            tfs.root().display(),
            tfs.mounted_by_us()
        );
        let tps = tfs.tracepoints().expect("available_events readable");
        assert!(!tps.is_empty());
        assert!(
            tps.windows(2).all(|w| w[0] < w[1]),
            "sorted and deduplicated"
        );
        if tps.iter().any(|(c, n)| c == "sched" && n == "sched_switch") {
            let f = tfs.tracepoint_format("sched", "sched_switch").unwrap();
            assert!(f.id > 0);
            assert!(f.field("common_pid").unwrap().common);
            assert_eq!(
                f.field("prev_comm").unwrap().kind,
                FieldKind::CharArray { len: 16 }
            );
        }
        // Every listed tracepoint we can read parses without error.
        for (c, n) in &tps {
            match tfs.tracepoint_format(c, n) {
                Ok(f) => {
                    assert!(f.fields.iter().any(|f| f.common), "{c}:{n}");
                    // No field line of a real kernel is dropped as odd.
                    let text = fs::read_to_string(tfs.format_path(c, n)).unwrap();
                    let lines = text
                        .lines()
                        .take_while(|l| !l.starts_with("print fmt:"))
                        .filter(|l| l.trim_start().starts_with("field:"))
                        .count();
                    assert_eq!(f.fields.len(), lines, "{c}:{n}");
                }
                Err(KernelError::TracepointNotFound { .. }) => {}
                Err(e) => panic!("{c}:{n}: {e}"),
            }
        }
        if tps
            .iter()
            .any(|(c, n)| c == "syscalls" && n == "sys_enter_openat")
        {
            let out =
                crate::listing::list(&tfs, Some("t:syscalls:sys_enter_openat"), true).unwrap();
            assert_eq!(out[0], "tracepoint:syscalls:sys_enter_openat");
            assert_eq!(out[1], "    int __syscall_nr");
            assert!(
                out.iter().any(|l| l == "    const char * filename"),
                "{out:?}"
            );
        }
        let n = crate::listing::list(&tfs, None, false)
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("tracepoint:"))
            .count();
        assert_eq!(n, tps.len(), "`-l` lists every tracepoint once");
        let again = Tracefs::open().unwrap();
        assert!(!again.mounted_by_us(), "second open finds the mount");
    }

    #[test]
    fn real_bpffs() {
        if !is_root() {
            eprintln!("skipping real_bpffs: not root");
            return;
        }
        match ensure_bpffs() {
            Ok((path, mounted)) => {
                eprintln!("real_bpffs: {} (mounted by us: {mounted})", path.display());
                assert!(is_fs(&path, BPF_FS_MAGIC));
                let (again, mounted_again) = ensure_bpffs().unwrap();
                assert_eq!(again, path);
                assert!(!mounted_again);
            }
            Err(e) => eprintln!("skipping real_bpffs: {e}"),
        }
    }
}
