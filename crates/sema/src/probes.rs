//! Attach points as written → concrete attach points. Wildcards expand against the kernel's
//! list; unknown probe types and tracepoints are diagnosed here.

use kernel::perf_events::{self, PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE};
use kernel::{wildcard, KernelInfo};
use syntax::ast;
use syntax::Diagnostic;

use crate::hir::{Attach, Sample, UserProbeKind};

/// Every probe type of the language, by full and short name, and whether beetrace attaches
/// it yet.
pub(crate) const PROVIDERS: &[(&str, &str, bool)] = &[
    ("begin", "", true),
    ("end", "", true),
    ("tracepoint", "t", true),
    ("interval", "i", true),
    ("rawtracepoint", "rt", true),
    ("kprobe", "k", false),
    ("kretprobe", "kr", false),
    ("uprobe", "u", true),
    ("uretprobe", "ur", true),
    ("usdt", "U", true),
    ("profile", "p", true),
    ("software", "s", true),
    ("hardware", "h", true),
    ("fentry", "f", false),
    ("fexit", "fr", false),
    ("watchpoint", "w", false),
    ("iter", "it", false),
    ("self", "", false),
    ("bench", "", false),
    ("test", "", false),
];

fn provider(name: &str) -> Option<(&'static str, bool)> {
    let lower = name.to_ascii_lowercase();
    PROVIDERS
        .iter()
        .find(|(full, short, _)| *full == lower || (!short.is_empty() && *short == name))
        .map(|(full, _, supported)| (*full, *supported))
}

pub(crate) fn expand(
    probe: &ast::Probe,
    kernel: &dyn KernelInfo,
    options: &crate::Options,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Attach> {
    let mut out = Vec::new();
    for ap in &probe.attach_points {
        let parts = ap.parts();
        let err = |msg: String| Diagnostic::error(ap.span, msg);
        let Some((kind, supported)) = provider(ap.provider()) else {
            diags.push(
                err(format!("unknown probe type '{}'", ap.provider())).with_hint(
                    "probe types: begin, end, tracepoint (t), interval (i), rawtracepoint (rt), \
                     kprobe (k), kretprobe (kr), uprobe (u), uretprobe (ur), usdt (U), \
                     profile (p), software (s), hardware (h), fentry (f), fexit (fr)",
                ),
            );
            continue;
        };
        if !supported {
            diags.push(err(format!(
                "{kind} probes are not supported by this version of beetrace yet"
            )));
            continue;
        }
        match kind {
            "begin" | "end" => {
                if !parts.is_empty() {
                    diags.push(err(format!("{kind} takes no arguments")));
                } else if kind == "begin" {
                    out.push(Attach::Begin);
                } else {
                    out.push(Attach::End);
                }
            }
            "profile" => match profile_sample(&parts) {
                Ok((sample, probe)) => out.push(Attach::PerfEvent {
                    probe,
                    perf_type: PERF_TYPE_SOFTWARE,
                    config: 0,
                    sample,
                }),
                Err(msg) => diags.push(err(msg).with_hint(
                    "write profile:hz:99, profile:s:1, profile:ms:10 or profile:us:500",
                )),
            },
            "software" | "hardware" => {
                let (table, perf_type) = if kind == "software" {
                    (perf_events::SOFTWARE, PERF_TYPE_SOFTWARE)
                } else {
                    (perf_events::HARDWARE, PERF_TYPE_HARDWARE)
                };
                let Some(name) = parts.first() else {
                    diags.push(err(format!("{kind} probes need an event name")));
                    continue;
                };
                let Some(event) = perf_events::find(table, name) else {
                    let names: Vec<&str> = table.iter().map(|e| e.name).collect();
                    diags.push(
                        err(format!("unknown {kind} event '{name}'"))
                            .with_hint(format!("{kind} events: {}", names.join(", "))),
                    );
                    continue;
                };
                let (full, config, default) = (event.name, event.config, event.default_period);
                let period = match parts.get(1) {
                    None => default,
                    Some(p) => match p.parse::<u64>() {
                        Ok(n) if n > 0 => n,
                        _ => {
                            diags.push(err(format!("the period '{p}' is not a positive integer")));
                            continue;
                        }
                    },
                };
                out.push(Attach::PerfEvent {
                    probe: format!("{kind}:{full}:{period}"),
                    perf_type,
                    config,
                    sample: Sample::Period(period),
                });
            }
            "uprobe" | "uretprobe" | "usdt" => {
                let kind = match kind {
                    "uprobe" => UserProbeKind::Entry,
                    "uretprobe" => UserProbeKind::Return,
                    _ => UserProbeKind::Usdt,
                };
                out.extend(crate::uprobes::expand(kind, ap, options, diags));
            }
            "rawtracepoint" => {
                // rawtracepoint:name or rawtracepoint:module:name; the name is the event's.
                let Some(name) = parts.last().filter(|n| !n.is_empty()) else {
                    diags.push(
                        err("rawtracepoint probes need a tracepoint name".into())
                            .with_hint("e.g. rawtracepoint:sched_switch"),
                    );
                    continue;
                };
                let module = (parts.len() >= 2).then(|| parts[0]);
                let found = match raw_tracepoints(kernel, module, name) {
                    Ok(found) => found,
                    Err(e) => {
                        diags.push(err(e.to_string()));
                        continue;
                    }
                };
                if found.is_empty() {
                    diags.push(
                        err(format!("no raw tracepoint named '{name}'"))
                            .with_hint("list them with: beetrace -l 'rawtracepoint:*'"),
                    );
                }
                out.extend(
                    found
                        .into_iter()
                        .map(|name| Attach::RawTracepoint { name }),
                );
            }
            "interval" => match interval_period(&parts) {
                Ok(period_ns) => out.push(Attach::Interval { period_ns }),
                Err(msg) => diags.push(err(msg).with_hint(
                    "write interval:s:1, interval:ms:100, interval:us:500, interval:hz:10 or interval:1s",
                )),
            },
            "tracepoint" => {
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    diags.push(
                        err("tracepoint probes need a category and a name".into())
                            .with_hint("e.g. tracepoint:syscalls:sys_enter_openat"),
                    );
                    continue;
                }
                let pattern = format!("{}:{}", parts[0], parts[1]);
                if wildcard::has_wildcard(&pattern) {
                    match kernel::matching_tracepoints(kernel, &pattern) {
                        Ok(found) if found.is_empty() => diags.push(
                            err(format!("no tracepoint matches '{pattern}'"))
                                .with_hint("list them with: beetrace -l 'tracepoint:*'"),
                        ),
                        Ok(found) => out.extend(
                            found
                                .into_iter()
                                .map(|(category, name)| Attach::Tracepoint { category, name }),
                        ),
                        Err(e) => diags.push(err(e.to_string())),
                    }
                } else {
                    match kernel.tracepoint_format(parts[0], parts[1]) {
                        Ok(_) => out.push(Attach::Tracepoint {
                            category: parts[0].to_string(),
                            name: parts[1].to_string(),
                        }),
                        Err(_) => diags.push(
                            err(format!("unknown tracepoint '{pattern}'")).with_hint(format!(
                                "list the available ones with: beetrace -l 'tracepoint:{}:*'",
                                parts[0]
                            )),
                        ),
                    }
                }
            }
            _ => unreachable!("supported providers are handled above"),
        }
    }
    out
}

/// The raw tracepoints matching `pattern` (in `module`, `vmlinux` being the kernel itself):
/// tracefs events, plus those only kernel BTF knows (`btf_trace_*` typedefs of bare
/// tracepoints such as `pelt_cfs_tp`, which have no tracefs event). Sorted, deduplicated.
fn raw_tracepoints(
    kernel: &dyn KernelInfo,
    module: Option<&str>,
    pattern: &str,
) -> Result<Vec<String>, kernel::KernelError> {
    let module = module.filter(|m| *m != "vmlinux" && *m != "*");
    // A plain name BTF describes exists: no need to read and match the whole tracefs list
    // (thousands of lines; editors re-check a script on every keystroke).
    if module.is_none() && !wildcard::has_wildcard(pattern) {
        if let Ok(Some(_)) = kernel
            .btf()
            .and_then(|btf| btf.raw_tracepoint(None, pattern))
        {
            return Ok(vec![pattern.to_string()]);
        }
    }
    let mut found: Vec<String> = Vec::new();
    if module.is_none() {
        found.extend(
            kernel
                .tracepoints()?
                .into_iter()
                .map(|(_, n)| n)
                .filter(|n| wildcard::matches(pattern, n)),
        );
        // A plain name tracefs knows needs no walk over every BTF typedef.
        if !found.is_empty() && !wildcard::has_wildcard(pattern) {
            return Ok(found);
        }
    }
    if let Ok(btf) = kernel.btf() {
        found.extend(
            btf.raw_tracepoints()?
                .into_iter()
                .filter(|(m, n)| {
                    module.is_none_or(|want| m.as_deref() == Some(want))
                        && wildcard::matches(pattern, n)
                })
                .map(|(_, n)| n),
        );
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// `profile:hz:99`, `profile:s:1`, `profile:ms:10`, `profile:us:100`.
fn profile_sample(parts: &[&str]) -> Result<(Sample, String), String> {
    let [unit, count] = parts else {
        return Err("profile probes need a unit and a count".into());
    };
    let n: u64 = count
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("profile count '{count}' is not a positive integer"))?;
    let sample = match *unit {
        "hz" => Sample::Frequency(n),
        "s" => Sample::Period(n.saturating_mul(1_000_000_000)),
        "ms" => Sample::Period(n.saturating_mul(1_000_000)),
        "us" => Sample::Period(n.saturating_mul(1_000)),
        _ => return Err(format!("unknown profile unit '{unit}'")),
    };
    Ok((sample, format!("profile:{unit}:{n}")))
}

/// `interval:s:1`, `interval:ms:100`, `interval:hz:99`, or bpftrace 0.26's `interval:1s`.
fn interval_period(parts: &[&str]) -> Result<u64, String> {
    let (unit, count) = match parts {
        [unit, count] => (*unit, *count),
        [value] => {
            let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            (&value[digits.len()..], digits)
        }
        _ => return Err("interval probes need a unit and a count".into()),
    };
    let count: u64 = count
        .parse()
        .map_err(|_| format!("interval count '{count}' is not a positive integer"))?;
    if count == 0 {
        return Err("an interval of 0 would never fire".into());
    }
    let ns = match unit {
        "s" => count.checked_mul(1_000_000_000),
        "ms" => count.checked_mul(1_000_000),
        "us" => count.checked_mul(1_000),
        "ns" => Some(count),
        "m" => count.checked_mul(60_000_000_000),
        "hz" => Some(1_000_000_000 / count),
        _ => return Err(format!("unknown interval unit '{unit}'")),
    };
    ns.filter(|&n| n > 0)
        .ok_or_else(|| "interval is out of range".to_string())
}
