//! Exports of result documents for CI services: github-action-benchmark's
//! `customBiggerIsBetter` / `customSmallerIsBetter` JSON and Bencher's BMF (Bencher Metric
//! Format) JSON.
//!
//! One figure per workload, phase and measure: the **median** over every iteration of every
//! document given (documents of the same workload are pooled, never listed twice), with min
//! and max as the range / bounds, so one slow iteration does not raise an alert. Measures, in
//! kebab-case: `bandwidth` (MiB/s), `iops` (ops/s), `latency` (IOR's `Latency(s)` column, the
//! same statistic for native and imported runs) and, where every pooled run recorded latency
//! histograms, `latency-p50` and `latency-p99`; for mdtest documents, per operation, `rate`
//! (mdtest's table rate, ops/s) and the latency percentiles. Values are rounded to the precision their
//! sources measured them at (IOR's print formats for imported runs, six significant digits
//! otherwise). Owns only the mapping to these formats; it must not read or write files (the
//! CLI does).

use crate::results::compare::stats::round_to;
use crate::results::compare::{median, resolution_of};
use crate::results::document::ResultDocument;
use crate::results::samples::{samples, Better, Metric};
use serde_json::{json, Map, Value};

/// One exported figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Benchmark name: `<workload> <phase>`.
    pub name: String,
    /// Measure (kebab-case): `bandwidth`, `iops`, `latency`, `latency-p50`, `latency-p99`,
    /// `rate` (mdtest).
    pub measure: &'static str,
    /// What the measure is, in words (for the exports' `extra` fields).
    pub statistic: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Whether bigger is better.
    pub bigger_is_better: bool,
    /// Median over the pooled iterations.
    pub value: f64,
    /// Smallest iteration value.
    pub min: f64,
    /// Largest iteration value.
    pub max: f64,
    /// Number of iterations pooled.
    pub n: usize,
    /// Number of documents that contributed.
    pub documents: usize,
}

/// `v` rounded to `step`, or to six significant digits when the source measured it exactly.
fn round_measured(v: f64, step: f64) -> f64 {
    if step > 0.0 {
        return round_to(v, step);
    }
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 6 - 1 - v.abs().log10().floor() as i32;
    round_to(v, 10f64.powi(-digits))
}

/// Every figure of the documents, pooled by workload and phase (in first-seen order).
pub fn figures(docs: &[ResultDocument]) -> Vec<Figure> {
    // (name, measure) -> (values, per-value step, documents)
    type Pool = (Vec<f64>, f64, Vec<usize>);
    let mut order: Vec<(String, &'static Metric)> = Vec::new();
    let mut pools: Vec<Pool> = Vec::new();
    let mut rows_seen: std::collections::HashMap<String, usize> = Default::default();
    for (di, doc) in docs.iter().enumerate() {
        let res = resolution_of(doc);
        let mut counted: Vec<String> = Vec::new();
        for s in samples(doc) {
            let name = format!("{} {}", s.workload, s.phase);
            if !counted.contains(&name) {
                *rows_seen.entry(name.clone()).or_default() += s.rows;
                counted.push(name.clone());
            }
            let step = res.step_at(median(&s.values));
            let idx = match order
                .iter()
                .position(|(n, m)| *n == name && m.measure == s.metric.measure)
            {
                Some(i) => i,
                None => {
                    order.push((name, s.metric));
                    pools.push((Vec::new(), 0.0, Vec::new()));
                    order.len() - 1
                }
            };
            let pool = &mut pools[idx];
            pool.0.extend(s.values);
            pool.1 = pool.1.max(step);
            if !pool.2.contains(&di) {
                pool.2.push(di);
            }
        }
    }
    let mut out = Vec::new();
    for ((name, m), (vals, step, documents)) in order.into_iter().zip(pools) {
        // A percentile is exported only when every pooled row has it: otherwise it would
        // describe a part of the runs under the name of all of them.
        if m.name.starts_with("lat_p") && vals.len() < rows_seen.get(&name).copied().unwrap_or(0) {
            continue;
        }
        let r = |v: f64| round_measured(v, step);
        out.push(Figure {
            name,
            measure: m.measure,
            statistic: m.statistic,
            unit: m.unit,
            bigger_is_better: m.better == Better::Higher,
            value: r(median(&vals)),
            min: r(vals.iter().copied().fold(f64::INFINITY, f64::min)),
            max: r(vals.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            n: vals.len(),
            documents: documents.len(),
        });
    }
    out
}

/// github-action-benchmark input: an array of `{name, unit, value, range, extra}`.
/// `bigger` selects the `customBiggerIsBetter` figures (bandwidth, IOPS), otherwise the
/// `customSmallerIsBetter` ones (latencies).
pub fn github_action_benchmark(figures: &[Figure], bigger: bool) -> Value {
    let items: Vec<Value> = figures
        .iter()
        .filter(|f| f.bigger_is_better == bigger)
        .map(|f| {
            json!({
                "name": format!("{} {}", f.name, f.measure),
                "unit": f.unit,
                "value": f.value,
                "range": format!("{}..{}", f.min, f.max),
                "extra": format!(
                    "{}; median of {} iteration(s) from {} document(s)",
                    f.statistic, f.n, f.documents
                ),
            })
        })
        .collect();
    Value::Array(items)
}

/// Bencher Metric Format: `{ "<benchmark>": { "<measure>": {value, lower_value, upper_value} } }`.
/// Measures: `bandwidth` (MiB/s), `iops` (ops/s), and latencies in **nanoseconds**: Bencher's
/// built-in `latency` measure carries IOR's latency column, `latency-p50` and `latency-p99`
/// the histogram percentiles.
pub fn bencher_bmf(figures: &[Figure]) -> Value {
    let mut root = Map::new();
    for f in figures {
        let scale = if f.unit == "s" { 1e9 } else { 1.0 };
        let bench = root
            .entry(f.name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = bench {
            let r = |v: f64| round_measured(v * scale, 0.0);
            m.insert(
                f.measure.to_string(),
                json!({
                    "value": r(f.value),
                    "lower_value": r(f.min),
                    "upper_value": r(f.max),
                }),
            );
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_what_was_measured() {
        assert_eq!(round_measured(1_234.567_891_2, 0.0), 1234.57);
        assert_eq!(round_measured(0.000_123_456_78, 0.0), 0.000_123_457);
        assert_eq!(round_measured(2244.916, 0.01), 2244.92);
        assert_eq!(round_measured(0.0, 0.0), 0.0);
    }
}
