//! The Graph API source: collects one configured account live and produces
//! the same [`Snapshot`] the exports source reads from saved files, plus the
//! raw responses in the exports layout (for `wabaguard snapshot` and the
//! `snapshots/` folder of a run).
//!
//! What is fetched per account (field lists below, names from REFERENCE §2–§5):
//! the WABA node, every page of `message_templates`, every page of
//! `phone_numbers` (filtered to `phone_number_ids` when set) and each number's
//! `whatsapp_business_profile`.
//!
//! # Overlapping the sequential cursor paging
//!
//! Cursor paging is inherently sequential (page *n + 1* needs page *n*'s
//! `after` cursor), so at 50 ms per request 2,000 templates in pages of 100
//! would take a full second on their own. Collection overlaps it twice:
//!
//! 1. The WABA node, the phone-number listing (then every number's profile,
//!    all in parallel) and the template listing run concurrently.
//! 2. The first template page is requested with `summary=total_count`. When
//!    that count says at least [`SPLIT_MIN_PAGES`] more pages remain, the
//!    listing is split into independent, parallel cursor chains, one per
//!    `status` filter value (APPROVED, usually the bulk, split again by
//!    `category`). Each chain is sequential, but together they run up to
//!    `max_concurrency` wide, so the longest chain (not the sum) sets the pace.
//!
//! 3. Requests wait for the global in-flight limit by [`Priority`]: the next
//!    page of a chain goes before a new first page, and business profiles
//!    (which nothing waits on) go last, so the longest chain is never stuck
//!    behind work that could run at any time.
//!
//! The split is only trusted when it is complete: the distinct templates it
//! returned must reach `total_count`. A status or category Meta added after
//! this list was written would be missed by the filters, so in that case (or
//! when no count is given, or a filtered chain fails) the listing simply
//! continues unfiltered from the first page's cursor. Correctness never
//! depends on the filter lists; only speed does.
//!
//! All requests share one [`GraphClient`]: a global semaphore limits requests
//! in flight across all accounts, and retries, backoff and pacing are applied
//! per request (see [`client`] and [`policy`]).

pub mod client;
pub mod error;
pub mod policy;
pub mod token;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::{debug, info};

pub use client::{AccountCtx, GraphClient, Priority};
pub use error::{GraphError, GraphErrorKind};
pub use token::{Secret, TokenError, load_token};

use super::ExportFiles;
use super::exports::profile_from_response;
use crate::config::{AccountConfig, Config};
use crate::snapshot::{CollectNote, NoteLevel, PhoneNumber, Snapshot, SourceKind, Template, Waba};

/// `GET /{waba-id}?fields=…`
pub const WABA_FIELDS: &str = "id,name,currency,timezone_id,message_template_namespace,account_review_status,business_verification_status,ownership_type,health_status";
/// `GET /{waba-id}/message_templates?fields=…`
pub const TEMPLATE_FIELDS: &str = "id,name,language,status,category,previous_category,sub_category,components,quality_score,rejected_reason,parameter_format";
/// `GET /{waba-id}/phone_numbers?fields=…`
pub const PHONE_FIELDS: &str = "id,display_phone_number,verified_name,code_verification_status,quality_rating,messaging_limit_tier,whatsapp_business_manager_messaging_limit,status,name_status,new_name_status,platform_type,throughput,is_official_business_account,account_mode,health_status";
/// `GET /{phone-number-id}/whatsapp_business_profile?fields=…`
pub const PROFILE_FIELDS: &str =
    "about,address,description,email,profile_picture_url,websites,vertical";

/// Template statuses used to split the listing (REFERENCE §5). Values missing
/// here are still collected: see the module docs.
pub const SPLIT_STATUSES: &[&str] = &[
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "LIMIT_EXCEEDED",
    "ARCHIVED",
];
/// Categories that split the (usually largest) APPROVED chain further.
pub const SPLIT_CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];
/// Split the template listing only when at least this many pages remain after
/// the first; below it the extra first pages would cost more than they save.
pub const SPLIT_MIN_PAGES: u64 = 3;

/// Everything fetched for one account, as Graph returned it (pages keep
/// unknown fields; `paging` links are cleaned of any `access_token`).
#[derive(Debug, Clone)]
pub struct RawCollection {
    pub account: String,
    pub waba_id: String,
    pub api_version: String,
    pub collected_at: DateTime<Utc>,
    pub waba: Value,
    pub template_pages: Vec<Value>,
    pub phone_pages: Vec<Value>,
    /// Raw `whatsapp_business_profile` responses by phone number id.
    pub profiles: BTreeMap<String, Value>,
    pub notes: Vec<CollectNote>,
}

/// Collects one graph account: the Snapshot and the exports-layout files.
pub async fn collect_account(
    client: &GraphClient,
    cfg: &Config,
    account: &AccountConfig,
) -> Result<(Snapshot, ExportFiles), GraphError> {
    let name = account.name.as_str();
    let waba_id = account.waba_id.clone().unwrap_or_default();
    let token = load_token(cfg, account)
        .map_err(|e| GraphError::new(name, GraphErrorKind::TokenSource, e.to_string()))?;
    let acct = Arc::new(AccountCtx::new(
        name,
        &waba_id,
        token,
        token::token_origin(cfg, account),
    )?);
    let started = std::time::Instant::now();
    let raw = collect_raw(client, &acct, &account.phone_number_ids).await?;
    let snapshot = raw.to_snapshot()?;
    info!(
        account = name,
        templates = snapshot.templates.len(),
        phone_numbers = snapshot.phone_numbers.len(),
        ms = started.elapsed().as_millis() as u64,
        "collected from the Graph API"
    );
    let files = raw.export_files(&acct.token);
    Ok((snapshot, files))
}

/// Fetches the WABA, templates, numbers and profiles concurrently.
pub async fn collect_raw(
    client: &GraphClient,
    acct: &Arc<AccountCtx>,
    phone_number_ids: &[String],
) -> Result<RawCollection, GraphError> {
    let waba = async {
        let mut notes = Vec::new();
        let (v, _) = with_known_fields(acct, WABA_FIELDS, &mut notes, |f| {
            client.get(acct, client.url(&[&acct.waba_id], &[("fields", &f)]))
        })
        .await?;
        Ok::<_, GraphError>((v, notes))
    };
    let (
        (waba, mut notes),
        (template_pages, template_notes),
        (phone_pages, profiles, number_notes),
    ) = tokio::try_join!(
        waba,
        list_templates(client, acct),
        numbers_and_profiles(client, acct, phone_number_ids),
    )?;
    notes.extend(template_notes);
    notes.extend(number_notes);
    Ok(RawCollection {
        account: acct.name.clone(),
        waba_id: acct.waba_id.clone(),
        api_version: client.version().to_owned(),
        collected_at: Utc::now(),
        waba,
        template_pages: template_pages.into_iter().map(clean_page).collect(),
        phone_pages: phone_pages.into_iter().map(clean_page).collect(),
        profiles: profiles
            .into_iter()
            .map(|(k, v)| (k, clean_page(v)))
            .collect(),
        notes,
    })
}

fn data(page: &Value) -> &[Value] {
    page.get("data")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn page_size(client: &GraphClient) -> String {
    client.config().page_size.to_string()
}

/// The field Graph names in "(#100) Tried accessing nonexisting field (x) on
/// node type (…)", the answer when a field does not exist in the configured
/// `graph.version` (fields come and go between versions).
fn nonexisting_field(message: &str) -> Option<&str> {
    let start = message.find("nonexisting field (")? + "nonexisting field (".len();
    let len = message[start..].find(')')?;
    Some(&message[start..start + len])
}

/// Fields the checks cannot do without; everything else is optional.
const CORE_FIELDS: &[&str] = &["id", "name", "language", "status", "category", "components"];

/// Runs `request(fields)`; when Graph answers that a field does not exist,
/// drops that (optional) field, notes it, and asks again, so a field missing
/// from one API version costs one check, not the whole account.
async fn with_known_fields<T, Fut>(
    acct: &AccountCtx,
    fields: &str,
    notes: &mut Vec<CollectNote>,
    mut request: impl FnMut(String) -> Fut,
) -> Result<(T, String), GraphError>
where
    Fut: std::future::Future<Output = Result<T, GraphError>>,
{
    let mut fields: Vec<&str> = fields.split(',').collect();
    loop {
        let joined = fields.join(",");
        match request(joined.clone()).await {
            Ok(v) => return Ok((v, joined)),
            Err(e) if e.kind == GraphErrorKind::BadParameter => {
                let bad = nonexisting_field(&e.message)
                    .filter(|f| fields.contains(f) && !CORE_FIELDS.contains(f));
                let Some(bad) = bad else {
                    return Err(e);
                };
                let bad = bad.to_owned();
                fields.retain(|f| *f != bad);
                let message = format!(
                    "the Graph API does not know the field `{bad}` (graph.version); collected without it, so checks that need it were skipped"
                );
                debug!(account = %acct.name, field = %bad, "collecting without an unknown field");
                if !notes.iter().any(|n| n.message == message) {
                    notes.push(CollectNote {
                        level: NoteLevel::Info,
                        message,
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// All template pages; see the module docs for the split strategy.
async fn list_templates(
    client: &GraphClient,
    acct: &Arc<AccountCtx>,
) -> Result<(Vec<Value>, Vec<CollectNote>), GraphError> {
    let limit = page_size(client);
    let edge = [acct.waba_id.as_str(), "message_templates"];
    let mut notes = Vec::new();
    let (first, fields) = with_known_fields(acct, TEMPLATE_FIELDS, &mut notes, |f| {
        let url = client.url(
            &edge,
            &[
                ("fields", &f),
                ("limit", limit.as_str()),
                ("summary", "total_count"),
            ],
        );
        client.get_with(acct, url, Priority::Chain)
    })
    .await?;
    let Some(next) = client.next_page(acct, &first)? else {
        return Ok((vec![first], notes));
    };
    let total = first
        .pointer("/summary/total_count")
        .and_then(Value::as_u64);
    let got = data(&first).len() as u64;
    if let Some(total) = total {
        let remaining = total
            .saturating_sub(got)
            .div_ceil(client.config().page_size.max(1).into());
        if remaining >= SPLIT_MIN_PAGES {
            match split_listing(client, acct, &fields).await {
                Ok((pages, distinct)) if distinct >= total => {
                    debug!(account = %acct.name, total, chains = pages.len(), "template listing split by status/category");
                    return Ok((pages, notes));
                }
                Ok((_, distinct)) => info!(
                    account = %acct.name,
                    total,
                    distinct,
                    "split template listing was incomplete (a status or category this version does not know?); listing without filters"
                ),
                Err(e)
                    if matches!(
                        e.kind,
                        GraphErrorKind::Auth
                            | GraphErrorKind::Permission
                            | GraphErrorKind::RateLimited
                    ) =>
                {
                    return Err(e);
                }
                Err(e) => {
                    info!(account = %acct.name, error = %e, "split template listing failed; listing without filters")
                }
            }
        }
    }
    let mut pages = vec![first];
    pages.extend(client.list_with(acct, next, Priority::Chain).await?);
    Ok((pages, notes))
}

/// Runs one cursor chain per status (APPROVED per category) in parallel.
/// Returns the pages in a fixed order, duplicates removed (a template whose
/// status changed between two chains), and the number of distinct templates.
async fn split_listing(
    client: &GraphClient,
    acct: &Arc<AccountCtx>,
    fields: &str,
) -> Result<(Vec<Value>, u64), GraphError> {
    let limit = page_size(client);
    let mut filters: Vec<Vec<(&'static str, &'static str)>> = Vec::new();
    for &s in SPLIT_STATUSES {
        if s == "APPROVED" {
            for &c in SPLIT_CATEGORIES {
                filters.push(vec![("status", s), ("category", c)]);
            }
        } else {
            filters.push(vec![("status", s)]);
        }
    }
    let mut set = JoinSet::new();
    for (i, f) in filters.iter().enumerate() {
        let mut q: Vec<(&str, &str)> = vec![("fields", fields), ("limit", limit.as_str())];
        q.extend(f.iter().copied());
        let url = client.url(&[acct.waba_id.as_str(), "message_templates"], &q);
        let (c, a) = (client.clone(), acct.clone());
        set.spawn(async move { (i, c.list(&a, url).await) });
    }
    let mut chains: Vec<Vec<Value>> = vec![Vec::new(); filters.len()];
    while let Some(joined) = set.join_next().await {
        let (i, res) = joined.map_err(|e| {
            GraphError::new(
                &acct.name,
                GraphErrorKind::Other,
                format!("template listing task failed: {e}"),
            )
        })?;
        chains[i] = res?;
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut distinct = 0u64;
    let mut pages = Vec::new();
    for mut page in chains.into_iter().flatten() {
        if let Some(items) = page.get_mut("data").and_then(Value::as_array_mut) {
            items.retain(|t| match t.get("id").and_then(id_string) {
                Some(id) => seen.insert(id),
                None => true,
            });
            distinct += items.len() as u64;
        }
        pages.push(page);
    }
    Ok((pages, distinct))
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

type NumbersResult = (Vec<Value>, BTreeMap<String, Value>, Vec<CollectNote>);

/// Phone numbers (filtered to `wanted` when set), then each number's profile
/// in parallel. A profile that cannot be read is a warning on the snapshot,
/// not a failure of the account; a rejected token still fails it.
async fn numbers_and_profiles(
    client: &GraphClient,
    acct: &Arc<AccountCtx>,
    wanted: &[String],
) -> Result<NumbersResult, GraphError> {
    let limit = page_size(client);
    let mut notes = Vec::new();
    let (mut pages, _) = with_known_fields(acct, PHONE_FIELDS, &mut notes, |f| {
        let url = client.url(
            &[acct.waba_id.as_str(), "phone_numbers"],
            &[("fields", &f), ("limit", limit.as_str())],
        );
        client.list(acct, url)
    })
    .await?;
    if !wanted.is_empty() {
        let mut found = HashSet::new();
        for p in &mut pages {
            if let Some(items) = p.get_mut("data").and_then(Value::as_array_mut) {
                items.retain(|n| {
                    let id = n.get("id").and_then(id_string).unwrap_or_default();
                    let keep = wanted.contains(&id);
                    if keep {
                        found.insert(id);
                    }
                    keep
                });
            }
        }
        for w in wanted.iter().filter(|w| !found.contains(*w)) {
            notes.push(CollectNote {
                level: NoteLevel::Warning,
                message: format!(
                    "phone number {w} (phone_number_ids) is not a number of WABA {}: it was not audited",
                    acct.waba_id
                ),
            });
        }
    }
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| data(p).iter())
        .filter_map(|n| n.get("id").and_then(id_string))
        .collect();
    let mut set = JoinSet::new();
    for id in ids {
        let (c, a) = (client.clone(), acct.clone());
        set.spawn(async move {
            let mut notes = Vec::new();
            let r = with_known_fields(&a, PROFILE_FIELDS, &mut notes, |f| {
                let url = c.url(
                    &[id.as_str(), "whatsapp_business_profile"],
                    &[("fields", &f)],
                );
                c.get_with(&a, url, Priority::Low)
            })
            .await
            .map(|(v, _)| v);
            (id, r, notes)
        });
    }
    let mut profiles = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (id, res, field_notes) = joined.map_err(|e| {
            GraphError::new(
                &acct.name,
                GraphErrorKind::Other,
                format!("profile task failed: {e}"),
            )
        })?;
        for n in field_notes {
            if !notes.iter().any(|m: &CollectNote| m.message == n.message) {
                notes.push(n);
            }
        }
        match res {
            Ok(v) => {
                profiles.insert(id, v);
            }
            Err(e) if matches!(e.kind, GraphErrorKind::Auth | GraphErrorKind::TokenSource) => return Err(e),
            Err(e) => notes.push(CollectNote {
                level: NoteLevel::Warning,
                message: format!(
                    "business profile of phone number {id} could not be read ({}); profile checks skipped for it",
                    e.message
                ),
            }),
        }
    }
    Ok((pages, profiles, notes))
}

/// Removes any `access_token` from a page's `paging` links before the page is
/// kept (and later saved).
fn clean_page(mut page: Value) -> Value {
    if let Some(paging) = page.get_mut("paging").and_then(Value::as_object_mut) {
        for key in ["next", "previous"] {
            if let Some(Value::String(s)) = paging.get_mut(key) {
                if let Ok(u) = url::Url::parse(s) {
                    *s = client::strip_access_token(u).to_string();
                }
            }
        }
    }
    page
}

/// A file name for a Graph id, or `None` when it is not a plain id (never
/// trust a server-sent value as a path).
fn safe_id(id: &str) -> Option<&str> {
    (!id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then_some(id)
}

impl RawCollection {
    fn shape_err(&self, what: &str, e: serde_json::Error) -> GraphError {
        GraphError::new(
            &self.account,
            GraphErrorKind::InvalidResponse,
            format!("{what} has an unexpected shape: {e}"),
        )
    }

    /// Interprets the raw responses exactly as the exports source reads the
    /// same files, so a saved snapshot replays to the same Snapshot.
    pub fn to_snapshot(&self) -> Result<Snapshot, GraphError> {
        let mut snap = Snapshot {
            account: self.account.clone(),
            waba_id: self.waba_id.clone(),
            source: SourceKind::Graph,
            notes: self.notes.clone(),
            ..Snapshot::default()
        };
        snap.waba =
            Some(Waba::deserialize(&self.waba).map_err(|e| self.shape_err("the WABA node", e))?);
        for page in &self.template_pages {
            for t in data(page) {
                snap.templates.push(
                    Template::deserialize(t)
                        .map_err(|e| self.shape_err("a message template", e))?,
                );
            }
        }
        for page in &self.phone_pages {
            for n in data(page) {
                snap.phone_numbers.push(
                    PhoneNumber::deserialize(n).map_err(|e| self.shape_err("a phone number", e))?,
                );
            }
        }
        for (id, v) in &self.profiles {
            if safe_id(id).is_none() {
                continue;
            }
            match profile_from_response(v.clone()).map_err(|e| self.shape_err("a business profile", e))? {
                Some(p) => {
                    snap.profiles.insert(id.clone(), p);
                }
                None => snap.note_info(format!(
                    "phone number {id} has no business profile: profile completeness not checked for it"
                )),
            }
        }
        Ok(snap)
    }

    /// The collection in the exports layout (paths relative to the exports
    /// folder), every file passed through [`Secret::redact_bytes`]:
    /// `waba.json`, `message_templates/0001.json`…, `phone_numbers.json`,
    /// `business_profile/<id>.json` and a `wabaguard-snapshot.json` manifest.
    pub fn export_files(&self, token: &Secret) -> ExportFiles {
        let mut files: ExportFiles = Vec::new();
        let mut put = |path: String, v: &Value| {
            let mut bytes = serde_json::to_vec_pretty(v).unwrap_or_default();
            bytes.push(b'\n');
            files.push((PathBuf::from(path), token.redact_bytes(bytes)));
        };
        put("waba.json".into(), &self.waba);
        let width = self.template_pages.len().to_string().len().max(4);
        for (i, p) in self.template_pages.iter().enumerate() {
            put(format!("message_templates/{:0width$}.json", i + 1), p);
        }
        match self.phone_pages.as_slice() {
            [one] => put("phone_numbers.json".into(), one),
            many => put("phone_numbers.json".into(), &Value::Array(many.to_vec())),
        }
        for (id, v) in &self.profiles {
            if let Some(id) = safe_id(id) {
                put(format!("business_profile/{id}.json"), v);
            }
        }
        let templates: usize = self.template_pages.iter().map(|p| data(p).len()).sum();
        let numbers: usize = self.phone_pages.iter().map(|p| data(p).len()).sum();
        let manifest = serde_json::json!({
            "tool": format!("wabaguard {}", env!("CARGO_PKG_VERSION")),
            "account": self.account,
            "waba_id": self.waba_id,
            "source": "graph",
            "api_version": self.api_version,
            "collected_at": self.collected_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "templates": templates,
            "phone_numbers": numbers,
            "business_profiles": self.profiles.len(),
            "notes": self.notes,
        });
        put("wabaguard-snapshot.json".into(), &manifest);
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_page_strips_tokens_from_links() {
        let p = clean_page(serde_json::json!({
            "data": [],
            "paging": {"next": "https://g/v21.0/1/t?after=A&access_token=SECRET", "previous": "https://g/x?access_token=SECRET"}
        }));
        let s = p.to_string();
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("after=A"), "{s}");
    }

    #[test]
    fn the_unknown_field_is_read_from_graphs_message() {
        let m = "GET /v21.0/1/phone_numbers: HTTP 400: (#100) Tried accessing nonexisting field (whatsapp_business_manager_messaging_limit) on node type (WhatsAppBusinessPhoneNumber) (code 100)";
        assert_eq!(
            nonexisting_field(m),
            Some("whatsapp_business_manager_messaging_limit")
        );
        assert_eq!(nonexisting_field("(#100) Invalid parameter"), None);
    }

    #[test]
    fn unsafe_ids_are_not_used_as_file_names() {
        assert_eq!(safe_id("106540352242922"), Some("106540352242922"));
        for bad in ["", "../x", "a/b", ".."] {
            assert_eq!(safe_id(bad), None, "{bad}");
        }
    }
}
