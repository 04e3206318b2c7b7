//! md-workbench's command line (hpc/ior 4.1 `md-workbench.c`, its option table): one record
//! per option (short name, long name, help text, what it sets), applied with IOR's token rules
//! ([`crate::optparse`]: `-x`, `--long`, `=value`, grouped and counted flags, backend module
//! options `--posix.odirect`), then the options benchfs-bench adds, and the help text.
//!
//! Owns the parameters ([`MdwParams`], md-workbench's defaults), the value rules of its option
//! types (`int` through `string_to_bytes` with the overflow warning, `float` through `atof`,
//! strings) and `--help`. It must not check combinations (that is [`MdwParams::check`]'s
//! job, called by the engine) nor print.

use crate::backend::cmdline::{int_value, ModuleTarget, TableOption, Tables};
use crate::ior::params::DataPacketType;
use crate::optparse;
use crate::optparse::help::{left_column, Line};
use crate::units::parse_ior_number;
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

/// What an md-workbench command line sets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MdwArgs {
    /// The run's parameters.
    pub params: MdwParams,
    /// `--tasks N`: local tasks without MPI.
    pub tasks: usize,
    /// `--tasks-per-node N`: emulated nodes of N tasks.
    pub tasks_per_node: usize,
    /// `--json FILE`: the result document.
    pub json_file: Option<String>,
    /// `--results-dir DIR`: a new result document in DIR.
    pub results_dir: Option<String>,
    /// `-h` / `--help`.
    pub help: bool,
    /// Warnings of parsing (`WARNING: parsing the number ...`), in order.
    pub warnings: Vec<String>,
}

/// A command-line error (the same rules and wording as mdtest's); `Display` is the line to
/// print (then the help, exit status 1).
pub use crate::mdtest::options::OptionError;

type P = MdwParams;

/// What an option sets.
#[derive(Clone, Copy)]
enum Set {
    /// A counted flag.
    Count(fn(&mut P) -> &mut i32),
    /// An `int` (`string_to_bytes`, overflow warning).
    Int(fn(&mut P) -> &mut i32),
    /// A `long long` (`string_to_bytes`).
    Long(fn(&mut P) -> &mut i64),
    /// A `float` (`atof`).
    Float(fn(&mut P) -> &mut f32),
    /// A string.
    Text(fn(&mut P) -> &mut String),
    /// A string that may be absent.
    Note(fn(&mut P) -> &mut Option<String>),
    /// An option of benchfs-bench's own.
    Own(fn(&mut MdwArgs, &str) -> Result<(), OptionError>),
}

#[derive(Clone, Copy)]
struct MdwOption {
    short: Option<char>,
    long: Option<&'static str>,
    help: &'static str,
    set: Set,
}

const fn opt(
    short: Option<char>,
    long: Option<&'static str>,
    help: &'static str,
    set: Set,
) -> MdwOption {
    MdwOption {
        short,
        long,
        help,
        set,
    }
}

use Set::{Count, Float, Int, Long, Note, Own, Text};

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
const OURS: &[MdwOption] = &[
    opt(
        None,
        Some("tasks"),
        "local tasks when not started by an MPI launcher",
        Own(|a, v| {
            a.tasks = match usize::try_from(parse_ior_number(v)) {
                Ok(n) if n >= 1 => n,
                _ => return Err(invalid("tasks", v, "must be at least 1")),
            };
            Ok(())
        }),
    ),
    opt(
        None,
        Some("tasks-per-node"),
        "emulate nodes of N tasks each (0: all tasks on one node)",
        Own(|a, v| {
            a.tasks_per_node = usize::try_from(parse_ior_number(v))
                .map_err(|_| invalid("tasks-per-node", v, "must be 0 or a positive number"))?;
            Ok(())
        }),
    ),
    opt(
        None,
        Some("json"),
        "write the benchfs result document (JSON) to this file",
        Own(|a, v| {
            a.json_file = Some(v.to_string());
            Ok(())
        }),
    ),
    opt(
        None,
        Some("results-dir"),
        "write the result document into this directory (one new file per run)",
        Own(|a, v| {
            a.results_dir = Some(v.to_string());
            Ok(())
        }),
    ),
];

fn invalid(option: &str, value: &str, reason: &str) -> OptionError {
    OptionError::InvalidValue {
        option: option.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

impl ModuleTarget for MdwArgs {
    fn backend_options(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.params.backend_options
    }
    fn warnings(&mut self) -> &mut Vec<String> {
        &mut self.warnings
    }
}

impl TableOption<MdwArgs> for MdwOption {
    type Error = OptionError;

    fn short_name(&self) -> Option<char> {
        self.short
    }
    fn long_name(&self) -> Option<&'static str> {
        self.long
    }
    fn is_flag(&self) -> bool {
        matches!(self.set, Count(_))
    }
    fn apply_flag(&self, a: &mut MdwArgs, set: Option<i32>) {
        if let Count(f) = self.set {
            optparse::count(f(&mut a.params), set);
        }
    }
    fn apply_value(&self, a: &mut MdwArgs, v: &str) -> Result<(), OptionError> {
        match self.set {
            Count(_) => {}
            Int(f) => *f(&mut a.params) = int_value(v, &mut a.warnings),
            Long(f) => *f(&mut a.params) = parse_ior_number(v),
            Float(f) => *f(&mut a.params) = atof(v),
            Text(f) => *f(&mut a.params) = v.to_string(),
            Note(f) => *f(&mut a.params) = Some(v.to_string()),
            Own(f) => f(a, v)?,
        }
        Ok(())
    }
}

/// Every record: the engine's table, then ours.
const ALL: Tables<MdwOption> = Tables(&[TABLE, OURS]);

/// C's `atof`: the longest leading decimal number, 0 when there is none.
fn atof(v: &str) -> f32 {
    let t = v.trim_start();
    let end = (1..=t.len())
        .rev()
        .find(|&i| t.is_char_boundary(i) && t[..i].parse::<f64>().is_ok())
        .unwrap_or(0);
    t[..end].parse::<f64>().map_or(0.0, |x| x as f32)
}

/// Parses md-workbench's command line (without the program name), in order, later wins. `-h`
/// and `--help` ask for the help text.
pub fn parse_args(args: &[String]) -> Result<MdwArgs, OptionError> {
    let mut a = MdwArgs::default();
    let (help, rest): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|t| *t == "-h" || *t == "--help");
    let rest: Vec<String> = rest.into_iter().cloned().collect();
    optparse::parse_tokens(&ALL, &rest, &mut a)?;
    a.help = !help.is_empty();
    Ok(a)
}

fn shown(o: &MdwOption, d: &mut MdwArgs) -> Option<String> {
    let text = |s: &str| {
        if s.is_empty() {
            "STRING".to_string()
        } else {
            s.to_string()
        }
    };
    match o.set {
        Count(_) => None,
        Int(f) => Some(f(&mut d.params).to_string()),
        Long(f) => Some(f(&mut d.params).to_string()),
        Float(f) => Some(format!("{:.6}", f64::from(*f(&mut d.params)))),
        Text(f) => Some(text(f(&mut d.params))),
        Note(f) => Some(text(f(&mut d.params).as_deref().unwrap_or(""))),
        Own(_) => Some(match o.long {
            Some("tasks") => "1".to_string(),
            _ => "0".to_string(),
        }),
    }
}

fn help_lines(table: &[MdwOption], flags: bool) -> Vec<Line> {
    let mut d = MdwArgs::default();
    table
        .iter()
        .filter(|o| matches!(o.set, Count(_)) == flags)
        .map(|o| {
            let v = shown(o, &mut d);
            Line::Opt(
                left_column(o.short, o.long, v.as_deref()),
                o.help.to_string(),
            )
        })
        .collect()
}

/// md-workbench's `--help` (`Synopsis <program>`, its options, one section per backend), then
/// the options benchfs-bench adds.
pub fn help_text(program: &str) -> String {
    crate::backend::cmdline::help_text(
        program,
        "md-workbench",
        [help_lines(TABLE, true), help_lines(TABLE, false)],
        [help_lines(OURS, true), help_lines(OURS, false)],
    )
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
        assert_eq!((a.tasks, a.params.start_item), (3, 7));
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
    }
}
