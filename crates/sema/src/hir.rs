//! The typed program codegen consumes: probes expanded to concrete attach points, every
//! expression typed, every name resolved. Spans are kept so codegen can tag instructions.

use syntax::ast::{BinaryOp, UnaryOp};
use syntax::Span;

use crate::types::Type;

pub use kernel::pt_regs::ArgLocation;
pub use kernel::usdt::UsdtArg;

/// What a program attaches to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attach {
    /// Runs once before any other probe, in beetrace's own process.
    Begin,
    /// Runs once after every other probe is detached.
    End,
    Tracepoint {
        category: String,
        name: String,
    },
    /// One syscall tracepoint (`sys_enter_<name>` / `sys_exit_<name>`) served by the
    /// dispatcher: a raw tracepoint program on `sys_enter`/`sys_exit` tail-calls this
    /// program through a program array indexed by the syscall number `nr`.
    Syscall {
        enter: bool,
        name: String,
        nr: u32,
    },
    /// The dispatcher itself (made by codegen): a raw tracepoint program on `sys_enter` or
    /// `sys_exit` that tail-calls the [`Attach::Syscall`] program of the syscall's number.
    SyscallDispatcher {
        enter: bool,
    },
    /// Syscall tracepoints of one probe block whose programs came out identical (the body
    /// uses neither `probe` nor fields that differ between the syscalls): one raw tracepoint
    /// program on `sys_enter`/`sys_exit` runs the body inline for these syscall numbers,
    /// with no per-syscall programs and no tail call.
    SyscallSet {
        enter: bool,
        /// The syscalls, as (name, number), in the order the wildcard expanded them.
        syscalls: Vec<(String, u32)>,
    },
    /// `rawtracepoint:<name>`: the tracepoint's raw arguments, without the record tracefs
    /// events build.
    RawTracepoint {
        name: String,
    },
    /// A timer on one CPU firing every `period_ns`.
    Interval {
        period_ns: u64,
    },
    /// A perf event opened on every online CPU: `profile:` (cpu-clock), `software:` and
    /// `hardware:` probes.
    PerfEvent {
        /// The probe as written, normalised (`profile:hz:99`, `software:page-faults:100`).
        probe: String,
        /// `PERF_TYPE_SOFTWARE` (1) or `PERF_TYPE_HARDWARE` (0).
        perf_type: u32,
        config: u64,
        sample: Sample,
    },
    /// `uprobe:`, `uretprobe:` or `usdt:`: a uprobe on one instruction of a user binary.
    User(UserProbe),
}

/// Which of the user-space probe types a [`UserProbe`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserProbeKind {
    /// `uprobe:`: at a function's entry (or an offset into it, or an address).
    Entry,
    /// `uretprobe:`: when the function returns.
    Return,
    /// `usdt:`: at a `<sys/sdt.h>` probe site.
    Usdt,
}

/// A concrete user-space attach point: the kernel places a uprobe at `offset` in the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserProbe {
    pub kind: UserProbeKind,
    /// The binary as probe names show it: a path as the script wrote it (`./prog`), or
    /// the file a bare name resolved to (`/lib/x86_64-linux-gnu/libc.so.6`), as bpftrace.
    pub binary: String,
    /// The file, resolved (an absolute path): what is read and attached to.
    pub path: String,
    /// What follows the binary in the probe's name: `main`, `main+4`, `0x401126`,
    /// `provider:name`.
    pub target: String,
    /// The function probed (the `func` builtin), when the probe is on a named function.
    pub function: Option<String>,
    /// Its symbol name as stored (mangled for C++), which debug information also uses.
    pub symbol: Option<String>,
    /// File offset of the probed instruction.
    pub offset: u64,
    /// File offset of a USDT probe's semaphore, which the kernel increments while the
    /// probe is attached (the uprobe's `ref_ctr_offset`); 0 when there is none.
    pub semaphore_offset: u64,
    /// A USDT probe's arguments (decoded, or the spec text beetrace cannot decode).
    pub usdt_args: Vec<Result<UsdtArg, String>>,
}

impl UserProbe {
    fn provider(&self) -> &'static str {
        match self.kind {
            UserProbeKind::Entry => "uprobe",
            UserProbeKind::Return => "uretprobe",
            UserProbeKind::Usdt => "usdt",
        }
    }
}

/// How often a perf event runs its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sample {
    /// Every `n` events (nanoseconds for clocks).
    Period(u64),
    /// About `n` times a second.
    Frequency(u64),
}

impl Attach {
    /// The libbpf section name that tells loaders the program type.
    pub fn section(&self) -> String {
        match self {
            Attach::Begin | Attach::End | Attach::Syscall { .. } => "raw_tp".to_string(),
            Attach::SyscallDispatcher { enter: true } | Attach::SyscallSet { enter: true, .. } => {
                "raw_tp/sys_enter".to_string()
            }
            Attach::RawTracepoint { name } => format!("raw_tp/{name}"),
            Attach::SyscallDispatcher { enter: false }
            | Attach::SyscallSet { enter: false, .. } => "raw_tp/sys_exit".to_string(),
            Attach::Tracepoint { category, name } => format!("tracepoint/{category}/{name}"),
            Attach::Interval { .. } | Attach::PerfEvent { .. } => "perf_event".to_string(),
            Attach::User(u) => format!("{}/{}:{}", u.provider(), u.binary, u.target),
        }
    }

    /// The probe as bpftrace names it (`probe` builtin, listings).
    pub fn probe_name(&self) -> String {
        match self {
            Attach::Begin => "begin".to_string(),
            Attach::End => "end".to_string(),
            Attach::Tracepoint { category, name } => format!("tracepoint:{category}:{name}"),
            Attach::PerfEvent { probe, .. } => probe.clone(),
            Attach::RawTracepoint { name } => format!("rawtracepoint:{name}"),
            Attach::User(u) => format!("{}:{}:{}", u.provider(), u.binary, u.target),
            Attach::SyscallDispatcher { enter } => {
                format!(
                    "rawtracepoint:{}",
                    if *enter { "sys_enter" } else { "sys_exit" }
                )
            }
            Attach::Syscall { enter, name, .. } => format!(
                "tracepoint:syscalls:sys_{}_{name}",
                if *enter { "enter" } else { "exit" }
            ),
            Attach::SyscallSet { enter, syscalls } => {
                let names: Vec<&str> = syscalls.iter().map(|(n, _)| n.as_str()).collect();
                format!(
                    "tracepoint:syscalls:sys_{}_{{{}}}",
                    if *enter { "enter" } else { "exit" },
                    names.join(",")
                )
            }
            Attach::Interval { period_ns } => {
                if period_ns % 1_000_000_000 == 0 {
                    format!("interval:s:{}", period_ns / 1_000_000_000)
                } else if period_ns % 1_000_000 == 0 {
                    format!("interval:ms:{}", period_ns / 1_000_000)
                } else if period_ns % 1_000 == 0 {
                    format!("interval:us:{}", period_ns / 1_000)
                } else {
                    format!("interval:ns:{period_ns}")
                }
            }
        }
    }
}

/// One program to generate: a probe block instantiated for one attach point.
#[derive(Clone, Debug)]
pub struct Probe {
    pub attach: Attach,
    /// The tracefs event id of a tracepoint (what perf_event_open attaches by).
    pub tracepoint_id: Option<u32>,
    /// For a raw tracepoint described by vmlinux BTF: the id of its `btf_trace_<name>`
    /// typedef, so the runtime can load the program as `tp_btf` where the kernel allows.
    pub attach_btf_id: Option<u32>,
    pub predicate: Option<Expr>,
    pub body: Vec<Stmt>,
    /// Stack bytes the scratch variables need (each variable has a fixed slot).
    pub vars: Vec<Var>,
    pub span: Span,
}

/// A scratch variable's storage, one per distinct `$name` in the probe.
#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    pub ty: Type,
}

pub type VarId = usize;

/// Index into [`crate::Analysis::maps`].
pub type MapId = usize;

/// The aggregating functions a map value can be assigned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist { bits: u8 },
    Lhist { min: i64, max: i64, step: i64 },
}

/// The read-modify-write operators BPF performs atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomicUpdate {
    Add,
    And,
    Or,
    Xor,
}

/// Map operations done by user space when their event record arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapCommand {
    Print { top: u64, div: u64 },
    Clear,
    Zero,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Expr(Expr),
    AssignVar {
        var: VarId,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
    /// `while` and `for ($i : a..b)` (lowered to a while whose `step` increments `$i`;
    /// `continue` jumps to the step).
    While {
        cond: Expr,
        body: Vec<Stmt>,
        step: Vec<Stmt>,
    },
    /// `for ($kv : @map) { body }`: the body runs as a callback of
    /// `bpf_for_each_map_elem` once per entry; `break` stops the iteration.
    ForMap {
        map: MapId,
        body: Vec<Stmt>,
    },
    Return,
    Break,
    Continue,
    /// `@m[key] = value` for a plain (non-aggregation) map.
    MapStore {
        map: MapId,
        key: Vec<Expr>,
        value: Expr,
    },
    /// `@m[key] += value` (also `++`, `--`, `-=` with the value negated, and `&=`, `|=`,
    /// `^=` by `op`): an atomic update of an existing entry, an insert otherwise (of `value`,
    /// or 0 for `&=`).
    MapAdd {
        map: MapId,
        key: Vec<Expr>,
        value: Expr,
        op: AtomicUpdate,
    },
    /// `@m[key] *= value` and the other compound assignments BPF has no atomic instruction
    /// for (`*= /= %= <<= >>=`): a compare-and-exchange loop on the entry, so concurrent
    /// updates are not lost; a missing entry is inserted as `0 op value`. `signed` selects
    /// signed division and arithmetic shifts.
    MapExchange {
        map: MapId,
        key: Vec<Expr>,
        op: BinaryOp,
        signed: bool,
        value: Expr,
    },
    /// `@m[key] = count()` and the other aggregations; `value` is the aggregated argument.
    Aggregate {
        map: MapId,
        key: Vec<Expr>,
        func: AggFunc,
        value: Option<Expr>,
    },
    MapDelete {
        map: MapId,
        key: Vec<Expr>,
    },
    /// `print(@m)`, `clear(@m)`, `zero(@m)`: done asynchronously by user space.
    MapCommand {
        map: MapId,
        command: MapCommand,
    },
    /// `signal(sig)`: send `sig` to the current process (bpf_send_signal).
    Signal(Expr),
    /// Send a printf record: format id and its non-constant arguments.
    Printf {
        id: usize,
        args: Vec<Expr>,
    },
    /// `join(array, sep)`: the strings `array[0..]` up to a NULL pointer, sent in one record
    /// of printf format `id` (read from user memory if `user`).
    Join {
        id: usize,
        array: Expr,
        user: bool,
    },
    /// Ask user space to stop (with this exit code, 0 if none), then leave the probe.
    Exit {
        code: Option<Expr>,
    },
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    /// A string literal (NUL-terminated in `ty`'s length).
    Str(Vec<u8>),
    Var(VarId),
    Builtin(Builtin),
    /// A field of the tracepoint record at `offset` in the context.
    TracepointField {
        offset: u32,
        size: u32,
        signed: bool,
    },
    /// Syscall argument `index` (0-5) of a dispatched syscall probe, from the saved registers.
    SyscallArg {
        index: u8,
    },
    /// The return value in a dispatched `sys_exit_*` probe.
    SyscallRet,
    /// Whether the current syscall's number lies in one of these inclusive ranges (the gate
    /// of an [`Attach::SyscallSet`] program).
    SyscallNrIn {
        enter: bool,
        ranges: Vec<(u32, u32)>,
    },
    /// A value of the probed user program at a uprobe (context: its saved registers): a
    /// function argument, the return value, a USDT argument. `size` bytes (1, 2, 4, 8) of a
    /// register or of user memory, sign-extended when `signed`.
    UserValue {
        location: ArgLocation,
        size: u8,
        signed: bool,
    },
    /// `argN` of a raw tracepoint: the N-th raw argument (also `args.<name>`, typed from the
    /// tracepoint's BTF prototype).
    RawArg {
        index: u8,
    },
    /// `size` bytes of kernel memory at address `addr`, as an integer (sign-extended when
    /// `signed`). A failed read gives 0, as bpf_probe_read_kernel zeroes its buffer.
    KernelRead {
        addr: Box<Expr>,
        size: u8,
        signed: bool,
    },
    /// `size` bytes of the probed process's memory at address `addr`, unsigned
    /// (`*uaddr("sym")`); a failed read gives 0.
    UserRead {
        addr: Box<Expr>,
        size: u8,
    },
    /// `uaddr("sym")` in a user-space probe: where the symbol is in the probed process,
    /// `delta` bytes from the probed instruction (whose run-time address
    /// `bpf_get_func_ip` gives, load bias included, so PIE binaries and libraries work).
    /// `size` is the symbol's size, what `*uaddr("sym")` reads (1, 2, 4 or 8).
    UserSymbol {
        delta: i64,
        size: u8,
    },
    /// `percpu_kaddr("var"[, cpu])`: the address of this CPU's copy (no `cpu`) or CPU
    /// `cpu`'s copy of the per-CPU kernel variable whose vmlinux BTF `VAR` is `btf_id`
    /// (`bpf_this_cpu_ptr` / `bpf_per_cpu_ptr`); 0 for a CPU that does not exist.
    PercpuVar {
        btf_id: u32,
        cpu: Option<Box<Expr>>,
    },
    /// `syscall_name(nr)`: the name of system call `nr` (x86-64 numbering), "" when unknown;
    /// looked up in a table the runtime fills.
    SyscallName {
        nr: Box<Expr>,
    },
    /// A `char[len]` in kernel memory at `addr`, as a string.
    KernelChars {
        addr: Box<Expr>,
        len: u32,
    },
    /// A fixed-size char array in the tracepoint record, copied as a string.
    TracepointString {
        offset: u32,
        len: u32,
    },
    /// A `__data_loc char[]` (or `__rel_loc`) string: the u32 at `offset` holds the data's
    /// offset (low 16 bits; from the record start, or from the end of this field if
    /// `relative`) and length (high 16 bits).
    TracepointDynString {
        offset: u32,
        relative: bool,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    /// Integer conversion to `ty` of the outer expression.
    Cast(Box<Expr>),
    /// `@m[key]`: the value, or 0 / "" when the key is missing.
    MapRead {
        map: MapId,
        key: Vec<Expr>,
    },
    /// `@m[k]` of a `count sum min max avg` map used as an integer (bpftrace's "coercion"):
    /// the per-CPU values merged in the kernel by looking up each CPU id below `cpus`.
    AggRead {
        map: MapId,
        key: Vec<Expr>,
        cpus: u32,
    },
    /// `ntop([af, ]addr)`: the family and the address bytes, typed [`Type::Inet`].
    Ntop {
        family: Box<Expr>,
        addr: NtopAddr,
    },
    /// `(a, b, ...)`, typed [`Type::Tuple`].
    Tuple(Vec<Expr>),
    /// Field `index` of a tuple value.
    TupleField {
        tuple: Box<Expr>,
        index: usize,
    },
    /// `str(ptr)`: read a NUL-terminated string of at most `ty`'s length.
    StrRead {
        ptr: Box<Expr>,
        user: bool,
    },
    /// `a == b` / `a != b` on strings (`equal` false for `!=`); with `limit`, only the
    /// first `limit` bytes count (`strncmp`).
    StrCmp {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        equal: bool,
        limit: Option<u32>,
    },
    /// `strcontains(haystack, needle)`: true when `needle` occurs in `haystack`.
    StrContains {
        haystack: Box<Expr>,
        needle: Box<Expr>,
    },
    /// `$kv.0` (or `$kv.0.N` for a multi-part key) inside `for ($kv : @map)`: key part `part`.
    ForKey {
        map: MapId,
        part: usize,
    },
    /// `$kv.1` inside `for ($kv : @map)`: the value.
    ForValue {
        map: MapId,
    },
    /// `$kv.1` inside `for ($kv : @map)` over a count/sum/min/max/avg map: the values of
    /// the entry on every CPU id below `cpus`, merged.
    ForAggValue {
        map: MapId,
        cpus: u32,
    },
    /// `@m[k]++` (or `--`, `++@m[k]`...) used as a value: an atomic fetch-and-add, so every
    /// caller sees a distinct old value (`$id = @seq++` hands out unique ids).
    MapFetchAdd {
        map: MapId,
        key: Vec<Expr>,
        delta: i64,
        prefix: bool,
    },
    /// `$x++` (or `--`, prefix forms) used as a value.
    VarFetchAdd {
        var: VarId,
        delta: i64,
        prefix: bool,
    },
    /// `cgroup_path(id[, filter])`: the id, and the filter's index in `cgroup_filters`.
    CgroupPath {
        id: Box<Expr>,
        filter: u32,
    },
    /// `len(@m)`: entries counted by `bpf_for_each_map_elem`.
    MapLen {
        map: MapId,
    },
    /// `kstack`/`ustack`: the current stack recorded in stack-trace map
    /// `Analysis::stack_maps[map]` (`bpf_get_stackid`), typed [`Type::Stack`].
    Stack {
        map: usize,
    },
    /// `ksym(addr)`, typed [`Type::Ksym`].
    Ksym {
        addr: Box<Expr>,
    },
    /// `usym(addr)`: the address and the current process, typed [`Type::Usym`].
    Usym {
        addr: Box<Expr>,
    },
    /// `has_key(@m, key)`
    HasKey {
        map: MapId,
        key: Vec<Expr>,
    },
}

/// Where `ntop()` takes the address bytes from.
#[derive(Clone, Debug)]
pub enum NtopAddr {
    /// An integer holding an IPv4 address as it lies in memory (network order).
    Int(Box<Expr>),
    /// A byte array (`u8 saddr[4]`, `u8 saddr_v6[16]`) in the tracepoint record.
    TracepointBytes { offset: u32, len: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Nsecs,
    Elapsed,
    Cpu,
    Comm,
    Cgroup,
    /// `bpf_get_current_task()`: the current `struct task_struct *` as an integer.
    Curtask,
    /// The `probe` builtin is a compile-time string; kept for completeness.
    Rand,
    /// The pid of the `-c` command (0 without one).
    Cpid,
}
