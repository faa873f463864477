//! Records from the `events` ring buffer, decoded with the resource tables from sema.

use sema::printf::{self, Value};
use sema::{PrintfArg, PrintfFormat, EXIT_EVENT_ID};

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Text to write, already formatted.
    Text(Vec<u8>),
    Exit,
}

/// Decodes one record. A record we cannot make sense of is an error naming its id: that
/// would be a codegen bug, and hiding it would be silent data loss.
pub(crate) fn decode(record: &[u8], printfs: &[PrintfFormat]) -> Result<Event, String> {
    let id_bytes: [u8; 8] = record
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("event record of {} bytes is too short", record.len()))?;
    let id = u64::from_le_bytes(id_bytes);
    if id == EXIT_EVENT_ID {
        return Ok(Event::Exit);
    }
    let format = usize::try_from(id)
        .ok()
        .and_then(|i| printfs.get(i))
        .ok_or_else(|| format!("event record has unknown id {id}"))?;
    let values: Vec<Value> = format
        .args
        .iter()
        .map(|arg| match arg {
            PrintfArg::Const(v) => v.clone(),
            PrintfArg::Field { ty, offset } => {
                let start = *offset as usize;
                let end = (start + ty.size() as usize).min(record.len());
                Value::decode(*ty, record.get(start..end).unwrap_or(&[]))
            }
        })
        .collect();
    Ok(Event::Text(printf::render(&format.pieces, &values)))
}
