//! Checks on the template register (`report::register`): what a
//! recategorisation costs, the deadline to ask Meta to review it, and
//! templates one pause away from being disabled. Pure: the register has
//! already been updated with this run's snapshot; rate cards are data.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{Finding, Origin, RuleEmitter, Severity, Subject};
use crate::rates::RateCards;
use crate::report::register::{CategoryChange, ChangeDating, RegisterEntry, TemplateRegister};
use crate::snapshot::Snapshot;

/// `[templates]` settings the checks need.
#[derive(Debug, Clone)]
pub struct TemplatePolicy {
    /// Days after a recategorisation during which a review can be requested.
    pub review_window_days: u32,
    /// Days of send log the volume is measured over (scaled to 30 days).
    pub volume_days: u32,
    /// Destination country of sends whose country the log does not give.
    pub default_country: String,
    pub cards: RateCards,
}

impl Default for TemplatePolicy {
    fn default() -> Self {
        TemplatePolicy {
            review_window_days: 60,
            volume_days: 30,
            default_country: "US".into(),
            cards: RateCards::builtin().unwrap_or_default(),
        }
    }
}

/// A recategorisation's monthly cost impact.
#[derive(Debug, Clone, PartialEq)]
pub enum CostImpact {
    Known {
        currency: String,
        /// `rules/rates/….toml`, and its `effective_from`.
        card: String,
        card_from: chrono::NaiveDate,
        unit: String,
        /// Sends over `volume_days`.
        sends: u64,
        /// Estimated change per 30 days (negative: a saving).
        monthly_delta: f64,
        /// Per country: (country, sends, price change per message).
        countries: Vec<(String, u64, f64)>,
    },
    Unknown(String),
}

fn subject(e: &RegisterEntry) -> Subject {
    Subject::template(e.id.as_deref(), &e.name, &e.language)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// "6 days 3 hours", "5 hours", "40 minutes".
pub fn countdown(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    let plural = |n: i64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => plural(m, "minute"),
        (0, h) => plural(h, "hour"),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

/// Prices a change with the card in force on the day it happened, times the
/// template's sends over the policy's window.
pub fn cost_impact(
    snap: &Snapshot,
    e: &RegisterEntry,
    c: &CategoryChange,
    policy: &TemplatePolicy,
    now: DateTime<Utc>,
) -> CostImpact {
    let Some(from) = c.from.as_deref() else {
        return CostImpact::Unknown("the category before the change is not known".into());
    };
    let Some(card) = policy.cards.at(c.at.date_naive()) else {
        return CostImpact::Unknown(format!(
            "no rate card is in force on {} (add one under [templates] rates_dir)",
            day(c.at)
        ));
    };
    let Some(stats) = snap.send_stats.as_ref() else {
        return CostImpact::Unknown(
            "no send log is configured for this account (`send_log`), so the template's volume is not known"
                .into(),
        );
    };
    if !stats.template_column {
        return CostImpact::Unknown(format!(
            "the send log {} has no template column (`template_name` or `template`), so the template's volume is not known",
            stats.file
        ));
    }
    let days = i64::from(policy.volume_days.max(1));
    let to = now.timestamp() + 1;
    let start = (now.timestamp() - days * 86_400).div_euclid(86_400) * 86_400;
    let per_country = stats.template_sends(&e.name, &e.language, start, to);
    let mut countries = Vec::new();
    let mut total = 0.0;
    let mut sends = 0;
    for (country, n) in per_country {
        let country = if country.is_empty() {
            policy.default_country.to_ascii_uppercase()
        } else {
            country
        };
        let Some((_, rates)) = card.country(&country) else {
            return CostImpact::Unknown(format!(
                "{} has no price for {country} and no \"*\" row",
                card.source
            ));
        };
        let (Some(old), Some(new)) = (rates.of(from), rates.of(&c.to)) else {
            return CostImpact::Unknown(format!(
                "{} → {} is not a pair of priced categories",
                from, c.to
            ));
        };
        let delta = new - old;
        total += delta * n as f64;
        sends += n;
        match countries.iter_mut().find(|(k, _, _)| *k == country) {
            Some((_, m, _)) => *m += n,
            None => countries.push((country, n, delta)),
        }
    }
    CostImpact::Known {
        currency: card.currency.clone(),
        card: card.source.clone(),
        card_from: card.effective_from,
        unit: card.unit.clone(),
        sends,
        monthly_delta: total * 30.0 / days as f64,
        countries,
    }
}

fn money(currency: &str, v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "+" };
    format!("{sign}{currency} {:.2}", v.abs())
}

/// Runs the register checks for one account.
pub fn check(
    snap: &Snapshot,
    reg: &TemplateRegister,
    policy: &TemplatePolicy,
    now: DateTime<Utc>,
    em: &mut RuleEmitter<'_>,
) {
    for e in &reg.templates {
        if let Some(c) = e.last_change() {
            recategorised(snap, e, c, policy, now, em);
            review_deadline(e, c, policy, now, em);
        }
        paused_twice(e, em);
    }
}

fn recategorised(
    snap: &Snapshot,
    e: &RegisterEntry,
    c: &CategoryChange,
    policy: &TemplatePolicy,
    now: DateTime<Utc>,
    em: &mut RuleEmitter<'_>,
) {
    const RULE: &str = "tpl.reg.recategorised-cost";
    let lookback = em.param_i64(RULE, "lookback_days", 90);
    // An undated change is priced on the day it was first seen.
    if c.at > now || now - c.at > Duration::days(lookback) || !e.present {
        return;
    }
    let medium_above = em.param_f64(RULE, "medium_above", 50.0);
    let high_above = em.param_f64(RULE, "high_above", 500.0);
    let from = c.from.as_deref().unwrap_or("?");
    let when = match c.dating {
        ChangeDating::Exact => format!("on {}", day(c.at)),
        ChangeDating::BetweenRuns => format!("after {}", day(c.at)),
        ChangeDating::Unknown => format!("before {}", day(c.at)),
    };
    let who = if by_meta(c) {
        format!("Meta moved {} ({})", e.name, e.language)
    } else {
        format!("The category of {} ({}) changed", e.name, e.language)
    };
    let impact = cost_impact(snap, e, c, policy, now);
    let (severity, message) = match &impact {
        CostImpact::Known {
            currency,
            card_from,
            unit,
            sends,
            monthly_delta,
            countries,
            ..
        } => {
            let per: Vec<String> = countries
                .iter()
                .map(|(k, n, d)| format!("{n} to {k} × {} per {unit}", money(currency, *d)))
                .collect();
            let sev = if *monthly_delta >= high_above {
                Severity::High
            } else if *monthly_delta >= medium_above {
                Severity::Medium
            } else if *monthly_delta > 0.0 {
                Severity::Low
            } else {
                Severity::Info
            };
            let msg = if *sends == 0 {
                format!(
                    "{who} from {from} to {} {when}; no sends of it in the last {} days, so no cost change yet (rate card of {card_from})",
                    c.to, policy.volume_days
                )
            } else {
                format!(
                    "{who} from {from} to {} {when}: about {} a month ({}; rate card of {card_from})",
                    c.to,
                    money(currency, *monthly_delta),
                    per.join(", ")
                )
            };
            (sev, msg)
        }
        CostImpact::Unknown(why) => (
            Severity::Low,
            format!(
                "{who} from {from} to {} {when}; cost impact unknown: {why}",
                c.to
            ),
        ),
    };
    let Some(f) = em.emit(RULE, subject(e), message) else {
        return;
    };
    f.severity = severity;
    if by_meta(c) {
        f.origin = Origin::Meta;
    }
    f.evidence = Some(format!(
        "category change {from} → {} ({}; source: {})",
        c.to,
        day(c.at),
        sources(c)
    ));
    f.details.insert("from".into(), json!(from));
    f.details.insert("to".into(), json!(c.to));
    f.details.insert("changed_at".into(), json!(c.at));
    match impact {
        CostImpact::Known {
            currency,
            card,
            card_from,
            sends,
            monthly_delta,
            ..
        } => {
            f.details.insert("cost".into(), json!("estimated"));
            f.details.insert("currency".into(), json!(currency));
            f.details.insert(
                "monthly_delta".into(),
                json!((monthly_delta * 100.0).round() / 100.0),
            );
            f.details.insert("sends".into(), json!(sends));
            f.details.insert("rate_card".into(), json!(card));
            f.details
                .insert("rate_card_from".into(), json!(card_from.to_string()));
        }
        CostImpact::Unknown(why) => {
            f.details.insert("cost".into(), json!("unknown"));
            f.details.insert("cost_unknown_reason".into(), json!(why));
        }
    }
}

/// Whether Meta made the change (a webhook or `previous_category` says so).
fn by_meta(c: &CategoryChange) -> bool {
    use crate::report::register::ChangeSource;
    c.sources
        .iter()
        .any(|s| matches!(s, ChangeSource::Event | ChangeSource::PreviousCategory))
}

fn sources(c: &CategoryChange) -> String {
    c.sources
        .iter()
        .map(|s| match s {
            crate::report::register::ChangeSource::Event => "template_category_update",
            crate::report::register::ChangeSource::PreviousCategory => "previous_category",
            crate::report::register::ChangeSource::SnapshotDiff => "difference between runs",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn review_deadline(
    e: &RegisterEntry,
    c: &CategoryChange,
    policy: &TemplatePolicy,
    now: DateTime<Utc>,
    em: &mut RuleEmitter<'_>,
) {
    const RULE: &str = "tpl.reg.review-deadline";
    if c.dating == ChangeDating::Unknown || c.at > now || !e.present {
        return;
    }
    // Only Meta's own changes can be contested (a difference between runs
    // alone may be the business's own edit).
    if !by_meta(c) {
        return;
    }
    let deadline = c.at + Duration::days(i64::from(policy.review_window_days));
    if deadline <= now {
        return;
    }
    let left = deadline - now;
    let high = em.param_i64(RULE, "high_within_days", 7);
    let medium = em.param_i64(RULE, "medium_within_days", 21);
    let severity = if left <= Duration::days(high) {
        Severity::High
    } else if left <= Duration::days(medium) {
        Severity::Medium
    } else {
        Severity::Low
    };
    let from = c.from.as_deref().unwrap_or("?");
    let since = match c.dating {
        ChangeDating::Exact => format!("the change on {}", day(c.at)),
        _ => format!(
            "{} (the earliest the change, first seen in a later run, can have happened)",
            day(c.at)
        ),
    };
    let Some(f) = em.emit(
        RULE,
        subject(e),
        format!(
            "Request a review of {} ({})'s move from {from} to {} by {} ({} left; the window is {} days from {since})",
            e.name,
            e.language,
            c.to,
            day(deadline),
            countdown(left),
            policy.review_window_days
        ),
    ) else {
        return;
    };
    f.severity = severity;
    f.origin = Origin::Meta;
    f.evidence = Some(format!(
        "category change {from} → {} at {} (source: {})",
        c.to,
        c.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sources(c)
    ));
    f.details.insert("deadline".into(), json!(day(deadline)));
    f.details.insert("days_left".into(), json!(left.num_days()));
    f.details
        .insert("hours_left".into(), json!(left.num_hours()));
    f.details.insert(
        "review_window_days".into(),
        json!(policy.review_window_days),
    );
}

fn paused_twice(e: &RegisterEntry, em: &mut RuleEmitter<'_>) {
    const RULE: &str = "tpl.reg.paused-twice";
    let disabled = e
        .status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("DISABLED"));
    if e.pauses < 2 || disabled || !e.present {
        return;
    }
    let pauses: Vec<String> = e
        .status_history
        .iter()
        .filter(|h| h.status == "PAUSED")
        .map(|h| day(h.at))
        .collect();
    let Some(f) = em.emit(
        RULE,
        subject(e),
        format!(
            "{} ({}) has been paused {} times ({}): one more pause disables it",
            e.name,
            e.language,
            e.pauses,
            pauses.join(", ")
        ),
    ) else {
        return;
    };
    f.origin = Origin::Meta;
    f.details.insert("pauses".into(), json!(e.pauses));
    if let Some(s) = &e.status {
        f.details.insert("status".into(), json!(s));
    }
}

/// The findings of [`check`] for a register alone (tests, examples).
pub fn findings(
    snap: &Snapshot,
    reg: &TemplateRegister,
    policy: &TemplatePolicy,
    pack: &crate::rulepack::RulePack,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let scope = super::scope_of(snap);
    let mut em = RuleEmitter::new(pack, &scope);
    check(snap, reg, policy, now, &mut em);
    em.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::register::{ChangeSource, update};
    use crate::snapshot::Template;

    fn t(cat: &str, prev: Option<&str>, status: &str) -> Template {
        Template {
            name: "recibo".into(),
            language: "es_MX".into(),
            category: Some(cat.into()),
            previous_category: prev.map(str::to_owned),
            status: Some(status.into()),
            ..Template::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(countdown(Duration::minutes(40)), "40 minutes");
        assert_eq!(countdown(Duration::hours(1)), "1 hour");
        assert_eq!(countdown(Duration::days(1)), "1 day");
        assert_eq!(countdown(Duration::hours(94)), "3 days 22 hours");
        assert_eq!(countdown(Duration::hours(-3)), "0 minutes");
    }

    #[test]
    fn a_change_before_every_rate_card_has_an_unknown_cost() {
        let snap = Snapshot {
            account: "a".into(),
            templates: vec![t("MARKETING", Some("UTILITY"), "APPROVED")],
            ..Snapshot::default()
        };
        let reg = update(None, &snap, at("2026-11-25T00:00:00Z"));
        let e = &reg.templates[0];
        let mut c = e.category_changes[0].clone();
        assert_eq!(c.sources, [ChangeSource::PreviousCategory]);
        c.at = at("2020-01-01T00:00:00Z");
        match cost_impact(
            &snap,
            e,
            &c,
            &TemplatePolicy::default(),
            at("2026-11-25T00:00:00Z"),
        ) {
            CostImpact::Unknown(why) => assert!(
                why.contains("no rate card is in force on 2020-01-01"),
                "{why}"
            ),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn pauses_seen_only_by_runs_count_and_a_disabled_template_is_left_to_its_own_rule() {
        let pack = crate::rulepack::RulePack::builtin().unwrap();
        let policy = TemplatePolicy::default();
        let mut snap = Snapshot {
            account: "a".into(),
            templates: vec![t("UTILITY", None, "PAUSED")],
            ..Snapshot::default()
        };
        let mut reg = update(None, &snap, at("2026-11-20T00:00:00Z"));
        let fired = |snap: &Snapshot, reg: &TemplateRegister, now: &str| {
            findings(snap, reg, &policy, &pack, at(now))
                .iter()
                .any(|f| f.rule == "tpl.reg.paused-twice")
        };
        assert!(!fired(&snap, &reg, "2026-11-20T00:00:00Z"));
        snap.templates[0].status = Some("APPROVED".into());
        reg = update(Some(&reg), &snap, at("2026-11-21T00:00:00Z"));
        snap.templates[0].status = Some("PAUSED".into());
        reg = update(Some(&reg), &snap, at("2026-11-22T00:00:00Z"));
        assert_eq!(reg.templates[0].pauses, 2);
        assert!(fired(&snap, &reg, "2026-11-22T00:00:00Z"));
        snap.templates[0].status = Some("DISABLED".into());
        reg = update(Some(&reg), &snap, at("2026-11-23T00:00:00Z"));
        assert!(!fired(&snap, &reg, "2026-11-23T00:00:00Z"));
    }
}
