//! Run history through the binary: history.jsonl, the `latest` pointer,
//! the per-account diff in report.json and report.md, retention, and the
//! reports-folder lock that refuses a concurrent `run`.

mod common;

use std::path::Path;

use common::ops::{account, config, demo_copy, read_json, run_at, run_dirs};
use serde_json::Value;

/// Replaces template `from` by a copy named `to` (same content, so the same
/// rules fire, on another subject: its findings are new, the old ones resolved).
fn rename_template(exports: &Path, from: &str, to: &str) {
    let p = exports.join("message_templates.json");
    let mut v: Value = read_json(&p);
    let mut renamed = 0;
    let pages: Vec<&mut Value> = match &mut v {
        Value::Array(pages) => pages.iter_mut().collect(),
        page => vec![page],
    };
    for page in pages {
        for t in page["data"].as_array_mut().unwrap() {
            if t["name"] == from {
                t["name"] = Value::from(to);
                t["id"] = Value::from(format!("99{renamed}"));
                renamed += 1;
            }
        }
    }
    assert!(renamed > 0, "no template {from}");
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn fingerprints(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn second_run_diffs_against_the_first_and_history_and_latest_follow() {
    let d = tempfile::tempdir().unwrap();
    let demo = demo_copy(d.path());
    let cfg = config(
        d.path(),
        "casa-verde",
        &demo,
        "[reports]\ndir = \"reports\"",
    );
    let reports = d.path().join("reports");

    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let first = read_json(&reports.join("20261125T020000Z/report.json"));
    assert!(
        account(&first, "casa-verde").get("diff").is_none(),
        "a first run has nothing to compare with"
    );
    let md = std::fs::read_to_string(reports.join("20261125T020000Z/report.md")).unwrap();
    assert!(md.contains("first run for this account"), "{md}");
    assert_eq!(
        std::fs::read_to_string(reports.join("latest")).unwrap(),
        "20261125T020000Z\n"
    );

    rename_template(&demo, "basket_reminder", "basket_reminder_v2");
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:01:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("since run 20261125T020000Z"), "{out}");
    let second = read_json(&reports.join("20261125T020100Z/report.json"));
    let a = account(&second, "casa-verde");
    let diff = &a["diff"];
    assert_eq!(diff["previous_run"], "20261125T020000Z");
    let new = diff["new"].as_array().unwrap();
    let resolved = diff["resolved"].as_array().unwrap();
    assert!(!new.is_empty() && !resolved.is_empty(), "{diff}");
    assert!(
        new.iter()
            .all(|e| e["subject"] == "template basket_reminder_v2 (en_US)"),
        "{new:?}"
    );
    assert!(
        resolved
            .iter()
            .all(|e| e["subject"] == "template basket_reminder (en_US)"),
        "{resolved:?}"
    );
    assert_eq!(new.len(), resolved.len());
    // Everything else is unchanged, fingerprint for fingerprint.
    let first_fps = fingerprints(&account(&first, "casa-verde")["findings"]);
    let unchanged = fingerprints(&diff["unchanged"]);
    assert_eq!(unchanged.len() + resolved.len(), first_fps.len());
    assert!(unchanged.iter().all(|f| first_fps.contains(f)));
    assert_eq!(
        diff["score"]["change"].as_i64().unwrap(),
        a["risk"]["score"].as_i64().unwrap()
            - account(&first, "casa-verde")["risk"]["score"]
                .as_i64()
                .unwrap()
    );
    assert_eq!(diff["level"]["previous"], diff["level"]["current"]);

    // report.md: "New since last run" comes before everything else.
    let md = std::fs::read_to_string(reports.join("20261125T020100Z/report.md")).unwrap();
    let new_at = md.find("## New since last run").expect("section");
    let exec_at = md.find("## Executive summary").expect("summary");
    assert!(new_at < exec_at);
    assert!(md.contains("basket\\_reminder\\_v2"), "{md}");
    assert!(md.contains("resolved:"), "{md}");

    // history.jsonl: one line per run, in order, with the diff counts.
    let history = std::fs::read_to_string(reports.join("history.jsonl")).unwrap();
    let lines: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["run_id"], "20261125T020000Z");
    assert_eq!(lines[1]["run_id"], "20261125T020100Z");
    let h = &lines[1]["accounts"][0];
    assert_eq!(h["name"], "casa-verde");
    assert_eq!(h["status"], "audited");
    assert_eq!(h["score"], a["risk"]["score"]);
    assert_eq!(h["level"], a["risk"]["level"]);
    assert_eq!(h["stage"], a["risk"]["stage"]);
    assert_eq!(h["counts"], a["summary"]);
    assert_eq!(h["new"].as_u64().unwrap() as usize, new.len());
    assert_eq!(h["resolved"].as_u64().unwrap() as usize, resolved.len());
    assert!(lines[0]["accounts"][0].get("new").is_none());
    assert_eq!(
        std::fs::read_to_string(reports.join("latest")).unwrap(),
        "20261125T020100Z\n"
    );
}

#[test]
fn a_failed_account_is_compared_with_its_last_audited_run() {
    let d = tempfile::tempdir().unwrap();
    let demo = demo_copy(d.path());
    let cfg = config(
        d.path(),
        "casa-verde",
        &demo,
        "[reports]\ndir = \"reports\"",
    );
    assert_eq!(run_at(&cfg, "2026-11-25T02:00:00Z", &[]).0, 0);
    // The export disappears: the run fails (exit 2) but the report is written.
    let moved = d.path().join("demo-away");
    std::fs::rename(&demo, &moved).unwrap();
    assert_eq!(run_at(&cfg, "2026-11-25T02:01:00Z", &[]).0, 2);
    std::fs::rename(&moved, &demo).unwrap();
    assert_eq!(run_at(&cfg, "2026-11-25T02:02:00Z", &[]).0, 0);
    let reports = d.path().join("reports");
    let third = read_json(&reports.join("20261125T020200Z/report.json"));
    let diff = &account(&third, "casa-verde")["diff"];
    assert_eq!(diff["previous_run"], "20261125T020000Z");
    assert!(diff["new"].as_array().unwrap().is_empty());
    let history = std::fs::read_to_string(reports.join("history.jsonl")).unwrap();
    let failed: Value = serde_json::from_str(history.lines().nth(1).unwrap()).unwrap();
    assert_eq!(failed["accounts"][0]["status"], "failed");
    assert!(failed["accounts"][0].get("score").is_none());
}

#[test]
fn retention_keeps_the_newest_runs() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        "casa-verde",
        &common::ops::root().join("examples/demo"),
        "[reports]\ndir = \"reports\"\nkeep_runs = 2",
    );
    for day in 24..=27 {
        let (code, out, err) = run_at(&cfg, &format!("2026-11-{day}T02:00:00Z"), &["--quiet"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let reports = d.path().join("reports");
    let names: Vec<String> = run_dirs(&reports)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["20261126T020000Z", "20261127T020000Z"]);
    // History keeps every run; latest the newest.
    let history = std::fs::read_to_string(reports.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 4);
    assert_eq!(
        std::fs::read_to_string(reports.join("latest")).unwrap(),
        "20261127T020000Z\n"
    );
}

#[test]
fn a_run_is_refused_while_another_process_holds_the_reports_folder() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        "casa-verde",
        &common::ops::root().join("examples/demo"),
        "[reports]\ndir = \"reports\"",
    );
    let reports = d.path().join("reports");
    let held = wabaguard::report::lock::ReportsLock::acquire(&reports, "daemon").unwrap();
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("is in use by another wabaguard process"),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(run_dirs(&reports).is_empty(), "nothing written");
    drop(held);
    assert_eq!(run_at(&cfg, "2026-11-25T02:00:00Z", &["--quiet"]).0, 0);
    assert_eq!(run_dirs(&reports).len(), 1);
}
