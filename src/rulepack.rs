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
//! Patterns are compiled once per process, lazily per (language, signal):
//! one `RegexSet` finds which patterns occur at all, and only for those the
//! individual regex runs to extract the evidence span. Word boundaries are
//! enforced by the engine, Unicode-aware, at both ends of every match (so
//! "bet" never matches inside "alphabet" and "gun" never inside "begun"):
//! patterns must not use `\b` themselves, because a Unicode `\b` forces the
//! regex crate off its fast DFA for non-ASCII text.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use regex::{Regex, RegexSet};
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
}

impl Signal {
    pub const ALL: [Signal; 4] = [
        Signal::Marketing,
        Signal::Utility,
        Signal::Restricted,
        Signal::Code,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Marketing => "marketing",
            Signal::Utility => "utility",
            Signal::Restricted => "restricted",
            Signal::Code => "code",
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
    compiled: OnceLock<Regex>,
}

impl Pattern {
    pub fn regex(&self) -> &Regex {
        // Validated at load time with regex-syntax, so compilation cannot fail
        // for syntax; a size-limit failure degrades to a never-matching regex.
        self.compiled
            .get_or_init(|| Regex::new(&self.regex_src).unwrap_or_else(|_| never_matching_regex()))
    }
}

fn never_matching_regex() -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(r"[^\s\S]").expect("static regex")
}

#[derive(Debug)]
struct Neutralizer {
    id: String,
    language: String,
    signals: Vec<Signal>,
    regex_src: String,
    examples: Examples,
    source: String,
}

/// The compiled matcher for one (language, signal) pair.
#[derive(Debug)]
struct Matcher {
    set: Option<RegexSet>,
    /// Index into `RulePack::patterns` for every set member.
    members: Vec<usize>,
    neutralize: Option<Regex>,
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
    pub rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
    pub patterns: Vec<Pattern>,
    neutralizers: Vec<Neutralizer>,
    /// Languages that have their own patterns.
    pub languages: BTreeSet<String>,
    matchers: HashMap<(String, Signal), OnceLock<Matcher>>,
    /// The "unknown language" matchers: every language's patterns.
    fallback: [OnceLock<Matcher>; 4],
}

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
                    .map(|(p, c)| (format!("rules/{p}"), (*c).to_owned())),
            ),
        }
        for dir in extra_dirs {
            files.extend(read_dir_toml(dir)?);
        }
        RulePack::from_sources(&files, cfg)
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
        let mut pending_matches: Vec<(String, String, MatchDef)> = Vec::new();
        let mut neutralizers = Vec::new();

        for (path, content) in files {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(content.as_bytes());
            hasher.update([0]);
            let pb = PathBuf::from(path);
            let file: RuleFile = toml::from_str(content).map_err(|e| RulePackError::Parse {
                path: pb.clone(),
                message: e.to_string().trim_end().to_owned(),
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
                pending_matches.push((path.clone(), language.clone(), m));
            }
            for n in file.neutralize {
                if n.patterns.is_empty() {
                    return Err(RulePackError::Invalid {
                        path: pb,
                        rule: n.id,
                        message: "neutralize block has no patterns".into(),
                    });
                }
                for p in &n.patterns {
                    check_pattern(&pb, &n.id, p)?;
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
                        vec![Signal::Marketing, Signal::Restricted]
                    } else {
                        n.signals
                    },
                    regex_src: format!("(?i){src}"),
                    examples: n.examples,
                    source: path.clone(),
                });
                let _ = n.note;
            }
        }

        // Patterns, now that every rule is known (extra packs may add
        // patterns to built-in rules).
        let mut patterns = Vec::new();
        let mut languages = BTreeSet::new();
        for (path, language, m) in pending_matches {
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
                        "rule has patterns but no `signal` (marketing, utility, restricted, code)"
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
                check_pattern(&pb, &m.rule, p)?;
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
                    compiled: OnceLock::new(),
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

        let mut matchers = HashMap::new();
        for lang in languages.iter() {
            for s in Signal::ALL {
                matchers.insert((lang.clone(), s), OnceLock::new());
            }
        }
        Ok(RulePack {
            name,
            version,
            digest,
            rules,
            by_id,
            patterns,
            neutralizers,
            languages,
            matchers,
            fallback: Default::default(),
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
            for s in Signal::ALL {
                let _ = self.matcher(lang, s);
            }
        }
        for p in &self.patterns {
            let _ = p.regex();
        }
    }

    fn matcher(&self, lang_key: &str, signal: Signal) -> &Matcher {
        match self.matchers.get(&(lang_key.to_owned(), signal)) {
            Some(cell) => cell.get_or_init(|| self.build_matcher(Some(lang_key), signal)),
            None => self.fallback[signal.index()].get_or_init(|| self.build_matcher(None, signal)),
        }
    }

    /// `lang = None` builds the all-languages matcher (unknown template languages).
    fn build_matcher(&self, lang: Option<&str>, signal: Signal) -> Matcher {
        let lang_ok = |l: &str| l == "*" || lang.is_none_or(|k| k == l);
        let members: Vec<usize> = self
            .patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let r = &self.rules[p.rule];
                r.enabled && r.def.signal == Some(signal) && lang_ok(&p.language)
            })
            .map(|(i, _)| i)
            .collect();
        let set = if members.is_empty() {
            None
        } else {
            RegexSet::new(members.iter().map(|&i| &self.patterns[i].regex_src)).ok()
        };
        let neut: Vec<&str> = self
            .neutralizers
            .iter()
            .filter(|n| n.signals.contains(&signal) && lang_ok(&n.language))
            .map(|n| n.regex_src.as_str())
            .collect();
        let neutralize = if neut.is_empty() {
            None
        } else {
            Regex::new(
                &neut
                    .iter()
                    .map(|s| format!("(?:{s})"))
                    .collect::<Vec<_>>()
                    .join("|"),
            )
            .ok()
        };
        Matcher {
            set,
            members,
            neutralize,
        }
    }

    /// Finds every pattern of `signal` that matches `text` for a template in
    /// `language`, at Unicode word boundaries, after neutralization. One hit
    /// per pattern (the first verified occurrence).
    pub fn scan(&self, language: &str, signal: Signal, text: &str) -> Vec<Hit> {
        let key = primary_language(language);
        let m = self.matcher(&key, signal);
        let Some(set) = &m.set else {
            return Vec::new();
        };
        let neutralized;
        let text = match &m.neutralize {
            Some(re) if re.is_match(text) => {
                neutralized = blank_out(text, re);
                neutralized.as_str()
            }
            _ => text,
        };
        let mut hits = Vec::new();
        for si in set.matches(text).iter() {
            let pi = m.members[si];
            let p = &self.patterns[pi];
            if let Some((start, end)) = find_at_word_boundary(p.regex(), text) {
                hits.push(Hit {
                    rule: p.rule,
                    pattern: pi,
                    weight: p.weight,
                    start,
                    end,
                });
            }
        }
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
            let re = match Regex::new(&n.regex_src) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{}: neutralize `{}`: {e}", n.source, n.id));
                    continue;
                }
            };
            for ex in &n.examples.positive {
                if find_at_word_boundary(&re, ex).is_none() {
                    failures.push(format!(
                        "{}: neutralize `{}`: positive example {:?} does not match",
                        n.source, n.id, ex
                    ));
                }
            }
            for ex in &n.examples.negative {
                if find_at_word_boundary(&re, ex).is_some() {
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

fn read_dir_toml(dir: &Path) -> Result<Vec<(String, String)>, RulePackError> {
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

fn check_pattern(path: &Path, rule: &str, pattern: &str) -> Result<(), RulePackError> {
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
    regex_syntax::Parser::new()
        .parse(pattern)
        .map(|_| ())
        .map_err(|e| err(e.to_string().replace('\n', " ")))
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
/// character, like `rg -w`).
pub fn find_at_word_boundary(re: &Regex, text: &str) -> Option<(usize, usize)> {
    let mut start_at = 0;
    while start_at <= text.len() {
        let m = re.find_at(text, start_at)?;
        let (s, e) = (m.start(), m.end());
        if e > s && boundary_ok(text, s, e) {
            return Some((s, e));
        }
        // Try again one character further.
        let next = text[s..].chars().next().map_or(1, char::len_utf8);
        start_at = s + next;
    }
    None
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

/// Replaces every match of `re` with spaces (same byte length, so offsets and
/// char boundaries stay valid: every replaced char becomes ASCII spaces).
fn blank_out(text: &str, re: &Regex) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut pos = 0;
    while let Some((s, e)) = find_boundary_from(re, text, pos) {
        out.push_str(&text[last..s]);
        out.extend(std::iter::repeat_n(' ', e - s));
        last = e;
        pos = e;
    }
    out.push_str(&text[last..]);
    out
}

fn find_boundary_from(re: &Regex, text: &str, from: usize) -> Option<(usize, usize)> {
    let mut start_at = from;
    while start_at <= text.len() {
        let m = re.find_at(text, start_at)?;
        let (s, e) = (m.start(), m.end());
        if e > s && boundary_ok(text, s, e) {
            return Some((s, e));
        }
        let next = text[s..].chars().next().map_or(1, char::len_utf8);
        start_at = s + next;
    }
    None
}

#[cfg(test)]
mod tests {
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
    fn blank_out_keeps_offsets() {
        let re = Regex::new("(?i)toll-free").unwrap();
        let s = blank_out("Call our toll-free line – ok", &re);
        assert_eq!(s.len(), "Call our toll-free line – ok".len());
        assert_eq!(s, "Call our           line – ok");
    }
}
