//! Exports of result documents for CI services: github-action-benchmark's
//! `customBiggerIsBetter` / `customSmallerIsBetter` JSON and Bencher's BMF (Bencher Metric
//! Format) JSON.
//!
//! One figure per workload and phase: the **median** over the iterations (with min and max as
//! the range / bounds), so one slow iteration does not raise an alert. Owns only the mapping
//! to these formats; it must not read or write files (the CLI does).

use crate::ior::results::Phase;
use crate::results::compare::{median, rows_by_workload};
use crate::results::document::ResultDocument;
use serde_json::{json, Map, Value};

/// One exported figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Benchmark name: `<workload> <phase>`.
    pub name: String,
    /// Measure: `bandwidth`, `iops`, `latency_p50`, `latency_p99` or `latency` (IOR column).
    pub measure: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Whether bigger is better.
    pub bigger_is_better: bool,
    /// Median over iterations.
    pub value: f64,
    /// Smallest iteration value.
    pub min: f64,
    /// Largest iteration value.
    pub max: f64,
    /// Number of iterations.
    pub n: usize,
}

/// Every figure of the documents (in document, workload, phase order).
pub fn figures(docs: &[ResultDocument]) -> Vec<Figure> {
    let mut out = Vec::new();
    for doc in docs {
        for (key, rows) in rows_by_workload(doc) {
            for phase in [Phase::Write, Phase::Read] {
                let rows: Vec<_> = rows.iter().filter(|r| r.access == phase).collect();
                if rows.is_empty() {
                    continue;
                }
                let name = format!("{key} {}", phase.as_str());
                let mut push = |measure, unit, bigger, vals: Vec<f64>| {
                    let vals: Vec<f64> = vals.into_iter().filter(|v| v.is_finite()).collect();
                    if vals.is_empty() {
                        return;
                    }
                    out.push(Figure {
                        name: name.clone(),
                        measure,
                        unit,
                        bigger_is_better: bigger,
                        value: median(&vals),
                        min: vals.iter().copied().fold(f64::INFINITY, f64::min),
                        max: vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        n: vals.len(),
                    });
                };
                push(
                    "bandwidth",
                    "MiB/s",
                    true,
                    rows.iter().map(|r| r.bw_mib).collect(),
                );
                push("iops", "ops/s", true, rows.iter().map(|r| r.iops).collect());
                let hist: Vec<_> = rows.iter().filter(|r| r.latency_hist.count > 0).collect();
                if hist.is_empty() {
                    push(
                        "latency",
                        "s",
                        false,
                        rows.iter().map(|r| r.latency).collect(),
                    );
                } else {
                    push(
                        "latency_p50",
                        "s",
                        false,
                        hist.iter().map(|r| r.latency_hist.p50).collect(),
                    );
                    push(
                        "latency_p99",
                        "s",
                        false,
                        hist.iter().map(|r| r.latency_hist.p99).collect(),
                    );
                }
            }
        }
    }
    out
}

/// github-action-benchmark input: an array of `{name, unit, value, range, extra}`.
/// `bigger` selects the `customBiggerIsBetter` figures (bandwidth, IOPS), otherwise the
/// `customSmallerIsBetter` ones (latencies).
pub fn github_action_benchmark(docs: &[ResultDocument], bigger: bool) -> Value {
    let items: Vec<Value> = figures(docs)
        .into_iter()
        .filter(|f| f.bigger_is_better == bigger)
        .map(|f| {
            json!({
                "name": format!("{} {}", f.name, f.measure),
                "unit": f.unit,
                "value": f.value,
                "range": format!("{}..{}", f.min, f.max),
                "extra": format!("median of {} iteration(s)", f.n),
            })
        })
        .collect();
    Value::Array(items)
}

/// Bencher Metric Format: `{ "<benchmark>": { "<measure>": {value, lower_value, upper_value} } }`.
/// Measures: `bandwidth` (MiB/s), `iops` (ops/s), and latencies in **nanoseconds** under
/// Bencher's built-in `latency` measure (p50, or IOR's latency column for imported runs) and
/// `latency_p99`.
pub fn bencher_bmf(docs: &[ResultDocument]) -> Value {
    let mut root = Map::new();
    for f in figures(docs) {
        let (measure, scale) = match f.measure {
            "latency_p50" | "latency" => ("latency", 1e9),
            "latency_p99" => ("latency_p99", 1e9),
            m => (m, 1.0),
        };
        let bench = root
            .entry(f.name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = bench {
            m.insert(
                measure.to_string(),
                json!({
                    "value": f.value * scale,
                    "lower_value": f.min * scale,
                    "upper_value": f.max * scale,
                }),
            );
        }
    }
    Value::Object(root)
}
