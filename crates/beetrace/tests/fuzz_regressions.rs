//! Replays every input the fuzzers ever crashed on (`fuzz/regressions/<target>/`) through
//! the same code the fuzz targets run, so a fixed crash stays fixed without libFuzzer.

#[path = "../../../fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::fs;
use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let bytes = fs::read(e.path()).expect("readable regression input");
            (e.path().display().to_string(), bytes)
        })
        .collect()
}

fn replay_text(target: &str, run: fn(&str)) {
    for (path, bytes) in inputs(target) {
        // libFuzzer hands `&str` targets only valid UTF-8 inputs.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            eprintln!("replaying {path}");
            run(text);
        }
    }
}

#[test]
fn parse() {
    replay_text("parse", targets::parse);
}

#[test]
fn compile() {
    replay_text("compile", targets::compile);
}

#[test]
fn editor() {
    replay_text("editor", targets::editor);
}

#[test]
fn tracepoint_format() {
    replay_text("tracepoint_format", targets::tracepoint_format);
}

#[test]
fn decode() {
    for (path, bytes) in inputs("decode") {
        eprintln!("replaying {path}");
        targets::decode(&bytes);
    }
}

#[test]
fn btf() {
    for (path, bytes) in inputs("btf") {
        eprintln!("replaying {path}");
        targets::btf(&bytes);
    }
}

#[test]
fn map_btf() {
    for (path, bytes) in inputs("map_btf") {
        eprintln!("replaying {path}");
        targets::map_btf(&bytes);
    }
}

fn replay_bytes(target: &str, run: fn(&[u8])) {
    for (path, bytes) in inputs(target) {
        eprintln!("replaying {path}");
        run(&bytes);
    }
}

#[test]
fn object() {
    replay_bytes("object", targets::object);
}

#[test]
fn elf_symbols() {
    replay_bytes("elf_symbols", targets::elf_symbols);
}
