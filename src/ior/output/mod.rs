//! IOR's output formats: text (SPEC §3), JSON (§4) and CSV (§3.4), behind one [`Reporter`].
//!
//! Owns the formatting of the result stream only. It never measures, never reduces over
//! ranks and never decides what to print when: the engine calls the reporter in execution
//! order, on rank 0 only. Warnings and logs are not part of the result stream: they go
//! through [`crate::ior::log`] to stderr, so JSON on stdout stays valid.

pub mod csv;
pub mod json;
pub mod text;

use crate::ior::params::{IorParams, SummaryFormat};
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use std::io::{self, Write};

/// Receives the results of a run in execution order and writes them in one format.
pub trait Reporter {
    /// Start of the run: header lines (`IOR-...`, `Began`, `Command line`, `Machine`).
    /// `first` is the first test's parameters (its verbosity decides optional lines).
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()>;
    /// Start of a test: `TestID`, `StartTime`, `Path`/`FS`, (`Parameters`), `Options`, `Results:`.
    fn test_begin(&mut self, test: &TestResults) -> io::Result<()>;
    /// The two header lines of the Results table (printed once per test, after the
    /// pre-existing-file warnings of the first write).
    fn table_header(&mut self, test: &TestResults) -> io::Result<()>;
    /// One row (a phase, or `remove` with `-v`); `entry` is also the last of `test.entries`.
    fn entry(&mut self, test: &TestResults, entry: &ResultEntry) -> io::Result<()>;
    /// End of a test: `Max Write`/`Max Read` with `-v`, long summary with `summaryAlways`.
    fn test_end(&mut self, test: &TestResults) -> io::Result<()>;
    /// End of the run: `Summary of all tests` and `Finished`.
    fn run_end(&mut self, run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()>;
}

/// The reporter for `format`, writing to `out`.
pub fn reporter_for(format: SummaryFormat, out: Box<dyn Write + Send>) -> Box<dyn Reporter + Send> {
    match format {
        SummaryFormat::Default => Box::new(text::TextReporter::new(out)),
        SummaryFormat::Json => Box::new(json::JsonReporter::new(out)),
        SummaryFormat::Csv => Box::new(csv::CsvReporter::new(out)),
    }
}
