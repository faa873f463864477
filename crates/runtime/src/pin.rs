//! Map BTF and `--pin DIR`: every `@map` is created with BTF naming its layout (see
//! [`sema::maps::MapInfo::layout_tag`]), and with `--pin` pinned at `DIR/<name>` (`@` at
//! `DIR/@`) or reused from there when a compatible map is already pinned.
//!
//! With `--pin-progs` the programs (`DIR/progs/<name>`), their attachments
//! (`DIR/links/<name>[_<n>]`) and the object's internal maps (`DIR/internal/<name>`: the
//! syscall dispatchers' program arrays stop working once nothing holds them) are pinned
//! too, so tracing continues after beetrace exits, until `beetrace unpin DIR`.
//!
//! Pins made by a run that then fails are removed again: only a run that started leaves
//! anything behind, and only what was asked for.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use bpfsys::pin::{MapShape, PinError};
use object::map_btf::{FieldType, StructType};
use object::MapDef;
use sema::maps::{MapInfo, MapValue};
use sema::types::Type;

use crate::RuntimeError;

/// The pin name of `@name` inside the pin directory.
pub fn map_pin_name(map_name: &str) -> &str {
    if map_name.is_empty() {
        "@"
    } else {
        map_name
    }
}

fn int(name: &str, signed: bool) -> (String, FieldType) {
    (name.to_string(), FieldType::Int { signed })
}

/// The fields one key part or plain value occupies.
fn type_fields(name: &str, t: Type) -> Vec<(String, FieldType)> {
    match t {
        Type::Str { len } => vec![(name.to_string(), FieldType::Chars(len.div_ceil(8) * 8))],
        Type::CgroupPath => vec![
            int(&format!("{name}_cgroup_id"), false),
            int(&format!("{name}_filter"), false),
        ],
        Type::Inet => vec![
            int(&format!("{name}_family"), false),
            (format!("{name}_addr"), FieldType::Chars(16)),
        ],
        // Elements one after another, each 8-byte aligned as `TupleType` lays them out;
        // a record's fields by name.
        Type::Tuple(tuple) => tuple
            .fields
            .iter()
            .enumerate()
            .flat_map(|(i, f)| match tuple.names.get(i) {
                Some(field) => type_fields(&format!("{name}_{field}"), *f),
                None => type_fields(&format!("{name}_{i}"), *f),
            })
            .collect(),
        // A stack id, or an address; user ones are followed by the pid (and padding).
        Type::Stack(st) if st.user => vec![
            int(&format!("{name}_stackid"), true),
            int(&format!("{name}_pid"), false),
        ],
        Type::Stack(_) => vec![int(&format!("{name}_stackid"), true)],
        Type::Usym => vec![
            int(&format!("{name}_addr"), false),
            int(&format!("{name}_pid"), false),
        ],
        t => vec![int(name, t.is_signed())],
    }
}

/// The BTF struct of a map's key, in the layout `sema::maps` documents.
pub(crate) fn key_struct(info: &MapInfo) -> StructType {
    let mut fields = Vec::new();
    if info.key.is_empty() {
        fields.push(int("key", false));
    }
    for (i, t) in info.key.iter().enumerate() {
        fields.extend(type_fields(&format!("k{i}"), *t));
    }
    if info.value.bucketed() {
        fields.push(int("bucket", false));
    }
    StructType {
        name: "beetrace_key".into(),
        fields,
    }
}

/// The BTF struct of a map's (per-CPU) value, named with the map's layout tag.
pub(crate) fn value_struct(info: &MapInfo) -> StructType {
    let fields = match &info.value {
        MapValue::Plain(t) => type_fields("value", *t),
        MapValue::Count | MapValue::Hist { .. } | MapValue::Lhist { .. } => {
            vec![int("count", false)]
        }
        MapValue::Sum { signed } => vec![int("sum", *signed)],
        MapValue::Min { signed } | MapValue::Max { signed } => {
            vec![int("value", *signed), int("set", false)]
        }
        MapValue::Avg { signed } | MapValue::Stats { signed } => {
            vec![int("count", false), int("total", *signed)]
        }
    };
    StructType {
        name: info.layout_tag(),
        fields,
    }
}

/// The BTF object describing the script maps and the `(key, value)` type ids of each, or
/// `None` for a map whose sizes the description would not match (then it gets no BTF).
pub(crate) struct ScriptMapsBtf {
    pub(crate) btf: OwnedFd,
    pub(crate) ids: Vec<Option<(u32, u32)>>,
}

pub(crate) fn script_maps_btf(infos: &[MapInfo], defs: &[MapDef]) -> Option<ScriptMapsBtf> {
    if infos.is_empty() {
        return None;
    }
    let structs: Vec<(StructType, StructType)> = infos
        .iter()
        .map(|i| (key_struct(i), value_struct(i)))
        .collect();
    let (blob, ids) = object::map_btf::maps_btf(&structs);
    // Without BTF the maps still work; only typed display is lost.
    let btf = bpfsys::btf_load(&blob).ok()?;
    let ids = ids
        .into_iter()
        .zip(&structs)
        .zip(defs)
        .map(|((id, (k, v)), def)| {
            (k.size() == def.key_size && v.size() == def.value_size).then_some(id)
        })
        .collect();
    Some(ScriptMapsBtf { btf, ids })
}

/// Where a run pins, and what it pinned itself (removed again if the run fails).
pub(crate) struct Pins {
    pub(crate) dir: PathBuf,
    pub(crate) progs: bool,
    created: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
    /// Set once the run has started; from then on pins stay.
    keep: bool,
}

fn pin_error(e: PinError) -> RuntimeError {
    RuntimeError::Pin(e.to_string())
}

impl Pins {
    /// Prepares `dir` (created if missing). With `progs`, refuses a directory that still holds
    /// the attached programs of an earlier run, which would then run twice.
    pub(crate) fn new(dir: &Path, progs: bool) -> Result<Pins, RuntimeError> {
        bpfsys::pin::check_path(dir).map_err(pin_error)?;
        let mut pins = Pins {
            dir: dir.to_path_buf(),
            progs,
            created: Vec::new(),
            created_dirs: Vec::new(),
            keep: false,
        };
        pins.mkdir(dir)?;
        if progs {
            let links = dir.join("links");
            if std::fs::read_dir(&links).is_ok_and(|mut d| d.next().is_some()) {
                return Err(RuntimeError::Pin(format!(
                    "{} holds programs still attached by an earlier run; remove them with \
                     `beetrace unpin {}` first",
                    links.display(),
                    dir.display()
                )));
            }
            for sub in ["progs", "links", "internal"] {
                pins.mkdir(&dir.join(sub))?;
            }
        }
        Ok(pins)
    }

    fn mkdir(&mut self, dir: &Path) -> Result<(), RuntimeError> {
        if !dir.exists() {
            bpfsys::pin::create_dir(dir).map_err(pin_error)?;
            self.created_dirs.push(dir.to_path_buf());
        }
        Ok(())
    }

    /// Pins `fd` at `path`, remembering it was this run's.
    pub(crate) fn pin(&mut self, fd: &OwnedFd, path: PathBuf) -> Result<(), RuntimeError> {
        bpfsys::pin::pin(fd, &path).map_err(pin_error)?;
        self.created.push(path);
        Ok(())
    }

    /// The script map `info` as created by `create`: reused from `DIR/<name>` when a
    /// compatible map is pinned there, else created and pinned. Says which on `err`.
    pub(crate) fn script_map(
        &mut self,
        info: &MapInfo,
        def: &MapDef,
        err: &mut dyn Write,
        create: impl FnOnce() -> Result<OwnedFd, RuntimeError>,
    ) -> Result<OwnedFd, RuntimeError> {
        // A stack is an id into a stack-trace map of this run, and a usym needs this run's
        // process maps: pinned, they would outlive what gives them meaning, and a later run
        // reusing the map would print other stacks under their ids.
        let run_bound = info
            .key
            .iter()
            .chain(match &info.value {
                MapValue::Plain(t) => Some(t),
                _ => None,
            })
            .find(|t| matches!(t, Type::Stack(_) | Type::Usym));
        if let Some(t) = run_bound {
            return Err(RuntimeError::Pin(format!(
                "{} holds {t} values, which mean something only during the run that made \
                 them, so it cannot be pinned",
                info.display_name()
            )));
        }
        let path = self.dir.join(map_pin_name(&info.name));
        if path.exists() {
            let shape = MapShape {
                map_type: def.map_type,
                key_size: def.key_size,
                value_size: def.value_size,
                max_entries: def.max_entries,
                flags: def.flags,
            };
            let (fd, kernel_info) =
                bpfsys::pin::open_compatible_map(&path, &shape).map_err(pin_error)?;
            let pinned = admin::layout::layout_tag(&kernel_info);
            let wanted = info.layout_tag();
            if pinned.as_deref() != Some(wanted.as_str()) {
                return Err(RuntimeError::Pin(
                    PinError::Mismatch {
                        path,
                        differences: format!(
                            "layout {} pinned, {wanted} wanted for {}",
                            pinned
                                .as_deref()
                                .unwrap_or("unknown (not made by beetrace)"),
                            info.display_name()
                        ),
                    }
                    .to_string(),
                ));
            }
            let _ = writeln!(
                err,
                "beetrace: {} reuses the map pinned at {}",
                info.display_name(),
                path.display()
            );
            return Ok(fd);
        }
        let fd = create()?;
        self.pin(&fd, path.clone())?;
        let _ = writeln!(
            err,
            "beetrace: {} pinned at {}",
            info.display_name(),
            path.display()
        );
        Ok(fd)
    }

    /// The run started: what it pinned stays.
    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for path in self.created.iter().rev() {
            let _ = std::fs::remove_file(path);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
