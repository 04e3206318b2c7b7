//! IOR's transfer loop (`WriteOrRead`): one transfer at a time, in the order of the offsets,
//! stonewalling (`-D`, with `-c` agreed over ranks after every transfer) and wear-out (§2.7)
//! and `minTimeDuration` repeats.
//!
//! Owns what happens between the `t2` and `t3` timestamps of SPEC §2.6 (and the untimed
//! write-check pass) at depth 1. Each transfer is [`Recipe`]'s; opening, closing, barriers and
//! reductions over ranks belong to [`crate::ior::engine`]; the only collectives here are the
//! wear-out reductions and the per-transfer stonewall agreement of `-c -D`, which every rank
//! reaches in step.
//!
//! The harness's own cost per transfer is what a DUMMY run measures, so the loop is built for
//! it: the backend is chosen once per phase ([`crate::backend::AnyBackend::with_file`]) and the loop is
//! generic over the concrete one; the transfers a backend completes at once run in a plain
//! function, not in the async one ([`Looper::run_at_once`]); and a phase with no optional
//! step per transfer ([`Looper::plain`]: no pattern update, check, `-Y`, `-d`, per-op record,
//! `-D` or transfer limit) runs the `PLAIN` instance of the same code, from which those
//! steps' tests are compiled out. Both instances walk the same offsets and count the same.

use crate::backend::buffer::AlignedBuf;
use crate::backend::{Backend, FileJob};
use crate::comm::{Comm, ReduceOp};
use crate::ior::access::OffsetSequence;
use crate::ior::error::EngineError;
use crate::ior::transfer::{access_op, wear_out_figures, AtOnce, LoopOutcome, LoopSpec, Recipe};
use crate::measure::latency::LatencyRecorder;
use crate::measure::log;
use crate::measure::series::IntervalRecorder;

/// Where a pass stands: the transfers of the pass done, and the position of the next one in
/// the offset sequence (advanced without a division).
#[derive(Clone, Copy)]
struct Cursor {
    i: u64,
    pos: (u64, u64),
}

impl Cursor {
    fn start(seq: &OffsetSequence) -> Self {
        Cursor {
            i: 0,
            pos: seq.position(0),
        }
    }
}

/// Why [`Looper::run_at_once`] returned.
enum Stop {
    /// The main pass is over: the wall, the transfer limit, or the end of its last repeat.
    Over,
    /// The transfer at this offset was not completed at once: the async loop finishes it.
    Pending(u64, AtOnce),
}

/// One rank's loop state for one phase on backend `B`: the recipe, the offsets, the stopping
/// rules and the clock readings, fixed or carried from transfer to transfer.
struct Looper<'a, B: Backend> {
    recipe: Recipe<'a, B>,
    seq: &'a OffsetSequence,
    comm: &'a dyn Comm,
    clock: &'static quanta::Clock,
    phase_start: u64,
    last: u64,
    /// Whether the latency recorder counts raw clock units (else nanoseconds).
    raw: bool,
    /// `-D` in nanoseconds, when it applies.
    deadline_ns: Option<u64>,
    /// `-c -D`: the wall is agreed over ranks after every transfer.
    collective_wall: bool,
    /// The transfer limit (`i64::MAX` for none).
    limit: i64,
    /// `minTimeDuration` in nanoseconds: the pass repeats until it has run that long.
    min_time_ns: u64,
    out: LoopOutcome,
}

impl<'a, B: Backend> Looper<'a, B> {
    /// The loop of `spec` on `file` of `backend` (the backend under `spec.io`), its phase
    /// starting now; switches `latency` to raw clock units if it can.
    fn new(
        spec: &LoopSpec<'a>,
        backend: &'a B,
        file: &'a B::File,
        buf_len: usize,
        latency: &mut LatencyRecorder,
    ) -> Self {
        let p = spec.params;
        let deadline_ns = spec.deadline_secs().map(|s| s * 1_000_000_000);
        let clock = crate::measure::machine::fast_clock();
        let start = clock.raw();
        Looper {
            recipe: Recipe::new(spec, backend, file, buf_len),
            seq: spec.seq,
            comm: spec.io.comm,
            clock,
            phase_start: start,
            last: start,
            raw: latency.count_ticks_of(clock),
            deadline_ns,
            collective_wall: deadline_ns.is_some() && p.collective != 0,
            limit: spec.limit(),
            min_time_ns: p.min_time_duration.max(0) as u64 * 1_000_000_000,
            out: LoopOutcome::default(),
        }
    }

    /// Whether the `PLAIN` instance of the loop may run this phase: a plain recipe, no wall to
    /// watch (no `-D`, no transfer limit) and latencies in raw clock units.
    fn plain(&self) -> bool {
        self.recipe.is_plain() && self.deadline_ns.is_none() && self.limit == i64::MAX && self.raw
    }

    /// One transfer at `offset`, whatever the backend: pattern, transfer, `-Y`, delay, check,
    /// latency. Returns the cycle-counter reading at its end.
    async fn step(
        &mut self,
        buf: &mut AlignedBuf,
        offset: u64,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> Result<u64, EngineError> {
        let n = match self.begin::<false>(buf, offset)? {
            AtOnce::Done(n) => n,
            at => self.recipe.complete(buf, offset, at).await?,
        };
        Ok(self.end::<false>(buf, offset, n, latency, series))
    }

    /// The first half of a transfer: the pattern, and the transfer itself if the backend
    /// completes it at once (no async machinery on that path).
    #[inline(always)]
    fn begin<const PLAIN: bool>(
        &mut self,
        buf: &mut AlignedBuf,
        offset: u64,
    ) -> Result<AtOnce, EngineError> {
        if !PLAIN {
            self.recipe.prepare(buf, offset);
        }
        self.recipe.transfer_at_once::<PLAIN>(buf, offset)
    }

    /// The second half of a transfer of `n` bytes: delay, check, latency, counts and the
    /// interval series. Returns the cycle-counter reading at its end.
    #[inline(always)]
    fn end<const PLAIN: bool>(
        &mut self,
        buf: &AlignedBuf,
        offset: u64,
        n: usize,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> u64 {
        let r = &self.recipe;
        if !PLAIN {
            r.delay();
            r.verify(&mut self.out, buf, offset);
        }
        // The latency of a transfer is the time since the previous one ended: one clock
        // reading per transfer (it includes the pattern update and check, as IOR's column does),
        // counted in raw clock units (scaled to nanoseconds when the phase is over).
        let now = self.clock.raw();
        let (clock, phase_start, last) = (self.clock, self.phase_start, self.last);
        let d = if PLAIN || self.raw {
            now.saturating_sub(last)
        } else {
            clock.delta_as_nanos(last, now)
        };
        r.count::<PLAIN>(
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

    /// After the main pass's transfer that ended at `now`: moves `cur` on and says whether the
    /// pass is over (the wall, agreed over ranks under `-c`, or the limit; else the end of the
    /// offsets, where the pass starts again while `minTimeDuration` has not passed).
    #[inline(always)]
    fn next<const PLAIN: bool>(&mut self, cur: &mut Cursor, now: u64) -> Result<bool, EngineError> {
        cur.i += 1;
        cur.pos = self.seq.advance(cur.pos);
        if !PLAIN {
            let mut wall = self.out.pairs == self.limit
                || self.deadline_ns.is_some_and(|dl| self.elapsed_ns(now) > dl);
            if self.collective_wall {
                wall = self.comm.allreduce_i64(wall as i64, ReduceOp::Max)? != 0;
            }
            if wall {
                return Ok(true);
            }
        }
        if cur.i == self.seq.len() {
            if self.elapsed_ns(now) < self.min_time_ns {
                *cur = Cursor::start(self.seq);
                return Ok(false);
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// The main pass from `cur` for as long as the backend completes each transfer at once:
    /// until the pass is over, or a transfer is left for the async loop to finish.
    #[inline(never)]
    fn run_at_once<const PLAIN: bool>(
        &mut self,
        buf: &mut AlignedBuf,
        cur: &mut Cursor,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> Result<Stop, EngineError> {
        loop {
            let offset = self.seq.at(cur.pos);
            let n = match self.begin::<PLAIN>(buf, offset)? {
                AtOnce::Done(n) => n,
                at => return Ok(Stop::Pending(offset, at)),
            };
            let now = self.end::<PLAIN>(buf, offset, n, latency, series);
            if self.next::<PLAIN>(cur, now)? {
                return Ok(Stop::Over);
            }
        }
    }

    /// The main pass(es): stop at the wall, at the limit, or at the end (repeated for
    /// `minTimeDuration`). Returns the transfers done in the last pass.
    async fn main_pass<const PLAIN: bool>(
        &mut self,
        buf: &mut AlignedBuf,
        latency: &mut LatencyRecorder,
        series: &mut IntervalRecorder,
    ) -> Result<u64, EngineError> {
        let mut cur = Cursor::start(self.seq);
        loop {
            let (offset, at) = match self.run_at_once::<PLAIN>(buf, &mut cur, latency, series)? {
                Stop::Over => return Ok(cur.i),
                Stop::Pending(offset, at) => (offset, at),
            };
            let n = self.recipe.complete(buf, offset, at).await?;
            let now = self.end::<PLAIN>(buf, offset, n, latency, series);
            if self.next::<PLAIN>(&mut cur, now)? {
                return Ok(cur.i);
            }
        }
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
    let job = Serial {
        spec,
        buf,
        latency,
        series,
    };
    spec.io
        .backend
        .with_file(spec.io.file, job)
        .await
        .map_err(|e| EngineError::backend(access_op(spec.access), e))?
}

/// [`transfer_loop`]'s work, run on the concrete backend.
struct Serial<'s, 'a> {
    spec: &'s LoopSpec<'a>,
    buf: &'s mut AlignedBuf,
    latency: &'s mut LatencyRecorder,
    series: &'s mut IntervalRecorder,
}

impl FileJob for Serial<'_, '_> {
    type Output = Result<LoopOutcome, EngineError>;

    async fn run<B: Backend>(self, backend: &B, file: &B::File) -> Self::Output {
        let Serial {
            spec,
            buf,
            latency,
            series,
        } = self;
        let mut lp = Looper::new(spec, backend, file, buf.len(), latency);
        let i = if lp.plain() {
            lp.main_pass::<true>(buf, latency, series).await?
        } else {
            lp.main_pass::<false>(buf, latency, series).await?
        };
        wear_out(spec, &mut lp, i, buf, latency, series).await?;
        Ok(lp.out)
    }
}

/// Wear-out (§2.7) after a main pass that left off `i` transfers into its offsets: every rank
/// completes as many transfers as the busiest one did.
async fn wear_out<B: Backend>(
    spec: &LoopSpec<'_>,
    lp: &mut Looper<'_, B>,
    mut i: u64,
    buf: &mut AlignedBuf,
    latency: &mut LatencyRecorder,
    series: &mut IntervalRecorder,
) -> Result<(), EngineError> {
    if lp.deadline_ns.is_none() || spec.params.stone_walling_wear_out == 0 {
        return Ok(());
    }
    let len = spec.seq.len();
    let stonewall_time = lp.elapsed_ns(lp.clock.raw()) as f64 * 1e-9;
    let info = wear_out_figures(spec.io.comm, &lp.out, stonewall_time)?;
    if spec.params.verbose >= 1 {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::dummy::DummyFile;
    use crate::backend::{
        Access, AccessMode, AnyBackend, AnyFile, BackendResult, DirEntry, FileStat, OpenFlags,
        StatFs,
    };
    use crate::comm::local::LocalComm;
    use crate::ior::params::{DataPacketType, IorParams, TaskLayout};
    use crate::ior::transfer::LoopIo;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// How the recording backend completes a transfer.
    #[derive(Clone, Copy, Debug)]
    enum Completes {
        /// At once, whole (DUMMY, POSIX).
        AtOnce,
        /// Only through the async call.
        Later,
        /// At once, but every third transfer short by half (then IOR's retries).
        ShortEveryThird,
    }

    /// A backend that records every transfer call: (access, offset, bytes asked).
    struct Log {
        completes: Completes,
        calls: RefCell<Vec<(Access, u64, usize)>>,
    }

    impl Log {
        fn new(completes: Completes) -> Self {
            Log {
                completes,
                calls: RefCell::new(Vec::new()),
            }
        }

        fn note(&self, access: Access, buf: &[u8], offset: u64) -> usize {
            let mut calls = self.calls.borrow_mut();
            calls.push((access, offset, buf.len()));
            match self.completes {
                Completes::ShortEveryThird if calls.len() % 3 == 1 => buf.len() / 2,
                _ => buf.len(),
            }
        }
    }

    impl Backend for Log {
        type File = ();
        fn name(&self) -> &'static str {
            "LOG"
        }
        async fn create(&self, _: &str, _: OpenFlags) -> BackendResult<()> {
            Ok(())
        }
        async fn open(&self, _: &str, _: OpenFlags) -> BackendResult<()> {
            Ok(())
        }
        async fn xfer(&self, _: &(), a: Access, buf: &mut [u8], o: u64) -> BackendResult<usize> {
            Ok(self.note(a, buf, o))
        }
        fn xfer_sync(
            &self,
            _: &(),
            a: Access,
            buf: &mut [u8],
            o: u64,
        ) -> Option<BackendResult<usize>> {
            match self.completes {
                Completes::Later => None,
                _ => Some(Ok(self.note(a, buf, o))),
            }
        }
        async fn close(&self, _: ()) -> BackendResult<()> {
            Ok(())
        }
        async fn fsync(&self, _: &()) -> BackendResult<()> {
            Ok(())
        }
        async fn remove(&self, _: &str) -> BackendResult<()> {
            Ok(())
        }
        async fn get_file_size(&self, _: &str) -> BackendResult<u64> {
            Ok(0)
        }
        async fn statfs(&self, _: &str) -> BackendResult<StatFs> {
            Ok(StatFs::default())
        }
        async fn mkdir(&self, _: &str, _: u32) -> BackendResult<()> {
            Ok(())
        }
        async fn rmdir(&self, _: &str) -> BackendResult<()> {
            Ok(())
        }
        async fn access(&self, _: &str, _: AccessMode) -> BackendResult<bool> {
            Ok(true)
        }
        async fn stat(&self, _: &str) -> BackendResult<FileStat> {
            Ok(FileStat::default())
        }
        async fn rename(&self, _: &str, _: &str) -> BackendResult<()> {
            Ok(())
        }
        async fn readdir(&self, _: &str) -> BackendResult<Vec<DirEntry>> {
            Ok(Vec::new())
        }
    }

    /// What one main pass did: the backend's calls, the pass's transfers, the outcome's
    /// counts, the latencies recorded and the transfers in the interval series.
    type Run = (Vec<(Access, u64, usize)>, u64, (i64, i64, i64), u64, u64);

    /// The parts of a [`LoopSpec`] a test varies, and the rest fixed around them.
    struct Case {
        params: IorParams,
        layout: TaskLayout,
        pretend_rank: usize,
        access: Access,
        record_per_op: bool,
        stonewall: bool,
        limit: i64,
    }

    impl Case {
        fn new(params: IorParams, tasks: usize, access: Access) -> Self {
            Case {
                params,
                layout: TaskLayout {
                    num_tasks: tasks,
                    num_nodes: 1,
                    tasks_on_node0: tasks,
                    block_mapping: true,
                },
                pretend_rank: 1 % tasks,
                access,
                record_per_op: false,
                stonewall: false,
                limit: 0,
            }
        }

        /// Runs `f` with the loop of this case on `log` (and a DUMMY under `spec.io`).
        fn with_looper<T>(
            &self,
            log: &Log,
            f: impl FnOnce(&mut Looper<'_, Log>, &mut LatencyRecorder) -> T,
        ) -> T {
            let seq = OffsetSequence::new(&self.params, &self.layout, self.pretend_rank, 7, None);
            let comm = LocalComm::group(1, 0).pop().expect("one rank");
            let dummy = AnyBackend::new("DUMMY", &BTreeMap::new()).expect("DUMMY");
            let file = AnyFile::Dummy(DummyFile);
            let spec = LoopSpec {
                params: &self.params,
                access: self.access,
                pretend_rank: self.pretend_rank as u32,
                sig: 11,
                seq: &seq,
                limit: self.limit,
                stonewall: self.stonewall,
                record_per_op: self.record_per_op,
                rank: 0,
                io: LoopIo {
                    backend: &dummy,
                    file: &file,
                    comm: &comm,
                },
            };
            let mut latency = LatencyRecorder::new();
            let mut lp = Looper::new(
                &spec,
                log,
                &(),
                self.params.transfer_size as usize,
                &mut latency,
            );
            f(&mut lp, &mut latency)
        }

        /// The main pass through the `PLAIN` instance or the general one.
        fn run(&self, completes: Completes, plain: bool) -> Run {
            let log = Log::new(completes);
            let mut buf = AlignedBuf::new(self.params.transfer_size as usize).expect("buffer");
            let (i, counts, recorded, series) = self.with_looper(&log, |lp, latency| {
                assert!(lp.plain(), "a plain case");
                let mut series = IntervalRecorder::start(Duration::from_secs(3600), None);
                let i = futures::executor::block_on(async {
                    if plain {
                        lp.main_pass::<true>(&mut buf, latency, &mut series).await
                    } else {
                        lp.main_pass::<false>(&mut buf, latency, &mut series).await
                    }
                })
                .expect("pass");
                let o = &lp.out;
                let ops = series.finish().ops.iter().sum();
                (i, (o.pairs, o.bytes, o.errors), latency.len(), ops)
            });
            (log.calls.into_inner(), i, counts, recorded, series)
        }
    }

    fn params(random: i32, fpp: i32, segments: i64, block: i64, xfer: i64) -> IorParams {
        IorParams {
            random_offset: random,
            file_per_proc: fpp,
            segment_count: segments,
            block_size: block,
            transfer_size: xfer,
            data_packet_type: DataPacketType::Timestamp,
            ..IorParams::default()
        }
    }

    #[test]
    fn the_plain_loop_makes_the_same_transfers_and_counts_as_the_general_one() {
        let mut cases = 0;
        for random in [0, 1, 2] {
            for fpp in [0, 1] {
                for (segments, block, xfer) in [(1, 4096, 1024), (3, 8192, 2048), (2, 4096, 4096)] {
                    for tasks in [1, 3] {
                        for access in [Access::Write, Access::Read] {
                            let case = Case::new(
                                params(random, fpp, segments, block, xfer),
                                tasks,
                                access,
                            );
                            let seq = OffsetSequence::new(
                                &case.params,
                                &case.layout,
                                case.pretend_rank,
                                7,
                                None,
                            );
                            let offsets: Vec<u64> = seq.iter().collect();
                            if offsets.is_empty() {
                                continue; // a shuffled shared file may give a rank no slot
                            }
                            for completes in [
                                Completes::AtOnce,
                                Completes::Later,
                                Completes::ShortEveryThird,
                            ] {
                                let general = case.run(completes, false);
                                let plain = case.run(completes, true);
                                let what = format!("-z {random} -F {fpp} -s {segments} -b {block} -t {xfer}, {tasks} tasks, {access:?}, {completes:?}");
                                assert_eq!(plain, general, "{what}");
                                // Every offset of the pass once, in order, whole (the
                                // retries of a short transfer ask for its rest).
                                let whole: Vec<u64> = general
                                    .0
                                    .iter()
                                    .filter(|c| c.2 == xfer as usize)
                                    .map(|c| c.1)
                                    .collect();
                                assert_eq!(whole, offsets, "{what}");
                                assert!(general.0.iter().all(|c| c.0 == access), "{what}");
                                let n = offsets.len() as u64;
                                assert_eq!(general.1, n, "{what}");
                                assert_eq!(general.2, (n as i64, n as i64 * xfer, 0), "{what}");
                                assert_eq!((general.3, general.4), (n, n), "{what}");
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(cases >= 150, "{cases} cases");
    }

    #[test]
    fn a_phase_with_any_step_per_transfer_is_not_plain() {
        let base = || params(0, 1, 2, 4096, 1024);
        let plain = |case: Case| case.with_looper(&Log::new(Completes::AtOnce), |lp, _| lp.plain());
        assert!(plain(Case::new(base(), 1, Access::Write)));
        assert!(plain(Case::new(base(), 1, Access::Read)));
        // A pattern updated per write (all but timestamp), checks (-R, -W), -Y, -d.
        let mut p = base();
        p.data_packet_type = DataPacketType::Offset;
        assert!(!plain(Case::new(p.clone(), 1, Access::Write)));
        assert!(plain(Case::new(p, 1, Access::Read)));
        assert!(!plain(Case::new(base(), 1, Access::ReadCheck)));
        assert!(!plain(Case::new(base(), 1, Access::WriteCheck)));
        let p = IorParams {
            fsync_per_write: 1,
            ..base()
        };
        assert!(!plain(Case::new(p, 1, Access::Write)));
        let p = IorParams {
            inter_io_delay: 1,
            ..base()
        };
        assert!(!plain(Case::new(p, 1, Access::Read)));
        // The per-op record, a -D wall, a transfer limit.
        let mut c = Case::new(base(), 1, Access::Read);
        c.record_per_op = true;
        assert!(!plain(c));
        let mut c = Case::new(
            IorParams {
                deadline_for_stonewalling: 5,
                ..base()
            },
            1,
            Access::Read,
        );
        c.stonewall = true;
        assert!(!plain(c));
        let mut c = Case::new(base(), 1, Access::Read);
        c.limit = 3;
        assert!(!plain(c));
    }
}
