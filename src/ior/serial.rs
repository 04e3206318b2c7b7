//! IOR's transfer loop (`WriteOrRead`): one transfer at a time, in the order of the offsets,
//! stonewalling (`-D`, with `-c` agreed over ranks after every transfer) and wear-out (§2.7)
//! and `minTimeDuration` repeats.
//!
//! Owns what happens between the `t2` and `t3` timestamps of SPEC §2.6 (and the untimed
//! write-check pass) at depth 1. Each transfer is [`Recipe`]'s; opening, closing, barriers and
//! reductions over ranks belong to [`crate::ior::engine`]; the only collectives here are the
//! wear-out reductions and the per-transfer stonewall agreement of `-c -D`, which every rank
//! reaches in step.

use crate::backend::buffer::AlignedBuf;
use crate::comm::ReduceOp;
use crate::ior::error::EngineError;
use crate::ior::transfer::{wear_out_figures, AtOnce, LoopOutcome, LoopSpec, Recipe};
use crate::measure::latency::LatencyRecorder;
use crate::measure::log;
use crate::measure::series::IntervalRecorder;

/// One rank's loop state: the recipe and the clock readings, borrowed once per phase.
struct Looper<'a> {
    recipe: Recipe<'a>,
    clock: &'static quanta::Clock,
    phase_start: u64,
    last: u64,
    /// Whether the latency recorder counts raw clock units (else nanoseconds).
    raw: bool,
    out: LoopOutcome,
}

impl Looper<'_> {
    /// One transfer at `offset`: pattern, transfer, `-Y`, delay, check, latency. Returns the
    /// cycle-counter reading at its end.
    #[inline(always)]
    async fn step(
        &mut self,
        buf: &mut AlignedBuf,
        offset: u64,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> Result<u64, EngineError> {
        let n = match self.begin(buf, offset)? {
            AtOnce::Done(n) => n,
            at => self.recipe.complete(buf, offset, at).await?,
        };
        Ok(self.end(buf, offset, n, latency, series))
    }

    /// The first half of a transfer: the pattern, and the transfer itself if the backend
    /// completes it at once (no async machinery on that path).
    #[inline(always)]
    fn begin(&mut self, buf: &mut AlignedBuf, offset: u64) -> Result<AtOnce, EngineError> {
        self.recipe.prepare(buf, offset);
        self.recipe.transfer_at_once(buf, offset)
    }

    /// The second half of a transfer of `n` bytes: delay, check, latency, counts and the
    /// interval series. Returns the cycle-counter reading at its end.
    #[inline(always)]
    fn end(
        &mut self,
        buf: &AlignedBuf,
        offset: u64,
        n: usize,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> u64 {
        let r = &self.recipe;
        r.delay();
        r.verify(&mut self.out, buf, offset);
        // The latency of a transfer is the time since the previous one ended: one clock
        // reading per transfer (it includes the pattern update and check, as IOR's column does),
        // counted in raw clock units (scaled to nanoseconds when the phase is over).
        let now = self.clock.raw();
        let (clock, phase_start, last) = (self.clock, self.phase_start, self.last);
        let d = if self.raw {
            now.saturating_sub(last)
        } else {
            clock.delta_as_nanos(last, now)
        };
        r.count(
            &mut self.out,
            n,
            d,
            || {
                (
                    clock.delta_as_nanos(phase_start, last) as f64 * 1e-9,
                    clock.delta_as_nanos(last, now) as f64 * 1e-9,
                )
            },
            latency,
        );
        series.add(now, n as u64);
        self.last = now;
        now
    }

    /// Nanoseconds from the phase start to the reading `now`.
    #[inline(always)]
    fn elapsed_ns(&self, now: u64) -> u64 {
        self.clock.delta_as_nanos(self.phase_start, now)
    }
}

/// Runs the transfer loop of one phase on this rank, one transfer at a time, counting every
/// transfer into `series` at its completion.
///
/// Transfers are timed with the cycle counter ([`crate::measure::machine::fast_clock`]): one
/// instruction per reading, where a system-clock reading would cost as much as the whole
/// harness loop (benches/harness_overhead.rs). `spec.seq` must not be empty (the engine's pick
/// of the loop returns at once for an empty one).
pub(crate) async fn transfer_loop(
    spec: &LoopSpec<'_>,
    buf: &mut AlignedBuf,
    latency: &mut LatencyRecorder,
    series: &mut IntervalRecorder,
) -> Result<LoopOutcome, EngineError> {
    let p = spec.params;
    let len = spec.seq.len();
    let deadline_ns = spec.deadline_secs().map(|s| s * 1_000_000_000);
    let collective_wall = deadline_ns.is_some() && p.collective != 0;
    let limit = spec.limit();
    let min_time_ns = p.min_time_duration.max(0) as u64 * 1_000_000_000;
    let clock = crate::measure::machine::fast_clock();
    let start = clock.raw();
    let mut lp = Looper {
        recipe: Recipe::new(spec, buf.len()),
        clock,
        phase_start: start,
        last: start,
        raw: latency.count_ticks_of(clock),
        out: LoopOutcome::default(),
    };

    // Main pass(es): stop at the wall, at the limit, or at the end (repeat for minTimeDuration).
    // `i` counts transfers of the pass; `pos` is its position, advanced without a division.
    let mut i: u64 = 0;
    let mut pos = spec.seq.position(0);
    loop {
        // `step`, with its common case (completed at once) outside any awaited future.
        let offset = spec.seq.at(pos);
        let n = match lp.begin(buf, offset)? {
            AtOnce::Done(n) => n,
            at => lp.recipe.complete(buf, offset, at).await?,
        };
        let now = lp.end(buf, offset, n, latency, series);
        i += 1;
        pos = spec.seq.advance(pos);
        let mut wall =
            lp.out.pairs == limit || deadline_ns.is_some_and(|dl| lp.elapsed_ns(now) > dl);
        if collective_wall {
            wall = spec.io.comm.allreduce_i64(wall as i64, ReduceOp::Max)? != 0;
        }
        if wall {
            break;
        }
        if i == len {
            if lp.elapsed_ns(now) < min_time_ns {
                i = 0;
                pos = spec.seq.position(0);
                continue;
            }
            break;
        }
    }

    // Wear-out (§2.7): every rank completes as many transfers as the busiest one did.
    if deadline_ns.is_some() && p.stone_walling_wear_out != 0 {
        let stonewall_time = lp.elapsed_ns(clock.raw()) as f64 * 1e-9;
        let info = wear_out_figures(spec.io.comm, &lp.out, stonewall_time)?;
        if p.verbose >= 1 {
            log::line(&format!(
                "{}: stonewalling pairs accessed: {}",
                spec.rank, lp.out.pairs
            ));
        }
        while lp.out.pairs < info.pairs_max {
            if i >= len {
                i = 0;
            }
            lp.step(buf, spec.seq.get(i), latency, series).await?;
            i += 1;
        }
        lp.out.pairs_accessed = info.pairs_max;
        lp.out.stonewall = Some(info);
    }

    Ok(lp.out)
}
