//! TEMPORARY stand-in for the `output` crate's API while it is being written.
use sema::maps::MapInfo;
pub struct Entry {
    pub key: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}
pub struct PrintOptions {
    pub top: usize,
    pub div: u64,
}
pub fn map_text(info: &MapInfo, entries: &[Entry], _opts: &PrintOptions) -> String {
    format!("{}: {} entries\n", info.display_name(), entries.len())
}
