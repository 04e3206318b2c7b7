//! The record of a text engine's option table (mdtest, md-workbench): an option's names, its
//! help text and what it sets ([`Set`]), with the value rules of IOR's option types (`int`
//! and `uint64`/`long long` through `string_to_bytes` with the overflow warning, `float`
//! through `atof`, strings), and what every such table is used for: parsing a command line
//! ([`parse`]), the `-h` lines ([`help_lines`]) and the clap arguments of completions and man
//! pages ([`command`]). Also the options benchfs-bench adds to every text engine
//! ([`run_options`]: `--tasks`, `--tasks-per-node`, `--cpus`, `--json`, `--results-dir`) and what they
//! set ([`RunArgs`]), and the command line of such an engine ([`CommandLine`]).
//!
//! Owns the record type and those rules; the tables live with their engines
//! ([`crate::mdtest::options`], [`crate::mdworkbench::options`]). It must not check
//! combinations of values (the engines do) nor print.

use crate::backend::cmdline::{int_value, ModuleTarget, TableOption, Tables};
use crate::optparse::help::{left_column, Line};
use crate::optparse::{self, Arg, TokenError};
use crate::units::parse_ior_number;
use std::collections::BTreeMap;
use thiserror::Error;

/// A command-line error of a text engine; `Display` is the line to print (then the help,
/// exit status 1).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// A token rule (`Error invalid argument: ...`, `Error, argument missing ...`).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A value of an option benchfs-bench adds that it rejects.
    #[error("Error, invalid value \"{value}\" for option {option}: {reason}")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// Why.
        reason: String,
    },
}

/// The error of `option`'s `value`, rejected for `reason`.
pub fn invalid(option: &str, value: &str, reason: &str) -> OptionError {
    OptionError::InvalidValue {
        option: option.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// What the options benchfs-bench adds to every text engine set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunArgs {
    /// `--tasks N`: local tasks without MPI (0: not given, one task).
    pub tasks: usize,
    /// `--tasks-per-node N`: emulated nodes of N tasks.
    pub tasks_per_node: usize,
    /// `--cpus LIST`: task i bound to CPU i mod n of the list.
    pub cpus: Option<crate::cpus::CpuList>,
    /// `--json FILE`: the result document.
    pub json_file: Option<String>,
    /// `--results-dir DIR`: a new result document in DIR.
    pub results_dir: Option<String>,
}

/// The parameters of a text engine, as its command line needs them.
pub trait EngineParams: Default + 'static {
    /// The `--<module>.<name>` values.
    fn backend_options(&mut self) -> &mut BTreeMap<String, String>;
}

/// What a text engine's command line sets: the engine's parameters, benchfs-bench's run
/// options, whether help was asked for, and the warnings of parsing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandLine<P> {
    /// The run's parameters.
    pub params: P,
    /// `--tasks`, `--tasks-per-node`, `--cpus`, `--json`, `--results-dir`.
    pub run: RunArgs,
    /// `-h` / `--help`.
    pub help: bool,
    /// Warnings of parsing (`WARNING: parsing the number ...`), in order.
    pub warnings: Vec<String>,
}

impl<P: EngineParams> ModuleTarget for CommandLine<P> {
    fn backend_options(&mut self) -> &mut BTreeMap<String, String> {
        self.params.backend_options()
    }
    fn warnings(&mut self) -> &mut Vec<String> {
        &mut self.warnings
    }
}

/// What an option sets in the parameters `P` (or, for benchfs-bench's own, in the whole
/// command line).
pub enum Set<P: 'static> {
    /// A counted flag (`-v -v`, `-F=N`).
    Count(fn(&mut P) -> &mut i32),
    /// An `int` (`string_to_bytes`, overflow warning).
    Int(fn(&mut P) -> &mut i32),
    /// A `long long` (`string_to_bytes`).
    Long(fn(&mut P) -> &mut i64),
    /// A `uint64` (`string_to_bytes`).
    Count64(fn(&mut P) -> &mut u64),
    /// A `float` (`atof`).
    Float(fn(&mut P) -> &mut f32),
    /// A string.
    Text(fn(&mut P) -> &mut String),
    /// A string that may be absent.
    Note(fn(&mut P) -> &mut Option<String>),
    /// An option of benchfs-bench's own, and the default its help line shows.
    Own(
        fn(&mut CommandLine<P>, &str) -> Result<(), OptionError>,
        &'static str,
    ),
}

impl<P> Clone for Set<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Set<P> {}

/// One option of a table.
pub struct EngineOption<P: 'static> {
    /// `-c`, if it has one.
    pub short: Option<char>,
    /// `--name`, if it has one.
    pub long: Option<&'static str>,
    /// The help text.
    pub help: &'static str,
    /// What it sets.
    pub set: Set<P>,
}

impl<P> Clone for EngineOption<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for EngineOption<P> {}

/// The option `-short`, `--long` or both.
pub const fn opt<P>(
    short: Option<char>,
    long: Option<&'static str>,
    help: &'static str,
    set: Set<P>,
) -> EngineOption<P> {
    EngineOption {
        short,
        long,
        help,
        set,
    }
}

/// The option `-short` only.
pub const fn short<P>(short: char, help: &'static str, set: Set<P>) -> EngineOption<P> {
    opt(Some(short), None, help, set)
}

/// The option `--long` only.
pub const fn long<P>(long: &'static str, help: &'static str, set: Set<P>) -> EngineOption<P> {
    opt(None, Some(long), help, set)
}

impl<P> EngineOption<P> {
    fn is_count(&self) -> bool {
        matches!(self.set, Set::Count(_))
    }
}

impl<P: EngineParams> TableOption<CommandLine<P>> for EngineOption<P> {
    type Error = OptionError;

    fn short_name(&self) -> Option<char> {
        self.short
    }
    fn long_name(&self) -> Option<&'static str> {
        self.long
    }
    fn is_flag(&self) -> bool {
        self.is_count()
    }
    fn apply_flag(&self, a: &mut CommandLine<P>, set: Option<i32>) {
        if let Set::Count(f) = self.set {
            optparse::count(f(&mut a.params), set);
        }
    }
    fn apply_value(&self, a: &mut CommandLine<P>, v: &str) -> Result<(), OptionError> {
        match self.set {
            Set::Count(_) => {}
            Set::Int(f) => *f(&mut a.params) = int_value(v, &mut a.warnings),
            Set::Long(f) => *f(&mut a.params) = parse_ior_number(v),
            Set::Count64(f) => *f(&mut a.params) = parse_ior_number(v) as u64,
            Set::Float(f) => *f(&mut a.params) = atof(v),
            Set::Text(f) => *f(&mut a.params) = v.to_string(),
            Set::Note(f) => *f(&mut a.params) = Some(v.to_string()),
            Set::Own(f, _) => f(a, v)?,
        }
        Ok(())
    }
}

/// C's `atof`: the longest leading decimal number, 0 when there is none.
pub fn atof(v: &str) -> f32 {
    let t = v.trim_start();
    let end = (1..=t.len())
        .rev()
        .find(|&i| t.is_char_boundary(i) && t[..i].parse::<f64>().is_ok())
        .unwrap_or(0);
    t[..end].parse::<f64>().map_or(0.0, |x| x as f32)
}

/// `--tasks`' value: at least 1.
fn positive(option: &str, v: &str) -> Result<usize, OptionError> {
    match usize::try_from(parse_ior_number(v)) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid(option, v, "must be at least 1")),
    }
}

/// The options benchfs-bench adds to every text engine, `--tasks` with the help `tasks_help`.
pub const fn run_options<P: EngineParams>(tasks_help: &'static str) -> [EngineOption<P>; 5] {
    [
        long(
            "tasks",
            tasks_help,
            Set::Own(
                |a, v| {
                    a.run.tasks = positive("tasks", v)?;
                    Ok(())
                },
                "1",
            ),
        ),
        long(
            "tasks-per-node",
            "emulate nodes of N tasks each (0: all tasks on one node)",
            Set::Own(
                |a, v| {
                    a.run.tasks_per_node = usize::try_from(parse_ior_number(v)).map_err(|_| {
                        invalid("tasks-per-node", v, "must be 0 or a positive number")
                    })?;
                    Ok(())
                },
                "0",
            ),
        ),
        long(
            "cpus",
            "bind task i to CPU i mod n of LIST (0-3,6: as taskset -c)",
            Set::Own(
                |a, v| {
                    let list = v.parse().map_err(|e: crate::cpus::CpuListError| {
                        invalid("cpus", v, &e.to_string())
                    })?;
                    a.run.cpus = Some(list);
                    Ok(())
                },
                "LIST",
            ),
        ),
        long(
            "json",
            "write the benchfs result document (JSON) to this file",
            Set::Own(
                |a, v| {
                    a.run.json_file = Some(v.to_string());
                    Ok(())
                },
                "STRING",
            ),
        ),
        long(
            "results-dir",
            "write the result document into this directory (one new file per run)",
            Set::Own(
                |a, v| {
                    a.run.results_dir = Some(v.to_string());
                    Ok(())
                },
                "STRING",
            ),
        ),
    ]
}

/// Parses a text engine's command line (without the program name) with `tables`, in order,
/// later wins. `-h` and `--help` (not options of the tables, as in mdtest and md-workbench)
/// ask for the help text.
pub fn parse<P: EngineParams>(
    tables: &Tables<EngineOption<P>>,
    args: &[String],
) -> Result<CommandLine<P>, OptionError> {
    let mut a = CommandLine::default();
    let (help, rest): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|t| *t == "-h" || *t == "--help");
    let rest: Vec<String> = rest.into_iter().cloned().collect();
    optparse::parse_tokens(tables, &rest, &mut a)?;
    a.help = !help.is_empty();
    Ok(a)
}

/// The default a value option's help line shows (`None` for a flag).
fn shown<P>(o: &EngineOption<P>, p: &mut P) -> Option<String> {
    let text = |s: &str| {
        if s.is_empty() {
            "STRING".to_string()
        } else {
            s.to_string()
        }
    };
    match o.set {
        Set::Count(_) => None,
        Set::Int(f) => Some(f(p).to_string()),
        Set::Long(f) => Some(f(p).to_string()),
        Set::Count64(f) => Some(f(p).to_string()),
        Set::Float(f) => Some(format!("{:.6}", f64::from(*f(p)))),
        Set::Text(f) => Some(text(f(p))),
        Set::Note(f) => Some(text(f(p).as_deref().unwrap_or(""))),
        Set::Own(_, default) => Some(default.to_string()),
    }
}

/// The help lines of `table`'s flags (`flags`) or value options, each with the text
/// `help_of` gives it (its help text, or more).
pub fn help_lines<P: EngineParams>(
    table: &[EngineOption<P>],
    flags: bool,
    help_of: impl Fn(&EngineOption<P>) -> String,
) -> Vec<Line> {
    let mut d = P::default();
    table
        .iter()
        .filter(|o| o.is_count() == flags)
        .map(|o| {
            let v = shown(o, &mut d);
            Line::Opt(left_column(o.short, o.long, v.as_deref()), help_of(o))
        })
        .collect()
}

/// The records of `tables` as the arguments of the clap command `cmd` (then the backends'
/// `--module.option`s), for completions and the man page ([`crate::optparse::command`]);
/// `hint` says what a value names, `api` which option chooses the backend.
pub fn command<P>(
    mut cmd: clap::Command,
    tables: &[&[EngineOption<P>]],
    hint: impl Fn(&EngineOption<P>) -> clap::ValueHint,
    api: impl Fn(&EngineOption<P>) -> bool,
) -> clap::Command {
    use crate::optparse::command::{backend_choice, option_arg, with_module_options};
    for o in tables.iter().flat_map(|t| t.iter()) {
        let kind = if o.is_count() { Arg::Flag } else { Arg::Value };
        let a = option_arg(o.short, o.long, o.help.to_string(), kind, "VALUE", hint(o));
        cmd = cmd.arg(if api(o) { backend_choice(a) } else { a });
    }
    with_module_options(cmd)
}
