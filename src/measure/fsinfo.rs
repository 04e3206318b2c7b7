//! The file-system capacity lines every engine prints under `Path` (IOR's and mdtest's
//! `ShowFileSystemSize`): the figures taken from a backend's statfs, and their text.
//!
//! Owns [`FsInfo`] and its formatting only; it never calls a backend (the engines do).

use crate::backend::StatFs;
use crate::units::{GIB, MIB};
use serde::{Deserialize, Serialize};

/// The `Path` / `FS` lines of a test (from the backend's statfs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsInfo {
    /// Total capacity in bytes.
    pub capacity_bytes: f64,
    /// Used capacity in percent.
    pub used_capacity_pct: f64,
    /// Total inodes.
    pub inodes: f64,
    /// Used inodes in percent.
    pub used_inodes_pct: f64,
}

impl FsInfo {
    /// The figures of a backend's statfs: capacity `blocks * bsize`, used percentages
    /// `(1 - free / total) * 100` (0 when the backend reports no blocks or no inodes).
    pub fn from_statfs(s: &StatFs) -> FsInfo {
        let blocks = s.f_blocks as f64;
        FsInfo {
            capacity_bytes: blocks * s.f_bsize as f64,
            used_capacity_pct: if s.f_blocks > 0 {
                (1.0 - s.f_bfree as f64 / blocks) * 100.0
            } else {
                0.0
            },
            inodes: s.f_files as f64,
            used_inodes_pct: if s.f_files > 0 {
                (1.0 - s.f_ffree as f64 / s.f_files as f64) * 100.0
            } else {
                0.0
            },
        }
    }
}

/// A percentage for the FS line: non-finite values (e.g. 0/0 on a backend that reports no
/// blocks) print as `0.0`.
fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// The capacity part of the FS line and of JSON `"Capacity"`: `"%.1f GiB"`, or `"%.1f TiB"`
/// above 1024 GiB.
pub fn fs_capacity(fs: &FsInfo) -> String {
    let gib = finite_or_zero(fs.capacity_bytes / GIB);
    if gib > 1024.0 {
        format!("{:.1} TiB", gib / 1024.0)
    } else {
        format!("{:.1} GiB", gib)
    }
}

/// A percentage as IOR prints it (`"%2.1f%%"`).
pub fn fs_percent(pct: f64) -> String {
    format!("{:2.1}%", finite_or_zero(pct))
}

/// Inodes as IOR prints them (`"%.1f Mi"`, inodes / 2^20).
pub fn fs_inodes(fs: &FsInfo) -> String {
    format!("{:.1} Mi", finite_or_zero(fs.inodes / MIB))
}

/// The text after `"FS                  : "`:
/// `"%.1f GiB   Used FS: %2.1f%%   Inodes: %.1f Mi   Used Inodes: %2.1f%%"`.
pub fn fs_line(fs: &FsInfo) -> String {
    format!(
        "{}   Used FS: {}   Inodes: {}   Used Inodes: {}",
        fs_capacity(fs),
        fs_percent(fs.used_capacity_pct),
        fs_inodes(fs),
        fs_percent(fs.used_inodes_pct)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_line_like_ior() {
        let fs = FsInfo {
            capacity_bytes: 23.5 * GIB,
            used_capacity_pct: 0.0,
            inodes: 2.9 * MIB,
            used_inodes_pct: 0.0,
        };
        assert_eq!(
            fs_line(&fs),
            "23.5 GiB   Used FS: 0.0%   Inodes: 2.9 Mi   Used Inodes: 0.0%"
        );
        let big = FsInfo {
            capacity_bytes: 2048.0 * GIB,
            used_capacity_pct: f64::NAN,
            inodes: 0.0,
            used_inodes_pct: 12.34,
        };
        assert_eq!(
            fs_line(&big),
            "2.0 TiB   Used FS: 0.0%   Inodes: 0.0 Mi   Used Inodes: 12.3%"
        );
    }
}
