//! One transfer of a phase (IOR's `WriteOrReadSingle`), the same for the serial loop
//! ([`crate::ior::serial`]) and the deep one ([`crate::ior::iodepth`]): the data pattern or
//! the invalidated check buffer before it, the whole transfer with IOR's retries of short
//! transfers (§2.10), `-Y` fsync after it, `interIODelay`, verification of `-R`/`-W` and the
//! bookkeeping (count, bytes, latency, per-op record). Also what both loops share:
//! what a loop is asked to do ([`LoopSpec`]), what it did ([`LoopOutcome`]) and the wear-out
//! figures of §2.7.
//!
//! The recipe is generic over the backend: the serial loop runs it on the concrete backend
//! chosen once per phase ([`AnyBackend::with_file`]), the deep one on [`AnyBackend`]. Its
//! methods that a plain recipe ([`Recipe::is_plain`]) never needs take `PLAIN`: with it true,
//! the tests of the optional steps are compiled out of the loop that calls them.
//!
//! Owns the recipe of a transfer. It must not sequence transfers (the loops do), open, close
//! or decide phases (the engine, [`crate::ior::engine`], does).

use crate::backend::buffer::{AlignedBuf, BufferError, LentBuf};
use crate::backend::{Access, AnyBackend, AnyFile, Backend, BackendError, BackendResult};
use crate::comm::{Comm, ReduceOp};
use crate::ior::access::OffsetSequence;
use crate::ior::error::EngineError;
use crate::ior::params::{DataPacketType, IorParams};
use crate::ior::results::StonewallInfo;
use crate::ior::signature;
use crate::measure::latency::LatencyRecorder;
use crate::measure::log;
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
    /// Where the transfers go.
    pub io: LoopIo<'a>,
}

impl LoopSpec<'_> {
    /// The `-D` deadline that applies to this loop, seconds.
    pub(crate) fn deadline_secs(&self) -> Option<u64> {
        (self.stonewall && self.params.deadline_for_stonewalling > 0)
            .then_some(self.params.deadline_for_stonewalling as u64)
    }

    /// The transfer limit (wear-out iterations), `i64::MAX` for none.
    pub(crate) fn limit(&self) -> i64 {
        if self.limit > 0 {
            self.limit
        } else {
            i64::MAX
        }
    }
}

/// Where a loop's transfers go: the backend and the open file, and the ranks (for the
/// wear-out and `-c -D` agreements).
#[derive(Clone, Copy)]
pub struct LoopIo<'a> {
    /// The test's backend.
    pub backend: &'a AnyBackend,
    /// The open file.
    pub file: &'a AnyFile,
    /// The ranks of the test.
    pub comm: &'a dyn Comm,
}

impl LoopIo<'_> {
    /// fsync of the open file (`-Y` after a transfer, `-e` at the end of a write loop).
    pub(crate) async fn fsync(&self) -> Result<(), EngineError> {
        fsync(self.backend, self.file).await
    }
}

/// fsync of `file` of `backend`, in the engine's error.
async fn fsync<B: Backend>(backend: &B, file: &B::File) -> Result<(), EngineError> {
    backend
        .fsync(file)
        .await
        .map_err(|e| EngineError::backend("fsync", e))
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

/// The recipe of every transfer of one loop, fixed for the phase: what to do before, during
/// and after a transfer, on backend `B`. Cheap to copy (the deep loop moves one into each
/// transfer).
pub(crate) struct Recipe<'a, B: Backend> {
    backend: &'a B,
    file: &'a B::File,
    access: Access,
    params: &'a IorParams,
    ptype: DataPacketType,
    sig: u32,
    /// `-G` (the random pattern's seed).
    g: i32,
    pr: u32,
    rank: usize,
    record_per_op: bool,
    /// Writes whose pattern changes per transfer (all but `timestamp`).
    needs_update: bool,
    /// `-R` / `-W`: invalidate before, verify after.
    check: bool,
    fsync_per_write: bool,
    inter_io_delay: Duration,
}

impl<B: Backend> Clone for Recipe<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: Backend> Copy for Recipe<'_, B> {}

impl<'a, B: Backend> Recipe<'a, B> {
    /// The recipe of `spec`'s transfers of `buf_len` bytes to `file` of `backend` (the
    /// concrete backend under `spec.io`, or `spec.io` itself).
    pub(crate) fn new(
        spec: &LoopSpec<'a>,
        backend: &'a B,
        file: &'a B::File,
        buf_len: usize,
    ) -> Self {
        let p = spec.params;
        let is_write = spec.access.is_write();
        Recipe {
            backend,
            file,
            access: spec.access,
            params: p,
            ptype: p.data_packet_type,
            sig: spec.sig,
            g: p.set_time_stamp_signature,
            pr: spec.pretend_rank,
            rank: spec.rank,
            record_per_op: spec.record_per_op,
            needs_update: is_write
                && p.data_packet_type != DataPacketType::Timestamp
                && buf_len >= 8,
            check: matches!(spec.access, Access::WriteCheck | Access::ReadCheck),
            fsync_per_write: is_write && p.fsync_per_write != 0,
            inter_io_delay: inter_io_delay(spec.access, p),
        }
    }

    /// Whether every transfer is the transfer alone: no pattern update, no check, no `-Y`, no
    /// `interIODelay`, no per-op record. The steps that a plain recipe skips are the ones the
    /// `PLAIN` instances of its methods leave out.
    pub(crate) fn is_plain(&self) -> bool {
        !self.needs_update
            && !self.check
            && !self.fsync_per_write
            && self.inter_io_delay.is_zero()
            && !self.record_per_op
    }

    /// Before the transfer at `offset`: the write pattern, or a check buffer invalidated.
    #[inline(always)]
    pub(crate) fn prepare(&self, buf: &mut [u8], offset: u64) {
        if self.needs_update {
            signature::update_for_write(buf, self.ptype, self.sig, self.g, self.pr, offset);
        }
        if self.check {
            signature::invalidate_for_read(buf);
        }
    }

    /// The transfer at `offset` when the backend completes it before returning (DUMMY, POSIX
    /// pread/pwrite) and no `-Y` follows: without building the async transfer, the harness
    /// cost of the serial loop. [`AtOnce::Short`] and [`AtOnce::Later`] are finished by
    /// [`Recipe::complete`].
    #[inline(always)]
    pub(crate) fn transfer_at_once<const PLAIN: bool>(
        &self,
        buf: &mut AlignedBuf,
        offset: u64,
    ) -> Result<AtOnce, EngineError> {
        if !PLAIN && self.fsync_per_write {
            return Ok(AtOnce::Later);
        }
        match self.backend.xfer_sync(self.file, self.access, buf, offset) {
            None => Ok(AtOnce::Later),
            Some(Ok(n)) if n == buf.len() => Ok(AtOnce::Done(n)),
            Some(Ok(n)) => Ok(AtOnce::Short(n)),
            Some(Err(e)) => Err(EngineError::backend(access_op(self.access), e)),
        }
    }

    /// Finishes what [`Recipe::transfer_at_once`] did not: IOR's retries of a short transfer,
    /// or the whole transfer through the async API (then `-Y`).
    pub(crate) async fn complete(
        &self,
        buf: &mut AlignedBuf,
        offset: u64,
        at: AtOnce,
    ) -> Result<usize, EngineError> {
        match at {
            AtOnce::Done(n) => Ok(n),
            AtOnce::Short(first) => self.retry_short(buf, offset, first).await,
            AtOnce::Later => self.transfer(buf, offset).await,
        }
    }

    /// IOR's retries of a transfer of which the backend moved only `first` bytes.
    async fn retry_short(
        &self,
        buf: &mut [u8],
        offset: u64,
        first: usize,
    ) -> Result<usize, EngineError> {
        complete_short_transfer(
            self.backend,
            self.file,
            self.access,
            buf,
            offset,
            self.params.single_xfer_attempt != 0,
            self.rank,
            first,
        )
        .await
    }

    /// The transfer itself, completed whatever the backend's short counts, then `-Y`.
    #[inline(always)]
    pub(crate) async fn transfer(
        &self,
        buf: &mut AlignedBuf,
        offset: u64,
    ) -> Result<usize, EngineError> {
        let (backend, file, access) = (self.backend, self.file, self.access);
        let first = match backend.xfer_sync(file, access, buf, offset) {
            Some(r) => r,
            None if access.is_write() && backend.takes_write_bytes() => {
                write_lent(backend, file, buf, offset).await
            }
            None if !access.is_write() && backend.queues_owned() => {
                read_handed(backend, file, access, buf, offset).await
            }
            None => backend.xfer(file, access, buf, offset).await,
        }
        .map_err(|e| EngineError::backend(access_op(access), e))?;
        let n = if first == buf.len() {
            first
        } else {
            self.retry_short(buf, offset, first).await?
        };
        if self.fsync_per_write {
            self.fsync().await?;
        }
        Ok(n)
    }

    /// The transfer with its buffer handed over for its duration, for backends that queue
    /// transfers ([`Backend::queues_owned`]; others, and writes of a backend that takes
    /// them as shared bytes, get [`Recipe::transfer`] on the buffer): completed whatever
    /// the short counts, then `-Y`. The buffer comes back with the result.
    pub(crate) async fn transfer_owned(
        &self,
        mut buf: AlignedBuf,
        offset: u64,
    ) -> (AlignedBuf, Result<usize, EngineError>) {
        let backend = self.backend;
        if !backend.queues_owned() || (self.access.is_write() && backend.takes_write_bytes()) {
            let r = self.transfer(&mut buf, offset).await;
            return (buf, r);
        }
        let len = buf.len();
        let (mut buf, first) = backend
            .xfer_owned(self.file, self.access, buf, offset)
            .await;
        let r = match first {
            Err(e) => Err(EngineError::backend(access_op(self.access), e)),
            Ok(n) if n == len => Ok(n),
            Ok(n) => self.retry_short(&mut buf, offset, n).await,
        };
        let r = match r {
            Ok(n) if self.fsync_per_write => self.fsync().await.map(|_| n),
            r => r,
        };
        (buf, r)
    }

    /// `-Y`: fsync of the file after a write.
    async fn fsync(&self) -> Result<(), EngineError> {
        fsync(self.backend, self.file).await
    }

    /// `interIODelay` after a transfer.
    #[inline(always)]
    pub(crate) fn delay(&self) {
        if !self.inter_io_delay.is_zero() {
            std::thread::sleep(self.inter_io_delay);
        }
    }

    /// After the transfer at `offset` of a check: whether the data verify (counted in
    /// `out.errors` when not).
    #[inline(always)]
    pub(crate) fn verify(&self, out: &mut LoopOutcome, buf: &[u8], offset: u64) {
        if self.check && !signature::verify(buf, self.ptype, self.sig, self.g, self.pr, offset) {
            out.errors += 1;
        }
    }

    /// The bookkeeping of a finished transfer of `n` bytes that took
    /// `d` (in the unit of `latency`: nanoseconds, or raw clock units): count, bytes, latency,
    /// the per-op record (`op` gives the transfer's start since the phase start and its
    /// duration, seconds; asked for only when recorded, never when `PLAIN`). The interval
    /// series (and through it the progress display) is the loop's, which has the completion's
    /// clock reading.
    #[inline(always)]
    pub(crate) fn count<const PLAIN: bool>(
        &self,
        out: &mut LoopOutcome,
        n: usize,
        d: u64,
        op: impl FnOnce() -> (f64, f64),
        latency: &mut LatencyRecorder,
    ) {
        latency.record(d);
        if !PLAIN && self.record_per_op {
            out.per_op.push(op());
        }
        out.pairs += 1;
        out.bytes += n as i64;
    }
}

/// The `interIODelay` (`-d`) after each transfer of `access`: IOR sleeps after `WRITE` and
/// `READ` transfers only, never after the `WRITECHECK` (`-W`) and `READCHECK` (`-R`, which IOR
/// makes the timed read itself) ones (ior.c, `WriteOrReadSingle`).
fn inter_io_delay(access: Access, p: &IorParams) -> Duration {
    match access {
        Access::Write | Access::Read => Duration::from_micros(p.inter_io_delay.max(0) as u64),
        Access::WriteCheck | Access::ReadCheck => Duration::ZERO,
    }
}

/// How far [`Recipe::transfer_at_once`] got.
pub(crate) enum AtOnce {
    /// The whole transfer is done: its bytes.
    Done(usize),
    /// The backend moved only these bytes: IOR's retries remain.
    Short(usize),
    /// Nothing was done: the backend is async only, or `-Y` follows each write.
    Later,
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
async fn write_lent<B: Backend>(
    backend: &B,
    file: &B::File,
    buf: &mut AlignedBuf,
    offset: u64,
) -> BackendResult<usize> {
    let (lent, bytes) = std::mem::replace(buf, AlignedBuf::empty()).lend();
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

/// A read through [`Backend::xfer_owned`], for backends that queue transfers: the buffer is
/// handed over for the call (BENCHFS receives the reply straight into it, as the deep loop
/// does) and put back with the result, so the serial loop saves the copy too.
#[inline(never)]
async fn read_handed<B: Backend>(
    backend: &B,
    file: &B::File,
    access: Access,
    buf: &mut AlignedBuf,
    offset: u64,
) -> BackendResult<usize> {
    let owned = std::mem::replace(buf, AlignedBuf::empty());
    let (back, r) = backend.xfer_owned(file, access, owned, offset).await;
    *buf = back;
    r
}

/// The slow path of a transfer: IOR's retries of a short transfer (§2.10).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
async fn complete_short_transfer<B: Backend>(
    backend: &B,
    file: &B::File,
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

/// The operation `access` is, in errors.
pub(crate) fn access_op(access: Access) -> &'static str {
    if access.is_write() {
        "write"
    } else {
        "read"
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inter_io_delay_applies_to_writes_and_reads_not_to_checks() {
        let p = IorParams {
            inter_io_delay: 2500,
            ..IorParams::default()
        };
        let d = Duration::from_micros(2500);
        assert_eq!(inter_io_delay(Access::Write, &p), d);
        assert_eq!(inter_io_delay(Access::Read, &p), d);
        assert_eq!(inter_io_delay(Access::WriteCheck, &p), Duration::ZERO);
        assert_eq!(inter_io_delay(Access::ReadCheck, &p), Duration::ZERO);
        let neg = IorParams {
            inter_io_delay: -5,
            ..IorParams::default()
        };
        assert_eq!(inter_io_delay(Access::Write, &neg), Duration::ZERO);
    }
}
