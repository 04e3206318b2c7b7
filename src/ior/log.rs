//! log (in progress).
