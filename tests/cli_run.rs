//! `wabaguard run`: the bundled demo, report files, exit codes, bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wabaguard() -> Command {
    Command::cargo_bin("wabaguard").unwrap()
}

fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

#[test]
fn demo_run_writes_json_and_markdown_reports() {
    let out = tempfile::tempdir().unwrap();
    wabaguard()
        .current_dir(root())
        .args(["run", "--out"])
        .arg(out.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("casa-verde"))
        .stdout(predicate::str::contains("report.md"));
    let dirs = run_dirs(out.path());
    assert_eq!(dirs.len(), 1);
    let json: Value =
        serde_json::from_slice(&std::fs::read(dirs[0].join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["tool"]["name"], "wabaguard");
    assert!(json["rules"]["digest"].as_str().unwrap().len() == 16);
    let acct = &json["accounts"][0];
    assert_eq!(acct["name"], "casa-verde");
    assert_eq!(acct["waba_id"], "104729331820556");
    assert_eq!(acct["source"], "exports");
    assert_eq!(acct["templates"], 40);
    let score = acct["risk"]["score"].as_u64().unwrap();
    assert!(score <= 100);
    assert!(
        ["low", "medium", "high", "critical"].contains(&acct["risk"]["level"].as_str().unwrap())
    );
    let findings = acct["findings"].as_array().unwrap();
    let names_with = |check: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["check"] == check)
            .map(|f| f["subject"]["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // Deliberate problems of the demo export (examples/demo/README.md).
    let cat = names_with("template.category_mismatch");
    for t in ["shipping_update", "basket_reminder", "account_login_alert"] {
        assert!(cat.iter().any(|n| n == t), "{t} not flagged: {cat:?}");
    }
    let res = names_with("template.restricted_content");
    assert!(res.iter().any(|n| n == "wine_cheese_weekend"), "{res:?}");
    // Hard negatives stay clean.
    for t in [
        "pickup_slot_booked",
        "refund_issued",
        "new_device_login",
        "pickup_hours_winter",
        "support_photo_request",
    ] {
        assert!(
            !findings.iter().any(|f| f["subject"]["name"] == t
                && (f["check"] == "template.category_mismatch"
                    || f["check"] == "template.restricted_content")),
            "{t} wrongly flagged"
        );
    }
    // Sorted: severities never increase down the list.
    let sev = |s: &str| {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let order: Vec<usize> = findings
        .iter()
        .map(|f| sev(f["severity"].as_str().unwrap()))
        .collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]));

    let md = std::fs::read_to_string(dirs[0].join("report.md")).unwrap();
    assert!(md.contains("## casa-verde"));
    assert!(md.contains("### Fix first"));
    assert!(md.contains("*Fix:*"));
}

#[test]
fn second_run_never_touches_the_first() {
    let out = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        wabaguard()
            .current_dir(root())
            .args(["run", "--quiet", "--out"])
            .arg(out.path())
            .assert()
            .code(0);
    }
    let dirs = run_dirs(out.path());
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let first = std::fs::read(dirs[0].join("report.json")).unwrap();
    let v: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(v["run_id"], dirs[0].file_name().unwrap().to_str().unwrap());
    // No temporary folders left.
    assert!(std::fs::read_dir(out.path()).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    }));
}

#[test]
fn fail_on_reached_exits_one() {
    let out = tempfile::tempdir().unwrap();
    wabaguard()
        .current_dir(root())
        .args(["run", "--quiet", "--fail-on", "high", "--out"])
        .arg(out.path())
        .assert()
        .code(1);
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn unknown_config_key_is_exit_two_with_location() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), "[reports]\ndir = \"r\"\nformat = \"pdf\"\n");
    wabaguard()
        .args(["run", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("config.toml"))
        .stderr(predicate::str::contains("line 3, column 1"))
        .stderr(predicate::str::contains("unknown field `format`"));
}

#[test]
fn missing_config_is_exit_two() {
    wabaguard()
        .args(["run", "--config", "/nonexistent/wabaguard.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/wabaguard.toml"));
}

#[test]
fn malformed_export_fails_that_account_and_others_are_audited() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("waba.json"), "{\"id\": \"1\",\n \"name\": }").unwrap();
    let demo = root().join("examples/demo");
    let cfg = write_config(
        d.path(),
        &format!(
            "[reports]\ndir = \"reports\"\n[[accounts]]\nname = \"good\"\nexports = \"{}\"\n[[accounts]]\nname = \"broken\"\nexports = \"bad\"\n",
            demo.display()
        ),
    );
    wabaguard()
        .args(["run", "--config"])
        .arg(&cfg)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("NOT AUDITED"))
        .stdout(predicate::str::contains("waba.json"));
    let dirs = run_dirs(&d.path().join("reports"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(dirs[0].join("report.json")).unwrap()).unwrap();
    let broken = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "broken")
        .unwrap();
    assert_eq!(broken["status"], "failed");
    let err = broken["error"].as_str().unwrap();
    assert!(err.contains("waba.json") && err.contains("line 2"), "{err}");

    // Only the broken account: nothing could be audited -> exit 2, report still written.
    let cfg = write_config(
        d.path(),
        "[reports]\ndir = \"reports\"\n[[accounts]]\nname = \"broken\"\nexports = \"bad\"\n",
    );
    wabaguard()
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no account could be audited"));
    assert_eq!(run_dirs(&d.path().join("reports")).len(), 2);
}

#[test]
fn missing_optional_files_are_notes_not_errors() {
    let d = tempfile::tempdir().unwrap();
    let ex = d.path().join("ex");
    std::fs::create_dir_all(&ex).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/templates/page_two_templates.json"),
        ex.join("message_templates.json"),
    )
    .unwrap();
    let cfg = write_config(
        d.path(),
        "[[accounts]]\nname = \"only-templates\"\nwaba_id = \"102290129340398\"\nexports = \"ex\"\n",
    );
    wabaguard()
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .assert()
        .code(0);
    let dirs = run_dirs(&d.path().join("reports"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(dirs[0].join("report.json")).unwrap()).unwrap();
    let notes = v["accounts"][0]["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| {
        n["message"]
            .as_str()
            .unwrap()
            .contains("waba.json not found")
    }));
    assert!(notes.iter().any(|n| {
        n["message"]
            .as_str()
            .unwrap()
            .contains("phone_numbers.json not found")
    }));
}
