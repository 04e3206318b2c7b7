//! The dashboard page: `index.html` rendered from a template (minijinja, HTML auto-escaping)
//! with the runs table, the verdicts against the baseline, every plot inlined as SVG (and
//! written beside it as SVG and optionally PNG), the notes and a self-check script.
//!
//! Owns the page layout only (`templates/index.html`, `templates/self_check.js`); plots come
//! from [`super::plot`] and [`super::draw`].

use super::draw::{data_colours, render_png, render_svg, with_font_style, FONT_FAMILY, FONT_TTF};
use super::plot::{data_points, run_title, Plot};
use super::{ReportError, ReportOptions};
use crate::results::document::ResultDocument;
use serde::Serialize;
use std::path::Path;

const TEMPLATE: &str = include_str!("templates/index.html");
/// The page's self-check: plots drawn, overlapping labels, boxes, script errors, font.
pub(super) const SELF_CHECK: &str = include_str!("templates/self_check.js");

#[derive(Serialize)]
struct RunRow {
    n: usize,
    label: String,
    file: String,
    source: String,
    began: String,
    commit: String,
    command: String,
    tests: usize,
    state: String,
    interrupted: bool,
}

#[derive(Serialize)]
struct Figure {
    id: String,
    title: String,
    svg: String,
    note: String,
    /// Data marks the plot must show ([`data_points`]).
    points: usize,
    /// Its plotting area in the SVG's pixels: `left,top,right,bottom`.
    area: String,
}

#[derive(Serialize)]
struct Section {
    name: String,
    plots: Vec<Figure>,
}

#[derive(Serialize)]
struct VerdictRow {
    id: String,
    title: String,
    text: String,
    worst: String,
}

#[derive(Serialize)]
struct Page<'a> {
    title: String,
    font_family: &'a str,
    font_b64: String,
    runs: Vec<RunRow>,
    baseline: Option<String>,
    threshold: f64,
    alpha: f64,
    verdicts: Vec<VerdictRow>,
    sections: Vec<Section>,
    notes: &'a [String],
    png: bool,
    self_check: &'a str,
    /// The colours of data marks, space separated.
    data_colours: String,
}

fn run_rows(docs: &[(String, ResultDocument)], order: &[usize]) -> Vec<RunRow> {
    order
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let (name, d) = &docs[i];
            let (state, interrupted) = match &d.interrupted {
                Some(x) => (format!("interrupted: {}", x.reason), true),
                None if !d.errors.is_empty() => ("failed".to_string(), false),
                None => ("complete".to_string(), false),
            };
            RunRow {
                n: n + 1,
                label: run_title(d, n),
                file: name.clone(),
                source: d
                    .source
                    .as_ref()
                    .map(|s| s.format.clone())
                    .unwrap_or_else(|| "benchfs".to_string()),
                began: d.run.began.clone(),
                commit: d.build.git_commit.clone(),
                command: d.run.command_line.clone(),
                tests: d.tests.len(),
                state,
                interrupted,
            }
        })
        .collect()
}

/// Writes every plot's files into `out` and returns the page's HTML and the plot ids in order.
pub(super) fn write_page(
    docs: &[(String, ResultDocument)],
    order: &[usize],
    sections: &[(String, Vec<Plot>)],
    notes: &[String],
    baseline: Option<&str>,
    out: &Path,
    opts: &ReportOptions,
) -> Result<(String, Vec<String>), ReportError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| ReportError::Io { path, source }
    };
    let mut ids = Vec::new();
    let mut verdicts = Vec::new();
    let mut page_sections = Vec::new();
    for (name, plots) in sections {
        let mut figures = Vec::new();
        for p in plots {
            let (svg, area) = render_svg(p)?;
            let svg_path = out.join(format!("{}.svg", p.id));
            std::fs::write(&svg_path, with_font_style(&svg)).map_err(io(&svg_path))?;
            if opts.png {
                render_png(p, &out.join(format!("{}.png", p.id)))?;
            }
            if let Some(v) = &p.verdict {
                verdicts.push(VerdictRow {
                    id: p.id.clone(),
                    title: p.title.clone(),
                    text: v.text.clone(),
                    worst: v.worst.clone(),
                });
            }
            figures.push(Figure {
                id: p.id.clone(),
                title: p.title.clone(),
                svg,
                note: p.note.clone(),
                points: data_points(&p.kind),
                area: area.map(|v| v.to_string()).join(","),
            });
            ids.push(p.id.clone());
        }
        page_sections.push(Section {
            name: name.clone(),
            plots: figures,
        });
    }
    let page = Page {
        title: opts
            .title
            .clone()
            .unwrap_or_else(|| "benchfs-bench results".to_string()),
        font_family: FONT_FAMILY,
        font_b64: base64(FONT_TTF),
        runs: run_rows(docs, order),
        baseline: baseline.map(str::to_string),
        threshold: opts.threshold_pct,
        alpha: opts.alpha,
        verdicts,
        sections: page_sections,
        notes,
        png: opts.png,
        self_check: SELF_CHECK,
        data_colours: data_colours().join(" "),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("index.html", TEMPLATE)
        .and_then(|_| env.get_template("index.html"))
        .and_then(|t| t.render(minijinja::value::Serde(&page)))
        .map(|html| (html, ids))
        .map_err(|e| ReportError::Template(e.to_string()))
}

pub(super) fn base64(data: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
}
