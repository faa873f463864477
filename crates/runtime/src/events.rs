//! Records from the `events` ring buffer, decoded with the resource tables from sema.

use sema::hir::MapCommand;
use sema::printf::{self, Value};

use crate::resolve::Resolver;
use sema::{
    FormatKind, PrintfArg, PrintfFormat, CLEAR_MAP_EVENT_ID, EXIT_EVENT_ID, NEW_PROCESS_EVENT_ID,
    PRINT_MAP_EVENT_ID, ZERO_MAP_EVENT_ID,
};

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Text to write, already formatted.
    Text(Vec<u8>),
    /// `time(fmt)`: the strftime format.
    Time(Vec<u8>),
    /// `system(...)`: the command line.
    System(Vec<u8>),
    /// `cat(...)`: the file name.
    Cat(Vec<u8>),
    /// `join(...)`: the strings joined (text output adds a newline).
    Join(Vec<u8>),
    /// A `print(value)`: the value's type and bytes.
    Value { ty: sema::Type, bytes: Vec<u8> },
    /// `exit(code)`
    Exit(i32),
    /// `print`/`clear`/`zero` of the map with this index.
    Map { map: usize, command: MapCommand },
    /// A process recorded user addresses for the first time (see codegen's `stacks.rs`).
    NewProcess(u32),
}

/// The `index`-th u64 of a record the kernel wrote (host byte order; 0 past the end).
pub(crate) fn word(record: &[u8], index: usize) -> u64 {
    record
        .get(index * 8..index * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

/// The strings of a `join()` record, separated as its format says.
fn join_record(record: &[u8], pieces: &[printf::Piece]) -> Vec<u8> {
    let sep: &[u8] = match pieces.first() {
        Some(printf::Piece::Literal(sep)) => sep,
        _ => b" ",
    };
    let count = (word(record, 1) as usize).min(sema::JOIN_MAX_ARGS as usize);
    let slot = sema::JOIN_ARG_SIZE as usize;
    let mut out = Vec::new();
    for i in 0..count {
        let start = (16 + i * slot).min(record.len());
        let bytes = &record[start..(start + slot).min(record.len())];
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(&bytes[..len]);
    }
    out
}

/// Decodes one record. A record we cannot make sense of is an error naming its id: that
/// would be a codegen bug, and hiding it would be silent data loss.
pub(crate) fn decode(
    record: &[u8],
    printfs: &[PrintfFormat],
    resolver: &Resolver,
) -> Result<Event, String> {
    let id_bytes: [u8; 8] = record
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("event record of {} bytes is too short", record.len()))?;
    let id = u64::from_le_bytes(id_bytes);
    let command = match id {
        EXIT_EVENT_ID => return Ok(Event::Exit(word(record, 1) as i32)),
        NEW_PROCESS_EVENT_ID => return Ok(Event::NewProcess(word(record, 1) as u32)),
        PRINT_MAP_EVENT_ID => Some(MapCommand::Print {
            top: word(record, 2),
            div: word(record, 3).max(1),
        }),
        CLEAR_MAP_EVENT_ID => Some(MapCommand::Clear),
        ZERO_MAP_EVENT_ID => Some(MapCommand::Zero),
        _ => None,
    };
    if let Some(command) = command {
        return Ok(Event::Map {
            map: word(record, 1) as usize,
            command,
        });
    }
    let format = usize::try_from(id)
        .ok()
        .and_then(|i| printfs.get(i))
        .ok_or_else(|| format!("event record has unknown id {id}"))?;
    if format.kind == FormatKind::PrintValue {
        if let Some(PrintfArg::Field { ty, offset }) = format.args.first() {
            let start = (*offset as usize).min(record.len());
            let end = (start + ty.size() as usize).min(record.len());
            let bytes = record[start..end].to_vec();
            if ty.resolved_at_run_time() {
                let text = resolver.text(*ty, &bytes);
                return Ok(Event::Value {
                    ty: sema::Type::Str {
                        len: text.len() as u32 + 1,
                    },
                    bytes: text,
                });
            }
            return Ok(Event::Value { ty: *ty, bytes });
        }
    }
    if format.kind == FormatKind::Join {
        return Ok(Event::Join(join_record(record, &format.pieces)));
    }
    let values: Vec<Value> = format
        .args
        .iter()
        .map(|arg| match arg {
            PrintfArg::Const(v) => v.clone(),
            PrintfArg::Strftime { format, offset } => {
                let ns = word(record, *offset as usize / 8);
                Value::Str(crate::wallclock::strftime(format, ns))
            }
            PrintfArg::Field { ty, offset } => {
                let start = *offset as usize;
                let end = (start + ty.size() as usize).min(record.len());
                let bytes = record.get(start..end).unwrap_or(&[]);
                if ty.resolved_at_run_time() {
                    Value::Str(resolver.text(*ty, bytes))
                } else {
                    Value::decode(*ty, bytes)
                }
            }
        })
        .collect();
    let text = printf::render(&format.pieces, &values);
    Ok(match format.kind {
        FormatKind::Time => Event::Time(text),
        FormatKind::System => Event::System(text),
        FormatKind::Cat => Event::Cat(text),
        FormatKind::Printf | FormatKind::PrintValue | FormatKind::Join => Event::Text(text),
    })
}
