//! Printable atoms (bpftrace's `output::Primitive`): decoded keys and values, and their
//! text and JSON spellings.

use sema::printf::Value;
use sema::Type;

use crate::json::{json_int, json_uint, push_json_string};

/// What bpftrace appends to a string that filled its whole buffer (no NUL inside), the
/// default of its `str_trunc_trailer` config.
pub(crate) const STR_TRUNC_TRAILER: &[u8] = b"..";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Prim {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(Vec<u8>),
    /// Multi-part map keys.
    Tuple(Vec<Prim>),
    /// `stats()` values: named fields.
    Record(Vec<(&'static str, Prim)>),
    /// A histogram label such as `4K`: printed as text, emitted as a number in JSON.
    Symbolic(String, u64),
    /// `Type::None`.
    Null,
}

/// Decodes one value of `ty` from `bytes` the way bpftrace's `format()` does: integers by
/// their width and signedness, strings up to the first NUL with the truncation trailer when
/// the string filled its buffer.
pub(crate) fn decode(ty: Type, bytes: &[u8]) -> Prim {
    match ty {
        Type::Str { len } => {
            let len = len as usize;
            let avail = &bytes[..bytes.len().min(len)];
            let end = avail.iter().position(|&b| b == 0).unwrap_or(avail.len());
            let mut s = avail[..end].to_vec();
            if len > 0 && end == len {
                s.extend_from_slice(STR_TRUNC_TRAILER);
            }
            Prim::Str(s)
        }
        Type::Bool => Prim::Bool(bytes.first().is_some_and(|&b| b != 0)),
        Type::Tuple(tuple) => {
            let values = tuple
                .fields
                .iter()
                .zip(&tuple.offsets)
                .map(|(&field, &offset)| {
                    let start = (offset as usize).min(bytes.len());
                    let end = (start + field.size() as usize).min(bytes.len());
                    decode(field, &bytes[start..end])
                });
            if tuple.names.is_empty() {
                Prim::Tuple(values.collect())
            } else {
                Prim::Record(tuple.names.iter().map(String::as_str).zip(values).collect())
            }
        }
        // The runtime turns cgroup paths, stacks and symbols into strings before printing.
        Type::None | Type::CgroupPath | Type::Stack(_) | Type::Ksym | Type::Usym => Prim::Null,
        // Pad to 8 bytes first: missing bytes read as zero (and `Value::decode` would
        // overflow a shift on an empty slice).
        Type::Inet => match Value::decode(ty, bytes) {
            Value::Str(s) => Prim::Str(s),
            _ => Prim::Null,
        },
        // Kernel pointers print as the address they hold.
        Type::Int { .. } | Type::Ptr { .. } | Type::Object { .. } => {
            match Value::decode(ty, &padded8(bytes)) {
                Value::Int(i) => Prim::Int(i),
                Value::UInt(u) => Prim::UInt(u),
                Value::Str(_) => Prim::Null,
            }
        }
    }
}

fn padded8(bytes: &[u8]) -> [u8; 8] {
    let mut raw = [0u8; 8];
    let n = bytes.len().min(8);
    raw[..n].copy_from_slice(&bytes[..n]);
    raw
}

impl Prim {
    /// bpftrace's text form (`TextEmitter<Primitive>`): strings raw, tuples `(a, b)`,
    /// records `{ .a = 1, .b = 2 }`.
    pub(crate) fn push_text(&self, out: &mut Vec<u8>) {
        match self {
            Prim::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Prim::UInt(u) => out.extend_from_slice(u.to_string().as_bytes()),
            Prim::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Prim::Str(s) => out.extend_from_slice(s),
            Prim::Tuple(parts) => {
                out.push(b'(');
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    p.push_text(out);
                }
                out.push(b')');
            }
            Prim::Record(fields) => {
                if fields.is_empty() {
                    out.extend_from_slice(b"{}");
                    return;
                }
                out.extend_from_slice(b"{ ");
                for (i, (name, p)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.push(b'.');
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b" = ");
                    p.push_text(out);
                }
                out.extend_from_slice(b" }");
            }
            Prim::Symbolic(s, _) => out.extend_from_slice(s.as_bytes()),
            Prim::Null => out.extend_from_slice(b"null"),
        }
    }

    pub(crate) fn text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.push_text(&mut out);
        out
    }

    /// bpftrace's JSON form (`JsonEmitter<Primitive>`): tuples as unspaced arrays, records
    /// as objects, symbolic labels as their number.
    pub(crate) fn push_json(&self, out: &mut Vec<u8>) {
        match self {
            Prim::Int(i) => json_int(out, *i),
            Prim::UInt(u) => json_uint(out, *u),
            Prim::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Prim::Str(s) => push_json_string(out, s),
            Prim::Tuple(parts) => {
                out.push(b'[');
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    p.push_json(out);
                }
                out.push(b']');
            }
            Prim::Record(fields) => {
                out.push(b'{');
                for (i, (name, p)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    push_json_string(out, name.as_bytes());
                    out.extend_from_slice(b": ");
                    p.push_json(out);
                }
                out.push(b'}');
            }
            Prim::Symbolic(_, n) => json_uint(out, *n),
            Prim::Null => out.extend_from_slice(b"null"),
        }
    }

    /// The text of a map key as printed between `[` and `]`: a tuple's parentheses are
    /// dropped (bpftrace strips them from any key whose text starts with `(` and ends
    /// with `)`).
    pub(crate) fn key_text(&self) -> Vec<u8> {
        let mut s = self.text();
        if s.len() >= 2 && s[0] == b'(' && s[s.len() - 1] == b')' {
            s.pop();
            s.remove(0);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_stop_at_nul_and_mark_truncation() {
        assert_eq!(
            decode(Type::Str { len: 8 }, b"bash\0\0\0\0"),
            Prim::Str(b"bash".to_vec())
        );
        assert_eq!(
            decode(Type::Str { len: 4 }, b"bash\0\0\0\0"),
            Prim::Str(b"bash..".to_vec())
        );
        // Short buffer: no trailer, no panic.
        assert_eq!(
            decode(Type::Str { len: 16 }, b"ab"),
            Prim::Str(b"ab".to_vec())
        );
    }

    #[test]
    fn ints_by_width_and_sign() {
        let b = (-5i64).to_le_bytes();
        assert_eq!(decode(Type::I64, &b), Prim::Int(-5));
        assert_eq!(
            decode(
                Type::Int {
                    bytes: 4,
                    signed: true
                },
                &b
            ),
            Prim::Int(-5)
        );
        assert_eq!(decode(Type::U32, &b), Prim::UInt(0xffff_fffb));
        assert_eq!(decode(Type::U64, &[]), Prim::UInt(0));
        assert_eq!(decode(Type::Bool, &[1, 0]), Prim::Bool(true));
    }

    #[test]
    fn tuples_decode_field_by_field() {
        let t = Type::Tuple(sema::types::TupleType::intern(vec![
            Type::I64,
            Type::Str { len: 3 },
            Type::Bool,
        ]));
        let mut bytes = (-2i64).to_le_bytes().to_vec();
        bytes.extend_from_slice(b"hi\0\0\0\0\0\0");
        bytes.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        let p = decode(t, &bytes);
        assert_eq!(p.text(), b"(-2, hi, true)");
        let mut json = Vec::new();
        p.push_json(&mut json);
        assert_eq!(json, br#"[-2,"hi",true]"#);
    }

    #[test]
    fn text_forms() {
        let t = Prim::Tuple(vec![Prim::Str(b"bash".to_vec()), Prim::Int(123)]);
        assert_eq!(t.text(), b"(bash, 123)");
        assert_eq!(t.key_text(), b"bash, 123");
        let r = Prim::Record(vec![("count", Prim::UInt(3)), ("average", Prim::Int(-1))]);
        assert_eq!(r.text(), b"{ .count = 3, .average = -1 }");
        assert_eq!(Prim::Record(vec![]).text(), b"{}");
    }

    #[test]
    fn json_forms() {
        let mut out = Vec::new();
        Prim::Tuple(vec![Prim::Int(1), Prim::Str(b"a\"b".to_vec())]).push_json(&mut out);
        assert_eq!(out, br#"[1,"a\"b"]"#);
        out.clear();
        Prim::Record(vec![("count", Prim::UInt(2)), ("total", Prim::Int(12))]).push_json(&mut out);
        assert_eq!(out, br#"{"count": 2, "total": 12}"#);
        out.clear();
        Prim::Symbolic("1K".into(), 1024).push_json(&mut out);
        assert_eq!(out, b"1024");
    }
}
