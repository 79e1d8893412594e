//! The template register: every template an account has had, across runs —
//! its current category, status and quality score, when it was first and
//! last seen, every category change (and what told us: a webhook, the
//! template's `previous_category`, or a difference between two runs) and
//! its status history (pauses).
//!
//! It lives in `reports/register-<account>.json`, one file per account,
//! replaced atomically after each run (`run` and the daemon alike; the
//! reports lock keeps them from writing at once). [`update`] is pure: the
//! audit folds a snapshot into the previous register, the checks read the
//! result, the report carries it (`template_register`), and the runner saves
//! it. A file that cannot be read is not lost: the run notes the error and
//! the file is moved aside (`<account>.json.corrupt-<run-id>`) before the
//! new register is written. Templates that disappear keep their entry
//! (`present: false`, `last_seen` = the last run that saw them).

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::snapshot::{EventKind, Snapshot};

/// File name prefix in the reports folder (`register-<account>.json`): a
/// file, not a folder, so the folders of the reports folder stay the runs.
pub const REGISTER_PREFIX: &str = "register-";
pub const REGISTER_VERSION: u32 = 1;

/// One account's register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRegister {
    pub version: u32,
    pub account: String,
    /// The run that last updated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Sorted by name, then language.
    #[serde(default)]
    pub templates: Vec<RegisterEntry>,
}

/// What told wabaguard about a category change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// A `template_category_update` webhook (exact time).
    Event,
    /// The template's `previous_category` (Meta changed it after approval).
    PreviousCategory,
    /// The category differs from the one the previous run saw.
    SnapshotDiff,
}

/// How well the time of a change is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDating {
    /// Meta's webhook gave the time.
    Exact,
    /// Between two runs: `at` is the earlier run (the earliest it can have happened).
    BetweenRuns,
    /// Already changed when wabaguard first saw the template: `at` is that run.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryChange {
    /// The category before (unknown when only the new one was reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
    pub dating: ChangeDating,
    /// Every source that reported it.
    pub sources: Vec<ChangeSource>,
}

/// Where a status observation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusSource {
    /// A `message_template_status_update` webhook.
    Event,
    /// The template's `status` in a run's snapshot.
    Snapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: String,
    pub at: DateTime<Utc>,
    pub source: StatusSource,
    /// Meta's `other_info.title` (`FIRST_PAUSE`, `SECOND_PAUSE`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A change Meta has announced but not yet made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCategory {
    pub correct_category: String,
    /// When it takes effect (`category_update_timestamp`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<Utc>>,
    pub announced_at: DateTime<Utc>,
}

/// One template (name + language) in the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterEntry {
    pub name: String,
    pub language: String,
    /// The latest Graph id (ids change when a template is re-created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `quality_score.score`: GREEN, YELLOW, RED, UNKNOWN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Whether the latest run saw it.
    pub present: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category_changes: Vec<CategoryChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_history: Vec<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_category: Option<PendingCategory>,
    /// Times Meta paused it (from the status history; a SECOND_PAUSE counts as 2).
    #[serde(default)]
    pub pauses: u32,
}

impl RegisterEntry {
    /// The category changes as `FROM → TO DATE` (`~DATE` when only known to
    /// within runs), for the reports.
    pub fn change_labels(&self) -> Vec<String> {
        self.category_changes
            .iter()
            .map(|c| {
                let when = match c.dating {
                    ChangeDating::Exact => day(&c.at),
                    ChangeDating::BetweenRuns => format!("~{}", day(&c.at)),
                    ChangeDating::Unknown => "date unknown".into(),
                };
                format!("{} → {} {when}", c.from.as_deref().unwrap_or("?"), c.to)
            })
            .collect()
    }

    /// `Meta will move it to MARKETING on DATE`, when a change is announced.
    pub fn pending_label(&self) -> Option<String> {
        self.pending_category.as_ref().map(|p| {
            format!(
                "Meta will move it to {}{}",
                p.correct_category,
                p.effective_at
                    .map(|t| format!(" on {}", day(&t)))
                    .unwrap_or_default()
            )
        })
    }

    /// The status, saying so when the latest run no longer listed it.
    pub fn status_label(&self) -> String {
        match (&self.status, self.present) {
            (Some(st), true) => st.clone(),
            (Some(st), false) => format!("{st} (no longer listed)"),
            (None, true) => "–".into(),
            (None, false) => "no longer listed".into(),
        }
    }
}

/// `YYYY-MM-DD`.
pub fn day(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl RegisterEntry {
    fn new(name: &str, language: &str, now: DateTime<Utc>) -> Self {
        RegisterEntry {
            name: name.to_owned(),
            language: language.to_owned(),
            id: None,
            category: None,
            status: None,
            quality: None,
            first_seen: now,
            last_seen: now,
            present: true,
            category_changes: Vec::new(),
            status_history: Vec::new(),
            pending_category: None,
            pauses: 0,
        }
    }

    /// The most recent category change.
    pub fn last_change(&self) -> Option<&CategoryChange> {
        self.category_changes.last()
    }

    fn add_change(&mut self, c: CategoryChange) {
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        };
        // The same change reported again, or by another source: the latest
        // change to the same category (or, for a webhook, the change with
        // that exact time) — merged, keeping the best-known time.
        let n = self.category_changes.len();
        let idx = self
            .category_changes
            .iter()
            .position(|p| {
                c.dating == ChangeDating::Exact && p.dating == ChangeDating::Exact && p.at == c.at
            })
            .or_else(|| {
                n.checked_sub(1).filter(|&i| {
                    let p = &self.category_changes[i];
                    p.to.eq_ignore_ascii_case(&c.to) && same(&p.from, &c.from)
                })
            });
        match idx {
            Some(i) => {
                let prev = &mut self.category_changes[i];
                for s in &c.sources {
                    if !prev.sources.contains(s) {
                        prev.sources.push(*s);
                    }
                }
                prev.sources.sort();
                if prev.from.is_none() {
                    prev.from = c.from;
                }
                let better = match (prev.dating, c.dating) {
                    (ChangeDating::Exact, _) => false,
                    (_, ChangeDating::Exact) => true,
                    (ChangeDating::Unknown, ChangeDating::BetweenRuns) => true,
                    _ => false,
                };
                if better {
                    prev.at = c.at;
                    prev.dating = c.dating;
                }
            }
            None => self.category_changes.push(c),
        }
        self.category_changes.sort_by_key(|c| c.at);
    }

    fn add_status(&mut self, s: StatusChange) {
        if self.status_history.iter().any(|h| {
            h.source == StatusSource::Event
                && s.source == StatusSource::Event
                && h.at == s.at
                && h.status == s.status
        }) {
            return;
        }
        self.status_history.push(s);
        self.status_history.sort_by_key(|h| h.at);
        // A run only sees a state, not an episode: consecutive observations of
        // the same status where one is a snapshot are the same episode (keep
        // the earliest, prefer the webhook's details). Two webhooks stay two.
        let mut out: Vec<StatusChange> = Vec::with_capacity(self.status_history.len());
        for h in self.status_history.drain(..) {
            match out.last_mut() {
                Some(p)
                    if p.status == h.status
                        && (p.source == StatusSource::Snapshot
                            || h.source == StatusSource::Snapshot) =>
                {
                    if p.source == StatusSource::Snapshot && h.source == StatusSource::Event {
                        *p = h;
                    }
                }
                _ => out.push(h),
            }
        }
        self.status_history = out;
        let paused = self
            .status_history
            .iter()
            .filter(|h| h.status == "PAUSED")
            .count() as u32;
        let second = self.status_history.iter().any(|h| {
            h.title
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("SECOND_PAUSE"))
        });
        self.pauses = if second { paused.max(2) } else { paused };
    }
}

impl TemplateRegister {
    pub fn new(account: &str) -> Self {
        TemplateRegister {
            version: REGISTER_VERSION,
            account: account.to_owned(),
            updated_at: None,
            templates: Vec::new(),
        }
    }

    pub fn get(&self, name: &str, language: &str) -> Option<&RegisterEntry> {
        self.templates
            .iter()
            .find(|e| e.name == name && e.language == language)
    }

    fn entry(&mut self, name: &str, language: &str, now: DateTime<Utc>) -> &mut RegisterEntry {
        let i = match self
            .templates
            .iter()
            .position(|e| e.name == name && e.language == language)
        {
            Some(i) => i,
            None => {
                self.templates.push(RegisterEntry::new(name, language, now));
                self.templates.len() - 1
            }
        };
        &mut self.templates[i]
    }
}

fn up(s: Option<&str>) -> Option<String> {
    s.map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Folds a run's snapshot (taken at `now`) into the previous register.
pub fn update(
    previous: Option<&TemplateRegister>,
    snap: &Snapshot,
    now: DateTime<Utc>,
) -> TemplateRegister {
    let mut reg = previous
        .cloned()
        .unwrap_or_else(|| TemplateRegister::new(&snap.account));
    reg.account = snap.account.clone();
    reg.version = REGISTER_VERSION;
    let since = reg.updated_at;
    // 1. The templates as collected now.
    for t in &snap.templates {
        let known = reg.get(&t.name, &t.language).is_some();
        let e = reg.entry(&t.name, &t.language, now);
        let before = e.category.clone();
        let cat = up(t.category.as_deref());
        if t.id.is_some() {
            e.id = t.id.clone();
        }
        e.present = true;
        e.last_seen = now;
        e.quality = t
            .quality_score
            .as_ref()
            .and_then(|q| up(q.score.as_deref()));
        if let Some(cat) = &cat {
            if let (true, Some(b)) = (known, &before) {
                if !b.eq_ignore_ascii_case(cat) {
                    e.add_change(CategoryChange {
                        from: Some(b.clone()),
                        to: cat.clone(),
                        // It happened after the previous run saw the old category.
                        at: since.unwrap_or(now).min(now),
                        dating: ChangeDating::BetweenRuns,
                        sources: vec![ChangeSource::SnapshotDiff],
                    });
                }
            }
            if let Some(prev) = up(t.previous_category.as_deref()) {
                if &prev != cat {
                    e.add_change(CategoryChange {
                        from: Some(prev),
                        to: cat.clone(),
                        at: e.first_seen,
                        dating: ChangeDating::Unknown,
                        sources: vec![ChangeSource::PreviousCategory],
                    });
                }
            }
        }
        e.category = cat.or(before);
        if let Some(st) = up(t.status.as_deref()) {
            e.status = Some(st.clone());
            let last = e.status_history.last().map(|h| h.status.clone());
            if last.as_deref() != Some(st.as_str()) {
                e.add_status(StatusChange {
                    status: st,
                    at: now,
                    source: StatusSource::Snapshot,
                    title: None,
                });
            }
        }
    }
    // 2. Webhooks: status changes, announced and completed recategorisations.
    for ev in &snap.events {
        if ev.time > now.timestamp() {
            continue;
        }
        match &ev.kind {
            EventKind::MessageTemplateStatusUpdate(u) => {
                let (Some(name), Some(lang), Some(status)) = (
                    u.message_template_name.as_deref(),
                    u.message_template_language.as_deref(),
                    up(u.event.as_deref()),
                ) else {
                    continue;
                };
                let e = reg.entry(name, lang, at(ev.time));
                if e.id.is_none() {
                    e.id = u.message_template_id.clone();
                }
                e.add_status(StatusChange {
                    status,
                    at: at(ev.time),
                    source: StatusSource::Event,
                    title: u.other_info.as_ref().and_then(|o| up(o.title.as_deref())),
                });
            }
            EventKind::TemplateCategoryUpdate(c) => {
                let (Some(name), Some(lang)) = (
                    c.message_template_name.as_deref(),
                    c.message_template_language.as_deref(),
                ) else {
                    continue;
                };
                let e = reg.entry(name, lang, at(ev.time));
                if e.id.is_none() {
                    e.id = c.message_template_id.clone();
                }
                if let Some(new) = up(c.new_category.as_deref()) {
                    e.add_change(CategoryChange {
                        from: up(c.previous_category.as_deref()),
                        to: new.clone(),
                        at: at(ev.time),
                        dating: ChangeDating::Exact,
                        sources: vec![ChangeSource::Event],
                    });
                    if e.pending_category
                        .as_ref()
                        .is_some_and(|p| p.announced_at <= at(ev.time))
                    {
                        e.pending_category = None;
                    }
                } else if let Some(target) = up(c.correct_category.as_deref()) {
                    let completed_later = e.category_changes.iter().any(|x| {
                        x.dating == ChangeDating::Exact
                            && x.at >= at(ev.time)
                            && x.to.eq_ignore_ascii_case(&target)
                    });
                    if !completed_later {
                        e.pending_category = Some(PendingCategory {
                            correct_category: target,
                            effective_at: c.category_update_timestamp.map(at),
                            announced_at: at(ev.time),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    // 3. Announced changes that have happened (or were made moot).
    for e in &mut reg.templates {
        let Some(p) = e.pending_category.clone() else {
            continue;
        };
        let has_target = e
            .category
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&p.correct_category));
        let due = p.effective_at.is_some_and(|t| t <= now);
        if has_target {
            if due {
                // Meta moved it as announced.
                e.add_change(CategoryChange {
                    from: None,
                    to: p.correct_category.clone(),
                    at: p.effective_at.unwrap_or(now),
                    dating: ChangeDating::Exact,
                    sources: vec![ChangeSource::Event],
                });
            }
            // Done, or the business recategorised it itself.
            e.pending_category = None;
        }
    }
    // Templates known only from webhooks are not "present".
    for e in &mut reg.templates {
        e.present = snap
            .templates
            .iter()
            .any(|t| t.name == e.name && t.language == e.language);
    }
    reg.templates
        .sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    reg.updated_at = Some(now);
    reg
}

/// Why a register file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("template register {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("template register {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `reports/register-<account>.json`. A name that is not file-safe as it is
/// is cleaned up and gets a short hash of the real name, so two accounts
/// never share a file (`a/b` → `register-a_b-<hash>.json`, not `a_b`'s).
pub fn path(reports_dir: &Path, account: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let safe = crate::runner::snapshot_folder(account);
    let name = if safe == account {
        safe
    } else {
        let h = Sha256::digest(account.as_bytes());
        format!("{safe}-{}", hex::encode(&h[..4]))
    };
    reports_dir.join(format!("{REGISTER_PREFIX}{name}.json"))
}

/// Reads an account's register: `Ok(None)` when there is none yet.
pub fn load(reports_dir: &Path, account: &str) -> Result<Option<TemplateRegister>, RegisterError> {
    let p = path(reports_dir, account);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RegisterError::Io { path: p, source }),
    };
    let reg: TemplateRegister =
        serde_json::from_slice(&bytes).map_err(|e| RegisterError::Corrupt {
            path: p.clone(),
            message: format!("not a template register ({e})"),
        })?;
    if reg.version > REGISTER_VERSION {
        return Err(RegisterError::Corrupt {
            path: p,
            message: format!(
                "version {} is newer than this wabaguard understands ({REGISTER_VERSION})",
                reg.version
            ),
        });
    }
    Ok(Some(reg))
}

/// Writes an account's register atomically. An existing file that does not
/// parse is first moved aside to `<file>.corrupt-<run_id>` (never deleted);
/// returns that path when it happened.
pub fn save(
    reports_dir: &Path,
    reg: &TemplateRegister,
    run_id: &str,
) -> Result<Option<PathBuf>, RegisterError> {
    let p = path(reports_dir, &reg.account);
    let io = |source| RegisterError::Io {
        path: p.clone(),
        source,
    };
    let mut kept = None;
    if let Err(RegisterError::Corrupt { .. }) = load(reports_dir, &reg.account) {
        let mut aside = PathBuf::from(format!("{}.corrupt-{run_id}", p.display()));
        let mut n = 1;
        while aside.exists() {
            n += 1;
            aside = PathBuf::from(format!("{}.corrupt-{run_id}-{n}", p.display()));
        }
        std::fs::rename(&p, &aside).map_err(io)?;
        kept = Some(aside);
    }
    let mut bytes = serde_json::to_vec_pretty(reg).map_err(|e| io(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    crate::fsutil::write_atomic(&p, &bytes).map_err(io)?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{QualityScore, Template};

    fn t(name: &str, lang: &str, cat: &str, status: &str) -> Template {
        Template {
            id: Some("1".into()),
            name: name.into(),
            language: lang.into(),
            category: Some(cat.into()),
            status: Some(status.into()),
            quality_score: Some(QualityScore {
                score: Some("GREEN".into()),
                date: None,
            }),
            ..Template::default()
        }
    }

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_category_difference_between_runs_is_a_dated_change_and_pauses_count_per_episode() {
        let mut snap = Snapshot {
            account: "a".into(),
            templates: vec![t("promo", "en_US", "UTILITY", "APPROVED")],
            ..Snapshot::default()
        };
        let r1 = update(None, &snap, ts("2026-11-20T02:00:00Z"));
        assert!(r1.templates[0].category_changes.is_empty());
        snap.templates[0].category = Some("MARKETING".into());
        snap.templates[0].status = Some("PAUSED".into());
        let r2 = update(Some(&r1), &snap, ts("2026-11-21T02:00:00Z"));
        let e = &r2.templates[0];
        assert_eq!(e.category.as_deref(), Some("MARKETING"));
        let c = &e.category_changes[0];
        assert_eq!(
            (c.from.as_deref(), c.to.as_str()),
            (Some("UTILITY"), "MARKETING")
        );
        assert_eq!(c.at, ts("2026-11-20T02:00:00Z"));
        assert_eq!(c.dating, ChangeDating::BetweenRuns);
        assert_eq!(e.pauses, 1);
        // Still paused a day later: the same pause, not a second one.
        let r3 = update(Some(&r2), &snap, ts("2026-11-22T02:00:00Z"));
        assert_eq!(r3.templates[0].pauses, 1);
        snap.templates[0].status = Some("APPROVED".into());
        let r4 = update(Some(&r3), &snap, ts("2026-11-23T02:00:00Z"));
        snap.templates[0].status = Some("PAUSED".into());
        let r5 = update(Some(&r4), &snap, ts("2026-11-24T02:00:00Z"));
        assert_eq!(r5.templates[0].pauses, 2);
        assert_eq!(r5.templates[0].first_seen, ts("2026-11-20T02:00:00Z"));
        // Gone from the next export: kept, with its last sighting.
        snap.templates.clear();
        let r6 = update(Some(&r5), &snap, ts("2026-11-25T02:00:00Z"));
        assert!(!r6.templates[0].present);
        assert_eq!(r6.templates[0].last_seen, ts("2026-11-24T02:00:00Z"));
    }

    #[test]
    fn save_keeps_a_corrupt_file_aside() {
        let d = tempfile::tempdir().unwrap();
        let p = path(d.path(), "casa verde");
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with("register-casa_verde-") && name.ends_with(".json"),
            "{name}"
        );
        assert_ne!(p, path(d.path(), "casa_verde"));
        assert!(path(d.path(), "casa-verde").ends_with("register-casa-verde.json"));
        std::fs::write(&p, "{ torn").unwrap();
        let err = load(d.path(), "casa verde").unwrap_err().to_string();
        assert!(
            err.contains(&name) && err.contains("not a template register"),
            "{err}"
        );
        let reg = TemplateRegister::new("casa verde");
        let kept = save(d.path(), &reg, "20261125T020000Z").unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "{ torn");
        assert_eq!(load(d.path(), "casa verde").unwrap().unwrap(), reg);
        // A good file is simply replaced.
        assert!(save(d.path(), &reg, "20261126T020000Z").unwrap().is_none());
    }
}
