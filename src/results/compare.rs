//! Noise-aware comparison of two result documents (`benchfs-bench compare BASELINE CURRENT`).
//!
//! Tests are matched by their workload parameters ([`workload_key`]); for each phase the
//! bandwidth, IOPS and latency figures of *every iteration* of each side are compared: median,
//! spread (min, max, median absolute deviation), relative change of the medians and a two-sided
//! Mann-Whitney U test. A change is a regression (or improvement) only when it is beyond the
//! threshold **and** significant at `alpha`; a change beyond the threshold that is not
//! significant is `inconclusive` (noise or too few iterations).
//!
//! Owns the statistics and the verdict, and the text / markdown / JSON renderings of it. It
//! must not read files or decide the process exit status (that is [`crate::harness::results_cli`]).

use crate::ior::results::{Phase, PhaseResult, ResultEntry};
use crate::results::document::{ResultDocument, TestDocument};
use crate::units::format_size;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Default threshold, percent.
pub const DEFAULT_THRESHOLD_PCT: f64 = 5.0;
/// Default significance level of the Mann-Whitney U test.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The verdict on one metric (or, for [`Comparison::verdict`], the whole comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Worse beyond the threshold, and significant.
    Regression,
    /// Better beyond the threshold, and significant.
    Improvement,
    /// Medians within the threshold.
    Unchanged,
    /// Beyond the threshold but not significant (noise, or too few iterations to tell).
    Inconclusive,
}

impl Verdict {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Which direction of a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Bigger is better (bandwidth, IOPS).
    Higher,
    /// Smaller is better (latency).
    Lower,
}

/// Descriptive statistics of one side's iterations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleStats {
    /// Number of iterations.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// The values, in iteration order.
    pub values: Vec<f64>,
}

impl SampleStats {
    /// Statistics of `values` (not empty).
    pub fn of(values: &[f64]) -> SampleStats {
        let med = median(values);
        let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
        SampleStats {
            n: values.len(),
            median: med,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mad: median(&dev),
            values: values.to_vec(),
        }
    }
}

/// One metric of one phase of one workload, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// The workload ([`workload_key`]).
    pub workload: String,
    /// `write` or `read`.
    pub phase: Phase,
    /// Metric name (`bw`, `iops`, `latency`, `lat_p50`, `lat_p99`).
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    /// Which direction is good.
    pub better: Better,
    /// Baseline iterations.
    pub baseline: SampleStats,
    /// Current iterations.
    pub current: SampleStats,
    /// `(median current - median baseline) / median baseline * 100`.
    pub change_pct: f64,
    /// Two-sided p-value of the Mann-Whitney U test (1 if it cannot be computed).
    pub p_value: f64,
    /// Smallest p-value these sample sizes can reach (exact test); above `alpha` means no
    /// change can be called significant with so few iterations.
    pub min_p_value: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Baseline label (file name).
    pub baseline: String,
    /// Current label (file name).
    pub current: String,
    /// Source format of the baseline (`benchfs`, `ior-text`, ...).
    pub baseline_source: String,
    /// Source format of the current run.
    pub current_source: String,
    /// Threshold in percent.
    pub threshold_pct: f64,
    /// Significance level.
    pub alpha: f64,
    /// Every metric compared.
    pub metrics: Vec<MetricComparison>,
    /// Workloads present only in the baseline.
    pub only_in_baseline: Vec<String>,
    /// Workloads present only in the current run.
    pub only_in_current: Vec<String>,
    /// Number of regressions.
    pub regressions: usize,
    /// Number of improvements.
    pub improvements: usize,
    /// `regression` if any metric regressed, else `improvement` if any improved, else
    /// `inconclusive` if any was, else `unchanged`.
    pub verdict: Verdict,
}

/// The workload a test ran, as a readable key: backend, file mode, tasks, block, transfer and
/// segment count, plus access-order flags; tests with equal keys are compared.
pub fn workload_key(t: &TestDocument) -> String {
    let p = &t.params;
    let mut k = format!(
        "{} {} N={} b={} t={} s={}",
        p.api,
        if p.file_per_proc != 0 { "fpp" } else { "ssf" },
        t.layout.num_tasks,
        format_size(p.block_size),
        format_size(p.transfer_size),
        p.segment_count
    );
    if p.random_offset != 0 {
        k.push_str(&format!(" z={}", p.random_offset));
    }
    if p.reorder_tasks != 0 {
        k.push_str(" C");
    }
    if p.reorder_tasks_random != 0 {
        k.push_str(" Z");
    }
    if p.iodepth > 1 {
        k.push_str(&format!(" iodepth={}", p.iodepth));
    }
    k
}

/// Phase rows of every test of `doc`, grouped by workload (in first-seen order).
pub fn rows_by_workload(doc: &ResultDocument) -> Vec<(String, Vec<&PhaseResult>)> {
    let mut out: Vec<(String, Vec<&PhaseResult>)> = Vec::new();
    for t in &doc.tests {
        let key = workload_key(t);
        let rows = t.results.iter().filter_map(|e| match e {
            ResultEntry::Phase(p) => Some(p),
            ResultEntry::Remove(_) => None,
        });
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.extend(rows),
            None => out.push((key, rows.collect())),
        }
    }
    out
}

type Extract = fn(&PhaseResult) -> Option<f64>;

/// The metrics compared: name, unit, direction, extractor.
const METRICS: &[(&str, &str, Better, Extract)] = &[
    ("bw", "MiB/s", Better::Higher, |r| Some(r.bw_mib)),
    ("iops", "ops/s", Better::Higher, |r| Some(r.iops)),
    ("latency", "s", Better::Lower, |r| Some(r.latency)),
    ("lat_p50", "s", Better::Lower, |r| {
        (r.latency_hist.count > 0).then_some(r.latency_hist.p50)
    }),
    ("lat_p99", "s", Better::Lower, |r| {
        (r.latency_hist.count > 0).then_some(r.latency_hist.p99)
    }),
];

fn source_name(doc: &ResultDocument) -> String {
    doc.source
        .as_ref()
        .map(|s| s.format.clone())
        .unwrap_or_else(|| "benchfs".to_string())
}

/// Compares `current` with `baseline` (labels are used in the output only).
pub fn compare(
    baseline: &ResultDocument,
    baseline_label: &str,
    current: &ResultDocument,
    current_label: &str,
    threshold_pct: f64,
    alpha: f64,
) -> Comparison {
    let base = rows_by_workload(baseline);
    let cur = rows_by_workload(current);
    let mut metrics = Vec::new();
    let cur_map: BTreeMap<&str, &Vec<&PhaseResult>> =
        cur.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (key, brows) in &base {
        let Some(crows) = cur_map.get(key.as_str()) else {
            continue;
        };
        for phase in [Phase::Write, Phase::Read] {
            for (name, unit, better, extract) in METRICS {
                let b: Vec<f64> = brows
                    .iter()
                    .filter(|r| r.access == phase)
                    .filter_map(|r| extract(r))
                    .filter(|v| v.is_finite())
                    .collect();
                let c: Vec<f64> = crows
                    .iter()
                    .filter(|r| r.access == phase)
                    .filter_map(|r| extract(r))
                    .filter(|v| v.is_finite())
                    .collect();
                if b.is_empty() || c.is_empty() {
                    continue;
                }
                metrics.push(compare_metric(
                    key,
                    phase,
                    name,
                    unit,
                    *better,
                    &b,
                    &c,
                    threshold_pct,
                    alpha,
                ));
            }
        }
    }
    let base_keys: Vec<&String> = base.iter().map(|(k, _)| k).collect();
    let only_in_baseline = base
        .iter()
        .filter(|(k, _)| !cur_map.contains_key(k.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    let only_in_current = cur
        .iter()
        .filter(|(k, _)| !base_keys.contains(&k))
        .map(|(k, _)| k.clone())
        .collect();
    let count = |v: Verdict| metrics.iter().filter(|m| m.verdict == v).count();
    let regressions = count(Verdict::Regression);
    let improvements = count(Verdict::Improvement);
    let verdict = if regressions > 0 {
        Verdict::Regression
    } else if improvements > 0 {
        Verdict::Improvement
    } else if count(Verdict::Inconclusive) > 0 {
        Verdict::Inconclusive
    } else {
        Verdict::Unchanged
    };
    Comparison {
        baseline: baseline_label.to_string(),
        current: current_label.to_string(),
        baseline_source: source_name(baseline),
        current_source: source_name(current),
        threshold_pct,
        alpha,
        metrics,
        only_in_baseline,
        only_in_current,
        regressions,
        improvements,
        verdict,
    }
}

#[allow(clippy::too_many_arguments)]
fn compare_metric(
    workload: &str,
    phase: Phase,
    name: &str,
    unit: &str,
    better: Better,
    b: &[f64],
    c: &[f64],
    threshold_pct: f64,
    alpha: f64,
) -> MetricComparison {
    let baseline = SampleStats::of(b);
    let current = SampleStats::of(c);
    let change_pct = if baseline.median != 0.0 {
        (current.median - baseline.median) / baseline.median.abs() * 100.0
    } else if current.median == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(current.median)
    };
    let p_value = mann_whitney_p(b, c);
    let min_p_value = min_exact_p(b.len(), c.len());
    let worse = match better {
        Better::Higher => change_pct < 0.0,
        Better::Lower => change_pct > 0.0,
    };
    let verdict = if change_pct.abs() <= threshold_pct {
        Verdict::Unchanged
    } else if p_value < alpha {
        if worse {
            Verdict::Regression
        } else {
            Verdict::Improvement
        }
    } else {
        Verdict::Inconclusive
    };
    MetricComparison {
        workload: workload.to_string(),
        phase,
        metric: name.to_string(),
        unit: unit.to_string(),
        better,
        baseline,
        current,
        change_pct,
        p_value,
        min_p_value,
        verdict,
    }
}

/// Median of `values` (0 if empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Average ranks (1-based) of the pooled sample and the tie groups' sizes.
fn ranks(pooled: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..pooled.len()).collect();
    idx.sort_by(|&a, &b| pooled[a].total_cmp(&pooled[b]));
    let mut r = vec![0.0; pooled.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && pooled[idx[j + 1]] == pooled[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        if j > i {
            ties.push(j - i + 1);
        }
        i = j + 1;
    }
    (r, ties)
}

/// Largest sample size for which the exact distribution is used (per side).
const EXACT_MAX: usize = 30;

/// Number of ways to choose `m` of the ranks `1..=m+n` with each rank sum, indexed by
/// `sum - m(m+1)/2` (= U), normalised to probabilities.
fn exact_u_distribution(m: usize, n: usize) -> Vec<f64> {
    let total = m + n;
    let max_sum = (total * (total + 1)) / 2;
    // dp[k][s]: subsets of size k with rank sum s.
    let mut dp = vec![vec![0.0f64; max_sum + 1]; m + 1];
    dp[0][0] = 1.0;
    for rank in 1..=total {
        for k in (1..=m.min(rank)).rev() {
            for s in (rank..=max_sum).rev() {
                let add = dp[k - 1][s - rank];
                if add != 0.0 {
                    dp[k][s] += add;
                }
            }
        }
    }
    let base = m * (m + 1) / 2;
    let counts: Vec<f64> = dp[m][base..=base + m * n].to_vec();
    let sum: f64 = counts.iter().sum();
    counts.into_iter().map(|c| c / sum).collect()
}

/// Smallest two-sided p-value the exact test can give for sample sizes `m` and `n`.
pub fn min_exact_p(m: usize, n: usize) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    if m > EXACT_MAX || n > EXACT_MAX {
        return 0.0;
    }
    let d = exact_u_distribution(m, n);
    (2.0 * d[0]).min(1.0)
}

/// Two-sided p-value of the Mann-Whitney U test that `a` and `b` come from the same
/// distribution: exact when there are no ties and both samples have at most 30 values,
/// otherwise the normal approximation with tie and continuity correction. `1` when either
/// sample is empty or every value is tied.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    let pooled: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let (r, ties) = ranks(&pooled);
    let r1: f64 = r[..m].iter().sum();
    let u1 = r1 - (m * (m + 1)) as f64 / 2.0;
    let mn = (m * n) as f64;
    if ties.is_empty() && m <= EXACT_MAX && n <= EXACT_MAX {
        let d = exact_u_distribution(m, n);
        let u = u1.round() as usize;
        let lower: f64 = d[..=u].iter().sum();
        let upper: f64 = d[u..].iter().sum();
        return (2.0 * lower.min(upper)).min(1.0);
    }
    let big_n = (m + n) as f64;
    let tie_term: f64 = ties
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum::<f64>()
        / (big_n * (big_n - 1.0));
    let var = mn / 12.0 * ((big_n + 1.0) - tie_term);
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u1 - mn / 2.0).abs() - 0.5).max(0.0) / var.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Complementary error function (Chebyshev fit, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

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
            "baseline: {} ({})\ncurrent:  {} ({})\nthreshold {:.1}%, alpha {}",
            self.baseline,
            self.baseline_source,
            self.current,
            self.current_source,
            self.threshold_pct,
            self.alpha
        );
        let mut last = "";
        for m in &self.metrics {
            if m.workload != last {
                let _ = writeln!(s, "\n{}", m.workload);
                let _ = writeln!(
                    s,
                    "  {:<6} {:<8} {:>18} {:>18} {:>8} {:>8}  verdict",
                    "phase", "metric", "baseline median", "current median", "change", "p"
                );
                last = &m.workload;
            }
            let _ = writeln!(
                s,
                "  {:<6} {:<8} {:>18} {:>18} {:>8} {:>8.4}  {}{}",
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
        let _ = writeln!(
            s,
            "\nverdict: {} ({} regression(s), {} improvement(s), {} metric(s) compared)",
            self.verdict.as_str(),
            self.regressions,
            self.improvements,
            self.metrics.len()
        );
        s
    }

    fn note(&self, m: &MetricComparison) -> String {
        if m.verdict == Verdict::Inconclusive && m.min_p_value >= self.alpha {
            format!(
                " (too few iterations: {}+{} cannot reach p < {})",
                m.baseline.n, m.current.n, self.alpha
            )
        } else {
            String::new()
        }
    }

    /// GitHub-flavoured markdown report (one table).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### benchfs-bench compare: **{}**\n\nBaseline `{}` ({}) vs current `{}` ({}); threshold {:.1}%, alpha {}; {} regression(s), {} improvement(s).\n",
            self.verdict.as_str(),
            self.baseline,
            self.baseline_source,
            self.current,
            self.current_source,
            self.threshold_pct,
            self.alpha,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_ranks() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let (r, t) = ranks(&[10.0, 20.0, 10.0, 30.0]);
        assert_eq!(r, vec![1.5, 3.0, 1.5, 4.0]);
        assert_eq!(t, vec![2]);
    }

    #[test]
    fn exact_distribution_known_values() {
        // m = n = 3: 20 arrangements, P(U=0) = 1/20.
        let d = exact_u_distribution(3, 3);
        assert_eq!(d.len(), 10);
        assert!((d[0] - 0.05).abs() < 1e-12);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((min_exact_p(3, 3) - 0.1).abs() < 1e-12);
        // Fully separated 5 vs 5: p = 2/252.
        let p = mann_whitney_p(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!((p - 2.0 / 252.0).abs() < 1e-12);
        // Interleaved: not significant.
        let p = mann_whitney_p(&[1.0, 3.0, 5.0, 7.0, 9.0], &[2.0, 4.0, 6.0, 8.0, 10.0]);
        assert!(p > 0.5);
    }

    #[test]
    fn normal_approximation_with_ties() {
        let a = [1.0; 8];
        assert_eq!(mann_whitney_p(&a, &a), 1.0);
        let a: Vec<f64> = (0..40).map(|i| (i % 10) as f64).collect();
        let b: Vec<f64> = (0..40).map(|i| (i % 10) as f64 + 20.0).collect();
        assert!(mann_whitney_p(&a, &b) < 1e-6);
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(1.959_964 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-5);
    }
}
