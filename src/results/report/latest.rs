//! Plots of the latest run of each workload: transfer latency percentiles and CDF (from the
//! HDR histograms of every iteration, merged) and each task's bandwidth as a percentage of
//! the median task (stragglers below 80 % in red).
//!
//! Owns the choice of run, iteration and figures for these plots; drawing is
//! [`super::draw`]'s.

use super::plot::{
    merged_histogram, percentiles_us, run_title, spans_decades, y_values, Kind, Plot, Series,
    Style, Tone, XAxis, PERCENTILES,
};
use crate::ior::results::{Phase, PhaseResult};
use crate::results::compare::{median, rows_by_workload};
use crate::results::document::ResultDocument;

/// A task below this share of the median task is a straggler.
pub(super) const STRAGGLER_PCT: f64 = 80.0;

/// The rows of `key` in the latest of `docs` whose rows satisfy `has`: (run index, rows).
pub(super) fn latest_with<'a>(
    docs: &[&'a ResultDocument],
    key: &str,
    has: impl Fn(&PhaseResult) -> bool,
) -> Option<(usize, Vec<&'a PhaseResult>)> {
    docs.iter().enumerate().rev().find_map(|(di, d)| {
        let (_, rows) = rows_by_workload(d).into_iter().find(|(k, _)| k == key)?;
        rows.iter().any(|r| has(r)).then_some((di, rows))
    })
}

/// The row of `phase` with the median bandwidth among `rows` that satisfy `has`.
pub(super) fn median_row<'a>(
    rows: &[&'a PhaseResult],
    phase: Phase,
    has: impl Fn(&PhaseResult) -> bool,
) -> Option<&'a PhaseResult> {
    let mut cand: Vec<&PhaseResult> = rows
        .iter()
        .copied()
        .filter(|r| r.access == phase && has(r))
        .collect();
    cand.sort_by(|a, b| a.bw_mib.total_cmp(&b.bw_mib));
    cand.get(cand.len() / 2).copied()
}

/// Latency percentiles and CDF of workload `key` (number `n` on the page) in its latest run
/// with histograms; problems decoding go to `notes`.
pub(super) fn latency_plots(
    docs: &[&ResultDocument],
    n: usize,
    key: &str,
    notes: &mut Vec<String>,
) -> Vec<Plot> {
    let Some((di, rows)) = latest_with(docs, key, |r| r.latency_hist.count > 0) else {
        return Vec::new();
    };
    let mut pct_series = Vec::new();
    let mut cdf_series = Vec::new();
    for (pi, phase) in [Phase::Write, Phase::Read].into_iter().enumerate() {
        let hists = rows
            .iter()
            .filter(|r| r.access == phase && r.latency_hist.count > 0)
            .map(|r| r.latency_hist.histogram.as_str());
        let Some(h) = merged_histogram(hists, key, notes) else {
            continue;
        };
        let us = |ns: u64| ns.max(1) as f64 / 1000.0;
        pct_series.push((phase.as_str().to_string(), percentiles_us(&h)));
        cdf_series.push(Series {
            name: phase.as_str().to_string(),
            points: h
                .iter_recorded()
                .map(|v| (us(v.value_iterated_to()), v.quantile_iterated_to(), None))
                .collect(),
            style: Style::Line,
            tone: Tone::Palette(pi),
        });
    }
    if pct_series.is_empty() {
        return Vec::new();
    }
    let run = run_title(docs[di], di);
    let bars = Kind::Bars {
        categories: PERCENTILES.iter().map(|s| s.to_string()).collect(),
        series: pct_series,
        highlight: Vec::new(),
        reference: None,
    };
    vec![
        Plot {
            id: format!("latency-{n}-percentiles"),
            title: format!("latency percentiles: {key}"),
            y_desc: "transfer latency (us)".to_string(),
            y_log: spans_decades(y_values(&bars)),
            kind: bars,
            note: format!("run {run}, all iterations merged"),
            verdict: None,
        },
        Plot {
            id: format!("latency-{n}-cdf"),
            title: format!("latency CDF: {key}"),
            y_desc: "fraction of transfers".to_string(),
            y_log: false,
            kind: Kind::Lines {
                x: XAxis::LogMicros,
                x_desc: "transfer latency (us, log scale)".to_string(),
                series: cdf_series,
                bands: Vec::new(),
                marks: Vec::new(),
            },
            note: format!("run {run}, all iterations merged"),
            verdict: None,
        },
    ]
}

/// Per-task bandwidth of workload `key` (number `n`) in its latest run with per-task
/// figures, as a percentage of the median task, per phase.
pub(super) fn task_plots(docs: &[&ResultDocument], n: usize, key: &str) -> Vec<Plot> {
    let has = |r: &PhaseResult| !r.per_rank.is_empty();
    let Some((di, rows)) = latest_with(docs, key, has) else {
        return Vec::new();
    };
    let mut plots = Vec::new();
    for phase in [Phase::Write, Phase::Read] {
        let Some(row) = median_row(&rows, phase, has) else {
            continue;
        };
        let bws: Vec<f64> = row.per_rank.iter().map(|r| r.bw_mib).collect();
        let med = median(&bws);
        let pct: Vec<f64> = bws
            .iter()
            .map(|b| if med > 0.0 { b / med * 100.0 } else { 0.0 })
            .collect();
        let highlight: Vec<bool> = pct.iter().map(|p| *p < STRAGGLER_PCT).collect();
        let slow: Vec<String> = row
            .per_rank
            .iter()
            .zip(&highlight)
            .filter(|(_, h)| **h)
            .map(|(r, _)| r.rank.to_string())
            .collect();
        // A log scale when the tasks span a decade or more (a task at 2 % of the median).
        let y_log = spans_decades(pct.iter().copied().chain([100.0]));
        plots.push(Plot {
            id: format!("ranks-{n}-{}", phase.as_str()),
            title: format!("per-task {} bandwidth: {key}", phase.as_str()),
            y_desc: "% of the median task".to_string(),
            y_log,
            kind: Kind::Bars {
                categories: row.per_rank.iter().map(|r| r.rank.to_string()).collect(),
                series: vec![(phase.as_str().to_string(), pct)],
                highlight,
                reference: Some((100.0, format!("median task ({med:.1} MiB/s)"))),
            },
            note: format!(
                "run {}, iteration {} (median bandwidth); each task over its own transfer time; \
                 stragglers (< {STRAGGLER_PCT:.0} % of the median, red): {}",
                run_title(docs[di], di),
                row.iteration,
                if slow.is_empty() {
                    "none".to_string()
                } else {
                    slow.join(", ")
                }
            ),
            verdict: None,
        });
    }
    plots
}
