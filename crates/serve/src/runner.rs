//! One thread per script: `runtime::run` until the script ends or serve stops, with the
//! script's maps handed to the shared state as soon as they exist.

use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::state::{lock, ScriptState, Status};

/// A script ready to run: checked and compiled by the caller (the CLI, which owns the
/// diagnostics), named for its metrics.
pub struct Prepared {
    pub state: Arc<ScriptState>,
    pub analysis: sema::Analysis,
    pub compiled: codegen::Compiled,
}

impl Prepared {
    /// Every probe of the compiled script, as its programs attach them.
    pub fn probe_names(compiled: &codegen::Compiled) -> Vec<String> {
        let mut probes: Vec<String> = compiled
            .programs
            .iter()
            .map(|p| p.attach.probe_name())
            .collect();
        probes.dedup();
        probes
    }
}

/// A script's runner thread and the flag that ends its run.
pub(crate) struct Runner {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Runner {
    /// Ends the run (detaching its probes; pinned maps stay) and waits for it.
    pub(crate) fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Starts a script. Its printf output goes to stdout, its status lines to stderr. With
/// `pin`, its maps are pinned in (or, after a reload, reused from) `pin/<prefix>`.
pub(crate) fn start(script: Prepared, pin: Option<&Path>) -> Runner {
    let pin = pin.map(|dir| dir.join(&script.state.prefix));
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let Prepared {
            state,
            analysis,
            compiled,
        } = script;
        let (sender, receiver) = mpsc::channel();
        let options = runtime::RunOptions {
            quiet: true,
            share_maps: Some(sender),
            stop: Some(stop_flag),
            pin,
            ..runtime::RunOptions::default()
        };
        // The maps arrive from inside `run`, which only returns when the script ends, so
        // a helper thread moves them into the shared state.
        let for_maps = state.clone();
        let mover = std::thread::spawn(move || {
            if let Ok(maps) = receiver.recv() {
                *lock(&for_maps.maps) = maps;
                for_maps.set_status(Status::Running);
            }
        });
        let mut out = io::stdout();
        let result = runtime::run(&compiled, &analysis, &mut out, &mut io::stderr(), options);
        let _ = mover.join();
        let ended = match result {
            Ok(outcome) => format!("{outcome:?}"),
            Err(e) => {
                eprintln!("beetrace serve: {}: {e}", state.path);
                e.to_string()
            }
        };
        lock(&state.maps).clear();
        state.set_status(Status::Ended(ended));
    });
    Runner { stop, thread }
}
