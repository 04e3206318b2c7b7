//! The mdtest plots of the dashboard: for every mdtest workload, a rate plot per phase
//! (operation) across the runs, median and min–max over iterations; and the latency
//! percentiles of every operation of the latest run that recorded histograms.
//!
//! Owns the data of these plots only (drawing is [`super::draw`], the page [`super::page`]).

use super::series::{min_max, slug, Kind, Plot, Series, XAxis};
use crate::mdtest::params::Op;
use crate::results::compare::median;
use crate::results::document::{MdtestDocument, ResultDocument};
use crate::results::samples::mdtest_workload_key;

/// The mdtest workloads of a document: key and the task run's phases.
fn workloads(m: &MdtestDocument) -> Vec<(String, &crate::results::document::MdtestTaskDocument)> {
    m.runs
        .iter()
        .map(|r| (mdtest_workload_key(&m.params, r.tasks, r.items_per_rank), r))
        .collect()
}

/// The mdtest sections for `docs` (in run order) with the run labels.
pub(super) fn mdtest_plots(
    docs: &[&ResultDocument],
    labels: &[String],
    notes: &mut Vec<String>,
) -> Vec<(String, Vec<Plot>)> {
    let per_doc: Vec<Vec<(String, &crate::results::document::MdtestTaskDocument)>> = docs
        .iter()
        .map(|d| d.mdtest.as_ref().map(workloads).unwrap_or_default())
        .collect();
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in per_doc.iter().flatten() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    if keys.is_empty() {
        return Vec::new();
    }
    let mut rates = Vec::new();
    for (wi, key) in keys.iter().enumerate() {
        for op in Op::ALL {
            let mut points = Vec::new();
            for (di, runs) in per_doc.iter().enumerate() {
                let vals: Vec<f64> = runs
                    .iter()
                    .filter(|(k, _)| k == key)
                    .flat_map(|(_, r)| r.phases.iter().filter(|p| p.op == op).map(|p| p.rate))
                    .filter(|v| v.is_finite())
                    .collect();
                if vals.is_empty() {
                    continue;
                }
                let (lo, hi) = min_max(&vals);
                points.push((di as f64, median(&vals), Some((lo, hi))));
            }
            if points.is_empty() {
                continue;
            }
            rates.push(Plot {
                id: format!("mdtest-{}-{}", wi + 1, slug(op.key())),
                title: format!("{}: {key}", op.name()),
                y_desc: "rate (ops/s), median and min-max".to_string(),
                kind: Kind::Lines {
                    x: XAxis::Categories(labels.to_vec()),
                    x_desc: "run (date, commit)".to_string(),
                    series: vec![Series {
                        name: op.name().to_string(),
                        points,
                        markers_only: false,
                    }],
                },
                note: format!("{} run(s)", docs.len()),
            });
        }
    }
    let mut latency = Vec::new();
    let latest = per_doc.iter().enumerate().rev().find(|(_, runs)| {
        runs.iter()
            .any(|(_, r)| r.phases.iter().any(|p| p.latency.count > 0))
    });
    match latest {
        Some((di, runs)) => {
            for (k, r) in runs {
                let wi = keys.iter().position(|x| x == k).unwrap_or(0);
                let mut series = Vec::new();
                for op in Op::ALL {
                    let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
                    for p in r
                        .phases
                        .iter()
                        .filter(|p| p.op == op && p.latency.count > 0)
                    {
                        match crate::measure::latency::decode_histogram(&p.latency.histogram) {
                            Ok(h) => match merged.as_mut() {
                                Some(m) => {
                                    if m.add(&h).is_err() {
                                        notes.push(format!(
                                            "{k}: a latency histogram did not merge"
                                        ));
                                    }
                                }
                                None => merged = Some(h),
                            },
                            Err(e) => notes.push(format!("{k}: {e}")),
                        }
                    }
                    let Some(h) = merged.filter(|h| !h.is_empty()) else {
                        continue;
                    };
                    let us = |ns: u64| ns as f64 / 1000.0;
                    series.push((
                        op.name().to_string(),
                        [0.5, 0.9, 0.99, 0.999]
                            .iter()
                            .map(|q| us(h.value_at_quantile(*q)))
                            .chain(std::iter::once(us(h.max())))
                            .collect(),
                    ));
                }
                if series.is_empty() {
                    continue;
                }
                latency.push(Plot {
                    id: format!("mdtest-{}-latency", wi + 1),
                    title: format!("operation latency percentiles: {k}"),
                    y_desc: "operation latency (us)".to_string(),
                    kind: Kind::Bars {
                        categories: ["p50", "p90", "p99", "p99.9", "max"]
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                        series,
                        highlight: Vec::new(),
                    },
                    note: format!("run {}, all iterations merged", labels[di]),
                });
            }
        }
        None => notes.push(
            "no mdtest run recorded latency histograms (imported mdtest runs have none)".into(),
        ),
    }
    vec![
        ("Metadata rates across runs (mdtest)".to_string(), rates),
        (
            "Metadata latency (latest mdtest run with histograms)".to_string(),
            latency,
        ),
    ]
}
