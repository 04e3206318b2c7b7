//! The md-workbench engine (hpc/ior 4.1 `md_workbench_run`) on any [`Backend`]: every rank
//! owns `-D` data sets (directories `PREFIX/RANK_SET`) of objects `file-N` of `-S` bytes.
//!
//! * precreate (`-1`): each rank makes its data sets and `-P` objects in each (object `f` of set
//!   `d` carries the pattern of item `f * D + d`);
//! * benchmark (`-2`, `-R` times): `-I` steps, each over every set `d`: stat, read (and verify
//!   with `-X`) and delete the oldest object of set `d` of rank `rank - O * (d + 1)`, then
//!   create the next one in set `d` of rank `rank + O * (d + 1)`: the working set slides by
//!   `-I` objects per iteration and keeps its size; `-w`/`-W` stonewall each iteration;
//! * cleanup (`-3`): each rank removes its objects and data sets.
//!
//! Between runs of single phases the position (the oldest object's index) is kept in
//! `--run-info-file` (`pos: N`), as md-workbench does, so io500 can run the three phases as
//! three commands. Every operation is timed; after each phase the counts, times and samples
//! are gathered and rank 0 prints md-workbench's line ([`crate::mdworkbench::output`]).
//!
//! Owns the sequencing, the timers, the waiting (`-t`, `-T`) and the position file. Formats
//! are [`crate::mdworkbench::output`], quantiles [`crate::mdworkbench::stats`].
//!
//! Deliberate differences from md-workbench 4.1 (its bugs, not copied): a failed remove or
//! data-set removal is counted as an error (md-workbench counts every remove as a success);
//! the read and stat samples are those of operations that ran (md-workbench sorts unset
//! entries in after a failed stat); a benchmark stopped by the stonewall without wear-out
//! advances the position by the steps it completed (md-workbench by one less); a stat that
//! fails with `-v` is a counted error and a warning, not an abort of the job.

use crate::backend::{Access, AnyBackend, Backend, BackendError, OpenFlags, XferHints};
use crate::comm::{Comm, ReduceOp};
use crate::ior::params::DataPacketType;
use crate::mdtest::pattern;
use crate::mdworkbench::options::MdwParams;
use crate::mdworkbench::output::{self, PhaseLine};
use crate::mdworkbench::results::{rate, Counts, MdwRun, PhaseKind, PhaseResult};
use crate::mdworkbench::stats::{self, Sample, Spread, TimeStats};
use std::io::Write;
use std::time::{Duration, Instant};

/// md-workbench's data-set mode (`DIRMODE`: rwx for the user, rwx group, r-x others).
pub const DIRMODE: u32 = 0o775;

/// What a rank needs to run md-workbench: the communicator, rank 0's result stream, the
/// program and arguments the `Args:` line shows (the same as mdtest's).
pub type Context<'a> = crate::mdtest::engine::Context<'a, MdwReport<'a>>;

/// What rank 0 reports after each completed phase: the run so far (the phase just completed
/// last).
pub type MdwReport<'a> = dyn Fn(&MdwRun) + Sync + 'a;

/// A run that stopped: the error, and the phases that completed before.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What stopped the run.
    pub error: String,
    /// The phases that completed.
    pub partial: MdwRun,
}

/// The path of data set `d` of rank `n`.
pub fn dset_name(prefix: &str, n: usize, d: i32) -> String {
    format!("{prefix}/{n}_{d}")
}

/// The path of object `i` of data set `d` of rank `n`.
pub fn obj_name(prefix: &str, n: usize, d: i32, i: i64) -> String {
    format!("{prefix}/{n}_{d}/file-{i}")
}

/// Runs md-workbench with `p` on this rank, on the backend `-a` names. Every rank of
/// `ctx.comm` calls it; every rank gets the results.
pub async fn run(ctx: Context<'_>, p: &MdwParams) -> Result<MdwRun, Failure> {
    let fail = |error: String| Failure {
        error,
        partial: MdwRun::default(),
    };
    p.check().map_err(|e| fail(format!("ERROR: {e}")))?;
    let api = crate::backend::canonical_backend_name(&p.api).unwrap_or("POSIX");
    let mut backend =
        AnyBackend::new(api, &p.backend_options).map_err(|e| fail(format!("ERROR: {e}")))?;
    run_on(ctx, p, &mut backend).await
}

/// Runs md-workbench with `p` on this rank on `backend` (hints set, parameters checked, the
/// backend initialised and finalised here). Every rank of `ctx.comm` calls it.
pub async fn run_on<B: Backend>(
    ctx: Context<'_>,
    p: &MdwParams,
    backend: &mut B,
) -> Result<MdwRun, Failure> {
    let comm = ctx.comm;
    let mut w = Bench {
        comm,
        p,
        out: ctx.out,
        rank: comm.rank(),
        size: comm.size(),
        seed: p.seed,
        ptype: p.packet_type().unwrap_or(DataPacketType::Timestamp),
        waiting: p.waiting_factor,
        iteration: 0,
        run: MdwRun {
            ranks: comm.size(),
            ..MdwRun::default()
        },
        completed: ctx.completed,
    };
    let result = w.sequence(ctx.program, ctx.args, backend).await;
    match result {
        Ok(()) => Ok(w.run),
        Err(error) => {
            if !error.contains("aborted") {
                comm.abort(&error);
            }
            Err(Failure {
                error,
                partial: w.run,
            })
        }
    }
}

/// One rank's state.
struct Bench<'a, 'o> {
    comm: &'a dyn Comm,
    p: &'a MdwParams,
    out: Option<&'o mut (dyn Write + Send)>,
    rank: usize,
    size: usize,
    seed: i32,
    ptype: DataPacketType,
    waiting: f32,
    iteration: i32,
    run: MdwRun,
    /// Rank 0's report of each completed phase (the driver's checkpoint).
    completed: Option<&'a MdwReport<'a>>,
}

/// One rank's figures of one phase (`phase_stat_t`).
struct PhaseStat {
    kind: PhaseKind,
    t: f64,
    counts: Counts,
    create: Vec<Sample>,
    read: Vec<Sample>,
    stat: Vec<Sample>,
    delete: Vec<Sample>,
    max_op_time: f64,
    start: Instant,
    repeats: u64,
    stonewall_iterations: u64,
}

#[derive(Clone, Copy)]
enum OpKind {
    Create,
    Read,
    Stat,
    Delete,
}

impl PhaseStat {
    fn new(kind: PhaseKind) -> PhaseStat {
        PhaseStat {
            kind,
            t: 0.0,
            counts: Counts::default(),
            create: Vec::new(),
            read: Vec::new(),
            stat: Vec::new(),
            delete: Vec::new(),
            max_op_time: 0.0,
            start: Instant::now(),
            repeats: 0,
            stonewall_iterations: 0,
        }
    }

    /// `add_timed_result`: records the operation begun at `began`; returns its runtime and
    /// its start since the phase began.
    fn timed(&mut self, op: OpKind, began: Instant) -> (f64, f32) {
        let since = began.saturating_duration_since(self.start).as_secs_f64() as f32;
        let op_time = began.elapsed().as_secs_f64();
        let s = Sample {
            since_start: since,
            runtime: op_time as f32,
        };
        match op {
            OpKind::Create => self.create.push(s),
            OpKind::Read => self.read.push(s),
            OpKind::Stat => self.stat.push(s),
            OpKind::Delete => self.delete.push(s),
        }
        if op_time > self.max_op_time {
            self.max_op_time = op_time;
        }
        (op_time, since)
    }
}

fn reason(e: &BackendError) -> String {
    e.to_string()
}

fn write_flags() -> OpenFlags {
    OpenFlags {
        write_only: true,
        create: true,
        ..OpenFlags::default()
    }
}

impl Bench<'_, '_> {
    fn rank0(&self) -> bool {
        self.rank == 0
    }

    /// Text of rank 0 (`oprintf` there).
    fn say(&mut self, text: &str) -> Result<(), String> {
        if let Some(o) = self.out.as_mut() {
            o.write_all(text.as_bytes())
                .and_then(|_| o.flush())
                .map_err(|e| format!("cannot write the output: {e}"))?;
        }
        Ok(())
    }

    /// A line any rank prints (`-v` messages, warnings): rank 0's stream, the log elsewhere.
    fn any(&mut self, text: &str) -> Result<(), String> {
        if self.rank0() {
            self.say(&format!("{text}\n"))
        } else {
            crate::measure::log::line(text);
            Ok(())
        }
    }

    fn verbose(&mut self, level: i32, text: &str) -> Result<(), String> {
        if self.p.verbose >= level {
            self.any(text)?;
        }
        Ok(())
    }

    /// `mdw_wait`: waits `factor × runtime` after an operation (a busy wait below 10 ms).
    async fn wait_after(&self, op_time: f64) {
        if self.waiting <= 1e-9 {
            return;
        }
        let wait = op_time * f64::from(self.waiting);
        if wait < 0.01 {
            let end = Instant::now() + Duration::from_secs_f64(wait.max(0.0));
            while Instant::now() < end {
                std::hint::spin_loop();
            }
        } else {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    async fn sequence<B: Backend>(
        &mut self,
        program: &str,
        args: &[String],
        backend: &mut B,
    ) -> Result<(), String> {
        let p = self.p;
        let comm = self.comm;
        // md-workbench prints it before it parses the options: `-q` does not hide it.
        if self.rank0() {
            self.say(&output::args_line(program, args))?;
        }
        p.check().map_err(|e| format!("ERROR: {e}"))?;
        let (pre, bench, clean) = p.phases();
        if !pre && bench && p.stonewall_timer > 0 && p.stonewall_wear_out == 0 && self.rank0() {
            self.say("WARNING: Dangerous option combination: and benchmark phase (-2) using with stonewall option (-w) without stonewall wear-out will lead to files that cannot be cleaned up using the cleanup phase(-3). Also multiple iterations are problematic.\n")?;
        }
        if self.seed == -1 {
            let now = chrono::Utc::now().timestamp() as i32;
            let b = comm
                .bcast_bytes(&now.to_le_bytes(), 0)
                .map_err(|e| e.to_string())?;
            self.seed = <[u8; 4]>::try_from(b.as_slice()).map_or(now, i32::from_le_bytes);
        }
        backend.set_hints(XferHints {
            file_per_proc: true,
            num_tasks: self.size,
            rank: self.rank,
            ..XferHints::default()
        });
        backend.check_params().map_err(|e| format!("ERROR: {e}"))?;
        backend
            .initialize()
            .await
            .map_err(|e| format!("ERROR: cannot initialize {}: {e}", backend.name()))?;
        let result = self.phases(backend, pre, bench, clean).await;
        let _ = backend.finalize().await;
        result
    }

    async fn phases<B: Backend>(
        &mut self,
        backend: &B,
        pre: bool,
        bench: bool,
        clean: bool,
    ) -> Result<(), String> {
        let p = self.p;
        let comm = self.comm;
        if self.rank0() {
            let nodes = comm.node_of_ranks();
            let map: String = nodes
                .iter()
                .map(|&n| if n == nodes[0] { '1' } else { '0' })
                .collect();
            self.say(&format!("Nodemap: {map}\n"))?;
        }
        let mut current: i64 = 0;
        if (clean || bench) && !pre {
            current = self.read_position()?;
        }
        if p.start_item != 0 {
            self.any(&format!("Using start position {}", p.start_item))?;
            current = p.start_item;
        }
        let d = i64::from(p.data_sets);
        let total = d
            * (i64::from(p.obj_per_proc) * i64::from(p.iterations) + i64::from(p.precreate))
            * self.size as i64;
        if self.rank0() && p.quiet == 0 {
            let ws =
                self.size as f64 * d as f64 * f64::from(p.precreate) * f64::from(p.object_size)
                    / 1024.0
                    / 1024.0;
            self.say(&output::header(total as u64, ws))?;
            if p.obj_per_proc > p.precreate {
                self.say("WARNING: num > precreate, this may cause the situation that no objects are available to read\n")?;
            }
        }
        let began = Instant::now();
        if self.rank0() && p.print_detailed_stats != 0 && p.quiet == 0 {
            self.say(output::DETAILED_HEADER)?;
        }
        if pre {
            if self.rank0() {
                if let Err(e) = backend.mkdir(&p.prefix, DIRMODE).await {
                    let _ = e;
                    self.say(&format!(
                        "WARNING: Unable to create test directory {}\n",
                        p.prefix
                    ))?;
                }
            }
            let mut s = PhaseStat::new(PhaseKind::Precreate);
            comm.barrier().map_err(|e| e.to_string())?;
            s.start = Instant::now();
            self.precreate(backend, &mut s, current).await?;
            s.t = s.start.elapsed().as_secs_f64();
            self.end_phase(s)?;
        }
        if bench {
            self.iteration = 0;
            while self.iteration < p.iterations {
                let factors: Vec<f32> = if p.adaptive_waiting != 0 {
                    std::iter::once(0.0)
                        .chain((0..7).map(|r| 0.0625 * (1u32 << r) as f32))
                        .collect()
                } else {
                    vec![self.waiting]
                };
                for f in factors {
                    self.waiting = f;
                    let mut s = PhaseStat::new(PhaseKind::Benchmark);
                    comm.barrier().map_err(|e| e.to_string())?;
                    s.start = Instant::now();
                    self.benchmark(backend, &mut s, &mut current).await?;
                    self.end_phase(s)?;
                }
                self.iteration += 1;
            }
        }
        if clean {
            let mut s = PhaseStat::new(PhaseKind::Cleanup);
            s.start = Instant::now();
            self.cleanup(backend, &mut s, current).await?;
            s.t = s.start.elapsed().as_secs_f64();
            self.end_phase(s)?;
            if self.rank0() && backend.rmdir(&p.prefix).await.is_err() {
                self.say(&format!("Unable to remove directory {}\n", p.prefix))?;
            }
        } else {
            self.store_position(current)?;
        }
        self.run.position = current;
        let all = began.elapsed().as_secs_f64();
        if self.rank0() && p.quiet == 0 {
            self.say(&output::footer(all))?;
        }
        Ok(())
    }

    /// `return_position`: rank 0 reads `pos: N` from the run-info file; every rank gets it.
    fn read_position(&mut self) -> Result<i64, String> {
        let path = &self.p.run_info_file;
        let mine: Result<i64, String> = if self.rank0() {
            match std::fs::read_to_string(path) {
                Err(e) => Err(format!("[ERROR] Could not open {path} for restart ({e})")),
                Ok(text) => text
                    .trim_start()
                    .strip_prefix("pos:")
                    .and_then(|r| crate::units::scan_integer(r.trim_start()))
                    .map(|(n, _)| n)
                    .ok_or_else(|| format!("Could not read from {path} for restart")),
            }
        } else {
            Ok(0)
        };
        let failed = self
            .comm
            .allreduce_i64(i64::from(mine.is_err()), ReduceOp::Max)
            .map_err(|e| e.to_string())?;
        let v = match (mine, failed) {
            (Err(e), _) => return Err(e),
            (Ok(_), f) if f != 0 => {
                return Err("aborted: rank 0 could not read the position".into())
            }
            (Ok(v), _) => v,
        };
        self.comm
            .bcast_bytes(&v.to_le_bytes(), 0)
            .map_err(|e| e.to_string())
            .map(|b| <[u8; 8]>::try_from(b.as_slice()).map_or(v, i64::from_le_bytes))
    }

    /// `store_position`: rank 0 writes `pos: N` to the run-info file.
    fn store_position(&mut self, pos: i64) -> Result<(), String> {
        if !self.rank0() {
            return Ok(());
        }
        let path = &self.p.run_info_file;
        std::fs::write(path, format!("pos: {pos}\n"))
            .map_err(|e| format!("[ERROR] Could not open {path} for saving data ({e})"))
    }

    /// Creates object `path` with the pattern of `item` as rank `pr` writes it. `Err` is an
    /// open failure (with the backend's reason); `Ok(false)` a short or failed write.
    async fn create_object<B: Backend>(
        &self,
        backend: &B,
        path: &str,
        buf: &mut [u8],
        item: u64,
        pr: usize,
    ) -> Result<bool, String> {
        let file = backend
            .create(path, write_flags())
            .await
            .map_err(|e| reason(&e))?;
        pattern::generate(buf, self.seed, pr as u32, self.ptype);
        pattern::update_for_write(buf, item, self.seed, pr as u32, self.ptype);
        let ok = matches!(
            backend.xfer(&file, Access::Write, buf, 0).await,
            Ok(n) if n == buf.len()
        );
        let closed = backend.close(file).await.is_ok();
        Ok(ok && closed)
    }

    async fn precreate<B: Backend>(
        &mut self,
        backend: &B,
        s: &mut PhaseStat,
        current: i64,
    ) -> Result<(), String> {
        let p = self.p;
        let rank = self.rank;
        for i in 0..p.data_sets {
            let dset = dset_name(&p.prefix, rank, i);
            let ok = backend.mkdir(&dset, DIRMODE).await;
            s.counts.dset_create.add(ok.is_ok());
            if let Err(e) = ok {
                if p.ignore_precreate_errors == 0 {
                    return Err(format!(
                        "ERROR: {rank}: Error while creating the dset: {dset} ({})",
                        reason(&e)
                    ));
                }
            }
        }
        let mut buf = vec![0u8; p.object_size as usize];
        for f in current..i64::from(p.precreate) {
            for d in 0..p.data_sets {
                let obj = obj_name(&p.prefix, rank, d, f);
                let t0 = Instant::now();
                let item = (f * i64::from(p.data_sets) + i64::from(d)) as u64;
                let ok = self
                    .create_object(backend, &obj, &mut buf, item, rank)
                    .await
                    .map_err(|e| format!("ERROR: Unable to open file {obj} ({e})"))?;
                s.counts.obj_create.add(ok);
                if !ok && p.ignore_precreate_errors == 0 {
                    return Err(format!(
                        "ERROR: {rank}: Error while creating the obj: {obj}"
                    ));
                }
                s.timed(OpKind::Create, t0);
                let dset = dset_name(&p.prefix, rank, d);
                self.verbose(
                    2,
                    &format!(
                        "{rank}: write {dset}:{obj} ({}) pretend: {rank}",
                        i32::from(!ok)
                    ),
                )?;
            }
        }
        s.repeats = s.create.len() as u64;
        Ok(())
    }

    /// `run_benchmark`: the sliding working set; advances `current` unless `--read-only`.
    async fn benchmark<B: Backend>(
        &mut self,
        backend: &B,
        s: &mut PhaseStat,
        current: &mut i64,
    ) -> Result<(), String> {
        let p = self.p;
        let (rank, size) = (self.rank as i64, self.size as i64);
        let mut buf = vec![0u8; p.object_size as usize];
        pattern::invalidate(&mut buf);
        let start_index = *current;
        let mut total_num = i64::from(p.obj_per_proc);
        let mut armed = p.stonewall_timer > 0;
        let mut allreduce_time = 0.0;
        let mut steps = 0i64;
        let mut f = 0i64;
        let mut steps_visited = 0u64;
        while f < total_num {
            let mut bench_runtime = 0.0f32;
            for d in 0..p.data_sets {
                let prev = f + start_index;
                steps_visited += 1;
                let shift = i64::from(p.offset) * i64::from(d + 1);
                let read_rank = (rank - shift).rem_euclid(size) as usize;
                let obj = obj_name(&p.prefix, read_rank, d, prev);
                let t0 = Instant::now();
                let st = backend.stat(&obj).await;
                let (op, since) = s.timed(OpKind::Stat, t0);
                bench_runtime = since;
                self.wait_after(op).await;
                self.verbose(
                    2,
                    &format!("{rank}: stat {obj} ({})", i32::from(st.is_err())),
                )?;
                if let Err(e) = st {
                    if p.verbose > 0 {
                        self.any(&format!(
                            "WARNING: {rank}: Error while stating the obj: {obj} ({})",
                            reason(&e)
                        ))?;
                    }
                    s.counts.obj_stat.err += 1;
                    continue;
                }
                s.counts.obj_stat.suc += 1;
                self.verbose(2, &format!("{rank}: read {obj} pretend: {read_rank}"))?;
                let t0 = Instant::now();
                let file = backend
                    .open(&obj, OpenFlags::read())
                    .await
                    .map_err(|e| format!("ERROR: Unable to open file {obj} ({})", reason(&e)))?;
                let n = backend.xfer(&file, Access::Read, &mut buf, 0).await;
                let full = matches!(n, Ok(n) if n == buf.len());
                if full {
                    let item = (prev * i64::from(p.data_sets) + i64::from(d)) as u64;
                    let good = p.verify_read == 0
                        || pattern::verify(&buf, item, self.seed, read_rank as u32, self.ptype);
                    s.counts.obj_read.add(good);
                } else {
                    s.counts.obj_read.err += 1;
                }
                let _ = backend.close(file).await;
                let (op, since) = s.timed(OpKind::Read, t0);
                bench_runtime = since;
                if !full {
                    self.any(&format!(
                        "WARNING: {rank}: Error while reading the obj: {obj}"
                    ))?;
                }
                self.wait_after(op).await;
                if p.read_only != 0 {
                    continue;
                }
                let t0 = Instant::now();
                let removed = backend.remove(&obj).await;
                let (op, _) = s.timed(OpKind::Delete, t0);
                self.wait_after(op).await;
                self.verbose(2, &format!("{rank}: delete {obj}"))?;
                s.counts.obj_delete.add(removed.is_ok());
                let write_rank = (rank + shift).rem_euclid(size) as usize;
                let new_index = i64::from(p.precreate) + prev;
                let obj = obj_name(&p.prefix, write_rank, d, new_index);
                let item = (new_index * i64::from(p.data_sets) + i64::from(d)) as u64;
                let t0 = Instant::now();
                let made = self
                    .create_object(backend, &obj, &mut buf, item, write_rank)
                    .await;
                let ok = matches!(made, Ok(true));
                if !ok && p.ignore_precreate_errors == 0 {
                    return Err(format!(
                        "ERROR: {rank}: Error while creating the obj: {obj}{}",
                        made.err().map(|e| format!(" ({e})")).unwrap_or_default()
                    ));
                }
                if made.is_err() {
                    self.any(&format!("WARNING: Unable to open file {obj}"))?;
                }
                s.counts.obj_create.add(ok);
                let (op, since) = s.timed(OpKind::Create, t0);
                bench_runtime = since;
                self.wait_after(op).await;
                self.verbose(
                    2,
                    &format!(
                        "{rank}: write {obj} ({}) pretend: {write_rank}",
                        i32::from(!ok)
                    ),
                )?;
            }
            steps = f + 1;
            if armed && bench_runtime >= p.stonewall_timer as f32 {
                self.verbose(
                    1,
                    &format!(
                        "{rank}: stonewall runtime {:.6}s ({}s)",
                        f64::from(bench_runtime),
                        p.stonewall_timer
                    ),
                )?;
                if p.stonewall_wear_out == 0 {
                    s.stonewall_iterations = f as u64;
                    break;
                }
                armed = false;
                allreduce_time = s.start.elapsed().as_secs_f64();
                total_num = self
                    .comm
                    .allreduce_i64(f + 1, ReduceOp::Max)
                    .map_err(|e| e.to_string())?;
                s.start = Instant::now();
                s.stonewall_iterations = total_num as u64;
                if self.rank0() {
                    self.say(&format!(
                        "stonewall wear out {:.6}s ({total_num} iter)\n",
                        f64::from(bench_runtime)
                    ))?;
                }
            }
            f += 1;
        }
        s.t = s.start.elapsed().as_secs_f64() + allreduce_time;
        if armed && p.stonewall_wear_out != 0 {
            // The ranks that never hit the stonewall meet the others' reduction here.
            let n = self
                .comm
                .allreduce_i64(total_num, ReduceOp::Max)
                .map_err(|e| e.to_string())?;
            s.stonewall_iterations = n as u64;
        }
        if p.stonewall_timer > 0 && p.stonewall_wear_out == 0 {
            let n = self
                .comm
                .allreduce_i64(s.stonewall_iterations as i64, ReduceOp::Max)
                .map_err(|e| e.to_string())?;
            s.stonewall_iterations = n as u64;
        }
        if p.read_only == 0 {
            *current += steps;
        }
        s.repeats = steps_visited;
        Ok(())
    }

    async fn cleanup<B: Backend>(
        &mut self,
        backend: &B,
        s: &mut PhaseStat,
        start_index: i64,
    ) -> Result<(), String> {
        let p = self.p;
        let rank = self.rank;
        for d in 0..p.data_sets {
            for f in 0..i64::from(p.precreate) {
                let obj = obj_name(&p.prefix, rank, d, f + start_index);
                let t0 = Instant::now();
                let removed = backend.remove(&obj).await;
                s.timed(OpKind::Delete, t0);
                self.verbose(2, &format!("{rank}: delete {obj}"))?;
                s.counts.obj_delete.add(removed.is_ok());
            }
            let dset = dset_name(&p.prefix, rank, d);
            let removed = backend.rmdir(&dset).await;
            s.counts.dset_delete.add(removed.is_ok());
            if removed.is_err() {
                self.any(&format!("Unable to remove directory {dset}"))?;
            }
            self.verbose(2, &format!("{rank}: delete dset {dset}"))?;
        }
        s.repeats = s.delete.len() as u64;
        Ok(())
    }

    /// `end_phase`: gathers every rank's figures, prints rank 0's lines, keeps the result.
    fn end_phase(&mut self, mut s: PhaseStat) -> Result<(), String> {
        let p = self.p;
        let comm = self.comm;
        let err = |e: crate::comm::CommError| e.to_string();
        comm.barrier().map_err(err)?;
        let times = comm.allgather_f64(s.t).map_err(err)?;
        let t = times.iter().copied().fold(0.0, f64::max);
        let counts_json = serde_json::to_vec(&s.counts).map_err(|e| e.to_string())?;
        let rank_counts: Vec<Counts> = comm
            .allgather_bytes(&counts_json)
            .map_err(err)?
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap_or_default())
            .collect();
        let total = rank_counts.iter().fold(Counts::default(), |a, c| a.plus(c));
        let max_op = comm
            .allreduce_f64(s.max_op_time, ReduceOp::Max)
            .map_err(err)?;
        let mut repeats = s.repeats;
        if s.stonewall_iterations > 0 {
            repeats = comm
                .allreduce_i64(s.repeats as i64, ReduceOp::Min)
                .map_err(err)? as u64;
        }
        let own_file = self.rank0() && p.latency_all == 0;
        let mut global = [TimeStats::default(); 4];
        let mut own = [TimeStats::default(); 4];
        let kinds: &[(usize, &str)] = match s.kind {
            PhaseKind::Precreate => &[(0, "precreate")],
            PhaseKind::Cleanup => &[(3, "cleanup")],
            PhaseKind::Benchmark if p.read_only != 0 => &[(1, "read"), (2, "stat")],
            PhaseKind::Benchmark => &[(1, "read"), (2, "stat"), (0, "create"), (3, "delete")],
        };
        for &(slot, name) in kinds {
            let samples = match slot {
                0 => &mut s.create,
                1 => &mut s.read,
                2 => &mut s.stat,
                _ => &mut s.delete,
            };
            let gathered = comm
                .allgather_bytes(&stats::to_bytes(samples))
                .map_err(err)?;
            if self.rank0() {
                let mut all: Vec<Sample> =
                    gathered.iter().flat_map(|b| stats::from_bytes(b)).collect();
                if p.latency_all != 0 {
                    self.latency_file(&format!("{name}-all"), &all)?;
                }
                global[slot] = stats::compute(&mut all);
            }
            if own_file {
                self.latency_file(name, samples)?;
            }
            own[slot] = stats::compute(samples);
        }
        let waiting = self.waiting;
        let rank0_wall = if self.rank0() {
            s.stonewall_iterations
        } else {
            0
        };
        let line = |counts: &Counts, t: f64, st: &[TimeStats; 4], spread: Option<Spread>, wall| {
            output::phase_line(&PhaseLine {
                kind: s.kind,
                counts,
                t,
                own_t: s.t,
                max_op_time: if spread.is_some() {
                    max_op
                } else {
                    s.max_op_time
                },
                stats: [&st[0], &st[1], &st[2], &st[3]],
                spread,
                object_size: i64::from(p.object_size),
                quiet: p.quiet != 0,
                read_only: p.read_only != 0,
                detailed: p.print_detailed_stats != 0,
                waiting_factor: waiting,
                stonewall_iterations: wall,
            })
        };
        if self.rank0() {
            let text = line(&total, t, &global, Some(Spread::of(&times)), rank0_wall);
            self.say(&format!("{text}\n"))?;
        }
        if p.process_reports != 0 {
            let mine = line(&s.counts, s.t, &own, None, s.stonewall_iterations);
            let lines = comm.allgather_bytes(mine.as_bytes()).map_err(err)?;
            if self.rank0() {
                for (i, l) in lines.iter().enumerate() {
                    self.say(&format!("{i}: {}\n", String::from_utf8_lossy(l)))?;
                }
            }
        }
        self.run.phases.push(PhaseResult {
            kind: s.kind,
            waiting_factor: self.waiting,
            counts: total,
            runtime: t,
            rank_times: times,
            rate: rate(s.kind, &total, t, p.read_only != 0),
            max_op_time: max_op,
            iterations_done: repeats,
            stonewall_iterations: s.stonewall_iterations,
            create: global[0],
            read: global[1],
            stat: global[2],
            delete: global[3],
            rank_counts,
        });
        if let (Some(report), true) = (self.completed, self.rank0()) {
            report(&self.run);
        }
        Ok(())
    }

    fn latency_file(&self, name: &str, samples: &[Sample]) -> Result<(), String> {
        let Some(prefix) = &self.p.latency_prefix else {
            return Ok(());
        };
        stats::write_latency_file(prefix, self.waiting, self.iteration, name, samples)
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "ERROR: {}: Error writing to latency file: {prefix} ({e})",
                    self.rank
                )
            })
    }
}
