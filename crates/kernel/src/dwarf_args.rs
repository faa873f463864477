//! A function's parameters from the DWARF debug information of a user binary (C built with
//! `-g`): what bpftrace's `args.NAME` means in a uprobe, and what `-lv 'uprobe:BIN:FUNC'`
//! shows.
//!
//! Only what is needed to read integer and pointer arguments is kept: each parameter's name,
//! its C spelling and whether it is an integer (of which width and sign) or a pointer.
//! Parameters are located by the System V calling convention, so a parameter is only
//! [`Parameter::index`]ed when it and every parameter before it take one integer register.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use elf::{Object, ObjectSection};
use gimli::{constants, AttributeValue, EndianSlice, LittleEndian, UnitOffset};

use crate::elf_symbols::{parse_elf, read_file, ElfError};

type Reader<'d> = EndianSlice<'d, LittleEndian>;

/// How a parameter's value can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// An integer (enums, `bool` and `char` included).
    Int {
        bytes: u8,
        signed: bool,
    },
    Pointer,
    /// Structs, floating point and anything else not held in one integer register.
    Other,
}

/// One formal parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    /// The type as C spells it (`const char *`, `unsigned int`, `struct point`).
    pub c_type: String,
    pub kind: ParamKind,
    /// Its integer argument slot (`arg0` is 0) when it can be located.
    pub index: Option<u8>,
}

/// The parameters of every function the DWARF information defines, by name and linkage
/// name; read once for listings of many functions.
#[derive(Debug, Default)]
pub struct FunctionParameters {
    by_name: HashMap<String, Vec<Parameter>>,
}

impl FunctionParameters {
    /// `None` when the file has no debug information.
    pub fn read(path: &Path) -> Result<Option<Self>, ElfError> {
        let data = read_file(path)?;
        let file = parse_elf(path, &data)?;
        if file.section_by_name(".debug_info").is_none() {
            // A stripped binary's DWARF may be in a separate debug file.
            return match crate::elf_symbols::debug_file(path, &file) {
                Some(debug) if debug != path => Self::read(&debug),
                _ => Ok(None),
            };
        }
        let malformed = |e: gimli::Error| ElfError::Malformed {
            path: path.to_path_buf(),
            reason: format!("DWARF: {e}"),
        };
        let sections: gimli::DwarfSections<Cow<[u8]>> = gimli::DwarfSections::load(|id| {
            Ok::<_, gimli::Error>(
                file.section_by_name(id.name())
                    .and_then(|s| s.uncompressed_data().ok())
                    .unwrap_or(Cow::Borrowed(&[])),
            )
        })
        .map_err(malformed)?;
        let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
        let mut found = FunctionParameters::default();
        let mut units = dwarf.units();
        while let Some(header) = units.next().map_err(malformed)? {
            let unit = dwarf.unit(header).map_err(malformed)?;
            found.add_unit(&dwarf, &unit).map_err(malformed)?;
        }
        Ok(Some(found))
    }

    /// The parameters of `function` (its DWARF name or linkage name).
    pub fn get(&self, function: &str) -> Option<&[Parameter]> {
        self.by_name.get(function).map(Vec::as_slice)
    }

    /// Every defined subprogram of `unit` (one with code: `DW_AT_low_pc`).
    fn add_unit<'d>(
        &mut self,
        dwarf: &gimli::Dwarf<Reader<'d>>,
        unit: &gimli::Unit<Reader<'d>>,
    ) -> gimli::Result<()> {
        let mut entries = unit.entries();
        // The subprogram being read: its depth, names and parameters so far.
        let mut current: Option<(isize, Vec<String>, Vec<Parameter>)> = None;
        while let Some(entry) = entries.next_dfs()? {
            let depth = entry.depth();
            if let Some((d, _, params)) = current.as_mut() {
                if depth > *d {
                    if depth == *d + 1 && entry.tag() == constants::DW_TAG_formal_parameter {
                        params.push(parameter(dwarf, unit, entry)?);
                    }
                    continue;
                }
                let (_, names, params) = current.take().expect("just matched");
                self.insert(names, params);
            }
            if entry.tag() != constants::DW_TAG_subprogram
                || entry.attr_value(constants::DW_AT_low_pc).is_none()
            {
                continue;
            }
            let mut names = Vec::new();
            let abstract_entry = origin(entry).and_then(|o| unit.entry(o).ok());
            for e in std::iter::once(entry).chain(abstract_entry.as_ref()) {
                for at in [constants::DW_AT_name, constants::DW_AT_linkage_name] {
                    names.extend(name_of(dwarf, unit, e, at));
                }
            }
            current = Some((depth, names, Vec::new()));
        }
        if let Some((_, names, params)) = current {
            self.insert(names, params);
        }
        Ok(())
    }

    fn insert(&mut self, names: Vec<String>, mut params: Vec<Parameter>) {
        // Slots: each integer or pointer parameter takes the next one; after anything else
        // the calling convention's placement is not worked out.
        let mut slot = Some(0u8);
        for p in &mut params {
            p.index = slot.filter(|_| p.kind != ParamKind::Other);
            slot = slot.filter(|_| p.kind != ParamKind::Other).map(|s| s + 1);
        }
        for name in names {
            self.by_name.entry(name).or_insert_with(|| params.clone());
        }
    }
}

/// The parameters of `function` (its DWARF name or linkage name), or `None` when the file
/// has no debug information or no definition of that function.
pub fn parameters(path: &Path, function: &str) -> Result<Option<Vec<Parameter>>, ElfError> {
    Ok(FunctionParameters::read(path)?.and_then(|all| all.get(function).map(<[_]>::to_vec)))
}

/// The entry an out-of-line or concrete instance refers to for its name and type.
fn origin<'d>(entry: &gimli::DebuggingInformationEntry<Reader<'d>>) -> Option<UnitOffset> {
    [
        constants::DW_AT_abstract_origin,
        constants::DW_AT_specification,
    ]
    .iter()
    .find_map(|&at| match entry.attr_value(at) {
        Some(AttributeValue::UnitRef(o)) => Some(o),
        _ => None,
    })
}

fn name_of<'d>(
    dwarf: &gimli::Dwarf<Reader<'d>>,
    unit: &gimli::Unit<Reader<'d>>,
    entry: &gimli::DebuggingInformationEntry<Reader<'d>>,
    at: constants::DwAt,
) -> Option<String> {
    let value = entry.attr_value(at)?;
    let s = dwarf.attr_string(unit, value).ok()?;
    Some(String::from_utf8_lossy(s.slice()).into_owned())
}

fn parameter<'d>(
    dwarf: &gimli::Dwarf<Reader<'d>>,
    unit: &gimli::Unit<Reader<'d>>,
    entry: &gimli::DebuggingInformationEntry<Reader<'d>>,
) -> gimli::Result<Parameter> {
    // A concrete instance may keep its name and type on the abstract parameter.
    let abstract_entry = origin(entry).and_then(|o| unit.entry(o).ok());
    let described = abstract_entry.as_ref().unwrap_or(entry);
    let name = name_of(dwarf, unit, entry, constants::DW_AT_name)
        .or_else(|| name_of(dwarf, unit, described, constants::DW_AT_name))
        .unwrap_or_default();
    let type_ref = entry
        .attr_value(constants::DW_AT_type)
        .or_else(|| described.attr_value(constants::DW_AT_type));
    let (c_type, kind) = describe_type(dwarf, unit, type_ref, 0);
    Ok(Parameter {
        name,
        c_type,
        kind,
        index: None,
    })
}

/// The C spelling and kind of the type `type_ref` refers to (typedefs and qualifiers
/// followed for the kind, kept in the spelling).
fn describe_type<'d>(
    dwarf: &gimli::Dwarf<Reader<'d>>,
    unit: &gimli::Unit<Reader<'d>>,
    type_ref: Option<AttributeValue<Reader<'d>>>,
    depth: u32,
) -> (String, ParamKind) {
    let Some(AttributeValue::UnitRef(offset)) = type_ref else {
        return ("void".to_string(), ParamKind::Other);
    };
    let Ok(entry) = unit.entry(offset) else {
        return ("?".to_string(), ParamKind::Other);
    };
    if depth > 16 {
        return ("?".to_string(), ParamKind::Other);
    }
    let name = name_of(dwarf, unit, &entry, constants::DW_AT_name);
    let bytes = match entry.attr_value(constants::DW_AT_byte_size) {
        Some(AttributeValue::Udata(n)) => n as u8,
        Some(AttributeValue::Data1(n)) => n,
        Some(AttributeValue::Data2(n)) => n as u8,
        _ => 0,
    };
    let inner = || {
        describe_type(
            dwarf,
            unit,
            entry.attr_value(constants::DW_AT_type),
            depth + 1,
        )
    };
    match entry.tag() {
        constants::DW_TAG_base_type => {
            let signed = matches!(
                entry.attr_value(constants::DW_AT_encoding),
                Some(AttributeValue::Encoding(e))
                    if e == constants::DW_ATE_signed || e == constants::DW_ATE_signed_char
            );
            let is_int = matches!(
                entry.attr_value(constants::DW_AT_encoding),
                Some(AttributeValue::Encoding(e)) if e != constants::DW_ATE_float
                    && e != constants::DW_ATE_complex_float
            );
            let kind = if is_int && [1, 2, 4, 8].contains(&bytes) {
                ParamKind::Int { bytes, signed }
            } else {
                ParamKind::Other
            };
            (name.unwrap_or_default(), kind)
        }
        constants::DW_TAG_pointer_type => {
            let (pointee, _) = inner();
            // Spelled as bpftrace lists uprobe arguments (`const char*`).
            (format!("{pointee}*"), ParamKind::Pointer)
        }
        constants::DW_TAG_typedef => {
            let (_, kind) = inner();
            (name.unwrap_or_default(), kind)
        }
        constants::DW_TAG_const_type => {
            let (t, kind) = inner();
            // A constant pointer is `T* const`; a pointer to a constant is `const T*`.
            match kind {
                ParamKind::Pointer => (format!("{t} const"), kind),
                _ => (format!("const {t}"), kind),
            }
        }
        constants::DW_TAG_volatile_type => {
            let (t, kind) = inner();
            (format!("volatile {t}"), kind)
        }
        constants::DW_TAG_enumeration_type => (
            format!("enum {}", name.unwrap_or_default()),
            ParamKind::Int {
                bytes: if bytes == 0 { 4 } else { bytes },
                signed: false,
            },
        ),
        constants::DW_TAG_structure_type => (
            format!("struct {}", name.unwrap_or_default()),
            ParamKind::Other,
        ),
        constants::DW_TAG_union_type => (
            format!("union {}", name.unwrap_or_default()),
            ParamKind::Other,
        ),
        _ => (name.unwrap_or_else(|| "?".to_string()), ParamKind::Other),
    }
}
