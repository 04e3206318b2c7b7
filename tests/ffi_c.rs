//! Builds the C test program of the C API (`tests/ffi_c/api_test.c`) against the
//! `libbenchfs.so` of this build and runs it under LeakSanitizer (gcc's
//! `-fsanitize=address`, which also catches invalid memory accesses), or under valgrind
//! memcheck where LeakSanitizer cannot run (`BENCHFS_LEAK_CHECK=valgrind` forces it). Every
//! check of the program must pass and the checker must report no leak. A probe program that
//! leaks on purpose first shows that the checker really reports leaks here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where cargo put the libraries of this build (`target/<profile>/deps`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent().expect("deps directory").to_path_buf()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cc(args: &[&str], out: &Path) {
    let status = Command::new("cc")
        .args(args)
        .arg("-o")
        .arg(out)
        .status()
        .expect("run cc (gcc is needed for the C tests: scripts/packages/ffi.test.txt)");
    assert!(status.success(), "cc {args:?} failed");
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Checker {
    LeakSanitizer,
    Valgrind,
}

fn run(checker: Checker, exe: &Path, args: &[&Path]) -> Output {
    let lib = lib_dir();
    let mut cmd = match checker {
        Checker::LeakSanitizer => Command::new(exe),
        Checker::Valgrind => {
            let mut c = Command::new("valgrind");
            c.args([
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
                "--error-exitcode=99",
                "--quiet",
            ])
            .arg(exe);
            c
        }
    };
    cmd.args(args)
        .env("LD_LIBRARY_PATH", &lib)
        .env("ASAN_OPTIONS", "detect_leaks=1:exitcode=99")
        .env("UCX_NET_DEVICES", "lo")
        .output()
        .expect("run the C test program")
}

/// Which checker works here: LeakSanitizer if a program that leaks is reported by it.
fn checker(dir: &Path) -> Checker {
    if std::env::var("BENCHFS_LEAK_CHECK").as_deref() == Ok("valgrind") {
        return Checker::Valgrind;
    }
    let src = dir.join("leak.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n#include <string.h>\nvoid *keep;\n\
         int main(void) { char *p = malloc(77); strcpy(p, \"x\"); keep = 0; p = 0; return 0; }\n",
    )
    .unwrap();
    let exe = dir.join("leak");
    cc(&["-fsanitize=address", "-g", src.to_str().unwrap()], &exe);
    let out = run(Checker::LeakSanitizer, &exe, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("detected memory leaks") && out.status.code() == Some(99) {
        return Checker::LeakSanitizer;
    }
    eprintln!("LeakSanitizer does not work here ({stderr}); using valgrind");
    let plain = dir.join("leak-plain");
    cc(&["-g", src.to_str().unwrap()], &plain);
    let out = run(Checker::Valgrind, &plain, &[]);
    assert_eq!(
        out.status.code(),
        Some(99),
        "valgrind does not report a leak either: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Checker::Valgrind
}

#[test]
fn the_c_test_program_passes_with_no_leak() {
    let dir = tempfile::tempdir().unwrap();
    let checker = checker(dir.path());
    let exe = dir.path().join("api_test");
    let src = root().join("tests/ffi_c/api_test.c");
    let include = format!("-I{}", root().join("ior-compat/include").display());
    let libdir = format!("-L{}", lib_dir().display());
    let mut args = vec![
        "-std=c11",
        "-D_DEFAULT_SOURCE",
        "-D_GNU_SOURCE",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        include.as_str(),
        src.to_str().unwrap(),
        libdir.as_str(),
        "-lbenchfs",
        "-lpthread",
    ];
    if checker == Checker::LeakSanitizer {
        args.insert(0, "-fsanitize=address");
    }
    cc(&args, &exe);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = run(checker, &exe, &[&data]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{checker:?}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with("passed, 0 failed"), "{summary}");
    let passed: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 250, "only {passed} checks ran: {summary}");
    assert!(!stderr.contains("LeakSanitizer"), "{stderr}");
    // Every embedded cluster removed its data.
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}
