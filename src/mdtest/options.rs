//! mdtest 4.1's command line (`mdtest_run`'s option table, SPEC §7.1): one record per option
//! (short name, long name, help text, what it sets), applied with IOR's token rules
//! ([`crate::optparse`]: `-x`, `--long`, `=value`, grouped and counted flags, backend module
//! options `--posix.odirect`), then the options benchfs-bench adds, and the help text.
//!
//! Owns the table and `--help`; the record type, the value rules of mdtest's option types
//! and the run options are [`crate::optparse::record`]'s. It must not check combinations
//! (that is [`crate::mdtest::validate`]) nor print.

use crate::backend::cmdline::{help_text as engine_help, Tables};
use crate::backend::BACKEND_NAMES;
use crate::mdtest::params::MdtestParams;
use crate::optparse::record::{self, invalid, long, run_options, short, EngineParams};

/// A command-line error; `Display` is the line to print (then the help, exit status 1).
pub use crate::optparse::record::OptionError;

/// What an mdtest command line sets: its parameters and benchfs-bench's run options
/// (`--tasks`, `--tasks-per-node`, `--json`, `--results-dir`).
pub type MdtestArgs = record::CommandLine<MdtestParams>;

impl EngineParams for MdtestParams {
    fn backend_options(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.backend_options
    }
}

/// One option of mdtest's table.
type MdOption = record::EngineOption<MdtestParams>;
type Set = record::Set<MdtestParams>;

const fn o(c: char, help: &'static str, set: Set) -> MdOption {
    short(c, help, set)
}

const fn l(name: &'static str, help: &'static str, set: Set) -> MdOption {
    long(name, help, set)
}

use record::Set::{Count, Count64, Int, Note, Own, Text};

/// Every option, in mdtest's order (its help lists them in it), then ours.
const TABLE: &[MdOption] = &[
    o('a', "API for I/O", Note(|p| &mut p.api)),
    o('b', "branching factor of hierarchical directory structure", Int(|p| &mut p.branch_factor)),
    o('d', "directory or multiple directories where the test will run [dir|dir1@dir2@dir3...]", Text(|p| &mut p.dirpath)),
    o('B', "no barriers between phases", Int(|p| &mut p.no_barriers)),
    o('C', "only create files/dirs", Count(|p| &mut p.create_only)),
    o('T', "only stat files/dirs", Count(|p| &mut p.stat_only)),
    o('E', "only read files/dir", Count(|p| &mut p.read_only)),
    o('r', "only remove files or directories left behind by previous runs", Count(|p| &mut p.remove_only)),
    o('U', "enable rename directory phase", Count(|p| &mut p.rename_dirs)),
    o('D', "perform test on directories only (no files)", Count(|p| &mut p.dirs_only)),
    o('e', "bytes to read from each file", Count64(|p| &mut p.read_bytes)),
    o('f', "first number of tasks on which the test will run", Int(|p| &mut p.first)),
    o('F', "perform test on files only (no directories)", Count(|p| &mut p.files_only)),
    o('G', "Offset for the data in the read/write buffer, if not set, a random value is used", Int(|p| &mut p.random_buffer_offset)),
    o('i', "number of iterations the test will run", Int(|p| &mut p.iterations)),
    o('I', "number of items per directory in tree", Count64(|p| &mut p.items_per_dir)),
    o('k', "use mknod to create file", Count(|p| &mut p.make_node)),
    o('l', "last number of tasks on which the test will run", Int(|p| &mut p.last)),
    o('L', "files only at leaf level of tree", Count(|p| &mut p.leaf_only)),
    o('n', "every process will creat/stat/read/remove # directories and files", Count64(|p| &mut p.items)),
    o('N', "stride # between tasks for file/dir operation (local=0; set to 1 to avoid client cache)", Int(|p| &mut p.nstride)),
    o('p', "pre-iteration delay (in seconds)", Int(|p| &mut p.pre_delay)),
    o('P', "print rate AND time", Count(|p| &mut p.print_rate_and_time)),
    l("print-all-procs", "all processes print an excerpt of their results", Count(|p| &mut p.print_all_procs)),
    o('R', "random access to files (only for stat)", Count(|p| &mut p.randomize)),
    l("random-seed", "random seed for -R", Int(|p| &mut p.random_seed)),
    o('s', "stride between the number of tasks for each test", Int(|p| &mut p.stride)),
    o('S', "shared file access (file only, no directories)", Count(|p| &mut p.shared_file)),
    o('c', "collective creates: task 0 does all creates", Count(|p| &mut p.collective_creates)),
    o('t', "time unique working directory overhead", Count(|p| &mut p.time_unique_dir_overhead)),
    o('u', "unique working directory for each task", Count(|p| &mut p.unique_dir_per_task)),
    o('v', "verbosity (each instance of option increments by one)", Count(|p| &mut p.verbose)),
    o('V', "verbosity value", Int(|p| &mut p.verbose)),
    o('w', "bytes to write to each file after it is created", Count64(|p| &mut p.write_bytes)),
    o('W', "number in seconds; stonewall timer, write as many seconds and ensure all processes did the same number of operations (currently only stops during create phase and files)", Int(|p| &mut p.stone_wall_timer_seconds)),
    o('x', "StoneWallingStatusFile; contains the number of iterations of the creation phase, can be used to split phases across runs", Note(|p| &mut p.stonewall_status_file)),
    record::opt(Some('X'), Some("verify-read"), "Verify the data read", Count(|p| &mut p.verify_read)),
    l("verify-write", "Verify the data after a write by reading it back immediately", Count(|p| &mut p.verify_write)),
    o('y', "sync file after writing", Count(|p| &mut p.sync_file)),
    o('Y', "call the sync command after each phase (included in the timing; note it causes all IO to be flushed from your node)", Count(|p| &mut p.call_sync)),
    o('z', "depth of hierarchical directory structure", Int(|p| &mut p.depth)),
    o('Z', "print time instead of rate", Count(|p| &mut p.print_time)),
    l("dataPacketType", "type of packet that will be created [offset|incompressible|timestamp|random|o|i|t|r]", Text(|p| &mut p.data_packet_type)),
    l("run-cmd-before-phase", "call this external command before each phase (excluded from the timing)", Text(|p| &mut p.prologue)),
    l("run-cmd-after-phase", "call this external command after each phase (included in the timing)", Text(|p| &mut p.epilogue)),
    l("warningAsErrors", "Any warning should lead to an error.", Count(|p| &mut p.warning_as_errors)),
    l("saveRankPerformanceDetails", "Save the individual rank information into this CSV file.", Note(|p| &mut p.save_rank_details)),
    l("savePerOpDataCSV", "Store the performance of each rank into an individual file prefixed with this option.", Note(|p| &mut p.save_per_op)),
    l("showRankStatistics", "Include statistics per rank", Count(|p| &mut p.show_perrank_statistics)),
];

/// The options benchfs-bench adds (`--help` lists them after mdtest's).
const OURS: &[MdOption] = &[
    l(
        "iodepth",
        "metadata operations of a task in flight (BENCHFS; 1 = mdtest)",
        Int(|p| &mut p.iodepth),
    ),
    l(
        "interval",
        "interval of each phase's operations-over-time series in the result document (100ms, 0.5s, 2)",
        Own(
            |a, v| {
                a.params.interval = crate::measure::series::parse_interval(v).ok_or_else(|| {
                    invalid("interval", v, crate::measure::series::INTERVAL_EXPECTED)
                })?;
                Ok(())
            },
            "100ms",
        ),
    ),
];

/// The run options (`--help` lists them after ours).
const RUN: &[MdOption] = &run_options(
    "local tasks when not started by an MPI launcher (mdtest's -N is its rank stride)",
);

/// Every record: the engine's table, then ours.
const ALL: Tables<MdOption> = Tables(&[TABLE, OURS, RUN]);

/// Parses mdtest's command line (without the program name), in order, later wins. `-h` and
/// `--help` (not options of mdtest's table, as in mdtest) ask for the help text.
pub fn parse_args(args: &[String]) -> Result<MdtestArgs, OptionError> {
    record::parse(&ALL, args)
}

fn help_lines(tables: &[&[MdOption]], flags: bool) -> Vec<crate::optparse::help::Line> {
    let help_of = |o: &MdOption| {
        if o.short == Some('a') {
            format!("{} [{}]", o.help, BACKEND_NAMES.join("|"))
        } else {
            o.help.to_string()
        }
    };
    tables
        .iter()
        .flat_map(|t| record::help_lines(t, flags, help_of))
        .collect()
}

/// mdtest's `--help` (`Synopsis <program>`, its options, one section per backend), then the
/// options benchfs-bench adds.
pub fn help_text(program: &str) -> String {
    engine_help(
        program,
        "mdtest",
        [help_lines(&[TABLE], true), help_lines(&[TABLE], false)],
        [
            help_lines(&[OURS, RUN], true),
            help_lines(&[OURS, RUN], false),
        ],
    )
}

/// mdtest's options (its table, then ours, then the backends' `--module.option`s) as the clap
/// command `name`, for completions and the man page ([`crate::optparse::command`]).
pub fn command(name: &'static str) -> clap::Command {
    let cmd = clap::Command::new(name)
        .about("Run mdtest's metadata benchmark with mdtest's options (benchfs-bench mdtest -h)")
        .disable_version_flag(true);
    let hint = |o: &MdOption| match (o.short, o.long) {
        (Some('d'), _) | (_, Some("results-dir")) => clap::ValueHint::DirPath,
        (Some('x'), _) | (_, Some("json" | "saveRankPerformanceDetails")) => {
            clap::ValueHint::FilePath
        }
        _ => clap::ValueHint::Other,
    };
    record::command(cmd, &[TABLE, OURS, RUN], hint, |o| o.short == Some('a'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_a_clap_command() {
        let cmd = command("mdtest");
        cmd.clone().debug_assert();
        let n = cmd.get_arguments().find(|a| a.get_short() == Some('n'));
        assert!(n.and_then(|a| a.get_help()).is_some());
        assert!(cmd
            .get_arguments()
            .any(|a| a.get_long() == Some("posix.odirect")));
        assert!(cmd.get_arguments().any(|a| a.get_long() == Some("tasks")));
    }

    fn parse(s: &str) -> Result<MdtestArgs, OptionError> {
        parse_args(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn mdtest_command_lines() {
        let a = parse("-a POSIX -n 1000 -i 3 -u -d /dev/shm/mdt").unwrap();
        let p = &a.params;
        assert_eq!(p.api.as_deref(), Some("POSIX"));
        assert_eq!((p.items, p.iterations, p.unique_dir_per_task), (1000, 3, 1));
        assert_eq!(p.dirpath, "/dev/shm/mdt");
        let a = parse("-F -n=2k -w 3901 -e 3901 -N 1 -R -vv -X --random-seed=5 -B 1").unwrap();
        let p = &a.params;
        assert_eq!(
            (p.files_only, p.items, p.write_bytes, p.nstride),
            (1, 2048, 3901, 1)
        );
        assert_eq!(
            (p.randomize, p.verbose, p.verify_read, p.random_seed),
            (1, 2, 1, 5)
        );
        assert_eq!(p.no_barriers, 1);
        let a = parse("-CTEr -V=4 --posix.odirect --dummy.delay-create 5 --iodepth 16 --tasks 4 --json x.json").unwrap();
        let p = &a.params;
        assert_eq!(
            (
                p.create_only,
                p.stat_only,
                p.read_only,
                p.remove_only,
                p.verbose
            ),
            (1, 1, 1, 1, 4)
        );
        assert_eq!(p.backend_options["posix.odirect"], "1");
        assert_eq!(p.backend_options["dummy.delay-create"], "5");
        assert_eq!(
            (p.iodepth, a.run.tasks, a.run.json_file.as_deref()),
            (16, 4, Some("x.json"))
        );
        assert!(parse("-n 5 --help").unwrap().help);
        let w = parse("-i 4g").unwrap();
        assert_eq!(
            w.warnings,
            ["WARNING: parsing the number 4g to integer, this produced an overflow!"]
        );
    }

    #[test]
    fn mdtest_errors() {
        assert_eq!(
            parse("--foo").unwrap_err().to_string(),
            "Error invalid argument: --foo"
        );
        assert_eq!(
            parse("-n").unwrap_err().to_string(),
            "Error, argument missing for option n"
        );
        assert_eq!(
            parse("-q").unwrap_err().to_string(),
            "Error invalid argument: -q"
        );
        assert!(parse("--tasks 0")
            .unwrap_err()
            .to_string()
            .contains("\"0\" for option tasks"));
    }

    #[test]
    fn help_lists_mdtest_options_as_mdtest() {
        let h = help_text("mdtest");
        assert!(h.starts_with(
            "Synopsis mdtest\n\nFlags\n  -C                            only create files/dirs\n"
        ));
        assert!(h.contains(
            "\n  -a=STRING                     API for I/O [POSIX|DUMMY|MMAP|BENCHFS]\n"
        ));
        assert!(h.contains("\n  --saveRankPerformanceDetails=STRINGSave the individual rank information into this CSV file.\n"));
        assert!(h.contains("\n  -X, --verify-read             Verify the data read\n"));
        assert!(h.contains("\n  -G=-1                         Offset"));
        assert!(h.contains("\n  --dataPacketType=t            type of packet"));
        assert!(h.contains(
            "\n\nModule POSIX\n\nFlags\n  --posix.odirect               Direct I/O Mode\n"
        ));
        assert!(h.contains("--iodepth=1"));
    }
}
