//! `beetrace -l 'uprobe:BIN:PATTERN'` and `-l 'usdt:BIN:PATTERN'`: the functions or USDT
//! sites of one user binary. Unlike kernel probes these cannot be listed without naming a
//! file, so [`crate::listing`] hands items of these providers here.

use crate::elf_symbols::ElfSymbols;
use crate::wildcard::Pattern;
use crate::{dwarf_args, usdt, user_binary, KernelError};

/// The provider a listing item names, if it is a user-space one (`u`, `uretprobe`, `U`...).
pub(crate) fn provider(item: &str) -> Option<&'static str> {
    match item.split(':').next()? {
        "uprobe" | "u" => Some("uprobe"),
        "uretprobe" | "ur" => Some("uretprobe"),
        "usdt" | "U" => Some("usdt"),
        _ => None,
    }
}

/// Lines `provider:/path:function` (or `usdt:/path:provider:name`) for `item`; with
/// `verbose`, each function is followed by its parameters from DWARF (`    int a`).
pub(crate) fn list(
    item: &str,
    pid: Option<u32>,
    verbose: bool,
) -> Result<Vec<String>, KernelError> {
    let provider = provider(item).expect("the caller checked the provider");
    let mut parts = item.splitn(3, ':').skip(1);
    let binary = parts.next().filter(|b| !b.is_empty()).ok_or_else(|| {
        KernelError::User(format!(
            "listing {provider} probes needs a binary: -l '{provider}:/path/to/binary:*'"
        ))
    })?;
    let pattern = Pattern::new(parts.next().filter(|p| !p.is_empty()).unwrap_or("*"));
    let path = user_binary::resolve(binary, pid).map_err(|e| KernelError::User(e.to_string()))?;
    // As bpftrace: a path as written, a bare name as the file it resolved to.
    let shown = if binary.contains('/') {
        binary.to_string()
    } else {
        path.display().to_string()
    };
    let mut out: Vec<String> = if provider == "usdt" {
        usdt::probes(&path)
            .map_err(|e| KernelError::User(e.to_string()))?
            .into_iter()
            .map(|p| format!("{}:{}", p.provider, p.name))
            .filter(|name| {
                pattern.matches(name) || pattern.matches(name.split_once(':').map_or("", |s| s.1))
            })
            .map(|name| format!("usdt:{shown}:{name}"))
            .collect()
    } else {
        let symbols = ElfSymbols::read(&path).map_err(|e| KernelError::User(e.to_string()))?;
        let mut functions: Vec<_> = symbols
            .functions()
            .iter()
            .filter(|f| f.matches(&pattern))
            .collect();
        functions.sort_by_key(|f| f.display_name());
        functions.dedup_by_key(|f| f.display_name());
        let params = match verbose && provider == "uprobe" {
            true => dwarf_args::FunctionParameters::read(&path)
                .map_err(|e| KernelError::User(e.to_string()))?,
            false => None,
        };
        let mut lines = Vec::new();
        for f in functions {
            lines.push(format!("{provider}:{shown}:{}", f.display_name()));
            if let Some(found) = params.as_ref().and_then(|p| p.get(&f.name)) {
                lines.extend(found.iter().map(|p| format!("    {} {}", p.c_type, p.name)));
            }
        }
        return Ok(lines);
    };
    out.sort();
    out.dedup();
    Ok(out)
}
