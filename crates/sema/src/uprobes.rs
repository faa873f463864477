//! `uprobe:BIN:FUNC`, `uretprobe:BIN:FUNC` and `usdt:BIN:[PROVIDER:]NAME` attach points →
//! concrete [`UserProbe`]s: the binary resolved to a file, the function (or USDT site)
//! found in it and turned into the file offset the kernel's uprobe API takes.
//!
//! Functions are given as a name (`main`, a C++ name `ns::f` or `cpp:ns::f`), a wildcard over
//! names (`str*`), `NAME+OFFSET` or a virtual address `0x401126`.

use kernel::elf_symbols::{ElfSymbols, FunctionSymbol};
use kernel::usdt::{self, UsdtProbe};
use kernel::{user_binary, wildcard};
use syntax::{ast, Diagnostic};

use crate::check::nearest;
use crate::hir::{Attach, UserProbe, UserProbeKind};

/// Expands one user-space attach point. `-p`'s pid helps resolve library names; an
/// offset into a function must start an instruction unless `--unsafe` (see
/// [`check_boundary`]).
pub(crate) fn expand(
    kind: UserProbeKind,
    ap: &ast::AttachPoint,
    options: &crate::Options,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Attach> {
    let pid = options.target_pid;
    let err = |msg: String| Diagnostic::error(ap.span, msg);
    let parts = ap.parts();
    let provider = ap.provider();
    // The binary is the first part; the rest (which may hold C++ `::`) is the target.
    let (Some(binary), Some(target)) = (
        parts.first().filter(|b| !b.is_empty()),
        (parts.len() >= 2).then(|| parts[1..].join(":")),
    ) else {
        let example = if kind == UserProbeKind::Usdt {
            "usdt:/path/to/binary:provider:name"
        } else {
            "uprobe:/bin/bash:readline"
        };
        diags.push(
            err(format!("{provider} probes need a binary and a target"))
                .with_hint(format!("e.g. {example}")),
        );
        return Vec::new();
    };
    let path = match user_binary::resolve(binary, pid) {
        Ok(p) => p,
        Err(e) => {
            diags.push(err(e.to_string()));
            return Vec::new();
        }
    };
    let path_text = path.to_string_lossy().into_owned();
    let shown = if binary.contains('/') {
        binary.to_string()
    } else {
        path_text.clone()
    };
    let probe = |target: String, function: Option<&FunctionSymbol>, offset: u64| UserProbe {
        kind,
        binary: shown.clone(),
        path: path_text.clone(),
        target,
        function: function.map(|f| f.display_name().to_string()),
        symbol: function.map(|f| f.name.clone()),
        offset,
        semaphore_offset: 0,
        usdt_args: Vec::new(),
    };
    if kind == UserProbeKind::Usdt {
        return match usdt::probes(&path) {
            Ok(sites) => usdt_probes(&sites, &target, &path_text, &err, diags)
                .into_iter()
                .map(|site| {
                    Attach::User(UserProbe {
                        target: format!("{}:{}", site.provider, site.name),
                        offset: site.offset,
                        semaphore_offset: site.semaphore_offset.unwrap_or(0),
                        usdt_args: site.args.clone(),
                        ..probe(String::new(), None, 0)
                    })
                })
                .collect(),
            Err(e) => {
                diags.push(err(e.to_string()));
                Vec::new()
            }
        };
    }
    let symbols = match ElfSymbols::read(&path) {
        Ok(s) => s,
        Err(e) => {
            diags.push(err(e.to_string()));
            return Vec::new();
        }
    };
    let target = target.strip_prefix("cpp:").unwrap_or(&target).to_string();
    let offset_of = |address: u64, what: &str, diags: &mut Vec<Diagnostic>| {
        let offset = symbols.file_offset(address);
        if offset.is_none() {
            diags.push(err(format!(
                "{what} (address {address:#x}) is not in any loaded segment of {path_text}"
            )));
        }
        offset
    };

    // A virtual address.
    if let Some(hex) = target.strip_prefix("0x") {
        let Ok(address) = u64::from_str_radix(hex, 16) else {
            diags.push(err(format!("'{target}' is not a hexadecimal address")));
            return Vec::new();
        };
        let at = symbols.symbol_at(address);
        if !options.unsafe_allowed {
            let checked = match at {
                Some((_, 0)) => Ok(()),
                Some((f, off)) => check_boundary(&path, f, off, &target),
                None => Err(unchecked_offset(&target)),
            };
            if let Err(msg) = checked {
                diags.push(err(msg).with_hint(UNSAFE_HINT));
                return Vec::new();
            }
        }
        let function = at.map(|(f, _)| f);
        return offset_of(address, &target, diags)
            .map(|offset| Attach::User(probe(target.clone(), function, offset)))
            .into_iter()
            .collect();
    }

    // A wildcard over function names.
    if wildcard::has_wildcard(&target) {
        if kind == UserProbeKind::Entry && target.contains('+') {
            diags.push(err("an offset cannot follow a wildcard".into()));
            return Vec::new();
        }
        let pattern = wildcard::Pattern::new(&target);
        let found: Vec<&FunctionSymbol> = symbols
            .functions()
            .iter()
            .filter(|f| f.matches(&pattern))
            .collect();
        if found.is_empty() {
            diags.push(
                err(format!("no function of {path_text} matches '{target}'"))
                    .with_hint(stripped_hint(&symbols, binary)),
            );
        }
        return found
            .into_iter()
            .filter_map(|f| {
                let offset = offset_of(f.address, &f.name, diags)?;
                Some(Attach::User(probe(
                    f.display_name().to_string(),
                    Some(f),
                    offset,
                )))
            })
            .collect();
    }

    // NAME or NAME+OFFSET.
    let (name, extra) = match target.rsplit_once('+') {
        Some((name, off)) if kind == UserProbeKind::Entry => match parse_offset(off) {
            Some(off) => (name, off),
            None => {
                diags.push(err(format!(
                    "'{off}' is not an offset (write FUNC+16 or FUNC+0x10)"
                )));
                return Vec::new();
            }
        },
        _ => (target.as_str(), 0),
    };
    let found = symbols.find(name);
    if found.is_empty() {
        let names: Vec<&str> = symbols
            .functions()
            .iter()
            .flat_map(|f| [f.name.as_str(), f.short_name()])
            .collect();
        let mut d = err(format!("{path_text} has no function '{name}'"));
        d = match nearest(name, &names) {
            Some(n) => d.with_hint(format!("did you mean '{n}'?")),
            None => d.with_hint(stripped_hint(&symbols, binary)),
        };
        diags.push(d);
        return Vec::new();
    }
    if extra > 0 && found.len() > 1 {
        diags.push(err(format!(
            "'{name}' names {} overloads; give the one to offset into with its parameters",
            found.len()
        )));
        return Vec::new();
    }
    for f in found.iter().filter(|f| f.ifunc) {
        diags.push(
            Diagnostic::warning(
                ap.span,
                format!(
                    "{} is an indirect function (IFUNC): this probes its resolver, which runs \
                     once when the library is loaded, not the implementation it picks",
                    f.display_name()
                ),
            )
            .with_hint("probe the implementations instead, e.g. uprobe:libc:__strlen_*"),
        );
    }
    // A C++ name without parameters attaches to every overload.
    found
        .into_iter()
        .filter_map(|f| {
            if extra > 0 && f.size > 0 && extra >= f.size {
                diags.push(err(format!(
                    "offset {extra} is past the end of {name}, which is {} bytes long",
                    f.size
                )));
                return None;
            }
            if extra > 0 && !options.unsafe_allowed {
                if let Err(msg) = check_boundary(&path, f, extra, &target) {
                    diags.push(err(msg).with_hint(UNSAFE_HINT));
                    return None;
                }
            }
            let display = f.display_name();
            let target = if extra > 0 {
                format!("{display}+{extra}")
            } else {
                display.to_string()
            };
            let offset = offset_of(f.address + extra, name, diags)?;
            Some(Attach::User(probe(target, Some(f), offset)))
        })
        .collect()
}

/// The USDT sites matching `target` (`provider:name` or `name`, wildcards allowed).
fn usdt_probes<'s>(
    sites: &'s [UsdtProbe],
    target: &str,
    path: &str,
    err: &dyn Fn(String) -> Diagnostic,
    diags: &mut Vec<Diagnostic>,
) -> Vec<&'s UsdtProbe> {
    let (provider, name) = match target.split_once(':') {
        Some((p, n)) => (wildcard::Pattern::new(p), n),
        None => (wildcard::Pattern::new("*"), target),
    };
    let name_pattern = wildcard::Pattern::new(name);
    let found: Vec<&UsdtProbe> = sites
        .iter()
        .filter(|s| provider.matches(&s.provider) && name_pattern.matches(&s.name))
        .collect();
    if found.is_empty() {
        let mut d = err(format!("{path} has no USDT probe '{target}'"));
        d = if sites.is_empty() {
            d.with_hint("it has no USDT probes at all (no .note.stapsdt section)")
        } else {
            let names: Vec<String> = sites
                .iter()
                .map(|s| format!("{}:{}", s.provider, s.name))
                .collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            match nearest(target, &refs) {
                Some(n) => d.with_hint(format!("did you mean '{n}'?")),
                None => d.with_hint(format!("list them with: beetrace -l 'usdt:{path}:*'")),
            }
        };
        diags.push(d);
    }
    // One site can appear several times (inlined copies): each is its own uprobe, all
    // named alike, as in bpftrace.
    found
}

/// A uprobe in the middle of an instruction corrupts the traced program: offsets into a
/// function are checked by decoding its machine code; `--unsafe` skips the check.
const UNSAFE_HINT: &str = "a uprobe inside an instruction corrupts the traced program; \
                           --unsafe attaches anyway";

/// Whether `offset` into function `f` starts an instruction.
fn check_boundary(
    path: &std::path::Path,
    f: &FunctionSymbol,
    offset: u64,
    target: &str,
) -> Result<(), String> {
    if f.size == 0 {
        return Err(unchecked_offset(target));
    }
    let code = kernel::elf_symbols::code_at(path, f.address, f.size).map_err(|e| e.to_string())?;
    let name = f.display_name();
    kernel::x86_decode::instruction_boundary(&code, offset).map_err(|(before, after)| {
        format!(
            "'{target}' is inside an instruction of {name}: instructions start at \
             {name}+{before} and {name}+{after}"
        )
    })
}

/// An address outside every known function cannot be checked.
fn unchecked_offset(target: &str) -> String {
    format!("'{target}' is not in a known function, so beetrace cannot check that it starts an instruction")
}

/// What to tell someone whose function name was not found.
fn stripped_hint(symbols: &ElfSymbols, binary: &str) -> String {
    if symbols.is_stripped() {
        "the file is stripped (it has no .symtab), so only its exported functions have \
         names; probe an address with uprobe:BIN:0xADDR, or use an unstripped build"
            .to_string()
    } else {
        format!("list its functions with: beetrace -l 'uprobe:{binary}:*'")
    }
}

/// `16` or `0x10`.
fn parse_offset(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
