//! `beetrace -l [PATTERN]`: which probes the running kernel offers.
//!
//! Follows bpftrace 0.26's listing semantics:
//!
//! * the pattern is a comma-separated list, each item handled in turn
//!   (commas inside a `{a,b}` alternation do not separate items);
//! * no pattern, or `*`, means `*:*` (everything);
//! * an item without `:` is a name search across all probe types:
//!   `*sched_switch*` becomes `*:*sched_switch*`;
//! * the first `:`-part selects providers: a wildcard (`*`, `k*`) matches the
//!   providers shown in kernel listings; a plain word must be a provider name
//!   or alias (`t` = `tracepoint`; case-insensitive), otherwise nothing is listed (so
//!   `sched:*` lists nothing, as in bpftrace);
//! * for tracepoints, `t:sched:*` searches `sched:*` and `t:*switch*`
//!   searches `*:*switch*` (category:name).
//!
//! Output lines are `provider:target:name`, sorted within each provider,
//! providers in name order. With `verbose`, each probe is followed by its
//! arguments indented by four spaces (tracepoints: the non-`common_*` field
//! declarations verbatim, e.g. `    const char * filename`).
//!
//! Raw tracepoints are listed as `rawtracepoint:module:name` (`vmlinux` for the kernel
//! itself) from kernel BTF, `-lv` giving each argument's C type and name.
//!
//! New providers (kprobe, uprobe, ...) are added to
//! the private `PROVIDERS` table without touching the matching logic.

use std::collections::BTreeSet;

use crate::user_listing;
use crate::wildcard::{self, Pattern};
use crate::{perf_events, KernelError, KernelInfo};

/// How the part after `provider:` is matched against a provider's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Names are `target:name` (tracepoint `category:name`, rawtracepoint
    /// `module:name`); a one-part search matches any target.
    TargetAndName,
    /// Names are matched against the search as given (software and hardware events,
    /// later kprobe functions).
    Plain,
}

/// Candidate names of a provider, e.g. `sched:sched_switch`.
type CandidatesFn = fn(&dyn KernelInfo) -> Result<Vec<String>, KernelError>;
/// `-lv` lines (without indentation) for one candidate.
type ParamsFn = fn(&dyn KernelInfo, &str) -> Result<Vec<String>, KernelError>;

/// One probe type that can be listed.
struct Provider {
    /// Canonical name, printed in listings.
    name: &'static str,
    /// Short names accepted in patterns (`t` for `tracepoint`).
    aliases: &'static [&'static str],
    /// Included when the provider part of the pattern is a wildcard.
    in_kernel_list: bool,
    shape: Shape,
    candidates: CandidatesFn,
    params: Option<ParamsFn>,
}

/// Every provider that `-l` knows how to list.
static PROVIDERS: &[Provider] = &[
    Provider {
        name: "tracepoint",
        aliases: &["t"],
        in_kernel_list: true,
        shape: Shape::TargetAndName,
        candidates: tracepoint_candidates,
        params: Some(tracepoint_params),
    },
    Provider {
        name: "rawtracepoint",
        aliases: &["rt"],
        in_kernel_list: true,
        shape: Shape::TargetAndName,
        candidates: rawtracepoint_candidates,
        params: Some(rawtracepoint_params),
    },
    Provider {
        name: "software",
        aliases: &["s"],
        in_kernel_list: true,
        shape: Shape::Plain,
        candidates: |_| Ok(names(perf_events::SOFTWARE)),
        params: None,
    },
    Provider {
        name: "hardware",
        aliases: &["h"],
        in_kernel_list: true,
        shape: Shape::Plain,
        candidates: |_| Ok(names(perf_events::HARDWARE)),
        params: None,
    },
    Provider {
        name: "interval",
        aliases: &["i"],
        in_kernel_list: false,
        shape: Shape::Plain,
        candidates: |_| Ok(time_units()),
        params: None,
    },
    Provider {
        name: "profile",
        aliases: &["p"],
        in_kernel_list: false,
        shape: Shape::Plain,
        candidates: |_| Ok(time_units()),
        params: None,
    },
];

/// The units `interval:` and `profile:` take, listed as `interval:ms:` and so on (bpftrace
/// 0.26 lists them the same way; the period follows the last colon).
fn time_units() -> Vec<String> {
    ["hz", "ms", "s", "us"]
        .iter()
        .map(|u| format!("{u}:"))
        .collect()
}

fn names(table: &[perf_events::PerfEventKind]) -> Vec<String> {
    table.iter().map(|e| e.name.to_string()).collect()
}

fn tracepoint_candidates(k: &dyn KernelInfo) -> Result<Vec<String>, KernelError> {
    Ok(k.tracepoints()?
        .into_iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect())
}

fn tracepoint_params(k: &dyn KernelInfo, probe: &str) -> Result<Vec<String>, KernelError> {
    let (c, n) = probe.split_once(':').unwrap_or(("", probe));
    Ok(k.tracepoint_format(c, n)?
        .args()
        .map(|f| f.decl.clone())
        .collect())
}

/// `module:name` of every raw tracepoint (`vmlinux:sched_switch`), from the `btf_trace_*`
/// typedefs of kernel BTF; without BTF, every tracepoint of tracefs under `vmlinux`.
fn rawtracepoint_candidates(k: &dyn KernelInfo) -> Result<Vec<String>, KernelError> {
    let Ok(btf) = k.btf() else {
        return Ok(k
            .tracepoints()?
            .into_iter()
            .map(|(_, n)| format!("vmlinux:{n}"))
            .collect());
    };
    Ok(btf
        .raw_tracepoints()?
        .into_iter()
        .map(|(m, n)| format!("{}:{n}", m.as_deref().unwrap_or("vmlinux")))
        .collect())
}

/// The arguments of a raw tracepoint with their C types: `struct task_struct * prev`.
fn rawtracepoint_params(k: &dyn KernelInfo, probe: &str) -> Result<Vec<String>, KernelError> {
    let (module, name) = probe.split_once(':').unwrap_or(("vmlinux", probe));
    let btf = k.btf()?;
    let module = (module != "vmlinux").then_some(module);
    let Some(tp) = btf.raw_tracepoint(module, name)? else {
        return Ok(Vec::new());
    };
    Ok(tp
        .args
        .iter()
        .map(|a| format!("{} {}", btf.c_spelling(a.ty), a.name))
        .collect())
}

/// `beetrace -l PATTERN`: lines like bpftrace prints
/// (`tracepoint:sched:sched_switch`) for every probe matching `pattern`;
/// `None` lists everything. With `verbose` (`-lv`) each probe line is followed
/// by its arguments indented by four spaces. A probe whose arguments cannot
/// be read is still listed, just without arguments (bpftrace does the same).
pub fn list(
    kernel: &dyn KernelInfo,
    pattern: Option<&str>,
    verbose: bool,
) -> Result<Vec<String>, KernelError> {
    let pattern = match pattern {
        None | Some("*") => "*:*",
        Some(p) => p,
    };
    let mut out = Vec::new();
    for item in split_top_level_commas(pattern) {
        let item = item.split_whitespace().collect::<Vec<_>>().join(" ");
        if user_listing::provider(&item).is_some() {
            out.extend(user_listing::list(&item, None, verbose)?);
            continue;
        }
        list_one(kernel, &item, verbose, &mut out)?;
    }
    Ok(out)
}

/// Splits the comma-separated list, except inside `{a,b}` alternations.
fn split_top_level_commas(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn list_one(
    kernel: &dyn KernelInfo,
    item: &str,
    verbose: bool,
    out: &mut Vec<String>,
) -> Result<(), KernelError> {
    let value = if item.is_empty() {
        "*:*".to_string()
    } else if !item.contains(':') {
        format!("*:{item}")
    } else {
        item.to_string()
    };
    // Split like C++ getline: a trailing empty part is not a part.
    let mut parts: Vec<&str> = value.split(':').collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let mut suffix = value.split_once(':').map_or("", |(_, s)| s).to_string();
    if suffix.is_empty() && parts.len() == 1 {
        suffix = "*".to_string();
    }

    let type_pat = parts[0];
    let mut providers: Vec<&Provider> = if wildcard::has_wildcard(type_pat) {
        let p = Pattern::new(type_pat);
        PROVIDERS
            .iter()
            .filter(|pr| pr.in_kernel_list && p.matches(pr.name))
            .collect()
    } else {
        let lower = type_pat.to_lowercase();
        PROVIDERS
            .iter()
            .filter(|pr| {
                pr.name == lower
                    || pr.aliases.contains(&lower.as_str())
                    || pr.aliases.contains(&type_pat)
            })
            .collect()
    };
    providers.sort_by_key(|p| p.name);

    for p in providers {
        let search = match p.shape {
            Shape::TargetAndName if parts.len() <= 2 => format!("*:{suffix}"),
            Shape::TargetAndName | Shape::Plain => suffix.clone(),
        };
        let pat = Pattern::new(&search);
        let matches: BTreeSet<String> = (p.candidates)(kernel)?
            .into_iter()
            .filter(|c| pat.matches(c))
            .collect();
        for m in matches {
            out.push(format!("{}:{m}", p.name));
            if let (true, Some(params)) = (verbose, p.params) {
                for line in params(kernel, &m).unwrap_or_default() {
                    out.push(format!("    {line}"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{samples, FakeKernel};

    fn kernel() -> FakeKernel {
        FakeKernel::new().with_samples()
    }

    fn ls(pattern: Option<&str>) -> Vec<String> {
        list(&kernel(), pattern, false).unwrap()
    }

    const ALL: &[&str] = &[
        "tracepoint:dma:dma_alloc_sgt",
        "tracepoint:fib:fib_table_lookup",
        "tracepoint:ftrace:function",
        "tracepoint:ftrace:print",
        "tracepoint:raw_syscalls:sys_enter",
        "tracepoint:sched:sched_process_exec",
        "tracepoint:sched:sched_switch",
        "tracepoint:syscalls:sys_enter_openat",
        "tracepoint:syscalls:sys_exit_openat",
    ];

    const RAW: &[&str] = &[
        "rawtracepoint:vmlinux:sched_switch",
        "rawtracepoint:vmlinux:sys_enter",
        "rawtracepoint:vmlinux:sys_exit",
    ];

    /// Every probe of the fake kernel, providers in name order.
    fn all_probes() -> Vec<String> {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let mut out = sorted(
            perf_events::HARDWARE
                .iter()
                .map(|e| format!("hardware:{}", e.name))
                .collect(),
        );
        out.extend(RAW.iter().map(|s| s.to_string()));
        out.extend(sorted(
            perf_events::SOFTWARE
                .iter()
                .map(|e| format!("software:{}", e.name))
                .collect(),
        ));
        out.extend(ALL.iter().map(|s| s.to_string()));
        out
    }

    #[test]
    fn raw_tracepoints_from_btf() {
        assert_eq!(ls(Some("rawtracepoint:*")), RAW);
        assert_eq!(ls(Some("rt:sys_*")), &RAW[1..]);
        assert_eq!(ls(Some("rt:vmlinux:sched_switch")), &RAW[..1]);
        let out = list(
            &kernel(),
            Some("rawtracepoint:sched_switch,rt:sys_enter"),
            true,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "rawtracepoint:vmlinux:sched_switch",
                "    _Bool preempt",
                "    struct task_struct * prev",
                "    struct task_struct * next",
                "    unsigned int prev_state",
                "rawtracepoint:vmlinux:sys_enter",
                "    struct pt_regs * regs",
                "    long int id",
            ]
        );
        // Without BTF the names come from tracefs, without arguments.
        let k = FakeKernel::new().with_tracepoint("sched", "sched_switch", samples::SCHED_SWITCH);
        assert_eq!(
            list(&k, Some("rt:*"), true).unwrap(),
            ["rawtracepoint:vmlinux:sched_switch"]
        );
    }

    #[test]
    fn perf_events_by_name_and_alias_of_the_provider() {
        assert_eq!(
            ls(Some("s:cpu*")),
            ["software:cpu-clock", "software:cpu-migrations"]
        );
        assert_eq!(ls(Some("hardware:cache-misses")), ["hardware:cache-misses"]);
    }

    #[test]
    fn everything() {
        let all = all_probes();
        assert_eq!(ls(None), all);
        assert_eq!(ls(Some("*")), all);
        assert_eq!(ls(Some("*:*")), all);
        assert_eq!(ls(Some("tracepoint:*")), ALL);
        assert_eq!(ls(Some("tracepoint:")), ALL);
        assert_eq!(
            ls(Some("tracepoint")),
            Vec::<String>::new(),
            "searches name `tracepoint`"
        );
        assert_eq!(ls(Some("t*:*:*")), ALL);
        assert_eq!(ls(Some("")), all);
    }

    #[test]
    fn interval_and_profile_units() {
        assert_eq!(
            ls(Some("interval:*")),
            [
                "interval:hz:",
                "interval:ms:",
                "interval:s:",
                "interval:us:"
            ]
        );
        assert_eq!(ls(Some("profile:h*")), ["profile:hz:"]);
    }

    #[test]
    fn by_category_and_name() {
        let sched = [
            "tracepoint:sched:sched_process_exec",
            "tracepoint:sched:sched_switch",
        ];
        assert_eq!(ls(Some("tracepoint:sched:*")), sched);
        assert_eq!(ls(Some("t:sched:*")), sched);
        assert_eq!(
            ls(Some("T:sched:*")),
            sched,
            "case-insensitive, as bpftrace"
        );
        assert_eq!(ls(Some("TRACEPOINT:sched:*")), sched);
        assert_eq!(ls(Some("*:sched:*")), sched);
        assert_eq!(ls(Some("t:sched_*")), sched, "two parts: any category");
        let both = [
            "rawtracepoint:vmlinux:sched_switch",
            "tracepoint:sched:sched_switch",
        ];
        assert_eq!(ls(Some("*sched_switch*")), both);
        assert_eq!(ls(Some("*:*sched_switch*")), both);
        assert_eq!(ls(Some("sched_switch")), both);
        assert_eq!(
            ls(Some("tracepoint:sched:sched_switch")),
            ["tracepoint:sched:sched_switch"]
        );
        assert_eq!(
            ls(Some("t:syscalls:sys_{enter,exit}_openat")),
            [
                "tracepoint:syscalls:sys_enter_openat",
                "tracepoint:syscalls:sys_exit_openat"
            ]
        );
        // Like bpftrace, a category is not a provider.
        assert!(ls(Some("sched:*")).is_empty());
        assert!(ls(Some("kprobe:*")).is_empty());
        assert!(ls(Some("t:nothing:*")).is_empty());
    }

    #[test]
    fn comma_separated() {
        assert_eq!(
            ls(Some("t:sched:sched_switch, t:*openat")),
            [
                "tracepoint:sched:sched_switch",
                "tracepoint:syscalls:sys_enter_openat",
                "tracepoint:syscalls:sys_exit_openat"
            ]
        );
    }

    #[test]
    fn verbose() {
        let k = kernel();
        let out = list(
            &k,
            Some("t:syscalls:sys_enter_openat,t:sched:sched_process_exec"),
            true,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "tracepoint:syscalls:sys_enter_openat",
                "    int __syscall_nr",
                "    int dfd",
                "    const char * filename",
                "    int flags",
                "    umode_t mode",
                "tracepoint:sched:sched_process_exec",
                "    __data_loc char[] filename",
                "    pid_t pid",
                "    pid_t old_pid",
            ]
        );
        let out = list(&k, Some("t:raw_syscalls:*"), true).unwrap();
        assert_eq!(
            out,
            [
                "tracepoint:raw_syscalls:sys_enter",
                "    long id",
                "    unsigned long args[6]"
            ]
        );
    }

    #[test]
    fn verbose_without_format_still_lists() {
        let k = FakeKernel::new()
            .with_tracepoint_without_format("x", "y")
            .with_tracepoint("x", "z", samples::SYS_EXIT_OPENAT);
        assert_eq!(
            list(&k, Some("t:x:*"), true).unwrap(),
            [
                "tracepoint:x:y",
                "tracepoint:x:z",
                "    int __syscall_nr",
                "    long ret"
            ]
        );
    }
}
