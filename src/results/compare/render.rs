//! Renderings of a [`Comparison`]: plain text, GitHub-flavoured markdown and JSON.
//!
//! Owns presentation only; the verdict is decided in [`super`].

use super::{Comparison, MetricComparison, SampleStats, Verdict};
use std::fmt::Write as _;

fn fmt_value(v: f64, unit: &str) -> String {
    if unit == "s" {
        if v.abs() >= 1.0 {
            format!("{v:.3} s")
        } else if v.abs() >= 1e-3 {
            format!("{:.3} ms", v * 1e3)
        } else {
            format!("{:.1} us", v * 1e6)
        }
    } else {
        format!("{v:.2} {unit}")
    }
}

fn fmt_change(c: f64) -> String {
    if c.is_finite() {
        format!("{c:+.1}%")
    } else {
        "n/a".to_string()
    }
}

impl Comparison {
    /// Plain text report (one block per workload).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "baseline: {} ({})\ncurrent:  {} ({})\nthreshold {:.1}%, alpha {} (Holm-Bonferroni over {} metric(s))",
            self.baseline,
            self.baseline_source,
            self.current,
            self.current_source,
            self.threshold_pct,
            self.alpha,
            self.metrics.len()
        );
        let mut last = "";
        // Phases are `write`/`read`, or mdtest's operation names.
        let w = self
            .metrics
            .iter()
            .map(|m| m.phase.len())
            .max()
            .unwrap_or(0)
            .max(6);
        for m in &self.metrics {
            if m.workload != last {
                let _ = writeln!(s, "\n{}", m.workload);
                let _ = writeln!(
                    s,
                    "  {:<w$} {:<8} {:>18} {:>18} {:>8} {:>8}  verdict",
                    "phase", "metric", "baseline median", "current median", "change", "p"
                );
                last = &m.workload;
            }
            let _ = writeln!(
                s,
                "  {:<w$} {:<8} {:>18} {:>18} {:>8} {:>8.4}  {}{}",
                m.phase.as_str(),
                m.metric,
                fmt_value(m.baseline.median, &m.unit),
                fmt_value(m.current.median, &m.unit),
                fmt_change(m.change_pct),
                m.p_value,
                m.verdict.as_str(),
                self.note(m)
            );
        }
        for k in &self.only_in_baseline {
            let _ = writeln!(s, "\nonly in baseline: {k}");
        }
        for k in &self.only_in_current {
            let _ = writeln!(s, "\nonly in current: {k}");
        }
        if self.verdict == Verdict::NoCommonWorkload {
            let _ = writeln!(
                s,
                "\nno workload in common: nothing was compared (the documents ran different workloads)"
            );
        }
        let _ = writeln!(
            s,
            "\nverdict: {} ({} regression(s), {} improvement(s), {} metric(s) compared)",
            self.verdict_text(),
            self.regressions,
            self.improvements,
            self.metrics.len()
        );
        s
    }

    fn note(&self, m: &MetricComparison) -> String {
        if m.verdict == Verdict::Insufficient {
            format!(
                " (too few iterations: {}+{} cannot reach the corrected level{})",
                m.baseline.n,
                m.current.n,
                self.need()
            )
        } else {
            String::new()
        }
    }

    /// `; need -i >= K` when the comparison says how many iterations would do.
    fn need(&self) -> String {
        self.iterations_needed
            .map(|k| format!("; need -i >= {k}"))
            .unwrap_or_default()
    }

    /// The verdict as printed: `insufficient data (need -i >= 6)` names what to run.
    pub fn verdict_text(&self) -> String {
        match (self.verdict, self.iterations_needed) {
            (Verdict::Insufficient, Some(k)) => format!("insufficient data (need -i >= {k})"),
            (v, _) => v.as_str().to_string(),
        }
    }

    /// GitHub-flavoured markdown report (one table).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### benchfs-bench compare: **{}**\n\nBaseline `{}` ({}) vs current `{}` ({}); threshold {:.1}%, alpha {} (Holm-Bonferroni over {} metric(s)); {} regression(s), {} improvement(s).\n",
            self.verdict_text(),
            self.baseline,
            self.baseline_source,
            self.current,
            self.current_source,
            self.threshold_pct,
            self.alpha,
            self.metrics.len(),
            self.regressions,
            self.improvements
        );
        let _ = writeln!(
            s,
            "| workload | phase | metric | baseline (median, min–max) | current (median, min–max) | change | p | verdict |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---:|---:|---|");
        for m in &self.metrics {
            let side = |st: &SampleStats| {
                format!(
                    "{} ({}–{}, n={})",
                    fmt_value(st.median, &m.unit),
                    fmt_value(st.min, &m.unit),
                    fmt_value(st.max, &m.unit),
                    st.n
                )
            };
            let verdict = match m.verdict {
                Verdict::Regression => "**regression**".to_string(),
                v => v.as_str().to_string(),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} | {:.4} | {}{} |",
                m.workload,
                m.phase.as_str(),
                m.metric,
                side(&m.baseline),
                side(&m.current),
                fmt_change(m.change_pct),
                m.p_value,
                verdict,
                self.note(m)
            );
        }
        for k in &self.only_in_baseline {
            let _ = writeln!(s, "\nOnly in baseline: `{k}`");
        }
        for k in &self.only_in_current {
            let _ = writeln!(s, "\nOnly in current: `{k}`");
        }
        s
    }

    /// The comparison as pretty JSON (non-finite numbers become `null`).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
