//! A small backtracking regular-expression matcher for `EXPECT_REGEX`.
//!
//! The test crate may not pull in new dependencies, so this implements the
//! subset of the usual (Python/Rust-style) syntax that runtime tests need:
//!
//! * literals, `.` (any character), `^` and `$` (start and end of the line),
//! * classes `[abc]`, `[a-z]`, `[^...]`, and the escapes `\d \w \s \D \W \S`,
//! * escaped metacharacters (`\.`, `\(`, `\[`, `\\`, ...),
//! * groups `( ... )` and `(?: ... )` (nothing is captured), alternation `|`,
//! * quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy
//!   with a trailing `?`.
//!
//! Matching is a plain backtracking search, which is fine for the short lines
//! that tests look at.

use std::fmt;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Regex {
    source: String,
    root: Node,
}

/// A syntax error in a pattern, with the character offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.offset, self.message)
    }
}

/// One node of the parsed pattern.
#[derive(Debug, Clone)]
enum Node {
    /// Matches one specific character.
    Char(char),
    /// `.`: any character.
    Any,
    /// A bracket class or a `\d`-style escape.
    Class(Class),
    /// `^`
    Start,
    /// `$`
    End,
    /// A sequence of nodes, matched one after the other.
    Concat(Vec<Node>),
    /// Alternatives, tried left to right.
    Alt(Vec<Node>),
    /// A quantified node.
    Repeat {
        node: Box<Node>,
        min: usize,
        max: Option<usize>,
        greedy: bool,
    },
}

/// A set of characters given as inclusive ranges.
#[derive(Debug, Clone)]
struct Class {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        inside != self.negated
    }

    /// The class for `\d`, `\w`, `\s` and their upper-case negations.
    fn from_escape(letter: char) -> Option<Class> {
        let ranges = match letter.to_ascii_lowercase() {
            'd' => vec![('0', '9')],
            'w' => vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
            's' => vec![
                (' ', ' '),
                ('\t', '\t'),
                ('\n', '\n'),
                ('\r', '\r'),
                ('\x0b', '\x0c'),
            ],
            _ => return None,
        };
        Some(Class {
            ranges,
            negated: letter.is_ascii_uppercase(),
        })
    }
}

impl Regex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let mut parser = Parser {
            chars: pattern.chars().collect(),
            pos: 0,
        };
        let root = parser.alternation()?;
        if parser.pos < parser.chars.len() {
            return Err(parser.error("unmatched `)`"));
        }
        Ok(Regex {
            source: pattern.to_string(),
            root,
        })
    }

    /// The pattern text this was compiled from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True if the pattern matches anywhere in `line`.
    pub fn is_match(&self, line: &str) -> bool {
        let chars: Vec<char> = line.chars().collect();
        (0..=chars.len()).any(|start| {
            let matcher = Matcher { input: &chars };
            matcher.node(&self.root, start, &mut |_| true)
        })
    }
}

/// Recursive-descent parser over the pattern's characters.
struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn error(&self, message: &str) -> RegexError {
        RegexError {
            offset: self.pos,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `concat ('|' concat)*`
    fn alternation(&mut self) -> Result<Node, RegexError> {
        let mut alternatives = vec![self.concat()?];
        while self.eat('|') {
            alternatives.push(self.concat()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().unwrap_or(Node::Concat(Vec::new()))
        } else {
            Node::Alt(alternatives)
        })
    }

    /// A run of quantified atoms, up to `|`, `)` or the end.
    fn concat(&mut self) -> Result<Node, RegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantifier(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn atom(&mut self) -> Result<Node, RegexError> {
        let c = self.peek().ok_or_else(|| self.error("unexpected end"))?;
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.eat('?') && !self.eat(':') {
                    return Err(self.error("only `(?:` groups are supported"));
                }
                let inner = self.alternation()?;
                if !self.eat(')') {
                    return Err(self.error("missing `)`"));
                }
                inner
            }
            '[' => Node::Class(self.class()?),
            '\\' => self.escape()?,
            '*' | '+' | '?' | '{' => {
                self.pos -= 1;
                return Err(self.error("quantifier without anything to repeat"));
            }
            other => Node::Char(other),
        })
    }

    /// The character after a backslash, outside a class.
    fn escape(&mut self) -> Result<Node, RegexError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("pattern ends with `\\`"))?;
        self.pos += 1;
        if let Some(class) = Class::from_escape(c) {
            return Ok(Node::Class(class));
        }
        self.check_escape(c)?;
        Ok(Node::Char(Self::escaped_char(c)))
    }

    /// Rejects letter and digit escapes other than the supported ones, so that
    /// `\b` or `\1` fail loudly instead of matching a literal letter.
    fn check_escape(&self, c: char) -> Result<(), RegexError> {
        if c.is_ascii_alphanumeric() && !matches!(c, 'n' | 't' | 'r') {
            return Err(self.error(&format!("unsupported escape `\\{c}`")));
        }
        Ok(())
    }

    /// `\n`, `\t` and `\r` are control characters; anything else stands for itself.
    fn escaped_char(c: char) -> char {
        match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            other => other,
        }
    }

    /// A bracket class; the opening `[` has been consumed.
    fn class(&mut self) -> Result<Class, RegexError> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or_else(|| self.error("missing `]`"))?;
            self.pos += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                let e = self
                    .peek()
                    .ok_or_else(|| self.error("pattern ends with `\\`"))?;
                self.pos += 1;
                if let Some(class) = Class::from_escape(e) {
                    if class.negated {
                        return Err(self.error("negated escapes are not supported in classes"));
                    }
                    ranges.extend(class.ranges);
                    continue;
                }
                self.check_escape(e)?;
                Self::escaped_char(e)
            } else {
                c
            };
            // A `-` between two characters makes a range; elsewhere it is literal.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let mut hi = self.peek().ok_or_else(|| self.error("missing `]`"))?;
                self.pos += 1;
                if hi == '\\' {
                    let e = self
                        .peek()
                        .ok_or_else(|| self.error("pattern ends with `\\`"))?;
                    self.pos += 1;
                    self.check_escape(e)?;
                    hi = Self::escaped_char(e);
                }
                if hi < lo {
                    return Err(self.error("range out of order"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Class { ranges, negated })
    }

    /// Wraps `atom` in a repetition if a quantifier follows.
    fn quantifier(&mut self, atom: Node) -> Result<Node, RegexError> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                let save = self.pos;
                match self.braces() {
                    Some(bounds) => {
                        // `braces` left `pos` after the `}`; step back one so the
                        // shared `pos += 1` below lands in the same place.
                        self.pos -= 1;
                        bounds
                    }
                    None => {
                        self.pos = save;
                        return Err(self.error("malformed `{n,m}` quantifier"));
                    }
                }
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        if let Some(max) = max {
            if max < min {
                return Err(self.error("`{n,m}` with m < n"));
            }
        }
        let greedy = !self.eat('?');
        if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
            return Err(self.error("nested quantifiers are not supported"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }

    /// Parses `{n}`, `{n,}` or `{n,m}` starting at the `{`.
    fn braces(&mut self) -> Option<(usize, Option<usize>)> {
        self.pos += 1;
        let min = self.number()?;
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number()?)
            }
        } else {
            Some(min)
        };
        self.eat('}').then_some((min, max))
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.chars[start..self.pos]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }
}

/// Backtracking matcher in continuation-passing style: each function tries to
/// match a node at `pos` and calls `k` with every possible end position until
/// `k` accepts one.
struct Matcher<'a> {
    input: &'a [char],
}

impl Matcher<'_> {
    fn node(&self, node: &Node, pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match node {
            Node::Char(c) => self.input.get(pos) == Some(c) && k(pos + 1),
            Node::Any => pos < self.input.len() && k(pos + 1),
            Node::Class(class) => self
                .input
                .get(pos)
                .is_some_and(|&c| class.contains(c) && k(pos + 1)),
            Node::Start => pos == 0 && k(pos),
            Node::End => pos == self.input.len() && k(pos),
            Node::Concat(items) => self.concat(items, pos, k),
            Node::Alt(alternatives) => alternatives.iter().any(|alt| self.node(alt, pos, k)),
            Node::Repeat {
                node,
                min,
                max,
                greedy,
            } => self.repeat(node, *min, *max, *greedy, 0, pos, k),
        }
    }

    fn concat(&self, items: &[Node], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match items.split_first() {
            None => k(pos),
            Some((first, rest)) => self.node(first, pos, &mut |next| self.concat(rest, next, k)),
        }
    }

    /// Matches `node` repeatedly; `count` repetitions have been matched so far.
    #[allow(clippy::too_many_arguments)]
    fn repeat(
        &self,
        node: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        pos: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let may_stop = count >= min;
        let may_continue = max.is_none_or(|m| count < m);
        let more = |k: &mut dyn FnMut(usize) -> bool| {
            may_continue
                && self.node(node, pos, &mut |next| {
                    // An iteration that consumed nothing cannot make progress;
                    // refusing it keeps `(a*)*` from looping forever.
                    next != pos && self.repeat(node, min, max, greedy, count + 1, next, k)
                })
        };
        // Order matters: greedy tries one more repetition first, lazy tries
        // stopping first.
        if greedy {
            if more(k) {
                return true;
            }
            may_stop && k(pos)
        } else {
            if may_stop && k(pos) {
                return true;
            }
            more(k)
        }
    }
}

/// Checks the matcher against a few known answers; the harness runs this as
/// its own trial (a `harness = false` target has no `#[test]` support).
pub fn self_check() -> Result<(), String> {
    let cases: &[(&str, &str, bool)] = &[
        ("abc", "xxabcxx", true),
        ("^abc", "xxabc", false),
        ("^a.c$", "abc", true),
        (r"^\d+ \w+$", "123 cat_1", true),
        (r"^\d+$", "12a", false),
        ("^(cat|sh)$", "sh", true),
        ("^(cat|sh)$", "bash", false),
        ("^a{2,3}$", "aaa", true),
        ("^a{2,3}$", "aaaa", false),
        ("^[^ ]+ [0-9a-f]+$", "x 1f", true),
        (r"^0x[0-9a-f]{1,16}$", "0xffff", true),
        ("^(a*)*b$", "aaab", true),
        ("^(a*)*b$", "aaac", false),
        (r"^\(x\)$", "(x)", true),
        ("^a.*?c$", "abcbc", true),
        ("^[a-]+$", "a-a", true),
        (r"^[\d.]+$", "1.5", true),
        ("^$", "", true),
    ];
    for &(pattern, text, expected) in cases {
        let regex = Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        if regex.is_match(text) != expected {
            return Err(format!(
                "pattern {pattern:?} on {text:?}: expected {expected}, got {}",
                !expected
            ));
        }
    }
    for bad in ["(", "a)", "[a", "*a", "a{2,1}", r"\", r"\bx", r"(?=a)"] {
        if Regex::new(bad).is_ok() {
            return Err(format!("pattern {bad:?} should be rejected"));
        }
    }
    Ok(())
}
