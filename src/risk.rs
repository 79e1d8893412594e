//! Risk: folding an account's findings into a 0–100 lock-risk score and a level.
//!
//! The formula (README, "How the risk score works"):
//! 1. every unsuppressed finding has a weight by severity —
//!    critical 0.45, high 0.20, medium 0.07, low 0.02, info 0;
//! 2. findings of one check family combine like independent chances,
//!    `family = 1 − Π(1 − wᵢ)`, capped per family (template hygiene at 0.30,
//!    everything else at 0.90) so that forty small formatting issues never
//!    outweigh one real policy problem;
//! 3. families combine the same way: `score = 100 × (1 − Π(1 − family))`;
//! 4. level: ≥ 75 critical, ≥ 50 high, ≥ 25 medium, else low — but never
//!    below `high` when a critical finding exists, never below `medium` when
//!    a high one does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding that explains the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub check: String,
    pub rule: String,
    pub severity: Severity,
    pub subject: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub score: u8,
    pub level: Level,
    /// The top findings behind the score, most important first.
    #[serde(default)]
    pub drivers: Vec<Driver>,
}

pub fn severity_weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 0.45,
        Severity::High => 0.20,
        Severity::Medium => 0.07,
        Severity::Low => 0.02,
        Severity::Info => 0.0,
    }
}

fn family_cap(check: &str) -> f64 {
    if check == "template.hygiene" {
        0.30
    } else {
        0.90
    }
}

/// Scores an account's findings.
pub fn assess(findings: &[Finding]) -> Risk {
    let mut fam: BTreeMap<&str, f64> = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.suppressed) {
        let w = severity_weight(f.severity);
        let keep = fam.entry(f.check.as_str()).or_insert(1.0);
        *keep *= 1.0 - w;
    }
    let mut keep_all = 1.0;
    for (check, keep) in &fam {
        let p = (1.0 - keep).min(family_cap(check));
        keep_all *= 1.0 - p;
    }
    let score = (100.0 * (1.0 - keep_all)).round().clamp(0.0, 100.0) as u8;
    let mut level = match score {
        75.. => Level::Critical,
        50..=74 => Level::High,
        25..=49 => Level::Medium,
        _ => Level::Low,
    };
    let worst = findings
        .iter()
        .filter(|f| !f.suppressed)
        .map(|f| f.severity)
        .max();
    match worst {
        Some(Severity::Critical) => level = level.max(Level::High),
        Some(Severity::High) => level = level.max(Level::Medium),
        _ => {}
    }
    Risk {
        score,
        level,
        drivers: drivers(findings, 5),
    }
}

/// The top `n` unsuppressed findings by severity, then meta signals first,
/// then check family, at most two per family so the list stays varied.
pub fn drivers(findings: &[Finding], n: usize) -> Vec<Driver> {
    let mut v: Vec<&Finding> = findings
        .iter()
        .filter(|f| !f.suppressed && f.severity > Severity::Info)
        .collect();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.origin.cmp(&a.origin))
            .then(a.check.cmp(&b.check))
            .then(a.subject.cmp(&b.subject))
    });
    let mut per_family: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for f in v {
        let c = per_family.entry(f.check.as_str()).or_insert(0);
        if *c >= 2 {
            continue;
        }
        *c += 1;
        out.push(Driver {
            check: f.check.clone(),
            rule: f.rule.clone(),
            severity: f.severity,
            subject: f.subject.label(),
            fingerprint: f.fingerprint.clone(),
        });
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Subject, SubjectKind};

    fn f(check: &str, sev: Severity) -> Finding {
        Finding::new(check, "r", sev, Subject::new(SubjectKind::Account), "m")
    }

    #[test]
    fn empty_is_low_zero() {
        let r = assess(&[]);
        assert_eq!((r.score, r.level), (0, Level::Low));
    }

    #[test]
    fn one_critical_is_at_least_high() {
        let r = assess(&[f("template.restricted_content", Severity::Critical)]);
        assert_eq!(r.score, 45);
        assert_eq!(r.level, Level::High);
    }

    #[test]
    fn hygiene_is_capped() {
        let many: Vec<Finding> = (0..40)
            .map(|_| f("template.hygiene", Severity::Medium))
            .collect();
        let r = assess(&many);
        assert_eq!(r.score, 30);
        assert_eq!(r.level, Level::Medium);
    }

    #[test]
    fn families_combine() {
        let r = assess(&[
            f("template.category_mismatch", Severity::High),
            f("template.category_mismatch", Severity::High),
            f("template.restricted_content", Severity::Critical),
        ]);
        // 1 - (0.8*0.8) = 0.36 ; 1 - 0.64*0.55 = 0.648
        assert_eq!(r.score, 65);
        assert_eq!(r.level, Level::High);
        assert_eq!(r.drivers[0].severity, Severity::Critical);
    }

    #[test]
    fn suppressed_findings_do_not_count() {
        let mut x = f("template.restricted_content", Severity::Critical);
        x.suppressed = true;
        assert_eq!(assess(&[x]).score, 0);
    }
}
