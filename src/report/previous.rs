//! The previous run, as far as the checks need it: each account's per-number
//! state from the newest `reports/<run-id>/report.json`. A missing or
//! unreadable previous report is not an error — there is simply nothing to
//! compare with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::snapshot::NumberState;

/// The newest run folder under `reports_dir` that holds a `report.json`,
/// skipping `exclude` (the current run) and temporary folders.
pub fn newest_report(reports_dir: &Path, exclude: Option<&str>) -> Option<PathBuf> {
    let mut runs: Vec<(String, PathBuf)> = std::fs::read_dir(reports_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let json = e.path().join("report.json");
            (!name.starts_with('.') && Some(name.as_str()) != exclude && json.is_file())
                .then_some((name, json))
        })
        .collect();
    // Run ids are UTC timestamps (`20261125T143600Z`, `-2` for a second run
    // in the same second): the lexicographic order is the time order, except
    // that `…Z-10` must come after `…Z-9`.
    runs.sort_by_key(|(name, _)| run_order(name));
    runs.pop().map(|(_, p)| p)
}

/// Every finished run folder under `reports_dir` (named like a run id;
/// temporary `.…` folders and anything else are left out), oldest first.
pub fn run_folders(reports_dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(reports_dir) else {
        return Vec::new();
    };
    let mut runs: Vec<(String, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            is_run_id(&name).then(|| (name, e.path()))
        })
        .collect();
    runs.sort_by_key(|(name, _)| run_order(name));
    runs
}

/// `20261125T143600Z`, or with a suffix for a second run in the same
/// second (`20261125T143600Z-2`).
pub fn is_run_id(name: &str) -> bool {
    let (base, suffix) = match name.split_once('-') {
        Some((b, s)) => (b, Some(s)),
        None => (name, None),
    };
    let b = base.as_bytes();
    b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
}

/// Sort key of a run id: time order, `…Z-10` after `…Z-9`.
pub fn run_order(name: &str) -> (String, u32) {
    match name.rsplit_once('-') {
        Some((base, n)) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
            (base.to_owned(), n.parse().unwrap_or(0))
        }
        _ => (name.to_owned(), 1),
    }
}

/// Per-number state per account name from a report.json. Reads leniently
/// (any schema version with `accounts[].name` and `accounts[].numbers`);
/// returns an empty map when the file cannot be read.
pub fn numbers_from(report_json: &Path) -> BTreeMap<String, Vec<NumberState>> {
    let mut out = BTreeMap::new();
    let Ok(bytes) = std::fs::read(report_json) else {
        return out;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return out;
    };
    for a in v["accounts"].as_array().into_iter().flatten() {
        let Some(name) = a["name"].as_str() else {
            continue;
        };
        let Ok(numbers) = serde_json::from_value::<Vec<NumberState>>(a["numbers"].clone()) else {
            continue;
        };
        if !numbers.is_empty() {
            out.insert(name.to_owned(), numbers);
        }
    }
    out
}

/// The previous run's per-number state per account (empty without one).
pub fn previous_numbers(reports_dir: &Path) -> BTreeMap<String, Vec<NumberState>> {
    newest_report(reports_dir, None)
        .map(|p| numbers_from(&p))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_recognised_and_ordered() {
        assert!(is_run_id("20261125T143600Z"));
        assert!(is_run_id("20261125T143600Z-12"));
        assert!(!is_run_id("20261125T143600Z-"));
        assert!(!is_run_id(".20261125T143600Z-x.partial"));
        assert!(!is_run_id("latest"));
        assert!(!is_run_id("2026-11-25"));
        let d = tempfile::tempdir().unwrap();
        for n in [
            "20261125T100000Z-10",
            "20261125T100000Z",
            "20261125T100000Z-9",
            "notes",
            ".20261126T000000Z-x.partial",
        ] {
            std::fs::create_dir_all(d.path().join(n)).unwrap();
        }
        std::fs::write(d.path().join("20261127T000000Z"), "a file").unwrap();
        let names: Vec<String> = run_folders(d.path()).into_iter().map(|r| r.0).collect();
        assert_eq!(
            names,
            [
                "20261125T100000Z",
                "20261125T100000Z-9",
                "20261125T100000Z-10"
            ]
        );
    }

    #[test]
    fn newest_run_wins_and_broken_ones_are_tolerated() {
        let d = tempfile::tempdir().unwrap();
        let w = |run: &str, body: &str| {
            std::fs::create_dir_all(d.path().join(run)).unwrap();
            std::fs::write(d.path().join(run).join("report.json"), body).unwrap();
        };
        assert!(previous_numbers(d.path()).is_empty());
        w(
            "20261124T100000Z",
            r#"{"accounts":[{"name":"a","numbers":[{"id":"1","messaging_limit":"TIER_10K"}]}]}"#,
        );
        w(
            "20261125T100000Z-9",
            r#"{"accounts":[{"name":"a","numbers":[{"id":"1","messaging_limit":"TIER_2K"}]}]}"#,
        );
        w(
            "20261125T100000Z-10",
            r#"{"accounts":[{"name":"a","numbers":[{"id":"1","messaging_limit":"TIER_1K"}]}]}"#,
        );
        std::fs::create_dir_all(d.path().join(".20261126T000000Z-x.partial")).unwrap();
        let p = previous_numbers(d.path());
        assert_eq!(p["a"][0].messaging_limit.as_deref(), Some("TIER_1K"));
        w("20261126T100000Z", "{ not json");
        assert!(previous_numbers(d.path()).is_empty());
        assert_eq!(
            newest_report(d.path(), Some("20261126T100000Z")).unwrap(),
            d.path().join("20261125T100000Z-10").join("report.json")
        );
        assert!(previous_numbers(Path::new("/nonexistent/reports")).is_empty());
    }
}
