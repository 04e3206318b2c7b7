//! IOR's option table (`createGlobalOptions`) and token rules (`option.c`, SPEC §1.1).
//!
//! Owns the list of core options (short/long names, flag or value, help line) and how one
//! command-line token is applied; [`parse_args`] drives a whole command line. Backend
//! options come from [`crate::backend::module_options`]; directives from
//! [`super::directives`].

use super::{
    atoi, directives, node_memory_to_bytes, parse_int_option, parse_ior_number, script,
    OptionError, ParsedArgs,
};
use crate::backend::{canonical_backend_name, find_module_option, OptionKind};
use crate::ior::params::{DataPacketType, GlobalOptions, IorParams};

/// What a core option sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Id {
    Api,
    RefNum,
    BlockSize,
    Collective,
    ReorderTasks,
    InterTestDelay,
    Deadline,
    Fsync,
    UseExisting,
    Script,
    FilePerProc,
    IntraBarriers,
    Signature,
    Help,
    Repetitions,
    Outlier,
    KeepFile,
    KeepFileWithError,
    DataPacket,
    MultiFile,
    MemoryPerNode,
    NumTasks,
    TestFile,
    Directives,
    TaskPerNodeOffset,
    ReadFile,
    CheckRead,
    SegmentCount,
    TransferSize,
    MaxTime,
    UniqueDir,
    Verbose,
    WriteFile,
    CheckWrite,
    SingleXfer,
    ReorderSeed,
    DualMount,
    FsyncPerWrite,
    RandomOffset,
    ReorderRandom,
    RandomPrefill,
    RandomOffsetSeed,
    WarningAsErrors,
    DryRun,
    GpuDirect,
    Json,
    ResultsDir,
    TasksPerNode,
    Iodepth,
    Progress,
    NoProgress,
}

/// Flag (counts, `=N` sets) or value-taking option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    Flag,
    Value,
}

/// One entry of the core option table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoreOption {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub arg: Arg,
    pub id: Id,
}

const fn opt(short: Option<char>, long: Option<&'static str>, arg: Arg, id: Id) -> CoreOption {
    CoreOption {
        short,
        long,
        arg,
        id,
    }
}

use Arg::{Flag, Value};

/// Every core option, IOR's and ours.
pub(crate) const CORE_OPTIONS: &[CoreOption] = &[
    opt(Some('a'), None, Value, Id::Api),
    opt(Some('A'), None, Value, Id::RefNum),
    opt(Some('b'), None, Value, Id::BlockSize),
    opt(Some('c'), Some("collective"), Flag, Id::Collective),
    opt(Some('C'), None, Flag, Id::ReorderTasks),
    opt(Some('d'), None, Value, Id::InterTestDelay),
    opt(Some('D'), None, Value, Id::Deadline),
    opt(Some('e'), None, Flag, Id::Fsync),
    opt(Some('E'), None, Flag, Id::UseExisting),
    opt(Some('f'), None, Value, Id::Script),
    opt(Some('F'), None, Flag, Id::FilePerProc),
    opt(Some('g'), None, Flag, Id::IntraBarriers),
    opt(Some('G'), None, Value, Id::Signature),
    opt(Some('h'), Some("help"), Flag, Id::Help),
    opt(Some('i'), None, Value, Id::Repetitions),
    opt(Some('j'), None, Value, Id::Outlier),
    opt(Some('k'), None, Flag, Id::KeepFile),
    opt(Some('K'), None, Flag, Id::KeepFileWithError),
    opt(Some('l'), Some("dataPacketType"), Value, Id::DataPacket),
    opt(Some('m'), None, Flag, Id::MultiFile),
    opt(Some('M'), None, Value, Id::MemoryPerNode),
    opt(Some('N'), None, Value, Id::NumTasks),
    opt(Some('o'), None, Value, Id::TestFile),
    opt(Some('O'), None, Value, Id::Directives),
    opt(Some('Q'), None, Value, Id::TaskPerNodeOffset),
    opt(Some('r'), None, Flag, Id::ReadFile),
    opt(Some('R'), None, Flag, Id::CheckRead),
    opt(Some('s'), None, Value, Id::SegmentCount),
    opt(Some('t'), None, Value, Id::TransferSize),
    opt(Some('T'), None, Value, Id::MaxTime),
    opt(Some('u'), None, Flag, Id::UniqueDir),
    opt(Some('v'), None, Flag, Id::Verbose),
    opt(Some('w'), None, Flag, Id::WriteFile),
    opt(Some('W'), None, Flag, Id::CheckWrite),
    opt(Some('x'), None, Flag, Id::SingleXfer),
    opt(Some('X'), None, Value, Id::ReorderSeed),
    opt(Some('y'), None, Flag, Id::DualMount),
    opt(Some('Y'), None, Flag, Id::FsyncPerWrite),
    opt(Some('z'), None, Flag, Id::RandomOffset),
    opt(Some('Z'), None, Flag, Id::ReorderRandom),
    opt(None, Some("randomPrefill"), Value, Id::RandomPrefill),
    opt(
        None,
        Some("random-offset-seed"),
        Value,
        Id::RandomOffsetSeed,
    ),
    opt(None, Some("warningAsErrors"), Flag, Id::WarningAsErrors),
    opt(None, Some("dryRun"), Flag, Id::DryRun),
    opt(None, Some("gpuDirect"), Flag, Id::GpuDirect),
    opt(None, Some("json"), Value, Id::Json),
    opt(None, Some("results-dir"), Value, Id::ResultsDir),
    opt(None, Some("tasks-per-node"), Value, Id::TasksPerNode),
    opt(None, Some("iodepth"), Value, Id::Iodepth),
    opt(None, Some("progress"), Flag, Id::Progress),
    opt(None, Some("no-progress"), Flag, Id::NoProgress),
];

fn find_short(c: char) -> Option<&'static CoreOption> {
    CORE_OPTIONS.iter().find(|o| o.short == Some(c))
}

fn find_long(name: &str) -> Option<&'static CoreOption> {
    CORE_OPTIONS.iter().find(|o| o.long == Some(name))
}

/// IOR 3 short options removed in IOR 4, with the replacement to mention.
const REMOVED_SHORT: &[(char, &str)] = &[
    (
        'q',
        "quitOnError was removed in IOR 4: data checks only count errors",
    ),
    (
        'H',
        "showHints was removed in IOR 4, now --mpiio.showHints / --hdf5.showHints",
    ),
    (
        'I',
        "individualDataSets was removed in IOR 4, now --hdf5.individualDataSets",
    ),
    (
        'J',
        "setAlignment was removed in IOR 4, now --hdf5.setAlignment",
    ),
    ('n', "noFill was removed in IOR 4, now --hdf5.noFill"),
    (
        'p',
        "preallocate was removed in IOR 4, now --mpiio.preallocate",
    ),
    (
        'P',
        "useSharedFilePointer was removed in IOR 4 without replacement",
    ),
    (
        'S',
        "useStridedDatatype was removed in IOR 4, now --mpiio.useStridedDatatype",
    ),
    (
        'U',
        "hintsFileName was removed in IOR 4, now --mpiio.hintsFileName",
    ),
    (
        'V',
        "useFileView was removed in IOR 4, now --mpiio.useFileView",
    ),
    ('B', "useO_DIRECT was removed in IOR 4, use --posix.odirect"),
];

fn removed_short_hint(c: char) -> Option<String> {
    REMOVED_SHORT
        .iter()
        .find(|(r, _)| *r == c)
        .map(|(_, h)| (*h).to_string())
}

/// Settings of the command line that IOR resolves only after all options were parsed
/// (`updateParsedOptions`): `-l` and `-M`.
#[derive(Debug, Default)]
pub(crate) struct CmdState {
    pub help: bool,
    pub packet: Option<String>,
    pub memory: Option<String>,
}

impl CmdState {
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

/// IOR's `-l` / `dataPacketType`: the first character decides.
pub(crate) fn parse_packet_type(s: &str) -> Result<DataPacketType, OptionError> {
    if s.is_empty() {
        return Ok(DataPacketType::Timestamp);
    }
    DataPacketType::parse(s).ok_or_else(|| OptionError::UnknownPacketType(s.to_string()))
}

/// Parses a whole command line (without `argv[0]`) with IOR's rules (SPEC §1.1):
/// options in order, later wins, `-O` applied when met, `-l`/`-M` resolved after all
/// options, then the `-f` script read with the command-line values as test 0's defaults.
pub fn parse_args(args: &[String]) -> Result<ParsedArgs, OptionError> {
    let mut params = IorParams::default();
    let mut global = GlobalOptions::default();
    let mut warnings = Vec::new();
    let mut st = CmdState::default();
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).map(String::as_str);
        let consumed = process_token(
            &args[i],
            next,
            &mut params,
            &mut global,
            &mut st,
            &mut warnings,
        )?;
        i += if consumed { 2 } else { 1 };
    }
    let help = st.help;
    st.finish(&mut params)?;
    params.test_id = 0;
    let tests = match (&global.script, help) {
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
        help,
    })
}

/// Applies one token; `next` is the following token (taken as the value of a value option
/// given without one). Returns whether `next` was consumed.
pub(crate) fn process_token(
    tok: &str,
    next: Option<&str>,
    params: &mut IorParams,
    global: &mut GlobalOptions,
    st: &mut CmdState,
    warnings: &mut Vec<String>,
) -> Result<bool, OptionError> {
    let (name, eq_value) = match tok.find('=') {
        Some(p) => (&tok[..p], Some(&tok[p + 1..])),
        None => (tok, None),
    };
    // IOR: `--x=` (empty value) behaves as if no value was attached.
    let eq_value = eq_value.filter(|v| !v.is_empty());
    let invalid = |hint: Option<String>| OptionError::InvalidArgument {
        token: name.to_string(),
        hint,
    };

    if let Some(long) = name.strip_prefix("--") {
        if let Some(o) = find_long(long) {
            return match o.arg {
                Flag => {
                    apply_flag(o.id, eq_value.map(atoi), params, global, st);
                    Ok(false)
                }
                Value => {
                    let (v, consumed) = value_or_next(eq_value, next, o)?;
                    apply_value(o.id, v, params, global, st, warnings)?;
                    Ok(consumed)
                }
            };
        }
        if let Some(mo) = find_module_option(long) {
            let key = mo.key();
            return match mo.kind {
                OptionKind::Flag => {
                    let cur = params.backend_options.get(&key).map_or(0, |s| atoi(s));
                    let new = match eq_value {
                        Some(v) => atoi(v).max(0),
                        None => cur.saturating_add(1),
                    };
                    params.backend_options.insert(key, new.to_string());
                    Ok(false)
                }
                OptionKind::Int | OptionKind::Str => {
                    let (v, consumed) = match eq_value {
                        Some(v) => (v, false),
                        None => match next {
                            Some(n) => (n, true),
                            None => return Err(OptionError::MissingArgument(key)),
                        },
                    };
                    if mo.kind == OptionKind::Int {
                        parse_int_option(v, warnings);
                    }
                    params.backend_options.insert(key, v.to_string());
                    Ok(consumed)
                }
            };
        }
        return Err(invalid(None));
    }

    let Some(shorts) = name.strip_prefix('-') else {
        return Err(invalid(None));
    };
    if shorts.is_empty() {
        return Err(invalid(None));
    }
    // Check the whole group first so that a bad token changes nothing.
    for c in shorts.chars() {
        let Some(o) = find_short(c) else {
            return Err(invalid(removed_short_hint(c)));
        };
        if o.arg == Value {
            break;
        }
    }
    let n = shorts.chars().count();
    for (k, (pos, c)) in shorts.char_indices().enumerate() {
        let Some(o) = find_short(c) else {
            return Err(invalid(removed_short_hint(c)));
        };
        match o.arg {
            Flag => {
                let set = if k + 1 == n { eq_value.map(atoi) } else { None };
                apply_flag(o.id, set, params, global, st);
            }
            Value => {
                // The rest of the token (including any `=`) is the value: `-b4m`, `-b=4m`,
                // `-Osummaryformat=JSON`; nothing left: the next token.
                let attached = &tok[1 + pos + c.len_utf8()..];
                let attached = attached.strip_prefix('=').unwrap_or(attached);
                let (v, consumed) = if attached.is_empty() {
                    value_or_next(None, next, o)?
                } else {
                    (attached, false)
                };
                apply_value(o.id, v, params, global, st, warnings)?;
                return Ok(consumed);
            }
        }
    }
    Ok(false)
}

fn value_or_next<'a>(
    eq_value: Option<&'a str>,
    next: Option<&'a str>,
    o: &CoreOption,
) -> Result<(&'a str, bool), OptionError> {
    match (eq_value, next) {
        (Some(v), _) => Ok((v, false)),
        (None, Some(n)) => Ok((n, true)),
        (None, None) => Err(OptionError::MissingArgument(option_display_name(o))),
    }
}

/// The name IOR uses in `Error, argument missing for option X`.
fn option_display_name(o: &CoreOption) -> String {
    match (o.long, o.short) {
        (Some(l), _) => l.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => String::new(),
    }
}

fn flag_counter(id: Id, params: &mut IorParams) -> Option<&mut i32> {
    Some(match id {
        Id::Collective => &mut params.collective,
        Id::ReorderTasks => &mut params.reorder_tasks,
        Id::Fsync => &mut params.fsync,
        Id::UseExisting => &mut params.use_existing_test_file,
        Id::FilePerProc => &mut params.file_per_proc,
        Id::IntraBarriers => &mut params.intra_test_barriers,
        Id::KeepFile => &mut params.keep_file,
        Id::KeepFileWithError => &mut params.keep_file_with_error,
        Id::MultiFile => &mut params.multi_file,
        Id::ReadFile => &mut params.read_file,
        Id::CheckRead => &mut params.check_read,
        Id::UniqueDir => &mut params.unique_dir,
        Id::Verbose => &mut params.verbose,
        Id::WriteFile => &mut params.write_file,
        Id::CheckWrite => &mut params.check_write,
        Id::SingleXfer => &mut params.single_xfer_attempt,
        Id::DualMount => &mut params.dual_mount,
        Id::FsyncPerWrite => &mut params.fsync_per_write,
        Id::RandomOffset => &mut params.random_offset,
        Id::ReorderRandom => &mut params.reorder_tasks_random,
        Id::WarningAsErrors => &mut params.warning_as_errors,
        Id::DryRun => &mut params.dry_run,
        Id::GpuDirect => &mut params.gpu_direct,
        _ => return None,
    })
}

/// A flag occurrence: `set` is the `=N` value if one was attached.
fn apply_flag(
    id: Id,
    set: Option<i32>,
    params: &mut IorParams,
    global: &mut GlobalOptions,
    st: &mut CmdState,
) {
    if let Some(counter) = flag_counter(id, params) {
        match set {
            Some(v) => *counter = v.max(0),
            None => *counter = counter.saturating_add(1),
        }
        return;
    }
    match id {
        Id::Help => st.help = true,
        Id::Progress => global.progress = Some(set.is_none_or(|v| v > 0)),
        Id::NoProgress => global.progress = Some(set.is_some_and(|v| v <= 0)),
        _ => {}
    }
}

fn apply_value(
    id: Id,
    v: &str,
    params: &mut IorParams,
    global: &mut GlobalOptions,
    st: &mut CmdState,
    warnings: &mut Vec<String>,
) -> Result<(), OptionError> {
    match id {
        Id::Api => params.api = api_name(v),
        Id::RefNum => params.ref_num = parse_int_option(v, warnings),
        Id::BlockSize => params.block_size = parse_ior_number(v),
        Id::InterTestDelay => params.inter_test_delay = parse_int_option(v, warnings),
        Id::Deadline => params.deadline_for_stonewalling = parse_int_option(v, warnings),
        Id::Script => global.script = Some(v.to_string()),
        Id::Signature => params.set_time_stamp_signature = parse_int_option(v, warnings),
        Id::Repetitions => params.repetitions = parse_int_option(v, warnings),
        Id::Outlier => params.outlier_threshold = parse_int_option(v, warnings),
        Id::DataPacket => st.packet = Some(v.to_string()),
        Id::MemoryPerNode => st.memory = Some(v.to_string()),
        Id::NumTasks => params.num_tasks = parse_int_option(v, warnings),
        Id::TestFile => params.test_file_name = v.to_string(),
        Id::Directives => directives::parse_directives_collect(params, global, v, warnings)?,
        Id::TaskPerNodeOffset => params.task_per_node_offset = parse_int_option(v, warnings),
        Id::SegmentCount => params.segment_count = parse_ior_number(v),
        Id::TransferSize => params.transfer_size = parse_ior_number(v),
        Id::MaxTime => params.max_time_duration = parse_int_option(v, warnings),
        Id::ReorderSeed => params.reorder_tasks_random_seed = parse_int_option(v, warnings),
        Id::RandomPrefill => params.random_prefill_blocksize = parse_ior_number(v),
        Id::RandomOffsetSeed => {
            params.random_offset_seed = i64::from(parse_int_option(v, warnings));
        }
        Id::Json => global.json_file = Some(v.to_string()),
        Id::ResultsDir => global.results_dir = Some(v.to_string()),
        Id::TasksPerNode => {
            let n = parse_ior_number(v);
            global.tasks_per_node = usize::try_from(n).map_err(|_| OptionError::InvalidValue {
                option: "tasks-per-node".into(),
                value: v.to_string(),
                reason: "must be 0 (all tasks on one node) or a positive number".into(),
            })?;
        }
        Id::Iodepth => params.iodepth = parse_int_option(v, warnings),
        _ => {}
    }
    Ok(())
}

/// `-a` / `api=`: the canonical upper-case name of a known backend, else the value as
/// given (validation reports `Unrecognized I/O API`).
pub(crate) fn api_name(v: &str) -> String {
    canonical_backend_name(v).map_or_else(|| v.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::params::SummaryFormat;

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
        for form in [
            &["-b", "4m"][..],
            &["-b4m"][..],
            &["-b=4m"][..],
            &["-b=", "4m"][..],
        ] {
            assert_eq!(p0(form).block_size, 4 << 20, "{form:?}");
        }
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
        // In a group the value belongs to the last flag.
        let p = p0(&["-wF=3"]);
        assert_eq!((p.write_file, p.file_per_proc), (1, 3));
    }

    #[test]
    fn value_option_inside_group() {
        let p = p0(&["-wrb", "4m"]);
        assert_eq!((p.write_file, p.read_file, p.block_size), (1, 1, 4 << 20));
        let p = p0(&["-wrb4m", "-Ft1m"]);
        assert_eq!(p.block_size, 4 << 20);
        assert_eq!(p.transfer_size, 1 << 20);
        assert_eq!(p.file_per_proc, 1);
        // Everything after the value option is its value.
        assert_eq!(p0(&["-bw"]).block_size, -1);
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
        assert_eq!(p0(&["-a", "dummy"]).api, "DUMMY");
        assert_eq!(p0(&["-a", "Posix"]).api, "POSIX");
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
            "Error invalid argument: --blockSize"
        );
        assert_eq!(err(&["-w1"]), "Error invalid argument: -w1");
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
            "Error invalid argument: --POSIX.odirect"
        );
    }

    #[test]
    fn directives_on_command_line() {
        let r = parse(&[
            "-O",
            "summaryFormat=JSON,summaryFile=/tmp/x.json",
            "-O",
            "stoneWallingWearOut=1",
            "-Ocheckread=1",
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
            e.starts_with("ERROR: cannot read script file \"/nonexistent/dir/x.ior\": "),
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
