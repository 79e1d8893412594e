//! The account's send log (`send_log = "FILE"` in the config): the business's
//! own record of message sends and their status webhooks, as CSV (with a
//! header) or JSON Lines, with the fields `timestamp` (unix seconds or RFC
//! 3339), `phone_number_id`, `status` and `error_code`; other columns are
//! ignored (recipients are never read into the snapshot).
//!
//! Logs can hold millions of rows, so nothing is kept per row: rows are
//! aggregated into hourly buckets per phone number and per error code while
//! reading ([`SendStats`]). Unreadable rows are counted and named by line
//! number in a note.
//!
//! Optional columns feed the template register's cost estimates: the
//! template (`template_name` or `template`), its language
//! (`template_language` or `language`) and the destination country
//! (`recipient_country` or `country`, else derived from the calling code of
//! `recipient`/`to`/`wa_id`): successful sends are counted per template,
//! language, country and UTC day ([`TemplateDay`]) — never per recipient.

use std::io::{BufRead, Read};
use std::path::Path;

use serde::Deserialize;

use super::CollectError;
use crate::snapshot::signals::TemplateDay;
use crate::snapshot::{SendStats, parse_time};

/// At most this many bad rows are described one by one.
const MAX_ROW_NOTES: usize = 10;

/// The result of reading a send log.
#[derive(Debug, Default)]
pub struct SendLogRead {
    pub stats: SendStats,
    /// `(line, reason)` for the first bad rows.
    pub bad: Vec<(u64, String)>,
    /// Successful sends per (template, language, country, UTC day start),
    /// the strings interned so a row allocates nothing once they are known.
    volume: std::collections::HashMap<(u32, u32, u32, i64), u64>,
    strings: Interner,
}

/// Strings seen in the template columns, numbered.
#[derive(Debug, Default)]
struct Interner {
    ids: std::collections::HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), i);
        i
    }

    fn name(&self, i: u32) -> String {
        self.names.get(i as usize).cloned().unwrap_or_default()
    }
}

/// The optional template columns of one row (empty when absent).
#[derive(Debug, Default, Clone, Copy)]
pub struct TemplateCols<'a> {
    pub template: &'a str,
    pub language: &'a str,
    /// ISO 3166 alpha-2, when the log names it.
    pub country: &'a str,
    /// The recipient (only its calling code is read).
    pub recipient: &'a str,
}

impl SendLogRead {
    /// The note describing bad rows, if any.
    pub fn note(&self) -> Option<String> {
        if self.stats.bad_rows == 0 {
            return None;
        }
        let listed: Vec<String> = self
            .bad
            .iter()
            .map(|(l, r)| format!("line {l}: {r}"))
            .collect();
        let more = self.stats.bad_rows.saturating_sub(self.bad.len() as u64);
        Some(format!(
            "{}: {} bad row{} skipped ({}{})",
            self.stats.file,
            self.stats.bad_rows,
            if self.stats.bad_rows == 1 { "" } else { "s" },
            listed.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ))
    }

    fn bad_row(&mut self, line: u64, reason: String) {
        self.stats.bad_rows += 1;
        if self.bad.len() < MAX_ROW_NOTES {
            self.bad.push((line, reason));
        }
    }

    /// Moves the per-template counts into `stats.template_volume`, sorted.
    fn finish(&mut self) {
        let names = &self.strings;
        let mut v: Vec<TemplateDay> = self
            .volume
            .drain()
            .map(|((template, language, country, day), sends)| TemplateDay {
                template: names.name(template),
                language: names.name(language),
                country: names.name(country),
                day,
                sends,
            })
            .collect();
        v.sort_by(|a, b| {
            (&a.template, &a.language, &a.country, a.day).cmp(&(
                &b.template,
                &b.language,
                &b.country,
                b.day,
            ))
        });
        self.stats.template_volume = v;
    }

    fn count_template(&mut self, ts: i64, status: &str, code: Option<i64>, t: TemplateCols<'_>) {
        let template = t.template.trim();
        if template.is_empty() || code.is_some() || status.trim().eq_ignore_ascii_case("failed") {
            return;
        }
        let country = if !t.country.trim().is_empty() {
            let c = t.country.trim();
            if c.bytes().any(|b| b.is_ascii_lowercase()) {
                self.strings.id(&c.to_ascii_uppercase())
            } else {
                self.strings.id(c)
            }
        } else if !t.recipient.trim().is_empty() {
            self.strings
                .id(crate::rates::country_of_number(t.recipient).unwrap_or("*"))
        } else {
            self.strings.id("")
        };
        let key = (
            self.strings.id(template),
            self.strings.id(t.language.trim()),
            country,
            ts.div_euclid(86_400) * 86_400,
        );
        *self.volume.entry(key).or_insert(0) += 1;
    }

    fn row(
        &mut self,
        line: u64,
        ts: &str,
        number: &str,
        status: &str,
        code: &str,
        tpl: TemplateCols<'_>,
    ) {
        let Some(t) = parse_time(ts) else {
            let shown: String = ts.chars().take(40).collect();
            self.bad_row(
                line,
                format!("timestamp `{shown}` is neither unix seconds nor RFC 3339"),
            );
            return;
        };
        let number = number.trim();
        if number.is_empty() {
            self.bad_row(line, "phone_number_id is empty".into());
            return;
        }
        let code = code.trim();
        let code = if code.is_empty() || code == "0" || code.eq_ignore_ascii_case("null") {
            None
        } else {
            match code.parse::<i64>() {
                Ok(c) => Some(c),
                Err(_) => {
                    let shown: String = code.chars().take(20).collect();
                    self.bad_row(line, format!("error_code `{shown}` is not a number"));
                    return;
                }
            }
        };
        self.stats.add(t, number, status.trim(), code);
        self.count_template(t, status, code, tpl);
    }
}

/// Reads a send log file: `.jsonl`/`.ndjson`/`.json` as JSON Lines, anything
/// else as CSV (a file whose first byte is `{` is JSON Lines too).
pub fn read_send_log(path: &Path, shown_as: &str) -> Result<SendLogRead, CollectError> {
    let io = |source| CollectError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let jsonl = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if ["jsonl", "ndjson", "json"].contains(&e.to_ascii_lowercase().as_str()) => true,
        Some(e) if e.eq_ignore_ascii_case("csv") => false,
        _ => {
            let head = reader.fill_buf().map_err(io)?;
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        }
    };
    let mut out = if jsonl {
        parse_jsonl(reader).map_err(io)?
    } else {
        parse_csv(reader).map_err(|message| CollectError::Json {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message,
        })?
    };
    out.stats.file = shown_as.to_owned();
    Ok(out)
}

/// Parses a CSV send log (header row required). Errors are about the file as
/// a whole (no header, a required column missing); bad rows are counted.
pub fn parse_csv(reader: impl Read) -> Result<SendLogRead, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(CrLf::new(reader));
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (Some(ts), Some(num)) = (col("timestamp"), col("phone_number_id")) else {
        return Err(format!(
            "the CSV header must name the columns timestamp and phone_number_id (found: {})",
            headers.iter().collect::<Vec<_>>().join(",")
        ));
    };
    let status = col("status");
    let code = col("error_code");
    let any = |names: &[&str]| names.iter().find_map(|n| col(n));
    let template = any(&["template_name", "template"]);
    let language = any(&["template_language", "language"]);
    let country = any(&["recipient_country", "country"]);
    let recipient = any(&["recipient", "to", "wa_id"]);
    if status.is_none() && code.is_none() {
        return Err("the CSV header must name a status or an error_code column".into());
    }
    let mut out = SendLogRead::default();
    out.stats.template_column = template.is_some();
    let mut rec = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map_or(line, |p| p.line());
                if rec.iter().all(str::is_empty) {
                    continue;
                }
                let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
                if rec.get(ts).is_none() || rec.get(num).is_none() {
                    out.bad_row(line, format!("{} fields, fewer than the header", rec.len()));
                    continue;
                }
                let (t, n, s, c) = (get(Some(ts)), get(Some(num)), get(status), get(code));
                let tpl = TemplateCols {
                    template: get(template),
                    language: get(language),
                    country: get(country),
                    recipient: get(recipient),
                };
                out.row(line, t, n, s, c, tpl);
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                out.bad_row(line, format!("unreadable CSV row: {e}"));
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    break;
                }
            }
        }
    }
    out.finish();
    Ok(out)
}

/// Turns CRLF line ends into LF while streaming: the csv crate reports the
/// line of a record one too low after CRLF line ends, and line numbers are
/// how bad rows are named.
struct CrLf<R> {
    inner: R,
    /// A `\r` held back from the previous read (it may precede a `\n`).
    pending_cr: bool,
}

impl<R: Read> CrLf<R> {
    fn new(inner: R) -> Self {
        CrLf {
            inner,
            pending_cr: false,
        }
    }
}

impl<R: Read> Read for CrLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let start = usize::from(self.pending_cr);
            if start == 1 {
                buf[0] = b'\r';
            }
            let n = self.inner.read(&mut buf[start..])?;
            if n == 0 {
                // End of input: a held-back `\r` is emitted as it was.
                self.pending_cr = false;
                return Ok(start);
            }
            let end = start + n;
            let mut w = 0;
            for r in 0..end {
                let b = buf[r];
                if b == b'\r' && r + 1 < end && buf[r + 1] == b'\n' {
                    continue;
                }
                buf[w] = b;
                w += 1;
            }
            // A `\r` at the very end may be the first half of a CRLF.
            self.pending_cr = w > 0 && buf[w - 1] == b'\r';
            if self.pending_cr {
                w -= 1;
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

#[derive(Deserialize)]
struct JsonRow {
    #[serde(default)]
    timestamp: Option<serde_json::Value>,
    #[serde(default)]
    phone_number_id: Option<serde_json::Value>,
    #[serde(default)]
    status: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<serde_json::Value>,
    #[serde(default, alias = "template")]
    template_name: Option<serde_json::Value>,
    #[serde(default, alias = "language")]
    template_language: Option<serde_json::Value>,
    #[serde(default, alias = "country")]
    recipient_country: Option<serde_json::Value>,
    #[serde(default, alias = "to", alias = "wa_id")]
    recipient: Option<serde_json::Value>,
}

fn scalar(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n
                .as_f64()
                .map(|f| (f as i64).to_string())
                .unwrap_or_default(),
        },
        Some(other) => other.to_string(),
    }
}

/// Parses a JSON Lines send log.
pub fn parse_jsonl(reader: impl BufRead) -> std::io::Result<SendLogRead> {
    let mut out = SendLogRead::default();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let raw = line?;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
        match serde_json::from_slice::<JsonRow>(raw) {
            Ok(r) => {
                let (t, n, s, c) = (
                    scalar(r.timestamp.as_ref()),
                    scalar(r.phone_number_id.as_ref()),
                    scalar(r.status.as_ref()),
                    scalar(r.error_code.as_ref()),
                );
                let (tn, tl, tc, tr) = (
                    scalar(r.template_name.as_ref()),
                    scalar(r.template_language.as_ref()),
                    scalar(r.recipient_country.as_ref()),
                    scalar(r.recipient.as_ref()),
                );
                if !tn.is_empty() {
                    out.stats.template_column = true;
                }
                let tpl = TemplateCols {
                    template: &tn,
                    language: &tl,
                    country: &tc,
                    recipient: &tr,
                };
                out.row(line_no, &t, &n, &s, &c, tpl);
            }
            Err(e) => {
                let msg = e.to_string();
                let msg = match msg.rfind(" at line ") {
                    Some(i) => msg[..i].to_owned(),
                    None => msg,
                };
                out.bad_row(line_no, format!("not a JSON object: {msg}"));
            }
        }
    }
    out.finish();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_aggregate_and_bad_rows_name_their_lines() {
        let csv = "timestamp,phone_number_id,recipient,status,error_code\n\
                   2026-11-24T10:00:00Z,111,+5511999990000,failed,131049\n\
                   1795989600,111,+5511999990001,delivered,\n\
                   yesterday,111,+5511999990002,sent,\n\
                   2026-11-24T11:00:00-03:00,222,+14155550100,failed,13x\n\
                   2026-11-24T12:00:00Z,,+14155550100,sent,\n";
        let r = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(r.stats.rows, 2);
        assert_eq!(r.stats.bad_rows, 3);
        assert_eq!(r.bad.iter().map(|b| b.0).collect::<Vec<_>>(), [4, 5, 6]);
        assert_eq!(r.stats.codes[&131_049].count, 1);
        let note = r.note().unwrap();
        assert!(note.contains("line 4: timestamp `yesterday`"), "{note}");
        assert!(note.contains("line 5: error_code `13x`"), "{note}");
    }

    #[test]
    fn crlf_and_bom_keep_line_numbers_right() {
        for text in [
            "timestamp,phone_number_id,status,error_code\r\n1795514400,1,sent,\r\nbad,1,sent,\r\n",
            "\u{feff}timestamp,phone_number_id,status,error_code\n1795514400,1,sent,\nbad,1,sent,\n",
        ] {
            let r = parse_csv(text.as_bytes()).unwrap();
            assert_eq!(
                r.bad.iter().map(|b| b.0).collect::<Vec<_>>(),
                [3],
                "{text:?}"
            );
            assert_eq!(r.stats.rows, 1);
        }
        // A CRLF split across reads, one byte at a time.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.0.split_first() {
                    Some((b, rest)) if !buf.is_empty() => {
                        buf[0] = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let mut out = Vec::new();
        CrLf::new(OneByte(b"a\r\nb\rc\r"))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"a\nb\rc\r");
    }

    #[test]
    fn csv_without_required_columns_is_an_error() {
        let err = parse_csv("when,number,status\n1,2,sent\n".as_bytes()).unwrap_err();
        assert!(err.contains("timestamp and phone_number_id"), "{err}");
    }

    #[test]
    fn jsonl_accepts_numbers_strings_and_nulls() {
        let text = r#"{"timestamp": 1795989600, "phone_number_id": 111, "status": "failed", "error_code": 131031}
{"timestamp": "2026-11-24T10:00:00Z", "phone_number_id": "111", "status": "read", "error_code": null}
not json
{"timestamp": "soon", "phone_number_id": "111", "status": "sent"}
"#;
        let r = parse_jsonl(text.as_bytes()).unwrap();
        assert_eq!(r.stats.rows, 2);
        assert_eq!(r.stats.bad_rows, 2);
        assert_eq!(r.bad.iter().map(|b| b.0).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(r.stats.codes[&131_031].first, 1_795_989_600);
        assert_eq!(r.stats.last_ok["111"], 1_795_514_400);
    }

    #[test]
    fn template_sends_are_counted_per_template_country_and_day_in_a_stream() {
        let csv = "timestamp,phone_number_id,recipient,template,status,error_code\n\
                   2026-11-24T10:00:00Z,111,+5511999990000,pedido_enviado,delivered,\n\
                   2026-11-24T11:00:00Z,111,+5511999990001,pedido_enviado,read,\n\
                   2026-11-24T12:00:00Z,111,+5511999990002,pedido_enviado,failed,131049\n\
                   2026-11-23T12:00:00Z,111,+14155550100,pedido_enviado,sent,\n\
                   2026-11-23T12:00:00Z,111,+9990001,pedido_enviado,sent,\n\
                   2026-11-23T13:00:00Z,111,+5511999990003,,sent,\n";
        let r = parse_csv(csv.as_bytes()).unwrap();
        assert!(r.stats.template_column);
        let all = r
            .stats
            .template_sends("pedido_enviado", "pt_BR", 0, i64::MAX);
        // Failed sends are not charged; an unknown calling code is "*".
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [
                ("*".to_owned(), 1),
                ("BR".to_owned(), 2),
                ("US".to_owned(), 1)
            ]
        );
        let day = 1_795_478_400; // 2026-11-24
        let d = r
            .stats
            .template_sends("pedido_enviado", "pt_BR", day, day + 86_400);
        assert_eq!(d.get("BR"), Some(&2));
        assert_eq!(d.get("US"), None);

        // A country column wins over the number; a language column splits.
        let csv = "timestamp,phone_number_id,template_name,template_language,recipient_country,status\n\
                   2026-11-24T10:00:00Z,111,promo,es_MX,mx,delivered\n\
                   2026-11-24T10:00:00Z,111,promo,en_US,US,delivered\n";
        let r = parse_csv(csv.as_bytes()).unwrap();
        let es = r.stats.template_sends("promo", "es_MX", 0, i64::MAX);
        assert_eq!(es.into_iter().collect::<Vec<_>>(), [("MX".to_owned(), 1)]);

        // No template column: nothing counted, and the stats say so.
        let r =
            parse_csv("timestamp,phone_number_id,status\n1795989600,1,sent\n".as_bytes()).unwrap();
        assert!(!r.stats.template_column);
        assert!(r.stats.template_volume.is_empty());

        // JSON Lines: `template` and `to` aliases; no recipient = the default country ("").
        let text = r#"{"timestamp": 1795989600, "phone_number_id": "1", "status": "delivered", "template": "promo", "to": "+4915123456789"}
{"timestamp": 1795989600, "phone_number_id": "1", "status": "delivered", "template_name": "promo"}
"#;
        let r = parse_jsonl(text.as_bytes()).unwrap();
        assert!(r.stats.template_column);
        let v = r.stats.template_sends("promo", "de", 0, i64::MAX);
        assert_eq!(
            v.into_iter().collect::<Vec<_>>(),
            [(String::new(), 1), ("DE".to_owned(), 1)]
        );
    }
}

/// Names of the send log's recipient column, in order of preference.
pub const RECIPIENT_COLUMNS: [&str; 5] = [
    "recipient",
    "recipient_id",
    "to",
    "wa_id",
    "recipient_phone",
];

/// Error 130497: business account restricted from messaging users in this
/// country.
pub const COUNTRY_RESTRICTED: i64 = 130_497;

/// What the send log says about recipients — read only where needed (the
/// gate's messaging-limit headroom and learned country restrictions), and
/// kept to the minimum: the distinct numbers contacted inside the window,
/// and a count per country of 130497 failures. Nothing else per recipient.
#[derive(Debug, Default)]
pub struct RecipientRead {
    /// The recipient column/field found; `None`: the log has none.
    pub column: Option<String>,
    /// Distinct valid recipients of sends inside the window (a row whose
    /// status is `failed` or that has an error code is not a send).
    pub contacted: std::collections::HashSet<u64>,
    /// 130497 failures per recipient country (region code), anywhere in the log.
    pub restricted: std::collections::BTreeMap<String, u64>,
    /// Rows whose recipient is not a valid number (ignored).
    pub invalid_recipients: u64,
}

/// Reads the recipient side of a send log: sends in `[from, to]` (unix
/// seconds) and 130497 failures. Recipients are read as E.164: a value
/// with `+`/`00`, or the digits of a WhatsApp id (`15125550191`, which is how
/// Meta's webhooks give `recipient_id`), else a national number of `region`.
pub fn read_recipients(
    path: &Path,
    region: rlibphonenumber::Region,
    from: i64,
    to: i64,
) -> Result<RecipientRead, CollectError> {
    use crate::collect::consent::phone::PhoneNormalizer;
    let io = |source| CollectError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(io)?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let jsonl = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if ["jsonl", "ndjson", "json"].contains(&e.to_ascii_lowercase().as_str()) => true,
        Some(e) if e.eq_ignore_ascii_case("csv") => false,
        _ => head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    };
    let mut norm = PhoneNormalizer::new(region);
    let mut plus = Vec::with_capacity(24);
    let mut out = RecipientRead::default();
    let mut take =
        |out: &mut RecipientRead, ts: &str, recipient: &str, status: &str, code: &str| {
            let recipient = recipient.trim();
            if recipient.is_empty() {
                return;
            }
            let code = code.trim();
            let code: Option<i64> = if code.is_empty() || code == "0" {
                None
            } else {
                Some(code.parse().unwrap_or(-1))
            };
            let failed = code.is_some() || status.trim().eq_ignore_ascii_case("failed");
            let in_window = || parse_time(ts).is_some_and(|t| (from..=to).contains(&t));
            if !(code == Some(COUNTRY_RESTRICTED) || (!failed && in_window())) {
                return;
            }
            let digits_only = recipient.bytes().all(|b| b.is_ascii_digit());
            let number = if digits_only {
                plus.clear();
                plus.push(b'+');
                plus.extend_from_slice(recipient.as_bytes());
                norm.normalize(&plus)
                    .or_else(|| norm.normalize(recipient.as_bytes()))
            } else {
                norm.normalize(recipient.as_bytes())
            };
            let Some(n) = number else {
                out.invalid_recipients += 1;
                return;
            };
            if code == Some(COUNTRY_RESTRICTED) {
                if let Some(r) = crate::collect::consent::region::region_of(n) {
                    *out.restricted
                        .entry(r.as_region_str().as_str().to_owned())
                        .or_default() += 1;
                }
            } else {
                out.contacted.insert(n);
            }
        };
    if jsonl {
        for line in reader.split(b'\n') {
            let raw = line.map_err(io)?;
            let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw)
            else {
                continue;
            };
            let Some((name, rec)) = RECIPIENT_COLUMNS
                .iter()
                .find_map(|c| v.get(*c).map(|r| (*c, r)))
            else {
                continue;
            };
            out.column.get_or_insert_with(|| name.to_owned());
            let (t, r, s, c) = (
                scalar(v.get("timestamp")),
                scalar(Some(rec)),
                scalar(v.get("status")),
                scalar(v.get("error_code")),
            );
            take(&mut out, &t, &r, &s, &c);
        }
        return Ok(out);
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(CrLf::new(reader));
    let headers = rdr
        .headers()
        .map_err(|e| CollectError::Json {
            path: path.to_owned(),
            line: 1,
            column: 0,
            message: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let Some((rc, rname)) = RECIPIENT_COLUMNS
        .iter()
        .find_map(|c| col(c).map(|i| (i, *c)))
    else {
        return Ok(out);
    };
    out.column = Some(rname.to_owned());
    let (ts, status, code) = (col("timestamp"), col("status"), col("error_code"));
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
                take(&mut out, get(ts), get(Some(rc)), get(status), get(code));
            }
            // Bad rows are counted and named by `read_send_log`; here they
            // are skipped.
            Err(e)
                if matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) => {}
            Err(_) => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod recipient_tests {
    use super::*;

    fn read(name: &str, text: &str, from: i64, to: i64) -> RecipientRead {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        read_recipients(&p, rlibphonenumber::Region::US, from, to).unwrap()
    }

    #[test]
    fn unique_recipients_in_the_window_and_130497_countries() {
        // 2026-11-24T10:00:00Z
        let t0 = 1_795_514_400;
        let csv = "timestamp,phone_number_id,recipient,status,error_code\n\
                   2026-11-24T10:00:00Z,1,+14155550132,sent,\n\
                   2026-11-24T10:00:05Z,1,14155550132,delivered,\n\
                   2026-11-24T11:00:00Z,1,(212) 555-0187,read,\n\
                   2026-11-24T12:00:00Z,1,+14155550199,failed,131049\n\
                   2026-11-22T12:00:00Z,1,+14155550111,sent,\n\
                   2026-11-24T12:00:00Z,1,5511961234567,failed,130497\n\
                   2026-11-01T12:00:00Z,1,+55 11 96123-0000,failed,130497\n\
                   2026-11-24T12:00:00Z,1,not-a-number,sent,\n";
        let r = read("log.csv", csv, t0 - 3600, t0 + 86_400);
        assert_eq!(r.column.as_deref(), Some("recipient"));
        let mut got: Vec<u64> = r.contacted.iter().copied().collect();
        got.sort();
        assert_eq!(got, [12125550187, 14155550132]);
        assert_eq!(r.restricted.get("BR"), Some(&2));
        assert_eq!(r.invalid_recipients, 1);
        let jsonl = "{\"timestamp\":1795514400,\"to\":\"14155550132\",\"status\":\"sent\"}\n\
                     {\"timestamp\":1795514400,\"to\":\"+4930901820\",\"status\":\"failed\",\"error_code\":130497}\n";
        let r = read("log.jsonl", jsonl, t0, t0);
        assert_eq!(r.column.as_deref(), Some("to"));
        assert_eq!(r.contacted.len(), 1);
        assert_eq!(r.restricted.get("DE"), Some(&1));
    }

    #[test]
    fn a_log_without_recipients_says_so() {
        let r = read(
            "log.csv",
            "timestamp,phone_number_id,status\n1795989600,1,sent\n",
            0,
            i64::MAX,
        );
        assert!(r.column.is_none());
        assert!(r.contacted.is_empty());
    }
}
