//! Rank 0's record of a run as the driver sees it, for every engine (IOR, mdtest,
//! md-workbench, io500): the result stream and the results completed so far, shared by the
//! rank thread, the checkpoint after each phase and the signal thread, so that a run cut
//! short by a signal can still end its stream honestly and write its result document.
//!
//! [`Record`] is the one mechanism: a lock around the engine's stream and results that the
//! signal thread takes for good ([`Record::interrupt`]), after which nothing more reaches the
//! stream. After every completed phase the document is rewritten with the phases so far,
//! marked incomplete ([`write_checkpoint`]), so that a run killed where no handler runs (e.g.
//! by mpirun's SIGKILL) still leaves what it measured; on SIGINT, SIGTERM or SIGHUP
//! [`watch`] ends the stream and writes the document marked interrupted, with exit status
//! 128 + the signal ([`crate::harness::cleanup`]'s signal thread exits with it).
//!
//! [`Recorder`] is IOR's reporter on a record; [`TextRecord`] the record of an engine whose
//! stream is plain text (mdtest, md-workbench, io500), with its [`TextRecord::writer`] for the
//! engine and [`TextRecord::completed`] for its phases.
//!
//! Owns the lock, the copy of the results and the writing of checkpoint and interrupted
//! documents. It never formats results itself (the engines' reporters and closures do).

use crate::harness::cleanup;
use crate::harness::driver::{document_targets, targets_of, write_documents_to};
use crate::ior::output::Reporter;
use crate::ior::params::IorParams;
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use crate::measure::log;
use crate::results::document::{Interruption, ResultDocument, RunContext};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

struct Guarded<S> {
    state: S,
    /// The stream ended (normally, or by a signal): nothing more may be written.
    ended: bool,
}

/// An engine's stream and results, shared; cheap to clone (clones share the state).
pub struct Record<S> {
    shared: Arc<Mutex<Guarded<S>>>,
}

impl<S> Clone for Record<S> {
    fn clone(&self) -> Self {
        Record {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: Send> Record<S> {
    /// A record around `state`.
    pub fn new(state: S) -> Self {
        Record {
            shared: Arc::new(Mutex::new(Guarded {
                state,
                ended: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Guarded<S>> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state unless the stream has ended; `None` then.
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let mut g = self.lock();
        (!g.ended).then(|| f(&mut g.state))
    }

    /// Runs `f` (the stream's normal end) unless the stream has ended, and marks it ended.
    pub fn end<R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let mut g = self.lock();
        if g.ended {
            return None;
        }
        g.ended = true;
        Some(f(&mut g.state))
    }

    /// The signal thread's end: runs `f` with the state and whether the stream had already
    /// ended, and marks it ended. The lock stays held until the process exits: whatever the
    /// rank threads still write is held back (the caller is about to exit).
    pub fn interrupt<R>(&self, f: impl FnOnce(&mut S, bool) -> R) -> R {
        let mut g = self.lock();
        let was = g.ended;
        g.ended = true;
        let r = f(&mut g.state, was);
        std::mem::forget(g);
        r
    }
}

/// `ctx` of a run cut short: finished now, marked interrupted by `signal` (0: not known to
/// have ended, a checkpoint) for `reason`.
pub fn cut_short(ctx: &RunContext, signal: i32, reason: String) -> RunContext {
    let mut ctx = ctx.clone();
    ctx.finished = crate::timestamp::now();
    ctx.interrupted = Some(Interruption { signal, reason });
    ctx
}

/// Why a checkpoint's document is incomplete, after `done` phases (of `expected`, if known).
pub fn incomplete_reason(done: usize, expected: Option<usize>) -> String {
    let of = expected.map_or(String::new(), |n| format!(" of {n}"));
    format!("incomplete: {done}{of} phases; the run had not ended when this was written")
}

/// Why an interrupted run's document is incomplete: `signal` (its name) after `done` phases
/// (of `expected`, if known).
pub fn signal_reason(signal: &str, done: usize, expected: Option<usize>) -> String {
    let of = expected.map_or(String::new(), |n| format!(" of {n}"));
    format!("{signal} after {done}{of} phases")
}

/// Rewrites the document of a run still going (`doc`, marked incomplete) in every file of
/// `targets`; a file that cannot be written is a warning (the run goes on).
pub fn write_checkpoint(targets: &[PathBuf], doc: &ResultDocument) {
    for path in targets {
        if let Err(e) = doc.write_to(path) {
            log::warn(&format!(
                "cannot write the result document \"{}\" after a phase: {e}",
                path.display()
            ));
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP: `end(state, ended, signal, name)` ends `record`'s stream
/// (unless `ended`, it had ended already) and returns the document of what completed,
/// written to `targets` with exit status 128 + the signal. Replaces an earlier watch.
pub fn watch<S: Send + 'static>(
    record: &Record<S>,
    targets: Vec<PathBuf>,
    end: impl FnOnce(&mut S, bool, i32, &str) -> ResultDocument + Send + 'static,
) {
    let rec = record.clone();
    cleanup::on_signal(move |sig| {
        let name = cleanup::signal_name(sig);
        let mut doc = None;
        rec.interrupt(|s, ended| doc = Some(end(s, ended, sig, &name)));
        if let Some(doc) = doc {
            let _ = write_documents_to(128 + sig, &targets, || doc);
        }
    });
}

/// The state of a plain-text engine's record: rank 0's stream, the results so far and the
/// number of completed phases.
pub struct TextRun<T> {
    out: Box<dyn Write + Send>,
    results: T,
    phases: usize,
    /// When the last checkpoint was written.
    written: Option<std::time::Instant>,
}

/// How often a text engine's document is rewritten at most while the run goes on.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The document of a text engine's results so far with the run's context (cut short or
/// not); shared by the checkpoint and the signal thread.
pub type DocumentOf<T> = Arc<dyn Fn(&T, &RunContext) -> ResultDocument + Send + Sync>;

/// The record of a plain-text engine (mdtest, md-workbench, io500): the engine writes its
/// text through [`TextRecord::writer`] and reports each completed phase with
/// [`TextRecord::completed`]; the document is checkpointed then and written marked
/// interrupted on a signal.
pub struct TextRecord<T> {
    record: Record<TextRun<T>>,
    targets: Vec<PathBuf>,
    ctx: RunContext,
    expected: Option<usize>,
    doc: DocumentOf<T>,
}

impl<T: Clone + Default + Send + 'static> TextRecord<T> {
    /// A record of the stream `out`, whose document `doc` makes (with context `ctx`) and
    /// goes to `targets`; `expected` phases if known. On a signal, `end_text(out, results,
    /// reason)` ends the stream (it must not claim completion; it may mark the results, e.g.
    /// invalid), the document is written
    /// marked interrupted and the process exits with 128 + the signal.
    pub fn new(
        out: Box<dyn Write + Send>,
        targets: Vec<PathBuf>,
        ctx: RunContext,
        expected: Option<usize>,
        doc: DocumentOf<T>,
        end_text: impl FnOnce(&mut dyn Write, &mut T, &str) + Send + 'static,
    ) -> TextRecord<T> {
        let record = Record::new(TextRun {
            out,
            results: T::default(),
            phases: 0,
            written: None,
        });
        let (doc_at_signal, ctx_at_signal) = (Arc::clone(&doc), ctx.clone());
        watch(&record, targets.clone(), move |s, ended, sig, name| {
            let reason = signal_reason(name, s.phases, expected);
            if !ended {
                end_text(&mut *s.out, &mut s.results, &reason);
                let _ = s.out.flush();
            }
            doc_at_signal(&s.results, &cut_short(&ctx_at_signal, sig, reason))
        });
        TextRecord {
            record,
            targets,
            ctx,
            expected,
            doc,
        }
    }

    /// The stream for the engine: writes pass on until the run is interrupted, then they are
    /// dropped (the signal thread has ended the stream).
    pub fn writer(&self) -> Box<dyn Write + Send> {
        Box::new(RecordWriter(self.record.clone()))
    }

    /// Runs `f` on the stream under the record's lock unless the run was interrupted (then
    /// `false`): an engine that writes other files the signal thread also ends (io500's
    /// result files) writes them inside `f`, so that the two never interleave.
    pub fn locked(&self, f: &mut dyn FnMut(&mut dyn Write)) -> bool {
        self.record.with(|s| f(&mut *s.out)).is_some()
    }

    /// The engine completed `phases` phases: `update` adds them to the results so far. The document
    /// is rewritten, marked incomplete, at most every [`CHECKPOINT_EVERY`] (a run of many
    /// short phases must not spend its time rewriting a growing document; a signal writes
    /// every phase).
    pub fn completed(&self, phases: usize, update: impl FnOnce(&mut T)) {
        let (targets, ctx, expected, doc) = (&self.targets, &self.ctx, self.expected, &self.doc);
        self.record.with(|s| {
            update(&mut s.results);
            s.phases += phases;
            let due = s.written.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY);
            if !targets.is_empty() && due {
                let reason = incomplete_reason(s.phases, expected);
                write_checkpoint(targets, &doc(&s.results, &cut_short(ctx, 0, reason)));
                s.written = Some(std::time::Instant::now());
            }
        });
    }

    /// The run ended (normally or on an error): a signal from now on only removes data.
    pub fn ended(&self) {
        cleanup::clear_on_signal();
        self.record.end(|s| {
            let _ = s.out.flush();
        });
    }
}

/// A plain-text engine's [`TextRecord`] as its benchmark keeps it: opened on rank 0 with its
/// stream, reported to by the engine, and used at the end for the document, which goes to
/// the files named when it was opened.
pub struct TextSlot<T> {
    record: OnceLock<TextRecord<T>>,
    /// `--json FILE` and `--results-dir DIR`.
    json_file: Option<String>,
    results_dir: Option<String>,
    /// The files they name, named once.
    targets: OnceLock<Vec<PathBuf>>,
}

impl<T: Clone + Default + Send + 'static> TextSlot<T> {
    /// The slot of a run whose document goes to `--json FILE` and `--results-dir DIR`.
    pub fn new(json_file: Option<&str>, results_dir: Option<&str>) -> TextSlot<T> {
        TextSlot {
            record: OnceLock::new(),
            json_file: json_file.map(str::to_string),
            results_dir: results_dir.map(str::to_string),
            targets: OnceLock::new(),
        }
    }

    /// Rank 0's stdout, recorded (see [`TextRecord::new`]); the document files are named
    /// now; the run began at `began` (ctime).
    pub fn open(
        &self,
        began: &str,
        expected: Option<usize>,
        doc: DocumentOf<T>,
        end_text: impl FnOnce(&mut dyn Write, &mut T, &str) + Send + 'static,
    ) -> Result<Box<dyn Write + Send>, String> {
        let targets = document_targets(self.json_file.as_deref(), self.results_dir.as_deref())?;
        let _ = self.targets.set(targets.clone());
        let record = TextRecord::new(
            Box::new(std::io::LineWriter::new(std::io::stdout())),
            targets,
            crate::harness::context::ended_now(began),
            expected,
            doc,
            end_text,
        );
        let out = record.writer();
        let _ = self.record.set(record);
        Ok(out)
    }

    /// [`TextRecord::locked`] on the slot's record; `false` before `open`.
    pub fn locked(&self, f: &mut dyn FnMut(&mut dyn Write)) -> bool {
        self.record.get().is_some_and(|r| r.locked(f))
    }

    /// Whether the slot was opened (rank 0): only then the engine reports its phases.
    pub fn is_open(&self) -> bool {
        self.record.get().is_some()
    }

    /// The engine completed `phases` phases ([`TextRecord::completed`]; nothing before
    /// `open`).
    pub fn report(&self, phases: usize, update: impl FnOnce(&mut T)) {
        if let Some(r) = self.record.get() {
            r.completed(phases, update);
        }
    }

    /// The end of the run on rank 0: a signal from now on only removes data; the document
    /// `doc` makes is written with `status` to the files named at the start (else named
    /// now). Returns the exit status.
    pub fn finish(&self, status: i32, doc: impl FnOnce() -> ResultDocument) -> i32 {
        match self.record.get() {
            Some(r) => r.ended(),
            None => cleanup::clear_on_signal(),
        }
        match targets_of(
            &self.targets,
            self.json_file.as_deref(),
            self.results_dir.as_deref(),
        ) {
            Ok(t) => write_documents_to(status, &t, doc),
            Err(e) => {
                log::error(&e);
                crate::harness::driver::EXIT_ERROR
            }
        }
    }
}

/// [`TextRecord::writer`].
struct RecordWriter<T>(Record<TextRun<T>>);

impl<T: Send> Write for RecordWriter<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.with(|s| s.out.write(buf)).unwrap_or(Ok(buf.len()))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.with(|s| s.out.flush()).unwrap_or(Ok(()))
    }
}

/// IOR's record: the real reporter, whether the stream has its header, the tests begun with
/// their completed entries, and the checkpoint.
struct IorState {
    inner: Box<dyn Reporter + Send>,
    /// `run_begin` was called (the stream has its header).
    begun: bool,
    /// Every test begun, with the entries (phases) that completed.
    tests: Vec<TestResults>,
    /// Called with the tests so far and the number of completed phases after each phase.
    checkpoint: Option<Checkpoint>,
}

/// What [`Recorder`] calls after each completed phase.
pub type Checkpoint = Box<dyn FnMut(&[TestResults], usize) + Send>;

/// Completed write and read phases of `tests`.
fn phases_of(tests: &[TestResults]) -> usize {
    tests
        .iter()
        .flat_map(|t| t.entries.iter())
        .filter(|e| matches!(e, ResultEntry::Phase(_)))
        .count()
}

/// IOR's reporter handed to the engine: every call goes on to the real reporter (IOR's
/// result stream) and the results so far are kept in the record. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    record: Record<IorState>,
}

/// What an interrupted run had completed.
pub struct Completed {
    /// Every test begun, with its completed entries.
    pub tests: Vec<TestResults>,
    /// Completed write and read phases.
    pub phases: usize,
}

impl Recorder {
    /// Records what passes on to `inner`.
    pub fn new(inner: Box<dyn Reporter + Send>, checkpoint: Option<Checkpoint>) -> Self {
        Recorder {
            record: Record::new(IorState {
                inner,
                begun: false,
                tests: Vec::new(),
                checkpoint,
            }),
        }
    }

    /// Ends the stream of an interrupted run (`when` ctime, `reason`) unless it already
    /// ended, and returns what had completed. The stream stays locked: whatever the rank
    /// threads still report is held back (the caller is about to exit).
    pub fn interrupt(&self, when: &str, reason: impl Fn(usize) -> String) -> Completed {
        self.record.interrupt(|s, ended| {
            let tests = s.tests.clone();
            let phases = phases_of(&tests);
            if s.begun && !ended {
                let run = RunInfo::default();
                if let Err(e) = s.inner.run_interrupted(&run, &tests, when, &reason(phases)) {
                    log::warn(&format!("cannot write the end of the results: {e}"));
                }
            }
            Completed { tests, phases }
        })
    }

    /// `f` on the state unless the stream ended (then the call is dropped: `Ok`).
    fn pass(&self, f: impl FnOnce(&mut IorState) -> io::Result<()>) -> io::Result<()> {
        self.record.with(f).unwrap_or(Ok(()))
    }
}

impl Reporter for Recorder {
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()> {
        self.pass(|s| {
            s.begun = true;
            s.inner.run_begin(run, first)
        })
    }

    fn test_begin(&mut self, test: &TestResults) -> io::Result<()> {
        self.pass(|s| {
            s.tests.push(test.clone());
            s.inner.test_begin(test)
        })
    }

    fn table_header(&mut self, test: &TestResults) -> io::Result<()> {
        self.pass(|s| s.inner.table_header(test))
    }

    fn entry(&mut self, test: &TestResults, entry: &ResultEntry) -> io::Result<()> {
        self.pass(|s| {
            if let Some(t) = s.tests.last_mut() {
                t.entries.push(entry.clone());
            }
            // The document first: a row the stream shows is in the document, whenever the
            // process is killed.
            if matches!(entry, ResultEntry::Phase(_)) {
                let done = phases_of(&s.tests);
                if let Some(c) = s.checkpoint.as_mut() {
                    c(&s.tests, done);
                }
            }
            s.inner.entry(test, entry)
        })
    }

    fn test_end(&mut self, test: &TestResults) -> io::Result<()> {
        self.pass(|s| s.inner.test_end(test))
    }

    fn run_end(&mut self, run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()> {
        self.record
            .end(|s| s.inner.run_end(run, tests, finished))
            .unwrap_or(Ok(()))
    }

    fn run_interrupted(
        &mut self,
        run: &RunInfo,
        tests: &[TestResults],
        when: &str,
        reason: &str,
    ) -> io::Result<()> {
        self.record
            .end(|s| s.inner.run_interrupted(run, tests, when, reason))
            .unwrap_or(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn after_an_interrupt_the_stream_takes_nothing_more() {
        let out = Shared::default();
        let rec = Record::new(TextRun {
            out: Box::new(out.clone()),
            results: 0u32,
            phases: 0,
            written: None,
        });
        let mut w = RecordWriter(rec.clone());
        w.write_all(b"one\n").unwrap();
        let shown = std::thread::spawn({
            let rec = rec.clone();
            move || {
                rec.interrupt(|s, ended| {
                    assert!(!ended);
                    s.out.write_all(b"-- interrupted --\n").unwrap();
                    s.results
                })
            }
        })
        .join()
        .unwrap();
        assert_eq!(shown, 0);
        // The lock is held for good: a write from here would block; `with` is not reached.
        assert!(rec.shared.try_lock().is_err());
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            "one\n-- interrupted --\n"
        );
    }

    #[test]
    fn reasons_say_how_far_the_run_came() {
        assert_eq!(
            signal_reason("SIGINT", 3, Some(40)),
            "SIGINT after 3 of 40 phases"
        );
        assert_eq!(signal_reason("SIGTERM", 2, None), "SIGTERM after 2 phases");
        assert!(incomplete_reason(1, None).starts_with("incomplete: 1 phases;"));
    }
}
