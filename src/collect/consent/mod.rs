//! Opt-in coverage: an audience CSV against a consent ledger CSV.
//!
//! Semantics (issue 4, "Semantics"):
//! - Audience: header row; the phone column is `phone`, else `phone_number`,
//!   `wa_id`, `msisdn` (or the one named by `--phone-column`); other columns
//!   are ignored. `total` counts data rows, `invalid` those whose phone is
//!   invalid (see [`phone`]) or missing, `unique` the distinct valid E.164
//!   numbers, `duplicates` = valid rows − unique.
//! - Ledger: `phone,event,timestamp,source` (columns found by name).
//!   `ledger_rows` counts data rows. A row with an invalid phone is
//!   `ledger_invalid`, whatever else it holds; then a row whose event is not
//!   `opt_in`/`opt_out` or whose timestamp is not RFC 3339 (or a date, meaning
//!   00:00:00Z) is a `ledger_error` (the first few are reported with their
//!   line numbers). Both are ignored: an unreadable row never counts as
//!   consent. Events after `as_of` are ignored; one exactly at `as_of` counts.
//! - Per number the latest event decides; on equal timestamps `opt_out` wins.
//!   Every unique audience number is exactly one of `revoked` (latest is
//!   `opt_out`), `stale` (latest is `opt_in` older than `as_of − max_age_days`),
//!   `covered` (`opt_in` at or after that cutoff) or `missing` (no event).
//!
//! How: the audience is parsed on all cores into its valid numbers, which go
//! into a [`table::NumberTable`]; the ledger is then streamed on all cores and
//! only events of audience numbers are kept — the latest per number, by an
//! atomic `fetch_max` — so memory depends on the audience, never on the
//! ledger.

pub mod csvread;
pub mod phone;
pub mod phonemeta;
pub mod region;
pub mod scope;
pub mod table;
pub mod timestamp;

use std::path::{Path, PathBuf};

use rlibphonenumber::Region;
use thiserror::Error;

use crate::rulepack::countries::CountryRule;
use crate::snapshot::optin::{CountryRuleCount, Coverage, RowIssue, ScopeCoverage};
use csvread::{CsvFile, RowSink};
use phone::{Candidate, PhoneNormalizer, Unchecked};
use scope::{SCOPES, Scopes};
use table::NumberTable;
use timestamp::{MICROS_PER_DAY, Micros};

/// Phone column names tried in order when none is given.
pub const PHONE_COLUMNS: [&str; 4] = ["phone", "phone_number", "wa_id", "msisdn"];

/// How many row issues are kept as samples.
pub const SAMPLES: usize = 5;

/// Table accesses are batched by this many (see [`NumberTable::touch`]).
const BATCH: usize = 64;

#[derive(Debug, Error)]
pub enum ConsentError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: empty file (expected a header row)")]
    Empty { path: PathBuf },
    #[error("{path}, line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}, line {line} (header): {message}")]
    Header {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// What a coverage computation needs besides the two files.
#[derive(Debug, Clone)]
pub struct OptinParams {
    /// Default region for national numbers.
    pub region: Region,
    /// The instant verdicts are computed at.
    pub as_of: Micros,
    pub max_age_days: u32,
    /// Audience phone column; `None` tries [`PHONE_COLUMNS`].
    pub phone_column: Option<String>,
    /// Worker threads (0 = one per core, at most 8).
    pub threads: usize,
}

impl OptinParams {
    fn threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8)
    }

    /// The oldest opt-in that still covers a number.
    pub fn cutoff(&self) -> Micros {
        self.as_of
            .saturating_sub(i64::from(self.max_age_days) * MICROS_PER_DAY)
    }
}

/// What the campaign sends, beyond the plain opt-in question (issue 9):
/// the template categories (consent must cover every one of them) and the
/// country rules to count. The default is the plain question, with exactly
/// the unscoped semantics.
#[derive(Debug, Clone, Default)]
pub struct Campaign {
    /// Template categories sent; `None` = unknown, every consent scope is
    /// required (for a ledger without scopes: the unscoped verdicts).
    pub categories: Option<Scopes>,
    /// Country rules to count (in force, applicable to the categories).
    pub country_rules: Vec<CountryRule>,
}

impl Campaign {
    /// The consent scopes a number must be covered in.
    pub fn required(&self) -> Scopes {
        self.categories.unwrap_or(Scopes::ALL)
    }
}

/// The computed coverage plus the per-number verdicts (for `--uncovered`).
pub struct Outcome {
    pub coverage: Coverage,
    table: NumberTable,
    phone_index: usize,
    cutoff: Micros,
    required: Scopes,
    rules: Vec<CountryRule>,
}

/// Why an audience row is not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Covered,
    Invalid,
    Revoked,
    Stale,
    Missing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Covered => "covered",
            Verdict::Invalid => "invalid",
            Verdict::Revoked => "revoked",
            Verdict::Stale => "stale",
            Verdict::Missing => "missing",
        }
    }
}

/// The verdict for a set of scopes from the raw per-scope events.
fn verdict_for(events: [u64; 3], cutoff: Micros, required: Scopes) -> (Verdict, [Verdict; 3]) {
    let per = events.map(|e| verdict(table::decode_event(e), cutoff));
    (scope::combine(per, required), per)
}

fn verdict(latest: Option<(Micros, bool)>, cutoff: Micros) -> Verdict {
    match latest {
        None => Verdict::Missing,
        Some((_, true)) => Verdict::Revoked,
        Some((at, false)) if at < cutoff => Verdict::Stale,
        Some(_) => Verdict::Covered,
    }
}

fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn column_names(header: &[Vec<u8>]) -> String {
    header
        .iter()
        // A file without a header shows data here: mask phone numbers.
        .map(|h| format!("`{}`", redact(lossy(h))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn same_name(field: &[u8], name: &str) -> bool {
    field.trim_ascii().eq_ignore_ascii_case(name.as_bytes())
}

/// A header that is one field holding `;`, tab or `|`: name the delimiter.
fn delimiter_hint(header: &[Vec<u8>], wanted: &[&str]) -> Option<String> {
    if header.len() != 1 {
        return None;
    }
    let h = &header[0];
    for (d, name) in [(b';', "`;`"), (b'\t', "tab"), (b'|', "`|`")] {
        if h.contains(&d) {
            let found = h
                .split(|&b| b == d)
                .any(|f| wanted.iter().any(|w| same_name(f, w)));
            return Some(format!(
                "the header is one column holding {name}: the file looks {name}-separated{}; wabaguard reads comma-separated CSV, export again with `,` as the delimiter",
                if found {
                    " (the wanted columns are there)"
                } else {
                    ""
                }
            ));
        }
    }
    None
}

fn header_error(file: &CsvFile, message: String) -> ConsentError {
    ConsentError::Header {
        path: file.path().to_owned(),
        line: file.header_line(),
        message,
    }
}

/// Finds the audience phone column: `(index, name)`.
pub fn audience_phone_column(
    file: &CsvFile,
    wanted: Option<&str>,
) -> Result<(usize, String), ConsentError> {
    let header = file.header();
    let names: Vec<&str> = match wanted {
        Some(w) => vec![w],
        None => PHONE_COLUMNS.to_vec(),
    };
    for name in &names {
        if let Some(i) = header.iter().position(|h| same_name(h, name)) {
            return Ok((i, lossy(&header[i])));
        }
    }
    let message = match delimiter_hint(header, &names) {
        Some(hint) => hint,
        None => match wanted {
            Some(w) => format!("no column `{w}` (columns: {})", column_names(header)),
            None => format!(
                "no phone column: looked for {} (columns: {}); name the column with --phone-column (or `phone_column` in the config)",
                PHONE_COLUMNS.join(", "),
                column_names(header)
            ),
        },
    };
    Err(header_error(file, message))
}

/// The optional ledger `scope` column.
pub fn ledger_scope_column(file: &CsvFile) -> Option<usize> {
    file.header().iter().position(|h| same_name(h, "scope"))
}

/// Finds the ledger columns: `(phone, event, timestamp)`.
pub fn ledger_columns(file: &CsvFile) -> Result<(usize, usize, usize), ConsentError> {
    let header = file.header();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| same_name(h, n)))
    };
    let phone = find(&PHONE_COLUMNS);
    let event = find(&["event"]);
    let ts = find(&["timestamp"]);
    match (phone, event, ts) {
        (Some(p), Some(e), Some(t)) => Ok((p, e, t)),
        _ => {
            let message = match delimiter_hint(header, &["phone", "event", "timestamp"]) {
                Some(hint) => hint,
                None => {
                    let mut missing = Vec::new();
                    if phone.is_none() {
                        missing.push("phone");
                    }
                    if event.is_none() {
                        missing.push("event");
                    }
                    if ts.is_none() {
                        missing.push("timestamp");
                    }
                    format!(
                        "a consent ledger needs the columns phone, event, timestamp (and source; optionally scope); missing: {} (columns: {})",
                        missing.join(", "),
                        column_names(header)
                    )
                }
            };
            Err(header_error(file, message))
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

fn merge_samples(all: impl IntoIterator<Item = Vec<RowIssue>>) -> Vec<RowIssue> {
    let mut v: Vec<RowIssue> = all.into_iter().flatten().collect();
    v.sort_by_key(|i| i.line);
    v.truncate(SAMPLES);
    v
}

struct AudienceSink {
    norm: PhoneNormalizer,
    col: usize,
    width: usize,
    total: u64,
    invalid: u64,
    ragged: u64,
    ragged_samples: Vec<RowIssue>,
    numbers: Vec<u64>,
}

impl RowSink for AudienceSink {
    #[inline]
    fn row(&mut self, line: u64, fields: &[&[u8]]) {
        self.total += 1;
        if fields.len() != self.width {
            self.ragged += 1;
            let (got, want) = (fields.len(), self.width);
            keep_sample(&mut self.ragged_samples, line, || {
                format!("{got} fields, the header has {want}")
            });
        }
        match fields.get(self.col).and_then(|f| self.norm.normalize(f)) {
            Some(n) => self.numbers.push(n),
            None => self.invalid += 1,
        }
    }
}

struct LedgerSink<'t> {
    norm: PhoneNormalizer,
    table: &'t NumberTable,
    cols: (usize, usize, usize),
    scope_col: Option<usize>,
    as_of: Micros,
    rows: u64,
    invalid: u64,
    errors: u64,
    future: u64,
    samples: Vec<RowIssue>,
    /// Rows read but not yet counted: their phone may still need its
    /// validity check, which is skipped for numbers found in the audience
    /// table (it only holds valid numbers). Looked up in batches.
    pending: Vec<Pending>,
    /// Reasons of the pending rows that are errors (rare).
    pending_errors: Vec<RowIssue>,
}

struct Pending {
    phone: Candidate,
    what: What,
}

enum What {
    /// An event to record (encoded for [`NumberTable::record`]) and its
    /// scopes.
    Event(u64, u8),
    /// An event after `as_of`.
    Future,
    /// An unreadable row: index into `pending_errors`.
    Error(usize),
}

impl LedgerSink<'_> {
    fn flush(&mut self) {
        for p in &self.pending {
            if let Candidate::Valid(n) | Candidate::Check(Unchecked { e164: n, .. }) = p.phone {
                self.table.touch(n);
            }
        }
        for p in self.pending.drain(..) {
            let slot = match p.phone {
                Candidate::Invalid => {
                    self.invalid += 1;
                    continue;
                }
                Candidate::Valid(n) => self.table.find(n),
                Candidate::Check(u) => {
                    let slot = self.table.find(u.e164);
                    if slot.is_none() && !self.norm.check(&u) {
                        self.invalid += 1;
                        continue;
                    }
                    slot
                }
            };
            match p.what {
                What::Event(ev, scopes) => {
                    if let Some(slot) = slot {
                        self.table.record_scoped(slot, ev, scopes);
                    }
                }
                What::Future => self.future += 1,
                What::Error(i) => {
                    self.errors += 1;
                    let issue = std::mem::replace(
                        &mut self.pending_errors[i],
                        RowIssue {
                            line: 0,
                            reason: String::new(),
                        },
                    );
                    keep_sample(&mut self.samples, issue.line, || issue.reason);
                }
            }
        }
        self.pending_errors.clear();
    }

    fn error(&mut self, line: u64, reason: String) -> What {
        self.pending_errors.push(RowIssue { line, reason });
        What::Error(self.pending_errors.len() - 1)
    }
}

impl RowSink for LedgerSink<'_> {
    #[inline]
    fn row(&mut self, line: u64, fields: &[&[u8]]) {
        self.rows += 1;
        let (pc, ec, tc) = self.cols;
        let phone = match fields.get(pc) {
            Some(f) => self.norm.candidate(f),
            None => Candidate::Invalid,
        };
        if phone == Candidate::Invalid {
            self.invalid += 1;
            return;
        }
        let what = match fields.get(ec).map(|e| e.trim_ascii()) {
            Some(e @ (b"opt_in" | b"opt_out")) => {
                let opt_out = e == b"opt_out";
                match fields.get(tc).and_then(|t| timestamp::parse(t)) {
                    Some(at) if at > self.as_of => What::Future,
                    Some(at) => {
                        let raw = self.scope_col.and_then(|c| fields.get(c)).copied();
                        match raw.map_or(Ok(Scopes::ALL), Scopes::parse_ledger) {
                            Ok(sc) => What::Event(table::encode_event(at, opt_out), sc.bits()),
                            Err(_) => {
                                let reason = format!(
                                    "unknown scope `{}` (expected marketing, utility, authentication or all, separated by |)",
                                    redact(lossy(raw.unwrap_or_default()))
                                );
                                self.error(line, reason)
                            }
                        }
                    }
                    None => {
                        let reason = match fields.get(tc) {
                            None => "no timestamp field (short row)".to_owned(),
                            Some(t) => format!(
                                "unparseable timestamp `{}` (expected RFC 3339 or YYYY-MM-DD)",
                                redact(lossy(t))
                            ),
                        };
                        self.error(line, reason)
                    }
                }
            }
            None => self.error(line, "no event field (short row)".to_owned()),
            Some(e) => {
                let reason = format!(
                    "unknown event `{}` (expected opt_in or opt_out)",
                    redact(lossy(e))
                );
                self.error(line, reason)
            }
        };
        self.pending.push(Pending { phone, what });
        if self.pending.len() == BATCH {
            self.flush();
        }
    }

    fn end(&mut self) {
        self.flush();
    }
}

/// Computes the coverage of `audience` by `consent` (the plain question:
/// no category, no country rules).
pub fn compute(audience: &Path, consent: &Path, p: &OptinParams) -> Result<Outcome, ConsentError> {
    compute_campaign(audience, consent, p, &Campaign::default())
}

/// Computes the coverage of `audience` by `consent` for a campaign: consent
/// scoped to its categories, and the rows its country rules match.
pub fn compute_campaign(
    audience: &Path,
    consent: &Path,
    p: &OptinParams,
    campaign: &Campaign,
) -> Result<Outcome, ConsentError> {
    let started = std::time::Instant::now();
    let threads = p.threads();
    let norm = PhoneNormalizer::new(p.region);

    // Open both first, so a bad ledger header is reported before the work.
    let afile = CsvFile::open(audience)?;
    let (col, col_name) = audience_phone_column(&afile, p.phone_column.as_deref())?;
    let lfile = CsvFile::open(consent)?;
    let cols = ledger_columns(&lfile)?;
    let scope_col = ledger_scope_column(&lfile);

    let width = afile.header().len();
    let sinks = afile.scan(
        (0..threads)
            .map(|_| AudienceSink {
                norm: norm.clone(),
                col,
                width,
                total: 0,
                invalid: 0,
                ragged: 0,
                ragged_samples: Vec::new(),
                numbers: Vec::new(),
            })
            .collect(),
    )?;
    let mut paths = phone::PathStats::default();
    for s in &sinks {
        paths.fast += s.norm.stats.fast;
        paths.full += s.norm.stats.full;
    }
    let valid: usize = sinks.iter().map(|s| s.numbers.len()).sum();
    let mut table = NumberTable::with_capacity(valid);
    if scope_col.is_some() {
        table.enable_scopes();
    }
    let rule_rows = count_country_rows(&sinks, &campaign.country_rules);
    let unique: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = sinks
            .iter()
            .map(|sink| {
                let table = &table;
                s.spawn(move || {
                    let mut new = 0u64;
                    for batch in sink.numbers.chunks(BATCH) {
                        batch.iter().for_each(|&n| table.touch(n));
                        new += batch.iter().filter(|&&n| table.insert(n)).count() as u64;
                    }
                    new
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let mut cov = Coverage {
        total: sinks.iter().map(|s| s.total).sum(),
        invalid: sinks.iter().map(|s| s.invalid).sum(),
        unique,
        duplicates: valid as u64 - unique,
        ragged_rows: sinks.iter().map(|s| s.ragged).sum(),
        ragged_samples: merge_samples(sinks.into_iter().map(|s| s.ragged_samples)),
        as_of: timestamp::format(p.as_of),
        max_age_days: p.max_age_days,
        region: p.region.as_region_str().as_str().to_owned(),
        phone_column: col_name,
        category: campaign
            .categories
            .map(Scopes::category_names)
            .unwrap_or_default(),
        ledger_scoped: scope_col.is_some(),
        country_rules: campaign
            .country_rules
            .iter()
            .zip(rule_rows)
            .map(|(r, rows)| CountryRuleCount {
                id: r.id.clone(),
                title: r.title.clone(),
                countries: r.countries.clone(),
                categories: r.categories.category_names(),
                action: r.action.as_str().to_owned(),
                source: r.source.clone(),
                rows,
            })
            .collect(),
        ..Coverage::default()
    };

    let sinks = lfile.scan(
        (0..threads)
            .map(|_| LedgerSink {
                norm: norm.clone(),
                table: &table,
                cols,
                scope_col,
                as_of: p.as_of,
                rows: 0,
                invalid: 0,
                errors: 0,
                future: 0,
                samples: Vec::new(),
                pending: Vec::with_capacity(BATCH),
                pending_errors: Vec::new(),
            })
            .collect(),
    )?;
    for s in &sinks {
        paths.fast += s.norm.stats.fast;
        paths.full += s.norm.stats.full;
    }
    tracing::debug!(
        started_ms = started.elapsed().as_millis() as u64,
        fast_path = paths.fast,
        full_parser = paths.full,
        threads,
        "phones read"
    );
    cov.ledger_rows = sinks.iter().map(|s| s.rows).sum();
    cov.ledger_invalid = sinks.iter().map(|s| s.invalid).sum();
    cov.ledger_errors = sinks.iter().map(|s| s.errors).sum();
    cov.ledger_future = sinks.iter().map(|s| s.future).sum();
    cov.ledger_error_samples = merge_samples(sinks.into_iter().map(|s| s.samples));

    let cutoff = p.cutoff();
    let required = campaign.required();
    let share = |covered: u64| {
        if cov.unique == 0 {
            0.0
        } else {
            covered as f64 / cov.unique as f64
        }
    };
    // [covered, stale, revoked, missing] per scope
    let mut per_scope = [[0u64; 4]; 3];
    let bump = |c: &mut [u64; 4], v: Verdict| match v {
        Verdict::Covered => c[0] += 1,
        Verdict::Stale => c[1] += 1,
        Verdict::Revoked => c[2] += 1,
        Verdict::Missing | Verdict::Invalid => c[3] += 1,
    };
    let mut headline = [0u64; 4];
    for (_, events) in table.scoped_entries() {
        let (v, per) = verdict_for(events, cutoff, required);
        bump(&mut headline, v);
        for (c, v) in per_scope.iter_mut().zip(per) {
            bump(c, v);
        }
    }
    [cov.covered, cov.stale, cov.revoked, cov.missing] = headline;
    cov.coverage = share(cov.covered);
    cov.scopes = SCOPES
        .iter()
        .zip(per_scope)
        .map(|((_, name, _), c)| ScopeCoverage {
            scope: (*name).to_owned(),
            covered: c[0],
            stale: c[1],
            revoked: c[2],
            missing: c[3],
            coverage: share(c[0]),
        })
        .collect();
    Ok(Outcome {
        coverage: cov,
        table,
        phone_index: col,
        cutoff,
        required,
        rules: campaign.country_rules.clone(),
    })
}

/// Bit `i` set when rule `i` matches the number's country (at most 64
/// rules are told apart; more would be unusual for country rules).
fn rule_mask(rules: &[CountryRule], number: u64) -> u64 {
    if rules.is_empty() {
        return 0;
    }
    let Some(region) = region::region_of(number) else {
        return 0;
    };
    rules
        .iter()
        .take(64)
        .enumerate()
        .filter(|(_, r)| r.covers(region))
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Valid audience rows per country rule, counted on all cores.
fn count_country_rows(sinks: &[AudienceSink], rules: &[CountryRule]) -> Vec<u64> {
    if rules.is_empty() {
        return Vec::new();
    }
    let n = rules.len().min(64);
    let parts: Vec<Vec<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = sinks
            .iter()
            .map(|sink| {
                s.spawn(move || {
                    let mut counts = vec![0u64; n];
                    let mut last: Option<(u64, u64)> = None;
                    for &num in &sink.numbers {
                        let mask = match last {
                            Some((k, m)) if k == num => m,
                            _ => rule_mask(rules, num),
                        };
                        last = Some((num, mask));
                        let mut m = mask;
                        while m != 0 {
                            counts[m.trailing_zeros() as usize] += 1;
                            m &= m - 1;
                        }
                    }
                    counts
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut total = vec![0u64; rules.len()];
    for part in parts {
        for (t, c) in total.iter_mut().zip(part) {
            *t += c;
        }
    }
    total
}

impl Outcome {
    /// The verdict for one E.164 number of the audience (for the
    /// campaign's categories).
    pub fn verdict(&self, number: Option<u64>) -> Verdict {
        match number {
            None => Verdict::Invalid,
            Some(n) => match self.table.find(n) {
                None => Verdict::Missing,
                Some(_) => {
                    let per = self
                        .table
                        .latest_scoped(n)
                        .map(|latest| verdict(latest, self.cutoff));
                    scope::combine(per, self.required)
                }
            },
        }
    }

    /// Whether a number is in the audience (valid and present).
    pub fn contains(&self, number: u64) -> bool {
        self.table.find(number).is_some()
    }

    /// The country rules that match a number.
    pub fn country_rules_of(&self, number: u64) -> impl Iterator<Item = &CountryRule> {
        let mask = rule_mask(&self.rules, number);
        self.rules
            .iter()
            .take(64)
            .enumerate()
            .filter(move |(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| r)
    }

    /// Writes every audience row that is not covered, or that a country
    /// rule matches, to `out` (atomically): `line,phone,e164,reason`, where
    /// `reason` is the consent verdict and/or `country_rule:<id>`, joined by
    /// `;` (`missing;country_rule:us-marketing`). Returns the number of rows
    /// written.
    pub fn write_uncovered(
        &self,
        audience: &Path,
        region: Region,
        out: &Path,
    ) -> Result<u64, ConsentError> {
        let mut norm = PhoneNormalizer::new(region);
        let file = CsvFile::open(audience)?;
        let col = self.phone_index;
        let mut written = 0u64;
        let mut failure: Option<ConsentError> = None;
        crate::fsutil::write_atomic_with(out, |w| {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(["line", "phone", "e164", "reason"])?;
            let mut io_error: Option<std::io::Error> = None;
            let scanned = file.for_each(|line, fields| {
                if io_error.is_some() {
                    return;
                }
                let raw = fields.get(col).copied().unwrap_or(b"");
                let number = norm.normalize(raw);
                let v = self.verdict(number);
                let mut reason = String::new();
                if v != Verdict::Covered {
                    reason.push_str(v.as_str());
                }
                if let Some(n) = number {
                    for r in self.country_rules_of(n) {
                        if !reason.is_empty() {
                            reason.push(';');
                        }
                        reason.push_str("country_rule:");
                        reason.push_str(&r.id);
                    }
                }
                if reason.is_empty() {
                    return;
                }
                let e164 = number.map(|n| format!("+{n}")).unwrap_or_default();
                let line = line.to_string();
                if let Err(e) =
                    csv.write_record([line.as_bytes(), raw, e164.as_bytes(), reason.as_bytes()])
                {
                    io_error = Some(std::io::Error::other(e));
                }
                written += 1;
            });
            if let Err(e) = scanned {
                failure = Some(e);
                return Err(std::io::Error::other("audience could not be read again"));
            }
            if let Some(e) = io_error {
                return Err(e);
            }
            csv.flush()
        })
        .map_err(|source| match failure.take() {
            Some(e) => e,
            None => ConsentError::Io {
                path: out.to_owned(),
                source,
            },
        })?;
        Ok(written)
    }
}

/// Masks a value that looks like a phone number before it goes into a
/// message (a shifted ledger row can put a phone in the event column).
fn redact(value: String) -> String {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let b = value.as_bytes();
    let date_like =
        b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && matches!(b[4], b'-' | b'/');
    let phone_like = digits >= 7
        && !date_like
        && !value.contains(':')
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().\u{a0}".contains(c));
    if phone_like {
        crate::mask::mask_phone(&value)
    } else {
        value
    }
}

/// Computes the coverage of every audience configured on `account` into
/// the snapshot, at `as_of`. A file that cannot be read becomes an
/// [`AudienceCoverage`] with an error (and a collection note), not a failure
/// of the account.
///
/// [`AudienceCoverage`]: crate::snapshot::optin::AudienceCoverage
pub fn collect_audiences(
    cfg: &crate::config::Config,
    account: &crate::config::AccountConfig,
    as_of: chrono::DateTime<chrono::Utc>,
    snapshot: &mut crate::snapshot::Snapshot,
) {
    for aud in &account.audiences {
        let file = cfg.resolve(&aud.file);
        let consent = cfg.resolve(&aud.consent);
        let region_code = aud.region.as_deref().unwrap_or(&cfg.optin.region);
        let result = phone::parse_region(region_code)
            .map_err(|m| m.to_string())
            .and_then(|region| {
                let params = OptinParams {
                    region,
                    // Whole seconds, like the run id and `generated_at`.
                    as_of: as_of.timestamp() * 1_000_000,
                    max_age_days: aud.max_age_days.unwrap_or(cfg.optin.max_age_days),
                    phone_column: aud.phone_column.clone(),
                    threads: 0,
                };
                compute(&file, &consent, &params)
                    .map(|o| o.coverage)
                    .map_err(|e| e.to_string())
            });
        let (coverage, error) = match result {
            Ok(c) => (Some(c), None),
            Err(e) => {
                snapshot.note_warning(format!("audience `{}`: {e}", aud.name));
                (None, Some(e))
            }
        };
        snapshot
            .audiences
            .push(crate::snapshot::optin::AudienceCoverage {
                name: aud.name.clone(),
                file: aud.file.display().to_string(),
                consent: aud.consent.display().to_string(),
                coverage,
                error,
            });
    }
}
