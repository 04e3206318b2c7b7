//! The parameters of an mdtest run (`mdtest_options_t` and `mdtest_run`'s locals, SPEC §7.1)
//! with mdtest 4.1's defaults, the operations it times ([`Op`], `mdtest_test_num_t`), and the
//! values mdtest derives before it starts ([`Plan`]: phases, tree size, items per directory).
//!
//! Owns plain data and the derivation rules only; options are parsed in
//! [`crate::mdtest::options`], combinations checked in [`crate::mdtest::validate`].

use crate::ior::params::DataPacketType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything an mdtest command line sets. Integers keep mdtest's types: `int` options are
/// `i32` (flags are counters, `-v -v` = 2), item counts and byte counts `u64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MdtestParams {
    /// `-a`: backend, as given (`None`: not given; the backend is then POSIX and `-v` prints
    /// `(null)`, as mdtest).
    pub api: Option<String>,
    /// `--<backend>.<name>` values.
    pub backend_options: BTreeMap<String, String>,
    /// `-b`: branching factor of the tree.
    pub branch_factor: i32,
    /// `-d`: test directory, or several joined by `@`.
    pub dirpath: String,
    /// `-B`: no barriers between phases (a value, as in mdtest: `-B 1`).
    pub no_barriers: i32,
    /// `-C`: create phase.
    pub create_only: i32,
    /// `-T`: stat phase.
    pub stat_only: i32,
    /// `-E`: read phase.
    pub read_only: i32,
    /// `-r`: remove phase.
    pub remove_only: i32,
    /// `-U`: directory rename phase.
    pub rename_dirs: i32,
    /// `-D`: directories only.
    pub dirs_only: i32,
    /// `-F`: files only.
    pub files_only: i32,
    /// `-e`: bytes read from each file.
    pub read_bytes: u64,
    /// `-f`: first task count.
    pub first: i32,
    /// `-l`: last task count (0: the job's size).
    pub last: i32,
    /// `-s`: task-count stride.
    pub stride: i32,
    /// `-G`: offset of the data pattern (-1: `time(NULL)` of rank 0).
    pub random_buffer_offset: i32,
    /// `-i`: iterations.
    pub iterations: i32,
    /// `-I`: items per directory of the tree.
    pub items_per_dir: u64,
    /// `-k`: create files with mknod.
    pub make_node: i32,
    /// `-L`: items only in the leaves of the tree.
    pub leaf_only: i32,
    /// `-n`: items per rank.
    pub items: u64,
    /// `-N`: rank stride between the phases (read a neighbour's items).
    pub nstride: i32,
    /// `-p`: seconds rank 0 sleeps before each iteration's tests.
    pub pre_delay: i32,
    /// `-P`: print rate and time.
    pub print_rate_and_time: i32,
    /// `--print-all-procs`.
    pub print_all_procs: i32,
    /// `-R`: random stat/read order.
    pub randomize: i32,
    /// `--random-seed`.
    pub random_seed: i32,
    /// `-S`: one shared file name for all ranks (files only).
    pub shared_file: i32,
    /// `-c`: rank 0 creates (and removes) every item.
    pub collective_creates: i32,
    /// `-t`: time the unique directory overhead.
    pub time_unique_dir_overhead: i32,
    /// `-u`: a directory tree per rank.
    pub unique_dir_per_task: i32,
    /// `-v` / `-V`: verbosity.
    pub verbose: i32,
    /// `-w`: bytes written to each file after it is created.
    pub write_bytes: u64,
    /// `-W`: stonewall of the create phase, seconds.
    pub stone_wall_timer_seconds: i32,
    /// `-x`: stonewall status file.
    pub stonewall_status_file: Option<String>,
    /// `-X` / `--verify-read`.
    pub verify_read: i32,
    /// `--verify-write`.
    pub verify_write: i32,
    /// `-y`: fsync each file after writing.
    pub sync_file: i32,
    /// `-Y`: the backend's sync after each phase (timed).
    pub call_sync: i32,
    /// `-z`: tree depth.
    pub depth: i32,
    /// `-Z`: print time instead of rate.
    pub print_time: i32,
    /// `--dataPacketType` as given (`t`, `offset`, ...).
    pub data_packet_type: String,
    /// `--run-cmd-before-phase`.
    pub prologue: String,
    /// `--run-cmd-after-phase`.
    pub epilogue: String,
    /// `--warningAsErrors`.
    pub warning_as_errors: i32,
    /// `--saveRankPerformanceDetails`.
    pub save_rank_details: Option<String>,
    /// `--savePerOpDataCSV`.
    pub save_per_op: Option<String>,
    /// `--showRankStatistics`.
    pub show_perrank_statistics: i32,
    /// `--iodepth`: operations of a task in flight (beyond mdtest; 1 = mdtest).
    pub iodepth: i32,
    /// `--interval`: seconds per interval of each phase's time series (beyond mdtest).
    pub interval: f64,
}

impl Default for MdtestParams {
    /// mdtest 4.1's defaults (`mdtest_init_args` and `mdtest_run`).
    fn default() -> Self {
        MdtestParams {
            api: None,
            backend_options: BTreeMap::new(),
            branch_factor: 1,
            dirpath: "./out".to_string(),
            no_barriers: 0,
            create_only: 0,
            stat_only: 0,
            read_only: 0,
            remove_only: 0,
            rename_dirs: 0,
            dirs_only: 0,
            files_only: 0,
            read_bytes: 0,
            first: 1,
            last: 0,
            stride: 1,
            random_buffer_offset: -1,
            iterations: 1,
            items_per_dir: 0,
            make_node: 0,
            leaf_only: 0,
            items: 0,
            nstride: 0,
            pre_delay: 0,
            print_rate_and_time: 0,
            print_all_procs: 0,
            randomize: 0,
            random_seed: 0,
            shared_file: 0,
            collective_creates: 0,
            time_unique_dir_overhead: 0,
            unique_dir_per_task: 0,
            verbose: 0,
            write_bytes: 0,
            stone_wall_timer_seconds: 0,
            stonewall_status_file: None,
            verify_read: 0,
            verify_write: 0,
            sync_file: 0,
            call_sync: 0,
            depth: 0,
            print_time: 0,
            data_packet_type: "t".to_string(),
            prologue: String::new(),
            epilogue: String::new(),
            warning_as_errors: 0,
            save_rank_details: None,
            save_per_op: None,
            show_perrank_statistics: 0,
            iodepth: 1,
            interval: crate::measure::series::DEFAULT_INTERVAL.as_secs_f64(),
        }
    }
}

impl MdtestParams {
    /// The backend name: `-a` as given, POSIX when not given.
    pub fn api_name(&self) -> &str {
        self.api.as_deref().unwrap_or("POSIX")
    }

    /// The test directories of `-d` (`d1@d2@...`, empty pieces dropped as `strtok` does).
    pub fn paths(&self) -> Vec<String> {
        self.dirpath
            .split(['@', '\n'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Number of test directories (0 for an empty `-d`: the working directory is used).
    pub fn path_count(&self) -> usize {
        self.paths().len()
    }

    /// The data pattern (`--dataPacketType`, first character decides).
    pub fn packet_type(&self) -> Option<DataPacketType> {
        if self.data_packet_type.is_empty() {
            return Some(DataPacketType::Timestamp);
        }
        DataPacketType::parse(&self.data_packet_type)
    }
}

/// An operation mdtest times, in mdtest's order (`mdtest_test_num_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `Directory creation`.
    DirCreate,
    /// `Directory stat`.
    DirStat,
    /// `Directory read` (timed, never printed).
    DirRead,
    /// `Directory rename`.
    DirRename,
    /// `Directory removal`.
    DirRemove,
    /// `File creation`.
    FileCreate,
    /// `File stat`.
    FileStat,
    /// `File read`.
    FileRead,
    /// `File removal`.
    FileRemove,
    /// `Tree creation`.
    TreeCreate,
    /// `Tree removal`.
    TreeRemove,
}

impl Op {
    /// Every operation in mdtest's order.
    pub const ALL: [Op; 11] = [
        Op::DirCreate,
        Op::DirStat,
        Op::DirRead,
        Op::DirRename,
        Op::DirRemove,
        Op::FileCreate,
        Op::FileStat,
        Op::FileRead,
        Op::FileRemove,
        Op::TreeCreate,
        Op::TreeRemove,
    ];

    /// mdtest's name (`mdtest_test_name`).
    pub fn name(self) -> &'static str {
        match self {
            Op::DirCreate => "Directory creation",
            Op::DirStat => "Directory stat",
            Op::DirRead => "Directory read",
            Op::DirRename => "Directory rename",
            Op::DirRemove => "Directory removal",
            Op::FileCreate => "File creation",
            Op::FileStat => "File stat",
            Op::FileRead => "File read",
            Op::FileRemove => "File removal",
            Op::TreeCreate => "Tree creation",
            Op::TreeRemove => "Tree removal",
        }
    }

    /// The operation of an mdtest name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Position in mdtest's order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short stable key (`file_create`), as in result documents.
    pub fn key(self) -> &'static str {
        match self {
            Op::DirCreate => "dir_create",
            Op::DirStat => "dir_stat",
            Op::DirRead => "dir_read",
            Op::DirRename => "dir_rename",
            Op::DirRemove => "dir_remove",
            Op::FileCreate => "file_create",
            Op::FileStat => "file_stat",
            Op::FileRead => "file_read",
            Op::FileRemove => "file_remove",
            Op::TreeCreate => "tree_create",
            Op::TreeRemove => "tree_remove",
        }
    }

    /// Whether it is one of the tree operations (timed on rank 0 only).
    pub fn is_tree(self) -> bool {
        matches!(self, Op::TreeCreate | Op::TreeRemove)
    }
}

/// What mdtest derives from the parameters before it starts (`mdtest_run` and
/// `md_validate_tests`): the phases, the kinds of items, the tree and the items per directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Create phase runs.
    pub create: bool,
    /// Stat phase runs.
    pub stat: bool,
    /// Read phase runs.
    pub read: bool,
    /// Remove phase runs.
    pub remove: bool,
    /// Directory rename phase runs.
    pub rename: bool,
    /// Directories are tested.
    pub dirs: bool,
    /// Files are tested.
    pub files: bool,
    /// Whether none of `-C -T -E -r -U` was given (mdtest then sets all five).
    pub all_phases_implied: bool,
    /// Directories of the tree (`num_dirs_in_tree`).
    pub num_dirs_in_tree: u64,
    /// Items per directory of the tree.
    pub items_per_dir: u64,
    /// Items per rank.
    pub items: u64,
    /// `num_dirs_in_tree_calc` (`-n` and `-I` both given).
    pub num_dirs_in_tree_calc: u64,
    /// Test directories per iteration (`-n` and `-I` both given, without `-u`).
    pub directory_loops: u64,
}

fn pow(b: u64, e: u32) -> u64 {
    b.saturating_pow(e)
}

impl Plan {
    /// mdtest's derivation for `p` (already validated).
    pub fn of(p: &MdtestParams) -> Plan {
        let all_phases_implied = p.create_only == 0
            && p.stat_only == 0
            && p.read_only == 0
            && p.remove_only == 0
            && p.rename_dirs == 0;
        let on = |v: i32| all_phases_implied || v != 0;
        let mut dirs = p.dirs_only != 0;
        let mut files = p.files_only != 0;
        if !dirs && !files {
            dirs = true;
            files = true;
        }
        if p.shared_file != 0 {
            dirs = false;
        }
        let depth = p.depth.max(0) as u32;
        let b = p.branch_factor.max(0) as u64;
        let num_dirs_in_tree = if depth == 0 || b < 1 {
            1
        } else if b == 1 {
            depth as u64 + 1
        } else {
            (pow(b, depth + 1) - 1) / (b - 1)
        };
        let leaves = pow(b, depth);
        let leaf = p.leaf_only != 0;
        let mut items = p.items;
        let mut items_per_dir = p.items_per_dir;
        let mut num_dirs_in_tree_calc = 0;
        if items_per_dir > 0 {
            if items == 0 {
                items = if leaf {
                    items_per_dir * leaves
                } else {
                    items_per_dir * num_dirs_in_tree
                };
            } else {
                num_dirs_in_tree_calc = num_dirs_in_tree;
            }
        } else if leaf {
            if b <= 1 {
                items_per_dir = items;
            } else {
                items_per_dir = items / leaves.max(1);
                items = items_per_dir * leaves;
            }
        } else {
            items_per_dir = items / num_dirs_in_tree;
            items = items_per_dir * num_dirs_in_tree;
        }
        let directory_loops = if p.items > 0 && p.items_per_dir > 0 && p.unique_dir_per_task == 0 {
            p.items / p.items_per_dir
        } else {
            1
        };
        Plan {
            create: on(p.create_only),
            stat: on(p.stat_only),
            read: on(p.read_only),
            remove: on(p.remove_only),
            rename: on(p.rename_dirs),
            dirs,
            files,
            all_phases_implied,
            num_dirs_in_tree,
            items_per_dir,
            items,
            num_dirs_in_tree_calc,
            directory_loops,
        }
    }

    /// The first item number of the leaves with `-L` (`items_per_dir * (dirs - b^depth)`), 0
    /// otherwise.
    pub fn leaf_offset(&self, p: &MdtestParams) -> u64 {
        if p.leaf_only == 0 {
            return 0;
        }
        let leaves = pow(p.branch_factor.max(0) as u64, p.depth.max(0) as u32);
        self.items_per_dir * self.num_dirs_in_tree.saturating_sub(leaves)
    }

    /// `"N tasks, M files/directories"` (or `files`, `directories`, `1 file`) for `tasks`.
    pub fn tasks_line(&self, p: &MdtestParams, tasks: usize) -> Option<String> {
        let mut all = tasks as u64 * self.items;
        if self.num_dirs_in_tree_calc > 0 {
            all *= self.num_dirs_in_tree_calc;
        }
        if self.files && self.dirs {
            Some(format!("{tasks} tasks, {all} files/directories"))
        } else if self.files {
            if p.shared_file == 0 {
                Some(format!("{tasks} tasks, {all} files"))
            } else {
                Some(format!("{tasks} tasks, 1 file"))
            }
        } else if self.dirs {
            Some(format!("{tasks} tasks, {all} directories"))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(f: impl FnOnce(&mut MdtestParams)) -> Plan {
        let mut p = MdtestParams::default();
        f(&mut p);
        Plan::of(&p)
    }

    #[test]
    fn phases_and_kinds() {
        let d = plan(|p| p.items = 10);
        assert!(d.create && d.stat && d.read && d.remove && d.rename && d.all_phases_implied);
        assert!(d.dirs && d.files);
        let c = plan(|p| {
            p.create_only = 1;
            p.stat_only = 1;
            p.files_only = 1;
        });
        assert!(c.create && c.stat && !c.read && !c.remove && !c.rename && !c.dirs);
        let s = plan(|p| p.shared_file = 1);
        assert!(s.files && !s.dirs);
    }

    #[test]
    fn tree_sizes_as_mdtest() {
        // -z 2 -b 2 -n 500: 7 directories, 71 items each, 497 per rank (994 for 2 tasks).
        let t = plan(|p| {
            p.depth = 2;
            p.branch_factor = 2;
            p.items = 500;
        });
        assert_eq!((t.num_dirs_in_tree, t.items_per_dir, t.items), (7, 71, 497));
        let p = MdtestParams {
            depth: 2,
            branch_factor: 2,
            items: 500,
            files_only: 1,
            ..MdtestParams::default()
        };
        assert_eq!(
            Plan::of(&p).tasks_line(&p, 2).as_deref(),
            Some("2 tasks, 994 files")
        );
        // -z 1 -b 2 -I 5: 3 directories of 5 items: 15 per rank.
        let i = plan(|p| {
            p.depth = 1;
            p.branch_factor = 2;
            p.items_per_dir = 5;
        });
        assert_eq!((i.num_dirs_in_tree, i.items), (3, 15));
        // -z 2 -b 2 -n 40 -L: 4 leaves of 10.
        let l = plan(|p| {
            p.depth = 2;
            p.branch_factor = 2;
            p.items = 40;
            p.leaf_only = 1;
        });
        assert_eq!((l.items_per_dir, l.items), (10, 40));
        let lp = MdtestParams {
            depth: 2,
            branch_factor: 2,
            items: 40,
            leaf_only: 1,
            ..MdtestParams::default()
        };
        assert_eq!(l.leaf_offset(&lp), 30);
        // -z 3 -b 1: a chain of 4.
        assert_eq!(
            plan(|p| {
                p.depth = 3;
                p.items = 8
            })
            .num_dirs_in_tree,
            4
        );
    }

    #[test]
    fn paths_split_at_at_signs() {
        let p = MdtestParams {
            dirpath: "/a@/b@@/c".into(),
            ..MdtestParams::default()
        };
        assert_eq!(p.paths(), ["/a", "/b", "/c"]);
        assert_eq!(p.path_count(), 3);
        assert_eq!(MdtestParams::default().paths(), ["./out"]);
    }

    #[test]
    fn ops_in_mdtest_order() {
        assert_eq!(Op::FileCreate.index(), 5);
        assert_eq!(Op::from_name("Tree removal"), Some(Op::TreeRemove));
        assert_eq!(Op::ALL.iter().filter(|o| o.is_tree()).count(), 2);
    }
}
