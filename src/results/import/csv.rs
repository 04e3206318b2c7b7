//! Reader of IOR's `summaryFormat=CSV` output (one row per phase and repetition, no
//! parameters but those the columns carry: the rest comes from [`super::ImportOptions`]).
//!
//! Owns the CSV format only; shared pieces are in [`super::parsed`].

use super::parsed::*;
use super::ImportOptions;
use super::CSV_HEADER;
use crate::ior::results::{Phase, RemoveResult, ResultEntry};
use crate::ior::stats::MIB;

pub(super) fn parse_csv(text: &str, opts: &ImportOptions) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    p.notes.push(format!(
        "IOR's CSV has no header block: api recorded as {:?}, segment count derived from bytes moved",
        opts.csv_api
    ));
    let mut cur: Option<ParsedTest> = None;
    let mut seen: Vec<(Phase, usize)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(CSV_HEADER) {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 12 || !(cols[0] == "write" || cols[0] == "read" || cols[0] == "remove") {
            continue;
        }
        let bad = || format!("line {}: bad CSV row", lineno + 1);
        let v: Vec<f64> = cols[1..10].iter().map(|s| num(s)).collect();
        let tasks: i64 = cols[10].parse().map_err(|_| bad())?;
        let iteration: usize = cols[11].parse().map_err(|_| bad())?;
        let block = (v[3] * 1024.0).round() as i64;
        let xfer = (v[4] * 1024.0).round() as i64;
        if cols[0] == "remove" {
            if let Some(t) = cur.as_mut() {
                t.entries.push(ResultEntry::Remove(RemoveResult {
                    iteration,
                    total_time: v[8],
                }));
            }
            continue;
        }
        let access = if cols[0] == "write" {
            Phase::Write
        } else {
            Phase::Read
        };
        let same = cur.as_ref().is_some_and(|t| {
            t.params.block_size == block
                && t.params.transfer_size == xfer
                && i64::from(t.params.num_tasks) == tasks
                && !seen.contains(&(access, iteration))
        });
        if !same {
            if let Some(t) = cur.take() {
                p.tests.push(t);
            }
            let mut t = ParsedTest::new(p.tests.len() as i32);
            t.params.api = opts.csv_api.clone();
            t.params.block_size = block;
            t.params.transfer_size = xfer;
            t.params.num_tasks = tasks as i32;
            // segments: bytes moved / (block × tasks), from bw × total of this first row.
            let per_seg = (block * tasks.max(1)) as f64;
            if per_seg > 0.0 {
                t.params.segment_count = ((v[0] * v[8] * MIB / per_seg).round() as i64).max(1);
            }
            seen.clear();
            cur = Some(t);
        }
        let Some(t) = cur.as_mut() else {
            continue;
        };
        seen.push((access, iteration));
        t.params.repetitions = t.params.repetitions.max(iteration as i32 + 1);
        latency_note(&mut p.notes);
        let agg = derive_agg(v[0], v[8], &t.params, &mut p.notes);
        t.entries.push(ResultEntry::Phase(phase_row(
            access,
            iteration,
            agg,
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            [v[5], v[6], v[7], v[8]],
            None,
        )));
    }
    if let Some(t) = cur.take() {
        p.tests.push(t);
    }
    if p.tests.is_empty() {
        return Err("no data row".to_string());
    }
    Ok(p)
}
