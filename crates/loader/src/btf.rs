//! A small reader of the object's own `.BTF`: enough to find the types of map keys and values
//! and of global variables, so that `--set` parses a value by its declared type and map
//! contents print as typed values. aya parses BTF too but keeps its types private.
//!
//! Object BTF is small (the types the program mentions), so everything is decoded eagerly.

use kernel::btf::kind;
use output::value::Value;

const MAGIC: u16 = 0xeb9f;

/// A type id; 0 is `void`.
pub type TypeId = u32;

/// One decoded type.
#[derive(Debug, Clone)]
pub enum Type {
    Void,
    Int {
        name: String,
        size: u32,
        signed: bool,
        char: bool,
        bool: bool,
    },
    Ptr {
        target: TypeId,
    },
    Array {
        elem: TypeId,
        len: u32,
    },
    Struct {
        name: String,
        size: u32,
        /// Byte offset of the size field in the BTF blob.
        size_at: usize,
        union: bool,
        members: Vec<Member>,
    },
    Enum {
        name: String,
        size: u32,
        signed: bool,
        values: Vec<(String, i64)>,
    },
    /// `typedef`, `const`, `volatile`, `restrict`, `type_tag`: look through to `target`.
    Alias {
        name: String,
        target: TypeId,
    },
    Var {
        name: String,
        ty: TypeId,
        /// Byte offset of the record in the BTF blob (for [`crate::externs`]' patches).
        record: usize,
    },
    DataSec {
        name: String,
        vars: Vec<SecVar>,
        /// Byte offset of the record in the BTF blob.
        record: usize,
    },
    /// A function (`FUNC`); `record` as for `Var`.
    Func {
        name: String,
        record: usize,
    },
    Float {
        size: u32,
    },
    /// Functions, prototypes, forward declarations, tags: never a value.
    Other {
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub ty: TypeId,
    pub bit_offset: u32,
    /// Non-zero for bitfields.
    pub bit_size: u32,
    /// Byte offset of this member's record in the BTF blob, and its name's offset in the
    /// string table (for [`Btf::aya_prog_array_patches`]).
    pub record: usize,
    pub name_off: u32,
}

#[derive(Debug, Clone)]
pub struct SecVar {
    pub ty: TypeId,
    pub offset: u32,
    pub size: u32,
}

#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<Type>,
    /// Byte offset of the string table in the BTF blob.
    strings_at: usize,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("truncated at byte {off}"))
}

impl Btf {
    pub fn parse(data: &[u8]) -> Result<Btf, String> {
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != MAGIC {
            return Err("bad magic (only little-endian BTF is read)".into());
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or("type section out of bounds")?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or("string section out of bounds")?;
        // aya indexes its string table with offsets it checked against the wrong bound, and
        // looks type ids up with `unwrap`: offsets and ids out of range are refused here.
        let bad_name = std::cell::Cell::new(false);
        let mut referenced: Vec<u32> = Vec::new();
        let string = |off: u32| -> String {
            let Some(rest) = strings.get(off as usize..).filter(|r| !r.is_empty()) else {
                bad_name.set(true);
                return String::new();
            };
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        };

        let mut out = vec![Type::Void];
        let mut p = 0;
        while p < types.len() {
            let record = hdr_len + type_off + p;
            let name = string(u32_at(types, p)?);
            let info = u32_at(types, p + 4)?;
            let size_or_type = u32_at(types, p + 8)?;
            p += 12;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 != 0;
            let ty = match (info >> 24) & 0x1f {
                kind::INT => {
                    let enc = u32_at(types, p)?;
                    p += 4;
                    let encoding = (enc >> 24) & 0xf;
                    Type::Int {
                        name,
                        size: size_or_type,
                        signed: encoding & 1 != 0,
                        char: encoding & 2 != 0,
                        bool: encoding & 4 != 0,
                    }
                }
                kind::PTR => Type::Ptr {
                    target: size_or_type,
                },
                kind::ARRAY => {
                    let elem = u32_at(types, p)?;
                    let len = u32_at(types, p + 8)?;
                    p += 12;
                    Type::Array { elem, len }
                }
                k @ (kind::STRUCT | kind::UNION) => {
                    let mut members = Vec::with_capacity(vlen);
                    for _ in 0..vlen {
                        let offset = u32_at(types, p + 8)?;
                        let (bit_offset, bit_size) = if kind_flag {
                            (offset & 0xff_ffff, offset >> 24)
                        } else {
                            (offset, 0)
                        };
                        members.push(Member {
                            name_off: u32_at(types, p)?,
                            name: string(u32_at(types, p)?),
                            ty: u32_at(types, p + 4)?,
                            bit_offset,
                            bit_size,
                            record: hdr_len + type_off + p,
                        });
                        p += 12;
                    }
                    Type::Struct {
                        name,
                        size: size_or_type,
                        size_at: record + 8,
                        union: k == kind::UNION,
                        members,
                    }
                }
                k @ (kind::ENUM | kind::ENUM64) => {
                    let mut values = Vec::with_capacity(vlen);
                    for _ in 0..vlen {
                        let n = string(u32_at(types, p)?);
                        let lo = u32_at(types, p + 4)?;
                        if k == kind::ENUM {
                            values.push((n, i64::from(lo as i32)));
                            p += 8;
                        } else {
                            let hi = u32_at(types, p + 8)?;
                            values.push((n, ((u64::from(hi) << 32) | u64::from(lo)) as i64));
                            p += 12;
                        }
                    }
                    Type::Enum {
                        name,
                        size: size_or_type,
                        signed: kind_flag,
                        values,
                    }
                }
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    Type::Alias {
                        name,
                        target: size_or_type,
                    }
                }
                kind::FUNC => Type::Func { name, record },
                kind::FWD => Type::Other { name },
                kind::FUNC_PROTO => {
                    referenced.push(size_or_type);
                    for _ in 0..vlen {
                        let _ = string(u32_at(types, p)?);
                        referenced.push(u32_at(types, p + 4)?);
                        p += 8;
                    }
                    Type::Other { name }
                }
                kind::VAR => {
                    p += 4;
                    Type::Var {
                        name,
                        ty: size_or_type,
                        record,
                    }
                }
                kind::DATASEC => {
                    let mut vars = Vec::with_capacity(vlen);
                    for _ in 0..vlen {
                        vars.push(SecVar {
                            ty: u32_at(types, p)?,
                            offset: u32_at(types, p + 4)?,
                            size: u32_at(types, p + 8)?,
                        });
                        p += 12;
                    }
                    Type::DataSec { name, vars, record }
                }
                kind::FLOAT => Type::Float { size: size_or_type },
                kind::DECL_TAG => {
                    p += 4;
                    Type::Other { name }
                }
                other => return Err(format!("unknown BTF kind {other}")),
            };
            match &ty {
                Type::Ptr { target } | Type::Alias { target, .. } => referenced.push(*target),
                Type::Array { elem, .. } => referenced.push(*elem),
                Type::Struct { members, .. } => referenced.extend(members.iter().map(|m| m.ty)),
                Type::Var { ty, .. } => referenced.push(*ty),
                Type::DataSec { vars, .. } => referenced.extend(vars.iter().map(|v| v.ty)),
                _ => {}
            }
            out.push(ty);
        }
        if bad_name.get() {
            return Err("a name lies outside the string table".into());
        }
        if let Some(id) = referenced.iter().find(|&&id| id as usize >= out.len()) {
            return Err(format!(
                "a type refers to type id {id}, which does not exist"
            ));
        }
        Ok(Btf {
            types: out,
            strings_at: hdr_len + str_off,
        })
    }

    pub fn get(&self, id: TypeId) -> &Type {
        self.types.get(id as usize).unwrap_or(&Type::Void)
    }

    /// Looks through typedefs and qualifiers.
    pub fn resolve(&self, mut id: TypeId) -> TypeId {
        for _ in 0..32 {
            match self.get(id) {
                Type::Alias { target, .. } => id = *target,
                _ => return id,
            }
        }
        id
    }

    /// Every type with its id (0, `void`, first).
    pub fn types(&self) -> impl Iterator<Item = (TypeId, &Type)> {
        self.types.iter().enumerate().map(|(i, t)| (i as TypeId, t))
    }

    /// The size in bytes of a value of type `id`.
    pub fn size_of(&self, id: TypeId) -> u64 {
        match self.get(self.resolve(id)) {
            Type::Int { size, .. } | Type::Enum { size, .. } | Type::Float { size } => {
                u64::from(*size)
            }
            Type::Struct { size, .. } => u64::from(*size),
            Type::Ptr { .. } => 8,
            Type::Array { elem, len } => self.size_of(*elem) * u64::from(*len),
            _ => 0,
        }
    }

    /// A readable name for type `id` (`unsigned int`, `struct event`, `char[16]`).
    pub fn type_name(&self, id: TypeId) -> String {
        match self.get(id) {
            Type::Void => "void".into(),
            Type::Int { name, .. } => name.clone(),
            Type::Ptr { .. } => "pointer".into(),
            Type::Array { elem, len } => format!("{}[{len}]", self.type_name(*elem)),
            Type::Struct { name, union, .. } => {
                format!("{} {name}", if *union { "union" } else { "struct" })
            }
            Type::Enum { name, .. } => format!("enum {name}"),
            Type::Alias { name, target } if name.is_empty() => self.type_name(*target),
            Type::Alias { name, .. } => name.clone(),
            Type::Float { size } => format!("float{}", size * 8),
            Type::Var { name, .. }
            | Type::DataSec { name, .. }
            | Type::Func { name, .. }
            | Type::Other { name } => name.clone(),
        }
    }

    /// A struct, union, enum or typedef by name; `struct event` and `event` both work.
    pub fn named_type(&self, name: &str) -> Option<TypeId> {
        let bare = name
            .strip_prefix("struct ")
            .or_else(|| name.strip_prefix("union "))
            .or_else(|| name.strip_prefix("enum "))
            .unwrap_or(name)
            .trim();
        self.types
            .iter()
            .position(|t| match t {
                Type::Struct { name, .. } | Type::Enum { name, .. } | Type::Alias { name, .. } => {
                    name == bare
                }
                _ => false,
            })
            .map(|i| i as TypeId)
    }

    /// The variables of data section `section` (`.rodata`, `.maps`): (name, type, offset, size).
    pub fn datasec_vars(&self, section: &str) -> Vec<(String, TypeId, u32, u32)> {
        let Some(Type::DataSec { vars, .. }) = self
            .types
            .iter()
            .find(|t| matches!(t, Type::DataSec { name, .. } if name == section))
        else {
            return Vec::new();
        };
        vars.iter()
            .filter_map(|v| match self.get(v.ty) {
                Type::Var { name, ty, .. } => Some((name.clone(), *ty, v.offset, v.size)),
                _ => None,
            })
            .collect()
    }

    /// The members of the struct that defines map `map` in `.maps`.
    fn map_def_members(&self, map: &str) -> Option<&[Member]> {
        let (_, ty, _, _) = self
            .datasec_vars(".maps")
            .into_iter()
            .find(|(n, ..)| n == map)?;
        match self.get(self.resolve(ty)) {
            Type::Struct { members, .. } => Some(members),
            _ => None,
        }
    }

    /// Byte patches (offset in the BTF blob, new bytes) that make program arrays initialised
    /// with `__array(values, int (void *))` loadable by aya 0.14, which reads `values` only
    /// for maps of maps and rejects these. Each such `values` member becomes `value`, typed
    /// like the map's `key` (a pointer to a 4-byte integer), which gives the map the 4-byte
    /// values the kernel wants; the loader fills the slots itself from the `.maps`
    /// relocations. The string "values" is shortened in place, so this is refused when a
    /// map of maps also uses it.
    pub fn aya_prog_array_patches(&self) -> Result<Vec<(usize, Vec<u8>)>, String> {
        let mut patches = Vec::new();
        let mut other_values = false;
        for (map, ty, ..) in self.datasec_vars(".maps") {
            let Type::Struct {
                members,
                size,
                size_at,
                ..
            } = self.get(self.resolve(ty))
            else {
                continue;
            };
            for m in members.iter().filter(|m| m.name == "values") {
                let is_prog_array = match self.get(self.resolve(m.ty)) {
                    Type::Array { elem, .. } => match self.get(self.resolve(*elem)) {
                        Type::Ptr { target } => {
                            matches!(self.get(self.resolve(*target)), Type::Other { .. })
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !is_prog_array {
                    other_values = true;
                    continue;
                }
                let key = members
                    .iter()
                    .find(|k| k.name == "key")
                    .filter(|k| match self.get(self.resolve(k.ty)) {
                        Type::Ptr { target } => self.size_of(*target) == 4,
                        _ => false,
                    })
                    .ok_or_else(|| {
                        format!("program array '{map}' initialises values but has no __type(key, __u32)")
                    })?;
                patches.push((m.record + 4, key.ty.to_le_bytes().to_vec()));
                // The flexible array took no room; the pointer that replaces it does.
                let end = m.bit_offset / 8 + 8;
                if end > *size {
                    patches.push((*size_at, end.to_le_bytes().to_vec()));
                }
                // "values\0" -> "value\0\0"
                patches.push((self.strings_at + m.name_off as usize + 5, vec![0]));
            }
        }
        if other_values && !patches.is_empty() {
            return Err(
                "objects that initialise both program arrays and maps of maps \
                        declaratively are not supported"
                    .into(),
            );
        }
        Ok(patches)
    }

    /// Byte offset of the `values` member of map `map`'s definition (program-array slots).
    pub fn map_values_offset(&self, map: &str) -> Option<u64> {
        let m = self
            .map_def_members(map)?
            .iter()
            .find(|m| m.name == "values")?;
        Some(u64::from(m.bit_offset / 8))
    }

    /// The key and value types of map `map`, from `__type(key, ...)` / `__type(value, ...)`.
    pub fn map_key_value(&self, map: &str) -> (Option<TypeId>, Option<TypeId>) {
        let Some(members) = self.map_def_members(map) else {
            return (None, None);
        };
        let pointee = |field: &str| {
            let m = members.iter().find(|m| m.name == field)?;
            // `__type(key, T)` declares the member as `T *key`.
            match self.get(self.resolve(m.ty)) {
                Type::Ptr { target } => Some(*target),
                _ => None,
            }
        };
        (pointee("key"), pointee("value"))
    }

    /// Decodes `bytes` as a value of type `id`; falls back to raw bytes when they do not fit.
    pub fn decode(&self, id: TypeId, bytes: &[u8]) -> Value {
        let id = self.resolve(id);
        let size = self.size_of(id) as usize;
        if size == 0 || bytes.len() < size {
            return Value::Bytes(bytes.to_vec());
        }
        let bytes = &bytes[..size];
        match self.get(id) {
            Type::Int {
                signed, bool: b, ..
            } => {
                let raw = le_u64(bytes);
                if *b {
                    Value::Bool(raw != 0)
                } else if *signed {
                    Value::Int(sign_extend(raw, size))
                } else if size > 8 {
                    Value::Bytes(bytes.to_vec())
                } else {
                    Value::Uint(raw)
                }
            }
            Type::Enum { values, signed, .. } => {
                let raw = le_u64(bytes);
                let v = if *signed {
                    sign_extend(raw, size)
                } else {
                    raw as i64
                };
                match values.iter().find(|(_, x)| *x == v) {
                    Some((name, _)) => Value::Str(name.clone()),
                    None => Value::Int(v),
                }
            }
            Type::Ptr { .. } => Value::Pointer(le_u64(bytes)),
            Type::Float { size: 4 } => Value::Float(f64::from(f32::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            Type::Float { size: 8 } => {
                let mut a = [0u8; 8];
                a.copy_from_slice(bytes);
                Value::Float(f64::from_le_bytes(a))
            }
            Type::Array { elem, len } => {
                let elem_ty = self.get(self.resolve(*elem));
                if matches!(
                    elem_ty,
                    Type::Int { char: true, .. } | Type::Int { size: 1, .. }
                ) && is_text(bytes)
                {
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    return Value::Str(String::from_utf8_lossy(&bytes[..end]).into_owned());
                }
                let es = self.size_of(*elem) as usize;
                Value::Array(
                    (0..*len as usize)
                        .map(|i| self.decode(*elem, &bytes[i * es..(i + 1) * es]))
                        .collect(),
                )
            }
            Type::Struct { members, .. } => Value::Struct(
                members
                    .iter()
                    .map(|m| {
                        let start = (m.bit_offset / 8) as usize;
                        let v = if m.bit_size != 0 || m.bit_offset % 8 != 0 {
                            bitfield(bytes, m.bit_offset, m.bit_size)
                        } else {
                            self.decode(m.ty, bytes.get(start..).unwrap_or(&[]))
                        };
                        (m.name.clone(), v)
                    })
                    .collect(),
            ),
            _ => Value::Bytes(bytes.to_vec()),
        }
    }
}

/// A char array reads as text when everything before the first NUL is printable.
fn is_text(bytes: &[u8]) -> bool {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end]
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
}

fn le_u64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | (u64::from(b) << (8 * i)))
}

fn sign_extend(raw: u64, size: usize) -> i64 {
    if size >= 8 {
        return raw as i64;
    }
    let shift = 64 - 8 * size as u32;
    ((raw << shift) as i64) >> shift
}

fn bitfield(bytes: &[u8], bit_offset: u32, bit_size: u32) -> Value {
    let size = if bit_size == 0 { 8 } else { bit_size };
    let mut v = 0u64;
    for i in 0..size.min(64) {
        let bit = bit_offset + i;
        let byte = bytes.get((bit / 8) as usize).copied().unwrap_or(0);
        v |= u64::from((byte >> (bit % 8)) & 1) << i;
    }
    Value::Uint(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob: header, the given type records, then the string table.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]); // version, flags
        for w in [
            24u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            strings.len() as u32,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&type_bytes);
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn decodes_structs_arrays_and_enums() {
        // Strings: 0 "", 1 "int", 5 "ev", 8 "pid", 12 "comm", 17 "char", 22 "kind", 27 "A", 29 "B"
        let strings = b"\0int\0ev\0pid\0comm\0char\0kind\0A\0B\0";
        let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
        #[rustfmt::skip]
        let types = [
            // [1] int: signed, 32 bits
            1, info(kind::INT, 0), 4, (1 << 24) | 32,
            // [2] char
            17, info(kind::INT, 0), 1, (2 << 24) | 8,
            // [3] char[4]
            0, info(kind::ARRAY, 0), 0, 2, 1, 4,
            // [4] enum kind { A = 1, B = 2 }
            22, info(kind::ENUM, 2), 4, 27, 1, 29, 2,
            // [5] struct ev { int pid; char comm[4]; enum kind kind; }
            5, info(kind::STRUCT, 3), 12, 8, 1, 0, 12, 3, 32, 22, 4, 64,
            // [6] const struct ev
            0, info(kind::CONST, 0), 5,
        ];
        let btf = Btf::parse(&blob(&types, strings)).expect("parses");
        assert_eq!(btf.named_type("struct ev"), Some(5));
        assert_eq!(btf.size_of(6), 12);
        assert_eq!(btf.type_name(3), "char[4]");
        let bytes = [0xfe, 0xff, 0xff, 0xff, b's', b'h', 0, 0, 2, 0, 0, 0];
        assert_eq!(
            btf.decode(6, &bytes).text(),
            "{ .pid = -2, .comm = sh, .kind = B }"
        );
        // Too short for the type: raw bytes.
        assert_eq!(btf.decode(5, &bytes[..3]).text(), "fe ff ff");
        assert!(Btf::parse(b"not btf at all, no magic here").is_err());
    }
}
