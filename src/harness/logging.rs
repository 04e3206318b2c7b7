//! Diagnostics of the binaries: `tracing` to stderr, filtered by `RUST_LOG` (default `warn`),
//! with colours only when stderr is a terminal. Results never go through it.

use std::io::IsTerminal;

/// Installs the process's `tracing` subscriber (once; later calls do nothing).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .try_init();
}
