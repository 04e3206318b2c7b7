//! How a server makes what it stores private to the user it runs as, whatever the umask:
//! directories 0700 ([`DIR_MODE`]), files 0600 ([`FILE_MODE`]). Without the cluster secret
//! nobody else on the machine reads the data through BenchFS, so nobody may read it from the
//! data directory either.
//!
//! Owns the two modes and [`make_dir`]; every file and directory the server creates in its
//! data directory is made with them. A leaf of the server.

use crate::fs::error::{FsError, FsResult};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Permissions of every file a server makes (chunks, spares, metadata, lock).
pub const FILE_MODE: u32 = 0o600;

/// Permissions of the directories a server makes.
pub const DIR_MODE: u32 = 0o700;

/// Creates directory `dir` (and missing parents) with [`DIR_MODE`]. With `own`, an existing
/// `dir` is set to [`DIR_MODE`] too (a directory only the server uses, such as `chunks/`);
/// without, an existing one keeps its mode (a data directory the operator made).
pub fn make_dir(dir: &Path, own: bool) -> FsResult<()> {
    let what = || format!("create {}", dir.display());
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(FsError::from_io(&what(), &e)),
    }
    if own {
        let meta = std::fs::metadata(dir).map_err(|e| FsError::from_io(&what(), &e))?;
        if meta.permissions().mode() & 0o777 != DIR_MODE {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| FsError::from_io(&format!("chmod {}", dir.display()), &e))?;
        }
    }
    Ok(())
}
