//! md-workbench's text, byte for byte where the figures allow: the `Args:` line, the
//! `MD-Workbench total objects: ...` header, the one-line summary of each phase
//! (`print_p_stat`: global with the ranks' min/mean/balance/stddev, or per rank with
//! `--process-reports`), the machine-parsable lines of `--print-detailed-stats`, the stonewall
//! and position lines and the `Total runtime` footer.
//!
//! Formats values it is given; it must not compute rates or statistics beyond what a line
//! shows, nor write anywhere.

use crate::mdworkbench::results::{rate, Counts, PhaseKind};
use crate::mdworkbench::stats::{Spread, TimeStats};
use crate::units::sci;

/// The version md-workbench reports (the hpc/ior release whose rules the engine follows).
pub const VERSION: &str = "4.1.0+dev";

/// C's `%.Nf`, with glibc's spelling of not-a-number (`-nan`, the sign of x86's 0/0) and
/// infinities.
pub fn fixed(v: f64, precision: usize) -> String {
    if v.is_nan() {
        if v.is_sign_positive() {
            "nan".into()
        } else {
            "-nan".into()
        }
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v:.precision$}")
    }
}

/// `Args: PROGRAM "arg" "arg" ...`.
pub fn args_line(program: &str, args: &[String]) -> String {
    let mut s = format!("Args: {program}");
    for a in args {
        s.push_str(&format!(" \"{a}\""));
    }
    s.push('\n');
    s
}

/// The local time as md-workbench prints it (`%Y-%m-%d %H:%M:%S`).
pub fn now() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `MD-Workbench total objects: N workingset size: X MiB (version: V) time: T`.
pub fn header(total_objects: u64, workingset_mib: f64) -> String {
    format!(
        "MD-Workbench total objects: {total_objects} workingset size: {workingset_mib:.3} MiB (version: {VERSION}) time: {}\n",
        now()
    )
}

/// The column titles of `--print-detailed-stats` (md-workbench prints them on stdout).
pub const DETAILED_HEADER: &str =
    "phase\t\td name\tcreate\tdelete\tob nam\tcreate\tread\tstat\tdelete\tt_inc_b\tt_no_bar\tthp\tmax_t\n";

/// What a phase line shows.
pub struct PhaseLine<'a> {
    /// The phase.
    pub kind: PhaseKind,
    /// The counts (summed, or one rank's).
    pub counts: &'a Counts,
    /// The time the rates use (the slowest rank's, or the rank's own).
    pub t: f64,
    /// The phase time the detailed line shows first (`p->t`).
    pub own_t: f64,
    /// The slowest single operation.
    pub max_op_time: f64,
    /// Latency quantiles: create, read, stat, delete.
    pub stats: [&'a TimeStats; 4],
    /// The ranks' spread (the global line only).
    pub spread: Option<Spread>,
    /// Bytes per object.
    pub object_size: i64,
    /// `-q`.
    pub quiet: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--print-detailed-stats`.
    pub detailed: bool,
    /// The waiting factor in effect.
    pub waiting_factor: f32,
    /// The stonewall iteration (0: none).
    pub stonewall_iterations: u64,
}

fn quantiles(name: &str, s: &TimeStats) -> String {
    let v: Vec<String> = s.values().iter().map(|&x| sci(f64::from(x), 4)).collect();
    format!(" {name}({}s)", v.join("s, "))
}

/// The phase's line (`print_p_stat`), without the newline.
pub fn phase_line(l: &PhaseLine<'_>) -> String {
    let c = l.counts;
    let name = l.kind.name();
    let t = l.t;
    let tp =
        (c.obj_create.suc + c.obj_read.suc) as f64 * l.object_size as f64 / t / 1024.0 / 1024.0;
    let errs = c.errors();
    if l.detailed {
        if errs > 0 {
            return format!(
                "{name} err\t{}\t{}\t{}\t{}\t{}\t{}",
                c.dset_create.err,
                c.dset_delete.err,
                c.obj_create.err,
                c.obj_read.err,
                c.obj_stat.err,
                c.obj_delete.err
            );
        }
        return format!(
            "{name} \t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}s\t{:.3}s\t{:.2} MiB/s {}",
            c.dset_create.suc,
            c.dset_delete.suc,
            c.obj_create.suc,
            c.obj_read.suc,
            c.obj_stat.suc,
            c.obj_delete.suc,
            l.own_t,
            t,
            tp,
            sci(l.max_op_time, 4)
        );
    }
    let mut s = format!("{name} process max:{}s ", fixed(t, 2));
    if let Some(sp) = l.spread {
        s.push_str(&format!(
            "min:{}s mean: {}s balance:{} stddev:{} ",
            fixed(sp.min, 2),
            fixed(sp.mean, 2),
            fixed(sp.balance(), 1),
            fixed(sp.std_dev, 1)
        ));
    }
    let r = rate(l.kind, c, t, l.read_only);
    let op_max = sci(l.max_op_time, 4);
    match l.kind {
        PhaseKind::Benchmark => {
            s.push_str(&format!(
                "rate:{} iops/s objects:{} rate:{} obj/s tp:{} MiB/s op-max:{op_max}s",
                fixed(r, 1),
                c.obj_read.suc,
                fixed(c.obj_read.suc as f64 / t, 1),
                fixed(tp, 1)
            ));
            if l.waiting_factor > 1e-9 {
                s.push_str(&format!(
                    " waiting_factor:{:.2}",
                    f64::from(l.waiting_factor)
                ));
            }
        }
        PhaseKind::Precreate => s.push_str(&format!(
            "rate:{} iops/s dsets: {} objects:{} rate:{} dset/s rate:{} obj/s tp:{} MiB/s op-max:{op_max}s",
            fixed(r, 1),
            c.dset_create.suc,
            c.obj_create.suc,
            fixed(c.dset_create.suc as f64 / t, 3),
            fixed(c.obj_create.suc as f64 / t, 1),
            fixed(tp, 1)
        )),
        PhaseKind::Cleanup => s.push_str(&format!(
            "rate:{} iops/s objects:{} dsets: {} rate:{} obj/s rate:{} dset/s op-max:{op_max}s",
            fixed(r, 1),
            c.obj_delete.suc,
            c.dset_delete.suc,
            fixed(c.obj_delete.suc as f64 / t, 1),
            fixed(c.dset_delete.suc as f64 / t, 3)
        )),
    }
    if !l.quiet || errs > 0 {
        s.push_str(&format!(" ({errs} errs"));
        s.push_str(if errs > 0 { "!!!)" } else { ")" });
    }
    if !l.quiet && l.stonewall_iterations > 0 {
        s.push_str(&format!(" stonewall-iter:{}", l.stonewall_iterations));
    }
    let [create, read, stat, delete] = l.stats;
    for (label, st) in [
        ("read", read),
        ("stat", stat),
        ("create", create),
        ("delete", delete),
    ] {
        if st.max > 1e-9 {
            s.push_str(&quantiles(label, st));
        }
    }
    s
}

/// `Total runtime: Ns time: T`.
pub fn footer(total_seconds: f64) -> String {
    format!("Total runtime: {total_seconds:.0}s time: {}\n", now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdworkbench::results::OpCount;

    #[test]
    fn a_benchmark_line_as_md_workbench_prints_it() {
        // md-workbench's own line for 30 objects read in 0.0034187 s on one rank (its -I 10
        // -D 3 run): `rate` is objects read x 4 / t, `tp` (created + read) x 3901 B / t.
        let c = Counts {
            obj_read: OpCount { suc: 30, err: 0 },
            obj_stat: OpCount { suc: 30, err: 0 },
            obj_create: OpCount { suc: 30, err: 0 },
            obj_delete: OpCount { suc: 30, err: 0 },
            ..Counts::default()
        };
        let st = TimeStats {
            min: 6.9141e-06,
            q1: 7.1526e-06,
            median: 7.8678e-06,
            q3: 8.1062e-06,
            q90: 9.0599e-06,
            q99: 9.0599e-06,
            max: 9.0599e-06,
        };
        let zero = TimeStats::default();
        let line = phase_line(&PhaseLine {
            kind: PhaseKind::Benchmark,
            counts: &c,
            t: 0.001338,
            own_t: 0.001338,
            max_op_time: 3.2902e-05,
            stats: [&zero, &st, &zero, &zero],
            spread: Some(Spread::of(&[0.001338])),
            object_size: 3901,
            quiet: false,
            read_only: false,
            detailed: false,
            waiting_factor: 0.0,
            stonewall_iterations: 0,
        });
        assert_eq!(
            line,
            "benchmark process max:0.00s min:0.00s mean: 0.00s balance:100.0 stddev:-nan rate:89686.1 iops/s objects:30 rate:22421.5 obj/s tp:166.8 MiB/s op-max:3.2902e-05s (0 errs) read(6.9141e-06s, 7.1526e-06s, 7.8678e-06s, 8.1062e-06s, 9.0599e-06s, 9.0599e-06s, 9.0599e-06s)"
        );
        assert_eq!(fixed(-f64::NAN, 1), "-nan");
        assert_eq!(
            args_line("md-workbench", &["-a".into(), "POSIX".into()]),
            "Args: md-workbench \"-a\" \"POSIX\"\n"
        );
    }
}
