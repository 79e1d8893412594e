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

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};
use tracing::{info, warn};

use crate::checks::{Finding, SuppressedBy};
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

/// One valid `[[suppress]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line of its `[[suppress]]` header (1-based).
    pub line: usize,
    pub matcher: Matcher,
    pub account: Option<String>,
    pub reason: String,
    /// The last day it holds (UTC).
    pub expires: NaiveDate,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// The suppressions section of report.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionReport {
    pub file: String,
    pub warn_days: u32,
    pub entries: Vec<EntryStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<SuppressionError>,
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
    }
}

/// The loaded file: its valid entries and its errors.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    pub file: Option<PathBuf>,
    pub warn_days: u32,
    pub entries: Vec<Entry>,
    pub errors: Vec<SuppressionError>,
}

impl Suppressions {
    /// The suppressions configured in `cfg` (none when no file is set). An
    /// unreadable or malformed file is not fatal: its errors are kept and
    /// logged, and only valid entries apply.
    pub fn load(cfg: &Config) -> Suppressions {
        let Some(path) = cfg.suppressions_file() else {
            return Suppressions::default();
        };
        let mut s = match std::fs::read_to_string(&path) {
            Ok(text) => Suppressions::parse(&text),
            Err(e) => Suppressions {
                errors: vec![SuppressionError {
                    line: None,
                    message: format!("cannot read the file: {e}; nothing is suppressed"),
                }],
                ..Suppressions::default()
            },
        };
        s.file = Some(path);
        s.warn_days = cfg.suppressions.warn_days;
        for e in &s.errors {
            warn!(
                file = %s.file_label(),
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
        let mut out = Suppressions {
            warn_days: 7,
            ..Suppressions::default()
        };
        let doc = match DeTable::parse(text) {
            Ok(d) => d,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start));
                out.errors.push(SuppressionError {
                    line,
                    message: format!(
                        "not valid TOML ({}); nothing is suppressed",
                        e.message().trim_end()
                    ),
                });
                return out;
            }
        };
        for (key, value) in doc.get_ref().iter() {
            if key.get_ref().as_ref() != "suppress" {
                out.errors.push(SuppressionError {
                    line: Some(line_of(text, key.span().start)),
                    message: format!(
                        "unknown key `{}` (entries are `[[suppress]]` tables)",
                        key.get_ref()
                    ),
                });
                continue;
            }
            let Some(items) = value.get_ref().as_array() else {
                out.errors.push(SuppressionError {
                    line: Some(line_of(text, key.span().start)),
                    message: "`suppress` must be an array of tables (`[[suppress]]`)".into(),
                });
                continue;
            };
            for item in items.iter() {
                let start = item.span().start;
                let Some(table) = item.get_ref().as_table() else {
                    out.errors.push(SuppressionError {
                        line: Some(line_of(text, start)),
                        message: "a `suppress` item must be a table".into(),
                    });
                    continue;
                };
                match entry(text, table, start) {
                    Ok(e) => out.entries.push(e),
                    Err(e) => out.errors.push(e),
                }
            }
        }
        out
    }

    /// Marks the findings of `account` that an active entry matches, as of
    /// `today`; `counts[i]` adds up what entry `i` suppressed. Findings
    /// already marked are left alone.
    pub fn apply(
        &self,
        account: &str,
        findings: &mut [Finding],
        today: NaiveDate,
        counts: &mut [usize],
    ) -> usize {
        let mut n = 0;
        for f in findings.iter_mut().filter(|f| !f.suppressed) {
            if let Some((i, e)) = self
                .entries
                .iter()
                .enumerate()
                .find(|(_, e)| today <= e.expires && e.matches(account, f))
            {
                f.suppressed = true;
                f.suppressed_by = Some(SuppressedBy {
                    line: e.line,
                    reason: e.reason.clone(),
                    expires: e.expires.to_string(),
                });
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
                n += 1;
            }
        }
        n
    }

    /// The report section, as of `today`, with what each entry suppressed.
    /// Logs expired entries (warning) and expiring ones (info).
    pub fn report(&self, today: NaiveDate, counts: &[usize]) -> Option<SuppressionReport> {
        let file = self.file.as_ref()?;
        let entries: Vec<EntryStatus> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let days_left = (e.expires - today).num_days();
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
                        e.expires
                    ),
                    EntryState::Expiring => info!(
                        file = %file.display(),
                        line = e.line,
                        "suppressions: the entry for {} expires on {} ({} day{} left)",
                        e.describe(),
                        e.expires,
                        days_left,
                        if days_left == 1 { "" } else { "s" }
                    ),
                    EntryState::Active => {}
                }
                EntryStatus {
                    line: e.line,
                    matches: e.describe(),
                    reason: e.reason.clone(),
                    expires: e.expires.to_string(),
                    state,
                    days_left,
                    suppressed: counts.get(i).copied().unwrap_or(0),
                }
            })
            .collect();
        Some(SuppressionReport {
            file: file.display().to_string(),
            warn_days: self.warn_days,
            entries,
            errors: self.errors.clone(),
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
const SUBJECT_FIELDS: [&str; 5] = ["kind", "id", "name", "language", "field"];

fn entry(text: &str, table: &DeTable<'_>, start: usize) -> Result<Entry, SuppressionError> {
    let first_key = table
        .iter()
        .map(|(k, _)| k.span().start)
        .min()
        .unwrap_or(start);
    let line = header_line(text, first_key);
    let err = |at: Option<usize>, message: String| SuppressionError {
        line: Some(at.map_or(line, |a| line_of(text, a))),
        message: format!("suppress entry at line {line}: {message}; it suppresses nothing"),
    };
    let mut strings: BTreeMap<&str, (String, usize)> = BTreeMap::new();
    let mut subject: Option<SubjectPattern> = None;
    let mut expires: Option<NaiveDate> = None;
    for (k, v) in table.iter() {
        let key = k.get_ref().as_ref();
        let at = Some(k.span().start);
        if !KEYS.contains(&key) {
            return Err(err(
                at,
                format!(
                    "unknown key `{key}` (expected {})",
                    KEYS.map(|k| format!("`{k}`")).join(", ")
                ),
            ));
        }
        match (key, v.get_ref()) {
            ("expires", val) => {
                let raw = match val {
                    DeValue::Datetime(d) => d.to_string(),
                    DeValue::String(s) => s.to_string(),
                    other => {
                        return Err(err(
                            at,
                            format!("`expires` must be a date, not a {}", other.type_str()),
                        ));
                    }
                };
                let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
                    err(at, format!("`expires = {raw}` is not a date (YYYY-MM-DD)"))
                })?;
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
    let Some(expires) = expires else {
        return Err(err(
            None,
            "`expires` is missing: every suppression needs an end date (YYYY-MM-DD)".into(),
        ));
    };
    let matcher = match (get("fingerprint"), get("rule"), subject) {
        (Some((fp, at)), None, None) => {
            if fp.len() != 16 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    Some(*at),
                    format!(
                        "`fingerprint = \"{fp}\"` is not a finding fingerprint (16 hex digits, as report.md shows)"
                    ),
                ));
            }
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
        expires,
    })
}

fn key_static(k: &str) -> &'static str {
    KEYS.iter().find(|x| **x == k).copied().unwrap_or("?")
}

/// Applies `sup` to every audited account of findings given by `accounts`
/// (name, findings), returning the report section. A helper for callers
/// that hold findings outside a Report (the gate).
pub fn apply_all<'a>(
    sup: &Suppressions,
    accounts: impl IntoIterator<Item = (&'a str, &'a mut [Finding])>,
    today: NaiveDate,
) -> Option<SuppressionReport> {
    let mut counts = vec![0; sup.entries.len()];
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Severity, Subject, SubjectKind};

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
        let mut counts = vec![0; 3];
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
                expires: "2026-11-28".into()
            })
        );
        assert_eq!(counts, [1, 1, 0]);
        // The fingerprint entry is limited to casa-verde.
        let mut other = vec![tpl("tpl.mkt.urgency", "flash_sale", "en_US")];
        s.apply("acme", &mut other, day("2026-11-25"), &mut [0; 3]);
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
        s.apply("a", &mut fs, day("2026-11-25"), &mut [0; 2]);
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
        let mut counts = vec![0; 3];
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
        s.apply("x", &mut fs, day("2026-12-31"), &mut [0; 3]);
        assert!(fs[0].suppressed);
        let mut fs = vec![tpl("tpl.mkt.discount", "order_update", "en_US")];
        s.apply("x", &mut fs, day("2027-01-01"), &mut [0; 3]);
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
        s.apply("a", &mut fs, day("2026-11-25"), &mut [0]);
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
}
