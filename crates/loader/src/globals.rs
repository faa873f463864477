//! `--set NAME=VALUE`: the bytes a global variable gets before the object is loaded (what a
//! libbpf skeleton does to `rodata` before `load()`). The value is read by the variable's BTF
//! type, so a wrong type or an out-of-range number is an error instead of silent truncation.

use crate::btf::{Btf, Type};
use crate::scan::{GlobalSym, Scan};
use crate::LoadError;

/// The bytes for each `--set`, in order: (variable name, new contents).
pub fn encode_all(
    scan: &Scan,
    sets: &[(String, String)],
) -> Result<Vec<(String, Vec<u8>)>, LoadError> {
    sets.iter()
        .map(|(name, value)| {
            let global = scan
                .globals
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = scan.globals.iter().map(|g| g.name.as_str()).collect();
                    LoadError::Set {
                        name: name.clone(),
                        reason: if known.is_empty() {
                            "the object has no global variables".into()
                        } else {
                            format!(
                                "no such global variable (the object has: {})",
                                known.join(", ")
                            )
                        },
                    }
                })?;
            let bytes =
                encode(scan.btf.as_ref(), global, value).map_err(|reason| LoadError::Set {
                    name: name.clone(),
                    reason,
                })?;
            Ok((name.clone(), bytes))
        })
        .collect()
}

fn encode(btf: Option<&Btf>, global: &GlobalSym, text: &str) -> Result<Vec<u8>, String> {
    let size = global.size as usize;
    let ty = btf.and_then(|b| {
        b.datasec_vars(global.section.name())
            .into_iter()
            .find(|(n, ..)| *n == global.name)
            .map(|(_, ty, ..)| (b, b.resolve(ty)))
    });
    let Some((btf, ty)) = ty else {
        // No BTF: an integer of the symbol's size.
        return int_bytes(text, size, true);
    };
    match btf.get(ty) {
        Type::Int { bool: true, .. } => match text {
            "true" | "1" => Ok(pad(vec![1], size)),
            "false" | "0" => Ok(pad(vec![0], size)),
            _ => Err(format!("'{text}' is not a bool (use true or false)")),
        },
        Type::Int {
            signed, size: s, ..
        } => int_bytes(text, *s as usize, *signed),
        Type::Enum {
            values,
            size: s,
            signed,
            ..
        } => match values.iter().find(|(n, _)| n == text) {
            Some((_, v)) => v
                .to_le_bytes()
                .get(..*s as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("an enum of {s} bytes cannot be set")),
            None => int_bytes(text, *s as usize, *signed).map_err(|_| {
                let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
                format!("'{text}' is not one of {}", names.join(", "))
            }),
        },
        Type::Array { elem, len }
            if matches!(btf.get(btf.resolve(*elem)), Type::Int { size: 1, .. }) =>
        {
            let len = *len as usize;
            if text.len() >= len {
                return Err(format!(
                    "the string is {} bytes; {} ({}) holds at most {} plus the NUL",
                    text.len(),
                    global.name,
                    btf.type_name(ty),
                    len - 1
                ));
            }
            Ok(pad(text.as_bytes().to_vec(), size))
        }
        _ => Err(format!(
            "variables of type {} cannot be set from the command line",
            btf.type_name(ty)
        )),
    }
}

fn pad(mut bytes: Vec<u8>, size: usize) -> Vec<u8> {
    bytes.resize(size, 0);
    bytes
}

/// A decimal, `0x` hexadecimal or negative integer, checked against the width and sign.
fn int_bytes(text: &str, size: usize, signed: bool) -> Result<Vec<u8>, String> {
    if !(1..=8).contains(&size) {
        return Err(format!("an integer of {size} bytes cannot be set"));
    }
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| format!("'{text}' is not an integer"))?;
    let bits = 8 * size as u32;
    let value: i128 = if neg {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    let (min, max) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    if value < min || value > max {
        return Err(format!(
            "{text} does not fit a {}{}-bit integer ({min}..={max})",
            if signed { "signed " } else { "unsigned " },
            bits
        ));
    }
    Ok((value as i64).to_le_bytes()[..size].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(int_bytes("268", 4, false), Ok(vec![12, 1, 0, 0]));
        assert_eq!(int_bytes("-1", 2, true), Ok(vec![0xff, 0xff]));
        assert_eq!(int_bytes("0x10", 1, false), Ok(vec![16]));
        assert!(int_bytes("256", 1, false)
            .unwrap_err()
            .contains("does not fit"));
        assert!(int_bytes("-1", 4, false).is_err());
        assert!(int_bytes("abc", 4, false)
            .unwrap_err()
            .contains("not an integer"));
    }
}
