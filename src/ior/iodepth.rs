//! `--iodepth N` (beyond IOR): up to N transfers of one task in flight at once on the async
//! backend API, each with its own buffer.
//!
//! Owns the deep variant of the transfer loop of [`crate::ior::phase`] with the same semantics:
//! the same offsets in the same submission order, the same data patterns and verification,
//! stonewalling checked at every completion (no new transfer is submitted once the wall is hit;
//! those in flight complete and count), wear-out, `minTimeDuration`, `-Y` and the final `-e`.
//! The latency of a transfer is its own submit-to-completion time. Depth 1 never comes here:
//! IOR's one-at-a-time loop stays the lean hot path.

use crate::backend::buffer::AlignedBuf;
use crate::backend::{Access, AnyBackend, AnyFile, Backend};
use crate::comm::{Comm, ReduceOp};
use crate::ior::error::EngineError;
use crate::ior::latency::LatencyRecorder;
use crate::ior::params::DataPacketType;
use crate::ior::phase::{transfer_whole, LoopOutcome, LoopSpec};
use crate::ior::progress::Progress;
use crate::ior::signature;
use futures::stream::{FuturesUnordered, StreamExt};
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
    spec: &'a LoopSpec<'a>,
    backend: &'a AnyBackend,
    file: &'a AnyFile,
    pool: Vec<AlignedBuf>,
    out: LoopOutcome,
    phase_start: Instant,
    needs_update: bool,
    check: bool,
}

impl<'a> Deep<'a> {
    /// Prepare a buffer for the transfer at `offset` and start it.
    fn start(
        &mut self,
        offset: u64,
    ) -> Result<impl std::future::Future<Output = Done> + 'a, EngineError> {
        let p = self.spec.params;
        let mut buf = self
            .pool
            .pop()
            .ok_or_else(|| EngineError::Fatal("iodepth buffer pool exhausted".into()))?;
        if self.needs_update {
            signature::update_for_write(
                &mut buf,
                p.data_packet_type,
                self.spec.sig,
                p.set_time_stamp_signature,
                self.spec.pretend_rank,
                offset,
            );
        }
        if self.check {
            signature::invalidate_for_read(&mut buf);
        }
        let (backend, file, access) = (self.backend, self.file, self.spec.access);
        let single = p.single_xfer_attempt != 0;
        let rank = self.spec.rank;
        let fsync = access.is_write() && p.fsync_per_write != 0;
        Ok(async move {
            let t0 = Instant::now();
            let mut r = transfer_whole(backend, file, access, &mut buf, offset, single, rank).await;
            if r.is_ok() && fsync {
                if let Err(e) = backend.fsync(file).await {
                    r = Err(EngineError::backend("fsync", e));
                }
            }
            (buf, offset, r, t0, Instant::now())
        })
    }

    /// Account for a finished transfer; returns its buffer to the pool.
    fn finish(
        &mut self,
        done: Done,
        latency: &mut LatencyRecorder,
        progress: &Progress,
    ) -> Result<(), EngineError> {
        let (buf, offset, r, t0, t1) = done;
        let n = r?;
        let p = self.spec.params;
        if self.check
            && !signature::verify(
                &buf,
                p.data_packet_type,
                self.spec.sig,
                p.set_time_stamp_signature,
                self.spec.pretend_rank,
                offset,
            )
        {
            self.out.errors += 1;
        }
        latency.record(t1.duration_since(t0).as_nanos() as u64);
        if self.spec.record_per_op {
            self.out.per_op.push((
                t0.duration_since(self.phase_start).as_secs_f64(),
                t1.duration_since(t0).as_secs_f64(),
            ));
        }
        self.out.pairs += 1;
        self.out.bytes += n as i64;
        if progress.is_enabled() {
            progress.advance(buf.len() as u64);
        }
        self.pool.push(buf);
        if p.inter_io_delay > 0 {
            std::thread::sleep(Duration::from_micros(p.inter_io_delay as u64));
        }
        Ok(())
    }
}

/// The transfer loop with up to `iodepth` transfers in flight (see the module documentation).
pub async fn transfer_loop_deep(
    spec: &LoopSpec<'_>,
    backend: &AnyBackend,
    file: &AnyFile,
    base: &[u8],
    comm: &dyn Comm,
    latency: &mut LatencyRecorder,
    progress: &Progress,
) -> Result<LoopOutcome, EngineError> {
    let p = spec.params;
    let depth = p.iodepth.max(1) as usize;
    let mut pool = Vec::with_capacity(depth);
    for _ in 0..depth {
        let mut b = AlignedBuf::new(base.len())
            .map_err(|e| EngineError::Fatal(format!("cannot allocate transfer buffer: {e}")))?;
        b.copy_from_slice(base);
        pool.push(b);
    }
    let is_write = spec.access.is_write();
    let mut d = Deep {
        spec,
        backend,
        file,
        pool,
        out: LoopOutcome::default(),
        phase_start: Instant::now(),
        needs_update: is_write
            && p.data_packet_type != DataPacketType::Timestamp
            && base.len() >= 8,
        check: matches!(spec.access, Access::WriteCheck | Access::ReadCheck),
    };
    let len = spec.seq.len();
    let deadline = (spec.stonewall && p.deadline_for_stonewalling > 0)
        .then(|| Duration::from_secs(p.deadline_for_stonewalling as u64));
    let min_time = Duration::from_secs(p.min_time_duration.max(0) as u64);
    let limit = if spec.limit > 0 { spec.limit } else { i64::MAX };
    let collective_wall = deadline.is_some() && p.collective != 0;

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
        let Some(done) = inflight.next().await else {
            break;
        };
        d.finish(done, latency, progress)?;
        let now = Instant::now();
        let mut hit = deadline.is_some_and(|dl| now.duration_since(d.phase_start) > dl)
            || d.out.pairs >= limit;
        if collective_wall {
            hit = comm.allreduce_i64(hit as i64, ReduceOp::Max)? != 0;
        }
        wall |= hit;
    }

    if spec.stonewall && p.deadline_for_stonewalling > 0 && p.stone_walling_wear_out != 0 {
        let stonewall_time = d.phase_start.elapsed().as_secs_f64();
        let info = crate::ior::phase::wear_out_figures(comm, &d.out, stonewall_time)?;
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
            let Some(done) = inflight.next().await else {
                break;
            };
            d.finish(done, latency, progress)?;
        }
        d.out.pairs_accessed = pairs_max;
        d.out.stonewall = Some(info);
    }
    drop(inflight);

    if is_write && p.fsync != 0 {
        backend
            .fsync(file)
            .await
            .map_err(|e| EngineError::backend("fsync", e))?;
    }
    Ok(d.out)
}
