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
//!   size (a sweep);
//! * for mdtest runs, a rate plot per operation across runs and the latency percentiles of
//!   every operation of the latest run ([`metadata`]);
//! * for IO500 runs, the score history (TOTAL, BW, MD) and the phase scores of the latest
//!   run as bars ([`io500`]).
//!
//! Text renders without system fonts: the bundled DejaVu Sans (`assets/fonts`, Bitstream Vera
//! licence) is registered with plotters' `ab_glyph` for layout and PNG rasterising, embedded in
//! `index.html` as a data URI, and copied to `DIR/fonts/` for the standalone SVG files.
//! Owns drawing and page layout only; it never changes documents.

mod draw;
mod io500;
mod metadata;
mod page;
mod series;

use crate::results::document::ResultDocument;
use crate::timestamp;
use draw::{register_font, FONT_FILE};
pub use draw::{FONT_FAMILY, FONT_LICENSE, FONT_TTF};
use series::plots;
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
                timestamp::parse(&docs[i].1.run.began).is_none(),
                timestamp::parse(&docs[i].1.run.began),
                i,
            )
        });
    }
    let sorted: Vec<&ResultDocument> = order.iter().map(|&i| &docs[i].1).collect();
    let (sections, notes) = plots(&sorted);

    let (html, ids) = page::write_page(docs, &order, &sections, &notes, out, opts)?;
    let index = out.join("index.html");
    std::fs::write(&index, html).map_err(io(&index))?;
    Ok(Dashboard { index, plots: ids })
}

#[cfg(test)]
mod tests {
    use super::draw::with_font_style;
    use super::page::base64;
    use super::series::slug;

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
