//! The time series of one IOR phase across ranks (beyond IOR): every rank's interval series
//! moved onto the phase's origin, gathered after the phase (outside the timed region), summed
//! into the phase row's [`TimeSeries`], and the `-O savePerIntervalCSV=FILE` file.
//!
//! Owns the phase's common grid (t = 0 at the earliest open start of any rank, the origin of
//! `stonewall.time`; the grid ends with the last close), the collective that gathers the
//! series and the CSV layout. Counting within a rank is [`crate::measure::series`]'s; the
//! clocks are the engine's epoch timers, aligned as the engine aligns its timers (by their
//! minimum over ranks).

use crate::comm::{Comm, CommError};
use crate::ior::error::EngineError;
use crate::ior::reduce::Gathered;
use crate::ior::results::Phase;
use crate::measure::series::{align, intervals_for, sum, TaskSeries, TimeSeries};
use std::io::Write;

/// Collective: every rank's `mine` (counted from its own open start, `t[0]` of its figures in
/// `g`) on the phase's common grid of `interval_s`; the phase's series on rank 0 (`None`
/// elsewhere).
pub fn gather_phase(
    comm: &dyn Comm,
    g: &Gathered,
    mine: &TaskSeries,
    interval_s: f64,
) -> Result<Option<TimeSeries>, CommError> {
    let origin = g.ranks.iter().map(|r| r.t[0]).fold(f64::INFINITY, f64::min);
    let end = g
        .ranks
        .iter()
        .map(|r| r.t[5])
        .fold(f64::NEG_INFINITY, f64::max);
    let len = intervals_for(end - origin, interval_s);
    let shift = g.ranks.get(comm.rank()).map_or(0.0, |r| r.t[0] - origin);
    gather_aligned(comm, mine, shift, interval_s, len, PerRank::Bytes)
}

/// When a phase's series counts bytes (its `bytes` and per-rank lines; operations are
/// always counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerRank {
    /// Always (a data phase).
    Bytes,
    /// When some moved (a metadata phase: mdtest's `-w`/`-e`); else the per-rank lines
    /// count operations and there is no `bytes`.
    BytesIfMoved,
}

/// Collective: `mine`, whose origin lies `shift` seconds after the phase's common origin,
/// moved onto the common grid of `len` intervals of `interval_s` and gathered; the phase's
/// series on rank 0 (`None` elsewhere), counting bytes as `per_rank` says.
pub fn gather_aligned(
    comm: &dyn Comm,
    mine: &TaskSeries,
    shift: f64,
    interval_s: f64,
    len: usize,
    per_rank: PerRank,
) -> Result<Option<TimeSeries>, CommError> {
    let aligned = TaskSeries {
        bytes: align(&mine.bytes, shift, interval_s, len),
        ops: align(&mine.ops, shift, interval_s, len),
    };
    let all = comm.gather_bytes(&aligned.encode(), 0)?;
    if comm.rank() != 0 {
        return Ok(None);
    }
    let ranks = all
        .iter()
        .map(|b| TaskSeries::decode(b).ok_or_else(|| CommError::Mismatch("time series".into())))
        .collect::<Result<Vec<_>, _>>()?;
    let bytes: Vec<Vec<u64>> = ranks.iter().map(|r| r.bytes.clone()).collect();
    let ops: Vec<Vec<u64>> = ranks.into_iter().map(|r| r.ops).collect();
    let total = sum(&bytes, len);
    let moved = total.iter().any(|&b| b > 0);
    let (bytes, per_rank) = match (per_rank, moved) {
        (PerRank::Bytes, _) | (PerRank::BytesIfMoved, true) => (Some(total), bytes),
        (PerRank::BytesIfMoved, false) => (None, ops.clone()),
    };
    Ok(Some(TimeSeries {
        interval_s,
        origin: TimeSeries::ORIGIN.to_string(),
        bytes,
        ops: sum(&ops, len),
        per_rank,
    }))
}

/// The columns before the per-rank ones.
const HEAD: &str = "test,iteration,access,time_s,interval_s,bytes,MiB/s,ops,IOPS";

/// Paths this process has started in this run: the first phase truncates a file, later
/// phases append to it.
fn started(path: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static STARTED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let set = STARTED.get_or_init(|| Mutex::new(HashSet::new()));
    let mut set = set.lock().unwrap_or_else(|p| p.into_inner());
    !set.insert(path.to_string())
}

/// The header line of a file whose rows have `ranks` per-rank columns.
fn header(ranks: usize) -> String {
    let mut h = String::from(HEAD);
    for r in 0..ranks {
        h.push_str(&format!(",rank{r}_bytes"));
    }
    h
}

/// The rows of one phase (and a header line before them when `with_header`).
pub fn csv_rows(
    test_id: i32,
    iteration: usize,
    phase: Phase,
    ts: &TimeSeries,
    total_s: f64,
    with_header: bool,
) -> String {
    let mut out = String::new();
    if with_header {
        out.push_str(&header(ts.per_rank.len()));
        out.push('\n');
    }
    let bytes = ts.bytes.as_deref().unwrap_or(&[]);
    for i in 0..ts.len() {
        let w = ts.width(i, total_s);
        let b = bytes.get(i).copied().unwrap_or(0);
        let ops = ts.ops[i];
        out.push_str(&format!(
            "{test_id},{iteration},{},{:.6},{w:.6},{b},{:.6},{ops},{:.3}",
            phase.as_str(),
            i as f64 * ts.interval_s,
            b as f64 / w / (1u64 << 20) as f64,
            ops as f64 / w
        ));
        for r in &ts.per_rank {
            out.push_str(&format!(",{}", r.get(i).copied().unwrap_or(0)));
        }
        out.push('\n');
    }
    out
}

/// `-O savePerIntervalCSV=FILE` (rank 0): the phase's intervals as rows of `path`. The first
/// phase of the run truncates the file and writes the header; a phase with another number of
/// ranks than the header's writes its own header line before its rows.
pub fn write_csv(
    path: &str,
    test_id: i32,
    iteration: usize,
    phase: Phase,
    ts: &TimeSeries,
    total_s: f64,
) -> Result<(), EngineError> {
    let append = started(path);
    let open_err = |e: std::io::Error| EngineError::Fatal(format!("cannot open \"{path}\": {e}"));
    let with_header = if append {
        let text = std::fs::read_to_string(path).map_err(open_err)?;
        let last_header = text.lines().rev().find(|l| l.starts_with(HEAD));
        last_header != Some(header(ts.per_rank.len()).as_str())
    } else {
        true
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(open_err)?;
    f.write_all(csv_rows(test_id, iteration, phase, ts, total_s, with_header).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::local::LocalComm;
    use crate::ior::reduce::RankTimes;

    fn times(t0: f64, t5: f64) -> RankTimes {
        RankTimes {
            t: [t0, t0, t0, t5, t5, t5],
            ..Default::default()
        }
    }

    #[test]
    fn ranks_are_aligned_on_the_earliest_open_and_summed_on_rank_0() {
        // Rank 1 opened a quarter interval after rank 0; the phase spans 0.35 s.
        let g = Gathered {
            ranks: vec![times(100.0, 100.3), times(100.025, 100.35)],
            histograms: vec![vec![], vec![]],
        };
        let series = [
            TaskSeries {
                bytes: vec![10, 20, 30, 0],
                ops: vec![1, 2, 3, 0],
            },
            TaskSeries {
                bytes: vec![40, 40, 40, 0],
                ops: vec![4, 4, 4, 0],
            },
        ];
        let handles: Vec<_> = LocalComm::group(2, 0)
            .into_iter()
            .map(|c| {
                let g = Gathered {
                    ranks: g.ranks.clone(),
                    histograms: g.histograms.clone(),
                };
                let mine = series[c.rank()].clone();
                std::thread::spawn(move || gather_phase(&c, &g, &mine, 0.1).unwrap())
            })
            .collect();
        let out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(out[1].is_none(), "only rank 0 gets the series");
        let ts = out[0].clone().unwrap();
        assert_eq!(ts.len(), 4);
        assert_eq!(ts.per_rank[0], vec![10, 20, 30, 0]);
        assert_eq!(ts.per_rank[1], vec![30, 40, 40, 10]);
        assert_eq!(ts.bytes, Some(vec![40, 60, 70, 10]));
        assert_eq!(ts.ops, vec![4, 6, 7, 1]);

        let csv = csv_rows(0, 1, Phase::Write, &ts, 0.35, true);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "test,iteration,access,time_s,interval_s,bytes,MiB/s,ops,IOPS,rank0_bytes,rank1_bytes"
        );
        assert_eq!(lines.len(), 5);
        assert!(
            lines[1].starts_with("0,1,write,0.000000,0.100000,40,"),
            "{}",
            lines[1]
        );
        // The last interval is half as long: its rates use its own width.
        assert!(
            lines[4].starts_with("0,1,write,0.300000,0.050000,10,"),
            "{}",
            lines[4]
        );
        assert!(lines[4].ends_with(",1,20.000,0,10"), "{}", lines[4]);
        assert!(
            lines[2].contains(",60,") && lines[2].contains(",6,60.000,"),
            "{}",
            lines[2]
        );
    }
}
