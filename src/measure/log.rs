//! The log stream of IOR and mdtest: `WARNING:`, `ERROR:` and informational lines, always on stderr.
//!
//! Owns the wording prefixes and the rule that a line is written whole (one locked write per
//! line, so lines of concurrent local tasks never interleave). The result stream (tables, JSON)
//! never passes through here, which is why JSON on stdout stays valid whatever is logged.
//! Internal diagnostics use `tracing`; this module is for the lines IOR users expect to see.

use std::io::Write;

/// Write one line to stderr as a single write.
pub fn line(text: &str) {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    // Nothing sensible can be done if stderr is gone; the run itself must go on.
    let _ = lock.write_all(s.as_bytes());
    let _ = lock.flush();
}

/// `WARNING: <msg>`.
pub fn warn(msg: &str) {
    line(&format!("WARNING: {msg}"));
}

/// `ERROR: <msg>`.
pub fn error(msg: &str) {
    line(&format!("ERROR: {msg}"));
}
