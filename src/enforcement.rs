//! Reading Meta's enforcement signals out of a Snapshot: violations,
//! restrictions and their expiry, ban state, account alerts, number flags and
//! downgrades (from the webhook events), and the lock/block error codes in the
//! send log. Shared by the account checks (which turn them into findings) and
//! the risk model (which infers the enforcement stage and the 131031 cause).
//!
//! Pure functions of the snapshot and an injected `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use crate::snapshot::signals::{AccountAlert, AccountUpdate, PhoneQualityUpdate};
use crate::snapshot::{EventKind, PhoneNumber, SendStats, Snapshot, WebhookEvent};

pub const DAY: i64 = 86_400;

/// Error codes with a meaning for enforcement (REFERENCE §10).
pub mod codes {
    pub const LOCKED: i64 = 131_031;
    pub const TEMP_BLOCKED: i64 = 368;
    pub const COUNTRY_RESTRICTED: i64 = 130_497;
    pub const SPAM_RATE: i64 = 131_048;
    pub const ECOSYSTEM: i64 = 131_049;
    pub const PAIR_RATE: i64 = 131_056;
    pub const TEMPLATE_PAUSED: i64 = 132_015;
    pub const TEMPLATE_DISABLED: i64 = 132_016;
    pub const PIN_MISMATCH: i64 = 133_005;
    pub const NEEDS_VERIFICATION: i64 = 133_006;
}

/// The steps of Meta's enforcement ladder (REFERENCE §9), in order.
pub const LADDER: [&str; 7] = [
    "warning",
    "1-day block",
    "3-day block",
    "5-day block",
    "7-day block",
    "30-day block",
    "lock",
];
const BLOCK_DAYS: [i64; 5] = [1, 3, 5, 7, 30];

/// Restriction types that stop messaging (a block); others restrict actions.
pub fn is_messaging_restriction(kind: &str) -> bool {
    matches!(
        kind.to_ascii_uppercase().as_str(),
        "RESTRICTED_BIZ_INITIATED_MESSAGING" | "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"
    )
}

/// RFC 3339 (UTC, seconds) for a unix time.
pub fn ts(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// `2026-10-15` for a unix time.
pub fn day(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub time: i64,
    pub violation_type: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Restriction {
    pub time: i64,
    pub types: Vec<String>,
    /// The latest expiration among its entries.
    pub expiration: Option<i64>,
    pub line: usize,
}

impl Restriction {
    pub fn is_messaging(&self) -> bool {
        self.types.iter().any(|t| is_messaging_restriction(t))
    }

    pub fn active(&self, now: i64) -> bool {
        self.expiration.is_some_and(|e| e > now)
    }

    /// The ladder step this block's length matches (`3-day block`), if known.
    pub fn ladder_step(&self) -> Option<usize> {
        let secs = self.expiration? - self.time;
        if secs <= 0 {
            return None;
        }
        let days = secs as f64 / DAY as f64;
        let (i, _) = BLOCK_DAYS
            .iter()
            .enumerate()
            .map(|(i, d)| (i, (days - *d as f64).abs() / *d as f64))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        Some(i + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BanState {
    pub time: i64,
    /// `DISABLE | REINSTATE | SCHEDULE_FOR_DISABLE | ...` (verbatim).
    pub state: String,
    pub date: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub time: i64,
    pub severity: String,
    pub alert_type: String,
    pub description: Option<String>,
    pub entity: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberEvent {
    pub time: i64,
    /// The phone number id, when the display number matches a known number.
    pub phone_number_id: Option<String>,
    /// The display number as the webhook sent it (digits).
    pub display: String,
    pub event: String,
    pub old_limit: Option<String>,
    pub current_limit: Option<String>,
    pub line: usize,
}

/// Everything the event history says about enforcement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub violations: Vec<Violation>,
    pub restrictions: Vec<Restriction>,
    /// Ban state changes in time order.
    pub bans: Vec<BanState>,
    /// Alerts whose latest state is ACTIVE, per (entity, type).
    pub active_alerts: Vec<Alert>,
    /// Numbers whose latest flag event is FLAGGED.
    pub flagged: Vec<NumberEvent>,
    pub downgrades: Vec<NumberEvent>,
    /// `PARTNER_ADDED` / `PARTNER_REMOVED` / other migration-like events.
    pub migrations: Vec<(i64, String)>,
}

impl History {
    /// The latest ban state, if any event set one.
    pub fn ban(&self) -> Option<&BanState> {
        self.bans.last()
    }

    /// The active messaging block with the latest expiration.
    pub fn active_block(&self, now: i64) -> Option<&Restriction> {
        self.restrictions
            .iter()
            .filter(|r| r.is_messaging() && r.active(now))
            .max_by_key(|r| r.expiration)
    }

    /// Messaging blocks that started at or before `until`.
    pub fn blocks_before(&self, until: i64) -> Vec<&Restriction> {
        self.restrictions
            .iter()
            .filter(|r| r.is_messaging() && r.time <= until)
            .collect()
    }
}

/// Digits of a phone number.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The phone number whose display number has these digits.
pub fn number_by_display<'a>(snap: &'a Snapshot, display: &str) -> Option<&'a PhoneNumber> {
    let d = digits(display);
    if d.is_empty() {
        return None;
    }
    snap.phone_numbers.iter().find(|n| {
        n.display_phone_number
            .as_deref()
            .is_some_and(|x| digits(x) == d)
    })
}

fn upper(s: Option<&str>) -> String {
    s.unwrap_or("").trim().to_ascii_uppercase()
}

/// Reads the event history (events are already in time order).
pub fn history(snap: &Snapshot) -> History {
    let mut h = History::default();
    let mut alerts: BTreeMap<(String, String), Alert> = BTreeMap::new();
    let mut alert_active: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut flags: BTreeMap<String, NumberEvent> = BTreeMap::new();
    for ev in &snap.events {
        match &ev.kind {
            EventKind::AccountUpdate(u) => account_update(&mut h, ev, u),
            EventKind::AccountAlerts(a) => alert(&mut alerts, &mut alert_active, ev, a),
            EventKind::PhoneNumberQualityUpdate(q) => number_event(snap, &mut h, &mut flags, ev, q),
            _ => {}
        }
    }
    h.active_alerts = alerts
        .into_iter()
        .filter(|(k, _)| alert_active.get(k).copied().unwrap_or(false))
        .map(|(_, a)| a)
        .collect();
    h.active_alerts.sort_by_key(|a| a.time);
    h.flagged = flags
        .into_values()
        .filter(|e| e.event == "FLAGGED")
        .collect();
    h
}

fn account_update(h: &mut History, ev: &WebhookEvent, u: &AccountUpdate) {
    match upper(u.event.as_deref()).as_str() {
        "ACCOUNT_VIOLATION" => h.violations.push(Violation {
            time: ev.time,
            violation_type: u
                .violation_info
                .as_ref()
                .and_then(|v| v.violation_type.clone())
                .unwrap_or_else(|| "unspecified".into()),
            line: ev.line,
        }),
        "ACCOUNT_RESTRICTION" => h.restrictions.push(Restriction {
            time: ev.time,
            types: u
                .restriction_info
                .iter()
                .filter_map(|r| r.restriction_type.clone())
                .collect(),
            expiration: u.restriction_info.iter().filter_map(|r| r.expiration).max(),
            line: ev.line,
        }),
        "DISABLED_UPDATE" | "BAN_STATE" => {
            if let Some(b) = &u.ban_info {
                for state in &b.waba_ban_state {
                    h.bans.push(BanState {
                        time: ev.time,
                        state: state.trim().to_ascii_uppercase(),
                        date: b.waba_ban_date.clone(),
                        line: ev.line,
                    });
                }
            }
        }
        e @ ("PARTNER_ADDED" | "PARTNER_REMOVED" | "ACCOUNT_DELETED") => {
            h.migrations.push((ev.time, e.to_owned()));
        }
        _ => {}
    }
}

fn alert(
    alerts: &mut BTreeMap<(String, String), Alert>,
    active: &mut BTreeMap<(String, String), bool>,
    ev: &WebhookEvent,
    a: &AccountAlert,
) {
    let info = a.alert_info.clone().unwrap_or_default();
    let entity = format!(
        "{} {}",
        a.entity_type.as_deref().unwrap_or("ENTITY"),
        a.entity_id.as_deref().unwrap_or("")
    )
    .trim()
    .to_owned();
    let kind = info
        .alert_type
        .clone()
        .unwrap_or_else(|| "unspecified".into());
    let key = (entity.clone(), kind.clone());
    let status = upper(info.alert_status.as_deref());
    active.insert(key.clone(), status == "ACTIVE" || status.is_empty());
    alerts.insert(
        key,
        Alert {
            time: ev.time,
            severity: upper(info.alert_severity.as_deref()),
            alert_type: kind,
            description: info.alert_description.clone(),
            entity,
            line: ev.line,
        },
    );
}

fn number_event(
    snap: &Snapshot,
    h: &mut History,
    flags: &mut BTreeMap<String, NumberEvent>,
    ev: &WebhookEvent,
    q: &PhoneQualityUpdate,
) {
    let display = digits(q.display_phone_number.as_deref().unwrap_or(""));
    let e = NumberEvent {
        time: ev.time,
        phone_number_id: number_by_display(snap, &display).and_then(|n| n.id.clone()),
        display: display.clone(),
        event: upper(q.event.as_deref()),
        old_limit: q.old_limit.clone(),
        current_limit: q.current_limit.clone(),
        line: ev.line,
    };
    match e.event.as_str() {
        "FLAGGED" | "UNFLAGGED" | "UPGRADE" => {
            flags.insert(display, e);
        }
        "DOWNGRADE" => {
            flags.insert(display, e.clone());
            h.downgrades.push(e);
        }
        _ => {}
    }
}

/// One error code in the send log, around `now`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CodeWindow {
    pub code: i64,
    pub last_24h: u64,
    pub last_7d: u64,
    /// The 6 days before the last 24 h.
    pub prior_6d: u64,
    pub rows_24h: u64,
    pub rows_7d: u64,
    pub rows_prior_6d: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub phone_number_ids: Vec<String>,
}

impl CodeWindow {
    pub fn rate_24h(&self) -> f64 {
        ratio(self.last_24h, self.rows_24h)
    }
    pub fn rate_7d(&self) -> f64 {
        ratio(self.last_7d, self.rows_7d)
    }
    pub fn rate_prior_6d(&self) -> f64 {
        ratio(self.prior_6d, self.rows_prior_6d)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Counts of `code` in the last 24 h, the last 7 days and the 6 days before
/// the last 24 h (all ending at `now`).
pub fn code_window(stats: &SendStats, code: i64, now: i64) -> CodeWindow {
    let d1 = stats.window(now - DAY, now, None);
    let d7 = stats.window(now - 7 * DAY, now, None);
    let prior = stats.window(now - 7 * DAY, now - DAY, None);
    let c = stats.codes.get(&code);
    CodeWindow {
        code,
        last_24h: d1.count(code),
        last_7d: d7.count(code),
        prior_6d: prior.count(code),
        rows_24h: d1.rows,
        rows_7d: d7.rows,
        rows_prior_6d: prior.rows,
        first: c.map(|c| c.first),
        last: c.map(|c| c.last),
        phone_number_ids: c
            .map(|c| c.phone_number_ids.iter().cloned().collect())
            .unwrap_or_default(),
    }
}

/// A lock or block seen in the send log.
#[derive(Debug, Clone, PartialEq)]
pub struct SendBlock {
    pub code: i64,
    pub count_7d: u64,
    pub first: i64,
    pub last: i64,
    pub phone_number_ids: Vec<String>,
    /// Sends succeeded on an affected number after the last error.
    pub resolved: bool,
}

/// The 131031 / 368 errors of the last 7 days, if any.
pub fn send_block(stats: &SendStats, code: i64, now: i64) -> Option<SendBlock> {
    let w = code_window(stats, code, now);
    if w.last_7d == 0 {
        return None;
    }
    let c = stats.codes.get(&code)?;
    let resolved = c.phone_number_ids.iter().all(|n| {
        stats
            .last_ok
            .get(n)
            .is_some_and(|ok| *ok > c.last && *ok <= now)
    });
    Some(SendBlock {
        code,
        count_7d: w.last_7d,
        first: c.first,
        last: c.last,
        phone_number_ids: c.phone_number_ids.iter().cloned().collect(),
        resolved,
    })
}

/// `now` as unix seconds.
pub fn unix(now: DateTime<Utc>) -> i64 {
    now.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_length_maps_to_the_ladder() {
        let r = |days: f64| Restriction {
            time: 0,
            types: vec!["RESTRICTED_BIZ_INITIATED_MESSAGING".into()],
            expiration: Some((days * DAY as f64) as i64),
            line: 1,
        };
        assert_eq!(r(1.0).ladder_step(), Some(1));
        assert_eq!(r(3.0).ladder_step(), Some(2));
        assert_eq!(r(5.2).ladder_step(), Some(3));
        assert_eq!(r(7.0).ladder_step(), Some(4));
        assert_eq!(r(30.0).ladder_step(), Some(5));
        assert_eq!(LADDER[r(3.0).ladder_step().unwrap()], "3-day block");
    }
}
