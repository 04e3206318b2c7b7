//! Fixed-interval time series of one task's transfers (beyond IOR: what fio's bandwidth and
//! IOPS logs and elbencho's live CSV give), and the live counts a progress display reads.
//!
//! Owns [`IntervalRecorder`] (bytes and operations per interval, counted inside the transfer
//! loop on the cycle-counter clock: per transfer one comparison and two additions on the
//! task's own memory, no lock, no atomic read-modify-write, no system call), [`LiveCounts`]
//! (the task's running totals, published by the recorder at most every
//! [`PUBLISH_EVERY`] so that a display thread can sample them without touching the loop), the
//! re-binning of a task's series onto a phase's common origin ([`align`]) and the document
//! form of a phase's series ([`TimeSeries`]). A leaf for the engines: it knows no engine,
//! option, communicator or output format.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The default interval of a phase's time series (`--interval`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// Shortest interval accepted: below it a series costs more memory than it tells.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// What [`parse_interval`] accepts, for error messages.
pub const INTERVAL_EXPECTED: &str =
    "expected a duration from 1ms to 1 day, e.g. 100ms, 0.5s or 2 (seconds)";

/// An interval as the command lines give it (`--interval`): `100ms`, `0.5s`, `250us` or
/// plain seconds (`2`, `0.1`), from [`MIN_INTERVAL`] to a day; seconds, or `None`.
pub fn parse_interval(s: &str) -> Option<f64> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let min = MIN_INTERVAL.as_secs_f64();
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v * scale >= min - 1e-12 && v * scale <= 86_400.0 => {
            Some(v * scale)
        }
        _ => None,
    }
}

/// How often the recorder publishes its running totals to [`LiveCounts`] (also when the
/// interval is longer).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// A task's running totals of the current phase, for a display sampling them from another
/// thread. Padded to its own cache lines so that tasks never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct LiveCounts {
    bytes: AtomicU64,
    ops: AtomicU64,
}

impl LiveCounts {
    /// Bytes and operations published so far.
    pub fn load(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.ops.load(Ordering::Relaxed),
        )
    }

    /// Sets the totals (one writer: the task's recorder).
    pub fn store(&self, bytes: u64, ops: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.ops.store(ops, Ordering::Relaxed);
    }
}

/// One task's series of one phase: bytes and operations per interval from the task's own
/// origin (its open start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSeries {
    /// Bytes completed in each interval.
    pub bytes: Vec<u64>,
    /// Operations (transfers) completed in each interval.
    pub ops: Vec<u64>,
}

impl TaskSeries {
    /// Little-endian words: the length, the bytes, the operations.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 16 * self.bytes.len());
        v.extend_from_slice(&(self.bytes.len() as u64).to_le_bytes());
        for w in self.bytes.iter().chain(&self.ops) {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    /// The inverse of [`TaskSeries::encode`]; `None` if `b` is not one.
    pub fn decode(b: &[u8]) -> Option<TaskSeries> {
        let words: Vec<u64> = b
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect();
        let (&n, rest) = words.split_first()?;
        let n = usize::try_from(n).ok()?;
        if !b.len().is_multiple_of(8) || rest.len() != n.checked_mul(2)? {
            return None;
        }
        Some(TaskSeries {
            bytes: rest[..n].to_vec(),
            ops: rest[n..].to_vec(),
        })
    }
}

/// Counts a task's transfers into fixed intervals from an origin, on the cycle-counter clock
/// (raw readings, as the transfer loops take them).
#[derive(Debug)]
pub struct IntervalRecorder {
    clock: &'static quanta::Clock,
    /// Raw reading of the origin.
    origin: u64,
    /// Raw ticks per interval (at least 1).
    ticks: u64,
    /// Raw ticks between publications of the live counts.
    publish_ticks: u64,
    /// The next raw reading at which [`IntervalRecorder::add`] leaves its fast path.
    next_edge: u64,
    /// The raw reading at which the current interval ends.
    interval_end: u64,
    /// Bytes and operations of the current (open) interval, whose index is `bytes.len()`.
    cur_bytes: u64,
    cur_ops: u64,
    /// Sums of the closed intervals.
    closed_bytes: u64,
    closed_ops: u64,
    bytes: Vec<u64>,
    ops: Vec<u64>,
    live: Option<Arc<LiveCounts>>,
}

/// Raw ticks of `clock` in `d` (linear in the clock's calibration).
fn ticks_of(clock: &quanta::Clock, d: Duration) -> u64 {
    const PROBE: u64 = 1 << 32;
    let ns_per_probe = u128::from(clock.delta_as_nanos(0, PROBE).max(1));
    let t = d.as_nanos().saturating_mul(u128::from(PROBE)) / ns_per_probe;
    u64::try_from(t).unwrap_or(u64::MAX).max(1)
}

impl IntervalRecorder {
    /// A recorder of `interval`-long intervals whose origin is now; it publishes its totals
    /// to `live`, if given.
    pub fn start(interval: Duration, live: Option<Arc<LiveCounts>>) -> IntervalRecorder {
        let clock = crate::measure::machine::fast_clock();
        Self::start_at(clock, clock.raw(), interval, live)
    }

    /// [`IntervalRecorder::start`] with the origin at raw reading `origin` of `clock`.
    pub fn start_at(
        clock: &'static quanta::Clock,
        origin: u64,
        interval: Duration,
        live: Option<Arc<LiveCounts>>,
    ) -> IntervalRecorder {
        let ticks = ticks_of(clock, interval.max(MIN_INTERVAL));
        let publish_ticks = ticks_of(clock, PUBLISH_EVERY);
        if let Some(l) = &live {
            l.store(0, 0);
        }
        let interval_end = origin.saturating_add(ticks);
        IntervalRecorder {
            clock,
            origin,
            ticks,
            publish_ticks,
            next_edge: if live.is_some() {
                interval_end.min(origin.saturating_add(publish_ticks))
            } else {
                interval_end
            },
            interval_end,
            cur_bytes: 0,
            cur_ops: 0,
            closed_bytes: 0,
            closed_ops: 0,
            bytes: Vec::new(),
            ops: Vec::new(),
            live,
        }
    }

    /// The clock whose raw readings [`IntervalRecorder::add`] takes.
    pub fn clock(&self) -> &'static quanta::Clock {
        self.clock
    }

    /// Counts one operation of `bytes` completed at raw reading `now`.
    #[inline(always)]
    pub fn add(&mut self, now: u64, bytes: u64) {
        if now >= self.next_edge {
            self.cross(now);
        }
        self.cur_bytes += bytes;
        self.cur_ops += 1;
    }

    /// The slow path of [`IntervalRecorder::add`]: closes the intervals that ended before
    /// `now` and publishes the totals.
    #[cold]
    #[inline(never)]
    fn cross(&mut self, now: u64) {
        if now >= self.interval_end {
            let index = (now.saturating_sub(self.origin) / self.ticks) as usize;
            self.close_until(index);
            self.interval_end = self
                .origin
                .saturating_add((index as u64 + 1).saturating_mul(self.ticks));
        }
        self.next_edge = self.interval_end;
        if let Some(l) = &self.live {
            l.store(
                self.closed_bytes + self.cur_bytes,
                self.closed_ops + self.cur_ops,
            );
            self.next_edge = self.next_edge.min(now.saturating_add(self.publish_ticks));
        }
    }

    /// Closes the open interval and the empty ones after it, up to (not including) `index`.
    fn close_until(&mut self, index: usize) {
        if index <= self.bytes.len() {
            return;
        }
        self.bytes.push(self.cur_bytes);
        self.ops.push(self.cur_ops);
        self.closed_bytes += self.cur_bytes;
        self.closed_ops += self.cur_ops;
        self.cur_bytes = 0;
        self.cur_ops = 0;
        self.bytes.resize(index, 0);
        self.ops.resize(index, 0);
    }

    /// Ends the series at raw reading `end` (the task's phase end): every interval up to the
    /// one holding `end`, and the final totals published.
    pub fn finish_at(mut self, end: u64) -> TaskSeries {
        let index = (end.saturating_sub(self.origin) / self.ticks) as usize;
        self.close_until(index.max(self.bytes.len()));
        self.close_until(self.bytes.len() + 1);
        if let Some(l) = &self.live {
            l.store(self.closed_bytes, self.closed_ops);
        }
        TaskSeries {
            bytes: self.bytes,
            ops: self.ops,
        }
    }

    /// [`IntervalRecorder::finish_at`] now.
    pub fn finish(self) -> TaskSeries {
        let now = self.clock.raw();
        self.finish_at(now)
    }
}

/// Moves a series whose origin lies `shift_s` seconds after the common origin onto the
/// common grid of `interval_s`-long intervals, `len` of them: each interval's count is split
/// between the two common intervals it overlaps, in proportion to the overlap (so sums are
/// kept exactly); counts beyond the grid go to its last interval.
pub fn align(values: &[u64], shift_s: f64, interval_s: f64, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len.max(1)];
    let last = out.len() - 1;
    let shift = if shift_s.is_finite() && shift_s > 0.0 && interval_s > 0.0 {
        shift_s / interval_s
    } else {
        0.0
    };
    let whole = shift.floor();
    let frac = shift - whole;
    let base = whole as usize;
    for (k, &v) in values.iter().enumerate() {
        if v == 0 {
            continue;
        }
        let j = base.saturating_add(k);
        let into_next = ((v as f64) * frac).round() as u64;
        let into_next = into_next.min(v);
        out[j.min(last)] += v - into_next;
        out[j.saturating_add(1).min(last)] += into_next;
    }
    out
}

/// Sum of series of equal length, interval by interval.
pub fn sum(series: &[Vec<u64>], len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for s in series {
        for (o, v) in out.iter_mut().zip(s) {
            *o += v;
        }
    }
    out
}

/// The document form of a phase's time series (`time_series` of a phase entry): interval
/// `i` covers `[i, i + 1) * interval_s` seconds after the phase start (the earliest open
/// start of any task, [`TimeSeries::ORIGIN`]); the last interval ends with the phase and may
/// be shorter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Interval length, seconds.
    pub interval_s: f64,
    /// What t = 0 is: always [`TimeSeries::ORIGIN`].
    pub origin: String,
    /// Bytes per interval, summed over tasks (absent for metadata phases that move no data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<u64>>,
    /// Operations per interval, summed over tasks.
    pub ops: Vec<u64>,
    /// Bytes per interval of each task, by rank, when `bytes` is present; else operations
    /// per interval of each task (metadata phases that move no data).
    #[serde(default)]
    pub per_rank: Vec<Vec<u64>>,
}

impl TimeSeries {
    /// The origin of every series: the phase start.
    pub const ORIGIN: &'static str = "phase_start";

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the series has no interval.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// How long interval `i` is, seconds, in a phase of `total_s` seconds (the last one may
    /// be shorter).
    pub fn width(&self, i: usize, total_s: f64) -> f64 {
        let start = i as f64 * self.interval_s;
        let w = (total_s - start).min(self.interval_s);
        if w > 0.0 {
            w
        } else {
            self.interval_s
        }
    }
}

/// Intervals of `interval_s` needed to cover `span_s` seconds (at least 1).
pub fn intervals_for(span_s: f64, interval_s: f64) -> usize {
    if !(span_s.is_finite() && interval_s > 0.0) || span_s <= 0.0 {
        return 1;
    }
    // A hair below a whole number of intervals is that number (float noise in the times).
    let n = span_s / interval_s;
    ((n - 1e-9).ceil() as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(interval_ns: u64) -> (IntervalRecorder, u64) {
        let clock = crate::measure::machine::fast_clock();
        let ticks = ticks_of(clock, Duration::from_nanos(interval_ns));
        (
            IntervalRecorder::start_at(clock, 1_000, Duration::from_nanos(interval_ns), None),
            ticks,
        )
    }

    #[test]
    fn transfers_land_in_the_interval_of_their_completion() {
        let (mut r, t) = recorder(5_000_000);
        let o = 1_000;
        r.add(o + 1, 10);
        r.add(o + t - 1, 20);
        // Interval 1 empty, interval 2 gets two, interval 3 one.
        r.add(o + 2 * t, 5);
        r.add(o + 2 * t + t / 2, 5);
        r.add(o + 3 * t + 1, 7);
        let s = r.finish_at(o + 4 * t + 3);
        assert_eq!(s.bytes, vec![30, 0, 10, 7, 0]);
        assert_eq!(s.ops, vec![2, 0, 2, 1, 0]);
    }

    #[test]
    fn a_series_ends_with_the_interval_of_its_end() {
        let (r, t) = recorder(5_000_000);
        assert_eq!(r.finish_at(1_000 + t / 2).bytes, vec![0]);
        let (mut r, t) = recorder(5_000_000);
        r.add(1_000 + t / 2, 1);
        assert_eq!(r.finish_at(1_000 + 2 * t + 1).ops, vec![1, 0, 0]);
    }

    #[test]
    fn live_counts_follow_the_recorder() {
        let live = Arc::new(LiveCounts::default());
        let clock = crate::measure::machine::fast_clock();
        let t = ticks_of(clock, PUBLISH_EVERY);
        let mut r =
            IntervalRecorder::start_at(clock, 0, Duration::from_secs(10), Some(live.clone()));
        r.add(1, 100);
        r.add(2, 100);
        assert_eq!(live.load(), (0, 0), "nothing published before an edge");
        // Past the publication edge (well inside the 10 s interval): what came before.
        r.add(t + 3, 50);
        assert_eq!(live.load(), (200, 2));
        let s = r.finish_at(t + 4);
        assert_eq!(live.load(), (250, 3));
        assert_eq!(s.bytes, vec![250]);
    }

    #[test]
    fn alignment_keeps_sums_and_splits_by_overlap() {
        let v = [100, 0, 40];
        // No shift: unchanged, padded.
        assert_eq!(align(&v, 0.0, 0.1, 4), vec![100, 0, 40, 0]);
        // A quarter interval later: a quarter of each count moves to the next interval.
        assert_eq!(align(&v, 0.025, 0.1, 4), vec![75, 25, 30, 10]);
        // One and a half intervals later, the grid cut short: the rest lands in the last.
        let a = align(&v, 0.15, 0.1, 4);
        assert_eq!(a, vec![0, 50, 50, 40]);
        assert_eq!(a.iter().sum::<u64>(), 140);
        assert_eq!(sum(&[vec![1, 2], vec![3, 4]], 2), vec![4, 6]);
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let s = TaskSeries {
            bytes: vec![1, 2, 3],
            ops: vec![4, 5, 6],
        };
        assert_eq!(TaskSeries::decode(&s.encode()), Some(s));
        assert_eq!(TaskSeries::decode(&[1, 2, 3]), None);
        assert_eq!(TaskSeries::decode(&5u64.to_le_bytes()), None);
    }

    #[test]
    fn intervals_cover_the_span() {
        assert_eq!(intervals_for(0.35, 0.1), 4);
        assert_eq!(intervals_for(0.3, 0.1), 3);
        assert_eq!(intervals_for(0.0, 0.1), 1);
        let ts = TimeSeries {
            interval_s: 0.1,
            origin: TimeSeries::ORIGIN.into(),
            bytes: Some(vec![1, 2, 3, 4]),
            ops: vec![1, 1, 1, 1],
            per_rank: vec![],
        };
        assert!((ts.width(3, 0.35) - 0.05).abs() < 1e-12);
        assert!((ts.width(0, 0.35) - 0.1).abs() < 1e-12);
    }
}
