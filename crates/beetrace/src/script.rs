//! Running a script (the default command): flags compatible with bpftrace's, driving the
//! pipeline syntax → sema → codegen → object → runtime.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use syntax::Diagnostic;

/// A bpftrace-compatible tracer that compiles scripts straight to eBPF.
#[derive(Parser, Debug)]
#[command(
    name = "beetrace",
    version,
    about,
    after_help = "EXAMPLES:\n    beetrace -e 'BEGIN { printf(\"hello\\n\"); exit(); }'\n    beetrace -l 'tracepoint:sched:*'\n    beetrace -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %d\\n\", comm, args.dfd); }'\n    beetrace script.bt\n\nSUBCOMMANDS (each with its own --help):\n    run OBJECT        load and run a ready-made BPF object\n    serve SCRIPT...   run scripts, serve their maps as Prometheus metrics\n    map, prog         bpftool's map and prog commands\n    unpin PATH        remove what --pin left\n    fmt FILE...       print scripts in the canonical layout (--check, -w)\n    lsp               language server on stdin/stdout for editors"
)]
struct Cli {
    /// The program to run, given on the command line.
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,

    /// List probes (matching the pattern given as the positional argument).
    #[arg(short = 'l')]
    list: bool,

    /// Verbose: with -l, show tracepoint fields.
    #[arg(short = 'v')]
    verbose: bool,

    /// Quiet: no "Attached N probes" line.
    #[arg(short = 'q')]
    quiet: bool,

    /// Print the disassembly of every generated program instead of running.
    #[arg(short = 'd', long = "disasm")]
    disasm: bool,

    /// Write the compiled ELF object to FILE instead of running it.
    #[arg(long = "emit-elf", value_name = "FILE")]
    emit_elf: Option<PathBuf>,

    /// Write the script's output to FILE.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Trace only process PID (probes other than BEGIN, END and interval:); stop when it exits.
    #[arg(short = 'p', value_name = "PID")]
    pid: Option<u32>,

    /// Run CMD once probes are attached; stop when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    command: Option<String>,

    /// Load and attach everything, then exit without running.
    #[arg(long = "dry-run")]
    dry_run: bool,

    /// Output format: text (bpftrace's) or json (bpftrace's NDJSON records).
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    format: String,

    /// Attach each syscall tracepoint on its own instead of through one dispatcher program
    /// per direction (slower to attach and detach; for comparison).
    #[arg(long = "no-syscall-dispatch")]
    no_syscall_dispatch: bool,

    /// Allow calls that change the system: system(), signal().
    #[arg(long = "unsafe")]
    unsafe_allowed: bool,

    /// Pin the script's maps in DIR on a bpffs (`@name` at DIR/name, `@` at DIR/@), reusing
    /// compatible maps an earlier run pinned there; they outlive the run.
    #[arg(long = "pin", value_name = "DIR")]
    pin: Option<PathBuf>,

    /// With --pin: also pin the programs and their attachments, so tracing continues after
    /// beetrace exits (until `beetrace unpin DIR`).
    #[arg(long = "pin-progs", requires = "pin")]
    pin_progs: bool,

    /// Stop after this many seconds (as if Ctrl-C were pressed).
    #[arg(long = "duration", value_name = "SECONDS")]
    duration: Option<f64>,

    /// Script file (`-` reads standard input), or with -l the probe pattern.
    #[arg(value_name = "FILE")]
    file: Option<String>,

    /// Arguments after the script (positional parameters; not used yet).
    #[arg(trailing_var_arg = true, hide = true)]
    args: Vec<String>,
}

/// Entry point of `beetrace [OPTIONS] [FILE]`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ERROR: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_tracefs() -> Result<kernel::Tracefs, String> {
    let tracefs = kernel::Tracefs::open().map_err(|e| e.to_string())?;
    if tracefs.mounted_by_us() {
        eprintln!(
            "beetrace: tracefs was not mounted; mounted it at {}",
            tracefs.root().display()
        );
    }
    Ok(tracefs)
}

fn real_main(cli: Cli) -> Result<ExitCode, String> {
    if cli.list {
        let tracefs = open_tracefs()?;
        let pattern = cli.program.as_deref().or(cli.file.as_deref());
        let lines =
            kernel::listing::list(&tracefs, pattern, cli.verbose).map_err(|e| e.to_string())?;
        let mut out = io::stdout().lock();
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let json = match cli.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(format!(
                "unknown output format '{other}'; use -f text or -f json"
            ))
        }
    };

    let (name, source) = match (&cli.program, &cli.file) {
        (Some(p), _) => ("stdin".to_string(), p.clone()),
        (None, Some(f)) if f == "-" => {
            let mut text = String::new();
            io::Read::read_to_string(&mut io::stdin(), &mut text)
                .map_err(|e| format!("cannot read the script from standard input: {e}"))?;
            ("stdin".to_string(), text)
        }
        (None, Some(f)) => {
            let text = fs::read_to_string(f).map_err(|e| format!("cannot read {f}: {e}"))?;
            (f.clone(), text)
        }
        (None, None) => {
            return Err("no program given: use -e 'PROGRAM' or a script file (see --help)".into())
        }
    };

    let options = sema::Options {
        unsafe_allowed: cli.unsafe_allowed,
        no_syscall_dispatch: cli.no_syscall_dispatch,
        target_pid: cli.pid,
        ..sema_options()?
    };
    let Some((analysis, compiled)) = compile(&name, &source, &options)? else {
        return Ok(ExitCode::FAILURE);
    };
    if cli.disasm || cli.emit_elf.is_some() {
        if let Some(path) = &cli.emit_elf {
            let elf = compiled
                .object
                .to_elf()
                .map_err(|e| format!("internal error: {e}"))?;
            fs::write(path, &elf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        if cli.disasm {
            print!("{}", compiled.object.disassemble());
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut out: Box<dyn Write> = match &cli.output {
        Some(path) => Box::new(io::BufWriter::new(
            fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout())),
    };
    let command = cli.command.as_ref().map(|c| {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(format!("exec {c}"));
        cmd
    });
    if cli.pin.is_some() {
        crate::ensure_bpffs()?;
    }
    let options = runtime::RunOptions {
        dry_run: cli.dry_run,
        quiet: cli.quiet,
        command,
        pid: cli.pid,
        duration: cli.duration.map(Duration::from_secs_f64),
        json,
        pin: cli.pin.clone(),
        pin_progs: cli.pin_progs,
        ..runtime::RunOptions::default()
    };
    let result = runtime::run(&compiled, &analysis, &mut out, &mut io::stderr(), options);
    let _ = out.flush();
    match result {
        Ok(runtime::Outcome::Exit(code)) => Ok(ExitCode::from(code as u8)),
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(runtime::RuntimeError::Verifier {
            probe,
            span: Some(span),
            log_tail,
        }) => {
            let mut d = Diagnostic::error(
                span,
                format!("the kernel's BPF verifier rejected the program for {probe} here"),
            );
            d.notes.push("verifier log (last lines):".into());
            d.notes.extend(log_tail.iter().map(|l| format!("  {l}")));
            eprint!("{}", d.render(&name, &source));
            Ok(ExitCode::FAILURE)
        }
        Err(runtime::RuntimeError::Verifier {
            probe, log_tail, ..
        }) => Err(format!(
            "the kernel's BPF verifier rejected the program for {probe}:\n  {}",
            log_tail.join("\n  ")
        )),
        // `beetrace ... | head` closing the pipe is a normal way to stop.
        Err(runtime::RuntimeError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The script options every command shares: the bpftrace environment settings.
pub(crate) fn sema_options() -> Result<sema::Options, String> {
    Ok(sema::Options {
        max_map_keys: env_number("BPFTRACE_MAX_MAP_KEYS")?,
        max_strlen: env_number("BPFTRACE_MAX_STRLEN")?,
        stack_mode: env_stack_mode()?,
        ..sema::Options::default()
    })
}

/// Parses, checks and compiles a script (`name` is how diagnostics call it), printing its
/// diagnostics on stderr; `Ok(None)` when it has errors. Tracefs is opened only once the
/// script parses, so a syntax error is reported even where tracefs cannot be.
pub(crate) fn compile(
    name: &str,
    source: &str,
    options: &sema::Options,
) -> Result<Option<(sema::Analysis, codegen::Compiled)>, String> {
    let (script, diags) = syntax::parse(source);
    if report(&diags, name, source) {
        return Ok(None);
    }
    let tracefs = open_tracefs()?;
    let (analysis, diags) = sema::analyze(&script, &tracefs, options);
    if report(&diags, name, source) {
        return Ok(None);
    }
    match codegen::compile(&analysis) {
        Ok(compiled) => Ok(Some((analysis, compiled))),
        Err(errors) => {
            report(&errors, name, source);
            Ok(None)
        }
    }
}

/// A bpftrace environment setting such as `BPFTRACE_MAX_MAP_KEYS=100000`.
fn env_number(name: &str) -> Result<Option<u32>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| format!("{name}={v} is not a positive integer")),
    }
}

/// `BPFTRACE_STACK_MODE=perf`: how `kstack`/`ustack` print when the call names no mode.
fn env_stack_mode() -> Result<Option<sema::types::StackMode>, String> {
    match std::env::var("BPFTRACE_STACK_MODE") {
        Err(_) => Ok(None),
        Ok(v) => sema::types::StackMode::from_name(&v.to_ascii_lowercase())
            .map(Some)
            .ok_or_else(|| format!("BPFTRACE_STACK_MODE={v}: use bpftrace, perf, raw or build_id")),
    }
}

/// Prints diagnostics; true if any is an error.
fn report(diags: &[Diagnostic], name: &str, source: &str) -> bool {
    if !diags.is_empty() {
        eprint!("{}", syntax::render_all(diags, name, source));
    }
    diags.iter().any(Diagnostic::is_error)
}
