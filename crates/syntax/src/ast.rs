//! The syntax tree of a bpftrace script, as written: nothing here is resolved or typed.
//!
//! Every node carries the [`Span`] of its source text. Names keep their sigils out: `$x` is
//! `Var("x")`, `@m` is `Map { name: "m" }` and the anonymous map `@` has the empty name.

use crate::Span;

/// A whole script: top-level items in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `#include <...>` or `#define ...`: kept as text, one line each.
    Preprocessor(Preprocessor),
    /// `struct S { ... }`, `union U { ... }`, `enum E { ... }` at the top: kept as text.
    CDefinition(CDefinition),
    /// `config = { key = value; ... }`
    Config(ConfigBlock),
    /// `import "path";`
    Import(Import),
    /// `let @name = hash(100);`
    MapDecl(MapDecl),
    /// `macro name(params) { body }`
    Macro(MacroDef),
    /// `probe, probe /predicate/ { body }`
    Probe(Probe),
}

impl Item {
    /// Where the item is in the source.
    pub fn span(&self) -> Span {
        match self {
            Item::Preprocessor(x) => x.span,
            Item::CDefinition(x) => x.span,
            Item::Config(x) => x.span,
            Item::Import(x) => x.span,
            Item::MapDecl(x) => x.span,
            Item::Macro(x) => x.span,
            Item::Probe(x) => x.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessor {
    pub kind: PreprocessorKind,
    /// The text after the directive name, trimmed: `<linux/sched.h>` or `RED "\033[31m"`.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreprocessorKind {
    Include,
    Define,
    /// Any other `#word` line.
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CDefinition {
    /// The full source text of the definition, including the trailing `;` if any.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigBlock {
    pub entries: Vec<ConfigEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigEntry {
    pub key: String,
    pub key_span: Span,
    pub value: ConfigValue,
    pub value_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    /// A bare word such as `perf` in `stack_mode = perf`, or `true`/`false`.
    Ident(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapDecl {
    /// Without the `@`; empty for `@`.
    pub name: String,
    pub name_span: Span,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`, ... (checked by sema).
    pub kind: String,
    pub kind_span: Span,
    pub args: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    pub name: String,
    pub name_span: Span,
    pub params: Vec<MacroParam>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MacroParam {
    pub kind: MacroParamKind,
    /// Without sigil.
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroParamKind {
    /// `$a`: the caller passes a scratch variable.
    Var,
    /// `@a`: the caller passes a map.
    Map,
    /// `a`: the caller passes any expression, substituted where `a` is used.
    Expr,
}

/// One action block: its attach points, optional predicate and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

/// One attach point as written, e.g. `tracepoint:syscalls:sys_enter_*`, `BEGIN`,
/// `uprobe:/bin/bash:readline`, `interval:s:1`, `kprobe:vfs_read+0x10`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttachPoint {
    /// The exact source text (quotes around quoted parts removed), without any `name=` prefix.
    pub text: String,
    /// The optional `name=` prefix (reserved by bpftrace).
    pub label: Option<String>,
    pub span: Span,
}

impl AttachPoint {
    /// The provider (the text before the first `:`), e.g. `tracepoint`, `t`, `BEGIN`.
    pub fn provider(&self) -> &str {
        self.text.split(':').next().unwrap_or("")
    }

    /// The `:`-separated parts after the provider. A uprobe path keeps its `/` characters.
    pub fn parts(&self) -> Vec<&str> {
        self.text.split(':').skip(1).collect()
    }
}

/// A `{ ... }` block. Its value (as a block expression) is `value`, the final expression
/// written without a trailing `;`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub value: Option<Box<Expr>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect: `printf(...)`, `@x++`, `exit()`.
    Expr(Expr),
    /// `let $x;`, `let $x: uint32 = 1;`
    Let {
        var: String,
        var_span: Span,
        ty: Option<TypeExpr>,
        init: Option<Expr>,
    },
    /// `target = value` or `target op= value`. `target` is a `Var`, `Map` or field/index of one.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    /// `_ = expr;`: evaluate, silence the unused-value warning.
    Discard(Expr),
    If {
        cond: Expr,
        then: Block,
        /// `else { ... }`; an `else if` is an else block holding a single `If` statement.
        els: Option<Block>,
    },
    Unroll {
        count: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    For {
        var: String,
        var_span: Span,
        iter: ForIter,
        body: Block,
    },
    Return(Option<Expr>),
    Break,
    Continue,
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ForIter {
    /// `for ($kv : @map)`; the expression is a `Map` with no keys.
    Map(Expr),
    /// `for ($i : start..end)`, end exclusive.
    Range(Expr, Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal; duration suffixes are already converted to nanoseconds and
    /// scientific notation expanded. `negative` literals come through `Unary(Neg)`.
    Int(u64),
    /// A string literal with escapes decoded (may hold any bytes).
    Str(Vec<u8>),
    Bool(bool),
    /// `$name`
    Var(String),
    /// `$1`, `$2`, ...
    Positional(u32),
    /// `$#`
    PositionalCount,
    /// `@name` or `@name[k1, k2]`; `keys` is empty for a scalar map.
    Map {
        name: String,
        keys: Vec<Expr>,
    },
    /// A bare identifier: builtin (`pid`, `comm`, `args`, `arg0`, `probe`), macro without
    /// arguments, or enum value. Resolved by sema.
    Ident(String),
    /// `name(args)` or `name!(args)` (`bang`: explicit macro call).
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
        bang: bool,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    /// `++x`, `x++`, `--x`, `x--`
    IncDec {
        increment: bool,
        prefix: bool,
        target: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    Cast {
        ty: TypeExpr,
        expr: Box<Expr>,
    },
    /// `base.name` or `base->name`; tuple fields are `base.0` with `name == "0"`.
    Field {
        base: Box<Expr>,
        name: String,
        name_span: Span,
        arrow: bool,
    },
    /// `base[index]`
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `(a, b)`, `(a,)`, `()`
    Tuple(Vec<Expr>),
    /// `(name = a, other = b)`
    Record(Vec<(String, Expr)>),
    /// `{ stmts; value }` used as a value.
    Block(Block),
    /// `sizeof(T or expr)`
    Sizeof(Box<TypeOrExpr>),
    /// `offsetof(T or expr, field.field)`
    Offsetof {
        of: Box<TypeOrExpr>,
        fields: Vec<String>,
    },
    /// `typeof(T or expr)` where a type is expected is a `TypeKind::Typeof`; as an
    /// expression (e.g. a macro argument) it appears here.
    Typeof(Box<TypeOrExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeOrExpr {
    Type(TypeExpr),
    Expr(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
    /// `*x`
    Deref,
    /// `&x`
    AddrOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            And => "&&",
            Or => "||",
        }
    }
}

/// A type as written in a cast, `let` annotation or `sizeof`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `uint32`, `int64`, `string`, `bool`, `uint64_t`, or a typedef name.
    Named(String),
    /// `struct task_struct`, `union u`, `enum e`
    Struct {
        keyword: StructKeyword,
        name: String,
    },
    /// `T*`
    Pointer(Box<TypeExpr>),
    /// `T[N]` or `T[]` (length inferred). For `string`/`buffer`/`inet`, `[N]` is a size.
    Array(Box<TypeExpr>, Option<u64>),
    /// `typeof(expr or type)`
    Typeof(Box<TypeOrExpr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructKeyword {
    Struct,
    Union,
    Enum,
}
