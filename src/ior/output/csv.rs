//! IOR's CSV output (`summaryFormat=CSV`, SPEC §3.4): per test one header line at the table
//! header, then one line per write/read row. No run header, Options, summary or `Finished`
//! (as IOR); `remove` rows are not printed.
//!
//! Owns the CSV layout only; numbers come from the engine's rows.

use super::Reporter;
use crate::ior::params::IorParams;
use crate::ior::results::{PhaseResult, ResultEntry, RunInfo, TestResults};
use std::io::{self, Write};

/// IOR's CSV header line.
pub const CSV_HEADER: &str =
    "access,bw(MiB/s),IOPS,Latency,block(KiB),xfer(KiB),open(s),wr/rd(s),close(s),total(s),numTasks,iter";

/// Writes IOR's CSV format.
pub struct CsvReporter {
    out: Box<dyn Write + Send>,
}

impl CsvReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        CsvReporter { out }
    }
}

/// IOR's `%.4f`, non-finite values spelled as C does (`inf`, `-nan`): an unmeasurable phase
/// prints what IOR prints.
fn f4(v: f64) -> String {
    crate::ior::stats::c_fixed(v, 4)
}

/// One CSV row of a phase (SPEC §3.4), without the newline.
pub fn csv_row(test: &TestResults, r: &PhaseResult) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{}",
        r.access.as_str(),
        f4(r.bw_mib),
        f4(r.iops),
        f4(r.latency),
        f4(r.block_kib),
        f4(r.xfer_kib),
        f4(r.open_time),
        f4(r.wrrd_time),
        f4(r.close_time),
        f4(r.total_time),
        test.layout.num_tasks,
        r.iteration
    )
}

impl Reporter for CsvReporter {
    fn run_begin(&mut self, _run: &RunInfo, _first: &IorParams) -> io::Result<()> {
        Ok(())
    }

    fn test_begin(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }

    fn table_header(&mut self, _test: &TestResults) -> io::Result<()> {
        writeln!(self.out, "{}", CSV_HEADER)?;
        self.out.flush()
    }

    fn entry(&mut self, test: &TestResults, entry: &ResultEntry) -> io::Result<()> {
        if let ResultEntry::Phase(r) = entry {
            writeln!(self.out, "{}", csv_row(test, r))?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn test_end(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }

    fn run_end(
        &mut self,
        _run: &RunInfo,
        _tests: &[TestResults],
        _finished: &str,
    ) -> io::Result<()> {
        self.out.flush()
    }

    fn run_interrupted(
        &mut self,
        _run: &RunInfo,
        _tests: &[TestResults],
        _when: &str,
        _reason: &str,
    ) -> io::Result<()> {
        // CSV has no end marker: the rows of the completed phases are all there is.
        self.out.flush()
    }
}
