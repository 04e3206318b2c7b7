//! The transfer loop of one phase on one rank (IOR's `WriteOrRead`): offsets, data patterns,
//! retries of short transfers, per-transfer latency, `-Y`, `interIODelay`, stonewalling with
//! wear-out, `minTimeDuration`, `-R`/`-W` verification and the final `-e` fsync.
//!
//! Owns what happens between the `t2` and `t3` timestamps of SPEC §2.6 (and the untimed
//! write-check pass). Opening, closing, barriers and reductions over ranks belong to
//! [`crate::ior::engine`]; the only collectives here are the wear-out reductions of §2.7 and
//! the per-transfer stonewall broadcast of `-c -D`, which every rank reaches in step.

use crate::comm::{Comm, ReduceOp};
use crate::ior::access::OffsetSequence;
use crate::ior::backend::{Access, AnyBackend, AnyFile, Backend};
use crate::ior::engine::EngineError;
use crate::ior::latency::LatencyRecorder;
use crate::ior::log;
use crate::ior::params::{DataPacketType, IorParams};
use crate::ior::progress::Progress;
use crate::ior::results::StonewallInfo;
use crate::ior::signature;
use std::time::{Duration, Instant};

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
pub(crate) async fn transfer_whole(
    backend: &AnyBackend,
    file: &AnyFile,
    access: Access,
    buf: &mut [u8],
    offset: u64,
    single_attempt: bool,
    rank: usize,
) -> Result<usize, EngineError> {
    let len = buf.len();
    let first = backend
        .xfer(file, access, buf, offset)
        .await
        .map_err(|e| EngineError::backend(access_op(access), e))?;
    if first == len {
        return Ok(len);
    }
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

/// Runs the transfer loop of one phase on this rank.
#[allow(clippy::too_many_arguments)]
pub async fn transfer_loop(
    spec: &LoopSpec<'_>,
    backend: &AnyBackend,
    file: &AnyFile,
    buf: &mut [u8],
    comm: &dyn Comm,
    latency: &mut LatencyRecorder,
    progress: &Progress,
) -> Result<LoopOutcome, EngineError> {
    let p = spec.params;
    let access = spec.access;
    let is_write = access.is_write();
    let check = matches!(access, Access::WriteCheck | Access::ReadCheck);
    let ptype = p.data_packet_type;
    let needs_update = is_write && ptype != DataPacketType::Timestamp && buf.len() >= 8;
    let deadline = if spec.stonewall && p.deadline_for_stonewalling > 0 {
        Some(Duration::from_secs(p.deadline_for_stonewalling as u64))
    } else {
        None
    };
    let collective_wall = deadline.is_some() && p.collective != 0;
    let limit = if spec.limit > 0 { spec.limit } else { i64::MAX };
    let min_time = Duration::from_secs(p.min_time_duration.max(0) as u64);
    let inter_io_delay = Duration::from_micros(p.inter_io_delay.max(0) as u64);
    let fsync_per_write = is_write && p.fsync_per_write != 0;
    let len = spec.seq.len();
    let xfer_bytes = buf.len() as u64;
    let progress_on = progress.is_enabled();

    let mut out = LoopOutcome::default();
    if len == 0 {
        return Ok(out);
    }
    if p.iodepth > 1 {
        return crate::ior::iodepth::transfer_loop_deep(
            spec, backend, file, buf, comm, latency, progress,
        )
        .await;
    }
    let phase_start = Instant::now();
    let mut last = phase_start;
    let mut i: u64 = 0;
    let mut hit = false;

    // Main pass(es): stop at the wall, at the limit, or at the end (repeat for minTimeDuration).
    loop {
        let offset = spec.seq.get(i);
        if needs_update {
            signature::update_for_write(
                buf,
                ptype,
                spec.sig,
                p.set_time_stamp_signature,
                spec.pretend_rank,
                offset,
            );
        }
        if check {
            signature::invalidate_for_read(buf);
        }
        let n = transfer_whole(
            backend,
            file,
            access,
            buf,
            offset,
            p.single_xfer_attempt != 0,
            spec.rank,
        )
        .await?;
        if fsync_per_write {
            backend
                .fsync(file)
                .await
                .map_err(|e| EngineError::backend("fsync", e))?;
        }
        if !inter_io_delay.is_zero() {
            std::thread::sleep(inter_io_delay);
        }
        if check
            && !signature::verify(
                buf,
                ptype,
                spec.sig,
                p.set_time_stamp_signature,
                spec.pretend_rank,
                offset,
            )
        {
            out.errors += 1;
        }
        let now = Instant::now();
        let d = now.duration_since(last);
        latency.record(d.as_nanos() as u64);
        if spec.record_per_op {
            out.per_op.push((
                last.duration_since(phase_start).as_secs_f64(),
                d.as_secs_f64(),
            ));
        }
        last = now;
        out.pairs += 1;
        out.bytes += n as i64;
        if progress_on {
            progress.advance(xfer_bytes);
        }
        i += 1;
        let mut wall =
            deadline.is_some_and(|dl| now.duration_since(phase_start) > dl) || out.pairs == limit;
        if collective_wall {
            wall = comm.allreduce_i64(wall as i64, ReduceOp::Max)? != 0;
        }
        if wall {
            hit = true;
            break;
        }
        if i == len {
            if now.duration_since(phase_start) < min_time {
                i = 0;
                continue;
            }
            break;
        }
    }

    // Wear-out (§2.7): every rank completes as many transfers as the busiest one did.
    if spec.stonewall && p.deadline_for_stonewalling > 0 && p.stone_walling_wear_out != 0 {
        let _ = hit;
        let stonewall_time = Instant::now().duration_since(phase_start).as_secs_f64();
        let pairs_max = comm.allreduce_i64(out.pairs, ReduceOp::Max)?;
        let pairs_min = comm.allreduce_i64(out.pairs, ReduceOp::Min)?;
        let data_min = comm.allreduce_i64(out.bytes, ReduceOp::Min)? as f64;
        let data_sum = comm.allreduce_i64(out.bytes, ReduceOp::Sum)? as f64;
        let time0 = comm.bcast_u64(stonewall_time.to_bits(), 0)?;
        let info = StonewallInfo {
            pairs_min,
            pairs_max,
            data_min,
            data_mean: data_sum / comm.size() as f64,
            time: f64::from_bits(time0),
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
        if p.verbose >= 1 {
            log::line(&format!(
                "{}: stonewalling pairs accessed: {}",
                spec.rank, out.pairs
            ));
        }
        while out.pairs < pairs_max {
            if i >= len {
                i = 0;
            }
            let offset = spec.seq.get(i);
            if needs_update {
                signature::update_for_write(
                    buf,
                    ptype,
                    spec.sig,
                    p.set_time_stamp_signature,
                    spec.pretend_rank,
                    offset,
                );
            }
            if check {
                signature::invalidate_for_read(buf);
            }
            let n = transfer_whole(
                backend,
                file,
                access,
                buf,
                offset,
                p.single_xfer_attempt != 0,
                spec.rank,
            )
            .await?;
            if fsync_per_write {
                backend
                    .fsync(file)
                    .await
                    .map_err(|e| EngineError::backend("fsync", e))?;
            }
            if check
                && !signature::verify(
                    buf,
                    ptype,
                    spec.sig,
                    p.set_time_stamp_signature,
                    spec.pretend_rank,
                    offset,
                )
            {
                out.errors += 1;
            }
            let now = Instant::now();
            latency.record(now.duration_since(last).as_nanos() as u64);
            if spec.record_per_op {
                out.per_op.push((
                    last.duration_since(phase_start).as_secs_f64(),
                    now.duration_since(last).as_secs_f64(),
                ));
            }
            last = now;
            out.pairs += 1;
            out.bytes += n as i64;
            if progress_on {
                progress.advance(xfer_bytes);
            }
            i += 1;
        }
        out.pairs_accessed = pairs_max;
        out.stonewall = Some(info);
    }

    if is_write && p.fsync != 0 {
        backend
            .fsync(file)
            .await
            .map_err(|e| EngineError::backend("fsync", e))?;
    }
    Ok(out)
}
