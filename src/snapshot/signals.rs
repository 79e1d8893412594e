//! Account signals in the Snapshot: webhook events, aggregated send
//! statistics, the two-step verification settings and the compact per-number
//! state kept from one run to the next.
//!
//! Webhook payloads keep Meta's field names; every enumeration stays a
//! verbatim string and unknown keys are kept in `other`, so a field or value
//! Meta adds later is carried through instead of dropped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

use super::de_opt_id;

/// One webhook change (`entry[].changes[]`) from `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `entry[].time`: when Meta says the event happened (unix seconds).
    pub time: i64,
    /// `entry[].id`: the WABA the event belongs to.
    pub entry_id: String,
    /// 1-based line of `events.jsonl` where this event was first delivered.
    pub line: usize,
    /// `changes[].field`, verbatim (`account_update`, ...).
    pub field: String,
    /// The change's `value`, typed for the fields wabaguard interprets.
    pub kind: EventKind,
}

/// The interpreted `value` of a webhook change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    AccountUpdate(AccountUpdate),
    AccountAlerts(AccountAlert),
    PhoneNumberQualityUpdate(PhoneQualityUpdate),
    MessageTemplateStatusUpdate(TemplateStatusUpdate),
    TemplateCategoryUpdate(TemplateCategoryUpdate),
    /// A field wabaguard does not interpret, or a value of unexpected shape,
    /// kept verbatim.
    Other {
        value: serde_json::Value,
    },
}

/// `account_update` value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// `ACCOUNT_VIOLATION | ACCOUNT_RESTRICTION | DISABLED_UPDATE | BAN_STATE | ...`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_info: Option<ViolationInfo>,
    #[serde(
        default,
        deserialize_with = "de_one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub restriction_info: Vec<RestrictionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_info: Option<BanInfo>,
    /// Keys wabaguard does not interpret, verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ViolationInfo {
    /// `SCAM | ADULT | ILLEGAL_PRODUCTS_OR_SERVICES | SPAM | ...`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_type: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RestrictionInfo {
    /// `RESTRICTED_ADD_PHONE_NUMBER_ACTION | RESTRICTED_BIZ_INITIATED_MESSAGING | RESTRICTED_CUSTOMER_INITIATED_MESSAGING`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_type: Option<String>,
    /// Unix seconds.
    #[serde(
        default,
        deserialize_with = "de_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BanInfo {
    /// `DISABLE | REINSTATE | SCHEDULE_FOR_DISABLE` (a string or an array in the wild).
    #[serde(
        default,
        deserialize_with = "de_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub waba_ban_state: Vec<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub waba_ban_date: Option<String>,
}

/// `account_alerts` value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountAlert {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_info: Option<AlertInfo>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertInfo {
    /// `CRITICAL | WARNING | INFORMATIONAL`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_severity: Option<String>,
    /// `ACTIVE | NONE`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_description: Option<String>,
}

/// `phone_number_quality_update` value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhoneQualityUpdate {
    /// Digits with country code, as webhooks send it (`14155550134`).
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_phone_number: Option<String>,
    /// `FLAGGED | UNFLAGGED | UPGRADE | DOWNGRADE | ONBOARDING | THROUGHPUT_UPGRADE`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_limit: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `message_template_status_update` value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TemplateStatusUpdate {
    /// `APPROVED | REJECTED | PENDING | PAUSED | DISABLED | FLAGGED | REINSTATED | ...`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_info: Option<OtherInfo>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OtherInfo {
    /// `FIRST_PAUSE | SECOND_PAUSE | RATE_LIMITING_PAUSE | UNPAUSE | DISABLED`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `template_category_update` value: the impending change
/// (`correct_category` + `category_update_timestamp`) or the completed one
/// (`previous_category` + `new_category`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TemplateCategoryUpdate {
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_category: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub category_update_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_category: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// Send statistics aggregated from the account's send log while reading it
/// (the rows themselves are not kept): 10-minute buckets per phone number,
/// per-code totals, the last successful send per number.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SendStats {
    /// The send log as configured (for messages).
    pub file: String,
    /// Rows read (good ones).
    pub rows: u64,
    /// Rows skipped because they could not be read.
    pub bad_rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
    /// Sorted by (start, phone number id).
    #[serde(default)]
    pub buckets: Vec<SendBucket>,
    /// Per error code.
    #[serde(default)]
    pub codes: BTreeMap<i64, CodeStats>,
    /// Last row per phone number id that was sent/delivered/read without an error.
    #[serde(default)]
    pub last_ok: BTreeMap<String, i64>,
    /// Whether the log names the template of each send (`template_name` or `template`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template_column: bool,
    /// Successful sends per template, language, country and UTC day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_volume: Vec<TemplateDay>,
}

/// Successful sends of one template to one country on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateDay {
    pub template: String,
    /// Empty when the log has no language column.
    #[serde(default)]
    pub language: String,
    /// ISO 3166 alpha-2; `*` for a recipient whose calling code is not known;
    /// empty when the log names neither a country nor a recipient.
    #[serde(default)]
    pub country: String,
    /// Start of the UTC day (unix seconds).
    pub day: i64,
    pub sends: u64,
}

/// Width of a send-statistics bucket: windows are exact to this.
pub const BUCKET_SECS: i64 = 600;

/// Ten minutes of one phone number's sends.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SendBucket {
    /// Start of the bucket (unix seconds, UTC, a multiple of [`BUCKET_SECS`]).
    pub start: i64,
    pub phone_number_id: String,
    pub rows: u64,
    /// Rows with an error code or status `failed`.
    pub failed: u64,
    /// Rows per error code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<i64, u64>,
}

/// Totals of one error code over the whole log.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CodeStats {
    pub count: u64,
    pub first: i64,
    pub last: i64,
    pub phone_number_ids: BTreeSet<String>,
}

impl SendStats {
    /// Adds one good row.
    pub fn add(&mut self, ts: i64, phone_number_id: &str, status: &str, error_code: Option<i64>) {
        self.rows += 1;
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
        let start = ts.div_euclid(BUCKET_SECS) * BUCKET_SECS;
        let failed = error_code.is_some() || status.eq_ignore_ascii_case("failed");
        let i = match self.buckets.binary_search_by(|b| {
            (b.start, b.phone_number_id.as_str()).cmp(&(start, phone_number_id))
        }) {
            Ok(i) => i,
            Err(i) => {
                self.buckets.insert(
                    i,
                    SendBucket {
                        start,
                        phone_number_id: phone_number_id.to_owned(),
                        ..SendBucket::default()
                    },
                );
                i
            }
        };
        let b = &mut self.buckets[i];
        b.rows += 1;
        if failed {
            b.failed += 1;
        }
        if let Some(code) = error_code {
            *b.errors.entry(code).or_insert(0) += 1;
            let c = self.codes.entry(code).or_insert_with(|| CodeStats {
                count: 0,
                first: ts,
                last: ts,
                phone_number_ids: BTreeSet::new(),
            });
            c.count += 1;
            c.first = c.first.min(ts);
            c.last = c.last.max(ts);
            if !c.phone_number_ids.contains(phone_number_id) {
                c.phone_number_ids.insert(phone_number_id.to_owned());
            }
        } else if matches!(
            status.to_ascii_lowercase().as_str(),
            "sent" | "delivered" | "read" | "accepted"
        ) {
            let e = self.last_ok.entry(phone_number_id.to_owned()).or_insert(ts);
            *e = (*e).max(ts);
        }
    }

    /// Rows and rows per code between `from` and `to` (to [`BUCKET_SECS`]),
    /// optionally for one number.
    pub fn window(&self, from: i64, to: i64, number: Option<&str>) -> WindowCounts {
        let mut w = WindowCounts::default();
        // A bucket belongs to the window when it starts in `[from, to)`, so
        // adjacent windows never share a bucket.
        for b in &self.buckets {
            if b.start < from || b.start >= to {
                continue;
            }
            if number.is_some_and(|n| n != b.phone_number_id) {
                continue;
            }
            w.rows += b.rows;
            w.failed += b.failed;
            for (c, n) in &b.errors {
                *w.errors.entry(*c).or_insert(0) += n;
            }
        }
        w
    }

    /// Successful sends of a template (rows without a language match any
    /// language) per country, over the days starting in `[from, to)`.
    pub fn template_sends(
        &self,
        template: &str,
        language: &str,
        from: i64,
        to: i64,
    ) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for d in &self.template_volume {
            if d.template != template
                || (!d.language.is_empty() && d.language != language)
                || d.day < from
                || d.day >= to
            {
                continue;
            }
            *out.entry(d.country.clone()).or_insert(0) += d.sends;
        }
        out
    }

    /// Phone number ids that appear in the log.
    pub fn numbers(&self) -> BTreeSet<&str> {
        self.buckets
            .iter()
            .map(|b| b.phone_number_id.as_str())
            .collect()
    }
}

/// Counts over a time window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WindowCounts {
    pub rows: u64,
    pub failed: u64,
    pub errors: BTreeMap<i64, u64>,
}

impl WindowCounts {
    pub fn count(&self, code: i64) -> u64 {
        self.errors.get(&code).copied().unwrap_or(0)
    }

    /// Share of rows with `code` (0 when there are no rows).
    pub fn rate(&self, code: i64) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.count(code) as f64 / self.rows as f64
        }
    }
}

/// Two-step verification settings from the config: *where* the PIN is kept
/// and when it was last rotated — never the PIN itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TwoStep {
    /// `env:NAME`, `vault:path`, ... (a location, not a value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<NaiveDate>,
    /// When the number(s) were last registered or re-registered (a migration
    /// between providers counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<NaiveDate>,
}

/// The compact per-number state a report keeps so the next run can compare
/// (messaging limit downgrades, status changes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NumberState {
    pub id: String,
    /// Display number, masked when reports mask phone numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_rating: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The effective messaging limit (portfolio limit, else the per-number tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit: Option<String>,
}

/// The rank of a messaging limit tier (higher = more), `None` when unknown.
pub fn tier_rank(tier: &str) -> Option<u8> {
    match tier.trim().to_ascii_uppercase().as_str() {
        "TIER_50" => Some(1),
        "TIER_250" => Some(2),
        "TIER_1K" => Some(3),
        "TIER_2K" => Some(4),
        "TIER_10K" => Some(5),
        "TIER_100K" => Some(6),
        "TIER_UNLIMITED" | "UNLIMITED" => Some(7),
        _ => None,
    }
}

/// A time given as unix seconds (number or numeric string) or RFC 3339.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let v: i64 = s.parse().ok()?;
        // Unix seconds between 2000 and 2100; anything else is not a timestamp.
        return (946_684_800..4_102_444_800).contains(&v).then_some(v);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum T {
        I(i64),
        F(f64),
        S(String),
    }
    Ok(match Option::<T>::deserialize(d)? {
        None => None,
        Some(T::I(i)) => Some(i),
        Some(T::F(f)) => Some(f as i64),
        Some(T::S(s)) => parse_time(&s),
    })
}

fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

fn de_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Some(other) => vec![other.to_string()],
    })
}

fn de_one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(t)) => vec![t],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_time_accepts_unix_and_rfc3339() {
        assert_eq!(parse_time("1795119040"), Some(1_795_119_040));
        assert_eq!(parse_time("2026-11-18T02:15:18.898Z"), Some(1_794_968_118));
        assert_eq!(parse_time("2026-11-18T00:00:00-03:00"), Some(1_794_970_800));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("1795119040000"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn tiers_rank() {
        assert!(tier_rank("TIER_1K") < tier_rank("TIER_10K"));
        assert!(tier_rank("tier_2k") > tier_rank("TIER_1K"));
        assert_eq!(tier_rank("TIER_42"), None);
    }

    #[test]
    fn windows_count_per_code_and_number() {
        let mut s = SendStats::default();
        let t0 = 1_795_000_000;
        s.add(t0, "1", "delivered", None);
        s.add(t0 + 10, "1", "failed", Some(131_049));
        s.add(t0 + 7200, "2", "failed", Some(131_048));
        assert_eq!(s.rows, 3);
        let w = s.window(t0 - 600, t0 + 86_400, None);
        assert_eq!(
            (w.rows, w.failed, w.count(131_049), w.count(131_048)),
            (3, 2, 1, 1)
        );
        let w1 = s.window(t0 - 600, t0 + 86_400, Some("2"));
        assert_eq!((w1.rows, w1.count(131_048)), (1, 1));
        assert_eq!(s.codes[&131_049].phone_number_ids.len(), 1);
        assert_eq!(s.last_ok["1"], t0);
    }
}
