//! benchfs-bench: the IOR-compatible benchmark harness. A thin binary over
//! `benchfs::harness::bench`.

fn main() {
    benchfs::harness::logging::init();
    std::process::exit(benchfs::harness::bench::main_os(
        std::env::args_os().collect(),
    ));
}
