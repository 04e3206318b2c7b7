//! The real tools benchfs-bench is measured against, found and run by the benchmarks: IOR and
//! mdtest (from `IOR=PATH` / `MDTEST=PATH`, else on `PATH`, launched with `mpirun` from
//! `MPIRUN=PATH` or `PATH`) and fio (on `PATH`). A tool that is missing is reported as missing;
//! the benchmarks then print their own figures only. Nothing here is built into the library.

// Shared by several benchmarks, each of which uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `name` as given by the environment variable `env` (a path), else found on `PATH`.
pub fn find_tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// One result row of a real IOR run (one phase of one repetition).
#[derive(Debug, Clone, Copy)]
pub struct IorRow {
    /// Whether this is a write phase (else a read).
    pub write: bool,
    /// Aggregate bandwidth, MiB/s.
    pub bw_mib: f64,
    /// Aggregate operations per second.
    pub iops: f64,
}

/// A real IOR (or mdtest) and the `mpirun` that launches it.
#[derive(Debug, Clone)]
pub struct MpiTool {
    /// The tool's binary.
    pub bin: PathBuf,
    /// `mpirun`, if found (without it the tool runs as one process, one rank).
    pub mpirun: Option<PathBuf>,
}

impl MpiTool {
    /// The real IOR, if found.
    pub fn ior() -> Option<MpiTool> {
        Self::find("IOR", "ior")
    }

    /// The real mdtest, if found.
    pub fn mdtest() -> Option<MpiTool> {
        Self::find("MDTEST", "mdtest")
    }

    fn find(env: &str, name: &str) -> Option<MpiTool> {
        Some(MpiTool {
            bin: find_tool(env, name)?,
            mpirun: find_tool("MPIRUN", "mpirun"),
        })
    }

    /// Whether `tasks` ranks can be launched (one always can).
    pub fn can_launch(&self, tasks: usize) -> bool {
        tasks == 1 || self.mpirun.is_some()
    }

    /// The command that runs the tool with `tasks` ranks and `args`.
    pub fn command(&self, tasks: usize, args: &[String]) -> Command {
        let mut c = match (&self.mpirun, tasks) {
            (Some(mpirun), _) => {
                let mut c = Command::new(mpirun);
                // SAFETY: geteuid has no preconditions and cannot fail.
                if unsafe { libc::geteuid() } == 0 {
                    c.arg("--allow-run-as-root");
                }
                c.args(["--oversubscribe", "-np", &tasks.to_string()]);
                c.arg(&self.bin);
                c
            }
            (None, _) => Command::new(&self.bin),
        };
        c.args(args);
        c
    }

    /// Runs real IOR with `tasks` ranks and the IOR command line `args`; returns its result
    /// rows from its JSON summary file (written next to `scratch`).
    pub fn run_ior(&self, tasks: usize, args: &str, scratch: &Path) -> Result<Vec<IorRow>, String> {
        let summary = scratch.join("ior-summary.json");
        let _ = std::fs::remove_file(&summary);
        let mut argv: Vec<String> = args.split_whitespace().map(String::from).collect();
        argv.extend([
            "-O".to_string(),
            "summaryFormat=JSON".to_string(),
            "-O".to_string(),
            format!("summaryFile={}", summary.display()),
        ]);
        let out = self
            .command(tasks, &argv)
            .current_dir(scratch)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {args} failed ({}): {}",
                self.bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = std::fs::read_to_string(&summary)
            .map_err(|e| format!("no IOR summary {}: {e}", summary.display()))?;
        parse_ior_json(&text)
    }
}

/// The result rows of IOR's JSON summary (`tests[].Results[]`, flattened).
pub fn parse_ior_json(text: &str) -> Result<Vec<IorRow>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("IOR summary is not JSON: {e}"))?;
    let mut rows = Vec::new();
    for test in doc["tests"].as_array().into_iter().flatten() {
        for r in test["Results"].as_array().into_iter().flatten() {
            // IOR 4.1 nests the rows of a repetition in an inner list in some versions.
            let items: Vec<&serde_json::Value> = match r.as_array() {
                Some(inner) => inner.iter().collect(),
                None => vec![r],
            };
            for item in items {
                let write = match item["access"].as_str() {
                    Some("write") => true,
                    Some("read") => false,
                    _ => continue,
                };
                rows.push(IorRow {
                    write,
                    bw_mib: item["bwMiB"].as_f64().unwrap_or(0.0),
                    iops: item["iops"].as_f64().unwrap_or(0.0),
                });
            }
        }
    }
    if rows.is_empty() {
        return Err("IOR summary has no write or read rows".into());
    }
    Ok(rows)
}

/// Prints that the peer `what` (found through `env` or `name` on `PATH`) is missing, if it is.
pub fn note_missing(missing: bool, what: &str, env: &str, name: &str) {
    if missing {
        println!(
            "peer missing: {what} not found (set {env}=PATH or put {name} on PATH); \
             printing benchfs-bench's own figures only"
        );
    }
}
