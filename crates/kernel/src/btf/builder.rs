//! Writes small BTF blobs, so tests (here and in other crates, through
//! [`crate::FakeKernel`]) can describe kernel types without a kernel.

use super::raw::kind;

/// Appends type records and returns their ids; [`BtfBuilder::build`] gives the blob.
///
/// ```
/// use kernel::btf::{BtfBuilder, KernelBtf, NameKind};
/// let mut b = BtfBuilder::new();
/// let int = b.int("int", 4, true);
/// b.structure("point", 8, &[("x", int, 0), ("y", int, 32)]);
/// let btf = KernelBtf::from_bytes(b.build(), vec![]).unwrap();
/// let point = btf.find("point", NameKind::Struct).unwrap().unwrap();
/// assert_eq!(btf.member(point, "y").unwrap().unwrap().bit_offset, 32);
/// ```
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        BtfBuilder::new()
    }
}

impl BtfBuilder {
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn words(&mut self, w: &[u32]) {
        for x in w {
            self.types.extend_from_slice(&x.to_ne_bytes());
        }
    }

    fn head(&mut self, name: &str, kind: u32, vlen: u32, flag: bool, size_or_type: u32) -> u32 {
        let name = self.str(name);
        let info = (flag as u32) << 31 | kind << 24 | vlen;
        self.words(&[name, info, size_or_type]);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.head(name, kind::INT, 0, false, size);
        let enc = if signed { 1 } else { 0 } | if name == "char" { 2 } else { 0 };
        self.words(&[(enc << 24) | (size * 8)]);
        id
    }

    pub fn ptr(&mut self, to: u32) -> u32 {
        self.head("", kind::PTR, 0, false, to)
    }

    pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        let id = self.head("", kind::ARRAY, 0, false, 0);
        self.words(&[elem, index, len]);
        id
    }

    /// A struct; members are (name, type, bit offset).
    pub fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(name, kind::STRUCT, size, members, &[])
    }

    pub fn union(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(name, kind::UNION, size, members, &[])
    }

    /// A struct with bitfields: members are (name, type, bit offset, bit width or 0).
    pub fn bitfield_struct(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let plain: Vec<(&str, u32, u32)> = members.iter().map(|m| (m.0, m.1, m.2)).collect();
        let widths: Vec<u32> = members.iter().map(|m| m.3).collect();
        self.composite(name, kind::STRUCT, size, &plain, &widths)
    }

    fn composite(
        &mut self,
        name: &str,
        k: u32,
        size: u32,
        members: &[(&str, u32, u32)],
        widths: &[u32],
    ) -> u32 {
        let flag = !widths.is_empty();
        let id = self.head(name, k, members.len() as u32, flag, size);
        for (i, (n, ty, off)) in members.iter().enumerate() {
            let n = self.str(n);
            let off = if flag { widths[i] << 24 | off } else { *off };
            self.words(&[n, *ty, off]);
        }
        id
    }

    pub fn enumeration(&mut self, name: &str, size: u32, values: &[(&str, i32)]) -> u32 {
        let signed = values.iter().any(|v| v.1 < 0);
        let id = self.head(name, kind::ENUM, values.len() as u32, signed, size);
        for (n, v) in values {
            let n = self.str(n);
            self.words(&[n, *v as u32]);
        }
        id
    }

    pub fn fwd(&mut self, name: &str) -> u32 {
        self.head(name, kind::FWD, 0, false, 0)
    }

    pub fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.head(name, kind::TYPEDEF, 0, false, to)
    }

    pub fn constant(&mut self, to: u32) -> u32 {
        self.head("", kind::CONST, 0, false, to)
    }

    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.head("", kind::FUNC_PROTO, params.len() as u32, false, ret);
        for (n, ty) in params {
            let n = self.str(n);
            self.words(&[n, *ty]);
        }
        id
    }

    pub fn func(&mut self, name: &str, proto: u32) -> u32 {
        self.head(name, kind::FUNC, 0, false, proto)
    }

    /// A global variable (`VAR`, global linkage).
    pub fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.head(name, kind::VAR, 0, false, ty);
        self.words(&[1]);
        id
    }

    /// A data section listing variables as (VAR id, offset, size).
    pub fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.head(name, kind::DATASEC, vars.len() as u32, false, size);
        for &(var, offset, size) in vars {
            self.words(&[var, offset, size]);
        }
        id
    }

    /// What the kernel emits for a tracepoint: `typedef void (*btf_trace_<name>)(void *,
    /// args...)` with unnamed parameters, and `__traceiter_<name>` naming them.
    pub fn raw_tracepoint(&mut self, name: &str, args: &[(&str, u32)]) {
        let void_ptr = self.ptr(0);
        let mut unnamed = vec![("", void_ptr)];
        unnamed.extend(args.iter().map(|a| ("", a.1)));
        let proto = self.func_proto(0, &unnamed);
        let ptr = self.ptr(proto);
        self.typedef(&format!("btf_trace_{name}"), ptr);
        let mut named = vec![("__data", void_ptr)];
        named.extend_from_slice(args);
        let proto = self.func_proto(0, &named);
        self.func(&format!("__traceiter_{name}"), proto);
    }

    /// The blob: header, type section, string section.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}
