//! `extern` declarations of libbpf objects, resolved as libbpf resolves them and written into
//! the instructions before aya sees the object (aya 0.14 knows none of them, and stops at the
//! `.kconfig` and `.ksyms` BTF sections, which have no ELF section behind them):
//!
//! - `extern const struct rq runqueues __ksym;` (typed): the variable's vmlinux BTF id, as
//!   `ld_imm64` with `BPF_PSEUDO_BTF_ID`. The verifier turns it into an address through
//!   kallsyms, so a variable kallsyms does not list is refused here, by name.
//! - `extern const void jiffies __ksym;` (typeless): the kallsyms address, as a constant.
//! - `extern int bpf_foo(...) __ksym;` (a kfunc): the call becomes a kfunc call of the
//!   function's vmlinux BTF id.
//! - `extern int CONFIG_HZ __kconfig;` (and `LINUX_KERNEL_VERSION`,
//!   `LINUX_HAS_SYSCALL_WRAPPER`): the value, in a read-only array map (`.kconfig`) that the
//!   `ld_imm64` points into, as with libbpf; frozen, so the verifier sees constants.
//! - `__weak` externs the kernel lacks are 0 (a call of a missing weak kfunc is left for the
//!   verifier to reject unless the program never reaches it).
//!
//! The object's BTF is patched too, in place: the two sections become anonymous unions of
//! integers and their variables ordinary globals, which aya and the kernel accept.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use kernel::btf::{BtfType, KernelBtf, NameKind};
use kernel::kconfig::Kconfig;

use crate::btf::{Btf, Type, TypeId};
use crate::scan::{ExternUse, Scan};
use crate::LoadError;

/// `ld_imm64` source registers and the kfunc call marker (uapi `BPF_PSEUDO_*`).
const PSEUDO_MAP_VALUE: u8 = 2;
const PSEUDO_BTF_ID: u8 = 3;
const PSEUDO_KFUNC_CALL: u8 = 2;
/// What libbpf calls a missing weak kfunc: an unknown helper the verifier rejects if reached.
const POISONED_CALL: i32 = 0x0bad_2310;
const OPCODE_LD_IMM64: u8 = 0x18;
const OPCODE_CALL: u8 = 0x85;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// BTF `VAR` linkage: global, with storage in the object (what the kernel accepts).
const LINKAGE_GLOBAL_ALLOCATED: u32 = 1;
const KIND_UNION: u32 = 5;

/// What resolving the externs produced.
#[derive(Debug, Default)]
pub(crate) struct Externs {
    /// (file offset, bytes) for the copy of the object given to aya.
    pub patches: Vec<(usize, Vec<u8>)>,
    /// The `.kconfig` map the patched instructions point into; open until the programs are
    /// loaded (they hold their own reference).
    pub kconfig_map: Option<OwnedFd>,
}

/// How the object declares one extern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decl {
    /// A `.kconfig` variable of type `ty`.
    Kconfig { ty: TypeId },
    /// A `.ksyms` variable of type `ty`.
    TypedKsym { ty: TypeId },
    /// A `.ksyms` variable of type `void`.
    TypelessKsym,
    /// A kernel function.
    Kfunc,
}

/// Facts about the running kernel, each read once and only if an extern needs it.
#[derive(Default)]
struct Kernel {
    btf: Option<Result<KernelBtf, String>>,
    kconfig: Option<Result<Kconfig, String>>,
}

impl Kernel {
    fn btf(&mut self) -> Result<&KernelBtf, String> {
        self.btf
            .get_or_insert_with(|| {
                KernelBtf::open(Path::new(kernel::btf::BTF_DIR)).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn kconfig(&mut self) -> Result<&Kconfig, String> {
        self.kconfig
            .get_or_insert_with(|| Kconfig::read().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn symbol(&self, name: &str) -> Result<Option<u64>, String> {
        kernel::kallsyms::lookup(Path::new("/proc/kallsyms"), name).map_err(|e| e.to_string())
    }
}

/// Resolves every extern the object's instructions use.
pub(crate) fn resolve(data: &[u8], scan: &Scan) -> Result<Externs, LoadError> {
    let mut out = Externs::default();
    if scan.extern_uses.is_empty() {
        return Ok(out);
    }
    let btf = scan.btf.as_ref().ok_or_else(|| {
        LoadError::Malformed("the object uses externs but has no BTF (build with clang -g)".into())
    })?;
    let mut by_name: BTreeMap<&str, Vec<&ExternUse>> = BTreeMap::new();
    for u in &scan.extern_uses {
        by_name.entry(u.name.as_str()).or_default().push(u);
    }
    let mut kernel = Kernel::default();
    let mut kconfig = KconfigLayout::default();
    // Instructions that point into the .kconfig map, patched once the map exists.
    let mut kconfig_uses: Vec<(usize, u32)> = Vec::new();
    for (name, uses) in by_name {
        let err = |reason: String| LoadError::Extern {
            name: name.to_string(),
            reason,
        };
        let weak = uses.iter().all(|u| u.weak);
        let decl = declaration(btf, name).ok_or_else(|| {
            err("the object's BTF does not declare it in .ksyms or .kconfig".into())
        })?;
        match decl {
            Decl::Kconfig { ty } => {
                let value = kconfig_value(btf, ty, name, weak, &mut kernel).map_err(err)?;
                let offset = kconfig.add(&value, btf.size_of(ty));
                for u in uses {
                    expect_opcode(data, u, OPCODE_LD_IMM64).map_err(err)?;
                    kconfig_uses.push((u.insn_at, offset));
                }
            }
            Decl::TypedKsym { ty } => {
                let found = typed_ksym(btf, ty, name, &mut kernel).map_err(err)?;
                for u in uses {
                    expect_opcode(data, u, OPCODE_LD_IMM64).map_err(err)?;
                    match found {
                        Some(id) => {
                            out.patches
                                .extend(ld_imm64(data, u.insn_at, PSEUDO_BTF_ID, id as u64))
                        }
                        None if weak => out.patches.extend(ld_imm64(data, u.insn_at, 0, 0)),
                        None => return Err(err(missing_variable(name))),
                    }
                }
            }
            Decl::TypelessKsym => {
                let addr = kernel.symbol(name).map_err(err)?;
                if addr.is_none() && !weak {
                    return Err(err(missing_symbol(name, &kernel)));
                }
                for u in uses {
                    expect_opcode(data, u, OPCODE_LD_IMM64).map_err(err)?;
                    out.patches
                        .extend(ld_imm64(data, u.insn_at, 0, addr.unwrap_or(0)));
                }
            }
            Decl::Kfunc => {
                let btf = kernel.btf().map_err(err)?;
                let id = match btf
                    .find(name, NameKind::Func)
                    .map_err(|e| err(e.to_string()))?
                {
                    Some(r) => match btf.module_of(r) {
                        None => Some(r.id()),
                        Some(module) => {
                            return Err(err(format!(
                                "a function of module {module}; only vmlinux functions are \
                                 supported"
                            )))
                        }
                    },
                    None if weak => None,
                    None => {
                        return Err(err("the kernel's BTF has no function of that name".into()))
                    }
                };
                for u in uses {
                    // `if (bpf_foo)` (does the kfunc exist?) loads its address: its BTF id,
                    // or 0 when a weak one is missing.
                    if data.get(u.insn_at) == Some(&OPCODE_LD_IMM64) {
                        expect_opcode(data, u, OPCODE_LD_IMM64).map_err(err)?;
                        out.patches.extend(match id {
                            Some(id) => ld_imm64(data, u.insn_at, PSEUDO_BTF_ID, id as u64),
                            None => ld_imm64(data, u.insn_at, 0, 0),
                        });
                        continue;
                    }
                    expect_opcode(data, u, OPCODE_CALL).map_err(err)?;
                    out.patches.extend(match id {
                        Some(id) => call(data, u.insn_at, PSEUDO_KFUNC_CALL, id as i32),
                        None => call(data, u.insn_at, 0, POISONED_CALL),
                    });
                }
            }
        }
    }
    if !kconfig_uses.is_empty() {
        let map = kconfig.create().map_err(|e| LoadError::Extern {
            name: ".kconfig".into(),
            reason: format!("cannot create the map of kconfig values: {e}"),
        })?;
        for (at, offset) in kconfig_uses {
            out.patches
                .extend(ld_imm64_map_value(data, at, map.as_raw_fd(), offset));
        }
        out.kconfig_map = Some(map);
    }
    if let Some(btf_at) = scan.btf_at {
        out.patches.extend(
            btf_patches(btf)?
                .into_iter()
                .map(|(at, b)| (btf_at + at, b)),
        );
    }
    Ok(out)
}

/// Where `name` is declared: a variable of `.kconfig` or `.ksyms`, or a function.
fn declaration(btf: &Btf, name: &str) -> Option<Decl> {
    for (_, t) in btf.types() {
        let Type::DataSec {
            name: section,
            vars,
            ..
        } = t
        else {
            continue;
        };
        for v in vars {
            match btf.get(v.ty) {
                Type::Var { name: n, ty, .. } if n == name => {
                    return match section.as_str() {
                        ".kconfig" => Some(Decl::Kconfig { ty: *ty }),
                        ".ksyms" if matches!(btf.get(btf.resolve(*ty)), Type::Void) => {
                            Some(Decl::TypelessKsym)
                        }
                        ".ksyms" => Some(Decl::TypedKsym { ty: *ty }),
                        _ => None,
                    }
                }
                Type::Func { name: n, .. } if n == name => return Some(Decl::Kfunc),
                _ => {}
            }
        }
    }
    // Older clang lists extern functions in no section.
    btf.types()
        .any(|(_, t)| matches!(t, Type::Func { name: n, .. } if n == name))
        .then_some(Decl::Kfunc)
}

/// The vmlinux BTF id of variable `name`, declared with type `ty`; `None` when BTF has no
/// such variable.
fn typed_ksym(
    btf: &Btf,
    ty: TypeId,
    name: &str,
    kernel: &mut Kernel,
) -> Result<Option<u32>, String> {
    let kernel_btf = kernel.btf()?;
    let Some(var) = kernel_btf.variable(name).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let (_, kernel_ty) = kernel_btf.resolve(var.ty).map_err(|e| e.to_string())?;
    compatible(btf, ty, &kernel_ty).map_err(|declared| {
        format!(
            "declared as {declared}, but the kernel's is {}",
            kernel_btf.c_spelling(var.ty)
        )
    })?;
    if let Some(module) = var.module {
        return Err(format!(
            "a variable of module {module}; only vmlinux variables are supported"
        ));
    }
    // The verifier resolves the BTF id to an address through kallsyms.
    if kernel.symbol(name)?.is_none() {
        return Err(format!(
            "the kernel's BTF describes it, but the verifier finds variables through \
             /proc/kallsyms, which does not list it{}",
            kallsyms_note(kernel)
        ));
    }
    Ok(Some(var.btf_id))
}

/// Whether the object's type `ty` can stand for the kernel's type, as far as libbpf's check
/// goes for variables: structs and unions by name (their fields are CO-RE's business),
/// integers and enums by size. Other shapes are accepted. The error is the declared type.
fn compatible(btf: &Btf, ty: TypeId, kernel: &BtfType) -> Result<(), String> {
    let local = btf.get(btf.resolve(ty));
    let ok = match (local, kernel) {
        (Type::Struct { name, union, .. }, BtfType::Struct(c)) => {
            *name == c.name && *union == c.union
        }
        (Type::Struct { .. }, _) | (_, BtfType::Struct(_)) => false,
        (
            Type::Int { size, .. } | Type::Enum { size, .. },
            BtfType::Int { size: k, .. } | BtfType::Enum { size: k, .. },
        ) => size == k,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(btf.type_name(btf.resolve(ty)))
    }
}

fn missing_variable(name: &str) -> String {
    format!(
        "the kernel's BTF has no variable '{name}' (it describes only per-CPU variables; \
         declare others without a type: extern const void {name} __ksym;)"
    )
}

fn missing_symbol(name: &str, kernel: &Kernel) -> String {
    format!(
        "/proc/kallsyms has no symbol '{name}'{}",
        kallsyms_note(kernel)
    )
}

fn kallsyms_note(kernel: &Kernel) -> &'static str {
    match kernel.symbol(kernel::kallsyms::ALWAYS_A_VARIABLE) {
        Ok(None) => " (this kernel was built without CONFIG_KALLSYMS_ALL: it lists functions only)",
        _ => "",
    }
}

/// The bytes of a kconfig extern of type `ty`, from the running kernel's config.
fn kconfig_value(
    btf: &Btf,
    ty: TypeId,
    name: &str,
    weak: bool,
    kernel: &mut Kernel,
) -> Result<Vec<u8>, String> {
    let size = btf.size_of(ty) as usize;
    let raw: Option<String> = match name {
        "LINUX_KERNEL_VERSION" => {
            let release = kernel::kconfig::release().map_err(|e| e.to_string())?;
            let code = kernel::kconfig::version_code(&release)
                .ok_or_else(|| format!("cannot read a version from release '{release}'"))?;
            Some(code.to_string())
        }
        "LINUX_HAS_SYSCALL_WRAPPER" => Some(
            if kernel.symbol("__x64_sys_bpf")?.is_some() {
                "1"
            } else {
                "0"
            }
            .to_string(),
        ),
        _ if name.starts_with("CONFIG_") => kernel.kconfig()?.get(name).map(str::to_string),
        _ => None,
    };
    let Some(raw) = raw else {
        return if weak {
            Ok(vec![0; size])
        } else if name.starts_with("CONFIG_") {
            let source = kernel
                .kconfig()
                .map(|k| k.source.display().to_string())
                .unwrap_or_default();
            Err(format!(
                "not set in the kernel's config ({source}); declare it __weak to read 0"
            ))
        } else {
            Err("not a kconfig value libbpf or beetrace knows".into())
        };
    };
    encode_kconfig(btf, ty, &raw).map_err(|e| format!("value {raw}: {e}"))
}

/// A config value in the C type the object declares, by libbpf's rules: `bool` and
/// `enum libbpf_tristate` take `y`/`n`/`m`, `char` the letter itself, `char[N]` a quoted
/// string, integers a number that fits.
fn encode_kconfig(btf: &Btf, ty: TypeId, raw: &str) -> Result<Vec<u8>, String> {
    let tristate = |v: &str| match v {
        "y" => Some(1u8),
        "n" => Some(0),
        "m" => Some(2),
        _ => None,
    };
    match btf.get(btf.resolve(ty)) {
        Type::Int { bool: true, .. } => match raw {
            "y" => Ok(vec![1]),
            "n" => Ok(vec![0]),
            _ => Err("a bool takes y or n".into()),
        },
        Type::Int {
            char: true,
            size: 1,
            ..
        } if raw.len() == 1 => Ok(vec![raw.as_bytes()[0]]),
        Type::Enum { size, .. } => {
            let v = tristate(raw).ok_or("an enum libbpf_tristate takes y, n or m")?;
            let mut out = vec![0; *size as usize];
            if let Some(first) = out.first_mut() {
                *first = v;
            }
            Ok(out)
        }
        Type::Array { elem, len }
            if matches!(btf.get(btf.resolve(*elem)), Type::Int { size: 1, .. }) =>
        {
            let text = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .ok_or("a char array takes a quoted string")?;
            let mut out = vec![0u8; *len as usize];
            let n = text.len().min(out.len().saturating_sub(1));
            out[..n].copy_from_slice(&text.as_bytes()[..n]);
            Ok(out)
        }
        Type::Int { size, signed, .. } => {
            let size = *size as usize;
            let value: i128 = if let Some(hex) = raw.strip_prefix("0x") {
                i128::from_str_radix(hex, 16).map_err(|_| "not a number")?
            } else {
                raw.parse().map_err(|_| "not a number")?
            };
            let bits = 8 * size as u32;
            let fits = if *signed {
                value >= -(1i128 << (bits - 1)) && value < (1i128 << (bits - 1))
            } else {
                value >= 0 && value < (1i128 << bits)
            };
            if !fits || size == 0 || size > 8 {
                return Err(format!("does not fit the declared {size}-byte integer"));
            }
            Ok(value.to_le_bytes()[..size].to_vec())
        }
        _ => Err(
            "kconfig externs must be integers, bool, char, char arrays or enum \
                  libbpf_tristate"
                .into(),
        ),
    }
}

/// The values of the `.kconfig` map, each at an offset aligned to its size.
#[derive(Default)]
struct KconfigLayout {
    bytes: Vec<u8>,
}

impl KconfigLayout {
    fn add(&mut self, value: &[u8], size: u64) -> u32 {
        let align = match size {
            2 | 4 | 8 => size as usize,
            _ => 1,
        };
        while !self.bytes.len().is_multiple_of(align) {
            self.bytes.push(0);
        }
        let offset = self.bytes.len() as u32;
        self.bytes.extend_from_slice(value);
        offset
    }

    fn create(&self) -> std::io::Result<OwnedFd> {
        let mut value = self.bytes.clone();
        value.resize(value.len().next_multiple_of(8).max(8), 0);
        let map = bpfsys::map_create(
            BPF_MAP_TYPE_ARRAY,
            4,
            value.len() as u32,
            1,
            BPF_F_RDONLY_PROG,
            ".kconfig",
        )?;
        bpfsys::map_update(&map, &0u32.to_ne_bytes(), &value)?;
        bpfsys::map_freeze(&map)?;
        Ok(map)
    }
}

fn expect_opcode(data: &[u8], u: &ExternUse, opcode: u8) -> Result<(), String> {
    let len = if opcode == OPCODE_LD_IMM64 { 16 } else { 8 };
    match data.get(u.insn_at..u.insn_at + len) {
        Some(insn) if insn[0] == opcode => Ok(()),
        _ => Err(format!(
            "used by an instruction that is not {} (at file offset {})",
            if opcode == OPCODE_CALL {
                "a call"
            } else {
                "an ld_imm64"
            },
            u.insn_at
        )),
    }
}

/// Byte 1 of the instruction at `at` (its registers) with source register `src`.
fn with_src(data: &[u8], at: usize, src: u8) -> Vec<u8> {
    vec![(data[at + 1] & 0x0f) | (src << 4)]
}

/// Patches turning the `ld_imm64` at `at` into `dst = value`, source register `src`.
fn ld_imm64(data: &[u8], at: usize, src: u8, value: u64) -> Vec<(usize, Vec<u8>)> {
    vec![
        (at + 1, with_src(data, at, src)),
        (at + 4, (value as u32).to_le_bytes().to_vec()),
        (at + 12, ((value >> 32) as u32).to_le_bytes().to_vec()),
    ]
}

/// Patches turning the `ld_imm64` at `at` into a pointer `offset` bytes into map `fd`'s
/// value (`BPF_PSEUDO_MAP_VALUE`).
fn ld_imm64_map_value(data: &[u8], at: usize, fd: i32, offset: u32) -> Vec<(usize, Vec<u8>)> {
    vec![
        (at + 1, with_src(data, at, PSEUDO_MAP_VALUE)),
        (at + 4, fd.to_le_bytes().to_vec()),
        (at + 12, offset.to_le_bytes().to_vec()),
    ]
}

/// Patches turning the call at `at` into a call of `imm` with source register `src`.
fn call(data: &[u8], at: usize, src: u8, imm: i32) -> Vec<(usize, Vec<u8>)> {
    vec![
        (at + 1, with_src(data, at, src)),
        (at + 2, vec![0, 0]),
        (at + 4, imm.to_le_bytes().to_vec()),
    ]
}

/// Patches that make the object's BTF acceptable to aya and the kernel: each `.kconfig` and
/// `.ksyms` section (which aya would size from an ELF section that does not exist, and whose
/// variables all sit at offset 0) becomes an anonymous union of integers; their variables
/// become globals with storage (the kernel refuses extern linkage), typeless ones typed as
/// that integer; extern functions become static ones.
fn btf_patches(btf: &Btf) -> Result<Vec<(usize, Vec<u8>)>, LoadError> {
    let mut patches = Vec::new();
    let mut int: Option<(TypeId, u32)> = None;
    for (id, t) in btf.types() {
        if let Type::Int { size, .. } = t {
            if int.is_none_or(|(_, s)| s != 4) {
                int = Some((id, *size));
            }
        }
    }
    for (_, t) in btf.types() {
        let Type::DataSec {
            name, vars, record, ..
        } = t
        else {
            continue;
        };
        if name != ".kconfig" && name != ".ksyms" {
            continue;
        }
        let (int_id, int_size) = int.ok_or_else(|| {
            LoadError::Malformed(format!(
                "{name}: the object's BTF has no integer type to describe its externs with"
            ))
        })?;
        patches.push((*record, 0u32.to_le_bytes().to_vec()));
        let info = (KIND_UNION << 24) | vars.len() as u32;
        patches.push((*record + 4, info.to_le_bytes().to_vec()));
        patches.push((*record + 8, int_size.to_le_bytes().to_vec()));
        for (i, v) in vars.iter().enumerate() {
            let member = *record + 12 + 12 * i;
            let mut bytes = 0u32.to_le_bytes().to_vec();
            bytes.extend_from_slice(&int_id.to_le_bytes());
            bytes.extend_from_slice(&0u32.to_le_bytes());
            patches.push((member, bytes));
            match btf.get(v.ty) {
                Type::Var { ty, record, .. } => {
                    if matches!(btf.get(btf.resolve(*ty)), Type::Void) {
                        patches.push((*record + 8, int_id.to_le_bytes().to_vec()));
                    }
                    patches.push((
                        *record + 12,
                        LINKAGE_GLOBAL_ALLOCATED.to_le_bytes().to_vec(),
                    ));
                }
                Type::Func { record, .. } => {
                    // FUNC's linkage is its vlen: 0 static, 1 global, 2 extern.
                    let info = kernel::btf::kind::FUNC << 24;
                    patches.push((*record + 4, info.to_le_bytes().to_vec()));
                }
                _ => {}
            }
        }
    }
    Ok(patches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::btf::BtfBuilder;

    #[test]
    fn kconfig_values_follow_the_declared_type() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let uchar = b.int("unsigned char", 1, false);
        let ulong = b.int("long unsigned int", 8, false);
        let char_ = b.int("char", 1, true);
        let chars = b.array(char_, int, 8);
        let tristate = b.enumeration(
            "libbpf_tristate",
            4,
            &[("TRI_NO", 0), ("TRI_YES", 1), ("TRI_MODULE", 2)],
        );
        let btf = Btf::parse(&b.build()).expect("a well-formed blob");
        let enc = |ty, raw| encode_kconfig(&btf, ty, raw);
        assert_eq!(enc(int, "250"), Ok(vec![250, 0, 0, 0]));
        assert_eq!(enc(int, "-2"), Ok(vec![0xfe, 0xff, 0xff, 0xff]));
        assert_eq!(enc(ulong, "0x10"), Ok(vec![16, 0, 0, 0, 0, 0, 0, 0]));
        assert!(enc(uchar, "256").unwrap_err().contains("does not fit"));
        assert!(enc(int, "y").unwrap_err().contains("not a number"));
        assert_eq!(enc(char_, "m"), Ok(vec![b'm']));
        assert_eq!(enc(tristate, "m"), Ok(vec![2, 0, 0, 0]));
        assert_eq!(enc(tristate, "y"), Ok(vec![1, 0, 0, 0]));
        assert_eq!(enc(chars, "\"(none)\""), Ok(b"(none)\0\0".to_vec()));
        // Cut to fit, the last byte kept for the NUL.
        assert_eq!(enc(chars, "\"-fc-v669123\""), Ok(b"-fc-v66\0".to_vec()));
    }

    #[test]
    fn typed_ksyms_must_match_the_kernel_type() {
        let mut k = BtfBuilder::new();
        let uint = k.int("unsigned int", 4, false);
        k.structure("rq", 8, &[("nr_running", uint, 0)]);
        let kernel = KernelBtf::from_bytes(k.build(), vec![]).expect("a well-formed blob");
        let rq = kernel.find("rq", NameKind::Struct).unwrap().unwrap();
        let rq = kernel.get(rq).unwrap();
        let int = kernel.get(
            kernel
                .find("unsigned int", NameKind::Base)
                .unwrap()
                .unwrap(),
        );

        let mut b = BtfBuilder::new();
        let local_uint = b.int("unsigned int", 4, false);
        let local_rq = b.structure("rq", 4, &[("nr_running", local_uint, 0)]);
        let other = b.structure("task_struct", 4, &[("pid", local_uint, 0)]);
        let long = b.int("long", 8, true);
        let btf = Btf::parse(&b.build()).expect("a well-formed blob");
        assert_eq!(compatible(&btf, local_rq, &rq), Ok(()));
        assert_eq!(
            compatible(&btf, other, &rq),
            Err("struct task_struct".to_string())
        );
        assert_eq!(compatible(&btf, local_uint, &int.unwrap()), Ok(()));
        assert!(compatible(&btf, long, &rq).is_err());
    }

    #[test]
    fn kconfig_layout_aligns_each_value() {
        let mut l = KconfigLayout::default();
        assert_eq!(l.add(&[1], 1), 0);
        assert_eq!(l.add(&[2, 0, 0, 0], 4), 4);
        assert_eq!(l.add(&[3; 3], 3), 8);
        assert_eq!(l.add(&[4; 8], 8), 16);
        assert_eq!(l.bytes.len(), 24);
    }
}
