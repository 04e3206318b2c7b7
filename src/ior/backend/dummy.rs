//! The DUMMY backend: no I/O, optional delays; measures the harness itself.
use super::*;

/// Options of the DUMMY backend.
pub const OPTIONS: &[ModuleOption] = &[
    ModuleOption {
        module: "dummy",
        name: "delay-create",
        kind: OptionKind::Int,
        help: "Delay per create in usec",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-close",
        kind: OptionKind::Int,
        help: "Delay per close in usec",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-sync",
        kind: OptionKind::Int,
        help: "Delay for sync in usec",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-xfer",
        kind: OptionKind::Int,
        help: "Delay per xfer in usec",
    },
    ModuleOption {
        module: "dummy",
        name: "delay-only-rank0",
        kind: OptionKind::Flag,
        help: "Delay only Rank0",
    },
];

/// DUMMY backend state of one task.
pub struct DummyBackend;

impl DummyBackend {
    /// Build from the test's backend options.
    pub fn new(_opts: &BTreeMap<String, String>) -> BackendResult<Self> {
        Ok(DummyBackend)
    }
}

impl Backend for DummyBackend {
    type File = ();
    fn name(&self) -> &'static str {
        "DUMMY"
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
