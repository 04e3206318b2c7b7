//! How IOR reads the values of its options where a plain number or string does not do:
//! `int` options with the overflow warning, `-M` / `memoryPerNode` (`2g`, `75%`), `-l` /
//! `dataPacketType` (first character decides).
//!
//! Owns these value rules. It must not know option names or where a value came from (the
//! table in [`super::table`] does).

use super::error::OptionError;
use crate::ior::params::DataPacketType;
use crate::units::{parse_ior_number, scan_integer};

/// What a number option holds, for [`checked_ior_number`]'s message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberKind {
    /// A size (`-b`, `-t`, `blockSize=`): `invalid size`.
    Size,
    /// An integer (`-i`, `-s`): `invalid number`.
    Int,
}

/// `s` read as IOR's `string_to_bytes` reads it, but refused unless all of it is such a
/// number: optional blanks, an integer, optional blanks, an optional unit `k`, `m`, `g`,
/// `t` or `p` (any case, `b` or `ib` may follow: `4MiB`), optional blanks. IOR reads
/// `1x` as 1 and `1.5m` as 1 without a word; here they are errors naming the value and
/// `option`.
pub(crate) fn checked_ior_number(
    s: &str,
    option: &str,
    kind: NumberKind,
) -> Result<i64, OptionError> {
    let bad = || OptionError::InvalidNumber {
        kind: match kind {
            NumberKind::Size => "size",
            NumberKind::Int => "number",
        },
        value: s.to_string(),
        option: option.to_string(),
    };
    let (_, rest) = scan_integer(s.trim()).ok_or_else(bad)?;
    let rest = rest.trim_start().to_ascii_lowercase();
    let mut chars = rest.chars();
    match chars.next() {
        None => {}
        Some('k' | 'm' | 'g' | 't' | 'p') if matches!(chars.as_str(), "" | "b" | "ib") => {}
        Some(_) => return Err(bad()),
    }
    Ok(parse_ior_number(s))
}

/// IOR's parse of an `int` option value (`string_to_bytes` then a cast to `int`), pushing
/// `WARNING: parsing the number %s to integer, this produced an overflow!` when it does not fit.
pub(crate) fn parse_int_option(s: &str, warnings: &mut Vec<String>) -> i32 {
    let v = parse_ior_number(s);
    if v > i64::from(i32::MAX) || v < i64::from(i32::MIN) {
        warnings.push(format!(
            "WARNING: parsing the number {s} to integer, this produced an overflow!"
        ));
    }
    v as i32
}

/// IOR's `NodeMemoryStringToBytes` for `-M` / `memoryPerNode`: `N%` is a percentage of the
/// physical memory of this node, anything else a size (`2g`).
///
/// Note: real IOR tests `sscanf(" %d %% ") == 0`, so it reads `2g` as 2 %; we implement
/// the documented meaning (2 GiB).
pub fn node_memory_to_bytes(s: &str) -> Result<i64, OptionError> {
    let t = s.trim();
    if let Some(num) = t.strip_suffix('%') {
        let num = num.trim_end();
        if let Some((percent, rest)) = scan_integer(num) {
            if rest.is_empty() {
                if !(0..=100).contains(&percent) {
                    return Err(OptionError::MemoryPercentage);
                }
                let mem = physical_memory().ok_or(OptionError::PhysicalMemoryUnknown)?;
                return Ok(mem / 100 * percent);
            }
        }
    }
    Ok(parse_ior_number(s))
}

/// Physical memory in bytes (`sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE)`).
fn physical_memory() -> Option<i64> {
    // SAFETY: sysconf has no preconditions; it only reads system configuration.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if pages <= 0 || page_size <= 0 {
        return None;
    }
    (pages as i64).checked_mul(page_size as i64)
}

/// IOR's `-l` / `dataPacketType`: the first character decides.
pub(crate) fn parse_packet_type(s: &str) -> Result<DataPacketType, OptionError> {
    if s.is_empty() {
        return Ok(DataPacketType::Timestamp);
    }
    DataPacketType::parse(s).ok_or_else(|| OptionError::UnknownPacketType(s.to_string()))
}

/// `--interval` / `-O interval=`: seconds per interval of the time series, as `100ms`,
/// `0.5s`, `250us` or plain seconds (`2`, `0.1`); at least
/// [`crate::measure::series::MIN_INTERVAL`].
pub(crate) fn parse_interval(s: &str) -> Result<f64, OptionError> {
    crate::measure::series::parse_interval(s).ok_or_else(|| OptionError::InvalidValue {
        option: "interval".into(),
        value: s.to_string(),
        reason: crate::measure::series::INTERVAL_EXPECTED.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_whole() {
        let n = |s: &str| checked_ior_number(s, "-b", NumberKind::Size);
        assert_eq!(n("4k"), Ok(4096));
        assert_eq!(n(" 2 M "), Ok(2 << 20));
        assert_eq!(n("4MiB"), Ok(4 << 20));
        assert_eq!(n("1048576"), Ok(1 << 20));
        assert_eq!(n("-8"), Ok(-8));
        for bad in ["1x", "1.5m", "", "k", "4 kk", "0x10"] {
            let e = n(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("Error, invalid size \"{bad}\" for -b")),
                "{bad}: {e}"
            );
        }
        let e = checked_ior_number("three", "-i", NumberKind::Int).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Error, invalid number \"three\" for -i"));
    }

    #[test]
    fn int_option_overflow_warns() {
        let mut w = Vec::new();
        assert_eq!(parse_int_option("1k", &mut w), 1024);
        assert!(w.is_empty());
        let v = parse_int_option("4g", &mut w);
        assert_eq!(v, (4i64 << 30) as i32);
        assert_eq!(
            w,
            vec!["WARNING: parsing the number 4g to integer, this produced an overflow!"]
        );
    }

    #[test]
    fn node_memory() {
        assert_eq!(node_memory_to_bytes("2g").unwrap(), 2 << 30);
        let all = physical_memory().unwrap();
        assert_eq!(node_memory_to_bytes("100%").unwrap(), all / 100 * 100);
        assert_eq!(node_memory_to_bytes("75%").unwrap(), all / 100 * 75);
        assert_eq!(node_memory_to_bytes("0%").unwrap(), 0);
        assert_eq!(
            node_memory_to_bytes("101%"),
            Err(OptionError::MemoryPercentage)
        );
        assert_eq!(
            node_memory_to_bytes("-1%"),
            Err(OptionError::MemoryPercentage)
        );
    }

    #[test]
    fn intervals_take_units_and_refuse_nonsense() {
        assert_eq!(parse_interval("100ms").unwrap(), 0.1);
        assert_eq!(parse_interval("0.5s").unwrap(), 0.5);
        assert_eq!(parse_interval("2").unwrap(), 2.0);
        assert!((parse_interval("1500us").unwrap() - 0.0015).abs() < 1e-12);
        for bad in ["0", "-1", "0.1ms", "x", "", "nan", "1e9"] {
            let e = parse_interval(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("\"{bad}\" for option interval")), "{e}");
        }
    }
}
