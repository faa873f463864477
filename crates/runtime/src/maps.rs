//! Reading `@maps` back from the kernel: at exit, for `print(@m)`, and for `clear`/`zero`.

use std::io;
use std::os::fd::OwnedFd;

use output::{Entry, PrintOptions};
use sema::maps::MapInfo;

use crate::resolve::Resolver;
use crate::sys;

/// Every entry of a script map, with one value per CPU for per-CPU maps.
fn read_entries(info: &MapInfo, fd: &OwnedFd, cpus: usize) -> io::Result<Vec<Entry>> {
    let value_size = info.value.size() as usize;
    let copies = if info.value.per_cpu() { cpus } else { 1 };
    let stride = value_size.div_ceil(8) * 8;
    let mut entries = Vec::new();
    for key in sys::map_keys(fd, info.key_size() as usize)? {
        let mut buf = vec![0u8; stride * copies];
        if sys::map_lookup(fd, &key, &mut buf)? {
            let values = buf
                .chunks(stride)
                .map(|c| c[..value_size].to_vec())
                .collect();
            entries.push(Entry { key, values });
        }
    }
    Ok(entries)
}

/// A `@map` of a running script, handed out through [`crate::RunOptions::share_maps`] so
/// another thread (`beetrace serve`) can read it while the run goes on. It holds its own
/// duplicate of the map's fd: reading stays safe after the run ends (the map then simply
/// stops changing) and the kernel frees the map once every holder is gone.
#[derive(Debug)]
pub struct LiveMap {
    pub info: MapInfo,
    fd: OwnedFd,
    cpus: usize,
}

impl LiveMap {
    pub(crate) fn new(info: &MapInfo, fd: &OwnedFd, cpus: usize) -> io::Result<LiveMap> {
        Ok(LiveMap {
            info: info.clone(),
            fd: fd.try_clone()?,
            cpus,
        })
    }

    /// The current entries, raw (per-CPU values unmerged), as `output` expects them.
    /// Keys and values that only the run can turn into text (stacks, `cgroup_path`,
    /// symbols) stay raw ids here.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        read_entries(&self.info, &self.fd, self.cpus)
    }
}

/// One `@map` of the running script and its kernel map.
pub(crate) struct ScriptMap<'a> {
    pub(crate) info: &'a MapInfo,
    pub(crate) fd: &'a OwnedFd,
    /// Turns `cgroup_path`, stack and symbol keys and values into text before printing.
    pub(crate) resolver: &'a Resolver<'a>,
}

impl ScriptMap<'_> {
    /// Every entry, with one value per CPU for per-CPU maps.
    pub(crate) fn entries(&self, cpus: usize) -> io::Result<Vec<Entry>> {
        read_entries(self.info, self.fd, cpus)
    }

    /// The map as printed at exit (`on_print` false) or by `print(@m)`, which also shows
    /// an empty scalar map as its zero value; as text or as a JSON record.
    pub(crate) fn render(
        &self,
        cpus: usize,
        opts: &PrintOptions,
        on_print: bool,
        json: bool,
    ) -> io::Result<String> {
        let (info, entries) = self.resolver.resolve_map(self.info, self.entries(cpus)?);
        let render = match (on_print, json) {
            (false, false) => output::map_text,
            (true, false) => output::map_text_on_print,
            (false, true) => output::map_json,
            (true, true) => output::map_json_on_print,
        };
        Ok(render(&info, &entries, opts))
    }

    /// `clear(@m)`: remove every entry.
    pub(crate) fn clear(&self) -> io::Result<()> {
        for key in sys::map_keys(self.fd, self.info.key_size() as usize)? {
            sys::map_delete(self.fd, &key)?;
        }
        Ok(())
    }

    /// `zero(@m)`: keep the keys, reset the values.
    pub(crate) fn zero(&self, cpus: usize) -> io::Result<()> {
        let copies = if self.info.value.per_cpu() { cpus } else { 1 };
        let stride = (self.info.value.size() as usize).div_ceil(8) * 8;
        let zeros = vec![0u8; stride * copies];
        for key in sys::map_keys(self.fd, self.info.key_size() as usize)? {
            sys::map_update(self.fd, &key, &zeros)?;
        }
        Ok(())
    }
}
