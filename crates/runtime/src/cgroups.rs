//! `cgroup_path()` values are (cgroup id, filter) pairs until printed; this turns them into
//! text the way bpftrace does: for every mounted cgroup hierarchy whose name matches the
//! filter (cgroup2 is called `unified`), the path of the directory whose inode number is the
//! id, as `name:path`, cgroup2 first, then v1 hierarchies by name, joined by commas.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::events::word;

pub(crate) struct CgroupResolver {
    /// (hierarchy name, mount point): cgroup2 mounts first, then v1 by name.
    roots: Vec<(String, PathBuf)>,
    filters: Vec<String>,
    cache: RefCell<HashMap<(u64, u32), String>>,
}

impl CgroupResolver {
    pub(crate) fn new(filters: &[String]) -> CgroupResolver {
        let mut v2 = Vec::new();
        let mut v1 = Vec::new();
        if let Ok(mounts) = fs::read_to_string("/proc/mounts") {
            for line in mounts.lines() {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (Some(mount), Some(fstype)) = (fields.get(1), fields.get(2)) else {
                    continue;
                };
                let path = PathBuf::from(mount);
                match *fstype {
                    "cgroup2" => v2.push(("unified".to_string(), path)),
                    "cgroup" => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        v1.push((name, path));
                    }
                    _ => {}
                }
            }
        }
        v1.sort();
        v2.extend(v1);
        CgroupResolver {
            roots: v2,
            filters: filters.to_vec(),
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The printed form of the `cgroup_path` value held in `bytes` (id, filter index).
    pub(crate) fn resolve(&self, bytes: &[u8]) -> String {
        let (id, filter) = (word(bytes, 0), word(bytes, 1) as u32);
        if let Some(hit) = self.cache.borrow().get(&(id, filter)) {
            return hit.clone();
        }
        let pattern = self
            .filters
            .get(filter as usize)
            .map_or("*", String::as_str);
        let mut parts = Vec::new();
        for (name, root) in &self.roots {
            if !kernel::wildcard::matches(pattern, name) {
                continue;
            }
            if let Some(path) = find_inode(root, id) {
                parts.push(format!("{name}:{path}"));
            }
        }
        let text = parts.join(",");
        self.cache.borrow_mut().insert((id, filter), text.clone());
        text
    }
}

/// The path below `root` of the directory with inode number `ino` ("/" for the root).
fn find_inode(root: &Path, ino: u64) -> Option<String> {
    if fs::metadata(root).ok()?.ino() == ino {
        return Some("/".to_string());
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if !meta.is_dir() {
                continue;
            }
            let path = entry.path();
            if meta.ino() == ino {
                let rel = path.strip_prefix(root).ok()?;
                return Some(format!("/{}", rel.display()));
            }
            stack.push(path);
        }
    }
    None
}
