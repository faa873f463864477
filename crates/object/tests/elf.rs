//! The ELF writer's output, read back with the `object` ELF reader: the sections, symbols
//! and relocations libbpf and aya look for.

use elf::read::{Object as _, ObjectSection as _, ObjectSymbol as _};
use object::insn::Insn;
use object::{map_type, FuncRef, Function, MapDef, MapRef, ObjectFile, Program, Reg};

fn sample() -> ObjectFile {
    ObjectFile {
        license: "GPL".into(),
        maps: vec![
            MapDef {
                name: "events".into(),
                map_type: map_type::RINGBUF,
                key_size: 0,
                value_size: 0,
                max_entries: 1 << 20,
                flags: 0,
            },
            MapDef {
                name: "globals".into(),
                map_type: map_type::ARRAY,
                key_size: 4,
                value_size: 8,
                max_entries: 1,
                flags: 0,
            },
        ],
        programs: vec![Program {
            name: "begin_0".into(),
            section: "raw_tp".into(),
            insns: vec![
                Insn::mov64_imm(Reg::R0, 0),
                Insn::LdMap {
                    dst: Reg::R1,
                    map: MapRef(1),
                },
                Insn::Exit,
            ],
        }],
        functions: Vec::new(),
    }
}

#[test]
fn sections_symbols_and_relocations() {
    let bytes = sample().to_elf().expect("writes");
    let file = elf::read::File::parse(&*bytes).expect("parses");
    let names: Vec<String> = file
        .sections()
        .filter_map(|s| s.name().ok().map(String::from))
        .collect();
    for wanted in ["license", ".maps", "raw_tp", ".BTF"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "missing section {wanted} in {names:?}"
        );
    }
    let license = file.section_by_name("license").unwrap();
    assert_eq!(license.data().unwrap(), b"GPL\0");

    let prog = file.section_by_name("raw_tp").unwrap();
    assert_eq!(prog.data().unwrap().len(), 4 * 8);
    let relocs: Vec<_> = prog.relocations().collect();
    assert_eq!(relocs.len(), 1, "one relocation for the one map load");
    let (offset, reloc) = &relocs[0];
    assert_eq!(*offset, 8, "the ld_imm64 is the second instruction");
    let elf::RelocationTarget::Symbol(sym) = reloc.target() else {
        panic!("symbol target")
    };
    assert_eq!(
        file.symbol_by_index(sym).unwrap().name().unwrap(),
        "globals"
    );
    assert!(matches!(
        reloc.flags(),
        elf::RelocationFlags::Elf { r_type: 1 }
    ));

    let begin = file
        .symbols()
        .find(|s| s.name() == Ok("begin_0"))
        .expect("program symbol");
    assert_eq!(begin.kind(), elf::SymbolKind::Text);
    assert!(begin.is_global());
    assert_eq!(begin.size(), 32);
}

#[test]
fn btf_describes_every_map() {
    let bytes = sample().to_elf().unwrap();
    let file = elf::read::File::parse(&*bytes).unwrap();
    let btf = file
        .section_by_name(".BTF")
        .unwrap()
        .data()
        .unwrap()
        .to_vec();
    assert_eq!(&btf[..2], &0xeb9fu16.to_le_bytes());
    let hdr_len = u32::from_le_bytes(btf[4..8].try_into().unwrap()) as usize;
    let str_off = u32::from_le_bytes(btf[16..20].try_into().unwrap()) as usize;
    let str_len = u32::from_le_bytes(btf[20..24].try_into().unwrap()) as usize;
    let strings = &btf[hdr_len + str_off..hdr_len + str_off + str_len];
    for name in [
        "events",
        "globals",
        ".maps",
        "type",
        "max_entries",
        "key_size",
        "value_size",
    ] {
        assert!(
            strings.split(|&b| b == 0).any(|s| s == name.as_bytes()),
            "BTF strings lack {name}"
        );
    }
}

/// A program calling a `.text` function: the ELF carries the call as a relocation (as clang
/// emits it), and linking appends the function once and points the call at it.
#[test]
fn functions_are_relocated_and_linked() {
    let mut obj = sample();
    obj.programs[0].insns = vec![
        Insn::CallFunc { func: FuncRef(0) },
        Insn::CallFunc { func: FuncRef(0) },
        Insn::Exit,
    ];
    obj.functions.push(Function {
        name: "helper".into(),
        params: 0,
        insns: vec![
            Insn::LdMap {
                dst: Reg::R1,
                map: MapRef(0),
            },
            Insn::mov64_imm(Reg::R0, 0),
            Insn::Exit,
        ],
    });
    let bytes = obj.to_elf().unwrap();
    let file = elf::read::File::parse(&*bytes).unwrap();
    let prog = file.section_by_name("raw_tp").unwrap();
    let calls: Vec<_> = prog.relocations().collect();
    assert_eq!(calls.len(), 2);
    for (_, r) in &calls {
        assert!(matches!(
            r.flags(),
            elf::RelocationFlags::Elf { r_type: 10 }
        ));
        let elf::RelocationTarget::Symbol(sym) = r.target() else {
            panic!("symbol target")
        };
        assert_eq!(file.symbol_by_index(sym).unwrap().name().unwrap(), "helper");
    }
    let text = file.section_by_name(".text").unwrap();
    assert_eq!(text.relocations().count(), 1, "the function's own map load");

    let (linked, placed) = obj.linked(&obj.programs[0]);
    assert_eq!(placed, [(3, FuncRef(0))], "the function starts at slot 3");
    assert_eq!(linked.len(), 3 + 3, "the function is appended once");
    // Slots: call(0) call(1) exit(2) | ldmap(3,4) mov(5) exit(6)
    assert_eq!(linked[0], Insn::CallLocal { off: 2 });
    assert_eq!(linked[1], Insn::CallLocal { off: 1 });
}
