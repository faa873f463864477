//! USDT probes (`<sys/sdt.h>` `DTRACE_PROBE`/`STAP_PROBE` sites) of a user-space ELF file,
//! read from its `.note.stapsdt` notes, with their argument specs decoded into
//! [`ArgLocation`]s.
//!
//! Each note records the probe's address, the link-time address of `.stapsdt.base` (to
//! undo prelinking), the address of the probe's semaphore (0 if none), then
//! `provider\0name\0args\0`. Args are the assembler operands GCC chose, e.g. `-4@%edi 8@-8(%rbp)
//! 8@$42`: size (negative = signed) `@` operand. The semaphore is a counter the program
//! tests before preparing expensive arguments; the kernel increments it while a uprobe
//! with its file offset as `ref_ctr_offset` is attached.

use std::path::Path;

use elf::{Object, ObjectSection};

use crate::elf_symbols::{parse_elf, read_file, AddressMap, ElfError};
use crate::pt_regs::{self, ArgLocation};

/// One argument of a USDT probe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsdtArg {
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    pub signed: bool,
    pub location: ArgLocation,
}

/// One USDT probe site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// File offset of the probe's instruction (where the uprobe goes).
    pub offset: u64,
    /// File offset of the semaphore, if the probe has one.
    pub semaphore_offset: Option<u64>,
    /// The argument specs: decoded, or the spec text this module cannot decode.
    pub args: Vec<Result<UsdtArg, String>>,
}

const NT_STAPSDT: u32 = 3;

/// Every USDT probe site of the file at `path`, in note order.
pub fn probes(path: &Path) -> Result<Vec<UsdtProbe>, ElfError> {
    let data = read_file(path)?;
    probes_in(path, &data)
}

/// Every USDT probe site of an ELF image in memory.
pub fn probes_in(path: &Path, data: &[u8]) -> Result<Vec<UsdtProbe>, ElfError> {
    let file = parse_elf(path, data)?;
    let malformed = |reason: &str| ElfError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let Some(notes) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let notes = notes
        .data()
        .map_err(|_| malformed("unreadable .note.stapsdt section"))?;
    let base_section = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let addresses = AddressMap::of(&file);
    let mut out = Vec::new();
    let mut rest = notes;
    while rest.len() >= 12 {
        let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().expect("4 bytes"));
        let (namesz, descsz, kind) = (word(0) as usize, word(4) as usize, word(8));
        let name_end = 12 + namesz.div_ceil(4) * 4;
        let desc_end = name_end + descsz.div_ceil(4) * 4;
        if desc_end > rest.len() || name_end + descsz > rest.len() {
            return Err(malformed("a .note.stapsdt note runs past its section"));
        }
        let owner = &rest[12..12 + namesz];
        let desc = &rest[name_end..name_end + descsz];
        rest = &rest[desc_end..];
        if owner != b"stapsdt\0" || kind != NT_STAPSDT || desc.len() < 24 {
            continue;
        }
        let addr = |i: usize| u64::from_le_bytes(desc[i..i + 8].try_into().expect("8 bytes"));
        let (mut pc, base, mut semaphore) = (addr(0), addr(8), addr(16));
        // A prelinked file moved `.stapsdt.base`; the note kept the old address.
        if let Some(actual) = base_section.filter(|_| base != 0) {
            pc = pc.wrapping_add(actual.wrapping_sub(base));
            if semaphore != 0 {
                semaphore = semaphore.wrapping_add(actual.wrapping_sub(base));
            }
        }
        let mut strings = desc[24..].split(|&b| b == 0);
        let mut next = || String::from_utf8_lossy(strings.next().unwrap_or(&[])).into_owned();
        let (provider, name, args) = (next(), next(), next());
        let offset = addresses.file_offset(pc).ok_or_else(|| {
            malformed(&format!(
                "USDT probe {provider}:{name} is not in a loaded segment"
            ))
        })?;
        out.push(UsdtProbe {
            provider,
            name,
            offset,
            semaphore_offset: (semaphore != 0)
                .then(|| addresses.file_offset(semaphore))
                .flatten(),
            args: args.split_whitespace().map(parse_arg).collect(),
        });
    }
    Ok(out)
}

/// Decodes one argument spec (`-4@%edi`, `8@-8(%rbp)`, `4@$5`, or an operand alone).
pub fn parse_arg(spec: &str) -> Result<UsdtArg, String> {
    let fail = || spec.to_string();
    let (size, signed, operand) = match spec.split_once('@') {
        Some((n, operand)) => {
            let n: i8 = n.parse().map_err(|_| fail())?;
            (n.unsigned_abs(), n < 0, operand)
        }
        None => (8, false, spec),
    };
    if ![1, 2, 4, 8].contains(&size) {
        return Err(fail());
    }
    let location = if let Some(reg) = operand.strip_prefix('%') {
        let (offset, _) = pt_regs::register(reg).ok_or_else(fail)?;
        ArgLocation::Register { offset }
    } else if let Some(imm) = operand.strip_prefix('$') {
        ArgLocation::Constant(parse_int(imm).ok_or_else(fail)?)
    } else if let Some((disp, reg)) = operand.split_once('(') {
        // disp(%reg); an index register (`(%rax,%rbx,4)`) or `sym(%rip)` is not decoded.
        let reg = reg
            .strip_suffix(')')
            .and_then(|r| r.strip_prefix('%'))
            .ok_or_else(fail)?;
        let (base, _) = pt_regs::register(reg)
            .filter(|&(o, _)| o != pt_regs::RIP)
            .ok_or_else(fail)?;
        let disp = if disp.is_empty() {
            0
        } else {
            parse_int(disp).ok_or_else(fail)?
        };
        ArgLocation::Memory { base, disp }
    } else {
        return Err(fail());
    };
    Ok(UsdtArg {
        size,
        signed,
        location,
    })
}

/// A decimal or `0x` hexadecimal integer with an optional sign.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()? as i64,
        None => digits.parse::<u64>().ok()? as i64,
    };
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pt_regs::{RAX, RBP, RDI};

    #[test]
    fn argument_specs_decode() {
        assert_eq!(
            parse_arg("-4@%edi"),
            Ok(UsdtArg {
                size: 4,
                signed: true,
                location: ArgLocation::Register { offset: RDI }
            })
        );
        assert_eq!(
            parse_arg("8@-8(%rbp)"),
            Ok(UsdtArg {
                size: 8,
                signed: false,
                location: ArgLocation::Memory {
                    base: RBP,
                    disp: -8
                }
            })
        );
        assert_eq!(
            parse_arg("8@%rax").map(|a| a.location),
            Ok(ArgLocation::Register { offset: RAX })
        );
        assert_eq!(
            parse_arg("-2@$-17").map(|a| a.location),
            Ok(ArgLocation::Constant(-17))
        );
        assert_eq!(
            parse_arg("1@(%rax)").map(|a| a.location),
            Ok(ArgLocation::Memory { base: RAX, disp: 0 })
        );
    }

    #[test]
    fn unsupported_specs_come_back_as_text() {
        assert_eq!(parse_arg("8@foo(%rip)"), Err("8@foo(%rip)".to_string()));
        assert_eq!(
            parse_arg("4@(%rax,%rbx,4)"),
            Err("4@(%rax,%rbx,4)".to_string())
        );
        assert_eq!(parse_arg("3@%eax"), Err("3@%eax".to_string()));
    }
}
