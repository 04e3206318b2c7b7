//! The errors of IOR's option parsing: command line, `-O` directives and `-f` scripts.
//!
//! Owns the wording of each (IOR's where IOR has one). It must not decide what is an error:
//! the parsers ([`super::apply`], [`super::directives`], [`super::script`]) do.

use crate::optparse::TokenError;
use thiserror::Error;

/// A command-line, directive or script error. `Display` is the exact message to print: IOR's
/// wording where IOR has one, then the value and the reason; the caller prints it and exits
/// with [`OptionError::exit_status`] (after IOR's usage text when
/// [`OptionError::shows_usage`]).
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
    /// `-l` / `dataPacketType` with an unknown first character (IOR's line, though IOR then
    /// aborts, then what `-l` takes).
    #[error("ERROR: Unknown packet type \"{0}\"; generic assumed\n-l / dataPacketType takes offset, incompressible, timestamp or random (or o, i, t, r)")]
    UnknownPacketType(String),
    /// `summaryFormat` other than default, JSON or CSV (IOR's `FailMessage` line).
    #[error("{}", unknown_summary_format(.0))]
    UnknownSummaryFormat(String),
    /// `-O api=` / a script's `api=` naming no backend (checked when read, as IOR does).
    #[error("Could not load backend API {name} (known: {known})")]
    UnknownApi {
        /// The name given.
        name: String,
        /// The backends there are.
        known: String,
    },
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
    /// A size or integer option whose value is not one (`-b 1x`); IOR reads such values
    /// without a word (`1x` as 1).
    #[error("Error, invalid {kind} \"{value}\" for {option}: expected an integer with an optional unit k, m, g, t or p (8, 4k, 2m, 1g)")]
    InvalidNumber {
        /// `size` or `number`.
        kind: &'static str,
        /// The value given.
        value: String,
        /// The option as given (`-b`, `blockSize`).
        option: String,
    },
    /// The `-f` script cannot be read (IOR's `fopen() failed`, then the file and why).
    #[error("ERROR: fopen() failed: script \"{path}\": {reason}")]
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

impl OptionError {
    /// The exit status IOR ends with for this error: 1 where it calls `exit(EXIT_FAILURE)`
    /// (bad arguments, an unknown `api=`, `summaryFormat`), 255 where it calls `MPI_Abort(-1)`
    /// through `ERR` (an unknown directive key, a bad packet type, a script it cannot read).
    pub fn exit_status(&self) -> i32 {
        match self {
            OptionError::UnrecognizedParameter { .. }
            | OptionError::Syntax(_)
            | OptionError::UnknownPacketType(_)
            | OptionError::MemoryPercentage
            | OptionError::PhysicalMemoryUnknown
            | OptionError::ScriptRead { .. } => 255,
            _ => 1,
        }
    }

    /// Whether IOR follows this error with `Invalid options` and its usage text.
    pub fn shows_usage(&self) -> bool {
        matches!(self, OptionError::InvalidArgument { .. })
    }
}

/// IOR's `FailMessage` for a `summaryFormat` it does not know, with the value and the choices.
fn unknown_summary_format(v: &str) -> String {
    crate::measure::log::fail_line(
        "DecodeDirective",
        &format!("Unknown summaryFormat \"{v}\" (default, JSON or CSV)"),
    )
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
