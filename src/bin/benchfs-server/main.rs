//! benchfs-server: one BenchFS server process. A thin binary over `benchfs::harness::server`.

fn main() {
    // A cleanup guardian of a libbenchfs host (IOR with in-job servers, say): it removes
    // that process's server data once it has ended, and does nothing else.
    if let Some(status) = benchfs::harness::cleanup::guardian_if_asked() {
        std::process::exit(status);
    }
    benchfs::harness::logging::init();
    std::process::exit(benchfs::harness::server::main());
}
