//! `beetrace run`'s loader: a ready-made libbpf-style BPF object in, loaded programs out —
//! attached by section name, program arrays wired — plus what it takes to watch them run
//! (`bpf_trace_printk` lines, ring-buffer records, map contents at exit).
//!
//! aya does the loading: BTF-defined maps, `.rodata`/`.data`/`.bss` globals, subprograms,
//! CO-RE relocations against the running kernel, `LIBBPF_PIN_BY_NAME`. What aya does not do
//! is filled in here: attach targets from section names ([`section`]), declaratively
//! initialised program arrays ([`scan`]), typed `--set` ([`globals`]), BTF-typed dumps
//! ([`btf`]). Unlike the script runtime (which avoids aya for start-up cost), `run` needs
//! CO-RE, so the cost of aya reading vmlinux BTF is the point here.
//!
//! Invariant: everything loaded is owned by [`Loaded`]; dropping it detaches and frees all
//! of it except what was pinned on request.

mod attach;
pub mod btf;
mod cgroup;
mod dump;
mod externs;
mod globals;
pub mod scan;
pub mod section;
mod tail;
mod watch;

use std::path::{Path, PathBuf};

use aya::{Ebpf, EbpfLoader};

pub use attach::PerfEventSpec;
pub use cgroup::CgroupFlags;
pub use dump::{GlobalDump, MapDump};
pub use section::AttachPoint;
pub use tail::TailSpec;
pub use watch::{check_record_types, watch, Event, Stop, WatchOptions};

/// Everything that stops an object from being loaded, each with the name of what failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an ELF file")]
    NotElf,
    #[error("not a BPF object: ELF machine {machine}, expected 247 (EM_BPF); build with clang -target bpf")]
    NotBpf { machine: u16 },
    #[error("malformed BPF object: {0}")]
    Malformed(String),
    #[error("program {program}: {reason}")]
    Section { program: String, reason: String },
    #[error("--set {name}: {reason}")]
    Set { name: String, reason: String },
    #[error("extern {name}: {reason}")]
    Extern { name: String, reason: String },
    #[error("{0}")]
    Option(String),
    #[error("{0}")]
    Aya(String),
    #[error("the kernel's BPF verifier rejected program {program} (section {section}): {errno}\nverifier log (last lines):\n  {}{}", log_tail.join("\n  "), hint.as_deref().map(|h| format!("\n{h}")).unwrap_or_default())]
    Verifier {
        program: String,
        section: String,
        errno: String,
        log_tail: Vec<String>,
        /// What the log means, when we know (a CO-RE relocation that found nothing).
        hint: Option<String>,
    },
    #[error("program {program}: {reason}")]
    Program { program: String, reason: String },
    #[error("--tail: {0}")]
    Tail(String),
    #[error("--pin: {0}")]
    Pin(String),
    /// The caller's event sink failed (stdout closed, disk full).
    #[error("output: {0}")]
    Output(#[source] std::io::Error),
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--set NAME=VALUE`, in order.
    pub sets: Vec<(String, String)>,
    /// `--tail MAP:KEY[-KEY]=PROG`.
    pub tails: Vec<TailSpec>,
    /// `--only NAME`: attach only these programs.
    pub only: Vec<String>,
    /// `--no-attach NAME`: load these but do not attach them.
    pub no_attach: Vec<String>,
    /// `--perf-event`: the event `perf_event` programs attach to.
    pub perf_event: Option<PerfEventSpec>,
    /// Where `LIBBPF_PIN_BY_NAME` maps are pinned (libbpf's default is /sys/fs/bpf).
    pub pin_maps_dir: Option<PathBuf>,
    /// `--cgroup`: the cgroup (v2 directory) cgroup programs attach to.
    pub cgroup: Option<PathBuf>,
    /// `--cgroup-flags`: attach with `BPF_PROG_ATTACH` and this flag instead of a BPF link.
    pub cgroup_flags: Option<CgroupFlags>,
}

/// What became of one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramState {
    /// Attached; the text says where.
    Attached(String),
    /// Loaded as the target of these program-array slots (`map[index]`), not attached.
    TailTarget(Vec<String>),
    /// Loaded, not attached, on purpose (the reason says why).
    NotAttached(String),
    /// Loaded, but attaching failed (the reason says why, and what the kernel lacks).
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct ProgramReport {
    pub name: String,
    pub section: String,
    pub state: ProgramState,
}

/// A loaded object: its programs attached (or not, as [`ProgramReport`] says).
pub struct Loaded {
    /// `--cgroup-flags` attachments, detached when dropped (each holds its own fds).
    _cgroup_attachments: Vec<cgroup::ProgAttachment>,
    /// Ring and perf buffers, taken out of `ebpf` and opened before anything was attached.
    streams: watch::Streams,
    ebpf: Ebpf,
    scan: scan::Scan,
    pub programs: Vec<ProgramReport>,
    /// Things worth saying that do not stop the run (tail-call chains that can loop).
    pub warnings: Vec<String>,
}

/// Reads and loads the object at `path`.
pub fn load_file(path: &Path, opts: &Options) -> Result<Loaded, LoadError> {
    let data = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load(&data, opts)
}

/// Loads an object: maps created (globals set, pinned-by-name maps reused), every program
/// loaded, program arrays filled, then programs attached by section name.
pub fn load(data: &[u8], opts: &Options) -> Result<Loaded, LoadError> {
    let scan = scan::scan(data)?;
    if scan.programs.is_empty() {
        return Err(LoadError::Malformed(
            "the object has no programs (no functions in program sections)".into(),
        ));
    }
    let mut points = Vec::with_capacity(scan.programs.len());
    for p in &scan.programs {
        let point = section::parse(&p.section).map_err(|reason| LoadError::Section {
            program: p.name.clone(),
            reason,
        })?;
        points.push(point);
    }
    for name in opts.only.iter().chain(&opts.no_attach) {
        if scan.program(name).is_none() {
            return Err(LoadError::Option(format!(
                "no program named '{name}' (the object has: {})",
                program_names(&scan)
            )));
        }
    }
    let sets = globals::encode_all(&scan, &opts.sets)?;
    let cgroup = cgroup_target(&scan, &points, opts)?;

    let mut loader = EbpfLoader::new();
    for (name, bytes) in &sets {
        loader.override_global(name.as_str(), bytes.as_slice(), true);
    }
    if let Some(dir) = &opts.pin_maps_dir {
        loader.default_map_pin_directory(dir);
    }
    let externs = externs::resolve(data, &scan)?;
    let mut for_aya = data.to_vec();
    for (at, bytes) in scan.aya_patches.iter().chain(&externs.patches) {
        if let Some(target) = for_aya.get_mut(*at..*at + bytes.len()) {
            target.copy_from_slice(bytes);
        }
    }
    let mut ebpf = loader
        .load(&for_aya)
        .map_err(|e| LoadError::Aya(chain(&e)))?;

    let kernel_btf = aya::Btf::from_sys_fs().ok();
    // Programs the kernel refused for lack of a feature (fentry here): reported, not fatal.
    let mut refused: Vec<(String, String)> = Vec::new();
    for (p, point) in scan.programs.iter().zip(&points) {
        match attach::load_program(&mut ebpf, p, point, kernel_btf.as_ref()) {
            Ok(()) => {}
            Err(e) => match attach::refusal(point, &e) {
                Some(reason) => refused.push((p.name.clone(), reason)),
                None => return Err(e),
            },
        }
    }

    // The programs hold their own references to the kconfig map now.
    drop(externs.kconfig_map);
    let wired = tail::wire(&mut ebpf, &scan, &opts.tails)?;
    let streams = watch::open_streams(&mut ebpf)?;
    let mut programs = Vec::with_capacity(scan.programs.len());
    let mut cgroup_attachments = Vec::new();
    let targets = attach::Targets {
        perf_event: opts.perf_event.as_ref(),
        cgroup: cgroup.as_ref(),
    };
    for (p, point) in scan.programs.iter().zip(&points) {
        let slots: Vec<String> = wired
            .slots
            .iter()
            .filter(|s| s.program == p.name)
            .map(|s| format!("{}[{}]", s.map, s.index))
            .collect();
        // What the user excluded is not attached whatever else is true of it.
        let state = if !opts.only.is_empty() && !opts.only.contains(&p.name) {
            ProgramState::NotAttached("not named by --only".into())
        } else if opts.no_attach.contains(&p.name) {
            ProgramState::NotAttached("--no-attach".into())
        } else if let Some((_, reason)) = refused.iter().find(|(n, _)| *n == p.name) {
            ProgramState::Failed(reason.clone())
        } else if !slots.is_empty() && !opts.only.contains(&p.name) {
            ProgramState::TailTarget(slots)
        } else {
            attach::attach(&mut ebpf, p, point, &targets, &mut cgroup_attachments)
        };
        programs.push(ProgramReport {
            name: p.name.clone(),
            section: p.section.clone(),
            state,
        });
    }
    Ok(Loaded {
        _cgroup_attachments: cgroup_attachments,
        streams,
        ebpf,
        scan,
        programs,
        warnings: wired.warnings,
    })
}

impl Loaded {
    /// Pins every program at `DIR/progs/NAME` and every map at `DIR/maps/NAME` (data
    /// sections without their leading dot), creating the directories; returns the paths.
    /// Pins outlive the run (links are not pinned, so nothing stays attached); removing the
    /// files (`rm -r DIR`) frees the objects. Ring and perf buffers are not pinned: their
    /// readers own them from before attaching on.
    pub fn pin(&mut self, dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
        let mut pinned = Vec::new();
        for sub in ["progs", "maps"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| {
                LoadError::Pin(format!("cannot create {}: {e}", dir.join(sub).display()))
            })?;
        }
        let names: Vec<String> = self.ebpf.programs().map(|(n, _)| n.to_string()).collect();
        for name in names {
            let path = dir.join("progs").join(&name);
            if let Some(prog) = self.ebpf.program_mut(&name) {
                prog.pin(&path)
                    .map_err(|e| LoadError::Pin(format!("program {name}: {}", chain(&e))))?;
                pinned.push(path);
            }
        }
        for (name, map) in self.ebpf.maps() {
            let path = dir.join("maps").join(name.trim_start_matches('.'));
            map.pin(&path)
                .map_err(|e| LoadError::Pin(format!("map {name}: {}", chain(&e))))?;
            pinned.push(path);
        }
        Ok(pinned)
    }

    /// The contents of every map worth printing, typed through BTF where the object says.
    pub fn dump_maps(&self) -> Vec<MapDump> {
        dump::maps(&self.ebpf, self.scan.btf.as_ref())
    }

    /// The values of the object's writable globals (`.data`, `.bss`).
    pub fn dump_globals(&self) -> Vec<GlobalDump> {
        dump::globals(&self.ebpf, &self.scan)
    }

    pub fn attached_count(&self) -> usize {
        self.programs
            .iter()
            .filter(|p| matches!(p.state, ProgramState::Attached(_)))
            .count()
    }
}

/// The cgroup of `--cgroup`, opened, when the object has cgroup programs to attach; an
/// error naming the option when it has them and none was given.
fn cgroup_target(
    scan: &scan::Scan,
    points: &[AttachPoint],
    opts: &Options,
) -> Result<Option<cgroup::CgroupTarget>, LoadError> {
    let wanted = scan.programs.iter().zip(points).find(|(p, point)| {
        matches!(point, AttachPoint::Cgroup { .. })
            && (opts.only.is_empty() || opts.only.contains(&p.name))
            && !opts.no_attach.contains(&p.name)
    });
    match (&opts.cgroup, wanted) {
        (Some(path), _) => cgroup::CgroupTarget::open(path, opts.cgroup_flags)
            .map(Some)
            .map_err(LoadError::Option),
        (None, Some((p, _))) => Err(LoadError::Option(format!(
            "program {} (section {}) attaches to a cgroup: name one with --cgroup PATH \
             (a cgroup v2 directory), or leave it out with --no-attach {}",
            p.name, p.section, p.name
        ))),
        (None, None) if opts.cgroup_flags.is_some() => Err(LoadError::Option(
            "--cgroup-flags needs --cgroup PATH".into(),
        )),
        (None, None) => Ok(None),
    }
}

fn program_names(scan: &scan::Scan) -> String {
    scan.programs
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error and its sources on one line: aya's top-level messages ("error relocating
/// section") only make sense with what caused them.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}
