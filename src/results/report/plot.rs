//! What a dashboard plot shows, independent of how it is drawn: axes and their scales,
//! series, bars, baseline bands, vertical marks and the verdict line, and the small helpers
//! the plot builders share (labels of runs, ranges, the choice of a log scale).
//!
//! Owns these plain types; the builders ([`super::history`], [`super::latest`],
//! [`super::timeline`], [`super::sweep`]) fill them and [`super::draw`] renders them.

use crate::ior::results::{Phase, PhaseResult};
use crate::results::document::ResultDocument;

/// How the x axis is labelled.
#[derive(Debug, Clone)]
pub(super) enum XAxis {
    /// x = index of a run in the sequence; its short label (commit or date).
    Runs(Vec<String>),
    /// x = index into named categories.
    Categories(Vec<String>),
    /// x = log2(bytes).
    Log2Bytes,
    /// x = microseconds, log scale.
    LogMicros,
    /// x = seconds, linear.
    Seconds,
}

/// A point: x, y and an optional (low, high) bar.
pub(super) type Point = (f64, f64, Option<(f64, f64)>);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// A line with markers (markers only when the series has many points).
    Line,
    /// A thin line (one of many, e.g. per-task lines), with small markers only when it has
    /// so few points that the line alone would hardly show.
    Thin,
}

/// Colour of a series: a palette slot, the highlight colour, or a light grey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    /// `COLORS[i % len]`.
    Palette(usize),
    /// The straggler / regression red.
    Alert,
    /// Light grey (the many ordinary tasks).
    Muted,
}

/// A drawn series.
#[derive(Debug, Clone)]
pub(super) struct Series {
    /// Legend text (empty: not in the legend).
    pub(super) name: String,
    /// The points.
    pub(super) points: Vec<Point>,
    /// How it is drawn.
    pub(super) style: Style,
    /// Its colour.
    pub(super) tone: Tone,
}

/// A horizontal band over the whole x range (a baseline's min–max) with a line at `mid`.
#[derive(Debug, Clone)]
pub(super) struct Band {
    /// Legend text.
    pub(super) name: String,
    /// Lower and upper edge.
    pub(super) lo: f64,
    /// Upper edge.
    pub(super) hi: f64,
    /// The line drawn inside (the baseline's median).
    pub(super) mid: f64,
    /// Its colour (that of the series it belongs to).
    pub(super) tone: Tone,
}

/// A vertical line at `x` with a label (the stonewall deadline).
#[derive(Debug, Clone)]
pub(super) struct Mark {
    /// Where.
    pub(super) x: f64,
    /// What it marks.
    pub(super) label: String,
}

/// The kind of a plot.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// Lines over a numeric or run axis.
    Lines {
        /// The x axis.
        x: XAxis,
        /// Its description.
        x_desc: String,
        /// The series.
        series: Vec<Series>,
        /// Horizontal bands (baselines).
        bands: Vec<Band>,
        /// Vertical marks.
        marks: Vec<Mark>,
    },
    /// Grouped bars over categories.
    Bars {
        /// One label per group.
        categories: Vec<String>,
        /// Per series: name and one value per category.
        series: Vec<(String, Vec<f64>)>,
        /// Per category: drawn in the alert colour (stragglers).
        highlight: Vec<bool>,
        /// A horizontal reference line (value, label), e.g. 100 % of the median.
        reference: Option<(f64, String)>,
    },
}

/// One plot of the dashboard.
#[derive(Debug, Clone)]
pub(super) struct Plot {
    /// Id (file name and HTML id).
    pub(super) id: String,
    /// Title drawn above the plot.
    pub(super) title: String,
    /// y axis description.
    pub(super) y_desc: String,
    /// Logarithmic y axis (values span decades).
    pub(super) y_log: bool,
    /// What is drawn.
    pub(super) kind: Kind,
    /// Text under the plot.
    pub(super) note: String,
    /// The comparison with the baseline, drawn under the title (history plots).
    pub(super) verdict: Option<VerdictLine>,
}

/// The verdict of `compare` on the metric a plot shows, as one line of text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VerdictLine {
    /// `latest vs baseline: write -20.3 % regression, read +0.4 % unchanged`.
    pub(super) text: String,
    /// The worst verdict of the line: `regression`, `improvement`, `unchanged`, ...
    pub(super) worst: String,
}

/// Short label of a run for an axis: its commit (7 characters) when known, else its date
/// (`MM-DD HH:MM`), else its position.
pub(super) fn run_label(doc: &ResultDocument, index: usize) -> String {
    let c = &doc.build.git_commit;
    if !c.is_empty() && c != "unknown" {
        let short: String = c.chars().take(7).collect();
        return if c.ends_with("-dirty") {
            format!("{short}+")
        } else {
            short
        };
    }
    crate::timestamp::local_label(&doc.run.began, "%m-%d %H:%M")
        .unwrap_or_else(|| format!("run {}", index + 1))
}

/// Longer label of a run for notes and the runs table: date and commit.
pub(super) fn run_title(doc: &ResultDocument, index: usize) -> String {
    let date = crate::timestamp::local_label(&doc.run.began, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|| format!("run {}", index + 1));
    let c = &doc.build.git_commit;
    if c.is_empty() || c == "unknown" {
        date
    } else {
        format!("{date} {}", c.chars().take(7).collect::<String>())
    }
}

/// A name usable in ids and file names: lower case, runs of other characters as one `-`.
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

/// Smallest and largest of `v`.
pub(super) fn min_max(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// The finite values of `f` over the rows of `phase`.
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

/// Whether values spanning `values` need a log scale: all positive, largest at least ten
/// times the smallest (a decade or more).
pub(super) fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        if v <= 0.0 {
            return false;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    lo.is_finite() && hi >= 10.0 * lo
}

/// Every y value a plot draws (points, bars, bands), for the choice of its scale.
pub(super) fn y_values(kind: &Kind) -> Vec<f64> {
    match kind {
        Kind::Lines { series, bands, .. } => series
            .iter()
            .flat_map(|s| s.points.iter())
            .flat_map(|(_, y, r)| {
                std::iter::once(*y).chain(r.map(|(lo, hi)| [lo, hi]).into_iter().flatten())
            })
            .chain(bands.iter().flat_map(|b| [b.lo, b.hi]))
            .collect(),
        Kind::Bars { series, .. } => series.iter().flat_map(|(_, v)| v.iter().copied()).collect(),
    }
}

/// The serialized HDR histograms `encoded` merged into one (empty ones left out), problems
/// decoding or merging noted under `key` in `notes`; `None` when nothing was recorded.
pub(super) fn merged_histogram<'a>(
    encoded: impl IntoIterator<Item = &'a str>,
    key: &str,
    notes: &mut Vec<String>,
) -> Option<hdrhistogram::Histogram<u64>> {
    let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
    for e in encoded {
        match crate::measure::latency::decode_histogram(e) {
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
    merged.filter(|h| !h.is_empty())
}

/// The percentile bars' categories, in order.
pub(super) const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// Microseconds (at least 1 ns, for log axes) of `h`'s nanoseconds at [`PERCENTILES`].
pub(super) fn percentiles_us(h: &hdrhistogram::Histogram<u64>) -> Vec<f64> {
    let us = |ns: u64| ns.max(1) as f64 / 1000.0;
    [0.5, 0.9, 0.99, 0.999]
        .iter()
        .map(|q| us(h.value_at_quantile(*q)))
        .chain(std::iter::once(us(h.max())))
        .collect()
}

/// How many data marks a plot must show: its finite points (lines) or values (bars).
pub(super) fn data_points(kind: &Kind) -> usize {
    match kind {
        Kind::Lines { series, .. } => series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y, _)| x.is_finite() && y.is_finite())
            .count(),
        Kind::Bars { series, .. } => series
            .iter()
            .flat_map(|(_, v)| v.iter())
            .filter(|v| v.is_finite())
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_decades() {
        assert_eq!(slug("IOPS"), "iops");
        assert_eq!(slug("a  b/c"), "a-b-c");
        assert!(spans_decades([1.0, 5.0, 10.0]));
        assert!(!spans_decades([1.0, 9.9]));
        assert!(!spans_decades([0.0, 100.0]));
        assert!(!spans_decades(std::iter::empty()));
    }
}
