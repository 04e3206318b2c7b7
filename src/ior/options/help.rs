//! The `-h` text, in IOR's layout (`option_print_help`, examples/ior_help.txt) with our
//! option set: core Flags and Optional arguments, one section per backend built from
//! [`crate::backend::module_options`], then the options benchfs-bench adds.

use crate::backend::{module_options, OptionKind, BACKEND_NAMES};
use crate::ior::params::IorParams;

/// One help line: an option (left column such as `-b=1048576`, then its text) or a raw line.
enum Line {
    Opt(String, String),
    Raw(&'static str),
}

fn push_section(out: &mut String, name: &str, lines: &[Line]) {
    if lines.is_empty() {
        return;
    }
    out.push('\n');
    out.push_str(name);
    out.push('\n');
    for l in lines {
        match l {
            Line::Opt(left, help) => {
                out.push_str("  ");
                out.push_str(left);
                for _ in left.len()..30 {
                    out.push(' ');
                }
                out.push_str(help);
            }
            Line::Raw(s) => out.push_str(s),
        }
        out.push('\n');
    }
}

fn o(left: impl Into<String>, help: impl Into<String>) -> Line {
    Line::Opt(left.into(), help.into())
}

/// IOR's help text (`ior -h`) for benchfs-bench, ending with a newline.
pub fn help_text() -> String {
    let d = IorParams::default();
    let mut out = String::from("Synopsis benchfs-bench\n");

    let flags = [
        o("-c, --collective", "Use collective I/O"),
        o("-C", "reorderTasks -- changes task ordering for readback (useful to avoid client cache)"),
        o("-e", "fsync -- perform a fsync() operation at the end of each read/write phase"),
        o("-E", "useExistingTestFile -- do not remove test file before write access"),
        o("-F", "filePerProc -- file-per-process"),
        o("-g", "intraTestBarriers -- use barriers between open, write/read, and close"),
        o("-k", "keepFile -- don't remove the test file(s) on program exit"),
        o("-K", "keepFileWithError  -- keep error-filled file(s) after data-checking"),
        o("-m", "multiFile -- use number of reps (-i) for multiple file count"),
        o("-r", "readFile -- read existing file"),
        o("-R", "checkRead -- verify that the output of read matches the expected signature (used with -G)"),
        o("-u", "uniqueDir -- use unique directory name for each file-per-process"),
        o("-v", "verbose -- output information (repeating flag increases level)"),
        o("-w", "writeFile -- write file"),
        o("-W", "checkWrite -- check read after write"),
        o("-x", "singleXferAttempt -- do not retry transfer if incomplete"),
        o("-y", "dualMount -- use dual mount points for a filesystem"),
        o("-Y", "fsyncPerWrite -- perform sync operation after every write operation"),
        o("-z", "randomOffset -- access is to shuffled, not sequential, offsets within a file, specify twice for random (potentially overlapping)"),
        o("-Z", "reorderTasksRandom -- changes task ordering to random select regions for readback, use twice for shuffling"),
        o("--warningAsErrors", "Any warning should lead to an error."),
        o("--dryRun", "do not perform any I/Os just run evtl. inputs print dummy output"),
    ];
    push_section(&mut out, "Flags", &flags);

    let apis = BACKEND_NAMES.join("|");
    let api_help = format!("API for I/O [{apis}]");
    let optional = [
        o(format!("-a={}", d.api), api_help),
        o(format!("-A={}", d.ref_num), "refNum -- user supplied reference number to include in the summary"),
        o(format!("-b={}", d.block_size), "blockSize -- contiguous bytes to write per task  (e.g.: 8, 4k, 2m, 1g)"),
        o(format!("-d={}", d.inter_test_delay), "interTestDelay -- delay between reps in seconds"),
        o(format!("-D={}", d.deadline_for_stonewalling), "deadlineForStonewalling -- seconds before stopping write or read phase"),
        Line::Raw("  -O stoneWallingWearOut=1           -- once the stonewalling timeout is over, all process finish to access the amount of data"),
        Line::Raw("  -O stoneWallingWearOutIterations=N -- stop after processing this number of iterations, needed for reading data back written with stoneWallingWearOut"),
        Line::Raw("  -O stoneWallingStatusFile=FILE     -- this file keeps the number of iterations from stonewalling during write and allows to use them for read"),
        Line::Raw("  -O minTimeDuration=0           -- minimum Runtime for the run (will repeat from beginning of the file if time is not yet over)"),
        o("-f=STRING", "scriptFile -- test script name"),
        o(format!("-G={}", d.set_time_stamp_signature), "setTimeStampSignature -- set value for time stamp signature/random seed"),
        o(format!("-i={}", d.repetitions), "repetitions -- number of repetitions of test"),
        o(format!("-j={}", d.outlier_threshold), "outlierThreshold -- warn on outlier N seconds from mean"),
        o("-l, --dataPacketType=STRING", "datapacket type-- type of packet that will be created [offset|incompressible|timestamp|random|o|i|t|r]"),
        o("-M=STRING", "memoryPerNode -- hog memory on the node  (e.g.: 2g, 75%)"),
        o(format!("-N={}", d.num_tasks), "numTasks -- number of tasks that are participating in the test (overrides MPI)"),
        o(format!("-o={}", d.test_file_name), "testFile -- full name for test"),
        o("-O=STRING", "string of IOR directives (e.g. -O checkRead=1,GPUid=2)"),
        o(format!("-Q={}", d.task_per_node_offset), "taskPerNodeOffset for read tests use with -C & -Z options (-C constant N, -Z at least N)"),
        o(format!("-s={}", d.segment_count), "segmentCount -- number of segments"),
        o(format!("-t={}", d.transfer_size), "transferSize -- size of transfer in bytes (e.g.: 8, 4k, 2m, 1g)"),
        o(format!("-T={}", d.max_time_duration), "maxTimeDuration -- max time in minutes executing repeated test; it aborts only between iterations and not within a test!"),
        o(format!("-X={}", d.reorder_tasks_random_seed), "reorderTasksRandomSeed -- random seed for -Z option"),
        o(format!("--randomPrefill={}", d.random_prefill_blocksize), "For random -z access only: Prefill the file with this blocksize, e.g., 2m"),
        o(format!("--random-offset-seed={}", d.random_offset_seed), "The seed for -z"),
        Line::Raw("  -O summaryFile=FILE                 -- store result data into this file"),
        Line::Raw("  -O summaryFormat=[default,JSON,CSV] -- use the format for outputting the summary"),
        Line::Raw("  -O saveRankPerformanceDetailsCSV=<FILE> -- store the performance of each rank into the named CSV file."),
        Line::Raw("  -O savePerOpDataCSV=<FILE> -- store the performance of each rank into an individual file prefixed with this option."),
    ];
    push_section(&mut out, "Optional arguments", &optional);

    let opts = module_options();
    let mut modules: Vec<&'static str> = Vec::new();
    for m in &opts {
        if !modules.contains(&m.module) {
            modules.push(m.module);
        }
    }
    for module in modules {
        let title = BACKEND_NAMES
            .iter()
            .find(|n| n.eq_ignore_ascii_case(module))
            .map_or_else(|| module.to_ascii_uppercase(), |n| (*n).to_string());
        out.push_str("\n\nModule ");
        out.push_str(&title);
        out.push('\n');
        let mine = opts.iter().filter(|m| m.module == module);
        let flags: Vec<Line> = mine
            .clone()
            .filter(|m| m.kind == OptionKind::Flag)
            .map(|m| o(format!("--{}", m.key()), m.help))
            .collect();
        let values: Vec<Line> = mine
            .filter(|m| m.kind != OptionKind::Flag)
            .map(|m| {
                let default = match (m.default, m.kind) {
                    ("", OptionKind::Int) => "0",
                    ("", _) => "STRING",
                    (d, _) => d,
                };
                o(format!("--{}={default}", m.key()), m.help)
            })
            .collect();
        push_section(&mut out, "Flags", &flags);
        push_section(&mut out, "Optional arguments", &values);
    }

    out.push_str("\n\nOptions of benchfs-bench (beyond IOR)\n");
    push_section(
        &mut out,
        "Flags",
        &[
            o(
                "--progress",
                "show a progress display even when stdout is not a terminal",
            ),
            o("--no-progress", "never show the progress display"),
            o("-h, --help", "print this help and exit"),
        ],
    );
    push_section(
        &mut out,
        "Optional arguments",
        &[
            o(
                "--json=STRING",
                "write the full benchfs result document (JSON) to this file",
            ),
            o(
                "--results-dir=STRING",
                "write the result document into this directory, one new file per run",
            ),
            o(
                format!("--tasks-per-node={}", 0),
                "emulate nodes of N tasks each (0 = all tasks on one node)",
            ),
            o(
                format!("--iodepth={}", d.iodepth),
                "transfers in flight per task on async backends (also -O iodepth=N)",
            ),
        ],
    );
    out
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
        assert!(
            ours.contains("\n  -a=POSIX                      API for I/O [POSIX|DUMMY|BENCHFS]\n")
        );
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
        // And the POSIX and DUMMY module sections too.
        let section = |text: &str, name: &str| -> String {
            let start = text.find(&format!("Module {name}\n")).unwrap();
            let rest = &text[start..];
            let end = rest[1..].find("\n\n\n").map_or(rest.len(), |e| e + 1);
            rest[..end].to_string()
        };
        assert_eq!(section(&ours, "POSIX"), section(&ior, "POSIX"));
        assert_eq!(section(&ours, "DUMMY"), section(&ior, "DUMMY"));
    }
}
