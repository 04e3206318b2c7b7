//! History plots: per workload, the median bandwidth and IOPS of write and read of every run
//! in sequence (min–max bar over iterations), the baseline's min–max band and median, and
//! the verdict of `compare` between the baseline and the workload's latest run.
//!
//! Owns the choice of what the history plots show; comparisons come from
//! [`crate::results::compare`], drawing from [`super::draw`].

use super::plot::{
    min_max, phase_values, run_label, run_title, slug, spans_decades, y_values, Band, Kind, Plot,
    Series, Style, Tone, VerdictLine, XAxis,
};
use crate::ior::results::{Phase, PhaseResult};
use crate::results::compare::{self, median, rows_by_workload, Comparison, Verdict};
use crate::results::document::ResultDocument;
use std::collections::BTreeMap;

/// The run the history is judged against.
pub(super) struct Baseline<'a> {
    /// Its document.
    pub(super) doc: &'a ResultDocument,
    /// How the page names it (a file name, or "first run ...").
    pub(super) label: String,
}

/// Threshold (percent) and significance level of the verdicts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Judging {
    /// `compare`'s `--threshold`, percent.
    pub(super) threshold_pct: f64,
    /// `compare`'s `--alpha`.
    pub(super) alpha: f64,
}

/// A metric of the history: title word, unit, the `compare` metric it is judged by, value.
type MetricSpec = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PhaseResult) -> f64,
);

const METRICS: [MetricSpec; 2] = [
    ("bandwidth", "MiB/s", "bw", |r| r.bw_mib),
    ("IOPS", "ops/s", "iops", |r| r.iops),
];

/// Severity order of verdicts for the line's colour: the worst one wins.
fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Regression => 5,
        Verdict::Insufficient | Verdict::Inconclusive => 3,
        Verdict::Improvement => 2,
        Verdict::Unchanged => 1,
        Verdict::NoCommonWorkload => 0,
    }
}

/// The verdict line of `metric` of `workload` in comparison `c`.
fn verdict_line(c: &Comparison, workload: &str, metric: &str, what: &str) -> Option<VerdictLine> {
    let ms: Vec<_> = c
        .metrics
        .iter()
        .filter(|m| m.workload == workload && m.metric == metric)
        .collect();
    let worst = ms.iter().map(|m| m.verdict).max_by_key(|v| severity(*v))?;
    let parts: Vec<String> = ms
        .iter()
        .map(|m| {
            format!(
                "{} {:+.1} % {}",
                m.phase.as_str(),
                m.change_pct,
                m.verdict.as_str()
            )
        })
        .collect();
    Some(VerdictLine {
        text: format!("{what}: {}", parts.join(", ")),
        worst: worst.as_str().to_string(),
    })
}

/// The history plots of `docs` (in run order).
pub(super) fn history_plots(
    docs: &[&ResultDocument],
    baseline: Option<&Baseline<'_>>,
    judging: Judging,
) -> Vec<Plot> {
    let labels: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| run_label(d, i))
        .collect();
    let per_doc: Vec<Vec<(String, Vec<&PhaseResult>)>> =
        docs.iter().map(|d| rows_by_workload(d)).collect();
    let base_rows = baseline
        .map(|b| rows_by_workload(b.doc))
        .unwrap_or_default();
    let mut workloads: Vec<&String> = Vec::new();
    for (w, _) in per_doc.iter().flatten() {
        if !workloads.contains(&w) {
            workloads.push(w);
        }
    }
    // One comparison per run that is the latest of some workload.
    let mut comparisons: BTreeMap<usize, Comparison> = BTreeMap::new();
    let mut plots = Vec::new();
    for (wi, key) in workloads.iter().enumerate() {
        let latest = per_doc
            .iter()
            .rposition(|rows| rows.iter().any(|(k, _)| k == *key));
        let comparison = match (baseline, latest) {
            (Some(b), Some(li)) if !std::ptr::eq(b.doc, docs[li]) => {
                Some(&*comparisons.entry(li).or_insert_with(|| {
                    compare::compare(
                        b.doc,
                        &b.label,
                        docs[li],
                        &labels[li],
                        judging.threshold_pct,
                        judging.alpha,
                    )
                }))
            }
            _ => None,
        };
        for (mname, unit, metric, f) in METRICS {
            let mut series = Vec::new();
            let mut bands = Vec::new();
            for (pi, phase) in [Phase::Write, Phase::Read].into_iter().enumerate() {
                let points: Vec<_> = per_doc
                    .iter()
                    .enumerate()
                    .filter_map(|(di, rows)| {
                        let (_, rows) = rows.iter().find(|(k, _)| k == *key)?;
                        let v = phase_values(rows, phase, f);
                        (!v.is_empty()).then(|| (di as f64, median(&v), Some(min_max(&v))))
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                series.push(Series {
                    name: phase.as_str().to_string(),
                    points,
                    style: Style::Line,
                    tone: Tone::Palette(pi),
                });
                if let Some((_, rows)) = base_rows.iter().find(|(k, _)| k == *key) {
                    let v = phase_values(rows, phase, f);
                    if !v.is_empty() {
                        let (lo, hi) = min_max(&v);
                        bands.push(Band {
                            name: format!("baseline {}", phase.as_str()),
                            lo,
                            hi,
                            mid: median(&v),
                            tone: Tone::Palette(pi),
                        });
                    }
                }
            }
            if series.is_empty() {
                continue;
            }
            let verdict = match (comparison, latest) {
                (Some(c), Some(li)) => verdict_line(
                    c,
                    key,
                    metric,
                    &format!("latest run ({}) vs baseline", labels[li]),
                ),
                _ => None,
            };
            let kind = Kind::Lines {
                x: XAxis::Runs(labels.clone()),
                x_desc: "run (commit or date), in sequence".to_string(),
                series,
                bands,
                marks: Vec::new(),
            };
            let y_log = spans_decades(y_values(&kind));
            let base_note = match baseline {
                Some(b) => format!("; band: baseline {} (min-max, line at its median)", b.label),
                None => String::new(),
            };
            plots.push(Plot {
                id: format!("history-{}-{}", wi + 1, slug(mname)),
                title: format!("{mname}: {key}"),
                y_desc: format!("{mname} ({unit}), median, min-max"),
                y_log,
                kind,
                note: format!(
                    "{} run(s), {} to {}{base_note}",
                    docs.len(),
                    run_title(docs[0], 0),
                    run_title(docs[docs.len() - 1], docs.len() - 1)
                ),
                verdict,
            });
        }
    }
    plots
}
