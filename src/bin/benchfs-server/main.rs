//! benchfs-server: one BenchFS server process. A thin binary over `benchfs::harness::server`.

fn main() {
    benchfs::harness::logging::init();
    std::process::exit(benchfs::harness::server::main());
}
