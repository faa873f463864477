//! bpftool's argument grammar: `id N | pinned PATH | name NAME` to select objects, and
//! `key`/`value` followed by bytes (decimal, `0x..`, or bare hex after the word `hex`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use bpfsys::{MapInfo, ObjKind, ProgInfo};

use crate::AdminError;

/// How the user named an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Id(u32),
    Pinned(PathBuf),
    Name(String),
}

fn kind_word(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Map => "map",
        ObjKind::Prog => "prog",
    }
}

/// Parses a target from the front of `args`; returns it and the remaining words.
pub fn parse_target(kind: ObjKind, args: &[String]) -> Result<(Target, &[String]), AdminError> {
    let what = kind_word(kind);
    let usage = || {
        AdminError::Usage(format!(
            "expected a {what}: `id N`, `pinned PATH` or `name NAME`"
        ))
    };
    let (word, value) = match args {
        [w, v, ..] => (w.as_str(), v.as_str()),
        _ => return Err(usage()),
    };
    let target = match word {
        "id" => Target::Id(
            value
                .parse()
                .map_err(|_| AdminError::Usage(format!("{what} id '{value}' is not a number")))?,
        ),
        "pinned" => Target::Pinned(PathBuf::from(value)),
        "name" => Target::Name(value.to_string()),
        _ => return Err(usage()),
    };
    Ok((target, &args[2..]))
}

/// Parses bytes following a `key`/`value` word until a word in `stop` (or the end).
pub fn parse_bytes<'a>(
    what: &str,
    args: &'a [String],
    stop: &[&str],
) -> Result<(Vec<u8>, &'a [String]), AdminError> {
    let mut bytes = Vec::new();
    let mut hex = false;
    let mut i = 0;
    while let Some(word) = args.get(i) {
        if stop.contains(&word.as_str()) {
            break;
        }
        i += 1;
        if word == "hex" && bytes.is_empty() && !hex {
            hex = true;
            continue;
        }
        let parsed = if hex {
            u8::from_str_radix(word, 16).ok()
        } else if let Some(h) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
            u8::from_str_radix(h, 16).ok()
        } else {
            word.parse::<u8>().ok()
        };
        bytes.push(parsed.ok_or_else(|| {
            AdminError::Usage(format!(
                "{what}: '{word}' is not a byte (0-255, 0xNN, or NN after the word hex)"
            ))
        })?);
    }
    Ok((bytes, &args[i..]))
}

/// Checks that `bytes` has the size the map wants.
pub fn check_size(what: &str, bytes: &[u8], want: u32) -> Result<(), AdminError> {
    if bytes.len() != want as usize {
        return Err(AdminError::Usage(format!(
            "{what} has {} byte(s), the map wants {want}",
            bytes.len()
        )));
    }
    Ok(())
}

/// `anon_inode:bpf-map` and the like: what kind of BPF object an fd is.
fn fd_kind(fd: &OwnedFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A line such as `memlock:\t4096` of the fd's `/proc/self/fdinfo` entry.
pub(crate) fn fdinfo_field(fd: &OwnedFd, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == field).then(|| v.trim().parse().ok())?
    })
}

fn open_by_id(kind: ObjKind, id: u32) -> Result<OwnedFd, AdminError> {
    bpfsys::obj::fd_by_id(kind, id).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            AdminError::NotFound(format!(
                "there is no {} with id {id}; `beetrace {} list` shows them",
                kind_word(kind),
                kind_word(kind)
            ))
        } else {
            AdminError::kernel(format!("cannot open {} {id}", kind_word(kind)), e)
        }
    })
}

fn open_pinned(kind: ObjKind, path: &std::path::Path) -> Result<OwnedFd, AdminError> {
    let fd = bpfsys::pin::open(path)?;
    let want = format!("anon_inode:bpf-{}", kind_word(kind));
    if fd_kind(&fd) != want {
        return Err(AdminError::Usage(format!(
            "{}: what is pinned there is not a {}",
            path.display(),
            kind_word(kind)
        )));
    }
    Ok(fd)
}

/// Where objects of `kind` are pinned, by id: every bpf filesystem mounted, walked in
/// directory order (as bpftool's `-f` does).
pub fn pinned_paths(kind: ObjKind) -> std::collections::HashMap<u32, Vec<String>> {
    let mut found: std::collections::HashMap<u32, Vec<String>> = Default::default();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut roots: Vec<&str> = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dir = f.nth(1)?;
            (f.next()? == "bpf").then_some(dir)
        })
        .collect();
    roots.dedup();
    let want = format!("anon_inode:bpf-{}", kind_word(kind));
    let mut stack: Vec<PathBuf> = roots.into_iter().rev().map(PathBuf::from).collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            stack.extend(children.into_iter().rev());
            continue;
        }
        let Ok(fd) = bpfsys::obj::obj_get(&path) else {
            continue;
        };
        if fd_kind(&fd) != want {
            continue;
        }
        let id = match kind {
            ObjKind::Map => bpfsys::obj::map_info(&fd).map(|i| i.id),
            ObjKind::Prog => bpfsys::obj::prog_info(&fd).map(|i| i.id),
        };
        if let Ok(id) = id {
            found
                .entry(id)
                .or_default()
                .push(path.to_string_lossy().into_owned());
        }
    }
    found
}

/// Every object of `kind` (opened) with its info, ascending by id. Objects that vanish
/// while we walk are skipped.
fn all<I>(
    kind: ObjKind,
    info: fn(&OwnedFd) -> std::io::Result<I>,
) -> Result<Vec<(OwnedFd, I)>, AdminError> {
    let ids = bpfsys::obj::all_ids(kind)
        .map_err(|e| AdminError::kernel(format!("cannot list {}s", kind_word(kind)), e))?;
    Ok(ids
        .into_iter()
        .filter_map(|id| bpfsys::obj::fd_by_id(kind, id).ok())
        .filter_map(|fd| info(&fd).ok().map(|i| (fd, i)))
        .collect())
}

/// Opens the objects `target` names (several for a shared name), with their info.
fn open<I>(
    kind: ObjKind,
    target: &Target,
    info: fn(&OwnedFd) -> std::io::Result<I>,
    name_of: fn(&I) -> &str,
) -> Result<Vec<(OwnedFd, I)>, AdminError> {
    let with_info = |fd: OwnedFd| {
        let i = info(&fd)
            .map_err(|e| AdminError::kernel(format!("cannot read {} info", kind_word(kind)), e))?;
        Ok::<_, AdminError>(vec![(fd, i)])
    };
    match target {
        Target::Id(id) => with_info(open_by_id(kind, *id)?),
        Target::Pinned(path) => with_info(open_pinned(kind, path)?),
        Target::Name(name) => {
            let found: Vec<_> = all(kind, info)?
                .into_iter()
                .filter(|(_, i)| name_of(i) == name)
                .collect();
            if found.is_empty() {
                let word = kind_word(kind);
                return Err(AdminError::NotFound(format!(
                    "no {word} is named '{name}'; `beetrace {word} list` shows them"
                )));
            }
            Ok(found)
        }
    }
}

/// The one object of a list; a shared name is an error saying to use an id.
fn one<I>(
    kind: ObjKind,
    mut found: Vec<(OwnedFd, I)>,
    id_of: fn(&I) -> u32,
) -> Result<(OwnedFd, I), AdminError> {
    if found.len() > 1 {
        let ids: Vec<String> = found.iter().map(|(_, i)| id_of(i).to_string()).collect();
        return Err(AdminError::Usage(format!(
            "several {}s have that name (ids {}); select one with `id N`",
            kind_word(kind),
            ids.join(", ")
        )));
    }
    Ok(found.remove(0))
}

/// Opens the maps `target` names (several for a shared name).
pub fn open_maps(target: &Target) -> Result<Vec<(OwnedFd, MapInfo)>, AdminError> {
    open(ObjKind::Map, target, bpfsys::obj::map_info, |i| &i.name)
}

/// Opens the one map `target` names.
pub fn open_map(target: &Target) -> Result<(OwnedFd, MapInfo), AdminError> {
    one(ObjKind::Map, open_maps(target)?, |i| i.id)
}

/// Every map, ascending by id.
pub fn all_maps() -> Result<Vec<(OwnedFd, MapInfo)>, AdminError> {
    all(ObjKind::Map, bpfsys::obj::map_info)
}

/// Opens the programs `target` names (several for a shared name).
pub fn open_progs(target: &Target) -> Result<Vec<(OwnedFd, ProgInfo)>, AdminError> {
    open(ObjKind::Prog, target, bpfsys::obj::prog_info, |i| &i.name)
}

/// Opens the one program `target` names.
pub fn open_prog(target: &Target) -> Result<(OwnedFd, ProgInfo), AdminError> {
    one(ObjKind::Prog, open_progs(target)?, |i| i.id)
}

/// Every program, ascending by id.
pub fn all_progs() -> Result<Vec<(OwnedFd, ProgInfo)>, AdminError> {
    all(ObjKind::Prog, bpfsys::obj::prog_info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn targets() {
        let a = words("id 42 key 1");
        let (t, rest) = parse_target(ObjKind::Map, &a).unwrap();
        assert_eq!(t, Target::Id(42));
        assert_eq!(rest, &a[2..]);
        let a = words("pinned /sys/fs/bpf/🍯");
        assert_eq!(
            parse_target(ObjKind::Map, &a).unwrap().0,
            Target::Pinned("/sys/fs/bpf/🍯".into())
        );
        let e = parse_target(ObjKind::Prog, &words("id x")).unwrap_err();
        assert_eq!(e.to_string(), "prog id 'x' is not a number");
        let e = parse_target(ObjKind::Map, &words("tag 1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a map: `id N`, `pinned PATH` or `name NAME`"
        );
    }

    #[test]
    fn bytes() {
        let a = words("1 0x10 255 value 9");
        let (b, rest) = parse_bytes("key", &a, &["value"]).unwrap();
        assert_eq!(b, vec![1, 16, 255]);
        assert_eq!(rest, &a[3..]);
        let (b, _) = parse_bytes("key", &words("hex 0a ff 10"), &[]).unwrap();
        assert_eq!(b, vec![10, 255, 16]);
        let e = parse_bytes("key", &words("256"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key: '256' is not a byte (0-255, 0xNN, or NN after the word hex)"
        );
    }
}
