//! Opt-in coverage in the Snapshot: what collection found for each audience
//! configured on an account (counts only — no phone numbers).

use serde::{Deserialize, Serialize};

/// One configured audience (`[[accounts.audiences]]`) and its coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceCoverage {
    pub name: String,
    /// The audience CSV, as configured.
    pub file: String,
    /// The consent ledger CSV, as configured.
    pub consent: String,
    /// `None` when a file could not be read; see `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The opt-in coverage of one audience against one consent ledger.
///
/// `covered + stale + revoked + missing = unique`;
/// `coverage = covered / unique` (0 when `unique` is 0).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Coverage {
    /// Audience data rows.
    pub total: u64,
    /// Rows whose phone is invalid (or missing).
    pub invalid: u64,
    /// Distinct valid E.164 numbers.
    pub unique: u64,
    /// Valid rows − unique.
    pub duplicates: u64,
    /// Latest event is an opt-in no older than `max_age_days`.
    pub covered: u64,
    /// Latest event is an opt-in older than `max_age_days`.
    pub stale: u64,
    /// Latest event is an opt-out.
    pub revoked: u64,
    /// No event at all.
    pub missing: u64,
    pub coverage: f64,
    /// Ledger data rows.
    pub ledger_rows: u64,
    /// Ledger rows with an invalid phone (ignored).
    pub ledger_invalid: u64,
    /// Ledger rows with an unknown event or an unparseable timestamp (ignored).
    pub ledger_errors: u64,
    /// The first few ledger errors, by line.
    #[serde(default)]
    pub ledger_error_samples: Vec<RowIssue>,
    /// Valid ledger events dated after `as_of` (ignored).
    #[serde(default)]
    pub ledger_future: u64,
    /// Audience rows with another number of fields than the header.
    #[serde(default)]
    pub ragged_rows: u64,
    /// The first few of them, by line.
    #[serde(default)]
    pub ragged_samples: Vec<RowIssue>,
    /// The instant the verdicts are computed at (RFC 3339, UTC).
    pub as_of: String,
    pub max_age_days: u32,
    /// Default region for national numbers.
    pub region: String,
    /// The audience column read as the phone number.
    pub phone_column: String,
    /// The template categories the verdicts above are for
    /// (`MARKETING`, `MARKETING|UTILITY`); empty = every consent scope.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Whether the ledger has a `scope` column (else every event is `all`).
    #[serde(default)]
    pub ledger_scoped: bool,
    /// Coverage per consent scope (marketing, utility, authentication).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeCoverage>,
    /// Audience rows matched by each country rule in force for the category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country_rules: Vec<CountryRuleCount>,
}

/// The verdicts for one consent scope:
/// `covered + stale + revoked + missing = unique`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScopeCoverage {
    /// `marketing`, `utility` or `authentication`.
    pub scope: String,
    pub covered: u64,
    pub stale: u64,
    pub revoked: u64,
    pub missing: u64,
    pub coverage: f64,
}

/// How many audience rows a country rule matches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CountryRuleCount {
    pub id: String,
    pub title: String,
    /// Region codes (`US`, `BR`).
    pub countries: Vec<String>,
    /// Template categories it applies to (`MARKETING|UTILITY`).
    pub categories: String,
    /// `refuse` or `warn` (what the gate does).
    pub action: String,
    /// Where the rule comes from: a rule file, or `send log` (error 130497).
    pub source: String,
    /// Valid audience rows whose number is in one of the countries.
    pub rows: u64,
}

/// A row worth pointing at: its line in the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    pub line: u64,
    pub reason: String,
}
