//! benchfs-bench: the IOR-compatible benchmark harness. A thin binary over
//! `benchfs::harness::bench`.

fn main() {
    benchfs::harness::logging::init();
    let argv: Vec<String> = std::env::args().collect();
    std::process::exit(benchfs::harness::bench::main(argv));
}
