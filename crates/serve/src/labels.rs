//! Label names for map keys. By default a key's parts are the labels `key0`, `key1`, ...;
//! a comment line in the script names them instead:
//!
//! ```text
//! // beetrace:labels @calls comm pid
//! tracepoint:raw_syscalls:sys_enter { @calls[comm, pid] = count(); }
//! ```
//!
//! A comment, so the script stays a plain bpftrace script. Checked when the script is
//! loaded: the map must exist and have as many key parts as names are given.

use std::collections::HashMap;

use sema::maps::MapInfo;

const MARKER: &str = "// beetrace:labels ";

/// Label names by map name (`@calls`), from the script's annotations; errors name the file
/// and line.
pub fn label_names(
    path: &str,
    source: &str,
    maps: &[MapInfo],
) -> Result<HashMap<String, Vec<String>>, String> {
    let mut names = HashMap::new();
    for (i, line) in source.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(MARKER) else {
            continue;
        };
        let at = |msg: String| format!("{path}:{}: ERROR: {msg}", i + 1);
        let mut words = rest.split_whitespace();
        let map = words.next().unwrap_or("");
        let labels: Vec<String> = words.map(String::from).collect();
        let info = maps
            .iter()
            .find(|m| m.display_name() == map)
            .ok_or_else(|| {
                at(format!(
                    "beetrace:labels names {map:?}, which is not a map of the script"
                ))
            })?;
        if labels.len() != info.key.len() {
            return Err(at(format!(
                "beetrace:labels gives {} name(s) for {map}, whose keys have {} part(s)",
                labels.len(),
                info.key.len()
            )));
        }
        for l in &labels {
            if !valid(l) {
                return Err(at(format!(
                    "{l:?} cannot be a label name: use letters, digits and _, not first a \
                     digit, not starting with __, and not le"
                )));
            }
        }
        names.insert(map.to_string(), labels);
    }
    Ok(names)
}

/// Prometheus label names; `le` is the histogram bucket label, `__` prefixes are reserved.
fn valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
        && name != "le"
}

#[cfg(test)]
mod tests {
    use super::*;
    use sema::maps::MapValue;
    use sema::Type;

    fn maps() -> Vec<MapInfo> {
        vec![MapInfo {
            name: "calls".into(),
            key: vec![
                Type::Str { len: 16 },
                Type::Int {
                    bytes: 4,
                    signed: false,
                },
            ],
            value: MapValue::Count,
            max_entries: 10,
        }]
    }

    #[test]
    fn names_come_from_the_annotation() {
        let src = "// beetrace:labels @calls comm pid\nBEGIN {}\n";
        let names = label_names("a.bt", src, &maps()).unwrap();
        assert_eq!(names["@calls"], vec!["comm", "pid"]);
    }

    #[test]
    fn mistakes_point_at_the_line() {
        let err = |src: &str| label_names("a.bt", src, &maps()).unwrap_err();
        assert_eq!(
            err("\n// beetrace:labels @calls comm"),
            "a.bt:2: ERROR: beetrace:labels gives 1 name(s) for @calls, whose keys have 2 part(s)"
        );
        assert_eq!(
            err("// beetrace:labels @nope x"),
            "a.bt:1: ERROR: beetrace:labels names \"@nope\", which is not a map of the script"
        );
        assert!(err("// beetrace:labels @calls le pid").contains("\"le\" cannot be a label name"));
        assert!(err("// beetrace:labels @calls 1x pid").contains("\"1x\" cannot"));
    }
}
