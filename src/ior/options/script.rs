//! IOR's script format (`-f FILE`, `ReadConfigScript`, SPEC §5).
//!
//! Owns the line rules: skip to `IOR START`, stop at `IOR STOP`, `RUN` closes a test, the
//! next directive starts a copy of the previous test. Directive lines are handed to
//! [`super::apply`]. Reading the file is the caller's job ([`super::parse_args`]); it must
//! not know any directive key.

use super::apply::parse_directives_collect;
use super::error::OptionError;
use crate::ior::params::{GlobalOptions, IorParams};

/// Longest script line IOR's 1024-byte `fgets` buffer holds (without the newline).
pub const MAX_LINE: usize = 1023;

/// Parses a script. `base` (the command-line parameters) is test 0's starting point;
/// every later test starts as a copy of the previous one. `summaryFormat`/`summaryFile`
/// go to `global`. Tests get `test_id` 0, 1, 2, ...
pub fn parse_script(
    text: &str,
    base: &IorParams,
    global: &mut GlobalOptions,
) -> Result<Vec<IorParams>, OptionError> {
    let mut warnings = Vec::new();
    parse_script_collect(text, base, global, &mut warnings)
}

/// [`parse_script`], collecting parse warnings.
pub(crate) fn parse_script_collect(
    text: &str,
    base: &IorParams,
    global: &mut GlobalOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<IorParams>, OptionError> {
    let mut first = base.clone();
    first.test_id = 0;
    let mut tests = vec![first];
    let mut started = false;
    let mut run_pending = false;
    for (n, raw) in text.lines().enumerate() {
        if !started {
            started = contains_only(raw, "ior start");
            continue;
        }
        if raw.len() > MAX_LINE {
            return Err(OptionError::ScriptLineTooLong {
                line: n + 1,
                len: raw.len(),
            });
        }
        let line = raw.trim_start();
        if line.trim_end().is_empty() || line.starts_with('#') {
            continue;
        }
        if contains_only(line, "ior stop") {
            break;
        }
        if contains_only(line, "run") {
            if run_pending {
                // Two RUNs in a row run the same test twice.
                push_copy(&mut tests);
            }
            run_pending = true;
            continue;
        }
        if run_pending {
            run_pending = false;
            push_copy(&mut tests);
        }
        let Some(current) = tests.last_mut() else {
            continue;
        };
        parse_directives_collect(current, global, line, warnings)?;
    }
    Ok(tests)
}

fn push_copy(tests: &mut Vec<IorParams>) {
    if let Some(last) = tests.last() {
        let mut next = last.clone();
        next.test_id = i32::try_from(tests.len()).unwrap_or(i32::MAX);
        tests.push(next);
    }
}

/// IOR's `contains_only`: `needle` (case-insensitive) with only white space around it.
fn contains_only(haystack: &str, needle: &str) -> bool {
    let t = haystack.trim();
    t.len() == needle.len() && t.eq_ignore_ascii_case(needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ior::params::SummaryFormat;

    fn run(text: &str) -> Vec<IorParams> {
        let mut g = GlobalOptions::default();
        parse_script(text, &IorParams::default(), &mut g).unwrap()
    }

    fn run_err(text: &str) -> String {
        let mut g = GlobalOptions::default();
        parse_script(text, &IorParams::default(), &mut g)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn spec_example() {
        let text = "\
# anything before the start marker is ignored
IOR START
    api=POSIX
    testFile=/dev/shm/iortest/scripted
    repetitions=2
    blockSize=16m, transferSize=1m      # ',' separates directives, '#' starts a comment
    --posix.odirect=0                   # backend options use the --module.option=value form
RUN
    filePerProc=0                       # modifies a COPY of the previous test's parameters
    transferSize = 256k                 # spaces around '=' allowed
RUN
    api=DUMMY
    --dummy.delay-xfer=10
RUN
IOR STOP
";
        let t = run(text);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].test_file_name, "/dev/shm/iortest/scripted");
        assert_eq!(t[0].repetitions, 2);
        assert_eq!(t[0].block_size, 16 << 20);
        assert_eq!(t[0].transfer_size, 1 << 20);
        assert_eq!(t[0].backend_options.get("posix.odirect").unwrap(), "0");
        assert_eq!(t[1].transfer_size, 256 << 10);
        assert_eq!(t[1].block_size, 16 << 20);
        assert_eq!(t[1].test_file_name, "/dev/shm/iortest/scripted");
        assert_eq!(t[2].api, "DUMMY");
        assert_eq!(t[2].transfer_size, 256 << 10);
        assert_eq!(t[2].backend_options.get("dummy.delay-xfer").unwrap(), "10");
        assert_eq!(t[2].backend_options.get("posix.odirect").unwrap(), "0");
        assert!(!t[1].backend_options.contains_key("dummy.delay-xfer"));
        assert_eq!(t.iter().map(|x| x.test_id).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn base_is_test_zero_default() {
        let base = IorParams {
            ref_num: 78,
            block_size: 8 << 20,
            ..IorParams::default()
        };
        let mut g = GlobalOptions::default();
        let t = parse_script("IOR START\ntransferSize=1m\nIOR STOP\n", &base, &mut g).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].ref_num, 78);
        assert_eq!(t[0].block_size, 8 << 20);
        assert_eq!(t[0].transfer_size, 1 << 20);
    }

    #[test]
    fn no_run_is_one_test_and_tests_after_last_run() {
        assert_eq!(run("IOR START\nblockSize=2m\nIOR STOP\n").len(), 1);
        let t = run("IOR START\nblockSize=2m\nRUN\nblockSize=4m\nIOR STOP\n");
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].block_size, t[1].block_size), (2 << 20, 4 << 20));
        // Without IOR STOP: until end of file.
        let t = run("IOR START\nblockSize=2m\nRUN\nblockSize=4m\n");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn two_runs_duplicate_the_test() {
        let t = run("IOR START\nblockSize=2m\nRUN\nRUN\nblockSize=4m\nRUN\nIOR STOP\n");
        assert_eq!(t.len(), 3);
        assert_eq!(
            t.iter().map(|x| x.block_size).collect::<Vec<_>>(),
            [2 << 20, 2 << 20, 4 << 20]
        );
        assert_eq!(t.iter().map(|x| x.test_id).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn copies_are_never_reset() {
        let t = run("IOR START\nfilePerProc=1\nRUN\nblockSize=2m\nRUN\nIOR STOP\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].file_per_proc, 1);
        assert_eq!(t[0].block_size, IorParams::default().block_size);
    }

    #[test]
    fn before_start_and_after_stop_ignored() {
        let t = run("blockSize=1m\nnonsense here\nIOR START\nsegmentCount=3\nIOR STOP\nblockSize=9m\nRUN\nx=1\n");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].segment_count, 3);
        assert_eq!(t[0].block_size, IorParams::default().block_size);
        // No start marker: nothing is read.
        let t = run("blockSize=2m\nRUN\nblockSize=4m\n");
        assert_eq!(t, vec![IorParams::default()]);
    }

    #[test]
    fn markers_case_insensitive_with_blanks() {
        let t = run("  ior start  \n  BlockSize=2m\n\trun\t\nTransferSize=64k\n  Ior Stop\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].transfer_size, 64 << 10);
    }

    #[test]
    fn comments_and_blank_lines() {
        let t = run("IOR START\n\n   \n# comment\n   # indented comment\n#\nblockSize=2m # trailing\nIOR STOP\n");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].block_size, 2 << 20);
    }

    #[test]
    fn crlf_lines() {
        let t = run("IOR START\r\nblockSize=2m\r\nRUN\r\nIOR STOP\r\n");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].block_size, 2 << 20);
    }

    #[test]
    fn global_keys_go_to_global() {
        let mut g = GlobalOptions::default();
        let t = parse_script(
            "IOR START\nsummaryFormat=CSV\nsummaryFile=/tmp/x\nIOR STOP\n",
            &IorParams::default(),
            &mut g,
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(g.summary_format, SummaryFormat::Csv);
        assert_eq!(g.summary_file.as_deref(), Some("/tmp/x"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            run_err("IOR START\nquitOnError=1\nIOR STOP\n"),
            "Unrecognized parameter \"quitOnError\" (removed in IOR 4: data checks only count errors)"
        );
        assert_eq!(
            run_err("IOR START\nblockSize=1m,a\nIOR STOP\n"),
            "Invalid option substring string: \"a\" in \"blockSize=1m,a\""
        );
        let long = format!("IOR START\nblockSize=1m,{}\n", "x".repeat(1100));
        assert!(run_err(&long).starts_with("ERROR: line 2 of the script is 1113 characters"));
        // Exactly 1023 characters is fine (it is a directive error, not a length error).
        let ok = format!("IOR START\ntestFile={}\n", "y".repeat(1023 - 9));
        assert_eq!(run(&ok)[0].test_file_name.len(), 1023 - 9);
    }
}
