//! The layout of an option help text (`option.c`'s `option_print_help`): sections headed
//! `Flags` / `Optional arguments`, one line per option with its names (and `=default`) in a
//! 30-column left field, and raw lines a table prints as they are.
//!
//! Owns the layout only; which options exist, their texts and defaults belong to the tables
//! (IOR's in [`crate::ior::options`]). It must not print: it appends to a `String`.

/// One line of a help section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// An option: the left column (`-b=1048576`, `-c, --collective`) and its text.
    Opt(String, String),
    /// A line printed as it is (IOR's `-O key=value -- ...` lines).
    Raw(String),
}

/// The left column of an option: `-c, --collective`, `-C` or `--dryRun`, then `=shown` for a
/// value option (`shown` is its default, or `STRING`).
pub fn left_column(short: Option<char>, long: Option<&str>, shown: Option<&str>) -> String {
    let mut s = match (short, long) {
        (Some(c), Some(l)) => format!("-{c}, --{l}"),
        (Some(c), None) => format!("-{c}"),
        (None, Some(l)) => format!("--{l}"),
        (None, None) => String::new(),
    };
    if let Some(v) = shown {
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Appends a section: an empty line, `name`, then the lines (options padded to 30 columns).
/// The heading comes with the first option line; a section of no option lines prints only its
/// raw lines, and nothing at all when it has none, as IOR does.
pub fn section(out: &mut String, name: &str, lines: &[Line]) {
    let mut first = true;
    for l in lines {
        match l {
            Line::Raw(s) => out.push_str(s),
            Line::Opt(left, help) => {
                if first {
                    out.push('\n');
                    out.push_str(name);
                    out.push('\n');
                    first = false;
                }
                out.push_str("  ");
                out.push_str(left);
                for _ in left.len()..30 {
                    out.push(' ');
                }
                out.push_str(help);
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_columns() {
        assert_eq!(
            left_column(Some('c'), Some("collective"), None),
            "-c, --collective"
        );
        assert_eq!(left_column(Some('b'), None, Some("1048576")), "-b=1048576");
        assert_eq!(left_column(None, Some("dryRun"), None), "--dryRun");
    }

    #[test]
    fn section_layout() {
        let mut out = String::new();
        section(
            &mut out,
            "Flags",
            &[
                Line::Opt("-w".into(), "writeFile -- write file".into()),
                Line::Raw("  -O x=1 -- raw".into()),
                Line::Opt("-a-very-long-left-column-of-31".into(), "text".into()),
            ],
        );
        assert_eq!(
            out,
            "\nFlags\n  -w                            writeFile -- write file\n  -O x=1 -- raw\n  -a-very-long-left-column-of-31text\n"
        );
        let mut empty = String::new();
        section(&mut empty, "Flags", &[]);
        assert_eq!(empty, "");
    }
}
