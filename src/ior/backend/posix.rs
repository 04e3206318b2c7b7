//! The POSIX backend: any mounted file system through pread/pwrite at explicit offsets.
use super::*;

/// Options of the POSIX backend.
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "posix",
        name: "odirect",
        kind: OptionKind::Flag,
        help: "Direct I/O Mode",
    },
    ModuleOption {
        module: "posix",
        name: "rangelocks",
        kind: OptionKind::Flag,
        help: "Use range locks (read locks for read ops)",
    },
];

/// POSIX backend state of one task.
pub struct PosixBackend;

impl PosixBackend {
    /// Build from the test's backend options.
    pub fn new(_opts: &BTreeMap<String, String>) -> BackendResult<Self> {
        Ok(PosixBackend)
    }
}

impl Backend for PosixBackend {
    type File = ();
    fn name(&self) -> &'static str {
        "POSIX"
    }
    fn version(&self) -> String {
        String::new()
    }
    async fn create(&self, _p: &str, _f: OpenFlags) -> BackendResult<()> {
        Err(BackendError::Unsupported("stub".into()))
    }
    async fn open(&self, _p: &str, _f: OpenFlags) -> BackendResult<()> {
        Err(BackendError::Unsupported("stub".into()))
    }
    async fn xfer(&self, _f: &(), _a: Access, _b: &mut [u8], _o: u64) -> BackendResult<usize> {
        Err(BackendError::Unsupported("stub".into()))
    }
    async fn close(&self, _f: ()) -> BackendResult<()> {
        Ok(())
    }
    async fn fsync(&self, _f: &()) -> BackendResult<()> {
        Ok(())
    }
    async fn remove(&self, _p: &str) -> BackendResult<()> {
        Ok(())
    }
    async fn get_file_size(&self, _p: &str) -> BackendResult<u64> {
        Ok(0)
    }
    async fn statfs(&self, _p: &str) -> BackendResult<StatFs> {
        Ok(StatFs::default())
    }
    async fn mkdir(&self, _p: &str, _m: u32) -> BackendResult<()> {
        Ok(())
    }
    async fn rmdir(&self, _p: &str) -> BackendResult<()> {
        Ok(())
    }
    async fn access(&self, _p: &str, _m: AccessMode) -> BackendResult<bool> {
        Ok(false)
    }
    async fn stat(&self, _p: &str) -> BackendResult<FileStat> {
        Ok(FileStat::default())
    }
    async fn rename(&self, _a: &str, _b: &str) -> BackendResult<()> {
        Ok(())
    }
}
