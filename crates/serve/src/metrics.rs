//! `/metrics`: every script's `@maps` read at scrape time and encoded by
//! `prometheus-client` (Prometheus text format 0.0.4, or OpenMetrics when the scraper asks).
//!
//! Mapping (values decoded by `output::samples`): `count()` and unsigned `sum()` are
//! counters (`_total`); integer values, signed `sum()`, `min()`, `max()` gauges;
//! `avg()`/`stats()` two gauges `_sum` and `_count`; `hist()`/`lhist()` histograms with
//! cumulative `le` buckets. Key parts are the labels `key0`, `key1`, ... Maps whose
//! values are not numbers, or whose keys only mean something as text the run resolves
//! (stacks, `cgroup_path`, symbols), are not exported.

use std::fmt;

use output::samples::{samples, MetricKind, Sample, SampleValue};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::names::metric_name;
use crate::state::{lock, Scripts, Status};

/// The registry a scrape encodes: one collector that reads the maps.
pub(crate) fn registry(scripts: Scripts, max_series: usize) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(MapCollector {
        scripts,
        max_series,
    }));
    registry
}

/// Encodes the registry as Prometheus text, or as OpenMetrics text (`# EOF` last).
pub(crate) fn encode(registry: &Registry, openmetrics: bool) -> Result<String, fmt::Error> {
    let mut text = String::new();
    if openmetrics {
        prometheus_client::encoding::text::encode(&mut text, registry)?;
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut text, registry)?;
    }
    Ok(text)
}

#[derive(Debug)]
struct MapCollector {
    scripts: Scripts,
    /// Series kept per map; the rest are counted in `beetrace_series_dropped`.
    max_series: usize,
}

impl Collector for MapCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let scripts = lock(&self.scripts).clone();
        let mut dropped: Vec<(Vec<(String, String)>, u64)> = Vec::new();
        for script in scripts {
            if script.status() != Status::Running {
                continue;
            }
            let maps = lock(&script.maps);
            for map in maps.iter() {
                let info = &map.info;
                let Some(kind) = MetricKind::of(&info.value) else {
                    continue;
                };
                if info.key.iter().any(|t| t.resolved_at_run_time()) {
                    continue;
                }
                // A map that cannot be read now (the run is ending) is left out of this
                // scrape rather than failing the whole answer.
                let Ok(entries) = map.entries() else {
                    continue;
                };
                let mut series = samples(info, &entries);
                if series.len() > self.max_series {
                    dropped.push((
                        vec![
                            ("script".into(), script.prefix.clone()),
                            ("map".into(), info.display_name()),
                        ],
                        (series.len() - self.max_series) as u64,
                    ));
                    series.truncate(self.max_series);
                }
                let name = metric_name(&script.prefix, &info.name);
                let help = format!("{} of {}", info.display_name(), script.path);
                let labels = script.labels.get(&info.display_name());
                encode_map(&mut encoder, &name, &help, kind, &series, labels)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "beetrace_series_dropped",
            "Series left out of this scrape because a map had more keys than --max-series",
            None,
            MetricType::Gauge,
        )?;
        for (labels, n) in &dropped {
            metric.encode_family(labels)?.encode_gauge(n)?;
        }
        Ok(())
    }
}

/// One map's series under one metric name (two for `avg`/`stats`).
fn encode_map(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricKind,
    series: &[Sample],
    names: Option<&Vec<String>>,
) -> Result<(), fmt::Error> {
    if kind == MetricKind::Stats {
        for part in ["sum", "count"] {
            let part_name = format!("{name}_{part}");
            let mut metric = encoder.encode_descriptor(
                &part_name,
                &format!("{help} ({part})"),
                None,
                MetricType::Gauge,
            )?;
            for sample in series {
                let SampleValue::Stats { count, total } = sample.value else {
                    continue;
                };
                let value = if part == "sum" { total } else { count as f64 };
                with_labels(&mut metric, sample, names, |m| m.encode_gauge(&value))?;
            }
        }
        return Ok(());
    }
    let metric_type = match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Histogram => MetricType::Histogram,
        _ => MetricType::Gauge,
    };
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for sample in series {
        with_labels(&mut metric, sample, names, |m| {
            match (&sample.value, kind) {
                (SampleValue::Number(v), MetricKind::Counter) => {
                    m.encode_counter::<NoLabelSet, _, f64>(v, None)
                }
                (SampleValue::Number(v), _) => m.encode_gauge(v),
                (SampleValue::Histogram { buckets }, _) => {
                    let count = buckets.iter().map(|b| b.1).sum();
                    // hist()/lhist() keep only bucket counts, so the sum of the observed
                    // values is unknown: NaN says so rather than inventing one.
                    m.encode_histogram::<NoLabelSet>(f64::NAN, count, buckets, None)
                }
                (SampleValue::Stats { .. }, _) => Ok(()),
            }
        })?;
    }
    Ok(())
}

/// Encodes one sample, under its `key0`, `key1`, ... labels (or the names a
/// `// beetrace:labels` annotation gave) when the map has keys.
fn with_labels(
    metric: &mut MetricEncoder,
    sample: &Sample,
    names: Option<&Vec<String>>,
    encode: impl FnOnce(&mut MetricEncoder) -> Result<(), fmt::Error>,
) -> Result<(), fmt::Error> {
    if sample.labels.is_empty() {
        return encode(metric);
    }
    let labels: Vec<(String, String)> = sample
        .labels
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = names
                .and_then(|n| n.get(i).cloned())
                .unwrap_or_else(|| format!("key{i}"));
            (name, v.clone())
        })
        .collect();
    encode(&mut metric.encode_family(&labels)?)
}
