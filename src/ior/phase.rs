//! The transfer loop of one phase on one rank (IOR's `WriteOrRead`): offsets, data patterns,
//! retries of short transfers, per-transfer latency, `-Y`, `interIODelay`, stonewalling with
//! wear-out, `minTimeDuration`, `-R`/`-W` verification and the final `-e` fsync.
//!
//! Owns what happens between the `t2` and `t3` timestamps of SPEC §2.6 (and the untimed
//! write-check pass). Opening, closing, barriers and reductions over ranks belong to
//! [`crate::ior::engine`]; the only collectives here are the wear-out reductions of §2.7 and
//! the per-transfer stonewall broadcast of `-c -D`, which every rank reaches in step.

use crate::backend::buffer::{AlignedBuf, BufferError, LentBuf};
use crate::backend::{Access, AnyBackend, AnyFile, Backend, BackendError, BackendResult};
use crate::comm::{Comm, ReduceOp};
use crate::ior::access::OffsetSequence;
use crate::ior::error::EngineError;
use crate::ior::latency::LatencyRecorder;
use crate::ior::log;
use crate::ior::params::{DataPacketType, IorParams};
use crate::ior::progress::Progress;
use crate::ior::results::StonewallInfo;
use crate::ior::signature;
use std::time::Duration;

/// What one rank's loop is asked to do.
pub struct LoopSpec<'a> {
    /// The test's parameters.
    pub params: &'a IorParams,
    /// Direction (and whether it is a check pass).
    pub access: Access,
    /// The rank whose data this rank writes or expects (pretendRank).
    pub pretend_rank: u32,
    /// Data signature of this repetition.
    pub sig: u32,
    /// Offsets of one pass.
    pub seq: &'a OffsetSequence,
    /// Stop after this many transfers (0 = no limit): wear-out iterations of a stonewalled write.
    pub limit: i64,
    /// Whether stonewalling (`-D`) applies to this loop (not to the untimed check pass).
    pub stonewall: bool,
    /// Record (start, duration) of every transfer for `savePerOpDataCSV`.
    pub record_per_op: bool,
    /// Rank in the test, for messages.
    pub rank: usize,
}

/// What the loop did.
#[derive(Debug, Default, Clone)]
pub struct LoopOutcome {
    /// Bytes moved by this rank.
    pub bytes: i64,
    /// Transfers made by this rank.
    pub pairs: i64,
    /// Transfers whose data did not verify.
    pub errors: i64,
    /// Wear-out figures (every rank gets the same), when wear-out ran.
    pub stonewall: Option<StonewallInfo>,
    /// Maximum transfers over ranks when the wall was hit (wear-out), else 0.
    pub pairs_accessed: i64,
    /// `(start since phase start, duration)` of each transfer, seconds, if recorded.
    pub per_op: Vec<(f64, f64)>,
}

/// Transfer `buf` at `offset` completely, retrying short transfers like IOR (§2.10).
#[inline(always)]
pub(crate) async fn transfer_whole(
    backend: &AnyBackend,
    file: &AnyFile,
    access: Access,
    buf: &mut AlignedBuf,
    offset: u64,
    single_attempt: bool,
    rank: usize,
) -> Result<usize, EngineError> {
    let len = buf.len();
    // Backends that complete at once skip the async machinery (the DUMMY harness cost).
    let first = match backend.xfer_sync(file, access, buf, offset) {
        Some(r) => r,
        None if access.is_write() && backend.takes_write_bytes() => {
            write_lent(backend, file, buf, offset).await
        }
        None => backend.xfer(file, access, buf, offset).await,
    }
    .map_err(|e| EngineError::backend(access_op(access), e))?;
    if first == len {
        return Ok(len);
    }
    complete_short_transfer(
        backend,
        file,
        access,
        buf,
        offset,
        single_attempt,
        rank,
        first,
    )
    .await
}

/// Puts a lent transfer buffer back in its slot, also when the write is abandoned midway
/// (then by a copy if the bytes are still held elsewhere).
struct Restore<'a> {
    slot: &'a mut AlignedBuf,
    lent: Option<LentBuf>,
}

impl Restore<'_> {
    fn put_back(&mut self) -> Result<(), BufferError> {
        if let Some(lent) = self.lent.take() {
            *self.slot = lent.reclaim()?;
        }
        Ok(())
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.put_back() {
            log::warn(&format!("transfer buffer lost: {e}"));
        }
    }
}

/// A write through [`Backend::write_bytes`]: the buffer is lent out as shared bytes (no copy)
/// and taken back when the write is over.
#[inline(never)]
async fn write_lent(
    backend: &AnyBackend,
    file: &AnyFile,
    buf: &mut AlignedBuf,
    offset: u64,
) -> BackendResult<usize> {
    let empty = AlignedBuf::new(0).map_err(|e| BackendError::Other(e.to_string()))?;
    let (lent, bytes) = std::mem::replace(buf, empty).lend();
    let mut restore = Restore {
        slot: buf,
        lent: Some(lent),
    };
    let r = backend.write_bytes(file, bytes, offset).await;
    restore
        .put_back()
        .map_err(|e| BackendError::Other(format!("transfer buffer: {e}")))?;
    r
}

/// The slow path of [`transfer_whole`]: IOR's retries of a short transfer (§2.10).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
async fn complete_short_transfer(
    backend: &AnyBackend,
    file: &AnyFile,
    access: Access,
    buf: &mut [u8],
    offset: u64,
    single_attempt: bool,
    rank: usize,
    first: usize,
) -> Result<usize, EngineError> {
    let len = buf.len();
    let mut done = first;
    let mut tries = 0u32;
    while done < len {
        if done == 0 && !access.is_write() {
            log::warn("read(...) returned EOF prematurely");
        }
        let what = if access.is_write() { "write" } else { "read" };
        log::warn(&format!(
            "task {rank}, partial {what}(), {done} of {len} bytes at offset {offset}"
        ));
        tries += 1;
        if single_attempt || tries >= 10_000 {
            break;
        }
        let n = backend
            .xfer(file, access, &mut buf[done..], offset + done as u64)
            .await
            .map_err(|e| EngineError::backend(access_op(access), e))?;
        if n == 0 {
            if !access.is_write() {
                log::warn("read(...) returned EOF prematurely");
            }
            break;
        }
        done += n;
    }
    if done != len {
        return Err(EngineError::Fatal(if access.is_write() {
            "cannot write to file".to_string()
        } else {
            "cannot read from file".to_string()
        }));
    }
    Ok(len)
}

fn access_op(access: Access) -> &'static str {
    if access.is_write() {
        "write"
    } else {
        "read"
    }
}

/// One rank's loop state: everything a single transfer step needs, borrowed once per phase.
struct Looper<'a, 'b> {
    spec: &'a LoopSpec<'b>,
    backend: &'a AnyBackend,
    file: &'a AnyFile,
    needs_update: bool,
    check: bool,
    fsync_per_write: bool,
    inter_io_delay: Duration,
    clock: &'static quanta::Clock,
    phase_start: u64,
    last: u64,
    out: LoopOutcome,
}

impl Looper<'_, '_> {
    /// One transfer at `offset`: pattern, transfer, `-Y`, delay, check, latency. Returns the
    /// cycle-counter reading at its end.
    #[inline(always)]
    async fn step(
        &mut self,
        buf: &mut AlignedBuf,
        offset: u64,
        latency: &mut LatencyRecorder,
        progress: &Progress,
    ) -> Result<u64, EngineError> {
        let p = self.spec.params;
        let ptype = p.data_packet_type;
        if self.needs_update {
            signature::update_for_write(
                buf,
                ptype,
                self.spec.sig,
                p.set_time_stamp_signature,
                self.spec.pretend_rank,
                offset,
            );
        }
        if self.check {
            signature::invalidate_for_read(buf);
        }
        let n = transfer_whole(
            self.backend,
            self.file,
            self.spec.access,
            buf,
            offset,
            p.single_xfer_attempt != 0,
            self.spec.rank,
        )
        .await?;
        if self.fsync_per_write {
            self.backend
                .fsync(self.file)
                .await
                .map_err(|e| EngineError::backend("fsync", e))?;
        }
        if !self.inter_io_delay.is_zero() {
            std::thread::sleep(self.inter_io_delay);
        }
        if self.check
            && !signature::verify(
                buf,
                ptype,
                self.spec.sig,
                p.set_time_stamp_signature,
                self.spec.pretend_rank,
                offset,
            )
        {
            self.out.errors += 1;
        }
        // The latency of a transfer is the time since the previous one ended: one clock
        // reading per transfer (it includes the pattern update and check, as IOR's column does).
        let now = self.clock.raw();
        let d_ns = self.clock.delta_as_nanos(self.last, now);
        latency.record(d_ns);
        if self.spec.record_per_op {
            self.out.per_op.push((
                self.clock.delta_as_nanos(self.phase_start, self.last) as f64 * 1e-9,
                d_ns as f64 * 1e-9,
            ));
        }
        self.last = now;
        self.out.pairs += 1;
        self.out.bytes += n as i64;
        if progress.is_enabled() {
            progress.advance(buf.len() as u64);
        }
        Ok(now)
    }

    /// Nanoseconds from the phase start to the reading `now`.
    #[inline(always)]
    fn elapsed_ns(&self, now: u64) -> u64 {
        self.clock.delta_as_nanos(self.phase_start, now)
    }
}

/// Runs the transfer loop of one phase on this rank.
///
/// Transfers are timed with the cycle counter ([`crate::ior::machine::fast_clock`]): one
/// instruction per reading, where a system-clock reading would cost as much as the whole
/// harness loop (benches/harness_overhead.rs).
#[allow(clippy::too_many_arguments)]
pub async fn transfer_loop(
    spec: &LoopSpec<'_>,
    backend: &AnyBackend,
    file: &AnyFile,
    buf: &mut AlignedBuf,
    comm: &dyn Comm,
    latency: &mut LatencyRecorder,
    progress: &Progress,
) -> Result<LoopOutcome, EngineError> {
    let p = spec.params;
    let len = spec.seq.len();
    if len == 0 {
        return Ok(LoopOutcome::default());
    }
    if p.iodepth > 1 {
        return crate::ior::iodepth::transfer_loop_deep(
            spec, backend, file, buf, comm, latency, progress,
        )
        .await;
    }
    let is_write = spec.access.is_write();
    let deadline_ns = (spec.stonewall && p.deadline_for_stonewalling > 0)
        .then(|| p.deadline_for_stonewalling as u64 * 1_000_000_000);
    let collective_wall = deadline_ns.is_some() && p.collective != 0;
    let limit = if spec.limit > 0 { spec.limit } else { i64::MAX };
    let min_time_ns = p.min_time_duration.max(0) as u64 * 1_000_000_000;
    let clock = crate::ior::machine::fast_clock();
    let start = clock.raw();
    let mut lp = Looper {
        spec,
        backend,
        file,
        needs_update: is_write && p.data_packet_type != DataPacketType::Timestamp && buf.len() >= 8,
        check: matches!(spec.access, Access::WriteCheck | Access::ReadCheck),
        fsync_per_write: is_write && p.fsync_per_write != 0,
        inter_io_delay: Duration::from_micros(p.inter_io_delay.max(0) as u64),
        clock,
        phase_start: start,
        last: start,
        out: LoopOutcome::default(),
    };

    // Main pass(es): stop at the wall, at the limit, or at the end (repeat for minTimeDuration).
    let mut i: u64 = 0;
    loop {
        let now = lp.step(buf, spec.seq.get(i), latency, progress).await?;
        i += 1;
        let mut wall =
            lp.out.pairs == limit || deadline_ns.is_some_and(|dl| lp.elapsed_ns(now) > dl);
        if collective_wall {
            wall = comm.allreduce_i64(wall as i64, ReduceOp::Max)? != 0;
        }
        if wall {
            break;
        }
        if i == len {
            if lp.elapsed_ns(now) < min_time_ns {
                i = 0;
                continue;
            }
            break;
        }
    }

    // Wear-out (§2.7): every rank completes as many transfers as the busiest one did.
    if deadline_ns.is_some() && p.stone_walling_wear_out != 0 {
        let stonewall_time = lp.elapsed_ns(clock.raw()) as f64 * 1e-9;
        let info = wear_out_figures(comm, &lp.out, stonewall_time)?;
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
            lp.step(buf, spec.seq.get(i), latency, progress).await?;
            i += 1;
        }
        lp.out.pairs_accessed = info.pairs_max;
        lp.out.stonewall = Some(info);
    }

    if is_write && p.fsync != 0 {
        backend
            .fsync(file)
            .await
            .map_err(|e| EngineError::backend("fsync", e))?;
    }
    Ok(lp.out)
}

/// Collective: the wear-out figures of §2.7 (every rank gets the same), printed by rank 0.
pub(crate) fn wear_out_figures(
    comm: &dyn Comm,
    out: &LoopOutcome,
    stonewall_time: f64,
) -> Result<StonewallInfo, EngineError> {
    let info = StonewallInfo {
        pairs_min: comm.allreduce_i64(out.pairs, ReduceOp::Min)?,
        pairs_max: comm.allreduce_i64(out.pairs, ReduceOp::Max)?,
        data_min: comm.allreduce_i64(out.bytes, ReduceOp::Min)? as f64,
        data_mean: comm.allreduce_i64(out.bytes, ReduceOp::Sum)? as f64 / comm.size() as f64,
        time: f64::from_bits(comm.bcast_u64(stonewall_time.to_bits(), 0)?),
    };
    if comm.rank() == 0 {
        log::line(&format!(
            "stonewalling pairs accessed min: {} max: {} -- min data: {:.1} GiB mean data: {:.1} GiB time: {:.1}s",
            info.pairs_min,
            info.pairs_max,
            info.data_min / (1u64 << 30) as f64,
            info.data_mean / (1u64 << 30) as f64,
            stonewall_time
        ));
    }
    Ok(info)
}
