//! CPU numbering as the kernel exposes it under /sys/devices/system/cpu.
//!
//! Per-CPU maps hold one value per *possible* CPU, and `bpf_map_lookup_percpu_elem` accepts
//! CPU numbers below the highest possible one plus one; programs that sum per-CPU values in
//! the kernel loop that many times.

use std::io;
use std::path::Path;

use crate::KernelError;

const POSSIBLE: &str = "/sys/devices/system/cpu/possible";

/// The CPUs of a kernel CPU list such as `0-3,8,10-11`; `None` if the text is malformed.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for range in text.trim().split(',').filter(|r| !r.is_empty()) {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let a: u32 = a.trim().parse().ok()?;
        let b: u32 = b.trim().parse().ok()?;
        if b < a {
            return None;
        }
        cpus.extend(a..=b);
    }
    Some(cpus)
}

/// One more than the highest possible CPU number: the CPU ids a per-CPU lookup accepts.
pub fn possible_cpu_ids() -> Result<u32, KernelError> {
    let path = Path::new(POSSIBLE);
    let io_error = |source| KernelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    parse_cpu_list(&text)
        .and_then(|cpus| cpus.iter().max().map(|m| m + 1))
        .ok_or_else(|| {
            io_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a CPU list: {text:?}"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-3,8\n"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
    }

    #[test]
    fn this_machine_has_a_cpu() {
        assert!(possible_cpu_ids().unwrap() >= 1);
    }
}
