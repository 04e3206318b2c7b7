//! The parameters of one IOR test (`IOR_param_t` in IOR), with IOR's defaults.
//!
//! Owns the field list and defaults only. Parsing (command line, `-O`, scripts) lives in
//! [`crate::ior::options`], validation in [`crate::ior::validate`]; nothing here does I/O.
//! Field names follow IOR's directive names so that a reader can map one to the other.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Data pattern written into every transfer buffer (`-l`, SPEC §2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DataPacketType {
    /// `t`: `(rank << 32) | (sig + i)` in every word (IOR's default).
    #[default]
    Timestamp,
    /// `o`: timestamp pattern plus the file offset stamped into the first word of every 4 KiB.
    Offset,
    /// `i`: pseudo-random words seeded by the signature and rank (really incompressible here).
    Incompressible,
    /// `r`: per-transfer pseudo-random words seeded by `-G`, rank and offset.
    Random,
}

impl DataPacketType {
    /// IOR's enum value (0=timestamp, 1=offset, 2=incompressible, 3=random).
    pub fn as_int(self) -> i64 {
        match self {
            DataPacketType::Timestamp => 0,
            DataPacketType::Offset => 1,
            DataPacketType::Incompressible => 2,
            DataPacketType::Random => 3,
        }
    }

    /// Parse IOR's `-l` value: only the first character counts.
    pub fn parse(s: &str) -> Option<Self> {
        match s.chars().next()? {
            't' => Some(DataPacketType::Timestamp),
            'o' => Some(DataPacketType::Offset),
            'i' => Some(DataPacketType::Incompressible),
            'r' => Some(DataPacketType::Random),
            _ => None,
        }
    }
}

/// Output format of the summary (`-O summaryFormat=`); global, not per test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SummaryFormat {
    /// IOR's human readable text.
    #[default]
    Default,
    /// IOR's JSON document.
    Json,
    /// IOR's CSV rows.
    Csv,
}

/// Options that apply to the whole run rather than to one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GlobalOptions {
    /// `-O summaryFormat=`.
    pub summary_format: SummaryFormat,
    /// `-O summaryFile=`: result stream goes to this file instead of stdout.
    pub summary_file: Option<String>,
    /// `--json FILE`: write the full benchfs result document here.
    pub json_file: Option<String>,
    /// `--results-dir DIR`: write the result document into DIR, one new file per run.
    pub results_dir: Option<String>,
    /// `-f FILE`: IOR script.
    pub script: Option<String>,
    /// `--tasks-per-node N`: emulate nodes of N tasks each (local tasks); 0 = all on one node.
    pub tasks_per_node: usize,
    /// `--cpus LIST`: task i bound to CPU i mod n of the list (None: not bound).
    pub cpus: Option<crate::cpus::CpuList>,
    /// `--progress` forcing/disabling the terminal progress display (None = auto: only on a TTY).
    pub progress: Option<bool>,
    /// The command line as IOR prints it (argv joined by single spaces).
    pub command_line: String,
}

/// Every per-test parameter of IOR (`IOR_param_t`), with IOR's defaults (`init_IOR_Param_t`).
///
/// Integers keep IOR's types: `int` options are `i32`, sizes are `i64`. Flags are counters
/// (`-z -z` = 2) exactly as IOR's option parser produces them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IorParams {
    /// Test number inside a script (0, 1, 2, ...).
    pub test_id: i32,
    /// `-a`: backend name, upper case (`POSIX`, `DUMMY`, `BENCHFS`).
    pub api: String,
    /// `-A`: user reference number.
    pub ref_num: i32,
    /// `-b`: contiguous bytes per task per segment.
    pub block_size: i64,
    /// `-c`: collective I/O (accepted; no effect on POSIX/DUMMY).
    pub collective: i32,
    /// `-C`: constant task reordering for reads.
    pub reorder_tasks: i32,
    /// `-d`: seconds rank 0 sleeps before each phase.
    pub inter_test_delay: i32,
    /// `-D`: stonewalling deadline in seconds.
    pub deadline_for_stonewalling: i32,
    /// `-e`: fsync after the write phase.
    pub fsync: i32,
    /// `-E`: do not remove the test file before writing.
    pub use_existing_test_file: i32,
    /// `-F`: file per process.
    pub file_per_proc: i32,
    /// `-g`: barriers between open, transfer and close.
    pub intra_test_barriers: i32,
    /// `-G`: fixed data signature (0 = time based).
    pub set_time_stamp_signature: i32,
    /// `-i`: repetitions.
    pub repetitions: i32,
    /// `-j`: outlier threshold in seconds.
    pub outlier_threshold: i32,
    /// `-k`: keep files.
    pub keep_file: i32,
    /// `-K`: keep files when a data check failed.
    pub keep_file_with_error: i32,
    /// `-l`: data pattern.
    pub data_packet_type: DataPacketType,
    /// `-m`: new file per repetition.
    pub multi_file: i32,
    /// `-M` / `memoryPerNode`: memory to hog per node (`2g` or `75%`).
    pub memory_per_node_str: Option<String>,
    /// Bytes of memory to hog per node (derived from `memoryPerNode`).
    pub memory_per_node: i64,
    /// `memoryPerTask`: bytes of memory to hog per task.
    pub memory_per_task: i64,
    /// `-N`: number of tasks taking part (-1 = all).
    pub num_tasks: i32,
    /// `-o`: test file name (`a@b` for several).
    pub test_file_name: String,
    /// `-Q`: node shift for `-C`, minimum for `-Z`.
    pub task_per_node_offset: i32,
    /// `-r`: read phase.
    pub read_file: i32,
    /// `-R`: verify data during the read phase.
    pub check_read: i32,
    /// `-s`: number of segments.
    pub segment_count: i64,
    /// `-t`: bytes per transfer.
    pub transfer_size: i64,
    /// `-T`: maximum test duration in minutes.
    pub max_time_duration: i32,
    /// `-u`: unique directory per task.
    pub unique_dir: i32,
    /// `-v`: verbosity.
    pub verbose: i32,
    /// `-w`: write phase.
    pub write_file: i32,
    /// `-W`: read back and verify after the write phase.
    pub check_write: i32,
    /// `-x`: no retry of short transfers.
    pub single_xfer_attempt: i32,
    /// `-X`: seed of `-Z`.
    pub reorder_tasks_random_seed: i32,
    /// `-y`: dual mount.
    pub dual_mount: i32,
    /// `-Y`: fsync after every write.
    pub fsync_per_write: i32,
    /// `-z`: 1 = shuffled offsets, 2 = random blocks.
    pub random_offset: i32,
    /// `-Z`: 1 = random task offset, 2 = random permutation.
    pub reorder_tasks_random: i32,
    /// `--randomPrefill`: prefill blocks with writes of this size before random writes.
    pub random_prefill_blocksize: i64,
    /// `--random-offset-seed`: seed of `-z` (-1 = time based).
    pub random_offset_seed: i64,
    /// `--warningAsErrors`.
    pub warning_as_errors: i32,
    /// `--dryRun`: no I/O.
    pub dry_run: i32,
    /// `--gpuDirect` (accepted, unsupported).
    pub gpu_direct: i32,
    /// `stoneWallingWearOut`.
    pub stone_walling_wear_out: i32,
    /// `stoneWallingWearOutIterations`: stop each rank after this many transfers.
    pub stone_walling_wear_out_iterations: i64,
    /// `stoneWallingStatusFile`.
    pub stone_walling_status_file: Option<String>,
    /// `minTimeDuration`: repeat the access pattern until this many seconds have passed.
    pub min_time_duration: i32,
    /// `saveRankPerformanceDetailsCSV`.
    pub save_rank_details_csv: Option<String>,
    /// `savePerOpDataCSV`: prefix of per-rank per-operation CSV files.
    pub save_per_op_data_csv: Option<String>,
    /// `interIODelay`: microseconds to sleep after every transfer.
    pub inter_io_delay: i32,
    /// `numNodes`: override of the detected node count (-1 = detect).
    pub num_nodes: i32,
    /// `numTasksOnNode0`: override of the detected tasks on node 0 (-1 = detect).
    pub num_tasks_on_node0: i32,
    /// `summaryAlways`: long summary after each test.
    pub summary_always: i32,
    /// `platform` (cosmetic).
    pub platform: Option<String>,
    /// `debug` (cosmetic).
    pub debug: Option<String>,
    /// `allocateBufferOnGPU` (accepted, unsupported).
    pub allocate_buffer_on_gpu: i32,
    /// `GPUid` (accepted, unsupported).
    pub gpu_id: i32,
    /// Beyond IOR: transfers kept in flight per task on async backends (default 1 = IOR).
    pub iodepth: i32,
    /// Beyond IOR (`--interval`): seconds per interval of every phase's time series.
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Beyond IOR (`-O savePerIntervalCSV=FILE`): every phase's time series as CSV rows.
    #[serde(default)]
    pub save_per_interval_csv: Option<String>,
    /// Backend options `--<module>.<name>` as given (flags hold their counter as a string).
    pub backend_options: BTreeMap<String, String>,
}

/// The default `--interval`: [`crate::measure::series::DEFAULT_INTERVAL`], seconds.
fn default_interval() -> f64 {
    crate::measure::series::DEFAULT_INTERVAL.as_secs_f64()
}

impl Default for IorParams {
    fn default() -> Self {
        IorParams {
            test_id: 0,
            api: "POSIX".to_string(),
            ref_num: 0,
            block_size: 1 << 20,
            collective: 0,
            reorder_tasks: 0,
            inter_test_delay: 0,
            deadline_for_stonewalling: 0,
            fsync: 0,
            use_existing_test_file: 0,
            file_per_proc: 0,
            intra_test_barriers: 0,
            set_time_stamp_signature: 0,
            repetitions: 1,
            outlier_threshold: 0,
            keep_file: 0,
            keep_file_with_error: 0,
            data_packet_type: DataPacketType::Timestamp,
            multi_file: 0,
            memory_per_node_str: None,
            memory_per_node: 0,
            memory_per_task: 0,
            num_tasks: -1,
            test_file_name: "testFile".to_string(),
            task_per_node_offset: 1,
            read_file: 0,
            check_read: 0,
            segment_count: 1,
            transfer_size: 262_144,
            max_time_duration: 0,
            unique_dir: 0,
            verbose: 0,
            write_file: 0,
            check_write: 0,
            single_xfer_attempt: 0,
            reorder_tasks_random_seed: 0,
            dual_mount: 0,
            fsync_per_write: 0,
            random_offset: 0,
            reorder_tasks_random: 0,
            random_prefill_blocksize: 0,
            random_offset_seed: -1,
            warning_as_errors: 0,
            dry_run: 0,
            gpu_direct: 0,
            stone_walling_wear_out: 0,
            stone_walling_wear_out_iterations: 0,
            stone_walling_status_file: None,
            min_time_duration: 0,
            save_rank_details_csv: None,
            save_per_op_data_csv: None,
            inter_io_delay: 0,
            num_nodes: -1,
            num_tasks_on_node0: -1,
            summary_always: 0,
            platform: None,
            debug: None,
            allocate_buffer_on_gpu: 0,
            gpu_id: -1,
            iodepth: 1,
            interval: default_interval(),
            save_per_interval_csv: None,
            backend_options: BTreeMap::new(),
        }
    }
}

impl IorParams {
    /// Whether the test has a read phase (`-r` or `-R`).
    pub fn has_read_phase(&self) -> bool {
        self.read_file != 0 || self.check_read != 0
    }

    /// Whether the test has a write phase (`-w`).
    pub fn has_write_phase(&self) -> bool {
        self.write_file != 0
    }
}

/// How the tasks of a test are laid out (IOR's derived values, SPEC §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLayout {
    /// Tasks taking part in the test (`numTasks`).
    pub num_tasks: usize,
    /// Number of nodes (shared-memory domains, real or emulated).
    pub num_nodes: usize,
    /// Tasks on rank 0's node ("clients per node").
    pub tasks_on_node0: usize,
    /// Whether rank 1 is on the same node as rank 0 (`tasksBlockMapping`).
    pub block_mapping: bool,
}

impl TaskLayout {
    /// The layout of the ranks of `comm`, as IOR derives it (SPEC §2.2).
    pub fn of(comm: &dyn crate::comm::Comm) -> TaskLayout {
        let nodes = comm.node_of_ranks();
        let mut distinct: Vec<usize> = nodes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let node0 = nodes.first().copied().unwrap_or(0);
        TaskLayout {
            num_tasks: comm.size(),
            num_nodes: distinct.len().max(1),
            tasks_on_node0: nodes.iter().filter(|&&n| n == node0).count().max(1),
            block_mapping: nodes.len() > 1 && nodes[1] == node0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulated_layout() {
        let comms = crate::comm::local::LocalComm::group(4, 1);
        let l = TaskLayout::of(&comms[0]);
        assert_eq!(
            (l.num_tasks, l.num_nodes, l.tasks_on_node0, l.block_mapping),
            (4, 4, 1, false)
        );
        let comms = crate::comm::local::LocalComm::group(4, 0);
        let l = TaskLayout::of(&comms[0]);
        assert_eq!(
            (l.num_tasks, l.num_nodes, l.tasks_on_node0, l.block_mapping),
            (4, 1, 4, true)
        );
    }
}
