//! Random well-typed integer programs and what they must print.
//!
//! Every expression is generated together with its value, computed here by the language's
//! rules as beetrace documents them: 64-bit arithmetic on values sign- or zero-extended
//! from their type; a result is unsigned only if both operands are; `-` always gives a
//! signed result; signed `/` and `%` are signed at run time; BPF's own rules for division
//! by zero (`x / 0 == 0`, `x % 0 == x`) and shift amounts (taken modulo 64).

/// xorshift64*: small, deterministic, good enough to pick program shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// An integer type: width in bytes and signedness (`bool` is an unsigned byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ty {
    pub bytes: u8,
    pub signed: bool,
}

const I64: Ty = Ty {
    bytes: 8,
    signed: true,
};
const U64: Ty = Ty {
    bytes: 8,
    signed: false,
};
const BOOL: Ty = Ty {
    bytes: 1,
    signed: false,
};

/// A value as the program holds it: 64 bits, extended from its type.
#[derive(Clone, Copy, Debug)]
pub struct Val {
    pub bits: u64,
    pub ty: Ty,
}

fn normalize(bits: u64, ty: Ty) -> u64 {
    if ty.bytes == 8 {
        return bits;
    }
    let shift = 64 - 8 * ty.bytes as u32;
    if ty.signed {
        (((bits << shift) as i64) >> shift) as u64
    } else {
        (bits << shift) >> shift
    }
}

fn promote(a: Ty, b: Ty) -> Ty {
    Ty {
        bytes: 8,
        signed: a.signed || b.signed,
    }
}

fn boolean(b: bool) -> Val {
    Val {
        bits: b as u64,
        ty: BOOL,
    }
}

const CASTS: &[(&str, Ty)] = &[
    (
        "int8",
        Ty {
            bytes: 1,
            signed: true,
        },
    ),
    (
        "uint8",
        Ty {
            bytes: 1,
            signed: false,
        },
    ),
    (
        "int16",
        Ty {
            bytes: 2,
            signed: true,
        },
    ),
    (
        "uint16",
        Ty {
            bytes: 2,
            signed: false,
        },
    ),
    (
        "int32",
        Ty {
            bytes: 4,
            signed: true,
        },
    ),
    (
        "uint32",
        Ty {
            bytes: 4,
            signed: false,
        },
    ),
    ("int64", I64),
    ("uint64", U64),
];

/// Literals near the edges where sign and width mistakes show.
const LITERALS: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    100,
    127,
    128,
    255,
    256,
    4096,
    65535,
    65536,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_ffff,
];

pub struct Gen {
    pub rng: Rng,
    /// `$vN` variables assigned so far, with their values.
    vars: Vec<Val>,
    /// `@mN` scalar maps assigned so far.
    maps: Vec<Val>,
    /// Names handed out by [`Gen::fresh`].
    names: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            vars: Vec::new(),
            maps: Vec::new(),
            names: 0,
        }
    }

    fn literal(&mut self) -> (String, Val) {
        let v = *self.rng.pick(LITERALS);
        let ty = if v > i64::MAX as u64 { U64 } else { I64 };
        (v.to_string(), Val { bits: v, ty })
    }

    fn leaf(&mut self) -> (String, Val) {
        match self.rng.below(6) {
            0 if !self.vars.is_empty() => {
                let i = self.rng.below(self.vars.len() as u64) as usize;
                (format!("$v{i}"), self.vars[i])
            }
            1 if !self.maps.is_empty() => {
                let i = self.rng.below(self.maps.len() as u64) as usize;
                (format!("@m{i}"), self.maps[i])
            }
            _ => self.literal(),
        }
    }

    /// An expression of at most `depth` levels and its value.
    pub fn expr(&mut self, depth: u32) -> (String, Val) {
        if depth == 0 {
            return self.leaf();
        }
        match self.rng.below(10) {
            0 => self.leaf(),
            1 => {
                let (s, v) = self.expr(depth - 1);
                let (name, ty) = *self.rng.pick(CASTS);
                (
                    format!("(({name}){s})"),
                    Val {
                        bits: normalize(v.bits, ty),
                        ty,
                    },
                )
            }
            2 => {
                let (s, v) = self.expr(depth - 1);
                match self.rng.below(3) {
                    0 => (
                        format!("(-{s})"),
                        Val {
                            bits: v.bits.wrapping_neg(),
                            ty: I64,
                        },
                    ),
                    1 => (
                        format!("(~{s})"),
                        Val {
                            bits: !v.bits,
                            ty: promote(v.ty, v.ty),
                        },
                    ),
                    _ => (format!("(!{s})"), boolean(v.bits == 0)),
                }
            }
            3 => {
                let (c, cv) = self.expr(depth - 1);
                let (a, av) = self.expr(depth - 1);
                let (b, bv) = self.expr(depth - 1);
                let chosen = if cv.bits != 0 { av } else { bv };
                (
                    format!("({c} ? {a} : {b})"),
                    Val {
                        bits: chosen.bits,
                        ty: promote(av.ty, bv.ty),
                    },
                )
            }
            _ => self.binary(depth),
        }
    }

    fn binary(&mut self, depth: u32) -> (String, Val) {
        const OPS: &[&str] = &[
            "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=",
            "&&", "||",
        ];
        let op = *self.rng.pick(OPS);
        let (l, lv) = self.expr(depth - 1);
        let (mut r, mut rv) = self.expr(depth - 1);
        // Literal divisors of 0 and literal shifts outside 0..64 are compile-time errors.
        let literal = r.bytes().all(|b| b.is_ascii_digit());
        if literal && matches!(op, "/" | "%") && rv.bits == 0 {
            (r, rv) = ("3".into(), Val { bits: 3, ty: I64 });
        }
        if literal && matches!(op, "<<" | ">>") && rv.bits >= 64 {
            (r, rv) = ("5".into(), Val { bits: 5, ty: I64 });
        }
        let ty = promote(lv.ty, rv.ty);
        let (a, b) = (lv.bits, rv.bits);
        let signed = ty.signed;
        let cmp = |f: fn(i128, i128) -> bool| {
            let wide = |v: u64| if signed { v as i64 as i128 } else { v as i128 };
            boolean(f(wide(a), wide(b)))
        };
        let arith = |bits: u64| Val { bits, ty };
        let v = match op {
            "+" => arith(a.wrapping_add(b)),
            "-" => Val {
                bits: a.wrapping_sub(b),
                ty: I64,
            },
            "*" => arith(a.wrapping_mul(b)),
            "/" => arith(match (b, signed) {
                (0, _) => 0,
                (_, true) => (a as i64).wrapping_div(b as i64) as u64,
                (_, false) => a / b,
            }),
            "%" => arith(match (b, signed) {
                (0, _) => a,
                (_, true) => (a as i64).wrapping_rem(b as i64) as u64,
                (_, false) => a % b,
            }),
            "&" => arith(a & b),
            "|" => arith(a | b),
            "^" => arith(a ^ b),
            "<<" => arith(a << (b & 63)),
            ">>" => arith(if lv.ty.signed {
                ((a as i64) >> (b & 63)) as u64
            } else {
                a >> (b & 63)
            }),
            "==" => boolean(a == b),
            "!=" => boolean(a != b),
            "<" => cmp(|x, y| x < y),
            "<=" => cmp(|x, y| x <= y),
            ">" => cmp(|x, y| x > y),
            ">=" => cmp(|x, y| x >= y),
            "&&" => boolean(a != 0 && b != 0),
            _ => boolean(a != 0 || b != 0),
        };
        (format!("({l} {op} {r})"), v)
    }

    /// A `BEGIN` script mixing control flow, keyed maps, strings and tuples with integer
    /// expressions, and its expected output. The generator runs the script as it writes it.
    pub fn control_script(&mut self, statements: usize) -> (String, String) {
        self.vars.clear();
        self.maps.clear();
        let mut body = String::new();
        let mut out = String::new();
        for _ in 0..statements {
            self.control_statement(&mut body, &mut out);
        }
        (format!("BEGIN {{ {body}exit(); }}"), out)
    }

    /// A number for names no earlier statement used.
    fn fresh(&mut self) -> u64 {
        self.names += 1;
        self.names
    }

    fn print_int(&mut self, body: &mut String, out: &mut String, s: &str, v: Val) {
        let (conv, text) = if v.ty.signed {
            ("lld", (v.bits as i64).to_string())
        } else {
            ("llu", v.bits.to_string())
        };
        body.push_str(&format!("printf(\"%{conv}\\n\", {s}); "));
        out.push_str(&text);
        out.push('\n');
    }

    fn control_statement(&mut self, body: &mut String, out: &mut String) {
        const WORDS: &[&str] = &["", "a", "ab", "abc", "abd", "bee", "beetrace", "tracer"];
        match self.rng.below(6) {
            // if / else with a printf on each side
            0 => {
                let (c, cv) = self.expr(2);
                let (a, av) = self.expr(2);
                let (b, bv) = self.expr(2);
                let (mut then, mut els) = (String::new(), String::new());
                let (mut then_out, mut els_out) = (String::new(), String::new());
                self.print_int(&mut then, &mut then_out, &a, av);
                self.print_int(&mut els, &mut els_out, &b, bv);
                body.push_str(&format!("if ({c}) {{ {then}}} else {{ {els}}} "));
                out.push_str(if cv.bits != 0 { &then_out } else { &els_out });
            }
            // a bounded while loop accumulating an expression of the counter
            1 => {
                let n = self.rng.below(6);
                let k = self.rng.below(1000);
                let id = self.fresh();
                body.push_str(&format!(
                    "$w{id} = 0; $acc{id} = {k}; while ($w{id} < {n}) {{ $acc{id} = $acc{id} * 3 + $w{id}; $w{id}++; }} "
                ));
                let mut acc = k;
                for w in 0..n {
                    acc = acc.wrapping_mul(3).wrapping_add(w);
                }
                self.print_int(body, out, &format!("$acc{id}"), Val { bits: acc, ty: I64 });
            }
            // for over a range, summing squares
            2 => {
                let n = self.rng.below(8);
                let id = self.fresh();
                body.push_str(&format!(
                    "$sum{id} = 0; for ($i{id} : 0..{n}) {{ $sum{id} += $i{id} * $i{id}; }} "
                ));
                let sum: u64 = (0..n).map(|i| i * i).sum();
                self.print_int(body, out, &format!("$sum{id}"), Val { bits: sum, ty: I64 });
            }
            // keyed map: store under one key, read it and a missing one
            3 => {
                let (k, kv) = self.expr(1);
                let (v, vv) = self.expr(2);
                let id = self.fresh();
                body.push_str(&format!("@k{id}[{k}] = {v}; "));
                let stored = Val {
                    bits: vv.bits,
                    ty: Ty {
                        bytes: 8,
                        signed: vv.ty.signed,
                    },
                };
                self.print_int(body, out, &format!("@k{id}[{k}]"), stored);
                let other = kv.bits.wrapping_add(1);
                // A missing key reads as 0 (the map's value type).
                self.print_int(
                    body,
                    out,
                    &format!("@k{id}[{}]", other as i64),
                    Val {
                        bits: 0,
                        ty: stored.ty,
                    },
                );
            }
            // strings: equality, strncmp and strcontains
            4 => {
                // Now and then a long string, which moves the probe's buffers to per-CPU
                // scratch memory (the loops around must still verify).
                let long;
                let a = if self.rng.below(4) == 0 {
                    let (unit, tail) = (*self.rng.pick(WORDS), *self.rng.pick(WORDS));
                    long = unit.repeat(80) + tail;
                    long.as_str()
                } else {
                    *self.rng.pick(WORDS)
                };
                let b = *self.rng.pick(WORDS);
                let n = self.rng.below(5);
                let id = self.fresh();
                body.push_str(&format!("$s{id} = \"{a}\"; "));
                self.print_int(body, out, &format!("$s{id} == \"{b}\""), boolean(a == b));
                let prefix = |s: &str| {
                    s.bytes()
                        .chain(std::iter::repeat(0))
                        .take(n as usize)
                        .collect::<Vec<u8>>()
                };
                self.print_int(
                    body,
                    out,
                    &format!("strncmp($s{id}, \"{b}\", {n}) == 0"),
                    boolean(prefix(a) == prefix(b)),
                );
                // Both directions: a literal needle in a variable, and a variable needle.
                self.print_int(
                    body,
                    out,
                    &format!("strcontains($s{id}, \"{b}\")"),
                    boolean(a.contains(b)),
                );
                self.print_int(
                    body,
                    out,
                    &format!("strcontains(\"{b}\", $s{id})"),
                    boolean(b.contains(a)),
                );
            }
            // tuples: build one and read its fields back
            _ => {
                let (a, av) = self.expr(2);
                let word = *self.rng.pick(WORDS);
                let id = self.fresh();
                body.push_str(&format!("$t{id} = ({a}, \"{word}\"); "));
                let field = Val {
                    bits: av.bits,
                    ty: Ty {
                        bytes: 8,
                        signed: av.ty.signed,
                    },
                };
                self.print_int(body, out, &format!("$t{id}.0"), field);
                self.print_int(body, out, &format!("$t{id}.1 == \"{word}\""), boolean(true));
            }
        }
    }

    /// A `BEGIN` script of variable and map assignments and printfs, and its expected
    /// output.
    pub fn script(&mut self, lines: usize) -> (String, String) {
        self.vars.clear();
        self.maps.clear();
        let mut body = String::new();
        let mut expected = String::new();
        for _ in 0..lines {
            let depth = 1 + self.rng.below(3) as u32;
            let (s, v) = self.expr(depth);
            match self.rng.below(5) {
                0 if self.vars.len() < 8 => {
                    body.push_str(&format!("$v{} = {s}; ", self.vars.len()));
                    self.vars.push(v);
                }
                1 if self.maps.len() < 4 => {
                    body.push_str(&format!("@m{} = {s}; ", self.maps.len()));
                    // Map values are stored as 64-bit integers of the same signedness.
                    self.maps.push(Val {
                        bits: v.bits,
                        ty: Ty {
                            bytes: 8,
                            signed: v.ty.signed,
                        },
                    });
                }
                _ => {
                    let (conv, text) = if v.ty.signed {
                        ("lld", (v.bits as i64).to_string())
                    } else {
                        ("llu", v.bits.to_string())
                    };
                    body.push_str(&format!("printf(\"%{conv}\\n\", {s}); "));
                    expected.push_str(&text);
                    expected.push('\n');
                }
            }
        }
        (format!("BEGIN {{ {body}exit(); }}"), expected)
    }
}
