//! The IO500 sequence on one rank (the io500 app's `main`): the timestamp agreed by every
//! rank, the result directory and its files, the data directories, then every phase of the
//! table in order (IOR phases on [`crate::ior::engine::run_tests`], mdtest phases on
//! [`crate::mdtest::run`], finds on [`crate::io500::find`]), each checked as the app checks
//! it, then the scores and the clean-up.
//!
//! This is the only module of `io500` that sequences phases; it must not format text
//! ([`crate::io500::output`]) nor compute scores ([`crate::io500::score`]). Every rank of the
//! communicator calls [`run`]; only rank 0 writes files and stdout.

use crate::backend::{AnyBackend, Backend};
use crate::comm::{Comm, ReduceOp};
use crate::io500::commands::{
    mdworkbench_sizes, Command, Mode, Settings, IOR_PROGRAM, MDTEST_PROGRAM, MDWORKBENCH_PROGRAM,
};
use crate::io500::config::Config;
use crate::io500::find::{self, FindCounts};
use crate::io500::output::{self, pair, ResultFiles, SharedOut};
use crate::io500::phases::{
    FindScope, Job, Kind, MdtestSet, MdtestStep, MdwStep, PhaseDef, PHASES,
};
use crate::io500::results::{Io500Run, PhaseRecord};
use crate::io500::score;
use crate::ior::engine::{run_tests, RankContext};
use crate::ior::output::reporter_for;
use crate::ior::params::SummaryFormat;
use crate::ior::progress::Progress;
use crate::ior::results::Phase;
use crate::measure::machine;
use std::io::Write;
use std::time::Instant;

/// The version the run reports (`IO500 version ...`, `version = ...`): this build, and the
/// io500 app commit whose rules it follows.
pub const VERSION: &str = concat!(
    "benchfs-bench-",
    env!("CARGO_PKG_VERSION"),
    "-io500-02091cf"
);

const GIB: f64 = (1u64 << 30) as f64;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Io500Params {
    /// The parsed ini file.
    pub config: Config,
    /// Standard or extended.
    pub mode: Mode,
    /// `--dry-run`: print the commands, run nothing.
    pub dry_run: bool,
    /// `--cleanup`: run only the remove phases.
    pub cleanup_only: bool,
    /// `-v`/`--verbose=N`: overrides `[global] verbosity`.
    pub verbosity: Option<u32>,
    /// `--timestamp=S`: the run's timestamp instead of the current time.
    pub timestamp: Option<String>,
}

impl Io500Params {
    /// The verbosity in effect.
    pub fn verbosity(&self) -> u32 {
        self.verbosity.unwrap_or_else(|| {
            self.config
                .int("global", "verbosity")
                .map_or(1, |v| v.max(0) as u32)
        })
    }
}

/// What a rank needs.
pub struct Context<'a> {
    /// Every rank of the job.
    pub comm: &'a dyn Comm,
    /// Rank 0's stdout (the summary lines), shared with the driver, whose lock also covers
    /// the result files; `None` elsewhere.
    pub out: Option<SharedOut<'a>>,
    /// Where `ERROR INVALID` and `WARNING` notes go besides `result.txt` (rank 0).
    pub note: &'a (dyn Fn(&str) + Sync),
    /// Called on rank 0 after each completed phase with the run so far (the driver's
    /// checkpoint of a run that may be cut short).
    pub completed: Option<&'a (dyn Fn(&Io500Run) + Sync)>,
}

/// The run, and the error that stopped it (what completed is kept).
#[derive(Debug, Default)]
pub struct Outcome {
    /// What was measured (rank 0 holds the records).
    pub run: Io500Run,
    /// The error that stopped the run.
    pub error: Option<String>,
}

/// Every command of the run for `world` ranks: parses and validates them with their engines,
/// so that a bad value fails before any data is touched. Creates the result directory (the
/// engines check that their files there can be written; the app creates it first too).
/// Returns the warnings.
pub fn check_commands(params: &Io500Params, world: usize) -> Result<Vec<String>, String> {
    let stamp = params
        .timestamp
        .clone()
        .unwrap_or_else(crate::io500::commands::timestamp_now);
    let s = Settings::of(&params.config, &stamp, params.mode);
    let mut warnings = Vec::new();
    if s.stonewall < 0 {
        return Err(format!("stonewall-time must be >= 0, got {}", s.stonewall));
    }
    std::fs::create_dir_all(&s.resdir)
        .map_err(|e| format!("Couldn't create directory {} (Error: {e})", s.resdir))?;
    let per_set = params
        .config
        .get("mdworkbench", "precreatePerSet")
        .is_some();
    let per_iter = params.config.get("mdworkbench", "filesPerProc").is_some();
    if per_set != per_iter {
        return Err("MDWorkbench, must set either both options or none of: filesPerProc and precreatePerSet".into());
    }
    for def in PHASES {
        if let (Job::Find(_), Some(script)) =
            (def.job, params.config.get(def.name, "external-script"))
        {
            if def.runs_in(params.mode == Mode::Extended) && params.config.runs(def, None) {
                check_external_script(script)?;
                let nproc = params.config.int(def.name, "nproc");
                if nproc.is_some_and(|n| n != world as i64 && n != 1) {
                    warnings.push("An external-script will always be run with nproc=1, note that some MPI implementations do not support to run MPI programs from an MPI program".into());
                }
            }
        } else if matches!(def.job, Job::Find(_))
            && ["external-mpi-args", "external-extra-args"]
                .iter()
                .any(|k| {
                    params
                        .config
                        .get(def.name, k)
                        .is_some_and(|v| !v.is_empty())
                })
        {
            warnings.push(
                "Using internal pfind, will ignore any arguments to the external script".into(),
            );
        }
        match Command::of(def, &params.config, &s) {
            Some(Command::Ior(args)) => {
                let (_, w) =
                    ior_test(&args, world).map_err(|e| format!("phase {}: {e}", def.name))?;
                warnings.extend(w);
            }
            Some(Command::Mdtest(args)) => {
                mdtest_params(&args, world).map_err(|e| format!("phase {}: {e}", def.name))?;
            }
            Some(Command::MdWorkbench(args)) => {
                mdworkbench_params(&args).map_err(|e| format!("phase {}: {e}", def.name))?;
            }
            _ => {}
        }
    }
    Ok(warnings)
}

/// Parses and validates the IOR arguments of a phase: the test and its warnings.
fn ior_test(
    args: &[String],
    world: usize,
) -> Result<(crate::ior::params::IorParams, Vec<String>), String> {
    let mut parsed = crate::ior::options::parse_args(args).map_err(|e| e.to_string())?;
    let mut test = parsed.tests.pop().unwrap_or_default();
    let backend = AnyBackend::new(&test.api, &test.backend_options).map_err(|e| e.to_string())?;
    let mut warnings = parsed.warnings;
    warnings.extend(
        crate::ior::validate::validate(&mut test, world, backend.supports_fsync())
            .map_err(|e| e.to_string())?,
    );
    backend.check_params().map_err(|e| e.to_string())?;
    Ok((test, warnings))
}

/// Parses and validates the mdtest arguments of a phase.
fn mdtest_params(args: &[String], world: usize) -> Result<crate::mdtest::MdtestParams, String> {
    let parsed = crate::mdtest::options::parse_args(args).map_err(|e| e.to_string())?;
    crate::mdtest::validate::validate(&parsed.params, world).map_err(|e| e.to_string())?;
    Ok(parsed.params)
}

/// The app's checks of `external-script`: it exists and its owner may execute it.
fn check_external_script(script: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(script)
        .map_err(|e| format!("Cannot check external-script {script} ({e})"))?;
    if meta.permissions().mode() & 0o100 == 0 {
        return Err(format!(
            "The external-script must be a executable file {script}"
        ));
    }
    Ok(())
}

/// Runs an external find on this rank (rank 0, as the app): the command through the shell,
/// its output lines counted; a last line `MATCHED <found>/<total>` gives both counts.
/// Returns the counts, whether the total is known, the exit status and the last line.
async fn external_find(command: &str) -> Result<(FindCounts, bool, i32, String), String> {
    let start = Instant::now();
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| format!("Failed to run find command: \"{command}\" error: {e}"))?;
    let runtime = start.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.last().copied().unwrap_or("").to_string();
    let mut counts = FindCounts {
        found: lines.len() as u64,
        runtime,
        ..FindCounts::default()
    };
    let mut known = false;
    if let Some(rest) = last.strip_prefix("MATCHED ") {
        let (left, right) = rest
            .split_once('/')
            .filter(|(l, r)| !l.is_empty() && !r.is_empty())
            .ok_or("Invalid output from the external script, expected: MATCHED <NUM>/<NUM>")?;
        counts.found = crate::units::atoll(left).max(0) as u64;
        counts.total_files = crate::units::atoll(right).max(0) as u64;
        known = true;
    }
    counts.per_rank = vec![[counts.found, counts.total_files, 0, 0]];
    Ok((counts, known, out.status.code().unwrap_or(-1), last))
}

/// Parses and checks the md-workbench arguments of a phase.
fn mdworkbench_params(args: &[String]) -> Result<crate::mdworkbench::MdwParams, String> {
    let parsed = crate::mdworkbench::options::parse_args(args).map_err(|e| e.to_string())?;
    parsed.params.check()?;
    Ok(parsed.params)
}

/// What the phases learn from each other.
#[derive(Default)]
struct Learned {
    /// Items per rank mdtest-easy-write and mdtest-hard-write completed.
    easy_items: Option<u64>,
    hard_items: Option<u64>,
    /// Files the IOR writes left (ior-easy, ior-hard).
    ior_easy_files: Option<u64>,
    ior_hard_files: Option<u64>,
    /// mdtest-easy-write's score (kIOPS), which sizes md-workbench's working set.
    easy_rate: Option<f64>,
    /// md-workbench's working set while it exists: objects per set of every rank's 10 sets,
    /// and the index of the oldest.
    mdw_set: Option<(u64, u64)>,
}

/// One rank's run state.
struct Run<'a> {
    comm: &'a dyn Comm,
    params: &'a Io500Params,
    s: Settings,
    files: Option<ResultFiles<'a>>,
    backend: AnyBackend,
    note: &'a (dyn Fn(&str) + Sync),
    completed: Option<&'a (dyn Fn(&Io500Run) + Sync)>,
    learned: Learned,
    record: Io500Run,
}

impl Run<'_> {
    fn rank0(&self) -> bool {
        self.comm.rank() == 0
    }

    /// Rank 0's output file of phase `def` (`<resultdir>/<phase>.txt`), line-buffered;
    /// `None` on the other ranks.
    fn phase_output(
        &self,
        def: &PhaseDef,
    ) -> Result<Option<std::io::LineWriter<std::fs::File>>, String> {
        if !self.rank0() {
            return Ok(None);
        }
        let path = self.s.res(&format!("{}.txt", def.name));
        let f = std::fs::File::create(&path)
            .map_err(|e| format!("Couldn't create results file: {path} (Error: {e})"))?;
        Ok(Some(std::io::LineWriter::new(f)))
    }

    /// Appends to `result.txt` (rank 0).
    fn result(&mut self, text: &str) -> Result<(), String> {
        match self.files.as_mut() {
            Some(f) => f
                .result(text)
                .map_err(|e| format!("cannot write result.txt: {e}")),
            None => Ok(()),
        }
    }

    fn summary(&mut self, text: &str) -> Result<(), String> {
        match self.files.as_mut() {
            Some(f) => f
                .summary(text)
                .map_err(|e| format!("cannot write result_summary.txt: {e}")),
            None => Ok(()),
        }
    }

    /// The app's `INVALID(...)`: a note in `result.txt` and on stderr (rank 0).
    fn invalid(&mut self, why: String, reasons: &mut Vec<String>) -> Result<(), String> {
        if self.rank0() {
            (self.note)(&format!("ERROR INVALID {why}"));
            self.result(&format!("; ERROR INVALID {why}\n"))?;
        }
        reasons.push(why);
        Ok(())
    }

    fn timestamp_line(&mut self, key: &str) -> Result<(), String> {
        if self.params.verbosity() > 0 {
            let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
            self.result(&pair(key, &now))?;
        }
        Ok(())
    }

    /// `mkdir -p` over the backend (`u_create_dir_recursive`), rank 0 only.
    async fn create_data_dir(&self, rel: &str) -> Result<(), String> {
        if !self.rank0() {
            return Ok(());
        }
        let full = self.s.data(rel);
        let mut path = String::new();
        for part in full.split('/').filter(|p| !p.is_empty()) {
            if path.is_empty() && !full.starts_with('/') {
                path.push_str(part);
            } else {
                path.push('/');
                path.push_str(part);
            }
            if self.backend.stat(&path).await.is_err() {
                self.backend
                    .mkdir(&path, 0o700)
                    .await
                    .map_err(|e| format!("Couldn't create directory {path} (Error: {e})"))?;
            }
        }
        Ok(())
    }
}

/// Runs IO500 on this rank. Every rank of `ctx.comm` calls it with the same parameters.
pub async fn run(ctx: Context<'_>, params: &Io500Params) -> Outcome {
    let comm = ctx.comm;
    let mut out = Outcome::default();
    // The timestamp: rank 0's, on every rank (the seeds and directories depend on it).
    let mine = params
        .timestamp
        .clone()
        .unwrap_or_else(crate::io500::commands::timestamp_now);
    let stamp = match comm.bcast_bytes(mine.as_bytes(), 0) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let s = Settings::of(&params.config, &stamp, params.mode);
    let backend_spec = s.api_args.clone().unwrap_or_else(|| s.api.clone());
    let backend_options = match backend_options(&backend_spec) {
        Ok(o) => o,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let mut backend = match AnyBackend::new(&s.api, &backend_options) {
        Ok(b) => b,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    if let Err(e) = backend.initialize().await {
        out.error = Some(format!("cannot initialize {}: {e}", s.api));
        return out;
    }
    let mut run = Run {
        comm,
        params,
        s,
        files: None,
        backend,
        note: ctx.note,
        completed: ctx.completed,
        learned: Learned::default(),
        record: Io500Run::default(),
    };
    let result = sequence(&mut run, ctx.out).await;
    let _ = run.backend.finalize().await;
    out.run = run.record;
    if let Err(e) = result {
        if !e.contains("aborted") {
            comm.abort(&e);
        }
        out.error = Some(e);
    }
    out
}

/// The `--<module>.<name>=value` words of an API string, as backend options.
fn backend_options(spec: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut opts = std::collections::BTreeMap::new();
    for w in spec.split(' ').skip(1).filter(|w| !w.is_empty()) {
        let body = w
            .strip_prefix("--")
            .ok_or_else(|| format!("Couldn't parse API option: {w}"))?;
        let (k, v) = body.split_once('=').unwrap_or((body, "1"));
        opts.insert(k.to_string(), v.to_string());
    }
    Ok(opts)
}

async fn sequence<'a>(run: &mut Run<'a>, stdout: Option<SharedOut<'a>>) -> Result<(), String> {
    let comm = run.comm;
    let params = run.params;
    let world = comm.size();
    let extended = params.mode == Mode::Extended;
    run.record = Io500Run {
        version: VERSION.to_string(),
        mode: params.mode,
        procs: world,
        api: run.s.api.clone(),
        config_hash: format!("{:X}", params.config.hash()),
        timestamp: run.s.timestamp.clone(),
        datadir: run.s.datadir.clone(),
        resultdir: run.s.resdir.clone(),
        stonewall: run.s.stonewall,
        ..Io500Run::default()
    };
    // Rank 0: the result directory and its files.
    let mut opened: Result<(), String> = Ok(());
    if run.rank0() {
        opened = std::fs::create_dir_all(&run.s.resdir)
            .map_err(|e| format!("Couldn't create directory {} (Error: {e})", run.s.resdir))
            .and_then(|_| ResultFiles::create(&run.s.resdir, stdout).map_err(|e| e.to_string()))
            .map(|f| run.files = Some(f))
            .and_then(|_| {
                std::fs::write(
                    format!("{}/config-orig.ini", run.s.resdir),
                    &params.config.text,
                )
                .and_then(|_| {
                    std::fs::write(
                        format!("{}/config.ini", run.s.resdir),
                        params.config.listing(false),
                    )
                })
                .map_err(|e| {
                    format!("Couldn't write the configuration file to the result directory: {e}")
                })
            });
    }
    agree(comm, opened)?;
    let head = format!(
        "[run]\n{}{}{}{}{}",
        pair("procs", &world.to_string()),
        pair("version", VERSION),
        pair("config-hash", &run.record.config_hash),
        pair("result-dir", &run.s.resdir),
        pair("mode", params.mode.as_str())
    );
    run.result(&head)?;
    let mut run_invalid = Vec::new();
    if params.dry_run {
        run.invalid("DRY RUN MODE ACTIVATED".into(), &mut run_invalid)?;
    }
    if params.config.get("debug", "pause-dir").is_some() {
        run.invalid("PAUSING BETWEEN RUNS ACTIVATED".into(), &mut run_invalid)?;
    }
    comm.barrier().map_err(|e| e.to_string())?;
    if params.verbosity() > 0 && run.rank0() {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
        run.result(&format!("; START {now}\n"))?;
    }
    run.summary(&format!(
        "IO500 version {VERSION} ({})\n",
        params.mode.as_str()
    ))?;
    // The phases' checks (`validate`): debug options and the data directories.
    if run.s.stonewall != run.s.minwrite {
        let why = format!("stonewall-time {}s != {}s", run.s.stonewall, run.s.minwrite);
        run.invalid(why, &mut run_invalid)?;
    }
    if params
        .config
        .int("mdtest-hard", "files-per-dir")
        .unwrap_or(0)
        > 0
    {
        run.invalid("files-per-dir is set".into(), &mut run_invalid)?;
    }
    if !params.dry_run && !params.cleanup_only {
        let made = async {
            run.create_data_dir("ior-easy").await?;
            run.create_data_dir("ior-hard").await
        }
        .await;
        agree(comm, made)?;
    }
    run.result("\n")?;
    run.record.run_invalid = run_invalid.clone();

    for def in PHASES {
        if matches!(def.job, Job::Settings) {
            continue;
        }
        if params.cleanup_only && def.kind != Kind::Remove {
            continue;
        }
        if !def.runs_in(extended) {
            continue;
        }
        drop_caches(run, def).await?;
        comm.barrier().map_err(|e| e.to_string())?;
        run.result(&format!("\n[{}]\n", def.name))?;
        pause(run, def).await?;
        run.timestamp_line("t_start")?;
        let start = Instant::now();
        let mut rec = PhaseRecord {
            name: def.name.to_string(),
            group: def.group,
            unit: def.unit().to_string(),
            score: 0.0,
            time: 0.0,
            valid: true,
            invalid: Vec::new(),
            ran: false,
            command: None,
            ior: None,
            mdtest: None,
            find: None,
            mdworkbench: None,
            extra: Vec::new(),
        };
        let ran = run_phase(run, def, &mut rec).await;
        rec.time = start.elapsed().as_secs_f64();
        // Rank 0's time is the phase's time, as in the app.
        let t0 = comm
            .bcast_bytes(&rec.time.to_le_bytes(), 0)
            .map_err(|e| e.to_string())?;
        if let Ok(b) = <[u8; 8]>::try_from(t0.as_slice()) {
            rec.time = f64::from_le_bytes(b);
        }
        if let Err(e) = ran {
            run.record.phases.push(rec);
            return Err(format!("phase {}: {e}", def.name));
        }
        check_phase(run, def, &mut rec)?;
        run.record.phases.push(rec);
        if let (Some(report), true) = (run.completed, run.rank0()) {
            report(&run.record);
        }
    }

    comm.barrier().map_err(|e| e.to_string())?;
    let valid_run = run_invalid.is_empty()
        && run
            .record
            .phases
            .iter()
            .all(|p| p.valid || phase_optional(&p.name));
    let std = score::scores(&run.record.phases, false, valid_run, VERSION);
    run.result(&output::score_section(&std, false))?;
    run.summary(&output::score_line(&std, false))?;
    run.record.score = Some(std);
    if extended {
        let valid_x = run_invalid.is_empty() && run.record.phases.iter().all(|p| p.valid);
        let x = score::scores(&run.record.phases, true, valid_x, VERSION);
        run.result(&output::score_section(&x, true))?;
        run.summary(&output::score_line(&x, true))?;
        run.record.extended = Some(x);
    }
    if let Some(f) = run.files.as_mut() {
        let _ = f.stdout(&format!(
            "\nThe result files are stored in the directory: {}\n",
            run.s.resdir
        ));
    }
    if !params.dry_run {
        cleanup(run).await;
    }
    if params.verbosity() > 0 && run.rank0() {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
        run.result(&format!("; END {now}\n"))?;
    }
    Ok(())
}

/// The phases a run of `params` goes through (for "k of N phases").
pub fn phase_count(params: &Io500Params) -> usize {
    let extended = params.mode == Mode::Extended;
    PHASES
        .iter()
        .filter(|d| !matches!(d.job, Job::Settings))
        .filter(|d| !params.cleanup_only || d.kind == Kind::Remove)
        .filter(|d| d.runs_in(extended))
        .count()
}

/// The end of a run cut short (rank 0, from the signal thread): the completed phases keep
/// their scores; the run is invalid (as the app treats a run that did not complete), and
/// stdout, `result_summary.txt` and `result.txt` say so, with the scores of what completed.
/// Called under the driver's lock, which the run's own writes to these files also take
/// ([`SharedOut`]), so the two never interleave.
pub fn end_interrupted(run: &mut Io500Run, reason: &str, stdout: &mut dyn Write) {
    let why = format!("interrupted by {reason}; the run did not complete");
    run.run_invalid.push(why.clone());
    let mut summary = format!("[INVALID] {why}\n");
    let mut result = format!("; ERROR INVALID {why}\n");
    let std = score::scores(&run.phases, false, false, VERSION);
    summary += &output::score_line(&std, false);
    result += &output::score_section(&std, false);
    run.score = Some(std);
    if run.mode == Mode::Extended {
        let x = score::scores(&run.phases, true, false, VERSION);
        summary += &output::score_line(&x, true);
        result += &output::score_section(&x, true);
        run.extended = Some(x);
    }
    let _ = stdout.write_all(summary.as_bytes());
    if run.resultdir.is_empty() {
        return;
    }
    for (name, text) in [("result_summary.txt", &summary), ("result.txt", &result)] {
        let path = std::path::Path::new(&run.resultdir).join(name);
        let wrote = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = wrote {
            crate::measure::log::warn(&format!("cannot write {}: {e}", path.display()));
        }
    }
}

fn phase_optional(name: &str) -> bool {
    crate::io500::phases::find(name).is_some_and(|d| d.optional)
}

/// Makes every rank fail if one did (an error of rank 0's file handling, say).
fn agree(comm: &dyn Comm, mine: Result<(), String>) -> Result<(), String> {
    let failed = comm
        .allreduce_i64(i64::from(mine.is_err()), ReduceOp::Max)
        .map_err(|e| e.to_string())?;
    match (mine, failed) {
        (Err(e), _) => Err(e),
        (Ok(()), 0) => Ok(()),
        (Ok(()), _) => Err("aborted: another rank failed".into()),
    }
}

/// `drop-caches`: every rank runs the command before each non-dummy phase.
async fn drop_caches(run: &mut Run<'_>, def: &PhaseDef) -> Result<(), String> {
    if run.params.config.flag("global", "drop-caches") != Some(true) || def.kind == Kind::Dummy {
        return Ok(());
    }
    let cmd = run
        .params
        .config
        .get("global", "drop-caches-cmd")
        .unwrap_or("");
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .await;
    let ok = matches!(&status, Ok(s) if s.success());
    if !ok {
        let code = status.map(|s| s.code().unwrap_or(-1)).unwrap_or(-1);
        let msg = format!("Calling \"{cmd}\" returned {code}");
        if run.rank0() {
            (run.note)(&format!("WARNING {msg}"));
        }
        run.result(&format!("; WARNING {msg}\n"))?;
    }
    Ok(())
}

/// `pause-dir`: rank 0 waits while a file named after the phase lies there.
async fn pause(run: &mut Run<'_>, def: &PhaseDef) -> Result<(), String> {
    let Some(dir) = run
        .params
        .config
        .get("debug", "pause-dir")
        .map(str::to_string)
    else {
        return Ok(());
    };
    if run.rank0() {
        let path = format!("{dir}/{}", def.name);
        run.result(&format!("; Checking for pause file {path}\n"))?;
        while std::path::Path::new(&path).exists() {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
    run.comm.barrier().map_err(|e| e.to_string())
}

/// The phase's own job; fills `rec` (score, figures, invalid reasons).
async fn run_phase(run: &mut Run<'_>, def: &PhaseDef, rec: &mut PhaseRecord) -> Result<(), String> {
    let params = run.params;
    let cfg = &params.config;
    let workload = crate::io500::commands::workload_of(def);
    let command = Command::of(def, cfg, &run.s);
    let queue = cfg.int(def.name, "pfind-queue-length").unwrap_or(10000);
    let command = match def.job {
        Job::MdWorkbench(step) => {
            mdworkbench_sizes_for(run, step)?;
            Command::of(def, cfg, &run.s)
        }
        _ => command,
    };
    if let Some(c) = &command {
        let line = c.line(queue);
        run.result(&pair("exe", &line))?;
        rec.command = Some(line);
    }
    if let Job::Find(_) = def.job {
        if params.dry_run {
            run.result(&pair("nproc", &run.comm.size().to_string()))?;
        }
    }
    let enabled = cfg.runs(def, workload);
    if params.dry_run || !enabled {
        return Ok(());
    }
    rec.ran = true;
    let world = run.comm.size();
    match (def.job, command) {
        (Job::Timestamp, _) => {
            if run.rank0() {
                let path = run.s.res("timestampfile");
                if params.verbosity() > 1 {
                    run.result(&pair("timestamp-file", &path))?;
                }
                std::fs::File::create(&path)
                    .map_err(|e| format!("Couldn't open timestampfile: {path} ({e})"))?;
            }
            Ok(())
        }
        (Job::Ior(_, write), Some(Command::Ior(args))) => {
            let (test, _warnings) = ior_test(&args, world)?;
            let line = format!("{IOR_PROGRAM} {}", args.join(" "));
            let info = machine::run_info(&line);
            let mut reporter = run
                .phase_output(def)?
                .map(|f| reporter_for(SummaryFormat::Default, Box::new(f)));
            let progress = Progress::new(Some(false));
            let ctx = RankContext {
                comm: run.comm,
                run: &info,
                reporter: reporter
                    .as_mut()
                    .map(|r| &mut **r as &mut (dyn crate::ior::output::Reporter + Send + 'static)),
                progress: &progress,
            };
            let outcome = run_tests(ctx, std::slice::from_ref(&test)).await;
            if let Some(e) = outcome.error {
                return Err(e);
            }
            if !run.rank0() {
                if write {
                    remember_ior(run, def, &test);
                }
                return Ok(());
            }
            let phase = if write { Phase::Write } else { Phase::Read };
            let row = outcome
                .tests
                .first()
                .and_then(|t| t.phase_rows(phase).next().cloned())
                .ok_or("IOR produced no result")?;
            rec.score = if row.total_time > 0.0 {
                row.agg_bytes as f64 / row.total_time / GIB
            } else {
                0.0
            };
            if row.errors > 0 {
                let why = format!(
                    "Errors ({}) occured during phase in IOR. This invalidates your run.",
                    row.errors
                );
                run.invalid(why, &mut rec.invalid)?;
            }
            if write {
                let wall = row.stonewall.as_ref().map_or(0.0, |s| s.time);
                if row.total_time < run.s.stonewall as f64 {
                    let why = format!(
                        "Write phase needed {:.6}s instead of stonewall {}s. Stonewall was hit at {wall:.1}s",
                        row.total_time, run.s.stonewall
                    );
                    run.invalid(why, &mut rec.invalid)?;
                }
                if let Some(sw) = &row.stonewall {
                    if params.verbosity() > 1 {
                        let v = sw.pairs_max.to_string();
                        run.result(&pair("accessed-pairs", &v))?;
                    }
                    let tp = if sw.time > 0.0 {
                        sw.data_mean * world as f64 / sw.time / GIB
                    } else {
                        0.0
                    };
                    let v = format!("{tp:.2}");
                    run.result(&pair("throughput-stonewall", &v))?;
                    rec.extra.push(("throughput-stonewall".into(), v));
                }
                remember_ior(run, def, &test);
            }
            rec.ior = Some(row);
            Ok(())
        }
        (Job::Mdtest(set, step), Some(Command::Mdtest(args))) => {
            let p = mdtest_params(&args, world)?;
            let mut file = run.phase_output(def)?;
            let ctx = crate::mdtest::Context {
                comm: run.comm,
                out: file.as_mut().map(|f| f as &mut (dyn Write + Send)),
                program: MDTEST_PROGRAM,
                args: &args,
                completed: None,
            };
            let result = crate::mdtest::run(ctx, &p)
                .await
                .map_err(|f| f.error.to_string())?;
            let op = match step {
                MdtestStep::Create => crate::mdtest::Op::FileCreate,
                MdtestStep::Stat => crate::mdtest::Op::FileStat,
                MdtestStep::Read => crate::mdtest::Op::FileRead,
                MdtestStep::Remove => crate::mdtest::Op::FileRemove,
            };
            let task = result.runs.first().ok_or("mdtest produced no result")?;
            if step == MdtestStep::Create {
                match set {
                    MdtestSet::Easy => run.learned.easy_items = Some(task.items_per_rank),
                    MdtestSet::Hard => run.learned.hard_items = Some(task.items_per_rank),
                }
            }
            let res = task
                .get(op, 0)
                .cloned()
                .ok_or("mdtest did not run the operation")?;
            rec.score = res.aggregate_rate / 1000.0;
            if (set, step) == (MdtestSet::Easy, MdtestStep::Create) {
                run.learned.easy_rate = Some(rec.score);
            }
            if params.verbosity() > 1 {
                run.result(&pair("time", &format!("{:.6}", res.time)))?;
            }
            if step == MdtestStep::Create {
                let sw = match &res.stonewall {
                    Some(sw) if sw.time > 0.0 => sw.items_sum as f64 / sw.time / 1000.0,
                    _ => rec.score,
                };
                let v = format!("{sw:.6}");
                run.result(&pair("rate-stonewall", &v))?;
                rec.extra.push(("rate-stonewall".into(), v));
            }
            rec.mdtest = Some(res);
            Ok(())
        }
        (Job::Find(scope), Some(Command::Find(query))) => {
            let newer = match &query.newer {
                Some(path) => {
                    let mine = if run.rank0() {
                        find::newer_than_seconds(path)
                            .map_err(|e| format!("Couldn't open timestampfile: {path} ({e})"))?
                    } else {
                        0
                    };
                    let all = run.comm.allgather_i64(mine).map_err(|e| e.to_string())?;
                    Some(all[0])
                }
                None => None,
            };
            // `nproc`: the find runs on the first ranks only (the others wait for it).
            let nproc = cfg
                .int(def.name, "nproc")
                .map_or(world, |n| (n.max(1) as usize).min(world));
            run.result(&pair("nproc", &nproc.to_string()))?;
            let sub = if nproc < world {
                Some(run.comm.split_first(nproc).map_err(|e| e.to_string())?)
            } else {
                None
            };
            let finders: Option<&dyn Comm> = match &sub {
                None => Some(run.comm),
                Some(Some(c)) => Some(&**c),
                Some(None) => None,
            };
            let counts = match finders {
                Some(c) => find::run(c, &run.backend, &query, newer)
                    .await
                    .map_err(|e| e.to_string())?,
                None => FindCounts::default(),
            };
            run.comm.barrier().map_err(|e| e.to_string())?;
            rec.score = counts.rate() / 1000.0;
            check_find(run, scope, &counts, true, rec)?;
            if run.rank0() {
                write_find_csv(&run.s.res(&format!("{}.csv", def.name)), &counts)?;
            }
            run.result(&pair("found", &counts.found.to_string()))?;
            run.result(&pair("total-files", &counts.total_files.to_string()))?;
            rec.find = Some(counts);
            Ok(())
        }
        (Job::Find(scope), Some(Command::ExternalFind(line, _))) => {
            let mut result = None;
            if run.rank0() {
                result = Some(external_find(&line).await);
            }
            run.comm.barrier().map_err(|e| e.to_string())?;
            let Some(outcome) = result else {
                return Ok(());
            };
            let (counts, known, status, last) = outcome?;
            if status != 0 {
                let why = format!("Exit code {status} != 0 from find command: \"{line}\"");
                run.invalid(why, &mut rec.invalid)?;
            }
            run.result(&pair("last-output", &format!("\"{last}\"")))?;
            let per_sec = if known {
                run.result(&pair("total-files", &counts.total_files.to_string()))?;
                counts.total_files
            } else {
                let msg =
                    "Couldn't find \"MATCHED x/y\" as last output, badly approximate using hits.";
                (run.note)(&format!("WARNING {msg}"));
                run.result(&format!("; WARNING {msg}\n"))?;
                counts.found
            };
            rec.score = if counts.runtime > 0.0 {
                per_sec as f64 / counts.runtime / 1000.0
            } else {
                0.0
            };
            check_find(run, scope, &counts, known, rec)?;
            run.result(&pair("found", &counts.found.to_string()))?;
            rec.find = Some(counts);
            Ok(())
        }
        (Job::MdWorkbench(step), Some(Command::MdWorkbench(args))) => {
            let p = mdworkbench_params(&args)?;
            let mut file = run.phase_output(def)?;
            let ctx = crate::mdworkbench::Context {
                comm: run.comm,
                out: file.as_mut().map(|f| f as &mut (dyn Write + Send)),
                program: MDWORKBENCH_PROGRAM,
                args: &args,
                completed: None,
            };
            let res = crate::mdworkbench::run(ctx, &p)
                .await
                .map_err(|f| f.error)?;
            let errors = res.errors();
            if errors > 0 {
                let why = format!(
                    "Errors ({errors}) occured during the md-workbench phase. This invalidates your run."
                );
                run.invalid(why, &mut rec.invalid)?;
            }
            let first = res.phases.first().cloned();
            match step {
                MdwStep::Bench if res.phases.len() != 2 => {
                    let why = format!(
                        "During the md-workbench phase not two iterations are performed but {} This invalidates your run.",
                        res.phases.len()
                    );
                    run.invalid(why, &mut rec.invalid)?;
                    rec.score = 0.0;
                }
                MdwStep::Bench => {
                    let (r0, r1) = (&res.phases[0], &res.phases[1]);
                    if r0.rate < r1.rate * 0.5 || r0.rate * 0.5 > r1.rate {
                        let msg = "The results of both md-workbench differs by 2x.";
                        if run.rank0() {
                            (run.note)(&format!("WARNING {msg}"));
                        }
                        run.result(&format!("; WARNING {msg}\n"))?;
                    }
                    run.result(&pair("maxOpTime", &format!("{:.6}", r1.max_op_time)))?;
                    let it0 = format!("{:.6}", r0.rate / 1000.0);
                    run.result(&pair("scoreIteration0", &it0))?;
                    run.result(&pair("maxOpTime0", &format!("{:.6}", r0.max_op_time)))?;
                    rec.extra.push(("scoreIteration0".into(), it0));
                    rec.score = r1.rate / 1000.0;
                }
                MdwStep::Create | MdwStep::Delete => {
                    let r = first.ok_or("md-workbench produced no result")?;
                    run.result(&pair("maxOpTime", &format!("{:.6}", r.max_op_time)))?;
                    rec.score = r.rate / 1000.0;
                }
            }
            run.learned.mdw_set = match step {
                MdwStep::Delete => None,
                _ => Some((p.precreate.max(0) as u64, res.position.max(0) as u64)),
            };
            rec.mdworkbench = Some(res);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// md-workbench's working-set size for phase `step` (`mdworkbench_add_params`): the app's
/// rule over mdtest-easy-write's rate (rank 0's), which the create phase also keeps in
/// `mdworkbench-size` so that a `--cleanup` run removes what was made; then the
/// `filesPerProc` and `precreatePerSet` lines.
fn mdworkbench_sizes_for(run: &mut Run<'_>, step: MdwStep) -> Result<(), String> {
    let cfg = &run.params.config;
    let given = cfg.get("mdworkbench", "precreatePerSet").is_some();
    let mine = run.learned.easy_rate.unwrap_or(0.0);
    let mut rate = run
        .comm
        .bcast_bytes(&mine.to_le_bytes(), 0)
        .ok()
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(mine, f64::from_le_bytes);
    let file = run.s.res("mdworkbench-size");
    if !given {
        if step == MdwStep::Create && run.rank0() {
            if let Err(e) = std::fs::write(&file, rate.to_le_bytes()) {
                let msg = format!("Couldn't open mdworkbench-file: {file} ({e})");
                (run.note)(&format!("WARNING {msg}"));
                run.result(&format!("; WARNING {msg}\n"))?;
            }
        }
        if step != MdwStep::Create && rate <= 0.0 {
            let kept = if run.rank0() {
                std::fs::read(&file)
                    .ok()
                    .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                    .map_or(0.0, f64::from_le_bytes)
            } else {
                0.0
            };
            rate = run
                .comm
                .bcast_bytes(&kept.to_le_bytes(), 0)
                .ok()
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(kept, f64::from_le_bytes);
        }
        if rate <= 0.0 && run.rank0() {
            let msg = "MDWorkbench uses the MDTest rates to determine suitable options but MDTest didn't run, will use a low (and sane) default instead";
            (run.note)(&format!("WARNING {msg}"));
            run.result(&format!("; WARNING {msg}\n"))?;
        }
    }
    let (pre, files, _) = mdworkbench_sizes(cfg, run.s.stonewall, rate, run.comm.size());
    run.s.mdworkbench = (pre, files);
    run.result(&pair("filesPerProc", &files.to_string()))?;
    run.result(&pair("precreatePerSet", &pre.to_string()))?;
    Ok(())
}

/// Files an IOR write left behind (for the find's expected totals).
fn remember_ior(run: &mut Run<'_>, def: &PhaseDef, test: &crate::ior::params::IorParams) {
    let files = if test.file_per_proc != 0 {
        run.comm.size() as u64
    } else {
        1
    };
    match def.job {
        Job::Ior(crate::io500::phases::IorSet::Easy, true) => {
            run.learned.ior_easy_files = Some(files)
        }
        Job::Ior(crate::io500::phases::IorSet::Hard, true) => {
            run.learned.ior_hard_files = Some(files)
        }
        _ => {}
    }
}

/// The mdtest file names of `ranks` ranks with `items` items each that match `pattern`.
pub fn matching_mdtest_files(ranks: usize, items: u64, pattern: &str) -> u64 {
    (0..ranks)
        .map(|r| {
            let prefix = format!("mdtest.{r}.");
            (0..items)
                .filter(|&i| {
                    let name = crate::mdtest::names::item_name(
                        crate::mdtest::names::Kind::File,
                        &prefix,
                        i,
                    );
                    find::name_matches(pattern, &name)
                })
                .count() as u64
        })
        .sum()
}

/// The app's find checks, and the exact count: what the writes created, when the backend
/// keeps a namespace.
fn check_find(
    run: &mut Run<'_>,
    scope: FindScope,
    c: &FindCounts,
    total_known: bool,
    rec: &mut PhaseRecord,
) -> Result<(), String> {
    if c.found == 0 {
        run.invalid(
            "Find didn't find anything, this is likely invalid.".into(),
            &mut rec.invalid,
        )?;
    }
    if !run.backend.keeps_namespace() {
        return Ok(());
    }
    let world = run.comm.size();
    let l = &run.learned;
    let easy = l.easy_items.map(|n| n * world as u64);
    let hard = l.hard_items.map(|n| n * world as u64);
    // md-workbench's objects (3901 bytes each) lie in the data directory while find runs:
    // they count in the total, and those made in the timestamp's second are newer than it.
    let mdw = l.mdw_set.map(|(per_set, oldest)| {
        let sets = 10 * world as u64;
        let matching = (oldest..oldest + per_set)
            .filter(|n| find::name_matches("*01*", &format!("file-{n}")))
            .count() as u64;
        (per_set * sets, matching * sets)
    });
    let (expected_found, expected_total) = match scope {
        FindScope::All => (
            l.hard_items
                .map(|n| matching_mdtest_files(world, n, "*01*")),
            match (easy, hard, l.ior_easy_files, l.ior_hard_files) {
                (Some(e), Some(h), Some(ie), Some(ih)) => {
                    Some(e + h + ie + ih + mdw.map_or(0, |m| m.0))
                }
                _ => None,
            },
        ),
        FindScope::Hard => (
            l.hard_items
                .map(|n| matching_mdtest_files(world, n, "*01*")),
            hard,
        ),
        FindScope::Easy => (
            l.easy_items
                .map(|n| matching_mdtest_files(world, n, "*01*")),
            easy,
        ),
    };
    let slack = match scope {
        FindScope::All => mdw.map_or(0, |m| m.1),
        _ => 0,
    };
    if let Some(e) = expected_found {
        if c.found < e || c.found > e + slack {
            let why = if slack > 0 {
                format!(
                    "find found {} files, the writes created {e} matching files (and {slack} md-workbench objects that may share the timestamp's second)",
                    c.found
                )
            } else {
                format!(
                    "find found {} files, the writes created {e} matching files",
                    c.found
                )
            };
            run.invalid(why, &mut rec.invalid)?;
        }
    }
    if let Some(e) = expected_total.filter(|_| total_known) {
        if e != c.total_files {
            let why = format!("find saw {} files, the writes created {e}", c.total_files);
            run.invalid(why, &mut rec.invalid)?;
        }
    }
    if c.errors > 0 {
        let why = format!("find could not list or stat {} entries", c.errors);
        run.invalid(why, &mut rec.invalid)?;
    }
    Ok(())
}

/// `find.csv` in the app's layout (pfind's columns; benchfs-bench's find does no job
/// stealing, so those columns are 0).
fn write_find_csv(path: &str, c: &FindCounts) -> Result<(), String> {
    let mut text = format!("runtime: {:.6} rate: {:.6}\n", c.runtime, c.rate());
    text.push_str("rank, errors, unknown, found, total, checked, job steal msgs received, work items send, job steal msgs send, work items stolen, time spend in job stealing in s, number of completion tokens send\n");
    for (r, [found, total, checked, errors]) in c.per_rank.iter().enumerate() {
        text.push_str(&format!(
            "{r}, {errors}, 0, {found}, {total}, {checked}, 0, 0, 0, 0, 0.000s, 0\n"
        ));
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
}

/// The app's checks after a phase (rank 0): stonewall, zero score, minimum runtime; then the
/// `score` and `[RESULT]` lines.
fn check_phase(run: &mut Run<'_>, def: &PhaseDef, rec: &mut PhaseRecord) -> Result<(), String> {
    if !run.rank0() {
        return Ok(());
    }
    if !run.params.dry_run {
        if def.verify_stonewall && rec.time < run.s.stonewall as f64 {
            let why = format!(
                "Runtime of phase ({:.6}) is below stonewall time. This shouldn't happen!",
                rec.time
            );
            run.invalid(why, &mut rec.invalid)?;
        } else if rec.score == 0.0 && def.kind != Kind::Dummy {
            run.invalid("Resulting score shouldn't be 0.0".into(), &mut rec.invalid)?;
        }
    }
    if def.verify_stonewall && rec.time < run.s.minwrite as f64 {
        run.invalid(
            "Runtime is smaller than expected minimum runtime".into(),
            &mut rec.invalid,
        )?;
    }
    rec.valid = rec.invalid.is_empty();
    if def.kind != Kind::Dummy {
        run.result(&pair("score", &format!("{:.6}", rec.score)))?;
    }
    run.summary(&output::result_line(def, rec.score, rec.time, rec.valid))?;
    if run.params.verbosity() > 0 {
        run.result(&pair("t_delta", &format!("{:.4}", rec.time)))?;
        run.timestamp_line("t_end")?;
    }
    Ok(())
}

/// The clean-up of the workloads' sections (`cleanup` of ior-easy, mdtest-easy, ior-hard,
/// mdtest-hard), then the data directory. Errors are ignored, as the app ignores them.
async fn cleanup(run: &mut Run<'_>) {
    let rank0 = run.rank0();
    let b = &run.backend;
    let s = &run.s;
    let fpp = run.params.config.flag("ior-easy", "filePerProc") == Some(true);
    if fpp {
        let _ = b
            .remove(&s.data(&format!("ior-easy/ior_file_easy.{:08}", run.comm.rank())))
            .await;
    }
    let _ = run.comm.barrier();
    if rank0 {
        for f in [
            "ior-easy.stonewall",
            "ior-hard.stonewall",
            "mdtest-easy.stonewall",
            "mdtest-hard.stonewall",
        ] {
            let _ = std::fs::remove_file(s.res(f));
        }
        if !fpp {
            let _ = b.remove(&s.data("ior-easy/ior_file_easy")).await;
        }
        let _ = b.remove(&s.data("ior-hard/file")).await;
        for d in ["ior-easy", "mdtest-easy", "ior-hard", "mdtest-hard"] {
            let _ = b.rmdir(&s.data(d)).await;
        }
        let _ = b.rmdir(&s.datadir).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdtest_names_matching_01() {
        // file.mdtest.R.I for 2 ranks and 2000 items: the peer's find found 58.
        assert_eq!(matching_mdtest_files(2, 2000, "*01*"), 58);
        assert_eq!(matching_mdtest_files(1, 10, "*01*"), 0);
        assert_eq!(
            backend_options("BENCHFS --benchfs.registry=/r --benchfs.x").unwrap(),
            [
                ("benchfs.registry".to_string(), "/r".to_string()),
                ("benchfs.x".into(), "1".into())
            ]
            .into_iter()
            .collect()
        );
        assert!(backend_options("POSIX odirect").is_err());
    }
}
