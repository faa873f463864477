//! The second stage: names resolved, types inferred, probes expanded.
//!
//! Input is the syntax tree and what the running kernel offers ([`kernel::KernelInfo`]);
//! output is an [`Analysis`]: one typed [`hir::Probe`] per concrete attach point plus the
//! resource tables (printf formats) that user space needs to decode events.
//!
//! Invariant: errors are collected, never returned early, and a probe with errors produces
//! no HIR; nothing here touches the kernel except through `KernelInfo`.

mod check;
pub mod hir;
pub mod maps;
pub mod printf;
mod probes;
pub mod types;
mod uprobes;

use std::collections::BTreeMap;

use kernel::KernelInfo;
use syntax::ast;
use syntax::Diagnostic;

pub use types::Type;

/// Every probe type of the language as (full name, short name or "", whether beetrace
/// attaches it yet): what an editor offers at the start of an attach point.
pub fn probe_types() -> &'static [(&'static str, &'static str, bool)] {
    probes::PROVIDERS
}

/// Whether `name` is a function of bpftrace's standard library (compiled by beetrace or
/// not yet).
pub fn is_known_function(name: &str) -> bool {
    check::KNOWN_FUNCTIONS.contains(&name)
}

/// Bytes of one `syscall_name()` string (and of each entry of the runtime's name table):
/// the longest x86-64 name has 22 characters.
pub const SYSCALL_NAME_LEN: u32 = 32;

/// The id of the event record that asks user space to stop (printf ids count up from 0).
pub const EXIT_EVENT_ID: u64 = u64::MAX;
/// `print(@m, top, div)`: record {id, map index, top, div}.
pub const PRINT_MAP_EVENT_ID: u64 = u64::MAX - 1;
/// `clear(@m)`: record {id, map index, 0, 1}.
pub const CLEAR_MAP_EVENT_ID: u64 = u64::MAX - 2;
/// `zero(@m)`: record {id, map index, 0, 1}.
pub const ZERO_MAP_EVENT_ID: u64 = u64::MAX - 3;
/// A process recorded user addresses for the first time: record {id, pid}. User space
/// saves its memory map while it lives, to name its frames later.
pub const NEW_PROCESS_EVENT_ID: u64 = u64::MAX - 4;

/// The argument of a printf directive: known at compile time, or carried by the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintfArg {
    Const(printf::Value),
    /// Read from the event record at `offset` (after the 8-byte id).
    Field {
        ty: Type,
        offset: u32,
    },
    /// `strftime(format, ns)`: the u64 timestamp at `offset`, formatted as local time by
    /// user space.
    Strftime {
        format: Vec<u8>,
        offset: u32,
    },
}

/// One `printf` call site: what user space needs to print its events.
#[derive(Clone, Debug)]
pub struct PrintfFormat {
    pub pieces: Vec<printf::Piece>,
    pub args: Vec<PrintfArg>,
    /// Bytes of the event record, the 8-byte id included.
    pub record_size: u32,
    /// What user space does with the formatted text.
    pub kind: FormatKind,
}

/// The calls that send a formatted record for user space to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatKind {
    /// `printf(fmt, ...)`: print the text.
    Printf,
    /// `print(value)`: print the one value (a value record in JSON).
    PrintValue,
    /// `time(fmt)`: print the current local time through strftime(3).
    Time,
    /// `system(fmt, ...)`: run the text as a shell command (needs `--unsafe`).
    System,
    /// `cat(fmt, ...)`: print the file the text names.
    Cat,
    /// `join(argv, sep)`: the record holds a count and [`JOIN_MAX_ARGS`] string slots of
    /// [`JOIN_ARG_SIZE`] bytes; the only piece is the separator.
    Join,
}

/// Strings `join()` reads at most (bpftrace's `join_argnum`).
pub const JOIN_MAX_ARGS: u32 = 16;
/// Bytes of each `join()` string, NUL included (bpftrace's `join_argsize`).
pub const JOIN_ARG_SIZE: u32 = 1024;
/// A `join()` record: id, count of strings, then the slots.
pub const JOIN_RECORD_SIZE: u32 = 16 + JOIN_MAX_ARGS * JOIN_ARG_SIZE;

/// Everything later stages need.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub probes: Vec<hir::Probe>,
    pub printfs: Vec<PrintfFormat>,
    /// Every `@map` of the script, in order of first appearance.
    pub maps: Vec<maps::MapInfo>,
    /// The hierarchy filters of `cgroup_path()` calls, each once (`"*"` when none is given).
    pub cgroup_filters: Vec<String>,
    /// The type of every expression checked, by its span: only with
    /// [`Options::record_types`] (editors show them; compiling needs none).
    pub expr_types: BTreeMap<syntax::Span, ExprType>,
    /// The stack-trace maps `kstack`/`ustack` record into, each once.
    pub stack_maps: Vec<types::StackMap>,
    /// Distinct stacks each stack-trace map holds (`max_map_keys`, as for `@maps`).
    pub stack_map_entries: u32,
    /// Some probe records user addresses (`ustack`, `usym`): the programs tell user space
    /// about each new process once, so its memory map is saved while it lives and its
    /// frames can still be named after it exits.
    pub user_addresses: bool,
}

/// The type of one expression of the script, as an editor shows it. Spelling it costs BTF
/// look-ups, so it is done only for the expressions shown ([`ExprType::spell`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprType {
    pub ty: Type,
    /// What the script's reader knows the value as, when that is not `ty`.
    pub noted_as: NotedAs,
}

/// The type a value has in the kernel or the tracepoint it is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotedAs {
    /// Nothing more than its [`Type`].
    Value,
    /// A kernel value of this BTF type (a `char[16]` member read as a string).
    Kernel(kernel::btf::TypeRef),
    /// A tracepoint field, as its format file declares it (`const char *`).
    Declared(String),
}

impl ExprType {
    /// The type in words: C's spelling for kernel values (`char[16]`,
    /// `struct task_struct *`), beetrace's for the others (`uint32`, `string[16]`).
    pub fn spell(&self, kernel: &dyn KernelInfo) -> String {
        let btf = kernel.btf().ok();
        match (&self.noted_as, btf) {
            (NotedAs::Declared(c), _) => c.clone(),
            (NotedAs::Kernel(r), Some(btf)) => btf.c_spelling(*r),
            _ => self.ty.spell(btf),
        }
    }
}

/// Options that change how a script is understood.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `max_map_keys` (config block or `BPFTRACE_MAX_MAP_KEYS`): the size of maps not
    /// declared with `let @m = hash(n)`. `None` = bpftrace's default, 4096.
    pub max_map_keys: Option<u32>,
    /// `max_strlen`: the bytes `str()` reads by default. `None` = 64.
    pub max_strlen: Option<u32>,
    /// `stack_mode` (config block or `BPFTRACE_STACK_MODE`): how stacks print when the
    /// call names no mode. `None` = `bpftrace`.
    pub stack_mode: Option<types::StackMode>,
    /// `-p PID`: probes (except `BEGIN`, `END` and `interval:`) fire only in this process.
    pub target_pid: Option<u32>,
    /// `--unsafe`: allow calls that change the system (`system`, `signal`).
    pub unsafe_allowed: bool,
    /// `--no-syscall-dispatch`: attach every syscall tracepoint on its own instead of one
    /// dispatcher program per direction.
    pub no_syscall_dispatch: bool,
    /// Fill [`Analysis::expr_types`] (for the language server's hover and completion).
    pub record_types: bool,
}

/// Analyzes a parsed script. On errors the analysis is partial and must not be compiled.
pub fn analyze(
    script: &ast::Script,
    kernel: &dyn KernelInfo,
    options: &Options,
) -> (Analysis, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut analysis = Analysis::default();
    let mut maps = check::MapTable::default();
    let mut options = options.clone();
    for item in &script.items {
        if let ast::Item::Config(config) = item {
            apply_config(config, &mut options, &mut diags);
        }
    }
    let options = &options;
    maps.default_max_entries = options.max_map_keys.unwrap_or(check::DEFAULT_MAX_ENTRIES);
    analysis.stack_map_entries = maps.default_max_entries;

    // Expand attach points and read tracepoint formats once for both passes.
    let mut instances = Vec::new();
    for item in &script.items {
        match item {
            ast::Item::Probe(probe) => {
                for attach in probes::expand(probe, kernel, options, &mut diags) {
                    let format = match &attach {
                        hir::Attach::Tracepoint { category, name } => {
                            match kernel.tracepoint_format(category, name) {
                                Ok(f) => Some(f),
                                Err(e) => {
                                    diags.push(Diagnostic::error(
                                        probe.attach_points[0].span,
                                        e.to_string(),
                                    ));
                                    continue;
                                }
                            }
                        }
                        _ => None,
                    };
                    instances.push((probe, attach, format));
                }
            }
            ast::Item::MapDecl(decl) => map_declaration(decl, &mut maps, &mut diags),
            other => unsupported_item(other, &mut diags),
        }
    }

    if !options.no_syscall_dispatch {
        dispatch_syscalls(&mut instances);
    }

    // Pass 1 learns every map's type from all its uses; pass 2 checks and lowers.
    for final_pass in [false, true] {
        let mut printfs = Vec::new();
        let mut cgroup_filters = Vec::new();
        let mut stacks = check::StackTables::default();
        for (probe, attach, format) in &instances {
            let mut checker = check::Checker::new(
                attach,
                format.as_ref(),
                check::Tables {
                    printfs: &mut printfs,
                    maps: &mut maps,
                    cgroup_filters: &mut cgroup_filters,
                    expr_types: (final_pass && options.record_types)
                        .then_some(&mut analysis.expr_types),
                    stacks: &mut stacks,
                },
                options,
                kernel,
                final_pass,
            );
            let predicate = probe.predicate.as_ref().map(|p| checker.condition(p));
            let body = checker.block(&probe.body);
            let (vars, errors) = checker.finish();
            if !final_pass {
                continue;
            }
            let failed = !errors.is_empty();
            for e in errors {
                if !diags.contains(&e) {
                    diags.push(e);
                }
            }
            if !failed {
                let mut probe = hir::Probe {
                    tracepoint_id: format.as_ref().map(|f| f.id),
                    attach_btf_id: raw_tracepoint_btf_id(kernel, attach),
                    attach: attach.clone(),
                    predicate,
                    body,
                    vars,
                    span: probe.span,
                };
                if let Some(pid) = options.target_pid.filter(|_| filtered_by_pid(attach)) {
                    let span = probe.span;
                    let is_target = hir::Expr {
                        kind: hir::ExprKind::Binary {
                            op: ast::BinaryOp::Eq,
                            lhs: Box::new(hir::Expr {
                                kind: hir::ExprKind::Builtin(hir::Builtin::Pid),
                                ty: Type::U32,
                                span,
                            }),
                            rhs: Box::new(hir::Expr {
                                kind: hir::ExprKind::Int(pid as i64),
                                ty: Type::U32,
                                span,
                            }),
                        },
                        ty: Type::Bool,
                        span,
                    };
                    gate_probe(&mut probe, is_target);
                }
                analysis.probes.push(probe);
            }
        }
        if final_pass {
            analysis.printfs = printfs;
            analysis.cgroup_filters = cgroup_filters;
            analysis.stack_maps = stacks.maps;
            analysis.user_addresses = stacks.user_addresses;
        }
    }
    if !options.no_syscall_dispatch {
        inline_identical_syscalls(&mut analysis.probes);
    }
    analysis.maps = maps.maps;
    if analysis.probes.is_empty() && !diags.iter().any(Diagnostic::is_error) {
        diags.push(
            Diagnostic::error(syntax::Span::new(0, 0), "the script has no probes")
                .with_hint("add one, e.g. BEGIN { printf(\"hello\\n\"); }"),
        );
    }
    (analysis, diags)
}

/// The vmlinux BTF id of a raw tracepoint's prototype; `None` for other probes, module
/// tracepoints and kernels without BTF (the program then loads as a plain `raw_tp`).
fn raw_tracepoint_btf_id(kernel: &dyn KernelInfo, attach: &hir::Attach) -> Option<u32> {
    let hir::Attach::RawTracepoint { name } = attach else {
        return None;
    };
    let tp = kernel.btf().ok()?.raw_tracepoint(None, name).ok()??;
    tp.vmlinux_btf_id
}

/// Turns syscall tracepoints into [`hir::Attach::Syscall`] probes served by one dispatcher
/// per direction, when a direction has at least two of them: one attachment instead of
/// hundreds (attaching and detaching each tracepoint costs an RCU grace period). A syscall
/// with no known number, or traced by two probe blocks (a program array slot holds one
/// program), keeps its own tracepoint.
fn dispatch_syscalls(
    instances: &mut [(&ast::Probe, hir::Attach, Option<kernel::TracepointFormat>)],
) {
    let syscall = |attach: &hir::Attach| match attach {
        hir::Attach::Tracepoint { category, name } if category == "syscalls" => {
            let (enter, call) = if let Some(c) = name.strip_prefix("sys_enter_") {
                (true, c)
            } else {
                (false, name.strip_prefix("sys_exit_")?)
            };
            kernel::syscalls::number(call).map(|nr| (enter, call.to_string(), nr))
        }
        _ => None,
    };
    let keys: Vec<Option<(bool, String, u32)>> =
        instances.iter().map(|(_, a, _)| syscall(a)).collect();
    for (i, key) in keys.iter().enumerate() {
        let Some((enter, name, nr)) = key else {
            continue;
        };
        let same_direction = keys.iter().flatten().filter(|k| k.0 == *enter).count();
        let same_syscall = keys
            .iter()
            .flatten()
            .filter(|k| k.0 == *enter && k.2 == *nr)
            .count();
        if same_direction >= 2 && same_syscall == 1 {
            instances[i].1 = hir::Attach::Syscall {
                enter: *enter,
                name: name.clone(),
                nr: *nr,
            };
        }
    }
}

/// Merges the dispatched syscall probes of one probe block into one
/// [`hir::Attach::SyscallSet`] program when they all came out identical (same predicate,
/// body and variables: nothing in them depends on which syscall fired). The program is
/// gated by the syscall number instead of being reached through a tail call, and the
/// per-syscall programs are not loaded at all.
fn inline_identical_syscalls(probes: &mut Vec<hir::Probe>) {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(bool, u32, u32), Vec<usize>> = BTreeMap::new();
    for (i, p) in probes.iter().enumerate() {
        if let hir::Attach::Syscall { enter, .. } = p.attach {
            groups
                .entry((enter, p.span.start, p.span.end))
                .or_default()
                .push(i);
        }
    }
    let shape = |p: &hir::Probe| format!("{:?}", (&p.predicate, &p.body, &p.vars));
    let mut merged_away = Vec::new();
    for ((enter, ..), members) in groups {
        let first = shape(&probes[members[0]]);
        if members.len() < 2 || members.iter().any(|&i| shape(&probes[i]) != first) {
            continue;
        }
        let syscalls: Vec<(String, u32)> = members
            .iter()
            .filter_map(|&i| match &probes[i].attach {
                hir::Attach::Syscall { name, nr, .. } => Some((name.clone(), *nr)),
                _ => None,
            })
            .collect();
        let mut nrs: Vec<u32> = syscalls.iter().map(|&(_, nr)| nr).collect();
        nrs.sort_unstable();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for nr in nrs {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == nr => *end = nr,
                _ => ranges.push((nr, nr)),
            }
        }
        let head = &mut probes[members[0]];
        let span = head.span;
        let gate = hir::Expr {
            kind: hir::ExprKind::SyscallNrIn { enter, ranges },
            ty: Type::Bool,
            span,
        };
        gate_probe(head, gate);
        head.attach = hir::Attach::SyscallSet { enter, syscalls };
        merged_away.extend_from_slice(&members[1..]);
    }
    merged_away.sort_unstable();
    for i in merged_away.into_iter().rev() {
        probes.remove(i);
    }
}

/// Makes `gate` a condition of `probe`, checked before its own predicate.
fn gate_probe(probe: &mut hir::Probe, gate: hir::Expr) {
    let span = probe.span;
    probe.predicate = Some(match probe.predicate.take() {
        None => gate,
        Some(predicate) => hir::Expr {
            kind: hir::ExprKind::Binary {
                op: ast::BinaryOp::And,
                lhs: Box::new(gate),
                rhs: Box::new(predicate),
            },
            ty: Type::Bool,
            span,
        },
    });
}

/// Whether `-p PID` makes a probe fire only in that process (bpftrace 0.26's rule). Not
/// `BEGIN`/`END`, which run in the tracer, nor `interval:`, whose timer keeps wall-clock
/// time for the whole system (bpftrace would stop it while the process sleeps).
fn filtered_by_pid(attach: &hir::Attach) -> bool {
    !matches!(
        attach,
        hir::Attach::Begin | hir::Attach::End | hir::Attach::Interval { .. }
    )
}

/// `config = { max_map_keys = 100; ... }`. Settings already given on the command line or in
/// the environment win, as in bpftrace.
fn apply_config(config: &ast::ConfigBlock, options: &mut Options, diags: &mut Vec<Diagnostic>) {
    for entry in &config.entries {
        let key = entry.key.to_ascii_lowercase();
        let key = key.strip_prefix("bpftrace_").unwrap_or(&key);
        if key == "stack_mode" {
            let mode = match &entry.value {
                ast::ConfigValue::Ident(m) | ast::ConfigValue::Str(m) => {
                    types::StackMode::from_name(&m.to_ascii_lowercase())
                }
                ast::ConfigValue::Int(_) => None,
            };
            match mode {
                Some(mode) => {
                    options.stack_mode.get_or_insert(mode);
                }
                None => diags.push(Diagnostic::error(
                    entry.value_span,
                    "stack_mode is one of bpftrace, perf, raw, build_id",
                )),
            }
            continue;
        }
        let int = match &entry.value {
            ast::ConfigValue::Int(n) => u32::try_from(*n).ok().filter(|&n| n > 0),
            _ => None,
        };
        let slot = match key {
            "max_map_keys" => &mut options.max_map_keys,
            "max_strlen" => &mut options.max_strlen,
            _ => {
                diags.push(Diagnostic::warning(
                    entry.key_span,
                    format!(
                        "config '{}' is accepted but not applied by beetrace yet",
                        entry.key
                    ),
                ));
                continue;
            }
        };
        match int {
            Some(n) => {
                if slot.is_none() {
                    *slot = Some(n);
                }
            }
            None => diags.push(Diagnostic::error(
                entry.value_span,
                format!("{key} must be a positive integer"),
            )),
        }
    }
}

/// `let @m = hash(n);`: the map's size (and later its kind).
fn map_declaration(decl: &ast::MapDecl, maps: &mut check::MapTable, diags: &mut Vec<Diagnostic>) {
    match (decl.kind.as_str(), decl.args.as_slice()) {
        ("hash" | "lruhash" | "percpuhash" | "percpulruhash", [arg]) => match arg.kind {
            ast::ExprKind::Int(n) if n > 0 && n <= u32::MAX as u64 => {
                if decl.kind != "hash" {
                    diags.push(Diagnostic::warning(
                        decl.kind_span,
                        format!(
                            "{}() maps are created as plain hash maps for now",
                            decl.kind
                        ),
                    ));
                }
                maps.declared.insert(decl.name.clone(), n as u32);
            }
            _ => diags.push(Diagnostic::error(
                arg.span,
                "the map size must be a positive integer literal",
            )),
        },
        (kind @ ("hash" | "lruhash" | "percpuhash" | "percpulruhash"), _) => {
            diags.push(Diagnostic::error(
                decl.span,
                format!("{kind}() takes one argument: the maximum number of entries"),
            ))
        }
        (other, _) => diags.push(
            Diagnostic::error(decl.kind_span, format!("unknown map type '{other}'"))
                .with_hint("use hash(n), lruhash(n), percpuhash(n) or percpulruhash(n)"),
        ),
    }
}

/// Top-level items parsed but not compiled yet.
fn unsupported_item(item: &ast::Item, diags: &mut Vec<Diagnostic>) {
    match item {
        ast::Item::Preprocessor(p) => match p.kind {
            ast::PreprocessorKind::Include => diags.push(
                Diagnostic::warning(
                    p.span,
                    "#include is ignored: beetrace reads kernel types from BTF",
                )
                .with_hint("remove the line; no kernel headers are needed"),
            ),
            _ => diags.push(Diagnostic::error(
                p.span,
                "preprocessor directives other than #include are not supported yet",
            )),
        },
        ast::Item::CDefinition(c) => diags.push(Diagnostic::error(
            c.span,
            "C struct definitions are not supported yet; kernel types come from BTF",
        )),
        ast::Item::Config(_) => {}
        ast::Item::Import(i) => {
            diags.push(Diagnostic::error(i.span, "import is not supported yet"))
        }
        ast::Item::Macro(m) => {
            diags.push(Diagnostic::error(m.span, "macros are not supported yet"))
        }
        ast::Item::Probe(_) | ast::Item::MapDecl(_) => {}
    }
}
