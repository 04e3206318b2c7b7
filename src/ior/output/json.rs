//! IOR's JSON output (SPEC §4).
use super::Reporter;
use crate::ior::params::IorParams;
use crate::ior::results::{ResultEntry, RunInfo, TestResults};
use std::io::{self, Write};

/// Writes IOR's JSON format.
pub struct JsonReporter {
    #[allow(dead_code)]
    out: Box<dyn Write + Send>,
}

impl JsonReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonReporter { out }
    }
}

impl Reporter for JsonReporter {
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
