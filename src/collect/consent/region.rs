//! The country (region) of a valid E.164 number, for country rules.
//!
//! A country calling code can be shared: +1 is the United States, Canada and
//! twenty-odd Caribbean and Pacific regions; +44 also the Channel Islands and
//! the Isle of Man; +7 Russia and Kazakhstan. The region is decided exactly as
//! libphonenumber's `get_region_for_number` decides it — the first region of
//! the code whose leading digits match, or for which the number is a valid
//! number type — over the same metadata compiled to DFAs (see
//! [`super::phonemeta`]), so a US number costs one DFA walk. Anything the fast
//! path cannot decide goes to the library.

use rlibphonenumber::{PHONE_NUMBER_UTIL, Region};

use super::phonemeta::PhoneMeta;

/// The region of an E.164 number (digits without `+`); `None` for numbers
/// of non-geographic codes or that fit no region.
pub fn region_of(e164: u64) -> Option<Region> {
    let mut buf = [0u8; 20];
    let mut n = e164;
    let mut len = 0;
    while n > 0 && len < buf.len() {
        buf[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    let d = &mut buf[..len];
    d.reverse();
    let d = &*d;
    match PhoneMeta::get().map(|m| fast(m, d)) {
        Some(Some(r)) => r,
        _ => by_library(e164),
    }
}

/// `Some(answer)` when the DFAs decide, `None` to ask the library.
fn fast(meta: &PhoneMeta, d: &[u8]) -> Option<Option<Region>> {
    let mut cc: u16 = 0;
    for (i, &b) in d.iter().take(3).enumerate() {
        cc = cc * 10 + u16::from(b - b'0');
        if !meta.is_country_code(cc) {
            continue;
        }
        let nsn = &d[i + 1..];
        let mut regions = meta.regions_for_code(cc);
        if regions.len() == 1 {
            return Some(regions.next().and_then(|r| r.region));
        }
        for r in regions {
            if !r.usable() {
                return None;
            }
            if r.leading_digits_match(nsn) == Some(true) || r.is_valid_nsn(nsn)? {
                return Some(r.region);
            }
        }
        return Some(None);
    }
    Some(None)
}

/// The reference: parse `+digits` and ask the library.
pub fn by_library(e164: u64) -> Option<Region> {
    let n = PHONE_NUMBER_UTIL.parse(format!("+{e164}"), None).ok()?;
    PHONE_NUMBER_UTIL
        .get_region_for_number(&n)
        .filter(|r| *r != Region::World)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e164: u64) -> Option<String> {
        region_of(e164).map(|r| r.as_region_str().as_str().to_owned())
    }

    #[test]
    fn plus_one_is_split_exactly() {
        assert_eq!(code(14155550132).as_deref(), Some("US"));
        assert_eq!(code(14165550132).as_deref(), Some("CA")); // Toronto
        assert_eq!(code(16045550132).as_deref(), Some("CA")); // Vancouver
        assert_eq!(code(18765550132).as_deref(), Some("JM"));
        assert_eq!(code(17875550132).as_deref(), Some("PR"));
        assert_eq!(code(12425550132).as_deref(), Some("BS"));
        assert_eq!(code(447400123456).as_deref(), Some("GB"));
        assert_eq!(code(447781123456).as_deref(), Some("GG"));
        assert_eq!(code(5511961234567).as_deref(), Some("BR"));
        assert_eq!(code(77012345678).as_deref(), Some("KZ"));
        assert_eq!(code(79123456789).as_deref(), Some("RU"));
    }

    #[test]
    fn agrees_with_the_library() {
        // Every +1 area code, and a spread of shared codes.
        let mut n = 0;
        for area in 200..1000u64 {
            for rest in [2_345_678u64, 5_550_132, 9_876_543] {
                let e164 = 10_000_000_000 + area * 10_000_000 + rest;
                assert_eq!(region_of(e164), by_library(e164), "+{e164}");
                n += 1;
            }
        }
        for base in [
            447_000_000_000_u64,
            77_000_000_000,
            590_690_000_000,
            262_692_000_000,
            4_779_000_000,
        ] {
            for k in 0..500u64 {
                let e164 = base + k * 7_919_113 % 1_000_000_000.min(base / 10);
                assert_eq!(region_of(e164), by_library(e164), "+{e164}");
                n += 1;
            }
        }
        assert!(n > 4000);
    }
}
