//! Phone-number metadata for the fast path, compiled to DFAs.
//!
//! `rlibphonenumber` does not expose its metadata, so the build script copies
//! the `metadata.bin` of the exact crate version being compiled into
//! `OUT_DIR` (see `build.rs`). Here it is decoded with the crate's own
//! protobuf types, and every pattern the parser and validator use (general
//! description, number types, national prefix for parsing, international
//! prefix, leading digits) is compiled — lazily, per region — to a dense DFA
//! over ASCII digits. Walking a DFA over ten digits costs a few nanoseconds,
//! where the regex-based validator costs about a microsecond.
//!
//! Patterns are compiled without Unicode (`\d` = `[0-9]`): the fast path only
//! ever sees ASCII digits, for which the two readings agree.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use prost::Message;
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, MatchKind};
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneMetadata, PhoneMetadataCollection, PhoneNumberDesc};

/// The metadata of the linked `rlibphonenumber`, copied at build time (empty
/// when the build could not find it; the fast path is then disabled).
static METADATA_BIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phone_metadata.bin"));

/// Longest national significant number libphonenumber accepts.
pub const MAX_NSN: usize = 17;

/// A compiled pattern: a dense DFA, anchored at the start.
pub struct Pattern {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

impl Pattern {
    fn build(patterns: &[&str], kind: MatchKind) -> Option<Pattern> {
        let dfa = dense::Builder::new()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(
                dense::Config::new()
                    .match_kind(kind)
                    .start_kind(StartKind::Anchored)
                    .dfa_size_limit(Some(64 << 20))
                    .determinize_size_limit(Some(64 << 20)),
            )
            .build_many(patterns)
            .ok()?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        Some(Pattern { dfa, start })
    }

    /// Whether the whole of `s` matches (libphonenumber's `anchor_full`).
    #[inline]
    pub fn full_match(&self, s: &[u8]) -> bool {
        let mut sid = self.start;
        for &b in s {
            sid = self.dfa.next_state(sid, b);
            if self.dfa.is_dead_state(sid) {
                return false;
            }
        }
        sid = self.dfa.next_eoi_state(sid);
        self.dfa.is_match_state(sid)
    }

    /// Whether some prefix of `s` matches (libphonenumber's `anchor_start`
    /// `is_match`).
    #[inline]
    pub fn prefix_match(&self, s: &[u8]) -> bool {
        let mut sid = self.start;
        for &b in s {
            sid = self.dfa.next_state(sid, b);
            if self.dfa.is_match_state(sid) {
                return true;
            }
            if self.dfa.is_dead_state(sid) {
                return false;
            }
        }
        sid = self.dfa.next_eoi_state(sid);
        self.dfa.is_match_state(sid)
    }

    /// End of the leftmost-first match anchored at the start of `s`
    /// (libphonenumber's `anchor_start` `find`). Only for patterns built with
    /// [`MatchKind::LeftmostFirst`]. (regex-automata's `find_fwd`, without
    /// prefilters and acceleration, which anchored digit strings never use.)
    #[inline]
    pub fn prefix_find(&self, s: &[u8]) -> Option<usize> {
        let mut sid = self.start;
        let mut end = None;
        for (at, &b) in s.iter().enumerate() {
            sid = self.dfa.next_state(sid, b);
            if self.dfa.is_special_state(sid) {
                if self.dfa.is_match_state(sid) {
                    // Matches are reported one byte late.
                    end = Some(at);
                } else if self.dfa.is_dead_state(sid) {
                    return end;
                }
            }
        }
        sid = self.dfa.next_eoi_state(sid);
        if self.dfa.is_match_state(sid) {
            end = Some(s.len());
        }
        end
    }
}

/// Whether every digit string of length `len` that `a` matches, `b` matches
/// too: a walk over the pairs of states the two DFAs reach together, level
/// by level. Gives up (`false`) when the pairs grow past a bound.
fn subset_at_length(a: &Pattern, b: &Pattern, len: usize) -> bool {
    use std::collections::HashSet;
    let mut level: HashSet<(StateID, StateID)> = HashSet::from([(a.start, b.start)]);
    for _ in 0..len {
        let mut next = HashSet::with_capacity(level.len() * 2);
        for &(sa, sb) in &level {
            for d in b'0'..=b'9' {
                let na = a.dfa.next_state(sa, d);
                if a.dfa.is_dead_state(na) {
                    continue;
                }
                next.insert((na, b.dfa.next_state(sb, d)));
            }
        }
        if next.len() > 200_000 {
            return false;
        }
        level = next;
    }
    level.into_iter().all(|(sa, sb)| {
        !a.dfa.is_match_state(a.dfa.next_eoi_state(sa))
            || b.dfa.is_match_state(b.dfa.next_eoi_state(sb))
    })
}

/// One number type description (`fixedLine`, `mobile`, ...).
#[derive(Debug, Clone)]
struct Desc {
    pattern: Option<String>,
    /// Bit `n` set: length `n` is possible. 0 = no lengths given.
    lengths: u64,
    local_only: u64,
}

impl Desc {
    #[allow(deprecated)] // the wrapper shadows the field; the proto still carries it
    fn from(d: &Option<PhoneNumberDesc>) -> Desc {
        let Some(d) = d else {
            return Desc {
                pattern: None,
                lengths: 0,
                local_only: 0,
            };
        };
        Desc {
            pattern: d.national_number_pattern.as_deref().map(unwrap_pattern),
            lengths: mask(&d.possible_length),
            local_only: mask(&d.possible_length_local_only),
        }
    }

    /// `is_number_matching_desc`'s length test.
    fn admits(&self, len: usize) -> bool {
        self.lengths == 0 || (len < 64 && self.lengths & (1 << len) != 0)
    }
}

fn mask(lengths: &[i32]) -> u64 {
    lengths
        .iter()
        .filter(|&&l| (0..64).contains(&l))
        .fold(0, |m, &l| m | (1u64 << l))
}

/// rlibphonenumber stores every pattern wrapped as `^(?:P)$`.
fn unwrap_pattern(p: &str) -> String {
    p.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(p)
        .to_owned()
}

/// Result of libphonenumber's `test_number_length` for the unknown type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthTest {
    Possible,
    LocalOnly,
    TooShort,
    TooLong,
    InvalidLength,
}

/// One region's metadata, with its patterns compiled on first use.
pub struct RegionMeta {
    pub id: String,
    /// The library's region for `id` (`None` for the non-geographic `001`).
    pub region: Option<rlibphonenumber::Region>,
    pub country_code: u16,
    general: Desc,
    /// premium, toll-free, shared cost, VoIP, personal, pager, UAN,
    /// voicemail, fixed line, and mobile when it differs from fixed line.
    types: Vec<Desc>,
    pub transform_rule: bool,
    npfp: Option<String>,
    idd: Option<String>,
    leading_digits: Option<String>,
    compiled: OnceLock<Compiled>,
    by_length: [OnceLock<Union>; MAX_NSN + 1],
}

enum Union {
    /// No type admits this length.
    Empty,
    /// The union of the number types admitting this length; `general` is
    /// whether the general pattern must still be checked (it need not when
    /// every string of this length the union accepts, it accepts too).
    Built { types: Box<Pattern>, general: bool },
    /// Too large to compile: fall back to the full parser.
    Failed,
}

struct Compiled {
    general: Option<Pattern>,
    npfp: Option<Pattern>,
    idd: Option<Pattern>,
    leading_digits: Option<Pattern>,
    ok: bool,
}

impl RegionMeta {
    #[allow(deprecated)]
    fn from(m: &PhoneMetadata) -> RegionMeta {
        let mut types: Vec<Desc> = [
            &m.premium_rate,
            &m.toll_free,
            &m.shared_cost,
            &m.voip,
            &m.personal_number,
            &m.pager,
            &m.uan,
            &m.voicemail,
            &m.fixed_line,
        ]
        .into_iter()
        .map(Desc::from)
        .collect();
        if !m.same_mobile_and_fixed_line_pattern() {
            types.push(Desc::from(&m.mobile));
        }
        RegionMeta {
            id: m.id.clone(),
            region: m
                .id
                .parse::<rlibphonenumber::Region>()
                .ok()
                .filter(|r| *r != rlibphonenumber::Region::World),
            country_code: u16::try_from(m.country_code()).unwrap_or(0),
            general: Desc::from(&m.general_desc),
            types,
            transform_rule: !m.national_prefix_transform_rule().is_empty(),
            npfp: m.national_prefix_for_parsing.as_deref().map(unwrap_pattern),
            idd: m.international_prefix.as_deref().map(unwrap_pattern),
            leading_digits: m.leading_digits.as_deref().map(unwrap_pattern),
            compiled: OnceLock::new(),
            by_length: Default::default(),
        }
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            let one = |p: &Option<String>, kind| match p {
                Some(p) => Pattern::build(&[p.as_str()], kind).map(Some),
                None => Some(None),
            };
            let general = one(&self.general.pattern, MatchKind::All);
            let npfp = one(&self.npfp, MatchKind::LeftmostFirst);
            let idd = one(&self.idd, MatchKind::LeftmostFirst);
            let leading_digits = one(&self.leading_digits, MatchKind::All);
            let ok =
                general.is_some() && npfp.is_some() && idd.is_some() && leading_digits.is_some();
            Compiled {
                general: general.flatten(),
                npfp: npfp.flatten(),
                idd: idd.flatten(),
                leading_digits: leading_digits.flatten(),
                ok,
            }
        })
    }

    /// Whether every prefix pattern of this region compiled (else: use the
    /// full parser).
    pub fn usable(&self) -> bool {
        self.compiled().ok
    }

    /// `is_match(general_desc)`: the general pattern alone, no length test.
    #[inline]
    pub fn general_pattern_match(&self, nsn: &[u8]) -> bool {
        self.compiled()
            .general
            .as_ref()
            .is_some_and(|p| p.full_match(nsn))
    }

    /// `get_number_type(..) != Unknown`: the general description (length and
    /// pattern) and at least one specific type (length and pattern). `None`
    /// when a pattern could not be compiled (the caller falls back).
    #[inline]
    pub fn is_valid_nsn(&self, nsn: &[u8]) -> Option<bool> {
        let len = nsn.len();
        let c = self.compiled();
        if !c.ok {
            return None;
        }
        if len > MAX_NSN || !self.general.admits(len) {
            return Some(false);
        }
        match self.union_for(len, c) {
            Union::Empty => Some(false),
            Union::Built { types, general } => Some(
                types.full_match(nsn)
                    && (!general || c.general.as_ref().is_some_and(|p| p.full_match(nsn))),
            ),
            Union::Failed => None,
        }
    }

    fn union_for(&self, len: usize, c: &Compiled) -> &Union {
        self.by_length[len].get_or_init(|| {
            let pats: Vec<&str> = self
                .types
                .iter()
                .filter(|t| t.admits(len))
                .filter_map(|t| t.pattern.as_deref())
                .collect();
            if pats.is_empty() {
                Union::Empty
            } else {
                match Pattern::build(&pats, MatchKind::All) {
                    Some(p) => {
                        let general = !c
                            .general
                            .as_ref()
                            .is_some_and(|g| subset_at_length(&p, g, len));
                        Union::Built {
                            types: Box::new(p),
                            general,
                        }
                    }
                    None => Union::Failed,
                }
            }
        })
    }

    /// `leading_digits().anchor_start().is_match(nsn)`; `None` when the
    /// region has no leading-digits pattern.
    #[inline]
    pub fn leading_digits_match(&self, nsn: &[u8]) -> Option<bool> {
        self.compiled()
            .leading_digits
            .as_ref()
            .map(|p| p.prefix_match(nsn))
    }

    pub fn has_npfp(&self) -> bool {
        self.npfp.is_some()
    }

    /// End of the national prefix for parsing at the start of `s`, if any.
    #[inline]
    pub fn npfp_find(&self, s: &[u8]) -> Option<usize> {
        self.compiled().npfp.as_ref().and_then(|p| p.prefix_find(s))
    }

    /// End of the international (IDD) prefix at the start of `s`, if any.
    #[inline]
    pub fn idd_find(&self, s: &[u8]) -> Option<usize> {
        self.compiled().idd.as_ref().and_then(|p| p.prefix_find(s))
    }

    /// libphonenumber's `test_number_length_with_unknown_type`.
    pub fn test_length(&self, len: usize) -> LengthTest {
        let possible = self.general.lengths;
        let local = self.general.local_only;
        if possible == 0 {
            return LengthTest::InvalidLength;
        }
        if len >= 64 {
            return LengthTest::TooLong;
        }
        let bit = 1u64 << len;
        if local & bit != 0 {
            return LengthTest::LocalOnly;
        }
        let min = possible.trailing_zeros() as usize;
        let max = 63 - possible.leading_zeros() as usize;
        if min == len {
            LengthTest::Possible
        } else if min > len {
            LengthTest::TooShort
        } else if max < len {
            LengthTest::TooLong
        } else if possible & bit != 0 {
            LengthTest::Possible
        } else {
            LengthTest::InvalidLength
        }
    }

    /// The longest possible national number length of this region.
    pub fn max_length(&self) -> usize {
        self.types
            .iter()
            .chain(std::iter::once(&self.general))
            .map(|d| 64 - d.lengths.leading_zeros() as usize)
            .max()
            .unwrap_or(0)
            .saturating_sub(1)
    }
}

/// All regions, indexed the way the fast path needs them.
pub struct PhoneMeta {
    regions: Vec<Arc<RegionMeta>>,
    by_id: HashMap<String, usize>,
    /// Non-geographic entities (region `001`) by country code.
    non_geo: HashMap<u16, usize>,
    /// Per country code 0..1000: the regions sharing it, main region first
    /// (libphonenumber's order). Empty: not a country code.
    by_code: Vec<Vec<usize>>,
}

impl PhoneMeta {
    fn load() -> Option<PhoneMeta> {
        if METADATA_BIN.is_empty() {
            return None;
        }
        let coll = PhoneMetadataCollection::decode(METADATA_BIN).ok()?;
        let mut regions = Vec::new();
        let mut by_id = HashMap::new();
        let mut non_geo = HashMap::new();
        for m in &coll.metadata {
            let r = RegionMeta::from(m);
            let i = regions.len();
            if r.id == "001" {
                non_geo.insert(r.country_code, i);
            } else {
                by_id.insert(r.id.clone(), i);
            }
            regions.push(Arc::new(r));
        }
        let mut by_code = vec![Vec::new(); 1000];
        for (cc, slot) in by_code.iter_mut().enumerate() {
            let Some(list) = PHONE_NUMBER_UTIL.get_regions_for_country_calling_code(cc as i32)
            else {
                continue;
            };
            for region in list {
                let id = region.as_region_str().as_str().to_owned();
                let idx = if id == "001" {
                    non_geo.get(&(cc as u16)).copied()
                } else {
                    by_id.get(&id).copied()
                };
                match idx {
                    Some(i) => slot.push(i),
                    // A region the util knows but the copied metadata does
                    // not: the copy is not the util's; do not use it.
                    None => return None,
                }
            }
        }
        Some(PhoneMeta {
            regions,
            by_id,
            non_geo,
            by_code,
        })
    }

    /// The metadata linked into this binary, or `None` when the fast path is
    /// unavailable.
    pub fn get() -> Option<&'static PhoneMeta> {
        static META: LazyLock<Option<PhoneMeta>> = LazyLock::new(PhoneMeta::load);
        META.as_ref()
    }

    pub fn region(&self, id: &str) -> Option<&RegionMeta> {
        self.by_id.get(id).map(|&i| &*self.regions[i])
    }

    /// Regions sharing a country calling code, main region first.
    pub fn regions_for_code(&self, cc: u16) -> impl ExactSizeIterator<Item = &RegionMeta> {
        self.by_code
            .get(cc as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &*self.regions[i])
    }

    pub fn is_country_code(&self, cc: u16) -> bool {
        self.by_code.get(cc as usize).is_some_and(|v| !v.is_empty())
    }

    /// libphonenumber's `get_metadata_for_calling_code`: the main region of a
    /// code (or its non-geographic entity).
    pub fn main_for_code(&self, cc: u16) -> Option<&RegionMeta> {
        self.regions_for_code(cc).next()
    }

    pub fn non_geo(&self, cc: u16) -> Option<&RegionMeta> {
        self.non_geo.get(&cc).map(|&i| &*self.regions[i])
    }

    pub fn all(&self) -> impl Iterator<Item = &RegionMeta> {
        self.regions.iter().map(|r| &**r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// build.rs copies the metadata of the linked rlibphonenumber; on a
    /// normal cargo layout it must find it, or the opt-in audit silently
    /// loses its fast path (it did on fresh offline machines until
    /// `cargo metadata` was limited to the target platform).
    #[test]
    fn the_build_embedded_the_phone_metadata() {
        assert!(
            !METADATA_BIN.is_empty(),
            "build.rs did not find rlibphonenumber's metadata.bin (see its cargo:warning)"
        );
        assert!(PhoneMeta::load().is_some_and(|m| m.regions.len() > 200));
    }
}
