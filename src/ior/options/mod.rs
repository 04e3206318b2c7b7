//! IOR's command-line parser (SPEC §1.1, §1.2), `-O` directives (§1.3, §1.4), scripts
//! (`-f`, §5) and the help text (`ior -h`).
//!
//! Owns turning `argv` into [`GlobalOptions`](crate::ior::params::GlobalOptions) and one
//! [`IorParams`](crate::ior::params::IorParams) per test, with IOR's rules and error wording.
//! It must not validate parameter combinations (that is [`crate::ior::validate`]), print
//! anything (errors and warnings are returned to the caller), or touch the file system except
//! to read the `-f` script.
//!
//! Layout: [`table`] (every option as one record: names, directive keys, help, setter),
//! [`apply`] (a token through the generic rules of [`crate::optparse`], a directive through
//! the keys), [`directives`] (splitting `key=value` strings), [`script`] (the `IOR START` ...
//! `IOR STOP` format), [`cmdline`] (a whole command line), [`help`], [`command`] (the table
//! as a clap command, for completions and the man page), [`values`] (value rules) and
//! [`error`].
//!
//! Deliberate differences from IOR 4.1 (its bugs, not copied):
//! * `-M 2g` / `memoryPerNode=2g` means 2 GiB (IOR's `sscanf(" %d %% ")` test reads it as 2 %).
//! * A backend flag given as a directive with a value (`-O --posix.odirect=0`, script line
//!   `--posix.odirect=0`) is set to that value; IOR increments it and ignores the value.
//! * A script line holding only `#` is a comment (IOR aborts with `Invalid option substring`).
//! * Parsing stops at the first bad token (IOR lists every bad token, then prints the help).

pub(crate) mod apply;
pub(crate) mod cmdline;
pub(crate) mod command;
pub(crate) mod directives;
pub(crate) mod error;
pub(crate) mod help;
pub(crate) mod script;
pub(crate) mod table;
pub(crate) mod values;

pub use apply::{apply_directive, parse_directives};
pub use cmdline::{parse_args, ParsedArgs};
pub use command::ior_command;
pub use error::OptionError;
pub use help::help_text;
pub use script::parse_script;
pub use values::node_memory_to_bytes;
