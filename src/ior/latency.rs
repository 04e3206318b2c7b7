//! latency (in progress).
