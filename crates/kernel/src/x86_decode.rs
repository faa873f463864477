//! Where x86-64 instructions start, so a uprobe at `FUNC+OFFSET` can be refused when the
//! offset falls inside an instruction (the breakpoint would corrupt it and the traced program
//! would crash or compute garbage), as bpftrace refuses it.

use iced_x86::{Decoder, DecoderOptions};

/// Whether `offset` is the start of an instruction of the function whose machine code is
/// `code` (decoded from its first byte), and if not, the instruction starts around it.
pub fn instruction_boundary(code: &[u8], offset: u64) -> Result<(), (u64, u64)> {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut previous = 0;
    while decoder.can_decode() {
        let start = decoder.ip();
        if start == offset {
            return Ok(());
        }
        if start > offset {
            return Err((previous, start));
        }
        previous = start;
        let _ = decoder.decode();
    }
    Err((previous, code.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_inside_instructions_are_found() {
        // push %rbp; mov %rsp,%rbp; sub $0x28,%rsp
        let code = [0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x28];
        assert_eq!(instruction_boundary(&code, 0), Ok(()));
        assert_eq!(instruction_boundary(&code, 1), Ok(()));
        assert_eq!(instruction_boundary(&code, 4), Ok(()));
        assert_eq!(instruction_boundary(&code, 2), Err((1, 4)));
        assert_eq!(instruction_boundary(&code, 6), Err((4, 8)));
    }
}
