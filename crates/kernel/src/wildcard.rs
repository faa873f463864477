//! Wildcard matching for probe names, as in bpftrace attach points and `-l`.
//!
//! bpftrace itself only honours `*`; we accept a small superset so that
//! patterns people know from shells also work:
//!
//! * `*` any run of characters (including `:`, so `*:*open*` works),
//! * `?` exactly one character,
//! * `[abc]`, `[a-z]`, `[!abc]`/`[^abc]` one character from (or not from) a set,
//! * `{a,b}` alternation (nestable).
//!
//! Anything malformed (an unclosed `[` or `{`) is matched literally, so a
//! pattern never fails to compile.

/// True if `s` contains wildcard syntax, i.e. it names a set of probes that
/// must be expanded rather than a single probe.
pub fn has_wildcard(s: &str) -> bool {
    if s.contains('*') || s.contains('?') {
        return true;
    }
    if let Some(i) = s.find('[') {
        if s[i + 1..].contains(']') {
            return true;
        }
    }
    let mut alts = Vec::new();
    expand_braces(s, &mut alts);
    alts.len() > 1
}

/// True if `text` matches `pattern` in full.
pub fn matches(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).matches(text)
}

/// A compiled pattern, for matching many names against one pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    alternatives: Vec<Vec<Tok>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Tok::Lit(l) => *l == c,
            Tok::Any => true,
            Tok::Star => false,
            Tok::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Brace expansion stops after this many alternatives, so that a hostile
/// pattern like `{a,b}{a,b}{a,b}...` cannot eat all memory.
const MAX_ALTERNATIVES: usize = 4096;

impl Pattern {
    /// Compiles `pattern`; never fails (malformed syntax is literal).
    pub fn new(pattern: &str) -> Pattern {
        let mut alts = Vec::new();
        expand_braces(pattern, &mut alts);
        Pattern {
            alternatives: alts.iter().map(|a| tokenize(a)).collect(),
        }
    }

    /// True if `text` matches in full.
    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.alternatives
            .iter()
            .any(|toks| match_toks(toks, &chars))
    }
}

/// Expands the first `{a,b,...}` group (one with a top-level comma and a
/// matching close) and recurses; pushes the fully expanded strings to `out`.
fn expand_braces(p: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_ALTERNATIVES {
        return;
    }
    let bytes = p.as_bytes();
    for (open, _) in p.match_indices('{') {
        let mut depth = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        for (j, &b) in bytes.iter().enumerate().skip(open + 1) {
            match b {
                b'{' => depth += 1,
                b'}' if depth == 0 => {
                    close = Some(j);
                    break;
                }
                b'}' => depth -= 1,
                b',' if depth == 0 => commas.push(j),
                _ => {}
            }
        }
        let Some(close) = close else { continue };
        if commas.is_empty() {
            continue;
        }
        let (prefix, suffix) = (&p[..open], &p[close + 1..]);
        let mut start = open + 1;
        for end in commas.into_iter().chain(std::iter::once(close)) {
            let alt = &p[start..end];
            expand_braces(&format!("{prefix}{alt}{suffix}"), out);
            start = end + 1;
        }
        return;
    }
    out.push(p.to_string());
}

fn tokenize(p: &str) -> Vec<Tok> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' => toks.push(Tok::Any),
            '[' => {
                if let Some((tok, next)) = parse_class(&chars, i) {
                    toks.push(tok);
                    i = next;
                    continue;
                }
                toks.push(Tok::Lit('['));
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    toks
}

/// Parses `[...]` starting at `chars[start] == '['`; returns the token and
/// the index after `]`, or None if there is no closing bracket.
fn parse_class(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = chars[i + 2];
            ranges.push((c.min(hi), c.max(hi)));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

/// Classic glob matching with backtracking to the most recent `*`; linear in
/// practice for probe names.
fn match_toks(toks: &[Tok], text: &[char]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < text.len() {
        if p < toks.len() && toks[p] != Tok::Star && toks[p].matches(text[s]) {
            p += 1;
            s += 1;
        } else if p < toks.len() && toks[p] == Tok::Star {
            backtrack = Some((p, s));
            p += 1;
        } else if let Some((sp, ss)) = backtrack {
            p = sp + 1;
            s = ss + 1;
            backtrack = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star() {
        assert!(matches("*", ""));
        assert!(matches("*", "sched:sched_switch"));
        assert!(matches("sched:*", "sched:sched_switch"));
        assert!(!matches("sched:*", "syscalls:sys_enter_open"));
        assert!(matches("*:*sched_switch*", "sched:sched_switch"));
        assert!(matches("*open*", "syscalls:sys_enter_openat"));
        assert!(matches("sys_*_open*", "sys_enter_openat"));
        assert!(!matches("sys_*_open", "sys_enter_openat"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYcZ"));
        assert!(matches("**x", "x"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(!matches("", "a"));
        assert!(matches("", ""));
    }

    #[test]
    fn question_and_classes() {
        assert!(matches("sys_enter_open?t", "sys_enter_openat"));
        assert!(!matches("sys_enter_open?", "sys_enter_openat"));
        assert!(matches("sched_[sw]*", "sched_switch"));
        assert!(matches("sched_[sw]*", "sched_wakeup"));
        assert!(!matches("sched_[sw]*", "sched_process_exec"));
        assert!(matches("x[a-c]", "xb"));
        assert!(!matches("x[!a-c]", "xb"));
        assert!(matches("x[^a-c]", "xd"));
        assert!(matches("x[]]", "x]"));
        assert!(matches("x[a-]", "x-"));
        // Unclosed bracket is literal.
        assert!(matches("x[ab", "x[ab"));
        assert!(!matches("x[ab", "xa"));
    }

    #[test]
    fn braces() {
        let p = Pattern::new("syscalls:sys_{enter,exit}_openat");
        assert!(p.matches("syscalls:sys_enter_openat"));
        assert!(p.matches("syscalls:sys_exit_openat"));
        assert!(!p.matches("syscalls:sys_enter_open"));
        assert!(matches("{a,b{c,d}}x", "bdx"));
        assert!(matches("{a,}x", "x"));
        assert!(matches("{a}x", "{a}x"), "no comma: literal");
        assert!(matches("{a,bx", "{a,bx"), "unclosed: literal");
        assert!(matches("{*open*,*close*}", "sys_exit_close"));
        // Exponential patterns are capped, not fatal.
        let p = "{a,b}".repeat(20);
        assert!(!Pattern::new(&p).matches("c"));
    }

    #[test]
    fn has_wildcard_cases() {
        assert!(has_wildcard("sched:*"));
        assert!(has_wildcard("a?"));
        assert!(has_wildcard("[ab]"));
        assert!(has_wildcard("{a,b}"));
        assert!(!has_wildcard("sched:sched_switch"));
        assert!(!has_wildcard("{a}"));
        assert!(!has_wildcard("a]b["));
        assert!(!has_wildcard(""));
    }
}
