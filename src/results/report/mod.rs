//! Static dashboard of result documents (`benchfs-bench report RESULTS... --out DIR`).
//!
//! Writes `DIR/index.html` (a minijinja template, auto-escaped) with every plot inlined as
//! SVG, each plot also as `DIR/<id>.svg` (and `DIR/<id>.png` with `png`), drawn with plotters:
//! * history of bandwidth and IOPS of each workload on its own axis across the run sequence
//!   (short rotated labels, thinned so they never overlap), median with a min–max bar, the
//!   baseline's band and the compare verdict of the latest run ([`history`]);
//! * latency percentiles and CDF, and per-task bandwidth as % of the median task, for the
//!   latest run of each workload ([`latest`]);
//! * bandwidth over time per phase with the stonewall mark, and per-rank lines with the
//!   straggler in red, from the phases' `time_series` ([`timeline`]);
//! * bandwidth against transfer size for every set of workloads that differ only in transfer
//!   size ([`sweep`]);
//! * for mdtest runs, a rate plot per operation across runs and the latency percentiles of
//!   every operation of the latest run ([`metadata`]);
//! * for IO500 runs, the score history (TOTAL, BW, MD) and the phase scores of the latest
//!   run as bars ([`io500`]).
//!
//! Log scales where the values span a decade or more ([`axis`]).
//! Text renders without system fonts: the bundled DejaVu Sans (`assets/fonts`, Bitstream Vera
//! licence) is registered with plotters' `ab_glyph` for layout and PNG rasterising, embedded in
//! `index.html` as a data URI, and copied to `DIR/fonts/` for the standalone SVG files.
//! Owns drawing and page layout only; it never changes documents.

mod axis;
mod draw;
mod history;
mod io500;
mod latest;
mod metadata;
mod page;
mod plot;
mod sweep;
mod timeline;

use crate::results::compare::{rows_by_workload, DEFAULT_ALPHA};
use crate::results::document::ResultDocument;
use crate::timestamp;
use draw::{register_font, FONT_FILE};
pub use draw::{FONT_FAMILY, FONT_LICENSE, FONT_TTF};
use history::{Baseline, Judging};
use plot::Plot;
use std::path::{Path, PathBuf};

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
    /// The page template failed to render.
    #[error("page template: {0}")]
    Template(String),
}

/// Options of [`build_dashboard`].
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Also write a PNG of every plot.
    pub png: bool,
    /// Page title (default "benchfs-bench results").
    pub title: Option<String>,
    /// Keep the runs in the given order instead of sorting them by start date.
    pub keep_order: bool,
    /// The run the history is judged against (label, document); default the first run.
    pub baseline: Option<(String, ResultDocument)>,
    /// Threshold of the verdicts, percent (as `compare --threshold`).
    pub threshold_pct: f64,
    /// Significance level of the verdicts (as `compare --alpha`).
    pub alpha: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            png: false,
            title: None,
            keep_order: false,
            baseline: None,
            threshold_pct: 5.0,
            alpha: DEFAULT_ALPHA,
        }
    }
}

/// What [`build_dashboard`] wrote.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// `DIR/index.html`.
    pub index: PathBuf,
    /// Ids of the plots, in page order (`DIR/<id>.svg`).
    pub plots: Vec<String>,
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
            let t = timestamp::parse(&docs[i].1.run.began);
            (t.is_none(), t, i)
        });
    }
    let sorted: Vec<&ResultDocument> = order.iter().map(|&i| &docs[i].1).collect();
    let baseline = match &opts.baseline {
        Some((label, doc)) => Some(Baseline {
            doc,
            label: label.clone(),
        }),
        None if sorted.len() >= 2 => Some(Baseline {
            doc: sorted[0],
            label: format!("the first run ({})", plot::run_title(sorted[0], 0)),
        }),
        None => None,
    };
    let judging = Judging {
        threshold_pct: opts.threshold_pct,
        alpha: opts.alpha,
    };
    let (sections, notes) = sections(&sorted, baseline.as_ref(), judging);
    let (html, ids) = page::write_page(
        docs,
        &order,
        &sections,
        &notes,
        baseline.as_ref().map(|b| b.label.as_str()),
        out,
        opts,
    )?;
    let index = out.join("index.html");
    std::fs::write(&index, html).map_err(io(&index))?;
    Ok(Dashboard { index, plots: ids })
}

/// Every section of the page with its plots, and the notes on what could not be plotted.
fn sections(
    docs: &[&ResultDocument],
    baseline: Option<&Baseline<'_>>,
    judging: Judging,
) -> (Vec<(String, Vec<Plot>)>, Vec<String>) {
    let mut notes = Vec::new();
    let labels: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| plot::run_label(d, i))
        .collect();
    let mut workloads: Vec<String> = Vec::new();
    for d in docs {
        for (w, _) in rows_by_workload(d) {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    let each = |f: &mut dyn FnMut(usize, &str) -> Vec<Plot>| -> Vec<Plot> {
        workloads
            .iter()
            .enumerate()
            .flat_map(|(i, w)| f(i + 1, w))
            .collect()
    };
    let history = history::history_plots(docs, baseline, judging);
    let latency = each(&mut |n, w| latest::latency_plots(docs, n, w, &mut notes));
    if latency.is_empty() {
        notes.push("no run recorded latency histograms (imported IOR runs have none)".to_string());
    }
    let tasks = each(&mut |n, w| latest::task_plots(docs, n, w));
    if tasks.is_empty() {
        notes.push("no run has per-task figures (imported IOR runs have none)".to_string());
    }
    let times = each(&mut |n, w| timeline::timeline_plots(docs, n, w));
    if times.is_empty() {
        notes.push(
            "no run recorded bandwidth over time (benchfs-bench records it; imported IOR runs have none)"
                .to_string(),
        );
    }
    let sweeps = sweep::sweep_plots(docs);
    if sweeps.is_empty() {
        notes.push("no sweep: no workloads that differ only in transfer size".to_string());
    }
    (
        vec![
            ("History across runs".to_string(), history),
            ("Latency (latest run of each workload)".to_string(), latency),
            (
                "Per-task bandwidth (latest run of each workload)".to_string(),
                tasks,
            ),
            (
                "Bandwidth over time (latest run of each workload)".to_string(),
                times,
            ),
            ("Bandwidth vs transfer size".to_string(), sweeps),
        ]
        .into_iter()
        .chain(metadata::mdtest_plots(docs, &labels, &mut notes))
        .chain(io500::io500_plots(docs, &labels))
        .collect(),
        notes,
    )
}

#[cfg(test)]
mod tests {
    use super::draw::with_font_style;
    use super::page::base64;

    #[test]
    fn base64_of_the_font() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
    }

    #[test]
    fn font_style_is_inserted_after_svg_tag() {
        let s = with_font_style("<svg width=\"1\">x</svg>");
        assert!(s.starts_with("<svg width=\"1\"><style>@font-face"));
        assert!(s.ends_with("x</svg>"));
    }
}
