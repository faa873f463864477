//! One table of (instruction, bytes, text): the encoder, the decoder and the disassembler
//! must all agree with it.

use object::disasm::insn_text;
use object::insn::{decode, encode_all, AluOp, AtomicOp, Insn, JmpOp, Size, Src, Width};
use object::{MapRef, Reg};

fn table() -> Vec<(Insn, &'static str, &'static str)> {
    vec![
        (
            Insn::mov64(Reg::R6, Reg::R1),
            "bf 16 00 00 00 00 00 00",
            "r6 = r1",
        ),
        (
            Insn::mov64_imm(Reg::R0, -1),
            "b7 00 00 00 ff ff ff ff",
            "r0 = -1",
        ),
        (
            Insn::Alu {
                op: AluOp::Add,
                width: Width::W32,
                dst: Reg::R2,
                src: Src::Imm(7),
            },
            "04 02 00 00 07 00 00 00",
            "w2 += 7",
        ),
        (
            Insn::alu64(AluOp::SDiv, Reg::R3, Src::Reg(Reg::R4)),
            "3f 43 01 00 00 00 00 00",
            "r3 s/= r4",
        ),
        (
            Insn::alu64(AluOp::Arsh, Reg::R0, Src::Imm(32)),
            "c7 00 00 00 20 00 00 00",
            "r0 s>>= 32",
        ),
        (
            Insn::Alu {
                op: AluOp::Neg,
                width: Width::W64,
                dst: Reg::R5,
                src: Src::Imm(0),
            },
            "87 05 00 00 00 00 00 00",
            "r5 = -r5",
        ),
        (
            Insn::Endian {
                dst: Reg::R1,
                bits: 16,
                to_be: true,
            },
            "dc 01 00 00 10 00 00 00",
            "r1 = be16 r1",
        ),
        (
            Insn::LdImm64 {
                dst: Reg::R1,
                imm: 0x1_0000_0002,
            },
            "18 01 00 00 02 00 00 00 00 00 00 00 01 00 00 00",
            "r1 = 4294967298 ll",
        ),
        (
            Insn::LdBtfVar {
                dst: Reg::R1,
                btf_id: 0x1_2345,
            },
            "18 31 00 00 45 23 01 00 00 00 00 00 00 00 00 00",
            "r1 = ksym[btf_id:74565] ll",
        ),
        (
            Insn::Load {
                size: Size::W,
                dst: Reg::R0,
                src: Reg::R6,
                off: 16,
            },
            "61 60 10 00 00 00 00 00",
            "r0 = *(u32 *)(r6 + 16)",
        ),
        (
            Insn::Store {
                size: Size::DW,
                dst: Reg::FP,
                off: -8,
                src: Src::Reg(Reg::R7),
            },
            "7b 7a f8 ff 00 00 00 00",
            "*(u64 *)(r10 - 8) = r7",
        ),
        (
            Insn::Store {
                size: Size::B,
                dst: Reg::FP,
                off: -1,
                src: Src::Imm(0),
            },
            "72 0a ff ff 00 00 00 00",
            "*(u8 *)(r10 - 1) = 0",
        ),
        (
            Insn::Atomic {
                size: Size::DW,
                op: AtomicOp::Add,
                fetch: false,
                dst: Reg::R0,
                off: 0,
                src: Reg::R1,
            },
            "db 10 00 00 00 00 00 00",
            "lock *(u64 *)(r0 + 0) += r1",
        ),
        (
            Insn::Atomic {
                size: Size::DW,
                op: AtomicOp::Add,
                fetch: true,
                dst: Reg::R0,
                off: 0,
                src: Reg::R1,
            },
            "db 10 00 00 01 00 00 00",
            "r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)",
        ),
        (
            Insn::Atomic {
                size: Size::W,
                op: AtomicOp::Cmpxchg,
                fetch: true,
                dst: Reg::R2,
                off: 4,
                src: Reg::R3,
            },
            "c3 32 04 00 f1 00 00 00",
            "r0 = cmpxchg_32(r2 + 4, r0, r3)",
        ),
        (
            Insn::Jump {
                op: JmpOp::Jsgt,
                width: Width::W64,
                dst: Reg::R7,
                src: Src::Imm(5),
                off: 3,
            },
            "65 07 03 00 05 00 00 00",
            "if r7 s> 5 goto +3",
        ),
        (
            Insn::Jump {
                op: JmpOp::Jne,
                width: Width::W32,
                dst: Reg::R1,
                src: Src::Reg(Reg::R2),
                off: -4,
            },
            "5e 21 fc ff 00 00 00 00",
            "if w1 != w2 goto -4",
        ),
        (
            Insn::Jump {
                op: JmpOp::Ja,
                width: Width::W64,
                dst: Reg::R0,
                src: Src::Imm(0),
                off: 2,
            },
            "05 00 02 00 00 00 00 00",
            "goto +2",
        ),
        (
            Insn::Call { helper: 130 },
            "85 00 00 00 82 00 00 00",
            "call bpf_ringbuf_output#130",
        ),
        (
            Insn::CallLocal { off: 5 },
            "85 10 00 00 05 00 00 00",
            "call pc+5",
        ),
        (Insn::Exit, "95 00 00 00 00 00 00 00", "exit"),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn encode_decode_and_print_agree_with_the_table() {
    for (insn, bytes, text) in table() {
        let encoded = encode_all(&[insn]);
        assert_eq!(hex(&encoded), bytes, "encoding of {insn:?}");
        let decoded = decode(&encoded).expect("decodes");
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0].insn, insn, "decoding of {bytes}");
        assert_eq!(insn_text(&insn, None), text);
    }
}

#[test]
fn map_loads_are_pseudo_map_fd_and_named() {
    let insn = Insn::LdMap {
        dst: Reg::R1,
        map: MapRef(3),
    };
    let encoded = encode_all(&[insn]);
    assert_eq!(
        hex(&encoded),
        "18 11 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    );
    assert_eq!(decode(&encoded).unwrap()[0].pseudo, Some((1, 0)));
    assert_eq!(insn_text(&insn, Some("events")), "r1 = map[events] ll");
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    assert!(decode(&[0u8; 7]).is_err());
    assert!(
        decode(&[0x18, 0, 0, 0, 0, 0, 0, 0]).is_err(),
        "ld_imm64 without its second half"
    );
    assert!(decode(&[0xff, 0, 0, 0, 0, 0, 0, 0]).is_err());
}
