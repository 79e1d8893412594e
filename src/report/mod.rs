//! The Report: one serde model that every writer renders.
//!
//! `report.json` is this model serialized (`schema_version: 1`); `report.md`
//! and `report.html` render it for a compliance manager, `findings.csv` for
//! spreadsheets. Writers never compute: everything a writer shows (headline,
//! top actions, counts) is in the model or, for report.html's charts, in the
//! run history ([`trend`]).

pub mod chart;
pub mod diff;
pub mod findings_csv;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod lock;
pub mod markdown;
pub mod previous;
pub mod register;
pub mod sarif;
pub mod trend;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::checks::{Finding, Origin, Severity, SeverityCounts};
use crate::risk::{Level, Risk, Stage};
use crate::snapshot::{CollectNote, NumberState, SourceKind};

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
    /// Meta's own signal or a wabaguard heuristic.
    #[serde(default)]
    pub origin: Origin,
}

/// The one-screen summary report.md opens with, per account. Every sentence
/// is composed here; writers only render it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutiveSummary {
    pub level: Level,
    pub score: u8,
    /// "high risk: 2 templates contain marketing in UTILITY, quality rating YELLOW, website missing".
    pub sentence: String,
    pub stage: Stage,
    /// Where the account is on the enforcement ladder, in one or two sentences.
    pub stage_sentence: String,
    /// The three things to do first.
    pub top_actions: Vec<Action>,
    /// Problems Meta itself has signalled (statuses, ratings, health, webhooks), most severe first.
    pub meta_signals: Vec<String>,
    /// Problems found by wabaguard's own heuristics, most severe first.
    pub heuristics: Vec<String>,
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
    /// Compact per-number state, compared by the next run (limit downgrades).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<NumberState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executive: Option<ExecutiveSummary>,
    /// Opt-in coverage of each configured audience (counts, no numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optin: Vec<crate::snapshot::optin::AudienceCoverage>,
    /// Compared with the previous run in which the account was audited
    /// (absent on its first run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<diff::AccountDiff>,
    /// Template statuses and health, as collected (what the gate decides on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// The template register after this run: every template the account
    /// has had, its category changes and status history (no phone numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_register: Option<register::TemplateRegister>,
}

/// What could be sent when the account was collected: every template's
/// status and every `can_send_message` Meta reported.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub templates: Vec<TemplateState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<HealthState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateState {
    pub name: String,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// One `health_status.can_send_message` (the WABA's, an entity's, a number's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthState {
    /// `WABA`, `PHONE_NUMBER`, `BUSINESS`, `APP`, ...
    pub entity: String,
    pub id: String,
    pub can_send_message: String,
}

impl Inventory {
    pub fn of(snap: &crate::snapshot::Snapshot) -> Self {
        let templates = snap
            .templates
            .iter()
            .map(|t| TemplateState {
                name: t.name.clone(),
                language: t.language.clone(),
                status: t.status.clone(),
                category: t.category.clone(),
            })
            .collect();
        let mut health = Vec::new();
        let mut push = |entity: &str, id: &str, state: Option<&str>| {
            if let Some(state) = state {
                let h = HealthState {
                    entity: entity.to_owned(),
                    id: id.to_owned(),
                    can_send_message: state.to_ascii_uppercase(),
                };
                if !health.contains(&h) {
                    health.push(h);
                }
            }
        };
        let mut aggregate = |entity: &str, id: &str, hs: &crate::snapshot::HealthStatus| {
            push(entity, id, hs.can_send_message.as_deref());
            for e in &hs.entities {
                push(
                    e.entity_type.as_deref().unwrap_or("ENTITY"),
                    e.id.as_deref().unwrap_or(""),
                    e.can_send_message.as_deref(),
                );
            }
        };
        if let Some(hs) = snap.waba.as_ref().and_then(|w| w.health_status.as_ref()) {
            aggregate("WABA", &snap.waba_id, hs);
        }
        for n in &snap.phone_numbers {
            if let Some(hs) = &n.health_status {
                aggregate("PHONE_NUMBER", n.id_str(), hs);
            }
        }
        Inventory { templates, health }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    pub generated_at: String,
    pub tool: Tool,
    pub rules: RulesInfo,
    pub accounts: Vec<AccountReport>,
    /// The suppressions file: its entries (active, expiring, expired) and errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressions: Option<crate::suppress::SuppressionReport>,
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
            suppressions: None,
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
        let mut a = AccountReport {
            name: name.to_owned(),
            waba_id: waba_id.to_owned(),
            source,
            status: AccountStatus::Audited,
            error: None,
            risk,
            headline: String::new(),
            summary,
            templates,
            phone_numbers,
            fix_first: Vec::new(),
            findings,
            notes,
            numbers: Vec::new(),
            executive: None,
            optin: Vec::new(),
            diff: None,
            inventory: None,
            template_register: None,
        };
        a.derive(&BTreeMap::new());
        a
    }

    /// Replaces the findings-only risk with the account's full assessment
    /// (stage, diagnosis), keeps the per-number state for the next run, and
    /// recomposes the headline, actions and executive summary. `titles` maps
    /// rule ids to their titles (for plain-language reasons).
    pub fn with_signals(
        mut self,
        risk: Risk,
        numbers: Vec<NumberState>,
        titles: &BTreeMap<String, String>,
    ) -> Self {
        self.risk = risk;
        self.numbers = numbers;
        self.derive(titles);
        self
    }

    fn derive(&mut self, titles: &BTreeMap<String, String>) {
        self.fix_first = fix_first(&self.findings, 5);
        let reasons = reasons(&self.findings, titles);
        self.headline = headline(&self.risk, &reasons);
        self.executive = Some(executive(self, &reasons));
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
            risk: crate::risk::assess(&[]),
            summary: SeverityCounts::default(),
            templates: 0,
            phone_numbers: 0,
            fix_first: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            numbers: Vec::new(),
            executive: None,
            optin: Vec::new(),
            diff: None,
            inventory: None,
            template_register: None,
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
            origin: f.origin,
        })
        .collect()
}

/// One plain-language reason: what it says, how bad, whose signal.
#[derive(Debug, Clone, PartialEq)]
struct Reason {
    severity: Severity,
    origin: Origin,
    count: usize,
    text: String,
}

/// Groups the unsuppressed findings (low and above) into plain-language
/// reasons, most severe first, Meta's own signals before heuristics.
/// Template findings are counted per family ("2 templates contain marketing
/// in UTILITY"); account and profile findings per rule, by the rule's title
/// ("quality rating YELLOW", "website missing").
fn reasons(findings: &[Finding], titles: &BTreeMap<String, String>) -> Vec<Reason> {
    let mut groups: BTreeMap<(String, Origin), (Severity, usize, String)> = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| !f.suppressed && f.severity >= Severity::Low)
    {
        let key = if f.check == "template.category_mismatch" {
            let declared = f
                .details
                .get("declared_category")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            let suggested = f
                .details
                .get("suggested_category")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            format!("{}|{declared}|{suggested}", f.check)
        } else if f.check.starts_with("template.") && f.origin == Origin::Heuristic {
            f.check.clone()
        } else {
            format!("rule|{}", f.rule)
        };
        let e = groups
            .entry((key, f.origin))
            .or_insert((f.severity, 0, f.check.clone()));
        e.0 = e.0.max(f.severity);
        e.1 += 1;
    }
    let mut out: Vec<Reason> = groups
        .into_iter()
        .map(|((key, origin), (severity, count, check))| Reason {
            severity,
            origin,
            count,
            text: describe(&key, &check, count, titles),
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.origin.cmp(&a.origin))
            .then(b.count.cmp(&a.count))
            .then(a.text.cmp(&b.text))
    });
    out
}

fn describe(key: &str, check: &str, n: usize, titles: &BTreeMap<String, String>) -> String {
    let s = if n == 1 { "" } else { "s" };
    if let Some(rest) = key.strip_prefix("template.category_mismatch|") {
        let (declared, suggested) = rest.split_once('|').unwrap_or((rest, "?"));
        return if suggested == "MARKETING" {
            format!(
                "{n} template{s} contain{} marketing in {declared}",
                if n == 1 { "s" } else { "" }
            )
        } else {
            format!(
                "{n} {declared} template{s} belong{} in {suggested}",
                if n == 1 { "s" } else { "" }
            )
        };
    }
    if let Some(rule) = key.strip_prefix("rule|") {
        let title = titles
            .get(rule)
            .map(|t| lower_first(t))
            .unwrap_or_else(|| rule.to_owned());
        return if n == 1 {
            title
        } else {
            format!("{title} (×{n})")
        };
    }
    match check {
        "template.restricted_content" => format!("{n} template{s} with restricted content"),
        "template.auth_format" => format!("{n} authentication-format problem{s}"),
        "template.hygiene" => format!("{n} template hygiene issue{s}"),
        "optin.coverage" => format!("{n} audience opt-in problem{s}"),
        "optin.data" => format!("{n} audience data problem{s}"),
        other => format!("{n} {other} finding{s}"),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        // Keep acronyms and codes ("WABA review", "131031") as they are.
        Some(f) if c.clone().next().is_some_and(char::is_lowercase) => {
            f.to_lowercase().chain(c).collect()
        }
        Some(f) => std::iter::once(f).chain(c).collect(),
        None => String::new(),
    }
}

/// "high risk: 2 templates contain marketing in UTILITY, quality rating YELLOW, website missing".
fn headline(risk: &Risk, reasons: &[Reason]) -> String {
    let top: Vec<&str> = reasons
        .iter()
        .filter(|r| r.severity >= Severity::Medium)
        .take(3)
        .map(|r| r.text.as_str())
        .collect();
    let stage = match risk.stage {
        Stage::Locked => "account locked; ",
        Stage::TemporaryBlock => "temporarily blocked; ",
        _ => "",
    };
    if top.is_empty() {
        format!("{} risk: {stage}no significant problems found", risk.level)
    } else {
        format!("{} risk: {stage}{}", risk.level, top.join(", "))
    }
}

fn stage_sentence(a: &AccountReport) -> String {
    let r = &a.risk;
    let ladder = r.ladder.as_ref();
    let first_evidence: Vec<String> = r
        .stage_evidence
        .iter()
        .take(2)
        .map(|e| match e.at.as_deref().and_then(|t| t.get(..10)) {
            Some(d) => format!("{} ({d})", e.text),
            None => e.text.clone(),
        })
        .collect();
    match r.stage {
        Stage::None => {
            "No enforcement signals: the account is not on Meta's enforcement ladder.".to_owned()
        }
        Stage::Warning => {
            let mut s = format!("Warning: {}.", first_evidence.join("; "));
            if let Some(l) = ladder {
                if l.position == 0 {
                    s.push_str(
                        " No block so far; the next step on Meta's ladder is a 1-day block.",
                    );
                } else {
                    s.push_str(&format!(
                        " The account has already had a {}; the next step on Meta's ladder is a {}.",
                        l.step,
                        l.next.as_deref().unwrap_or("lock")
                    ));
                }
            }
            s
        }
        Stage::TemporaryBlock | Stage::Locked => {
            let what = if r.stage == Stage::Locked {
                "Locked".to_owned()
            } else {
                match ladder.and_then(|l| l.until.as_deref()) {
                    Some(u) => format!(
                        "Temporarily blocked until {u} ({})",
                        ladder.map_or("block", |l| l.step.as_str())
                    ),
                    None => format!(
                        "Temporarily blocked ({}; end not known)",
                        ladder.map_or("block", |l| l.step.as_str())
                    ),
                }
            };
            let cause = r
                .diagnosis
                .as_ref()
                .map(|d| format!(" Cause: {}.", d.cause.words()))
                .unwrap_or_default();
            let seen = r
                .stage_evidence
                .first()
                .map(|e| format!(": {}", e.text))
                .unwrap_or_default();
            format!(
                "{what}{seen}.{cause} Run `wabaguard diagnose --account {}` for the evidence and the runbook.",
                a.name
            )
        }
    }
}

fn executive(a: &AccountReport, reasons: &[Reason]) -> ExecutiveSummary {
    let mut top_actions: Vec<Action> = Vec::new();
    if let Some(d) = &a.risk.diagnosis {
        top_actions.push(Action {
            severity: Severity::Critical,
            subject: format!("account {}", a.name),
            message: d.summary.clone(),
            remediation: format!(
                "Follow the runbook \u{201c}{}\u{201d}: {}",
                d.runbook.title,
                d.runbook
                    .steps
                    .first()
                    .map(String::as_str)
                    .unwrap_or("see `wabaguard diagnose`")
            ),
            fingerprint: String::new(),
            origin: Origin::Meta,
        });
    }
    top_actions.extend(a.fix_first.iter().cloned());
    top_actions.truncate(3);
    let list = |origin: Origin| -> Vec<String> {
        reasons
            .iter()
            .filter(|r| r.origin == origin)
            .take(5)
            .map(|r| format!("{} ({})", r.text, r.severity))
            .collect()
    };
    ExecutiveSummary {
        level: a.risk.level,
        score: a.risk.score,
        sentence: a.headline.clone(),
        stage: a.risk.stage,
        stage_sentence: stage_sentence(a),
        top_actions,
        meta_signals: list(Origin::Meta),
        heuristics: list(Origin::Heuristic),
    }
}

/// Writes a file and flushes it to disk, so that the folder renamed into
/// place after it never holds an empty or half file, even after a power cut.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A new run id: UTC time, sortable, filesystem-safe (`20261125T143600Z`).
pub fn run_id(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Writes `report.json`, `report.md`, `report.html` and `findings.csv` into
/// `reports_dir/<run-id>/`. report.html charts the history under
/// `reports_dir` (`history.jsonl`) up to and including this run.
///
/// The run folder is assembled under a temporary name and renamed into place
/// when complete, so a crash never leaves a half-written run and earlier runs
/// are never touched. If the folder name is taken (two runs in one second),
/// a suffix `-2`, `-3`, ... is added and `report.run_id` updated.
pub fn write_run(report: &mut Report, reports_dir: &Path) -> std::io::Result<PathBuf> {
    write_run_with(report, reports_dir, &[])
}

/// [`write_run`] plus extra files (path relative to the run folder, bytes),
/// written inside the temporary folder before it is renamed into place, so
/// they appear atomically with the report (e.g. `snapshots/<account>/…`).
/// A path that is absolute or climbs out with `..` is an error.
pub fn write_run_with(
    report: &mut Report,
    reports_dir: &Path,
    extra: &[(PathBuf, Vec<u8>)],
) -> std::io::Result<PathBuf> {
    for (rel, _) in extra {
        let ok = !rel.as_os_str().is_empty()
            && rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !ok {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: not a plain relative path inside the run folder",
                    rel.display()
                ),
            ));
        }
    }
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
        write_synced(&tmp.path().join("report.json"), &json::render(report)?)?;
        write_synced(
            &tmp.path().join("report.md"),
            markdown::render(report).as_bytes(),
        )?;
        let trends = trend::load(reports_dir, report);
        match html::render(report, &trends) {
            Ok(page) => write_synced(&tmp.path().join("report.html"), page.as_bytes())?,
            // A template bug must not cost the run its report.json and report.md.
            Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot render report.html"),
        }
        let csv = findings_csv::render(report).map_err(std::io::Error::other)?;
        write_synced(&tmp.path().join("findings.csv"), &csv)?;
        for (rel, bytes) in extra {
            let p = tmp.path().join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            write_synced(&p, bytes)?;
        }
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
