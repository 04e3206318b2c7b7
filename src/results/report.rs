//! Static dashboard of result documents (`benchfs-bench report RESULTS... --out DIR`).
//!
//! Writes `DIR/index.html` with every plot inlined as SVG, each plot also as `DIR/<id>.svg`
//! (and `DIR/<id>.png` with `png`), drawn with plotters:
//! * history of bandwidth and IOPS of each workload across runs (ordered by run date; labelled
//!   with date and commit), median with a min–max bar over iterations;
//! * latency percentiles and CDF of the latest run that recorded latency histograms (decoded
//!   from the serialized HDR histograms, merged over iterations);
//! * per-rank bandwidth bars of the latest run (stragglers below 80 % of the ranks' median in
//!   red);
//! * bandwidth against transfer size for every set of workloads that differ only in transfer
//!   size (a sweep).
//!
//! Text renders without system fonts: the bundled DejaVu Sans (`assets/fonts`, Bitstream Vera
//! licence) is registered with plotters' `ab_glyph` for layout and PNG rasterising, embedded in
//! `index.html` as a data URI, and copied to `DIR/fonts/` for the standalone SVG files.
//! Owns drawing and page layout only; it never changes documents.

use crate::ior::latency::decode_histogram;
use crate::ior::results::{Phase, PhaseResult};
use crate::results::compare::{median, rows_by_workload};
use crate::results::document::ResultDocument;
use crate::units::format_size as size;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The bundled font (DejaVu Sans 2.37, Bitstream Vera licence with public-domain DejaVu changes;
/// see `assets/fonts/LICENSE-DejaVu.txt`).
pub const FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Licence text of [`FONT_TTF`].
pub const FONT_LICENSE: &str = include_str!("../../assets/fonts/LICENSE-DejaVu.txt");
/// CSS family name under which the page and SVG files use the bundled font.
pub const FONT_FAMILY: &str = "BenchFS DejaVu Sans";
const FONT_FILE: &str = "DejaVuSans.ttf";

const W: u32 = 800;
const H: u32 = 420;

/// Errors building a dashboard.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// plotters failed to draw a plot.
    #[error("plot {plot}: {message}")]
    Draw {
        /// Plot id.
        plot: String,
        /// plotters' message.
        message: String,
    },
    /// The bundled font could not be registered.
    #[error("bundled font could not be loaded")]
    Font,
    /// No document was given.
    #[error("no result document to report")]
    Empty,
}

/// Options of [`build_dashboard`].
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Also write a PNG of every plot.
    pub png: bool,
    /// Page title (default "benchfs-bench results").
    pub title: Option<String>,
    /// Keep the runs in the given order instead of sorting them by start date.
    pub keep_order: bool,
}

/// What [`build_dashboard`] wrote.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// `DIR/index.html`.
    pub index: PathBuf,
    /// Ids of the plots, in page order (`DIR/<id>.svg`).
    pub plots: Vec<String>,
}

/// How the x axis is labelled.
#[derive(Debug, Clone)]
enum XAxis {
    /// x = index into the labels.
    Categories(Vec<String>),
    /// x = log2(bytes).
    Log2Bytes,
    /// x = log10(microseconds).
    Log10Micros,
}

/// A point: x, y and an optional (low, high) bar.
type Point = (f64, f64, Option<(f64, f64)>);
/// A metric of the history plots: name, unit, extractor.
type MetricSpec = (&'static str, &'static str, fn(&PhaseResult) -> f64);
/// Sweep groups: key without transfer size → transfer size → per phase the bandwidths.
type SweepMap = BTreeMap<String, BTreeMap<i64, Vec<(Phase, Vec<f64>)>>>;

#[derive(Debug, Clone)]
struct Series {
    name: String,
    /// (x, y, optional (low, high) bar).
    points: Vec<Point>,
    /// Draw markers only (no line).
    markers_only: bool,
}

#[derive(Debug, Clone)]
enum Kind {
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
struct Plot {
    id: String,
    title: String,
    y_desc: String,
    kind: Kind,
    /// Extra text under the plot (HTML-escaped when written).
    note: String,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
const STRAGGLER: RGBColor = RGBColor(214, 39, 40);

fn register_font() -> Result<(), ReportError> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_TTF).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}

fn label_for(x: &XAxis, v: f64) -> String {
    match x {
        XAxis::Categories(c) => {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                c[i as usize].clone()
            } else {
                String::new()
            }
        }
        XAxis::Log2Bytes => {
            let i = v.round();
            if (v - i).abs() < 1e-6 {
                size(2f64.powf(i) as i64)
            } else {
                String::new()
            }
        }
        XAxis::Log10Micros => {
            let us = 10f64.powf(v);
            if us >= 1000.0 {
                format!("{:.3}ms", us / 1000.0)
            } else {
                format!("{us:.3}us")
            }
        }
    }
}

fn draw_err<E: std::fmt::Display>(id: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Draw {
        plot: id.to_string(),
        message: e.to_string(),
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Plot) -> Result<(), ReportError> {
    let err = draw_err(&p.id);
    root.fill(&WHITE).map_err(&err)?;
    match &p.kind {
        Kind::Lines { x, x_desc, series } => {
            let pts = series.iter().flat_map(|s| s.points.iter());
            let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
            for (px, py, r) in pts {
                x0 = x0.min(*px);
                x1 = x1.max(*px);
                y1 = y1.max(*py).max(r.map(|r| r.1).unwrap_or(0.0));
            }
            if let XAxis::Categories(c) = x {
                // Every run gets its slot, even those without this workload.
                (x0, x1) = (0.0, c.len().saturating_sub(1) as f64);
            }
            if !x0.is_finite() {
                (x0, x1) = (0.0, 1.0);
            }
            let pad = if matches!(x, XAxis::Categories(_)) || x1 - x0 < 1e-9 {
                0.5
            } else {
                (x1 - x0) * 0.03
            };
            let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
            let mut chart = ChartBuilder::on(root)
                .caption(&p.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..y1)
                .map_err(&err)?;
            let n_labels = match x {
                XAxis::Categories(c) => c.len().max(2) * 2 + 1,
                _ => 12,
            };
            let xa = x.clone();
            chart
                .configure_mesh()
                .x_labels(n_labels)
                .x_desc(x_desc.as_str())
                .y_desc(p.y_desc.as_str())
                .x_label_formatter(&move |v| label_for(&xa, *v))
                .draw()
                .map_err(&err)?;
            for (i, s) in series.iter().enumerate() {
                let c = COLORS[i % COLORS.len()];
                let mut pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                if s.markers_only {
                    chart
                        .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))
                        .map_err(&err)?
                        .label(s.name.as_str())
                        .legend(move |(x, y)| Circle::new((x + 10, y), 3, c.filled()));
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                        .map_err(&err)?
                        .label(s.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                    if pts.len() <= 64 {
                        chart
                            .draw_series(
                                pts.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())),
                            )
                            .map_err(&err)?;
                    }
                }
                chart
                    .draw_series(s.points.iter().filter_map(|(x, _, r)| {
                        r.map(|(lo, hi)| {
                            PathElement::new(vec![(*x, lo), (*x, hi)], c.stroke_width(1))
                        })
                    }))
                    .map_err(&err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&err)?;
        }
        Kind::Bars {
            categories,
            series,
            highlight,
        } => {
            let n = categories.len().max(1);
            let y1 = series
                .iter()
                .flat_map(|(_, v)| v.iter())
                .copied()
                .fold(0.0f64, f64::max);
            let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
            let mut chart = ChartBuilder::on(root)
                .caption(&p.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y1)
                .map_err(&err)?;
            let xa = XAxis::Categories(categories.clone());
            chart
                .configure_mesh()
                .x_labels(n * 2 + 1)
                .disable_x_mesh()
                .y_desc(p.y_desc.as_str())
                .x_label_formatter(&move |v| label_for(&xa, *v))
                .draw()
                .map_err(&err)?;
            let k = series.len().max(1) as f64;
            let width = 0.8 / k;
            for (si, (name, vals)) in series.iter().enumerate() {
                let c = COLORS[si % COLORS.len()];
                let hl = highlight.clone();
                chart
                    .draw_series(vals.iter().enumerate().map(|(ci, v)| {
                        let left = ci as f64 - 0.4 + si as f64 * width;
                        let color = if hl.get(ci).copied().unwrap_or(false) {
                            STRAGGLER
                        } else {
                            c
                        };
                        Rectangle::new([(left, 0.0), (left + width * 0.95, *v)], color.filled())
                    }))
                    .map_err(&err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&err)?;
        }
    }
    root.present().map_err(&err)?;
    Ok(())
}

/// The SVG text of a plot, as plotters draws it (no font style).
fn render_svg(p: &Plot) -> Result<String, ReportError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (W, H)).into_drawing_area();
        draw(&root, p)?;
    }
    Ok(s)
}

fn render_png(p: &Plot, path: &Path) -> Result<(), ReportError> {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    draw(&root, p)
}

/// Adds a style element to a standalone SVG so that its text uses the bundled font
/// (`fonts/DejaVuSans.ttf` beside it).
fn with_font_style(svg: &str) -> String {
    let style = format!(
        "<style>@font-face{{font-family:'{FONT_FAMILY}';src:url('fonts/{FONT_FILE}') format('truetype');}}text{{font-family:'{FONT_FAMILY}',sans-serif;}}</style>"
    );
    match svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{}{}", &svg[..at], style, &svg[at..]),
        None => svg.to_string(),
    }
}

/// `Mon Nov 23 23:33:48 2026` → sortable date-time, if it parses.
fn parse_ctime(s: &str) -> Option<chrono::NaiveDateTime> {
    let norm = s.split_whitespace().collect::<Vec<_>>().join(" ");
    chrono::NaiveDateTime::parse_from_str(&norm, "%a %b %d %H:%M:%S %Y").ok()
}

/// Short label of a run: its date and, when known, its commit.
fn run_label(doc: &ResultDocument, index: usize) -> String {
    let date = parse_ctime(&doc.run.began)
        .map(|d| d.format("%m-%d %H:%M").to_string())
        .unwrap_or_else(|| format!("run {}", index + 1));
    let c = &doc.build.git_commit;
    if c.is_empty() || c == "unknown" {
        date
    } else {
        format!("{date} {}", c.chars().take(7).collect::<String>())
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn slug(s: &str) -> String {
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

fn min_max(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

fn phase_values(rows: &[&PhaseResult], phase: Phase, f: fn(&PhaseResult) -> f64) -> Vec<f64> {
    rows.iter()
        .filter(|r| r.access == phase)
        .map(|r| f(r))
        .filter(|v| v.is_finite())
        .collect()
}

/// The plots for `docs` (already in run order).
fn plots(docs: &[&ResultDocument]) -> (Vec<(String, Vec<Plot>)>, Vec<String>) {
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
                    crate::ior::results::ResultEntry::Phase(p) => Some(p),
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
    (sections, notes)
}

fn per_doc_has_hist(d: &ResultDocument) -> bool {
    rows_by_workload(d)
        .iter()
        .any(|(_, r)| r.iter().any(|p| p.latency_hist.count > 0))
}

/// Builds the dashboard of `docs` (each with a label, e.g. its file name) in `out`.
pub fn build_dashboard(
    docs: &[(String, ResultDocument)],
    out: &Path,
    opts: &ReportOptions,
) -> Result<Dashboard, ReportError> {
    if docs.is_empty() {
        return Err(ReportError::Empty);
    }
    register_font()?;
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(out.join("fonts")).map_err(io(out))?;
    let font_path = out.join("fonts").join(FONT_FILE);
    std::fs::write(&font_path, FONT_TTF).map_err(io(&font_path))?;
    let lic = out.join("fonts").join("LICENSE-DejaVu.txt");
    std::fs::write(&lic, FONT_LICENSE).map_err(io(&lic))?;

    // Run order: by start date (unparsable dates keep their input position at the end).
    let mut order: Vec<usize> = (0..docs.len()).collect();
    if !opts.keep_order {
        order.sort_by_key(|&i| {
            (
                parse_ctime(&docs[i].1.run.began).is_none(),
                parse_ctime(&docs[i].1.run.began),
                i,
            )
        });
    }
    let sorted: Vec<&ResultDocument> = order.iter().map(|&i| &docs[i].1).collect();
    let (sections, notes) = plots(&sorted);

    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| "benchfs-bench results".to_string());
    let mut html = String::new();
    let font_b64 = base64(FONT_TTF);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\n@font-face{{font-family:'{FONT_FAMILY}';src:url(data:font/ttf;base64,{font_b64}) format('truetype');}}\nbody,svg text{{font-family:'{FONT_FAMILY}',sans-serif;}}\nbody{{margin:1.5em;color:#222;}}\nfigure.plot{{display:inline-block;margin:0.5em;border:1px solid #ddd;padding:0.3em;}}\nfigure.plot svg{{display:block;}}\ntable{{border-collapse:collapse;}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%;}}\n</style></head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    html.push_str("<h2>Runs</h2>\n<table><tr><th>#</th><th>label</th><th>file</th><th>source</th><th>began</th><th>commit</th><th>command line</th><th>tests</th></tr>\n");
    for (n, &i) in order.iter().enumerate() {
        let (name, d) = &docs[i];
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            n + 1,
            esc(&run_label(d, n)),
            esc(name),
            esc(d.source.as_ref().map(|s| s.format.as_str()).unwrap_or("benchfs")),
            esc(&d.run.began),
            esc(&d.build.git_commit),
            esc(&d.run.command_line),
            d.tests.len()
        );
    }
    html.push_str("</table>\n");
    let mut ids = Vec::new();
    for (name, plots) in &sections {
        let _ = writeln!(html, "<h2>{}</h2>", esc(name));
        if plots.is_empty() {
            html.push_str("<p class=\"empty\">Nothing to plot for these documents.</p>\n");
        }
        for p in plots {
            let svg = render_svg(p)?;
            let svg_path = out.join(format!("{}.svg", p.id));
            std::fs::write(&svg_path, with_font_style(&svg)).map_err(io(&svg_path))?;
            let mut links = format!("<a href=\"{}.svg\">svg</a>", p.id);
            if opts.png {
                let png_path = out.join(format!("{}.png", p.id));
                render_png(p, &png_path)?;
                let _ = write!(links, " · <a href=\"{}.png\">png</a>", p.id);
            }
            let _ = writeln!(
                html,
                "<figure class=\"plot\" id=\"{id}\">\n{svg}\n<figcaption>{note} · {links}</figcaption></figure>",
                id = p.id,
                note = esc(&p.note),
            );
            ids.push(p.id.clone());
        }
    }
    if !notes.is_empty() {
        html.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in &notes {
            let _ = writeln!(html, "<li>{}</li>", esc(n));
        }
        html.push_str("</ul>\n");
    }
    let _ = write!(
        html,
        "<p>Font: DejaVu Sans (Bitstream Vera licence, <a href=\"fonts/LICENSE-DejaVu.txt\">text</a>).</p>\n{SELF_CHECK}</body></html>\n"
    );
    let index = out.join("index.html");
    std::fs::write(&index, html).map_err(io(&index))?;
    Ok(Dashboard { index, plots: ids })
}

/// A small script that records in `<body data-*>` how many plots are present and drawn
/// (non-empty bounding box and drawing elements) and any script error, so that a headless
/// browser's DOM dump shows whether the page works.
const SELF_CHECK: &str = r#"<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); document.body.setAttribute('data-errors', errors.join(' | ')); });
  var figs = document.querySelectorAll('figure.plot');
  var ok = [];
  figs.forEach(function (f) {
    var svg = f.querySelector('svg');
    if (!svg) return;
    var box = svg.getBBox();
    var marks = svg.querySelectorAll('path, polyline, rect, circle, line, polygon').length;
    if (box.width > 0 && box.height > 0 && marks > 0) ok.push(f.id);
  });
  document.body.setAttribute('data-plots', String(figs.length));
  document.body.setAttribute('data-plots-ok', ok.join(' '));
  document.body.setAttribute('data-errors', errors.join(' | '));
  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(function () {
      var loaded = false;
      document.fonts.forEach(function (f) {
        if (f.family.replace(/['"]/g, '') === 'BenchFS DejaVu Sans' && f.status === 'loaded') loaded = true;
      });
      document.body.setAttribute('data-font', loaded ? 'loaded' : 'missing');
    });
  }
})();
</script>
"#;

fn base64(data: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_parses() {
        let d = parse_ctime("Mon Nov 23 23:33:48 2026").unwrap();
        assert_eq!(
            d.format("%Y-%m-%d %H:%M:%S").to_string(),
            "2026-11-23 23:33:48"
        );
        assert!(parse_ctime("Tue Nov  3 01:02:03 2026").is_some());
        assert!(parse_ctime("yesterday").is_none());
    }

    #[test]
    fn base64_and_slug() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(slug("IOPS"), "iops");
        assert_eq!(slug("a  b/c"), "a-b-c");
    }

    #[test]
    fn font_style_is_inserted_after_svg_tag() {
        let s = with_font_style("<svg width=\"1\">x</svg>");
        assert!(s.starts_with("<svg width=\"1\"><style>@font-face"));
        assert!(s.ends_with("x</svg>"));
    }
}
