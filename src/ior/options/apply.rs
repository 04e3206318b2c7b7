//! Applying IOR's options: a command-line token (through the token rules of
//! [`crate::optparse`], with the table of [`super::table`] and the backends' module options)
//! and a directive (`key=value`, case-insensitive key; a key starting with `-` is a
//! command-line token, as in IOR).
//!
//! Owns the two entry points and their recursion: `-O` holds directives, and a `-` directive
//! key is a token. It must not hold option knowledge (the table does) or split directive
//! strings (that is [`super::directives`]).

use super::directives::pieces;
use super::error::OptionError;
use super::table::{self, Ctx, Deferred, IorOption, Set};
use super::values::{checked_ior_number, parse_int_option, NumberKind};
use crate::backend::{find_module_option, ModuleOption, OptionKind};
use crate::ior::params::{GlobalOptions, IorParams};
use crate::optparse::{self, Arg, OptionTable};
use crate::units::atoi;

/// IOR's option table with the backends' module options, for the token rules.
pub(crate) struct IorTable;

/// An option found by name.
pub(crate) enum Found {
    /// One of the table's records, and how the command line gives it.
    Core(&'static IorOption, Arg),
    /// A backend's `--module.option`.
    Module(ModuleOption),
}

impl<'a> OptionTable<Ctx<'a>> for IorTable {
    type Opt = Found;
    type Error = OptionError;

    fn short(&self, c: char) -> Option<Found> {
        table::by_short(c).map(|(o, a)| Found::Core(o, a))
    }

    fn long(&self, name: &str) -> Option<Found> {
        table::by_long(name)
            .map(|(o, a)| Found::Core(o, a))
            .or_else(|| find_module_option(name).map(Found::Module))
    }

    fn arg(&self, o: &Found) -> Arg {
        match o {
            Found::Core(_, a) => *a,
            Found::Module(m) if m.kind == OptionKind::Flag => Arg::Flag,
            Found::Module(_) => Arg::Value,
        }
    }

    fn name(&self, o: &Found) -> String {
        match o {
            Found::Core(o, _) => o.display_name(),
            Found::Module(m) => m.key(),
        }
    }

    fn flag(&self, o: &Found, c: &mut Ctx<'a>, set: Option<i32>) -> Result<(), OptionError> {
        match o {
            Found::Core(o, _) => match o.set {
                Set::Count(f) => optparse::count(f(c.params), set),
                Set::Flag(f) => f(c, set),
                _ => {}
            },
            Found::Module(m) => {
                let key = m.key();
                let mut n = c.params.backend_options.get(&key).map_or(0, |s| atoi(s));
                optparse::count(&mut n, set);
                c.params.backend_options.insert(key, n.to_string());
            }
        }
        Ok(())
    }

    fn value(&self, o: &Found, c: &mut Ctx<'a>, v: &str) -> Result<(), OptionError> {
        match o {
            Found::Core(o, _) => match o.set {
                Set::Int(f) => {
                    checked_ior_number(v, &o.cli_name(), NumberKind::Int)?;
                    *f(c.params) = parse_int_option(v, c.warnings);
                }
                Set::Size(f) => {
                    *f(c.params) = checked_ior_number(v, &o.cli_name(), NumberKind::Size)?
                }
                Set::Text(f) => *f(c.params) = v.to_string(),
                Set::Note(f) => *f(c) = Some(v.to_string()),
                Set::Value { cli: Some(f), .. } => f(c, v)?,
                Set::Directives => apply_directive_string(c, v)?,
                _ => {}
            },
            Found::Module(m) => {
                if m.kind == OptionKind::Int {
                    checked_ior_number(v, &format!("--{}", m.key()), NumberKind::Int)?;
                    parse_int_option(v, c.warnings);
                }
                c.params.backend_options.insert(m.key(), v.to_string());
            }
        }
        Ok(())
    }

    fn removed_short(&self, c: char) -> Option<String> {
        table::removed_short_hint(c)
    }

    fn suggest_long(&self, name: &str) -> Option<String> {
        table::suggest_long(name)
    }
}

/// Applies one command-line token; `next` is the following token. Returns whether `next` was
/// consumed.
pub(crate) fn apply_token(
    c: &mut Ctx<'_>,
    tok: &str,
    next: Option<&str>,
) -> Result<bool, OptionError> {
    optparse::parse_token(&IorTable, tok, next, c)
}

/// Applies a directive string as `-O` does: `#` starts a comment, `,` separates directives,
/// each piece must be at least 3 characters and of the form `key = value`.
pub(crate) fn apply_directive_string(c: &mut Ctx<'_>, s: &str) -> Result<(), OptionError> {
    for piece in pieces(s) {
        let (key, value) = piece?;
        apply_directive_to(c, key, value)?;
    }
    Ok(())
}

/// Applies one directive. IOR keys are case-insensitive; keys starting with `-` are
/// command-line options (`--posix.odirect=1`, `--dummy.delay-xfer=10`).
pub(crate) fn apply_directive_to(
    c: &mut Ctx<'_>,
    key: &str,
    value: &str,
) -> Result<(), OptionError> {
    let unrecognized = || OptionError::UnrecognizedParameter {
        key: key.to_string(),
        hint: table::removed_key_hint(key).or_else(|| table::suggest_key(key)),
    };
    let Some(o) = table::by_key(key) else {
        if key.starts_with('-') {
            return apply_option_key(c, key, value);
        }
        return Err(unrecognized());
    };
    match o.set {
        Set::Count(f) | Set::Int(f) => *f(c.params) = atoi(value),
        Set::Size(f) => *f(c.params) = checked_ior_number(value, key, NumberKind::Size)?,
        Set::Text(f) => *f(c.params) = value.to_string(),
        Set::Note(f) => *f(c) = Some(value.to_string()),
        Set::Value {
            directive: Some(f), ..
        } => f(c, value)?,
        Set::Alias(token_key) => return apply_option_key(c, token_key, value),
        Set::Value {
            directive: None, ..
        }
        | Set::Flag(_)
        | Set::Directives => return Err(unrecognized()),
    }
    Ok(())
}

/// A `-`-key directive: handled as the command-line token `key=value`, its `-l` / `-M`
/// resolved at once.
fn apply_option_key(c: &mut Ctx<'_>, key: &str, value: &str) -> Result<(), OptionError> {
    let mut later = Deferred::default();
    let mut sub = Ctx {
        params: &mut *c.params,
        global: &mut *c.global,
        later: &mut later,
        warnings: &mut *c.warnings,
    };
    let token = format!("{key}={value}");
    match apply_token(&mut sub, &token, None) {
        Ok(_) => later.finish(c.params),
        Err(OptionError::InvalidArgument { hint, .. }) => Err(OptionError::UnrecognizedParameter {
            key: key.to_string(),
            hint,
        }),
        Err(e) => Err(e),
    }
}

/// Applies one directive (`-O key=value`, or a script line piece). IOR keys are
/// case-insensitive; keys starting with `-` are command-line options
/// (`--posix.odirect=1`, `--dummy.delay-xfer=10`). `useO_DIRECT` maps to `--posix.odirect`.
pub fn apply_directive(
    params: &mut IorParams,
    global: &mut GlobalOptions,
    key: &str,
    value: &str,
) -> Result<(), OptionError> {
    let mut warnings = Vec::new();
    let mut later = Deferred::default();
    let mut c = Ctx {
        params,
        global,
        later: &mut later,
        warnings: &mut warnings,
    };
    apply_directive_to(&mut c, key, value)
}

/// Parses a directive string as `-O` does: `#` starts a comment, `,` separates
/// directives, each piece must be at least 3 characters and of the form `key = value`.
pub fn parse_directives(
    params: &mut IorParams,
    global: &mut GlobalOptions,
    s: &str,
) -> Result<(), OptionError> {
    let mut warnings = Vec::new();
    parse_directives_collect(params, global, s, &mut warnings)
}

/// [`parse_directives`], collecting parse warnings (number overflows).
pub(crate) fn parse_directives_collect(
    params: &mut IorParams,
    global: &mut GlobalOptions,
    s: &str,
    warnings: &mut Vec<String>,
) -> Result<(), OptionError> {
    let mut later = Deferred::default();
    let mut c = Ctx {
        params,
        global,
        later: &mut later,
        warnings,
    };
    apply_directive_string(&mut c, s)
}
