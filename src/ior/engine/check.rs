//! The untimed read-back of `-W` (IOR's write check): the write's own offsets read again,
//! each transfer verified against the signature, the errors summed over ranks. No timers, no
//! row, no progress display.
//!
//! Owns the check pass. It must not report (its caller, [`super::repetition`], does).

use super::context::{open_failed, transfer_loop, Pass, TestRun};
use crate::backend::{Access, Backend, OpenFlags};
use crate::comm::ReduceOp;
use crate::ior::error::EngineError;
use crate::ior::transfer::LoopIo;
use crate::measure::latency::LatencyRecorder;
use crate::measure::series::IntervalRecorder;
use std::time::Duration;

/// The untimed read-back of `-W`; returns the errors summed over ranks.
pub(super) async fn check_pass(t: &mut TestRun<'_>, pass: Pass<'_>) -> Result<i64, EngineError> {
    let comm = t.comm;
    let params = t.params;
    // The same offsets the write used (its last-block-first detail included).
    let seq = t.offsets(pass.pretend_rank, None, true);
    let mut errors = 0;
    if params.dry_run == 0 {
        let f = t
            .backend
            .open(pass.name, OpenFlags::read())
            .await
            .map_err(|e| open_failed("Cannot open file", pass.name, e))?;
        let io = LoopIo {
            backend: &t.backend,
            file: &f,
            comm,
        };
        let spec = pass.spec(params, Access::WriteCheck, &seq, false, false, io);
        let mut scratch = LatencyRecorder::new();
        let mut untimed = IntervalRecorder::start(Duration::from_secs(3600), None);
        let out = transfer_loop(&spec, &mut t.buf, &mut scratch, &mut untimed).await?;
        t.backend
            .close(f)
            .await
            .map_err(|e| EngineError::backend("close", e))?;
        errors = out.errors;
    }
    Ok(comm.allreduce_i64(errors, ReduceOp::Sum)?)
}
