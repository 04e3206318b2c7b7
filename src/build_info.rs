//! The exact build that is running: crate version, git commit, cargo features and profile.
//!
//! Owns nothing but constants captured by `build.rs`; result documents embed them so that a
//! stale binary can never masquerade as the current one.

use serde::Serialize;

/// Crate version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit the binary was built from (`-dirty` when the work tree had changes), or `unknown`.
pub const GIT_COMMIT: &str = env!("BENCHFS_GIT_COMMIT");
/// Comma-separated list of enabled cargo features.
pub const FEATURES: &str = env!("BENCHFS_FEATURES");
/// Cargo profile (`debug` or `release`).
pub const PROFILE: &str = env!("BENCHFS_PROFILE");
/// The IOR release whose behaviour benchfs-bench follows.
pub const IOR_VERSION: &str = "4.1.0+dev";

/// Serializable description of the running build.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct BuildInfo {
    /// Crate version.
    pub version: String,
    /// Git commit.
    pub git_commit: String,
    /// Enabled cargo features.
    pub features: Vec<String>,
    /// Cargo profile.
    pub profile: String,
    /// IOR version followed.
    pub ior_version: String,
}

/// The build as `benchfs-bench version` and `--version` print it: the program name and
/// version, then one `key value` line each for the commit, features, profile, target and
/// the IOR release followed.
pub fn describe(program: &str) -> String {
    let features = if FEATURES.is_empty() {
        "none"
    } else {
        FEATURES
    };
    format!(
        "{program} {VERSION}\n\
         commit    {GIT_COMMIT}\n\
         features  {features}\n\
         profile   {PROFILE}\n\
         target    {}-{}\n\
         follows   IOR {IOR_VERSION}\n",
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

impl BuildInfo {
    /// The build information of this binary.
    pub fn current() -> Self {
        BuildInfo {
            version: VERSION.to_string(),
            git_commit: GIT_COMMIT.to_string(),
            features: FEATURES
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            profile: PROFILE.to_string(),
            ior_version: IOR_VERSION.to_string(),
        }
    }
}
