//! IOR's JSON output (`summaryFormat=JSON`, SPEC §4), streamed as the run progresses.
//!
//! Same keys, key order and value types as IOR 4.1 (`%.4f` numbers, `%lld` integers, strings),
//! but always valid JSON: strings are escaped, whitespace is normalised (2-space indentation),
//! non-finite numbers become `null`, and nothing but this reporter writes to its stream (logs go
//! to stderr elsewhere). Beyond IOR, additive keys are appended *after* IOR's keys of an object:
//! per Results entry `latencyPercentiles`, `ranks`, `iodepth`; at the top level
//! `benchfsVersion`.
//!
//! Owns the JSON layout only; numbers come from the engine's rows and [`crate::ior::stats`].

use super::{max_bandwidth, options_block, parameters_block, KeyVal, Reporter};
use crate::build_info;
use crate::ior::params::IorParams;
use crate::ior::results::{Phase, PhaseResult, ResultEntry, RunInfo, TestResults};
use crate::ior::stats::{self, OpSummary};
use crate::measure::fsinfo;
use std::io::{self, Write};

/// A minimal streaming pretty-printer for JSON: tracks nesting and commas, nothing else.
pub struct JsonStream<W: Write> {
    out: W,
    /// One entry per open container: whether it already holds a member.
    stack: Vec<bool>,
    /// The closing character of each open container.
    closers: Vec<u8>,
}

/// `s` as a JSON string literal (quotes included), with a trailing newline stripped as IOR does.
pub fn quote(s: &str) -> String {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// IOR's `%.4f` number; non-finite values become `null` (IOR would print `inf`/`nan`).
pub fn num4(v: f64) -> String {
    if v.is_finite() {
        format!("{:.4}", v)
    } else {
        "null".to_string()
    }
}

/// [`num4`] of a figure divided by `seconds`: `null` when the duration is unmeasurable.
fn measured_num4(v: f64, seconds: f64) -> String {
    if stats::measurable(seconds) {
        num4(v)
    } else {
        "null".to_string()
    }
}

/// A number with `decimals` decimals; non-finite values become `null`.
fn num_prec(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{:.*}", decimals, v)
    } else {
        "null".to_string()
    }
}

impl<W: Write> JsonStream<W> {
    /// A stream writing to `out`.
    pub fn new(out: W) -> Self {
        JsonStream {
            out,
            stack: Vec::new(),
            closers: Vec::new(),
        }
    }

    /// Writes the separator and indentation before a new member, and the key if any.
    fn member(&mut self, key: Option<&str>) -> io::Result<()> {
        if let Some(has) = self.stack.last_mut() {
            if *has {
                self.out.write_all(b",")?;
            }
            *has = true;
            self.out.write_all(b"\n")?;
        }
        let indent = "  ".repeat(self.stack.len());
        self.out.write_all(indent.as_bytes())?;
        if let Some(k) = key {
            write!(self.out, "{}: ", quote(k))?;
        }
        Ok(())
    }

    /// Opens an object (as an array element or top level if `key` is `None`).
    pub fn begin_object(&mut self, key: Option<&str>) -> io::Result<()> {
        self.member(key)?;
        self.out.write_all(b"{")?;
        self.stack.push(false);
        self.closers.push(b'}');
        Ok(())
    }

    /// Opens an array member.
    pub fn begin_array(&mut self, key: Option<&str>) -> io::Result<()> {
        self.member(key)?;
        self.out.write_all(b"[")?;
        self.stack.push(false);
        self.closers.push(b']');
        Ok(())
    }

    fn close(&mut self, c: &[u8]) -> io::Result<()> {
        let had = self.stack.pop().unwrap_or(false);
        self.closers.pop();
        if had {
            self.out.write_all(b"\n")?;
            self.out
                .write_all("  ".repeat(self.stack.len()).as_bytes())?;
        }
        self.out.write_all(c)?;
        if self.stack.is_empty() {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) -> io::Result<()> {
        self.close(b"}")
    }

    /// Closes the innermost array.
    pub fn end_array(&mut self) -> io::Result<()> {
        self.close(b"]")
    }

    /// Closes open containers until `depth` remain open.
    pub fn close_to(&mut self, depth: usize) -> io::Result<()> {
        while self.closers.len() > depth {
            let c = self.closers.last().copied().unwrap_or(b'}');
            self.close(&[c])?;
        }
        Ok(())
    }

    /// A member whose value is already-formatted JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> io::Result<()> {
        self.member(Some(key))?;
        self.out.write_all(json.as_bytes())
    }

    /// A string member.
    pub fn str(&mut self, key: &str, v: &str) -> io::Result<()> {
        self.raw(key, &quote(v))
    }

    /// An integer member (`%lld`).
    pub fn int(&mut self, key: &str, v: i64) -> io::Result<()> {
        self.raw(key, &v.to_string())
    }

    /// A `%.4f` number member.
    pub fn f4(&mut self, key: &str, v: f64) -> io::Result<()> {
        self.raw(key, &num4(v))
    }

    /// An `Options`/`Parameters` value.
    pub fn key_val(&mut self, key: &str, v: &KeyVal) -> io::Result<()> {
        match v {
            KeyVal::Str(s) => self.str(key, s),
            KeyVal::Int(i) => self.int(key, *i),
        }
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes IOR's JSON format.
pub struct JsonReporter {
    js: JsonStream<Box<dyn Write + Send>>,
    run: Option<RunInfo>,
}

impl JsonReporter {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonReporter {
            js: JsonStream::new(out),
            run: None,
        }
    }

    fn phase_entry(&mut self, r: &PhaseResult) -> io::Result<()> {
        let js = &mut self.js;
        js.begin_object(None)?;
        js.str("access", r.access.as_str())?;
        // An unmeasurable phase has no bandwidth (zero or negative total time) or no IOPS
        // (transfer time): `null`, where IOR writes `"inf"` or a negative number.
        js.raw("bwMiB", &measured_num4(r.bw_mib, r.total_time))?;
        js.f4("blockKiB", r.block_kib)?;
        js.f4("xferKiB", r.xfer_kib)?;
        js.raw("iops", &measured_num4(r.iops, r.wrrd_time))?;
        js.f4("latency", r.latency)?;
        js.f4("openTime", r.open_time)?;
        js.f4("wrRdTime", r.wrrd_time)?;
        js.f4("closeTime", r.close_time)?;
        js.f4("totalTime", r.total_time)?;
        // Beyond IOR (additive, after IOR's keys).
        let h = &r.latency_hist;
        if h.count > 0 {
            js.begin_object(Some("latencyPercentiles"))?;
            for (k, v) in [
                ("p50", h.p50),
                ("p90", h.p90),
                ("p99", h.p99),
                ("p999", h.p999),
                ("max", h.max),
                ("mean", h.mean),
            ] {
                js.raw(k, &num_prec(v, 9))?;
            }
            js.end_object()?;
        }
        if !r.per_rank.is_empty() {
            let min = r
                .per_rank
                .iter()
                .map(|x| x.bw_mib)
                .fold(f64::INFINITY, f64::min);
            let max = r
                .per_rank
                .iter()
                .map(|x| x.bw_mib)
                .fold(f64::NEG_INFINITY, f64::max);
            js.begin_object(Some("ranks"))?;
            js.int("count", r.per_rank.len() as i64)?;
            js.f4("bwMinRankMiB", min)?;
            js.f4("bwMaxRankMiB", max)?;
            js.end_object()?;
        }
        if r.iodepth > 1 {
            js.int("iodepth", r.iodepth as i64)?;
        }
        js.end_object()
    }

    fn summary_entry(&mut self, test: &TestResults, s: &OpSummary) -> io::Result<()> {
        let p = &test.params;
        let js = &mut self.js;
        js.begin_object(None)?;
        js.str("operation", s.operation.as_str())?;
        js.str("API", &p.api)?;
        js.int("TestID", p.test_id as i64)?;
        js.int("ReferenceNumber", p.ref_num as i64)?;
        js.int("segmentCount", p.segment_count)?;
        js.int("blockSize", p.block_size)?;
        js.int("transferSize", p.transfer_size)?;
        js.int("numTasks", test.layout.num_tasks as i64)?;
        js.int("tasksPerNode", test.layout.tasks_on_node0 as i64)?;
        js.int("repetitions", p.repetitions as i64)?;
        js.int("filePerProc", p.file_per_proc as i64)?;
        js.int("reorderTasks", p.reorder_tasks as i64)?;
        js.int("taskPerNodeOffset", p.task_per_node_offset as i64)?;
        js.int("reorderTasksRandom", p.reorder_tasks_random as i64)?;
        js.int("reorderTasksRandomSeed", p.reorder_tasks_random_seed as i64)?;
        js.f4("bwMaxMIB", s.bw_max_mib)?;
        js.f4("bwMinMIB", s.bw_min_mib)?;
        js.f4("bwMeanMIB", s.bw_mean_mib)?;
        js.f4("bwStdMIB", s.bw_sd_mib)?;
        js.f4("OPsMax", s.ops_max)?;
        js.f4("OPsMin", s.ops_min)?;
        js.f4("OPsMean", s.ops_mean)?;
        js.f4("OPsSD", s.ops_sd)?;
        js.f4("MeanTime", s.mean_time)?;
        if let (Some(t), Some(bw)) = (s.stonewall_time, s.stonewall_bw_mib) {
            js.f4("StoneWallTime", t)?;
            js.f4("StoneWallbwMeanMIB", bw)?;
        }
        js.f4("xsizeMiB", s.aggs_mib)?;
        js.end_object()
    }
}

impl Reporter for JsonReporter {
    fn run_begin(&mut self, run: &RunInfo, first: &IorParams) -> io::Result<()> {
        self.run = Some(run.clone());
        let js = &mut self.js;
        js.begin_object(None)?;
        js.str("Version", build_info::IOR_VERSION)?;
        js.str("Began", &run.began)?;
        js.str("Command line", &run.command_line)?;
        js.str("Machine", run.machine_line(first.verbose))?;
        js.begin_array(Some("tests"))?;
        js.flush()
    }

    fn test_begin(&mut self, test: &TestResults) -> io::Result<()> {
        let run = self.run.clone().unwrap_or_default();
        let js = &mut self.js;
        js.begin_object(None)?;
        js.int("TestID", test.params.test_id as i64)?;
        js.str("StartTime", &test.start_time)?;
        if let Some(fs) = &test.fs {
            js.str("Path", &test.path)?;
            js.str("Capacity", &fsinfo::fs_capacity(fs))?;
            js.str("Used Capacity", &fsinfo::fs_percent(fs.used_capacity_pct))?;
            js.str("Inodes", &fsinfo::fs_inodes(fs))?;
            js.str("Used Inodes", &fsinfo::fs_percent(fs.used_inodes_pct))?;
        }
        js.begin_object(Some("Parameters"))?;
        for (k, v) in parameters_block(test, &run) {
            js.key_val(k, &v)?;
        }
        js.end_object()?;
        js.begin_object(Some("Options"))?;
        for (k, v) in options_block(test) {
            js.key_val(k, &v)?;
        }
        js.end_object()?;
        js.begin_array(Some("Results"))?;
        js.flush()
    }

    fn table_header(&mut self, _test: &TestResults) -> io::Result<()> {
        Ok(())
    }

    fn entry(&mut self, _test: &TestResults, entry: &ResultEntry) -> io::Result<()> {
        match entry {
            ResultEntry::Phase(r) => self.phase_entry(r)?,
            ResultEntry::Remove(r) => {
                let js = &mut self.js;
                js.begin_object(None)?;
                js.str("access", "remove")?;
                js.f4("totalTime", r.total_time)?;
                js.end_object()?;
            }
        }
        self.js.flush()
    }

    fn test_end(&mut self, test: &TestResults) -> io::Result<()> {
        let js = &mut self.js;
        js.end_array()?;
        if test.params.verbose >= 1 {
            js.begin_object(Some("max"))?;
            for (phase, mib, mb) in [
                (Phase::Write, "writeMiB", "writeMB"),
                (Phase::Read, "readMiB", "readMB"),
            ] {
                if let Some(max) = max_bandwidth(test, phase) {
                    js.f4(mib, max / stats::MIB)?;
                    js.f4(mb, max / 1_000_000.0)?;
                }
            }
            js.end_object()?;
        }
        js.end_object()
    }

    fn run_end(&mut self, run: &RunInfo, tests: &[TestResults], finished: &str) -> io::Result<()> {
        self.end_with(run, tests, "Finished", finished)
    }

    fn run_interrupted(
        &mut self,
        run: &RunInfo,
        tests: &[TestResults],
        when: &str,
        reason: &str,
    ) -> io::Result<()> {
        // Whatever test, Results array or entry was open: closed, down to the tests array.
        self.js.close_to(2)?;
        self.end_with(run, tests, "Interrupted", &format!("{when} ({reason})"))
    }
}

impl JsonReporter {
    /// Closes the tests array, writes the summary and the closing `key` (`Finished` or
    /// `Interrupted`) with `value`, and ends the document.
    fn end_with(
        &mut self,
        _run: &RunInfo,
        tests: &[TestResults],
        key: &str,
        value: &str,
    ) -> io::Result<()> {
        self.js.end_array()?;
        self.js.begin_array(Some("summary"))?;
        for test in tests {
            for s in stats::summarize_test(test) {
                self.summary_entry(test, &s)?;
            }
        }
        self.js.end_array()?;
        self.js.str(key, value)?;
        self.js.str("benchfsVersion", build_info::VERSION)?;
        self.js.end_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_valid_json() {
        let mut buf = Vec::new();
        {
            let mut js = JsonStream::new(&mut buf);
            js.begin_object(None).unwrap();
            js.str("a\"b", "x\ny\n").unwrap();
            js.begin_array(Some("empty")).unwrap();
            js.end_array().unwrap();
            js.begin_array(Some("arr")).unwrap();
            js.begin_object(None).unwrap();
            js.f4("n", 1.0).unwrap();
            js.f4("inf", f64::INFINITY).unwrap();
            js.end_object().unwrap();
            js.end_array().unwrap();
            js.int("i", -3).unwrap();
            js.end_object().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a\"b"], "x\ny");
        assert_eq!(v["arr"][0]["n"], 1.0);
        assert!(v["arr"][0]["inf"].is_null());
        assert_eq!(v["i"], -3);
        assert!(text.contains("\"n\": 1.0000"));
    }
}
