//! The shared vocabulary of every check: [`Severity`], [`Subject`], [`Finding`].
//!
//! A finding is the unit that flows from the checks to the risk model, the
//! report writers, the run-to-run diff and the suppressions. Its fingerprint
//! is derived from the rule and the subject only (never from the message), so
//! rewording a message does not make an old finding look new.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL_DESC: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" | "med" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" | "crit" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected one of: critical, high, medium, low, info)"
            )),
        }
    }
}

/// What kind of thing a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Account,
    Waba,
    Template,
    PhoneNumber,
    ProfileField,
    Audience,
    Event,
    SendLog,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Account => "account",
            SubjectKind::Waba => "waba",
            SubjectKind::Template => "template",
            SubjectKind::PhoneNumber => "phone_number",
            SubjectKind::ProfileField => "profile_field",
            SubjectKind::Audience => "audience",
            SubjectKind::Event => "event",
            SubjectKind::SendLog => "send_log",
        }
    }
}

/// What a finding is about: a template (name + language), a phone number, a
/// profile field, an audience file, ...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    pub kind: SubjectKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// For profile fields: which field (`websites`, `about`, ...); for phone
    /// numbers: the phone number id the field belongs to is in `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Subject {
    pub fn new(kind: SubjectKind) -> Self {
        Subject {
            kind,
            id: None,
            name: None,
            language: None,
            field: None,
        }
    }

    pub fn template(id: Option<&str>, name: &str, language: &str) -> Self {
        Subject {
            kind: SubjectKind::Template,
            id: id.filter(|s| !s.is_empty()).map(str::to_owned),
            name: Some(name.to_owned()),
            language: Some(language.to_owned()),
            field: None,
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The identity used for fingerprints: stable across runs. Templates are
    /// identified by name + language (ids change when a template is re-created).
    pub fn identity(&self) -> String {
        let mut s = String::from(self.kind.as_str());
        match self.kind {
            SubjectKind::Template => {
                s.push('|');
                s.push_str(self.name.as_deref().unwrap_or(""));
                s.push('|');
                s.push_str(self.language.as_deref().unwrap_or(""));
            }
            _ => {
                for part in [&self.id, &self.name, &self.field] {
                    s.push('|');
                    s.push_str(part.as_deref().unwrap_or(""));
                }
            }
        }
        s
    }

    /// The key suppressions match on: the kind, then the identifying parts
    /// that are set, joined by `:` — `template:order_update:en_US`,
    /// `phone_number:106540352242922`, `profile_field:106540352242922:websites`.
    pub fn key(&self) -> String {
        let mut s = String::from(self.kind.as_str());
        let parts: [&Option<String>; 3] = match self.kind {
            SubjectKind::Template => [&self.name, &self.language, &None],
            _ => [&self.id, &self.name, &self.field],
        };
        for p in parts.into_iter().flatten() {
            s.push(':');
            s.push_str(p);
        }
        s
    }

    /// Short human label: `template order_shipped (en_US)`.
    pub fn label(&self) -> String {
        match self.kind {
            SubjectKind::Template => format!(
                "template {} ({})",
                self.name.as_deref().unwrap_or("?"),
                self.language.as_deref().unwrap_or("?")
            ),
            SubjectKind::ProfileField => format!(
                "profile field `{}`{}",
                self.field.as_deref().unwrap_or("?"),
                self.id
                    .as_deref()
                    .map(|id| format!(" of number {id}"))
                    .unwrap_or_default()
            ),
            kind => {
                let mut s = kind.as_str().replace('_', " ");
                if let Some(n) = self.name.as_deref().or(self.id.as_deref()) {
                    s.push(' ');
                    s.push_str(n);
                }
                if let Some(f) = &self.field {
                    s.push_str(&format!(" ({f})"));
                }
                s
            }
        }
    }
}

/// Where the signal behind a finding comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// wabaguard's own heuristics (rule packs, completeness checks).
    #[default]
    Heuristic,
    /// A signal Meta itself already sent (status, quality rating, health, webhooks).
    Meta,
}

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Check family, e.g. `template.category_mismatch`.
    pub check: String,
    /// Stable rule id, e.g. `tpl.mkt.discount`.
    pub rule: String,
    pub severity: Severity,
    pub subject: Subject,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    pub remediation: String,
    #[serde(default)]
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
    pub fingerprint: String,
    /// Set by suppressions: still reported, but not counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
    /// The suppressions.toml entry that suppressed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<SuppressedBy>,
    /// When the finding (its fingerprint) was first reported: the
    /// `generated_at` of the earliest run of the account's unbroken streak of
    /// runs that reported it. Set by the run-to-run diff
    /// ([`crate::report::diff::attach`]); absent where no diff was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// The triage decision recorded for it (`wabaguard triage`), as it
    /// stands in this run: see [`TriageView`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<FindingTriage>,
}

/// A triage decision (`wabaguard triage --state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageState {
    /// Reviewed and accepted: suppressed (until `--until`, if given).
    Accepted,
    /// Not a real problem: suppressed (until `--until`, if given).
    FalsePositive,
    /// Being looked at: shown, still counted.
    InReview,
}

impl TriageState {
    pub fn as_str(self) -> &'static str {
        match self {
            TriageState::Accepted => "accepted",
            TriageState::FalsePositive => "false_positive",
            TriageState::InReview => "in_review",
        }
    }

    /// Whether the decision suppresses the finding (while it holds).
    pub fn suppresses(self) -> bool {
        matches!(self, TriageState::Accepted | TriageState::FalsePositive)
    }
}

impl FromStr for TriageState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "accepted" => Ok(TriageState::Accepted),
            "false_positive" => Ok(TriageState::FalsePositive),
            "in_review" => Ok(TriageState::InReview),
            other => Err(format!(
                "unknown triage state `{other}` (expected accepted, false_positive or in_review)"
            )),
        }
    }
}

/// Where a triaged finding stands in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageView {
    /// The decision holds: suppressed.
    Accepted,
    /// The decision holds: suppressed.
    FalsePositive,
    /// Shown and counted.
    InReview,
    /// The evidence changed since the decision: counted again.
    Reopened,
    /// Past the decision's `until` date: counted again.
    Expired,
}

impl TriageView {
    pub fn as_str(self) -> &'static str {
        match self {
            TriageView::Accepted => "accepted",
            TriageView::FalsePositive => "false_positive",
            TriageView::InReview => "in_review",
            TriageView::Reopened => "reopened",
            TriageView::Expired => "expired",
        }
    }
}

/// The triage of one finding in a run (report.json's `triage` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingTriage {
    /// Where it stands now.
    pub state: TriageView,
    /// What was decided.
    pub decision: TriageState,
    pub reason: String,
    /// Last day the decision holds (`YYYY-MM-DD`), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    /// Line of the `[[triage]]` entry in the triage file.
    pub line: usize,
}

/// Which suppression entry accepted a finding (see `suppress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedBy {
    /// Line of the entry's `[[suppress]]` header in the suppressions file.
    pub line: usize,
    pub reason: String,
    /// Last day the suppression holds (`YYYY-MM-DD`); empty for a triage
    /// decision without an end date.
    #[serde(default)]
    pub expires: String,
    /// Suppressed by a triage decision (the line is in the triage file).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub triage: bool,
}

impl Finding {
    /// Starts a finding; the fingerprint is computed from `scope` (the account,
    /// usually its WABA id), the rule and the subject.
    pub fn new(
        check: &str,
        rule: &str,
        severity: Severity,
        subject: Subject,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.to_owned(),
            rule: rule.to_owned(),
            severity,
            fingerprint: String::new(),
            subject,
            message: message.into(),
            evidence: None,
            remediation: String::new(),
            origin: Origin::Heuristic,
            details: serde_json::Map::new(),
            suppressed: false,
            suppressed_by: None,
            first_seen: None,
            triage: None,
        }
    }

    pub fn evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }

    pub fn remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = remediation.into();
        self
    }

    pub fn meta(mut self) -> Self {
        self.origin = Origin::Meta;
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the fingerprint: sha256(scope | rule | subject identity), 16 hex chars.
    pub fn fingerprinted(mut self, scope: &str) -> Self {
        self.fingerprint = fingerprint(scope, &self.rule, &self.subject);
        self
    }

    /// Sort key for deterministic output: severity (desc), check, subject, rule.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            &self.check,
            &self.subject,
            &self.rule,
            &self.fingerprint,
        )
    }
}

/// Stable fingerprint of a finding's identity.
pub fn fingerprint(scope: &str, rule: &str, subject: &Subject) -> String {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update(b"\x1f");
    h.update(rule.as_bytes());
    h.update(b"\x1f");
    h.update(subject.identity().as_bytes());
    let digest = h.finalize();
    hex::encode(&digest[..8])
}

/// Digest of a finding's evidence (16 hex digits): a triage decision
/// records it, and a finding whose evidence no longer matches is reopened.
/// Findings without evidence digest the empty string.
pub fn evidence_digest(f: &Finding) -> String {
    let digest = Sha256::digest(f.evidence.as_deref().unwrap_or("").as_bytes());
    hex::encode(&digest[..8])
}

/// Sorts findings into the canonical report order.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl SeverityCounts {
    /// Counts findings that are not suppressed.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut c = SeverityCounts::default();
        for f in findings.into_iter().filter(|f| !f.suppressed) {
            c.add(f.severity);
        }
        c
    }

    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => self.info += 1,
        }
    }

    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    pub fn merge(&mut self, other: &SeverityCounts) {
        for s in Severity::ALL_DESC {
            for _ in 0..other.get(s) {
                self.add(s);
            }
        }
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.info
    }

    /// Number of findings at or above `min`.
    pub fn at_or_above(&self, min: Severity) -> usize {
        Severity::ALL_DESC
            .iter()
            .filter(|s| **s >= min)
            .map(|s| self.get(*s))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn fingerprint_ignores_message_and_template_id() {
        let a = Finding::new(
            "template.hygiene",
            "tpl.hyg.length",
            Severity::Low,
            Subject::template(Some("1"), "promo", "en_US"),
            "one wording",
        )
        .fingerprinted("waba1");
        let b = Finding::new(
            "template.hygiene",
            "tpl.hyg.length",
            Severity::High,
            Subject::template(Some("2"), "promo", "en_US"),
            "another wording",
        )
        .fingerprinted("waba1");
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint.len(), 16);
        let c = b.clone().fingerprinted("waba2");
        assert_ne!(a.fingerprint, c.fingerprint);
        let d = Finding::new(
            "template.hygiene",
            "tpl.hyg.length",
            Severity::Low,
            Subject::template(None, "promo", "es"),
            "x",
        )
        .fingerprinted("waba1");
        assert_ne!(a.fingerprint, d.fingerprint);
    }

    #[test]
    fn counts_skip_suppressed() {
        let mut f = Finding::new(
            "c",
            "r",
            Severity::High,
            Subject::new(SubjectKind::Account),
            "m",
        );
        let g = f.clone();
        f.suppressed = true;
        let c = SeverityCounts::of([&f, &g]);
        assert_eq!(c.high, 1);
        assert_eq!(c.at_or_above(Severity::Medium), 1);
        assert_eq!(c.at_or_above(Severity::Critical), 0);
    }
}
