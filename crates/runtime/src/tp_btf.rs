//! Raw tracepoints load as `tp_btf` programs where the kernel allows it.
//!
//! A `tp_btf` program (`BPF_PROG_TYPE_TRACING` attached `BPF_TRACE_RAW_TP`) runs on the
//! same tracepoint with the same `u64` argument array as a `raw_tp` one, but the verifier
//! knows the arguments' BTF types, bounds the context to the prototype's arguments, and
//! the program shows up as `tracing` in bpftool. Whether the kernel offers it is asked the
//! kernel itself, once per run: a tiny `tp_btf` program is loaded for the first raw
//! tracepoint that has a vmlinux BTF id, no version table involved. A program the verifier
//! refuses as `tp_btf` (say, shifting a pointer argument, which is fine on a `raw_tp`
//! integer) is loaded as `raw_tp` instead.

use std::sync::OnceLock;

use crate::sys;

/// `r0 = 0; exit`.
const TINY: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];

static SUPPORTED: OnceLock<bool> = OnceLock::new();

/// Whether this kernel loads `tp_btf` programs; probed on first call with the raw
/// tracepoint of BTF id `attach_btf_id`.
pub(crate) fn supported(attach_btf_id: u32) -> bool {
    *SUPPORTED.get_or_init(|| {
        sys::prog_load_tp_btf(&TINY, "GPL", "bee_tp_btf", None, attach_btf_id).is_ok()
    })
}
