//! `events.jsonl`: saved webhook deliveries, one Meta envelope per line.
//!
//! Meta retries failed deliveries for days, so the same change can arrive
//! twice and out of order. Every change (`entry[].changes[]`) is de-duplicated
//! on (field, entry id, entry time, value) and the result ordered by the
//! event's own time (`entry[].time`), not by the order of the lines. A line
//! that is not valid JSON becomes a warning naming its line number; the rest
//! of the file still loads.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::snapshot::signals::{
    AccountAlert, AccountUpdate, PhoneQualityUpdate, TemplateCategoryUpdate, TemplateStatusUpdate,
};
use crate::snapshot::{EventKind, Snapshot, WebhookEvent, de_opt_id};

/// At most this many broken lines are named one by one in notes.
const MAX_LINE_NOTES: usize = 10;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default, deserialize_with = "de_opt_id")]
    id: Option<String>,
    #[serde(default)]
    time: Option<serde_json::Value>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: serde_json::Value,
}

/// What reading an events file produced besides the events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventsReport {
    pub lines: usize,
    pub duplicates: usize,
    pub out_of_order: usize,
    /// `(line, message)` for each line that could not be used.
    pub broken: Vec<(usize, String)>,
    /// `(line, field)` for changes whose value did not have the expected shape
    /// (kept verbatim as `EventKind::Other`).
    pub odd_values: Vec<(usize, String)>,
}

/// Reads `dir/events.jsonl` into `snap.events` (absent file: nothing to do).
pub fn read_events_into(dir: &Path, snap: &mut Snapshot) -> Result<(), super::CollectError> {
    let path = dir.join("events.jsonl");
    if !path.is_file() {
        snap.note_info(format!(
            "{} not found: webhook events (violations, restrictions, alerts) were not checked",
            path.display()
        ));
        return Ok(());
    }
    let file = std::fs::File::open(&path).map_err(|source| super::CollectError::Io {
        path: path.clone(),
        source,
    })?;
    let (events, rep) =
        parse_events(std::io::BufReader::new(file)).map_err(|source| super::CollectError::Io {
            path: path.clone(),
            source,
        })?;
    note_report(snap, &path.display().to_string(), &rep, events.len());
    snap.events = events;
    Ok(())
}

/// Turns what reading one events file found into collection notes.
pub(crate) fn note_report(snap: &mut Snapshot, name: &str, rep: &EventsReport, kept: usize) {
    for (line, msg) in rep.broken.iter().take(MAX_LINE_NOTES) {
        snap.note_warning(format!("{name}: line {line} skipped: {msg}"));
    }
    if rep.broken.len() > MAX_LINE_NOTES {
        snap.note_warning(format!(
            "{name}: {} more broken lines skipped",
            rep.broken.len() - MAX_LINE_NOTES
        ));
    }
    for (line, field) in rep.odd_values.iter().take(MAX_LINE_NOTES) {
        snap.note_warning(format!(
            "{name}: line {line}: `{field}` value has an unexpected shape; kept verbatim, not interpreted"
        ));
    }
    if rep.duplicates > 0 || rep.out_of_order > 0 {
        snap.note_info(format!(
            "{name}: {kept} events from {} lines ({} duplicate deliveries dropped, {} delivered out of order and re-ordered by event time)",
            rep.lines, rep.duplicates, rep.out_of_order
        ));
    }
}

/// Parses JSON Lines webhook envelopes: de-duplicates and orders by event time.
pub fn parse_events(reader: impl BufRead) -> std::io::Result<(Vec<WebhookEvent>, EventsReport)> {
    let mut p = EventsParser::default();
    let rep = p.feed(reader)?;
    Ok((p.finish(), rep))
}

/// Reads several JSON Lines sources in turn (the export's `events.jsonl`,
/// then the webhook store's segments) with one de-duplication: a change
/// delivered to more than one of them counts once.
#[derive(Default)]
pub struct EventsParser {
    seen: HashSet<[u8; 16]>,
    // (time, source, line, change index within the line) keeps batched
    // changes in order.
    events: Vec<(i64, usize, usize, usize, WebhookEvent)>,
    max_time: Option<i64>,
    sources: usize,
}

impl EventsParser {
    /// Events kept so far.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Parses one source; the report counts this source's lines only.
    pub fn feed(&mut self, reader: impl BufRead) -> std::io::Result<EventsReport> {
        let mut rep = EventsReport::default();
        let source = self.sources;
        self.sources += 1;
        for (i, line) in reader.split(b'\n').enumerate() {
            let line_no = i + 1;
            let raw = line?;
            let raw = if line_no == 1 {
                raw.strip_prefix(b"\xEF\xBB\xBF")
                    .map(<[u8]>::to_vec)
                    .unwrap_or(raw)
            } else {
                raw
            };
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            rep.lines += 1;
            let env: Envelope = match serde_json::from_slice(&raw) {
                Ok(e) => e,
                Err(e) => {
                    let msg = e.to_string();
                    let msg = match msg.rfind(" at line ") {
                        Some(i) => msg[..i].to_owned(),
                        None => msg,
                    };
                    rep.broken
                        .push((line_no, format!("not a webhook envelope: {msg}")));
                    continue;
                }
            };
            if let Some(obj) = env.object.as_deref() {
                if obj != "whatsapp_business_account" {
                    rep.broken.push((
                        line_no,
                        format!("object `{obj}` is not `whatsapp_business_account`"),
                    ));
                    continue;
                }
            }
            if env.entry.is_empty() {
                rep.broken.push((line_no, "envelope has no `entry`".into()));
                continue;
            }
            let mut line_had_new = false;
            let mut line_time = i64::MIN;
            let mut change_no = 0;
            for entry in env.entry {
                let Some(time) = entry.time.as_ref().and_then(value_time) else {
                    rep.broken
                        .push((line_no, "entry without a usable `time`".into()));
                    continue;
                };
                let entry_id = entry.id.unwrap_or_default();
                for ch in entry.changes {
                    change_no += 1;
                    let field = ch.field.unwrap_or_default();
                    let key = dedup_key(&field, &entry_id, time, &ch.value);
                    if !self.seen.insert(key) {
                        rep.duplicates += 1;
                        continue;
                    }
                    line_had_new = true;
                    line_time = line_time.max(time);
                    let kind = interpret(&field, ch.value, line_no, &mut rep);
                    self.events.push((
                        time,
                        source,
                        line_no,
                        change_no,
                        WebhookEvent {
                            time,
                            entry_id: entry_id.clone(),
                            line: line_no,
                            field,
                            kind,
                        },
                    ));
                }
            }
            if line_had_new {
                if self.max_time.is_some_and(|m| line_time < m) {
                    rep.out_of_order += 1;
                }
                self.max_time = Some(self.max_time.map_or(line_time, |m| m.max(line_time)));
            }
        }
        Ok(rep)
    }

    /// The de-duplicated events of every source, ordered by event time.
    pub fn finish(mut self) -> Vec<WebhookEvent> {
        self.events.sort_by_key(|e| (e.0, e.1, e.2, e.3));
        self.events.into_iter().map(|e| e.4).collect()
    }
}

/// The de-duplication keys of the changes in one stored line (none when
/// the line is not a usable envelope).
pub fn line_keys(raw: &[u8]) -> Vec<[u8; 16]> {
    let Ok(env) = serde_json::from_slice::<Envelope>(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in env.entry {
        let Some(time) = entry.time.as_ref().and_then(value_time) else {
            continue;
        };
        let id = entry.id.unwrap_or_default();
        for ch in entry.changes {
            out.push(dedup_key(
                ch.field.as_deref().unwrap_or_default(),
                &id,
                time,
                &ch.value,
            ));
        }
    }
    out
}

/// `entry[].time` as unix seconds (a number, or an RFC 3339 string).
pub fn value_time(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => crate::snapshot::parse_time(s),
        _ => None,
    }
}

fn interpret(
    field: &str,
    value: serde_json::Value,
    line: usize,
    rep: &mut EventsReport,
) -> EventKind {
    fn typed<T: serde::de::DeserializeOwned>(
        v: &serde_json::Value,
        wrap: fn(T) -> EventKind,
    ) -> Option<EventKind> {
        serde_json::from_value::<T>(v.clone()).ok().map(wrap)
    }
    let known = match field {
        "account_update" => Some(typed::<AccountUpdate>(&value, EventKind::AccountUpdate)),
        "account_alerts" => Some(typed::<AccountAlert>(&value, EventKind::AccountAlerts)),
        "phone_number_quality_update" => Some(typed::<PhoneQualityUpdate>(
            &value,
            EventKind::PhoneNumberQualityUpdate,
        )),
        "message_template_status_update" => Some(typed::<TemplateStatusUpdate>(
            &value,
            EventKind::MessageTemplateStatusUpdate,
        )),
        "template_category_update" => Some(typed::<TemplateCategoryUpdate>(
            &value,
            EventKind::TemplateCategoryUpdate,
        )),
        _ => None,
    };
    match known {
        Some(Some(kind)) if value.is_object() => kind,
        Some(_) => {
            rep.odd_values.push((line, field.to_owned()));
            EventKind::Other { value }
        }
        None => EventKind::Other { value },
    }
}

/// A digest of the change that ignores key order and whitespace: the
/// identity of a change for de-duplication (also used by the webhook store).
pub fn dedup_key(field: &str, entry_id: &str, time: i64, value: &serde_json::Value) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(field.as_bytes());
    h.update([0x1f]);
    h.update(entry_id.as_bytes());
    h.update([0x1f]);
    h.update(time.to_le_bytes());
    h.update([0x1f]);
    canonical(value, &mut h);
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn canonical(v: &serde_json::Value, h: &mut Sha256) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.update(b"{");
            for k in keys {
                h.update(k.as_bytes());
                h.update(b":");
                canonical(&m[k], h);
                h.update(b",");
            }
            h.update(b"}");
        }
        serde_json::Value::Array(a) => {
            h.update(b"[");
            for x in a {
                canonical(x, h);
                h.update(b",");
            }
            h.update(b"]");
        }
        other => h.update(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(time: i64, field: &str, value: &str) -> String {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"104729331820556","time":{time},"changes":[{{"field":"{field}","value":{value}}}]}}]}}"#
        )
    }

    #[test]
    fn duplicates_are_dropped_and_order_follows_event_time() {
        let a = env(
            200,
            "account_update",
            r#"{"event":"ACCOUNT_VIOLATION","violation_info":{"violation_type":"SPAM"}}"#,
        );
        // Same change, keys in another order: still a duplicate.
        let a2 = env(
            200,
            "account_update",
            r#"{"violation_info":{"violation_type":"SPAM"},"event":"ACCOUNT_VIOLATION"}"#,
        );
        let b = env(
            100,
            "phone_number_quality_update",
            r#"{"display_phone_number":"14155550134","event":"FLAGGED"}"#,
        );
        let text = format!("{a}\n{b}\n\n{a2}\n");
        let (ev, rep) = parse_events(text.as_bytes()).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(rep.duplicates, 1);
        assert_eq!(rep.out_of_order, 1);
        assert_eq!(ev[0].time, 100);
        assert_eq!(ev[0].line, 2);
        assert!(
            matches!(ev[1].kind, EventKind::AccountUpdate(ref u) if u.event.as_deref() == Some("ACCOUNT_VIOLATION"))
        );
    }

    #[test]
    fn broken_line_is_reported_and_the_rest_loads() {
        let a = env(
            100,
            "account_alerts",
            r#"{"entity_type":"BUSINESS","entity_id":1,"alert_info":{"alert_severity":"WARNING","alert_status":"ACTIVE"}}"#,
        );
        let text =
            format!("{a}\n{{\"object\": \"whatsapp_business_account\", \"entry\": [\n{a}x\n");
        let (ev, rep) = parse_events(text.as_bytes()).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(rep.broken.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn unknown_fields_and_values_are_kept_verbatim() {
        let a = env(100, "security", r#"{"event":"PIN_CHANGED"}"#);
        let b = env(
            101,
            "account_update",
            r#"{"event":"BRAND_NEW_EVENT","novel":{"x":1}}"#,
        );
        let c = env(102, "account_alerts", r#""just a string""#);
        let (ev, rep) = parse_events(format!("{a}\n{b}\n{c}\n").as_bytes()).unwrap();
        assert!(
            matches!(&ev[0].kind, EventKind::Other { value } if value["event"] == "PIN_CHANGED")
        );
        match &ev[1].kind {
            EventKind::AccountUpdate(u) => {
                assert_eq!(u.event.as_deref(), Some("BRAND_NEW_EVENT"));
                assert_eq!(u.other["novel"]["x"], 1);
            }
            k => panic!("{k:?}"),
        }
        assert!(matches!(ev[2].kind, EventKind::Other { .. }));
        assert_eq!(rep.odd_values, [(3, "account_alerts".to_owned())]);
    }

    #[test]
    fn batched_changes_keep_their_order() {
        let text = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":5,"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_name":"a"}},{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_name":"b"}}]}]}"#;
        let (ev, _) = parse_events(text.as_bytes()).unwrap();
        let names: Vec<_> = ev
            .iter()
            .map(|e| match &e.kind {
                EventKind::MessageTemplateStatusUpdate(t) => {
                    t.message_template_name.clone().unwrap()
                }
                _ => String::new(),
            })
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
