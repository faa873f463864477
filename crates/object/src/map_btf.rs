//! BTF for map keys and values: written for the maps beetrace creates, so that bpftool and
//! `beetrace map dump` show them typed, and read back to find what a map's types are.
//!
//! Only the shapes beetrace's layouts need are written (a struct of 64-bit integers and
//! `char` arrays, each 8-byte aligned); the reader understands any BTF well enough to name
//! a type and list a struct's members.

use crate::btf::{
    Writer, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_ENUM, KIND_ENUM64, KIND_INT, KIND_PTR,
    KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR, KIND_VOLATILE,
};

/// The type of one member of a key or value struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A 64-bit integer.
    Int { signed: bool },
    /// `char[n]`.
    Chars(u32),
}

impl FieldType {
    pub fn size(self) -> u32 {
        match self {
            FieldType::Int { .. } => 8,
            FieldType::Chars(n) => n,
        }
    }
}

/// A struct whose members are laid out one after another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructType {
    pub name: String,
    pub fields: Vec<(String, FieldType)>,
}

impl StructType {
    pub fn size(&self) -> u32 {
        self.fields.iter().map(|(_, t)| t.size()).sum()
    }
}

/// One blob describing the key and value struct of each map; returns it and the
/// `(key type id, value type id)` of each map, in order.
pub fn maps_btf(maps: &[(StructType, StructType)]) -> (Vec<u8>, Vec<(u32, u32)>) {
    let mut w = Writer::new();
    let long = w.int("long", 8, true);
    let ulong = w.int("unsigned long", 8, false);
    let char_ = w.int("char", 1, true);
    let index = w.int("__ARRAY_SIZE_TYPE__", 4, false);
    let strukt = |w: &mut Writer, s: &StructType| {
        let mut members = Vec::new();
        let mut offset = 0u32;
        for (name, ty) in &s.fields {
            let ty_id = match ty {
                FieldType::Int { signed: true } => long,
                FieldType::Int { signed: false } => ulong,
                FieldType::Chars(n) => w.ty(0, KIND_ARRAY, 0, 0, &[char_, index, *n]),
            };
            let name = w.string(name);
            members.extend_from_slice(&[name, ty_id, offset * 8]);
            offset += ty.size();
        }
        let name = w.string(&s.name);
        w.ty(name, KIND_STRUCT, s.fields.len() as u32, offset, &members)
    };
    let ids = maps
        .iter()
        .map(|(k, v)| (strukt(&mut w, k), strukt(&mut w, v)))
        .collect();
    (w.finish(), ids)
}

/// Bytes after the 12-byte common header of a type record of `kind` with `vlen` entries.
fn extra_len(kind: u32, vlen: u32) -> Option<usize> {
    let vlen = vlen as usize;
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, TYPEDEF, qualifiers, FUNC, FLOAT, TYPE_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
        _ => return None,
    })
}

/// A value decoded through its BTF type, the way bpftool shows typed map entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfValue {
    Signed(i64),
    Unsigned(u64),
    Bool(bool),
    /// A bitfield member: bpftool shows these in hex.
    Bits(u64),
    Pointer(u64),
    /// A `char` array holding a NUL-terminated printable string, or an enumerator's name.
    Str(String),
    List(Vec<BtfValue>),
    /// Struct or union members, or a data section's variables, by name.
    Fields(Vec<(String, BtfValue)>),
}

/// `BTF_INT_BOOL`, in the encoding bits of an INT.
const BTF_INT_BOOL: u32 = 4;
/// How deeply types may nest (C code rarely goes past a handful of levels).
const MAX_DEPTH: u32 = 64;

fn le_uint(b: &[u8]) -> Option<u64> {
    let mut word = [0u8; 8];
    word.get_mut(..b.len())?.copy_from_slice(b);
    Some(u64::from_le_bytes(word))
}

/// A parsed BTF blob: the type records by id and the string section.
pub struct BtfReader<'a> {
    strings: &'a [u8],
    /// `(offset in types, kind, vlen, size_or_type, kind_flag)` per id; index 0 is `void`.
    types: Vec<(usize, u32, u32, u32, bool)>,
    data: &'a [u8],
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl<'a> BtfReader<'a> {
    /// Parses the header and indexes the types; `None` for a malformed blob.
    pub fn new(blob: &'a [u8]) -> Option<BtfReader<'a>> {
        if blob.get(0..2)? != 0xeb9fu16.to_le_bytes() {
            return None;
        }
        let hdr = le32(blob, 4)? as usize;
        let type_off = le32(blob, 8)? as usize;
        let type_len = le32(blob, 12)? as usize;
        let str_off = le32(blob, 16)? as usize;
        let str_len = le32(blob, 20)? as usize;
        let data = blob.get(hdr + type_off..hdr + type_off + type_len)?;
        let strings = blob.get(hdr + str_off..hdr + str_off + str_len)?;
        let mut types = vec![(0, 0, 0, 0, false)];
        let mut at = 0;
        while at < data.len() {
            let info = le32(data, at + 4)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            types.push((at, kind, vlen, le32(data, at + 8)?, info >> 31 != 0));
            at += 12 + extra_len(kind, vlen)?;
        }
        Some(BtfReader {
            strings,
            types,
            data,
        })
    }

    fn string(&self, off: u32) -> String {
        let s = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        String::from_utf8_lossy(&s[..end]).into_owned()
    }

    /// The name of type `id` (empty for anonymous types and unknown ids).
    pub fn name(&self, id: u32) -> String {
        match self.types.get(id as usize) {
            Some(&(at, ..)) if id != 0 => self.string(le32(self.data, at).unwrap_or(0)),
            _ => String::new(),
        }
    }
}

impl BtfReader<'_> {
    /// `id` with typedefs and qualifiers (const, volatile, restrict, type tags) removed.
    fn resolve(&self, mut id: u32) -> Option<u32> {
        for _ in 0..32 {
            let &(_, kind, _, next, _) = self.types.get(id as usize)?;
            match kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = next
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// The size in bytes of type `id`; `depth` bounds the recursion a malformed blob with
    /// cycles would otherwise make endless.
    fn size_of(&self, id: u32, depth: u32) -> Option<usize> {
        let id = self.resolve(id)?;
        let &(at, kind, _, size, _) = self.types.get(id as usize)?;
        Some(match kind {
            KIND_ARRAY => self
                .size_of(le32(self.data, at + 12)?, depth.checked_sub(1)?)?
                .checked_mul(le32(self.data, at + 20)? as usize)?,
            KIND_PTR => 8,
            _ => size as usize,
        })
    }

    /// `bytes` read as type `id`, as bpftool would show it; `None` for kinds it cannot show
    /// (functions, floats) or bytes that do not fit the type.
    pub fn value(&self, id: u32, bytes: &[u8]) -> Option<BtfValue> {
        self.value_at(id, bytes, MAX_DEPTH)
    }

    fn value_at(&self, id: u32, bytes: &[u8], depth: u32) -> Option<BtfValue> {
        let depth = depth.checked_sub(1)?;
        let id = self.resolve(id)?;
        let &(at, kind, vlen, size, kind_flag) = self.types.get(id as usize)?;
        if id == 0 {
            return None;
        }
        let int_at = |b: &[u8], signed: bool| -> Option<BtfValue> {
            let raw = le_uint(b)?;
            let width = (b.len() * 8) as u32;
            if width == 0 {
                return None;
            }
            Some(if signed && width < 64 && raw >> (width - 1) & 1 == 1 {
                BtfValue::Signed((raw | !0u64 << width) as i64)
            } else if signed {
                BtfValue::Signed(raw as i64)
            } else {
                BtfValue::Unsigned(raw)
            })
        };
        match kind {
            KIND_INT => {
                let enc = le32(self.data, at + 12)?;
                let b = bytes.get(..size as usize)?;
                if size > 8 {
                    return None;
                }
                if enc >> 24 & BTF_INT_BOOL != 0 {
                    return Some(BtfValue::Bool(le_uint(b)? != 0));
                }
                int_at(b, enc >> 24 & 1 != 0)
            }
            KIND_PTR => Some(BtfValue::Pointer(le_uint(bytes.get(..8)?)?)),
            KIND_ENUM | KIND_ENUM64 => {
                let b = bytes.get(..size as usize)?;
                let n = le_uint(b)?;
                let step = if kind == KIND_ENUM { 8 } else { 12 };
                for i in 0..vlen as usize {
                    let e = at + 12 + step * i;
                    let v = if kind == KIND_ENUM {
                        le32(self.data, e + 4)? as u64
                    } else {
                        le32(self.data, e + 4)? as u64 | (le32(self.data, e + 8)? as u64) << 32
                    };
                    let mask = if size >= 8 {
                        !0
                    } else {
                        (1u64 << (size * 8)) - 1
                    };
                    if v & mask == n {
                        return Some(BtfValue::Str(self.string(le32(self.data, e)?)));
                    }
                }
                int_at(b, kind_flag)
            }
            KIND_ARRAY => {
                let elem = le32(self.data, at + 12)?;
                let n = le32(self.data, at + 20)? as usize;
                let elem_size = self.size_of(elem, depth)?;
                let all = bytes.get(..elem_size.checked_mul(n)?)?;
                let elem_id = self.resolve(elem)?;
                let is_char = elem_size == 1
                    && self.types.get(elem_id as usize)?.1 == KIND_INT
                    && self.name(elem_id) == "char";
                if is_char {
                    if let Some(end) = all.iter().position(|&c| c == 0) {
                        if all[..end]
                            .iter()
                            .all(|c| c.is_ascii_graphic() || *c == b' ')
                        {
                            return Some(BtfValue::Str(
                                String::from_utf8_lossy(&all[..end]).into_owned(),
                            ));
                        }
                    }
                }
                let items = all
                    .chunks(elem_size.max(1))
                    .map(|c| self.value_at(elem, c, depth))
                    .collect::<Option<Vec<_>>>()?;
                Some(BtfValue::List(items))
            }
            KIND_STRUCT | KIND_UNION => {
                let mut fields = Vec::new();
                for i in 0..vlen as usize {
                    let m = at + 12 + 12 * i;
                    let name = self.string(le32(self.data, m)?);
                    let ty = le32(self.data, m + 4)?;
                    let off = le32(self.data, m + 8)?;
                    let (bit_off, bits) = if kind_flag {
                        (off & 0xff_ffff, off >> 24)
                    } else {
                        (off, 0)
                    };
                    let value = if bits > 0 {
                        let start = (bit_off / 8) as usize;
                        let end = (bit_off.checked_add(bits)?.div_ceil(8) as usize).min(start + 8);
                        let raw = le_uint(bytes.get(start..end)?)? >> (bit_off % 8);
                        let mask = if bits >= 64 { !0 } else { (1u64 << bits) - 1 };
                        BtfValue::Bits(raw & mask)
                    } else {
                        let start = (bit_off / 8) as usize;
                        self.value_at(ty, bytes.get(start..)?, depth)?
                    };
                    fields.push((name, value));
                }
                Some(BtfValue::Fields(fields))
            }
            KIND_DATASEC => {
                let mut vars = Vec::new();
                for i in 0..vlen as usize {
                    let v = at + 12 + 12 * i;
                    let var = le32(self.data, v)?;
                    let off = le32(self.data, v + 4)? as usize;
                    let &(var_at, var_kind, _, var_type, _) = self.types.get(var as usize)?;
                    if var_kind != KIND_VAR {
                        return None;
                    }
                    let name = self.string(le32(self.data, var_at)?);
                    let value = self.value_at(var_type, bytes.get(off..)?, depth)?;
                    vars.push(BtfValue::Fields(vec![(name, value)]));
                }
                Some(BtfValue::Fields(vec![(
                    self.name(id),
                    BtfValue::List(vars),
                )]))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_structs_read_back() {
        let key = StructType {
            name: "key".into(),
            fields: vec![
                ("comm".into(), FieldType::Chars(16)),
                ("pid".into(), FieldType::Int { signed: false }),
            ],
        };
        let value = StructType {
            name: "beetrace_v1".into(),
            fields: vec![("count".into(), FieldType::Int { signed: true })],
        };
        let (blob, ids) = maps_btf(&[(key, value)]);
        let r = BtfReader::new(&blob).expect("parses");
        let mut key_bytes = b"bash".to_vec();
        key_bytes.resize(16, 0);
        key_bytes.extend(7u64.to_le_bytes());
        assert_eq!(
            r.value(ids[0].0, &key_bytes),
            Some(BtfValue::Fields(vec![
                ("comm".into(), BtfValue::Str("bash".into())),
                ("pid".into(), BtfValue::Unsigned(7)),
            ]))
        );
        assert_eq!(
            r.value(ids[0].1, &(-3i64).to_le_bytes()),
            Some(BtfValue::Fields(vec![(
                "count".into(),
                BtfValue::Signed(-3)
            )]))
        );
        assert_eq!(r.name(ids[0].1), "beetrace_v1");
        assert_eq!(r.value(ids[0].1, &[0; 4]), None, "too few bytes");
    }

    /// BTF comes from the kernel, but a reader bug must not become a panic: every truncation
    /// and many corruptions of a valid blob either parse or are refused.
    #[test]
    fn damaged_blobs_never_panic() {
        let s = |name: &str, fields: Vec<(&str, FieldType)>| StructType {
            name: name.into(),
            fields: fields.into_iter().map(|(n, t)| (n.into(), t)).collect(),
        };
        let (blob, _) = maps_btf(&[(
            s("k", vec![("a", FieldType::Chars(8))]),
            s("v", vec![("b", FieldType::Int { signed: true })]),
        )]);
        let bytes = [0x41u8; 64];
        for len in 0..blob.len() {
            if let Some(r) = BtfReader::new(&blob[..len]) {
                for id in 0..8 {
                    let _ = r.value(id, &bytes);
                }
            }
        }
        // A struct whose member is the struct itself.
        let mut cyclic = blob.clone();
        let (key_id, _) = maps_btf(&[(
            s("k", vec![("a", FieldType::Chars(8))]),
            s("v", vec![("b", FieldType::Int { signed: true })]),
        )])
        .1[0];
        let r = BtfReader::new(&cyclic).expect("parses");
        let (member_at, ..) = r.types[key_id as usize];
        let type_field = 24 + member_at + 12 + 4;
        cyclic[type_field..type_field + 4].copy_from_slice(&key_id.to_le_bytes());
        let r = BtfReader::new(&cyclic).expect("still parses");
        assert_eq!(r.value(key_id, &bytes), None);
        for at in 24..blob.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = blob.clone();
                damaged[at] ^= flip;
                if let Some(r) = BtfReader::new(&damaged) {
                    for id in 0..8 {
                        let _ = r.value(id, &bytes);
                        let _ = r.name(id);
                    }
                }
            }
        }
    }
}
