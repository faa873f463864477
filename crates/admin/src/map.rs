//! `beetrace map ...`: the operations, and their output in bpftool's text and JSON shapes
//! (for the same map, beetrace and bpftool print the same lines and the same JSON values).
//!
//! As in bpftool, a map with BTF is shown typed (text: indented JSON of the typed entries;
//! `-j`: hex bytes plus a `formatted` object) and other maps as hex bytes; `--format
//! bpftrace` prints a beetrace run's `@map` as bpftrace would.

use std::os::fd::OwnedFd;
use std::path::Path;

use bpfsys::{MapInfo, UpdateFlag};

use crate::json::Json;
use crate::layout;
use crate::names::{map_is_per_cpu, map_type_name};
use crate::target::fdinfo_field;
use crate::{AdminError, Format};

/// bpftool's hex: bytes separated by a space, groups of 8 by two spaces, lines of 16.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(if i % 16 == 0 {
                "\n"
            } else if i % 8 == 0 {
                "  "
            } else {
                " "
            });
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `map show` / `map list` for these maps.
pub fn show(maps: &[(OwnedFd, MapInfo)], fmt: Format) -> String {
    crate::show_objects(
        maps,
        fmt,
        bpfsys::ObjKind::Map,
        |i| i.id,
        show_json,
        show_text,
    )
}

fn show_text(fd: &OwnedFd, i: &MapInfo, pinned: &[String]) -> String {
    let mut s = format!(
        "{}: {}  name {}  flags 0x{:x}\n\tkey {}B  value {}B  max_entries {}  memlock {}B\n",
        i.id,
        map_type_name(i.map_type),
        i.name,
        i.flags,
        i.key_size,
        i.value_size,
        i.max_entries,
        fdinfo_field(fd, "memlock").unwrap_or(0)
    );
    for path in pinned {
        s.push_str(&format!("\tpinned {path}\n"));
    }
    if i.btf_id != 0 {
        s.push_str(&format!("\tbtf_id {}\n", i.btf_id));
    }
    s
}

fn show_json(fd: &OwnedFd, i: &MapInfo, pinned: &[String]) -> Json {
    let mut fields = vec![
        ("id", Json::int(i.id)),
        ("type", Json::str(map_type_name(i.map_type))),
        ("name", Json::str(&i.name)),
        ("flags", Json::int(i.flags)),
        ("bytes_key", Json::int(i.key_size)),
        ("bytes_value", Json::int(i.value_size)),
        ("max_entries", Json::int(i.max_entries)),
        (
            "bytes_memlock",
            Json::int(fdinfo_field(fd, "memlock").unwrap_or(0)),
        ),
        ("frozen", Json::int(fdinfo_field(fd, "frozen").unwrap_or(0))),
    ];
    if i.btf_id != 0 {
        fields.push(("btf_id", Json::int(i.btf_id)));
    }
    if !pinned.is_empty() {
        fields.push(("pinned", Json::Arr(pinned.iter().map(Json::str).collect())));
    }
    Json::obj(fields)
}

fn kernel(what: &str) -> impl Fn(std::io::Error) -> AdminError + '_ {
    move |e| AdminError::kernel(what.to_string(), e)
}

/// How many values a lookup returns, and the stride between them.
fn value_layout(i: &MapInfo) -> Result<(usize, usize), AdminError> {
    if map_is_per_cpu(i.map_type) {
        let cpus = bpfsys::possible_cpus().map_err(kernel("cannot count CPUs"))?;
        Ok((cpus, (i.value_size as usize).div_ceil(8) * 8))
    } else {
        Ok((1, i.value_size as usize))
    }
}

/// The value of `key`, one buffer per CPU for per-CPU maps; `None` when absent.
fn lookup_values(
    fd: &OwnedFd,
    i: &MapInfo,
    key: &[u8],
) -> Result<Option<Vec<Vec<u8>>>, AdminError> {
    let (copies, stride) = value_layout(i)?;
    let mut buf = vec![0u8; copies * stride.max(1)];
    if !bpfsys::map_lookup(fd, key, &mut buf).map_err(kernel("lookup failed"))? {
        return Ok(None);
    }
    Ok(Some(
        buf.chunks(stride.max(1))
            .map(|c| c[..i.value_size as usize].to_vec())
            .collect(),
    ))
}

fn entry_text(i: &MapInfo, key: &[u8], values: &[Vec<u8>]) -> String {
    let mut s = String::new();
    if !map_is_per_cpu(i.map_type) {
        let break_names = i.key_size > 16 || i.value_size > 16;
        let single_line = i.key_size + i.value_size <= 24 && !break_names;
        let sep = if break_names { '\n' } else { ' ' };
        if i.key_size > 0 {
            s.push_str(&format!("key:{sep}{}", hex(key)));
            s.push_str(if single_line { "  " } else { "\n" });
        }
        if i.value_size > 0 {
            s.push_str(&format!("value:{sep}{}", hex(&values[0])));
        }
        s.push('\n');
    } else {
        if i.key_size > 0 {
            s.push_str(&format!("key:\n{}\n", hex(key)));
        }
        let sep = if i.value_size > 16 { '\n' } else { ' ' };
        for (cpu, v) in values.iter().enumerate() {
            s.push_str(&format!("value (CPU {cpu:02}):{sep}{}\n", hex(v)));
        }
    }
    s
}

/// `{"key": K, "value": V}`, or `{"key": K, "values": [{"cpu": 0, "value": V}, ...]}` for
/// per-CPU maps, with keys and values rendered by `key` (`Some(None)`: no key shown) and
/// `value`.
fn entry_object(
    i: &MapInfo,
    key: &[u8],
    values: &[Vec<u8>],
    render_key: impl Fn(&[u8]) -> Option<Option<Json>>,
    render_value: impl Fn(&[u8]) -> Option<Json>,
) -> Option<Json> {
    let mut fields = Vec::new();
    if let Some(k) = render_key(key)? {
        fields.push(("key", k));
    }
    if !map_is_per_cpu(i.map_type) {
        fields.push(("value", render_value(&values[0])?));
        return Some(Json::obj(fields));
    }
    let per_cpu = values
        .iter()
        .enumerate()
        .map(|(cpu, v)| {
            Some(Json::obj(vec![
                ("cpu", Json::int(cpu as u32)),
                ("value", render_value(v)?),
            ]))
        })
        .collect::<Option<Vec<_>>>()?;
    fields.push(("values", Json::Arr(per_cpu)));
    Some(Json::obj(fields))
}

/// The entry with its key and value typed by the map's BTF (bpftool's `formatted`), as
/// text output (`text`) or JSON shows it.
fn entry_formatted(
    i: &MapInfo,
    key: &[u8],
    values: &[Vec<u8>],
    types: &Option<layout::MapTypes>,
    text: bool,
) -> Option<Json> {
    let t = types.as_ref()?;
    entry_object(i, key, values, |b| t.key(b, text), |b| t.value(b, text))
}

/// An entry in `-j` output: bytes in hex, plus `formatted` when the BTF types them.
fn entry_json(
    i: &MapInfo,
    key: &[u8],
    values: &[Vec<u8>],
    types: &Option<layout::MapTypes>,
) -> Json {
    let Some(Json::Obj(mut fields)) = entry_object(
        i,
        key,
        values,
        |b| Some(Some(Json::hex_bytes(b))),
        |b| Some(Json::hex_bytes(b)),
    ) else {
        unreachable!("hex rendering never fails");
    };
    if let Some(formatted) = entry_formatted(i, key, values, types, false) {
        fields.push(("formatted".to_string(), formatted));
    }
    Json::Obj(fields)
}

/// Every entry of the map (one value per CPU for per-CPU maps), in the kernel's order.
fn entries(fd: &OwnedFd, i: &MapInfo) -> Result<Vec<output::Entry>, AdminError> {
    let keys = bpfsys::map_keys(fd, i.key_size as usize).map_err(kernel("cannot walk the keys"))?;
    let mut out = Vec::new();
    for key in keys {
        if let Some(values) = lookup_values(fd, i, &key)? {
            out.push(output::Entry { key, values });
        }
    }
    Ok(out)
}

fn no_values(i: &MapInfo) -> Result<(), AdminError> {
    if i.value_size == 0 || i.key_size == 0 {
        return Err(AdminError::Usage(format!(
            "map {} ({}) has no keys or values to read",
            i.id,
            map_type_name(i.map_type)
        )));
    }
    Ok(())
}

/// `map dump`: every entry, then (in text) how many there were.
pub fn dump(maps: &[(OwnedFd, MapInfo)], fmt: Format) -> Result<String, AdminError> {
    let mut text = String::new();
    let mut items = Vec::new();
    for (fd, i) in maps {
        no_values(i)?;
        let types = layout::map_types(i);
        let all = entries(fd, i)?;
        // Like bpftool, text output shows a map that has BTF as its typed entries (indented
        // JSON), and only other maps as hex.
        let formatted: Option<Vec<Json>> = all
            .iter()
            .map(|e| entry_formatted(i, &e.key, &e.values, &types, true))
            .collect();
        if let (false, Some(formatted)) = (fmt.json, formatted.filter(|_| types.is_some())) {
            text.push_str(&Json::Arr(formatted).render(true));
            text.push('\n');
            continue;
        }
        for e in &all {
            if fmt.json {
                items.push(entry_json(i, &e.key, &e.values, &types));
            } else {
                text.push_str(&entry_text(i, &e.key, &e.values));
            }
        }
        if !fmt.json {
            let n = all.len();
            text.push_str(&format!(
                "Found {n} element{}\n",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    if fmt.json {
        return Ok(Json::Arr(items).render(fmt.pretty) + "\n");
    }
    Ok(text)
}

/// `map dump --format bpftrace`: a beetrace run's `@map` printed as bpftrace prints maps
/// (text, or its NDJSON record with `-j`). The layout comes from the map's BTF.
pub fn dump_bpftrace(fd: &OwnedFd, i: &MapInfo, json: bool) -> Result<String, AdminError> {
    let info = layout::script_map(i).ok_or_else(|| {
        AdminError::Usage(format!(
            "map {} was not created by a beetrace script, so its layout is unknown; \
             dump it without --format bpftrace",
            i.id
        ))
    })?;
    let held = info
        .key
        .iter()
        .copied()
        .chain(match info.value {
            sema::maps::MapValue::Plain(t) => Some(t),
            _ => None,
        })
        .find(|t| t.resolved_at_run_time());
    if let Some(t) = held {
        return Err(AdminError::Usage(format!(
            "map {} holds {t} values, which only the run that made them can print; \
             dump it without --format bpftrace",
            i.id
        )));
    }
    let all = entries(fd, i)?;
    let opts = output::PrintOptions::default();
    Ok(if json {
        output::map_json(&info, &all, &opts)
    } else {
        output::map_text(&info, &all, &opts)
    })
}

fn key_not_found(key: &[u8]) -> AdminError {
    AdminError::NotFound(format!("key {} not found", hex(key).replace('\n', " ")))
}

/// `map lookup`.
pub fn lookup(fd: &OwnedFd, i: &MapInfo, key: &[u8], fmt: Format) -> Result<String, AdminError> {
    no_values(i)?;
    crate::target::check_size("key", key, i.key_size)?;
    let values = lookup_values(fd, i, key)?.ok_or_else(|| key_not_found(key))?;
    let types = layout::map_types(i);
    if fmt.json {
        return Ok(entry_json(i, key, &values, &types).render(fmt.pretty) + "\n");
    }
    if let Some(formatted) = entry_formatted(i, key, &values, &types, true) {
        return Ok(formatted.render(true) + "\n");
    }
    Ok(entry_text(i, key, &values))
}

/// `map getnext`: the key after `key` (the first key without one).
pub fn getnext(
    fd: &OwnedFd,
    i: &MapInfo,
    key: Option<&[u8]>,
    fmt: Format,
) -> Result<String, AdminError> {
    if let Some(k) = key {
        crate::target::check_size("key", k, i.key_size)?;
    }
    let mut next = vec![0u8; i.key_size as usize];
    if !bpfsys::map_next_key(fd, key, &mut next).map_err(kernel("cannot get the next key"))? {
        return Err(AdminError::NotFound(match key {
            Some(k) => format!("no key follows {}", hex(k).replace('\n', " ")),
            None => "the map is empty".into(),
        }));
    }
    if fmt.json {
        let json = Json::obj(vec![
            ("key", key.map_or(Json::Null, Json::hex_bytes)),
            ("next_key", Json::hex_bytes(&next)),
        ]);
        return Ok(json.render(fmt.pretty) + "\n");
    }
    Ok(match key {
        Some(k) => format!("key:\n{}\nnext key:\n{}\n", hex(k), hex(&next)),
        None => format!("key: None\nnext key:\n{}\n", hex(&next)),
    })
}

/// `map update`: per-CPU maps get the value on every CPU, as with bpftool.
pub fn update(
    fd: &OwnedFd,
    i: &MapInfo,
    key: &[u8],
    value: &[u8],
    flag: UpdateFlag,
) -> Result<(), AdminError> {
    no_values(i)?;
    crate::target::check_size("key", key, i.key_size)?;
    crate::target::check_size("value", value, i.value_size)?;
    let (copies, stride) = value_layout(i)?;
    let mut buf = vec![0u8; copies * stride];
    for chunk in buf.chunks_mut(stride) {
        chunk[..value.len()].copy_from_slice(value);
    }
    bpfsys::map_update_flag(fd, key, &buf, flag).map_err(|e| match (e.raw_os_error(), flag) {
        (Some(libc::EEXIST), _) => AdminError::Usage(format!(
            "key {} already exists and `noexist` was given",
            hex(key).replace('\n', " ")
        )),
        (Some(libc::ENOENT), UpdateFlag::Exist) => key_not_found(key),
        (Some(libc::E2BIG), _) => {
            AdminError::Usage(format!("the map is full ({} entries)", i.max_entries))
        }
        _ => AdminError::kernel("update failed".into(), e),
    })
}

/// `map delete`.
pub fn delete(fd: &OwnedFd, i: &MapInfo, key: &[u8]) -> Result<(), AdminError> {
    crate::target::check_size("key", key, i.key_size)?;
    match bpfsys::map_delete_existing(fd, key) {
        Ok(true) => Ok(()),
        Ok(false) => Err(key_not_found(key)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(AdminError::Usage(format!(
            "{} maps do not support deleting entries",
            map_type_name(i.map_type)
        ))),
        Err(e) => Err(AdminError::kernel("delete failed".into(), e)),
    }
}

/// What `map create` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateSpec {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub name: String,
}

/// `map create PATH ...`: creates the map and pins it at `path`.
pub fn create(path: &Path, spec: &CreateSpec) -> Result<(), AdminError> {
    bpfsys::pin::check_path(path)?;
    if path.exists() {
        return Err(bpfsys::pin::PinError::Exists { path: path.into() }.into());
    }
    let fd = bpfsys::map_create(
        spec.map_type,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
        spec.flags,
        &spec.name,
    )
    .map_err(|e| {
        AdminError::kernel(
            format!(
                "the kernel refused a {} map with key {}B, value {}B, {} entries, flags 0x{:x}",
                map_type_name(spec.map_type),
                spec.key_size,
                spec.value_size,
                spec.max_entries,
                spec.flags
            ),
            e,
        )
    })?;
    bpfsys::pin::pin(&fd, path)?;
    Ok(())
}

/// `map pin` / `prog pin`: pins an open object at `path`.
pub fn pin(fd: &OwnedFd, path: &Path) -> Result<(), AdminError> {
    if path.exists() {
        return Err(bpfsys::pin::PinError::Exists { path: path.into() }.into());
    }
    bpfsys::pin::pin(fd, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(map_type: u32, key_size: u32, value_size: u32) -> MapInfo {
        MapInfo {
            map_type,
            key_size,
            value_size,
            ..MapInfo::default()
        }
    }

    #[test]
    fn hex_groups_eight_and_breaks_at_sixteen() {
        let bytes: Vec<u8> = (1..=20).collect();
        assert_eq!(
            hex(&bytes),
            "01 02 03 04 05 06 07 08  09 0a 0b 0c 0d 0e 0f 10\n11 12 13 14"
        );
        assert_eq!(hex(&[]), "");
    }

    /// The three layouts bpftool uses, as it prints them.
    #[test]
    fn entries_as_bpftool_prints_them() {
        let hash = 1;
        assert_eq!(
            entry_text(&info(hash, 4, 8), &[1, 0, 0, 0], &[vec![9; 8]]),
            "key: 01 00 00 00  value: 09 09 09 09 09 09 09 09\n"
        );
        assert_eq!(
            entry_text(&info(hash, 16, 8), &[0; 16], &[vec![0; 8]]),
            "key: 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  value: 00 00 00 00 00 00 00 00\n"
        );
        assert_eq!(
            entry_text(&info(hash, 4, 17), &[0; 4], &[vec![0; 17]]),
            "key:\n00 00 00 00\nvalue:\n00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n00\n"
        );
        let percpu_array = 6;
        assert_eq!(
            entry_text(
                &info(percpu_array, 4, 4),
                &[0; 4],
                &[vec![1; 4], vec![2; 4]]
            ),
            "key:\n00 00 00 00\nvalue (CPU 00): 01 01 01 01\nvalue (CPU 01): 02 02 02 02\n"
        );
    }

    #[test]
    fn entries_as_bpftool_json() {
        let j = entry_json(&info(1, 2, 1), &[1, 2], &[vec![255]], &None);
        assert_eq!(
            j.render(false),
            r#"{"key":["0x01","0x02"],"value":["0xff"]}"#
        );
        let j = entry_json(&info(5, 1, 1), &[0], &[vec![1], vec![2]], &None);
        assert_eq!(
            j.render(false),
            r#"{"key":["0x00"],"values":[{"cpu":0,"value":["0x01"]},{"cpu":1,"value":["0x02"]}]}"#
        );
    }
}
