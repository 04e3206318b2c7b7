//! The terminal progress display of a run (beyond IOR): test, phase, iteration, bytes moved,
//! rate and ETA of the running phase, drawn on **stderr** only.
//!
//! Owns [`Progress`]. By default it is shown only when stderr is a terminal; `--progress`
//! ([`crate::ior::params::GlobalOptions::progress`]) forces it on or off. It must never write to
//! stdout (IOR's report goes there) and must stay out of the transfer loop's way: the only call
//! made per transfer, [`Progress::advance`], is one relaxed atomic add, and a disabled display
//! costs a branch. A background thread (one per phase) turns the byte counter into redraws.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the display is refreshed from the byte counter.
const REFRESH: Duration = Duration::from_millis(100);

const TEMPLATE: &str =
    "{msg} [{elapsed_precise}] [{wide_bar}] {binary_bytes}/{binary_total_bytes} \
                        {binary_bytes_per_sec} ETA {eta}";

/// Where a forced display draws when stderr is not a terminal (plain ANSI sequences).
struct PlainTerm {
    out: Mutex<Box<dyn Write + Send>>,
    width: u16,
}

impl std::fmt::Debug for PlainTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainTerm")
            .field("width", &self.width)
            .finish()
    }
}

impl PlainTerm {
    fn write(&self, s: &str) -> std::io::Result<()> {
        match self.out.lock() {
            Ok(mut w) => w.write_all(s.as_bytes()),
            Err(_) => Ok(()),
        }
    }
}

impl TermLike for PlainTerm {
    fn width(&self) -> u16 {
        self.width
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.write(&format!("\x1b[{n}A"))?;
        }
        Ok(())
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.write(&format!("\x1b[{n}B"))?;
        }
        Ok(())
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.write(&format!("\x1b[{n}C"))?;
        }
        Ok(())
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.write(&format!("\x1b[{n}D"))?;
        }
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write(s)?;
        self.write("\n")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.write(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.write("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        match self.out.lock() {
            Ok(mut w) => w.flush(),
            Err(_) => Ok(()),
        }
    }
}

/// Where the bars of an enabled display go.
enum Sink {
    /// stderr is a terminal: indicatif's own stderr target (knows the width).
    Stderr,
    /// Forced on a non-terminal (or a test buffer): plain escape sequences to this writer.
    Plain(Arc<PlainTerm>),
}

#[derive(Clone)]
struct ArcTerm(Arc<PlainTerm>);

impl std::fmt::Debug for ArcTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl TermLike for ArcTerm {
    fn width(&self) -> u16 {
        self.0.width()
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        TermLike::flush(&*self.0)
    }
}

/// The phase being shown.
struct Active {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

struct Shared {
    bytes: Arc<AtomicU64>,
    sink: Sink,
    active: Mutex<Option<Active>>,
}

impl Shared {
    fn end(&self) {
        let taken = match self.active.lock() {
            Ok(mut a) => a.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(mut a) = taken {
            a.stop.store(true, Ordering::Relaxed);
            if let Some(t) = a.ticker.take() {
                t.thread().unpark();
                let _ = t.join();
            }
            a.bar.set_position(self.bytes.load(Ordering::Relaxed));
            a.bar.finish_and_clear();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.end();
    }
}

/// The progress display. Cheap to clone (clones share one display); a disabled display makes
/// every method a no-op.
#[derive(Clone)]
pub struct Progress {
    inner: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Progress {
    /// `force`: `Some(true)` always shows it (on stderr), `Some(false)` never, `None` only when
    /// stderr is a terminal.
    pub fn new(force: Option<bool>) -> Progress {
        let tty = std::io::stderr().is_terminal();
        match force {
            Some(false) => Self::disabled(),
            None if !tty => Self::disabled(),
            _ if tty => Self::with_sink(Sink::Stderr),
            _ => {
                let width = std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|&w| w >= 40)
                    .unwrap_or(100);
                Self::with_sink(Sink::Plain(Arc::new(PlainTerm {
                    out: Mutex::new(Box::new(std::io::stderr())),
                    width,
                })))
            }
        }
    }

    /// A display that shows nothing.
    pub fn disabled() -> Progress {
        Progress { inner: None }
    }

    fn with_sink(sink: Sink) -> Progress {
        Progress {
            inner: Some(Arc::new(Shared {
                bytes: Arc::new(AtomicU64::new(0)),
                sink,
                active: Mutex::new(None),
            })),
        }
    }

    /// Whether anything is shown.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    #[cfg(test)]
    /// Bytes counted in the current (or last) phase; 0 when disabled.
    pub fn bytes(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |s| s.bytes.load(Ordering::Relaxed))
    }

    /// Starts showing a phase (`write`, `read`, ...) of `total_bytes` expected bytes (0 if
    /// unknown, e.g. with stonewalling), ending any phase still shown.
    pub fn phase_begin(&self, test_id: i32, phase: &str, iteration: usize, total_bytes: u64) {
        let Some(s) = &self.inner else { return };
        s.end();
        s.bytes.store(0, Ordering::Relaxed);
        let target = match &s.sink {
            Sink::Stderr => ProgressDrawTarget::stderr(),
            Sink::Plain(t) => ProgressDrawTarget::term_like(Box::new(ArcTerm(Arc::clone(t)))),
        };
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total_bytes), target)
            .with_style(style)
            .with_message(format!("test {test_id} {phase} iter {iteration}"));
        bar.tick();
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let bar = bar.clone();
            let stop = Arc::clone(&stop);
            let bytes = Arc::clone(&s.bytes);
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::park_timeout(REFRESH);
                        bar.set_position(bytes.load(Ordering::Relaxed));
                    }
                })
                .ok()
        };
        let active = Active { bar, stop, ticker };
        match s.active.lock() {
            Ok(mut a) => *a = Some(active),
            Err(poisoned) => *poisoned.into_inner() = Some(active),
        }
    }

    /// Counts `bytes` more moved in the current phase: one relaxed atomic add.
    #[inline]
    pub fn advance(&self, bytes: u64) {
        if let Some(s) = &self.inner {
            s.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Ends the current phase and removes its line.
    pub fn phase_end(&self) {
        if let Some(s) = &self.inner {
            s.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn to_buffer() -> (Progress, Buf) {
        let buf = Buf::default();
        let p = Progress::with_sink(Sink::Plain(Arc::new(PlainTerm {
            out: Mutex::new(Box::new(buf.clone())),
            width: 120,
        })));
        (p, buf)
    }

    #[test]
    fn disabled_is_inert() {
        let p = Progress::new(Some(false));
        assert!(!p.is_enabled());
        p.phase_begin(0, "write", 0, 100);
        p.advance(50);
        assert_eq!(p.bytes(), 0);
        p.phase_end();
        p.phase_end();
    }

    #[test]
    fn forced_on_is_enabled() {
        let p = Progress::new(Some(true));
        assert!(p.is_enabled());
        // Auto mode follows whether stderr is a terminal.
        assert_eq!(
            Progress::new(None).is_enabled(),
            std::io::stderr().is_terminal()
        );
    }

    #[test]
    fn shows_phase_and_counts_bytes() {
        let (p, buf) = to_buffer();
        p.phase_begin(3, "write", 1, 4 << 20);
        let q = p.clone();
        let h = std::thread::spawn(move || {
            for _ in 0..4 {
                q.advance(1 << 20);
            }
        });
        h.join().unwrap();
        assert_eq!(p.bytes(), 4 << 20);
        p.phase_end();
        let out = String::from_utf8_lossy(&buf.0.lock().unwrap()).to_string();
        assert!(out.contains("test 3 write iter 1"), "{out:?}");
        // The final position was drawn before the line was cleared.
        assert!(out.contains("4.00 MiB/4.00 MiB"), "{out:?}");

        // A new phase restarts the counter.
        p.phase_begin(3, "read", 1, 100);
        assert_eq!(p.bytes(), 0);
        p.advance(10);
        assert_eq!(p.bytes(), 10);
        drop(p); // ends the phase without a phase_end
        let out = String::from_utf8_lossy(&buf.0.lock().unwrap()).to_string();
        assert!(out.contains("test 3 read iter 1"), "{out:?}");
    }
}
