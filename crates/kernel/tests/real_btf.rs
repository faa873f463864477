//! The BTF reader against the running kernel's `/sys/kernel/btf/vmlinux` (readable without
//! root). Skipped, with the reason printed, on kernels without BTF.

use std::path::Path;
use std::time::Instant;

use kernel::btf::{KernelBtf, NameKind, BTF_DIR};

fn open() -> Option<KernelBtf> {
    if !Path::new(BTF_DIR).join("vmlinux").exists() {
        eprintln!("skipped: {BTF_DIR}/vmlinux does not exist (kernel without BTF)");
        return None;
    }
    Some(KernelBtf::open(Path::new(BTF_DIR)).expect("the kernel's BTF parses"))
}

#[test]
fn vmlinux_types_and_raw_tracepoints() {
    let Some(btf) = open() else { return };
    let start = Instant::now();
    let task = btf.find("task_struct", NameKind::Struct).unwrap().unwrap();
    let comm = btf.member(task, "comm").unwrap().unwrap();
    assert_eq!(btf.c_spelling(comm.ty), "char[16]");
    let parent = btf.member(task, "real_parent").unwrap().unwrap();
    assert_eq!(btf.c_spelling(parent.ty), "struct task_struct *");
    let tp = btf.raw_tracepoint(None, "sched_switch").unwrap().unwrap();
    let args: Vec<String> = tp
        .args
        .iter()
        .map(|p| format!("{} {}", btf.c_spelling(p.ty), p.name))
        .collect();
    assert_eq!(
        args,
        [
            "bool preempt",
            "struct task_struct * prev",
            "struct task_struct * next",
            "unsigned int prev_state"
        ]
    );
    let tp = btf.raw_tracepoint(None, "sys_enter").unwrap().unwrap();
    assert_eq!(tp.args[0].name, "regs");
    assert_eq!(btf.c_spelling(tp.args[0].ty), "struct pt_regs *");
    eprintln!("lookups took {:?}", start.elapsed());
    let all = btf.raw_tracepoints().unwrap();
    assert!(all.iter().any(|(m, n)| m.is_none() && n == "sched_switch"));
}
