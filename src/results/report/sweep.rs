//! Sweep plots: for every set of workloads that differ only in transfer size, the median
//! bandwidth (min–max) of write and read against the transfer size (log2 axis).
//!
//! Owns the grouping of workloads into sweeps; drawing is [`super::draw`]'s.

use super::plot::{
    min_max, phase_values, spans_decades, y_values, Kind, Plot, Series, Style, Tone, XAxis,
};
use crate::ior::results::{Phase, PhaseResult, ResultEntry};
use crate::results::compare::{median, workload_key};
use crate::results::document::ResultDocument;
use std::collections::BTreeMap;

/// Key without transfer size → transfer size → per phase the bandwidths.
type SweepMap = BTreeMap<String, BTreeMap<i64, Vec<(Phase, Vec<f64>)>>>;

/// The sweep plots of `docs` (in run order: a later run replaces an earlier one's size).
pub(super) fn sweep_plots(docs: &[&ResultDocument]) -> Vec<Plot> {
    let mut sweeps: SweepMap = BTreeMap::new();
    for doc in docs {
        for t in &doc.tests {
            let sweep_key: String = workload_key(t)
                .split(' ')
                .filter(|w| !w.starts_with("t="))
                .collect::<Vec<_>>()
                .join(" ");
            let rows: Vec<&PhaseResult> = t
                .results
                .iter()
                .filter_map(|e| match e {
                    ResultEntry::Phase(p) if p.measured => Some(p),
                    _ => None,
                })
                .collect();
            let vals = [Phase::Write, Phase::Read]
                .into_iter()
                .map(|ph| (ph, phase_values(&rows, ph, |r| r.bw_mib)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            sweeps
                .entry(sweep_key)
                .or_default()
                .insert(t.params.transfer_size, vals);
        }
    }
    let mut plots = Vec::new();
    for (si, (key, by_size)) in sweeps.iter().filter(|(_, m)| m.len() >= 2).enumerate() {
        let mut series = Vec::new();
        for (pi, phase) in [Phase::Write, Phase::Read].into_iter().enumerate() {
            let points: Vec<_> = by_size
                .iter()
                .filter(|(x, _)| **x > 0)
                .filter_map(|(x, v)| {
                    v.iter()
                        .find(|(p, _)| *p == phase)
                        .map(|(_, vals)| ((*x as f64).log2(), median(vals), Some(min_max(vals))))
                })
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: phase.as_str().to_string(),
                    points,
                    style: Style::Line,
                    tone: Tone::Palette(pi),
                });
            }
        }
        let kind = Kind::Lines {
            x: XAxis::Log2Bytes,
            x_desc: "transfer size".to_string(),
            series,
            bands: Vec::new(),
            marks: Vec::new(),
        };
        plots.push(Plot {
            id: format!("sweep-{}", si + 1),
            title: format!("bandwidth vs transfer size: {key}"),
            y_desc: "bandwidth (MiB/s), median, min-max".to_string(),
            y_log: spans_decades(y_values(&kind)),
            kind,
            note: format!("{} transfer sizes", by_size.len()),
            verdict: None,
        });
    }
    plots
}
