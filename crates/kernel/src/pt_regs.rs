//! Where a probed user program's values sit when a uprobe fires: the x86-64 `struct
//! pt_regs` the kernel hands uprobe programs as their context. Function arguments follow the
//! System V calling convention; USDT argument specs name registers by their assembler names
//! (`%edi`, `%r12`, `%al`), which all map onto the 64-bit slot of their register.

/// Byte offsets of the registers in x86-64 `struct pt_regs`.
pub const R15: u16 = 0;
pub const R14: u16 = 8;
pub const R13: u16 = 16;
pub const R12: u16 = 24;
pub const RBP: u16 = 32;
pub const RBX: u16 = 40;
pub const R11: u16 = 48;
pub const R10: u16 = 56;
pub const R9: u16 = 64;
pub const R8: u16 = 72;
pub const RAX: u16 = 80;
pub const RCX: u16 = 88;
pub const RDX: u16 = 96;
pub const RSI: u16 = 104;
pub const RDI: u16 = 112;
pub const RIP: u16 = 128;
pub const RSP: u16 = 152;

/// The registers that carry the first six integer arguments of a call (System V).
pub const ARG_REGISTERS: [u16; 6] = [RDI, RSI, RDX, RCX, R8, R9];
/// The register holding an integer return value.
pub const RETURN_REGISTER: u16 = RAX;

/// Where a value lives when the probe fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgLocation {
    /// In the saved register at this `pt_regs` offset.
    Register { offset: u16 },
    /// In user memory at (the register at `base`) + `disp`.
    Memory { base: u16, disp: i64 },
    /// A constant the compiler folded into the probe site.
    Constant(i64),
}

/// The location of integer argument `index` of a function, at its first instruction: the
/// six argument registers, then the caller's stack above the return address.
pub fn function_arg(index: u8) -> ArgLocation {
    match ARG_REGISTERS.get(index as usize) {
        Some(&offset) => ArgLocation::Register { offset },
        None => ArgLocation::Memory {
            base: RSP,
            disp: 8 * (index as i64 - 5),
        },
    }
}

/// The `pt_regs` offset of an assembler register name without its `%` (`rdi`, `edi`, `di`,
/// `dil`, `r9d`, ...) and the width in bytes the name denotes. `None` for names that do not
/// start at byte 0 of their register (`ah`) or are not general-purpose registers.
pub fn register(name: &str) -> Option<(u16, u8)> {
    const LEGACY: [(&str, &str, &str, &str, u16); 8] = [
        ("rax", "eax", "ax", "al", RAX),
        ("rbx", "ebx", "bx", "bl", RBX),
        ("rcx", "ecx", "cx", "cl", RCX),
        ("rdx", "edx", "dx", "dl", RDX),
        ("rsi", "esi", "si", "sil", RSI),
        ("rdi", "edi", "di", "dil", RDI),
        ("rbp", "ebp", "bp", "bpl", RBP),
        ("rsp", "esp", "sp", "spl", RSP),
    ];
    for (q, d, w, b, offset) in LEGACY {
        let width = match name {
            n if n == q => 8,
            n if n == d => 4,
            n if n == w => 2,
            n if n == b => 1,
            _ => continue,
        };
        return Some((offset, width));
    }
    if name == "rip" {
        return Some((RIP, 8));
    }
    // r8..r15 with an optional d/w/b (or l) suffix.
    let rest = name.strip_prefix('r')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let offset = match digits.parse::<u8>().ok()? {
        8 => R8,
        9 => R9,
        10 => R10,
        11 => R11,
        12 => R12,
        13 => R13,
        14 => R14,
        15 => R15,
        _ => return None,
    };
    let width = match &rest[digits.len()..] {
        "" => 8,
        "d" => 4,
        "w" => 2,
        "b" | "l" => 1,
        _ => return None,
    };
    Some((offset, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_names_map_to_their_slot_and_width() {
        assert_eq!(register("rdi"), Some((RDI, 8)));
        assert_eq!(register("edi"), Some((RDI, 4)));
        assert_eq!(register("sil"), Some((RSI, 1)));
        assert_eq!(register("r9d"), Some((R9, 4)));
        assert_eq!(register("r15"), Some((R15, 8)));
        assert_eq!(register("r12w"), Some((R12, 2)));
        assert_eq!(register("ah"), None);
        assert_eq!(register("r16"), None);
        assert_eq!(register("xmm0"), None);
    }

    #[test]
    fn arguments_past_the_sixth_are_on_the_stack() {
        assert_eq!(function_arg(0), ArgLocation::Register { offset: RDI });
        assert_eq!(function_arg(5), ArgLocation::Register { offset: R9 });
        // At the first instruction, [rsp] is the return address; argument 6 is above it.
        assert_eq!(function_arg(6), ArgLocation::Memory { base: RSP, disp: 8 });
    }
}
