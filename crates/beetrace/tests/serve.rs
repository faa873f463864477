//! `beetrace serve` against the real kernel: each test starts the binary on a free
//! loopback port, makes system calls from its own thread (scripts filter on that thread's
//! id, so tests running side by side do not count each other's calls), scrapes the HTTP
//! endpoints and checks the numbers. Every run is stopped with SIGTERM and checked for
//! leaked programs, maps and links. Without root the tests are reported as ignored.
//!
//! Run with `cargo test -p beetrace --test serve`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use crate::support::{leaked, BpfIds};

type Outcome = Result<(), Failed>;
type Test = fn() -> Outcome;
/// Why a test cannot run here, if it cannot.
type Requirement = fn() -> Option<String>;

const TESTS: &[(&str, Test)] = &[
    (
        "counter_follows_a_known_workload",
        counter_follows_a_known_workload,
    ),
    (
        "keyed_maps_histograms_and_stats",
        keyed_maps_histograms_and_stats,
    ),
    (
        "openmetrics_when_the_scraper_asks",
        openmetrics_when_the_scraper_asks,
    ),
    ("healthz_and_scripts", healthz_and_scripts),
    ("label_cardinality_is_capped", label_cardinality_is_capped),
    (
        "script_errors_point_at_the_file",
        script_errors_point_at_the_file,
    ),
    ("listen_errors_are_clear", listen_errors_are_clear),
    ("reload_with_pin_keeps_counts", reload_with_pin_keeps_counts),
    (
        "prometheus_scrapes_a_known_counter",
        prometheus_scrapes_a_known_counter,
    ),
];

/// Tests that need more than root, and why they cannot run without it.
const REQUIREMENTS: &[(&str, Requirement)] = &[("prometheus_scrapes_a_known_counter", || {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!found).then(|| {
        "needs the prometheus binary (Debian package prometheus; .ci/run installs it)".into()
    })
})];

fn main() {
    support::run_listed(
        TESTS,
        REQUIREMENTS,
        (!support::is_root()).then(|| "needs root".to_string()),
    );
}

// ---------------------------------------------------------------------------------------
// The tests

fn counter_follows_a_known_workload() -> Outcome {
    let tid = gettid();
    let s = Serve::start(
        "counter",
        &[(
            "calls.bt",
            &format!(
                "tracepoint:syscalls:sys_enter_getppid /tid == {tid}/ {{ @calls = count(); }}"
            ),
        )],
        &[],
    )?;
    getppid_times(300);
    expect_sample(&s.get("/metrics")?.body, "calls_calls_total", 300.0)?;
    getppid_times(200);
    let metrics = s.get("/metrics")?;
    expect_sample(&metrics.body, "calls_calls_total", 500.0)?;
    let kind = metrics.header("content-type").unwrap_or_default();
    if !kind.starts_with("text/plain; version=0.0.4") {
        return Err(format!("Prometheus text expected, got Content-Type {kind:?}").into());
    }
    s.stop()
}

fn keyed_maps_histograms_and_stats() -> Outcome {
    let tid = gettid();
    let script = format!(
        "// beetrace:labels @named tid call
        tracepoint:syscalls:sys_enter_getppid /tid == {tid}/ {{
            @by[tid, \"getppid\"] = count();
            @named[tid, \"getppid\"] = count();
            @h = hist(5);
            @l = lhist(15, 0, 30, 10);
            @a = avg(4);
            @m = max(-7);
            @text = \"not a number\";
        }}"
    );
    let s = Serve::start("keyed", &[("shapes.bt", &script)], &[])?;
    getppid_times(40);
    let body = s.get("/metrics")?.body;
    expect_sample(
        &body,
        &format!("shapes_by_total{{key0=\"{tid}\",key1=\"getppid\"}}"),
        40.0,
    )?;
    expect_sample(
        &body,
        &format!("shapes_named_total{{tid=\"{tid}\",call=\"getppid\"}}"),
        40.0,
    )?;
    // hist(5): 5 lands in [4, 8), so le="3" holds nothing and le="7" everything.
    expect_sample(&body, "shapes_h_bucket{le=\"3\"}", 0.0)?;
    expect_sample(&body, "shapes_h_bucket{le=\"7\"}", 40.0)?;
    expect_sample(&body, "shapes_h_bucket{le=\"+Inf\"}", 40.0)?;
    expect_sample(&body, "shapes_h_count", 40.0)?;
    // lhist(15, 0, 30, 10): [10, 20).
    expect_sample(&body, "shapes_l_bucket{le=\"9\"}", 0.0)?;
    expect_sample(&body, "shapes_l_bucket{le=\"19\"}", 40.0)?;
    expect_sample(&body, "shapes_l_bucket{le=\"29\"}", 40.0)?;
    expect_sample(&body, "shapes_a_sum", 160.0)?;
    expect_sample(&body, "shapes_a_count", 40.0)?;
    expect_sample(&body, "shapes_m", -7.0)?;
    for line in ["# TYPE shapes_h histogram", "# TYPE shapes_m gauge"] {
        if !body.lines().any(|l| l == line) {
            return Err(format!("no line {line:?} in\n{body}").into());
        }
    }
    if body.contains("shapes_text") {
        return Err(format!("a string map became a metric:\n{body}").into());
    }
    s.stop()
}

fn openmetrics_when_the_scraper_asks() -> Outcome {
    let tid = gettid();
    let s = Serve::start(
        "openmetrics",
        &[(
            "om.bt",
            &format!("tracepoint:syscalls:sys_enter_getppid /tid == {tid}/ {{ @n = count(); }}"),
        )],
        &[],
    )?;
    getppid_times(3);
    let r = s.get_with(
        "/metrics",
        "Accept: application/openmetrics-text; version=1.0.0",
    )?;
    let kind = r.header("content-type").unwrap_or_default();
    if !kind.starts_with("application/openmetrics-text") {
        return Err(format!("OpenMetrics expected, got Content-Type {kind:?}").into());
    }
    expect_sample(&r.body, "om_n_total", 3.0)?;
    if r.body.lines().last() != Some("# EOF") {
        return Err(format!("OpenMetrics text must end with # EOF:\n{}", r.body).into());
    }
    s.stop()
}

fn healthz_and_scripts() -> Outcome {
    let s = Serve::start(
        "healthz",
        &[
            (
                "steady.bt",
                "tracepoint:syscalls:sys_enter_getppid { @n = count(); }",
            ),
            ("quits.bt", "BEGIN { @x = 1; exit(); }"),
        ],
        &[],
    )?;
    // The script that exits at once makes the server unhealthy, and says which.
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let h = s.get("/healthz")?;
        if h.status == 503 || Instant::now() > deadline {
            break h;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if health.status != 503 || !health.body.contains("quits.bt") {
        return Err(format!(
            "expected 503 naming quits.bt, got {} {:?}",
            health.status, health.body
        )
        .into());
    }
    let scripts = s.get("/scripts")?;
    let list: serde_json::Value = serde_json::from_str(&scripts.body)
        .map_err(|e| format!("/scripts is not JSON ({e}): {}", scripts.body))?;
    let steady = &list[0];
    if steady["prefix"] != "steady"
        || steady["status"] != "running"
        || steady["probes"] != serde_json::json!(["tracepoint:syscalls:sys_enter_getppid"])
        || steady["maps"] != serde_json::json!(["@n"])
    {
        return Err(format!("unexpected first script in /scripts: {steady}").into());
    }
    if list[1]["status"] != "ended" || list[1]["ended"] != "Exit(0)" {
        return Err(format!("unexpected second script in /scripts: {}", list[1]).into());
    }
    // The one that ended is no longer exported; the other still is.
    let body = s.get("/metrics")?.body;
    if body.contains("quits_x") || !body.contains("# TYPE steady_n_total counter") {
        return Err(format!("unexpected metrics:\n{body}").into());
    }
    let missing = s.get("/nothing")?;
    if missing.status != 404 {
        return Err(format!("/nothing gave {}", missing.status).into());
    }
    s.stop()
}

fn label_cardinality_is_capped() -> Outcome {
    let tid = gettid();
    let s = Serve::start(
        "cardinality",
        &[(
            "many.bt",
            &format!(
                "tracepoint:syscalls:sys_enter_getppid /tid == {tid}/ {{ @m[@seq++] = count(); }}"
            ),
        )],
        &["--max-series", "3"],
    )?;
    getppid_times(10);
    let body = s.get("/metrics")?.body;
    let kept = body
        .lines()
        .filter(|l| l.starts_with("many_m_total{"))
        .count();
    if kept != 3 {
        return Err(format!("expected 3 series of @m, got {kept}:\n{body}").into());
    }
    expect_sample(
        &body,
        "beetrace_series_dropped{script=\"many\",map=\"@m\"}",
        7.0,
    )?;
    s.stop()
}

fn script_errors_point_at_the_file() -> Outcome {
    let dir = scratch("errors");
    let path = dir.join("bad.bt");
    std::fs::write(&path, "BEGIN { @x = nosuch(); }\n")?;
    let out = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&path)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:1:14", path.display());
    if out.status.code() != Some(1) || !stderr.contains(&want) || !stderr.contains("nosuch") {
        return Err(format!(
            "expected exit 1 and {want}: ..., got {:?}: {stderr}",
            out.status
        )
        .into());
    }
    Ok(())
}

fn listen_errors_are_clear() -> Outcome {
    let dir = scratch("listen");
    let path = dir.join("ok.bt");
    std::fs::write(&path, "BEGIN { @x = 1; }\n")?;
    let out = Command::new(binary())
        .args(["serve", "--listen", "256.0.0.1:1"])
        .arg(&path)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) || !stderr.contains("ERROR: cannot listen on 256.0.0.1:1") {
        return Err(format!("expected a listen error, got {:?}: {stderr}", out.status).into());
    }
    Ok(())
}

/// A real Prometheus server scrapes beetrace every second; its query API must report the
/// number of system calls the test made, and a histogram it accepted.
fn prometheus_scrapes_a_known_counter() -> Outcome {
    let tid = gettid();
    let s = Serve::start(
        "prometheus",
        &[(
            "promcount.bt",
            &format!(
                "tracepoint:syscalls:sys_enter_getppid /tid == {tid}/ {{ @calls = count(); @h = hist(5); }}"
            ),
        )],
        &[],
    )?;
    getppid_times(250);
    let dir = scratch("prometheus-server");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: beetrace\n    \
             static_configs:\n      - targets: ['{}']\n",
            s.addr
        ),
    )?;
    // A free port: bind, note it, release it for Prometheus.
    let web = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string();
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log"))?)
        .spawn()?;
    let _prometheus = KillOnDrop(prometheus);
    let query = |q: &str| -> Option<String> {
        let q: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let r = http_get(&web, &format!("/api/v1/query?query={q}"), "").ok()?;
        let json: serde_json::Value = serde_json::from_str(&r.body).ok()?;
        json["data"]["result"][0]["value"][1]
            .as_str()
            .map(String::from)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let calls = query("promcount_calls_total");
        // Prometheus scrapes OpenMetrics, whose bounds are spelled `7.0`; the text
        // format's `7`.
        let bucket = query(r#"promcount_h_bucket{le=~"7|7[.]0"}"#);
        if calls.as_deref() == Some("250") && bucket.as_deref() == Some("250") {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            return Err(format!(
                "Prometheus reports calls {calls:?} and bucket {bucket:?}, expected 250 for \
                 both; up = {:?}; its log ends:\n{}",
                query("up"),
                tail.join("\n")
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    s.stop()
}

/// SIGHUP recompiles the scripts; with `--pin` the new run continues the pinned counts.
/// A script that no longer compiles leaves the running one in place.
fn reload_with_pin_keeps_counts() -> Outcome {
    let tid = gettid();
    let pin = PathBuf::from(format!(
        "/sys/fs/bpf/beetrace-serve-test-{}",
        std::process::id()
    ));
    let probe = format!("tracepoint:syscalls:sys_enter_getppid /tid == {tid}/");
    let mut s = Serve::start(
        "reload",
        &[("reload.bt", &format!("{probe} {{ @n = count(); }}"))],
        &["--pin", pin.to_str().unwrap()],
    )?;
    let script = s.dir.join("reload.bt");
    let unpin = || {
        let _ = Command::new(binary()).arg("unpin").arg(&pin).output();
    };
    let result = (|| -> Outcome {
        getppid_times(100);
        expect_sample(&s.get("/metrics")?.body, "reload_n_total", 100.0)?;
        std::fs::write(
            &script,
            format!("{probe} {{ @n = count(); @m = count(); }}"),
        )?;
        s.hangup();
        s.wait_stderr("beetrace serve: reloaded")?;
        s.wait_running()?;
        s.note_ids();
        getppid_times(50);
        let body = s.get("/metrics")?.body;
        expect_sample(&body, "reload_n_total", 150.0)?;
        expect_sample(&body, "reload_m_total", 50.0)?;
        std::fs::write(&script, "BEGIN { nosuch(); }")?;
        s.hangup();
        s.wait_stderr("reload failed")?;
        getppid_times(10);
        expect_sample(&s.get("/metrics")?.body, "reload_n_total", 160.0)
    })();
    if result.is_err() {
        unpin();
        return result;
    }
    s.stop_then(unpin)
}

// ---------------------------------------------------------------------------------------
// Helpers

/// A helper process the test started, killed however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_beetrace"))
}

fn gettid() -> i64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

fn getppid_times(n: usize) {
    for _ in 0..n {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::getppid() };
    }
}

fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// The value of the sample line that starts with `series` followed by a space.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split(' ').next()?.parse().ok())
}

fn expect_sample(body: &str, series: &str, want: f64) -> Outcome {
    match sample(body, series) {
        Some(v) if v == want => Ok(()),
        got => Err(format!("{series}: expected {want}, got {got:?} in\n{body}").into()),
    }
}

/// A GET with one extra header line (or none), read until the server closes.
fn http_get(addr: &str, path: &str, header: &str) -> Result<Response, Failed> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\r\n")
    };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("malformed response: {raw:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

/// A running `beetrace serve` on a free loopback port.
struct Serve {
    /// Where its scripts are.
    dir: PathBuf,
    child: Child,
    addr: String,
    ids: BpfIds,
    stderr: mpsc::Receiver<String>,
}

/// A test that failed half-way must not leave the server running.
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

impl Serve {
    /// Writes the scripts to a scratch directory and serves them, waiting until every
    /// script has started (`/healthz` answers, and scripts that stay up are running).
    fn start(test: &str, scripts: &[(&str, &str)], extra: &[&str]) -> Result<Serve, Failed> {
        let dir = scratch(test);
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
        for (name, text) in scripts {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            cmd.arg(path);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
        let (send, stderr) = mpsc::channel();
        let pipe = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match stderr.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.split("metrics at http://").nth(1) {
                        break rest.trim_end_matches("/metrics").to_string();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    return Err(format!("serve did not start: {}", seen.join("\n")).into());
                }
            }
        };
        let mut serve = Serve {
            dir,
            ids: BpfIds::default(),
            child,
            addr,
            stderr,
        };
        serve.wait_running()?;
        serve.ids = BpfIds::of_process(serve.child.id());
        Ok(serve)
    }

    /// Waits until `/scripts` shows no script still starting.
    fn wait_running(&self) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.get("/scripts")?.body;
            if !body.contains("\"starting\"") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("scripts did not start: {body}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Adds the BPF objects serve holds now (after a reload) to those checked for leaks.
    fn note_ids(&mut self) {
        let now = BpfIds::of_process(self.child.id());
        for (mine, new) in [
            (&mut self.ids.progs, now.progs),
            (&mut self.ids.maps, now.maps),
            (&mut self.ids.links, now.links),
        ] {
            for id in new {
                if !mine.contains(&id) {
                    mine.push(id);
                }
            }
        }
    }

    fn hangup(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGHUP) };
    }

    /// Waits for a stderr line containing `text`.
    fn wait_stderr(&self, text: &str) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return Ok(()),
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        Err(format!("no {text:?} on stderr; saw:\n{}", seen.join("\n")).into())
    }

    fn get(&self, path: &str) -> Result<Response, Failed> {
        self.get_with(path, "")
    }

    fn get_with(&self, path: &str, header: &str) -> Result<Response, Failed> {
        http_get(&self.addr, path, header)
    }

    /// SIGTERM: serve must exit 0 and leave no program, map or link behind.
    fn stop(self) -> Outcome {
        self.stop_then(|| {})
    }

    /// As [`Serve::stop`], running `cleanup` (removing pins) before the leak check.
    fn stop_then(mut self, cleanup: impl FnOnce()) -> Outcome {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = support::wait_until(&mut self.child, Instant::now() + Duration::from_secs(20));
        let errors: Vec<String> = self.stderr.try_iter().collect();
        match status {
            Some(s) if s.success() => {}
            other => {
                return Err(format!("serve ended with {other:?}: {}", errors.join("\n")).into());
            }
        }
        cleanup();
        let left = leaked(&self.ids, Duration::from_secs(5));
        if !left.is_empty() {
            return Err(format!("still in the kernel after exit: {left:?}").into());
        }
        Ok(())
    }
}
