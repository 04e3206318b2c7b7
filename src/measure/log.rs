//! The log stream of IOR and mdtest: `WARNING:` and informational lines (stonewall pairs,
//! `Using Time Stamp`, `-vvv` traces, the environment block), and `ERROR:` lines.
//!
//! Owns the wording prefixes, where the lines go, and the rule that a line is written whole
//! (one locked write per line, so lines of concurrent local tasks never interleave). Where: as
//! IOR, warnings and informational lines go to **stdout**, interleaved with the text results
//! in IOR's order, so that `benchfs-bench ... > out.txt` keeps them; only when the result
//! stream on stdout is JSON or CSV does the driver send them to stderr ([`set_stream`]), which
//! keeps that stream parseable. Errors always go to stderr. The result stream (tables, JSON)
//! never passes through here. Internal diagnostics use `tracing` (stderr), whose writer
//! also goes through [`around_display`].
//!
//! While a live display (the progress bar) is drawn on the terminal, it installs itself
//! ([`show_display`]); every line is then written with the display hidden and redrawn after
//! it, so that a line and the bar never tear each other.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A live display's way of running a write while it is hidden (indicatif's `suspend`).
pub type Suspend = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// The display shown now, with the token [`show_display`] gave it.
static DISPLAY: Mutex<Option<(u64, Suspend)>> = Mutex::new(None);
static DISPLAY_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A live display now drawn on the terminal: lines are written around it until
/// [`hide_display`] with the token returned (a later display replaces it).
pub fn show_display(suspend: Suspend) -> u64 {
    let token = DISPLAY_TOKEN.fetch_add(1, Ordering::Relaxed);
    *DISPLAY.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, suspend));
    token
}

/// The display of `token` is gone (nothing happens if another one replaced it).
pub fn hide_display(token: u64) {
    let mut d = DISPLAY.lock().unwrap_or_else(|p| p.into_inner());
    if d.as_ref().is_some_and(|(t, _)| *t == token) {
        *d = None;
    }
}

/// Runs `write` (a line to stdout or stderr) with the live display hidden, if one is shown.
pub fn around_display(write: &mut dyn FnMut()) {
    let shown = DISPLAY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|(_, s)| Arc::clone(s));
    match shown {
        Some(suspend) => suspend(write),
        None => write(),
    }
}

/// Where warnings and informational lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// With the text results (IOR's behaviour).
    Stdout,
    /// Apart from a JSON or CSV result stream on stdout.
    Stderr,
}

/// Whether warnings and informational lines go to stdout (until the driver decides: stderr).
static TO_STDOUT: AtomicBool = AtomicBool::new(false);

/// Sends warnings and informational lines to `stream` from now on (the process driver calls
/// it once it knows where the results go).
pub fn set_stream(stream: Stream) {
    TO_STDOUT.store(stream == Stream::Stdout, Ordering::Relaxed);
}

/// The stream for a run whose results are `json_or_csv` and written to stdout
/// (`on_stdout`, i.e. no `summaryFile`): stderr only when both hold.
pub fn stream_for(json_or_csv: bool, on_stdout: bool) -> Stream {
    if json_or_csv && on_stdout {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}

fn write_whole(to_stdout: bool, text: &str) {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    // Nothing sensible can be done if the stream is gone; the run itself must go on.
    around_display(&mut || {
        if to_stdout {
            let mut lock = std::io::stdout().lock();
            let _ = lock.write_all(s.as_bytes());
            let _ = lock.flush();
        } else {
            let mut lock = std::io::stderr().lock();
            let _ = lock.write_all(s.as_bytes());
            let _ = lock.flush();
        }
    });
}

/// One informational line, as a single write, on the log stream.
pub fn line(text: &str) {
    write_whole(TO_STDOUT.load(Ordering::Relaxed), text);
}

/// One status line of benchfs-bench's own (what it waits for before a run), always on
/// stderr: IOR prints nothing of the kind, so it never joins IOR's text on stdout.
pub fn status(text: &str) {
    write_whole(false, text);
}

/// `WARNING: <msg>` on the log stream.
pub fn warn(msg: &str) {
    line(&format!("WARNING: {msg}"));
}

/// `ERROR: <msg>`, on stderr.
pub fn error(msg: &str) {
    error_line(&format!("ERROR: {msg}"));
}

/// An error text printed as it is (several lines allowed), on stderr.
pub fn error_line(text: &str) {
    write_whole(false, text);
}

/// IOR's `FailMessage` line: `MM/DD/YYYY HH:MM:SS: Process 0: FAILED in <func>, <text>` (local
/// time, as IOR's `PrintTimestamp`).
pub fn fail_line(func: &str, text: &str) -> String {
    format!(
        "{}: Process 0: FAILED in {func}, {text}",
        chrono::Local::now().format("%m/%d/%Y %T")
    )
}

/// Whether `msg` is a [`fail_line`] (printed as it is, without an `ERROR:` prefix).
pub fn is_fail_line(msg: &str) -> bool {
    msg.split_once(": Process 0: FAILED in ")
        .is_some_and(|(ts, _)| {
            ts.len() == 19
                && ts
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"/ :".contains(&b))
        })
}

/// IOR's environment block at `-vvv`: `STARTING ENVIRON LOOP`, every `NAME=value` of this
/// process's environment in its order, `ENDING ENVIRON LOOP`.
pub fn environment() {
    line("STARTING ENVIRON LOOP");
    for (k, v) in std::env::vars_os() {
        line(&format!("{}={}", k.to_string_lossy(), v.to_string_lossy()));
    }
    line("ENDING ENVIRON LOOP");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_with_the_display_hidden_while_it_shows() {
        // Other tests may log meanwhile: only this thread's writes count.
        let me = std::thread::current().id();
        let hidden = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&hidden);
        let token = show_display(Arc::new(move |write: &mut dyn FnMut()| {
            if std::thread::current().id() == me {
                count.fetch_add(1, Ordering::SeqCst);
            }
            write();
        }));
        let mut wrote = false;
        around_display(&mut || wrote = true);
        assert!(wrote);
        status("a status line while the display shows");
        assert_eq!(hidden.load(Ordering::SeqCst), 2);
        // A stale token leaves a newer display alone; its own removes it.
        hide_display(token + 1_000_000);
        around_display(&mut || {});
        assert_eq!(hidden.load(Ordering::SeqCst), 3);
        hide_display(token);
        around_display(&mut || {});
        assert_eq!(hidden.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn fail_lines_are_iors_and_recognised() {
        let l = fail_line("DecodeDirective", "Unknown summaryFormat");
        let (ts, rest) = l.split_at(19);
        // 12/01/2026 11:02:14
        assert_eq!(ts.as_bytes()[2], b'/');
        assert_eq!(ts.as_bytes()[10], b' ');
        assert_eq!(
            rest,
            ": Process 0: FAILED in DecodeDirective, Unknown summaryFormat"
        );
        assert!(is_fail_line(&l));
        assert!(!is_fail_line("ERROR: Process 0: FAILED in x, y"));
        assert!(!is_fail_line("Unknown summaryFormat"));
    }
}
