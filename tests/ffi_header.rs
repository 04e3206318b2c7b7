//! The committed C header `ior-compat/include/benchfs.h` is exactly what cbindgen generates
//! from `src/ffi` now. Run `BENCHFS_UPDATE_HEADER=1 cargo test --test ffi_header` after
//! changing the C API to rewrite it.

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("ior-compat/cbindgen.toml"))
        .expect("ior-compat/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_matches_a_fresh_generation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ior-compat/include/benchfs.h");
    let fresh = generate();
    if std::env::var_os("BENCHFS_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} differs from the generated header: run BENCHFS_UPDATE_HEADER=1 cargo test --test ffi_header",
        path.display()
    );
}

#[test]
fn every_function_of_the_header_is_documented() {
    let fresh = generate();
    let lines: Vec<&str> = fresh.lines().collect();
    let mut functions = 0;
    for (i, l) in lines.iter().enumerate() {
        // A prototype starts at column 0 with a type and contains "benchfs_" and "(".
        let is_proto = !l.starts_with(' ')
            && !l.starts_with('#')
            && !l.starts_with("typedef")
            && !l.starts_with('}')
            && l.contains("benchfs_")
            && l.contains('(');
        if !is_proto {
            continue;
        }
        functions += 1;
        let doc = lines[..i].last().copied().unwrap_or_default().trim();
        assert!(doc.ends_with("*/"), "no documentation before: {l}");
    }
    assert!(functions >= 25, "only {functions} functions found");
}
