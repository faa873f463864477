//! Conventional BPF assembly text, as `llvm-objdump -d` prints it, with helper and map names
//! filled in so nobody needs a second tool to read what beetrace loads.

use crate::helpers::helper_name;
use crate::insn::{AluOp, AtomicOp, Decoded, Insn, JmpOp, Reg, Src, Width};

fn reg(r: Reg, width: Width) -> String {
    match width {
        Width::W64 => format!("r{}", r.0),
        Width::W32 => format!("w{}", r.0),
    }
}

fn src_text(src: Src, width: Width) -> String {
    match src {
        Src::Reg(r) => reg(r, width),
        Src::Imm(i) => i.to_string(),
    }
}

fn mem(base: Reg, off: i16) -> String {
    if off < 0 {
        format!("r{} - {}", base.0, -(off as i32))
    } else {
        format!("r{} + {}", base.0, off)
    }
}

/// The assembly text of one instruction. `map_name` names the map an `ld_imm64` at this slot
/// refers to (or the function a call names), when known.
pub fn insn_text(insn: &Insn, map_name: Option<&str>) -> String {
    match *insn {
        Insn::Alu {
            op: AluOp::Neg,
            width,
            dst,
            ..
        } => format!("{} = -{}", reg(dst, width), reg(dst, width)),
        Insn::Alu {
            op,
            width,
            dst,
            src,
        } => format!(
            "{} {} {}",
            reg(dst, width),
            op.symbol(),
            src_text(src, width)
        ),
        Insn::Endian { dst, bits, to_be } => {
            let kind = if to_be { "be" } else { "le" };
            format!("r{} = {kind}{bits} r{}", dst.0, dst.0)
        }
        Insn::LdImm64 { dst, imm } => format!("r{} = {imm} ll", dst.0),
        Insn::LdFunc { dst, func } => match map_name {
            Some(name) => format!("r{} = {name} ll", dst.0),
            None => format!("r{} = func#{} ll", dst.0, func.0),
        },
        Insn::LdFuncPc { dst, off } => match map_name {
            Some(name) => format!("r{} = {name} ll", dst.0),
            None => format!("r{} = pc{off:+} ll", dst.0),
        },
        Insn::LdBtfVar { dst, btf_id } => match map_name {
            Some(name) => format!("r{} = ksym[{name}] ll", dst.0),
            None => format!("r{} = ksym[btf_id:{btf_id}] ll", dst.0),
        },
        Insn::LdMap { dst, map } => match map_name {
            Some(name) => format!("r{} = map[{name}] ll", dst.0),
            None => format!("r{} = map[#{}] ll", dst.0, map.0),
        },
        // bpftool's spelling: the value of key 0, plus the offset.
        Insn::LdMapValue { dst, map, off } => match map_name {
            Some(name) => format!("r{} = map[{name}][0]+{off} ll", dst.0),
            None => format!("r{} = map[#{}][0]+{off} ll", dst.0, map.0),
        },
        Insn::Load {
            size,
            dst,
            src,
            off,
        } => format!("r{} = *({} *)({})", dst.0, size.c_type(), mem(src, off)),
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => format!(
            "*({} *)({}) = {}",
            size.c_type(),
            mem(dst, off),
            src_text(src, Width::W64)
        ),
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            off,
            src,
        } => {
            let bits = size.bytes() * 8;
            let place = mem(dst, off);
            match op {
                AtomicOp::Xchg => format!("r{} = xchg_{bits}({place}, r{})", src.0, src.0),
                AtomicOp::Cmpxchg => format!("r0 = cmpxchg_{bits}({place}, r0, r{})", src.0),
                _ => {
                    let (name, sym) = match op {
                        AtomicOp::Add => ("add", "+="),
                        AtomicOp::Or => ("or", "|="),
                        AtomicOp::And => ("and", "&="),
                        _ => ("xor", "^="),
                    };
                    if fetch {
                        format!(
                            "r{} = atomic_fetch_{name}(({} *)({place}), r{})",
                            src.0,
                            size.c_type(),
                            src.0
                        )
                    } else {
                        format!("lock *({} *)({place}) {sym} r{}", size.c_type(), src.0)
                    }
                }
            }
        }
        Insn::Jump {
            op: JmpOp::Ja, off, ..
        } => format!("goto {off:+}"),
        Insn::Jump {
            op,
            width,
            dst,
            src,
            off,
        } => format!(
            "if {} {} {} goto {off:+}",
            reg(dst, width),
            op.symbol(),
            src_text(src, width)
        ),
        Insn::Call { helper } => match helper_name(helper) {
            Some(name) => format!("call {name}#{helper}"),
            None => format!("call {helper}"),
        },
        Insn::CallLocal { off } => match map_name {
            Some(name) => format!("call {name}"),
            None => format!("call pc{off:+}"),
        },
        Insn::CallFunc { func } => match map_name {
            Some(name) => format!("call {name}"),
            None => format!("call func#{}", func.0),
        },
        Insn::Exit => "exit".to_string(),
    }
}

/// One line per instruction: slot, raw bytes, text (llvm-objdump's layout).
pub fn listing(
    bytes: &[u8],
    decoded: &[Decoded],
    map_name_at: &dyn Fn(usize) -> Option<String>,
) -> String {
    let mut out = String::new();
    for d in decoded {
        let raw = &bytes[d.slot * 8..(d.slot + d.insn.slots()) * 8];
        let hex: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
        let name = map_name_at(d.slot);
        out.push_str(&format!(
            "{:>8}:\t{}\t{}\n",
            d.slot,
            hex.join(" "),
            insn_text(&d.insn, name.as_deref())
        ));
    }
    out
}
