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

#[cfg(test)]
mod tests {
    use super::find;

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
