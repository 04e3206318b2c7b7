//! TEMPORARY stand-in (replaced by the stats module at merge).
/// bw
pub fn bw_mib(agg: i64, s: f64) -> f64 {
    if s > 0.0 {
        agg as f64 / s / 1048576.0
    } else {
        0.0
    }
}
/// iops
pub fn iops(agg: i64, x: i64, s: f64) -> f64 {
    if s > 0.0 && x > 0 {
        (agg / x) as f64 / s
    } else {
        0.0
    }
}
