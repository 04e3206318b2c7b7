//! IOR's options, one record each: short name, long name, directive keys, help text and what
//! the option sets (IOR's `createGlobalOptions` table and `DecodeDirective` keys in one list),
//! then the options benchfs-bench adds, and the options IOR 4 removed.
//!
//! Owns the list and each option's value rule on the command line and as a directive. The
//! order is IOR's: the help text ([`super::help`]) prints the records in it. It must not
//! apply tokens or split directive strings ([`super::apply`], [`super::directives`]) or read
//! values beyond the rules of [`super::values`].

use super::error::OptionError;
use super::values::{node_memory_to_bytes, parse_int_option, parse_interval, parse_packet_type};
use crate::backend::BACKEND_NAMES;
use crate::ior::params::{GlobalOptions, IorParams, SummaryFormat};
use crate::optparse::Arg;
use crate::units::{atoll, parse_ior_number};

/// What the options of one command line, directive string or script line set.
pub(crate) struct Ctx<'a> {
    /// The test's parameters.
    pub params: &'a mut IorParams,
    /// The run's options (`summaryFormat`, `--json`, ...).
    pub global: &'a mut GlobalOptions,
    /// `-h`, `-l`, `-M`: resolved after the whole command line.
    pub later: &'a mut Deferred,
    /// Warnings in IOR's wording, in order.
    pub warnings: &'a mut Vec<String>,
}

/// Settings of the command line that IOR resolves only after all options were parsed
/// (`updateParsedOptions`): `-l` and `-M`; and whether `-h` was given.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// `-h` / `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
    /// The last `-l` value.
    pub packet: Option<String>,
    /// The last `-M` value.
    pub memory: Option<String>,
}

impl Deferred {
    /// Applies the deferred `-l` / `-M` values to `params`.
    pub(crate) fn finish(&mut self, params: &mut IorParams) -> Result<(), OptionError> {
        if let Some(p) = self.packet.take() {
            if !p.is_empty() {
                params.data_packet_type = parse_packet_type(&p)?;
            }
        }
        if let Some(m) = self.memory.take() {
            params.memory_per_node = node_memory_to_bytes(&m)?;
            params.memory_per_node_str = Some(m);
        }
        Ok(())
    }
}

/// A value setter with its own rules.
pub(crate) type ValueFn = for<'a, 'b> fn(&'b mut Ctx<'a>, &str) -> Result<(), OptionError>;
/// A flag with its own rules; gets the `=N` of the flag, if any.
pub(crate) type FlagFn = for<'a, 'b> fn(&'b mut Ctx<'a>, Option<i32>);
/// An optional-text field of the context.
pub(crate) type NoteFn = for<'a, 'b> fn(&'b mut Ctx<'a>) -> &'b mut Option<String>;
/// The default a help line shows (`-a=POSIX`).
pub(crate) type ShownFn = fn(&IorParams, &GlobalOptions) -> String;

/// What an option sets, and by which rule on the command line and as a directive.
pub(crate) enum Set {
    /// A counted flag (`-v -v`, `-vv`, `-F=N`); as a directive `key=N` (C `atoi`).
    Count(fn(&mut IorParams) -> &mut i32),
    /// An `int`: `-i 4k` (`string_to_bytes`, overflow warning); as a directive C `atoi`.
    Int(fn(&mut IorParams) -> &mut i32),
    /// A size (`string_to_bytes`, `4m`), both ways.
    Size(fn(&mut IorParams) -> &mut i64),
    /// A string, both ways.
    Text(fn(&mut IorParams) -> &mut String),
    /// An optional string (set when given), both ways.
    Note(NoteFn),
    /// A flag of its own (command line only).
    Flag(FlagFn),
    /// A value of its own: the command-line and directive rules (`None`: not accepted there)
    /// and the default the help shows (`None`: `STRING`).
    Value {
        cli: Option<ValueFn>,
        directive: Option<ValueFn>,
        shown: Option<ShownFn>,
    },
    /// `-O`: a directive string, applied when met.
    Directives,
    /// A directive key that is another option's command-line name (`useO_DIRECT=1` is
    /// `--posix.odirect=1`).
    Alias(&'static str),
}

/// How an option appears in the help text.
pub(crate) enum Help {
    /// Not listed.
    Hidden,
    /// Listed with its names, default and this text.
    Text(&'static str),
    /// Listed with its names, default and this text, made when printed.
    Made(fn() -> String),
    /// This line printed as it is (IOR's `  -O key=value -- ...` lines).
    Line(&'static str),
}

/// One option.
pub(crate) struct IorOption {
    /// `-c`.
    pub short: Option<char>,
    /// `--collective`.
    pub long: Option<&'static str>,
    /// Directive keys (`-O key=value`, script lines), matched case-insensitively.
    pub keys: &'static [&'static str],
    /// Its help line.
    pub help: Help,
    /// What it sets.
    pub set: Set,
}

impl IorOption {
    /// How the option is given on the command line, if it is.
    pub(crate) fn cli_arg(&self) -> Option<Arg> {
        match self.set {
            Set::Count(_) | Set::Flag(_) => Some(Arg::Flag),
            Set::Int(_) | Set::Size(_) | Set::Text(_) | Set::Note(_) | Set::Directives => {
                Some(Arg::Value)
            }
            Set::Value { cli, .. } => cli.map(|_| Arg::Value),
            Set::Alias(_) => None,
        }
    }

    /// Whether the option takes a value (its help section: `Optional arguments`, else `Flags`).
    pub(crate) fn takes_value(&self) -> bool {
        !matches!(self.set, Set::Count(_) | Set::Flag(_))
    }

    /// The name in `Error, argument missing for option X`: long name, else short.
    pub(crate) fn display_name(&self) -> String {
        match (self.long, self.short) {
            (Some(l), _) => l.to_string(),
            (None, Some(c)) => c.to_string(),
            (None, None) => String::new(),
        }
    }

    /// How the command line spells it in messages: `-b`, else `--collective`, else the
    /// first directive key.
    pub(crate) fn cli_name(&self) -> String {
        match (self.short, self.long) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => self
                .keys
                .first()
                .map_or_else(String::new, |k| (*k).to_string()),
        }
    }

    /// The default the help text shows after `=` (`STRING` for a text without default).
    pub(crate) fn shown(&self, ctx: &mut Ctx<'_>) -> String {
        let text = |s: Option<&str>| match s {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => "STRING".to_string(),
        };
        match &self.set {
            Set::Count(f) | Set::Int(f) => f(ctx.params).to_string(),
            Set::Size(f) => f(ctx.params).to_string(),
            Set::Text(f) => text(Some(f(ctx.params).as_str())),
            Set::Note(f) => text(f(ctx).as_deref()),
            Set::Value { shown: Some(s), .. } => s(ctx.params, ctx.global),
            Set::Value { shown: None, .. } | Set::Flag(_) | Set::Directives | Set::Alias(_) => {
                text(None)
            }
        }
    }
}

/// The option the command line knows as `-c`.
pub(crate) fn by_short(c: char) -> Option<(&'static IorOption, Arg)> {
    all().find_map(|o| (o.short == Some(c)).then(|| o.cli_arg().map(|a| (o, a)))?)
}

/// The option the command line knows as `--name` (module options are not in this table).
pub(crate) fn by_long(name: &str) -> Option<(&'static IorOption, Arg)> {
    all().find_map(|o| (o.long == Some(name)).then(|| o.cli_arg().map(|a| (o, a)))?)
}

/// The option of directive key `key` (case-insensitive).
pub(crate) fn by_key(key: &str) -> Option<&'static IorOption> {
    all().find(|o| o.keys.iter().any(|k| k.eq_ignore_ascii_case(key)))
}

/// How the nearest valid spelling of an unknown `--name` is offered: `--collective`,
/// `-b, blockSize` (an option whose directive key was typed as a long name),
/// `-O stoneWallingWearOut=...`, `--posix.odirect`.
pub(crate) fn suggest_long(name: &str) -> Option<String> {
    let mut spellings: Vec<(String, String)> = Vec::new();
    for o in all() {
        if let Some(l) = o.long {
            spellings.push((l.to_string(), format!("--{l}")));
        }
        for k in o.keys {
            let shown = match (o.short, o.long) {
                (Some(c), _) => format!("-{c}, {k}"),
                (None, Some(l)) => format!("--{l}"),
                (None, None) => format!("-O {k}=..."),
            };
            spellings.push(((*k).to_string(), shown));
        }
    }
    for m in crate::backend::module_options() {
        let key = m.key();
        spellings.push((key.clone(), format!("--{key}")));
    }
    let best = crate::optparse::nearest(name, spellings.iter().map(|(n, _)| n.as_str()))?;
    let (_, shown) = spellings.iter().find(|(n, _)| n == best)?;
    Some(format!("did you mean {shown}?"))
}

/// The directive key nearest to unknown key `key`, offered as `did you mean blockSize?`.
pub(crate) fn suggest_key(key: &str) -> Option<String> {
    let best = crate::optparse::nearest(key, all().flat_map(|o| o.keys.iter().copied()))?;
    Some(format!("did you mean {best}?"))
}

/// IOR's options, then ours.
pub(crate) fn all() -> impl Iterator<Item = &'static IorOption> {
    IOR_OPTIONS.iter().chain(BENCHFS_OPTIONS)
}

/// An option IOR 4 removed: its IOR 3 short name, its directive key and what to say.
pub(crate) struct Removed {
    /// The IOR 3 short option, if it had one.
    pub short: Option<char>,
    /// The IOR 3 directive key.
    pub key: &'static str,
    /// `removed in IOR 4, now ...`.
    pub hint: &'static str,
}

/// Options of IOR 3 that IOR 4 rejects (`-B`'s key `useO_DIRECT` lives on as an alias).
pub(crate) const REMOVED: &[Removed] = &[
    removed(
        Some('q'),
        "quitOnError",
        "removed in IOR 4: data checks only count errors",
    ),
    removed(
        Some('H'),
        "showHints",
        "removed in IOR 4, now --mpiio.showHints / --hdf5.showHints",
    ),
    removed(
        Some('I'),
        "individualDataSets",
        "removed in IOR 4, now --hdf5.individualDataSets",
    ),
    removed(
        Some('J'),
        "setAlignment",
        "removed in IOR 4, now --hdf5.setAlignment",
    ),
    removed(Some('n'), "noFill", "removed in IOR 4, now --hdf5.noFill"),
    removed(
        Some('p'),
        "preallocate",
        "removed in IOR 4, now --mpiio.preallocate",
    ),
    removed(
        Some('P'),
        "useSharedFilePointer",
        "removed in IOR 4 without replacement",
    ),
    removed(
        Some('S'),
        "useStridedDatatype",
        "removed in IOR 4, now --mpiio.useStridedDatatype",
    ),
    removed(
        Some('U'),
        "hintsFileName",
        "removed in IOR 4, now --mpiio.hintsFileName",
    ),
    removed(
        Some('V'),
        "useFileView",
        "removed in IOR 4, now --mpiio.useFileView; the version is --version",
    ),
    removed(
        Some('B'),
        "useO_DIRECT",
        "removed in IOR 4, use --posix.odirect",
    ),
    removed(
        None,
        "storeFileOffset",
        "removed in IOR 4 without replacement",
    ),
    removed(None, "showHelp", "removed in IOR 4, use -h"),
];

const fn removed(short: Option<char>, key: &'static str, hint: &'static str) -> Removed {
    Removed { short, key, hint }
}

/// What to say about removed short option `-c` (`quitOnError was removed in IOR 4: ...`).
pub(crate) fn removed_short_hint(c: char) -> Option<String> {
    REMOVED
        .iter()
        .find(|r| r.short == Some(c))
        .map(|r| format!("{} was {}", r.key, r.hint))
}

/// What to say about removed directive key `key` (`removed in IOR 4, now ...`).
pub(crate) fn removed_key_hint(key: &str) -> Option<String> {
    REMOVED
        .iter()
        .find(|r| r.key.eq_ignore_ascii_case(key))
        .map(|r| r.hint.to_string())
}

const fn opt(
    short: Option<char>,
    long: Option<&'static str>,
    keys: &'static [&'static str],
    help: Help,
    set: Set,
) -> IorOption {
    IorOption {
        short,
        long,
        keys,
        help,
        set,
    }
}

/// A directive only (no command-line name).
const fn key(keys: &'static [&'static str], help: Help, set: Set) -> IorOption {
    opt(None, None, keys, help, set)
}

use Help::{Hidden, Line, Text};
use Set::{Count, Int, Note, Size};

fn api_help() -> String {
    format!("API for I/O [{}]", BACKEND_NAMES.join("|"))
}

/// `-a`: kept as typed, as IOR (matched case-insensitively; an unknown one fails validation).
fn set_api(c: &mut Ctx<'_>, v: &str) -> Result<(), OptionError> {
    c.params.api = v.to_string();
    Ok(())
}

/// `api=` (`-O`, scripts): as `-a`, but IOR loads the backend at once and refuses an unknown
/// one with `Could not load backend API NOPE`.
fn set_api_directive(c: &mut Ctx<'_>, v: &str) -> Result<(), OptionError> {
    if crate::backend::canonical_backend_name(v).is_none() {
        return Err(OptionError::UnknownApi {
            name: v.to_string(),
            known: BACKEND_NAMES.join(", "),
        });
    }
    set_api(c, v)
}

/// IOR's options, in IOR's order (the help text's), with the directive-only keys after them.
pub(crate) static IOR_OPTIONS: &[IorOption] = &[
    opt(Some('a'), None, &["api"], Help::Made(api_help), Set::Value {
        cli: Some(set_api),
        directive: Some(set_api_directive),
        shown: Some(|p, _| p.api.clone()),
    }),
    opt(Some('A'), None, &["refNum"], Text("refNum -- user supplied reference number to include in the summary"), Int(|p| &mut p.ref_num)),
    opt(Some('b'), None, &["blockSize"], Text("blockSize -- contiguous bytes to write per task  (e.g.: 8, 4k, 2m, 1g)"), Size(|p| &mut p.block_size)),
    opt(Some('c'), Some("collective"), &["collective"], Text("Use collective I/O"), Count(|p| &mut p.collective)),
    opt(Some('C'), None, &["reorderTasksConstant", "reorderTasks"], Text("reorderTasks -- changes task ordering for readback (useful to avoid client cache)"), Count(|p| &mut p.reorder_tasks)),
    opt(Some('d'), None, &["interTestDelay"], Text("interTestDelay -- delay between reps in seconds"), Int(|p| &mut p.inter_test_delay)),
    opt(Some('D'), None, &["deadlineForStonewalling"], Text("deadlineForStonewalling -- seconds before stopping write or read phase"), Int(|p| &mut p.deadline_for_stonewalling)),
    key(&["stoneWallingWearOut"], Line("  -O stoneWallingWearOut=1           -- once the stonewalling timeout is over, all process finish to access the amount of data"), Int(|p| &mut p.stone_walling_wear_out)),
    key(&["stoneWallingWearOutIterations"], Line("  -O stoneWallingWearOutIterations=N -- stop after processing this number of iterations, needed for reading data back written with stoneWallingWearOut"), Set::Value {
        cli: None,
        directive: Some(|c, v| {
            c.params.stone_walling_wear_out_iterations = atoll(v);
            Ok(())
        }),
        shown: None,
    }),
    key(&["stoneWallingStatusFile"], Line("  -O stoneWallingStatusFile=FILE     -- this file keeps the number of iterations from stonewalling during write and allows to use them for read"), Note(|c| &mut c.params.stone_walling_status_file)),
    key(&["minTimeDuration"], Line("  -O minTimeDuration=0           -- minimum Runtime for the run (will repeat from beginning of the file if time is not yet over)"), Int(|p| &mut p.min_time_duration)),
    opt(Some('e'), None, &["fsync"], Text("fsync -- perform a fsync() operation at the end of each read/write phase"), Count(|p| &mut p.fsync)),
    opt(Some('E'), None, &["useExistingTestFile"], Text("useExistingTestFile -- do not remove test file before write access"), Count(|p| &mut p.use_existing_test_file)),
    opt(Some('f'), None, &[], Text("scriptFile -- test script name"), Note(|c| &mut c.global.script)),
    opt(Some('F'), None, &["filePerProc"], Text("filePerProc -- file-per-process"), Count(|p| &mut p.file_per_proc)),
    opt(Some('g'), None, &["intraTestBarriers"], Text("intraTestBarriers -- use barriers between open, write/read, and close"), Count(|p| &mut p.intra_test_barriers)),
    opt(Some('G'), None, &["setTimeStampSignature"], Text("setTimeStampSignature -- set value for time stamp signature/random seed"), Int(|p| &mut p.set_time_stamp_signature)),
    opt(Some('i'), None, &["repetitions"], Text("repetitions -- number of repetitions of test"), Int(|p| &mut p.repetitions)),
    opt(Some('j'), None, &["outlierThreshold"], Text("outlierThreshold -- warn on outlier N seconds from mean"), Int(|p| &mut p.outlier_threshold)),
    opt(Some('k'), None, &["keepFile"], Text("keepFile -- don't remove the test file(s) on program exit"), Count(|p| &mut p.keep_file)),
    opt(Some('K'), None, &["keepFileWithError"], Text("keepFileWithError  -- keep error-filled file(s) after data-checking"), Count(|p| &mut p.keep_file_with_error)),
    opt(Some('l'), Some("dataPacketType"), &["dataPacketType"], Text("datapacket type-- type of packet that will be created [offset|incompressible|timestamp|random|o|i|t|r]"), Set::Value {
        cli: Some(|c, v| {
            c.later.packet = Some(v.to_string());
            Ok(())
        }),
        directive: Some(|c, v| {
            c.params.data_packet_type = parse_packet_type(v)?;
            Ok(())
        }),
        shown: None,
    }),
    opt(Some('m'), None, &["multiFile"], Text("multiFile -- use number of reps (-i) for multiple file count"), Count(|p| &mut p.multi_file)),
    opt(Some('M'), None, &["memoryPerNode"], Text("memoryPerNode -- hog memory on the node  (e.g.: 2g, 75%)"), Set::Value {
        cli: Some(|c, v| {
            c.later.memory = Some(v.to_string());
            Ok(())
        }),
        directive: Some(|c, v| {
            c.params.memory_per_node = node_memory_to_bytes(v)?;
            c.params.memory_per_node_str = Some(v.to_string());
            c.params.memory_per_task = 0;
            Ok(())
        }),
        shown: None,
    }),
    opt(Some('N'), None, &["numTasks"], Text("numTasks -- number of tasks that are participating in the test (overrides MPI)"), Int(|p| &mut p.num_tasks)),
    opt(Some('o'), None, &["testFile"], Text("testFile -- full name for test"), Set::Text(|p| &mut p.test_file_name)),
    opt(Some('O'), None, &[], Text("string of IOR directives (e.g. -O checkRead=1,GPUid=2)"), Set::Directives),
    opt(Some('Q'), None, &["taskPerNodeOffset"], Text("taskPerNodeOffset for read tests use with -C & -Z options (-C constant N, -Z at least N)"), Int(|p| &mut p.task_per_node_offset)),
    opt(Some('r'), None, &["readFile"], Text("readFile -- read existing file"), Count(|p| &mut p.read_file)),
    opt(Some('R'), None, &["checkRead"], Text("checkRead -- verify that the output of read matches the expected signature (used with -G)"), Count(|p| &mut p.check_read)),
    opt(Some('s'), None, &["segmentCount"], Text("segmentCount -- number of segments"), Size(|p| &mut p.segment_count)),
    opt(Some('t'), None, &["transferSize"], Text("transferSize -- size of transfer in bytes (e.g.: 8, 4k, 2m, 1g)"), Size(|p| &mut p.transfer_size)),
    opt(Some('T'), None, &["maxTimeDuration"], Text("maxTimeDuration -- max time in minutes executing repeated test; it aborts only between iterations and not within a test!"), Int(|p| &mut p.max_time_duration)),
    opt(Some('u'), None, &["uniqueDir"], Text("uniqueDir -- use unique directory name for each file-per-process"), Count(|p| &mut p.unique_dir)),
    opt(Some('v'), None, &["verbose"], Text("verbose -- output information (repeating flag increases level)"), Count(|p| &mut p.verbose)),
    opt(Some('w'), None, &["writeFile"], Text("writeFile -- write file"), Count(|p| &mut p.write_file)),
    opt(Some('W'), None, &["checkWrite"], Text("checkWrite -- check read after write"), Count(|p| &mut p.check_write)),
    opt(Some('x'), None, &["singleXferAttempt"], Text("singleXferAttempt -- do not retry transfer if incomplete"), Count(|p| &mut p.single_xfer_attempt)),
    opt(Some('X'), None, &["reorderTasksRandomSeed"], Text("reorderTasksRandomSeed -- random seed for -Z option"), Int(|p| &mut p.reorder_tasks_random_seed)),
    opt(Some('y'), None, &["dualMount"], Text("dualMount -- use dual mount points for a filesystem"), Count(|p| &mut p.dual_mount)),
    opt(Some('Y'), None, &["fsyncPerWrite"], Text("fsyncPerWrite -- perform sync operation after every write operation"), Count(|p| &mut p.fsync_per_write)),
    opt(Some('z'), None, &["randomOffset"], Text("randomOffset -- access is to shuffled, not sequential, offsets within a file, specify twice for random (potentially overlapping)"), Count(|p| &mut p.random_offset)),
    opt(None, Some("randomPrefill"), &[], Text("For random -z access only: Prefill the file with this blocksize, e.g., 2m"), Size(|p| &mut p.random_prefill_blocksize)),
    opt(None, Some("random-offset-seed"), &[], Text("The seed for -z"), Set::Value {
        cli: Some(|c, v| {
            c.params.random_offset_seed = i64::from(parse_int_option(v, c.warnings));
            Ok(())
        }),
        directive: None,
        shown: Some(|p, _| p.random_offset_seed.to_string()),
    }),
    opt(Some('Z'), None, &["reorderTasksRandom"], Text("reorderTasksRandom -- changes task ordering to random select regions for readback, use twice for shuffling"), Count(|p| &mut p.reorder_tasks_random)),
    opt(None, Some("warningAsErrors"), &["warningAsErrors"], Text("Any warning should lead to an error."), Count(|p| &mut p.warning_as_errors)),
    key(&["summaryFile"], Line("  -O summaryFile=FILE                 -- store result data into this file"), Note(|c| &mut c.global.summary_file)),
    key(&["summaryFormat"], Line("  -O summaryFormat=[default,JSON,CSV] -- use the format for outputting the summary"), Set::Value {
        cli: None,
        directive: Some(|c, v| {
            c.global.summary_format = match v.to_ascii_lowercase().as_str() {
                "default" => SummaryFormat::Default,
                "json" => SummaryFormat::Json,
                "csv" => SummaryFormat::Csv,
                _ => return Err(OptionError::UnknownSummaryFormat(v.to_string())),
            };
            Ok(())
        }),
        shown: None,
    }),
    key(&["saveRankPerformanceDetailsCSV"], Line("  -O saveRankPerformanceDetailsCSV=<FILE> -- store the performance of each rank into the named CSV file."), Note(|c| &mut c.params.save_rank_details_csv)),
    key(&["savePerOpDataCSV"], Line("  -O savePerOpDataCSV=<FILE> -- store the performance of each rank into an individual file prefixed with this option."), Note(|c| &mut c.params.save_per_op_data_csv)),
    opt(None, Some("dryRun"), &[], Text("do not perform any I/Os just run evtl. inputs print dummy output"), Count(|p| &mut p.dry_run)),
    // IOR prints these only in CUDA builds (benchfs-bench has none: validation rejects them).
    opt(None, Some("gpuDirect"), &["GPUDirect"], Hidden, Count(|p| &mut p.gpu_direct)),
    key(&["allocateBufferOnGPU"], Hidden, Int(|p| &mut p.allocate_buffer_on_gpu)),
    key(&["GPUid"], Hidden, Int(|p| &mut p.gpu_id)),
    // Keys IOR's help does not list.
    key(&["debug"], Hidden, Note(|c| &mut c.params.debug)),
    key(&["platform"], Hidden, Note(|c| &mut c.params.platform)),
    key(&["numNodes"], Hidden, Int(|p| &mut p.num_nodes)),
    key(&["numTasksOnNode0"], Hidden, Int(|p| &mut p.num_tasks_on_node0)),
    key(&["interIODelay"], Hidden, Int(|p| &mut p.inter_io_delay)),
    key(&["memoryPerTask"], Hidden, Set::Value {
        cli: None,
        directive: Some(|c, v| {
            c.params.memory_per_task = parse_ior_number(v);
            c.params.memory_per_node = 0;
            c.params.memory_per_node_str = None;
            Ok(())
        }),
        shown: None,
    }),
    key(&["summaryAlways"], Hidden, Int(|p| &mut p.summary_always)),
    key(&["useO_DIRECT"], Hidden, Set::Alias("--posix.odirect")),
];

/// The options benchfs-bench adds (the help's `Options of benchfs-bench (beyond IOR)`).
pub(crate) static BENCHFS_OPTIONS: &[IorOption] = &[
    opt(
        None,
        Some("progress"),
        &[],
        Text("show a progress display even when stdout is not a terminal"),
        Set::Flag(|c, set| {
            c.global.progress = Some(set.is_none_or(|v| v > 0));
        }),
    ),
    opt(
        None,
        Some("no-progress"),
        &[],
        Text("never show the progress display"),
        Set::Flag(|c, set| {
            c.global.progress = Some(set.is_some_and(|v| v <= 0));
        }),
    ),
    opt(
        Some('h'),
        Some("help"),
        &[],
        Text("print this help and exit"),
        Set::Flag(|c, _| c.later.help = true),
    ),
    opt(
        None,
        Some("version"),
        &[],
        Text("print the exact build (version, commit, features) and exit (also: benchfs-bench version)"),
        Set::Flag(|c, _| c.later.version = true),
    ),
    opt(
        None,
        Some("json"),
        &[],
        Text("write the full benchfs result document (JSON) to this file"),
        Note(|c| &mut c.global.json_file),
    ),
    opt(
        None,
        Some("results-dir"),
        &[],
        Text("write the result document into this directory, one new file per run"),
        Note(|c| &mut c.global.results_dir),
    ),
    opt(
        None,
        Some("tasks-per-node"),
        &[],
        Text("emulate nodes of N tasks each (0 = all tasks on one node)"),
        Set::Value {
            cli: Some(|c, v| {
                let n = parse_ior_number(v);
                c.global.tasks_per_node =
                    usize::try_from(n).map_err(|_| OptionError::InvalidValue {
                        option: "tasks-per-node".into(),
                        value: v.to_string(),
                        reason: "must be 0 (all tasks on one node) or a positive number".into(),
                    })?;
                Ok(())
            }),
            directive: None,
            shown: Some(|_, g| g.tasks_per_node.to_string()),
        },
    ),
    opt(
        None,
        Some("cpus"),
        &[],
        Text("bind task i to CPU i mod n of LIST (0-3,6: as taskset -c; fio's cpus_allowed, split)"),
        Set::Value {
            cli: Some(|c, v| {
                c.global.cpus = Some(v.parse().map_err(|e: crate::cpus::CpuListError| {
                    OptionError::InvalidValue {
                        option: "cpus".into(),
                        value: v.to_string(),
                        reason: e.to_string(),
                    }
                })?);
                Ok(())
            }),
            directive: None,
            shown: Some(|_, g| g.cpus.as_ref().map_or_else(|| "LIST".into(), |l| l.to_string())),
        },
    ),
    opt(
        None,
        Some("iodepth"),
        &["iodepth"],
        Text("transfers in flight per task on async backends (also -O iodepth=N)"),
        Int(|p| &mut p.iodepth),
    ),
    opt(
        None,
        Some("interval"),
        &["interval"],
        Text("interval of every phase's time series: 100ms, 0.5s, 2 (seconds); also -O interval=T"),
        Set::Value {
            cli: Some(|c, v| {
                c.params.interval = parse_interval(v)?;
                Ok(())
            }),
            directive: Some(|c, v| {
                c.params.interval = parse_interval(v)?;
                Ok(())
            }),
            shown: Some(|p, _| format!("{}s", p.interval)),
        },
    ),
    key(
        &["savePerIntervalCSV"],
        Line("  -O savePerIntervalCSV=<FILE> -- store every phase's bandwidth and IOPS per --interval (all tasks and per rank) as CSV rows in this file."),
        Note(|c| &mut c.params.save_per_interval_csv),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_keys_are_unique() {
        let mut shorts = HashSet::new();
        let mut longs = HashSet::new();
        let mut keys = HashSet::new();
        for o in all() {
            if let Some(c) = o.short {
                assert!(shorts.insert(c), "-{c} twice");
            }
            if let Some(l) = o.long {
                assert!(longs.insert(l), "--{l} twice");
            }
            for k in o.keys {
                assert!(keys.insert(k.to_ascii_lowercase()), "key {k} twice");
            }
            assert!(
                o.short.is_some() || o.long.is_some() || !o.keys.is_empty(),
                "an option nobody can give"
            );
        }
        for r in REMOVED {
            if let Some(c) = r.short {
                assert!(!shorts.contains(&c), "-{c} is removed and live");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            by_short('t').map(|(o, a)| (o.keys, a)),
            Some((&["transferSize"][..], Arg::Value))
        );
        assert_eq!(by_short('w').map(|(_, a)| a), Some(Arg::Flag));
        assert!(by_short('q').is_none());
        assert_eq!(by_long("collective").map(|(o, _)| o.short), Some(Some('c')));
        assert!(by_long("blockSize").is_none());
        assert_eq!(by_key("TRANSFERSIZE").map(|o| o.short), Some(Some('t')));
        assert_eq!(by_key("reordertasks").map(|o| o.short), Some(Some('C')));
        assert!(by_key("dryRun").is_none());
        assert_eq!(
            removed_short_hint('q').as_deref(),
            Some("quitOnError was removed in IOR 4: data checks only count errors")
        );
        assert_eq!(
            removed_key_hint("SHOWHELP").as_deref(),
            Some("removed in IOR 4, use -h")
        );
    }
}
