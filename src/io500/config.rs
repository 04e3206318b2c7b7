//! The io500 app's ini file: parsing with the app's rules and wording (`u_parse_ini`),
//! the values of every key of [`crate::io500::phases::PHASES`] (set or default), the
//! configuration hash (`u_ini_gen_hash`), and the `config.ini` listing (`u_ini_print_values`).
//!
//! Rules, as the app applies them: sections and keys match case-insensitively; a comment
//! starts with `#` or `;` after whitespace (a value cannot contain either); an empty value
//! leaves the key unset; an unknown section or key, a value of the wrong type, or any other
//! content is an error naming the line. It must not interpret the values (the command lines
//! and the engine do).

use crate::io500::phases::{PhaseDef, ValueKind, PHASES};
use std::fmt::Write as _;

/// A parsing error, in the app's wording (printed after `ERROR `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IniError(pub String);

/// Every key of every section, with the value the file set or the default.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Per section of [`PHASES`], per key of the section: the value (`None`: unset).
    values: Vec<Vec<Option<String>>>,
    /// The file's text as read (the app keeps it as `config-orig.ini`).
    pub text: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: PHASES
                .iter()
                .map(|p| {
                    p.keys
                        .iter()
                        .map(|k| k.default.map(str::to_string))
                        .collect()
                })
                .collect(),
            text: String::new(),
        }
    }
}

/// `[[:space:]]` of the app's regular expressions.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// An optional trailing comment: nothing, or whitespace then `#`/`;` then anything.
fn is_comment_tail(rest: &str) -> bool {
    let t = rest.trim_start_matches(is_space);
    t.is_empty() || (t.len() < rest.len() && (t.starts_with('#') || t.starts_with(';')))
}

/// A section header `[name]` with an optional comment: the name.
fn section_header(line: &str) -> Option<&str> {
    let t = line.trim_start_matches(is_space).strip_prefix('[')?;
    let close = t.find(']')?;
    let name = t[..close].trim_matches(is_space);
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (valid && is_comment_tail(&t[close + 1..])).then_some(name)
}

/// `key = value` with an optional comment: the key and the value (right-trimmed).
fn assignment(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches(is_space);
    let key_end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(t.len());
    if key_end == 0 {
        return None;
    }
    let (key, rest) = t.split_at(key_end);
    let rest = rest.trim_start_matches(is_space).strip_prefix('=')?;
    let value_end = rest.find(['#', ';']).unwrap_or(rest.len());
    let (value, tail) = rest.split_at(value_end);
    // The comment must follow whitespace, which the value then ends with.
    if !tail.is_empty() && !value.ends_with(is_space) {
        return None;
    }
    Some((key, value.trim_matches(is_space)))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `value` against `kind`; returns the value to store (booleans as `TRUE`/`FALSE`) or
/// the app's complaint (`expects ...`).
fn check_value(kind: ValueKind, value: &str) -> Result<String, &'static str> {
    match kind {
        ValueKind::Str => Ok(value.to_string()),
        ValueKind::Int => {
            if all_digits(value.strip_prefix('-').unwrap_or(value)) {
                Ok(value.to_string())
            } else {
                Err("integer")
            }
        }
        ValueKind::Uint | ValueKind::Uint64 => {
            if all_digits(value) {
                Ok(value.to_string())
            } else {
                Err("integer >= 0")
            }
        }
        ValueKind::Bool => {
            if value.eq_ignore_ascii_case("true") || value == "1" {
                Ok("TRUE".into())
            } else if value.eq_ignore_ascii_case("false") || value == "0" {
                Ok("FALSE".into())
            } else {
                Err("bool (true|false)")
            }
        }
        ValueKind::Float => {
            if !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, 'e' | '.' | '+' | '-'))
            {
                Ok(value.to_string())
            } else {
                Err("float")
            }
        }
    }
}

/// The app's 32-bit rolling hash of a string (`u_hash_update`: rotate left by 2, add the byte
/// as a signed char).
pub fn hash_update(hash: u32, s: &str) -> u32 {
    s.bytes().fold(hash, |h, b| {
        h.rotate_left(2).wrapping_add(b as i8 as i32 as u32)
    })
}

/// Folds `key = value` into `hash` (`u_hash_update_key_val`).
pub fn hash_key_val(hash: &mut u32, key: &str, value: &str) {
    *hash ^= hash_update(hash_update(0, key), value);
}

/// Folds `key = value` with the value printed as `%f` (`u_hash_update_key_val_dbl`).
pub fn hash_key_val_f64(hash: &mut u32, key: &str, value: f64) {
    hash_key_val(hash, key, &format!("{value:.6}"));
}

impl Config {
    /// Parses the text of an ini file.
    pub fn parse(text: &str) -> Result<Config, IniError> {
        let mut cfg = Config {
            text: text.to_string(),
            ..Config::default()
        };
        let mut section: Option<usize> = None;
        for (n, line) in text.split('\n').enumerate() {
            let line_no = n + 1;
            if line.is_empty() {
                continue;
            }
            if let Some(name) = section_header(line) {
                section = Some(
                    PHASES
                        .iter()
                        .position(|p| p.name.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            IniError(format!(
                                "Parsing error in line {line_no}, unknown section {name}"
                            ))
                        })?,
                );
                continue;
            }
            if let Some((key, value)) = assignment(line) {
                if value.is_empty() {
                    continue;
                }
                let s = section.ok_or_else(|| {
                    IniError(format!(
                        "Parsing error in line {line_no}, variable assigned outside section"
                    ))
                })?;
                let def = &PHASES[s];
                let k = def
                    .keys
                    .iter()
                    .position(|k| k.name.eq_ignore_ascii_case(key))
                    .ok_or_else(|| {
                        IniError(format!(
                            "Parsing error in section {} line {line_no}, unknown option \"{key}\" with value \"{value}\"",
                            def.name
                        ))
                    })?;
                let stored = check_value(def.keys[k].kind, value).map_err(|expects| {
                    IniError(format!(
                        "Parsing error in section {} line {line_no}, option {key} expects {expects}, received \"{value}\"",
                        def.name
                    ))
                })?;
                cfg.values[s][k] = Some(stored);
                continue;
            }
            let t = line.trim_start_matches(is_space);
            if !(t.is_empty() || t.starts_with('#') || t.starts_with(';')) {
                return Err(IniError(format!(
                    "Parsing error in section {} line {line_no}, unexpected content: \"{line}\"",
                    section.map_or("no_section", |s| PHASES[s].name)
                )));
            }
        }
        Ok(cfg)
    }

    /// Reads and parses the ini file at `path`.
    pub fn read(path: &str) -> Result<Config, IniError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| IniError(format!("Cannot open config file {path} ({e})")))?;
        Config::parse(&text)
    }

    fn slot(&self, section: &str, key: &str) -> Option<(usize, usize)> {
        let s = PHASES.iter().position(|p| p.name == section)?;
        let k = PHASES[s].keys.iter().position(|k| k.name == key)?;
        Some((s, k))
    }

    /// The value of `key` in `section` (set or default; `None`: unset or no such key).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let (s, k) = self.slot(section, key)?;
        self.values[s][k].as_deref()
    }

    /// Sets `key` in `section` as the file would (checked against its type).
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), IniError> {
        let (s, k) = self
            .slot(section, key)
            .ok_or_else(|| IniError(format!("unknown option [{section}] {key}")))?;
        let stored = check_value(PHASES[s].keys[k].kind, value).map_err(|expects| {
            IniError(format!(
                "option {key} expects {expects}, received \"{value}\""
            ))
        })?;
        self.values[s][k] = Some(stored);
        Ok(())
    }

    /// A boolean key (`None`: unset).
    pub fn flag(&self, section: &str, key: &str) -> Option<bool> {
        self.get(section, key).map(|v| v == "TRUE")
    }

    /// An integer key as the app reads it (`atoi`/`atoll`; `None`: unset).
    pub fn int(&self, section: &str, key: &str) -> Option<i64> {
        self.get(section, key).and_then(|v| v.parse().ok())
    }

    /// Whether `[phase] run` and, for the phases of a workload, the workload's `run` are on.
    pub fn runs(&self, phase: &PhaseDef, workload: Option<&str>) -> bool {
        let own = !phase.keys.iter().any(|k| k.name == "run")
            || self.flag(phase.name, "run") != Some(false);
        own && workload.is_none_or(|w| self.flag(w, "run") != Some(false))
    }

    /// The configuration hash (`u_ini_gen_hash`): every key with a value, order-free.
    pub fn hash(&self) -> u32 {
        let mut h = 0;
        for (def, values) in PHASES.iter().zip(&self.values) {
            for (k, v) in def.keys.iter().zip(values) {
                if let Some(v) = v {
                    hash_key_val(&mut h, k.name, v);
                }
            }
        }
        h
    }

    /// Every section with every key and value (`config.ini`); with `help`, each key's help
    /// as a comment first (`--list`).
    pub fn listing(&self, help: bool) -> String {
        let mut out = String::new();
        for (def, values) in PHASES.iter().zip(&self.values) {
            let _ = writeln!(out, "[{}]", def.name);
            for (k, v) in def.keys.iter().zip(values) {
                if help {
                    let _ = writeln!(out, "# {}", k.help);
                }
                let _ = writeln!(out, "{} = {}", k.name, v.as_deref().unwrap_or(""));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
/// The key record of `section`/`key`, if the table has it.
pub fn key_def(section: &str, key: &str) -> Option<&'static crate::io500::phases::Key> {
    PHASES
        .iter()
        .find(|p| p.name == section)?
        .keys
        .iter()
        .find(|k| k.name == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        assert_eq!(section_header(" [ ior-easy ] # x"), Some("ior-easy"));
        assert_eq!(section_header("[ior-easy]#x"), None);
        assert_eq!(assignment("a = b c  ; note"), Some(("a", "b c")));
        assert_eq!(assignment("a = b;c"), None);
        assert_eq!(assignment("a ="), Some(("a", "")));
        assert_eq!(assignment("= b"), None);
    }

    #[test]
    fn hash_of_defaults_is_order_free_and_changes_with_values() {
        let a = Config::default();
        let mut b = Config::default();
        assert_eq!(a.hash(), b.hash());
        b.set("debug", "stonewall-time", "1").unwrap();
        assert_ne!(a.hash(), b.hash());
        assert!(key_def("mdtest-hard", "files-per-dir").is_some());
    }
}
