//! Smaller automata for Unicode `\w`.
//!
//! Unicode's word class has hundreds of ranges spread over every script;
//! compiled to a byte-level automaton each `\w` costs ~300 states, and a
//! pattern such as `vape\w{2,15}` or a list of German compounds ending in
//! `\w*` reaches 5,000–24,000 states. Every compiled pattern keeps lazy-DFA
//! caches sized by its automaton, per worker thread, so those few patterns
//! cost megabytes and cold-cache time on every template they are tried on.
//!
//! Before compiling, `\w` is therefore replaced by an equivalent class that
//! is exact for every character below U+0980 (Latin with all its accents,
//! Greek, Cyrillic, Armenian, Hebrew, Arabic, Devanagari — every script the
//! rule packs are written for) and, above it, counts whole blocks of
//! letters of other scripts (Bengali to Tibetan, Hangul, CJK, ...) as word
//! characters, while staying exact in the punctuation, symbol and emoji
//! blocks (so `\w+` never runs into "🎉" or "→", and still covers the
//! zero-width joiners of Devanagari text and the emoji variation selector).
//! Word boundaries themselves are still checked exactly by the engine
//! ([`super::is_word_char`]).
//!
//! Case-insensitive patterns are then rewritten to run on the lower-cased
//! text ([`for_lowered_text`]): the same matches, with about half the
//! byte classes, so half the memory per lazy-DFA state.

use regex_syntax::hir::{
    Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Repetition,
};
use std::sync::LazyLock;

/// Unicode `\w`, as the regex parser builds it.
static WORD: LazyLock<ClassUnicode> = LazyLock::new(|| unicode_class(r"\w"));

/// Blocks of punctuation, symbols and emoji, where `\w` stays exact.
const SYMBOL_BLOCKS: [(char, char); 6] = [
    ('\u{2000}', '\u{2BFF}'),   // punctuation, letterlike symbols, arrows …
    ('\u{2E00}', '\u{303F}'),   // supplemental and CJK punctuation
    ('\u{FE00}', '\u{FE6F}'),   // variation selectors, small forms
    ('\u{FF00}', '\u{FF0F}'),   // full-width punctuation
    ('\u{1F000}', '\u{1FFFF}'), // emoji and pictographs
    ('\u{E0000}', '\u{E01EF}'), // tags, variation selectors supplement
];

/// The compact stand-in for [`WORD`].
static COMPACT_WORD: LazyLock<ClassUnicode> = LazyLock::new(|| {
    let ranges = |rs: &[(char, char)]| {
        ClassUnicode::new(rs.iter().map(|&(a, b)| ClassUnicodeRange::new(a, b)))
    };
    // Exact below Bengali and in the symbol blocks …
    let mut exact = ranges(&[('\0', '\u{97F}')]);
    exact.union(&ranges(&SYMBOL_BLOCKS));
    let mut c = WORD.clone();
    c.intersect(&exact);
    // … elsewhere every character of the letter blocks.
    c.union(&ranges(&[
        ('\u{980}', '\u{1FFF}'),    // Bengali … Greek Extended
        ('\u{2C00}', '\u{2DFF}'),   // Glagolitic … Cyrillic Extended-A
        ('\u{3040}', '\u{D7FF}'),   // Kana, CJK, Yi, Hangul
        ('\u{F900}', '\u{FDFF}'),   // CJK compatibility, Arabic forms
        ('\u{FE70}', '\u{FEFF}'),   // Arabic forms B
        ('\u{FF10}', '\u{FFDC}'),   // full-width letters, half-width forms
        ('\u{10000}', '\u{1EFFF}'), // historic scripts, mathematical letters
        ('\u{20000}', '\u{3FFFF}'), // CJK extensions
    ]));
    // Never whitespace (U+1680 OGHAM SPACE MARK is in those blocks), so a
    // word stays within its spaces ([`max_space_runs`]).
    c.difference(&SPACE);
    c
});

fn unicode_class(src: &str) -> ClassUnicode {
    match regex_syntax::parse(src).map(Hir::into_kind) {
        Ok(HirKind::Class(Class::Unicode(c))) => c,
        _ => ClassUnicode::empty(),
    }
}

/// `hir` with every Unicode `\w` class replaced by its compact stand-in.
pub fn compact_word_classes(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Class(Class::Unicode(c)) if c == *WORD => {
            Hir::class(Class::Unicode(COMPACT_WORD.clone()))
        }
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: Box::new(compact_word_classes(*r.sub)),
            ..r
        }),
        HirKind::Capture(mut c) => {
            c.sub = Box::new(compact_word_classes(*c.sub));
            Hir::capture(c)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(compact_word_classes).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(compact_word_classes).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
        HirKind::Look(l) => Hir::look(l),
    }
}

/// Characters that [`lower_same_len`](super::lower_same_len) changes and
/// that a lowered pattern leaves out: the capitals of the blocks where
/// upper and lower case are separate runs (ASCII, Latin-1, basic Greek and
/// Cyrillic). Leaving out capitals that alternate with their small letters
/// (Latin Extended: Ā ā Ă ă …) would cut a class into hundreds of pieces
/// and cost more automaton than it saves; they never occur in lower-cased
/// text anyway.
static LOWERED_AWAY: LazyLock<ClassUnicode> = LazyLock::new(|| {
    let mut out = ClassUnicode::empty();
    for (a, b) in [
        ('A', 'Z'),
        ('\u{C0}', '\u{DE}'),
        ('\u{391}', '\u{3AB}'),
        ('\u{400}', '\u{42F}'),
    ] {
        for c in a..=b {
            if super::literals::lower_char(c) != c {
                out.push(ClassUnicodeRange::new(c, c));
            }
        }
    }
    out
});

/// `hir` rewritten to run on lower-cased text (see
/// [`lower_same_len`](super::lower_same_len)) with the same matches, or
/// `None` when it is case-sensitive somewhere.
///
/// In a case-insensitive pattern every class is closed under case folding
/// and every literal is caseless, so dropping the characters that lower
/// casing removes from the text changes no match. The automaton then no
/// longer tells upper from lower case: fewer byte classes, so each lazy-DFA
/// state takes half the memory (most patterns go from 128 to 64
/// transitions per state).
pub fn for_lowered_text(hir: &Hir) -> Option<Hir> {
    Some(match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => {
            let s = std::str::from_utf8(&l.0).ok()?;
            if s.chars().any(|c| !caseless(c)) {
                return None;
            }
            Hir::literal(l.0.clone())
        }
        HirKind::Class(Class::Unicode(c)) => {
            if *c != *COMPACT_WORD {
                let mut folded = c.clone();
                folded.case_fold_simple();
                if folded != *c {
                    return None;
                }
            }
            let mut lowered = c.clone();
            lowered.difference(&LOWERED_AWAY);
            Hir::class(Class::Unicode(lowered))
        }
        HirKind::Class(Class::Bytes(_)) => return None,
        HirKind::Look(l) => Hir::look(*l),
        // Built field by field: cloning the node would copy its whole
        // subtree only to replace it.
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(for_lowered_text(&r.sub)?),
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(for_lowered_text(&c.sub)?),
        }),
        HirKind::Concat(subs) => Hir::concat(
            subs.iter()
                .map(for_lowered_text)
                .collect::<Option<Vec<_>>>()?,
        ),
        HirKind::Alternation(subs) => Hir::alternation(
            subs.iter()
                .map(for_lowered_text)
                .collect::<Option<Vec<_>>>()?,
        ),
    })
}

/// The most characters a match of `hir` can span (`None`: unbounded). A
/// class is one character; [`Hir::properties`] only knows bytes, up to
/// four per character.
pub fn max_chars(hir: &Hir) -> Option<usize> {
    max_count(hir, &|h| match h.kind() {
        HirKind::Literal(l) => Some(Some(
            std::str::from_utf8(&l.0).map_or(l.0.len(), |s| s.chars().count()),
        )),
        HirKind::Class(_) => Some(Some(1)),
        _ => None,
    })
}

/// The most runs of whitespace a match of `hir` can contain (`None`:
/// unbounded). Something that never matches whitespace has none however
/// often it repeats (`\w*`, `[^\s.!?]+`), and a repetition of whitespace
/// alone is one run however long (`\s+`).
pub fn max_space_runs(hir: &Hir) -> Option<usize> {
    max_count(hir, &|h| match h.kind() {
        HirKind::Literal(l) => {
            let (mut runs, mut in_run) = (0, false);
            for c in String::from_utf8_lossy(&l.0).chars() {
                runs += usize::from(c.is_whitespace() && !in_run);
                in_run = c.is_whitespace();
            }
            Some(Some(runs))
        }
        HirKind::Class(c) => Some(Some(usize::from(class_meets_space(c)))),
        HirKind::Repetition(r) if only_space(&r.sub) => Some(Some(1)),
        _ => None,
    })
}

/// The most of some unit a match of `hir` can hold (`None`: unbounded).
/// `own` counts the nodes it settles itself (`Some`: literals and classes at
/// least); the rest add up over a concatenation, take the largest
/// alternative and multiply by a repetition's maximum (a repetition of
/// nothing holds nothing, however often).
fn max_count(hir: &Hir, own: &dyn Fn(&Hir) -> Option<Option<usize>>) -> Option<usize> {
    if let Some(n) = own(hir) {
        return n;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        // Left to `own`; unbounded if it does not count them.
        HirKind::Literal(_) | HirKind::Class(_) => None,
        HirKind::Repetition(r) => match max_count(&r.sub, own)? {
            0 => Some(0),
            n => n.checked_mul(usize::try_from(r.max?).ok()?),
        },
        HirKind::Capture(c) => max_count(&c.sub, own),
        HirKind::Concat(subs) => subs
            .iter()
            .try_fold(0usize, |n, s| n.checked_add(max_count(s, own)?)),
        HirKind::Alternation(subs) => subs
            .iter()
            .try_fold(0usize, |n, s| Some(n.max(max_count(s, own)?))),
    }
}

fn class_meets_space(c: &Class) -> bool {
    match c {
        Class::Unicode(c) => {
            let mut ws = c.clone();
            ws.intersect(&SPACE);
            ws.iter().next().is_some()
        }
        // Any byte may be part of a character: only ASCII letters and
        // digits are surely not whitespace.
        Class::Bytes(c) => c
            .iter()
            .any(|r| (r.start()..=r.end()).any(|b| !b.is_ascii_alphanumeric())),
    }
}

/// Whether every match of `hir` is whitespace only.
fn only_space(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(l) => String::from_utf8_lossy(&l.0)
            .chars()
            .all(char::is_whitespace),
        HirKind::Class(Class::Unicode(c)) => {
            let mut rest = c.clone();
            rest.difference(&SPACE);
            rest.iter().next().is_none()
        }
        HirKind::Class(Class::Bytes(_)) => false,
        HirKind::Repetition(r) => only_space(&r.sub),
        HirKind::Capture(c) => only_space(&c.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().all(only_space),
    }
}

/// Unicode `\s` (White_Space, as `char::is_whitespace`).
static SPACE: LazyLock<ClassUnicode> = LazyLock::new(|| unicode_class(r"\s"));

/// Whether `c` has no other case (its case-folding class is itself).
fn caseless(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_alphabetic();
    }
    let mut folded = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    folded.case_fold_simple();
    folded.iter().all(|r| r.start() == c && r.end() == c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::nfa::thompson::NFA;
    use regex_automata::{Input, meta};

    fn hir(src: &str, compact: bool) -> Hir {
        let hir = regex_syntax::parse(src).unwrap();
        if compact {
            compact_word_classes(hir)
        } else {
            hir
        }
    }

    fn compile(src: &str, compact: bool) -> meta::Regex {
        meta::Regex::builder()
            .build_from_hir(&hir(src, compact))
            .unwrap()
    }

    fn nfa_states(src: &str, compact: bool) -> usize {
        let nfa = NFA::compiler().build_from_hir(&hir(src, compact)).unwrap();
        nfa.states().len()
    }

    #[test]
    fn word_class_is_exact_below_bengali_and_skips_symbols_above() {
        let full = compile(r"\w", false);
        let compact = compile(r"\w", true);
        let symbols = SYMBOL_BLOCKS.iter().flat_map(|&(a, b)| a..=b);
        for c in ('\0'..='\u{97F}').chain(symbols) {
            let s = c.to_string();
            assert_eq!(
                full.is_match(Input::new(&s)),
                compact.is_match(Input::new(&s)),
                "U+{:04X}",
                c as u32
            );
        }
        // Letters of other scripts still count, emoji and symbols do not.
        for s in ["ক", "ก", "한", "字", "ｗ"] {
            assert!(compact.is_match(s), "{s}");
        }
        for s in ["🎉", "→", "™", "—", "€"] {
            assert!(!compact.is_match(s), "{s}");
        }
    }

    #[test]
    fn automata_shrink_and_matches_stay() {
        let src = r"(?i)vape\w{2,15}|\{\{\w+\}\}";
        assert!(nfa_states(src, true) * 5 < nfa_states(src, false));
        let (full, compact) = (compile(src, false), compile(src, true));
        for text in [
            "Neue Vapeshops in Köln, Vapestore-Gutschein für {{nombre_cliente}} 🎉",
            "वेप vapeकिट {{1}} ও vapeদোকান",
            "vape🎉🎉 nothing here",
        ] {
            let a: Vec<_> = full.find_iter(text).map(|m| m.range()).collect();
            let b: Vec<_> = compact.find_iter(text).map(|m| m.range()).collect();
            assert_eq!(a, b, "{text}");
        }
    }

    #[test]
    fn lowered_patterns_find_the_same_matches_on_lowered_text() {
        use super::super::lower_same_len;
        let patterns = [
            r"(?i)stra(?:ß|ss)e|weiẞbier",
            r"(?i)k[aä]se\w*",
            r"(?i)σοφία|ΣΟΦΟΣ",
            r"(?i)istanbul|ırmak",
            r"(?i)vape\w{2,15}",
            r"(?i)(?:[^\s.!?]+\s+){0,2}gratis",
            r"(?i)été|ÉTÉ|\bça",
            r"(?i)āž|кофе",
            r"(?i)[a-zà-þ]+ster",
        ];
        let texts = [
            "STRASSE Straße straße WEIẞBIER Weißbier",
            "KÄSE, Käsekuchen, KASE; Kelvin: \u{212A}äse",
            "ΣΟΦΙΑ σοφία Σοφίας",
            "İstanbul ISTANBUL Irmak IRMAK",
            "VAPESHOP Vapestore-Gutschein vape🎉",
            "Versand GRATIS heute, Envío Gratis!",
            "ÉTÉ Été été ÇA ça",
            "ĀŽ āž КОФЕ Кофе",
            "SEMESTER Semester ÜBERSTER",
        ];
        for src in patterns {
            let hir = regex_syntax::parse(src).unwrap();
            let lowered = for_lowered_text(&compact_word_classes(hir))
                .unwrap_or_else(|| panic!("{src} is case-insensitive"));
            let low = meta::Regex::builder().build_from_hir(&lowered).unwrap();
            let full = meta::Regex::new(src).unwrap();
            for text in texts {
                let lower = lower_same_len(text);
                let a: Vec<_> = full.find_iter(text).map(|m| m.range()).collect();
                let b: Vec<_> = low.find_iter(&lower).map(|m| m.range()).collect();
                assert_eq!(a, b, "{src} on {text}");
            }
        }
    }

    #[test]
    fn case_sensitive_patterns_are_not_lowered() {
        for src in [
            "Corona",
            r"(?i:code)\s*[A-Z]{4}",
            "(?i)extra (?-i:IPA)",
            "(?i)(?-u:caf)",
        ] {
            let hir = regex_syntax::parse(src).unwrap();
            assert!(for_lowered_text(&hir).is_none(), "{src}");
        }
        // Caseless text needs no flag.
        let hir = regex_syntax::parse(r"\d+\s*€").unwrap();
        assert!(for_lowered_text(&hir).is_some());
    }

    #[test]
    fn lowered_automata_have_fewer_byte_classes() {
        use regex_automata::hybrid::dfa::DFA;
        let classes = |h: &Hir| {
            let nfa = NFA::compiler().build_from_hir(h).unwrap();
            DFA::builder()
                .build_from_nfa(nfa)
                .unwrap()
                .byte_classes()
                .alphabet_len()
        };
        let hir = regex_syntax::parse("(?i)heineken|budweiser|smirnoff|kräuterlikör").unwrap();
        let lowered = for_lowered_text(&hir).unwrap();
        assert!(classes(&lowered) * 3 < classes(&hir) * 2);
    }

    #[test]
    fn reach_counts_characters_and_whitespace_runs() {
        let reach = |src: &str| {
            let h = hir(src, true);
            (max_chars(&h), max_space_runs(&h))
        };
        assert_eq!(reach("(?i)vinho"), (Some(5), Some(0)));
        assert_eq!(reach("पान मसाला"), (Some(9), Some(1)));
        assert_eq!(reach(r"a[^.!?\n]{0,60}?b"), (Some(62), Some(60)));
        // Unbounded only within a word, or across one gap between words.
        assert_eq!(reach(r"(?i)vape\w*"), (None, Some(0)));
        assert_eq!(reach(r"[^\s.!?]+\s+casino"), (None, Some(1)));
        assert_eq!(reach(r"(?:[^\s.!?]+\s+){0,3}gratis"), (None, Some(3)));
        assert_eq!(reach(r"buy\s?\d+\s?get|b\dg\d"), (None, Some(2)));
        assert_eq!(reach(r"\{\{\w+\}\}\s*%"), (None, Some(1)));
        // Unbounded across words.
        assert_eq!(reach(r"a.*b"), (None, None));
        assert_eq!(reach(r"[^\p{L}\p{N}]*x"), (None, None));
        assert_eq!(reach(r"(?:\s+\w)+"), (None, None));
    }

    #[test]
    fn compact_word_class_holds_no_whitespace() {
        let mut ws = COMPACT_WORD.clone();
        ws.intersect(&SPACE);
        assert_eq!(ws.iter().next(), None);
        // Every real word character stays in.
        let mut before = WORD.clone();
        before.difference(&COMPACT_WORD);
        assert!(
            before.iter().next().is_none(),
            "compact \\w lost {before:?}"
        );
    }
}
