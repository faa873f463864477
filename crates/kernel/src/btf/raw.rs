//! One BTF blob (vmlinux, or a module's split BTF on top of it): the header, the string
//! section, and the type records, decoded one at a time.
//!
//! Nothing is decoded up front. The only eager work is locating the type records, which
//! takes one pass over the type section the first time a type is asked for by id or name
//! (BTF records have variable length, so the n-th record cannot be found without walking
//! the ones before it). Every read is bounds-checked: a damaged blob gives errors, never a
//! panic.

use std::sync::OnceLock;

use super::bytes::Bytes;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;

/// BTF kind numbers (`BTF_KIND_*`, from the format documentation).
pub mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// The fixed 12-byte head of every type record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub name_off: u32,
    pub kind: u32,
    pub vlen: u32,
    pub kind_flag: bool,
    /// `size` for INT, STRUCT, UNION, ENUM, FLOAT, DATASEC; `type` for the others.
    pub size_or_type: u32,
}

/// A parsed but undecoded BTF blob.
pub(crate) struct RawBtf {
    data: Bytes,
    types: std::ops::Range<usize>,
    strings: std::ops::Range<usize>,
    /// The id of this blob's first record: 1 for vmlinux (0 is `void`), and the number of
    /// vmlinux ids for split module BTF.
    pub first_id: u32,
    /// String offsets below this belong to the base blob (0 for vmlinux).
    pub first_str: u32,
    /// Byte offset of each record in the type section, filled by the first lookup.
    offsets: OnceLock<Result<Vec<u32>, String>>,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

impl RawBtf {
    /// Checks the header of `data`. `first_id`/`first_str` are 1/0 for a base blob and the
    /// base's id count / string section length for split BTF.
    pub fn parse(data: Bytes, first_id: u32, first_str: u32) -> Result<RawBtf, String> {
        let b: &[u8] = &data;
        if b.len() < HEADER_LEN {
            return Err(format!("{} bytes is too short for a BTF header", b.len()));
        }
        let magic = u16::from_ne_bytes([b[0], b[1]]);
        if magic != MAGIC {
            return Err(if magic.swap_bytes() == MAGIC {
                "BTF of the other byte order".to_string()
            } else {
                format!("bad magic {magic:#06x}")
            });
        }
        let field = |i: usize| u32_at(b, 8 + 4 * i).expect("header length checked") as usize;
        let hdr_len = u32_at(b, 4).expect("header length checked") as usize;
        let (type_off, type_len, str_off, str_len) = (field(0), field(1), field(2), field(3));
        let section = |off: usize, len: usize, what: &str| {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= b.len() => Ok(s..e),
                _ => Err(format!(
                    "the {what} section lies outside the {} bytes",
                    b.len()
                )),
            }
        };
        let types = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?;
        Ok(RawBtf {
            data,
            types,
            strings,
            first_id,
            first_str,
            offsets: OnceLock::new(),
        })
    }

    /// Length of the string section (what split BTF's offsets start after).
    pub fn str_len(&self) -> u32 {
        self.strings.len() as u32
    }

    /// One past the last id of this blob.
    pub fn end_id(&self) -> Result<u32, String> {
        Ok(self.first_id + self.offsets()?.len() as u32)
    }

    /// The string at `off` of this blob's own section (already rebased for split BTF).
    pub fn own_str(&self, off: u32) -> Option<&[u8]> {
        let s = self.data.get(self.strings.clone())?;
        let tail = s.get(off as usize..)?;
        let end = tail.iter().position(|&c| c == 0)?;
        Some(&tail[..end])
    }

    fn offsets(&self) -> Result<&[u32], String> {
        self.offsets
            .get_or_init(|| self.scan())
            .as_deref()
            .map_err(Clone::clone)
    }

    /// Walks the type section once, recording where each record starts.
    fn scan(&self) -> Result<Vec<u32>, String> {
        let sec = &self.data[self.types.clone()];
        let mut out = Vec::with_capacity(sec.len() / 24);
        let mut off = 0usize;
        while off < sec.len() {
            let id = self.first_id as usize + out.len();
            let head = head_at(sec, off).ok_or_else(|| format!("type {id} is truncated"))?;
            let extra = extra_len(&head).ok_or_else(|| {
                format!("type {id} has unknown kind {} (newer kernel?)", head.kind)
            })?;
            out.push(off as u32);
            off += 12 + extra;
        }
        if off != sec.len() {
            return Err("the last type record is truncated".to_string());
        }
        Ok(out)
    }

    /// The head of type `id` and the bytes of its kind-specific tail.
    pub fn record(&self, id: u32) -> Result<Option<(Head, &[u8])>, String> {
        let offsets = self.offsets()?;
        let Some(&off) = id
            .checked_sub(self.first_id)
            .and_then(|i| offsets.get(i as usize))
        else {
            return Ok(None);
        };
        let sec = &self.data[self.types.clone()];
        let off = off as usize;
        let head = head_at(sec, off).expect("scan checked every record");
        let extra = extra_len(&head).expect("scan checked every kind");
        Ok(Some((head, &sec[off + 12..off + 12 + extra])))
    }

    /// Every record's id and head, in id order (for name searches).
    pub fn heads(&self) -> Result<impl Iterator<Item = (u32, Head)> + '_, String> {
        let offsets = self.offsets()?;
        let sec = &self.data[self.types.clone()];
        Ok(offsets.iter().enumerate().map(move |(i, &off)| {
            let head = head_at(sec, off as usize).expect("scan checked every record");
            (self.first_id + i as u32, head)
        }))
    }
}

fn head_at(sec: &[u8], off: usize) -> Option<Head> {
    let name_off = u32_at(sec, off)?;
    let info = u32_at(sec, off + 4)?;
    let size_or_type = u32_at(sec, off + 8)?;
    Some(Head {
        name_off,
        kind: (info >> 24) & 0x1f,
        vlen: info & 0xffff,
        kind_flag: info >> 31 == 1,
        size_or_type,
    })
}

/// Bytes following the 12-byte head, by kind; `None` for kinds we do not know.
fn extra_len(h: &Head) -> Option<usize> {
    let vlen = h.vlen as usize;
    Some(match h.kind {
        kind::INT => 4,
        kind::ARRAY => 12,
        kind::STRUCT | kind::UNION => 12 * vlen,
        kind::ENUM => 8 * vlen,
        kind::FUNC_PROTO => 8 * vlen,
        kind::VAR => 4,
        kind::DATASEC => 12 * vlen,
        kind::DECL_TAG => 4,
        kind::ENUM64 => 12 * vlen,
        kind::PTR
        | kind::FWD
        | kind::TYPEDEF
        | kind::VOLATILE
        | kind::CONST
        | kind::RESTRICT
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => 0,
        _ => return None,
    })
}

/// The `i`-th u32 of a record tail (tails are arrays of u32 words).
pub(crate) fn word(tail: &[u8], i: usize) -> u32 {
    u32_at(tail, 4 * i).unwrap_or(0)
}
