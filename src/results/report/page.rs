//! The dashboard page: `index.html` with the runs table, every plot inlined as SVG (and
//! written beside it as SVG and optionally PNG), the notes and a self-check script.
//!
//! Owns the page layout only; plots come from [`super::series`] and [`super::draw`].

use super::draw::{render_png, render_svg, with_font_style, FONT_FAMILY, FONT_TTF};
use super::series::{run_label, Plot};
use super::{ReportError, ReportOptions};
use crate::results::document::ResultDocument;
use std::fmt::Write as _;
use std::path::Path;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes every plot's files into `out` and returns the page's HTML and the plot ids in order.
pub(super) fn write_page(
    docs: &[(String, ResultDocument)],
    order: &[usize],
    sections: &[(String, Vec<Plot>)],
    notes: &[String],
    out: &Path,
    opts: &ReportOptions,
) -> Result<(String, Vec<String>), ReportError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| ReportError::Io { path, source }
    };
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
    for (name, plots) in sections {
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
        for n in notes {
            let _ = writeln!(html, "<li>{}</li>", esc(n));
        }
        html.push_str("</ul>\n");
    }
    let _ = write!(
        html,
        "<p>Font: DejaVu Sans (Bitstream Vera licence, <a href=\"fonts/LICENSE-DejaVu.txt\">text</a>).</p>\n{SELF_CHECK}</body></html>\n"
    );
    Ok((html, ids))
}

/// A small script that records in `<body data-*>` how many plots are present and drawn
/// (non-empty bounding box and drawing elements) and any script error, so that a headless
/// browser's DOM dump shows whether the page works.
pub(super) const SELF_CHECK: &str = r#"<script>
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

pub(super) fn base64(data: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
}
