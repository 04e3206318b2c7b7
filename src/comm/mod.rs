//! How ranks coordinate: rank, size, barrier, reductions, broadcast, gather and node layout.
//!
//! Owns the [`Comm`] trait and its implementations: [`local::LocalComm`] (tasks as threads
//! inside one process, the `-N n` mode without MPI) and `mpi::MpiComm` (cargo feature `mpi`:
//! one rank per process under mpirun/srun). It knows
//! nothing about IOR or file systems: every collective moves plain bytes or numbers.
//!
//! Collective calls must be made by every rank of the communicator in the same order, as in MPI.
//! A rank that fails calls [`Comm::abort`]; every other rank's pending or later collective call
//! then returns [`CommError::Aborted`] instead of hanging.

pub(crate) mod launch;
pub mod local;
#[cfg(feature = "mpi")]
pub(crate) mod mpi;

use thiserror::Error;

/// Errors of collective operations.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommError {
    /// Another rank aborted the job.
    #[error("rank {rank} aborted: {message}")]
    Aborted {
        /// The rank that aborted first.
        rank: usize,
        /// Its message.
        message: String,
    },
    /// A collective was called with inconsistent arguments.
    #[error("collective mismatch: {0}")]
    Mismatch(String),
}

/// Reduction operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Sum.
    Sum,
}

/// A communicator: the set of ranks taking part in a test.
pub trait Comm: Send {
    /// This rank's number, `0..size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Blocks until every rank has called it.
    fn barrier(&self) -> Result<(), CommError>;
    /// Every rank contributes a byte vector; every rank receives all of them, by rank.
    fn allgather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>, CommError>;
    /// Node index of every rank (shared-memory domain, real or emulated), by rank.
    fn node_of_ranks(&self) -> Vec<usize>;
    /// Sub-communicator of ranks `0..n` (`-N`); `None` on ranks `>= n`.
    /// Every rank must call it.
    fn split_first(&self, n: usize) -> Result<Option<Box<dyn Comm>>, CommError>;
    /// Tell every rank that this one failed; later collectives fail with [`CommError::Aborted`].
    fn abort(&self, message: &str);

    /// Every rank contributes a byte vector; `root` receives all of them, by rank (the other
    /// ranks an empty list). The default goes through [`Comm::allgather_bytes`].
    fn gather_bytes(&self, data: &[u8], root: usize) -> Result<Vec<Vec<u8>>, CommError> {
        let all = self.allgather_bytes(data)?;
        Ok(if self.rank() == root { all } else { Vec::new() })
    }

    /// Broadcast bytes from `root` to every rank.
    fn bcast_bytes(&self, data: &[u8], root: usize) -> Result<Vec<u8>, CommError> {
        let all = self.allgather_bytes(if self.rank() == root { data } else { &[] })?;
        all.into_iter()
            .nth(root)
            .ok_or_else(|| CommError::Mismatch(format!("no root {root}")))
    }

    /// All-reduce of one `f64`.
    fn allreduce_f64(&self, v: f64, op: ReduceOp) -> Result<f64, CommError> {
        let all = self.allgather_f64(v)?;
        Ok(reduce_f64(&all, op))
    }

    /// All-reduce of one `i64`.
    fn allreduce_i64(&self, v: i64, op: ReduceOp) -> Result<i64, CommError> {
        let all = self.allgather_i64(v)?;
        Ok(match op {
            ReduceOp::Min => all.iter().copied().min().unwrap_or(v),
            ReduceOp::Max => all.iter().copied().max().unwrap_or(v),
            ReduceOp::Sum => all.iter().sum(),
        })
    }

    /// All-gather of one `f64` per rank.
    fn allgather_f64(&self, v: f64) -> Result<Vec<f64>, CommError> {
        self.allgather_bytes(&v.to_le_bytes())?
            .iter()
            .map(|b| {
                <[u8; 8]>::try_from(b.as_slice())
                    .map(f64::from_le_bytes)
                    .map_err(|_| CommError::Mismatch("f64 gather".into()))
            })
            .collect()
    }

    /// All-gather of one `i64` per rank.
    fn allgather_i64(&self, v: i64) -> Result<Vec<i64>, CommError> {
        self.allgather_bytes(&v.to_le_bytes())?
            .iter()
            .map(|b| {
                <[u8; 8]>::try_from(b.as_slice())
                    .map(i64::from_le_bytes)
                    .map_err(|_| CommError::Mismatch("i64 gather".into()))
            })
            .collect()
    }

    /// Broadcast one `u64` from `root`.
    fn bcast_u64(&self, v: u64, root: usize) -> Result<u64, CommError> {
        let b = self.bcast_bytes(&v.to_le_bytes(), root)?;
        <[u8; 8]>::try_from(b.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| CommError::Mismatch("u64 bcast".into()))
    }
}

/// What runs just before this process aborts an MPI job (`MPI_Abort` ends the process without
/// destructors): set once by the application layer, e.g. to remove the data of the servers
/// the process runs.
static BEFORE_ABORT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets [`BEFORE_ABORT`] (the first call wins).
pub fn set_before_abort(hook: fn()) {
    let _ = BEFORE_ABORT.set(hook);
}

/// Runs the hook set with [`set_before_abort`], if any (called by communicators whose abort
/// ends the process).
pub fn before_abort() {
    if let Some(hook) = BEFORE_ABORT.get() {
        hook();
    }
}

/// Reduce a slice of `f64` with `op` (NaN-free inputs assumed).
pub fn reduce_f64(all: &[f64], op: ReduceOp) -> f64 {
    match op {
        ReduceOp::Min => all.iter().copied().fold(f64::INFINITY, f64::min),
        ReduceOp::Max => all.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ReduceOp::Sum => all.iter().sum(),
    }
}
