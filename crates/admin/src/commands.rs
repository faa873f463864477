//! Each `map`/`prog` subcommand from its words (after flags): bpftool's grammar in, the
//! text to print out.

use std::path::PathBuf;

use bpfsys::{ObjKind, UpdateFlag};

use crate::names::{map_type_by_name, map_type_names};
use crate::target::{self, parse_bytes, parse_target};
use crate::{map, prog, AdminError, Format};

fn usage(s: impl Into<String>) -> AdminError {
    AdminError::Usage(s.into())
}

fn no_more(rest: &[String], usage_line: &str) -> Result<(), AdminError> {
    match rest.first() {
        None => Ok(()),
        Some(w) => Err(usage(format!("unexpected '{w}'; usage: {usage_line}"))),
    }
}

/// `map show [MAP]`, `map list`.
pub fn map_show(words: &[String], mut fmt: Format) -> Result<String, AdminError> {
    if words.is_empty() {
        fmt.list = true;
        return Ok(map::show(&target::all_maps()?, fmt));
    }
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    no_more(rest, "map show [id N | pinned PATH | name NAME]")?;
    Ok(map::show(&target::open_maps(&t)?, fmt))
}

/// `map dump MAP`, with `bpftrace` true for `--format bpftrace`.
pub fn map_dump(words: &[String], fmt: Format, bpftrace: bool) -> Result<String, AdminError> {
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    no_more(rest, "map dump MAP [--format bpftrace]")?;
    let maps = target::open_maps(&t)?;
    if bpftrace {
        return maps
            .iter()
            .map(|(fd, i)| map::dump_bpftrace(fd, i, fmt.json))
            .collect();
    }
    map::dump(&maps, fmt)
}

/// `key BYTES` after a map.
fn key_words<'a>(
    rest: &'a [String],
    usage_line: &str,
    stop: &[&str],
) -> Result<(Vec<u8>, &'a [String]), AdminError> {
    match rest.split_first() {
        Some((w, after)) if w == "key" => parse_bytes("key", after, stop),
        _ => Err(usage(format!("expected `key BYTES`; usage: {usage_line}"))),
    }
}

pub fn map_lookup(words: &[String], fmt: Format) -> Result<String, AdminError> {
    const USAGE: &str = "map lookup MAP key BYTES";
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    let (key, rest) = key_words(rest, USAGE, &[])?;
    no_more(rest, USAGE)?;
    let (fd, info) = target::open_map(&t)?;
    map::lookup(&fd, &info, &key, fmt)
}

pub fn map_getnext(words: &[String], fmt: Format) -> Result<String, AdminError> {
    const USAGE: &str = "map getnext MAP [key BYTES]";
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    let (key, rest) = if rest.is_empty() {
        (None, rest)
    } else {
        let (k, r) = key_words(rest, USAGE, &[])?;
        (Some(k), r)
    };
    no_more(rest, USAGE)?;
    let (fd, info) = target::open_map(&t)?;
    map::getnext(&fd, &info, key.as_deref(), fmt)
}

pub fn map_update(words: &[String]) -> Result<String, AdminError> {
    const USAGE: &str = "map update MAP key BYTES value BYTES [any | exist | noexist]";
    const FLAGS: &[&str] = &["any", "exist", "noexist"];
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    let (key, rest) = key_words(rest, USAGE, &["value"])?;
    let (value, rest) = match rest.split_first() {
        Some((w, after)) if w == "value" => parse_bytes("value", after, FLAGS)?,
        _ => return Err(usage(format!("expected `value BYTES`; usage: {USAGE}"))),
    };
    let (flag, rest) = match rest.split_first() {
        Some((w, after)) if w == "exist" => (UpdateFlag::Exist, after),
        Some((w, after)) if w == "noexist" => (UpdateFlag::NoExist, after),
        Some((w, after)) if w == "any" => (UpdateFlag::Any, after),
        _ => (UpdateFlag::Any, rest),
    };
    no_more(rest, USAGE)?;
    let (fd, info) = target::open_map(&t)?;
    map::update(&fd, &info, &key, &value, flag)?;
    Ok(String::new())
}

pub fn map_delete(words: &[String]) -> Result<String, AdminError> {
    const USAGE: &str = "map delete MAP key BYTES";
    let (t, rest) = parse_target(ObjKind::Map, words)?;
    let (key, rest) = key_words(rest, USAGE, &[])?;
    no_more(rest, USAGE)?;
    let (fd, info) = target::open_map(&t)?;
    map::delete(&fd, &info, &key)?;
    Ok(String::new())
}

/// `map create PATH type TYPE key N value N entries N name NAME [flags N]`.
pub fn map_create(words: &[String]) -> Result<String, AdminError> {
    const USAGE: &str =
        "map create PATH type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F]";
    let (path, mut rest) = words
        .split_first()
        .ok_or_else(|| usage(format!("missing PATH; usage: {USAGE}")))?;
    let mut spec = map::CreateSpec::default();
    let (mut ty, mut key, mut value, mut entries, mut name) = (None, None, None, None, None);
    let number = |word: &str, v: &str| -> Result<u32, AdminError> {
        let parsed = match v.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        };
        parsed.ok_or_else(|| usage(format!("{word} '{v}' is not a number")))
    };
    while let [word, v, after @ ..] = rest {
        match word.as_str() {
            "type" => {
                ty = Some(map_type_by_name(v).ok_or_else(|| {
                    usage(format!(
                        "unknown map type '{v}'; known types: {}",
                        map_type_names()
                    ))
                })?)
            }
            "key" => key = Some(number(word, v)?),
            "value" => value = Some(number(word, v)?),
            "entries" => entries = Some(number(word, v)?),
            "flags" => spec.flags = number(word, v)?,
            "name" => name = Some(v.clone()),
            _ => return Err(usage(format!("unexpected '{word}'; usage: {USAGE}"))),
        }
        rest = after;
    }
    no_more(rest, USAGE)?;
    let missing = |what: &str| usage(format!("missing `{what}`; usage: {USAGE}"));
    spec.map_type = ty.ok_or_else(|| missing("type TYPE"))?;
    spec.key_size = key.ok_or_else(|| missing("key KEY_SIZE"))?;
    spec.value_size = value.ok_or_else(|| missing("value VALUE_SIZE"))?;
    spec.max_entries = entries.ok_or_else(|| missing("entries N"))?;
    spec.name = name.ok_or_else(|| missing("name NAME"))?;
    map::create(&PathBuf::from(path), &spec)?;
    Ok(String::new())
}

fn pin(kind: ObjKind, words: &[String]) -> Result<String, AdminError> {
    let usage_line = match kind {
        ObjKind::Map => "map pin MAP PATH",
        ObjKind::Prog => "prog pin PROG PATH",
    };
    let (t, rest) = parse_target(kind, words)?;
    let [path] = rest else {
        return Err(usage(format!("expected one PATH; usage: {usage_line}")));
    };
    let fd = match kind {
        ObjKind::Map => target::open_map(&t)?.0,
        ObjKind::Prog => target::open_prog(&t)?.0,
    };
    map::pin(&fd, &PathBuf::from(path))?;
    Ok(String::new())
}

pub fn map_pin(words: &[String]) -> Result<String, AdminError> {
    pin(ObjKind::Map, words)
}

pub fn prog_pin(words: &[String]) -> Result<String, AdminError> {
    pin(ObjKind::Prog, words)
}

/// `prog show [PROG]`, `prog list`.
pub fn prog_show(words: &[String], mut fmt: Format) -> Result<String, AdminError> {
    if words.is_empty() {
        fmt.list = true;
        return Ok(prog::show(&target::all_progs()?, fmt));
    }
    let (t, rest) = parse_target(ObjKind::Prog, words)?;
    no_more(rest, "prog show [id N | pinned PATH | name NAME]")?;
    Ok(prog::show(&target::open_progs(&t)?, fmt))
}

/// `prog dump xlated PROG`.
pub fn prog_dump(words: &[String], fmt: Format) -> Result<String, AdminError> {
    const USAGE: &str = "prog dump xlated PROG";
    let rest = match words.split_first() {
        Some((w, rest)) if w == "xlated" => rest,
        Some((w, _)) if w == "jited" => {
            return Err(usage(
                "`prog dump jited` is not supported (beetrace has no x86 disassembler); use \
                 `prog dump xlated`",
            ))
        }
        _ => return Err(usage(format!("usage: {USAGE}"))),
    };
    let (t, rest) = parse_target(ObjKind::Prog, rest)?;
    no_more(rest, USAGE)?;
    let (fd, info) = target::open_prog(&t)?;
    prog::dump_xlated(&fd, &info, fmt)
}
