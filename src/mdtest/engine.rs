//! The engine: an mdtest run on every rank (`mdtest_run`, `mdtest_iteration`,
//! `directory_test`, `file_test`), phase after phase with mdtest's barriers, timers, names,
//! stonewall and output, on any [`Backend`].
//!
//! Owns the sequencing: task counts (`-f -l -s`), iterations, tree creation and removal, the
//! directory and file phases, `-u` and `-N` name shifts, `-c` collective creates, `-W`/`-x`,
//! `-R`, `-p`, `-Y`, the prologue/epilogue commands, and the gathering of every rank's
//! figures into [`MdtestRun`]. Formats are [`crate::mdtest::output`], formulas
//! [`crate::mdtest::stats`], item operations [`crate::mdtest::ops`], the timed loop
//! [`crate::mdtest::phase`]. Only rank 0 writes the result stream.
//!
//! Deliberate differences from mdtest 4.1 (its bugs, not copied): a stonewalled directory
//! create continues to the slowest rank's count as files do (mdtest stops creating and
//! counts every item); every iteration starts from `-n` items (mdtest keeps the stonewalled
//! count); the random order is drawn again when the item count changed; no `sleep(1)` before
//! each task count; a stonewall status file that cannot be parsed is reported, not a hang.

use crate::backend::{AccessMode, AnyBackend, Backend, XferHints};
use crate::comm::Comm;
use crate::mdtest::detail_csv;
use crate::mdtest::names::{self, Kind, Names, Role, Shape, Step, TreeStep};
use crate::mdtest::ops::{CreateWith, ItemOps, DIRMODE};
use crate::mdtest::output::{self, Report};
use crate::mdtest::params::{MdtestParams, Op, Plan};
use crate::mdtest::phase::{self, Recorder, Wall};
use crate::mdtest::results::{MdtestRun, PhaseResult, RankFigures, StonewallFigures, TaskRun};
use crate::mdtest::stats::Measure;
use crate::mdtest::validate::{self, timestamp, MdtestError};
use crate::measure::fsinfo::{fs_line, FsInfo};
use crate::measure::latency::LatencyRecorder;
use crate::measure::machine;
use crate::measure::series::{intervals_for, TaskSeries};
use crate::prng::{GlibcRand, RAND_MAX};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// What rank 0 reports after each completed phase of mdtest: the run so far without the
/// current task count (its header, the task counts completed before), and the current task
/// count holding only the phase just completed (with `-B`, whose phases are gathered at the
/// end of the task count, once per task count with all its phases).
pub type MdtestReport<'a> = dyn Fn(&MdtestRun, &TaskRun) + Sync + 'a;

/// What a rank needs to run mdtest (and md-workbench, whose report `R` is its own).
pub struct Context<'a, R: ?Sized = MdtestReport<'a>> {
    /// Every rank of the job.
    pub comm: &'a dyn Comm,
    /// Rank 0's result stream (`None`: print nothing, e.g. on other ranks).
    pub out: Option<&'a mut (dyn Write + Send)>,
    /// The program as `Command line used:` names it (`benchfs-bench mdtest`).
    pub program: &'a str,
    /// The arguments after it, each printed single-quoted.
    pub args: &'a [String],
    /// Called on rank 0 after each completed phase (the driver's checkpoint of a run that
    /// may be cut short).
    pub completed: Option<&'a R>,
}

/// A run that stopped: the error, and what it measured before.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What stopped the run.
    pub error: MdtestError,
    /// The task counts and phases that completed.
    pub partial: MdtestRun,
}

/// Runs mdtest with `p` on this rank, on the backend `-a` names (built and initialised here).
/// Every rank of `ctx.comm` calls it. Returns the results on every rank.
pub async fn run(ctx: Context<'_>, p: &MdtestParams) -> Result<MdtestRun, Failure> {
    let fail = |error: MdtestError| Failure {
        error,
        partial: MdtestRun::default(),
    };
    let api = crate::backend::canonical_backend_name(p.api_name()).ok_or_else(|| {
        fail(MdtestError::Error {
            message: "Unrecognized I/O API".into(),
            line: 2379,
        })
    })?;
    let mut backend = AnyBackend::new(api, &p.backend_options)
        .map_err(|e| fail(MdtestError::Run(format!("ERROR: {e}"))))?;
    run_on(ctx, p, &mut backend).await
}

/// Runs mdtest with `p` on this rank on `backend` (hints set, parameters checked and the
/// backend initialised and finalised here). Every rank of `ctx.comm` calls it.
pub async fn run_on<B: Backend>(
    ctx: Context<'_>,
    p: &MdtestParams,
    backend: &mut B,
) -> Result<MdtestRun, Failure> {
    let comm = ctx.comm;
    let mut result = MdtestRun::default();
    let outcome = whole_run(ctx, p, backend, &mut result).await;
    match outcome {
        Ok(()) => Ok(result),
        Err(error) => {
            if !matches!(&error, MdtestError::Run(m) if m.contains("aborted")) {
                comm.abort(&error.to_string());
            }
            Err(Failure {
                error,
                partial: result,
            })
        }
    }
}

/// One rank's own figures of one operation of one iteration, before gathering.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RankEntry {
    op: Op,
    iteration: usize,
    figures: RankFigures,
    /// HDR V2 serialization of the operation latencies (empty: none recorded).
    latency: Vec<u8>,
    stonewall: Option<StonewallFigures>,
    /// The rank's phase start (epoch seconds): the origin of `series`.
    #[serde(default)]
    start: f64,
    /// Operations per interval from `start` (gathered on their own, to rank 0).
    #[serde(skip)]
    series: TaskSeries,
}

/// Node layout of the job: nodes, tasks on node 0, whether rank 1 shares rank 0's node, and
/// the node map (1 = same node as rank 0).
fn layout(comm: &dyn Comm) -> (usize, usize, bool, String) {
    let nodes = comm.node_of_ranks();
    let first = nodes.first().copied().unwrap_or(0);
    let mut distinct = nodes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let on0 = nodes.iter().filter(|&&n| n == first).count();
    let block = nodes.get(1).is_none_or(|&n| n == first);
    let map: String = nodes
        .iter()
        .map(|&n| if n == first { '1' } else { '0' })
        .collect();
    (distinct.len().max(1), on0, block, map)
}

fn yes(v: bool) -> &'static str {
    if v {
        "True"
    } else {
        "False"
    }
}

async fn whole_run<B: Backend>(
    ctx: Context<'_>,
    p: &MdtestParams,
    backend: &mut B,
    result: &mut MdtestRun,
) -> Result<(), MdtestError> {
    let world = ctx.comm;
    let rank = world.rank();
    let size = world.size();
    let report = Report::new(ctx.out, rank, p.verbose, p.warning_as_errors != 0);
    let completed = ctx.completed;
    let plan = Plan::of(p);

    // Checked before anything is touched (the driver did it already on the command line).
    let warnings = validate::validate(p, size)?;

    backend.set_hints(XferHints {
        num_tasks: size,
        file_per_proc: p.shared_file == 0,
        rank,
        ..XferHints::default()
    });
    backend.check_params().map_err(validate::backend_invalid)?;
    backend
        .initialize()
        .await
        .map_err(|e| MdtestError::Run(format!("ERROR: {e}")))?;
    result.api_version = backend.version();
    let (num_nodes, on_node0, block_mapping, node_map) = layout(world);
    result.nodes = num_nodes;

    if report.verbose() >= 1 && rank == 0 {
        crate::measure::log::line("V-1: Entering PrintTimestamp...");
    }
    result.started = timestamp();
    report.line(&format!("-- started at {} --\n", result.started))?;
    report.line(&output::launched_line(size, num_nodes))?;
    report.line(&output::command_line(ctx.program, ctx.args))?;
    report.v(
        1,
        -1,
        251,
        &format!("Entering parse_dirpath on {}...", p.dirpath),
    );

    // -R: one seed for all (rank 0's time unless given), plus the rank.
    let mut random_seed = i64::from(p.random_seed);
    if p.randomize > 0 {
        if random_seed == 0 {
            world.barrier()?;
            random_seed = world.bcast_u64(machine::unix_time(), 0)? as i32 as i64;
        }
        random_seed += rank as i64;
    }
    let seed = if p.random_buffer_offset == -1 {
        world.bcast_u64(machine::unix_time(), 0)? as i32
    } else {
        p.random_buffer_offset
    };
    result.random_buffer_offset = i64::from(seed);
    if plan.all_phases_implied {
        report.v(
            1,
            -1,
            1905,
            "main: Setting create/stat/read/remove_only to True",
        );
    }
    report.v(1, -1, 1804, "Entering md_validate_tests...");
    if rank == 0 {
        for w in &warnings {
            crate::measure::log::line(w);
        }
    }
    let paths = p.paths();
    let dump: Vec<(u32, String)> = vec![
        (
            2442,
            format!(
                "api                     : {}",
                p.api.as_deref().unwrap_or("(null)")
            ),
        ),
        (
            2443,
            format!("barriers                : {}", yes(p.no_barriers == 0)),
        ),
        (
            2444,
            format!(
                "collective_creates      : {}",
                yes(p.collective_creates != 0)
            ),
        ),
        (
            2445,
            format!("create_only             : {}", yes(plan.create)),
        ),
        (2446, "dirpath(s):".to_string()),
    ];
    for (l, m) in &dump {
        report.v(1, -1, *l, m);
    }
    for path in &paths {
        report.v(1, -1, 2448, &format!("\t{path}"));
    }
    let (first, last) = validate::task_range(p, size);
    let dump: Vec<(u32, String)> = vec![
        (
            2450,
            format!("dirs_only               : {}", yes(plan.dirs)),
        ),
        (2451, format!("read_bytes              : {}", p.read_bytes)),
        (
            2452,
            format!("read_only               : {}", yes(plan.read)),
        ),
        (2453, format!("first                   : {}", p.first)),
        (
            2454,
            format!("files_only              : {}", yes(plan.files)),
        ),
        (2458, format!("iterations              : {}", p.iterations)),
        (
            2459,
            format!("items_per_dir           : {}", p.items_per_dir),
        ),
        (2460, format!("last                    : {}", p.last)),
        (
            2461,
            format!("leaf_only               : {}", yes(p.leaf_only != 0)),
        ),
        (2462, format!("items                   : {}", p.items)),
        (2463, format!("nstride                 : {}", p.nstride)),
        (2464, format!("pre_delay               : {}", p.pre_delay)),
        // mdtest prints leaf_only here.
        (
            2465,
            format!("remove_only             : {}", yes(p.leaf_only != 0)),
        ),
        (
            2466,
            format!("random_seed             : {}", random_seed as i32),
        ),
        (2467, format!("stride                  : {}", p.stride)),
        (
            2468,
            format!("shared_file             : {}", yes(p.shared_file != 0)),
        ),
        (
            2469,
            format!(
                "time_unique_dir_overhead: {}",
                yes(p.time_unique_dir_overhead != 0)
            ),
        ),
        (
            2470,
            format!("stone_wall_timer_seconds: {}", p.stone_wall_timer_seconds),
        ),
        (
            2471,
            format!("stat_only               : {}", yes(plan.stat)),
        ),
        (
            2472,
            format!(
                "unique_dir_per_task     : {}",
                yes(p.unique_dir_per_task != 0)
            ),
        ),
        (2473, format!("write_bytes             : {}", p.write_bytes)),
        (
            2474,
            format!("sync_file               : {}", yes(p.sync_file != 0)),
        ),
        (
            2475,
            format!("call_sync               : {}", yes(p.call_sync != 0)),
        ),
        (2476, format!("depth                   : {}", p.depth)),
        (2477, format!("make_node               : {}", p.make_node)),
    ];
    for (l, m) in &dump {
        report.v(1, -1, *l, m);
    }
    report.line(&format!("Nodemap: {node_map}"))?;

    let ptype = p.packet_type().unwrap_or_default();
    // The test directory of this rank.
    let testdirpath = match paths.get(rank % paths.len().max(1)) {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| ".".to_string()),
    };
    let path_count = paths.len().max(1);
    let mut created_root = false;
    if rank < path_count && !exists(backend, &testdirpath).await? {
        if let Err(e) = backend.mkdir(&testdirpath, DIRMODE).await {
            report.warn(
                2578,
                &format!("Unable to create test directory path {testdirpath}: {e}"),
            )?;
        }
        created_root = true;
    }
    world.barrier()?;
    result.path = testdirpath.clone();
    if rank == 0 {
        match backend.statfs(&testdirpath).await {
            Ok(s) => {
                let fs = FsInfo::from_statfs(&s);
                report.line(&format!("{:<20}: {}", "Path", testdirpath))?;
                report.line(&format!("{:<20}: {}", "FS", fs_line(&fs)))?;
                result.fs = Some(fs);
            }
            Err(_) => report.warn(0, "Backend returned error during statfs")?,
        }
        // Beyond mdtest: said only when it changes what is measured.
        if p.iodepth > 1 {
            report.line(&format!(
                "{:<20}: {} operations of a task in flight",
                "Iodepth", p.iodepth
            ))?;
        }
    }
    let mut nstride = p.nstride.max(0) as usize;
    if nstride > 0 {
        if num_nodes > 1 && block_mapping {
            nstride *= on_node0;
        }
        report.v(
            0,
            5,
            2594,
            &format!("Shifting ranks by {nstride} for each phase."),
        );
    }
    if random_seed > 0 {
        result.random_seed = random_seed - if p.randomize > 0 { rank as i64 } else { 0 };
        report.line(&format!("random seed: {}", random_seed as i32))?;
    }
    if let Some(csv) = &p.save_rank_details {
        if rank == 0 {
            detail_csv::write_rank_header(csv)?;
        }
    }

    let mut stride_i = first;
    while stride_i <= last {
        let tasks = stride_i as usize;
        stride_i += i64::from(p.stride.max(1));
        let sub = world.split_first(tasks)?;
        let Some(comm) = sub else {
            world.barrier()?;
            continue;
        };
        let comm: &dyn Comm = comm.as_ref();
        if let Some(line) = plan.tasks_line(p, tasks) {
            report.line(&line)?;
        }
        report.v(1, -1, 2677, "");
        report.v(
            1,
            -1,
            2678,
            "   Operation               Duration              Rate",
        );
        report.v(
            1,
            -1,
            2679,
            "   ---------               --------              ----",
        );
        let names = Names {
            rank,
            tasks,
            nstride,
            unique: p.unique_dir_per_task != 0,
            shared: p.shared_file != 0,
        };
        let (entries, gathered, iterations_done, items_per_rank, verification, err) = {
            let ops = ItemOps::new(&*backend, &report, rank, tasks, p, nstride, seed, ptype);
            let so_far: &MdtestRun = &*result;
            let mut t = TaskTest {
                comm,
                p,
                plan: plan.clone(),
                names,
                ops: &ops,
                testdirpath: &testdirpath,
                path_count,
                random_seed,
                items: plan.items,
                ipd_now: plan.items_per_dir,
                rand: None,
                entries: Vec::new(),
                gathered: Vec::new(),
                completed: completed.map(|f| (f, so_far)),
                latency: LatencyRecorder::new(),
            };
            let mut done = 0;
            let mut err = None;
            for j in 0..p.iterations.max(1) as usize {
                if let Err(e) = t.iteration(j).await {
                    err = Some(e);
                    break;
                }
                done += 1;
            }
            let items = t.items;
            let entries = std::mem::take(&mut t.entries);
            let gathered = t.barriers().then(|| std::mem::take(&mut t.gathered));
            (
                entries,
                gathered,
                done,
                items,
                ops.verification_errors.get(),
                err,
            )
        };
        if let Some(e) = err {
            // Keep what completed; the other ranks learn of the error from the abort.
            result
                .runs
                .push(local_run(tasks, iterations_done, items_per_rank, entries));
            return Err(e);
        }
        // With barriers every phase was gathered (and reported) when it ended; with -B now.
        let reported = gathered.is_some();
        let run = match gathered {
            Some(phases) => TaskRun {
                tasks,
                iterations: iterations_done,
                items_per_rank,
                phases,
                verification_errors: 0,
            },
            None => gather(
                comm,
                tasks,
                iterations_done,
                items_per_rank,
                entries,
                p.interval,
            )?,
        };
        let total_errors = comm.allreduce_i64(verification as i64, crate::comm::ReduceOp::Sum)?;
        let mut run = run;
        run.verification_errors = total_errors.max(0) as u64;
        if rank == 0 {
            let per_rank = p.show_perrank_statistics != 0;
            let mut measures = vec![];
            if p.print_rate_and_time != 0 {
                measures.push(Measure::Rate);
                measures.push(Measure::Time);
            } else if p.print_time != 0 {
                measures.push(Measure::Time);
            } else {
                measures.push(Measure::Rate);
            }
            for m in measures {
                if p.print_all_procs != 0 {
                    report.text(&output::per_process(&run, plan.dirs, plan.files, m))?;
                }
                report.text(&output::summary_table(
                    &run, plan.dirs, plan.files, m, per_rank,
                ))?;
            }
            if let Some(csv) = &p.save_rank_details {
                if let Err(e) = detail_csv::append_rank_details(csv, &run, p.items) {
                    report.warn(
                        1504,
                        &format!("Couln't append to saveRankPerformanceDetailsCSV file: {e}"),
                    )?;
                }
            }
            if total_errors > 0 {
                // mdtest's VERBOSE(0, ...): on the result stream, between blank lines.
                report.line(&format!(
                    "\nERROR: verifying the data on read ({total_errors} errors)! Take the performance values with care!\n"
                ))?;
            }
        }
        if let (Some(report), false, 0) = (completed, reported, rank) {
            report(result, &run);
        }
        result.runs.push(run);
        world.barrier()?;
    }

    if created_root && plan.remove {
        if let Err(e) = backend.rmdir(&testdirpath).await {
            return Err(MdtestError::failed(
                rank,
                "mdtest_run",
                format!("Unable to remove test directory path {testdirpath}: {e}"),
            ));
        }
    }
    if report.verbose() >= 1 && rank == 0 {
        crate::measure::log::line("V-1: Entering PrintTimestamp...");
    }
    result.finished = timestamp();
    report.line(&format!("-- finished at {} --\n", result.finished))?;
    backend
        .finalize()
        .await
        .map_err(|e| MdtestError::Run(format!("ERROR: {e}")))?;
    Ok(())
}

async fn exists<B: Backend>(b: &B, path: &str) -> Result<bool, MdtestError> {
    b.access(path, AccessMode::Exists)
        .await
        .map_err(|e| MdtestError::Run(format!("ERROR: {e}")))
}

/// This rank's own entries as a run (after an error, when no gathering is possible).
fn local_run(tasks: usize, iterations: usize, items: u64, entries: Vec<RankEntry>) -> TaskRun {
    let phases = entries
        .into_iter()
        .filter(|e| e.iteration < iterations)
        .map(|e| {
            let lat = LatencyRecorder::merge_serialized(&[e.latency]).unwrap_or_default();
            PhaseResult::reduce(e.op, e.iteration, vec![e.figures], lat, e.stonewall)
        })
        .collect();
    TaskRun {
        tasks,
        iterations,
        items_per_rank: items,
        phases,
        verification_errors: 0,
    }
}

/// Every rank's entries onto every rank, reduced per operation and iteration.
fn gather(
    comm: &dyn Comm,
    tasks: usize,
    iterations: usize,
    items: u64,
    entries: Vec<RankEntry>,
    interval: f64,
) -> Result<TaskRun, MdtestError> {
    let bytes = serde_json::to_vec(&entries)
        .map_err(|e| MdtestError::Run(format!("cannot encode results: {e}")))?;
    let all = comm.allgather_bytes(&bytes)?;
    let mut per_rank: Vec<Vec<RankEntry>> = Vec::with_capacity(all.len());
    for (r, b) in all.iter().enumerate() {
        per_rank
            .push(serde_json::from_slice(b).map_err(|e| {
                MdtestError::Run(format!("cannot decode results of rank {r}: {e}"))
            })?);
    }
    let mut phases = Vec::new();
    for e0 in &per_rank[0] {
        let mut figures = Vec::with_capacity(per_rank.len());
        let mut hists = Vec::with_capacity(per_rank.len());
        for (r, entries) in per_rank.iter().enumerate() {
            let e = entries
                .iter()
                .find(|e| e.op == e0.op && e.iteration == e0.iteration)
                .ok_or_else(|| {
                    MdtestError::Run(format!(
                        "rank {r} has no figures of {} in iteration {}",
                        e0.op.name(),
                        e0.iteration
                    ))
                })?;
            let mut f = e.figures.clone();
            f.rank = r;
            figures.push(f);
            if !e.latency.is_empty() {
                hists.push(e.latency.clone());
            }
        }
        let latency = LatencyRecorder::merge_serialized(&hists)
            .map_err(|e| MdtestError::Run(e.to_string()))?;
        let mut phase =
            PhaseResult::reduce(e0.op, e0.iteration, figures, latency, e0.stonewall.clone());
        if !e0.op.is_tree() {
            phase.time_series = gather_series(comm, &per_rank, &entries, e0, interval)?;
        }
        phases.push(phase);
    }
    Ok(TaskRun {
        tasks,
        iterations,
        items_per_rank: items,
        phases,
        verification_errors: 0,
    })
}

/// Collective: this rank's series of the phase of `e0` (in `mine`) on the phase's common grid
/// (t = 0 at the earliest rank's start, to the latest rank's end), gathered on rank 0.
fn gather_series(
    comm: &dyn Comm,
    all: &[Vec<RankEntry>],
    mine: &[RankEntry],
    e0: &RankEntry,
    interval: f64,
) -> Result<Option<crate::measure::series::TimeSeries>, MdtestError> {
    let same = |e: &&RankEntry| e.op == e0.op && e.iteration == e0.iteration;
    let of_ranks: Vec<&RankEntry> = all.iter().filter_map(|es| es.iter().find(same)).collect();
    let origin = of_ranks
        .iter()
        .map(|e| e.start)
        .fold(f64::INFINITY, f64::min);
    let end = of_ranks
        .iter()
        .map(|e| e.start + e.figures.time)
        .fold(f64::NEG_INFINITY, f64::max);
    let len = intervals_for(end - origin, interval);
    let me = mine.iter().find(same);
    let empty = TaskSeries::default();
    let series = me.map_or(&empty, |e| &e.series);
    let shift = me.map_or(0.0, |e| e.start - origin);
    Ok(crate::ior::series::gather_aligned(
        comm,
        series,
        shift,
        interval,
        len,
        crate::ior::series::PerRank::BytesIfMoved,
    )?)
}

/// One task count's test on one rank.
struct TaskTest<'a, 'r, B: Backend> {
    comm: &'a dyn Comm,
    p: &'a MdtestParams,
    plan: Plan,
    names: Names,
    ops: &'a ItemOps<'a, 'r, B>,
    testdirpath: &'a str,
    path_count: usize,
    random_seed: i64,
    /// Items per rank now (mdtest's `o.items`: a stonewall or a status file changes it).
    items: u64,
    /// Items per directory the create and remove loops go to now (mdtest's
    /// `progress->items_per_dir`: a stonewall or a status file changes it).
    ipd_now: u64,
    /// The random order of `-R` for the current item count.
    rand: Option<(u64, Vec<u64>)>,
    entries: Vec<RankEntry>,
    /// With barriers: every completed phase of this task count, gathered over the ranks
    /// when it ended.
    gathered: Vec<PhaseResult>,
    /// Rank 0's report of each completed phase, with the task counts completed before.
    completed: Option<(&'a MdtestReport<'a>, &'a MdtestRun)>,
    latency: LatencyRecorder,
}

/// The timers of one phase of one rank.
struct Timers {
    start: f64,
    end_before_barrier: f64,
    end: f64,
}

impl<'a, 'r, B: Backend> TaskTest<'a, 'r, B> {
    fn rank(&self) -> usize {
        self.names.rank
    }

    fn report(&self) -> &'a Report<'r> {
        self.ops.report
    }

    fn backend(&self) -> &B {
        self.ops.backend
    }

    fn shape(&self) -> Shape {
        Shape {
            depth: self.p.depth.max(0) as u32,
            branch: self.p.branch_factor.max(0) as u64,
            items_per_dir: self.plan.items_per_dir,
            leaf_only: self.p.leaf_only != 0,
        }
    }

    fn depth(&self) -> usize {
        self.p.iodepth.max(1) as usize
    }

    fn barriers(&self) -> bool {
        self.p.no_barriers == 0
    }

    fn testdir(&self, j: usize, dir_iter: u64) -> String {
        names::test_dir(self.testdirpath, j, dir_iter)
    }

    /// The items a stat, read or rename phase goes over in one test directory.
    fn stop_items(&self) -> u64 {
        if self.plan.directory_loops != 1 {
            self.plan.items_per_dir
        } else {
            self.items
        }
    }

    /// The `-R` order of `n` items (srand(seed); Fisher-Yates with rand(), as mdtest).
    fn random_order(&mut self, n: u64) -> Option<&[u64]> {
        if self.random_seed <= 0 {
            return None;
        }
        if self.rand.as_ref().is_none_or(|(k, _)| *k != n) {
            let mut g = GlibcRand::new(self.random_seed as i32 as u32);
            let mut a: Vec<u64> = (0..n).collect();
            let mut m = n;
            while m > 1 {
                m -= 1;
                let k = ((f64::from(g.next_rand()) / f64::from(RAND_MAX)) * m as f64) as u64;
                a.swap(k.min(m) as usize, m as usize);
            }
            self.rand = Some((n, a));
        }
        self.rand.as_ref().map(|(_, a)| a.as_slice())
    }

    async fn command(&self, cmd: &str, line: u32, what: &str) {
        if cmd.is_empty() {
            return;
        }
        self.report()
            .v(0, 5, line, &format!("calling {what}: \"{cmd}\""));
        match std::process::Command::new("sh").arg("-c").arg(cmd).status() {
            Ok(s) if s.success() => {}
            Ok(s) => crate::measure::log::warn(&format!("{what} \"{cmd}\" exited with {s}")),
            Err(e) => crate::measure::log::warn(&format!("cannot run {what} \"{cmd}\": {e}")),
        }
    }

    /// `phase_prepare`: the prologue, then the barrier (unless `-B`).
    async fn prepare(&self) -> Result<(), MdtestError> {
        self.command(&self.p.prologue, 285, "prologue").await;
        if self.barriers() {
            self.comm.barrier()?;
        }
        Ok(())
    }

    /// `phase_end`: `-Y` sync, the epilogue, then the barrier (unless `-B`).
    async fn end(&self) -> Result<(), MdtestError> {
        if self.p.call_sync != 0 {
            self.backend().sync().await.map_err(|e| {
                MdtestError::Run(format!("ERROR: sync after the phase failed: {e}"))
            })?;
        }
        self.command(&self.p.epilogue, 301, "epilogue").await;
        if self.barriers() {
            self.comm.barrier()?;
        }
        Ok(())
    }

    /// The directory a phase works in for test directory `testdir` (`unique_dir_access` with
    /// `-u`, which waits for every rank before a create phase).
    fn phase_path(&self, testdir: &str, role: Role, create: bool) -> Result<String, MdtestError> {
        if self.names.unique {
            if create {
                self.comm.barrier()?;
            }
            let to = format!("{testdir}/{}", self.names.phase_dir(role));
            self.report().v(
                1,
                -1,
                328,
                &format!("Entering unique_dir_access, set it to {to}"),
            );
            Ok(to)
        } else {
            Ok(format!("{testdir}/{}", self.names.phase_dir(role)))
        }
    }

    fn record(
        &mut self,
        op: Op,
        j: usize,
        t: &Timers,
        mut rec: Recorder,
        stonewall: Option<StonewallFigures>,
    ) -> Result<(), MdtestError> {
        let series = rec.series();
        let items = self.items;
        let time = t.end - t.start;
        let before = t.end_before_barrier - t.start;
        let rate = |d: f64| {
            if items == 0 || d <= 0.0 {
                0.0
            } else {
                items as f64 / d
            }
        };
        let latency = if rec.latency.is_empty() {
            Vec::new()
        } else {
            rec.latency.serialize()
        };
        self.entries.push(RankEntry {
            op,
            iteration: j,
            figures: RankFigures {
                rank: self.rank(),
                items,
                time,
                time_before_barrier: before,
                rate: rate(time),
                rate_before_barrier: rate(before),
                errors: rec.errors,
            },
            latency,
            stonewall,
            start: t.start,
            series,
        });
        let mut lat = rec.latency;
        lat.reset();
        self.latency = lat;
        self.publish()
    }

    /// After the phase just recorded, with barriers (the phase ended with one, so this adds
    /// no wait): every rank's figures of it gathered and reduced at once, and rank 0's
    /// report of the results so far. With `-B` the ranks do not wait for each other between
    /// phases, so their figures are gathered at the end of the task count instead.
    fn publish(&mut self) -> Result<(), MdtestError> {
        if !self.barriers() {
            return Ok(());
        }
        let Some(last) = self.entries.last().cloned() else {
            return Ok(());
        };
        let iteration = last.iteration;
        let one = gather(
            self.comm,
            self.names.tasks,
            iteration,
            self.items,
            vec![last],
            self.p.interval,
        )?;
        if let (Some((report, before)), 0) = (self.completed, self.rank()) {
            report(before, &one);
        }
        self.gathered.extend(one.phases);
        Ok(())
    }

    fn recorder(&mut self, op: Op) -> Recorder {
        let lat = std::mem::take(&mut self.latency);
        let samples = self.p.save_per_op.is_some()
            && matches!(
                op,
                Op::FileCreate | Op::FileStat | Op::FileRead | Op::FileRemove
            );
        let bytes = match op {
            Op::FileCreate => self.p.write_bytes,
            Op::FileRead => self.p.read_bytes,
            _ => 0,
        };
        let interval = std::time::Duration::from_secs_f64(self.p.interval);
        Recorder::new(lat, samples, interval, bytes)
    }

    fn figure(&self, op: Op, j: usize) -> (f64, f64) {
        self.entries
            .iter()
            .find(|e| e.op == op && e.iteration == j)
            .map_or((0.0, 0.0), |e| (e.figures.time, e.figures.rate))
    }

    /// `mdtest_iteration`.
    async fn iteration(&mut self, j: usize) -> Result<(), MdtestError> {
        self.items = self.plan.items;
        self.ipd_now = self.plan.items_per_dir;
        let rank = self.rank();
        let loops = self.plan.directory_loops;
        self.report()
            .v(1, -1, 2063, &format!("main: * iteration {} *", j + 1));
        if self.plan.create {
            for d in 0..loops {
                if rank >= self.path_count {
                    continue;
                }
                let testdir = self.testdir(j, d);
                self.report().v(
                    2,
                    5,
                    2072,
                    &format!("main (for j loop): making o.testdir, '{testdir}'"),
                );
                if !exists(self.backend(), &testdir).await? {
                    if let Err(e) = self.backend().mkdir(&testdir, DIRMODE).await {
                        self.report().warn(
                            2075,
                            &format!("Unable to create test directory {testdir}: {e}"),
                        )?;
                    }
                }
            }
            self.comm.barrier()?;
            let start = machine::now();
            for d in 0..loops {
                let testdir = self.testdir(j, d);
                self.tree_for_ranks(&testdir, true).await?;
            }
            self.comm.barrier()?;
            let end = machine::now();
            self.record_tree(Op::TreeCreate, j, start, end)?;
            let (t, r) = self.figure(Op::TreeCreate, j);
            self.report().v(
                1,
                -1,
                2139,
                &format!("V-1: main:   Tree creation     : {t:14.3} sec, {r:14.3} ops/sec"),
            );
        }
        if self.plan.dirs && self.p.shared_file == 0 {
            self.pre_delay().await;
            self.directory_test(j).await?;
        }
        if self.plan.files {
            self.pre_delay().await;
            self.file_test(j).await?;
        }
        self.comm.barrier()?;
        if self.plan.remove {
            let start = machine::now();
            for d in 0..loops {
                let testdir = self.testdir(j, d);
                self.tree_for_ranks(&testdir, false).await?;
            }
            self.comm.barrier()?;
            let end = machine::now();
            self.record_tree(Op::TreeRemove, j, start, end)?;
            let (t, r) = self.figure(Op::TreeRemove, j);
            self.report().v(
                1,
                -1,
                2249,
                &format!("main   Tree removal      : {t:14.3} sec, {r:14.3} ops/sec"),
            );
            for d in 0..loops {
                let testdir = self.testdir(j, d);
                if d == 0 {
                    self.report().v(
                        2,
                        -1,
                        2250,
                        &format!(
                            "main (at end of for j loop): Removing o.testdir of '{testdir}'\n"
                        ),
                    );
                }
                if rank < self.path_count && exists(self.backend(), &testdir).await? {
                    if let Err(e) = self.backend().rmdir(&testdir).await {
                        self.report()
                            .warn(2257, &format!("unable to remove directory {testdir}: {e}"))?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn pre_delay(&self) {
        if self.p.pre_delay > 0 && self.rank() == 0 {
            if self.report().verbose() >= 1 {
                crate::measure::log::line(&format!("delaying {} seconds . . .", self.p.pre_delay));
            }
            tokio::time::sleep(std::time::Duration::from_secs(self.p.pre_delay as u64)).await;
        }
    }

    fn record_tree(&mut self, op: Op, j: usize, start: f64, end: f64) -> Result<(), MdtestError> {
        let n = self.plan.num_dirs_in_tree;
        let time = end - start;
        self.entries.push(RankEntry {
            op,
            iteration: j,
            figures: RankFigures {
                rank: self.rank(),
                items: n,
                time,
                time_before_barrier: 0.0,
                rate: if time > 0.0 { n as f64 / time } else { 0.0 },
                rate_before_barrier: 0.0,
                errors: 0,
            },
            latency: Vec::new(),
            stonewall: None,
            start,
            series: TaskSeries::default(),
        });
        self.publish()
    }

    /// The trees of a test directory: every rank its own with `-u` (rank 0 all of them with
    /// `-c`), else rank 0 the shared one.
    async fn tree_for_ranks(&self, testdir: &str, create: bool) -> Result<(), MdtestError> {
        let rank = self.rank();
        if self.names.unique {
            if self.p.collective_creates != 0 {
                if rank == 0 {
                    for k in 0..self.names.tasks {
                        self.tree(testdir, &format!("mdtest_tree.{k}"), create)
                            .await?;
                    }
                }
            } else {
                self.tree(testdir, &self.names.base_tree_name(), create)
                    .await?;
            }
        } else if rank == 0 {
            self.tree(testdir, "mdtest_tree", create).await?;
        }
        Ok(())
    }

    /// `create_remove_directory_tree` of the tree `base` in `testdir`.
    async fn tree(&self, testdir: &str, base: &str, create: bool) -> Result<(), MdtestError> {
        for step in names::tree_walk(self.shape(), base, testdir, create) {
            match step {
                TreeStep::Trace(l, m) => self.report().v(1, 5, l, &m),
                TreeStep::Dir(dir, top) => {
                    if create {
                        self.report().v(
                            2,
                            5,
                            if top { 1995 } else { 2029 },
                            &format!("Making directory '{dir}'"),
                        );
                        if let Err(e) = self.backend().mkdir(&dir, DIRMODE).await {
                            let msg = if top {
                                format!("unable to create tree directory '{dir}': {e}")
                            } else {
                                format!("Unable to create directory {dir}: {e}")
                            };
                            self.report().warn(if top { 1997 } else { 2031 }, &msg)?;
                        }
                    } else {
                        self.report().v(
                            2,
                            5,
                            if top { 2013 } else { 2040 },
                            &format!("Remove directory '{dir}'"),
                        );
                        if let Err(e) = self.backend().rmdir(&dir).await {
                            self.report().warn(
                                if top { 2015 } else { 2042 },
                                &format!("Unable to remove directory {dir}: {e}"),
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The items of `create_remove_items` below `path` (for the names of `names`, tree base
    /// `base`): create or remove, directories or files. Returns how many were done.
    #[allow(clippy::too_many_arguments)]
    async fn walk_items(
        &self,
        rec: &mut Recorder,
        wall: Wall,
        path: &str,
        base: &str,
        names: &Names,
        kind: Kind,
        create: bool,
        collective: bool,
        from: u64,
        to: u64,
    ) -> Result<u64, MdtestError> {
        let helper = if collective {
            "collective_helper"
        } else {
            "create_remove_items_helper"
        };
        let mut dirs = Vec::new();
        for step in names::item_walk(self.shape(), base, path, helper) {
            match step {
                Step::Trace(l, m) => self.report().v(1, -1, l, &m),
                Step::Items { dir, first } => dirs.push((dir, first)),
            }
        }
        let per_dir = to.saturating_sub(from);
        if per_dir == 0 || dirs.is_empty() {
            return Ok(0);
        }
        let prefix = names.item_prefix(if create { Role::Make } else { Role::Remove });
        let total = per_dir * dirs.len() as u64;
        let how = if self.p.make_node != 0 {
            CreateWith::Mknod
        } else if self.p.collective_creates != 0 && !collective {
            CreateWith::Open
        } else {
            CreateWith::Create
        };
        let ops = self.ops;
        let dirs = &dirs;
        let prefix = &prefix;
        phase::for_each(0..total, self.depth(), wall, rec, move |k| {
            let (dir, first) = &dirs[(k / per_dir) as usize];
            let num = first + from + k % per_dir;
            let item = names::item_in(dir, kind, prefix, num);
            async move {
                match (kind, create) {
                    (Kind::Dir, true) => ops.mkdir(item).await,
                    (Kind::Dir, false) => ops.rmdir(item).await,
                    (Kind::File, true) if collective => ops.create_for_other(item).await,
                    (Kind::File, true) => ops.create_file(item, num, how).await,
                    (Kind::File, false) => ops.remove_file(item, collective).await,
                }
            }
        })
        .await
    }

    /// `collective_create_remove`: rank 0 creates or removes the items of every rank.
    async fn collective(
        &self,
        rec: &mut Recorder,
        testdir: &str,
        path: &str,
        kind: Kind,
        create: bool,
    ) -> Result<(), MdtestError> {
        self.report().v(
            1,
            -1,
            785,
            &format!("Entering collective_create_remove on {path}"),
        );
        for k in 0..self.names.tasks {
            let n = Names {
                rank: k,
                ..self.names.clone()
            };
            let base = n.base_tree_name();
            let dir = format!("{testdir}/{base}.0");
            let to = self.plan.items_per_dir;
            self.walk_items(
                rec,
                Wall::none(),
                &dir,
                &base,
                &n,
                kind,
                create,
                true,
                0,
                to,
            )
            .await?;
        }
        Ok(())
    }

    /// The create phase of `kind` with the stonewall (`file_test_create` and the directory
    /// create of `directory_test`). Returns the stonewall figures when `-W` is set.
    async fn create_phase(
        &mut self,
        j: usize,
        kind: Kind,
        rec: &mut Recorder,
        t_start: &mut f64,
    ) -> Result<Option<StonewallFigures>, MdtestError> {
        let wall_start = phase::now();
        let wall = Wall::after(wall_start, self.p.stone_wall_timer_seconds);
        let base = self.names.base_tree_name();
        let names = self.names.clone();
        let mut stonewall = None;
        for d in 0..self.plan.directory_loops {
            let testdir = self.testdir(j, d);
            let path = self.phase_path(&testdir, Role::Make, true)?;
            if self.names.unique && self.p.time_unique_dir_overhead == 0 {
                *t_start = machine::now();
            }
            if self.p.collective_creates != 0 {
                if self.rank() == 0 {
                    self.collective(rec, &testdir, &path, kind, true).await?;
                }
                if kind == Kind::Dir {
                    continue;
                }
                self.comm.barrier()?;
            }
            let ipd = self.plan.items_per_dir;
            let done = self
                .walk_items(rec, wall, &path, &base, &names, kind, true, false, 0, ipd)
                .await?;
            if self.p.stone_wall_timer_seconds > 0 {
                let items_done = done + d * ipd;
                self.report().v(
                    1,
                    1,
                    1136,
                    &format!("stonewall hit with {items_done} items"),
                );
                let all = self.comm.allgather_i64(items_done as i64)?;
                let max = all.iter().copied().max().unwrap_or(0).max(0) as u64;
                let min = all.iter().copied().min().unwrap_or(0).max(0) as u64;
                let sum: u64 = all.iter().map(|&v| v.max(0) as u64).sum();
                let tasks = self.names.tasks as u64;
                let hit = self.items != sum / tasks.max(1);
                let time = machine::now() - *t_start;
                if hit {
                    let avg = sum as f64 / tasks as f64;
                    self.report().line(&format!(
                        "Continue stonewall hit min: {min} max: {max} avg: {avg:.1} \n"
                    ))?;
                    self.report()
                        .v(1, 1, 1224, &format!("stonewall: {items_done} of {max}"));
                    self.walk_items(
                        rec,
                        Wall::none(),
                        &path,
                        &base,
                        &names,
                        kind,
                        true,
                        false,
                        items_done,
                        max,
                    )
                    .await?;
                    self.items = max;
                }
                self.ipd_now = max;
                stonewall = Some(StonewallFigures {
                    time,
                    items_min: min,
                    items_max: max,
                    items_sum: sum,
                    hit,
                });
                if kind == Kind::File {
                    if let (Some(f), 0) = (&self.p.stonewall_status_file, self.rank()) {
                        std::fs::write(f, max.to_string()).map_err(|e| {
                            MdtestError::failed(
                                0,
                                "StoreStoneWallingIterations",
                                format!("Cannot write to the stonewalling file! ({f}: {e})"),
                            )
                        })?;
                    }
                }
                break;
            }
        }
        Ok(stonewall)
    }

    /// `directory_test`.
    async fn directory_test(&mut self, j: usize) -> Result<(), MdtestError> {
        self.comm.barrier()?;
        let mk = self.names.phase_dir(Role::Make);
        self.report()
            .v(1, -1, 957, &format!("Entering directory_test on {mk}"));
        if self.plan.create {
            self.prepare().await?;
            let mut rec = self.recorder(Op::DirCreate);
            let mut start = machine::now();
            rec.restart();
            let sw = self
                .create_phase(j, Kind::Dir, &mut rec, &mut start)
                .await?;
            let t = self.finish(start).await?;
            self.record(Op::DirCreate, j, &t, rec, sw)?;
        }
        if self.plan.stat {
            self.look_phase(j, Op::DirStat).await?;
        }
        if self.plan.read {
            self.prepare().await?;
            let rec = self.recorder(Op::DirRead);
            let mut start = machine::now();
            for d in 0..self.plan.directory_loops {
                let testdir = self.testdir(j, d);
                self.phase_path(&testdir, Role::Read, false)?;
                if self.names.unique && self.p.time_unique_dir_overhead == 0 {
                    start = machine::now();
                }
            }
            let t = self.finish(start).await?;
            self.record(Op::DirRead, j, &t, rec, None)?;
        }
        if self.plan.rename && self.items > 1 {
            self.look_phase(j, Op::DirRename).await?;
        }
        if self.plan.remove {
            self.remove_phase(j, Kind::Dir).await?;
            let testdir = self.testdir(j, 0);
            if self.names.unique {
                self.report().v(
                    1,
                    -1,
                    328,
                    &format!("Entering unique_dir_access, set it to {testdir}/"),
                );
            }
        }
        for (op, label, line) in [
            (Op::DirCreate, "   Directory creation", 1125),
            (Op::DirStat, "   Directory stat    ", 1126),
            (Op::DirRename, "   Directory rename ", 1127),
            (Op::DirRemove, "   Directory removal ", 1128),
        ] {
            let (t, r) = self.figure(op, j);
            self.report()
                .v(1, -1, line, &output::verbose_op_line(label, t, r));
        }
        Ok(())
    }

    /// The end of a timed phase: timers around `phase_end`.
    async fn finish(&self, start: f64) -> Result<Timers, MdtestError> {
        let end_before_barrier = machine::now();
        self.end().await?;
        Ok(Timers {
            start,
            end_before_barrier,
            end: machine::now(),
        })
    }

    /// A stat, read or rename phase over the items (`mdtest_stat`, `mdtest_read`,
    /// `rename_dir_test`).
    async fn look_phase(&mut self, j: usize, op: Op) -> Result<(), MdtestError> {
        self.prepare().await?;
        let mut rec = self.recorder(op);
        let mut start = machine::now();
        rec.restart();
        let (kind, role) = match op {
            Op::DirStat | Op::DirRename => (Kind::Dir, Role::Stat),
            Op::FileStat => (Kind::File, Role::Stat),
            _ => (Kind::File, Role::Read),
        };
        for d in 0..self.plan.directory_loops {
            let testdir = self.testdir(j, d);
            let path = self.phase_path(&testdir, role, false)?;
            if self.names.unique && self.p.time_unique_dir_overhead == 0 {
                start = machine::now();
            }
            let (line, what) = match op {
                Op::FileRead => (666, "mdtest_read"),
                Op::DirRename => (870, "mdtest_rename"),
                _ => (582, "mdtest_stat"),
            };
            self.report()
                .v(1, -1, line, &format!("Entering {what} on {path}"));
            let n = self.stop_items();
            if op == Op::DirRename && n == 1 {
                continue;
            }
            let order: Option<Vec<u64>> = if op == Op::DirRename {
                None
            } else {
                self.random_order(n).map(<[u64]>::to_vec)
            };
            let leaf = self.plan.leaf_offset(self.p);
            let base = self.names.base_tree_name();
            let prefix = self.names.item_prefix(role);
            let shape = self.shape();
            let ops = self.ops;
            let num_of = |i: u64| order.as_ref().map_or(i, |o| o[i as usize]) + leaf;
            let path_of = |num: u64| names::item_path(&path, &base, shape, kind, &prefix, num);
            if op == Op::DirRename {
                // Each rename frees the name the next one takes: in order, one at a time.
                let mut first_name = String::new();
                let mut last = String::new();
                phase::for_each(0..n, 1, Wall::none(), &mut rec, |i| {
                    let mut item = path_of(num_of(i));
                    if i == 0 {
                        first_name = format!("{item}-XX");
                        last = first_name.clone();
                    } else if i == n - 1 {
                        item = first_name.clone();
                    }
                    let to = std::mem::replace(&mut last, item.clone());
                    ops.rename(item, to, true)
                })
                .await?;
            } else {
                let depth = self.depth();
                phase::for_each(0..n, depth, Wall::none(), &mut rec, |i| {
                    let num = num_of(i);
                    let item = path_of(num);
                    async move {
                        match op {
                            Op::FileRead => ops.read_file(item, num).await,
                            _ => ops.stat(item, kind == Kind::Dir).await,
                        }
                    }
                })
                .await?;
            }
        }
        let t = self.finish(start).await?;
        self.save_per_op(op, &rec)?;
        self.record(op, j, &t, rec, None)?;
        Ok(())
    }

    /// The remove phase of `kind`.
    async fn remove_phase(&mut self, j: usize, kind: Kind) -> Result<(), MdtestError> {
        let op = if kind == Kind::Dir {
            Op::DirRemove
        } else {
            Op::FileRemove
        };
        self.prepare().await?;
        let mut rec = self.recorder(op);
        let mut start = machine::now();
        rec.restart();
        let base = self.names.base_tree_name();
        let names = self.names.clone();
        // What the create phase reached (all of `-n`, or the stonewalled count).
        let to = self.ipd_now;
        for d in 0..self.plan.directory_loops {
            let testdir = self.testdir(j, d);
            let path = self.phase_path(&testdir, Role::Remove, false)?;
            if self.names.unique && self.p.time_unique_dir_overhead == 0 {
                start = machine::now();
            }
            if self.p.collective_creates != 0 {
                if self.rank() == 0 {
                    self.collective(&mut rec, &testdir, &path, kind, false)
                        .await?;
                }
            } else {
                self.walk_items(
                    &mut rec,
                    Wall::none(),
                    &path,
                    &base,
                    &names,
                    kind,
                    false,
                    false,
                    0,
                    to,
                )
                .await?;
            }
        }
        let t = self.finish(start).await?;
        self.save_per_op(op, &rec)?;
        self.record(op, j, &t, rec, None)?;
        Ok(())
    }

    fn save_per_op(&self, op: Op, rec: &Recorder) -> Result<(), MdtestError> {
        if let (Some(prefix), Some(samples)) = (&self.p.save_per_op, &rec.samples) {
            let size = match op {
                Op::FileCreate | Op::FileRemove if self.p.write_bytes > 0 => self.p.write_bytes,
                Op::FileRead if self.p.read_bytes > 0 => self.p.read_bytes,
                _ => 1,
            };
            detail_csv::write_per_op(prefix, op, self.rank(), size, samples)?;
        }
        Ok(())
    }

    /// `file_test`.
    async fn file_test(&mut self, j: usize) -> Result<(), MdtestError> {
        self.comm.barrier()?;
        let mk = self.names.phase_dir(Role::Make);
        self.report()
            .v(3, 5, 1249, &format!("Entering file_test on {mk}"));
        if self.plan.create {
            self.prepare().await?;
            let mut rec = self.recorder(Op::FileCreate);
            let mut start = machine::now();
            rec.restart();
            let sw = self
                .create_phase(j, Kind::File, &mut rec, &mut start)
                .await?;
            let t = self.finish(start).await?;
            self.save_per_op(Op::FileCreate, &rec)?;
            self.record(Op::FileCreate, j, &t, rec, sw)?;
        } else if let Some(f) = &self.p.stonewall_status_file {
            // The item count of an earlier create run.
            let read = if self.rank() == 0 {
                std::fs::read_to_string(f)
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok())
                    .unwrap_or(-1)
            } else {
                -1
            };
            let expected = self.comm.bcast_u64(read as u64, 0)? as i64;
            if expected >= 0 {
                if self.plan.directory_loops > 1 {
                    self.plan.directory_loops = expected as u64 / self.plan.items_per_dir.max(1);
                    self.items = self.plan.items_per_dir;
                } else {
                    self.items = expected as u64;
                    self.ipd_now = self.items;
                }
            }
            if self.rank() == 0 {
                if expected == -1 {
                    self.report()
                        .warn(1305, "Could not read stonewall status file")?;
                } else {
                    self.report().v(
                        1,
                        1,
                        1307,
                        &format!("Read stonewall status; items: {}\n", self.items),
                    );
                }
            }
        }
        if self.plan.stat {
            self.look_phase(j, Op::FileStat).await?;
        }
        if self.plan.read {
            self.look_phase(j, Op::FileRead).await?;
        }
        if self.plan.remove {
            self.remove_phase(j, Kind::File).await?;
            if self.names.unique {
                let testdir = self.testdir(j, 0);
                self.report().v(
                    1,
                    -1,
                    328,
                    &format!("Entering unique_dir_access, set it to {testdir}/"),
                );
            }
        }
        let (t, r) = self.figure(Op::FileCreate, j);
        self.report().v(
            1,
            -1,
            1435,
            &output::verbose_op_line("  File creation     ", t, r),
        );
        if let Some(sw) = self
            .entries
            .iter()
            .find(|e| e.op == Op::FileCreate && e.iteration == j)
            .and_then(|e| e.stonewall.clone())
        {
            self.report().v(
                1,
                -1,
                1437,
                &output::verbose_op_line(
                    "  File creation (stonewall)",
                    sw.time,
                    sw.items_sum as f64,
                ),
            );
        }
        for (op, label, line) in [
            (Op::FileStat, "  File stat         ", 1439),
            (Op::FileRead, "  File read         ", 1440),
            (Op::FileRemove, "  File removal      ", 1441),
        ] {
            let (t, r) = self.figure(op, j);
            self.report()
                .v(1, -1, line, &output::verbose_op_line(label, t, r));
        }
        Ok(())
    }
}
