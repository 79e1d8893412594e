//! Property tests: on random audiences and ledgers the engine agrees with a
//! plain reference model written from the semantics (full
//! `rlibphonenumber` parser, chrono timestamps, a map of latest events), and
//! covered + stale + revoked + missing = unique always holds.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use wabaguard::collect::consent::phone::{PhoneNormalizer, parse_region};
use wabaguard::collect::consent::{OptinParams, compute, timestamp};
use wabaguard::snapshot::optin::Coverage;

const PHONES: &[&str] = &[
    "+12025550143",
    "(202) 555-0143",
    "1-202-555-0143",
    "202.555.0178",
    "+1 212 555 0199",
    "001 312 555 0110",
    "+49 30 901820",
    "0049 (0)30 901820",
    "+55 11 96123-4567",
    "+44 20 7946 0958",
    "+52 55 1234 5678",
    "617-555-0100",
    "N/A",
    "",
    "1-800-FLOWERS",
    "000-000-0000",
    "415-555-01",
    "+1 999 000 0000",
];

const EVENTS: &[&str] = &["opt_in", "opt_in", "opt_out", "subscribe", "OPT_IN", ""];

const TIMES: &[&str] = &[
    "2024-01-01T00:00:00Z",
    "2025-11-24T00:00:00Z",
    "2025-11-23T23:59:59Z",
    "2026-06-01T10:00:00Z",
    "2026-06-01T05:00:00-05:00",
    "2026-06-01",
    "2026-11-24T00:00:00Z",
    "2026-11-24T00:00:01Z",
    "2027-01-01T00:00:00Z",
    "yesterday",
    "2026-02-30",
];

fn write_csv(
    dir: &std::path::Path,
    name: &str,
    header: &str,
    rows: &[String],
) -> std::path::PathBuf {
    let p = dir.join(name);
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(&p, s).unwrap();
    p
}

fn quote(s: &str) -> String {
    if s.contains(',') || s.contains('"') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The semantics, written the slow and obvious way.
fn reference(
    audience: &[usize],
    ledger: &[(usize, usize, usize)],
    as_of: i64,
    max_age_days: u32,
) -> Coverage {
    let mut norm = PhoneNormalizer::new(parse_region("US").unwrap()).without_fast_path();
    let mut c = Coverage::default();
    let mut unique = HashSet::new();
    let mut valid = 0u64;
    for &a in audience {
        c.total += 1;
        match norm.normalize_full(PHONES[a].as_bytes()) {
            Some(n) => {
                valid += 1;
                unique.insert(n);
            }
            None => c.invalid += 1,
        }
    }
    c.unique = unique.len() as u64;
    c.duplicates = valid - c.unique;
    let mut latest: HashMap<u64, (i64, bool)> = HashMap::new();
    for &(p, e, t) in ledger {
        c.ledger_rows += 1;
        let Some(n) = norm.normalize_full(PHONES[p].as_bytes()) else {
            c.ledger_invalid += 1;
            continue;
        };
        let opt_out = match EVENTS[e] {
            "opt_in" => false,
            "opt_out" => true,
            _ => {
                c.ledger_errors += 1;
                continue;
            }
        };
        let Some(at) = timestamp::slow(TIMES[t].as_bytes()) else {
            c.ledger_errors += 1;
            continue;
        };
        if at > as_of {
            c.ledger_future += 1;
            continue;
        }
        let e = latest.entry(n).or_insert((at, opt_out));
        if at > e.0 || (at == e.0 && opt_out) {
            *e = (at, opt_out);
        }
    }
    let cutoff = as_of - i64::from(max_age_days) * 86_400_000_000;
    for n in &unique {
        match latest.get(n) {
            None => c.missing += 1,
            Some((_, true)) => c.revoked += 1,
            Some((at, false)) if *at < cutoff => c.stale += 1,
            Some(_) => c.covered += 1,
        }
    }
    c.coverage = if c.unique == 0 {
        0.0
    } else {
        c.covered as f64 / c.unique as f64
    };
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn engine_matches_the_reference_model(
        audience in prop::collection::vec(0..PHONES.len(), 0..40),
        ledger in prop::collection::vec((0..PHONES.len(), 0..EVENTS.len(), 0..TIMES.len()), 0..80),
        max_age_days in 1u32..800,
        threads in 1usize..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let a_rows: Vec<String> = audience.iter().map(|&i| format!("{},x", quote(PHONES[i]))).collect();
        let l_rows: Vec<String> = ledger
            .iter()
            .map(|&(p, e, t)| format!("{},{},{},web", quote(PHONES[p]), EVENTS[e], TIMES[t]))
            .collect();
        let a = write_csv(dir.path(), "a.csv", "phone,name", &a_rows);
        let l = write_csv(dir.path(), "l.csv", "phone,event,timestamp,source", &l_rows);
        let as_of = timestamp::parse(b"2026-11-24").unwrap();
        let params = OptinParams {
            region: parse_region("US").unwrap(),
            as_of,
            max_age_days,
            phone_column: None,
            threads,
        };
        let got = compute(&a, &l, &params).unwrap().coverage;
        let want = reference(&audience, &ledger, as_of, max_age_days);
        prop_assert_eq!(got.covered + got.stale + got.revoked + got.missing, got.unique);
        let key = |c: &Coverage| (
            c.total, c.invalid, c.unique, c.duplicates, c.covered, c.stale, c.revoked, c.missing,
            c.ledger_rows, c.ledger_invalid, c.ledger_errors, c.ledger_future,
        );
        prop_assert_eq!(key(&got), key(&want));
        prop_assert_eq!(got.coverage, want.coverage);
    }
}
