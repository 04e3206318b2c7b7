//! benchfs-bench: the IOR-compatible benchmark harness. A thin binary over
//! `benchfs::harness::bench`.

fn main() {
    // A guardian of another benchfs-bench (it removes that run's server data once the run
    // has ended, even by SIGKILL) does only that.
    if let Some(status) = benchfs::harness::cleanup::guardian_if_asked() {
        std::process::exit(status);
    }
    benchfs::harness::cleanup::guard_with_this_program();
    benchfs::harness::logging::init();
    std::process::exit(benchfs::harness::bench::main_os(
        std::env::args_os().collect(),
    ));
}
