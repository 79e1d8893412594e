//! `optin.unrecorded-optout`: opt-out requests (in-chat replies, opt-out
//! buttons, error 131050) that the consent ledger lacks. Pure: the requests
//! were found and matched by collect (`collect::optout`) into
//! `Snapshot::optouts`. One finding per consent ledger, never one per person.

use crate::checks::{Finding, Subject, SubjectKind};
use crate::rulepack::RulePack;
use crate::snapshot::Snapshot;
use crate::snapshot::optout::OptoutAudit;

pub const UNRECORDED: &str = "optin.unrecorded-optout";

/// Findings for every opt-out audit of the snapshot.
pub fn check(snapshot: &Snapshot, pack: &RulePack, mask: bool, scope: &str) -> Vec<Finding> {
    snapshot
        .optouts
        .iter()
        .filter_map(|a| finding(a, pack, mask, scope))
        .collect()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn finding(a: &OptoutAudit, pack: &RulePack, mask: bool, scope: &str) -> Option<Finding> {
    let subject = Subject::new(SubjectKind::Audience).with_name(&a.audience);
    if let Some(e) = &a.error {
        let rule = pack.enabled(super::optin::UNREADABLE)?;
        return Some(
            Finding::new(
                &rule.def.family,
                &rule.def.id,
                rule.severity,
                subject,
                format!(
                    "opt-out replies of audience `{}` could not be checked against its consent ledger",
                    a.audience
                ),
            )
            .remediation(rule.def.remediation.trim())
            .evidence(e)
            .fingerprinted(scope),
        );
    }
    if a.unrecorded == 0 {
        return None;
    }
    let rule = pack.enabled(UNRECORDED)?;
    let mut kinds = Vec::new();
    for (id, what) in [
        ("optout.keyword", "keyword replies"),
        ("optout.request", "written requests"),
        ("optout.button-payload", "opt-out button taps"),
        (crate::collect::optout::RULE_131050, "131050 errors"),
    ] {
        if let Some(n) = a.by_rule.get(id).filter(|n| **n > 0) {
            kinds.push(format!("{n} {what}"));
        }
    }
    let shown: Vec<String> = a
        .samples
        .iter()
        .map(|s| {
            format!(
                "{} on {} ({}: \"{}\")",
                crate::mask::phone(&s.phone, mask),
                s.at.get(..10).unwrap_or(&s.at),
                s.source,
                s.evidence
            )
        })
        .collect();
    let more = a.unrecorded.saturating_sub(shown.len() as u64);
    let message = format!(
        "{} asked to stop ({} found: {}) but consent ledger `{}` of audience `{}` lacks {}: they still count as opted in",
        plural(a.unrecorded_numbers, "number", "numbers"),
        a.detected,
        kinds.join(", "),
        a.consent,
        a.audience,
        plural(a.unrecorded, "opt_out row", "opt_out rows"),
    );
    let mut evidence = shown.join("; ");
    if more > 0 {
        evidence.push_str(&format!("; and {more} more"));
    }
    Some(
        Finding::new(
            &rule.def.family,
            &rule.def.id,
            rule.severity,
            subject,
            message,
        )
        .remediation(rule.def.remediation.trim())
        .evidence(evidence)
        .detail("detected", a.detected)
        .detail("numbers", a.numbers)
        .detail("unrecorded_numbers", a.unrecorded_numbers)
        .detail("unrecorded", a.unrecorded)
        .detail("messages", a.messages)
        .detail("bad_lines", a.bad_lines)
        .fingerprinted(scope),
    )
}
