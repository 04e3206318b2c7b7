//! IOR's command-line parser rules (SPEC §1.1), `-O` directives (§1.3) and scripts (§5).
use thiserror::Error;

/// A command-line or directive error, in IOR's wording.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// Any error; the message is IOR's.
    #[error("{0}")]
    Message(String),
}

/// IOR's `string_to_bytes`: a number with an optional k/m/g/t/p suffix.
pub fn parse_ior_number(s: &str) -> Result<i64, OptionError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| OptionError::Message(format!("invalid number {s}")))
}
