//! What each fuzz target does with its input, shared by the libFuzzer binaries
//! (fuzz_targets/) and the regression test that replays `fuzz/regressions/` in
//! `cargo test` (crates/beetrace/tests/fuzz_regressions.rs).

use kernel::KernelInfo;

/// The lexer and parser on any text: never a panic, and every diagnostic renders.
pub fn parse(text: &str) {
    let (_, diags) = syntax::parse(text);
    let _ = syntax::render_all(&diags, "fuzz", text);
}

/// The whole pipeline up to the ELF bytes, without a kernel: parse, analyze against a fake
/// kernel with real tracepoint formats, generate code, write the object and disassemble it.
pub fn compile(text: &str) {
    let (script, diags) = syntax::parse(text);
    if diags.iter().any(syntax::Diagnostic::is_error) {
        return;
    }
    let kernel = kernel::FakeKernel::new().with_samples();
    let (analysis, diags) = sema::analyze(&script, &kernel, &sema::Options::default());
    let _ = syntax::render_all(&diags, "fuzz", text);
    if diags.iter().any(syntax::Diagnostic::is_error) {
        return;
    }
    if let Ok(compiled) = codegen::compile(&analysis) {
        let _ = compiled.object.to_elf();
        let _ = compiled.object.disassemble();
    }
}

/// What the language server does with every half-typed state of a script: parse with
/// comments, type the partial tree (sema runs even after syntax errors, recording and
/// spelling every expression's type), and format; formatting what was formatted must
/// change nothing.
pub fn editor(text: &str) {
    let parsed = syntax::parse_with_comments(text);
    let kernel = kernel::FakeKernel::new().with_samples();
    let options = sema::Options {
        record_types: true,
        ..sema::Options::default()
    };
    let (analysis, diags) = sema::analyze(&parsed.script, &kernel, &options);
    let _ = syntax::render_all(&diags, "fuzz", text);
    for t in analysis.expr_types.values() {
        let _ = t.spell(&kernel);
    }
    if let Ok(formatted) = syntax::format::format(text) {
        let again = syntax::format::format(&formatted);
        assert_eq!(
            again.as_deref().ok(),
            Some(formatted.as_str()),
            "formatting is not idempotent"
        );
    }
}

/// The instruction decoder (used on programs read back from the kernel) on any bytes.
pub fn decode(bytes: &[u8]) {
    let _ = object::insn::decode(bytes);
}

/// The parser of tracefs `format` files on any text.
pub fn tracepoint_format(text: &str) {
    let kernel = kernel::FakeKernel::new().with_tracepoint("fuzz", "event", text);
    let _ = kernel.tracepoint_format("fuzz", "event");
}

/// The kernel BTF reader on any bytes: opening, name lookups, raw tracepoint prototypes,
/// and the members, sizes and C spellings of what they reach.
pub fn btf(bytes: &[u8]) {
    use kernel::btf::{KernelBtf, NameKind};
    let Ok(btf) = KernelBtf::from_bytes(bytes.to_vec(), Vec::new()) else {
        return;
    };
    if let Ok(tps) = btf.raw_tracepoints() {
        for (_, name) in tps.iter().take(16) {
            if let Ok(Some(tp)) = btf.raw_tracepoint(None, name) {
                for a in &tp.args {
                    explore(&btf, a.ty, 0);
                }
            }
        }
    }
    for name in ["task_struct", "pt_regs", "bits", "sched_entity"] {
        if let Ok(Some(r)) = btf.find(name, NameKind::Struct) {
            explore(&btf, r, 0);
        }
    }
    let _ = btf.enumerator("PIDTYPE_TGID");
}

fn explore(btf: &kernel::btf::KernelBtf, r: kernel::btf::TypeRef, depth: usize) {
    use kernel::btf::BtfType;
    // A bounded walk: the target checks the reader, not how fast a fan-out of 32^n is.
    if depth > 3 {
        return;
    }
    let _ = btf.c_spelling(r);
    let _ = btf.size_of(r);
    match btf.resolve(r) {
        Ok((_, BtfType::Ptr { to })) => explore(btf, to, depth + 1),
        Ok((_, BtfType::Array { elem, .. })) => explore(btf, elem, depth + 1),
        Ok((s, BtfType::Struct(c))) => {
            let _ = btf.member_names(s);
            for m in c.members.iter().take(8) {
                let _ = btf.member(s, &m.name);
                explore(btf, m.ty, depth + 1);
            }
        }
        _ => {}
    }
}

/// The decoder of a map's BTF that `beetrace map dump` runs on maps made by any tool: type
/// names, and every type id decoding the input's tail as a value.
pub fn map_btf(bytes: &[u8]) {
    // The first byte says how many 4-byte words of BTF follow; the rest is a value.
    let Some((&words, rest)) = bytes.split_first() else {
        return;
    };
    let (blob, value) = rest.split_at((words as usize * 4).min(rest.len()));
    let Some(reader) = object::map_btf::BtfReader::new(blob) else {
        return;
    };
    for id in 0..64 {
        let _ = reader.name(id);
        let _ = reader.value(id, value);
    }
}

/// The object reader of `beetrace run` (sections, symbols, BTF, relocations, externs) on any
/// bytes, and the section-name parser on each program it finds.
pub fn object(bytes: &[u8]) {
    if let Ok(scan) = loader::scan::scan(bytes) {
        for p in &scan.programs {
            let _ = loader::section::parse(&p.section);
        }
    }
}

/// The ELF symbol reader of uprobes and user stacks on any bytes: symbols by name, by
/// address and by file offset.
pub fn elf_symbols(bytes: &[u8]) {
    let Ok(symbols) =
        kernel::elf_symbols::ElfSymbols::parse(std::path::Path::new("/fuzz/input"), bytes)
    else {
        return;
    };
    let _ = symbols.is_stripped();
    let _ = symbols.build_id();
    for f in symbols.functions().iter().take(64) {
        let _ = symbols.find(&f.name);
        let _ = symbols.symbol_at(f.address.wrapping_add(1));
        if let Some(offset) = symbols.file_offset(f.address) {
            let _ = symbols.symbol_at_file_offset(offset);
        }
    }
    for probe in [0u64, 0x1000, u64::MAX] {
        let _ = symbols.symbol_at(probe);
        let _ = symbols.symbol_at_file_offset(probe);
    }
}
