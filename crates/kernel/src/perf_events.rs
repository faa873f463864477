//! The software and hardware perf events `software:` and `hardware:` probes name, with the
//! kernel's `PERF_COUNT_*` numbers and bpftrace's default sampling periods.

/// `perf_event_attr.type` for hardware counters.
pub const PERF_TYPE_HARDWARE: u32 = 0;
/// `perf_event_attr.type` for software events.
pub const PERF_TYPE_SOFTWARE: u32 = 1;

/// One perf event a probe can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerfEventKind {
    pub name: &'static str,
    /// The short name bpftrace also accepts (`cs` for `context-switches`), or "".
    pub alias: &'static str,
    /// `perf_event_attr.config`
    pub config: u64,
    /// Events between samples when the probe gives no period.
    pub default_period: u64,
}

const fn kind(
    name: &'static str,
    alias: &'static str,
    config: u64,
    default_period: u64,
) -> PerfEventKind {
    PerfEventKind {
        name,
        alias,
        config,
        default_period,
    }
}

/// `PERF_COUNT_SW_*`
pub const SOFTWARE: &[PerfEventKind] = &[
    kind("cpu-clock", "cpu", 0, 1_000_000),
    kind("task-clock", "", 1, 1_000_000),
    kind("page-faults", "faults", 2, 100),
    kind("context-switches", "cs", 3, 1_000),
    kind("cpu-migrations", "migrations", 4, 1),
    kind("minor-faults", "", 5, 100),
    kind("major-faults", "", 6, 1),
    kind("alignment-faults", "", 7, 1),
    kind("emulation-faults", "", 8, 1),
    kind("dummy", "", 9, 1),
    kind("bpf-output", "", 10, 1),
];

/// `PERF_COUNT_HW_*`
pub const HARDWARE: &[PerfEventKind] = &[
    kind("cpu-cycles", "cycles", 0, 1_000_000),
    kind("instructions", "", 1, 1_000_000),
    kind("cache-references", "", 2, 1_000_000),
    kind("cache-misses", "", 3, 1_000_000),
    kind("branch-instructions", "branches", 4, 100_000),
    kind("branch-misses", "", 5, 100_000),
    kind("bus-cycles", "", 6, 100_000),
    kind("frontend-stalls", "", 7, 1_000_000),
    kind("backend-stalls", "", 8, 1_000_000),
    kind("ref-cycles", "", 9, 1_000_000),
];

/// The event of `table` called `name` or by its alias.
pub fn find(table: &'static [PerfEventKind], name: &str) -> Option<&'static PerfEventKind> {
    table
        .iter()
        .find(|e| e.name == name || (!e.alias.is_empty() && e.alias == name))
}
