//! IOR's text output (`summaryFormat=default`, SPEC §3): header, per-test `Options` block,
//! Results table, `Max Write`/`Max Read`, long summaries and `Finished`.
//!
//! Owns the layout of the text result stream only (exact widths, separators and trailing
//! spaces of IOR). Numbers come from [`crate::ior::stats`]; warnings and logs never pass
//! through here.

use super::{header_line, max_bandwidth, options_block, parameters_block, Reporter};
use crate::ior::params::IorParams;
use crate::ior::results::{Phase, PhaseResult, ResultEntry, RunInfo, TestResults};
use crate::ior::stats::{self, c_fixed, pp_double, OpSummary};
use crate::measure::fsinfo;
use std::io::{self, Write};

/// Writes IOR's text format.
pub struct TextReporter {
    out: Box<dyn Write + Send>,
    run: Option<RunInfo>,
}

impl TextReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        TextReporter { out, run: None }
    }
}

/// A `"%-20s: %s"` key/value line (without the newline).
pub fn key_val(key: &str, val: &str) -> String {
    format!("{:<20}: {}", key, val)
}

/// The two header lines of the Results table (without the leading blank line).
pub const TABLE_HEADER: [&str; 2] = [
    "access    bw(MiB/s)  IOPS       Latency(s)  block(KiB) xfer(KiB)  open(s)    wr/rd(s)   close(s)   total(s)   iter",
    "------    ---------  ----       ----------  ---------- ---------  --------   --------   --------   --------   ----",
];

/// One Results row of a phase, exactly as IOR prints it (SPEC §3.2), without the newline.
pub fn phase_row(r: &PhaseResult) -> String {
    let mut line = format!("{:<10}", r.access.as_str());
    let cols = [
        (r.bw_mib, " "),
        (r.iops, " "),
        (r.latency, "  "),
        (r.block_kib, " "),
        (r.xfer_kib, " "),
        (r.open_time, " "),
        (r.wrrd_time, " "),
        (r.close_time, " "),
        (r.total_time, " "),
    ];
    for (v, sep) in cols {
        line.push_str(&pp_double(v));
        line.push_str(sep);
    }
    line.push_str(&format!("{:<4}", r.iteration));
    line
}

/// The `remove` row printed with `-v`, without the newline.
pub fn remove_row(iteration: usize, seconds: f64) -> String {
    format!(
        "remove    -          -          -           -          -          -          -          -          {} {:<4}",
        pp_double(seconds),
        iteration
    )
}

/// The header line of the long summary table (without the leading blank line).
pub fn summary_header() -> String {
    format!(
        "{:<9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>13}{}{:>8} {:>8} {:>9} {:>5}{}",
        "Operation",
        "Max(MiB)",
        "Min(MiB)",
        "Mean(MiB)",
        "StdDev",
        "Max(OPs)",
        "Min(OPs)",
        "Mean(OPs)",
        "StdDev",
        "Mean(s)",
        "Stonewall(s)",
        "Stonewall(MiB)",
        " Test# #Tasks tPN reps fPP reord reordoff reordrand seed segcnt ",
        " blksiz",
        "xsize",
        "aggs(MiB)",
        "API",
        " RefNum"
    )
}

/// One row of the long summary table (SPEC §3.3), without the newline.
pub fn summary_row(test: &TestResults, s: &OpSummary) -> String {
    let p = &test.params;
    let mut line = format!("{:<9} ", s.operation.as_str());
    for v in [
        s.bw_max_mib,
        s.bw_min_mib,
        s.bw_mean_mib,
        s.bw_sd_mib,
        s.ops_max,
        s.ops_min,
        s.ops_mean,
        s.ops_sd,
    ] {
        line.push_str(&format!("{:>10} ", c_fixed(v, 2)));
    }
    line.push_str(&format!("{:>10} ", c_fixed(s.mean_time, 5)));
    match (s.stonewall_time, s.stonewall_bw_mib) {
        (Some(t), Some(bw)) => {
            line.push_str(&format!("{:>10} {:>13} ", c_fixed(t, 2), c_fixed(bw, 2)))
        }
        _ => line.push_str(&format!("{:>10} {:>13} ", "NA", "NA")),
    }
    line.push_str(&format!(
        "{:>5} {:>6} {:>3} {:>4} {:>3} {:>5} {:>8} {:>9} {:>4} {:>6} {:>8} {:>8} {:>9.1} {:>3} {:>6}",
        p.test_id,
        test.layout.num_tasks,
        test.layout.tasks_on_node0,
        p.repetitions,
        p.file_per_proc,
        p.reorder_tasks,
        p.task_per_node_offset,
        p.reorder_tasks_random,
        p.reorder_tasks_random_seed,
        p.segment_count,
        p.block_size,
        p.transfer_size,
        s.aggs_mib,
        p.api,
        p.ref_num
    ));
    line
}

/// The `Max Write:` / `Max Read:` line for a maximum bandwidth in bytes/s.
pub fn max_line(phase: Phase, bytes_per_sec: f64) -> String {
    let label = match phase {
        Phase::Write => "Max Write: ",
        Phase::Read => "Max Read:  ",
    };
    format!(
        "{}{} MiB/sec ({} MB/sec)",
        label,
        c_fixed(bytes_per_sec / stats::MIB, 2),
        c_fixed(bytes_per_sec / 1_000_000.0, 2)
    )
}

impl TextReporter {
    fn write_summary_rows(&mut self, test: &TestResults) -> io::Result<()> {
        for s in stats::summarize_test(test) {
            writeln!(self.out, "{}", summary_row(test, &s))?;
        }
        Ok(())
    }
}

impl Reporter for TextReporter {
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()> {
        self.run = Some(run.clone());
        let machine = run.machine_line(first.verbose);
        writeln!(self.out, "{}", header_line())?;
        writeln!(self.out, "{}", key_val("Began", &run.began))?;
        writeln!(self.out, "{}", key_val("Command line", &run.command_line))?;
        writeln!(self.out, "{}", key_val("Machine", machine))?;
        self.out.flush()
    }

    fn test_begin(&mut self, test: &TestResults) -> io::Result<()> {
        writeln!(
            self.out,
            "{}",
            key_val("TestID", &test.params.test_id.to_string())
        )?;
        writeln!(self.out, "{}", key_val("StartTime", &test.start_time))?;
        if let Some(fs) = &test.fs {
            writeln!(self.out, "{}", key_val("Path", &test.path))?;
            writeln!(self.out, "{}", key_val("FS", &fsinfo::fs_line(fs)))?;
        }
        if test.params.verbose >= 3 {
            let run = self.run.clone().unwrap_or_default();
            write!(self.out, "\nParameters: \n")?;
            for (k, v) in parameters_block(test, &run) {
                writeln!(self.out, "{}", key_val(k, &v.to_string()))?;
            }
        }
        write!(self.out, "\nOptions: \n")?;
        for (k, v) in options_block(test) {
            writeln!(self.out, "{}", key_val(k, &v.to_string()))?;
        }
        write!(self.out, "\nResults: \n")?;
        self.out.flush()
    }

    fn table_header(&mut self, _test: &TestResults) -> io::Result<()> {
        write!(self.out, "\n{}\n{}\n", TABLE_HEADER[0], TABLE_HEADER[1])?;
        self.out.flush()
    }

    fn entry(&mut self, _test: &TestResults, entry: &ResultEntry) -> io::Result<()> {
        match entry {
            ResultEntry::Phase(r) => writeln!(self.out, "{}", phase_row(r))?,
            ResultEntry::Remove(r) => {
                writeln!(self.out, "{}", remove_row(r.iteration, r.total_time))?
            }
        }
        self.out.flush()
    }

    fn test_end(&mut self, test: &TestResults) -> io::Result<()> {
        if test.params.verbose >= 1 {
            for phase in [Phase::Write, Phase::Read] {
                if let Some(max) = max_bandwidth(test, phase) {
                    writeln!(self.out, "{}", max_line(phase, max))?;
                }
            }
        }
        if test.params.summary_always != 0 {
            write!(self.out, "\n{}\n", summary_header())?;
            self.write_summary_rows(test)?;
        }
        self.out.flush()
    }

    fn run_end(&mut self, _run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()> {
        write!(self.out, "\nSummary of all tests:\n{}\n", summary_header())?;
        for test in tests {
            self.write_summary_rows(test)?;
        }
        writeln!(self.out, "{}", key_val("Finished", finished))?;
        self.out.flush()
    }

    fn run_interrupted(
        &mut self,
        _run: &RunInfo,
        tests: &[TestResults],
        when: &str,
        reason: &str,
    ) -> io::Result<()> {
        let phases = tests.iter().flat_map(|t| t.entries.iter()).count();
        if phases > 0 {
            write!(
                self.out,
                "\nSummary of all tests (completed phases only):\n{}\n",
                summary_header()
            )?;
            for test in tests {
                self.write_summary_rows(test)?;
            }
        } else {
            writeln!(self.out)?;
        }
        writeln!(
            self.out,
            "{}",
            key_val("Interrupted", &format!("{when} ({reason})"))
        )?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::params::TaskLayout;
    use crate::ior::results::LatencySummary;

    fn row(phase: Phase, vals: [f64; 9], it: usize) -> PhaseResult {
        PhaseResult {
            access: phase,
            iteration: it,
            agg_bytes: 512 << 20,
            bw_mib: vals[0],
            iops: vals[1],
            latency: vals[2],
            block_kib: vals[3],
            xfer_kib: vals[4],
            open_time: vals[5],
            wrrd_time: vals[6],
            close_time: vals[7],
            total_time: vals[8],
            latency_hist: LatencySummary::default(),
            per_rank: vec![],
            stonewall: None,
            errors: 0,
            iodepth: 1,
            measured: true,
            time_series: None,
        }
    }

    #[test]
    fn rows_match_ior_bytes() {
        let r = row(
            Phase::Write,
            [
                552.7843, 552.80, 0.003618, 65536.0, 1024.0, 0.000023, 0.926195, 0.040812, 0.926221,
            ],
            0,
        );
        assert_eq!(
            phase_row(&r),
            "write     552.78     552.80     0.003618    65536      1024.00    0.000023   0.926195   0.040812   0.926221   0   "
        );
        let r = row(
            Phase::Read,
            [
                18837576.0, 18837576.0, 0.0, 65536.0, 1024.0, 0.000016, 0.000027, 0.000017,
                0.000027,
            ],
            12,
        );
        assert_eq!(
            phase_row(&r),
            "read      18837576   18837576   0.000000    65536      1024.00    0.000016   0.000027   0.000017   0.000027   12  "
        );
        assert_eq!(
            remove_row(1, 0.004707),
            "remove    -          -          -           -          -          -          -          -          0.004707   1   "
        );
    }

    #[test]
    fn summary_matches_ior_bytes() {
        assert_eq!(
            summary_header(),
            "Operation   Max(MiB)   Min(MiB)  Mean(MiB)     StdDev   Max(OPs)   Min(OPs)  Mean(OPs)     StdDev    Mean(s) Stonewall(s) Stonewall(MiB) Test# #Tasks tPN reps fPP reord reordoff reordrand seed segcnt   blksiz    xsize aggs(MiB)   API RefNum"
        );
        let mut test = TestResults {
            params: IorParams {
                repetitions: 3,
                file_per_proc: 1,
                reorder_tasks: 1,
                segment_count: 4,
                block_size: 64 << 20,
                transfer_size: 1 << 20,
                ..IorParams::default()
            },
            layout: TaskLayout {
                num_tasks: 2,
                num_nodes: 1,
                tasks_on_node0: 2,
                block_mapping: true,
            },
            api_version: String::new(),
            start_time: String::new(),
            path: String::new(),
            fs: None,
            entries: vec![],
        };
        for (it, total) in [0.926221, 0.228070, 0.127495].into_iter().enumerate() {
            let mut r = row(Phase::Write, [0.0; 9], it);
            r.total_time = total;
            test.entries.push(ResultEntry::Phase(r));
        }
        let s = stats::summarize(&test, Phase::Write).unwrap();
        assert_eq!(
            summary_row(&test, &s),
            "write        4015.84     552.78    2271.18    1413.91    4015.84     552.78    2271.18    1413.91    0.42726         NA            NA     0      2   2    3   1     1        1         0    0      4 67108864  1048576     512.0 POSIX      0"
        );
        assert_eq!(
            max_line(Phase::Read, 9373.07 * stats::MIB),
            "Max Read:  9373.07 MiB/sec (9828.38 MB/sec)"
        );
        assert_eq!(key_val("Results", "x"), "Results             : x");
    }
}
