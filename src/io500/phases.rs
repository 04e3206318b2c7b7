//! The IO500 phase table (io500 app 02091cf, `phase-definitions.h`): every section of the ini
//! file in the app's order, with its keys and defaults, and for the sections that run, the
//! phase's kind, score group, stonewall rule and job.
//!
//! One record per phase: the ini parser ([`crate::io500::config`]), the command lines
//! ([`crate::io500::commands`]) and the sequence ([`crate::io500::engine`]) all read this
//! table. It must not parse, run or print anything.

/// The type of an ini value (the app's `ini_var_type_e`), which decides what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Any text.
    Str,
    /// `-?[0-9]+`.
    Int,
    /// `[0-9]+`.
    Uint,
    /// `[0-9]+` (64 bits).
    Uint64,
    /// `true`/`false`/`1`/`0`, any case; stored as `TRUE`/`FALSE`.
    Bool,
    /// `[0-9e.+-]+`.
    Float,
}

/// One key of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key as the app spells it (matched case-insensitively).
    pub name: &'static str,
    /// The app's help text.
    pub help: &'static str,
    /// What values it takes.
    pub kind: ValueKind,
    /// The default (`None`: unset).
    pub default: Option<&'static str>,
}

/// What a phase counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Group {
    /// Not scored.
    #[serde(rename = "none")]
    None,
    /// The metadata score (kIOPS).
    #[serde(rename = "MD")]
    Md,
    /// The bandwidth score (GiB/s).
    #[serde(rename = "BW")]
    Bw,
}

impl Group {
    /// The app's label (`NO SCORE`, `MD`, `BW`).
    pub fn label(self) -> &'static str {
        match self {
            Group::None => "NO SCORE",
            Group::Md => "MD",
            Group::Bw => "BW",
        }
    }
}

/// The app's phase type (`io500_phase_type`, without the optional flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Settings only, or a phase without a score (timestamp).
    Dummy,
    /// Creates data.
    Write,
    /// Reads what the writes made.
    Read,
    /// Removes what the writes made (the only phases `--cleanup` runs).
    Remove,
}

/// Which mdtest workload a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdtestSet {
    /// `mdtest-easy`: empty files, one directory per rank.
    Easy,
    /// `mdtest-hard`: 3901-byte files in one shared directory.
    Hard,
}

/// Which IOR workload a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IorSet {
    /// `ior-easy`: large sequential transfers, a file per process by default.
    Easy,
    /// `ior-hard`: 47008-byte transfers interleaved in one shared file.
    Hard,
    /// `ior-rnd4K-easy-read`: 4 KiB random reads of ior-easy's files.
    Rnd4kEasy,
}

/// Which operation of an mdtest workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdtestStep {
    /// `-C`: create (stonewalled).
    Create,
    /// `-T`: stat.
    Stat,
    /// `-E -X`: read and verify.
    Read,
    /// `-r`: remove.
    Remove,
}

/// Where a find phase searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindScope {
    /// `find`: the whole data directory, newer than the timestamp, 3901 bytes, `*01*`.
    All,
    /// `find-easy`: mdtest-easy's tree, `*01*` only.
    Easy,
    /// `find-hard`: mdtest-hard's tree, with `find`'s criteria.
    Hard,
}

/// Which md-workbench command of the extended mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdwStep {
    /// `-1`: precreate the working set (not scored).
    Create,
    /// `-2 -R=2 -X`: two benchmark iterations with verification (scored, MD).
    Bench,
    /// `-3`: remove the working set (not scored).
    Delete,
}

/// What a phase does when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// A settings section only.
    Settings,
    /// Creates the timestamp file the finds compare with.
    Timestamp,
    /// An IOR write (`true`) or read of a workload.
    Ior(IorSet, bool),
    /// An mdtest operation of a workload.
    Mdtest(MdtestSet, MdtestStep),
    /// A parallel find.
    Find(FindScope),
    /// An md-workbench phase (extended mode) on [`crate::mdworkbench`].
    MdWorkbench(MdwStep),
}

/// One section of the ini file, and the phase it configures or runs.
#[derive(Debug, Clone, Copy)]
pub struct PhaseDef {
    /// The section and phase name.
    pub name: &'static str,
    /// The app's type.
    pub kind: Kind,
    /// Only in extended mode (`IO500_PHASE_FLAG_OPTIONAL`).
    pub optional: bool,
    /// Score group.
    pub group: Group,
    /// Whether the runtime must reach the stonewall (the stonewalled writes).
    pub verify_stonewall: bool,
    /// What it does.
    pub job: Job,
    /// The section's keys.
    pub keys: &'static [Key],
}

impl PhaseDef {
    /// The unit the app prints after the score (`GiB/s` for the IOR phases, else `kIOPS`).
    pub fn unit(&self) -> &'static str {
        if self.name.starts_with('i') {
            "GiB/s"
        } else {
            "kIOPS"
        }
    }

    /// Whether the phase runs in `extended` mode only.
    pub fn runs_in(&self, extended: bool) -> bool {
        extended || !self.optional
    }
}

const fn key(
    name: &'static str,
    help: &'static str,
    kind: ValueKind,
    default: Option<&'static str>,
) -> Key {
    Key {
        name,
        help,
        kind,
        default,
    }
}

const API: Key = key("API", "The API to be used", ValueKind::Str, None);
const RUN: Key = key("run", "Run this phase", ValueKind::Bool, Some("TRUE"));
const COLLECTIVE: Key = key(
    "collective",
    "Collective operation (for supported backends)",
    ValueKind::Bool,
    None,
);
const VERBOSITY: Key = key("verbosity", "The verbosity level", ValueKind::Int, None);
const API_RUN: &[Key] = &[API, RUN];
const RUN_ONLY: &[Key] = &[RUN];
const API_COLLECTIVE_RUN: &[Key] = &[API, COLLECTIVE, RUN];

const GLOBAL: &[Key] = &[
    key("datadir", "The directory where the IO500 runs", ValueKind::Str, Some("./datafiles")),
    key("timestamp-datadir", "The data directory is suffixed by a timestamp. Useful for running several IO500 tests concurrently.", ValueKind::Bool, Some("TRUE")),
    key("resultdir", "The result directory.", ValueKind::Str, Some("./results")),
    key("timestamp-resultdir", "The result directory is suffixed by a timestamp. Useful for running several IO500 tests concurrently.", ValueKind::Bool, Some("TRUE")),
    key("api", "The general API for the tests (to create/delete the datadir, extra options will be passed to IOR/mdtest)", ValueKind::Str, Some("POSIX")),
    key("drop-caches", "Purge the caches, this is useful for testing and needed for single node runs", ValueKind::Bool, Some("FALSE")),
    key("drop-caches-cmd", "Cache purging command, invoked before each I/O phase", ValueKind::Str, Some("sudo -n bash -c \"echo 3 > /proc/sys/vm/drop_caches\"")),
    key("io-buffers-on-gpu", "Allocate the I/O buffers on the GPU", ValueKind::Bool, Some("FALSE")),
    key("verbosity", "The verbosity level between 1 and 10", ValueKind::Uint, Some("1")),
    key("scc", "Use the rules for the Student Cluster Competition", ValueKind::Bool, Some("FALSE")),
    key("dataPacketType", "Type of packet that will be created [timestamp|offset|incompressible|random]", ValueKind::Str, Some("timestamp")),
];

const DEBUG: &[Key] = &[
    key("stonewall-time", "For a valid result, the stonewall timer must be set to the value according to the rules. If smaller INVALIDATES RUN; FOR DEBUGGING.", ValueKind::Int, Some("300")),
    key("pause-dir", "Pause between phases while in this directory lies a file with the phase name, e.g., easy-create. This can be useful for performance testing, e.g., of tiered storage. At the moment it INVALIDATES RUN; FOR DEBUGGING.", ValueKind::Str, None),
];

const IOR_EASY: &[Key] = &[
    API,
    key("transferSize", "Transfer size", ValueKind::Str, Some("2m")),
    key(
        "blockSize",
        "Block size; must be a multiple of transferSize",
        ValueKind::Str,
        Some("9920000m"),
    ),
    key(
        "filePerProc",
        "Create one file per process",
        ValueKind::Bool,
        Some("TRUE"),
    ),
    key(
        "uniqueDir",
        "Use unique directory per file per process",
        ValueKind::Bool,
        Some("FALSE"),
    ),
    RUN,
    VERBOSITY,
];

const MDTEST_EASY: &[Key] = &[
    API,
    key("n", "Files per proc", ValueKind::Uint64, Some("1000000")),
    RUN,
];

const MDWORKBENCH: &[Key] = &[
    API,
    key("waitingTime", "Waiting time of an IO operation relative to runtime (1.0 is 100%%)", ValueKind::Float, Some("0.0")),
    key("precreatePerSet", "Files to precreate per set (always 10 sets), this is normally dynamically determined", ValueKind::Uint64, None),
    key("filesPerProc", "Files to run per iteration and set (always 10 sets), this is normally dynamically determined", ValueKind::Uint64, None),
    RUN,
    VERBOSITY,
];

const FIND: &[Key] = &[
    key(
        "external-script",
        "Set to an external script to perform the find phase",
        ValueKind::Str,
        None,
    ),
    key(
        "external-mpi-args",
        "Startup arguments for external scripts, some MPI's may not support this!",
        ValueKind::Str,
        Some(""),
    ),
    key(
        "external-extra-args",
        "Extra arguments for the external scripts",
        ValueKind::Str,
        Some(""),
    ),
    key(
        "nproc",
        "Set the number of processes for pfind/the external script",
        ValueKind::Uint,
        None,
    ),
    RUN,
    key(
        "pfind-queue-length",
        "Pfind queue length",
        ValueKind::Int,
        Some("10000"),
    ),
    key(
        "pfind-steal-next",
        "Pfind Steal from next",
        ValueKind::Bool,
        Some("FALSE"),
    ),
    key(
        "pfind-parallelize-single-dir-access-using-hashing",
        "Parallelize the readdir by using hashing. Your system must support this!",
        ValueKind::Bool,
        Some("FALSE"),
    ),
];

const IOR_HARD: &[Key] = &[
    API,
    key(
        "segmentCount",
        "Number of segments",
        ValueKind::Int,
        Some("10000000"),
    ),
    COLLECTIVE,
    RUN,
    VERBOSITY,
];

const MDTEST_HARD: &[Key] = &[
    API,
    key("n", "Files per proc", ValueKind::Uint64, Some("1000000")),
    key("files-per-dir", "File limit per directory (MDTest -I flag) to overcome file system limitations INVALIDATES RUN; FOR DEBUGGING.", ValueKind::Uint64, None),
    RUN,
];

const fn phase(
    name: &'static str,
    kind: Kind,
    optional: bool,
    group: Group,
    verify_stonewall: bool,
    job: Job,
    keys: &'static [Key],
) -> PhaseDef {
    PhaseDef {
        name,
        kind,
        optional,
        group,
        verify_stonewall,
        job,
        keys,
    }
}

use FindScope as F;
use Group as G;
use Kind as K;
use MdtestSet::{Easy as ME, Hard as MH};
use MdtestStep as S;

/// Every section and phase, in the app's order (`phase-definitions.h`).
#[rustfmt::skip]
pub const PHASES: &[PhaseDef] = &[
    phase("global", K::Dummy, false, G::None, false, Job::Settings, GLOBAL),
    phase("debug", K::Dummy, false, G::None, false, Job::Settings, DEBUG),
    phase("ior-easy", K::Dummy, false, G::None, false, Job::Settings, IOR_EASY),
    phase("ior-easy-write", K::Write, false, G::Bw, true, Job::Ior(IorSet::Easy, true), API_RUN),
    phase("mdtest-easy", K::Dummy, false, G::None, false, Job::Settings, MDTEST_EASY),
    phase("mdtest-easy-write", K::Write, false, G::Md, true, Job::Mdtest(ME, S::Create), API_RUN),
    phase("mdworkbench", K::Dummy, true, G::None, false, Job::Settings, MDWORKBENCH),
    phase("mdworkbench-create", K::Write, true, G::None, false, Job::MdWorkbench(MdwStep::Create), RUN_ONLY),
    phase("timestamp", K::Dummy, false, G::None, false, Job::Timestamp, &[]),
    phase("find-easy", K::Read, true, G::Md, false, Job::Find(F::Easy), FIND),
    phase("ior-hard", K::Dummy, false, G::None, false, Job::Settings, IOR_HARD),
    phase("ior-hard-write", K::Write, false, G::Bw, true, Job::Ior(IorSet::Hard, true), API_COLLECTIVE_RUN),
    phase("mdtest-hard", K::Dummy, false, G::None, false, Job::Settings, MDTEST_HARD),
    phase("mdtest-hard-write", K::Write, false, G::Md, true, Job::Mdtest(MH, S::Create), API_RUN),
    phase("find", K::Read, false, G::Md, false, Job::Find(F::All), FIND),
    phase("find-hard", K::Read, true, G::Md, false, Job::Find(F::Hard), FIND),
    phase("mdworkbench-bench", K::Write, true, G::Md, false, Job::MdWorkbench(MdwStep::Bench), RUN_ONLY),
    phase("ior-easy-read", K::Read, false, G::Bw, false, Job::Ior(IorSet::Easy, false), API_RUN),
    phase("mdtest-easy-stat", K::Read, false, G::Md, false, Job::Mdtest(ME, S::Stat), API_RUN),
    phase("ior-hard-read", K::Read, false, G::Bw, false, Job::Ior(IorSet::Hard, false), API_COLLECTIVE_RUN),
    phase("mdtest-hard-stat", K::Read, false, G::Md, false, Job::Mdtest(MH, S::Stat), API_RUN),
    phase("mdworkbench-delete", K::Remove, true, G::None, false, Job::MdWorkbench(MdwStep::Delete), RUN_ONLY),
    phase("mdtest-easy-delete", K::Remove, false, G::Md, false, Job::Mdtest(ME, S::Remove), API_RUN),
    phase("mdtest-hard-read", K::Read, false, G::Md, false, Job::Mdtest(MH, S::Read), API_RUN),
    phase("mdtest-hard-delete", K::Remove, false, G::Md, false, Job::Mdtest(MH, S::Remove), API_RUN),
    phase("ior-rnd4K-easy-read", K::Read, false, G::None, false, Job::Ior(IorSet::Rnd4kEasy, false), API_RUN),
];

/// The phase or section named `name` (case-insensitively, as the app matches sections).
pub fn find(name: &str) -> Option<&'static PhaseDef> {
    PHASES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_order_and_counts() {
        assert_eq!(PHASES.len(), 26, "IO500_PHASES");
        let scored: Vec<&str> = PHASES
            .iter()
            .filter(|p| p.group != Group::None && !p.optional)
            .map(|p| p.name)
            .collect();
        assert_eq!(
            scored,
            [
                "ior-easy-write",
                "mdtest-easy-write",
                "ior-hard-write",
                "mdtest-hard-write",
                "find",
                "ior-easy-read",
                "mdtest-easy-stat",
                "ior-hard-read",
                "mdtest-hard-stat",
                "mdtest-easy-delete",
                "mdtest-hard-read",
                "mdtest-hard-delete"
            ]
        );
        assert_eq!(find("IOR-EASY").map(|p| p.name), Some("ior-easy"));
        assert_eq!(find("ior-rnd4K-easy-read").map(|p| p.unit()), Some("GiB/s"));
        assert_eq!(find("find").map(|p| p.unit()), Some("kIOPS"));
    }
}
