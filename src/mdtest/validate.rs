//! The checks mdtest makes before a run (`md_validate_tests_rank0`, the task-count checks of
//! `mdtest_run`, the backend and packet-type lookups), all made here before any file or
//! directory is touched, with mdtest's wording.
//!
//! Owns the rules and the [`MdtestError`] type. Deliberate differences from mdtest 4.1:
//! * `-B` alone is accepted (mdtest rejects every `-B` with the stonewall message, because its
//!   test reads `(W > 0 && b > 1) || !barriers`); the stonewall still needs barriers.
//! * `-i`, `-s` and `--iodepth` below 1 are rejected (mdtest divides by zero or loops forever).
//! * The task-count checks (`-f`, `-l`) come before anything is created, not after the test
//!   directory exists.

use crate::backend::{canonical_backend_name, AnyBackend, Backend};
use crate::mdtest::params::{MdtestParams, Plan};
use thiserror::Error;

/// An mdtest error: `Display` is the exact line to print.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MdtestError {
    /// mdtest's `FAIL`: `<date>: Process <rank>: FAILED in <function>, <message>`.
    #[error("{stamp}: Process {rank}: FAILED in {location}, {message}")]
    Failed {
        /// `MM/DD/YYYY HH:MM:SS` when it failed.
        stamp: String,
        /// The rank that failed.
        rank: usize,
        /// mdtest's function name (`md_validate_tests_rank0`).
        location: &'static str,
        /// What is wrong.
        message: String,
    },
    /// mdtest's `ERR`: `ERROR: <message>, (mdtest.c:<line>)`.
    #[error("ERROR: {message}, (mdtest.c:{line})")]
    Error {
        /// What is wrong.
        message: String,
        /// mdtest's source line (kept so that scripts matching mdtest's text keep working).
        line: u32,
    },
    /// A failure of the run itself (a backend, a collective, a file of ours).
    #[error("{0}")]
    Run(String),
}

impl MdtestError {
    /// mdtest's `FAIL` on `rank` at `location`, stamped now.
    pub fn failed(rank: usize, location: &'static str, message: impl Into<String>) -> Self {
        MdtestError::Failed {
            stamp: timestamp(),
            rank,
            location,
            message: message.into(),
        }
    }
}

impl From<crate::comm::CommError> for MdtestError {
    fn from(e: crate::comm::CommError) -> Self {
        MdtestError::Run(e.to_string())
    }
}

/// Now as mdtest's `PrintTimestamp` (`%m/%d/%Y %T`, local time).
pub fn timestamp() -> String {
    chrono::Local::now().format("%m/%d/%Y %H:%M:%S").to_string()
}

const VALIDATE: &str = "md_validate_tests_rank0";
const RUN: &str = "mdtest_run";

/// mdtest's line of the warning about `-e 0` (shown with `-vvv` or `--warningAsErrors`).
pub const READ_BYTES_WARNING_LINE: u32 = 1874;
/// The warning about reading 0 bytes.
pub const READ_BYTES_WARNING: &str =
    "Read bytes is 0, thus, a read test will actually just open/close";

/// Checks `p` for a job of `world` ranks before anything is touched. Returns the warnings to
/// print (`WARNING: ...`), or the error.
pub fn validate(p: &MdtestParams, world: usize) -> Result<Vec<String>, MdtestError> {
    let fail = |m: String| Err(MdtestError::failed(0, VALIDATE, m));
    let Some(api) = canonical_backend_name(p.api_name()) else {
        return Err(MdtestError::Error {
            message: format!(
                "Unrecognized I/O API \"{}\" (known: {})",
                p.api_name(),
                crate::backend::BACKEND_NAMES.join(", ")
            ),
            line: 2379,
        });
    };
    if p.packet_type().is_none() {
        return Err(MdtestError::Error {
            message: format!("Unknown packet type \"{}\"", p.data_packet_type),
            line: 397,
        });
    }
    let barriers = p.no_barriers == 0;
    let plan = Plan::of(p);
    let paths = p.path_count();
    if p.stone_wall_timer_seconds > 0 && (p.branch_factor > 1 || !barriers) {
        return fail(format!(
            "Error, stone wall timer does only work with a branch factor <= 1 (current is {}) and with barriers",
            p.branch_factor
        ));
    }
    if !barriers && p.nstride != 0 {
        return fail("Possible race conditions will occur: -B not compatible with -N".into());
    }
    if p.shared_file != 0 && p.collective_creates != 0 {
        return fail("-c not compatible with -S".into());
    }
    if paths > 1 && p.collective_creates != 0 {
        return fail("-c not compatible with multiple test directories".into());
    }
    if p.collective_creates != 0 && !barriers {
        return fail("-c not compatible with -B".into());
    }
    if p.unique_dir_per_task != 0 && p.shared_file != 0 {
        return fail("-u not compatible with -S".into());
    }
    if paths > 1 && p.nstride > 0 {
        return fail(
            "cannot have multiple directory paths with -N strides between neighbor tasks".into(),
        );
    }
    if paths > 1 && p.unique_dir_per_task != 1 {
        return fail(
            "shared directory mode is not compatible with multiple directory paths".into(),
        );
    }
    if paths > world {
        return fail("cannot have more directory paths than MPI tasks".into());
    }
    if p.depth < 0 {
        return fail("depth must be greater than or equal to zero".into());
    }
    if p.branch_factor < 1 && p.depth > 0 {
        return fail("branch factor must be greater than or equal to zero".into());
    }
    if p.items > 0 && p.items_per_dir > 0 {
        if p.unique_dir_per_task != 0 {
            return fail(
                "only specify the number of items or the number of items per directory".into(),
            );
        } else if !p.items.is_multiple_of(p.items_per_dir) {
            return fail("items must be a multiple of items per directory".into());
        }
    }
    if p.write_bytes > 0 && p.make_node != 0 {
        return fail("-k not compatible with -w".into());
    }
    if p.verify_read != 0 && !plan.read {
        return fail("Verify read requires that the read test is used".into());
    }
    if p.verify_read != 0 && p.read_bytes == 0 {
        return fail("Verify read requires that read bytes is > 0".into());
    }
    let mut warnings = Vec::new();
    if plan.read && p.read_bytes == 0 {
        if p.warning_as_errors != 0 {
            return Err(MdtestError::Error {
                message: READ_BYTES_WARNING.into(),
                line: READ_BYTES_WARNING_LINE,
            });
        }
        warnings.push(format!("WARNING: {READ_BYTES_WARNING}"));
    }
    if plan.create && plan.read && p.read_bytes > p.write_bytes {
        return fail(
            "When writing and reading files, read bytes must be smaller than write bytes".into(),
        );
    }
    // Beyond mdtest: values mdtest would loop or divide by zero with.
    let ours = |m: String| Err(MdtestError::Run(format!("ERROR: {m}")));
    if p.iterations < 1 {
        return ours(format!(
            "-i {}: the number of iterations must be at least 1",
            p.iterations
        ));
    }
    if p.stride < 1 {
        return ours(format!(
            "-s {}: the task-count stride must be at least 1",
            p.stride
        ));
    }
    if p.iodepth < 1 {
        return ours(format!("--iodepth {}: must be at least 1", p.iodepth));
    }
    let (first, last) = task_range(p, world);
    if first > last {
        return Err(MdtestError::failed(
            0,
            RUN,
            "process number: first > last doesn't make sense",
        ));
    }
    if last > world as i64 {
        return Err(MdtestError::failed(
            0,
            RUN,
            "process number: last > number of processes doesn't make sense",
        ));
    }
    if first < 1 {
        return ours(format!(
            "-f {first}: the first task count must be at least 1"
        ));
    }
    let backend = AnyBackend::new(api, &p.backend_options)
        .map_err(|e| MdtestError::Run(format!("ERROR: {e}")))?;
    backend.check_params().map_err(backend_invalid)?;
    if p.iodepth > 1 && api != "BENCHFS" {
        warnings.push(format!(
            "--iodepth {} has no effect on {api}: its calls complete before they return",
            p.iodepth
        ));
    }
    for (opt, path) in [
        ("--saveRankPerformanceDetails", &p.save_rank_details),
        ("-x", &p.stonewall_status_file),
    ] {
        if let Some(path) = path {
            check_writable(opt, path, opt == "-x" && !plan.create)?;
        }
    }
    Ok(warnings)
}

/// The error of a backend that rejects the run's parameters (its `check_params`).
pub fn backend_invalid(e: crate::backend::BackendError) -> MdtestError {
    MdtestError::Run(format!(
        "ERROR: The backend returned that the test parameters are invalid. ({e})"
    ))
}

/// The task counts of the run: `-f`..`-l` (both the job's size when `-l` is 0).
pub fn task_range(p: &MdtestParams, world: usize) -> (i64, i64) {
    if p.last == 0 {
        (world as i64, world as i64)
    } else {
        (i64::from(p.first), i64::from(p.last))
    }
}

/// Fails when `path` cannot be written (an existing file is left as it is); `read_only` checks
/// nothing (a status file that is only read).
fn check_writable(opt: &str, path: &str, read_only: bool) -> Result<(), MdtestError> {
    if read_only {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(|_| ())
        .map_err(|e| MdtestError::Run(format!("ERROR: cannot write {opt} file \"{path}\": {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(world: usize, f: impl FnOnce(&mut MdtestParams)) -> Result<Vec<String>, String> {
        let mut p = MdtestParams {
            items: 10,
            ..MdtestParams::default()
        };
        f(&mut p);
        validate(&p, world).map_err(|e| match e {
            MdtestError::Failed { message, .. } => message,
            other => other.to_string(),
        })
    }

    #[test]
    fn mdtest_wording() {
        type Case = (Box<dyn FnOnce(&mut MdtestParams)>, &'static str);
        let cases: Vec<Case> = vec![
            (Box::new(|p| { p.unique_dir_per_task = 1; p.shared_file = 1 }), "-u not compatible with -S"),
            (Box::new(|p| { p.collective_creates = 1; p.shared_file = 1 }), "-c not compatible with -S"),
            (Box::new(|p| { p.no_barriers = 1; p.nstride = 1 }), "Possible race conditions will occur: -B not compatible with -N"),
            (Box::new(|p| { p.collective_creates = 1; p.no_barriers = 1 }), "-c not compatible with -B"),
            (Box::new(|p| { p.stone_wall_timer_seconds = 1; p.depth = 1; p.branch_factor = 2 }), "Error, stone wall timer does only work with a branch factor <= 1 (current is 2) and with barriers"),
            (Box::new(|p| { p.stone_wall_timer_seconds = 1; p.no_barriers = 1 }), "Error, stone wall timer does only work with a branch factor <= 1 (current is 1) and with barriers"),
            (Box::new(|p| p.verify_read = 1), "Verify read requires that read bytes is > 0"),
            (Box::new(|p| { p.verify_read = 1; p.create_only = 1; p.read_bytes = 10 }), "Verify read requires that the read test is used"),
            (Box::new(|p| { p.make_node = 1; p.write_bytes = 10 }), "-k not compatible with -w"),
            (Box::new(|p| p.items_per_dir = 3), "items must be a multiple of items per directory"),
            (Box::new(|p| { p.items_per_dir = 5; p.unique_dir_per_task = 1 }), "only specify the number of items or the number of items per directory"),
            (Box::new(|p| { p.read_bytes = 20; p.write_bytes = 10 }), "When writing and reading files, read bytes must be smaller than write bytes"),
            (Box::new(|p| p.depth = -1), "depth must be greater than or equal to zero"),
            (Box::new(|p| { p.branch_factor = 0; p.depth = 1 }), "branch factor must be greater than or equal to zero"),
            (Box::new(|p| { p.unique_dir_per_task = 1; p.dirpath = "/a@/b@/c".into() }), "cannot have more directory paths than MPI tasks"),
            (Box::new(|p| p.dirpath = "/a@/b".into()), "shared directory mode is not compatible with multiple directory paths"),
            (Box::new(|p| { p.unique_dir_per_task = 1; p.nstride = 1; p.dirpath = "/a@/b".into() }), "cannot have multiple directory paths with -N strides between neighbor tasks"),
            (Box::new(|p| { p.unique_dir_per_task = 1; p.collective_creates = 1; p.dirpath = "/a@/b".into() }), "-c not compatible with multiple test directories"),
            (Box::new(|p| { p.first = 3; p.last = 2 }), "process number: first > last doesn't make sense"),
            (Box::new(|p| p.last = 5), "process number: last > number of processes doesn't make sense"),
        ];
        for (f, want) in cases {
            assert_eq!(check(2, f), Err(want.to_string()));
        }
    }

    #[test]
    fn accepted_with_warnings() {
        assert_eq!(
            check(2, |_| {}).unwrap(),
            vec![format!("WARNING: {READ_BYTES_WARNING}")]
        );
        assert_eq!(check(2, |p| p.files_only = 1).unwrap().len(), 1);
        assert!(check(2, |p| {
            p.read_bytes = 5;
            p.write_bytes = 5
        })
        .unwrap()
        .is_empty());
        // -B alone works (mdtest 4.1 rejects it).
        assert!(check(2, |p| {
            p.no_barriers = 1;
            p.read_bytes = 1;
            p.write_bytes = 1
        })
        .is_ok());
        let w = check(2, |p| {
            p.iodepth = 4;
            p.read_bytes = 1;
            p.write_bytes = 1
        })
        .unwrap();
        assert!(w[0].contains("--iodepth 4 has no effect on POSIX"), "{w:?}");
    }

    #[test]
    fn our_errors_name_the_value() {
        assert_eq!(
            check(2, |p| p.api = Some("NOPE".into())).unwrap_err(),
            "ERROR: Unrecognized I/O API \"NOPE\" (known: POSIX, DUMMY, MMAP, BENCHFS), (mdtest.c:2379)"
        );
        assert_eq!(
            check(2, |p| p.data_packet_type = "x".into()).unwrap_err(),
            "ERROR: Unknown packet type \"x\", (mdtest.c:397)"
        );
        assert!(check(2, |p| p.iterations = 0).unwrap_err().contains("-i 0"));
        assert!(check(2, |p| p.warning_as_errors = 1)
            .unwrap_err()
            .starts_with("ERROR: Read bytes is 0"));
        let e = MdtestError::failed(1, "mdtest_run", "boom").to_string();
        assert!(
            e.ends_with(": Process 1: FAILED in mdtest_run, boom"),
            "{e}"
        );
        assert_eq!(
            e.len(),
            "12/01/2026 09:38:36".len() + ": Process 1: FAILED in mdtest_run, boom".len()
        );
    }
}
