//! The IO500 plots of the dashboard: for every IO500 workload (same backend, ranks, mode and
//! configuration), the score history (TOTAL, BW, MD across the runs) and the phase scores of
//! its latest run as bars (bandwidth phases in GiB/s, metadata phases in kIOPS; invalid phases
//! in red).
//!
//! Owns the data of these plots only (drawing is [`super::draw`], the page [`super::page`]).

use super::plot::{slug, Kind, Plot, Series, Style, Tone, XAxis};
use crate::io500::phases::Group;
use crate::io500::Io500Run;
use crate::results::document::ResultDocument;
use crate::results::samples::io500_workload_key;

/// The IO500 section for `docs` (in run order) with the run labels; empty without IO500 runs.
pub(super) fn io500_plots(docs: &[&ResultDocument], labels: &[String]) -> Vec<(String, Vec<Plot>)> {
    let runs: Vec<Option<(String, &Io500Run)>> = docs
        .iter()
        .map(|d| d.io500.as_ref().map(|r| (io500_workload_key(r), r)))
        .collect();
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in runs.iter().flatten() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let mut plots = Vec::new();
    for (wi, key) in keys.iter().enumerate() {
        let mine: Vec<(usize, &Io500Run)> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().filter(|(k, _)| k == key).map(|(_, r)| (i, *r)))
            .collect();
        let series = |name: &str, tone: usize, pick: fn(&Io500Run) -> Option<f64>| Series {
            name: name.to_string(),
            points: mine
                .iter()
                .filter_map(|(i, r)| pick(r).map(|v| (*i as f64, v, None)))
                .collect(),
            style: Style::Line,
            tone: Tone::Palette(tone),
        };
        plots.push(Plot {
            id: format!("io500-{}-score", wi + 1),
            title: format!("IO500 score: {key}"),
            y_desc: "score (TOTAL; BW in GiB/s; MD in kIOPS)".to_string(),
            y_log: false,
            verdict: None,
            kind: Kind::Lines {
                x: XAxis::Runs(labels.to_vec()),
                x_desc: "run (commit or date), in sequence".to_string(),
                series: vec![
                    series("TOTAL", 0, |r| r.score.as_ref().map(|s| s.total)),
                    series("BW", 1, |r| r.score.as_ref().map(|s| s.bw)),
                    series("MD", 2, |r| r.score.as_ref().map(|s| s.md)),
                ],
                bands: Vec::new(),
                marks: Vec::new(),
            },
            note: format!(
                "{} run(s); {} valid",
                mine.len(),
                mine.iter()
                    .filter(|(_, r)| r.score.as_ref().is_some_and(|s| s.valid))
                    .count()
            ),
        });
        let Some((latest, run)) = mine.last() else {
            continue;
        };
        for (group, unit) in [(Group::Bw, "GiB/s"), (Group::Md, "kIOPS")] {
            let phases: Vec<_> = run
                .phases
                .iter()
                .filter(|p| p.group == group && p.ran)
                .collect();
            if phases.is_empty() {
                continue;
            }
            plots.push(Plot {
                id: format!("io500-{}-{}", wi + 1, slug(group.label())),
                title: format!(
                    "IO500 {} phases, latest run ({}): {key}",
                    group.label(),
                    labels[*latest]
                ),
                y_desc: format!("phase score ({unit})"),
                y_log: false,
                verdict: None,
                kind: Kind::Bars {
                    categories: phases.iter().map(|p| p.name.clone()).collect(),
                    series: vec![(
                        "score".to_string(),
                        phases.iter().map(|p| p.score).collect(),
                    )],
                    highlight: phases.iter().map(|p| !p.valid).collect(),
                    reference: None,
                },
                note: "red: phase marked [INVALID]".to_string(),
            });
        }
    }
    if plots.is_empty() {
        return Vec::new();
    }
    vec![("IO500".to_string(), plots)]
}
