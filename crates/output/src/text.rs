//! Plain-text rendering (bpftrace's `output/text.cpp`, `TextOutput::map`).

use crate::format::{Body, Formatted, Value};

fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Prim(p) => p.push_text(out),
        Value::Hist(h) => h.push_text(out),
    }
}

/// `@name: v` for scalars; `@name:` + histogram + blank line for a scalar histogram;
/// `@name[key]: v` per entry, where a histogram value goes on the following lines and is
/// followed by a blank line.
pub(crate) fn map_text(name: &str, f: &Formatted) -> String {
    let mut out = Vec::new();
    match &f.body {
        Body::Single(Value::Hist(h)) => {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b":\n");
            h.push_text(&mut out);
            out.push(b'\n');
        }
        Body::Single(Value::Prim(p)) => {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            p.push_text(&mut out);
            out.push(b'\n');
        }
        Body::Map(rows) => {
            for (k, v) in rows {
                out.extend_from_slice(name.as_bytes());
                out.push(b'[');
                out.extend_from_slice(&k.key_text());
                match v {
                    Value::Prim(_) => out.extend_from_slice(b"]: "),
                    Value::Hist(_) => out.extend_from_slice(b"]:\n"),
                }
                push_value(&mut out, v);
                out.push(b'\n');
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
