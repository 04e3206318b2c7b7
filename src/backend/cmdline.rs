//! How an engine's option table (mdtest's, md-workbench's) offers the backends' module
//! options (`--posix.odirect`, `--dummy.delay-create=5`) beside its own records: one generic
//! [`OptionTable`] over the engine's records ([`Tables`]) that looks a token's option up in
//! them or among the module options, and lands a module option's flag or value in the test's
//! backend option values; the engine's records apply themselves ([`TableOption`]).
//!
//! Owns only that glue and the `int` value rule with IOR's overflow warning; the token rules
//! are [`crate::optparse`], the module options the backend table's
//! ([`crate::backend::module_options`]). It must not know any engine option.

use crate::backend::{find_module_option, ModuleOption, OptionKind};
use crate::optparse::{self, Arg, OptionTable, TokenError};
use crate::units::{atoi, parse_ior_number};
use std::collections::BTreeMap;

/// What an engine's command line sets, as far as the module options need it.
pub trait ModuleTarget {
    /// The test's `--<module>.<name>` values.
    fn backend_options(&mut self) -> &mut BTreeMap<String, String>;
    /// Warnings of parsing, in order.
    fn warnings(&mut self) -> &mut Vec<String>;
}

/// A record of an engine's option table.
pub trait TableOption<A>: Copy + 'static {
    /// The engine's command-line error.
    type Error: From<TokenError>;
    /// `-c`, if it has one.
    fn short_name(&self) -> Option<char>;
    /// `--name`, if it has one.
    fn long_name(&self) -> Option<&'static str>;
    /// Whether it is a counted flag.
    fn is_flag(&self) -> bool;
    /// One occurrence of the flag (`set`: its `=N`).
    fn apply_flag(&self, target: &mut A, set: Option<i32>);
    /// The option's value.
    fn apply_value(&self, target: &mut A, value: &str) -> Result<(), Self::Error>;
}

/// The option a token names: a record of the engine's table, or a backend's module option.
#[derive(Clone, Copy)]
pub enum Found<T> {
    /// A record of the table.
    Table(T),
    /// `--<module>.<name>`.
    Module(ModuleOption),
}

/// An engine's option records (its own table, then the options benchfs-bench adds), searched
/// in order, with the module options after them.
pub struct Tables<T: 'static>(pub &'static [&'static [T]]);

impl<T> Tables<T> {
    fn find(&self, pick: impl Fn(&T) -> bool) -> Option<&'static T> {
        self.0.iter().flat_map(|t| t.iter()).find(|o| pick(o))
    }
}

impl<A: ModuleTarget, T: TableOption<A>> OptionTable<A> for Tables<T> {
    type Opt = Found<T>;
    type Error = T::Error;

    fn short(&self, c: char) -> Option<Found<T>> {
        self.find(|o| o.short_name() == Some(c))
            .copied()
            .map(Found::Table)
    }

    fn long(&self, name: &str) -> Option<Found<T>> {
        self.find(|o| o.long_name() == Some(name))
            .copied()
            .map(Found::Table)
            .or_else(|| find_module_option(name).map(Found::Module))
    }

    fn arg(&self, o: &Found<T>) -> Arg {
        let flag = match o {
            Found::Table(t) => t.is_flag(),
            Found::Module(m) => m.kind == OptionKind::Flag,
        };
        if flag {
            Arg::Flag
        } else {
            Arg::Value
        }
    }

    fn name(&self, o: &Found<T>) -> String {
        match o {
            Found::Table(t) => t
                .long_name()
                .map(str::to_string)
                .or_else(|| t.short_name().map(String::from))
                .unwrap_or_default(),
            Found::Module(m) => m.key(),
        }
    }

    fn flag(&self, o: &Found<T>, a: &mut A, set: Option<i32>) -> Result<(), T::Error> {
        match o {
            Found::Table(t) if t.is_flag() => t.apply_flag(a, set),
            Found::Table(_) => {}
            Found::Module(m) => {
                let key = m.key();
                let values = a.backend_options();
                let mut cur = values.get(&key).map_or(0, |s| atoi(s));
                optparse::count(&mut cur, set);
                values.insert(key, cur.to_string());
            }
        }
        Ok(())
    }

    fn value(&self, o: &Found<T>, a: &mut A, v: &str) -> Result<(), T::Error> {
        match o {
            Found::Table(t) if t.is_flag() => Ok(()),
            Found::Table(t) => t.apply_value(a, v),
            Found::Module(m) => {
                if m.kind == OptionKind::Int {
                    int_value(v, a.warnings());
                }
                a.backend_options().insert(m.key(), v.to_string());
                Ok(())
            }
        }
    }
}

/// An `int` option's value (`string_to_bytes`), with IOR's warning when it overflows.
pub fn int_value(v: &str, warnings: &mut Vec<String>) -> i32 {
    let n = parse_ior_number(v);
    if n > i64::from(i32::MAX) || n < i64::from(i32::MIN) {
        warnings.push(format!(
            "WARNING: parsing the number {v} to integer, this produced an overflow!"
        ));
    }
    n as i32
}

/// An engine's `--help`: `Synopsis <program>`, the flags and value options of its own table
/// (`own`), one section per backend, then the options benchfs-bench adds (`ours`), each given
/// as its flags' lines and its value options' lines.
pub fn help_text(
    program: &str,
    engine: &str,
    own: [Vec<crate::optparse::help::Line>; 2],
    ours: [Vec<crate::optparse::help::Line>; 2],
) -> String {
    use crate::optparse::help::section;
    let mut out = format!("Synopsis {program}\n");
    section(&mut out, "Flags", &own[0]);
    section(&mut out, "Optional arguments", &own[1]);
    out.push_str(&crate::backend::module_help());
    out.push_str(&format!("\n\nOptions of benchfs-bench (beyond {engine})\n"));
    section(&mut out, "Flags", &ours[0]);
    section(&mut out, "Optional arguments", &ours[1]);
    out
}
