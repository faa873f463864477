//! `-f json` rendering (bpftrace's `output/json.cpp`): one NDJSON line per map or value.

use crate::format::{Body, Formatted, Value};

/// Appends `s` as a quoted JSON string, escaping exactly the way bpftrace 0.26 does:
/// `\"`, `\\`, `\n`, `\r`, `\t`, other bytes below 0x20 as `\u00XX`. Bytes >= 0x80 are
/// also written as `\u` escapes of the sign-extended `char` (`é` → `\uffffffc3\uffffffa9`),
/// because bpftrace compares a signed `char` with `'\x1f'`; the result is still valid
/// JSON (a `\uffff` escape followed by literal hex digits), just not readable text.
pub(crate) fn push_json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            0x80..=0xff => {
                out.extend_from_slice(format!("\\u{:04x}", c as i8 as i32 as u32).as_bytes())
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// An integer as bpftrace writes it: a bare number when a double holds it exactly,
/// otherwise a quoted string (RFC 8259 interoperability).
pub(crate) fn json_int(out: &mut Vec<u8>, v: i64) {
    let exact = (v as f64) as i128 == v as i128;
    if exact {
        out.extend_from_slice(v.to_string().as_bytes());
    } else {
        push_json_string(out, v.to_string().as_bytes());
    }
}

pub(crate) fn json_uint(out: &mut Vec<u8>, v: u64) {
    let exact = (v as f64) < 1.844_674_407_370_955_2e19 && (v as f64) as u64 == v;
    if exact {
        out.extend_from_slice(v.to_string().as_bytes());
    } else {
        push_json_string(out, v.to_string().as_bytes());
    }
}

fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Prim(p) => p.push_json(out),
        Value::Hist(h) => h.push_json(out),
    }
}

/// A JSON object key for a map key: its text form with a tuple's parentheses stripped
/// and every space removed (`(1, "x y")` → `"1,xy"`), as bpftrace 0.26 does.
fn push_key(out: &mut Vec<u8>, key: &crate::prim::Prim) {
    let mut s = key.key_text();
    s.retain(|&b| b != b' ');
    push_json_string(out, &s);
}

/// The `{"type": ..., "data": {"@name": ...}}` line; empty when bpftrace prints nothing
/// (a plain keyed/scalar map without entries — a `stats`/`avg` map without entries still
/// prints `{}`, like bpftrace).
pub(crate) fn map_line(name: &str, f: &Formatted) -> String {
    let ty = match &f.body {
        _ if f.stats => "stats",
        Body::Map(rows) if rows.is_empty() => return String::new(),
        Body::Single(Value::Hist(_)) => "hist",
        Body::Map(rows) if matches!(rows[0].1, Value::Hist(_)) => "hist",
        _ => "map",
    };
    let mut out = Vec::new();
    out.extend_from_slice(format!("{{\"type\": \"{ty}\", \"data\": {{").as_bytes());
    push_json_string(&mut out, name.as_bytes());
    out.extend_from_slice(b": ");
    match &f.body {
        Body::Single(v) => push_value(&mut out, v),
        Body::Map(rows) => {
            out.push(b'{');
            for (i, (k, v)) in rows.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                push_key(&mut out, k);
                out.extend_from_slice(b": ");
                push_value(&mut out, v);
            }
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"}}\n");
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_json_string(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_bpftrace() {
        // tests/runtime/json-output printf_escaping
        assert_eq!(
            s(b"test \r \n \t \\ \" bar"),
            r#""test \r \n \t \\ \" bar""#
        );
        assert_eq!(s(b"a\x01b\x1f"), r#""a\u0001b\u001f""#);
        assert_eq!(s(b"\x7f"), "\"\x7f\"");
        // bpftrace 0.17/0.26 on x86: signed char escapes (checked against real output).
        assert_eq!(s("é".as_bytes()), r#""\uffffffc3\uffffffa9""#);
    }

    #[test]
    fn large_integers_become_strings() {
        let mut out = Vec::new();
        json_uint(&mut out, 1 << 53);
        out.push(b' ');
        json_uint(&mut out, (1 << 53) + 1);
        out.push(b' ');
        json_uint(&mut out, u64::MAX);
        out.push(b' ');
        json_int(&mut out, i64::MIN);
        out.push(b' ');
        json_int(&mut out, i64::MAX);
        out.push(b' ');
        json_int(&mut out, -5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"9007199254740992 "9007199254740993" "18446744073709551615" -9223372036854775808 "9223372036854775807" -5"#
        );
    }
}
