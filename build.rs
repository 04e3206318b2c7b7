//! Records the exact build (git commit, enabled cargo features, profile) so that every result
//! document can say which binary produced it; and writes `benchfs.pc`, the pkg-config file of
//! libbenchfs, next to the built libraries (`target/<profile>/`), so that C programs (IOR's
//! BENCHFS backend) build against an uninstalled tree with
//! `PKG_CONFIG_PATH=target/release pkg-config --cflags --libs benchfs`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Native libraries a program linking `libbenchfs.a` needs
/// (`cargo rustc --crate-type staticlib -- --print native-static-libs`).
const STATIC_LIBS: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";

/// The pkg-config file for libraries in `libdir` and the header in `includedir`.
/// A build with the `ucx` feature also needs UCX's libraries when linked statically.
fn pkg_config(libdir: &Path, includedir: &Path, version: &str) -> String {
    let requires = if std::env::var_os("CARGO_FEATURE_UCX").is_some() {
        "Requires.private: ucx\n"
    } else {
        ""
    };
    format!(
        "# libbenchfs, uninstalled (written by build.rs); scripts/install-libbenchfs.sh installs it\n\
         libdir={}\n\
         includedir={}\n\
         \n\
         Name: benchfs\n\
         Description: libbenchfs, the C API of the BenchFS distributed file system\n\
         Version: {version}\n\
         Cflags: -I${{includedir}}\n\
         Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lbenchfs\n\
         Libs.private: {STATIC_LIBS}\n\
         {requires}",
        libdir.display(),
        includedir.display(),
    )
}

/// Writes `benchfs.pc` into the directory the libraries are built in (three levels above
/// `OUT_DIR`: `target/<profile>/build/benchfs-<hash>/out`).
fn write_pkg_config() {
    let (Some(out), Some(manifest)) = (
        std::env::var_os("OUT_DIR"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return;
    };
    let Some(libdir) = PathBuf::from(out).ancestors().nth(3).map(Path::to_path_buf) else {
        return;
    };
    let includedir = PathBuf::from(manifest).join("ior-compat").join("include");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let text = pkg_config(&libdir, &includedir, &version);
    let path = libdir.join("benchfs.pc");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Err(e) = std::fs::write(&path, text) {
            println!("cargo:warning=cannot write {}: {e}", path.display());
        }
    }
}

fn main() {
    write_pkg_config();
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    println!(
        "cargo:rustc-env=BENCHFS_GIT_COMMIT={commit}{}",
        if dirty { "-dirty" } else { "" }
    );
    println!("cargo:rustc-env=BENCHFS_FEATURES={}", features.join(","));
    println!(
        "cargo:rustc-env=BENCHFS_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}
