//! Local tasks: the ranks of a run as threads of this process (without MPI), each with its
//! own current-thread tokio runtime and backend state, synchronised by [`LocalComm`]; and the
//! embedded BenchFS cluster they use when no registry is given.

use super::{
    bind_task, check_cpus, print_error, print_warnings, start_embedded, Benchmark, RankOutcome,
    EXIT_ERROR,
};
use crate::comm::local::LocalComm;
use crate::comm::Comm;
use crate::measure::log;

/// Runs `bench` as `world_size` local tasks (threads); `sink` is rank 0's result stream.
/// Returns rank 0's outcome, carrying the first real error of any rank.
pub fn run_local<B: Benchmark>(bench: &B, sink: B::Sink, world_size: usize) -> B::Outcome {
    // Before any task starts: no timed phase may pay for the clock's calibration.
    crate::measure::machine::calibrate_fast_clock();
    let comms = LocalComm::group(world_size, bench.tasks_per_node());
    let mut sink = Some(sink);
    let outcomes: Vec<B::Outcome> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(world_size);
        for comm in comms {
            let mut mine = if comm.rank() == 0 { sink.take() } else { None };
            let rank = comm.rank();
            let spawned = std::thread::Builder::new()
                .name(format!("rank-{rank}"))
                .spawn_scoped(scope, move || run_task(bench, &comm, mine.as_mut()));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    return vec![B::Outcome::failed(format!("cannot start task thread: {e}"))]
                }
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| B::Outcome::failed("task thread failed".into()))
            })
            .collect()
    });
    let mut outcomes = outcomes.into_iter();
    let mut first = outcomes.next().unwrap_or_default();
    // The first real error of any rank (not the "aborted by rank N" echo) is the run's error.
    let other = outcomes
        .filter_map(|o| o.error().map(str::to_string))
        .find(|e| !e.contains("aborted"));
    if let Some(err) = other {
        if first.error().is_none_or(|e| e.contains("aborted")) {
            first.set_error(err);
        }
    }
    first
}

/// One local task: its runtime, the benchmark, panics turned into an abort of the group.
fn run_task<B: Benchmark>(bench: &B, comm: &LocalComm, sink: Option<&mut B::Sink>) -> B::Outcome {
    let rank = comm.rank();
    // Local tasks all run on this machine: task i takes the list's i-th CPU, whatever node
    // `--tasks-per-node` emulates.
    if let Err(msg) = bind_task(bench.cpus(), rank) {
        comm.abort(&msg);
        return B::Outcome::failed(msg);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            comm.abort(&format!("cannot start runtime: {e}"));
            return B::Outcome::failed(format!("cannot start runtime: {e}"));
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(bench.run(comm, sink))
    }));
    result.unwrap_or_else(|_| {
        comm.abort(&format!("rank {rank} panicked"));
        B::Outcome::failed(format!("rank {rank} panicked"))
    })
}

/// The whole command with local tasks (no MPI): validate, start embedded clusters, run,
/// finish.
pub(super) fn execute_local<B: Benchmark>(mut bench: B) -> i32 {
    for w in bench.parse_warnings() {
        log::line(&w);
    }
    let world_size = bench.local_tasks();
    let tpn = bench.tasks_per_node();
    let validated = bench
        .validate(world_size, tpn)
        .and_then(|w| check_cpus(bench.cpus(), 0..world_size).map(|()| w));
    match validated {
        Ok(warnings) => print_warnings(warnings),
        Err(msg) => {
            print_error(&msg);
            return bench.fatal_status();
        }
    }
    let sink = match bench.open_sink() {
        Ok(s) => s,
        Err(msg) => {
            print_error(&msg);
            return EXIT_ERROR;
        }
    };
    let embedded = match start_embedded(&mut bench) {
        Ok(c) => c,
        Err(msg) => {
            print_error(&msg);
            return EXIT_ERROR;
        }
    };
    let outcome = run_local(&bench, sink, world_size);
    if let Some(c) = embedded {
        c.shutdown();
    }
    bench.finish(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::transport::io_buffer::COPY_STATS;
    use crate::harness::driver::IorBenchmark;
    use crate::ior::params::SummaryFormat;
    use crate::ior::{options, output};

    /// A benchmark whose tasks record the CPUs their thread may run on.
    struct Affinities {
        cpus: Option<crate::cpus::CpuList>,
        tasks: usize,
        seen: std::sync::Mutex<Vec<(usize, Vec<usize>)>>,
    }

    impl Benchmark for Affinities {
        type Outcome = super::super::Measured<()>;
        type Sink = ();
        fn parse_warnings(&self) -> Vec<String> {
            Vec::new()
        }
        fn local_tasks(&self) -> usize {
            self.tasks
        }
        fn tasks_per_node(&self) -> usize {
            0
        }
        fn cpus(&self) -> Option<&crate::cpus::CpuList> {
            self.cpus.as_ref()
        }
        fn backends(&mut self) -> Vec<super::super::BackendSlot<'_>> {
            Vec::new()
        }
        fn validate(&mut self, _world: usize, _tpn: usize) -> Result<Vec<String>, String> {
            Ok(Vec::new())
        }
        fn open_sink(&self) -> Result<(), String> {
            Ok(())
        }
        async fn run(&self, comm: &dyn Comm, _sink: Option<&mut ()>) -> Self::Outcome {
            let cpus = crate::cpus::thread_cpus().unwrap();
            self.seen.lock().unwrap().push((comm.rank(), cpus));
            Default::default()
        }
        fn finish(&self, outcome: Self::Outcome) -> i32 {
            i32::from(outcome.error.is_some())
        }
    }

    #[test]
    fn cpus_binds_task_i_to_the_lists_cpu_i_mod_n() {
        let allowed = crate::cpus::thread_cpus().unwrap();
        // The last allowed CPU first, so that the order of the list is what counts.
        let list: Vec<usize> = allowed.iter().rev().copied().collect();
        let text = list
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let bench = Affinities {
            cpus: Some(text.parse().unwrap()),
            tasks: list.len() + 1,
            seen: Default::default(),
        };
        let outcome = run_local(&bench, (), bench.tasks);
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        let mut seen = bench.seen.into_inner().unwrap();
        seen.sort();
        let want: Vec<(usize, Vec<usize>)> = (0..list.len() + 1)
            .map(|i| (i, vec![list[i % list.len()]]))
            .collect();
        assert_eq!(seen, want);
        // Without --cpus the tasks keep the process's CPUs.
        let free = Affinities {
            cpus: None,
            tasks: 2,
            seen: Default::default(),
        };
        run_local(&free, (), 2);
        for (_, cpus) in free.seen.into_inner().unwrap() {
            assert_eq!(cpus, allowed);
        }
    }

    #[test]
    fn a_cpu_no_task_can_run_on_is_refused_before_the_run() {
        let list: crate::cpus::CpuList = format!("0,{}", crate::cpus::MAX_CPU).parse().unwrap();
        let err = check_cpus(Some(&list), 0..2).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "Error, invalid value \"0,{}\" for option cpus: no task can run on CPU {}",
                crate::cpus::MAX_CPU,
                crate::cpus::MAX_CPU
            )),
            "{err}"
        );
        // Only the CPUs of this process's tasks count (an MPI rank checks its own).
        assert!(check_cpus(Some(&list), [0]).is_ok());
        assert!(check_cpus(None, 0..2).is_ok());
    }

    /// The serial loop (`--iodepth 1`) lends its buffer to BENCHFS reads, as the deep loop
    /// does: every byte read is received straight into it, none copied from the transport.
    #[test]
    fn serial_benchfs_reads_are_received_in_the_transfer_buffer() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cluster = rt
            .block_on(crate::fs::Cluster::embedded(2, dir.path()))
            .unwrap();
        let registry = cluster.registry().to_str().unwrap().to_string();
        let args: Vec<String> = format!(
            "-a BENCHFS --benchfs.registry={registry} --benchfs.settle=0 -t 256k -b 4m -w -r -R -o /serial"
        )
        .split_whitespace()
        .map(String::from)
        .collect();
        let mut bench = IorBenchmark::new(options::parse_args(&args).unwrap(), "test");
        let world = bench.local_tasks();
        bench.validate(world, 0).unwrap();
        let before = COPY_STATS.read().in_place;
        let sink = output::reporter_for(SummaryFormat::Default, Box::new(std::io::sink()));
        let outcome = run_local(&bench, sink, world);
        assert!(outcome.error.is_none(), "run failed: {:?}", outcome.error);
        let placed = COPY_STATS.read().in_place - before;
        // The read phase (which -R checks as it goes) reads 4 MiB, less the bytes that came
        // with a reply's header; other tests of this binary may add theirs, never take away.
        assert!(
            placed >= (4 << 20) - 16 * 64,
            "reads were received in place: {placed} bytes"
        );
        rt.block_on(cluster.shutdown()).unwrap();
    }
}
