//! `beetrace fmt`: the formatter over the whole test corpus (every script of
//! `runtime/*.test` and `differential/*.diff` that parses must format, and format to the
//! same text again: `fmt(fmt(x)) == fmt(x)`; the formatter itself checks that its result
//! parses to the same tree with the same comments, and refuses otherwise), and the command's
//! behaviour on files (`--check`, `-w`, stdin, scripts that do not parse).

#[allow(dead_code)]
#[path = "differential/case.rs"]
mod diff_case;
#[allow(dead_code)]
#[path = "differential/normalise.rs"]
mod normalise;
#[allow(dead_code)]
#[path = "runtime/case.rs"]
mod runtime_case;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
    let mut not_parsing = 0;
    let mut failures = Vec::new();
    for (name, script) in corpus() {
        let (_, diags) = syntax::parse(&script);
        if diags.iter().any(|d| d.is_error()) {
            not_parsing += 1;
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
    eprintln!(
        "{formatted} scripts formatted twice, identically; {not_parsing} do not parse (on purpose)"
    );
}

/// A scratch file holding `text`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, text: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("beetrace-fmt-{}-{name}.bt", std::process::id()));
        std::fs::write(&path, text).expect("write a scratch script");
        Scratch(path)
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.0).expect("read the scratch script")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn fmt(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beetrace"))
        .arg("fmt")
        .args(args)
        .arg(path)
        .output()
        .expect("run beetrace fmt")
}

const MESSY: &str = "BEGIN{printf(\"hi\\n\");exit()} // bye\n";
const TIDY: &str = "BEGIN {\n    printf(\"hi\\n\");\n    exit()\n} // bye\n";

#[test]
fn fmt_prints_checks_and_rewrites() {
    let file = Scratch::new("prints", MESSY);
    let out = fmt(&[], &file.0);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);
    assert_eq!(file.text(), MESSY, "printing must not touch the file");

    let out = fmt(&["--check"], &file.0);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not formatted"), "{stderr}");
    assert_eq!(file.text(), MESSY);

    let out = fmt(&["-w"], &file.0);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(file.text(), TIDY);
    let out = fmt(&["--check"], &file.0);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fmt_reads_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beetrace"))
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run beetrace fmt -");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(MESSY.as_bytes())
        .expect("write the script");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);
}

#[test]
fn fmt_refuses_a_script_that_does_not_parse_and_leaves_it_alone() {
    let broken = "BEGIN { $x = ; }\n";
    let file = Scratch::new("broken", broken);
    let out = fmt(&["-w"], &file.0);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = file.0.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{name}:1:14-15: ERROR: expected an expression, found `;`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("does not parse; it was not formatted"),
        "{stderr}"
    );
    assert_eq!(file.text(), broken);
}
