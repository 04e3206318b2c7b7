//! The live progress display of a run (beyond IOR), on **stderr** only: test, phase,
//! `iter i/N`, what the tasks are doing (open, transfer, close; between timed phases settle,
//! verify, remove), the bytes moved by the whole job (every local task and every MPI rank)
//! against the phase's total, the rate over the last second (not the mean since the start,
//! which decays) and an ETA from that rate.
//!
//! Owns [`Progress`]. By default it is shown only when stderr is a terminal, as an indicatif
//! bar; `--progress` ([`crate::ior::params::GlobalOptions::progress`]) forces it on or off,
//! and forced on a non-terminal it prints plain lines once a second, never escape codes. It
//! must never write to stdout (IOR's report goes there) and must stay out of the transfer
//! loop's way: it never sees a transfer. Each task's interval recorder
//! ([`crate::measure::series::IntervalRecorder`], the one sampler of a task) publishes the
//! task's totals into its [`LiveCounts`] at most every 100 ms; a background thread (one per
//! phase) reads them. Under MPI each rank is its own process: the ranks other than 0 send
//! their totals to rank 0 as a small UDP datagram every 100 ms from that thread (never from
//! the transfer loop, never through MPI, so the timed phase and MPI's thread rules are left
//! alone; a lost datagram only delays the display), and rank 0 adds them up. The last line
//! of a phase shows the exact total the engine reduced over ranks. While a bar is drawn, log
//! lines are written with it hidden ([`crate::measure::log::show_display`]).

use crate::comm::{Comm, CommError};
use crate::measure::log;
use crate::measure::series::LiveCounts;
use indicatif::{BinaryBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the counts are sampled (and a terminal bar redrawn, a datagram sent).
const REFRESH: Duration = Duration::from_millis(100);
/// The window of the rate shown.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// How often a plain line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(1);
/// A datagram of a rank's totals: magic, job token, phase key, rank, bytes, operations, share.
const DATAGRAM: usize = 4 + 4 + 8 + 4 + 8 + 8 + 8;
const MAGIC: &[u8; 4] = b"BFSP";

const TEMPLATE: &str = "{msg} [{elapsed_precise}] [{wide_bar}] {binary_bytes}/{binary_total_bytes}";

/// What the tasks of a phase are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening (or creating) the file.
    Open,
    /// The timed transfers.
    Transfer,
    /// Closing the file.
    Close,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Transfer => "transfer",
            Stage::Close => "close",
        }
    }
}

/// What a phase is, for its label.
#[derive(Debug, Clone, Copy)]
pub struct PhaseLabel<'a> {
    /// Test number.
    pub test_id: i32,
    /// `write`, `read`, ...
    pub phase: &'a str,
    /// Repetition, 0-based.
    pub iteration: usize,
    /// Repetitions of the test.
    pub iterations: usize,
    /// Tasks taking part (the test's ranks).
    pub tasks: usize,
}

impl PhaseLabel<'_> {
    /// The phase's key, the same on every rank.
    fn key(&self) -> u64 {
        let phase = self
            .phase
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) + b as u64)
            & 0xff;
        ((self.test_id as u32 as u64) << 32) | ((self.iteration as u64 & 0xff_ffff) << 8) | phase
    }

    fn name(&self) -> String {
        format!(
            "test {} {} iter {}/{}",
            self.test_id,
            self.phase,
            self.iteration + 1,
            self.iterations.max(1)
        )
    }
}

/// The rate over the last [`RATE_WINDOW`] from samples of a byte counter.
#[derive(Default)]
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Adds a sample; returns bytes per second over the window (0 until two samples).
    fn sample(&mut self, at: Instant, bytes: u64) -> f64 {
        self.samples.push_back((at, bytes));
        // Keep one sample at or before the window's start as its anchor.
        while self.samples.len() > 2 && at.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let (t0, b0) = self.samples[0];
        let dt = at.duration_since(t0).as_secs_f64();
        if dt > 0.0 {
            bytes.saturating_sub(b0) as f64 / dt
        } else {
            0.0
        }
    }
}

/// The status text after the label: stage, rate and ETA.
fn status(stage: &str, done: u64, total: u64, rate: f64) -> String {
    let mut s = String::new();
    if stage != "transfer" {
        s.push_str(stage);
        s.push_str(", ");
    }
    s.push_str(&format!("{}/s over the last 1 s", BinaryBytes(rate as u64)));
    if total > 0 && rate > 0.0 && done < total {
        let eta = Duration::from_secs_f64((total - done) as f64 / rate);
        s.push_str(&format!(", ETA {}", HumanDuration(eta)));
    }
    s
}

/// Where an enabled display goes.
enum Sink {
    /// stderr is a terminal: an indicatif bar.
    Bar,
    /// Not a terminal (or a test buffer): plain lines.
    Lines(Mutex<Box<dyn Write + Send>>),
    /// An MPI rank other than 0: its totals sent to rank 0.
    Relay {
        socket: UdpSocket,
        token: u32,
        rank: u32,
    },
}

/// Rank 0's receiver of the other ranks' totals.
struct Inbox {
    socket: UdpSocket,
    token: u32,
    /// Ranks of the job.
    ranks: usize,
}

/// What the tasks of the running phase and its ticker share.
struct PhaseState {
    key: u64,
    name: String,
    stage: Stage,
    /// The live counts of this process's tasks that joined, and their shares.
    tasks: Vec<(Arc<LiveCounts>, u64)>,
    finished: usize,
    /// The exact total of the phase, once the engine reduced it.
    exact: Option<u64>,
    /// What the tasks of the test are (for the label).
    job_tasks: usize,
}

/// The phase being shown, and its ticker.
struct Active {
    state: Arc<Mutex<PhaseState>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

struct Shared {
    sink: Arc<Sink>,
    inbox: Option<Arc<Inbox>>,
    active: Mutex<Option<Active>>,
    /// The last between-phases step announced (`name: what`), so that local tasks print it once.
    between: Mutex<String>,
    /// The spinner between phases, with its token of [`log::show_display`].
    between_bar: Mutex<Option<(ProgressBar, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn write_line(&self, text: &str) {
        if let Sink::Lines(w) = &*self.sink {
            let mut w = lock(w);
            let _ = writeln!(w, "{text}");
            let _ = w.flush();
        }
    }

    fn end_between(&self) {
        if let Some((b, shown)) = lock(&self.between_bar).take() {
            log::hide_display(shown);
            b.finish_and_clear();
        }
    }
}

/// Stops the ticker of `active` (it prints the phase's last line).
fn stop(active: Option<Active>) {
    if let Some(mut a) = active {
        a.stop.store(true, Ordering::Relaxed);
        if let Some(t) = a.ticker.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        stop(lock(&self.active).take());
        self.end_between();
    }
}

/// The progress display of this process. Cheap to clone (clones share one display: the local
/// tasks of a run share one); a disabled display makes every method a no-op.
#[derive(Clone)]
pub struct Progress {
    inner: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

/// Whether a display is shown: `force` (`--progress`/`--no-progress`), else only on a
/// terminal.
fn wanted(force: Option<bool>) -> bool {
    force.unwrap_or_else(|| std::io::stderr().is_terminal())
}

/// The display's sink on stderr: a bar on a terminal, plain lines elsewhere.
fn stderr_sink() -> Sink {
    if std::io::stderr().is_terminal() {
        Sink::Bar
    } else {
        Sink::Lines(Mutex::new(Box::new(std::io::stderr())))
    }
}

impl Progress {
    /// The display of a process running every task of the job (local tasks). `force`:
    /// `Some(true)` always shows it (on stderr), `Some(false)` never, `None` only when stderr
    /// is a terminal.
    pub fn new(force: Option<bool>) -> Progress {
        if wanted(force) {
            Self::with_sink(stderr_sink(), None)
        } else {
            Self::disabled()
        }
    }

    /// Collective over the whole MPI job `comm` (outside any timed phase): rank 0's display
    /// (as [`Progress::new`] decides it there) with a UDP receiver of the other ranks' totals,
    /// and on every other rank the sender of its own. Loopback when every rank runs on one
    /// host, else rank 0's host name.
    pub fn for_mpi_job(force: Option<bool>, comm: &dyn Comm) -> Result<Progress, CommError> {
        let host = crate::measure::machine::hostname();
        let hosts = comm.allgather_bytes(host.as_bytes())?;
        let one_host = hosts.iter().all(|h| h == &hosts[0]);
        let rank = comm.rank();
        let mut inbox = None;
        let mut offer = Vec::new();
        if rank == 0 && wanted(force) {
            let (bind, advertise) = if one_host {
                ("127.0.0.1", "127.0.0.1".to_string())
            } else {
                ("0.0.0.0", host.clone())
            };
            match UdpSocket::bind((bind, 0)).and_then(|s| {
                s.set_nonblocking(true)?;
                let port = s.local_addr()?.port();
                Ok((s, port))
            }) {
                Ok((socket, port)) => {
                    let token: u32 = rand::random();
                    offer = format!("{token} {advertise}:{port}").into_bytes();
                    inbox = Some(Inbox {
                        socket,
                        token,
                        ranks: comm.size(),
                    });
                }
                Err(e) => {
                    // The display still shows rank 0's own share.
                    tracing::warn!("progress: cannot receive the other ranks' totals: {e}");
                    offer = b"0 -".to_vec();
                }
            }
        }
        let offer = comm.bcast_bytes(&offer, 0)?;
        if rank == 0 {
            return Ok(if wanted(force) {
                Self::with_sink(stderr_sink(), inbox)
            } else {
                Self::disabled()
            });
        }
        let text = String::from_utf8_lossy(&offer);
        let Some((token, addr)) = text.split_once(' ') else {
            return Ok(Self::disabled());
        };
        let (Ok(token), false) = (token.parse::<u32>(), addr == "-") else {
            return Ok(Self::disabled());
        };
        let bind = if one_host { "127.0.0.1" } else { "0.0.0.0" };
        let socket = UdpSocket::bind((bind, 0)).and_then(|s| {
            s.connect(addr)?;
            s.set_nonblocking(true)?;
            Ok(s)
        });
        Ok(match socket {
            Ok(socket) => Self::with_sink(
                Sink::Relay {
                    socket,
                    token,
                    rank: rank as u32,
                },
                None,
            ),
            Err(e) => {
                tracing::warn!("progress: rank {rank} cannot report to rank 0 ({addr}): {e}");
                Self::disabled()
            }
        })
    }

    /// A display that shows nothing.
    pub fn disabled() -> Progress {
        Progress { inner: None }
    }

    fn with_sink(sink: Sink, inbox: Option<Inbox>) -> Progress {
        Progress {
            inner: Some(Arc::new(Shared {
                sink: Arc::new(sink),
                inbox: inbox.map(Arc::new),
                active: Mutex::new(None),
                between: Mutex::new(String::new()),
                between_bar: Mutex::new(None),
            })),
        }
    }

    /// Whether anything is shown (or relayed).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// A task starts a phase, moving `bytes` (0 if unknown). Every task of this process calls
    /// it before its first transfer of the phase (the engine's barrier before each phase
    /// keeps phases apart): the first shows the phase, ending any phase still shown, the
    /// others join it. Returns the counts the task's interval recorder publishes to (`None`
    /// when disabled).
    pub fn phase_begin(&self, label: PhaseLabel<'_>, bytes: u64) -> Option<Arc<LiveCounts>> {
        let s = self.inner.as_ref()?;
        let live = Arc::new(LiveCounts::default());
        let key = label.key();
        let mut active = lock(&s.active);
        if let Some(a) = active.as_ref() {
            let mut st = lock(&a.state);
            if st.key == key {
                st.tasks.push((Arc::clone(&live), bytes));
                return Some(live);
            }
        }
        stop(active.take());
        s.end_between();
        *lock(&s.between) = String::new();
        let state = Arc::new(Mutex::new(PhaseState {
            key,
            name: label.name(),
            stage: Stage::Open,
            tasks: vec![(Arc::clone(&live), bytes)],
            finished: 0,
            exact: None,
            job_tasks: label.tasks.max(1),
        }));
        let stop_flag = Arc::new(AtomicBool::new(false));
        let ticker = {
            let state = Arc::clone(&state);
            let stop_flag = Arc::clone(&stop_flag);
            let sink = Arc::clone(&s.sink);
            let inbox = s.inbox.clone();
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || match &*sink {
                    Sink::Relay {
                        socket,
                        token,
                        rank,
                    } => relay(&state, &stop_flag, socket, *token, *rank),
                    _ => tick(&state, &stop_flag, &sink, inbox.as_deref()),
                })
                .ok()
        };
        *active = Some(Active {
            state,
            stop: stop_flag,
            ticker,
        });
        Some(live)
    }

    /// Says what the tasks are doing now within the phase.
    pub fn stage(&self, stage: Stage) {
        if let Some(s) = &self.inner {
            if let Some(a) = lock(&s.active).as_ref() {
                lock(&a.state).stage = stage;
            }
        }
    }

    /// A task ends the current phase, whose exact total over every rank is `total` (if the
    /// engine reduced it); when every task of this process has, the phase's line is removed
    /// (a terminal bar) or its last line printed.
    pub fn phase_end(&self, total: Option<u64>) {
        let Some(s) = &self.inner else { return };
        let mut active = lock(&s.active);
        let done = match active.as_ref() {
            Some(a) => {
                let mut st = lock(&a.state);
                st.finished += 1;
                if total.is_some() {
                    st.exact = total;
                }
                st.finished >= st.tasks.len()
            }
            None => false,
        };
        if done {
            stop(active.take());
        }
    }

    /// Announces a step between timed phases (`settle`, `verify`, `remove`) of `label`'s
    /// test and iteration: once per step however many local tasks call it; on a terminal a
    /// spinner until the next phase or step.
    pub fn between(&self, label: PhaseLabel<'_>, what: &str) {
        let Some(s) = &self.inner else { return };
        if matches!(&*s.sink, Sink::Relay { .. }) {
            return;
        }
        let text = format!(
            "test {} iter {}/{}: {what}",
            label.test_id,
            label.iteration + 1,
            label.iterations.max(1)
        );
        {
            let mut last = lock(&s.between);
            if *last == text {
                return;
            }
            last.clone_from(&text);
        }
        stop(lock(&s.active).take());
        s.end_between();
        match &*s.sink {
            Sink::Bar => {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    )
                    .with_message(text);
                b.enable_steady_tick(REFRESH);
                let shown = log::show_display(suspend_of(&b));
                *lock(&s.between_bar) = Some((b, shown));
            }
            Sink::Lines(_) => s.write_line(&format!("progress: {text}")),
            Sink::Relay { .. } => {}
        }
    }
}

/// The totals of the whole job: this process's tasks, and the other ranks' reports.
struct Totals {
    bytes: u64,
    total: u64,
    /// Ranks (processes) counted, of how many.
    reporting: Option<(usize, usize)>,
}

/// Reads every datagram waiting in `inbox` into `reports` (by rank: bytes, share).
fn drain(inbox: &Inbox, key: u64, reports: &mut HashMap<u32, (u64, u64)>) {
    let mut buf = [0u8; 64];
    while let Ok(n) = inbox.socket.recv(&mut buf) {
        let Some(d) = decode(&buf[..n]) else { continue };
        if d.0 != inbox.token || d.1 != key {
            continue;
        }
        let e = reports.entry(d.2).or_insert((0, 0));
        e.0 = e.0.max(d.3);
        e.1 = d.5;
    }
}

fn encode(token: u32, key: u64, rank: u32, bytes: u64, ops: u64, share: u64) -> [u8; DATAGRAM] {
    let mut b = [0u8; DATAGRAM];
    b[..4].copy_from_slice(MAGIC);
    b[4..8].copy_from_slice(&token.to_le_bytes());
    b[8..16].copy_from_slice(&key.to_le_bytes());
    b[16..20].copy_from_slice(&rank.to_le_bytes());
    b[20..28].copy_from_slice(&bytes.to_le_bytes());
    b[28..36].copy_from_slice(&ops.to_le_bytes());
    b[36..44].copy_from_slice(&share.to_le_bytes());
    b
}

/// token, key, rank, bytes, ops, share.
fn decode(b: &[u8]) -> Option<(u32, u64, u32, u64, u64, u64)> {
    if b.len() != DATAGRAM || &b[..4] != MAGIC {
        return None;
    }
    let w4 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let w8 = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    Some((w4(4), w8(8), w4(16), w8(20), w8(28), w8(36)))
}

/// This process's tasks' bytes, operations and shares.
fn local_totals(st: &PhaseState) -> (u64, u64, u64) {
    st.tasks.iter().fold((0, 0, 0), |(b, o, s), (l, share)| {
        let (lb, lo) = l.load();
        (b + lb, o + lo, s + share)
    })
}

/// A rank other than 0: its totals to rank 0 every [`REFRESH`] until the phase ends.
fn relay(state: &Mutex<PhaseState>, stop: &AtomicBool, socket: &UdpSocket, token: u32, rank: u32) {
    let send = || {
        let st = lock(state);
        let (bytes, ops, share) = local_totals(&st);
        // A full socket buffer or an unreachable rank 0 only delays the display.
        let _ = socket.send(&encode(token, st.key, rank, bytes, ops, share));
    };
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(REFRESH);
        send();
    }
    send();
}

/// The whole job's totals now.
fn totals(
    st: &PhaseState,
    inbox: Option<&Inbox>,
    reports: &mut HashMap<u32, (u64, u64)>,
) -> Totals {
    let (mut bytes, _, mut total) = local_totals(st);
    let mut reporting = None;
    if let Some(inbox) = inbox {
        drain(inbox, st.key, reports);
        let mine = st.tasks.first().map_or(0, |t| t.1);
        for (b, share) in reports.values() {
            bytes += b;
            total += share;
        }
        let others = inbox.ranks.min(st.job_tasks).saturating_sub(1);
        // Ranks not heard from yet are assumed to move what rank 0 moves.
        total += mine * others.saturating_sub(reports.len()) as u64;
        reporting = Some((1 + reports.len().min(others), 1 + others));
    }
    if let Some(exact) = st.exact {
        bytes = exact;
        total = total.max(exact);
        reporting = reporting.map(|(_, n)| (n, n));
    }
    Totals {
        bytes,
        total,
        reporting,
    }
}

/// How log lines are written while `bar` is drawn: with the bar hidden, then redrawn.
fn suspend_of(bar: &ProgressBar) -> log::Suspend {
    let bar = bar.clone();
    Arc::new(move |write: &mut dyn FnMut()| bar.suspend(&mut *write))
}

/// The ticker of one phase: samples the counts, redraws the bar or prints a plain line once
/// a second, and a last line (plain) or a cleared bar when stopped.
fn tick(state: &Mutex<PhaseState>, stop: &AtomicBool, sink: &Sink, inbox: Option<&Inbox>) {
    let mut rate = Rate::default();
    let started = Instant::now();
    let mut printed: Option<Instant> = None;
    let mut reports = HashMap::new();
    let bar = match sink {
        Sink::Bar => {
            let style = ProgressStyle::with_template(TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
                .with_style(style);
            let shown = log::show_display(suspend_of(&b));
            Some((b, shown))
        }
        _ => None,
    };
    let label = |st: &PhaseState, t: &Totals| {
        let who = match t.reporting {
            Some((k, n)) if k < n => format!("{k} of {n} ranks reporting"),
            Some((_, n)) => format!("{n} rank{}", if n == 1 { "" } else { "s" }),
            None => {
                let n = st.job_tasks;
                format!("{n} task{}", if n == 1 { "" } else { "s" })
            }
        };
        format!("{} ({who})", st.name)
    };
    let show = |t: &Totals, name: &str, stage: &str, r: f64, last: bool| {
        let st = if last {
            let secs = started.elapsed().as_secs_f64();
            format!(
                "done in {secs:.2} s, {}/s mean",
                BinaryBytes((t.bytes as f64 / secs.max(1e-9)) as u64)
            )
        } else {
            status(stage, t.bytes, t.total, r)
        };
        match (&bar, sink) {
            (Some((b, _)), _) => {
                b.set_length(t.total);
                b.set_position(t.bytes);
                b.set_message(format!("{name} {st}"));
            }
            (None, Sink::Lines(w)) => {
                let of = if t.total > 0 {
                    format!(
                        " of {} ({:.0}%)",
                        BinaryBytes(t.total),
                        t.bytes as f64 * 100.0 / t.total as f64
                    )
                } else {
                    String::new()
                };
                let mut w = lock(w);
                let _ = writeln!(w, "progress: {name}: {}{of}, {st}", BinaryBytes(t.bytes));
                let _ = w.flush();
            }
            _ => {}
        }
    };
    let mut last_rate = 0.0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(REFRESH);
        let now = Instant::now();
        let (t, name, stage) = {
            let st = lock(state);
            let t = totals(&st, inbox, &mut reports);
            let name = label(&st, &t);
            (t, name, st.stage.as_str())
        };
        last_rate = rate.sample(now, t.bytes);
        let due = now.duration_since(printed.unwrap_or(started)) >= PLAIN_EVERY;
        if bar.is_some() || due {
            show(&t, &name, stage, last_rate, false);
            printed = Some(now);
        }
    }
    let (t, name) = {
        let st = lock(state);
        let t = totals(&st, inbox, &mut reports);
        let name = label(&st, &t);
        (t, name)
    };
    match &bar {
        Some((b, shown)) => {
            b.set_position(t.bytes);
            log::hide_display(*shown);
            b.finish_and_clear();
        }
        None => show(&t, &name, "", last_rate, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
        }
    }

    fn to_buffer(inbox: Option<Inbox>) -> (Progress, Buf) {
        let buf = Buf::default();
        let p = Progress::with_sink(Sink::Lines(Mutex::new(Box::new(buf.clone()))), inbox);
        (p, buf)
    }

    fn label(phase: &str, iteration: usize, tasks: usize) -> PhaseLabel<'_> {
        PhaseLabel {
            test_id: 3,
            phase,
            iteration,
            iterations: 4,
            tasks,
        }
    }

    #[test]
    fn disabled_is_inert() {
        let p = Progress::new(Some(false));
        assert!(!p.is_enabled());
        assert!(p.phase_begin(label("write", 0, 1), 100).is_none());
        p.stage(Stage::Close);
        p.phase_end(None);
        p.between(label("write", 0, 1), "verify");
    }

    #[test]
    fn forced_on_is_enabled() {
        assert!(Progress::new(Some(true)).is_enabled());
        // Auto mode follows whether stderr is a terminal.
        assert_eq!(
            Progress::new(None).is_enabled(),
            std::io::stderr().is_terminal()
        );
    }

    #[test]
    fn counts_every_task_and_prints_plain_lines() {
        let (p, buf) = to_buffer(None);
        // Each task joins the phase, publishes its bytes (one moves less) and ends it, after
        // every task joined (as the engine's collectives after a phase ensure).
        let joined = Arc::new(std::sync::Barrier::new(4));
        let tasks: Vec<_> = (0..4u64)
            .map(|i| {
                let q = p.clone();
                let joined = Arc::clone(&joined);
                std::thread::spawn(move || {
                    let mine = if i == 3 { 1 << 19 } else { 1 << 20 };
                    let live = q.phase_begin(label("write", 1, 4), mine).unwrap();
                    live.store(mine, 1);
                    joined.wait();
                    q.phase_end(None);
                })
            })
            .collect();
        for t in tasks {
            t.join().unwrap();
        }
        let out = buf.text();
        // The whole job's bytes against the whole job's total, with its label.
        assert!(
            out.contains(
                "progress: test 3 write iter 2/4 (4 tasks): 3.50 MiB of 3.50 MiB (100%), done"
            ),
            "{out:?}"
        );
        assert!(!out.contains('\x1b'), "no escape codes: {out:?}");

        // Between phases: announced once however many tasks say so.
        p.between(label("write", 1, 4), "verify");
        p.between(label("write", 1, 4), "verify");
        assert_eq!(
            buf.text()
                .matches("progress: test 3 iter 2/4: verify")
                .count(),
            1
        );
        drop(p);
    }

    #[test]
    fn rank_0_adds_the_other_ranks_reports_and_ends_with_the_exact_total() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = socket.local_addr().unwrap();
        let (p, buf) = to_buffer(Some(Inbox {
            socket,
            token: 7,
            ranks: 3,
        }));
        let l = label("read", 0, 3);
        let live = p.phase_begin(l, 1000).unwrap();
        live.store(400, 4);
        // Ranks 1 and 2 report through the relay's datagrams (one with a wrong token).
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.connect(addr).unwrap();
        sender.send(&encode(7, l.key(), 1, 600, 6, 1000)).unwrap();
        sender.send(&encode(8, l.key(), 2, 999, 9, 1000)).unwrap();
        // Wait until a plain line shows both ranks' bytes (the ticker prints once a second).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !buf.text().contains("1000 B of 2.93 KiB") {
            assert!(Instant::now() < deadline, "{}", buf.text());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            buf.text().contains("(2 of 3 ranks reporting)"),
            "{}",
            buf.text()
        );
        p.phase_end(Some(2800));
        let out = buf.text();
        assert!(
            out.contains("test 3 read iter 1/4 (3 ranks): 2.73 KiB of 2.93 KiB (93%), done"),
            "{out}"
        );
    }

    #[test]
    fn datagrams_round_trip() {
        let d = encode(1, 2, 3, 4, 5, 6);
        assert_eq!(decode(&d), Some((1, 2, 3, 4, 5, 6)));
        assert_eq!(decode(&d[1..]), None);
    }

    #[test]
    fn the_rate_is_over_the_last_second_not_since_the_start() {
        let mut r = Rate::default();
        let t0 = Instant::now();
        // 10 s at 100 MB/s, then 2 s of nothing: the mean since the start would still
        // say ~83 MB/s; the window says 0.
        let mut bytes = 0u64;
        for i in 0..=100 {
            bytes = i * 10_000_000;
            r.sample(t0 + Duration::from_millis(i * 100), bytes);
        }
        let busy = r.sample(t0 + Duration::from_millis(10_050), bytes + 5_000_000);
        assert!((busy - 100e6).abs() < 10e6, "{busy}");
        let mut idle = 0.0;
        for i in 1..=20 {
            idle = r.sample(
                t0 + Duration::from_millis(10_050 + i * 100),
                bytes + 5_000_000,
            );
        }
        assert_eq!(idle, 0.0);
    }

    #[test]
    fn the_eta_follows_the_rate() {
        assert_eq!(
            status("transfer", 0, 300 << 20, (100 << 20) as f64),
            "100.00 MiB/s over the last 1 s, ETA 3 seconds"
        );
        assert!(status("close", 10, 10, 5.0).starts_with("close, "));
    }
}
