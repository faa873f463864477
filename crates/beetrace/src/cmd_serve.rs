//! `beetrace serve --listen ADDR SCRIPT...`: compiles every script (diagnostics as the
//! tracer prints them), then hands them to the `serve` crate, which runs them and serves
//! their maps as Prometheus metrics.

use std::process::ExitCode;

use clap::Parser;

/// Run scripts continuously and serve their maps as Prometheus metrics.
#[derive(Parser, Debug)]
#[command(
    name = "beetrace serve",
    bin_name = "beetrace serve",
    after_help = "ENDPOINTS:\n    /metrics   Prometheus text (OpenMetrics when asked by Accept)\n    /healthz   200 when every script runs\n    /scripts   the scripts, their probes and maps (JSON)"
)]
struct Cli {
    /// Address to serve HTTP on, e.g. 127.0.0.1:9435 (port 0 picks a free one).
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:9435")]
    listen: String,

    /// Series exported per map at most; more are left out and counted in the
    /// beetrace_series_dropped gauge.
    #[arg(long = "max-series", value_name = "N", default_value_t = 10000)]
    max_series: usize,

    /// Pin each script's maps in DIR/<script> on a bpffs, so that a reload (SIGHUP) and
    /// a restart continue their values.
    #[arg(long = "pin", value_name = "DIR")]
    pin: Option<std::path::PathBuf>,

    /// Script files; each map becomes the metric <script file stem>_<map name>.
    #[arg(value_name = "SCRIPT", required = true)]
    scripts: Vec<String>,
}

/// Entry point of `beetrace serve`.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(crate::subcommand_args());
    match real_main(&cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ERROR: {message}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: &Cli) -> Result<ExitCode, String> {
    let Some(prepared) = prepare(cli)? else {
        return Ok(ExitCode::FAILURE);
    };
    if cli.pin.is_some() {
        crate::ensure_bpffs()?;
    }
    let options = serve::ServeOptions {
        listen: cli.listen.clone(),
        max_series: cli.max_series,
        pin: cli.pin.clone(),
    };
    let reload = || prepare(cli)?.ok_or_else(|| "a script has errors".to_string());
    serve::serve(&options, prepared, &reload).map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and compiles every script (at start, and again on SIGHUP); `None` when one has
/// errors, which are printed.
fn prepare(cli: &Cli) -> Result<Option<Vec<serve::Prepared>>, String> {
    let options = crate::script::sema_options()?;
    let mut prepared = Vec::new();
    let mut prefixes = std::collections::HashSet::new();
    for path in &cli.scripts {
        let source =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let prefix = serve::names::script_prefix(path);
        if !prefixes.insert(prefix.clone()) {
            return Err(format!(
                "{path}: another script already gives its metrics the prefix {prefix}_; \
                 rename one of them"
            ));
        }
        let Some((analysis, compiled)) = crate::script::compile(path, &source, &options)? else {
            return Ok(None);
        };
        let probes = serve::Prepared::probe_names(&compiled);
        let labels = match serve::labels::label_names(path, &source, &analysis.maps) {
            Ok(labels) => labels,
            Err(message) => {
                eprintln!("{message}");
                return Ok(None);
            }
        };
        prepared.push(serve::Prepared {
            state: serve::state::ScriptState::new(path.clone(), prefix, probes, labels),
            analysis,
            compiled,
        });
    }
    Ok(Some(prepared))
}
