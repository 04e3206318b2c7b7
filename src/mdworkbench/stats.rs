//! md-workbench's latency figures: the samples of one operation kind (start since the phase
//! began and runtime, both as C `float`s, as md-workbench keeps them), their quantiles
//! (`compute_histogram`: sorted, `round(q * (n - 1) + 0.49)`, the median of an even count the
//! mean of the two middle samples), the latency CSV files (`-L`), the samples' wire form for
//! gathering them on rank 0, and the per-rank figures the phase line derives (min, mean,
//! balance, standard deviation of the ranks' phase times).
//!
//! Pure computation and one file writer; it must not time anything or talk to other ranks.

use serde::{Deserialize, Serialize};

/// One timed operation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// When it started, seconds since the phase's start (md-workbench's `time_since_app_start`).
    pub since_start: f32,
    /// How long it took, seconds.
    pub runtime: f32,
}

/// The latency quantiles of one operation kind (`time_statistics_t`), seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TimeStats {
    /// Fastest.
    pub min: f32,
    /// First quartile.
    pub q1: f32,
    /// Median.
    pub median: f32,
    /// Third quartile.
    pub q3: f32,
    /// 90th percentile.
    pub q90: f32,
    /// 99th percentile.
    pub q99: f32,
    /// Slowest.
    pub max: f32,
}

impl TimeStats {
    /// The seven figures in md-workbench's order.
    pub fn values(&self) -> [f32; 7] {
        [
            self.min,
            self.q1,
            self.median,
            self.q3,
            self.q90,
            self.q99,
            self.max,
        ]
    }
}

/// `runtime_quantile`: the sample at `round(q * (n - 1) + 0.49)` of the sorted samples.
fn quantile(sorted: &[Sample], q: f32) -> f32 {
    let n = sorted.len();
    let pos = (f64::from(q) * (n as f64 - 1.0) + 0.49).round() as usize;
    sorted[pos.min(n - 1)].runtime
}

/// Sorts `samples` by runtime and returns their quantiles (all zero without samples).
pub fn compute(samples: &mut [Sample]) -> TimeStats {
    let n = samples.len();
    if n == 0 {
        return TimeStats::default();
    }
    samples.sort_by(|a, b| a.runtime.total_cmp(&b.runtime));
    let median = if n.is_multiple_of(2) {
        ((f64::from(samples[n / 2].runtime) + f64::from(samples[n / 2 - 1].runtime)) / 2.0) as f32
    } else {
        samples[n / 2].runtime
    };
    TimeStats {
        min: samples[0].runtime,
        q1: quantile(samples, 0.25),
        median,
        q3: quantile(samples, 0.75),
        q90: quantile(samples, 0.90),
        q99: quantile(samples, 0.99),
        max: samples[n - 1].runtime,
    }
}

/// The latency file of `-L PREFIX`: `PREFIX-<waiting factor %.2f>-<iteration>-<name>.csv` with
/// `time,runtime` and one `%.7f,%.4e` line per sample, in the order taken.
pub fn write_latency_file(
    prefix: &str,
    waiting_factor: f32,
    iteration: i32,
    name: &str,
    samples: &[Sample],
) -> std::io::Result<String> {
    let path = format!(
        "{prefix}-{:.2}-{iteration}-{name}.csv",
        f64::from(waiting_factor)
    );
    let mut text = String::with_capacity(24 * samples.len() + 16);
    text.push_str("time,runtime\n");
    for s in samples {
        text.push_str(&format!(
            "{:.7},{}\n",
            f64::from(s.since_start),
            crate::units::sci(f64::from(s.runtime), 4)
        ));
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Samples as bytes (little-endian `f32` pairs), to gather them on rank 0.
pub fn to_bytes(samples: &[Sample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 8);
    for s in samples {
        out.extend_from_slice(&s.since_start.to_le_bytes());
        out.extend_from_slice(&s.runtime.to_le_bytes());
    }
    out
}

/// The samples of [`to_bytes`] (a trailing partial pair is ignored).
pub fn from_bytes(bytes: &[u8]) -> Vec<Sample> {
    bytes
        .chunks_exact(8)
        .map(|c| Sample {
            since_start: f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            runtime: f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// What the phase line says of the ranks' phase times: min, mean, balance (min/max in %),
/// standard deviation (sample, `n - 1`; NaN for one rank, as md-workbench's 0/0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Shortest rank time.
    pub min: f64,
    /// Longest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std_dev: f64,
}

impl Spread {
    /// The spread of `times` (one per rank).
    pub fn of(times: &[f64]) -> Spread {
        let n = times.len() as f64;
        let mean = times.iter().sum::<f64>() / n;
        let var = times.iter().map(|t| (mean - t) * (mean - t)).sum::<f64>() / (n - 1.0);
        Spread {
            min: times.iter().copied().fold(1e308, f64::min),
            max: times.iter().copied().fold(0.0, f64::max),
            mean,
            // One rank: md-workbench's 0/0, which glibc prints as `-nan`.
            std_dev: if times.len() < 2 {
                -f64::NAN
            } else {
                var.sqrt()
            },
        }
    }

    /// `min / max * 100`.
    pub fn balance(&self) -> f64 {
        self.min / self.max * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rts: &[f32]) -> Vec<Sample> {
        rts.iter()
            .enumerate()
            .map(|(i, &r)| Sample {
                since_start: i as f32,
                runtime: r,
            })
            .collect()
    }

    #[test]
    fn quantiles_as_md_workbench_picks_them() {
        // 10 samples 1..10: q1 at round(2.25 + .49) = 3 -> 4, median (5 + 6) / 2,
        // q3 at round(6.75 + .49) = 7 -> 8, q90 round(8.1 + .49) = 9 -> 10.
        let mut s = samples(&[10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        let t = compute(&mut s);
        assert_eq!(t.values(), [1.0, 4.0, 5.5, 8.0, 10.0, 10.0, 10.0]);
        let mut one = samples(&[0.5]);
        assert_eq!(compute(&mut one).values(), [0.5; 7]);
        assert_eq!(compute(&mut []), TimeStats::default());
        let mut odd = samples(&[3.0, 1.0, 2.0]);
        let t = compute(&mut odd);
        assert_eq!((t.q1, t.median, t.q3), (2.0, 2.0, 3.0));
    }

    #[test]
    fn wire_form_and_spread() {
        let s = samples(&[1.5, 2.25]);
        assert_eq!(from_bytes(&to_bytes(&s)), s);
        let sp = Spread::of(&[1.0, 3.0]);
        assert_eq!((sp.min, sp.max, sp.mean), (1.0, 3.0, 2.0));
        assert!((sp.std_dev - 2f64.sqrt()).abs() < 1e-12);
        assert!((sp.balance() - 100.0 / 3.0).abs() < 1e-12);
        assert!(Spread::of(&[2.0]).std_dev.is_nan());
    }

    #[test]
    fn latency_file_layout() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("lat").display().to_string();
        let path = write_latency_file(&prefix, 0.0, 1, "read", &samples(&[1.5e-5])).unwrap();
        assert!(path.ends_with("lat-0.00-1-read.csv"));
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "time,runtime\n0.0000000,1.5000e-05\n"
        );
    }
}
