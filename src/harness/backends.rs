//! The backends a benchmark will use, as the driver and the cluster set-ups see them: the
//! `-a` name and the `--<backend>.<name>` options of each test.
//!
//! Plain data between [`crate::harness::driver`], [`crate::harness::embedded`] and
//! [`crate::harness::injob`]; it knows nothing of any of them.

use std::collections::BTreeMap;

/// A backend a benchmark will use: its `-a` name and its `--<backend>.<name>` options, which
/// the driver may complete (the embedded cluster's registry).
pub struct BackendSlot<'a> {
    /// The `-a` value as given.
    pub api: &'a str,
    /// The backend options of the test.
    pub options: &'a mut BTreeMap<String, String>,
    /// Whether the test is verbose (`-v`): the driver then says where it put a cluster.
    pub verbose: bool,
}

/// A backend a benchmark uses, as `RankSetup` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUse {
    /// The `-a` value as given.
    pub api: String,
    /// The backend options of the test.
    pub options: BTreeMap<String, String>,
}
