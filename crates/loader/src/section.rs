//! Section names as attach points, following libbpf's conventions: the part before the first
//! `/` is the program kind, the rest says where to attach. A kind without a target (`raw_tp`,
//! `uprobe`, `kprobe`) is loaded but cannot be auto-attached, as in libbpf.

/// Where a program attaches, read from its section name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachPoint {
    /// `tp/CAT/NAME`, `tracepoint/CAT/NAME`.
    Tracepoint { category: String, name: String },
    /// `raw_tp/NAME`, `raw_tracepoint/NAME`.
    RawTracepoint { name: String },
    /// `tp_btf/NAME`.
    BtfTracepoint { name: String },
    /// `uprobe/PATH:FUNC[+OFF]`, `uretprobe/...`.
    Uprobe {
        ret: bool,
        path: String,
        func: String,
        offset: u64,
    },
    /// `perf_event`: attached to the event given with `--perf-event`.
    PerfEvent,
    /// `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`.
    Kprobe {
        ret: bool,
        func: String,
        offset: u64,
    },
    /// `fentry/FUNC`, `fexit/FUNC`.
    Fentry { exit: bool, func: String },
    /// A cgroup hook (`cgroup/connect4`, `cgroup_skb/egress`, `sockops`, ...), attached to
    /// the cgroup given with `--cgroup`. `attach_type` is the kernel's `enum bpf_attach_type`.
    Cgroup {
        hook: &'static str,
        attach_type: u32,
    },
    /// A known kind whose section names no target (`raw_tp`, `kprobe`, `uprobe`,
    /// `fentry` alone): loaded, usable as a tail-call target, never auto-attached.
    Manual,
}

/// The cgroup hooks by section name, with their `enum bpf_attach_type` value (uapi, fixed).
/// aya gives the programs the same expected attach type at load time.
const CGROUP_HOOKS: &[(&str, u32)] = &[
    ("cgroup_skb/ingress", 0),
    ("cgroup_skb/egress", 1),
    ("cgroup/sock_create", 2),
    ("cgroup/sock", 2),
    ("sockops", 3),
    ("cgroup/bind4", 8),
    ("cgroup/bind6", 9),
    ("cgroup/connect4", 10),
    ("cgroup/connect6", 11),
    ("cgroup/post_bind4", 12),
    ("cgroup/post_bind6", 13),
    ("cgroup/sendmsg4", 14),
    ("cgroup/sendmsg6", 15),
    ("cgroup/recvmsg4", 19),
    ("cgroup/recvmsg6", 20),
    ("cgroup/getsockopt", 21),
    ("cgroup/setsockopt", 22),
    ("cgroup/getpeername4", 29),
    ("cgroup/getpeername6", 30),
    ("cgroup/getsockname4", 31),
    ("cgroup/getsockname6", 32),
    ("cgroup/sock_release", 34),
];

/// The section kinds `run` knows. Anything else is rejected before loading.
pub fn parse(section: &str) -> Result<AttachPoint, String> {
    if let Some(&(hook, attach_type)) = CGROUP_HOOKS.iter().find(|(s, _)| *s == section) {
        return Ok(AttachPoint::Cgroup { hook, attach_type });
    }
    let (kind, rest) = match section.split_once('/') {
        Some((k, r)) => (k, Some(r).filter(|r| !r.is_empty())),
        None => (section, None),
    };
    let Some(rest) = rest else {
        return match kind {
            "tp" | "tracepoint" | "raw_tp" | "raw_tracepoint" | "tp_btf" | "uprobe"
            | "uretprobe" | "uprobe.s" | "uretprobe.s" | "kprobe" | "kretprobe" | "fentry"
            | "fexit" => Ok(AttachPoint::Manual),
            "perf_event" => Ok(AttachPoint::PerfEvent),
            _ => Err(unknown(section)),
        };
    };
    match kind {
        "tp" | "tracepoint" => {
            let (category, name) = rest
                .split_once('/')
                .ok_or_else(|| format!("section '{section}' must be {kind}/CATEGORY/NAME"))?;
            Ok(AttachPoint::Tracepoint {
                category: category.to_string(),
                name: name.to_string(),
            })
        }
        "raw_tp" | "raw_tracepoint" => Ok(AttachPoint::RawTracepoint {
            name: rest.to_string(),
        }),
        "tp_btf" => Ok(AttachPoint::BtfTracepoint {
            name: rest.to_string(),
        }),
        "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => {
            let (path, target) = rest.rsplit_once(':').ok_or_else(|| {
                format!("section '{section}' must be {kind}/PATH:FUNCTION[+OFFSET]")
            })?;
            let (func, offset) = split_offset(target, section)?;
            Ok(AttachPoint::Uprobe {
                ret: kind.starts_with("uretprobe"),
                path: path.to_string(),
                func,
                offset,
            })
        }
        "kprobe" | "kretprobe" => {
            let (func, offset) = split_offset(rest, section)?;
            Ok(AttachPoint::Kprobe {
                ret: kind == "kretprobe",
                func,
                offset,
            })
        }
        "fentry" | "fexit" => Ok(AttachPoint::Fentry {
            exit: kind == "fexit",
            func: rest.to_string(),
        }),
        _ => Err(unknown(section)),
    }
}

fn unknown(section: &str) -> String {
    format!(
        "unknown section '{section}': beetrace run knows tp/, tracepoint/, raw_tp/, \
         raw_tracepoint/, tp_btf/, uprobe/, uretprobe/, perf_event, kprobe/, kretprobe/, \
         fentry/, fexit/, sockops, cgroup_skb/ingress|egress and cgroup/HOOK (connect4, \
         connect6, bind4, bind6, post_bind4, post_bind6, sendmsg4, sendmsg6, recvmsg4, \
         recvmsg6, sock_create, sock_release, getsockopt, setsockopt, getpeername4, \
         getpeername6, getsockname4, getsockname6)"
    )
}

/// `FUNC+OFF` (offset in decimal or 0x hex) or `FUNC`.
fn split_offset(target: &str, section: &str) -> Result<(String, u64), String> {
    match target.split_once('+') {
        None => Ok((target.to_string(), 0)),
        Some((func, off)) => {
            let parsed = match off.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => off.parse(),
            };
            let offset =
                parsed.map_err(|_| format!("bad offset '{off}' in section '{section}'"))?;
            Ok((func.to_string(), offset))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_section_names() {
        assert_eq!(
            parse("tp/syscalls/sys_enter_execve"),
            Ok(AttachPoint::Tracepoint {
                category: "syscalls".into(),
                name: "sys_enter_execve".into()
            })
        );
        assert_eq!(
            parse("raw_tracepoint/sys_enter"),
            Ok(AttachPoint::RawTracepoint {
                name: "sys_enter".into()
            })
        );
        assert_eq!(parse("raw_tp"), Ok(AttachPoint::Manual));
        assert_eq!(
            parse("uretprobe//usr/lib/libc.so.6:malloc+0x10"),
            Ok(AttachPoint::Uprobe {
                ret: true,
                path: "/usr/lib/libc.so.6".into(),
                func: "malloc".into(),
                offset: 16
            })
        );
        assert_eq!(
            parse("kprobe/do_sys_openat2"),
            Ok(AttachPoint::Kprobe {
                ret: false,
                func: "do_sys_openat2".into(),
                offset: 0
            })
        );
        assert_eq!(parse("perf_event"), Ok(AttachPoint::PerfEvent));
        assert_eq!(
            parse("cgroup/connect4"),
            Ok(AttachPoint::Cgroup {
                hook: "cgroup/connect4",
                attach_type: 10
            })
        );
        assert_eq!(
            parse("cgroup/sock_release"),
            Ok(AttachPoint::Cgroup {
                hook: "cgroup/sock_release",
                attach_type: 34
            })
        );
        assert_eq!(
            parse("sockops"),
            Ok(AttachPoint::Cgroup {
                hook: "sockops",
                attach_type: 3
            })
        );
        assert!(parse("cgroup/nope").unwrap_err().contains("cgroup/HOOK"));
        assert!(parse("tp/onlycategory").is_err());
        assert!(parse("xdp_nope/x")
            .unwrap_err()
            .contains("unknown section 'xdp_nope/x'"));
    }
}
