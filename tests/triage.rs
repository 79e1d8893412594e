//! `wabaguard triage` through the binary: each decision's effect on `run`
//! (accepted / false_positive suppress, in_review is shown and counted),
//! expiry, reopening when the evidence changes, a bad triage file (never
//! overwritten, named by file and line), comments and other entries kept,
//! the interplay with `[[suppress]]` entries, and the CLI's validation.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ops::{account, bin, config, demo_copy, read_json, root, run_at};
use serde_json::Value;

fn triage(cfg: &Path, now: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("triage")
        .args(args)
        .arg("--config")
        .arg(cfg)
        .env("WABAGUARD_NOW", now)
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn latest(reports: &Path) -> (Value, String) {
    let id = std::fs::read_to_string(reports.join("latest")).unwrap();
    let dir = reports.join(id.trim());
    (
        read_json(&dir.join("report.json")),
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
    )
}

fn fp_of(a: &Value, rule: &str, name: &str) -> String {
    by_rule(a, rule, name)["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn by_rule<'a>(a: &'a Value, rule: &str, name: &str) -> &'a Value {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule && f["subject"]["name"] == name)
        .unwrap_or_else(|| panic!("no {rule} on {name}"))
}

fn by_fp<'a>(a: &'a Value, fp: &str) -> &'a Value {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fingerprint"] == fp)
        .unwrap_or_else(|| panic!("no finding {fp}"))
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cfg: PathBuf,
    reports: PathBuf,
    /// tpl.res.tobacco on promo_starter_kit (critical).
    tobacco: String,
    /// tpl.mkt.cart-recovery on basket_reminder.
    cart: String,
    /// tpl.res.alcohol on wine_cheese_weekend.
    alcohol: String,
}

/// A demo copy audited once at 2026-11-25T02:00Z; `extra` is config TOML.
fn setup(extra: &str) -> Setup {
    let d = tempfile::tempdir().unwrap();
    let exports = demo_copy(d.path());
    let cfg = config(
        d.path(),
        "casa-verde",
        &exports,
        &format!("[reports]\ndir = \"reports\"\n{extra}"),
    );
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 1, "the tobacco finding is critical: {out}{err}");
    let reports = d.path().join("reports");
    let (r, _) = latest(&reports);
    let a = account(&r, "casa-verde");
    Setup {
        root: d.path().to_owned(),
        tobacco: fp_of(a, "tpl.res.tobacco", "promo_starter_kit"),
        cart: fp_of(a, "tpl.mkt.cart-recovery", "basket_reminder"),
        alcohol: fp_of(a, "tpl.res.alcohol", "wine_cheese_weekend"),
        _dir: d,
        cfg,
        reports,
    }
}

const NOW: &str = "2026-11-25T03:00:00Z";

#[test]
fn accepted_and_false_positive_suppress_in_review_is_shown_and_counted() {
    let s = setup("");
    let (code, out, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.tobacco,
            "--state",
            "accepted",
            "--reason",
            "Gardening kit; legal reviewed (COMP-7)",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("accepted") && out.contains("triage.toml"),
        "{out}"
    );
    assert!(
        err.is_empty(),
        "the fingerprint is in the latest report: {err}"
    );
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.cart,
            "--state",
            "false_positive",
            "--reason",
            "Reminder of an order already paid",
            "--until",
            "2026-12-31",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.alcohol,
            "--state",
            "in_review",
            "--reason",
            "Asked Meta support (case 88121)",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // The triage file sits beside the config (no suppressions file configured).
    let text = std::fs::read_to_string(s.root.join("triage.toml")).unwrap();
    assert_eq!(text.matches("[[triage]]").count(), 3, "{text}");
    assert!(text.contains("evidence = \""), "{text}");

    let (code, out, err) = run_at(&s.cfg, "2026-11-26T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 0, "the critical finding is accepted: {out}{err}");
    let (r, md) = latest(&s.reports);
    let a = account(&r, "casa-verde");
    assert_eq!(a["summary"]["critical"], 0);
    let t = by_fp(a, &s.tobacco);
    assert_eq!(t["suppressed"], true);
    assert_eq!(t["triage"]["state"], "accepted");
    assert_eq!(t["triage"]["decision"], "accepted");
    assert_eq!(t["suppressed_by"]["triage"], true);
    let c = by_fp(a, &s.cart);
    assert_eq!(c["suppressed"], true);
    assert_eq!(c["triage"]["state"], "false_positive");
    assert_eq!(c["triage"]["until"], "2026-12-31");
    let al = by_fp(a, &s.alcohol);
    assert_eq!(al.get("suppressed"), None, "in_review does not suppress");
    assert_eq!(al["triage"]["state"], "in_review");
    assert_eq!(al["triage"]["reason"], "Asked Meta support (case 88121)");
    let triage = r["suppressions"]["triage"].as_array().unwrap();
    assert_eq!(triage.len(), 3);
    assert!(triage.iter().all(|t| t["findings"] == 1), "{triage:?}");
    assert!(md.contains("### Triage"), "{md}");
    assert!(md.contains("*Triage:* **in_review**"), "{md}");
    assert!(md.contains("*Triage:* **false_positive** (decided false_positive until 2026-12-31"));
}

#[test]
fn an_expired_decision_counts_again_and_is_reported() {
    let s = setup("");
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.tobacco,
            "--state",
            "accepted",
            "--reason",
            "until the relaunch",
            "--until",
            "2026-11-30",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // The last day still holds.
    let (code, out, err) = run_at(&s.cfg, "2026-11-30T23:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 0, "{out}{err}");
    let (r, _) = latest(&s.reports);
    assert_eq!(
        by_fp(account(&r, "casa-verde"), &s.tobacco)["suppressed"],
        true
    );
    // The next day it is expired: counted, and said.
    let (code, out, err) = run_at(&s.cfg, "2026-12-01T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 1, "the decision expired: {out}{err}");
    assert!(err.contains("expired on 2026-11-30"), "{err}");
    assert!(out.contains("Suppressions need attention"), "{out}");
    let (r, md) = latest(&s.reports);
    let a = account(&r, "casa-verde");
    let t = by_fp(a, &s.tobacco);
    assert_eq!(t.get("suppressed"), None);
    assert_eq!(t["triage"]["state"], "expired");
    assert_eq!(a["summary"]["critical"], 1);
    assert_eq!(r["suppressions"]["triage"][0]["expired"], true);
    assert!(md.contains("decision **expired** on 2026-11-30"), "{md}");
}

#[test]
fn a_finding_whose_evidence_changes_is_reopened() {
    let s = setup("");
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[&s.tobacco, "--state", "false_positive", "--reason", "plant"],
    );
    assert_eq!(code, 0, "{err}");
    // Unchanged template: still suppressed.
    let (code, _, _) = run_at(&s.cfg, "2026-11-26T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 0);
    // The template is edited: the evidence is now "vape", not "rokok elektrik".
    let tpl = s.root.join("demo/message_templates.json");
    let text = std::fs::read_to_string(&tpl).unwrap();
    assert!(text.contains("Starter kit rokok elektrik kini"));
    std::fs::write(
        &tpl,
        text.replace("Starter kit rokok elektrik kini", "Starter kit kini"),
    )
    .unwrap();
    let (code, out, err) = run_at(&s.cfg, "2026-11-27T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 1, "reopened findings count again: {out}{err}");
    let (r, md) = latest(&s.reports);
    let a = account(&r, "casa-verde");
    let t = by_fp(a, &s.tobacco);
    assert_eq!(t["evidence"], "vape");
    assert_eq!(t.get("suppressed"), None);
    assert_eq!(t["triage"]["state"], "reopened");
    assert_eq!(t["triage"]["decision"], "false_positive");
    assert_eq!(r["suppressions"]["triage"][0]["reopened"], 1);
    assert!(md.contains("**reopened**"), "{md}");
    // Triaging it again records the new evidence: suppressed again.
    let (code, out, err) = triage(
        &s.cfg,
        "2026-11-27T03:00:00Z",
        &[&s.tobacco, "--state", "accepted", "--reason", "re-reviewed"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("replaced the earlier decision"), "{out}");
    let (code, _, _) = run_at(&s.cfg, "2026-11-28T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 0);
}

#[test]
fn a_bad_triage_file_is_never_overwritten_and_named_by_file_and_line() {
    let s = setup("");
    let path = s.root.join("triage.toml");
    let bad = format!(
        "# decisions\n[[triage]]\nfingerprint = \"{}\"\nstate = \"accepted\"\nreason = \"ok\"\n\n[[triage]]\nfingerprint = \"{}\"\nstate = \"maybe\"\nreason = \"x\"\n",
        s.cart, s.alcohol
    );
    std::fs::write(&path, &bad).unwrap();
    let (code, out, err) = triage(
        &s.cfg,
        NOW,
        &[&s.tobacco, "--state", "accepted", "--reason", "r"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("triage.toml:9"), "{err}");
    assert!(err.contains("unknown triage state `maybe`"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);

    // Not TOML at all.
    let broken = format!("{bad}reason = oops\n");
    std::fs::write(&path, &broken).unwrap();
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[&s.tobacco, "--state", "accepted", "--reason", "r"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("triage.toml:11") && err.contains("not valid TOML"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);

    // `run` goes on: the semantically bad entry is an error, the good one applies.
    std::fs::write(&path, &bad).unwrap();
    let (code, out, err) = run_at(&s.cfg, "2026-11-26T02:00:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("triage.toml"), "{err}");
    let (r, md) = latest(&s.reports);
    let errors = r["suppressions"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 9);
    assert!(errors[0]["file"].as_str().unwrap().ends_with("triage.toml"));
    assert_eq!(
        by_fp(account(&r, "casa-verde"), &s.cart)["suppressed"],
        true
    );
    assert!(md.contains("in `") && md.contains("at line 9"), "{md}");
}

#[test]
fn recording_keeps_comments_and_other_entries_and_replaces_its_own() {
    let s = setup("");
    let path = s.root.join("triage.toml");
    let other = format!(
        "# Reviewed by compliance, keep this note.\n\n[[triage]]\nfingerprint = \"{}\"\nstate = \"in_review\"\nreason = \"hand-written\"  # inline comment\n# a note about the next one\n",
        s.cart
    );
    std::fs::write(&path, &other).unwrap();
    for (state, reason) in [("in_review", "first look"), ("accepted", "second look")] {
        let (code, _, err) = triage(
            &s.cfg,
            NOW,
            &[&s.tobacco, "--state", state, "--reason", reason],
        );
        assert_eq!(code, 0, "{err}");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&other),
        "the existing text is kept as it was:\n{text}"
    );
    assert_eq!(text.matches(&s.tobacco).count(), 1, "{text}");
    assert!(text.contains("reason = \"second look\""), "{text}");
    assert!(!text.contains("first look"), "{text}");
    // Replacing the hand-written one keeps the comment after it.
    let (code, _, _) = triage(
        &s.cfg,
        NOW,
        &[
            &s.cart,
            "--state",
            "false_positive",
            "--reason",
            "paid order",
        ],
    );
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Reviewed by compliance, keep this note.\n"));
    assert!(text.contains("# a note about the next one"), "{text}");
    assert!(!text.contains("hand-written"), "{text}");
    assert_eq!(text.matches("[[triage]]").count(), 2, "{text}");
    // Quotes and newlines in a reason survive the round trip.
    let (code, _, _) = triage(
        &s.cfg,
        NOW,
        &[
            &s.alcohol,
            "--state",
            "in_review",
            "--reason",
            "said \"no\"\\ \nline two",
        ],
    );
    assert_eq!(code, 0);
    run_at(&s.cfg, "2026-11-26T02:00:00Z", &[]);
    let (r, _) = latest(&s.reports);
    let a = account(&r, "casa-verde");
    assert_eq!(
        by_fp(a, &s.alcohol)["triage"]["reason"],
        "said \"no\"\\ \nline two"
    );
    assert_eq!(by_fp(a, &s.cart)["triage"]["state"], "false_positive");
    assert!(
        r["suppressions"].get("errors").is_none(),
        "{}",
        r["suppressions"]
    );
}

#[test]
fn triage_and_suppressions_are_one_mechanism() {
    let s = setup("[suppressions]\nfile = \"rules/suppressions.toml\"\n");
    std::fs::create_dir_all(s.root.join("rules")).unwrap();
    std::fs::write(
        s.root.join("rules/suppressions.toml"),
        format!(
            "[[suppress]]\nfingerprint = \"{}\"\nreason = \"legal\"\nexpires = 2027-01-31\n\n\
             [[suppress]]\nfingerprint = \"{}\"\nreason = \"old\"\nexpires = 2026-11-01\n",
            s.tobacco, s.cart
        ),
    )
    .unwrap();
    // in_review on a suppressed finding: still suppressed, by the suppression.
    let (code, out, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.tobacco,
            "--state",
            "in_review",
            "--reason",
            "second opinion",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{}", s.root.join("rules/triage.toml").display())),
        "the triage file sits beside the suppressions file: {out}"
    );
    // accepted where the suppression expired: suppressed, by the triage.
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[
            &s.cart,
            "--state",
            "accepted",
            "--reason",
            "renewed by triage",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_at(&s.cfg, "2026-11-26T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 0, "{out}{err}");
    let (r, _) = latest(&s.reports);
    let a = account(&r, "casa-verde");
    let t = by_fp(a, &s.tobacco);
    assert_eq!(t["suppressed"], true);
    assert_eq!(t["suppressed_by"]["reason"], "legal");
    assert_eq!(t["suppressed_by"].get("triage"), None);
    assert_eq!(t["triage"]["state"], "in_review");
    let c = by_fp(a, &s.cart);
    assert_eq!(c["suppressed"], true);
    assert_eq!(c["suppressed_by"]["triage"], true);
    assert_eq!(c["suppressed_by"]["reason"], "accepted: renewed by triage");
    let sup = &r["suppressions"];
    assert!(sup["file"].as_str().unwrap().ends_with("suppressions.toml"));
    assert!(
        sup["triage_file"]
            .as_str()
            .unwrap()
            .ends_with("rules/triage.toml")
    );
    let entries = sup["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["suppressed"], 1);
    assert_eq!(entries[1]["state"], "expired");
    assert_eq!(entries[1]["suppressed"], 0);

    // The gate applies the same decisions.
    let out = Command::new(bin())
        .args([
            "gate",
            "--account",
            "casa-verde",
            "--template",
            "promo_starter_kit",
        ])
        .arg("--config")
        .arg(&s.cfg)
        .args(["--fail-on", "critical", "--format", "json"])
        .env("WABAGUARD_NOW", "2026-11-26T02:10:00Z")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"template_finding"), "{v}");
}

#[test]
fn the_command_validates_its_input() {
    let s = setup("");
    let path = s.root.join("triage.toml");
    let cases: [(&[&str], &str); 5] = [
        (
            &["xyz", "--state", "accepted", "--reason", "r"],
            "16 hex digits",
        ),
        (
            &[
                &s.tobacco,
                "--state",
                "accepted",
                "--reason",
                "r",
                "--until",
                "2026-01-01",
            ],
            "in the past",
        ),
        (
            &[
                &s.tobacco,
                "--state",
                "in_review",
                "--reason",
                "r",
                "--until",
                "2027-01-01",
            ],
            "--until applies to accepted and false_positive",
        ),
        (
            &[&s.tobacco, "--state", "accepted", "--reason", "  "],
            "--reason is empty",
        ),
        (
            &[
                &s.tobacco,
                "--state",
                "accepted",
                "--reason",
                "r",
                "--until",
                "31.12.2026",
            ],
            "not a date",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = triage(&s.cfg, NOW, args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!path.exists(), "{args:?} wrote the file");
    }
    let (code, _, err) = triage(
        &s.cfg,
        NOW,
        &[&s.tobacco, "--state", "won't", "--reason", "r"],
    );
    assert_eq!(code, 2, "{err}");
    // A fingerprint the latest report does not have: recorded, with a warning.
    let (code, out, err) = triage(
        &s.cfg,
        NOW,
        &[
            "0123456789abcdef",
            "--state",
            "accepted",
            "--reason",
            "ahead of time",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("not in the latest report"), "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("0123456789abcdef") && !text.contains("evidence ="),
        "{text}"
    );
    // No reports folder at all: recorded, with a warning.
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "casa-verde", &root().join("examples/demo"), "");
    let (code, _, err) = triage(
        &cfg,
        NOW,
        &[&s.tobacco, "--state", "accepted", "--reason", "r"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot check fingerprint"), "{err}");
}

#[test]
fn concurrent_decisions_are_all_kept() {
    let s = setup("");
    let fps = [s.tobacco.clone(), s.cart.clone(), s.alcohol.clone()];
    // Distinct fingerprints recorded by parallel processes.
    let handles: Vec<_> = fps
        .iter()
        .map(|fp| {
            let cfg = s.cfg.clone();
            let fp = fp.clone();
            std::thread::spawn(move || {
                Command::new(bin())
                    .args(["triage", &fp, "--state", "accepted", "--reason", "parallel"])
                    .arg("--config")
                    .arg(&cfg)
                    .env("WABAGUARD_NOW", NOW)
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(s.root.join("triage.toml")).unwrap();
    assert_eq!(text.matches("[[triage]]").count(), 3, "{text}");
    for fp in &fps {
        assert_eq!(text.matches(fp.as_str()).count(), 1, "{text}");
    }
    assert_eq!(text.matches("reason = \"parallel\"").count(), 3, "{text}");
}
