//! Running benchfs-bench in-process from a benchmark, results kept in memory; the real peers
//! it is measured against ([`peer`]).

pub mod peer;

use benchfs::harness::driver::{self, Benchmark};
use benchfs::ior::params::SummaryFormat;
use benchfs::ior::results::{PhaseResult, ResultEntry};
use benchfs::ior::{options, output};

/// Every write/read row of a benchfs-bench run of `args` (an IOR command line without argv[0]),
/// as local tasks, with the text report discarded. Panics if the run fails.
pub fn run_in_process(args: &str) -> Vec<PhaseResult> {
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let parsed = options::parse_args(&args).expect("benchmark arguments parse");
    let mut bench = driver::IorBenchmark::new(parsed, "bench");
    let world = bench.local_tasks();
    bench
        .validate(world, 0)
        .expect("benchmark arguments are valid");
    let reporter = output::reporter_for(SummaryFormat::Default, Box::new(std::io::sink()));
    let outcome = driver::run_local(&bench, reporter, world);
    assert!(outcome.error.is_none(), "run failed: {:?}", outcome.error);
    outcome
        .tests
        .iter()
        .flat_map(|t| t.entries.iter())
        .filter_map(|e| match e {
            ResultEntry::Phase(p) => Some(p.clone()),
            ResultEntry::Remove(_) => None,
        })
        .collect()
}
