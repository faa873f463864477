//! What the runtime, differential and run harnesses share: finding case files, checking for
//! root, waiting for or killing the processes a case starts, and finding the BPF objects a
//! process holds so teardown checks can tell nothing leaked.

#![allow(dead_code)] // each harness uses its own subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Reads and parses every `*.<ext>` file of `dir`, sorted by name. Each entry is
/// `(suite name, cases or an error message)`; `parse` returns `(line, message)` on error.
pub fn load_suites<C>(
    dir: &Path,
    ext: &str,
    parse: impl Fn(&str) -> Result<Vec<C>, (usize, String)>,
) -> Vec<(String, Result<Vec<C>, String>)> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect(),
        Err(e) => {
            return vec![(
                "harness".to_string(),
                Err(format!("cannot read {}: {e}", dir.display())),
            )]
        }
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let suite = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parsed = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|text| {
                    parse(&text)
                        .map_err(|(line, message)| format!("{}:{line}: {message}", path.display()))
                });
            (suite, parsed)
        })
        .collect()
}

/// True if the effective user id is 0, read from `/proc/self/status`.
pub fn is_root() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// Polls `child` until it exits, or returns `None` once `deadline` passes.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
}

/// Sends SIGKILL to the process group that `child` leads.
pub fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The kernel objects a process holds, by id.
#[derive(Debug, Default)]
pub struct BpfIds {
    pub progs: Vec<u32>,
    pub maps: Vec<u32>,
    pub links: Vec<u32>,
}

impl BpfIds {
    /// Reads every fdinfo file of `pid`.
    pub fn of_process(pid: u32) -> BpfIds {
        let mut ids = BpfIds::default();
        let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
            return ids;
        };
        for entry in entries.flatten() {
            // An fd may close between listing and reading; skip it then.
            let Ok(text) = fs::read_to_string(entry.path()) else {
                continue;
            };
            for line in text.lines() {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                let Ok(id) = value.trim().parse::<u32>() else {
                    continue;
                };
                let list = match key {
                    "prog_id" => &mut ids.progs,
                    "map_id" => &mut ids.maps,
                    "link_id" => &mut ids.links,
                    _ => continue,
                };
                if !list.contains(&id) {
                    list.push(id);
                }
            }
        }
        ids
    }

    /// `(bpftool object kind, id)` for everything recorded.
    pub fn all(&self) -> Vec<(&'static str, u32)> {
        let tag =
            |kind, list: &Vec<u32>| list.iter().map(move |&id| (kind, id)).collect::<Vec<_>>();
        let mut all = tag("prog", &self.progs);
        all.extend(tag("map", &self.maps));
        all.extend(tag("link", &self.links));
        all
    }
}

/// True if `bpftool KIND show id ID` still finds the object.
pub fn still_exists(kind: &str, id: u32) -> bool {
    Command::new("bpftool")
        .args([kind, "show", "id", &id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn have_bpftool() -> bool {
    Command::new("bpftool")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The objects of `ids` that still exist after waiting up to `within` for the kernel to free
/// them (it does so asynchronously).
pub fn leaked(ids: &BpfIds, within: Duration) -> Vec<(&'static str, u32)> {
    let deadline = Instant::now() + within;
    let mut left = ids.all();
    loop {
        left.retain(|&(kind, id)| still_exists(kind, id));
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A test of a listed harness (`run`, `serve`): a plain function.
pub type ListedTest = fn() -> Result<(), libtest_mimic::Failed>;
/// Why a listed test cannot run here, if it cannot.
pub type WhyNot = fn() -> Option<String>;

/// Runs a harness of listed tests with libtest's arguments (two threads unless told
/// otherwise: the VM has two cores). Every test is ignored with `skip` when given, and a
/// test named in `requirements` with its check's reason when that check fails.
pub fn run_listed(
    tests: &'static [(&'static str, ListedTest)],
    requirements: &'static [(&'static str, WhyNot)],
    skip: Option<String>,
) -> ! {
    use libtest_mimic::{Arguments, Completion, Trial};
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(2);
    }
    let trials = tests
        .iter()
        .map(|&(name, f)| {
            let skip = skip.clone().or_else(|| {
                requirements
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, why_not)| why_not())
            });
            Trial::ignorable_test(name, move || match skip {
                Some(reason) => Ok(Completion::ignored_with(reason)),
                None => f().map(|()| Completion::Completed),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
