//! Reductions of one phase over ranks (IOR's `ReduceIterResults`, `CheckFileSize`, outliers):
//! from each rank's six timestamps, bytes and latency histogram to one [`PhaseResult`].
//!
//! Owns the formulas' application across ranks (MIN of starts, MAX of stops, SUM of bytes),
//! the file-size warnings and the `-j` outlier warnings. It performs collectives but no I/O.

use crate::comm::{Comm, CommError};
use crate::ior::params::IorParams;
use crate::ior::results::{Phase, PhaseResult, RankFigures, StonewallInfo};
use crate::ior::stats;
use crate::measure::latency::LatencyRecorder;

/// One rank's raw figures of one phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct RankTimes {
    /// t0..t5 of SPEC §2.6 (open start/stop, xfer start/stop, close start/stop), epoch seconds.
    pub t: [f64; 6],
    /// Bytes moved.
    pub bytes: i64,
    /// Transfers made.
    pub pairs: i64,
    /// Data-check errors.
    pub errors: i64,
}

impl RankTimes {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(72);
        for t in self.t {
            v.extend_from_slice(&t.to_le_bytes());
        }
        v.extend_from_slice(&self.bytes.to_le_bytes());
        v.extend_from_slice(&self.pairs.to_le_bytes());
        v.extend_from_slice(&self.errors.to_le_bytes());
        v
    }

    fn decode(b: &[u8]) -> Result<Self, CommError> {
        if b.len() != 72 {
            return Err(CommError::Mismatch("rank times".into()));
        }
        let word = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            a
        };
        let mut t = [0.0; 6];
        for (i, slot) in t.iter_mut().enumerate() {
            *slot = f64::from_le_bytes(word(i));
        }
        Ok(RankTimes {
            t,
            bytes: i64::from_le_bytes(word(6)),
            pairs: i64::from_le_bytes(word(7)),
            errors: i64::from_le_bytes(word(8)),
        })
    }
}

/// Everything every rank learns about a phase: all ranks' figures.
pub struct Gathered {
    /// Figures by rank.
    pub ranks: Vec<RankTimes>,
    /// Serialized latency histograms by rank.
    pub histograms: Vec<Vec<u8>>,
}

impl Gathered {
    /// Sum of bytes over ranks (`aggFileSizeForBW`).
    pub fn agg_bytes(&self) -> i64 {
        self.ranks.iter().map(|r| r.bytes).sum()
    }

    /// Sum of data-check errors over ranks.
    pub fn errors(&self) -> i64 {
        self.ranks.iter().map(|r| r.errors).sum()
    }
}

/// Collective: gather every rank's figures and histogram.
pub fn gather(
    comm: &dyn Comm,
    mine: &RankTimes,
    latency: &LatencyRecorder,
) -> Result<Gathered, CommError> {
    let ranks = comm
        .allgather_bytes(&mine.encode())?
        .iter()
        .map(|b| RankTimes::decode(b))
        .collect::<Result<Vec<_>, _>>()?;
    let histograms = comm.allgather_bytes(&latency.serialize())?;
    Ok(Gathered { ranks, histograms })
}

fn min_of(g: &Gathered, i: usize) -> f64 {
    g.ranks.iter().map(|r| r.t[i]).fold(f64::INFINITY, f64::min)
}

fn max_of(g: &Gathered, i: usize) -> f64 {
    g.ranks
        .iter()
        .map(|r| r.t[i])
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Build the Results row of a phase (SPEC §2.6 "Reduction").
pub fn phase_result(
    params: &IorParams,
    phase: Phase,
    iteration: usize,
    g: &Gathered,
    stonewall: Option<StonewallInfo>,
) -> PhaseResult {
    let agg = g.agg_bytes();
    let open = max_of(g, 1) - min_of(g, 0);
    let wrrd = max_of(g, 3) - min_of(g, 2);
    let close = max_of(g, 5) - min_of(g, 4);
    let total = max_of(g, 5) - min_of(g, 0);
    // Latency column: rank 0's own transfer time per transfer, as IOR prints it (IOR also
    // reduces the minimum over ranks but never prints it); the spread over tasks is in
    // `per_rank` and the histogram.
    let latency = g
        .ranks
        .first()
        .map_or(0.0, |r| stats::latency_column(r.t[3] - r.t[2], r.pairs));
    let per_rank = g
        .ranks
        .iter()
        .enumerate()
        .map(|(rank, r)| {
            let wrrd = r.t[3] - r.t[2];
            let tot = r.t[5] - r.t[0];
            RankFigures {
                rank,
                bytes: r.bytes,
                transfers: r.pairs,
                open_time: r.t[1] - r.t[0],
                wrrd_time: wrrd,
                close_time: r.t[5] - r.t[4],
                total_time: tot,
                bw_mib: stats::bw_mib(r.bytes, wrrd),
                bw_mib_with_open_close: stats::bw_mib(r.bytes, tot),
                errors: r.errors,
                start: Some(r.t[0]),
                end: Some(r.t[5]),
            }
        })
        .collect();
    let latency_hist = LatencyRecorder::merge_serialized(&g.histograms).unwrap_or_default();
    PhaseResult {
        access: phase,
        iteration,
        agg_bytes: agg,
        bw_mib: stats::bw_mib(agg, total),
        iops: stats::iops(agg, params.transfer_size, wrrd),
        latency,
        block_kib: params.block_size as f64 / 1024.0,
        xfer_kib: params.transfer_size as f64 / 1024.0,
        open_time: open,
        wrrd_time: wrrd,
        close_time: close,
        total_time: total,
        latency_hist,
        per_rank,
        stonewall,
        errors: g.errors(),
        iodepth: params.iodepth,
        measured: stats::measurable(total) && stats::measurable(wrrd),
        time_series: None,
    }
}

/// `-j`: warnings for tasks whose timers deviate more than the threshold from the mean.
pub fn outlier_warnings(params: &IorParams, phase: Phase, g: &Gathered, host: &str) -> Vec<String> {
    let threshold = params.outlier_threshold as f64;
    if params.outlier_threshold <= 0 || g.ranks.is_empty() {
        return Vec::new();
    }
    type Measure = (&'static str, fn(&RankTimes) -> f64);
    let measures: [Measure; 5] = [
        ("start time", |r| r.t[0]),
        ("elapsed create time", |r| r.t[1] - r.t[0]),
        ("elapsed transfer time", |r| r.t[3] - r.t[2]),
        ("elapsed close time", |r| r.t[5] - r.t[4]),
        ("end time", |r| r.t[5]),
    ];
    let mut out = Vec::new();
    let n = g.ranks.len() as f64;
    for (what, f) in measures {
        let vals: Vec<f64> = g.ranks.iter().map(f).collect();
        let mean = vals.iter().sum::<f64>() / n;
        let sd = (vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        for (rank, v) in vals.iter().enumerate() {
            if (v - mean).abs() > threshold {
                out.push(format!(
                    "for {host}, task {rank}, {} {what} is {v:.6} (mean={mean:.6}, stddev={sd:.6})",
                    phase.as_str()
                ));
            }
        }
    }
    out
}

/// `CheckFileSize`: the warnings rank 0 prints when the sizes disagree (§2.6).
pub fn file_size_warnings(
    params: &IorParams,
    expected: i64,
    stat_size: i64,
    moved: i64,
    inconsistent: bool,
) -> Vec<String> {
    let mut w = Vec::new();
    if inconsistent {
        w.push("inconsistent file size by different tasks".to_string());
    }
    if expected != moved || stat_size != moved {
        w.push(format!("Expected aggregate file size       = {expected}"));
        w.push(format!("Stat() of aggregate file size      = {stat_size}"));
        w.push(format!("Using actual aggregate bytes moved = {moved}"));
        if params.deadline_for_stonewalling > 0 {
            w.push("Maybe caused by deadlineForStonewalling".to_string());
        }
    }
    w
}
