//! The value types of the language as far as codegen and output formatting need them.

use std::fmt;
use std::sync::Mutex;

use kernel::btf::TypeRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// Statements and calls without a value (`printf`, `exit`).
    None,
    Int {
        bytes: u8,
        signed: bool,
    },
    Bool,
    /// A NUL-padded string buffer of `len` bytes.
    Str {
        len: u32,
    },
    /// `cgroup_path(id[, filter])`: 16 bytes, the cgroup id and the index of its filter in
    /// `Analysis::cgroup_filters`. User space turns it into the path when printing, so equal
    /// (id, filter) pairs are equal map keys wherever they were made.
    CgroupPath,
    /// `(a, b, ...)` or the record `(name = a, other = b)`: elements at 8-byte aligned
    /// offsets in one buffer.
    Tuple(&'static TupleType),
    /// `ntop()`: an address family (u64, `AF_INET` or `AF_INET6`) and 16 address bytes,
    /// formatted as text by user space.
    Inet,
    /// A pointer into kernel memory to a value of BTF type `to`: an 8-byte unsigned integer
    /// to arithmetic and output, the base of `->` and `*` to the checker.
    Ptr {
        to: TypeRef,
    },
    /// A struct, union or (non-string) array of BTF type `ty` in kernel memory. Programs
    /// never hold one: an expression of this type evaluates to the object's address, the
    /// base for `.member` and `[index]`.
    Object {
        ty: TypeRef,
    },
    /// `kstack`/`ustack`: the id `bpf_get_stackid` returned (negative on failure), and for
    /// user stacks the pid whose address space the frames belong to. User space reads the
    /// frames from the stack-trace map and turns them into text (see `sema::stacks`).
    Stack(StackType),
    /// `ksym(addr)`: a kernel address, named from /proc/kallsyms when printed.
    Ksym,
    /// `usym(addr)`: a user address and the pid it belongs to, named when printed.
    Usym,
}

/// How a stack is printed (bpftrace's stack modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackMode {
    /// One frame a line, `symbol+offset`, indented by 8 spaces.
    Bpftrace,
    /// `\taddress symbol+offset (module)`, as `perf script` prints frames.
    Perf,
    /// Bare hexadecimal addresses.
    Raw,
    /// User stacks recorded with `BPF_F_STACK_BUILD_ID`: `build-id 0xfile-offset` a frame,
    /// symbolised later (`beetrace symbolize`), even on another machine.
    BuildId,
}

impl StackMode {
    pub fn from_name(name: &str) -> Option<StackMode> {
        Some(match name {
            "bpftrace" => StackMode::Bpftrace,
            "perf" => StackMode::Perf,
            "raw" => StackMode::Raw,
            "build_id" => StackMode::BuildId,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            StackMode::Bpftrace => "bpftrace",
            StackMode::Perf => "perf",
            StackMode::Raw => "raw",
            StackMode::BuildId => "build_id",
        }
    }
}

/// What one `kstack`/`ustack` expression records and how it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackType {
    /// `ustack` (user space frames) rather than `kstack`.
    pub user: bool,
    pub mode: StackMode,
    /// Frames kept (the stack map's depth).
    pub limit: u8,
}

impl StackType {
    /// The stack-trace map this stack is recorded in: stacks of the same side, depth and
    /// build-id choice share one.
    pub fn map(self) -> StackMap {
        StackMap {
            user: self.user,
            build_id: self.mode == StackMode::BuildId,
            limit: self.limit,
        }
    }
}

/// One `BPF_MAP_TYPE_STACK_TRACE` map of a script (`Analysis::stack_maps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackMap {
    pub user: bool,
    /// Created with `BPF_F_STACK_BUILD_ID`: frames are (build id, file offset) records.
    pub build_id: bool,
    pub limit: u8,
}

impl StackMap {
    /// Bytes of one frame in the map's value: an address, or a `struct bpf_stack_build_id`.
    pub fn frame_size(self) -> u32 {
        if self.build_id {
            32
        } else {
            8
        }
    }
}

/// The layout of a tuple type. Interned (see [`TupleType::intern`]) so that [`Type`] stays
/// `Copy` and structurally equal tuples are one type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TupleType {
    pub fields: Vec<Type>,
    /// The field names of a record; empty for a tuple.
    pub names: Vec<String>,
    /// Byte offset of each field.
    pub offsets: Vec<u32>,
    pub size: u32,
}

impl TupleType {
    /// The tuple of `fields`, laid out and interned. A compilation makes a handful of tuple
    /// types; they live as long as the process.
    pub fn intern(fields: Vec<Type>) -> &'static TupleType {
        TupleType::intern_record(fields, Vec::new())
    }

    /// The record with these field names (in this order), laid out and interned.
    pub fn intern_record(fields: Vec<Type>, names: Vec<String>) -> &'static TupleType {
        static TABLE: Mutex<Vec<&'static TupleType>> = Mutex::new(Vec::new());
        let mut table = TABLE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(t) = table
            .iter()
            .find(|t| t.fields == fields && t.names == names)
        {
            return t;
        }
        let mut offsets = Vec::with_capacity(fields.len());
        let mut size = 0;
        for field in &fields {
            offsets.push(size);
            size += field.size().div_ceil(8) * 8;
        }
        let tuple: &'static TupleType = Box::leak(Box::new(TupleType {
            fields,
            names,
            offsets,
            size,
        }));
        table.push(tuple);
        tuple
    }
}

impl Type {
    pub const I64: Type = Type::Int {
        bytes: 8,
        signed: true,
    };
    pub const U64: Type = Type::Int {
        bytes: 8,
        signed: false,
    };
    pub const U32: Type = Type::Int {
        bytes: 4,
        signed: false,
    };

    /// Values kept in a buffer rather than a register: strings, cgroup paths and tuples.
    pub fn is_buffer(self) -> bool {
        matches!(
            self,
            Type::Str { .. }
                | Type::CgroupPath
                | Type::Tuple(_)
                | Type::Inet
                | Type::Stack(_)
                | Type::Ksym
                | Type::Usym
        )
    }

    /// Values only the run that made them can turn into text: they name kernel objects
    /// (cgroups, stack-trace map entries) or need the process's memory map (user symbols).
    pub fn resolved_at_run_time(self) -> bool {
        matches!(
            self,
            Type::CgroupPath | Type::Stack(_) | Type::Ksym | Type::Usym
        )
    }

    /// Integers, bools and pointers: values held in a register.
    pub fn is_integer(self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool | Type::Ptr { .. })
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    /// Bytes the value occupies in an event record or on the stack.
    pub fn size(self) -> u32 {
        match self {
            Type::None => 0,
            Type::CgroupPath => 16,
            Type::Inet => 24,
            Type::Int { bytes, .. } => bytes as u32,
            Type::Bool => 1,
            Type::Str { len } => len,
            Type::Tuple(t) => t.size,
            Type::Ptr { .. } | Type::Object { .. } => 8,
            Type::Stack(st) => {
                if st.user {
                    16
                } else {
                    8
                }
            }
            Type::Ksym => 8,
            Type::Usym => 16,
        }
    }

    /// The type that holds values of both `a` and `b` (two assignments to one variable or
    /// map): strings grow to the longer one, integers keep the first type, tuples merge
    /// field by field as long as every field keeps its place. `None` if they cannot share.
    pub fn unify(a: Type, b: Type) -> Option<Type> {
        match (a, b) {
            (Type::Str { len: x }, Type::Str { len: y }) => Some(Type::Str { len: x.max(y) }),
            (Type::CgroupPath, Type::CgroupPath) => Some(Type::CgroupPath),
            (Type::Inet, Type::Inet) => Some(Type::Inet),
            (Type::Ksym, Type::Ksym) => Some(Type::Ksym),
            (Type::Usym, Type::Usym) => Some(Type::Usym),
            (Type::Stack(x), Type::Stack(y)) if x == y => Some(a),
            (x, y) if x.is_integer() && y.is_integer() => Some(x),
            (Type::Tuple(x), Type::Tuple(y)) if x == y => Some(a),
            (Type::Tuple(x), Type::Tuple(y))
                if x.offsets == y.offsets && x.size == y.size && x.names == y.names =>
            {
                let fields = x
                    .fields
                    .iter()
                    .zip(&y.fields)
                    .map(|(&f, &g)| Type::unify(f, g))
                    .collect::<Option<Vec<Type>>>()?;
                let merged = TupleType::intern_record(fields, x.names.clone());
                (merged.offsets == x.offsets).then_some(Type::Tuple(merged))
            }
            _ => None,
        }
    }

    /// The type both operands of an arithmetic operation are converted to: the wider size,
    /// unsigned only if both are unsigned (bpftrace's rule, simplified to 64-bit math).
    pub fn promote(a: Type, b: Type) -> Type {
        let signed = a.is_signed() || b.is_signed();
        let _ = (a, b);
        Type::Int { bytes: 8, signed }
    }

    /// The integer type named in a cast or annotation.
    pub fn from_name(name: &str) -> Option<Type> {
        let (bytes, signed) = match name {
            "int8" | "int8_t" | "s8" | "char" => (1, true),
            "uint8" | "uint8_t" | "u8" | "unsigned char" => (1, false),
            "int16" | "int16_t" | "s16" | "short" => (2, true),
            "uint16" | "uint16_t" | "u16" => (2, false),
            "int32" | "int32_t" | "s32" | "int" => (4, true),
            "uint32" | "uint32_t" | "u32" | "unsigned int" => (4, false),
            "int64" | "int64_t" | "s64" | "long" => (8, true),
            "uint64" | "uint64_t" | "u64" | "unsigned long" => (8, false),
            "bool" => return Some(Type::Bool),
            _ => return None,
        };
        Some(Type::Int { bytes, signed })
    }
}

impl Type {
    /// The type in words, as messages and editors show it: kernel pointers and structs by
    /// their C spelling when the kernel's BTF is at hand.
    pub fn spell(self, btf: Option<&kernel::btf::KernelBtf>) -> String {
        match (self, btf) {
            (Type::Ptr { to }, Some(btf)) => {
                let s = btf.c_spelling(to);
                if s.ends_with('*') {
                    format!("{s}*")
                } else {
                    format!("{s} *")
                }
            }
            (Type::Object { ty }, Some(btf)) => btf.c_spelling(ty),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::None => write!(f, "none"),
            Type::CgroupPath => write!(f, "cgroup_path_t"),
            Type::Inet => write!(f, "inet"),
            Type::Int { bytes, signed } => {
                write!(
                    f,
                    "{}int{}",
                    if *signed { "" } else { "u" },
                    *bytes as u32 * 8
                )
            }
            Type::Bool => write!(f, "bool"),
            Type::Str { len } => write!(f, "string[{len}]"),
            Type::Tuple(t) => {
                write!(f, "(")?;
                for (i, field) in t.fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    match t.names.get(i) {
                        Some(name) => write!(f, "{name}={field}")?,
                        None => write!(f, "{field}")?,
                    }
                }
                write!(f, ")")
            }
            // The C spelling needs the BTF; the checker has it and spells these itself.
            Type::Ptr { .. } => write!(f, "pointer"),
            Type::Object { .. } => write!(f, "struct"),
            Type::Stack(st) => write!(
                f,
                "{}stack({}, {})",
                if st.user { "u" } else { "k" },
                st.mode.name(),
                st.limit
            ),
            Type::Ksym => write!(f, "ksym_t"),
            Type::Usym => write!(f, "usym_t"),
        }
    }
}
