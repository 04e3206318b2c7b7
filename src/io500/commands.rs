//! The settings of one IO500 run (directories, stonewall, timestamp, API) and the IOR and
//! mdtest command lines of its phases, built from the ini values as the io500 app builds
//! them (`ior_easy_add_params`, `mdtest_hard_add_params`, ...: same options, same order), and
//! the find criteria.
//!
//! Owns argument vectors and paths only; it must not run anything. The engines parse the
//! vectors with their own option tables ([`crate::ior::options`], [`crate::mdtest::options`]).

use crate::io500::config::{hash_update, Config};
use crate::io500::phases::{FindScope, IorSet, Job, MdtestSet, MdtestStep, MdwStep, PhaseDef};

/// The `--mode` of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The standard phases.
    #[default]
    Standard,
    /// Also the optional phases (find-easy, find-hard, md-workbench).
    Extended,
}

impl Mode {
    /// The app's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standard => "standard",
            Mode::Extended => "extended",
        }
    }
}

/// What every phase of a run shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the data goes (with the timestamp when `timestamp-datadir`).
    pub datadir: String,
    /// Where the results go (with the timestamp when `timestamp-resultdir`).
    pub resdir: String,
    /// `[debug] stonewall-time`, seconds.
    pub stonewall: i64,
    /// The runtime a write phase must reach for a valid run (300 s; 30 s with `scc`).
    pub minwrite: i64,
    /// The run's timestamp (`%Y.%m.%d-%H.%M.%S`), the same on every rank.
    pub timestamp: String,
    /// `[global] api`'s backend name (its first word).
    pub api: String,
    /// `[global] api` whole (backend name and options), when it has options.
    pub api_args: Option<String>,
    /// `[global] dataPacketType`.
    pub data_packet_type: String,
    /// `[global] io-buffers-on-gpu`.
    pub gpu: bool,
    /// The mode.
    pub mode: Mode,
    /// md-workbench's objects per set: precreated (`-P`) and per iteration (`-I`); set by
    /// the run from mdtest-easy-write's rate ([`mdworkbench_sizes`]).
    pub mdworkbench: (u64, u64),
}

impl Settings {
    /// The settings of `cfg` for a run stamped `timestamp`.
    pub fn of(cfg: &Config, timestamp: &str, mode: Mode) -> Settings {
        let with_stamp = |dir: &str, on: bool| {
            if on {
                format!("{dir}/{timestamp}")
            } else {
                dir.to_string()
            }
        };
        let api_full = cfg.get("global", "api").unwrap_or("POSIX");
        let (api, api_args) = match api_full.split_once(' ') {
            Some((name, _)) => (name.to_string(), Some(api_full.to_string())),
            None => (api_full.to_string(), None),
        };
        Settings {
            datadir: with_stamp(
                cfg.get("global", "datadir").unwrap_or("./datafiles"),
                cfg.flag("global", "timestamp-datadir") == Some(true),
            ),
            resdir: with_stamp(
                cfg.get("global", "resultdir").unwrap_or("./results"),
                cfg.flag("global", "timestamp-resultdir") == Some(true),
            ),
            stonewall: cfg.int("debug", "stonewall-time").unwrap_or(300),
            minwrite: if cfg.flag("global", "scc") == Some(true) {
                30
            } else {
                300
            },
            timestamp: timestamp.to_string(),
            api,
            api_args,
            data_packet_type: cfg
                .get("global", "dataPacketType")
                .unwrap_or("timestamp")
                .to_string(),
            gpu: cfg.flag("global", "io-buffers-on-gpu") == Some(true),
            mode,
            mdworkbench: (0, 0),
        }
    }

    /// The app's per-phase seed (`u_phase_unique_random_number`), as `%d` prints it.
    pub fn phase_seed(&self, name: &str) -> i32 {
        let h = hash_update(hash_update(0, name), &self.timestamp);
        if h == 0 || h == u32::MAX {
            4711
        } else {
            h as i32
        }
    }

    /// A path in the data directory.
    pub fn data(&self, rel: &str) -> String {
        format!("{}/{rel}", self.datadir)
    }

    /// A path in the result directory.
    pub fn res(&self, rel: &str) -> String {
        format!("{}/{rel}", self.resdir)
    }
}

/// The current local time as the app stamps a run (`%Y.%m.%d-%H.%M.%S`).
pub fn timestamp_now() -> String {
    chrono::Local::now().format("%Y.%m.%d-%H.%M.%S").to_string()
}

/// `-a` and the API words (`u_argv_push_default_if_set_api_options`): the phase's `API`, else
/// the workload's, else `[global] api`.
fn push_api(argv: &mut Vec<String>, s: &Settings, workload: Option<&str>, phase: Option<&str>) {
    argv.push("-a".into());
    let chosen = phase.or(workload);
    let words = match chosen {
        Some(api) => api.to_string(),
        None => s.api_args.clone().unwrap_or_else(|| s.api.clone()),
    };
    argv.extend(
        words
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string),
    );
}

fn push_verbosity(argv: &mut Vec<String>, cfg: &Config, section: &str) {
    let n = cfg.int(section, "verbosity").unwrap_or(0).max(0);
    argv.extend((0..n).map(|_| "-v".to_string()));
}

fn ior_easy_base(cfg: &Config, s: &Settings, std_flags: bool) -> Vec<String> {
    let mut a = vec![format!("--dataPacketType={}", s.data_packet_type)];
    push_verbosity(&mut a, cfg, "ior-easy");
    if s.gpu {
        a.extend(["-O".into(), "allocateBufferOnGPU=1".into()]);
    }
    a.extend([
        "-g".into(),
        "-G".into(),
        s.phase_seed("ior-easy").to_string(),
    ]);
    a.extend(["-k".into(), "-e".into(), "-o".into()]);
    a.push(s.data("ior-easy/ior_file_easy"));
    if std_flags {
        a.extend(["-C".into(), "-Q".into(), "1".into(), "-O".into()]);
        a.push(format!(
            "stoneWallingStatusFile={}",
            s.res("ior-easy.stonewall")
        ));
        a.extend([
            "-t".into(),
            cfg.get("ior-easy", "transferSize").unwrap_or("2m").into(),
        ]);
        a.extend([
            "-b".into(),
            cfg.get("ior-easy", "blockSize")
                .unwrap_or("9920000m")
                .into(),
        ]);
    }
    if cfg.flag("ior-easy", "uniqueDir") == Some(true) {
        a.push("-u".into());
    }
    if cfg.flag("ior-easy", "filePerProc") == Some(true) {
        a.push("-F".into());
    }
    a
}

fn ior_hard_base(cfg: &Config, s: &Settings) -> Vec<String> {
    let mut a = vec![format!("--dataPacketType={}", s.data_packet_type)];
    push_verbosity(&mut a, cfg, "ior-hard");
    if s.gpu {
        a.extend(["-O".into(), "allocateBufferOnGPU=1".into()]);
    }
    a.extend(["-C".into(), "-Q".into(), "1".into(), "-g".into()]);
    a.push(format!("-G={}", s.phase_seed("ior-hard")));
    a.extend([
        "-k".into(),
        "-e".into(),
        "-o".into(),
        s.data("ior-hard/file"),
    ]);
    a.extend([
        "-O".into(),
        format!("stoneWallingStatusFile={}", s.res("ior-hard.stonewall")),
    ]);
    a.extend([
        "-t".into(),
        "47008".into(),
        "-b".into(),
        "47008".into(),
        "-s".into(),
    ]);
    a.push(
        cfg.int("ior-hard", "segmentCount")
            .unwrap_or(10_000_000)
            .to_string(),
    );
    a
}

fn csv(s: &Settings, phase: &str) -> String {
    format!(
        "saveRankPerformanceDetailsCSV={}",
        s.res(&format!("{phase}.csv"))
    )
}

/// The IOR arguments (after the program name) of an IOR phase.
fn ior_args(def: &PhaseDef, set: IorSet, write: bool, cfg: &Config, s: &Settings) -> Vec<String> {
    let own_api = cfg.get(def.name, "API");
    let stonewall = s.stonewall.to_string();
    match (set, write) {
        (IorSet::Easy, true) => {
            let mut a = ior_easy_base(cfg, s, true);
            a.extend(["-w".into(), "-D".into(), stonewall]);
            a.extend(["-O".into(), "stoneWallingWearOut=1".into()]);
            push_api(&mut a, s, cfg.get("ior-easy", "API"), own_api);
            a.extend(["-O".into(), csv(s, def.name)]);
            a
        }
        (IorSet::Easy, false) => {
            let mut a = ior_easy_base(cfg, s, true);
            a.extend(["-r".into(), "-R".into()]);
            push_api(&mut a, s, cfg.get("ior-easy", "API"), own_api);
            a.extend(["-O".into(), csv(s, def.name)]);
            a
        }
        (IorSet::Hard, w) => {
            let mut a = ior_hard_base(cfg, s);
            if w {
                a.push("-w".into());
            } else {
                a.extend(["-r".into(), "-R".into()]);
            }
            let collective = cfg
                .flag(def.name, "collective")
                .or(cfg.flag("ior-hard", "collective"));
            if collective == Some(true) {
                a.push("-c".into());
            }
            if w {
                a.extend(["-D".into(), stonewall]);
            }
            push_api(&mut a, s, cfg.get("ior-hard", "API"), own_api);
            a.extend(["-O".into(), csv(s, def.name)]);
            if w {
                a.extend(["-O".into(), "stoneWallingWearOut=1".into()]);
            }
            a
        }
        (IorSet::Rnd4kEasy, _) => {
            let mut a = ior_easy_base(cfg, s, false);
            a.extend([
                "-r".into(),
                "-D".into(),
                stonewall,
                "-z".into(),
                "-z".into(),
            ]);
            push_api(&mut a, s, cfg.get("ior-easy", "API"), own_api);
            a.extend(["-O".into(), csv(s, def.name)]);
            a.extend(["-t=4096".into(), "-b=4096".into(), "-s=10000000".into()]);
            a.extend(["-O".into(), "stoneWallingWearOut=1".into()]);
            if cfg.flag("ior-easy", "filePerProc") == Some(true) {
                a.extend(["-C".into(), "-Q".into(), "2".into()]);
            }
            a
        }
    }
}

/// The mdtest arguments (after the program name) of an mdtest phase.
fn mdtest_args(
    def: &PhaseDef,
    set: MdtestSet,
    step: MdtestStep,
    cfg: &Config,
    s: &Settings,
) -> Vec<String> {
    let workload = workload_of(def).unwrap_or("mdtest-easy");
    let mut a = vec![format!("--dataPacketType={}", s.data_packet_type)];
    if s.gpu {
        a.push("--allocateBufferOnGPU".into());
    }
    let n = cfg.int(workload, "n").unwrap_or(1_000_000).to_string();
    a.extend(["-n".into(), n]);
    let files_per_dir = cfg.int("mdtest-hard", "files-per-dir").filter(|&v| v > 0);
    match set {
        MdtestSet::Easy => {
            a.extend(["-u", "-L", "-F", "-P", "-G"].map(String::from));
            a.push(s.phase_seed("mdtest-easy").to_string());
            a.extend(["-N".into(), "1".into(), "-d".into(), s.data("mdtest-easy")]);
            a.extend(["-x".into(), s.res("mdtest-easy.stonewall")]);
        }
        MdtestSet::Hard => {
            if let Some(k) = files_per_dir {
                a.push(format!("-I={k}"));
            }
            a.extend(["-t", "-w", "3901", "-e", "3901", "-P"].map(String::from));
            a.push(format!("-G={}", s.phase_seed("mdtest-hard")));
            a.extend(["-N".into(), "1".into(), "-F".into(), "-d".into()]);
            a.push(s.data("mdtest-hard"));
            a.extend(["-x".into(), s.res("mdtest-hard.stonewall")]);
        }
    }
    match step {
        MdtestStep::Create => {
            a.extend(["-C".into(), "-Y".into()]);
            if set == MdtestSet::Easy || files_per_dir.is_none() {
                a.extend(["-W".into(), s.stonewall.to_string()]);
            }
        }
        MdtestStep::Stat => a.push("-T".into()),
        MdtestStep::Read => a.extend(["-E".into(), "-X".into()]),
        MdtestStep::Remove => a.push("-r".into()),
    }
    a.push(format!(
        "--saveRankPerformanceDetails={}",
        s.res(&format!("{}.csv", def.name))
    ));
    push_api(
        &mut a,
        s,
        cfg.get(workload, "API"),
        cfg.get(def.name, "API"),
    );
    a
}

/// md-workbench's objects per set (`precreatePerSet`, `filesPerProc`) as the app sets them:
/// both keys when given, else what `rate_kiops` (mdtest-easy-write's score) creates in
/// `min(stonewall, 60)` seconds over `world` ranks and 10 sets. Returns them and whether the
/// rate was unknown (then 10 kIOPS, the app's "low (and sane) default").
pub fn mdworkbench_sizes(
    cfg: &Config,
    stonewall: i64,
    rate_kiops: f64,
    world: usize,
) -> (u64, u64, bool) {
    if let (Some(p), Some(f)) = (
        cfg.int("mdworkbench", "precreatePerSet"),
        cfg.int("mdworkbench", "filesPerProc"),
    ) {
        return (p.max(0) as u64, f.max(0) as u64, false);
    }
    let (rate, fallback) = if rate_kiops > 0.0 {
        (rate_kiops, false)
    } else {
        (10.0, true)
    };
    let time = stonewall.min(60) as f64;
    let per_set = ((rate * time * 1000.0 / world.max(1) as f64) as u64) / 10;
    (per_set, per_set, fallback)
}

/// The md-workbench arguments (after the program name) of an md-workbench phase
/// (`mdworkbench_add_params` and the phase's own options).
fn mdworkbench_args(step: MdwStep, cfg: &Config, s: &Settings) -> Vec<String> {
    let mut a = vec![format!("--dataPacketType={}", s.data_packet_type)];
    push_verbosity(&mut a, cfg, "mdworkbench");
    a.push("--process-reports".into());
    push_api(&mut a, s, cfg.get("mdworkbench", "API"), None);
    a.push(format!("-o={}", s.data("mdworkbench")));
    let wait = cfg
        .get("mdworkbench", "waitingTime")
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    a.push(format!("-t={:.6}", wait as f32));
    a.push("-O=1".into());
    a.push(format!("--run-info-file={}", s.res("mdworkbench.status")));
    a.push("-D=10".into());
    a.push(format!("-G={}", s.phase_seed("md-workbench")));
    a.push(format!("-P={}", s.mdworkbench.0));
    a.push(format!("-I={}", s.mdworkbench.1));
    match step {
        MdwStep::Create => a.push("-1".into()),
        MdwStep::Bench => a.extend(["-2".into(), "-R=2".into(), "-X".into()]),
        MdwStep::Delete => a.push("-3".into()),
    }
    a
}

/// The settings section a phase belongs to (`ior-easy` for `ior-easy-write`, ...).
pub fn workload_of(def: &PhaseDef) -> Option<&'static str> {
    match def.job {
        Job::Ior(IorSet::Easy | IorSet::Rnd4kEasy, _) => Some("ior-easy"),
        Job::Ior(IorSet::Hard, _) => Some("ior-hard"),
        Job::Mdtest(MdtestSet::Easy, _) => Some("mdtest-easy"),
        Job::Mdtest(MdtestSet::Hard, _) => Some("mdtest-hard"),
        Job::MdWorkbench(_) => Some("mdworkbench"),
        _ => None,
    }
}

/// What a find looks for (pfind's options as io500 passes them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FindQuery {
    /// The directory searched.
    pub root: String,
    /// `-newer FILE`: only files whose status changed at or after FILE's (seconds).
    pub newer: Option<String>,
    /// `-size Nc`: only files of exactly N bytes.
    pub size: Option<u64>,
    /// `-name PATTERN`: `*` matches anything; the pattern may match anywhere in the name.
    pub name: String,
}

impl FindQuery {
    /// The query of a find phase.
    pub fn of(scope: FindScope, s: &Settings) -> FindQuery {
        let stamp = Some(s.res("timestampfile"));
        match scope {
            FindScope::All => FindQuery {
                root: s.datadir.clone(),
                newer: stamp,
                size: Some(3901),
                name: "*01*".into(),
            },
            FindScope::Easy => FindQuery {
                root: s.data("mdtest-easy/"),
                newer: None,
                size: None,
                name: "*01*".into(),
            },
            FindScope::Hard => FindQuery {
                root: s.data("mdtest-hard/"),
                newer: stamp,
                size: Some(3901),
                name: "*01*".into(),
            },
        }
    }

    /// The arguments an `external-script` gets after its own (`DIR [-newer F] [-size Nc]
    /// -name "PATTERN"`, as the app writes them).
    pub fn external_args(&self) -> String {
        let mut c = self.root.clone();
        if let Some(n) = &self.newer {
            c.push_str(&format!(" -newer {n}"));
        }
        if let Some(sz) = self.size {
            c.push_str(&format!(" -size {sz}c"));
        }
        c.push_str(&format!(" -name \"{}\"", self.name));
        c
    }

    /// The query as a pfind command line (the `exe` line of the result file).
    pub fn command(&self, queue_length: i64) -> String {
        let mut c = format!("find {}", self.root);
        if let Some(n) = &self.newer {
            c.push_str(&format!(" -newer {n}"));
        }
        if let Some(sz) = self.size {
            c.push_str(&format!(" -size {sz}c"));
        }
        c.push_str(&format!(" -name {} -C -q {queue_length}", self.name));
        c
    }
}

/// The command of a phase, ready for its engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// IOR's arguments (after the program name).
    Ior(Vec<String>),
    /// mdtest's arguments (after the program name).
    Mdtest(Vec<String>),
    /// A find.
    Find(FindQuery),
    /// md-workbench's arguments (after the program name).
    MdWorkbench(Vec<String>),
    /// A find by `[find] external-script`: the shell command (`external-mpi-args`, the
    /// script, `external-extra-args`, the query's arguments) and the query.
    ExternalFind(String, FindQuery),
}

/// The program names the `exe` lines show: each phase can be rerun alone with them.
pub const IOR_PROGRAM: &str = "benchfs-bench";
/// See [`IOR_PROGRAM`].
pub const MDTEST_PROGRAM: &str = "benchfs-bench mdtest";
/// See [`IOR_PROGRAM`].
pub const MDWORKBENCH_PROGRAM: &str = "benchfs-bench md-workbench";

impl Command {
    /// The command of phase `def`, if it runs an engine.
    pub fn of(def: &PhaseDef, cfg: &Config, s: &Settings) -> Option<Command> {
        match def.job {
            Job::Ior(set, write) => Some(Command::Ior(ior_args(def, set, write, cfg, s))),
            Job::Mdtest(set, step) => Some(Command::Mdtest(mdtest_args(def, set, step, cfg, s))),
            Job::Find(scope) => {
                let q = FindQuery::of(scope, s);
                Some(match cfg.get(def.name, "external-script") {
                    Some(script) => {
                        let mpi = cfg.get(def.name, "external-mpi-args").unwrap_or("");
                        let extra = cfg.get(def.name, "external-extra-args").unwrap_or("");
                        let line = format!("{mpi} {script} {extra} {}", q.external_args());
                        Command::ExternalFind(line, q)
                    }
                    None => Command::Find(q),
                })
            }
            Job::MdWorkbench(step) => Some(Command::MdWorkbench(mdworkbench_args(step, cfg, s))),
            _ => None,
        }
    }

    /// The `exe` line.
    pub fn line(&self, queue_length: i64) -> String {
        match self {
            Command::Ior(a) => format!("{IOR_PROGRAM} {}", a.join(" ")),
            Command::Mdtest(a) => format!("{MDTEST_PROGRAM} {}", a.join(" ")),
            Command::Find(q) => q.command(queue_length),
            Command::MdWorkbench(a) => format!("{MDWORKBENCH_PROGRAM} {}", a.join(" ")),
            Command::ExternalFind(line, _) => line.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io500::phases;

    fn settings(cfg: &Config) -> Settings {
        Settings::of(cfg, "2026.12.01-09.58.53", Mode::Standard)
    }

    #[test]
    fn command_lines_as_the_app_builds_them() {
        // /work/peers/config-shm-tiny.ini's values; the app's exe lines of that run.
        let cfg = Config::parse(
            "[global]\ndatadir = /d\nresultdir = /r\ntimestamp-datadir = FALSE\n\
             timestamp-resultdir = FALSE\napi = POSIX\n[debug]\nstonewall-time = 1\n\
             [ior-easy]\ntransferSize = 1m\nblockSize = 64m\n[mdtest-easy]\nn = 2000\n\
             [ior-hard]\nsegmentCount = 1000\n[mdtest-hard]\nn = 2000\n",
        )
        .unwrap();
        let s = settings(&cfg);
        let line = |name: &str| {
            Command::of(phases::find(name).unwrap(), &cfg, &s)
                .unwrap()
                .line(10000)
        };
        let g = s.phase_seed("ior-easy");
        assert_eq!(
            line("ior-easy-write"),
            format!("benchfs-bench --dataPacketType=timestamp -g -G {g} -k -e -o /d/ior-easy/ior_file_easy -C -Q 1 -O stoneWallingStatusFile=/r/ior-easy.stonewall -t 1m -b 64m -F -w -D 1 -O stoneWallingWearOut=1 -a POSIX -O saveRankPerformanceDetailsCSV=/r/ior-easy-write.csv")
        );
        let h = s.phase_seed("ior-hard");
        assert_eq!(
            line("ior-hard-write"),
            format!("benchfs-bench --dataPacketType=timestamp -C -Q 1 -g -G={h} -k -e -o /d/ior-hard/file -O stoneWallingStatusFile=/r/ior-hard.stonewall -t 47008 -b 47008 -s 1000 -w -D 1 -a POSIX -O saveRankPerformanceDetailsCSV=/r/ior-hard-write.csv -O stoneWallingWearOut=1")
        );
        assert_eq!(
            line("ior-rnd4K-easy-read"),
            format!("benchfs-bench --dataPacketType=timestamp -g -G {g} -k -e -o /d/ior-easy/ior_file_easy -F -r -D 1 -z -z -a POSIX -O saveRankPerformanceDetailsCSV=/r/ior-rnd4K-easy-read.csv -t=4096 -b=4096 -s=10000000 -O stoneWallingWearOut=1 -C -Q 2")
        );
        let m = s.phase_seed("mdtest-easy");
        assert_eq!(
            line("mdtest-easy-write"),
            format!("benchfs-bench mdtest --dataPacketType=timestamp -n 2000 -u -L -F -P -G {m} -N 1 -d /d/mdtest-easy -x /r/mdtest-easy.stonewall -C -Y -W 1 --saveRankPerformanceDetails=/r/mdtest-easy-write.csv -a POSIX")
        );
        let mh = s.phase_seed("mdtest-hard");
        assert_eq!(
            line("mdtest-hard-read"),
            format!("benchfs-bench mdtest --dataPacketType=timestamp -n 2000 -t -w 3901 -e 3901 -P -G={mh} -N 1 -F -d /d/mdtest-hard -x /r/mdtest-hard.stonewall -E -X --saveRankPerformanceDetails=/r/mdtest-hard-read.csv -a POSIX")
        );
        assert_eq!(
            line("find"),
            "find /d -newer /r/timestampfile -size 3901c -name *01* -C -q 10000"
        );
    }

    #[test]
    fn md_workbench_lines_and_sizes_as_the_app_makes_them() {
        // The app's dry run of /work/peers/config-shm-tiny.ini in extended mode, stamped
        // 2026.12.01-17.23.45 (its ior-easy seed was 1850954760).
        let cfg = Config::parse(
            "[global]\ndatadir = /d\nresultdir = /r\ntimestamp-datadir = FALSE\n\
             timestamp-resultdir = FALSE\napi = POSIX\n[debug]\nstonewall-time = 1\n\
             [mdworkbench]\nprecreatePerSet = 100\nfilesPerProc = 100\n",
        )
        .unwrap();
        let mut s = Settings::of(&cfg, "2026.12.01-17.23.45", Mode::Extended);
        assert_eq!(s.phase_seed("ior-easy"), 1850954760);
        assert_eq!(mdworkbench_sizes(&cfg, 1, 0.0, 1), (100, 100, false));
        s.mdworkbench = (100, 100);
        let line = |name: &str| {
            Command::of(phases::find(name).unwrap(), &cfg, &s)
                .unwrap()
                .line(10000)
        };
        let base = "benchfs-bench md-workbench --dataPacketType=timestamp --process-reports -a POSIX -o=/d/mdworkbench -t=0.000000 -O=1 --run-info-file=/r/mdworkbench.status -D=10 -G=428192721 -P=100 -I=100";
        assert_eq!(line("mdworkbench-create"), format!("{base} -1"));
        assert_eq!(line("mdworkbench-bench"), format!("{base} -2 -R=2 -X"));
        assert_eq!(line("mdworkbench-delete"), format!("{base} -3"));
        // Without the keys: mdtest-easy's kIOPS x min(stonewall, 60) s x 1000 / ranks / 10.
        let none = Config::default();
        assert_eq!(mdworkbench_sizes(&none, 300, 5.0, 2), (15000, 15000, false));
        assert_eq!(mdworkbench_sizes(&none, 1, 0.587596, 2), (29, 29, false));
        assert_eq!(mdworkbench_sizes(&none, 1, 0.0, 4), (250, 250, true));
    }

    #[test]
    fn the_apps_seeds_and_api_precedence() {
        // The seeds of the peer's run stamped 2026.12.01-09.58.53 (its exe lines).
        let cfg = Config::default();
        let s = settings(&cfg);
        assert_eq!(s.phase_seed("ior-easy"), 1850947658);
        assert_eq!(s.phase_seed("ior-hard"), 1850958346);
        assert_eq!(s.phase_seed("mdtest-easy"), -1557841844);
        assert_eq!(s.phase_seed("mdtest-hard"), -1557831156);
        let mut cfg = Config::default();
        cfg.set("global", "api", "DUMMY --dummy.delay-create=5")
            .unwrap();
        cfg.set("mdtest-hard", "API", "POSIX").unwrap();
        let s = settings(&cfg);
        let args = |name: &str| match Command::of(phases::find(name).unwrap(), &cfg, &s) {
            Some(Command::Mdtest(a)) | Some(Command::Ior(a)) => a,
            other => panic!("{other:?}"),
        };
        assert!(args("mdtest-easy-write").ends_with(&[
            "-a".into(),
            "DUMMY".into(),
            "--dummy.delay-create=5".into()
        ]));
        assert!(args("mdtest-hard-write").ends_with(&["-a".into(), "POSIX".into()]));
    }
}
