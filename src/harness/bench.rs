//! benchfs-bench's `main`: a first argument naming a subcommand goes to it (`mdtest`,
//! `md-workbench`, `io500`, the result tools); anything else is an IOR command line, run by the process driver with servers inside an MPI job when needed.

use crate::comm::launch::launch_rank;
use crate::harness::{driver, injob, io500, mdtest, mdworkbench, results_cli};
use crate::ior::options;
use crate::measure::log;

/// Runs benchfs-bench with the process's arguments as the system gave them (program name
/// first): every argument must be UTF-8 (IOR's options, paths included, are text here); one
/// that is not is refused with a clear error, never a panic.
pub fn main_os(argv: Vec<std::ffi::OsString>) -> i32 {
    let mut text = Vec::with_capacity(argv.len());
    for (i, a) in argv.into_iter().enumerate() {
        match a.into_string() {
            Ok(s) => text.push(s),
            Err(raw) => {
                log::error_line(&format!(
                    "ERROR: argument {i} is not valid UTF-8: \"{}\" (benchfs-bench takes \
                     options and paths as UTF-8 text)",
                    raw.to_string_lossy()
                ));
                return driver::EXIT_ERROR;
            }
        }
    }
    main(text)
}

/// Runs benchfs-bench with `argv` (program name first) and returns the exit status.
pub fn main(argv: Vec<String>) -> i32 {
    // Before anything can start a server: a signal from here on removes their data.
    crate::harness::cleanup::install();
    // Subcommands (mdtest, io500, import, compare, ..., version) are not IOR runs.
    if let Some(cmd) = argv.get(1) {
        if results_cli::is_subcommand(cmd) {
            return results_cli::main(argv[1..].to_vec());
        }
        if cmd == "mdtest" {
            return mdtest::main(argv[2..].to_vec(), Some(&injob::InJobCluster));
        }
        if cmd == "md-workbench" {
            return mdworkbench::main(argv[2..].to_vec(), Some(&injob::InJobCluster));
        }
        if cmd == "io500" {
            return io500::main(argv[2..].to_vec(), Some(&injob::InJobCluster));
        }
    }
    let command_line = argv.join(" ");
    let args = argv.get(1..).unwrap_or_default().to_vec();
    let parsed = match options::parse_args(&args) {
        Ok(p) => p,
        Err(e) => {
            // Every rank of an MPI job parses the same line: rank 0 says what is wrong.
            if launch_rank() == 0 {
                log::error_line(&e.to_string());
                if e.shows_usage() {
                    // IOR's ending of a bad command line: `Invalid options`, the usage text.
                    log::error_line("Invalid options");
                    log::error_line(options::help_text().trim_end());
                }
            }
            return e.exit_status();
        }
    };
    if parsed.help {
        // IOR's text and exit status, then the subcommands.
        print!(
            "{}{}",
            options::help_text(),
            results_cli::subcommands_help()
        );
        return driver::EXIT_ERROR;
    }
    if parsed.version {
        print!("{}", crate::build_info::describe("benchfs-bench"));
        return 0;
    }
    driver::execute_with(parsed, &command_line, Some(&injob::InJobCluster))
}
