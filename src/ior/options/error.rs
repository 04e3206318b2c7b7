//! The errors of IOR's option parsing: command line, `-O` directives and `-f` scripts.
//!
//! Owns the wording of each (IOR's where IOR has one). It must not decide what is an error:
//! the parsers ([`super::apply`], [`super::directives`], [`super::script`]) do.

use crate::optparse::TokenError;
use thiserror::Error;

/// A command-line, directive or script error. `Display` is the exact message to print
/// (IOR's wording where IOR has one); the caller prints it and exits with status 1.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// A token that is no known option (`Error invalid argument: <tok>`). `hint` names the
    /// IOR 4 replacement of an option removed from IOR 3, if there is one.
    #[error("Error invalid argument: {token}{}", fmt_hint(.hint))]
    InvalidArgument {
        /// The token as IOR prints it (up to a `=`).
        token: String,
        /// Extra explanation for options removed in IOR 4.
        hint: Option<String>,
    },
    /// A value-taking option at the end of the command line.
    #[error("Error, argument missing for option {0}")]
    MissingArgument(String),
    /// A directive key IOR does not know (`Unrecognized parameter "key"`).
    #[error("Unrecognized parameter \"{key}\"{}", fmt_hint(.hint))]
    UnrecognizedParameter {
        /// The key as given.
        key: String,
        /// Extra explanation for keys removed in IOR 4.
        hint: Option<String>,
    },
    /// A comma-separated directive piece shorter than 3 characters.
    #[error("Invalid option substring string: \"{piece}\" in \"{line}\"")]
    InvalidSubstring {
        /// The piece.
        piece: String,
        /// The whole directive string (comment removed).
        line: String,
    },
    /// A directive piece that is not `key = value`.
    #[error("Syntax error in configuration options: {0}")]
    Syntax(String),
    /// `-l` / `dataPacketType` with an unknown first character.
    #[error("ERROR: Unknown packet type \"{0}\"")]
    UnknownPacketType(String),
    /// `summaryFormat` other than default, JSON or CSV.
    #[error("ERROR: Unknown summaryFormat \"{0}\" (expected default, JSON or CSV)")]
    UnknownSummaryFormat(String),
    /// `-M` / `memoryPerNode` with a percentage outside 0..=100.
    #[error("ERROR: percentage must be between 0 and 100")]
    MemoryPercentage,
    /// The physical memory size cannot be determined for `-M N%`.
    #[error("ERROR: sysconf(_SC_PHYS_PAGES) is not supported")]
    PhysicalMemoryUnknown,
    /// A value our own options reject (`--tasks-per-node -1`).
    #[error("Error, invalid value \"{value}\" for option {option}: {reason}")]
    InvalidValue {
        /// Option name.
        option: String,
        /// Value given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The `-f` script cannot be read.
    #[error("ERROR: cannot read script file \"{path}\": {reason}")]
    ScriptRead {
        /// The path given to `-f`.
        path: String,
        /// The operating-system error.
        reason: String,
    },
    /// A script line longer than IOR's line buffer (1023 characters).
    #[error("ERROR: line {line} of the script is {len} characters long; IOR scripts allow at most 1023 characters per line")]
    ScriptLineTooLong {
        /// 1-based line number.
        line: usize,
        /// Length in bytes (without the newline).
        len: usize,
    },
}

impl From<TokenError> for OptionError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::InvalidArgument { token, hint } => {
                OptionError::InvalidArgument { token, hint }
            }
            TokenError::MissingArgument(name) => OptionError::MissingArgument(name),
        }
    }
}

fn fmt_hint(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let e = OptionError::InvalidArgument {
            token: "-q".into(),
            hint: None,
        };
        assert_eq!(e.to_string(), "Error invalid argument: -q");
        let e = OptionError::InvalidArgument {
            token: "-B".into(),
            hint: Some("removed in IOR 4, use --posix.odirect".into()),
        };
        assert_eq!(
            e.to_string(),
            "Error invalid argument: -B (removed in IOR 4, use --posix.odirect)"
        );
        assert_eq!(
            OptionError::MissingArgument("b".into()).to_string(),
            "Error, argument missing for option b"
        );
        assert_eq!(
            OptionError::UnrecognizedParameter {
                key: "foo".into(),
                hint: None
            }
            .to_string(),
            "Unrecognized parameter \"foo\""
        );
    }
}
