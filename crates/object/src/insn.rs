//! BPF instructions as typed values, and their 8-byte encoding.
//!
//! Codegen produces [`Insn`]s; the encoder turns them into kernel bytes, and the decoder turns
//! bytes (ours or any clang-built object's) back into the same type for disassembly.

use std::fmt;

/// One of the eleven BPF registers. `R10` is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    pub const FP: Reg = Reg(10);
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The second operand of ALU and jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Reg(Reg),
    Imm(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    W32,
    W64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    Or,
    And,
    Lsh,
    Rsh,
    Neg,
    Mod,
    Xor,
    Mov,
    Arsh,
    /// Signed division and modulo (`off == 1` in the encoding, kernel ≥ 6.6).
    SDiv,
    SMod,
}

/// Each ALU operation and its encoding: the opcode bits and the `off` field (1 selects the
/// signed forms of division and modulo). One table serves the encoder and the decoder.
const ALU_OPS: [(AluOp, u8, i16); 15] = [
    (AluOp::Add, 0x00, 0),
    (AluOp::Sub, 0x10, 0),
    (AluOp::Mul, 0x20, 0),
    (AluOp::Div, 0x30, 0),
    (AluOp::SDiv, 0x30, 1),
    (AluOp::Or, 0x40, 0),
    (AluOp::And, 0x50, 0),
    (AluOp::Lsh, 0x60, 0),
    (AluOp::Rsh, 0x70, 0),
    (AluOp::Neg, 0x80, 0),
    (AluOp::Mod, 0x90, 0),
    (AluOp::SMod, 0x90, 1),
    (AluOp::Xor, 0xa0, 0),
    (AluOp::Mov, 0xb0, 0),
    (AluOp::Arsh, 0xc0, 0),
];

impl AluOp {
    fn code(self) -> (u8, i16) {
        let &(_, code, off) = ALU_OPS
            .iter()
            .find(|(op, _, _)| *op == self)
            .expect("every ALU operation is in the table");
        (code, off)
    }

    /// The operation for opcode bits `code`; `off` only matters where it selects a signed
    /// form, any other value decodes as the plain operation.
    fn from_code(code: u8, off: i16) -> Option<AluOp> {
        let find = |off| ALU_OPS.iter().find(|(_, c, o)| *c == code && *o == off);
        find(off).or_else(|| find(0)).map(|&(op, _, _)| op)
    }

    /// The C-like operator used by the conventional assembly syntax.
    pub fn symbol(self) -> &'static str {
        use AluOp::*;
        match self {
            Add => "+=",
            Sub => "-=",
            Mul => "*=",
            Div => "/=",
            SDiv => "s/=",
            Or => "|=",
            And => "&=",
            Lsh => "<<=",
            Rsh => ">>=",
            Neg => "= -",
            Mod => "%=",
            SMod => "s%=",
            Xor => "^=",
            Mov => "=",
            Arsh => "s>>=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The size that loads/stores exactly `bytes` (1, 2, 4 or 8).
    pub fn of_bytes(bytes: usize) -> Option<Size> {
        Some(match bytes {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            8 => Size::DW,
            _ => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }

    fn from_code(code: u8) -> Size {
        match code & 0x18 {
            0x00 => Size::W,
            0x08 => Size::H,
            0x10 => Size::B,
            _ => Size::DW,
        }
    }

    pub fn c_type(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JmpOp {
    Ja,
    Jeq,
    Jgt,
    Jge,
    Jset,
    Jne,
    Jsgt,
    Jsge,
    Jlt,
    Jle,
    Jslt,
    Jsle,
}

/// Each jump condition and its opcode bits: one table for the encoder and the decoder.
const JMP_OPS: [(JmpOp, u8); 12] = [
    (JmpOp::Ja, 0x00),
    (JmpOp::Jeq, 0x10),
    (JmpOp::Jgt, 0x20),
    (JmpOp::Jge, 0x30),
    (JmpOp::Jset, 0x40),
    (JmpOp::Jne, 0x50),
    (JmpOp::Jsgt, 0x60),
    (JmpOp::Jsge, 0x70),
    (JmpOp::Jlt, 0xa0),
    (JmpOp::Jle, 0xb0),
    (JmpOp::Jslt, 0xc0),
    (JmpOp::Jsle, 0xd0),
];

impl JmpOp {
    fn code(self) -> u8 {
        JMP_OPS
            .iter()
            .find(|(op, _)| *op == self)
            .map(|&(_, code)| code)
            .expect("every jump condition is in the table")
    }

    fn from_code(code: u8) -> Option<JmpOp> {
        JMP_OPS.iter().find(|(_, c)| *c == code).map(|&(op, _)| op)
    }

    pub fn symbol(self) -> &'static str {
        use JmpOp::*;
        match self {
            Ja => "goto",
            Jeq => "==",
            Jgt => ">",
            Jge => ">=",
            Jset => "&",
            Jne => "!=",
            Jsgt => "s>",
            Jsge => "s>=",
            Jlt => "<",
            Jle => "<=",
            Jslt => "s<",
            Jsle => "s<=",
        }
    }

    /// The condition that holds exactly when `self` does not.
    pub fn negate(self) -> JmpOp {
        use JmpOp::*;
        match self {
            Jeq => Jne,
            Jne => Jeq,
            Jgt => Jle,
            Jle => Jgt,
            Jge => Jlt,
            Jlt => Jge,
            Jsgt => Jsle,
            Jsle => Jsgt,
            Jsge => Jslt,
            Jslt => Jsge,
            Ja | Jset => self,
        }
    }
}

/// The read-modify-write operations of `BPF_ATOMIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    /// Always fetches.
    Xchg,
    /// Compares with r0, always fetches into r0.
    Cmpxchg,
}

/// A function of the object's `.text` called from a program: the index into
/// `ObjectFile::functions`. The ELF writer emits an `R_BPF_64_32` relocation; loaders append
/// the function to each program that calls it and fix the call's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncRef(pub u32);

/// A map referenced by an `ld_imm64`: the index into the object's map list. The ELF writer
/// turns it into an `R_BPF_64_64` relocation against the map's symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapRef(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    Alu {
        op: AluOp,
        width: Width,
        dst: Reg,
        src: Src,
    },
    /// Byte swap: `to_be` converts to big endian (`be16/32/64`), otherwise little endian.
    Endian {
        dst: Reg,
        bits: u8,
        to_be: bool,
    },
    /// `dst = imm ll`, two slots.
    LdImm64 {
        dst: Reg,
        imm: i64,
    },
    /// `dst = map ll`, two slots, relocated against the map.
    LdMap {
        dst: Reg,
        map: MapRef,
    },
    /// `dst = &value[0] + off ll` of a one-entry array map (`BPF_PSEUDO_MAP_VALUE`): direct
    /// access to a map value without a lookup call. In an object file the map is a data
    /// section (`.bss`), as libbpf expects.
    LdMapValue {
        dst: Reg,
        map: MapRef,
        off: i32,
    },
    /// `dst = &variable ll` for a kernel variable that vmlinux BTF describes (`VAR` record
    /// `btf_id`): `ld_imm64` with `BPF_PSEUDO_BTF_ID`, two slots. The verifier types the
    /// register from BTF; a per-CPU variable must then go through `bpf_this_cpu_ptr` or
    /// `bpf_per_cpu_ptr`.
    LdBtfVar {
        dst: Reg,
        btf_id: u32,
    },
    /// `dst = *(size *)(src + off)`
    Load {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = src`
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        src: Src,
    },
    Atomic {
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: Reg,
        off: i16,
        src: Reg,
    },
    /// Conditional or unconditional jump by `off` slots from the next instruction.
    Jump {
        op: JmpOp,
        width: Width,
        dst: Reg,
        src: Src,
        off: i16,
    },
    /// Helper call by number.
    Call {
        helper: i32,
    },
    /// BPF-to-BPF call, `off` slots relative to the next instruction.
    CallLocal {
        off: i32,
    },
    /// BPF-to-BPF call of an object function, resolved when the program is linked.
    CallFunc {
        func: FuncRef,
    },
    /// `dst = &function` for helpers that take a callback (`bpf_for_each_map_elem`); two
    /// slots, resolved when the program is linked.
    LdFunc {
        dst: Reg,
        func: FuncRef,
    },
    /// The linked form of `LdFunc`: `ld_imm64` with `BPF_PSEUDO_FUNC`, `off` slots from the
    /// next instruction.
    LdFuncPc {
        dst: Reg,
        off: i32,
    },
    Exit,
}

/// The `src_reg` of an `ld_imm64` whose immediate is a kernel BTF id (`BPF_PSEUDO_BTF_ID`).
pub const PSEUDO_BTF_ID: u8 = 3;

impl Insn {
    /// How many 8-byte slots the instruction takes.
    pub fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. }
            | Insn::LdMap { .. }
            | Insn::LdMapValue { .. }
            | Insn::LdBtfVar { .. }
            | Insn::LdFunc { .. }
            | Insn::LdFuncPc { .. } => 2,
            _ => 1,
        }
    }

    pub fn mov64(dst: Reg, src: Reg) -> Insn {
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst,
            src: Src::Reg(src),
        }
    }

    pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            op: AluOp::Mov,
            width: Width::W64,
            dst,
            src: Src::Imm(imm),
        }
    }

    pub fn alu64(op: AluOp, dst: Reg, src: Src) -> Insn {
        Insn::Alu {
            op,
            width: Width::W64,
            dst,
            src,
        }
    }

    /// Appends the encoding; map references get a zero immediate (filled by relocation).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut raw = |code: u8, dst: Reg, src: u8, off: i16, imm: i32| {
            out.push(code);
            out.push((src << 4) | (dst.0 & 0x0f));
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&imm.to_le_bytes());
        };
        match *self {
            Insn::Alu {
                op,
                width,
                dst,
                src,
            } => {
                let class = match width {
                    Width::W32 => 0x04,
                    Width::W64 => 0x07,
                };
                let (opcode, off) = op.code();
                match src {
                    Src::Imm(imm) => raw(class | opcode, dst, 0, off, imm),
                    Src::Reg(r) => raw(class | opcode | 0x08, dst, r.0, off, 0),
                }
            }
            Insn::Endian { dst, bits, to_be } => {
                let source = if to_be { 0x08 } else { 0x00 };
                raw(0x04 | 0xd0 | source, dst, 0, 0, bits as i32)
            }
            Insn::LdImm64 { dst, imm } => {
                raw(0x18, dst, 0, 0, imm as i32);
                raw(0, Reg(0), 0, 0, (imm >> 32) as i32);
            }
            // As clang emits the address of a global function: imm 0 plus a relocation.
            Insn::LdFunc { dst, .. } => {
                raw(0x18, dst, 4, 0, 0);
                raw(0, Reg(0), 0, 0, 0);
            }
            Insn::LdFuncPc { dst, off } => {
                raw(0x18, dst, 4, 0, off);
                raw(0, Reg(0), 0, 0, 0);
            }
            // BPF_PSEUDO_BTF_ID; a second immediate of 0 means vmlinux (not a module's BTF).
            Insn::LdBtfVar { dst, btf_id } => {
                raw(0x18, dst, PSEUDO_BTF_ID, 0, btf_id as i32);
                raw(0, Reg(0), 0, 0, 0);
            }
            Insn::LdMap { dst, .. } => {
                // BPF_PSEUDO_MAP_FD; the loader puts the map fd in the immediate.
                raw(0x18, dst, 1, 0, 0);
                raw(0, Reg(0), 0, 0, 0);
            }
            Insn::LdMapValue { dst, off, .. } => {
                // BPF_PSEUDO_MAP_VALUE: the map fd (put there by the loader), then the offset
                // into the value.
                raw(0x18, dst, 2, 0, 0);
                raw(0, Reg(0), 0, 0, off);
            }
            Insn::Load {
                size,
                dst,
                src,
                off,
            } => raw(0x61 | size.code(), dst, src.0, off, 0),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => match src {
                Src::Reg(r) => raw(0x63 | size.code(), dst, r.0, off, 0),
                Src::Imm(imm) => raw(0x62 | size.code(), dst, 0, off, imm),
            },
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                off,
                src,
            } => {
                let fetch_bit = 0x01;
                let imm = match op {
                    AtomicOp::Add => 0x00,
                    AtomicOp::Or => 0x40,
                    AtomicOp::And => 0x50,
                    AtomicOp::Xor => 0xa0,
                    AtomicOp::Xchg => 0xe0 | fetch_bit,
                    AtomicOp::Cmpxchg => 0xf0 | fetch_bit,
                } | if fetch { fetch_bit } else { 0 };
                raw(0xc3 | size.code(), dst, src.0, off, imm)
            }
            Insn::Jump {
                op,
                width,
                dst,
                src,
                off,
            } => {
                let class = match width {
                    Width::W64 => 0x05,
                    Width::W32 => 0x06,
                };
                match src {
                    Src::Imm(imm) => raw(class | op.code(), dst, 0, off, imm),
                    Src::Reg(r) => raw(class | op.code() | 0x08, dst, r.0, off, 0),
                }
            }
            Insn::Call { helper } => raw(0x85, Reg(0), 0, 0, helper),
            Insn::CallLocal { off } => raw(0x85, Reg(0), 1, 0, off),
            // As clang emits a call to a global function: imm -1 plus a relocation.
            Insn::CallFunc { .. } => raw(0x85, Reg(0), 1, 0, -1),
            Insn::Exit => raw(0x95, Reg(0), 0, 0, 0),
        }
    }
}

/// Why bytes could not be decoded into instructions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("program length {0} is not a multiple of 8 bytes")]
    Length(usize),
    #[error("instruction {index}: unknown opcode {opcode:#04x}")]
    Opcode { index: usize, opcode: u8 },
    #[error("instruction {index}: ld_imm64 is missing its second half")]
    Truncated { index: usize },
}

/// A decoded instruction with where it sits, in slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub slot: usize,
    pub insn: Insn,
    /// The source register nibble of an `ld_imm64` (1 = map fd, 2 = map value, ...) and its
    /// raw immediate, needed to name pseudo loads in foreign objects.
    pub pseudo: Option<(u8, i64)>,
}

/// Decodes a program's bytes. Map loads decode as `LdMap`/`LdMapValue` with the map index
/// unknown (0); the disassembler names them from relocations.
pub fn decode(bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError::Length(bytes.len()));
    }
    let slot_at = |i: usize| -> (u8, u8, u8, i16, i32) {
        let b = &bytes[i * 8..i * 8 + 8];
        (
            b[0],
            b[1] & 0x0f,
            b[1] >> 4,
            i16::from_le_bytes([b[2], b[3]]),
            i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        )
    };
    let count = bytes.len() / 8;
    let mut out = Vec::with_capacity(count);
    let mut i = 0;
    while i < count {
        let (code, dst, src, off, imm) = slot_at(i);
        let dst = Reg(dst);
        let src_reg = Reg(src);
        let bad = DecodeError::Opcode {
            index: i,
            opcode: code,
        };
        let mut pseudo = None;
        let insn = match code & 0x07 {
            0x04 | 0x07 => {
                let width = if code & 0x07 == 0x07 {
                    Width::W64
                } else {
                    Width::W32
                };
                if code & 0xf0 == 0xd0 {
                    Insn::Endian {
                        dst,
                        bits: imm as u8,
                        to_be: code & 0x08 != 0,
                    }
                } else {
                    let op = AluOp::from_code(code & 0xf0, off).ok_or(bad)?;
                    let src = if code & 0x08 != 0 {
                        Src::Reg(src_reg)
                    } else {
                        Src::Imm(imm)
                    };
                    Insn::Alu {
                        op,
                        width,
                        dst,
                        src,
                    }
                }
            }
            0x00 => {
                if code != 0x18 {
                    return Err(bad);
                }
                if i + 1 >= count {
                    return Err(DecodeError::Truncated { index: i });
                }
                let (_, _, _, _, hi) = slot_at(i + 1);
                let value = (imm as u32 as i64) | ((hi as i64) << 32);
                if src == PSEUDO_BTF_ID && hi == 0 {
                    Insn::LdBtfVar {
                        dst,
                        btf_id: imm as u32,
                    }
                } else if src == 4 {
                    // BPF_PSEUDO_FUNC: a callback's address, `imm` slots from the next slot.
                    Insn::LdFuncPc { dst, off: imm }
                } else if src == 2 {
                    pseudo = Some((src, value));
                    Insn::LdMapValue {
                        dst,
                        map: MapRef(0),
                        off: hi,
                    }
                } else if src != 0 {
                    pseudo = Some((src, value));
                    Insn::LdMap {
                        dst,
                        map: MapRef(0),
                    }
                } else {
                    Insn::LdImm64 { dst, imm: value }
                }
            }
            0x01 => {
                if code & 0xe0 != 0x60 {
                    return Err(bad);
                }
                Insn::Load {
                    size: Size::from_code(code),
                    dst,
                    src: src_reg,
                    off,
                }
            }
            0x02 => Insn::Store {
                size: Size::from_code(code),
                dst,
                off,
                src: Src::Imm(imm),
            },
            0x03 => match code & 0xe0 {
                0x60 => Insn::Store {
                    size: Size::from_code(code),
                    dst,
                    off,
                    src: Src::Reg(src_reg),
                },
                0xc0 => {
                    let fetch = imm & 0x01 != 0;
                    let op = match imm & !0x01 {
                        0x00 => AtomicOp::Add,
                        0x40 => AtomicOp::Or,
                        0x50 => AtomicOp::And,
                        0xa0 => AtomicOp::Xor,
                        0xe0 => AtomicOp::Xchg,
                        0xf0 => AtomicOp::Cmpxchg,
                        _ => return Err(bad),
                    };
                    Insn::Atomic {
                        size: Size::from_code(code),
                        op,
                        fetch,
                        dst,
                        off,
                        src: src_reg,
                    }
                }
                _ => return Err(bad),
            },
            0x05 | 0x06 => {
                let width = if code & 0x07 == 0x05 {
                    Width::W64
                } else {
                    Width::W32
                };
                match code & 0xf0 {
                    0x80 if code == 0x85 => {
                        if src == 1 {
                            Insn::CallLocal { off: imm }
                        } else {
                            Insn::Call { helper: imm }
                        }
                    }
                    0x90 if code == 0x95 => Insn::Exit,
                    op => {
                        let op = JmpOp::from_code(op).ok_or(bad)?;
                        let src = if code & 0x08 != 0 {
                            Src::Reg(src_reg)
                        } else {
                            Src::Imm(imm)
                        };
                        // `gotol` (class JMP32, ja) keeps its offset in imm.
                        let off = if op == JmpOp::Ja && width == Width::W32 {
                            imm as i16
                        } else {
                            off
                        };
                        Insn::Jump {
                            op,
                            width,
                            dst,
                            src,
                            off,
                        }
                    }
                }
            }
            _ => return Err(bad),
        };
        out.push(Decoded {
            slot: i,
            insn,
            pseudo,
        });
        i += insn.slots();
    }
    Ok(out)
}

/// Encodes a whole program.
pub fn encode_all(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for insn in insns {
        insn.encode(&mut out);
    }
    out
}
