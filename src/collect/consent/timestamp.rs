//! Ledger timestamps: RFC 3339, or a date alone meaning 00:00:00Z.
//!
//! The definition is chrono's `DateTime::parse_from_rfc3339` (which also
//! accepts a space or `t` between date and time, `z`, any number of
//! fraction digits and a leap second) plus `YYYY-MM-DD`. A hand-written parser
//! handles the common shapes (`2025-03-14T09:30:00Z`, fractions, `±HH:MM`)
//! and leaves everything else to chrono; a test checks that they agree.
//! Instants are kept as microseconds since the Unix epoch (finer fractions
//! are truncated), which is the precision events are compared at.

use chrono::{DateTime, NaiveDate};

/// Microseconds since 1970-01-01T00:00:00Z.
pub type Micros = i64;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Parses a timestamp (surrounding ASCII white space ignored).
pub fn parse(raw: &[u8]) -> Option<Micros> {
    let s = raw.trim_ascii();
    match fast(s) {
        Some(v) => v,
        None => slow(s),
    }
}

/// The definition: chrono for RFC 3339, a strict `YYYY-MM-DD` for dates.
pub fn slow(s: &[u8]) -> Option<Micros> {
    let s = std::str::from_utf8(s).ok()?;
    if s.len() == 10 && is_date_shape(s.as_bytes()) {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    let dt = DateTime::parse_from_rfc3339(s).ok()?;
    Some(dt.timestamp_micros())
}

fn is_date_shape(b: &[u8]) -> bool {
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `Some(result)` when the shape is one the fast parser decides; `None` to
/// ask chrono.
pub fn fast(b: &[u8]) -> Option<Option<Micros>> {
    if b.len() < 10 || !is_date_shape(&b[..10]) {
        return None;
    }
    let year = num(&b[0..4]) as i64;
    let month = num(&b[5..7]);
    let day = num(&b[8..10]);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Some(None);
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(Some(days * MICROS_PER_DAY));
    }
    // `T` hh `:` mm `:` ss
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !digits(11..13) || !digits(14..16) || !digits(17..19) {
        return None;
    }
    let (h, m, s) = (num(&b[11..13]), num(&b[14..16]), num(&b[17..19]));
    if h > 23 || m > 59 || s > 59 {
        // Leap seconds and out-of-range values: chrono decides.
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start || end - start > 9 {
            return None;
        }
        for k in 0..6 {
            micros = micros * 10
                + b.get(start + k)
                    .filter(|_| start + k < end)
                    .map_or(0, |d| i64::from(d - b'0'));
        }
        i = end;
    }
    let offset_secs: i64 = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            if ![h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let om = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if oh > 23 || om > 59 {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s) - offset_secs;
    Some(Some(secs * 1_000_000 + micros))
}

fn num(b: &[u8]) -> u32 {
    b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats an instant as RFC 3339 UTC (`2026-11-24T23:30:00Z`).
pub fn format(us: Micros) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Micros> {
        let a = parse(s.as_bytes());
        assert_eq!(
            a,
            slow(s.trim().as_bytes()),
            "fast and chrono disagree on {s:?}"
        );
        a
    }

    #[test]
    fn date_only_means_midnight_utc() {
        assert_eq!(at("2025-03-14"), at("2025-03-14T00:00:00Z"));
        assert_eq!(at("1970-01-02"), Some(MICROS_PER_DAY));
    }

    #[test]
    fn offsets_fractions_and_separators() {
        let z = at("2025-03-14T10:00:00Z").unwrap();
        assert_eq!(at("2025-03-14T05:00:00-05:00"), Some(z));
        assert_eq!(at("2025-03-14 10:00:00z"), Some(z));
        assert_eq!(at("2025-03-14t11:30:00+01:30"), Some(z));
        assert_eq!(at("2025-03-14T10:00:00.5Z"), Some(z + 500_000));
        assert_eq!(at("2025-03-14T10:00:00.123456789Z"), Some(z + 123_456));
        assert_eq!(at(" 2025-03-14T10:00:00Z "), Some(z));
    }

    #[test]
    fn unparseable_values() {
        for s in [
            "",
            "yesterday",
            "2025-02-30",
            "2025-13-01",
            "2025-03-14T25:00:00Z",
            "2025-03-14T10:00:00",
            "2025-03-14T10:00Z",
            "14/03/2025",
            "2025-3-14",
            "1710410400",
            "2025-03-14T10:00:00+0100",
        ] {
            assert_eq!(at(s), None, "{s}");
        }
    }

    #[test]
    fn leap_years() {
        assert!(at("2024-02-29").is_some());
        assert!(at("2023-02-29").is_none());
        assert!(at("2000-02-29").is_some());
        assert!(at("1900-02-29").is_none());
    }

    #[test]
    fn fast_parser_agrees_with_chrono_on_generated_values() {
        let mut x: u64 = 0x1234_5678;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut checked = 0;
        for _ in 0..200_000 {
            let y = 1960 + next(100);
            let mo = next(14);
            let d = next(33);
            let (h, mi, s) = (next(26), next(61), next(62));
            let sep = ["T", "t", " ", "_"][next(4) as usize];
            let frac = ["", ".1", ".123456", ".1234567891", "."][next(5) as usize];
            let off = [
                "Z", "z", "+00:00", "-05:00", "+14:00", "+24:00", "-23:59", "+5:00", "",
            ][next(9) as usize];
            let s = if next(5) == 0 {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}")
            };
            assert_eq!(parse(s.as_bytes()), slow(s.as_bytes()), "{s}");
            checked += 1;
        }
        assert_eq!(checked, 200_000);
    }
}
