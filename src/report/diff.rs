//! Run-to-run diff: each audited account compared with the previous run in
//! which it was audited — findings `new`, `resolved` and `unchanged` (by
//! fingerprint), and the change of score, level and stage.
//!
//! Earlier reports are read leniently (as JSON values), so a report written
//! by an older version still serves as the previous run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AccountStatus, Report};
use crate::checks::{Finding, Severity, Subject};
use crate::risk::{Level, Stage};

/// One finding in a diff, compact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffEntry {
    pub fingerprint: String,
    pub rule: String,
    pub severity: Severity,
    /// `template order_update (en_US)`.
    pub subject: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppressed: bool,
}

impl DiffEntry {
    fn of(f: &Finding) -> Self {
        DiffEntry {
            fingerprint: f.fingerprint.clone(),
            rule: f.rule.clone(),
            severity: f.severity,
            subject: f.subject.label(),
            message: f.message.clone(),
            suppressed: f.suppressed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub previous: T,
    pub current: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub previous: u8,
    pub current: u8,
    /// `current − previous`.
    pub change: i16,
}

/// An account compared with its previous run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountDiff {
    /// The run compared with.
    pub previous_run: String,
    pub previous_generated_at: String,
    pub score: ScoreChange,
    pub level: Change<Level>,
    pub stage: Change<Stage>,
    /// The level or the stage is worse than in the previous run.
    pub worsened: bool,
    /// In this run, not in the previous one (report order).
    pub new: Vec<DiffEntry>,
    /// In the previous run, not in this one.
    pub resolved: Vec<DiffEntry>,
    /// In both.
    pub unchanged: Vec<DiffEntry>,
}

impl AccountDiff {
    /// New findings that count (not suppressed).
    pub fn new_counted(&self) -> impl Iterator<Item = &DiffEntry> {
        self.new.iter().filter(|e| !e.suppressed)
    }
}

/// What the diff needs from a previous run's account section.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousAccount {
    pub run_id: String,
    pub generated_at: String,
    pub score: u8,
    pub level: Level,
    pub stage: Stage,
    pub findings: Vec<DiffEntry>,
    /// When each of its findings (by fingerprint) was first seen: the
    /// finding's `first_seen`, or — in a report written before first_seen
    /// was tracked — that run's `generated_at` (seen at least since then).
    pub first_seen: HashMap<String, String>,
}

/// How many earlier run folders are read at most to find an account's
/// previous run (an account that failed in the last runs).
const LOOKBACK: usize = 30;

/// For each of `names`, its section in the newest run under `reports_dir`
/// in which it was audited.
pub fn previous_accounts(reports_dir: &Path, names: &[&str]) -> BTreeMap<String, PreviousAccount> {
    let mut out = BTreeMap::new();
    let mut runs = super::previous::run_folders(reports_dir);
    runs.reverse();
    for (run, dir) in runs.into_iter().take(LOOKBACK) {
        if out.len() == names.len() {
            break;
        }
        let Ok(bytes) = std::fs::read(dir.join("report.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            tracing::warn!(run = %run, "previous report.json is not valid JSON; skipped");
            continue;
        };
        let generated_at = v["generated_at"].as_str().unwrap_or_default().to_owned();
        for a in v["accounts"].as_array().into_iter().flatten() {
            let Some(name) = a["name"].as_str() else {
                continue;
            };
            if !names.contains(&name) || out.contains_key(name) {
                continue;
            }
            if a["status"].as_str() != Some("audited") {
                continue;
            }
            if let Some(p) = previous_account(&run, &generated_at, a) {
                out.insert(name.to_owned(), p);
            }
        }
    }
    out
}

fn previous_account(run: &str, generated_at: &str, a: &Value) -> Option<PreviousAccount> {
    let risk = &a["risk"];
    let findings = a["findings"]
        .as_array()
        .map(|fs| fs.iter().filter_map(previous_finding).collect())
        .unwrap_or_default();
    let first_seen = a["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let fp = f["fingerprint"].as_str()?;
            let seen = f["first_seen"].as_str().unwrap_or(generated_at);
            Some((fp.to_owned(), seen.to_owned()))
        })
        .collect();
    Some(PreviousAccount {
        run_id: run.to_owned(),
        generated_at: generated_at.to_owned(),
        score: u8::try_from(risk["score"].as_u64()?).ok()?,
        level: serde_json::from_value(risk["level"].clone()).ok()?,
        stage: serde_json::from_value(risk["stage"].clone()).unwrap_or_default(),
        findings,
        first_seen,
    })
}

fn previous_finding(f: &Value) -> Option<DiffEntry> {
    Some(DiffEntry {
        fingerprint: f["fingerprint"].as_str()?.to_owned(),
        rule: f["rule"].as_str().unwrap_or_default().to_owned(),
        severity: serde_json::from_value(f["severity"].clone()).ok()?,
        subject: serde_json::from_value::<Subject>(f["subject"].clone())
            .map(|s| s.label())
            .unwrap_or_default(),
        message: f["message"].as_str().unwrap_or_default().to_owned(),
        suppressed: f["suppressed"].as_bool().unwrap_or(false),
    })
}

/// Compares an account's findings and risk with its previous run.
pub fn diff(
    findings: &[Finding],
    score: u8,
    level: Level,
    stage: Stage,
    prev: &PreviousAccount,
) -> AccountDiff {
    let before: HashSet<&str> = prev
        .findings
        .iter()
        .map(|e| e.fingerprint.as_str())
        .collect();
    let now: HashSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let (mut new, mut unchanged) = (Vec::new(), Vec::new());
    for f in findings {
        if before.contains(f.fingerprint.as_str()) {
            unchanged.push(DiffEntry::of(f));
        } else {
            new.push(DiffEntry::of(f));
        }
    }
    let resolved = prev
        .findings
        .iter()
        .filter(|e| !now.contains(e.fingerprint.as_str()))
        .cloned()
        .collect();
    AccountDiff {
        previous_run: prev.run_id.clone(),
        previous_generated_at: prev.generated_at.clone(),
        score: ScoreChange {
            previous: prev.score,
            current: score,
            change: i16::from(score) - i16::from(prev.score),
        },
        level: Change {
            previous: prev.level,
            current: level,
        },
        stage: Change {
            previous: prev.stage,
            current: stage,
        },
        worsened: level > prev.level || stage > prev.stage,
        new,
        resolved,
        unchanged,
    }
}

/// Sets `diff` on every audited account of `report` that was audited in an
/// earlier run under `reports_dir` (accounts seen for the first time get
/// none), and `first_seen` on every finding: carried forward from the
/// previous run when it reported the same fingerprint, else this run's time.
pub fn attach(report: &mut Report, reports_dir: &Path) {
    let names: Vec<String> = report
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .map(|a| a.name.clone())
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let prev = previous_accounts(reports_dir, &refs);
    for a in report
        .accounts
        .iter_mut()
        .filter(|a| a.status == AccountStatus::Audited)
    {
        let p = prev.get(&a.name);
        for f in &mut a.findings {
            f.first_seen = Some(
                p.and_then(|p| p.first_seen.get(&f.fingerprint))
                    .unwrap_or(&report.generated_at)
                    .clone(),
            );
        }
        a.diff = p.map(|p| diff(&a.findings, a.risk.score, a.risk.level, a.risk.stage, p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::SubjectKind;

    fn f(rule: &str, name: &str, sev: Severity) -> Finding {
        Finding::new(
            "template.hygiene",
            rule,
            sev,
            Subject::template(None, name, "en_US"),
            format!("{rule} on {name}"),
        )
        .fingerprinted("w")
    }

    #[test]
    fn new_resolved_and_unchanged_by_fingerprint() {
        let a = f("r1", "a", Severity::High);
        let b = f("r2", "b", Severity::Low);
        let c = f("r3", "c", Severity::Critical);
        let prev = PreviousAccount {
            run_id: "20261124T020000Z".into(),
            generated_at: "2026-11-24T02:00:00Z".into(),
            score: 40,
            level: Level::Medium,
            stage: Stage::None,
            findings: vec![DiffEntry::of(&a), DiffEntry::of(&b)],
            first_seen: HashMap::new(),
        };
        // Same rule and subject, reworded and re-severitied: still unchanged.
        let mut a2 = a.clone();
        a2.message = "reworded".into();
        let d = diff(&[c.clone(), a2], 63, Level::High, Stage::Warning, &prev);
        let fps = |v: &[DiffEntry]| v.iter().map(|e| e.fingerprint.clone()).collect::<Vec<_>>();
        assert_eq!(fps(&d.new), [c.fingerprint.as_str()]);
        assert_eq!(fps(&d.resolved), [b.fingerprint.as_str()]);
        assert_eq!(fps(&d.unchanged), [a.fingerprint.as_str()]);
        assert_eq!(d.score.change, 23);
        assert_eq!(d.level.previous, Level::Medium);
        assert!(d.worsened);
        assert_eq!(d.previous_run, "20261124T020000Z");
        let same = diff(&[], 10, Level::Low, Stage::None, &prev);
        assert!(!same.worsened);
        assert_eq!(same.score.change, -30);
        assert_eq!(same.resolved.len(), 2);
    }

    #[test]
    fn previous_run_is_the_newest_where_the_account_was_audited() {
        let d = tempfile::tempdir().unwrap();
        let write = |run: &str, v: Value| {
            std::fs::create_dir_all(d.path().join(run)).unwrap();
            std::fs::write(
                d.path().join(run).join("report.json"),
                serde_json::to_vec(&v).unwrap(),
            )
            .unwrap();
        };
        let sub = serde_json::to_value(Subject::new(SubjectKind::Account).with_id("1")).unwrap();
        write(
            "20261123T020000Z",
            serde_json::json!({"generated_at": "2026-11-23T02:00:00Z", "accounts": [
                {"name": "a", "status": "audited", "risk": {"score": 30, "level": "medium", "stage": "warning"},
                 "findings": [{"fingerprint": "00000000000000aa", "rule": "r", "severity": "high", "subject": sub, "message": "m"}]},
                {"name": "b", "status": "audited", "risk": {"score": 5, "level": "low"}, "findings": []}
            ]}),
        );
        write(
            "20261124T020000Z",
            serde_json::json!({"generated_at": "2026-11-24T02:00:00Z", "accounts": [
                {"name": "a", "status": "failed", "risk": {"score": 0, "level": "low"}, "findings": []},
                {"name": "b", "status": "audited", "risk": {"score": 9, "level": "low"}, "findings": []}
            ]}),
        );
        std::fs::create_dir_all(d.path().join(".20261125T020000Z-x.partial")).unwrap();
        let p = previous_accounts(d.path(), &["a", "b", "c"]);
        assert_eq!(p["a"].run_id, "20261123T020000Z");
        assert_eq!(p["a"].stage, Stage::Warning);
        assert_eq!(p["a"].findings[0].subject, "account 1");
        assert_eq!(p["b"].run_id, "20261124T020000Z");
        assert_eq!(p["b"].score, 9);
        assert!(!p.contains_key("c"));
    }
}
