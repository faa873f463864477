//! `beetrace prog ...`: listing programs in bpftool's text and JSON shapes, and showing the
//! instructions the kernel actually runs ("xlated") with beetrace's own disassembler.

use std::os::fd::OwnedFd;

use bpfsys::ProgInfo;
use object::insn::Insn;

use crate::json::Json;
use crate::names::prog_type_name;
use crate::target::fdinfo_field;
use crate::{AdminError, Format};

/// `prog show` / `prog list` for these programs.
pub fn show(progs: &[(OwnedFd, ProgInfo)], fmt: Format) -> String {
    crate::show_objects(
        progs,
        fmt,
        bpfsys::ObjKind::Prog,
        |i| i.id,
        show_json,
        show_text,
    )
}

fn tag(i: &ProgInfo) -> String {
    i.tag.iter().map(|b| format!("{b:02x}")).collect()
}

/// Nanoseconds since boot to seconds since the epoch.
fn load_time_epoch(boot_ns: u64) -> i64 {
    let clock = |id| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid timespec for the kernel to fill.
        unsafe { libc::clock_gettime(id, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    };
    let wall = clock(libc::CLOCK_REALTIME) - clock(libc::CLOCK_BOOTTIME) + boot_ns as i128;
    (wall / 1_000_000_000) as i64
}

/// Local time as `2026-11-25T02:35:22+0000`.
fn local_time(epoch: i64) -> String {
    // SAFETY: localtime_r and strftime with valid pointers and the buffer's real size.
    unsafe {
        let t: libc::time_t = epoch;
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%FT%T%z".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn show_text(fd: &OwnedFd, i: &ProgInfo, pinned: &[String]) -> String {
    let mut s = format!(
        "{}: {}  name {}  tag {}",
        i.id,
        prog_type_name(i.prog_type),
        i.name,
        tag(i)
    );
    if i.gpl_compatible {
        s.push_str("  gpl");
    }
    if i.run_time_ns > 0 {
        s.push_str(&format!(
            " run_time_ns {} run_cnt {}",
            i.run_time_ns, i.run_cnt
        ));
    }
    s.push_str(&format!(
        "\n\tloaded_at {}  uid {}\n\txlated {}B",
        local_time(load_time_epoch(i.load_time)),
        i.created_by_uid,
        i.xlated_len
    ));
    if i.jited_len > 0 {
        s.push_str(&format!("  jited {}B", i.jited_len));
    } else {
        s.push_str("  not jited");
    }
    s.push_str(&format!(
        "  memlock {}B",
        fdinfo_field(fd, "memlock").unwrap_or(0)
    ));
    if !i.map_ids.is_empty() {
        let ids: Vec<String> = i.map_ids.iter().map(u32::to_string).collect();
        s.push_str(&format!("  map_ids {}", ids.join(",")));
    }
    s.push('\n');
    for path in pinned {
        s.push_str(&format!("\tpinned {path}\n"));
    }
    if i.btf_id != 0 {
        s.push_str(&format!("\tbtf_id {}\n", i.btf_id));
    }
    s
}

fn show_json(fd: &OwnedFd, i: &ProgInfo, pinned: &[String]) -> Json {
    let mut f = vec![
        ("id", Json::int(i.id)),
        ("type", Json::str(prog_type_name(i.prog_type))),
        ("name", Json::str(&i.name)),
        ("tag", Json::str(tag(i))),
        ("gpl_compatible", Json::Bool(i.gpl_compatible)),
    ];
    if i.run_time_ns > 0 {
        f.push(("run_time_ns", Json::int(i.run_time_ns)));
        f.push(("run_cnt", Json::int(i.run_cnt)));
    }
    f.extend([
        ("loaded_at", Json::int(load_time_epoch(i.load_time))),
        ("uid", Json::int(i.created_by_uid)),
        ("bytes_xlated", Json::int(i.xlated_len)),
        ("jited", Json::Bool(i.jited_len > 0)),
    ]);
    if i.jited_len > 0 {
        f.push(("bytes_jited", Json::int(i.jited_len)));
    }
    f.push((
        "bytes_memlock",
        Json::int(fdinfo_field(fd, "memlock").unwrap_or(0)),
    ));
    if !i.map_ids.is_empty() {
        f.push((
            "map_ids",
            Json::Arr(i.map_ids.iter().map(|&m| Json::int(m)).collect()),
        ));
    }
    if i.btf_id != 0 {
        f.push(("btf_id", Json::int(i.btf_id)));
    }
    if !pinned.is_empty() {
        f.push(("pinned", Json::Arr(pinned.iter().map(Json::str).collect())));
    }
    Json::obj(f)
}

/// Kernel symbols by address, to name the helpers an xlated program calls: the kernel
/// replaces a helper number with the helper's offset from `__bpf_call_base`.
struct Kallsyms(Vec<(u64, String)>);

impl Kallsyms {
    fn read() -> Kallsyms {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
                let name = parts.nth(1)?;
                Some((addr, name.to_string()))
            })
            .filter(|(a, _)| *a != 0)
            .collect();
        syms.sort();
        Kallsyms(syms)
    }

    fn address_of(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(_, n)| n == name).map(|(a, _)| *a)
    }

    fn name_at(&self, addr: u64) -> Option<&str> {
        let i = self.0.binary_search_by_key(&addr, |(a, _)| *a).ok()?;
        Some(&self.0[i].1)
    }
}

/// `prog dump xlated`: one line per instruction, `slot: text`.
pub fn dump_xlated(fd: &OwnedFd, i: &ProgInfo, fmt: Format) -> Result<String, AdminError> {
    let bytes = bpfsys::obj::prog_xlated(fd)
        .map_err(|e| AdminError::kernel("cannot read the instructions".into(), e))?;
    if bytes.is_empty() {
        return Err(AdminError::Usage(format!(
            "the kernel shows no instructions of program {} (it hides them from \
             unprivileged users)",
            i.id
        )));
    }
    let decoded = object::insn::decode(&bytes).map_err(|e| {
        AdminError::Usage(format!(
            "program {} has an instruction beetrace cannot decode: {e}",
            i.id
        ))
    })?;
    let kallsyms = decoded
        .iter()
        .any(|d| matches!(d.insn, Insn::Call { .. }))
        .then(Kallsyms::read);
    let call_base = kallsyms
        .as_ref()
        .and_then(|k| k.address_of("__bpf_call_base"));
    let mut lines = Vec::new();
    for d in &decoded {
        let text = match (d.insn, d.pseudo) {
            (Insn::Call { helper }, _) => {
                let name = call_base.and_then(|base| {
                    kallsyms
                        .as_ref()?
                        .name_at(base.wrapping_add(helper as i64 as u64))
                });
                match name {
                    Some(n) => format!("call {n}"),
                    None => object::disasm::insn_text(&d.insn, None),
                }
            }
            // The kernel puts the map id where the loader put a map fd; a map value load
            // keeps its offset in the second half.
            (Insn::LdMap { .. } | Insn::LdMapValue { .. }, Some((1 | 2, imm))) => {
                object::disasm::insn_text(&d.insn, Some(&format!("id:{}", imm as u32)))
            }
            _ => object::disasm::insn_text(&d.insn, None),
        };
        lines.push((d.slot, text));
    }
    if fmt.json {
        let items = lines
            .into_iter()
            .map(|(_, t)| Json::obj(vec![("disasm", Json::str(t))]))
            .collect();
        return Ok(Json::Arr(items).render(fmt.pretty) + "\n");
    }
    Ok(lines
        .into_iter()
        .map(|(slot, t)| format!("{slot:>4}: {t}\n"))
        .collect())
}
