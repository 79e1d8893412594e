//! The Snapshot: everything collected about one account, in the Graph API's
//! own field names.
//!
//! Both sources (saved exports and the live Graph API) produce this model, and
//! nothing after collection knows which one did. Enumerations Meta extends over
//! time (statuses, categories, ratings) are kept as verbatim strings, so an
//! unknown value is never a parse failure; the checks interpret them and report
//! values they do not know as `info`.

pub mod optin;
pub mod optout;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

pub mod signals;
pub use signals::{
    EventKind, NumberState, SendStats, TwoStep, WebhookEvent, WindowCounts, parse_time, tier_rank,
};

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[default]
    Exports,
    Graph,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Exports => "exports",
            SourceKind::Graph => "graph",
        }
    }
}

/// A note made while collecting: a missing optional file, a skipped line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectNote {
    /// `info` for expected gaps (an optional file absent), `warning` for data
    /// that could not be read and was skipped.
    pub level: NoteLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteLevel {
    Info,
    Warning,
}

/// Everything known about one account at collection time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The configured account name.
    pub account: String,
    pub waba_id: String,
    pub source: SourceKind,
    /// The WABA node (`GET /{waba-id}`), when available.
    #[serde(default)]
    pub waba: Option<Waba>,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(default)]
    pub phone_numbers: Vec<PhoneNumber>,
    /// Business profiles keyed by phone number id.
    #[serde(default)]
    pub profiles: BTreeMap<String, BusinessProfile>,
    #[serde(default)]
    pub notes: Vec<CollectNote>,
    /// Webhook events from `events.jsonl`: de-duplicated, ordered by time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<WebhookEvent>,
    /// Send statistics aggregated from the account's `send_log`, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_stats: Option<SendStats>,
    /// Where the two-step verification PIN is kept (from the config), if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_step: Option<TwoStep>,
    /// Opt-in coverage of the audiences configured on the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<optin::AudienceCoverage>,
    /// Opt-out replies checked against consent ledgers (accounts with `inbound`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optouts: Vec<optout::OptoutAudit>,
}

impl Snapshot {
    pub fn note_info(&mut self, msg: impl Into<String>) {
        self.notes.push(CollectNote {
            level: NoteLevel::Info,
            message: msg.into(),
        });
    }

    pub fn note_warning(&mut self, msg: impl Into<String>) {
        self.notes.push(CollectNote {
            level: NoteLevel::Warning,
            message: msg.into(),
        });
    }

    /// The business profile verticals of all numbers (for regulated-vertical
    /// checks), upper-case.
    pub fn verticals(&self) -> Vec<String> {
        self.profiles
            .values()
            .filter_map(|p| p.vertical.as_deref())
            .map(|v| v.to_ascii_uppercase())
            .collect()
    }
}

/// Accepts a Graph id given as a JSON string or number (webhooks send numbers).
pub fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        U(u64),
        I(i64),
        F(f64),
    }
    Ok(match Option::<Id>::deserialize(d)? {
        None => None,
        Some(Id::S(s)) => Some(s),
        Some(Id::U(u)) => Some(u.to_string()),
        Some(Id::I(i)) => Some(i.to_string()),
        Some(Id::F(f)) => Some(format!("{f}")),
    })
}

/// Accepts `null` as the default value (Graph sometimes sends explicit nulls).
fn de_null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `GET /{waba-id}?fields=...`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Waba {
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub timezone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_namespace: Option<String>,
    /// `PENDING | APPROVED | REJECTED`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_review_status: Option<String>,
    /// `not_verified | pending | ... | verified`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_verification_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
}

/// `health_status` on a WABA, phone number, business or app.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthStatus {
    /// `AVAILABLE | LIMITED | BLOCKED`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_send_message: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub entities: Vec<HealthEntity>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthEntity {
    /// `PHONE_NUMBER | WABA | BUSINESS | APP | MESSAGE_TEMPLATE`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_send_message: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<HealthError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possible_solution: Option<String>,
}

/// One entry of `GET /{waba-id}/phone_numbers`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhoneNumber {
    #[serde(default, deserialize_with = "de_opt_id")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
    /// `VERIFIED | NOT_VERIFIED | EXPIRED`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verification_status: Option<String>,
    /// `GREEN | YELLOW | RED | UNKNOWN | NA`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_rating: Option<String>,
    /// Deprecated per-number tier (`TIER_1K`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit_tier: Option<String>,
    /// Portfolio-level messaging limit (replaces `messaging_limit_tier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_manager_messaging_limit: Option<String>,
    /// `CONNECTED | FLAGGED | RESTRICTED | BANNED | ...`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_official_business_account: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
}

impl PhoneNumber {
    /// The effective messaging limit: the portfolio-level value, falling back
    /// to the deprecated per-number tier.
    pub fn messaging_limit(&self) -> Option<&str> {
        self.whatsapp_business_manager_messaging_limit
            .as_deref()
            .or(self.messaging_limit_tier.as_deref())
    }

    pub fn id_str(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }
}

/// `GET /{phone-number-id}/whatsapp_business_profile` (the first `data` entry).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BusinessProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_picture_url: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub websites: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<String>,
}

/// One message template (`GET /{waba-id}/message_templates`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Template {
    #[serde(
        default,
        deserialize_with = "de_opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "de_null_default")]
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Declared category: `MARKETING | UTILITY | AUTHENTICATION` (kept verbatim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub components: Vec<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<QualityScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
}

/// A template's declared category, interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    /// Missing or a value wabaguard does not know.
    Other,
}

impl Category {
    pub fn parse(s: Option<&str>) -> Category {
        match s.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            Some("MARKETING") => Category::Marketing,
            Some("UTILITY") => Category::Utility,
            Some("AUTHENTICATION") => Category::Authentication,
            _ => Category::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "MARKETING",
            Category::Utility => "UTILITY",
            Category::Authentication => "AUTHENTICATION",
            Category::Other => "OTHER",
        }
    }
}

impl Template {
    pub fn category(&self) -> Category {
        Category::parse(self.category.as_deref())
    }

    /// The first component of the given type (`HEADER`, `BODY`, ...), case-insensitive.
    pub fn component(&self, kind: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|c| c.kind.eq_ignore_ascii_case(kind))
    }

    pub fn body_text(&self) -> &str {
        self.component("BODY")
            .and_then(|c| c.text.as_deref())
            .unwrap_or("")
    }

    /// All buttons of all BUTTONS components.
    pub fn buttons(&self) -> impl Iterator<Item = &Button> {
        self.components
            .iter()
            .filter(|c| c.kind.eq_ignore_ascii_case("BUTTONS"))
            .flat_map(|c| c.buttons.iter())
    }

    /// The text a recipient reads: header text, body, footer and button
    /// labels, one per line. This is what content rules match against.
    pub fn visible_text(&self) -> String {
        let mut out = String::new();
        for part in self.visible_parts() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(part);
        }
        out
    }

    /// The texts [`visible_text`](Self::visible_text) joins: HEADER, BODY
    /// and FOOTER texts, then button labels.
    pub fn visible_parts(&self) -> impl Iterator<Item = &str> {
        ["HEADER", "BODY", "FOOTER"]
            .into_iter()
            .flat_map(|kind| {
                self.components
                    .iter()
                    .filter(move |c| c.kind.eq_ignore_ascii_case(kind))
                    .filter_map(|c| c.text.as_deref())
            })
            .chain(self.buttons().filter_map(|b| b.text.as_deref()))
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityScore {
    /// `GREEN | YELLOW | RED | UNKNOWN`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Component {
    /// `HEADER | BODY | FOOTER | BUTTONS`
    #[serde(rename = "type", default, deserialize_with = "de_null_default")]
    pub kind: String,
    /// Header format: `TEXT | IMAGE | VIDEO | DOCUMENT | LOCATION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<ComponentExample>,
    #[serde(
        default,
        deserialize_with = "de_null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_security_recommendation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expiration_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ComponentExample {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_text: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_handle: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text_named_params: Option<Vec<NamedParam>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_text_named_params: Option<Vec<NamedParam>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NamedParam {
    #[serde(default)]
    pub param_name: String,
    #[serde(default)]
    pub example: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Button {
    /// `QUICK_REPLY | URL | PHONE_NUMBER | COPY_CODE | OTP | FLOW | CATALOG | MPM | VOICE_CALL`
    #[serde(rename = "type", default, deserialize_with = "de_null_default")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// A string or an array of strings, depending on the button type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
    /// OTP buttons: `COPY_CODE | ONE_TAP | ZERO_TAP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autofill_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_hash: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reference_template_and_keeps_unknown_enums() {
        let json = r##"{"id": "1842991250135544", "name": "order_shipped", "language": "en_US",
          "status": "SOMETHING_NEW", "category": "UTILITY", "unknown_field": {"x": 1},
          "components": [
           {"type": "HEADER", "format": "TEXT", "text": "Your order is on its way"},
           {"type": "BODY", "text": "Hi {{1}}, order {{2}} left.", "example": {"body_text": [["Maria", "#48213"]]}},
           {"type": "FOOTER", "text": "Lumen Outfitters"},
           {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x/{{1}}", "example": ["https://x/1"]}]}]}"##;
        let t: Template = serde_json::from_str(json).unwrap();
        assert_eq!(t.status.as_deref(), Some("SOMETHING_NEW"));
        assert_eq!(t.category(), Category::Utility);
        assert_eq!(t.body_text(), "Hi {{1}}, order {{2}} left.");
        assert_eq!(t.buttons().count(), 1);
        assert_eq!(
            t.visible_text(),
            "Your order is on its way\nHi {{1}}, order {{2}} left.\nLumen Outfitters\nTrack"
        );
    }

    #[test]
    fn numeric_ids_and_nulls_are_accepted() {
        let t: Template = serde_json::from_str(
            r#"{"id": 123, "name": "x", "language": "es", "components": null}"#,
        )
        .unwrap();
        assert_eq!(t.id.as_deref(), Some("123"));
        assert!(t.components.is_empty());
        assert_eq!(t.category(), Category::Other);
    }
}
