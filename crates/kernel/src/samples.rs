//! Real tracepoint format files, copied from a 6.18 x86-64 kernel's tracefs.
//!
//! Shared by this crate's tests and by other crates' tests (through
//! [`crate::FakeKernel::with_samples`]) so that everybody exercises the same,
//! realistic shapes: pointers, `char[16]`, `__data_loc`, arrays, flexible arrays.
//! Long `print fmt:` lines are cut short with `...`; the fields are verbatim.

/// `syscalls:sys_enter_openat`: pointers and syscall arguments widened to 8 bytes.
pub const SYS_ENTER_OPENAT: &str = "\
name: sys_enter_openat\n\
ID: 782\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n\
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n\
\n\
print fmt: \"dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx\", ...\n\
";

/// `syscalls:sys_exit_openat`: the `long ret` of a syscall exit.
pub const SYS_EXIT_OPENAT: &str = "\
name: sys_exit_openat\n\
ID: 781\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n\
\n\
print fmt: \"0x%lx\", REC->ret\n\
";

/// `sched:sched_switch`: `char[16]` comm strings.
pub const SCHED_SWITCH: &str = "\
name: sched_switch\n\
ID: 372\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n\
\n\
print fmt: \"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d\", ...\n\
";

/// `sched:sched_process_exec`: a `__data_loc char[]` string.
pub const SCHED_PROCESS_EXEC: &str = "\
name: sched_process_exec\n\
ID: 365\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;\n\
\n\
print fmt: \"filename=%s pid=%d old_pid=%d\", __get_str(filename), REC->pid, REC->old_pid\n\
";

/// `raw_syscalls:sys_enter`: the `unsigned long args[6]` array.
pub const RAW_SYSCALLS_SYS_ENTER: &str = "\
name: sys_enter\n\
ID: 443\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\
\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n\
\n\
print fmt: \"NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)\", ...\n\
";

/// `dma:dma_alloc_sgt`: a non-string `__data_loc u64[]` and an enum.
pub const DMA_ALLOC_SGT: &str = "\
name: dma_alloc_sgt\n\
ID: 435\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:__data_loc char[] device;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:__data_loc u64[] phys_addrs;\toffset:12;\tsize:4;\tsigned:0;\n\
\tfield:u64 dma_addr;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:size_t size;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:enum dma_data_direction dir;\toffset:32;\tsize:4;\tsigned:0;\n\
\tfield:gfp_t flags;\toffset:36;\tsize:4;\tsigned:0;\n\
\tfield:unsigned long attrs;\toffset:40;\tsize:8;\tsigned:0;\n\
\n\
print fmt: \"%s dir=%s dma_addr=%llx size=%zu phys_addrs=%s flags=%s attrs=%s\", ...\n\
";

/// `fib:fib_table_lookup`: byte arrays (`__u8 src[4]`) next to a `char name[16]`.
pub const FIB_TABLE_LOOKUP: &str = "\
name: fib_table_lookup\n\
ID: 2264\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:u32 tb_id;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:int err;\toffset:12;\tsize:4;\tsigned:1;\n\
\tfield:int oif;\toffset:16;\tsize:4;\tsigned:1;\n\
\tfield:int iif;\toffset:20;\tsize:4;\tsigned:1;\n\
\tfield:u8 proto;\toffset:24;\tsize:1;\tsigned:0;\n\
\tfield:__u8 tos;\toffset:25;\tsize:1;\tsigned:0;\n\
\tfield:__u8 scope;\toffset:26;\tsize:1;\tsigned:0;\n\
\tfield:__u8 flags;\toffset:27;\tsize:1;\tsigned:0;\n\
\tfield:__u8 src[4];\toffset:28;\tsize:4;\tsigned:0;\n\
\tfield:__u8 dst[4];\toffset:32;\tsize:4;\tsigned:0;\n\
\tfield:__u8 gw4[4];\toffset:36;\tsize:4;\tsigned:0;\n\
\tfield:__u8 gw6[16];\toffset:40;\tsize:16;\tsigned:0;\n\
\tfield:u16 sport;\toffset:56;\tsize:2;\tsigned:0;\n\
\tfield:u16 dport;\toffset:58;\tsize:2;\tsigned:0;\n\
\tfield:char name[16];\toffset:60;\tsize:16;\tsigned:0;\n\
\n\
print fmt: \"table %u oif %d iif %d proto %u %pI4/%u -> %pI4/%u tos %d scope %d flags %x ==> dev %s gw %pI4/%pI6c err %d\", ...\n\
";

/// `ftrace:function`: a flexible array `unsigned long args[]` of size 0.
pub const FTRACE_FUNCTION: &str = "\
name: function\n\
ID: 1\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\
\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:unsigned long args[];\toffset:24;\tsize:0;\tsigned:0;\n\
\n\
print fmt: \" %ps <-- %ps\", (void *)REC->ip, (void *)REC->parent_ip\n\
";

/// `ftrace:print`: a flexible `char buf[]`.
pub const FTRACE_PRINT: &str = "\
name: print\n\
ID: 5\n\
format:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\
\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;\n\
\n\
print fmt: \"%ps: %s\", (void *)REC->ip, REC->buf\n\
";

/// Every sample as (category, name, format text).
pub const ALL: &[(&str, &str, &str)] = &[
    ("syscalls", "sys_enter_openat", SYS_ENTER_OPENAT),
    ("syscalls", "sys_exit_openat", SYS_EXIT_OPENAT),
    ("sched", "sched_switch", SCHED_SWITCH),
    ("sched", "sched_process_exec", SCHED_PROCESS_EXEC),
    ("raw_syscalls", "sys_enter", RAW_SYSCALLS_SYS_ENTER),
    ("dma", "dma_alloc_sgt", DMA_ALLOC_SGT),
    ("fib", "fib_table_lookup", FIB_TABLE_LOOKUP),
    ("ftrace", "function", FTRACE_FUNCTION),
    ("ftrace", "print", FTRACE_PRINT),
];

/// A small vmlinux BTF with the shapes of 6.18 x86-64 types that tests touch:
/// `struct task_struct` (real offsets of `pid`, `comm`, `real_parent`, ..., a nested
/// `struct sched_entity se`, an anonymous union), `struct pt_regs`, a bitfield struct, an
/// enum, and the raw tracepoints `sched_switch`, `sys_enter` and `sys_exit`.
pub fn vmlinux_btf() -> Vec<u8> {
    use crate::btf::BtfBuilder;
    let mut b = BtfBuilder::new();
    let ulong = b.int("long unsigned int", 8, false);
    let int = b.int("int", 4, true);
    let uint = b.int("unsigned int", 4, false);
    let long = b.int("long int", 8, true);
    let char_ = b.int("char", 1, true);
    let bool_ = b.int("_Bool", 1, false);
    let ullong = b.int("long long unsigned int", 8, false);
    let u64_ = b.typedef("u64", ullong);
    let pid_t = b.typedef("pid_t", int);
    let index = int;
    let comm = b.array(char_, index, 16);
    let se = b.structure("sched_entity", 256, &[("vruntime", u64_, 1408)]);
    let anon = b.union("", 8, &[("rcu_users", int, 0), ("rcu_words", ulong, 0)]);
    // ids are sequential: the pointer to task_struct is the id after the struct.
    let task_id = anon + 1;
    let task_ptr = task_id + 1;
    b.structure(
        "task_struct",
        3264,
        &[
            ("__state", uint, 192),
            ("flags", uint, 352),
            ("prio", int, 864),
            ("se", se, 1024),
            ("pid", pid_t, 10112),
            ("tgid", pid_t, 10144),
            ("real_parent", task_ptr, 10240),
            ("parent", task_ptr, 10304),
            ("", anon, 10368),
            ("comm", comm, 14016),
        ],
    );
    let p = b.ptr(task_id);
    debug_assert_eq!(p, task_ptr);
    let regs: Vec<(&str, u32, u32)> = [
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
        "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| (*n, ulong, 64 * i as u32))
    .collect();
    let pt_regs = b.structure("pt_regs", 168, &regs);
    let pt_regs_ptr = b.ptr(pt_regs);
    b.bitfield_struct(
        "bits",
        8,
        &[
            ("lo", uint, 0, 3),
            ("mid", uint, 3, 5),
            ("hi", int, 8, 4),
            ("whole", uint, 32, 0),
        ],
    );
    b.enumeration("pid_type", 4, &[("PIDTYPE_PID", 0), ("PIDTYPE_TGID", 1)]);
    b.raw_tracepoint(
        "sched_switch",
        &[
            ("preempt", bool_),
            ("prev", task_ptr),
            ("next", task_ptr),
            ("prev_state", uint),
        ],
    );
    b.raw_tracepoint("sys_enter", &[("regs", pt_regs_ptr), ("id", long)]);
    b.raw_tracepoint("sys_exit", &[("regs", pt_regs_ptr), ("ret", long)]);
    // Per-CPU variables, as the kernel describes them: a `struct rq` and an int, listed in
    // `.data..percpu`; `not_percpu` is a VAR outside it (what a kernel describing every
    // global would add).
    let rq = b.structure(
        "rq",
        3328,
        &[("nr_running", uint, 32), ("clock", u64_, 3072)],
    );
    let runqueues = b.var("runqueues", rq);
    let active = b.var("bpf_prog_active", int);
    b.datasec(
        ".data..percpu",
        8192,
        &[(runqueues, 0, 3328), (active, 4096, 4)],
    );
    let other = b.var("not_percpu", ulong);
    b.datasec(".data", 8, &[(other, 0, 8)]);
    b.build()
}
