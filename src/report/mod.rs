//! The Report: one serde model that every writer renders.
//!
//! `report.json` is this model serialized (`schema_version: 1`); `report.md`
//! renders it for a compliance manager. Writers never compute: everything a
//! writer shows (headline, top actions, counts) is in the model.

pub mod json;
pub mod markdown;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{Finding, Severity, SeverityCounts};
use crate::risk::{Level, Risk};
use crate::snapshot::{CollectNote, SourceKind};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "wabaguard".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Which rules were in force (so two runs can be compared).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesInfo {
    pub pack: String,
    pub version: String,
    pub digest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Collected and checked.
    Audited,
    /// Could not be collected; see `error`.
    Failed,
}

/// One recommended action, in priority order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub severity: Severity,
    pub subject: String,
    pub message: String,
    pub remediation: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountReport {
    pub name: String,
    pub waba_id: String,
    pub source: SourceKind,
    pub status: AccountStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub risk: Risk,
    /// One plain-language sentence: level and the main reasons.
    pub headline: String,
    pub summary: SeverityCounts,
    /// Number of templates audited.
    pub templates: usize,
    /// Number of phone numbers audited.
    pub phone_numbers: usize,
    /// What to fix first (top findings with their remediation).
    pub fix_first: Vec<Action>,
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<CollectNote>,
    /// Opt-in coverage of each configured audience (counts, no numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optin: Vec<crate::snapshot::optin::AudienceCoverage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    pub generated_at: String,
    pub tool: Tool,
    pub rules: RulesInfo,
    pub accounts: Vec<AccountReport>,
}

impl Report {
    pub fn new(run_id: String, generated_at: DateTime<Utc>, rules: RulesInfo) -> Self {
        Report {
            schema_version: SCHEMA_VERSION,
            run_id,
            generated_at: generated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            tool: Tool::default(),
            rules,
            accounts: Vec::new(),
        }
    }

    /// Counts over all accounts (unsuppressed findings).
    pub fn totals(&self) -> SeverityCounts {
        let mut t = SeverityCounts::default();
        for a in &self.accounts {
            t.merge(&a.summary);
        }
        t
    }

    /// The worst level of any audited account.
    pub fn worst_level(&self) -> Option<Level> {
        self.accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Audited)
            .map(|a| a.risk.level)
            .max()
    }

    /// Whether any unsuppressed finding reaches `min`.
    pub fn reaches(&self, min: Severity) -> bool {
        self.totals().at_or_above(min) > 0
    }
}

impl AccountReport {
    /// Builds an audited account's report section from its findings.
    pub fn audited(
        name: &str,
        waba_id: &str,
        source: SourceKind,
        templates: usize,
        phone_numbers: usize,
        mut findings: Vec<Finding>,
        notes: Vec<CollectNote>,
    ) -> Self {
        crate::checks::sort_findings(&mut findings);
        let risk = crate::risk::assess(&findings);
        let summary = SeverityCounts::of(&findings);
        let fix_first = fix_first(&findings, 5);
        let headline = headline(&risk, &findings);
        AccountReport {
            name: name.to_owned(),
            waba_id: waba_id.to_owned(),
            source,
            status: AccountStatus::Audited,
            error: None,
            risk,
            headline,
            summary,
            templates,
            phone_numbers,
            fix_first,
            findings,
            notes,
            optin: Vec::new(),
        }
    }

    /// An account that could not be collected.
    pub fn failed(name: &str, waba_id: &str, source: SourceKind, error: String) -> Self {
        AccountReport {
            name: name.to_owned(),
            waba_id: waba_id.to_owned(),
            source,
            status: AccountStatus::Failed,
            headline: format!("not audited: {error}"),
            error: Some(error),
            risk: Risk {
                score: 0,
                level: Level::Low,
                drivers: Vec::new(),
            },
            summary: SeverityCounts::default(),
            templates: 0,
            phone_numbers: 0,
            fix_first: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            optin: Vec::new(),
        }
    }
}

/// The top `n` actions: the risk drivers, with their remediation.
fn fix_first(findings: &[Finding], n: usize) -> Vec<Action> {
    let drivers = crate::risk::drivers(findings, n);
    drivers
        .iter()
        .filter_map(|d| findings.iter().find(|f| f.fingerprint == d.fingerprint))
        .map(|f| Action {
            severity: f.severity,
            subject: f.subject.label(),
            message: f.message.clone(),
            remediation: f.remediation.clone(),
            fingerprint: f.fingerprint.clone(),
        })
        .collect()
}

/// "high risk: 2 templates contain marketing in UTILITY, 1 template contains alcohol".
fn headline(risk: &Risk, findings: &[Finding]) -> String {
    use std::collections::BTreeMap;
    let mut by_check: BTreeMap<&str, (Severity, usize)> = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| !f.suppressed && f.severity >= Severity::Medium)
    {
        let e = by_check.entry(f.check.as_str()).or_insert((f.severity, 0));
        e.0 = e.0.max(f.severity);
        e.1 += 1;
    }
    let mut parts: Vec<(Severity, String)> = by_check
        .into_iter()
        .map(|(check, (sev, n))| (sev, describe_check(check, n)))
        .collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.0));
    let reasons: Vec<String> = parts.into_iter().take(3).map(|p| p.1).collect();
    if reasons.is_empty() {
        format!("{} risk: no significant problems found", risk.level)
    } else {
        format!("{} risk: {}", risk.level, reasons.join(", "))
    }
}

fn describe_check(check: &str, n: usize) -> String {
    let s = if n == 1 { "" } else { "s" };
    match check {
        "template.category_mismatch" => format!("{n} template{s} filed under the wrong category"),
        "template.restricted_content" => format!("{n} restricted-content finding{s}"),
        "template.auth_format" => format!("{n} authentication-format problem{s}"),
        "template.hygiene" => format!("{n} template hygiene issue{s}"),
        "optin.coverage" => format!("{n} audience opt-in problem{s}"),
        "optin.data" => format!("{n} audience data problem{s}"),
        other => format!("{n} {other} finding{s}"),
    }
}

/// A new run id: UTC time, sortable, filesystem-safe (`20261125T143600Z`).
pub fn run_id(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Writes `report.json` and `report.md` into `reports_dir/<run-id>/`.
///
/// The run folder is assembled under a temporary name and renamed into place
/// when complete, so a crash never leaves a half-written run and earlier runs
/// are never touched. If the folder name is taken (two runs in one second),
/// a suffix `-2`, `-3`, ... is added and `report.run_id` updated.
pub fn write_run(report: &mut Report, reports_dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(reports_dir)?;
    let base = report.run_id.clone();
    for attempt in 1..1000 {
        let id = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let target = reports_dir.join(&id);
        if target.exists() {
            continue;
        }
        report.run_id = id;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}-", report.run_id))
            .suffix(".partial")
            .tempdir_in(reports_dir)?;
        std::fs::write(tmp.path().join("report.json"), json::render(report)?)?;
        std::fs::write(tmp.path().join("report.md"), markdown::render(report))?;
        let tmp_path = tmp.keep();
        match std::fs::rename(&tmp_path, &target) {
            Ok(()) => return Ok(target),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp_path);
                if target.exists() {
                    continue;
                }
                return Err(e);
            }
        }
    }
    Err(std::io::Error::other(
        "could not find a free run folder name",
    ))
}
