//! The value types of the language as far as codegen and output formatting need them.

use std::fmt;

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

    /// Values kept in a buffer rather than a register: strings and cgroup paths.
    pub fn is_buffer(self) -> bool {
        matches!(self, Type::Str { .. } | Type::CgroupPath)
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    /// Bytes the value occupies in an event record or on the stack.
    pub fn size(self) -> u32 {
        match self {
            Type::None => 0,
            Type::CgroupPath => 16,
            Type::Int { bytes, .. } => bytes as u32,
            Type::Bool => 1,
            Type::Str { len } => len,
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

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::None => write!(f, "none"),
            Type::CgroupPath => write!(f, "cgroup_path_t"),
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
        }
    }
}
