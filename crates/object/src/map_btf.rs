//! BTF for map keys and values: written for the maps beetrace creates, so that bpftool and
//! `beetrace map dump` show them typed, and read back to find what a map's types are.
//!
//! Only the shapes beetrace's layouts need are written (a struct of 64-bit integers and
//! `char` arrays, each 8-byte aligned); the reader understands any BTF well enough to name
//! a type and list a struct's members.

use crate::btf::{Writer, BTF_INT_SIGNED, KIND_ARRAY, KIND_INT, KIND_STRUCT};

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
    let name = w.string("long");
    let long = w.ty(name, KIND_INT, 0, 8, &[BTF_INT_SIGNED | 64]);
    let name = w.string("unsigned long");
    let ulong = w.ty(name, KIND_INT, 0, 8, &[64]);
    let name = w.string("char");
    let char_ = w.ty(name, KIND_INT, 0, 1, &[BTF_INT_SIGNED | 8]);
    let name = w.string("__ARRAY_SIZE_TYPE__");
    let index = w.ty(name, KIND_INT, 0, 4, &[32]);
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

/// A parsed BTF blob: the type records by id and the string section.
pub struct BtfReader<'a> {
    strings: &'a [u8],
    /// `(offset in types, kind, vlen, size_or_type)` per id; index 0 is `void`.
    types: Vec<(usize, u32, u32, u32)>,
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
        let mut types = vec![(0, 0, 0, 0)];
        let mut at = 0;
        while at < data.len() {
            let info = le32(data, at + 4)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            types.push((at, kind, vlen, le32(data, at + 8)?));
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

    /// Type `id` as a [`StructType`], when it is a struct of the shapes [`maps_btf`] writes.
    pub fn struct_type(&self, id: u32) -> Option<StructType> {
        let &(at, kind, vlen, _) = self.types.get(id as usize)?;
        if kind != KIND_STRUCT || id == 0 {
            return None;
        }
        let mut fields = Vec::new();
        for i in 0..vlen as usize {
            let m = at + 12 + 12 * i;
            let name = self.string(le32(self.data, m)?);
            let member = le32(self.data, m + 4)?;
            let &(mat, mkind, _, size) = self.types.get(member as usize)?;
            let ty = match mkind {
                KIND_INT if size == 8 => FieldType::Int {
                    signed: le32(self.data, mat + 12)? & BTF_INT_SIGNED != 0,
                },
                KIND_ARRAY => FieldType::Chars(le32(self.data, mat + 20)?),
                _ => return None,
            };
            fields.push((name, ty));
        }
        Some(StructType {
            name: self.name(id),
            fields,
        })
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
        let (blob, ids) = maps_btf(&[(key.clone(), value.clone())]);
        let r = BtfReader::new(&blob).expect("parses");
        assert_eq!(r.struct_type(ids[0].0), Some(key));
        assert_eq!(r.struct_type(ids[0].1), Some(value));
        assert_eq!(r.name(ids[0].1), "beetrace_v1");
        assert_eq!(r.struct_type(1), None, "an int is not a struct");
    }
}
