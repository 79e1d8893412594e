//! Deterministic generator of realistic opt-in exports for tests and benchmarks.
//!
//! ```text
//! cargo run --release --example gen_optin -- ROWS LEDGER_ROWS SEED OUT_DIR
//! cargo run --release --example gen_optin -- 1000000 1500000 42 /tmp/optin-1m
//! ```
//!
//! Writes `OUT_DIR/audience.csv` (`phone,first_name,segment`) and
//! `OUT_DIR/consent_ledger.csv` (`phone,event,timestamp,source`), meant to be
//! read with `--region US --as-of 2026-11-24T00:00:00Z`:
//! - numbers from the US (half), BR, MX, DE, IN, ID and GB, each checked valid
//!   with wabaguard's own normaliser, written in mixed national (US) and
//!   international formats (`+1 415 555 0123`, `(415) 555-0123`,
//!   `001 415 555 0123`, `+49 (0)30 ...`, `0055 11 9...`);
//! - about 1% junk values (`N/A`, empty, letters, too short, `000-000-0000`,
//!   vanity numbers) and 3% duplicate rows repeating a number in another format;
//! - one to four consent events per number over the three years before the
//!   as-of date (mostly opt-ins, some opt-outs, a few numbers never opted in),
//!   about 0.5% dated after it, 0.2% unreadable rows (unknown events, bad
//!   timestamps), and 10% of the ledger about numbers that are not in the
//!   audience; timestamps in UTC, with offsets, or as dates.
//!
//! The same arguments always give the same files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use wabaguard::collect::consent::phone::{PhoneNormalizer, parse_region};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Country {
    Us,
    Br,
    Mx,
    De,
    In,
    Id,
    Gb,
}

const US_AREAS: &[&str] = &[
    "201", "202", "203", "205", "206", "207", "208", "210", "212", "213", "214", "215", "216",
    "217", "224", "225", "248", "253", "267", "281", "301", "303", "305", "310", "312", "313",
    "314", "317", "323", "347", "404", "408", "412", "415", "425", "469", "480", "503", "512",
    "602", "615", "617", "646", "702", "713", "718", "720", "773", "786", "801", "818", "832",
    "904", "917", "919", "954",
];
const BR_AREAS: &[&str] = &[
    "11", "21", "31", "41", "51", "61", "71", "81", "85", "19", "27", "48",
];
const MX_AREAS: &[&str] = &["55", "33", "81", "222", "442", "477", "664", "998"];
const DE_AREAS: &[&str] = &["30", "40", "89", "69", "221", "211", "711", "341"];
const DE_MOBILE: &[&str] = &[
    "151", "152", "157", "160", "162", "170", "171", "172", "176", "179",
];

/// A national significant number (no trunk prefix) for a country.
fn nsn(rng: &mut Rng, c: Country) -> String {
    match c {
        Country::Us => format!(
            "{}{}{}",
            rng.pick(US_AREAS),
            2 + rng.below(8),
            rng.digits(6)
        ),
        Country::Br => format!(
            "{}9{}{}",
            rng.pick(BR_AREAS),
            6 + rng.below(4),
            rng.digits(7)
        ),
        Country::Mx => {
            let a = rng.pick(MX_AREAS);
            format!("{a}{}", rng.digits(10 - a.len()))
        }
        Country::De => {
            if rng.chance(600) {
                let p = rng.pick(DE_MOBILE);
                format!("{p}{}", rng.digits(if p.starts_with("15") { 8 } else { 7 }))
            } else {
                let a = rng.pick(DE_AREAS);
                format!("{a}{}{}", 2 + rng.below(8), rng.digits(6))
            }
        }
        Country::In => format!("{}{}", 7 + rng.below(3), rng.digits(9)),
        Country::Id => {
            let len = 7 + rng.below(2) as usize;
            format!("81{}{}", 1 + rng.below(3), rng.digits(len))
        }
        Country::Gb => {
            if rng.chance(700) {
                format!("7{}{}", 4 + rng.below(6), rng.digits(8))
            } else {
                format!("20{}{}", 7 + rng.below(2), rng.digits(7))
            }
        }
    }
}

fn cc(c: Country) -> &'static str {
    match c {
        Country::Us => "1",
        Country::Br => "55",
        Country::Mx => "52",
        Country::De => "49",
        Country::In => "91",
        Country::Id => "62",
        Country::Gb => "44",
    }
}

fn country(rng: &mut Rng) -> Country {
    match rng.below(100) {
        0..50 => Country::Us,
        50..62 => Country::Br,
        62..72 => Country::Mx,
        72..80 => Country::De,
        80..88 => Country::In,
        88..94 => Country::Id,
        _ => Country::Gb,
    }
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    for &n in sizes {
        if i >= s.len() {
            break;
        }
        let end = (i + n).min(s.len());
        out.push(&s[i..end]);
        i = end;
    }
    if i < s.len() {
        out.push(&s[i..]);
    }
    out.join(sep)
}

/// One way people write a number (`style` picks the format).
fn format(rng: &mut Rng, c: Country, n: &str, style: u64) -> String {
    let code = cc(c);
    if c == Country::Us {
        let (a, b, d) = (&n[0..3], &n[3..6], &n[6..]);
        return match style % 7 {
            0 => format!("({a}) {b}-{d}"),
            1 => format!("+1 {a} {b} {d}"),
            2 => n.to_owned(),
            3 => format!("1-{a}-{b}-{d}"),
            4 => format!("001 {a} {b} {d}"),
            5 => format!("+1{n}"),
            _ => format!("{a}.{b}.{d}"),
        };
    }
    let trunk = matches!(c, Country::De | Country::Gb | Country::In | Country::Id);
    match style % 6 {
        0 | 1 => format!("+{code}{n}"),
        2 => format!("+{code} {}", group(n, &[2, 4, 4], " ")),
        3 => format!("00{code} {}", group(n, &[3, 3, 4], " ")),
        4 if trunk => format!("+{code} (0){}", group(n, &[3, 7], " ")),
        4 => format!("+{code}-{}", group(n, &[2, 5, 4], "-")),
        _ => {
            let _ = rng;
            format!("+{code} {}", group(n, &[2, 3, 3, 4], "."))
        }
    }
}

fn e164(c: Country, n: &str) -> String {
    format!("+{}{n}", cc(c))
}

const JUNK: &[&str] = &[
    "N/A",
    "",
    "unknown",
    "123",
    "+1 800 FLOWERS",
    "000-000-0000",
    "555-0199",
    "n/a",
    "-",
    "tbd",
    "0",
    "+",
    "call me",
    "maria@example.com",
    "+44 20 7946 095",
    "(415) 555-01",
];
const NAMES: &[&str] = &[
    "Maria", "Ana", "John", "Wei", "Priya", "Ahmed", "Lucas", "Sofia", "Hannah", "Keanu", "Jonas",
    "Siti", "Rahul", "Olivia", "Mateo", "Emma", "Noah", "Aisha", "Budi", "Chloe",
];
const SEGMENTS: &[&str] = &[
    "loyalty_member",
    "holiday_shoppers",
    "lapsed_90d",
    "newsletter",
    "vip",
    "cart_abandoners",
];
const SOURCES: &[&str] = &[
    "web_form",
    "checkout",
    "in_chat",
    "sms_keyword",
    "pos",
    "import_2024",
];

/// 2026-11-24T00:00:00Z, the as-of date the files are made for.
const AS_OF: i64 = 1_795_478_400;
const THREE_YEARS: u64 = 3 * 365 * 86_400;

fn timestamp(rng: &mut Rng, secs: i64) -> String {
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    match rng.below(20) {
        0 => dt.format("%Y-%m-%d").to_string(),
        1 => {
            // The same instant written in UTC−05:00.
            let local = chrono::DateTime::from_timestamp(secs - 5 * 3600, 0).unwrap_or_default();
            format!("{}-05:00", local.format("%Y-%m-%dT%H:%M:%S"))
        }
        2 => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        _ => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: gen_optin ROWS LEDGER_ROWS SEED OUT_DIR");
        std::process::exit(2);
    }
    let rows: u64 = args[0].parse().expect("ROWS is a number");
    let ledger_rows: u64 = args[1].parse().expect("LEDGER_ROWS is a number");
    let seed: u64 = args[2].parse().expect("SEED is a number");
    let dir = PathBuf::from(&args[3]);
    std::fs::create_dir_all(&dir)?;
    let mut rng = Rng(seed);
    let mut check = PhoneNormalizer::new(parse_region("US").unwrap_or_else(|e| panic!("{e}")));

    // Distinct valid numbers of the audience.
    let unique_target = rows - rows * 4 / 100;
    let mut numbers: Vec<(Country, String)> = Vec::with_capacity(unique_target as usize);
    let mut seen = std::collections::HashSet::with_capacity(unique_target as usize);
    while (numbers.len() as u64) < unique_target {
        let c = country(&mut rng);
        let n = nsn(&mut rng, c);
        let Some(e) = check.normalize(e164(c, &n).as_bytes()) else {
            continue;
        };
        if !seen.insert(e) {
            continue;
        }
        numbers.push((c, n));
    }
    drop(seen);

    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join("audience.csv"))?);
    writeln!(out, "phone,first_name,segment")?;
    let mut next = 0usize;
    for _ in 0..rows {
        let r = rng.below(1000);
        let phone = if r < 10 {
            rng.pick(JUNK).to_string()
        } else if r < 40 && next > 0 {
            // A duplicate in another format.
            let (c, n) = &numbers[rng.below(next as u64) as usize];
            let style = rng.below(7);
            format(&mut rng, *c, n, style + 1)
        } else if next < numbers.len() {
            let (c, n) = &numbers[next];
            next += 1;
            let style = rng.below(7);
            format(&mut rng, *c, n, style)
        } else {
            let (c, n) = &numbers[rng.below(numbers.len() as u64) as usize];
            let style = rng.below(7);
            format(&mut rng, *c, n, style)
        };
        let phone = if phone.contains(',') {
            format!("\"{phone}\"")
        } else {
            phone
        };
        writeln!(out, "{phone},{},{}", rng.pick(NAMES), rng.pick(SEGMENTS))?;
    }
    out.flush()?;

    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join("consent_ledger.csv"))?);
    writeln!(out, "phone,event,timestamp,source")?;
    let mut written = 0u64;
    let mut i = 0usize;
    while written < ledger_rows {
        let outsider = rng.chance(100) || numbers.is_empty();
        let (c, n) = if outsider {
            let c = country(&mut rng);
            (c, nsn(&mut rng, c))
        } else {
            let k = i % numbers.len();
            i += 1;
            // About 7% of audience numbers never opted in.
            if rng.chance(70) {
                continue;
            }
            numbers[k].clone()
        };
        let events = match rng.below(100) {
            0..65 => 1,
            65..90 => 2,
            90..97 => 3,
            _ => 4,
        };
        // Events spread over three years; the latest is recent for most
        // numbers (an active customer base), older for the rest.
        let mut times: Vec<i64> = (0..events)
            .map(|_| AS_OF - THREE_YEARS as i64 + rng.below(THREE_YEARS) as i64)
            .collect();
        times.sort_unstable();
        if rng.chance(800) {
            if let Some(last) = times.last_mut() {
                *last = (*last).max(AS_OF - rng.below(340 * 86_400) as i64);
            }
        }
        for (e, &t) in times.iter().enumerate() {
            if written >= ledger_rows {
                break;
            }
            let event = if e == 0 || rng.chance(920) {
                "opt_in"
            } else {
                "opt_out"
            };
            let mut at = t;
            if rng.chance(5) {
                at = AS_OF + rng.below(60 * 86_400) as i64;
            }
            let phone = if rng.chance(900) {
                e164(c, &n)
            } else {
                let style = rng.below(7);
                format(&mut rng, c, &n, style)
            };
            let (event, ts) = if rng.chance(2) {
                ("subscribe", timestamp(&mut rng, at))
            } else if rng.chance(2) {
                (
                    event,
                    ["yesterday", "14/03/2025 10:22", "2025-02-30", ""][rng.below(4) as usize]
                        .to_owned(),
                )
            } else {
                (event, timestamp(&mut rng, at))
            };
            writeln!(out, "{phone},{event},{ts},{}", rng.pick(SOURCES))?;
            written += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "wrote {} ({} rows) and {} ({} rows)",
        dir.join("audience.csv").display(),
        rows,
        dir.join("consent_ledger.csv").display(),
        written
    );
    Ok(())
}
