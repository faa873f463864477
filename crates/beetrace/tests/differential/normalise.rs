//! Output normalisation: the global rewrites that turn bpftrace 0.17's output
//! into bpftrace 0.26's format (which beetrace follows), and the per-case
//! rules that hide what is genuinely nondeterministic.

/// A per-case normalisation rule (`NORMALISE ...` in a case file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `numbers`: every run of ASCII digits becomes `N`.
    Numbers,
    /// `counts`: the value of every single-line map entry (`@m[k]: 12`)
    /// becomes `N`, and every histogram row keeps its label but loses its
    /// count and bar.
    Counts,
    /// `sort`: the lines are sorted (for output whose order is not defined).
    Sort,
    /// `dedup`: consecutive equal lines are collapsed into one.
    Dedup,
    /// `drop-blank`: empty lines are removed.
    DropBlank,
    /// `drop-line TEXT`: lines containing `TEXT` are removed.
    DropLine(String),
}

impl Rule {
    /// Parses the value of a `NORMALISE` directive.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let (name, arg) = text.split_once(' ').unwrap_or((text, ""));
        let rule = match name {
            "numbers" => Rule::Numbers,
            "counts" => Rule::Counts,
            "sort" => Rule::Sort,
            "dedup" => Rule::Dedup,
            "drop-blank" => Rule::DropBlank,
            "drop-line" if !arg.is_empty() => Rule::DropLine(arg.to_string()),
            "drop-line" => return Err("drop-line needs the text to look for".into()),
            other => return Err(format!("unknown NORMALISE rule `{other}`")),
        };
        if !arg.is_empty() && !matches!(rule, Rule::DropLine(_)) {
            return Err(format!("NORMALISE {name} takes no argument"));
        }
        Ok(rule)
    }

    /// Applies the rule to a list of lines.
    fn apply(&self, lines: Vec<String>) -> Vec<String> {
        match self {
            Rule::Numbers => lines.iter().map(|l| replace_numbers(l)).collect(),
            Rule::Counts => lines.iter().map(|l| hide_count(l)).collect(),
            Rule::Sort => {
                let mut lines = lines;
                lines.sort();
                lines
            }
            Rule::Dedup => {
                let mut lines = lines;
                lines.dedup();
                lines
            }
            Rule::DropBlank => lines.into_iter().filter(|l| !l.is_empty()).collect(),
            Rule::DropLine(text) => lines
                .into_iter()
                .filter(|l| !l.contains(text.as_str()))
                .collect(),
        }
    }
}

/// Which tool produced an output, and in which format.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// True for bpftrace 0.17, false for beetrace.
    pub bpftrace: bool,
    /// True when the run used `-f json`.
    pub json: bool,
}

/// Normalises one tool's stdout: the global rewrites, then `rules` in order.
pub fn normalise(stdout: &str, source: Source, rules: &[Rule]) -> String {
    let mut lines: Vec<String> = stdout.lines().map(String::from).collect();
    if source.bpftrace {
        lines = if source.json {
            bpftrace_017_json(lines)
        } else {
            bpftrace_017_text(lines)
        };
    }
    for rule in rules {
        lines = rule.apply(lines);
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// Rewrites bpftrace 0.17's text output into bpftrace 0.26's format.
fn bpftrace_017_text(lines: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    let mut in_stack_key = false;
    while i < lines.len() {
        let line = &lines[i];
        i += 1;
        // 0.17 indents the frames of a stack in a map key (`@[` ... `]: 3`) by 4
        // spaces; 0.26 by 8, as everywhere else (BPFtrace::get_stack).
        if line.starts_with('@') && line.ends_with('[') {
            in_stack_key = true;
        } else if line.starts_with(']') {
            in_stack_key = false;
        } else if in_stack_key && line.starts_with("    ") && !line.starts_with("        ") {
            out.push(format!("    {line}"));
            continue;
        }
        // 0.17 prints `Attaching N probes...` on stdout; 0.26 prints
        // `Attached N probes` on stderr (TextOutput::attached_probes).
        if is_attaching_line(line) {
            continue;
        }
        // 0.17 ends the printing of an `avg` or `stats` map with an empty
        // line (print_map_stats); 0.26 prints these like any other map, with
        // no empty line after the last entry. Histograms keep theirs in both.
        // Other empty lines after an entry come in pairs (the two that both
        // versions print before the maps at exit), so an odd run of empty
        // lines after a one-line entry loses one.
        if line.is_empty() && out.last().is_some_and(|prev| is_single_line_entry(prev)) {
            let run = lines[i - 1..].iter().take_while(|l| l.is_empty()).count();
            if run % 2 == 1 {
                continue;
            }
        }
        // 0.17 prints `@h: ` (trailing space) before a histogram; 0.26
        // prints `@h:` (TextOutput::map).
        let line = if line.starts_with('@') && line.ends_with(": ") {
            line.trim_end().to_string()
        } else {
            line.clone()
        };
        let line = stats_017_to_026(&line).unwrap_or(line);
        out.push(single_value_bucket(&line).unwrap_or(line));
    }
    out
}

/// Rewrites bpftrace 0.17's `-f json` output into bpftrace 0.26's.
fn bpftrace_017_json(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        // 0.17 emits two empty lines before the maps printed at exit
        // (its JSON output's end of the main loop); 0.26's JsonOutput::end
        // emits nothing.
        .filter(|l| !l.is_empty())
        // 0.26 separates histogram buckets with `,` where 0.17 wrote `, `
        // (JsonEmitter<Value::Histogram>).
        .map(|l| l.replace(r#"}, {"min": "#, r#"},{"min": "#))
        .map(|l| {
            // 0.26 adds a `count` field to the attached_probes record
            // (JsonOutput::attached_probes).
            const OLD: &str = r#"{"type": "attached_probes", "data": {"probes": "#;
            match l.strip_prefix(OLD).and_then(|rest| rest.strip_suffix("}}")) {
                Some(n) => format!(
                    r#"{{"type": "attached_probes", "count": {n}, "data": {{"probes": {n}}}}}"#
                ),
                None => l,
            }
        })
        .collect()
}

/// True for 0.17's `Attaching 3 probes...` line.
fn is_attaching_line(line: &str) -> bool {
    line.strip_prefix("Attaching ")
        .and_then(|rest| {
            rest.strip_suffix(" probes...")
                .or_else(|| rest.strip_suffix(" probe..."))
        })
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// True for a map entry printed on one line, like `@a: 4` or `@a[1, x]: 4`.
fn is_single_line_entry(line: &str) -> bool {
    line.starts_with('@') && line.contains(": ") && !line.ends_with(": ")
}

/// 0.17 prints a stats value as `count 2, average 7, total 14`; 0.26 prints
/// it as the record `{ .count = 2, .average = 7, .total = 14 }`.
fn stats_017_to_026(line: &str) -> Option<String> {
    if !line.starts_with('@') {
        return None;
    }
    let (head, value) = line.rsplit_once(": count ")?;
    let mut parts = value.split(", ");
    let count = parts.next()?;
    let average = parts.next()?.strip_prefix("average ")?;
    let total = parts.next()?.strip_prefix("total ")?;
    if parts.next().is_some() {
        return None;
    }
    Some(format!(
        "{head}: {{ .count = {count}, .average = {average}, .total = {total} }}"
    ))
}

/// A histogram row split into its label, count and bar.
struct Row<'a> {
    label: &'a str,
    count: &'a str,
    bar: &'a str,
}

/// Splits `[4, 8)                 1 |@@@|` into its parts.
fn parse_row(line: &str) -> Option<Row<'_>> {
    if !(line.starts_with('[') || line.starts_with('(')) || !line.ends_with('|') {
        return None;
    }
    let close = line.find([')', ']'])?;
    let label = &line[..=close];
    let rest = line[close + 1..].trim_start();
    let (count, bar) = rest.split_once(" |")?;
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Row {
        label,
        count,
        bar: bar.strip_suffix('|')?,
    })
}

/// Formats a histogram row as bpftrace does: the label left-aligned in 16
/// columns, the count right-aligned in 8, then the bar in 52.
fn format_row(label: &str, count: &str, bar: &str) -> String {
    format!("{label:<16}{count:>8} |{bar:<52}|")
}

/// 0.26 labels a bucket holding a single value `[3]` (text.cpp's
/// `single_value`); 0.17 prints it as `[3, 4)`.
fn single_value_bucket(line: &str) -> Option<String> {
    let row = parse_row(line)?;
    let inner = row.label.strip_prefix('[')?.strip_suffix(')')?;
    let (low, high) = inner.split_once(", ")?;
    let (low, high) = (parse_int(low)?, parse_int(high)?);
    if low.checked_add(1) != Some(high) {
        return None;
    }
    Some(format_row(&format!("[{low}]"), row.count, row.bar))
}

/// Parses a plain integer bucket bound; bounds printed with a K/M/G/T/P
/// suffix are never one apart, so failing on them is fine.
fn parse_int(text: &str) -> Option<i128> {
    text.parse().ok()
}

/// Replaces every run of digits by `N`.
fn replace_numbers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// The `counts` rule for one line.
fn hide_count(line: &str) -> String {
    if let Some(row) = parse_row(line) {
        return format!("{} N", row.label);
    }
    if is_single_line_entry(line) {
        if let Some((head, value)) = line.rsplit_once(": ") {
            if !value.is_empty()
                && value
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                return format!("{head}: N");
            }
        }
    }
    line.to_string()
}

/// Checks of the rewrites above on known inputs; run as a test of its own.
pub fn self_check() -> Result<(), String> {
    let text = Source {
        bpftrace: true,
        json: false,
    };
    let json = Source {
        bpftrace: true,
        json: true,
    };
    let checks: [(&str, Source, &[Rule], &str); 9] = [
        (
            "@k[\n    do_syscall_64+5\n]: 2\n@p[\n\tffff0001 f+1\n]: 2\n",
            text,
            &[],
            "@k[\n        do_syscall_64+5\n]: 2\n@p[\n\tffff0001 f+1\n]: 2\n",
        ),
        (
            "@c: 1\n\n\n@a: 2\n\n",
            text,
            &[],
            "@c: 1\n\n\n@a: 2\n",
        ),
        (
            "@a: 1\n\n\n\n@a: 1\n",
            text,
            &[],
            "@a: 1\n\n\n@a: 1\n",
        ),
        (
            "Attaching 1 probe...\n@a: 4\n\n@c[1]: 1\n",
            text,
            &[],
            "@a: 4\n@c[1]: 1\n",
        ),
        (
            "@x[a]: count 2, average 7, total 14\n\n",
            text,
            &[],
            "@x[a]: { .count = 2, .average = 7, .total = 14 }\n",
        ),
        (
            "@l: \n[3, 4)                 1 |@@@@@|\n[4, 8)                 1 |@@@@@|\n\n",
            text,
            &[],
            "@l:\n[3]                    1 |@@@@@                                               |\n[4, 8)                 1 |@@@@@|\n\n",
        ),
        (
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 2}}\n\n\n{\"type\": \"map\"}\n",
            json,
            &[],
            "{\"type\": \"attached_probes\", \"count\": 2, \"data\": {\"probes\": 2}}\n{\"type\": \"map\"}\n",
        ),
        (
            "@c[x, 12]: 345\n[1]   7 |@@|\npid 42\n",
            text,
            &[Rule::Counts, Rule::Numbers],
            "@c[x, N]: N\n[N] N\npid N\n",
        ),
        (
            "b\na\na\nc x\n",
            text,
            &[Rule::DropLine("x".into()), Rule::Sort, Rule::Dedup],
            "a\nb\n",
        ),
    ];
    for (input, source, rules, expected) in checks {
        let actual = normalise(input, source, rules);
        if actual != expected {
            return Err(format!(
                "normalise({input:?}) gave\n{actual:?}\nexpected\n{expected:?}"
            ));
        }
    }
    Ok(())
}
