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

/// Rank 0's stdout as the driver shares it: runs a write on the stream under the driver's
/// lock, so that a signal thread ending the run never interleaves with it; `false` (nothing
/// written) once the run was interrupted.
pub type SharedOut<'a> = &'a (dyn Fn(&mut dyn FnMut(&mut dyn Write)) -> bool + Sync);

/// Rank 0's files in the result directory: `result.txt`, `result_summary.txt`, and the
/// summary lines echoed to stdout. Every write goes through the shared stdout's lock when
/// there is one: the signal thread appends the interrupted run's end to the same files.
pub struct ResultFiles<'a> {
    result: File,
    summary: File,
    stdout: Option<SharedOut<'a>>,
}

impl<'a> ResultFiles<'a> {
    /// Creates both files in `resdir` (which must exist); `stdout` gets the summary lines.
    pub fn create(resdir: &str, stdout: Option<SharedOut<'a>>) -> io::Result<ResultFiles<'a>> {
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

    /// `f` with the files and the stream, under the driver's lock if there is one (not at
    /// all once the run was interrupted).
    fn locked(
        &mut self,
        mut f: impl FnMut(&mut File, &mut File, Option<&mut dyn Write>) -> io::Result<()>,
    ) -> io::Result<()> {
        let (result, summary) = (&mut self.result, &mut self.summary);
        match self.stdout {
            Some(shared) => {
                let mut r = Ok(());
                shared(&mut |out| r = f(result, summary, Some(out)));
                r
            }
            None => f(result, summary, None),
        }
    }

    /// Appends `text` to `result.txt`.
    pub fn result(&mut self, text: &str) -> io::Result<()> {
        self.locked(|result, _, _| result.write_all(text.as_bytes()))
    }

    /// Writes `text` to `result_summary.txt` and stdout (the app's `dupprintf`).
    pub fn summary(&mut self, text: &str) -> io::Result<()> {
        self.locked(|_, summary, out| {
            summary.write_all(text.as_bytes())?;
            if let Some(out) = out {
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            Ok(())
        })
    }

    /// Writes `text` to stdout only.
    pub fn stdout(&mut self, text: &str) -> io::Result<()> {
        self.locked(|_, _, out| match out {
            Some(out) => {
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            None => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io500::phases;

    /// The signal thread's end of the run, appended under the shared lock while the run
    /// thread keeps writing summary lines, is never overwritten nor split.
    #[test]
    fn an_end_appended_under_the_lock_stays_whole() {
        let dir = tempfile::tempdir().unwrap();
        let resdir = dir.path().to_str().unwrap().to_string();
        // The driver's lock: the stream and whether the run was interrupted.
        let lock = std::sync::Mutex::new((Vec::<u8>::new(), false));
        let shared = |f: &mut dyn FnMut(&mut dyn Write)| {
            let mut g = lock.lock().unwrap();
            if g.1 {
                return false;
            }
            f(&mut g.0);
            true
        };
        let end = "[INVALID] interrupted by SIGINT; the run did not complete\n";
        std::thread::scope(|s| {
            let mut files = ResultFiles::create(&resdir, Some(&shared)).unwrap();
            let writer = s.spawn(move || {
                for i in 0..20_000 {
                    files.summary(&format!("[RESULT] line {i}\n")).unwrap();
                }
            });
            // End while the writer is under way (after its first lines; or once it stopped,
            // so that a writer that failed is reported instead of waited for).
            let mut g = loop {
                let g = lock.lock().unwrap();
                if g.0.len() >= 1000 || writer.is_finished() {
                    break g;
                }
                drop(g);
                std::thread::yield_now();
            };
            g.1 = true;
            g.0.extend_from_slice(end.as_bytes());
            let path = Path::new(&resdir).join("result_summary.txt");
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(end.as_bytes()).unwrap();
        });
        let text = std::fs::read_to_string(dir.path().join("result_summary.txt")).unwrap();
        let stream = String::from_utf8(lock.lock().unwrap().0.clone()).unwrap();
        for t in [&text, &stream] {
            assert!(t.ends_with(end), "{}", &t[t.len().saturating_sub(200)..]);
            let lines: Vec<&str> = t.lines().collect();
            let (last, before) = lines.split_last().unwrap();
            assert_eq!(format!("{last}\n"), end);
            for (i, l) in before.iter().enumerate() {
                assert_eq!(*l, format!("[RESULT] line {i}"));
            }
        }
        assert_eq!(text, stream, "the file and stdout say the same");
    }

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
