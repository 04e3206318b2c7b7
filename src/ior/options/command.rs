//! IOR's option table seen as a [`clap::Command`], for what clap generates from a command's
//! definition: shell completions (`clap_complete`) and the man page (`clap_mangen`). Every
//! command-line option of the table (IOR's, the backends' `--module.option`, ours) becomes
//! one argument with its help text; `-a` offers the backend names, path options complete
//! file names.
//!
//! Owns what of the table becomes an argument; the translation of one option is
//! [`crate::optparse::command`]'s. It never parses a command line.

use super::table::{all, Help, IorOption};
use crate::optparse::command::{backend_choice, option_arg, with_module_options};
use clap::{Arg, Command, ValueHint};

/// The help text of `o`, if the help lists it.
fn help_of(o: &IorOption) -> Option<String> {
    match &o.help {
        Help::Text(t) => Some((*t).to_string()),
        Help::Made(f) => Some(f()),
        Help::Hidden | Help::Line(_) => None,
    }
}

/// How a shell should complete the value of `o`.
fn hint_of(o: &IorOption) -> ValueHint {
    match (o.short, o.long) {
        (Some('o'), _) | (Some('f'), _) | (_, Some("json")) => ValueHint::FilePath,
        (_, Some("results-dir")) => ValueHint::DirPath,
        _ => ValueHint::Other,
    }
}

/// One table record as a clap argument, if it has a command-line name and a help line.
fn arg_of(o: &IorOption) -> Option<Arg> {
    let kind = o.cli_arg()?;
    let help = help_of(o)?;
    let value_name = o.keys.first().copied().unwrap_or("VALUE");
    let a = option_arg(o.short, o.long, help, kind, value_name, hint_of(o));
    Some(if o.short == Some('a') {
        backend_choice(a)
    } else {
        a
    })
}

/// `name`'s IOR options as a clap command: IOR's and ours in the table's order, then each
/// backend's `--module.option`. Help and version are the table's own `-h` and `--version`.
pub fn ior_command(name: &'static str) -> Command {
    let mut cmd = Command::new(name)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .after_help(
            "IOR directives (-O key=value, script lines) take the same settings by their IOR \
             names (blockSize=4m, summaryFormat=JSON); see `benchfs-bench -h`.",
        );
    for a in all().filter_map(arg_of) {
        cmd = cmd.arg(a);
    }
    with_module_options(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BACKEND_NAMES;

    #[test]
    fn every_option_of_the_help_is_an_argument() {
        let cmd = ior_command("benchfs-bench");
        // clap's own consistency checks (unique names, valid settings).
        cmd.clone().debug_assert();
        let b = cmd
            .get_arguments()
            .find(|a| a.get_short() == Some('b'))
            .unwrap();
        assert!(b.get_help().unwrap().to_string().starts_with("blockSize"));
        assert!(cmd
            .get_arguments()
            .any(|a| a.get_long() == Some("collective")));
        assert!(cmd
            .get_arguments()
            .any(|a| a.get_long() == Some("posix.odirect")));
        assert!(cmd.get_arguments().any(|a| a.get_long() == Some("version")));
        let api = cmd
            .get_arguments()
            .find(|a| a.get_short() == Some('a'))
            .unwrap();
        let names: Vec<String> = api
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(names, BACKEND_NAMES);
    }
}
