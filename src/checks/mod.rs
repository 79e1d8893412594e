//! Checks: pure functions from a [`Snapshot`] (plus rules and settings) to
//! [`Finding`]s. No I/O happens here.
//!
//! One module per family; [`run_all`] is the registry every entry point uses.

pub mod account;
mod finding;
pub mod optin;
pub mod optout;
pub mod profile;
pub mod register;
pub mod signal_examples;
pub mod templates;

pub use finding::*;

use chrono::{DateTime, Utc};

use crate::rulepack::{Rule, RulePack};
use crate::snapshot::{NumberState, Snapshot};

/// What every check may read besides the snapshot.
pub struct CheckContext<'a> {
    pub pack: &'a RulePack,
    /// Mask phone numbers in messages and evidence.
    pub mask_phones: bool,
    /// The time windows and expiries are measured against (injected, so tests
    /// use fixed times).
    pub now: DateTime<Utc>,
    /// This account's per-number state from the previous run, if there is one.
    pub previous_numbers: Option<&'a [NumberState]>,
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
    let mut em = RuleEmitter::new(ctx.pack, &scope);
    profile::check(snapshot, ctx, &mut em);
    account::check(snapshot, ctx, &mut em);
    out.extend(em.out);
    out.extend(optin::check(snapshot, ctx.pack, &ctx.optin, &scope));
    out.extend(optout::check(snapshot, ctx.pack, ctx.mask_phones, &scope));
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

/// Emits findings of builtin rules: looks the rule up (disabled rules emit
/// nothing), applies its configured severity and remediation, fingerprints.
pub struct RuleEmitter<'a> {
    pub pack: &'a RulePack,
    pub scope: &'a str,
    pub out: Vec<Finding>,
}

impl<'a> RuleEmitter<'a> {
    pub fn new(pack: &'a RulePack, scope: &'a str) -> Self {
        RuleEmitter {
            pack,
            scope,
            out: Vec::new(),
        }
    }

    /// The rule, if it exists and is enabled.
    pub fn rule(&self, id: &str) -> Option<&'a Rule> {
        self.pack.enabled(id)
    }

    /// Emits a finding of rule `id` about `subject`, if the rule is enabled.
    pub fn emit(&mut self, id: &str, subject: Subject, message: String) -> Option<&mut Finding> {
        let rule = self.pack.enabled(id)?;
        let f = Finding::new(
            &rule.def.family,
            &rule.def.id,
            rule.severity,
            subject,
            message,
        )
        .remediation(rule.def.remediation.trim())
        .fingerprinted(self.scope);
        self.out.push(f);
        self.out.last_mut()
    }

    /// An integer parameter of a rule (`params = { ... }`), or `default`.
    pub fn param_i64(&self, id: &str, key: &str, default: i64) -> i64 {
        self.pack
            .rule(id)
            .and_then(|r| r.def.params.get(key))
            .and_then(toml::Value::as_integer)
            .unwrap_or(default)
    }

    /// A number parameter of a rule, or `default`.
    pub fn param_f64(&self, id: &str, key: &str, default: f64) -> f64 {
        self.pack
            .rule(id)
            .and_then(|r| r.def.params.get(key))
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .unwrap_or(default)
    }

    /// A list-of-strings parameter of a rule (lower-cased), or empty.
    pub fn param_strs(&self, id: &str, key: &str) -> Vec<String> {
        self.pack
            .rule(id)
            .and_then(|r| r.def.params.get(key))
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(toml::Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    }
}
