//! The axes of the plots: linear (plotters' own ticks) or logarithmic with readable ticks —
//! 1-2-5 (or finer, or coarser) steps per decade, as many as fit, so that a range of less
//! than a decade still shows several labelled values (plotters' own log axis labels only
//! powers of ten there). And the positions of run labels along a run axis, thinned to a step
//! of 1, 2, 5, 10... runs so that they fit.
//!
//! Owns tick placement only; drawing is [`super::draw`]'s.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// An axis from `lo` to `hi`, linear or log-scaled.
#[derive(Debug, Clone, Copy)]
pub(super) struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    /// A linear axis over `lo..hi`.
    pub(super) fn linear(lo: f64, hi: f64) -> Self {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        Axis { lo, hi, log: false }
    }

    /// A log-scaled axis over `lo..hi` (a non-positive or inverted range becomes a valid one).
    pub(super) fn log(lo: f64, hi: f64) -> Self {
        let lo = if lo > 0.0 && lo.is_finite() { lo } else { 1e-9 };
        let hi = if hi > lo && hi.is_finite() {
            hi
        } else {
            lo * 10.0
        };
        Axis { lo, hi, log: true }
    }

    /// [`Axis::log`] when `log`, else [`Axis::linear`].
    pub(super) fn new(lo: f64, hi: f64, log: bool) -> Self {
        if log {
            Self::log(lo, hi)
        } else {
            Self::linear(lo, hi)
        }
    }
}

/// Mantissas per decade, finest first.
const STEPS: [&[f64]; 5] = [
    &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    &[1.0, 2.0, 3.0, 5.0, 7.0],
    &[1.0, 2.0, 5.0],
    &[1.0, 3.0],
    &[1.0],
];

/// Ticks of `lo..hi`: the finest mantissa set (then every k-th decade) with at most `max`.
pub(super) fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let max = max.max(1);
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let within = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (first..=last)
            .filter(|d| (d - first) % every == 0)
            .flat_map(|d| mantissas.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    for m in STEPS {
        let t = within(m, 1);
        if t.len() <= max {
            return t;
        }
    }
    for every in [2, 3, 5, 10, 20, 50, 100] {
        let t = within(&[1.0], every);
        if t.len() <= max {
            return t;
        }
    }
    vec![lo, hi]
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        if !self.log {
            return RangedCoordf64::from(self.lo..self.hi).map(value, limit);
        }
        let v = value.max(self.lo * 1e-6);
        let f = (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln());
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if self.log {
            log_ticks(self.lo, self.hi, hint.max_num_points())
        } else {
            RangedCoordf64::from(self.lo..self.hi).key_points(hint)
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The run positions (0-based) to label on an axis of `n` runs with room for `budget`
/// labels: every `step`-th run, `step` the smallest of 1, 2, 5, 10, 20, 50... that fits.
pub(super) fn run_ticks(n: usize, budget: usize) -> Vec<usize> {
    let budget = budget.max(1);
    let mut step = 1;
    let mut k = 0;
    while n.div_ceil(step) > budget {
        k += 1;
        step = [1, 2, 5][k % 3] * 10usize.pow((k / 3) as u32);
    }
    (0..n).step_by(step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_fill_short_and_long_ranges() {
        // Less than a decade: several labelled values, not just 1000.
        let t = log_ticks(300.0, 2500.0, 8);
        assert!(t.len() >= 4 && t.len() <= 8, "{t:?}");
        assert!(t.contains(&1000.0) && t.contains(&500.0));
        // Many decades: powers of ten, thinned.
        let t = log_ticks(1e-3, 1e9, 6);
        assert!(t.len() <= 6 && t.len() >= 3, "{t:?}");
        assert!(t
            .iter()
            .all(|v| (v.log10() - v.log10().round()).abs() < 1e-9));
        let a = Axis::log(1.0, 100.0);
        assert_eq!(a.map(&1.0, (0, 100)), 0);
        assert_eq!(a.map(&10.0, (0, 100)), 50);
        assert_eq!(a.map(&100.0, (0, 100)), 100);
        assert_eq!(Axis::linear(0.0, 10.0).map(&5.0, (0, 100)), 50);
    }

    #[test]
    fn run_ticks_never_exceed_the_budget() {
        assert_eq!(run_ticks(5, 40), vec![0, 1, 2, 3, 4]);
        assert_eq!(run_ticks(10, 5), vec![0, 2, 4, 6, 8]);
        for n in [1, 7, 44, 45, 99, 1000, 12345] {
            let t = run_ticks(n, 38);
            assert!(t.len() <= 38 && !t.is_empty(), "{n}: {}", t.len());
        }
    }
}
