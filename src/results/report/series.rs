//! What the dashboard plots: the series of every plot (history per workload, latency of the
//! latest runs, per-rank bars, sweeps) built from result documents, and the run labels.
//!
//! Owns the data of the plots only; drawing is [`super::draw`], the page [`super::page`].

use crate::ior::results::{Phase, PhaseResult};
use crate::measure::latency::decode_histogram;
use crate::results::compare::{median, rows_by_workload};
use crate::results::document::ResultDocument;
use std::collections::BTreeMap;

/// How the x axis is labelled.
#[derive(Debug, Clone)]
pub(super) enum XAxis {
    /// x = index into the labels.
    Categories(Vec<String>),
    /// x = log2(bytes).
    Log2Bytes,
    /// x = log10(microseconds).
    Log10Micros,
}

/// A point: x, y and an optional (low, high) bar.
pub(super) type Point = (f64, f64, Option<(f64, f64)>);
/// A metric of the history plots: name, unit, extractor.
pub(super) type MetricSpec = (&'static str, &'static str, fn(&PhaseResult) -> f64);
/// Sweep groups: key without transfer size → transfer size → per phase the bandwidths.
pub(super) type SweepMap = BTreeMap<String, BTreeMap<i64, Vec<(Phase, Vec<f64>)>>>;

#[derive(Debug, Clone)]
pub(super) struct Series {
    pub(super) name: String,
    /// (x, y, optional (low, high) bar).
    pub(super) points: Vec<Point>,
    /// Draw markers only (no line).
    pub(super) markers_only: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Lines {
        x: XAxis,
        x_desc: String,
        series: Vec<Series>,
    },
    Bars {
        categories: Vec<String>,
        series: Vec<(String, Vec<f64>)>,
        /// Per category: drawn in red (stragglers).
        highlight: Vec<bool>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Plot {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) y_desc: String,
    pub(super) kind: Kind,
    /// Extra text under the plot (HTML-escaped when written).
    pub(super) note: String,
}

/// Short label of a run: its date and, when known, its commit.
pub(super) fn run_label(doc: &ResultDocument, index: usize) -> String {
    let date = crate::timestamp::local_label(&doc.run.began, "%m-%d %H:%M")
        .unwrap_or_else(|| format!("run {}", index + 1));
    let c = &doc.build.git_commit;
    if c.is_empty() || c == "unknown" {
        date
    } else {
        format!("{date} {}", c.chars().take(7).collect::<String>())
    }
}

pub(super) fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

pub(super) fn min_max(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

pub(super) fn phase_values(
    rows: &[&PhaseResult],
    phase: Phase,
    f: fn(&PhaseResult) -> f64,
) -> Vec<f64> {
    rows.iter()
        .filter(|r| r.access == phase)
        .map(|r| f(r))
        .filter(|v| v.is_finite())
        .collect()
}

/// The plots for `docs` (already in run order).
pub(super) fn plots(docs: &[&ResultDocument]) -> (Vec<(String, Vec<Plot>)>, Vec<String>) {
    let mut sections: Vec<(String, Vec<Plot>)> = Vec::new();
    let mut notes = Vec::new();
    let labels: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| run_label(d, i))
        .collect();
    let per_doc: Vec<Vec<(String, Vec<&PhaseResult>)>> =
        docs.iter().map(|d| rows_by_workload(d)).collect();

    // History of every workload.
    let mut workloads: Vec<String> = Vec::new();
    for w in per_doc.iter().flatten() {
        if !workloads.contains(&w.0) {
            workloads.push(w.0.clone());
        }
    }
    let mut history = Vec::new();
    for (wi, key) in workloads.iter().enumerate() {
        let metrics: [MetricSpec; 2] = [
            ("bandwidth", "MiB/s", |r| r.bw_mib),
            ("IOPS", "ops/s", |r| r.iops),
        ];
        for (mname, unit, f) in metrics {
            let mut series = Vec::new();
            for phase in [Phase::Write, Phase::Read] {
                let mut points = Vec::new();
                for (di, rows) in per_doc.iter().enumerate() {
                    let Some((_, rows)) = rows.iter().find(|(k, _)| k == key) else {
                        continue;
                    };
                    let v = phase_values(rows, phase, f);
                    if v.is_empty() {
                        continue;
                    }
                    let (lo, hi) = min_max(&v);
                    points.push((di as f64, median(&v), Some((lo, hi))));
                }
                if !points.is_empty() {
                    series.push(Series {
                        name: phase.as_str().to_string(),
                        points,
                        markers_only: false,
                    });
                }
            }
            if series.is_empty() {
                continue;
            }
            history.push(Plot {
                id: format!("history-{}-{}", wi + 1, slug(mname)),
                title: format!("{mname}: {key}"),
                y_desc: format!("{mname} ({unit}), median and min-max"),
                kind: Kind::Lines {
                    x: XAxis::Categories(labels.clone()),
                    x_desc: "run (date, commit)".to_string(),
                    series,
                },
                note: format!("{} run(s)", docs.len()),
            });
        }
    }
    sections.push(("History across runs".to_string(), history));

    // Latency of the latest run with histograms.
    let mut latency = Vec::new();
    if let Some((di, doc)) = docs
        .iter()
        .enumerate()
        .rev()
        .find(|(_, d)| per_doc_has_hist(d))
    {
        for (wi, (key, rows)) in rows_by_workload(doc).iter().enumerate() {
            let mut pct_series = Vec::new();
            let mut cdf_series = Vec::new();
            for phase in [Phase::Write, Phase::Read] {
                let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
                for r in rows
                    .iter()
                    .filter(|r| r.access == phase && r.latency_hist.count > 0)
                {
                    match decode_histogram(&r.latency_hist.histogram) {
                        Ok(h) => match merged.as_mut() {
                            Some(m) => {
                                if m.add(&h).is_err() {
                                    notes.push(format!("{key}: a latency histogram did not merge"));
                                }
                            }
                            None => merged = Some(h),
                        },
                        Err(e) => notes.push(format!("{key}: {e}")),
                    }
                }
                let Some(h) = merged else { continue };
                if h.is_empty() {
                    continue;
                }
                let us = |ns: u64| ns as f64 / 1000.0;
                pct_series.push((
                    phase.as_str().to_string(),
                    [0.5, 0.9, 0.99, 0.999]
                        .iter()
                        .map(|q| us(h.value_at_quantile(*q)))
                        .chain(std::iter::once(us(h.max())))
                        .collect(),
                ));
                let points = h
                    .iter_recorded()
                    .map(|v| {
                        (
                            us(v.value_iterated_to().max(1)).log10(),
                            v.quantile_iterated_to(),
                            None,
                        )
                    })
                    .collect();
                cdf_series.push(Series {
                    name: phase.as_str().to_string(),
                    points,
                    markers_only: false,
                });
            }
            if pct_series.is_empty() {
                continue;
            }
            latency.push(Plot {
                id: format!("latency-{}-percentiles", wi + 1),
                title: format!("latency percentiles: {key}"),
                y_desc: "transfer latency (us)".to_string(),
                kind: Kind::Bars {
                    categories: ["p50", "p90", "p99", "p99.9", "max"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    series: pct_series,
                    highlight: Vec::new(),
                },
                note: format!("run {}, all iterations merged", labels[di]),
            });
            latency.push(Plot {
                id: format!("latency-{}-cdf", wi + 1),
                title: format!("latency CDF: {key}"),
                y_desc: "fraction of transfers".to_string(),
                kind: Kind::Lines {
                    x: XAxis::Log10Micros,
                    x_desc: "transfer latency (log scale)".to_string(),
                    series: cdf_series,
                },
                note: format!("run {}, all iterations merged", labels[di]),
            });
        }
    } else {
        notes.push("no run recorded latency histograms (imported IOR runs have none)".to_string());
    }
    sections.push(("Latency (latest run with histograms)".to_string(), latency));

    // Per-rank bars of the latest run with per-rank figures.
    let mut ranks = Vec::new();
    if let Some((di, doc)) = docs.iter().enumerate().rev().find(|(_, d)| {
        rows_by_workload(d)
            .iter()
            .any(|(_, r)| r.iter().any(|p| !p.per_rank.is_empty()))
    }) {
        for (wi, (key, rows)) in rows_by_workload(doc).iter().enumerate() {
            for phase in [Phase::Write, Phase::Read] {
                let mut cand: Vec<&&PhaseResult> = rows
                    .iter()
                    .filter(|r| r.access == phase && !r.per_rank.is_empty())
                    .collect();
                if cand.is_empty() {
                    continue;
                }
                // The iteration with the median bandwidth.
                cand.sort_by(|a, b| a.bw_mib.total_cmp(&b.bw_mib));
                let row = cand[cand.len() / 2];
                let bws: Vec<f64> = row.per_rank.iter().map(|r| r.bw_mib).collect();
                let med = median(&bws);
                let highlight: Vec<bool> = bws.iter().map(|b| *b < 0.8 * med).collect();
                let slow: Vec<String> = row
                    .per_rank
                    .iter()
                    .zip(&highlight)
                    .filter(|(_, h)| **h)
                    .map(|(r, _)| r.rank.to_string())
                    .collect();
                ranks.push(Plot {
                    id: format!("ranks-{}-{}", wi + 1, phase.as_str()),
                    title: format!("per-rank {} bandwidth: {key}", phase.as_str()),
                    y_desc: "MiB/s over the rank's transfer time".to_string(),
                    kind: Kind::Bars {
                        categories: row.per_rank.iter().map(|r| format!("rank {}", r.rank)).collect(),
                        series: vec![(phase.as_str().to_string(), bws)],
                        highlight,
                    },
                    note: format!(
                        "run {}, iteration {} (median bandwidth); stragglers (< 80% of median, red): {}",
                        labels[di],
                        row.iteration,
                        if slow.is_empty() { "none".to_string() } else { slow.join(", ") }
                    ),
                });
            }
        }
    } else {
        notes.push("no run has per-rank figures (imported IOR runs have none)".to_string());
    }
    sections.push(("Per-rank bandwidth (latest run)".to_string(), ranks));

    // Bandwidth vs transfer size.
    let mut sweeps: SweepMap = BTreeMap::new();
    for doc in docs {
        for t in &doc.tests {
            let key = crate::results::compare::workload_key(t);
            let sweep_key: String = key
                .split(' ')
                .filter(|w| !w.starts_with("t="))
                .collect::<Vec<_>>()
                .join(" ");
            let rows: Vec<&PhaseResult> = t
                .results
                .iter()
                .filter_map(|e| match e {
                    crate::ior::results::ResultEntry::Phase(p) if p.measured => Some(p),
                    _ => None,
                })
                .collect();
            let vals = [Phase::Write, Phase::Read]
                .into_iter()
                .map(|ph| (ph, phase_values(&rows, ph, |r| r.bw_mib)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            // Later runs replace earlier ones for the same size.
            sweeps
                .entry(sweep_key)
                .or_default()
                .insert(t.params.transfer_size, vals);
        }
    }
    let mut sweep_plots = Vec::new();
    for (si, (key, by_size)) in sweeps.iter().filter(|(_, m)| m.len() >= 2).enumerate() {
        let mut series = Vec::new();
        for phase in [Phase::Write, Phase::Read] {
            let points: Vec<_> = by_size
                .iter()
                .filter(|(x, _)| **x > 0)
                .filter_map(|(x, v)| {
                    v.iter().find(|(p, _)| *p == phase).map(|(_, vals)| {
                        let (lo, hi) = min_max(vals);
                        ((*x as f64).log2(), median(vals), Some((lo, hi)))
                    })
                })
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: phase.as_str().to_string(),
                    points,
                    markers_only: false,
                });
            }
        }
        sweep_plots.push(Plot {
            id: format!("sweep-{}", si + 1),
            title: format!("bandwidth vs transfer size: {key}"),
            y_desc: "bandwidth (MiB/s), median and min-max".to_string(),
            kind: Kind::Lines {
                x: XAxis::Log2Bytes,
                x_desc: "transfer size".to_string(),
                series,
            },
            note: format!("{} transfer sizes", by_size.len()),
        });
    }
    if sweep_plots.is_empty() {
        notes.push("no sweep: no workloads that differ only in transfer size".to_string());
    }
    sections.push(("Bandwidth vs transfer size".to_string(), sweep_plots));
    sections.extend(super::metadata::mdtest_plots(docs, &labels, &mut notes));
    sections.extend(super::io500::io500_plots(docs, &labels));
    (sections, notes)
}

pub(super) fn per_doc_has_hist(d: &ResultDocument) -> bool {
    rows_by_workload(d)
        .iter()
        .any(|(_, r)| r.iter().any(|p| p.latency_hist.count > 0))
}
