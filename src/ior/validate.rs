//! Validation of one test's parameters (IOR's `CheckRunSettings`, the `-N` clamp of
//! `InitTests` and `ValidateTests`, SPEC §2.1), with IOR's messages.
//!
//! Owns the rules and their wording ([`msg`], one table). It adjusts parameters exactly
//! where IOR does (enables `-w -r`, resets `-i`/`-d`/`-e`, resolves and clamps `-N`) and
//! returns the warnings to print; it must not print, parse options or touch backends
//! (the caller passes whether the backend can fsync and runs `check_params` itself).

use crate::backend::canonical_backend_name;
use crate::ior::params::IorParams;
use std::fmt;

/// A fatal validation error. The string is IOR's message; `Display` prints
/// `ERROR: <message>` (without IOR's `, (ior.c:LINE)` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError(pub String);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR: {}", self.0)
    }
}

impl std::error::Error for ValidationError {}

/// Every validation message, in IOR's wording (ior.c `ValidateTests` of IOR 4.1) where
/// IOR has one.
pub mod msg {
    /// `-a` names no backend.
    pub const UNKNOWN_API: &str = "Unrecognized I/O API";
    /// `stoneWallingStatusFile` without `-k`.
    pub const STATUS_FILE_NEEDS_KEEP: &str = "a StoneWallingStatusFile is only sensible when splitting write/read into multiple executions of ior, please use -k";
    /// `stoneWallingStatusFile` with a write phase but no wear-out (two spaces: IOR's text).
    pub const STATUS_FILE_NEEDS_WEAR_OUT: &str = "the StoneWallingStatusFile is only sensible for a write test when using  stoneWallingWearOut";
    /// `stoneWallingWearOut` without `-D`.
    pub const WEAR_OUT_NEEDS_DEADLINE: &str =
        "the stoneWallingWearOut is only sensible when setting a stonewall deadline with -D";
    /// `-i` ≤ 0 (IOR warns and resets to 1 after sizing its results: ours is an error).
    pub const TOO_FEW_REPETITIONS: &str = "too few test repetitions";
    /// `-N 0` (or negative other than -1).
    pub const TOO_FEW_TASKS: &str = "too few tasks for testing";
    /// Warning (reset to 0): `-d` < 0.
    pub const NEGATIVE_DELAY: &str = "inter-test delay must be nonnegative value";
    /// `-R` without `-w` and without `-G`.
    pub const READ_CHECK_NEEDS_SIGNATURE: &str =
        "using readCheck only requires to write a timeStampSignature -- use -G";
    /// `-s` < 0.
    pub const NEGATIVE_SEGMENTS: &str = "segment count must be positive value";
    /// `-b` not a multiple of 8.
    pub const BLOCK_ACCESS_SIZE: &str = "block size must be a multiple of access size";
    /// `-b` < 0.
    pub const NEGATIVE_BLOCK: &str = "block size must be non-negative integer";
    /// `-t` not a multiple of 8.
    pub const TRANSFER_ACCESS_SIZE: &str = "transfer size must be a multiple of access size";
    /// `-t` < 0.
    pub const NEGATIVE_TRANSFER: &str = "transfer size must be non-negative integer";
    /// `-t 0`.
    pub const ZERO_TRANSFER: &str = "test will not complete with zero transfer size";
    /// `-b` not a multiple of `-t`.
    pub const BLOCK_TRANSFER_MULTIPLE: &str = "block size must be a multiple of transfer size";
    /// `-b` < `-t`.
    pub const BLOCK_SMALLER_THAN_TRANSFER: &str =
        "block size must not be smaller than transfer size";
    /// `-z` (once) with `-b` == `-t`.
    pub const RANDOM_NEEDS_LARGER_BLOCK: &str = "IOR will randomize access within a block and repeats the same pattern for all segments, therefore choose blocksize > transferSize";
    /// `--randomPrefill` without `-z`.
    pub const PREFILL_WITHOUT_RANDOM: &str =
        "Setting the randomPrefill option without using random is not useful";
    /// `--randomPrefill` not dividing `-b`.
    pub const PREFILL_DIVIDES_BLOCK: &str = "The randomPrefill option must divide the blockSize";
    /// Warning (reset to 0): `-e` with a backend that cannot fsync.
    pub const FSYNC_UNSUPPORTED: &str = "fsync() not supported in selected backend";
    /// `-C` with `-Z`.
    pub const BOTH_REORDERINGS: &str =
        "Both Constant and Random task re-ordering specified. Choose one and resubmit";
    /// `-z -Z` on a shared file.
    pub const RANDOM_AND_RANDOM_REORDER_SSF: &str = "random offset and random reorder tasks specified with single-shared-file. Choose one and resubmit";
    /// `-z -C` on a shared file.
    pub const RANDOM_AND_CONSTANT_REORDER_SSF: &str = "random offset and constant reorder tasks specified with single-shared-file. Choose one and resubmit";
    /// `-z -R` without `--random-offset-seed`.
    pub const RANDOM_CHECK_NEEDS_SEED: &str =
        "random offset with read check option requires to set the random seed";
    /// `-y` without `-F` (IOR's `CheckRunSettings`).
    pub const DUAL_MOUNT_NEEDS_FPP: &str = "Dual Mount can only be used with File Per Process";
    /// `--iodepth` < 1 (ours).
    pub const IODEPTH_TOO_SMALL: &str = "iodepth must be at least 1";
    /// `-y` with `-F` (ours): IOR's per-socket mount points have no equivalent here.
    pub const DUAL_MOUNT_UNSUPPORTED: &str =
        "dual mount (-y) is not supported by benchfs-bench (no per-socket mount points)";
    /// `--gpuDirect`, `allocateBufferOnGPU` (ours): IOR accepts them only in CUDA builds.
    pub const GPU_UNSUPPORTED: &str =
        "GPU buffers (--gpuDirect, allocateBufferOnGPU) need a CUDA build; benchfs-bench has none";
    /// The backend's `check_params` failed, followed by its reason in parentheses (said by the
    /// driver before the run and by the engine per test, not by [`super::validate`], which does
    /// not see the backend).
    pub const BACKEND_PARAMS_INVALID: &str =
        "The backend returned that the test parameters are invalid.";
}

/// A size as given and in IOR's units: `3145728 = 3 MiB`, or the bare number when it is
/// not a whole number of KiB.
fn size_text(v: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    match UNITS.iter().find(|(u, _)| v != 0 && v % u == 0) {
        Some((u, name)) => format!("{v} = {} {name}", v / u),
        None => v.to_string(),
    }
}

/// IOR's `WARN_RESET` line.
fn warn_reset(message: &str, value: impl fmt::Display) -> String {
    format!("WARNING: {message}. Using value of {value}.")
}

/// Checks and adjusts one test like IOR before it runs; returns the warnings to print
/// in order. `world_size` is the number of tasks started; `backend_supports_fsync` says
/// whether `-e` is honoured by the selected backend.
///
/// Adjustments: no `-w -r -W -R` enables
/// `-w -r`; `-N -1` becomes `world_size` and `-N` > `world_size` is clamped (warning);
/// `-i` ≤ 0 → 1, `-d` < 0 → 0 and unsupported `-e` → 0 (warnings).
/// With `--warningAsErrors`, the `-N` warning is an error as in IOR (`WARNF`).
pub fn validate(
    params: &mut IorParams,
    world_size: usize,
    backend_supports_fsync: bool,
) -> Result<Vec<String>, ValidationError> {
    let err = |m: &str| Err(ValidationError(m.to_string()));
    // IOR's message, then the values that broke the rule.
    let err_with = |m: &str, values: String| Err(ValidationError(format!("{m} ({values})")));
    let (b, t) = (params.block_size, params.transfer_size);
    let bt = || format!("-b {}, -t {}", size_text(b), size_text(t));
    let mut warnings = Vec::new();

    // The name stays as typed (IOR prints it so); it is matched case-insensitively.
    if canonical_backend_name(&params.api).is_none() {
        return Err(ValidationError(format!(
            "{}: {} (known: {})",
            msg::UNKNOWN_API,
            params.api,
            crate::backend::BACKEND_NAMES.join(", ")
        )));
    }

    // CheckRunSettings.
    if params.write_file == 0
        && params.read_file == 0
        && params.check_write == 0
        && params.check_read == 0
    {
        params.write_file = 1;
        params.read_file = 1;
    }

    // InitTests: -N.
    let world = i32::try_from(world_size).unwrap_or(i32::MAX);
    if params.num_tasks == -1 {
        params.num_tasks = world;
    } else if params.num_tasks > world {
        let first = format!(
            "More tasks requested ({}) than available ({}),",
            params.num_tasks, world
        );
        if params.warning_as_errors != 0 {
            return Err(ValidationError(first));
        }
        warnings.push(format!("WARNING: {first}"));
        warnings.push(format!("WARNING:          running with {world} tasks."));
        params.num_tasks = world;
    }

    // ValidateTests, in IOR's order.
    let defaults = IorParams::default();
    if params.stone_walling_status_file.is_some() && params.keep_file == 0 {
        return err(msg::STATUS_FILE_NEEDS_KEEP);
    }
    if params.stone_walling_status_file.is_some()
        && params.stone_walling_wear_out == 0
        && params.write_file != 0
    {
        return err(msg::STATUS_FILE_NEEDS_WEAR_OUT);
    }
    if params.deadline_for_stonewalling == 0 && params.stone_walling_wear_out > 0 {
        return err(msg::WEAR_OUT_NEEDS_DEADLINE);
    }
    // IOR resets -i 0 to 1 with a warning but has sized its results for 0 repetitions by
    // then (it may crash: err_reps_zero_stonewall.txt), and fails -i -2 allocating them.
    if params.repetitions <= 0 {
        return Err(ValidationError(format!(
            "{}: -i {} (at least 1 is needed)",
            msg::TOO_FEW_REPETITIONS,
            params.repetitions
        )));
    }
    if params.num_tasks <= 0 {
        return err(msg::TOO_FEW_TASKS);
    }
    if params.inter_test_delay < 0 {
        params.inter_test_delay = defaults.inter_test_delay;
        warnings.push(warn_reset(msg::NEGATIVE_DELAY, params.inter_test_delay));
    }
    if params.set_time_stamp_signature == 0 && params.write_file == 0 && params.check_read != 0 {
        return err(msg::READ_CHECK_NEEDS_SIGNATURE);
    }
    if params.segment_count < 0 {
        return err_with(
            msg::NEGATIVE_SEGMENTS,
            format!("-s {}", params.segment_count),
        );
    }
    if params.block_size % 8 != 0 {
        return err_with(
            msg::BLOCK_ACCESS_SIZE,
            format!("-b {}, access size 8", size_text(b)),
        );
    }
    if params.block_size < 0 {
        return err_with(msg::NEGATIVE_BLOCK, format!("-b {b}"));
    }
    if params.transfer_size % 8 != 0 {
        return err_with(
            msg::TRANSFER_ACCESS_SIZE,
            format!("-t {}, access size 8", size_text(t)),
        );
    }
    if params.transfer_size < 0 {
        return err_with(msg::NEGATIVE_TRANSFER, format!("-t {t}"));
    }
    if params.transfer_size == 0 {
        return err(msg::ZERO_TRANSFER);
    }
    if params.block_size % params.transfer_size != 0 {
        return err_with(msg::BLOCK_TRANSFER_MULTIPLE, bt());
    }
    if params.block_size < params.transfer_size {
        return err_with(msg::BLOCK_SMALLER_THAN_TRANSFER, bt());
    }
    if params.random_offset == 1 && params.block_size == params.transfer_size {
        return err_with(msg::RANDOM_NEEDS_LARGER_BLOCK, bt());
    }
    if params.random_offset == 0 && params.random_prefill_blocksize != 0 {
        return err(msg::PREFILL_WITHOUT_RANDOM);
    }
    if params.random_prefill_blocksize != 0
        && params
            .block_size
            .checked_rem(params.random_prefill_blocksize)
            .is_none_or(|r| r != 0)
    {
        return err_with(
            msg::PREFILL_DIVIDES_BLOCK,
            format!(
                "-b {}, randomPrefill {}",
                size_text(b),
                size_text(params.random_prefill_blocksize)
            ),
        );
    }
    if params.fsync != 0 && !backend_supports_fsync {
        params.fsync = defaults.fsync;
        warnings.push(warn_reset(msg::FSYNC_UNSUPPORTED, params.fsync));
    }
    if params.reorder_tasks != 0 && params.reorder_tasks_random != 0 {
        return err(msg::BOTH_REORDERINGS);
    }
    if params.random_offset != 0 && params.reorder_tasks_random != 0 && params.file_per_proc == 0 {
        return err(msg::RANDOM_AND_RANDOM_REORDER_SSF);
    }
    if params.random_offset != 0 && params.reorder_tasks != 0 && params.file_per_proc == 0 {
        return err(msg::RANDOM_AND_CONSTANT_REORDER_SSF);
    }
    if params.random_offset != 0 && params.check_read != 0 && params.random_offset_seed == -1 {
        return err(msg::RANDOM_CHECK_NEEDS_SEED);
    }
    if params.dual_mount != 0 && params.file_per_proc == 0 {
        return Err(ValidationError(format!(
            "{} (-y without -F)",
            msg::DUAL_MOUNT_NEEDS_FPP
        )));
    }
    if params.dual_mount != 0 {
        return err(msg::DUAL_MOUNT_UNSUPPORTED);
    }
    if params.gpu_direct != 0 || params.allocate_buffer_on_gpu != 0 {
        return err(msg::GPU_UNSUPPORTED);
    }
    if params.iodepth < 1 {
        return err_with(
            msg::IODEPTH_TOO_SMALL,
            format!("--iodepth {}", params.iodepth),
        );
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid test: `-w -r`, defaults otherwise.
    fn base() -> IorParams {
        IorParams {
            write_file: 1,
            read_file: 1,
            ..IorParams::default()
        }
    }

    fn check(p: IorParams) -> Result<(IorParams, Vec<String>), String> {
        let mut p = p;
        match validate(&mut p, 2, true) {
            Ok(w) => Ok((p, w)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Fails with IOR's message `m` (values may follow it in parentheses).
    fn fails(p: IorParams, m: &str) {
        let e = check(p).unwrap_err();
        let want = format!("ERROR: {m}");
        assert!(
            e == want || e.starts_with(&format!("{want} (")),
            "{e:?} is not {want:?}"
        );
    }

    #[test]
    fn errors_name_the_values() {
        let e = check(IorParams {
            block_size: 1 << 20,
            transfer_size: 3 << 20,
            ..base()
        })
        .unwrap_err();
        assert_eq!(
            e,
            "ERROR: block size must be a multiple of transfer size (-b 1048576 = 1 MiB, -t 3145728 = 3 MiB)"
        );
        let e = check(IorParams {
            block_size: 1 << 20,
            transfer_size: 2 << 20,
            ..base()
        })
        .unwrap_err();
        assert!(
            e.contains("(-b 1048576 = 1 MiB, -t 2097152 = 2 MiB)"),
            "{e}"
        );
        let e = check(IorParams {
            block_size: 1001,
            ..base()
        })
        .unwrap_err();
        assert!(e.ends_with("(-b 1001, access size 8)"), "{e}");
        let e = check(IorParams {
            api: "LUSTRE".into(),
            ..base()
        })
        .unwrap_err();
        assert_eq!(
            e,
            format!(
                "ERROR: Unrecognized I/O API: LUSTRE (known: {})",
                crate::backend::BACKEND_NAMES.join(", ")
            )
        );
    }

    #[test]
    fn defaults_are_valid_and_enable_write_and_read() {
        let (p, w) = check(IorParams::default()).unwrap();
        assert!(w.is_empty());
        assert_eq!((p.write_file, p.read_file), (1, 1));
        assert_eq!(p.num_tasks, 2);
        assert_eq!(p.api, "POSIX");
    }

    #[test]
    fn explicit_phases_are_kept() {
        for (w, r, cw, cr, sig) in [
            (1, 0, 0, 0, 0),
            (0, 1, 0, 0, 0),
            (0, 0, 1, 0, 0),
            (0, 0, 0, 1, 5),
        ] {
            let p = IorParams {
                write_file: w,
                read_file: r,
                check_write: cw,
                check_read: cr,
                set_time_stamp_signature: sig,
                ..IorParams::default()
            };
            let (p, _) = check(p).unwrap();
            assert_eq!((p.write_file, p.read_file), (w, r));
        }
    }

    #[test]
    fn api_is_checked_and_kept_as_typed() {
        let (p, _) = check(IorParams {
            api: "dummy".into(),
            ..base()
        })
        .unwrap();
        assert_eq!(p.api, "dummy");
        fails(
            IorParams {
                api: "MPIIO".into(),
                ..base()
            },
            "Unrecognized I/O API: MPIIO (known: POSIX, DUMMY, MMAP, BENCHFS)",
        );
        assert_eq!(
            ValidationError(msg::UNKNOWN_API.into()).to_string(),
            "ERROR: Unrecognized I/O API"
        );
    }

    #[test]
    fn too_few_repetitions_are_refused() {
        for reps in [0, -2] {
            let e = check(IorParams {
                repetitions: reps,
                ..base()
            })
            .unwrap_err();
            assert_eq!(
                e,
                format!("ERROR: too few test repetitions: -i {reps} (at least 1 is needed)")
            );
        }
    }

    #[test]
    fn negative_delay_reset_with_warning() {
        let (p, w) = check(IorParams {
            inter_test_delay: -1,
            ..base()
        })
        .unwrap();
        assert_eq!(p.inter_test_delay, 0);
        assert_eq!(
            w,
            vec!["WARNING: inter-test delay must be nonnegative value. Using value of 0."]
        );
    }

    #[test]
    fn num_tasks_clamped_with_warning() {
        let (p, w) = check(IorParams {
            num_tasks: 5,
            ..base()
        })
        .unwrap();
        assert_eq!(p.num_tasks, 2);
        assert_eq!(
            w,
            vec![
                "WARNING: More tasks requested (5) than available (2),",
                "WARNING:          running with 2 tasks."
            ]
        );
        let (p, w) = check(IorParams {
            num_tasks: 1,
            ..base()
        })
        .unwrap();
        assert_eq!(p.num_tasks, 1);
        assert!(w.is_empty());
        // --warningAsErrors turns IOR's WARNF into an error.
        assert_eq!(
            check(IorParams {
                num_tasks: 5,
                warning_as_errors: 1,
                ..base()
            })
            .unwrap_err(),
            "ERROR: More tasks requested (5) than available (2),"
        );
    }

    #[test]
    fn too_few_tasks() {
        fails(
            IorParams {
                num_tasks: 0,
                ..base()
            },
            msg::TOO_FEW_TASKS,
        );
        fails(
            IorParams {
                num_tasks: -2,
                ..base()
            },
            msg::TOO_FEW_TASKS,
        );
    }

    #[test]
    fn fsync_unsupported_warns_and_resets() {
        let mut p = IorParams { fsync: 1, ..base() };
        let w = validate(&mut p, 1, false).unwrap();
        assert_eq!(p.fsync, 0);
        assert_eq!(
            w,
            vec!["WARNING: fsync() not supported in selected backend. Using value of 0."]
        );
        let mut p = IorParams { fsync: 1, ..base() };
        assert!(validate(&mut p, 1, true).unwrap().is_empty());
        assert_eq!(p.fsync, 1);
    }

    #[test]
    fn stonewall_status_file_needs_keep() {
        fails(
            IorParams {
                stone_walling_status_file: Some("/tmp/s".into()),
                ..base()
            },
            msg::STATUS_FILE_NEEDS_KEEP,
        );
    }

    #[test]
    fn stonewall_status_file_write_needs_wear_out() {
        fails(
            IorParams {
                stone_walling_status_file: Some("/tmp/s".into()),
                keep_file: 1,
                ..base()
            },
            msg::STATUS_FILE_NEEDS_WEAR_OUT,
        );
        // Read-only use is fine.
        check(IorParams {
            stone_walling_status_file: Some("/tmp/s".into()),
            keep_file: 1,
            read_file: 1,
            ..IorParams::default()
        })
        .unwrap();
        // With wear-out and -D it is fine for writes.
        check(IorParams {
            stone_walling_status_file: Some("/tmp/s".into()),
            keep_file: 1,
            stone_walling_wear_out: 1,
            deadline_for_stonewalling: 1,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn wear_out_needs_deadline() {
        fails(
            IorParams {
                stone_walling_wear_out: 1,
                ..base()
            },
            msg::WEAR_OUT_NEEDS_DEADLINE,
        );
    }

    #[test]
    fn read_check_needs_signature_without_write() {
        fails(
            IorParams {
                check_read: 1,
                ..IorParams::default()
            },
            msg::READ_CHECK_NEEDS_SIGNATURE,
        );
        assert_eq!(
            check(IorParams {
                check_read: 1,
                ..IorParams::default()
            })
            .unwrap_err(),
            "ERROR: using readCheck only requires to write a timeStampSignature -- use -G"
        );
        check(IorParams {
            check_read: 1,
            set_time_stamp_signature: 7,
            ..IorParams::default()
        })
        .unwrap();
        check(IorParams {
            check_read: 1,
            write_file: 1,
            ..IorParams::default()
        })
        .unwrap();
    }

    #[test]
    fn negative_segments() {
        fails(
            IorParams {
                segment_count: -1,
                ..base()
            },
            msg::NEGATIVE_SEGMENTS,
        );
    }

    #[test]
    fn block_access_size() {
        fails(
            IorParams {
                block_size: 1_048_577,
                ..base()
            },
            msg::BLOCK_ACCESS_SIZE,
        );
        // -b abc parses to -1: IOR reports the access size first.
        fails(
            IorParams {
                block_size: -1,
                ..base()
            },
            msg::BLOCK_ACCESS_SIZE,
        );
    }

    #[test]
    fn negative_block() {
        fails(
            IorParams {
                block_size: -8,
                ..base()
            },
            msg::NEGATIVE_BLOCK,
        );
    }

    #[test]
    fn transfer_access_size() {
        fails(
            IorParams {
                transfer_size: 1001,
                ..base()
            },
            msg::TRANSFER_ACCESS_SIZE,
        );
    }

    #[test]
    fn negative_transfer() {
        fails(
            IorParams {
                transfer_size: -8,
                ..base()
            },
            msg::NEGATIVE_TRANSFER,
        );
    }

    #[test]
    fn zero_transfer() {
        fails(
            IorParams {
                transfer_size: 0,
                ..base()
            },
            msg::ZERO_TRANSFER,
        );
    }

    #[test]
    fn block_multiple_of_transfer() {
        fails(
            IorParams {
                block_size: 3 << 20,
                transfer_size: 2 << 20,
                ..base()
            },
            msg::BLOCK_TRANSFER_MULTIPLE,
        );
    }

    #[test]
    fn block_not_smaller_than_transfer() {
        // 0 is a multiple of everything, so only the size order trips.
        fails(
            IorParams {
                block_size: 0,
                ..base()
            },
            msg::BLOCK_SMALLER_THAN_TRANSFER,
        );
    }

    #[test]
    fn random_needs_larger_block() {
        fails(
            IorParams {
                random_offset: 1,
                block_size: 1 << 20,
                transfer_size: 1 << 20,
                ..base()
            },
            msg::RANDOM_NEEDS_LARGER_BLOCK,
        );
        // -z -z is allowed with block == transfer.
        check(IorParams {
            random_offset: 2,
            block_size: 1 << 20,
            transfer_size: 1 << 20,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn prefill_without_random() {
        fails(
            IorParams {
                random_prefill_blocksize: 4096,
                ..base()
            },
            msg::PREFILL_WITHOUT_RANDOM,
        );
    }

    #[test]
    fn prefill_must_divide_block() {
        fails(
            IorParams {
                random_offset: 1,
                random_prefill_blocksize: 3000,
                ..base()
            },
            msg::PREFILL_DIVIDES_BLOCK,
        );
        check(IorParams {
            random_offset: 1,
            random_prefill_blocksize: 4096,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn both_reorderings() {
        fails(
            IorParams {
                reorder_tasks: 1,
                reorder_tasks_random: 1,
                ..base()
            },
            msg::BOTH_REORDERINGS,
        );
    }

    #[test]
    fn random_and_random_reorder_on_shared_file() {
        fails(
            IorParams {
                random_offset: 1,
                reorder_tasks_random: 1,
                ..base()
            },
            msg::RANDOM_AND_RANDOM_REORDER_SSF,
        );
        check(IorParams {
            random_offset: 1,
            reorder_tasks_random: 1,
            file_per_proc: 1,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn random_and_constant_reorder_on_shared_file() {
        fails(
            IorParams {
                random_offset: 1,
                reorder_tasks: 1,
                ..base()
            },
            msg::RANDOM_AND_CONSTANT_REORDER_SSF,
        );
        check(IorParams {
            random_offset: 1,
            reorder_tasks: 1,
            file_per_proc: 1,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn random_read_check_needs_seed() {
        fails(
            IorParams {
                random_offset: 1,
                check_read: 1,
                ..base()
            },
            msg::RANDOM_CHECK_NEEDS_SEED,
        );
        check(IorParams {
            random_offset: 1,
            check_read: 1,
            random_offset_seed: 42,
            ..base()
        })
        .unwrap();
    }

    #[test]
    fn dual_mount_needs_fpp() {
        fails(
            IorParams {
                dual_mount: 1,
                ..base()
            },
            "Dual Mount can only be used with File Per Process (-y without -F)",
        );
        fails(
            IorParams {
                dual_mount: 1,
                file_per_proc: 1,
                ..base()
            },
            msg::DUAL_MOUNT_UNSUPPORTED,
        );
    }

    #[test]
    fn gpu_buffers_are_refused() {
        fails(
            IorParams {
                gpu_direct: 1,
                ..base()
            },
            msg::GPU_UNSUPPORTED,
        );
        fails(
            IorParams {
                allocate_buffer_on_gpu: 1,
                ..base()
            },
            msg::GPU_UNSUPPORTED,
        );
    }

    #[test]
    fn iodepth_at_least_one() {
        fails(
            IorParams {
                iodepth: 0,
                ..base()
            },
            msg::IODEPTH_TOO_SMALL,
        );
    }

    #[test]
    fn parsed_command_lines() {
        use crate::ior::options::parse_args;
        let run = |a: &[&str]| {
            let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            let mut p = parse_args(&args).unwrap().tests.remove(0);
            validate(&mut p, 2, true).map_err(|e| e.to_string())
        };
        assert!(run(&[
            "-b", "64m", "-t", "1m", "-s", "4", "-F", "-w", "-r", "-C", "-e", "-i", "3"
        ])
        .is_ok());
        assert_eq!(
            run(&["-z", "-b", "1m", "-t", "1m"]).unwrap_err(),
            format!(
                "ERROR: {} (-b 1048576 = 1 MiB, -t 1048576 = 1 MiB)",
                msg::RANDOM_NEEDS_LARGER_BLOCK
            )
        );
        assert_eq!(
            run(&["-C", "-Z"]).unwrap_err(),
            format!("ERROR: {}", msg::BOTH_REORDERINGS)
        );
        assert_eq!(
            run(&["-R"]).unwrap_err(),
            format!("ERROR: {}", msg::READ_CHECK_NEEDS_SIGNATURE)
        );
        assert!(run(&["-R", "-G", "1234", "-l", "offset", "-k", "-E"]).is_ok());
        assert_eq!(
            run(&["-a", "HDF5"]).unwrap_err(),
            "ERROR: Unrecognized I/O API: HDF5 (known: POSIX, DUMMY, MMAP, BENCHFS)"
        );
    }
}
