//! IOR's command-line parser (SPEC §1.1, §1.2), `-O` directives (§1.3, §1.4), scripts
//! (`-f`, §5) and the help text (`ior -h`).
//!
//! Owns turning `argv` into [`GlobalOptions`] and one [`IorParams`] per test, with IOR's
//! rules and error wording. It must not validate parameter combinations (that is
//! [`crate::ior::validate`]), print anything (errors and warnings are returned to the
//! caller), or touch the file system except to read the `-f` script.
//!
//! Layout: [`cmdline`] (the option table and token rules), [`directives`] (`key=value`
//! directives), [`script`] (the `IOR START` ... `IOR STOP` format) and [`help`].
//!
//! Deliberate differences from IOR 4.1 (its bugs, not copied):
//! * `-M 2g` / `memoryPerNode=2g` means 2 GiB (IOR's `sscanf(" %d %% ")` test reads it as 2 %).
//! * A backend flag given as a directive with a value (`-O --posix.odirect=0`, script line
//!   `--posix.odirect=0`) is set to that value; IOR increments it and ignores the value.
//! * A script line holding only `#` is a comment (IOR aborts with `Invalid option substring`).
//! * A value-taking short option followed by text keeps all of it as the value
//!   (`-Osummaryformat=JSON`); IOR takes only what follows the `=`.
//! * Parsing stops at the first bad token (IOR lists every bad token, then prints the help).

pub mod cmdline;
pub mod directives;
pub mod help;
pub mod script;

use crate::ior::params::{GlobalOptions, IorParams};
pub(crate) use crate::units::{atoi, atoll, parse_ior_number, scan_integer};
use thiserror::Error;

pub use cmdline::parse_args;
pub use directives::{apply_directive, parse_directives};
pub use help::help_text;
pub use script::parse_script;

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

fn fmt_hint(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

/// Result of [`parse_args`]: the global options, one parameter set per test, the
/// warnings IOR prints while parsing (print them in order) and whether help was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedArgs {
    /// Options for the whole run (`summaryFormat`, `--json`, ...). `command_line` is left
    /// empty: the caller sets it.
    pub global: GlobalOptions,
    /// Tests in order; `test_id` 0, 1, 2, ...
    pub tests: Vec<IorParams>,
    /// Warnings in IOR's wording (`WARNING: parsing the number ...`).
    pub warnings: Vec<String>,
    /// `-h` / `--help` was given: print [`help_text`] and exit 1.
    pub help: bool,
}

/// IOR's parse of an `int` option value (`string_to_bytes` then a cast to `int`), pushing
/// `WARNING: parsing the number %s to integer, this produced an overflow!` when it does not fit.
pub(crate) fn parse_int_option(s: &str, warnings: &mut Vec<String>) -> i32 {
    let v = parse_ior_number(s);
    if v > i64::from(i32::MAX) || v < i64::from(i32::MIN) {
        warnings.push(format!(
            "WARNING: parsing the number {s} to integer, this produced an overflow!"
        ));
    }
    v as i32
}

/// IOR's `NodeMemoryStringToBytes` for `-M` / `memoryPerNode`: `N%` is a percentage of the
/// physical memory of this node, anything else a size (`2g`).
///
/// Note: real IOR tests `sscanf(" %d %% ") == 0`, so it reads `2g` as 2 %; we implement
/// the documented meaning (2 GiB).
pub fn node_memory_to_bytes(s: &str) -> Result<i64, OptionError> {
    let t = s.trim();
    if let Some(num) = t.strip_suffix('%') {
        let num = num.trim_end();
        if let Some((percent, rest)) = scan_integer(num) {
            if rest.is_empty() {
                if !(0..=100).contains(&percent) {
                    return Err(OptionError::MemoryPercentage);
                }
                let mem = physical_memory().ok_or(OptionError::PhysicalMemoryUnknown)?;
                return Ok(mem / 100 * percent);
            }
        }
    }
    Ok(parse_ior_number(s))
}

/// Physical memory in bytes (`sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE)`).
fn physical_memory() -> Option<i64> {
    // SAFETY: sysconf has no preconditions; it only reads system configuration.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if pages <= 0 || page_size <= 0 {
        return None;
    }
    (pages as i64).checked_mul(page_size as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_option_overflow_warns() {
        let mut w = Vec::new();
        assert_eq!(parse_int_option("1k", &mut w), 1024);
        assert!(w.is_empty());
        let v = parse_int_option("4g", &mut w);
        assert_eq!(v, (4i64 << 30) as i32);
        assert_eq!(
            w,
            vec!["WARNING: parsing the number 4g to integer, this produced an overflow!"]
        );
    }

    #[test]
    fn node_memory() {
        assert_eq!(node_memory_to_bytes("2g").unwrap(), 2 << 30);
        let all = physical_memory().unwrap();
        assert_eq!(node_memory_to_bytes("100%").unwrap(), all / 100 * 100);
        assert_eq!(node_memory_to_bytes("75%").unwrap(), all / 100 * 75);
        assert_eq!(node_memory_to_bytes("0%").unwrap(), 0);
        assert_eq!(
            node_memory_to_bytes("101%"),
            Err(OptionError::MemoryPercentage)
        );
        assert_eq!(
            node_memory_to_bytes("-1%"),
            Err(OptionError::MemoryPercentage)
        );
    }

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
