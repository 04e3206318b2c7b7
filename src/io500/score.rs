//! The IO500 formulas (`calc_score` and the score hash of the io500 app): each group's score
//! is the geometric mean of its phases' positive scores (0 when it has none), the total the
//! square root of the product of the group scores; the hash folds the version, the scored
//! phases, the group scores, the total and `valid = NO` for an invalid run.
//!
//! Owns arithmetic only; it must not print or decide validity (the engine does).

use crate::io500::config::{hash_key_val, hash_key_val_f64};
use crate::io500::phases::{self, Group};
use crate::io500::results::{PhaseRecord, Scores};

/// The phases a score counts: scored, and in extended mode also the optional ones.
fn counted(p: &PhaseRecord, group: Group, extended: bool) -> bool {
    p.group == group && phases::find(&p.name).is_some_and(|d| extended || !d.optional)
}

/// The geometric mean of the positive scores of `group` (0 if none).
pub fn group_score(records: &[PhaseRecord], group: Group, extended: bool) -> f64 {
    let scores: Vec<f64> = records
        .iter()
        .filter(|p| counted(p, group, extended) && p.score > 0.0)
        .map(|p| p.score)
        .collect();
    if scores.is_empty() {
        0.0
    } else {
        scores
            .iter()
            .product::<f64>()
            .powf(1.0 / scores.len() as f64)
    }
}

/// The scores of `records` (standard, or with `extended` the optional phases too), `valid`
/// as the engine decided, with the app's hash started from `version`.
pub fn scores(records: &[PhaseRecord], extended: bool, valid: bool, version: &str) -> Scores {
    let mut hash = 0u32;
    if !extended {
        hash_key_val(&mut hash, "version", version);
    }
    for p in records {
        let optional = phases::find(&p.name).is_some_and(|d| d.optional);
        if p.group != Group::None && optional == extended {
            hash_key_val_f64(&mut hash, &p.name, p.score);
        }
    }
    let md = group_score(records, Group::Md, extended);
    let bw = group_score(records, Group::Bw, extended);
    hash_key_val_f64(&mut hash, "MD", md);
    hash_key_val_f64(&mut hash, "BW", bw);
    let total = (md * bw).sqrt();
    hash_key_val_f64(&mut hash, "SCORE", total);
    if !valid {
        hash_key_val(&mut hash, "valid", "NO");
    }
    Scores {
        bw,
        md,
        total,
        valid,
        hash: format!("{hash:X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, score: f64) -> PhaseRecord {
        let d = phases::find(name).unwrap();
        PhaseRecord {
            name: name.into(),
            group: d.group,
            unit: d.unit().into(),
            score,
            time: 1.0,
            valid: true,
            invalid: vec![],
            ran: true,
            command: None,
            ior: None,
            mdtest: None,
            find: None,
            mdworkbench: None,
            extra: vec![],
        }
    }

    /// The peer's run (tests/data/io500/peer-shm-tiny-result.txt, the real io500 app): its
    /// printed phase scores give its MD, BW and SCORE (to the printed precision; the hash is
    /// checked by `verify` on the whole file).
    #[test]
    fn the_apps_scores_and_hash() {
        let recs: Vec<PhaseRecord> = [
            ("ior-easy-write", 1.576550),
            ("mdtest-easy-write", 5.236576),
            ("timestamp", 0.0),
            ("ior-hard-write", 1.054271),
            ("mdtest-hard-write", 43.883227),
            ("find", 881.649733),
            ("ior-easy-read", 2.270294),
            ("mdtest-easy-stat", 410.301198),
            ("ior-hard-read", 3.519541),
            ("mdtest-hard-stat", 413.140338),
            ("mdtest-easy-delete", 194.005597),
            ("mdtest-hard-read", 181.069936),
            ("mdtest-hard-delete", 140.419789),
            ("ior-rnd4K-easy-read", 2.088588),
        ]
        .iter()
        .map(|&(n, s)| rec(n, s))
        .collect();
        let s = scores(&recs, false, false, "io500-isc26_v2-26-g02091cf254d8");
        assert!((s.md - 142.434903).abs() < 2e-6, "{}", s.md);
        assert!((s.bw - 1.909005).abs() < 2e-6, "{}", s.bw);
        assert!((s.total - 16.489660).abs() < 2e-6, "{}", s.total);
        assert!(!s.valid);
        assert_eq!(group_score(&recs[..1], Group::Md, false), 0.0);
    }
}
