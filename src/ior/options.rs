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
/// TEMP
pub struct ParsedArgs {
    /** g */
    pub global: crate::ior::params::GlobalOptions,
    /** t */
    pub tests: Vec<crate::ior::params::IorParams>,
    /** w */
    pub warnings: Vec<String>,
    /** h */
    pub help: bool,
}
/// TEMP
pub fn parse_args(args: &[String]) -> Result<ParsedArgs, OptionError> {
    let mut p = crate::ior::params::IorParams::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "-a" => p.api = v().to_uppercase(),
            "-b" => p.block_size = parse_ior_number(&v())?,
            "-t" => p.transfer_size = parse_ior_number(&v())?,
            "-s" => p.segment_count = parse_ior_number(&v())?,
            "-N" => p.num_tasks = parse_ior_number(&v())? as i32,
            "-o" => p.test_file_name = v(),
            "-i" => p.repetitions = parse_ior_number(&v())? as i32,
            "-F" => p.file_per_proc = 1,
            "-w" => p.write_file = 1,
            "-r" => p.read_file = 1,
            "-k" => p.keep_file = 1,
            "-v" => p.verbose += 1,
            "-W" => p.check_write = 1,
            "-R" => p.check_read = 1,
            "-G" => p.set_time_stamp_signature = parse_ior_number(&v())? as i32,
            _ => return Err(OptionError::Message(format!("Error invalid argument: {a}"))),
        }
    }
    Ok(ParsedArgs {
        global: Default::default(),
        tests: vec![p],
        warnings: vec![],
        help: false,
    })
}
/// TEMP
pub fn help_text() -> String {
    String::new()
}
