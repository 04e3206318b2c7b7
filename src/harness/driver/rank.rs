//! This process as one rank of an MPI job (`mpirun`/`srun benchfs-bench`): code run on every
//! rank before the benchmark ([`RankSetup`], e.g. servers inside the job), and the command
//! executed collectively with rank 0 printing.

use super::{
    bind_task, check_cpus, print_error, print_warnings, BackendUse, Benchmark, RankOutcome,
    EXIT_ERROR,
};
use crate::comm::{Comm, CommError, ReduceOp};
use crate::measure::log;
use std::any::Any;

/// Why [`RankSetup::before_tests`] failed on a rank.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The setup itself failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// A collective of the setup failed (another rank aborted).
    #[error(transparent)]
    Comm(#[from] CommError),
}

/// Code a caller runs on every rank before the benchmark, e.g. starting a file-system server
/// inside the job and exchanging its address through `comm`.
pub trait RankSetup: Sync {
    /// Called collectively on every rank of `comm` (the whole job) before the benchmark, on
    /// the rank's thread with its tokio runtime entered (`tokio::spawn` works; spawned tasks
    /// run while the benchmark runs), with the backends the benchmark will use. The returned
    /// value is kept alive until every rank finished, then dropped on this rank. An error
    /// aborts the job with its message.
    fn before_tests(
        &self,
        comm: &dyn Comm,
        backends: &[BackendUse],
    ) -> Result<Box<dyn Any>, SetupError>;
}

/// Runs `bench` as one rank of `comm` on the calling thread (current-thread tokio runtime):
/// the rank of an MPI job, or any other single rank. `sink` is rank 0's (`None` elsewhere).
/// `setup` runs first with `backends` (see [`RankSetup`]). A failing rank aborts `comm`.
/// Returns this rank's outcome (rank 0's holds the results).
pub fn run_rank<B: Benchmark>(
    bench: &B,
    mut sink: Option<B::Sink>,
    comm: &dyn Comm,
    setup: Option<&dyn RankSetup>,
    backends: &[BackendUse],
) -> B::Outcome {
    // Before the rank's first barrier: no timed phase may pay for the clock's calibration.
    crate::measure::machine::calibrate_fast_clock();
    let rank = comm.rank();
    let fail = |msg: String| {
        comm.abort(&msg);
        B::Outcome::failed(msg)
    };
    // node_of_ranks only when binding: no start-up work without --cpus.
    if bench.cpus().is_some() {
        if let Err(msg) = bind_task(bench.cpus(), node_index(comm)) {
            return fail(msg);
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start runtime: {e}")),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let guard = match setup {
            Some(s) => {
                let _entered = rt.enter();
                Some(s.before_tests(comm, backends).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let outcome = rt.block_on(bench.run(comm, sink.as_mut()));
        if guard.is_some() && outcome.error().is_none() {
            // What setup started (a server) may serve other ranks until they are all done.
            // An error here is another rank's abort, already reported by that rank.
            let _ = comm.barrier();
        }
        drop(guard);
        Ok::<B::Outcome, String>(outcome)
    }));
    match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(msg)) => fail(msg),
        Err(_) => fail(format!("rank {rank} panicked")),
    }
}

/// This rank's index among the ranks of its node (real or emulated), for `--cpus`.
fn node_index(comm: &dyn Comm) -> usize {
    let nodes = comm.node_of_ranks();
    let rank = comm.rank();
    match nodes.get(rank) {
        Some(mine) => nodes[..rank].iter().filter(|n| *n == mine).count(),
        None => rank,
    }
}

/// Tasks on the first node when the ranks span several nodes, 0 when they share one.
fn tasks_per_real_node(comm: &dyn Comm) -> usize {
    let nodes = comm.node_of_ranks();
    let first = nodes.first().copied().unwrap_or(0);
    if nodes.iter().all(|&n| n == first) {
        0
    } else {
        nodes.iter().filter(|&&n| n == first).count()
    }
}

/// The whole command as one rank of `comm` (an MPI job: every process calls it): validate on
/// every rank and agree on the result, open the result stream on rank 0, run the benchmark
/// ([`run_rank`]), and on rank 0 finish it (summary, documents). Only rank 0 prints warnings
/// that every rank would print. Returns this process's exit status.
pub fn execute_on<B: Benchmark>(
    comm: &dyn Comm,
    mut bench: B,
    setup: Option<&dyn RankSetup>,
) -> i32 {
    let rank0 = comm.rank() == 0;
    if rank0 {
        for w in bench.parse_warnings() {
            log::line(&w);
        }
    }
    let emulated = bench.tasks_per_node();
    // For warnings about nodes: tasks per node, 0 when every rank shares one node.
    let tpn = if emulated > 0 {
        emulated
    } else {
        tasks_per_real_node(comm)
    };
    let validated = bench
        .validate(comm.size(), tpn)
        .and_then(|w| match bench.cpus() {
            Some(_) => check_cpus(bench.cpus(), [node_index(comm)]).map(|()| w),
            None => Ok(w),
        });
    // Every rank validates the same input; agree anyway, so that no rank starts alone.
    let failed = match comm.allgather_i64(i64::from(validated.is_err())) {
        Ok(f) => f,
        Err(e) => {
            print_error(&e.to_string());
            return EXIT_ERROR;
        }
    };
    let first_failed = failed.iter().position(|&f| f != 0);
    match validated {
        Ok(warnings) if first_failed.is_none() => {
            if rank0 {
                print_warnings(warnings);
            }
        }
        Ok(_) => return bench.fatal_status(),
        Err(msg) => {
            if first_failed == Some(comm.rank()) {
                print_error(&msg);
            }
            return bench.fatal_status();
        }
    }
    let opened = if rank0 { Some(bench.open_sink()) } else { None };
    let stream_failed = matches!(opened, Some(Err(_)));
    match comm.allreduce_i64(i64::from(stream_failed), ReduceOp::Max) {
        Ok(0) => {}
        Ok(_) => {
            if let Some(Err(msg)) = &opened {
                print_error(msg);
            }
            return EXIT_ERROR;
        }
        Err(e) => {
            print_error(&e.to_string());
            return EXIT_ERROR;
        }
    }
    let sink = match opened {
        Some(Ok(s)) => Some(s),
        _ => None,
    };
    let backends: Vec<BackendUse> = bench
        .backends()
        .into_iter()
        .map(|b| BackendUse {
            api: b.api.to_string(),
            options: b.options.clone(),
        })
        .collect();
    let outcome = run_rank(&bench, sink, comm, setup, &backends);
    if rank0 {
        bench.finish(outcome)
    } else if outcome.error().is_some() {
        bench.fatal_status()
    } else {
        0
    }
}

/// The command under an MPI launcher: initialise MPI, run as one rank of `MPI_COMM_WORLD`
/// ([`execute_on`]), finalise MPI. `--tasks-per-node`/`IOR_FAKE_TASK_PER_NODES` emulate nodes;
/// otherwise nodes are MPI's shared-memory domains.
#[cfg(feature = "mpi")]
pub(super) fn execute_mpi<B: Benchmark>(
    bench: B,
    _size: Option<usize>,
    setup: Option<&dyn RankSetup>,
) -> i32 {
    use crate::comm::mpi::MpiSession;
    let session = match MpiSession::init() {
        Ok(s) => s,
        Err(e) => {
            print_error(&e.to_string());
            return EXIT_ERROR;
        }
    };
    let status = match session.world(bench.tasks_per_node()) {
        Ok(world) => execute_on(&world, bench, setup),
        Err(e) => {
            print_error(&format!("cannot set up the MPI communicator: {e}"));
            EXIT_ERROR
        }
    };
    // Every communicator is gone; MPI_Finalize.
    drop(session);
    status
}

/// Without the `mpi` feature, an MPI launch of several processes cannot coordinate: refuse it
/// (each process would run the whole benchmark alone on the same files).
#[cfg(not(feature = "mpi"))]
pub(super) fn execute_mpi<B: Benchmark>(
    bench: B,
    size: Option<usize>,
    _setup: Option<&dyn RankSetup>,
) -> i32 {
    match size {
        Some(1) => {}
        Some(n) => {
            print_error(&format!(
                "started by an MPI launcher as one of {n} processes, but this benchfs-bench \
                 was built without MPI support; rebuild with `cargo build --features mpi` \
                 (or run without mpirun and use local tasks: -N {n} for IOR, --tasks {n} for mdtest)"
            ));
            return EXIT_ERROR;
        }
        None => log::warn(
            "started by an MPI launcher (PMIX_RANK or BENCHFS_MPI=1), but this benchfs-bench \
             was built without MPI support (`--features mpi`); running as a standalone process",
        ),
    }
    super::local::execute_local(bench)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::comm::local::LocalComm;
    use crate::harness::driver::IorBenchmark;
    use crate::ior::options;
    use std::sync::Mutex;

    /// A setup that exchanges a fake server address per rank and records what happened.
    struct FakeServers {
        events: Mutex<Vec<String>>,
        fail_on: Option<usize>,
    }

    struct Server<'a>(usize, &'a Mutex<Vec<String>>);

    impl Drop for Server<'_> {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(format!("stop {}", self.0));
        }
    }

    impl RankSetup for &'static FakeServers {
        fn before_tests(
            &self,
            comm: &dyn Comm,
            backends: &[BackendUse],
        ) -> Result<Box<dyn Any>, SetupError> {
            assert_eq!(backends.len(), 1);
            assert_eq!(backends[0].api, "DUMMY");
            // tokio::spawn must work: the rank's runtime is entered.
            drop(tokio::spawn(async {}));
            if self.fail_on == Some(comm.rank()) {
                return Err(SetupError::Failed("server would not start".into()));
            }
            let addr = format!("10.0.0.{}:7000", comm.rank());
            let all = comm.allgather_bytes(addr.as_bytes())?;
            self.events
                .lock()
                .unwrap()
                .push(format!("start {} of {}", comm.rank(), all.len()));
            Ok(Box::new(Server(comm.rank(), &self.events)))
        }
    }

    fn run_ranks(size: usize, setup: &'static FakeServers, dir: &std::path::Path) -> Vec<i32> {
        let summary = dir.join("summary.txt");
        let args: Vec<String> = [
            "-a",
            "DUMMY",
            "-b",
            "64k",
            "-t",
            "16k",
            "-w",
            "-r",
            "-O",
            &format!("summaryFile={}", summary.display()),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let parsed = options::parse_args(&args).unwrap();
        let handles: Vec<_> = LocalComm::group(size, 0)
            .into_iter()
            .map(|comm| {
                let parsed = parsed.clone();
                std::thread::spawn(move || {
                    let bench = IorBenchmark::new(parsed, "benchfs-bench");
                    execute_on(&comm, bench, Some(&setup))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn setup_runs_on_every_rank_before_the_tests_and_ends_after() {
        let dir = tempfile::tempdir().unwrap();
        let setup: &'static FakeServers = Box::leak(Box::new(FakeServers {
            events: Mutex::new(Vec::new()),
            fail_on: None,
        }));
        assert_eq!(run_ranks(3, setup, dir.path()), vec![0, 0, 0]);
        let mut ev = setup.events.lock().unwrap().clone();
        // Every start precedes every stop (stops come after the final barrier).
        assert!(ev[..3].iter().all(|e| e.starts_with("start")), "{ev:?}");
        ev.sort();
        assert_eq!(
            ev,
            vec![
                "start 0 of 3",
                "start 1 of 3",
                "start 2 of 3",
                "stop 0",
                "stop 1",
                "stop 2"
            ]
        );
        let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
        assert!(summary.contains("Summary of all tests:"), "{summary}");
    }

    #[test]
    fn a_failing_setup_fails_every_rank() {
        let dir = tempfile::tempdir().unwrap();
        let setup: &'static FakeServers = Box::leak(Box::new(FakeServers {
            events: Mutex::new(Vec::new()),
            fail_on: Some(1),
        }));
        // A run that fails exits as IOR's fatal errors do (MPI_Abort(-1): 255).
        assert_eq!(run_ranks(3, setup, dir.path()), vec![255, 255, 255]);
        assert!(setup.events.lock().unwrap().is_empty());
    }
}
