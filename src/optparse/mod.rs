//! IOR's option machinery (`option.c`), for any option table: how one command-line token is
//! matched against a table and applied, and (in [`help`]) the layout of the `-h` text.
//!
//! The token rules (SPEC §1.1): `-x` short options, groups of short flags (`-wrF`, `-vvv`),
//! counted flags (each occurrence adds one, `-F=N` sets N, negatives become 0), a value option
//! inside a group taking the rest of the token as its value (`-b4m`, `-b=4m`, `-wrb4m`) or else
//! the next token, `--long` and `--long=value` (an empty `=` value counts as none), and backend
//! module options (`--posix.odirect`), which a table offers as more long names.
//!
//! Owns those rules and their error wording (`Error invalid argument: ...`, `Error, argument
//! missing for option ...`). It must not know any option: each engine (IOR in
//! [`crate::ior::options`], mdtest) implements [`OptionTable`] for its own table, parses the
//! values itself (only the `=N` of a flag is read here, with C's `atoi`) and prints nothing.

pub mod help;

use crate::units::atoi;
use thiserror::Error;

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Counts its occurrences (or takes `=N`).
    Flag,
    /// Takes a value: attached (`-b4m`, `-b=4m`, `--long=v`) or the next token.
    Value,
}

/// A token the table cannot apply.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// No option of that name (`Error invalid argument: <token>`), with the hint a table gives
    /// for a short option it no longer has.
    #[error("Error invalid argument: {token}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    InvalidArgument {
        /// The token up to its first `=`.
        token: String,
        /// Why the option is gone and what replaces it.
        hint: Option<String>,
    },
    /// A value option at the end of the command line (named by its long name, else its short).
    #[error("Error, argument missing for option {0}")]
    MissingArgument(String),
}

/// An option table the token rules can drive: finds options by name and applies them to a
/// target `T` (what the options set).
pub trait OptionTable<T: ?Sized> {
    /// A found option (a record of the table, or an option made up on lookup such as a
    /// backend's module option).
    type Opt;
    /// The table's error; token errors convert into it.
    type Error: From<TokenError>;

    /// The option `-c`, if any.
    fn short(&self, c: char) -> Option<Self::Opt>;
    /// The option `--name`, if any (module options included).
    fn long(&self, name: &str) -> Option<Self::Opt>;
    /// Whether `o` is a flag or takes a value.
    fn arg(&self, o: &Self::Opt) -> Arg;
    /// The name of `o` in `Error, argument missing for option X`: long name, else short.
    fn name(&self, o: &Self::Opt) -> String;
    /// One occurrence of flag `o`; `set` is the `=N` attached to it (C `atoi`), if any.
    fn flag(&self, o: &Self::Opt, target: &mut T, set: Option<i32>) -> Result<(), Self::Error>;
    /// Value option `o` with its value.
    fn value(&self, o: &Self::Opt, target: &mut T, value: &str) -> Result<(), Self::Error>;
    /// Why a short option that is not in the table is gone (options removed from IOR 3).
    fn removed_short(&self, _c: char) -> Option<String> {
        None
    }
}

/// `option.c`'s rule for a counted flag: `set` (`-F=N`) sets N (negatives become 0), no value
/// adds one.
pub fn count(counter: &mut i32, set: Option<i32>) {
    *counter = match set {
        Some(v) => v.max(0),
        None => counter.saturating_add(1),
    };
}

/// Applies every token of `args` in order (later wins).
pub fn parse_tokens<T: ?Sized, O: OptionTable<T>>(
    table: &O,
    args: &[String],
    target: &mut T,
) -> Result<(), O::Error> {
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).map(String::as_str);
        let consumed = parse_token(table, &args[i], next, target)?;
        i += if consumed { 2 } else { 1 };
    }
    Ok(())
}

/// Applies one token; `next` is the following token (the value of a value option given without
/// one). Returns whether `next` was consumed. A bad token changes nothing.
pub fn parse_token<T: ?Sized, O: OptionTable<T>>(
    table: &O,
    tok: &str,
    next: Option<&str>,
    target: &mut T,
) -> Result<bool, O::Error> {
    let (name, eq_value) = match tok.find('=') {
        Some(p) => (&tok[..p], Some(&tok[p + 1..])),
        None => (tok, None),
    };
    // IOR: `--x=` (empty value) behaves as if no value was attached.
    let eq_value = eq_value.filter(|v| !v.is_empty());
    let invalid = |hint: Option<String>| TokenError::InvalidArgument {
        token: name.to_string(),
        hint,
    };

    if let Some(long) = name.strip_prefix("--") {
        let o = table.long(long).ok_or_else(|| invalid(None))?;
        return match table.arg(&o) {
            Arg::Flag => {
                table.flag(&o, target, eq_value.map(atoi))?;
                Ok(false)
            }
            Arg::Value => {
                let (v, consumed) = value_or_next(table, &o, eq_value, next)?;
                table.value(&o, target, v)?;
                Ok(consumed)
            }
        };
    }

    let shorts = match name.strip_prefix('-') {
        Some(s) if !s.is_empty() => s,
        _ => return Err(invalid(None).into()),
    };
    // Check the whole group first so that a bad token changes nothing.
    for c in shorts.chars() {
        let Some(o) = table.short(c) else {
            return Err(invalid(table.removed_short(c)).into());
        };
        if table.arg(&o) == Arg::Value {
            break;
        }
    }
    let n = shorts.chars().count();
    for (k, (pos, c)) in shorts.char_indices().enumerate() {
        let Some(o) = table.short(c) else {
            return Err(invalid(table.removed_short(c)).into());
        };
        match table.arg(&o) {
            Arg::Flag => {
                // In a group the `=N` belongs to the last flag.
                let set = if k + 1 == n { eq_value.map(atoi) } else { None };
                table.flag(&o, target, set)?;
            }
            Arg::Value => {
                // The rest of the token (including any `=`) is the value: `-b4m`, `-b=4m`,
                // `-Osummaryformat=JSON`; nothing left: the next token.
                let attached = &tok[1 + pos + c.len_utf8()..];
                let attached = attached.strip_prefix('=').unwrap_or(attached);
                let (v, consumed) = if attached.is_empty() {
                    value_or_next(table, &o, None, next)?
                } else {
                    (attached, false)
                };
                table.value(&o, target, v)?;
                return Ok(consumed);
            }
        }
    }
    Ok(false)
}

fn value_or_next<'a, T: ?Sized, O: OptionTable<T>>(
    table: &O,
    o: &O::Opt,
    eq_value: Option<&'a str>,
    next: Option<&'a str>,
) -> Result<(&'a str, bool), TokenError> {
    match (eq_value, next) {
        (Some(v), _) => Ok((v, false)),
        (None, Some(n)) => Ok((n, true)),
        (None, None) => Err(TokenError::MissingArgument(table.name(o))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of its own, as a second engine would have: `-a`, `-b` counted flags, `-n N`,
    /// `--name S`, `--mod.x` made up on lookup; `-q` removed.
    struct Toy;

    #[derive(Default, Debug, PartialEq)]
    struct Set {
        a: i32,
        b: i32,
        n: String,
        name: String,
        module: Vec<String>,
    }

    #[derive(Debug, PartialEq)]
    enum ToyError {
        Token(TokenError),
        Bad(String),
    }

    impl From<TokenError> for ToyError {
        fn from(e: TokenError) -> Self {
            ToyError::Token(e)
        }
    }

    impl OptionTable<Set> for Toy {
        type Opt = String;
        type Error = ToyError;
        fn short(&self, c: char) -> Option<String> {
            "abn".contains(c).then(|| c.to_string())
        }
        fn long(&self, name: &str) -> Option<String> {
            (name == "name" || name.starts_with("mod.")).then(|| name.to_string())
        }
        fn arg(&self, o: &String) -> Arg {
            match o.as_str() {
                "a" | "b" | "mod.flag" => Arg::Flag,
                _ => Arg::Value,
            }
        }
        fn name(&self, o: &String) -> String {
            o.clone()
        }
        fn flag(&self, o: &String, t: &mut Set, set: Option<i32>) -> Result<(), ToyError> {
            match o.as_str() {
                "a" => count(&mut t.a, set),
                "b" => count(&mut t.b, set),
                _ => t.module.push(format!("{o}:{set:?}")),
            }
            Ok(())
        }
        fn value(&self, o: &String, t: &mut Set, v: &str) -> Result<(), ToyError> {
            if v == "bad" {
                return Err(ToyError::Bad(v.into()));
            }
            match o.as_str() {
                "n" => t.n = v.into(),
                "name" => t.name = v.into(),
                _ => t.module.push(format!("{o}={v}")),
            }
            Ok(())
        }
        fn removed_short(&self, c: char) -> Option<String> {
            (c == 'q').then(|| "gone".to_string())
        }
    }

    fn run(args: &[&str]) -> Result<Set, ToyError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut t = Set::default();
        parse_tokens(&Toy, &args, &mut t).map(|_| t)
    }

    #[test]
    fn rules_hold_for_any_table() {
        let t = run(&["-aab", "-b=5", "-a=-2", "-n4m", "--name", "x", "--mod.flag"]).unwrap();
        assert_eq!((t.a, t.b), (0, 5));
        assert_eq!((t.n.as_str(), t.name.as_str()), ("4m", "x"));
        assert_eq!(t.module, vec!["mod.flag:None"]);
        assert_eq!(run(&["-abn=7"]).unwrap().n, "7");
        assert_eq!(run(&["-n", "-x"]).unwrap().n, "-x");
        assert_eq!(run(&["--name=", "y"]).unwrap().name, "y");
        assert_eq!(run(&["--mod.v=3"]).unwrap().module, vec!["mod.v=3"]);
        assert_eq!(
            run(&["--mod.flag=2"]).unwrap().module,
            vec!["mod.flag:Some(2)"]
        );
    }

    #[test]
    fn errors_for_any_table() {
        let e = |args: &[&str]| match run(args) {
            Err(ToyError::Token(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(e(&["-aq"]), "Error invalid argument: -aq (gone)");
        assert_eq!(e(&["-x"]), "Error invalid argument: -x");
        assert_eq!(e(&["--nope=1"]), "Error invalid argument: --nope");
        assert_eq!(e(&["plain"]), "Error invalid argument: plain");
        assert_eq!(e(&["-"]), "Error invalid argument: -");
        assert_eq!(e(&["-n"]), "Error, argument missing for option n");
        assert_eq!(e(&["--mod.v"]), "Error, argument missing for option mod.v");
        assert_eq!(run(&["-n", "bad"]), Err(ToyError::Bad("bad".into())));
    }

    #[test]
    fn a_bad_group_changes_nothing() {
        let args: Vec<String> = vec!["-aax".into()];
        let mut t = Set::default();
        assert!(parse_tokens(&Toy, &args, &mut t).is_err());
        assert_eq!(t, Set::default());
    }
}
