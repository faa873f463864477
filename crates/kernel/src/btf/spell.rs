//! The C spelling of a BTF type, as `-lv` lists arguments and as diagnostics name types:
//! `int`, `const char *`, `char[16]`, `struct task_struct *`, `u64`.

use super::{BtfType, KernelBtf, TypeRef};

/// Bound on nesting, against damaged (cyclic) BTF.
const MAX_DEPTH: usize = 16;
/// Bound on the types one spelling visits: function prototypes fan out, and a damaged blob
/// could make the walk exponential within the depth bound.
const MAX_NODES: usize = 256;

pub(super) fn spell(btf: &KernelBtf, r: TypeRef) -> String {
    let mut budget = MAX_NODES;
    spell_depth(btf, r, 0, &mut budget)
}

fn spell_depth(btf: &KernelBtf, r: TypeRef, depth: usize, budget: &mut usize) -> String {
    if depth > MAX_DEPTH || *budget == 0 {
        return "...".to_string();
    }
    *budget -= 1;
    let mut inner = |t: TypeRef| spell_depth(btf, t, depth + 1, budget);
    let Ok(t) = btf.get(r) else {
        return format!("<type {}>", r.id());
    };
    match t {
        BtfType::Void => "void".to_string(),
        BtfType::Int { name, .. } | BtfType::Float { name, .. } => name,
        BtfType::Typedef { name, .. } => name,
        BtfType::Ptr { to } => {
            if let Ok((_, BtfType::FuncProto { ret, params })) = btf.resolve(to) {
                let params: Vec<String> = params.iter().map(|p| inner(p.ty)).collect();
                return format!("{} (*)({})", inner(ret), params.join(", "));
            }
            let s = inner(to);
            if s.ends_with('*') {
                format!("{s}*")
            } else {
                format!("{s} *")
            }
        }
        BtfType::Array { elem, len } => format!("{}[{len}]", inner(elem)),
        BtfType::Struct(c) => {
            let tag = if c.union { "union" } else { "struct" };
            if c.name.is_empty() {
                format!("{tag} {{...}}")
            } else {
                format!("{tag} {}", c.name)
            }
        }
        BtfType::Fwd { name, union } => {
            format!("{} {name}", if union { "union" } else { "struct" })
        }
        BtfType::Enum { name, .. } if name.is_empty() => "enum {...}".to_string(),
        BtfType::Enum { name, .. } => format!("enum {name}"),
        BtfType::Qualified { qualifier: "", to } => inner(to),
        BtfType::Qualified { qualifier, to } => format!("{qualifier} {}", inner(to)),
        BtfType::Func { name, .. } => name,
        BtfType::FuncProto { ret, params } => {
            let params: Vec<String> = params.iter().map(|p| inner(p.ty)).collect();
            format!("{} ({})", inner(ret), params.join(", "))
        }
        BtfType::Other { kind } => format!("<kind {kind}>"),
    }
}
