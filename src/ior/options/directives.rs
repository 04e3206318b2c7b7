//! IOR's directive strings (`-O` values and script lines, `DecodeDirective` / `ParseLine`,
//! SPEC §1.3): `#` starts a comment, `,` separates directives, each piece is `key = value`.
//!
//! Owns the splitting of a string into `(key, value)` pieces, with IOR's errors for short or
//! malformed pieces. It must not know any key: applying a piece is [`super::apply`]'s job.

use super::error::OptionError;

/// The `(key, value)` pieces of a directive string, in order; a bad piece yields its error
/// when reached (the pieces before it are already applied, as in IOR).
pub(crate) fn pieces(s: &str) -> impl Iterator<Item = Result<(&str, &str), OptionError>> {
    let line = match s.find('#') {
        Some(p) => &s[..p],
        None => s,
    };
    line.split(',').map(move |piece| {
        if piece.len() < 3 {
            return Err(OptionError::InvalidSubstring {
                piece: piece.to_string(),
                line: s.to_string(),
            });
        }
        decode(piece).ok_or_else(|| OptionError::Syntax(piece.to_string()))
    })
}

/// `sscanf(piece, " %[^=# \t\r\n] = %[^# \t\r\n] ")`: key and value, both non-empty.
fn decode(piece: &str) -> Option<(&str, &str)> {
    let is_blank =
        |c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\x0b' || c == '\x0c';
    let s = piece.trim_start_matches(is_blank);
    let key_end = s
        .find(|c: char| c == '=' || c == '#' || is_blank(c))
        .unwrap_or(s.len());
    let key = &s[..key_end];
    if key.is_empty() {
        return None;
    }
    let rest = s[key_end..].trim_start_matches(is_blank);
    let rest = rest.strip_prefix('=')?.trim_start_matches(is_blank);
    let value_end = rest
        .find(|c: char| c == '#' || is_blank(c))
        .unwrap_or(rest.len());
    let value = &rest[..value_end];
    if value.is_empty() {
        return None;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::super::apply::{apply_directive, parse_directives, parse_directives_collect};
    use super::*;
    use crate::ior::params::{DataPacketType, GlobalOptions, IorParams, SummaryFormat};

    fn apply(key: &str, value: &str) -> (IorParams, GlobalOptions) {
        let mut p = IorParams::default();
        let mut g = GlobalOptions::default();
        apply_directive(&mut p, &mut g, key, value).unwrap();
        (p, g)
    }

    fn pd(s: &str) -> Result<(IorParams, GlobalOptions), OptionError> {
        let mut p = IorParams::default();
        let mut g = GlobalOptions::default();
        parse_directives(&mut p, &mut g, s).map(|_| (p, g))
    }

    #[test]
    fn decode_like_sscanf() {
        assert_eq!(decode("a=b"), Some(("a", "b")));
        assert_eq!(decode("  key =  value  "), Some(("key", "value")));
        assert_eq!(decode("key=value more"), Some(("key", "value")));
        assert_eq!(decode("k=v=w"), Some(("k", "v=w")));
        assert_eq!(decode("key="), None);
        assert_eq!(decode("=value"), None);
        assert_eq!(decode("key value"), None);
        assert_eq!(decode("a b=c"), None);
    }

    #[test]
    fn every_int_key_maps_to_its_field() {
        type Get = fn(&IorParams) -> i64;
        let table: &[(&str, Get)] = &[
            ("refNum", |p| p.ref_num.into()),
            ("deadlineForStonewalling", |p| {
                p.deadline_for_stonewalling.into()
            }),
            ("stoneWallingWearOut", |p| p.stone_walling_wear_out.into()),
            ("stoneWallingWearOutIterations", |p| {
                p.stone_walling_wear_out_iterations
            }),
            ("maxTimeDuration", |p| p.max_time_duration.into()),
            ("minTimeDuration", |p| p.min_time_duration.into()),
            ("outlierThreshold", |p| p.outlier_threshold.into()),
            ("numNodes", |p| p.num_nodes.into()),
            ("numTasks", |p| p.num_tasks.into()),
            ("numTasksOnNode0", |p| p.num_tasks_on_node0.into()),
            ("repetitions", |p| p.repetitions.into()),
            ("interTestDelay", |p| p.inter_test_delay.into()),
            ("interIODelay", |p| p.inter_io_delay.into()),
            ("readFile", |p| p.read_file.into()),
            ("writeFile", |p| p.write_file.into()),
            ("filePerProc", |p| p.file_per_proc.into()),
            ("taskPerNodeOffset", |p| p.task_per_node_offset.into()),
            ("reorderTasksConstant", |p| p.reorder_tasks.into()),
            ("reorderTasks", |p| p.reorder_tasks.into()),
            ("reorderTasksRandom", |p| p.reorder_tasks_random.into()),
            ("reorderTasksRandomSeed", |p| {
                p.reorder_tasks_random_seed.into()
            }),
            ("checkWrite", |p| p.check_write.into()),
            ("checkRead", |p| p.check_read.into()),
            ("keepFile", |p| p.keep_file.into()),
            ("keepFileWithError", |p| p.keep_file_with_error.into()),
            ("multiFile", |p| p.multi_file.into()),
            ("segmentCount", |p| p.segment_count),
            ("blockSize", |p| p.block_size),
            ("transferSize", |p| p.transfer_size),
            ("singleXferAttempt", |p| p.single_xfer_attempt.into()),
            ("intraTestBarriers", |p| p.intra_test_barriers.into()),
            ("verbose", |p| p.verbose.into()),
            ("setTimeStampSignature", |p| {
                p.set_time_stamp_signature.into()
            }),
            ("collective", |p| p.collective.into()),
            ("uniqueDir", |p| p.unique_dir.into()),
            ("useExistingTestFile", |p| p.use_existing_test_file.into()),
            ("fsyncPerWrite", |p| p.fsync_per_write.into()),
            ("fsync", |p| p.fsync.into()),
            ("randomOffset", |p| p.random_offset.into()),
            ("dualMount", |p| p.dual_mount.into()),
            ("warningAsErrors", |p| p.warning_as_errors.into()),
            ("memoryPerTask", |p| p.memory_per_task),
            ("summaryAlways", |p| p.summary_always.into()),
            ("allocateBufferOnGPU", |p| p.allocate_buffer_on_gpu.into()),
            ("GPUid", |p| p.gpu_id.into()),
            ("GPUDirect", |p| p.gpu_direct.into()),
            ("iodepth", |p| p.iodepth.into()),
        ];
        for (key, get) in table {
            let defaults = IorParams::default();
            assert_ne!(get(&defaults), 37, "{key}");
            let (p, _) = apply(key, "37");
            assert_eq!(get(&p), 37, "{key}");
            // Case-insensitive keys.
            let (p, _) = apply(&key.to_ascii_uppercase(), "37");
            assert_eq!(get(&p), 37, "{key} upper case");
        }
    }

    #[test]
    fn sizes_use_suffixes_ints_use_atoi() {
        let (p, _) = apply("blockSize", "4m");
        assert_eq!(p.block_size, 4 << 20);
        let (p, _) = apply("transferSize", "256k");
        assert_eq!(p.transfer_size, 256 << 10);
        let (p, _) = apply("segmentCount", "1k");
        assert_eq!(p.segment_count, 1024);
        let (p, _) = apply("memoryPerTask", "1g");
        assert_eq!(p.memory_per_task, 1 << 30);
        let (p, _) = apply("repetitions", "1k");
        assert_eq!(p.repetitions, 1);
    }

    #[test]
    fn string_keys() {
        let (p, g) = apply("api", "dummy");
        assert_eq!(p.api, "dummy");
        assert_eq!(g, GlobalOptions::default());
        assert_eq!(apply("testFile", "/x/y").0.test_file_name, "/x/y");
        assert_eq!(apply("debug", "yes").0.debug.as_deref(), Some("yes"));
        assert_eq!(apply("platform", "vm").0.platform.as_deref(), Some("vm"));
        assert_eq!(
            apply("stoneWallingStatusFile", "/tmp/s")
                .0
                .stone_walling_status_file
                .as_deref(),
            Some("/tmp/s")
        );
        assert_eq!(
            apply("saveRankPerformanceDetailsCSV", "r.csv")
                .0
                .save_rank_details_csv
                .as_deref(),
            Some("r.csv")
        );
        assert_eq!(
            apply("savePerOpDataCSV", "perop")
                .0
                .save_per_op_data_csv
                .as_deref(),
            Some("perop")
        );
        assert_eq!(
            apply("summaryFile", "/tmp/o").1.summary_file.as_deref(),
            Some("/tmp/o")
        );
        assert_eq!(
            apply("dataPacketType", "incompressible").0.data_packet_type,
            DataPacketType::Incompressible
        );
    }

    #[test]
    fn memory_per_node_and_task_exclude_each_other() {
        let mut p = IorParams::default();
        let mut g = GlobalOptions::default();
        apply_directive(&mut p, &mut g, "memoryPerTask", "1m").unwrap();
        apply_directive(&mut p, &mut g, "memoryPerNode", "2g").unwrap();
        assert_eq!((p.memory_per_task, p.memory_per_node), (0, 2 << 30));
        assert_eq!(p.memory_per_node_str.as_deref(), Some("2g"));
        apply_directive(&mut p, &mut g, "memoryPerTask", "1m").unwrap();
        assert_eq!((p.memory_per_task, p.memory_per_node), (1 << 20, 0));
        assert!(apply("memoryPerNode", "10%").0.memory_per_node > 0);
    }

    #[test]
    fn summary_format_any_case() {
        assert_eq!(
            apply("summaryFormat", "JSON").1.summary_format,
            SummaryFormat::Json
        );
        assert_eq!(
            apply("summaryformat", "json").1.summary_format,
            SummaryFormat::Json
        );
        assert_eq!(
            apply("summaryFormat", "csv").1.summary_format,
            SummaryFormat::Csv
        );
        assert_eq!(
            apply("summaryFormat", "Default").1.summary_format,
            SummaryFormat::Default
        );
        let e = pd("summaryFormat=xml").unwrap_err();
        assert_eq!(e, OptionError::UnknownSummaryFormat("xml".into()));
        let text = e.to_string();
        assert!(crate::measure::log::is_fail_line(&text), "{text}");
        assert!(
            text.ends_with(
                ": Process 0: FAILED in DecodeDirective, Unknown summaryFormat \"xml\" \
                 (default, JSON or CSV)"
            ),
            "{text}"
        );
    }

    #[test]
    fn backend_option_keys() {
        let (p, _) = apply("--posix.odirect", "1");
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "1");
        let (p, _) = apply("useO_DIRECT", "1");
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "1");
        let (p, _) = apply("useo_direct", "0");
        assert_eq!(p.backend_options.get("posix.odirect").unwrap(), "0");
        let (p, _) = apply("--dummy.delay-xfer", "10");
        assert_eq!(p.backend_options.get("dummy.delay-xfer").unwrap(), "10");
        // Core options too, as in IOR.
        assert_eq!(apply("-b", "2m").0.block_size, 2 << 20);
        assert_eq!(
            apply("--randomPrefill", "4k").0.random_prefill_blocksize,
            4096
        );
        assert_eq!(apply("-l", "o").0.data_packet_type, DataPacketType::Offset);
        let mut p = IorParams::default();
        let mut g = GlobalOptions::default();
        let e = apply_directive(&mut p, &mut g, "--nosuch.opt", "1").unwrap_err();
        assert_eq!(e.to_string(), "Unrecognized parameter \"--nosuch.opt\"");
    }

    #[test]
    fn line_splitting_and_comments() {
        let (p, g) = pd("blockSize=16m, transferSize=1m   # a comment, with=commas").unwrap();
        assert_eq!((p.block_size, p.transfer_size), (16 << 20, 1 << 20));
        assert_eq!(g, GlobalOptions::default());
        let (p, _) = pd("transferSize = 256k").unwrap();
        assert_eq!(p.transfer_size, 256 << 10);
        let (p, _) = pd("  checkRead=1,checkWrite=1").unwrap();
        assert_eq!((p.check_read, p.check_write), (1, 1));
    }

    #[test]
    fn short_piece_error() {
        assert_eq!(
            pd("a=").unwrap_err().to_string(),
            "Invalid option substring string: \"a=\" in \"a=\""
        );
        assert_eq!(
            pd("blockSize=1m,").unwrap_err().to_string(),
            "Invalid option substring string: \"\" in \"blockSize=1m,\""
        );
        // The whole string (with its comment) is quoted, as IOR does.
        assert_eq!(
            pd("a,b=1 # x").unwrap_err().to_string(),
            "Invalid option substring string: \"a\" in \"a,b=1 # x\""
        );
        assert!(matches!(
            pd("").unwrap_err(),
            OptionError::InvalidSubstring { .. }
        ));
    }

    #[test]
    fn syntax_error() {
        assert_eq!(
            pd("blockSize").unwrap_err().to_string(),
            "Syntax error in configuration options: blockSize"
        );
        assert_eq!(
            pd("blockSize=").unwrap_err().to_string(),
            "Syntax error in configuration options: blockSize="
        );
    }

    #[test]
    fn unknown_and_removed_keys() {
        assert_eq!(
            pd("nosuch=1").unwrap_err().to_string(),
            "Unrecognized parameter \"nosuch\""
        );
        for key in [
            "quitOnError",
            "hintsFileName",
            "showHints",
            "preallocate",
            "useFileView",
            "useSharedFilePointer",
            "useStridedDatatype",
            "individualDataSets",
            "noFill",
            "setAlignment",
            "storeFileOffset",
            "showHelp",
        ] {
            let e = pd(&format!("{key}=1")).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "Unrecognized parameter \"{key}\" (removed in IOR 4"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn packet_type_directive_error() {
        assert!(pd("dataPacketType=zz")
            .unwrap_err()
            .to_string()
            .starts_with("ERROR: Unknown packet type"));
    }

    #[test]
    fn directive_overflow_warning_collected() {
        let mut p = IorParams::default();
        let mut g = GlobalOptions::default();
        let mut w = Vec::new();
        parse_directives_collect(&mut p, &mut g, "-i=8g", &mut w).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("8g"));
    }
}
