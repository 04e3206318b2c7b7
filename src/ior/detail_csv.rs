//! The per-rank and per-operation CSV files of IOR's `saveRankPerformanceDetailsCSV` and
//! `savePerOpDataCSV` directives, with C's number layout.
//!
//! Owns those two file formats only; the figures come from the engine's reductions.

use crate::comm::Comm;
use crate::ior::error::EngineError;
use crate::ior::params::IorParams;
use crate::ior::reduce;
use crate::ior::results::Phase;
use crate::units::sci;
use std::io::Write;

/// `saveRankPerformanceDetailsCSV`: rank 0 appends one row per rank.
pub fn write_rank_details(
    params: &IorParams,
    phase: Phase,
    g: &reduce::Gathered,
    comm: &dyn Comm,
) -> Result<(), EngineError> {
    let Some(path) = &params.save_rank_details_csv else {
        return Ok(());
    };
    if comm.rank() != 0 {
        return Ok(());
    }
    let new = !std::path::Path::new(path).exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| EngineError::Fatal(format!("cannot open \"{path}\": {e}")))?;
    if new {
        writeln!(
            f,
            "access,rank,runtime-with-openclose,runtime,throughput-withopenclose,throughput"
        )?;
    }
    let per_rank_bytes = g.agg_bytes() as f64 / g.ranks.len().max(1) as f64;
    for (rank, r) in g.ranks.iter().enumerate() {
        let with_oc = r.t[5] - r.t[0];
        let runtime = r.t[3] - r.t[2];
        let tp = |d: f64| if d > 0.0 { per_rank_bytes / d } else { 0.0 };
        writeln!(
            f,
            "{},{},{},{},{},{}",
            phase.as_str(),
            rank,
            sci(with_oc, 10),
            sci(runtime, 10),
            sci(tp(with_oc), 10),
            sci(tp(runtime), 10)
        )?;
    }
    Ok(())
}

/// `savePerOpDataCSV`: each rank writes its transfers' timings (write rows, then read rows).
pub fn write_per_op(
    params: &IorParams,
    phase: Phase,
    rep: usize,
    rank: usize,
    ops: &[(f64, f64)],
) -> Result<(), EngineError> {
    let Some(prefix) = &params.save_per_op_data_csv else {
        return Ok(());
    };
    let path = format!("{prefix}-{rep}-{rank:05}.csv");
    let truncate = phase == Phase::Write || !params.has_write_phase();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(!truncate)
        .truncate(truncate)
        .open(&path)
        .map_err(|e| EngineError::Fatal(format!("cannot open \"{path}\": {e}")))?;
    let mut out = String::with_capacity(ops.len() * 48 + 32);
    if truncate {
        out.push_str("time,runtime,tp,access\n");
    }
    let xfer = params.transfer_size as f64;
    for &(start, dur) in ops {
        let tp = if dur > 0.0 { xfer / dur } else { 0.0 };
        out.push_str(&format!(
            "{},{},{},{}\n",
            sci(start, 8),
            sci(dur, 8),
            sci(tp, 6),
            phase.as_str()
        ));
    }
    f.write_all(out.as_bytes())?;
    Ok(())
}
