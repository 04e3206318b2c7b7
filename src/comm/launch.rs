//! How this process was launched: standalone, or as one rank of an MPI job, read from the
//! launcher's environment (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`, `PMIX_RANK`, `BENCHFS_MPI`).
//!
//! Owns launch detection only; it never initialises MPI (that is `crate::comm::mpi`) and
//! knows nothing of what the process runs, so that benchfs-bench and benchfs-server share it.

/// How this process was started, read from the launcher's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// Not started by an MPI launcher (or `BENCHFS_MPI=0`).
    Standalone,
    /// Started by mpirun/mpiexec/srun with MPI wire-up: run as one rank of an MPI job.
    /// `size` is the job size when the launcher says it (`None` for PMIx, which does not).
    Mpi {
        /// Number of processes of the job, when known from the environment.
        size: Option<usize>,
    },
}

/// Decide from environment variables (given as a lookup function) whether this process is one
/// rank of an MPI job: `BENCHFS_MPI=1`/`0` forces the answer; otherwise Open MPI's
/// `OMPI_COMM_WORLD_SIZE`, PMI's `PMI_SIZE` (MPICH, `srun --mpi=pmi2`) or PMIx's `PMIX_RANK`
/// (`srun --mpi=pmix`, Open MPI 5) mean yes. Slurm's own `SLURM_*` variables do not: a plain
/// `srun` of a program without MPI wire-up sets them too.
pub fn launch_from_env(get: impl Fn(&str) -> Option<String>) -> Launch {
    let size_of = |k: &str| get(k).and_then(|v| v.trim().parse::<usize>().ok());
    match get("BENCHFS_MPI").as_deref().map(str::trim) {
        Some("0") | Some("no") | Some("false") => return Launch::Standalone,
        Some("1") | Some("yes") | Some("true") => {
            return Launch::Mpi {
                size: size_of("OMPI_COMM_WORLD_SIZE").or_else(|| size_of("PMI_SIZE")),
            }
        }
        _ => {}
    }
    if let Some(size) = size_of("OMPI_COMM_WORLD_SIZE").or_else(|| size_of("PMI_SIZE")) {
        return Launch::Mpi { size: Some(size) };
    }
    if get("PMIX_RANK").is_some() {
        return Launch::Mpi { size: None };
    }
    Launch::Standalone
}

/// How this process was launched, from its environment ([`launch_from_env`]).
pub fn launch() -> Launch {
    launch_from_env(|k| std::env::var(k).ok())
}

/// This process's rank in the MPI job as the launcher tells it (`OMPI_COMM_WORLD_RANK`,
/// `PMI_RANK`, `PMIX_RANK`) before MPI is initialised; 0 when standalone or not told.
pub fn rank_from_env(get: impl Fn(&str) -> Option<String>) -> usize {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|k| get(k).and_then(|v| v.trim().parse::<usize>().ok()))
        .unwrap_or(0)
}

/// [`rank_from_env`] of this process.
pub fn launch_rank() -> usize {
    rank_from_env(|k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn rank_before_mpi_init() {
        assert_eq!(rank_from_env(env(&[])), 0);
        assert_eq!(rank_from_env(env(&[("OMPI_COMM_WORLD_RANK", "3")])), 3);
        assert_eq!(rank_from_env(env(&[("PMI_RANK", " 2 ")])), 2);
        assert_eq!(rank_from_env(env(&[("PMIX_RANK", "x")])), 0);
    }

    #[test]
    fn launch_detection() {
        assert_eq!(launch_from_env(env(&[])), Launch::Standalone);
        assert_eq!(
            launch_from_env(env(&[("OMPI_COMM_WORLD_SIZE", "4")])),
            Launch::Mpi { size: Some(4) }
        );
        assert_eq!(
            launch_from_env(env(&[("PMI_SIZE", "2"), ("PMI_RANK", "1")])),
            Launch::Mpi { size: Some(2) }
        );
        assert_eq!(
            launch_from_env(env(&[("PMIX_RANK", "0")])),
            Launch::Mpi { size: None }
        );
        assert_eq!(
            launch_from_env(env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2")])),
            Launch::Standalone
        );
        assert_eq!(
            launch_from_env(env(&[("OMPI_COMM_WORLD_SIZE", "4"), ("BENCHFS_MPI", "0")])),
            Launch::Standalone
        );
        assert_eq!(
            launch_from_env(env(&[("BENCHFS_MPI", "1")])),
            Launch::Mpi { size: None }
        );
    }
}
