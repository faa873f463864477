//! Kernel symbol addresses from `/proc/kallsyms` (`address type name [module]` per line).

use std::path::Path;
use std::{fs, io};

use crate::KernelError;

/// A variable every kernel has (the first task): listed in kallsyms exactly when the kernel
/// was built with CONFIG_KALLSYMS_ALL, i.e. lists variables and not only functions.
pub const ALWAYS_A_VARIABLE: &str = "init_task";

/// The address of the first symbol called `name`. Addresses read as 0 without root
/// (kptr_restrict), which is reported as an error rather than returned as a wrong value.
pub fn lookup(path: &Path, name: &str) -> Result<Option<u64>, KernelError> {
    let text = fs::read_to_string(path).map_err(|source| KernelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    find(&text, name).map_err(|reason| KernelError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::PermissionDenied, reason),
    })
}

fn find(text: &str, name: &str) -> Result<Option<u64>, String> {
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(addr), Some(_kind), Some(sym)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if sym != name {
            continue;
        }
        let addr = u64::from_str_radix(addr, 16).map_err(|_| format!("bad address in: {line}"))?;
        if addr == 0 {
            return Err("kernel addresses are hidden (kptr_restrict); run as root".into());
        }
        return Ok(Some(addr));
    }
    Ok(None)
}

/// Every kernel function symbol, sorted by address: what kernel stack frames and `ksym()`
/// are named from.
#[derive(Debug, Default)]
pub struct KernelSymbols {
    /// (address, name), ascending.
    symbols: Vec<(u64, String)>,
}

impl KernelSymbols {
    /// Reads `/proc/kallsyms`. Without root every address reads as 0, which leaves the table
    /// empty (frames then print as addresses).
    pub fn load() -> io::Result<KernelSymbols> {
        Ok(KernelSymbols::parse(&fs::read_to_string("/proc/kallsyms")?))
    }

    /// The table of kallsyms text: code symbols (`t`, `T`, `w`, `W`) with a non-zero address.
    pub fn parse(text: &str) -> KernelSymbols {
        let mut symbols: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
                let kind = parts.next()?;
                let name = parts.next()?;
                (addr != 0 && matches!(kind, "t" | "T" | "w" | "W"))
                    .then(|| (addr, name.to_string()))
            })
            .collect();
        symbols.sort_by_key(|&(addr, _)| addr);
        KernelSymbols { symbols }
    }

    /// The symbol `addr` falls in and the offset into it: the nearest symbol at or below.
    pub fn resolve(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.symbols.partition_point(|&(a, _)| a <= addr);
        let (start, name) = self.symbols.get(i.checked_sub(1)?)?;
        Some((name, addr - start))
    }
}

#[cfg(test)]
mod tests {
    use super::{find, KernelSymbols};

    #[test]
    fn resolves_addresses_to_the_function_below() {
        let text = "ffffffff81000100 T second\nffffffff81000000 T first\n\
                    ffffffff82a05000 D jiffies\nffffffffc0001000 t modfn\t[mod]\n";
        let syms = KernelSymbols::parse(text);
        assert_eq!(syms.resolve(0xffffffff81000000), Some(("first", 0)));
        assert_eq!(syms.resolve(0xffffffff810000ff), Some(("first", 0xff)));
        assert_eq!(syms.resolve(0xffffffff81000105), Some(("second", 5)));
        assert_eq!(syms.resolve(0xffffffffc0001010), Some(("modfn", 0x10)));
        assert_eq!(syms.resolve(0x1000), None);
    }

    #[test]
    fn finds_symbols_and_refuses_hidden_addresses() {
        let text =
            "ffffffff81000000 T _text\nffffffff82a05000 D jiffies\nffffffffc0001000 t foo\t[mod]\n";
        assert_eq!(find(text, "jiffies"), Ok(Some(0xffffffff82a05000)));
        assert_eq!(find(text, "foo"), Ok(Some(0xffffffffc0001000)));
        assert_eq!(find(text, "nope"), Ok(None));
        assert!(find("0000000000000000 D jiffies\n", "jiffies").is_err());
    }
}
