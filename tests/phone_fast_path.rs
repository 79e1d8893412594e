//! The phone fast path must agree with the full `rlibphonenumber` parser on
//! every number it decides itself.
//!
//! A deterministic generator mutates the example numbers of every region and
//! number type (digit changes, lengths ±2, trunk prefixes, country codes
//! written in national input, exit codes, separators, random digit strings)
//! and reads each value in one of 24 default regions, including regions that
//! share a country code (CA, AG, GG, KZ). Every value the fast path parses
//! but leaves unchecked must also parse to the library's country code and
//! national number. `WABAGUARD_PHONE_SAMPLES` sets the sample size (default
//! 1,000,000).

use std::collections::HashMap;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberType, Region};
use wabaguard::collect::consent::phone::{Candidate, Fast, PhoneNormalizer, parse_region};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const DEFAULT_REGIONS: &[&str] = &[
    "US", "CA", "AG", "BR", "MX", "DE", "IN", "ID", "GB", "GG", "FR", "IT", "AR", "RU", "KZ", "AU",
    "JP", "CN", "NG", "ZA", "ES", "NL", "SM", "VA",
];

const TYPES: &[PhoneNumberType] = &[
    PhoneNumberType::FixedLine,
    PhoneNumberType::Mobile,
    PhoneNumberType::TollFree,
    PhoneNumberType::PremiumRate,
    PhoneNumberType::SharedCost,
    PhoneNumberType::VoIP,
    PhoneNumberType::PersonalNumber,
    PhoneNumberType::Pager,
    PhoneNumberType::UAN,
    PhoneNumberType::VoiceMail,
];

/// (country code, national significant number, region code) of every example number.
fn examples() -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        for t in TYPES {
            if let Ok(n) = PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, *t) {
                out.push((
                    n.country_code as u16,
                    rlibphonenumber::get_national_significant_number_owned(&n),
                    region.as_region_str().as_str().to_owned(),
                ));
            }
        }
    }
    for cc in PHONE_NUMBER_UTIL.get_supported_global_network_calling_codes() {
        if let Ok(n) = PHONE_NUMBER_UTIL.get_example_number_for_non_geo_entity(cc) {
            out.push((
                cc as u16,
                rlibphonenumber::get_national_significant_number_owned(&n),
                "001".into(),
            ));
        }
    }
    out
}

fn mutate(rng: &mut Rng, nsn: &str) -> String {
    let mut d: Vec<u8> = nsn.bytes().collect();
    for _ in 0..rng.below(4) {
        if !d.is_empty() {
            let i = rng.below(d.len());
            d[i] = b'0' + rng.below(10) as u8;
        }
    }
    if rng.chance(15) {
        match rng.below(4) {
            0 => d.push(b'0' + rng.below(10) as u8),
            1 => {
                d.pop();
            }
            2 => {
                d.push(b'0' + rng.below(10) as u8);
                d.push(b'0' + rng.below(10) as u8);
            }
            _ => {
                d.pop();
                d.pop();
            }
        }
    }
    String::from_utf8(d).unwrap_or_default()
}

fn separate(rng: &mut Rng, s: &str) -> String {
    if !rng.chance(40) {
        return s.to_owned();
    }
    let seps = [" ", "-", ".", " ", "\u{a0}"];
    let sep = seps[rng.below(seps.len())];
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && i % (2 + rng.below(3)) == 0 {
            out.push_str(sep);
        }
        out.push(ch);
    }
    if rng.chance(20) && out.is_char_boundary(3) && out.len() > 4 {
        out = format!("({}) {}", &out[..3], &out[3..]);
    }
    out
}

fn sample(rng: &mut Rng, ex: &[(u16, String, String)], region: &str, region_cc: u16) -> String {
    let roll = rng.below(100);
    if roll < 8 {
        // Random digit strings, any length, any prefix.
        let len = 1 + rng.below(22);
        let digits: String = (0..len)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        return match rng.below(3) {
            0 => format!("+{digits}"),
            1 => format!("00{digits}"),
            _ => digits,
        };
    }
    // Prefer numbers of the default region for national forms.
    let same: Vec<&(u16, String, String)> = ex.iter().filter(|e| e.2 == region).collect();
    let (cc, nsn, _) = if roll < 55 && !same.is_empty() {
        same[rng.below(same.len())]
    } else {
        &ex[rng.below(ex.len())]
    };
    let nsn = mutate(rng, nsn);
    let trunk = ["0", "1", "8", "90", "021", "0 15", "06", "180020"][rng.below(8)];
    let idd = ["011", "00", "810", "0011", "010", "001", "09", "0015"][rng.below(8)];
    let body = separate(rng, &nsn);
    match rng.below(12) {
        0 | 1 => format!("+{cc}{nsn}"),
        2 => format!("+{cc} {body}"),
        3 => format!("00{cc}{body}"),
        4 => format!("+{cc} ({trunk}) {body}"),
        5 | 6 => body,
        7 => format!("{trunk}{nsn}"),
        8 => format!("{region_cc}{nsn}"),
        9 => format!("{region_cc}{trunk}{nsn}"),
        10 => format!("{idd}{cc}{nsn}"),
        _ => format!("{idd} {region_cc} {body}"),
    }
}

#[test]
fn fast_path_agrees_with_the_full_parser() {
    let n: usize = std::env::var("WABAGUARD_PHONE_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let ex = examples();
    assert!(ex.len() > 1000, "only {} example numbers", ex.len());
    let threads = 2;
    let results: Vec<(usize, usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ex = &ex;
                s.spawn(move || {
                    let mut rng = Rng(0x5eed_0000 + t as u64);
                    let mut norms: HashMap<&str, (PhoneNormalizer, u16)> = HashMap::new();
                    let (mut fast, mut valid, mut fallback) = (0, 0, 0);
                    let mut bad = Vec::new();
                    for _ in 0..n / threads {
                        let code = DEFAULT_REGIONS[rng.below(DEFAULT_REGIONS.len())];
                        let (norm, cc) = norms.entry(code).or_insert_with(|| {
                            let r: Region = parse_region(code).unwrap();
                            let cc =
                                PHONE_NUMBER_UTIL.get_country_code_for_region(r).unwrap() as u16;
                            (PhoneNormalizer::new(r), cc)
                        });
                        let raw = sample(&mut rng, ex, code, *cc);
                        let f = norm.normalize_fast_only(raw.as_bytes());
                        let full = norm.normalize_full(raw.as_bytes());
                        // A candidate the fast path has not checked yet must be
                        // exactly what the library's parser reads (the ledger
                        // skips the check for numbers of the audience).
                        if let Candidate::Check(u) = norm.candidate(raw.as_bytes()) {
                            let want = norm.reference_candidate(raw.as_bytes());
                            if want != Some((u.country_code(), u.nsn())) {
                                bad.push(format!(
                                    "{code} {raw:?}: fast candidate +{} {}, library {want:?}",
                                    u.country_code(),
                                    u.nsn()
                                ));
                            }
                        }
                        match f {
                            Fast::Fallback => fallback += 1,
                            Fast::Valid(v) => {
                                fast += 1;
                                valid += 1;
                                if full != Some(v) {
                                    bad.push(format!("{code} {raw:?}: fast {v}, full {full:?}"));
                                }
                            }
                            Fast::Invalid => {
                                fast += 1;
                                if full.is_some() {
                                    bad.push(format!(
                                        "{code} {raw:?}: fast invalid, full {full:?}"
                                    ));
                                }
                            }
                        }
                    }
                    (fast, valid, fallback, bad)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fast: usize = results.iter().map(|r| r.0).sum();
    let valid: usize = results.iter().map(|r| r.1).sum();
    let fallback: usize = results.iter().map(|r| r.2).sum();
    let bad: Vec<&String> = results.iter().flat_map(|r| r.3.iter()).collect();
    eprintln!(
        "{} samples: fast path decided {fast} ({valid} valid), full parser {fallback}",
        fast + fallback
    );
    assert!(
        bad.is_empty(),
        "{} disagreements, e.g.:\n{}",
        bad.len(),
        bad.iter()
            .take(25)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator is adversarial; still, most values must take the fast path.
    assert!(
        fast > (fast + fallback) * 6 / 10,
        "fast {fast}, fallback {fallback}"
    );
    assert!(
        valid > (fast + fallback) / 10,
        "too few valid samples: {valid}"
    );
}
