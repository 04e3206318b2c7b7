//! How a plot is drawn: plotters on SVG or PNG, the bundled font, colours and axis labels.
//!
//! Owns rendering only; what is plotted comes from [`super::series`].

use super::series::{Kind, Plot, XAxis};
use super::ReportError;
use crate::units::format_size as size;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The bundled font (DejaVu Sans 2.37, Bitstream Vera licence with public-domain DejaVu changes;
/// see `assets/fonts/LICENSE-DejaVu.txt`).
pub const FONT_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
/// Licence text of [`FONT_TTF`].
pub const FONT_LICENSE: &str = include_str!("../../../assets/fonts/LICENSE-DejaVu.txt");
/// CSS family name under which the page and SVG files use the bundled font.
pub const FONT_FAMILY: &str = "BenchFS DejaVu Sans";
pub(super) const FONT_FILE: &str = "DejaVuSans.ttf";

const W: u32 = 800;
const H: u32 = 420;

pub(super) const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
pub(super) const STRAGGLER: RGBColor = RGBColor(214, 39, 40);

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

pub(super) fn label_for(x: &XAxis, v: f64) -> String {
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

pub(super) fn draw_err<E: std::fmt::Display>(id: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Draw {
        plot: id.to_string(),
        message: e.to_string(),
    }
}

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &Plot,
) -> Result<(), ReportError> {
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
pub(super) fn render_svg(p: &Plot) -> Result<String, ReportError> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (W, H)).into_drawing_area();
        draw(&root, p)?;
    }
    Ok(s)
}

pub(super) fn render_png(p: &Plot, path: &Path) -> Result<(), ReportError> {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    draw(&root, p)
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
