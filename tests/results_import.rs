//! Import of the real IOR outputs in tests/data/ior-examples/ (text, JSON, CSV): the numbers
//! of the resulting documents are checked against what IOR printed.

use benchfs::ior::results::{Phase, PhaseResult, ResultEntry};
use benchfs::mdtest::Op;
use benchfs::results::document::ResultDocument;
use benchfs::results::import::{import_file, import_str, ImportFormat, ImportOptions};
use std::path::PathBuf;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ior-examples")
        .join(name)
}

fn import(name: &str) -> ResultDocument {
    import_file(example(name), &ImportOptions::default()).unwrap()
}

fn rows(doc: &ResultDocument, test: usize, phase: Phase) -> Vec<PhaseResult> {
    doc.tests[test]
        .results
        .iter()
        .filter_map(|e| match e {
            ResultEntry::Phase(p) if p.access == phase => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn text_fpp() {
    let doc = import("shm_fpp_text.txt");
    let src = doc.source.as_ref().unwrap();
    assert_eq!(src.format, "ior-text");
    assert_eq!(src.tool_version.as_deref(), Some("4.1.0+dev"));
    assert_eq!(doc.build.version, "4.1.0+dev");
    // Schema 2: RFC 3339; IOR's ctime has no zone, so the offset is unknown (-00:00).
    assert_eq!(doc.run.began, "2026-11-23T23:33:48-00:00");
    assert_eq!(doc.finished, "2026-11-23T23:33:50-00:00");
    assert!(doc
        .run
        .command_line
        .starts_with("./src/ior -a POSIX -b 64m"));
    assert_eq!(doc.run.hostname, "vm");
    assert_eq!(doc.tests.len(), 1);
    let t = &doc.tests[0];
    assert_eq!(t.params.api, "POSIX");
    assert_eq!(t.params.block_size, 64 << 20);
    assert_eq!(t.params.transfer_size, 1 << 20);
    assert_eq!(t.params.segment_count, 4);
    assert_eq!(t.params.file_per_proc, 1);
    assert_eq!(t.params.reorder_tasks, 1);
    assert_eq!(t.params.repetitions, 3);
    assert_eq!(t.layout.num_tasks, 2);
    assert_eq!(t.path, "/dev/shm/iortest/testfile.00000000");
    let w = rows(&doc, 0, Phase::Write);
    let r = rows(&doc, 0, Phase::Read);
    assert_eq!((w.len(), r.len()), (3, 3));
    close(w[0].bw_mib, 552.78);
    close(w[0].iops, 552.80);
    close(w[0].latency, 0.003618);
    close(w[0].wrrd_time, 0.926195);
    close(w[0].total_time, 0.926221);
    assert_eq!(w[0].agg_bytes, 512 << 20);
    close(r[2].bw_mib, 12815.0);
    assert_eq!(r[2].iteration, 2);
    // IOR's own summary table, as printed.
    let s = &t.summary;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].operation, Phase::Write);
    close(s[0].bw_max_mib, 4015.84);
    close(s[0].bw_mean_mib, 2271.18);
    close(s[0].bw_sd_mib, 1413.91);
    close(s[1].ops_mean, 8180.62);
    close(s[1].mean_time, 0.07153);
    close(s[1].aggs_mib, 512.0);
    assert_eq!(s[1].stonewall_time, None);
    // The document survives a write/read round trip with its source.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.json");
    doc.write_to(&p).unwrap();
    assert_eq!(ResultDocument::read_from(&p).unwrap(), doc);
}

#[test]
fn text_script_three_tests_and_remove_rows() {
    let doc = import("shm_script_text.txt");
    assert_eq!(doc.tests.len(), 3);
    assert_eq!(doc.tests[1].params.transfer_size, 262_144);
    assert_eq!(doc.tests[1].params.file_per_proc, 0);
    assert_eq!(doc.tests[2].params.api, "DUMMY");
    close(rows(&doc, 1, Phase::Write)[1].bw_mib, 418.53);
    close(doc.tests[1].summary[1].ops_max, 14807.99);
    // DUMMY rows were preceded by "Using actual aggregate bytes moved".
    assert_eq!(rows(&doc, 2, Phase::Read)[0].agg_bytes, 67_108_864);

    let v = import("shm_verbose1.txt");
    let removes: Vec<f64> = v.tests[0]
        .results
        .iter()
        .filter_map(|e| match e {
            ResultEntry::Remove(r) => Some(r.total_time),
            _ => None,
        })
        .collect();
    assert_eq!(removes, vec![0.004733, 0.004707]);
}

#[test]
fn text_stonewall_uses_actual_bytes() {
    let doc = import("tmp_stonewall_wearout.txt");
    let w = rows(&doc, 0, Phase::Write);
    assert_eq!(w[0].agg_bytes, 689_963_008);
    assert_eq!(w[1].agg_bytes, 1_593_835_520);
    let sw = w[0].stonewall.as_ref().unwrap();
    assert_eq!((sw.pairs_min, sw.pairs_max), (320, 329));
    close(sw.time, 1.0);
    assert_eq!(doc.tests[0].params.stone_walling_wear_out, 1);
    assert_eq!(doc.tests[0].summary[0].stonewall_time, Some(1.0));
    assert_eq!(doc.tests[0].summary[1].stonewall_bw_mib, Some(9353.91));
}

#[test]
fn text_data_errors_and_crash() {
    let doc = import("shm_check_R_corrupt.txt");
    assert_eq!(doc.data_errors, 1);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    // IOR crashed with SIGFPE (-z -z -w): no rows, the crash is recorded as errors.
    let crash = import("shm_random_zz_write_SIGFPE.txt");
    assert!(crash.tests[0].results.is_empty());
    assert!(crash
        .errors
        .iter()
        .any(|e| e.contains("exited on signal 8")));
    assert!(crash.errors.iter().any(|e| e.contains("did not complete")));
}

#[test]
fn json_summary_file_with_irregular_whitespace() {
    let doc = import("shm_fpp_summaryFile.json");
    assert_eq!(doc.source.as_ref().unwrap().format, "ior-json");
    assert_eq!(doc.run.began, "2026-11-23T23:34:04-00:00");
    let t = &doc.tests[0];
    assert_eq!(t.path, "/dev/shm/iortest/testfile.00000000");
    assert_eq!(t.params.block_size, 67_108_864);
    assert_eq!(t.params.fsync, 1);
    assert_eq!(t.params.reorder_tasks, 1);
    assert_eq!(t.layout.num_tasks, 2);
    let w = rows(&doc, 0, Phase::Write);
    assert_eq!(w.len(), 3);
    close(w[0].bw_mib, 651.1915);
    close(w[0].iops, 651.2213);
    close(w[2].wrrd_time, 0.8740);
    assert_eq!(w[2].iteration, 2);
    assert_eq!(w[0].agg_bytes, 512 << 20);
    close(t.summary[0].bw_mean_mib, 993.6496);
    close(t.summary[1].bw_sd_mib, 321.7742);
    close(t.summary[0].aggs_mib, 512.0);
}

#[test]
fn json_stdout_script_stonewall_and_remove() {
    let doc = import("shm_fpp_json_stdout.json");
    assert_eq!(rows(&doc, 0, Phase::Read).len(), 3);

    let s = import("shm_script_summaryFile.json");
    assert_eq!(s.tests.len(), 3);
    assert_eq!(s.tests[2].params.api, "DUMMY");
    assert_eq!(s.tests[1].params.transfer_size, 262_144);

    let sw = import("tmp_stonewall_wearout_summaryFile.json");
    close(sw.tests[0].summary[0].stonewall_time.unwrap(), 1.0021);
    close(sw.tests[0].summary[1].stonewall_bw_mib.unwrap(), 10429.9520);

    let v = import("shm_verbose1_json.json");
    let removes = v.tests[0]
        .results
        .iter()
        .filter(|e| matches!(e, ResultEntry::Remove(_)))
        .count();
    assert_eq!(removes, 2);
}

#[test]
fn json_with_log_lines_and_inf_is_still_read() {
    let text = std::fs::read_to_string(example("shm_fpp_summaryFile.json")).unwrap();
    let broken = format!(
        "WARNING: something\n{}",
        text.replacen("\"bwMiB\": 651.1915", "\"bwMiB\": inf", 1)
    );
    let doc = import_str(&broken, "x", None, &ImportOptions::default()).unwrap();
    assert_eq!(rows(&doc, 0, Phase::Write)[0].bw_mib, 0.0);
    close(rows(&doc, 0, Phase::Write)[1].bw_mib, 1744.0061);
}

#[test]
fn json_with_warnings_inside_the_document_is_still_read() {
    // IOR prints warnings on the same stream as its JSON (IOR issues #102, #503).
    let text = std::fs::read_to_string(example("shm_fpp_json_stdout.json")).unwrap();
    let broken = text.replacen(
        "    \"Results\": [",
        "WARNING: The file \"/dev/shm/iortest/testfile\" exists already and will be deleted\n    \"Results\": [",
        1,
    );
    assert_ne!(broken, text);
    assert!(serde_json::from_str::<serde_json::Value>(&broken).is_err());
    let doc = import_str(&broken, "x", None, &ImportOptions::default()).unwrap();
    let clean = import("shm_fpp_json_stdout.json");
    assert_eq!(doc.tests, clean.tests);
}

#[test]
fn csv_rows() {
    let doc = import("shm_csv.txt");
    let src = doc.source.as_ref().unwrap();
    assert_eq!(src.format, "ior-csv");
    assert!(!src.notes.is_empty());
    assert_eq!(doc.tests.len(), 1);
    let t = &doc.tests[0];
    assert_eq!(t.params.block_size, 16 << 20);
    assert_eq!(t.params.transfer_size, 1 << 20);
    assert_eq!(t.params.num_tasks, 2);
    assert_eq!(t.params.segment_count, 2);
    assert_eq!(t.params.repetitions, 2);
    let w = rows(&doc, 0, Phase::Write);
    close(w[1].bw_mib, 4297.3738);
    close(w[1].iops, 4304.8167);
    assert_eq!(w[1].agg_bytes, 64 << 20);
    // No summary in CSV: recomputed from the rows (agg / total).
    let s = &t.summary[0];
    assert_eq!(s.reps, 2);
    let bw0 = (64u64 << 20) as f64 / 0.0231 / 1_048_576.0;
    let bw1 = (64u64 << 20) as f64 / 0.0149 / 1_048_576.0;
    close(s.bw_max_mib, bw1);
    close(s.bw_min_mib, bw0);
}

#[test]
fn unknown_input_is_an_error() {
    let e = import_str("hello", "h.txt", None, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not an IOR"));
    let e = import_str(
        "{ nope",
        "h.json",
        Some(ImportFormat::Json),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("JSON"));
    let e = import_str(
        "SUMMARY rate (in ops/sec): (of 1 iterations)\n",
        "m.txt",
        None,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("mdtest text"), "{e}");
}

fn mdtest_example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mdtest-examples")
        .join(name)
}

/// The (rate, time, items) of `op` in every iteration of task run `run`.
fn md_phases(doc: &ResultDocument, run: usize, op: Op) -> Vec<(f64, f64, u64)> {
    doc.mdtest.as_ref().unwrap().runs[run]
        .phases
        .iter()
        .filter(|p| p.op == op)
        .map(|p| (p.rate, p.time, p.items))
        .collect()
}

#[test]
fn mdtest_text_three_iterations() {
    let doc = import("mdtest_shm_n1000_i3.txt");
    let src = doc.source.as_ref().unwrap();
    assert_eq!(src.format, "mdtest-text");
    assert_eq!(src.tool_version.as_deref(), Some("4.1.0+dev"));
    assert!(
        src.notes.iter().any(|n| n.contains("3 × mean")),
        "{:?}",
        src.notes
    );
    assert_eq!(doc.run.began, "2026-11-23T23:35:44-00:00");
    assert_eq!(doc.finished, "2026-11-23T23:35:45-00:00");
    assert!(doc.tests.is_empty());
    let m = doc.mdtest.as_ref().unwrap();
    // Parameters come from the command line, exactly.
    assert_eq!(m.params.items, 1000);
    assert_eq!(m.params.iterations, 3);
    assert_eq!(m.params.unique_dir_per_task, 1);
    assert_eq!(m.params.api.as_deref(), Some("POSIX"));
    assert_eq!((m.world_tasks, m.nodes), (2, 1));
    assert_eq!(m.path, "/dev/shm/mdt");
    let fs = m.fs.as_ref().unwrap();
    close(fs.capacity_bytes, 23.5 * (1u64 << 30) as f64);
    close(fs.used_capacity_pct, 0.1);
    assert_eq!(m.runs.len(), 1);
    let r = &m.runs[0];
    assert_eq!((r.tasks, r.iterations, r.items_per_rank), (2, 3, 1000));
    // Ten operations ran (no directory read), three iterations each.
    assert_eq!(r.phases.len(), 30);
    let fc = md_phases(&doc, 0, Op::FileCreate);
    assert_eq!(fc.len(), 3);
    close(fc[0].0, 166957.408);
    close(fc[1].0, 88624.851);
    // The third is what makes the printed mean: 3 × mean − max − min.
    close(fc[2].0, 3.0 * 121814.208 - 166957.408 - 88624.851);
    // No time table: time is items over rate.
    close(fc[0].1, 2000.0 / 166957.408);
    assert_eq!(fc[0].2, 2000);
    // Trees count one item.
    assert_eq!(md_phases(&doc, 0, Op::TreeCreate)[0].2, 1);
    assert!(md_phases(&doc, 0, Op::DirRead).is_empty());
    // The summary rows are kept as printed.
    let s = r.summary.iter().find(|s| s.op == Op::DirStat).unwrap();
    close(s.max, 853281.253);
    close(s.min, 250189.627);
    close(s.mean, 464511.132);
    close(s.std_dev, 337274.542);
}

#[test]
fn mdtest_text_time_table_rank_statistics_all_procs_sweep_and_stonewall() {
    // -P: the time table gives the phase times (its label says ms/op, its values are seconds).
    let doc = import("mdtest_tmp_tree_P.txt");
    let fc = md_phases(&doc, 0, Op::FileCreate);
    assert_eq!(fc.len(), 1);
    close(fc[0].0, 32706.049);
    close(fc[0].1, 0.030);
    assert!(md_phases(&doc, 0, Op::DirCreate).is_empty());
    let m = doc.mdtest.as_ref().unwrap();
    assert_eq!((m.params.depth, m.params.branch_factor), (2, 2));
    assert_eq!((m.params.write_bytes, m.params.read_bytes), (4096, 4096));
    assert_eq!(m.runs[0].items_per_rank, 497);

    // --showRankStatistics: the per-rank columns.
    let doc = import("mdtest_shm_rank_stats.txt");
    let r = &doc.mdtest.as_ref().unwrap().runs[0];
    let s = r.summary.iter().find(|s| s.op == Op::FileStat).unwrap();
    close(s.rank_max, 303012.859);
    close(s.rank_min, 273351.408);
    close(s.rank_mean, 288182.134);
    close(s.max, 544927.114);

    // --print-all-procs: every rank's rate before the barrier.
    let doc = import_file(mdtest_example("all_procs.txt"), &ImportOptions::default()).unwrap();
    let r = &doc.mdtest.as_ref().unwrap().runs[0];
    let fc = r.phases.iter().find(|p| p.op == Op::FileCreate).unwrap();
    assert_eq!(fc.per_rank.len(), 2);
    close(fc.per_rank[0].rate_before_barrier, 2.577383e+03);
    close(fc.per_rank[1].rate_before_barrier, 2.225095e+03);

    // -f -l -s: one task run per task count.
    let doc = import_file(mdtest_example("sweep_f1_l2.txt"), &ImportOptions::default()).unwrap();
    let m = doc.mdtest.as_ref().unwrap();
    assert_eq!(m.runs.iter().map(|r| r.tasks).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(m.runs[1].phases.len(), 6);
    close(md_phases(&doc, 1, Op::FileStat)[0].0, 631196.990);
    assert_eq!(md_phases(&doc, 1, Op::FileStat)[0].2, 200);

    // -W: the stonewall line of the create phase; phases that did not run are not phases.
    let doc = import_file(mdtest_example("stonewall_x.txt"), &ImportOptions::default()).unwrap();
    let r = &doc.mdtest.as_ref().unwrap().runs[0];
    assert_eq!(
        r.phases.iter().map(|p| p.op).collect::<Vec<_>>(),
        [Op::FileCreate, Op::TreeCreate]
    );
    let sw = r.phases[0].stonewall.as_ref().unwrap();
    assert_eq!(
        (sw.items_min, sw.items_max, sw.items_sum),
        (5800, 15555, 21355)
    );
    assert!(sw.hit);
    assert_eq!(
        doc.mdtest.as_ref().unwrap().params.stone_wall_timer_seconds,
        1
    );
}

#[test]
fn every_real_mdtest_capture_imports_and_failures_keep_their_error() {
    let dir = mdtest_example("");
    let mut imported = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("txt") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let r = import_file(&path, &ImportOptions::default());
        if text.contains("SUMMARY rate") || text.contains("SUMMARY time") {
            let doc = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            let m = doc.mdtest.as_ref().unwrap();
            assert!(!m.runs.is_empty(), "{name}");
            assert!(m.runs.iter().all(|r| !r.phases.is_empty()), "{name}");
            // The document is valid JSON that reads back the same.
            let back = ResultDocument::from_json(&doc.to_json().unwrap(), &name).unwrap();
            assert_eq!(back, doc, "{name}");
            imported += 1;
        } else {
            // mdtest stopped before any table: nothing to import, and the error says so.
            let e = r.unwrap_err().to_string();
            assert!(e.contains(&name), "{name}: {e}");
        }
    }
    assert!(imported >= 20, "{imported} captures imported");
}
