//! The bpftool-like commands (`beetrace map ...`, `beetrace prog ...`): argument grammar,
//! the operations on kernel maps and programs, and their output in bpftool's text and JSON
//! shapes. The binary only parses flags and prints what these functions return.
//!
//! Invariant: independent of the script pipeline (no sema analysis, codegen or runtime);
//! `sema` and `output` are used only to print a beetrace run's `@map` like bpftrace does.

pub mod commands;
pub mod json;
pub mod layout;
pub mod map;
pub mod names;
pub mod prog;
pub mod target;

use std::io;

pub use bpfsys::pin::PinError;

/// Output options shared by the commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// `-j` or `-p`.
    pub json: bool,
    /// `-p`: indented JSON.
    pub pretty: bool,
    /// A listing: JSON is an array even for one object.
    pub list: bool,
    /// `-f`: show where each object is pinned.
    pub bpffs: bool,
}

/// `show`/`list` output: one text block per object, or in JSON one object (an array for a
/// listing or several objects).
/// With `-f`, each object's pin paths are passed to `json` and `text`.
pub(crate) fn show_objects<I>(
    objects: &[(std::os::fd::OwnedFd, I)],
    fmt: Format,
    kind: bpfsys::ObjKind,
    id_of: fn(&I) -> u32,
    json: fn(&std::os::fd::OwnedFd, &I, &[String]) -> json::Json,
    text: fn(&std::os::fd::OwnedFd, &I, &[String]) -> String,
) -> String {
    let pins = if fmt.bpffs {
        target::pinned_paths(kind)
    } else {
        Default::default()
    };
    let pins_of = |i: &I| pins.get(&id_of(i)).map_or(&[][..], Vec::as_slice);
    if !fmt.json {
        return objects
            .iter()
            .map(|(fd, i)| text(fd, i, pins_of(i)))
            .collect();
    }
    let mut items: Vec<json::Json> = objects
        .iter()
        .map(|(fd, i)| json(fd, i, pins_of(i)))
        .collect();
    let one = if items.len() == 1 && !fmt.list {
        items.pop()
    } else {
        None
    };
    one.unwrap_or(json::Json::Arr(items)).render(fmt.pretty) + "\n"
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad arguments; the message says what is expected.
    #[error("{0}")]
    Usage(String),
    /// The object or key asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    #[error("{what}: {source}")]
    Kernel {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Pin(#[from] PinError),
}

impl AdminError {
    pub fn kernel(what: String, source: io::Error) -> AdminError {
        AdminError::Kernel { what, source }
    }
}
