//! `beetrace serve`: runs scripts continuously and serves their `@maps` over HTTP as
//! Prometheus metrics, so a fleet's Prometheus scrapes beetrace like any exporter.
//!
//! Each script runs in its own thread through `runtime::run` (which hands its maps out
//! through `RunOptions::share_maps`); a scrape reads the maps at that moment (`metrics`),
//! decoded by `output::samples` and encoded by `prometheus-client`. The HTTP server is
//! `tiny_http` (`http`). Scripts are compiled by the caller, which owns diagnostics.

mod http;
pub mod labels;
mod metrics;
pub mod names;
mod runner;
pub mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use runner::Prepared;
use state::Scripts;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
}

/// What `beetrace serve` was asked for.
#[derive(Debug)]
pub struct ServeOptions {
    /// `--listen ADDR` (`127.0.0.1:9435`).
    pub listen: String,
    /// `--max-series N`: series exported per map at most; more are counted in
    /// `beetrace_series_dropped`.
    pub max_series: usize,
    /// `--pin DIR`: each script's maps are pinned in `DIR/<prefix>`, so they outlive a
    /// reload (and serve itself), as with `beetrace --pin`.
    pub pin: Option<std::path::PathBuf>,
}

/// Compiles the scripts again from their files, for a reload; `Err` (after printing the
/// diagnostics) leaves the running scripts as they are.
pub type Reload<'a> = &'a dyn Fn() -> Result<Vec<Prepared>, String>;

/// Runs the scripts and serves their metrics until SIGINT or SIGTERM. Scripts that end
/// on their own (`exit()`, an error) stop being exported and show in `/scripts` and
/// `/healthz`; the others keep running. SIGHUP compiles the scripts again with `reload`
/// and, if all of them compile, replaces the running ones.
pub fn serve(
    options: &ServeOptions,
    scripts: Vec<Prepared>,
    reload: Reload,
) -> Result<(), ServeError> {
    runtime::catch_termination();
    runtime::catch_hangup();
    let server =
        tiny_http::Server::http(options.listen.as_str()).map_err(|e| ServeError::Listen {
            addr: options.listen.clone(),
            message: e.to_string(),
        })?;
    let shared: Scripts = Arc::new(Mutex::new(
        scripts.iter().map(|s| s.state.clone()).collect(),
    ));
    let registry = metrics::registry(shared.clone(), options.max_series);
    let pin = options.pin.as_deref();
    let mut runners: Vec<runner::Runner> =
        scripts.into_iter().map(|s| runner::start(s, pin)).collect();
    eprintln!(
        "beetrace serve: {} script(s), metrics at http://{}/metrics",
        runners.len(),
        server
            .server_addr()
            .to_ip()
            .map_or(options.listen.clone(), |a| a.to_string())
    );
    while runtime::termination_signal().is_none() {
        if runtime::take_hangup() {
            runners = reload_scripts(reload, runners, &shared, pin);
        }
        match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => http::respond(request, &shared, &registry),
            Ok(None) => {}
            // EINTR from the signal that stops us; the loop condition notices it.
            Err(_) => {}
        }
    }
    // Every run sees the same signal and detaches on its own.
    for r in runners {
        r.stop();
    }
    Ok(())
}

/// SIGHUP: the scripts compiled again from their files replace the running ones, one
/// after the other (each is detached before its successor attaches, so a probe may miss
/// events for that moment). With `--pin` the new runs reuse the pinned maps, so counts
/// go on; without it they start from zero. If any script fails to compile, nothing
/// changes.
fn reload_scripts(
    reload: Reload,
    runners: Vec<runner::Runner>,
    shared: &Scripts,
    pin: Option<&std::path::Path>,
) -> Vec<runner::Runner> {
    eprintln!("beetrace serve: SIGHUP: reloading the scripts");
    let fresh = match reload() {
        Ok(fresh) => fresh,
        Err(e) => {
            eprintln!("beetrace serve: reload failed, the scripts keep running as they were: {e}");
            return runners;
        }
    };
    for r in runners {
        r.stop();
    }
    *state::lock(shared) = fresh.iter().map(|s| s.state.clone()).collect();
    let runners = fresh.into_iter().map(|s| runner::start(s, pin)).collect();
    eprintln!("beetrace serve: reloaded");
    runners
}
