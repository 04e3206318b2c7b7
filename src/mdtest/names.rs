//! mdtest's names and paths (SPEC §7.2): test directories (`test-dir.<iter>-<loop>`), tree
//! directories (`mdtest_tree.<n>`, with `-u` `mdtest_tree.<rank>.<n>`), items
//! (`dir.mdtest.<rank>.<i>`, `file.mdtest.<rank>.<i>`, shared `mdtest.shared.`), the rank
//! stride of `-N` between phases, and the walks over the tree in mdtest's order with its
//! `-v` traces.
//!
//! Owns string building only: no I/O. Paths are built as mdtest builds them, double slashes
//! included (`.../mdtest_tree.1//file.mdtest.0.7`), so that traces and warnings read the same.

/// The kind of item a phase works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Directories (`dir.`).
    Dir,
    /// Files (`file.`).
    File,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Dir => "dir.",
            Kind::File => "file.",
        }
    }
}

/// The test directory of iteration `iter`, loop `dir_iter` under `base` (`prep_testdir`).
pub fn test_dir(base: &str, iter: usize, dir_iter: u64) -> String {
    let sep = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{sep}test-dir.{iter}-{dir_iter}")
}

/// Which rank's names a phase uses (`-N`): mdtest shifts by one stride per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Create (`mk_name`, shift 0).
    Make,
    /// Stat and rename (`stat_name`, shift 1).
    Stat,
    /// Read (`read_name`, shift 2).
    Read,
    /// Remove (`rm_name`, shift 3).
    Remove,
}

impl Role {
    fn shift(self) -> usize {
        match self {
            Role::Make => 0,
            Role::Stat => 1,
            Role::Read => 2,
            Role::Remove => 3,
        }
    }
}

/// The names one rank uses in a test of `tasks` tasks (`mdtest_iteration` and
/// `collective_create_remove`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// This rank (or, for collective creates, the rank rank 0 acts for).
    pub rank: usize,
    /// Tasks of the test.
    pub tasks: usize,
    /// `-N` (after mdtest's adjustment for several nodes).
    pub nstride: usize,
    /// `-u`.
    pub unique: bool,
    /// `-S`.
    pub shared: bool,
}

impl Names {
    fn shifted(&self, k: usize) -> usize {
        (self.rank + k * self.nstride) % self.tasks.max(1)
    }

    /// The item name prefix of `role` (`mdtest.3.`, or `mdtest.shared.` with `-S`).
    pub fn item_prefix(&self, role: Role) -> String {
        if self.shared {
            "mdtest.shared.".to_string()
        } else {
            format!("mdtest.{}.", self.shifted(role.shift()))
        }
    }

    /// The tree directories' base name: `mdtest_tree.<rank>` with `-u`, else `mdtest_tree`.
    pub fn base_tree_name(&self) -> String {
        if self.unique {
            format!("mdtest_tree.{}", self.rank)
        } else {
            "mdtest_tree".to_string()
        }
    }

    /// The directory (relative to the test directory) a phase works in (`unique_*_dir`):
    /// with `-u` the tree of the rank one stride further than the names it uses (create:
    /// `unique_chdir_dir`, stat/rename: `unique_stat_dir`, read, remove), else
    /// `mdtest_tree.0`.
    pub fn phase_dir(&self, role: Role) -> String {
        if self.unique {
            format!("mdtest_tree.{}.0", self.shifted(role.shift() + 1))
        } else {
            format!("{}.0", self.base_tree_name())
        }
    }
}

/// The name of item `num` (`dir.mdtest.0.5`).
pub fn item_name(kind: Kind, prefix: &str, num: u64) -> String {
    format!("{}{prefix}{num}", kind.prefix())
}

/// The decimal digits of `n`, written into `buf` without the formatting machinery.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// The path of item `num` in directory `dir` (`dir/file.mdtest.0.7`), built in one
/// allocation of its exact length: the loops of a phase build one per operation, and
/// `format!` (twice, with the name apart) cost more than some operations on tmpfs.
pub fn item_in(dir: &str, kind: Kind, prefix: &str, num: u64) -> String {
    let mut buf = [0u8; 20];
    let digits = decimal(num, &mut buf);
    let kind = kind.prefix();
    let mut s = String::with_capacity(dir.len() + 1 + kind.len() + prefix.len() + digits.len());
    s.push_str(dir);
    s.push('/');
    s.push_str(kind);
    s.push_str(prefix);
    s.push_str(digits);
    s
}

/// One step of a walk over the items of a tree, in mdtest's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A `-v` trace line (`Entering create_remove_items on ...`), with mdtest's source line.
    Trace(u32, String),
    /// The items `first..first + items_per_dir` of directory `dir`.
    Items {
        /// The directory as mdtest writes it (may end with `/`).
        dir: String,
        /// The first item number of the directory.
        first: u64,
    },
}

/// The shape of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// `-z`.
    pub depth: u32,
    /// `-b`.
    pub branch: u64,
    /// Items per directory.
    pub items_per_dir: u64,
    /// `-L`.
    pub leaf_only: bool,
}

/// The walk of `create_remove_items` (create and remove phases) from `path`: items in each
/// directory of the tree, depth first, with mdtest's traces (`helper` names the function that
/// does the items: `create_remove_items_helper` or `collective_helper`).
pub fn item_walk(shape: Shape, base: &str, path: &str, helper: &str) -> Vec<Step> {
    let mut out = Vec::new();
    walk_items(shape, base, 0, path, 0, helper, &mut out);
    out
}

fn walk_items(
    s: Shape,
    base: &str,
    depth: u32,
    path: &str,
    dir_num: u64,
    helper: &str,
    out: &mut Vec<Step>,
) {
    out.push(Step::Trace(
        514,
        format!("Entering create_remove_items on {path}, currDepth = {depth}..."),
    ));
    let helper_line = if helper == "collective_helper" {
        470
    } else {
        445
    };
    if depth == 0 {
        if !s.leaf_only || s.depth == 0 {
            out.push(Step::Trace(
                helper_line,
                format!("Entering {helper} on {path}"),
            ));
            out.push(Step::Items {
                dir: path.to_string(),
                first: 0,
            });
        }
        if s.depth > 0 {
            walk_items(s, base, 1, path, dir_num + 1, helper, out);
        }
    } else if depth <= s.depth {
        for cur in dir_num..dir_num + s.branch {
            let dir = format!("{path}/{base}.{cur}/");
            if !s.leaf_only || depth == s.depth {
                out.push(Step::Trace(
                    helper_line,
                    format!("Entering {helper} on {dir}"),
                ));
                out.push(Step::Items {
                    dir: dir.clone(),
                    first: cur * s.items_per_dir,
                });
            }
            walk_items(s, base, depth + 1, &dir, cur * s.branch + 1, helper, out);
        }
    }
}

/// The path of item `num` below `path` as `mdtest_stat`/`mdtest_read`/`rename_dir_test`
/// build it: the chain of tree directories above its directory, then its name.
/// Its name is `kind`, `prefix`, `num` (as [`item_name`]).
pub fn item_path(
    path: &str,
    base: &str,
    shape: Shape,
    kind: Kind,
    prefix: &str,
    num: u64,
) -> String {
    let mut parent = num / shape.items_per_dir.max(1);
    if parent == 0 {
        return item_in(path, kind, prefix, num);
    }
    let mut rel = format!("{base}.{parent}/{}", item_name(kind, prefix, num));
    while parent > shape.branch {
        parent = (parent - 1) / shape.branch.max(1);
        rel = format!("{base}.{parent}/{rel}");
    }
    format!("{path}/{rel}")
}

/// One directory operation of a tree walk (`create_remove_directory_tree`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeStep {
    /// A `-v` trace (`Entering create_remove_directory_tree on ...`), mdtest's line.
    Trace(u32, String),
    /// Make (create) or remove this directory (as mdtest writes it, with a trailing `/`);
    /// `true` for the top directory of the tree (mdtest words its warning differently).
    Dir(String, bool),
}

/// The walk of `create_remove_directory_tree` below `testdir`: pre-order when creating,
/// post-order when removing.
pub fn tree_walk(shape: Shape, base: &str, testdir: &str, create: bool) -> Vec<TreeStep> {
    let mut out = Vec::new();
    walk_tree(shape, base, create, 0, testdir, 0, &mut out);
    out
}

fn walk_tree(
    s: Shape,
    base: &str,
    create: bool,
    depth: u32,
    path: &str,
    dir_num: u64,
    out: &mut Vec<TreeStep>,
) {
    out.push(TreeStep::Trace(
        1989,
        format!("Entering create_remove_directory_tree on {path}, currDepth = {depth}..."),
    ));
    if depth == 0 {
        let dir = format!("{path}/{base}.{dir_num}/");
        if create {
            out.push(TreeStep::Dir(dir.clone(), true));
        }
        walk_tree(s, base, create, 1, &dir, dir_num + 1, out);
        if !create {
            out.push(TreeStep::Dir(dir, true));
        }
    } else if depth <= s.depth {
        for cur in dir_num..dir_num + s.branch {
            let dir = format!("{path}{base}.{cur}/");
            if create {
                out.push(TreeStep::Dir(dir.clone(), false));
            }
            walk_tree(s, base, create, depth + 1, &dir, s.branch * cur + 1, out);
            if !create {
                out.push(TreeStep::Dir(dir, false));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(depth: u32, branch: u64, ipd: u64) -> Shape {
        Shape {
            depth,
            branch,
            items_per_dir: ipd,
            leaf_only: false,
        }
    }

    #[test]
    fn names_shift_by_the_stride() {
        let n = Names {
            rank: 0,
            tasks: 3,
            nstride: 1,
            unique: true,
            shared: false,
        };
        assert_eq!(n.item_prefix(Role::Make), "mdtest.0.");
        assert_eq!(n.item_prefix(Role::Stat), "mdtest.1.");
        assert_eq!(n.item_prefix(Role::Remove), "mdtest.0.");
        // Rank 0 creates its items in rank 1's tree; stats rank 1's items in rank 2's tree.
        assert_eq!(n.phase_dir(Role::Make), "mdtest_tree.1.0");
        assert_eq!(n.phase_dir(Role::Stat), "mdtest_tree.2.0");
        assert_eq!(n.base_tree_name(), "mdtest_tree.0");
        let s = Names {
            shared: true,
            unique: false,
            ..n
        };
        assert_eq!(s.item_prefix(Role::Read), "mdtest.shared.");
        assert_eq!(s.phase_dir(Role::Read), "mdtest_tree.0");
        assert_eq!(test_dir("/d/", 2, 0), "/d/test-dir.2-0");
        assert_eq!(test_dir("/d", 0, 1), "/d/test-dir.0-1");
    }

    #[test]
    fn item_walk_covers_the_tree_depth_first() {
        let steps = item_walk(shape(2, 2, 10), "mdtest_tree", "/t/mdtest_tree.0", "h");
        let dirs: Vec<(String, u64)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Items { dir, first } => Some((dir.clone(), *first)),
                _ => None,
            })
            .collect();
        let want = [
            ("/t/mdtest_tree.0", 0),
            ("/t/mdtest_tree.0/mdtest_tree.1/", 10),
            ("/t/mdtest_tree.0/mdtest_tree.1//mdtest_tree.3/", 30),
            ("/t/mdtest_tree.0/mdtest_tree.1//mdtest_tree.4/", 40),
            ("/t/mdtest_tree.0/mdtest_tree.2/", 20),
            ("/t/mdtest_tree.0/mdtest_tree.2//mdtest_tree.5/", 50),
            ("/t/mdtest_tree.0/mdtest_tree.2//mdtest_tree.6/", 60),
        ];
        assert_eq!(dirs.len(), 7);
        for ((d, f), (wd, wf)) in dirs.iter().zip(want) {
            assert_eq!((d.as_str(), *f), (wd, wf));
        }
        // Leaves only: the four deepest directories.
        let leaf = Shape {
            leaf_only: true,
            ..shape(2, 2, 10)
        };
        let n = item_walk(leaf, "mdtest_tree", "/t", "h")
            .iter()
            .filter(|s| matches!(s, Step::Items { .. }))
            .count();
        assert_eq!(n, 4);
        // Depth 0: the one directory, with mdtest's two traces.
        let flat = item_walk(
            shape(0, 1, 4),
            "mdtest_tree",
            "/t/mdtest_tree.0",
            "create_remove_items_helper",
        );
        assert_eq!(
            flat[0],
            Step::Trace(
                514,
                "Entering create_remove_items on /t/mdtest_tree.0, currDepth = 0...".into()
            )
        );
        assert_eq!(
            flat[1],
            Step::Trace(
                445,
                "Entering create_remove_items_helper on /t/mdtest_tree.0".into()
            )
        );
    }

    #[test]
    fn item_paths_walk_up_the_parents() {
        let s = shape(2, 2, 10);
        assert_eq!(
            item_path("/p", "mdtest_tree", s, Kind::File, "x.", 35),
            "/p/mdtest_tree.1/mdtest_tree.3/file.x.35"
        );
        assert_eq!(
            item_path("/p", "mdtest_tree", s, Kind::Dir, "", 25),
            "/p/mdtest_tree.2/dir.25"
        );
        assert_eq!(
            item_path("/p", "mdtest_tree", s, Kind::File, "", 3),
            "/p/file.3"
        );
        let chain = shape(2, 1, 10);
        assert_eq!(
            item_path("/p", "b", chain, Kind::File, "m.", 25),
            "/p/b.1/b.2/file.m.25"
        );
    }

    #[test]
    fn item_paths_built_in_place_read_as_formatted() {
        for num in [0, 1, 9, 10, 99, 12345, 10_000_000_000, u64::MAX] {
            for kind in [Kind::Dir, Kind::File] {
                let p = item_in("/t//mdtest_tree.1", kind, "mdtest.3.", num);
                let want = format!("/t//mdtest_tree.1/{}", item_name(kind, "mdtest.3.", num));
                assert_eq!(p, want);
                assert_eq!(
                    p.capacity(),
                    p.len(),
                    "{p}: one allocation of the exact size"
                );
            }
        }
    }

    #[test]
    fn tree_walk_orders() {
        let dirs = |create| -> Vec<String> {
            tree_walk(shape(1, 2, 1), "mdtest_tree", "/t", create)
                .into_iter()
                .filter_map(|s| match s {
                    TreeStep::Dir(d, _) => Some(d),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            dirs(true),
            [
                "/t/mdtest_tree.0/",
                "/t/mdtest_tree.0/mdtest_tree.1/",
                "/t/mdtest_tree.0/mdtest_tree.2/"
            ]
        );
        assert_eq!(
            dirs(false),
            [
                "/t/mdtest_tree.0/mdtest_tree.1/",
                "/t/mdtest_tree.0/mdtest_tree.2/",
                "/t/mdtest_tree.0/"
            ]
        );
        let traces = tree_walk(shape(0, 1, 1), "mdtest_tree", "/t", true);
        assert_eq!(
            traces[2],
            TreeStep::Trace(
                1989,
                "Entering create_remove_directory_tree on /t/mdtest_tree.0/, currDepth = 1..."
                    .into()
            )
        );
    }
}
