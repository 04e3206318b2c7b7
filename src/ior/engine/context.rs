//! What a rank holds while it runs one test, and the small services every part of the engine
//! uses: the per-test resources ([`TestRun`]: communicator, backend, transfer buffer, latency
//! recorder), this rank's offsets, warnings under `--warningAsErrors`, rows handed to the
//! reporter, and the pick of the transfer loop (serial, or deep with `--iodepth`).
//!
//! Owns these. It must not sequence anything (the test, repetition, timed phase and check pass
//! files of [`super`] do).

use crate::backend::buffer::AlignedBuf;
use crate::backend::{Access, AccessMode, AnyBackend, Backend, BackendError};
use crate::comm::Comm;
use crate::ior::access::{self, OffsetSequence};
use crate::ior::error::EngineError;
use crate::ior::iodepth;
use crate::ior::output::Reporter;
use crate::ior::params::{IorParams, TaskLayout};
use crate::ior::progress::Progress;
use crate::ior::results::{ResultEntry, TestResults};
use crate::ior::serial;
use crate::ior::transfer::{LoopIo, LoopOutcome, LoopSpec};
use crate::measure::latency::LatencyRecorder;
use crate::measure::log;
use crate::measure::series::IntervalRecorder;

/// What a test leaves behind on this rank, also when it fails midway.
#[derive(Default)]
pub(super) struct TestState {
    pub(super) results: Option<TestResults>,
    pub(super) data_errors: i64,
    /// Rank 0, until the first repetition prints the table header: the warnings of other
    /// ranks that follow it.
    pub(super) header_pending: Option<Vec<String>>,
}

/// Per-test resources of a rank.
pub(super) struct TestRun<'a> {
    pub(super) comm: &'a dyn Comm,
    pub(super) params: &'a IorParams,
    pub(super) layout: TaskLayout,
    pub(super) backend: AnyBackend,
    pub(super) buf: AlignedBuf,
    pub(super) latency: LatencyRecorder,
    pub(super) progress: &'a Progress,
    pub(super) host: String,
    pub(super) test_start: f64,
    /// Rank 0's clock at test start: the `-z` seed when none is given (same for every phase).
    pub(super) seed_now: u64,
}

impl TestRun<'_> {
    /// The offsets this rank accesses for `pretend_rank`'s data (§2.3-§2.4). `as_written`
    /// applies IOR's `-z -z` write detail (last block first; every rank with `-F`, rank 0 for a
    /// shared file), for the write and for reading back what it wrote.
    pub(super) fn offsets(
        &self,
        pretend_rank: usize,
        file_size: Option<u64>,
        as_written: bool,
    ) -> OffsetSequence {
        let seed = access::random_seed(self.params, pretend_rank, self.seed_now);
        let seq = OffsetSequence::new(self.params, &self.layout, pretend_rank, seed, file_size);
        if as_written && (self.params.file_per_proc != 0 || self.comm.rank() == 0) {
            seq.with_last_block_first()
        } else {
            seq
        }
    }
}

/// What one pass over a file moves: the repetition's signature, the rank whose data it is
/// (pretendRank), the file, and the wear-out limit (0 = none) of stonewalled transfers.
#[derive(Clone, Copy)]
pub(super) struct Pass<'n> {
    pub(super) sig: u32,
    pub(super) pretend_rank: usize,
    pub(super) name: &'n str,
    pub(super) limit: i64,
}

impl<'n> Pass<'n> {
    /// The pass of `pretend_rank`'s data in file `name`.
    pub(super) fn new(sig: u32, pretend_rank: usize, name: &'n str, limit: i64) -> Self {
        Pass {
            sig,
            pretend_rank,
            name,
            limit,
        }
    }

    /// The transfer loop of this pass: `access` over `seq` through `io`, with `-D` applying
    /// (`stonewall`) or not, recording per-op data or not.
    pub(super) fn spec<'a>(
        &self,
        params: &'a IorParams,
        access: Access,
        seq: &'a OffsetSequence,
        stonewall: bool,
        record_per_op: bool,
        io: LoopIo<'a>,
    ) -> LoopSpec<'a> {
        LoopSpec {
            params,
            access,
            pretend_rank: self.pretend_rank as u32,
            sig: self.sig,
            seq,
            limit: self.limit,
            stonewall,
            record_per_op,
            rank: io.comm.rank(),
            io,
        }
    }
}

/// The aggregate file size the test should produce (`-b` x `-s` x tasks).
pub(super) fn expected_agg(params: &IorParams, layout: &TaskLayout) -> i64 {
    params.block_size * params.segment_count * layout.num_tasks as i64
}

/// Print a warning, or fail with it under `--warningAsErrors`.
pub(super) fn warn(params: &IorParams, msg: &str) -> Result<(), EngineError> {
    if params.warning_as_errors != 0 {
        return Err(EngineError::Fatal(msg.to_string()));
    }
    log::warn(msg);
    Ok(())
}

/// The error of a create/open that failed: the backend's own words when they are IOR's
/// (POSIX's `open64("…", flags) failed: …`), else IOR's `Cannot create file` / `Cannot open
/// file` with the file and the backend's reason.
pub(super) fn open_failed(what: &str, name: &str, e: BackendError) -> EngineError {
    match e {
        BackendError::Open { .. } => EngineError::Fatal(e.to_string()),
        e => EngineError::Fatal(format!("{what} \"{name}\": {e}")),
    }
}

/// Whether `path` exists (an error counts as no).
pub(super) async fn exists(backend: &AnyBackend, path: &str) -> bool {
    backend
        .access(path, AccessMode::Exists)
        .await
        .unwrap_or(false)
}

/// `-u`: creates the directory of `pr`'s files if it does not exist yet.
pub(super) async fn make_unique_dir(t: &TestRun<'_>, pr: usize) -> Result<(), EngineError> {
    if t.params.dry_run != 0 {
        return Ok(());
    }
    if let Some(dir) = access::unique_dir(t.params, pr) {
        if !exists(&t.backend, &dir).await {
            if let Err(e) = t.backend.mkdir(&dir, 0o755).await {
                // Another task may have created it meanwhile.
                if !exists(&t.backend, &dir).await {
                    return Err(EngineError::backend("mkdir", e));
                }
            }
        }
    }
    Ok(())
}

/// Appends a row to the test's results and hands it to the reporter.
pub(super) fn push_entry(
    entry: ResultEntry,
    reporter: Option<&mut (dyn Reporter + Send + 'static)>,
    state: &mut TestState,
) -> Result<(), EngineError> {
    if let Some(res) = state.results.as_mut() {
        res.entries.push(entry);
        if let (Some(r), Some(last)) = (reporter, res.entries.last()) {
            r.entry(res, last)?;
        }
    }
    Ok(())
}

/// Runs one loop of transfers, each counted into `series`: IOR's serial loop, or the deep one
/// when `--iodepth` is above 1; then `-e` (fsync at the end of a write phase).
pub(super) async fn transfer_loop(
    spec: &LoopSpec<'_>,
    buf: &mut AlignedBuf,
    latency: &mut LatencyRecorder,
    series: &mut IntervalRecorder,
) -> Result<LoopOutcome, EngineError> {
    if spec.seq.is_empty() {
        return Ok(LoopOutcome::default());
    }
    let out = if spec.params.iodepth > 1 {
        iodepth::transfer_loop_deep(spec, buf, latency, series).await?
    } else {
        serial::transfer_loop(spec, buf, latency, series).await?
    };
    if spec.access.is_write() && spec.params.fsync != 0 {
        spec.io.fsync().await?;
    }
    Ok(out)
}
