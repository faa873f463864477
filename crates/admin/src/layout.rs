//! What a map's BTF says about it: its key and value structs (for typed JSON) and, for maps
//! made by beetrace scripts, the `@map` layout (the value struct is named with
//! [`sema::maps::MapInfo::layout_tag`]) that lets a dump print it as bpftrace would.

use object::map_btf::{BtfReader, FieldType, StructType};

use crate::json::Json;

/// The key and value structs of a map with BTF, when they have shapes we understand.
pub struct MapTypes {
    pub key: Option<StructType>,
    pub value: Option<StructType>,
}

/// Reads the BTF of `info`'s map; `None` without BTF.
pub fn map_types(info: &bpfsys::MapInfo) -> Option<MapTypes> {
    if info.btf_id == 0 {
        return None;
    }
    let fd = bpfsys::obj::btf_fd_by_id(info.btf_id).ok()?;
    let data = bpfsys::obj::btf_data(&fd).ok()?;
    let reader = BtfReader::new(&data)?;
    Some(MapTypes {
        key: reader.struct_type(info.btf_key_type_id),
        value: reader.struct_type(info.btf_value_type_id),
    })
}

/// The layout tag a beetrace run stored in the map's BTF, if any.
pub fn layout_tag(info: &bpfsys::MapInfo) -> Option<String> {
    map_types(info)?.value.map(|v| v.name)
}

/// The `@map` a beetrace run created this map for.
pub fn script_map(info: &bpfsys::MapInfo) -> Option<sema::maps::MapInfo> {
    sema::maps::MapInfo::from_layout_tag(&layout_tag(info)?, info.max_entries)
}

/// `bytes` decoded as `ty`: integers as numbers, `char` arrays as strings.
pub fn typed_json(ty: &StructType, bytes: &[u8]) -> Option<Json> {
    if ty.size() as usize != bytes.len() {
        return None;
    }
    let mut fields = Vec::new();
    let mut at = 0usize;
    for (name, field) in &ty.fields {
        let b = &bytes[at..at + field.size() as usize];
        at += b.len();
        let value = match field {
            FieldType::Int { signed } => {
                let raw = u64::from_le_bytes(b.try_into().ok()?);
                if *signed {
                    Json::int(raw as i64)
                } else {
                    Json::int(raw)
                }
            }
            FieldType::Chars(_) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Json::str(String::from_utf8_lossy(&b[..end]))
            }
        };
        fields.push((name.clone(), value));
    }
    Some(Json::Obj(fields))
}
