//! IOR's formulas: bandwidth, IOPS, summary statistics over repetitions (SPEC §2.6) and the
//! number/size formatting helpers shared by the output formats (SPEC §3.1, §3.2).
//!
//! Owns pure functions only: no I/O, no reduction over ranks (the engine reduces timers and
//! byte counts, then calls [`bw_mib`] / [`iops`]), and no layout of output lines (that is
//! [`crate::ior::output`]). The formulas are IOR's to the letter, divisions included: a phase
//! whose duration is zero or negative is *unmeasurable* ([`measurable`] is false) and gives
//! IOR's `inf` or a negative value, never a made-up 0. The text format prints what IOR prints
//! for it ([`pp_double`], [`c_fixed`]), JSON prints `null`, and the result document marks the
//! row unmeasured so that `compare` and `report` skip it.

use crate::ior::results::{Phase, TestResults};
use serde::{Deserialize, Serialize};

pub use crate::units::{GIB, MIB};

/// Whether a duration can be divided by: finite and strictly positive. A phase whose total or
/// transfer time is not is unmeasurable.
pub fn measurable(seconds: f64) -> bool {
    seconds.is_finite() && seconds > 0.0
}

/// Bandwidth in MiB/s: `agg_bytes / seconds / 2^20` (IOR's `bw` column): `inf` for a zero
/// duration, negative for a negative one, as IOR.
pub fn bw_mib(agg_bytes: i64, seconds: f64) -> f64 {
    agg_bytes as f64 / seconds / MIB
}

/// IOR's per-iteration IOPS column: `(agg_bytes / transfer_size) / seconds`, where the division
/// of bytes by the transfer size is an *integer* division (as in IOR) and `seconds` is the
/// access (`wr/rd`) time (`inf` when it is 0). A `transfer_size <= 0` gives 0.
pub fn iops(agg_bytes: i64, transfer_size: i64, seconds: f64) -> f64 {
    if transfer_size <= 0 {
        return 0.0;
    }
    (agg_bytes / transfer_size) as f64 / seconds
}

/// IOR's `Latency(s)` column: a rank's own access time divided by the transfers it made
/// (SPEC §2.6; IOR prints rank 0's value). Undefined without transfers (IOR's `inf`/`nan`).
pub fn latency_column(access_time: f64, transfers: i64) -> f64 {
    access_time / transfers as f64
}

/// C's `%.<prec>f` of `v`, including its spelling of non-finite values (`inf`, `-inf`, `nan`,
/// `-nan`), which Rust spells differently for NaN.
pub fn c_fixed(v: f64, prec: usize) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else {
        format!("{v:.prec$}")
    }
}

/// Summary of one operation (write or read) of one test over its repetitions
/// (IOR's `PrintLongSummaryOneOperation`, SPEC §2.6 "Summary statistics").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    /// The operation.
    pub operation: Phase,
    /// Number of repetitions that produced a row for this operation.
    pub reps: usize,
    /// Highest per-repetition bandwidth `agg_r / total_r`, MiB/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub bw_max_mib: f64,
    /// Lowest per-repetition bandwidth, MiB/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub bw_min_mib: f64,
    /// Mean of the per-repetition bandwidths, MiB/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub bw_mean_mib: f64,
    /// Population standard deviation (divided by `reps`) of the bandwidths, MiB/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub bw_sd_mib: f64,
    /// Highest per-repetition operation rate `agg_r / transferSize / total_r`, ops/s
    /// (uses the **total** time, unlike the per-row IOPS column; IOR issue #478).
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub ops_max: f64,
    /// Lowest operation rate, ops/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub ops_min: f64,
    /// Mean operation rate, ops/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub ops_mean: f64,
    /// Population standard deviation of the operation rates, ops/s.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub ops_sd: f64,
    /// Mean of the per-repetition total times, seconds.
    #[serde(deserialize_with = "crate::ior::results::nan_if_null")]
    pub mean_time: f64,
    /// `Σ stonewall time / reps`, seconds; only with `stoneWallingWearOut`.
    pub stonewall_time: Option<f64>,
    /// `Σ_r mean bytes per rank at the wall / Σ_r stonewall time / 2^20`, MiB/s; a
    /// **per-process** bandwidth (IOR quirk); only with `stoneWallingWearOut`.
    pub stonewall_bw_mib: Option<f64>,
    /// Repetition 0's aggregate bytes moved / 2^20, MiB (IOR's `aggs(MiB)` / `xsizeMiB`).
    pub aggs_mib: f64,
}

/// Mean and population standard deviation of `values` (`(0, 0)` if empty).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (mean - v) * (mean - v)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Summary statistics of `phase` over the repetitions of `test`, or `None` if the test has no
/// row for that phase.
///
/// Formulas (SPEC §2.6): `bw_r = agg_r / total_r`, `ops_r = agg_r / transferSize / total_r`,
/// max/min/mean/population sd of both, `MeanTime` = mean of `total_r`, `aggs` from the first
/// repetition. Stonewall figures only when the test ran with `stoneWallingWearOut`
/// (a row without stonewall data counts as zero). Divisions are IOR's: an unmeasurable row
/// gives `inf` figures and a NaN standard deviation, as IOR prints them.
/// Means divide by the number of rows present (IOR divides by `repetitions`; the same unless
/// `-T` cut the test short).
pub fn summarize(test: &TestResults, phase: Phase) -> Option<OpSummary> {
    let rows: Vec<_> = test.phase_rows(phase).collect();
    let first = rows.first()?;
    let xfer = test.params.transfer_size;
    let bws: Vec<f64> = rows
        .iter()
        .map(|r| bw_mib(r.agg_bytes, r.total_time))
        .collect();
    let ops: Vec<f64> = rows
        .iter()
        .map(|r| {
            if xfer <= 0 {
                0.0
            } else {
                r.agg_bytes as f64 / xfer as f64 / r.total_time
            }
        })
        .collect();
    let times: Vec<f64> = rows.iter().map(|r| r.total_time).collect();
    let (bw_mean, bw_sd) = mean_sd(&bws);
    let (ops_mean, ops_sd) = mean_sd(&ops);
    let (mean_time, _) = mean_sd(&times);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (stonewall_time, stonewall_bw_mib) = if test.params.stone_walling_wear_out != 0 {
        let sum_time: f64 = rows
            .iter()
            .filter_map(|r| r.stonewall.as_ref())
            .map(|s| s.time)
            .sum();
        let sum_data: f64 = rows
            .iter()
            .filter_map(|r| r.stonewall.as_ref())
            .map(|s| s.data_mean)
            .sum();
        (
            Some(sum_time / rows.len() as f64),
            Some(sum_data / sum_time / MIB),
        )
    } else {
        (None, None)
    };
    Some(OpSummary {
        operation: phase,
        reps: rows.len(),
        bw_max_mib: max(&bws),
        bw_min_mib: min(&bws),
        bw_mean_mib: bw_mean,
        bw_sd_mib: bw_sd,
        ops_max: max(&ops),
        ops_min: min(&ops),
        ops_mean,
        ops_sd,
        mean_time,
        stonewall_time,
        stonewall_bw_mib,
        aggs_mib: first.agg_bytes as f64 / MIB,
    })
}

/// Summaries of the write then the read operation of `test` (those that have rows), in
/// IOR's order.
pub fn summarize_test(test: &TestResults) -> Vec<OpSummary> {
    [Phase::Write, Phase::Read]
        .into_iter()
        .filter_map(|p| summarize(test, p))
        .collect()
}

/// IOR's `HumanReadable` (base 2, SPEC §3.1): `"%d TiB|GiB|MiB"` when the value is an exact
/// multiple, `"%.2f TiB|GiB|MiB"` otherwise, and `"%d bytes"` below 1 MiB
/// (`1 MiB`, `65536 bytes`, `1.50 GiB`).
pub fn human_readable(bytes: i64) -> String {
    const UNITS: [(i64, &str); 3] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB")];
    for (unit, name) in UNITS {
        if bytes >= unit {
            return if bytes % unit == 0 {
                format!("{} {}", bytes / unit, name)
            } else {
                format!("{:.2} {}", bytes as f64 / unit as f64, name)
            };
        }
    }
    format!("{} bytes", bytes)
}

/// IOR's `PPDouble` (SPEC §3.2): left-justified, width 10, 6 decimals below 1, 2 decimals
/// below 3600, none above; a negative value prints as `"   -      "`, `inf` and NaN as C
/// prints them (`inf`, `-nan`). The separator that follows is not included. Wide values are
/// never truncated.
pub fn pp_double(v: f64) -> String {
    if v < 0.0 {
        return "   -      ".to_string();
    }
    let prec = if v < 1.0 {
        6
    } else if v < 3600.0 {
        2
    } else {
        0
    };
    format!("{:<10}", c_fixed(v, prec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::params::{IorParams, TaskLayout};
    use crate::ior::results::{LatencySummary, PhaseResult, ResultEntry, StonewallInfo};

    fn row(phase: Phase, it: usize, agg: i64, total: f64) -> ResultEntry {
        ResultEntry::Phase(PhaseResult {
            access: phase,
            iteration: it,
            agg_bytes: agg,
            bw_mib: bw_mib(agg, total),
            iops: 0.0,
            latency: 0.0,
            block_kib: 0.0,
            xfer_kib: 0.0,
            open_time: 0.0,
            wrrd_time: total,
            close_time: 0.0,
            total_time: total,
            latency_hist: LatencySummary::default(),
            per_rank: vec![],
            stonewall: None,
            errors: 0,
            iodepth: 1,
            measured: true,
            time_series: None,
        })
    }

    fn test_with(entries: Vec<ResultEntry>) -> TestResults {
        TestResults {
            params: IorParams {
                transfer_size: 1 << 20,
                ..IorParams::default()
            },
            layout: TaskLayout {
                num_tasks: 2,
                num_nodes: 1,
                tasks_on_node0: 2,
                block_mapping: true,
            },
            api_version: String::new(),
            start_time: String::new(),
            path: String::new(),
            fs: None,
            entries,
        }
    }

    #[test]
    fn bw_and_iops_are_iors_divisions() {
        assert_eq!(bw_mib(1 << 20, 0.0), f64::INFINITY);
        assert!(bw_mib(1 << 20, -1.0) < 0.0);
        assert_eq!(bw_mib(1 << 21, 2.0), 1.0);
        assert_eq!(iops(10, 0, 1.0), 0.0);
        assert_eq!(iops(10, 4, 0.0), f64::INFINITY);
        // integer division of bytes by transfer size
        assert_eq!(iops(10, 4, 1.0), 2.0);
        assert!(!measurable(0.0) && !measurable(-1e-6) && !measurable(f64::NAN));
        assert!(measurable(1e-9));
        assert_eq!(latency_column(0.5, 4), 0.125);
    }

    #[test]
    fn summary_matches_shm_fpp_text() {
        let agg = 512 << 20;
        let t = test_with(vec![
            row(Phase::Write, 0, agg, 0.926221),
            row(Phase::Read, 0, agg, 0.087121),
            row(Phase::Write, 1, agg, 0.228070),
            row(Phase::Read, 1, agg, 0.087517),
            row(Phase::Write, 2, agg, 0.127495),
            row(Phase::Read, 2, agg, 0.039954),
        ]);
        let w = summarize(&t, Phase::Write).unwrap();
        assert_eq!(format!("{:.2}", w.bw_max_mib), "4015.84");
        assert_eq!(format!("{:.2}", w.bw_min_mib), "552.78");
        assert_eq!(format!("{:.2}", w.bw_mean_mib), "2271.18");
        assert_eq!(format!("{:.2}", w.bw_sd_mib), "1413.91");
        assert_eq!(format!("{:.5}", w.mean_time), "0.42726");
        assert_eq!(w.aggs_mib, 512.0);
        assert_eq!(w.stonewall_time, None);
        assert_eq!(w.reps, 3);
        let r = summarize(&t, Phase::Read).unwrap();
        // Read totals are only known to 6 decimals (~0.05 MiB/s of error at 12800 MiB/s).
        assert!((r.bw_sd_mib - 3276.79).abs() < 0.1, "{}", r.bw_sd_mib);
        assert!((r.ops_mean - 8180.62).abs() < 0.1, "{}", r.ops_mean);
        assert_eq!(format!("{:.2}", r.bw_min_mib), "5850.29");
    }

    #[test]
    fn summary_none_without_rows_and_stonewall_columns() {
        let mut t = test_with(vec![row(Phase::Write, 0, 1 << 20, 0.0)]);
        assert!(summarize(&t, Phase::Read).is_none());
        // An unmeasurable repetition: IOR's inf, and a NaN spread.
        let w = summarize(&t, Phase::Write).unwrap();
        assert_eq!(w.bw_max_mib, f64::INFINITY);
        assert_eq!(w.ops_max, f64::INFINITY);
        assert!(w.bw_sd_mib.is_nan());
        t.params.stone_walling_wear_out = 1;
        if let ResultEntry::Phase(p) = &mut t.entries[0] {
            p.stonewall = Some(StonewallInfo {
                time: 2.0,
                data_mean: 4.0 * MIB,
                ..StonewallInfo::default()
            });
        }
        let w = summarize(&t, Phase::Write).unwrap();
        assert_eq!(w.stonewall_time, Some(2.0));
        assert_eq!(w.stonewall_bw_mib, Some(2.0));
    }

    #[test]
    fn human_readable_like_ior() {
        assert_eq!(human_readable(1 << 20), "1 MiB");
        assert_eq!(human_readable(65536), "65536 bytes");
        assert_eq!(human_readable(262_144), "262144 bytes");
        assert_eq!(human_readable(3 << 29), "1.50 GiB");
        assert_eq!(human_readable(8 << 30), "8 GiB");
        assert_eq!(human_readable(2 << 40), "2 TiB");
        assert_eq!(human_readable(0), "0 bytes");
    }

    #[test]
    fn pp_double_like_ior() {
        assert_eq!(pp_double(552.7843), "552.78    ");
        assert_eq!(pp_double(5877.4), "5877      ");
        assert_eq!(pp_double(0.003618), "0.003618  ");
        assert_eq!(pp_double(65536.0), "65536     ");
        assert_eq!(pp_double(18837576.0), "18837576  ");
        assert_eq!(pp_double(123456789012.0), "123456789012");
        assert_eq!(pp_double(-1.0), "   -      ");
        assert_eq!(pp_double(f64::INFINITY), "inf       ");
        assert_eq!(pp_double(-f64::NAN), "-nan      ");
        assert_eq!(c_fixed(f64::INFINITY, 2), "inf");
        assert_eq!(c_fixed(f64::NAN, 2), "nan");
        assert_eq!(c_fixed(1.005, 1), "1.0");
    }
}
