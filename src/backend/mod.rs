//! The storage backends benchfs-bench drives, behind one async trait shaped after IOR's
//! backend table (`ior_aiori_t`, SPEC §6.2).
//!
//! Owns the [`Backend`] trait, its error and value types, the backend options
//! (`--<backend>.<name>`), and the backend table (`backend_table!` below): one record per
//! backend (variant, type, `-a` name), from which [`AnyBackend`], [`AnyFile`],
//! [`BACKEND_NAMES`] and [`module_options`] are generated. Adding a backend means a module here
//! and one record in the table; the engine is never touched. Backends must not print: they
//! return errors, and the engine reports them in IOR's wording.

pub(crate) mod benchfs;
pub(crate) mod buffer;
pub(crate) mod cmdline;
pub(crate) mod dummy;
pub(crate) mod mmap;
pub(crate) mod posix;
pub(crate) mod uring;

use std::collections::BTreeMap;
use thiserror::Error;

/// Errors a backend call can return.
#[derive(Debug, Error)]
pub enum BackendError {
    /// An operating-system error, with the call and path it concerned.
    #[error("{op} of \"{path}\" failed: {source}")]
    Io {
        /// The operation (`open`, `pwrite`, ...).
        op: &'static str,
        /// The path (or file name) involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `open(2)` failed, in IOR's POSIX wording: `open64("path", flags) failed: reason` for an
    /// open, `open64("path", flags, 0664) failed. Error: reason` for a create.
    #[error("{}", open_failure(path, *flags, *mode, source))]
    Open {
        /// The path.
        path: String,
        /// The `open(2)` flags IOR would show (without `O_CLOEXEC`).
        flags: i32,
        /// The mode, for a create (`O_CREAT`).
        mode: Option<u32>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A distributed file system call failed (the message names the server where known).
    #[error("{op} of \"{path}\" failed: {message}")]
    Remote {
        /// The operation.
        op: &'static str,
        /// The path involved.
        path: String,
        /// The errno the failure maps to.
        errno: i32,
        /// What went wrong.
        message: String,
    },
    /// A backend option has a bad value.
    #[error("invalid option --{option}: {message}")]
    InvalidOption {
        /// Full option name (`posix.odirect`).
        option: String,
        /// What is wrong.
        message: String,
    },
    /// The parameters of the test cannot work with this backend.
    #[error("{0}")]
    Unsupported(String),
    /// Any other failure of a backend (e.g. a remote server error).
    #[error("{0}")]
    Other(String),
}

/// The text of [`BackendError::Open`], as IOR's POSIX backend words it.
fn open_failure(path: &str, flags: i32, mode: Option<u32>, e: &std::io::Error) -> String {
    match mode {
        Some(m) => format!("open64(\"{path}\", {flags}, 0{m:o}) failed. Error: {e}"),
        None => format!("open64(\"{path}\", {flags}) failed: {e}"),
    }
}

impl BackendError {
    /// Shorthand for an [`BackendError::Io`] error.
    pub fn io(op: &'static str, path: impl Into<String>, source: std::io::Error) -> Self {
        BackendError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The errno of the failure, if it has one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            BackendError::Io { source, .. } | BackendError::Open { source, .. } => {
                source.raw_os_error()
            }
            BackendError::Remote { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Result of backend calls.
pub type BackendResult<T> = Result<T, BackendError>;

/// Open flags, as IOR passes them to `create`/`open` (SPEC §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags {
    /// `IOR_RDONLY`.
    pub read_only: bool,
    /// `IOR_WRONLY`.
    pub write_only: bool,
    /// `IOR_RDWR`.
    pub read_write: bool,
    /// `IOR_APPEND`.
    pub append: bool,
    /// `IOR_CREAT`.
    pub create: bool,
    /// `IOR_TRUNC`.
    pub truncate: bool,
    /// `IOR_EXCL`.
    pub exclusive: bool,
    /// `IOR_DIRECT`.
    pub direct: bool,
}

impl OpenFlags {
    /// `IOR_WRONLY | IOR_CREAT | IOR_TRUNC`, what the write phase passes to `create`.
    pub fn create_for_write() -> Self {
        OpenFlags {
            write_only: true,
            create: true,
            truncate: true,
            ..Default::default()
        }
    }

    /// `IOR_RDONLY`, what read and check phases pass to `open`.
    pub fn read() -> Self {
        OpenFlags {
            read_only: true,
            ..Default::default()
        }
    }

    /// `IOR_WRONLY`, used to reopen an existing file for writing (`-E`).
    pub fn write() -> Self {
        OpenFlags {
            write_only: true,
            ..Default::default()
        }
    }
}

/// Direction of a transfer (IOR's `WRITE`, `WRITECHECK`, `READ`, `READCHECK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write the buffer at the offset.
    Write,
    /// Read back after a write for `-W` (a read).
    WriteCheck,
    /// Read into the buffer.
    Read,
    /// Read for `-R` (a read).
    ReadCheck,
}

impl Access {
    /// Whether the transfer writes.
    pub fn is_write(self) -> bool {
        matches!(self, Access::Write)
    }
}

/// File-system capacity figures (`ior_aiori_statfs_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// Block size in bytes.
    pub f_bsize: u64,
    /// Total blocks.
    pub f_blocks: u64,
    /// Free blocks.
    pub f_bfree: u64,
    /// Blocks available to unprivileged users.
    pub f_bavail: u64,
    /// Total inodes.
    pub f_files: u64,
    /// Free inodes.
    pub f_ffree: u64,
}

/// The part of `stat` the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Permission bits and type (`st_mode`).
    pub mode: u32,
    /// Last status change (`st_ctime`), nanoseconds since the Unix epoch (0: unknown).
    pub ctime_ns: i64,
}

/// One entry of a directory listing ([`Backend::readdir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name within the directory (no `/`).
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// One entry of a tree listing ([`Backend::list_share`]): everything a find's criteria need,
/// without a stat per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// The entry's path (the backend's own form, under the listed directory).
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last status change, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
}

impl TreeEntry {
    /// The last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Modes for [`Backend::access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// `F_OK`: exists.
    Exists,
    /// `R_OK`.
    Read,
    /// `W_OK`.
    Write,
    /// `X_OK`.
    Execute,
}

/// Hints about the test that a backend may use (`aiori_xfer_hint_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct XferHints {
    /// `--dryRun`.
    pub dry_run: bool,
    /// `-F`.
    pub file_per_proc: bool,
    /// `-c`.
    pub collective: bool,
    /// Tasks in the test.
    pub num_tasks: usize,
    /// Nodes in the test.
    pub num_nodes: usize,
    /// `-z` counter.
    pub random_offset: i32,
    /// `-Y`.
    pub fsync_per_write: bool,
    /// `-s`.
    pub segment_count: i64,
    /// `-b`.
    pub block_size: i64,
    /// `-t`.
    pub transfer_size: i64,
    /// `blockSize * segmentCount * numTasks`.
    pub expected_agg_file_size: i64,
    /// `-x`.
    pub single_xfer_attempt: bool,
    /// This task's rank (for options such as `--dummy.delay-only-rank0`).
    pub rank: usize,
    /// `--iodepth` (transfers of one task in flight at once; 1 when not given).
    pub iodepth: usize,
}

/// One storage backend, as IOR's backend table. One instance per task: no state is shared
/// between tasks unless the backend itself shares it.
///
/// Every method takes `&self` so that several transfers of one task can be in flight at
/// once (`--iodepth`). Paths are the names the engine built (§2.9), not interpreted here.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// An open file.
    type File;

    /// The `-a` name (`POSIX`).
    fn name(&self) -> &'static str;
    /// Shown as `apiVersion`; empty by default, as IOR's `aiori_get_version`.
    fn version(&self) -> String {
        String::new()
    }
    /// Whether the namespace persists (files created can be listed and stated later);
    /// DUMMY keeps none.
    fn keeps_namespace(&self) -> bool {
        true
    }
    /// Whether `-e`/`-Y` are honoured (IOR's fsync-capable list).
    fn supports_fsync(&self) -> bool {
        true
    }
    /// Receives the test's hints before the test starts (`xfer_hints`).
    fn set_hints(&mut self, _hints: XferHints) {}
    /// Checks the backend's parameters before anything is created (`check_params`).
    fn check_params(&self) -> BackendResult<()> {
        Ok(())
    }

    /// Prepares the backend for a test (IOR's `initialize`): connect, open sessions. Called
    /// once per test on every task, after [`Backend::set_hints`].
    async fn initialize(&mut self) -> BackendResult<()> {
        Ok(())
    }
    /// Releases what [`Backend::initialize`] set up (IOR's `finalize`).
    async fn finalize(&mut self) -> BackendResult<()> {
        Ok(())
    }

    /// Creates (or truncates) a file for the write phase.
    async fn create(&self, path: &str, flags: OpenFlags) -> BackendResult<Self::File>;
    /// Opens an existing file.
    async fn open(&self, path: &str, flags: OpenFlags) -> BackendResult<Self::File>;
    /// Transfers `buf.len()` bytes at `offset`; returns the bytes moved. A write only reads
    /// `buf`. Short transfers are returned as such; the engine decides about retries.
    /// Backends whose transfers complete before returning implement [`Backend::xfer_sync`]
    /// only: this default runs it.
    #[inline]
    async fn xfer(
        &self,
        file: &Self::File,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        self.xfer_sync(file, access, buf, offset)
            .unwrap_or_else(|| {
                Err(BackendError::Other(format!(
                    "the {} backend implements neither xfer nor xfer_sync",
                    self.name()
                )))
            })
    }
    /// The same transfer as [`Backend::xfer`] when this backend completes it before returning
    /// (POSIX pread/pwrite, MMAP, DUMMY): `Some(result)`. `None` (the default) means "only
    /// async": the engine then awaits [`Backend::xfer`], which such a backend implements. Lets
    /// the hot loop skip the async machinery.
    #[inline]
    fn xfer_sync(
        &self,
        _file: &Self::File,
        _access: Access,
        _buf: &mut [u8],
        _offset: u64,
    ) -> Option<BackendResult<usize>> {
        None
    }
    /// Whether writes should hand the transfer buffer over as shared bytes
    /// ([`Backend::write_bytes`]) rather than lend it for the call ([`Backend::xfer`]): for
    /// backends that queue a write for sending and would otherwise copy the buffer (BENCHFS).
    fn takes_write_bytes(&self) -> bool {
        false
    }
    /// Writes `data` at `offset`; returns the bytes written. Called instead of
    /// [`Backend::xfer`] for writes when [`Backend::takes_write_bytes`] says so.
    async fn write_bytes(
        &self,
        _file: &Self::File,
        _data: bytes::Bytes,
        _offset: u64,
    ) -> BackendResult<usize> {
        Err(BackendError::Other(format!(
            "the {} backend takes no shared write buffers",
            self.name()
        )))
    }
    /// Whether the transfers of the deep loop (`--iodepth` above 1) should hand their buffer
    /// over ([`Backend::xfer_owned`]): for backends that queue transfers to the kernel, which
    /// must own the memory while a transfer is in flight (POSIX with io_uring).
    fn queues_owned(&self) -> bool {
        false
    }
    /// Whether every transfer of the deep loop makes all its progress on the calling thread:
    /// a poll that cannot finish it blocks in the kernel (or completes it there and then), and
    /// it never waits on the runtime's reactor or timers (POSIX: pread/pwrite, or io_uring's
    /// `io_uring_enter`, which submits and waits for a completion). The deep loop then polls
    /// its transfers itself instead of handing each completion back to the runtime, whose
    /// scheduler would otherwise make a reactor turn (`epoll_wait`) per wake-up.
    fn progresses_on_thread(&self) -> bool {
        false
    }
    /// The transfer of [`Backend::xfer`] with the buffer handed over for its duration and
    /// given back with the result. By default, [`Backend::xfer`] on the buffer.
    async fn xfer_owned(
        &self,
        file: &Self::File,
        access: Access,
        mut buf: buffer::AlignedBuf,
        offset: u64,
    ) -> (buffer::AlignedBuf, BackendResult<usize>) {
        let r = self.xfer(file, access, &mut buf, offset).await;
        (buf, r)
    }
    /// Closes a file.
    async fn close(&self, file: Self::File) -> BackendResult<()>;
    /// Flushes a file to stable storage (`-e`, `-Y`).
    async fn fsync(&self, file: &Self::File) -> BackendResult<()>;
    /// Flushes everything the backend holds (IOR's backend-wide `sync`, which mdtest's `-Y`
    /// calls; IOR's own transfers never do). Nothing by default.
    async fn sync(&self) -> BackendResult<()> {
        Ok(())
    }
    /// Removes a file.
    async fn remove(&self, path: &str) -> BackendResult<()>;
    /// Size of one file (IOR sums over ranks for file-per-process).
    async fn get_file_size(&self, path: &str) -> BackendResult<u64>;
    /// Untimed, on one task, before each write phase while no task does I/O: lets the
    /// storage finish background work that the phase would otherwise compete with
    /// (BENCHFS: the servers make their spare chunk files). Nothing by default.
    async fn settle(&self) -> BackendResult<()> {
        Ok(())
    }
    /// Capacity of the file system holding `path`.
    async fn statfs(&self, path: &str) -> BackendResult<StatFs>;
    /// Creates a directory.
    async fn mkdir(&self, path: &str, mode: u32) -> BackendResult<()>;
    /// Removes an empty directory.
    async fn rmdir(&self, path: &str) -> BackendResult<()>;
    /// Whether `path` is accessible in `mode`.
    async fn access(&self, path: &str, mode: AccessMode) -> BackendResult<bool>;
    /// File status.
    async fn stat(&self, path: &str) -> BackendResult<FileStat>;
    /// Renames a file.
    async fn rename(&self, from: &str, to: &str) -> BackendResult<()>;
    /// The entries of directory `path` (without `.` and `..`), sorted by name.
    async fn readdir(&self, path: &str) -> BackendResult<Vec<DirEntry>>;
    /// Share `share` of `of` of every entry under directory `path` (any depth), with the
    /// attributes a find needs, for a backend that can list its tree in parts that together
    /// hold each entry once (BENCHFS: each share is a subset of the servers); `None` for
    /// backends without one, whose finds walk the tree with [`Backend::readdir`].
    async fn list_share(
        &self,
        path: &str,
        share: usize,
        of: usize,
    ) -> Option<BackendResult<Vec<TreeEntry>>> {
        let _ = (path, share, of);
        None
    }
    /// Creates an empty regular file without keeping it open (mdtest `-k`, IOR's `mknod`).
    /// By default: [`Backend::create`] then [`Backend::close`].
    async fn mknod(&self, path: &str) -> BackendResult<()> {
        let f = self.create(path, OpenFlags::create_for_write()).await?;
        self.close(f).await
    }
}

/// What kind of value a backend option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A flag: each occurrence increments, `=N` sets N.
    Flag,
    /// An integer (IOR size suffixes accepted).
    Int,
    /// A string.
    Str,
}

/// A backend option `--<module>.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleOption {
    /// Backend (`posix`).
    pub module: &'static str,
    /// Option name after the dot (`odirect`).
    pub name: &'static str,
    /// Value kind.
    pub kind: OptionKind,
    /// One-line help.
    pub help: &'static str,
    /// Default shown in the help (`""`: `0` for integers, `STRING` for strings).
    pub default: &'static str,
}

impl ModuleOption {
    /// `module.name`, the key used on the command line after `--`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// The help text of every backend's options as IOR and mdtest print it: per backend
/// `\n\nModule <NAME>\n`, then its `Flags` and `Optional arguments` sections (defaults shown
/// as `=0` for integers, `=STRING` for strings, unless the option names one).
pub fn module_help() -> String {
    use crate::optparse::help::{section, Line};
    let opts = module_options();
    let mut modules: Vec<&'static str> = Vec::new();
    for m in &opts {
        if !modules.contains(&m.module) {
            modules.push(m.module);
        }
    }
    let mut out = String::new();
    for module in modules {
        let title = BACKEND_NAMES
            .iter()
            .find(|n| n.eq_ignore_ascii_case(module))
            .map_or_else(|| module.to_ascii_uppercase(), |n| (*n).to_string());
        out.push_str("\n\nModule ");
        out.push_str(&title);
        out.push('\n');
        let mine = opts.iter().filter(|m| m.module == module);
        let flags: Vec<Line> = mine
            .clone()
            .filter(|m| m.kind == OptionKind::Flag)
            .map(|m| Line::Opt(format!("--{}", m.key()), m.help.to_string()))
            .collect();
        let values: Vec<Line> = mine
            .filter(|m| m.kind != OptionKind::Flag)
            .map(|m| {
                let default = match (m.default, m.kind) {
                    ("", OptionKind::Int) => "0",
                    ("", _) => "STRING",
                    (d, _) => d,
                };
                Line::Opt(format!("--{}={default}", m.key()), m.help.to_string())
            })
            .collect();
        section(&mut out, "Flags", &flags);
        section(&mut out, "Optional arguments", &values);
    }
    out
}

/// Typed read access to the `--<module>.<name>` values of a test.
pub struct OptionValues<'a> {
    module: &'static str,
    values: &'a BTreeMap<String, String>,
}

impl<'a> OptionValues<'a> {
    /// The values of `module` among all backend option values.
    pub fn new(module: &'static str, values: &'a BTreeMap<String, String>) -> Self {
        OptionValues { module, values }
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        self.values
            .get(&format!("{}.{}", self.module, name))
            .map(String::as_str)
    }

    /// An integer option (flags read as their counter); `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> BackendResult<i64> {
        match self.raw(name) {
            None => Ok(default),
            Some(s) => {
                let t = s.trim();
                let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
                if !digits.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(BackendError::InvalidOption {
                        option: format!("{}.{}", self.module, name),
                        message: format!("\"{s}\" is not a number"),
                    });
                }
                Ok(crate::units::parse_ior_number(t))
            }
        }
    }

    /// A flag: true when set to a non-zero value.
    pub fn flag(&self, name: &str) -> BackendResult<bool> {
        Ok(self.int(name, 0)? > 0)
    }

    /// A string option.
    pub fn string(&self, name: &str) -> Option<&'a str> {
        self.raw(name)
    }
}

/// The backend table: one record per backend, `Variant => module::Type, "-a NAME";`, in help
/// order (the first is the default). Each module exports its `OPTIONS`. Generates
/// [`AnyBackend`] (static dispatch, no allocation per call), [`AnyFile`], [`BACKEND_NAMES`],
/// [`module_options`] and the constructor. (`$d` is a literal `$` for the generated macros.)
macro_rules! backend_table {
    ($d:tt; $($(#[$doc:meta])* $variant:ident => $module:ident::$ty:ident, $name:literal;)+) => {
        /// Names accepted by `-a`, in help order; the first is the default.
        pub const BACKEND_NAMES: &[&str] = &[$($name),+];

        /// Every backend option of every backend, in help order.
        pub fn module_options() -> Vec<ModuleOption> {
            let mut v = Vec::new();
            $(v.extend_from_slice($module::OPTIONS);)+
            v
        }

        /// The backend selected by `-a`, dispatched statically (no allocation per call).
        pub enum AnyBackend {
            $($(#[$doc])* $variant($module::$ty),)+
        }

        /// An open file of [`AnyBackend`].
        pub enum AnyFile {
            $($(#[$doc])* $variant(<$module::$ty as Backend>::File),)+
        }

        impl AnyBackend {
            /// Build the backend named by `api` (`-a`, any case) with the test's backend
            /// options (`--<module>.<name>` values), for one task.
            pub fn new(api: &str, options: &BTreeMap<String, String>) -> BackendResult<Self> {
                match canonical_backend_name(api) {
                    $(Some($name) => Ok(AnyBackend::$variant($module::$ty::new(options)?)),)+
                    _ => Err(BackendError::Unsupported(format!(
                        "Unrecognized I/O API: {api} (known: {})",
                        BACKEND_NAMES.join(", ")
                    ))),
                }
            }
        }

        macro_rules! dispatch {
            ($d self_:ident, $d b:ident => $d e:expr) => {
                match $d self_ {
                    $(AnyBackend::$variant($d b) => $d e,)+
                }
            };
        }

        macro_rules! dispatch_file {
            ($d self_:ident, $d file:expr, $d b:ident, $d f:ident => $d e:expr, $d wrap:expr) => {
                match ($d self_, $d file) {
                    $((AnyBackend::$variant($d b), AnyFile::$variant($d f)) => $d e,)+
                    #[allow(unreachable_patterns)]
                    _ => $d wrap,
                }
            };
        }

        macro_rules! dispatch_open {
            ($d self_:ident, $d b:ident => $d e:expr) => {
                match $d self_ {
                    $(AnyBackend::$variant($d b) => $d e.map(AnyFile::$variant),)+
                }
            };
        }
    };
}

backend_table! {
    $;
    /// `-a POSIX`: any mounted file system.
    Posix => posix::PosixBackend, "POSIX";
    /// `-a DUMMY`: no I/O, the harness itself.
    Dummy => dummy::DummyBackend, "DUMMY";
    /// `-a MMAP`: the file mapped into memory, transfers are memory copies.
    Mmap => mmap::MmapBackend, "MMAP";
    /// `-a BENCHFS`: BenchFS through its async client API.
    Benchfs => benchfs::BenchfsBackend, "BENCHFS";
}

/// Canonical (upper-case) backend name for an `-a` value, if known.
pub fn canonical_backend_name(api: &str) -> Option<&'static str> {
    BACKEND_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(api))
}

/// Find a backend option by its key (`posix.odirect`), case-sensitively as IOR does.
pub fn find_module_option(key: &str) -> Option<ModuleOption> {
    module_options().into_iter().find(|o| o.key() == key)
}

fn mismatch() -> BackendError {
    BackendError::Other("file handle of another backend".into())
}

/// Work on one open file that is generic over the concrete backend
/// ([`AnyBackend::with_file`]): a loop of calls that should not pay [`AnyBackend`]'s dispatch
/// on every call (the serial transfer loop).
#[allow(async_fn_in_trait)]
pub(crate) trait FileJob {
    /// What the work returns.
    type Output;
    /// Does the work with `file` of `backend`.
    async fn run<B: Backend>(self, backend: &B, file: &B::File) -> Self::Output;
}

impl AnyBackend {
    /// Runs `job` on the backend under this one and `file`'s handle of it: one dispatch for
    /// the whole job instead of one per call. Fails only when `file` is another backend's.
    pub(crate) async fn with_file<J: FileJob>(
        &self,
        file: &AnyFile,
        job: J,
    ) -> BackendResult<J::Output> {
        dispatch_file!(self, file, b, f => Ok(job.run(b, f).await), Err(mismatch()))
    }
}

impl Backend for AnyBackend {
    type File = AnyFile;

    fn name(&self) -> &'static str {
        dispatch!(self, b => b.name())
    }
    fn version(&self) -> String {
        dispatch!(self, b => b.version())
    }
    fn keeps_namespace(&self) -> bool {
        dispatch!(self, b => b.keeps_namespace())
    }
    fn supports_fsync(&self) -> bool {
        dispatch!(self, b => b.supports_fsync())
    }
    fn set_hints(&mut self, hints: XferHints) {
        dispatch!(self, b => b.set_hints(hints))
    }
    fn check_params(&self) -> BackendResult<()> {
        dispatch!(self, b => b.check_params())
    }
    async fn initialize(&mut self) -> BackendResult<()> {
        dispatch!(self, b => b.initialize().await)
    }
    async fn finalize(&mut self) -> BackendResult<()> {
        dispatch!(self, b => b.finalize().await)
    }
    async fn settle(&self) -> BackendResult<()> {
        dispatch!(self, b => b.settle().await)
    }
    async fn create(&self, path: &str, flags: OpenFlags) -> BackendResult<AnyFile> {
        dispatch_open!(self, b => b.create(path, flags).await)
    }
    async fn open(&self, path: &str, flags: OpenFlags) -> BackendResult<AnyFile> {
        dispatch_open!(self, b => b.open(path, flags).await)
    }
    #[inline]
    async fn xfer(
        &self,
        file: &AnyFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> BackendResult<usize> {
        dispatch_file!(self, file, b, f => b.xfer(f, access, buf, offset).await, Err(mismatch()))
    }
    #[inline]
    fn xfer_sync(
        &self,
        file: &AnyFile,
        access: Access,
        buf: &mut [u8],
        offset: u64,
    ) -> Option<BackendResult<usize>> {
        dispatch_file!(self, file, b, f => b.xfer_sync(f, access, buf, offset), Some(Err(mismatch())))
    }
    #[inline]
    fn takes_write_bytes(&self) -> bool {
        dispatch!(self, b => b.takes_write_bytes())
    }
    async fn write_bytes(
        &self,
        file: &AnyFile,
        data: bytes::Bytes,
        offset: u64,
    ) -> BackendResult<usize> {
        dispatch_file!(self, file, b, f => b.write_bytes(f, data, offset).await, Err(mismatch()))
    }
    #[inline]
    fn queues_owned(&self) -> bool {
        dispatch!(self, b => b.queues_owned())
    }
    #[inline]
    fn progresses_on_thread(&self) -> bool {
        dispatch!(self, b => b.progresses_on_thread())
    }
    async fn xfer_owned(
        &self,
        file: &AnyFile,
        access: Access,
        buf: buffer::AlignedBuf,
        offset: u64,
    ) -> (buffer::AlignedBuf, BackendResult<usize>) {
        dispatch_file!(self, file, b, f => b.xfer_owned(f, access, buf, offset).await, (buf, Err(mismatch())))
    }
    async fn close(&self, file: AnyFile) -> BackendResult<()> {
        dispatch_file!(self, file, b, f => b.close(f).await, Err(mismatch()))
    }
    async fn fsync(&self, file: &AnyFile) -> BackendResult<()> {
        dispatch_file!(self, file, b, f => b.fsync(f).await, Err(mismatch()))
    }
    async fn sync(&self) -> BackendResult<()> {
        dispatch!(self, b => b.sync().await)
    }
    async fn remove(&self, path: &str) -> BackendResult<()> {
        dispatch!(self, b => b.remove(path).await)
    }
    async fn get_file_size(&self, path: &str) -> BackendResult<u64> {
        dispatch!(self, b => b.get_file_size(path).await)
    }
    async fn statfs(&self, path: &str) -> BackendResult<StatFs> {
        dispatch!(self, b => b.statfs(path).await)
    }
    async fn mkdir(&self, path: &str, mode: u32) -> BackendResult<()> {
        dispatch!(self, b => b.mkdir(path, mode).await)
    }
    async fn rmdir(&self, path: &str) -> BackendResult<()> {
        dispatch!(self, b => b.rmdir(path).await)
    }
    async fn access(&self, path: &str, mode: AccessMode) -> BackendResult<bool> {
        dispatch!(self, b => b.access(path, mode).await)
    }
    async fn stat(&self, path: &str) -> BackendResult<FileStat> {
        dispatch!(self, b => b.stat(path).await)
    }
    async fn rename(&self, from: &str, to: &str) -> BackendResult<()> {
        dispatch!(self, b => b.rename(from, to).await)
    }
    async fn readdir(&self, path: &str) -> BackendResult<Vec<DirEntry>> {
        dispatch!(self, b => b.readdir(path).await)
    }
    async fn list_share(
        &self,
        path: &str,
        share: usize,
        of: usize,
    ) -> Option<BackendResult<Vec<TreeEntry>>> {
        dispatch!(self, b => b.list_share(path, share, of).await)
    }
    async fn mknod(&self, path: &str) -> BackendResult<()> {
        dispatch!(self, b => b.mknod(path).await)
    }
}
