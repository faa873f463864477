//! Which file a uprobe's binary part names, resolved as bpftrace does: a path is taken as
//! written (relative ones against the working directory); a bare word is a program on
//! `$PATH` or else a shared library (`libc`, `c`, `libc.so.6`) — first one the traced process
//! (`-p`) has mapped, then the dynamic linker's cache `/etc/ld.so.cache`, then the usual
//! library directories.

use std::path::{Path, PathBuf};

/// Why a binary name could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("no program or library named '{0}' (looked in $PATH, the process's mappings, /etc/ld.so.cache and the library directories)")]
    Unknown(String),
    #[error("wildcards in binary paths ('{0}') are not supported; name one file")]
    Wildcard(String),
}

/// The file `name` refers to; `pid` is the process given with `-p`, if any.
pub fn resolve(name: &str, pid: Option<u32>) -> Result<PathBuf, ResolveError> {
    if crate::wildcard::has_wildcard(name) {
        return Err(ResolveError::Wildcard(name.to_string()));
    }
    if name.contains('/') {
        let path = Path::new(name);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(path.strip_prefix("./").unwrap_or(path)))
                .unwrap_or_else(|_| path.to_path_buf())
        };
        return if path.exists() {
            Ok(path)
        } else {
            Err(ResolveError::Missing(path))
        };
    }
    if let Some(found) = on_path(name) {
        return Ok(found);
    }
    library(name, pid).ok_or_else(|| ResolveError::Unknown(name.to_string()))
}

/// An executable file called `name` in a `$PATH` directory.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The file name prefix a library name stands for: `c` and `libc` → `libc.so`; a name
/// that already says `.so` stands for itself.
fn library_stem(name: &str) -> String {
    if name.contains(".so") {
        name.to_string()
    } else if name.starts_with("lib") {
        format!("{name}.so")
    } else {
        format!("lib{name}.so")
    }
}

/// Whether a library file name (`libc.so.6`) is what `stem` asks for.
fn stem_matches(stem: &str, file_name: &str) -> bool {
    file_name == stem
        || file_name
            .strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Resolves a shared library name (see the module documentation).
pub fn library(name: &str, pid: Option<u32>) -> Option<PathBuf> {
    let stem = library_stem(name);
    if let Some(pid) = pid {
        if let Some(p) = mapped_library(pid, &stem) {
            return Some(p);
        }
    }
    if let Ok(cache) = std::fs::read("/etc/ld.so.cache") {
        if let Some(p) = ld_cache_entries(&cache)
            .into_iter()
            .find(|(key, value)| stem_matches(&stem, key) && Path::new(value).exists())
        {
            return Some(PathBuf::from(p.1));
        }
    }
    const DIRS: [&str; 6] = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ];
    DIRS.iter().find_map(|dir| {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| stem_matches(&stem, n))
            })
            .map(|e| e.path())
            .collect();
        found.sort();
        found.into_iter().next()
    })
}

/// A library the process has mapped, by `/proc/PID/maps`.
fn mapped_library(pid: u32, stem: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| stem_matches(stem, n))
        })
        .map(|p| {
            // Through the process's root when it has its own (a container), so the path
            // names the file it runs.
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            if std::fs::canonicalize(&root).is_ok_and(|r| r == Path::new("/")) {
                PathBuf::from(p)
            } else {
                root.join(p.trim_start_matches('/'))
            }
        })
        .filter(|p| p.exists())
}

/// (library name, path) pairs of glibc's `ld.so.cache` (the "glibc-ld.so.cache1.1" format,
/// alone or after the old one), in cache order.
fn ld_cache_entries(data: &[u8]) -> Vec<(String, String)> {
    const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
    let Some(start) = data.windows(MAGIC.len()).position(|w| w == MAGIC) else {
        return Vec::new();
    };
    let cache = &data[start..];
    let u32_at = |o: usize| {
        cache
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let Some(count) = u32_at(20) else {
        return Vec::new();
    };
    // Header: magic (20), nlibs, len_strings, flags + padding, extension offset, 3 unused.
    const HEADER: usize = 48;
    const ENTRY: usize = 24;
    let string = |o: usize| {
        let bytes = cache.get(o..)?;
        let end = bytes.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&bytes[..end]).ok().map(str::to_string)
    };
    (0..count.min(100_000))
        .filter_map(|i| {
            let at = HEADER + i * ENTRY;
            Some((string(u32_at(at + 4)?)?, string(u32_at(at + 8)?)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_become_file_name_stems() {
        assert_eq!(library_stem("c"), "libc.so");
        assert_eq!(library_stem("libc"), "libc.so");
        assert_eq!(library_stem("libc.so.6"), "libc.so.6");
        assert!(stem_matches("libc.so", "libc.so.6"));
        assert!(stem_matches("libc.so", "libc.so"));
        assert!(!stem_matches("libc.so", "libcap.so.2"));
    }

    #[test]
    fn a_cache_in_the_new_format_is_read() {
        let mut data = b"glibc-ld.so.cache1.1".to_vec();
        data.extend(1u32.to_le_bytes()); // one library
        data.extend([0u8; 24]); // string length, flags, extension, unused
        let strings = 48 + 24;
        data.extend(0x0303i32.to_le_bytes());
        data.extend((strings as u32).to_le_bytes());
        data.extend((strings as u32 + 10).to_le_bytes());
        data.extend([0u8; 12]);
        data.extend(b"libc.so.6\0/lib/libc.so.6\0");
        assert_eq!(
            ld_cache_entries(&data),
            [("libc.so.6".to_string(), "/lib/libc.so.6".to_string())]
        );
    }

    #[test]
    fn libc_is_found_on_this_machine() {
        let libc = library("libc", None).expect("every glibc system has libc.so.6");
        assert!(libc.to_string_lossy().contains("libc.so"), "{libc:?}");
        assert_eq!(
            resolve("/no/such/file", None),
            Err(ResolveError::Missing(PathBuf::from("/no/such/file")))
        );
        assert_eq!(
            resolve("no_such_thing_beetrace", None),
            Err(ResolveError::Unknown("no_such_thing_beetrace".into()))
        );
    }
}
