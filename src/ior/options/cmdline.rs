//! IOR's command line as a whole (`ParseCommandLine`, SPEC §1.1): every token in order
//! (later wins, `-O` applied when met), then `-l` / `-M` resolved, then the `-f` script read
//! with the command-line values as test 0's defaults.
//!
//! Owns that order and the script warnings. It must not know single options (the table in
//! [`super::table`], applied by [`super::apply`]) or the script format ([`super::script`]).

use super::apply::IorTable;
use super::error::OptionError;
use super::script;
use super::table::{Ctx, Deferred};
use crate::ior::params::{GlobalOptions, IorParams};
use crate::optparse;

/// Result of [`parse_args`]: the global options, one parameter set per test, the
/// warnings IOR prints while parsing (print them in order) and whether help was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedArgs {
    /// Options for the whole run (`summaryFormat`, `--json`, ...). `command_line` is left
    /// empty: the caller sets it.
    pub global: GlobalOptions,
    /// Tests in order; `test_id` 0, 1, 2, ...
    pub tests: Vec<IorParams>,
    /// Warnings in IOR's wording (`WARNING: parsing the number ...`).
    pub warnings: Vec<String>,
    /// `-h` / `--help` was given: print [`super::help_text`] and exit 1.
    pub help: bool,
    /// `--version` was given: print the build and exit 0.
    pub version: bool,
}

/// Parses a whole command line (without `argv[0]`) with IOR's rules (SPEC §1.1):
/// options in order, later wins, `-O` applied when met, `-l`/`-M` resolved after all
/// options, then the `-f` script read with the command-line values as test 0's defaults.
pub fn parse_args(args: &[String]) -> Result<ParsedArgs, OptionError> {
    let mut params = IorParams::default();
    let mut global = GlobalOptions::default();
    let mut warnings = Vec::new();
    let mut later = Deferred::default();
    optparse::parse_tokens(
        &IorTable,
        args,
        &mut Ctx {
            params: &mut params,
            global: &mut global,
            later: &mut later,
            warnings: &mut warnings,
        },
    )?;
    // Help and version read no script.
    let no_run = later.help || later.version;
    later.finish(&mut params)?;
    params.test_id = 0;
    let tests = match (&global.script, no_run) {
        (Some(path), false) => {
            let text = std::fs::read_to_string(path).map_err(|e| OptionError::ScriptRead {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let tests = script::parse_script_collect(&text, &params, &mut global, &mut warnings)?;
            for t in &tests {
                if t.stone_walling_status_file.is_some() {
                    warnings.push("WARNING: the StoneWallingStatusFile only preserves the last experiment, make sure that each run uses a separate status file!".to_string());
                }
            }
            tests
        }
        _ => vec![params],
    };
    Ok(ParsedArgs {
        global,
        tests,
        warnings,
        help: later.help,
        version: later.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::params::{DataPacketType, SummaryFormat};

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn parse(s: &[&str]) -> ParsedArgs {
        parse_args(&args(s)).unwrap()
    }

    fn p0(s: &[&str]) -> IorParams {
        let r = parse(s);
        assert_eq!(r.tests.len(), 1);
        r.tests.into_iter().next().unwrap()
    }

    fn err(s: &[&str]) -> String {
        parse_args(&args(s)).unwrap_err().to_string()
    }

    #[test]
    fn empty_command_line_gives_ior_defaults() {
        let r = parse(&[]);
        assert_eq!(r.tests, vec![IorParams::default()]);
        assert_eq!(r.global, GlobalOptions::default());
        assert!(r.warnings.is_empty());
        assert!(!r.help);
    }

    #[test]
    fn value_forms() {
        for form in [&["-b", "4m"][..], &["-b4m"][..], &["-b=4m"][..]] {
            assert_eq!(p0(form).block_size, 4 << 20, "{form:?}");
        }
        // `=` with nothing after it gives a value option no value (IOR: argument missing).
        assert_eq!(err(&["-b=", "4m"]), "Error, argument missing for option b");
        assert_eq!(
            p0(&["--randomPrefill", "64k"]).random_prefill_blocksize,
            65536
        );
        assert_eq!(p0(&["--randomPrefill=64k"]).random_prefill_blocksize, 65536);
        assert_eq!(p0(&["--random-offset-seed=42"]).random_offset_seed, 42);
        assert_eq!(
            p0(&["--dataPacketType", "offset"]).data_packet_type,
            DataPacketType::Offset
        );
    }

    #[test]
    fn value_may_start_with_dash() {
        assert_eq!(p0(&["-o", "-weird"]).test_file_name, "-weird");
        assert_eq!(p0(&["-N", "-1"]).num_tasks, -1);
    }

    #[test]
    fn flags_count_and_group() {
        let p = p0(&["-z", "-z"]);
        assert_eq!(p.random_offset, 2);
        assert_eq!(p0(&["-vvv"]).verbose, 3);
        assert_eq!(p0(&["-v", "-v", "-v"]).verbose, 3);
        assert_eq!(p0(&["-Z", "-Z"]).reorder_tasks_random, 2);
        assert_eq!(p0(&["-C", "-C"]).reorder_tasks, 2);
        let p = p0(&["-wrF"]);
        assert_eq!((p.write_file, p.read_file, p.file_per_proc), (1, 1, 1));
        let p = p0(&["-c", "--collective"]);
        assert_eq!(p.collective, 2);
    }

    #[test]
    fn flag_with_equal_sets_and_clamps() {
        assert_eq!(p0(&["-F=1"]).file_per_proc, 1);
        assert_eq!(p0(&["-F", "-F", "-F=0"]).file_per_proc, 0);
        assert_eq!(p0(&["-F=5"]).file_per_proc, 5);
        assert_eq!(p0(&["-F=-3"]).file_per_proc, 0);
        assert_eq!(p0(&["-F="]).file_per_proc, 1);
        assert_eq!(p0(&["--dryRun=2"]).dry_run, 2);
        // In a group the value goes to every flag (IOR).
        let p = p0(&["-wF=3"]);
        assert_eq!((p.write_file, p.file_per_proc), (3, 3));
    }

    #[test]
    fn value_option_inside_group() {
        // As real IOR 4.1 reads them (checked against it, see optparse::parse_token).
        let p = p0(&["-wrb", "4m"]);
        assert_eq!((p.write_file, p.read_file, p.block_size), (1, 1, 4 << 20));
        // Not first in the group: the value is the next token.
        let p = p0(&["-wb", "4m", "-t", "256k"]);
        assert_eq!(
            (p.write_file, p.block_size, p.transfer_size),
            (1, 4 << 20, 256 << 10)
        );
        // First in the group: the rest of the token, whose letters are flags too, given the
        // value: `-b4m` is also `-m=4`, `-t256k` also `-k=256`.
        let p = p0(&["-b4m", "-t256k"]);
        assert_eq!((p.block_size, p.transfer_size), (4 << 20, 256 << 10));
        assert_eq!((p.multi_file, p.keep_file), (4, 256));
        // IOR reads the `w` of `-bw` as block size -1 (and `-w=0`); here it is an error
        // naming it.
        assert!(err(&["-bw"]).starts_with("Error, invalid size \"w\" for -b"));
        // IOR's complex-tests.sh: `-z-k` is `-z -k` (fid_group_z_k.txt).
        let p = p0(&["-z-k"]);
        assert_eq!((p.random_offset, p.keep_file), (1, 1));
    }

    #[test]
    fn order_later_wins() {
        assert_eq!(p0(&["-b", "1m", "-b", "2m"]).block_size, 2 << 20);
        assert_eq!(p0(&["-O", "api=DUMMY", "-a", "POSIX"]).api, "POSIX");
        assert_eq!(p0(&["-a", "POSIX", "-O", "api=DUMMY"]).api, "DUMMY");
        assert_eq!(p0(&["-b", "8m", "-O", "blockSize=2m"]).block_size, 2 << 20);
        assert_eq!(p0(&["-O", "blockSize=2m", "-b", "8m"]).block_size, 8 << 20);
    }

    #[test]
    fn api_case() {
        // Kept as typed, as IOR (fid_api_lowercase.txt); matched case-insensitively.
        assert_eq!(p0(&["-a", "dummy"]).api, "dummy");
        assert_eq!(p0(&["-a", "Posix"]).api, "Posix");
        assert_eq!(p0(&["-a", "nosuch"]).api, "nosuch");
    }

    #[test]
    fn every_core_value_option() {
        let p = p0(&[
            "-a",
            "DUMMY",
            "-A",
            "77",
            "-b",
            "8m",
            "-d",
            "3",
            "-D",
            "5",
            "-G",
            "1234",
            "-i",
            "4",
            "-j",
            "9",
            "-l",
            "offset",
            "-M",
            "2g",
            "-N",
            "2",
            "-o",
            "/tmp/f",
            "-Q",
            "2",
            "-s",
            "3",
            "-t",
            "1m",
            "-T",
            "7",
            "-X",
            "-5",
            "--iodepth",
            "8",
        ]);
        assert_eq!(p.api, "DUMMY");
        assert_eq!(p.ref_num, 77);
        assert_eq!(p.block_size, 8 << 20);
        assert_eq!(p.inter_test_delay, 3);
        assert_eq!(p.deadline_for_stonewalling, 5);
        assert_eq!(p.set_time_stamp_signature, 1234);
        assert_eq!(p.repetitions, 4);
        assert_eq!(p.outlier_threshold, 9);
        assert_eq!(p.data_packet_type, DataPacketType::Offset);
        assert_eq!(p.memory_per_node, 2 << 30);
        assert_eq!(p.memory_per_node_str.as_deref(), Some("2g"));
        assert_eq!(p.num_tasks, 2);
        assert_eq!(p.test_file_name, "/tmp/f");
        assert_eq!(p.task_per_node_offset, 2);
        assert_eq!(p.segment_count, 3);
        assert_eq!(p.transfer_size, 1 << 20);
        assert_eq!(p.max_time_duration, 7);
        assert_eq!(p.reorder_tasks_random_seed, -5);
        assert_eq!(p.iodepth, 8);
    }

    #[test]
    fn every_core_flag() {
        let p = p0(&[
            "-c",
            "-C",
            "-e",
            "-E",
            "-F",
            "-g",
            "-k",
            "-K",
            "-m",
            "-r",
            "-R",
            "-u",
            "-v",
            "-w",
            "-W",
            "-x",
            "-y",
            "-Y",
            "-z",
            "-Z",
            "--warningAsErrors",
            "--dryRun",
            "--gpuDirect",
        ]);
        for (name, v) in [
            ("collective", p.collective),
            ("reorder", p.reorder_tasks),
            ("fsync", p.fsync),
            ("existing", p.use_existing_test_file),
            ("fpp", p.file_per_proc),
            ("barriers", p.intra_test_barriers),
            ("keep", p.keep_file),
            ("keeperr", p.keep_file_with_error),
            ("multi", p.multi_file),
            ("read", p.read_file),
            ("checkread", p.check_read),
            ("unique", p.unique_dir),
            ("verbose", p.verbose),
            ("write", p.write_file),
            ("checkwrite", p.check_write),
            ("single", p.single_xfer_attempt),
            ("dual", p.dual_mount),
            ("fsyncw", p.fsync_per_write),
            ("random", p.random_offset),
            ("reorderrandom", p.reorder_tasks_random),
            ("warnerr", p.warning_as_errors),
            ("dry", p.dry_run),
            ("gpu", p.gpu_direct),
        ] {
            assert_eq!(v, 1, "{name}");
        }
    }

    #[test]
    fn int_options_take_suffixes_and_warn_on_overflow() {
        assert_eq!(p0(&["-i", "1k"]).repetitions, 1024);
        let r = parse(&["-i", "4g"]);
        assert_eq!(
            r.warnings,
            vec!["WARNING: parsing the number 4g to integer, this produced an overflow!"]
        );
    }

    #[test]
    fn our_options() {
        let r = parse(&[
            "--json",
            "out.json",
            "--tasks-per-node",
            "4",
            "--iodepth=2",
            "--progress",
            "--results-dir=res",
        ]);
        assert_eq!(r.global.json_file.as_deref(), Some("out.json"));
        assert_eq!(r.global.results_dir.as_deref(), Some("res"));
        assert_eq!(r.global.tasks_per_node, 4);
        assert_eq!(r.global.progress, Some(true));
        assert_eq!(r.tests[0].iodepth, 2);
        assert_eq!(parse(&["--no-progress"]).global.progress, Some(false));
        assert_eq!(
            parse(&["--no-progress", "--progress"]).global.progress,
            Some(true)
        );
        assert!(err(&["--tasks-per-node", "-1"]).starts_with("Error, invalid value \"-1\""));
    }

    #[test]
    fn help() {
        assert!(parse(&["-h"]).help);
        assert!(parse(&["--help"]).help);
        assert!(parse(&["-w", "-h", "-r"]).help);
        assert!(!parse(&["-w"]).help);
    }

    #[test]
    fn packet_type_first_char_and_errors() {
        assert_eq!(
            p0(&["-l", "incompressible"]).data_packet_type,
            DataPacketType::Incompressible
        );
        assert_eq!(p0(&["-l", "r"]).data_packet_type, DataPacketType::Random);
        assert_eq!(p0(&["-l", "t"]).data_packet_type, DataPacketType::Timestamp);
        assert_eq!(
            p0(&["-l", "x", "-l", "o"]).data_packet_type,
            DataPacketType::Offset
        );
        assert!(err(&["-l", "xyz"]).starts_with("ERROR: Unknown packet type"));
    }

    #[test]
    fn memory_per_node_percent() {
        let p = p0(&["-M", "50%"]);
        assert!(p.memory_per_node > 0);
        assert_eq!(p.memory_per_node_str.as_deref(), Some("50%"));
        assert_eq!(
            err(&["-M", "150%"]),
            "ERROR: percentage must be between 0 and 100"
        );
    }

    #[test]
    fn unknown_option_errors() {
        assert_eq!(err(&["-w", "foo"]), "Error invalid argument: foo");
        assert_eq!(err(&["--nosuch"]), "Error invalid argument: --nosuch");
        assert_eq!(err(&["--nosuch=3"]), "Error invalid argument: --nosuch");
        assert_eq!(err(&["-"]), "Error invalid argument: -");
        assert_eq!(err(&["--"]), "Error invalid argument: --");
        // IOR has no long names for most options.
        assert_eq!(
            err(&["--blockSize=4m"]),
            "Error invalid argument: --blockSize (did you mean -b, blockSize?)"
        );
        // The nearest valid spelling, where one is close.
        assert_eq!(
            err(&["--colective"]),
            "Error invalid argument: --colective (did you mean --collective?)"
        );
        assert_eq!(
            err(&["--posix.odirekt"]),
            "Error invalid argument: --posix.odirekt (did you mean --posix.odirect?)"
        );
        assert_eq!(
            err(&["-O", "blokSize=4m"]),
            "Unrecognized parameter \"blokSize\" (did you mean blockSize?)"
        );
        // Characters of a group that are no option are skipped, as IOR does.
        assert_eq!(p0(&["-w1"]).write_file, 1);
        assert_eq!(err(&["-19"]), "Error invalid argument: -19");
    }

    #[test]
    fn bad_numbers_name_value_and_option() {
        assert!(err(&["-b", "1x"]).starts_with("Error, invalid size \"1x\" for -b:"));
        assert!(err(&["-t=1.5m"]).starts_with("Error, invalid size \"1.5m\" for -t:"));
        assert!(err(&["-i", "many"]).starts_with("Error, invalid number \"many\" for -i:"));
        assert!(
            err(&["-O", "blockSize=2q"]).starts_with("Error, invalid size \"2q\" for blockSize:")
        );
        assert_eq!(p0(&["-b", "4MiB"]).block_size, 4 << 20);
    }

    #[test]
    fn missing_argument_errors() {
        assert_eq!(err(&["-b"]), "Error, argument missing for option b");
        assert_eq!(err(&["-w", "-O"]), "Error, argument missing for option O");
        assert_eq!(
            err(&["-l"]),
            "Error, argument missing for option dataPacketType"
        );
        assert_eq!(
            err(&["--random-offset-seed"]),
            "Error, argument missing for option random-offset-seed"
        );
        assert_eq!(
            err(&["--dummy.delay-xfer"]),
            "Error, argument missing for option dummy.delay-xfer"
        );
    }

    #[test]
    fn removed_ior3_options() {
        for c in ['q', 'H', 'I', 'J', 'n', 'p', 'P', 'S', 'U', 'V', 'B'] {
            let e = err(&[&format!("-{c}")]);
            assert!(
                e.starts_with(&format!("Error invalid argument: -{c} (")),
                "{e}"
            );
        }
        assert!(err(&["-B"]).contains("--posix.odirect"));
        assert!(err(&["-H"]).contains("--mpiio.showHints"));
    }

    #[test]
    fn backend_options_on_command_line() {
        let p = p0(&[
            "--posix.odirect",
            "--dummy.delay-xfer=10",
            "--dummy.delay-create",
            "5k",
            "--dummy.delay-only-rank0",
            "--dummy.delay-only-rank0",
        ]);
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "1");
        assert_eq!(p.backend_options.get("dummy.delay-xfer").unwrap(), "10");
        assert_eq!(p.backend_options.get("dummy.delay-create").unwrap(), "5k");
        assert_eq!(
            p.backend_options.get("dummy.delay-only-rank0").unwrap(),
            "2"
        );
        let p = p0(&["--posix.odirect", "--posix.odirect=0"]);
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "0");
        let p = p0(&["--posix.rangelocks=-2"]);
        assert_eq!(p.backend_options.get("posix.rangelocks").unwrap(), "0");
        // Accepted whatever -a says.
        let p = p0(&["-a", "DUMMY", "--posix.odirect"]);
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "1");
        // Module option names are case sensitive, as in IOR.
        assert_eq!(
            err(&["--POSIX.odirect"]),
            "Error invalid argument: --POSIX.odirect (did you mean --posix.odirect?)"
        );
    }

    #[test]
    fn directives_on_command_line() {
        let r = parse(&[
            "-O",
            "summaryFormat=JSON,summaryFile=/tmp/x.json",
            "-O",
            "stoneWallingWearOut=1",
            "-O",
            "checkread=1",
        ]);
        assert_eq!(r.global.summary_format, SummaryFormat::Json);
        assert_eq!(r.global.summary_file.as_deref(), Some("/tmp/x.json"));
        assert_eq!(r.tests[0].stone_walling_wear_out, 1);
        assert_eq!(r.tests[0].check_read, 1);
        assert_eq!(
            p0(&["-O", "--posix.odirect=1"])
                .backend_options
                .get("posix.odirect")
                .unwrap(),
            "1"
        );
        assert_eq!(
            err(&["-O", "nosuch=1"]),
            "Unrecognized parameter \"nosuch\""
        );
    }

    #[test]
    fn script_is_read_after_all_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.ior");
        std::fs::write(
            &path,
            "IOR START\n  blockSize=2m\nRUN\n  transferSize=64k\nRUN\nIOR STOP\n",
        )
        .unwrap();
        let ps = path.to_str().unwrap();
        // Options after -f still count (SPEC §5), and are test 0's defaults.
        let r = parse(&["-f", ps, "-A", "78", "-b", "8m", "-t", "1m"]);
        assert_eq!(r.global.script.as_deref(), Some(ps));
        assert_eq!(r.tests.len(), 2);
        assert_eq!(r.tests[0].ref_num, 78);
        assert_eq!(r.tests[0].block_size, 2 << 20);
        assert_eq!(r.tests[0].transfer_size, 1 << 20);
        assert_eq!(r.tests[1].ref_num, 78);
        assert_eq!(r.tests[1].block_size, 2 << 20);
        assert_eq!(r.tests[1].transfer_size, 64 << 10);
        assert_eq!((r.tests[0].test_id, r.tests[1].test_id), (0, 1));
    }

    #[test]
    fn script_unreadable() {
        let e = err(&["-f", "/nonexistent/dir/x.ior"]);
        assert!(
            e.starts_with("ERROR: fopen() failed: script \"/nonexistent/dir/x.ior\": "),
            "{e}"
        );
        assert!(e.contains("No such file"), "{e}");
    }

    #[test]
    fn script_status_file_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.ior");
        std::fs::write(
            &path,
            "IOR START\nstoneWallingStatusFile=/tmp/sw\nIOR STOP\n",
        )
        .unwrap();
        let r = parse(&["-f", path.to_str().unwrap()]);
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].starts_with("WARNING: the StoneWallingStatusFile only preserves"));
    }

    proptest::proptest! {
        /// No command line makes the parser panic (errors only).
        #[test]
        fn never_panics(toks in proptest::collection::vec("(-{0,2}[a-zA-Z.=0-9%-]{0,6})|([ -~]{0,8})", 0..6)) {
            let toks: Vec<String> = toks.into_iter().filter(|t| t != "-f" && !t.starts_with("-f")).collect();
            let _ = parse_args(&toks);
        }

        /// Directive strings never panic either.
        #[test]
        fn directives_never_panic(s in "[ -~]{0,40}") {
            let mut p = IorParams::default();
            let mut g = GlobalOptions::default();
            let _ = crate::ior::options::parse_directives(&mut p, &mut g, &s);
        }
    }

    #[test]
    fn example_script_from_spec() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/ior-examples/example_script.ior"
        );
        let r = parse(&["-f", path]);
        assert_eq!(r.tests.len(), 3);
        let t = &r.tests;
        assert_eq!(t[0].api, "POSIX");
        assert_eq!(t[0].test_file_name, "/dev/shm/iortest/scripted");
        assert_eq!(t[0].repetitions, 2);
        assert_eq!((t[0].write_file, t[0].read_file), (1, 1));
        assert_eq!(t[0].file_per_proc, 1);
        assert_eq!(t[0].block_size, 16 << 20);
        assert_eq!(t[0].transfer_size, 1 << 20);
        assert_eq!(t[0].segment_count, 2);
        assert_eq!(t[0].fsync, 1);
        assert_eq!(t[1].file_per_proc, 0);
        assert_eq!(t[1].transfer_size, 256 << 10);
        assert_eq!(t[1].block_size, 16 << 20);
        assert_eq!(t[1].repetitions, 2);
        assert_eq!(t[2].api, "DUMMY");
        assert_eq!(t[2].backend_options.get("dummy.delay-xfer").unwrap(), "10");
        assert_eq!(t[2].repetitions, 1);
        assert_eq!(t[2].transfer_size, 256 << 10);
        assert_eq!(t[2].file_per_proc, 0);
        assert_eq!(
            t.iter().map(|x| x.test_id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }
}
