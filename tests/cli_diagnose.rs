//! `wabaguard diagnose` and the signal parts of `wabaguard run`: stage,
//! cause, evidence and runbook; exit codes; the executive summary; the
//! previous-run comparison.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wabaguard() -> Command {
    let mut c = Command::cargo_bin("wabaguard").unwrap();
    c.env_remove("WABAGUARD_NOW");
    c
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/accounts").join(name)
}

/// A config auditing one fixture folder, with its send log and two-step settings.
fn config(dir: &Path, fixture_dir: &Path, two_step: &str) -> PathBuf {
    let body = format!(
        "[reports]\ndir = \"reports\"\n[[accounts]]\nname = \"lumen\"\nexports = \"{}\"\nsend_log = \"{}\"\n{two_step}",
        fixture_dir.display(),
        fixture_dir.join("send_log.csv").display()
    );
    let p = dir.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn diagnose_json(cfg: &Path, now: &str) -> Value {
    let out = wabaguard()
        .env("WABAGUARD_NOW", now)
        .args([
            "diagnose",
            "--account",
            "lumen",
            "--format",
            "json",
            "--config",
        ])
        .arg(cfg)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn diagnose_pin_mismatch_lock_prints_cause_evidence_and_filled_runbook() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &fixture("locked_pin_mismatch"),
        "[accounts.two_step]\npin_secret = \"vault:secret/lumen/whatsapp-pin\"\nregistered_at = 2026-11-21\n",
    );
    let v = diagnose_json(&cfg, "2026-11-25T00:00:00Z");
    assert_eq!(v["stage"], "locked");
    assert_eq!(v["level"], "critical");
    assert_eq!(v["as_of"], "2026-11-25T00:00:00Z");
    assert_eq!(v["diagnosis"]["cause"], "two_step_pin_mismatch");
    assert_eq!(v["diagnosis"]["runbook"]["id"], "two-step-pin-mismatch");
    let steps = v["diagnosis"]["runbook"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| {
        s.as_str()
            .unwrap()
            .contains("POST /106540352242922/register")
    }));
    assert!(steps.iter().any(|s| {
        s.as_str()
            .unwrap()
            .contains("vault:secret/lumen/whatsapp-pin")
    }));
    assert_eq!(v["diagnosis"]["escalation"]["id"], "direct-support");

    wabaguard()
        .env("WABAGUARD_NOW", "2026-11-25T00:00:00Z")
        .args(["diagnose", "--account", "lumen", "--config"])
        .arg(&cfg)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Stage:    LOCKED — ladder step: lock",
        ))
        .stdout(predicate::str::contains(
            "Cause:    two-step verification PIN mismatch",
        ))
        .stdout(predicate::str::contains("error 133005"))
        .stdout(predicate::str::contains(
            "# Locked by a two-step verification PIN mismatch",
        ))
        .stdout(predicate::str::contains(
            "# If neither helps: Direct Support",
        ))
        .stdout(predicate::str::contains("{{").not());
}

#[test]
fn diagnose_policy_lock_and_temporary_block() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &fixture("locked_policy"), "");
    let v = diagnose_json(&cfg, "2026-11-25T00:00:00Z");
    assert_eq!(v["stage"], "locked");
    assert_eq!(v["diagnosis"]["cause"], "policy_enforcement");
    assert_eq!(v["ladder"]["step"], "lock");

    let cfg = config(d.path(), &fixture("temporary_block"), "");
    let v = diagnose_json(&cfg, "2026-11-25T00:00:00Z");
    assert_eq!(v["stage"], "temporary_block");
    assert_eq!(v["ladder"]["step"], "3-day block");
    assert_eq!(v["ladder"]["until"], "2026-11-26T10:00:40Z");
    assert_eq!(v["diagnosis"]["cause"], "policy_enforcement");
    // After the block ended: a warning, no runbook.
    let v = diagnose_json(&cfg, "2026-11-28T00:00:00Z");
    assert_eq!(v["stage"], "warning");
    assert!(v.get("diagnosis").is_none());
    wabaguard()
        .env("WABAGUARD_NOW", "2026-11-28T00:00:00Z")
        .args(["diagnose", "--account", "lumen", "--config"])
        .arg(&cfg)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Stage:    WARNING — last step reached: 3-day block; next step: 5-day block",
        ))
        .stdout(predicate::str::contains("Runbook:  none needed"));
}

#[test]
fn diagnose_demo_account_from_the_bundled_config() {
    wabaguard()
        .current_dir(root())
        .env("WABAGUARD_NOW", "2026-11-24T23:30:00Z")
        .args(["diagnose", "--account", "casa-verde"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "casa-verde · WABA 104729331820556",
        ))
        .stdout(predicate::str::contains("Stage:    WARNING"))
        .stdout(predicate::str::contains(
            "2026-10-15 3-day block (RESTRICTED_BIZ_INITIATED_MESSAGING)",
        ));
}

#[test]
fn diagnose_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &fixture("clean"), "");
    wabaguard()
        .args(["diagnose", "--account", "nobody", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no account named `nobody`"))
        .stderr(predicate::str::contains("lumen"));
    // An export that cannot be read: exit 2, naming the file.
    let bad = d.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("waba.json"), "{\"id\": ").unwrap();
    std::fs::write(
        bad.join("send_log.csv"),
        "timestamp,phone_number_id,status,error_code\n",
    )
    .unwrap();
    let cfg = config(d.path(), &bad, "");
    wabaguard()
        .args(["diagnose", "--account", "lumen", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("waba.json"));
    // A PIN in the config is refused, and never echoed.
    let cfg = config(
        d.path(),
        &fixture("clean"),
        "[accounts.two_step]\npin_secret = \"135790\"\n",
    );
    wabaguard()
        .args(["diagnose", "--account", "lumen", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("looks like a PIN"))
        .stderr(predicate::str::contains("135790").not());
    // A bad injected clock.
    let cfg = config(d.path(), &fixture("clean"), "");
    wabaguard()
        .env("WABAGUARD_NOW", "tomorrow")
        .args(["diagnose", "--account", "lumen", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("WABAGUARD_NOW"));
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn report_opens_with_the_executive_summary_and_keeps_number_state() {
    let out = tempfile::tempdir().unwrap();
    wabaguard()
        .current_dir(root())
        .env("WABAGUARD_NOW", "2026-11-24T23:30:00Z")
        .args(["run", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .code(0);
    let dir = &run_dirs(out.path())[0];
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let exec = md.find("## Executive summary").expect("executive summary");
    let overview = md.find("## Overview").unwrap();
    assert!(exec < overview);
    let summary = &md[exec..overview];
    assert!(summary.contains("### casa-verde — "), "{summary}");
    assert!(summary.contains("**Stage: warning**"), "{summary}");
    assert!(
        summary.contains("next step on Meta's ladder is a 5-day block"),
        "{summary}"
    );
    assert!(summary.contains("Top actions:"), "{summary}");
    assert_eq!(
        summary.matches("\n1. **[").count()
            + summary.matches("\n2. **[").count()
            + summary.matches("\n3. **[").count(),
        3
    );
    assert!(
        summary.contains("**Signals from Meta:**") && summary.contains("**wabaguard heuristics:**")
    );
    assert!(md.contains("### Enforcement stage: warning"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let a = &v["accounts"][0];
    assert_eq!(a["risk"]["stage"], "warning");
    assert_eq!(a["risk"]["ladder"]["next"], "5-day block");
    assert!(a["risk"].get("diagnosis").is_none());
    let numbers = a["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 2);
    assert_eq!(numbers[1]["display"], "+55 ••• ••• 0192");
    assert_eq!(numbers[1]["messaging_limit"], "TIER_1K");
    assert_eq!(a["executive"]["top_actions"].as_array().unwrap().len(), 3);
    assert!(
        a["executive"]["meta_signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("messaging limit lowered"))
    );
}

#[test]
fn second_run_reports_a_limit_downgrade_against_the_first() {
    let d = tempfile::tempdir().unwrap();
    let ex = d.path().join("demo");
    copy_dir(&root().join("examples/demo"), &ex);
    let cfg = d.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[reports]\ndir = \"reports\"\n[[accounts]]\nname = \"casa-verde\"\nexports = \"demo\"\nsend_log = \"demo/send_log.csv\"\n",
    )
    .unwrap();
    let us = |v: &Value| -> Vec<Value> {
        v["accounts"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["rule"] == "num.limit.downgraded" && f["subject"]["id"] == "109283746501928"
            })
            .cloned()
            .collect()
    };
    wabaguard()
        .env("WABAGUARD_NOW", "2026-11-24T23:30:00Z")
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .assert()
        .code(0);
    let first = &run_dirs(&d.path().join("reports"))[0];
    let v: Value =
        serde_json::from_slice(&std::fs::read(first.join("report.json")).unwrap()).unwrap();
    assert!(us(&v).is_empty());
    // Meta lowers the US number's portfolio limit before the next run.
    let p = ex.join("phone_numbers.json");
    let text = std::fs::read_to_string(&p).unwrap().replacen(
        "\"whatsapp_business_manager_messaging_limit\": \"TIER_10K\"",
        "\"whatsapp_business_manager_messaging_limit\": \"TIER_2K\"",
        1,
    );
    std::fs::write(&p, text).unwrap();
    wabaguard()
        .env("WABAGUARD_NOW", "2026-11-25T23:30:00Z")
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .assert()
        .code(0);
    let dirs = run_dirs(&d.path().join("reports"));
    assert_eq!(dirs.len(), 2);
    let v: Value =
        serde_json::from_slice(&std::fs::read(dirs[1].join("report.json")).unwrap()).unwrap();
    let f = us(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["details"]["previous_limit"], "TIER_10K");
    assert_eq!(f[0]["details"]["current_limit"], "TIER_2K");
    assert_eq!(f[0]["origin"], "meta");
}

#[test]
fn rules_list_and_explain_cover_the_account_rules() {
    wabaguard()
        .args(["rules", "explain", "acct.pin.lock-signature"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "family:      account.two_step_pin",
        ))
        .stdout(predicate::str::contains("window_days"));
    wabaguard()
        .args(["rules", "list"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("prof.website.social-only"))
        .stdout(predicate::str::contains("num.limit.downgraded"))
        .stdout(predicate::str::contains("acct.send.locked"));
}
