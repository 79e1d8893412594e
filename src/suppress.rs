//! Suppressions: findings a team has looked at and accepted, for a while.
//!
//! `suppressions.toml` (its path is `[suppressions] file` in the config)
//! holds `[[suppress]]` entries. Each matches either one finding by its
//! `fingerprint`, or a `rule` on a `subject`, optionally only in one
//! `account`; each needs a `reason` and an `expires` date (the last day it
//! holds, UTC):
//!
//! ```toml
//! [[suppress]]
//! fingerprint = "3f9a0c1d2e4b5a69"
//! reason = "Legal approved the wording (COMP-112)"
//! expires = 2026-12-31
//!
//! [[suppress]]
//! rule = "tpl.mkt.discount"
//! subject = "template:order_update:en_US"   # as report.md shows it
//! account = "casa-verde"                     # optional
//! reason = "Coupon is a refund credit, not marketing"
//! expires = 2027-01-15
//! ```
//!
//! A subject is the key report.md prints for each finding: the kind, then
//! its parts joined by `:` (`template:NAME:LANGUAGE`,
//! `phone_number:ID`, `profile_field:PHONE_ID:FIELD`). Fewer parts match
//! more (`template:order_update` is every language) and `*` matches any one
//! part. The table form `subject = { kind = "template", name = "x",
//! language = "en_US" }` matches the fields it gives.
//!
//! Suppressed findings stay in the report (`suppressed: true`, with the
//! entry in `suppressed_by`) but count toward neither the score, the
//! counts, the `--fail-on` threshold nor the gate. An expired entry stops
//! suppressing and is reported; one expiring within `warn_days` is flagged.
//! A malformed entry suppresses nothing and is an error naming its line; the
//! valid entries still apply.
//!
//! Triage decisions (`wabaguard triage`) are the same kind of entry, kept in
//! the triage file beside the suppressions file as `[[triage]]` tables: one
//! loader, one matcher and one apply path serve both. A triage entry matches
//! one fingerprint, records the decision (`accepted`, `false_positive`,
//! `in_review`), the reason, an optional `until` date and the digest of the
//! finding's evidence at decision time:
//!
//! ```toml
//! [[triage]]
//! fingerprint = "3f9a0c1d2e4b5a69"
//! state = "false_positive"
//! reason = "\"free\" refers to free shipping on an order already placed"
//! until = 2027-03-31                 # optional
//! evidence = "a1b2c3d4e5f60718"      # digest of the evidence when decided
//! account = "casa-verde"             # optional
//! recorded_at = "2026-11-25T22:10:00Z"
//! ```
//!
//! `accepted` and `false_positive` suppress the finding while they hold;
//! `in_review` only annotates it. A finding whose evidence digest differs
//! from the recorded one is *reopened* (annotated, counted again); past
//! `until` the decision is *expired* (annotated, counted again).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};
use tracing::{info, warn};

use crate::checks::{
    Finding, FindingTriage, SuppressedBy, TriageState, TriageView, evidence_digest,
};
use crate::config::Config;

/// What an entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Fingerprint(String),
    RuleSubject {
        rule: String,
        subject: SubjectPattern,
    },
}

/// A subject to match: the parts of a subject key, `*` = any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectPattern {
    /// `template:order_update:en_US` split at `:`.
    Key(Vec<String>),
    /// `{ kind = "...", id = "...", name = "...", language = "...", field = "..." }`.
    Fields(BTreeMap<String, String>),
}

impl SubjectPattern {
    fn matches(&self, f: &Finding) -> bool {
        match self {
            SubjectPattern::Key(parts) => {
                let key = f.subject.key();
                let have: Vec<&str> = key.split(':').collect();
                parts.len() <= have.len()
                    && parts
                        .iter()
                        .zip(&have)
                        .all(|(p, h)| p == "*" || p.as_str() == *h)
            }
            SubjectPattern::Fields(fields) => fields.iter().all(|(k, v)| {
                let s = &f.subject;
                let have = match k.as_str() {
                    "kind" => Some(s.kind.as_str()),
                    "id" => s.id.as_deref(),
                    "name" => s.name.as_deref(),
                    "language" => s.language.as_deref(),
                    "field" => s.field.as_deref(),
                    _ => None,
                };
                v == "*" || have == Some(v.as_str())
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            SubjectPattern::Key(p) => p.join(":"),
            SubjectPattern::Fields(f) => {
                let parts: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }
}

/// One valid `[[suppress]]` or `[[triage]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line of its `[[suppress]]` / `[[triage]]` header (1-based) in its file.
    pub line: usize,
    pub matcher: Matcher,
    pub account: Option<String>,
    pub reason: String,
    /// The last day it holds (UTC). Always set for `[[suppress]]`; `None`
    /// is a triage decision without end date.
    pub expires: Option<NaiveDate>,
    /// Set for `[[triage]]` entries (from the triage file).
    pub triage: Option<TriageMark>,
}

/// What a `[[triage]]` entry adds to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageMark {
    pub state: TriageState,
    /// [`evidence_digest`] of the finding when the decision was recorded.
    pub evidence: Option<String>,
    pub recorded_at: Option<String>,
}

/// Which file a text is: they differ only in the table name they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `[[suppress]]` entries.
    Suppressions,
    /// `[[triage]]` entries.
    Triage,
}

impl FileKind {
    fn table(self) -> &'static str {
        match self {
            FileKind::Suppressions => "suppress",
            FileKind::Triage => "triage",
        }
    }
}

impl Entry {
    pub fn matches(&self, account: &str, f: &Finding) -> bool {
        if self.account.as_deref().is_some_and(|a| a != account) {
            return false;
        }
        match &self.matcher {
            Matcher::Fingerprint(fp) => f.fingerprint == *fp,
            Matcher::RuleSubject { rule, subject } => f.rule == *rule && subject.matches(f),
        }
    }

    /// `fingerprint 3f9a…` or `rule tpl.mkt.discount on template:order_update:en_US`.
    pub fn describe(&self) -> String {
        let m = match &self.matcher {
            Matcher::Fingerprint(fp) => format!("fingerprint {fp}"),
            Matcher::RuleSubject { rule, subject } => {
                format!("rule {rule} on {}", subject.describe())
            }
        };
        match &self.account {
            Some(a) => format!("{m} in account {a}"),
            None => m,
        }
    }
}

/// The state of an entry on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Active,
    /// Active, but expires within `warn_days`.
    Expiring,
    /// Past its `expires` date: suppresses nothing any more.
    Expired,
}

/// An entry as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryStatus {
    pub line: usize,
    /// `fingerprint …` or `rule … on …` (and the account, if limited to one).
    pub matches: String,
    pub reason: String,
    pub expires: String,
    pub state: EntryState,
    /// Days until `expires` (0 = expires today; negative = expired).
    pub days_left: i64,
    /// Findings it suppressed in this run.
    pub suppressed: usize,
}

/// A problem with the file or one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionError {
    /// The triage file, for its errors (absent: the suppressions file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// A `[[triage]]` entry as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageEntryStatus {
    pub line: usize,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub decision: TriageState,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    /// Past `until`: it suppresses nothing any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// Findings it matched in this run.
    pub findings: usize,
    /// Of those, findings whose evidence changed since the decision.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopened: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The suppressions section of report.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionReport {
    /// The suppressions file (empty when none is configured).
    #[serde(default)]
    pub file: String,
    pub warn_days: u32,
    pub entries: Vec<EntryStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SuppressionError>,
    /// The triage file, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triage: Vec<TriageEntryStatus>,
}

impl SuppressionReport {
    /// Entries and errors that need someone's attention.
    pub fn attention(&self) -> usize {
        self.errors.len()
            + self
                .entries
                .iter()
                .filter(|e| e.state != EntryState::Active)
                .count()
            + self
                .triage
                .iter()
                .filter(|t| t.expired || t.reopened > 0)
                .count()
    }
}

/// What [`Suppressions::apply`] adds up per entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryCount {
    /// Findings it suppressed (suppress entries) or matched (triage entries).
    pub findings: usize,
    /// Triage entries: matched findings whose evidence changed.
    pub reopened: usize,
}

/// The loaded file: its valid entries and its errors.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    pub file: Option<PathBuf>,
    /// The triage file, when it exists.
    pub triage_file: Option<PathBuf>,
    pub warn_days: u32,
    pub entries: Vec<Entry>,
    pub errors: Vec<SuppressionError>,
}

impl Suppressions {
    /// The suppressions configured in `cfg` (none when no file is set). An
    /// unreadable or malformed file is not fatal: its errors are kept and
    /// logged, and only valid entries apply.
    pub fn load(cfg: &Config) -> Suppressions {
        let mut s = Suppressions {
            warn_days: cfg.suppressions.warn_days,
            ..Suppressions::default()
        };
        if let Some(path) = cfg.suppressions_file() {
            match std::fs::read_to_string(&path) {
                Ok(text) => s.parse_into(&text, FileKind::Suppressions),
                Err(e) => s.errors.push(SuppressionError {
                    file: None,
                    line: None,
                    message: format!("cannot read the file: {e}; nothing is suppressed"),
                }),
            }
            s.file = Some(path);
        }
        // The triage file is optional: absent until the first decision.
        let tpath = cfg.triage_file();
        match std::fs::read_to_string(&tpath) {
            Ok(text) => {
                s.triage_file = Some(tpath);
                s.parse_into(&text, FileKind::Triage);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                s.errors.push(SuppressionError {
                    file: Some(tpath.display().to_string()),
                    line: None,
                    message: format!("cannot read the triage file: {e}; no triage applies"),
                });
                s.triage_file = Some(tpath);
            }
        }
        for e in &s.errors {
            warn!(
                file = %e.file.clone().unwrap_or_else(|| s.file_label()),
                line = e.line.unwrap_or(0),
                "suppressions: {}",
                e.message
            );
        }
        s
    }

    fn file_label(&self) -> String {
        self.file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Parses the text of a suppressions file.
    pub fn parse(text: &str) -> Suppressions {
        Suppressions::parse_kind(text, FileKind::Suppressions)
    }

    /// Parses the text of a suppressions or triage file.
    pub fn parse_kind(text: &str, kind: FileKind) -> Suppressions {
        let mut out = Suppressions {
            warn_days: 7,
            ..Suppressions::default()
        };
        out.parse_into(text, kind);
        out
    }

    /// Adds the entries and errors of `text` (a file of `kind`).
    fn parse_into(&mut self, text: &str, kind: FileKind) {
        let file = (kind == FileKind::Triage).then(|| {
            self.triage_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "triage file".into())
        });
        let out = &mut self.errors;
        let entries = &mut self.entries;
        let what = match kind {
            FileKind::Suppressions => "nothing is suppressed",
            FileKind::Triage => "no triage applies",
        };
        let table_name = kind.table();
        let doc = match DeTable::parse(text) {
            Ok(d) => d,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start));
                out.push(SuppressionError {
                    file,
                    line,
                    message: format!("not valid TOML ({}); {what}", e.message().trim_end()),
                });
                return;
            }
        };
        for (key, value) in doc.get_ref().iter() {
            if key.get_ref().as_ref() != table_name {
                out.push(SuppressionError {
                    file: file.clone(),
                    line: Some(line_of(text, key.span().start)),
                    message: format!(
                        "unknown key `{}` (entries are `[[{table_name}]]` tables)",
                        key.get_ref()
                    ),
                });
                continue;
            }
            let Some(items) = value.get_ref().as_array() else {
                out.push(SuppressionError {
                    file: file.clone(),
                    line: Some(line_of(text, key.span().start)),
                    message: format!(
                        "`{table_name}` must be an array of tables (`[[{table_name}]]`)"
                    ),
                });
                continue;
            };
            for item in items.iter() {
                let start = item.span().start;
                let Some(table) = item.get_ref().as_table() else {
                    out.push(SuppressionError {
                        file: file.clone(),
                        line: Some(line_of(text, start)),
                        message: format!("a `{table_name}` item must be a table"),
                    });
                    continue;
                };
                match entry(text, table, start, kind) {
                    Ok(e) => entries.push(e),
                    Err(mut e) => {
                        e.file = file.clone();
                        out.push(e);
                    }
                }
            }
        }
    }

    /// Marks the findings of `account` that an active entry matches, as of
    /// `today`; `counts[i]` adds up what entry `i` suppressed (a triage
    /// entry: matched). Findings already marked are left alone. Returns the
    /// number of findings suppressed.
    ///
    /// A triage entry annotates its finding (`triage`) and, for a decision
    /// that holds (`accepted`/`false_positive`, not past `until`, evidence
    /// unchanged), suppresses it. A finding no triage decision suppresses
    /// may still be suppressed by a `[[suppress]]` entry.
    pub fn apply(
        &self,
        account: &str,
        findings: &mut [Finding],
        today: NaiveDate,
        counts: &mut [EntryCount],
    ) -> usize {
        let mut n = 0;
        for f in findings.iter_mut().filter(|f| !f.suppressed) {
            if let Some((i, e, t)) = self.entries.iter().enumerate().find_map(|(i, e)| {
                e.triage
                    .as_ref()
                    .filter(|_| e.matches(account, f))
                    .map(|t| (i, e, t))
            }) {
                let reopened = t
                    .evidence
                    .as_deref()
                    .is_some_and(|d| d != evidence_digest(f));
                let expired = e.expires.is_some_and(|u| today > u);
                let view = if reopened {
                    TriageView::Reopened
                } else if expired {
                    TriageView::Expired
                } else {
                    match t.state {
                        TriageState::Accepted => TriageView::Accepted,
                        TriageState::FalsePositive => TriageView::FalsePositive,
                        TriageState::InReview => TriageView::InReview,
                    }
                };
                f.triage = Some(FindingTriage {
                    state: view,
                    decision: t.state,
                    reason: e.reason.clone(),
                    until: e.expires.map(|d| d.to_string()),
                    recorded_at: t.recorded_at.clone(),
                    line: e.line,
                });
                if let Some(c) = counts.get_mut(i) {
                    c.findings += 1;
                    c.reopened += usize::from(reopened);
                }
                if matches!(view, TriageView::Accepted | TriageView::FalsePositive) {
                    f.suppressed = true;
                    f.suppressed_by = Some(SuppressedBy {
                        line: e.line,
                        reason: format!("{}: {}", t.state.as_str(), e.reason),
                        expires: e.expires.map(|d| d.to_string()).unwrap_or_default(),
                        triage: true,
                    });
                    n += 1;
                    continue;
                }
            }
            if let Some((i, e)) = self.entries.iter().enumerate().find(|(_, e)| {
                e.triage.is_none() && e.expires.is_some_and(|x| today <= x) && e.matches(account, f)
            }) {
                f.suppressed = true;
                f.suppressed_by = Some(SuppressedBy {
                    line: e.line,
                    reason: e.reason.clone(),
                    expires: e.expires.map(|d| d.to_string()).unwrap_or_default(),
                    triage: false,
                });
                if let Some(c) = counts.get_mut(i) {
                    c.findings += 1;
                }
                n += 1;
            }
        }
        n
    }

    /// The report section, as of `today`, with what each entry suppressed.
    /// Logs expired entries (warning) and expiring ones (info).
    pub fn report(&self, today: NaiveDate, counts: &[EntryCount]) -> Option<SuppressionReport> {
        if self.file.is_none() && self.triage_file.is_none() {
            return None;
        }
        let file = self.file.clone().unwrap_or_default();
        let count = |i: usize| counts.get(i).copied().unwrap_or_default();
        let triage: Vec<TriageEntryStatus> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let t = e.triage.as_ref()?;
                let expired = e.expires.is_some_and(|u| today > u);
                let fp = match &e.matcher {
                    Matcher::Fingerprint(fp) => fp.clone(),
                    Matcher::RuleSubject { .. } => String::new(),
                };
                if expired {
                    warn!(
                        line = e.line,
                        "triage: the {} decision on {fp} expired on {}; the finding counts again",
                        t.state.as_str(),
                        e.expires.map(|d| d.to_string()).unwrap_or_default()
                    );
                }
                Some(TriageEntryStatus {
                    line: e.line,
                    fingerprint: fp,
                    account: e.account.clone(),
                    decision: t.state,
                    reason: e.reason.clone(),
                    until: e.expires.map(|d| d.to_string()),
                    recorded_at: t.recorded_at.clone(),
                    expired,
                    findings: count(i).findings,
                    reopened: count(i).reopened,
                })
            })
            .collect();
        let entries: Vec<EntryStatus> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.triage.is_none())
            .filter_map(|(i, e)| Some((i, e, e.expires?)))
            .map(|(i, e, expires)| {
                let days_left = (expires - today).num_days();
                let state = if days_left < 0 {
                    EntryState::Expired
                } else if days_left <= i64::from(self.warn_days) {
                    EntryState::Expiring
                } else {
                    EntryState::Active
                };
                match state {
                    EntryState::Expired => warn!(
                        file = %file.display(),
                        line = e.line,
                        "suppressions: the entry for {} expired on {}; its findings count again",
                        e.describe(),
                        expires
                    ),
                    EntryState::Expiring => info!(
                        file = %file.display(),
                        line = e.line,
                        "suppressions: the entry for {} expires on {} ({} day{} left)",
                        e.describe(),
                        expires,
                        days_left,
                        if days_left == 1 { "" } else { "s" }
                    ),
                    EntryState::Active => {}
                }
                EntryStatus {
                    line: e.line,
                    matches: e.describe(),
                    reason: e.reason.clone(),
                    expires: expires.to_string(),
                    state,
                    days_left,
                    suppressed: count(i).findings,
                }
            })
            .collect();
        Some(SuppressionReport {
            file: file.display().to_string(),
            warn_days: self.warn_days,
            entries,
            errors: self.errors.clone(),
            triage_file: self.triage_file.as_ref().map(|p| p.display().to_string()),
            triage,
        })
    }
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of the `[[suppress]]` header an entry starts under: the
/// nearest header line at or before `at` (the entry's first byte).
fn header_line(text: &str, at: usize) -> usize {
    let line = line_of(text, at);
    text.lines()
        .take(line)
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[["))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(line)
}

const KEYS: [&str; 6] = [
    "fingerprint",
    "rule",
    "subject",
    "account",
    "reason",
    "expires",
];
const TRIAGE_KEYS: [&str; 7] = [
    "fingerprint",
    "state",
    "reason",
    "until",
    "evidence",
    "account",
    "recorded_at",
];
const ALL_STRING_KEYS: [&str; 7] = [
    "fingerprint",
    "rule",
    "account",
    "reason",
    "state",
    "evidence",
    "recorded_at",
];
const SUBJECT_FIELDS: [&str; 5] = ["kind", "id", "name", "language", "field"];

fn entry(
    text: &str,
    table: &DeTable<'_>,
    start: usize,
    kind: FileKind,
) -> Result<Entry, SuppressionError> {
    let first_key = table
        .iter()
        .map(|(k, _)| k.span().start)
        .min()
        .unwrap_or(start);
    let line = header_line(text, first_key);
    let (name, effect) = match kind {
        FileKind::Suppressions => ("suppress", "it suppresses nothing"),
        FileKind::Triage => ("triage", "it applies to nothing"),
    };
    let err = |at: Option<usize>, message: String| SuppressionError {
        file: None,
        line: Some(at.map_or(line, |a| line_of(text, a))),
        message: format!("{name} entry at line {line}: {message}; {effect}"),
    };
    let keys: &[&str] = match kind {
        FileKind::Suppressions => &KEYS,
        FileKind::Triage => &TRIAGE_KEYS,
    };
    let mut strings: BTreeMap<&str, (String, usize)> = BTreeMap::new();
    let mut subject: Option<SubjectPattern> = None;
    let mut expires: Option<NaiveDate> = None;
    for (k, v) in table.iter() {
        let key = k.get_ref().as_ref();
        let at = Some(k.span().start);
        if !keys.contains(&key) {
            let expected: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            return Err(err(
                at,
                format!("unknown key `{key}` (expected {})", expected.join(", ")),
            ));
        }
        match (key, v.get_ref()) {
            ("expires" | "until", val) => {
                let raw = match val {
                    DeValue::Datetime(d) => d.to_string(),
                    DeValue::String(s) => s.to_string(),
                    other => {
                        return Err(err(
                            at,
                            format!("`{key}` must be a date, not a {}", other.type_str()),
                        ));
                    }
                };
                let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                    .map_err(|_| err(at, format!("`{key} = {raw}` is not a date (YYYY-MM-DD)")))?;
                expires = Some(day);
            }
            ("subject", DeValue::String(s)) => {
                let s = s.trim();
                if s.is_empty() || s.split(':').any(|p| p.trim().is_empty()) {
                    return Err(err(
                        at,
                        format!(
                            "`subject = \"{s}\"` is not a subject key such as \"template:order_update:en_US\""
                        ),
                    ));
                }
                subject = Some(SubjectPattern::Key(
                    s.split(':').map(|p| p.trim().to_owned()).collect(),
                ));
            }
            ("subject", DeValue::Table(t)) => {
                let mut fields = BTreeMap::new();
                for (fk, fv) in t.iter() {
                    let name = fk.get_ref().as_ref();
                    if !SUBJECT_FIELDS.contains(&name) {
                        return Err(err(
                            Some(fk.span().start),
                            format!(
                                "unknown subject field `{name}` (expected {})",
                                SUBJECT_FIELDS.join(", ")
                            ),
                        ));
                    }
                    let Some(v) = fv.get_ref().as_str() else {
                        return Err(err(
                            Some(fk.span().start),
                            format!("subject field `{name}` must be a string"),
                        ));
                    };
                    fields.insert(name.to_owned(), v.to_owned());
                }
                if !fields.contains_key("kind") {
                    return Err(err(
                        at,
                        "a subject table needs `kind` (template, phone_number, profile_field, account, waba, ...)".into(),
                    ));
                }
                subject = Some(SubjectPattern::Fields(fields));
            }
            ("subject", other) => {
                return Err(err(
                    at,
                    format!(
                        "`subject` must be a string or a table, not a {}",
                        other.type_str()
                    ),
                ));
            }
            (_, DeValue::String(s)) => {
                strings.insert(key_static(key), (s.trim().to_owned(), k.span().start));
            }
            (_, other) => {
                return Err(err(
                    at,
                    format!("`{key}` must be a string, not a {}", other.type_str()),
                ));
            }
        }
    }
    let get = |k: &str| strings.get(k).filter(|(v, _)| !v.is_empty());
    let Some((reason, _)) = get("reason") else {
        return Err(err(
            None,
            "`reason` is missing: say why the finding is accepted".into(),
        ));
    };
    if kind == FileKind::Triage {
        let Some((fp, at)) = get("fingerprint") else {
            return Err(err(
                None,
                "`fingerprint` is missing: a triage decision is about one finding".into(),
            ));
        };
        check_fingerprint(fp).map_err(|m| err(Some(*at), m))?;
        let Some((state, at)) = get("state") else {
            return Err(err(
                None,
                "`state` is missing (accepted, false_positive or in_review)".into(),
            ));
        };
        let state: TriageState = state.parse().map_err(|m| err(Some(*at), m))?;
        let evidence = match get("evidence") {
            Some((d, at)) => {
                check_fingerprint(d).map_err(|_| {
                    err(
                        Some(*at),
                        format!("`evidence = \"{d}\"` is not an evidence digest (16 hex digits)"),
                    )
                })?;
                Some(d.to_ascii_lowercase())
            }
            None => None,
        };
        return Ok(Entry {
            line,
            matcher: Matcher::Fingerprint(fp.to_ascii_lowercase()),
            account: get("account").map(|(a, _)| a.clone()),
            reason: reason.clone(),
            expires,
            triage: Some(TriageMark {
                state,
                evidence,
                recorded_at: get("recorded_at").map(|(r, _)| r.clone()),
            }),
        });
    }
    let Some(expires) = expires else {
        return Err(err(
            None,
            "`expires` is missing: every suppression needs an end date (YYYY-MM-DD)".into(),
        ));
    };
    let matcher = match (get("fingerprint"), get("rule"), subject) {
        (Some((fp, at)), None, None) => {
            check_fingerprint(fp).map_err(|m| err(Some(*at), m))?;
            Matcher::Fingerprint(fp.to_ascii_lowercase())
        }
        (None, Some((rule, _)), Some(subject)) => Matcher::RuleSubject {
            rule: rule.clone(),
            subject,
        },
        (Some(_), _, _) => {
            return Err(err(
                None,
                "give either `fingerprint` or `rule` + `subject`, not both".into(),
            ));
        }
        (None, Some(_), None) => {
            return Err(err(
                None,
                "`rule` needs a `subject` (to switch a rule off everywhere, use [rules] disable in the config)".into(),
            ));
        }
        (None, None, _) => {
            return Err(err(
                None,
                "give `fingerprint`, or `rule` + `subject`, to say what is suppressed".into(),
            ));
        }
    };
    Ok(Entry {
        line,
        matcher,
        account: get("account").map(|(a, _)| a.clone()),
        reason: reason.clone(),
        expires: Some(expires),
        triage: None,
    })
}

/// A finding fingerprint: 16 hex digits.
pub fn check_fingerprint(fp: &str) -> Result<(), String> {
    if fp.len() != 16 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`fingerprint = \"{fp}\"` is not a finding fingerprint (16 hex digits, as report.md shows)"
        ));
    }
    Ok(())
}

fn key_static(k: &str) -> &'static str {
    ALL_STRING_KEYS
        .iter()
        .find(|x| **x == k)
        .copied()
        .unwrap_or("?")
}

/// Applies `sup` to every audited account of findings given by `accounts`
/// (name, findings), returning the report section. A helper for callers
/// that hold findings outside a Report (the gate).
pub fn apply_all<'a>(
    sup: &Suppressions,
    accounts: impl IntoIterator<Item = (&'a str, &'a mut [Finding])>,
    today: NaiveDate,
) -> Option<SuppressionReport> {
    let mut counts = vec![EntryCount::default(); sup.entries.len()];
    for (name, findings) in accounts {
        sup.apply(name, findings, today, &mut counts);
    }
    sup.report(today, &counts)
}

/// Clears earlier suppression marks (before re-applying current entries).
pub fn clear(findings: &mut [Finding]) {
    for f in findings {
        f.suppressed = false;
        f.suppressed_by = None;
        f.triage = None;
    }
}

/// A decision to record in the triage file (`wabaguard triage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageRecord {
    pub fingerprint: String,
    pub state: TriageState,
    pub reason: String,
    pub until: Option<NaiveDate>,
    /// [`evidence_digest`] of the finding in the latest report, when found.
    pub evidence: Option<String>,
    pub account: Option<String>,
    /// RFC 3339.
    pub recorded_at: String,
}

/// What [`record_triage`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Line of the entry's `[[triage]]` header.
    pub line: usize,
    /// It replaced an earlier decision on the same finding.
    pub replaced: bool,
}

/// Records `rec` in the triage file at `path`: replaces the entry for the
/// same fingerprint or appends one. Comments and other
/// entries are kept as they are. A file that cannot be read or has an error
/// is left untouched (the error names file and line); the write is atomic.
pub fn record_triage(path: &std::path::Path, rec: &TriageRecord) -> Result<Recorded, String> {
    // Two `wabaguard triage` at once must not drop each other's entry: the
    // read-modify-write holds an exclusive lock on a sibling lock file.
    let lock_path = path.with_file_name(format!(
        ".{}.lock",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "triage.toml".into())
    ));
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: cannot open the lock file: {e}", lock_path.display()))?;
    fs4::FileExt::lock(&lock).map_err(|e| format!("{}: cannot lock: {e}", lock_path.display()))?;
    let res = record_triage_locked(path, rec);
    let _ = fs4::FileExt::unlock(&lock);
    res
}

fn record_triage_locked(path: &std::path::Path, rec: &TriageRecord) -> Result<Recorded, String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{shown}: cannot read: {e}; nothing was written")),
    };
    let parsed = Suppressions::parse_kind(&text, FileKind::Triage);
    if let Some(e) = parsed.errors.first() {
        return Err(format!(
            "{shown}:{}: {}; fix the file first (nothing was written)",
            e.line.unwrap_or(1),
            e.message
        ));
    }
    let block = render_triage(rec);
    let existing = parsed
        .entries
        .iter()
        .find(|e| e.matcher == Matcher::Fingerprint(rec.fingerprint.to_ascii_lowercase()));
    let mut lines: Vec<&str> = text.lines().collect();
    let (new_text, line, replaced) = match existing {
        Some(e) => {
            let start = e.line - 1;
            let mut end = lines
                .iter()
                .enumerate()
                .skip(start + 1)
                .find(|(_, l)| l.trim_start().starts_with('['))
                .map_or(lines.len(), |(i, _)| i);
            // Comments and blank lines before the next entry stay with it.
            while end > start + 1 && {
                let l = lines[end - 1].trim();
                l.is_empty() || l.starts_with('#')
            } {
                end -= 1;
            }
            lines.splice(start..end, block.lines());
            let mut t = lines.join("\n");
            t.push('\n');
            (t, e.line, true)
        }
        None => {
            let mut t = text.clone();
            if !t.is_empty() {
                if !t.ends_with('\n') {
                    t.push('\n');
                }
                t.push('\n');
            } else {
                t.push_str(TRIAGE_HEADER);
            }
            let line = t.lines().count() + 1;
            t.push_str(&block);
            (t, line, false)
        }
    };
    // Never write what would not load back with every entry intact.
    let check = Suppressions::parse_kind(&new_text, FileKind::Triage);
    let expected = parsed.entries.len() + usize::from(!replaced);
    if !check.errors.is_empty() || check.entries.len() != expected {
        return Err(format!(
            "{shown}: internal error: the updated file would not load back ({:?}); nothing was written",
            check.errors.first().map(|e| &e.message)
        ));
    }
    crate::fsutil::write_atomic(path, new_text.as_bytes())
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    Ok(Recorded { line, replaced })
}

const TRIAGE_HEADER: &str = "# Triage decisions, recorded by `wabaguard triage` (see README, Triage).\n\
# accepted / false_positive suppress the finding (until `until`, if set); in_review does not.\n\
# A finding whose evidence no longer matches `evidence` is reopened.\n\n";

fn render_triage(rec: &TriageRecord) -> String {
    let mut s = String::from("[[triage]]\n");
    s.push_str(&format!("fingerprint = {}\n", toml_str(&rec.fingerprint)));
    s.push_str(&format!("state = {}\n", toml_str(rec.state.as_str())));
    s.push_str(&format!("reason = {}\n", toml_str(&rec.reason)));
    if let Some(u) = rec.until {
        s.push_str(&format!("until = {u}\n"));
    }
    if let Some(d) = &rec.evidence {
        s.push_str(&format!("evidence = {}\n", toml_str(d)));
    }
    if let Some(a) = &rec.account {
        s.push_str(&format!("account = {}\n", toml_str(a)));
    }
    s.push_str(&format!("recorded_at = {}\n", toml_str(&rec.recorded_at)));
    s
}

/// A TOML basic string.
fn toml_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Severity, Subject, SubjectKind};

    fn day_of(s: &str) -> NaiveDate {
        day(s)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn tpl(rule: &str, name: &str, lang: &str) -> Finding {
        Finding::new(
            "template.category_mismatch",
            rule,
            Severity::High,
            Subject::template(Some("1"), name, lang),
            "m",
        )
        .fingerprinted("waba1")
    }

    const FILE: &str = r#"# accepted findings
[[suppress]]
rule = "tpl.mkt.discount"
subject = "template:order_update:en_US"
reason = "refund credit, not marketing"
expires = 2026-12-31

[[suppress]]
fingerprint = "FP"
reason = "legal approved"
expires = "2026-11-28"
account = "casa-verde"

[[suppress]]
rule = "acct.profile.website"
subject = { kind = "profile_field", field = "websites" }
reason = "site relaunch in December"
expires = 2026-11-01
"#;

    #[test]
    fn fingerprint_and_rule_subject_entries_suppress() {
        let a = tpl("tpl.mkt.discount", "order_update", "en_US");
        let b = tpl("tpl.mkt.discount", "order_update", "de");
        let c = tpl("tpl.mkt.urgency", "flash_sale", "en_US");
        let text = FILE.replace("FP", &c.fingerprint);
        let s = Suppressions::parse(&text);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[0].line, 2);
        assert_eq!(s.entries[1].line, 8);
        assert_eq!(s.entries[2].line, 14);
        let mut fs = vec![a, b, c];
        let mut counts = vec![EntryCount::default(); 3];
        let n = s.apply("casa-verde", &mut fs, day("2026-11-25"), &mut counts);
        assert_eq!(n, 2);
        assert!(fs[0].suppressed, "rule + subject");
        assert!(!fs[1].suppressed, "another language is another subject");
        assert!(fs[2].suppressed, "fingerprint");
        assert_eq!(
            fs[2].suppressed_by,
            Some(SuppressedBy {
                line: 8,
                reason: "legal approved".into(),
                expires: "2026-11-28".into(),
                triage: false,
            })
        );
        assert_eq!(
            counts.iter().map(|c| c.findings).collect::<Vec<_>>(),
            [1, 1, 0]
        );
        // The fingerprint entry is limited to casa-verde.
        let mut other = vec![tpl("tpl.mkt.urgency", "flash_sale", "en_US")];
        s.apply(
            "acme",
            &mut other,
            day("2026-11-25"),
            &mut [EntryCount::default(); 3],
        );
        assert!(!other[0].suppressed);
    }

    #[test]
    fn shorter_keys_wildcards_and_tables_match_more() {
        let s = Suppressions::parse(
            "[[suppress]]\nrule = \"r\"\nsubject = \"template:promo\"\nreason = \"x\"\nexpires = 2027-01-01\n\
             [[suppress]]\nrule = \"p\"\nsubject = \"profile_field:*:websites\"\nreason = \"x\"\nexpires = 2027-01-01\n",
        );
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let mut fs = vec![
            tpl("r", "promo", "en_US"),
            tpl("r", "promo", "es"),
            tpl("r", "promo_2", "es"),
            Finding::new(
                "profile.incomplete",
                "p",
                Severity::Low,
                Subject::new(SubjectKind::ProfileField)
                    .with_id("106")
                    .with_field("websites"),
                "m",
            ),
        ];
        assert_eq!(fs[3].subject.key(), "profile_field:106:websites");
        s.apply(
            "a",
            &mut fs,
            day("2026-11-25"),
            &mut [EntryCount::default(); 2],
        );
        let got: Vec<bool> = fs.iter().map(|f| f.suppressed).collect();
        assert_eq!(got, [true, true, false, true]);
    }

    #[test]
    fn expiring_and_expired_entries_are_reported() {
        let s = Suppressions {
            file: Some("suppressions.toml".into()),
            ..Suppressions::parse(&FILE.replace("FP", "00112233aabbccdd"))
        };
        let mut fs = vec![Finding::new(
            "profile.incomplete",
            "acct.profile.website",
            Severity::Medium,
            Subject::new(SubjectKind::ProfileField)
                .with_id("106")
                .with_field("websites"),
            "m",
        )];
        let today = day("2026-11-25");
        let mut counts = vec![EntryCount::default(); 3];
        s.apply("casa-verde", &mut fs, today, &mut counts);
        assert!(!fs[0].suppressed, "expired on 2026-11-01: counts again");
        let r = s.report(today, &counts).unwrap();
        let states: Vec<(EntryState, i64)> =
            r.entries.iter().map(|e| (e.state, e.days_left)).collect();
        assert_eq!(
            states,
            [
                (EntryState::Active, 36),
                (EntryState::Expiring, 3),
                (EntryState::Expired, -24)
            ]
        );
        assert_eq!(r.attention(), 2);
        // The last day still holds.
        let mut fs = vec![tpl("tpl.mkt.discount", "order_update", "en_US")];
        s.apply(
            "x",
            &mut fs,
            day("2026-12-31"),
            &mut [EntryCount::default(); 3],
        );
        assert!(fs[0].suppressed);
        let mut fs = vec![tpl("tpl.mkt.discount", "order_update", "en_US")];
        s.apply(
            "x",
            &mut fs,
            day("2027-01-01"),
            &mut [EntryCount::default(); 3],
        );
        assert!(!fs[0].suppressed);
    }

    #[test]
    fn malformed_entries_name_their_line_and_suppress_nothing() {
        let text = "[[suppress]]\nrule = \"tpl.mkt.discount\"\nsubject = \"template:order_update:en_US\"\nexpires = 2026-12-31\n\n\
[[suppress]]\nfingerprint = \"not-a-fingerprint\"\nreason = \"x\"\nexpires = 2026-12-31\n\n\
[[suppress]]\nrule = \"tpl.mkt.discount\"\nsubject = \"template:order_update:en_US\"\nreason = \"ok\"\nexpires = 2026-12-31\n\n\
[[suppress]]\nrule = \"r\"\nsubject = \"template:x\"\nreason = \"x\"\nexpires = \"someday\"\n\n\
[[suppress]]\nrule = \"r\"\nsubjekt = \"template:x\"\nreason = \"x\"\nexpires = 2026-12-31\n\n\
[[suppress]]\nrule = \"r\"\nreason = \"x\"\nexpires = 2026-12-31\n";
        let s = Suppressions::parse(text);
        assert_eq!(s.entries.len(), 1, "only the valid entry applies");
        assert_eq!(s.entries[0].line, 11);
        let msgs: Vec<(Option<usize>, &str)> = s
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(msgs.len(), 5, "{msgs:#?}");
        assert_eq!(msgs[0].0, Some(1));
        assert!(msgs[0].1.contains("`reason` is missing"), "{msgs:?}");
        assert_eq!(msgs[1].0, Some(7));
        assert!(msgs[1].1.contains("not-a-fingerprint"), "{msgs:?}");
        assert_eq!(msgs[2].0, Some(21));
        assert!(msgs[2].1.contains("someday"), "{msgs:?}");
        assert_eq!(msgs[3].0, Some(25));
        assert!(msgs[3].1.contains("unknown key `subjekt`"), "{msgs:?}");
        assert_eq!(msgs[4].0, Some(29));
        assert!(msgs[4].1.contains("needs a `subject`"), "{msgs:?}");
        assert!(msgs.iter().all(|(_, m)| m.contains("suppresses nothing")));
        // Still applies the valid one.
        let mut fs = vec![tpl("tpl.mkt.discount", "order_update", "en_US")];
        s.apply(
            "a",
            &mut fs,
            day("2026-11-25"),
            &mut [EntryCount::default()],
        );
        assert!(fs[0].suppressed);
    }

    #[test]
    fn a_file_that_is_not_toml_suppresses_nothing_and_names_the_line() {
        let s = Suppressions::parse("[[suppress]]\nrule = \"r\"\nreason = oops\n");
        assert!(s.entries.is_empty());
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors[0].line, Some(3), "{:?}", s.errors);
        assert!(s.errors[0].message.contains("not valid TOML"));
    }

    #[test]
    fn triage_states_expiry_reopen_and_precedence() {
        let base = tpl("tpl.mkt.discount", "promo", "en_US").evidence("50% off");
        let other = tpl("tpl.mkt.urgency", "promo", "en_US").evidence("today only");
        let third = tpl("tpl.res.alcohol", "promo", "en_US").evidence("wine");
        let digest = evidence_digest(&base);
        let text = format!(
            "# decisions\n[[triage]]\nfingerprint = \"{}\"\nstate = \"accepted\"\nreason = \"ok\"\nuntil = 2026-11-30\nevidence = \"{digest}\"\n\n\
             [[triage]]\nfingerprint = \"{}\"\nstate = \"in_review\"\nreason = \"looking\"\n\n\
             [[triage]]\nfingerprint = \"{}\"\nstate = \"false_positive\"\nreason = \"cheese\"\nevidence = \"{digest}\"\n",
            base.fingerprint, other.fingerprint, third.fingerprint
        );
        let mut s = Suppressions::parse_kind(&text, FileKind::Triage);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[0].line, 2);
        // A [[suppress]] entry in the same model, for `other`.
        let sup = Suppressions::parse(&format!(
            "[[suppress]]\nfingerprint = \"{}\"\nreason = \"legal\"\nexpires = 2027-01-01\n",
            other.fingerprint
        ));
        s.entries.extend(sup.entries);
        let run = |day: &str, fs: &mut Vec<Finding>| {
            clear(fs);
            let mut counts = vec![EntryCount::default(); 4];
            s.apply("a", fs, day_of(day), &mut counts);
            counts
        };
        let mut fs = vec![base.clone(), other.clone(), third.clone()];
        let counts = run("2026-11-30", &mut fs);
        let view = |f: &Finding| f.triage.as_ref().map(|t| t.state);
        // accepted, on its last day, same evidence: suppressed.
        assert!(fs[0].suppressed);
        assert_eq!(view(&fs[0]), Some(TriageView::Accepted));
        assert!(fs[0].suppressed_by.as_ref().unwrap().triage);
        // in_review: shown; the [[suppress]] entry still suppresses.
        assert_eq!(view(&fs[1]), Some(TriageView::InReview));
        assert!(fs[1].suppressed);
        assert!(!fs[1].suppressed_by.as_ref().unwrap().triage);
        // false_positive with another finding's evidence digest: reopened.
        assert_eq!(view(&fs[2]), Some(TriageView::Reopened));
        assert!(!fs[2].suppressed);
        assert_eq!(
            counts[2],
            EntryCount {
                findings: 1,
                reopened: 1
            }
        );
        assert_eq!(counts[3].findings, 1);
        // The day after `until`: expired, counted again.
        let mut fs = vec![base.clone()];
        run("2026-12-01", &mut fs);
        assert_eq!(view(&fs[0]), Some(TriageView::Expired));
        assert!(!fs[0].suppressed);
        let r = s
            .report(day_of("2026-12-01"), &[EntryCount::default(); 4])
            .is_none();
        assert!(r, "no file configured: no report section");
        // Changed evidence on the accepted one: reopened before expiry.
        let mut fs = vec![base.clone().evidence("60% off")];
        run("2026-11-25", &mut fs);
        assert_eq!(view(&fs[0]), Some(TriageView::Reopened));
        assert!(!fs[0].suppressed);
    }

    #[test]
    fn triage_file_errors_name_their_line_and_keys_are_per_kind() {
        let text = "[[triage]]\nfingerprint = \"0011223344556677\"\nstate = \"accepted\"\nreason = \"x\"\nexpires = 2026-12-01\n\n\
                    [[triage]]\nfingerprint = \"0011223344556677\"\nstate = \"done\"\nreason = \"x\"\n\n\
                    [[triage]]\nstate = \"accepted\"\nreason = \"x\"\n\n\
                    [[triage]]\nfingerprint = \"0011223344556677\"\nstate = \"accepted\"\nreason = \"x\"\nevidence = \"zz\"\n\n\
                    [[suppress]]\nfingerprint = \"0011223344556677\"\nreason = \"x\"\nexpires = 2026-12-01\n";
        let mut s = Suppressions::parse_kind(text, FileKind::Triage);
        assert!(s.entries.is_empty());
        s.errors.sort_by_key(|e| e.line);
        let got: Vec<(Option<usize>, bool)> = s
            .errors
            .iter()
            .map(|e| {
                (
                    e.line,
                    e.message.contains("applies to nothing") || e.message.contains("[[triage]]"),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some(5), true),
                (Some(9), true),
                (Some(12), true),
                (Some(20), true),
                (Some(22), true)
            ],
            "{:#?}",
            s.errors
        );
        assert!(s.errors[0].message.contains("unknown key `expires`"));
        assert!(s.errors[1].message.contains("unknown triage state `done`"));
        assert!(s.errors[2].message.contains("`fingerprint` is missing"));
        assert!(s.errors[3].message.contains("not an evidence digest"));
        assert!(
            s.errors[4]
                .message
                .contains("entries are `[[triage]]` tables")
        );
        // And `[[triage]]` is not a suppressions-file table.
        let s = Suppressions::parse("[[triage]]\nfingerprint = \"0011223344556677\"\n");
        assert!(
            s.errors[0]
                .message
                .contains("entries are `[[suppress]]` tables")
        );
    }
}
