//! The deployment examples in `deploy/`, checked without a cluster: the Kubernetes
//! manifest against `deploy/schema.json` (the API fields it uses, unknown fields refused)
//! and for the rules the API server and kubelet would enforce (selector, volumes, ports),
//! the systemd unit for its shape, and both against beetrace itself (the scripts they
//! name exist, compile, and the ConfigMap carries the same script as `deploy/scripts/`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(deploy().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The manifest's documents as JSON values (what `kubectl` sends the API server).
fn manifest() -> Vec<Value> {
    YamlLoader::load_from_str(&read("daemonset.yaml"))
        .expect("daemonset.yaml is YAML")
        .iter()
        .map(to_json)
        .collect()
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map_or(Value::Null, |f| json!(f)),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().unwrap_or("?").to_string(), to_json(v)))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn schema() -> Value {
    serde_json::from_str(&read("schema.json")).expect("schema.json is JSON")
}

/// Checks `doc` against the schema for its `apiVersion`/`kind`; every violation, by path.
fn validate_doc(schema: &Value, doc: &Value) -> Vec<String> {
    let kind = format!(
        "{}/{}",
        doc["apiVersion"].as_str().unwrap_or("?"),
        doc["kind"].as_str().unwrap_or("?")
    );
    let Some(s) = schema["kinds"].get(&kind) else {
        return vec![format!("no schema for {kind}")];
    };
    let mut errors = Vec::new();
    check(schema, s, doc, &kind, &mut errors);
    errors
}

/// The JSON Schema subset `schema.json` uses.
fn check(root: &Value, s: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], v, path, errors);
    }
    if let Some(types) = s.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match v {
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::Null => "null",
        };
        if !types.contains(&actual) {
            errors.push(format!("{path}: {actual}, expected {}", types.join(" or ")));
            return;
        }
    }
    if let Some(allowed) = s["enum"].as_array() {
        if !allowed.contains(v) {
            errors.push(format!("{path}: {v} is not one of {}", s["enum"]));
        }
    }
    if let Some(required) = s["required"].as_array() {
        for r in required.iter().filter_map(Value::as_str) {
            if v.get(r).is_none() {
                errors.push(format!("{path}: {r} is required"));
            }
        }
    }
    if let Value::Object(fields) = v {
        for (k, field) in fields {
            let here = format!("{path}.{k}");
            match (s["properties"].get(k), &s["additionalProperties"]) {
                (Some(p), _) => check(root, p, field, &here, errors),
                (None, Value::Bool(false)) => errors.push(format!("{here}: unknown field")),
                (None, extra @ Value::Object(_)) => check(root, extra, field, &here, errors),
                (None, _) => {}
            }
        }
    }
    if let Value::Array(items) = v {
        if let Some(min) = s["minItems"].as_u64() {
            if (items.len() as u64) < min {
                errors.push(format!("{path}: fewer than {min} items"));
            }
        }
        for (i, item) in items.iter().enumerate() {
            check(root, &s["items"], item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn daemonset(docs: &[Value]) -> &Value {
    docs.iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet in daemonset.yaml")
}

#[test]
fn manifest_matches_the_schema() {
    let schema = schema();
    let docs = manifest();
    assert_eq!(docs.len(), 2, "a ConfigMap and a DaemonSet");
    for doc in &docs {
        assert_eq!(validate_doc(&schema, doc), Vec::<String>::new());
    }
}

#[test]
fn the_schema_check_refuses_mistakes() {
    let schema = schema();
    let mut ds = daemonset(&manifest()).clone();
    let pod = &mut ds["spec"]["template"]["spec"];
    pod["hostPid"] = json!(true);
    pod["containers"][0]["ports"][0]["containerPort"] = json!("9435");
    pod["containers"][0]["imagePullPolicy"] = json!("Sometimes");
    ds["spec"].as_object_mut().unwrap().remove("selector");
    assert_eq!(
        validate_doc(&schema, &ds),
        vec![
            "apps/v1/DaemonSet.spec: selector is required",
            "apps/v1/DaemonSet.spec.template.spec.containers[0].imagePullPolicy: \
             \"Sometimes\" is not one of [\"Always\",\"IfNotPresent\",\"Never\"]",
            "apps/v1/DaemonSet.spec.template.spec.containers[0].ports[0].containerPort: \
             string, expected integer",
            "apps/v1/DaemonSet.spec.template.spec.hostPid: unknown field",
        ]
    );
}

#[test]
fn manifest_is_consistent() {
    let docs = manifest();
    let ds = daemonset(&docs);
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("a ConfigMap");
    let template = &ds["spec"]["template"];
    // The API server refuses a selector that does not match the pod template's labels.
    for (k, v) in ds["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&template["metadata"]["labels"][k], v, "selector label {k}");
    }
    let pod = &template["spec"];
    assert_eq!(pod["hostPID"], true, "pids in scripts must be the host's");
    let volumes = pod["volumes"].as_array().unwrap();
    let container = &pod["containers"][0];
    let mounts = container["volumeMounts"].as_array().unwrap();
    for m in mounts {
        assert!(
            volumes.iter().any(|v| v["name"] == m["name"]),
            "mount {} names no volume",
            m["name"]
        );
    }
    // The scripts volume is this ConfigMap, and every script argument is one of its keys.
    let scripts = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == config["metadata"]["name"])
        .expect("a volume of the ConfigMap");
    let dir = mounts
        .iter()
        .find(|m| m["name"] == scripts["name"])
        .and_then(|m| m["mountPath"].as_str())
        .expect("the scripts volume is mounted");
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "serve");
    let script_args: Vec<&&str> = args.iter().filter(|a| a.ends_with(".bt")).collect();
    assert!(!script_args.is_empty());
    for a in script_args {
        let key = a
            .strip_prefix(&format!("{dir}/"))
            .unwrap_or_else(|| panic!("{a} is not under {dir}"));
        let text = config["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}"));
        assert_eq!(text, read(&format!("scripts/{key}")), "ConfigMap {key}");
    }
    // One port everywhere: --listen, the container port, the scrape annotation, probes.
    let listen = args[args.iter().position(|a| *a == "--listen").unwrap() + 1];
    let port: i64 = listen.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        listen.starts_with("0.0.0.0:"),
        "reachable from outside the pod"
    );
    let ports = container["ports"].as_array().unwrap();
    assert_eq!(ports[0]["containerPort"], port);
    assert_eq!(
        template["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz");
        assert!(
            ports.iter().any(|p| p["name"] == get["port"]),
            "{probe} port"
        );
    }
}

#[test]
fn systemd_unit_is_well_formed() {
    let unit = read("beetrace-serve.service");
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        keys.push((section.clone(), k.to_string(), v.to_string()));
    }
    let get = |s: &str, k: &str| {
        keys.iter()
            .find(|(ks, kk, _)| ks == s && kk == k)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k}= in [{s}]"))
    };
    let exec: Vec<&str> = get("Service", "ExecStart").split_whitespace().collect();
    assert!(exec[0].starts_with('/') && exec[0].ends_with("/beetrace"));
    assert_eq!(exec[1], "serve");
    for script in exec.iter().filter(|a| a.ends_with(".bt")) {
        let name = script.rsplit('/').next().unwrap();
        assert!(
            deploy().join("scripts").join(name).exists(),
            "{script} is not in deploy/scripts"
        );
    }
    assert_eq!(get("Service", "KillSignal"), "SIGTERM");
    assert_eq!(get("Install", "WantedBy"), "multi-user.target");
    for (s, _, _) in &keys {
        assert!(
            ["Unit", "Service", "Install"].contains(&s.as_str()),
            "[{s}]"
        );
    }
}

/// The example scripts load into this kernel (needs root; skipped without it).
#[test]
fn deploy_scripts_load() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: loading scripts needs root");
        return;
    }
    for entry in std::fs::read_dir(deploy().join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new(env!("CARGO_BIN_EXE_beetrace"))
            .arg("--dry-run")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
