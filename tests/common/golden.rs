//! Golden-output helpers for integration tests: a masked, column-aware comparison of two
//! IOR-style result streams ([`masked_diff`]).
//!
//! Include it with `#[path = "common/golden.rs"] mod golden;`. It owns no test data.
//!
//! Masking (applied to both sides before comparing):
//! * the header line `IOR-...`: only the text up to `"... Parallel I/O"` is compared (ours
//!   adds ` (benchfs-bench X.Y)`);
//! * the values of the key/value lines `Began`, `StartTime`, `Finished`, `Machine`,
//!   `Command line`, `Path`, `FS`, `test filename`, `testFileName`, `platform` (text `"%-20s: "`
//!   form and JSON `"key": "value"` form);
//! * ctime dates anywhere (`Mon Nov 23 23:33:48 2026`), hexadecimal digits after `0x`;
//! * every number (a run of digits and dots containing a digit) becomes `#`.
//!
//! Then the lines are compared one for one (a missing or extra line is a mismatch), token for
//! token (whitespace separated, masked text must be equal), and column for column: each token
//! must start at the same column, except that a numeric token may instead *end* at the same
//! column (right-aligned fields such as the summary table). A number wider than its field
//! pushes the rest of the line; the comparison then accepts the pushed position for the next
//! token.
#![allow(dead_code)]

/// Keys whose values are masked.
const MASKED_KEYS: [&str; 10] = [
    "Began",
    "StartTime",
    "Finished",
    "Machine",
    "Command line",
    "Path",
    "FS",
    "test filename",
    "testFileName",
    "platform",
];

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Whether `s` (24 bytes) looks like a ctime date `Www Mmm dd hh:mm:ss yyyy`.
fn is_ctime(s: &[u8]) -> bool {
    if s.len() != 24 {
        return false;
    }
    let d = |i: usize| s[i].is_ascii_digit();
    let Ok(txt) = std::str::from_utf8(s) else {
        return false;
    };
    DAYS.contains(&&txt[0..3])
        && s[3] == b' '
        && MONTHS.contains(&&txt[4..7])
        && s[7] == b' '
        && (s[8] == b' ' || d(8))
        && d(9)
        && s[10] == b' '
        && d(11)
        && d(12)
        && s[13] == b':'
        && d(14)
        && d(15)
        && s[16] == b':'
        && d(17)
        && d(18)
        && s[19] == b' '
        && (20..24).all(d)
}

/// Replaces ctime dates by `<date>` padded to the same width (columns are preserved).
fn mask_dates(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if i + 24 <= b.len() && line.is_char_boundary(i) && is_ctime(&b[i..i + 24]) {
            out.push_str(&format!("{:<24}", "<date>"));
            i += 24;
        } else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Masks the value of a masked key/value line (text or JSON form); other lines unchanged.
fn mask_key_values(line: &str) -> String {
    for key in MASKED_KEYS {
        // text form: key padded to 20, then ": "
        let text_prefix = format!("{:<20}: ", key);
        if line.starts_with(&text_prefix) {
            return format!("{}<{}>", text_prefix, key);
        }
        // JSON form: "key": "value"
        let json_key = format!("\"{}\": \"", key);
        if let Some(pos) = line.find(&json_key) {
            let start = pos + json_key.len();
            if let Some(end) = line[start..].find('"') {
                return format!("{}<{}>{}", &line[..start], key, &line[start + end..]);
            }
        }
    }
    line.to_string()
}

/// Replaces every run of digits/dots that contains a digit by `#`.
fn mask_numbers(token: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in token.chars() {
        if c.is_ascii_digit() || c == '.' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A whitespace-separated token: masked text, start and end columns (in chars).
#[derive(Debug)]
struct Token {
    masked: String,
    start: isize,
    end: isize,
    numeric: bool,
}

fn tokens(line: &str) -> Vec<Token> {
    let mut v = Vec::new();
    let mut cur = String::new();
    let mut start = 0isize;
    let chars: Vec<char> = line.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            if !cur.is_empty() {
                v.push(make_token(&cur, start, i as isize));
                cur.clear();
            }
        } else {
            if cur.is_empty() {
                start = i as isize;
            }
            cur.push(*c);
        }
    }
    if !cur.is_empty() {
        v.push(make_token(&cur, start, chars.len() as isize));
    }
    v
}

fn make_token(raw: &str, start: isize, end: isize) -> Token {
    let masked = mask_numbers(raw);
    Token {
        numeric: masked.contains('#'),
        masked,
        start,
        end,
    }
}

/// Replaces the digits of every `0x…` hexadecimal number by `#` (`0x6b0e9574` → `0x#`).
fn mask_hex(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("0x") {
        out.push_str(&rest[..pos + 2]);
        let tail = &rest[pos + 2..];
        let n = tail.len()
            - tail
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        if n > 0 {
            out.push('#');
        }
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// The masked form of a whole line (header-line rule, key values, dates, hex numbers).
fn mask_line(line: &str, _first: bool) -> String {
    let line = line.trim_end_matches('\r');
    // The header line (the first, or after IOR's "Fake ..." lines).
    if line.starts_with("IOR-") {
        if let Some(pos) = line.find("Parallel I/O") {
            return line[..pos + "Parallel I/O".len()].to_string();
        }
    }
    mask_hex(&mask_dates(&mask_key_values(line)))
}

/// Compares one pair of masked lines; `None` if they agree.
fn compare_line(exp: &str, act: &str) -> Option<String> {
    let te = tokens(exp);
    let ta = tokens(act);
    let mut allowed: Vec<isize> = vec![0];
    for (k, e) in te.iter().enumerate() {
        let Some(a) = ta.get(k) else {
            return Some(format!("token {} `{}` missing in actual", k + 1, e.masked));
        };
        if e.masked != a.masked {
            return Some(format!(
                "token {} differs: expected `{}`, actual `{}` (masked)",
                k + 1,
                e.masked,
                a.masked
            ));
        }
        let ds = a.start - e.start;
        let de = a.end - e.end;
        // A number wider than its field overflows: its span then covers the expected span.
        let overflow = e.numeric
            && a.end - a.start > e.end - e.start
            && allowed.iter().any(|&s0| ds <= s0 && de >= s0);
        // ... or the expected number overflowed its field and ours did not (narrower numbers).
        // (Only a number wider than every field, 11+ characters, can have overflowed.)
        let underflow = e.numeric
            && e.end - e.start >= 11
            && a.end - a.start < e.end - e.start
            && allowed.iter().any(|&s0| ds >= s0 && de <= s0);
        let ok =
            allowed.contains(&ds) || (e.numeric && allowed.contains(&de)) || overflow || underflow;
        if !ok {
            return Some(format!(
                "token {} `{}` is at column {} (ends {}), expected column {} (ends {})",
                k + 1,
                a.masked,
                a.start + 1,
                a.end,
                e.start + 1,
                e.end
            ));
        }
        allowed = if e.numeric && ds != de {
            vec![ds, de]
        } else {
            vec![ds]
        };
    }
    if ta.len() > te.len() {
        return Some(format!(
            "extra token {} `{}` in actual",
            te.len() + 1,
            ta[te.len()].masked
        ));
    }
    None
}

/// Compares two result streams after masking (see the module documentation). Returns `None`
/// if they agree, else a readable report of every differing line (line numbers 1-based).
pub fn masked_diff(expected: &str, actual: &str) -> Option<String> {
    let el: Vec<&str> = expected.lines().collect();
    let al: Vec<&str> = actual.lines().collect();
    let mut report = String::new();
    let n = el.len().max(al.len());
    for i in 0..n {
        match (el.get(i), al.get(i)) {
            (Some(e), Some(a)) => {
                let me = mask_line(e, i == 0);
                let ma = mask_line(a, i == 0);
                if let Some(why) = compare_line(&me, &ma) {
                    report.push_str(&format!(
                        "line {}: {}\n  expected: {}\n  actual:   {}\n",
                        i + 1,
                        why,
                        e,
                        a
                    ));
                }
            }
            (Some(e), None) => report.push_str(&format!(
                "line {}: missing in actual\n  expected: {}\n",
                i + 1,
                e
            )),
            (None, Some(a)) => report.push_str(&format!(
                "line {}: extra in actual\n  actual:   {}\n",
                i + 1,
                a
            )),
            (None, None) => {}
        }
        if report.len() > 20_000 {
            report.push_str("...\n");
            break;
        }
    }
    if report.is_empty() {
        None
    } else {
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::masked_diff;

    const IOR: &str = "IOR-4.1.0+dev: MPI Coordinated Test of Parallel I/O
Began               : Mon Nov 23 23:33:48 2026
Command line        : ./src/ior -a POSIX -b 64m
Machine             : Linux vm
access    bw(MiB/s)  IOPS       Latency(s)  block(KiB) xfer(KiB)  open(s)    wr/rd(s)   close(s)   total(s)   iter
write     552.78     552.80     0.003618    65536      1024.00    0.000023   0.926195   0.040812   0.926221   0   
write        4015.84     552.78    2271.18    1413.91    0.42726         NA            NA     0 POSIX
Finished            : Mon Nov 23 23:33:50 2026
";

    const OURS: &str = "IOR-4.1.0+dev: MPI Coordinated Test of Parallel I/O (benchfs-bench 0.1.0)
Began               : Tue Dec  1 01:02:03 2026
Command line        : benchfs-bench -a POSIX -b 64m -t 1m
Machine             : Linux otherhost
access    bw(MiB/s)  IOPS       Latency(s)  block(KiB) xfer(KiB)  open(s)    wr/rd(s)   close(s)   total(s)   iter
write     5877       5878       0.000154    65536      1024.00    0.000085   0.087099   0.047780   0.087121   1   
write       12814.68    5850.29     880.00       5.11    0.07153         NA            NA     0 POSIX
Finished            : Tue Dec  1 01:02:04 2026
";

    #[test]
    fn accepts_different_numbers_dates_hosts() {
        assert_eq!(masked_diff(IOR, OURS), None);
    }

    #[test]
    fn rejects_shifted_column() {
        let shifted = OURS.replace("write     5877 ", "write      5877");
        let d = masked_diff(IOR, &shifted).expect("shift must be rejected");
        assert!(d.contains("line 6"), "{}", d);
        // a single vs double separator after the Latency column
        let shifted = OURS.replace("0.000154    65536", "0.000154   65536 ");
        assert!(masked_diff(IOR, &shifted).is_some());
        // a right-aligned number moved by one column
        let shifted = OURS.replace("   12814.68", "  12814.68 ");
        assert!(masked_diff(IOR, &shifted).is_some());
    }

    #[test]
    fn rejects_missing_and_extra_lines() {
        let missing = OURS.replace("Machine             : Linux otherhost\n", "");
        let d = masked_diff(IOR, &missing).expect("missing line must be rejected");
        assert!(
            d.contains("missing in actual") || d.contains("line 4"),
            "{}",
            d
        );
        let extra = format!("{}extra\n", OURS);
        assert!(masked_diff(IOR, &extra)
            .unwrap()
            .contains("extra in actual"));
    }

    #[test]
    fn rejects_changed_words_and_keeps_first_line_prefix() {
        let changed = OURS.replace("NA            NA", "NA            XX");
        assert!(masked_diff(IOR, &changed).is_some());
        let header = OURS.replace("IOR-4.1.0+dev", "IOR-3.3.0");
        assert!(masked_diff(IOR, &header).is_some());
        let trailing = OURS.replace(" 1   \n", " 1\n");
        // trailing spaces are not tokens: a missing trailing pad is accepted...
        assert_eq!(masked_diff(IOR, &trailing), None);
        // ...but a missing token is not
        let dropped = OURS.replace(" 0.087121   1   \n", " 1   \n");
        assert!(masked_diff(IOR, &dropped).is_some());
    }

    #[test]
    fn narrower_numbers_where_the_expected_overflowed_are_accepted() {
        let e = "write     46684427.13  160751.83 31176535.36    0.00107     0";
        let a = "write      965595.17   56331.87  365110.08    0.00553     0";
        assert_eq!(masked_diff(e, a), None);
        let shifted = "write      965595.17   56331.87  365110.08   0.00553     0";
        assert!(masked_diff(e, shifted).is_some());
    }

    #[test]
    fn pushed_columns_after_overflowing_number_are_accepted() {
        let a = "write         764.51     635.64 POSIX";
        let b = "write     46684427.13  160751.83 POSIX";
        assert_eq!(masked_diff(a, b), None);
    }
}
