//! Ranks as MPI processes: the communicator of `mpirun`/`srun benchfs-bench` (cargo feature `mpi`).
//!
//! Owns MPI's lifetime in this process ([`MpiSession`]: `MPI_Init_thread` once, `MPI_Finalize`
//! when the session is dropped) and [`MpiComm`], the [`Comm`] implementation over rsmpi: barrier,
//! allgatherv of byte vectors, the node layout from `MPI_Comm_split_type(SHARED)` (or emulated
//! with `--tasks-per-node`), `-N` sub-communicators from `MPI_Comm_split`, and `MPI_Abort`.
//! Like [`super::local`], it must not know what the bytes it moves mean, nor print anything but
//! the abort message.

use super::{Comm, CommError};
use mpi::datatype::PartitionMut;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Color, Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};
use mpi::Count;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Errors of starting MPI.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MpiError {
    /// `MPI_Init` was already called in this process (MPI can be initialised only once).
    #[error("MPI was already initialised in this process (it can be initialised only once)")]
    AlreadyInitialised,
}

/// Set once `MPI_Init_thread` ran through [`MpiSession::init`]; never reset (MPI cannot be
/// initialised again after `MPI_Finalize`).
static INITIALISED: AtomicBool = AtomicBool::new(false);

/// MPI in this process: initialised by [`MpiSession::init`], finalised when dropped.
///
/// Every [`MpiComm`] must be dropped before the session (MPI calls after `MPI_Finalize` are
/// erroneous); the driver keeps the session for the whole run and drops it last.
pub struct MpiSession {
    universe: Universe,
}

impl MpiSession {
    /// Initialise MPI (requesting `MPI_THREAD_SERIALIZED`). Fails if MPI was already initialised
    /// in this process, by this function or by anyone else.
    pub fn init() -> Result<MpiSession, MpiError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(MpiError::AlreadyInitialised);
        }
        let (universe, _threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or(MpiError::AlreadyInitialised)?;
        Ok(MpiSession { universe })
    }

    /// The world communicator. `tasks_per_node > 0` emulates nodes of that many consecutive
    /// ranks (`--tasks-per-node`, `IOR_FAKE_TASK_PER_NODES`); 0 takes the real nodes from
    /// `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`. Collective: every rank must call it.
    pub fn world(&self, tasks_per_node: usize) -> Result<MpiComm, CommError> {
        let world = self.universe.world();
        let rank = usize::try_from(world.rank())
            .map_err(|_| CommError::Mismatch("negative MPI rank".into()))?;
        let size = usize::try_from(world.size())
            .map_err(|_| CommError::Mismatch("negative MPI size".into()))?;
        let nodes = if tasks_per_node > 0 {
            (0..size).map(|r| r / tasks_per_node).collect()
        } else {
            shared_memory_nodes(&world)?
        };
        Ok(MpiComm {
            comm: world,
            rank,
            size,
            world_rank: rank,
            world_size: size,
            nodes,
        })
    }
}

/// Node index of every rank of `world` from the shared-memory split: ranks that share memory
/// get the same index; indices count distinct nodes in order of their lowest rank, so rank 0
/// is on node 0 and every rank computes the same vector.
fn shared_memory_nodes(world: &SimpleCommunicator) -> Result<Vec<usize>, CommError> {
    let shared = world.split_shared(world.rank());
    // The leader of a node is its lowest world rank (shared rank 0, keys are world ranks).
    let mut leader: i32 = world.rank();
    shared.process_at_rank(0).broadcast_into(&mut leader);
    let mut leaders = vec![0i32; world.size().max(0) as usize];
    world.all_gather_into(&leader, &mut leaders[..]);
    Ok(node_indices(&leaders))
}

/// Map per-rank node keys to node indices `0..`, numbered in order of first appearance.
pub fn node_indices<K: PartialEq + Copy>(keys: &[K]) -> Vec<usize> {
    let mut seen: Vec<K> = Vec::new();
    keys.iter()
        .map(|k| match seen.iter().position(|s| s == k) {
            Some(i) => i,
            None => {
                seen.push(*k);
                seen.len() - 1
            }
        })
        .collect()
}

/// One rank's handle on an MPI communicator (the world or a `-N` sub-communicator).
pub struct MpiComm {
    comm: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// This process's rank and size in `MPI_COMM_WORLD` (for the abort message).
    world_rank: usize,
    world_size: usize,
    /// Node index of every rank of this communicator.
    nodes: Vec<usize>,
}

// SAFETY: an MPI communicator handle is a plain identifier that any thread may pass to MPI
// once MPI is initialised with MPI_THREAD_SERIALIZED (or higher). `MpiComm` is Send but not
// Sync, so one handle is used by one thread at a time; the driver runs a rank on one thread and
// makes all of this process's MPI calls from it, so calls are never concurrent.
unsafe impl Send for MpiComm {}

impl MpiComm {}

fn count(n: usize, what: &str) -> Result<Count, CommError> {
    Count::try_from(n).map_err(|_| CommError::Mismatch(format!("{what} too large for MPI ({n})")))
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn barrier(&self) -> Result<(), CommError> {
        self.comm.barrier();
        Ok(())
    }

    fn allgather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
        // Lengths first, then one allgatherv of the concatenation.
        let mine = count(data.len(), "contribution")?;
        let mut counts: Vec<Count> = vec![0; self.size];
        self.comm.all_gather_into(&mine, &mut counts[..]);
        let mut displs: Vec<Count> = Vec::with_capacity(self.size);
        let mut total: usize = 0;
        for &c in &counts {
            displs.push(count(total, "gathered bytes")?);
            total += usize::try_from(c)
                .map_err(|_| CommError::Mismatch("negative gather length".into()))?;
        }
        count(total, "gathered bytes")?;
        // Never pass an empty slice: its dangling address (0x1) is Open MPI's MPI_IN_PLACE.
        let pad = [0u8; 1];
        let send: &[u8] = if data.is_empty() { &pad[..0] } else { data };
        let mut all = vec![0u8; total.max(1)];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            self.comm.all_gather_varcount_into(send, &mut part);
        }
        let mut out = Vec::with_capacity(self.size);
        for (&c, &d) in counts.iter().zip(&displs) {
            let (c, d) = (c as usize, d as usize);
            out.push(all[d..d + c].to_vec());
        }
        Ok(out)
    }

    fn gather_bytes(&self, data: &[u8], root: usize) -> Result<Vec<Vec<u8>>, CommError> {
        // As allgather_bytes, to `root` only (an allgather would copy every rank's part to
        // every rank).
        let r = i32::try_from(root).map_err(|_| CommError::Mismatch(format!("no root {root}")))?;
        let at_root = self.comm.process_at_rank(r);
        let mine = count(data.len(), "contribution")?;
        // Never pass an empty slice: its dangling address (0x1) is Open MPI's MPI_IN_PLACE.
        let pad = [0u8; 1];
        let data: &[u8] = if data.is_empty() { &pad[..0] } else { data };
        if self.rank != root {
            at_root.gather_into(&mine);
            at_root.gather_varcount_into(data);
            return Ok(Vec::new());
        }
        let mut counts: Vec<Count> = vec![0; self.size];
        at_root.gather_into_root(&mine, &mut counts[..]);
        let mut displs: Vec<Count> = Vec::with_capacity(self.size);
        let mut total: usize = 0;
        for &c in &counts {
            displs.push(count(total, "gathered bytes")?);
            total += usize::try_from(c)
                .map_err(|_| CommError::Mismatch("negative gather length".into()))?;
        }
        count(total, "gathered bytes")?;
        let mut all = vec![0u8; total.max(1)];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            at_root.gather_varcount_into_root(data, &mut part);
        }
        Ok(counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
            .collect())
    }

    fn node_of_ranks(&self) -> Vec<usize> {
        self.nodes.clone()
    }

    fn split_first(&self, n: usize) -> Result<Option<Box<dyn Comm>>, CommError> {
        let n = n.clamp(1, self.size);
        if n == self.size {
            // Every rank takes this branch (same `n`): a collective duplicate of the whole.
            return Ok(Some(Box::new(MpiComm {
                comm: self.comm.duplicate(),
                rank: self.rank,
                size: self.size,
                world_rank: self.world_rank,
                world_size: self.world_size,
                nodes: self.nodes.clone(),
            })));
        }
        let color = if self.rank < n {
            Color::with_value(0)
        } else {
            Color::undefined()
        };
        let key = count(self.rank, "rank")?;
        let Some(sub) = self.comm.split_by_color_with_key(color, key) else {
            return Ok(None);
        };
        let rank = usize::try_from(sub.rank())
            .map_err(|_| CommError::Mismatch("negative MPI rank".into()))?;
        let size = usize::try_from(sub.size())
            .map_err(|_| CommError::Mismatch("negative MPI size".into()))?;
        if size != n || rank != self.rank {
            return Err(CommError::Mismatch(format!(
                "MPI_Comm_split gave rank {rank} of {size}, expected {} of {n}",
                self.rank
            )));
        }
        Ok(Some(Box::new(MpiComm {
            comm: sub,
            rank,
            size,
            world_rank: self.world_rank,
            world_size: self.world_size,
            nodes: self.nodes[..n].to_vec(),
        })))
    }

    fn abort(&self, message: &str) {
        let text = format!(
            "ERROR: rank {} of {} failed: {message}; aborting the MPI job\n",
            self.world_rank, self.world_size
        );
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        // Nothing sensible can be done if stderr is gone; the job is aborted either way.
        let _ = lock.write_all(text.as_bytes());
        let _ = lock.flush();
        drop(lock);
        let _ = std::io::stdout().flush();
        super::before_abort();
        // IOR's ERR: MPI_Abort(MPI_COMM_WORLD, -1), which mpirun reports as exit status 255.
        SimpleCommunicator::world().abort(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn nodes_numbered_by_first_appearance() {
        assert_eq!(node_indices(&[0, 0, 2, 2]), vec![0, 0, 1, 1]);
        assert_eq!(node_indices(&[0, 1, 0, 1]), vec![0, 1, 0, 1]);
        assert_eq!(node_indices(&[5, 3, 5, 7]), vec![0, 1, 0, 2]);
        assert!(node_indices::<i32>(&[]).is_empty());
    }
}
