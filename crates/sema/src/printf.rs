//! `printf` format strings: parsed and checked against the argument types at compile time,
//! rendered in user space from the values an event carries.

use crate::types::Type;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Literal(Vec<u8>),
    Spec(Spec),
}

/// One `%[flags][width][.precision][length]conv` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    pub conv: u8,
    /// How many bits of an integer argument are printed: C's `int` (32) without a length
    /// modifier, 8 for `hh`, 16 for `h`, 64 for `l`, `ll`, `z`, `j`, `t`, as bpftrace does.
    pub bits: u8,
    /// Byte range of the directive inside the format string, for diagnostics.
    pub start: usize,
    pub end: usize,
}

impl Spec {
    /// Whether the directive takes an integer (as opposed to a string).
    pub fn wants_integer(&self) -> bool {
        self.conv != b's'
    }
}

/// Parses a format; the error says which directive is malformed and where.
pub fn parse(format: &[u8]) -> Result<Vec<Piece>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < format.len() {
        let c = format[i];
        if c != b'%' {
            literal.push(c);
            i += 1;
            continue;
        }
        if format.get(i + 1) == Some(&b'%') {
            literal.push(b'%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: None,
            precision: None,
            conv: 0,
            bits: 32,
            start,
            end: start,
        };
        while let Some(&f) = format.get(i) {
            match f {
                b'-' => spec.left = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let number = |i: &mut usize| -> Option<usize> {
            let begin = *i;
            while format.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            std::str::from_utf8(&format[begin..*i]).ok()?.parse().ok()
        };
        spec.width = number(&mut i);
        if format.get(i) == Some(&b'.') {
            i += 1;
            spec.precision = Some(number(&mut i).unwrap_or(0));
        }
        let mut length = Vec::new();
        while let Some(&l) = format.get(i) {
            if matches!(l, b'h' | b'l' | b'z' | b'j' | b't') {
                length.push(l);
                i += 1;
            } else {
                break;
            }
        }
        spec.bits = match length.as_slice() {
            [] => 32,
            [b'h', b'h'] => 8,
            [b'h'] => 16,
            _ => 64,
        };
        match format.get(i) {
            Some(&conv @ (b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b's' | b'c' | b'p')) => {
                spec.conv = conv;
                i += 1;
            }
            Some(&other) => {
                return Err((
                    start,
                    format!(
                        "printf: unknown conversion '%{}'; use one of %d %i %u %x %X %o %s %c %p",
                        other as char
                    ),
                ))
            }
            None => return Err((start, "printf: format ends inside a '%' directive".into())),
        }
        spec.end = i;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Spec(spec));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// A value as it arrives from the kernel, ready to be formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    UInt(u64),
    Str(Vec<u8>),
}

impl Value {
    /// Decodes a value of `ty` from its bytes in an event record.
    pub fn decode(ty: Type, bytes: &[u8]) -> Value {
        match ty {
            Type::Str { .. } => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                Value::Str(bytes[..end].to_vec())
            }
            Type::Int { bytes: n, signed } => {
                let mut raw = [0u8; 8];
                let n = (n as usize).min(bytes.len());
                raw[..n].copy_from_slice(&bytes[..n]);
                let v = u64::from_le_bytes(raw);
                if n == 0 {
                    return if signed {
                        Value::Int(0)
                    } else {
                        Value::UInt(0)
                    };
                }
                if signed {
                    let shift = 64 - 8 * n as u32;
                    Value::Int(((v << shift) as i64) >> shift)
                } else {
                    Value::UInt(v)
                }
            }
            Type::Bool => Value::UInt(bytes.first().map_or(0, |&b| (b != 0) as u64)),
            Type::Ptr { .. } | Type::Object { .. } => Value::decode(Type::U64, bytes),
            // Turned into text (paths, symbols, frames) by the runtime before formatting.
            // Sema keeps tuples out of printf; print() formats them through `output`.
            Type::None
            | Type::CgroupPath
            | Type::Tuple(_)
            | Type::Stack(_)
            | Type::Ksym
            | Type::Usym => Value::UInt(0),
            Type::Inet => Value::Str(inet_text(bytes)),
        }
    }
}

/// The text of an `ntop()` value: family, then the address bytes in network order.
fn inet_text(bytes: &[u8]) -> Vec<u8> {
    const AF_INET: u64 = 2;
    const AF_INET6: u64 = 10;
    let mut raw = [0u8; 24];
    let n = bytes.len().min(24);
    raw[..n].copy_from_slice(&bytes[..n]);
    let family = u64::from_le_bytes(raw[..8].try_into().expect("8 bytes"));
    let addr = &raw[8..];
    match family {
        AF_INET => std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])
            .to_string()
            .into_bytes(),
        AF_INET6 => {
            let octets: [u8; 16] = addr.try_into().expect("16 bytes");
            std::net::Ipv6Addr::from(octets).to_string().into_bytes()
        }
        other => format!("<address family {other}>").into_bytes(),
    }
}

fn pad(out: &mut Vec<u8>, body: &[u8], spec: &Spec, allow_zero: bool) {
    let width = spec.width.unwrap_or(0);
    if body.len() >= width {
        out.extend_from_slice(body);
        return;
    }
    let fill = width - body.len();
    if spec.left {
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.zero && allow_zero {
        // Zeros go after any sign or 0x prefix.
        let prefix = body
            .iter()
            .take_while(|&&b| b == b'-' || b == b'+' || b == b' ')
            .count();
        let prefix = if body[prefix..].starts_with(b"0x") || body[prefix..].starts_with(b"0X") {
            prefix + 2
        } else {
            prefix
        };
        out.extend_from_slice(&body[..prefix]);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(&body[prefix..]);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(body);
    }
}

/// The integer truncated to the directive's width, as C's printf sees it after the cast
/// bpftrace applies (`%d` of -1 as a 64-bit value is still -1; `%u` of it is 4294967295).
fn narrowed(spec: &Spec, value: &Value) -> Value {
    if spec.bits >= 64 || spec.conv == b'p' || spec.conv == b's' {
        return value.clone();
    }
    let raw = match value {
        Value::Int(i) => *i as u64,
        Value::UInt(u) => *u,
        Value::Str(_) => return value.clone(),
    };
    let shift = 64 - spec.bits as u32;
    match spec.conv {
        b'd' | b'i' => Value::Int(((raw << shift) as i64) >> shift),
        _ => Value::UInt((raw << shift) >> shift),
    }
}

fn format_one(out: &mut Vec<u8>, spec: &Spec, value: &Value) {
    let value = &narrowed(spec, value);
    let as_u64 = |v: &Value| match v {
        Value::Int(i) => *i as u64,
        Value::UInt(u) => *u,
        Value::Str(_) => 0,
    };
    let body: Vec<u8> = match (spec.conv, value) {
        (b's', Value::Str(s)) => {
            let s = match spec.precision {
                Some(p) if p < s.len() => &s[..p],
                _ => &s[..],
            };
            s.to_vec()
        }
        (b's', v) => as_u64(v).to_string().into_bytes(),
        (b'c', v) => vec![as_u64(v) as u8],
        (b'd' | b'i', v) => {
            let n = match v {
                Value::Int(i) => *i as i128,
                Value::UInt(u) => *u as i64 as i128,
                Value::Str(_) => 0,
            };
            let mut s = n.unsigned_abs().to_string();
            if let Some(p) = spec.precision {
                while s.len() < p {
                    s.insert(0, '0');
                }
            }
            let sign = if n < 0 {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            format!("{sign}{s}").into_bytes()
        }
        (conv, v) => {
            let n = as_u64(v);
            let mut s = match conv {
                b'x' => format!("{n:x}"),
                b'X' => format!("{n:X}"),
                b'o' => format!("{n:o}"),
                b'p' => format!("0x{n:x}"),
                _ => n.to_string(),
            };
            if let Some(p) = spec.precision {
                while s.len() < p {
                    s.insert(0, '0');
                }
            }
            if spec.alt && n != 0 {
                match conv {
                    b'x' => s.insert_str(0, "0x"),
                    b'X' => s.insert_str(0, "0X"),
                    b'o' => s.insert(0, '0'),
                    _ => {}
                }
            }
            s.into_bytes()
        }
    };
    pad(
        out,
        &body,
        spec,
        spec.conv != b's' && spec.precision.is_none(),
    );
}

/// Renders the pieces with one value per directive, in order.
pub fn render(pieces: &[Piece], values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut values = values.iter();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.extend_from_slice(text),
            Piece::Spec(spec) => {
                let v = values.next().cloned().unwrap_or(Value::UInt(0));
                format_one(&mut out, spec, &v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(format: &str, values: &[Value]) -> String {
        String::from_utf8(render(&parse(format.as_bytes()).unwrap(), values)).unwrap()
    }

    #[test]
    fn integers_like_c() {
        assert_eq!(
            fmt(
                "%d|%5d|%-5d|%05d",
                &[
                    Value::Int(-3),
                    Value::Int(42),
                    Value::Int(7),
                    Value::Int(-42)
                ]
            ),
            "-3|   42|7    |-0042"
        );
        assert_eq!(
            fmt(
                "%x %X %o %#x %u",
                &[
                    Value::UInt(255),
                    Value::UInt(255),
                    Value::UInt(8),
                    Value::UInt(255),
                    Value::Int(-1)
                ]
            ),
            "ff FF 10 0xff 4294967295"
        );
        assert_eq!(
            fmt(
                "%ld %lu %llu %lx %i",
                &[
                    Value::Int(-5),
                    Value::UInt(5),
                    Value::UInt(6),
                    Value::UInt(16),
                    Value::Int(9)
                ]
            ),
            "-5 5 6 10 9"
        );
        assert_eq!(fmt("%c%c", &[Value::UInt(65), Value::UInt(66)]), "AB");
        assert_eq!(fmt("%p", &[Value::UInt(0x1000)]), "0x1000");
    }

    #[test]
    fn integers_are_narrowed_to_the_length_modifier_like_bpftrace() {
        let m1 = || Value::Int(-1);
        assert_eq!(
            fmt("%d %u %x %o", &[m1(), m1(), m1(), m1()]),
            "-1 4294967295 ffffffff 37777777777"
        );
        assert_eq!(
            fmt("%ld %lu %llx", &[m1(), m1(), m1()]),
            "-1 18446744073709551615 ffffffffffffffff"
        );
        assert_eq!(
            fmt("%hd %hhu %hx", &[Value::Int(70000), Value::Int(300), m1()]),
            "4464 44 ffff"
        );
        assert_eq!(fmt("%d", &[Value::Int(i64::MIN)]), "0");
        assert_eq!(fmt("%p", &[m1()]), "0xffffffffffffffff");
    }

    #[test]
    fn strings_with_width_and_precision() {
        let s = || Value::Str(b"bash".to_vec());
        assert_eq!(
            fmt("[%s][%8s][%-8s][%.2s]", &[s(), s(), s(), s()]),
            "[bash][    bash][bash    ][ba]"
        );
        assert_eq!(fmt("100%%", &[]), "100%");
    }

    #[test]
    fn bad_directives_are_errors() {
        assert!(parse(b"%q")
            .unwrap_err()
            .1
            .contains("unknown conversion '%q'"));
        assert!(parse(b"abc %").is_err());
        assert!(parse(b"%-08.3lld").is_ok());
    }

    #[test]
    fn decode_sign_extends() {
        assert_eq!(
            Value::decode(
                Type::Int {
                    bytes: 4,
                    signed: true
                },
                &[0xff, 0xff, 0xff, 0xff]
            ),
            Value::Int(-1)
        );
        assert_eq!(
            Value::decode(
                Type::Int {
                    bytes: 4,
                    signed: false
                },
                &[0xff, 0xff, 0xff, 0xff]
            ),
            Value::UInt(0xffff_ffff)
        );
        assert_eq!(
            Value::decode(Type::Str { len: 8 }, b"ab\0cd\0\0\0"),
            Value::Str(b"ab".to_vec())
        );
    }
}
