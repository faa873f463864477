//! An in-memory [`KernelInfo`] so other crates can test without root or
//! tracefs, and get the same answers on every machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::btf::KernelBtf;
use crate::{format, samples, KernelError, KernelInfo, TracepointFormat};

/// A kernel made up by a test: tracepoints with format texts.
///
/// ```
/// use kernel::{FakeKernel, KernelInfo, samples};
/// let k = FakeKernel::new()
///     .with_tracepoint("syscalls", "sys_enter_openat", samples::SYS_ENTER_OPENAT);
/// assert_eq!(k.tracepoint_format("syscalls", "sys_enter_openat").unwrap().id, 782);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeKernel {
    /// (category, name) -> format text; None = listed but format unreadable.
    tracepoints: BTreeMap<(String, String), Option<String>>,
    btf: Option<Arc<KernelBtf>>,
    /// The kallsyms of this kernel: name -> address (empty unless a test adds some).
    symbols: BTreeMap<String, u64>,
}

impl FakeKernel {
    /// A kernel with no tracepoints.
    pub fn new() -> FakeKernel {
        FakeKernel::default()
    }

    /// Adds (or replaces) a tracepoint whose `format` file reads `format`.
    /// The text is parsed lazily, so malformed text shows up as the same
    /// error [`crate::Tracefs`] would give.
    pub fn with_tracepoint(mut self, category: &str, name: &str, format: &str) -> FakeKernel {
        self.add_tracepoint(category, name, format);
        self
    }

    /// Adds a tracepoint that is listed but has no format file, as happens
    /// with some special tracefs events; asking for its format fails with
    /// [`KernelError::TracepointNotFound`].
    pub fn with_tracepoint_without_format(mut self, category: &str, name: &str) -> FakeKernel {
        self.tracepoints
            .insert((category.to_string(), name.to_string()), None);
        self
    }

    /// Adds every tracepoint of [`crate::samples`] (real formats of
    /// `syscalls:sys_enter_openat`, `sched:sched_switch`, ...) and the sample BTF
    /// ([`samples::vmlinux_btf`]).
    pub fn with_samples(mut self) -> FakeKernel {
        for (c, n, f) in samples::ALL {
            self.add_tracepoint(c, n, f);
        }
        self.with_btf(samples::vmlinux_btf())
    }

    /// [`FakeKernel::with_samples`] on a kernel built without BTF.
    pub fn without_btf(mut self) -> FakeKernel {
        self.btf = None;
        self
    }

    /// Uses `vmlinux` (a BTF blob, e.g. from [`crate::btf::BtfBuilder`]) as kernel BTF.
    pub fn with_btf(mut self, vmlinux: Vec<u8>) -> FakeKernel {
        let btf = KernelBtf::from_bytes(vmlinux, Vec::new())
            .expect("FakeKernel::with_btf is given a well-formed BTF blob");
        self.btf = Some(Arc::new(btf));
        self
    }

    /// Adds `name` at `address` to this kernel's kallsyms.
    pub fn with_symbol(mut self, name: &str, address: u64) -> FakeKernel {
        self.symbols.insert(name.to_string(), address);
        self
    }

    /// In-place form of [`FakeKernel::with_tracepoint`].
    pub fn add_tracepoint(&mut self, category: &str, name: &str, format: &str) {
        self.tracepoints.insert(
            (category.to_string(), name.to_string()),
            Some(format.to_string()),
        );
    }

    fn path(category: &str, name: &str) -> PathBuf {
        PathBuf::from(format!("<fake>/events/{category}/{name}/format"))
    }
}

impl KernelInfo for FakeKernel {
    /// Always 4, so programs compiled in tests do not depend on the machine.
    fn possible_cpu_ids(&self) -> Result<u32, KernelError> {
        Ok(4)
    }

    /// Only the symbols a test added, so tests never depend on the machine's kallsyms.
    fn kernel_symbol(&self, name: &str) -> Result<Option<u64>, KernelError> {
        Ok(self.symbols.get(name).copied())
    }

    /// Like a kernel built with CONFIG_KALLSYMS_ALL exactly when `init_task` was added.
    fn kallsyms_lists_variables(&self) -> Result<bool, KernelError> {
        Ok(self
            .symbols
            .contains_key(crate::kallsyms::ALWAYS_A_VARIABLE))
    }

    fn btf(&self) -> Result<&KernelBtf, KernelError> {
        self.btf.as_deref().ok_or_else(|| KernelError::Btf {
            path: PathBuf::from("<fake>/btf/vmlinux"),
            reason: "not found: this fake kernel has no BTF".to_string(),
        })
    }

    fn tracepoints(&self) -> Result<Vec<(String, String)>, KernelError> {
        Ok(self.tracepoints.keys().cloned().collect())
    }

    fn tracepoint_format(
        &self,
        category: &str,
        name: &str,
    ) -> Result<TracepointFormat, KernelError> {
        let path = Self::path(category, name);
        match self
            .tracepoints
            .get(&(category.to_string(), name.to_string()))
        {
            Some(Some(text)) => format::parse(category, name, text, &path),
            _ => Err(KernelError::TracepointNotFound {
                category: category.to_string(),
                name: name.to_string(),
                path,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching_tracepoints;

    #[test]
    fn fake_answers_like_tracefs() {
        let k = FakeKernel::new()
            .with_samples()
            .with_tracepoint_without_format("ftrace", "hidden")
            .with_tracepoint("bad", "noid", "format:\n");
        let tps = k.tracepoints().unwrap();
        assert!(tps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(tps.len(), samples::ALL.len() + 2);

        let f = k.tracepoint_format("sched", "sched_process_exec").unwrap();
        assert_eq!(f.id, 365);
        assert_eq!(f.args().count(), 3);

        let e = k.tracepoint_format("ftrace", "hidden").unwrap_err();
        assert!(matches!(e, KernelError::TracepointNotFound { .. }));
        let e = k
            .tracepoint_format("syscalls", "sys_enter_foo")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "tracepoint syscalls:sys_enter_foo not found \
             (no <fake>/events/syscalls/sys_enter_foo/format); \
             list tracepoints with `beetrace -l 'tracepoint:*'`"
        );
        assert!(matches!(
            k.tracepoint_format("bad", "noid").unwrap_err(),
            KernelError::BadFormat { .. }
        ));
    }

    #[test]
    fn matching() {
        let k = FakeKernel::new().with_samples();
        let m = matching_tracepoints(&k, "syscalls:sys_{enter,exit}_openat").unwrap();
        assert_eq!(m.len(), 2);
        let m = matching_tracepoints(&k, "sched:*").unwrap();
        assert_eq!(
            m,
            [
                ("sched".to_string(), "sched_process_exec".to_string()),
                ("sched".to_string(), "sched_switch".to_string())
            ]
        );
        assert!(matching_tracepoints(&k, "nope:*").unwrap().is_empty());
    }
}
