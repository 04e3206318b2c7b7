//! The fault suite: BenchFS under attack and faults (issue 15). Each defect found by probing
//! the servers has a test here that failed before it was fixed; the probes themselves are
//! kept as tests: kill -9 and SIGSTOP of a server in every phase, fuzzed frames and a fuzzed
//! network, a full file system, a small descriptor limit, stalled peers, unauthenticated
//! floods, two servers on one data directory, and signals at every stage of start-up and
//! shutdown. Every test binds to 127.0.0.1 only and waits for conditions with deadlines.
//!
//! Helpers are in `tests/faults/support.rs`; the parts, by kind of fault:
//! `peers` (the handshake, unauthenticated floods, stalled peers, descriptor limits),
//! `storage` (space of failed writes and kills, full file systems, spare preallocation,
//! one server per directory, private data), `kills` (kill -9 and SIGSTOP in every phase),
//! `exits` (signals and MPI aborts at every stage, bad input to the binaries), `fuzz`
//! (decoders and a live server).

#[path = "common/mod.rs"]
mod common;
#[path = "faults/exits.rs"]
mod exits;
#[path = "faults/fuzz.rs"]
mod fuzz;
#[path = "faults/kills.rs"]
mod kills;
#[path = "faults/peers.rs"]
mod peers;
#[path = "faults/storage.rs"]
mod storage;
#[path = "faults/support.rs"]
mod support;
