//! Sizes and numbers as people and IOR write them: the one place that turns `4m`, `1 MiB`,
//! `262144 bytes` into bytes and bytes back into `4MiB`.
//!
//! Two readings, both binary (k = 2^10 ... p = 2^50):
//! - [`parse_ior_number`]: IOR's own `string_to_bytes`, quirks included (it never fails), for
//!   IOR's options and directives, and C's [`atoi`]/[`atoll`] beside it;
//! - [`parse_size`]: the strict reading for everything else (benchfs-server's `--chunk-size`,
//!   `sweep --sizes`, sizes printed in IOR's output), which rejects what it cannot read.
//!
//! A leaf: it knows nothing of the options, engines or file system that call it.

use thiserror::Error;

/// 2^20, bytes per MiB.
pub const MIB: f64 = 1_048_576.0;
/// 2^30, bytes per GiB.
pub const GIB: f64 = 1_073_741_824.0;

/// A size that [`parse_size`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    /// Not a number with an optional unit.
    #[error("invalid size '{0}' (expected a number with an optional unit: 4k, 64m, 1g, 1 MiB)")]
    Invalid(String),
    /// A number too large for 64 bits once the unit is applied.
    #[error("size '{0}' is too large")]
    TooLarge(String),
}

/// The binary shift of a unit letter (`k` 10, `m` 20, `g` 30, `t` 40, `p` 50), any case.
fn unit_shift(c: char) -> Option<u32> {
    match c.to_ascii_lowercase() {
        'k' => Some(10),
        'm' => Some(20),
        'g' => Some(30),
        't' => Some(40),
        'p' => Some(50),
        _ => None,
    }
}

/// IOR's `string_to_bytes`: `sscanf(" %lld %c ")` with k/m/g/t/p (any case) meaning
/// 2^10 .. 2^50; any other trailing character is ignored (`"1.5m"` → 1, `"4KiB"` → 4096).
///
/// Like IOR it never fails: a string without a leading number gives -1, an empty
/// (or blank) string gives 0.
pub fn parse_ior_number(s: &str) -> i64 {
    let t = s.trim_start();
    if t.is_empty() {
        // sscanf hits the end of input before any conversion: returns EOF, size stays 0.
        return 0;
    }
    let Some((value, rest)) = scan_integer(t) else {
        return -1;
    };
    let shift = rest.trim_start().chars().next().and_then(unit_shift);
    value.wrapping_shl(shift.unwrap_or(0))
}

/// `%lld` / `strtoll`: optional sign and decimal digits at the start of `s` (no leading
/// blanks expected), saturating like glibc. Returns the value and the unparsed rest.
pub fn scan_integer(s: &str) -> Option<(i64, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut acc: i128 = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        acc = (acc * 10 + i128::from(bytes[i] - b'0')).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if negative { -acc } else { acc };
    let v = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    Some((v, &s[i..]))
}

/// C's `atoll`: leading blanks, optional sign, digits; anything else gives 0.
pub fn atoll(s: &str) -> i64 {
    scan_integer(s.trim_start()).map_or(0, |(v, _)| v)
}

/// C's `atoi` as glibc implements it (`(int) strtol(s)`): out-of-range values are
/// truncated to 32 bits.
pub fn atoi(s: &str) -> i32 {
    atoll(s) as i32
}

/// The strict size reading: a non-negative number (a decimal fraction allowed), optional
/// blanks, and an optional binary unit: none, `b`/`bytes`, `k`/`kb`/`kib`, `m`..., `g`...,
/// `t`..., `p`... (any case). `64k`, `4M`, `1048576`, `1 MiB`, `1.5 KiB`, `262144 bytes`.
/// A fraction is rounded to the nearest byte.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let invalid = || SizeError::Invalid(s.to_string());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim_start());
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(invalid());
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 0,
        u => {
            let mut chars = u.chars();
            let shift = chars.next().and_then(unit_shift).ok_or_else(invalid)?;
            match chars.as_str() {
                "" | "b" | "ib" => shift,
                _ => return Err(invalid()),
            }
        }
    };
    let too_large = || SizeError::TooLarge(s.to_string());
    if let Ok(whole) = num.parse::<u64>() {
        return whole.checked_mul(1u64 << shift).ok_or_else(too_large);
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    let bytes = (value * (1u64 << shift) as f64).round();
    if bytes >= u64::MAX as f64 {
        return Err(too_large());
    }
    Ok(bytes as u64)
}

/// A byte count in the largest binary unit that divides it: `1048576` → `1MiB`,
/// `1536` → `1536B`.
pub fn format_size(bytes: i64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

/// C's `%.Ne` (mantissa, `e`, sign and at least two exponent digits).
pub fn sci(v: f64, precision: usize) -> String {
    let s = format!("{v:.precision$e}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_plain_and_suffixes() {
        assert_eq!(parse_ior_number("0"), 0);
        assert_eq!(parse_ior_number("262144"), 262_144);
        assert_eq!(parse_ior_number("4k"), 4096);
        assert_eq!(parse_ior_number("4K"), 4096);
        assert_eq!(parse_ior_number("2m"), 2 << 20);
        assert_eq!(parse_ior_number("2M"), 2 << 20);
        assert_eq!(parse_ior_number("1g"), 1 << 30);
        assert_eq!(parse_ior_number("1G"), 1 << 30);
        assert_eq!(parse_ior_number("3t"), 3 << 40);
        assert_eq!(parse_ior_number("3T"), 3 << 40);
        assert_eq!(parse_ior_number("1p"), 1 << 50);
        assert_eq!(parse_ior_number("1P"), 1 << 50);
    }

    #[test]
    fn numbers_ior_quirks() {
        assert_eq!(parse_ior_number("1.5m"), 1);
        assert_eq!(parse_ior_number("4KiB"), 4096);
        assert_eq!(parse_ior_number("-1"), -1);
        assert_eq!(parse_ior_number("  16 m "), 16 << 20);
        assert_eq!(parse_ior_number("+8"), 8);
        assert_eq!(parse_ior_number("7x"), 7);
        assert_eq!(parse_ior_number("abc"), -1);
        assert_eq!(parse_ior_number(""), 0);
        assert_eq!(parse_ior_number("   "), 0);
        assert_eq!(parse_ior_number("-2k"), -2048);
        assert_eq!(parse_ior_number("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("12"), 12);
        assert_eq!(atoi(" -3"), -3);
        assert_eq!(atoi("1k"), 1);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("4294967297"), 1);
        assert_eq!(atoll("4294967297"), 4_294_967_297);
    }

    #[test]
    fn strict_sizes() {
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_size("262144 bytes"), Ok(262_144));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("4 GiB"), Ok(4 << 30));
        assert_eq!(parse_size("2kb"), Ok(2048));
        assert_eq!(parse_size(" 8 "), Ok(8));
        for bad in ["", "x", "1x", "k", "-1", "1..5m", ".5k", "4 MiBs", "1 m b"] {
            assert_eq!(
                parse_size(bad),
                Err(SizeError::Invalid(bad.to_string())),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_size("99999999999999999999k"),
            Err(SizeError::TooLarge(_))
        ));
        assert!(matches!(
            parse_size("20000000p"),
            Err(SizeError::TooLarge(_))
        ));
    }

    #[test]
    fn sizes_print() {
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(262_144), "256KiB");
        assert_eq!(format_size(1000), "1000B");
        assert_eq!(format_size(4 << 30), "4GiB");
    }

    #[test]
    fn sci_matches_c_printf() {
        assert_eq!(sci(9.53674316e-07, 8), "9.53674316e-07");
        assert_eq!(sci(3.53813171e-04, 8), "3.53813171e-04");
        assert_eq!(sci(2.971653e9, 6), "2.971653e+09");
        assert_eq!(sci(0.0, 2), "0.00e+00");
    }
}
