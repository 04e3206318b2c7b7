//! Noise-aware comparison of two result documents (`benchfs-bench compare BASELINE CURRENT`),
//! the gate a CI job relies on.
//!
//! Tests are matched by their workload parameters ([`workload_key`]); for each phase the
//! bandwidth, IOPS and latency figures of *every iteration* of each side are compared, at the
//! coarser of the two sources' print resolutions ([`stats::Resolution`]): median, spread, the
//! change of the medians as a ratio, and a two-sided Mann-Whitney U test whose p-values are
//! corrected over all metrics of the comparison (Holm–Bonferroni). The threshold is symmetric
//! in log-ratio: a change is beyond a threshold of T % when the slow side is more than
//! (1 + T/100) times slower than the fast one, whichever direction is good, so a halving of
//! bandwidth and a doubling of latency weigh the same. A metric is a regression (or
//! improvement) only when beyond the threshold **and** significant; beyond the threshold but
//! not significant it is `inconclusive` (noise) or, when so few iterations could never be
//! significant, `insufficient` (with the iterations that would be needed).
//!
//! Owns the statistics and the verdict, and the text / markdown / JSON renderings of it
//! ([`render`]). It must not read files or decide the process exit status (that is
//! [`crate::harness::results_cli`]).

pub(crate) mod render;
pub(crate) mod stats;

use crate::results::document::ResultDocument;
pub use crate::results::samples::{
    ior_rows_by_workload as rows_by_workload, ior_workload_key as workload_key, Better,
};
use crate::results::samples::{samples, Sample};
use serde::Serialize;
pub use stats::{median, Resolution, SampleStats};

/// Default significance level (family-wise, over the metrics of one comparison).
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The verdict on one metric (or, for [`Comparison::verdict`], the whole comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse beyond the threshold, and significant.
    Regression,
    /// Better beyond the threshold, and significant.
    Improvement,
    /// Medians within the threshold.
    Unchanged,
    /// Beyond the threshold but not significant: noise.
    Inconclusive,
    /// Beyond the threshold, and too few iterations to ever be significant.
    Insufficient,
    /// (Whole comparison only.) The two sides have no workload in common.
    NoCommonWorkload,
}

impl Verdict {
    /// Name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Insufficient => "insufficient data",
            Verdict::NoCommonWorkload => "no workload in common",
        }
    }
}

/// One metric of one phase of one workload, compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// The workload ([`workload_key`]).
    pub workload: String,
    /// The phase: `write` or `read` (IOR), an operation (`File creation`, mdtest).
    pub phase: String,
    /// Metric name (`bw`, `iops`, `latency`, `lat_p50`, `lat_p99`).
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    /// Which direction is good.
    pub better: Better,
    /// The step both sides' values were rounded to before comparing (0: full precision).
    pub resolution: f64,
    /// Baseline iterations.
    pub baseline: SampleStats,
    /// Current iterations.
    pub current: SampleStats,
    /// `(median current - median baseline) / median baseline * 100`.
    pub change_pct: f64,
    /// How many times slower the current side is (below 1: faster): baseline / current for
    /// higher-is-better metrics, current / baseline for lower-is-better ones.
    pub slowdown: f64,
    /// Two-sided p-value of the Mann-Whitney U test (1 if it cannot be computed).
    pub p_value: f64,
    /// Smallest p-value these sample sizes can reach; above the corrected level no change can
    /// be called significant with so few iterations.
    pub min_p_value: f64,
    /// Whether the test rejects "no change" after the Holm–Bonferroni correction.
    pub significant: bool,
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
    /// Threshold in percent (of slowdown, symmetric in log-ratio).
    pub threshold_pct: f64,
    /// Family-wise significance level.
    pub alpha: f64,
    /// Every metric compared.
    pub metrics: Vec<MetricComparison>,
    /// Workloads present in both documents.
    pub common_workloads: usize,
    /// Workloads present only in the baseline.
    pub only_in_baseline: Vec<String>,
    /// Workloads present only in the current run.
    pub only_in_current: Vec<String>,
    /// Number of regressions.
    pub regressions: usize,
    /// Number of improvements.
    pub improvements: usize,
    /// Number of metrics beyond the threshold with too few iterations to decide.
    pub insufficient: usize,
    /// Iterations per side with which every metric could reach significance, when some could
    /// not (`-i` to run next time).
    pub iterations_needed: Option<usize>,
    /// `no_common_workload` when nothing could be compared; else `regression` if any metric
    /// regressed, `improvement` if any improved, `insufficient` if any lacked iterations,
    /// `inconclusive` if any was noise, and `unchanged` otherwise.
    pub verdict: Verdict,
}

fn source_name(doc: &ResultDocument) -> String {
    doc.source
        .as_ref()
        .map(|s| s.format.clone())
        .unwrap_or_else(|| "benchfs".to_string())
}

/// How finely the figures of `doc` were recorded: full precision for benchfs-bench's own
/// documents, IOR's print formats for imported runs.
pub fn resolution_of(doc: &ResultDocument) -> Resolution {
    match doc.source.as_ref().map(|s| s.format.as_str()) {
        Some("ior-text") => Resolution::PpDouble,
        Some("ior-json") | Some("ior-csv") => Resolution::Fixed(1e-4),
        // mdtest prints `%14.3f`.
        Some("mdtest-text") => Resolution::Fixed(1e-3),
        _ => Resolution::Exact,
    }
}

/// One metric's samples before the verdict: what [`compare`] collects per workload, phase
/// and metric.
struct Samples<'a> {
    workload: &'a str,
    phase: &'a str,
    name: &'static str,
    unit: &'static str,
    better: Better,
    base: Vec<f64>,
    cur: Vec<f64>,
}

/// Compares `current` with `baseline` (labels are used in the output only). `threshold_pct`
/// is the smallest slowdown (or speed-up) that counts, in percent; `alpha` the family-wise
/// significance level.
pub fn compare(
    baseline: &ResultDocument,
    baseline_label: &str,
    current: &ResultDocument,
    current_label: &str,
    threshold_pct: f64,
    alpha: f64,
) -> Comparison {
    let base = samples(baseline);
    let cur = samples(current);
    let (res_b, res_c) = (resolution_of(baseline), resolution_of(current));
    let mut found = Vec::new();
    for b in &base {
        let Some(c) = cur.iter().find(|c| {
            c.workload == b.workload && c.phase == b.phase && c.metric.name == b.metric.name
        }) else {
            continue;
        };
        // Both sides at the coarser of their resolutions at this magnitude.
        let step = res_b
            .step_at(median(&b.values))
            .max(res_c.step_at(median(&c.values)));
        found.push((
            step,
            Samples {
                workload: &b.workload,
                phase: &b.phase,
                name: b.metric.name,
                unit: b.metric.unit,
                better: b.metric.better,
                base: stats::quantize(&b.values, step),
                cur: stats::quantize(&c.values, step),
            },
        ));
    }
    let samples = found;
    let p: Vec<f64> = samples
        .iter()
        .map(|(_, s)| stats::mann_whitney_p(&s.base, &s.cur))
        .collect();
    let significant = stats::holm_rejections(&p, alpha);
    // The most demanding level of the correction: what the smallest p-value must beat.
    let strictest = alpha / samples.len().max(1) as f64;
    let metrics: Vec<MetricComparison> = samples
        .iter()
        .zip(p.iter().zip(&significant))
        .map(|((step, s), (&p, &sig))| judge(s, *step, p, sig, strictest, threshold_pct))
        .collect();

    let workloads = |v: &[Sample]| -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        for s in v {
            if !w.contains(&s.workload) {
                w.push(s.workload.clone());
            }
        }
        w
    };
    let (base_w, cur_w) = (workloads(&base), workloads(&cur));
    let only_in_baseline: Vec<String> = base_w
        .iter()
        .filter(|k| !cur_w.contains(k))
        .cloned()
        .collect();
    let only_in_current: Vec<String> = cur_w
        .iter()
        .filter(|k| !base_w.contains(k))
        .cloned()
        .collect();
    let common_workloads = base_w.len() - only_in_baseline.len();
    let count = |v: Verdict| metrics.iter().filter(|m| m.verdict == v).count();
    let (regressions, improvements) = (count(Verdict::Regression), count(Verdict::Improvement));
    let insufficient = count(Verdict::Insufficient);
    let verdict = if common_workloads == 0 || metrics.is_empty() {
        Verdict::NoCommonWorkload
    } else if regressions > 0 {
        Verdict::Regression
    } else if improvements > 0 {
        Verdict::Improvement
    } else if insufficient > 0 {
        Verdict::Insufficient
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
        common_workloads,
        iterations_needed: (insufficient > 0)
            .then(|| stats::iterations_needed(strictest))
            .flatten(),
        metrics,
        only_in_baseline,
        only_in_current,
        regressions,
        improvements,
        insufficient,
        verdict,
    }
}

/// The verdict on one metric's samples, whose p-value is `p` (`significant` after the
/// correction).
fn judge(
    s: &Samples<'_>,
    step: f64,
    p: f64,
    significant: bool,
    strictest: f64,
    threshold_pct: f64,
) -> MetricComparison {
    let baseline = SampleStats::of(&s.base);
    let current = SampleStats::of(&s.cur);
    let (b, c) = (baseline.median, current.median);
    let change_pct = if b != 0.0 {
        (c - b) / b.abs() * 100.0
    } else if c == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(c)
    };
    let slowdown = match (b == 0.0, c == 0.0) {
        (true, true) => 1.0,
        _ => match s.better {
            Better::Higher => b / c,
            Better::Lower => c / b,
        },
    };
    let bound = (1.0 + threshold_pct / 100.0).ln();
    // NaN (0 against 0 is handled above) counts as beyond.
    let beyond = slowdown.ln().abs().partial_cmp(&bound) != Some(std::cmp::Ordering::Less)
        && slowdown.ln().abs() != bound;
    let min_p_value = stats::min_p(s.base.len(), s.cur.len());
    let verdict = if !beyond {
        Verdict::Unchanged
    } else if significant {
        if slowdown > 1.0 {
            Verdict::Regression
        } else {
            Verdict::Improvement
        }
    } else if min_p_value >= strictest {
        Verdict::Insufficient
    } else {
        Verdict::Inconclusive
    };
    MetricComparison {
        workload: s.workload.to_string(),
        phase: s.phase.to_string(),
        metric: s.name.to_string(),
        unit: s.unit.to_string(),
        better: s.better,
        resolution: step,
        baseline,
        current,
        change_pct,
        slowdown,
        p_value: p,
        min_p_value,
        significant,
        verdict,
    }
}
