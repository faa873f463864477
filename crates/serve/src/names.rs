//! Metric and label names: Prometheus allows `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names
//! and no `:` in label names; anything else in a script or map name becomes `_`.

/// A metric name: `<script>_<map>` sanitised. The anonymous map `@` is `<script>_map`.
pub(crate) fn metric_name(script: &str, map: &str) -> String {
    let map = if map.is_empty() { "map" } else { map };
    sanitise(&format!("{script}_{map}"))
}

/// The script's part of metric names: its file name without directory and extension.
pub fn script_prefix(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file
        .split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(file);
    sanitise(stem)
}

fn sanitise(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_prefixed() {
        assert_eq!(script_prefix("/etc/beetrace/sys-calls.bt"), "sys_calls");
        assert_eq!(script_prefix("9lives.bt"), "_9lives");
        assert_eq!(metric_name("syscalls", "calls"), "syscalls_calls");
        assert_eq!(metric_name("syscalls", ""), "syscalls_map");
        assert_eq!(metric_name("a.b", "ü"), "a_b__");
    }
}
