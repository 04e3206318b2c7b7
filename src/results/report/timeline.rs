//! Time-series plots: for the latest run of each workload that recorded one, per phase the
//! aggregate bandwidth over time (operations per second where the phase has no bytes) with
//! the stonewall mark, and every rank's own bandwidth over time with the rank that finished
//! last (the straggler) in red.
//!
//! Owns the choice of run, iteration and lines; the series come from the phases'
//! `time_series` ([`crate::ior::results::TimeSeries`], t = 0 at the phase start, the origin
//! of `stonewall.time`), drawing from [`super::draw`]. A phase without one is skipped.

use super::latest::{latest_with, median_row};
use super::plot::{run_title, Kind, Mark, Plot, Point, Series, Style, Tone, XAxis};
use crate::ior::results::{Phase, TimeSeries};
use crate::results::compare::workload_key;
use crate::results::document::ResultDocument;

/// Points of one series of counts per interval as a rate at each interval's middle: MiB/s
/// for bytes (`mib` true), else per second; `total_s` is the phase's length (its last
/// interval may be shorter).
fn rate_points(ts: &TimeSeries, counts: &[u64], mib: bool, total_s: f64) -> Vec<Point> {
    let scale = if mib { crate::ior::stats::MIB } else { 1.0 };
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = ts.width(i, total_s);
            let start = i as f64 * ts.interval_s;
            (start + w / 2.0, *c as f64 / w / scale, None)
        })
        .collect()
}

/// Whether `ts` has something to draw: intervals of positive length and operations.
pub(super) fn drawable(ts: &TimeSeries) -> bool {
    ts.interval_s > 0.0 && !ts.ops.is_empty()
}

/// The rank whose last transfer ended latest (fewest bytes on a tie): the straggler.
fn straggler(ts: &TimeSeries) -> Option<usize> {
    ts.per_rank
        .iter()
        .enumerate()
        .max_by_key(|(_, t)| {
            let last = t.iter().rposition(|b| *b > 0).unwrap_or(0);
            (last, std::cmp::Reverse(t.iter().sum::<u64>()))
        })
        .map(|(i, _)| i)
}

/// The time-series plots of workload `key` (number `n` on the page).
pub(super) fn timeline_plots(docs: &[&ResultDocument], n: usize, key: &str) -> Vec<Plot> {
    let has = |r: &crate::ior::results::PhaseResult| r.time_series.as_ref().is_some_and(drawable);
    let Some((di, rows)) = latest_with(docs, key, has) else {
        return Vec::new();
    };
    let deadline = docs[di]
        .tests
        .iter()
        .find(|t| workload_key(t) == key)
        .map_or(0, |t| t.params.deadline_for_stonewalling);
    let run = run_title(docs[di], di);
    let mut plots = Vec::new();
    for (pi, phase) in [Phase::Write, Phase::Read].into_iter().enumerate() {
        let Some(row) = median_row(&rows, phase, has) else {
            continue;
        };
        let Some(ts) = row.time_series.as_ref() else {
            continue;
        };
        let wall = row
            .stonewall
            .as_ref()
            .map(|s| s.time)
            .filter(|t| *t > 0.0)
            .or((deadline > 0).then_some(deadline as f64));
        let note = format!(
            "run {run}, iteration {} (median bandwidth), {} ms intervals",
            row.iteration,
            (ts.interval_s * 1000.0).round()
        );
        let what = phase.as_str();
        plots.extend(series_plots(
            &format!("timeseries-{n}-{what}"),
            key,
            what,
            pi,
            ts,
            row.total_time,
            wall,
            note,
        ));
    }
    plots
}

/// The plots of one phase's series `ts` (the phase `total_s` long): the aggregate rate over
/// time (bandwidth where it has bytes, else operations) and, with two ranks or more, every
/// rank's own with the straggler in red; ids from `id`, titles naming workload `key`, `what`
/// the phase's name, palette colour `pi`, the stonewall mark at `wall` seconds.
#[allow(clippy::too_many_arguments)]
pub(super) fn series_plots(
    id: &str,
    key: &str,
    what: &str,
    pi: usize,
    ts: &TimeSeries,
    total_s: f64,
    wall: Option<f64>,
    note: String,
) -> Vec<Plot> {
    let mut plots = Vec::new();
    let marks: Vec<Mark> = wall
        .map(|x| Mark {
            x,
            label: format!("stonewall {x:.1} s"),
        })
        .into_iter()
        .collect();
    let x_desc = "seconds since the phase start".to_string();
    // Bandwidth where the phase recorded bytes, else its operation rate.
    let (aggregate, mib, unit) = match ts.bytes.as_ref().filter(|b| !b.is_empty()) {
        Some(b) => (b.as_slice(), true, "MiB/s"),
        None => (ts.ops.as_slice(), false, "ops/s"),
    };
    let measure = if mib { "bandwidth" } else { "operations" };
    plots.push(Plot {
        id: id.to_string(),
        title: format!("{what} {measure} over time: {key}"),
        y_desc: format!("{unit}, all tasks"),
        y_log: false,
        kind: Kind::Lines {
            x: XAxis::Seconds,
            x_desc: x_desc.clone(),
            series: vec![Series {
                name: format!("{what}, all tasks"),
                points: rate_points(ts, aggregate, mib, total_s),
                style: Style::Line,
                tone: Tone::Palette(pi),
            }],
            bands: Vec::new(),
            marks: marks.clone(),
        },
        note: note.clone(),
        verdict: None,
    });
    if ts.per_rank.len() < 2 {
        return plots;
    }
    let slow = straggler(ts);
    let mut series: Vec<Series> = ts
        .per_rank
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != slow)
        .enumerate()
        .map(|(k, (_, t))| Series {
            name: if k == 0 {
                "other tasks".to_string()
            } else {
                String::new()
            },
            points: rate_points(ts, t, mib, total_s),
            style: Style::Thin,
            tone: Tone::Muted,
        })
        .collect();
    if let Some(s) = slow {
        series.push(Series {
            name: format!("task {s}, finished last"),
            points: rate_points(ts, &ts.per_rank[s], mib, total_s),
            style: Style::Thin,
            tone: Tone::Alert,
        });
    }
    plots.push(Plot {
        id: format!("{id}-tasks"),
        title: format!("{what} {measure} per task: {key}"),
        y_desc: format!("{unit}, each task"),
        y_log: false,
        kind: Kind::Lines {
            x: XAxis::Seconds,
            x_desc,
            series,
            bands: Vec::new(),
            marks,
        },
        note,
        verdict: None,
    });
    plots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_that_ends_last_is_the_straggler() {
        let ts = TimeSeries {
            interval_s: 0.1,
            origin: "phase_start".into(),
            bytes: Some(vec![3, 3, 1]),
            ops: vec![3, 3, 1],
            per_rank: vec![vec![2, 1, 0], vec![1, 1, 1], vec![0, 1, 0]],
        };
        assert_eq!(straggler(&ts), Some(1));
        let p = rate_points(&ts, &[1 << 20], true, 0.3);
        assert!((p[0].0 - 0.05).abs() < 1e-12 && (p[0].1 - 10.0).abs() < 1e-9);
        let p = rate_points(&ts, &[7], false, 0.3);
        assert!((p[0].1 - 70.0).abs() < 1e-9);
        // The last interval ends with the phase: 0.25 s in, 0.05 s long.
        let p = rate_points(&ts, &[1, 1, 1], false, 0.25);
        assert!((p[2].0 - 0.225).abs() < 1e-12 && (p[2].1 - 20.0).abs() < 1e-9);
        assert!(drawable(&ts));
        let metadata = TimeSeries {
            bytes: None,
            per_rank: Vec::new(),
            ..ts.clone()
        };
        assert!(drawable(&metadata));
        let empty = TimeSeries {
            ops: Vec::new(),
            ..metadata
        };
        assert!(!drawable(&empty));
    }
}
