//! Tasks as threads of one process: the communicator of `benchfs-bench -N n` without MPI.
//!
//! Owns the shared rendezvous state (a generation-counted exchange slot guarded by a mutex and
//! a condition variable) and the emulated node layout (`--tasks-per-node`,
//! `IOR_FAKE_TASK_PER_NODES`). It must not know what the bytes it moves mean.

use super::{Comm, CommError};
use std::sync::{Arc, Condvar, Mutex};

struct Exchange {
    /// Contributions of the current round, by rank.
    slots: Vec<Option<Vec<u8>>>,
    /// How many ranks have contributed to the current round.
    arrived: usize,
    /// Round number; bumps when a round completes.
    generation: u64,
    /// Result of the last completed round.
    result: Arc<Vec<Vec<u8>>>,
    /// How many ranks still have to pick up the last result before a new round may start.
    readers_left: usize,
    /// First abort, if any.
    aborted: Option<(usize, String)>,
}

struct Shared {
    size: usize,
    state: Mutex<Exchange>,
    cond: Condvar,
    nodes: Vec<usize>,
}

/// One rank's handle on a group of local tasks.
pub struct LocalComm {
    rank: usize,
    shared: Arc<Shared>,
}

impl LocalComm {
    /// Create `size` handles, one per rank, with `tasks_per_node` tasks on each emulated node
    /// (0 = every task on one node).
    pub fn group(size: usize, tasks_per_node: usize) -> Vec<LocalComm> {
        let size = size.max(1);
        let nodes = (0..size)
            .map(|r| r.checked_div(tasks_per_node).unwrap_or(0))
            .collect();
        Self::group_with_nodes(size, nodes)
    }

    fn group_with_nodes(size: usize, nodes: Vec<usize>) -> Vec<LocalComm> {
        let shared = Arc::new(Shared {
            size,
            state: Mutex::new(Exchange {
                slots: vec![None; size],
                arrived: 0,
                generation: 0,
                result: Arc::new(Vec::new()),
                readers_left: 0,
                aborted: None,
            }),
            cond: Condvar::new(),
            nodes,
        });
        (0..size)
            .map(|rank| LocalComm {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Exchange> {
        // A rank that panicked while holding the lock poisons it; the state itself stays
        // consistent (every update is a single assignment), so keep going.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_abort(st: &Exchange) -> Result<(), CommError> {
        match &st.aborted {
            Some((rank, message)) => Err(CommError::Aborted {
                rank: *rank,
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl Comm for LocalComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn barrier(&self) -> Result<(), CommError> {
        self.allgather_bytes(&[]).map(|_| ())
    }

    fn allgather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
        let cond = &self.shared.cond;
        let mut st = self.lock();
        // Wait until every rank has collected the previous round's result.
        while st.readers_left > 0 {
            Self::check_abort(&st)?;
            st = cond.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        Self::check_abort(&st)?;
        st.slots[self.rank] = Some(data.to_vec());
        st.arrived += 1;
        let my_generation = st.generation;
        if st.arrived == self.shared.size {
            let result: Vec<Vec<u8>> = st
                .slots
                .iter_mut()
                .map(|s| s.take().unwrap_or_default())
                .collect();
            st.result = Arc::new(result);
            st.arrived = 0;
            st.generation += 1;
            st.readers_left = self.shared.size;
            cond.notify_all();
        } else {
            while st.generation == my_generation {
                Self::check_abort(&st)?;
                st = cond.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
        let out = (*st.result).clone();
        st.readers_left -= 1;
        if st.readers_left == 0 {
            cond.notify_all();
        }
        Ok(out)
    }

    fn node_of_ranks(&self) -> Vec<usize> {
        self.shared.nodes.clone()
    }

    fn split_first(&self, n: usize) -> Result<Option<Box<dyn Comm>>, CommError> {
        let n = n.clamp(1, self.size());
        if n == self.size() {
            return Ok(Some(Box::new(LocalComm {
                rank: self.rank,
                shared: self.shared.clone(),
            })));
        }
        // Rank 0 builds the sub-group; the handles travel through a process-local registry
        // keyed by an id that is broadcast as bytes.
        let id = if self.rank == 0 {
            let group = Self::group_with_nodes(n, self.shared.nodes[..n].to_vec());
            registry::put(group)
        } else {
            0
        };
        let id = self.bcast_u64(id, 0)?;
        let mine = if self.rank < n {
            registry::take(id, self.rank)
        } else {
            None
        };
        self.barrier()?;
        if self.rank == 0 {
            registry::drop_group(id);
        }
        Ok(mine.map(|c| Box::new(c) as Box<dyn Comm>))
    }

    fn abort(&self, message: &str) {
        let mut st = self.lock();
        if st.aborted.is_none() {
            st.aborted = Some((self.rank, message.to_string()));
        }
        self.shared.cond.notify_all();
    }
}

/// Hands sub-communicator handles from rank 0 to the other local ranks.
mod registry {
    use super::LocalComm;
    use std::collections::HashMap;
    use std::sync::Mutex;

    type Groups = HashMap<u64, Vec<Option<LocalComm>>>;
    static GROUPS: Mutex<Option<(u64, Groups)>> = Mutex::new(None);

    pub(super) fn put(group: Vec<LocalComm>) -> u64 {
        let mut g = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
        let (next, map) = g.get_or_insert_with(|| (1, HashMap::new()));
        let id = *next;
        *next += 1;
        map.insert(id, group.into_iter().map(Some).collect());
        id
    }

    pub(super) fn take(id: u64, rank: usize) -> Option<LocalComm> {
        let mut g = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
        g.as_mut()?.1.get_mut(&id)?.get_mut(rank)?.take()
    }

    pub(super) fn drop_group(id: u64) {
        let mut g = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, map)) = g.as_mut() {
            map.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::ReduceOp;

    fn run<F, T>(size: usize, tpn: usize, f: F) -> Vec<T>
    where
        F: Fn(LocalComm) -> T + Send + Sync + Clone + 'static,
        T: Send + 'static,
    {
        let handles: Vec<_> = LocalComm::group(size, tpn)
            .into_iter()
            .map(|c| {
                let f = f.clone();
                std::thread::spawn(move || f(c))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rank thread"))
            .collect()
    }

    #[test]
    fn allreduce_over_many_rounds() {
        let out = run(4, 0, |c| {
            let mut acc = Vec::new();
            for round in 0..200 {
                let v = (c.rank() * 10 + round) as i64;
                acc.push((
                    c.allreduce_i64(v, ReduceOp::Min).unwrap(),
                    c.allreduce_i64(v, ReduceOp::Max).unwrap(),
                    c.allreduce_i64(v, ReduceOp::Sum).unwrap(),
                ));
            }
            acc
        });
        for per_rank in &out {
            for (round, &(mn, mx, sum)) in per_rank.iter().enumerate() {
                let r = round as i64;
                assert_eq!(mn, r);
                assert_eq!(mx, 30 + r);
                assert_eq!(sum, 60 + 4 * r);
            }
        }
    }

    #[test]
    fn bcast_and_gather() {
        let out = run(3, 0, |c| {
            let b = c.bcast_u64(if c.rank() == 2 { 77 } else { 0 }, 2).unwrap();
            let g = c.allgather_f64(c.rank() as f64 * 1.5).unwrap();
            (b, g)
        });
        for (b, g) in out {
            assert_eq!(b, 77);
            assert_eq!(g, vec![0.0, 1.5, 3.0]);
        }
    }

    #[test]
    fn abort_wakes_waiting_ranks() {
        let out = run(3, 0, |c| {
            if c.rank() == 1 {
                c.abort("boom");
                Err(CommError::Mismatch("self".into()))
            } else {
                c.barrier()
            }
        });
        assert!(matches!(&out[0], Err(CommError::Aborted { rank: 1, .. })));
        assert!(matches!(&out[2], Err(CommError::Aborted { rank: 1, .. })));
    }

    #[test]
    fn split_first_gives_sub_group() {
        let out = run(4, 2, |c| {
            let sub = c.split_first(3).unwrap();
            let r = sub.as_ref().map(|s| {
                let sum = s.allreduce_i64(1, ReduceOp::Sum).unwrap();
                (s.rank(), s.size(), sum, s.node_of_ranks())
            });
            c.barrier().unwrap();
            r
        });
        assert_eq!(out[3], None);
        for (i, o) in out.iter().take(3).enumerate() {
            assert_eq!(o.as_ref().unwrap(), &(i, 3, 3, vec![0, 0, 1]));
        }
    }
}
