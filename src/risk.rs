//! Risk: folding an account's findings and Meta's own signals into a 0–100
//! lock-risk score, a level, the enforcement stage the account appears to be
//! in, and — when it is blocked or locked — a diagnosis of the cause with the
//! runbook.
//!
//! The formula (README, "How the risk score works"):
//! 1. every unsuppressed finding has a weight by severity and by origin:
//!    wabaguard's heuristics — critical 0.45, high 0.20, medium 0.07,
//!    low 0.02, info 0; Meta's own signals — critical 0.60, high 0.30,
//!    medium 0.10, low 0.03, info 0;
//! 2. findings of one check family combine like independent chances,
//!    `family = 1 − Π(1 − wᵢ)`, capped per family (template hygiene 0.30,
//!    profile completeness 0.40, every other family 0.90) so that forty
//!    small issues never outweigh one real policy problem;
//! 3. families combine the same way, separately per origin; the heuristic
//!    part is capped at 0.70, so heuristics alone never reach `critical`:
//!    `score = 100 × (1 − (1 − min(H, 0.70)) × (1 − M))`;
//! 4. Meta's enforcement dominates: the stage puts the score in its band —
//!    `none` 0–74, `warning` 50–89, `temporary_block` 90–99, `locked` 100
//!    (raised to the band's floor, cut at its ceiling), so only an account
//!    on the enforcement ladder can score in the critical range and a block
//!    or lock always outranks any number of findings;
//! 5. level: ≥ 75 critical, ≥ 50 high, ≥ 25 medium, else low — never below
//!    `high` when a critical finding exists or the stage is `warning`, never
//!    below `medium` when a high one does, always `critical` when blocked or
//!    locked.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{Finding, Origin, Severity};
use crate::enforcement::{self, DAY, LADDER, codes, day, ts};
use crate::runbook::{self, Runbook};
use crate::snapshot::Snapshot;

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

/// Where the account appears to be on Meta's enforcement ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// No sign of enforcement.
    #[default]
    None,
    /// Violations, alerts, flags or an earlier block: the next step is a block.
    Warning,
    /// A temporary messaging block (restriction, error 368) is in force.
    TemporaryBlock,
    /// Locked (error 131031, disabled/banned): nothing can be sent.
    Locked,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "none",
            Stage::Warning => "warning",
            Stage::TemporaryBlock => "temporary_block",
            Stage::Locked => "locked",
        }
    }

    /// `temporary block` — for sentences.
    pub fn words(self) -> &'static str {
        match self {
            Stage::None => "no enforcement",
            Stage::Warning => "warning",
            Stage::TemporaryBlock => "temporary block",
            Stage::Locked => "locked",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the two 131031 causes applies (REFERENCE §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    PolicyEnforcement,
    TwoStepPinMismatch,
    Unknown,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::PolicyEnforcement => "policy_enforcement",
            Cause::TwoStepPinMismatch => "two_step_pin_mismatch",
            Cause::Unknown => "unknown",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Cause::PolicyEnforcement => "policy enforcement",
            Cause::TwoStepPinMismatch => "two-step verification PIN mismatch",
            Cause::Unknown => "not identified",
        }
    }

    fn runbook(self) -> &'static str {
        match self {
            Cause::PolicyEnforcement => "policy-enforcement",
            Cause::TwoStepPinMismatch => "two-step-pin-mismatch",
            Cause::Unknown => "unknown-cause",
        }
    }
}

/// One observation behind a stage or a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `webhook`, `send_log`, `health_status`, `phone_numbers` or `config`.
    pub source: String,
    /// When it happened (RFC 3339, UTC), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub text: String,
}

impl Evidence {
    fn new(source: &str, at: Option<i64>, text: impl Into<String>) -> Self {
        Evidence {
            source: source.to_owned(),
            at: at.map(ts),
            text: text.into(),
        }
    }
}

/// The account's position on the enforcement ladder (warning → 1/3/5/7/30-day
/// blocks → lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    /// The current (or, in `warning`, the last reached) step: `3-day block`.
    pub step: String,
    /// Index in warning, 1-day … 30-day block, lock (0–6).
    pub position: usize,
    /// The step the next violation would bring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// End of the block in force (RFC 3339), if one is and its end is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Enforcement history of the last 365 days, oldest first.
    #[serde(default)]
    pub history: Vec<String>,
}

/// Why a blocked or locked account is blocked, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub cause: Cause,
    /// One sentence: the cause and the main evidence.
    pub summary: String,
    /// Evidence for the cause found.
    pub evidence: Vec<Evidence>,
    /// Evidence that points to the other cause (shown, not decisive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_signals: Vec<Evidence>,
    /// The cause's runbook, filled in.
    pub runbook: Runbook,
    /// The escalation runbook (Direct Support) for when the first does not help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Runbook>,
}

/// One finding that explains the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub check: String,
    pub rule: String,
    pub severity: Severity,
    pub subject: String,
    pub fingerprint: String,
    /// Meta's own signal or a wabaguard heuristic.
    #[serde(default)]
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub score: u8,
    pub level: Level,
    #[serde(default)]
    pub stage: Stage,
    /// The signals the stage was inferred from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage_evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<Ladder>,
    /// The top findings behind the score, most important first.
    #[serde(default)]
    pub drivers: Vec<Driver>,
    /// Present when the stage is `temporary_block` or `locked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

/// Weight of a finding by severity and origin.
pub fn weight(s: Severity, origin: Origin) -> f64 {
    match (origin, s) {
        (Origin::Heuristic, Severity::Critical) => 0.45,
        (Origin::Heuristic, Severity::High) => 0.20,
        (Origin::Heuristic, Severity::Medium) => 0.07,
        (Origin::Heuristic, Severity::Low) => 0.02,
        (Origin::Meta, Severity::Critical) => 0.60,
        (Origin::Meta, Severity::High) => 0.30,
        (Origin::Meta, Severity::Medium) => 0.10,
        (Origin::Meta, Severity::Low) => 0.03,
        (_, Severity::Info) => 0.0,
    }
}

/// Weight of a heuristic finding by severity.
pub fn severity_weight(s: Severity) -> f64 {
    weight(s, Origin::Heuristic)
}

/// The most one check family can contribute.
pub fn family_cap(check: &str) -> f64 {
    match check {
        "template.hygiene" => 0.30,
        "profile.incomplete" => 0.40,
        _ => 0.90,
    }
}

/// The most wabaguard's heuristics together can contribute.
pub const HEURISTIC_CAP: f64 = 0.70;

/// The score band of each stage: `(floor, ceiling)`.
pub fn stage_band(stage: Stage) -> (u8, u8) {
    match stage {
        Stage::None => (0, 74),
        Stage::Warning => (50, 89),
        Stage::TemporaryBlock => (90, 99),
        Stage::Locked => (100, 100),
    }
}

/// The score and level of a set of findings in a stage.
pub fn score(findings: &[Finding], stage: Stage) -> (u8, Level) {
    let mut fam: BTreeMap<(Origin, &str), f64> = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.suppressed) {
        let keep = fam.entry((f.origin, f.check.as_str())).or_insert(1.0);
        *keep *= 1.0 - weight(f.severity, f.origin);
    }
    let (mut keep_h, mut keep_m) = (1.0, 1.0);
    for ((origin, check), keep) in &fam {
        let p = (1.0 - keep).min(family_cap(check));
        match origin {
            Origin::Heuristic => keep_h *= 1.0 - p,
            Origin::Meta => keep_m *= 1.0 - p,
        }
    }
    let h = (1.0 - keep_h).min(HEURISTIC_CAP);
    let raw = 100.0 * (1.0 - (1.0 - h) * keep_m);
    let (floor, ceiling) = stage_band(stage);
    let score = (raw.round().clamp(0.0, 100.0) as u8).clamp(floor, ceiling);
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
    match stage {
        Stage::Locked | Stage::TemporaryBlock => level = Level::Critical,
        Stage::Warning => level = level.max(Level::High),
        Stage::None => {}
    }
    (score, level)
}

/// Scores findings alone (no snapshot, stage `none`).
pub fn assess(findings: &[Finding]) -> Risk {
    let (score, level) = score(findings, Stage::None);
    Risk {
        score,
        level,
        stage: Stage::None,
        stage_evidence: Vec::new(),
        ladder: None,
        drivers: drivers(findings, 5),
        diagnosis: None,
    }
}

/// Scores an account: findings, the enforcement stage from the snapshot's
/// signals at `now`, and the diagnosis when blocked or locked.
pub fn assess_account(snap: &Snapshot, findings: &[Finding], now: DateTime<Utc>) -> Risk {
    let inf = infer(snap, now.timestamp());
    let (score, level) = score(findings, inf.stage);
    let diagnosis = match inf.stage {
        Stage::TemporaryBlock | Stage::Locked => Some(diagnose(snap, &inf)),
        _ => None,
    };
    Risk {
        score,
        level,
        stage: inf.stage,
        stage_evidence: inf.evidence.clone(),
        ladder: inf.ladder.clone(),
        drivers: drivers(findings, 5),
        diagnosis,
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
            origin: f.origin,
        });
        if out.len() == n {
            break;
        }
    }
    out
}

// ---- stage inference ---------------------------------------------------------

/// What the signals say, before scoring.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    pub stage: Stage,
    pub evidence: Vec<Evidence>,
    pub ladder: Option<Ladder>,
    /// Evidence of policy enforcement (violations, restrictions, bans, 368).
    pub policy: Vec<Evidence>,
    /// Evidence of a two-step PIN mismatch (133005, re-registration, migration).
    pub pin: Vec<Evidence>,
    /// A violation or ban is on record (decides a lock's cause for policy).
    pub violation_listed: bool,
    pub error_code: Option<i64>,
    pub phone_number_ids: BTreeSet<String>,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub until: Option<i64>,
    staged: Vec<(Stage, Evidence)>,
}

impl Inference {
    fn raise(&mut self, stage: Stage, e: Evidence) {
        self.stage = self.stage.max(stage);
        self.staged.push((stage, e));
    }

    /// Orders the evidence: what decided the stage first, then the most recent.
    fn finish(&mut self) {
        let mut staged = std::mem::take(&mut self.staged);
        staged.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.at.cmp(&a.1.at)));
        self.evidence = staged.into_iter().map(|(_, e)| e).collect();
    }

    fn seen(&mut self, first: i64, last: i64) {
        self.first_seen = Some(self.first_seen.map_or(first, |f| f.min(first)));
        self.last_seen = Some(self.last_seen.map_or(last, |l| l.max(last)));
    }
}

const WARNING_DAYS: i64 = 90;
const HISTORY_DAYS: i64 = 365;
const PIN_DAYS: i64 = 30;

fn code_title(code: i64) -> &'static str {
    match code {
        codes::LOCKED => "Business Account locked",
        codes::TEMP_BLOCKED => "temporarily blocked for policy violations",
        _ => "",
    }
}

/// Infers the enforcement stage from health status, numbers, webhook
/// history and the send log, at `now` (unix seconds).
pub fn infer(snap: &Snapshot, now: i64) -> Inference {
    let h = enforcement::history(snap);
    let mut inf = Inference::default();

    // Ban state (webhooks).
    if let Some(b) = h.ban() {
        let text = format!(
            "ban state {} (account_update){}",
            b.state,
            b.date
                .as_deref()
                .map(|d| format!(" (waba_ban_date {d})"))
                .unwrap_or_default()
        );
        match b.state.as_str() {
            "DISABLE" => {
                let e = Evidence::new("webhook", Some(b.time), text);
                inf.policy.push(e.clone());
                inf.violation_listed = true;
                inf.raise(Stage::Locked, e);
            }
            "SCHEDULE_FOR_DISABLE" => {
                let e = Evidence::new("webhook", Some(b.time), text);
                inf.policy.push(e.clone());
                inf.raise(Stage::Warning, e);
            }
            _ => {}
        }
    }

    // Lock and block errors in the send log.
    if let Some(stats) = snap.send_stats.as_ref() {
        for (code, stage) in [
            (codes::LOCKED, Stage::Locked),
            (codes::TEMP_BLOCKED, Stage::TemporaryBlock),
        ] {
            let Some(b) = enforcement::send_block(stats, code, now) else {
                continue;
            };
            let text = format!(
                "error {code} ({}) ×{} in the send log in the last 7 days, {} to {}, phone number(s) {}{}",
                code_title(code),
                b.count_7d,
                ts(b.first),
                ts(b.last),
                b.phone_number_ids.join(", "),
                if b.resolved {
                    "; sends succeeded again afterwards"
                } else {
                    "; no successful send since"
                },
            );
            let e = Evidence::new("send_log", Some(b.last), text);
            if code == codes::TEMP_BLOCKED {
                inf.policy.push(e.clone());
            }
            if b.resolved {
                inf.raise(Stage::Warning, e);
            } else {
                if stage >= inf.stage {
                    inf.error_code = Some(code);
                    inf.phone_number_ids
                        .extend(b.phone_number_ids.iter().cloned());
                    inf.seen(b.first, b.last);
                }
                inf.raise(stage, e);
            }
        }
        if let Some(c) = stats
            .codes
            .get(&codes::PIN_MISMATCH)
            .filter(|c| c.last > now - PIN_DAYS * DAY)
        {
            inf.pin.push(Evidence::new(
                "send_log",
                Some(c.last),
                format!(
                    "error 133005 (two-step PIN mismatch) ×{} in the send log, {} to {}",
                    c.count,
                    ts(c.first),
                    ts(c.last)
                ),
            ));
        }
        if let Some(c) = stats
            .codes
            .get(&codes::NEEDS_VERIFICATION)
            .filter(|c| c.last > now - PIN_DAYS * DAY)
        {
            inf.pin.push(Evidence::new(
                "send_log",
                Some(c.last),
                format!(
                    "error 133006 (number must be verified before registering) ×{} in the send log",
                    c.count
                ),
            ));
        }
        let spam = enforcement::code_window(stats, codes::SPAM_RATE, now);
        if spam.last_24h > 0 {
            inf.raise(
                Stage::Warning,
                Evidence::new(
                    "send_log",
                    spam.last,
                    format!(
                        "error 131048 (spam rate limit) ×{} in the send log in the last 24 h",
                        spam.last_24h
                    ),
                ),
            );
        }
    }

    // Health status: BLOCKED entities; 131031 among their errors is a lock.
    let mut blocked_seen: BTreeSet<(String, String)> = BTreeSet::new();
    let statuses = snap
        .waba
        .iter()
        .filter_map(|w| w.health_status.as_ref())
        .chain(
            snap.phone_numbers
                .iter()
                .filter_map(|n| n.health_status.as_ref()),
        );
    for hs in statuses {
        for e in &hs.entities {
            let state = e
                .can_send_message
                .as_deref()
                .unwrap_or("")
                .to_ascii_uppercase();
            if state != "BLOCKED" {
                continue;
            }
            let kind = e
                .entity_type
                .clone()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let id = e.id.clone().unwrap_or_default();
            if !blocked_seen.insert((kind.clone(), id.clone())) {
                continue;
            }
            let lock = e.errors.iter().any(|x| x.error_code == Some(codes::LOCKED));
            let errs: Vec<String> = e
                .errors
                .iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        x.error_code.map_or("?".into(), |c| c.to_string()),
                        x.error_description.as_deref().unwrap_or("")
                    )
                    .trim()
                    .to_owned()
                })
                .collect();
            let ev = Evidence::new(
                "health_status",
                None,
                format!(
                    "health status BLOCKED on {kind} {id}{}",
                    if errs.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", errs.join("; "))
                    }
                ),
            );
            let policy_words = errs.iter().any(|s| {
                let l = s.to_ascii_lowercase();
                l.contains("policy") || l.contains("violation") || l.contains("restricted")
            });
            if policy_words {
                inf.policy.push(ev.clone());
            }
            if kind == "PHONE_NUMBER" {
                inf.phone_number_ids.insert(id.clone());
            }
            if lock {
                inf.error_code = Some(codes::LOCKED);
                inf.raise(Stage::Locked, ev);
            } else {
                if inf.error_code.is_none() {
                    inf.error_code = e.errors.iter().find_map(|x| x.error_code);
                }
                inf.raise(Stage::TemporaryBlock, ev);
            }
        }
    }

    // Phone number status.
    for n in &snap.phone_numbers {
        let st = n.status.as_deref().unwrap_or("").to_ascii_uppercase();
        let stage = match st.as_str() {
            "BANNED" => Stage::Locked,
            "RESTRICTED" => Stage::TemporaryBlock,
            "FLAGGED" => Stage::Warning,
            _ => continue,
        };
        let ev = Evidence::new(
            "phone_numbers",
            None,
            format!("phone number {} has status {st}", n.id_str()),
        );
        if stage != Stage::Warning {
            inf.policy.push(ev.clone());
            inf.phone_number_ids.insert(n.id_str().to_owned());
            if st == "BANNED" {
                inf.violation_listed = true;
            }
        }
        inf.raise(stage, ev);
    }

    // Webhook history: restrictions, violations, alerts, flags.
    for r in &h.restrictions {
        let what = match (r.is_messaging(), r.ladder_step()) {
            (true, Some(step)) => format!("{} ", LADDER[step]),
            (true, None) => "messaging block ".into(),
            (false, _) => "restriction ".into(),
        };
        let text = format!(
            "{what}({}){}",
            r.types.join(", "),
            r.expiration
                .map(|e| format!(" {} {}", if e > now { "until" } else { "ended" }, ts(e)))
                .unwrap_or_default()
        );
        let ev = Evidence::new("webhook", Some(r.time), text);
        if r.is_messaging() && r.active(now) {
            inf.policy.push(ev.clone());
            inf.until = inf.until.max(r.expiration);
            inf.raise(Stage::TemporaryBlock, ev);
        } else if r.active(now) || (r.time > now - WARNING_DAYS * DAY && r.time <= now) {
            inf.policy.push(ev.clone());
            inf.raise(Stage::Warning, ev);
        }
    }
    for v in h
        .violations
        .iter()
        .filter(|v| v.time > now - WARNING_DAYS * DAY && v.time <= now)
    {
        let ev = Evidence::new(
            "webhook",
            Some(v.time),
            format!(
                "policy violation {} (account_update ACCOUNT_VIOLATION)",
                v.violation_type
            ),
        );
        inf.policy.push(ev.clone());
        inf.violation_listed = true;
        inf.raise(Stage::Warning, ev);
    }
    for a in h
        .active_alerts
        .iter()
        .filter(|a| matches!(a.severity.as_str(), "CRITICAL" | "WARNING"))
    {
        let ev = Evidence::new(
            "webhook",
            Some(a.time),
            format!(
                "active {} alert {} on {} (account_alerts)",
                a.severity, a.alert_type, a.entity
            ),
        );
        if a.severity == "CRITICAL" {
            inf.policy.push(ev.clone());
        }
        inf.raise(Stage::Warning, ev);
    }
    for f in h
        .flagged
        .iter()
        .filter(|f| f.time > now - 30 * DAY && f.time <= now)
    {
        inf.raise(
            Stage::Warning,
            Evidence::new(
                "webhook",
                Some(f.time),
                format!(
                    "phone number {} flagged for low quality (phone_number_quality_update)",
                    f.phone_number_id.as_deref().unwrap_or("(unknown id)")
                ),
            ),
        );
    }

    // PIN mismatch signals: re-registration or migration.
    let lock_start = inf.first_seen.unwrap_or(now);
    if let Some(reg) = snap.two_step.as_ref().and_then(|t| t.registered_at) {
        if let Some(t) = reg.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp()) {
            if t <= lock_start && lock_start - t <= PIN_DAYS * DAY {
                inf.pin.push(Evidence::new(
                    "config",
                    Some(t),
                    format!(
                        "number(s) (re-)registered on {reg} ([accounts.two_step] registered_at)"
                    ),
                ));
            }
        }
    }
    for (t, e) in &h.migrations {
        if *t <= lock_start && lock_start - t <= PIN_DAYS * DAY {
            inf.pin.push(Evidence::new(
                "webhook",
                Some(*t),
                format!("provider change {e} (account_update)"),
            ));
        }
    }

    inf.finish();
    inf.ladder = ladder(&h, &inf, now);
    inf
}

fn ladder(h: &enforcement::History, inf: &Inference, now: i64) -> Option<Ladder> {
    let since = now - HISTORY_DAYS * DAY;
    let mut lines: Vec<(i64, String)> = Vec::new();
    for v in h
        .violations
        .iter()
        .filter(|v| v.time > since && v.time <= now)
    {
        lines.push((
            v.time,
            format!("{} violation ({})", day(v.time), v.violation_type),
        ));
    }
    let blocks: Vec<&enforcement::Restriction> = h
        .blocks_before(now)
        .into_iter()
        .filter(|r| r.time > since)
        .collect();
    for (i, r) in blocks.iter().enumerate() {
        let step = r.ladder_step().unwrap_or((i + 1).min(5));
        lines.push((
            r.time,
            format!(
                "{} {} ({}){}",
                day(r.time),
                LADDER[step],
                r.types.join(", "),
                r.expiration
                    .map(|e| format!(" until {}", day(e)))
                    .unwrap_or_default()
            ),
        ));
    }
    for r in h
        .restrictions
        .iter()
        .filter(|r| !r.is_messaging() && r.time > since && r.time <= now)
    {
        lines.push((
            r.time,
            format!("{} restriction ({})", day(r.time), r.types.join(", ")),
        ));
    }
    for b in h.bans.iter().filter(|b| b.time > since && b.time <= now) {
        lines.push((b.time, format!("{} ban state {}", day(b.time), b.state)));
    }
    if let (Some(code), Some(first)) = (inf.error_code, inf.first_seen) {
        if code == codes::LOCKED || code == codes::TEMP_BLOCKED {
            lines.push((
                first,
                format!("{} error {code} first seen in the send log", day(first)),
            ));
        }
    }
    lines.sort();
    let history: Vec<String> = lines.into_iter().map(|l| l.1).collect();

    let position = match inf.stage {
        Stage::None => return None,
        Stage::Locked => 6,
        Stage::TemporaryBlock => match h.active_block(now) {
            Some(r) => r.ladder_step().unwrap_or_else(|| {
                blocks
                    .iter()
                    .filter(|b| b.time <= r.time)
                    .count()
                    .clamp(1, 5)
            }),
            // A block (368, health) without a restriction event: the next step
            // after the blocks on record.
            None => (blocks.len() + 1).min(5),
        },
        Stage::Warning => match blocks.last() {
            Some(r) => r.ladder_step().unwrap_or(blocks.len().min(5)),
            None => 0,
        },
    };
    let until = match inf.stage {
        Stage::TemporaryBlock => inf.until.map(ts),
        _ => None,
    };
    Some(Ladder {
        step: LADDER[position].to_owned(),
        position,
        next: LADDER.get(position + 1).map(|s| (*s).to_owned()),
        until,
        history,
    })
}

/// The cause of a block or lock, its evidence and the filled-in runbook.
pub fn diagnose(snap: &Snapshot, inf: &Inference) -> Diagnosis {
    let cause = match inf.stage {
        Stage::Locked if inf.violation_listed => Cause::PolicyEnforcement,
        Stage::Locked if !inf.pin.is_empty() => Cause::TwoStepPinMismatch,
        _ if !inf.policy.is_empty() => Cause::PolicyEnforcement,
        _ => Cause::Unknown,
    };
    let (evidence, other) = match cause {
        Cause::PolicyEnforcement => (inf.policy.clone(), inf.pin.clone()),
        Cause::TwoStepPinMismatch => (inf.pin.clone(), inf.policy.clone()),
        Cause::Unknown => (
            Vec::new(),
            inf.pin.iter().chain(&inf.policy).cloned().collect(),
        ),
    };
    // The summary names what points to the cause (not the block itself).
    let key: Vec<String> = evidence.iter().take(2).map(|e| e.text.clone()).collect();
    let mut evidence = evidence;
    // The observation of the block itself always belongs to the evidence.
    for e in inf
        .evidence
        .iter()
        .filter(|e| e.source == "send_log" || e.source == "health_status")
    {
        if !evidence.contains(e) {
            evidence.insert(0, e.clone());
        }
    }
    let vars = runbook_vars(snap, inf);
    let fallback = Runbook {
        id: cause.runbook().into(),
        title: format!("Runbook `{}` not found", cause.runbook()),
        steps: Vec::new(),
        markdown: String::new(),
    };
    let runbook = runbook::render(cause.runbook(), &vars).unwrap_or(fallback);
    let escalation = runbook::render(runbook::ESCALATION, &vars);
    let code = inf
        .error_code
        .map(|c| format!("error {c}"))
        .unwrap_or_else(|| "the block".into());
    let summary = match cause {
        Cause::Unknown => format!(
            "{} ({code}): no violation on record and no sign of a PIN problem, so the cause is not identified; check both",
            capitalised(inf.stage.words()),
        ),
        c if key.is_empty() => format!(
            "{} by {} ({code})",
            capitalised(inf.stage.words()),
            c.words()
        ),
        c => format!(
            "{} by {} ({code}): {}",
            capitalised(inf.stage.words()),
            c.words(),
            key.join("; ")
        ),
    };
    Diagnosis {
        cause,
        summary,
        evidence,
        other_signals: other,
        runbook,
        escalation,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The placeholder values for the runbooks.
pub fn runbook_vars(snap: &Snapshot, inf: &Inference) -> BTreeMap<&'static str, String> {
    let h = enforcement::history(snap);
    let mut v = BTreeMap::new();
    v.insert("account", snap.account.clone());
    v.insert(
        "waba_id",
        if snap.waba_id.is_empty() {
            "(WABA id unknown)".into()
        } else {
            snap.waba_id.clone()
        },
    );
    let numbers: Vec<String> = if inf.phone_number_ids.is_empty() {
        snap.phone_numbers
            .iter()
            .filter_map(|n| n.id.clone())
            .collect()
    } else {
        inf.phone_number_ids.iter().cloned().collect()
    };
    v.insert(
        "phone_number_id",
        if numbers.is_empty() {
            "(phone number id unknown)".into()
        } else {
            numbers.join(", ")
        },
    );
    v.insert(
        "error_code",
        inf.error_code
            .map_or("(none recorded)".into(), |c| c.to_string()),
    );
    v.insert(
        "first_seen",
        inf.first_seen.map_or("(not recorded)".into(), ts),
    );
    v.insert(
        "last_seen",
        inf.last_seen.map_or("(not recorded)".into(), ts),
    );
    v.insert("until", inf.until.map_or("an unknown time".into(), ts));
    v.insert(
        "next_step",
        inf.ladder
            .as_ref()
            .and_then(|l| l.next.clone())
            .unwrap_or_else(|| "a longer block or a lock".into()),
    );
    let violations: Vec<String> = h
        .violations
        .iter()
        .map(|x| format!("{} on {}", x.violation_type, day(x.time)))
        .collect();
    v.insert(
        "violations",
        if violations.is_empty() {
            "none received by webhook (check Business Support Home)".into()
        } else {
            violations.join(", ")
        },
    );
    let history = inf
        .ladder
        .as_ref()
        .map(|l| l.history.clone())
        .unwrap_or_default();
    v.insert(
        "enforcement_history",
        if history.is_empty() {
            "no enforcement events received by webhook; no review requested yet".into()
        } else {
            history.join("; ")
        },
    );
    let two = snap.two_step.as_ref();
    v.insert(
        "pin_secret",
        two.and_then(|t| t.pin_secret.clone()).unwrap_or_else(|| {
            "not recorded — set [accounts.two_step] pin_secret in the config".into()
        }),
    );
    v.insert(
        "registered_at",
        two.and_then(|t| t.registered_at)
            .map_or("not recorded".into(), |d| d.to_string()),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Subject, SubjectKind};

    fn f(check: &str, sev: Severity) -> Finding {
        Finding::new(check, "r", sev, Subject::new(SubjectKind::Account), "m")
    }

    fn m(check: &str, sev: Severity) -> Finding {
        f(check, sev).meta()
    }

    #[test]
    fn empty_is_low_zero() {
        let r = assess(&[]);
        assert_eq!((r.score, r.level, r.stage), (0, Level::Low, Stage::None));
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
    fn profile_completeness_is_capped() {
        let many: Vec<Finding> = (0..20)
            .map(|_| f("profile.incomplete", Severity::High))
            .collect();
        assert_eq!(assess(&many).score, 40);
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
    fn heuristics_alone_never_reach_critical() {
        let many: Vec<Finding> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|c| f(c, Severity::Critical))
            .collect();
        let r = assess(&many);
        assert_eq!(r.score, 70);
        assert_eq!(r.level, Level::High);
    }

    #[test]
    fn meta_signals_weigh_more_than_heuristics() {
        let h = assess(&[f("number.quality", Severity::High)]).score;
        let me = assess(&[m("number.quality", Severity::High)]).score;
        assert_eq!((h, me), (20, 30));
        // Heuristics at their cap plus one Meta critical: 1 - 0.3 * 0.4 = 0.88.
        let mut v: Vec<Finding> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|c| f(c, Severity::Critical))
            .collect();
        v.push(m("account.health", Severity::Critical));
        assert_eq!(score(&v, Stage::Warning), (88, Level::Critical));
        // Without enforcement the band ends at 74.
        let r = assess(&v);
        assert_eq!((r.score, r.level), (74, Level::High));
        assert_eq!(r.drivers[0].origin, Origin::Meta);
    }

    #[test]
    fn the_stage_sets_the_score_band() {
        let low = [f("profile.incomplete", Severity::Low)];
        assert_eq!(score(&low, Stage::Locked), (100, Level::Critical));
        assert_eq!(score(&low, Stage::TemporaryBlock), (90, Level::Critical));
        assert_eq!(score(&low, Stage::Warning), (50, Level::High));
        assert_eq!(score(&low, Stage::None), (2, Level::Low));
        // Many of Meta's high signals, but no enforcement: at most 74 (high).
        let many: Vec<Finding> = [
            "account.health",
            "number.quality",
            "number.limit",
            "account.violation",
        ]
        .iter()
        .flat_map(|c| [m(c, Severity::High), m(c, Severity::High)])
        .collect();
        assert_eq!(score(&many, Stage::None), (74, Level::High));
        assert_eq!(score(&many, Stage::Warning), (89, Level::Critical));
        assert_eq!(score(&many, Stage::TemporaryBlock), (94, Level::Critical));
    }

    #[test]
    fn suppressed_findings_do_not_count() {
        let mut x = f("template.restricted_content", Severity::Critical);
        x.suppressed = true;
        assert_eq!(assess(&[x]).score, 0);
    }
}
