//! Stacks, `ksym()` and `usym()` values as text, the way bpftrace prints them.
//!
//! A stack value is a stack-trace map id (plus the pid for user stacks, see codegen's
//! `stacks.rs`); the frames are read from the map when the value is printed. Kernel
//! addresses are named from /proc/kallsyms (read once, when first needed), user addresses
//! from the memory map of their process, so that a process that has exited by the time
//! maps are printed is still named: as the kernel's mapping records built it (processes
//! started while tracing, `mmap_watch`), else as saved when the programs first announced
//! the pid ([`Stacks::note_process`]; processes that were already running).
//!
//! Layouts (bpftrace 0.26, `BPFtrace::get_stack` and `format_build_id_stack`):
//! `bpftrace` mode is `\n` then `        symbol+offset\n` per frame; `perf` is
//! `\t<hex address> symbol+offset (module)\n` (no module for kernel frames); `raw` is
//! `<hex address>\n`; `build_id` is `<build id hex> 0x<file offset hex>\n`, or the bare
//! address when the kernel could not read the build id. Unknown symbols print as `0x...`.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use kernel::kallsyms::KernelSymbols;
use sema::types::{StackMap, StackMode, StackType};
use sema::Type;

use crate::events::word;
use crate::mmap_watch::MmapWatch;
use crate::symbolize::{ElfCache, ProcessMap};
use crate::sys;

const EFAULT: i64 = 14;
/// `struct bpf_stack_build_id` status: the frame is (build id, offset).
const BUILD_ID_VALID: i32 = 1;

pub(crate) struct Stacks<'a> {
    /// The script's stack-trace maps, as `Analysis::stack_maps` lists them.
    maps: Vec<(StackMap, &'a OwnedFd)>,
    kernel: OnceCell<KernelSymbols>,
    /// Mappings as processes make them (see `mmap_watch`), when user addresses are
    /// recorded and the kernel let us open the watch.
    watch: Option<RefCell<MmapWatch>>,
    /// Maps built from the watch's mappings, until those change.
    recorded: RefCell<HashMap<u32, Rc<ProcessMap>>>,
    /// `/proc/PID/maps` snapshots taken when pids were announced.
    processes: RefCell<HashMap<u32, Rc<ProcessMap>>>,
    elves: Rc<RefCell<ElfCache>>,
    /// Files whose frames could not be named for lack of symbols, to warn about once.
    stripped: RefCell<BTreeSet<String>>,
}

impl<'a> Stacks<'a> {
    /// `user`: the programs record user addresses, so process layouts are followed.
    pub(crate) fn new(maps: Vec<(StackMap, &'a OwnedFd)>, user: bool) -> Stacks<'a> {
        Stacks {
            maps,
            kernel: OnceCell::new(),
            watch: user
                .then(MmapWatch::open)
                .and_then(Result::ok)
                .map(RefCell::new),
            recorded: RefCell::new(HashMap::new()),
            processes: RefCell::new(HashMap::new()),
            elves: Rc::new(RefCell::new(ElfCache::default())),
            stripped: RefCell::new(BTreeSet::new()),
        }
    }

    /// A program saw `pid` record user addresses for the first time: save its memory map
    /// now, while it exists. A process already gone is left to be printed as addresses.
    pub(crate) fn note_process(&self, pid: u32) {
        if let Ok(map) = ProcessMap::snapshot(pid, &self.elves) {
            self.processes.borrow_mut().insert(pid, Rc::new(map));
        }
    }

    /// Reads the mapping records that arrived, so their ring does not fill up.
    pub(crate) fn poll(&self) {
        if let Some(watch) = &self.watch {
            let mut watch = watch.borrow_mut();
            watch.update();
            let mut recorded = self.recorded.borrow_mut();
            for pid in watch.take_changed() {
                recorded.remove(&pid);
            }
        }
    }

    /// The memory maps that may name `pid`'s addresses, best first: as the mapping records
    /// built it, then as saved when the pid was announced (or read now, if the process is
    /// still there). An address the first does not cover (records lost to a full ring) is
    /// looked up in the next.
    fn process(&self, pid: u32) -> Vec<Rc<ProcessMap>> {
        self.poll();
        let mut maps = Vec::new();
        if let Some(watch) = &self.watch {
            let recorded = self.recorded.borrow().get(&pid).cloned();
            match recorded {
                Some(map) => maps.push(map),
                None => {
                    let watch = watch.borrow();
                    let mappings = watch.mappings(pid);
                    if !mappings.is_empty() {
                        let map = Rc::new(ProcessMap::build(mappings, Some(pid), &self.elves));
                        self.recorded.borrow_mut().insert(pid, map.clone());
                        maps.push(map);
                    }
                }
            }
        }
        if !self.processes.borrow().contains_key(&pid) {
            self.note_process(pid);
        }
        maps.extend(self.processes.borrow().get(&pid).cloned());
        maps
    }

    fn kernel(&self) -> &KernelSymbols {
        self.kernel
            .get_or_init(|| KernelSymbols::load().unwrap_or_default())
    }

    /// Files printed as bare addresses because they have no symbols, for a warning.
    pub(crate) fn stripped_files(&self) -> Vec<String> {
        self.stripped.borrow().iter().cloned().collect()
    }

    /// The text of a stack, `ksym` or `usym` value; `None` for other types.
    pub(crate) fn text(&self, ty: Type, bytes: &[u8]) -> Option<String> {
        match ty {
            Type::Stack(st) => Some(self.stack_text(st, bytes)),
            Type::Ksym => Some(self.kernel_symbol(word(bytes, 0), false)),
            Type::Usym => {
                let process = self.process(word(bytes, 1) as u32);
                Some(self.user_symbol(word(bytes, 0), &process, false, false))
            }
            _ => None,
        }
    }

    fn stack_text(&self, st: StackType, bytes: &[u8]) -> String {
        let id = word(bytes, 0) as i64;
        let pid = word(bytes, 1) as u32;
        let indent = "        ";
        if id < 0 {
            return if id == -EFAULT {
                "\n".to_string()
            } else {
                format!("\n{indent}[stack lost: bpf_get_stackid error {id}]\n")
            };
        }
        let Some(&(map, fd)) = self.maps.iter().find(|(m, _)| *m == st.map()) else {
            return "\n".to_string();
        };
        let frame = map.frame_size() as usize;
        let mut value = vec![0u8; frame * map.limit as usize];
        if !sys::map_lookup(fd, &(id as u32).to_ne_bytes(), &mut value).unwrap_or(false) {
            return format!("\n{indent}[stack {id} not found]\n");
        }
        let mut out = String::from("\n");
        if map.build_id {
            for f in value.chunks_exact(frame) {
                let status = i32::from_ne_bytes(f[0..4].try_into().expect("4 bytes"));
                let word = u64::from_ne_bytes(f[24..32].try_into().expect("8 bytes"));
                if status == 0 {
                    break;
                }
                if status == BUILD_ID_VALID {
                    for b in &f[4..24] {
                        let _ = write!(out, "{b:02x}");
                    }
                    let _ = writeln!(out, " 0x{word:02x}");
                } else {
                    let _ = writeln!(out, "{word:x}");
                }
            }
            return out;
        }
        let perf = st.mode == StackMode::Perf;
        let process = if st.user && st.mode != StackMode::Raw {
            self.process(pid)
        } else {
            Vec::new()
        };
        for f in value.chunks_exact(8) {
            let addr = u64::from_ne_bytes(f.try_into().expect("8 bytes"));
            if addr == 0 {
                break;
            }
            let name = || {
                if st.user {
                    self.user_symbol(addr, &process, true, perf)
                } else {
                    self.kernel_symbol(addr, true)
                }
            };
            match st.mode {
                StackMode::Raw => {
                    let _ = writeln!(out, "{addr:x}");
                }
                StackMode::Perf => {
                    let _ = writeln!(out, "\t{addr:x} {}", name());
                }
                StackMode::Bpftrace | StackMode::BuildId => {
                    let _ = writeln!(out, "{indent}{}", name());
                }
            }
        }
        out
    }

    fn kernel_symbol(&self, addr: u64, offset: bool) -> String {
        match self.kernel().resolve(addr) {
            Some((name, off)) if offset => format!("{name}+{off}"),
            Some((name, _)) => name.to_string(),
            None => format!("0x{addr:x}"),
        }
    }

    fn user_symbol(&self, addr: u64, maps: &[Rc<ProcessMap>], offset: bool, perf: bool) -> String {
        let frame = maps
            .iter()
            .map(|p| (p.resolve(addr), p))
            .find(|(f, _)| f.module.is_some());
        let (symbol, module) = match &frame {
            Some((f, p)) => {
                if f.symbol.is_none() {
                    if let Some(file) = p.stripped_module(addr) {
                        self.stripped.borrow_mut().insert(file.to_string());
                    }
                }
                (f.symbol, f.module)
            }
            None => (None, None),
        };
        let mut text = match symbol {
            Some((name, off)) if offset => format!("{name}+{off}"),
            Some((name, _)) => name.to_string(),
            None => format!("0x{addr:x}"),
        };
        if perf {
            match (symbol, module) {
                (Some(_), Some(m)) => {
                    let _ = write!(text, " ({m})");
                }
                _ => text.push_str(" ([unknown])"),
            }
        }
        text
    }
}
