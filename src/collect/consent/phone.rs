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

/// Byte classes for [`clean`].
const DIGIT: u8 = 0;
const SKIP: u8 = 1;
const PLUS: u8 = 2;
const HIGH: u8 = 3;
const BAD: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match i as u8 {
            b'0'..=b'9' => DIGIT,
            b' ' | b'-' | b'.' | b'(' | b')' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => SKIP,
            b'+' => PLUS,
            0x80.. => HIGH,
            _ => BAD,
        };
        i += 1;
    }
    t
};

/// Where [`strip`] puts digits.
trait Digits {
    fn push(&mut self, b: u8);
    fn is_empty(&self) -> bool;
}

impl Digits for Vec<u8> {
    #[inline(always)]
    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }
    #[inline(always)]
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

/// Up to 32 digits, for the fast path (longer values go the slow way).
struct Fixed {
    buf: [u8; 32],
    len: usize,
    overflow: bool,
}

impl Digits for Fixed {
    #[inline(always)]
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        } else {
            self.overflow = true;
        }
    }
    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The stripping loop: digits go to `out`; `None` when the value holds a
/// character that makes it invalid, else whether it started with `+`.
#[inline(always)]
fn strip(raw: &[u8], out: &mut impl Digits) -> Option<bool> {
    let mut plus = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match CLASS[b as usize] {
            DIGIT => out.push(b),
            SKIP => {}
            PLUS if !plus && out.is_empty() => plus = true,
            HIGH => {
                // A multi-byte character: only white space and dashes are stripped.
                let n = match b {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => return None,
                };
                let ch = raw
                    .get(i..i + n)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.chars().next())?;
                if !(ch.is_whitespace() || is_dash(ch)) {
                    return None;
                }
                i += n;
                continue;
            }
            _ => return None,
        }
        i += 1;
    }
    Some(plus)
}

/// The shape of stripped digits, and how many leading digits (`00`) to drop.
fn shape(plus: Option<bool>, digits: &[u8]) -> (Shape, usize) {
    match plus {
        None => (Shape::Invalid, 0),
        Some(_) if digits.is_empty() => (Shape::Invalid, 0),
        Some(true) => (Shape::International, 0),
        Some(false) if digits.starts_with(b"00") => {
            if digits.len() == 2 {
                (Shape::Invalid, 0)
            } else {
                (Shape::International, 2)
            }
        }
        Some(false) => (Shape::National, 0),
    }
}

/// Strips `raw` into `out` (digits only, without the `+` or `00` marker).
pub fn clean(raw: &[u8], out: &mut Vec<u8>) -> Shape {
    out.clear();
    let plus = strip(raw, out);
    let (shape, skip) = shape(plus, out);
    out.drain(..skip);
    shape
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

/// A value parsed by the fast path but not yet checked for validity: the
/// country code and national significant number libphonenumber's parser
/// gives, as E.164 digits. Valid iff [`PhoneNormalizer::check`] says so; a
/// caller that already knows the E.164 number is valid (the audience table
/// only holds valid numbers) can skip that check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unchecked {
    pub e164: u64,
    cc: u16,
    nsn_len: u8,
}

impl Unchecked {
    pub fn country_code(&self) -> u16 {
        self.cc
    }

    /// The national significant number, with its leading zeros.
    pub fn nsn(&self) -> String {
        let s = self.e164.to_string();
        s[s.len() - self.nsn_len as usize..].to_owned()
    }
}

/// A value read up to, but not including, the validity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    Invalid,
    Valid(u64),
    Check(Unchecked),
}

enum Step {
    Done(Fast),
    Check(Unchecked),
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
        match self.normalize_fast_only(raw) {
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
                self.normalize_full(raw)
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
    #[inline]
    pub fn normalize_fast_only(&self, raw: &[u8]) -> Fast {
        match self.fast_step(raw) {
            Step::Done(f) => f,
            Step::Check(u) => {
                if self.check(&u) {
                    Fast::Valid(u.e164)
                } else {
                    Fast::Invalid
                }
            }
        }
    }

    /// Reads a value up to the validity check (which the caller does with
    /// [`check`](Self::check), or skips when it knows the number is valid).
    #[inline]
    pub fn candidate(&mut self, raw: &[u8]) -> Candidate {
        match self.fast_step(raw) {
            Step::Check(u) => {
                self.stats.fast += 1;
                Candidate::Check(u)
            }
            Step::Done(Fast::Valid(n)) => {
                self.stats.fast += 1;
                Candidate::Valid(n)
            }
            Step::Done(Fast::Invalid) => {
                self.stats.fast += 1;
                Candidate::Invalid
            }
            Step::Done(Fast::Fallback) => {
                self.stats.full += 1;
                match self.normalize_full(raw) {
                    Some(n) => Candidate::Valid(n),
                    None => Candidate::Invalid,
                }
            }
        }
    }

    /// Whether a candidate is valid for its country (`is_valid_number`).
    #[inline]
    pub fn check(&self, u: &Unchecked) -> bool {
        let mut buf = [0u8; 20];
        let len = u.nsn_len as usize;
        let mut n = u.e164;
        for i in (0..len).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let nsn = &buf[..len];
        let fast = self.meta.and_then(|meta| is_valid(meta, u.cc, nsn));
        fast.unwrap_or_else(|| valid_by_library(u.cc, nsn))
    }

    /// What libphonenumber's parser makes of a value (country code and
    /// national significant number), before the validity check; `None` when
    /// it cannot parse it. For tests of the fast path.
    pub fn reference_candidate(&mut self, raw: &[u8]) -> Option<(u16, String)> {
        let shape = clean(raw, &mut self.buf);
        let n = parse_full(
            shape,
            &self.buf,
            self.region,
            self.country_code,
            &mut self.full_buf,
        )?;
        Some((
            u16::try_from(n.country_code).ok()?,
            rlibphonenumber::get_national_significant_number_owned(&n),
        ))
    }

    #[inline]
    fn fast_step(&self, raw: &[u8]) -> Step {
        let mut digits = Fixed {
            buf: [0; 32],
            len: 0,
            overflow: false,
        };
        let plus = strip(raw, &mut digits);
        if plus.is_none() {
            return Step::Done(Fast::Invalid);
        }
        let (Some(meta), Some(region)) = (self.meta, self.region_meta) else {
            return Step::Done(Fast::Fallback);
        };
        if digits.overflow {
            return Step::Done(Fast::Fallback);
        }
        let (shape, skip) = shape(plus, &digits.buf[..digits.len]);
        let d = &digits.buf[skip..digits.len];
        match shape {
            Shape::Invalid => Step::Done(Fast::Invalid),
            _ if d.len() < 4 || d.len() > 24 => Step::Done(Fast::Fallback),
            Shape::International => fast_international(meta, d),
            Shape::National => fast_national(meta, region, self.country_code, &self.cc_digits, d),
        }
    }
}

/// `is_valid_number` for a country code and national significant number,
/// by the library itself (when a pattern could not be compiled).
fn valid_by_library(cc: u16, nsn: &[u8]) -> bool {
    let Some(value) = std::str::from_utf8(nsn)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return false;
    };
    let zeros = nsn.iter().take_while(|&&b| b == b'0').count();
    let mut n = PhoneNumber {
        country_code: i32::from(cc),
        national_number: value,
        ..PhoneNumber::default()
    };
    if zeros > 0 && nsn.len() > 1 {
        let zeros = if zeros == nsn.len() { zeros - 1 } else { zeros };
        n.italian_leading_zero = Some(true);
        if zeros > 1 {
            n.number_of_leading_zeros = Some(zeros as i32);
        }
    }
    PHONE_NUMBER_UTIL.is_valid_number(&n)
}

/// `parse("+" + d)`: the country code is the first 1–3 digits that are one.
fn fast_international(meta: &PhoneMeta, d: &[u8]) -> Step {
    if d[0] == b'0' {
        return Step::Done(Fast::Fallback);
    }
    let mut cc: u16 = 0;
    for (i, &b) in d.iter().take(3).enumerate() {
        cc = cc * 10 + u16::from(b - b'0');
        if meta.is_country_code(cc) {
            let Some(m) = meta.main_for_code(cc) else {
                return Step::Done(Fast::Fallback);
            };
            return finish(cc, m, &d[i + 1..]);
        }
    }
    Step::Done(Fast::Fallback)
}

/// `parse(d, region)`, minus the exit-code detection (which falls back).
fn fast_national(meta: &PhoneMeta, r: &RegionMeta, cc_r: u16, cc_digits: &[u8], d: &[u8]) -> Step {
    const FALLBACK: Step = Step::Done(Fast::Fallback);
    if !r.usable() {
        return FALLBACK;
    }
    // The region's exit code at the start: libphonenumber would read the
    // number as international; the full parser handles that case.
    if let Some(end) = r.idd_find(d) {
        if d.get(end) != Some(&b'0') {
            return FALLBACK;
        }
    }
    let mut cc = 0u16;
    let mut nsn0 = d;
    if let Some(potential) = d.strip_prefix(cc_digits) {
        let Some(stripped) = strip_national_prefix(r, potential) else {
            return FALLBACK;
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
            Some(main) if !std::ptr::eq(main, r) => m = main,
            Some(_) => {}
            None => return FALLBACK,
        }
    } else {
        cc = cc_r;
    }
    finish(cc, m, nsn0)
}

/// The rest of `parse_helper` (national prefix, lengths); the validity
/// check is left to the caller.
fn finish(cc: u16, m: &RegionMeta, nsn0: &[u8]) -> Step {
    const FALLBACK: Step = Step::Done(Fast::Fallback);
    if !m.usable() || nsn0.len() < 2 {
        return FALLBACK;
    }
    let Some(candidate) = strip_national_prefix(m, nsn0) else {
        return FALLBACK;
    };
    let nsn = match m.test_length(candidate.len()) {
        LengthTest::LocalOnly | LengthTest::TooShort | LengthTest::InvalidLength => nsn0,
        LengthTest::Possible | LengthTest::TooLong => candidate,
    };
    // Very short or long numbers, and runs of leading zeros (libphonenumber
    // stores those as a count), are left to the full parser.
    if nsn.len() < 4 || nsn.len() > MAX_NSN || nsn.starts_with(b"00") {
        return FALLBACK;
    }
    match e164(cc, nsn) {
        Some(e164) => Step::Check(Unchecked {
            e164,
            cc,
            nsn_len: nsn.len() as u8,
        }),
        None => FALLBACK,
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

/// The reference parse: `rlibphonenumber`, with `+`/`00` international and
/// the region's own exit code not honoured.
fn parse_full(
    shape: Shape,
    d: &[u8],
    region: Region,
    cc_r: u16,
    s: &mut String,
) -> Option<PhoneNumber> {
    let digits = std::str::from_utf8(d).ok()?;
    match shape {
        Shape::Invalid => None,
        Shape::International => {
            s.clear();
            s.push('+');
            s.push_str(digits);
            PHONE_NUMBER_UTIL.parse(&*s, None).ok()
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
                PHONE_NUMBER_UTIL.parse(&*s, None).ok()
            } else {
                Some(n)
            }
        }
    }
}

/// The reference path: [`parse_full`] and `is_valid_number`.
fn full_cleaned(shape: Shape, d: &[u8], region: Region, cc_r: u16, s: &mut String) -> Option<u64> {
    let parsed = parse_full(shape, d, region, cc_r, s)?;
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
        let p = us();
        assert_eq!(
            p.normalize_fast_only(b"+14155550132"),
            Fast::Valid(14155550132)
        );
        assert!(PhoneMeta::get().is_some());
    }
}
