//! Critical webhook events: the signals that cannot wait for the next
//! scheduled run. They are posted to every `[[notify]]` target as soon as
//! the change is stored — once: a replayed delivery is dropped by the
//! store before it gets here.
//!
//! Critical: `account_update` ACCOUNT_VIOLATION, ACCOUNT_RESTRICTION,
//! BAN_STATE, DISABLED_UPDATE; `phone_number_quality_update` FLAGGED,
//! DOWNGRADE; `message_template_status_update` PAUSED, DISABLED; any
//! `template_category_update` (impending or done).

use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::config::{NotifyConfig, NotifyFormat};
use crate::metrics::Metrics;

/// A critical change, described for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Critical {
    pub account: String,
    pub waba_id: String,
    /// `changes[].field`.
    pub field: String,
    /// The event (`ACCOUNT_VIOLATION`, `FLAGGED`, `PAUSED`, ...;
    /// `CATEGORY_CHANGE` for `template_category_update`).
    pub event: String,
    /// When Meta says it happened (RFC 3339).
    pub time: String,
    /// One sentence (phone numbers masked unless configured otherwise).
    pub summary: String,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn id_str(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `Some` when the change is critical.
pub fn classify(
    account: &str,
    waba_id: &str,
    time: i64,
    field: &str,
    value: &Value,
    mask: bool,
) -> Option<Critical> {
    let event = s(value, "event").unwrap_or_default();
    let summary = match (field, event) {
        ("account_update", "ACCOUNT_VIOLATION") => {
            let t = value
                .pointer("/violation_info/violation_type")
                .and_then(Value::as_str)
                .unwrap_or("unspecified");
            format!("Meta recorded a policy violation ({t}) on the account")
        }
        ("account_update", "ACCOUNT_RESTRICTION") => {
            let types: Vec<&str> = value
                .get("restriction_info")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|r| s(r, "restriction_type")).collect())
                .unwrap_or_default();
            format!(
                "Meta restricted the account: {}",
                if types.is_empty() {
                    "unspecified".to_owned()
                } else {
                    types.join(", ")
                }
            )
        }
        ("account_update", "BAN_STATE" | "DISABLED_UPDATE") => {
            let state = match value.pointer("/ban_info/waba_ban_state") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => "unspecified".into(),
            };
            format!("ban state of the account changed ({event}): {state}")
        }
        ("phone_number_quality_update", "FLAGGED" | "DOWNGRADE") => {
            let num = s(value, "display_phone_number")
                .map(|n| crate::mask::phone(n, mask))
                .unwrap_or_else(|| "a phone number".into());
            match event {
                "FLAGGED" => format!("{num} was FLAGGED for low quality"),
                _ => format!(
                    "{num} was DOWNGRADED: messaging limit {} (was {})",
                    s(value, "current_limit").unwrap_or("?"),
                    s(value, "old_limit").unwrap_or("?")
                ),
            }
        }
        ("message_template_status_update", "PAUSED" | "DISABLED") => {
            let why = value
                .pointer("/other_info/title")
                .and_then(Value::as_str)
                .or_else(|| s(value, "reason"))
                .unwrap_or("no reason given");
            format!(
                "template {} ({}) was {event}: {why}",
                s(value, "message_template_name").unwrap_or("?"),
                s(value, "message_template_language").unwrap_or("?")
            )
        }
        ("template_category_update", _) => {
            let name = s(value, "message_template_name").unwrap_or("?");
            let lang = s(value, "message_template_language").unwrap_or("?");
            match (s(value, "new_category"), s(value, "correct_category")) {
                (Some(new), _) => format!(
                    "template {name} ({lang}) was recategorised from {} to {new}",
                    s(value, "previous_category").unwrap_or("?")
                ),
                (None, Some(c)) => {
                    format!("template {name} ({lang}) is about to be recategorised as {c}")
                }
                _ => format!(
                    "template {name} ({lang}) category update (template id {})",
                    id_str(value, "message_template_id").unwrap_or_else(|| "?".into())
                ),
            }
        }
        _ => return None,
    };
    let event = if field == "template_category_update" {
        "CATEGORY_CHANGE".to_owned()
    } else {
        event.to_owned()
    };
    Some(Critical {
        account: account.to_owned(),
        waba_id: waba_id.to_owned(),
        field: field.to_owned(),
        event,
        time: Utc
            .timestamp_opt(time, 0)
            .single()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| time.to_string()),
        summary,
    })
}

/// The body posted for one critical event.
pub fn body(format: NotifyFormat, c: &Critical) -> Value {
    match format {
        NotifyFormat::Json => json!({
            "source": "wabaguard",
            "event": "webhook.critical",
            "account": c.account,
            "waba_id": c.waba_id,
            "field": c.field,
            "type": c.event,
            "time": c.time,
            "summary": c.summary,
        }),
        NotifyFormat::Slack => {
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            };
            json!({ "text": format!(
                ":rotating_light: *wabaguard* webhook, account *{}*: {} ({} at {})",
                esc(&c.account), esc(&c.summary), esc(&c.event), c.time
            ) })
        }
    }
}

/// Posts each critical event to every target as it arrives, until the
/// channel closes. Delivery (retries, backoff, errors without URLs) is
/// [`crate::notify::post`]'s.
pub async fn notifier(
    targets: Vec<NotifyConfig>,
    mut rx: tokio::sync::mpsc::Receiver<Critical>,
    metrics: Arc<Metrics>,
) {
    let client = match reqwest::Client::builder()
        .user_agent(concat!("wabaguard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "cannot build the HTTP client; critical events will only show in the next report");
            while rx.recv().await.is_some() {}
            return;
        }
    };
    while let Some(c) = rx.recv().await {
        if targets.is_empty() {
            info!(account = %c.account, event = %c.event, "critical webhook event stored (no [[notify]] target)");
            continue;
        }
        let posts = targets.iter().map(|t| {
            let client = &client;
            let c = &c;
            async move {
                let label = t.label();
                let url = match t.resolve_url() {
                    Ok(u) => u,
                    Err(e) => return (label, "?".to_owned(), Err(e)),
                };
                let r = crate::notify::post(client, &url.0, &body(t.format, c), t).await;
                (label, url.host(), r)
            }
        });
        for (label, host, r) in crate::notify::join_all(posts).await {
            match r {
                Ok(attempts) => {
                    metrics
                        .critical_notifications
                        .get_or_create(&vec![("outcome", "sent".to_owned())])
                        .inc();
                    info!(target = %label, host = %host, attempts, account = %c.account, event = %c.event, "critical event notified");
                }
                Err(e) => {
                    metrics
                        .critical_notifications
                        .get_or_create(&vec![("outcome", "failed".to_owned())])
                        .inc();
                    warn!(target = %label, host = %host, error = %e, account = %c.account, event = %c.event, "critical event notification failed; the next run reports it");
                }
            }
        }
    }
}
