//! One item operation of one rank, as mdtest does it: create a file (with `-w` bytes, `-y`
//! fsync, `--verify-write`, `-k` mknod, `-c` collective open), stat, read (`-e`, `-X`),
//! remove, make and remove a directory, rename; each returns whether it worked after
//! printing mdtest's warning when it did not.
//!
//! Owns the calls to the backend and mdtest's warning wording (with the backend's reason
//! appended). It must not time anything or choose items (that is [`crate::mdtest::phase`] and
//! [`crate::mdtest::engine`]).

use crate::backend::{Access, Backend, BackendError, OpenFlags};
use crate::ior::params::DataPacketType;
use crate::mdtest::output::Report;
use crate::mdtest::pattern;
use crate::mdtest::phase::OpResult;
use std::cell::{Cell, RefCell};

/// mdtest's directory mode (`DIRMODE`, 0775).
pub const DIRMODE: u32 = 0o775;

/// How the create phase makes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateWith {
    /// The backend's create (mdtest's default).
    Create,
    /// Open with create of a file rank 0 already made (`-c`).
    Open,
    /// mknod, nothing written (`-k`).
    Mknod,
}

/// The backend's reason of a failure, for the end of a warning.
fn reason(e: &BackendError) -> String {
    match e {
        BackendError::Io { source, .. } => source.to_string(),
        BackendError::Remote { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// What the item operations of a rank share.
pub struct ItemOps<'a, 'r, B: Backend> {
    /// The rank's backend.
    pub backend: &'a B,
    /// Warnings and `-v` lines.
    pub report: &'a Report<'r>,
    /// This rank.
    pub rank: usize,
    /// Tasks of the test.
    pub tasks: usize,
    /// `-w`.
    pub write_bytes: usize,
    /// `-e`.
    pub read_bytes: usize,
    /// `--verify-write`.
    pub verify_write: bool,
    /// `-X`.
    pub verify_read: bool,
    /// `-y`.
    pub sync_file: bool,
    /// `-S`.
    pub shared: bool,
    /// `-N` after mdtest's adjustment.
    pub nstride: usize,
    /// Pattern offset (`-G` or rank 0's time).
    pub seed: i32,
    /// `--dataPacketType`.
    pub ptype: DataPacketType,
    /// The base pattern of this rank (`-w` bytes).
    pub base: Vec<u8>,
    /// Buffers of operations in flight.
    pool: RefCell<Vec<Vec<u8>>>,
    /// Data that did not verify.
    pub verification_errors: Cell<u64>,
}

impl<'a, 'r, B: Backend> ItemOps<'a, 'r, B> {
    /// The operations of `rank` with the base pattern generated for it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backend: &'a B,
        report: &'a Report<'r>,
        rank: usize,
        tasks: usize,
        p: &crate::mdtest::params::MdtestParams,
        nstride: usize,
        seed: i32,
        ptype: DataPacketType,
    ) -> Self {
        let mut base = vec![0u8; p.write_bytes as usize];
        pattern::generate(&mut base, seed, rank as u32, ptype);
        ItemOps {
            backend,
            report,
            rank,
            tasks,
            write_bytes: p.write_bytes as usize,
            read_bytes: p.read_bytes as usize,
            verify_write: p.verify_write != 0,
            verify_read: p.verify_read != 0,
            sync_file: p.sync_file != 0,
            shared: p.shared_file != 0,
            nstride,
            seed,
            ptype,
            base,
            pool: RefCell::new(Vec::new()),
            verification_errors: Cell::new(0),
        }
    }

    fn take_buf(&self, len: usize) -> Vec<u8> {
        let mut b = self.pool.borrow_mut().pop().unwrap_or_default();
        if b.len() != len {
            b = vec![0u8; len];
        }
        b
    }

    fn give_buf(&self, b: Vec<u8>) {
        self.pool.borrow_mut().push(b);
    }

    fn warn(&self, line: u32, msg: String, e: &BackendError) -> OpResult {
        self.report.warn(line, &format!("{msg}: {}", reason(e)))?;
        Ok(false)
    }

    /// Makes directory `path` (`create_remove_dirs`).
    pub async fn mkdir(&self, path: String) -> OpResult {
        match self.backend.mkdir(&path, DIRMODE).await {
            Ok(()) => Ok(true),
            Err(e) => self.warn(345, format!("unable to create directory {path}"), &e),
        }
    }

    /// Removes directory `path`.
    pub async fn rmdir(&self, path: String) -> OpResult {
        match self.backend.rmdir(&path).await {
            Ok(()) => Ok(true),
            Err(e) => self.warn(349, format!("unable to remove directory {path}"), &e),
        }
    }

    /// Creates file `path` for item `item` (`create_file`): create, write `-w` bytes with
    /// the pattern, fsync with `-y`, read back and verify with `--verify-write`, close.
    pub async fn create_file(&self, path: String, item: u64, how: CreateWith) -> OpResult {
        let flags = OpenFlags {
            write_only: true,
            create: true,
            ..OpenFlags::default()
        };
        let file = match how {
            CreateWith::Mknod => {
                return match self.backend.mknod(&path).await {
                    Ok(()) => Ok(true),
                    Err(e) => self.warn(388, format!("unable to mknode file {path}"), &e),
                };
            }
            CreateWith::Open => match self.backend.open(&path, flags).await {
                Ok(f) => f,
                Err(e) => return self.warn(396, format!("unable to open file {path}"), &e),
            },
            CreateWith::Create => match self.backend.create(&path, flags).await {
                Ok(f) => f,
                Err(e) => return self.warn(409, format!("unable to create file {path}"), &e),
            },
        };
        let mut ok = true;
        if self.write_bytes > 0 {
            let mut buf = self.take_buf(self.write_bytes);
            buf.copy_from_slice(&self.base);
            pattern::update_for_write(&mut buf, item, self.seed, self.rank as u32, self.ptype);
            match self.backend.xfer(&file, Access::Write, &mut buf, 0).await {
                Ok(n) if n == self.write_bytes => {}
                Ok(n) => {
                    ok = false;
                    self.report.warn(
                        421,
                        &format!(
                            "unable to write file {path}: wrote {n} of {} bytes",
                            self.write_bytes
                        ),
                    )?;
                }
                Err(e) => ok = self.warn(421, format!("unable to write file {path}"), &e)?,
            }
            if ok && self.sync_file {
                if let Err(e) = self.backend.fsync(&file).await {
                    ok = self.warn(421, format!("unable to fsync file {path}"), &e)?;
                }
            }
            if ok && self.verify_write {
                buf[0] = 42;
                match self
                    .backend
                    .xfer(&file, Access::WriteCheck, &mut buf, 0)
                    .await
                {
                    Ok(n) if n == self.write_bytes => {
                        if !pattern::verify(&buf, item, self.seed, self.rank as u32, self.ptype) {
                            self.verification_errors
                                .set(self.verification_errors.get() + 1);
                            self.report.v(
                                1,
                                1,
                                432,
                                &format!("verification error in file: {path}"),
                            );
                        }
                    }
                    Ok(_) => {
                        ok = false;
                        self.report.warn(
                            427,
                            &format!("unable to verify write (read/back) file {path}"),
                        )?;
                    }
                    Err(e) => {
                        ok = self.warn(
                            427,
                            format!("unable to verify write (read/back) file {path}"),
                            &e,
                        )?
                    }
                }
            }
            self.give_buf(buf);
        }
        if let Err(e) = self.backend.close(file).await {
            ok = self.warn(409, format!("unable to close file {path}"), &e)?;
        }
        Ok(ok)
    }

    /// Creates empty file `path` for another rank (`collective_helper`, rank 0 with `-c`).
    pub async fn create_for_other(&self, path: String) -> OpResult {
        let flags = OpenFlags {
            write_only: true,
            create: true,
            ..OpenFlags::default()
        };
        match self.backend.create(&path, flags).await {
            Ok(f) => match self.backend.close(f).await {
                Ok(()) => Ok(true),
                Err(e) => self.warn(489, format!("unable to close file {path}"), &e),
            },
            Err(e) => self.warn(489, format!("unable to create file {path}"), &e),
        }
    }

    /// Removes file `path` (`remove_file`); with `-S` only rank 0 removes (`by_rank0`: rank 0
    /// acting for every rank with `-c`).
    pub async fn remove_file(&self, path: String, by_rank0: bool) -> OpResult {
        if self.shared && self.rank != 0 && !by_rank0 {
            return Ok(true);
        }
        match self.backend.remove(&path).await {
            Ok(()) => Ok(true),
            // mdtest ignores a failed unlink; we say so.
            Err(e) => self.warn(367, format!("unable to remove file {path}"), &e),
        }
    }

    /// Stats `path` (`mdtest_stat`).
    pub async fn stat(&self, path: String, dir: bool) -> OpResult {
        match self.backend.stat(&path).await {
            Ok(_) => Ok(true),
            Err(e) => self.warn(
                654,
                format!(
                    "unable to stat {} {path}",
                    if dir { "directory" } else { "file" }
                ),
                &e,
            ),
        }
    }

    /// Reads file `path` of item `item` (`mdtest_read`): open, read `-e` bytes, verify with
    /// `-X` (as written by rank `rank + 2 * stride`, or this rank with `-S`), close.
    pub async fn read_file(&self, path: String, item: u64) -> OpResult {
        let file = match self.backend.open(&path, OpenFlags::read()).await {
            Ok(f) => f,
            Err(e) => return self.warn(746, format!("unable to open file {path}"), &e),
        };
        let mut ok = true;
        if self.read_bytes > 0 {
            let mut buf = self.take_buf(self.read_bytes);
            pattern::invalidate(&mut buf);
            match self.backend.xfer(&file, Access::Read, &mut buf, 0).await {
                Ok(n) if n == self.read_bytes => {
                    if self.verify_read {
                        let pretend = if self.shared {
                            self.rank
                        } else {
                            (2 * self.nstride + self.rank) % self.tasks.max(1)
                        };
                        if !pattern::verify(&buf, item, self.seed, pretend as u32, self.ptype) {
                            self.verification_errors
                                .set(self.verification_errors.get() + 1);
                            self.report.v(
                                1,
                                1,
                                766,
                                &format!(
                                    "verification error in file: {item_path}",
                                    item_path = path
                                ),
                            );
                        }
                    }
                }
                other => {
                    ok = false;
                    self.verification_errors
                        .set(self.verification_errors.get() + 1);
                    match other {
                        Err(e) => {
                            self.warn(754, format!("unable to read file {path}"), &e)?;
                        }
                        Ok(n) => self.report.warn(
                            754,
                            &format!(
                                "unable to read file {path}: read {n} of {} bytes",
                                self.read_bytes
                            ),
                        )?,
                    }
                }
            }
            self.give_buf(buf);
        }
        // mdtest leaves a file it could not read open; we close it.
        if let Err(e) = self.backend.close(file).await {
            ok = self.warn(746, format!("unable to close file {path}"), &e)?;
        }
        Ok(ok)
    }

    /// Renames `from` to `to` (`rename_dir_test`).
    pub async fn rename(&self, from: String, to: String, dir: bool) -> OpResult {
        match self.backend.rename(&from, &to).await {
            Ok(()) => Ok(true),
            Err(e) => self.warn(
                924,
                format!(
                    "unable to rename {} {from}",
                    if dir { "directory" } else { "file" }
                ),
                &e,
            ),
        }
    }
}
