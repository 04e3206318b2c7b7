//! IOR's text output (SPEC §3).
use super::Reporter;
use crate::ior::params::IorParams;
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use std::io::{self, Write};

/// Writes IOR's text format.
pub struct TextReporter {
    #[allow(dead_code)]
    out: Box<dyn Write + Send>,
}

impl TextReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        TextReporter { out }
    }
}

impl Reporter for TextReporter {
    fn run_begin(&mut self, _run: &RunInfo, _first: &IorParams) -> io::Result<()> {
        Ok(())
    }
    fn test_begin(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }
    fn table_header(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }
    fn entry(&mut self, _test: &TestResults, _entry: &ResultEntry) -> io::Result<()> {
        Ok(())
    }
    fn test_end(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }
    fn run_end(&mut self, _run: &RunInfo, _tests: &[TestResults], _finished: &str) -> io::Result<()> {
        Ok(())
    }
}
