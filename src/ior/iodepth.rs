//! `--iodepth N` (beyond IOR): up to N transfers of one task in flight at once on the async
//! backend API, each with its own buffer.
//!
//! Owns the deep variant of the transfer loop of [`crate::ior::serial`] with the same
//! semantics: the same offsets in the same submission order, the same transfer recipe
//! ([`Recipe`]: patterns, `-Y`, verification), stonewalling checked at every completion (no new
//! transfer is submitted once the wall is hit; those in flight complete and count), wear-out
//! and `minTimeDuration`. Each transfer owns its buffer while it is in flight
//! ([`Recipe::transfer_owned`]), so backends that queue transfers to the kernel (POSIX on
//! io_uring) can hold it. The latency of a transfer is its own submit-to-completion time. The
//! engine picks this loop only for depths above 1: IOR's one-at-a-time loop stays the lean hot
//! path. It must not open, close or reduce over ranks beyond the wear-out figures.
//!
//! The loop waits for its next completion through the runtime (`.await`), or, for a backend
//! whose transfers make all their progress on this thread
//! ([`crate::backend::Backend::progresses_on_thread`]: POSIX, whose io_uring transfers wait in
//! `io_uring_enter`), by polling them here: the runtime's scheduler would otherwise make a
//! reactor turn (an `epoll_wait`) for every wake-up between two completions.

use crate::backend::buffer::AlignedBuf;
use crate::backend::{AnyBackend, Backend};
use crate::comm::ReduceOp;
use crate::ior::error::EngineError;
use crate::ior::transfer::{wear_out_figures, LoopOutcome, LoopSpec, Recipe};
use crate::measure::latency::LatencyRecorder;
use crate::measure::series::IntervalRecorder;
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A finished transfer: its buffer back, offset, result, submit and completion instants.
type Done = (
    AlignedBuf,
    u64,
    Result<usize, EngineError>,
    Instant,
    Instant,
);

struct Deep<'a> {
    recipe: Recipe<'a, AnyBackend>,
    pool: Vec<AlignedBuf>,
    out: LoopOutcome,
    phase_start: Instant,
}

impl<'a> Deep<'a> {
    /// Prepare a buffer for the transfer at `offset` and start it.
    fn start(
        &mut self,
        offset: u64,
    ) -> Result<impl std::future::Future<Output = Done> + 'a, EngineError> {
        let mut buf = self
            .pool
            .pop()
            .ok_or_else(|| EngineError::Fatal("iodepth buffer pool exhausted".into()))?;
        let recipe = self.recipe;
        recipe.prepare(&mut buf, offset);
        Ok(async move {
            let t0 = Instant::now();
            let (buf, r) = recipe.transfer_owned(buf, offset).await;
            (buf, offset, r, t0, Instant::now())
        })
    }

    /// Account for a finished transfer; returns its buffer to the pool.
    fn finish(
        &mut self,
        done: Done,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> Result<(), EngineError> {
        let (buf, offset, r, t0, t1) = done;
        let n = r?;
        let recipe = &self.recipe;
        recipe.verify(&mut self.out, &buf, offset);
        let phase_start = self.phase_start;
        let d_ns = t1.duration_since(t0).as_nanos() as u64;
        recipe.count::<false>(
            &mut self.out,
            n,
            d_ns,
            || {
                (
                    t0.duration_since(phase_start).as_secs_f64(),
                    d_ns as f64 * 1e-9,
                )
            },
            latency,
        );
        series.add(series.clock().raw(), n as u64);
        self.pool.push(buf);
        recipe.delay();
        Ok(())
    }
}

/// Wakes the thread that polls the transfers here ([`next_done`]); on that thread itself a
/// wake only sets its park token, no system call.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The next finished transfer of `inflight` (`None` when none is left): awaited through the
/// runtime, or with `here`, the waker of [`Unpark`] for this thread, polled on this thread
/// until one finishes, parking only while no transfer can make progress and none woke.
async fn next_done<S: Stream + Unpin>(inflight: &mut S, here: Option<&Waker>) -> Option<S::Item> {
    let Some(waker) = here else {
        return inflight.next().await;
    };
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(done) = inflight.poll_next_unpin(&mut cx) {
            return done;
        }
        // Returns at once when a transfer woke during the poll (its token is set).
        std::thread::park();
    }
}

/// The transfer loop with up to `iodepth` transfers in flight (see the module documentation).
/// `spec.seq` must not be empty.
pub(crate) async fn transfer_loop_deep(
    spec: &LoopSpec<'_>,
    base: &[u8],
    latency: &mut LatencyRecorder,
    series: &mut IntervalRecorder,
) -> Result<LoopOutcome, EngineError> {
    let p = spec.params;
    let len = spec.seq.len();
    let depth = p.iodepth.max(1) as usize;
    let mut pool = Vec::with_capacity(depth);
    for _ in 0..depth {
        let mut b = AlignedBuf::new(base.len())
            .map_err(|e| EngineError::Fatal(format!("cannot allocate transfer buffer: {e}")))?;
        b.copy_from_slice(base);
        pool.push(b);
    }
    let mut d = Deep {
        recipe: Recipe::new(spec, spec.io.backend, spec.io.file, base.len()),
        pool,
        out: LoopOutcome::default(),
        phase_start: Instant::now(),
    };
    let deadline = spec.deadline_secs().map(Duration::from_secs);
    let min_time = Duration::from_secs(p.min_time_duration.max(0) as u64);
    let limit = spec.limit();
    let collective_wall = deadline.is_some() && p.collective != 0;
    let here = spec
        .io
        .backend
        .progresses_on_thread()
        .then(|| Waker::from(Arc::new(Unpark(std::thread::current()))));
    let here = here.as_ref();

    let mut inflight = FuturesUnordered::new();
    let mut i: u64 = 0;
    let mut submitted: i64 = 0;
    let mut exhausted = false;
    let mut wall = false;
    loop {
        while !wall && !exhausted && inflight.len() < depth && submitted < limit {
            inflight.push(d.start(spec.seq.get(i))?);
            submitted += 1;
            i += 1;
            if i == len {
                if d.phase_start.elapsed() < min_time {
                    i = 0;
                } else {
                    exhausted = true;
                }
            }
        }
        let Some(done) = next_done(&mut inflight, here).await else {
            break;
        };
        d.finish(done, latency, series)?;
        let now = Instant::now();
        let mut hit = deadline.is_some_and(|dl| now.duration_since(d.phase_start) > dl)
            || d.out.pairs >= limit;
        if collective_wall {
            hit = spec.io.comm.allreduce_i64(hit as i64, ReduceOp::Max)? != 0;
        }
        wall |= hit;
    }

    if deadline.is_some() && p.stone_walling_wear_out != 0 {
        let stonewall_time = d.phase_start.elapsed().as_secs_f64();
        let info = wear_out_figures(spec.io.comm, &d.out, stonewall_time)?;
        let pairs_max = info.pairs_max;
        let mut submitted = d.out.pairs;
        loop {
            while inflight.len() < depth && submitted < pairs_max {
                if i >= len {
                    i = 0;
                }
                inflight.push(d.start(spec.seq.get(i))?);
                submitted += 1;
                i += 1;
            }
            let Some(done) = next_done(&mut inflight, here).await else {
                break;
            };
            d.finish(done, latency, series)?;
        }
        d.out.pairs_accessed = pairs_max;
        d.out.stonewall = Some(info);
    }
    Ok(d.out)
}
