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

/// The instruction decoder (used on programs read back from the kernel) on any bytes.
pub fn decode(bytes: &[u8]) {
    let _ = object::insn::decode(bytes);
}

/// The parser of tracefs `format` files on any text.
pub fn tracepoint_format(text: &str) {
    let kernel = kernel::FakeKernel::new().with_tracepoint("fuzz", "event", text);
    let _ = kernel.tracepoint_format("fuzz", "event");
}
