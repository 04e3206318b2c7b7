//! `--verify RESULT_FILE`: checks a `result.txt` against the configuration, as the io500
//! app's `u_verify_result_files` does: the configuration hash must be the ini file's, and
//! the score hash must follow from the version, the scored phases' `score` lines and the
//! `[SCORE]` section (with `valid = NO` folded in for a run marked invalid).
//!
//! Owns the check and its report text; it must not run anything.

use crate::io500::config::{hash_key_val, Config};
use crate::io500::phases::{self, Group};

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Both hashes match a valid run.
    Ok,
    /// Both hashes match, but the run was marked invalid.
    OkButInvalid,
    /// A hash does not match.
    Mismatch,
}

/// The report text and the verdict of checking `result` (the text of a `result.txt`) against
/// `cfg`; `version` is the version this build writes (a different one is warned about).
pub fn verify(cfg: &Config, result: &str, version: &str) -> (String, Verdict) {
    let mut report = String::new();
    let mut score_hash = 0u32;
    let mut cfg_read: Option<String> = None;
    let mut score_read: Option<String> = None;
    let mut section: Option<String> = None;
    for line in result.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = Some(name.trim().to_string());
            continue;
        }
        if t.starts_with(';') || t.starts_with('#') {
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if value.is_empty() {
            continue;
        }
        match key {
            "version" => {
                report.push_str(&format!("result file ver = {value}\n"));
                if value != version {
                    report.push_str(
                        "WARNING Verify the output with the matching version of the benchmark.\n",
                    );
                }
                hash_key_val(&mut score_hash, key, value);
            }
            "config-hash" => cfg_read = Some(value.to_string()),
            _ => match section.as_deref() {
                Some("SCORE") => match key {
                    "SCORE" => {
                        let first = value.split(' ').next().unwrap_or("");
                        hash_key_val(&mut score_hash, key, first);
                    }
                    "hash" => score_read = Some(value.to_string()),
                    _ => hash_key_val(&mut score_hash, key, value),
                },
                Some(name) if key == "score" => {
                    let scored =
                        phases::find(name).is_none_or(|d| d.group != Group::None && !d.optional);
                    if scored {
                        hash_key_val(&mut score_hash, name, value);
                    }
                }
                _ => {}
            },
        }
    }
    report.push_str("[run]\n");
    report.push_str(&format!(
        "config-hash     = {}\n",
        cfg_read.as_deref().unwrap_or("(null)")
    ));
    report.push_str(&format!(
        "score-hash      = {}\n",
        score_read.as_deref().unwrap_or("(null)")
    ));
    let Some(cfg_read) = cfg_read else {
        report.push_str("ERROR: Empty config hash read\n");
        return (report, Verdict::Mismatch);
    };
    let mut verdict = Verdict::Ok;
    let expected_cfg = format!("{:X}", cfg.hash());
    if expected_cfg != cfg_read {
        report.push_str(&format!(
            "ERROR: Configuration hash expected: {expected_cfg} read: {cfg_read}\n"
        ));
        verdict = Verdict::Mismatch;
    }
    let read = score_read.unwrap_or_default();
    let plain = format!("{score_hash:X}");
    if plain != read {
        hash_key_val(&mut score_hash, "valid", "NO");
        if format!("{score_hash:X}") == read {
            report.push_str("\n[OK] But this is an invalid run!\n");
            if verdict == Verdict::Ok {
                verdict = Verdict::OkButInvalid;
            }
        } else {
            report.push_str(&format!(
                "\nERROR: Score hash expected: \"{plain}\" read: \"{read}\"\n"
            ));
            verdict = Verdict::Mismatch;
        }
    }
    if verdict == Verdict::Ok {
        report.push_str("\n[OK]\n");
    }
    (report, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = include_str!("../../tests/data/io500/config-shm-tiny.ini");
    const RESULT: &str = include_str!("../../tests/data/io500/peer-shm-tiny-result.txt");
    const APP: &str = "io500-isc26_v2-26-g02091cf254d8";

    /// The real io500 app's result of an invalid run verifies as the app verifies it.
    #[test]
    fn the_apps_result_file() {
        let cfg = Config::parse(CONFIG).unwrap();
        let (report, verdict) = verify(&cfg, RESULT, APP);
        assert_eq!(verdict, Verdict::OkButInvalid, "{report}");
        assert!(report.contains("config-hash     = 1F43F1F4\nscore-hash      = 66F0EE11\n"));
        assert!(!report.contains("WARNING"));
        // A changed score breaks the hash; a changed config breaks the config hash.
        let forged = RESULT.replace(
            "score           = 881.649733",
            "score           = 981.649733",
        );
        assert_eq!(verify(&cfg, &forged, APP).1, Verdict::Mismatch);
        let mut other = cfg.clone();
        other.set("mdtest-hard", "n", "2001").unwrap();
        let (report, verdict) = verify(&other, RESULT, APP);
        assert_eq!(verdict, Verdict::Mismatch);
        assert!(
            report.contains("ERROR: Configuration hash expected:"),
            "{report}"
        );
    }
}
