//! An option table seen as a [`clap::Command`], for what clap generates from a command's
//! definition: shell completions (`clap_complete`) and man pages (`clap_mangen`). Each
//! engine's table (IOR's in [`crate::ior::options::ior_command`], mdtest's in
//! [`crate::mdtest::options::command`]) turns its records into arguments with [`option_arg`]
//! and adds the backends' `--module.option`s with [`with_module_options`].
//!
//! Owns this translation only. It never parses a command line: IOR's token rules are
//! [`super::parse_token`]'s, which clap cannot express (`-F=N`, `-wrb4m`).

use super::Arg as Kind;
use crate::backend::{module_options, OptionKind, BACKEND_NAMES};
use clap::{Arg, ArgAction, Command, ValueHint};

/// One option as a clap argument: `-c` and/or `--long`, its help line, a flag counted or a
/// value named `value_name` completed as `hint`; `-a` (`backend` true) offers the backends'
/// names.
pub fn option_arg(
    short: Option<char>,
    long: Option<&'static str>,
    help: String,
    kind: Kind,
    value_name: &'static str,
    hint: ValueHint,
) -> Arg {
    let id = match (long, short) {
        (Some(l), _) => l.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => value_name.to_string(),
    };
    let mut a = Arg::new(id).help(help);
    if let Some(c) = short {
        a = a.short(c);
    }
    if let Some(l) = long {
        a = a.long(l);
    }
    match kind {
        Kind::Flag => a.action(ArgAction::Count),
        Kind::Value => a
            .action(ArgAction::Set)
            .value_name(value_name)
            .value_hint(hint),
    }
}

/// `a` completing only the backend names of `-a` (the backend table's).
pub fn backend_choice(a: Arg) -> Arg {
    a.value_parser(BACKEND_NAMES.to_vec())
}

/// `cmd` with every backend's `--module.option` (the backend table's options).
pub fn with_module_options(mut cmd: Command) -> Command {
    for m in module_options() {
        let key = m.key();
        let a = Arg::new(key.clone()).long(key).help(m.help);
        cmd = cmd.arg(match m.kind {
            OptionKind::Flag => a.action(ArgAction::Count),
            _ => a.action(ArgAction::Set).value_name(m.name),
        });
    }
    cmd
}
