//! Opt-out requests that never reached the consent ledger.
//!
//! Three sources say "stop messaging me": in-chat replies in an
//! inbound-messages export (Cloud API `messages` webhook envelopes as JSON
//! Lines, or CSV `from,timestamp,text,button_payload`), taps on opt-out
//! quick-reply buttons, and error 131050 ("user stopped marketing messages")
//! in the send log. Replies are classified by the rule pack (signal
//! `optout`: rules `optout.keyword`, `optout.request`, and the payload list
//! of `optout.button-payload`); every detected request is then looked up in
//! the consent ledger.
//!
//! A request is *recorded* when the ledger has an opt_out for that number
//! whose scope covers it (an in-chat request needs an opt_out without scope
//! or with `all`; a 131050 one also accepts `marketing`) and that is no older
//! than the number's last opt_in before the request — that is, the number
//! opted out at or after the request, or was already opted out when it
//! asked. Requests that are not recorded become ledger rows to append (one
//! per request not already covered by an earlier missing row).
//!
//! Everything is streamed: the inbound export and the ledger are read on
//! all cores, the send log is filtered on the literal `131050` before any
//! parsing, and only the (few) opt-out requests are kept in memory.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rlibphonenumber::Region;
use serde::Deserialize;
use thiserror::Error;

use super::consent::csvread::{CsvFile, RowSink};
use super::consent::phone::PhoneNormalizer;
use super::consent::timestamp::{self, Micros};
use super::consent::{self, ConsentError};
use crate::rulepack::{RulePack, Signal};
use crate::snapshot::optin::RowIssue;
use crate::snapshot::optout::{OptoutAudit, UnrecordedSample};

pub const RULE_KEYWORD: &str = "optout.keyword";
pub const RULE_REQUEST: &str = "optout.request";
pub const RULE_BUTTON: &str = "optout.button-payload";
/// Pseudo rule id of requests taken from the send log.
pub const RULE_131050: &str = "send_log.131050";
/// `source` of ledger rows for replies and button taps.
pub const SOURCE_REPLY: &str = "inbound_reply";
/// `source` of ledger rows for error 131050.
pub const SOURCE_131050: &str = "131050";

/// How many samples (bad lines, unrecorded requests) are kept.
const SAMPLES: usize = 5;
/// Block size of the JSON Lines reader.
const BLOCK: usize = 4 << 20;
/// Longest inbound line accepted.
const MAX_LINE: usize = 16 << 20;
/// Evidence is cut to this many characters.
const EVIDENCE_CHARS: usize = 80;

#[derive(Debug, Error)]
pub enum OptoutError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(transparent)]
    Csv(#[from] ConsentError),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> OptoutError + '_ {
    move |source| OptoutError::Io {
        path: path.to_owned(),
        source,
    }
}

// ---- detection ---------------------------------------------------------------

/// Why a message is an opt-out request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The rule id that matched.
    pub rule: String,
    /// The matched text (cut short).
    pub evidence: String,
}

/// Classifies inbound messages with the rule pack.
pub struct Detector<'p> {
    pack: &'p RulePack,
    /// Upper-cased, trimmed opt-out payloads (pack + config).
    payloads: HashSet<String>,
    buttons: bool,
}

fn norm_payload(p: &str) -> String {
    p.trim().to_uppercase()
}

fn cut(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > EVIDENCE_CHARS {
        format!("{}…", s.chars().take(EVIDENCE_CHARS).collect::<String>())
    } else {
        s.to_owned()
    }
}

impl<'p> Detector<'p> {
    /// The pack's payload list (`optout.button-payload` params) plus
    /// `extra_payloads` (`[optout] payloads`, `--payload`). With that rule
    /// disabled, button taps are not classified at all.
    pub fn new(pack: &'p RulePack, extra_payloads: &[String]) -> Self {
        let rule = pack.enabled(RULE_BUTTON);
        let mut payloads: HashSet<String> = rule
            .and_then(|r| r.def.params.get("payloads"))
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(toml::Value::as_str)
                    .map(norm_payload)
                    .collect()
            })
            .unwrap_or_default();
        payloads.extend(extra_payloads.iter().map(|p| norm_payload(p)));
        payloads.remove("");
        Detector {
            pack,
            payloads,
            buttons: rule.is_some(),
        }
    }

    /// A typed reply: an opt-out keyword message or an opt-out request.
    pub fn text(&self, text: &str) -> Option<Detection> {
        if text.trim().is_empty() {
            return None;
        }
        let hits = self.pack.scan_any_language(Signal::Optout, text);
        let h = hits.first()?;
        Some(Detection {
            rule: self.pack.rules[h.rule].def.id.clone(),
            evidence: cut(text),
        })
    }

    /// A button tap: an opt-out payload (or interactive id), or a title that
    /// is an opt-out on its own.
    pub fn button(&self, payload: Option<&str>, title: Option<&str>) -> Option<Detection> {
        if !self.buttons {
            return None;
        }
        if let Some(p) = payload.filter(|p| self.payloads.contains(&norm_payload(p))) {
            return Some(Detection {
                rule: RULE_BUTTON.to_owned(),
                evidence: cut(p),
            });
        }
        let t = title?;
        self.text(t).map(|_| Detection {
            rule: RULE_BUTTON.to_owned(),
            evidence: cut(t),
        })
    }

    /// One message of a `messages` webhook (the `messages[]` element as JSON):
    /// used by the rule examples.
    pub fn message_json(&self, json: &str) -> Result<Option<Detection>, String> {
        let m: Msg<'_> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Ok(self.message(&m))
    }

    fn message(&self, m: &Msg<'_>) -> Option<Detection> {
        match m.kind.as_deref() {
            Some("button") => {
                let b = m.button.as_ref()?;
                self.button(b.payload.as_deref(), b.text.as_deref())
            }
            Some("interactive") => {
                let i = m.interactive.as_ref()?;
                let r = i.button_reply.as_ref().or(i.list_reply.as_ref())?;
                self.button(r.id.as_deref(), r.title.as_deref())
            }
            Some("text") | None => self.text(m.text.as_ref()?.body.as_deref()?),
            Some(_) => None,
        }
    }
}

// ---- the webhook shape (only what is read) -----------------------------------

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    entry: Vec<Entry<'a>>,
    /// A bare `value` object per line is accepted too.
    #[serde(borrow, default)]
    messages: Vec<Msg<'a>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    changes: Vec<Change<'a>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow, default)]
    value: Option<ChangeValue<'a>>,
}

#[derive(Deserialize)]
struct ChangeValue<'a> {
    #[serde(borrow, default)]
    messages: Vec<Msg<'a>>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow, default)]
    from: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Stamp>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<TextBody<'a>>,
    #[serde(borrow, default)]
    button: Option<ButtonBody<'a>>,
    #[serde(borrow, default)]
    interactive: Option<Interactive<'a>>,
}

#[derive(Deserialize)]
struct TextBody<'a> {
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ButtonBody<'a> {
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Interactive<'a> {
    #[serde(borrow, default)]
    button_reply: Option<Reply<'a>>,
    #[serde(borrow, default)]
    list_reply: Option<Reply<'a>>,
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
}

/// A webhook timestamp: unix seconds as a string (Meta's form) or a number,
/// or RFC 3339. `None` inside when unparseable (a bad message, not a bad line).
struct Stamp(Option<Micros>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("unix seconds or an RFC 3339 time")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Stamp, E> {
                Ok(Stamp(parse_at(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Stamp, E> {
                Ok(Stamp(i64::try_from(v).ok().and_then(seconds)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp(seconds(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Stamp, E> {
                Ok(Stamp(if v.is_finite() {
                    seconds(v as i64)
                } else {
                    None
                }))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Stamp, E> {
                Ok(Stamp(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Unix seconds between 2000 and 2100, as microseconds.
fn seconds(v: i64) -> Option<Micros> {
    (946_684_800..4_102_444_800)
        .contains(&v)
        .then_some(v * 1_000_000)
}

/// Unix seconds (digits only) or RFC 3339 / a date.
fn parse_at(raw: &str) -> Option<Micros> {
    let s = raw.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(seconds);
    }
    timestamp::parse(s.as_bytes())
}

/// A sender: WhatsApp ids (`from`, `wa_id`, `recipient_id`) are digits with
/// the country code and no `+`, so a value of digits only is international;
/// anything else is normalised like an audience phone.
fn sender(norm: &mut PhoneNormalizer, raw: &[u8]) -> Option<u64> {
    let t = raw.trim_ascii();
    if !t.is_empty() && t.iter().all(u8::is_ascii_digit) {
        let mut buf = Vec::with_capacity(t.len() + 1);
        buf.push(b'+');
        buf.extend_from_slice(t);
        norm.normalize(&buf)
    } else {
        norm.normalize(t)
    }
}

// ---- reading -------------------------------------------------------------------

/// One opt-out request.
#[derive(Debug, Clone)]
struct Request {
    phone: u64,
    at: Micros,
    source: &'static str,
    rule: String,
    evidence: String,
}

/// What one worker gathered.
#[derive(Default)]
struct Acc {
    messages: u64,
    bad: u64,
    bad_samples: Vec<RowIssue>,
    invalid: u64,
    requests: Vec<Request>,
}

impl Acc {
    fn bad(&mut self, line: u64, reason: impl FnOnce() -> String) {
        self.bad += 1;
        keep_sample(&mut self.bad_samples, line, reason);
    }

    fn merge(&mut self, o: Acc) {
        self.messages += o.messages;
        self.bad += o.bad;
        self.invalid += o.invalid;
        self.requests.extend(o.requests);
        for s in o.bad_samples {
            keep_sample(&mut self.bad_samples, s.line, || s.reason);
        }
    }

    fn request(
        &mut self,
        norm: &mut PhoneNormalizer,
        from: &[u8],
        at: Micros,
        source: &'static str,
        d: Detection,
    ) {
        match sender(norm, from) {
            Some(phone) => self.requests.push(Request {
                phone,
                at,
                source,
                rule: d.rule,
                evidence: d.evidence,
            }),
            None => self.invalid += 1,
        }
    }
}

/// Keeps the `SAMPLES` issues with the smallest line numbers.
fn keep_sample(v: &mut Vec<RowIssue>, line: u64, reason: impl FnOnce() -> String) {
    if v.len() >= SAMPLES && v.last().is_some_and(|l| l.line < line) {
        return;
    }
    let at = v.partition_point(|i| i.line < line);
    v.insert(
        at,
        RowIssue {
            line,
            reason: reason(),
        },
    );
    v.truncate(SAMPLES);
}

fn threads(n: usize) -> usize {
    if n > 0 {
        return n;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Whether a file is JSON Lines: by extension, else by its first byte.
fn is_jsonl(path: &Path) -> Result<bool, OptoutError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if ["jsonl", "ndjson", "json"].contains(&e.to_ascii_lowercase().as_str()) => {
            Ok(true)
        }
        Some(e) if e.eq_ignore_ascii_case("csv") => Ok(false),
        _ => {
            let f = std::fs::File::open(path).map_err(io_err(path))?;
            let mut r = std::io::BufReader::new(f);
            let head = r.fill_buf().map_err(io_err(path))?;
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            Ok(head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
        }
    }
}

/// Reads one inbound export (JSON Lines or CSV).
fn read_inbound(
    path: &Path,
    det: &Detector<'_>,
    norm: &PhoneNormalizer,
    nthreads: usize,
) -> Result<Acc, OptoutError> {
    if is_jsonl(path)? {
        read_inbound_jsonl(path, det, norm, nthreads)
    } else {
        read_inbound_csv(path, det, norm, nthreads)
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    format!("not a webhook envelope: {msg}")
}

fn process_json_line(
    raw: &[u8],
    line: u64,
    det: &Detector<'_>,
    norm: &mut PhoneNormalizer,
    acc: &mut Acc,
) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let env: Envelope<'_> = match serde_json::from_slice(raw) {
        Ok(e) => e,
        Err(e) => {
            acc.bad(line, || json_reason(&e));
            return;
        }
    };
    let msgs = env
        .entry
        .iter()
        .flat_map(|e| e.changes.iter())
        .filter_map(|c| c.value.as_ref())
        .flat_map(|v| v.messages.iter())
        .chain(env.messages.iter());
    for m in msgs {
        acc.messages += 1;
        let Some(from) = m.from.as_deref().filter(|f| !f.trim().is_empty()) else {
            acc.bad(line, || "a message without `from`".to_owned());
            continue;
        };
        let Some(at) = m.timestamp.as_ref().and_then(|s| s.0) else {
            acc.bad(line, || {
                "a message without a valid `timestamp` (unix seconds)".to_owned()
            });
            continue;
        };
        if let Some(d) = det.message(m) {
            acc.request(norm, from.as_bytes(), at, SOURCE_REPLY, d);
        }
    }
}

fn read_inbound_jsonl(
    path: &Path,
    det: &Detector<'_>,
    norm: &PhoneNormalizer,
    nthreads: usize,
) -> Result<Acc, OptoutError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(nthreads * 2);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..nthreads)
            .map(|_| {
                let rx = &rx;
                let mut norm = norm.clone();
                s.spawn(move || {
                    let mut acc = Acc::default();
                    loop {
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => break,
                        };
                        let Ok((block, first)) = next else { break };
                        for (line, raw) in (first..).zip(block.split(|&b| b == b'\n')) {
                            process_json_line(raw, line, det, &mut norm, &mut acc);
                        }
                    }
                    acc
                })
            })
            .collect();
        let read = send_blocks(file, path, &tx);
        drop(tx);
        let mut acc = Acc::default();
        for w in workers {
            match w.join() {
                Ok(a) => acc.merge(a),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        read.map(|()| acc)
    })
}

/// Reads `file` in blocks cut after a line end and sends each with the
/// number of its first line. The last block may lack a final `\n`.
fn send_blocks(
    mut file: std::fs::File,
    path: &Path,
    tx: &std::sync::mpsc::SyncSender<(Vec<u8>, u64)>,
) -> Result<(), OptoutError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut next_line = 1u64;
    loop {
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + BLOCK, 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let eof = filled < buf.len();
        buf.truncate(filled);
        if buf.is_empty() {
            return Ok(());
        }
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None if buf.len() > MAX_LINE => {
                    return Err(OptoutError::Format {
                        path: path.to_owned(),
                        message: format!(
                            "line {next_line} is longer than {} MiB: not a JSON Lines export",
                            MAX_LINE >> 20
                        ),
                    });
                }
                None => {
                    carry = buf;
                    continue;
                }
            }
        };
        carry = buf[cut..].to_vec();
        buf.truncate(cut);
        // Drop the final line end, so a block splits into its lines only.
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64 + 1;
        if tx.send((buf, next_line)).is_err() {
            return Ok(());
        }
        next_line += lines;
        if eof && carry.is_empty() {
            return Ok(());
        }
    }
}

/// Column names accepted in an inbound CSV.
const CSV_FROM: [&str; 5] = ["from", "wa_id", "phone", "sender", "msisdn"];
const CSV_TIME: [&str; 3] = ["timestamp", "time", "received_at"];
const CSV_TEXT: [&str; 4] = ["text", "body", "message", "text_body"];
const CSV_PAYLOAD: [&str; 3] = ["button_payload", "payload", "button_id"];
const CSV_BUTTON_TEXT: [&str; 2] = ["button_text", "button_title"];

fn find_col(header: &[Vec<u8>], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| {
        header
            .iter()
            .position(|h| h.trim_ascii().eq_ignore_ascii_case(n.as_bytes()))
    })
}

struct InboundCsvSink<'d, 'p> {
    det: &'d Detector<'p>,
    norm: PhoneNormalizer,
    cols: (usize, usize, Option<usize>, Option<usize>, Option<usize>),
    acc: Acc,
}

impl RowSink for InboundCsvSink<'_, '_> {
    fn row(&mut self, line: u64, fields: &[&[u8]]) {
        let (fc, tc, text, payload, btext) = self.cols;
        self.acc.messages += 1;
        let get = |i: Option<usize>| -> Result<Option<&str>, ()> {
            match i.and_then(|i| fields.get(i)) {
                None => Ok(None),
                Some(b) => std::str::from_utf8(b).map(Some).map_err(|_| ()),
            }
        };
        let from = fields.get(fc).copied().unwrap_or(b"");
        if from.trim_ascii().is_empty() {
            self.acc
                .bad(line, || "no sender in the `from` column".to_owned());
            return;
        }
        let Some(at) = fields
            .get(tc)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(parse_at)
        else {
            self.acc.bad(line, || {
                "no valid timestamp (unix seconds or RFC 3339)".to_owned()
            });
            return;
        };
        let (Ok(text), Ok(payload), Ok(btext)) = (get(text), get(payload), get(btext)) else {
            self.acc.bad(line, || "text is not UTF-8".to_owned());
            return;
        };
        let payload = payload.filter(|p| !p.trim().is_empty());
        let d = if payload.is_some() || btext.is_some_and(|t| !t.trim().is_empty()) {
            self.det.button(payload, btext.or(text))
        } else {
            text.and_then(|t| self.det.text(t))
        };
        if let Some(d) = d {
            self.acc.request(&mut self.norm, from, at, SOURCE_REPLY, d);
        }
    }
}

fn read_inbound_csv(
    path: &Path,
    det: &Detector<'_>,
    norm: &PhoneNormalizer,
    nthreads: usize,
) -> Result<Acc, OptoutError> {
    let file = CsvFile::open(path)?;
    let h = file.header();
    let header_err = |message: String| OptoutError::Format {
        path: path.to_owned(),
        message: format!("line {} (header): {message}", file.header_line()),
    };
    let names = || {
        h.iter()
            .map(|c| format!("`{}`", String::from_utf8_lossy(c).trim()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (Some(fc), Some(tc)) = (find_col(h, &CSV_FROM), find_col(h, &CSV_TIME)) else {
        return Err(header_err(format!(
            "an inbound CSV needs the columns from and timestamp (and text and/or button_payload); columns: {}",
            names()
        )));
    };
    let text = find_col(h, &CSV_TEXT);
    let payload = find_col(h, &CSV_PAYLOAD);
    let btext = find_col(h, &CSV_BUTTON_TEXT);
    if text.is_none() && payload.is_none() && btext.is_none() {
        return Err(header_err(format!(
            "an inbound CSV needs a text or button_payload column; columns: {}",
            names()
        )));
    }
    let sinks = file.scan(
        (0..nthreads)
            .map(|_| InboundCsvSink {
                det,
                norm: norm.clone(),
                cols: (fc, tc, text, payload, btext),
                acc: Acc::default(),
            })
            .collect(),
    )?;
    let mut acc = Acc::default();
    for s in sinks {
        acc.merge(s.acc);
    }
    Ok(acc)
}

// ---- the send log: error 131050 -------------------------------------------------

const LOG_TO: [&str; 6] = [
    "recipient",
    "recipient_id",
    "to",
    "wa_id",
    "phone",
    "recipient_phone",
];

struct SendLogSink {
    norm: PhoneNormalizer,
    cols: (usize, usize, usize),
    acc: Acc,
}

impl SendLogSink {
    fn found(&mut self, line: u64, ts: &[u8], to: &[u8]) {
        self.acc.messages += 1;
        let Some(at) = std::str::from_utf8(ts).ok().and_then(parse_at) else {
            self.acc
                .bad(line, || "131050 row without a valid timestamp".to_owned());
            return;
        };
        if to.trim_ascii().is_empty() {
            self.acc
                .bad(line, || "131050 row without a recipient".to_owned());
            return;
        }
        let d = Detection {
            rule: RULE_131050.to_owned(),
            evidence: "user stopped marketing messages".to_owned(),
        };
        self.acc.request(&mut self.norm, to, at, SOURCE_131050, d);
    }
}

impl RowSink for SendLogSink {
    fn row(&mut self, line: u64, fields: &[&[u8]]) {
        let (tc, rc, cc) = self.cols;
        if fields.get(cc).map(|c| c.trim_ascii()) != Some(b"131050".as_slice()) {
            return;
        }
        let ts = fields.get(tc).copied().unwrap_or(b"");
        let to = fields.get(rc).copied().unwrap_or(b"");
        self.found(line, ts, to);
    }
}

/// Reads the 131050 errors of a send log (CSV or JSON Lines) with their
/// recipient. `messages` counts the 131050 rows.
fn read_send_log_131050(
    path: &Path,
    norm: &PhoneNormalizer,
    nthreads: usize,
) -> Result<Acc, OptoutError> {
    if is_jsonl(path)? {
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut sink = SendLogSink {
            norm: norm.clone(),
            cols: (0, 0, 0),
            acc: Acc::default(),
        };
        let finder = memchr::memmem::Finder::new(b"131050");
        for (i, line) in reader.split(b'\n').enumerate() {
            let raw = line.map_err(io_err(path))?;
            if finder.find(&raw).is_none() {
                continue;
            }
            let line_no = i as u64 + 1;
            let v: serde_json::Value = match serde_json::from_slice(&raw) {
                Ok(v) => v,
                Err(e) => {
                    sink.acc.bad(line_no, || json_reason(&e));
                    continue;
                }
            };
            let text = |k: &str| match v.get(k) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            if text("error_code").trim() != "131050" {
                continue;
            }
            let to = LOG_TO
                .iter()
                .map(|k| text(k))
                .find(|s| !s.trim().is_empty())
                .unwrap_or_default();
            sink.found(line_no, text("timestamp").as_bytes(), to.as_bytes());
        }
        return Ok(sink.acc);
    }
    let file = CsvFile::open(path)?;
    let h = file.header();
    let (Some(tc), Some(rc), Some(cc)) = (
        find_col(h, &["timestamp"]),
        find_col(h, &LOG_TO),
        find_col(h, &["error_code"]),
    ) else {
        return Err(OptoutError::Format {
            path: path.to_owned(),
            message: format!(
                "line {} (header): reading error 131050 needs the columns timestamp, error_code and the recipient ({})",
                file.header_line(),
                LOG_TO.join(", ")
            ),
        });
    };
    let sinks = file.scan(
        (0..nthreads)
            .map(|_| SendLogSink {
                norm: norm.clone(),
                cols: (tc, rc, cc),
                acc: Acc::default(),
            })
            .collect(),
    )?;
    let mut acc = Acc::default();
    for s in sinks {
        acc.merge(s.acc);
    }
    Ok(acc)
}

// ---- the ledger -----------------------------------------------------------------

/// One ledger event of a number that asked to stop.
#[derive(Debug, Clone, Copy)]
struct Ev {
    at: Micros,
    opt_out: bool,
    /// Scope covers everything (no scope column, empty, or `all`).
    all: bool,
    /// Scope covers marketing.
    marketing: bool,
}

fn scope_of(field: Option<&[u8]>) -> (bool, bool) {
    let Some(f) = field.map(<[u8]>::trim_ascii).filter(|f| !f.is_empty()) else {
        return (true, true);
    };
    let mut all = false;
    let mut marketing = false;
    for part in f.split(|&b| b == b'|') {
        let p = part.trim_ascii();
        if p.eq_ignore_ascii_case(b"all") {
            all = true;
        } else if p.eq_ignore_ascii_case(b"marketing") {
            marketing = true;
        }
    }
    (all, all || marketing)
}

struct LedgerSink<'w> {
    norm: PhoneNormalizer,
    wanted: &'w HashSet<u64>,
    cols: (usize, usize, usize, Option<usize>),
    events: Vec<(u64, Ev)>,
}

impl RowSink for LedgerSink<'_> {
    fn row(&mut self, _line: u64, fields: &[&[u8]]) {
        let (pc, ec, tc, sc) = self.cols;
        let opt_out = match fields.get(ec).map(|e| e.trim_ascii()) {
            Some(b"opt_in") => false,
            Some(b"opt_out") => true,
            _ => return,
        };
        let Some(phone) = fields.get(pc).and_then(|p| self.norm.normalize(p)) else {
            return;
        };
        if !self.wanted.contains(&phone) {
            return;
        }
        let Some(at) = fields.get(tc).and_then(|t| timestamp::parse(t)) else {
            return;
        };
        let (all, marketing) = scope_of(sc.and_then(|i| fields.get(i).copied()));
        self.events.push((
            phone,
            Ev {
                at,
                opt_out,
                all,
                marketing,
            },
        ));
    }
}

/// The ledger's columns, for writing rows in its own format.
#[derive(Debug, Clone)]
struct LedgerFormat {
    header: Vec<String>,
    phone: usize,
    event: usize,
    timestamp: usize,
    source: Option<usize>,
    scope: Option<usize>,
}

// ---- putting it together ----------------------------------------------------------

/// What an opt-out check reads.
#[derive(Debug, Clone)]
pub struct OptoutParams {
    /// Inbound exports (JSON Lines webhooks or CSV).
    pub inbound: Vec<PathBuf>,
    /// A send log to read error 131050 from.
    pub send_log: Option<PathBuf>,
    /// The consent ledger CSV.
    pub consent: PathBuf,
    /// Region of national numbers in the ledger (and of senders written
    /// with a national prefix).
    pub region: Region,
    /// Extra opt-out payloads.
    pub payloads: Vec<String>,
    /// Worker threads (0 = one per core, at most 8).
    pub threads: usize,
    /// The audience name the result is about (finding subject).
    pub audience: String,
}

/// A ledger row to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// E.164 digits.
    pub phone: u64,
    pub at: Micros,
    pub source: &'static str,
    /// `marketing` for 131050, else none (all).
    pub scope: Option<&'static str>,
}

/// The result: the audit (counts, samples) and the rows the ledger lacks.
pub struct OptoutOutcome {
    pub audit: OptoutAudit,
    pub rows: Vec<LedgerRow>,
    format: LedgerFormat,
}

/// Reads everything and matches the requests against the ledger.
pub fn compute(pack: &RulePack, p: &OptoutParams) -> Result<OptoutOutcome, OptoutError> {
    let nthreads = threads(p.threads);
    let norm = PhoneNormalizer::new(p.region);
    let det = Detector::new(pack, &p.payloads);

    // The ledger header first: a bad ledger is reported before the work.
    let lfile = CsvFile::open(&p.consent)?;
    let (pc, ec, tc) = consent::ledger_columns(&lfile)?;
    let header: Vec<String> = lfile
        .header()
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_owned())
        .collect();
    let format = LedgerFormat {
        phone: pc,
        event: ec,
        timestamp: tc,
        source: find_col(lfile.header(), &["source"]),
        scope: find_col(lfile.header(), &["scope"]),
        header,
    };

    let mut acc = Acc::default();
    for path in &p.inbound {
        let mut a = read_inbound(path, &det, &norm, nthreads)?;
        tag(&mut a, path);
        acc.merge(a);
    }
    let inbound_messages = acc.messages;
    if let Some(log) = &p.send_log {
        let mut a = read_send_log_131050(log, &norm, nthreads)?;
        a.messages = 0;
        tag(&mut a, log);
        acc.merge(a);
    }

    // Exact duplicates (webhook retries) count once.
    let mut reqs = std::mem::take(&mut acc.requests);
    reqs.sort_by(|a, b| (a.phone, a.at, a.source).cmp(&(b.phone, b.at, b.source)));
    reqs.dedup_by(|a, b| (a.phone, a.at, a.source) == (b.phone, b.at, b.source));
    let wanted: HashSet<u64> = reqs.iter().map(|r| r.phone).collect();

    let sinks = lfile.scan(
        (0..nthreads)
            .map(|_| LedgerSink {
                norm: norm.clone(),
                wanted: &wanted,
                cols: (pc, ec, tc, format.scope),
                events: Vec::new(),
            })
            .collect(),
    )?;
    let mut events: HashMap<u64, Vec<Ev>> = HashMap::with_capacity(wanted.len());
    for s in sinks {
        for (phone, ev) in s.events {
            events.entry(phone).or_default().push(ev);
        }
    }

    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for r in &reqs {
        *by_rule.entry(r.rule.clone()).or_insert(0) += 1;
    }
    let mut rows = Vec::new();
    let mut unrecorded: Vec<&Request> = Vec::new();
    let mut unrecorded_numbers = 0u64;
    // `reqs` is sorted by number, then time.
    for group in reqs.chunk_by(|a, b| a.phone == b.phone) {
        let evs = events.entry(group[0].phone).or_default();
        let mut missing = false;
        for r in group {
            let need_all = r.source != SOURCE_131050;
            if recorded(evs, r.at, need_all) {
                continue;
            }
            missing = true;
            evs.push(Ev {
                at: r.at,
                opt_out: true,
                all: need_all,
                marketing: true,
            });
            rows.push(LedgerRow {
                phone: r.phone,
                at: r.at,
                source: r.source,
                scope: (!need_all).then_some("marketing"),
            });
            unrecorded.push(r);
        }
        unrecorded_numbers += u64::from(missing);
    }
    rows.sort_by_key(|r| (r.at, r.phone));
    unrecorded.sort_by_key(|r| (r.at, r.phone));
    let samples = unrecorded
        .iter()
        .take(SAMPLES)
        .map(|r| UnrecordedSample {
            phone: format!("+{}", r.phone),
            at: timestamp::format(r.at),
            source: r.source.to_owned(),
            rule: r.rule.clone(),
            evidence: r.evidence.clone(),
        })
        .collect();

    let audit = OptoutAudit {
        audience: p.audience.clone(),
        consent: p.consent.display().to_string(),
        inbound: p.inbound.iter().map(|i| i.display().to_string()).collect(),
        send_log: p.send_log.as_ref().map(|s| s.display().to_string()),
        messages: inbound_messages,
        bad_lines: acc.bad,
        bad_samples: acc.bad_samples,
        detected: reqs.len() as u64,
        by_rule,
        invalid_numbers: acc.invalid,
        numbers: wanted.len() as u64,
        unrecorded_numbers,
        unrecorded: rows.len() as u64,
        samples,
        error: None,
    };
    Ok(OptoutOutcome {
        audit,
        rows,
        format,
    })
}

/// Names the file in the reasons of its bad-line samples (several files
/// are read into one result): `inbound.jsonl line 4: not a webhook ...`.
fn tag(acc: &mut Acc, path: &Path) {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    for s in &mut acc.bad_samples {
        s.reason = format!("{name} line {}: {}", s.line, s.reason);
    }
}

/// Whether the ledger events of a number record a request at `at`: an
/// opt_out covering it that is no older than the last opt_in (that the
/// request revokes) at or before `at`. On equal times opt_out wins.
fn recorded(evs: &[Ev], at: Micros, need_all: bool) -> bool {
    let last_in = evs
        .iter()
        .filter(|e| !e.opt_out && e.at <= at && (need_all || e.marketing))
        .map(|e| e.at)
        .max();
    evs.iter().any(|e| {
        e.opt_out
            && (if need_all { e.all } else { e.marketing })
            && last_in.is_none_or(|l| e.at >= l)
    })
}

impl OptoutOutcome {
    /// Writes the missing ledger rows to `out` atomically, with the ledger's
    /// own header: phone (E.164), `opt_out`, the request's time (RFC 3339
    /// UTC), `source` and `scope` when the ledger has those columns; other
    /// columns empty. Numbers are written in clear: the rows are meant to be
    /// appended to the ledger.
    pub fn write_ledger_rows(&self, out: &Path) -> Result<u64, OptoutError> {
        let f = &self.format;
        crate::fsutil::write_atomic_with(out, |w| {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(&f.header)?;
            let mut rec = vec![String::new(); f.header.len()];
            for r in &self.rows {
                rec.iter_mut().for_each(String::clear);
                rec[f.phone] = format!("+{}", r.phone);
                rec[f.event] = "opt_out".to_owned();
                rec[f.timestamp] = timestamp::format(r.at);
                if let Some(i) = f.source {
                    rec[i] = r.source.to_owned();
                }
                if let (Some(i), Some(scope)) = (f.scope, r.scope) {
                    rec[i] = scope.to_owned();
                }
                csv.write_record(&rec)?;
            }
            csv.flush()
        })
        .map_err(|source| OptoutError::Io {
            path: out.to_owned(),
            source,
        })?;
        Ok(self.rows.len() as u64)
    }
}

/// Checks the opt-out requests of `account` (its `inbound` export and the
/// 131050 errors of its `send_log`) against each distinct consent ledger of
/// its audiences, into `snapshot.optouts`. An unreadable file becomes an
/// audit with an error (and a note), not a failure of the account.
pub fn collect_optouts(
    cfg: &crate::config::Config,
    account: &crate::config::AccountConfig,
    pack: &RulePack,
    snapshot: &mut crate::snapshot::Snapshot,
) {
    let Some(inbound) = &account.inbound else {
        return;
    };
    let mut seen = HashSet::new();
    for aud in &account.audiences {
        if !seen.insert(cfg.resolve(&aud.consent)) {
            continue;
        }
        let region_code = aud.region.as_deref().unwrap_or(&cfg.optin.region);
        let result = super::consent::phone::parse_region(region_code)
            .map_err(|m| m.to_string())
            .and_then(|region| {
                let params = OptoutParams {
                    inbound: vec![cfg.resolve(inbound)],
                    send_log: account.send_log.as_deref().map(|l| cfg.resolve(l)),
                    consent: cfg.resolve(&aud.consent),
                    region,
                    payloads: cfg.optout.payloads.clone(),
                    threads: 0,
                    audience: aud.name.clone(),
                };
                compute(pack, &params).map_err(|e| e.to_string())
            });
        let audit = match result {
            Ok(o) => {
                let mut a = o.audit;
                // As configured (relative), like the audiences.
                a.consent = aud.consent.display().to_string();
                a.inbound = vec![inbound.display().to_string()];
                a.send_log = account.send_log.as_ref().map(|l| l.display().to_string());
                if a.bad_lines > 0 {
                    let lines: Vec<String> =
                        a.bad_samples.iter().map(|s| s.reason.clone()).collect();
                    snapshot.note_warning(format!(
                        "opt-out check of `{}`: {} unreadable line(s) skipped ({})",
                        aud.name,
                        a.bad_lines,
                        lines.join("; ")
                    ));
                }
                a
            }
            Err(e) => {
                snapshot.note_warning(format!("opt-out check of `{}`: {e}", aud.name));
                OptoutAudit {
                    audience: aud.name.clone(),
                    consent: aud.consent.display().to_string(),
                    inbound: vec![inbound.display().to_string()],
                    error: Some(e),
                    ..OptoutAudit::default()
                }
            }
        };
        snapshot.optouts.push(audit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: Micros, opt_out: bool) -> Ev {
        Ev {
            at,
            opt_out,
            all: true,
            marketing: true,
        }
    }

    #[test]
    fn recorded_semantics() {
        // No events: not recorded.
        assert!(!recorded(&[], 10, true));
        // An opt_out at or after the request records it.
        assert!(recorded(&[ev(5, false), ev(10, true)], 10, true));
        assert!(recorded(&[ev(5, false), ev(20, true)], 10, true));
        // Already opted out (no opt_in since): recorded.
        assert!(recorded(&[ev(5, true)], 10, true));
        // Opted out, opted in again, then asked again: not recorded.
        assert!(!recorded(&[ev(1, true), ev(5, false)], 10, true));
        // Equal opt_in and opt_out: opt_out wins.
        assert!(recorded(&[ev(5, false), ev(5, true)], 10, true));
        // A marketing-only opt_out records a 131050, not an in-chat STOP.
        let mkt = Ev {
            at: 12,
            opt_out: true,
            all: false,
            marketing: true,
        };
        assert!(recorded(&[ev(5, false), mkt], 10, false));
        assert!(!recorded(&[ev(5, false), mkt], 10, true));
        // A utility-only opt_in does not revive marketing after a 131050 opt-out.
        let util_in = Ev {
            at: 8,
            opt_out: false,
            all: false,
            marketing: false,
        };
        let mkt_out = Ev { at: 6, ..mkt };
        assert!(recorded(&[mkt_out, util_in], 10, false));
        assert!(!recorded(&[mkt_out, util_in], 10, true));
    }

    #[test]
    fn scopes() {
        assert_eq!(scope_of(None), (true, true));
        assert_eq!(scope_of(Some(b" ")), (true, true));
        assert_eq!(scope_of(Some(b"marketing")), (false, true));
        assert_eq!(scope_of(Some(b"utility|MARKETING")), (false, true));
        assert_eq!(scope_of(Some(b"utility")), (false, false));
        assert_eq!(scope_of(Some(b"all")), (true, true));
    }

    #[test]
    fn senders_of_digits_only_are_international() {
        let mut n = PhoneNormalizer::new(super::super::consent::phone::parse_region("US").unwrap());
        assert_eq!(sender(&mut n, b"5511958127765"), Some(5_511_958_127_765));
        assert_eq!(sender(&mut n, b"+1 512 555 0191"), Some(15_125_550_191));
        assert_eq!(sender(&mut n, b"(512) 555-0191"), Some(15_125_550_191));
        assert_eq!(sender(&mut n, b"abc"), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_at("1763900000"), Some(1_763_900_000_000_000));
        assert_eq!(
            parse_at("2025-11-23T12:13:20Z"),
            Some(1_763_900_000_000_000)
        );
        assert_eq!(parse_at("12"), None);
        assert_eq!(parse_at("soon"), None);
    }
}
