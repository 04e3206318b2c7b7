//! Per-rank operation latency recording and its merge over ranks (beyond IOR and mdtest):
//! transfers of IOR's phases, metadata operations of mdtest's.
//!
//! Owns [`LatencyRecorder`] (an HDR histogram of nanoseconds, 1 ns .. 1 hour, 3 significant
//! digits, no auto-resize), its wire form between ranks ([`LatencyRecorder::serialize`], HDR V2)
//! and the reduction to [`LatencySummary`] (seconds, plus the merged histogram as base64 of its
//! V2-deflate serialization, readable by any HdrHistogram implementation). It must not time
//! anything itself (the engine measures and calls [`LatencyRecorder::record`]) nor know about
//! phases or output formats.

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Lowest value the histogram distinguishes, in nanoseconds.
pub const LOWEST_NS: u64 = 1;
/// Highest value the histogram tracks (one hour), in nanoseconds; larger values are clamped.
pub const HIGHEST_NS: u64 = 3_600_000_000_000;
/// Significant decimal digits kept.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Latency distribution of the operations of one phase, merged over ranks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of operations recorded.
    pub count: u64,
    /// Mean in seconds.
    pub mean: f64,
    /// Minimum in seconds.
    pub min: f64,
    /// Median in seconds.
    pub p50: f64,
    /// 90th percentile in seconds.
    pub p90: f64,
    /// 99th percentile in seconds.
    pub p99: f64,
    /// 99.9th percentile in seconds.
    pub p999: f64,
    /// Maximum in seconds.
    pub max: f64,
    /// The merged histogram (nanoseconds), V2-deflate serialized and base64 encoded.
    pub histogram: String,
}

/// Errors merging or decoding latency histograms.
#[derive(Debug, Error)]
pub enum LatencyError {
    /// A rank's serialized histogram could not be read.
    #[error("cannot decode latency histogram of part {part}: {message}")]
    Decode {
        /// Index of the part in the input.
        part: usize,
        /// What went wrong.
        message: String,
    },
    /// A histogram does not fit the merged one (different bounds).
    #[error("cannot merge latency histogram of part {part}: {message}")]
    Merge {
        /// Index of the part in the input.
        part: usize,
        /// What went wrong.
        message: String,
    },
    /// The merged histogram could not be serialized.
    #[error("cannot serialize latency histogram: {0}")]
    Serialize(String),
    /// A base64 string is malformed.
    #[error("invalid base64 latency histogram: {0}")]
    Base64(String),
}

fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the constructor's rules (low >= 1, high >= 2*low,
    // sigfig <= 5), so this cannot fail.
    let mut h = Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid");
    h.auto(false);
    h
}

/// Sub-buckets per power of two of the histogram's layout (HDR with 3 significant digits and a
/// lowest value of 1: 2048 sub-buckets, the upper half of each used above the first).
const SUB_BUCKET_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF_MAGNITUDE: u32 = SUB_BUCKET_MAGNITUDE - 1;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_MAGNITUDE) - 1;

/// Index of `v` (at most [`HIGHEST_NS`]) in the counts of the HDR layout: the same index
/// `hdrhistogram` gives it for the bounds above (a few instructions, no checks).
#[inline(always)]
fn index_of(v: u64) -> usize {
    let bucket = 64 - SUB_BUCKET_MAGNITUDE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub = (v >> bucket) as usize;
    (((bucket as usize) + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub - (1 << SUB_BUCKET_HALF_MAGNITUDE)
}

/// The lowest value counted at `index` (the inverse of [`index_of`]).
fn value_at(index: usize) -> u64 {
    let half = 1usize << SUB_BUCKET_HALF_MAGNITUDE;
    let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let sub = (index & (half - 1)) + half;
    if bucket < 0 {
        (sub - half) as u64
    } else {
        (sub as u64) << bucket
    }
}

/// One rank's transfer latencies of one phase, in nanoseconds.
///
/// Recording is one array increment in the layout of an HDR histogram (no allocation, no
/// atomic, no check beyond the array bound): the transfer loop records every transfer. The
/// HDR histogram itself is built from the counts when the phase is over
/// ([`LatencyRecorder::histogram`], [`LatencyRecorder::serialize`]), exactly the histogram that
/// recording each value into it would have given.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    counts: Box<[u64]>,
    /// Where values beyond the counts go (HDR's saturation: the highest trackable value).
    clamp: usize,
    total: u64,
    /// The clock whose raw readings' differences are being counted (see
    /// [`LatencyRecorder::count_ticks_of`]); `None`: the values are nanoseconds.
    ticks: Option<&'static quanta::Clock>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder (allocates its counters once, about 260 KiB).
    pub fn new() -> Self {
        LatencyRecorder {
            counts: vec![0u64; new_histogram().distinct_values()].into_boxed_slice(),
            clamp: index_of(HIGHEST_NS),
            total: 0,
            ticks: None,
        }
    }

    /// From now until [`LatencyRecorder::reset`], values given to [`LatencyRecorder::record`]
    /// are differences of `clock`'s raw readings (cycle counts where it counts cycles), turned
    /// into nanoseconds once per distinct bucket when the histogram is built instead of once
    /// per transfer. Only an empty recorder switches; returns whether this one did (if not, the
    /// values stay nanoseconds). The result keeps the histogram's precision: a raw bucket is at
    /// least as narrow as a nanosecond one wherever a tick is no longer than a nanosecond.
    pub fn count_ticks_of(&mut self, clock: &'static quanta::Clock) -> bool {
        if self.total != 0 {
            return self.ticks.is_some_and(|c| std::ptr::eq(c, clock));
        }
        self.ticks = Some(clock);
        true
    }

    /// Records one transfer of `v` nanoseconds (or raw clock units after
    /// [`LatencyRecorder::count_ticks_of`]); values above one hour are clamped. No
    /// allocation, no failure: meant for the transfer loop.
    #[inline(always)]
    pub fn record(&mut self, v: u64) {
        let i = index_of(v);
        let i = if i < self.counts.len() { i } else { self.clamp };
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.total += 1;
    }

    /// Records one transfer given as a [`std::time::Duration`].
    #[inline]
    pub fn record_duration(&mut self, d: std::time::Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Number of transfers recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Forgets every value (keeps the allocation), for the next phase.
    pub fn reset(&mut self) {
        if self.total != 0 {
            self.counts.fill(0);
            self.total = 0;
        }
        self.ticks = None;
    }

    /// The recorded latencies as an HDR histogram (nanoseconds).
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for (i, &c) in self.counts.iter().enumerate() {
            if c != 0 {
                let v = value_at(i);
                let ns = match self.ticks {
                    Some(clock) => clock.delta_as_nanos(0, v),
                    None => v,
                };
                h.saturating_record_n(ns, c);
            }
        }
        h
    }

    /// This rank's histogram in HDR V2 form (uncompressed: cheap to produce; it only travels
    /// between ranks), for [`LatencyRecorder::merge_serialized`].
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and V2 serialization of a u64 histogram has no
        // other failure than an I/O error; an error would leave `out` empty, which
        // `merge_serialized` then reports.
        if V2Serializer::new()
            .serialize(&self.histogram(), &mut out)
            .is_err()
        {
            out.clear();
        }
        out
    }

    /// Merges the serialized histograms of all ranks into one summary (seconds).
    pub fn merge_serialized(parts: &[Vec<u8>]) -> Result<LatencySummary, LatencyError> {
        let mut merged = new_histogram();
        let mut de = Deserializer::new();
        for (i, part) in parts.iter().enumerate() {
            let h: Histogram<u64> =
                de.deserialize(&mut part.as_slice())
                    .map_err(|e| LatencyError::Decode {
                        part: i,
                        message: format!("{e:?}"),
                    })?;
            merged.add(&h).map_err(|e| LatencyError::Merge {
                part: i,
                message: format!("{e:?}"),
            })?;
        }
        summarize(&merged)
    }

    /// This recorder alone as a summary (one rank).
    pub fn summary(&self) -> Result<LatencySummary, LatencyError> {
        summarize(&self.histogram())
    }
}

const NS: f64 = 1e-9;

/// The summary (seconds) of a histogram of nanoseconds, with the histogram as base64 of its
/// V2-deflate serialization. An empty histogram gives zeros.
pub fn summarize(h: &Histogram<u64>) -> Result<LatencySummary, LatencyError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| LatencyError::Serialize(format!("{e:?}")))?;
    let histogram = base64_encode(&bytes);
    if h.is_empty() {
        return Ok(LatencySummary {
            histogram,
            ..Default::default()
        });
    }
    Ok(LatencySummary {
        count: h.len(),
        mean: h.mean() * NS,
        min: h.min() as f64 * NS,
        p50: h.value_at_quantile(0.50) as f64 * NS,
        p90: h.value_at_quantile(0.90) as f64 * NS,
        p99: h.value_at_quantile(0.99) as f64 * NS,
        p999: h.value_at_quantile(0.999) as f64 * NS,
        max: h.max() as f64 * NS,
        histogram,
    })
}

/// Decodes [`LatencySummary::histogram`] back into a histogram of nanoseconds.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, LatencyError> {
    let bytes = base64_decode(b64)?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| LatencyError::Decode {
            part: 0,
            message: format!("{e:?}"),
        })
}

/// Standard base64 (RFC 4648) that writes padding and, when reading, accepts it or not.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn base64_encode(data: &[u8]) -> String {
    base64::Engine::encode(&BASE64, data)
}

fn base64_decode(s: &str) -> Result<Vec<u8>, LatencyError> {
    base64::Engine::decode(&BASE64, s).map_err(|e| LatencyError::Base64(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative precision of 3 significant digits, with a little room.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 2e-3
    }

    #[test]
    fn uniform_microseconds() {
        let mut r = LatencyRecorder::new();
        for us in 1..=1000u64 {
            r.record(us * 1000);
        }
        assert_eq!(r.len(), 1000);
        let s = r.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert!(close(s.p50, 500e-6), "p50 {}", s.p50);
        assert!(close(s.p90, 900e-6), "p90 {}", s.p90);
        assert!(close(s.p99, 990e-6), "p99 {}", s.p99);
        assert!(close(s.p999, 999e-6), "p999 {}", s.p999);
        assert!(close(s.min, 1e-6), "min {}", s.min);
        assert!(close(s.max, 1000e-6), "max {}", s.max);
        assert!(close(s.mean, 500.5e-6), "mean {}", s.mean);
    }

    #[test]
    fn merge_of_ranks_equals_one_recorder() {
        let mut all = LatencyRecorder::new();
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        for i in 0..5000u64 {
            let v = 100 + (i * 7919) % 3_000_000;
            all.record(v);
            if i % 3 == 0 {
                a.record(v);
            } else {
                b.record(v);
            }
        }
        let merged = LatencyRecorder::merge_serialized(&[a.serialize(), b.serialize()]).unwrap();
        let single = all.summary().unwrap();
        assert_eq!(merged, single);
        assert_eq!(merged.count, 5000);
        // The carried histogram decodes to the same distribution.
        let h = decode_histogram(&merged.histogram).unwrap();
        assert_eq!(h.len(), 5000);
        assert_eq!(h, all.histogram());
    }

    #[test]
    fn out_of_range_values_saturate() {
        let mut r = LatencyRecorder::new();
        r.record(0);
        r.record(u64::MAX);
        r.record_duration(std::time::Duration::from_secs(10 * 3600));
        assert_eq!(r.len(), 3);
        let s = r.summary().unwrap();
        assert_eq!(s.min, 0.0);
        assert!(close(s.max, 3600.0), "max {}", s.max);
    }

    #[test]
    fn empty_and_reset() {
        let mut r = LatencyRecorder::new();
        assert!(r.is_empty());
        let s = LatencyRecorder::merge_serialized(&[r.serialize(), r.serialize()]).unwrap();
        assert_eq!(s.count, 0);
        assert_eq!(s.max, 0.0);
        assert_eq!(decode_histogram(&s.histogram).unwrap().len(), 0);
        let s = LatencyRecorder::merge_serialized(&[]).unwrap();
        assert_eq!(s.count, 0);
        r.record(5);
        assert_eq!(r.len(), 1);
        r.reset();
        assert!(r.is_empty());
    }

    /// The fast recording gives exactly the histogram that recording each value into an HDR
    /// histogram of the same bounds gives.
    #[test]
    fn counts_layout_is_hdr_layout() {
        let mut direct = new_histogram();
        let mut fast = LatencyRecorder::new();
        let mut values: Vec<u64> = vec![0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096];
        for shift in 0..64 {
            let v = 1u64 << shift;
            values.extend([v - 1, v, v + 1, v.saturating_mul(3) / 2]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        values.extend([HIGHEST_NS - 1, HIGHEST_NS, HIGHEST_NS + 1, u64::MAX]);
        for &v in &values {
            direct.saturating_record(v);
            fast.record(v);
        }
        assert_eq!(fast.len(), values.len() as u64);
        assert_eq!(fast.histogram(), direct);
        for i in 0..fast.counts.len() {
            assert_eq!(index_of(value_at(i)), i, "index {i}");
        }
    }

    /// Counting raw clock readings gives the histogram of their nanoseconds within its
    /// precision; a recorder that already holds nanoseconds does not switch, and a reset
    /// switches back.
    #[test]
    fn raw_clock_units_become_nanoseconds() {
        let clock = crate::measure::machine::fast_clock();
        let mut raw = LatencyRecorder::new();
        let mut ns = LatencyRecorder::new();
        assert!(raw.count_ticks_of(clock));
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ticks = 1 + (x >> 40) % 50_000_000;
            raw.record(ticks);
            ns.record(clock.delta_as_nanos(0, ticks));
        }
        let (a, b) = (raw.summary().unwrap(), ns.summary().unwrap());
        assert_eq!(a.count, b.count);
        for (p, q) in [
            (a.p50, b.p50),
            (a.p99, b.p99),
            (a.max, b.max),
            (a.mean, b.mean),
        ] {
            assert!((p - q).abs() <= q * 4e-3, "{p} vs {q}");
        }
        assert!(
            !ns.count_ticks_of(clock),
            "a recorder holding nanoseconds keeps them"
        );
        raw.reset();
        raw.record(1000);
        assert!(close(raw.summary().unwrap().max, 1e-6));
    }

    #[test]
    fn garbage_is_an_error() {
        let mut r = LatencyRecorder::new();
        r.record(1000);
        let e = LatencyRecorder::merge_serialized(&[r.serialize(), vec![1, 2, 3]]).unwrap_err();
        assert!(matches!(e, LatencyError::Decode { part: 1, .. }), "{e}");
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
    }
}
