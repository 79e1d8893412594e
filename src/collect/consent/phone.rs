//! Phone normalisation to E.164, exactly as the opt-in semantics define it.
//!
//! 1. Strip spaces (any Unicode white space, e.g. the no-break space of
//!    spreadsheet exports), dashes (`-` and the Unicode hyphens/dashes
//!    U+2010–U+2015, U+2212), dots and parentheses.
//! 2. Anything else that is not an ASCII digit makes the value invalid, except
//!    one `+` in first position: no vanity letters (`1-800-FLOWERS` is
//!    invalid), no extensions, no `/`, `#`, `*`.
//! 3. A leading `+` or `00` means international (also in the US, whose real
//!    exit code is 011); anything else is a national number of the default
//!    region, read the way libphonenumber reads national input — national
//!    prefix (`0`, US `1`) stripped, a leading country code of the region
//!    recognised — except that the region's own exit code is *not* honoured:
//!    `011 44 20 7946 0958` with region US is the national number
//!    `01144207946 0958`, which is invalid.
//! 4. The number must be valid for its own country (libphonenumber's
//!    `is_valid_number`, via `rlibphonenumber`).
//!
//! A valid number is returned as its E.164 digits in a `u64`
//! (`+14155550123` → `14155550123`).
//!
//! Two implementations give the same answers: [`PhoneNormalizer::normalize_full`]
//! calls `rlibphonenumber` for every number (about 2–4 µs each), and the fast
//! path ([`PhoneNormalizer::normalize`]) re-implements the parser's steps for
//! digit-only input over the same metadata compiled to DFAs (see
//! [`super::phonemeta`]), falling back to the full parser for every shape it
//! does not handle itself (national prefixes with transform rules, an exit
//! code in national input, very short or long input, ...). The agreement of
//! the two is tested on millions of generated numbers (`tests/phone_fast_path.rs`).

use rlibphonenumber::{CountryCodeSource, PHONE_NUMBER_UTIL, PhoneNumber, Region};

use super::phonemeta::{LengthTest, MAX_NSN, PhoneMeta, RegionMeta};

/// The shape of a value after stripping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Characters other than digits and a leading `+`, or no digits at all.
    Invalid,
    /// `+` or `00`: the digits start with a country calling code.
    International,
    /// A national number of the default region.
    National,
}

/// Strips `raw` into `out` (digits only, without the `+` or `00` marker).
pub fn clean(raw: &[u8], out: &mut Vec<u8>) -> Shape {
    out.clear();
    let mut plus = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'0'..=b'9' => out.push(b),
            b' ' | b'-' | b'.' | b'(' | b')' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {}
            b'+' if !plus && out.is_empty() => plus = true,
            0x80.. => {
                // A multi-byte character: only white space and dashes are stripped.
                let n = match b {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => return Shape::Invalid,
                };
                let Some(ch) = raw
                    .get(i..i + n)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.chars().next())
                else {
                    return Shape::Invalid;
                };
                if !(ch.is_whitespace() || is_dash(ch)) {
                    return Shape::Invalid;
                }
                i += n;
                continue;
            }
            _ => return Shape::Invalid,
        }
        i += 1;
    }
    if out.is_empty() {
        Shape::Invalid
    } else if plus {
        Shape::International
    } else if out.starts_with(b"00") {
        out.drain(..2);
        if out.is_empty() {
            Shape::Invalid
        } else {
            Shape::International
        }
    } else {
        Shape::National
    }
}

fn is_dash(ch: char) -> bool {
    matches!(ch, '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// A region code accepted as default region: `US`, `br`, ...
pub fn parse_region(code: &str) -> Result<Region, String> {
    let up = code.trim().to_ascii_uppercase();
    let region: Region = up.parse().map_err(|_| {
        format!("unknown region `{code}` (expected an ISO 3166 code such as US, BR, DE)")
    })?;
    if region == Region::World
        || PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .is_none()
    {
        return Err(format!("region `{code}` has no phone numbering plan"));
    }
    Ok(region)
}

/// Outcome of the fast path alone (for tests and statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    Valid(u64),
    Invalid,
    /// Not a shape the fast path handles: ask the full parser.
    Fallback,
}

/// How many numbers each path decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathStats {
    pub fast: u64,
    pub full: u64,
}

/// Normalises phone numbers for one default region. Cheap to clone; one per
/// thread (it owns a scratch buffer).
#[derive(Clone)]
pub struct PhoneNormalizer {
    region: Region,
    country_code: u16,
    cc_digits: Vec<u8>,
    meta: Option<&'static PhoneMeta>,
    region_meta: Option<&'static RegionMeta>,
    buf: Vec<u8>,
    full_buf: String,
    pub stats: PathStats,
}

impl std::fmt::Debug for PhoneNormalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneNormalizer")
            .field("region", &self.region.as_region_str().as_str())
            .field("fast_path", &self.region_meta.is_some())
            .finish()
    }
}

impl PhoneNormalizer {
    pub fn new(region: Region) -> Self {
        let country_code = PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0);
        let meta = PhoneMeta::get();
        let region_meta = meta.and_then(|m| m.region(region.as_region_str().as_str()));
        PhoneNormalizer {
            region,
            country_code,
            cc_digits: country_code.to_string().into_bytes(),
            meta,
            region_meta,
            buf: Vec::with_capacity(32),
            full_buf: String::with_capacity(32),
            stats: PathStats::default(),
        }
    }

    /// The same normaliser with the fast path switched off (every number goes
    /// through `rlibphonenumber`).
    pub fn without_fast_path(mut self) -> Self {
        self.meta = None;
        self.region_meta = None;
        self
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// Normalises one value: `Some(e164 digits)` when valid.
    #[inline]
    pub fn normalize(&mut self, raw: &[u8]) -> Option<u64> {
        let shape = clean(raw, &mut self.buf);
        match self.fast_cleaned(shape) {
            Fast::Valid(n) => {
                self.stats.fast += 1;
                Some(n)
            }
            Fast::Invalid => {
                self.stats.fast += 1;
                None
            }
            Fast::Fallback => {
                self.stats.full += 1;
                full_cleaned(
                    shape,
                    &self.buf,
                    self.region,
                    self.country_code,
                    &mut self.full_buf,
                )
            }
        }
    }

    /// The reference: every step by `rlibphonenumber`.
    pub fn normalize_full(&mut self, raw: &[u8]) -> Option<u64> {
        let shape = clean(raw, &mut self.buf);
        full_cleaned(
            shape,
            &self.buf,
            self.region,
            self.country_code,
            &mut self.full_buf,
        )
    }

    /// The fast path alone.
    pub fn normalize_fast_only(&mut self, raw: &[u8]) -> Fast {
        let shape = clean(raw, &mut self.buf);
        self.fast_cleaned(shape)
    }

    #[inline]
    fn fast_cleaned(&self, shape: Shape) -> Fast {
        let (Some(meta), Some(region)) = (self.meta, self.region_meta) else {
            return match shape {
                Shape::Invalid => Fast::Invalid,
                _ => Fast::Fallback,
            };
        };
        let d = self.buf.as_slice();
        match shape {
            Shape::Invalid => Fast::Invalid,
            _ if d.len() < 4 || d.len() > 24 => Fast::Fallback,
            Shape::International => fast_international(meta, d),
            Shape::National => fast_national(meta, region, self.country_code, &self.cc_digits, d),
        }
    }
}

/// `parse("+" + d)`: the country code is the first 1–3 digits that are one.
fn fast_international(meta: &PhoneMeta, d: &[u8]) -> Fast {
    if d[0] == b'0' {
        return Fast::Fallback;
    }
    let mut cc: u16 = 0;
    for (i, &b) in d.iter().take(3).enumerate() {
        cc = cc * 10 + u16::from(b - b'0');
        if meta.is_country_code(cc) {
            let Some(m) = meta.main_for_code(cc) else {
                return Fast::Fallback;
            };
            return finish(meta, cc, m, &d[i + 1..]);
        }
    }
    Fast::Fallback
}

/// `parse(d, region)`, minus the exit-code detection (which falls back).
fn fast_national(meta: &PhoneMeta, r: &RegionMeta, cc_r: u16, cc_digits: &[u8], d: &[u8]) -> Fast {
    if !r.usable() {
        return Fast::Fallback;
    }
    // The region's exit code at the start: libphonenumber would read the
    // number as international; the full parser handles that case.
    if let Some(end) = r.idd_find(d) {
        if d.get(end) != Some(&b'0') {
            return Fast::Fallback;
        }
    }
    let mut cc = 0u16;
    let mut nsn0 = d;
    if let Some(potential) = d.strip_prefix(cc_digits) {
        let Some(stripped) = strip_national_prefix(r, potential) else {
            return Fast::Fallback;
        };
        if (!r.general_pattern_match(d) && r.general_pattern_match(stripped))
            || r.test_length(d.len()) == LengthTest::TooLong
        {
            cc = cc_r;
            nsn0 = stripped;
        }
    }
    let mut m = r;
    if cc != 0 {
        match meta.main_for_code(cc) {
            Some(main) if main.id != r.id => m = main,
            Some(_) => {}
            None => return Fast::Fallback,
        }
    } else {
        cc = cc_r;
    }
    finish(meta, cc, m, nsn0)
}

/// The rest of `parse_helper` (national prefix, lengths) and `is_valid_number`.
fn finish(meta: &PhoneMeta, cc: u16, m: &RegionMeta, nsn0: &[u8]) -> Fast {
    if !m.usable() || nsn0.len() < 2 {
        return Fast::Fallback;
    }
    let Some(candidate) = strip_national_prefix(m, nsn0) else {
        return Fast::Fallback;
    };
    let nsn = match m.test_length(candidate.len()) {
        LengthTest::LocalOnly | LengthTest::TooShort | LengthTest::InvalidLength => nsn0,
        LengthTest::Possible | LengthTest::TooLong => candidate,
    };
    // Very short or long numbers, and runs of leading zeros (libphonenumber
    // stores those as a count), are left to the full parser.
    if nsn.len() < 4 || nsn.len() > MAX_NSN || nsn.starts_with(b"00") {
        return Fast::Fallback;
    }
    match is_valid(meta, cc, nsn) {
        Some(true) => match e164(cc, nsn) {
            Some(n) => Fast::Valid(n),
            None => Fast::Fallback,
        },
        Some(false) => Fast::Invalid,
        None => Fast::Fallback,
    }
}

/// `maybe_strip_national_prefix_and_carrier_code` without a transform rule;
/// `None` when a transform rule would apply (fall back).
#[inline]
fn strip_national_prefix<'a>(m: &RegionMeta, s: &'a [u8]) -> Option<&'a [u8]> {
    if !m.has_npfp() || s.is_empty() {
        return Some(s);
    }
    match m.npfp_find(s) {
        None => Some(s),
        Some(_) if m.transform_rule => None,
        Some(end) => {
            let stripped = &s[end..];
            if m.general_pattern_match(s) && !m.general_pattern_match(stripped) {
                Some(s)
            } else {
                Some(stripped)
            }
        }
    }
}

/// `is_valid_number`: region selection among the regions sharing the
/// country code, then the number types of the chosen region.
fn is_valid(meta: &PhoneMeta, cc: u16, nsn: &[u8]) -> Option<bool> {
    let mut regions = meta.regions_for_code(cc);
    if regions.len() == 1 {
        return regions.next()?.is_valid_nsn(nsn);
    }
    for r in regions {
        if !r.usable() {
            return None;
        }
        if r.leading_digits_match(nsn) == Some(true) {
            return r.is_valid_nsn(nsn);
        }
        if r.is_valid_nsn(nsn)? {
            return Some(true);
        }
    }
    Some(false)
}

fn e164(cc: u16, nsn: &[u8]) -> Option<u64> {
    let mut n = u64::from(cc);
    for &b in nsn {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// The reference path: `rlibphonenumber` parse and `is_valid_number`.
fn full_cleaned(shape: Shape, d: &[u8], region: Region, cc_r: u16, s: &mut String) -> Option<u64> {
    let digits = std::str::from_utf8(d).ok()?;
    let parsed = match shape {
        Shape::Invalid => return None,
        Shape::International => {
            s.clear();
            s.push('+');
            s.push_str(digits);
            PHONE_NUMBER_UTIL.parse(&*s, None).ok()?
        }
        Shape::National => {
            let n = PHONE_NUMBER_UTIL
                .parse_and_keep_raw_input(digits, Some(region))
                .ok()?;
            if n.country_code_source == Some(CountryCodeSource::FromNumberWithIdd as i32) {
                // The region's own exit code is not honoured: read the digits
                // as the national number they were written as.
                s.clear();
                s.push('+');
                s.push_str(&cc_r.to_string());
                s.push_str(digits);
                PHONE_NUMBER_UTIL.parse(&*s, None).ok()?
            } else {
                n
            }
        }
    };
    if !PHONE_NUMBER_UTIL.is_valid_number(&parsed) {
        return None;
    }
    e164_of(&parsed)
}

/// E.164 digits of a parsed number (country code, then the national
/// significant number with its leading zeros).
pub fn e164_of(n: &PhoneNumber) -> Option<u64> {
    let nsn = rlibphonenumber::get_national_significant_number_owned(n);
    e164(u16::try_from(n.country_code).ok()?, nsn.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> PhoneNormalizer {
        PhoneNormalizer::new(parse_region("US").unwrap())
    }

    fn both(p: &mut PhoneNormalizer, raw: &str) -> Option<u64> {
        let a = p.normalize(raw.as_bytes());
        let b = p.normalize_full(raw.as_bytes());
        assert_eq!(a, b, "fast and full disagree on {raw:?}");
        a
    }

    #[test]
    fn strips_spaces_dashes_dots_parentheses() {
        let mut p = us();
        for raw in [
            "(415) 555-0132",
            "415.555.0132",
            "415 555 0132",
            "4155550132",
            "1-415-555-0132",
            "+1 (415) 555-0132",
            "001 415 555 0132",
            "+14155550132",
            " 415\u{a0}555\u{2013}0132 ",
        ] {
            assert_eq!(both(&mut p, raw), Some(14155550132), "{raw}");
        }
    }

    #[test]
    fn other_characters_make_the_value_invalid() {
        let mut p = us();
        for raw in [
            "1-800-FLOWERS",
            "1-800-356-9377 ext 12",
            "415/555/0132",
            "#4155550132",
            "*4155550132",
            "415555013x",
            "41555501３2",
            "+1+4155550132",
            "1+4155550132",
            "",
            "+",
            "N/A",
            "00",
        ] {
            assert_eq!(both(&mut p, raw), None, "{raw}");
        }
        assert_eq!(p.normalize(b"415\xff5550132"), None);
    }

    #[test]
    fn plus_and_00_are_international_even_in_the_us() {
        let mut p = us();
        assert_eq!(both(&mut p, "+49 30 901820"), Some(4930901820));
        assert_eq!(both(&mut p, "0049 30 901820"), Some(4930901820));
        assert_eq!(both(&mut p, "+55 11 96123-4567"), Some(5511961234567));
    }

    #[test]
    fn the_us_exit_code_011_is_not_international() {
        let mut p = us();
        assert_eq!(both(&mut p, "+44 20 7946 0958"), Some(442079460958));
        assert_eq!(both(&mut p, "011 44 20 7946 0958"), None);
    }

    #[test]
    fn us_national_is_ten_digits_or_eleven_starting_with_1() {
        let mut p = us();
        assert_eq!(both(&mut p, "2025550143"), Some(12025550143));
        assert_eq!(both(&mut p, "12025550143"), Some(12025550143));
        assert_eq!(both(&mut p, "22025550143"), None);
        assert_eq!(both(&mut p, "202555014"), None);
        assert_eq!(both(&mut p, "202555014312"), None);
    }

    #[test]
    fn numbers_invalid_for_their_country_are_invalid() {
        let mut p = us();
        // 000 is not an area code; 0 is not an exchange start.
        assert_eq!(both(&mut p, "000-000-0000"), None);
        assert_eq!(both(&mut p, "415-055-0132"), None);
        // Brazilian mobiles have 9 digits after the area code.
        assert_eq!(both(&mut p, "+55 11 6123-4567"), None);
    }

    #[test]
    fn national_numbers_of_other_regions() {
        let mut de = PhoneNormalizer::new(parse_region("de").unwrap());
        assert_eq!(both(&mut de, "030 901820"), Some(4930901820));
        assert_eq!(both(&mut de, "+49 (0)30 901820"), Some(4930901820));
        let mut gb = PhoneNormalizer::new(parse_region("GB").unwrap());
        assert_eq!(both(&mut gb, "020 7946 0958"), Some(442079460958));
        let mut br = PhoneNormalizer::new(parse_region("BR").unwrap());
        assert_eq!(both(&mut br, "(11) 96123-4567"), Some(5511961234567));
        assert_eq!(both(&mut br, "0 11 96123-4567"), Some(5511961234567));
    }

    #[test]
    fn unknown_regions_are_rejected() {
        assert!(parse_region("XX").is_err());
        assert!(parse_region("001").is_err());
        assert!(parse_region(" us ").is_ok());
    }

    #[test]
    fn metadata_is_available_to_the_fast_path() {
        let mut p = us();
        assert_eq!(
            p.normalize_fast_only(b"+14155550132"),
            Fast::Valid(14155550132)
        );
        assert!(PhoneMeta::get().is_some());
    }
}
