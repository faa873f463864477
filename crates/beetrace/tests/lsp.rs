//! The language server driven through its stdio, as an editor drives it: real LSP messages
//! (initialize, didOpen, didChange, completion, hover, definition, documentSymbol,
//! formatting, shutdown, exit) to `beetrace lsp`, and checks of its answers.
//!
//! Answers that need the running kernel (tracepoint lists, BTF types) are checked only when
//! tracefs and BTF can be read (root); without them those checks say why they are skipped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// A minimal LSP client over the server's stdin and stdout.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications read while waiting for a response.
    pending: VecDeque<Value>,
}

const URI: &str = "file:///tmp/script.bt";

impl Client {
    /// Starts `beetrace lsp` and completes the `initialize` handshake.
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_beetrace"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start beetrace lsp");
        // A server that stops answering must not hang the test run.
        let pid = child.id() as i32;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(120));
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut client = Client {
            child,
            stdin,
            stdout,
            next_id: 1,
            pending: VecDeque::new(),
        };
        let caps = client.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        assert_eq!(caps["capabilities"]["hoverProvider"], json!(true), "{caps}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn read(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read a header");
            assert!(n > 0, "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = Some(v.parse::<usize>().expect("a length"));
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        self.stdout.read_exact(&mut body).expect("read a body");
        serde_json::from_slice(&body).expect("a JSON body")
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its result (failing on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.read();
            if msg.get("id") == Some(&json!(id)) {
                assert!(msg.get("error").is_none(), "{method} failed: {msg}");
                return msg["result"].clone();
            }
            self.pending.push_back(msg);
        }
    }

    /// The next diagnostics published for the document.
    fn diagnostics(&mut self) -> Vec<Value> {
        loop {
            let msg = match self.pending.pop_front() {
                Some(m) => m,
                None => self.read(),
            };
            if msg["method"] == "textDocument/publishDiagnostics" {
                assert_eq!(msg["params"]["uri"], URI);
                return msg["params"]["diagnostics"]
                    .as_array()
                    .expect("a diagnostics array")
                    .clone();
            }
        }
    }

    fn open(&mut self, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": URI, "languageId": "bpftrace", "version": 1, "text": text}}),
        );
        self.diagnostics()
    }

    fn change(&mut self, version: i32, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"text": text}]}),
        );
        self.diagnostics()
    }

    /// A request at the position of the first `marker` in `text` (just after it).
    fn at(&mut self, method: &str, text: &str, marker: &str) -> Value {
        let (line, character) = after(text, marker);
        self.request(
            method,
            json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}}),
        )
    }

    /// Completion labels (with their details) just after `marker`.
    fn complete(&mut self, text: &str, marker: &str) -> Vec<(String, String)> {
        let items = self.at("textDocument/completion", text, marker);
        items
            .as_array()
            .expect("a completion list")
            .iter()
            .map(|i| {
                let label = i["label"].as_str().unwrap_or_default().to_string();
                let detail = i["detail"].as_str().unwrap_or_default().to_string();
                (label, detail)
            })
            .collect()
    }

    /// `exit` without `shutdown`: the server must stop with status 1.
    fn exit_abruptly(mut self) {
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("wait for the server");
        assert_eq!(status.code(), Some(1));
    }

    /// `shutdown` then `exit`: the server must stop with status 0.
    fn shutdown(mut self) {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("wait for the server");
        assert!(status.success(), "beetrace lsp exited with {status}");
    }
}

/// Line and (ASCII) column just after the first `marker` in `text`.
fn after(text: &str, marker: &str) -> (usize, usize) {
    let at = text.find(marker).unwrap_or_else(|| panic!("no {marker:?}")) + marker.len();
    let line = text[..at].matches('\n').count();
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, column)
}

fn has(items: &[(String, String)], label: &str) -> bool {
    items.iter().any(|(l, _)| l == label)
}

fn detail<'a>(items: &'a [(String, String)], label: &str) -> &'a str {
    items.iter().find(|(l, _)| l == label).map_or_else(
        || panic!("no completion {label:?} in {items:?}"),
        |(_, d)| d,
    )
}

/// Why kernel-dependent answers cannot be checked here, if they cannot.
fn kernel_missing() -> Option<&'static str> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root to read tracefs");
    }
    if std::fs::metadata("/sys/kernel/btf/vmlinux").is_err() {
        return Some("the kernel has no BTF");
    }
    None
}

/// The `ERROR: ...` messages the command line prints for `script`.
fn cli_errors(script: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_beetrace"))
        .args(["-e", script])
        .output()
        .expect("run beetrace");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split_once(": ERROR: ").map(|(_, m)| m.to_string()))
        .collect()
}

#[test]
fn diagnostics_follow_every_change_and_match_the_command_line() {
    let mut c = Client::start();
    // Half typed: three mistakes, all reported at once.
    let broken = "BEGIN { $x = ; printf(\"%d\\n\" pid); }\nEND { @a[1 = 2; }\n";
    let diags = c.open(broken);
    let messages: Vec<&str> = diags
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(diags.len() >= 3, "{diags:#?}");
    let cli = cli_errors(broken);
    let first_lines: Vec<&str> = messages.iter().map(|m| m.lines().next().unwrap()).collect();
    assert_eq!(first_lines, cli, "the editor and the command line disagree");
    assert_eq!(diags[0]["severity"], 1);
    assert_eq!(
        diags[0]["range"]["start"],
        json!({"line": 0, "character": 13})
    );
    assert_eq!(diags[0]["source"], "beetrace");

    // Fixed: nothing to report.
    let diags = c.change(2, "BEGIN { $x = 1; printf(\"%d\\n\", $x); exit(); }\n");
    assert_eq!(diags, Vec::<Value>::new());

    // Errors from sema. The command line only gets to sema with tracefs (root).
    let text = "BEGIN {\n  $s = \"a\";\n  $s = 1;\n  prinft(\"x\");\n}\n";
    let diags = c.change(3, text);
    let first_lines: Vec<&str> = diags
        .iter()
        .map(|d| d["message"].as_str().unwrap().lines().next().unwrap())
        .collect();
    assert_eq!(first_lines.len(), 2, "{diags:#?}");
    match kernel_missing() {
        None => assert_eq!(first_lines, cli_errors(text)),
        Some(why) => eprintln!("not compared with the command line: {why}"),
    }
    let unknown = diags
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("prinft"))
        .expect("the misspelt call is reported");
    assert_eq!(
        unknown["range"]["start"],
        json!({"line": 3, "character": 2})
    );

    // Hints follow the message, as the command line prints them under the code frame.
    let diags = c.change(4, "BEGIN { }\nfoo:bar { }\n");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let message = diags[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown probe type 'foo'\nHINT: probe types: begin, end,"),
        "{message}"
    );
    assert_eq!(
        diags[0]["range"],
        json!({"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 7}})
    );
    c.shutdown();
}

#[test]
fn completion_offers_what_fits_the_cursor() {
    let mut c = Client::start();
    let text = "\nBEGIN { $count = 1; @opens[comm] = count(); $ }\nEND { @ }\n";
    c.open(text);
    let at_top = c.complete(text, "\n");
    assert!(
        has(&at_top, "tracepoint") && has(&at_top, "rawtracepoint"),
        "{at_top:?}"
    );
    assert!(has(&at_top, "interval") && has(&at_top, "BEGIN"));

    let vars = c.complete(text, "count(); $");
    assert_eq!(vars, vec![("count".to_string(), String::new())]);
    let maps = c.complete(text, "END { @");
    assert_eq!(maps, vec![("opens".to_string(), String::new())]);
    let words = c.complete(text, "BEGIN { ");
    assert!(
        detail(&words, "printf").starts_with("printf(fmt"),
        "{words:?}"
    );
    assert_eq!(detail(&words, "pid"), "pid: uint32");

    if let Some(why) = kernel_missing() {
        eprintln!("kernel completions not checked: {why}");
        c.shutdown();
        return;
    }
    let text = "tracepoint:sch";
    c.change(2, text);
    let categories = c.complete(text, "tracepoint:sch");
    assert!(has(&categories, "sched") && has(&categories, "syscalls"));
    let text = "tracepoint:sched:";
    c.change(3, text);
    let names = c.complete(text, "sched:");
    assert_eq!(
        detail(&names, "sched_switch"),
        "tracepoint:sched:sched_switch"
    );
    assert!(!has(&names, "sys_enter_openat"));
    let text = "rt:sched_";
    c.change(4, text);
    let raw = c.complete(text, "rt:");
    assert!(
        has(&raw, "sched_switch") && has(&raw, "sys_enter"),
        "{} items",
        raw.len()
    );

    let text = "tracepoint:sched:sched_switch { printf(\"%s\\n\", args.); }\n\
                rawtracepoint:sched_switch { printf(\"%s\\n\", args.prev->); }\n\
                rawtracepoint:sched_switch { $t = args.next; print($t->se.); }\n";
    c.change(5, text);
    let fields = c.complete(text, "args.");
    assert_eq!(detail(&fields, "prev_comm"), "char[16]");
    assert_eq!(detail(&fields, "next_pid"), "pid_t");
    let raw_args = c.complete(text, "rawtracepoint:sched_switch { printf(\"%s\\n\", args.");
    assert_eq!(detail(&raw_args, "prev"), "struct task_struct *");
    let members = c.complete(text, "args.prev->");
    assert_eq!(detail(&members, "comm"), "char[16]");
    assert_eq!(detail(&members, "pid"), "pid_t");
    let nested = c.complete(text, "$t->se.");
    assert_eq!(detail(&nested, "vruntime"), "u64");
    c.shutdown();
}

#[test]
fn hover_definition_symbols_and_formatting() {
    let mut c = Client::start();
    let text = "let @seen = hash(100);\n\
                BEGIN {\n    $x = 1 + 2;\n    @seen[pid] = $x;\n    printf(\"%d\\n\", $x * 2);\n    exit();\n}\n";
    let diags = c.open(text);
    assert_eq!(diags, Vec::<Value>::new());

    let hover = c.at("textDocument/hover", text, "@seen[pi");
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("pid: uint32"), "{value}");
    assert!(value.contains("Process id"), "{value}");
    let hover = c.at("textDocument/hover", text, "$x *");
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("$x * 2: int64"),
        "{hover}"
    );

    // Assignment targets: the variable's type, the map's layout.
    let hover = c.at("textDocument/hover", text, "    $");
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("$x: int64"),
        "{hover}"
    );
    let hover = c.at("textDocument/hover", text, "    @se");
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("@seen[uint64]: int64"), "{value}");

    // From the `$` itself as from the name.
    let def = c.at("textDocument/definition", text, "printf(\"%d\\n\", ");
    assert_eq!(def["range"]["start"], json!({"line": 2, "character": 4}));
    let def = c.at("textDocument/definition", text, "printf(\"%d\\n\", $");
    assert_eq!(def["uri"], URI);
    assert_eq!(def["range"]["start"], json!({"line": 2, "character": 4}));
    let def = c.at("textDocument/definition", text, "    @se");
    assert_eq!(def["range"]["start"], json!({"line": 0, "character": 4}));

    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["BEGIN", "@seen"]);

    let messy = "BEGIN{@seen[pid]=1}";
    c.change(2, messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"], "BEGIN {\n    @seen[pid] = 1;\n}\n");

    if kernel_missing().is_none() {
        let text = "rawtracepoint:sched_switch { printf(\"%s\\n\", args.prev->comm); }\n";
        c.change(3, text);
        let hover = c.at("textDocument/hover", text, "args.prev->co");
        let value = hover["contents"]["value"].as_str().unwrap();
        assert!(value.contains("args.prev->comm: char[16]"), "{value}");
        let hover = c.at("textDocument/hover", text, "args.pr");
        let value = hover["contents"]["value"].as_str().unwrap();
        assert!(value.contains("args.prev: struct task_struct *"), "{value}");
    }
    c.shutdown();
}

#[test]
fn exit_without_shutdown_is_status_1() {
    Client::start().exit_abruptly();
}

#[test]
fn macros_are_found_and_listed() {
    let mut c = Client::start();
    let text = "macro twice(x) { x * 2 }\nBEGIN { @ = twice(3); $y = twice(@); }\n";
    c.open(text);
    let def = c.at("textDocument/definition", text, "@ = twi");
    assert_eq!(
        def["range"],
        json!({"start": {"line": 0, "character": 6}, "end": {"line": 0, "character": 11}})
    );
    // The anonymous map is defined by its first assignment.
    let def = c.at("textDocument/definition", text, "$y = twice(");
    assert_eq!(def["range"]["start"], json!({"line": 1, "character": 8}));
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let names: Vec<(&str, i64)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["kind"].as_i64().unwrap()))
        .collect();
    // LSP symbol kinds: 12 function, 24 event, 13 variable.
    assert_eq!(names, vec![("twice", 12), ("BEGIN", 24), ("@", 13)]);
    c.shutdown();
}
