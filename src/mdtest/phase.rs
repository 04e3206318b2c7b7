//! The timed loop of one rank over the items of a phase: operations one after the other as
//! mdtest does, or up to `--iodepth N` of them in flight (beyond mdtest), with each
//! operation's latency recorded, the stonewall of the create phase (`-W`) checked after each
//! one, the per-operation samples of `--savePerOpDataCSV` kept, and the operations (and
//! bytes, with `-w`/`-e`) counted per `--interval` into the phase's time series (per
//! operation one comparison and two additions, as in IOR's transfer loop).
//!
//! Owns the loop and its clocks; what an operation does is the caller's closure
//! ([`crate::mdtest::ops`]), the sequencing of phases [`crate::mdtest::engine`].

use crate::mdtest::validate::MdtestError;
use crate::measure::latency::LatencyRecorder;
use crate::measure::series::{IntervalRecorder, TaskSeries};
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::time::Duration;

/// A reading of the operation clock (cycle counter where stable).
pub type Tick = quanta::Instant;

/// Now on the operation clock.
#[inline]
pub fn now() -> Tick {
    crate::measure::machine::fast_clock().now()
}

/// The stonewall of a phase: the deadline after which no new operation starts.
#[derive(Debug, Clone, Copy)]
pub struct Wall {
    deadline: Option<Tick>,
}

impl Wall {
    /// No stonewall.
    pub fn none() -> Wall {
        Wall { deadline: None }
    }

    /// A wall `seconds` after `start`; none for 0.
    pub fn after(start: Tick, seconds: i32) -> Wall {
        if seconds <= 0 {
            return Wall::none();
        }
        Wall {
            deadline: Some(start + Duration::from_secs(seconds as u64)),
        }
    }

    fn hit(&self, now: Tick) -> bool {
        self.deadline.is_some_and(|d| now > d)
    }
}

fn ns(a: Tick, b: Tick) -> u64 {
    u64::try_from(b.saturating_duration_since(a).as_nanos()).unwrap_or(u64::MAX)
}

/// What one rank records in a phase.
pub struct Recorder {
    /// Latencies of the operations, nanoseconds.
    pub latency: LatencyRecorder,
    /// `(start since phase start, duration)` of each operation in seconds, when
    /// `--savePerOpDataCSV` asks for them.
    pub samples: Option<Vec<(f64, f64)>>,
    /// Operations that failed.
    pub errors: u64,
    start: Tick,
    /// Operations (and bytes) per interval since the phase start.
    series: IntervalRecorder,
    interval: Duration,
    /// Bytes an operation moves (`-w` for creates, `-e` for reads; 0 for the others).
    bytes_per_op: u64,
}

impl Recorder {
    /// A recorder for a phase starting now; `samples` keeps every operation's timing; the
    /// time series has intervals of `interval`, each operation moving `bytes_per_op`.
    pub fn new(
        latency: LatencyRecorder,
        samples: bool,
        interval: Duration,
        bytes_per_op: u64,
    ) -> Recorder {
        Recorder {
            latency,
            samples: samples.then(Vec::new),
            errors: 0,
            start: now(),
            series: IntervalRecorder::start(interval, None),
            interval,
            bytes_per_op,
        }
    }

    /// Restarts the phase clock and the time series (the phase's own start, after its
    /// barrier).
    pub fn restart(&mut self) {
        self.start = now();
        self.series = IntervalRecorder::start(self.interval, None);
    }

    /// Ends the time series now (the phase's end): operations and bytes per interval.
    pub fn series(&mut self) -> TaskSeries {
        let ended = IntervalRecorder::start(self.interval, None);
        std::mem::replace(&mut self.series, ended).finish()
    }

    #[inline]
    fn record(&mut self, t0: Tick, raw1: u64, t1: Tick, ok: bool) {
        let d = ns(t0, t1);
        self.series.add(raw1, self.bytes_per_op);
        self.latency.record(d);
        if let Some(s) = &mut self.samples {
            s.push((ns(self.start, t0) as f64 * 1e-9, d as f64 * 1e-9));
        }
        if !ok {
            self.errors += 1;
        }
    }
}

/// What one operation returned: `Ok(true)` done, `Ok(false)` failed and warned (the loop goes
/// on, as mdtest does), `Err` ends the run (`--warningAsErrors`).
pub type OpResult = Result<bool, MdtestError>;

/// Runs `op(i)` for every `i` of `items` with at most `depth` in flight, recording each
/// operation in `rec`; stops starting new ones once `wall` is hit. Returns how many ran.
pub async fn for_each<I, F, Fut>(
    items: I,
    depth: usize,
    wall: Wall,
    rec: &mut Recorder,
    mut op: F,
) -> Result<u64, MdtestError>
where
    I: IntoIterator<Item = u64>,
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = OpResult>,
{
    let mut done = 0u64;
    let mut items = items.into_iter();
    let clock = crate::measure::machine::fast_clock();
    if depth <= 1 {
        for i in items.by_ref() {
            let t0 = now();
            let ok = op(i).await?;
            let raw1 = clock.raw();
            let t1 = clock.scaled(raw1);
            rec.record(t0, raw1, t1, ok);
            done += 1;
            if wall.hit(t1) {
                break;
            }
        }
        return Ok(done);
    }
    let mut inflight = FuturesUnordered::new();
    let mut stopped = false;
    loop {
        while !stopped && inflight.len() < depth {
            match items.next() {
                Some(i) => {
                    let t0 = now();
                    let f = op(i);
                    inflight.push(async move { (t0, f.await) });
                }
                None => {
                    stopped = true;
                }
            }
        }
        let Some((t0, r)) = inflight.next().await else {
            break;
        };
        let raw1 = clock.raw();
        let t1 = clock.scaled(raw1);
        let ok = match r {
            Ok(ok) => ok,
            Err(e) => {
                // Let the operations in flight finish before the error ends the run.
                while inflight.next().await.is_some() {}
                return Err(e);
            }
        };
        rec.record(t0, raw1, t1, ok);
        done += 1;
        if wall.hit(t1) {
            stopped = true;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn serial_and_deep_loops_run_every_item_once() {
        for depth in [1, 4] {
            let seen = std::cell::RefCell::new(Vec::new());
            let mut rec =
                Recorder::new(LatencyRecorder::new(), true, Duration::from_millis(100), 0);
            let n = rt()
                .block_on(for_each(0..100, depth, Wall::none(), &mut rec, |i| {
                    seen.borrow_mut().push(i);
                    async move { Ok(i % 10 != 0) }
                }))
                .unwrap();
            assert_eq!(n, 100);
            assert_eq!(seen.borrow().len(), 100);
            assert_eq!(rec.latency.len(), 100);
            assert_eq!(rec.errors, 10);
            assert_eq!(rec.samples.as_ref().unwrap().len(), 100);
            // Every operation, failed or not, in the series.
            assert_eq!(rec.series().ops.iter().sum::<u64>(), 100);
        }
    }

    #[test]
    fn deep_loop_keeps_depth_in_flight() {
        let inflight = Cell::new(0usize);
        let most = Cell::new(0usize);
        let mut rec = Recorder::new(LatencyRecorder::new(), false, Duration::from_millis(100), 0);
        rt().block_on(for_each(0..64, 8, Wall::none(), &mut rec, |_| {
            let inflight = &inflight;
            let most = &most;
            async move {
                inflight.set(inflight.get() + 1);
                most.set(most.get().max(inflight.get()));
                tokio::task::yield_now().await;
                inflight.set(inflight.get() - 1);
                Ok(true)
            }
        }))
        .unwrap();
        assert_eq!(most.get(), 8);
    }

    #[test]
    fn wall_stops_new_operations() {
        // The first operation is issued only once the 1 s wall has passed (its issue blocks
        // for 1.1 s); the operations issued with it finish, and nothing else starts: exactly
        // `depth` operations of the thousand.
        for depth in [1, 3] {
            let mut rec =
                Recorder::new(LatencyRecorder::new(), false, Duration::from_millis(100), 0);
            let wall = Wall::after(now(), 1);
            let n = rt()
                .block_on(for_each(0..1000, depth, wall, &mut rec, |i| {
                    if i == 0 {
                        std::thread::sleep(Duration::from_millis(1100));
                    }
                    async { Ok(true) }
                }))
                .unwrap();
            assert_eq!(n, depth as u64);
            assert_eq!(rec.latency.len(), n);
        }
    }

    #[test]
    fn an_error_ends_the_loop() {
        let mut rec = Recorder::new(LatencyRecorder::new(), false, Duration::from_millis(100), 0);
        let e = rt().block_on(for_each(0..10, 3, Wall::none(), &mut rec, |i| async move {
            if i == 4 {
                Err(MdtestError::Run("boom".into()))
            } else {
                Ok(true)
            }
        }));
        assert!(e.is_err());
    }
}
