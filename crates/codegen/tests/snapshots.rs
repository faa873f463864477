//! Disassembly snapshots: each `tests/disasm/NAME.bt` is compiled against a fake kernel and
//! its listing compared with `NAME.disasm`. Run with `BLESS=1` to rewrite the expectations
//! after an intended codegen change (and read the diff).

use std::fs;
use std::path::Path;

use kernel::FakeKernel;

fn compile(source: &str) -> String {
    let (script, diags) = syntax::parse(source);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "parse errors: {diags:?}"
    );
    // kallsyms lists the sample BTF's per-CPU variable, as on a CONFIG_KALLSYMS_ALL kernel.
    let kernel = FakeKernel::new()
        .with_samples()
        .with_symbol("init_task", 0xffff_ffff_8300_0000)
        .with_symbol("runqueues", 0xffff_ffff_8340_0000);
    let (analysis, diags) = sema::analyze(&script, &kernel, &sema::Options::default());
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "sema errors: {diags:?}"
    );
    let compiled = codegen::compile(&analysis).expect("compiles");
    compiled.object.disassemble()
}

#[test]
fn disassembly_matches_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/disasm");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
    {
        cases += 1;
        let source = fs::read_to_string(&path).unwrap();
        let actual = compile(&source);
        let expected_path = path.with_extension("disasm");
        if bless {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                path.display()
            ));
        }
    }
    assert!(cases > 0, "no snapshot cases found in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
