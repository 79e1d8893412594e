//! The webhook events store: what `wabaguard daemon --listen` received from
//! Meta, per account, under `reports/events/<account>/`.
//!
//! Each account's folder holds append-only segments `events-000001.jsonl`,
//! `events-000002.jsonl`, ... in the same shape as an export's
//! `events.jsonl` (one webhook envelope per line, here one change per
//! envelope). The highest-numbered segment is the one being written; older
//! ones were rotated out by size and are never modified again. A segment's
//! last line without a newline (a write cut short by a crash) is ignored.
//!
//! Collection merges the store into the account's events after the
//! export's `events.jsonl`, with one de-duplication, so an event received
//! by webhook shows up in the next report whichever source the account has.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::CollectError;
use super::events::{EventsParser, note_report};
use crate::config::{AccountConfig, Config};
use crate::snapshot::Snapshot;

/// Folder of the store, under the reports folder.
pub const STORE_DIR: &str = "events";

const SEGMENT_PREFIX: &str = "events-";
const SEGMENT_SUFFIX: &str = ".jsonl";

/// `reports/events/<account>/`. The account name is made filename-safe;
/// when that changed it, a short hash of the name keeps two accounts
/// (`a/b`, `a_b`) apart.
pub fn account_dir(reports_dir: &Path, account: &str) -> PathBuf {
    let safe = crate::runner::snapshot_folder(account);
    let folder = if safe == account {
        safe
    } else {
        let h = Sha256::digest(account.as_bytes());
        format!("{safe}-{}", hex::encode(&h[..4]))
    };
    reports_dir.join(STORE_DIR).join(folder)
}

/// The file name of segment `n`.
pub fn segment_name(n: u32) -> String {
    format!("{SEGMENT_PREFIX}{n:06}{SEGMENT_SUFFIX}")
}

/// The segments in `dir`, oldest first, with their numbers (none when the
/// folder does not exist).
pub fn segments(dir: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let n = name
                .strip_prefix(SEGMENT_PREFIX)?
                .strip_suffix(SEGMENT_SUFFIX)?
                .parse::<u32>()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// A segment's complete lines (everything up to its last newline).
pub fn read_complete(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = std::fs::read(path)?;
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(end);
    Ok(bytes)
}

/// Adds the account's stored webhook events to `snap.events` (re-reading
/// the export's `events.jsonl` first so a change found in both counts once).
/// Nothing to do when the store has no segment for the account.
pub fn merge_into(
    cfg: &Config,
    account: &AccountConfig,
    snap: &mut Snapshot,
) -> Result<(), CollectError> {
    let dir = account_dir(&cfg.reports_dir(), &account.name);
    let segs = segments(&dir);
    if segs.is_empty() {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CollectError::Io { path, source }
    };
    let mut parser = EventsParser::default();
    if let Some(exports) = &account.exports {
        let path = cfg.resolve(exports).join("events.jsonl");
        if path.is_file() {
            // Its notes were made when the export was read.
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            parser.feed(bytes.as_slice()).map_err(io(&path))?;
        }
    }
    let before = parser.len();
    let mut lines = 0;
    for (_, path) in &segs {
        let bytes = read_complete(path).map_err(io(path))?;
        let had = parser.len();
        let rep = parser.feed(bytes.as_slice()).map_err(io(path))?;
        lines += rep.lines;
        note_report(snap, &path.display().to_string(), &rep, parser.len() - had);
    }
    let added = parser.len() - before;
    snap.note_info(format!(
        "{}: {added} webhook events received by the daemon added ({lines} stored; deliveries already known were counted once)",
        dir.display()
    ));
    snap.events = parser.finish();
    Ok(())
}
