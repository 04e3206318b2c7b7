//! How a plot is drawn: plotters on SVG or PNG, the bundled font, colours, linear or log
//! axes, run labels rotated and thinned so that they never overprint, baseline bands,
//! vertical marks and the verdict line.
//!
//! Owns rendering only; what is plotted comes from [`super::plot`].

use super::axis::Axis;
use super::plot::{Band, Kind, Mark, Plot, Series, Style, Tone, XAxis};
use super::ReportError;
use crate::units::format_size as size;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::path::Path;

/// The bundled font (DejaVu Sans 2.37, Bitstream Vera licence with public-domain DejaVu changes;
/// see `assets/fonts/LICENSE-DejaVu.txt`).
pub const FONT_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
/// Licence text of [`FONT_TTF`].
pub const FONT_LICENSE: &str = include_str!("../../../assets/fonts/LICENSE-DejaVu.txt");
/// CSS family name under which the page and SVG files use the bundled font.
pub const FONT_FAMILY: &str = "BenchFS DejaVu Sans";
pub(super) const FONT_FILE: &str = "DejaVuSans.ttf";

/// Size of every plot, pixels.
pub(super) const W: u32 = 800;
pub(super) const H: u32 = 460;
const MARGIN: u32 = 14;
const Y_AREA: u32 = 78;
/// Height of the x label area when labels are rotated (run labels) or not.
const X_AREA_ROTATED: u32 = 96;
const X_AREA: u32 = 46;
/// Tick label size; a rotated label needs this much width plus a gap.
const TICK_PX: u32 = 12;
const ROTATED_PITCH: u32 = TICK_PX + 6;

pub(super) const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
pub(super) const ALERT: RGBColor = RGBColor(214, 39, 40);
const MUTED: RGBColor = RGBColor(175, 175, 175);
const GOOD: RGBColor = RGBColor(30, 130, 50);
const NEUTRAL: RGBColor = RGBColor(90, 90, 90);

fn color(t: Tone) -> RGBColor {
    match t {
        Tone::Palette(i) => COLORS[i % COLORS.len()],
        Tone::Alert => ALERT,
        Tone::Muted => MUTED,
    }
}

pub(super) fn register_font() -> Result<(), ReportError> {
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

/// A number for an axis: at most 4 significant digits, no trailing zeros, exponent form
/// beyond a million or below a thousandth.
pub(super) fn compact(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The label at x = `v` of axis `x`: a run's or category's label at whole positions.
pub(super) fn label_for(x: &XAxis, v: f64) -> String {
    let at_index = |c: &[String]| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
            c[i as usize].clone()
        } else {
            String::new()
        }
    };
    match x {
        XAxis::Runs(c) | XAxis::Categories(c) => at_index(c),
        XAxis::Log2Bytes => {
            let i = v.round();
            if (v - i).abs() < 1e-6 {
                size(2f64.powf(i) as i64)
            } else {
                String::new()
            }
        }
        XAxis::LogMicros | XAxis::Seconds => compact(v),
    }
}

/// How many labels an axis of `n` positions can show side by side: rotated labels need
/// [`ROTATED_PITCH`] pixels each; plotters then picks a step of 1, 2, 5, 10... positions.
pub(super) fn label_budget(n: usize, rotated: bool) -> usize {
    let width = W - 2 * MARGIN - Y_AREA;
    let per = if rotated { ROTATED_PITCH } else { 70 };
    n.clamp(1, (width / per) as usize)
}

pub(super) fn draw_err<E: std::fmt::Display>(id: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Draw {
        plot: id.to_string(),
        message: e.to_string(),
    }
}

/// The y range of values `ys`: from 0 (linear) or just below the smallest (log) to a bit
/// above the largest.
fn y_range(ys: &[f64], log: bool) -> (f64, f64) {
    let finite = ys.iter().copied().filter(|v| v.is_finite());
    if log {
        let (lo, hi) = finite
            .filter(|v| *v > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo.is_finite() && hi > 0.0 {
            return (lo / 1.4, hi * 1.4);
        }
        return (0.1, 1.0);
    }
    let hi = finite.fold(0.0f64, f64::max);
    (0.0, if hi > 0.0 { hi * 1.06 } else { 1.0 })
}

/// The x range of a lines plot.
fn x_range(x: &XAxis, series: &[Series], marks: &[Mark]) -> (f64, f64) {
    if let XAxis::Runs(c) | XAxis::Categories(c) = x {
        // Every run gets its slot, even those without this workload.
        return (-0.5, c.len().max(1) as f64 - 0.5);
    }
    let xs = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(marks.iter().map(|m| m.x))
        .filter(|v| v.is_finite() && (!matches!(x, XAxis::LogMicros) || *v > 0.0));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    match x {
        XAxis::LogMicros => (lo / 1.3, hi * 1.3),
        XAxis::Seconds => (0.0, hi.max(lo + 1e-3) * 1.02),
        _ => {
            let pad = if hi - lo < 1e-9 {
                0.5
            } else {
                (hi - lo) * 0.04
            };
            (lo - pad, hi + pad)
        }
    }
}

/// A chart of the dashboard: both axes of type [`Axis`].
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// What a legend entry shows beside its text.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A line of this colour and width.
    Line(RGBColor, u32),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled box (bars, bands).
    Fill(RGBColor, f64),
}

/// The legend of a plot: one entry per named series, band, mark and reference.
fn legend_entries(kind: &Kind) -> Vec<(String, Swatch)> {
    let mut out = Vec::new();
    match kind {
        Kind::Lines {
            series,
            bands,
            marks,
            ..
        } => {
            for s in series.iter().filter(|s| !s.name.is_empty()) {
                let w = if s.style == Style::Thin { 1 } else { 2 };
                out.push((s.name.clone(), Swatch::Line(color(s.tone), w)));
            }
            for b in bands {
                out.push((b.name.clone(), Swatch::Fill(color(b.tone), 0.3)));
            }
            for m in marks {
                out.push((m.label.clone(), Swatch::Dashed(BLACK)));
            }
        }
        Kind::Bars {
            series,
            highlight,
            reference,
            ..
        } => {
            for (i, (name, _)) in series.iter().enumerate() {
                out.push((name.clone(), Swatch::Fill(COLORS[i % COLORS.len()], 1.0)));
            }
            if highlight.iter().any(|h| *h) {
                out.push(("straggler".to_string(), Swatch::Fill(ALERT, 1.0)));
            }
            if let Some((_, label)) = reference {
                out.push((label.clone(), Swatch::Dashed(BLACK)));
            }
        }
    }
    out
}

const LEGEND_PX: u32 = 12;
const LEGEND_ROW: i32 = 18;
const SWATCH_W: i32 = 22;

/// Lays the legend out in rows that fit the plot's width: (text, swatch, x, row) per entry,
/// and the number of rows.
fn legend_layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(String, Swatch)],
) -> (Vec<(String, Swatch, i32, i32)>, i32) {
    let font = ("sans-serif", LEGEND_PX).into_font().into_text_style(root);
    let (mut x, mut row) = (MARGIN as i32, 0);
    let mut out = Vec::new();
    for (text, sw) in entries {
        let w = root
            .estimate_text_size(text, &font)
            .map(|(w, _)| w as i32)
            .unwrap_or(text.len() as i32 * 7);
        let need = SWATCH_W + 6 + w;
        if x + need > (W - MARGIN) as i32 && x > MARGIN as i32 {
            x = MARGIN as i32;
            row += 1;
        }
        out.push((text.clone(), *sw, x, row));
        x += need + 18;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    (out, rows)
}

/// The chart frame of a plot: white background, title, verdict line, legend rows, axes
/// with their labels and descriptions (run labels rotated and thinned).
fn frame<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, Shift>,
    p: &Plot,
    x: &XAxis,
    x_desc: &str,
    xr: Axis,
    yr: Axis,
) -> Result<Chart<'a, DB>, ReportError> {
    let err = draw_err(&p.id);
    let rotated = matches!(x, XAxis::Runs(_));
    let text = |s: &str, size: u32, c: &RGBColor, at: (i32, i32)| {
        root.draw_text(s, &("sans-serif", size).into_font().color(c), at)
            .map_err(&err)
    };
    text(&p.title, 16, &BLACK, (MARGIN as i32, 6))?;
    let mut top = 28;
    if let Some(v) = &p.verdict {
        let c = match v.worst.as_str() {
            "regression" => ALERT,
            "improvement" => GOOD,
            _ => NEUTRAL,
        };
        text(&v.text, 13, &c, (MARGIN as i32, top))?;
        top += 20;
    }
    let (legend, rows) = legend_layout(root, &legend_entries(&p.kind));
    for (label, sw, lx, row) in &legend {
        let y = top + row * LEGEND_ROW + 7;
        let seg = [(*lx, y), (*lx + SWATCH_W, y)];
        match *sw {
            Swatch::Line(c, w) => root
                .draw(&PathElement::new(seg.to_vec(), c.stroke_width(w)))
                .map_err(&err)?,
            Swatch::Dashed(c) => {
                for k in 0..3 {
                    let x0 = lx + k * 8;
                    root.draw(&PathElement::new(
                        vec![(x0, y), (x0 + 5, y)],
                        c.stroke_width(2),
                    ))
                    .map_err(&err)?;
                }
            }
            Swatch::Fill(c, a) => root
                .draw(&Rectangle::new(
                    [(*lx, y - 5), (*lx + SWATCH_W, y + 5)],
                    c.mix(a).filled(),
                ))
                .map_err(&err)?,
        }
        text(label, LEGEND_PX, &BLACK, (lx + SWATCH_W + 6, y - 7))?;
    }
    top += rows * LEGEND_ROW + 2;
    let (_, chart_area) = root.split_vertically(top as u32);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(MARGIN)
        .margin_top(6)
        .x_label_area_size(if rotated { X_AREA_ROTATED } else { X_AREA })
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(xr, yr)
        .map_err(&err)?;
    let n = match x {
        XAxis::Categories(c) => c.len(),
        _ => 10,
    };
    let xa = x.clone();
    let x_fmt = move |v: &f64| label_for(&xa, *v);
    let y_fmt = |v: &f64| compact(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(if rotated { 0 } else { label_budget(n, false) })
        .y_labels(8)
        .x_desc(x_desc)
        .y_desc(p.y_desc.as_str())
        .axis_desc_style(("sans-serif", 13))
        .label_style(("sans-serif", TICK_PX))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(BLACK.mix(0.04));
    if matches!(x, XAxis::Runs(_) | XAxis::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(&err)?;
    if let XAxis::Runs(labels) = x {
        // Rotated labels at every k-th run: each needs ROTATED_PITCH pixels across.
        let y_bottom = chart.y_range().start;
        let style = ("sans-serif", TICK_PX)
            .into_font()
            .transform(FontTransform::Rotate270)
            .into_text_style(root)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for i in super::axis::run_ticks(labels.len(), label_budget(labels.len(), true)) {
            let (px, py) = chart.backend_coord(&(i as f64, y_bottom));
            root.draw(&PathElement::new(
                vec![(px, py), (px, py + 5)],
                BLACK.stroke_width(1),
            ))
            .map_err(&err)?;
            root.draw_text(&labels[i], &style, (px, py + 8))
                .map_err(&err)?;
        }
    }
    Ok(chart)
}

/// Draws bands, marks and series of a lines plot onto its frame.
fn lines_on<'a, DB: DrawingBackend + 'a>(
    mut chart: Chart<'a, DB>,
    p: &Plot,
    series: &[Series],
    bands: &[Band],
    marks: &[Mark],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), ReportError> {
    let err = draw_err(&p.id);
    for b in bands {
        let c = color(b.tone);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, b.lo), (x1, b.hi)],
                c.mix(0.13).filled(),
            )))
            .map_err(&err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, b.mid), (x1, b.mid)],
                6,
                4,
                c.mix(0.7).stroke_width(1),
            ))
            .map_err(&err)?;
    }
    for m in marks {
        chart
            .draw_series(DashedLineSeries::new(
                [(m.x, y0), (m.x, y1)],
                5,
                4,
                BLACK.mix(0.8).stroke_width(2),
            ))
            .map_err(&err)?;
    }
    for s in series {
        let c = color(s.tone);
        let mut pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|p| (p.0, p.1))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let width = if s.style == Style::Thin { 1 } else { 2 };
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))
            .map_err(&err)?;
        // Markers where they help: a line of few enough points, and a thin line so short
        // (a phase of one or two intervals) that without them it would hardly show.
        let marker = match s.style {
            Style::Line if pts.len() <= 64 => Some(3),
            Style::Thin if pts.len() <= 3 => Some(2),
            _ => None,
        };
        if let Some(r) = marker {
            chart
                .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), r, c.filled())))
                .map_err(&err)?;
        }
        chart
            .draw_series(s.points.iter().filter_map(|(x, _, r)| {
                r.map(|(lo, hi)| PathElement::new(vec![(*x, lo), (*x, hi)], c.stroke_width(1)))
            }))
            .map_err(&err)?;
    }
    Ok(())
}

/// Draws bars (grouped per category), highlights and the reference line.
fn bars_on<'a, DB: DrawingBackend + 'a>(
    mut chart: Chart<'a, DB>,
    p: &Plot,
    series: &[(String, Vec<f64>)],
    highlight: &[bool],
    reference: &Option<(f64, String)>,
    (y0, _): (f64, f64),
) -> Result<(), ReportError> {
    let err = draw_err(&p.id);
    let k = series.len().max(1) as f64;
    let width = 0.8 / k;
    let n = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    for (si, (_, vals)) in series.iter().enumerate() {
        let c = COLORS[si % COLORS.len()];
        chart
            .draw_series(vals.iter().enumerate().map(|(ci, v)| {
                let left = ci as f64 - 0.4 + si as f64 * width;
                let fill = if highlight.get(ci).copied().unwrap_or(false) {
                    ALERT
                } else {
                    c
                };
                Rectangle::new(
                    [(left, y0), (left + width * 0.92, v.max(y0))],
                    fill.filled(),
                )
            }))
            .map_err(&err)?;
    }
    if let Some((v, _)) = reference {
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, *v), (n as f64 - 0.5, *v)],
                6,
                4,
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(&err)?;
    }
    Ok(())
}

/// The plotting area of a drawn plot (inside the axes) in pixels: left, top, right, bottom.
pub(super) type PlotArea = [i32; 4];

/// The pixel box of `chart`'s plotting area.
fn area_of<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> PlotArea {
    let (x, y) = chart.plotting_area().get_pixel_range();
    [x.start, y.start, x.end, y.end]
}

/// Draws `p` on `root`; returns where its data went (the plotting area).
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &Plot,
) -> Result<PlotArea, ReportError> {
    let err = draw_err(&p.id);
    root.fill(&WHITE).map_err(&err)?;
    let ys = super::plot::y_values(&p.kind);
    let area = match &p.kind {
        Kind::Lines {
            x,
            x_desc,
            series,
            bands,
            marks,
        } => {
            let (x0, x1) = x_range(x, series, marks);
            let (y0, y1) = y_range(&ys, p.y_log);
            let xr = Axis::new(x0, x1, matches!(x, XAxis::LogMicros));
            let chart = frame(root, p, x, x_desc, xr, Axis::new(y0, y1, p.y_log))?;
            let area = area_of(&chart);
            lines_on(chart, p, series, bands, marks, (x0, x1), (y0, y1))?;
            area
        }
        Kind::Bars {
            categories,
            series,
            highlight,
            reference,
        } => {
            let n = categories.len().max(1);
            let with_ref: Vec<f64> = ys
                .iter()
                .copied()
                .chain(reference.iter().map(|r| r.0))
                .collect();
            let (y0, y1) = y_range(&with_ref, p.y_log);
            let x = XAxis::Categories(categories.clone());
            let xr = Axis::linear(-0.5, n as f64 - 0.5);
            let chart = frame(root, p, &x, "", xr, Axis::new(y0, y1, p.y_log))?;
            let area = area_of(&chart);
            bars_on(chart, p, series, highlight, reference, (y0, y1))?;
            area
        }
    };
    root.present().map_err(&err)?;
    Ok(area)
}

/// The SVG text of a plot, as plotters draws it (no font style), and its plotting area.
pub(super) fn render_svg(p: &Plot) -> Result<(String, PlotArea), ReportError> {
    let mut s = String::new();
    let area = {
        let root = SVGBackend::with_string(&mut s, (W, H)).into_drawing_area();
        draw(&root, p)?
    };
    Ok((s, area))
}

/// Writes the PNG of a plot to `path`.
pub(super) fn render_png(p: &Plot, path: &Path) -> Result<(), ReportError> {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    draw(&root, p).map(|_| ())
}

/// The colours data are drawn in (series, bars, bands, stragglers), as SVG writes them
/// (`#1F77B4`): the page's self-check counts marks of these colours only.
pub(super) fn data_colours() -> Vec<String> {
    COLORS
        .iter()
        .chain([ALERT, MUTED].iter())
        .map(|c| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2))
        .collect()
}

/// Adds a style element to a standalone SVG so that its text uses the bundled font
/// (`fonts/DejaVuSans.ttf` beside it).
pub(super) fn with_font_style(svg: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(1234.5678), "1235");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(0.0125), "0.0125");
        assert_eq!(compact(2_500_000.0), "2.5e6");
        assert_eq!(compact(0.00002), "2e-5");
        assert_eq!(compact(100.0), "100");
    }

    #[test]
    fn run_labels_are_thinned_to_fit() {
        assert_eq!(label_budget(5, true), 5);
        let many = label_budget(500, true);
        assert!(many * ROTATED_PITCH as usize <= (W - 2 * MARGIN - Y_AREA) as usize);
    }
}
