//! What a map's BTF says about it: its key and value decoded as bpftool shows them, and,
//! for maps made by beetrace scripts, the `@map` layout (the value struct is named with
//! [`sema::maps::MapInfo::layout_tag`]) that lets a dump print it as bpftrace would.

use object::map_btf::{BtfReader, BtfValue};

use crate::json::Json;

/// The BTF of one map: the blob and its key and value type ids (0 when absent).
pub struct MapTypes {
    data: Vec<u8>,
    key: u32,
    value: u32,
}

/// Reads the BTF of `info`'s map; `None` without BTF or a value type.
pub fn map_types(info: &bpfsys::MapInfo) -> Option<MapTypes> {
    if info.btf_id == 0 || info.btf_value_type_id == 0 {
        return None;
    }
    let fd = bpfsys::obj::btf_fd_by_id(info.btf_id).ok()?;
    let data = bpfsys::obj::btf_data(&fd).ok()?;
    BtfReader::new(&data)?;
    Some(MapTypes {
        data,
        key: info.btf_key_type_id,
        value: info.btf_value_type_id,
    })
}

impl MapTypes {
    fn reader(&self) -> BtfReader<'_> {
        BtfReader::new(&self.data).expect("checked when read")
    }

    /// The key as bpftool's `formatted` JSON; `Some(None)` when the BTF has no key type
    /// (bpftool then shows only the value), `None` when the key cannot be decoded.
    pub fn key(&self, bytes: &[u8], text: bool) -> Option<Option<Json>> {
        if self.key == 0 {
            return Some(None);
        }
        Some(Some(to_json(self.reader().value(self.key, bytes)?, text)))
    }

    /// The value as bpftool's `formatted` JSON.
    pub fn value(&self, bytes: &[u8], text: bool) -> Option<Json> {
        Some(to_json(self.reader().value(self.value, bytes)?, text))
    }

    /// The name of the value type.
    pub fn value_name(&self) -> String {
        self.reader().name(self.value)
    }
}

/// bpftool's rendering of a typed value: in text output bitfields and pointers are bare
/// hex; in JSON bitfields are hex strings and pointers numbers.
fn to_json(v: BtfValue, text: bool) -> Json {
    match v {
        BtfValue::Signed(n) => Json::int(n),
        BtfValue::Unsigned(n) => Json::int(n),
        BtfValue::Bool(b) => Json::Bool(b),
        BtfValue::Bits(n) if text => Json::Raw(format!("{n:#x}")),
        BtfValue::Bits(n) => Json::str(format!("{n:#x}")),
        // glibc's `%p`, which bpftool's text output uses.
        BtfValue::Pointer(0) if text => Json::Raw("(nil)".into()),
        BtfValue::Pointer(n) if text => Json::Raw(format!("{n:#x}")),
        BtfValue::Pointer(n) => Json::int(n),
        BtfValue::Str(s) => Json::Str(s),
        BtfValue::List(items) => Json::Arr(items.into_iter().map(|v| to_json(v, text)).collect()),
        BtfValue::Fields(fields) => Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k, to_json(v, text)))
                .collect(),
        ),
    }
}

/// The layout tag a beetrace run stored in the map's BTF, if any.
pub fn layout_tag(info: &bpfsys::MapInfo) -> Option<String> {
    Some(map_types(info)?.value_name())
}

/// The `@map` a beetrace run created this map for.
pub fn script_map(info: &bpfsys::MapInfo) -> Option<sema::maps::MapInfo> {
    sema::maps::MapInfo::from_layout_tag(&layout_tag(info)?, info.max_entries)
}
