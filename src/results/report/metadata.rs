//! The mdtest plots of the dashboard: for every mdtest workload, a rate plot per phase
//! (operation) across the runs, median and min–max over iterations; the latency
//! percentiles of every operation of the latest run that recorded histograms; and the
//! operations over time of each phase of the latest run that recorded time series (drawn as
//! IOR phases' are, [`super::timeline::series_plots`]).
//!
//! Owns the data of these plots only (drawing is [`super::draw`], the page [`super::page`]).

use super::plot::{
    merged_histogram, min_max, percentiles_us, slug, spans_decades, y_values, Kind, Plot, Series,
    Style, Tone, XAxis, PERCENTILES,
};
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
            let kind = Kind::Lines {
                x: XAxis::Runs(labels.to_vec()),
                x_desc: "run (commit or date), in sequence".to_string(),
                series: vec![Series {
                    name: op.name().to_string(),
                    points,
                    style: Style::Line,
                    tone: Tone::Palette(0),
                }],
                bands: Vec::new(),
                marks: Vec::new(),
            };
            rates.push(Plot {
                id: format!("mdtest-{}-{}", wi + 1, slug(op.key())),
                title: format!("{}: {key}", op.name()),
                y_desc: "rate (ops/s), median and min-max".to_string(),
                y_log: spans_decades(y_values(&kind)),
                kind,
                note: format!("{} run(s)", docs.len()),
                verdict: None,
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
                    let hists = r
                        .phases
                        .iter()
                        .filter(|p| p.op == op && p.latency.count > 0)
                        .map(|p| p.latency.histogram.as_str());
                    let Some(h) = merged_histogram(hists, k, notes) else {
                        continue;
                    };
                    series.push((op.name().to_string(), percentiles_us(&h)));
                }
                if series.is_empty() {
                    continue;
                }
                let kind = Kind::Bars {
                    categories: PERCENTILES.iter().map(|s| s.to_string()).collect(),
                    series,
                    highlight: Vec::new(),
                    reference: None,
                };
                latency.push(Plot {
                    id: format!("mdtest-{}-latency", wi + 1),
                    title: format!("operation latency percentiles: {k}"),
                    y_desc: "operation latency (us)".to_string(),
                    y_log: spans_decades(y_values(&kind)),
                    kind,
                    note: format!("run {}, all iterations merged", labels[di]),
                    verdict: None,
                });
            }
        }
        None => notes.push(
            "no mdtest run recorded latency histograms (imported mdtest runs have none)".into(),
        ),
    }
    let times = time_series_plots(&per_doc, &keys, labels);
    if times.is_empty() {
        notes.push("no mdtest run recorded operations over time (imported runs have none)".into());
    }
    vec![
        ("Metadata rates across runs (mdtest)".to_string(), rates),
        (
            "Metadata latency (latest mdtest run with histograms)".to_string(),
            latency,
        ),
        (
            "Metadata operations over time (latest mdtest run with time series)".to_string(),
            times,
        ),
    ]
}

/// Per workload of the latest run that recorded time series: each operation's last
/// iteration, its operations (or bytes) over time and per rank.
fn time_series_plots(
    per_doc: &[Vec<(String, &crate::results::document::MdtestTaskDocument)>],
    keys: &[String],
    labels: &[String],
) -> Vec<Plot> {
    let drawn = |p: &crate::results::document::MdtestPhase| {
        p.time_series
            .as_ref()
            .is_some_and(super::timeline::drawable)
    };
    let Some((di, runs)) = per_doc
        .iter()
        .enumerate()
        .rev()
        .find(|(_, runs)| runs.iter().any(|(_, r)| r.phases.iter().any(drawn)))
    else {
        return Vec::new();
    };
    let mut plots = Vec::new();
    for (k, r) in runs {
        let wi = keys.iter().position(|x| x == k).unwrap_or(0) + 1;
        for (pi, op) in Op::ALL.into_iter().enumerate() {
            let Some(p) = r.phases.iter().rev().find(|p| p.op == op && drawn(p)) else {
                continue;
            };
            let Some(ts) = p.time_series.as_ref() else {
                continue;
            };
            let wall = p.stonewall.as_ref().map(|s| s.time).filter(|t| *t > 0.0);
            let note = format!(
                "run {}, iteration {}, {} ms intervals",
                labels[di],
                p.iteration + 1,
                (ts.interval_s * 1000.0).round()
            );
            plots.extend(super::timeline::series_plots(
                &format!("mdtest-{wi}-timeseries-{}", slug(op.key())),
                k,
                op.name(),
                pi,
                ts,
                p.time,
                wall,
                note,
            ));
        }
    }
    plots
}
