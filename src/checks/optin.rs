//! Opt-in checks: findings from the coverage collect computed for each
//! configured audience (`Snapshot::audiences`). Pure: no file is read here.

use crate::checks::{Finding, Severity, Subject, SubjectKind};
use crate::rulepack::{Rule, RulePack};
use crate::snapshot::Snapshot;
use crate::snapshot::optin::{AudienceCoverage, Coverage};

pub const COVERAGE_LOW: &str = "optin.coverage-low";
pub const REVOKED: &str = "optin.revoked-in-audience";
pub const INVALID_SHARE: &str = "optin.invalid-share";
pub const LEDGER_ERRORS: &str = "optin.ledger-errors";
pub const UNREADABLE: &str = "optin.unreadable";

/// Thresholds from the config's `[optin]` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptinPolicy {
    /// Coverage below this is a high finding.
    pub high_below: f64,
    /// Coverage below this is a critical finding.
    pub critical_below: f64,
    /// A share of invalid rows above this is a finding.
    pub invalid_above: f64,
}

impl Default for OptinPolicy {
    fn default() -> Self {
        OptinPolicy {
            high_below: 0.99,
            critical_below: 0.95,
            invalid_above: 0.05,
        }
    }
}

/// Findings for every audience of the snapshot.
pub fn check(
    snapshot: &Snapshot,
    pack: &RulePack,
    policy: &OptinPolicy,
    scope: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in &snapshot.audiences {
        audience(a, pack, policy, scope, &mut out);
    }
    out
}

fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p > 99.99 && p < 100.0 {
        "99.99%".to_owned()
    } else {
        format!("{p:.2}%")
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn finding(
    rule: &Rule,
    severity: Severity,
    a: &AudienceCoverage,
    scope: &str,
    message: String,
) -> Finding {
    Finding::new(
        &rule.def.family,
        &rule.def.id,
        severity,
        Subject::new(SubjectKind::Audience).with_name(&a.name),
        message,
    )
    .remediation(rule.def.remediation.trim())
    .fingerprinted(scope)
}

fn counts(f: Finding, c: &Coverage) -> Finding {
    f.detail("total", c.total)
        .detail("invalid", c.invalid)
        .detail("unique", c.unique)
        .detail("covered", c.covered)
        .detail("stale", c.stale)
        .detail("revoked", c.revoked)
        .detail("missing", c.missing)
        .detail("coverage", c.coverage)
}

fn audience(
    a: &AudienceCoverage,
    pack: &RulePack,
    policy: &OptinPolicy,
    scope: &str,
    out: &mut Vec<Finding>,
) {
    let Some(c) = &a.coverage else {
        if let Some(rule) = pack.enabled(UNREADABLE) {
            let error = a.error.as_deref().unwrap_or("unknown error");
            out.push(
                finding(
                    rule,
                    rule.severity,
                    a,
                    scope,
                    format!(
                        "opt-in coverage of audience `{}` could not be computed",
                        a.name
                    ),
                )
                .evidence(error),
            );
        }
        return;
    };

    if let Some(rule) = pack.enabled(COVERAGE_LOW) {
        // The [optin] thresholds decide, unless [rules] overrides the severity.
        let severity = if rule.severity != rule.def.severity {
            Some(rule.severity).filter(|_| c.coverage < policy.high_below)
        } else if c.coverage < policy.critical_below {
            Some(Severity::Critical)
        } else if c.coverage < policy.high_below {
            Some(Severity::High)
        } else {
            None
        };
        if let Some(sev) = severity.filter(|_| c.unique > 0) {
            let uncovered = c.unique - c.covered;
            let message = format!(
                "{} of {} numbers in audience `{}` lack valid opt-in (coverage {}, below {}): {} never opted in, {} opted out, {} opted in more than {} days ago",
                uncovered,
                c.unique,
                a.name,
                pct(c.coverage),
                pct(if sev == Severity::Critical {
                    policy.critical_below
                } else {
                    policy.high_below
                }),
                c.missing,
                c.revoked,
                c.stale,
                c.max_age_days
            );
            out.push(counts(finding(rule, sev, a, scope, message), c));
        }
    }

    if c.revoked > 0 {
        if let Some(rule) = pack.enabled(REVOKED) {
            let message = format!(
                "audience `{}` contains {} number{} whose latest consent event is an opt-out",
                a.name,
                c.revoked,
                if c.revoked == 1 { "" } else { "s" }
            );
            out.push(counts(finding(rule, rule.severity, a, scope, message), c));
        }
    }

    let invalid_share = share(c.invalid, c.total);
    if invalid_share > policy.invalid_above {
        if let Some(rule) = pack.enabled(INVALID_SHARE) {
            let message = format!(
                "{} of {} rows in audience `{}` ({}) have no valid phone number for region {}",
                c.invalid,
                c.total,
                a.name,
                pct(invalid_share),
                c.region
            );
            out.push(counts(finding(rule, rule.severity, a, scope, message), c));
        }
    }

    if c.ledger_errors > 0 {
        if let Some(rule) = pack.enabled(LEDGER_ERRORS) {
            let message = format!(
                "{} of {} rows in the consent ledger of audience `{}` cannot be read and are ignored",
                c.ledger_errors, c.ledger_rows, a.name
            );
            let evidence = c
                .ledger_error_samples
                .iter()
                .map(|i| format!("line {}: {}", i.line, i.reason))
                .collect::<Vec<_>>()
                .join("; ");
            let mut f = finding(rule, rule.severity, a, scope, message)
                .detail("ledger_rows", c.ledger_rows)
                .detail("ledger_errors", c.ledger_errors);
            if !evidence.is_empty() {
                f = f.evidence(evidence);
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::optin::RowIssue;

    fn snap(c: Option<Coverage>, error: Option<&str>) -> Snapshot {
        Snapshot {
            account: "acme".into(),
            audiences: vec![AudienceCoverage {
                name: "black_friday".into(),
                file: "a.csv".into(),
                consent: "l.csv".into(),
                coverage: c,
                error: error.map(str::to_owned),
            }],
            ..Snapshot::default()
        }
    }

    fn cov(unique: u64, covered: u64, stale: u64, revoked: u64) -> Coverage {
        Coverage {
            total: unique,
            unique,
            covered,
            stale,
            revoked,
            missing: unique - covered - stale - revoked,
            coverage: covered as f64 / unique as f64,
            max_age_days: 365,
            region: "US".into(),
            ..Coverage::default()
        }
    }

    fn run(s: &Snapshot) -> Vec<Finding> {
        let pack = RulePack::builtin().unwrap();
        check(s, &pack, &OptinPolicy::default(), "waba")
    }

    fn rules(fs: &[Finding]) -> Vec<(&str, Severity)> {
        fs.iter().map(|f| (f.rule.as_str(), f.severity)).collect()
    }

    #[test]
    fn coverage_low_severity_follows_the_thresholds() {
        assert_eq!(rules(&run(&snap(Some(cov(1000, 1000, 0, 0)), None))), []);
        assert_eq!(rules(&run(&snap(Some(cov(1000, 990, 10, 0)), None))), []);
        assert_eq!(
            rules(&run(&snap(Some(cov(1000, 989, 11, 0)), None))),
            [(COVERAGE_LOW, Severity::High)]
        );
        assert_eq!(
            rules(&run(&snap(Some(cov(1000, 950, 50, 0)), None))),
            [(COVERAGE_LOW, Severity::High)]
        );
        assert_eq!(
            rules(&run(&snap(Some(cov(1000, 949, 51, 0)), None))),
            [(COVERAGE_LOW, Severity::Critical)]
        );
        let f = &run(&snap(Some(cov(1000, 900, 40, 0)), None))[0];
        assert!(f.message.contains("100 of 1000"), "{}", f.message);
        assert_eq!(f.subject.kind, SubjectKind::Audience);
        assert_eq!(f.details["covered"], 900);
    }

    #[test]
    fn an_empty_audience_has_no_coverage_finding() {
        assert_eq!(rules(&run(&snap(Some(Coverage::default()), None))), []);
    }

    #[test]
    fn revoked_numbers_are_their_own_finding() {
        let fs = run(&snap(Some(cov(1000, 995, 0, 5)), None));
        assert_eq!(rules(&fs), [(REVOKED, Severity::High)]);
        assert!(fs[0].message.contains("5 numbers"), "{}", fs[0].message);
    }

    #[test]
    fn invalid_share_above_the_threshold() {
        let mut c = cov(1000, 1000, 0, 0);
        c.total = 1060;
        c.invalid = 60;
        assert_eq!(
            rules(&run(&snap(Some(c.clone()), None))),
            [(INVALID_SHARE, Severity::Medium)]
        );
        c.invalid = 50;
        c.total = 1050;
        assert_eq!(rules(&run(&snap(Some(c), None))), []);
    }

    #[test]
    fn ledger_errors_cite_the_lines() {
        let mut c = cov(10, 10, 0, 0);
        c.ledger_rows = 30;
        c.ledger_errors = 2;
        c.ledger_error_samples = vec![
            RowIssue {
                line: 7,
                reason: "unknown event `subscribe`".into(),
            },
            RowIssue {
                line: 9,
                reason: "unparseable timestamp `yesterday`".into(),
            },
        ];
        let fs = run(&snap(Some(c), None));
        assert_eq!(rules(&fs), [(LEDGER_ERRORS, Severity::Low)]);
        assert_eq!(
            fs[0].evidence.as_deref(),
            Some("line 7: unknown event `subscribe`; line 9: unparseable timestamp `yesterday`")
        );
    }

    #[test]
    fn unreadable_audience_is_a_finding_not_a_crash() {
        let fs = run(&snap(None, Some("a.csv, line 1 (header): no phone column")));
        assert_eq!(rules(&fs), [(UNREADABLE, Severity::High)]);
        assert_eq!(
            fs[0].evidence.as_deref(),
            Some("a.csv, line 1 (header): no phone column")
        );
    }

    #[test]
    fn fingerprints_depend_on_audience_name_not_numbers() {
        let a = &run(&snap(Some(cov(1000, 900, 0, 0)), None))[0];
        let b = &run(&snap(Some(cov(2000, 1500, 0, 0)), None))[0];
        assert_eq!(a.fingerprint, b.fingerprint);
    }

    #[test]
    fn every_optin_rule_is_in_the_pack() {
        let pack = RulePack::builtin().unwrap();
        for id in [
            COVERAGE_LOW,
            REVOKED,
            INVALID_SHARE,
            LEDGER_ERRORS,
            UNREADABLE,
        ] {
            let r = pack.rule(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(r.def.kind, crate::rulepack::RuleKind::Builtin);
            assert!(r.def.family.starts_with("optin."));
        }
    }
}
