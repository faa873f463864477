use super::*;
use crate::samples;

fn sample() -> KernelBtf {
    KernelBtf::from_bytes(samples::vmlinux_btf(), vec![]).unwrap()
}

fn find(btf: &KernelBtf, name: &str, kind: NameKind) -> TypeRef {
    btf.find(name, kind).unwrap().unwrap()
}

#[test]
fn structs_members_and_spellings() {
    let btf = sample();
    let task = find(&btf, "task_struct", NameKind::Struct);
    assert_eq!(btf.size_of(task).unwrap(), Some(3264));
    assert_eq!(btf.c_spelling(task), "struct task_struct");
    let comm = btf.member(task, "comm").unwrap().unwrap();
    assert_eq!(
        (comm.bit_offset, btf.c_spelling(comm.ty)),
        (14016, "char[16]".into())
    );
    assert_eq!(btf.size_of(comm.ty).unwrap(), Some(16));
    let parent = btf.member(task, "real_parent").unwrap().unwrap();
    assert_eq!(btf.c_spelling(parent.ty), "struct task_struct *");
    let pid = btf.member(task, "pid").unwrap().unwrap();
    assert_eq!(btf.c_spelling(pid.ty), "pid_t");
    let (_, int) = btf.resolve(pid.ty).unwrap();
    assert!(matches!(
        int,
        BtfType::Int {
            size: 4,
            signed: true,
            ..
        }
    ));
    // Members of anonymous unions are found, with the union's offset added.
    let users = btf.member(task, "rcu_users").unwrap().unwrap();
    assert_eq!(users.bit_offset, 10368);
    assert!(btf.member(task, "nope").unwrap().is_none());
    let names = btf.member_names(task).unwrap();
    assert!(names.contains(&"rcu_words".to_string()) && names.contains(&"comm".to_string()));
    assert!(btf.find("task_struct", NameKind::Union).unwrap().is_none());
    assert!(btf.find("nope", NameKind::Struct).unwrap().is_none());
}

#[test]
fn bitfields_and_enums() {
    let btf = sample();
    let bits = find(&btf, "bits", NameKind::Struct);
    let mid = btf.member(bits, "mid").unwrap().unwrap();
    assert_eq!((mid.bit_offset, mid.bitfield_size), (3, 5));
    let whole = btf.member(bits, "whole").unwrap().unwrap();
    assert_eq!((whole.bit_offset, whole.bitfield_size), (32, 0));
    let (v, e) = btf.enumerator("PIDTYPE_TGID").unwrap().unwrap();
    assert_eq!((v, btf.c_spelling(e)), (1, "enum pid_type".into()));
    assert!(btf.enumerator("PIDTYPE_NOPE").unwrap().is_none());
}

#[test]
fn raw_tracepoint_prototypes() {
    let btf = sample();
    let tp = btf.raw_tracepoint(None, "sched_switch").unwrap().unwrap();
    let args: Vec<(String, String)> = tp
        .args
        .iter()
        .map(|p| (p.name.clone(), btf.c_spelling(p.ty)))
        .collect();
    assert_eq!(
        args,
        [
            ("preempt".into(), "_Bool".into()),
            ("prev".into(), "struct task_struct *".into()),
            ("next".into(), "struct task_struct *".into()),
            ("prev_state".into(), "unsigned int".into()),
        ]
    );
    assert!(btf.raw_tracepoint(None, "nope").unwrap().is_none());
    assert!(btf
        .raw_tracepoint(Some("nomod"), "sys_enter")
        .unwrap()
        .is_none());
    let mut all = btf.raw_tracepoints().unwrap();
    all.sort();
    assert_eq!(
        all,
        [
            (None, "sched_switch".into()),
            (None, "sys_enter".into()),
            (None, "sys_exit".into())
        ]
    );
}

#[test]
fn unnamed_prototype_parameters_become_argn() {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let void_ptr = b.ptr(0);
    let proto = b.func_proto(0, &[("", void_ptr), ("", int)]);
    let ptr = b.ptr(proto);
    b.typedef("btf_trace_bare", ptr);
    let btf = KernelBtf::from_bytes(b.build(), vec![]).unwrap();
    let tp = btf.raw_tracepoint(None, "bare").unwrap().unwrap();
    assert_eq!(tp.args[0].name, "arg0");
    assert_eq!(
        btf.c_spelling(TypeRef { blob: 0, id: ptr }),
        "void (*)(void *, int)"
    );
}

#[test]
fn split_module_btf() {
    let base = samples::vmlinux_btf();
    let btf = KernelBtf::from_bytes(base.clone(), vec![]).unwrap();
    let task = find(&btf, "task_struct", NameKind::Struct);
    let base_end = btf.vmlinux.end_id().unwrap();
    let base_strs = btf.vmlinux.str_len();
    // A module blob whose ids start after vmlinux's and whose strings follow vmlinux's.
    let mut m = BtfBuilder::new();
    let int_in_base = 2; // "int" in the sample
    m.structure(
        "mod_thing",
        16,
        &[("count", int_in_base, 0), ("owner", base_end + 1, 64)],
    );
    m.ptr(task.id());
    let blob = rebase(m, base_end, base_strs);
    let btf = KernelBtf::from_bytes(base, vec![("mymod".into(), blob)]).unwrap();
    let thing = find(&btf, "mod_thing", NameKind::Struct);
    assert_eq!(btf.c_spelling(thing), "struct mod_thing");
    let owner = btf.member(thing, "owner").unwrap().unwrap();
    assert_eq!(btf.c_spelling(owner.ty), "struct task_struct *");
    let count = btf.member(thing, "count").unwrap().unwrap();
    assert_eq!(btf.c_spelling(count.ty), "int");
    assert_eq!(btf.module_names().collect::<Vec<_>>(), ["mymod"]);
}

/// Turns a standalone builder blob into split BTF: shifts its string offsets past the base
/// strings (the builder's ids already count from the base's end by construction of the
/// test, except for the first record's own numbering, which split BTF defines).
fn rebase(b: BtfBuilder, _first_id: u32, base_strs: u32) -> Vec<u8> {
    let mut blob = b.build();
    let rd = |b: &[u8], o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
    let type_len = rd(&blob, 12) as usize;
    let mut off = 24;
    while off < 24 + type_len {
        let name = rd(&blob, off);
        let info = rd(&blob, off + 4);
        let (k, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        if name != 0 {
            blob[off..off + 4].copy_from_slice(&(name - 1 + base_strs).to_ne_bytes());
        }
        let extra = match k {
            4 | 5 => 12 * vlen,
            _ => 0,
        };
        for i in 0..vlen.min(extra / 12) {
            let mo = off + 12 + 12 * i;
            let n = rd(&blob, mo);
            if n != 0 {
                blob[mo..mo + 4].copy_from_slice(&(n - 1 + base_strs).to_ne_bytes());
            }
        }
        off += 12 + extra;
    }
    // Drop the leading NUL of the module's own string section (offset 0 is the base's).
    let str_len = rd(&blob, 20);
    blob.remove(24 + type_len);
    blob[20..24].copy_from_slice(&(str_len - 1).to_ne_bytes());
    blob
}

#[test]
fn damaged_blobs_are_errors() {
    assert!(KernelBtf::from_bytes(vec![1, 2, 3], vec![]).is_err());
    let mut blob = samples::vmlinux_btf();
    blob[0] ^= 0xff;
    assert!(KernelBtf::from_bytes(blob, vec![]).is_err());
    // A truncated type section fails on first use, not at open.
    let mut blob = samples::vmlinux_btf();
    let type_len = u32::from_ne_bytes(blob[12..16].try_into().unwrap());
    blob[12..16].copy_from_slice(&(type_len - 2).to_ne_bytes());
    let btf = KernelBtf::from_bytes(blob, vec![]).unwrap();
    let e = btf.find("task_struct", NameKind::Struct).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn cyclic_types_are_errors_not_hangs() {
    let mut b = BtfBuilder::new();
    // struct loop { struct loop; struct loop; }: anonymous members that contain themselves.
    b.structure("loop", 8, &[("", 1, 0), ("", 1, 0)]);
    b.typedef("t", 3);
    b.typedef("u", 2);
    b.array(4, 0, 2);
    let btf = KernelBtf::from_bytes(b.build(), vec![]).unwrap();
    let at = |id| TypeRef { blob: 0, id };
    assert!(btf.member(at(1), "x").is_err());
    assert!(btf.member_names(at(1)).is_err());
    assert!(btf.resolve(at(2)).is_err());
    assert!(btf.size_of(at(4)).is_err());
    assert!(btf
        .c_spelling(at(4))
        .ends_with("...[2][2][2][2][2][2][2][2][2][2][2][2][2][2][2][2][2]"));
}

#[test]
fn variables_and_whether_they_are_per_cpu() {
    let btf = sample();
    let rq = btf.variable("runqueues").unwrap().unwrap();
    assert!(rq.percpu);
    assert_eq!(rq.module, None);
    assert_eq!(btf.c_spelling(rq.ty), "struct rq");
    assert_eq!(
        btf.get(TypeRef {
            blob: 0,
            id: rq.btf_id
        })
        .unwrap(),
        BtfType::Other { kind: kind::VAR }
    );
    assert!(btf.variable("bpf_prog_active").unwrap().unwrap().percpu);
    assert!(!btf.variable("not_percpu").unwrap().unwrap().percpu);
    assert_eq!(btf.variable("jiffies").unwrap(), None);
    // A struct of that name is not a variable.
    assert_eq!(btf.variable("task_struct").unwrap(), None);
}
