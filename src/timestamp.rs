//! Timestamps of result documents: RFC 3339 with the time zone (`2026-12-01T10:54:01+01:00`),
//! made from the clock or from IOR's ctime strings, read back for ordering and labels, and
//! a serde form for epoch seconds stored as RFC 3339.
//!
//! IOR's own formats print C's `ctime` layout without a zone; those strings stay where IOR's
//! formats need them. A ctime string read from someone else's output has no known offset:
//! it becomes RFC 3339's "unknown local offset" `-00:00` (RFC 3339 §4.3).
//!
//! A leaf: it knows nothing of the engines, documents or file system that call it.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, SecondsFormat, TimeZone, Utc};

#[cfg(test)]
/// The ctime layout of IOR's `Began`, `StartTime` and `Finished` (`Mon Nov 23 23:33:48 2026`).
pub const CTIME: &str = "%a %b %e %H:%M:%S %Y";

/// Now, local time, whole seconds: `2026-12-01T10:54:01+01:00`.
pub fn now() -> String {
    Local::now().to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Epoch seconds as local time with microseconds (`2026-12-01T10:54:01.123456+01:00`);
/// `None` for a value that is not a time (not finite, out of range).
pub fn at_epoch(seconds: f64) -> Option<String> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    let micros = (seconds * 1e6).round() as i64;
    let utc = DateTime::<Utc>::from_timestamp_micros(micros)?;
    Some(
        utc.with_timezone(&Local)
            .to_rfc3339_opts(SecondsFormat::Micros, false),
    )
}

/// Epoch seconds of an RFC 3339 string (`-00:00` read as UTC).
pub fn epoch_of(s: &str) -> Option<f64> {
    let d = DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(d.timestamp_micros() as f64 / 1e6)
}

/// A ctime string (any amount of blanks between fields) as a naive date-time.
pub fn parse_ctime(s: &str) -> Option<NaiveDateTime> {
    let norm = s.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&norm, "%a %b %d %H:%M:%S %Y").ok()
}

/// A ctime string as RFC 3339. `local`: it was printed by this machine's clock in its own
/// zone (a native run), so the zone is known; otherwise the offset is unknown (`-00:00`).
/// An empty or unreadable string gives an empty string (unknown time).
pub fn from_ctime(s: &str, local: bool) -> String {
    let Some(naive) = parse_ctime(s) else {
        return String::new();
    };
    if local {
        if let Some(d) = Local.from_local_datetime(&naive).earliest() {
            return d.to_rfc3339_opts(SecondsFormat::Secs, false);
        }
    }
    format!("{}-00:00", naive.format("%Y-%m-%dT%H:%M:%S"))
}

/// Reads a document timestamp: RFC 3339 (the document's own form), or a ctime string (a
/// document of schema version 1, or an IOR output) taken as UTC for ordering.
pub fn parse(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(d);
    }
    parse_ctime(s).map(|n| n.and_utc().fixed_offset())
}

/// The wall-clock part of a timestamp as it was written (`2026-12-01 10:54`), whatever its
/// zone: what a person at that machine saw.
pub fn local_label(s: &str, format: &str) -> Option<String> {
    parse(s).map(|d| d.naive_local().format(format).to_string())
}

/// Serde form of optional epoch seconds: an RFC 3339 string with microseconds, or null.
pub mod epoch_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(seconds)` as RFC 3339, `None` (or a value that is no time) as null.
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v.and_then(super::at_epoch) {
            Some(t) => s.serialize_str(&t),
            None => s.serialize_none(),
        }
    }

    /// Reads an RFC 3339 string (or null) back into epoch seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(t) => super::epoch_of(&t)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {t:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_of_a_foreign_run_has_an_unknown_offset() {
        assert_eq!(
            from_ctime("Mon Nov 23 23:33:48 2026", false),
            "2026-11-23T23:33:48-00:00"
        );
        assert_eq!(
            from_ctime("Tue Nov  3 01:02:03 2026", false),
            "2026-11-03T01:02:03-00:00"
        );
        assert_eq!(from_ctime("", false), "");
        assert_eq!(from_ctime("yesterday", true), "");
        // `-00:00` is valid RFC 3339 and reads back.
        let d = parse("2026-11-23T23:33:48-00:00").unwrap();
        assert_eq!(d.timestamp(), 1_795_476_828);
    }

    #[test]
    fn local_ctime_keeps_its_zone() {
        let ct = chrono::Local::now().format(CTIME).to_string();
        let r = from_ctime(&ct, true);
        let d = DateTime::parse_from_rfc3339(&r).unwrap();
        assert_eq!(d.naive_local().format(CTIME).to_string(), ct);
        assert!(!r.ends_with("-00:00") || Local::now().offset().local_minus_utc() == 0);
    }

    #[test]
    fn epoch_round_trips_with_microseconds() {
        let t = 1_764_586_441.123_456;
        let s = at_epoch(t).unwrap();
        assert!(s.contains(".123456"), "{s}");
        assert!((epoch_of(&s).unwrap() - t).abs() < 1e-6);
        assert_eq!(at_epoch(f64::NAN), None);
        assert_eq!(at_epoch(0.0), None);
        assert!(DateTime::parse_from_rfc3339(&now()).is_ok());
    }

    #[test]
    fn labels_show_the_writers_wall_clock() {
        assert_eq!(
            local_label("2026-12-01T10:54:01+09:00", "%m-%d %H:%M").unwrap(),
            "12-01 10:54"
        );
        assert_eq!(
            local_label("Mon Nov 23 23:33:48 2026", "%m-%d %H:%M").unwrap(),
            "11-23 23:33"
        );
    }
}
