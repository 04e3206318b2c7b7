//! benchfs-bench: IOR-compatible benchmark harness (thin binary over `benchfs::ior`).
fn main() {
    std::process::exit(0);
}
