//! The io500 lite preset for the tests that run io500.
#![allow(dead_code)]

use std::path::Path;

/// The lite preset with its directories under `dir` and `[global] api` set to `api`.
pub fn lite_ini(dir: &Path, api: &str) -> std::path::PathBuf {
    let preset = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/workloads/io500-lite.ini"
    ))
    .unwrap();
    let text: String = preset
        .lines()
        .map(|l| {
            if l.starts_with("datadir") {
                format!("datadir = {}/data", dir.display())
            } else if l.starts_with("resultdir") {
                format!("resultdir = {}/results", dir.display())
            } else if l.starts_with("timestamp-") {
                l.replace("TRUE", "FALSE")
            } else if l.starts_with("api") {
                format!("api = {api}")
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let path = dir.join("lite.ini");
    std::fs::write(&path, text).unwrap();
    path
}
