//! `beetrace run OBJECT`: load a ready-made libbpf-style BPF object, attach its programs by
//! section name, stream what they print, dump their maps at exit. Argument parsing and
//! printing only; the work is in the `loader` crate.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loader::{Event, ProgramState, Stop};
use output::value::json_str;

/// Load and run a libbpf-style BPF object (built with clang -target bpf).
#[derive(Parser, Debug)]
#[command(
    name = "beetrace run",
    bin_name = "beetrace run",
    about = "Load and run a ready-made libbpf-style BPF object (built with clang -target bpf)",
    after_help = "Programs attach by section name (tp/CAT/NAME, tracepoint/CAT/NAME, raw_tp/NAME,\n\
raw_tracepoint/NAME, tp_btf/NAME, uprobe/PATH:FUNC[+OFF], uretprobe/..., perf_event,\n\
kprobe/FUNC, fentry/FUNC, and with --cgroup PATH: cgroup/connect4, cgroup/sock_create,\n\
cgroup/getsockopt, cgroup_skb/egress, sockops, ...). Programs placed in a program\n\
array (by --tail or by the object's own .values initialisation) are tail-call targets\n\
and are not attached.\n\
A program that cannot be attached is reported and the others keep running (--strict\n\
stops instead).\n\n\
EXAMPLES:\n    beetrace run fchmodat.bpf.o\n    beetrace run tail.bpf.o --tail syscall:59=hello_exec --tail syscall:222-226=hello_timer\n    beetrace run prog.bpf.o --set target_pid=1234 --duration 5s -f json\n    beetrace run fchmodat.bpf.o -c 'chmod 600 /tmp/x'\n    beetrace run mark.bpf.o --cgroup /sys/fs/cgroup/test --cgroup-flags multi"
)]
struct RunCli {
    /// The BPF object file.
    #[arg(value_name = "OBJECT")]
    object: PathBuf,

    /// Set global variable NAME (in .rodata, .data or .bss) before loading.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    sets: Vec<(String, String)>,

    /// Put PROG in program array MAP at KEY (or KEY-KEY); MAP may be left out when the
    /// object has a single program array.
    #[arg(long = "tail", value_name = "[MAP:]KEY[-KEY]=PROG")]
    tails: Vec<loader::TailSpec>,

    /// Attach only this program (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,

    /// Load this program but do not attach it (repeatable).
    #[arg(long = "no-attach", value_name = "NAME")]
    no_attach: Vec<String>,

    /// The event perf_event programs attach to, on every CPU:
    /// software:EVENT or hardware:EVENT, then :PERIOD or :freq=HZ.
    #[arg(long = "perf-event", value_name = "TYPE:EVENT[:PERIOD|:freq=HZ]")]
    perf_event: Option<loader::PerfEventSpec>,

    /// Pin every program (DIR/progs/NAME) and map (DIR/maps/NAME) so they outlive the run.
    #[arg(long = "pin", value_name = "DIR")]
    pin: Option<PathBuf>,

    /// Directory for maps marked LIBBPF_PIN_BY_NAME (default /sys/fs/bpf, as libbpf).
    #[arg(long = "pin-maps-dir", value_name = "DIR")]
    pin_maps_dir: Option<PathBuf>,

    /// Attach cgroup programs (cgroup/connect4, cgroup_skb/egress, sockops, ...) to this
    /// cgroup v2 directory.
    #[arg(long = "cgroup", value_name = "PATH")]
    cgroup: Option<PathBuf>,

    /// Attach cgroup programs with BPF_PROG_ATTACH and BPF_F_ALLOW_MULTI or
    /// BPF_F_ALLOW_OVERRIDE instead of a BPF link; detached at exit.
    #[arg(long = "cgroup-flags", value_name = "multi|override")]
    cgroup_flags: Option<loader::CgroupFlags>,

    /// Decode the records of ring buffer MAP as BTF type TYPE (e.g. events="struct event").
    #[arg(long = "record", value_name = "MAP=TYPE", value_parser = parse_set)]
    records: Vec<(String, String)>,

    /// Stop with an error if any program fails to attach.
    #[arg(long = "strict")]
    strict: bool,

    /// Do not read bpf_trace_printk output.
    #[arg(long = "no-printk")]
    no_printk: bool,

    /// Run CMD (with /bin/sh) once the programs are attached; stop when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,

    /// Stop after this long (seconds; `5s`, `500ms` and `2m` work too).
    #[arg(long = "duration", value_name = "TIME", value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Output format: text, or json (one JSON object per line).
    #[arg(short = 'f', value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Quiet: no per-program lines, no "Attached" line.
    #[arg(short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected NAME=VALUE"))?;
    if k.is_empty() {
        return Err(format!("'{s}': the name is empty"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v * scale))
        .ok_or_else(|| format!("'{s}' is not a duration (e.g. 5, 5s, 500ms)"))
}

/// Entry point of `beetrace run ...`.
pub fn main() -> ExitCode {
    let cli = RunCli::parse_from(std::env::args_os().skip(1));
    match real_main(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ERROR: {message}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: RunCli) -> Result<ExitCode, String> {
    let json = cli.format == Format::Json;
    // The printk instance exists before any program runs, so no line is missed.
    let mut printk = if cli.no_printk {
        None
    } else {
        let tracefs = kernel::Tracefs::open().map_err(|e| e.to_string())?;
        if tracefs.mounted_by_us() {
            eprintln!(
                "beetrace: tracefs was not mounted; mounted it at {}",
                tracefs.root().display()
            );
        }
        Some(
            kernel::trace_pipe::PrintkPipe::open(&tracefs)
                .map_err(|e| format!("cannot read bpf_trace_printk output: {e}"))?,
        )
    };
    if cli.pin.is_some() || cli.pin_maps_dir.is_none() {
        // Pinning needs bpffs; LIBBPF_PIN_BY_NAME maps default to /sys/fs/bpf.
        if let Ok((path, true)) = kernel::ensure_bpffs() {
            eprintln!(
                "beetrace: bpffs was not mounted; mounted it at {}",
                path.display()
            );
        }
    }

    let options = loader::Options {
        sets: cli.sets,
        tails: cli.tails,
        only: cli.only,
        no_attach: cli.no_attach,
        perf_event: cli.perf_event,
        pin_maps_dir: cli.pin_maps_dir,
        cgroup: cli.cgroup,
        cgroup_flags: cli.cgroup_flags,
    };
    let mut loaded = loader::load_file(&cli.object, &options).map_err(|e| e.to_string())?;
    loader::check_record_types(&loaded, &cli.records).map_err(|e| e.to_string())?;

    let failed = loaded
        .programs
        .iter()
        .filter(|p| matches!(p.state, ProgramState::Failed(_)))
        .count();
    for p in &loaded.programs {
        match &p.state {
            ProgramState::Failed(reason) => {
                eprintln!(
                    "ERROR: program {} ({}) not attached: {reason}",
                    p.name, p.section
                )
            }
            _ if cli.quiet => {}
            ProgramState::Attached(at) => eprintln!("beetrace: {}: attached to {at}", p.name),
            ProgramState::TailTarget(slots) => eprintln!(
                "beetrace: {}: tail-call target in {}",
                p.name,
                slots.join(", ")
            ),
            ProgramState::NotAttached(why) => {
                eprintln!("beetrace: {}: not attached ({why})", p.name)
            }
        }
    }
    for w in &loaded.warnings {
        eprintln!("WARNING: {w}");
    }
    if failed > 0 && (cli.strict || loaded.attached_count() == 0) {
        return Err(if cli.strict {
            "--strict: stopping because a program could not be attached".into()
        } else {
            "no program could be attached".into()
        });
    }
    if let Some(dir) = &cli.pin {
        let pinned = loaded.pin(dir).map_err(|e| e.to_string())?;
        if !cli.quiet {
            eprintln!(
                "beetrace: pinned {} objects under {}",
                pinned.len(),
                dir.display()
            );
        }
    }
    if !cli.quiet {
        let n = loaded.attached_count();
        eprintln!(
            "Attached {n} program{}{}",
            if n == 1 { "" } else { "s" },
            if failed == 0 {
                ""
            } else {
                " (some failed, see above)"
            }
        );
    }

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let watch_opts = loader::WatchOptions {
        duration: cli.duration,
        record_types: cli.records,
    };
    let mut command = match &cli.command {
        Some(c) => Some(
            std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("exec {c}"))
                .spawn()
                .map_err(|e| format!("cannot run '{c}': {e}"))?,
        ),
        None => None,
    };
    let stop = loader::watch(
        &mut loaded,
        printk.as_mut(),
        &watch_opts,
        command.as_mut(),
        &mut |event| {
            writeln!(out, "{}", event_line(&event, json))?;
            out.flush()
        },
    );
    let stop = match stop {
        Ok(s) => s,
        // `beetrace run ... | head` closing the pipe is a normal way to stop.
        Err(loader::LoadError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Stop::Duration
        }
        Err(e) => return Err(e.to_string()),
    };
    drop(printk);

    for g in loaded.dump_globals() {
        let _ = writeln!(
            out,
            "{}",
            if json {
                format!(
                    "{{\"type\": \"global\", \"data\": {{\"name\": {}, \"section\": {}, \"value\": {}}}}}",
                    json_str(&g.name),
                    json_str(g.section),
                    g.value.json()
                )
            } else {
                format!("{} = {}", g.name, g.value.text())
            }
        );
    }
    for m in loaded.dump_maps() {
        if json {
            let entries: Vec<String> = m
                .entries
                .iter()
                .map(|(k, v)| format!("{{\"key\": {}, \"value\": {}}}", k.json(), v.json()))
                .collect();
            let _ = writeln!(
                out,
                "{{\"type\": \"map\", \"data\": {{\"name\": {}, \"kind\": {}, \"entries\": [{}]}}}}",
                json_str(&m.name),
                json_str(&m.kind),
                entries.join(", ")
            );
        } else {
            for (k, v) in &m.entries {
                let _ = writeln!(out, "@{}[{}]: {}", m.name, k.text(), v.text());
            }
        }
    }
    let _ = out.flush();
    drop(loaded);
    // The command keeps running if we were stopped first, as with bpftrace -c.
    Ok(match stop {
        Stop::Signal(_) | Stop::Duration | Stop::Command(_) => ExitCode::SUCCESS,
    })
}

/// One output line for an event, in text or JSON.
fn event_line(event: &Event, json: bool) -> String {
    match (event, json) {
        (Event::Printk(l), false) => format!(
            "{}-{} [{:03}] {:.6}: {}",
            l.comm, l.pid, l.cpu, l.time, l.message
        ),
        (Event::Printk(l), true) => format!(
            "{{\"type\": \"printk\", \"data\": {{\"time\": {:.6}, \"cpu\": {}, \"pid\": {}, \"comm\": {}, \"message\": {}}}}}",
            l.time,
            l.cpu,
            l.pid,
            json_str(&l.comm),
            json_str(&l.message)
        ),
        (Event::Record { map, value }, false) => format!("{map}: {}", value.text()),
        (Event::Record { map, value }, true) => format!(
            "{{\"type\": \"record\", \"data\": {{\"map\": {}, \"value\": {}}}}}",
            json_str(map),
            value.json()
        ),
        (Event::Lost { map, count }, false) => format!("Lost {count} events in {map}"),
        (Event::Lost { map, count }, true) => format!(
            "{{\"type\": \"lost_events\", \"data\": {{\"map\": {}, \"events\": {count}}}}}",
            json_str(map)
        ),
    }
}
