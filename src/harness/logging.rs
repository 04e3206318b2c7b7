//! Diagnostics of the binaries: `tracing` to stderr, filtered by `RUST_LOG` (default `warn`),
//! with colours only when stderr is a terminal, each event written whole around the live
//! display ([`crate::measure::log::around_display`]). Results never go through it.

use std::io::{IsTerminal, Write};

/// One `tracing` event's text, written to stderr in one piece when the event is done.
#[derive(Default)]
struct EventLine(Vec<u8>);

impl Write for EventLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.0);
        crate::measure::log::around_display(&mut || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&text);
            let _ = err.flush();
        });
    }
}

/// Installs the process's `tracing` subscriber (once; later calls do nothing).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(EventLine::default)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .try_init();
}
