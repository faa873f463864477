//! What the running kernel offers to beetrace.
//!
//! Semantic analysis needs to know which tracepoints exist and what their
//! argument records look like; the CLI needs `-l` listings and a mounted bpf
//! filesystem. All of that lives here, behind the [`KernelInfo`] trait, so
//! that other crates can unit-test against [`FakeKernel`] instead of the
//! machine they happen to run on. [`Tracefs`] is the real implementation.

use std::io;
use std::path::PathBuf;

pub mod btf;
pub mod cpus;
pub mod dwarf_args;
pub mod elf_symbols;
mod fake;
mod format;
pub mod kallsyms;
pub mod kconfig;
pub mod listing;
pub mod perf_events;
pub mod pt_regs;
pub mod samples;
pub mod syscalls;
pub mod trace_pipe;
mod tracefs;
pub mod usdt;
pub mod user_binary;
mod user_listing;
pub mod wildcard;
pub mod x86_decode;

pub use fake::FakeKernel;
pub use tracefs::{ensure_bpffs, Tracefs, BPFFS_PATH, TRACEFS_PATH};

/// Everything sema needs to know about the running kernel.
///
/// A trait rather than a concrete type so tests of other crates can describe
/// an imaginary kernel with [`FakeKernel`].
pub trait KernelInfo {
    /// All tracepoints as (category, name), from tracefs `available_events`
    /// (sorted, deduplicated).
    fn tracepoints(&self) -> Result<Vec<(String, String)>, KernelError>;

    /// The parsed `events/<category>/<name>/format` file.
    fn tracepoint_format(
        &self,
        category: &str,
        name: &str,
    ) -> Result<TracepointFormat, KernelError>;

    /// The address of kernel symbol `name` (`kaddr("jiffies")`), from /proc/kallsyms.
    /// `None` when there is no such symbol.
    fn kernel_symbol(&self, name: &str) -> Result<Option<u64>, KernelError> {
        kallsyms::lookup(std::path::Path::new("/proc/kallsyms"), name)
    }

    /// Whether kallsyms lists variables as well as functions: kernels built without
    /// CONFIG_KALLSYMS_ALL list only functions, so `kaddr("jiffies")` cannot be resolved.
    fn kallsyms_lists_variables(&self) -> Result<bool, KernelError> {
        self.kernel_symbol(kallsyms::ALWAYS_A_VARIABLE)
            .map(|found| found.is_some())
    }

    /// How many CPU ids per-CPU map lookups accept (highest possible CPU + 1).
    fn possible_cpu_ids(&self) -> Result<u32, KernelError> {
        cpus::possible_cpu_ids()
    }

    /// Kernel types (vmlinux and module BTF), opened on first use: scripts that name no
    /// kernel type never read it.
    fn btf(&self) -> Result<&btf::KernelBtf, KernelError> {
        Err(KernelError::Btf {
            path: PathBuf::from(btf::BTF_DIR).join("vmlinux"),
            reason: "this kernel description has no BTF".to_string(),
        })
    }
}

/// Tracepoints whose `category:name` matches a wildcard pattern such as
/// `syscalls:sys_enter_open*` (see [`wildcard`]); used to expand wildcard
/// attach points. Sorted by (category, name).
pub fn matching_tracepoints(
    kernel: &dyn KernelInfo,
    pattern: &str,
) -> Result<Vec<(String, String)>, KernelError> {
    let pat = wildcard::Pattern::new(pattern);
    let mut out: Vec<(String, String)> = kernel
        .tracepoints()?
        .into_iter()
        .filter(|(c, n)| pat.matches(&format!("{c}:{n}")))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The record layout of one tracepoint, as the kernel's format file describes
/// it. The BPF program reads `args` fields at these offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointFormat {
    /// The category (the directory under `events/`), e.g. `syscalls`.
    pub category: String,
    /// The event name, e.g. `sys_enter_openat`.
    pub name: String,
    /// The event ID (`ID:` line); perf_event_open attaches by this number.
    pub id: u32,
    /// All fields in file order, the `common_*` ones included.
    pub fields: Vec<TracepointField>,
}

impl TracepointFormat {
    /// Parses the text of a `format` file. `category`/`name` are recorded as
    /// given (the file itself only names the event, not its category).
    ///
    /// Odd field lines are skipped instead of failing, since one exotic field
    /// should not make a whole tracepoint unusable; only a missing or
    /// malformed `ID:` line is an error, because without it we cannot attach.
    pub fn parse(category: &str, name: &str, text: &str) -> Result<Self, KernelError> {
        let path = PathBuf::from(format!("events/{category}/{name}/format"));
        format::parse(category, name, text, &path)
    }

    /// The field called `name`, if any.
    pub fn field(&self, name: &str) -> Option<&TracepointField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The fields a script sees as `args.*`: everything but `common_*`.
    pub fn args(&self) -> impl Iterator<Item = &TracepointField> {
        self.fields.iter().filter(|f| !f.common)
    }

    /// Size of the record up to the end of the last field, i.e. how large a
    /// C struct mirroring this format must at least be.
    pub fn size(&self) -> u32 {
        self.fields
            .iter()
            .map(|f| f.offset.saturating_add(f.size))
            .max()
            .unwrap_or(0)
    }
}

/// One `field:` line of a tracepoint format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointField {
    /// Field name, e.g. `filename`.
    pub name: String,
    /// The C type as written, with array dimensions moved from the name to the
    /// type: `const char *`, `int`, `char[16]` (for `char comm[16]`),
    /// `__data_loc char[]`.
    pub c_type: String,
    /// Byte offset in the record.
    pub offset: u32,
    /// Byte size in the record (4 for `__data_loc`, 0 for flexible arrays).
    pub size: u32,
    /// The `signed:` flag of the file.
    pub signed: bool,
    /// How the bytes are to be interpreted.
    pub kind: FieldKind,
    /// True for the `common_*` header fields, which `args` does not expose.
    pub common: bool,
    /// The declaration exactly as the file writes it (`const char * filename`);
    /// `-lv` prints this verbatim, as bpftrace does.
    pub decl: String,
}

/// How a tracepoint field's bytes are interpreted.
///
/// Non-exhaustive: newer kernels keep inventing field encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// A scalar integer of `size` bytes (also enums, typedef'd integers and
    /// anything unknown that fits in 8 bytes).
    Int,
    /// A pointer (the type contains `*`); 8 bytes on 64-bit kernels.
    Pointer,
    /// `char name[len]`: a fixed-size, NUL-padded string.
    CharArray { len: u32 },
    /// Any other fixed array (`unsigned long args[6]`, `u8 addr[16]`), and
    /// the fallback for unknown shapes larger than 8 bytes. `len` is 0 for
    /// flexible arrays (`unsigned long args[]`).
    Array { elem_size: u32, len: u32 },
    /// `__data_loc T[] name`: a u32 whose low 16 bits are the offset of the
    /// data from the record start and high 16 bits its length in bytes.
    /// The element type is in `c_type` (`__data_loc char[]` is a string).
    DataLoc,
    /// `__rel_loc T[] name`: like [`FieldKind::DataLoc`], but the offset is
    /// relative to the end of this 4-byte field.
    RelLoc,
}

/// Why the kernel could not tell us something. Each message names the path
/// involved and, where there is one, what the user can do about it.
#[derive(thiserror::Error, Debug)]
pub enum KernelError {
    /// Mounting tracefs or bpffs failed.
    #[error("cannot mount {fstype} at {}: {source}{}", .target.display(), mount_hint(.fstype, .source))]
    Mount {
        fstype: &'static str,
        target: PathBuf,
        source: io::Error,
    },
    /// Reading a kernel-provided file failed for a reason other than absence.
    #[error("cannot read {}: {source}{}", .path.display(), io_hint(.source))]
    Io { path: PathBuf, source: io::Error },
    /// The tracepoint has no format file.
    #[error("tracepoint {category}:{name} not found (no {}); list tracepoints with `beetrace -l 'tracepoint:*'`", .path.display())]
    TracepointNotFound {
        category: String,
        name: String,
        path: PathBuf,
    },
    /// Kernel BTF is missing or damaged.
    #[error("kernel BTF {}: {reason}", .path.display())]
    Btf { path: PathBuf, reason: String },
    /// A format file lacked something we cannot do without.
    #[error("malformed tracepoint format file {}: {reason}", .path.display())]
    BadFormat { path: PathBuf, reason: String },
    /// A user binary named in a uprobe or USDT listing could not be found or read.
    #[error("{0}")]
    User(String),
}

fn io_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => " (beetrace must run as root)",
        _ => "",
    }
}

fn mount_hint(fstype: &str, e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (mounting needs root / CAP_SYS_ADMIN; run beetrace as root)"
        }
        Some(libc::ENODEV) if fstype == "tracefs" => {
            " (this kernel has no tracefs; it needs CONFIG_TRACING/CONFIG_FTRACE)"
        }
        Some(libc::ENODEV) => " (this kernel has no bpf filesystem; it needs CONFIG_BPF_SYSCALL)",
        Some(libc::ENOENT) => " (the mount point does not exist; is sysfs mounted at /sys?)",
        _ => "",
    }
}
