//! Rank 0's reporter as the driver sees it: every call goes on to the real reporter (IOR's
//! result stream), and the results so far are kept, so that a run cut short by a signal
//! can still end its stream honestly and write its result document ([`Recorder::interrupt`]).
//!
//! After every completed phase it hands the results so far to a checkpoint (the driver
//! rewrites the result document, marked incomplete), so that a run killed where no handler
//! runs still leaves what it measured.
//!
//! Owns that copy of the results and the lock that keeps the signal thread and the rank
//! thread from writing to the stream at once. It never formats anything itself.

use crate::ior::output::Reporter;
use crate::ior::params::IorParams;
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

struct State {
    inner: Box<dyn Reporter + Send>,
    /// `run_begin` was called (the stream has its header).
    begun: bool,
    /// `run_end` or `run_interrupted` was called: nothing more may be written.
    ended: bool,
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

/// The reporter handed to the engine; cheap to clone (clones share the state).
#[derive(Clone)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
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
            state: Arc::new(Mutex::new(State {
                inner,
                begun: false,
                ended: false,
                tests: Vec::new(),
                checkpoint,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the stream of an interrupted run (`when` ctime, `reason`) unless it already
    /// ended, and returns what had completed. The stream stays locked: whatever the rank
    /// threads still report is dropped (the caller is about to exit).
    pub fn interrupt(&self, when: &str, reason: impl Fn(usize) -> String) -> Completed {
        let mut s = self.lock();
        let tests = s.tests.clone();
        let phases = phases_of(&tests);
        if s.begun && !s.ended {
            s.ended = true;
            let run = RunInfo::default();
            if let Err(e) = s.inner.run_interrupted(&run, &tests, when, &reason(phases)) {
                crate::measure::log::warn(&format!("cannot write the end of the results: {e}"));
            }
        }
        // Held until exit: no rank thread writes after the Interrupted line.
        std::mem::forget(s);
        Completed { tests, phases }
    }
}

impl Reporter for Recorder {
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()> {
        let mut s = self.lock();
        s.begun = true;
        s.inner.run_begin(run, first)
    }

    fn test_begin(&mut self, test: &TestResults) -> io::Result<()> {
        let mut s = self.lock();
        s.tests.push(test.clone());
        s.inner.test_begin(test)
    }

    fn table_header(&mut self, test: &TestResults) -> io::Result<()> {
        self.lock().inner.table_header(test)
    }

    fn entry(&mut self, test: &TestResults, entry: &ResultEntry) -> io::Result<()> {
        let mut s = self.lock();
        if let Some(t) = s.tests.last_mut() {
            t.entries.push(entry.clone());
        }
        // The document first: a row the stream shows is in the document, whenever the
        // process is killed.
        if matches!(entry, ResultEntry::Phase(_)) {
            let s = &mut *s;
            if let Some(c) = s.checkpoint.as_mut() {
                c(&s.tests, phases_of(&s.tests));
            }
        }
        s.inner.entry(test, entry)
    }

    fn test_end(&mut self, test: &TestResults) -> io::Result<()> {
        self.lock().inner.test_end(test)
    }

    fn run_end(&mut self, run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()> {
        let mut s = self.lock();
        s.ended = true;
        s.inner.run_end(run, tests, finished)
    }

    fn run_interrupted(
        &mut self,
        run: &RunInfo,
        tests: &[TestResults],
        when: &str,
        reason: &str,
    ) -> io::Result<()> {
        let mut s = self.lock();
        s.ended = true;
        s.inner.run_interrupted(run, tests, when, reason)
    }
}
