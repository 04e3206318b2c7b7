//! IOR's option machinery (`option.c`), for any option table: how one command-line token is
//! matched against a table and applied, and (in [`help`]) the layout of the `-h` text.
//!
//! The token rules (SPEC §1.1, IOR's `option_parse_token` to the letter, see [`parse_token`]):
//! `-x` short options, groups of short options (`-wrF`, `-vvv`, `-z-k`), counted flags (each
//! occurrence adds one, `-F=N` sets N, negatives become 0), value options (`-b 4m`, `-b4m`,
//! `-b=4m`, `-wb 4m`), `--long` and `--long=value`, and backend module options
//! (`--posix.odirect`), which a table offers as more long names.
//!
//! Owns those rules and their error wording (`Error invalid argument: ...`, `Error, argument
//! missing for option ...`). The token rules know no option: each engine (IOR in
//! [`crate::ior::options`], mdtest, md-workbench) implements [`OptionTable`] for its own
//! table, parses the values itself (only the `=N` of a flag is read here, with C's `atoi`)
//! and prints nothing. [`record`] is the record type the text engines' tables share, with
//! the four options benchfs-bench adds to each of them.

pub(crate) mod command;
pub(crate) mod help;
pub(crate) mod record;

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
    /// What to say about `--name`, which the table does not have: usually the nearest
    /// valid spelling (`did you mean --collective?`, see [`nearest`]).
    fn suggest_long(&self, _name: &str) -> Option<String> {
        None
    }
}

/// The candidate closest to `name` (case-insensitive edit distance, a swap of two
/// neighbours counting as one edit), if it is close enough to be a misspelling: at most one
/// edit per four characters, at least one; a candidate that differs only in case always is.
/// Ties go to the first candidate.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let want = name.to_ascii_lowercase();
    let limit = (want.chars().count() / 4).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(&want, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
/// one). Returns whether `next` was consumed.
///
/// IOR's `option_parse_token`, rule for rule: the token is cut at its first `=` (the value
/// after it; an empty one counts as none, yet still as given, so a value option then has no
/// value). `--name` is a long option (two characters at least). Otherwise every character of
/// the group is looked up as a short option, in order, and the ones found are applied; the
/// others are skipped (`-z-k` is `-z -k`). A flag takes the token's `=N` if any (each flag of
/// the group). A value option takes the token's value if it has one; else, when it is the
/// group's first letter, the rest of the token (`-b4m`); else the next token (`-wb 4m`). Once
/// a value is taken, the flags after it in the group get it as their `=N` too: IOR reads
/// `-b4m` as `-b 4m` *and* `-m=4`, `-t256k` as `-t 256k` and `-k=256`. Only a token of which
/// nothing matched is an error, and nothing of it was applied.
pub fn parse_token<T: ?Sized, O: OptionTable<T>>(
    table: &O,
    tok: &str,
    next: Option<&str>,
    target: &mut T,
) -> Result<bool, O::Error> {
    let (name, with_eq, eq_value) = match tok.find('=') {
        Some(p) => (
            &tok[..p],
            true,
            Some(&tok[p + 1..]).filter(|v| !v.is_empty()),
        ),
        None => (tok, false, None),
    };
    let invalid = |hint: Option<String>| TokenError::InvalidArgument {
        token: name.to_string(),
        hint,
    };
    let Some(txt) = name.strip_prefix('-') else {
        return Err(invalid(None).into());
    };
    let mut step = Step {
        arg: eq_value,
        with_eq,
        next,
        consumed: false,
    };
    if let Some(long) = txt.strip_prefix('-') {
        let found = (long.chars().count() > 1)
            .then(|| table.long(long))
            .flatten();
        let Some(o) = found else {
            return Err(invalid(table.suggest_long(long)).into());
        };
        step.apply(table, &o, target, None)?;
        return Ok(step.consumed);
    }
    let first = txt.chars().next();
    let mut parsed = false;
    let mut unknown = None;
    for c in txt.chars() {
        let Some(o) = table.short(c) else {
            unknown.get_or_insert(c);
            continue;
        };
        let rest = &txt[c.len_utf8()..];
        let attached = (Some(c) == first && !rest.is_empty()).then_some(rest);
        step.apply(table, &o, target, attached)?;
        parsed = true;
    }
    if parsed {
        Ok(step.consumed)
    } else {
        Err(invalid(unknown.and_then(|c| table.removed_short(c))).into())
    }
}

/// The state of one token while its options are applied: the value (from `=`, the rest of
/// the token or the next token) and whether the next token was taken.
struct Step<'a> {
    arg: Option<&'a str>,
    with_eq: bool,
    next: Option<&'a str>,
    consumed: bool,
}

impl<'a> Step<'a> {
    fn apply<T: ?Sized, O: OptionTable<T>>(
        &mut self,
        table: &O,
        o: &O::Opt,
        target: &mut T,
        attached: Option<&'a str>,
    ) -> Result<(), O::Error> {
        match table.arg(o) {
            Arg::Flag => table.flag(o, target, self.arg.map(atoi)),
            Arg::Value => {
                if self.arg.is_none() && !self.with_eq {
                    match attached {
                        Some(rest) => self.arg = Some(rest),
                        None => {
                            self.arg = self.next;
                            self.consumed = true;
                        }
                    }
                }
                let v = self
                    .arg
                    .ok_or_else(|| TokenError::MissingArgument(table.name(o)))?;
                table.value(o, target, v)
            }
        }
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
        fn suggest_long(&self, name: &str) -> Option<String> {
            nearest(name, ["name", "mod.flag"]).map(|n| format!("did you mean --{n}?"))
        }
    }

    fn run(args: &[&str]) -> Result<Set, ToyError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut t = Set::default();
        parse_tokens(&Toy, &args, &mut t).map(|_| t)
    }

    #[test]
    fn rules_hold_for_any_table() {
        let t = run(&["-aab", "-b=5", "-a=-2", "--name", "x", "--mod.flag"]).unwrap();
        assert_eq!((t.a, t.b), (0, 5));
        assert_eq!(t.name, "x");
        assert_eq!(t.module, vec!["mod.flag:None"]);
        assert_eq!(run(&["-n4m"]).unwrap().n, "4m");
        assert_eq!(run(&["-n=7"]).unwrap().n, "7");
        assert_eq!(run(&["-n", "-x"]).unwrap().n, "-x");
        assert_eq!(run(&["--mod.v=3"]).unwrap().module, vec!["mod.v=3"]);
        assert_eq!(
            run(&["--mod.flag=2"]).unwrap().module,
            vec!["mod.flag:Some(2)"]
        );
    }

    #[test]
    fn groups_follow_iors_parser() {
        // Characters that are no option are skipped: `-a-b` is `-a -b` (IOR's `-z-k`).
        let t = run(&["-a-b", "-a9b"]).unwrap();
        assert_eq!((t.a, t.b), (2, 2));
        // `=N` goes to every flag of the group.
        let t = run(&["-ab=3"]).unwrap();
        assert_eq!((t.a, t.b), (3, 3));
        // A value option first in the group takes the rest; the flags in that rest take the
        // value as their `=N` (IOR: `-b4m` also sets multiFile to 4).
        let t = run(&["-n4b"]).unwrap();
        assert_eq!((t.n.as_str(), t.b), ("4b", 4));
        // A value option later in the group takes the next token (IOR: `-wb 4m`), and flags
        // after it take that as their `=N`.
        let t = run(&["-anb", "12"]).unwrap();
        assert_eq!((t.a, t.n.as_str(), t.b), (1, "12", 12));
        let t = run(&["-an4", "y"]).unwrap();
        assert_eq!((t.a, t.n.as_str()), (1, "y"));
        // `=` with nothing after it: a flag counts, a value option has no value.
        assert_eq!(run(&["-a="]).unwrap().a, 1);
        assert_eq!(
            run(&["--name=", "y"]),
            Err(ToyError::Token(TokenError::MissingArgument("name".into())))
        );
        // A one-letter long option is no long option.
        assert!(run(&["--n", "1"]).is_err());
    }

    #[test]
    fn errors_for_any_table() {
        let e = |args: &[&str]| match run(args) {
            Err(ToyError::Token(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(e(&["-q"]), "Error invalid argument: -q (gone)");
        assert_eq!(e(&["-x"]), "Error invalid argument: -x");
        assert_eq!(e(&["--nope=1"]), "Error invalid argument: --nope");
        assert_eq!(
            e(&["--nmae=1"]),
            "Error invalid argument: --nmae (did you mean --name?)"
        );
        assert_eq!(e(&["plain"]), "Error invalid argument: plain");
        assert_eq!(e(&["-"]), "Error invalid argument: -");
        assert_eq!(e(&["-n"]), "Error, argument missing for option n");
        assert_eq!(e(&["-n="]), "Error, argument missing for option n");
        assert_eq!(e(&["--mod.v"]), "Error, argument missing for option mod.v");
        assert_eq!(run(&["-n", "bad"]), Err(ToyError::Bad("bad".into())));
    }

    #[test]
    fn nearest_finds_misspellings_only() {
        let c = ["blockSize", "transferSize", "segmentCount", "collective"];
        assert_eq!(nearest("blocksize", c), Some("blockSize"));
        assert_eq!(nearest("blokSize", c), Some("blockSize"));
        assert_eq!(nearest("transfersise", c), Some("transferSize"));
        assert_eq!(nearest("colective", c), Some("collective"));
        assert_eq!(nearest("verbose", c), None);
        assert_eq!(nearest("x", c), None);
    }

    #[test]
    fn a_token_of_which_nothing_matched_changes_nothing() {
        let args: Vec<String> = vec!["-xyq".into()];
        let mut t = Set::default();
        assert!(parse_tokens(&Toy, &args, &mut t).is_err());
        assert_eq!(t, Set::default());
    }
}
