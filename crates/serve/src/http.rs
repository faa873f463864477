//! The HTTP side, over `tiny_http`: `/metrics`, `/healthz`, `/scripts`, one request at a
//! time on the serving thread (scrapes are rare and cheap next to the tracing itself).

use admin::json::Json;
use prometheus_client::registry::Registry;
use tiny_http::{Header, Request, Response};

use crate::metrics;
use crate::state::{lock, Scripts, Status};

const OPENMETRICS: &str = "application/openmetrics-text";

/// Answers one request.
pub(crate) fn respond(request: Request, scripts: &Scripts, registry: &Registry) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let (status, content_type, body) = match path.as_str() {
        "/metrics" => {
            let openmetrics = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Accept") && h.value.as_str().contains(OPENMETRICS));
            match metrics::encode(registry, openmetrics) {
                Ok(text) if openmetrics => (
                    200,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text,
                ),
                Ok(text) => (
                    200,
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    text,
                ),
                Err(_) => (500, "text/plain", "cannot encode the metrics\n".into()),
            }
        }
        "/healthz" => healthz(scripts),
        "/scripts" => (200, "application/json", scripts_json(scripts)),
        _ => (
            404,
            "text/plain",
            "not found; try /metrics, /healthz or /scripts\n".into(),
        ),
    };
    let header = Header::from_bytes("Content-Type", content_type).expect("a valid header");
    let response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header);
    // A scraper that hung up is not our problem.
    let _ = request.respond(response);
}

/// 200 when every script is running, 503 naming the ones that are not.
fn healthz(scripts: &Scripts) -> (u16, &'static str, String) {
    let scripts = lock(scripts).clone();
    let not_running: Vec<String> = scripts
        .iter()
        .filter_map(|s| match s.status() {
            Status::Running => None,
            other => Some(format!("{}: {other:?}\n", s.path)),
        })
        .collect();
    if not_running.is_empty() {
        (200, "text/plain", "ok\n".into())
    } else {
        (503, "text/plain", not_running.concat())
    }
}

/// `[{"path": ..., "prefix": ..., "status": ..., "probes": [...], "maps": [...]}]`.
fn scripts_json(scripts: &Scripts) -> String {
    let scripts = lock(scripts).clone();
    let list = scripts
        .iter()
        .map(|s| {
            let (status, detail) = match s.status() {
                Status::Starting => ("starting", None),
                Status::Running => ("running", None),
                Status::Ended(why) => ("ended", Some(why)),
            };
            let maps = lock(&s.maps)
                .iter()
                .map(|m| Json::str(m.info.display_name()))
                .collect();
            let mut fields = vec![
                ("path", Json::str(s.path.clone())),
                ("prefix", Json::str(s.prefix.clone())),
                ("status", Json::str(status)),
                (
                    "probes",
                    Json::Arr(s.probes.iter().map(|p| Json::str(p.clone())).collect()),
                ),
                ("maps", Json::Arr(maps)),
            ];
            if let Some(why) = detail {
                fields.push(("ended", Json::str(why)));
            }
            Json::obj(fields)
        })
        .collect();
    let mut text = Json::Arr(list).render(false);
    text.push('\n');
    text
}
