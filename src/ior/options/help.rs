//! The `-h` text, in IOR's layout (`option_print_help`, examples/ior_help.txt): IOR's options
//! from the table of [`super::table`] (Flags, then Optional arguments, in the table's order),
//! one section per backend ([`crate::backend::module_help`]), then the options
//! benchfs-bench adds.
//!
//! Owns the order of the sections. It must not hold option texts (the table does) or the
//! line layout ([`crate::optparse::help`]).

use super::table::{Ctx, Deferred, Help, IorOption, BENCHFS_OPTIONS, IOR_OPTIONS};
use crate::ior::params::{GlobalOptions, IorParams};
use crate::optparse::help::{left_column, section, Line};

/// IOR's help text (`ior -h`) for benchfs-bench, ending with a newline.
pub fn help_text() -> String {
    let mut out = String::from("Synopsis benchfs-bench\n");
    push_table(&mut out, IOR_OPTIONS);

    out.push_str(&crate::backend::module_help());

    out.push_str("\n\nOptions of benchfs-bench (beyond IOR)\n");
    push_table(&mut out, BENCHFS_OPTIONS);
    out
}

/// The Flags and Optional arguments sections of `table`, defaults taken from a fresh test.
fn push_table(out: &mut String, table: &[IorOption]) {
    let mut params = IorParams::default();
    let mut global = GlobalOptions::default();
    let mut later = Deferred::default();
    let mut warnings = Vec::new();
    let mut defaults = Ctx {
        params: &mut params,
        global: &mut global,
        later: &mut later,
        warnings: &mut warnings,
    };
    for (name, values) in [("Flags", false), ("Optional arguments", true)] {
        let lines: Vec<Line> = table
            .iter()
            .filter(|o| o.takes_value() == values)
            .filter_map(|o| help_line(o, &mut defaults))
            .collect();
        section(out, name, &lines);
    }
}

/// The help line of one option, if it has one.
fn help_line(o: &IorOption, defaults: &mut Ctx<'_>) -> Option<Line> {
    let text = match &o.help {
        Help::Hidden => return None,
        Help::Line(raw) => return Some(Line::Raw((*raw).to_string())),
        Help::Text(t) => (*t).to_string(),
        Help::Made(f) => f(),
    };
    let shown = o.takes_value().then(|| o.shown(defaults));
    Some(Line::Opt(
        left_column(o.short, o.long, shown.as_deref()),
        text,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOR_HELP: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ior-examples/ior_help.txt"
    );

    #[test]
    fn layout_matches_ior_for_shared_options() {
        let ours = help_text();
        assert!(ours.starts_with(
            "Synopsis benchfs-bench\n\nFlags\n  -c, --collective              Use collective I/O\n"
        ));
        assert!(ours.contains("\n  -b=1048576                    blockSize -- contiguous bytes to write per task  (e.g.: 8, 4k, 2m, 1g)\n"));
        assert!(ours.contains(
            "\n  -a=POSIX                      API for I/O [POSIX|DUMMY|MMAP|BENCHFS]\n"
        ));
        assert!(ours.contains("\n  -l, --dataPacketType=STRING   datapacket type"));
        assert!(ours.contains(
            "\n\nModule POSIX\n\nFlags\n  --posix.odirect               Direct I/O Mode\n"
        ));
        assert!(ours.contains("\n\nModule DUMMY\n\nFlags\n  --dummy.delay-only-rank0      Delay only Rank0\n\nOptional arguments\n  --dummy.delay-create=0        Delay per create in usec\n"));
        assert!(ours.contains("--json=STRING"));
        assert!(ours.contains("--tasks-per-node=0"));
        assert!(ours.contains("--iodepth=1"));
        assert!(ours.ends_with('\n'));

        let ior = std::fs::read_to_string(IOR_HELP).expect("IOR's help text (vendored test data)");
        // Everything of IOR's core part, except the -a line (other backend list), must be
        // identical line for line.
        let ior_core: Vec<&str> = ior
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("Module "))
            .filter(|l| !l.starts_with("  -a="))
            .collect();
        let our_core: Vec<&str> = ours
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("Module "))
            .filter(|l| !l.starts_with("  -a="))
            .collect();
        assert_eq!(our_core, ior_core);
        // And the POSIX, DUMMY and MMAP module sections too.
        let section = |text: &str, name: &str| -> String {
            let start = text.find(&format!("Module {name}\n")).unwrap();
            let rest = &text[start..];
            let end = rest[1..].find("\n\n\n").map_or(rest.len(), |e| e + 1);
            rest[..end].to_string()
        };
        assert_eq!(section(&ours, "POSIX"), section(&ior, "POSIX"));
        assert_eq!(section(&ours, "DUMMY"), section(&ior, "DUMMY"));
        // (IOR's MMAP section ends its help text.)
        assert_eq!(
            section(&ours, "MMAP").trim_end(),
            section(&ior, "MMAP").trim_end()
        );
    }
}
