//! Checks: pure functions from a [`Snapshot`] (plus rules and settings) to
//! [`Finding`]s. No I/O happens here.
//!
//! One module per family; [`run_all`] is the registry every entry point uses.

mod finding;
pub mod optin;
pub mod templates;

pub use finding::*;

use crate::rulepack::RulePack;
use crate::snapshot::Snapshot;

/// What every check may read besides the snapshot.
pub struct CheckContext<'a> {
    pub pack: &'a RulePack,
    /// Mask phone numbers in messages and evidence.
    pub mask_phones: bool,
    /// `[optin]` thresholds.
    pub optin: optin::OptinPolicy,
}

/// Runs every check family on one snapshot. Findings come back sorted.
pub fn run_all(snapshot: &Snapshot, ctx: &CheckContext<'_>) -> Vec<Finding> {
    let verticals = snapshot.verticals();
    let scope = scope_of(snapshot);
    let tctx = templates::TemplateContext {
        pack: ctx.pack,
        scope: &scope,
        verticals: &verticals,
    };
    let mut out: Vec<Finding> = snapshot
        .templates
        .iter()
        .flat_map(|t| templates::lint_template(t, &tctx))
        .collect();
    out.extend(optin::check(snapshot, ctx.pack, &ctx.optin, &scope));
    sort_findings(&mut out);
    out
}

/// The fingerprint scope of an account: its WABA id, else its name.
pub fn scope_of(snapshot: &Snapshot) -> String {
    if snapshot.waba_id.is_empty() {
        snapshot.account.clone()
    } else {
        snapshot.waba_id.clone()
    }
}
