//! bpftrace-compatible rendering of maps and values, in text and in `-f json` (NDJSON).
//!
//! Everything here is a pure function of a [`MapInfo`] and the raw bytes read from the
//! kernel; the aim is byte-for-byte the output of bpftrace 0.26 (`src/types_format.cpp`,
//! `src/output/text.cpp`, `src/output/json.cpp`).
//!
//! Notes for callers (the CLI):
//! - At exit, bpftrace's text output first prints two newlines (`TextOutput::end`), then
//!   each printable map in name order via [`map_text`]. There is no blank line between
//!   maps, except that every histogram is followed by one. JSON output prints nothing at
//!   the end and one line per map via [`map_json`].
//! - `print(@m)` differs from the exit dump only for an empty scalar map: use
//!   [`map_text_on_print`] / [`map_json_on_print`] there.
//!
//! Module map: `merge` folds per-CPU values, `prim` decodes and spells atoms, `hist`
//! owns bucket indexes and histogram rendering, `format` orders entries, `text` and
//! `json` write the final strings. `samples` gives the same maps as numbers for metrics
//! (`beetrace serve`). `value` is separate: typed values of foreign objects
//! (`beetrace run`), not bpftrace's formats.

mod format;
mod hist;
mod json;
mod merge;
mod prim;
pub mod samples;
mod text;
pub mod value;

use sema::maps::MapInfo;
use sema::Type;

pub use hist::{hist_bucket, lhist_bucket};

/// One map entry as read from the kernel: key bytes, and one value buffer per CPU (a
/// single buffer for non-per-CPU maps). Layouts are those documented in `sema::maps`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Entry {
    pub key: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

/// Options of `print(@m, top, div)`: print only the `top` largest entries (0 = all),
/// divide values by `div` (1 = none; 0 is treated as 1). As in bpftrace, `div` divides
/// count/sum/min/max/avg values, a `stats` map's average (not its count or total) and
/// `hist` bucket counts; it does not apply to `lhist`. For histogram maps, `top` keeps
/// the keys with the largest total count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrintOptions {
    pub top: usize,
    pub div: u64,
}

impl Default for PrintOptions {
    /// Print everything, undivided (what the exit dump uses).
    fn default() -> Self {
        PrintOptions { top: 0, div: 1 }
    }
}

/// The text bpftrace 0.26 prints for a map in its exit dump (also `print(@m)` unless the
/// map is an empty scalar map — see [`map_text_on_print`]).
///
/// Formats: `@x: 5`, `@x[1]: 5`, `@[bash]: 5`, `@[bash, 123]: 5` (entries ascending by
/// value for count/sum/min/max/avg/stats/integer maps, by key otherwise);
/// `@x: { .count = 3, .average = 5, .total = 15 }` for `stats`; `@x:` followed by the
/// bar chart and a blank line for histograms (keyed histograms: one per key, ascending by
/// total count). A map without entries prints nothing. Non-UTF-8 bytes in strings are
/// replaced with U+FFFD.
pub fn map_text(info: &MapInfo, entries: &[Entry], opts: &PrintOptions) -> String {
    let f = format::format_map(info, entries, opts);
    text::map_text(&info.display_name(), &f)
}

/// The text of `print(@m[, top, div])`: as [`map_text`], except that a scalar map
/// without a value prints its zero (`@x: 0`, `@x: { .count = 0, .average = 0, .total = 0 }`)
/// like bpftrace's `emit_empty_scalar`.
pub fn map_text_on_print(info: &MapInfo, entries: &[Entry], opts: &PrintOptions) -> String {
    let f = format::format_map(info, entries, opts);
    let f = format::empty_scalar(info, &f).unwrap_or(f);
    text::map_text(&info.display_name(), &f)
}

/// The NDJSON line bpftrace 0.26 prints for a map with `-f json` (ending in `\n`), or an
/// empty string when it prints nothing (a map without entries).
///
/// Shapes: `{"type": "map", "data": {"@x": 5}}`, keyed
/// `{"type": "map", "data": {"@x": {"bash": 5, "1,2": 6}}}` (multi-part keys joined by
/// `,` with all spaces removed), `{"type": "stats", "data": {"@x": {"count": 2,
/// "average": 6, "total": 12}}}` (avg maps are type `stats` too, with plain numbers),
/// `{"type": "hist", "data": {"@x": [{"min": 2, "max": 3, "count": 1},...]}}`.
pub fn map_json(info: &MapInfo, entries: &[Entry], opts: &PrintOptions) -> String {
    let f = format::format_map(info, entries, opts);
    json::map_line(&info.display_name(), &f)
}

/// The JSON of `print(@m)`: as [`map_json`], with an empty scalar map printed as its zero.
pub fn map_json_on_print(info: &MapInfo, entries: &[Entry], opts: &PrintOptions) -> String {
    let f = format::format_map(info, entries, opts);
    let f = format::empty_scalar(info, &f).unwrap_or(f);
    json::map_line(&info.display_name(), &f)
}

/// The text of `print(value)` for a non-map value (bpftrace's `TextOutput::value`): the
/// value followed by a newline — integers in decimal by width and sign, strings up to
/// the first NUL (`..` appended when the string filled its buffer), booleans as
/// `true`/`false`.
pub fn value_text(ty: Type, bytes: &[u8]) -> String {
    let mut out = prim::decode(ty, bytes).text();
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The JSON of `print(value)`: `{"type": "value", "data": 5}` plus a newline.
pub fn value_json(ty: Type, bytes: &[u8]) -> String {
    let mut out = b"{\"type\": \"value\", \"data\": ".to_vec();
    prim::decode(ty, bytes).push_json(&mut out);
    out.extend_from_slice(b"}\n");
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `s` as a quoted JSON string literal, escaped exactly like bpftrace's JSON output (used
/// for printf records: `{"type": "printf", "data": <json_string(text)>}`). Escapes `"`,
/// `\`, `\n`, `\r`, `\t` and other control bytes (`\u0001`); bytes >= 0x80 get
/// bpftrace's sign-extended `\uffffffXX` escape.
pub fn json_string(s: &[u8]) -> String {
    let mut out = Vec::new();
    json::push_json_string(&mut out, s);
    // Only ASCII is ever written.
    String::from_utf8_lossy(&out).into_owned()
}
