//! `benchfs-bench io500 CONFIG.ini [options]`: the IO500 benchmark with the io500 app's ini
//! file and options (`--mode`, `--dry-run`, `--cleanup`, `--verify`, `--config-hash`,
//! `--list`, `--timestamp`, `-v`), run by the process driver (local tasks with `--tasks N`, or
//! one rank of an MPI job), with the result document of `--json FILE` / `--results-dir DIR`.
//!
//! Owns the subcommand's process-level rules: its command line, where the text goes, the
//! document and the exit status (0 for a run that completed, valid or not, as the app; 1 for
//! bad input or a run that stopped). The sequence is [`crate::io500::engine`]; it must not run
//! phases itself.

use crate::comm::Comm;
use crate::harness::driver::{
    self, print_error, tasks_per_node_or_env, BackendSlot, Benchmark, RankOutcome, RankSetup,
    EXIT_ERROR,
};
use crate::harness::record::TextSlot;
use crate::io500::commands::Mode;
use crate::io500::engine::{self, check_commands, Context, Io500Params, Outcome};
use crate::io500::output::SharedOut;
use crate::io500::results::Io500Run;
use crate::io500::verify::{verify, Verdict};
use crate::io500::Config;
use crate::measure::{log, machine};
use crate::results::document::ResultDocument;
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// The subcommand's command line.
#[derive(Debug, Parser)]
#[command(
    name = "benchfs-bench io500",
    about = "IO500 on benchfs-bench's IOR and mdtest engines, with the io500 app's ini file",
    disable_version_flag = true
)]
pub struct Io500Args {
    /// The ini file (the io500 app's format: [global], [debug], [ior-easy], ...).
    pub config: Option<String>,
    /// standard, or extended (adds find-easy, find-hard and the md-workbench phases).
    #[arg(long, value_parser = ["standard", "extended"], default_value = "standard")]
    pub mode: String,
    /// Show each phase's command, run nothing (marks the run invalid).
    #[arg(long)]
    pub dry_run: bool,
    /// Run only the delete phases (cleans up after a failed run).
    #[arg(long)]
    pub cleanup: bool,
    /// Verify that a result.txt matches the configuration (config and score hashes).
    #[arg(long, value_name = "RESULT_FILE")]
    pub verify: Option<String>,
    /// Print the configuration hash.
    #[arg(long)]
    pub config_hash: bool,
    /// List every ini section and key with its help and current value.
    #[arg(short = 'l', long)]
    pub list: bool,
    /// Use this string as the run's timestamp (directories, seeds).
    #[arg(long)]
    pub timestamp: Option<String>,
    /// Increase the verbosity (repeatable).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub v: u8,
    /// Set the verbosity level.
    #[arg(long)]
    pub verbose: Option<u32>,
    /// Local tasks (threads) when not under an MPI launcher.
    #[arg(long, short = 'N', default_value_t = 1)]
    pub tasks: usize,
    /// Emulated nodes of this many tasks (0: IOR_FAKE_TASK_PER_NODES or one node).
    #[arg(long, default_value_t = 0)]
    pub tasks_per_node: usize,
    /// Write the result document to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Write the result document as a new file in DIR.
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<String>,
}

/// What one rank of an IO500 run returns.
#[derive(Debug, Default)]
pub struct Io500Outcome(pub Outcome);

impl RankOutcome for Io500Outcome {
    fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    fn set_error(&mut self, error: String) {
        self.0.error = Some(error);
    }
}

/// An IO500 run, ready to start.
pub struct Io500Benchmark {
    params: Io500Params,
    args: Io500Args,
    api: String,
    api_options: BTreeMap<String, String>,
    run_info: machine::RunInfo,
    /// Rank 0's record of the run (its stdout, the phases so far, the document's files).
    slot: TextSlot<Io500Run>,
}

impl Io500Benchmark {
    /// The run of `params` as `args` asked for it.
    pub fn new(params: Io500Params, args: Io500Args, command_line: &str) -> Io500Benchmark {
        let full = params
            .config
            .get("global", "api")
            .unwrap_or("POSIX")
            .to_string();
        let mut words = full.split(' ').filter(|w| !w.is_empty());
        let api = words.next().unwrap_or("POSIX").to_string();
        let api_options = words
            .filter_map(|w| w.strip_prefix("--"))
            .map(|w| match w.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (w.to_string(), "1".to_string()),
            })
            .collect();
        Io500Benchmark {
            params,
            slot: TextSlot::new(args.json.as_deref(), args.results_dir.as_deref()),
            args,
            api,
            api_options,
            run_info: machine::run_info(command_line),
        }
    }

    /// `[global] api` with the backend options as the driver completed them (the embedded
    /// cluster's registry).
    fn api_string(&self) -> String {
        std::iter::once(self.api.clone())
            .chain(self.api_options.iter().map(|(k, v)| format!("--{k}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Benchmark for Io500Benchmark {
    type Outcome = Io500Outcome;
    /// Rank 0's stream is the slot's record ([`TextSlot::locked`]).
    type Sink = ();

    fn parse_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    fn local_tasks(&self) -> usize {
        self.args.tasks.max(1)
    }

    fn tasks_per_node(&self) -> usize {
        tasks_per_node_or_env(self.args.tasks_per_node)
    }

    fn backends(&mut self) -> Vec<BackendSlot<'_>> {
        vec![BackendSlot {
            api: &self.api,
            options: &mut self.api_options,
            verbose: self.params.verbosity() > 1,
        }]
    }

    fn validate(&mut self, world: usize, _tpn: usize) -> Result<Vec<String>, String> {
        // One timestamp for the check and the run (rank 0's wins under MPI).
        if self.params.timestamp.is_none() {
            self.params.timestamp = Some(crate::io500::commands::timestamp_now());
        }
        let warnings = check_commands(&self.params, world)?;
        if let Some(path) = &self.args.json {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| format!("cannot write --json \"{path}\": {e}"))?;
        }
        Ok(warnings)
    }

    fn open_sink(&self) -> Result<Self::Sink, String> {
        let info = self.run_info.clone();
        // The engine writes stdout and its result files through the slot's lock, never
        // through the stream's own writer: the signal thread ends both.
        let _stream = self.slot.open(
            &self.run_info.began,
            Some(engine::phase_count(&self.params)),
            Arc::new(move |run, ctx| ResultDocument::from_io500(&info, run, &[], ctx)),
            |out, run, reason| engine::end_interrupted(run, reason, out),
        )?;
        Ok(())
    }

    async fn run(&self, comm: &dyn Comm, sink: Option<&mut Self::Sink>) -> Io500Outcome {
        let mut params = self.params.clone();
        if let Err(e) = params.config.set("global", "api", &self.api_string()) {
            return Io500Outcome::failed(e.to_string());
        }
        let note = |msg: &str| log::line(msg);
        let shared = |f: &mut dyn FnMut(&mut dyn Write)| self.slot.locked(f);
        // Few phases, each long: the whole run so far.
        let report = |run: &Io500Run| self.slot.report(1, |so_far| so_far.clone_from(run));
        let ctx = Context {
            comm,
            out: sink.map(|_| &shared as SharedOut),
            note: &note,
            completed: self
                .slot
                .is_open()
                .then_some(&report as &(dyn Fn(&Io500Run) + Sync)),
        };
        Io500Outcome(engine::run(ctx, &params).await)
    }

    fn finish(&self, outcome: Io500Outcome) -> i32 {
        let outcome = outcome.0;
        let mut errors = Vec::new();
        if let Some(e) = &outcome.error {
            print_error(e);
            errors.push(e.clone());
        }
        let status = if outcome.error.is_some() {
            EXIT_ERROR
        } else {
            0
        };
        self.slot.finish(status, || {
            ResultDocument::from_io500(
                &self.run_info,
                &outcome.run,
                &errors,
                &crate::harness::context::ended_now(&self.run_info.began),
            )
        })
    }
}

/// Runs `benchfs-bench io500` with `args` (the arguments after `io500`); `setup` runs on every
/// MPI rank first (servers inside the job). Returns the exit status.
pub fn main(args: Vec<String>, setup: Option<&dyn RankSetup>) -> i32 {
    let command_line = std::iter::once("benchfs-bench io500".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let parsed = match Io500Args::try_parse_from(
        std::iter::once("benchfs-bench io500".to_string()).chain(args),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { 0 };
        }
    };
    if parsed.list && parsed.config.is_none() {
        print!(
            "# Supported and current values of the ini file:\n{}",
            Config::default().listing(true)
        );
        return 0;
    }
    let Some(path) = parsed.config.clone() else {
        log::error("the ini file is missing: benchfs-bench io500 CONFIG.ini [options]");
        return EXIT_ERROR;
    };
    let config = match Config::read(&path) {
        Ok(c) => c,
        Err(e) => {
            log::line(&format!("ERROR {e}"));
            log::line(&format!("FATAL Couldn't parse config file {path}"));
            return EXIT_ERROR;
        }
    };
    if parsed.list {
        print!(
            "# Supported and current values of the ini file:\n{}",
            config.listing(true)
        );
        return 0;
    }
    if parsed.config_hash {
        println!("{:<15} = {:X}", "config-hash", config.hash());
        return 0;
    }
    if let Some(result) = &parsed.verify {
        let text = match std::fs::read_to_string(result) {
            Ok(t) => t,
            Err(e) => {
                log::error(&format!("Cannot open result file {result} ({e})"));
                return EXIT_ERROR;
            }
        };
        let (report, verdict) = verify(&config, &text, engine::VERSION);
        print!("{report}");
        return i32::from(verdict != Verdict::Ok);
    }
    let verbosity = parsed
        .verbose
        .or((parsed.v > 0).then_some(u32::from(parsed.v)));
    let params = Io500Params {
        config,
        mode: if parsed.mode == "extended" {
            Mode::Extended
        } else {
            Mode::Standard
        },
        dry_run: parsed.dry_run,
        cleanup_only: parsed.cleanup,
        verbosity,
        timestamp: parsed.timestamp.clone(),
    };
    driver::execute_benchmark(Io500Benchmark::new(params, parsed, &command_line), setup)
}
