//! Golden tests of mdtest's summary tables with the numbers of the examples: for every
//! summary table in the mdtest examples, the results are rebuilt from the numbers the table
//! prints and rendered by [`summary_table`]; the text must equal mdtest's.
//!
//! One iteration: the per-iteration figure is the printed value, so every line must be equal
//! byte for byte. Two or three iterations: the figures are max, min (and `3 * mean - max -
//! min`), rebuilt from values printed to 3 decimals; lines are compared token for token at
//! the same columns, numbers within the error that rounding to 3 decimals propagates into a
//! mean and a sample standard deviation of 2 or 3 values (0.005). The same holds for the
//! per-rank columns of `--showRankStatistics`, whose mean of two ranks is rebuilt.

use benchfs::mdtest::output::summary_table;
use benchfs::mdtest::params::Op;
use benchfs::mdtest::results::{PhaseResult, RankFigures, TaskRun};
use benchfs::mdtest::stats::Measure;
use benchfs::measure::latency::LatencySummary;
use std::path::PathBuf;

fn data(dir: &str, name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One printed table: its measure, iteration count, the per-rank flag and its rows.
struct Table {
    measure: Measure,
    iterations: usize,
    per_rank: bool,
    /// (operation, numbers of the row)
    rows: Vec<(Op, Vec<f64>)>,
    /// The table's text as printed (from the blank line before SUMMARY).
    text: String,
}

fn tables(text: &str) -> Vec<Table> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let measure = if l.starts_with("SUMMARY rate") {
            Measure::Rate
        } else if l.starts_with("SUMMARY time") {
            Measure::Time
        } else {
            i += 1;
            continue;
        };
        let iterations: usize = l
            .split("(of ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        let per_rank = lines[i + 1].contains("per Rank");
        let mut t = format!("\n{l}\n{}\n{}\n", lines[i + 1], lines[i + 2]);
        let mut rows = Vec::new();
        let mut k = i + 3;
        while k < lines.len() && lines[k].starts_with("   ") {
            let row = lines[k];
            let name = Op::ALL
                .into_iter()
                .find(|o| row[3..].starts_with(o.name()))
                .unwrap_or_else(|| panic!("row {row}"));
            let nums: Vec<f64> = row[3 + name.name().len()..]
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            rows.push((name, nums));
            t.push_str(row);
            t.push('\n');
            k += 1;
        }
        out.push(Table {
            measure,
            iterations,
            per_rank,
            rows,
            text: t,
        });
        i = k;
    }
    out
}

fn tasks_of(text: &str) -> usize {
    text.lines()
        .find_map(|l| l.split_once(" tasks, "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap()
}

fn per_iteration(nums: &[f64], iterations: usize) -> Vec<f64> {
    let (max, min, mean) = (nums[0], nums[1], nums[2]);
    match iterations {
        1 => vec![max],
        2 => vec![max, min],
        3 => vec![max, min, 3.0 * mean - max - min],
        n => panic!("cannot rebuild {n} iterations"),
    }
}

/// The results the tables of `text` print.
fn rebuild(all: &[Table], tasks: usize) -> TaskRun {
    let iterations = all[0].iterations;
    let mut phases: Vec<PhaseResult> = Vec::new();
    for t in all {
        for (op, nums) in &t.rows {
            let (rank_cols, iter_cols) = if t.per_rank {
                (Some(&nums[..3]), &nums[3..])
            } else {
                (None, &nums[..])
            };
            let vals = per_iteration(iter_cols, iterations);
            for (j, v) in vals.iter().enumerate() {
                let idx = phases.iter().position(|p| p.op == *op && p.iteration == j);
                let idx = idx.unwrap_or_else(|| {
                    phases.push(PhaseResult::reduce(
                        *op,
                        j,
                        (0..tasks)
                            .map(|r| RankFigures {
                                rank: r,
                                ..RankFigures::default()
                            })
                            .collect(),
                        LatencySummary::default(),
                        None,
                    ));
                    phases.len() - 1
                });
                for (r, f) in phases[idx].per_rank.iter_mut().enumerate() {
                    let before = match rank_cols {
                        // Rank 0 has the max, the last rank the min (one iteration).
                        Some(c) if r == 0 => c[0],
                        Some(c) if r + 1 == tasks => c[1],
                        Some(c) => c[2],
                        None => 0.0,
                    };
                    match (t.measure, op.is_tree()) {
                        (Measure::Rate, true) => f.rate = if r == 0 { *v } else { 0.0 },
                        (Measure::Time, true) => f.time = if r == 0 { *v } else { 0.0 },
                        (Measure::Rate, false) => {
                            f.rate = v / tasks as f64;
                            f.rate_before_barrier = before;
                        }
                        (Measure::Time, false) => {
                            f.time = *v;
                            f.time_before_barrier = before;
                        }
                    }
                }
            }
        }
    }
    TaskRun {
        tasks,
        iterations,
        items_per_rank: 0,
        phases,
        verification_errors: 0,
    }
}

/// Token-wise comparison at equal columns, numbers within `tol`.
fn close_enough(exp: &str, act: &str, tol: f64) -> Result<(), String> {
    let el: Vec<&str> = exp.lines().collect();
    let al: Vec<&str> = act.lines().collect();
    if el.len() != al.len() {
        return Err(format!("{} lines, expected {}", al.len(), el.len()));
    }
    for (e, a) in el.iter().zip(&al) {
        if e.len() != a.len() {
            return Err(format!("line lengths differ:\n{e}\n{a}"));
        }
        for (te, ta) in e.split_whitespace().zip(a.split_whitespace()) {
            match (te.parse::<f64>(), ta.parse::<f64>()) {
                (Ok(x), Ok(y)) if (x - y).abs() <= tol => {}
                _ if te == ta => {}
                _ => return Err(format!("`{ta}` for `{te}`:\n{e}\n{a}")),
            }
        }
        // Columns: every token ends where mdtest's ends.
        let ends = |s: &str| -> Vec<usize> {
            let b = s.as_bytes();
            (0..b.len())
                .filter(|&i| b[i] != b' ' && (i + 1 == b.len() || b[i + 1] == b' '))
                .collect()
        };
        if ends(e) != ends(a) {
            return Err(format!("columns differ:\n{e}\n{a}"));
        }
    }
    Ok(())
}

fn check(dir: &str, name: &str) -> usize {
    let text = data(dir, name);
    let tasks = tasks_of(&text);
    // A sweep prints one block per task count: take the first block only.
    let first_block: String = {
        let mut out = String::new();
        let mut seen_tasks = 0;
        for l in text.lines() {
            if l.contains(" tasks, ") {
                seen_tasks += 1;
                if seen_tasks > 1 {
                    break;
                }
            }
            out.push_str(l);
            out.push('\n');
        }
        out
    };
    let all = tables(&first_block);
    assert!(!all.is_empty(), "{name}: no table");
    let run = rebuild(&all, tasks);
    let ops: Vec<Op> = all[0].rows.iter().map(|(o, _)| *o).collect();
    let dirs = ops.contains(&Op::DirCreate);
    let files = ops.contains(&Op::FileCreate);
    for t in &all {
        let ours = summary_table(&run, dirs, files, t.measure, t.per_rank);
        let exact = t.iterations == 1 && !t.per_rank;
        if exact {
            assert_eq!(ours, t.text, "{name}");
        } else {
            close_enough(&t.text, &ours, 0.005)
                .unwrap_or_else(|e| panic!("{name} ({:?}): {e}", t.measure));
        }
    }
    all.len()
}

#[test]
fn every_summary_table_of_the_examples() {
    let mut n = 0;
    for name in [
        "mdtest_shm_n1000_i3.txt",
        "mdtest_tmp_tree_P.txt",
        "mdtest_shm_n4_v.txt",
        "mdtest_shm_F_n2000_i2.txt",
        "mdtest_shm_D_n1000.txt",
        "mdtest_shm_w_e_N1_R.txt",
        "mdtest_shm_stonewall_W1.txt",
        "mdtest_shm_C_T_E_r_phases.txt",
        "mdtest_shm_verify_X.txt",
        "mdtest_shm_rank_stats.txt",
        "mdtest_dummy_n1000.txt",
    ] {
        n += check("ior-examples", name);
    }
    for name in [
        "Z_time.txt",
        "P_rate_time_i2.txt",
        "rankstats_P.txt",
        "all_procs.txt",
        "sweep_f1_l2.txt",
        "tree_I.txt",
        "leaf_L.txt",
        "shared_S.txt",
        "csv_details.txt",
    ] {
        n += check("mdtest-examples", name);
    }
    assert!(n >= 23, "{n} tables");
}

#[test]
fn a_changed_figure_is_caught() {
    let text = data("ior-examples", "mdtest_shm_D_n1000.txt");
    let all = tables(&text);
    let mut run = rebuild(&all, 2);
    // The lowest rank rate decides the figure.
    run.phases[0].per_rank[0].rate -= 1.0;
    let ours = summary_table(&run, true, false, Measure::Rate, false);
    assert_ne!(ours, all[0].text);
}
