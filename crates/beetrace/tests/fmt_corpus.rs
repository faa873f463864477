//! The formatter over the whole test corpus: every script of `runtime/*.test` and
//! `differential/*.diff` that parses must format, format to the same text again
//! (`fmt(fmt(x)) == fmt(x)`), and keep its meaning (the formatter itself checks that the
//! result parses to the same tree with the same comments, and refuses otherwise).

#[allow(dead_code)]
#[path = "differential/case.rs"]
mod diff_case;
#[allow(dead_code)]
#[path = "differential/normalise.rs"]
mod normalise;
#[allow(dead_code)]
#[path = "runtime/case.rs"]
mod runtime_case;

use std::path::Path;

/// Every script of the corpus, with where it comes from.
fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut scripts = Vec::new();
    for (sub, ext) in [("runtime", "test"), ("differential", "diff")] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .expect("the test corpus directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a readable case file");
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if ext == "test" {
                let cases = runtime_case::parse(&text).expect("a well-formed .test file");
                for case in cases {
                    if let Some(prog) = case.prog {
                        scripts.push((format!("{name}::{}", case.name), prog));
                    }
                }
            } else {
                let cases = diff_case::parse(&text)
                    .unwrap_or_else(|e| panic!("{name}:{}: {}", e.line, e.message));
                for case in cases {
                    scripts.push((format!("{name}::{}", case.name), case.prog));
                    if let Some(prog) = case.bpftrace_prog {
                        scripts.push((format!("{name}::{} (bpftrace)", case.name), prog));
                    }
                }
            }
        }
    }
    scripts
}

#[test]
fn formatting_the_corpus_is_idempotent() {
    let mut formatted = 0;
    let mut failures = Vec::new();
    for (name, script) in corpus() {
        let (_, diags) = syntax::parse(&script);
        if diags.iter().any(|d| d.is_error()) {
            continue;
        }
        let once = match syntax::format::format(&script) {
            Ok(text) => text,
            Err(e) => {
                failures.push(format!("{name}: {e}\n{script}"));
                continue;
            }
        };
        match syntax::format::format(&once) {
            Ok(twice) if twice == once => formatted += 1,
            Ok(twice) => failures.push(format!("{name}: second pass differs\n{once}---\n{twice}")),
            Err(e) => failures.push(format!("{name}: the formatted text fails: {e}\n{once}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The corpus has hundreds of scripts; finding few means the corpus was not read.
    assert!(formatted > 300, "only {formatted} scripts formatted");
    eprintln!("{formatted} scripts formatted twice, identically");
}
