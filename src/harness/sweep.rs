//! Transfer-size sweeps (`benchfs-bench sweep --sizes 4k,64k,1m ... -- IOR_ARGS`): runs the
//! same IOR command line once per transfer size, in process through
//! [`crate::harness::driver::execute`], and writes one result document per size and/or one
//! combined document whose tests are the sizes in order (what `report` plots as bandwidth
//! against transfer size).
//!
//! Owns the loop over sizes and the merge of documents; it must not change how a run works
//! (options, validation and output are the driver's).

use crate::harness::driver;
use crate::ior::options;
use crate::results::document::{DocumentError, ResultDocument};
use crate::units::format_size as size;
use std::path::{Path, PathBuf};

/// Errors of a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A size of the list is not a positive IOR number.
    #[error("invalid transfer size {0:?} (use IOR numbers such as 4k, 64k, 1m)")]
    BadSize(String),
    /// The IOR arguments do not parse.
    #[error("{0}")]
    Options(String),
    /// A run failed (its exit status).
    #[error("the run with transfer size {size} failed with exit status {status}")]
    Run {
        /// Transfer size of the failed run.
        size: String,
        /// Its exit status.
        status: i32,
    },
    /// A document could not be written or read back.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The output directory could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Parses `4k,64k,1m` into bytes ([`crate::units::parse_size`]); every size must be positive.
pub fn parse_sizes(list: &str) -> Result<Vec<i64>, SweepError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match crate::units::parse_size(s).map(i64::try_from) {
            Ok(Ok(v)) if v > 0 => Ok(v),
            _ => Err(SweepError::BadSize(s.to_string())),
        })
        .collect()
}

/// Runs `ior_args` (IOR-style arguments, without the program name) once per size in
/// `sizes`, with every test's transfer size set to that size. Each run's document is written
/// to `out_dir/sweep-<size>.json` (a temporary directory when `out_dir` is `None`); with
/// `combined` the documents are also merged into that file. Returns the per-size documents'
/// paths. A failed run stops the sweep.
pub fn run_sweep(
    ior_args: &[String],
    sizes: &[i64],
    out_dir: Option<&Path>,
    combined: Option<&Path>,
) -> Result<Vec<PathBuf>, SweepError> {
    let tmp;
    let dir: PathBuf = match out_dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = std::env::temp_dir().join(format!("benchfs-sweep-{}", std::process::id()));
            tmp.clone()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|source| SweepError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths = Vec::new();
    for &s in sizes {
        let mut parsed =
            options::parse_args(ior_args).map_err(|e| SweepError::Options(e.to_string()))?;
        if parsed.help {
            return Err(SweepError::Options("-h is not a sweep".to_string()));
        }
        if parsed.tests.is_empty() {
            parsed.tests.push(crate::ior::params::IorParams::default());
        }
        for t in &mut parsed.tests {
            t.transfer_size = s;
        }
        let path = dir.join(format!("sweep-{}.json", size(s)));
        parsed.global.json_file = Some(path.display().to_string());
        let command_line = std::iter::once("benchfs-bench".to_string())
            .chain(ior_args.iter().cloned())
            .chain(["-t".to_string(), s.to_string()])
            .collect::<Vec<_>>()
            .join(" ");
        let status = driver::execute(parsed, &command_line);
        if status != 0 {
            return Err(SweepError::Run {
                size: size(s),
                status,
            });
        }
        paths.push(path);
    }
    if let Some(out) = combined {
        let docs = paths
            .iter()
            .map(ResultDocument::read_from)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(doc) = combine(docs) {
            doc.write_to(out)?;
        }
    }
    if out_dir.is_none() {
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_dir(&dir);
        paths.clear();
    }
    Ok(paths)
}

/// Merges documents into one: the first one's build and run, every test in order
/// (renumbered `test_id` 0, 1, ...), the last one's end, errors and data errors summed.
pub fn combine(docs: Vec<ResultDocument>) -> Option<ResultDocument> {
    let mut it = docs.into_iter();
    let mut out = it.next()?;
    for d in it {
        out.tests.extend(d.tests);
        out.finished = d.finished;
        out.data_errors += d.data_errors;
        out.errors.extend(d.errors);
        out.exit_status = match (out.exit_status, d.exit_status) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    for (i, t) in out.tests.iter_mut().enumerate() {
        t.params.test_id = i as i32;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(
            parse_sizes("4k, 64k,1m").unwrap(),
            vec![4096, 65536, 1 << 20]
        );
        assert!(matches!(parse_sizes("4k,x"), Err(SweepError::BadSize(_))));
        assert!(matches!(parse_sizes("0"), Err(SweepError::BadSize(_))));
    }
}
