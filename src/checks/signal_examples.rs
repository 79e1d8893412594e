//! Runs the examples of the profile and account rules (like ruff's per-rule
//! fixtures): each example is a miniature exports folder written as one JSON
//! object, checked at a fixed time ([`EXAMPLE_NOW`]). Positives must produce a
//! finding of the rule, negatives must not.
//!
//! Keys: `waba` (waba.json), `phone_numbers` (a list, or a Graph page),
//! `business_profile` (phone number id → profile), `events` (webhook
//! envelopes, as lines of events.jsonl), `send_log` (CSV lines, header
//! first), `two_step` (the config's `[accounts.two_step]`),
//! `previous_numbers` (the previous run's per-number state), `templates`
//! (Graph API template objects) and `register` (the template register as
//! the previous run left it).

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use super::{CheckContext, Finding, RuleEmitter};
use crate::rulepack::{RuleKind, RulePack};
use crate::snapshot::{BusinessProfile, NumberState, PhoneNumber, Snapshot, TwoStep, Waba};

/// The time every example runs at: 2026-11-25T00:00:00Z.
pub fn example_now() -> DateTime<Utc> {
    Utc.timestamp_opt(EXAMPLE_NOW, 0)
        .single()
        .unwrap_or_default()
}

/// 2026-11-25T00:00:00Z as unix seconds.
pub const EXAMPLE_NOW: i64 = 1_795_564_800;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Example {
    #[serde(default)]
    waba: Option<Waba>,
    #[serde(default)]
    phone_numbers: Option<serde_json::Value>,
    #[serde(default)]
    business_profile: std::collections::BTreeMap<String, BusinessProfile>,
    #[serde(default)]
    events: Vec<serde_json::Value>,
    #[serde(default)]
    send_log: Vec<String>,
    #[serde(default)]
    two_step: Option<TwoStep>,
    #[serde(default)]
    previous_numbers: Option<Vec<NumberState>>,
    /// Graph API template objects (a list, or a Graph page).
    #[serde(default)]
    templates: Option<serde_json::Value>,
    /// The template register as the previous run left it.
    #[serde(default)]
    register: Option<crate::report::register::TemplateRegister>,
}

/// Builds the snapshot (and previous-run state) an example describes.
pub fn example_snapshot(json: &str) -> Result<(Snapshot, Option<Vec<NumberState>>), String> {
    example_state(json).map(|(s, p, _)| (s, p))
}

type ExampleState = (
    Snapshot,
    Option<Vec<NumberState>>,
    Option<crate::report::register::TemplateRegister>,
);

/// The snapshot, previous per-number state and previous register of an example.
fn example_state(json: &str) -> Result<ExampleState, String> {
    let ex: Example = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut snap = Snapshot {
        account: "example".into(),
        waba_id: ex
            .waba
            .as_ref()
            .and_then(|w| w.id.clone())
            .unwrap_or_else(|| "1".into()),
        waba: ex.waba,
        profiles: ex.business_profile,
        two_step: ex.two_step,
        ..Snapshot::default()
    };
    if let Some(v) = ex.phone_numbers {
        let list = match v {
            serde_json::Value::Object(mut m) => m.remove("data").unwrap_or_default(),
            other => other,
        };
        snap.phone_numbers =
            serde_json::from_value::<Vec<PhoneNumber>>(list).map_err(|e| e.to_string())?;
    }
    if let Some(v) = ex.templates {
        let list = match v {
            serde_json::Value::Object(mut m) => m.remove("data").unwrap_or_default(),
            other => other,
        };
        snap.templates = serde_json::from_value(list).map_err(|e| e.to_string())?;
    }
    if !ex.events.is_empty() {
        let text: String = ex.events.iter().map(|e| format!("{e}\n")).collect();
        let (events, rep) =
            crate::collect::events::parse_events(text.as_bytes()).map_err(|e| e.to_string())?;
        if let Some((line, msg)) = rep.broken.first() {
            return Err(format!("event {line}: {msg}"));
        }
        snap.events = events;
    }
    if !ex.send_log.is_empty() {
        let text = ex.send_log.join("\n");
        let read = crate::collect::send_log::parse_csv(text.as_bytes())?;
        if let Some(n) = read.note() {
            return Err(n);
        }
        let mut stats = read.stats;
        stats.file = "send_log.csv".into();
        snap.send_stats = Some(stats);
    }
    Ok((snap, ex.previous_numbers, ex.register))
}

/// Runs the profile and account checks on an example.
pub fn run_example(pack: &RulePack, json: &str) -> Result<Vec<Finding>, String> {
    let (snap, prev, register) = example_state(json)?;
    let ctx = CheckContext {
        pack,
        mask_phones: true,
        now: example_now(),
        previous_numbers: prev.as_deref(),
        optin: crate::config::OptinConfig::default().policy(),
    };
    let scope = super::scope_of(&snap);
    let mut em = RuleEmitter::new(pack, &scope);
    super::profile::check(&snap, &ctx, &mut em);
    super::account::check(&snap, &ctx, &mut em);
    let reg = crate::report::register::update(register.as_ref(), &snap, ctx.now);
    super::register::check(
        &snap,
        &reg,
        &super::register::TemplatePolicy::default(),
        ctx.now,
        &mut em,
    );
    Ok(em.out)
}

/// The families whose examples are miniature exports folders.
pub fn is_signal_family(family: &str) -> bool {
    family.starts_with("profile.")
        || family.starts_with("account.")
        || family.starts_with("number.")
        || family.starts_with("business.")
        || family.starts_with("register.")
}

/// Runs every example of every builtin profile/account rule; one line per failure.
pub fn check_signal_examples(pack: &RulePack) -> Vec<String> {
    let mut failures = Vec::new();
    for r in &pack.rules {
        if r.def.kind != RuleKind::Builtin || !is_signal_family(&r.def.family) {
            continue;
        }
        for (positive, list) in [
            (true, &r.def.examples.positive),
            (false, &r.def.examples.negative),
        ] {
            for ex in list {
                match run_example(pack, ex) {
                    Err(e) => failures.push(format!(
                        "{}: rule `{}`: example is not a valid signals example: {e}",
                        r.source, r.def.id
                    )),
                    Ok(findings) => {
                        let fired = findings.iter().any(|f| f.rule == r.def.id);
                        if fired != positive {
                            failures.push(format!(
                                "{}: rule `{}`: {} example {} {}",
                                r.source,
                                r.def.id,
                                if positive { "positive" } else { "negative" },
                                super::templates::truncate_chars(ex.trim(), 120),
                                if positive { "does not fire" } else { "fires" }
                            ));
                        }
                    }
                }
            }
        }
    }
    failures
}
