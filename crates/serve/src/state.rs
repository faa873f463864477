//! What the HTTP side sees of the running scripts: one [`ScriptState`] per script, filled
//! by its runner thread (its maps once `begin` has fired, its status when it ends).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use runtime::LiveMap;

/// Where a script's run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Loading and attaching.
    Starting,
    Running,
    /// The run ended (`exit()`, a failure); its maps are no longer exported.
    Ended(String),
}

#[derive(Debug)]
pub struct ScriptState {
    /// The script's file, as given on the command line.
    pub path: String,
    /// The metric name prefix (see [`crate::names::script_prefix`]).
    pub prefix: String,
    /// Every probe the script attaches, as `beetrace -l` spells them.
    pub probes: Vec<String>,
    /// Label names of map keys by map (`@calls`), from `// beetrace:labels` (see
    /// [`crate::labels`]); other maps get `key0`, `key1`, ...
    pub labels: HashMap<String, Vec<String>>,
    pub(crate) maps: Mutex<Vec<LiveMap>>,
    pub(crate) status: Mutex<Status>,
}

impl ScriptState {
    pub fn new(
        path: String,
        prefix: String,
        probes: Vec<String>,
        labels: HashMap<String, Vec<String>>,
    ) -> Arc<ScriptState> {
        Arc::new(ScriptState {
            path,
            prefix,
            probes,
            labels,
            maps: Mutex::new(Vec::new()),
            status: Mutex::new(Status::Starting),
        })
    }

    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    pub(crate) fn set_status(&self, status: Status) {
        *lock(&self.status) = status;
    }
}

/// Every script `serve` runs, shared by the runner threads and the HTTP server.
pub type Scripts = Arc<Mutex<Vec<Arc<ScriptState>>>>;

/// A poisoned lock only means another thread panicked while holding it; the data (maps
/// and statuses) stay usable, so serving goes on.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
