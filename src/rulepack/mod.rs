//! Rule packs: loading, validating and compiling the TOML rules under `rules/`.
//!
//! Rules are data. Every TOML file may hold:
//! - `[pack]` (only `rules/pack.toml`): name and version of the pack;
//! - `[[rule]]`: a rule's identity (id, family, severity, description,
//!   remediation, reference, examples);
//! - `language = "es"` plus `[[match]]` blocks (patterns for a rule in that
//!   language, with weights and examples) and `[[neutralize]]` blocks (phrases
//!   that look like a signal but are not, e.g. "toll-free", "free
//!   cancellation"; they are blanked out before matching).
//!
//! Matching is two-stage. At load time every pattern's *required literals*
//! are computed from its syntax tree (`literals.rs`); per language, one
//! Aho-Corasick automaton over those literals finds in a single pass which
//! patterns can possibly match a template. Only those candidates run their
//! own regex — compiled once per process, on first use — which verifies the
//! match and yields the evidence span. Word boundaries are
//! enforced by the engine, Unicode-aware, at both ends of every match (so
//! "bet" never matches inside "alphabet" and "gun" never inside "begun"):
//! patterns must not use `\b` themselves, because a Unicode `\b` forces the
//! regex crate off its fast DFA for non-ASCII text.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;

use regex::Regex;
use regex_automata::hybrid;
use regex_automata::nfa::thompson::{self, WhichCaptures, pikevm};
use regex_automata::{Anchored, Input};

mod compact;
pub mod countries;
mod literals;
pub mod model;
mod stamps;
pub use literals::{Clauses, lower_same_len, required_clauses, required_literals};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::checks::Severity;
use crate::config::RulesConfig;

/// The rule packs shipped in `rules/`, embedded at build time.
pub static EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

#[derive(Debug, Error)]
pub enum RulePackError {
    #[error("rule pack {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rule pack {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("rule pack {path}: rule `{rule}`: {message}")]
    Invalid {
        path: PathBuf,
        rule: String,
        message: String,
    },
    #[error("rule pack {path}: rule `{rule}`: bad pattern `{pattern}`: {message}")]
    Regex {
        path: PathBuf,
        rule: String,
        pattern: String,
        message: String,
    },
    #[error("config: {0}")]
    Config(String),
}

/// What a rule's patterns signal. Rules with the same signal are matched together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Promotional content (makes a template MARKETING).
    Marketing,
    /// Transactional/account content (what an AUTHENTICATION template that is
    /// really a notification contains).
    Utility,
    /// Commerce Policy restricted or prohibited products.
    Restricted,
    /// Words that say "this is a one-time code".
    Code,
    /// An inbound reply asking the business to stop messaging (STOP,
    /// "no quiero recibir más mensajes"); matched on inbound messages, never
    /// on templates.
    Optout,
    /// A support line ("call us", "contact customer service"): more than
    /// Meta's preset text in an AUTHENTICATION template.
    Support,
}

impl Signal {
    pub const ALL: [Signal; 6] = [
        Signal::Marketing,
        Signal::Utility,
        Signal::Restricted,
        Signal::Code,
        Signal::Optout,
        Signal::Support,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Marketing => "marketing",
            Signal::Utility => "utility",
            Signal::Restricted => "restricted",
            Signal::Code => "code",
            Signal::Optout => "optout",
            Signal::Support => "support",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Fires when its patterns match (the generic engine).
    #[default]
    Pattern,
    /// Logic lives in a check module; the pack holds its identity and parameters.
    Builtin,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default)]
    pub positive: Vec<String>,
    #[serde(default)]
    pub negative: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackMeta {
    name: String,
    version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    pack: Option<PackMeta>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    rule: Vec<RuleDef>,
    #[serde(default, rename = "match")]
    matches: Vec<MatchDef>,
    #[serde(default)]
    neutralize: Vec<NeutralizeDef>,
    /// Country × category rules: loaded by [`countries`], not here.
    #[serde(default)]
    #[allow(dead_code)]
    country_rule: Vec<toml::Value>,
}

/// A rule's identity and documentation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    /// The check family, e.g. `template.category_mismatch`.
    pub family: String,
    pub severity: Severity,
    #[serde(default)]
    pub kind: RuleKind,
    /// Required for rules with patterns.
    #[serde(default)]
    pub signal: Option<Signal>,
    pub title: String,
    pub description: String,
    pub remediation: String,
    #[serde(default)]
    pub reference: Option<String>,
    /// Declared template categories this rule applies to (empty = all).
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// For category rules: the category the content belongs in.
    #[serde(default)]
    pub suggest: Option<String>,
    /// For restricted-content rules: the Commerce Policy category.
    #[serde(default)]
    pub policy_category: Option<String>,
    /// Profile verticals under which this content is declared and regulated
    /// (e.g. `ALCOHOL`): the finding is lowered to `medium` for them.
    #[serde(default)]
    pub regulated_verticals: Vec<String>,
    /// Parameters for builtin rules (limits, thresholds).
    #[serde(default)]
    pub params: toml::Table,
    /// Former ids of this rule.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Builtin rules: Graph API template JSON; pattern rules: unused (their
    /// examples live beside the patterns, per language).
    #[serde(default)]
    pub examples: Examples,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchDef {
    rule: String,
    #[serde(default = "one")]
    weight: f64,
    #[serde(default)]
    case_sensitive: bool,
    patterns: Vec<String>,
    #[serde(default)]
    examples: Examples,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NeutralizeDef {
    id: String,
    /// Signals this applies to; default: marketing and restricted.
    #[serde(default)]
    signals: Vec<Signal>,
    patterns: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    examples: Examples,
}

/// A rule, as loaded and configured.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    /// Severity after `severity_overrides`.
    pub severity: Severity,
    pub enabled: bool,
    /// Languages with patterns for this rule (sorted; `*` = all).
    pub languages: BTreeSet<String>,
    /// Where the rule was defined.
    pub source: String,
}

/// One pattern of one rule in one language.
#[derive(Debug)]
pub struct Pattern {
    pub rule: usize,
    pub language: String,
    pub weight: f64,
    pub source: String,
    pub regex_src: String,
    pub examples: Examples,
    /// Prefilter requirement on the lower-cased text (`None`: no usable
    /// literal; the pattern runs on every template of its language).
    pub literals: Option<Clauses>,
    compiled: OnceLock<Matcher>,
    tail: OnceLock<Regex>,
}

impl Pattern {
    /// The first match at word boundaries in `text[from..]` (see
    /// [`find_verified`]).
    pub fn find(&self, text: &str, from: usize) -> Option<(usize, usize)> {
        let lower = lower_same_len(text);
        self.matcher()
            .find_verified(Texts::of(text, &lower), from, text.len(), || {
                tail_regex(&self.tail, &self.regex_src)
            })
    }

    /// Like [`find`](Self::find), searching only the window the prefilter's
    /// literal occurrences allow (see [`Window`]).
    fn find_in(&self, t: Texts<'_>, w: Window) -> Option<(usize, usize)> {
        let m = self.matcher();
        let (from, to) = w.span(t.orig, m.reach);
        m.find_verified(t, from, to, || tail_regex(&self.tail, &self.regex_src))
    }

    fn matcher(&self) -> &Matcher {
        self.compiled.get_or_init(|| Matcher::new(&self.regex_src))
    }
}

/// A pattern's compiled matcher and the longest match it can produce.
///
/// One forward lazy DFA over one forward NFA, and nothing else. The rule
/// pack's own literal prefilter and windows already select where a pattern
/// runs, and the engine only needs the leftmost match whose start is not
/// inside a word ([`find_verified`] rejects the others), so:
/// - an unanchored forward search tells whether a match ends in the window,
///   and where (most candidates stop here: no match);
/// - the start is found with anchored searches from the positions where a
///   word-bounded match can start, up to that end, instead of a reverse
///   search. A reverse NFA and its lazy-DFA caches would double the memory
///   of every pattern (a meta regex also keeps a PikeVM cache per thread):
///   with every pattern compiled, 6,467 patterns cost 153 MB plus 94 MB per
///   worker thread that way, against 50 MB plus 30 MB.
///
/// The lazy DFA never gives up (no minimum cache-clear count); the PikeVM
/// fallback is for a search error, which the configuration leaves no room
/// for (patterns cannot use `\b`, the only construct that makes the lazy
/// DFA quit on non-ASCII text).
///
/// The lazy DFAs' caches live in a per-thread [`DfaCaches`] under one
/// memory budget rather than one pool per pattern: on varied text, thousands
/// of patterns each grow a cache of their own, and memory would otherwise
/// grow with the number of patterns ever tried.
struct Matcher {
    /// Key of this matcher's cache in each thread's [`DfaCaches`].
    id: u64,
    dfa: hybrid::dfa::DFA,
    /// The automaton runs on the lower-cased text (see
    /// [`compact::for_lowered_text`]).
    lowered: bool,
    /// How far a match can reach (`None`: unbounded).
    reach: Option<Reach>,
}

/// A text and its lower-cased copy ([`lower_same_len`]: same byte offsets).
#[derive(Clone, Copy)]
struct Texts<'a> {
    orig: &'a str,
    lower: &'a str,
}

impl<'a> Texts<'a> {
    fn of(orig: &'a str, lower: &'a str) -> Texts<'a> {
        Texts { orig, lower }
    }
}

/// Source of [`Matcher::id`]s: never reused, so a cache left behind by a
/// dropped rule pack is never taken for another pattern's.
static NEXT_MATCHER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Budget of one thread's lazy-DFA caches in MiB, as counted by
/// `hybrid::dfa::Cache::memory_usage` (the allocator adds up to half
/// again); `WABAGUARD_DFA_CACHE_MB` overrides it.
const DFA_CACHE_BUDGET_MB: usize = 256;

fn dfa_cache_budget() -> usize {
    std::env::var("WABAGUARD_DFA_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&mb| mb > 0)
        .unwrap_or(DFA_CACHE_BUDGET_MB)
        .saturating_mul(1 << 20)
}

thread_local! {
    static DFA_CACHES: std::cell::RefCell<DfaCaches> =
        std::cell::RefCell::new(DfaCaches::new(dfa_cache_budget()));
}

/// One thread's lazy-DFA caches, keyed by matcher id. When their memory
/// passes the budget, the least recently used caches are dropped until a
/// quarter of it is free; a dropped cache is rebuilt on the pattern's next
/// search, which only costs time (determinizing again). On 100,000 varied
/// templates (every pattern compiled) a worker thread's caches stay below
/// the default budget; it bounds a long-running daemon and more varied
/// input.
struct DfaCaches {
    budget: usize,
    slots: foldhash::HashMap<u64, DfaSlot>,
    bytes: usize,
    /// Searches so far; a slot remembers when it was last used.
    clock: u64,
}

struct DfaSlot {
    cache: hybrid::dfa::Cache,
    bytes: usize,
    used: u64,
}

impl DfaCaches {
    fn new(budget: usize) -> DfaCaches {
        DfaCaches {
            budget,
            slots: HashMap::default(),
            bytes: 0,
            clock: 0,
        }
    }

    /// Runs `f` with the cache of matcher `id` (created for `dfa` if
    /// missing), then accounts for its growth.
    fn with<R>(
        &mut self,
        id: u64,
        dfa: &hybrid::dfa::DFA,
        f: impl FnOnce(&mut hybrid::dfa::Cache) -> R,
    ) -> R {
        self.clock += 1;
        let clock = self.clock;
        let slot = self.slots.entry(id).or_insert_with(|| DfaSlot {
            cache: dfa.create_cache(),
            bytes: 0,
            used: clock,
        });
        slot.used = clock;
        let r = f(&mut slot.cache);
        let now = slot.cache.memory_usage();
        // A cache can also shrink: the lazy DFA clears itself when full.
        self.bytes = self.bytes - slot.bytes + now;
        slot.bytes = now;
        if self.bytes > self.budget {
            self.sweep();
        }
        r
    }

    /// Drops the least recently used caches until a quarter of the budget
    /// is free.
    fn sweep(&mut self) {
        let mut by_age: Vec<(u64, u64, usize)> = self
            .slots
            .iter()
            .map(|(&id, s)| (s.used, id, s.bytes))
            .collect();
        by_age.sort_unstable();
        let target = self.budget / 4 * 3;
        for (_, id, bytes) in by_age {
            if self.bytes <= target {
                break;
            }
            self.slots.remove(&id);
            self.bytes -= bytes;
        }
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("nfa_states", &self.dfa.get_nfa().states().len())
            .field("reach", &self.reach)
            .finish()
    }
}

/// The NFA size limit of the regex crate's own default configuration.
const NFA_SIZE_LIMIT: usize = 10 << 20;

/// The forward lazy DFA of `hir` (`None` past the NFA size limit).
fn lazy_dfa(hir: &regex_syntax::hir::Hir) -> Option<hybrid::dfa::DFA> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(WhichCaptures::Implicit)
                .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
        )
        .build_from_hir(hir)
        .ok()?;
    hybrid::dfa::DFA::builder()
        .configure(hybrid::dfa::DFA::config().skip_cache_capacity_check(true))
        .build_from_nfa(nfa)
        .ok()
}

impl Matcher {
    fn new(src: &str) -> Matcher {
        // Validated at load time with regex-syntax, so parsing cannot fail;
        // a size-limit failure degrades to a never-matching matcher.
        let Ok(hir) = regex_syntax::parse(src) else {
            return Matcher::never();
        };
        // Skips the rebuild for patterns without `\w` (a word class spelled
        // out with Unicode properties stays as written).
        let hir = if src.contains(r"\w") {
            compact::compact_word_classes(hir)
        } else {
            hir
        };
        let reach = Reach::of(&hir);
        let (hir, lowered) = match compact::for_lowered_text(&hir) {
            Some(low) => (low, true),
            None => (hir, false),
        };
        match lazy_dfa(&hir) {
            Some(dfa) => Matcher::with_dfa(dfa, lowered, reach),
            None => Matcher::never(),
        }
    }

    fn with_dfa(dfa: hybrid::dfa::DFA, lowered: bool, reach: Option<Reach>) -> Matcher {
        Matcher {
            id: NEXT_MATCHER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            dfa,
            lowered,
            reach,
        }
    }

    /// The first match in `t` between `from` and `to` at word boundaries
    /// (see [`find_verified`]).
    fn find_verified<'r>(
        &self,
        t: Texts<'_>,
        from: usize,
        to: usize,
        tail: impl Fn() -> &'r Regex,
    ) -> Option<(usize, usize)> {
        let hay = if self.lowered { t.lower } else { t.orig };
        find_verified(
            |h, at| self.find_at(&hay[..h.len()], at),
            tail,
            t.orig,
            from,
            to,
        )
    }

    fn never() -> Matcher {
        #[allow(clippy::expect_used)]
        let dfa = regex_syntax::parse(r"[^\s\S]")
            .ok()
            .and_then(|hir| lazy_dfa(&hir))
            .expect("static regex");
        Matcher::with_dfa(dfa, false, Some(Reach::NOTHING))
    }

    /// The leftmost-first match in `hay[at..]` among those that start at a
    /// word boundary or on a non-word character (look-around sees all of
    /// `hay`). A match starting inside a word is never wanted (see
    /// [`find_verified`]), so its start is not looked for.
    fn find_at(&self, hay: &str, at: usize) -> Option<(usize, usize)> {
        DFA_CACHES.with_borrow_mut(|caches| {
            caches.with(self.id, &self.dfa, |cache| self.find_with(cache, hay, at))
        })
    }

    fn find_with(
        &self,
        cache: &mut hybrid::dfa::Cache,
        hay: &str,
        at: usize,
    ) -> Option<(usize, usize)> {
        let mut pos = at;
        // Whether the character before `s` is a word character.
        let mut prev_word = hay[..at].chars().next_back().is_some_and(is_word_char);
        while pos <= hay.len() {
            let end = match self
                .dfa
                .try_search_fwd(cache, &Input::new(hay).range(pos..))
            {
                Ok(Some(m)) => m.offset(),
                Ok(None) => return None,
                Err(_) => return self.pikevm_find(hay, pos),
            };
            // The leftmost match starts in `pos..=end`, within reach of
            // `end`; try each possible start in order.
            let mut s = pos;
            if let Some(lo) = self.reach.map(|r| r.back(hay, end)) {
                if lo > s {
                    s = lo;
                    prev_word = hay[..s].chars().next_back().is_some_and(is_word_char);
                }
            }
            while s <= end {
                let c = hay[s..].chars().next();
                let word = c.is_some_and(is_word_char);
                if !(word && prev_word) {
                    let anchored = Input::new(hay).range(s..).anchored(Anchored::Yes);
                    match self.dfa.try_search_fwd(cache, &anchored) {
                        Ok(Some(m)) => return Some((s, m.offset())),
                        Ok(None) => {}
                        Err(_) => return self.pikevm_find(hay, s),
                    }
                }
                prev_word = word;
                s += c.map_or(1, char::len_utf8);
            }
            pos = s;
        }
        None
    }

    /// The leftmost-first match with the (slow, never failing) PikeVM.
    #[cold]
    fn pikevm_find(&self, hay: &str, at: usize) -> Option<(usize, usize)> {
        let vm = pikevm::PikeVM::new_from_nfa(self.dfa.get_nfa().clone()).ok()?;
        let mut cache = vm.create_cache();
        vm.find(&mut cache, Input::new(hay).range(at..))
            .map(|m| (m.start(), m.end()))
    }
}

#[derive(Debug)]
struct Neutralizer {
    id: String,
    language: String,
    /// Bit set of the signals it applies to.
    signals: u8,
    regex_src: String,
    examples: Examples,
    source: String,
    literals: Option<Clauses>,
    compiled: OnceLock<Matcher>,
    tail: OnceLock<Regex>,
}

impl Neutralizer {
    fn matcher(&self) -> &Matcher {
        self.compiled.get_or_init(|| Matcher::new(&self.regex_src))
    }

    fn find_in(&self, t: Texts<'_>, from: usize, w: Window) -> Option<(usize, usize)> {
        let m = self.matcher();
        let (lo, to) = w.span(t.orig, m.reach);
        m.find_verified(t, from.max(lo), to, || {
            tail_regex(&self.tail, &self.regex_src)
        })
    }
}

/// The byte range of a text in which an entry's required literals occurred
/// (lower-cased text has the same byte offsets). Every match of the entry
/// contains one of those occurrences, so a match lies within the range
/// widened by the pattern's maximum match length on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    lo: usize,
    hi: usize,
}

impl Window {
    const ALL: Window = Window {
        lo: 0,
        hi: usize::MAX,
    };

    fn merge(self, o: Window) -> Window {
        Window {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    /// `(from, to)` to search in `text`, on char boundaries.
    fn span(self, text: &str, reach: Option<Reach>) -> (usize, usize) {
        let (Some(r), true) = (reach, self.hi <= text.len()) else {
            return (0, text.len());
        };
        (r.back(text, self.lo), r.forward(text, self.hi))
    }
}

/// How far a pattern's match can reach: at most `bytes` bytes, `chars`
/// characters and `runs` runs of whitespace (`None`: no limit). Each bounds
/// a search window on its own; the tightest one wins:
/// - characters, for classes (`[^.!?\n]{0,60}` is 60 characters but up to
///   240 bytes);
/// - bytes, for literals in scripts of several bytes per letter;
/// - whitespace runs, for patterns that are unbounded only within a word or
///   a gap between words (`vape\w*`, `[^\s.!?]+\s+casino`): a fifth of the
///   patterns, whose window would otherwise be the whole text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reach {
    bytes: Option<usize>,
    chars: Option<usize>,
    runs: Option<usize>,
}

impl Reach {
    const NOTHING: Reach = Reach {
        bytes: Some(0),
        chars: Some(0),
        runs: Some(0),
    };

    /// `None` when a match can be arbitrarily long and span any number of
    /// words.
    fn of(hir: &regex_syntax::hir::Hir) -> Option<Reach> {
        let r = Reach {
            bytes: hir.properties().maximum_len(),
            chars: compact::max_chars(hir),
            runs: compact::max_space_runs(hir),
        };
        (r.bytes.is_some() || r.runs.is_some()).then_some(r)
    }

    /// Whether taking in `c` passes a limit, given the characters and runs
    /// of whitespace counted so far (and whether the last character counted,
    /// `c`'s neighbour, was whitespace).
    fn passed(self, c: char, chars: &mut usize, runs: &mut usize, in_run: &mut bool) -> bool {
        if self.chars == Some(*chars) {
            return true;
        }
        let space = c.is_whitespace();
        if space && !*in_run {
            if self.runs == Some(*runs) {
                return true;
            }
            *runs += 1;
        }
        *in_run = space;
        *chars += 1;
        false
    }

    /// The earliest char boundary at which a match can start that ends at
    /// `pos` or contains the character at `pos`.
    fn back(self, text: &str, pos: usize) -> usize {
        let pos = floor_boundary(text, pos.min(text.len()));
        let floor = self
            .bytes
            .map_or(0, |b| floor_boundary(text, pos.saturating_sub(b)));
        if self.chars.is_none() && self.runs.is_none() {
            return floor;
        }
        let (mut chars, mut runs, mut in_run) = (0, 0, false);
        for (i, c) in text[floor..pos].char_indices().rev() {
            if self.passed(c, &mut chars, &mut runs, &mut in_run) {
                return floor + i + c.len_utf8();
            }
        }
        floor
    }

    /// The latest char boundary at which a match can end that starts at
    /// `pos` or contains the character before `pos`.
    fn forward(self, text: &str, pos: usize) -> usize {
        let pos = ceil_boundary(text, pos.min(text.len()));
        let ceil = self.bytes.map_or(text.len(), |b| {
            ceil_boundary(text, pos.saturating_add(b).min(text.len()))
        });
        if self.chars.is_none() && self.runs.is_none() {
            return ceil;
        }
        let (mut chars, mut runs, mut in_run) = (0, 0, false);
        for (i, c) in text[pos..ceil].char_indices() {
            if self.passed(c, &mut chars, &mut runs, &mut in_run) {
                return pos + i;
            }
        }
        ceil
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Something the prefilter can select: a pattern or a neutralizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    Pattern(u32),
    Neutralizer(u32),
}

/// Literals shared by more clause groups than this ("de", "the", "your")
/// are not expanded to their clauses: each occurrence would update every
/// such clause. A group containing one is checked instead, only for clauses
/// whose other groups are already satisfied, against the set of literals
/// present in the text.
const COMMON_LITERAL_FANOUT: usize = 12;

/// Languages whose templates routinely mix in English product words; the
/// English restricted-content patterns apply to them as well.
const CODE_MIXED_WITH_ENGLISH: &[&str] = &["hi", "id"];

/// Prefilter tables built from clauses given as groups of literal ids.
#[derive(Debug)]
struct ClauseTables {
    /// Per literal: the (clause, group bit) pairs it satisfies, for the
    /// indexed groups only.
    targets: Vec<Vec<(u32, u8)>>,
    /// Per clause: its entry, the mask of its indexed groups, and the range
    /// of its checked groups in `checked`.
    clauses: Vec<(Entry, u8, u32, u32)>,
    /// Checked groups: ranges of `checked_lits`.
    checked: Vec<(u32, u32)>,
    checked_lits: Vec<u32>,
}

/// Splits each clause's groups into indexed ones (expanded from their
/// literals) and checked ones (those containing a common literal). A clause
/// made only of common groups indexes its least common one.
fn index_clauses(nlits: usize, raw: &[(Entry, Vec<Vec<usize>>)]) -> ClauseTables {
    let mut fanout = vec![0usize; nlits];
    for (_, groups) in raw {
        for group in groups {
            for &l in group {
                fanout[l] += 1;
            }
        }
    }
    let worst = |group: &Vec<usize>| group.iter().map(|&l| fanout[l]).max().unwrap_or(0);
    let mut t = ClauseTables {
        targets: vec![Vec::new(); nlits],
        clauses: Vec::with_capacity(raw.len()),
        checked: Vec::new(),
        checked_lits: Vec::new(),
    };
    for (entry, groups) in raw {
        let (mut indexed, mut checked): (Vec<&Vec<usize>>, Vec<&Vec<usize>>) = groups
            .iter()
            .partition(|g| worst(g) <= COMMON_LITERAL_FANOUT);
        if indexed.is_empty() {
            if let Some(i) = (0..checked.len()).min_by_key(|&i| worst(checked[i])) {
                indexed.push(checked.remove(i));
            }
        }
        let cid = t.clauses.len() as u32;
        let from = t.checked.len() as u32;
        for group in checked {
            let s = t.checked_lits.len() as u32;
            t.checked_lits.extend(group.iter().map(|&l| l as u32));
            t.checked.push((s, t.checked_lits.len() as u32));
        }
        let mask = ((1u16 << indexed.len()) - 1) as u8;
        t.clauses.push((*entry, mask, from, t.checked.len() as u32));
        for (g, group) in indexed.into_iter().enumerate() {
            for &l in group {
                let tg = (cid, 1u8 << g);
                if !t.targets[l].contains(&tg) {
                    t.targets[l].push(tg);
                }
            }
        }
    }
    t
}

thread_local! {
    /// Per-thread scratch for [`LangIndex::candidates`]: clause bit sets and
    /// literal windows (all reset between calls), and the clauses touched by
    /// the current text.
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new(Scratch {
            bits: Vec::new(),
            windows: Vec::new(),
            touched: Vec::new(),
            occ: Vec::new(),
            present: stamps::Stamps::new(),
        })
    };
}

struct Scratch {
    bits: Vec<u8>,
    windows: Vec<Window>,
    touched: Vec<u32>,
    /// (literal id, start, end) of every occurrence in the current text.
    occ: Vec<(u32, usize, usize)>,
    /// The literals occurring in the current text.
    present: stamps::Stamps,
}

/// The prefilter for one language. Each entry's requirement is a set of
/// clauses (see [`Clauses`]); each clause has an id, and each literal lists
/// the (clause, group bit) pairs it satisfies. An entry is a candidate when
/// one of its clauses has every group bit set.
#[derive(Debug)]
struct LangIndex {
    ac: Option<AhoCorasick>,
    tables: ClauseTables,
    /// Entries without a usable literal: candidates for every template.
    always: Vec<Entry>,
}

impl LangIndex {
    /// Candidate entries for `text`, sorted and deduplicated, each with the
    /// window of its satisfied clauses' literal occurrences.
    fn candidates(&self, lowered: &str) -> Vec<(Entry, Window)> {
        let mut cands: Vec<(Entry, Window)> =
            self.always.iter().map(|&e| (e, Window::ALL)).collect();
        if let Some(ac) = &self.ac {
            SCRATCH.with(|cell| {
                let mut scratch = cell.borrow_mut();
                let Scratch {
                    bits,
                    windows,
                    touched,
                    occ,
                    present,
                } = &mut *scratch;
                let t = &self.tables;
                present.next_round(t.targets.len());
                occ.clear();
                occ.extend(
                    ac.find_overlapping_iter(lowered)
                        .map(|m| (m.pattern().as_u32(), m.start(), m.end())),
                );
                // Distinct literals first: a frequent word occurring five
                // times is expanded to its clauses once, with the span of
                // all its occurrences.
                occ.sort_unstable_by_key(|o| o.0);
                if bits.len() < t.clauses.len() {
                    bits.resize(t.clauses.len(), 0);
                    windows.resize(t.clauses.len(), Window::ALL);
                }
                let mut i = 0;
                while i < occ.len() {
                    let l = occ[i].0;
                    let mut w = Window {
                        lo: occ[i].1,
                        hi: occ[i].2,
                    };
                    present.mark(l as usize);
                    i += 1;
                    while i < occ.len() && occ[i].0 == l {
                        w.lo = w.lo.min(occ[i].1);
                        w.hi = w.hi.max(occ[i].2);
                        i += 1;
                    }
                    for &(c, b) in &t.targets[l as usize] {
                        let c = c as usize;
                        if bits[c] == 0 {
                            touched.push(c as u32);
                            windows[c] = w;
                        } else {
                            windows[c] = windows[c].merge(w);
                        }
                        bits[c] |= b;
                    }
                }
                for c in touched.drain(..) {
                    let c = c as usize;
                    let (entry, full, from, to) = t.clauses[c];
                    if bits[c] == full
                        && t.checked[from as usize..to as usize].iter().all(|&(a, b)| {
                            t.checked_lits[a as usize..b as usize]
                                .iter()
                                .any(|&l| present.is_marked(l as usize))
                        })
                    {
                        cands.push((entry, windows[c]));
                    }
                    bits[c] = 0;
                }
            });
        }
        cands.sort_unstable_by_key(|c| c.0);
        cands.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 = a.1.merge(b.1);
                true
            } else {
                false
            }
        });
        cands
    }
}

/// A hit: one pattern of a rule matched, at a verified word boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: usize,
    pub pattern: usize,
    pub weight: f64,
    pub start: usize,
    pub end: usize,
}

/// All loaded rules and patterns.
#[derive(Debug)]
pub struct RulePack {
    pub name: String,
    pub version: String,
    /// sha256 over every file loaded and the configuration applied (16 hex).
    pub digest: String,
    /// The promotional-language model behind `tpl.mkt.model` (the rules
    /// folder's `models/marketing-nb.tsv`, or the shipped one).
    pub model: Option<std::sync::Arc<model::MarketingModel>>,
    pub rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
    pub patterns: Vec<Pattern>,
    neutralizers: Vec<Neutralizer>,
    /// Languages that have their own patterns.
    pub languages: BTreeSet<String>,
    indexes: HashMap<String, OnceLock<LangIndex>>,
    /// The "unknown language" index: every language's patterns.
    fallback: OnceLock<LangIndex>,
    /// Per signal: every language's patterns of that signal only (for text
    /// of no known language, such as inbound replies).
    by_signal: [OnceLock<LangIndex>; Signal::ALL.len()],
}

/// Suffix of the names of embedded files: they were fully validated by the
/// test suite, so loading skips the (slower) Unicode-level regex check.
const BUILTIN_MARK: &str = " (built-in)";

/// The folder of rate cards under `rules/`, skipped by the rule loader.
const RATES_DIR: &str = "rates/";

/// The language key a template language maps to: `pt_BR` → `pt`, `es-419` → `es`.
pub fn primary_language(lang: &str) -> String {
    lang.split(['_', '-'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl RulePack {
    /// The embedded packs only, without configuration.
    pub fn builtin() -> Result<RulePack, RulePackError> {
        RulePack::load(&RulesConfig::default(), None, &[])
    }

    /// Loads the embedded packs (or `rules_dir` instead of them, when given),
    /// then the config's extra folders, then applies disable/overrides.
    pub fn load(
        cfg: &RulesConfig,
        rules_dir: Option<&Path>,
        extra_dirs: &[PathBuf],
    ) -> Result<RulePack, RulePackError> {
        let mut files: Vec<(String, String)> = Vec::new();
        match rules_dir {
            Some(dir) => files.extend(read_dir_toml(dir)?),
            None => files.extend(
                EMBEDDED
                    .iter()
                    // Rate cards (rules/rates/) are data of another kind: see `crate::rates`.
                    .filter(|(p, _)| !p.starts_with(RATES_DIR))
                    .map(|(p, c)| (format!("rules/{p}{BUILTIN_MARK}"), (*c).to_owned())),
            ),
        }
        for dir in extra_dirs {
            files.extend(read_dir_toml(dir)?);
        }
        let mut pack = RulePack::from_sources(&files, cfg)?;
        let (model, text) = match rules_dir {
            None => (
                Some(model::MarketingModel::builtin()),
                model::EMBEDDED.to_owned(),
            ),
            Some(dir) => {
                let path = dir.join(model::MODEL_PATH);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let m = model::MarketingModel::parse(&text).map_err(|message| {
                            RulePackError::Parse {
                                path: path.clone(),
                                message,
                            }
                        })?;
                        (Some(std::sync::Arc::new(m)), text)
                    }
                    // A rules folder without a model: patterns only.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
                    Err(e) => {
                        return Err(RulePackError::Parse {
                            path,
                            message: format!("cannot read: {e}"),
                        });
                    }
                }
            }
        };
        if model.is_some() {
            // The digest covers the model too.
            let mut h = Sha256::new();
            h.update(pack.digest.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            pack.digest = hex::encode(&h.finalize()[..8]);
        }
        pack.model = model;
        Ok(pack)
    }

    /// Builds a pack from `(path, content)` pairs (in load order).
    pub fn from_sources(
        files: &[(String, String)],
        cfg: &RulesConfig,
    ) -> Result<RulePack, RulePackError> {
        let mut hasher = Sha256::new();
        let mut name = String::from("custom");
        let mut version = String::from("0");
        let mut rules: Vec<Rule> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut pending_matches: Vec<(String, String, bool, MatchDef)> = Vec::new();
        let mut neutralizers = Vec::new();

        // The costly parts — TOML parsing and the literal analysis of
        // thousands of patterns — run on every core; the rest is in order.
        let parsed: Vec<Result<RuleFile, String>> = par_map(files, |(_, content)| {
            toml::from_str::<RuleFile>(content).map_err(|e| e.to_string().trim_end().to_owned())
        });
        let sources: Vec<String> = parsed
            .iter()
            .flatten()
            .flat_map(|f| {
                f.matches
                    .iter()
                    .flat_map(|m| m.patterns.iter())
                    .chain(f.neutralize.iter().flat_map(|n| n.patterns.iter()))
                    .cloned()
            })
            .collect();
        // Shipped patterns were analysed at build time (build.rs); the
        // others (custom packs, extra dirs) here.
        let built = prefilter_cache();
        let (known, todo): (Vec<String>, Vec<String>) = sources
            .into_iter()
            .partition(|p| built.contains_key(p.as_str()));
        let analysed = par_map(&todo, |p| {
            required_clauses(p).map_err(|e| syntax_message(&e.to_string()))
        });
        let mut clause_cache: HashMap<String, Result<Option<Clauses>, String>> =
            todo.into_iter().zip(analysed).collect();
        for p in known {
            let c = built.get(p.as_str()).cloned().flatten();
            clause_cache.insert(p, Ok(c));
        }

        for ((path, content), file) in files.iter().zip(parsed) {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(content.as_bytes());
            hasher.update([0]);
            let pb = PathBuf::from(path);
            let full_check = !path.ends_with(BUILTIN_MARK);
            let file: RuleFile = file.map_err(|message| RulePackError::Parse {
                path: pb.clone(),
                message,
            })?;
            if let Some(meta) = file.pack {
                name = meta.name;
                version = meta.version;
            }
            if (!file.matches.is_empty() || !file.neutralize.is_empty()) && file.language.is_none()
            {
                return Err(RulePackError::Parse {
                    path: pb,
                    message: "a file with [[match]] or [[neutralize]] blocks needs a top-level `language = \"xx\"` (or \"*\" for all languages)".into(),
                });
            }
            let language = file
                .language
                .as_deref()
                .map(|l| {
                    if l == "*" {
                        "*".to_owned()
                    } else {
                        primary_language(l)
                    }
                })
                .unwrap_or_default();
            for def in file.rule {
                validate_rule_def(&pb, &def)?;
                for key in std::iter::once(&def.id).chain(def.aliases.iter()) {
                    if let Some(&prev) = by_id.get(key) {
                        return Err(RulePackError::Invalid {
                            path: pb,
                            rule: key.clone(),
                            message: format!("id already defined in {}", rules[prev].source),
                        });
                    }
                }
                let idx = rules.len();
                by_id.insert(def.id.clone(), idx);
                for a in &def.aliases {
                    by_id.insert(a.clone(), idx);
                }
                rules.push(Rule {
                    severity: def.severity,
                    enabled: true,
                    languages: BTreeSet::new(),
                    source: path.clone(),
                    def,
                });
            }
            for m in file.matches {
                pending_matches.push((path.clone(), language.clone(), full_check, m));
            }
            for n in file.neutralize {
                if n.patterns.is_empty() {
                    return Err(RulePackError::Invalid {
                        path: pb,
                        rule: n.id,
                        message: "neutralize block has no patterns".into(),
                    });
                }
                let mut lits: Option<Clauses> = Some(Vec::new());
                for p in &n.patterns {
                    let l = check_pattern(&pb, &n.id, p, full_check, &clause_cache)?;
                    lits = match (lits, l) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    };
                }
                let src = n
                    .patterns
                    .iter()
                    .map(|p| format!("(?:{p})"))
                    .collect::<Vec<_>>()
                    .join("|");
                neutralizers.push(Neutralizer {
                    id: n.id,
                    language: language.clone(),
                    signals: if n.signals.is_empty() {
                        Signal::Marketing.bit() | Signal::Restricted.bit()
                    } else {
                        n.signals.iter().fold(0, |acc, s| acc | s.bit())
                    },
                    regex_src: format!("(?i){src}"),
                    examples: n.examples,
                    source: path.clone(),
                    literals: lits,
                    compiled: OnceLock::new(),
                    tail: OnceLock::new(),
                });
                let _ = n.note;
            }
        }

        // Patterns, now that every rule is known (extra packs may add
        // patterns to built-in rules).
        let mut patterns = Vec::new();
        let mut languages = BTreeSet::new();
        for (path, language, full_check, m) in pending_matches {
            let pb = PathBuf::from(&path);
            let Some(&ri) = by_id.get(&m.rule) else {
                return Err(RulePackError::Invalid {
                    path: pb,
                    rule: m.rule,
                    message: "[[match]] for a rule id that no [[rule]] defines".into(),
                });
            };
            if rules[ri].def.signal.is_none() {
                return Err(RulePackError::Invalid {
                    path: pb,
                    rule: m.rule,
                    message:
                        "rule has patterns but no `signal` (marketing, utility, restricted, code, optout, support)"
                            .into(),
                });
            }
            if m.patterns.is_empty() {
                return Err(RulePackError::Invalid {
                    path: pb,
                    rule: m.rule,
                    message: "[[match]] block has no patterns".into(),
                });
            }
            if !(m.weight > 0.0 && m.weight <= 10.0) {
                return Err(RulePackError::Invalid {
                    path: pb,
                    rule: m.rule,
                    message: format!("weight {} is out of range (0, 10]", m.weight),
                });
            }
            for p in &m.patterns {
                let literals = check_pattern(&pb, &m.rule, p, full_check, &clause_cache)?;
                let regex_src = if m.case_sensitive {
                    p.clone()
                } else {
                    format!("(?i){p}")
                };
                patterns.push(Pattern {
                    rule: ri,
                    language: language.clone(),
                    weight: m.weight,
                    source: path.clone(),
                    regex_src,
                    examples: m.examples.clone(),
                    literals,
                    compiled: OnceLock::new(),
                    tail: OnceLock::new(),
                });
            }
            rules[ri].languages.insert(language.clone());
            if language != "*" {
                languages.insert(language);
            }
        }

        for r in &rules {
            if r.def.kind == RuleKind::Pattern && r.languages.is_empty() {
                return Err(RulePackError::Invalid {
                    path: PathBuf::from(&r.source),
                    rule: r.def.id.clone(),
                    message: "pattern rule has no [[match]] patterns in any language".into(),
                });
            }
        }

        // Configuration: disable and severity overrides (unknown ids are errors).
        for id in &cfg.disable {
            let Some(&i) = by_id.get(id) else {
                return Err(RulePackError::Config(format!(
                    "rules.disable: unknown rule id `{id}` (see `wabaguard rules list`)"
                )));
            };
            rules[i].enabled = false;
        }
        for (id, sev) in &cfg.severity_overrides {
            let Some(&i) = by_id.get(id) else {
                return Err(RulePackError::Config(format!(
                    "rules.severity_overrides: unknown rule id `{id}` (see `wabaguard rules list`)"
                )));
            };
            rules[i].severity = *sev;
        }
        let mut disabled: Vec<&String> = cfg.disable.iter().collect();
        disabled.sort();
        for d in disabled {
            hasher.update(b"disable:");
            hasher.update(d.as_bytes());
        }
        for (id, sev) in &cfg.severity_overrides {
            hasher.update(format!("override:{id}={sev}").as_bytes());
        }
        let digest = hex::encode(&hasher.finalize()[..8]);

        let indexes = languages
            .iter()
            .map(|l| (l.clone(), OnceLock::new()))
            .collect();
        Ok(RulePack {
            name,
            version,
            digest,
            model: None,
            rules,
            by_id,
            patterns,
            neutralizers,
            languages,
            indexes,
            fallback: OnceLock::new(),
            by_signal: Default::default(),
        })
    }

    pub fn rule_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_index(id).map(|i| &self.rules[i])
    }

    /// An enabled rule by id (builtin checks ask for theirs this way).
    pub fn enabled(&self, id: &str) -> Option<&Rule> {
        self.rule(id).filter(|r| r.enabled)
    }

    /// Compiles every matcher now (start-up cost made explicit, e.g. for `rules check`).
    pub fn compile_all(&self) {
        for lang in &self.languages {
            let _ = self.index(lang);
        }
        let _ = self.index("");
        for p in &self.patterns {
            let _ = p.matcher();
        }
        for n in &self.neutralizers {
            let _ = n.matcher();
        }
    }

    /// Patterns with no literal for the prefilter (they run on every
    /// template of their language).
    pub fn unfiltered_patterns(&self) -> Vec<&Pattern> {
        self.patterns
            .iter()
            .filter(|p| p.literals.is_none())
            .collect()
    }

    /// Compiles every pattern and neutralizer regex (Unicode-level checks
    /// included) and returns one line per failure.
    pub fn compile_errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.patterns {
            if let Err(e) = Regex::new(&p.regex_src) {
                out.push(format!(
                    "{}: rule `{}`: bad pattern `{}`: {}",
                    p.source,
                    self.rules[p.rule].def.id,
                    p.regex_src,
                    e.to_string().replace('\n', " ")
                ));
            }
        }
        for n in &self.neutralizers {
            if let Err(e) = Regex::new(&n.regex_src) {
                out.push(format!(
                    "{}: neutralize `{}`: {}",
                    n.source,
                    n.id,
                    e.to_string().replace('\n', " ")
                ));
            }
        }
        out
    }

    /// The prefilter index of a language key (`""` or an unknown key: all languages).
    fn index(&self, lang_key: &str) -> &LangIndex {
        match self.indexes.get(lang_key) {
            Some(cell) => cell.get_or_init(|| self.build_index(Some(lang_key), None)),
            None => self.fallback.get_or_init(|| self.build_index(None, None)),
        }
    }

    /// `lang = None` builds the all-languages index (unknown template
    /// languages); `signal` keeps only that signal's patterns and
    /// neutralizers.
    fn build_index(&self, lang: Option<&str>, signal: Option<Signal>) -> LangIndex {
        let lang_ok = |l: &str| l == "*" || lang.is_none_or(|k| k == l);
        let sig_ok = |bits: u8| signal.is_none_or(|s| bits & s.bit() != 0);
        let mut lits: Vec<String> = Vec::new();
        let mut lit_ids: HashMap<String, usize> = HashMap::new();
        let mut always = Vec::new();
        // Clauses as literal ids per group, before choosing which groups to
        // index.
        let mut raw: Vec<(Entry, Vec<Vec<usize>>)> = Vec::new();
        let mut add = |entry: Entry, req: &Option<Clauses>| match req {
            None => always.push(entry),
            Some(cs) => {
                for groups in cs {
                    let ids = groups
                        .iter()
                        .take(literals::MAX_GROUPS)
                        .map(|group| {
                            group
                                .iter()
                                .map(|l| {
                                    *lit_ids.entry(l.clone()).or_insert_with(|| {
                                        lits.push(l.clone());
                                        lits.len() - 1
                                    })
                                })
                                .collect()
                        })
                        .collect();
                    raw.push((entry, ids));
                }
            }
        };
        // Hindi and Indonesian business messages mix in English freely
        // (Hinglish in Latin script, "vape", "CBD", "bitcoin", "singles"),
        // so the English restricted-content patterns (and their
        // neutralizers) apply to templates in those languages too. Not to
        // the European languages: too many false friends there ("Lager" is
        // a warehouse, "indica" a verb).
        let code_mixed = lang.is_some_and(|k| CODE_MIXED_WITH_ENGLISH.contains(&k));
        let lingua_franca =
            |l: &str, bits: u8| code_mixed && l == "en" && bits & Signal::Restricted.bit() != 0;
        for (i, p) in self.patterns.iter().enumerate() {
            let bits = self.rules[p.rule].def.signal.map_or(0, Signal::bit);
            if self.rules[p.rule].enabled
                && (lang_ok(&p.language) || lingua_franca(&p.language, bits))
                && sig_ok(bits)
            {
                add(Entry::Pattern(i as u32), &p.literals);
            }
        }
        for (i, n) in self.neutralizers.iter().enumerate() {
            if (lang_ok(&n.language)
                || lingua_franca(&n.language, n.signals & Signal::Restricted.bit()))
                && sig_ok(n.signals)
            {
                add(Entry::Neutralizer(i as u32), &n.literals);
            }
        }
        let tables = index_clauses(lits.len(), &raw);
        let ac = if lits.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(&lits)
                .ok()
        };
        if ac.is_none() {
            // No automaton (cannot happen for valid literals): fall back to
            // running every entry.
            always.extend(tables.clauses.iter().map(|c| c.0));
            always.sort_unstable();
            always.dedup();
        }
        LangIndex { ac, tables, always }
    }

    /// Finds every pattern of `signal` that matches `text` for a template in
    /// `language`, at Unicode word boundaries, after neutralization. One hit
    /// per pattern (the first verified occurrence).
    pub fn scan(&self, language: &str, signal: Signal, text: &str) -> Vec<Hit> {
        self.scan_signals(language, &[signal], text)
    }

    /// Candidate pattern ids the prefilter selects for `text` (diagnostics
    /// and benchmarks).
    #[doc(hidden)]
    pub fn prefilter_candidates(&self, language: &str, text: &str) -> Vec<usize> {
        let idx = self.index(&primary_language(language));
        idx.candidates(&lower_same_len(text))
            .into_iter()
            .filter_map(|(e, _)| match e {
                Entry::Pattern(i) => Some(i as usize),
                Entry::Neutralizer(_) => None,
            })
            .collect()
    }

    /// Like [`scan`](Self::scan) for several signals in one pass.
    pub fn scan_signals(&self, language: &str, signals: &[Signal], text: &str) -> Vec<Hit> {
        let idx = self.index(&primary_language(language));
        self.scan_index(idx, signals, text)
    }

    /// Like [`scan`](Self::scan) for text of no known language: the patterns
    /// of `signal` in every language, through a prefilter of that signal
    /// alone (inbound replies are matched this way).
    pub fn scan_any_language(&self, signal: Signal, text: &str) -> Vec<Hit> {
        let idx =
            self.by_signal[signal as usize].get_or_init(|| self.build_index(None, Some(signal)));
        self.scan_index(idx, &[signal], text)
    }

    fn scan_index(&self, idx: &LangIndex, signals: &[Signal], text: &str) -> Vec<Hit> {
        let wanted = signals.iter().fold(0u8, |acc, s| acc | s.bit());
        // Candidates: entries one of whose clauses is satisfied by the
        // literals occurring in the lower-cased text.
        let lowered = lower_same_len(text);
        let cands = idx.candidates(&lowered);
        let texts = Texts::of(text, &lowered);
        // Neutralized spans, per signal bit set.
        let mut spans: Vec<(usize, usize, u8)> = Vec::new();
        for &(e, w) in &cands {
            if let Entry::Neutralizer(i) = e {
                let n = &self.neutralizers[i as usize];
                if n.signals & wanted == 0 {
                    continue;
                }
                let mut from = 0;
                while let Some((s, e)) = n.find_in(texts, from, w) {
                    spans.push((s, e, n.signals));
                    from = e;
                }
            }
        }
        let mut blanked: [Option<(String, String)>; Signal::ALL.len()] = Default::default();
        let mut hits = Vec::new();
        for (e, w) in cands {
            let Entry::Pattern(pi) = e else { continue };
            let pi = pi as usize;
            let p = &self.patterns[pi];
            let Some(signal) = self.rules[p.rule].def.signal else {
                continue;
            };
            if signal.bit() & wanted == 0 {
                continue;
            }
            let hay = if spans.iter().any(|sp| sp.2 & signal.bit() != 0) {
                let (orig, lower) = blanked[signal as usize].get_or_insert_with(|| {
                    let (mut b, mut l) = (text.to_owned(), lowered.clone());
                    for &(s, e, bits) in &spans {
                        if bits & signal.bit() != 0 {
                            blank_range(&mut b, s, e);
                            blank_range(&mut l, s, e);
                        }
                    }
                    (b, l)
                });
                Texts::of(orig, lower)
            } else {
                texts
            };
            if let Some((start, end)) = p.find_in(hay, w) {
                hits.push(Hit {
                    rule: p.rule,
                    pattern: pi,
                    weight: p.weight,
                    start,
                    end,
                });
            }
        }
        hits.sort_by_key(|h| h.pattern);
        hits
    }

    /// Rule ids in a stable order: family, then id.
    pub fn sorted_rules(&self) -> Vec<&Rule> {
        let mut v: Vec<&Rule> = self.rules.iter().collect();
        v.sort_by(|a, b| (&a.def.family, &a.def.id).cmp(&(&b.def.family, &b.def.id)));
        v
    }

    /// Patterns per language for one rule (for `rules explain`).
    pub fn pattern_counts(&self, rule: usize) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for p in self.patterns.iter().filter(|p| p.rule == rule) {
            *m.entry(p.language.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Runs every pattern and neutralizer example shipped in the packs and
    /// returns one line per failure (empty = all pass).
    pub fn check_pattern_examples(&self) -> Vec<String> {
        let mut failures = Vec::new();
        // Group patterns by (rule, language, source) with their examples.
        let mut seen: BTreeSet<(usize, String, String, String)> = BTreeSet::new();
        for p in &self.patterns {
            let r = &self.rules[p.rule];
            let Some(signal) = r.def.signal else { continue };
            for (positive, examples) in
                [(true, &p.examples.positive), (false, &p.examples.negative)]
            {
                for ex in examples {
                    let key = (p.rule, p.language.clone(), ex.clone(), positive.to_string());
                    if !seen.insert(key) {
                        continue;
                    }
                    let lang = if p.language == "*" {
                        "xx"
                    } else {
                        p.language.as_str()
                    };
                    let matched = self.scan(lang, signal, ex).iter().any(|h| {
                        h.rule == p.rule && self.patterns[h.pattern].language == p.language
                    });
                    if matched != positive {
                        failures.push(format!(
                            "{}: rule `{}` [{}]: {} example {:?} {}",
                            p.source,
                            r.def.id,
                            p.language,
                            if positive { "positive" } else { "negative" },
                            ex,
                            if positive {
                                "does not match"
                            } else {
                                "matches"
                            }
                        ));
                    }
                }
            }
        }
        for n in &self.neutralizers {
            if let Err(e) = Regex::new(&n.regex_src) {
                failures.push(format!("{}: neutralize `{}`: {e}", n.source, n.id));
                continue;
            }
            for ex in &n.examples.positive {
                if n.find_in(Texts::of(ex, &lower_same_len(ex)), 0, Window::ALL)
                    .is_none()
                {
                    failures.push(format!(
                        "{}: neutralize `{}`: positive example {:?} does not match",
                        n.source, n.id, ex
                    ));
                }
            }
            for ex in &n.examples.negative {
                if n.find_in(Texts::of(ex, &lower_same_len(ex)), 0, Window::ALL)
                    .is_some()
                {
                    failures.push(format!(
                        "{}: neutralize `{}`: negative example {:?} matches",
                        n.source, n.id, ex
                    ));
                }
            }
        }
        failures
    }
}

pub(crate) fn read_dir_toml(dir: &Path) -> Result<Vec<(String, String)>, RulePackError> {
    let mut paths = Vec::new();
    collect_toml(dir, &mut paths).map_err(|source| RulePackError::Read {
        path: dir.to_owned(),
        source,
    })?;
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let content = std::fs::read_to_string(&p).map_err(|source| RulePackError::Read {
            path: p.clone(),
            source,
        })?;
        out.push((p.display().to_string(), content));
    }
    Ok(out)
}

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            // A `rates/` folder holds rate cards, not rules (see `crate::rates`).
            if p.file_name()
                .is_some_and(|n| n == RATES_DIR.trim_end_matches('/'))
            {
                continue;
            }
            collect_toml(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

fn validate_rule_def(path: &Path, def: &RuleDef) -> Result<(), RulePackError> {
    let invalid = |message: String| RulePackError::Invalid {
        path: path.to_owned(),
        rule: def.id.clone(),
        message,
    };
    let id_ok = !def.id.is_empty()
        && def
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if !id_ok {
        return Err(invalid(
            "rule ids use lower-case ASCII letters, digits, '.', '-' and '_'".into(),
        ));
    }
    if def.description.trim().is_empty() || def.remediation.trim().is_empty() {
        return Err(invalid("description and remediation are required".into()));
    }
    for c in &def.applies_to {
        if !matches!(c.as_str(), "MARKETING" | "UTILITY" | "AUTHENTICATION") {
            return Err(invalid(format!(
                "applies_to: unknown category `{c}` (MARKETING, UTILITY, AUTHENTICATION)"
            )));
        }
    }
    if def.kind == RuleKind::Builtin {
        for ex in def.examples.positive.iter().chain(&def.examples.negative) {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(ex) {
                return Err(invalid(format!(
                    "builtin rule examples must be Graph API template JSON: {e}"
                )));
            }
        }
    }
    Ok(())
}

/// Prefilter clauses of every pattern in the shipped packs, computed by
/// build.rs with the same code (`literals.rs`): pattern, U+0001, then clauses
/// separated by U+0002, groups by U+0003, literals by U+0004 (U+0005 = no
/// usable literal); records end with U+0000.
static PREFILTER_CACHE: &str = include_str!(concat!(env!("OUT_DIR"), "/prefilter_cache.txt"));

fn prefilter_cache() -> &'static HashMap<&'static str, Option<Clauses>> {
    static CACHE: LazyLock<HashMap<&'static str, Option<Clauses>>> = LazyLock::new(|| {
        PREFILTER_CACHE
            .split('\u{0}')
            .filter_map(|rec| {
                let (pattern, enc) = rec.split_once('\u{1}')?;
                let clauses = (enc != "\u{5}").then(|| {
                    enc.split('\u{2}')
                        .map(|c| {
                            c.split('\u{3}')
                                .map(|g| g.split('\u{4}').map(str::to_owned).collect())
                                .collect()
                        })
                        .collect()
                });
                Some((pattern, clauses))
            })
            .collect()
    });
    &CACHE
}

/// `f` over `items` on every core (at most 8 threads), results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    if threads == 1 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Validates a pattern and returns its prefilter literals. `full` also
/// translates it with Unicode tables (catches e.g. unknown `\p{..}` names).
fn check_pattern(
    path: &Path,
    rule: &str,
    pattern: &str,
    full: bool,
    cache: &HashMap<String, Result<Option<Clauses>, String>>,
) -> Result<Option<Clauses>, RulePackError> {
    let err = |message: String| RulePackError::Regex {
        path: path.to_owned(),
        rule: rule.to_owned(),
        pattern: pattern.to_owned(),
        message,
    };
    if pattern.contains(r"\b") || pattern.contains(r"\B") {
        return Err(err(
            "do not use \\b: word boundaries are enforced by the engine at both ends of every match (Unicode-aware)".into(),
        ));
    }
    if pattern.trim().is_empty() {
        return Err(err("empty pattern".into()));
    }
    let literals = match cache.get(pattern) {
        Some(r) => r.clone().map_err(err)?,
        None => required_clauses(pattern).map_err(|e| err(syntax_message(&e.to_string())))?,
    };
    if full {
        regex_syntax::Parser::new()
            .parse(pattern)
            .map_err(|e| err(syntax_message(&e.to_string())))?;
    }
    Ok(literals)
}

/// The last line of a regex-syntax error ("error: unclosed group").
fn syntax_message(full: &str) -> String {
    full.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(full)
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

static WORD_CHAR: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"^\w").expect("static regex")
});

/// Unicode word character (letters, marks, digits, connector punctuation).
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let mut buf = [0u8; 4];
    WORD_CHAR.is_match(c.encode_utf8(&mut buf))
}

/// The first match of `re` in `text` whose ends sit on word boundaries
/// (checked only on a side where the match itself starts/ends with a word
/// character, like `rg -w`). Without a retry regex: see [`find_verified`].
pub fn find_at_word_boundary(re: &Regex, text: &str) -> Option<(usize, usize)> {
    find_verified(
        |hay, at| re.find_at(hay, at).map(|m| (m.start(), m.end())),
        || re,
        text,
        0,
        text.len(),
    )
}

/// Compiles `(?:SRC)(\W|$)`: the pattern followed by a non-word character or
/// the end, used to retry a match whose end fell inside a word.
fn tail_regex<'a>(cell: &'a OnceLock<Regex>, src: &str) -> &'a Regex {
    cell.get_or_init(|| {
        Regex::new(&format!(r"(?:{src})(\W|$)")).unwrap_or_else(|_| never_matching_regex())
    })
}

fn never_matching_regex() -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(r"[^\s\S]").expect("static regex")
}

/// The first match at word boundaries in `text[from..to]` (`to` on a char
/// boundary; the word-boundary checks look at the whole `text`).
///
/// The regex engine picks the first alternative that matches (`crypto`
/// before `cryptomonnaies`), so a match whose end falls inside a word is
/// retried at the same start with `tail` — the pattern followed by a
/// non-word character — which finds the alternative that does end at a
/// boundary. Only then does the search move on.
pub fn find_verified<'a>(
    find: impl Fn(&str, usize) -> Option<(usize, usize)>,
    tail: impl Fn() -> &'a Regex,
    text: &str,
    from: usize,
    to: usize,
) -> Option<(usize, usize)> {
    let hay = &text[..to];
    let mut start_at = from;
    while start_at <= hay.len() {
        let (s, e) = find(hay, start_at)?;
        if e > s {
            if boundary_ok(text, s, e) {
                return Some((s, e));
            }
            if start_ok(text, s, e) {
                if let Some(c) = tail().captures_at(hay, s) {
                    if let (Some(all), Some(b)) = (c.get(0), c.get(1)) {
                        let e2 = b.start();
                        if all.start() == s && e2 > s && boundary_ok(text, s, e2) {
                            return Some((s, e2));
                        }
                    }
                }
            }
        }
        let next = text[s..].chars().next().map_or(1, char::len_utf8);
        start_at = s + next;
    }
    None
}

fn start_ok(text: &str, s: usize, e: usize) -> bool {
    let first = text[s..e].chars().next();
    !(first.is_some_and(is_word_char) && text[..s].chars().next_back().is_some_and(is_word_char))
}

fn boundary_ok(text: &str, s: usize, e: usize) -> bool {
    let matched = &text[s..e];
    let first = matched.chars().next();
    let last = matched.chars().next_back();
    if first.is_some_and(is_word_char) && text[..s].chars().next_back().is_some_and(is_word_char) {
        return false;
    }
    if last.is_some_and(is_word_char) && text[e..].chars().next().is_some_and(is_word_char) {
        return false;
    }
    true
}

/// Replaces `text[s..e]` with ASCII spaces of the same byte length (char
/// boundaries stay valid because every replaced char becomes spaces).
fn blank_range(text: &mut String, s: usize, e: usize) {
    if s >= e || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
        return;
    }
    text.replace_range(s..e, &" ".repeat(e - s));
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_time_prefilter_cache_matches_the_runtime_analysis() {
        let cache = super::prefilter_cache();
        let pack = RulePack::builtin().unwrap();
        assert!(cache.len() > 1000, "cache has {} patterns", cache.len());
        let mut checked = 0;
        for p in &pack.patterns {
            let src = p.regex_src.strip_prefix("(?i)").unwrap_or(&p.regex_src);
            if let Some(c) = cache.get(src) {
                assert_eq!(c, &required_clauses(src).unwrap(), "{src}");
                checked += 1;
            }
        }
        assert!(checked > 3000, "{checked}");
    }

    #[test]
    fn english_restricted_words_count_in_hindi_and_indonesian_only() {
        let pack = RulePack::builtin().unwrap();
        // Distinct rule ids hit (several patterns of one rule may match).
        let rules = |lang: &str, text: &str| -> Vec<String> {
            let ids: std::collections::BTreeSet<String> = pack
                .scan(lang, Signal::Restricted, text)
                .iter()
                .map(|h| pack.rules[h.rule].def.id.clone())
                .collect();
            ids.into_iter().collect()
        };
        // Hinglish and Indonesian in Latin script carry English product words.
        let hinglish = "Naya hard seltzer stock aa gaya, abhi order karein!";
        assert_eq!(rules("hi", hinglish), ["tpl.res.alcohol"]);
        let id = "Kak, cari sugar daddy yang royal? Gabung sekarang, gratis!";
        assert_eq!(rules("id", id), ["tpl.res.dating"]);
        // English marketing patterns stay English-only.
        assert!(
            pack.scan("hi", Signal::Marketing, "Flat 20% off, shop now")
                .iter()
                .all(|h| pack.patterns[h.pattern].language != "en")
        );
        // European languages keep their own words: a German warehouse
        // ("Lager") is not lager beer.
        let de = "Ihre Bestellung hat unser Lager verlassen und kommt morgen an.";
        assert!(rules("de", de).is_empty(), "{:?}", rules("de", de));
    }

    use super::*;

    fn pack(src: &str) -> Result<RulePack, RulePackError> {
        RulePack::from_sources(
            &[("test.toml".to_owned(), src.to_owned())],
            &RulesConfig::default(),
        )
    }

    const MINI: &str = r#"
language = "en"
[[rule]]
id = "tpl.res.gambling"
family = "template.restricted_content"
severity = "high"
signal = "restricted"
title = "Gambling"
description = "Real-money gambling."
remediation = "Remove it."
[[match]]
rule = "tpl.res.gambling"
patterns = ['bet(?:s|ting)?', 'casino']
examples.positive = ["Place your bet now", "Best casino bonus"]
examples.negative = ["Learn the alphabet", "a better day"]
[[neutralize]]
id = "idiom.bet-you"
patterns = ['bet you(?:.ll)?']
examples.positive = ["I bet you'll love it"]
"#;

    #[test]
    fn word_boundaries_are_unicode_aware_and_enforced() {
        let p = pack(MINI).unwrap();
        assert!(
            p.check_pattern_examples().is_empty(),
            "{:?}",
            p.check_pattern_examples()
        );
        assert!(
            p.scan("en_US", Signal::Restricted, "alphabet soup")
                .is_empty()
        );
        assert!(p.scan("en_US", Signal::Restricted, "betting tips").len() == 1);
        // A neutralized idiom does not count.
        assert!(
            p.scan(
                "en_US",
                Signal::Restricted,
                "I bet you'll love our new mugs"
            )
            .is_empty()
        );
        // Accented letters are word characters: "bét" is not "bet" at a boundary.
        assert!(p.scan("en", Signal::Restricted, "xbet").is_empty());
        assert!(p.scan("en", Signal::Restricted, "ébet").is_empty());
        assert!(!p.scan("en", Signal::Restricted, "«bet» now").is_empty());
    }

    #[test]
    fn devanagari_marks_are_word_characters() {
        assert!(is_word_char('ा')); // vowel sign AA (a combining mark)
        assert!(is_word_char('क'));
        assert!(!is_word_char('।'));
        let re = Regex::new("कर").unwrap();
        // "कर" inside "करें" is followed by a mark: not a word boundary.
        assert_eq!(find_at_word_boundary(&re, "खरीदारी करें"), None);
        assert_eq!(find_at_word_boundary(&re, "कर दो"), Some((0, 6)));
    }

    #[test]
    fn a_shorter_alternative_that_ends_mid_word_is_retried() {
        let src = MINI.replace("'casino'", "'crypto|cryptomonnaies'");
        let p = pack(&src).unwrap();
        let hits = p.scan(
            "en",
            Signal::Restricted,
            "Achetez des cryptomonnaies maintenant",
        );
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].start, hits[0].end), (12, 26));
        assert_eq!(p.scan("en", Signal::Restricted, "buy crypto now").len(), 1);
        assert!(p.scan("en", Signal::Restricted, "cryptographic").is_empty());
    }

    /// The forward-only matcher finds the same word-bounded matches as a
    /// full regex (forward and reverse search) retried after each match
    /// that starts inside a word.
    #[test]
    fn forward_only_matcher_agrees_with_a_full_regex() {
        let patterns = [
            r"(?i)neue[nr]?\s+(?:\w+-?)?kollektion(?:en)?",
            r"(?i)vin|vinho|vinhos?\s+tintos?",
            r"(?i)(?:[^\s.!?]+\s+){0,3}gratis",
            r"€\s*\d+|\d+\s*€",
            r"(?i)cerveza|cervezas artesanales",
            r"(?i)aa|a",
            r"Corona",
        ];
        let texts = [
            "Entdecke unsere neue Herbst-Kollektion und neuen Kollektionen!",
            "Abrimos um vinho e vinhos tintos, Vinhoteca não conta.",
            "Envío gratis, hoy gratis y mañana tambiéngratis.",
            "Nur 12€ statt 20 € — ab€5 und 5€x",
            "Cervezas artesanales: cerveza fría, Cervecería no.",
            "baaa aaa a-a ä aa",
            "Corona Extra, coronavirus, CORONA, Coronas",
            "",
        ];
        for src in patterns {
            let m = Matcher::new(src);
            let full = regex::Regex::new(src).unwrap();
            for text in texts {
                let lower = lower_same_len(text);
                for from in 0..=text.len() {
                    if !text.is_char_boundary(from) {
                        continue;
                    }
                    let never = never_matching_regex();
                    let ours =
                        m.find_verified(Texts::of(text, &lower), from, text.len(), || &never);
                    let theirs = find_verified(
                        |h, at| full.find_at(h, at).map(|x| (x.start(), x.end())),
                        || &never,
                        text,
                        from,
                        text.len(),
                    );
                    assert_eq!(ours, theirs, "{src} on {text:?} from {from}");
                }
                // Without the word-boundary loop: where both give a match
                // that starts outside a word, it is the same one.
                let hay = if m.lowered { lower.as_str() } else { text };
                if let (Some(a), Some(b)) = (m.find_at(hay, 0), full.find(text)) {
                    if start_ok(text, b.start(), b.end()) {
                        assert_eq!(a, (b.start(), b.end()), "{src} on {text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_match_lies_within_reach_of_its_ends() {
        let patterns = [
            r"(?i)vinho|cerveja",
            r"(?i)vape\w*|e-?liquids?",
            r"(?i)(?:[^\s.!?]+\s+){0,3}gratis",
            r"(?i)apuestas?\s+deportivas\s+\w+",
            r"(?i)casa[^.!?\n]{0,20}?aposta",
            r"(?i)पान\s+मसाला",
            r"\{\{\w+\}\}\s*%",
        ];
        let texts = [
            "Vinho tinto e cerveja gelada: vinhos, vapes e vaporizadores, e-liquids.",
            "Frete  grátis, brinde gratis; ganhe um copo gratis hoje!",
            "Apuestas   deportivas\u{a0}online y\tapuestas deportivas en vivo",
            "A casa de apostas: casa\u{1680}aposta, casa de aposta",
            "पान मसाला और पान  मसाला — {{1}} % off, {{discount}}%",
        ];
        for src in patterns {
            let reach = Reach::of(&compact::compact_word_classes(
                regex_syntax::parse(src).unwrap(),
            ))
            .unwrap_or_else(|| panic!("{src} has a reach"));
            let full = regex::Regex::new(src).unwrap();
            for text in texts {
                for at in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                    let Some(m) = full.find_at(text, at) else {
                        continue;
                    };
                    // From either end and from anywhere inside the match
                    // (where the prefilter saw a literal).
                    for i in (m.start()..=m.end()).filter(|&i| text.is_char_boundary(i)) {
                        assert!(reach.back(text, i) <= m.start(), "{src} on {text:?} at {i}");
                        assert!(
                            reach.forward(text, i) >= m.end(),
                            "{src} on {text:?} at {i}"
                        );
                    }
                }
            }
        }
        // And the bounds are tight: a pattern unbounded within a word stays
        // in its word, the proximity pattern within its characters.
        let text = "one two three vapeshop four five six seven";
        let at = text.find("vape").unwrap();
        let r = Reach::of(&regex_syntax::parse(r"(?i)vape\w*").unwrap()).unwrap();
        assert_eq!((r.back(text, at), r.forward(text, at + 4)), (at, at + 8));
        let r = Reach::of(&regex_syntax::parse(r"(?:[^\s.!?]+\s+){0,1}vape").unwrap()).unwrap();
        assert_eq!(r.back(text, at), text.find("three").unwrap());
        let text = "ééééé casa ééééé";
        let r = Reach::of(&regex_syntax::parse(r"(?i)a[^.!?\n]{0,3}").unwrap()).unwrap();
        // Four characters (the pattern's most) after "casa": one space, three é.
        assert_eq!(r.forward(text, 15), 15 + 1 + 3 * 2);
    }

    #[test]
    fn dfa_caches_stay_within_budget_and_keep_the_recent_ones() {
        let sources = [
            r"(?i)heineken|budweiser|smirnoff|jack\s+daniel",
            r"(?i)casino\w*|apuestas?\s+deportivas",
            r"(?i)vape\w{2,15}|e-?liquids?",
            r"(?i)(?:[^\s.!?]+\s+){0,3}gratis",
            r"(?i)kredit\s+tanpa\s+agunan|pinjol",
            r"(?i)neue[nr]?\s+(?:\w+-?)?kollektion(?:en)?",
        ];
        let matchers: Vec<Matcher> = sources.iter().map(|s| Matcher::new(s)).collect();
        let text = "Heineken e Vapestore: gratis! Neue Herbst-Kollektion, casino online, \
                    pinjol cepat, apuestas deportivas y e-liquids; Jack Daniel's";
        let lower = lower_same_len(text);
        let expected: Vec<_> = matchers.iter().map(|m| m.find_at(&lower, 0)).collect();
        assert!(expected.iter().all(Option::is_some));
        // What each cache weighs after one search.
        let mut unbounded = DfaCaches::new(usize::MAX);
        let sizes: Vec<usize> = matchers
            .iter()
            .map(|m| {
                unbounded.with(m.id, &m.dfa, |c| m.find_with(c, &lower, 0));
                unbounded.slots[&m.id].bytes
            })
            .collect();
        let largest = *sizes.iter().max().unwrap();
        let budget = largest * 3;
        assert!(budget < sizes.iter().sum::<usize>(), "the budget must bind");
        let mut caches = DfaCaches::new(budget);
        for _ in 0..3 {
            for (m, want) in matchers.iter().zip(&expected) {
                let got = caches.with(m.id, &m.dfa, |c| m.find_with(c, &lower, 0));
                assert_eq!(&got, want);
                assert!(caches.bytes <= budget);
                assert_eq!(
                    caches.bytes,
                    caches.slots.values().map(|s| s.bytes).sum::<usize>()
                );
                // The cache just used is the last to go.
                assert!(caches.slots.contains_key(&m.id));
            }
            assert!(caches.slots.len() < matchers.len());
        }
    }

    #[test]
    fn unknown_language_uses_every_pack() {
        let p = pack(MINI).unwrap();
        assert_eq!(p.scan("tr", Signal::Restricted, "casino").len(), 1);
    }

    #[test]
    fn broken_regex_names_file_rule_and_error() {
        let bad = MINI.replace("'casino'", "'casino('");
        let err = pack(&bad).unwrap_err().to_string();
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains("tpl.res.gambling"), "{err}");
        assert!(err.contains("casino("), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
    }

    #[test]
    fn explicit_word_boundary_is_refused() {
        let bad = MINI.replace("'casino'", r"'\bcasino\b'");
        let err = pack(&bad).unwrap_err().to_string();
        assert!(err.contains("do not use \\b"), "{err}");
    }

    #[test]
    fn match_for_unknown_rule_is_an_error() {
        let bad = MINI.replace(
            "rule = \"tpl.res.gambling\"\npatterns",
            "rule = \"tpl.res.nope\"\npatterns",
        );
        let err = pack(&bad).unwrap_err().to_string();
        assert!(err.contains("tpl.res.nope"), "{err}");
    }

    #[test]
    fn disable_and_override_apply_and_change_digest() {
        let base = pack(MINI).unwrap();
        let cfg = RulesConfig {
            extra_dirs: vec![],
            disable: vec!["tpl.res.gambling".into()],
            severity_overrides: BTreeMap::new(),
        };
        let p = RulePack::from_sources(&[("test.toml".into(), MINI.into())], &cfg).unwrap();
        assert!(p.scan("en", Signal::Restricted, "casino").is_empty());
        assert_ne!(p.digest, base.digest);
        let cfg = RulesConfig {
            extra_dirs: vec![],
            disable: vec!["tpl.nope".into()],
            severity_overrides: BTreeMap::new(),
        };
        let err = RulePack::from_sources(&[("t.toml".into(), MINI.into())], &cfg).unwrap_err();
        assert!(err.to_string().contains("tpl.nope"));
    }

    #[test]
    fn blank_range_keeps_offsets() {
        let mut s = "Call our toll-free line – ok".to_owned();
        blank_range(&mut s, 9, 18);
        assert_eq!(s.len(), "Call our toll-free line – ok".len());
        assert_eq!(s, "Call our           line – ok");
    }
}
