//! Parser for tracefs `events/<category>/<name>/format` files.
//!
//! The file gives offset, size and signedness of each field, so we never need
//! to know C type sizes except to split an array's size into elements when
//! the declared dimension is not a plain number.

use std::path::Path;

use crate::{FieldKind, KernelError, TracepointField, TracepointFormat};

pub(crate) fn parse(
    category: &str,
    name: &str,
    text: &str,
    path: &Path,
) -> Result<TracepointFormat, KernelError> {
    let mut id: Option<u32> = None;
    let mut fields = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        // The print format may span several lines and contain anything.
        if t.starts_with("print fmt:") {
            break;
        }
        if let Some(rest) = t.strip_prefix("ID:") {
            let v = rest.trim();
            id = Some(v.parse().map_err(|_| KernelError::BadFormat {
                path: path.to_path_buf(),
                reason: format!("ID line has no number: {t:?}"),
            })?);
        } else if t.starts_with("field") {
            if let Some(f) = parse_field_line(t) {
                fields.push(f);
            }
        }
    }
    let id = id.ok_or_else(|| KernelError::BadFormat {
        path: path.to_path_buf(),
        reason: "no `ID:` line".to_string(),
    })?;
    Ok(TracepointFormat {
        category: category.to_string(),
        name: name.to_string(),
        id,
        fields,
    })
}

/// `field:const char * filename;\toffset:24;\tsize:8;\tsigned:0;`
/// (older kernels also wrote `field special:...`). None if unusable.
fn parse_field_line(line: &str) -> Option<TracepointField> {
    let mut parts = line.split(';');
    let head = parts.next()?;
    let decl = head[head.find(':')? + 1..].trim();
    if decl.is_empty() {
        return None;
    }
    let (mut offset, mut size, mut signed) = (None, None, false);
    for p in parts {
        let Some((k, v)) = p.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "offset" => offset = v.parse::<u32>().ok(),
            "size" => size = v.parse::<u32>().ok(),
            "signed" => signed = v == "1",
            _ => {}
        }
    }
    let (offset, size) = (offset?, size?);
    let (name, c_type, kind) = analyze_decl(decl, size);
    Some(TracepointField {
        common: name.starts_with("common_"),
        name,
        c_type,
        offset,
        size,
        signed,
        kind,
        decl: decl.to_string(),
    })
}

/// Splits a C declaration into (name, type-with-dimensions, kind).
fn analyze_decl(decl: &str, size: u32) -> (String, String, FieldKind) {
    // Peel array dimensions off the end: `args[6]`, `x[2][4]`, `buf[]`.
    let mut base = decl;
    let mut dims: Vec<&str> = Vec::new();
    while base.ends_with(']') {
        let Some(lb) = base.rfind('[') else { break };
        dims.push(base[lb + 1..base.len() - 1].trim());
        base = base[..lb].trim_end();
    }
    dims.reverse();

    let name_start = base
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let (mut ty, mut name) = (base[..name_start].trim(), &base[name_start..]);
    if ty.is_empty() || name.is_empty() {
        // Not `type name`: keep everything as the type, name as best we can.
        ty = base;
        if name.is_empty() {
            name = base;
        }
    }
    let ty = normalize_ws(ty);
    let mut c_type = ty.clone();
    for d in &dims {
        c_type.push('[');
        c_type.push_str(d);
        c_type.push(']');
    }

    let kind = if ty.starts_with("__data_loc") {
        FieldKind::DataLoc
    } else if ty.starts_with("__rel_loc") {
        FieldKind::RelLoc
    } else if !dims.is_empty() {
        array_kind(&ty, &dims, size)
    } else if ty.contains('*') {
        FieldKind::Pointer
    } else if size <= 8 {
        FieldKind::Int
    } else {
        FieldKind::Array {
            elem_size: 1,
            len: size,
        }
    };
    (name.to_string(), c_type, kind)
}

fn array_kind(elem: &str, dims: &[&str], size: u32) -> FieldKind {
    let len: Option<u32> = dims.iter().try_fold(1u32, |acc, d| {
        if d.is_empty() {
            Some(0)
        } else {
            acc.checked_mul(d.parse::<u32>().ok()?)
        }
    });
    let is_char = strip_qualifiers(elem) == "char";
    let scalar = if elem.contains('*') {
        Some(8)
    } else {
        scalar_size(elem)
    };
    let (elem_size, len) = match len {
        Some(0) => (scalar.unwrap_or(1), 0),
        Some(n) => (size / n, n),
        // Dimension is a macro name or otherwise unreadable: infer it.
        None => {
            let es = scalar.filter(|&s| s > 0).unwrap_or(1);
            (es, size / es)
        }
    };
    if is_char && elem_size <= 1 {
        FieldKind::CharArray { len }
    } else {
        FieldKind::Array { elem_size, len }
    }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_qualifiers(ty: &str) -> String {
    ty.split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sizes of common scalar C types on x86-64; only used to split flexible or
/// macro-dimensioned arrays into elements.
fn scalar_size(ty: &str) -> Option<u32> {
    let t = strip_qualifiers(ty);
    let t = t.trim_start_matches("enum ").trim();
    Some(match t {
        "char" | "signed char" | "unsigned char" | "bool" | "_Bool" | "u8" | "__u8" | "s8"
        | "__s8" => 1,
        "short" | "short int" | "unsigned short" | "unsigned short int" | "u16" | "__u16"
        | "s16" | "__s16" | "__le16" | "__be16" => 2,
        "int" | "unsigned" | "unsigned int" | "u32" | "__u32" | "s32" | "__s32" | "__le32"
        | "__be32" | "pid_t" | "uid_t" | "gid_t" | "gfp_t" => 4,
        "long" | "long int" | "unsigned long" | "unsigned long int" | "long long"
        | "unsigned long long" | "u64" | "__u64" | "s64" | "__s64" | "__le64" | "__be64"
        | "size_t" | "ssize_t" | "loff_t" => 8,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples;

    /// Found by the `tracepoint_format` fuzz target: a name next to a multi-byte character
    /// was sliced inside that character.
    #[test]
    fn declarations_with_non_ascii_bytes_do_not_panic() {
        let (name, _, _) = analyze_decl("unsigned char\u{61c}common_preempt_count", 1);
        assert_eq!(name, "common_preempt_count");
        // Not a C identifier: kept whole, as for any declaration we cannot split.
        let (name, _, _) = analyze_decl("int é", 4);
        assert_eq!(name, "int é");
    }

    fn fmt(cat: &str, name: &str, text: &str) -> TracepointFormat {
        TracepointFormat::parse(cat, name, text).expect("parses")
    }

    #[test]
    fn sys_enter_openat() {
        let f = fmt("syscalls", "sys_enter_openat", samples::SYS_ENTER_OPENAT);
        assert_eq!(f.id, 782);
        assert_eq!(f.fields.len(), 9);
        assert_eq!(f.fields.iter().filter(|f| f.common).count(), 4);
        let ct = f.field("common_type").unwrap();
        assert_eq!(
            (ct.c_type.as_str(), ct.offset, ct.size),
            ("unsigned short", 0, 2)
        );
        assert!(ct.common);
        let nr = f.field("__syscall_nr").unwrap();
        assert_eq!(nr.c_type, "int");
        assert_eq!((nr.offset, nr.size, nr.signed), (8, 4, true));
        assert_eq!(nr.kind, FieldKind::Int);
        assert!(!nr.common);
        let fname = f.field("filename").unwrap();
        assert_eq!(fname.c_type, "const char *");
        assert_eq!(fname.decl, "const char * filename");
        assert_eq!((fname.offset, fname.size, fname.signed), (24, 8, false));
        assert_eq!(fname.kind, FieldKind::Pointer);
        let mode = f.field("mode").unwrap();
        assert_eq!(
            (mode.c_type.as_str(), mode.kind),
            ("umode_t", FieldKind::Int)
        );
        let args: Vec<_> = f.args().map(|a| a.name.as_str()).collect();
        assert_eq!(args, ["__syscall_nr", "dfd", "filename", "flags", "mode"]);
        assert_eq!(f.size(), 48);
    }

    #[test]
    fn sched_switch_char_arrays() {
        let f = fmt("sched", "sched_switch", samples::SCHED_SWITCH);
        assert_eq!(f.id, 372);
        let c = f.field("prev_comm").unwrap();
        assert_eq!(c.c_type, "char[16]");
        assert_eq!(c.decl, "char prev_comm[16]");
        assert_eq!(c.kind, FieldKind::CharArray { len: 16 });
        assert_eq!((c.offset, c.size), (8, 16));
        let st = f.field("prev_state").unwrap();
        assert_eq!((st.c_type.as_str(), st.size, st.signed), ("long", 8, true));
        assert_eq!(f.field("next_prio").unwrap().offset, 60);
    }

    #[test]
    fn data_loc() {
        let f = fmt("sched", "sched_process_exec", samples::SCHED_PROCESS_EXEC);
        let fname = f.field("filename").unwrap();
        assert_eq!(fname.c_type, "__data_loc char[]");
        assert_eq!(fname.kind, FieldKind::DataLoc);
        assert_eq!((fname.offset, fname.size), (8, 4));
        assert_eq!(f.field("old_pid").unwrap().c_type, "pid_t");

        let f = fmt("dma", "dma_alloc_sgt", samples::DMA_ALLOC_SGT);
        let p = f.field("phys_addrs").unwrap();
        assert_eq!(
            (p.c_type.as_str(), p.kind),
            ("__data_loc u64[]", FieldKind::DataLoc)
        );
        let d = f.field("dir").unwrap();
        assert_eq!(
            (d.c_type.as_str(), d.kind),
            ("enum dma_data_direction", FieldKind::Int)
        );
    }

    #[test]
    fn long_arrays() {
        let f = fmt("raw_syscalls", "sys_enter", samples::RAW_SYSCALLS_SYS_ENTER);
        assert_eq!(f.id, 443);
        let a = f.field("args").unwrap();
        assert_eq!(a.c_type, "unsigned long[6]");
        assert_eq!(
            a.kind,
            FieldKind::Array {
                elem_size: 8,
                len: 6
            }
        );
        assert_eq!((a.offset, a.size), (16, 48));
    }

    #[test]
    fn byte_arrays_are_not_strings() {
        let f = fmt("fib", "fib_table_lookup", samples::FIB_TABLE_LOOKUP);
        let src = f.field("src").unwrap();
        assert_eq!(src.c_type, "__u8[4]");
        assert_eq!(
            src.kind,
            FieldKind::Array {
                elem_size: 1,
                len: 4
            }
        );
        let name = f.field("name").unwrap();
        assert_eq!(name.kind, FieldKind::CharArray { len: 16 });
    }

    #[test]
    fn flexible_arrays() {
        let f = fmt("ftrace", "function", samples::FTRACE_FUNCTION);
        let a = f.field("args").unwrap();
        assert_eq!(a.c_type, "unsigned long[]");
        assert_eq!(
            a.kind,
            FieldKind::Array {
                elem_size: 8,
                len: 0
            }
        );
        let f = fmt("ftrace", "print", samples::FTRACE_PRINT);
        assert_eq!(
            f.field("buf").unwrap().kind,
            FieldKind::CharArray { len: 0 }
        );
    }

    #[test]
    fn odd_lines_do_not_panic() {
        let text = "name: odd\nID: 7\nformat:\n\
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
            \tfield special:int legacy;\toffset:4;\tsize:4;\tsigned:1;\n\
            \tfield:;\toffset:8;\tsize:4;\tsigned:0;\n\
            \tfield:int nooffset;\tsize:4;\n\
            \tfield:int badnum;\toffset:x;\tsize:4;\tsigned:0;\n\
            \tfield\n\
            \tfield:struct blob big;\toffset:8;\tsize:24;\tsigned:0;\n\
            \tfield:char name[TASK_COMM_LEN];\toffset:32;\tsize:16;\tsigned:0;\n\
            \tfield:u32 m[2][3];\toffset:48;\tsize:24;\tsigned:0;\n\
            \tfield:int;\toffset:72;\tsize:4;\tsigned:1;\n\
            \tfield:char *argv[4];\toffset:80;\tsize:32;\tsigned:0;\n\
            \tfield:__rel_loc char[] rl;\toffset:112;\tsize:4;\tsigned:0;\n\
            \tfield:]] x];\toffset:116;\tsize:4;\tsigned:0;\n\
            \n\
            print fmt: \"x\nfield:int after;\toffset:0;\tsize:4;\tsigned:0;\n";
        let f = fmt("c", "odd", text);
        assert_eq!(f.id, 7);
        let legacy = f.field("legacy").unwrap();
        assert_eq!((legacy.offset, legacy.signed), (4, true));
        assert!(f.field("nooffset").is_none());
        assert!(f.field("badnum").is_none());
        assert!(f.field("after").is_none(), "print fmt ends the fields");
        assert_eq!(
            f.field("big").unwrap().kind,
            FieldKind::Array {
                elem_size: 1,
                len: 24
            }
        );
        let n = f.field("name").unwrap();
        assert_eq!(n.c_type, "char[TASK_COMM_LEN]");
        assert_eq!(n.kind, FieldKind::CharArray { len: 16 });
        assert_eq!(
            f.field("m").unwrap().kind,
            FieldKind::Array {
                elem_size: 4,
                len: 6
            }
        );
        assert_eq!(f.field("int").unwrap().kind, FieldKind::Int);
        let argv = f.field("argv").unwrap();
        assert_eq!(
            (argv.c_type.as_str(), argv.kind),
            (
                "char *[4]",
                FieldKind::Array {
                    elem_size: 8,
                    len: 4
                }
            )
        );
        assert_eq!(f.field("rl").unwrap().kind, FieldKind::RelLoc);
    }

    #[test]
    fn missing_id_is_an_error() {
        let e = TracepointFormat::parse("a", "b", "name: b\nformat:\n").unwrap_err();
        assert!(e.to_string().contains("events/a/b/format"), "{e}");
        assert!(e.to_string().contains("ID"), "{e}");
        let e = TracepointFormat::parse("a", "b", "ID: twelve\n").unwrap_err();
        assert!(matches!(e, KernelError::BadFormat { .. }));
        assert!(TracepointFormat::parse("a", "b", "").is_err());
    }
}
