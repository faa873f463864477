//! Typed values of foreign BPF objects (`beetrace run`): map keys and values, globals and
//! ring-buffer records decoded through the object's BTF, and how they print as text and as
//! JSON. The text forms follow bpftrace's look (`@map[key]: value`, structs as
//! `{ .field = value }`); the JSON forms are standard JSON.

/// A decoded value. Integers keep their signedness; `Bytes` is what BTF could not type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Bool(bool),
    Float(f64),
    Str(String),
    Pointer(u64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// Text form: integers in decimal, pointers in hex, strings as they are inside map keys
    /// and as bare text elsewhere is up to the caller, bytes as space-separated hex pairs,
    /// arrays `[a, b]`, structs `{ .a = 1, .b = 2 }`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.push_text(&mut out);
        out
    }

    fn push_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Uint(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            Value::Float(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Str(s) => out.push_str(s),
            Value::Pointer(p) => {
                let _ = write!(out, "{p:#x}");
            }
            Value::Bytes(b) => out.push_str(&hex(b)),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.push_text(out);
                }
                out.push(']');
            }
            Value::Struct(fields) => {
                out.push_str("{ ");
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, ".{name} = ");
                    v.push_text(out);
                }
                out.push_str(" }");
            }
        }
    }

    /// JSON form: numbers, booleans, strings; pointers and untyped bytes as hex strings;
    /// arrays; structs as objects.
    pub fn json(&self) -> String {
        let mut out = String::new();
        self.push_json(&mut out);
        out
    }

    fn push_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Uint(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            Value::Float(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Value::Float(_) => out.push_str("null"),
            Value::Str(s) => out.push_str(&json_str(s)),
            Value::Pointer(p) => out.push_str(&json_str(&format!("{p:#x}"))),
            Value::Bytes(b) => out.push_str(&json_str(&hex(b))),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.push_json(out);
                }
                out.push(']');
            }
            Value::Struct(fields) => {
                out.push('{');
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&json_str(name));
                    out.push_str(": ");
                    v.push_json(out);
                }
                out.push('}');
            }
        }
    }

    /// True for zero integers and all-zero bytes and aggregates (array-map slots never
    /// written are skipped in dumps).
    pub fn is_zero(&self) -> bool {
        match self {
            Value::Int(v) => *v == 0,
            Value::Uint(v) | Value::Pointer(v) => *v == 0,
            Value::Bool(v) => !v,
            Value::Float(v) => *v == 0.0,
            Value::Str(s) => s.is_empty(),
            Value::Bytes(b) => b.iter().all(|&x| x == 0),
            Value::Array(items) => items.iter().all(Value::is_zero),
            Value::Struct(fields) => fields.iter().all(|(_, v)| v.is_zero()),
        }
    }
}

/// Space-separated lowercase hex pairs, as bpftool prints raw bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `s` as a standard JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_forms() {
        let v = Value::Struct(vec![
            ("pid".into(), Value::Int(-1)),
            ("comm".into(), Value::Str("a\"b".into())),
            ("raw".into(), Value::Bytes(vec![0xde, 0xad])),
            (
                "list".into(),
                Value::Array(vec![Value::Uint(1), Value::Bool(true)]),
            ),
        ]);
        assert_eq!(
            v.text(),
            "{ .pid = -1, .comm = a\"b, .raw = de ad, .list = [1, true] }"
        );
        assert_eq!(
            v.json(),
            r#"{"pid": -1, "comm": "a\"b", "raw": "de ad", "list": [1, true]}"#
        );
        assert!(!v.is_zero());
        assert!(Value::Array(vec![Value::Uint(0), Value::Bytes(vec![0])]).is_zero());
    }
}
