//! Run history: `reports/history.jsonl` (one line per run), the
//! `reports/latest` pointer, and retention of old run folders.
//!
//! - `history.jsonl` is appended one whole line per write, flushed to disk.
//!   A crash can at worst leave a torn last line: readers skip lines that do
//!   not parse (with a warning), and the next append starts on a new line.
//! - `latest` is a one-line text file holding the run id of the newest
//!   complete run (`cat reports/$(cat reports/latest)/report.md`). It is
//!   replaced atomically, and only after the run folder is complete.
//! - Retention deletes the oldest run folders beyond `keep_runs`: never the
//!   newest, never the one `latest` names, never a temporary `.…` folder of
//!   a run being written, never a folder not named like a run id.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::previous::{is_run_id, run_folders};
use super::{AccountStatus, Report};
use crate::checks::SeverityCounts;
use crate::risk::{Level, Stage};
use crate::snapshot::NumberState;

pub const HISTORY_FILE: &str = "history.jsonl";
pub const LATEST_FILE: &str = "latest";

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub run_id: String,
    pub generated_at: String,
    pub accounts: Vec<HistoryAccount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryAccount {
    pub name: String,
    pub status: AccountStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Unsuppressed findings per severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<SeverityCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<usize>,
    /// Compared with the previous run (absent on an account's first run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<usize>,
    /// Per-number state (quality rating, messaging limit, status; display
    /// number masked as in the report), for report.html's timeline. Absent in
    /// lines written before it was added (and for failed accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<NumberState>>,
}

impl HistoryLine {
    pub fn of(r: &Report) -> Self {
        HistoryLine {
            run_id: r.run_id.clone(),
            generated_at: r.generated_at.clone(),
            accounts: r
                .accounts
                .iter()
                .map(|a| {
                    let audited = a.status == AccountStatus::Audited;
                    HistoryAccount {
                        name: a.name.clone(),
                        status: a.status,
                        score: audited.then_some(a.risk.score),
                        level: audited.then_some(a.risk.level),
                        stage: audited.then_some(a.risk.stage),
                        counts: audited.then_some(a.summary),
                        suppressed: audited
                            .then(|| a.findings.iter().filter(|f| f.suppressed).count()),
                        new: a.diff.as_ref().map(|d| d.new_counted().count()),
                        resolved: a.diff.as_ref().map(|d| d.resolved.len()),
                        numbers: audited.then(|| a.numbers.clone()),
                    }
                })
                .collect(),
        }
    }
}

/// Appends one line to `reports_dir/history.jsonl` and flushes it to disk.
/// If the file ends in a torn line (a crash mid-write), the new line starts
/// on a line of its own.
pub fn append(reports_dir: &Path, line: &HistoryLine) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    serde_json::to_writer(&mut buf, line).map_err(std::io::Error::other)?;
    buf.push(b'\n');
    append_raw(&reports_dir.join(HISTORY_FILE), &buf)
}

fn append_raw(path: &Path, line: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let mut out = Vec::with_capacity(line.len() + 1);
    if f.metadata()?.len() > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::End(-1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            out.push(b'\n');
        }
    }
    out.extend_from_slice(line);
    // One write of the whole line (O_APPEND): it lands at the end in one piece.
    f.write_all(&out)?;
    f.sync_data()
}

/// Every readable line of `history.jsonl`, oldest first. Lines that do not
/// parse (a torn last line) are skipped with a warning.
pub fn read(reports_dir: &Path) -> Vec<HistoryLine> {
    let path = reports_dir.join(HISTORY_FILE);
    let Ok(text) = std::fs::read(&path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<HistoryLine>(raw) {
            Ok(l) => out.push(l),
            Err(e) => warn!(
                file = %path.display(),
                line = i + 1,
                error = %e,
                "skipping a history line that does not parse"
            ),
        }
    }
    out
}

/// Points `reports_dir/latest` at `run_id` (atomic replace).
pub fn set_latest(reports_dir: &Path, run_id: &str) -> std::io::Result<()> {
    let path = reports_dir.join(LATEST_FILE);
    crate::fsutil::write_atomic(&path, format!("{run_id}\n").as_bytes())?;
    // Readable like the reports themselves (the temp file was private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// The newest complete run folder: the one `latest` names, else (no
/// pointer, or it names a folder that is gone) the newest run folder.
pub fn latest(reports_dir: &Path) -> Option<(String, PathBuf)> {
    if let Ok(text) = std::fs::read_to_string(reports_dir.join(LATEST_FILE)) {
        let id = text.trim();
        if is_run_id(id) {
            let dir = reports_dir.join(id);
            if dir.join("report.json").is_file() {
                return Some((id.to_owned(), dir));
            }
        }
    }
    run_folders(reports_dir)
        .into_iter()
        .rev()
        .find(|(_, d)| d.join("report.json").is_file())
}

/// How old a temporary `.…partial` folder must be before retention treats
/// it as left over from a crash.
pub const STALE_PARTIAL: Duration = Duration::from_secs(24 * 3600);

/// Deletes the oldest run folders so that `keep` remain (at least one), and
/// temporary folders left over by a crash (older than [`STALE_PARTIAL`] at
/// `now`). Returns the names removed.
pub fn prune(reports_dir: &Path, keep: usize, now: SystemTime) -> std::io::Result<Vec<String>> {
    let keep = keep.max(1);
    let runs = run_folders(reports_dir);
    let pinned = std::fs::read_to_string(reports_dir.join(LATEST_FILE))
        .ok()
        .map(|t| t.trim().to_owned());
    let mut removed = Vec::new();
    if runs.len() > keep {
        let excess = runs.len() - keep;
        for (name, dir) in runs.into_iter().take(excess) {
            if pinned.as_deref() == Some(name.as_str()) {
                continue;
            }
            std::fs::remove_dir_all(&dir)?;
            removed.push(name);
        }
    }
    if let Ok(rd) = std::fs::read_dir(reports_dir) {
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with('.') && name.ends_with(".partial")) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > STALE_PARTIAL);
            if old && e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(e.path())?;
                removed.push(name);
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str) -> HistoryLine {
        HistoryLine {
            run_id: id.into(),
            generated_at: "2026-11-25T02:00:00Z".into(),
            accounts: vec![HistoryAccount {
                name: "a".into(),
                status: AccountStatus::Audited,
                score: Some(41),
                level: Some(Level::Medium),
                stage: Some(Stage::None),
                counts: Some(SeverityCounts {
                    high: 2,
                    ..SeverityCounts::default()
                }),
                suppressed: Some(1),
                new: None,
                resolved: None,
                numbers: None,
            }],
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_append_is_whole() {
        let d = tempfile::tempdir().unwrap();
        append(d.path(), &line("20261124T020000Z")).unwrap();
        // A crash mid-append leaves half a line without a newline.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.path().join(HISTORY_FILE))
            .unwrap();
        f.write_all(br#"{"run_id":"20261125T0200"#).unwrap();
        drop(f);
        append(d.path(), &line("20261126T020000Z")).unwrap();
        let ids: Vec<String> = read(d.path()).into_iter().map(|l| l.run_id).collect();
        assert_eq!(ids, ["20261124T020000Z", "20261126T020000Z"]);
        let text = std::fs::read_to_string(d.path().join(HISTORY_FILE)).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["accounts"][0]["level"], "medium");
        assert_eq!(first["accounts"][0]["counts"]["high"], 2);
    }

    #[test]
    fn latest_points_at_the_named_run_or_falls_back_to_the_newest() {
        let d = tempfile::tempdir().unwrap();
        assert!(latest(d.path()).is_none());
        for r in ["20261124T020000Z", "20261125T020000Z"] {
            std::fs::create_dir_all(d.path().join(r)).unwrap();
            std::fs::write(d.path().join(r).join("report.json"), "{}").unwrap();
        }
        assert_eq!(latest(d.path()).unwrap().0, "20261125T020000Z");
        set_latest(d.path(), "20261124T020000Z").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(LATEST_FILE)).unwrap(),
            "20261124T020000Z\n"
        );
        assert_eq!(latest(d.path()).unwrap().0, "20261124T020000Z");
        // A pointer to something that is not a run folder is not followed.
        std::fs::write(d.path().join(LATEST_FILE), "../etc\n").unwrap();
        assert_eq!(latest(d.path()).unwrap().0, "20261125T020000Z");
    }

    #[test]
    fn retention_keeps_the_newest_and_never_touches_partials_or_other_folders() {
        let d = tempfile::tempdir().unwrap();
        let runs = [
            "20261120T020000Z",
            "20261121T020000Z",
            "20261122T020000Z",
            "20261122T020000Z-2",
            "20261123T020000Z",
        ];
        for r in runs {
            std::fs::create_dir_all(d.path().join(r)).unwrap();
        }
        std::fs::create_dir_all(d.path().join(".20261124T020000Z-ab.partial")).unwrap();
        std::fs::create_dir_all(d.path().join("exports-backup")).unwrap();
        set_latest(d.path(), "20261123T020000Z").unwrap();
        let removed = prune(d.path(), 2, SystemTime::now()).unwrap();
        assert_eq!(removed, runs[..3]);
        let left: Vec<String> = run_folders(d.path()).into_iter().map(|r| r.0).collect();
        assert_eq!(left, runs[3..]);
        assert!(d.path().join(".20261124T020000Z-ab.partial").is_dir());
        assert!(d.path().join("exports-backup").is_dir());
        // keep_runs = 0 would still keep the newest.
        prune(d.path(), 0, SystemTime::now()).unwrap();
        let left: Vec<String> = run_folders(d.path()).into_iter().map(|r| r.0).collect();
        assert_eq!(left, ["20261123T020000Z"]);
        // A day later, the partial folder is a crash leftover and goes.
        let later = SystemTime::now() + STALE_PARTIAL + Duration::from_secs(60);
        let removed = prune(d.path(), 1, later).unwrap();
        assert_eq!(removed, [".20261124T020000Z-ab.partial"]);
    }

    #[test]
    fn the_run_latest_names_is_never_pruned() {
        let d = tempfile::tempdir().unwrap();
        for r in ["20261120T020000Z", "20261121T020000Z", "20261122T020000Z"] {
            std::fs::create_dir_all(d.path().join(r)).unwrap();
        }
        set_latest(d.path(), "20261120T020000Z").unwrap();
        prune(d.path(), 1, SystemTime::now()).unwrap();
        let left: Vec<String> = run_folders(d.path()).into_iter().map(|r| r.0).collect();
        assert_eq!(left, ["20261120T020000Z", "20261122T020000Z"]);
    }
}
