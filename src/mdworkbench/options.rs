//! md-workbench's command line (hpc/ior 4.1 `md-workbench.c`, its option table): one record
//! per option (short name, long name, help text, what it sets), applied with IOR's token rules
//! ([`crate::optparse`]: `-x`, `--long`, `=value`, grouped and counted flags, backend module
//! options `--posix.odirect`), then the options benchfs-bench adds, and the help text.
//!
//! Owns the parameters ([`MdwParams`], md-workbench's defaults), the table and `--help`; the
//! record type, the value rules of its option types and the run options are
//! [`crate::optparse::record`]'s. It must not check combinations (that is [`MdwParams::check`]'s
//! job, called by the engine) nor print.

use crate::backend::cmdline::{help_text as engine_help, Tables};
use crate::ior::params::DataPacketType;
use crate::optparse::record::{self, opt, run_options, EngineParams};
use std::collections::BTreeMap;

/// What one md-workbench run is asked to do (its `benchmark_options`, md-workbench's defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MdwParams {
    /// `-O`: offset in ranks between the writer and the reader of a data set.
    pub offset: i32,
    /// `-a`: the backend.
    pub api: String,
    /// `-I`: objects per data set and benchmark iteration.
    pub obj_per_proc: i32,
    /// `-L`: prefix of the latency files.
    pub latency_prefix: Option<String>,
    /// `--latency-all`: latency files of all ranks (one file of every sample).
    pub latency_all: i32,
    /// `-P`: objects precreated per data set.
    pub precreate: i32,
    /// `-D`: data sets per rank.
    pub data_sets: i32,
    /// `-G`: seed of the data pattern (-1: rank 0's `time(NULL)`).
    pub seed: i32,
    /// `-o`: the directory the data sets live in.
    pub prefix: String,
    /// `-q`.
    pub quiet: i32,
    /// `-S`: bytes per object.
    pub object_size: i32,
    /// `-R`: benchmark iterations.
    pub iterations: i32,
    /// `-t`: waiting time after each operation, relative to its runtime.
    pub waiting_factor: f32,
    /// `-T`: adaptive waiting (7 more benchmark runs per iteration, factor 1/16 doubling).
    pub adaptive_waiting: i32,
    /// `-1`.
    pub run_precreate: i32,
    /// `-2`.
    pub run_benchmark: i32,
    /// `-3`.
    pub run_cleanup: i32,
    /// `-w`: stonewall of each benchmark iteration, seconds (0: none).
    pub stonewall_timer: i32,
    /// `-W`: wear-out after the stonewall (every rank does the same number of iterations).
    pub stonewall_wear_out: i32,
    /// `-X`: verify the data read.
    pub verify_read: i32,
    /// `--dataPacketType`.
    pub data_packet_type: String,
    /// `--start-item`: the object index to start with.
    pub start_item: i64,
    /// `--print-detailed-stats`.
    pub print_detailed_stats: i32,
    /// `--read-only`: the benchmark only stats and reads.
    pub read_only: i32,
    /// `--ignore-precreate-errors`.
    pub ignore_precreate_errors: i32,
    /// `--process-reports`: a line per rank after each phase.
    pub process_reports: i32,
    /// `-v`.
    pub verbose: i32,
    /// `--run-info-file`: where the position is kept between runs of single phases.
    pub run_info_file: String,
    /// `--<module>.<name>` values.
    pub backend_options: BTreeMap<String, String>,
}

impl Default for MdwParams {
    fn default() -> Self {
        MdwParams {
            offset: 1,
            api: "POSIX".into(),
            obj_per_proc: 1000,
            latency_prefix: None,
            latency_all: 0,
            precreate: 3000,
            data_sets: 10,
            seed: -1,
            prefix: "./out".into(),
            quiet: 0,
            object_size: 3901,
            iterations: 3,
            waiting_factor: 0.0,
            adaptive_waiting: 0,
            run_precreate: 0,
            run_benchmark: 0,
            run_cleanup: 0,
            stonewall_timer: 0,
            stonewall_wear_out: 0,
            verify_read: 0,
            data_packet_type: "t".into(),
            start_item: 0,
            print_detailed_stats: 0,
            read_only: 0,
            ignore_precreate_errors: 0,
            process_reports: 0,
            verbose: 0,
            run_info_file: "md-workbench.status".into(),
            backend_options: BTreeMap::new(),
        }
    }
}

impl MdwParams {
    /// The data pattern (`--dataPacketType`, first character decides).
    pub fn packet_type(&self) -> Option<DataPacketType> {
        DataPacketType::parse(&self.data_packet_type)
    }

    /// Which phases run: the ones asked for, or all three when none is.
    pub fn phases(&self) -> (bool, bool, bool) {
        if self.run_precreate == 0 && self.run_benchmark == 0 && self.run_cleanup == 0 {
            (true, true, true)
        } else {
            (
                self.run_precreate != 0,
                self.run_benchmark != 0,
                self.run_cleanup != 0,
            )
        }
    }

    /// Refuses values md-workbench would run into undefined behaviour with (negative counts,
    /// an unknown pattern or backend), naming the option and the value.
    pub fn check(&self) -> Result<(), String> {
        if crate::backend::canonical_backend_name(&self.api).is_none() {
            return Err(format!(
                "Unrecognized I/O API \"{}\" (known: {})",
                self.api,
                crate::backend::BACKEND_NAMES.join(", ")
            ));
        }
        if self.packet_type().is_none() {
            return Err(format!("Unknown packet type \"{}\"", self.data_packet_type));
        }
        for (name, v) in [
            ("-I/--obj-per-proc", self.obj_per_proc),
            ("-P/--precreate-per-set", self.precreate),
            ("-D/--data-sets", self.data_sets),
            ("-S/--object-size", self.object_size),
            ("-R/--iterations", self.iterations),
            ("-w/--stonewall-timer", self.stonewall_timer),
        ] {
            if v < 0 {
                return Err(format!("option {name} must not be negative, got {v}"));
            }
        }
        if self.start_item < 0 || self.start_item > i64::from(i32::MAX) {
            return Err(format!(
                "option --start-item must be between 0 and {}, got {}",
                i32::MAX,
                self.start_item
            ));
        }
        if !(self.waiting_factor >= 0.0 && self.waiting_factor.is_finite()) {
            return Err(format!(
                "option -t/--waiting-time must be a number >= 0, got {}",
                self.waiting_factor
            ));
        }
        Ok(())
    }
}

/// What an md-workbench command line sets: its parameters and benchfs-bench's run options
/// (`--tasks`, `--tasks-per-node`, `--json`, `--results-dir`).
pub type MdwArgs = record::CommandLine<MdwParams>;

impl EngineParams for MdwParams {
    fn backend_options(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.backend_options
    }
}

/// A command-line error (the same rules and wording as mdtest's); `Display` is the line to
/// print (then the help, exit status 1).
pub use crate::optparse::record::OptionError;

/// One option of md-workbench's table.
type MdwOption = record::EngineOption<MdwParams>;

use record::Set::{Count, Float, Int, Long, Note, Text};

/// Every option, in md-workbench's order (its help lists them in it; no GPU options, as a
/// build without CUDA).
#[rustfmt::skip]
const TABLE: &[MdwOption] = &[
    opt(Some('O'), Some("offset"), "Offset in o.ranks between writers and readers. Writers and readers should be located on different nodes.", Int(|p| &mut p.offset)),
    opt(Some('a'), Some("api"), "The API (plugin) to use for the benchmark, use list to show all compiled plugins.", Text(|p| &mut p.api)),
    opt(Some('I'), Some("obj-per-proc"), "Number of I/O operations per data set.", Int(|p| &mut p.obj_per_proc)),
    opt(Some('L'), Some("latency"), "Measure the latency for individual operations, prefix the result files with the provided filename.", Note(|p| &mut p.latency_prefix)),
    opt(None, Some("latency-all"), "Keep the latency files from all ranks.", Count(|p| &mut p.latency_all)),
    opt(Some('P'), Some("precreate-per-set"), "Number of object to precreate per data set.", Int(|p| &mut p.precreate)),
    opt(Some('D'), Some("data-sets"), "Number of data sets covered per process and iteration.", Int(|p| &mut p.data_sets)),
    opt(Some('G'), None, "Timestamp/Random seed for access pattern, if not set, a random value is used", Int(|p| &mut p.seed)),
    opt(Some('o'), None, "Output directory", Text(|p| &mut p.prefix)),
    opt(Some('q'), Some("quiet"), "Avoid irrelevant printing.", Count(|p| &mut p.quiet)),
    opt(Some('S'), Some("object-size"), "Size for the created objects.", Int(|p| &mut p.object_size)),
    opt(Some('R'), Some("iterations"), "Number of times to rerun the main phase", Int(|p| &mut p.iterations)),
    opt(Some('t'), Some("waiting-time"), "Waiting time relative to runtime (1.0 is 100%%)", Float(|p| &mut p.waiting_factor)),
    opt(Some('T'), Some("adaptive-waiting"), "Compute an adaptive waiting time", Count(|p| &mut p.adaptive_waiting)),
    opt(Some('1'), Some("run-precreate"), "Run precreate phase", Count(|p| &mut p.run_precreate)),
    opt(Some('2'), Some("run-benchmark"), "Run benchmark phase", Count(|p| &mut p.run_benchmark)),
    opt(Some('3'), Some("run-cleanup"), "Run cleanup phase (only run explicit phases)", Count(|p| &mut p.run_cleanup)),
    opt(Some('w'), Some("stonewall-timer"), "Stop each benchmark iteration after the specified seconds (if not used with -W this leads to process-specific progress!)", Int(|p| &mut p.stonewall_timer)),
    opt(Some('W'), Some("stonewall-wear-out"), "Stop with stonewall after specified time and use a soft wear-out phase -- all processes perform the same number of iterations", Count(|p| &mut p.stonewall_wear_out)),
    opt(Some('X'), Some("verify-read"), "Verify the data on read", Count(|p| &mut p.verify_read)),
    opt(None, Some("dataPacketType"), "type of packet that will be created [offset|incompressible|timestamp|random|o|i|t|r]", Text(|p| &mut p.data_packet_type)),
    opt(None, Some("start-item"), "The iteration number of the item to start with, allowing to offset the operations", Long(|p| &mut p.start_item)),
    opt(None, Some("print-detailed-stats"), "Print detailed machine parsable statistics.", Count(|p| &mut p.print_detailed_stats)),
    opt(None, Some("read-only"), "Run read-only during benchmarking phase (no deletes/writes), probably use with -2", Count(|p| &mut p.read_only)),
    opt(None, Some("ignore-precreate-errors"), "Ignore errors occuring during the pre-creation phase", Count(|p| &mut p.ignore_precreate_errors)),
    opt(None, Some("process-reports"), "Independent report per process/rank", Count(|p| &mut p.process_reports)),
    opt(Some('v'), Some("verbose"), "Increase the verbosity level", Count(|p| &mut p.verbose)),
    opt(None, Some("run-info-file"), "The log file for resuming a previous run", Text(|p| &mut p.run_info_file)),
];

/// The options benchfs-bench adds (`--help` lists them after md-workbench's).
const OURS: &[MdwOption] = &run_options("local tasks when not started by an MPI launcher");

/// Every record: the engine's table, then ours.
const ALL: Tables<MdwOption> = Tables(&[TABLE, OURS]);

/// Parses md-workbench's command line (without the program name), in order, later wins. `-h`
/// and `--help` ask for the help text.
pub fn parse_args(args: &[String]) -> Result<MdwArgs, OptionError> {
    record::parse(&ALL, args)
}

fn help_lines(table: &[MdwOption], flags: bool) -> Vec<crate::optparse::help::Line> {
    record::help_lines(table, flags, |o| o.help.to_string())
}

/// md-workbench's `--help` (`Synopsis <program>`, its options, one section per backend), then
/// the options benchfs-bench adds.
pub fn help_text(program: &str) -> String {
    engine_help(
        program,
        "md-workbench",
        [help_lines(TABLE, true), help_lines(TABLE, false)],
        [help_lines(OURS, true), help_lines(OURS, false)],
    )
}

/// md-workbench's options (its table, then ours, then the backends' `--module.option`s) as
/// the clap command `name`, for completions and the man page ([`crate::optparse::command`]).
pub fn command(name: &'static str) -> clap::Command {
    let cmd = clap::Command::new(name)
        .about(
            "Run md-workbench's metadata and small-object benchmark with its options \
             (benchfs-bench md-workbench -h)",
        )
        .disable_version_flag(true);
    let hint = |o: &MdwOption| match (o.short, o.long) {
        (Some('o'), _) | (_, Some("results-dir")) => clap::ValueHint::DirPath,
        (_, Some("json" | "run-info-file" | "latency")) => clap::ValueHint::FilePath,
        _ => clap::ValueHint::Other,
    };
    record::command(cmd, &[TABLE, OURS], hint, |o| o.short == Some('a'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<MdwArgs, OptionError> {
        parse_args(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_io500_command_line() {
        let a = parse("--dataPacketType=timestamp -v --process-reports -a POSIX -o=/d/mdworkbench -t=0.000000 -O=1 --run-info-file=/r/mdworkbench.status -D=10 -G=-77 -P=250 -I=250 -2 -R=2 -X").unwrap();
        let p = &a.params;
        assert_eq!(p.data_packet_type, "timestamp");
        assert_eq!((p.verbose, p.process_reports, p.offset), (1, 1, 1));
        assert_eq!(p.prefix, "/d/mdworkbench");
        assert_eq!(p.run_info_file, "/r/mdworkbench.status");
        assert_eq!(
            (p.data_sets, p.seed, p.precreate, p.obj_per_proc),
            (10, -77, 250, 250)
        );
        assert_eq!((p.run_benchmark, p.iterations, p.verify_read), (1, 2, 1));
        assert_eq!(p.phases(), (false, true, false));
        assert_eq!(MdwParams::default().phases(), (true, true, true));
        assert!(p.check().is_ok());
        let a = parse("-t 0.25x -S 4k -123 --posix.odirect --tasks 3 --start-item=7").unwrap();
        assert_eq!(a.params.waiting_factor, 0.25);
        assert_eq!(a.params.object_size, 4096);
        assert_eq!(a.params.phases(), (true, true, true));
        assert_eq!(a.params.backend_options["posix.odirect"], "1");
        assert_eq!((a.run.tasks, a.params.start_item), (3, 7));
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(
            parse("--foo").unwrap_err().to_string(),
            "Error invalid argument: --foo"
        );
        assert_eq!(
            parse("-P").unwrap_err().to_string(),
            "Error, argument missing for option precreate-per-set"
        );
        let p = parse("-P -5").unwrap().params;
        assert!(p.check().unwrap_err().contains("-P/--precreate-per-set"));
        let p = parse("-a NOPE").unwrap().params;
        assert!(p.check().unwrap_err().contains("\"NOPE\""));
        let p = parse("--dataPacketType=zz").unwrap().params;
        assert!(p.check().unwrap_err().contains("zz"));
        assert_eq!(
            parse("-I 4g").unwrap().warnings,
            ["WARNING: parsing the number 4g to integer, this produced an overflow!"]
        );
    }

    #[test]
    fn help_as_md_workbench_prints_it() {
        let h = help_text("md-workbench");
        assert!(h.starts_with("Synopsis md-workbench\n\nFlags\n  --latency-all                 Keep the latency files from all ranks.\n  -q, --quiet                   Avoid irrelevant printing.\n"));
        assert!(
            h.contains("\nOptional arguments\n  -O, --offset=1                Offset in o.ranks")
        );
        assert!(h.contains("\n  -t, --waiting-time=0.000000   Waiting time relative"));
        assert!(h.contains("\n  --run-info-file=md-workbench.statusThe log file"));
        assert!(h.contains("\n  -G=-1                         Timestamp/Random seed"));
        assert!(h.contains("\n  --tasks=1                     local tasks"));
        assert!(h.contains("\n  --json=STRING                 write the benchfs result"));
    }
}
