//! The io500 app's text: the `[RESULT]` and `[SCORE ]` lines (stdout and
//! `result_summary.txt`), and `result.txt` (`[run]`, one section per phase with its
//! `key = value` pairs and `; ERROR INVALID` notes, `[SCORE]`/`[SCOREX]`).
//!
//! Owns formats only, on rank 0; the engine decides what to write and when. It must not
//! compute scores or validity.

use crate::io500::phases::{Group, PhaseDef};
use crate::io500::results::Scores;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// A `key = value` line of `result.txt` (`%-15s = `).
pub fn pair(key: &str, value: &str) -> String {
    format!("{key:<15} = {value}\n")
}

/// The `[RESULT]` line of a phase (`[      ]` for phases without a score).
pub fn result_line(def: &PhaseDef, score: f64, time: f64, valid: bool) -> String {
    let tag = if def.group == Group::None {
        "[      ]"
    } else {
        "[RESULT]"
    };
    format!(
        "{tag} {:>20} {:>15} {} : time {time:.3} seconds{}\n",
        def.name,
        format!("{score:.6}"),
        def.unit(),
        if valid { "" } else { " [INVALID]" }
    )
}

/// The `[SCORE ]` (or, with `extended`, `[SCOREX]`) line.
pub fn score_line(s: &Scores, extended: bool) -> String {
    format!(
        "[{}] Bandwidth {:.6} GiB/s : IOPS {:.6} kiops : TOTAL {:.6}{}\n",
        if extended { "SCOREX" } else { "SCORE " },
        s.bw,
        s.md,
        s.total,
        if s.valid { "" } else { " [INVALID]" }
    )
}

/// The `result.txt` lines of a score section (`[SCORE]` or `[SCOREX]`).
pub fn score_section(s: &Scores, extended: bool) -> String {
    let mut out = format!("\n[{}]\n", if extended { "SCOREX" } else { "SCORE" });
    let invalid = if s.valid { "" } else { " [INVALID]" };
    out += &pair("MD", &format!("{:.6}", s.md));
    out += &pair("BW", &format!("{:.6}", s.bw));
    out += &pair("SCORE", &format!("{:.6}{invalid}", s.total));
    out += &pair("hash", &s.hash);
    out
}

/// Rank 0's files in the result directory: `result.txt`, `result_summary.txt`, and the
/// summary lines echoed to stdout.
pub struct ResultFiles {
    result: File,
    summary: File,
    stdout: Option<Box<dyn Write + Send>>,
}

impl ResultFiles {
    /// Creates both files in `resdir` (which must exist); `stdout` gets the summary lines.
    pub fn create(resdir: &str, stdout: Option<Box<dyn Write + Send>>) -> io::Result<ResultFiles> {
        let open = |name: &str| {
            let p = Path::new(resdir).join(name);
            File::create(&p).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("Could not open \"{}\" for writing ({e})", p.display()),
                )
            })
        };
        Ok(ResultFiles {
            summary: open("result_summary.txt")?,
            result: open("result.txt")?,
            stdout,
        })
    }

    /// Appends `text` to `result.txt`.
    pub fn result(&mut self, text: &str) -> io::Result<()> {
        self.result.write_all(text.as_bytes())?;
        self.result.flush()
    }

    /// Writes `text` to `result_summary.txt` and stdout (the app's `dupprintf`).
    pub fn summary(&mut self, text: &str) -> io::Result<()> {
        self.summary.write_all(text.as_bytes())?;
        if let Some(out) = self.stdout.as_mut() {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }

    /// Writes `text` to stdout only.
    pub fn stdout(&mut self, text: &str) -> io::Result<()> {
        if let Some(out) = self.stdout.as_mut() {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io500::phases;

    #[test]
    fn the_apps_lines() {
        let d = phases::find("ior-easy-write").unwrap();
        assert_eq!(
            result_line(d, 1.57655, 0.0817, false),
            "[RESULT]       ior-easy-write        1.576550 GiB/s : time 0.082 seconds [INVALID]\n"
        );
        let t = phases::find("timestamp").unwrap();
        assert_eq!(
            result_line(t, 0.0, 0.0, true),
            "[      ]            timestamp        0.000000 kIOPS : time 0.000 seconds\n"
        );
        let s = Scores {
            bw: 1.909005,
            md: 142.434903,
            total: 16.48966,
            valid: false,
            hash: "66F0EE11".into(),
        };
        assert_eq!(
            score_line(&s, false),
            "[SCORE ] Bandwidth 1.909005 GiB/s : IOPS 142.434903 kiops : TOTAL 16.489660 [INVALID]\n"
        );
        assert_eq!(
            score_section(&s, false),
            "\n[SCORE]\nMD              = 142.434903\nBW              = 1.909005\nSCORE           = 16.489660 [INVALID]\nhash            = 66F0EE11\n"
        );
        assert_eq!(pair("score", "1.5"), "score           = 1.5\n");
    }
}
